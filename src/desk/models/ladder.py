"""The escalation ladder's plan: steps that fall due later for each work order."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel


class LadderStep(SQLModel, table=True):
    """One planned ladder step (a warning, breach, reminder, escalation or major flag).

    Written whenever the work order's history is replayed (``desk.services.sweep``); the
    first sweep at or after ``due_at`` (and before ``until``, for a warning) stores it as a
    ``work_order_event`` with ``data`` (``late`` set when stored after ``late_after``) and
    removes it. Replaying the history again replaces the order's whole plan.
    """

    __tablename__ = "ladder_step"
    __table_args__ = (Index("ix_ladder_step_due", "due_at"),)

    work_order_id: int = Field(foreign_key="work_order.id", primary_key=True)
    ladder_key: str = Field(primary_key=True, max_length=48)
    kind: str = Field(max_length=24)  # EventKind
    clock: str | None = Field(default=None, max_length=16)  # ClockKind
    department_id: int | None = Field(default=None, foreign_key="department.id")
    due_at: datetime
    until: datetime | None = None
    late_after: datetime | None = None
    major_source: str | None = Field(default=None, max_length=24)  # MajorSource
    data: dict[str, Any] = Field(sa_type=JSON)
