"""The callbacks of a work order, by index: the callback plan asks, for every order waiting for
its callback, whether it has a pending one (NOT EXISTS by work order); without this index
each ask scanned every pending callback, and at 300,000 open orders the plan's one writing
transaction held the SQLite write lock for minutes (another terminal's save failed with
``database is locked``). Recording a callback's result reads by work order too.

Revision ID: 0016_callback_work_order
Revises: 0015_knowledge_index
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0016_callback_work_order"
down_revision: str | None = "0015_knowledge_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_callback_work_order_status", "callback", ["work_order_id", "purpose", "status"]
    )


def downgrade() -> None:
    op.drop_index("ix_callback_work_order_status", table_name="callback")
