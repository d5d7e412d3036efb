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

**Search** (:func:`search_knowledge`) never scans with ``LIKE``: each process keeps an
inverted index per database, built from the active articles and the canned replies. Chinese
text is indexed as single characters and character pairs (bigrams), Latin text as words, so
a query of words — ``宽带 慢``, ``流量包``, ``停机保号``, ``broadband slow`` — matches the
articles that hold every piece (a Chinese piece of two or more characters matches where all
its pairs occur; the last Latin word of the query also matches as a prefix, for typing).
Hits are ranked by BM25 with the title weighted over the keywords over the body. Before each
search a cheap aggregate read (count, newest ``updated_at``, size of the canned replies, the
``knowledge`` change counter every sync raises) tells whether the tables changed; if so the
index is rebuilt, so edited articles and replies are found without a restart or a migration.

**Canned replies** (常用话术) are shipped in ``data/knowledge/replies.toml`` (``[[reply]]``
tables: ``code``, ``title``, ``text``, optional ``request_type``); :func:`sync_replies` brings
the ``canned_reply`` table in line with such a file, and they are indexed with the articles.
"""

from __future__ import annotations

import bisect
import math
import re
import threading
import tomllib
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from desk.infra.database import now_of, reads, writes
from desk.infra.errors import InvalidInput, NotFound
from desk.models import CannedReply, ChangeCounter, KnowledgeArticle
from desk.rules.permissions import Actor, Permission
from desk.services import audit
from desk.services.access import require
from desk.services.changes import Topic, bump

REQUIRED = ("code", "title", "category")
MAX_HITS = 50
FIELD_WEIGHTS = (3.0, 2.0, 1.0)  # title, keywords, body
BM25_K1 = 1.2
BM25_B = 0.75
MAX_PREFIX_TERMS = 64
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
    for article in articles:
        row = existing.pop(article.code, None)
        values = {
            "title": article.title[:120],
            "category": article.category[:32],
            "keywords": article.keywords[:400],
            "body": article.body,
        }
        if row is None:
            session.add(
                KnowledgeArticle(
                    code=article.code,
                    title=values["title"],
                    category=values["category"],
                    keywords=values["keywords"],
                    body=values["body"],
                    active=True,
                    updated_at=now,
                )
            )
            added += 1
        elif any(getattr(row, key) != value for key, value in values.items()) or not row.active:
            for key, value in values.items():
                setattr(row, key, value)
            row.active = True
            row.updated_at = now
            session.add(row)
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
                deactivated += 1
    report = SyncReport(added, updated, unchanged, deactivated)
    if added or updated or deactivated:
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
            session.delete(row)
            changed.append(reply)
            updated += 1
        else:
            unchanged += 1
    removed = 0
    if remove_missing:
        for row in existing.values():
            session.delete(row)
            removed += 1
    session.flush()  # the old rows go before their codes come back
    for reply in changed:
        session.add(
            CannedReply(
                code=reply.code, request_type=reply.request_type, title=reply.title, text=reply.text
            )
        )
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


# --- tokens ---------------------------------------------------------------------------------

_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[a-z0-9]+(?:[-'][a-z0-9]+)*")


def _is_cjk(run: str) -> bool:
    return run[0] > "\u2fff"


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def text_tokens(text: str) -> list[str]:
    """Index tokens of ``text``: CJK characters and character pairs, Latin words (a hyphenated
    word also gives its parts)."""
    tokens: list[str] = []
    for run in _RUN.findall(normalise(text)):
        if _is_cjk(run):
            tokens.extend(run)
            tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
        else:
            tokens.append(run)
            if "-" in run or "'" in run:
                tokens.extend(part for part in re.split(r"[-']", run) if part)
    return tokens


@dataclass(frozen=True, slots=True)
class _Piece:
    """One piece of a query: all of ``tokens`` must occur (CJK), or any of them (a Latin
    word and, when typed last, the words it begins)."""

    text: str
    tokens: tuple[str, ...]
    all_of: bool


def query_pieces(query: str, vocabulary: Sequence[str] = ()) -> list[_Piece]:
    text = normalise(query)
    runs = list(_RUN.finditer(text))
    pieces: list[_Piece] = []
    for index, match in enumerate(runs):
        run = match.group(0)
        if _is_cjk(run):
            grams = (run,) if len(run) == 1 else tuple(run[i : i + 2] for i in range(len(run) - 1))
            pieces.append(_Piece(run, tuple(dict.fromkeys(grams)), all_of=True))
            continue
        words = [run]
        typing = index == len(runs) - 1 and match.end() == len(text)
        if typing and vocabulary:
            start = bisect.bisect_left(vocabulary, run)
            for word in vocabulary[start : start + MAX_PREFIX_TERMS]:
                if not word.startswith(run):
                    break
                if word != run:
                    words.append(word)
        pieces.append(_Piece(run, tuple(words), all_of=False))
    return pieces


# --- the index ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KnowledgeHit:
    kind: str  # "article" | "canned"
    id: int
    code: str
    title: str
    category: str  # an article's category; a canned reply's request type or ""
    excerpt: str
    score: float


@dataclass(frozen=True, slots=True)
class _Doc:
    kind: str
    id: int
    code: str
    title: str
    category: str  # shown: an article's category, a canned reply's request type
    keywords: str  # indexed with the middle weight
    text: str  # the body or the reply text


class KnowledgeIndex:
    """An inverted index of documents: token → {document: weighted term frequency}."""

    def __init__(self, docs: Sequence[_Doc]) -> None:
        self.docs = tuple(docs)
        postings: dict[str, dict[int, float]] = defaultdict(dict)
        lengths: list[float] = []
        for number, doc in enumerate(self.docs):
            length = 0.0
            for weight, field_text in zip(
                FIELD_WEIGHTS, (doc.title, doc.keywords, doc.text), strict=True
            ):
                tokens = text_tokens(field_text)
                length += weight * len(tokens)
                for token in tokens:
                    row = postings[token]
                    row[number] = row.get(number, 0.0) + weight
            lengths.append(length)
        self.postings = dict(postings)
        self.lengths = lengths
        self.average = (sum(lengths) / len(lengths)) if lengths else 1.0
        self.vocabulary = sorted(token for token in self.postings if not _is_cjk(token))
        total = len(self.docs)
        self.idf = {
            token: math.log(1 + (total - len(row) + 0.5) / (len(row) + 0.5))
            for token, row in self.postings.items()
        }

    def _matching(self, piece: _Piece) -> set[int]:
        rows = [self.postings.get(token, {}) for token in piece.tokens]
        if piece.all_of:
            if not rows or any(not row for row in rows):
                return set()
            smallest = min(rows, key=len)
            return {doc for doc in smallest if all(doc in row for row in rows)}
        found: set[int] = set()
        for row in rows:
            found.update(row)
        return found

    def search(self, query: str, *, limit: int = 20, kind: str | None = None) -> list[KnowledgeHit]:
        pieces = query_pieces(query, self.vocabulary)
        if not pieces:
            return []
        matches = [self._matching(piece) for piece in pieces]
        every = set.intersection(*matches)
        candidates = every if every else set().union(*matches)
        if kind is not None:
            candidates = {doc for doc in candidates if self.docs[doc].kind == kind}
        if not candidates:
            return []
        scores: dict[int, float] = dict.fromkeys(candidates, 0.0)
        for piece in pieces:
            for token in piece.tokens:
                row = self.postings.get(token)
                if not row:
                    continue
                idf = self.idf[token]
                for doc in candidates:
                    tf = row.get(doc)
                    if tf:
                        norm = 1 - BM25_B + BM25_B * self.lengths[doc] / self.average
                        scores[doc] += idf * tf * (BM25_K1 + 1) / (tf + BM25_K1 * norm)
        ranked = sorted(candidates, key=lambda doc: (-scores[doc], self.docs[doc].code))
        return [self._hit(doc, scores[doc], pieces) for doc in ranked[:limit]]

    def _hit(self, number: int, score: float, pieces: Sequence[_Piece]) -> KnowledgeHit:
        doc = self.docs[number]
        return KnowledgeHit(
            kind=doc.kind,
            id=doc.id,
            code=doc.code,
            title=doc.title,
            category=doc.category,
            excerpt=excerpt(doc.text, [piece.text for piece in pieces]),
            score=round(score, 4),
        )


def excerpt(text: str, pieces: Iterable[str], width: int = EXCERPT_CHARS) -> str:
    """A line of ``text`` around the first place a piece of the query occurs."""
    lines = (line.strip().lstrip("#-* ") for line in text.splitlines())
    # Markdown table rules and pipes say nothing in a one-line excerpt
    cleaned = (re.sub(r"\s*\|\s*", " ", line).strip() for line in lines if line.strip("|-: "))
    flat = " ".join(line for line in cleaned if line)
    lowered = normalise(flat)
    positions = [lowered.find(piece) for piece in pieces if piece]
    found = [position for position in positions if position >= 0]
    start = max(0, min(found) - width // 4) if found else 0
    shown = flat[start : start + width]
    return ("…" if start else "") + shown + ("…" if start + width < len(flat) else "")


# --- one index per database, rebuilt when the tables change ---------------------------------

_lock = threading.Lock()
_indexes: dict[str, tuple[tuple[Any, ...], KnowledgeIndex]] = {}


def _fingerprint(session: Session) -> tuple[Any, ...]:
    articles = session.exec(
        select(
            func.count(),
            func.max(KnowledgeArticle.updated_at),
            func.max(KnowledgeArticle.id),
        ).where(col(KnowledgeArticle.active))
    ).one()
    inactive = session.exec(
        select(func.count()).where(col(KnowledgeArticle.active).is_(False))
    ).one()
    canned = session.exec(
        select(func.count(), func.max(CannedReply.id), func.sum(func.length(CannedReply.text)))
    ).one()
    synced = session.exec(
        select(ChangeCounter.value).where(ChangeCounter.name == Topic.KNOWLEDGE.value)
    ).first()
    return (*articles, inactive, *canned, synced)


def _load(session: Session) -> KnowledgeIndex:
    docs: list[_Doc] = []
    for row in session.exec(
        select(KnowledgeArticle)
        .where(col(KnowledgeArticle.active))
        .order_by(col(KnowledgeArticle.code))
    ).all():
        docs.append(
            _Doc(
                "article",
                row.id or 0,
                row.code,
                row.title,
                row.category,
                f"{row.category} {row.keywords}",
                row.body,
            )
        )
    for reply in session.exec(select(CannedReply).order_by(col(CannedReply.code))).all():
        kind = reply.request_type or ""
        docs.append(_Doc("canned", reply.id or 0, reply.code, reply.title, kind, kind, reply.text))
    return KnowledgeIndex(docs)


def index_for(session: Session) -> KnowledgeIndex:
    """This database's index, rebuilt when the articles or canned replies changed."""
    bind = session.get_bind()
    key = f"{id(bind)}:{bind.engine.url}"
    fingerprint = _fingerprint(session)
    with _lock:
        cached = _indexes.get(key)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
    index = _load(session)
    with _lock:
        _indexes[key] = (fingerprint, index)
    return index


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
    return KnowledgeResult(query, tuple(index_for(session).search(query, limit=limit, kind=kind)))


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
