"""A small call-center floor for work-order tests: departments, one person per role (two
leads, two handlers in two departments), customers with a bill and its items.

Used by the service tests and the UI tests alike (the UI tests give real, cheap password
hashes so the staff can sign in).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

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
    StaffUser,
)
from desk.rules.names import name_keys, reverse
from desk.rules.permissions import Actor
from desk.rules.policy import load_policy
from desk.rules.vocab import DepartmentKind, Role

POLICY = load_policy(None)

STAFF: dict[str, tuple[Role, str, str | None]] = {
    # login: role, display name, department code
    "agent1": (Role.AGENT, "李小红", None),
    "lead1": (Role.LEAD, "王班长", None),
    "lead2": (Role.LEAD, "陈班长", None),
    "complaint1": (Role.COMPLAINT_LEAD, "赵投诉", None),
    "handler1": (Role.HANDLER, "钱处理", "BILL"),
    "handler2": (Role.HANDLER, "吴分局", "BR-E"),
    "supervisor1": (Role.SUPERVISOR, "孙主任", None),
    "admin1": (Role.ADMIN, "周管理", None),
}


@dataclass(frozen=True)
class Floor:
    center: int
    billing: int
    branch: int  # the east branch office's department
    network: int
    hq: int
    branch_office: int  # the Branch row
    customers: tuple[int, ...]
    bill_items: tuple[int, ...]  # the first customer's
    other_bill_item: int  # the second customer's
    staff: dict[str, Actor]

    def actor(self, login: str) -> Actor:
        return self.staff[login]


def build_floor(db: Database, *, password_hash: str = "not-a-hash") -> Floor:
    created = datetime(2025, 1, 1, tzinfo=UTC)

    def build(session: Session) -> Floor:
        office = Branch(code="E", name="城东分公司", region="北京市")
        session.add(office)
        session.flush()
        departments = {
            "CC": Department(code="CC", name="客服中心", kind=DepartmentKind.CENTER.value),
            "BILL": Department(code="BILL", name="计费中心", kind=DepartmentKind.BILLING.value),
            "BR-E": Department(
                code="BR-E",
                name="城东分公司",
                kind=DepartmentKind.BRANCH.value,
                branch_id=office.id,
            ),
            "NET": Department(code="NET", name="网络维护", kind=DepartmentKind.NETWORK.value),
            "HQ": Department(code="HQ", name="省公司", kind=DepartmentKind.HEADQUARTERS.value),
        }
        session.add_all(departments.values())
        session.flush()
        staff: dict[str, Actor] = {}
        for login, (role, name, code) in STAFF.items():
            department_id = departments[code].id if code else None
            user = StaffUser(
                login=login,
                display_name=name,
                role=role.value,
                department_id=department_id,
                password_hash=password_hash,
                created_at=created,
            )
            session.add(user)
            session.flush()
            assert user.id is not None
            staff[login] = Actor(
                user_id=user.id,
                login=login,
                role=role,
                display_name=name,
                department_id=department_id,
            )
        customers: list[Customer] = []
        for n, (name, phone) in enumerate((("张三丰", "13800000001"), ("李四", "13800000002"))):
            keys = name_keys(name)
            id_card = f"11010119800101{n:04d}"
            customer = Customer(
                customer_no=f"C{n + 1:09d}",
                name=name,
                name_spaced=keys.spaced,
                name_pinyin=keys.pinyin,
                name_initials=keys.initials,
                id_card_no=id_card,
                id_card_rev=reverse(id_card),
                region="北京市",
                branch_id=office.id,
                created_at=created,
            )
            session.add(customer)
            session.flush()
            assert customer.id is not None
            session.add(
                CustomerPhone(customer_id=customer.id, phone=phone, phone_rev=reverse(phone))
            )
            customers.append(customer)
        items: list[int] = []
        for n, customer in enumerate(customers):
            assert customer.id is not None
            account = Account(
                customer_id=customer.id,
                account_no=f"A{n + 1:09d}",
                plan_code="5G128",
                plan_name="5G 畅享 128",
                monthly_fee_cents=12_800,
                opened_on=date(2024, 1, 1),
            )
            session.add(account)
            session.flush()
            assert account.id is not None
            bill = Bill(
                account_id=account.id,
                customer_id=customer.id,
                period="2026-10",
                amount_cents=15_600,
                due_date=date(2026, 11, 15),
                issued_at=datetime(2026, 11, 1, tzinfo=UTC),
            )
            session.add(bill)
            session.flush()
            assert bill.id is not None
            for k in range(3 if n == 0 else 1):
                item = BillItem(
                    bill_id=bill.id,
                    occurred_at=datetime(2026, 10, 5 + k, 4, 0, tzinfo=UTC),
                    kind="value_added",
                    counterpart="10658000",
                    quantity=1,
                    amount_cents=1_000 + k,
                    description="彩铃包月",
                )
                session.add(item)
                session.flush()
                assert item.id is not None
                items.append(item.id)

        def dep(code: str) -> int:
            value = departments[code].id
            assert value is not None
            return value

        assert office.id is not None
        return Floor(
            center=dep("CC"),
            billing=dep("BILL"),
            branch=dep("BR-E"),
            network=dep("NET"),
            hq=dep("HQ"),
            branch_office=office.id,
            customers=tuple(c.id for c in customers if c.id is not None),
            bill_items=tuple(items[:3]),
            other_bill_item=items[3],
            staff=staff,
        )

    return db.run(build, write=True)
