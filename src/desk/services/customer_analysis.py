"""Customer analysis for the managers: tier statistics (by day and by month), churn against its
targets with the churned members, frequent callers, birthdays (this month and tomorrow), the
big-customer value assessment, and the big-customer file kept by the big-customer manager.

Counts are set-based SQL handed to the rules (:func:`~desk.rules.kpi.tier_statistics_from`,
the churn conditions of :mod:`desk.services.figures`, :func:`~desk.rules.kpi.
proposed_big_customer_class`); lists are bounded (at most :data:`LIST_LIMIT` rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import String, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session

from desk.infra.database import now_of, reads, writes
from desk.infra.errors import InvalidInput, NotFound
from desk.models import Bill, Contact, Customer, WorkOrder
from desk.rules.kpi import (
    Rate,
    TierTally,
    proposed_big_customer_class,
    rate,
    share_percent,
    tier_statistics_from,
)
from desk.rules.masking import mask_name
from desk.rules.periods import Period
from desk.rules.permissions import Actor, Permission
from desk.rules.policy import Policy
from desk.rules.vocab import BigCustomerClass, RequestType, Tier
from desk.services import audit
from desk.services.access import require
from desk.services.figures import (
    OPEN_STATUSES,
    ZONE,
    ChurnTally,
    churn_conditions,
    churn_tally,
    contact_conditions,
    count_of,
    utc_hour,
    within,
    without_jit,
)

LIST_LIMIT = 200

CU = Customer.__table__.c  # type: ignore[attr-defined]
C = Contact.__table__.c  # type: ignore[attr-defined]
B = Bill.__table__.c  # type: ignore[attr-defined]
W = WorkOrder.__table__.c  # type: ignore[attr-defined]


class month_day(FunctionElement[str]):  # noqa: N801 - reads as a SQL function
    """A date's month and day as text ``MM-DD``."""

    type = String()
    inherit_cache = True
    name = "month_day"


@compiles(month_day, "sqlite")
def _month_day_sqlite(element: month_day, compiler: SQLCompiler, **kw: Any) -> str:
    (value,) = list(element.clauses)
    return f"strftime('%m-%d', {compiler.process(value, **kw)})"


@compiles(month_day, "postgresql")
def _month_day_pg(element: month_day, compiler: SQLCompiler, **kw: Any) -> str:
    (value,) = list(element.clauses)
    return f"to_char({compiler.process(value, **kw)}, 'MM-DD')"


def months_of(period: Period) -> list[str]:
    """The bill periods (``YYYY-MM``) the period touches."""
    first = period.start.astimezone(ZONE).date().replace(day=1)
    last = (period.end - timedelta(seconds=1)).astimezone(ZONE).date()
    months = []
    at = first
    while at <= last:
        months.append(f"{at.year:04d}-{at.month:02d}")
        at = (at + timedelta(days=32)).replace(day=1)
    return months


def months_up_to(period: Period, count: int) -> list[str]:
    """The ``count`` bill periods (``YYYY-MM``) up to the month the period ends in."""
    last = (period.end - timedelta(seconds=1)).astimezone(ZONE).date()
    year, month = last.year, last.month
    months = []
    for _step in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return sorted(months)


SCREEN_MONTHS = 6
"""Bill months the customer analysis shows per tier (the report shows the period's own)."""


# --- tiers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TierRow:
    tier: Tier
    customers: int
    customer_share: float | None
    contacts: int
    contact_share: float | None
    contacts_per_customer: float | None
    bills: int
    spend_cents: int
    average_bill_cents: float | None
    spend_share: float | None
    marked: int = 0  # satisfaction marks on the tier's contacts in the period
    satisfied: int = 0

    @property
    def satisfaction(self) -> Rate | None:
        return rate(self.satisfied, self.marked)


def tier_rows(session: Session, *, period: Period, policy: Policy) -> tuple[TierRow, ...]:
    """Per tier: customers, contacts in the period (and their satisfaction, by the rule of
    the dashboard's), and the bills of the months it touches."""
    customers = {
        str(row[0]): int(row[1])
        for row in session.execute(select(CU.tier, func.count()).group_by(CU.tier))
    }
    marks = contact_conditions(policy)
    contact_rows = {
        str(row[0]): (int(row[1]), int(row[2]), int(row[3]))
        for row in session.execute(
            select(
                CU.tier,
                func.count(),
                count_of(marks["marked"]),
                count_of(marks["satisfied"]),
            )
            .select_from(Contact.__table__)  # type: ignore[attr-defined]
            .join(Customer.__table__, CU.id == C.customer_id)  # type: ignore[attr-defined]
            .where(within(C.offered_at, period.start, period.as_of))
            .group_by(CU.tier)
        )
    }
    contacts = {tier: n for tier, (n, _marked, _satisfied) in contact_rows.items()}
    bills = {
        str(row[0]): (int(row[1]), int(row[2] or 0))
        for row in session.execute(
            select(CU.tier, func.count(), func.sum(B.amount_cents))
            .select_from(Bill.__table__)  # type: ignore[attr-defined]
            .join(Customer.__table__, CU.id == B.customer_id)  # type: ignore[attr-defined]
            .where(B.period.in_(months_of(period)))
            .group_by(CU.tier)
        )
    }
    by_customers = tier_statistics_from({Tier(t): TierTally(n, 0) for t, n in customers.items()})
    by_contacts = tier_statistics_from({Tier(t): TierTally(n, 0) for t, n in contacts.items()})
    by_bills = tier_statistics_from({Tier(t): TierTally(n, s) for t, (n, s) in bills.items()})
    total_spend = sum(spend for _n, spend in bills.values())
    return tuple(
        TierRow(
            tier=tier,
            customers=by_customers[tier].count,
            customer_share=by_customers[tier].share_percent,
            contacts=by_contacts[tier].count,
            contact_share=by_contacts[tier].share_percent,
            contacts_per_customer=(
                by_contacts[tier].count / by_customers[tier].count
                if by_customers[tier].count
                else None
            ),
            bills=by_bills[tier].count,
            spend_cents=bills.get(tier.value, (0, 0))[1],
            average_bill_cents=by_bills[tier].average_spend_cents,
            spend_share=share_percent(bills.get(tier.value, (0, 0))[1], total_spend),
            marked=contact_rows.get(tier.value, (0, 0, 0))[1],
            satisfied=contact_rows.get(tier.value, (0, 0, 0))[2],
        )
        for tier in Tier
    )


def tier_days(session: Session, *, period: Period) -> list[tuple[str, Tier, int, float | None]]:
    """(day, tier, contacts, share of the day's contacts) for each local day of the period."""
    hour = utc_hour(C.offered_at).label("hour")
    rows = session.execute(
        select(hour, CU.tier, func.count())
        .select_from(Contact.__table__)  # type: ignore[attr-defined]
        .join(Customer.__table__, CU.id == C.customer_id)  # type: ignore[attr-defined]
        .where(within(C.offered_at, period.start, period.as_of))
        .group_by(hour, CU.tier)
    )
    from desk.services.figures import parse_utc_hour

    per_day: dict[str, dict[Tier, int]] = {}
    for row in rows:
        day = parse_utc_hour(row[0]).astimezone(ZONE).date().isoformat()
        tiers = per_day.setdefault(day, dict.fromkeys(Tier, 0))
        tiers[Tier(row[1])] += int(row[2])
    result = []
    for day in sorted(per_day):
        stats = tier_statistics_from({tier: TierTally(n, 0) for tier, n in per_day[day].items()})
        for tier in Tier:
            result.append((day, tier, stats[tier].count, stats[tier].share_percent))
    return result


def tier_months(
    session: Session, *, period: Period, months: list[str] | None = None
) -> list[tuple[str, Tier, int, int, float | None, float | None]]:
    """(month, tier, bills, spend, average bill, share of the month's spend) for ``months``
    (default: the months the period touches)."""
    rows = session.execute(
        select(B.period, CU.tier, func.count(), func.sum(B.amount_cents))
        .select_from(Bill.__table__)  # type: ignore[attr-defined]
        .join(Customer.__table__, CU.id == B.customer_id)  # type: ignore[attr-defined]
        .where(B.period.in_(months if months is not None else months_of(period)))
        .group_by(B.period, CU.tier)
    )
    per_month: dict[str, dict[Tier, TierTally]] = {}
    for row in rows:
        per_month.setdefault(str(row[0]), {})[Tier(row[1])] = TierTally(int(row[2]), int(row[3]))
    result = []
    for month in sorted(per_month):
        tallies = per_month[month]
        stats = tier_statistics_from(tallies)
        total = sum(t.spend_cents for t in tallies.values())
        for tier in Tier:
            spend = tallies.get(tier, TierTally()).spend_cents
            result.append(
                (
                    month,
                    tier,
                    stats[tier].count,
                    spend,
                    stats[tier].average_spend_cents,
                    share_percent(spend, total),
                )
            )
    return result


# --- churn, frequent callers, birthdays ------------------------------------------------------


@dataclass(frozen=True)
class CustomerLine:
    """One customer in a list: masked, with what the list is about."""

    id: int
    customer_no: str
    name_masked: str
    tier: str
    big_customer_class: str | None
    region: str
    last_activity_at: datetime | None
    value: int  # contacts (frequent callers), days unseen (churn), 0 otherwise
    birthday: str | None  # MM-DD


def _line(row: Any, value: int = 0) -> CustomerLine:
    return CustomerLine(
        id=row.id,
        customer_no=row.customer_no,
        name_masked=mask_name(row.name),
        tier=row.tier,
        big_customer_class=row.big_customer_class,
        region=row.region,
        last_activity_at=row.last_activity_at,
        value=value,
        birthday=row.birthday.strftime("%m-%d") if getattr(row, "birthday", None) else None,
    )


_LINE = (
    CU.id,
    CU.customer_no,
    CU.name,
    CU.tier,
    CU.big_customer_class,
    CU.region,
    CU.last_activity_at,
    CU.birthday,
)


def churned_members(
    session: Session, *, as_of: datetime, policy: Policy, limit: int = LIST_LIMIT
) -> tuple[CustomerLine, ...]:
    """Members who have churned, the most recently seen first (the likeliest to win back)."""
    condition = churn_conditions(as_of, policy)["members_churned"]
    rows = session.execute(
        select(*_LINE).where(condition).order_by(CU.last_activity_at.desc(), CU.id).limit(limit)
    )
    return tuple(
        _line(row, (as_of - row.last_activity_at).days if row.last_activity_at else -1)
        for row in rows
    )


def frequent_callers(
    session: Session, *, period: Period, policy: Policy, limit: int = 50
) -> tuple[CustomerLine, ...]:
    """Customers with at least ``big_customers.frequent_contacts`` contacts in the period,
    most first (常来顾客)."""
    count = func.count().label("n")
    top = (
        select(C.customer_id, count)
        .where(within(C.offered_at, period.start, period.as_of), C.customer_id.is_not(None))
        .group_by(C.customer_id)
        .having(func.count() >= policy.big_customers.frequent_contacts)
        .order_by(count.desc(), C.customer_id)
        .limit(limit)
        .subquery()
    )
    rows = session.execute(
        select(*_LINE, top.c.n)
        .join(top, top.c.customer_id == CU.id)
        .order_by(top.c.n.desc(), CU.id)
    )
    return tuple(_line(row, int(row.n)) for row in rows)


def birthdays(
    session: Session, *, today: date, policy: Policy, limit: int = LIST_LIMIT
) -> tuple[tuple[CustomerLine, ...], tuple[CustomerLine, ...]]:
    """Members and big customers whose birthday is this month, and those whose birthday is
    tomorrow (the greeting is made a day ahead)."""
    tomorrow = today + timedelta(days=1)
    members = CU.tier.in_([tier.value for tier in policy.kpi.member_tiers])
    greeted = or_(members, CU.big_customer_class.is_not(None))
    this_month = session.execute(
        select(*_LINE)
        .where(greeted, CU.birthday.is_not(None), month_day(CU.birthday).like(f"{today:%m}-%"))
        .order_by(month_day(CU.birthday), CU.id)
        .limit(limit)
    )
    next_day = session.execute(
        select(*_LINE)
        .where(greeted, CU.birthday.is_not(None), month_day(CU.birthday) == f"{tomorrow:%m-%d}")
        .order_by(CU.id)
        .limit(limit)
    )
    return tuple(_line(row) for row in this_month), tuple(_line(row) for row in next_day)


# --- big customers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Assessment:
    """One customer of the big-customer value assessment (大客户价值评估)."""

    id: int
    customer_no: str
    name_masked: str
    tier: str
    current_class: str | None
    proposed_class: BigCustomerClass | None
    account_manager_name: str | None
    days_since_seen: int | None  # recency
    contacts_90_days: int  # frequency
    average_monthly_cents: float | None  # spend
    open_complaints: int
    churned: bool

    @property
    def differs(self) -> bool:
        return (self.proposed_class.value if self.proposed_class else None) != self.current_class


def _latest_periods(session: Session, months: int) -> list[str]:
    rows = session.execute(
        select(B.period).distinct().order_by(B.period.desc()).limit(months)
    ).all()
    return [str(row[0]) for row in rows]


def assessment(
    session: Session, *, as_of: datetime, policy: Policy, limit: int = LIST_LIMIT
) -> tuple[Assessment, ...]:
    """The big-customer file (customers with a class) and the candidates whose latest bill
    reaches class C, each with recency, frequency, spend, account manager and open complaints,
    and the class the rule proposes. The file comes first, then candidates by spend."""
    rules = policy.big_customers
    periods = _latest_periods(session, rules.spend_months)
    candidates = select(B.customer_id).where(
        B.period == (periods[0] if periods else ""),
        B.amount_cents >= rules.class_c_min_monthly_cents,
    )
    chosen = (
        select(CU.id)
        .where(or_(CU.big_customer_class.is_not(None), CU.id.in_(candidates)))
        .order_by(CU.big_customer_class.is_(None), CU.id)
        .limit(limit)
        .subquery()
    )
    spend = (
        select(func.sum(B.amount_cents))
        .where(B.customer_id == CU.id, B.period.in_(periods or [""]))
        .scalar_subquery()
    )
    months_billed = (
        select(func.count(func.distinct(B.period)))
        .where(B.customer_id == CU.id, B.period.in_(periods or [""]))
        .scalar_subquery()
    )
    contacts = (
        select(func.count())
        .where(C.customer_id == CU.id, C.offered_at >= as_of - timedelta(days=90))
        .scalar_subquery()
    )
    complaints = (
        select(func.count())
        .where(
            W.customer_id == CU.id,
            W.category == RequestType.COMPLAINT.value,
            W.status.in_(OPEN_STATUSES),
        )
        .scalar_subquery()
    )
    churned = churn_conditions(as_of, policy)
    gone = or_(churned["members_churned"], churned["others_churned"])
    rows = session.execute(
        select(
            CU.id,
            CU.customer_no,
            CU.name,
            CU.tier,
            CU.big_customer_class,
            CU.account_manager_name,
            CU.last_activity_at,
            spend.label("spend"),
            months_billed.label("months"),
            contacts.label("contacts"),
            complaints.label("complaints"),
            count_of(gone).label("churned"),
        )
        .where(CU.id.in_(select(chosen.c.id)))
        .group_by(CU.id)
    )
    found = []
    for row in rows:
        months = int(row.months or 0)
        average = int(row.spend) / months if months and row.spend is not None else None
        is_churned = bool(row.churned)
        found.append(
            Assessment(
                id=row.id,
                customer_no=row.customer_no,
                name_masked=mask_name(row.name),
                tier=row.tier,
                current_class=row.big_customer_class,
                proposed_class=proposed_big_customer_class(
                    average, churned=is_churned, policy=policy
                ),
                account_manager_name=row.account_manager_name,
                days_since_seen=(as_of - row.last_activity_at).days
                if row.last_activity_at
                else None,
                contacts_90_days=int(row.contacts or 0),
                average_monthly_cents=average,
                open_complaints=int(row.complaints or 0),
                churned=is_churned,
            )
        )
    found.sort(key=lambda a: (a.current_class is None, -(a.average_monthly_cents or 0), a.id))
    return tuple(found)


# --- the view --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerAnalysis:
    period: Period
    computed_at: datetime
    tiers: tuple[TierRow, ...]
    churn: ChurnTally
    churn_member_target: float
    churn_other_target: float
    churned: tuple[CustomerLine, ...]
    frequent: tuple[CustomerLine, ...]
    birthdays_month: tuple[CustomerLine, ...]
    birthdays_tomorrow: tuple[CustomerLine, ...]
    big_customers: tuple[Assessment, ...]
    tiers_by_day: tuple[tuple[str, Tier, int, float | None], ...] = ()
    # the last SCREEN_MONTHS bill months up to the period's (the report: the period's own)
    tiers_by_month: tuple[tuple[str, Tier, int, int, float | None, float | None], ...] = ()

    @property
    def member_churn(self) -> Rate | None:
        return self.churn.member_rate

    @property
    def other_churn(self) -> Rate | None:
        return self.churn.other_rate


def build_analysis(session: Session, *, period: Period, policy: Policy) -> CustomerAnalysis:
    without_jit(session)
    now = now_of(session)
    as_of = period.as_of
    this_month, tomorrow = birthdays(session, today=now.astimezone(ZONE).date(), policy=policy)
    return CustomerAnalysis(
        period=period,
        computed_at=now,
        tiers=tier_rows(session, period=period, policy=policy),
        churn=churn_tally(session, as_of=as_of, policy=policy),
        churn_member_target=policy.targets.churn_member_max,
        churn_other_target=policy.targets.churn_other_max,
        churned=churned_members(session, as_of=as_of, policy=policy),
        frequent=frequent_callers(session, period=period, policy=policy),
        birthdays_month=this_month,
        birthdays_tomorrow=tomorrow,
        big_customers=assessment(session, as_of=as_of, policy=policy),
        tiers_by_day=tuple(tier_days(session, period=period)),
        tiers_by_month=tuple(
            tier_months(session, period=period, months=months_up_to(period, SCREEN_MONTHS))
        ),
    )


@reads
def customer_analysis(
    session: Session, *, actor: Actor, policy: Policy, period: Period
) -> CustomerAnalysis:
    """Tiers (by day and by month too), churn, frequent callers, birthdays and big customers
    for ``period``."""
    require(session, actor, Permission.VIEW_CUSTOMER_ANALYSIS)
    return build_analysis(session, period=period, policy=policy)


# --- the big-customer file -------------------------------------------------------------------


@writes
def set_big_customer(
    session: Session,
    *,
    actor: Actor,
    customer_id: int,
    big_class: BigCustomerClass | None,
    account_manager_name: str | None,
    account_manager_phone: str | None,
) -> None:
    """The big-customer manager assigns a customer's class (None: not a big customer) and
    account manager. Audited with the values before and after; the card shows them to all."""
    require(session, actor, Permission.MANAGE_BIG_CUSTOMERS)
    name = (account_manager_name or "").strip() or None
    phone = (account_manager_phone or "").strip() or None
    if name is not None and len(name) > 64:
        raise InvalidInput(
            "the account manager's name is longer than 64 characters", field="account_manager_name"
        )
    if phone is not None and (len(phone) > 20 or not phone.replace("-", "").isdigit()):
        raise InvalidInput(f"{phone!r} is not a phone number", field="account_manager_phone")
    if big_class is not None and name is None:
        raise InvalidInput("a big customer needs an account manager", field="account_manager_name")
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"no customer with id {customer_id}")
    before = {
        "class": customer.big_customer_class,
        "account_manager_name": customer.account_manager_name,
        "account_manager_phone": customer.account_manager_phone,
    }
    customer.big_customer_class = big_class.value if big_class else None
    customer.account_manager_name = name
    customer.account_manager_phone = phone
    session.add(customer)
    audit.record(
        session,
        action="customer.big_customer",
        actor=actor,
        target_type="customer",
        target_id=customer_id,
        detail={
            "before": before,
            "after": {
                "class": customer.big_customer_class,
                "account_manager_name": name,
                "account_manager_phone": phone,
            },
        },
    )


# --- as report sections ----------------------------------------------------------------------


def _money(cents: float | None) -> float | None:
    return None if cents is None else round(cents / 100, 2)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def customer_sections(session: Session, *, period: Period, policy: Policy) -> tuple[Any, ...]:
    """The customer report: the analysis above as report sections."""
    from desk.services.reports import TARGET_COLUMNS, Column, ColumnKind, Section, pct, target_row

    data = build_analysis(session, period=period, policy=policy)
    k = ColumnKind
    line_columns = (
        Column("customer_no", "Customer no."),
        Column("name", "Name (masked)"),
        Column("tier", "Tier"),
        Column("class", "Big-customer class"),
        Column("region", "Region"),
        Column("last_seen", "Last activity", k.DATETIME),
    )

    def lines(items: tuple[CustomerLine, ...], extra: Column | None) -> tuple[tuple[Any, ...], ...]:
        return tuple(
            (
                line.customer_no,
                line.name_masked,
                line.tier,
                line.big_customer_class or "",
                line.region,
                line.last_activity_at,
                *((line.birthday if extra.key == "birthday" else line.value,) if extra else ()),
            )
            for line in items
        )

    days = Column("days_unseen", "Days unseen", k.INTEGER)
    calls = Column("contacts", "Contacts in the period", k.INTEGER)
    born = Column("birthday", "Birthday (MM-DD)")
    return (
        Section(
            "tiers",
            "Tier statistics (客户分级统计)",
            (
                Column("tier", "Tier"),
                Column("customers", "Customers", k.INTEGER),
                Column("customer_share", "Share of customers %", k.PERCENT),
                Column("contacts", "Contacts", k.INTEGER),
                Column("contact_share", "Share of contacts %", k.PERCENT),
                Column("contacts_per_customer", "Contacts per customer", k.NUMBER),
                Column("bills", "Bills", k.INTEGER),
                Column("spend", "Spend (yuan)", k.MONEY),
                Column("average_bill", "Average bill (yuan)", k.MONEY),
                Column("spend_share", "Share of spend %", k.PERCENT),
                Column("satisfaction", "Satisfaction %", k.PERCENT),
            ),
            tuple(
                (
                    row.tier.value,
                    row.customers,
                    _round(row.customer_share),
                    row.contacts,
                    _round(row.contact_share),
                    None
                    if row.contacts_per_customer is None
                    else round(row.contacts_per_customer, 4),
                    row.bills,
                    _money(row.spend_cents),
                    _money(row.average_bill_cents),
                    _round(row.spend_share),
                    pct(row.satisfaction),
                )
                for row in data.tiers
            ),
            note="Bills of the months the period touches: " + ", ".join(months_of(period)),
        ),
        Section(
            "tiers_by_day",
            "Contacts per tier, by day",
            (
                Column("day", "Day", k.DATE),
                Column("tier", "Tier"),
                Column("contacts", "Contacts", k.INTEGER),
                Column("share", "Share of the day %", k.PERCENT),
            ),
            tuple((day, tier.value, n, _round(share)) for day, tier, n, share in data.tiers_by_day),
        ),
        Section(
            "tiers_by_month",
            "Bills per tier, by month",
            (
                Column("month", "Month"),
                Column("tier", "Tier"),
                Column("bills", "Bills", k.INTEGER),
                Column("spend", "Spend (yuan)", k.MONEY),
                Column("average", "Average bill (yuan)", k.MONEY),
                Column("share", "Share of the month's spend %", k.PERCENT),
            ),
            tuple(
                (month, tier.value, n, _money(spend), _money(average), _round(share))
                for month, tier, n, spend, average, share in tier_months(session, period=period)
            ),
        ),
        Section(
            "churn",
            "Churn against its targets",
            TARGET_COLUMNS,
            (
                target_row("churn_member_max", data.member_churn, policy),
                target_row("churn_other_max", data.other_churn, policy),
            ),
            note="Every customer counted, as of the period's end (or now).",
        ),
        Section(
            "churned_members",
            "Churned members (the most recently seen first)",
            (*line_columns, days),
            lines(data.churned, days),
        ),
        Section(
            "frequent_callers",
            "Frequent callers (常来顾客)",
            (*line_columns, calls),
            lines(data.frequent, calls),
        ),
        Section(
            "birthdays_month",
            "Birthdays this month (members and big customers)",
            (*line_columns, born),
            lines(data.birthdays_month, born),
        ),
        Section(
            "birthdays_tomorrow",
            "Birthdays tomorrow (greeting calls today)",
            (*line_columns, born),
            lines(data.birthdays_tomorrow, born),
        ),
        Section(
            "big_customers",
            "Big-customer value assessment (大客户价值评估)",
            (
                Column("customer_no", "Customer no."),
                Column("name", "Name (masked)"),
                Column("tier", "Tier"),
                Column("class", "Class"),
                Column("proposed", "Proposed class"),
                Column("manager", "Account manager"),
                Column("recency", "Days since seen", k.INTEGER),
                Column("frequency", "Contacts in 90 days", k.INTEGER),
                Column("spend", "Average monthly bill (yuan)", k.MONEY),
                Column("complaints", "Open complaints", k.INTEGER),
            ),
            tuple(
                (
                    a.customer_no,
                    a.name_masked,
                    a.tier,
                    a.current_class or "",
                    a.proposed_class.value if a.proposed_class else "",
                    a.account_manager_name or "",
                    a.days_since_seen,
                    a.contacts_90_days,
                    _money(a.average_monthly_cents),
                    a.open_complaints,
                )
                for a in data.big_customers
            ),
        ),
    )


__all__ = ["CustomerAnalysis", "customer_analysis", "customer_sections", "set_big_customer"]
