"""The verification and arrears gate over every request type and caller state."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from desk.rules.policy import Policy
from desk.rules.verification import (
    CallerState,
    ContactVerification,
    PersonalDataAnswers,
    PersonalDataOnFile,
    Subject,
    amount_to_cents,
    check_personal_data,
    decide,
    failure_window_start,
    failures_left,
    needs_verification,
    normalise_id_last6,
    personal_data_passes,
    should_lock,
    verification_valid,
)
from desk.rules.vocab import (
    AccountData,
    PersonalDataField,
    RefusalReason,
    RequestType,
    VerificationMethod,
    VerificationOutcome,
    VerifyReason,
)
from tests.rules.conftest import sh

NOW = sh(2026, 11, 2, 10)
CONTACT = 100
OWED_SINCE = date(2026, 9, 1)

SUBJECTS: list[Subject] = [*RequestType, *AccountData]
NEEDS_VERIFIED = {
    RequestType.SERVICE_REQUEST,
    AccountData.CURRENT_BILL,
    AccountData.PAYMENTS,
    AccountData.ITEMIZED_DETAIL,
    AccountData.HISTORY_BILLS,
    AccountData.BALANCE,
    AccountData.PERSONAL_DATA_CHANGE,
}
VERIFICATIONS: dict[str, ContactVerification | None] = {
    "none": None,
    "fresh": ContactVerification(
        CONTACT, NOW - timedelta(minutes=5), VerificationMethod.SERVICE_PASSWORD
    ),
    "fresh_not_holder": ContactVerification(
        CONTACT, NOW - timedelta(minutes=5), VerificationMethod.PERSONAL_DATA, by_holder=False
    ),
    "expired": ContactVerification(
        CONTACT, NOW - timedelta(minutes=16), VerificationMethod.SERVICE_PASSWORD
    ),
    "other_contact": ContactVerification(
        CONTACT - 1, NOW - timedelta(minutes=1), VerificationMethod.SERVICE_PASSWORD
    ),
}
LOCKS = {
    "open": (False, 0),
    "four_failures": (False, 4),
    "locked": (True, 0),
    "five_failures": (False, 5),
}


def expected(
    subject: Subject, verification: str, on_behalf: bool, lock: str, arrears: int
) -> tuple[VerificationOutcome, RefusalReason | None, VerifyReason | None]:
    """The gate as docs/roles-and-workflows.md and the shipped policy state it, written out
    independently."""
    if subject in NEEDS_VERIFIED:
        if lock in {"locked", "five_failures"}:
            return VerificationOutcome.REFUSE, RefusalReason.VERIFICATION_LOCKED, None
        valid = verification == "fresh" or (verification == "fresh_not_holder" and not on_behalf)
        if not valid:
            if on_behalf:
                reason = VerifyReason.HOLDER_MUST_VERIFY
            elif verification == "expired":
                reason = VerifyReason.EXPIRED
            else:
                reason = VerifyReason.NOT_VERIFIED
            return VerificationOutcome.VERIFY_FIRST, None, reason
    if subject is RequestType.SERVICE_REQUEST and arrears > 0:
        return VerificationOutcome.REFUSE, RefusalReason.ARREARS, None
    return VerificationOutcome.ALLOW, None, None


@pytest.mark.parametrize(
    ("subject", "verification", "on_behalf", "lock", "arrears"),
    list(itertools.product(SUBJECTS, VERIFICATIONS, [False, True], LOCKS, [0, 5_830])),
)
def test_gate_over_every_request_and_caller_state(
    policy: Policy, subject: Subject, verification: str, on_behalf: bool, lock: str, arrears: int
) -> None:
    locked, failures = LOCKS[lock]
    caller = CallerState(
        contact_id=CONTACT,
        verification=VERIFICATIONS[verification],
        on_behalf_of_holder=on_behalf,
        failures_in_window=failures,
        locked=locked,
        arrears_cents=arrears,
        arrears_since=OWED_SINCE if arrears else None,
    )
    decision = decide(subject, caller, NOW, policy)
    outcome, refusal, verify_reason = expected(subject, verification, on_behalf, lock, arrears)
    assert (decision.outcome, decision.refusal, decision.verify_reason) == (
        outcome,
        refusal,
        verify_reason,
    )
    if refusal is RefusalReason.ARREARS:
        assert decision.amount_owed_cents == 5_830
        assert decision.owed_since == OWED_SINCE
    else:
        assert decision.amount_owed_cents is None
    if outcome is VerificationOutcome.VERIFY_FIRST:
        assert decision.failures_left == 5 - failures
    if outcome is VerificationOutcome.ALLOW and subject in NEEDS_VERIFIED:
        assert decision.valid_until == NOW + timedelta(minutes=10)
    assert decision.allowed is (outcome is VerificationOutcome.ALLOW)


def test_needs_verification_follows_the_policy(policy: Policy) -> None:
    assert {s for s in SUBJECTS if needs_verification(s, policy)} == NEEDS_VERIFIED
    relaxed = policy.model_copy(
        update={
            "verification": policy.verification.model_copy(
                update={"required_for": (RequestType.SERVICE_REQUEST, RequestType.COMPLAINT)}
            )
        }
    )
    assert needs_verification(RequestType.COMPLAINT, relaxed)


@pytest.mark.parametrize(
    ("verified_at", "contact", "method", "valid"),
    [
        (NOW - timedelta(minutes=15), CONTACT, VerificationMethod.SERVICE_PASSWORD, True),
        (
            NOW - timedelta(minutes=15, microseconds=1),
            CONTACT,
            VerificationMethod.SERVICE_PASSWORD,
            False,
        ),
        (NOW, CONTACT, VerificationMethod.PERSONAL_DATA, True),
        (NOW + timedelta(seconds=1), CONTACT, VerificationMethod.SERVICE_PASSWORD, False),
        (NOW - timedelta(minutes=1), CONTACT + 1, VerificationMethod.SERVICE_PASSWORD, False),
        (NOW - timedelta(minutes=1), CONTACT, VerificationMethod.NONE, False),
    ],
)
def test_verification_validity(
    policy: Policy, verified_at: datetime, contact: int, method: VerificationMethod, valid: bool
) -> None:
    verification = ContactVerification(contact, verified_at, method)
    assert verification_valid(verification, CONTACT, NOW, policy) is valid


@pytest.mark.parametrize(
    ("failures_before", "locks"), [(0, False), (3, False), (4, True), (9, True)]
)
def test_should_lock(policy: Policy, failures_before: int, locks: bool) -> None:
    assert should_lock(failures_before, policy) is locks


def test_failure_window(policy: Policy) -> None:
    assert failure_window_start(NOW, policy) == NOW - timedelta(hours=24)
    lifted = NOW - timedelta(hours=2)
    assert failure_window_start(NOW, policy, lock_lifted_at=lifted) == lifted
    old_lift = NOW - timedelta(days=3)
    assert failure_window_start(NOW, policy, lock_lifted_at=old_lift) == NOW - timedelta(hours=24)
    assert failures_left(3, policy) == 2
    assert failures_left(7, policy) == 0


# --- personal-data check --------------------------------------------------------------------

ON_FILE = PersonalDataOnFile(name="张三", id_number="11010519491231002X", last_payment_cents=5850)


@pytest.mark.parametrize(
    ("answers", "matched"),
    [
        (PersonalDataAnswers(name=" 张三 ", id_last6="31002x"), {"name", "id_last6"}),
        (
            PersonalDataAnswers(name="张三", last_payment_amount="58.50"),
            {"name", "last_payment_amount"},
        ),
        (
            PersonalDataAnswers(id_last6="31002X", last_payment_amount="¥58.5"),
            {"id_last6", "last_payment_amount"},
        ),
        (
            PersonalDataAnswers(name="张三", id_last6="310020", last_payment_amount="58.51"),
            {"name"},
        ),
        (PersonalDataAnswers(name="张 三", id_last6="31002X"), {"id_last6"}),
        (PersonalDataAnswers(name="张三"), {"name"}),
        (PersonalDataAnswers(), set()),
        (PersonalDataAnswers(name="", id_last6="", last_payment_amount=""), set()),
        (
            PersonalDataAnswers(
                name="张三", id_last6="31002X", last_payment_amount=Decimal("58.5")
            ),
            {"name", "id_last6", "last_payment_amount"},
        ),
    ],
)
def test_personal_data_scoring(
    policy: Policy, answers: PersonalDataAnswers, matched: set[str]
) -> None:
    result = check_personal_data(answers, ON_FILE, policy)
    assert {field.value for field in result.matched} == matched
    assert result.passed is (len(matched) >= 2)


def test_personal_data_passes_counts_only_policy_fields(policy: Policy) -> None:
    assert personal_data_passes({PersonalDataField.NAME, PersonalDataField.ID_LAST6}, policy)
    assert not personal_data_passes({PersonalDataField.NAME}, policy)
    assert not personal_data_passes(set(), policy)


def test_nothing_on_file_matches_nothing(policy: Policy) -> None:
    bare = PersonalDataOnFile(name="张三", id_number=None, last_payment_cents=None)
    answers = PersonalDataAnswers(name="张三", id_last6="31002X", last_payment_amount="58.50")
    result = check_personal_data(answers, bare, policy)
    assert result.matched == frozenset({PersonalDataField.NAME})
    assert not result.passed


@pytest.mark.parametrize(
    ("given", "cents"),
    [
        ("58.50", 5850),
        ("58.5", 5850),
        ("¥ 1,058.00", 105800),
        ("58元", 5800),
        (58, 5800),
        (Decimal("0.01"), 1),
        ("58.505", None),
        ("fifty", None),
        ("NaN", None),
        ("", None),
    ],
)
def test_amount_to_cents(given: str | int | Decimal, cents: int | None) -> None:
    assert amount_to_cents(given) == cents


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("31002x", "31002X"),
        (" 310020 ", "310020"),
        ("11010519491231002x", "31002X"),
        ("3100X2", None),
        ("abc", None),
    ],
)
def test_id_last6(given: str, normalised: str | None) -> None:
    assert normalise_id_last6(given) == normalised
