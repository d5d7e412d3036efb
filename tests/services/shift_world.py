"""A small center for the callback, handover and quality tests: staff, customers, contacts,
work orders and shifts written straight to the tables (the services under test read them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session

from desk.infra.database import Database
from desk.models import (
    Branch,
    Contact,
    Customer,
    CustomerPhone,
    Department,
    Shift,
    StaffUser,
    WorkOrder,
)
from desk.rules.names import name_keys, reverse
from desk.rules.permissions import Actor
from desk.rules.vocab import Role

STAFF: dict[str, tuple[Role, str]] = {
    "agent1": (Role.AGENT, "李小红"),
    "agent2": (Role.AGENT, "张明"),
    "lead1": (Role.LEAD, "王班长"),
    "lead2": (Role.LEAD, "陈班长"),
    "complaint1": (Role.COMPLAINT_LEAD, "赵投诉"),
    "handler1": (Role.HANDLER, "钱处理"),
    "supervisor1": (Role.SUPERVISOR, "孙主任"),
    "admin1": (Role.ADMIN, "周管理"),
}


@dataclass
class World:
    db: Database
    actors: dict[str, Actor] = field(default_factory=dict)
    branch_id: int = 0
    department_id: int = 0
    _serial: int = 0

    def actor(self, login: str) -> Actor:
        return self.actors[login]

    def run(self, work: Any) -> Any:
        return self.db.run(work, write=True)

    def customer(
        self,
        name: str = "张三",
        *,
        tier: str = "standard",
        big: str | None = None,
        birthday: date | None = None,
        last_activity_at: datetime | None = None,
        status: str = "active",
    ) -> int:
        self._serial += 1
        serial = self._serial

        def add(session: Session) -> int:
            keys = name_keys(name)
            id_card = f"1101011990010{serial:05d}"
            customer = Customer(
                customer_no=f"C{serial:08d}",
                name=name,
                name_spaced=keys.spaced,
                name_pinyin=keys.pinyin,
                name_initials=keys.initials,
                id_card_no=id_card,
                id_card_rev=reverse(id_card),
                tier=tier,
                big_customer_class=big,
                birthday=birthday,
                region="北京市",
                branch_id=self.branch_id,
                status=status,
                last_activity_at=last_activity_at,
                created_at=datetime(2024, 1, 1, tzinfo=last_activity_at.tzinfo)
                if last_activity_at
                else datetime.fromisoformat("2024-01-01T00:00:00+00:00"),
            )
            session.add(customer)
            session.flush()
            assert customer.id is not None
            phone = f"1380000{serial:04d}"
            session.add(
                CustomerPhone(customer_id=customer.id, phone=phone, phone_rev=reverse(phone))
            )
            return customer.id

        return int(self.run(add))

    def contact(
        self,
        customer_id: int | None,
        *,
        at: datetime,
        request_type: str = "consultation",
        outcome: str = "settled",
        agent: str = "agent1",
        channel: str = "phone",
        minutes: int = 5,
        answered: bool = True,
    ) -> int:
        def add(session: Session) -> int:
            contact = Contact(
                customer_id=customer_id,
                channel=channel,
                request_type=request_type,
                offered_at=at,
                answered_at=at + timedelta(seconds=10) if answered else None,
                ended_at=at + timedelta(minutes=minutes),
                agent_id=self.actors[agent].user_id if answered else None,
                outcome=outcome,
            )
            session.add(contact)
            session.flush()
            assert contact.id is not None
            return contact.id

        return int(self.run(add))

    def work_order(self, customer_id: int | None, *, at: datetime, **values: Any) -> int:
        self._serial += 1
        serial = self._serial

        def add(session: Session) -> int:
            order = WorkOrder(
                number=values.pop("number", f"WO{at:%Y%m%d}{serial:05d}"),
                customer_id=customer_id,
                category=values.pop("category", "complaint"),
                title=values.pop("title", "信号差"),
                description=values.pop("description", "家中信号差"),
                department_id=values.pop("department_id", self.department_id),
                created_at=at,
                updated_at=at,
                **values,
            )
            session.add(order)
            session.flush()
            assert order.id is not None
            return order.id

        return int(self.run(add))

    def shift(self, name: str, starts_at: datetime, hours: int = 8, lead: str | None = None) -> int:
        def add(session: Session) -> int:
            shift = Shift(
                name=name,
                starts_at=starts_at,
                ends_at=starts_at + timedelta(hours=hours),
                lead_id=self.actors[lead].user_id if lead else None,
            )
            session.add(shift)
            session.flush()
            assert shift.id is not None
            return shift.id

        return int(self.run(add))


def make_world(db: Database) -> World:
    world = World(db)
    created = db.clock.now()

    def add(session: Session) -> None:
        branch = Branch(code="BJ", name="北京分公司", region="北京市")
        session.add(branch)
        session.flush()
        assert branch.id is not None
        department = Department(code="NET", name="网络维护部", kind="network", branch_id=branch.id)
        session.add(department)
        session.flush()
        assert department.id is not None
        world.branch_id, world.department_id = branch.id, department.id
        for login, (role, name) in STAFF.items():
            user = StaffUser(
                login=login,
                display_name=name,
                role=role.value,
                department_id=department.id if role is Role.HANDLER else None,
                password_hash="x",
                created_at=created,
            )
            session.add(user)
            session.flush()
            assert user.id is not None
            world.actors[login] = Actor(
                user_id=user.id,
                login=login,
                role=role,
                display_name=name,
                department_id=user.department_id,
            )

    db.run(add, write=True)
    return world
