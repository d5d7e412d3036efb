"""A call taken with its caller's card, in one transaction.

The workspace shows the caller's card the moment a call starts: the agent typed the number,
started it from lookup, or answered a rung call. Made of three service calls, that was three
transactions (the contact stored; the card read and its view audited; the verification
state read), each with its own ``BEGIN IMMEDIATE`` on SQLite, its own permission check and
its own commit, on the path from Enter to the painted card. Here the same parts run in one:

- the contact is stored as :mod:`desk.services.contacts` stores it (the agent's
  ``take_contacts`` checked, one open contact per agent);
- the caller's verification state is read as :func:`desk.services.verification.verification_state`
  reads it, when the agent may verify callers;
- the card is read and its view audited as :func:`desk.services.card.customer_card` does it
  (its own permission checked), last, so that on PostgreSQL the audit log's lock is held
  only for the insert and the commit.

The commit waits for the disk, as the contact's always did; the card's view-audit row,
which alone would not wait (:func:`desk.infra.database.reads_audited`), rides the same flush.
An unknown caller has no card and no verification state.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from desk.infra.database import writes
from desk.models import Contact
from desk.rules.permissions import Actor, Permission, can
from desk.rules.policy import Policy
from desk.rules.vocab import Channel
from desk.services.card import CustomerCard, read_card
from desk.services.contacts import (
    ContactView,
    begin_contact,
    begin_contact_for_customer,
    take_ring,
    view_of,
)
from desk.services.verification import VerificationState, read_verification_state


@dataclass(frozen=True, slots=True)
class TakenCall:
    """A contact as the workspace opens it."""

    contact: ContactView
    card: CustomerCard | None  # None: an unknown caller (or a role that sees no card)
    verification: VerificationState | None  # None: no card, or a role that verifies no one


def _taken(session: Session, actor: Actor, contact: Contact, policy: Policy) -> TakenCall:
    view = view_of(session, contact)
    if contact.customer_id is None or not can(actor, Permission.VIEW_CUSTOMER_CARD):
        return TakenCall(view, None, None)
    state = (
        read_verification_state(session, actor=actor, contact_id=view.id, policy=policy)
        if contact.ended_at is None and can(actor, Permission.VERIFY_CALLER)
        else None
    )
    card = read_card(
        session, actor=actor, customer_id=contact.customer_id, policy=policy, contact_id=view.id
    )
    return TakenCall(view, card, state)


@writes
def start_call(
    session: Session,
    *,
    actor: Actor,
    number: str,
    policy: Policy,
    channel: Channel = Channel.PHONE,
) -> TakenCall:
    """:func:`desk.services.contacts.start_contact`, with the caller's card."""
    contact = begin_contact(session, actor=actor, number=number, channel=channel)
    return _taken(session, actor, contact, policy)


@writes
def start_call_for_customer(
    session: Session,
    *,
    actor: Actor,
    customer_id: int,
    policy: Policy,
    channel: Channel = Channel.PHONE,
) -> TakenCall:
    """:func:`desk.services.contacts.start_contact_for_customer`, with the caller's card."""
    contact = begin_contact_for_customer(
        session, actor=actor, customer_id=customer_id, channel=channel
    )
    return _taken(session, actor, contact, policy)


@writes
def answer_call(session: Session, *, actor: Actor, contact_id: int, policy: Policy) -> TakenCall:
    """:func:`desk.services.contacts.answer_ring`, with the caller's card."""
    contact = take_ring(session, actor=actor, contact_id=contact_id)
    return _taken(session, actor, contact, policy)
