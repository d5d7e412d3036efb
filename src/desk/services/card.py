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

**One statement.** The card is read at every call, and on PostgreSQL each statement is a
round trip: the customer, its phones, plans, open orders, recent contacts and the contacts the
repeat-caller rule counts are read by one statement of Core (:func:`_card_statement`), which
also reads the actor's row for the permission check, as customer search does. With its audit
entry (:func:`desk.services.audit.record`) a card view is four statements on PostgreSQL.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import IntEnum, StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Select,
    String,
    and_,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.types import TypeEngine
from sqlmodel import Session, col
from sqlmodel import select as select_models

from desk.infra.database import Database, now_of, reads_audited
from desk.infra.errors import NotFound, PermissionDenied
from desk.models import Customer, CustomerPhone, metadata
from desk.rules.ladder import PriorContact, is_repeat_caller
from desk.rules.masking import mask_address, mask_id_card, mask_name, mask_phone
from desk.rules.permissions import Actor, Permission, can
from desk.rules.policy import Policy
from desk.rules.vocab import RequestType, WorkOrderStatus
from desk.rules.work_orders import is_overdue
from desk.services import audit
from desk.services.access import require_role, require_seen, role_now

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


class _Part(IntEnum):
    """What a row of the card's statement carries (see :func:`_card_statement`)."""

    HEAD = 0  # the customer, its branch's name, the actor's role now
    PHONE = 1
    PLAN = 2
    ORDER = 3  # an open work order
    RECENT = 4  # one of the latest contacts
    WINDOW = 5  # a contact in the longer of the two windows


def _slots() -> dict[str, TypeEngine[Any]]:
    """The columns a list row fills, each with its type (as the model's columns have it):

    ======== ========== ============ =============== =========== ==============
    slot     phone      plan         open order      recent      window
    ======== ========== ============ =============== =========== ==============
    item_id                          id              id
    key      phone      plan name    number          channel
    kind                             category        request     request
                                                     type        type
    state                            status          outcome
    label                            title           agent name
    at                               created_at      offered_at  offered_at
    due                              reply_due
    next_due                         next_due
    flag                             is_major
    level                            escalation
    total                            open orders
    ======== ========== ============ =============== =========== ==============
    """
    order = metadata.tables["work_order"].c
    return {
        "item_id": Integer(),
        "key": String(),
        "kind": String(),
        "state": String(),
        "label": String(),
        "at": order.created_at.type,
        "due": order.reply_due.type,
        "next_due": order.next_due.type,
        "flag": order.is_major.type,
        "level": Integer(),
        "total": Integer(),
    }


def _row(
    part: _Part, ordinal: ColumnElement[Any] | None = None, **values: ColumnElement[Any]
) -> list[ColumnElement[Any]]:
    """The columns of one part's rows: its number, its place in its list, its slots (NULL,
    typed, where the part has nothing)."""
    slots = _slots()
    assert set(values) <= set(slots), values
    return [
        literal_column(str(int(part)), Integer).label("part"),
        (cast(null(), Integer) if ordinal is None else ordinal).label("ordinal"),
        *(
            (values[name] if name in values else cast(null(), type_)).label(name)
            for name, type_ in slots.items()
        ),
    ]


@functools.cache  # built at the first card, not at import
def _card_statement() -> Select[Any]:
    """The whole card in one statement (one round trip on PostgreSQL, one execution on
    SQLite), for the bound ``customer_id``, ``actor_id`` and ``window_since`` (the earlier of
    30 days ago and the repeat-caller window's start).

    Each list is a part of a ``UNION ALL`` whose rows share one set of columns
    (:func:`_slots`), ordered by part and by their place in the list. Its first row (part
    ``HEAD``) is joined to the customer, the customer's branch, and carries the actor's role
    now (:func:`desk.services.access.role_now`): the check of ``require`` with no statement
    of its own, judged before anything read is used. When the customer does not exist, the
    head row's customer columns are NULL."""
    tables = metadata.tables
    customer, branch = tables["customer"], tables["branch"]
    phone, account = tables["customer_phone"], tables["account"]
    order, contact, staff = tables["work_order"], tables["contact"], tables["staff_user"]
    customer_id = bindparam("customer_id", type_=Integer)

    def place(*order_by: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.row_number().over(order_by=order_by)

    phones = select(
        *_row(
            _Part.PHONE,
            place(phone.c.is_primary.desc(), phone.c.id),
            key=phone.c.phone,
        )
    ).where(phone.c.customer_id == customer_id)
    # the main account first: the oldest active one
    plans = select(
        *_row(
            _Part.PLAN,
            place(account.c.status != "active", account.c.opened_on, account.c.id),
            key=account.c.plan_name,
        )
    ).where(account.c.customer_id == customer_id)
    newest = (order.c.created_at.desc(), order.c.id.desc())
    open_orders = (
        select(
            order.c.id,
            order.c.number,
            order.c.category,
            order.c.status,
            order.c.title,
            order.c.created_at,
            order.c.reply_due,
            order.c.next_due,
            order.c.is_major,
            order.c.escalation_level,
            func.count().over().label("total"),  # counted before the limit
            place(*newest).label("ordinal"),
        )
        .where(
            order.c.customer_id == customer_id,
            order.c.status.in_(
                [s.value for s in WorkOrderStatus if s is not WorkOrderStatus.CLOSED]
            ),
        )
        .order_by(*newest)
        .limit(OPEN_WORK_ORDERS_SHOWN)
        .subquery("open_orders")
    )
    orders = select(
        *_row(
            _Part.ORDER,
            open_orders.c.ordinal,
            item_id=open_orders.c.id,
            key=open_orders.c.number,
            kind=open_orders.c.category,
            state=open_orders.c.status,
            label=open_orders.c.title,
            at=open_orders.c.created_at,
            due=open_orders.c.reply_due,
            next_due=open_orders.c.next_due,
            flag=open_orders.c.is_major,
            level=open_orders.c.escalation_level,
            total=open_orders.c.total,
        )
    )
    latest = (contact.c.offered_at.desc(), contact.c.id.desc())
    latest_contacts = (
        select(
            contact.c.id,
            contact.c.offered_at,
            contact.c.channel,
            contact.c.request_type,
            contact.c.outcome,
            staff.c.display_name,
            place(*latest).label("ordinal"),
        )
        .select_from(contact.outerjoin(staff, staff.c.id == contact.c.agent_id))
        .where(contact.c.customer_id == customer_id)
        .order_by(*latest)
        .limit(RECENT_CONTACTS)
        .subquery("latest_contacts")
    )
    recent = select(
        *_row(
            _Part.RECENT,
            latest_contacts.c.ordinal,
            item_id=latest_contacts.c.id,
            key=latest_contacts.c.channel,
            kind=latest_contacts.c.request_type,
            state=latest_contacts.c.outcome,
            label=latest_contacts.c.display_name,
            at=latest_contacts.c.offered_at,
        )
    )
    in_windows = select(
        *_row(_Part.WINDOW, at=contact.c.offered_at, kind=contact.c.request_type)
    ).where(
        contact.c.customer_id == customer_id,
        contact.c.offered_at >= bindparam("window_since", type_=contact.c.offered_at.type),
    )
    parts = union_all(
        select(*_row(_Part.HEAD)), phones, plans, orders, recent, in_windows
    ).subquery("parts")
    head = and_(parts.c.part == int(_Part.HEAD), customer.c.id == customer_id)
    statement = (
        select(
            parts,
            customer.c.id.label("customer_id"),
            *(customer.c[name] for name in _CUSTOMER_COLUMNS),
            (customer.c.service_password_hash.is_not(None)).label("has_password"),
            branch.c.name.label("branch_name"),
            role_now(bindparam("actor_id", type_=Integer)).label("actor_role"),
        )
        .select_from(
            parts.outerjoin(customer, head).outerjoin(branch, branch.c.id == customer.c.branch_id)
        )
        .order_by(parts.c.part, parts.c.ordinal)
    )
    return statement


_CUSTOMER_COLUMNS = (
    "customer_no",
    "name",
    "id_card_no",
    "address",
    "region",
    "tier",
    "is_member",
    "member_since",
    "big_customer_class",
    "account_manager_name",
    "account_manager_phone",
    "status",
    "arrears_cents",
    "arrears_since",
    "birthday",
    "verification_locked_at",
    "created_at",
    "last_activity_at",
    "version",
)


def _card(head: Row[Any], rows: Sequence[Row[Any]], now: datetime, policy: Policy) -> CustomerCard:
    """The card from the rows of :func:`_card_statement`: ``head`` and the lists' rows, in
    order."""
    lists: dict[_Part, list[Row[Any]]] = {part: [] for part in _Part}
    for row in rows:
        lists[_Part(row.part)].append(row)
    plans = [row.key for row in lists[_Part.PLAN]]
    orders = lists[_Part.ORDER]
    counted_since = now - CONTACT_WINDOW
    in_windows = lists[_Part.WINDOW]
    earlier = [
        PriorContact(at=row.at, request_type=RequestType(row.kind))
        for row in in_windows
        if row.kind is not None
    ]
    repeat_types = [kind for kind in RequestType if is_repeat_caller(kind, earlier, now, policy)]
    return CustomerCard(
        id=head.customer_id,
        customer_no=head.customer_no,
        name_masked=mask_name(head.name),
        phones_masked=tuple(mask_phone(row.key) for row in lists[_Part.PHONE]),
        id_card_masked=mask_id_card(head.id_card_no),
        address_masked=mask_address(head.address, head.region) if head.address else None,
        tier=head.tier,
        is_member=head.is_member,
        member_since=head.member_since,
        big_customer_class=head.big_customer_class,
        account_manager_name=head.account_manager_name,
        account_manager_phone=head.account_manager_phone,
        status=head.status,
        region=head.region,
        branch_name=head.branch_name,
        arrears_cents=head.arrears_cents,
        arrears_since=head.arrears_since,
        birthday_month_day=head.birthday.strftime("%m-%d") if head.birthday else None,
        verification_locked=head.verification_locked_at is not None,
        verification_locked_at=head.verification_locked_at,
        has_service_password=bool(head.has_password),
        plan_name=plans[0] if plans else None,
        accounts=len(plans),
        open_work_orders=tuple(
            OpenWorkOrder(
                id=row.item_id,
                number=row.key,
                category=row.kind,
                status=row.state,
                title=row.label,
                created_at=row.at,
                reply_due=row.due,
                is_overdue=is_overdue(row.next_due, now),
                is_major=row.flag,
                escalation_level=row.level,
            )
            for row in orders
        ),
        open_work_orders_total=int(orders[0].total) if orders else 0,
        recent_contacts=tuple(
            RecentContact(
                id=row.item_id,
                offered_at=row.at,
                channel=row.key,
                request_type=row.kind,
                outcome=row.state,
                agent_name=row.label,
            )
            for row in lists[_Part.RECENT]
        ),
        contacts_last_30_days=sum(1 for row in in_windows if row.at >= counted_since),
        repeat_request_types=tuple(sorted(str(kind) for kind in repeat_types)),
        repeat_window_days=policy.repeat_caller.window_days,
        customer_since=head.created_at,
        last_activity_at=head.last_activity_at,
        version=head.version,
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
    # The check of require(), in two halves: the role signed in with now, the user's row as
    # it stands with the card's statement (see _card_statement).
    require_role(actor, Permission.VIEW_CUSTOMER_CARD)
    now = now_of(session)
    counted_since = now - CONTACT_WINDOW
    window_since = min(counted_since, now - timedelta(days=policy.repeat_caller.window_days))
    # Core through the transaction's connection: no ORM around a statement of columns.
    head, *rows = (
        session.connection()
        .execute(
            _card_statement(),
            {"customer_id": customer_id, "actor_id": actor.user_id, "window_since": window_since},
        )
        .all()
    )
    require_seen(session, actor, Permission.VIEW_CUSTOMER_CARD, head.actor_role)
    if head.customer_id is None:
        raise NotFound(f"no customer with id {customer_id}")
    card = _card(head, rows, now, policy)
    audit.record(
        session,
        action="customer.card_view",
        actor=actor,
        target_type="customer",
        target_id=customer_id,
        detail={"big_customer_class": head.big_customer_class, "contact": contact_id},
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
        select_models(CustomerPhone.phone)
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
