"""The index of ``customer.name`` goes: no statement reads it

Search finds names through the name grams (PostgreSQL) and the full-text table (SQLite), and
lists customers by id; nothing filters or sorts ``customer`` by ``name``. The index still
cost every new customer an entry at a random place of a B-tree, and every renamed one a
second: 100,000 new customers of the 1M demo on PostgreSQL, inserted in one statement, took
3.9 s without it against 5.8 s with it (the name grams aside).

Revision ID: 0021_drop_customer_name_index
Revises: 0020_gram_insert_unchecked
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0021_drop_customer_name_index"
down_revision: str | None = "0020_gram_insert_unchecked"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_customer_name")


def downgrade() -> None:
    op.execute("CREATE INDEX IF NOT EXISTS ix_customer_name ON customer (name)")
