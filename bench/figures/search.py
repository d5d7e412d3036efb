"""Customer lookup at scale: each search kind's first page through ``search_customers``.

For every kind, :data:`SAMPLES` queries are drawn from the dataset itself (real phones, real
4-digit phone tails, real ID-card tails, real 1- and 2-character name fragments, real
initials, real full-pinyin prefixes, real work-order and customer numbers). Each figure is
the median first-page time over those queries, through the service (its own transaction,
permission check, SQL, masking), next to the baseline: the very statements the service sent,
captured at the DBAPI level and replayed through a plain ``sqlite3`` connection held open
(same SQL, no service around it). The gap between the two is what the service layer costs.

Also measured:

- a fragment matching the most customers (the commonest surname), first page and page 20;
- ``LIKE '%x%'`` over the same 1-character fragments, as context: first page, and a full
  count (what a scan costs);
- an empty read transaction through ``Database.session``: the fixed cost every call pays.

With ``DESK_BENCH_PG_URL`` set to a PostgreSQL database holding a dataset (same schema, any
size), the kinds are measured there too (``search.pg.*``), against psycopg replaying the
same statements.

Run on its own: ``python -m bench.figures.search DB_FILE [--pg URL]``.
"""

from __future__ import annotations

import os
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.core import BenchContext, Figure
from sqlalchemy import event

from desk.infra.database import Database
from desk.rules.permissions import Actor
from desk.rules.vocab import Role
from desk.services.search import classify_query, search_customers

SAMPLES = 60  # queries per kind
ROUNDS = 2  # each query is timed this many times after one warm-up run
EXACT_TARGET_MS = 1.0
RANGE_TARGET_MS = 10.0
ACTOR = Actor(user_id=1, login="agent1", role=Role.AGENT)  # the demo's first agent

Statement = tuple[str, Any]


@dataclass(frozen=True)
class Kind:
    name: str  # figure suffix
    label: str
    target: float | None


KINDS = (
    Kind("phone_exact", "exact phone (11-digit mobile or fixed line)", EXACT_TARGET_MS),
    Kind("phone_suffix", "last 4 digits of a phone", RANGE_TARGET_MS),
    Kind("id_suffix", "ID-card tail (4–6 characters, X included)", RANGE_TARGET_MS),
    Kind("name_1char", "1-character name fragment", RANGE_TARGET_MS),
    Kind("name_2char", "2-character name fragment", RANGE_TARGET_MS),
    Kind("pinyin_initials", "pinyin initials of a whole name", RANGE_TARGET_MS),
    Kind("pinyin_full", "full-pinyin prefix (5+ letters)", RANGE_TARGET_MS),
    Kind("work_order", "work-order number", None),
    Kind("customer_no", "customer number", None),
)


# --- drawing queries from the data ------------------------------------------------------------


def _draw(rows: Sequence[Sequence[Any]], pick: Callable[[Sequence[Any]], str | None]) -> list[str]:
    return [query for row in rows if (query := pick(row))]


def _queries(
    sample: Sequence[Sequence[Any]], orders: Sequence[str], rng: random.Random
) -> dict[str, list[str]]:
    """Per kind, queries taken from ``sample`` rows (name, pinyin, initials, id card, phone,
    customer no)."""

    def id_tail(row: Sequence[Any]) -> str:
        return str(row[3])[-rng.choice((4, 5, 6)) :]

    def pinyin_prefix(row: Sequence[Any]) -> str:
        pinyin = str(row[1])
        return pinyin[: rng.randint(min(5, len(pinyin)), len(pinyin))]

    def fragment(row: Sequence[Any], size: int) -> str | None:
        name = str(row[0])
        if len(name) < size:
            return None
        start = rng.randint(0, len(name) - size)
        return name[start : start + size]

    return {
        "phone_exact": _draw(sample, lambda row: str(row[4])),
        "phone_suffix": _draw(sample, lambda row: str(row[4])[-4:]),
        "id_suffix": _draw(sample, id_tail),
        "name_1char": _draw(sample, lambda row: fragment(row, 1)),
        "name_2char": _draw(sample, lambda row: fragment(row, 2)),
        "pinyin_initials": _draw(sample, lambda row: str(row[2]) if len(row[2]) >= 2 else None),
        "pinyin_full": _draw(sample, pinyin_prefix),
        "work_order": list(orders),
        "customer_no": _draw(sample, lambda row: str(row[5])),
    }


def _sample_rows(
    fetch: Callable[[str, Sequence[Any]], list[Any]], rng: random.Random
) -> tuple[list[Any], list[str]]:
    top = int(fetch("SELECT MAX(id) FROM customer", ())[0][0] or 0)
    ids = sorted({rng.randint(1, top) for _ in range(SAMPLES * 2)})[: SAMPLES * 2] if top else []
    rng.shuffle(ids)
    rows: list[Any] = []
    for customer_id in ids:
        found = fetch(
            "SELECT c.name, c.name_pinyin, c.name_initials, c.id_card_no, "
            "(SELECT p.phone FROM customer_phone p WHERE p.customer_id = c.id "
            "ORDER BY p.is_primary DESC, p.id LIMIT 1), c.customer_no "
            "FROM customer c WHERE c.id = " + str(int(customer_id)),
            (),
        )
        if found and found[0][4]:
            rows.append(found[0])
        if len(rows) == SAMPLES:
            break
    top_order = int(fetch("SELECT MAX(id) FROM work_order", ())[0][0] or 0)
    orders: list[str] = []
    for _ in range(SAMPLES * 3 if top_order else 0):
        found = fetch(
            "SELECT number FROM work_order WHERE customer_id IS NOT NULL AND id = "
            + str(rng.randint(1, top_order)),
            (),
        )
        if found:
            orders.append(str(found[0][0]))
        if len(orders) == SAMPLES:
            break
    return rows, orders


# --- timing ---------------------------------------------------------------------------------


@contextmanager
def _captured(db: Database) -> Iterator[list[Statement]]:
    """The DBAPI statements (with their parameters) the service sends, minus transaction
    control."""
    seen: list[Statement] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        if statement.split(None, 1)[0].upper() in {"SELECT", "WITH"}:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def _median_over(queries: Sequence[str], run: Callable[[str], object]) -> float:
    for query in queries:  # warm-up: the OS page cache, SQLite's schema, PostgreSQL's plans
        run(query)
    samples: list[float] = []
    for _ in range(ROUNDS):
        for query in queries:
            start = time.perf_counter()
            run(query)
            samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def _service(db: Database) -> Callable[[str], object]:
    return lambda query: search_customers(db, actor=ACTOR, query=query)


def _statements(db: Database, queries: Sequence[str]) -> dict[str, list[Statement]]:
    out: dict[str, list[Statement]] = {}
    for query in queries:
        with _captured(db) as seen:
            search_customers(db, actor=ACTOR, query=query)
        out[query] = list(seen)
    return out


def _replay(
    execute: Callable[[str, Any], object], plan: dict[str, list[Statement]]
) -> Callable[[str], object]:
    def run(query: str) -> None:
        for statement, parameters in plan[query]:
            execute(statement, parameters)

    return run


def _hits(db: Database, queries: Sequence[str]) -> float:
    return statistics.mean(len(search_customers(db, actor=ACTOR, query=q).hits) for q in queries)


@dataclass(frozen=True)
class _Measured:
    """One kind through the service: its queries, median, and the statements it sent."""

    kind: Kind
    queries: list[str]
    value: float
    plans: dict[str, list[Statement]]
    hits: float


def _through_service(db: Database, queries: dict[str, list[str]]) -> list[_Measured]:
    measured: list[_Measured] = []
    for kind in KINDS:
        chosen = queries.get(kind.name, [])
        if chosen:
            value = _median_over(chosen, _service(db))
            measured.append(
                _Measured(kind, chosen, value, _statements(db, chosen), _hits(db, chosen))
            )
    return measured


def _kind_figures(
    prefix: str,
    measured: Sequence[_Measured],
    execute: Callable[[str, Any], object],
    baseline_label: str,
    where: str,
) -> list[Figure]:
    figures: list[Figure] = []
    for item in measured:
        baseline = _median_over(item.queries, _replay(execute, item.plans))
        kinds = sorted({"+".join(classify_query(q)) for q in item.queries})
        figures.append(
            Figure(
                name=f"{prefix}.{item.kind.name}",
                value=round(item.value, 3),
                unit="ms",
                baseline=round(baseline, 3),
                baseline_label=baseline_label,
                target=item.kind.target,
                note=(
                    f"{where}{item.kind.label}: first page (limit 50), median of "
                    f"{ROUNDS}×{len(item.queries)} random real queries, {item.hits:.1f} hits on "
                    f"average; kinds {', '.join(kinds)}"
                ),
            )
        )
    return figures


@contextmanager
def _sqlite(path: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(path)
    try:
        yield connection
    finally:
        connection.close()


def _fetcher(connection: sqlite3.Connection) -> Callable[[str, Sequence[Any]], list[Any]]:
    return lambda sql, params: connection.execute(sql, tuple(params)).fetchall()


def _replayer(connection: sqlite3.Connection) -> Callable[[str, Any], object]:
    return lambda statement, params: connection.execute(statement, params).fetchall()


# --- SQLite ---------------------------------------------------------------------------------


def _commonest_first_char(raw: sqlite3.Connection) -> tuple[str, int]:
    row = raw.execute(
        "SELECT substr(name, 1, 1) AS s, COUNT(*) AS n FROM customer GROUP BY s "
        "ORDER BY n DESC LIMIT 1"
    ).fetchone()
    char = str(row[0])
    matches = raw.execute(
        "SELECT COUNT(*) FROM customer_fts WHERE customer_fts MATCH ?", (f'"{char}"',)
    ).fetchone()[0]
    return char, int(matches)


@dataclass(frozen=True)
class _BigMatch:
    char: str
    matches: int
    first: float
    deep: float | None
    plans: dict[str, list[Statement]]


def _big_match(db: Database, char: str, matches: int) -> _BigMatch:
    first = _median_over([char] * 30, _service(db))
    page = search_customers(db, actor=ACTOR, query=char)
    for _ in range(19):
        if page.next_cursor is None:
            break
        page = search_customers(db, actor=ACTOR, query=char, after=page.next_cursor)
    cursor = page.prev_cursor
    deep = (
        _median_over(
            [char] * 30, lambda q: search_customers(db, actor=ACTOR, query=q, after=cursor)
        )
        if cursor
        else None
    )
    return _BigMatch(char, matches, first, deep, _statements(db, [char]))


def _big_match_figures(big: _BigMatch, raw: sqlite3.Connection) -> list[Figure]:
    baseline = _median_over([big.char] * 30, _replay(_replayer(raw), big.plans))
    figures = [
        Figure(
            name="search.big_match_first_page",
            value=round(big.first, 3),
            unit="ms",
            baseline=round(baseline, 3),
            baseline_label="sqlite3 replay of the same statements",
            target=RANGE_TARGET_MS,
            note=f"'{big.char}' (the commonest surname) matches {big.matches} customers; "
            "first page of 50",
        )
    ]
    if big.deep is not None:
        figures.append(
            Figure(
                name="search.big_match_page_20",
                value=round(big.deep, 3),
                unit="ms",
                target=RANGE_TARGET_MS,
                note=f"'{big.char}', page 20 by keyset cursor (no OFFSET)",
            )
        )
    return figures


def _like_figures(raw: sqlite3.Connection, fragments: Sequence[str]) -> list[Figure]:
    def first_page(fragment: str) -> object:
        return raw.execute(
            "SELECT id FROM customer WHERE name LIKE ? ORDER BY id LIMIT 51", (f"%{fragment}%",)
        ).fetchall()

    def full_count(fragment: str) -> object:
        return raw.execute(
            "SELECT COUNT(*) FROM customer WHERE name LIKE ?", (f"%{fragment}%",)
        ).fetchall()

    chosen = list(fragments)[:20]
    return [
        Figure(
            name="search.like_scan_first_page",
            value=round(_median_over(chosen, first_page), 3),
            unit="ms",
            note="context: sqlite3 LIKE '%x%' for the same 1-character fragments, first page "
            "(a scan that stops early only for common characters)",
        ),
        Figure(
            name="search.like_scan_count",
            value=round(_median_over(chosen, full_count), 3),
            unit="ms",
            note="context: sqlite3 LIKE '%x%' counted over the whole customer table (a full scan)",
        ),
    ]


def _session_figure(ctx: BenchContext) -> Figure:
    """Measured with no other connection open, as in a console: closing the last connection
    of a WAL database checkpoints it, and the next one starts cold."""

    def empty() -> None:
        with ctx.db.session(write=False):
            pass

    def raw_open() -> None:
        connection = sqlite3.connect(ctx.db_path)
        connection.execute("SELECT 1").fetchall()
        connection.close()

    value = _median_over(["x"] * 40, lambda _q: empty())
    baseline = _median_over(["x"] * 40, lambda _q: raw_open())
    return Figure(
        name="search.session_overhead",
        value=round(value, 3),
        unit="ms",
        baseline=round(baseline, 3),
        baseline_label="sqlite3.connect + SELECT 1 + close",
        note="an empty read transaction through Database.session, the fixed cost of every "
        "service call: a new connection per transaction (NullPool), its PRAGMAs, a cold page "
        "cache and schema",
    )


def _pg_figures(url: str, seed: int) -> list[Figure]:
    import psycopg

    db = Database.from_url(url)
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(plain, autocommit=True) as raw:
            rows, orders = _sample_rows(
                lambda sql, params: list(raw.execute(sql, tuple(params)).fetchall()),
                random.Random(seed),
            )
            count = int(raw.execute("SELECT COUNT(*) FROM customer").fetchone()[0])  # type: ignore[index]
        measured = _through_service(db, _queries(rows, orders, random.Random(seed + 1)))
        with psycopg.connect(plain, autocommit=True) as raw:
            return _kind_figures(
                "search.pg",
                measured,
                lambda statement, params: raw.execute(statement, params).fetchall(),
                "psycopg replay of the same statements",
                f"PostgreSQL, {count} customers; ",
            )
    finally:
        db.dispose()


def measure(ctx: BenchContext) -> list[Figure]:
    """Service figures are taken with no other connection open on the file (as in a console
    session); the raw baselines afterwards, on one sqlite3 connection held open."""
    with _sqlite(ctx.db_path) as raw:
        rows, orders = _sample_rows(_fetcher(raw), random.Random(ctx.seed))
        char, matches = _commonest_first_char(raw)
    queries = _queries(rows, orders, random.Random(ctx.seed + 1))
    measured = _through_service(ctx.db, queries)
    big = _big_match(ctx.db, char, matches)
    session = _session_figure(ctx)
    with _sqlite(ctx.db_path) as raw:
        figures = _kind_figures(
            "search", measured, _replayer(raw), "sqlite3 replay of the same statements", ""
        )
        figures += _big_match_figures(big, raw)
        figures += _like_figures(raw, queries["name_1char"])
    figures.append(session)
    pg_url = os.environ.get("DESK_BENCH_PG_URL")
    if pg_url:
        figures += _pg_figures(pg_url, ctx.seed)
    return figures


def _main(argv: list[str]) -> None:
    if not argv:
        print("usage: python -m bench.figures.search DB_FILE [--pg URL]")
        raise SystemExit(2)
    path = Path(argv[0])
    if "--pg" in argv:
        os.environ["DESK_BENCH_PG_URL"] = argv[argv.index("--pg") + 1]
    db = Database.from_url(f"sqlite:///{path}")
    customers = int(sqlite3.connect(path).execute("SELECT COUNT(*) FROM customer").fetchone()[0])
    ctx = BenchContext(db_path=path, db=db, customers=customers, days=0, seed=1)
    for figure in measure(ctx):
        ratio = f"{figure.ratio:7.1f}×" if figure.ratio is not None else "        "
        base = f"{figure.baseline:8.3f}" if figure.baseline is not None else "        "
        flag = {True: "ok ", False: "OVER", None: "   "}[figure.within_target]
        print(f"{figure.name:32} {figure.value:9.3f} {figure.unit}  base {base} {ratio} {flag}")
    db.dispose()


if __name__ == "__main__":
    _main(sys.argv[1:])
