"""Two indexes of the workspace: the leads' list of customers whose verification is locked (a
partial index on the lock time, so the list reads only the locked rows of a million
customers), and the work orders of a contact (read each time a contact is shown, which
scanned every work order).

Revision ID: 0013_workspace_indexes
Revises: 0012_summary_open
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_workspace_indexes"
down_revision: str | None = "0012_summary_open"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LOCKED = sa.text("verification_locked_at IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_customer_verification_locked",
        "customer",
        ["verification_locked_at", "id"],
        sqlite_where=_LOCKED,
        postgresql_where=_LOCKED,
    )
    op.create_index("ix_work_order_contact", "work_order", ["contact_id"])


def downgrade() -> None:
    op.drop_index("ix_work_order_contact", table_name="work_order")
    op.drop_index("ix_customer_verification_locked", table_name="customer")
