"""Satisfaction analysis for a period: where callers are satisfied and where not.

One definition with the dashboard: a contact's mark counts by :func:`desk.rules.kpi.
satisfaction` (marked contacts; satisfied at ``kpi.satisfied_min_mark`` or above), in SQL by
:func:`desk.services.figures.contact_conditions`; complaints by their callback mark
(:func:`desk.services.figures.complaint_conditions`: closed in the period with a mark).

- overall, by request type and the trend (per local day; per hour for a one-day period): from
  the same hourly counts as the dashboard (:func:`~desk.services.figures.contact_figures`), so
  the analysis and the satisfaction tile always agree;
- by channel, by branch (the customer's) and by agent (who answered), and the spread of marks
  1–5: one statement over the period's marked contacts (a UNION ALL of small aggregates);
- complaint satisfaction, overall (the tile's) and by the work order's branch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, func, literal_column, select, union_all
from sqlmodel import Session

from desk.infra.database import now_of, reads
from desk.models import Branch, Customer, StaffUser, WorkOrder
from desk.rules.kpi import Rate, rate
from desk.rules.periods import Period
from desk.rules.permissions import Actor, Permission
from desk.rules.policy import Policy
from desk.rules.vocab import RequestType
from desk.services.access import require
from desk.services.figures import (
    C,
    ContactTally,
    W,
    complaint_conditions,
    complaint_tally,
    contact_conditions,
    contact_figures,
    count_of,
    total_of,
    within,
    without_jit,
)

MARKS = (5, 4, 3, 2, 1)


@dataclass(frozen=True)
class SatisfactionGroup:
    """The marks of one group: a request type, channel, branch or agent (``key`` None: none
    recorded)."""

    key: str | None
    marked: int
    satisfied: int

    @property
    def satisfaction(self) -> Rate | None:
        return rate(self.satisfied, self.marked)


@dataclass(frozen=True)
class SatisfactionPoint:
    start: datetime  # local day (or hour)
    marked: int
    satisfied: int

    @property
    def satisfaction(self) -> Rate | None:
        return rate(self.satisfied, self.marked)


@dataclass(frozen=True)
class SatisfactionAnalysis:
    period: Period
    computed_at: datetime
    overall: SatisfactionGroup
    by_request_type: tuple[SatisfactionGroup, ...]
    by_channel: tuple[SatisfactionGroup, ...]
    by_branch: tuple[SatisfactionGroup, ...]
    by_agent: tuple[SatisfactionGroup, ...]  # key: the agent's display name
    marks: tuple[tuple[int, int], ...]  # (mark, contacts), 5 down to 1
    trend: tuple[SatisfactionPoint, ...]
    trend_by_hour: bool
    complaints: SatisfactionGroup  # complaints closed in the period, marked at callback
    complaints_by_branch: tuple[SatisfactionGroup, ...]


def _ordered(groups: list[SatisfactionGroup]) -> tuple[SatisfactionGroup, ...]:
    """Most marks first, then by name (none last)."""
    return tuple(sorted(groups, key=lambda g: (-g.marked, g.key is None, g.key or "")))


def _contact_groups(
    session: Session, period: Period, policy: Policy
) -> tuple[dict[str, list[SatisfactionGroup]], dict[int, int]]:
    conditions = contact_conditions(policy)
    marked_contacts = (
        select(C.channel, C.agent_id, C.customer_id, C.satisfaction)
        .where(within(C.offered_at, period.start, period.as_of), conditions["marked"])
        .cte("marked_contacts")
    )
    m = marked_contacts.c
    satisfied = count_of(m.satisfaction >= policy.kpi.satisfied_min_mark)
    branch = Branch.__table__.c  # type: ignore[attr-defined]
    customer = Customer.__table__.c  # type: ignore[attr-defined]
    staff = StaffUser.__table__.c  # type: ignore[attr-defined]

    def part(name: str, key: Any) -> list[Any]:
        return [
            literal_column(f"'{name}'", String()).label("part"),
            cast(key, String()).label("key"),
            func.count().label("marked"),
            satisfied.label("satisfied"),
        ]

    parts = [
        select(*part("channel", m.channel)).group_by(m.channel),
        select(*part("branch", branch.name))
        .select_from(marked_contacts)
        .outerjoin(Customer.__table__, customer.id == m.customer_id)  # type: ignore[attr-defined]
        .outerjoin(Branch.__table__, branch.id == customer.branch_id)  # type: ignore[attr-defined]
        .group_by(branch.name),
        select(*part("agent", staff.display_name))
        .select_from(marked_contacts)
        .outerjoin(StaffUser.__table__, staff.id == m.agent_id)  # type: ignore[attr-defined]
        .group_by(staff.display_name),
        select(*part("mark", m.satisfaction)).group_by(m.satisfaction),
    ]
    groups: dict[str, list[SatisfactionGroup]] = {"channel": [], "branch": [], "agent": []}
    marks: dict[int, int] = {}
    for row in session.execute(union_all(*parts)):
        if row.part == "mark":
            marks[int(row.key)] = int(row.marked)
        else:
            groups[row.part].append(SatisfactionGroup(row.key, int(row.marked), int(row.satisfied)))
    return groups, marks


def _complaints_by_branch(
    session: Session, period: Period, policy: Policy
) -> tuple[SatisfactionGroup, ...]:
    conditions = complaint_conditions(period, policy)
    branch = Branch.__table__.c  # type: ignore[attr-defined]
    asked = count_of(conditions["asked"]).label("asked")
    statement = (
        select(branch.name, asked, count_of(conditions["satisfied"]).label("satisfied"))
        .select_from(WorkOrder.__table__)  # type: ignore[attr-defined]
        .outerjoin(Branch.__table__, branch.id == W.branch_id)  # type: ignore[attr-defined]
        .where(
            W.category == RequestType.COMPLAINT.value,
            within(W.closed_at, period.start, period.end),
            W.satisfaction.is_not(None),
        )
        .group_by(branch.name)
    )
    return _ordered(
        [
            SatisfactionGroup(row.name, int(row.asked), int(row.satisfied))
            for row in session.execute(statement)
            if row.asked
        ]
    )


def build_satisfaction(session: Session, *, period: Period, policy: Policy) -> SatisfactionAnalysis:
    """The satisfaction analysis of ``period``, read in ``session``."""
    from desk.services.dashboard import trend_of

    without_jit(session)
    hours = contact_figures(session, period=period, policy=policy).hours
    totals = total_of(item.tally for item in hours)
    kinds: dict[str | None, list[ContactTally]] = {}
    for item in hours:
        kinds.setdefault(item.request_type, []).append(item.tally)
    by_type = [
        SatisfactionGroup(kind, summed.marked, summed.satisfied)
        for kind, tallies in kinds.items()
        if (summed := total_of(tallies)).marked
    ]
    by_hour = period.days <= 1
    trend = tuple(
        SatisfactionPoint(point.start, point.satisfaction.denominator, point.satisfaction.numerator)
        for point in trend_of(hours, by_hour=by_hour)
        if point.satisfaction is not None
    )
    groups, marks = _contact_groups(session, period, policy)
    complaints = complaint_tally(session, period=period, policy=policy)
    return SatisfactionAnalysis(
        period=period,
        computed_at=now_of(session),
        overall=SatisfactionGroup(None, totals.marked, totals.satisfied),
        by_request_type=_ordered(by_type),
        by_channel=_ordered(groups["channel"]),
        by_branch=_ordered(groups["branch"]),
        by_agent=_ordered(groups["agent"]),
        marks=tuple((mark, marks.get(mark, 0)) for mark in MARKS),
        trend=trend,
        trend_by_hour=by_hour,
        complaints=SatisfactionGroup(None, complaints.asked, complaints.satisfied),
        complaints_by_branch=_complaints_by_branch(session, period, policy),
    )


@reads
def satisfaction_analysis(
    session: Session, *, actor: Actor, policy: Policy, period: Period
) -> SatisfactionAnalysis:
    """The satisfaction analysis for ``period`` (the dashboard's; supervisors, leads)."""
    require(session, actor, Permission.VIEW_DASHBOARD)
    return build_satisfaction(session, period=period, policy=policy)


__all__ = [
    "SatisfactionAnalysis",
    "SatisfactionGroup",
    "SatisfactionPoint",
    "build_satisfaction",
    "satisfaction_analysis",
]
