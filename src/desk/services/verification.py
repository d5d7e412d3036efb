"""Verifying the caller in a contact (先验证后服务), and the gate every account service asks.

The rules are :mod:`desk.rules.verification`; this module feeds them what is stored:

- :func:`check_service_password` and :func:`check_personal_data` check one attempt. Each
  locks the customer's row first (``SELECT … FOR UPDATE`` on PostgreSQL; ``BEGIN IMMEDIATE``
  serialises writers on SQLite), counts the failures in the window, checks, and stores the
  attempt in the same transaction, so parallel attempts cannot get past the limit. The
  failure that reaches ``max_failures`` sets the lock. The expected answers never leave.
- :func:`lift_lock` (a lead, with a reason) clears the lock; failures before it stop counting.
  :func:`locked_customers` lists the locked customers for the leads, newest lock first.
- :func:`gate` is what the account services call inside their own transaction: the rules'
  :func:`~desk.rules.verification.decide` on the contact's state; :func:`gate_decision` is
  the same for a screen that wants to know before asking.

Every attempt, refusal while locked, lock and lift is in the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from desk.clock import as_utc
from desk.infra.database import Database, now_of, reads, writes
from desk.infra.errors import DeskError, InvalidInput, NotFound
from desk.models import Contact, Customer, CustomerPhone, Payment, VerificationAttempt
from desk.rules.masking import mask_name, mask_phone
from desk.rules.permissions import Actor, Permission
from desk.rules.policy import Policy
from desk.rules.verification import (
    CallerState,
    ContactVerification,
    GateDecision,
    PersonalDataAnswers,
    PersonalDataOnFile,
    Subject,
    decide,
    failure_window_start,
    failures_left,
    is_locked,
    should_lock,
    verification_valid,
    verification_valid_until,
)
from desk.rules.verification import (
    check_personal_data as score_personal_data,
)
from desk.rules.vocab import PersonalDataField, VerificationMethod
from desk.services import audit
from desk.services.access import require
from desk.services.contacts import agents_contact, latest_verification, note_refusal
from desk.services.secrets import dummy_hash, verify_secret


@dataclass(frozen=True, slots=True)
class VerificationState:
    """The caller's verification in one contact, as the screen shows it."""

    contact_id: int
    customer_id: int
    verified: bool  # a verification valid now, made by the holder where the policy asks
    method: VerificationMethod | None  # of the latest success in this contact
    verified_at: datetime | None
    valid_until: datetime | None
    on_behalf: bool
    locked: bool
    locked_at: datetime | None
    failures_in_window: int
    failures_left: int
    has_service_password: bool
    personal_data_fields: tuple[PersonalDataField, ...]
    required_matches: int


@dataclass(frozen=True, slots=True)
class AttemptResult:
    passed: bool
    locked_now: bool  # this failure set the lock
    refused_locked: bool  # not checked at all: verification was already locked
    state: VerificationState


def _failures(session: Session, customer: Customer, now: datetime, policy: Policy) -> int:
    start = failure_window_start(now, policy, lock_lifted_at=customer.verification_lock_lifted_at)
    count = session.exec(
        select(func.count())
        .select_from(VerificationAttempt)
        .where(
            VerificationAttempt.customer_id == customer.id,
            col(VerificationAttempt.success).is_(False),
            col(VerificationAttempt.at) >= start,
        )
    ).one()
    return int(count)


def caller_state(
    session: Session, contact: Contact, customer: Customer, policy: Policy
) -> CallerState:
    """What the rules need to know about the caller in ``contact``."""
    assert contact.id is not None
    now = now_of(session)
    latest = latest_verification(session, contact.id)
    verification = (
        ContactVerification(
            contact_id=contact.id,
            verified_at=latest.at,
            method=VerificationMethod(latest.method),
            by_holder=latest.by_holder,
        )
        if latest is not None
        else None
    )
    return CallerState(
        contact_id=contact.id,
        verification=verification,
        # a verification someone made on the holder's behalf never stands in for the holder
        on_behalf_of_holder=contact.on_behalf or (latest is not None and not latest.by_holder),
        failures_in_window=_failures(session, customer, now, policy),
        locked=customer.verification_locked_at is not None,
        arrears_cents=customer.arrears_cents,
        arrears_since=customer.arrears_since,
    )


def _state(
    session: Session, contact: Contact, customer: Customer, policy: Policy
) -> VerificationState:
    assert contact.id is not None
    assert customer.id is not None
    now = now_of(session)
    caller = caller_state(session, contact, customer, policy)
    verification = caller.verification
    valid = verification_valid(
        verification,
        contact.id,
        now,
        policy,
        on_behalf_of_holder=caller.on_behalf_of_holder,
    )
    return VerificationState(
        contact_id=contact.id,
        customer_id=customer.id,
        verified=valid,
        method=verification.method if verification else None,
        verified_at=verification.verified_at if verification else None,
        valid_until=verification_valid_until(verification, policy) if verification else None,
        on_behalf=contact.on_behalf,
        locked=is_locked(caller, policy),
        locked_at=customer.verification_locked_at,
        failures_in_window=caller.failures_in_window,
        failures_left=failures_left(caller.failures_in_window, policy),
        has_service_password=bool(customer.service_password_hash),
        personal_data_fields=policy.verification.personal_data_fields,
        required_matches=policy.verification.personal_data_required_matches,
    )


def _contact_and_customer(
    session: Session, actor: Actor, contact_id: int, *, lock_customer: bool = False
) -> tuple[Contact, Customer]:
    contact = agents_contact(session, actor, contact_id, open_=True)
    if contact.customer_id is None:
        raise InvalidInput("the caller is not a known customer yet", field="customer")
    query = select(Customer).where(Customer.id == contact.customer_id)
    if lock_customer:
        query = query.with_for_update()
    customer = session.exec(query).first()
    if customer is None:  # pragma: no cover - the foreign key forbids it
        raise NotFound(f"no customer with id {contact.customer_id}")
    return contact, customer


def read_verification_state(
    session: Session, *, actor: Actor, contact_id: int, policy: Policy
) -> VerificationState:
    """:func:`verification_state` inside the caller's transaction."""
    require(session, actor, Permission.VERIFY_CALLER)
    contact, customer = _contact_and_customer(session, actor, contact_id)
    return _state(session, contact, customer, policy)


@reads
def verification_state(
    session: Session, *, actor: Actor, contact_id: int, policy: Policy
) -> VerificationState:
    return read_verification_state(session, actor=actor, contact_id=contact_id, policy=policy)


def _refused(
    session: Session,
    actor: Actor,
    contact: Contact,
    customer: Customer,
    failures: int,
    method: VerificationMethod,
    policy: Policy,
) -> AttemptResult | None:
    """A locked customer's attempt, refused unevaluated (and audited); None when it may go on."""
    if customer.verification_locked_at is None and failures < policy.verification.max_failures:
        return None
    audit.record(
        session,
        action="verification.refused_locked",
        actor=actor,
        target_type="customer",
        target_id=customer.id,
        detail={"contact": contact.id, "method": method.value},
    )
    return AttemptResult(False, False, True, _state(session, contact, customer, policy))


def _outcome(
    session: Session,
    *,
    actor: Actor,
    contact: Contact,
    customer: Customer,
    method: VerificationMethod,
    passed: bool,
    failures: int,
    detail: dict[str, object],
    policy: Policy,
) -> AttemptResult:
    """An evaluated attempt (its row already stored) audited; a pass verifies the contact,
    the failure that reaches the limit locks the customer. ``failures``: those before it."""
    now = now_of(session)
    locked_now = (
        not passed and should_lock(failures, policy) and customer.verification_locked_at is None
    )
    audit.record(
        session,
        action="verification.passed" if passed else "verification.failed",
        actor=actor,
        target_type="customer",
        target_id=customer.id,
        detail={
            "contact": contact.id,
            "method": method.value,
            "by_holder": not contact.on_behalf,
            "failures": failures + (0 if passed else 1),
            **detail,
        },
    )
    if passed:
        contact.verification_method = method.value
        contact.verified_at = now
        session.add(contact)
    if locked_now:
        customer.verification_locked_at = now
        session.add(customer)
        audit.record(
            session,
            action="verification.locked",
            actor=actor,
            target_type="customer",
            target_id=customer.id,
            detail={"contact": contact.id, "failures": failures + 1},
        )
    session.flush()
    return AttemptResult(passed, locked_now, False, _state(session, contact, customer, policy))


def _attempt(
    session: Session,
    *,
    actor: Actor,
    contact_id: int,
    policy: Policy,
    method: VerificationMethod,
    check: Callable[[Customer], tuple[bool, dict[str, object]]],
) -> AttemptResult:
    """One attempt checked inside the transaction (the personal-data check: no hashing)."""
    contact, customer = _contact_and_customer(session, actor, contact_id, lock_customer=True)
    now = now_of(session)
    failures = _failures(session, customer, now, policy)
    refused = _refused(session, actor, contact, customer, failures, method, policy)
    if refused is not None:
        return refused
    passed, detail = check(customer)
    assert customer.id is not None
    session.add(
        VerificationAttempt(
            customer_id=customer.id,
            contact_id=contact_id,
            agent_id=actor.user_id or None,
            method=method.value,
            success=passed,
            at=now,
            by_holder=not contact.on_behalf,
        )
    )
    return _outcome(
        session,
        actor=actor,
        contact=contact,
        customer=customer,
        method=method,
        passed=passed,
        failures=failures,
        detail=detail,
        policy=policy,
    )


_PASSWORD = VerificationMethod.SERVICE_PASSWORD


def check_service_password(
    db: Database, *, actor: Actor, contact_id: int, password: str, policy: Policy
) -> AttemptResult:
    """Check the 6-digit service password the caller gave (only its hash is stored).

    Three steps, as the login lockout (:func:`desk.services.users.authenticate`), so no write
    lock is held while argon2 runs (on SQLite every other terminal would wait for it):

    1. *reserve* (a short writing transaction, the customer's row locked): a locked customer
       is refused; otherwise the attempt is stored as a failure in advance, so parallel
       attempts count each other and cannot get past the limit (the one that would exceed
       it is refused unevaluated).
    2. *evaluate* the password against the stored hash, outside any transaction.
    3. *settle* (a short writing transaction): a match turns the attempt into a pass and
       verifies the contact; the failure that reached the limit locks the customer.
    """
    reserved = db.run(
        lambda session: _reserve_password(session, actor, contact_id, policy), write=True
    )
    if isinstance(reserved, AttemptResult):
        return reserved
    if reserved is None:
        verify_secret(dummy_hash(), password)  # the same cost either way
        raise InvalidInput(
            "no service password on file: use the personal-data check", field="password"
        )
    attempt_id, stored_hash = reserved
    passed = verify_secret(stored_hash, password.strip())
    return db.run(
        lambda session: _settle_password(session, actor, attempt_id, passed, policy), write=True
    )


def _reserve_password(
    session: Session, actor: Actor, contact_id: int, policy: Policy
) -> AttemptResult | tuple[int, str] | None:
    require(session, actor, Permission.VERIFY_CALLER)
    contact, customer = _contact_and_customer(session, actor, contact_id, lock_customer=True)
    now = now_of(session)
    failures = _failures(session, customer, now, policy)
    refused = _refused(session, actor, contact, customer, failures, _PASSWORD, policy)
    if refused is not None:
        return refused
    if not customer.service_password_hash:
        return None
    assert customer.id is not None
    attempt = VerificationAttempt(
        customer_id=customer.id,
        contact_id=contact_id,
        agent_id=actor.user_id or None,
        method=_PASSWORD.value,
        success=False,  # until settled
        at=now,
        by_holder=not contact.on_behalf,
    )
    session.add(attempt)
    session.flush()
    assert attempt.id is not None
    return attempt.id, customer.service_password_hash


def _settle_password(
    session: Session, actor: Actor, attempt_id: int, passed: bool, policy: Policy
) -> AttemptResult:
    attempt = session.get(VerificationAttempt, attempt_id)
    if attempt is None or attempt.contact_id is None:  # pragma: no cover - stored in step 1
        raise NotFound(f"no verification attempt {attempt_id}")
    contact, customer = _contact_and_customer(
        session, actor, attempt.contact_id, lock_customer=True
    )
    # this attempt is stored as a failure until now: the failures before it exclude it
    failures = _failures(session, customer, now_of(session), policy) - 1
    if passed:
        attempt.success = True
        session.add(attempt)
    return _outcome(
        session,
        actor=actor,
        contact=contact,
        customer=customer,
        method=_PASSWORD,
        passed=passed,
        failures=max(failures, 0),
        detail={},
        policy=policy,
    )


@writes
def check_personal_data(
    session: Session,
    *,
    actor: Actor,
    contact_id: int,
    answers: PersonalDataAnswers,
    policy: Policy,
) -> AttemptResult:
    """Score a personal-data check (资料核实); which fields matched goes to the audit log,
    never to the screen."""
    require(session, actor, Permission.VERIFY_CALLER)
    given = sum(
        value is not None and str(value).strip() != ""
        for value in (answers.name, answers.id_last6, answers.last_payment_amount)
    )
    if given < policy.verification.personal_data_required_matches:
        raise InvalidInput(
            f"ask at least {policy.verification.personal_data_required_matches} of the questions",
            field="answers",
        )

    def check(customer: Customer) -> tuple[bool, dict[str, object]]:
        last_payment = session.exec(
            select(Payment.amount_cents)
            .where(Payment.customer_id == customer.id)
            .order_by(col(Payment.paid_at).desc(), col(Payment.id).desc())
            .limit(1)
        ).first()
        on_file = PersonalDataOnFile(
            name=customer.name, id_number=customer.id_card_no, last_payment_cents=last_payment
        )
        result = score_personal_data(answers, on_file, policy)
        return result.passed, {"matched": len(result.matched), "asked": given}

    return _attempt(
        session,
        actor=actor,
        contact_id=contact_id,
        policy=policy,
        method=VerificationMethod.PERSONAL_DATA,
        check=check,
    )


@writes
def lift_lock(session: Session, *, actor: Actor, customer_id: int, reason: str) -> datetime:
    """A lead lifts the verification lock of a customer, with a reason; failures before
    now no longer count. Returns the instant of the lift."""
    require(session, actor, Permission.LIFT_VERIFICATION_LOCK)
    reason = (reason or "").strip()
    if len(reason) < 4:
        raise InvalidInput("give the reason for lifting the lock", field="reason")
    customer = session.exec(
        select(Customer).where(Customer.id == customer_id).with_for_update()
    ).first()
    if customer is None:
        raise NotFound(f"no customer with id {customer_id}")
    now = now_of(session)
    was_locked_at = customer.verification_locked_at
    customer.verification_locked_at = None
    customer.verification_lock_lifted_at = now
    session.add(customer)
    audit.record(
        session,
        action="verification.lock_lifted",
        actor=actor,
        target_type="customer",
        target_id=customer_id,
        detail={
            "reason": reason[:500],
            "locked_at": was_locked_at.isoformat() if was_locked_at else None,
        },
    )
    return now


@dataclass(frozen=True, slots=True)
class LockedCustomer:
    """A customer whose verification is locked, as the leads' list shows it (masked)."""

    customer_id: int
    customer_no: str
    name_masked: str
    phone_masked: str | None
    locked_at: datetime
    failures: int  # failed checks in the policy's window before the lock


@dataclass(frozen=True, slots=True)
class LockedPage:
    rows: tuple[LockedCustomer, ...]
    after: str | None  # the cursor of the next page, None on the last one


LOCKED_PAGE = 50


def _locked_cursor(row: Customer) -> str:
    assert row.verification_locked_at is not None
    return f"{row.verification_locked_at.isoformat()}|{row.id}"


def _parse_locked_cursor(cursor: str) -> tuple[datetime, int]:
    at, _, number = cursor.partition("|")
    try:
        return as_utc(datetime.fromisoformat(at)), int(number)
    except ValueError:
        raise InvalidInput("not a cursor of this list", field="after") from None


@reads
def locked_customers(
    session: Session,
    *,
    actor: Actor,
    policy: Policy,
    after: str | None = None,
    limit: int = LOCKED_PAGE,
) -> LockedPage:
    """The customers whose verification is locked, the newest lock first, a keyset page at a
    time (for the leads, who lift a lock from the card)."""
    require(session, actor, Permission.LIFT_VERIFICATION_LOCK)
    if not 1 <= limit <= 200:
        raise InvalidInput("must be between 1 and 200", field="limit")
    locked_at = col(Customer.verification_locked_at)
    query = select(Customer).where(locked_at.is_not(None))
    if after is not None:
        at, customer_id = _parse_locked_cursor(after)
        query = query.where(
            (locked_at < at) | ((locked_at == at) & (col(Customer.id) < customer_id))
        )
    rows = list(
        session.exec(query.order_by(locked_at.desc(), col(Customer.id).desc()).limit(limit + 1))
    )
    more = len(rows) > limit
    rows = rows[:limit]
    ids = [row.id for row in rows if row.id is not None]
    phones: dict[int, str] = {}
    failures: dict[int, int] = {}
    if ids:
        for customer_id, phone in session.exec(
            select(CustomerPhone.customer_id, CustomerPhone.phone)
            .where(col(CustomerPhone.customer_id).in_(ids))
            .order_by(col(CustomerPhone.is_primary).desc(), col(CustomerPhone.id))
        ):
            phones.setdefault(customer_id, phone)
        for row in rows:
            assert row.id is not None
            assert row.verification_locked_at is not None
            since = failure_window_start(
                row.verification_locked_at,
                policy,
                lock_lifted_at=row.verification_lock_lifted_at,
            )
            failures[row.id] = session.exec(
                select(func.count())
                .select_from(VerificationAttempt)
                .where(
                    VerificationAttempt.customer_id == row.id,
                    col(VerificationAttempt.success).is_(False),
                    col(VerificationAttempt.at) >= since,
                    col(VerificationAttempt.at) <= row.verification_locked_at,
                )
            ).one()
    result = tuple(
        LockedCustomer(
            customer_id=row.id or 0,
            customer_no=row.customer_no,
            name_masked=mask_name(row.name),
            phone_masked=mask_phone(phones[row.id]) if row.id in phones else None,
            locked_at=row.verification_locked_at or now_of(session),
            failures=failures.get(row.id or 0, 0),
        )
        for row in rows
    )
    return LockedPage(result, _locked_cursor(rows[-1]) if more else None)


# --- the gate -------------------------------------------------------------------------------


class GateRefused(DeskError):
    """The gate did not allow the request: verify first, or refused (locked, arrears).

    ``decision`` carries what the screen shows (the reason, attempts left, the amount owed
    and since when)."""

    title = "Verification needed"

    def __init__(self, subject: Subject, decision: GateDecision) -> None:
        if decision.refusal is not None:
            message = f"{subject.value}: refused ({decision.refusal.value})"
        else:
            reason = decision.verify_reason.value if decision.verify_reason else "not_verified"
            message = f"{subject.value}: verify the caller first ({reason})"
        super().__init__(message)
        self.subject = subject
        self.decision = decision


def require_gate(
    session: Session, contact: Contact, customer: Customer, subject: Subject, policy: Policy
) -> GateDecision:
    """:func:`gate`, raising :class:`GateRefused` unless it allows ``subject`` (for reads:
    the transaction ends with the error, so nothing is written on the contact)."""
    decision = gate(session, contact, customer, subject, policy, record_refusal=False)
    if not decision.allowed:
        raise GateRefused(subject, decision)
    return decision


def gate(
    session: Session,
    contact: Contact,
    customer: Customer,
    subject: Subject,
    policy: Policy,
    *,
    record_refusal: bool = True,
) -> GateDecision:
    """The rules' word on serving ``subject`` in ``contact`` now; a refusal's reason code is
    written on the contact (in the caller's transaction)."""
    caller = caller_state(session, contact, customer, policy)
    decision = decide(subject, caller, now_of(session), policy)
    if record_refusal and decision.refusal is not None:
        note_refusal(session, contact, decision.refusal)
    return decision


@reads
def gate_decision(
    session: Session, *, actor: Actor, contact_id: int, subject: Subject, policy: Policy
) -> GateDecision:
    """What the gate would say now (nothing is written)."""
    require(session, actor, Permission.TAKE_CONTACTS)
    contact, customer = _contact_and_customer(session, actor, contact_id)
    return gate(session, contact, customer, subject, policy, record_refusal=False)
