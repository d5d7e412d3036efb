"""Callbacks planned once (plan_key) with their attempts, the incoming lead's acknowledgement
of a handover, and quality spot checks with their item scores.

Revision ID: 0007_shift_floor
Revises: 0006_floor
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0007_shift_floor"
down_revision: str | None = "0006_floor"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString
_INSTANT = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("callback", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("subject", _TEXT(length=80), nullable=True))
        batch_op.add_column(sa.Column("plan_key", _TEXT(length=64), nullable=True))
        batch_op.add_column(sa.Column("outcome", _TEXT(length=16), nullable=True))
        batch_op.add_column(sa.Column("closed_at", _INSTANT(), nullable=True))
        batch_op.add_column(sa.Column("closed_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("updated_at", _INSTANT(), nullable=True))
        batch_op.add_column(
            sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("1"))
        )
        batch_op.create_foreign_key("fk_callback_contact", "contact", ["contact_id"], ["id"])
        batch_op.create_foreign_key("fk_callback_closed_by", "staff_user", ["closed_by"], ["id"])
        batch_op.create_index(
            "ix_callback_owner_status_due", ["owner_id", "status", "due_at"], unique=False
        )
        batch_op.create_index("ux_callback_plan_key", ["plan_key"], unique=True)

    op.create_table(
        "callback_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("callback_id", sa.Integer(), nullable=False),
        sa.Column("at", _INSTANT(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("reached", sa.Boolean(), nullable=False),
        sa.Column("satisfaction", sa.Integer(), nullable=True),
        sa.Column("note", _TEXT(length=500), nullable=True),
        sa.ForeignKeyConstraint(["callback_id"], ["callback.id"]),
        sa.ForeignKeyConstraint(["actor_id"], ["staff_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_callback_attempt_callback_at", "callback_attempt", ["callback_id", "at"], unique=False
    )

    with op.batch_alter_table("handover", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acknowledgement", _TEXT(length=2000), nullable=True))

    op.create_table(
        "spot_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", _INSTANT(), nullable=False),
        sa.Column("checker_id", sa.Integer(), nullable=False),
        sa.Column("target", _TEXT(length=8), nullable=False),
        sa.Column("card", _TEXT(length=16), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("branch_id", sa.Integer(), nullable=True),
        sa.Column("total_hundredths", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("remark", _TEXT(length=2000), nullable=False),
        sa.ForeignKeyConstraint(["checker_id"], ["staff_user.id"]),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"]),
        sa.ForeignKeyConstraint(["agent_id"], ["staff_user.id"]),
        sa.ForeignKeyConstraint(["branch_id"], ["branch.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_spot_check_at", "spot_check", ["at"], unique=False)
    op.create_index("ix_spot_check_agent_at", "spot_check", ["agent_id", "at"], unique=False)
    op.create_index("ix_spot_check_branch_at", "spot_check", ["branch_id", "at"], unique=False)
    op.create_table(
        "spot_check_score",
        sa.Column("spot_check_id", sa.Integer(), nullable=False),
        sa.Column("item", _TEXT(length=32), nullable=False),
        sa.Column("mark", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["spot_check_id"], ["spot_check.id"]),
        sa.PrimaryKeyConstraint("spot_check_id", "item"),
    )


def downgrade() -> None:
    op.drop_table("spot_check_score")
    op.drop_index("ix_spot_check_branch_at", table_name="spot_check")
    op.drop_index("ix_spot_check_agent_at", table_name="spot_check")
    op.drop_index("ix_spot_check_at", table_name="spot_check")
    op.drop_table("spot_check")
    with op.batch_alter_table("handover", schema=None) as batch_op:
        batch_op.drop_column("acknowledgement")
    op.drop_index("ix_callback_attempt_callback_at", table_name="callback_attempt")
    op.drop_table("callback_attempt")
    with op.batch_alter_table("callback", schema=None) as batch_op:
        batch_op.drop_index("ux_callback_plan_key")
        batch_op.drop_index("ix_callback_owner_status_due")
        batch_op.drop_constraint("fk_callback_closed_by", type_="foreignkey")
        batch_op.drop_constraint("fk_callback_contact", type_="foreignkey")
        for column in (
            "version",
            "updated_at",
            "closed_by",
            "closed_at",
            "outcome",
            "plan_key",
            "subject",
            "contact_id",
        ):
            batch_op.drop_column(column)
