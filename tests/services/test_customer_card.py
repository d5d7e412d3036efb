"""The customer card and audited unmasking, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import event
from sqlmodel import col, select

from desk.infra.database import Database, now_of
from desk.infra.errors import NotFound, PermissionDenied
from desk.models import (
    Account,
    AuditEntry,
    Bill,
    Branch,
    Contact,
    Customer,
    WorkOrder,
)
from desk.rules.permissions import SHELL_USER_ID, Actor, shell_actor
from desk.rules.policy import RepeatCallerPolicy, load_policy
from desk.rules.vocab import Role
from desk.services import audit
from desk.services.card import (
    CustomerCard,
    MaskedField,
    customer_card,
    unmask_field,
)
from tests.conftest import set_user
from tests.services.test_customer_search import NewCustomer, add_customers, add_staff

POLICY = load_policy()  # the shipped policy

PEOPLE = [
    NewCustomer(
        "欧阳娜娜",
        ["13812341234", "01088886666"],
        id_card="110101199003071234",
        tier="gold",
        big_customer_class="A",
        region="北京市朝阳区",
        address="北京市朝阳区建国路88号院3号楼",
        arrears_cents=12_345,
        extra={
            "is_member": True,
            "member_since": date(2020, 5, 1),
            "account_manager_name": "客户经理王强",
            "account_manager_phone": "13900001111",
            "birthday": date(1990, 3, 7),
            "balance_cents": -12_345,
            "arrears_since": date(2026, 9, 1),
        },
    ),
    NewCustomer("李四", ["13700005678"], id_card="440305198512310021"),
]


@pytest.fixture
def actors(db: Database) -> dict[Role, Actor]:
    return {actor.role: actor for actor in add_staff(db, *Role)}


@pytest.fixture
def customers(db: Database, actors: dict[Role, Actor]) -> list[int]:
    """Two customers; the first has a branch, accounts, bills, contacts and work orders."""
    ids = add_customers(db, PEOPLE)
    big = ids[0]
    agent = actors[Role.AGENT]
    with db.session(write=True) as session:
        now = now_of(session)
        branch = Branch(code="BJ-CY", name="朝阳分公司", region="北京市朝阳区")
        session.add(branch)
        session.flush()
        customer = session.get(Customer, big)
        assert customer is not None
        customer.branch_id = branch.id
        customer.verification_locked_at = now - timedelta(hours=1)
        old = Account(
            customer_id=big,
            account_no="A1",
            plan_code="P199",
            plan_name="畅享199套餐",
            monthly_fee_cents=19_900,
            opened_on=date(2019, 1, 1),
        )
        closed = Account(
            customer_id=big,
            account_no="A0",
            plan_code="P9",
            plan_name="旧套餐",
            status="closed",
            opened_on=date(2010, 1, 1),
        )
        session.add_all([old, closed])
        session.flush()
        assert old.id is not None
        for period, amount in [("2026-09", 18_000), ("2026-10", 19_900), ("2026-11", 5_000)]:
            session.add(
                Bill(
                    account_id=old.id,
                    customer_id=big,
                    period=period,
                    amount_cents=amount,
                    due_date=date(2026, 12, 15),
                    issued_at=now,
                )
            )
        for days in range(12):  # 12 contacts, one a day, days 0..11 ago; plus two old ones
            session.add(
                Contact(
                    customer_id=big,
                    channel="phone",
                    request_type="bill_inquiry" if days < 3 else "consultation",
                    offered_at=now - timedelta(days=days, minutes=5),
                    agent_id=agent.user_id,
                    outcome="settled",
                )
            )
        for days in (40, 60):
            session.add(
                Contact(
                    customer_id=big,
                    channel="wechat",
                    request_type="complaint",
                    offered_at=now - timedelta(days=days),
                )
            )
        orders = [
            ("WO20261101000001", "dispatched", now - timedelta(hours=2), False),  # overdue
            ("WO20261101000002", "new", now + timedelta(days=1), True),
            ("WO20261020000003", "closed", now - timedelta(days=5), False),
        ]
        for number, status, reply_due, major in orders:
            session.add(
                WorkOrder(
                    number=number,
                    customer_id=big,
                    category="complaint",
                    title=f"title {number}",
                    description="d",
                    status=status,
                    is_major=major,
                    reply_due=reply_due,
                    # what the ladder's refresh keeps: the nearest awaited deadline
                    next_due=None if status == "closed" else reply_due,
                    created_at=now - timedelta(days=int(number[-1])),
                    updated_at=now,
                )
            )
    return ids


def test_the_card_masks_personal_data_and_shows_the_standing(
    db: Database, customers: list[int], actors: dict[Role, Actor]
) -> None:
    card = customer_card(db, actor=actors[Role.AGENT], customer_id=customers[0], policy=POLICY)
    assert card.name_masked == "欧阳**"
    assert card.phones_masked == ("138****1234", "010****6666")  # primary first
    assert card.id_card_masked == "110***********1234"
    assert card.address_masked == "北京市朝阳区" + "*" * len("建国路88号院3号楼")
    assert card.account_manager_name == "客户经理王强"
    assert card.account_manager_phone == "13900001111"  # staff-facing: not masked
    assert card.birthday_month_day == "03-07"
    assert card.tier == "gold"
    assert card.is_member is True
    assert card.member_since == date(2020, 5, 1)
    assert card.big_customer_class == "A"
    assert card.is_big_customer
    assert card.branch_name == "朝阳分公司"
    assert card.region == "北京市朝阳区"
    assert card.arrears_cents == 12_345
    assert not hasattr(card, "balance_cents")  # account data: only through bills, verified
    assert card.arrears_since == date(2026, 9, 1)
    assert card.verification_locked is True
    assert card.plan_name == "畅享199套餐"  # the active account, not the older closed one
    assert card.accounts == 2
    text = repr(card)
    for secret in ("欧阳娜娜", "13812341234", "01088886666", "110101199003071234", "建国路"):
        assert secret not in text


def test_the_card_lists_open_work_orders_and_recent_contacts(
    db: Database, customers: list[int], actors: dict[Role, Actor]
) -> None:
    card = customer_card(db, actor=actors[Role.AGENT], customer_id=customers[0], policy=POLICY)
    assert [order.number for order in card.open_work_orders] == [
        "WO20261101000001",
        "WO20261101000002",
    ]  # newest first, the closed one left out
    assert card.open_work_orders_total == 2
    overdue, fresh = card.open_work_orders
    assert overdue.is_overdue is True
    assert fresh.is_overdue is False
    assert fresh.is_major is True
    assert len(card.recent_contacts) == 10
    assert [c.offered_at for c in card.recent_contacts] == sorted(
        (c.offered_at for c in card.recent_contacts), reverse=True
    )
    assert card.recent_contacts[0].agent_name == actors[Role.AGENT].display_name
    assert card.recent_contacts[0].request_type == "bill_inquiry"
    assert card.contacts_last_30_days == 12
    assert card.repeat_request_types == ("bill_inquiry", "consultation")


def test_a_plain_card_is_empty_where_the_customer_has_nothing(
    db: Database, customers: list[int], actors: dict[Role, Actor]
) -> None:
    card = customer_card(db, actor=actors[Role.AGENT], customer_id=customers[1], policy=POLICY)
    assert card.name_masked == "李*"
    assert card.phones_masked == ("137****5678",)
    assert card.address_masked is None
    assert card.big_customer_class is None
    assert card.branch_name is None
    assert card.plan_name is None
    assert card.open_work_orders == ()
    assert card.recent_contacts == ()
    assert card.contacts_last_30_days == 0
    assert card.verification_locked is False
    assert card.birthday_month_day is None


def _audit_rows(db: Database, action: str) -> list[AuditEntry]:
    with db.session(write=False) as session:
        return list(
            session.exec(
                select(AuditEntry).where(AuditEntry.action == action).order_by(col(AuditEntry.id))
            ).all()
        )


def test_every_card_view_is_audited(
    db: Database, customers: list[int], actors: dict[Role, Actor]
) -> None:
    customer_card(db, actor=actors[Role.AGENT], customer_id=customers[0], policy=POLICY)
    customer_card(
        db, actor=actors[Role.AGENT], customer_id=customers[1], policy=POLICY, contact_id=None
    )
    big, plain = _audit_rows(db, "customer.card_view")
    assert big.actor_id == plain.actor_id == actors[Role.AGENT].user_id
    assert (big.target_id, plain.target_id) == (str(customers[0]), str(customers[1]))
    assert big.detail == {"big_customer_class": "A", "contact": None}
    assert plain.detail == {"big_customer_class": None, "contact": None}


def test_who_may_view_a_card(db: Database, customers: list[int], actors: dict[Role, Actor]) -> None:
    for role in (Role.AGENT, Role.LEAD, Role.COMPLAINT_LEAD, Role.SUPERVISOR):
        card = customer_card(db, actor=actors[role], customer_id=customers[1], policy=POLICY)
        assert isinstance(card, CustomerCard)
    for role in (Role.HANDLER, Role.ADMIN):
        with pytest.raises(PermissionDenied):
            customer_card(db, actor=actors[role], customer_id=customers[1], policy=POLICY)
    with pytest.raises(NotFound):
        customer_card(db, actor=actors[Role.AGENT], customer_id=999_999, policy=POLICY)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (MaskedField.NAME, "欧阳娜娜"),
        (MaskedField.PHONE, "13812341234, 01088886666"),
        (MaskedField.ID_CARD, "110101199003071234"),
        (MaskedField.ADDRESS, "北京市朝阳区建国路88号院3号楼"),
    ],
)
def test_a_lead_may_unmask_and_it_is_audited(
    db: Database,
    customers: list[int],
    actors: dict[Role, Actor],
    field: MaskedField,
    value: str,
) -> None:
    lead = actors[Role.LEAD]
    assert unmask_field(db, actor=lead, customer_id=customers[0], field=field) == value
    (entry,) = _audit_rows(db, "customer.unmask")
    assert entry.actor_id == lead.user_id
    assert entry.target_type == "customer"
    assert entry.target_id == str(customers[0])
    assert entry.detail == {"field": field.value, "outcome": "granted", "role": "lead"}
    assert value not in repr(entry.detail)


def test_an_agent_may_not_unmask_and_the_attempt_is_audited(
    db: Database, customers: list[int], actors: dict[Role, Actor]
) -> None:
    agent = actors[Role.AGENT]
    with pytest.raises(PermissionDenied):
        unmask_field(db, actor=agent, customer_id=customers[0], field=MaskedField.PHONE)
    (entry,) = _audit_rows(db, "customer.unmask")  # committed although the call failed
    assert entry.actor_id == agent.user_id
    assert entry.detail == {"field": "phone", "outcome": "denied", "role": "agent"}


def test_every_unmask_call_is_audited_and_the_chain_holds(
    db: Database, customers: list[int], actors: dict[Role, Actor]
) -> None:
    supervisor, handler = actors[Role.SUPERVISOR], actors[Role.HANDLER]
    complaint_lead = actors[Role.COMPLAINT_LEAD]
    unmask_field(db, actor=supervisor, customer_id=customers[1], field=MaskedField.NAME)
    unmask_field(db, actor=complaint_lead, customer_id=customers[1], field=MaskedField.ADDRESS)
    with pytest.raises(PermissionDenied):
        unmask_field(db, actor=handler, customer_id=customers[1], field=MaskedField.ID_CARD)
    with pytest.raises(NotFound):
        unmask_field(db, actor=supervisor, customer_id=999_999, field=MaskedField.NAME)
    outcomes = [
        (entry.actor_id, entry.detail["outcome"]) for entry in _audit_rows(db, "customer.unmask")
    ]
    assert outcomes == [
        (supervisor.user_id, "granted"),
        (complaint_lead.user_id, "granted"),
        (handler.user_id, "denied"),
        (supervisor.user_id, "not_found"),
    ]
    assert audit.verify_chain(db, actor=shell_actor("test")).ok


def test_a_shell_actor_is_audited_by_login(db: Database, customers: list[int]) -> None:
    (lead,) = add_staff(db, Role.LEAD, login="lead2")
    shell = shell_actor("ops")  # the command line's own row, an admin: may not unmask
    assert unmask_field(db, actor=lead, customer_id=customers[1], field="name") == "李四"  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied):
        unmask_field(db, actor=shell, customer_id=customers[1], field=MaskedField.NAME)
    entries = _audit_rows(db, "customer.unmask")
    assert [(e.actor_id, e.actor_login, e.detail["outcome"]) for e in entries] == [
        (lead.user_id, "lead2", "granted"),
        (SHELL_USER_ID, "cli:ops", "denied"),
    ]


@pytest.mark.parametrize(
    ("window_days", "expected"),
    [
        (7, ("bill_inquiry", "consultation")),  # the shipped window
        (3, ("bill_inquiry",)),  # bill inquiries 0-2 days ago, consultations 3+ days ago
        (50, ("bill_inquiry", "complaint", "consultation")),  # the complaint 40 days ago
    ],
)
def test_the_repeat_caller_window_is_the_policys(
    db: Database,
    customers: list[int],
    actors: dict[Role, Actor],
    window_days: int,
    expected: tuple[str, ...],
) -> None:
    policy = POLICY.model_copy(
        update={"repeat_caller": RepeatCallerPolicy(window_days=window_days)}
    )
    card = customer_card(db, actor=actors[Role.AGENT], customer_id=customers[0], policy=policy)
    assert card.repeat_request_types == expected
    assert card.repeat_window_days == window_days


def test_a_card_costs_the_same_few_statements_whoever_the_customer_is(
    db: Database, customers: list[int], actors: dict[Role, Actor]
) -> None:
    """Each statement is a round trip on PostgreSQL, and the card is read at every call: a
    busy customer's card (orders, contacts, a big customer's audit) costs no more statements
    than a plain one's, and the audited read stays within its budget."""
    seen: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        seen.append(statement)

    # the first entry of a new log also seals the key and starts the head: not counted
    customer_card(db, actor=actors[Role.AGENT], customer_id=customers[1], policy=POLICY)
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        counts = []
        for customer_id in (customers[0], customers[1]):
            seen.clear()
            customer_card(db, actor=actors[Role.AGENT], customer_id=customer_id, policy=POLICY)
            counts.append(len(seen))
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    busy, plain = counts
    assert busy == plain, seen
    # reading: one statement (the access check, the customer and its branch, the phones,
    # plans, open orders with their total, recent contacts, contacts in the windows); the
    # audit entry: PostgreSQL, the lock (carrying the commit's setting), the key's
    # fingerprint with the tail and the entry's id, the entry with its head (BEGIN and
    # COMMIT are the driver's own); SQLite, its PRAGMA synchronous and BEGIN IMMEDIATE, the
    # fingerprint with the tail, the entry, the head
    assert busy == (4 if db.engine.dialect.name == "postgresql" else 6), seen


@pytest.mark.parametrize("which", ["busy", "plain", "missing"])
def test_the_card_judges_the_user_as_it_is_now_and_audits_nothing_refused(
    db: Database, customers: list[int], actors: dict[Role, Actor], which: str
) -> None:
    """The check rides on the card's statement: whatever the customer (one with orders and
    contacts, a plain one, none), a user disabled since sign-in is refused, and so is one
    moved to a role that sees no card; neither is told whether the customer exists, and no
    view is audited."""
    customer_id = {"busy": customers[0], "plain": customers[1], "missing": 999_999}[which]
    agent, lead = actors[Role.AGENT], actors[Role.LEAD]
    set_user(db, agent.user_id, active=False)
    with pytest.raises(PermissionDenied, match="no longer an active user"):
        customer_card(db, actor=agent, customer_id=customer_id, policy=POLICY)
    set_user(db, lead.user_id, role=Role.HANDLER.value)
    with pytest.raises(PermissionDenied, match="is now handler"):
        customer_card(db, actor=lead, customer_id=customer_id, policy=POLICY)
    assert _audit_rows(db, "customer.card_view") == []
    set_user(db, agent.user_id, active=True)
    if which == "missing":
        with pytest.raises(NotFound):
            customer_card(db, actor=agent, customer_id=customer_id, policy=POLICY)
    else:
        assert customer_card(db, actor=agent, customer_id=customer_id, policy=POLICY).id == (
            customer_id
        )


def test_the_card_shows_names_and_titles_as_written_not_as_markup(
    db: Database, customers: list[int], actors: dict[Role, Actor]
) -> None:
    """What people wrote (a plan's, a manager's, an agent's name, an order's title) is drawn
    as written: Rich read a string cell of the card's tables as markup, and '[b]' vanished."""
    import dataclasses

    from rich.console import Console

    from desk.screens.card import render_card

    card = customer_card(db, actor=actors[Role.AGENT], customer_id=customers[0], policy=POLICY)
    assert card.open_work_orders
    assert card.recent_contacts
    card = dataclasses.replace(
        card,
        plan_name="[b]畅享套餐[/b]",
        account_manager_name="[i]王强",
        region="[red]北京",
        open_work_orders=tuple(
            dataclasses.replace(order, title="[b]急[/b] 断网") for order in card.open_work_orders
        ),
        recent_contacts=tuple(
            dataclasses.replace(contact, agent_name="[u]小李[/u]")
            for contact in card.recent_contacts
        ),
    )
    console = Console(width=160, record=True, color_system=None)
    console.print(render_card(card))
    shown = console.export_text()
    for written in ("[b]畅享套餐[/b]", "[i]王强", "[red]北京", "[b]急[/b] 断网", "[u]小李[/u]"):
        assert written in shown, written
