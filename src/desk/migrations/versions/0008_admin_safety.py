"""desk's own actors as real users, and an audit log that refuses UPDATE and DELETE.

- ``staff_user.is_system`` and two rows: ``system`` (id 0, the scheduled jobs) and ``shell``
  (id -1, the admin at the command line), admins without a password.
- ``audit_log``: triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL).

Revision ID: 0008_admin_safety
Revises: 0007_shift_floor
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0008_admin_safety"
down_revision: str | None = "0007_shift_floor"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SYSTEM_USERS = (
    (0, "system", "desk (scheduled jobs)"),
    (-1, "shell", "desk (admin command line)"),
)
NO_PASSWORD = "!"  # not an argon2 hash: nothing verifies against it

SQLITE_TRIGGERS = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: rows cannot be changed'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: rows cannot be deleted'); END",
)
POSTGRES_TRIGGERS = (
    "CREATE FUNCTION desk_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP "
    "USING ERRCODE = 'insufficient_privilege'; END $$",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION desk_audit_log_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION desk_audit_log_append_only()",
)


def upgrade() -> None:
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_system", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    staff = sa.table(
        "staff_user",
        sa.column("id", sa.Integer),
        sa.column("login", sa.String),
        sa.column("display_name", sa.String),
        sa.column("role", sa.String),
        sa.column("password_hash", sa.String),
        sa.column("active", sa.Boolean),
        sa.column("is_system", sa.Boolean),
        sa.column("failed_logins", sa.Integer),
        sa.column("created_at", sa.DateTime),
    )
    now = datetime.now(UTC)
    if op.get_bind().dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # stored as naive UTC text, like UTCDateTime does
    op.bulk_insert(
        staff,
        [
            {
                "id": user_id,
                "login": login,
                "display_name": name,
                "role": "admin",
                "password_hash": NO_PASSWORD,
                "active": True,
                "is_system": True,
                "failed_logins": 0,
                "created_at": now,
            }
            for user_id, login, name in SYSTEM_USERS
        ],
    )
    for statement in (
        SQLITE_TRIGGERS if op.get_bind().dialect.name == "sqlite" else POSTGRES_TRIGGERS
    ):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS desk_audit_log_append_only()")
    op.execute("DELETE FROM staff_user WHERE is_system")
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.drop_column("is_system")
