"""Quality spot checks (暗访/抽查): a lead scores a contact or a branch office on a card."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel


class SpotCheck(SQLModel, table=True):
    """One scored check. ``total`` is the weighted score out of 100 (two decimals, stored
    in hundredths); ``agent_id`` is the agent of the checked contact, for the reports.
    The card and its items are those of the policy in force when it was scored."""

    __tablename__ = "spot_check"
    __table_args__ = (
        Index("ix_spot_check_at", "at"),
        Index("ix_spot_check_agent_at", "agent_id", "at"),
        Index("ix_spot_check_branch_at", "branch_id", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime
    checker_id: int = Field(foreign_key="staff_user.id")
    target: str = Field(max_length=8)  # SpotCheckTarget
    card: str = Field(max_length=16)  # the score card's key in the policy
    contact_id: int | None = Field(default=None, foreign_key="contact.id")
    agent_id: int | None = Field(default=None, foreign_key="staff_user.id")
    branch_id: int | None = Field(default=None, foreign_key="branch.id")
    total_hundredths: int  # 0 … 10000
    passed: bool
    remark: str = Field(default="", max_length=2000)


class SpotCheckScore(SQLModel, table=True):
    """One item of a check: the mark given (0 … the policy's scale) and the item's weight."""

    __tablename__ = "spot_check_score"

    spot_check_id: int = Field(foreign_key="spot_check.id", primary_key=True)
    item: str = Field(max_length=32, primary_key=True)
    mark: int
    weight: int
