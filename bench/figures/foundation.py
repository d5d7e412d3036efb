"""Foundation figures: the demo build, a phone lookup, and the size of the database.

- ``demo.build``: seconds ``bench/run.py`` took to build the dataset (scratch database,
  migrations, every table, moved into place), next to the raw floor any build of that many
  customers pays: the same number of customer rows with the same columns written by the bare
  driver into a fresh table (``sqlite3`` ``executemany`` in one transaction; ``psycopg``
  ``COPY``). Targets: 60 s per million customers on SQLite, 180 s on PostgreSQL.
- ``search.phone_lookup``: a caller's number found through the service layer
  (``desk.services.search.search_customers``, as the intake screen does), the median over
  many random phones, next to the bare driver's point query joining ``customer_phone`` to
  ``customer``.
- ``db.size``: the database in MB (the file; ``pg_database_size``), next to the customer
  table's share.
"""

from __future__ import annotations

import random
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.core import BenchContext, Figure, median_ms

from desk.demo.customers import CUSTOMER_COLUMNS

BUILD_TARGET_SECONDS_PER_MILLION = {"sqlite": 60.0, "postgresql": 180.0}
PHONE_TARGET_MS = 1.0  # issue 3: an exact phone in at most 1 ms at a million customers
SAMPLES = 300


def _customer_rows(count: int) -> Iterator[tuple[Any, ...]]:
    return (
        (
            i,
            f"C{i:09d}",
            "张伟",
            "张 伟",
            "zhangwei",
            "zw",
            "33010619850307123X",
            "X32170358910601033",
            None,
            "standard",
            0,
            None,
            None,
            None,
            "1985-03-07",
            "杭州市西湖区文三路188号",
            "杭州市西湖区",
            1,
            "active",
            1_000,
            0,
            None,
            None,
            "2026-11-01 10:00:00.000000",
            None,
            "2020-01-01 10:00:00.000000",
        )
        for i in range(1, count + 1)
    )


def raw_customer_insert_seconds(count: int) -> float:
    """A fresh SQLite file, one table with the customer columns, ``count`` rows through one
    ``executemany`` in one transaction, synchronous off: the raw floor."""
    with tempfile.TemporaryDirectory(prefix="desk-baseline-") as folder:
        connection = sqlite3.connect(Path(folder) / "raw.db", isolation_level=None)
        connection.execute("PRAGMA journal_mode=MEMORY")
        connection.execute("PRAGMA synchronous=OFF")
        columns = ", ".join(
            f"{name} INTEGER PRIMARY KEY" if name == "id" else name for name in CUSTOMER_COLUMNS
        )
        connection.execute(f"CREATE TABLE customer ({columns})")
        marks = ", ".join("?" for _ in CUSTOMER_COLUMNS)
        rows = _customer_rows(count)
        started = time.perf_counter()
        connection.execute("BEGIN")
        connection.executemany(f"INSERT INTO customer VALUES ({marks})", rows)
        connection.execute("COMMIT")
        seconds = time.perf_counter() - started
        connection.close()
    return seconds


def raw_customer_copy_seconds(ctx: BenchContext, count: int) -> float:
    """PostgreSQL: ``count`` customer rows through one ``COPY`` into a temporary table with
    the customer columns (a primary key only), the driver's floor."""
    with ctx.raw() as raw:
        connection = raw.connection
        columns = ", ".join(
            f"{name} bigint PRIMARY KEY" if name == "id" else f"{name} text"
            for name in CUSTOMER_COLUMNS
        )
        with connection.transaction():
            connection.execute(f"CREATE TEMP TABLE raw_customer ({columns}) ON COMMIT DROP")
            started = time.perf_counter()
            statement = f"COPY raw_customer ({', '.join(CUSTOMER_COLUMNS)}) FROM STDIN"
            with connection.cursor() as cursor, cursor.copy(statement) as copy:
                for row in _customer_rows(count):
                    copy.write_row(row)
            seconds = time.perf_counter() - started
    return seconds


def _phones(ctx: BenchContext, count: int) -> list[str]:
    rng = random.Random(ctx.seed)
    ids = rng.sample(range(1, ctx.customers + 1), min(count, ctx.customers))
    marks = ", ".join("?" for _ in ids)
    with ctx.raw() as raw:
        found = raw.fetch(
            f"SELECT phone FROM customer_phone WHERE customer_id IN ({marks}) AND is_primary",
            ids,
        )
    phones = [str(row[0]) for row in found]
    rng.shuffle(phones)
    return phones


def _cycle(values: list[str]):  # type: ignore[no-untyped-def]
    index = 0

    def take() -> str:
        nonlocal index
        index = (index + 1) % len(values)
        return values[index]

    return take


def phone_lookup(ctx: BenchContext) -> Figure:
    phones = _phones(ctx, ctx.samples(SAMPLES))
    next_raw = _cycle(phones)
    with ctx.raw() as raw:

        def raw_query() -> None:
            row = raw.fetch(
                "SELECT c.id, c.name FROM customer_phone p "
                "JOIN customer c ON c.id = p.customer_id WHERE p.phone = ?",
                (next_raw(),),
            )
            assert row

        baseline = median_ms(raw_query, repeat=len(phones))
        label = raw.label
    next_phone = _cycle(phones)
    from desk.rules.permissions import Actor
    from desk.rules.vocab import Role
    from desk.services.search import search_customers

    actor = Actor(user_id=1, login="agent1", role=Role.AGENT)

    def service_lookup() -> None:
        page = search_customers(ctx.db, actor=actor, query=next_phone(), limit=20)
        assert page.hits

    value = median_ms(service_lookup, repeat=len(phones))
    return Figure(
        name="search.phone_lookup",
        value=value,
        unit="ms",
        baseline=baseline,
        baseline_label=f"{label} SELECT by customer_phone.phone joined to customer",
        target=PHONE_TARGET_MS,
        note=f"search_customers: median of {len(phones)} random caller numbers",
    )


def database_size(ctx: BenchContext) -> Figure:
    if not ctx.is_sqlite:
        with ctx.raw() as raw:
            size = int(raw.scalar("SELECT pg_database_size(current_database())"))
            customer = int(raw.scalar("SELECT pg_total_relation_size('customer')"))
        return Figure(
            name="db.size",
            value=size / 1e6,
            unit="MB",
            baseline=customer / 1e6,
            baseline_label="customer table",
            note="pg_database_size; baseline: the customer table with its indexes and TOAST",
        )
    assert ctx.db_path is not None
    connection = sqlite3.connect(ctx.db_path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        customer_bytes: float | None
        try:
            customer_bytes = connection.execute(
                "SELECT SUM(pgsize) FROM dbstat WHERE name = 'customer'"
            ).fetchone()[0]
            note = "baseline: the customer table alone (dbstat)"
        except sqlite3.OperationalError:
            customer_bytes, note = None, "dbstat not compiled into this SQLite"
    finally:
        connection.close()
    file_size = ctx.db_path.stat().st_size
    return Figure(
        name="db.size",
        value=file_size / 1e6,
        unit="MB",
        baseline=None if customer_bytes is None else customer_bytes / 1e6,
        baseline_label="customer table",
        note=note,
    )


def build_time(ctx: BenchContext) -> Figure | None:
    """None when the dataset was reused, not built."""
    if "demo_build_seconds" not in ctx.extra:
        return None
    seconds = float(ctx.extra["demo_build_seconds"])
    backlog = int(ctx.extra.get("backlog", 0))
    millions = ctx.customers / 1_000_000
    if ctx.is_sqlite:
        baseline = raw_customer_insert_seconds(ctx.customers)
        label = f"sqlite3 executemany of {ctx.customers:,} customer rows"
    else:
        baseline = raw_customer_copy_seconds(ctx, ctx.customers)
        label = f"psycopg COPY of {ctx.customers:,} customer rows"
    per_million = BUILD_TARGET_SECONDS_PER_MILLION[ctx.dialect]
    load = ctx.extra.get("demo_build_load")
    return Figure(
        name="demo.build",
        value=seconds,
        unit="s",
        baseline=baseline,
        baseline_label=label,
        # The bound is for the plain demo; a --backlog adds work it does not cover.
        target=None if backlog else per_million * max(1.0, millions),
        note=f"{ctx.customers:,} customers, {ctx.days} days, backlog {backlog:,} "
        f"(whole demo: every table); load average before → after: {load}",
    )


def measure(ctx: BenchContext) -> list[Figure]:
    build = build_time(ctx)
    return [*([build] if build else []), phone_lookup(ctx), database_size(ctx)]
