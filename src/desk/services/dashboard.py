"""The supervisor's dashboard: the center's figures for a period, in one read transaction.

:func:`dashboard` gathers, for a period (:mod:`desk.rules.periods`): one tile per target of the
policy (value, target, standing), the contact figures, call volume per local hour of day
against the agents on shift and the Erlang C staffing need (:mod:`desk.rules.staffing`), the
request-type mix, the trend of answer rate and satisfaction, complaint hot spots, and the open
work orders that are overdue, escalated or major. Every count comes from
:mod:`desk.services.figures`; the reports use the same functions.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from desk.infra.database import now_of, reads
from desk.models import Shift
from desk.rules.kpi import TARGET_FIGURES, Rate, Standing, share_percent
from desk.rules.periods import Period, PeriodKind, period_of
from desk.rules.permissions import Actor, Permission
from desk.rules.policy import Policy
from desk.rules.staffing import staffing_plan
from desk.services.access import require
from desk.services.figures import (
    ZONE,
    Attention,
    ChurnTally,
    ComplaintTally,
    ContactTally,
    HotSpots,
    HourTally,
    complaint_tally,
    contact_figures,
    hot_spots_and_attention,
    live_churn,
    total_of,
    without_jit,
)

CHURN_KEYS = frozenset({"churn_member_max", "churn_other_max"})
CHURN_NOT_COUNTED = "churn_not_counted"
"""A tile's reason: churn is read from the hourly snapshots only (a count over every customer
is too slow for a refresh), and none was taken in the hour before the period's end."""


@dataclass(frozen=True)
class Tile:
    """One target: the figure's value for the period (None: nothing to measure)."""

    key: str  # the policy's targets.<key>
    value: Rate | None
    target: float
    at_most: bool
    standing: Standing
    reason: str | None = None  # why there is no value, when it is not "nothing to measure"


@dataclass(frozen=True)
class HourLoad:
    """One local hour of the day over the period (averaged per day for longer periods)."""

    hour: int  # 0–23, center time
    days: int  # how many days of the period reached this hour
    calls: float  # contacts offered (the answer rate's denominator), per day
    answered: float
    agents: float  # agents on shift, per day
    need: int  # agents to schedule for the staffing target (Erlang C, shrinkage added)

    @property
    def short(self) -> int:
        """Agents missing to meet the staffing target (增员需求); 0 when enough."""
        return max(0, self.need - round(self.agents))


@dataclass(frozen=True)
class MixItem:
    request_type: str | None
    contacts: int
    share_percent: float | None


@dataclass(frozen=True)
class TrendPoint:
    """The answer rate and satisfaction of one day (or one hour, for a one-day period)."""

    start: datetime
    contacts: int
    answer_rate: Rate | None
    satisfaction: Rate | None


@dataclass(frozen=True)
class Dashboard:
    period: Period
    computed_at: datetime
    tiles: tuple[Tile, ...]
    contacts: ContactTally
    complaints: ComplaintTally
    churn: ChurnTally | None  # None: no hourly churn count near the period's end
    churn_as_of: datetime | None
    handle_seconds: float  # the average handling time the staffing need used
    handle_measured: bool  # False: the policy's default (no handled call in the period)
    hours: tuple[HourLoad, ...]
    mix: tuple[MixItem, ...]
    trend: tuple[TrendPoint, ...]
    trend_by_hour: bool
    hot_spots: HotSpots
    attention: Attention
    shift_name: str | None

    @property
    def short_hours(self) -> tuple[HourLoad, ...]:
        return tuple(hour for hour in self.hours if hour.short > 0)


def tiles_of(
    contacts: ContactTally, complaints: ComplaintTally, churn: ChurnTally | None, policy: Policy
) -> tuple[Tile, ...]:
    """One tile per target of the policy, in :data:`~desk.rules.kpi.TARGET_FIGURES` order."""
    missing = churn is None
    churn = churn or ChurnTally()
    values: dict[str, Rate | None] = {
        "manual_answer_rate": contacts.manual_answer_rate,
        "vip_answer_rate": contacts.vip_answer_rate,
        "satisfaction": contacts.satisfaction,
        "complaint_satisfaction": complaints.satisfaction,
        "complaint_reply_rate": complaints.reply_rate,
        "complaint_on_standard": complaints.on_standard,
        "complaint_closure": complaints.closure_rate,
        "churn_member_max": churn.member_rate,
        "churn_other_max": churn.other_rate,
    }
    return tuple(
        Tile(
            key=figure.key,
            value=values[figure.key],
            target=figure.target(policy),
            at_most=figure.at_most,
            standing=figure.standing(values[figure.key], policy),
            reason=CHURN_NOT_COUNTED if missing and figure.key in CHURN_KEYS else None,
        )
        for figure in TARGET_FIGURES
    )


def _days_reaching(period: Period) -> dict[int, int]:
    """For each local hour of the day, how many days of the period reached it by as-of."""
    counts: dict[int, int] = dict.fromkeys(range(24), 0)
    day = period.start.astimezone(ZONE).date()
    last = period.as_of.astimezone(ZONE).date()
    while day <= last:
        for hour in range(24):
            at = datetime(day.year, day.month, day.day, hour, tzinfo=ZONE)
            if period.start <= at < period.as_of:
                counts[hour] += 1
        day += timedelta(days=1)
    return counts


def hour_loads(
    hours: list[HourTally],
    agents: dict[datetime, int],
    period: Period,
    handle_seconds: float,
    policy: Policy,
) -> tuple[HourLoad, ...]:
    """Volume per local hour of the day against agents and the Erlang C need."""
    calls: dict[int, int] = defaultdict(int)
    answered: dict[int, int] = defaultdict(int)
    on_shift: dict[int, int] = defaultdict(int)
    for item in hours:
        local = item.hour.astimezone(ZONE).hour
        calls[local] += item.tally.offered
        answered[local] += item.tally.answered
    for hour, count in agents.items():
        on_shift[hour.astimezone(ZONE).hour] += count
    days = _days_reaching(period)
    per_day = {hour: calls[hour] / days[hour] for hour in range(24) if days[hour]}
    plan = staffing_plan(per_day, handle_seconds, policy)
    return tuple(
        HourLoad(
            hour=hour,
            days=days[hour],
            calls=per_day[hour],
            answered=answered[hour] / days[hour],
            agents=on_shift[hour] / days[hour],
            need=plan[hour].scheduled,
        )
        for hour in range(24)
        if days[hour]
    )


def mix_of(hours: list[HourTally], total: int) -> tuple[MixItem, ...]:
    counts: dict[str | None, int] = defaultdict(int)
    for item in hours:
        counts[item.request_type] += item.tally.contacts
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0] or "~"))
    return tuple(MixItem(kind, count, share_percent(count, total)) for kind, count in ordered)


def trend_of(hours: list[HourTally], *, by_hour: bool) -> tuple[TrendPoint, ...]:
    buckets: dict[datetime, list[ContactTally]] = defaultdict(list)
    starts: dict[datetime, datetime] = {}  # a UTC hour's bucket, worked out once per hour
    for item in hours:
        key = starts.get(item.hour)
        if key is None:
            local = item.hour.astimezone(ZONE)
            key = local if by_hour else datetime(local.year, local.month, local.day, tzinfo=ZONE)
            starts[item.hour] = key
        buckets[key].append(item.tally)
    points = []
    for start, tallies in sorted(buckets.items()):
        tally = total_of(tallies)
        points.append(
            TrendPoint(start, tally.contacts, tally.manual_answer_rate, tally.satisfaction)
        )
    return tuple(points)


def current_shift_bounds(session: Session, now: datetime) -> tuple[str, datetime, datetime] | None:
    shift = session.exec(
        select(Shift)
        .where(col(Shift.starts_at) <= now, col(Shift.ends_at) > now)
        .order_by(col(Shift.starts_at).desc(), col(Shift.id).desc())
        .limit(1)
    ).first()
    if shift is None:
        return None
    return shift.name, shift.starts_at, shift.ends_at


def resolve_period(
    session: Session,
    kind: PeriodKind,
    *,
    first: date | None = None,
    last: date | None = None,
) -> tuple[Period, str | None]:
    """The period of ``kind`` at the transaction's instant, and the shift's name for
    "this shift" (None when no shift covers now: the period falls back to today)."""
    now = now_of(session)
    shift = current_shift_bounds(session, now) if kind is PeriodKind.SHIFT else None
    period = period_of(
        kind, now, ZONE, shift=(shift[1], shift[2]) if shift else None, first=first, last=last
    )
    return period, shift[0] if shift else None


def build_dashboard(
    session: Session, *, period: Period, policy: Policy, shift_name: str | None = None
) -> Dashboard:
    """Every figure of the dashboard for ``period``, read in ``session``."""
    without_jit(session)
    now = now_of(session)
    found = contact_figures(session, period=period, policy=policy)
    hours = found.hours
    totals = total_of(item.tally for item in hours)
    complaints = complaint_tally(session, period=period, policy=policy)
    churn, churn_as_of = live_churn(session, period=period, policy=policy)
    measured = totals.average_handle_seconds
    handle = measured if measured else float(policy.staffing.default_handle_seconds)
    by_hour = period.days <= 1
    spots, needing = hot_spots_and_attention(session, period=period, now=now)
    return Dashboard(
        period=period,
        computed_at=now,
        tiles=tiles_of(totals, complaints, churn, policy),
        contacts=totals,
        complaints=complaints,
        churn=churn,
        churn_as_of=churn_as_of,
        handle_seconds=handle,
        handle_measured=measured is not None,
        hours=hour_loads(hours, found.agents, period, handle, policy),
        mix=mix_of(hours, totals.contacts),
        trend=trend_of(hours, by_hour=by_hour),
        trend_by_hour=by_hour,
        hot_spots=spots,
        attention=needing,
        shift_name=shift_name,
    )


@reads
def period_now(session: Session, kind: PeriodKind) -> Period:
    """The period of ``kind`` at the database's now (this shift: the shift on now)."""
    return resolve_period(session, kind)[0]


@reads
def dashboard(
    session: Session,
    *,
    actor: Actor,
    policy: Policy,
    kind: PeriodKind = PeriodKind.TODAY,
    first: date | None = None,
    last: date | None = None,
) -> Dashboard:
    """The dashboard for the period of ``kind`` (``first``/``last`` for a chosen range)."""
    require(session, actor, Permission.VIEW_DASHBOARD)
    period, shift_name = resolve_period(session, kind, first=first, last=last)
    return build_dashboard(session, period=period, policy=policy, shift_name=shift_name)


__all__ = ["Dashboard", "HourLoad", "MixItem", "Tile", "TrendPoint", "dashboard"]
