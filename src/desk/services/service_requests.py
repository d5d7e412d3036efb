"""Service requests (业务受理) that change the caller's account for real.

Plan change, add-on, suspend (停机保号) and resume, service-password reset, and a change of
the contact address. Each call names the agent's open contact and asks the verification gate
for its own kind (the policy's ``verification.required_for_service_requests`` and the arrears
gate): when the gate refuses, nothing on the account changes, the refusal's reason code is
written on the contact in the same transaction, and the result says why (for arrears: the
amount owed and since when). When allowed, the account changes, the change is audited and the
contact's topic names what was done — all in one transaction.

A change of the customer's data names the ``version`` of the customer it was typed over; a
save over a newer version raises :class:`StaleRecord` naming who saved it and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from desk.infra.database import now_of, writes
from desk.infra.errors import InvalidInput, NotFound, StaleRecord
from desk.models import Account, AccountAddOn, Contact, Customer, StaffUser
from desk.rules.permissions import Actor, Permission
from desk.rules.policy import Policy
from desk.rules.verification import GateDecision, Subject
from desk.rules.vocab import AccountData, RefusalReason, ServiceRequestKind
from desk.services import audit
from desk.services.access import require
from desk.services.contacts import agents_contact
from desk.services.secrets import hash_secret, verify_secret
from desk.services.verification import gate


@dataclass(frozen=True, slots=True)
class ServiceRequestResult:
    kind: ServiceRequestKind | AccountData
    done: bool
    decision: GateDecision
    refusal: RefusalReason | None
    amount_owed_cents: int | None
    owed_since: date | None
    summary: str  # what was done, for the contact's notes ("" when refused)
    contact_version: int  # the contact after this call (a refusal writes its reason)


def _caller(session: Session, actor: Actor, contact_id: int) -> tuple[Contact, Customer]:
    contact = agents_contact(session, actor, contact_id, open_=True)
    if contact.customer_id is None:
        raise InvalidInput("the caller is not a known customer yet", field="customer")
    customer = session.exec(
        select(Customer).where(Customer.id == contact.customer_id).with_for_update()
    ).first()
    if customer is None:  # pragma: no cover - the foreign key forbids it
        raise NotFound(f"no customer with id {contact.customer_id}")
    return contact, customer


def _refused(contact: Contact, kind: Subject, decision: GateDecision) -> ServiceRequestResult:
    return ServiceRequestResult(
        kind=kind,  # type: ignore[arg-type]
        done=False,
        decision=decision,
        refusal=decision.refusal,
        amount_owed_cents=decision.amount_owed_cents,
        owed_since=decision.owed_since,
        summary="",
        contact_version=contact.version,
    )


def _done(
    session: Session,
    actor: Actor,
    contact: Contact,
    customer: Customer,
    kind: ServiceRequestKind | AccountData,
    decision: GateDecision,
    summary: str,
    detail: dict[str, object],
) -> ServiceRequestResult:
    now = now_of(session)
    contact.topic = kind.value
    contact.updated_at = now
    contact.version += 1
    session.add(contact)
    audit.record(
        session,
        action=f"service_request.{kind.value}",
        actor=actor,
        target_type="customer",
        target_id=customer.id,
        detail={"contact": contact.id, **detail},
    )
    session.flush()
    return ServiceRequestResult(
        kind=kind,
        done=True,
        decision=decision,
        refusal=None,
        amount_owed_cents=None,
        owed_since=None,
        summary=summary,
        contact_version=contact.version,
    )


def _account(session: Session, customer: Customer, account_id: int | None) -> Account:
    """The customer's account ``account_id``; None: their main account (the oldest one not
    closed), for a caller whose accounts could not be listed before the request."""
    if account_id is None:
        main = session.exec(
            select(Account)
            .where(Account.customer_id == customer.id, col(Account.status) != "closed")
            .order_by(col(Account.opened_on), col(Account.id))
            .limit(1)
        ).first()
        if main is None:
            raise NotFound("the customer has no open account")
        return main
    account = session.get(Account, account_id)
    if account is None or account.customer_id != customer.id:
        raise NotFound(f"no account {account_id} of this customer")
    return account


def _start(
    session: Session, actor: Actor, contact_id: int, kind: Subject, policy: Policy
) -> tuple[Contact, Customer, GateDecision]:
    require(session, actor, Permission.CHANGE_ACCOUNTS)
    contact, customer = _caller(session, actor, contact_id)
    return contact, customer, gate(session, contact, customer, kind, policy)


@writes
def change_plan(
    session: Session,
    *,
    actor: Actor,
    contact_id: int,
    account_id: int | None,
    plan_code: str,
    policy: Policy,
) -> ServiceRequestResult:
    """Put the account on another plan of the policy's offers."""
    kind = ServiceRequestKind.PLAN_CHANGE
    contact, customer, decision = _start(session, actor, contact_id, kind, policy)
    if not decision.allowed:
        return _refused(contact, kind, decision)
    plan = policy.offers.plan(plan_code)
    if plan is None:
        raise InvalidInput(f"no plan {plan_code!r} on offer", field="plan")
    account = _account(session, customer, account_id)
    if account.plan_code == plan.code:
        raise InvalidInput(f"the account is already on {plan.name}", field="plan")
    before = (account.plan_code, account.plan_name)
    account.plan_code, account.plan_name = plan.code, plan.name
    account.monthly_fee_cents = plan.monthly_fee_cents
    session.add(account)
    return _done(
        session,
        actor,
        contact,
        customer,
        kind,
        decision,
        f"{before[1]} → {plan.name}",
        {"account": account.account_no, "from": before[0], "to": plan.code},
    )


@writes
def add_add_on(
    session: Session,
    *,
    actor: Actor,
    contact_id: int,
    account_id: int | None,
    code: str,
    policy: Policy,
) -> ServiceRequestResult:
    """Put an add-on (流量包, 增值业务) of the policy's offers on the account."""
    kind = ServiceRequestKind.ADD_ON
    contact, customer, decision = _start(session, actor, contact_id, kind, policy)
    if not decision.allowed:
        return _refused(contact, kind, decision)
    offer = policy.offers.add_on(code)
    if offer is None:
        raise InvalidInput(f"no add-on {code!r} on offer", field="add_on")
    account = _account(session, customer, account_id)
    assert account.id is not None
    if account.status != "active":
        raise InvalidInput("the account is suspended: resume it first", field="account")
    already = session.exec(
        select(AccountAddOn.id).where(
            AccountAddOn.account_id == account.id,
            AccountAddOn.code == offer.code,
            col(AccountAddOn.removed_at).is_(None),
        )
    ).first()
    if already is not None:
        raise InvalidInput(f"{offer.name} is already on the account", field="add_on")
    session.add(
        AccountAddOn(
            account_id=account.id,
            code=offer.code,
            name=offer.name,
            monthly_fee_cents=offer.monthly_fee_cents,
            added_at=now_of(session),
            added_by=actor.user_id or None,
            contact_id=contact_id,
        )
    )
    return _done(
        session,
        actor,
        contact,
        customer,
        kind,
        decision,
        f"+ {offer.name}",
        {"account": account.account_no, "add_on": offer.code},
    )


def _set_status(
    session: Session,
    actor: Actor,
    contact_id: int,
    account_id: int | None,
    policy: Policy,
    kind: ServiceRequestKind,
) -> ServiceRequestResult:
    contact, customer, decision = _start(session, actor, contact_id, kind, policy)
    if not decision.allowed:
        return _refused(contact, kind, decision)
    account = _account(session, customer, account_id)
    wanted = "suspended" if kind is ServiceRequestKind.SUSPEND else "active"
    if account.status == wanted:
        raise InvalidInput(f"the account is already {wanted}", field="account")
    if account.status not in ("active", "suspended"):
        raise InvalidInput(f"the account is {account.status}", field="account")
    before = account.status
    account.status = wanted
    session.add(account)
    return _done(
        session,
        actor,
        contact,
        customer,
        kind,
        decision,
        f"{account.account_no}: {before} → {wanted}",
        {"account": account.account_no, "from": before, "to": wanted},
    )


@writes
def suspend_account(
    session: Session, *, actor: Actor, contact_id: int, account_id: int | None, policy: Policy
) -> ServiceRequestResult:
    """停机保号: the account is suspended, the number kept."""
    return _set_status(session, actor, contact_id, account_id, policy, ServiceRequestKind.SUSPEND)


@writes
def resume_account(
    session: Session, *, actor: Actor, contact_id: int, account_id: int | None, policy: Policy
) -> ServiceRequestResult:
    """复机: a suspended account is active again."""
    return _set_status(session, actor, contact_id, account_id, policy, ServiceRequestKind.RESUME)


def password_problem(password: str, length: int, id_card_no: str | None = None) -> str | None:
    """Why ``password`` may not be a service password (None: it may)."""
    if len(password) != length or not password.isdigit() or not password.isascii():
        return f"must be exactly {length} digits"
    if len(set(password)) == 1:
        return "must not be one digit repeated"
    steps = {int(b) - int(a) for a, b in zip(password, password[1:], strict=False)}
    if steps in ({1}, {-1}):
        return "must not be a run of digits (123456, 654321)"
    if id_card_no and id_card_no[-length:] == password:
        return "must not be the end of the ID-card number"
    return None


@writes
def reset_service_password(
    session: Session,
    *,
    actor: Actor,
    contact_id: int,
    new_password: str,
    confirm: str,
    policy: Policy,
) -> ServiceRequestResult:
    """Set the service password the verified holder keyed in (twice); only its argon2id
    hash is stored and neither value is logged."""
    kind = ServiceRequestKind.PASSWORD_RESET
    contact, customer, decision = _start(session, actor, contact_id, kind, policy)
    if not decision.allowed:
        return _refused(contact, kind, decision)
    problem = password_problem(
        new_password, policy.contacts.service_password_length, customer.id_card_no
    )
    if problem:
        raise InvalidInput(problem, field="new_password")
    if confirm != new_password:
        raise InvalidInput("the two entries differ", field="confirm")
    if verify_secret(customer.service_password_hash, new_password):
        raise InvalidInput("must differ from the current password", field="new_password")
    customer.service_password_hash = hash_secret(new_password)
    session.add(customer)
    return _done(session, actor, contact, customer, kind, decision, "", {})


class AddressChange(BaseModel):
    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    address: str = Field(min_length=4, max_length=200)


def _stale_customer(session: Session, customer: Customer) -> StaleRecord:
    who = session.get(StaffUser, customer.updated_by) if customer.updated_by else None
    name = (who.display_name or who.login) if who else "someone"
    at = customer.updated_at.isoformat(timespec="seconds") if customer.updated_at else "?"
    return StaleRecord(
        f"the customer was changed by {name} at {at}; what you typed is kept: reload to "
        "see their change, then save again"
    )


@writes
def change_address(
    session: Session,
    *,
    actor: Actor,
    contact_id: int,
    version: int,
    change: AddressChange,
    policy: Policy,
) -> ServiceRequestResult:
    """资料变更: the contact address, over the customer ``version`` the agent read."""
    kind = AccountData.PERSONAL_DATA_CHANGE
    contact, customer, decision = _start(session, actor, contact_id, kind, policy)
    if not decision.allowed:
        return _refused(contact, kind, decision)
    if customer.version != version:
        raise _stale_customer(session, customer)
    customer.address = change.address
    customer.version += 1
    customer.updated_at = now_of(session)
    customer.updated_by = actor.user_id or None
    session.add(customer)
    return _done(session, actor, contact, customer, kind, decision, "", {"field": "address"})
