"""The escalation sweep: the ladder's due steps applied to the database, in set-based batches.

What is due is defined once, by :func:`desk.rules.ladder.due_ladder_events`; this module only
decides *which* work orders to ask and stores the answers.

**The work list.** ``work_order.ladder_next_at`` holds, per work order, the earliest instant
at which the ladder can bring something new (:func:`desk.rules.ladder.next_ladder_instant`);
NULL means nothing until the order's history changes. A sweep at ``now`` examines only the
orders with ``ladder_next_at <= now`` (an index range), in batches: per batch a handful of
queries load the orders, their clock-moving events and ladder keys, and the complaint dates of
their customers; the pure ladder runs over each; the new events go in with one conflict-
ignoring insert (the unique ``(work_order_id, ladder_key)`` index makes a second copy
impossible, whoever races) and the orders with one executemany update (due instants,
``ladder_next_at``, escalation level, major flag). One transaction per batch.

**Who keeps the list right.** Whatever changes a work order's clock-moving history, category,
priority, channel, department or status calls :func:`refresh_ladder` in the same transaction.
Bulk loads call :func:`prime_ladder`. A policy other than the one the list was computed under
(its fingerprint is kept in ``desk_meta``) makes the next sweep prime every open order again.

**One sweep at a time.** A sweep holds the ``sweep`` lease (:mod:`desk.services.leases`),
renewed in every batch's transaction; a second sweep meanwhile reports that it skipped. The
console runs :func:`sweep_if_due` on a timer as :func:`desk.rules.permissions.system_actor`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from typing import Any

from sqlalchemy import Table, bindparam, text, update
from sqlalchemy.engine import Connection
from sqlmodel import Session

from desk.clock import as_utc
from desk.models import Meta, metadata
from desk.rules.calendar import BusinessCalendar, calendars_from_policy
from desk.rules.clocks import TimelineEvent
from desk.rules.ladder import (
    MAJOR_KEY,
    LadderEvent,
    complaints_in_window,
    due_ladder_events,
    next_ladder_instant,
    snapshot_from_history,
)
from desk.rules.permissions import Actor, Permission, system_actor
from desk.rules.policy import Policy
from desk.rules.vocab import (
    Channel,
    ClockKind,
    DepartmentKind,
    EventKind,
    Priority,
    RequestType,
    WorkOrderSource,
    WorkOrderStatus,
)
from desk.services import audit, leases
from desk.services.access import require
from desk.services.database import Database, now_of
from desk.services.errors import DeskError, InvalidInput

SWEEP_LEASE = "sweep"
LAST_RUN_KEY = "sweep_last_run"
POLICY_KEY = "sweep_policy"
DEFAULT_BATCH_SIZE = 2_000
LEASE_TTL = timedelta(minutes=5)

LADDER_KINDS: tuple[EventKind, ...] = (
    EventKind.WARNING,
    EventKind.BREACH,
    EventKind.REMINDER,
    EventKind.ESCALATION_PROPOSED,
    EventKind.MAJOR_FLAGGED,
)
CLOCK_EVENT_KINDS: frozenset[EventKind] = frozenset(
    {
        EventKind.CREATED,
        EventKind.DISPATCHED,
        EventKind.REPLIED,
        EventKind.ACCEPTED,
        EventKind.REJECTED,
        EventKind.CLOSED,
        EventKind.REOPENED,
        EventKind.PAUSED,
        EventKind.RESUMED,
    }
)
_DUE_COLUMNS: Mapping[ClockKind, str] = {
    ClockKind.DISPATCH: "dispatch_due",
    ClockKind.REPLY: "reply_due",
    ClockKind.RESOLUTION: "resolution_due",
    ClockKind.CALLBACK: "callback_due",
}
_LEVEL_OF: Mapping[EventKind, int] = {EventKind.REMINDER: 1, EventKind.ESCALATION_PROPOSED: 2}

_WORK_ORDER: Table = metadata.tables["work_order"]
_EVENT: Table = metadata.tables["work_order_event"]
_INSTANT = _WORK_ORDER.c.ladder_next_at.type  # binds an aware instant as each database stores it

# Enum lookups by stored value, built once (calling an enum class costs more than a dict).
_EVENT_KINDS = {kind.value: kind for kind in EventKind}
_REQUEST_TYPES = {kind.value: kind for kind in RequestType}
_PRIORITIES = {kind.value: kind for kind in Priority}
_CHANNELS = {kind.value: kind for kind in Channel}
_SOURCES = {kind.value: kind for kind in WorkOrderSource}
_STATUSES = {kind.value: kind for kind in WorkOrderStatus}
_DEPARTMENT_KINDS = {kind.value: kind for kind in DepartmentKind}


class LeaseLost(DeskError):
    title = "Sweep interrupted"


@dataclass(frozen=True)
class SweepReport:
    """What one sweep did. ``inserted`` counts the events stored, by kind (every ladder kind
    is present); ``candidates`` the work orders examined; ``orders_updated`` those whose due
    instants, escalation level or major flag changed; ``primed`` the open orders marked for a
    check first (first sweep, or a changed policy). A sweep that found the lease taken did
    nothing: ``skipped_because_leased`` and ``held_by`` say so."""

    now: datetime
    candidates: int = 0
    inserted: Mapping[str, int] = field(
        default_factory=lambda: {kind.value: 0 for kind in LADDER_KINDS}
    )
    orders_updated: int = 0
    escalations_proposed: int = 0
    majors_flagged: int = 0
    skipped_because_leased: bool = False
    held_by: str | None = None
    batches: int = 0
    primed: int = 0
    seconds: float = 0.0

    @property
    def changes(self) -> int:
        """Events stored: 0 on a second sweep at the same instant."""
        return sum(self.inserted.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "candidates": self.candidates,
            "inserted": dict(self.inserted),
            "changes": self.changes,
            "orders_updated": self.orders_updated,
            "escalations_proposed": self.escalations_proposed,
            "majors_flagged": self.majors_flagged,
            "skipped_because_leased": self.skipped_because_leased,
            "held_by": self.held_by,
            "batches": self.batches,
            "primed": self.primed,
            "seconds": round(self.seconds, 3),
        }


# --- loading a batch -------------------------------------------------------------------------


@dataclass
class _Order:
    id: int
    customer_id: int | None
    category: RequestType
    priority: Priority
    channel: Channel
    source: WorkOrderSource
    status: WorkOrderStatus
    is_major: bool
    major_source: str | None
    department_id: int | None
    created_at: datetime
    escalation_level: int
    dues: dict[ClockKind, datetime | None]
    history: list[TimelineEvent] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    complaints: int = 1


def _instant(value: object) -> datetime | None:
    """A stored instant as an aware UTC datetime (SQLite keeps UTC text, PostgreSQL
    timestamptz)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _required_instant(value: object) -> datetime:
    instant = _instant(value)
    if instant is None:
        raise ValueError("missing instant")
    return instant


_ORDER_QUERY = """
SELECT id, customer_id, category, priority, channel, source, status, is_major, major_source,
       department_id, created_at, escalation_level,
       dispatch_due, reply_due, resolution_due, callback_due
FROM work_order
WHERE id IN :ids {due_by}
ORDER BY id
{lock}
"""
_EVENT_QUERY = text(
    """
SELECT work_order_id, at, kind, ladder_key
FROM work_order_event
WHERE work_order_id IN :ids AND (ladder_key IS NOT NULL OR kind IN :kinds)
ORDER BY work_order_id, at, id
"""
).bindparams(bindparam("ids", expanding=True), bindparam("kinds", expanding=True))
_COMPLAINT_QUERY = text(
    """
SELECT customer_id, created_at FROM work_order
WHERE category = :complaint AND customer_id IN :customers
"""
).bindparams(bindparam("customers", expanding=True))


def _load(
    connection: Connection, ids: Sequence[int], *, due_by: datetime | None, policy: Policy
) -> list[_Order]:
    """The orders among ``ids`` (only those due by ``due_by`` when given), with their clock
    history, ladder keys and, for complaints that may be major, their customer's complaint
    count. On PostgreSQL the rows are locked for the batch; rows someone is saving right now
    are skipped (that save refreshes them)."""
    postgres = connection.dialect.name == "postgresql"
    query = text(
        _ORDER_QUERY.format(
            due_by="AND ladder_next_at <= :due_by" if due_by is not None else "",
            lock="FOR UPDATE SKIP LOCKED" if postgres else "",
        )
    ).bindparams(bindparam("ids", expanding=True))
    params: dict[str, Any] = {"ids": list(ids)}
    if due_by is not None:
        query = query.bindparams(bindparam("due_by", type_=_INSTANT))
        params["due_by"] = due_by
    orders: dict[int, _Order] = {}
    for row in connection.execute(query, params):
        orders[row[0]] = _Order(
            id=row[0],
            customer_id=row[1],
            category=_REQUEST_TYPES[row[2]],
            priority=_PRIORITIES[row[3]],
            channel=_CHANNELS[row[4]],
            source=_SOURCES[row[5]],
            status=_STATUSES[row[6]],
            is_major=bool(row[7]),
            major_source=row[8],
            department_id=row[9],
            created_at=_required_instant(row[10]),
            escalation_level=row[11],
            dues={
                ClockKind.DISPATCH: _instant(row[12]),
                ClockKind.REPLY: _instant(row[13]),
                ClockKind.RESOLUTION: _instant(row[14]),
                ClockKind.CALLBACK: _instant(row[15]),
            },
        )
    if not orders:
        return []
    kinds = [kind.value for kind in CLOCK_EVENT_KINDS]
    for work_order_id, at, kind, key in connection.execute(
        _EVENT_QUERY, {"ids": list(orders), "kinds": kinds}
    ):
        order = orders[work_order_id]
        if key is not None:
            order.keys.add(key)
        member = _EVENT_KINDS.get(kind)
        if member in CLOCK_EVENT_KINDS:
            order.history.append(TimelineEvent(_required_instant(at), member))
    _count_complaints(connection, orders.values(), policy)
    return list(orders.values())


def _count_complaints(connection: Connection, orders: Iterable[_Order], policy: Policy) -> None:
    """``customer_complaints_in_window`` for the complaints whose major flag is still open."""
    undecided = [
        order
        for order in orders
        if order.category is RequestType.COMPLAINT
        and not order.is_major
        and MAJOR_KEY not in order.keys
        and order.source not in policy.major.sources
        and order.customer_id is not None
    ]
    if not undecided:
        return
    customers = sorted({order.customer_id for order in undecided if order.customer_id is not None})
    times: dict[int, list[datetime]] = {}
    for customer_id, created_at in connection.execute(
        _COMPLAINT_QUERY,
        {"complaint": RequestType.COMPLAINT.value, "customers": customers},
    ):
        times.setdefault(customer_id, []).append(_required_instant(created_at))
    for order in undecided:
        assert order.customer_id is not None
        order.complaints = complaints_in_window(
            times.get(order.customer_id, ()), order.created_at, policy
        )


def _department_kinds(connection: Connection) -> dict[int, DepartmentKind | None]:
    rows = connection.execute(text("SELECT id, kind FROM department"))
    return {row[0]: _DEPARTMENT_KINDS.get(row[1]) for row in rows}


# --- the ladder over a batch -----------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    due: list[LadderEvent]
    next_at: datetime | None
    dues: dict[ClockKind, datetime | None] | None  # None: leave the stored ones


def _evaluate(
    order: _Order,
    departments: Mapping[int, DepartmentKind | None],
    now: datetime,
    policy: Policy,
    calendars: Mapping[str, BusinessCalendar],
) -> _Outcome:
    if not any(event.at <= now for event in order.history):
        # Not created yet at ``now`` (a sweep for an earlier instant): look at its creation.
        first = min((event.at for event in order.history), default=None)
        return _Outcome(due=[], next_at=first, dues=None)
    snapshot = snapshot_from_history(
        work_order_id=order.id,
        category=order.category,
        priority=order.priority,
        channel=order.channel,
        status=order.status,
        source=order.source,
        is_major=order.is_major,
        department_id=order.department_id,
        department_kind=departments.get(order.department_id)
        if order.department_id is not None
        else None,
        events=order.history,
        now=now,
        policy=policy,
        calendars=calendars,
        customer_complaints_in_window=order.complaints,
    )
    due = due_ladder_events(snapshot, order.keys, now, policy, calendars)
    later = next_ladder_instant(snapshot, order.keys, now, policy, calendars, due_now=due)
    dues = {clock.kind: clock.due_at for clock in snapshot.clocks}
    return _Outcome(due=due, next_at=later, dues=dues)


def _event_row(event: LadderEvent, now: datetime) -> dict[str, Any]:
    data: dict[str, Any] = {
        "due_at": event.due_at.astimezone(UTC).isoformat(),
        "cycle": event.cycle,
        "notify": event.notify.value,
    }
    if event.deadline is not None:
        data["deadline"] = event.deadline.astimezone(UTC).isoformat()
        data["late"] = event.late
    if event.escalate_to is not None:
        data["escalate_to"] = event.escalate_to.value
    if event.major_source is not None:
        data["major_source"] = event.major_source.value
    return {
        "work_order_id": event.work_order_id,
        "at": now,
        "actor_id": None,
        "kind": event.kind.value,
        "from_status": None,
        "to_status": None,
        "department_id": event.department_id,
        "clock": event.clock.value if event.clock is not None else None,
        "ladder_key": event.ladder_key,
        "reason": None,
        "data": data,
    }


def _insert_ignoring_duplicates(
    connection: Connection, rows: list[dict[str, Any]]
) -> list[tuple[int, str, str]]:
    """Insert ladder events, skipping any whose (work order, ladder key) is stored already;
    returns what was actually inserted."""
    if not rows:
        return []
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement: Any = pg_insert(_EVENT)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(_EVENT)
    statement = statement.on_conflict_do_nothing(
        index_elements=[_EVENT.c.work_order_id, _EVENT.c.ladder_key]
    ).returning(_EVENT.c.work_order_id, _EVENT.c.kind, _EVENT.c.ladder_key)
    result = connection.execute(statement, rows)
    return [(row[0], row[1], row[2]) for row in result]


_UPDATE = (
    update(_WORK_ORDER)
    .where(_WORK_ORDER.c.id == bindparam("b_id"))
    .values(
        dispatch_due=bindparam("b_dispatch_due"),
        reply_due=bindparam("b_reply_due"),
        resolution_due=bindparam("b_resolution_due"),
        callback_due=bindparam("b_callback_due"),
        ladder_next_at=bindparam("b_next"),
        escalation_level=bindparam("b_level"),
        is_major=bindparam("b_major"),
        major_source=bindparam("b_major_source"),
    )
)

_UPDATE_NEXT = (
    update(_WORK_ORDER)
    .where(_WORK_ORDER.c.id == bindparam("b_id"))
    .values(ladder_next_at=bindparam("b_next"))
)


@dataclass
class _BatchResult:
    candidates: int = 0
    inserted: dict[str, int] = field(default_factory=dict)
    orders_updated: int = 0


def _apply(
    connection: Connection,
    orders: Sequence[_Order],
    outcomes: Mapping[int, _Outcome],
    now: datetime,
    *,
    insert_events: bool,
) -> _BatchResult:
    """Store the due events (when asked) and each order's new state, set-based."""
    result = _BatchResult(candidates=len(orders))
    inserted: list[tuple[int, str, str]] = []
    if insert_events:
        rows = [_event_row(event, now) for outcome in outcomes.values() for event in outcome.due]
        inserted = _insert_ignoring_duplicates(connection, rows)
    by_order: dict[int, list[LadderEvent]] = {}
    stored = {(work_order_id, key) for work_order_id, _kind, key in inserted}
    for outcome in outcomes.values():
        for event in outcome.due:
            if (event.work_order_id, event.ladder_key) in stored:
                by_order.setdefault(event.work_order_id, []).append(event)
    for _work_order_id, kind, _key in inserted:
        result.inserted[kind] = result.inserted.get(kind, 0) + 1
    params: list[dict[str, Any]] = []
    moved: list[dict[str, Any]] = []  # only ladder_next_at changes
    for order in orders:
        outcome = outcomes[order.id]
        dues = outcome.dues if outcome.dues is not None else order.dues
        level, major, source = order.escalation_level, order.is_major, order.major_source
        for event in by_order.get(order.id, ()):
            level = max(level, _LEVEL_OF.get(event.kind, 0))
            if event.kind is EventKind.MAJOR_FLAGGED and event.major_source is not None:
                major, source = True, event.major_source.value
        flags = (level, major, source) != (
            order.escalation_level,
            order.is_major,
            order.major_source,
        )
        # A refresh stores no events: what is due now waits for the next sweep.
        due_now = not insert_events and bool(outcome.due)
        next_at = now if due_now else outcome.next_at
        if flags or dues != order.dues:
            result.orders_updated += 1
            params.append(
                {
                    "b_id": order.id,
                    "b_dispatch_due": dues.get(ClockKind.DISPATCH),
                    "b_reply_due": dues.get(ClockKind.REPLY),
                    "b_resolution_due": dues.get(ClockKind.RESOLUTION),
                    "b_callback_due": dues.get(ClockKind.CALLBACK),
                    "b_next": next_at,
                    "b_level": level,
                    "b_major": major,
                    "b_major_source": source,
                }
            )
        else:
            moved.append({"b_id": order.id, "b_next": next_at})
    if params:
        connection.execute(_UPDATE, params)
    if moved:
        connection.execute(_UPDATE_NEXT, moved)
    return result


def _process(
    connection: Connection,
    ids: Sequence[int],
    *,
    now: datetime,
    due_by: datetime | None,
    policy: Policy,
    calendars: Mapping[str, BusinessCalendar],
    insert_events: bool,
) -> _BatchResult:
    orders = _load(connection, ids, due_by=due_by, policy=policy)
    if not orders:
        return _BatchResult()
    departments = _department_kinds(connection)
    outcomes = {order.id: _evaluate(order, departments, now, policy, calendars) for order in orders}
    return _apply(connection, orders, outcomes, now, insert_events=insert_events)


# --- the public calls ------------------------------------------------------------------------


def refresh_ladder(session: Session, work_order_ids: Collection[int], *, policy: Policy) -> int:
    """Recompute the due instants and ``ladder_next_at`` of work orders whose history just
    changed, inside the caller's transaction, at the transaction's instant.

    Every service that records a clock-moving event (created, dispatched, replied, accepted,
    rejected, closed, reopened, paused, resumed) or changes a work order's category, priority,
    channel, department or status calls this before it commits. Steps due at once (a reply
    that came after its deadline is a breach) are left to the sweep: ``ladder_next_at`` is set
    to now, so the next sweep stores them. Returns the number of work orders refreshed.
    """
    ids = sorted(set(work_order_ids))
    if not ids:
        return 0
    now = now_of(session)
    connection = session.connection()
    calendars = calendars_from_policy(policy)
    refreshed = 0
    for start in range(0, len(ids), DEFAULT_BATCH_SIZE):
        chunk = ids[start : start + DEFAULT_BATCH_SIZE]
        result = _process(
            connection,
            chunk,
            now=now,
            due_by=None,
            policy=policy,
            calendars=calendars,
            insert_events=False,
        )
        refreshed += result.candidates
    return refreshed


def prime_ladder(connection: Connection) -> int:
    """Mark every open work order for the next sweep, set-based; returns how many.

    ``ladder_next_at`` becomes the order's creation instant (unless it is earlier already):
    a safe lower bound, since no ladder step falls due before its work order exists. The
    next sweep examines each open order once (the catch-up: a replay of each one's history)
    and leaves the exact instant. Bulk loads (the demo builder, imports) call this after
    loading; the sweep calls it itself for a database it never swept or whose policy changed.
    Closed orders are left alone: their clocks no longer move.
    """
    result = connection.execute(
        text(
            "UPDATE work_order SET ladder_next_at = created_at "
            "WHERE status <> :closed AND (ladder_next_at IS NULL OR ladder_next_at > created_at)"
        ),
        {"closed": WorkOrderStatus.CLOSED.value},
    )
    return int(result.rowcount)


def policy_fingerprint(policy: Policy) -> str:
    """What the stored ``ladder_next_at`` instants were computed under: the policy and the
    holiday tables it reads."""
    source = policy.model_dump_json() + "|holidays " + version("holidays")
    return hashlib.sha256(source.encode()).hexdigest()[:32]


def run_sweep(
    db: Database,
    *,
    actor: Actor,
    policy: Policy,
    now: datetime | None = None,
    holder: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    lease_ttl: timedelta = LEASE_TTL,
) -> SweepReport:
    """Apply every ladder step due by ``now`` (default: the database clock's now), once.

    Needs ``RUN_SWEEP``. Takes the ``sweep`` lease for ``holder`` (default: a name unique to
    this process) or, when another holder has it, does nothing and says so. Running it twice
    at the same ``now`` stores nothing the second time.
    """
    require(actor, Permission.RUN_SWEEP)
    report = _sweep(
        db,
        actor=actor,
        policy=policy,
        now=now,
        holder=holder or leases.make_holder("sweep"),
        batch_size=batch_size,
        lease_ttl=lease_ttl,
        not_within=None,
    )
    assert report is not None
    return report


def sweep_if_due(
    db: Database,
    *,
    holder: str,
    every: timedelta,
    policy: Policy,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> SweepReport | None:
    """The console's timer: sweep as the system when the last sweep (by anyone) finished
    ``every`` ago or longer and nobody is sweeping. None when it was not due; a report with
    ``skipped_because_leased`` when another terminal or cron is sweeping right now."""
    last = last_sweep(db)
    if last is not None and db.clock.now() - last < every:
        return None
    return _sweep(
        db,
        actor=system_actor(),
        policy=policy,
        now=None,
        holder=holder,
        batch_size=batch_size,
        lease_ttl=LEASE_TTL,
        not_within=every,
    )


def last_sweep(db: Database) -> datetime | None:
    """When the last sweep finished (by the database clock), or None."""

    def read(session: Session) -> datetime | None:
        row = session.get(Meta, LAST_RUN_KEY)
        return datetime.fromisoformat(row.value) if row is not None else None

    return db.run(read, write=False)


def _sweep(
    db: Database,
    *,
    actor: Actor,
    policy: Policy,
    now: datetime | None,
    holder: str,
    batch_size: int,
    lease_ttl: timedelta,
    not_within: timedelta | None,
) -> SweepReport | None:
    started = time.perf_counter()
    if batch_size < 1:
        raise InvalidInput("must be at least 1", field="batch_size")
    at = as_utc(now) if now is not None else db.clock.now()
    if not leases.acquire(db, name=SWEEP_LEASE, holder=holder, ttl=lease_ttl):
        lease = leases.lease_of(db, name=SWEEP_LEASE)
        return SweepReport(
            now=at,
            skipped_because_leased=True,
            held_by=lease.holder if lease is not None else None,
            seconds=time.perf_counter() - started,
        )
    try:
        if not_within is not None:
            last = last_sweep(db)
            if last is not None and db.clock.now() - last < not_within:
                return None  # another terminal swept while this one waited
        primed = db.run(lambda session: _prime_for(session, policy), write=True)
        ids = _candidates(db, at)
        calendars = calendars_from_policy(policy)
        inserted = {kind.value: 0 for kind in LADDER_KINDS}
        candidates = updated = batches = 0
        for start in range(0, len(ids), batch_size):
            chunk = ids[start : start + batch_size]
            result = db.run(
                _batch_work(db, chunk, at, policy, calendars, holder, lease_ttl), write=True
            )
            batches += 1
            candidates += result.candidates
            updated += result.orders_updated
            for kind, count in result.inserted.items():
                inserted[kind] = inserted.get(kind, 0) + count
        report = SweepReport(
            now=at,
            candidates=candidates,
            inserted=inserted,
            orders_updated=updated,
            escalations_proposed=inserted[EventKind.ESCALATION_PROPOSED.value],
            majors_flagged=inserted[EventKind.MAJOR_FLAGGED.value],
            batches=batches,
            primed=primed,
        )
        db.run(lambda session: _finish(session, actor, report), write=True)
        return replace(report, seconds=time.perf_counter() - started)
    finally:
        leases.release(db, name=SWEEP_LEASE, holder=holder)


def _batch_work(
    db: Database,
    ids: Sequence[int],
    now: datetime,
    policy: Policy,
    calendars: Mapping[str, BusinessCalendar],
    holder: str,
    lease_ttl: timedelta,
) -> Callable[[Session], _BatchResult]:
    def work(session: Session) -> _BatchResult:
        connection = session.connection()
        if not leases.renew(
            connection, name=SWEEP_LEASE, holder=holder, now=db.clock.now(), ttl=lease_ttl
        ):
            raise LeaseLost(
                "another sweep took over the lease: this one stopped (its earlier batches are kept)"
            )
        return _process(
            connection,
            ids,
            now=now,
            due_by=now,
            policy=policy,
            calendars=calendars,
            insert_events=True,
        )

    return work


def _candidates(db: Database, now: datetime) -> list[int]:
    """Ids of the work orders due by ``now``, through the ``ladder_next_at`` index."""
    with db.connection(write=False) as connection:
        query = text(
            "SELECT id FROM work_order WHERE ladder_next_at <= :now ORDER BY id"
        ).bindparams(bindparam("now", type_=_INSTANT))
        rows = connection.execute(query, {"now": now})
        return [row[0] for row in rows]


def _prime_for(session: Session, policy: Policy) -> int:
    """Prime every open order when the stored instants were computed under another policy
    (or never)."""
    fingerprint = policy_fingerprint(policy)
    row = session.get(Meta, POLICY_KEY)
    if row is not None and row.value == fingerprint:
        return 0
    primed = prime_ladder(session.connection())
    if row is None:
        session.add(Meta(key=POLICY_KEY, value=fingerprint))
    else:
        row.value = fingerprint
    return primed


def _finish(session: Session, actor: Actor, report: SweepReport) -> None:
    finished = now_of(session)
    row = session.get(Meta, LAST_RUN_KEY)
    if row is None:
        session.add(Meta(key=LAST_RUN_KEY, value=finished.isoformat()))
    else:
        row.value = finished.isoformat()
    if report.changes:
        audit.record(
            session,
            action="sweep.run",
            actor=actor,
            target_type="work_order",
            detail={
                "now": report.now.isoformat(),
                "candidates": report.candidates,
                "inserted": {kind: n for kind, n in report.inserted.items() if n},
                "orders_updated": report.orders_updated,
            },
        )
