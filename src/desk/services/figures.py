"""The center's figures for a period, counted in SQL by the definitions of :mod:`desk.rules.kpi`.

Nothing here loads facts into Python: each figure's facts are counted by one set-based
statement whose conditions are the rule's, written once below (``_contact_columns``,
``_complaint_columns``), and the counts go to the rule's own arithmetic (:func:`~desk.rules.kpi.
rate`, :func:`~desk.rules.kpi.standing`). The service tests put hand-built facts in both
databases and check each count against the fact-based rule function.

Which facts a period holds (the rules leave that to the caller):

- **contacts**: offered in the period;
- **complaint reply rate**: complaint work orders whose reply was due, or came, in the period;
- **complaint closure**: those whose resolution was due, or which were closed, in the period;
- **complaints on standard**: those received, due (reply or resolution) or closed in the
  period — a breach follows a missed deadline, so one that went off standard had it there;
- **complaint satisfaction**: those closed in the period;
- **hot spots**: complaint work orders created in the period;

each judged at :attr:`~desk.rules.periods.Period.as_of` (the end, or now while it runs).
Functions here take an open :class:`~sqlmodel.Session` and are the building blocks of the
dashboard (:mod:`desk.services.dashboard`) and the reports (:mod:`desk.services.reports`), so
both show the same number for the same period.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any

from sqlalchemy import (
    Float,
    Integer,
    String,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal_column,
    not_,
    null,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session

from desk.clock import SHANGHAI
from desk.models import (
    AgentHour,
    Branch,
    ChurnSnapshot,
    Contact,
    ContactHour,
    Customer,
    WorkOrder,
    WorkOrderEvent,
)
from desk.rules.kpi import Rate, rate
from desk.rules.masking import mask_name
from desk.rules.periods import Period
from desk.rules.policy import Policy
from desk.rules.vocab import Channel, Direction, EventKind, RequestType, WorkOrderStatus
from desk.services.overdue import overdue_clause

ZONE = SHANGHAI
"""The center's time zone: local hours and days of the figures."""

HOT_SPOTS_SHOWN = 10
ATTENTION_SHOWN = 200


# --- portable SQL pieces ---------------------------------------------------------------------


class seconds_between(FunctionElement[float]):  # noqa: N801 - reads as a SQL function
    """Seconds from the first instant to the second (to the millisecond on SQLite)."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = list(element.clauses)
    return (
        f"round((julianday({compiler.process(end, **kw)}) - "
        f"julianday({compiler.process(start, **kw)})) * 86400.0, 3)"
    )


@compiles(seconds_between, "postgresql")
def _seconds_pg(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = list(element.clauses)
    return f"EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - {compiler.process(start, **kw)}))"


class utc_hour(FunctionElement[str]):  # noqa: N801 - reads as a SQL function
    """The UTC hour an instant falls in, as text ``YYYY-MM-DD HH``."""

    type = String()
    inherit_cache = True
    name = "utc_hour"


@compiles(utc_hour, "sqlite")
def _hour_sqlite(element: utc_hour, compiler: SQLCompiler, **kw: Any) -> str:
    (instant,) = list(element.clauses)
    return f"substr({compiler.process(instant, **kw)}, 1, 13)"


@compiles(utc_hour, "postgresql")
def _hour_pg(element: utc_hour, compiler: SQLCompiler, **kw: Any) -> str:
    (instant,) = list(element.clauses)
    return f"to_char({compiler.process(instant, **kw)} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')"


def parse_utc_hour(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H").replace(tzinfo=UTC)


def without_jit(session: Session) -> None:
    """PostgreSQL: no JIT compilation for the rest of this transaction. The figures' plans
    are costed high (they aggregate tens of thousands of rows) and PostgreSQL would compile
    them, which took 1.7 s of a 4.4 s complaint count at 2,000,000 contacts; the queries
    themselves run in milliseconds to a few hundred."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))


def count_of(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def within(column: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(column >= start, column < end)


OPEN_STATUSES = tuple(s.value for s in WorkOrderStatus if s is not WorkOrderStatus.CLOSED)

# --- contacts --------------------------------------------------------------------------------

C = Contact.__table__.c  # type: ignore[attr-defined]
W = WorkOrder.__table__.c  # type: ignore[attr-defined]
E = WorkOrderEvent.__table__.c  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ContactTally:
    """The counts every contact figure is made of (see :func:`contact_conditions`)."""

    contacts: int = 0
    offered: int = 0
    answered: int = 0
    quick: int = 0  # answered within kpi.service_level_seconds
    vip_offered: int = 0
    vip_answered: int = 0
    marked: int = 0
    satisfied: int = 0
    handled: int = 0  # answered offered contacts that have ended
    handle_seconds: float = 0.0

    def __add__(self, other: ContactTally) -> ContactTally:
        return total_of((self, other))

    @property
    def manual_answer_rate(self) -> Rate | None:
        return rate(self.answered, self.offered)

    @property
    def vip_answer_rate(self) -> Rate | None:
        return rate(self.vip_answered, self.vip_offered)

    @property
    def service_level(self) -> Rate | None:
        return rate(self.quick, self.offered)

    @property
    def satisfaction(self) -> Rate | None:
        return rate(self.satisfied, self.marked)

    @property
    def average_handle_seconds(self) -> float | None:
        return self.handle_seconds / self.handled if self.handled else None


_TALLY_FIELDS = tuple(ContactTally.__dataclass_fields__)
_tally_values = attrgetter(*_TALLY_FIELDS)


def total_of(tallies: Iterable[ContactTally]) -> ContactTally:
    """The sum of ``tallies``, column by column (a month's hours are thousands of rows)."""
    return ContactTally(*map(sum, zip(*map(_tally_values, tallies), strict=True)))


def contact_conditions(policy: Policy) -> dict[str, ColumnElement[bool]]:
    """The SQL form of the contact rules of :mod:`desk.rules.kpi`, one condition per count.

    ``offered`` is :func:`~desk.rules.kpi.counts_as_offered` (inbound, a voice channel, not a
    short abandon; fault periods are not recorded, so none is excluded as such);
    ``answered``/``vip_*`` are the answer rates' numerators and denominators; ``quick`` the
    service level's; ``marked``/``satisfied`` :func:`~desk.rules.kpi.satisfaction` with
    :func:`~desk.rules.kpi.is_satisfied` marks.
    """
    kpi = policy.kpi
    voice = C.channel.in_([channel.value for channel in kpi.voice_channels])
    short_abandon = and_(
        C.answered_at.is_(None),
        C.ended_at.is_not(None),
        seconds_between(C.offered_at, C.ended_at) < kpi.short_abandon_seconds,
    )
    offered = and_(C.direction == Direction.INBOUND.value, voice, not_(short_abandon))
    answered = and_(offered, C.answered_at.is_not(None))
    vip = C.channel == Channel.VIP_LINE.value
    return {
        "offered": offered,
        "answered": answered,
        "quick": and_(
            answered,
            seconds_between(C.offered_at, C.answered_at) <= kpi.service_level_seconds,
        ),
        "vip_offered": and_(offered, vip),
        "vip_answered": and_(answered, vip),
        "marked": C.satisfaction.is_not(None),
        "satisfied": C.satisfaction >= kpi.satisfied_min_mark,
        "handled": and_(answered, C.ended_at.is_not(None)),
    }


def contact_columns(policy: Policy) -> list[Any]:
    """The labelled counts of :class:`ContactTally` over the contacts selected."""
    conditions = contact_conditions(policy)
    columns: list[Any] = [func.count().label("contacts")]
    columns += [count_of(condition).label(name) for name, condition in conditions.items()]
    columns.append(
        func.coalesce(
            func.sum(
                case(
                    (conditions["handled"], seconds_between(C.answered_at, C.ended_at)),
                    else_=0,
                )
            ),
            0,
        ).label("handle_seconds")
    )
    return columns


def _tally(row: Any) -> ContactTally:
    values = row._mapping
    counts = {name: int(values[name] or 0) for name in _TALLY_FIELDS if name != "handle_seconds"}
    return ContactTally(**counts, handle_seconds=float(values["handle_seconds"] or 0))


@dataclass(frozen=True)
class HourTally:
    """One UTC hour of one request type (None: none recorded)."""

    hour: datetime  # UTC start of the hour
    request_type: str | None
    tally: ContactTally


def _summary_through(session: Session, policy: Policy) -> datetime | None:
    """Up to when the hourly summaries may stand in for the contacts (None: not at all),
    read once per transaction (it stays the same within one)."""
    from desk.services.summaries import policy_fingerprint, summary_state

    key = ("desk.summary_through", policy_fingerprint(policy))
    if key not in session.info:
        session.info[key] = summary_state(session.connection(), policy).usable()
    found: datetime | None = session.info[key]
    return found


def _split(period: Period, through: datetime | None) -> tuple[datetime, datetime]:
    """Where the summary part of ``period`` ends and the live part begins: ``[start, cut)``
    from the summary, ``[cut, as_of)`` from the contacts."""
    aligned = period.start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if through is None or through <= period.start or aligned != period.start:
        return period.start, period.start
    cut = min(through, period.as_of)
    return period.start, cut


@dataclass(frozen=True)
class ContactHours:
    """The contacts of a period per UTC hour and request type, and the agents per UTC hour."""

    hours: list[HourTally]
    agents: dict[datetime, int]  # the distinct agents who answered a contact of that hour


_CONTACT_PART, _AGENT_PART = 0, 1


def _constant(value: int | float) -> Any:
    return literal_column(repr(value), Float() if isinstance(value, float) else Integer())


def contact_figures(
    session: Session, *, period: Period, policy: Policy, summary: bool = True
) -> ContactHours:
    """The contacts offered in ``period``, counted per UTC hour and request type, and the
    agents on shift per UTC hour, in one statement: the hourly summaries
    (:mod:`desk.services.summaries`) where they reach, the contacts after that (only the
    contacts with ``summary`` False: what the summaries are checked against).

    Agents on shift are the distinct agents who answered a contact offered in that hour
    (desk keeps no roster; who took calls is who was there). Every contact figure of the
    period is summed from these rows."""
    start, cut = _split(period, _summary_through(session, policy) if summary else None)
    zeros = [_constant(0)] * (len(_TALLY_FIELDS) - 2) + [_constant(0.0)]
    no_type = cast(null(), String())
    parts: list[Any] = []
    if cut > start:
        H = ContactHour.__table__.c  # type: ignore[attr-defined]  # noqa: N806
        A = AgentHour.__table__.c  # type: ignore[attr-defined]  # noqa: N806
        parts.append(
            select(
                _constant(_CONTACT_PART),
                utc_hour(H.hour),
                H.request_type,
                *(H[name] for name in _TALLY_FIELDS),
            ).where(H.hour >= start, H.hour < cut)
        )
        parts.append(
            select(_constant(_AGENT_PART), utc_hour(A.hour), no_type, A.agents, *zeros).where(
                A.hour >= start, A.hour < cut
            )
        )
    if period.as_of > cut:
        hour = utc_hour(C.offered_at)
        live = within(C.offered_at, cut, period.as_of)
        parts.append(
            select(_constant(_CONTACT_PART), hour, C.request_type, *contact_columns(policy))
            .where(live)
            .group_by(hour, C.request_type)
        )
        parts.append(
            select(
                _constant(_AGENT_PART), hour, no_type, func.count(func.distinct(C.agent_id)), *zeros
            )
            .where(live, C.agent_id.is_not(None), C.answered_at.is_not(None))
            .group_by(hour)
        )
    found = ContactHours([], {})
    if not parts:
        return found
    instants: dict[str, datetime] = {}
    for part, text_hour, kind, *counts in session.execute(union_all(*parts)):
        at = instants.get(text_hour)
        if at is None:
            at = instants[text_hour] = parse_utc_hour(text_hour)
        if part == _AGENT_PART:
            found.agents[at] = int(counts[0])
        else:
            values: list[Any] = [*map(int, counts[:-1]), float(counts[-1] or 0)]
            found.hours.append(HourTally(at, kind or None, ContactTally(*values)))
    return found


def contact_hours(
    session: Session, *, period: Period, policy: Policy, summary: bool = True
) -> list[HourTally]:
    """The contacts offered in ``period``, counted per hour and request type (see
    :func:`contact_figures`)."""
    return contact_figures(session, period=period, policy=policy, summary=summary).hours


# --- complaints ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComplaintTally:
    """The counts of the complaint figures (see :func:`complaint_conditions`)."""

    reply_due: int = 0
    replied: int = 0
    closure_due: int = 0
    closed: int = 0
    standard_counted: int = 0
    standard_clean: int = 0
    asked: int = 0
    satisfied: int = 0

    @property
    def reply_rate(self) -> Rate | None:
        return rate(self.replied, self.reply_due)

    @property
    def closure_rate(self) -> Rate | None:
        return rate(self.closed, self.closure_due)

    @property
    def on_standard(self) -> Rate | None:
        return rate(self.standard_clean, self.standard_counted)

    @property
    def satisfaction(self) -> Rate | None:
        return rate(self.satisfied, self.asked)


def _breach(
    start: datetime | None = None, end: datetime | None = None, *, source: Any = W
) -> ColumnElement[bool]:
    # the kind spelled as the partial breach index's condition, so it is used
    where = [E.work_order_id == source.id, E.kind == literal_column(f"'{EventKind.BREACH.value}'")]
    if start is not None and end is not None:
        where.append(within(E.at, start, end))
    return exists().where(*where)


def complaint_conditions(
    period: Period, policy: Policy, *, source: Any = W, breached: Any = None
) -> dict[str, ColumnElement[bool]]:
    """The SQL form of the complaint rules of :mod:`desk.rules.kpi` for a period: for each
    figure, which complaints it looks at (``*_facts``, see the module docs) and the rule's
    numerator and denominator among them, judged at ``period.as_of``. ``source``: the
    columns of the work orders (the table's, or a subquery's with the same names);
    ``breached``: whether the order was ever breached, if the source has it already."""
    W = source  # noqa: N806 - reads as the table it usually is
    if breached is None:
        breached = _breach(source=W)
    s, e, as_of = period.start, period.end, period.as_of
    has_reply = and_(W.replied_at.is_not(None), W.replied_at <= as_of)
    reply_overdue = and_(W.reply_due.is_not(None), W.reply_due <= as_of)
    is_closed = and_(W.closed_at.is_not(None), W.closed_at <= as_of)
    resolution_overdue = and_(W.resolution_due.is_not(None), W.resolution_due <= as_of)
    reply_facts = or_(within(W.reply_due, s, e), within(W.replied_at, s, e))
    closure_facts = or_(within(W.resolution_due, s, e), within(W.closed_at, s, e))
    closed_in = within(W.closed_at, s, e)
    # received, due or closed in the period: a breach always follows a deadline, so a
    # complaint that went off standard in the period had a deadline (or its receipt) in it
    standard_facts = or_(
        closed_in,
        within(W.created_at, s, e),
        within(W.reply_due, s, e),
        within(W.resolution_due, s, e),
    )
    marked = W.satisfaction.is_not(None)
    return {
        "reply_due": and_(reply_facts, or_(has_reply, reply_overdue)),
        "replied": and_(reply_facts, has_reply),
        "closure_due": and_(closure_facts, or_(is_closed, resolution_overdue)),
        "closed": and_(closure_facts, is_closed),
        # closed (the closing instant is in the period) or already breached
        "standard_counted": and_(standard_facts, or_(W.closed_at.is_not(None), breached)),
        "standard_clean": and_(standard_facts, W.closed_at.is_not(None), not_(breached)),
        "asked": and_(closed_in, marked),
        "satisfied": and_(closed_in, marked, W.satisfaction >= policy.kpi.satisfied_min_mark),
    }


def complaint_tally(session: Session, *, period: Period, policy: Policy) -> ComplaintTally:
    """The complaint figures' counts for ``period`` in one statement over the complaints that
    were open at some time in it (created before its end, not closed before its start) and
    that it touches (see :func:`complaint_conditions`).

    The rows come from each range's own index (received, reply due, replied, resolution due,
    closed) as disjoint parts (each part leaves out the rows of the ranges before it), so no
    row is read twice into the count and nothing needs uniting; the indexes carry every
    column the figures read (migration 0017), so the parts are read from them alone, and
    nothing reads every open complaint. Whether an order was ever breached is asked once per
    order, through the partial breach index."""
    s, e = period.start, period.end
    dates = (W.created_at, W.reply_due, W.replied_at, W.resolution_due, W.closed_at)
    columns = (W.id, *dates, W.satisfaction)
    parts = []
    for index, column in enumerate(dates):
        earlier = [or_(date.is_(None), date < s, date >= e) for date in dates[:index]]
        parts.append(
            select(*columns).where(
                W.category == RequestType.COMPLAINT.value,
                within(column, s, e),
                *earlier,
                W.created_at < e,
                or_(W.closed_at.is_(None), W.closed_at >= s),  # not closed before the start
            )
        )
    united = union_all(*parts).subquery()
    touched = select(united, _breach(source=united.c).label("breached")).subquery()
    conditions = complaint_conditions(period, policy, source=touched.c, breached=touched.c.breached)
    statement = select(
        *(count_of(condition).label(name) for name, condition in conditions.items())
    ).select_from(touched)
    row = session.execute(statement).one()
    return ComplaintTally(**{name: int(row._mapping[name] or 0) for name in conditions})


# --- complaint hot spots ---------------------------------------------------------------------


@dataclass(frozen=True)
class Spot:
    label: str
    count: int
    share_percent: float | None


@dataclass(frozen=True)
class Complainer:
    customer_id: int
    customer_no: str
    name_masked: str
    region: str
    complaints: int


@dataclass(frozen=True)
class HotSpots:
    total: int
    topics: tuple[Spot, ...]
    branches: tuple[Spot, ...]
    regions: tuple[Spot, ...]
    complainers: tuple[Complainer, ...]  # two complaints or more in the period


# The hot spots and the attention counts are read as rows of one statement (a UNION ALL of
# small aggregates, each through its own index): (part, label, n, ref, name, region).
_TEXT_NULL = cast(null(), String())
_INT_NULL = cast(null(), Integer())


def _row(
    part: str, label: Any, n: Any, ref: Any = None, name: Any = None, region: Any = None
) -> Any:
    """The columns of one member of the hot-spot and attention-count statement."""
    return select(
        literal_column(f"'{part}'", String()).label("part"),
        label.label("label"),
        n.label("n"),
        (_INT_NULL if ref is None else ref).label("ref"),
        (_TEXT_NULL if name is None else name).label("name"),
        (_TEXT_NULL if region is None else region).label("region"),
    )


def _ranked(statement: Any) -> Any:
    """A member with its own ORDER BY and LIMIT, as both databases accept it in a UNION."""
    return select(statement.subquery())


def _hot_spot_parts(period: Period) -> list[Any]:
    """The complaint work orders created in ``period`` (read once, through the category and
    creation index that covers the columns): their count, the top topics, branches and
    regions, and the customers with two or more."""
    complaints = (
        select(W.topic, W.branch_id, W.customer_id)
        .where(
            W.category == RequestType.COMPLAINT.value,
            within(W.created_at, period.start, period.as_of),
        )
        .cte("period_complaints")
    )
    pc = complaints.c
    branch = Branch.__table__.c  # type: ignore[attr-defined]
    n = func.count().label("n")
    parts: list[Any] = [
        _row("total", _TEXT_NULL, func.count()).select_from(complaints),
        _ranked(
            _row("topic", pc.topic, n)
            .group_by(pc.topic)
            .order_by(n.desc(), pc.topic)
            .limit(HOT_SPOTS_SHOWN)
        ),
    ]
    for name, label in (("branch", branch.name), ("region", branch.region)):
        parts.append(
            _ranked(
                _row(name, label, n)
                .select_from(complaints)
                .outerjoin(Branch.__table__, branch.id == pc.branch_id)  # type: ignore[attr-defined]
                .group_by(label)
                .order_by(n.desc(), label)
                .limit(HOT_SPOTS_SHOWN)
            )
        )
    repeat = (
        select(pc.customer_id, n)
        .where(pc.customer_id.is_not(None))
        .group_by(pc.customer_id)
        .having(func.count() >= 2)
        .order_by(n.desc(), pc.customer_id)
        .limit(HOT_SPOTS_SHOWN)
        .subquery()
    )
    customer = Customer.__table__.c  # type: ignore[attr-defined]
    parts.append(
        _row(
            "customer",
            customer.customer_no,
            repeat.c.n,
            customer.id,
            customer.name,
            customer.region,
        ).join(repeat, repeat.c.customer_id == customer.id)
    )
    return parts


def _hot_spots_of(rows: list[Any]) -> HotSpots:
    total = next((int(row.n) for row in rows if row.part == "total"), 0)
    if total == 0:
        return HotSpots(0, (), (), (), ())

    def spots(part: str) -> tuple[Spot, ...]:
        found = [row for row in rows if row.part == part]
        found.sort(key=lambda row: (-row.n, "" if row.label is None else str(row.label)))
        return tuple(
            Spot("" if row.label is None else str(row.label), int(row.n), 100.0 * row.n / total)
            for row in found
        )

    complainers = sorted(
        (row for row in rows if row.part == "customer"), key=lambda row: (-row.n, row.ref)
    )
    return HotSpots(
        total,
        spots("topic"),
        spots("branch"),
        spots("region"),
        tuple(
            Complainer(row.ref, row.label, mask_name(row.name), row.region, int(row.n))
            for row in complainers
        ),
    )


def hot_spots(session: Session, *, period: Period) -> HotSpots:
    """Where complaints come from: the complaint work orders created in ``period`` by topic,
    branch and region (the top ten each, with their share), and the customers with two or
    more of them (repeat complainers), most first."""
    return _hot_spots_of(list(session.execute(union_all(*_hot_spot_parts(period)))))


# --- work orders that need attention ---------------------------------------------------------


OPEN = W.status != literal_column("'closed'")
"""An open work order, written as the partial indexes' condition so they are used."""


def overdue_condition(now: datetime) -> ColumnElement[bool]:
    """An open work order whose nearest awaited deadline (``next_due``, kept by the sweep
    from :func:`desk.rules.work_orders.nearest_deadline`) has passed: what the queue's overdue
    view shows."""
    return and_(OPEN, overdue_clause(W.next_due, now))


def escalated_condition() -> ColumnElement[bool]:
    """An open work order that is major or has climbed the chase ladder."""
    return and_(
        OPEN, or_(W.escalation_level > 0, and_(W.escalation_level == 0, W.is_major == true()))
    )


@dataclass(frozen=True)
class AttentionOrder:
    id: int
    number: str
    category: str
    topic: str | None
    status: str
    priority: str
    is_major: bool
    escalation_level: int
    overdue: bool
    first_missed: datetime | None  # the nearest deadline, if it has passed
    branch: str | None
    created_at: datetime


@dataclass(frozen=True)
class Attention:
    overdue: int
    escalated: int
    major: int
    orders: tuple[AttentionOrder, ...] = field(default=())


@dataclass(frozen=True)
class _AttentionCounts:
    overdue: int
    escalated: int  # escalation level above 0
    escalated_major: int  # of those, major
    plain_major: int  # major at level 0
    top_level: int  # the highest escalation level of an open order


def _attention_count_parts(now: datetime) -> list[Any]:
    """The attention counts, each through a partial index over the open orders (by nearest
    deadline, by escalation level), so they do not grow with the closed history."""
    return [
        _row("overdue", _TEXT_NULL, func.count()).where(overdue_condition(now)),
        _row("escalated", _TEXT_NULL, func.count(), count_of(W.is_major == true())).where(
            OPEN, W.escalation_level > 0
        ),
        _row("plain_major", _TEXT_NULL, func.count()).where(
            OPEN, W.escalation_level == 0, W.is_major == true()
        ),
        _row("top_level", _TEXT_NULL, func.coalesce(func.max(W.escalation_level), 0)).where(OPEN),
    ]


def _attention_counts_of(rows: list[Any]) -> _AttentionCounts:
    found = {row.part: row for row in rows}
    return _AttentionCounts(
        overdue=int(found["overdue"].n),
        escalated=int(found["escalated"].n),
        escalated_major=int(found["escalated"].ref or 0),
        plain_major=int(found["plain_major"].n),
        top_level=int(found["top_level"].n or 0),
    )


def _attention_rows(
    session: Session, counts: _AttentionCounts, limit: int, now: datetime
) -> list[AttentionOrder]:
    """The first ``limit`` orders needing attention: the escalated or major ones — major
    first, then the highest escalation level, then the nearest deadline (none last), then the
    number — then the other overdue ones, longest overdue first.

    One statement: a UNION ALL of short runs, one per (major, level) and deadline or none,
    each read in the order of the open-escalation index and cut at ``limit``, so no sort of
    every escalated order is needed; the runs are put in order by their rank."""
    if limit <= 0:
        return []
    branch = Branch.__table__.c  # type: ignore[attr-defined]
    columns = (
        W.id,
        W.number,
        W.category,
        W.topic,
        W.status,
        W.priority,
        W.is_major,
        W.escalation_level,
        W.next_due,
        branch.name.label("branch"),
        W.created_at,
    )
    runs: list[tuple[ColumnElement[bool], tuple[Any, ...]]] = []
    for major in (True, False):
        for level in range(counts.top_level, -1 if major else 0, -1):
            where = and_(
                OPEN, W.escalation_level == level, W.is_major == (true() if major else false())
            )
            # both runs in the index's own order (within the second, next_due is NULL):
            # ordered by the id alone, PostgreSQL walked the primary key past every order
            runs.append((and_(where, W.next_due.is_not(None)), (W.next_due, W.id)))
            runs.append((and_(where, W.next_due.is_(None)), (W.next_due, W.id)))
    plain = and_(overdue_condition(now), W.escalation_level == 0, W.is_major == false())
    runs.append((plain, (W.next_due, W.id)))
    parts = [
        _ranked(
            select(literal_column(str(rank), Integer()).label("run"), *columns)
            .select_from(WorkOrder.__table__)  # type: ignore[attr-defined]
            .outerjoin(Branch.__table__, branch.id == W.branch_id)  # type: ignore[attr-defined]
            .where(where)
            .order_by(*order)
            .limit(limit)
        )
        for rank, (where, order) in enumerate(runs)
    ]
    ordered = union_all(*parts).subquery()
    rows = session.execute(
        select(ordered).order_by(ordered.c.run, ordered.c.next_due, ordered.c.id).limit(limit)
    )
    found = []
    for row in rows:
        due = _aware(row.next_due)
        late = due is not None and due < now
        found.append(
            AttentionOrder(
                id=row.id,
                number=row.number,
                category=row.category,
                topic=row.topic,
                status=row.status,
                priority=row.priority,
                is_major=bool(row.is_major),
                escalation_level=int(row.escalation_level),
                overdue=late,
                first_missed=due if late else None,
                branch=row.branch,
                created_at=_aware(row.created_at) or now,
            )
        )
    return found


def _attention_of(
    session: Session, counts: _AttentionCounts, now: datetime, limit: int
) -> Attention:
    return Attention(
        overdue=counts.overdue,
        escalated=counts.escalated + counts.plain_major,
        major=counts.escalated_major + counts.plain_major,
        orders=tuple(_attention_rows(session, counts, limit, now)),
    )


def attention(session: Session, *, now: datetime, limit: int = ATTENTION_SHOWN) -> Attention:
    """Open work orders that are overdue, escalated or major: how many of each, and the first
    ``limit`` of them — major first, then the highest escalation, then the longest overdue."""
    rows = list(session.execute(union_all(*_attention_count_parts(now))))
    return _attention_of(session, _attention_counts_of(rows), now, limit)


def hot_spots_and_attention(
    session: Session, *, period: Period, now: datetime, limit: int = ATTENTION_SHOWN
) -> tuple[HotSpots, Attention]:
    """:func:`hot_spots` and :func:`attention` in two statements: every count in one, the
    orders listed in the other."""
    rows = list(session.execute(union_all(*_hot_spot_parts(period), *_attention_count_parts(now))))
    return _hot_spots_of(rows), _attention_of(session, _attention_counts_of(rows), now, limit)


def _aware(value: Any) -> datetime | None:
    """A value read through a CASE (no column type on the way): text on SQLite."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.utcoffset() is not None else value.replace(tzinfo=UTC)


# --- churn -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChurnTally:
    members: int = 0
    members_churned: int = 0
    others: int = 0
    others_churned: int = 0

    @property
    def member_rate(self) -> Rate | None:
        return rate(self.members_churned, self.members)

    @property
    def other_rate(self) -> Rate | None:
        return rate(self.others_churned, self.others)


def churn_conditions(as_of: datetime, policy: Policy) -> dict[str, ColumnElement[bool]]:
    """The SQL form of :func:`~desk.rules.kpi.member_churn_rate` and
    :func:`~desk.rules.kpi.other_churn_rate`: customers since before the inactivity window,
    members by ``kpi.member_tiers``, churned when not active within the window."""
    customer = Customer.__table__.c  # type: ignore[attr-defined]
    since = as_of - timedelta(days=policy.kpi.churn_inactivity_days)
    member = customer.tier.in_([tier.value for tier in policy.kpi.member_tiers])
    counted = customer.created_at <= since
    churned = or_(customer.last_activity_at.is_(None), customer.last_activity_at <= since)
    return {
        "members": and_(counted, member),
        "members_churned": and_(counted, member, churned),
        "others": and_(counted, not_(member)),
        "others_churned": and_(counted, not_(member), churned),
    }


def churn_tally(session: Session, *, as_of: datetime, policy: Policy) -> ChurnTally:
    """The churn counts as of ``as_of`` (one pass over the customers)."""
    conditions = churn_conditions(as_of, policy)
    row = session.execute(
        select(*(count_of(condition).label(name) for name, condition in conditions.items()))
    ).one()
    return ChurnTally(**{name: int(row._mapping[name] or 0) for name in conditions})


SNAPSHOT_AGE = timedelta(hours=1)


def live_churn(
    session: Session, *, period: Period, policy: Policy
) -> tuple[ChurnTally | None, datetime | None]:
    """Churn for a period: the hourly snapshot (:mod:`desk.services.summaries`) taken at most
    an hour before the period's as-of — the latest one while it runs, the one of the
    period's end (a local midnight, kept) after. None when there is none: churn is a pass
    over every customer (seconds at millions), which a dashboard refresh never makes; the
    figure shows "–" with the reason. Returns the counts and the instant they are as of.
    ``policy`` is the one the snapshots were counted under (it is not read here)."""
    del policy
    S = ChurnSnapshot.__table__.c  # type: ignore[attr-defined]  # noqa: N806
    row = session.execute(
        select(S)
        .where(S.as_of <= period.as_of, S.as_of > period.as_of - SNAPSHOT_AGE)
        .order_by(S.as_of.desc())
        .limit(1)
    ).first()
    if row is None:
        return None, None
    tally = ChurnTally(row.members, row.members_churned, row.others, row.others_churned)
    return tally, _aware(row.as_of) or period.as_of
