"""The work-order screen: the facts, clocks, attachments and history of one order, in English
and Chinese, readable at 80×24."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from rich.console import Console, ConsoleOptions, RenderResult

from desk.clock import FixedClock
from desk.infra.database import Database
from desk.rules.vocab import Channel, Priority, RequestType, WorkOrderSource
from desk.screens.work_order import WorkOrderScreen
from desk.services import secrets
from desk.services.work_orders import WorkOrderDraft, create_work_order
from tests.floor_world import POLICY, Floor, build_floor
from tests.ui.conftest import PASSWORD, make_app, screen_text, settle, sign_in


def floor_with_order(db: Database) -> tuple[Floor, int]:
    floor = build_floor(db, password_hash=secrets.hash_secret(PASSWORD))
    view = create_work_order(
        db,
        actor=floor.actor("agent1"),
        draft=WorkOrderDraft(
            customer_id=floor.customers[0],
            contact_id=None,
            category=RequestType.COMPLAINT,
            topic="乱扣费",
            title="彩铃包月未订购却扣费",
            description="客户称从未订购彩铃,10月账单扣费三次,要求退费。",
            priority=Priority.NORMAL,
            department_id=floor.billing,
            callback_number=None,
            channel=Channel.PHONE,
            source=WorkOrderSource.AGENT,
            consent=True,
            disputed_bill_item_ids=floor.bill_items[:2],
        ),
        policy=POLICY,
    )
    return floor, view.id


async def test_the_screen_shows_the_order_its_clocks_items_and_history(
    sqlite_db: Database, clock: FixedClock
) -> None:
    _floor, work_order_id = floor_with_order(sqlite_db)
    clock.advance(timedelta(minutes=10))
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await sign_in(pilot, "lead1")
        assert app.signed_in is not None
        app.push_screen(WorkOrderScreen(app.signed_in, work_order_id))
        await settle(pilot)
        text = screen_text(pilot)
        assert "WO20261102000001  彩铃包月未订购却扣费" in text
        assert "Complaint · 乱扣费 · Normal" in text
        assert "计费中心" in text
        assert "张**" in text
        assert "138****0001" in text
        assert "20m left" in text  # dispatch: 30 business minutes, 10 gone
        assert "Disputed bill items (2)" in text
        assert "History (1 events)" in text
        assert "李小红" in text
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, WorkOrderScreen)


async def test_the_screen_reads_in_chinese_at_80_by_24(
    sqlite_db: Database, clock: FixedClock
) -> None:
    _floor, work_order_id = floor_with_order(sqlite_db)
    clock.advance(timedelta(minutes=45))
    app = make_app(sqlite_db, clock, language="zh_CN")
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "lead1")
        assert app.signed_in is not None
        app.push_screen(WorkOrderScreen(app.signed_in, work_order_id))
        await settle(pilot)
        text = screen_text(pilot)
        assert "投诉 · 乱扣费 · 普通" in text
        assert "派单" in text
        assert "已超时 15分钟" in text  # 30 minutes to dispatch, 45 gone
        lines = text.splitlines()
        assert len(lines) == 24


REPLY = "经核查,该彩铃业务系第三方渠道误订,已为客户退订并退还10月三次扣费共计三十元,下月账单体现。"


async def test_a_long_reply_reads_in_full_and_the_form_keeps_its_hint_at_80_by_24(
    sqlite_db: Database, clock: FixedClock
) -> None:
    from desk.services import work_order_actions as woa
    from desk.services.work_orders import work_order_detail

    floor, work_order_id = floor_with_order(sqlite_db)
    order = work_order_detail(
        sqlite_db, actor=floor.actor("lead1"), work_order_id=work_order_id, policy=POLICY
    ).order
    dispatched = woa.dispatch_work_order(
        sqlite_db,
        actor=floor.actor("lead1"),
        work_order_id=work_order_id,
        version=order.version,
        department_id=floor.billing,
        note=None,
        policy=POLICY,
    )
    woa.reply_work_order(
        sqlite_db,
        actor=floor.actor("handler1"),
        work_order_id=work_order_id,
        version=dispatched.version,
        reply=REPLY,
        policy=POLICY,
    )
    app = make_app(sqlite_db, clock, language="zh_CN")
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "lead1")
        assert app.signed_in is not None
        app.push_screen(WorkOrderScreen(app.signed_in, work_order_id))
        await settle(pilot)
        await pilot.press("end")
        await settle(pilot)
        text = screen_text(pilot)
        folded = "".join(line.rstrip().rsplit("  ", 1)[-1].strip() for line in text.splitlines())
        assert REPLY.replace(",", "") in folded.replace(",", ""), text  # every character shown
        assert "…" not in text
        await pilot.press("r")  # return it: the form fits, its hint in sight
        await settle(pilot)
        assert "Ctrl+S" in screen_text(pilot)


async def test_the_screen_draws_a_long_history_whole(
    sqlite_db: Database, clock: FixedClock
) -> None:
    from desk.services.work_order_actions import add_note
    from desk.services.work_orders import work_order_detail

    floor, work_order_id = floor_with_order(sqlite_db)
    lead = floor.actor("lead1")
    for n in range(20):
        version = work_order_detail(
            sqlite_db, actor=lead, work_order_id=work_order_id, policy=POLICY
        ).order.version
        add_note(
            sqlite_db,
            actor=lead,
            work_order_id=work_order_id,
            version=version,
            note=f"note number {n + 1}",
            policy=POLICY,
        )
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(120, 80)) as pilot:
        await sign_in(pilot, "lead1")
        assert app.signed_in is not None
        app.push_screen(WorkOrderScreen(app.signed_in, work_order_id))
        await settle(pilot)
        await pilot.pause()
        text = screen_text(pilot)
        assert "History (21 events)" in text
        assert "note number 20" in text
        assert "more event" not in text


async def test_the_order_is_rendered_once_for_its_layout_and_its_paint(
    sqlite_db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The order's text (facts, clocks, a long history: tables of Rich) is rendered once per
    width for both its height and its paint: Textual's Static rendered it again to paint."""
    import desk.screens.work_order as screen_module

    renders: list[int] = []
    real = screen_module.render_detail

    class Counted:
        def __init__(self, group: Any) -> None:
            self.group = group
            self.index = len(renders)
            renders.append(0)

        def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
            renders[self.index] += 1
            yield self.group

    monkeypatch.setattr(screen_module, "render_detail", lambda *a, **kw: Counted(real(*a, **kw)))
    _floor, work_order_id = floor_with_order(sqlite_db)
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await sign_in(pilot, "lead1")
        await settle(pilot)
        app.push_screen(WorkOrderScreen(app.signed_in, work_order_id))
        await settle(pilot)
        await pilot.pause(0.1)
        assert "History" in screen_text(pilot)
    assert renders
    assert renders == [1] * len(renders)


async def test_a_note_is_shown_as_written_not_as_markup(
    sqlite_db: Database, clock: FixedClock
) -> None:
    """A note's ``[b]`` stays on the history (Rich parsed a string cell as markup)."""
    from desk.services.work_order_actions import add_note
    from desk.services.work_orders import work_order_detail

    floor, work_order_id = floor_with_order(sqlite_db)
    lead = floor.actor("lead1")
    version = work_order_detail(
        sqlite_db, actor=lead, work_order_id=work_order_id, policy=POLICY
    ).order.version
    add_note(
        sqlite_db,
        actor=lead,
        work_order_id=work_order_id,
        version=version,
        note="[b]急[/b] 客户再次来电",
        policy=POLICY,
    )
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await sign_in(pilot, "lead1")
        assert app.signed_in is not None
        app.push_screen(WorkOrderScreen(app.signed_in, work_order_id))
        await settle(pilot)
        assert "[b]急[/b] 客户再次来电" in screen_text(pilot)
