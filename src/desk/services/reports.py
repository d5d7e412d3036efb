"""The reports: the dashboard's figures for a period, the complaint analysis, the satisfaction
analysis and the customer tables, as sections of rows that the ``desk report`` command writes
as text, CSV, XLSX or JSON (``docs/reports.md`` documents the shape).

Every figure comes from :mod:`desk.services.figures` — the functions the dashboard uses — and
every report carries its period and the written definitions of its figures (the docstrings
of :mod:`desk.rules.kpi`). A figure with nothing to measure is ``None`` (shown "–").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from desk.infra.database import now_of, reads
from desk.infra.errors import InvalidInput
from desk.models import Branch, Contact, WorkOrder, WorkOrderEvent
from desk.rules import kpi
from desk.rules.kpi import TARGET_FIGURES, Rate, definition_of, rate
from desk.rules.periods import Period, day_period, month_period, range_period
from desk.rules.permissions import Actor, Permission
from desk.rules.policy import Policy
from desk.rules.vocab import EventKind, RequestType
from desk.services.access import require
from desk.services.dashboard import CHURN_NOT_COUNTED, Dashboard, build_dashboard
from desk.services.figures import (
    ZONE,
    HotSpots,
    complaint_conditions,
    complaint_tally,
    count_of,
    hot_spots,
    within,
    without_jit,
)
from desk.services.satisfaction import SatisfactionGroup, build_satisfaction


class ReportKind(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    COMPLAINTS = "complaints"
    SATISFACTION = "satisfaction"
    CUSTOMERS = "customers"


class ColumnKind(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"  # a decimal (averages, seconds)
    PERCENT = "percent"  # 0–100, None: nothing to measure
    MONEY = "money"  # yuan, two decimals
    DATE = "date"
    DATETIME = "datetime"  # local time of the center


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    kind: ColumnKind = ColumnKind.TEXT


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]
    note: str = ""


@dataclass(frozen=True)
class Report:
    kind: ReportKind
    title: str
    period: Period
    generated_at: datetime
    sections: tuple[Section, ...]
    definitions: tuple[tuple[str, str], ...] = field(default=())

    def section(self, key: str) -> Section:
        for section in self.sections:
            if section.key == key:
                return section
        raise KeyError(key)


# --- periods ---------------------------------------------------------------------------------


def report_period(
    kind: ReportKind, now: datetime, *, first: date | None = None, last: date | None = None
) -> Period:
    """The period a report covers: ``first``..``last`` when given (one of them alone is that
    one day), else the last complete one — yesterday (daily), the 7 days up to yesterday
    (weekly), last month (monthly, complaints, satisfaction, customers)."""
    today = now.astimezone(ZONE).date()
    if first is not None or last is not None:
        start = first or last
        end = last or first
        assert start is not None
        assert end is not None
        if end < start:
            raise InvalidInput(f"--to {end} comes before --from {start}", field="to")
        if start == end:
            return day_period(start, now, ZONE)
        return range_period(start, end, now, ZONE)
    yesterday = today - timedelta(days=1)
    if kind is ReportKind.DAILY:
        return day_period(yesterday, now, ZONE)
    if kind is ReportKind.WEEKLY:
        return range_period(yesterday - timedelta(days=6), yesterday, now, ZONE)
    last_month = today.replace(day=1) - timedelta(days=1)
    return month_period(last_month.year, last_month.month, now, ZONE)


# --- rows ------------------------------------------------------------------------------------


def pct(value: Rate | None) -> float | None:
    return None if value is None else round(value.percent, 2)


FIGURE_TITLES = {
    "manual_answer_rate": "Manual answer rate (人工接通率)",
    "vip_answer_rate": "VIP-line answer rate",
    "satisfaction": "Customer satisfaction (满意度)",
    "complaint_satisfaction": "Complaint satisfaction",
    "complaint_reply_rate": "Complaint reply rate (回复率)",
    "complaint_on_standard": "Complaint handling on standard (投诉规范率)",
    "complaint_closure": "Complaint closure (结案率)",
    "churn_member_max": "Member churn (会员流失率)",
    "churn_other_max": "Churn of other customers",
}

TARGET_BY_KEY = {figure.key: figure for figure in TARGET_FIGURES}
TARGET_COLUMNS = (
    Column("figure", "Figure"),
    Column("value", "Value %", ColumnKind.PERCENT),
    Column("numerator", "Counted", ColumnKind.INTEGER),
    Column("denominator", "Of", ColumnKind.INTEGER),
    Column("target", "Target"),
    Column("standing", "Standing"),
)


def target_row(key: str, value: Rate | None, policy: Policy) -> tuple[Any, ...]:
    """One target's row (:data:`TARGET_COLUMNS`): its figure, value, counts, target and
    standing, judged as the dashboard's tile is (:data:`~desk.rules.kpi.TARGET_FIGURES`)."""
    figure = TARGET_BY_KEY[key]
    return (
        FIGURE_TITLES[key],
        pct(value),
        value.numerator if value else None,
        value.denominator if value else None,
        f"{'≤' if figure.at_most else '≥'}{figure.target(policy):g}%",
        figure.standing(value, policy).value,
    )


def _targets_section(data: Dashboard, policy: Policy, keys: Sequence[str] | None = None) -> Section:
    rows = tuple(
        target_row(tile.key, tile.value, policy)
        for tile in data.tiles
        if keys is None or tile.key in keys
    )
    missing = any(tile.reason == CHURN_NOT_COUNTED for tile in data.tiles)
    note = (
        "Churn: no hourly churn count in the hour before the period's end (the summaries' "
        "refresh takes one each hour; those at midnight are kept)."
        if missing
        else ""
    )
    return Section("targets", "Targets", TARGET_COLUMNS, rows, note=note)


def _contacts_section(data: Dashboard) -> Section:
    c = data.contacts
    handle = c.average_handle_seconds
    rows = (
        ("Contacts", c.contacts),
        ("Offered to agents (voice, inbound, short abandons excluded)", c.offered),
        ("Answered", c.answered),
        ("Answered within the service-level time", c.quick),
        ("Service level %", pct(c.service_level)),
        ("VIP line offered", c.vip_offered),
        ("VIP line answered", c.vip_answered),
        ("Satisfaction marks", c.marked),
        ("Satisfied marks", c.satisfied),
        ("Average handling time (s)", None if handle is None else round(handle, 1)),
    )
    return Section(
        "contacts",
        "Contacts",
        (Column("measure", "Measure"), Column("value", "Value", ColumnKind.NUMBER)),
        rows,
    )


def _hours_section(data: Dashboard) -> Section:
    rows = tuple(
        (
            f"{hour.hour:02d}:00",
            round(hour.calls, 2),
            round(hour.answered, 2),
            round(hour.agents, 2),
            hour.need,
            hour.short,
        )
        for hour in data.hours
    )
    per_day = " per day" if data.period.days > 1 else ""
    return Section(
        "by_hour",
        "Call volume by hour, agents on shift and the staffing need",
        (
            Column("hour", "Hour"),
            Column("calls", f"Calls offered{per_day}", ColumnKind.NUMBER),
            Column("answered", f"Answered{per_day}", ColumnKind.NUMBER),
            Column("agents", f"Agents on shift{per_day}", ColumnKind.NUMBER),
            Column("need", "Agents needed (Erlang C)", ColumnKind.INTEGER),
            Column("short", "More staff needed (增员需求)", ColumnKind.INTEGER),
        ),
        rows,
        note=f"Average handling time used: {data.handle_seconds:.0f} s"
        + ("" if data.handle_measured else " (the policy's default: no handled call)"),
    )


def _mix_section(data: Dashboard) -> Section:
    return Section(
        "request_types",
        "Request types",
        (
            Column("request_type", "Request type"),
            Column("contacts", "Contacts", ColumnKind.INTEGER),
            Column("share", "Share %", ColumnKind.PERCENT),
        ),
        tuple(
            (
                item.request_type or "(none)",
                item.contacts,
                None if item.share_percent is None else round(item.share_percent, 2),
            )
            for item in data.mix
        ),
    )


def _trend_section(data: Dashboard) -> Section:
    pattern = "%Y-%m-%d %H:00" if data.trend_by_hour else "%Y-%m-%d"
    return Section(
        "trend",
        "Trend of answer rate and satisfaction",
        (
            Column("start", "Hour" if data.trend_by_hour else "Day"),
            Column("contacts", "Contacts", ColumnKind.INTEGER),
            Column("answer_rate", "Answer rate %", ColumnKind.PERCENT),
            Column("satisfaction", "Satisfaction %", ColumnKind.PERCENT),
        ),
        tuple(
            (
                point.start.astimezone(ZONE).strftime(pattern),
                point.contacts,
                pct(point.answer_rate),
                pct(point.satisfaction),
            )
            for point in data.trend
        ),
    )


def _attention_section(data: Dashboard) -> Section:
    found = data.attention
    return Section(
        "attention",
        "Open work orders overdue, escalated or major (now)",
        (
            Column("number", "Work order"),
            Column("category", "Type"),
            Column("status", "Status"),
            Column("major", "Major"),
            Column("escalation", "Escalation level", ColumnKind.INTEGER),
            Column("first_missed", "First deadline missed", ColumnKind.DATETIME),
            Column("branch", "Branch"),
        ),
        tuple(
            (
                order.number,
                order.category,
                order.status,
                "yes" if order.is_major else "",
                order.escalation_level,
                order.first_missed,
                order.branch or "",
            )
            for order in found.orders
        ),
        note=f"{found.overdue} overdue, {found.escalated} escalated, {found.major} major "
        f"(the first {len(found.orders)} listed)",
    )


def _spot_sections(spots: HotSpots) -> tuple[Section, ...]:
    def spot(key: str, title: str, label: str, items: Sequence[Any]) -> Section:
        return Section(
            key,
            title,
            (
                Column("label", label),
                Column("complaints", "Complaints", ColumnKind.INTEGER),
                Column("share", "Share %", ColumnKind.PERCENT),
            ),
            tuple(
                (
                    item.label or "(none)",
                    item.count,
                    None if item.share_percent is None else round(item.share_percent, 2),
                )
                for item in items
            ),
        )

    return (
        spot("hot_topics", "Complaint hot spots: topics", "Topic", spots.topics),
        spot("hot_branches", "Complaint hot spots: branches", "Branch", spots.branches),
        spot("hot_regions", "Complaint hot spots: regions", "Region", spots.regions),
        Section(
            "repeat_complainers",
            "Repeat complainers (two complaints or more in the period)",
            (
                Column("customer_no", "Customer no."),
                Column("name", "Name (masked)"),
                Column("region", "Region"),
                Column("complaints", "Complaints", ColumnKind.INTEGER),
            ),
            tuple(
                (person.customer_no, person.name_masked, person.region, person.complaints)
                for person in spots.complainers
            ),
        ),
    )


W = WorkOrder.__table__.c  # type: ignore[attr-defined]
E = WorkOrderEvent.__table__.c  # type: ignore[attr-defined]
C = Contact.__table__.c  # type: ignore[attr-defined]


def _ladder_by_branch(session: Session, period: Period, policy: Policy) -> Section:
    """Ladder performance per branch: the complaint figures' counts grouped by the branch
    of the order, with the chase events recorded in the period."""
    branch = Branch.__table__.c  # type: ignore[attr-defined]
    conditions = complaint_conditions(period, policy)

    def events(kind: EventKind) -> Any:
        return (
            select(func.count())
            .where(
                E.work_order_id == W.id,
                E.kind == kind.value,
                within(E.at, period.start, period.end),
            )
            .correlate(WorkOrder.__table__)  # type: ignore[attr-defined]
            .scalar_subquery()
        )

    statement = (
        select(
            func.coalesce(branch.name, "(none)").label("branch"),
            count_of(within(W.created_at, period.start, period.as_of)).label("received"),
            *(count_of(condition).label(name) for name, condition in conditions.items()),
            func.coalesce(func.sum(events(EventKind.BREACH)), 0).label("breaches"),
            func.coalesce(func.sum(events(EventKind.REMINDER)), 0).label("reminders"),
            func.coalesce(func.sum(events(EventKind.ESCALATION_PROPOSED)), 0).label("escalations"),
        )
        .select_from(WorkOrder.__table__)  # type: ignore[attr-defined]
        .outerjoin(Branch.__table__, branch.id == W.branch_id)  # type: ignore[attr-defined]
        .where(
            W.category == RequestType.COMPLAINT.value,
            W.created_at < period.end,
            (W.closed_at.is_(None)) | (W.closed_at >= period.start),
        )
        .group_by(branch.name)
        .order_by(branch.name)
    )
    rows = []
    for row in session.execute(statement):
        m = row._mapping
        rows.append(
            (
                m["branch"],
                int(m["received"]),
                pct(rate(int(m["replied"]), int(m["reply_due"]))),
                pct(rate(int(m["closed"]), int(m["closure_due"]))),
                pct(rate(int(m["standard_clean"]), int(m["standard_counted"]))),
                pct(rate(int(m["satisfied"]), int(m["asked"]))),
                int(m["breaches"]),
                int(m["reminders"]),
                int(m["escalations"]),
            )
        )
    return Section(
        "ladder_by_branch",
        "Complaint ladder performance per branch",
        (
            Column("branch", "Branch"),
            Column("received", "Complaints received", ColumnKind.INTEGER),
            Column("reply_rate", "Reply rate %", ColumnKind.PERCENT),
            Column("closure", "Closure %", ColumnKind.PERCENT),
            Column("on_standard", "On standard %", ColumnKind.PERCENT),
            Column("satisfaction", "Satisfaction %", ColumnKind.PERCENT),
            Column("breaches", "Breaches", ColumnKind.INTEGER),
            Column("reminders", "Reminders (督促)", ColumnKind.INTEGER),
            Column("escalations", "Escalations proposed", ColumnKind.INTEGER),
        ),
        tuple(rows),
    )


GROUP_COLUMNS = (
    Column("marked", "Marks", ColumnKind.INTEGER),
    Column("satisfied", "Satisfied", ColumnKind.INTEGER),
    Column("satisfaction", "Satisfaction %", ColumnKind.PERCENT),
)


def _groups(key: str, title: str, label: str, groups: Sequence[SatisfactionGroup]) -> Section:
    return Section(
        key,
        title,
        (Column("label", label), *GROUP_COLUMNS),
        tuple(
            (
                group.key or "(none)",
                group.marked,
                group.satisfied,
                pct(group.satisfaction),
            )
            for group in groups
        ),
    )


def satisfaction_sections(
    session: Session, *, period: Period, policy: Policy
) -> tuple[Section, ...]:
    """The satisfaction report: :func:`desk.services.satisfaction.build_satisfaction` as
    sections."""
    data = build_satisfaction(session, period=period, policy=policy)
    total = sum(n for _mark, n in data.marks)
    pattern = "%Y-%m-%d %H:00" if data.trend_by_hour else "%Y-%m-%d"
    return (
        Section(
            "targets",
            "Satisfaction against its targets",
            TARGET_COLUMNS,
            (
                target_row("satisfaction", data.overall.satisfaction, policy),
                target_row("complaint_satisfaction", data.complaints.satisfaction, policy),
            ),
        ),
        _groups(
            "by_request_type",
            "Satisfaction by request type",
            "Request type",
            data.by_request_type,
        ),
        _groups("by_channel", "Satisfaction by channel", "Channel", data.by_channel),
        _groups("by_branch", "Satisfaction by branch (the customer's)", "Branch", data.by_branch),
        _groups("by_agent", "Satisfaction by agent (who answered)", "Agent", data.by_agent),
        Section(
            "satisfaction_trend",
            "Trend of satisfaction",
            (Column("start", "Hour" if data.trend_by_hour else "Day"), *GROUP_COLUMNS),
            tuple(
                (
                    point.start.astimezone(ZONE).strftime(pattern),
                    point.marked,
                    point.satisfied,
                    pct(point.satisfaction),
                )
                for point in data.trend
            ),
        ),
        Section(
            "marks",
            "Satisfaction marks (1 very unhappy … 5 very happy)",
            (
                Column("mark", "Mark", ColumnKind.INTEGER),
                Column("contacts", "Contacts", ColumnKind.INTEGER),
                Column("share", "Share %", ColumnKind.PERCENT),
            ),
            tuple(
                (mark, n, None if not total else round(100.0 * n / total, 2))
                for mark, n in data.marks
            ),
        ),
        Section(
            "complaint_satisfaction",
            "Complaint satisfaction at callback",
            TARGET_COLUMNS[:4],
            (
                (
                    FIGURE_TITLES["complaint_satisfaction"],
                    pct(data.complaints.satisfaction),
                    data.complaints.satisfied,
                    data.complaints.marked,
                ),
            ),
        ),
        _groups(
            "complaints_by_branch",
            "Complaint satisfaction by branch (the work order's)",
            "Branch",
            data.complaints_by_branch,
        ),
    )


# --- definitions -----------------------------------------------------------------------------


def definitions(kind: ReportKind) -> tuple[tuple[str, str], ...]:
    """The written definitions of the figures a report shows (the rules' docstrings)."""
    figures = {figure.key: figure.definition for figure in TARGET_FIGURES}
    wanted: list[str]
    if kind is ReportKind.COMPLAINTS:
        wanted = [
            "complaint_reply_rate",
            "complaint_closure",
            "complaint_on_standard",
            "complaint_satisfaction",
        ]
    elif kind is ReportKind.SATISFACTION:
        wanted = ["satisfaction", "complaint_satisfaction"]
    elif kind is ReportKind.CUSTOMERS:
        wanted = ["churn_member_max", "churn_other_max"]
    else:
        wanted = list(figures)
    rows = [(FIGURE_TITLES[key], definition_of(figures[key])) for key in wanted]
    if kind in (ReportKind.DAILY, ReportKind.WEEKLY, ReportKind.MONTHLY):
        rows.append(("Service level", definition_of(kpi.service_level)))
        rows.append(("Offered", definition_of(kpi.counts_as_offered)))
        rows.append(
            (
                "Agents on shift",
                "the distinct agents who answered a contact offered in that hour.",
            )
        )
        rows.append(
            (
                "Agents needed",
                "Erlang C: the fewest agents for the staffing target, shrinkage added "
                "(desk.rules.staffing), for the hour's calls at the period's handling time.",
            )
        )
    if kind is ReportKind.CUSTOMERS:
        rows.append(("Tier statistics", definition_of(kpi.tier_statistics_from)))
        rows.append(("Churned", definition_of(kpi.has_churned)))
        rows.append(("Big-customer class", definition_of(kpi.proposed_big_customer_class)))
    rows.append(("Satisfied mark", definition_of(kpi.is_satisfied)))
    return tuple(rows)


TITLES = {
    ReportKind.DAILY: "Daily report",
    ReportKind.WEEKLY: "Weekly report",
    ReportKind.MONTHLY: "Monthly report",
    ReportKind.COMPLAINTS: "Complaint analysis",
    ReportKind.SATISFACTION: "Satisfaction analysis",
    ReportKind.CUSTOMERS: "Customer analysis",
}


def build_report(session: Session, *, kind: ReportKind, period: Period, policy: Policy) -> Report:
    without_jit(session)
    sections: tuple[Section, ...]
    if kind in (ReportKind.DAILY, ReportKind.WEEKLY, ReportKind.MONTHLY):
        from desk.services.quality import quality_sections

        data = build_dashboard(session, period=period, policy=policy)
        sections = (
            _targets_section(data, policy),
            _contacts_section(data),
            _hours_section(data),
            _mix_section(data),
            _trend_section(data),
            *_spot_sections(data.hot_spots),
            _attention_section(data),
            *quality_sections(session, period=period, policy=policy),  # the floor's spot checks
        )
    elif kind is ReportKind.COMPLAINTS:
        tally = complaint_tally(session, period=period, policy=policy)
        rows = (
            (
                "Complaint reply rate (回复率)",
                pct(tally.reply_rate),
                tally.replied,
                tally.reply_due,
            ),
            (
                "Complaint closure (结案率)",
                pct(tally.closure_rate),
                tally.closed,
                tally.closure_due,
            ),
            (
                "Complaint handling on standard (投诉规范率)",
                pct(tally.on_standard),
                tally.standard_clean,
                tally.standard_counted,
            ),
            ("Complaint satisfaction", pct(tally.satisfaction), tally.satisfied, tally.asked),
        )
        sections = (
            Section("complaint_figures", "Complaint figures", TARGET_COLUMNS[:4], rows),
            *_spot_sections(hot_spots(session, period=period)),
            _ladder_by_branch(session, period, policy),
        )
    elif kind is ReportKind.SATISFACTION:
        sections = satisfaction_sections(session, period=period, policy=policy)
    else:
        from desk.services.customer_analysis import customer_sections

        sections = customer_sections(session, period=period, policy=policy)
    return Report(
        kind=kind,
        title=TITLES[kind],
        period=period,
        generated_at=now_of(session),
        sections=sections,
        definitions=definitions(kind),
    )


@reads
def report(
    session: Session,
    *,
    actor: Actor,
    policy: Policy,
    kind: ReportKind,
    first: date | None = None,
    last: date | None = None,
) -> Report:
    """One report for its period (see :func:`report_period`); the customer report also
    needs the customer-analysis permission."""
    require(session, actor, Permission.RUN_REPORTS)
    if kind is ReportKind.CUSTOMERS:
        require(session, actor, Permission.VIEW_CUSTOMER_ANALYSIS)
    period = report_period(ReportKind(kind), now_of(session), first=first, last=last)
    return build_report(session, kind=ReportKind(kind), period=period, policy=policy)


__all__ = ["Report", "ReportKind", "Section", "report"]
