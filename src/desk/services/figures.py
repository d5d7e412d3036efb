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

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Float,
    String,
    and_,
    case,
    exists,
    false,
    func,
    literal_column,
    not_,
    or_,
    select,
    text,
    true,
    union,
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
        return ContactTally(*(getattr(self, name) + getattr(other, name) for name in _TALLY_FIELDS))

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


def _live_hours(
    session: Session, start: datetime, end: datetime, policy: Policy
) -> list[HourTally]:
    hour = utc_hour(C.offered_at).label("hour")
    statement = (
        select(hour, C.request_type, *contact_columns(policy))
        .where(within(C.offered_at, start, end))
        .group_by(hour, C.request_type)
    )
    return [
        HourTally(parse_utc_hour(row.hour), row.request_type, _tally(row))
        for row in session.execute(statement)
    ]


def _split(period: Period, through: datetime | None) -> tuple[datetime, datetime]:
    """Where the summary part of ``period`` ends and the live part begins: ``[start, cut)``
    from the summary, ``[cut, as_of)`` from the contacts."""
    aligned = period.start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if through is None or through <= period.start or aligned != period.start:
        return period.start, period.start
    cut = min(through, period.as_of)
    return period.start, cut


def contact_hours(session: Session, *, period: Period, policy: Policy) -> list[HourTally]:
    """The contacts offered in ``period``, counted per hour and request type: the hourly
    summary where it reaches (:mod:`desk.services.summaries`), one pass over the contacts
    after it. Every contact figure of the period is summed from these."""
    start, cut = _split(period, _summary_through(session, policy))
    found: list[HourTally] = []
    if cut > start:
        H = ContactHour.__table__.c  # type: ignore[attr-defined]  # noqa: N806
        rows = session.execute(select(H).where(H.hour >= start, H.hour < cut))
        found += [
            HourTally(_aware(row.hour) or start, row.request_type or None, _tally(row))
            for row in rows
        ]
    if period.as_of > cut:
        found += _live_hours(session, cut, period.as_of, policy)
    return found


def agents_by_hour(session: Session, *, period: Period, policy: Policy) -> dict[datetime, int]:
    """Agents on shift per UTC hour: the distinct agents who answered a contact offered in
    that hour (desk keeps no roster; who took calls is who was there)."""
    start, cut = _split(period, _summary_through(session, policy))
    found: dict[datetime, int] = {}
    if cut > start:
        A = AgentHour.__table__.c  # type: ignore[attr-defined]  # noqa: N806
        for row in session.execute(select(A.hour, A.agents).where(A.hour >= start, A.hour < cut)):
            found[_aware(row.hour) or start] = int(row.agents)
    if period.as_of > cut:
        hour = utc_hour(C.offered_at).label("hour")
        statement = (
            select(hour, func.count(func.distinct(C.agent_id)))
            .where(
                within(C.offered_at, cut, period.as_of),
                C.agent_id.is_not(None),
                C.answered_at.is_not(None),
            )
            .group_by(hour)
        )
        for row in session.execute(statement):
            found[parse_utc_hour(row[0])] = int(row[1])
    return found


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
    where = [E.work_order_id == source.id, E.kind == EventKind.BREACH.value]
    if start is not None and end is not None:
        where.append(within(E.at, start, end))
    return exists().where(*where)


def complaint_conditions(
    period: Period, policy: Policy, *, source: Any = W
) -> dict[str, ColumnElement[bool]]:
    """The SQL form of the complaint rules of :mod:`desk.rules.kpi` for a period: for each
    figure, which complaints it looks at (``*_facts``, see the module docs) and the rule's
    numerator and denominator among them, judged at ``period.as_of``. ``source``: the
    columns of the work orders (the table's, or a subquery's with the same names)."""
    W = source  # noqa: N806 - reads as the table it usually is
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
        "standard_counted": and_(standard_facts, or_(W.closed_at.is_not(None), _breach(source=W))),
        "standard_clean": and_(standard_facts, W.closed_at.is_not(None), not_(_breach(source=W))),
        "asked": and_(closed_in, marked),
        "satisfied": and_(closed_in, marked, W.satisfaction >= policy.kpi.satisfied_min_mark),
    }


def complaint_tally(session: Session, *, period: Period, policy: Policy) -> ComplaintTally:
    """The complaint figures' counts for ``period`` in one statement over the complaints that
    were open at some time in it (created before its end, not closed before its start) and
    that it touches (see :func:`complaint_conditions`).

    The rows come from each range's own index (received, reply due, replied, resolution due,
    closed), united; nothing reads every open complaint. PostgreSQL unites the rows (a join
    on the ids made it scan all 180,000 open complaints at the bench's scale); SQLite unites
    the ids and reads each order by its key (uniting whole rows cost it more)."""
    s, e = period.start, period.end
    in_range = [
        and_(
            W.category == RequestType.COMPLAINT.value,
            within(column, s, e),
            W.created_at < e,
            func.coalesce(W.closed_at, e) >= s,  # not closed before the start
        )
        for column in (W.created_at, W.reply_due, W.replied_at, W.resolution_due, W.closed_at)
    ]
    if session.get_bind().dialect.name == "postgresql":
        columns = (W.id, W.created_at, W.reply_due, W.replied_at, W.resolution_due, W.closed_at)
        rows = union(*(select(*columns, W.satisfaction).where(where) for where in in_range))
        touched = rows.subquery()
        conditions = complaint_conditions(period, policy, source=touched.c)
        source: Any = touched
    else:
        # SQLite: the ids of each range united, then each order by its key (fewer bytes)
        ids = union(*(select(W.id).where(where) for where in in_range)).subquery()
        conditions = complaint_conditions(period, policy)
        orders = WorkOrder.__table__  # type: ignore[attr-defined]
        source = ids.join(orders, W.id == ids.c.id)
    statement = select(
        *(count_of(condition).label(name) for name, condition in conditions.items())
    ).select_from(source)
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


def _spots(
    session: Session, label: Any, where: Sequence[Any], total: int, *joins: Any
) -> tuple[Spot, ...]:
    count = func.count().label("n")
    statement = select(label.label("label"), count).select_from(WorkOrder.__table__)  # type: ignore[attr-defined]
    for target, on in joins:
        statement = statement.outerjoin(target, on)
    statement = (
        statement.where(*where).group_by(label).order_by(count.desc(), label).limit(HOT_SPOTS_SHOWN)
    )
    return tuple(
        Spot(str(row.label) if row.label is not None else "", int(row.n), 100.0 * row.n / total)
        for row in session.execute(statement)
    )


def hot_spots(session: Session, *, period: Period) -> HotSpots:
    """Where complaints come from: the complaint work orders created in ``period`` by topic,
    branch and region (the top ten each, with their share), and the customers with two or
    more of them (repeat complainers), most first."""
    where = [
        W.category == RequestType.COMPLAINT.value,
        within(W.created_at, period.start, period.as_of),
    ]
    total = int(session.execute(select(func.count()).where(*where)).scalar_one())
    if total == 0:
        return HotSpots(0, (), (), (), ())
    branch = Branch.__table__.c  # type: ignore[attr-defined]
    on_branch = (Branch.__table__, branch.id == W.branch_id)  # type: ignore[attr-defined]
    topics = _spots(session, W.topic, where, total)
    branches = _spots(session, branch.name, where, total, on_branch)
    regions = _spots(session, branch.region, where, total, on_branch)
    customer = Customer.__table__.c  # type: ignore[attr-defined]
    count = func.count().label("n")
    repeat = (
        select(W.customer_id, count)
        .where(*where, W.customer_id.is_not(None))
        .group_by(W.customer_id)
        .having(func.count() >= 2)
        .order_by(count.desc(), W.customer_id)
        .limit(HOT_SPOTS_SHOWN)
        .subquery()
    )
    rows = session.execute(
        select(customer.id, customer.customer_no, customer.name, customer.region, repeat.c.n)
        .join(repeat, repeat.c.customer_id == customer.id)
        .order_by(repeat.c.n.desc(), customer.id)
    )
    complainers = tuple(
        Complainer(row.id, row.customer_no, mask_name(row.name), row.region, int(row.n))
        for row in rows
    )
    return HotSpots(total, topics, branches, regions, complainers)


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


def _attention_rows(
    session: Session, where: ColumnElement[bool], order: Sequence[Any], limit: int, now: datetime
) -> list[AttentionOrder]:
    branch = Branch.__table__.c  # type: ignore[attr-defined]
    rows = session.execute(
        select(
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
        .select_from(WorkOrder.__table__)  # type: ignore[attr-defined]
        .outerjoin(Branch.__table__, branch.id == W.branch_id)  # type: ignore[attr-defined]
        .where(where)
        .order_by(*order)
        .limit(limit)
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


def _escalated_rows(session: Session, limit: int, now: datetime) -> list[AttentionOrder]:
    """The first ``limit`` escalated or major open orders: major first, then the highest
    escalation level, then the nearest deadline (none last), then the number. Read as a
    run of short statements, one per (major, level) and deadline or none, each in the
    order of the open-escalation index, so no sort of every escalated order is needed."""
    top = session.execute(select(func.max(W.escalation_level)).where(OPEN)).scalar()
    found: list[AttentionOrder] = []
    for major in (True, False):
        for level in range(int(top or 0), -1 if major else 0, -1):
            where = and_(
                OPEN, W.escalation_level == level, W.is_major == (true() if major else false())
            )
            for part, order in (
                (W.next_due.is_not(None), (W.next_due, W.id)),
                (W.next_due.is_(None), (W.id,)),
            ):
                if len(found) >= limit:
                    return found
                found += _attention_rows(session, and_(where, part), order, limit - len(found), now)
    return found


def attention(session: Session, *, now: datetime, limit: int = ATTENTION_SHOWN) -> Attention:
    """Open work orders that are overdue, escalated or major: how many of each, and the first
    ``limit`` of them — major first, then the highest escalation, then the longest overdue.

    Read through partial indexes over the open orders only (by nearest deadline, and by
    escalation level), so the count does not grow with the closed history.
    """
    overdue = int(session.execute(select(func.count()).where(overdue_condition(now))).scalar_one())
    level = session.execute(
        select(
            count_of(W.escalation_level > 0).label("escalated"),
            count_of(W.is_major == true()).label("major"),
        ).where(OPEN, W.escalation_level > 0)
    ).one()
    plain_major = int(
        session.execute(
            select(func.count()).where(OPEN, W.escalation_level == 0, W.is_major == true())
        ).scalar_one()
    )
    orders = _escalated_rows(session, limit, now)
    if len(orders) < limit:
        orders += _attention_rows(
            session,
            and_(overdue_condition(now), W.escalation_level == 0, W.is_major == false()),
            (W.next_due, W.id),
            limit - len(orders),
            now,
        )
    return Attention(
        overdue=overdue,
        escalated=int(level.escalated) + plain_major,
        major=int(level.major) + plain_major,
        orders=tuple(orders),
    )


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


def live_churn(session: Session, *, period: Period, policy: Policy) -> tuple[ChurnTally, datetime]:
    """Churn for a period: while it runs, the latest hourly snapshot if it is at most an hour
    old (:mod:`desk.services.summaries`); otherwise counted as of the period's as-of. Returns
    the counts and the instant they are as of."""
    if period.running:
        S = ChurnSnapshot.__table__.c  # type: ignore[attr-defined]  # noqa: N806
        row = session.execute(
            select(S)
            .where(S.as_of <= period.as_of, S.as_of > period.as_of - SNAPSHOT_AGE)
            .order_by(S.as_of.desc())
            .limit(1)
        ).first()
        if row is not None:
            tally = ChurnTally(row.members, row.members_churned, row.others, row.others_churned)
            return tally, _aware(row.as_of) or period.as_of
    return churn_tally(session, as_of=period.as_of, policy=policy), period.as_of
