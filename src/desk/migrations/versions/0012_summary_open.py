"""The hourly contact summary counts the contacts still open in each hour: those may still
change (answered, ended, marked), so the next refresh counts their hours again.

Revision ID: 0012_summary_open
Revises: 0011_dashboard

The column starts at 0 and the summaries' policy fingerprint is cleared, so the next refresh
rebuilds them from the contacts and fills it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_summary_open"
down_revision: str | None = "0011_dashboard"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contact_hour", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("open_contacts", sa.Integer(), nullable=False, server_default="0")
        )
    op.execute("DELETE FROM desk_meta WHERE key = 'summary_policy'")


def downgrade() -> None:
    with op.batch_alter_table("contact_hour", schema=None) as batch_op:
        batch_op.drop_column("open_contacts")
