"""Callbacks (回访): calls to make, with their purpose, owner and attempts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel


class Callback(SQLModel, table=True):
    __tablename__ = "callback"
    __table_args__ = (
        Index("ix_callback_status_due", "status", "due_at"),
        Index("ix_callback_customer_purpose", "customer_id", "purpose", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id")
    work_order_id: int | None = Field(default=None, foreign_key="work_order.id")
    kind: str = Field(default="phone", max_length=8)  # CallbackKind
    purpose: str = Field(max_length=16)  # CallbackPurpose
    due_at: datetime
    owner_id: int | None = Field(default=None, foreign_key="staff_user.id")  # None: the shift
    status: str = Field(default="pending", max_length=16)  # CallbackStatus
    attempts: int = 0
    last_attempt_at: datetime | None = None
    result: str | None = Field(default=None, max_length=500)
    satisfaction: int | None = None
    created_at: datetime
