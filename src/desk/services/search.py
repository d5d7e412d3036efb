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
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    FromClause,
    Integer,
    Select,
    Table,
    Text,
    and_,
    bindparam,
    collate,
    column,
    exists,
    func,
    literal_column,
    not_,
    or_,
    select,
    table,
)
from sqlmodel import Session

from desk.infra.database import Database, reads_autocommit
from desk.infra.errors import InvalidInput
from desk.models import metadata
from desk.rules.masking import mask_id_card, mask_name, mask_phone
from desk.rules.names import has_cjk, prefix_upper_bound, reverse
from desk.rules.permissions import Actor, Permission
from desk.services.access import require_role, require_seen, role_now

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


class Unsearchable(StrEnum):
    """Why a query means no search at all."""

    TOO_SHORT = "too_short"  # one letter, 1-3 digits: too many matches to mean anything
    TOO_LONG = "too_long"  # more digits than any number a search reads (18)
    CHARACTERS = "characters"  # characters no kind searches: punctuation, symbols, emoji …
    MIXED = "mixed"  # Chinese characters together with letters or digits


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of a search. ``start`` is the place of its first hit among all matches
    (0 on the first page), so ``start + len(hits)`` matches are known to exist, all of them
    when ``next_cursor`` is None. A query that means nothing gives no kinds and says why
    (``unsearchable``, with the characters no search reads in ``odd``)."""

    query: str
    kinds: tuple[SearchKind, ...]
    hits: tuple[CustomerHit, ...]
    next_cursor: str | None
    prev_cursor: str | None
    start: int = 0
    unsearchable: Unsearchable | None = None
    odd: str = ""

    @property
    def matches_known(self) -> int:
        """Matches up to the end of this page (a lower bound while ``more``)."""
        return self.start + len(self.hits)

    @property
    def more(self) -> bool:
        """Are there matches after this page? (Counting them all would be slow.)"""
        return self.next_cursor is not None


# --- what a query means -------------------------------------------------------------------

_IGNORED = re.compile(r"[\s\-()]+")
_WORK_ORDER_NO = re.compile(r"^WO[0-9]{4,}$", re.IGNORECASE)
_CUSTOMER_NO = re.compile(r"^[A-Za-z]{1,4}[0-9]{3,}$")
_LATIN = re.compile(r"^[A-Za-z]+$")
_DIGITS_X = re.compile(r"^[0-9]+[Xx]?$")
_MOBILE = re.compile(r"^1[0-9]{10}$")
_FIXED_LINE = re.compile(r"^0[0-9]{9,11}$")
_NAME_CHARS = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff·•]+$")
_NAME_SEPARATORS = "·•"
_CJK_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_SEARCHABLE_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff·•A-Za-z0-9+]")


@dataclass(frozen=True, slots=True)
class _Query:
    """A query brought to the forms its kinds compare with."""

    kinds: tuple[SearchKind, ...]
    compact: str = ""  # without spaces, hyphens, parentheses
    digits: str = ""  # phone-like: without a +86 / 0086 country code
    fragment: str = ""  # CJK fragment without separators
    problem: Unsearchable | None = None  # why it means nothing (no kinds)
    odd: str = ""  # the characters no search reads


def _nothing(compact: str) -> _Query:
    """A query of no kind, and why."""
    odd = "".join(dict.fromkeys(char for char in compact if not _SEARCHABLE_CHAR.match(char)))
    if odd:
        return _Query((), problem=Unsearchable.CHARACTERS, odd=odd)
    if _CJK_CHAR.search(compact) and re.search(r"[A-Za-z0-9]", compact):
        return _Query((), problem=Unsearchable.MIXED)
    digits = _phone_digits(compact).upper()
    if _DIGITS_X.match(digits) and len(digits) > 18:
        return _Query((), problem=Unsearchable.TOO_LONG)
    return _Query((), problem=Unsearchable.TOO_SHORT)


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
    if _WORK_ORDER_NO.match(compact):
        return _Query((SearchKind.WORK_ORDER,), compact=compact.upper())
    if _NAME_CHARS.match(compact) and has_cjk(compact):
        fragment = "".join(char for char in compact if char not in _NAME_SEPARATORS)
        return _Query((SearchKind.NAME_FRAGMENT,), compact=compact, fragment=fragment)
    if _LATIN.match(compact):
        lowered = compact.lower()
        if len(lowered) < 2:
            return _nothing(compact)
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
        return _nothing(compact)
    if _MOBILE.match(digits) or _FIXED_LINE.match(digits):
        return _Query((SearchKind.PHONE_EXACT,), compact=compact, digits=digits)
    upper = digits.upper()
    if len(upper) < MIN_SUFFIX_DIGITS or len(upper) > 18:
        return _nothing(compact)
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


# --- streams: one per kind ----------------------------------------------------------------

_CUSTOMER: Table = metadata.tables["customer"]
_PHONE: Table = metadata.tables["customer_phone"]
_WORK_ORDER: Table = metadata.tables["work_order"]
# Outside the metadata (migrations 0001 and 0002 make them): FTS5 on SQLite, grams on PostgreSQL.
_FTS = table("customer_fts", column("rowid", Integer), column("customer_fts", Text))
_GRAMS = table("customer_name_gram", column("gram", Text), column("customer_id", Integer))
_SIMPLE: ColumnElement[Any] = literal_column(
    "'simple'"
)  # the text-search configuration the names are read with


def _bytewise(expression: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """A text expression compared byte-wise (so a prefix range is contiguous and indexed)."""
    return collate(expression, "C") if dialect == "postgresql" else expression


def _limit(name: str) -> BindParameter[int]:
    """A row limit written into the statement as a number (as the planner best sees it)."""
    return bindparam(name, type_=Integer, literal_execute=True)


@dataclass(frozen=True, slots=True)
class _Row:
    key: tuple[Any, ...]
    customer_id: int
    phone: str | None
    details: tuple[Any, ...]  # the columns of _details()


@dataclass(frozen=True)
class _Source:
    """Where a stream's rows come from: what to read (``from_``), its order (``keys``, the
    first one text when ``text_key``), the customer each row is, the phone it shows (if the
    stream matches phones), its conditions, and the customer row already in ``from_`` (to
    test the earlier streams against; None: joined when needed)."""

    from_: FromClause
    keys: tuple[ColumnElement[Any], ...]
    customer_id: ColumnElement[Any]
    where: tuple[ColumnElement[bool], ...]
    text_key: bool = False
    phone: ColumnElement[Any] | None = None
    customer: FromClause | None = None
    group_by: tuple[ColumnElement[Any], ...] = ()


_STATEMENTS: dict[tuple[Any, ...], tuple[Select[Any], bool]] = {}
"""Each statement shape built once: a stream, its place, its database, its direction, whether
it starts after a key, and the earlier streams it leaves out."""


class _Stream:
    """The rows of one kind, in one stable order, read by keyset from either end.

    A kind says where its rows come from (:meth:`source`), how to tell whether a customer row
    matches it (:meth:`matches`, used to leave out of later streams the customers an earlier
    one showed) and the values it binds (:meth:`params`); the page query around them is the
    same for every kind (:meth:`statement`)."""

    kind: SearchKind
    key_types: tuple[type, ...] = (int,)

    def __init__(self, query: _Query, tag: str, dialect: str) -> None:
        self.query = query
        self.tag = tag  # prefix of this stream's bound parameter names
        self.dialect = dialect

    def p(self, name: str) -> BindParameter[Any]:
        return bindparam(f"{self.tag}_{name}")

    @property
    def variant(self) -> int:
        """What besides the kind changes the statement's shape (0 for most kinds)."""
        return 0

    def params(self) -> dict[str, Any]:
        raise NotImplementedError

    def source(self) -> _Source:
        raise NotImplementedError

    def matches(self, customer: FromClause) -> ColumnElement[bool]:
        """Does this stream match the customer row ``customer``?"""
        raise NotImplementedError

    @property
    def shape(self) -> tuple[Any, ...]:
        return (type(self), self.tag, self.dialect, self.variant)

    def fetch(
        self,
        session: Session,
        *,
        key: tuple[Any, ...] | None,
        forward: bool,
        limit: int,
        exclude: Sequence[_Stream],
        check: _Check | None = None,
    ) -> list[_Row]:
        """Up to ``limit`` rows after (``forward``) or before ``key`` in this stream's order,
        none of a customer that an ``exclude`` stream matches, with the hit's details.
        ``check``: the statement reads the actor's role too (:func:`role_now`) and judges it
        before a row is used; a statement that found no row leaves it unjudged (the caller
        judges it by the next statement, or on its own)."""
        statement, has_phone = self.statement(
            forward=forward, keyed=key is not None, exclude=exclude, checked=check is not None
        )
        params: dict[str, Any] = {"limit": limit, **self.params()}
        if check is not None:
            params["actor_id"] = check.actor.user_id
        for other in exclude:
            params.update(other.params())
        if key is not None:
            params.update({f"{self.tag}_k{index}": value for index, value in enumerate(key)})
        size = len(self.key_types)
        rest = size + (2 if has_phone else 1)
        out: list[_Row] = []
        # Core through the transaction's connection: no ORM around a statement of columns.
        found = session.connection().execute(statement, params).all()
        width = len(found[0]) if found else 0
        if check is not None and found:
            check(session, found[0][-1])
            width -= 1  # the actor's role
        for row in found:
            values = tuple(row)[:width]
            out.append(
                _Row(
                    key=values[:size],
                    customer_id=int(values[size]),
                    phone=values[size + 1] if has_phone else None,
                    details=values[rest:],
                )
            )
        return out

    def statement(
        self, *, forward: bool, keyed: bool, exclude: Sequence[_Stream], checked: bool = False
    ) -> tuple[Select[Any], bool]:
        """The page statement of this shape (built once), and whether it returns a phone.
        ``checked``: its last column is the actor's role now (:func:`role_now` of the
        parameter ``actor_id``)."""
        shape = (*self.shape, forward, keyed, tuple(other.shape for other in exclude), checked)
        found = _STATEMENTS.get(shape)
        if found is None:
            source = self.source()
            built = self._build(source, forward=forward, keyed=keyed, exclude=exclude)
            if checked:
                actor_id = bindparam("actor_id", type_=Integer)
                built = built.add_columns(role_now(actor_id).label("actor_role"))
            found = _STATEMENTS[shape] = (built, source.phone is not None)
        return found

    def _build(
        self, source: _Source, *, forward: bool, keyed: bool, exclude: Sequence[_Stream]
    ) -> Select[Any]:
        """The page of this stream, cut first (the index delivers the order, the scan stops
        after ``limit`` rows), then joined to ≤ limit customer rows for the details."""
        from_, customer = source.from_, source.customer
        if exclude and customer is None:
            customer = _CUSTOMER.alias("c")
            from_ = from_.join(customer, customer.c.id == source.customer_id)
        order = [
            _bytewise(key, self.dialect) if index == 0 and source.text_key else key
            for index, key in enumerate(source.keys)
        ]
        conditions = list(source.where)
        if keyed:
            conditions.append(self._keyset(order, forward))
        assert customer is not None or not exclude
        conditions += [not_(other.matches(customer)) for other in exclude if customer is not None]
        columns = [key.label(f"k{index}") for index, key in enumerate(source.keys)]
        columns.append(source.customer_id.label("cid"))
        if source.phone is not None:
            columns.append(source.phone.label("phone"))
        page = (
            select(*columns)
            .select_from(from_)
            .where(*conditions)
            .group_by(*source.group_by)
            .order_by(*(key if forward else key.desc() for key in order))
            .limit(_limit("limit"))
            .subquery("s")
        )
        hit = _CUSTOMER.alias("hit")
        first = _PHONE.alias("first_phone")
        primary = (
            select(first.c.phone)
            .where(first.c.customer_id == hit.c.id)
            .order_by(first.c.is_primary.desc(), first.c.id)
            .limit(_limit("one"))
            .scalar_subquery()
        )
        keys: list[ColumnElement[Any]] = [page.c[f"k{i}"] for i in range(len(source.keys))]
        if source.text_key:
            keys[0] = _bytewise(keys[0], self.dialect)
        return (
            select(
                *page.c,
                hit.c.customer_no,
                hit.c.name,
                hit.c.id_card_no,
                hit.c.tier,
                hit.c.big_customer_class,
                hit.c.status,
                hit.c.region,
                hit.c.arrears_cents,
                primary.label("primary_phone"),
            )
            .select_from(page.join(hit, hit.c.id == page.c.cid))
            .order_by(*(key if forward else key.desc() for key in keys))
            .params(one=1)
        )

    def _keyset(self, order: Sequence[ColumnElement[Any]], forward: bool) -> ColumnElement[bool]:
        """Rows strictly after (or before) the key in the order of ``order``.

        Written as ``a >= k0 AND (a > k0 OR b > k1)`` so every planner starts the index
        range at ``k0``; only the few rows equal on ``a`` are filtered.
        """
        k0 = self.p("k0")
        if len(order) == 1:
            return order[0] > k0 if forward else order[0] < k0
        first, second = order
        k1 = self.p("k1")
        if forward:
            return and_(first >= k0, or_(first > k0, second > k1))
        return and_(first <= k0, or_(first < k0, second < k1))


class _CustomerRange(_Stream):
    """A prefix range over a search column of ``customer``, ordered by (column, id)."""

    key_types = (str, int)
    column = ""

    def bounds(self) -> tuple[str, str]:
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        low, high = self.bounds()
        return {f"{self.tag}_lo": low, f"{self.tag}_hi": high}

    def matches(self, customer: FromClause) -> ColumnElement[bool]:
        column_ = _bytewise(customer.c[self.column], self.dialect)
        return and_(column_ >= self.p("lo"), column_ < self.p("hi"))

    def source(self) -> _Source:
        c = _CUSTOMER.alias("c")
        return _Source(
            from_=c,
            keys=(c.c[self.column], c.c.id),
            customer_id=c.c.id,
            where=(self.matches(c),),
            text_key=True,
            customer=c,
        )


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
    key_types = (str, int)

    def params(self) -> dict[str, Any]:
        low = reverse(self.query.digits)
        return {
            f"{self.tag}_lo": low,
            f"{self.tag}_hi": prefix_upper_bound(low),
            f"{self.tag}_like": low + "%",
        }

    def _ends_with(self, phone: FromClause) -> ColumnElement[bool]:
        """The same test as the range for one known row (reached by ``customer_id``): a
        pattern no planner mistakes for an index range. Digits only, nothing to escape."""
        return phone.c.phone_rev.like(self.p("like"))

    def matches(self, customer: FromClause) -> ColumnElement[bool]:
        x = _PHONE.alias("x")
        return exists().where(x.c.customer_id == customer.c.id, self._ends_with(x))

    def source(self) -> _Source:
        p, q = _PHONE.alias("p"), _PHONE.alias("q")
        p_rev = _bytewise(p.c.phone_rev, self.dialect)
        q_rev = _bytewise(q.c.phone_rev, self.dialect)
        earlier = exists().where(
            q.c.customer_id == p.c.customer_id,
            q.c.id != p.c.id,
            self._ends_with(q),
            or_(q_rev < p_rev, and_(q_rev == p_rev, q.c.id < p.c.id)),
        )
        return _Source(
            from_=p,
            keys=(p.c.phone_rev, p.c.id),
            customer_id=p.c.customer_id,
            where=(p_rev >= self.p("lo"), p_rev < self.p("hi"), not_(earlier)),
            text_key=True,
            phone=p.c.phone,
        )


class _PhoneExact(_Stream):
    kind = SearchKind.PHONE_EXACT

    def params(self) -> dict[str, Any]:
        digits = self.query.digits
        forms = [digits, self.query.compact, *_fixed_line_forms(digits)]
        return {f"{self.tag}_numbers": list(dict.fromkeys(forms))}

    def _numbers(self) -> BindParameter[Any]:
        return bindparam(f"{self.tag}_numbers", expanding=True)

    def matches(self, customer: FromClause) -> ColumnElement[bool]:
        x = _PHONE.alias("x")
        return exists().where(x.c.customer_id == customer.c.id, x.c.phone.in_(self._numbers()))

    def source(self) -> _Source:
        p = _PHONE.alias("p")
        return _Source(
            from_=p,
            keys=(p.c.customer_id,),
            customer_id=p.c.customer_id,
            where=(p.c.phone.in_(self._numbers()),),
            phone=func.min(p.c.phone),
            group_by=(p.c.customer_id,),
        )


class _CustomerNo(_Stream):
    kind = SearchKind.CUSTOMER_NO

    def params(self) -> dict[str, Any]:
        forms = list(dict.fromkeys([self.query.compact, self.query.compact.upper()]))
        return {f"{self.tag}_forms": forms}

    def matches(self, customer: FromClause) -> ColumnElement[bool]:
        return customer.c.customer_no.in_(bindparam(f"{self.tag}_forms", expanding=True))

    def source(self) -> _Source:
        c = _CUSTOMER.alias("c")
        return _Source(
            from_=c, keys=(c.c.id,), customer_id=c.c.id, where=(self.matches(c),), customer=c
        )


class _WorkOrderNo(_Stream):
    kind = SearchKind.WORK_ORDER

    def params(self) -> dict[str, Any]:
        return {f"{self.tag}_number": self.query.compact}

    def matches(self, customer: FromClause) -> ColumnElement[bool]:
        x = _WORK_ORDER.alias("x")
        return exists().where(x.c.customer_id == customer.c.id, x.c.number == self.p("number"))

    def source(self) -> _Source:
        w = _WORK_ORDER.alias("w")
        return _Source(
            from_=w,
            keys=(w.c.customer_id,),
            customer_id=w.c.customer_id,
            where=(w.c.number == self.p("number"), w.c.customer_id.is_not(None)),
        )


class _NameFragment(_Stream):
    """CJK characters in this order, anywhere in the name.

    SQLite: a phrase query on the FTS5 table ``customer_fts`` (one token per character),
    which returns rowids in order. PostgreSQL: the ``customer_name_gram`` index of migration
    0002 (every 1-3 character run of a name, keyed by (gram, customer_id)); a fragment of
    4+ characters is narrowed by its first 3 and checked as a text-search phrase.
    """

    kind = SearchKind.NAME_FRAGMENT
    GRAM = 3

    @property
    def variant(self) -> int:
        return int(self.dialect == "postgresql" and len(self.query.fragment) > self.GRAM)

    def spaced(self) -> str:
        return " ".join(self.query.fragment)

    def params(self) -> dict[str, Any]:
        if self.dialect == "sqlite":
            return {f"{self.tag}_phrase": '"' + self.spaced().replace('"', '""') + '"'}
        return {
            f"{self.tag}_gram": self.query.fragment[: self.GRAM],
            f"{self.tag}_spaced": self.spaced(),
        }

    def _phrase(self, customer: FromClause) -> ColumnElement[bool]:
        vector = func.to_tsvector(_SIMPLE, customer.c.name_spaced)
        return vector.op("@@")(func.phraseto_tsquery(_SIMPLE, self.p("spaced")))

    def matches(self, customer: FromClause) -> ColumnElement[bool]:
        if self.dialect == "sqlite":
            x = _FTS.alias("x")
            return exists().where(
                x.c.customer_fts.op("MATCH")(self.p("phrase")), x.c.rowid == customer.c.id
            )
        return self._phrase(customer)

    def source(self) -> _Source:
        if self.dialect == "sqlite":
            f = _FTS.alias("f")
            return _Source(
                from_=f,
                keys=(f.c.rowid,),
                customer_id=f.c.rowid,
                where=(f.c.customer_fts.op("MATCH")(self.p("phrase")),),
            )
        g = _GRAMS.alias("g")
        if not self.variant:
            return _Source(
                from_=g,
                keys=(g.c.customer_id,),
                customer_id=g.c.customer_id,
                where=(g.c.gram == self.p("gram"),),
            )
        c = _CUSTOMER.alias("c")
        return _Source(
            from_=g.join(c, c.c.id == g.c.customer_id),
            keys=(g.c.customer_id,),
            customer_id=g.c.customer_id,
            where=(g.c.gram == self.p("gram"), self._phrase(c)),
            customer=c,
        )


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

_CURSOR_VERSION = 2
_MAX_ID = 2**63 - 1  # ids are 64-bit at most
_MAX_KEY_TEXT = 200


@dataclass(frozen=True, slots=True)
class _Cursor:
    """A row of the walk: its stream, its key in that stream, its place among all matches."""

    stream: int
    key: tuple[Any, ...]
    place: int


def _fingerprint(query: _Query) -> str:
    text_ = "|".join([query.compact, *query.kinds])
    return hashlib.sha256(text_.encode()).hexdigest()[:12]


def _encode_cursor(query: _Query, cursor: _Cursor) -> str:
    payload = json.dumps(
        [_CURSOR_VERSION, _fingerprint(query), cursor.stream, list(cursor.key), cursor.place],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _valid_part(part: object, expected: type) -> bool:
    if expected is int:
        return type(part) is int and 0 <= part <= _MAX_ID
    return type(part) is str and len(part) <= _MAX_KEY_TEXT and "\x00" not in part


def _decode_cursor(cursor: str, query: _Query, streams: Sequence[_Stream]) -> _Cursor:
    """The cursor a page gave, checked whole: anything not made by :func:`_encode_cursor`
    for this query (edited, truncated, from another search, a key of the wrong type or out of
    range) is :class:`InvalidInput`, before any of it reaches the database."""
    problem = InvalidInput("this page marker does not belong to this search", field="cursor")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise problem from error
    if not (isinstance(payload, list) and len(payload) == 5):
        raise problem
    version, fingerprint, stream, key, place = payload
    if version != _CURSOR_VERSION or fingerprint != _fingerprint(query):
        raise problem
    if not (type(stream) is int and 0 <= stream < len(streams) and isinstance(key, list)):
        raise problem
    expected = streams[stream].key_types
    if len(key) != len(expected) or not all(map(_valid_part, key, expected)):
        raise problem
    if not (type(place) is int and 0 <= place <= _MAX_ID):
        raise problem
    return _Cursor(stream, tuple(key), place)


# --- the search ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Check:
    """The check of :func:`require`, read by the first statement of a search."""

    actor: Actor

    def __call__(self, session: Session, role: object) -> None:
        require_seen(session, self.actor, Permission.SEARCH_CUSTOMERS, role)


def _walk(
    session: Session,
    streams: Sequence[_Stream],
    *,
    start: _Cursor | None,
    forward: bool,
    want: int,
    check: _Check,
) -> list[tuple[int, _Row]]:
    """Up to ``want`` rows strictly after (``forward``) or before ``start`` in the total
    order: streams one after another, each by its own key. Backward rows come nearest first.
    The first statement that finds a row judges ``check`` before anything it read is used
    (one statement fewer than reading the check on its own when an earlier stream is empty:
    an ID-card tail that ends no phone); none found, it is read on its own at the end."""
    if start is None:
        index, key = (0 if forward else len(streams) - 1), None
    else:
        index, key = start.stream, start.key
    out: list[tuple[int, _Row]] = []
    step = 1 if forward else -1
    pending: _Check | None = check
    while 0 <= index < len(streams) and len(out) < want:
        rows = streams[index].fetch(
            session,
            key=key,
            forward=forward,
            limit=want - len(out),
            exclude=streams[:index],
            check=pending,
        )
        if rows:
            pending = None
        out.extend((index, row) for row in rows)
        index += step
        key = None
    if pending is not None:  # no statement ran, or none found a row
        pending(session, None)
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


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@reads_autocommit
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
    page without touching the customer table (``unsearchable`` says why). A query holding a
    control character (a NUL byte, an escape) or a cursor this search did not make is
    :class:`InvalidInput`.
    """
    # The check of require(), in two halves: the role signed in with now, the user's row as
    # it stands with the page's first statement (one round trip fewer: see _walk).
    require_role(actor, Permission.SEARCH_CUSTOMERS)
    check = _Check(actor)
    forward = before is None
    cursor = after if forward else before
    try:
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"must be between 1 and {MAX_LIMIT}", field="limit")
        if after is not None and before is not None:
            raise InvalidInput("give either after or before, not both", field="cursor")
        if _CONTROL.search(query or ""):
            raise InvalidInput(
                "holds a control character, which no search can match", field="query"
            )
        interpreted = _interpret(query)
        dialect = str(session.info.get("dialect", "sqlite"))
        streams = [
            _STREAMS[kind](interpreted, f"s{index}", dialect)
            for index, kind in enumerate(interpreted.kinds)
        ]
        start = (
            _decode_cursor(cursor, interpreted, streams) if cursor is not None and streams else None
        )
    except InvalidInput:
        check(session, None)  # a user disabled meanwhile hears that first
        raise
    if not streams:
        check(session, None)
        return SearchPage(
            query, (), (), None, None, unsearchable=interpreted.problem, odd=interpreted.odd
        )
    rows = _walk(session, streams, start=start, forward=forward, want=limit + 1, check=check)
    more = len(rows) > limit
    rows = rows[:limit]
    if not forward:
        rows.reverse()
    if start is None:
        first_place = 0
    elif forward:
        first_place = start.place + 1
    else:
        first_place = max(0, start.place - len(rows))
    hits = _hits(streams, rows)
    cursors = (
        [
            _encode_cursor(interpreted, _Cursor(index, row.key, first_place + offset))
            for offset, (index, row) in ((0, rows[0]), (len(rows) - 1, rows[-1]))
        ]
        if rows
        else [None, None]
    )
    first, last = cursors
    if forward:
        next_cursor = last if more else None
        prev_cursor = first if cursor is not None else None
    else:
        next_cursor = last
        prev_cursor = first if more else None
    return SearchPage(query, interpreted.kinds, hits, next_cursor, prev_cursor, start=first_place)


# --- warming ----------------------------------------------------------------------------------

_FTS_DATA = table("customer_fts_data", column("block"))


def _warming_reads(dialect: str) -> list[Select[Any]]:
    """Statements that read, start to end, every index and table a lookup's first page
    touches: each range index through a covering range (so the index, not the table, is
    read), the name index, then the customer and phone rows (through a column no index
    holds) that a page shows."""
    c, p, w = _CUSTOMER, _PHONE, _WORK_ORDER
    ranges = [
        (c, c.c.name_pinyin),
        (c, c.c.name_initials),
        (c, c.c.id_card_rev),
        (c, c.c.customer_no),
        (p, p.c.phone_rev),
        (p, p.c.phone),
        (w, w.c.number),
    ]
    reads: list[Select[Any]] = [
        select(func.count(key)).select_from(source).where(_bytewise(key, dialect) >= "")
        for source, key in ranges
    ]
    reads.append(select(func.count(p.c.customer_id)).select_from(p).where(p.c.customer_id >= 0))
    if dialect == "sqlite":
        reads.append(select(func.count(_FTS_DATA.c.block)))
    else:
        reads.append(select(func.count()).select_from(_GRAMS).where(_GRAMS.c.gram >= ""))
    reads.append(select(func.count(c.c.address)).select_from(c))
    reads.append(select(func.count(p.c.kind)).select_from(p))
    return reads


def warm_search_indexes(db: Database) -> None:
    """Read what customer lookup reads into the OS page cache (PostgreSQL: its buffers too),
    so the first lookups after a reboot do not each wait for the disk. Reads only, each
    statement its own short transaction; a console runs it once, in the background, after it
    started (the cold-start figures in bench/figures/search.py)."""
    dialect = db.engine.dialect.name
    for statement in _warming_reads(dialect):
        with db.connection(write=False) as connection:
            connection.execute(statement)
