"""Customer lookup: what a query means, and pages of customers found by keyset.

**What a query means** (:func:`classify_query`, pure). The text is NFKC-normalised (full-width
digits and letters become ASCII); spaces, hyphens and parentheses are ignored; letters are
matched case-insensitively.

============================================  ===============================================
query                                         kinds, in display order
============================================  ===============================================
``WO`` + digits                               work-order number (exact) → its customer
1–n CJK characters (``·`` allowed)            name fragment (characters in this order)
11 digits starting with ``1`` (``+86`` ok)    exact phone (mobile)
``0`` + 9–11 digits                           exact phone (fixed line, ``010-88886666`` too)
4–12 digits                                   phone suffix, then ID-card tail
13–18 digits, or 4–18 ending in ``X``         ID-card tail
8+ digits (besides the above)                 customer number (exact) comes first
1–4 letters + 3+ digits                       customer number (exact)
2–4 Latin letters                             pinyin initials, then full pinyin
5+ Latin letters                              full pinyin, then pinyin initials
anything else (one letter, 1–3 digits, ...)   nothing: an empty page, never a scan
============================================  ===============================================

**Order and paging.** Each kind is a stream with its own stable order, chosen so that an index
delivers the rows already sorted and a page stops after ``limit`` rows: phone suffix by
``(phone_rev, phone id)``, ID tail by ``(id_card_rev, id)``, initials by
``(name_initials, id)``, full pinyin by ``(name_pinyin, id)``, name fragment by customer id
(the order FTS5 returns rowids in), the exact kinds by customer id. A query of several kinds
shows its streams one after the other in the order above; a customer matched by an earlier
stream is left out of the later ones, so each customer appears once, under the first kind
that matched. A cursor names a stream and a key within it; paging never uses OFFSET and
never reads the whole match set.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from desk.infra.database import reads
from desk.infra.errors import InvalidInput
from desk.rules.masking import mask_id_card, mask_name, mask_phone
from desk.rules.names import has_cjk, prefix_upper_bound, reverse
from desk.rules.permissions import Actor, Permission
from desk.services.access import require

MAX_LIMIT = 200
MIN_SUFFIX_DIGITS = 4


class SearchKind(StrEnum):
    PHONE_EXACT = "phone_exact"
    PHONE_SUFFIX = "phone_suffix"
    ID_SUFFIX = "id_suffix"
    NAME_FRAGMENT = "name_fragment"
    PINYIN_INITIALS = "pinyin_initials"
    PINYIN_FULL = "pinyin_full"
    WORK_ORDER = "work_order"
    CUSTOMER_NO = "customer_no"


@dataclass(frozen=True, slots=True)
class CustomerHit:
    id: int
    customer_no: str
    name_masked: str
    phone_masked: str | None
    id_card_masked: str
    tier: str
    big_customer_class: str | None
    status: str
    region: str
    arrears_cents: int
    matched_by: SearchKind


@dataclass(frozen=True, slots=True)
class SearchPage:
    query: str
    kinds: tuple[SearchKind, ...]
    hits: tuple[CustomerHit, ...]
    next_cursor: str | None
    prev_cursor: str | None


# --- what a query means -------------------------------------------------------------------

_IGNORED = re.compile(r"[\s\-()]+")
_WORK_ORDER = re.compile(r"^WO[0-9]{4,}$", re.IGNORECASE)
_CUSTOMER_NO = re.compile(r"^[A-Za-z]{1,4}[0-9]{3,}$")
_LATIN = re.compile(r"^[A-Za-z]+$")
_DIGITS_X = re.compile(r"^[0-9]+[Xx]?$")
_MOBILE = re.compile(r"^1[0-9]{10}$")
_FIXED_LINE = re.compile(r"^0[0-9]{9,11}$")
_NAME_CHARS = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff·•]+$")
_NAME_SEPARATORS = "·•"


@dataclass(frozen=True, slots=True)
class _Query:
    """A query brought to the forms its kinds compare with."""

    kinds: tuple[SearchKind, ...]
    compact: str = ""  # without spaces, hyphens, parentheses
    digits: str = ""  # phone-like: without a +86 / 0086 country code
    fragment: str = ""  # CJK fragment without separators


def _phone_digits(compact: str) -> str:
    for prefix in ("+86", "0086"):
        if compact.startswith(prefix) and len(compact) - len(prefix) == 11:
            return compact[len(prefix) :]
    return compact


def _interpret(text_: str) -> _Query:
    # NFKC: full-width digits and letters typed through a Chinese IME become ASCII
    compact = _IGNORED.sub("", unicodedata.normalize("NFKC", text_ or ""))
    if not compact:
        return _Query(())
    if _WORK_ORDER.match(compact):
        return _Query((SearchKind.WORK_ORDER,), compact=compact.upper())
    if _NAME_CHARS.match(compact) and has_cjk(compact):
        fragment = "".join(char for char in compact if char not in _NAME_SEPARATORS)
        return _Query((SearchKind.NAME_FRAGMENT,), compact=compact, fragment=fragment)
    if _LATIN.match(compact):
        lowered = compact.lower()
        if len(lowered) < 2:
            return _Query(())
        latin = (
            (SearchKind.PINYIN_INITIALS, SearchKind.PINYIN_FULL)
            if len(lowered) <= 4
            else (SearchKind.PINYIN_FULL, SearchKind.PINYIN_INITIALS)
        )
        return _Query(latin, compact=lowered)
    if _CUSTOMER_NO.match(compact):
        return _Query((SearchKind.CUSTOMER_NO,), compact=compact)
    digits = _phone_digits(compact)
    if not _DIGITS_X.match(digits):
        return _Query(())
    if _MOBILE.match(digits) or _FIXED_LINE.match(digits):
        return _Query((SearchKind.PHONE_EXACT,), compact=compact, digits=digits)
    upper = digits.upper()
    if len(upper) < MIN_SUFFIX_DIGITS or len(upper) > 18:
        return _Query(())
    kinds: list[SearchKind] = []
    if upper.isdigit() and len(upper) >= 8:
        kinds.append(SearchKind.CUSTOMER_NO)
    if upper.isdigit() and len(upper) <= 12:
        kinds.append(SearchKind.PHONE_SUFFIX)
    kinds.append(SearchKind.ID_SUFFIX)
    return _Query(tuple(kinds), compact=upper, digits=upper)


def classify_query(text: str) -> tuple[SearchKind, ...]:
    """The kinds of search ``text`` means, in display order (empty: it means nothing)."""
    return _interpret(text).kinds


def _fixed_line_forms(digits: str) -> list[str]:
    """``01088886666`` is also stored as ``010-88886666``: area codes are 3 or 4 digits."""
    if not digits.startswith("0"):
        return []
    area = 3 if digits[1] in "12" else 4
    return [f"{digits[:area]}-{digits[area:]}"]


_DETAIL_COLUMNS = (
    "c.customer_no, c.name, c.id_card_no, c.tier, c.big_customer_class, c.status, c.region, "
    "c.arrears_cents, (SELECT x.phone FROM customer_phone x WHERE x.customer_id = c.id "
    "ORDER BY x.is_primary DESC, x.id LIMIT 1) AS primary_phone"
)

# --- streams: one per kind ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Row:
    key: tuple[Any, ...]
    customer_id: int
    phone: str | None
    details: tuple[Any, ...]  # the columns of _DETAIL_COLUMNS


@dataclass(frozen=True, slots=True)
class _Sql:
    """A fragment of SQL and its bound values."""

    sql: str
    params: dict[str, Any] = field(default_factory=dict)


def _c(expression: str, dialect: str) -> str:
    """A text expression compared byte-wise (so a prefix range is contiguous and indexed)."""
    return f'{expression} COLLATE "C"' if dialect == "postgresql" else expression


class _Stream:
    """The rows of one kind, in one stable order, read by keyset from either end."""

    kind: SearchKind
    key_size = 1

    def __init__(self, query: _Query, tag: str, dialect: str) -> None:
        self.query = query
        self.tag = tag  # prefix of this stream's bound parameter names
        self.dialect = dialect

    def p(self, name: str) -> str:
        return f"{self.tag}_{name}"

    def matches(self, customer: str) -> _Sql:
        """A predicate on the customer row ``customer``: does this stream match it?"""
        raise NotImplementedError

    def fetch(
        self,
        session: Session,
        *,
        key: tuple[Any, ...] | None,
        forward: bool,
        limit: int,
        exclude: Sequence[_Stream],
    ) -> list[_Row]:
        raise NotImplementedError

    # helpers for the concrete streams

    def _keyset(self, columns: Sequence[str], key: tuple[Any, ...] | None, forward: bool) -> _Sql:
        """Rows strictly after (or before) ``key`` in the order of ``columns``.

        Written as ``a >= k0 AND (a > k0 OR b > k1)`` so every planner starts the index
        range at ``k0``; only the few rows equal on ``a`` are filtered.
        """
        if key is None:
            return _Sql("1=1")
        gt, ge = (">", ">=") if forward else ("<", "<=")
        params = {self.p(f"k{index}"): value for index, value in enumerate(key)}
        if len(columns) == 1:
            return _Sql(f"{columns[0]} {gt} :{self.p('k0')}", params)
        first, second = columns
        sql = (
            f"{first} {ge} :{self.p('k0')} AND ({first} {gt} :{self.p('k0')} "
            f"OR {second} {gt} :{self.p('k1')})"
        )
        return _Sql(sql, params)

    @staticmethod
    def _exclusions(exclude: Sequence[_Stream], customer: str) -> _Sql:
        parts: list[str] = []
        params: dict[str, Any] = {}
        for other in exclude:
            predicate = other.matches(customer)
            parts.append(f"NOT ({predicate.sql})")
            params.update(predicate.params)
        return _Sql(" AND ".join(parts) if parts else "1=1", params)

    @staticmethod
    def _order(columns: Sequence[str], forward: bool) -> str:
        direction = "" if forward else " DESC"
        return ", ".join(f"{column}{direction}" for column in columns)

    def _run(
        self,
        session: Session,
        sql: str,
        params: dict[str, Any],
        *,
        forward: bool,
        phone: bool = False,
        text_key: bool = False,
    ) -> list[_Row]:
        """Run a stream's page query (columns ``k0[, k1], cid[, phone]``) with the hit
        details joined on, in one statement: the page is cut first, then ≤ limit customer
        rows are read by primary key."""
        keys = [f"s.k{index}" for index in range(self.key_size)]
        if text_key:
            keys[0] = _c(keys[0], self.dialect)
        outer = (
            f"SELECT s.*, {_DETAIL_COLUMNS} FROM ({sql}) s JOIN customer c ON c.id = s.cid "
            f"ORDER BY {self._order(keys, forward)}"
        )
        out: list[_Row] = []
        for row in session.execute(text(outer), params).all():
            values = tuple(row)
            size = self.key_size
            rest = size + (2 if phone else 1)
            out.append(
                _Row(
                    key=values[:size],
                    customer_id=int(values[size]),
                    phone=values[size + 1] if phone else None,
                    details=values[rest:],
                )
            )
        return out


class _CustomerRange(_Stream):
    """A prefix range over a search column of ``customer``, ordered by (column, id)."""

    key_size = 2
    column = ""

    def bounds(self) -> tuple[str, str]:
        raise NotImplementedError

    def matches(self, customer: str) -> _Sql:
        low, high = self.bounds()
        column = _c(f"{customer}.{self.column}", self.dialect)
        return _Sql(
            f"{column} >= :{self.p('lo')} AND {column} < :{self.p('hi')}",
            {self.p("lo"): low, self.p("hi"): high},
        )

    def fetch(
        self,
        session: Session,
        *,
        key: tuple[Any, ...] | None,
        forward: bool,
        limit: int,
        exclude: Sequence[_Stream],
    ) -> list[_Row]:
        column = _c(f"c.{self.column}", self.dialect)
        columns = (column, "c.id")
        within = self.matches("c")
        keyset = self._keyset(columns, key, forward)
        others = self._exclusions(exclude, "c")
        sql = (
            f"SELECT c.{self.column} AS k0, c.id AS k1, c.id AS cid FROM customer c "
            f"WHERE {within.sql} AND {keyset.sql} AND {others.sql} "
            f"ORDER BY {self._order(columns, forward)} LIMIT {int(limit)}"
        )
        params = {**within.params, **keyset.params, **others.params}
        return self._run(session, sql, params, forward=forward, text_key=True)


class _IdSuffix(_CustomerRange):
    kind = SearchKind.ID_SUFFIX
    column = "id_card_rev"

    def bounds(self) -> tuple[str, str]:
        low = reverse(self.query.digits)
        return low, prefix_upper_bound(low)


class _PinyinInitials(_CustomerRange):
    kind = SearchKind.PINYIN_INITIALS
    column = "name_initials"

    def bounds(self) -> tuple[str, str]:
        return self.query.compact, prefix_upper_bound(self.query.compact)


class _PinyinFull(_CustomerRange):
    kind = SearchKind.PINYIN_FULL
    column = "name_pinyin"

    def bounds(self) -> tuple[str, str]:
        return self.query.compact, prefix_upper_bound(self.query.compact)


class _PhoneSuffix(_Stream):
    """A range over ``customer_phone.phone_rev``, ordered by (phone_rev, phone id); a customer
    with two matching phones appears once, under the first of them."""

    kind = SearchKind.PHONE_SUFFIX
    key_size = 2

    def _range(self, alias: str) -> _Sql:
        low = reverse(self.query.digits)
        column = _c(f"{alias}.phone_rev", self.dialect)
        return _Sql(
            f"{column} >= :{self.p('lo')} AND {column} < :{self.p('hi')}",
            {self.p("lo"): low, self.p("hi"): prefix_upper_bound(low)},
        )

    def _ends_with(self, alias: str) -> _Sql:
        """The same test as :meth:`_range` for one known row (reached by ``customer_id``):
        a pattern no planner mistakes for an index range. Digits only, nothing to escape."""
        return _Sql(
            f"{alias}.phone_rev LIKE :{self.p('like')}",
            {self.p("like"): reverse(self.query.digits) + "%"},
        )

    def matches(self, customer: str) -> _Sql:
        within = self._ends_with("x")
        return _Sql(
            f"EXISTS (SELECT 1 FROM customer_phone x WHERE x.customer_id = {customer}.id "
            f"AND {within.sql})",
            within.params,
        )

    def fetch(
        self,
        session: Session,
        *,
        key: tuple[Any, ...] | None,
        forward: bool,
        limit: int,
        exclude: Sequence[_Stream],
    ) -> list[_Row]:
        rev = _c("p.phone_rev", self.dialect)
        columns = (rev, "p.id")
        within = self._range("p")
        earlier = self._ends_with("q")
        keyset = self._keyset(columns, key, forward)
        others = self._exclusions(exclude, "c")
        join = "JOIN customer c ON c.id = p.customer_id " if exclude else ""
        q_rev, p_rev = _c("q.phone_rev", self.dialect), rev
        sql = (
            f"SELECT p.phone_rev AS k0, p.id AS k1, p.customer_id AS cid, p.phone AS phone "
            f"FROM customer_phone p {join}"
            f"WHERE {within.sql} AND {keyset.sql} AND {others.sql} "
            f"AND NOT EXISTS (SELECT 1 FROM customer_phone q "
            f"WHERE q.customer_id = p.customer_id AND q.id <> p.id AND {earlier.sql} "
            f"AND ({q_rev} < {p_rev} OR ({q_rev} = {p_rev} AND q.id < p.id))) "
            f"ORDER BY {self._order(columns, forward)} LIMIT {int(limit)}"
        )
        params = {**within.params, **earlier.params, **keyset.params, **others.params}
        return self._run(session, sql, params, forward=forward, phone=True, text_key=True)


class _PhoneExact(_Stream):
    kind = SearchKind.PHONE_EXACT

    def _numbers(self) -> list[str]:
        digits = self.query.digits
        forms = [digits, self.query.compact, *_fixed_line_forms(digits)]
        return list(dict.fromkeys(forms))

    def _in(self, alias: str) -> _Sql:
        numbers = self._numbers()
        names = [self.p(f"n{index}") for index in range(len(numbers))]
        placeholders = ", ".join(f":{name}" for name in names)
        return _Sql(f"{alias}.phone IN ({placeholders})", dict(zip(names, numbers, strict=True)))

    def matches(self, customer: str) -> _Sql:
        within = self._in("x")
        return _Sql(
            f"EXISTS (SELECT 1 FROM customer_phone x WHERE x.customer_id = {customer}.id "
            f"AND {within.sql})",
            within.params,
        )

    def fetch(
        self,
        session: Session,
        *,
        key: tuple[Any, ...] | None,
        forward: bool,
        limit: int,
        exclude: Sequence[_Stream],
    ) -> list[_Row]:
        within = self._in("p")
        keyset = self._keyset(("p.customer_id",), key, forward)
        others = self._exclusions(exclude, "c")
        join = "JOIN customer c ON c.id = p.customer_id " if exclude else ""
        sql = (
            f"SELECT p.customer_id AS k0, p.customer_id AS cid, MIN(p.phone) AS phone "
            f"FROM customer_phone p {join}"
            f"WHERE {within.sql} AND {keyset.sql} AND {others.sql} "
            f"GROUP BY p.customer_id "
            f"ORDER BY {self._order(('p.customer_id',), forward)} LIMIT {int(limit)}"
        )
        params = {**within.params, **keyset.params, **others.params}
        return self._run(session, sql, params, forward=forward, phone=True)


class _CustomerNo(_Stream):
    kind = SearchKind.CUSTOMER_NO

    def matches(self, customer: str) -> _Sql:
        forms = list(dict.fromkeys([self.query.compact, self.query.compact.upper()]))
        names = [self.p(f"n{index}") for index in range(len(forms))]
        placeholders = ", ".join(f":{name}" for name in names)
        return _Sql(
            f"{customer}.customer_no IN ({placeholders})", dict(zip(names, forms, strict=True))
        )

    def fetch(
        self,
        session: Session,
        *,
        key: tuple[Any, ...] | None,
        forward: bool,
        limit: int,
        exclude: Sequence[_Stream],
    ) -> list[_Row]:
        within = self.matches("c")
        keyset = self._keyset(("c.id",), key, forward)
        others = self._exclusions(exclude, "c")
        sql = (
            f"SELECT c.id AS k0, c.id AS cid FROM customer c WHERE {within.sql} AND {keyset.sql} "
            f"AND {others.sql} ORDER BY {self._order(('c.id',), forward)} LIMIT {int(limit)}"
        )
        params = {**within.params, **keyset.params, **others.params}
        return self._run(session, sql, params, forward=forward)


class _WorkOrderNo(_Stream):
    kind = SearchKind.WORK_ORDER

    def matches(self, customer: str) -> _Sql:
        return _Sql(
            f"EXISTS (SELECT 1 FROM work_order x WHERE x.customer_id = {customer}.id "
            f"AND x.number = :{self.p('number')})",
            {self.p("number"): self.query.compact},
        )

    def fetch(
        self,
        session: Session,
        *,
        key: tuple[Any, ...] | None,
        forward: bool,
        limit: int,
        exclude: Sequence[_Stream],
    ) -> list[_Row]:
        keyset = self._keyset(("w.customer_id",), key, forward)
        others = self._exclusions(exclude, "c")
        join = "JOIN customer c ON c.id = w.customer_id " if exclude else ""
        sql = (
            f"SELECT w.customer_id AS k0, w.customer_id AS cid FROM work_order w {join}"
            f"WHERE w.number = :{self.p('number')} AND w.customer_id IS NOT NULL "
            f"AND {keyset.sql} AND {others.sql} "
            f"ORDER BY {self._order(('w.customer_id',), forward)} LIMIT {int(limit)}"
        )
        params = {self.p("number"): self.query.compact, **keyset.params, **others.params}
        return self._run(session, sql, params, forward=forward)


class _NameFragment(_Stream):
    """CJK characters in this order, anywhere in the name.

    SQLite: a phrase query on the FTS5 table ``customer_fts`` (one token per character),
    which returns rowids in order. PostgreSQL: the ``customer_name_gram`` index of migration
    0002 (every 1-3 character run of a name, keyed by (gram, customer_id)); a fragment of
    4+ characters is narrowed by its first 3 and checked as a text-search phrase.
    """

    kind = SearchKind.NAME_FRAGMENT
    GRAM = 3

    def spaced(self) -> str:
        return " ".join(self.query.fragment)

    def phrase(self) -> str:
        return '"' + self.spaced().replace('"', '""') + '"'

    def _tsquery(self, customer: str) -> _Sql:
        return _Sql(
            f"to_tsvector('simple', {customer}.name_spaced) @@ "
            f"phraseto_tsquery('simple', :{self.p('spaced')})",
            {self.p("spaced"): self.spaced()},
        )

    def matches(self, customer: str) -> _Sql:
        if self.dialect == "sqlite":
            return _Sql(
                f"EXISTS (SELECT 1 FROM customer_fts x WHERE customer_fts MATCH "
                f":{self.p('phrase')} AND x.rowid = {customer}.id)",
                {self.p("phrase"): self.phrase()},
            )
        return self._tsquery(customer)

    def fetch(
        self,
        session: Session,
        *,
        key: tuple[Any, ...] | None,
        forward: bool,
        limit: int,
        exclude: Sequence[_Stream],
    ) -> list[_Row]:
        if self.dialect == "sqlite":
            return self._fetch_fts5(session, key=key, forward=forward, limit=limit, exclude=exclude)
        return self._fetch_grams(session, key=key, forward=forward, limit=limit, exclude=exclude)

    def _fetch_fts5(
        self,
        session: Session,
        *,
        key: tuple[Any, ...] | None,
        forward: bool,
        limit: int,
        exclude: Sequence[_Stream],
    ) -> list[_Row]:
        keyset = self._keyset(("f.rowid",), key, forward)
        others = self._exclusions(exclude, "c")
        join = "JOIN customer c ON c.id = f.rowid " if exclude else ""
        sql = (
            f"SELECT f.rowid AS k0, f.rowid AS cid FROM customer_fts f {join}"
            f"WHERE customer_fts MATCH :{self.p('phrase')} AND {keyset.sql} AND {others.sql} "
            f"ORDER BY {self._order(('f.rowid',), forward)} LIMIT {int(limit)}"
        )
        params = {self.p("phrase"): self.phrase(), **keyset.params, **others.params}
        return self._run(session, sql, params, forward=forward)

    def _fetch_grams(
        self,
        session: Session,
        *,
        key: tuple[Any, ...] | None,
        forward: bool,
        limit: int,
        exclude: Sequence[_Stream],
    ) -> list[_Row]:
        fragment = self.query.fragment
        keyset = self._keyset(("g.customer_id",), key, forward)
        others = self._exclusions(exclude, "c")
        longer = len(fragment) > self.GRAM
        check = self._tsquery("c") if longer else _Sql("1=1")
        join = "JOIN customer c ON c.id = g.customer_id " if exclude or longer else ""
        sql = (
            f"SELECT g.customer_id AS k0, g.customer_id AS cid FROM customer_name_gram g {join}"
            f"WHERE g.gram = :{self.p('gram')} AND {keyset.sql} AND {check.sql} "
            f"AND {others.sql} "
            f"ORDER BY {self._order(('g.customer_id',), forward)} LIMIT {int(limit)}"
        )
        params = {
            self.p("gram"): fragment[: self.GRAM],
            **keyset.params,
            **check.params,
            **others.params,
        }
        return self._run(session, sql, params, forward=forward)


_STREAMS: dict[SearchKind, type[_Stream]] = {
    SearchKind.PHONE_EXACT: _PhoneExact,
    SearchKind.PHONE_SUFFIX: _PhoneSuffix,
    SearchKind.ID_SUFFIX: _IdSuffix,
    SearchKind.NAME_FRAGMENT: _NameFragment,
    SearchKind.PINYIN_INITIALS: _PinyinInitials,
    SearchKind.PINYIN_FULL: _PinyinFull,
    SearchKind.WORK_ORDER: _WorkOrderNo,
    SearchKind.CUSTOMER_NO: _CustomerNo,
}


# --- cursors ------------------------------------------------------------------------------

_CURSOR_VERSION = 1


def _fingerprint(query: _Query) -> str:
    text_ = "|".join([query.compact, *query.kinds])
    return hashlib.sha256(text_.encode()).hexdigest()[:12]


def _encode_cursor(query: _Query, stream: int, key: tuple[Any, ...]) -> str:
    payload = json.dumps(
        [_CURSOR_VERSION, _fingerprint(query), stream, list(key)],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _decode_cursor(
    cursor: str, query: _Query, streams: Sequence[_Stream]
) -> tuple[int, tuple[Any, ...]]:
    problem = InvalidInput("this page marker does not belong to this search", field="cursor")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise problem from error
    if not (isinstance(payload, list) and len(payload) == 4):
        raise problem
    version, fingerprint, stream, key = payload
    if version != _CURSOR_VERSION or fingerprint != _fingerprint(query):
        raise problem
    if not (isinstance(stream, int) and 0 <= stream < len(streams) and isinstance(key, list)):
        raise problem
    if len(key) != streams[stream].key_size or not all(
        isinstance(part, (int, str)) and not isinstance(part, bool) for part in key
    ):
        raise problem
    return stream, tuple(key)


# --- the search ---------------------------------------------------------------------------


def _walk(
    session: Session,
    streams: Sequence[_Stream],
    *,
    start: tuple[int, tuple[Any, ...]] | None,
    forward: bool,
    want: int,
) -> list[tuple[int, _Row]]:
    """Up to ``want`` rows strictly after (``forward``) or before ``start`` in the total
    order: streams one after another, each by its own key. Backward rows come nearest first."""
    if start is None:
        index, key = (0 if forward else len(streams) - 1), None
    else:
        index, key = start[0], start[1]
    out: list[tuple[int, _Row]] = []
    step = 1 if forward else -1
    while 0 <= index < len(streams) and len(out) < want:
        rows = streams[index].fetch(
            session,
            key=key,
            forward=forward,
            limit=want - len(out),
            exclude=streams[:index],
        )
        out.extend((index, row) for row in rows)
        index += step
        key = None
    return out


def _hits(streams: Sequence[_Stream], rows: Sequence[tuple[int, _Row]]) -> tuple[CustomerHit, ...]:
    hits: list[CustomerHit] = []
    for index, row in rows:
        customer_no, name, id_card, tier, big, status, region, arrears, primary = row.details
        phone = row.phone or primary
        hits.append(
            CustomerHit(
                id=row.customer_id,
                customer_no=str(customer_no),
                name_masked=mask_name(str(name)),
                phone_masked=mask_phone(str(phone)) if phone else None,
                id_card_masked=mask_id_card(str(id_card)),
                tier=str(tier),
                big_customer_class=big,
                status=str(status),
                region=str(region),
                arrears_cents=int(arrears),
                matched_by=streams[index].kind,
            )
        )
    return tuple(hits)


@reads
def search_customers(
    session: Session,
    *,
    actor: Actor,
    query: str,
    after: str | None = None,
    before: str | None = None,
    limit: int = 50,
) -> SearchPage:
    """One page of the customers ``query`` finds (see the module docstring for the rules).

    ``after=page.next_cursor`` gives the next page, ``before=page.prev_cursor`` the previous
    one, in the same display order. A blank query, or one that means nothing, gives an empty
    page without touching the customer table.
    """
    require(session, actor, Permission.SEARCH_CUSTOMERS)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"must be between 1 and {MAX_LIMIT}", field="limit")
    if after is not None and before is not None:
        raise InvalidInput("give either after or before, not both", field="cursor")
    interpreted = _interpret(query)
    dialect = str(session.info.get("dialect", "sqlite"))
    streams = [
        _STREAMS[kind](interpreted, f"s{index}", dialect)
        for index, kind in enumerate(interpreted.kinds)
    ]
    if not streams:
        return SearchPage(query, (), (), None, None)
    forward = before is None
    cursor = after if forward else before
    start = _decode_cursor(cursor, interpreted, streams) if cursor is not None else None
    rows = _walk(session, streams, start=start, forward=forward, want=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    if not forward:
        rows.reverse()
    hits = _hits(streams, rows)
    first = _encode_cursor(interpreted, rows[0][0], rows[0][1].key) if rows else None
    last = _encode_cursor(interpreted, rows[-1][0], rows[-1][1].key) if rows else None
    if forward:
        next_cursor = last if more else None
        prev_cursor = first if cursor is not None else None
    else:
        next_cursor = last
        prev_cursor = first if more else None
    return SearchPage(query, interpreted.kinds, hits, next_cursor, prev_cursor)
