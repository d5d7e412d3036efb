"""Verifying a caller: password and personal data, the lock at the fifth failure and its lift,
on-behalf callers, the validity window, and parallel attempts. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlmodel import Session, col, func, select

from desk.clock import FixedClock
from desk.infra.database import Database
from desk.infra.errors import InvalidInput, PermissionDenied
from desk.models import AuditEntry, Contact, Customer, VerificationAttempt
from desk.rules.policy import load_policy
from desk.rules.verification import PersonalDataAnswers
from desk.rules.vocab import AccountData, RequestType, VerificationMethod, VerificationOutcome
from desk.services import contacts, verification
from desk.services.contacts import ContactDraft
from tests.workspace_world import (
    LAST_PAYMENT_CENTS,
    SERVICE_PASSWORD,
    ZHANG_ID,
    ZHANG_PHONE,
    World,
    build_world,
)

POLICY = load_policy()


@pytest.fixture
def world(db: Database, clock: FixedClock) -> World:
    return build_world(db, clock.now())


@pytest.fixture
def contact_id(db: Database, world: World) -> int:
    return contacts.start_contact(db, actor=world.agent, number=ZHANG_PHONE).id


def _actions(db: Database, prefix: str) -> list[str]:
    return list(
        db.run(
            lambda s: s.exec(
                select(AuditEntry.action)
                .where(col(AuditEntry.action).startswith(prefix))
                .order_by(col(AuditEntry.id))
            ).all(),
            write=False,
        )
    )


def test_the_right_password_verifies_for_this_contact(
    db: Database, world: World, contact_id: int
) -> None:
    before = verification.verification_state(
        db, actor=world.agent, contact_id=contact_id, policy=POLICY
    )
    assert not before.verified
    assert before.failures_left == 5
    result = verification.check_service_password(
        db, actor=world.agent, contact_id=contact_id, password=SERVICE_PASSWORD, policy=POLICY
    )
    assert result.passed
    assert result.state.verified
    assert result.state.method is VerificationMethod.SERVICE_PASSWORD
    decision = verification.gate_decision(
        db, actor=world.agent, contact_id=contact_id, subject=AccountData.BALANCE, policy=POLICY
    )
    assert decision.outcome is VerificationOutcome.ALLOW
    assert _actions(db, "verification.") == ["verification.passed"]


def test_the_fifth_failure_locks_and_a_lead_lifts_it(
    db: Database, world: World, contact_id: int, clock: FixedClock
) -> None:
    for attempt in range(1, 6):
        result = verification.check_service_password(
            db, actor=world.agent, contact_id=contact_id, password="000000", policy=POLICY
        )
        assert not result.passed
        assert result.state.failures_left == 5 - attempt
        assert result.locked_now is (attempt == 5)
    refused = verification.check_service_password(
        db, actor=world.agent, contact_id=contact_id, password=SERVICE_PASSWORD, policy=POLICY
    )
    assert refused.refused_locked
    assert not refused.passed
    decision = verification.gate_decision(
        db,
        actor=world.agent,
        contact_id=contact_id,
        subject=RequestType.SERVICE_REQUEST,
        policy=POLICY,
    )
    assert decision.refusal is not None
    with pytest.raises(PermissionDenied):
        verification.lift_lock(db, actor=world.agent, customer_id=world.zhang, reason="caller ok")
    with pytest.raises(InvalidInput, match="reason"):
        verification.lift_lock(db, actor=world.lead, customer_id=world.zhang, reason=" ")
    clock.advance(timedelta(minutes=1))
    verification.lift_lock(db, actor=world.lead, customer_id=world.zhang, reason="本人到厅核实")
    after = verification.check_service_password(
        db, actor=world.agent, contact_id=contact_id, password=SERVICE_PASSWORD, policy=POLICY
    )
    assert after.passed
    assert after.state.failures_left == 5  # failures before the lift no longer count
    assert _actions(db, "verification.") == [
        *["verification.failed"] * 4,
        "verification.failed",
        "verification.locked",
        "verification.refused_locked",
        "verification.lock_lifted",
        "verification.passed",
    ]


def test_personal_data_needs_two_of_three_and_never_shows_the_answers(
    db: Database, world: World, contact_id: int
) -> None:
    with pytest.raises(InvalidInput, match="at least 2"):
        verification.check_personal_data(
            db,
            actor=world.agent,
            contact_id=contact_id,
            answers=PersonalDataAnswers(name="张三"),
            policy=POLICY,
        )
    one = verification.check_personal_data(
        db,
        actor=world.agent,
        contact_id=contact_id,
        answers=PersonalDataAnswers(name="张三", id_last6="999999"),
        policy=POLICY,
    )
    assert not one.passed
    two = verification.check_personal_data(
        db,
        actor=world.agent,
        contact_id=contact_id,
        answers=PersonalDataAnswers(
            id_last6=ZHANG_ID[-6:], last_payment_amount=f"{LAST_PAYMENT_CENTS / 100:.2f}"
        ),
        policy=POLICY,
    )
    assert two.passed
    assert two.state.method is VerificationMethod.PERSONAL_DATA
    text = repr(two)
    assert ZHANG_ID[-6:] not in text
    assert "张三" not in text


def test_an_on_behalf_caller_is_not_the_holder(db: Database, world: World, contact_id: int) -> None:
    view = contacts.contact_view(db, actor=world.agent, contact_id=contact_id)
    contacts.save_draft(
        db,
        actor=world.agent,
        contact_id=contact_id,
        version=view.version,
        draft=ContactDraft(on_behalf=True),
    )
    result = verification.check_service_password(
        db, actor=world.agent, contact_id=contact_id, password=SERVICE_PASSWORD, policy=POLICY
    )
    assert result.passed
    assert not result.state.verified  # someone who knows the password is still not the holder
    view = contacts.contact_view(db, actor=world.agent, contact_id=contact_id)
    contacts.save_draft(
        db,
        actor=world.agent,
        contact_id=contact_id,
        version=view.version,
        draft=ContactDraft(on_behalf=False),  # the holder comes to the phone
    )
    state = verification.verification_state(
        db, actor=world.agent, contact_id=contact_id, policy=POLICY
    )
    assert not state.verified  # the earlier check was not the holder's
    holder = verification.check_service_password(
        db, actor=world.agent, contact_id=contact_id, password=SERVICE_PASSWORD, policy=POLICY
    )
    assert holder.state.verified


def test_a_verification_holds_for_its_contact_and_the_policys_minutes(
    db: Database, world: World, contact_id: int, clock: FixedClock
) -> None:
    verification.check_service_password(
        db, actor=world.agent, contact_id=contact_id, password=SERVICE_PASSWORD, policy=POLICY
    )
    clock.advance(timedelta(minutes=POLICY.verification.validity_minutes))
    assert verification.verification_state(
        db, actor=world.agent, contact_id=contact_id, policy=POLICY
    ).verified
    clock.advance(timedelta(seconds=1))
    assert not verification.verification_state(
        db, actor=world.agent, contact_id=contact_id, policy=POLICY
    ).verified
    # a new contact of the same caller starts unverified
    view = contacts.contact_view(db, actor=world.agent, contact_id=contact_id)
    contacts.save_draft(
        db, actor=world.agent, contact_id=contact_id, version=view.version, draft=ContactDraft()
    )
    contacts.close_contact(
        db,
        actor=world.agent,
        contact_id=contact_id,
        version=view.version + 1,
        draft=ContactDraft(
            request_type=RequestType.CONSULTATION,
            outcome="settled",
            summary="ok",  # type: ignore[arg-type]
        ),
    )
    row = db.run(lambda s: s.get(Contact, contact_id), write=False)
    assert row is not None
    assert row.verification_method == "service_password"
    second = contacts.start_contact(db, actor=world.agent, number=ZHANG_PHONE)
    assert not verification.verification_state(
        db, actor=world.agent, contact_id=second.id, policy=POLICY
    ).verified


def test_parallel_failures_cannot_pass_the_limit(
    db: Database, world: World, contact_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twenty attempts at once: at most five passwords are checked, exactly five failures are
    stored and the customer is locked; the others are refused without being evaluated."""
    errors: list[BaseException] = []
    evaluated: list[str] = []
    real_verify = verification.verify_secret

    def counted(stored_hash: str | None, secret: str) -> bool:
        evaluated.append(secret)  # list.append is atomic under the GIL
        return real_verify(stored_hash, secret)

    monkeypatch.setattr(verification, "verify_secret", counted)

    def attempt() -> None:
        try:
            verification.check_service_password(
                db, actor=world.agent, contact_id=contact_id, password="111111", policy=POLICY
            )
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    failures = db.run(
        lambda s: s.exec(
            select(func.count())
            .select_from(VerificationAttempt)
            .where(col(VerificationAttempt.success).is_(False))
        ).one(),
        write=False,
    )
    assert failures == POLICY.verification.max_failures
    assert len(evaluated) <= POLICY.verification.max_failures
    customer = db.run(lambda s: s.get(Customer, world.zhang), write=False)
    assert customer is not None
    assert customer.verification_locked_at is not None
    assert _actions(db, "verification.locked") == ["verification.locked"]


def test_the_password_is_hashed_outside_the_write_transaction(
    db: Database, world: World, contact_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While argon2 runs, another terminal can write, even the same customer's row: no write
    lock (SQLite) and no row lock (PostgreSQL) is held; the pass is then settled."""
    real_verify = verification.verify_secret
    others: list[int] = []

    def meanwhile(stored_hash: str | None, secret: str) -> bool:
        def touch(session: Session) -> int:
            customer = session.exec(
                select(Customer).where(Customer.id == world.zhang).with_for_update()
            ).one()
            return customer.version

        others.append(db.run(touch, write=True))
        return real_verify(stored_hash, secret)

    monkeypatch.setattr(verification, "verify_secret", meanwhile)
    result = verification.check_service_password(
        db, actor=world.agent, contact_id=contact_id, password=SERVICE_PASSWORD, policy=POLICY
    )
    assert len(others) == 1
    assert result.passed
    attempts = db.run(lambda s: s.exec(select(VerificationAttempt.success)).all(), write=False)
    assert attempts == [True]  # reserved as a failure, settled as the pass it was


def _lock(db: Database, world: World, number: str, *, failures: int = 5) -> int:
    """``failures`` wrong passwords in a new contact of agent2; the contact is closed."""
    contact = contacts.start_contact(db, actor=world.agent2, number=number)
    for _ in range(failures):
        verification.check_service_password(
            db, actor=world.agent2, contact_id=contact.id, password="000000", policy=POLICY
        )
    view = contacts.contact_view(db, actor=world.agent2, contact_id=contact.id)
    contacts.close_contact(
        db,
        actor=world.agent2,
        contact_id=contact.id,
        version=view.version,
        draft=ContactDraft(
            request_type=RequestType.CONSULTATION, outcome="dropped", summary="挂断"
        ),
    )
    return contact.id


def test_the_leads_list_the_locked_customers_newest_first_by_pages(
    db: Database, world: World, clock: FixedClock
) -> None:
    from tests.workspace_world import LI_PHONE

    assert verification.locked_customers(db, actor=world.lead, policy=POLICY).rows == ()
    _lock(db, world, ZHANG_PHONE)
    clock.advance(timedelta(minutes=5))
    _lock(db, world, LI_PHONE, failures=3)  # not locked: three failures
    first = verification.locked_customers(db, actor=world.lead, policy=POLICY)
    assert [row.customer_id for row in first.rows] == [world.zhang]
    _lock(db, world, LI_PHONE, failures=2)  # the fifth failure in the window
    page = verification.locked_customers(db, actor=world.lead, policy=POLICY, limit=1)
    (li,) = page.rows
    assert (li.customer_id, li.name_masked, li.phone_masked, li.failures) == (
        world.li,
        "李*",
        "139****2222",
        5,
    )
    assert page.after is not None
    rest = verification.locked_customers(
        db, actor=world.lead, policy=POLICY, after=page.after, limit=1
    )
    assert [row.customer_id for row in rest.rows] == [world.zhang]
    assert rest.after is None
    verification.lift_lock(db, actor=world.lead, customer_id=world.li, reason="本人到厅核实")
    after_lift = verification.locked_customers(db, actor=world.lead, policy=POLICY)
    assert [row.customer_id for row in after_lift.rows] == [world.zhang]
    with pytest.raises(PermissionDenied):
        verification.locked_customers(db, actor=world.agent, policy=POLICY)
    with pytest.raises(InvalidInput, match="cursor"):
        verification.locked_customers(db, actor=world.lead, policy=POLICY, after="x|y")
    with pytest.raises(InvalidInput, match="between"):
        verification.locked_customers(db, actor=world.lead, policy=POLICY, limit=0)
