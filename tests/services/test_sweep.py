"""The escalation sweep on SQLite and PostgreSQL: which steps it stores and when, idempotence,
the lease that keeps two sweeps apart, and agreement with the pure ladder replayed per order.

Instants are Shanghai wall-clock times; the test clock stands at Monday 2026-11-02 10:00.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, delete, select

from desk.clock import FixedClock
from desk.infra import leases
from desk.infra.database import Database
from desk.infra.errors import PermissionDenied
from desk.models import (
    AuditEntry,
    Customer,
    Department,
    LadderStep,
    Meta,
    WorkOrder,
    WorkOrderEvent,
)
from desk.rules.calendar import calendars_from_policy
from desk.rules.clocks import TimelineEvent
from desk.rules.ladder import (
    LadderEvent,
    complaints_in_window,
    due_ladder_events,
    next_ladder_instant,
    snapshot_from_history,
)
from desk.rules.permissions import Actor, shell_actor, system_actor
from desk.rules.policy import load_policy
from desk.rules.vocab import (
    Channel,
    DepartmentKind,
    EventKind,
    Priority,
    RequestType,
    Role,
    WorkOrderSource,
    WorkOrderStatus,
)
from desk.services.sweep import (
    LAST_RUN_KEY,
    SWEEP_LEASE,
    LeaseLost,
    SweepReport,
    plan_ladder,
    prime_ladder,
    refresh_ladder,
    run_sweep,
    sweep_if_due,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
E = EventKind
ADMIN = shell_actor("test")
POLICY = load_policy(None)
CALENDARS = calendars_from_policy(POLICY)
STATUS_AFTER = {
    E.CREATED: WorkOrderStatus.NEW,
    E.DISPATCHED: WorkOrderStatus.DISPATCHED,
    E.REJECTED: WorkOrderStatus.DISPATCHED,
    E.REPLIED: WorkOrderStatus.REPLIED,
    E.ACCEPTED: WorkOrderStatus.CALLBACK,
    E.CLOSED: WorkOrderStatus.CLOSED,
    E.REOPENED: WorkOrderStatus.REOPENED,
}


def sh(day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Shanghai wall-clock instant in November 2026, as UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


MONDAY_1000 = sh(2, 10)
DISPATCHED_AT = sh(2, 10, 20)


@pytest.fixture(autouse=True)
def _after_the_dispatch(clock: FixedClock) -> None:
    """The database clock at Monday noon: the hand-made histories are in its past."""
    clock.instant = sh(2, 12)


# --- building work orders by hand ------------------------------------------------------------


@dataclass(frozen=True)
class Org:
    branch: int  # an office-calendar department
    center: int  # the centre, round the clock
    customers: tuple[int, ...]


@pytest.fixture
def org(db: Database) -> Org:
    def build(session: Session) -> Org:
        branch = Department(code="BR1", name="城东分公司", kind=DepartmentKind.BRANCH.value)
        center = Department(code="CC", name="客服中心", kind=DepartmentKind.CENTER.value)
        session.add_all([branch, center])
        customers = []
        for n in range(3):
            customer = Customer(
                customer_no=f"C{n:09d}",
                name=f"客户{n}",
                name_spaced=f"客 户 {n}",
                name_pinyin=f"kehu{n}",
                name_initials="kh",
                id_card_no=f"11010119900101{n:04d}",
                id_card_rev=f"{n:04d}10109910101011"[:18],
                region="北京",
                created_at=MONDAY_1000 - timedelta(days=400),
            )
            session.add(customer)
            customers.append(customer)
        session.flush()
        assert branch.id is not None
        assert center.id is not None
        return Org(branch.id, center.id, tuple(c.id for c in customers if c.id))

    return db.run(build, write=True)


_numbers = iter(range(1, 1_000_000))


def add_order(
    db: Database,
    events: Sequence[tuple[datetime, EventKind]],
    *,
    department: int | None,
    category: RequestType = RequestType.COMPLAINT,
    source: WorkOrderSource = WorkOrderSource.AGENT,
    priority: Priority = Priority.NORMAL,
    channel: Channel = Channel.PHONE,
    customer: int | None = None,
) -> int:
    """A work order with the given history, refreshed as a transition service would."""

    def build(session: Session) -> int:
        status = WorkOrderStatus.NEW
        for _at, kind in events:
            status = STATUS_AFTER.get(kind, status)
        created = events[0][0]
        order = WorkOrder(
            number=f"WO{next(_numbers):08d}",
            customer_id=customer,
            category=category.value,
            title="test",
            description="test",
            priority=priority.value,
            channel=channel.value,
            source=source.value,
            department_id=department,
            status=status.value,
            cycle=sum(1 for _at, kind in events if kind is E.REOPENED),
            created_at=created,
            updated_at=events[-1][0],
        )
        session.add(order)
        session.flush()
        assert order.id is not None
        for at, kind in events:
            session.add(WorkOrderEvent(work_order_id=order.id, at=at, kind=kind.value))
        session.flush()
        refresh_ladder(session, [order.id], policy=POLICY)
        return order.id

    return db.run(build, write=True)


def add_events(
    db: Database, work_order_id: int, events: Sequence[tuple[datetime, EventKind]]
) -> None:
    """Later history of an order, recorded with a refresh like a transition would."""

    def record(session: Session) -> None:
        order = session.get(WorkOrder, work_order_id)
        assert order is not None
        for at, kind in events:
            session.add(WorkOrderEvent(work_order_id=work_order_id, at=at, kind=kind.value))
            order.status = STATUS_AFTER.get(kind, WorkOrderStatus(order.status)).value
        session.flush()
        refresh_ladder(session, [work_order_id], policy=POLICY)

    db.run(record, write=True)


def sweep(db: Database, now: datetime, **options: Any) -> SweepReport:
    return run_sweep(db, actor=ADMIN, policy=POLICY, now=now, **options)


def ladder_events(db: Database, work_order_id: int | None = None) -> list[WorkOrderEvent]:
    def read(session: Session) -> list[WorkOrderEvent]:
        query = select(WorkOrderEvent).where(col(WorkOrderEvent.ladder_key).is_not(None))
        if work_order_id is not None:
            query = query.where(WorkOrderEvent.work_order_id == work_order_id)
        return list(session.exec(query.order_by(col(WorkOrderEvent.id))).all())

    return db.run(read, write=False)


def keys_of(db: Database, work_order_id: int) -> list[str]:
    return [event.ladder_key or "" for event in ladder_events(db, work_order_id)]


def next_step(db: Database, work_order_id: int) -> datetime | None:
    """When the order's plan brings its next step (None: nothing planned)."""

    def read(session: Session) -> datetime | None:
        query = select(LadderStep.due_at).where(LadderStep.work_order_id == work_order_id)
        return min(session.exec(query).all(), default=None)

    return db.run(read, write=False)


def order_row(db: Database, work_order_id: int) -> WorkOrder:
    found = db.run(lambda session: session.get(WorkOrder, work_order_id), write=False)
    assert found is not None
    return found


def dispatched_complaint(db: Database, org: Org, **options: Any) -> int:
    return add_order(
        db,
        [(MONDAY_1000, E.CREATED), (DISPATCHED_AT, E.DISPATCHED)],
        department=org.branch,
        **options,
    )


# --- which steps, when -----------------------------------------------------------------------


def test_the_complaint_ladder_step_by_step(db: Database, org: Org) -> None:
    order = dispatched_complaint(db, org)
    # Reply clock: 450 office minutes from Monday 10:20 -> due Tuesday 10:20, warned at 80 %.
    assert order_row(db, order).reply_due == sh(3, 10, 20)
    assert next_step(db, order) == sh(3, 8, 50)
    assert order_row(db, order).ladder_next_at is None  # planned: no replay needed

    quiet = sweep(db, sh(3, 8, 49))
    assert quiet.primed == 1  # the database's first sweep replays every open order once
    assert (quiet.replayed, quiet.changes) == (1, 0)
    assert next_step(db, order) == sh(3, 8, 50)
    assert sweep(db, sh(3, 8, 49)).candidates == 0

    warned = sweep(db, sh(3, 9))
    assert warned.inserted["warning"] == 1
    assert warned.changes == 1
    (warning,) = ladder_events(db, order)
    assert (warning.kind, warning.clock, warning.ladder_key) == (
        "warning",
        "reply",
        "warning:reply:c0",
    )
    assert warning.at == sh(3, 9)  # stored when the sweep ran ...
    assert warning.data is not None
    assert warning.data["due_at"] == sh(3, 8, 50).isoformat()  # ... saying when it fell due
    assert warning.data["deadline"] == sh(3, 10, 20).isoformat()
    assert warning.data["notify"] == Role.HANDLER.value
    assert warning.actor_id is None
    assert warning.department_id == org.branch

    breached = sweep(db, sh(3, 10, 30))
    assert breached.inserted["breach"] == breached.inserted["reminder"] == 1
    assert keys_of(db, order)[1:] == ["breach:reply:c0", "reminder:reply:c0"]
    reminder = ladder_events(db, order)[2]
    assert reminder.data is not None
    assert reminder.data["late"] is False
    assert reminder.data["deadline"] == sh(3, 12, 20).isoformat()
    assert order_row(db, order).escalation_level == 1

    # Still unreplied 450 office minutes after the breach: Wednesday 10:20.
    assert next_step(db, order) == sh(4, 10, 20)
    assert sweep(db, sh(4, 10, 19)).changes == 0
    escalated = sweep(db, sh(4, 10, 20))
    assert escalated.escalations_proposed == 1
    assert escalated.orders_updated == 1
    escalation = ladder_events(db, order)[-1]
    assert escalation.ladder_key == "escalation:reply:c0"
    assert escalation.data is not None
    assert escalation.data["escalate_to"] == DepartmentKind.HEADQUARTERS.value
    assert escalation.data["notify"] == Role.COMPLAINT_LEAD.value
    assert order_row(db, order).escalation_level == 2
    # Next: the resolution clock (1350 office minutes from Monday 10:00) warns Wed 14:30.
    assert next_step(db, order) == sh(4, 14, 30)


def test_a_reminder_stored_after_its_deadline_is_late(db: Database, org: Org) -> None:
    order = dispatched_complaint(db, org)
    sweep(db, sh(3, 9))  # replays and plans; the warning is stored
    sweep(db, sh(3, 12, 21))  # the reminder was due by 12:20 (two hours after the breach)
    reminder = next(e for e in ladder_events(db, order) if e.kind == "reminder")
    assert reminder.data is not None
    assert reminder.data["late"] is True
    assert reminder.data["deadline"] == sh(3, 12, 20).isoformat()
    breach = next(e for e in ladder_events(db, order) if e.kind == "breach")
    assert breach.at == sh(3, 12, 21)
    assert breach.data is not None
    assert breach.data["due_at"] == sh(3, 10, 20).isoformat()


def test_a_second_sweep_at_the_same_instant_changes_nothing(db: Database, org: Org) -> None:
    for _ in range(3):
        dispatched_complaint(db, org)
    add_order(db, [(MONDAY_1000, E.CREATED)], department=org.center, source=WorkOrderSource.MEDIA)
    now = sh(5, 12)
    first = sweep(db, now)
    assert first.changes > 0
    stored = len(ladder_events(db))
    second = sweep(db, now)
    assert second.changes == 0
    assert second.candidates == 0
    assert second.orders_updated == 0
    assert len(ladder_events(db)) == stored


def test_late_sweep_stores_the_breach_without_a_stale_warning(db: Database, org: Org) -> None:
    order = dispatched_complaint(db, org, category=RequestType.BILL_INQUIRY)
    report = sweep(db, sh(6, 12))
    assert "warning:reply:c0" not in keys_of(db, order)
    assert "breach:reply:c0" in keys_of(db, order)
    # Bill inquiries are not chased.
    assert not any(k.startswith(("reminder", "escalation")) for k in keys_of(db, order))
    assert report.inserted["reminder"] == 0


def test_paused_and_closed_orders_wait_for_their_history(
    db: Database, org: Org, clock: FixedClock
) -> None:
    paused = add_order(
        db,
        [(MONDAY_1000, E.CREATED), (DISPATCHED_AT, E.DISPATCHED), (sh(2, 11), E.PAUSED)],
        department=org.branch,
    )
    closed = add_order(
        db,
        [(MONDAY_1000, E.CREATED), (DISPATCHED_AT, E.DISPATCHED), (sh(2, 11), E.CLOSED)],
        department=org.branch,
    )
    assert next_step(db, paused) is None
    assert next_step(db, closed) is None
    assert sweep(db, sh(20, 10)).changes == 0
    # Resumed on Friday 09:00, the reply clock runs on with the time it had left (40 of 450
    # minutes used): warned at 360 minutes, Friday 15:50, due at 17:20.
    clock.instant = sh(20, 9)
    add_events(db, paused, [(sh(20, 9), E.RESUMED)])
    assert next_step(db, paused) == sh(20, 15, 50)
    assert order_row(db, paused).reply_due == sh(20, 17, 20)
    assert sweep(db, sh(20, 15, 49)).changes == 0
    report = sweep(db, sh(20, 16))
    assert keys_of(db, paused) == ["warning:reply:c0"]
    assert report.candidates == 1


def test_a_late_reply_is_a_breach_recorded_by_the_next_sweep(
    db: Database, org: Org, clock: FixedClock
) -> None:
    order = dispatched_complaint(db, org)
    clock.instant = sh(3, 11)
    add_events(db, order, [(sh(3, 11), E.REPLIED)])
    assert next_step(db, order) == sh(3, 10, 20)  # the breach, due already
    sweep(db, sh(3, 11))
    assert keys_of(db, order) == ["breach:reply:c0"]  # no chase: the reply came
    assert order_row(db, order).reply_due == sh(3, 10, 20)


@pytest.mark.parametrize(
    ("source", "expected"),
    [(WorkOrderSource.REGULATOR, "regulator"), (WorkOrderSource.MEDIA, "media")],
)
def test_complaints_from_the_regulator_and_media_are_major(
    db: Database, org: Org, source: WorkOrderSource, expected: str
) -> None:
    order = add_order(db, [(MONDAY_1000, E.CREATED)], department=org.center, source=source)
    fault = add_order(
        db, [(MONDAY_1000, E.CREATED)], department=org.center, source=source,
        category=RequestType.FAULT_REPORT,
    )  # fmt: skip
    report = sweep(db, MONDAY_1000 + timedelta(minutes=1))
    assert report.majors_flagged == 1
    assert keys_of(db, order) == ["major"]
    assert keys_of(db, fault) == []
    row = order_row(db, order)
    assert (row.is_major, row.major_source) == (True, expected)
    major = ladder_events(db, order)[0]
    assert major.data is not None
    assert major.data["notify"] == Role.SUPERVISOR.value


def test_a_customers_third_complaint_in_thirty_days_is_major(db: Database, org: Org) -> None:
    customer = org.customers[0]
    old = add_order(
        db, [(MONDAY_1000 - timedelta(days=40), E.CREATED)], department=org.center,
        customer=customer,
    )  # fmt: skip
    first = add_order(
        db, [(MONDAY_1000 - timedelta(days=20), E.CREATED)], department=org.center,
        customer=customer,
    )  # fmt: skip
    other = add_order(
        db, [(MONDAY_1000 - timedelta(days=10), E.CREATED)], department=org.center,
        customer=org.customers[1],
    )  # fmt: skip
    second = add_order(
        db, [(MONDAY_1000 - timedelta(days=5), E.CREATED)], department=org.center,
        customer=customer,
    )  # fmt: skip
    third = add_order(db, [(MONDAY_1000, E.CREATED)], department=org.center, customer=customer)
    report = sweep(db, MONDAY_1000 + timedelta(minutes=1))
    assert report.majors_flagged == 1
    for plain in (old, first, other, second):
        assert "major" not in keys_of(db, plain)
    assert "major" in keys_of(db, third)
    assert order_row(db, third).major_source == "repeat_complainer"


# --- the guard -------------------------------------------------------------------------------


def test_a_sweep_while_another_holds_the_lease_skips(db: Database, org: Org) -> None:
    order = dispatched_complaint(db, org)
    assert leases.acquire(db, name=SWEEP_LEASE, holder="terminal-2", ttl=timedelta(minutes=5))
    report = sweep(db, sh(5, 10))
    assert report.skipped_because_leased
    assert report.held_by == "terminal-2"
    assert report.changes == 0
    assert keys_of(db, order) == []


def test_an_expired_lease_is_taken_over(db: Database, org: Org, clock: FixedClock) -> None:
    order = dispatched_complaint(db, org)
    assert leases.acquire(db, name=SWEEP_LEASE, holder="died", ttl=timedelta(minutes=5))
    clock.advance(timedelta(minutes=5))
    report = sweep(db, sh(5, 10))
    assert not report.skipped_because_leased
    assert "breach:reply:c0" in keys_of(db, order)
    lease = leases.lease_of(db, name=SWEEP_LEASE)
    assert lease is not None
    assert lease.holder != "died"
    assert lease.expires_at <= clock.now()  # released at the end


def test_a_sweep_that_lost_its_lease_stops_and_keeps_its_batches(
    db: Database, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    orders = [dispatched_complaint(db, org) for _ in range(3)]
    real_renew = leases.renew
    calls = 0

    def renew_until_taken_over(connection: Any, **options: Any) -> bool:
        nonlocal calls
        calls += 1
        # The fourth renewal finds another holder (its lease expired while this one stalled).
        return calls < 4 and real_renew(connection, **options)

    monkeypatch.setattr(leases, "renew", renew_until_taken_over)
    with pytest.raises(LeaseLost):
        sweep(db, sh(5, 10), batch_size=1)
    # The first sweep primes, reads its work list, then replays every open order, one per
    # batch here: the batch that found the lease gone changed nothing, its order and the next
    # stay marked for the next sweep; the one before it is planned.
    marked = [order_row(db, order).ladder_next_at is not None for order in orders]
    assert marked == [False, True, True]
    monkeypatch.setattr(leases, "renew", real_renew)
    assert sweep(db, sh(5, 10)).replayed == 2


def test_the_lease_is_one_holder_at_a_time_under_a_race(db: Database) -> None:
    barrier = threading.Barrier(6)
    won: list[str] = []

    def contend(holder: str) -> None:
        barrier.wait()
        if leases.acquire(db, name="race", holder=holder, ttl=timedelta(minutes=1)):
            won.append(holder)

    threads = [threading.Thread(target=contend, args=(f"t{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    lease = leases.lease_of(db, name="race")
    assert lease is not None
    assert lease.holder == won[0]


def test_a_holder_that_lost_its_lease_cannot_renew(db: Database, clock: FixedClock) -> None:
    ttl = timedelta(minutes=1)
    assert leases.acquire(db, name="job", holder="a", ttl=ttl)
    assert not leases.acquire(db, name="job", holder="a", ttl=ttl)  # not re-entrant
    clock.advance(timedelta(minutes=2))
    assert leases.acquire(db, name="job", holder="b", ttl=ttl)
    with db.connection(write=True) as connection:
        assert not leases.renew(connection, name="job", holder="a", now=clock.now(), ttl=ttl)
        assert leases.renew(connection, name="job", holder="b", now=clock.now(), ttl=ttl)


def test_the_console_timer_sweeps_when_due_and_not_twice(
    db: Database, org: Org, clock: FixedClock
) -> None:
    dispatched_complaint(db, org)
    every = timedelta(minutes=1)
    clock.instant = sh(5, 10)
    first = sweep_if_due(db, holder="console-1", every=every, policy=POLICY)
    assert first is not None
    assert first.changes > 0
    assert sweep_if_due(db, holder="console-2", every=every, policy=POLICY) is None
    clock.advance(every)
    again = sweep_if_due(db, holder="console-2", every=every, policy=POLICY)
    assert again is not None
    assert again.changes == 0
    assert leases.acquire(db, name=SWEEP_LEASE, holder="cron", ttl=timedelta(minutes=5))
    clock.advance(every)
    held = sweep_if_due(db, holder="console-1", every=every, policy=POLICY)
    assert held is not None
    assert held.skipped_because_leased
    last = db.run(lambda session: session.get(Meta, LAST_RUN_KEY), write=False)
    assert last is not None


def test_the_sweep_needs_its_permission_and_audits_what_it_did(db: Database, org: Org) -> None:
    dispatched_complaint(db, org)
    with pytest.raises(PermissionDenied):
        run_sweep(
            db, actor=Actor(user_id=5, login="agent1", role=Role.AGENT), policy=POLICY,
            now=sh(5, 10),
        )  # fmt: skip
    run_sweep(db, actor=system_actor(), policy=POLICY, now=sh(5, 10))
    entries = db.run(lambda session: list(session.exec(select(AuditEntry)).all()), write=False)
    (entry,) = [e for e in entries if e.action == "sweep.run"]
    assert entry.actor_login == "system"


# --- priming ---------------------------------------------------------------------------------


def test_prime_marks_open_orders_and_a_changed_policy_primes_again(db: Database, org: Org) -> None:
    open_order = dispatched_complaint(db, org)
    closed = add_order(db, [(MONDAY_1000, E.CREATED), (sh(2, 11), E.CLOSED)], department=org.branch)

    def forget(session: Session) -> int:
        for row in session.exec(select(WorkOrder)).all():
            row.ladder_next_at = None
        session.flush()
        return prime_ladder(session.connection())

    assert db.run(forget, write=True) == 1
    assert order_row(db, open_order).ladder_next_at == MONDAY_1000
    assert order_row(db, closed).ladder_next_at is None

    first = sweep(db, sh(2, 12))
    assert first.primed == 0  # marked already; the sweep records the policy it primed for
    assert first.replayed == 1
    assert keys_of(db, closed) == ["breach:dispatch:c0"]  # planned when it was closed
    assert order_row(db, open_order).ladder_next_at is None
    assert next_step(db, open_order) == sh(3, 8, 50)
    assert sweep(db, sh(2, 12)).primed == 0
    stricter = POLICY.model_copy(
        update={"sla": POLICY.sla.model_copy(update={"warning_percent": 10.0})}
    )
    changed = run_sweep(db, actor=ADMIN, policy=stricter, now=sh(2, 12))
    assert changed.primed == 1
    assert "warning:reply:c0" in keys_of(db, open_order)  # 10 % of 450 minutes: 45 minutes


def test_a_bulk_load_can_do_the_catch_up_itself(db: Database, org: Org) -> None:
    order = dispatched_complaint(db, org)

    def bulk_load(session: Session) -> int:
        for row in session.exec(select(WorkOrder)).all():
            row.ladder_next_at = None  # as a loader writes rows, without plans
        session.exec(delete(LadderStep))
        session.flush()
        connection = session.connection()
        prime_ladder(connection)
        return plan_ladder(connection, policy=POLICY, now=sh(3, 9))

    assert db.run(bulk_load, write=True) == 1
    assert next_step(db, order) == sh(3, 8, 50)  # the warning, due already
    first = sweep(db, sh(3, 9))
    assert (first.primed, first.replayed) == (0, 0)  # nothing left to catch up
    assert keys_of(db, order) == ["warning:reply:c0"]


# --- agreement with the pure ladder ----------------------------------------------------------


def random_history(
    rng: random.Random, start: datetime, until: datetime
) -> list[tuple[datetime, EventKind]]:
    """A creation at ``start`` and up to 5 events in any order, none after ``until``."""
    flow = [E.DISPATCHED, E.REPLIED, E.REJECTED, E.ACCEPTED, E.CLOSED, E.REOPENED]
    events = [(start, E.CREATED)]
    at = start
    for _ in range(rng.randint(0, 5)):
        at += timedelta(minutes=rng.randint(1, 2_400))
        if at > until:
            break
        events.append((at, rng.choice([*flow, E.PAUSED, E.RESUMED, E.DISPATCHED])))
    return events


def expected_steps(
    order: WorkOrder,
    history: list[TimelineEvent],
    kinds: dict[int, DepartmentKind],
    complaints: dict[int, list[datetime]],
    keys: set[str],
    now: datetime,
) -> tuple[list[LadderEvent], datetime | None]:
    count = 1
    if order.customer_id is not None:
        count = complaints_in_window(
            complaints.get(order.customer_id, []), order.created_at, POLICY
        )
    snapshot = snapshot_from_history(
        work_order_id=order.id or 0,
        category=RequestType(order.category),
        priority=Priority(order.priority),
        channel=Channel(order.channel),
        status=WorkOrderStatus(order.status),
        source=WorkOrderSource(order.source),
        is_major=False,  # as created; the sweep's own flag shows as the "major" key
        department_id=order.department_id,
        department_kind=kinds.get(order.department_id or 0),
        events=history,
        now=now,
        policy=POLICY,
        calendars=CALENDARS,
        customer_complaints_in_window=count,
    )
    due = due_ladder_events(snapshot, keys, now, POLICY, CALENDARS)
    taken = keys | {event.ladder_key for event in due}
    return due, next_ladder_instant(snapshot, taken, now, POLICY, CALENDARS)


def stored_as(event: LadderEvent) -> dict[str, Any]:
    """How a ladder event is expected to be stored by a sweep."""
    data: dict[str, Any] = {
        "due_at": event.due_at.isoformat(),
        "cycle": event.cycle,
        "notify": event.notify.value,
    }
    if event.deadline is not None:
        data |= {"deadline": event.deadline.isoformat(), "late": event.late}
    if event.escalate_to is not None:
        data["escalate_to"] = event.escalate_to.value
    if event.major_source is not None:
        data["major_source"] = event.major_source.value
    return {
        "kind": event.kind.value,
        "clock": event.clock.value if event.clock else None,
        "department_id": event.department_id,
        "data": data,
    }


def test_the_set_based_sweep_agrees_with_the_pure_ladder(
    db: Database, org: Org, clock: FixedClock
) -> None:
    rng = random.Random(20261102)
    kinds = {org.branch: DepartmentKind.BRANCH, org.center: DepartmentKind.CENTER}
    now = clock.instant = MONDAY_1000 + timedelta(minutes=5)
    orders: list[int] = []
    for _ in range(36):
        start = MONDAY_1000 - timedelta(minutes=rng.randint(0, 20_000))
        orders.append(
            add_order(
                db,
                random_history(rng, start, MONDAY_1000),
                department=rng.choice([org.branch, org.center, None]),
                category=rng.choice(list(RequestType)),
                source=rng.choice(list(WorkOrderSource)),
                priority=rng.choice(list(Priority)),
                channel=rng.choice([Channel.PHONE, Channel.VIP_LINE, Channel.WEB_MESSAGE]),
                customer=rng.choice([*org.customers, None]),
            )
        )
    expected: dict[int, set[str]] = {order: set() for order in orders}
    for step in range(6):
        clock.instant = now
        if step == 3:  # some orders move on between sweeps, as people work them
            for order in rng.sample(orders, 8):
                add_events(db, order, [(now - timedelta(minutes=1), rng.choice(
                    [E.DISPATCHED, E.REPLIED, E.PAUSED, E.RESUMED, E.REOPENED]
                ))])  # fmt: skip
        sweep(db, now, batch_size=7)
        rows, histories = _state(db, orders)
        complaints: dict[int, list[datetime]] = {}
        for row in rows.values():
            if row.category == RequestType.COMPLAINT.value and row.customer_id is not None:
                complaints.setdefault(row.customer_id, []).append(row.created_at)
        for order in orders:
            due, later = expected_steps(
                rows[order], histories[order], kinds, complaints, expected[order], now
            )
            expected[order].update(event.ladder_key for event in due)
            stored = {event.ladder_key: event for event in ladder_events(db, order)}
            assert set(stored) == expected[order], f"order {order} at {now}"
            for event in due:
                found = stored[event.ladder_key]
                assert found.at == now
                assert {
                    "kind": found.kind,
                    "clock": found.clock,
                    "department_id": found.department_id,
                    "data": found.data,
                } == stored_as(event)
            assert next_step(db, order) == later, f"order {order} at {now}"
            assert rows[order].ladder_next_at is None
        now += timedelta(minutes=rng.randint(30, 2_000))


def _state(
    db: Database, orders: list[int]
) -> tuple[dict[int, WorkOrder], dict[int, list[TimelineEvent]]]:
    def read(session: Session) -> tuple[dict[int, WorkOrder], dict[int, list[TimelineEvent]]]:
        rows = {row.id or 0: row for row in session.exec(select(WorkOrder)).all()}
        histories: dict[int, list[TimelineEvent]] = {order: [] for order in orders}
        query = select(WorkOrderEvent).where(col(WorkOrderEvent.ladder_key).is_(None))
        for event in session.exec(query.order_by(col(WorkOrderEvent.id))).all():
            histories[event.work_order_id].append(TimelineEvent(event.at, EventKind(event.kind)))
        return rows, histories

    return db.run(read, write=False)
