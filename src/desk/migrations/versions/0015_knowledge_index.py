"""The knowledge base searched by the database: ``knowledge_doc`` holds each active article and
canned reply as index terms (:mod:`desk.rules.terms`), read by the database's own full-text
index — SQLite: an external-content FTS5 table (``unicode61``) kept in step by triggers;
PostgreSQL: a stored, weighted ``tsvector`` column (title A, keywords B, body D) under a GIN
index, and a small one of the title and keywords alone (ranked first, read inline: the large
vector is read only for the best candidates). It replaces an index every console built in
memory (about 2 GB over 10,000 articles). The existing articles and replies are indexed here.

Revision ID: 0015_knowledge_index
Revises: 0014_surname_readings
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_knowledge_index"
down_revision: str | None = "0014_surname_readings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ARTICLE = sa.table(
    "knowledge_article",
    sa.column("id", sa.Integer),
    sa.column("code", sa.String),
    sa.column("title", sa.String),
    sa.column("category", sa.String),
    sa.column("keywords", sa.String),
    sa.column("body", sa.Text),
    sa.column("active", sa.Boolean),
)
_REPLY = sa.table(
    "canned_reply",
    sa.column("id", sa.Integer),
    sa.column("code", sa.String),
    sa.column("request_type", sa.String),
    sa.column("title", sa.String),
    sa.column("text", sa.Text),
)
_DOC = sa.table(
    "knowledge_doc",
    sa.column("kind", sa.String),
    sa.column("ref_id", sa.Integer),
    sa.column("title_terms", sa.Text),
    sa.column("keyword_terms", sa.Text),
    sa.column("body_terms", sa.Text),
)

_HEAD = (
    "setweight(to_tsvector('simple'::regconfig, title_terms), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, keyword_terms), 'B')"
)
_VECTOR = (
    "setweight(to_tsvector('simple'::regconfig, title_terms), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, keyword_terms), 'B') || "
    "setweight(to_tsvector('simple'::regconfig, body_terms), 'D')"
)


def upgrade() -> None:
    op.create_table(
        "knowledge_doc",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("ref_id", sa.Integer(), nullable=False),
        sa.Column("title_terms", sa.String(), nullable=False),
        sa.Column("keyword_terms", sa.String(), nullable=False),
        sa.Column("body_terms", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "ref_id", name="uq_knowledge_doc_ref"),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE knowledge_fts USING fts5(title_terms, keyword_terms, "
            "body_terms, kind, content='knowledge_doc', content_rowid='id', tokenize='unicode61')"
        )
        op.execute(
            "CREATE TRIGGER knowledge_fts_ai AFTER INSERT ON knowledge_doc BEGIN "
            "INSERT INTO knowledge_fts(rowid, title_terms, keyword_terms, body_terms, kind) "
            "VALUES (new.id, new.title_terms, new.keyword_terms, new.body_terms, new.kind); END"
        )
        op.execute(
            "CREATE TRIGGER knowledge_fts_ad AFTER DELETE ON knowledge_doc BEGIN "
            "INSERT INTO knowledge_fts(knowledge_fts, rowid, title_terms, keyword_terms, "
            "body_terms, kind) VALUES ('delete', old.id, old.title_terms, old.keyword_terms, "
            "old.body_terms, old.kind); END"
        )
        op.execute(
            "CREATE TRIGGER knowledge_fts_au AFTER UPDATE ON knowledge_doc BEGIN "
            "INSERT INTO knowledge_fts(knowledge_fts, rowid, title_terms, keyword_terms, "
            "body_terms, kind) VALUES ('delete', old.id, old.title_terms, old.keyword_terms, "
            "old.body_terms, old.kind); "
            "INSERT INTO knowledge_fts(rowid, title_terms, keyword_terms, body_terms, kind) "
            "VALUES (new.id, new.title_terms, new.keyword_terms, new.body_terms, new.kind); END"
        )
    else:
        op.execute(
            "ALTER TABLE knowledge_doc ADD COLUMN search_vector tsvector "
            f"GENERATED ALWAYS AS ({_VECTOR}) STORED"
        )
        op.execute(
            "ALTER TABLE knowledge_doc ADD COLUMN head_vector tsvector "
            f"GENERATED ALWAYS AS ({_HEAD}) STORED"
        )
        op.execute(
            "CREATE INDEX ix_knowledge_doc_search ON knowledge_doc USING gin (search_vector)"
        )
    _index_existing()


def _index_existing() -> None:
    from desk.rules.terms import index_terms  # here: the schema check reads this file

    connection = op.get_bind()
    rows: list[dict[str, object]] = []
    a = _ARTICLE.c
    for article in connection.execute(
        sa.select(a.id, a.title, a.category, a.keywords, a.body).where(a.active).order_by(a.code)
    ):
        rows.append(
            {
                "kind": "article",
                "ref_id": article.id,
                "title_terms": index_terms(article.title),
                "keyword_terms": index_terms(f"{article.category} {article.keywords}"),
                "body_terms": index_terms(article.body),
            }
        )
    r = _REPLY.c
    for reply in connection.execute(
        sa.select(r.id, r.request_type, r.title, r.text).order_by(r.code)
    ):
        rows.append(
            {
                "kind": "canned",
                "ref_id": reply.id,
                "title_terms": index_terms(reply.title),
                "keyword_terms": index_terms(reply.request_type or ""),
                "body_terms": index_terms(reply.text),
            }
        )
    if rows:
        connection.execute(sa.insert(_DOC), rows)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("knowledge_fts_ai", "knowledge_fts_ad", "knowledge_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS knowledge_fts")
    op.drop_table("knowledge_doc")
