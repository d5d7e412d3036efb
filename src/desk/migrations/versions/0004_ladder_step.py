"""the ladder's plan: ladder_step

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 16:00:00

``ladder_step`` holds, per work order, the ladder steps that fall due later while its history
stays as it is (``desk.rules.ladder.planned_ladder_steps``), each with the instant it falls due.
A sweep stores the steps due by now as events in a few set-based statements instead of
replaying every due order's history; replaying happens only when a history changes (or was
loaded in bulk, see ``work_order.ladder_next_at``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ladder_step",
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("ladder_key", sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("clock", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("due_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("late_after", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("major_source", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["department_id"], ["department.id"]),
        sa.ForeignKeyConstraint(["work_order_id"], ["work_order.id"]),
        sa.PrimaryKeyConstraint("work_order_id", "ladder_key"),
    )
    op.create_index("ix_ladder_step_due", "ladder_step", ["due_at"])
    # Open orders are replayed by the next sweep and get their plan then.
    op.execute("UPDATE work_order SET ladder_next_at = created_at WHERE status <> 'closed'")


def downgrade() -> None:
    op.drop_index("ix_ladder_step_due", table_name="ladder_step")
    op.drop_table("ladder_step")
