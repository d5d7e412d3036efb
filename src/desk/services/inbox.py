"""Messages and web forms (客户留言, 网上工单): what customers leave outside a call, until a lead
has handled them.

A message arrives through ``desk inbox add`` (the hook a web form or a mail gateway calls) or
an import of a file of messages (:func:`add_messages`, all rows or none). On arrival it gets
its response clock (:func:`desk.rules.inbox.response_due`) and, when the sender is a phone
number of a customer, that customer. A lead then matches it to a customer, and turns it into
a work order, answers it with a recorded reply, or discards it with a reason; each is one
transaction that checks the version the lead read, like the work orders.

**The online-service figures** come from these rows (see :mod:`desk.rules.inbox` for the
definitions): ``channel``; ``received_at``; ``response_due``; ``first_response_at`` (the
answer or the work order, whichever came first; none for a discarded message);
``answered_at``/``answer`` (the recorded reply); ``status`` (new, converted, answered,
discarded) with ``handled_by``/``handled_at``; ``work_order_id`` for a converted one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import and_, insert, literal_column, or_
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from desk.clock import as_utc
from desk.infra.database import Database, now_of
from desk.infra.errors import DeskError, InvalidInput, NotFound, StaleRecord
from desk.models import Customer, CustomerPhone, InboxMessage, metadata
from desk.rules.calendar import calendars_from_policy
from desk.rules.inbox import ORDER_CHANNEL, ORDER_SOURCE, response_due
from desk.rules.masking import mask_name
from desk.rules.permissions import Actor, Permission
from desk.rules.policy import Policy
from desk.rules.vocab import InboxChannel, InboxStatus, Priority, RequestType
from desk.services import changes
from desk.services.access import require
from desk.services.work_orders import (
    WorkOrderDraft,
    WorkOrderView,
    clean_text,
    create_in_session,
    staff_names,
)

TEXT_MAX = 4000
PAGE_MAX = 200
_INBOX = metadata.tables["inbox_message"]
_PHONE = re.compile(r"^\+?[0-9][0-9 -]{4,19}$")


class NewMessage(BaseModel):
    """One message as it arrives (a form post, a voice message's transcript, an e-mail)."""

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    channel: InboxChannel
    sender: str = Field(min_length=1, max_length=120)
    text: str = Field(min_length=1, max_length=TEXT_MAX)
    received_at: datetime | None = None
    external_ref: str | None = Field(default=None, max_length=64)

    @field_validator("received_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("needs a timezone, e.g. 2026-11-02T10:00:00+08:00")
        return as_utc(value) if value is not None else None


@dataclass(frozen=True, slots=True)
class MessageRow:
    id: int
    channel: InboxChannel
    sender: str
    text: str
    received_at: datetime
    response_due: datetime | None
    status: InboxStatus
    version: int
    customer_id: int | None
    customer_no: str | None
    customer_name_masked: str | None
    work_order_id: int | None
    first_response_at: datetime | None
    answered_at: datetime | None
    answer: str | None
    discard_reason: str | None
    handled_by_name: str | None


@dataclass(frozen=True, slots=True)
class AddReport:
    added: tuple[int, ...]
    duplicates: int  # rows whose external_ref was stored already


@dataclass(frozen=True, slots=True)
class InboxPage:
    rows: tuple[MessageRow, ...]
    next_cursor: str | None
    prev_cursor: str | None
    read_at: datetime


class MessageChanged(StaleRecord):
    """Another lead handled or matched the message after this one read it."""

    def __init__(self, message_id: int, by: str | None, status: InboxStatus) -> None:
        super().__init__(f"message {message_id} was handled by {by or 'someone'} ({status})")
        self.message_id = message_id
        self.by = by
        self.status = status


# --- arriving --------------------------------------------------------------------------------


def _digits(sender: str) -> str:
    return re.sub(r"[^0-9]", "", sender)


def _customer_of(session: Session, sender: str) -> int | None:
    """The customer whose phone the message came from (exact number), if one."""
    if not _PHONE.match(sender):
        return None
    digits = _digits(sender)
    candidates = {digits}
    if digits.startswith("86") and len(digits) == 13:
        candidates.add(digits[2:])
    found = session.exec(
        select(CustomerPhone.customer_id).where(col(CustomerPhone.phone).in_(sorted(candidates)))
    ).all()
    owners = set(found)
    return next(iter(owners)) if len(owners) == 1 else None


def _add(
    session: Session, *, actor: Actor, messages: Sequence[NewMessage], policy: Policy
) -> AddReport:
    require(session, actor, Permission.MANAGE_DATA)
    now = now_of(session)
    calendars = calendars_from_policy(policy)
    refs = [m.external_ref for m in messages if m.external_ref]
    if len(refs) != len(set(refs)):
        raise InvalidInput("the same external_ref twice in one batch", field="external_ref")
    stored: set[str] = set()
    if refs:
        stored = set(
            session.connection()
            .execute(core_select(_INBOX.c.external_ref).where(_INBOX.c.external_ref.in_(refs)))
            .scalars()
        )
    rows: list[dict[str, Any]] = []
    for message in messages:
        if message.external_ref and message.external_ref in stored:
            continue
        received = message.received_at or now
        if received > now:
            raise InvalidInput("is in the future", field="received_at")
        rows.append(
            {
                "channel": message.channel.value,
                "sender": message.sender,
                "customer_id": _customer_of(session, message.sender),
                "text": message.text,
                "received_at": received,
                "response_due": response_due(received, message.channel, policy, calendars),
                "status": InboxStatus.NEW.value,
                "external_ref": message.external_ref,
                "version": 1,
            }
        )
    added: list[int] = []
    if rows:
        result = session.connection().execute(
            insert(_INBOX).returning(_INBOX.c.id, sort_by_parameter_order=True), rows
        )
        added = [int(row[0]) for row in result]
        changes.bump(session, changes.Topic.INBOX)
    return AddReport(tuple(added), len(messages) - len(rows))


def add_messages(
    db: Database, *, actor: Actor, messages: Sequence[NewMessage], policy: Policy
) -> AddReport:
    """Store arriving messages, all or none: each with its response clock and, when it came
    from a customer's phone, that customer. A message whose ``external_ref`` is stored already
    is skipped (a gateway sending it twice) and counted."""
    return db.run(
        lambda session: _add(session, actor=actor, messages=messages, policy=policy), write=True
    )


def parse_messages(rows: Sequence[dict[str, Any]]) -> list[NewMessage]:
    """Rows of an import file as messages; the first bad row is named with its field."""
    parsed = []
    for number, row in enumerate(rows, start=1):
        try:
            parsed.append(NewMessage.model_validate(row))
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "row"
            raise InvalidInput(f"row {number}: {first['msg']}", field=field) from None
    return parsed


# --- reading ---------------------------------------------------------------------------------


def _row(session: Session, message: InboxMessage) -> MessageRow:
    assert message.id is not None
    customer = session.get(Customer, message.customer_id) if message.customer_id else None
    names = staff_names(session, {message.handled_by} if message.handled_by else set())
    return MessageRow(
        id=message.id,
        channel=InboxChannel(message.channel),
        sender=message.sender,
        text=message.text,
        received_at=message.received_at,
        response_due=message.response_due,
        status=InboxStatus(message.status),
        version=message.version,
        customer_id=message.customer_id,
        customer_no=customer.customer_no if customer else None,
        customer_name_masked=mask_name(customer.name) if customer else None,
        work_order_id=message.work_order_id,
        first_response_at=message.first_response_at,
        answered_at=message.answered_at,
        answer=message.answer,
        discard_reason=message.discard_reason,
        handled_by_name=names.get(message.handled_by) if message.handled_by else None,
    )


def _cursor(row: Any) -> str:
    due = row.response_due
    if due.utcoffset() is None:
        due = due.replace(tzinfo=UTC)
    return f"{due.isoformat()}|{row.id}"


def _decode(text: str) -> tuple[datetime, int]:
    try:
        due, identifier = text.rsplit("|", 1)
        return as_utc(datetime.fromisoformat(due)), int(identifier)
    except ValueError:
        raise InvalidInput("not a cursor of the inbox", field="cursor") from None


def inbox_page(
    db: Database,
    *,
    actor: Actor,
    after: str | None = None,
    before: str | None = None,
    limit: int = 50,
) -> InboxPage:
    """One page of the messages waiting for a lead, the nearest response due first."""

    def read(session: Session) -> InboxPage:
        require(session, actor, Permission.DISPATCH_WORK_ORDER)
        if not 1 <= limit <= PAGE_MAX:
            raise InvalidInput(f"between 1 and {PAGE_MAX}", field="limit")
        waiting = _INBOX.c.status == literal_column("'new'")
        query = core_select(_INBOX.c.id, _INBOX.c.response_due).where(waiting)
        backward = before is not None
        key = _decode(before or after or "") if (before or after) else None
        if key is not None:
            due, identifier = key
            if backward:
                query = query.where(
                    or_(
                        _INBOX.c.response_due < due,
                        and_(_INBOX.c.response_due == due, _INBOX.c.id < identifier),
                    )
                ).order_by(_INBOX.c.response_due.desc(), _INBOX.c.id.desc())
            else:
                query = query.where(
                    or_(
                        _INBOX.c.response_due > due,
                        and_(_INBOX.c.response_due == due, _INBOX.c.id > identifier),
                    )
                )
        if not backward:
            query = query.order_by(_INBOX.c.response_due, _INBOX.c.id)
        raw = list(session.connection().execute(query.limit(limit + 1)).all())
        more = len(raw) > limit
        raw = raw[:limit]
        if backward:
            raw.reverse()
        messages = {
            m.id: m
            for m in session.exec(
                select(InboxMessage).where(col(InboxMessage.id).in_([r.id for r in raw]))
            )
        }
        rows = tuple(_row(session, messages[r.id]) for r in raw)
        next_cursor = prev_cursor = None
        if raw:
            if backward:
                prev_cursor = _cursor(raw[0]) if more else None
                next_cursor = _cursor(raw[-1])
            else:
                next_cursor = _cursor(raw[-1]) if more else None
                prev_cursor = _cursor(raw[0]) if key is not None else None
        return InboxPage(rows, next_cursor, prev_cursor, now_of(session))

    return db.run(read, write=False)


def message(db: Database, *, actor: Actor, message_id: int) -> MessageRow:
    """One message, whatever its status."""

    def read(session: Session) -> MessageRow:
        require(session, actor, Permission.DISPATCH_WORK_ORDER)
        found = session.get(InboxMessage, message_id)
        if found is None:
            raise NotFound(f"no message {message_id}")
        return _row(session, found)

    return db.run(read, write=False)


# --- handling --------------------------------------------------------------------------------


def _lock(session: Session, message_id: int, version: int) -> InboxMessage:
    if not isinstance(message_id, int):
        raise InvalidInput("give the message's id", field="message_id")
    found = session.get(InboxMessage, message_id, with_for_update=True)
    if found is None:
        raise NotFound(f"no message {message_id}")
    if found.version != version:
        names = staff_names(session, {found.handled_by} if found.handled_by else set())
        raise MessageChanged(
            message_id,
            names.get(found.handled_by) if found.handled_by else None,
            InboxStatus(found.status),
        )
    return found


def _waiting(found: InboxMessage) -> None:
    if found.status != InboxStatus.NEW.value:
        raise MessageHandled(found.id or 0, InboxStatus(found.status))


class MessageHandled(DeskError):
    title = "Already handled"

    def __init__(self, message_id: int, status: InboxStatus) -> None:
        super().__init__(f"message {message_id} is {status.value} already")
        self.message_id = message_id
        self.status = status


def _handled(session: Session, found: InboxMessage, actor: Actor, status: InboxStatus) -> None:
    now = now_of(session)
    found.status = status.value
    found.handled_by = actor.user_id if actor.user_id > 0 else None
    found.handled_at = now
    found.version += 1
    changes.bump(session, changes.Topic.INBOX)


def match_message(
    db: Database, *, actor: Actor, message_id: int, version: int, customer: str
) -> MessageRow:
    """Match the message to a customer, by customer number or phone number; an empty
    ``customer`` clears the match."""

    def work(session: Session) -> MessageRow:
        require(session, actor, Permission.DISPATCH_WORK_ORDER)
        found = _lock(session, message_id, version)
        _waiting(found)
        wanted = (customer or "").strip()
        if not wanted:
            found.customer_id = None
        else:
            by_no = session.exec(
                select(Customer.id).where(Customer.customer_no == wanted.upper())
            ).first()
            customer_id = by_no if by_no is not None else _customer_of(session, wanted)
            if customer_id is None:
                raise InvalidInput(f"no customer with number or phone {wanted}", field="customer")
            found.customer_id = customer_id
        found.version += 1
        changes.bump(session, changes.Topic.INBOX)
        session.flush()
        return _row(session, found)

    return db.run(work, write=True)


def convert_message(
    db: Database,
    *,
    actor: Actor,
    message_id: int,
    version: int,
    category: RequestType,
    title: str,
    description: str | None,
    priority: Priority,
    department_id: int | None,
    policy: Policy,
) -> WorkOrderView:
    """Turn the message into a work order (its first response), in one transaction: the
    order's source and channel follow the message's, its customer is the matched one."""

    def work(session: Session) -> WorkOrderView:
        require(session, actor, Permission.DISPATCH_WORK_ORDER)
        found = _lock(session, message_id, version)
        _waiting(found)
        channel = InboxChannel(found.channel)
        draft = WorkOrderDraft(
            customer_id=found.customer_id,
            contact_id=None,
            category=category,
            topic=None,
            title=title,
            description=(description or "").strip() or found.text,
            priority=priority,
            department_id=department_id,
            callback_number=found.sender if _PHONE.match(found.sender) else None,
            channel=ORDER_CHANNEL[channel],
            source=ORDER_SOURCE[channel],
            consent=True,
        )
        view = create_in_session(session, actor=actor, draft=draft, policy=policy)
        now = now_of(session)
        found.work_order_id = view.id
        found.first_response_at = found.first_response_at or now
        _handled(session, found, actor, InboxStatus.CONVERTED)
        return view

    return db.run(work, write=True)


def answer_message(
    db: Database, *, actor: Actor, message_id: int, version: int, answer: str
) -> MessageRow:
    """Answer the message with a recorded reply (what was sent back to the customer)."""

    def work(session: Session) -> MessageRow:
        require(session, actor, Permission.DISPATCH_WORK_ORDER)
        found = _lock(session, message_id, version)
        _waiting(found)
        text = clean_text(answer or "", name="answer", limit=2000)
        now = now_of(session)
        found.answer = text
        found.answered_at = now
        found.first_response_at = found.first_response_at or now
        _handled(session, found, actor, InboxStatus.ANSWERED)
        session.flush()
        return _row(session, found)

    return db.run(work, write=True)


def discard_message(
    db: Database, *, actor: Actor, message_id: int, version: int, reason: str
) -> MessageRow:
    """Discard the message with a reason (spam, a duplicate, nothing to do)."""

    def work(session: Session) -> MessageRow:
        require(session, actor, Permission.DISPATCH_WORK_ORDER)
        found = _lock(session, message_id, version)
        _waiting(found)
        found.discard_reason = clean_text(reason or "", name="reason", limit=500)
        _handled(session, found, actor, InboxStatus.DISCARDED)
        session.flush()
        return _row(session, found)

    return db.run(work, write=True)
