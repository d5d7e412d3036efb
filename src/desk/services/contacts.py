"""Contacts: how a call starts, rings, is answered or abandoned, is drafted and is closed.

**How a contact starts.** The agent types a number (:func:`start_contact`), starts one for a
customer found in lookup (:func:`start_contact_for_customer`), or the telephony side rings
the agent's console (:func:`desk.services.ringing.ring`, the ``desk ring`` command, kept in a
module of its own that loads no model, so the command starts light): the contact is stored with its
offered time and a row in the small ``contact_ring`` table, which the agent's console polls
(:func:`pending_ring`). :func:`answer_ring` stamps the answered time; a ring not taken within
``contacts.ring_timeout_seconds`` is stored as abandoned, by whichever poll, ring or answer
sees it first (:func:`expire_rings`), so the answer-rate figures come from stored rows.

**One open contact per agent.** An answered contact stays open (``ended_at`` None) until
:func:`close_contact`. While open it is the agent's draft: :func:`save_draft` stores what the
screen holds as the agent goes, so a logout, a crash or a restart loses nothing, and
:func:`open_contact` offers it again at the next login. Saves name the ``version`` they
read; a save over a newer version raises :class:`StaleRecord` saying who saved when.

**Unknown callers.** A number that is no customer's starts a contact without a customer;
:func:`quick_create_customer` creates one from a validated form and attaches it.
"""

from __future__ import annotations

import re
import time
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import delete
from sqlmodel import Session, col, select

from desk.infra.database import Database, now_of, reads, writes
from desk.infra.errors import InvalidInput, NotFound, PermissionDenied, StaleRecord
from desk.models import (
    Contact,
    ContactRing,
    Customer,
    CustomerPhone,
    Shift,
    StaffUser,
    VerificationAttempt,
    WorkOrder,
)
from desk.rules.masking import mask_phone
from desk.rules.permissions import Actor, Permission
from desk.rules.policy import Policy
from desk.rules.vocab import (
    Channel,
    ContactOutcome,
    ContactState,
    Priority,
    RefusalReason,
    RequestType,
    VerificationMethod,
    WorkOrderSource,
)
from desk.services import audit
from desk.services.access import require
from desk.services.ringing import RING_CHANNEL, expire_due, normalise_number

if TYPE_CHECKING:
    from desk.services.work_orders import WorkOrderView

# The name keys (pypinyin's dictionaries, the heaviest import here) and the work-order service
# (the calendars, the ladder, routing) are imported where they are used: `desk ring` loads
# this module and should start in a fraction of a second.


# --- read models ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContactView:
    id: int
    customer_id: int | None
    caller_masked: str  # the caller's number, masked: what the screen shows
    channel: Channel
    state: ContactState
    request_type: RequestType | None
    topic: str | None
    offered_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    on_behalf: bool
    verification_method: VerificationMethod
    verified_at: datetime | None
    outcome: ContactOutcome | None
    refusal_reason: str | None
    satisfaction: int | None
    summary: str | None
    draft: dict[str, Any]
    version: int
    updated_at: datetime | None
    work_order_numbers: tuple[str, ...]  # work orders created in this contact


@dataclass(frozen=True, slots=True)
class RingView:
    """A call offered to the agent and not yet taken."""

    contact_id: int
    customer_id: int | None
    caller_masked: str
    channel: Channel
    offered_at: datetime
    expires_at: datetime


def _state(contact: Contact) -> ContactState:
    if contact.ended_at is not None:
        return ContactState.CLOSED
    if contact.answered_at is None:
        return ContactState.RINGING
    return ContactState.ACTIVE


def view_of(session: Session, contact: Contact) -> ContactView:
    """The read model of ``contact`` (in the caller's transaction)."""
    assert contact.id is not None
    numbers = session.exec(
        select(WorkOrder.number)
        .where(WorkOrder.contact_id == contact.id)
        .order_by(col(WorkOrder.id))
    ).all()
    return ContactView(
        id=contact.id,
        customer_id=contact.customer_id,
        caller_masked=mask_phone(contact.caller_number) if contact.caller_number else "",
        channel=Channel(contact.channel),
        state=_state(contact),
        request_type=RequestType(contact.request_type) if contact.request_type else None,
        topic=contact.topic,
        offered_at=contact.offered_at,
        answered_at=contact.answered_at,
        ended_at=contact.ended_at,
        on_behalf=contact.on_behalf,
        verification_method=VerificationMethod(contact.verification_method),
        verified_at=contact.verified_at,
        outcome=ContactOutcome(contact.outcome) if contact.outcome else None,
        refusal_reason=contact.refusal_reason,
        satisfaction=contact.satisfaction,
        summary=contact.summary,
        draft=dict(contact.draft or {}),
        version=contact.version,
        updated_at=contact.updated_at,
        work_order_numbers=tuple(numbers),
    )


# --- finding things -------------------------------------------------------------------------


def customer_by_number(session: Session, number: str) -> int | None:
    """The customer whose phone is exactly ``number`` (an indexed, unique lookup)."""
    return session.exec(
        select(CustomerPhone.customer_id).where(CustomerPhone.phone == number)
    ).first()


def _shift_id(session: Session, now: datetime) -> int | None:
    return session.exec(
        select(Shift.id)
        .where(col(Shift.starts_at) <= now, col(Shift.ends_at) > now)
        .order_by(col(Shift.starts_at).desc())
        .limit(1)
    ).first()


def _open_of(session: Session, agent_id: int) -> Contact | None:
    return session.exec(
        select(Contact)
        .where(
            Contact.agent_id == agent_id,
            col(Contact.ended_at).is_(None),
            col(Contact.answered_at).is_not(None),
        )
        .order_by(col(Contact.offered_at).desc(), col(Contact.id).desc())
        .limit(1)
    ).first()


def agents_contact(session: Session, actor: Actor, contact_id: int, *, open_: bool) -> Contact:
    """The contact ``contact_id`` of ``actor`` (locked for update); ``open_``: not closed.

    Another agent's contact is refused: verification, account data and changes hold only
    for the agent who took the call.
    """
    contact = session.exec(
        select(Contact).where(Contact.id == contact_id).with_for_update()
    ).first()
    if contact is None:
        raise NotFound(f"no contact {contact_id}")
    if contact.agent_id != actor.user_id:
        raise PermissionDenied(f"contact {contact_id} is not {actor.login}'s")
    if open_ and contact.ended_at is not None:
        raise InvalidInput(f"contact {contact_id} is already closed", field="contact")
    return contact


def _refuse_second_open(session: Session, actor: Actor) -> None:
    current = _open_of(session, actor.user_id)
    if current is not None:
        raise InvalidInput(
            f"contact {current.id} is still open: close it (Ctrl+S) before starting another",
            field="contact",
        )


def _new_contact(
    session: Session,
    *,
    actor: Actor,
    number: str | None,
    customer_id: int | None,
    channel: Channel,
    answered: bool,
) -> Contact:
    now = now_of(session)
    contact = Contact(
        customer_id=customer_id,
        caller_number=number,
        channel=channel.value,
        offered_at=now,
        answered_at=now if answered else None,
        agent_id=actor.user_id,
        shift_id=_shift_id(session, now),
        updated_at=now,
    )
    session.add(contact)
    session.flush()
    return contact


# --- starting a contact ---------------------------------------------------------------------


def begin_contact(
    session: Session, *, actor: Actor, number: str, channel: Channel = Channel.PHONE
) -> Contact:
    """:func:`start_contact` inside the caller's transaction: the stored contact."""
    require(session, actor, Permission.TAKE_CONTACTS)
    normalised = normalise_number(number)
    _refuse_second_open(session, actor)
    customer_id = customer_by_number(session, normalised)
    return _new_contact(
        session,
        actor=actor,
        number=normalised,
        customer_id=customer_id,
        channel=Channel(channel),
        answered=True,
    )


@writes
def start_contact(
    session: Session, *, actor: Actor, number: str, channel: Channel = Channel.PHONE
) -> ContactView:
    """The agent typed a caller number and pressed Enter: a contact starts, answered now,
    with the customer whose phone it is (None: an unknown caller)."""
    return view_of(session, begin_contact(session, actor=actor, number=number, channel=channel))


def begin_contact_for_customer(
    session: Session, *, actor: Actor, customer_id: int, channel: Channel = Channel.PHONE
) -> Contact:
    """:func:`start_contact_for_customer` inside the caller's transaction."""
    require(session, actor, Permission.TAKE_CONTACTS)
    if session.get(Customer, customer_id) is None:
        raise NotFound(f"no customer with id {customer_id}")
    _refuse_second_open(session, actor)
    phone = session.exec(
        select(CustomerPhone.phone)
        .where(CustomerPhone.customer_id == customer_id)
        .order_by(col(CustomerPhone.is_primary).desc(), col(CustomerPhone.id))
        .limit(1)
    ).first()
    return _new_contact(
        session,
        actor=actor,
        number=phone,
        customer_id=customer_id,
        channel=Channel(channel),
        answered=True,
    )


@writes
def start_contact_for_customer(
    session: Session, *, actor: Actor, customer_id: int, channel: Channel = Channel.PHONE
) -> ContactView:
    """A contact for a customer found in lookup, from their primary phone."""
    contact = begin_contact_for_customer(
        session, actor=actor, customer_id=customer_id, channel=channel
    )
    return view_of(session, contact)


# --- ringing --------------------------------------------------------------------------------


class RingListener:
    """PostgreSQL: a console told at once when a call is rung to its agent.

    :func:`ring` sends ``NOTIFY desk_ring`` with the agent's id, delivered at its commit.
    The listener holds a connection of its own (not the pool's: a pooled idle connection is
    expected to receive nothing, see :func:`desk.infra.database.closed_by_server`) and
    :meth:`wait` blocks in a worker thread until a ring for this agent arrives or the
    timeout passes; the console then reads :func:`pending_ring` as its poll would. SQLite has
    no notifications: its consoles keep the poll.
    """

    def __init__(self, db: Database, *, agent_id: int) -> None:
        import psycopg

        url = db.engine.url.set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        self._agent = str(agent_id)
        self._connection = psycopg.connect(conninfo, autocommit=True)
        self._connection.execute(f"LISTEN {RING_CHANNEL}")

    def wait(self, timeout: float) -> bool:
        """True when a ring for this agent was notified within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            for note in self._connection.notifies(timeout=left, stop_after=1):
                if note.payload == self._agent:
                    return True
        return False

    def close(self) -> None:
        self._connection.close()


@reads
def pending_ring(session: Session, *, actor: Actor) -> RingView | None:
    """The oldest call rung to ``actor`` and still waiting: the console's cheap poll (one
    indexed read of a table that holds only calls not yet taken)."""
    require(session, actor, Permission.TAKE_CONTACTS)
    now = now_of(session)
    row = session.exec(
        select(ContactRing, Contact)
        .join(Contact, col(Contact.id) == col(ContactRing.contact_id))
        .where(ContactRing.agent_id == actor.user_id, col(ContactRing.expires_at) >= now)
        .order_by(col(ContactRing.offered_at), col(ContactRing.contact_id))
        .limit(1)
    ).first()
    if row is None:
        return None
    ring_row, contact = row
    return RingView(
        contact_id=ring_row.contact_id,
        customer_id=contact.customer_id,
        caller_masked=mask_phone(contact.caller_number) if contact.caller_number else "",
        channel=Channel(contact.channel),
        offered_at=ring_row.offered_at,
        expires_at=ring_row.expires_at,
    )


@writes
def expire_rings(session: Session, *, actor: Actor) -> int:
    """Store ``actor``'s rings past their time as abandoned; how many there were."""
    require(session, actor, Permission.TAKE_CONTACTS)
    return expire_due(session, now_of(session), actor.user_id)


def take_ring(session: Session, *, actor: Actor, contact_id: int) -> Contact:
    """:func:`answer_ring` inside the caller's transaction."""
    require(session, actor, Permission.TAKE_CONTACTS)
    now = now_of(session)
    expire_due(session, now, actor.user_id)
    contact = agents_contact(session, actor, contact_id, open_=False)
    if contact.outcome == ContactOutcome.ABANDONED.value:
        raise InvalidInput("the caller hung up before the call was taken", field="contact")
    if contact.answered_at is not None:
        return contact
    _refuse_second_open(session, actor)
    contact.answered_at = now
    contact.updated_at = now
    session.add(contact)
    session.execute(delete(ContactRing).where(col(ContactRing.contact_id) == contact_id))
    session.flush()
    return contact


@writes
def answer_ring(session: Session, *, actor: Actor, contact_id: int) -> ContactView:
    """The agent takes the call: its answered time is now."""
    return view_of(session, take_ring(session, actor=actor, contact_id=contact_id))


@writes
def decline_ring(session: Session, *, actor: Actor, contact_id: int) -> ContactView:
    """The agent does not take the call: it is stored as abandoned now."""
    require(session, actor, Permission.TAKE_CONTACTS)
    now = now_of(session)
    contact = agents_contact(session, actor, contact_id, open_=True)
    if contact.answered_at is not None:
        raise InvalidInput("the call was already taken", field="contact")
    contact.outcome = ContactOutcome.ABANDONED.value
    contact.ended_at = now
    contact.updated_at = now
    session.add(contact)
    session.execute(delete(ContactRing).where(col(ContactRing.contact_id) == contact_id))
    session.flush()
    return view_of(session, contact)


# --- the open contact (the draft) -----------------------------------------------------------


@reads
def open_contact(session: Session, *, actor: Actor) -> ContactView | None:
    """``actor``'s answered contact not closed yet: the draft offered at login."""
    require(session, actor, Permission.TAKE_CONTACTS)
    contact = _open_of(session, actor.user_id)
    return view_of(session, contact) if contact is not None else None


@reads
def contact_view(session: Session, *, actor: Actor, contact_id: int) -> ContactView:
    require(session, actor, Permission.TAKE_CONTACTS)
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"no contact {contact_id}")
    if contact.agent_id != actor.user_id:
        raise PermissionDenied(f"contact {contact_id} is not {actor.login}'s")
    return view_of(session, contact)


class ContactDraft(BaseModel):
    """What the call pane holds; saved as the agent goes, checked only when closing."""

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    request_type: RequestType | None = None
    topic: str | None = Field(default=None, max_length=64)
    on_behalf: bool = False
    summary: str | None = Field(default=None, max_length=2000)
    outcome: ContactOutcome | None = None
    refusal_reason: str | None = Field(default=None, max_length=32)
    satisfaction: int | None = Field(default=None, ge=1, le=5)
    extra: dict[str, Any] = Field(default_factory=dict)  # other form state of the screen


def _stale(session: Session, contact: Contact) -> StaleRecord:
    who = session.get(StaffUser, contact.agent_id) if contact.agent_id else None
    name = (who.display_name or who.login) if who else "someone"
    at = contact.updated_at.isoformat(timespec="seconds") if contact.updated_at else "?"
    return StaleRecord(f"contact {contact.id} was changed by {name} at {at}; reload it")


def _check_version(session: Session, contact: Contact, version: int) -> None:
    if contact.version != version:
        raise _stale(session, contact)


def _apply_draft(contact: Contact, draft: ContactDraft, now: datetime) -> None:
    contact.request_type = draft.request_type.value if draft.request_type else None
    contact.topic = draft.topic or None
    contact.on_behalf = draft.on_behalf
    contact.summary = draft.summary or None
    contact.outcome = draft.outcome.value if draft.outcome else None
    contact.refusal_reason = draft.refusal_reason or None
    contact.satisfaction = draft.satisfaction
    contact.draft = dict(draft.extra)
    contact.updated_at = now
    contact.version += 1


@writes
def save_draft(
    session: Session, *, actor: Actor, contact_id: int, version: int, draft: ContactDraft
) -> ContactView:
    """Store what the call pane holds; the contact stays open."""
    require(session, actor, Permission.TAKE_CONTACTS)
    contact = agents_contact(session, actor, contact_id, open_=True)
    _check_version(session, contact, version)
    if contact.on_behalf and not draft.on_behalf:
        audit.record(
            session,
            action="contact.holder_on_line",
            actor=actor,
            target_type="contact",
            target_id=contact_id,
        )
    _apply_draft(contact, draft, now_of(session))
    session.add(contact)
    session.flush()
    return view_of(session, contact)


def note_refusal(session: Session, contact: Contact, reason: RefusalReason | str) -> None:
    """Record on the contact why a request was refused (the last refusal wins)."""
    contact.refusal_reason = str(reason)
    contact.updated_at = now_of(session)
    contact.version += 1
    session.add(contact)


def latest_verification(session: Session, contact_id: int) -> VerificationAttempt | None:
    return session.exec(
        select(VerificationAttempt)
        .where(VerificationAttempt.contact_id == contact_id, col(VerificationAttempt.success))
        .order_by(col(VerificationAttempt.at).desc(), col(VerificationAttempt.id).desc())
        .limit(1)
    ).first()


@writes
def close_contact(
    session: Session, *, actor: Actor, contact_id: int, version: int, draft: ContactDraft
) -> ContactView:
    """Close the contact with its outcome, satisfaction and summary (Ctrl+S).

    The outcome is required; a refusal needs its reason; "work order" needs a work order
    created in this contact. The verification method and time are those of the contact's
    latest successful verification; the times stored are offered, answered and ended.
    """
    require(session, actor, Permission.TAKE_CONTACTS)
    contact = agents_contact(session, actor, contact_id, open_=True)
    _check_version(session, contact, version)
    if draft.request_type is None:
        raise InvalidInput("choose the request type", field="request_type")
    if draft.outcome is None:
        raise InvalidInput("choose the outcome", field="outcome")
    if draft.outcome is ContactOutcome.ABANDONED:
        raise InvalidInput("an answered call is not abandoned: choose dropped", field="outcome")
    if draft.outcome is ContactOutcome.REFUSED and not draft.refusal_reason:
        raise InvalidInput("a refusal needs its reason", field="refusal_reason")
    if draft.outcome is ContactOutcome.WORK_ORDER:
        created = session.exec(
            select(WorkOrder.id).where(WorkOrder.contact_id == contact_id).limit(1)
        ).first()
        if created is None:
            raise InvalidInput("no work order was created in this contact", field="outcome")
    if not (draft.summary or "").strip():
        raise InvalidInput("write a summary of the contact", field="summary")
    now = now_of(session)
    refusal = draft.refusal_reason or contact.refusal_reason
    _apply_draft(contact, draft, now)
    if draft.outcome is not ContactOutcome.REFUSED:
        contact.refusal_reason = refusal if refusal else None
    contact.draft = None
    contact.ended_at = now
    verified = latest_verification(session, contact_id)
    if verified is not None:
        contact.verification_method = verified.method
        contact.verified_at = verified.at
    session.add(contact)
    if contact.customer_id is not None:
        customer = session.get(Customer, contact.customer_id)
        if customer is not None:
            customer.last_activity_at = now
            session.add(customer)
    audit.record(
        session,
        action="contact.close",
        actor=actor,
        target_type="contact",
        target_id=contact_id,
        detail={
            "outcome": draft.outcome.value,
            "request_type": draft.request_type.value,
            "verification": contact.verification_method,
        },
    )
    session.flush()
    return view_of(session, contact)


# --- a work order for the caller -----------------------------------------------------------


class NewWorkOrder(BaseModel):
    """The work-order form of the workspace; the contact supplies the rest."""

    model_config = ConfigDict(frozen=True)

    consent: bool
    category: RequestType
    topic: str | None
    title: str
    description: str
    priority: Priority
    department_id: int | None
    callback_number: str | None  # None: the number the caller is calling from
    disputed_bill_item_ids: tuple[int, ...] = ()


@reads
def _for_work_order(session: Session, *, actor: Actor, contact_id: int) -> Contact:
    require(session, actor, Permission.CREATE_WORK_ORDER)
    return agents_contact(session, actor, contact_id, open_=True)


def open_work_order(
    db: Database, *, actor: Actor, contact_id: int, form: NewWorkOrder, policy: Policy
) -> WorkOrderView:
    """Open a work order for the caller of ``contact_id`` (their customer, the contact's
    channel, the caller's number to call back unless another is given), only with their
    consent: :func:`desk.services.work_orders.create_work_order` refuses without it."""
    from desk.services.work_orders import WorkOrderDraft, create_work_order

    contact = _for_work_order(db, actor=actor, contact_id=contact_id)
    callback = form.callback_number
    if callback is not None:
        callback = normalise_number(callback)
    draft = WorkOrderDraft(
        customer_id=contact.customer_id,
        contact_id=contact_id,
        category=form.category,
        topic=form.topic,
        title=form.title,
        description=form.description,
        priority=form.priority,
        department_id=form.department_id,
        callback_number=callback or contact.caller_number,
        channel=Channel(contact.channel),
        source=WorkOrderSource.AGENT,
        consent=form.consent,
        disputed_bill_item_ids=form.disputed_bill_item_ids,
    )
    return create_work_order(db, actor=actor, draft=draft, policy=policy)


# --- unknown callers ------------------------------------------------------------------------

_ID_CARD = re.compile(r"^[0-9]{17}[0-9X]$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_NAME = re.compile(r"^[\u3400-\u9fffA-Za-z·• .'-]+$")


def id_card_problem(value: str) -> str | None:
    """Why ``value`` is not a resident ID-card number (18 characters, a real birth date in
    characters 7–14, the GB 11643 check digit)."""
    if not _ID_CARD.match(value):
        return "must be 17 digits followed by a digit or X"
    if id_card_birth_date(value) is None:
        return f"the birth date in it ({value[6:10]}-{value[10:12]}-{value[12:14]}) is no date"
    total = sum(int(digit) * weight for digit, weight in zip(value[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != value[17]:
        return "the check digit does not match (mistyped?)"
    return None


def id_card_birth_date(value: str) -> date | None:
    """The birth date a resident ID-card number carries (characters 7–14, YYYYMMDD); None
    when they are no date. The number's other checks are :func:`id_card_problem`'s."""
    digits = value[6:14]
    if len(digits) != 8 or not digits.isdigit():
        return None
    try:
        born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None
    return born if born.year >= 1900 else None


def id_card_birthday(value: str) -> date | None:
    """The birth date of a valid ID-card number as typed (None while it is not one): what
    the quick-create form shows as the agent types, and stores."""
    typed = unicodedata.normalize("NFKC", value or "").strip().upper()
    return None if id_card_problem(typed) else id_card_birth_date(typed)


class NewCaller(BaseModel):
    """The quick-create form for an unknown caller."""

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=64)
    id_card_no: str = Field(min_length=18, max_length=18)
    region: str = Field(min_length=2, max_length=64)
    address: str | None = Field(default=None, max_length=200)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("letters or Chinese characters only")
        return value

    @field_validator("id_card_no", mode="before")
    @classmethod
    def _id_card(cls, value: object) -> object:
        if isinstance(value, str):
            value = unicodedata.normalize("NFKC", value).strip().upper()
            problem = id_card_problem(value)
            if problem:
                raise ValueError(problem)
        return value

    @property
    def birthday(self) -> date:
        """Read from the ID-card number (validated: it carries a real date)."""
        born = id_card_birth_date(self.id_card_no)
        assert born is not None
        return born


def new_caller(**values: Any) -> NewCaller:
    """The form's values validated; :class:`InvalidInput` names the first bad field."""
    try:
        return NewCaller(**values)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidInput(message, field=field) from error


@writes
def quick_create_customer(
    session: Session, *, actor: Actor, contact_id: int, new: NewCaller
) -> ContactView:
    """Create the unknown caller as a customer (with the caller's number as their phone)
    and attach them to the contact."""
    from desk.rules.names import name_keys, reverse

    require(session, actor, Permission.TAKE_CONTACTS)
    contact = agents_contact(session, actor, contact_id, open_=True)
    if contact.customer_id is not None:
        raise InvalidInput("the caller is already a known customer", field="contact")
    number = contact.caller_number
    if number and customer_by_number(session, number) is not None:
        raise InvalidInput("this number now belongs to a customer: look it up", field="number")
    taken = session.exec(select(Customer.id).where(Customer.id_card_no == new.id_card_no)).first()
    if taken is not None:
        raise InvalidInput("a customer with this ID-card number exists", field="id_card_no")
    now = now_of(session)
    if new.birthday > now.date():
        raise InvalidInput(
            "the birth date in the ID-card number is in the future", field="id_card_no"
        )
    keys = name_keys(new.name)
    customer = Customer(
        customer_no=f"N{uuid.uuid4().hex[:15]}",
        name=new.name,
        name_spaced=keys.spaced,
        name_pinyin=keys.pinyin,
        name_initials=keys.initials,
        id_card_no=new.id_card_no,
        id_card_rev=reverse(new.id_card_no),
        birthday=new.birthday,
        region=new.region,
        address=new.address or None,
        created_at=now,
        updated_at=now,
        updated_by=actor.user_id or None,
        last_activity_at=now,
    )
    session.add(customer)
    session.flush()
    assert customer.id is not None
    customer.customer_no = f"C{customer.id:09d}"
    session.add(customer)
    if number:
        session.add(
            CustomerPhone(
                customer_id=customer.id,
                phone=number,
                phone_rev=reverse(number),
                kind="fixed" if number.startswith("0") else "mobile",
            )
        )
    contact.customer_id = customer.id
    contact.updated_at = now
    contact.version += 1
    session.add(contact)
    audit.record(
        session,
        action="customer.create",
        actor=actor,
        target_type="customer",
        target_id=customer.id,
        detail={"contact": contact_id, "customer_no": customer.customer_no},
    )
    session.flush()
    return view_of(session, contact)
