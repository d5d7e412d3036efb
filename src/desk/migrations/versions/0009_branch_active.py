"""Branches can be disabled: branch.active.

Revision ID: 0009_branch_active
Revises: 0008_admin_safety
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_branch_active"
down_revision: str | None = "0008_admin_safety"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("branch", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("branch", schema=None) as batch_op:
        batch_op.drop_column("active")
