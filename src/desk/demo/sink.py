"""Writing the demo in bulk: one connection, executemany (SQLite) or COPY (PostgreSQL).

Rows are tuples of values already in the form both databases accept as text: instants as
``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC (what SQLAlchemy stores in SQLite; the PostgreSQL
session runs in UTC while loading), dates as ISO strings, booleans as 0/1, JSON as text.

While loading, what would check or index each row is set aside and made again afterwards
from its own stored definition, so the end state is the migrated schema:

- SQLite: the secondary indexes and the triggers of the big tables (foreign keys are off on
  the loading connection);
- PostgreSQL: every foreign key, primary key, unique constraint and index of the schema. Keys
  and indexes are then built in one sort each, and a foreign key is checked by one join
  instead of one look-up per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import column, false, func, insert, select, table, text
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnClause

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


# Kinds of what is set aside, in the order they are made again (a foreign key needs the key it
# refers to; an index on PostgreSQL may be a constraint's).
KEY = "key"  # PostgreSQL primary key or unique constraint
INDEX = "index"
TRIGGER = "trigger"
FOREIGN_KEY = "foreign key"
_RESTORE_ORDER = {KEY: 0, INDEX: 1, TRIGGER: 2, FOREIGN_KEY: 3}


@dataclass(frozen=True)
class SavedObject:
    kind: str  # KEY, INDEX, TRIGGER or FOREIGN_KEY
    name: str
    ddl: str  # the statement that makes it again
    drop: str  # the statement that removes it
    table: str


class Sink:
    """Bulk writes on one open connection inside the caller's transaction."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect.name
        self.is_sqlite = self.dialect == "sqlite"
        self._driver: Any = connection.connection.driver_connection
        self._quote = connection.dialect.identifier_preparer.quote
        self._inserts: dict[tuple[str, tuple[str, ...]], Any] = {}
        self.rows_written: dict[str, int] = {}

    def insert(self, table_name: str, columns: Sequence[str], rows: Iterable[Row]) -> int:
        """Write every row; returns how many."""
        counter = _Counter(rows)
        if self.is_sqlite:
            cursor = self._driver.cursor()
            cursor.executemany(self._insert_sql(table_name, tuple(columns)), counter)
            cursor.close()
        else:
            from psycopg import sql as pg_sql

            statement = pg_sql.SQL("COPY {} ({}) FROM STDIN").format(
                pg_sql.Identifier(table_name),
                pg_sql.SQL(", ").join(pg_sql.Identifier(name) for name in columns),
            )
            with self._driver.cursor() as cursor, cursor.copy(statement) as copy:
                for row in counter:
                    copy.write_row(row)
        self.rows_written[table_name] = self.rows_written.get(table_name, 0) + counter.count
        return counter.count

    def _insert_sql(self, table_name: str, columns: tuple[str, ...]) -> str:
        """``INSERT INTO t (…) VALUES (?, …)`` composed by SQLAlchemy for the DBAPI cursor."""
        key = (table_name, columns)
        found = self._inserts.get(key)
        if found is None:
            target = table(table_name, *(column(name) for name in columns))
            found = self._inserts[key] = str(
                insert(target).compile(dialect=self.connection.dialect, column_keys=list(columns))
            )
        return found

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> int:
        """A set-based statement; returns the rows it touched."""
        result = self.connection.execute(text(sql), params or {})
        return result.rowcount if result.rowcount is not None else 0

    def scalar(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        return self.connection.execute(text(sql), params or {}).scalar()

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[Row]:
        return [tuple(row) for row in self.connection.execute(text(sql), params or {})]

    def count(self, table_name: str) -> int:
        return int(
            self.connection.execute(select(func.count()).select_from(table(table_name))).scalar()
            or 0
        )

    def has_rows(self, table_name: str) -> bool:
        found = self.connection.execute(select(text("1")).select_from(table(table_name)).limit(1))
        return found.first() is not None

    # --- what checks and indexes rows, set aside while loading ---------------------------

    def suspend(self, tables: Sequence[str] | None = None) -> list[SavedObject]:
        """Set aside what checks or indexes rows of ``tables`` (PostgreSQL: None for every
        table of the schema); returns what to :meth:`restore`."""
        saved = self._sqlite_saved(tables or ()) if self.is_sqlite else self._pg_saved(tables)
        # Foreign keys first (they depend on keys), then indexes, then keys.
        for item in sorted(saved, key=lambda item: -_RESTORE_ORDER[item.kind]):
            self.connection.exec_driver_sql(item.drop)
        return saved

    def restore(self, saved: Sequence[SavedObject]) -> None:
        for item in sorted(saved, key=lambda item: _RESTORE_ORDER[item.kind]):
            self.connection.exec_driver_sql(item.ddl)

    def _sqlite_saved(self, tables: Sequence[str]) -> list[SavedObject]:
        saved: list[SavedObject] = []
        for table_name in tables:
            for kind in (INDEX, TRIGGER):
                for name, ddl in self.rows(
                    "SELECT name, sql FROM sqlite_master WHERE type = :kind "
                    "AND tbl_name = :table AND sql IS NOT NULL ORDER BY name",
                    {"kind": kind, "table": table_name},
                ):
                    drop = f"DROP {kind.upper()} {self._quote(name)}"
                    saved.append(SavedObject(kind, name, ddl, drop, table_name))
        return saved

    def _pg_saved(self, tables: Sequence[str] | None) -> list[SavedObject]:
        """Foreign keys from or to ``tables``, their primary keys and unique constraints, and
        their other indexes, with the statements that make each again."""
        wanted = list(tables) if tables is not None else None
        saved: list[SavedObject] = []
        constraints = self.rows(
            "SELECT c.conname, t.relname, r.relname, c.contype, pg_get_constraintdef(c.oid) "
            "FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
            "LEFT JOIN pg_class r ON r.oid = c.confrelid "
            "WHERE c.connamespace = current_schema()::regnamespace "
            "AND c.contype IN ('f', 'p', 'u') "
            "ORDER BY c.contype, t.relname, c.conname"
        )
        for name, owner, referred, kind, definition in constraints:
            touches = wanted is None or owner in wanted or (kind == "f" and referred in wanted)
            if not touches:
                continue
            on = f"ALTER TABLE {self._quote(owner)}"
            saved.append(
                SavedObject(
                    FOREIGN_KEY if kind == "f" else KEY,
                    name,
                    f"{on} ADD CONSTRAINT {self._quote(name)} {definition}",
                    f"{on} DROP CONSTRAINT {self._quote(name)}",
                    owner,
                )
            )
        for name, owner, ddl in self.rows(
            "SELECT i.indexname, i.tablename, i.indexdef FROM pg_indexes i "
            "WHERE i.schemaname = current_schema() AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
            "WHERE c.conname = i.indexname AND c.connamespace = current_schema()::regnamespace) "
            "ORDER BY i.tablename, i.indexname"
        ):
            if wanted is None or owner in wanted:
                drop = f"DROP INDEX {self._quote(name)}"
                saved.append(SavedObject(INDEX, name, ddl, drop, owner))
        return saved

    def reset_sequences(self, tables: Sequence[str]) -> None:
        """PostgreSQL: move each ``id`` sequence past the ids written explicitly."""
        if self.is_sqlite:
            return
        for table_name in tables:
            ids: ColumnClause[int] = column("id")
            self.connection.execute(
                select(
                    func.setval(
                        func.pg_get_serial_sequence(table_name, "id"),
                        func.coalesce(func.max(ids), 0) + 1,
                        false(),
                    )
                ).select_from(table(table_name, ids))
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
