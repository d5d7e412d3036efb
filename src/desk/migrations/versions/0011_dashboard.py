"""The dashboard: hourly contact and agent summaries, churn snapshots, and the work-order
indexes its figures read through (escalated open orders, complaints by each of their dates).

Revision ID: 0011_dashboard
Revises: 0010_workspace

The summaries start empty: the dashboard reads the facts for what they do not cover, and the
first refresh (the console's timer) fills them from the facts.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0011_dashboard"
down_revision: str | None = "0010_workspace"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = sa.text("status <> 'closed'")
_CATEGORY_INDEXES = {
    "ix_work_order_category_reply_due": "reply_due",
    "ix_work_order_category_replied": "replied_at",
    "ix_work_order_category_resolution_due": "resolution_due",
    "ix_work_order_category_closed": "closed_at",
}


def upgrade() -> None:
    op.create_table(
        "contact_hour",
        sa.Column("hour", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("request_type", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        *(
            sa.Column(name, sa.Integer(), nullable=False)
            for name in (
                "contacts",
                "offered",
                "answered",
                "quick",
                "vip_offered",
                "vip_answered",
                "marked",
                "satisfied",
                "handled",
            )
        ),
        sa.Column("handle_seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "request_type"),
    )
    op.create_table(
        "agent_hour",
        sa.Column("hour", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("agents", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hour"),
    )
    op.create_table(
        "churn_snapshot",
        sa.Column("as_of", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("members_churned", sa.Integer(), nullable=False),
        sa.Column("others", sa.Integer(), nullable=False),
        sa.Column("others_churned", sa.Integer(), nullable=False),
        sa.Column("computed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("as_of"),
    )
    op.create_index(
        "ix_work_order_open_escalation",
        "work_order",
        ["escalation_level", "is_major", "next_due", "id"],
        sqlite_where=_OPEN,
        postgresql_where=_OPEN,
    )
    op.create_index(
        "ix_work_order_category_created",
        "work_order",
        ["category", "created_at", "topic", "branch_id", "customer_id"],
    )
    for name, column in _CATEGORY_INDEXES.items():
        op.create_index(name, "work_order", ["category", column])


def downgrade() -> None:
    for name in _CATEGORY_INDEXES:
        op.drop_index(name, table_name="work_order")
    op.drop_index("ix_work_order_category_created", table_name="work_order")
    op.drop_index("ix_work_order_open_escalation", table_name="work_order")
    op.drop_table("churn_snapshot")
    op.drop_table("agent_hour")
    op.drop_table("contact_hour")
