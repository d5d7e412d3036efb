"""The knowledge base: articles about plans, tariffs and procedures; canned replies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel


class KnowledgeArticle(SQLModel, table=True):
    __tablename__ = "knowledge_article"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=24, unique=True)
    title: str = Field(max_length=120)
    category: str = Field(max_length=32, index=True)  # plan | tariff | procedure | fault | ...
    keywords: str = Field(default="", max_length=400)
    body: str
    active: bool = True
    updated_at: datetime


class CannedReply(SQLModel, table=True):
    __tablename__ = "canned_reply"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=24, unique=True)
    request_type: str | None = Field(default=None, max_length=24)  # RequestType
    title: str = Field(max_length=120)
    text: str = Field(max_length=2000)


class KnowledgeDoc(SQLModel, table=True):
    """One searchable document (an active article or a canned reply) as index terms: the
    text's CJK character pairs and characters and its Latin words, space-separated
    (:func:`desk.services.knowledge.index_terms`). The full-text index over these columns
    lives outside the metadata (migration 0015): FTS5 on SQLite, a weighted ``tsvector``
    column with a GIN index on PostgreSQL."""

    __tablename__ = "knowledge_doc"
    __table_args__ = (UniqueConstraint("kind", "ref_id", name="uq_knowledge_doc_ref"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=8)  # article | canned
    ref_id: int  # the article's or the canned reply's id
    title_terms: str
    keyword_terms: str
    body_terms: str
