"""The handover summary and the queue's returned view from indexes: the returned orders (a
partial index of those sent back at least once, by status and deadline, carrying their
creation), the open complaints by chase step, and the open major orders by creation.

Revision ID: 0018_handover_indexes
Revises: 0017_dashboard_indexes
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_handover_indexes"
down_revision: str | None = "0017_dashboard_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = sa.text("status <> 'closed'")
_RETURNED = sa.text("redispatch_count > 0")
_NAMES = ("ix_work_order_returned", "ix_work_order_open_chase", "ix_work_order_open_major")


def upgrade() -> None:
    op.create_index(
        "ix_work_order_returned",
        "work_order",
        ["status", "next_due", "id", "created_at"],
        sqlite_where=_RETURNED,
        postgresql_where=_RETURNED,
    )
    op.create_index(
        "ix_work_order_open_chase",
        "work_order",
        ["category", "escalation_level"],
        sqlite_where=_OPEN,
        postgresql_where=_OPEN,
    )
    op.create_index(
        "ix_work_order_open_major",
        "work_order",
        ["created_at", "id"],
        sqlite_where=sa.text("status <> 'closed' AND is_major = 1"),
        postgresql_where=sa.text("status <> 'closed' AND is_major"),
    )
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and _has_statistics(bind):
        # beside indexes with statistics SQLite's planner passes over one without
        for name in _NAMES:
            op.execute(f"ANALYZE {name}")


def _has_statistics(bind: sa.engine.Connection) -> bool:
    found = bind.exec_driver_sql(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
    ).scalar()
    return bool(found)


def downgrade() -> None:
    for name in reversed(_NAMES):
        op.drop_index(name, table_name="work_order")
