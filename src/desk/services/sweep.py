"""The escalation sweep: the ladder's steps stored as work-order events when they fall due.

What is due is defined once, by :func:`desk.rules.ladder.due_ladder_events`; this module
decides *when to ask* and stores the answers, set-based.

**The plan.** Replaying a work order's history through the ladder costs a few hundred
microseconds, too much to repeat for every open order on every run (and bursts are real: every
office-calendar clock started overnight warns at the same minute of the next afternoon). So a
history is replayed only when it changes: :func:`refresh_ladder` (called by whatever records a
clock-moving event) measures the order, and writes its *plan* to ``ladder_step``: the steps due
now and every step that falls due later while the history stays as it is
(:func:`desk.rules.ladder.planned_ladder_steps`, tested equal to ``due_ladder_events`` at every
later instant), each with the instant it falls due. A sweep at ``now`` then stores, in a few
statements over the ``due_at`` index, every planned step due by ``now`` (a warning only until
its clock's deadline; a reminder marked late after its deadline) as a ``work_order_event``,
with a conflict-ignoring insert (the unique ``(work_order_id, ladder_key)`` index makes a
second copy impossible, whoever races), raises escalation levels and major flags, and removes
the steps it consumed. One transaction per batch of work orders; the batches are paced
(:mod:`desk.infra.pacing`), so a terminal's save waits for one batch at most, however long
the sweep.

**Orders without a plan.** ``work_order.ladder_next_at`` marks the orders whose history must
be replayed at the next sweep at or after that instant: bulk loads end with
:func:`prime_ladder`, which marks every open order at its creation; a policy other than the one
the plans were made under (its fingerprint is kept in ``desk_meta``) primes them all again.
The sweep replays those first (the catch-up), in batches, then stores what is due. NULL means
the plan is current.

**One sweep at a time.** A sweep holds the ``sweep`` lease (:mod:`desk.infra.leases`),
renewed in every batch's transaction; a second sweep meanwhile reports that it skipped. The
console runs :func:`sweep_if_due` on a timer as :func:`desk.rules.permissions.system_actor`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    ColumnElement,
    Delete,
    FromClause,
    Select,
    Table,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.sql.dml import ReturningInsert
from sqlmodel import Session

from desk.clock import as_utc
from desk.infra import leases, pacing
from desk.infra.database import Database, now_of
from desk.infra.errors import DeskError, InvalidInput
from desk.infra.retry import retry_transient
from desk.infra.sql import id_in, id_list
from desk.models import Meta, metadata
from desk.rules.calendar import BusinessCalendar, calendars_from_policy
from desk.rules.clocks import TimelineEvent
from desk.rules.ladder import (
    MAJOR_KEY,
    LadderEvent,
    PlannedStep,
    complaints_in_window,
    due_ladder_events,
    planned,
    planned_ladder_steps,
    snapshot_from_history,
)
from desk.rules.permissions import Actor, Permission, system_actor
from desk.rules.policy import Policy
from desk.rules.vocab import (
    Channel,
    ClockKind,
    DepartmentKind,
    EventKind,
    MajorSource,
    Priority,
    RequestType,
    WorkOrderSource,
    WorkOrderStatus,
)
from desk.rules.work_orders import nearest_deadline
from desk.services import audit, changes
from desk.services.access import require

_T = TypeVar("_T")
_S = TypeVar("_S")

SWEEP_LEASE = "sweep"
LAST_RUN_KEY = "sweep_last_run"
POLICY_KEY = "sweep_policy"
DEFAULT_BATCH_SIZE = 2_000
STORE_BATCH_FACTOR = 10  # storing planned steps is cheap: ten times as many orders per batch
FIRST_BATCH = 200  # the first batch's size; later ones are sized to hold the lock briefly
SQLITE_SWEEP_CACHE_KIB = 262_144  # page cache of the sweep's own SQLite connection
SQLITE_DEFAULT_CACHE = -2_000  # SQLite's defaults, restored after the sweep
SQLITE_WAL_AUTOCHECKPOINT = 1_000
LEASE_TTL = timedelta(minutes=5)

LADDER_KINDS: tuple[EventKind, ...] = (
    EventKind.WARNING,
    EventKind.BREACH,
    EventKind.REMINDER,
    EventKind.ESCALATION_PROPOSED,
    EventKind.MAJOR_FLAGGED,
)
# The clocks whose deadline has a column of its own (headquarters' reply is read from the
# history, and reaches the row as the nearest deadline when it is the nearest).
_STORED_DUES = frozenset(
    {ClockKind.DISPATCH, ClockKind.REPLY, ClockKind.RESOLUTION, ClockKind.CALLBACK}
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
        EventKind.ESCALATION_CONFIRMED,  # starts headquarters' reply clock
    }
)
_LEVEL_OF: Mapping[str, int] = {
    EventKind.REMINDER.value: 1,
    EventKind.ESCALATION_PROPOSED.value: 2,
}

_MAJOR = EventKind.MAJOR_FLAGGED.value
_WORK_ORDER: Table = metadata.tables["work_order"]
_EVENT: Table = metadata.tables["work_order_event"]
_STEP: Table = metadata.tables["ladder_step"]
_DEPARTMENT: Table = metadata.tables["department"]
_META: Table = metadata.tables["desk_meta"]
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
    """What one sweep did.

    ``inserted`` counts the events stored, by kind (every ladder kind is present);
    ``candidates`` the work orders examined: ``replayed`` (history replayed: first sweep, bulk
    loads, a changed policy) and those with planned steps due (``steps_due`` steps);
    ``orders_updated`` those whose due instants, escalation level or major flag changed;
    ``primed`` the open orders marked for a replay first. A sweep that found the lease taken
    did nothing: ``skipped_because_leased`` and ``held_by`` say so.
    """

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
    replayed: int = 0
    steps_due: int = 0
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
            "replayed": self.replayed,
            "steps_due": self.steps_due,
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
    nearest: tuple[datetime | None, str | None] = (None, None)
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


_CLOCK_KINDS = sorted(kind.value for kind in CLOCK_EVENT_KINDS)


def _orders_query(dialect: str, *, due: bool) -> Select[Any]:
    """The orders among ``:ids`` (only those marked by ``:due_by`` when ``due``), locked on
    PostgreSQL: a sweep skips rows someone is saving, a refresh waits for them."""
    w = _WORK_ORDER.c
    query = (
        select(
            w.id, w.customer_id, w.category, w.priority, w.channel, w.source, w.status,
            w.is_major, w.major_source, w.department_id, w.created_at, w.escalation_level,
            w.dispatch_due, w.reply_due, w.resolution_due, w.callback_due, w.next_due,
            w.next_clock,
        )
        .where(id_in(w.id, "ids", dialect))
        .order_by(w.id)
    )  # fmt: skip
    if due:
        query = query.where(w.ladder_next_at <= bindparam("due_by", type_=_INSTANT))
    return query.with_for_update(skip_locked=due)


def _events_query(dialect: str) -> Select[Any]:
    e = _EVENT.c
    return (
        select(e.work_order_id, e.at, e.kind, e.ladder_key)
        .where(
            id_in(e.work_order_id, "ids", dialect),
            or_(e.ladder_key.is_not(None), e.kind.in_(_CLOCK_KINDS)),
        )
        .order_by(e.work_order_id, e.at, e.id)
    )


def _complaints_query(dialect: str) -> Select[Any]:
    w = _WORK_ORDER.c
    return select(w.customer_id, w.created_at).where(
        w.category == RequestType.COMPLAINT.value, id_in(w.customer_id, "customers", dialect)
    )


def _load(
    connection: Connection, ids: Sequence[int], *, due_by: datetime | None, policy: Policy
) -> list[_Order]:
    """The orders among ``ids`` (only those due by ``due_by`` when given), with their clock
    history, ladder keys and, for complaints that may be major, their customer's complaint
    count. On PostgreSQL the rows are locked for the transaction: a sweep (``due_by`` given)
    skips rows someone is saving right now (that save refreshes them and the mark stays for
    the next sweep); a refresh waits for them."""
    dialect = connection.dialect.name
    query = _statement(_orders_query, dialect, due=due_by is not None)
    params: dict[str, Any] = {"ids": id_list(ids, dialect)}
    if due_by is not None:
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
            nearest=(_instant(row[16]), row[17]),
        )
    if not orders:
        return []
    for work_order_id, at, kind, key in connection.execute(
        _statement(_events_query, dialect), {"ids": id_list(orders, dialect)}
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
    dialect = connection.dialect.name
    for customer_id, created_at in connection.execute(
        _statement(_complaints_query, dialect), {"customers": id_list(customers, dialect)}
    ):
        times.setdefault(customer_id, []).append(_required_instant(created_at))
    for order in undecided:
        assert order.customer_id is not None
        order.complaints = complaints_in_window(
            times.get(order.customer_id, ()), order.created_at, policy
        )


def _department_kinds(connection: Connection) -> dict[int, DepartmentKind | None]:
    rows = connection.execute(select(_DEPARTMENT.c.id, _DEPARTMENT.c.kind))
    return {row[0]: _DEPARTMENT_KINDS.get(row[1]) for row in rows}


# --- replaying histories into plans ----------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    plan: list[PlannedStep]  # due now first, then later
    next_at: datetime | None  # when to replay again (None: the plan is current)
    dues: dict[ClockKind, datetime | None] | None  # None: leave the stored ones
    nearest: tuple[datetime | None, str | None] = (None, None)  # next_due, next_clock


def _evaluate(
    order: _Order,
    departments: Mapping[int, DepartmentKind | None],
    now: datetime,
    policy: Policy,
    calendars: Mapping[str, BusinessCalendar],
) -> _Outcome:
    if not any(event.at <= now for event in order.history):
        # Not created yet at ``now`` (a sweep for an earlier instant): replay at its creation.
        first = min((event.at for event in order.history), default=None)
        return _Outcome(plan=[], next_at=first, dues=None)
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
    later = planned_ladder_steps(snapshot, order.keys, now, policy, calendars, due_now=due)
    dues = {clock.kind: clock.due_at for clock in snapshot.clocks if clock.kind in _STORED_DUES}
    nearest = nearest_deadline(snapshot.clocks)
    return _Outcome(
        plan=[planned(event) for event in due] + later,
        next_at=None,
        dues=dues,
        nearest=(nearest.at, nearest.clock.value if nearest.clock is not None else None),
    )


def ladder_event_data(event: LadderEvent) -> dict[str, Any]:
    """What a ladder event carries besides its columns (``late`` as of when it fell due)."""
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
    return data


def _step_row(step: PlannedStep) -> dict[str, Any]:
    event = step.event
    return {
        "work_order_id": event.work_order_id,
        "ladder_key": event.ladder_key,
        "kind": event.kind.value,
        "clock": event.clock.value if event.clock is not None else None,
        "department_id": event.department_id,
        "due_at": event.due_at,
        "until": step.until,
        "late_after": step.late_after,
        "major_source": event.major_source.value if event.major_source is not None else None,
        "data": ladder_event_data(event),
    }


_DUES: dict[str, Any] = {
    "dispatch_due": bindparam("b_dispatch_due"),
    "reply_due": bindparam("b_reply_due"),
    "resolution_due": bindparam("b_resolution_due"),
    "callback_due": bindparam("b_callback_due"),
    "next_due": bindparam("b_next_due"),
    "next_clock": bindparam("b_next_clock"),
    "ladder_next_at": bindparam("b_next"),
}
_UPDATE = update(_WORK_ORDER).where(_WORK_ORDER.c.id == bindparam("b_id")).values(**_DUES)
# The sweep's own changes raise the version, so that a person saving over them is told.
_SWEPT = {
    "version": _WORK_ORDER.c.version + 1,
    "updated_at": bindparam("b_now", type_=_INSTANT),
    "updated_by": None,
}
_UPDATE_SWEPT = (
    update(_WORK_ORDER).where(_WORK_ORDER.c.id == bindparam("b_id")).values(**_DUES, **_SWEPT)
)
_UPDATE_NEXT = (
    update(_WORK_ORDER)
    .where(_WORK_ORDER.c.id == bindparam("b_id"))
    .values(ladder_next_at=bindparam("b_next"))
)


def _delete_plans(dialect: str) -> Delete:
    return delete(_STEP).where(id_in(_STEP.c.work_order_id, "ids", dialect))


@dataclass
class _Replayed:
    orders: int = 0
    updated: set[int] = field(default_factory=set)


def _replan(
    connection: Connection,
    ids: Sequence[int],
    *,
    now: datetime,
    due_by: datetime | None,
    policy: Policy,
    calendars: Mapping[str, BusinessCalendar],
) -> _Replayed:
    """Replay the histories of ``ids`` (those marked by ``due_by`` only, when given) at
    ``now`` and replace their plans; store their due instants and nearest deadline. A sweep
    (``due_by`` given) raises the version of the rows whose instants it changed; a refresh
    inside a person's transaction leaves that to the person's own save."""
    orders = _load(connection, ids, due_by=due_by, policy=policy)
    result = _Replayed(orders=len(orders))
    if not orders:
        return result
    departments = _department_kinds(connection)
    outcomes = {order.id: _evaluate(order, departments, now, policy, calendars) for order in orders}
    dialect = connection.dialect.name
    connection.execute(
        _statement(_delete_plans, dialect), {"ids": id_list((o.id for o in orders), dialect)}
    )
    rows = [_step_row(step) for outcome in outcomes.values() for step in outcome.plan]
    if rows:
        connection.execute(insert(_STEP), rows)
    full: list[dict[str, Any]] = []
    narrow: list[dict[str, Any]] = []
    for order in orders:
        outcome = outcomes[order.id]
        if outcome.dues is not None and (
            outcome.dues != order.dues or outcome.nearest != order.nearest
        ):
            result.updated.add(order.id)
            full.append(
                {
                    "b_id": order.id,
                    "b_dispatch_due": outcome.dues.get(ClockKind.DISPATCH),
                    "b_reply_due": outcome.dues.get(ClockKind.REPLY),
                    "b_resolution_due": outcome.dues.get(ClockKind.RESOLUTION),
                    "b_callback_due": outcome.dues.get(ClockKind.CALLBACK),
                    "b_next_due": outcome.nearest[0],
                    "b_next_clock": outcome.nearest[1],
                    "b_next": outcome.next_at,
                    "b_now": now,
                }
            )
        else:
            narrow.append({"b_id": order.id, "b_next": outcome.next_at})
    if full:
        connection.execute(_UPDATE if due_by is None else _UPDATE_SWEPT, full)
    if narrow:
        connection.execute(_UPDATE_NEXT, narrow)
    if full and due_by is not None:
        changes.bump(connection, changes.Topic.WORK_ORDERS)
    return result


# --- storing what is due ---------------------------------------------------------------------

_NOW = bindparam("now", type_=_INSTANT)


def _due(dialect: str) -> ColumnElement[bool]:
    """The planned steps due by ``:now`` of the orders ``:ids``."""
    return and_(_STEP.c.due_at <= _NOW, id_in(_STEP.c.work_order_id, "ids", dialect))


def _stored_event(step: FromClause, dialect: str) -> Select[Any]:
    """The events to store for the due steps in ``step``: a warning only until its clock's
    deadline (``until``), a reminder marked late once past ``late_after``."""
    s = step.c
    late = and_(s.late_after.is_not(None), s.late_after < _NOW)
    marked: ColumnElement[Any]
    if dialect == "postgresql":
        marked = cast(cast(s.data, JSONB).op("||")(func.jsonb_build_object("late", true())), JSON)
    else:
        marked = func.json_set(s.data, "$.late", func.json("true"))
    data = case((late, marked), else_=s.data)
    return select(
        s.work_order_id, _NOW, s.kind, s.department_id, s.clock, s.ladder_key, data
    ).where(or_(s.until.is_(None), s.until > _NOW))


_STORED_COLUMNS = ("work_order_id", "at", "kind", "department_id", "clock", "ladder_key", "data")


def _store_sqlite(dialect: str) -> ReturningInsert[Any]:
    """Insert the due steps as events (a conflict on (order, ladder key) means stored
    already), returning what was stored."""
    chosen = _stored_event(_STEP, dialect).where(_due(dialect))
    return (
        sqlite_insert(_EVENT)
        .from_select(_STORED_COLUMNS, chosen)
        .on_conflict_do_nothing(index_elements=["work_order_id", "ladder_key"])
        .returning(_EVENT.c.work_order_id, _EVENT.c.kind)
    )


def _sqlite_majors(dialect: str) -> Select[Any]:
    return select(_STEP.c.work_order_id, _STEP.c.major_source).where(
        _STEP.c.kind == _MAJOR, id_in(_STEP.c.work_order_id, "ids", dialect)
    )


def _consume(dialect: str) -> Delete:
    return delete(_STEP).where(_due(dialect))


def _store_postgresql(dialect: str) -> Select[Any]:
    """One statement: delete the due steps, insert them as events (a conflict means stored
    already), and return what was stored with its major source."""
    due = delete(_STEP).where(_due(dialect)).returning(*_STEP.c).cte("due")
    stored = (
        pg_insert(_EVENT)
        .from_select(_STORED_COLUMNS, _stored_event(due, dialect))
        .on_conflict_do_nothing(index_elements=["work_order_id", "ladder_key"])
        .returning(_EVENT.c.work_order_id, _EVENT.c.kind, _EVENT.c.ladder_key)
        .cte("stored")
    )
    return select(stored.c.work_order_id, stored.c.kind, due.c.major_source).select_from(
        stored.join(
            due,
            and_(
                due.c.work_order_id == stored.c.work_order_id,
                due.c.ladder_key == stored.c.ladder_key,
            ),
        )
    )


def _count_due(dialect: str) -> Select[Any]:
    return select(func.count()).select_from(_STEP).where(_due(dialect))


def _due_orders(dialect: str) -> Select[Any]:
    # No ORDER BY or DISTINCT: either makes SQLite walk the primary key instead of the range.
    del dialect
    return select(_STEP.c.work_order_id).where(_STEP.c.due_at <= _NOW)


def _marked(dialect: str) -> Select[Any]:
    del dialect
    return select(_WORK_ORDER.c.id).where(_WORK_ORDER.c.ladder_next_at <= _NOW)


def _flags(dialect: str) -> Select[Any]:
    w = _WORK_ORDER.c
    return select(w.id, w.escalation_level, w.is_major).where(id_in(w.id, "ids", dialect))


_SET_LEVEL = (
    update(_WORK_ORDER)
    .where(_WORK_ORDER.c.id == bindparam("b_id"))
    .values(escalation_level=bindparam("b_level"), **_SWEPT)
)
_SET_MAJOR = (
    update(_WORK_ORDER)
    .where(_WORK_ORDER.c.id == bindparam("b_id"))
    .values(is_major=True, major_source=bindparam("b_source"), **_SWEPT)
)


_STATEMENTS: dict[tuple[Any, ...], Any] = {}


def _statement(build: Callable[..., _S], dialect: str, **flags: bool) -> _S:
    """The statement ``build`` makes for this database (and flags), built once."""
    key = (build, dialect, *sorted(flags.items()))
    found = _STATEMENTS.get(key)
    if found is None:
        found = _STATEMENTS[key] = build(dialect, **flags)
    return found


@dataclass
class _Stored:
    steps: int = 0
    orders: int = 0
    inserted: dict[str, int] = field(default_factory=dict)
    updated: set[int] = field(default_factory=set)


def _store_due(connection: Connection, *, now: datetime, ids: Sequence[int]) -> _Stored:
    """Store the planned steps due by ``now`` of the work orders ``ids`` as events, raise
    escalation levels and major flags for what was stored, and drop the consumed steps."""
    dialect = connection.dialect.name
    params = {"now": now, "ids": id_list(ids, dialect)}
    result = _Stored(orders=len(ids))
    stored: list[tuple[int, str, str | None]] = []
    if dialect == "postgresql":
        count = connection.execute(_statement(_count_due, dialect), params).scalar_one()
        result.steps = int(count)
        if result.steps:
            stored = [
                (row[0], row[1], row[2])
                for row in connection.execute(_statement(_store_postgresql, dialect), params)
            ]
    else:  # one writer at a time: the insert and the delete see the same steps
        found = connection.execute(_statement(_store_sqlite, dialect), params).all()
        rows = [(int(row[0]), str(row[1])) for row in found]
        flagged = [work_order_id for work_order_id, kind in rows if kind == _MAJOR]
        majors: dict[int, str] = {}
        if flagged:
            query = _statement(_sqlite_majors, dialect)
            found_majors = connection.execute(query, {"ids": id_list(flagged, dialect)}).all()
            majors = {int(row[0]): str(row[1]) for row in found_majors if row[1] is not None}
        stored = [(work_order_id, kind, majors.get(work_order_id)) for work_order_id, kind in rows]
        consumed = connection.execute(_statement(_consume, dialect), params)
        result.steps = int(consumed.rowcount)
    levels: dict[int, int] = {}
    sources: dict[int, str] = {}
    counts = result.inserted
    for work_order_id, kind, major in stored:
        counts[kind] = counts.get(kind, 0) + 1
        level = _LEVEL_OF.get(kind)
        if level is not None:
            levels[work_order_id] = max(levels.get(work_order_id, 0), level)
        elif kind == _MAJOR:
            sources[work_order_id] = major or MajorSource.REPEAT_COMPLAINER.value
    if stored:
        changes.bump(connection, changes.Topic.WORK_ORDERS)  # new events to show
    touched = sorted(set(levels) | set(sources))
    if not touched:
        return result
    current = {
        row[0]: (row[1], bool(row[2]))
        for row in connection.execute(
            _statement(_flags, dialect), {"ids": id_list(touched, dialect)}
        )
    }
    raise_levels = [
        {"b_id": work_order_id, "b_level": level, "b_now": now}
        for work_order_id, level in levels.items()
        if work_order_id in current and current[work_order_id][0] < level
    ]
    flag = [
        {"b_id": work_order_id, "b_source": source, "b_now": now}
        for work_order_id, source in sources.items()
        if work_order_id in current and not current[work_order_id][1]
    ]
    if raise_levels:
        connection.execute(_SET_LEVEL, raise_levels)
    if flag:
        connection.execute(_SET_MAJOR, flag)
    result.updated.update(
        work_order_id
        for work_order_id, level in levels.items()
        if work_order_id in current and current[work_order_id][0] < level
    )
    result.updated.update(
        work_order_id
        for work_order_id in sources
        if work_order_id in current and not current[work_order_id][1]
    )
    return result


# --- the public calls ------------------------------------------------------------------------


def refresh_ladder(session: Session, work_order_ids: Collection[int], *, policy: Policy) -> int:
    """Replay the histories of work orders that just changed and replace their plans, inside
    the caller's transaction, at the transaction's instant.

    Every service that records a clock-moving event (created, dispatched, replied, accepted,
    rejected, closed, reopened, paused, resumed) or changes a work order's category, priority,
    channel, department or status calls this before it commits. Steps due at once (a reply
    that came after its deadline is a breach) are planned at their instant, so the next sweep
    stores them. Returns the number of work orders refreshed.
    """
    ids = sorted(set(work_order_ids))
    now = now_of(session)
    connection = session.connection()
    calendars = calendars_from_policy(policy)
    refreshed = 0
    for start in range(0, len(ids), DEFAULT_BATCH_SIZE):
        chunk = ids[start : start + DEFAULT_BATCH_SIZE]
        done = _replan(connection, chunk, now=now, due_by=None, policy=policy, calendars=calendars)
        refreshed += done.orders
    return refreshed


def prime_ladder(connection: Connection) -> int:
    """Mark every open work order for a replay by the next sweep, set-based; returns how many.

    ``ladder_next_at`` becomes the order's creation instant (unless it is earlier already), so
    the next sweep at any later instant replays the order's history once (the catch-up) and
    plans its steps. Bulk loads (the demo builder, imports) call this after loading; the sweep
    calls it itself for a database it never swept or whose policy changed. Closed orders are
    left alone: their clocks no longer move.
    """
    w = _WORK_ORDER.c
    result = connection.execute(
        update(_WORK_ORDER)
        .where(
            w.status != WorkOrderStatus.CLOSED.value,
            or_(w.ladder_next_at.is_(None), w.ladder_next_at > w.created_at),
        )
        .values(ladder_next_at=w.created_at)
    )
    return int(result.rowcount)


def plan_ladder(
    connection: Connection,
    *,
    policy: Policy,
    now: datetime,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> int:
    """Do the catch-up inside a bulk load's own transaction: replay every work order marked
    by :func:`prime_ladder` (due by ``now``), write its plan, and record the policy the plans
    were made under, so that the first sweep only stores what is due. Returns the number of
    histories replayed. Costs what the first sweep would (a few hundred microseconds per
    open order); without it, the first sweep does the same work."""
    calendars = calendars_from_policy(policy)
    replayed = 0
    for chunk in _chunks(_ids(connection, _marked, now), batch_size):
        done = _replan(connection, chunk, now=now, due_by=now, policy=policy, calendars=calendars)
        replayed += done.orders
    _record_policy(connection, policy_fingerprint(policy))
    return replayed


def policy_fingerprint(policy: Policy) -> str:
    """What the stored plans were made under: the policy and the holiday tables it reads."""
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
    """Store every ladder step due by ``now`` (default: the database clock's now), once.

    Needs ``RUN_SWEEP``. Takes the ``sweep`` lease for ``holder`` (default: a name unique to
    this process) or, when another holder has it, does nothing and says so. Running it twice
    at the same ``now`` stores nothing the second time.
    """
    db.run(lambda session: require(session, actor, Permission.RUN_SWEEP), write=False)
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


@dataclass(frozen=True, slots=True)
class SweepPreview:
    """What a sweep at ``now`` would look at, counted without writing anything."""

    now: datetime
    orders_with_steps_due: int
    steps_due: int
    orders_to_replay: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "dry_run": True,
            "orders_with_steps_due": self.orders_with_steps_due,
            "steps_due": self.steps_due,
            "orders_to_replay": self.orders_to_replay,
        }


def preview_sweep(db: Database, *, actor: Actor, now: datetime | None = None) -> SweepPreview:
    """Count the planned steps due by ``now`` (default: the present) and the orders whose
    history a sweep would replay first (read-only: ``desk sweep --dry-run``, also ahead)."""
    db.run(lambda session: require(session, actor, Permission.RUN_SWEEP), write=False)
    at = as_utc(now) if now is not None else db.clock.now()
    with db.connection(write=False) as connection:
        due = _ids(connection, _due_orders, at)
        steps = connection.execute(
            select(func.count()).select_from(_STEP).where(_STEP.c.due_at <= _NOW), {"now": at}
        ).scalar_one()
        marked = _ids(connection, _marked, at)
    return SweepPreview(at, len(due), int(steps), len(marked))


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
        calendars = calendars_from_policy(policy)
        batches = replayed = steps = 0
        examined: set[int] = set()
        updated: set[int] = set()
        inserted = {kind.value: 0 for kind in LADDER_KINDS}
        with _own_connection(db) as connection:

            def batch(work: Callable[[Connection], _T]) -> _T:
                return _in_batch(connection, work, db=db, holder=holder, ttl=lease_ttl)

            primed = batch(lambda c: _prime_for(c, policy))
            marked = batch(lambda c: _ids(c, _marked, at))
            replays = pacing.for_dialect(
                connection.dialect.name, size=min(batch_size, FIRST_BATCH), maximum=batch_size
            )
            for chunk in replays.batches(marked):

                def replay(c: Connection, chunk: Sequence[int] = chunk) -> _Replayed:
                    return _replan(c, chunk, now=at, due_by=at, policy=policy, calendars=calendars)

                done = batch(replay)
                batches += 1
                replayed += done.orders
                examined.update(chunk)
                updated |= done.updated
            due = batch(lambda c: _ids(c, _due_orders, at))
            stores = pacing.for_dialect(
                connection.dialect.name,
                size=min(batch_size, FIRST_BATCH) * STORE_BATCH_FACTOR,
                maximum=batch_size * STORE_BATCH_FACTOR,
            )
            for chunk in stores.batches(due):

                def store(c: Connection, chunk: Sequence[int] = chunk) -> _Stored:
                    return _store_due(c, now=at, ids=chunk)

                result = batch(store)
                batches += 1
                steps += result.steps
                examined.update(chunk)
                updated |= result.updated
                for kind, count in result.inserted.items():
                    inserted[kind] = inserted.get(kind, 0) + count
        report = SweepReport(
            now=at,
            candidates=len(examined),
            inserted=inserted,
            orders_updated=len(updated),
            escalations_proposed=inserted[EventKind.ESCALATION_PROPOSED.value],
            majors_flagged=inserted[EventKind.MAJOR_FLAGGED.value],
            replayed=replayed,
            steps_due=steps,
            batches=batches,
            primed=primed,
        )
        db.run(lambda session: _finish(session, actor, report), write=True)
        return replace(report, seconds=time.perf_counter() - started)
    finally:
        leases.release(db, name=SWEEP_LEASE, holder=holder)


@contextmanager
def _own_connection(db: Database) -> Iterator[Connection]:
    """One connection for a whole sweep, a transaction per batch on it.

    On SQLite this saves a reconnect per batch (and the WAL checkpoint when the last
    connection closes), gives the sweep a page cache that holds the event indexes it writes
    into, and commits its batches with ``synchronous=NORMAL``: in WAL mode a power cut can
    lose the last batches but never corrupts, and a lost batch is simply redone by the next
    sweep (each batch is atomic and idempotent). Everything else keeps ``FULL``. Automatic
    checkpoints are off while it runs; it checkpoints once at the end.
    """
    with db.engine.connect() as connection:
        connection = connection.execution_options(desk_write=True)
        driver = connection.connection.driver_connection if db.is_sqlite else None
        if driver is not None:
            driver.execute(f"PRAGMA cache_size=-{SQLITE_SWEEP_CACHE_KIB}")
            driver.execute("PRAGMA synchronous=NORMAL")
            driver.execute("PRAGMA wal_autocheckpoint=0")
        try:
            yield connection
        finally:
            if driver is not None:
                # One checkpoint for the whole sweep, here, rather than many in its commits
                # or one in the next person's save.
                driver.execute("PRAGMA wal_checkpoint(PASSIVE)")
                driver.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT}")
                driver.execute("PRAGMA synchronous=FULL")
                driver.execute(f"PRAGMA cache_size={SQLITE_DEFAULT_CACHE}")


def _in_batch(
    connection: Connection,
    work: Callable[[Connection], _T],
    *,
    db: Database,
    holder: str,
    ttl: timedelta,
) -> _T:
    """``work`` in one writing transaction that first renews the lease; retried from its start
    on a transient error (a deadlock, a busy database, a lost connection), like every
    transaction (:func:`desk.infra.retry.retry_transient`)."""

    def attempt() -> _T:
        with connection.begin():
            if not leases.renew(
                connection, name=SWEEP_LEASE, holder=holder, now=db.clock.now(), ttl=ttl
            ):
                raise LeaseLost(
                    "another sweep took over the lease: this one stopped (its earlier "
                    "batches are kept)"
                )
            return work(connection)

    return retry_transient(attempt)


def _chunks(ids: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _ids(connection: Connection, build: Callable[[str], Select[Any]], now: datetime) -> list[int]:
    """The distinct ids ``build`` selects at ``now``, in order (a read through an index,
    before the batches; plain tuples, as there may be many)."""
    query = _statement(build, connection.dialect.name)
    return sorted({row[0] for row in connection.execute(query, {"now": now})})


def _prime_for(connection: Connection, policy: Policy) -> int:
    """Prime every open order when the plans were made under another policy (or never)."""
    fingerprint = policy_fingerprint(policy)
    recorded = connection.execute(select(_META.c.value).where(_META.c.key == POLICY_KEY)).scalar()
    if recorded == fingerprint:
        return 0
    primed = prime_ladder(connection)
    _record_policy(connection, fingerprint)
    return primed


def _record_policy(connection: Connection, fingerprint: str) -> None:
    connection.execute(delete(_META).where(_META.c.key == POLICY_KEY))
    connection.execute(insert(_META).values(key=POLICY_KEY, value=fingerprint))


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
