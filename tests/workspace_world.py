"""A small call center for the workspace tests: staff, departments, customers with accounts,
bills, itemized records and payments, a service password, the shipped knowledge articles and
canned replies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from argon2 import PasswordHasher
from sqlmodel import Session

from desk.infra.database import Database
from desk.models import (
    Account,
    Bill,
    BillItem,
    Branch,
    Customer,
    CustomerPhone,
    Department,
    Payment,
    StaffUser,
)
from desk.rules.names import name_keys, reverse
from desk.rules.permissions import Actor
from desk.rules.vocab import Role
from desk.services.knowledge import (
    shipped_articles,
    shipped_replies,
    sync_articles,
    sync_replies,
)

CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
SERVICE_PASSWORD = "246810"
ZHANG_PHONE = "13800138000"
ZHANG_ID = "110101199003074514"  # a valid check digit
LI_PHONE = "13911112222"
LI_ID = "310104198512120023"
UNKNOWN_PHONE = "13700001111"
LAST_PAYMENT_CENTS = 5_850


@dataclass(frozen=True)
class World:
    agent: Actor
    agent2: Actor
    lead: Actor
    admin: Actor
    zhang: int  # customer: password set, no arrears, two accounts' worth of bills
    li: int  # customer: in arrears
    zhang_account: int
    li_account: int
    current_bill: int  # zhang's bill of the current month (2026-11)
    old_bill: int  # zhang's bill of 2026-10
    items: tuple[int, ...]  # the current bill's itemized records, oldest first


def _customer(
    session: Session,
    *,
    name: str,
    phone: str,
    id_card: str,
    number: str,
    branch_id: int,
    password: str | None,
    arrears_cents: int = 0,
    arrears_since: date | None = None,
    tier: str = "standard",
) -> int:
    keys = name_keys(name)
    customer = Customer(
        customer_no=number,
        name=name,
        name_spaced=keys.spaced,
        name_pinyin=keys.pinyin,
        name_initials=keys.initials,
        id_card_no=id_card,
        id_card_rev=reverse(id_card),
        service_password_hash=CHEAP.hash(password) if password else None,
        tier=tier,
        region="北京市",
        address="北京市东城区东直门南大街1号",
        branch_id=branch_id,
        balance_cents=1_200,
        arrears_cents=arrears_cents,
        arrears_since=arrears_since,
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    session.add(customer)
    session.flush()
    assert customer.id is not None
    session.add(CustomerPhone(customer_id=customer.id, phone=phone, phone_rev=reverse(phone)))
    return customer.id


def build_world(db: Database, now: datetime) -> World:
    def build(session: Session) -> World:
        branch = Branch(code="BJ", name="北京分公司", region="北京市")
        session.add(branch)
        session.flush()
        assert branch.id is not None
        for code, name, kind, branch_id in (
            ("CENTER", "客服中心", "center", None),
            ("BILL", "计费部", "billing", None),
            ("NET", "网络维护部", "network", None),
            ("MKT", "市场部", "marketing", None),
            ("HQ", "总部", "headquarters", None),
            ("BJ-BR", "北京分公司客户服务部", "branch", branch.id),
        ):
            session.add(Department(code=code, name=name, kind=kind, branch_id=branch_id))
        actors: dict[str, Actor] = {}
        for login, role in (
            ("agent1", Role.AGENT),
            ("agent2", Role.AGENT),
            ("lead1", Role.LEAD),
            ("admin1", Role.ADMIN),
        ):
            user = StaffUser(
                login=login,
                display_name=login.upper(),
                role=role.value,
                password_hash=CHEAP.hash("secret1"),
                created_at=now,
            )
            session.add(user)
            session.flush()
            assert user.id is not None
            actors[login] = Actor(user.id, login, role, login.upper())
        zhang = _customer(
            session,
            name="张三",
            phone=ZHANG_PHONE,
            id_card=ZHANG_ID,
            number="C000000001",
            branch_id=branch.id,
            password=SERVICE_PASSWORD,
        )
        li = _customer(
            session,
            name="李四",
            phone=LI_PHONE,
            id_card=LI_ID,
            number="C000000002",
            branch_id=branch.id,
            password=SERVICE_PASSWORD,
            arrears_cents=8_800,
            arrears_since=date(2026, 9, 20),
        )
        accounts = []
        for customer_id, number in ((zhang, "A0001"), (li, "A0002")):
            account = Account(
                customer_id=customer_id,
                account_no=number,
                plan_code="P5G58",
                plan_name="5G畅享套餐58元",
                monthly_fee_cents=5_800,
                opened_on=date(2024, 1, 1),
            )
            session.add(account)
            session.flush()
            assert account.id is not None
            accounts.append(account.id)
        bills = []
        for period, amount in (("2026-11", 6_000), ("2026-10", 5_800), ("2025-09", 5_800)):
            bill = Bill(
                account_id=accounts[0],
                customer_id=zhang,
                period=period,
                amount_cents=amount,
                paid_cents=0 if period == "2026-11" else amount,
                due_date=date(2026, 12, 20),
                status="unpaid" if period == "2026-11" else "paid",
                issued_at=now - timedelta(days=1),
            )
            session.add(bill)
            session.flush()
            assert bill.id is not None
            bills.append(bill.id)
        items = []
        for index in range(7):
            item = BillItem(
                bill_id=bills[0],
                occurred_at=now - timedelta(days=20 - index),
                kind="voice" if index % 2 else "value_added",
                counterpart="13512345678" if index % 2 else None,
                quantity=60 * index,
                amount_cents=100 + index,
                description=f"record {index}",
            )
            session.add(item)
            session.flush()
            assert item.id is not None
            items.append(item.id)
        for days, cents in ((60, 5_800), (30, LAST_PAYMENT_CENTS)):
            session.add(
                Payment(
                    customer_id=zhang,
                    account_id=accounts[0],
                    paid_at=now - timedelta(days=days),
                    amount_cents=cents,
                    channel="app",
                )
            )
        return World(
            agent=actors["agent1"],
            agent2=actors["agent2"],
            lead=actors["lead1"],
            admin=actors["admin1"],
            zhang=zhang,
            li=li,
            zhang_account=accounts[0],
            li_account=accounts[1],
            current_bill=bills[0],
            old_bill=bills[1],
            items=tuple(items),
        )

    world = db.run(build, write=True)
    sync_articles(db, actor=world.admin, articles=shipped_articles(), deactivate_missing=False)
    sync_replies(db, actor=world.admin, replies=shipped_replies(), remove_missing=False)
    return world
