"""Customer analysis on hand-built data, on SQLite and PostgreSQL: tiers by day and month,
churn and the churned members, frequent callers, birthdays, the big-customer assessment, and
the big-customer file (validated, audited)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from desk.clock import SHANGHAI
from desk.infra.database import Database
from desk.infra.errors import InvalidInput, NotFound, PermissionDenied
from desk.models import Account, AuditEntry, Bill, Contact, Customer, WorkOrder
from desk.rules.kpi import Rate
from desk.rules.periods import PeriodKind, period_of
from desk.rules.permissions import Actor
from desk.rules.policy import Policy, load_policy
from desk.rules.vocab import BigCustomerClass, Role, Tier
from desk.services import customer_analysis as ca
from desk.services.reports import ReportKind, report
from tests.services.test_customer_search import add_staff

NOW = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # the db clock
BOSS = Actor(user_id=0, login="boss", role=Role.SUPERVISOR)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(None)


def _customer(
    index: int, tier: Tier, *, seen_days: int | None, birthday: date | None = None
) -> dict[str, object]:
    return {
        "id": index,
        "customer_no": f"C{index:04d}",
        "name": "王小明",
        "name_spaced": "王 小 明",
        "name_pinyin": "wangxiaoming",
        "name_initials": "wxm",
        "id_card_no": "110101199001011234",
        "id_card_rev": "432110109910110011",
        "tier": tier.value,
        "region": "杭州",
        "birthday": birthday,
        "big_customer_class": "A" if index == 5 else None,
        "account_manager_name": "陈经理" if index == 5 else None,
        "last_activity_at": None if seen_days is None else NOW - timedelta(days=seen_days),
        "created_at": NOW - timedelta(days=400),
    }


@pytest.fixture
def seeded(db: Database) -> Database:
    customers = [
        _customer(1, Tier.GOLD, seen_days=1, birthday=date(1980, 11, 3)),  # birthday tomorrow
        _customer(2, Tier.GOLD, seen_days=70),  # a churned member
        _customer(3, Tier.SILVER, seen_days=100, birthday=date(1991, 11, 20)),  # churned
        _customer(4, Tier.STANDARD, seen_days=5, birthday=date(1990, 11, 9)),  # not greeted
        _customer(5, Tier.STANDARD, seen_days=3),  # a big customer (A) with small bills
        _customer(6, Tier.STANDARD, seen_days=None),  # never seen: churned other
    ]
    at = NOW - timedelta(hours=1)
    contacts = [
        {
            "customer_id": who,
            "channel": "phone",
            "offered_at": at - timedelta(minutes=n),
            "satisfaction": mark,
        }
        for who, n, mark in [
            (1, 1, 5),
            (1, 2, 2),
            (1, 3, None),
            (4, 4, None),
            (4, 5, 4),
            (5, 6, None),
            (1, 60 * 30, None),
        ]
    ]
    with db.connection(write=True) as connection:
        connection.execute(insert(Customer.__table__), customers)  # type: ignore[attr-defined]
        connection.execute(
            insert(Account.__table__),  # type: ignore[attr-defined]
            [
                {
                    "id": i,
                    "customer_id": i,
                    "account_no": f"A{i}",
                    "plan_code": "P",
                    "plan_name": "套餐",
                    "opened_on": date(2020, 1, 1),
                }
                for i in range(1, 7)
            ],
        )
        bills = [
            (1, "2026-10", 40_000),
            (1, "2026-09", 20_000),
            (2, "2026-10", 16_000),
            (4, "2026-10", 5_000),
            (5, "2026-10", 2_000),
            (3, "2026-10", 9_000),
        ]
        connection.execute(
            insert(Bill.__table__),  # type: ignore[attr-defined]
            [
                {
                    "account_id": who,
                    "customer_id": who,
                    "period": period,
                    "amount_cents": amount,
                    "due_date": date(2026, 12, 1),
                    "issued_at": NOW,
                }
                for who, period, amount in bills
            ],
        )
        connection.execute(insert(Contact.__table__), contacts)  # type: ignore[attr-defined]
        connection.execute(
            insert(WorkOrder.__table__),  # type: ignore[attr-defined]
            [
                {
                    "number": "WO1",
                    "customer_id": 5,
                    "category": "complaint",
                    "title": "t",
                    "description": "d",
                    "status": "dispatched",
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            ],
        )
    return db


def test_the_analysis_on_hand_built_customers(seeded: Database, policy: Policy) -> None:
    month = period_of(PeriodKind.MONTH, NOW, SHANGHAI)  # November, up to now
    data = ca.customer_analysis(seeded, actor=BOSS, policy=policy, period=month)
    tiers = {row.tier: row for row in data.tiers}
    assert tiers[Tier.GOLD].customers == 2
    assert tiers[Tier.GOLD].customer_share == pytest.approx(100 * 2 / 6)
    assert tiers[Tier.GOLD].contacts == 4  # 31 h ago is still November 1st, local time
    assert tiers[Tier.GOLD].bills == 0  # November is not billed yet
    assert tiers[Tier.PLATINUM].average_bill_cents is None  # nothing to measure
    # churn: members 1, 2, 3 (2 and 3 churned); others 4, 5, 6 (6 churned)
    assert data.member_churn == Rate(2, 3)
    assert data.other_churn == Rate(1, 3)
    assert [line.customer_no for line in data.churned] == ["C0002", "C0003"]
    assert data.churned[0].value == 70
    # frequent callers: at least 3 contacts in the period
    assert [(line.customer_no, line.value) for line in data.frequent] == [("C0001", 4)]
    # birthdays of members and big customers: this month 1 (03rd) and 3 (20th); tomorrow 1
    assert [line.customer_no for line in data.birthdays_month] == ["C0001", "C0003"]
    assert [line.customer_no for line in data.birthdays_tomorrow] == ["C0001"]
    # the assessment: the file (customer 5, class A) first, then the candidates by spend
    assessed = {a.customer_no: a for a in data.big_customers}
    assert list(assessed)[0] == "C0005"
    assert assessed["C0005"].proposed_class is None  # ¥20 a month
    assert assessed["C0005"].open_complaints == 1
    assert assessed["C0005"].differs
    assert assessed["C0001"].average_monthly_cents == 30_000  # (400 + 200) / 2
    assert assessed["C0001"].proposed_class is BigCustomerClass.A
    assert assessed["C0002"].proposed_class is BigCustomerClass.C  # B, churned: one lower
    assert assessed["C0003"].proposed_class is None  # C by spend, churned: none
    assert "C0004" not in assessed  # ¥50: below class C


def test_tiers_by_day_and_month(seeded: Database, policy: Policy) -> None:
    with seeded.session(write=False) as session:
        period = period_of(
            PeriodKind.RANGE, NOW, SHANGHAI, first=date(2026, 10, 1), last=date(2026, 11, 2)
        )
        days = ca.tier_days(session, period=period)
        months = ca.tier_months(session, period=period)
    by_day = {(day, tier): (n, share) for day, tier, n, share in days}
    assert by_day[("2026-11-02", Tier.GOLD)] == (3, pytest.approx(50.0))  # 3 of 6
    assert by_day[("2026-11-01", Tier.GOLD)] == (1, pytest.approx(100.0))
    by_month = {(m, tier): (n, spend) for m, tier, n, spend, _avg, _share in months}
    assert by_month[("2026-10", Tier.GOLD)] == (2, 56_000)
    assert by_month[("2026-10", Tier.SILVER)] == (1, 9_000)


def test_the_customer_report_has_every_section(seeded: Database, policy: Policy) -> None:
    found = report(
        seeded,
        actor=Actor(user_id=0, login="cli", role=Role.ADMIN),
        policy=policy,
        kind=ReportKind.CUSTOMERS,
        first=date(2026, 11, 1),
        last=date(2026, 11, 30),
    )

    def rows(key: str) -> list[dict[str, object]]:
        section = found.section(key)
        keys = [column.key for column in section.columns]
        return [dict(zip(keys, row, strict=True)) for row in section.rows]

    # November up to now: 7 contacts (customer 1: 4, customer 4: 2, customer 5: 1), no bills
    tiers = {row["tier"]: row for row in rows("tiers")}
    assert list(tiers) == ["standard", "silver", "gold", "platinum", "diamond"]
    assert tiers["gold"] == {
        "tier": "gold",
        "customers": 2,
        "customer_share": 33.33,
        "contacts": 4,
        "contact_share": 57.14,
        "contacts_per_customer": 2.0,
        "bills": 0,
        "spend": 0.0,
        "average_bill": None,  # no bill: nothing to measure
        "spend_share": None,
        "satisfaction": 50.0,  # marks 5 and 2
    }
    assert tiers["standard"]["satisfaction"] == 100.0  # one mark, 4
    assert tiers["silver"]["satisfaction"] is None  # no contact: nothing to measure
    assert (tiers["standard"]["customers"], tiers["standard"]["contacts"]) == (3, 3)
    assert tiers["standard"]["contact_share"] == 42.86
    assert tiers["platinum"]["contacts_per_customer"] is None  # no platinum customer
    assert found.section("tiers").note == "Bills of the months the period touches: 2026-11"
    by_day = {(r["day"], r["tier"]): (r["contacts"], r["share"]) for r in rows("tiers_by_day")}
    assert len(by_day) == 2 * 5
    assert by_day[("2026-11-01", "gold")] == (1, 100.0)  # 31 hours ago, local time
    assert by_day[("2026-11-01", "standard")] == (0, 0.0)
    assert by_day[("2026-11-02", "gold")] == (3, 50.0)
    assert by_day[("2026-11-02", "standard")] == (3, 50.0)
    assert rows("tiers_by_month") == []  # November is not billed yet
    assert rows("churn") == [
        {
            "figure": "Member churn (会员流失率)",
            "value": 66.67,
            "numerator": 2,
            "denominator": 3,
            "target": "≤20%",
            "standing": "red",
        },
        {
            "figure": "Churn of other customers",
            "value": 33.33,
            "numerator": 1,
            "denominator": 3,
            "target": "≤30%",
            "standing": "red",
        },
    ]
    churned = rows("churned_members")
    assert [(r["customer_no"], r["days_unseen"]) for r in churned] == [
        ("C0002", 70),
        ("C0003", 100),
    ]
    assert churned[0]["last_seen"] == NOW - timedelta(days=70)
    assert churned[0]["name"] != "王小明"  # masked
    assert [(r["customer_no"], r["contacts"]) for r in rows("frequent_callers")] == [("C0001", 4)]
    assert [(r["customer_no"], r["birthday"]) for r in rows("birthdays_month")] == [
        ("C0001", "11-03"),
        ("C0003", "11-20"),
    ]
    assert [r["customer_no"] for r in rows("birthdays_tomorrow")] == ["C0001"]
    big = {r["customer_no"]: r for r in rows("big_customers")}
    assert list(big)[0] == "C0005"
    assert (big["C0005"]["class"], big["C0005"]["proposed"], big["C0005"]["manager"]) == (
        "A",
        "",
        "陈经理",
    )
    assert big["C0005"]["complaints"] == 1
    assert (big["C0001"]["proposed"], big["C0001"]["spend"]) == ("A", 300.0)
    assert big["C0002"]["proposed"] == "C"
    assert "C0004" not in big


def test_the_big_customer_file_is_validated_and_audited(seeded: Database) -> None:
    boss, lead = add_staff(seeded, Role.SUPERVISOR, Role.LEAD)
    ca.set_big_customer(
        seeded,
        actor=boss,
        customer_id=1,
        big_class=BigCustomerClass.B,
        account_manager_name=" 刘经理 ",
        account_manager_phone="139-0000-1111",
    )
    with seeded.session(write=False) as session:
        customer = session.get(Customer, 1)
        assert customer is not None
        assert (customer.big_customer_class, customer.account_manager_name) == ("B", "刘经理")
        entry = session.execute(
            select(AuditEntry).where(AuditEntry.action == "customer.big_customer")  # type: ignore[arg-type]
        ).scalar_one()
    assert entry.detail["before"]["class"] is None
    assert entry.detail["after"]["account_manager_phone"] == "139-0000-1111"
    with pytest.raises(InvalidInput) as error:
        ca.set_big_customer(
            seeded,
            actor=boss,
            customer_id=1,
            big_class=BigCustomerClass.A,
            account_manager_name="",
            account_manager_phone=None,
        )
    assert error.value.field == "account_manager_name"
    with pytest.raises(InvalidInput):
        ca.set_big_customer(
            seeded,
            actor=boss,
            customer_id=1,
            big_class=None,
            account_manager_name=None,
            account_manager_phone="call me",
        )
    with pytest.raises(NotFound):
        ca.set_big_customer(
            seeded,
            actor=boss,
            customer_id=99,
            big_class=None,
            account_manager_name=None,
            account_manager_phone=None,
        )
    with pytest.raises(PermissionDenied):
        ca.set_big_customer(
            seeded,
            actor=lead,
            customer_id=1,
            big_class=None,
            account_manager_name=None,
            account_manager_phone=None,
        )
    ca.set_big_customer(  # back to an ordinary customer
        seeded,
        actor=boss,
        customer_id=1,
        big_class=None,
        account_manager_name=None,
        account_manager_phone=None,
    )
    with seeded.session(write=False) as session:
        customer = session.get(Customer, 1)
        assert customer is not None
        assert customer.big_customer_class is None
