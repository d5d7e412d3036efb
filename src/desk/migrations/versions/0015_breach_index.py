"""The work orders ever breached, as a partial index of their breach events: the dashboard's
complaints on standard ask it once per complaint of the period.

Revision ID: 0015_breach_index
Revises: 0014_surname_readings
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_breach_index"
down_revision: str | None = "0014_surname_readings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BREACH = sa.text("kind = 'breach'")


def upgrade() -> None:
    op.create_index(
        "ix_work_order_event_breach",
        "work_order_event",
        ["work_order_id"],
        sqlite_where=_BREACH,
        postgresql_where=_BREACH,
    )
    if op.get_bind().dialect.name == "sqlite":
        # SQLite's planner takes an index it has no statistics for only when told its size
        op.execute("ANALYZE ix_work_order_event_breach")


def downgrade() -> None:
    op.drop_index("ix_work_order_event_breach", table_name="work_order_event")
