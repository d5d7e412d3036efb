"""A call taken with its caller's card in one transaction: the same contact, card and
verification state as the three service calls it replaces on the workspace's path, the card
view audited once, nothing kept when the start is refused. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from desk.clock import FixedClock
from desk.infra.database import Database
from desk.infra.errors import InvalidInput
from desk.models import AuditEntry, Contact
from desk.rules.policy import load_policy
from desk.rules.vocab import ContactState
from desk.services import calls, card, contacts, ringing, verification
from tests.workspace_world import LI_PHONE, UNKNOWN_PHONE, ZHANG_PHONE, World, build_world

POLICY = load_policy()


@pytest.fixture
def world(db: Database, clock: FixedClock) -> World:
    return build_world(db, clock.now())


def _card_views(db: Database) -> list[tuple[str | None, dict[str, object]]]:
    entries = db.run(
        lambda s: s.exec(
            select(AuditEntry)
            .where(AuditEntry.action == "customer.card_view")
            .order_by(col(AuditEntry.id))
        ).all(),
        write=False,
    )
    return [(entry.target_id, dict(entry.detail or {})) for entry in entries]


def test_a_typed_number_starts_the_contact_with_its_card_and_verification_state(
    db: Database, world: World
) -> None:
    taken = calls.start_call(db, actor=world.agent, number=" 138-0013-8000 ", policy=POLICY)
    assert taken.contact.customer_id == world.zhang
    assert taken.contact.state is ContactState.ACTIVE
    assert taken.card is not None
    assert taken.verification is not None
    # what the separate service calls read for the same contact, afterwards
    assert taken.contact == contacts.contact_view(
        db, actor=world.agent, contact_id=taken.contact.id
    )
    assert taken.verification == verification.verification_state(
        db, actor=world.agent, contact_id=taken.contact.id, policy=POLICY
    )
    assert not taken.verification.verified
    assert taken.verification.failures_left == POLICY.verification.max_failures
    again = card.customer_card(
        db, actor=world.agent, customer_id=world.zhang, policy=POLICY, contact_id=taken.contact.id
    )
    assert taken.card == again
    assert taken.card.name_masked != "张三"  # masked, as the card always is
    # one view audited by the call, naming its contact (the second is the check's own)
    assert _card_views(db) == [
        (str(world.zhang), {"big_customer_class": None, "contact": taken.contact.id}),
        (str(world.zhang), {"big_customer_class": None, "contact": taken.contact.id}),
    ]


def test_an_unknown_caller_has_no_card_and_no_view_is_audited(db: Database, world: World) -> None:
    taken = calls.start_call(db, actor=world.agent, number=UNKNOWN_PHONE, policy=POLICY)
    assert taken.contact.customer_id is None
    assert (taken.card, taken.verification) == (None, None)
    assert _card_views(db) == []


def test_a_refused_start_keeps_no_contact_and_audits_no_view(db: Database, world: World) -> None:
    calls.start_call(db, actor=world.agent, number=ZHANG_PHONE, policy=POLICY)
    with pytest.raises(InvalidInput, match="still open"):
        calls.start_call(db, actor=world.agent, number=LI_PHONE, policy=POLICY)
    rows = db.run(lambda s: s.exec(select(Contact.customer_id)).all(), write=False)
    assert rows == [world.zhang]
    assert [target for target, _detail in _card_views(db)] == [str(world.zhang)]


def test_a_call_from_lookup_opens_with_the_card(db: Database, world: World) -> None:
    taken = calls.start_call_for_customer(
        db, actor=world.agent, customer_id=world.li, policy=POLICY
    )
    assert taken.contact.customer_id == world.li
    assert taken.contact.caller_masked == "139****2222"
    assert taken.card is not None
    assert taken.card.arrears_cents > 0  # li is in arrears: the card says so at once
    assert taken.verification is not None
    assert _card_views(db) == [
        (str(world.li), {"big_customer_class": None, "contact": taken.contact.id})
    ]


def test_an_answered_ring_opens_with_the_card(
    db: Database, world: World, clock: FixedClock
) -> None:
    rung = ringing.ring(
        db, actor=world.admin, number=ZHANG_PHONE, agent_login="agent1", policy=POLICY
    )
    taken = calls.answer_call(db, actor=world.agent, contact_id=rung.contact_id, policy=POLICY)
    assert taken.contact.state is ContactState.ACTIVE
    assert taken.contact.answered_at == clock.now()
    assert taken.card is not None
    assert taken.card.id == world.zhang
    assert contacts.pending_ring(db, actor=world.agent) is None
    assert [target for target, _detail in _card_views(db)] == [str(world.zhang)]
