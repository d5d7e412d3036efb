"""Callbacks (回访): calls to make, with their purpose, owner and attempts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel


class Callback(SQLModel, table=True):
    """One call (or SMS, or visit) to make to a customer.

    ``owner_id`` None means anyone on the shift may make it. ``plan_key`` names what planned
    it (``survey:contact:42``, ``work_order:7:c0`` …): unique, so planning twice adds nothing.
    ``status`` says whether it is still to make (``pending``) or how it ended (``outcome``).
    ``version`` guards concurrent saves, as on work orders.
    """

    __tablename__ = "callback"
    __table_args__ = (
        Index("ix_callback_status_due", "status", "due_at"),
        Index("ix_callback_customer_purpose", "customer_id", "purpose", "created_at"),
        Index("ix_callback_owner_status_due", "owner_id", "status", "due_at"),
        Index("ux_callback_plan_key", "plan_key", unique=True),
        Index("ix_callback_work_order_status", "work_order_id", "purpose", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id")
    work_order_id: int | None = Field(default=None, foreign_key="work_order.id")
    contact_id: int | None = Field(default=None, foreign_key="contact.id")  # a survey's contact
    kind: str = Field(default="phone", max_length=8)  # CallbackKind
    purpose: str = Field(max_length=16)  # CallbackPurpose
    subject: str | None = Field(default=None, max_length=80)  # "birthday", "holiday:National Day"
    plan_key: str | None = Field(default=None, max_length=64)
    due_at: datetime
    owner_id: int | None = Field(default=None, foreign_key="staff_user.id")  # None: the shift
    status: str = Field(default="pending", max_length=16)  # CallbackStatus
    outcome: str | None = Field(default=None, max_length=16)  # CallbackOutcome
    attempts: int = 0
    last_attempt_at: datetime | None = None
    result: str | None = Field(default=None, max_length=500)
    satisfaction: int | None = None
    created_at: datetime
    closed_at: datetime | None = None
    closed_by: int | None = Field(default=None, foreign_key="staff_user.id")
    updated_at: datetime | None = None
    # the default in the database too: bulk loads (the demo) write rows without it
    version: int = Field(default=1, sa_column_kwargs={"server_default": text("1")})


class CallbackAttempt(SQLModel, table=True):
    """One try at a callback: who, when, reached or not, and what the customer said."""

    __tablename__ = "callback_attempt"
    __table_args__ = (Index("ix_callback_attempt_callback_at", "callback_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    callback_id: int = Field(foreign_key="callback.id")
    at: datetime
    actor_id: int | None = Field(default=None, foreign_key="staff_user.id")
    reached: bool
    satisfaction: int | None = None  # 1 (very unhappy) … 5 (very happy)
    note: str | None = Field(default=None, max_length=500)
