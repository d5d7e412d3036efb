"""Bill and account inquiry (话费查询) for the caller of an open contact.

Every call here names the agent's open contact, asks the verification gate for its kind of
account data (the policy decides which need a verified caller: balance, current and history
bills, itemized records, payments) and raises
:class:`~desk.services.verification.GateRefused` when the caller may not be told. Every view
is audited (``account.view`` with what was shown), so who read whose bills is on record; as
a view-audit row it is committed without waiting for the disk flush
(:func:`desk.infra.database.reads_audited`).

Itemized records (详单) come a page at a time by keyset on ``(occurred_at, id)``; the other
party's number is masked like any phone on screen.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from desk.clock import SHANGHAI
from desk.infra.database import now_of, reads_audited
from desk.infra.errors import InvalidInput, NotFound
from desk.models import Account, AccountAddOn, Bill, BillItem, Contact, Customer, Payment
from desk.rules.masking import mask_phone
from desk.rules.permissions import Actor, Permission
from desk.rules.policy import Policy
from desk.rules.vocab import AccountData
from desk.services import audit
from desk.services.access import require
from desk.services.contacts import agents_contact
from desk.services.verification import require_gate

HISTORY_MONTHS = 12
MAX_ITEMS_PAGE = 200
PAYMENTS_SHOWN = 12


@dataclass(frozen=True, slots=True)
class AddOnLine:
    id: int
    code: str
    name: str
    monthly_fee_cents: int
    added_at: datetime


@dataclass(frozen=True, slots=True)
class AccountLine:
    id: int
    account_no: str
    plan_code: str
    plan_name: str
    monthly_fee_cents: int
    status: str
    add_ons: tuple[AddOnLine, ...]


@dataclass(frozen=True, slots=True)
class AccountOverview:
    customer_id: int
    balance_cents: int
    arrears_cents: int
    arrears_since: date | None
    accounts: tuple[AccountLine, ...]


@dataclass(frozen=True, slots=True)
class BillLine:
    id: int
    account_no: str
    period: str
    amount_cents: int
    paid_cents: int
    due_date: date
    status: str

    @property
    def owed_cents(self) -> int:
        return max(self.amount_cents - self.paid_cents, 0)


@dataclass(frozen=True, slots=True)
class BillInquiry:
    current_period: str
    current: tuple[BillLine, ...]  # the current month's bills (one per account)
    history: tuple[BillLine, ...] | None  # the last 12 months, newest first; None: not allowed


@dataclass(frozen=True, slots=True)
class BillItemLine:
    id: int
    occurred_at: datetime
    kind: str
    counterpart_masked: str | None
    quantity: int
    amount_cents: int
    description: str


@dataclass(frozen=True, slots=True)
class ItemPage:
    bill: BillLine
    items: tuple[BillItemLine, ...]
    next_cursor: str | None
    number: int  # 1 for the first page


@dataclass(frozen=True, slots=True)
class PaymentLine:
    id: int
    paid_at: datetime
    amount_cents: int
    channel: str


def _caller(session: Session, actor: Actor, contact_id: int) -> tuple[Contact, Customer]:
    contact = agents_contact(session, actor, contact_id, open_=True)
    if contact.customer_id is None:
        raise InvalidInput("the caller is not a known customer yet", field="customer")
    customer = session.get(Customer, contact.customer_id)
    if customer is None:  # pragma: no cover - the foreign key forbids it
        raise NotFound(f"no customer with id {contact.customer_id}")
    return contact, customer


def _audit_view(
    session: Session, actor: Actor, contact: Contact, what: str, **detail: object
) -> None:
    audit.record(
        session,
        action="account.view",
        actor=actor,
        target_type="customer",
        target_id=contact.customer_id,
        detail={"contact": contact.id, "what": what, **detail},
    )


def _bill_line(bill: Bill, account_no: str) -> BillLine:
    assert bill.id is not None
    return BillLine(
        id=bill.id,
        account_no=account_no,
        period=bill.period,
        amount_cents=bill.amount_cents,
        paid_cents=bill.paid_cents,
        due_date=bill.due_date,
        status=bill.status,
    )


def current_period(now: datetime) -> str:
    return now.astimezone(SHANGHAI).strftime("%Y-%m")


def _periods_back(period: str, months: int) -> str:
    year, month = (int(part) for part in period.split("-"))
    month -= months
    while month < 1:
        year, month = year - 1, month + 12
    return f"{year:04d}-{month:02d}"


@reads_audited
def account_overview(
    session: Session, *, actor: Actor, contact_id: int, policy: Policy
) -> AccountOverview:
    """Balance, arrears and the accounts with their plans and add-ons."""
    require(session, actor, Permission.VIEW_BILLS)
    contact, customer = _caller(session, actor, contact_id)
    require_gate(session, contact, customer, AccountData.BALANCE, policy)
    assert customer.id is not None
    accounts = session.exec(
        select(Account)
        .where(Account.customer_id == customer.id)
        .order_by(col(Account.opened_on), col(Account.id))
    ).all()
    lines: list[AccountLine] = []
    for account in accounts:
        assert account.id is not None
        add_ons = session.exec(
            select(AccountAddOn)
            .where(AccountAddOn.account_id == account.id, col(AccountAddOn.removed_at).is_(None))
            .order_by(col(AccountAddOn.added_at), col(AccountAddOn.id))
        ).all()
        lines.append(
            AccountLine(
                id=account.id,
                account_no=account.account_no,
                plan_code=account.plan_code,
                plan_name=account.plan_name,
                monthly_fee_cents=account.monthly_fee_cents,
                status=account.status,
                add_ons=tuple(
                    AddOnLine(a.id or 0, a.code, a.name, a.monthly_fee_cents, a.added_at)
                    for a in add_ons
                ),
            )
        )
    _audit_view(session, actor, contact, "balance")
    return AccountOverview(
        customer_id=customer.id,
        balance_cents=customer.balance_cents,
        arrears_cents=customer.arrears_cents,
        arrears_since=customer.arrears_since,
        accounts=tuple(lines),
    )


@reads_audited
def bill_inquiry(
    session: Session, *, actor: Actor, contact_id: int, policy: Policy, history: bool = True
) -> BillInquiry:
    """The current month's bills and, when ``history`` and the gate allow, the last 12."""
    require(session, actor, Permission.VIEW_BILLS)
    contact, customer = _caller(session, actor, contact_id)
    require_gate(session, contact, customer, AccountData.CURRENT_BILL, policy)
    if history:
        require_gate(session, contact, customer, AccountData.HISTORY_BILLS, policy)
    period = current_period(now_of(session))
    oldest = _periods_back(period, HISTORY_MONTHS)
    rows = session.exec(
        select(Bill, Account.account_no)
        .join(Account, col(Account.id) == col(Bill.account_id))
        .where(
            Bill.customer_id == customer.id,
            col(Bill.period) >= (oldest if history else period),
        )
        .order_by(col(Bill.period).desc(), col(Bill.account_id))
    ).all()
    lines = [_bill_line(bill, account_no) for bill, account_no in rows]
    _audit_view(session, actor, contact, "bills" if history else "current_bill", period=period)
    return BillInquiry(
        current_period=period,
        current=tuple(line for line in lines if line.period == period),
        history=tuple(line for line in lines if line.period != period) if history else None,
    )


def _encode(occurred_at: datetime, item_id: int, number: int) -> str:
    raw = json.dumps([occurred_at.isoformat(), item_id, number]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode(cursor: str) -> tuple[datetime, int, int]:
    try:
        at, item_id, number = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(at), int(item_id), int(number)
    except (ValueError, TypeError) as error:
        raise InvalidInput("not a cursor of this list", field="cursor") from error


@reads_audited
def bill_items(
    session: Session,
    *,
    actor: Actor,
    contact_id: int,
    bill_id: int,
    policy: Policy,
    after: str | None = None,
    limit: int = 50,
) -> ItemPage:
    """One page of a bill's itemized records, oldest first, by keyset."""
    require(session, actor, Permission.VIEW_BILLS)
    if not 1 <= limit <= MAX_ITEMS_PAGE:
        raise InvalidInput(f"must be between 1 and {MAX_ITEMS_PAGE}", field="limit")
    contact, customer = _caller(session, actor, contact_id)
    require_gate(session, contact, customer, AccountData.ITEMIZED_DETAIL, policy)
    row = session.exec(
        select(Bill, Account.account_no)
        .join(Account, col(Account.id) == col(Bill.account_id))
        .where(Bill.id == bill_id)
    ).first()
    if row is None or row[0].customer_id != customer.id:
        raise NotFound(f"no bill {bill_id} of this customer")
    bill, account_no = row
    query = select(BillItem).where(BillItem.bill_id == bill_id)
    number = 1
    if after is not None:
        at, item_id, previous = _decode(after)
        number = previous + 1
        query = query.where(
            or_(
                col(BillItem.occurred_at) > at,
                and_(col(BillItem.occurred_at) == at, col(BillItem.id) > item_id),
            )
        )
    items = session.exec(
        query.order_by(col(BillItem.occurred_at), col(BillItem.id)).limit(limit + 1)
    ).all()
    more = len(items) > limit
    items = items[:limit]
    _audit_view(session, actor, contact, "itemized", bill=bill_id, page=number)
    last = items[-1] if items else None
    return ItemPage(
        bill=_bill_line(bill, account_no),
        items=tuple(
            BillItemLine(
                id=item.id or 0,
                occurred_at=item.occurred_at,
                kind=item.kind,
                counterpart_masked=mask_phone(item.counterpart) if item.counterpart else None,
                quantity=item.quantity,
                amount_cents=item.amount_cents,
                description=item.description,
            )
            for item in items
        ),
        next_cursor=_encode(last.occurred_at, last.id or 0, number) if more and last else None,
        number=number,
    )


@reads_audited
def payments(
    session: Session, *, actor: Actor, contact_id: int, policy: Policy
) -> tuple[PaymentLine, ...]:
    """The latest payments, newest first."""
    require(session, actor, Permission.VIEW_BILLS)
    contact, customer = _caller(session, actor, contact_id)
    require_gate(session, contact, customer, AccountData.PAYMENTS, policy)
    rows = session.exec(
        select(Payment)
        .where(Payment.customer_id == customer.id)
        .order_by(col(Payment.paid_at).desc(), col(Payment.id).desc())
        .limit(PAYMENTS_SHOWN)
    ).all()
    _audit_view(session, actor, contact, "payments")
    return tuple(
        PaymentLine(row.id or 0, row.paid_at, row.amount_cents, row.channel) for row in rows
    )
