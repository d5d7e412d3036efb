"""Contacts (every call, chat, message or visit) and verification attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel


class Contact(SQLModel, table=True):
    """One contact. Open (``ended_at`` None) while the agent works it: the row is then the
    agent's draft, saved as they go (``draft`` holds what the forms hold), so it survives a
    logout, a crash and a restart. ``version`` guards concurrent saves."""

    __tablename__ = "contact"
    __table_args__ = (
        Index("ix_contact_offered", "offered_at"),
        Index("ix_contact_customer_offered", "customer_id", "offered_at"),
        Index("ix_contact_agent_offered", "agent_id", "offered_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id")
    caller_number: str | None = Field(default=None, max_length=20)
    channel: str = Field(max_length=16)  # Channel
    direction: str = Field(default="inbound", max_length=8)  # Direction
    request_type: str | None = Field(default=None, max_length=24)  # RequestType
    topic: str | None = Field(default=None, max_length=64)
    offered_at: datetime
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    agent_id: int | None = Field(default=None, foreign_key="staff_user.id")
    shift_id: int | None = Field(default=None, foreign_key="shift.id")
    on_behalf: bool = False  # the caller is not the account holder
    verification_method: str = Field(default="none", max_length=24)  # VerificationMethod
    verified_at: datetime | None = None
    outcome: str | None = Field(default=None, max_length=16)  # ContactOutcome
    refusal_reason: str | None = Field(default=None, max_length=32)
    satisfaction: int | None = None  # 1 (very unhappy) … 5 (very happy)
    summary: str | None = Field(default=None, max_length=2000)
    draft: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    updated_at: datetime | None = None
    version: int = 1


class ContactRing(SQLModel, table=True):
    """A call rung to an agent's console and not yet taken (``desk ring``).

    Small by design: a row lives from the ring until the agent answers it or it expires
    (stored as abandoned), so the consoles' poll reads a handful of rows at most.
    """

    __tablename__ = "contact_ring"

    contact_id: int = Field(foreign_key="contact.id", primary_key=True)
    agent_id: int = Field(foreign_key="staff_user.id", index=True)
    offered_at: datetime
    expires_at: datetime


class VerificationAttempt(SQLModel, table=True):
    """Every verification check; failures within the policy's window lock the customer (see
    docs/roles-and-workflows.md, "Verification before service")."""

    __tablename__ = "verification_attempt"
    __table_args__ = (Index("ix_verification_customer_at", "customer_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id")
    contact_id: int | None = Field(default=None, foreign_key="contact.id")
    agent_id: int | None = Field(default=None, foreign_key="staff_user.id")
    method: str = Field(max_length=24)  # VerificationMethod
    success: bool
    by_holder: bool = True  # the account holder answered (not someone on their behalf)
    at: datetime
