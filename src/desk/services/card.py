"""The customer card and audited unmasking.

**The card and unmasking.** Personal data leaves this module masked (``desk.rules.masking``);
the account manager is staff-facing and shown as is. Every card view is audited
(``customer.card_view``, with the contact it was opened in, if any), in the same transaction
that reads the card, so what was shown is what was logged. Account data (balance, bills,
payments) is not on the card: it is read for a verified caller through
:mod:`desk.services.bills`; the card carries only the arrears, which decide what a caller may
ask for. Every :func:`unmask_field` call is audited (``customer.unmask``, outcome granted /
denied / not_found), a denial included: its entry is committed before
:class:`PermissionDenied` is raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import func
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from desk.infra.database import Database, now_of, reads_audited
from desk.infra.errors import NotFound, PermissionDenied
from desk.models import (
    Account,
    Branch,
    Contact,
    Customer,
    CustomerPhone,
    StaffUser,
    WorkOrder,
)
from desk.rules.ladder import PriorContact, is_repeat_caller
from desk.rules.masking import mask_address, mask_id_card, mask_name, mask_phone
from desk.rules.permissions import Actor, Permission, can
from desk.rules.policy import Policy
from desk.rules.vocab import RequestType, WorkOrderStatus
from desk.rules.work_orders import is_overdue
from desk.services import audit
from desk.services.access import require

RECENT_CONTACTS = 10
OPEN_WORK_ORDERS_SHOWN = 20
CONTACT_WINDOW = timedelta(days=30)


class MaskedField(StrEnum):
    NAME = "name"
    PHONE = "phone"
    ID_CARD = "id_card"
    ADDRESS = "address"


@dataclass(frozen=True, slots=True)
class OpenWorkOrder:
    id: int
    number: str
    category: str
    status: str
    title: str
    created_at: datetime
    reply_due: datetime | None
    is_overdue: bool
    is_major: bool
    escalation_level: int


@dataclass(frozen=True, slots=True)
class RecentContact:
    id: int
    offered_at: datetime
    channel: str
    request_type: str | None
    outcome: str | None
    agent_name: str | None


@dataclass(frozen=True, slots=True)
class CustomerCard:
    id: int
    customer_no: str
    name_masked: str
    phones_masked: tuple[str, ...]  # the primary phone first
    id_card_masked: str
    address_masked: str | None
    tier: str
    is_member: bool
    member_since: date | None
    big_customer_class: str | None
    account_manager_name: str | None  # staff-facing: not masked
    account_manager_phone: str | None
    status: str
    region: str
    branch_name: str | None
    arrears_cents: int
    arrears_since: date | None
    birthday_month_day: str | None  # "MM-DD": the year is never shown
    verification_locked: bool
    verification_locked_at: datetime | None
    has_service_password: bool
    plan_name: str | None  # of the main (oldest active) account
    accounts: int
    open_work_orders: tuple[OpenWorkOrder, ...]  # newest first, at most 20
    open_work_orders_total: int
    recent_contacts: tuple[RecentContact, ...]  # newest first, at most 10
    contacts_last_30_days: int
    repeat_request_types: tuple[str, ...]  # request types of a repeat caller (rules.ladder)
    repeat_window_days: int  # ... within this many days (the policy's repeat_caller window)
    customer_since: datetime
    last_activity_at: datetime | None
    version: int  # of the customer's data, for a change made from the card

    @property
    def is_big_customer(self) -> bool:
        return self.big_customer_class is not None


# --- the customer card --------------------------------------------------------------------


def _card(
    session: Session, customer: Customer, branch_name: str | None, policy: Policy
) -> CustomerCard:
    """Read with as few statements as the card allows (each is a round trip on PostgreSQL):
    columns, not entities, for the lists; the open-order total with the orders; one read of
    the contacts in the longer of the two windows, counted and matched here."""
    assert customer.id is not None
    now = now_of(session)
    customer_id = customer.id
    phones = session.exec(
        select(CustomerPhone.phone)
        .where(CustomerPhone.customer_id == customer_id)
        .order_by(col(CustomerPhone.is_primary).desc(), col(CustomerPhone.id))
    ).all()
    plans = session.exec(
        select(Account.plan_name)
        .where(Account.customer_id == customer_id)
        .order_by(col(Account.status) != "active", col(Account.opened_on), col(Account.id))
    ).all()
    open_statuses = [s.value for s in WorkOrderStatus if s is not WorkOrderStatus.CLOSED]
    open_filter = (
        col(WorkOrder.customer_id) == customer_id,
        col(WorkOrder.status).in_(open_statuses),
    )
    orders = session.execute(
        select_columns(
            col(WorkOrder.id),
            col(WorkOrder.number),
            col(WorkOrder.category),
            col(WorkOrder.status),
            col(WorkOrder.title),
            col(WorkOrder.created_at),
            col(WorkOrder.reply_due),
            col(WorkOrder.next_due),
            col(WorkOrder.is_major),
            col(WorkOrder.escalation_level),
            func.count().over().label("total"),
        )
        .where(*open_filter)
        .order_by(col(WorkOrder.created_at).desc(), col(WorkOrder.id).desc())
        .limit(OPEN_WORK_ORDERS_SHOWN)
    ).all()
    contacts = session.execute(
        select_columns(
            col(Contact.id),
            col(Contact.offered_at),
            col(Contact.channel),
            col(Contact.request_type),
            col(Contact.outcome),
            col(StaffUser.display_name),
        )
        .join(StaffUser, col(StaffUser.id) == col(Contact.agent_id), isouter=True)
        .where(col(Contact.customer_id) == customer_id)
        .order_by(col(Contact.offered_at).desc(), col(Contact.id).desc())
        .limit(RECENT_CONTACTS)
    ).all()
    window = policy.repeat_caller.window_days
    counted_since = now - CONTACT_WINDOW
    in_windows = session.exec(
        select(Contact.offered_at, Contact.request_type).where(
            Contact.customer_id == customer_id,
            col(Contact.offered_at) >= min(counted_since, now - timedelta(days=window)),
        )
    ).all()
    recent_count = sum(1 for at, _ in in_windows if at >= counted_since)
    earlier = [
        PriorContact(at=at, request_type=RequestType(kind))
        for at, kind in in_windows
        if kind is not None
    ]
    repeat_types = [kind for kind in RequestType if is_repeat_caller(kind, earlier, now, policy)]
    return CustomerCard(
        id=customer_id,
        customer_no=customer.customer_no,
        name_masked=mask_name(customer.name),
        phones_masked=tuple(mask_phone(phone) for phone in phones),
        id_card_masked=mask_id_card(customer.id_card_no),
        address_masked=mask_address(customer.address, customer.region)
        if customer.address
        else None,
        tier=customer.tier,
        is_member=customer.is_member,
        member_since=customer.member_since,
        big_customer_class=customer.big_customer_class,
        account_manager_name=customer.account_manager_name,
        account_manager_phone=customer.account_manager_phone,
        status=customer.status,
        region=customer.region,
        branch_name=branch_name,
        arrears_cents=customer.arrears_cents,
        arrears_since=customer.arrears_since,
        birthday_month_day=customer.birthday.strftime("%m-%d") if customer.birthday else None,
        verification_locked=customer.verification_locked_at is not None,
        verification_locked_at=customer.verification_locked_at,
        has_service_password=bool(customer.service_password_hash),
        plan_name=plans[0] if plans else None,
        accounts=len(plans),
        open_work_orders=tuple(
            OpenWorkOrder(
                id=order_id,
                number=number,
                category=category,
                status=status,
                title=title,
                created_at=created_at,
                reply_due=reply_due,
                is_overdue=is_overdue(next_due, now),
                is_major=is_major,
                escalation_level=escalation_level,
            )
            for (
                order_id,
                number,
                category,
                status,
                title,
                created_at,
                reply_due,
                next_due,
                is_major,
                escalation_level,
                _total,
            ) in orders
        ),
        open_work_orders_total=int(orders[0].total) if orders else 0,
        recent_contacts=tuple(
            RecentContact(
                id=contact_id,
                offered_at=offered_at,
                channel=channel,
                request_type=request_type,
                outcome=outcome,
                agent_name=agent_name,
            )
            for contact_id, offered_at, channel, request_type, outcome, agent_name in contacts
        ),
        contacts_last_30_days=int(recent_count),
        repeat_request_types=tuple(sorted(str(kind) for kind in repeat_types)),
        repeat_window_days=window,
        customer_since=customer.created_at,
        last_activity_at=customer.last_activity_at,
        version=customer.version,
    )


def read_card(
    session: Session,
    *,
    actor: Actor,
    customer_id: int,
    policy: Policy,
    contact_id: int | None = None,
) -> CustomerCard:
    """:func:`customer_card` inside the caller's transaction, its view audited there."""
    require(session, actor, Permission.VIEW_CUSTOMER_CARD)
    found = session.exec(
        select(Customer, Branch.name)
        .join(Branch, col(Branch.id) == col(Customer.branch_id), isouter=True)
        .where(Customer.id == customer_id)
    ).first()
    if found is None:
        raise NotFound(f"no customer with id {customer_id}")
    customer, branch_name = found
    card = _card(session, customer, branch_name, policy)
    audit.record(
        session,
        action="customer.card_view",
        actor=actor,
        target_type="customer",
        target_id=customer_id,
        detail={"big_customer_class": customer.big_customer_class, "contact": contact_id},
    )
    return card


@reads_audited
def customer_card(
    session: Session,
    *,
    actor: Actor,
    customer_id: int,
    policy: Policy,
    contact_id: int | None = None,
) -> CustomerCard:
    """The pop-up card: masked personal data, standing, open work orders, recent contacts.

    Every view is audited (``customer.card_view``, naming ``contact_id`` when the card was
    opened for a contact), in the transaction that reads the card, once the card is read:
    the audit log's lock is then held only for the insert and the commit, not while the
    card is read (terminals opening cards at once wait on each other that much less). The
    commit does not wait for the disk flush (:func:`desk.infra.database.reads_audited`).
    """
    return read_card(
        session, actor=actor, customer_id=customer_id, policy=policy, contact_id=contact_id
    )


# --- unmasking ----------------------------------------------------------------------------


def _plain_value(session: Session, customer: Customer, field_: MaskedField) -> str:
    if field_ is MaskedField.NAME:
        return customer.name
    if field_ is MaskedField.ID_CARD:
        return customer.id_card_no
    if field_ is MaskedField.ADDRESS:
        return customer.address or ""
    phones = session.exec(
        select(CustomerPhone.phone)
        .where(CustomerPhone.customer_id == customer.id)
        .order_by(col(CustomerPhone.is_primary).desc(), col(CustomerPhone.id))
    ).all()
    return ", ".join(phones)


def _unmask(
    session: Session, *, actor: Actor, customer_id: int, field_: MaskedField
) -> tuple[str, str | None]:
    """(outcome, value) — the audit entry is written whatever the outcome."""
    granted = can(actor, Permission.UNMASK_PERSONAL_DATA)
    customer = session.get(Customer, customer_id) if granted else None
    outcome = "granted" if customer is not None else ("not_found" if granted else "denied")
    audit.record(
        session,
        action="customer.unmask",
        actor=actor,
        target_type="customer",
        target_id=customer_id,
        detail={"field": field_.value, "outcome": outcome, "role": actor.role.value},
    )
    if customer is None:
        return outcome, None
    return outcome, _plain_value(session, customer, field_)


def unmask_field(db: Database, *, actor: Actor, customer_id: int, field: MaskedField) -> str:
    """The unmasked value of one field (phones: every phone, primary first, comma-separated).

    Every call is audited — granted, denied or for a customer that does not exist — and the
    audit entry is committed before a denial is raised.
    """
    field_ = MaskedField(field)
    outcome, value = db.run(
        lambda session: _unmask(session, actor=actor, customer_id=customer_id, field_=field_),
        write=True,
    )
    if outcome == "denied":
        raise PermissionDenied(
            f"{actor.login} ({actor.role}) may not unmask personal data; the attempt is logged"
        )
    if value is None:
        raise NotFound(f"no customer with id {customer_id}")
    return value
