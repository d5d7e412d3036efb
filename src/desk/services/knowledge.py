"""The knowledge base and canned replies: articles kept in the database, searched as you type.

**Articles** are Markdown files with a small front-matter (the shipped ones are in
``data/knowledge/``, the package ``desk.data``)::

    ---
    code: KB-PLAN-001
    title: 5G 套餐资费说明
    category: plan
    keywords: 5G, 套餐, 资费, 5g plan, tariff
    ---
    正文 (Markdown) …

:func:`sync_articles` brings the ``knowledge_article`` table in line with a folder (new
articles added, changed ones updated with a new ``updated_at``, unchanged ones left alone).

**Search** (:func:`search_knowledge`) never scans with ``LIKE``: each active article and
each canned reply is a row of ``knowledge_doc`` holding its title, keywords and text as index
terms (:mod:`desk.rules.terms`: Chinese as character pairs and characters, Latin text as
words), written in the same transaction as the article or reply, and read by the database's
own full-text index — FTS5 on SQLite, a weighted ``tsvector`` with a GIN index on PostgreSQL
(migration 0015). A query of words — ``宽带 慢``, ``流量包``, ``停机保号``, ``broadband slow`` —
matches the documents holding every piece (a Chinese piece as the phrase of its character
pairs; the last Latin word, while typed, also as a prefix), or, when none holds them all,
those holding any. Hits are ranked by the database (FTS5's BM25, PostgreSQL's ``ts_rank``),
the title weighted over the keywords over the body. Nothing is kept in the console's memory,
so an edited article or reply is found by every console at its next search, without a
restart or a migration.

**Canned replies** (常用话术) are shipped in ``data/knowledge/replies.toml`` (``[[reply]]``
tables: ``code``, ``title``, ``text``, optional ``request_type``); :func:`sync_replies` brings
the ``canned_reply`` table in line with such a file, and they are indexed with the articles.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Table,
    any_,
    bindparam,
    column,
    delete,
    func,
    insert,
    literal_column,
    table,
)
from sqlalchemy import (
    select as core_select,
)
from sqlmodel import Session, col, select

from desk.infra.database import now_of, reads, writes
from desk.infra.errors import InvalidInput, NotFound
from desk.models import CannedReply, KnowledgeArticle, KnowledgeDoc
from desk.rules.permissions import Actor, Permission
from desk.rules.terms import Piece, index_terms, normalise, query_pieces
from desk.services import audit
from desk.services.access import require
from desk.services.changes import Topic, bump

REQUIRED = ("code", "title", "category")
MAX_HITS = 50
PG_CANDIDATES = 200  # PostgreSQL: candidates ranked on their whole text (see _ranked)
EXCERPT_CHARS = 48


# --- articles as files ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Article:
    code: str
    title: str
    category: str
    keywords: str
    body: str


def parse_article(text: str, *, source: str = "article") -> Article:
    """One article from its Markdown text; ``ValueError`` names the file and what is wrong."""
    text = text.lstrip("\ufeff")
    if not text.startswith("---\n"):
        raise ValueError(f"{source}: no front-matter (the file must start with '---')")
    head, sep, body = text[4:].partition("\n---\n")
    if not sep:
        raise ValueError(f"{source}: the front-matter is not closed with '---'")
    fields: dict[str, str] = {}
    for number, line in enumerate(head.splitlines(), start=2):
        if not line.strip():
            continue
        key, colon, value = line.partition(":")
        if not colon:
            raise ValueError(f"{source}: line {number}: expected 'key: value'")
        fields[key.strip()] = value.strip()
    missing = [key for key in REQUIRED if not fields.get(key)]
    if missing:
        raise ValueError(f"{source}: missing {', '.join(missing)}")
    if not body.strip():
        raise ValueError(f"{source}: the article has no body")
    return Article(
        code=fields["code"],
        title=fields["title"],
        category=fields["category"],
        keywords=fields.get("keywords", ""),
        body=body.strip() + "\n",
    )


def shipped_articles() -> list[Article]:
    """Every article shipped in ``data/knowledge``, ordered by code."""
    folder = resources.files("desk.data").joinpath("knowledge")
    articles = [
        parse_article(entry.read_text(encoding="utf-8"), source=entry.name)
        for entry in folder.iterdir()
        if entry.name.endswith(".md")
    ]
    return sorted(articles, key=lambda article: article.code)


def folder_articles(folder: Path) -> list[Article]:
    """Every ``*.md`` article in ``folder``; ``InvalidInput`` names a bad file."""
    if not folder.is_dir():
        raise InvalidInput(f"{folder} is not a folder", field="folder")
    articles: list[Article] = []
    for path in sorted(folder.glob("*.md")):
        try:
            articles.append(parse_article(path.read_text(encoding="utf-8"), source=path.name))
        except (ValueError, UnicodeDecodeError) as error:
            raise InvalidInput(str(error), field=path.name) from error
    codes = [article.code for article in articles]
    twice = sorted({code for code in codes if codes.count(code) > 1})
    if twice:
        raise InvalidInput(f"codes used twice: {', '.join(twice)}", field="code")
    return articles


@dataclass(frozen=True, slots=True)
class SyncReport:
    added: int
    updated: int
    unchanged: int
    deactivated: int


@writes
def sync_articles(
    session: Session, *, actor: Actor, articles: Sequence[Article], deactivate_missing: bool
) -> SyncReport:
    """Bring the article table in line with ``articles`` (matched by code)."""
    require(session, actor, Permission.MANAGE_DATA)
    now = now_of(session)
    existing = {row.code: row for row in session.exec(select(KnowledgeArticle)).all()}
    added = updated = unchanged = 0
    touched: list[KnowledgeArticle] = []
    for article in articles:
        row = existing.pop(article.code, None)
        values = {
            "title": article.title[:120],
            "category": article.category[:32],
            "keywords": article.keywords[:400],
            "body": article.body,
        }
        if row is None:
            row = KnowledgeArticle(
                code=article.code,
                title=values["title"],
                category=values["category"],
                keywords=values["keywords"],
                body=values["body"],
                active=True,
                updated_at=now,
            )
            session.add(row)
            touched.append(row)
            added += 1
        elif any(getattr(row, key) != value for key, value in values.items()) or not row.active:
            for key, value in values.items():
                setattr(row, key, value)
            row.active = True
            row.updated_at = now
            session.add(row)
            touched.append(row)
            updated += 1
        else:
            unchanged += 1
    deactivated = 0
    if deactivate_missing:
        for row in existing.values():
            if row.active:
                row.active = False
                row.updated_at = now
                session.add(row)
                touched.append(row)
                deactivated += 1
    report = SyncReport(added, updated, unchanged, deactivated)
    if added or updated or deactivated:
        session.flush()  # the new rows' ids
        _unindex(session, "article", (row.id or 0 for row in touched))
        _index(session, [_article_doc(row) for row in touched if row.active])
        bump(session, Topic.KNOWLEDGE)
    audit.record(
        session,
        action="knowledge.sync",
        actor=actor,
        detail={
            "added": added,
            "updated": updated,
            "unchanged": unchanged,
            "deactivated": deactivated,
        },
    )
    return report


# --- canned replies as a file ---------------------------------------------------------------

REPLIES_FILE = "replies.toml"
REPLY_LIMITS = {"code": 24, "title": 120, "text": 2000}


@dataclass(frozen=True, slots=True)
class Reply:
    code: str
    request_type: str | None  # a RequestType value, or None for any call
    title: str
    text: str


def parse_replies(text: str, *, source: str = REPLIES_FILE) -> list[Reply]:
    """The ``[[reply]]`` tables of a replies file; ``ValueError`` names the file, the reply
    and what is wrong."""
    from desk.rules.vocab import RequestType

    try:
        data = tomllib.loads(text.lstrip("\ufeff"))
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{source}: {error}") from error
    unknown = sorted(set(data) - {"reply"})
    if unknown:
        raise ValueError(f"{source}: unknown table {', '.join(unknown)} (expected [[reply]])")
    entries = data.get("reply", [])
    if not isinstance(entries, list):
        raise ValueError(f"{source}: reply must be an array of tables ([[reply]])")
    kinds = {kind.value for kind in RequestType}
    replies: list[Reply] = []
    for number, entry in enumerate(entries, start=1):
        where = f"{source}: reply {number}"
        extra = sorted(set(entry) - {"code", "request_type", "title", "text"})
        if extra:
            raise ValueError(f"{where}: unknown key {', '.join(extra)}")
        values: dict[str, str] = {}
        for key, limit in REPLY_LIMITS.items():
            value = entry.get(key)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{where}: {key} is missing")
            if len(value.strip()) > limit:
                raise ValueError(f"{where}: {key} is longer than {limit} characters")
            values[key] = value.strip()
        kind = entry.get("request_type")
        if kind is not None and kind not in kinds:
            raise ValueError(
                f"{where}: request_type {kind!r} is not one of {', '.join(sorted(kinds))}"
            )
        replies.append(Reply(values["code"], kind, values["title"], values["text"]))
    codes = [reply.code for reply in replies]
    twice = sorted({code for code in codes if codes.count(code) > 1})
    if twice:
        raise ValueError(f"{source}: codes used twice: {', '.join(twice)}")
    return replies


def shipped_replies() -> list[Reply]:
    """The canned replies shipped in ``data/knowledge/replies.toml``."""
    entry = resources.files("desk.data").joinpath("knowledge", REPLIES_FILE)
    return parse_replies(entry.read_text(encoding="utf-8"))


def folder_replies(folder: Path) -> list[Reply] | None:
    """The replies file of ``folder``, or None when it has none; ``InvalidInput`` names a
    bad file."""
    path = folder / REPLIES_FILE
    if not path.is_file():
        return None
    try:
        return parse_replies(path.read_text(encoding="utf-8"), source=path.name)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput(str(error), field=path.name) from error


@writes
def sync_replies(
    session: Session, *, actor: Actor, replies: Sequence[Reply], remove_missing: bool
) -> SyncReport:
    """Bring the canned replies in line with ``replies`` (matched by code). A changed reply is
    stored as a new row, so every console's index sees the change at its next search."""
    require(session, actor, Permission.MANAGE_DATA)
    existing = {row.code: row for row in session.exec(select(CannedReply)).all()}
    added = updated = unchanged = 0
    changed: list[Reply] = []
    gone: list[int] = []
    for reply in replies:
        row = existing.pop(reply.code, None)
        if row is None:
            changed.append(reply)
            added += 1
        elif (row.request_type, row.title, row.text) != (
            reply.request_type,
            reply.title,
            reply.text,
        ):
            gone.append(row.id or 0)
            session.delete(row)
            changed.append(reply)
            updated += 1
        else:
            unchanged += 1
    removed = 0
    if remove_missing:
        for row in existing.values():
            gone.append(row.id or 0)
            session.delete(row)
            removed += 1
    session.flush()  # the old rows go before their codes come back
    _unindex(session, "canned", gone)
    new_rows = [
        CannedReply(
            code=reply.code, request_type=reply.request_type, title=reply.title, text=reply.text
        )
        for reply in changed
    ]
    session.add_all(new_rows)
    session.flush()  # their ids
    _index(session, [_reply_doc(row) for row in new_rows])
    report = SyncReport(added, updated, unchanged, removed)
    if changed or removed:
        bump(session, Topic.KNOWLEDGE)
    audit.record(
        session,
        action="knowledge.sync_replies",
        actor=actor,
        detail={"added": added, "updated": updated, "unchanged": unchanged, "removed": removed},
    )
    return report


# --- the index: the database's own full-text search ----------------------------------------

# Outside the metadata (migration 0015 makes them): FTS5 on SQLite, a tsvector column on PostgreSQL.
_FTS = table("knowledge_fts", column("rowid", Integer))
_FTS_NAME: ColumnElement[Any] = literal_column("knowledge_fts")
_VECTOR: ColumnElement[Any] = literal_column("knowledge_doc.search_vector")
_HEAD: ColumnElement[Any] = literal_column("knowledge_doc.head_vector")
_SIMPLE: ColumnElement[Any] = literal_column("'simple'::regconfig")
# ts_rank's weights for the labels D, C, B, A: body 1, keywords 2, title 3 (as FTS5's bm25 gets)
_PG_WEIGHTS: ColumnElement[Any] = literal_column("'{0.3333, 0, 0.6667, 1}'::float4[]")
_DOC: Table = KnowledgeDoc.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class KnowledgeHit:
    kind: str  # "article" | "canned"
    id: int
    code: str
    title: str
    category: str  # an article's category; a canned reply's request type or ""
    excerpt: str
    score: float


def _doc_row(kind: str, ref_id: int, title: str, keywords: str, text: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "ref_id": ref_id,
        "title_terms": index_terms(title),
        "keyword_terms": index_terms(keywords),
        "body_terms": index_terms(text),
    }


def _article_doc(row: KnowledgeArticle) -> dict[str, Any]:
    return _doc_row("article", row.id or 0, row.title, f"{row.category} {row.keywords}", row.body)


def _reply_doc(row: CannedReply) -> dict[str, Any]:
    kind = row.request_type or ""
    return _doc_row("canned", row.id or 0, row.title, kind, row.text)


def _unindex(session: Session, kind: str, ref_ids: Iterable[int]) -> None:
    ids = list(ref_ids)
    if ids:
        session.execute(delete(_DOC).where(_DOC.c.kind == kind, _DOC.c.ref_id.in_(ids)))


def _index(session: Session, docs: Sequence[dict[str, Any]]) -> None:
    if docs:
        session.execute(insert(_DOC), list(docs))


def rebuild_index(connection: Connection) -> int:
    """Index every active article and canned reply afresh (a demo writes the tables directly);
    returns how many documents."""
    connection.execute(delete(_DOC))
    a = KnowledgeArticle.__table__.c  # type: ignore[attr-defined]
    r = CannedReply.__table__.c  # type: ignore[attr-defined]
    docs = [
        _doc_row("article", row.id, row.title, f"{row.category} {row.keywords}", row.body)
        for row in connection.execute(
            core_select(a.id, a.title, a.category, a.keywords, a.body)
            .where(a.active.is_(True))
            .order_by(a.code)
        )
    ]
    docs += [
        _doc_row("canned", row.id, row.title, row.request_type or "", row.text)
        for row in connection.execute(
            core_select(r.id, r.request_type, r.title, r.text).order_by(r.code)
        )
    ]
    if docs:
        connection.execute(insert(_DOC), docs)
    return len(docs)


def _sqlite_match(pieces: Sequence[Piece], joiner: str, kind: str | None) -> str:
    """An FTS5 query: each piece a quoted phrase (terms hold no quotes), a prefix marked; a
    kind asked for is one more phrase, on the ``kind`` column (weighted 0 in the rank)."""
    text = f" {joiner} ".join(
        '"' + " ".join(piece.terms) + '"' + (" *" if piece.prefix else "") for piece in pieces
    )
    return f'({text}) AND kind : "{kind}"' if kind else text


def _pg_query(pieces: Sequence[Piece], joiner: str, *, phrase: bool) -> str:
    """A ``to_tsquery`` text: each piece its terms joined by ``<->`` (a phrase) or ``&``
    (terms are letters and digits only, so nothing in them is tsquery syntax), a prefix
    marked ``:*``."""
    parts = []
    for piece in pieces:
        terms = list(piece.terms)
        if piece.prefix:
            terms[-1] += ":*"
        parts.append("(" + (" <-> " if phrase else " & ").join(terms) + ")")
    return f" {joiner} ".join(parts)


def _ranked(
    session: Session, pieces: Sequence[Piece], *, every: bool, limit: int, kind: str | None
) -> list[tuple[int, float]]:
    """(doc id, score) of the best documents, best first.

    SQLite: the rank is taken in the FTS5 table alone (joined to ``knowledge_doc`` per match
    it took several times longer). PostgreSQL: ranking reads each candidate's vector (a few
    kilobytes, stored out of line), so the candidates holding every term are first ordered by
    their small title-and-keywords vector, and only the best :data:`PG_CANDIDATES` are
    checked as phrases and ranked on the whole text (one statement; the planner reads those
    by primary key).
    """
    d = _DOC.c
    score: ColumnElement[Any]
    if session.get_bind().dialect.name == "sqlite":
        score = -func.bm25(_FTS_NAME, 3.0, 2.0, 1.0, 0.0)
        match = _sqlite_match(pieces, "AND" if every else "OR", kind)
        statement = (
            core_select(_FTS.c.rowid, score.label("score"))
            .where(_FTS_NAME.op("MATCH")(bindparam("q", match)))
            .order_by(literal_column("score").desc(), _FTS.c.rowid)
            .limit(limit)
        )
        return [(row[0], float(row[1])) for row in session.execute(statement)]
    joiner = "&" if every else "|"
    terms = func.to_tsquery(_SIMPLE, bindparam("terms", _pg_query(pieces, joiner, phrase=False)))
    first = (
        core_select(d.id)
        .where(_VECTOR.op("@@")(terms))
        .order_by(func.ts_rank(_PG_WEIGHTS, _HEAD, terms, 0).desc(), d.id)
        .limit(PG_CANDIDATES)
    )
    if kind is not None:
        first = first.where(d.kind == kind)
    phrases = func.to_tsquery(_SIMPLE, bindparam("phrases", _pg_query(pieces, joiner, phrase=True)))
    score = func.ts_rank(_PG_WEIGHTS, _VECTOR, phrases, 1)
    # The candidates as one array (an init plan, run once), not IN (subquery): the planner,
    # underestimating how many documents hold the terms, joined the subquery by hashing
    # every one of them and read each one's whole vector for the phrase check (1,951
    # documents, 7,000 buffers and 12 ms for 服务密码 over 10,000 articles); with = ANY of an
    # array it reads the 200 candidates by primary key.
    candidates = first.subquery()
    chosen = func.coalesce(  # an expression, so ANY reads it as one array, not a row set
        core_select(func.array_agg(candidates.c.id)).scalar_subquery(),
        literal_column("'{}'::integer[]"),
    )
    statement = (
        core_select(d.id, score.label("score"))
        .where(d.id == any_(chosen), _VECTOR.op("@@")(phrases))
        .order_by(literal_column("score").desc(), d.id)
        .limit(limit)
    )
    return [(row[0], float(row[1])) for row in session.execute(statement)]


def _search(session: Session, query: str, *, limit: int, kind: str | None) -> list[KnowledgeHit]:
    pieces = query_pieces(query)
    if not pieces:
        return []
    ranked = _ranked(session, pieces, every=True, limit=limit, kind=kind)
    if not ranked and len(pieces) > 1:  # no document holds every piece: those holding any
        ranked = _ranked(session, pieces, every=False, limit=limit, kind=kind)
    if not ranked:
        return []
    d = _DOC.c
    refs = {
        row.id: (row.kind, row.ref_id)
        for row in session.execute(
            core_select(d.id, d.kind, d.ref_id).where(d.id.in_([doc for doc, _ in ranked]))
        )
    }
    article_ids = [ref for doc_kind, ref in refs.values() if doc_kind == "article"]
    reply_ids = [ref for doc_kind, ref in refs.values() if doc_kind == "canned"]
    shown: dict[tuple[str, int], tuple[str, str, str, str]] = {}
    if article_ids:
        for article in session.exec(
            select(KnowledgeArticle).where(col(KnowledgeArticle.id).in_(article_ids))
        ):
            shown["article", article.id or 0] = (
                article.code,
                article.title,
                article.category,
                article.body,
            )
    if reply_ids:
        for reply in session.exec(select(CannedReply).where(col(CannedReply.id).in_(reply_ids))):
            shown["canned", reply.id or 0] = (
                reply.code,
                reply.title,
                reply.request_type or "",
                reply.text,
            )
    words = [piece.text for piece in pieces]
    hits = []
    for doc, score in ranked:
        doc_kind, ref = refs[doc]
        code, title, category, text = shown[doc_kind, ref]
        hits.append(
            KnowledgeHit(
                doc_kind, ref, code, title, category, excerpt(text, words), round(score, 4)
            )
        )
    return hits


def excerpt(text: str, pieces: Iterable[str], width: int = EXCERPT_CHARS) -> str:
    """A line of ``text`` around the first place a piece of the query occurs."""
    # Markdown marks, table rules and pipes say nothing in a one-line excerpt
    lines = (line.strip().lstrip("#-* ") for line in text.splitlines() if line.strip("|-: "))
    flat = " ".join(" ".join(line.replace("|", " ").split()) for line in lines)
    lowered = normalise(flat)
    positions = [lowered.find(piece) for piece in pieces if piece]
    found = [position for position in positions if position >= 0]
    start = max(0, min(found) - width // 4) if found else 0
    shown = flat[start : start + width]
    return ("…" if start else "") + shown + ("…" if start + width < len(flat) else "")


@dataclass(frozen=True, slots=True)
class KnowledgeResult:
    query: str
    hits: tuple[KnowledgeHit, ...]


@reads
def search_knowledge(
    session: Session, *, actor: Actor, query: str, limit: int = 20, kind: str | None = None
) -> KnowledgeResult:
    """Articles and canned replies for ``query`` (``kind``: only ``article`` or ``canned``)."""
    require(session, actor, None)
    if not 1 <= limit <= MAX_HITS:
        raise InvalidInput(f"must be between 1 and {MAX_HITS}", field="limit")
    if kind not in (None, "article", "canned"):
        raise InvalidInput("must be article or canned", field="kind")
    if not (query or "").strip():
        return KnowledgeResult(query, ())
    return KnowledgeResult(query, tuple(_search(session, query, limit=limit, kind=kind)))


@dataclass(frozen=True, slots=True)
class ArticleView:
    id: int
    code: str
    title: str
    category: str
    keywords: str
    body: str


@reads
def read_article(session: Session, *, actor: Actor, article_id: int) -> ArticleView:
    require(session, actor, None)
    row = session.get(KnowledgeArticle, article_id)
    if row is None or not row.active:
        raise NotFound(f"no article {article_id}")
    return ArticleView(row.id or 0, row.code, row.title, row.category, row.keywords, row.body)


@reads
def canned_reply_text(session: Session, *, actor: Actor, reply_id: int) -> str:
    require(session, actor, None)
    row = session.get(CannedReply, reply_id)
    if row is None:
        raise NotFound(f"no canned reply {reply_id}")
    return row.text
