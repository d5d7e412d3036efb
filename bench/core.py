"""What every benchmark figure shares: the context it measures in and how it reports.

The contract for a figure module ``bench/figures/<topic>.py``::

    def measure(ctx: BenchContext) -> list[Figure]

``bench/run.py`` builds (or reuses) a demo dataset on SQLite or PostgreSQL and calls every
module with a context on it. A module must run unchanged on both databases:

- ``ctx.db`` is desk's :class:`~desk.infra.database.Database` on the dataset: measure desk
  through it, as the console uses it (services, screens in ``App.run_test``).
- ``ctx.raw()`` opens a plain DBAPI connection outside desk (``sqlite3``, or ``psycopg`` in
  autocommit) for the **baseline**: the same question answered by the bare driver, in the same
  run. ``raw.fetch(sql, params)`` takes ``?`` placeholders on both databases;
  ``raw.replay(statement, parameters)`` sends a statement captured from desk's own driver
  (its placeholders as they are). ``raw.label`` names the driver for ``baseline_label``.
- ``ctx.copy()`` gives a throwaway copy of the dataset (another file; on PostgreSQL another
  database made from this one as a template), for figures that write. Close every raw
  connection to the dataset first: PostgreSQL copies a database no one is connected to.
- ``ctx.dialect`` (``"sqlite"`` or ``"postgresql"``) for the rare figure whose SQL differs;
  ``ctx.db_path`` is the SQLite file (None on PostgreSQL); ``ctx.url`` the dataset's URL.
- ``ctx.extra`` carries facts between modules (the build's seconds and row counts).
- ``ctx.quick`` (``--quick``, for the runner's own tests): take a few samples, run scenarios
  for a few seconds; the figures then only prove the module runs.
- ``ctx.samples(n)`` is ``n``, or a handful when quick.

A figure's name is the same on both databases (``search.phone_exact``); the runner records
which database and size it was measured on, and prints them side by side (``--compare``) or
as growth over sizes (``--customers 1000000,3000000``). Each figure is measured next to its
baseline so the ratio means something on any machine; ``target`` is the issue's bound.
"""

from __future__ import annotations

import re
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from desk.infra.database import Database, normalise_url


@dataclass(frozen=True)
class Figure:
    name: str  # e.g. "search.phone_exact"
    value: float  # desk's figure
    unit: str  # "ms", "s", "MB", "rows"
    baseline: float | None = None  # the raw baseline, same unit
    baseline_label: str = ""  # what the baseline is, e.g. "sqlite3 SELECT by index"
    target: float | None = None  # the bound on ``value``, same unit (lower is better)
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    @property
    def within_target(self) -> bool | None:
        return None if self.target is None else self.value <= self.target

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "within_target": self.within_target}


class Raw:
    """A bare DBAPI connection for baselines (see the module docstring)."""

    def __init__(self, connection: Any, dialect: str) -> None:
        self.connection = connection
        self.dialect = dialect
        self.label = "sqlite3" if dialect == "sqlite" else "psycopg"

    def _native(self, sql: str) -> str:
        return sql if self.dialect == "sqlite" else sql.replace("%", "%%").replace("?", "%s")

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` (``?`` placeholders)."""
        cursor = self.connection.execute(self._native(sql), tuple(params))
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self.fetch(sql, params)
        return rows[0][0] if rows else None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.connection.execute(self._native(sql), tuple(params))

    def replay(self, statement: str, parameters: Any) -> list[tuple[Any, ...]]:
        """A statement as desk's driver sent it (its own placeholders and parameters)."""
        cursor = self.connection.execute(statement, parameters)
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []


@dataclass
class BenchContext:
    db: Database  # desk's Database on the dataset
    customers: int
    days: int
    seed: int
    url: str = ""  # the dataset's URL (default: the SQLite file of ``db_path``)
    db_path: Path | None = None  # the SQLite file; None on PostgreSQL
    quick: bool = False  # a few samples only (the runner's tests)
    extra: dict[str, Any] = field(default_factory=dict)  # figures may leave facts for others

    def __post_init__(self) -> None:
        if not self.url:
            if self.db_path is None:
                raise ValueError("a BenchContext needs a url or a db_path")
            self.url = f"sqlite:///{self.db_path}"
        self.url = normalise_url(self.url)

    def samples(self, count: int) -> int:
        """How many samples to take: ``count``, or a handful in a quick run."""
        return min(count, 5) if self.quick else count

    @property
    def dialect(self) -> str:
        return "sqlite" if self.url.startswith("sqlite") else "postgresql"

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def database_label(self) -> str:
        return "SQLite" if self.is_sqlite else "PostgreSQL"

    @contextmanager
    def raw(self) -> Iterator[Raw]:
        """A bare connection to the dataset, closed on exit."""
        if self.is_sqlite:
            assert self.db_path is not None
            connection: Any = sqlite3.connect(self.db_path, isolation_level=None)
        else:
            import psycopg

            connection = psycopg.connect(_libpq_url(self.url), autocommit=True)
        try:
            yield Raw(connection, self.dialect)
        finally:
            connection.close()

    @contextmanager
    def copy(self) -> Iterator[BenchContext]:
        """A throwaway copy of the dataset (same facts), removed on exit."""
        if self.is_sqlite:
            assert self.db_path is not None
            path = self.db_path.with_name(self.db_path.stem + "-copy.db")
            _remove_sqlite(path)
            with (
                closing(sqlite3.connect(self.db_path)) as source,
                closing(sqlite3.connect(path)) as target,
            ):
                source.backup(target)
            copy = replace(self, db=Database.from_url(f"sqlite:///{path}"), db_path=path, url="")
            try:
                yield copy
            finally:
                copy.db.dispose()
                _remove_sqlite(path)
            return
        from sqlalchemy.engine import make_url

        url = make_url(self.url)
        name = f"{url.database}_copy"
        self.db.dispose()
        _pg_admin(self.url, f'DROP DATABASE IF EXISTS "{name}"')
        _pg_admin(
            self.url,
            f'CREATE DATABASE "{name}" TEMPLATE "{url.database}" STRATEGY FILE_COPY',
            retry=True,
        )
        copy_url = url.set(database=name).render_as_string(hide_password=False)
        copy = replace(self, db=Database.from_url(copy_url), url=copy_url, db_path=None)
        try:
            yield copy
        finally:
            copy.db.dispose()
            _pg_admin(self.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _pg_admin(url: str, statement: str, *, retry: bool = False) -> None:
    """A statement that runs outside a transaction, from the server's maintenance database.
    ``retry``: a template is refused while a session (autovacuum) is still on it."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(url).set(database="postgres").render_as_string(hide_password=False)
    for attempt in range(20 if retry else 1):
        try:
            with psycopg.connect(_libpq_url(admin), autocommit=True) as connection:
                connection.execute(statement.encode())
            return
        except psycopg.errors.ObjectInUse:
            if attempt == 19 or not retry:
                raise
            time.sleep(0.5)


Statement = tuple[str, Any]
_WRITES = re.compile(r"\b(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


@contextmanager
def captured(db: Database) -> Iterator[list[Statement]]:
    """The reading statements (``SELECT``, or ``WITH`` that writes nothing, with their
    parameters) desk's driver sends while the block runs: replay them with :meth:`Raw.replay`
    for a baseline. A ``WITH entry AS (INSERT ...) UPDATE ...`` (an audit entry on PostgreSQL)
    is a write: replayed, it would insert the same entry again."""
    from sqlalchemy import event

    seen: list[Statement] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        first = statement.split(None, 1)[0].upper()
        if first == "SELECT" or (first == "WITH" and not _WRITES.search(statement)):
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def median_ms(func: Callable[[], object], *, repeat: int = 50, warmup: int = 3) -> float:
    """The median wall time of ``func`` in milliseconds."""
    for _ in range(warmup):
        func()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def percentiles_ms(samples: Sequence[float]) -> tuple[float, float, float]:
    """p50, p95 and p99 of ``samples`` (milliseconds), nearest-rank."""
    ordered = sorted(samples)
    if not ordered:
        return (0.0, 0.0, 0.0)

    def rank(p: float) -> float:
        index = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
        return ordered[index]

    return rank(50), rank(95), rank(99)
