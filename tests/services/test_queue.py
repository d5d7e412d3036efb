"""The work-order queue on SQLite and PostgreSQL: each view holds what its name says, rows sort
by nearest deadline and carry their clocks, filters narrow, keyset pages walk forward and back
without gaps or repeats, handlers see only their department, and the figures count the views.

The test clock stands at Monday 2026-11-02 10:00 in Shanghai.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from desk.clock import FixedClock
from desk.infra.database import Database, now_of
from desk.infra.errors import InvalidInput, PermissionDenied
from desk.models import StaffUser, WorkOrder
from desk.rules.vocab import (
    ClockKind,
    Priority,
    RequestType,
    WaitingReason,
    WorkOrderStatus,
)
from desk.rules.work_orders import QueueView, is_overdue
from desk.services import figures
from desk.services import work_order_actions as woa
from desk.services.card import customer_card
from desk.services.handover import shift_summary
from desk.services.queue import QueueFilters, queue_figures, work_order_queue
from desk.services.sweep import run_sweep
from tests.conftest import reading_statements
from tests.floor_world import POLICY, Floor, build_floor
from tests.services.test_work_order_actions import Life

V = QueueView


@pytest.fixture
def floor(db: Database) -> Floor:
    return build_floor(db)


def numbers(db: Database, floor: Floor, login: str, view: QueueView, **kw: object) -> list[str]:
    page = work_order_queue(db, actor=floor.actor(login), view=view, policy=POLICY, **kw)  # type: ignore[arg-type]
    return [row.number for row in page.rows]


def test_each_view_holds_what_its_name_says(db: Database, floor: Floor, clock: FixedClock) -> None:
    new = Life(db, floor).create(RequestType.FAULT_REPORT)
    dispatched = Life(db, floor).create().dispatch(to=floor.branch)
    replied = Life(db, floor).create().dispatch(to=floor.billing).reply(login="handler1")
    returned = Life(db, floor).create().dispatch(to=floor.branch).reply().give_back()
    callback = Life(db, floor).create().dispatch().reply().accept()
    closed = Life(db, floor).create().dispatch().reply().accept().call(True, 5)
    assert closed.view is not None
    n = {life.id: life.view.number for life in (new, dispatched, replied, returned, callback)}  # type: ignore[union-attr]

    assert numbers(db, floor, "lead1", V.NEW) == [n[new.id]]
    assert numbers(db, floor, "lead1", V.REPLIED) == [n[replied.id]]
    assert numbers(db, floor, "lead1", V.RETURNED) == [n[returned.id]]
    assert numbers(db, floor, "lead1", V.CALLBACKS) == [n[callback.id]]
    assert sorted(numbers(db, floor, "lead1", V.ALL)) == sorted(n.values())
    assert numbers(db, floor, "lead1", V.OVERDUE) == []
    assert numbers(db, floor, "lead1", V.CHASE) == []
    # An hour later the fault report's dispatch (30 min) is overdue; next day, the complaint
    # sent to the branch has missed its reply and is chased once the sweep has run.
    clock.advance(timedelta(days=1, minutes=5))
    run_sweep(db, actor=floor.actor("admin1"), policy=POLICY)
    overdue = numbers(db, floor, "lead1", V.OVERDUE)
    assert overdue[0] == n[new.id]  # the most overdue first
    assert n[dispatched.id] in overdue
    # Both reply deadlines fell at Tuesday 10:00: the tie goes by id.
    assert numbers(db, floor, "complaint1", V.CHASE) == [n[dispatched.id], n[returned.id]]


def test_rows_carry_their_clock_and_sort_by_the_nearest_deadline(
    db: Database, floor: Floor, clock: FixedClock
) -> None:
    complaint = Life(db, floor).create(RequestType.COMPLAINT)  # dispatch in 30 minutes
    fault = Life(db, floor).create(RequestType.FAULT_REPORT)  # dispatch in 30 minutes, later
    suggestion = Life(db, floor).create(RequestType.SUGGESTION)  # dispatch in 240 minutes
    clock.advance(timedelta(minutes=10))
    page = work_order_queue(db, actor=floor.actor("lead1"), view=V.NEW, policy=POLICY)
    assert [row.id for row in page.rows] == [complaint.id, fault.id, suggestion.id]
    first = page.rows[0]
    assert first.next_clock is ClockKind.DISPATCH
    assert first.remaining == timedelta(minutes=20)
    assert page.rows[2].remaining == timedelta(minutes=230)
    paused = woa.pause_work_order(
        db,
        actor=floor.actor("lead1"),
        work_order_id=fault.id,
        version=fault.version,
        reason=WaitingReason.WAITING_FOR_CUSTOMER,
        note=None,
        policy=POLICY,
    )
    row = next(
        r
        for r in work_order_queue(db, actor=floor.actor("lead1"), view=V.NEW, policy=POLICY).rows
        if r.id == paused.id
    )
    assert row.waiting_reason is WaitingReason.WAITING_FOR_CUSTOMER
    assert row.remaining is None


def test_filters_narrow_every_view(db: Database, floor: Floor) -> None:
    Life(db, floor).create(RequestType.FAULT_REPORT)
    complaint = Life(db, floor).create(RequestType.COMPLAINT)
    urgent = Life(db, floor).create(RequestType.COMPLAINT)
    _set(db, urgent.id, priority=Priority.URGENT.value)
    billing = Life(db, floor).create().dispatch(to=floor.billing)
    lead = floor.actor("lead1")

    def ids(**filters: object) -> set[int]:
        page = work_order_queue(
            db,
            actor=lead,
            view=V.ALL,
            filters=QueueFilters(**filters),
            policy=POLICY,  # type: ignore[arg-type]
        )
        return {row.id for row in page.rows}

    assert ids(category=RequestType.COMPLAINT) == {complaint.id, urgent.id, billing.id}
    assert ids(priority=Priority.URGENT) == {urgent.id}
    assert ids(department_id=floor.billing) == {billing.id}
    assert ids(branch_id=floor.branch_office) >= {complaint.id, urgent.id}
    assert ids(branch_id=floor.branch_office + 99) == set()


def _set(db: Database, work_order_id: int, **values: object) -> None:
    def update(session: Session) -> None:
        order = session.get(WorkOrder, work_order_id)
        assert order is not None
        for name, value in values.items():
            setattr(order, name, value)

    db.run(update, write=True)


def test_keyset_pages_walk_forward_and_back_without_gaps_or_repeats(
    db: Database, floor: Floor
) -> None:
    lives = [Life(db, floor).create() for _ in range(12)]
    # Two orders without a deadline come last, by id; three share one deadline.
    _set(db, lives[3].id, next_due=None, next_clock=None)
    _set(db, lives[7].id, next_due=None, next_clock=None)
    lead = floor.actor("lead1")
    everything = [
        row.id
        for row in work_order_queue(db, actor=lead, view=V.NEW, limit=200, policy=POLICY).rows
    ]
    assert len(everything) == 12
    assert everything[-2:] == [lives[3].id, lives[7].id]
    walked: list[int] = []
    pages = []
    page = work_order_queue(db, actor=lead, view=V.NEW, limit=5, policy=POLICY)
    assert page.prev_cursor is None
    while True:
        pages.append(page)
        walked.extend(row.id for row in page.rows)
        if page.next_cursor is None:
            break
        page = work_order_queue(
            db, actor=lead, view=V.NEW, limit=5, after=page.next_cursor, policy=POLICY
        )
    assert walked == everything
    assert [len(p.rows) for p in pages] == [5, 5, 2]
    back = work_order_queue(
        db, actor=lead, view=V.NEW, limit=5, before=pages[-1].prev_cursor, policy=POLICY
    )
    assert [row.id for row in back.rows] == [row.id for row in pages[1].rows]
    first = work_order_queue(
        db, actor=lead, view=V.NEW, limit=5, before=back.prev_cursor, policy=POLICY
    )
    assert [row.id for row in first.rows] == [row.id for row in pages[0].rows]
    assert first.prev_cursor is None


def test_handlers_see_only_their_department(db: Database, floor: Floor) -> None:
    mine = Life(db, floor).create().dispatch(to=floor.billing)
    Life(db, floor).create().dispatch(to=floor.branch)
    Life(db, floor).create()
    handler = floor.actor("handler1")
    page = work_order_queue(db, actor=handler, view=V.DEPARTMENT, policy=POLICY)
    assert [row.id for row in page.rows] == [mine.id]
    with pytest.raises(InvalidInput) as error:
        work_order_queue(db, actor=handler, view=V.NEW, policy=POLICY)
    assert error.value.field == "view"
    figures = queue_figures(db, actor=handler, policy=POLICY)
    assert figures.counts[V.DEPARTMENT] == 1
    assert figures.inbox_waiting is None


def test_the_figures_count_each_view(db: Database, floor: Floor) -> None:
    Life(db, floor).create()
    Life(db, floor).create()
    Life(db, floor).create().dispatch().reply()
    figures = queue_figures(db, actor=floor.actor("lead1"), policy=POLICY)
    assert figures.counts[V.NEW] == 2
    assert figures.counts[V.REPLIED] == 1
    assert figures.counts[V.OVERDUE] == 0
    assert figures.inbox_waiting == 0


def test_a_bad_cursor_or_limit_names_the_field(db: Database, floor: Floor) -> None:
    lead = floor.actor("lead1")
    with pytest.raises(InvalidInput) as error:
        work_order_queue(db, actor=lead, view=V.NEW, after="x:y", policy=POLICY)
    assert error.value.field == "cursor"
    with pytest.raises(InvalidInput) as error:
        work_order_queue(db, actor=lead, view=V.NEW, limit=500, policy=POLICY)
    assert error.value.field == "limit"


def test_a_page_is_one_statement_with_its_names_and_the_readers_role(
    db: Database, floor: Floor
) -> None:
    """Each statement is a round trip on PostgreSQL, and a page is read at every PgDn: the
    rows with their departments, branches and customers by name, and the reader's role
    (the access check), whatever the rows point at; one more only when the deadlines run
    out and the orders without one follow."""
    Life(db, floor).create(customer=floor.customers[0]).dispatch(to=floor.billing)
    Life(db, floor).create(customer=floor.customers[1]).dispatch(to=floor.branch)
    Life(db, floor).create()
    lead = floor.actor("lead1")
    with reading_statements(db) as seen:
        page = work_order_queue(db, actor=lead, view=V.ALL, limit=2, policy=POLICY)
        assert len(seen) == 1, seen
        seen.clear()
        rest = work_order_queue(
            db, actor=lead, view=V.ALL, limit=2, after=page.next_cursor, policy=POLICY
        )
        # the last order with a deadline, then (none left) the orders without one
        assert len(seen) == 2, seen
        assert "next_due IS NULL" in seen[1]
    rows = {row.department_name: row for row in (*page.rows, *rest.rows)}
    assert set(rows) == {"计费中心", "城东分公司", None}
    assert rows["计费中心"].customer_name == "张**"
    assert rows["城东分公司"].center_owned is False
    assert rows[None].department_id is None
    assert rows[None].branch_name == "城东分公司"  # the customer's branch


def test_a_disabled_reader_is_refused_before_a_bad_cursor_is_named(
    db: Database, floor: Floor
) -> None:
    Life(db, floor).create()
    lead = floor.actor("lead1")

    def disable(session: Session) -> None:
        user = session.get(StaffUser, lead.user_id)
        assert user is not None
        user.active = False

    db.run(disable, write=True)
    for kw in ({}, {"after": "x:y"}, {"limit": 500}):
        with pytest.raises(PermissionDenied):
            work_order_queue(db, actor=lead, view=V.ALL, policy=POLICY, **kw)  # type: ignore[arg-type]


def test_statuses_in_the_callbacks_view_include_a_closed_child_with_its_callback(
    db: Database, floor: Floor
) -> None:
    parent = Life(db, floor).create(RequestType.FAULT_REPORT)
    child = Life(db, floor).create(RequestType.FAULT_REPORT)
    assert parent.view is not None
    child.view = woa.link_work_order(
        db,
        actor=floor.actor("lead1"),
        work_order_id=child.id,
        version=child.version,
        parent_number=parent.view.number,
        policy=POLICY,
    )
    woa.close_work_order(
        db,
        actor=floor.actor("lead1"),
        work_order_id=parent.id,
        version=parent.version,
        reason="修复",
        close_children=True,
        policy=POLICY,
    )
    page = work_order_queue(db, actor=floor.actor("agent1"), view=V.CALLBACKS, policy=POLICY)
    assert [(row.id, row.status) for row in page.rows] == [(child.id, WorkOrderStatus.CLOSED)]


@pytest.mark.parametrize("later", [timedelta(minutes=29), timedelta(minutes=31), timedelta(days=2)])
def test_overdue_means_one_thing_on_the_card_the_queue_the_handover_and_the_dashboard(
    db: Database, floor: Floor, clock: FixedClock, later: timedelta
) -> None:
    """The card's mark, the queue's overdue view, the handover's count and the dashboard's
    count all follow :func:`desk.rules.work_orders.is_overdue`, at every moment."""
    customer = floor.customers[0]
    Life(db, floor).create(RequestType.FAULT_REPORT, customer=customer)  # dispatch in 30 min
    Life(db, floor).create(RequestType.SUGGESTION, customer=customer)  # dispatch in 4 hours
    Life(db, floor).create(customer=customer).dispatch(to=floor.branch)  # reply due next day
    Life(db, floor).create(customer=customer).dispatch().reply().accept()  # callback due
    clock.advance(later)
    run_sweep(db, actor=floor.actor("admin1"), policy=POLICY)

    queue = set(numbers(db, floor, "lead1", V.OVERDUE))
    card = customer_card(db, actor=floor.actor("agent1"), customer_id=customer, policy=POLICY)
    marked = {order.number for order in card.open_work_orders if order.is_overdue}
    with db.session(write=False) as session:
        now = now_of(session)
        dashboard = figures.attention(session, now=now).overdue
        handover = shift_summary(
            session, starts_at=now - timedelta(hours=8), ends_at=now, next_ends_at=now
        )["work_orders_overdue"]
        rows = session.exec(select(WorkOrder).where(WorkOrder.status != "closed")).all()
        by_rule = {row.number for row in rows if is_overdue(row.next_due, now)}
    assert queue == marked == by_rule
    assert dashboard == handover == len(by_rule)
    assert (len(by_rule) > 0) is (later > timedelta(minutes=30))


def test_a_page_after_or_before_a_cursor_is_searched_from_the_cursors_deadline(
    db: Database, floor: Floor
) -> None:
    """The keyset's deadline bounds the index search itself (at 300,000 open orders a page back
    walked every open order from the far end of the index: 120 ms instead of a fraction of
    one), in both directions."""

    from tests.services.test_handover import _plans

    for _ in range(6):
        Life(db, floor).create()
    lead = floor.actor("lead1")
    first = work_order_queue(db, actor=lead, view=V.ALL, limit=2, policy=POLICY)
    assert first.next_cursor is not None
    seen: list[tuple[str, object]] = []

    def capture(_c: object, _cur: object, statement: str, params: object, *_: object) -> None:
        if "FROM work_order " in statement + " " and "ORDER BY" in statement:
            seen.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        second = work_order_queue(
            db, actor=lead, view=V.ALL, limit=2, after=first.next_cursor, policy=POLICY
        )
        back = work_order_queue(
            db, actor=lead, view=V.ALL, limit=2, before=second.prev_cursor, policy=POLICY
        )
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    assert [row.id for row in back.rows] == [row.id for row in first.rows]
    plans = _plans(db, seen)
    assert len(plans) == 2
    for text, plan in plans.items():
        bound = "<" if " DESC" in text else ">"
        if db.is_sqlite:  # SEARCH work_order USING INDEX … (next_due>? AND next_due<?)
            assert f"next_due{bound}?" in plan, plan
        else:
            assert f"(next_due {bound}= " in plan, plan


def test_the_figures_count_each_view_up_to_the_cap(
    db: Database, floor: Floor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the cap a view's count stops at cap + 1 ("more"): at 300,000 open orders an
    uncapped count walked each view's whole index every time anything changed."""
    import desk.services.queue as queue_service

    monkeypatch.setattr(queue_service, "COUNT_CAP", 2)
    for _ in range(4):
        Life(db, floor).create()
    Life(db, floor).create().dispatch().reply()
    figures = queue_figures(db, actor=floor.actor("lead1"), policy=POLICY)
    assert figures.counts[V.NEW] == 3  # 4 orders: "2+"
    assert figures.counts[V.REPLIED] == 1
