"""Writing the demo in bulk: one connection, executemany (SQLite) or COPY (PostgreSQL).

Rows are tuples of values already in the form both databases accept as text: instants as
``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC (what SQLAlchemy stores in SQLite; the PostgreSQL
session runs in UTC while loading), dates as ISO strings, booleans as 0/1, JSON as text.
Secondary indexes of the big tables are dropped while loading and created again from their
own stored definitions afterwards, so the end state is the migrated schema, byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

Row = tuple[Any, ...]


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_CLOCK = tuple(f" {minute // 60:02d}:{minute % 60:02d}:" for minute in range(1440))
_SECONDS = tuple(f"{second:02d}.000000" for second in range(60))


class Stamps:
    """Epoch seconds → the stored text of an instant (``YYYY-MM-DD HH:MM:SS.000000``),
    caching the date part."""

    def __init__(self) -> None:
        self._days: dict[int, str] = {}

    def __call__(self, seconds: int) -> str:
        day, rest = divmod(seconds, 86_400)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = self._days[day] = date.fromordinal(_EPOCH_ORDINAL + day).isoformat()
        minute, second = divmod(rest, 60)
        return prefix + _CLOCK[minute] + _SECONDS[second]

    def maybe(self, seconds: int | None) -> str | None:
        return None if seconds is None else self(seconds)


@dataclass(frozen=True)
class SavedObject:
    kind: str  # "index" | "trigger"
    name: str
    ddl: str
    table: str


class Sink:
    """Bulk writes on one open connection inside the caller's transaction."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect.name
        self.is_sqlite = self.dialect == "sqlite"
        self._driver: Any = connection.connection.driver_connection
        self.rows_written: dict[str, int] = {}

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[Row]) -> int:
        """Write every row; returns how many."""
        counter = _Counter(rows)
        names = ", ".join(columns)
        if self.is_sqlite:
            marks = ", ".join("?" for _ in columns)
            cursor = self._driver.cursor()
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", counter)
            cursor.close()
        else:
            with (
                self._driver.cursor() as cursor,
                cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
            ):
                for row in counter:
                    copy.write_row(row)
        self.rows_written[table] = self.rows_written.get(table, 0) + counter.count
        return counter.count

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> int:
        """A set-based statement; returns the rows it touched."""
        result = self.connection.execute(text(sql), params or {})
        return result.rowcount if result.rowcount is not None else 0

    def scalar(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        return self.connection.execute(text(sql), params or {}).scalar()

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[Row]:
        return [tuple(row) for row in self.connection.execute(text(sql), params or {})]

    # --- indexes and triggers off while loading ----------------------------------------

    def suspend(self, tables: Sequence[str], *, triggers: bool = False) -> list[SavedObject]:
        """Drop the secondary indexes (and, on SQLite, the triggers) of ``tables``."""
        saved: list[SavedObject] = []
        for table in tables:
            if self.is_sqlite:
                kinds = ("index", "trigger") if triggers else ("index",)
                for kind in kinds:
                    for name, ddl in self.rows(
                        "SELECT name, sql FROM sqlite_master WHERE type = :kind "
                        "AND tbl_name = :table AND sql IS NOT NULL ORDER BY name",
                        {"kind": kind, "table": table},
                    ):
                        saved.append(SavedObject(kind, name, ddl, table))
            else:
                for name, ddl in self.rows(
                    "SELECT i.indexname, i.indexdef FROM pg_indexes i "
                    "WHERE i.schemaname = current_schema() AND i.tablename = :table "
                    "AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
                    "WHERE c.conname = i.indexname) ORDER BY i.indexname",
                    {"table": table},
                ):
                    saved.append(SavedObject("index", name, ddl, table))
        for item in saved:
            self.connection.exec_driver_sql(f'DROP {item.kind.upper()} "{item.name}"')
        return saved

    def restore(self, saved: Sequence[SavedObject]) -> None:
        for item in saved:
            self.connection.exec_driver_sql(item.ddl)

    def reset_sequences(self, tables: Sequence[str]) -> None:
        """PostgreSQL: move each ``id`` sequence past the ids written explicitly."""
        if self.is_sqlite:
            return
        for table in tables:
            self.connection.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            )


class _Counter:
    """Counts rows as the driver pulls them (executemany takes any iterator)."""

    def __init__(self, rows: Iterable[Row]) -> None:
        self._rows = iter(rows)
        self.count = 0

    def __iter__(self) -> Iterator[Row]:
        return self

    def __next__(self) -> Row:
        row = next(self._rows)
        self.count += 1
        return row
