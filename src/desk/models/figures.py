"""Summaries the dashboard reads instead of scanning the facts again.

They are refreshed set-based from the facts (``desk.services.summaries``) by the console's
timer, by ``desk sweep`` and once by the demo builder; nothing else writes them, and the
dashboard reads the facts directly for whatever a summary does not cover yet.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class ContactHour(SQLModel, table=True):
    """The contact counts of one UTC hour and request type (``""``: none recorded), each
    counted by the condition of ``desk.services.figures.contact_conditions``;
    ``open_contacts``: those not ended when the row was made (they may still change, so the
    next refresh counts the hour again)."""

    __tablename__ = "contact_hour"

    hour: datetime = Field(primary_key=True)
    request_type: str = Field(default="", primary_key=True, max_length=24)
    contacts: int = 0
    offered: int = 0
    answered: int = 0
    quick: int = 0
    vip_offered: int = 0
    vip_answered: int = 0
    marked: int = 0
    satisfied: int = 0
    handled: int = 0
    handle_seconds: float = 0.0
    open_contacts: int = 0


class AgentHour(SQLModel, table=True):
    """How many distinct agents answered a contact offered in one UTC hour."""

    __tablename__ = "agent_hour"

    hour: datetime = Field(primary_key=True)
    agents: int = 0


class ChurnSnapshot(SQLModel, table=True):
    """The churn counts as of one instant (the start of an hour)."""

    __tablename__ = "churn_snapshot"

    as_of: datetime = Field(primary_key=True)
    members: int = 0
    members_churned: int = 0
    others: int = 0
    others_churned: int = 0
    computed_at: datetime
