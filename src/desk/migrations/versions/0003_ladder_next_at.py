"""the sweep's work list: work_order.ladder_next_at

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 14:00:00

``ladder_next_at`` marks the work orders whose history the sweep must replay through the
escalation ladder at the next sweep at or after that instant (since 0004 the replay writes the
order's plan to ``ladder_step`` and clears the mark); the sweep reads the marked orders through
its index. Existing open orders are marked at their creation, so the first sweep after this
upgrade examines each of them once.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "work_order",
        sa.Column("ladder_next_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    )
    op.execute("UPDATE work_order SET ladder_next_at = created_at WHERE status <> 'closed'")
    op.create_index("ix_work_order_ladder_next_at", "work_order", ["ladder_next_at"])


def downgrade() -> None:
    op.drop_index("ix_work_order_ladder_next_at", table_name="work_order")
    with op.batch_alter_table("work_order", schema=None) as batch_op:
        batch_op.drop_column("ladder_next_at")
