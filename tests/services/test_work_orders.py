"""Creating a work order and reading it back, on SQLite and PostgreSQL: consent, numbering,
the created event, clocks and the ladder plan from the rules, disputed bill items, a major
flag given at once, and a handler kept to their own department.

The test clock stands at Monday 2026-11-02 10:00 in Shanghai.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from desk.clock import FixedClock
from desk.infra.database import Database
from desk.infra.errors import InvalidInput, NotFound, PermissionDenied
from desk.models import LadderStep, StaffUser, WorkOrder, WorkOrderBillItem, WorkOrderEvent
from desk.rules.clocks import clock_budgets
from desk.rules.vocab import (
    Channel,
    ClockKind,
    ClockState,
    EventKind,
    MajorSource,
    Priority,
    RequestType,
    WorkOrderSource,
    WorkOrderStatus,
)
from desk.rules.work_orders import Action
from desk.services import changes
from desk.services.sweep import run_sweep
from desk.services.work_order_actions import add_note, link_work_order
from desk.services.work_orders import (
    LinkedOrder,
    WorkOrderDetail,
    WorkOrderDraft,
    create_work_order,
    work_order_detail,
)
from tests.conftest import reading_statements
from tests.floor_world import POLICY, Floor, build_floor


@pytest.fixture
def floor(db: Database) -> Floor:
    return build_floor(db)


def draft(floor: Floor, **changes_: object) -> WorkOrderDraft:
    values: dict[str, object] = {
        "customer_id": floor.customers[0],
        "contact_id": None,
        "category": RequestType.COMPLAINT,
        "topic": "乱扣费",
        "title": "彩铃包月未订购却扣费",
        "description": "客户称从未订购彩铃,10月账单扣费三次,要求退费。",
        "priority": Priority.NORMAL,
        "department_id": floor.billing,
        "callback_number": "13800000001",
        "channel": Channel.PHONE,
        "source": WorkOrderSource.AGENT,
        "consent": True,
    }
    values.update(changes_)
    return WorkOrderDraft.model_validate(values)


def rows(db: Database, model: type, *where: object) -> list:  # type: ignore[type-arg]
    return db.run(lambda s: list(s.exec(select(model).where(*where)).all()), write=False)


def test_an_agent_creates_a_work_order_with_its_event_clocks_and_plan(
    db: Database, floor: Floor
) -> None:
    before = changes.counters(db, [changes.Topic.WORK_ORDERS])[changes.Topic.WORK_ORDERS]
    view = create_work_order(db, actor=floor.actor("agent1"), draft=draft(floor), policy=POLICY)

    assert view.number == "WO20261102000001"
    assert view.status is WorkOrderStatus.NEW
    assert view.version == 1
    assert view.branch_id == floor.branch_office  # the customer's branch: billing has none
    budgets = clock_budgets(RequestType.COMPLAINT, Priority.NORMAL, Channel.PHONE, POLICY)
    assert view.next_clock is ClockKind.DISPATCH  # the dispatch clock runs out first
    assert view.next_due == db.clock.now() + timedelta(minutes=budgets.dispatch)  # 24 h centre

    (event,) = rows(db, WorkOrderEvent, WorkOrderEvent.work_order_id == view.id)
    assert event.kind == EventKind.CREATED.value
    assert event.actor_id == floor.actor("agent1").user_id
    assert event.to_status == WorkOrderStatus.NEW.value
    assert event.data["consent"] is True
    keys = {step.ladder_key for step in rows(db, LadderStep, LadderStep.work_order_id == view.id)}
    assert {"warning:dispatch:c0", "breach:dispatch:c0", "breach:resolution:c0"} <= keys
    after = changes.counters(db, [changes.Topic.WORK_ORDERS])[changes.Topic.WORK_ORDERS]
    assert after == before + 1


def test_numbers_run_on_within_the_local_day(db: Database, floor: Floor, clock: FixedClock) -> None:
    agent = floor.actor("agent1")
    first = create_work_order(db, actor=agent, draft=draft(floor), policy=POLICY)
    second = create_work_order(db, actor=agent, draft=draft(floor), policy=POLICY)
    clock.advance(timedelta(hours=14))  # Tuesday 00:00 in Shanghai
    third = create_work_order(db, actor=agent, draft=draft(floor), policy=POLICY)
    assert [first.number, second.number, third.number] == [
        "WO20261102000001",
        "WO20261102000002",
        "WO20261103000001",
    ]


def test_without_consent_an_agents_call_makes_no_work_order(db: Database, floor: Floor) -> None:
    with pytest.raises(InvalidInput) as error:
        create_work_order(
            db, actor=floor.actor("agent1"), draft=draft(floor, consent=False), policy=POLICY
        )
    assert error.value.field == "consent"
    assert rows(db, WorkOrder) == []
    # A web form is the customer's own request: no consent to ask for.
    view = create_work_order(
        db,
        actor=floor.actor("lead1"),
        draft=draft(floor, consent=False, source=WorkOrderSource.WEB_FORM),
        policy=POLICY,
    )
    assert view.status is WorkOrderStatus.NEW


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"customer_id": 999_999}, "customer_id"),
        ({"department_id": 999_999}, "department_id"),
        ({"contact_id": 999_999}, "contact_id"),
        ({"title": "   "}, "title"),
        ({"description": ""}, "description"),
        ({"title": "x" * 121}, "title"),
        ({"disputed_bill_item_ids": (999_999,)}, "disputed_bill_item_ids"),
        ({"customer_id": None, "disputed_bill_item_ids": (1,)}, "disputed_bill_item_ids"),
    ],
)
def test_a_bad_draft_names_its_field_and_writes_nothing(
    db: Database, floor: Floor, change: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        create_work_order(
            db, actor=floor.actor("agent1"), draft=draft(floor, **change), policy=POLICY
        )
    assert error.value.field == field
    assert rows(db, WorkOrder) == []
    assert rows(db, WorkOrderEvent) == []


def test_another_customers_bill_item_is_refused(db: Database, floor: Floor) -> None:
    with pytest.raises(InvalidInput, match=str(floor.other_bill_item)):
        create_work_order(
            db,
            actor=floor.actor("agent1"),
            draft=draft(floor, disputed_bill_item_ids=(floor.bill_items[0], floor.other_bill_item)),
            policy=POLICY,
        )
    assert rows(db, WorkOrderBillItem) == []


def test_a_billing_dispute_carries_its_bill_items_into_the_detail(
    db: Database, floor: Floor
) -> None:
    view = create_work_order(
        db,
        actor=floor.actor("agent1"),
        draft=draft(floor, disputed_bill_item_ids=floor.bill_items[:2]),
        policy=POLICY,
    )
    detail = work_order_detail(db, actor=floor.actor("lead1"), number=view.number, policy=POLICY)
    assert [item.id for item in detail.disputed_items] == list(floor.bill_items[:2])
    assert detail.disputed_items[0].period == "2026-10"
    assert detail.disputed_items[0].amount_cents == 1_000
    assert detail.customer_name_masked == "张**"
    assert detail.customer_phone_masked == "138****0001"
    assert detail.department_name == "计费中心"
    assert detail.created_by_name == "李小红"
    (created,) = detail.events
    assert created.kind is EventKind.CREATED
    assert created.actor_name == "李小红"
    clocks = {clock.kind: clock for clock in detail.clocks}
    assert clocks[ClockKind.DISPATCH].state is ClockState.RUNNING
    assert clocks[ClockKind.DISPATCH].remaining == timedelta(minutes=30)
    assert clocks[ClockKind.REPLY].state is ClockState.NOT_STARTED
    assert clocks[ClockKind.RESOLUTION].state is ClockState.RUNNING


def test_the_detail_is_read_in_two_statements_whatever_its_history(
    db: Database, floor: Floor
) -> None:
    """Each statement is a round trip on PostgreSQL, and the queue reads an order at every
    Enter: the order with the reader's role and what it points at, then its history with the
    names it shows. A longer history, written by more people, costs no more."""
    lead = floor.actor("lead1")
    view = create_work_order(db, actor=floor.actor("agent1"), draft=draft(floor), policy=POLICY)

    def read() -> int:
        with reading_statements(db) as seen:
            detail = work_order_detail(db, actor=lead, work_order_id=view.id, policy=POLICY)
        assert len(seen) == 2, seen
        return detail.order.version

    version = read()
    for n, login in enumerate(("lead1", "lead2", "handler1", "lead1")):
        version = add_note(
            db,
            actor=floor.actor(login),
            work_order_id=view.id,
            version=version,
            note=f"note {n}",
            policy=POLICY,
        ).version
    read()
    detail = work_order_detail(db, actor=lead, number=view.number.lower(), policy=POLICY)
    assert [event.actor_name for event in detail.events] == [
        "李小红",
        "王班长",
        "陈班长",
        "钱处理",
        "王班长",
    ]


def test_the_parts_an_order_has_cost_a_statement_each(db: Database, floor: Floor) -> None:
    """Disputed bill items and mass-fault children are read only for an order that has
    them; a child names its parent from the order's own statement."""
    lead = floor.actor("lead1")
    parent = create_work_order(
        db,
        actor=floor.actor("agent1"),
        draft=draft(floor, disputed_bill_item_ids=floor.bill_items[:2]),
        policy=POLICY,
    )
    child = create_work_order(
        db,
        actor=floor.actor("agent1"),
        draft=draft(floor, category=RequestType.FAULT_REPORT, title="断网"),
        policy=POLICY,
    )
    link_work_order(
        db,
        actor=lead,
        work_order_id=child.id,
        version=child.version,
        parent_number=parent.number,
        policy=POLICY,
    )

    def read(work_order_id: int, statements: int) -> WorkOrderDetail:
        with reading_statements(db) as seen:
            detail = work_order_detail(db, actor=lead, work_order_id=work_order_id, policy=POLICY)
        assert len(seen) == statements, seen
        return detail

    of_parent = read(parent.id, 4)  # the order, its history, its items, its children
    assert [item.id for item in of_parent.disputed_items] == list(floor.bill_items[:2])
    assert of_parent.children == (LinkedOrder(child.id, child.number, "断网", WorkOrderStatus.NEW),)
    assert of_parent.parent is None
    of_child = read(child.id, 2)
    assert of_child.parent == LinkedOrder(
        parent.id, parent.number, parent.title, WorkOrderStatus.NEW
    )
    assert of_child.children == ()
    assert of_child.disputed_items == ()


def test_an_unknown_order_is_not_found_and_a_disabled_reader_refused_first(
    db: Database, floor: Floor
) -> None:
    lead = floor.actor("lead1")
    view = create_work_order(db, actor=floor.actor("agent1"), draft=draft(floor), policy=POLICY)
    with pytest.raises(NotFound):
        work_order_detail(db, actor=lead, number="WO19990101000001", policy=POLICY)
    with pytest.raises(InvalidInput):
        work_order_detail(db, actor=lead, policy=POLICY)

    def disable(session: Session) -> None:
        user = session.get(StaffUser, lead.user_id)
        assert user is not None
        user.active = False

    db.run(disable, write=True)
    for lookup in (
        lambda: work_order_detail(db, actor=lead, work_order_id=view.id, policy=POLICY),
        lambda: work_order_detail(db, actor=lead, number="WO19990101000001", policy=POLICY),
        lambda: work_order_detail(db, actor=lead, policy=POLICY),
    ):
        with pytest.raises(PermissionDenied):
            lookup()


def test_the_detail_lists_what_the_reader_may_do(db: Database, floor: Floor) -> None:
    view = create_work_order(db, actor=floor.actor("agent1"), draft=draft(floor), policy=POLICY)
    lead = work_order_detail(db, actor=floor.actor("lead1"), work_order_id=view.id, policy=POLICY)
    agent = work_order_detail(db, actor=floor.actor("agent1"), work_order_id=view.id, policy=POLICY)
    assert {Action.DISPATCH, Action.CLOSE, Action.PAUSE, Action.LINK} <= lead.allowed
    assert Action.REPLY not in lead.allowed
    assert agent.allowed == {Action.NOTE}


def test_a_handler_reads_only_their_departments_orders(db: Database, floor: Floor) -> None:
    view = create_work_order(db, actor=floor.actor("agent1"), draft=draft(floor), policy=POLICY)
    detail = work_order_detail(
        db, actor=floor.actor("handler1"), work_order_id=view.id, policy=POLICY
    )
    assert detail.order.number == view.number
    with pytest.raises(PermissionDenied):
        work_order_detail(db, actor=floor.actor("handler2"), work_order_id=view.id, policy=POLICY)
    with pytest.raises(NotFound):
        work_order_detail(db, actor=floor.actor("lead1"), number="WO0", policy=POLICY)


def test_a_major_complaint_named_by_the_agent_is_flagged_at_once_and_only_once(
    db: Database, floor: Floor, clock: FixedClock
) -> None:
    view = create_work_order(
        db,
        actor=floor.actor("agent1"),
        draft=draft(floor, major_source=MajorSource.MEDIA),
        policy=POLICY,
    )
    assert view.is_major
    clock.advance(timedelta(minutes=5))
    report = run_sweep(db, actor=floor.actor("admin1"), policy=POLICY)
    assert report.inserted[EventKind.MAJOR_FLAGGED.value] == 0
    flagged = rows(
        db,
        WorkOrderEvent,
        WorkOrderEvent.work_order_id == view.id,
        WorkOrderEvent.kind == EventKind.MAJOR_FLAGGED.value,
    )
    assert len(flagged) == 1


def test_the_sweep_raises_the_version_of_an_order_it_changes(
    db: Database, floor: Floor, clock: FixedClock
) -> None:
    """A complaint left undispatched past its reply... here: a regulator's complaint is
    flagged major by the sweep; the row changes, so its version moves and says by whom."""
    view = create_work_order(
        db,
        actor=floor.actor("lead1"),
        draft=draft(floor, source=WorkOrderSource.REGULATOR, consent=False),
        policy=POLICY,
    )
    before = changes.counters(db, [changes.Topic.WORK_ORDERS])[changes.Topic.WORK_ORDERS]
    clock.advance(timedelta(minutes=1))
    report = run_sweep(db, actor=floor.actor("admin1"), policy=POLICY)
    assert report.majors_flagged == 1

    def read(session: Session) -> WorkOrder:
        order = session.exec(select(WorkOrder).where(col(WorkOrder.id) == view.id)).one()
        return order

    order = db.run(read, write=False)
    assert order.is_major
    assert order.version == view.version + 1
    assert order.updated_by is None  # desk itself
    assert order.updated_at == clock.now()
    after = changes.counters(db, [changes.Topic.WORK_ORDERS])[changes.Topic.WORK_ORDERS]
    assert after > before
    # A second sweep at the same instant changes nothing, the version included.
    run_sweep(db, actor=floor.actor("admin1"), policy=POLICY)
    assert db.run(read, write=False).version == order.version
