"""Customer lookup at scale: each search kind's first page through ``search_customers``.

For every kind, :data:`SAMPLES` queries are drawn from the dataset itself (real phones, real
4-digit phone tails, real ID-card tails, real 1- and 2-character name fragments, real
initials, real full-pinyin prefixes, real work-order and customer numbers). Each figure is
the median first-page time over those queries, through the service (its own transaction,
permission check, SQL, masking), next to the baseline: the very statements the service sent,
captured at the DBAPI level and replayed through a bare driver connection held open
(``sqlite3`` or ``psycopg``; same SQL, no service around it). The gap between the two is what
the service layer costs. The same figures are taken on SQLite and on PostgreSQL.

Each query of those figures is run once before it is timed, with the database file read into
the OS page cache first (the cold starts below drop it). Apart from them, the first run
of queries never run before, in two states, kind by kind (:data:`FIRST_RUN` queries each, a
fresh connection pool each time, so only the OS page cache differs):

- steady state: the database file read into the OS page cache beforehand;
- cold start (SQLite only), as after a reboot: the file's pages dropped from the OS page cache
  (``posix_fadvise(DONTNEED)``), so the first lookups read the disk. PostgreSQL keeps its
  own buffers, which only a server restart empties: its cold start is not measured here;
- cold start, then what a console does once it started: ``warm_search_indexes`` (its time is
  a figure of its own), then the lookups.

Also measured:

- a fragment matching the most customers (the commonest surname), first page and page 20;
- ``LIKE '%x%'`` over the same 1-character fragments, as context: first page, and a full
  count (what a scan costs);
- an empty read transaction through ``Database.session``: the fixed cost every call pays.

Run on its own: ``python -m bench.figures.search URL`` (a database holding a demo).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.core import BenchContext, Figure, Raw
from sqlalchemy import event

from desk.infra.database import Database
from desk.rules.permissions import Actor
from desk.rules.vocab import Role
from desk.services.search import classify_query, search_customers, warm_search_indexes

SAMPLES = 60  # queries per kind
FIRST_RUN = 40  # queries per kind and state, none of them run before
STEADY_TARGET_MS = 2.0
COLD_TARGET_MS = 10.0
ROUNDS = 2  # each query is timed this many times after one warm-up run
EXACT_TARGET_MS = 1.0
RANGE_TARGET_MS = 10.0
PG_RANGE_TARGET_MS = 5.0  # PostgreSQL at a million customers: every kind ≤ 5 ms median
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
    Kind("work_order", "work-order number", RANGE_TARGET_MS),
    Kind("customer_no", "customer number", RANGE_TARGET_MS),
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
    fetch: Callable[[str, Sequence[Any]], list[Any]], rng: random.Random, samples: int = SAMPLES
) -> tuple[list[Any], list[str]]:
    top = int(fetch("SELECT MAX(id) FROM customer", ())[0][0] or 0)
    ids = sorted({rng.randint(1, top) for _ in range(samples * 2)})[: samples * 2] if top else []
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
        if len(rows) == samples:
            break
    top_order = int(fetch("SELECT MAX(id) FROM work_order", ())[0][0] or 0)
    orders: list[str] = []
    for _ in range(samples * 3 if top_order else 0):
        found = fetch(
            "SELECT number FROM work_order WHERE customer_id IS NOT NULL AND id = "
            + str(rng.randint(1, top_order)),
            (),
        )
        if found:
            orders.append(str(found[0][0]))
        if len(orders) == samples:
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


def _target(target: float | None, where: str) -> float | None:
    """The kind's bound; on PostgreSQL a range kind's is 5 ms (the exact phone's stays)."""
    if target is None or target == EXACT_TARGET_MS or not where.startswith("PostgreSQL"):
        return target
    return min(target, PG_RANGE_TARGET_MS)


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
                target=_target(item.kind.target, where),
                note=(
                    f"{where}{item.kind.label}: first page (limit 50), median of "
                    f"{ROUNDS}×{len(item.queries)} random real queries, {item.hits:.1f} hits on "
                    f"average; kinds {', '.join(kinds)}"
                ),
            )
        )
    return figures


# --- the big match, LIKE scans, the session ------------------------------------------------


def _commonest_first_char(raw: Raw) -> tuple[str, int]:
    row = raw.fetch(
        "SELECT substr(name, 1, 1) AS s, COUNT(*) AS n FROM customer GROUP BY substr(name, 1, 1) "
        "ORDER BY n DESC LIMIT 1"
    )[0]
    char = str(row[0])
    matches = raw.scalar("SELECT COUNT(*) FROM customer WHERE name LIKE ?", (f"%{char}%",))
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


def _big_match_figures(big: _BigMatch, raw: Raw) -> list[Figure]:
    baseline = _median_over([big.char] * 30, _replay(raw.replay, big.plans))
    figures = [
        Figure(
            name="search.big_match_first_page",
            value=round(big.first, 3),
            unit="ms",
            baseline=round(baseline, 3),
            baseline_label=f"{raw.label} replay of the same statements",
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


def _like_figures(raw: Raw, fragments: Sequence[str]) -> list[Figure]:
    def first_page(fragment: str) -> object:
        return raw.fetch(
            "SELECT id FROM customer WHERE name LIKE ? ORDER BY id LIMIT 51", (f"%{fragment}%",)
        )

    def full_count(fragment: str) -> object:
        return raw.fetch("SELECT COUNT(*) FROM customer WHERE name LIKE ?", (f"%{fragment}%",))

    chosen = list(fragments)[:20]
    return [
        Figure(
            name="search.like_scan_first_page",
            value=round(_median_over(chosen, first_page), 3),
            unit="ms",
            note=f"context: {raw.label} LIKE '%x%' for the same 1-character fragments, first "
            "page (a scan that stops early only for common characters)",
        ),
        Figure(
            name="search.like_scan_count",
            value=round(_median_over(chosen, full_count), 3),
            unit="ms",
            note=f"context: {raw.label} LIKE '%x%' counted over the whole customer table "
            "(a full scan)",
        ),
    ]


# --- first runs: steady state and cold start ---------------------------------------------------


def _fadvise(path: Path, advice: int) -> None:
    """Advise the OS about the whole of ``path`` and of its WAL (when there is one)."""
    for file in (path, path.with_name(path.name + "-wal")):
        if file.exists():
            descriptor = os.open(file, os.O_RDONLY)
            try:
                os.posix_fadvise(descriptor, 0, 0, advice)
            finally:
                os.close(descriptor)


def _drop_from_page_cache(path: Path) -> None:
    """As after a reboot: the OS page cache holds nothing of the database."""
    _fadvise(path, os.POSIX_FADV_DONTNEED)


def _read_into_page_cache(path: Path) -> None:
    """The whole file read once, so every page of it is in the OS page cache."""
    with path.open("rb") as file:
        while file.read(1 << 24):
            pass


def _fresh_queries(
    ctx: BenchContext, used: dict[str, list[str]], states: int
) -> dict[str, list[list[str]]]:
    """Per kind, ``states`` disjoint lists of queries that are not in ``used`` (never run)."""
    want = ctx.samples(FIRST_RUN)
    with ctx.raw() as raw:
        rows, orders = _sample_rows(
            raw.fetch, random.Random(ctx.seed + 101), ctx.samples(FIRST_RUN * states * 2)
        )
    drawn = _queries(rows, orders, random.Random(ctx.seed + 102))
    out: dict[str, list[list[str]]] = {}
    for kind, queries in drawn.items():
        fresh = list(dict.fromkeys(q for q in queries if q not in set(used.get(kind, []))))
        out[kind] = [fresh[index * want : (index + 1) * want] for index in range(states)]
    return out


def _first_run_median(ctx: BenchContext, queries: Sequence[str]) -> float:
    """Each query run once, timed on its first run, through a Database opened for it (a
    console that has just started)."""
    db = Database.from_url(ctx.url)
    try:
        samples = []
        for query in queries:
            start = time.perf_counter()
            search_customers(db, actor=ACTOR, query=query)
            samples.append((time.perf_counter() - start) * 1000)
    finally:
        db.dispose()
    return statistics.median(samples)


def _first_run_figures(ctx: BenchContext, used: dict[str, list[str]]) -> list[Figure]:
    cold = ctx.is_sqlite and ctx.db_path is not None
    fresh = _fresh_queries(ctx, used, 3 if cold else 1)
    figures: list[Figure] = []
    warming: list[float] = []
    for kind in KINDS:
        lists = fresh.get(kind.name, [])
        if not lists or not lists[0]:
            continue
        if ctx.db_path is not None:
            _read_into_page_cache(ctx.db_path)
        steady = _first_run_median(ctx, lists[0])
        figures.append(
            Figure(
                name=f"search.first_run_steady.{kind.name}",
                value=round(steady, 3),
                unit="ms",
                target=STEADY_TARGET_MS,
                note=f"{ctx.database_label}; {kind.label}: median of {len(lists[0])} queries "
                "never run before, each timed on its first run, the database in the OS page "
                "cache, a fresh connection pool",
            )
        )
        if cold and len(lists) > 1 and lists[1]:
            assert ctx.db_path is not None
            _drop_from_page_cache(ctx.db_path)
            value = _first_run_median(ctx, lists[1])
            figures.append(
                Figure(
                    name=f"search.first_run_cold.{kind.name}",
                    value=round(value, 3),
                    unit="ms",
                    target=COLD_TARGET_MS,
                    note=f"SQLite; {kind.label}: median of {len(lists[1])} other queries never "
                    "run before, the database's pages dropped from the OS page cache first "
                    "(as after a reboot), a fresh connection pool",
                )
            )
        if cold and len(lists) > 2 and lists[2]:
            assert ctx.db_path is not None
            _drop_from_page_cache(ctx.db_path)
            start = time.perf_counter()
            warm_search_indexes(ctx.db)
            warming.append(time.perf_counter() - start)
            value = _first_run_median(ctx, lists[2])
            figures.append(
                Figure(
                    name=f"search.first_run_warmed.{kind.name}",
                    value=round(value, 3),
                    unit="ms",
                    target=COLD_TARGET_MS,
                    note=f"SQLite; {kind.label}: a cold start, then the console's background "
                    f"warm_search_indexes, then {len(lists[2])} more queries never run before",
                )
            )
    if warming:
        figures.append(
            Figure(
                name="search.warm_up",
                value=round(statistics.median(warming), 2),
                unit="s",
                note="warm_search_indexes from a cold start (median over the kinds): what a "
                "console reads in the background after it starts",
            )
        )
    return figures


def _session_figure(ctx: BenchContext) -> Figure:
    """Measured with no other connection open, as in a console: on SQLite, closing the last
    connection of a WAL database checkpoints it, and the next one starts cold."""

    def empty() -> None:
        with ctx.db.session(write=False):
            pass

    def raw_open() -> None:
        with ctx.raw() as raw:
            raw.fetch("SELECT 1")

    value = _median_over(["x"] * 40, lambda _q: empty())
    baseline = _median_over(["x"] * 40, lambda _q: raw_open())
    label = "sqlite3.connect" if ctx.is_sqlite else "psycopg.connect"
    return Figure(
        name="search.session_overhead",
        value=round(value, 3),
        unit="ms",
        baseline=round(baseline, 3),
        baseline_label=f"{label} + SELECT 1 + close",
        note="an empty read transaction through Database.session, the fixed cost of every "
        "service call (a pooled connection: its PRAGMAs or its round trips, BEGIN and COMMIT)",
    )


def measure(ctx: BenchContext) -> list[Figure]:
    """Service figures are taken with no other connection open on the database (as in a
    console session); the raw baselines afterwards, on one bare connection held open."""
    with ctx.raw() as raw:
        rows, orders = _sample_rows(raw.fetch, random.Random(ctx.seed), ctx.samples(SAMPLES))
        char, matches = _commonest_first_char(raw)
    queries = _queries(rows, orders, random.Random(ctx.seed + 1))
    first_runs = _first_run_figures(ctx, queries)  # before anything below runs a query
    if ctx.db_path is not None:
        # the cold starts left the file out of the OS page cache: the figures below are the
        # steady state, as on a database the console has been reading
        _read_into_page_cache(ctx.db_path)
    measured = _through_service(ctx.db, queries)
    big = _big_match(ctx.db, char, matches)
    session = _session_figure(ctx)
    with ctx.raw() as raw:
        figures = _kind_figures(
            "search",
            measured,
            raw.replay,
            f"{raw.label} replay of the same statements",
            f"{ctx.database_label}; ",
        )
        figures += _big_match_figures(big, raw)
        figures += _like_figures(raw, queries["name_1char"])
    figures.append(session)
    return first_runs + figures


def _main(argv: list[str]) -> None:
    if len(argv) != 1:
        print("usage: python -m bench.figures.search URL")
        raise SystemExit(2)
    from desk.demo import demo_params

    url = argv[0]
    db = Database.from_url(url)
    params = demo_params(db)
    path = Path(url.split("///", 1)[1]) if url.startswith("sqlite") else None
    ctx = BenchContext(
        db=db, customers=params.customers if params else 0, days=0, seed=1, url=url, db_path=path
    )
    for figure in measure(ctx):
        ratio = f"{figure.ratio:7.1f}×" if figure.ratio is not None else "        "
        base = f"{figure.baseline:8.3f}" if figure.baseline is not None else "        "
        flag = {True: "ok ", False: "OVER", None: "   "}[figure.within_target]
        print(f"{figure.name:32} {figure.value:9.3f} {figure.unit}  base {base} {ratio} {flag}")
    db.dispose()


if __name__ == "__main__":
    _main(sys.argv[1:])
