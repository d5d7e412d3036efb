"""The agent's workspace: contact drafts and versions, rings, verification by the holder,
the lifted verification lock, customer versions, and add-ons on accounts.

Revision ID: 0010_workspace
Revises: 0009_branch_active
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0010_workspace"
down_revision: str | None = "0009_branch_active"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("draft", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    op.create_table(
        "contact_ring",
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("offered_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["staff_user.id"]),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"]),
        sa.PrimaryKeyConstraint("contact_id"),
    )
    with op.batch_alter_table("contact_ring", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contact_ring_agent_id"), ["agent_id"], unique=False)
    with op.batch_alter_table("verification_attempt", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("by_holder", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    # Plain ADD COLUMN (no batch): recreating the customer table on SQLite would drop the
    # triggers that keep the name-search index of 0002 in step.
    op.add_column(
        "customer",
        sa.Column(
            "verification_lock_lifted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True
        ),
    )
    op.add_column(
        "customer", sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
    )
    if op.get_bind().dialect.name == "sqlite":  # alembic adds no constraint there; SQL does
        op.execute("ALTER TABLE customer ADD COLUMN updated_by INTEGER REFERENCES staff_user (id)")
    else:
        op.add_column("customer", sa.Column("updated_by", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "customer_updated_by_fkey", "customer", "staff_user", ["updated_by"], ["id"]
        )
    op.add_column(
        "customer", sa.Column("version", sa.Integer(), nullable=False, server_default="1")
    )
    op.create_table(
        "account_add_on",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("monthly_fee_cents", sa.Integer(), nullable=False),
        sa.Column("added_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("added_by", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("removed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["added_by"], ["staff_user.id"]),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("account_add_on", schema=None) as batch_op:
        batch_op.create_index(
            "ix_account_add_on_account", ["account_id", "removed_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("account_add_on", schema=None) as batch_op:
        batch_op.drop_index("ix_account_add_on_account")
    op.drop_table("account_add_on")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("customer_updated_by_fkey", "customer", type_="foreignkey")
    for column in ("version", "updated_by", "updated_at", "verification_lock_lifted_at"):
        op.drop_column("customer", column)
    with op.batch_alter_table("verification_attempt", schema=None) as batch_op:
        batch_op.drop_column("by_holder")
    with op.batch_alter_table("contact_ring", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_ring_agent_id"))
    op.drop_table("contact_ring")
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_column("version")
        batch_op.drop_column("updated_at")
        batch_op.drop_column("draft")
