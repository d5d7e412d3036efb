"""The audit log: append-only and hash-chained, so a changed or removed row shows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel


class AuditEntry(SQLModel, table=True):
    """``hash`` = sha256 of the previous entry's hash and this entry's canonical content."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_target", "target_type", "target_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime
    actor_id: int | None = Field(default=None, foreign_key="staff_user.id")
    actor_login: str | None = Field(default=None, max_length=32)
    action: str = Field(max_length=48, index=True)
    target_type: str | None = Field(default=None, max_length=32)
    target_id: str | None = Field(default=None, max_length=32)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)
