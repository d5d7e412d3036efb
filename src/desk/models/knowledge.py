"""The knowledge base: articles about plans, tariffs and procedures; canned replies."""

from __future__ import annotations

from datetime import datetime

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
