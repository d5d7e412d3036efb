"""Messages customers leave outside a call: web forms, voice messages, WeChat, QQ, e-mail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel


class InboxMessage(SQLModel, table=True):
    """One message, from its arrival until a lead handled it.

    ``response_due`` is the response clock from the policy (``[inbox]``), set on arrival.
    ``first_response_at`` is the first answer the customer got: a recorded reply, or a work
    order made of the message; ``answered_at``/``answer`` the recorded reply. With
    ``received_at`` and ``channel`` these give the online-service figures (first-response
    and reply times per channel). ``external_ref`` is the gateway's own id: the same message
    imported twice is stored once.
    """

    __tablename__ = "inbox_message"
    __table_args__ = (
        Index("ix_inbox_message_status_due", "status", "response_due", "id"),
        Index("ix_inbox_message_channel_received", "channel", "received_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)  # InboxChannel
    sender: str = Field(max_length=120)  # the phone number or address it came from
    customer_id: int | None = Field(default=None, foreign_key="customer.id")
    text: str = Field(max_length=4000)
    received_at: datetime
    response_due: datetime | None = None
    status: str = Field(default="new", max_length=16)  # InboxStatus
    work_order_id: int | None = Field(default=None, foreign_key="work_order.id")
    first_response_at: datetime | None = None
    answered_at: datetime | None = None
    answer: str | None = Field(default=None, max_length=2000)
    discard_reason: str | None = Field(default=None, max_length=500)
    handled_by: int | None = Field(default=None, foreign_key="staff_user.id")
    handled_at: datetime | None = None
    external_ref: str | None = Field(default=None, max_length=64, unique=True)
    version: int = 1
