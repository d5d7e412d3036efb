"""The floor: the queue's nearest deadline, mass-fault links, disputed bill items, the inbox of
messages, and the change counters that let other terminals see a change.

Revision ID: 0006_floor
Revises: 0005

``work_order.next_due``/``next_clock`` are filled by the next sweep: open orders are marked
for a replay here (``ladder_next_at``), as after a bulk load.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0006_floor"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = sa.text("status <> 'closed'")


def upgrade() -> None:
    with op.batch_alter_table("work_order", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("next_due", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("next_clock", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )
        batch_op.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_work_order_parent", "work_order", ["parent_id"], ["id"])
    op.create_index(
        "ix_work_order_open_due",
        "work_order",
        ["next_due", "id"],
        sqlite_where=_OPEN,
        postgresql_where=_OPEN,
    )
    op.create_index("ix_work_order_status_due", "work_order", ["status", "next_due", "id"])
    op.create_index(
        "ix_work_order_open_department_due",
        "work_order",
        ["department_id", "next_due", "id"],
        sqlite_where=_OPEN,
        postgresql_where=_OPEN,
    )
    op.create_index("ix_work_order_parent", "work_order", ["parent_id"])
    op.create_table(
        "work_order_bill_item",
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("bill_item_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["bill_item_id"], ["bill_item.id"]),
        sa.ForeignKeyConstraint(["work_order_id"], ["work_order.id"]),
        sa.PrimaryKeyConstraint("work_order_id", "bill_item_id"),
    )
    op.create_table(
        "change_counter",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "inbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("sender", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
        sa.Column("received_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("response_due", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=True),
        sa.Column("first_response_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("answered_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("answer", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("discard_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("handled_by", sa.Integer(), nullable=True),
        sa.Column("handled_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("external_ref", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.ForeignKeyConstraint(["handled_by"], ["staff_user.id"]),
        sa.ForeignKeyConstraint(["work_order_id"], ["work_order.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("external_ref"),
    )
    op.create_index(
        "ix_inbox_message_status_due", "inbox_message", ["status", "response_due", "id"]
    )
    op.create_index(
        "ix_inbox_message_channel_received", "inbox_message", ["channel", "received_at"]
    )
    # The next sweep replays open orders and fills their nearest deadline.
    op.execute("UPDATE work_order SET ladder_next_at = created_at WHERE status <> 'closed'")


def downgrade() -> None:
    op.drop_index("ix_inbox_message_channel_received", table_name="inbox_message")
    op.drop_index("ix_inbox_message_status_due", table_name="inbox_message")
    op.drop_table("inbox_message")
    op.drop_table("change_counter")
    op.drop_table("work_order_bill_item")
    op.drop_index("ix_work_order_parent", table_name="work_order")
    op.drop_index("ix_work_order_open_department_due", table_name="work_order")
    op.drop_index("ix_work_order_status_due", table_name="work_order")
    op.drop_index("ix_work_order_open_due", table_name="work_order")
    with op.batch_alter_table("work_order", schema=None) as batch_op:
        batch_op.drop_constraint("fk_work_order_parent", type_="foreignkey")
        batch_op.drop_column("parent_id")
        batch_op.drop_column("next_clock")
        batch_op.drop_column("next_due")
