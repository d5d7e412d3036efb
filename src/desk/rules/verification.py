"""The verification gate (先验证后服务) and the arrears gate (欠费).

:func:`decide` says, for one request type or kind of account data and the caller's state in
the current contact, whether the agent may serve (allow), must verify the caller first
(verify_first), or must refuse (refuse, with a reason code and what to show). It never sees
the stored secret: the services check the password or the personal data and tell it only
whether and when a verification succeeded.

Definitions (numbers from :class:`~desk.rules.policy.VerificationPolicy`):

- a verification is **valid** for the contact it was made in, for ``validity_minutes`` after
  it was made (both ends included), and, when the caller speaks on behalf of the holder and
  ``holder_must_verify`` is set, only if the holder made it;
- verification is **locked** for a customer when the lock is set, or when
  ``max_failures`` failed checks fall within the failure window; a failed check **locks**
  when the failures in the window, that one included, reach ``max_failures``;
- the failure window is the last ``failure_window_hours``, but no earlier than the instant a
  lead lifted the lock (:func:`failure_window_start`);
- a **personal-data check** passes when at least ``personal_data_required_matches`` of the
  ``personal_data_fields`` match: the name exactly after stripping spaces at both ends, the
  last 6 of the ID-card number with ``x`` and ``X`` alike, the last payment to the cent.

Order of the gate: a request that needs verification is refused while verification is
locked, else needs a valid verification; then a request type the arrears gate covers is
refused while the customer owes more than ``arrears.refuse_above_cents``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from desk.rules.policy import Policy
from desk.rules.vocab import (
    AccountData,
    PersonalDataField,
    RefusalReason,
    RequestType,
    ServiceRequestKind,
    VerificationMethod,
    VerificationOutcome,
    VerifyReason,
)

Subject = RequestType | AccountData | ServiceRequestKind
"""What the caller asks for: a request type, a kind of account data, or one service request
(plan change, add-on, …), which counts as a ``service_request`` for the arrears gate."""


@dataclass(frozen=True)
class ContactVerification:
    """A successful verification: in which contact, when, how, and whether the holder made it."""

    contact_id: int
    verified_at: datetime
    method: VerificationMethod
    by_holder: bool = True


@dataclass(frozen=True)
class CallerState:
    """The caller as the gate sees them in the current contact.

    ``verification`` is the customer's latest successful verification (None if none);
    ``failures_in_window`` counts failed checks since :func:`failure_window_start`;
    ``locked`` is the stored lock; ``arrears_cents`` the amount owed (0 if none) and
    ``arrears_since`` the date the oldest unpaid amount fell due.
    """

    contact_id: int
    verification: ContactVerification | None = None
    on_behalf_of_holder: bool = False
    failures_in_window: int = 0
    locked: bool = False
    arrears_cents: int = 0
    arrears_since: date | None = None


@dataclass(frozen=True)
class GateDecision:
    """What the gate says. ``refusal`` is set when refusing, ``verify_reason`` when a
    verification is needed first; for an arrears refusal ``amount_owed_cents`` and
    ``owed_since`` are what the screen shows. ``valid_until`` is when the verification that
    allowed the request runs out; ``failures_left`` how many failed checks remain before
    the lock."""

    outcome: VerificationOutcome
    refusal: RefusalReason | None = None
    verify_reason: VerifyReason | None = None
    amount_owed_cents: int | None = None
    owed_since: date | None = None
    valid_until: datetime | None = None
    failures_left: int | None = None

    @property
    def allowed(self) -> bool:
        return self.outcome is VerificationOutcome.ALLOW


def needs_verification(subject: Subject, policy: Policy) -> bool:
    """Whether serving ``subject`` needs a verified caller in the current contact."""
    rules = policy.verification
    if isinstance(subject, RequestType):
        return subject in rules.required_for
    if isinstance(subject, ServiceRequestKind):
        return subject in rules.required_for_service_requests
    return subject in rules.required_for_account_data


def arrears_gate_applies(subject: Subject, policy: Policy) -> bool:
    """Whether a caller in arrears is refused ``subject`` (account data never is; a single
    service request is when ``service_request`` is)."""
    if isinstance(subject, ServiceRequestKind):
        return RequestType.SERVICE_REQUEST in policy.arrears.refuse_request_types
    return isinstance(subject, RequestType) and subject in policy.arrears.refuse_request_types


def verification_valid_until(verification: ContactVerification, policy: Policy) -> datetime:
    """The last instant at which ``verification`` still holds."""
    return verification.verified_at + timedelta(minutes=policy.verification.validity_minutes)


def verification_valid(
    verification: ContactVerification | None,
    contact_id: int,
    now: datetime,
    policy: Policy,
    *,
    on_behalf_of_holder: bool = False,
) -> bool:
    """Whether ``verification`` holds for ``contact_id`` at ``now`` (see the module docs)."""
    if verification is None or verification.method is VerificationMethod.NONE:
        return False
    if verification.contact_id != contact_id:
        return False
    if not verification.verified_at <= now <= verification_valid_until(verification, policy):
        return False
    return not (
        on_behalf_of_holder
        and policy.verification.holder_must_verify
        and not verification.by_holder
    )


def failure_window_start(
    now: datetime, policy: Policy, *, lock_lifted_at: datetime | None = None
) -> datetime:
    """Failed checks at or after this instant count toward the lock."""
    start = now - timedelta(hours=policy.verification.failure_window_hours)
    if lock_lifted_at is not None and lock_lifted_at > start:
        return lock_lifted_at
    return start


def should_lock(failures_before: int, policy: Policy) -> bool:
    """Whether a failed check locks verification: the failures in the window, this one
    included (``failures_before + 1``), reach ``max_failures``."""
    return failures_before + 1 >= policy.verification.max_failures


def is_locked(caller: CallerState, policy: Policy) -> bool:
    """Locked by the stored lock or by the failures in the window."""
    return caller.locked or caller.failures_in_window >= policy.verification.max_failures


def failures_left(failures_in_window: int, policy: Policy) -> int:
    """Failed checks the caller may still make before the lock (never below 0)."""
    return max(policy.verification.max_failures - failures_in_window, 0)


def decide(subject: Subject, caller: CallerState, now: datetime, policy: Policy) -> GateDecision:
    """The gate's word on serving ``subject`` to ``caller`` at ``now``."""
    valid_until: datetime | None = None
    if needs_verification(subject, policy):
        if is_locked(caller, policy):
            return GateDecision(
                VerificationOutcome.REFUSE, refusal=RefusalReason.VERIFICATION_LOCKED
            )
        verification = caller.verification
        if not verification_valid(
            verification,
            caller.contact_id,
            now,
            policy,
            on_behalf_of_holder=caller.on_behalf_of_holder,
        ):
            return GateDecision(
                VerificationOutcome.VERIFY_FIRST,
                verify_reason=_why_not_valid(caller, now, policy),
                failures_left=failures_left(caller.failures_in_window, policy),
            )
        assert verification is not None
        valid_until = verification_valid_until(verification, policy)
    if (
        arrears_gate_applies(subject, policy)
        and caller.arrears_cents > policy.arrears.refuse_above_cents
    ):
        return GateDecision(
            VerificationOutcome.REFUSE,
            refusal=RefusalReason.ARREARS,
            amount_owed_cents=caller.arrears_cents,
            owed_since=caller.arrears_since,
        )
    return GateDecision(VerificationOutcome.ALLOW, valid_until=valid_until)


def _why_not_valid(caller: CallerState, now: datetime, policy: Policy) -> VerifyReason:
    verification = caller.verification
    if caller.on_behalf_of_holder and policy.verification.holder_must_verify:
        return VerifyReason.HOLDER_MUST_VERIFY
    if (
        verification is not None
        and verification.method is not VerificationMethod.NONE
        and verification.contact_id == caller.contact_id
        and verification.verified_at <= now
    ):
        return VerifyReason.EXPIRED
    return VerifyReason.NOT_VERIFIED


# --- personal-data check (资料核实) -----------------------------------------------------------

_ID_LAST6 = re.compile(r"^\d{5}[\dX]$")
_MONEY_NOISE = re.compile(r"[\s,¥￥元]")


def normalise_name(value: str) -> str:
    """A name as compared: spaces at both ends stripped, otherwise exact."""
    return value.strip()


def normalise_id_last6(value: str) -> str | None:
    """The last 6 of an ID-card number as compared (``x`` upper-cased); a full number is cut
    to its last 6. None when it is not 5 digits followed by a digit or X."""
    text = value.strip().upper()[-6:]
    return text if _ID_LAST6.match(text) else None


def amount_to_cents(value: str | int | Decimal) -> int | None:
    """An amount of money in yuan (``"58.5"``, ``"¥58.50"``, ``58``) as whole cents; an int
    is taken as yuan. None when it is not an amount with at most two decimals."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value * 100
    text = _MONEY_NOISE.sub("", value) if isinstance(value, str) else value
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return None
    if not amount.is_finite():
        return None
    cents = amount * 100
    if cents != cents.to_integral_value():
        return None
    return int(cents)


@dataclass(frozen=True)
class PersonalDataAnswers:
    """What the caller said; None for a question not asked or not answered."""

    name: str | None = None
    id_last6: str | None = None
    last_payment_amount: str | int | Decimal | None = None


@dataclass(frozen=True)
class PersonalDataOnFile:
    """What is on file. ``id_number`` may be the full number or its last 6."""

    name: str
    id_number: str | None
    last_payment_cents: int | None


@dataclass(frozen=True)
class PersonalDataResult:
    matched: frozenset[PersonalDataField]
    passed: bool


def matched_fields(
    answers: PersonalDataAnswers, on_file: PersonalDataOnFile, policy: Policy
) -> frozenset[PersonalDataField]:
    """The fields, among those the policy asks, whose answers match what is on file."""
    matched: set[PersonalDataField] = set()
    asked = set(policy.verification.personal_data_fields)
    if PersonalDataField.NAME in asked and answers.name is not None:
        given = normalise_name(answers.name)
        if given and given == normalise_name(on_file.name):
            matched.add(PersonalDataField.NAME)
    if (
        PersonalDataField.ID_LAST6 in asked
        and answers.id_last6 is not None
        and on_file.id_number is not None
    ):
        given_id = normalise_id_last6(answers.id_last6)
        if given_id is not None and given_id == normalise_id_last6(on_file.id_number):
            matched.add(PersonalDataField.ID_LAST6)
    if (
        PersonalDataField.LAST_PAYMENT_AMOUNT in asked
        and answers.last_payment_amount is not None
        and on_file.last_payment_cents is not None
    ):
        cents = amount_to_cents(answers.last_payment_amount)
        if cents is not None and cents == on_file.last_payment_cents:
            matched.add(PersonalDataField.LAST_PAYMENT_AMOUNT)
    return frozenset(matched)


def personal_data_passes(matched: Collection[PersonalDataField], policy: Policy) -> bool:
    """Whether enough of the policy's fields matched."""
    counted = set(matched) & set(policy.verification.personal_data_fields)
    return len(counted) >= policy.verification.personal_data_required_matches


def check_personal_data(
    answers: PersonalDataAnswers, on_file: PersonalDataOnFile, policy: Policy
) -> PersonalDataResult:
    """Score a personal-data check: which fields matched, and whether it passes."""
    matched = matched_fields(answers, on_file, policy)
    return PersonalDataResult(matched=matched, passed=personal_data_passes(matched, policy))
