"""F3, the work-order queue, with the real keys: a work order's whole life across roles, the
complaint chase, two leads on one order, a change on another terminal showing by itself, and
the screen at 80×24 in Chinese."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, OptionList, Select, TextArea
from textual.worker import WorkerCancelled

from desk.clock import FixedClock
from desk.infra.database import Database
from desk.models import Callback, WorkOrder, WorkOrderEvent
from desk.rules.vocab import (
    Channel,
    Priority,
    RequestType,
    WorkOrderSource,
    WorkOrderStatus,
)
from desk.screens.callbacks import CallbacksScreen
from desk.screens.forms import ActionForm
from desk.screens.queue import QueueScreen
from desk.screens.work_order import WorkOrderScreen
from desk.screens.workspace import WorkspaceScreen
from desk.screens.workspace_dialogs import WorkOrderForm
from desk.services import secrets
from desk.services import work_order_actions as woa
from desk.services.work_orders import (
    WorkOrderDraft,
    WorkOrderView,
    create_work_order,
    work_order_detail,
)
from tests.floor_world import POLICY, Floor, build_floor
from tests.ui.conftest import PASSWORD, Notes, make_app, screen_text, sign_in


async def settle(pilot: Pilot[None]) -> None:
    """Let the workers finish and their messages be handled. The queue re-reads its page in
    exclusive workers (an action, then the change it caused, each ask again), so a worker
    cancelled by a newer one is expected here: wait again."""
    for _ in range(20):
        try:
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
            await pilot.app.workers.wait_for_complete()
        except WorkerCancelled:
            continue
        await pilot.pause()
        return


def floor_of(db: Database) -> Floor:
    return build_floor(db, password_hash=secrets.hash_secret(PASSWORD))


def new_order(
    db: Database,
    floor: Floor,
    category: RequestType = RequestType.FAULT_REPORT,
    title: str = "宽带断网",
) -> WorkOrderView:
    return create_work_order(
        db,
        actor=floor.actor("agent1"),
        draft=WorkOrderDraft(
            customer_id=floor.customers[0],
            contact_id=None,
            category=category,
            topic=None,
            title=title,
            description="家中宽带从昨晚起无法上网",
            priority=Priority.NORMAL,
            department_id=None,
            callback_number=None,
            channel=Channel.PHONE,
            source=WorkOrderSource.AGENT,
            consent=True,
        ),
        policy=POLICY,
    )


def work_order_by_number(db: Database, floor: Floor, number: str) -> WorkOrderView:
    found = db.run(
        lambda s: s.exec(select(WorkOrder).where(WorkOrder.number == number)).one().id,
        write=False,
    )
    return work_order_detail(
        db, actor=floor.actor("lead1"), work_order_id=found, policy=POLICY
    ).order


def status_of(db: Database, floor: Floor, work_order_id: int) -> WorkOrderStatus:
    detail = work_order_detail(
        db, actor=floor.actor("lead1"), work_order_id=work_order_id, policy=POLICY
    )
    return detail.order.status


def kinds(db: Database, work_order_id: int) -> list[str]:
    return db.run(
        lambda s: [
            e.kind
            for e in s.exec(
                select(WorkOrderEvent)
                .where(WorkOrderEvent.work_order_id == work_order_id)
                .order_by(col(WorkOrderEvent.id))
            )
        ],
        write=False,
    )


async def switch_user(pilot: Pilot[None], login: str) -> QueueScreen:
    if pilot.app.signed_in is not None:  # type: ignore[attr-defined]
        await pilot.press("f10")
        await settle(pilot)
    await settle(pilot)
    screen = pilot.app.screen
    screen.query_one("#login", Input).value = login
    screen.query_one("#password", Input).value = PASSWORD
    screen.query_one("#password", Input).focus()
    await pilot.press("enter")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, QueueScreen)
    return screen


async def choose(pilot: Pilot[None], label: str) -> None:
    """In a form, open the focused choice with Enter and walk down to ``label``."""
    select_ = pilot.app.focused
    assert isinstance(select_, Select)
    await pilot.press("enter")
    await pilot.pause()
    options = select_.query_one(OptionList)  # the overlay of this choice
    for _ in range(len(options.options) + 1):
        highlighted = options.highlighted
        if (
            highlighted is not None
            and str(options.get_option_at_index(highlighted).prompt) == label
        ):
            break
        await pilot.press("down")
    await pilot.press("enter")
    await pilot.pause()


async def pick(pilot: Pilot[None], selector: str, value: str) -> None:
    """Focus a choice on the current screen, open it with Enter, walk to ``value``."""
    select_ = pilot.app.screen.query_one(selector, Select)
    select_.focus()
    await pilot.pause()
    await pilot.press("enter")
    await pilot.pause()
    options = select_.query_one(OptionList)
    values = [value_ for _label, value_ in select_._options]
    for _ in range(len(values) + 1):
        highlighted = options.highlighted
        if highlighted is not None and values[highlighted] == value:
            break
        await pilot.press("down")
    await pilot.press("enter")
    await pilot.pause()
    assert select_.value == value


async def save(pilot: Pilot[None]) -> None:
    await pilot.press("ctrl+s")
    await settle(pilot)


async def type_text(pilot: Pilot[None], text: str) -> None:
    await pilot.press(*text)


def rows(screen: QueueScreen) -> list[str]:
    table = screen.query_one("#queue-table", DataTable)
    if not table.display:
        return []
    return [str(table.get_row_at(i)[1]) for i in range(table.row_count)]


async def shows(pilot: Pilot[None], screen: QueueScreen, wanted: list[str]) -> list[str]:
    """The queue's rows once they are ``wanted``, or as they stand after 5 s: a refresh that
    waits on the change counters' read (on return, or the once-a-second poll) is waited for,
    a queue that never refreshes still fails the caller's assertion."""
    for _ in range(100):
        if rows(screen) == wanted:
            break
        await settle(pilot)
        await pilot.pause(0.05)
    return rows(screen)


async def test_a_work_orders_whole_life_by_keys_across_roles(
    sqlite_db: Database, clock: FixedClock
) -> None:
    db = sqlite_db
    floor = floor_of(db)
    notes = Notes()
    app = make_app(db, clock)
    async with app.run_test(size=(120, 36), message_hook=notes) as pilot:
        # 1. The agent takes the call on F2 and opens a work order with the caller's consent.
        await sign_in(pilot, "agent1")
        workspace = app.screen
        assert isinstance(workspace, WorkspaceScreen)
        await type_text(pilot, "13800000001")
        await pilot.press("enter")
        await settle(pilot)
        await pick(pilot, "#request-type", "fault_report")
        workspace.query_one("#notes", TextArea).focus()
        await type_text(pilot, "kuan dai duan wang")
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert isinstance(app.screen, WorkOrderForm)
        await pilot.press("space", "ctrl+s")  # consent, save
        await settle(pilot)
        assert isinstance(app.screen, WorkspaceScreen), screen_text(pilot)
        number = db.run(lambda s: s.exec(select(WorkOrder)).one().number, write=False)
        order = work_order_by_number(db, floor, number)
        assert order.status is WorkOrderStatus.NEW

        # 2. The lead dispatches it to the east branch with a note.
        queue = await switch_user(pilot, "lead1")
        assert rows(queue) == [order.number]
        assert queue.check_action("order_action", ("accept",)) is None  # dimmed: nothing to review
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, ActionForm)
        await choose(pilot, "城东分公司")
        await pilot.press("tab")
        await type_text(pilot, "qing shang men")
        await save(pilot)
        assert isinstance(app.screen, QueueScreen), screen_text(pilot)
        assert status_of(db, floor, order.id) is WorkOrderStatus.DISPATCHED
        assert rows(queue) == []  # gone from "to dispatch"

        # 3. The branch's handler replies.
        queue = await switch_user(pilot, "handler2")
        assert rows(queue) == [order.number]
        await pilot.press("y")
        await settle(pilot)
        await type_text(pilot, "fixed")
        await save(pilot)
        assert status_of(db, floor, order.id) is WorkOrderStatus.REPLIED

        # 4. The lead returns it with a reason.
        queue = await switch_user(pilot, "lead1")
        await pilot.press("2")  # to review
        await settle(pilot)
        assert rows(queue) == [order.number]
        await pilot.press("r")
        await settle(pilot)
        await save(pilot)  # no reason yet: the form says so and stays
        assert isinstance(app.screen, ActionForm)
        assert "please fill this in" in screen_text(pilot)
        await type_text(pilot, "when")
        await save(pilot)
        assert status_of(db, floor, order.id) is WorkOrderStatus.DISPATCHED

        # 5. The handler replies again.
        queue = await switch_user(pilot, "handler2")
        await pilot.press("y")
        await settle(pilot)
        await type_text(pilot, "fixed at 10")
        await save(pilot)

        # 6. The lead accepts; 7. the callback; 8. it closes.
        queue = await switch_user(pilot, "lead1")
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        await save(pilot)
        assert status_of(db, floor, order.id) is WorkOrderStatus.CALLBACK
        clock.advance(timedelta(days=1, hours=6))
        await pilot.press("7")  # my callbacks
        await settle(pilot)
        assert rows(queue) == [order.number]
        # The call is made from F5's list: Enter opens the order with the result's form.
        await pilot.press("f5")
        await settle(pilot)
        assert isinstance(app.screen, CallbacksScreen)
        assert order.number in screen_text(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ActionForm), screen_text(pilot)
        await choose(pilot, "Reached")
        await pilot.press("tab")
        await choose(pilot, "2 dissatisfied")
        await save(pilot)
        assert isinstance(app.screen, WorkOrderScreen), screen_text(pilot)
        assert status_of(db, floor, order.id) is WorkOrderStatus.CLOSED
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, CallbacksScreen)
        assert order.number not in screen_text(pilot)  # done: off the open list
        callback = db.run(
            lambda s: s.exec(select(Callback).where(Callback.work_order_id == order.id)).one(),
            write=False,
        )
        assert (callback.status, callback.attempts) == ("done", 1)
        await pilot.press("f3")
        await settle(pilot)
        assert await shows(pilot, queue, []) == []

        # 9. The customer is not satisfied: the lead opens it by number and reopens it.
        await pilot.press("g")
        await settle(pilot)
        await type_text(pilot, order.number)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, WorkOrderScreen)
        await pilot.press("o")
        await settle(pilot)
        await type_text(pilot, "unhappy")
        await save(pilot)
        assert isinstance(app.screen, WorkOrderScreen)
        assert status_of(db, floor, order.id) is WorkOrderStatus.REOPENED
        assert "Reopened" in screen_text(pilot)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("1")
        await settle(pilot)
        assert rows(queue) == [order.number]  # to dispatch again
    # What people did, in order (the console's own sweep may add warnings meanwhile).
    done = [k for k in kinds(db, order.id) if k not in ("warning", "breach")]
    assert done == [
        "created",
        "dispatched",
        "replied",
        "rejected",
        "replied",
        "accepted",
        "callback_attempt",
        "closed",
        "reopened",
    ]


async def test_the_complaint_chase_by_keys(sqlite_db: Database, clock: FixedClock) -> None:
    db = sqlite_db
    floor = floor_of(db)
    order = new_order(db, floor, RequestType.COMPLAINT, "乱扣费投诉")
    woa.dispatch_work_order(
        db,
        actor=floor.actor("lead1"),
        work_order_id=order.id,
        version=order.version,
        department_id=floor.branch,
        note=None,
        policy=POLICY,
    )
    clock.advance(timedelta(days=1, minutes=5))  # past the reply deadline
    app = make_app(db, clock)
    async with app.run_test(size=(120, 36)) as pilot:
        # The lead may not escalate: the key is not even offered to the role.
        queue = await switch_user(pilot, "lead1")
        await pilot.press("8")  # all open
        await settle(pilot)
        assert queue.check_action("order_action", ("confirm_escalation",)) is None
        assert queue.check_action("order_action", ("remind",)) is None

        queue = await switch_user(pilot, "complaint1")
        await settle(pilot)
        await pilot.press("6")  # all open (the chase view fills once reminded)
        await settle(pilot)
        assert rows(queue) == [order.number]
        await pilot.press("m")
        await settle(pilot)
        await type_text(pilot, "today please")
        await save(pilot)
        await pilot.press("1")  # chase
        await settle(pilot)
        assert rows(queue) == [order.number]
        await pilot.press("e")
        await settle(pilot)
        await type_text(pilot, "branch cannot solve")
        await save(pilot)
        await pilot.press("E")
        await settle(pilot)
        await save(pilot)
        detail = work_order_detail(
            db, actor=floor.actor("complaint1"), work_order_id=order.id, policy=POLICY
        )
        assert detail.order.escalation_level == 3
        assert detail.order.department_id == floor.hq
        # Headquarters' answer has a clock of its own, shown with the order's clocks.
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, WorkOrderScreen)
        hq_line = next(line for line in screen_text(pilot).splitlines() if "HQ reply" in line)
        assert "15h 00m left (due 11-05 10:05)" in hq_line, hq_line  # 900 office minutes
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("h")
        await settle(pilot)
        await type_text(pilot, "refund all")
        await save(pilot)
    assert kinds(db, order.id)[-4:] == [
        "reminder",
        "escalation_proposed",
        "escalation_confirmed",
        "replied",
    ]


async def test_the_second_lead_is_told_who_dispatched_first_and_keeps_the_text(
    sqlite_db: Database, clock: FixedClock
) -> None:
    db = sqlite_db
    floor = floor_of(db)
    order = new_order(db, floor)
    app = make_app(db, clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await switch_user(pilot, "lead2")
        await pilot.press("d")
        await settle(pilot)
        await choose(pilot, "计费中心")
        await pilot.press("tab")
        await type_text(pilot, "mine")
        # Meanwhile lead1 dispatches it from another terminal.
        woa.dispatch_work_order(
            db,
            actor=floor.actor("lead1"),
            work_order_id=order.id,
            version=order.version,
            department_id=floor.branch,
            note="first",
            policy=POLICY,
        )
        await save(pilot)
        form = app.screen
        assert isinstance(form, ActionForm)  # still open, the text kept
        text = screen_text(pilot)
        assert f"{order.number} was changed by 王班长" in text
        assert form.values()["note"] == "mine"
        await pilot.press("ctrl+r")  # reload: now dispatched, nothing to save against
        await settle(pilot)
        text = screen_text(pilot)
        assert "now Dispatched" in text, text
        await save(pilot)
        assert isinstance(app.screen, ActionForm)
        assert "not possible in this status" in screen_text(pilot)
        assert app.screen.values()["note"] == "mine"
        await pilot.press("escape")
        await settle(pilot)
    dispatched = [k for k in kinds(db, order.id) if k == "dispatched"]
    assert dispatched == ["dispatched"]


async def test_a_change_on_another_terminal_shows_by_itself(
    sqlite_db: Database, clock: FixedClock
) -> None:
    db = sqlite_db
    floor = floor_of(db)
    first = new_order(db, floor)
    app = make_app(db, clock)
    async with app.run_test(size=(120, 36)) as pilot:
        queue = await switch_user(pilot, "lead1")
        assert rows(queue) == [first.number]
        await pilot.pause(1.2)  # the first poll notes the counters
        second = new_order(db, floor, title="第二张")  # another terminal
        for _ in range(40):
            await pilot.pause(0.1)
            if second.number in rows(queue) and "2 to dispatch" in screen_text(pilot):
                break
        assert rows(queue) == [first.number, second.number]
        assert "2 to dispatch" in screen_text(pilot)  # the figures strip follows


async def test_batch_dispatch_by_marking_rows(sqlite_db: Database, clock: FixedClock) -> None:
    db = sqlite_db
    floor = floor_of(db)
    orders = [new_order(db, floor, title=f"断网{n}") for n in range(3)]
    notes = Notes()
    app = make_app(db, clock)
    async with app.run_test(size=(120, 36), message_hook=notes) as pilot:
        await switch_user(pilot, "lead1")
        await pilot.press("space", "space")  # marks the first two (the cursor moves down)
        await pilot.pause()
        assert "2 marked for dispatch" in screen_text(pilot)
        await pilot.press("d")
        await settle(pilot)
        await choose(pilot, "网络维护")
        await save(pilot)
        assert "2 dispatched." in notes.messages
    statuses = [status_of(db, floor, o.id) for o in orders]
    assert statuses == [
        WorkOrderStatus.DISPATCHED,
        WorkOrderStatus.DISPATCHED,
        WorkOrderStatus.NEW,
    ]


async def test_the_queue_reads_in_chinese_at_80_by_24(
    sqlite_db: Database, clock: FixedClock
) -> None:
    db = sqlite_db
    floor = floor_of(db)
    new_order(db, floor, RequestType.COMPLAINT, "彩铃包月未订购却扣费")
    clock.advance(timedelta(minutes=10))
    app = make_app(db, clock, language="zh_CN")
    async with app.run_test(size=(80, 24)) as pilot:
        await switch_user(pilot, "lead1")
        await settle(pilot)
        text = screen_text(pilot)
        assert "待派 1" in text
        assert "1 待派单" in text
        assert "派单 剩 20分钟" in text
        assert "WO20261102000001" in text
        assert len(text.splitlines()) == 24
        row = next(line for line in text.splitlines() if "WO20261102000001" in line)
        assert "新建" in row  # status
        assert "投诉" in row  # type
        assert "张**" in row  # customer, masked


async def test_an_80_column_lead_sees_status_type_and_customer_and_a_wide_one_the_preview(
    sqlite_db: Database, clock: FixedClock
) -> None:
    """The queue's columns follow the width: at 80 the row keeps its status, type and
    customer before the title (no preview beside it); widened, the preview comes back and the
    title moves next to the clock again."""
    db = sqlite_db
    floor = floor_of(db)
    new_order(db, floor, RequestType.COMPLAINT, "彩铃包月未订购却扣费")
    app = make_app(db, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        queue = await switch_user(pilot, "lead1")
        await settle(pilot)
        table = queue.query_one("#queue-table", DataTable)
        keys = [str(column.key.value) for column in table.ordered_columns]
        assert keys[:6] == ["mark", "number", "clock", "status", "type", "customer"]
        assert not queue.query_one("#queue-preview").display
        row = next(line for line in screen_text(pilot).splitlines() if "WO2026" in line)
        assert "New" in row
        assert "Complaint" in row
        assert "张*" in row
        await pilot.resize_terminal(160, 40)
        await settle(pilot)
        keys = [str(column.key.value) for column in table.ordered_columns]
        assert keys[:4] == ["mark", "number", "clock", "title"]
        assert queue.query_one("#queue-preview").display
        assert "彩铃包月未订购却扣费" in screen_text(pilot)


async def test_a_lead_turns_web_messages_into_work_orders_by_keys(
    sqlite_db: Database, clock: FixedClock
) -> None:
    from desk.rules.vocab import InboxStatus
    from desk.services.inbox import add_messages, message, parse_messages

    db = sqlite_db
    floor = floor_of(db)
    report = add_messages(
        db,
        actor=floor.actor("admin1"),
        messages=parse_messages(
            [
                {"channel": "web", "sender": "13800000001", "text": "宽带断网三天"},
                {"channel": "web", "sender": "13800000002", "text": "彩铃乱扣费"},
                {"channel": "email", "sender": "a@b.cn", "text": "营业厅几点关门"},
            ]
        ),
        policy=POLICY,
    )
    first, second, third = report.added
    notes = Notes()
    app = make_app(db, clock)
    async with app.run_test(size=(120, 36), message_hook=notes) as pilot:
        queue = await switch_user(pilot, "lead1")
        assert "3 messages" in screen_text(pilot)
        await pilot.press("9")  # the inbox
        await settle(pilot)
        table = queue.query_one("#queue-table", DataTable)
        assert table.row_count == 3
        assert "宽带断网三天" in screen_text(pilot)  # the selected message beside the list
        await pilot.press("w")
        await settle(pilot)
        await choose(pilot, "Fault report")
        await pilot.press("tab", "tab", "tab")  # title kept, priority kept, to department
        await choose(pilot, "网络维护")
        await save(pilot)
        assert isinstance(app.screen, QueueScreen)
        assert table.row_count == 2
        await pilot.press("w")
        await settle(pilot)
        await choose(pilot, "Complaint")
        await save(pilot)
        await pilot.press("t")
        await settle(pilot)
        await type_text(pilot, "9:00-18:00")
        await save(pilot)
        assert not table.display  # nothing left waiting
        await pilot.press("1")  # to dispatch
        await settle(pilot)
        assert len(rows(queue)) == 2
    lead = floor.actor("lead1")
    statuses = [message(db, actor=lead, message_id=i).status for i in (first, second, third)]
    assert statuses == [InboxStatus.CONVERTED, InboxStatus.CONVERTED, InboxStatus.ANSWERED]
    converted = message(db, actor=lead, message_id=first)
    assert converted.work_order_id is not None
    detail = work_order_detail(db, actor=lead, work_order_id=converted.work_order_id, policy=POLICY)
    assert detail.order.title == "宽带断网三天"
    assert detail.department_name == "网络维护"
    assert any(text.startswith("Work order WO") for text in notes.messages)


async def test_a_page_swap_keeps_the_columns_and_the_footer_keys(
    sqlite_db: Database, clock: FixedClock
) -> None:
    """Paging redraws the rows only: the columns stay (their widths are not worked out
    again) and the footer shows the same keys, PgUp turning on. A column widened by a later
    page stays as wide back on the first (the table is not laid out again); another view
    fits the widths to its own rows."""
    from rich.cells import cell_len

    from desk.screens.queue import PAGE_SIZE
    from desk.widgets.keys import KeyFooter

    db = sqlite_db
    floor = floor_of(db)
    orders = [new_order(db, floor, title=f"断网{n}") for n in range(PAGE_SIZE)]
    orders += [new_order(db, floor, title=f"断网{n} 光猫红灯闪烁已重启") for n in range(3)]
    async with make_app(db, clock).run_test(size=(160, 48)) as pilot:
        queue = await switch_user(pilot, "lead1")
        table = queue.query_one("#queue-table", DataTable)
        columns = list(table.ordered_columns)
        footer = queue.query_one(KeyFooter)

        def keys() -> dict[tuple[str, str], bool]:
            return {(key.key, key.action): key.enabled for key in footer.shown}

        before = keys()
        assert before[("pageup", "prev_page")] is False
        assert "PgUp" in screen_text(pilot)
        assert rows(queue)[0] == orders[0].number
        await pilot.press("pagedown")
        await settle(pilot)
        assert rows(queue) == [order.number for order in orders[PAGE_SIZE:]]
        assert list(table.ordered_columns) == columns
        assert all(a is b for a, b in zip(table.ordered_columns, columns, strict=True))
        after = keys()
        assert after.keys() == before.keys()
        assert after[("pageup", "prev_page")] is True
        widths = [column.content_width for column in table.ordered_columns]
        title = next(c for c in table.ordered_columns if c.key.value == "title")
        assert title.content_width == cell_len("断网2 光猫红灯闪烁已重启")
        wide = table.virtual_size.width
        await pilot.press("pageup")
        await settle(pilot)
        assert rows(queue)[0] == orders[0].number
        assert keys()[("pageup", "prev_page")] is False
        assert [column.content_width for column in table.ordered_columns] == widths
        assert table.virtual_size.width == wide
        await pilot.press("pagedown")
        await settle(pilot)
        assert [column.content_width for column in table.ordered_columns] == widths
        # another view (all open orders: the same ones) fits the widths again
        await pilot.press(str(queue.views.index("all") + 1))
        await settle(pilot)
        assert rows(queue)[0] == orders[0].number
        assert title.content_width < cell_len("断网2 光猫红灯闪烁已重启")


async def test_f1_names_the_queue_keys_as_they_are_pressed_in_both_languages(
    sqlite_db: Database, clock: FixedClock
) -> None:
    """F1 on the queue: ``]``/``[`` for the views in turn, and one line ``1…8`` for the lead's
    views by number (the ninth is the inbox: ``1…9``), never the keys' internal names."""
    from desk.screens.dialogs import KeymapDialog

    db = sqlite_db
    floor_of(db)
    for language, next_view, by_number in (
        ("en", "Next view", "Switch to the view of that number"),
        ("zh_CN", "下一个视图", "切换到该编号的视图"),
    ):
        app = make_app(db, clock, language=language)
        async with app.run_test(size=(100, 40)) as pilot:
            queue = await switch_user(pilot, "lead1")
            await pilot.press("f1")
            await settle(pilot)
            dialog = app.screen
            assert isinstance(dialog, KeymapDialog)
            keys = {row.key: row.description for row in dialog.rows}
            assert keys["]"] == next_view
            last = len(queue.views)
            assert keys[f"1…{last}"] == by_number
            assert [row.key for row in dialog.rows if row.description == by_number] == [f"1…{last}"]
            text = screen_text(pilot)
            assert "Right_square_bracket" not in text
            assert "view N" not in text
            assert "第 N 个" not in text
            assert f"1…{last}" in text


async def test_the_queue_reuses_its_work_order_screen_and_drops_it_at_sign_out(
    sqlite_db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Enter shows each order on the one work-order screen the queue keeps (its widgets
    mounted once), never the order shown before: the queue reads the order and then shows
    the screen with it (the screen reads nothing, shows no loading line). Signing out from
    over it leaves nothing installed, and the next person's queue opens orders again."""
    db = sqlite_db
    floor = floor_of(db)
    first = new_order(db, floor, title="断网一")
    second = new_order(db, floor, title="断网二")
    screen_reads: list[int] = []
    real_load = WorkOrderScreen.load

    def load(self: WorkOrderScreen) -> None:
        screen_reads.append(self.work_order_id)
        real_load(self)

    monkeypatch.setattr(WorkOrderScreen, "load", load)
    app = make_app(db, clock)
    async with app.run_test(size=(160, 48)) as pilot:
        await switch_user(pilot, "lead1")
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, WorkOrderScreen)
        assert screen.detail is not None
        assert screen.detail.order.number == first.number
        body = screen.query_one("#wo-body")
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert app.screen is screen  # the same screen, the same widgets
        assert screen.query_one("#wo-body") is body
        assert screen.detail is not None
        assert screen.detail.order.number == second.number
        assert "断网二" in screen_text(pilot)
        assert "断网一" not in screen_text(pilot)
        assert screen_reads == []  # each shown as the queue read it before showing it
        await pilot.press("f10")  # signed out from over the order
        await settle(pilot)
        assert not [name for name in app._installed_screens if name.startswith("queue-")]
        assert not screen.is_attached
        await switch_user(pilot, "lead1")
        await pilot.press("enter")
        await settle(pilot)
        again = app.screen
        assert isinstance(again, WorkOrderScreen)
        assert again is not screen
        assert again.detail is not None
        assert again.detail.order.number == first.number


async def test_the_kept_work_order_screen_is_restyled_only_when_the_styles_changed(
    sqlite_db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shown again for the next order, the queue's work-order screen is not restyled (Textual
    restyles a screen pushed again); after a change of theme meanwhile it is."""
    db = sqlite_db
    floor = floor_of(db)
    first = new_order(db, floor, title="断网一")
    app = make_app(db, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await switch_user(pilot, "lead1")
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, WorkOrderScreen)
        await pilot.press("escape")
        await settle(pilot)
        restyled: list[object] = []
        real = type(app).update_styles

        def update_styles(self: Any, node: Any, animate: bool = True) -> None:
            restyled.append(node)
            real(self, node, animate)

        monkeypatch.setattr(type(app), "update_styles", update_styles)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        assert screen not in restyled
        assert first.number in screen_text(pilot)
        await pilot.press("escape")
        await settle(pilot)
        app.theme = "textual-light" if app.theme != "textual-light" else "textual-dark"
        await settle(pilot)
        restyled.clear()
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        assert screen in restyled


async def test_f1_tells_propose_from_confirm_escalation(
    sqlite_db: Database, clock: FixedClock
) -> None:
    """``e`` proposes and ``E`` confirms an escalation: the keymap writes them apart."""
    from desk.screens.dialogs import KeymapDialog

    floor_of(sqlite_db)
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(100, 40)) as pilot:
        await switch_user(pilot, "complaint1")
        await pilot.press("f1")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, KeymapDialog)
        keys = {row.description: row.key for row in dialog.rows}
        assert keys["Propose HQ escalation"] == "E"
        assert keys["Confirm HQ escalation"] == "Shift+E"


async def test_leaving_an_order_reads_the_queue_again_only_after_a_change(
    sqlite_db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Back from a work order the queue reads the change counters only: its page and its
    counts (at 300,000 open orders a walk of an index each) are read again when something
    changed meanwhile. Enter shows the order as the preview read it a moment ago, and reads
    it when the preview is older. An order opened by its number (g) is shown as the number's
    lookup read it, on the queue's one work-order screen."""
    import desk.services.queue as queue_service
    import desk.services.work_orders as work_orders_service

    db = sqlite_db
    floor = floor_of(db)
    first = new_order(db, floor, title="断网一")
    second = new_order(db, floor, title="断网二")
    calls: Counter[str] = Counter()

    def counting(name: str, real: Any) -> Any:
        def counted(*args: Any, **kw: Any) -> Any:
            calls[name] += 1
            return real(*args, **kw)

        return counted

    for module, name in (
        (queue_service, "work_order_queue"),
        (queue_service, "queue_figures"),
        (work_orders_service, "work_order_detail"),
    ):
        monkeypatch.setattr(module, name, counting(name, getattr(module, name)))
    app = make_app(db, clock)
    async with app.run_test(size=(160, 48)) as pilot:
        queue = await switch_user(pilot, "lead1")
        await pilot.pause(0.3)  # the preview's read is done
        await settle(pilot)
        calls.clear()
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, WorkOrderScreen)
        assert calls["work_order_detail"] == 0  # shown as the preview read it a moment ago
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is queue
        assert (calls["work_order_queue"], calls["queue_figures"]) == (0, 0)
        clock.advance(timedelta(seconds=3))  # the preview was read longer ago: Enter reads
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        assert calls["work_order_detail"] == 1
        await pilot.press("escape")
        await settle(pilot)

        calls.clear()
        await pilot.press("g")
        await settle(pilot)
        await type_text(pilot, second.number)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        assert screen.detail is not None
        assert screen.detail.order.number == second.number
        assert calls["work_order_detail"] == 1  # the lookup's read, shown as it is

        third = new_order(db, floor, title="断网三")  # another terminal, meanwhile
        await pilot.press("escape")
        await settle(pilot)
        assert await shows(pilot, queue, [first.number, second.number, third.number]) == [
            first.number,
            second.number,
            third.number,
        ]
        assert calls["queue_figures"] >= 1


async def test_the_queue_counts_one_read_at_a_time(
    sqlite_db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counts asked for while a count is read run once after it, never beside it."""
    import threading

    import desk.services.queue as queue_service

    db = sqlite_db
    floor_of(db)
    real = queue_service.queue_figures
    lock = threading.Lock()
    state = {"now": 0, "most": 0, "reads": 0}
    gate = threading.Event()  # a read waits here while the test holds it closed
    gate.set()

    def slow(*args: Any, **kw: Any) -> Any:
        with lock:
            state["now"] += 1
            state["reads"] += 1
            state["most"] = max(state["most"], state["now"])
        gate.wait(10)
        try:
            return real(*args, **kw)
        finally:
            with lock:
                state["now"] -= 1

    monkeypatch.setattr(queue_service, "queue_figures", slow)
    app = make_app(db, clock)
    async with app.run_test(size=(160, 48)) as pilot:
        queue = await switch_user(pilot, "lead1")
        await settle(pilot)
        state["reads"] = 0
        gate.clear()
        queue.reload()
        for _ in range(500):  # until the count is being read (and held at the gate)
            if state["now"]:
                break
            await pilot.pause(0.01)
        assert state["now"] == 1
        queue.reload()
        await pilot.pause(0.05)
        queue.reload()
        await pilot.pause(0.05)
        gate.set()
        for _ in range(500):  # until the read asked meanwhile has run and ended
            if state["reads"] >= 2 and not state["now"]:
                break
            await pilot.pause(0.01)
        await settle(pilot)
        await pilot.pause(0.3)
        await settle(pilot)
        assert state["most"] == 1
        assert state["reads"] == 2  # the one asked first, then one for the two asked meanwhile
        assert queue.figures is not None


async def test_the_strip_says_more_past_the_count_cap(
    sqlite_db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import desk.services.queue as queue_service

    monkeypatch.setattr(queue_service, "COUNT_CAP", 2)
    db = sqlite_db
    floor = floor_of(db)
    for n in range(3):
        new_order(db, floor, title=f"断网{n}")
    app = make_app(db, clock)
    async with app.run_test(size=(160, 48)) as pilot:
        await switch_user(pilot, "lead1")
        await settle(pilot)
        text = screen_text(pilot)
        assert "2+ to dispatch" in text
        assert "0 to review" in text


async def test_what_customers_and_staff_wrote_is_shown_as_written_not_as_markup(
    sqlite_db: Database, clock: FixedClock
) -> None:
    """A message's text and a department's name are cells of the table as they were
    written: ``[b]`` stays two brackets and a letter (the table parsed a string cell as
    Rich markup, and dropped them)."""
    from desk.models import Department
    from desk.services.inbox import add_messages, parse_messages

    db = sqlite_db
    floor = floor_of(db)
    add_messages(
        db,
        actor=floor.actor("admin1"),
        messages=parse_messages(
            [{"channel": "web", "sender": "13800000001", "text": "[b]急[/b] 宽带断网"}]
        ),
        policy=POLICY,
    )
    order = new_order(db, floor)
    woa.dispatch_work_orders(
        db,
        actor=floor.actor("lead1"),
        orders=[(order.id, order.version)],
        department_id=floor.billing,
        note=None,
        policy=POLICY,
    )

    def rename(session: Any) -> None:
        department = session.get(Department, floor.billing)
        department.name = "[b]计费"

    db.run(rename, write=True)
    app = make_app(db, clock)
    async with app.run_test(size=(160, 48)) as pilot:
        queue = await switch_user(pilot, "lead1")
        await pilot.press("8")  # all open
        await settle(pilot)
        assert queue.view == "all"
        assert "[b]计费 " in screen_text(pilot)
        await pilot.press("9")  # the inbox
        await settle(pilot)
        assert queue.view == "inbox"
        assert "[b]急[/b] 宽带断网" in screen_text(pilot)
