"""customer search on PostgreSQL: byte-ordered range indexes and a name-gram index

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 12:00:00

Prefix ranges (``x >= p AND x < p || U+10FFFF``) are contiguous and index-served only under
a byte-wise collation; a database created with a language collation (``en_US.UTF-8``,
``zh_CN.UTF-8``) would neither keep them contiguous nor use the plain indexes of 0001. Each
range index here is on ``(column COLLATE "C", id)``, so a page is read in index order and the
scan stops after ``limit`` rows.

Name fragments: a GIN index answers "which rows" but not "in which order", so a fragment
matching 50,000 customers had to fetch and sort all of them (or recompute ``to_tsvector``
row by row). ``customer_name_gram`` holds every 1-, 2- and 3-character run of each name
(separators removed; the same tokens FTS5 sees on SQLite) with the customer id, under a
primary key ``(gram, customer_id)``: a fragment of up to 3 characters is one index range
already in customer-id order. Triggers keep it in step: a statement trigger with a
transition table for inserts (bulk loads and COPY stay set-based), a row trigger for renames,
a row trigger for deletes (by primary key), and a truncate trigger.

SQLite needs none of this: its indexes end with the rowid (the id) and compare bytes, and
FTS5 (0001) returns rowids in order.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RANGE_INDEXES = (
    ("ix_customer_phone_rev_c", "customer_phone", "phone_rev"),
    ("ix_customer_id_card_rev_c", "customer", "id_card_rev"),
    ("ix_customer_name_initials_c", "customer", "name_initials"),
    ("ix_customer_name_pinyin_c", "customer", "name_pinyin"),
)

NAME_GRAMS = r"""
CREATE FUNCTION desk_name_grams(spaced text) RETURNS SETOF text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH chars AS (
        SELECT c, n
        FROM unnest(string_to_array(regexp_replace(spaced, '[[:space:]·•]+', '', 'g'), NULL))
             WITH ORDINALITY AS u(c, n)
    )
    SELECT a.c FROM chars a
    UNION
    SELECT a.c || b.c FROM chars a JOIN chars b ON b.n = a.n + 1
    UNION
    SELECT a.c || b.c || d.c FROM chars a
        JOIN chars b ON b.n = a.n + 1
        JOIN chars d ON d.n = a.n + 2
$$
"""

TABLE = """
CREATE TABLE customer_name_gram (
    gram text COLLATE "C" NOT NULL,
    customer_id integer NOT NULL,
    PRIMARY KEY (gram, customer_id)
)
"""

FUNCTIONS = (
    """
CREATE FUNCTION customer_name_gram_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customer_name_gram (gram, customer_id)
    SELECT g.gram, n.id FROM new_rows n CROSS JOIN LATERAL desk_name_grams(n.name_spaced) AS g(gram)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$
""",
    """
CREATE FUNCTION customer_name_gram_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM customer_name_gram
     WHERE customer_id = OLD.id AND gram IN (SELECT desk_name_grams(OLD.name_spaced));
    INSERT INTO customer_name_gram (gram, customer_id)
    SELECT g, NEW.id FROM desk_name_grams(NEW.name_spaced) AS g
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$
""",
    """
CREATE FUNCTION customer_name_gram_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM customer_name_gram
     WHERE customer_id = OLD.id AND gram IN (SELECT desk_name_grams(OLD.name_spaced));
    RETURN NULL;
END
$$
""",
    """
CREATE FUNCTION customer_name_gram_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE customer_name_gram;
    RETURN NULL;
END
$$
""",
)

TRIGGERS = (
    "CREATE TRIGGER customer_name_gram_ai AFTER INSERT ON customer "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION customer_name_gram_inserted()",
    "CREATE TRIGGER customer_name_gram_au AFTER UPDATE OF name_spaced ON customer "
    "FOR EACH ROW WHEN (OLD.name_spaced IS DISTINCT FROM NEW.name_spaced) "
    "EXECUTE FUNCTION customer_name_gram_renamed()",
    "CREATE TRIGGER customer_name_gram_ad AFTER DELETE ON customer "
    "FOR EACH ROW EXECUTE FUNCTION customer_name_gram_deleted()",
    "CREATE TRIGGER customer_name_gram_at AFTER TRUNCATE ON customer "
    "FOR EACH STATEMENT EXECUTE FUNCTION customer_name_gram_truncated()",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, table, column in RANGE_INDEXES:
        op.execute(f'CREATE INDEX {name} ON {table} ({column} COLLATE "C", id)')
    op.execute(NAME_GRAMS)
    op.execute(TABLE)
    for ddl in FUNCTIONS:
        op.execute(ddl)
    for ddl in TRIGGERS:
        op.execute(ddl)
    op.execute(
        "INSERT INTO customer_name_gram (gram, customer_id) "
        "SELECT g, c.id FROM customer c CROSS JOIN LATERAL desk_name_grams(c.name_spaced) AS g "
        "ON CONFLICT DO NOTHING"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in ("at", "ad", "au", "ai"):
        op.execute(f"DROP TRIGGER IF EXISTS customer_name_gram_{name} ON customer")
    for function in ("truncated", "deleted", "renamed", "inserted"):
        op.execute(f"DROP FUNCTION IF EXISTS customer_name_gram_{function}()")
    op.execute("DROP TABLE IF EXISTS customer_name_gram")
    op.execute("DROP FUNCTION IF EXISTS desk_name_grams(text)")
    for name, _table, _column in RANGE_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
