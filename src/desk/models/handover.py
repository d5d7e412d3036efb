"""The shift handover (交接班): gathered figures, the lead's notes, both stamps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel


class Handover(SQLModel, table=True):
    """A shift signed off by its outgoing lead and acknowledged by the incoming one.

    ``summary`` is the shift as the console gathered it when the lead signed (kept as it was then);
    ``notes`` the outgoing lead's words, ``acknowledgement`` the incoming lead's.
    """

    __tablename__ = "handover"

    id: int | None = Field(default=None, primary_key=True)
    shift_id: int = Field(foreign_key="shift.id", unique=True)  # a shift is signed off once
    outgoing_lead_id: int = Field(foreign_key="staff_user.id")
    incoming_lead_id: int | None = Field(default=None, foreign_key="staff_user.id")
    summary: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    notes: str = Field(default="", max_length=8000)
    signed_at: datetime
    acknowledged_at: datetime | None = None
    acknowledgement: str | None = Field(default=None, max_length=2000)
