"""Ringing an agent: ``desk ring NUMBER --agent LOGIN``, the hook a PBX adapter calls.

:func:`ring` stores the contact with its offered time, a row in the small ``contact_ring``
table (which the agent's console polls, :func:`desk.services.contacts.pending_ring`) and its
audit entry, in one transaction; on PostgreSQL it also sends ``NOTIFY desk_ring`` with the
agent's id, delivered at commit. A ring not taken within ``contacts.ring_timeout_seconds``
is stored as abandoned by whichever poll, ring or answer sees it first (:func:`expire_due`).

**A busy agent.** A call rung to an agent who is on a call (an answered contact not closed
yet) would wait unseen (the console pops calls only between contacts) and time out. It is
stored at once as offered and abandoned, its reason ``agent_busy``
(:attr:`~desk.rules.vocab.RefusalReason.AGENT_BUSY`), audited like any ring, and
:class:`RingResult` says ``busy``: the adapter can offer the call to someone else
(``desk ring`` exits with its own code).

**Light.** ``desk ring`` is its own process each time, so its start counts: this module works
on SQLAlchemy Core alone (the tables named below with their types, the audit entry through
:func:`desk.services.sealing.append`), and loads neither SQLModel, the ORM, the models nor
Alembic. The columns are written as the ORM writes them (times in UTC, ``draft`` as JSON
null, every default of :class:`desk.models.Contact`); a test compares the rows.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Integer,
    String,
    column,
    delete,
    func,
    insert,
    select,
    table,
    update,
)

from desk.infra.database import Database
from desk.infra.errors import InvalidInput, NotFound
from desk.rules.masking import mask_phone
from desk.rules.permissions import Actor, Permission
from desk.rules.policy import Policy
from desk.rules.vocab import (
    Channel,
    ContactOutcome,
    Direction,
    RefusalReason,
    Role,
    VerificationMethod,
)
from desk.services import sealing
from desk.services.access import require

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlmodel import Session

RING_CHANNEL = "desk_ring"  # PostgreSQL: NOTIFY channel of rung calls (payload: the agent's id)
MAX_NUMBER_LENGTH = 20
_NUMBER_NOISE = re.compile(r"[\s\-()]+")
_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")

_TIME = DateTime(timezone=True)  # as desk.models' UTC times: stored in UTC
CONTACT = table(
    "contact",
    column("id", Integer),
    column("customer_id", Integer),
    column("caller_number", String),
    column("channel", String),
    column("direction", String),
    column("request_type", String),
    column("topic", String),
    column("offered_at", _TIME),
    column("answered_at", _TIME),
    column("ended_at", _TIME),
    column("agent_id", Integer),
    column("shift_id", Integer),
    column("on_behalf", Boolean),
    column("verification_method", String),
    column("verified_at", _TIME),
    column("outcome", String),
    column("refusal_reason", String),
    column("satisfaction", Integer),
    column("summary", String),
    column("draft", JSON),
    column("updated_at", _TIME),
    column("version", Integer),
)
CONTACT_RING = table(
    "contact_ring",
    column("contact_id", Integer),
    column("agent_id", Integer),
    column("offered_at", _TIME),
    column("expires_at", _TIME),
)
_STAFF = table(
    "staff_user",
    column("id", Integer),
    column("login", String),
    column("active", Boolean),
    column("role", String),
)
_PHONE = table("customer_phone", column("customer_id", Integer), column("phone", String))
_SHIFT = table("shift", column("id", Integer), column("starts_at", _TIME), column("ends_at", _TIME))


def normalise_number(raw: str) -> str:
    """A caller number as stored: full-width digits made ASCII, spaces, hyphens and
    parentheses dropped, a ``+86``/``0086`` country code dropped from a mobile number."""
    text = _NUMBER_NOISE.sub("", unicodedata.normalize("NFKC", raw or ""))
    for prefix in ("+86", "0086"):
        if text.startswith(prefix) and len(text) - len(prefix) == 11:
            text = text[len(prefix) :]
    if not _NUMBER.match(text):
        raise InvalidInput("must be a phone number (digits only, 3 to 20)", field="number")
    return text


@dataclass(frozen=True, slots=True)
class RingResult:
    contact_id: int
    agent_login: str
    customer_id: int | None
    caller_masked: str
    expires_at: datetime
    busy: bool = False  # the agent was on a call: stored as abandoned, nothing rings


def expire_due(connection: Connection | Session, now: datetime, agent_id: int | None = None) -> int:
    """Store every ring past its time as abandoned (ended when it expired); how many. Runs
    inside its caller's transaction (on a Core connection or an ORM session alike), after
    the caller's permission check, before the caller reads any contact."""
    query = select(CONTACT_RING.c.contact_id, CONTACT_RING.c.expires_at).where(
        CONTACT_RING.c.expires_at < now
    )
    if agent_id is not None:
        query = query.where(CONTACT_RING.c.agent_id == agent_id)
    expired = connection.execute(query).all()
    for contact_id, expired_at in expired:
        connection.execute(
            update(CONTACT)
            .where(CONTACT.c.id == contact_id, CONTACT.c.answered_at.is_(None))
            .values(outcome=ContactOutcome.ABANDONED.value, ended_at=expired_at, updated_at=now)
        )
        connection.execute(delete(CONTACT_RING).where(CONTACT_RING.c.contact_id == contact_id))
    return len(expired)


def ring(
    db: Database,
    *,
    actor: Actor,
    number: str,
    agent_login: str,
    policy: Policy,
    channel: Channel = Channel.PHONE,
) -> RingResult:
    """The telephony side offers a call from ``number`` to the agent ``agent_login``: one
    writing transaction (run again from the start on a transient error)."""
    return db.run_core(
        lambda connection: _ring(
            connection,
            now=db.clock.now().astimezone(UTC),
            actor=actor,
            number=number,
            agent_login=agent_login,
            policy=policy,
            channel=channel,
        ),
        write=True,
    )


def _ring(
    connection: Connection,
    *,
    now: datetime,
    actor: Actor,
    number: str,
    agent_login: str,
    policy: Policy,
    channel: Channel,
) -> RingResult:
    require(connection, actor, Permission.RING_AGENTS)
    channel = Channel(channel)
    normalised = normalise_number(number)
    agent = connection.execute(
        select(_STAFF.c.id, _STAFF.c.login, _STAFF.c.active, _STAFF.c.role).where(
            _STAFF.c.login == agent_login.strip().lower()
        )
    ).first()
    if agent is None or not agent.active:
        raise NotFound(f"no active user {agent_login!r}")
    if Role(agent.role) not in (Role.AGENT, Role.LEAD):
        raise InvalidInput(f"{agent.login} ({agent.role}) does not take calls", field="agent")
    expire_due(connection, now)
    busy = (
        connection.execute(
            select(CONTACT.c.id)
            .where(
                CONTACT.c.agent_id == agent.id,
                CONTACT.c.ended_at.is_(None),
                CONTACT.c.answered_at.is_not(None),
            )
            .limit(1)
        ).first()
        is not None
    )
    customer_id = connection.execute(
        select(_PHONE.c.customer_id).where(_PHONE.c.phone == normalised).limit(1)
    ).scalar_one_or_none()
    shift_id = connection.execute(
        select(_SHIFT.c.id)
        .where(_SHIFT.c.starts_at <= now, _SHIFT.c.ends_at > now)
        .order_by(_SHIFT.c.starts_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    contact_id = int(
        connection.execute(
            insert(CONTACT)
            .values(
                customer_id=customer_id,
                caller_number=normalised,
                channel=channel.value,
                direction=Direction.INBOUND.value,
                request_type=None,
                topic=None,
                offered_at=now,
                answered_at=None,
                ended_at=now if busy else None,
                agent_id=agent.id,
                shift_id=shift_id,
                on_behalf=False,
                verification_method=VerificationMethod.NONE.value,
                verified_at=None,
                outcome=ContactOutcome.ABANDONED.value if busy else None,
                refusal_reason=RefusalReason.AGENT_BUSY.value if busy else None,
                satisfaction=None,
                summary=None,
                draft=None,
                updated_at=now,
                version=1,
            )
            .returning(CONTACT.c.id)
        ).scalar_one()
    )
    expires = now + timedelta(seconds=policy.contacts.ring_timeout_seconds)
    if not busy:
        connection.execute(
            insert(CONTACT_RING).values(
                contact_id=contact_id, agent_id=agent.id, offered_at=now, expires_at=expires
            )
        )
    if connection.dialect.name == "postgresql" and not busy:
        # delivered when this transaction commits, to every console listening (RingListener)
        connection.execute(select(func.pg_notify(RING_CHANNEL, str(agent.id))))
    sealing.append(
        connection,
        at=now,
        action="contact.ring",
        actor=actor,
        target_type="contact",
        target_id=contact_id,
        detail={
            "agent": agent.login,
            "channel": channel.value,
            "known": customer_id is not None,
            **({"busy": True} if busy else {}),
        },
    )
    return RingResult(
        contact_id,
        agent.login,
        customer_id,
        mask_phone(normalised),
        now if busy else expires,
        busy=busy,
    )
