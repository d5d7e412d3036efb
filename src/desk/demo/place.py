"""Where a demo is built before it becomes the database: a scratch place moved in at the end.

A build killed at any moment (Ctrl+C, SIGKILL, a full disk, a power cut) leaves the target
database as it was, and only a scratch place that desk never opens as a database:

- **SQLite**: the build writes ``<file>.building`` next to the target file (and its helper
  ``<file>.building-part``); at the end the file is synced and renamed over the target, which
  is atomic.
- **PostgreSQL**: the build writes into the schema ``desk_demo_build`` of the target database;
  at the end one transaction drops the target schema's desk tables and functions and moves the
  new ones in (``ALTER … SET SCHEMA``), so the target holds the old data or the new, never
  half. An advisory lock keeps two builds of one database apart.

A leftover scratch place from an earlier, killed build is removed before the next one starts.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url

from desk.infra import migrations
from desk.infra.database import Database, create_engine
from desk.infra.errors import DeskError

BUILD_SCHEMA = "desk_demo_build"
_LOCK_KEY = "desk demo build"  # hashed into the advisory lock's key


class BuildInProgress(DeskError):
    title = "Demo build in progress"


class ScratchPlace:
    """The scratch database of one build: :meth:`prepare` it, build into it, then
    :meth:`adopt` it as the target, or :meth:`discard` it."""

    def __init__(self, target: Database) -> None:
        self.target = target
        self.scratch: Database | None = None

    @property
    def url(self) -> str:
        """The scratch database's URL, for another process of the build."""
        assert self.scratch is not None
        return self.scratch.engine.url.render_as_string(hide_password=False)

    def prepare(self, *, from_target: bool = False) -> Database:
        """The scratch database, migrated; ``from_target``: a copy of the target, which is an
        empty database at the current schema (SQLite: the same schema text, byte for byte)."""
        raise NotImplementedError

    def adopt(self) -> None:
        raise NotImplementedError

    def discard(self) -> None:
        raise NotImplementedError

    def part_url(self) -> str | None:
        """Where a helper process writes its rows: its own file on SQLite (copied in at the
        end), the scratch schema itself on PostgreSQL (None)."""
        return None


def scratch_place(target: Database) -> ScratchPlace:
    return ScratchFile(target) if target.is_sqlite else ScratchSchema(target)


# --- SQLite ---------------------------------------------------------------------------------

_SQLITE_SUFFIXES = ("", "-journal", "-wal", "-shm")


class ScratchFile(ScratchPlace):
    def __init__(self, target: Database) -> None:
        super().__init__(target)
        database = target.engine.url.database
        if not database or database == ":memory:":
            raise DeskError("a demo is built into a database file, not an in-memory database")
        self.path = Path(database)
        self.file = self.path.with_name(self.path.name + ".building")
        self.part = self.path.with_name(self.path.name + ".building-part")

    def prepare(self, *, from_target: bool = False) -> Database:
        self._remove_leftovers()
        if from_target:
            with (
                closing(sqlite3.connect(self.path)) as source,
                closing(sqlite3.connect(self.file)) as copy,
            ):
                source.backup(copy)
        self.scratch = Database.from_url(f"sqlite:///{self.file}", clock=self.target.clock)
        if not from_target:
            migrations.upgrade(self.scratch)
        return self.scratch

    def part_url(self) -> str | None:
        return f"sqlite:///{self.part}"

    def adopt(self) -> None:
        """Checkpoint and sync the scratch file, then rename it over the target."""
        assert self.scratch is not None
        with self.scratch.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        self.scratch.dispose()
        _remove(self.part)
        descriptor = os.open(self.file, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        self.target.dispose()
        for suffix in _SQLITE_SUFFIXES[1:]:  # the old file's journal must not meet the new one
            _remove(self.path.with_name(self.path.name + suffix))
        os.replace(self.file, self.path)
        for suffix in _SQLITE_SUFFIXES[1:]:
            _remove(self.file.with_name(self.file.name + suffix))
        _sync_directory(self.path.parent)

    def discard(self) -> None:
        if self.scratch is not None:
            self.scratch.dispose()
        self._remove_leftovers()

    def _remove_leftovers(self) -> None:
        for base in (self.file, self.part):
            for suffix in _SQLITE_SUFFIXES:
                _remove(base.with_name(base.name + suffix))


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def _sync_directory(directory: Path) -> None:
    """Make a rename durable (where the platform can open a directory)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def create_part_file(url: str, tables: list[str]) -> None:
    """The helper's own SQLite file, holding ``tables`` (their statements), without indexes."""
    database = make_url(url).database
    assert database is not None
    part = sqlite3.connect(database, isolation_level=None)
    try:
        for statement in tables:
            part.execute(statement)
    finally:
        part.close()


# --- PostgreSQL -----------------------------------------------------------------------------


class ScratchSchema(ScratchPlace):
    def __init__(self, target: Database) -> None:
        super().__init__(target)
        self._lock: Connection | None = None
        self.schema = BUILD_SCHEMA

    def prepare(self, *, from_target: bool = False) -> Database:
        del from_target  # the schema is made again by name: nothing to keep byte for byte
        self._take_lock()
        with self.target.engine.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
            connection.exec_driver_sql(f'CREATE SCHEMA "{self.schema}"')
        url = self.target.engine.url.update_query_dict({"options": f"-c search_path={self.schema}"})
        self.scratch = Database(
            engine=create_engine(url.render_as_string(hide_password=False)),
            clock=self.target.clock,
        )
        migrations.upgrade(self.scratch)
        return self.scratch

    def adopt(self) -> None:
        """One transaction: the target schema's desk objects out, the scratch's in."""
        assert self.scratch is not None
        self.scratch.dispose()
        with self.target.engine.begin() as connection:
            _move_schema(connection, self.schema)
        self.target.dispose()  # pooled connections may hold plans of the dropped tables
        self._release_lock()

    def discard(self) -> None:
        if self.scratch is not None:
            self.scratch.dispose()
        try:
            with self.target.engine.begin() as connection:
                connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        finally:
            self._release_lock()

    def _take_lock(self) -> None:
        connection = self.target.engine.connect()
        taken = connection.execute(
            text("SELECT pg_try_advisory_lock(hashtext(:key))"), {"key": _LOCK_KEY}
        ).scalar()
        connection.commit()
        if not taken:
            connection.close()
            raise BuildInProgress(
                "another demo build is running on this database; wait for it to finish"
            )
        self._lock = connection

    def _release_lock(self) -> None:
        """Unlock, and end the session (a pooled session would keep a lock it failed to
        release)."""
        if self._lock is None:
            return
        connection, self._lock = self._lock, None
        try:
            connection.execute(
                text("SELECT pg_advisory_unlock(hashtext(:key))"), {"key": _LOCK_KEY}
            )
            connection.commit()
        finally:
            connection.invalidate()
            connection.close()


def _move_schema(connection: Connection, scratch: str) -> None:
    """Replace the current schema's tables and functions that the scratch schema holds too by
    the scratch schema's, then drop the (now empty) scratch schema."""
    target = connection.exec_driver_sql("SELECT current_schema()").scalar()
    if target is None or target == scratch:
        raise DeskError("no schema to build the demo into (check the search_path)")
    quote = connection.dialect.identifier_preparer.quote
    relations = [
        str(name)
        for (name,) in connection.execute(
            text(
                "SELECT c.relname FROM pg_class c WHERE c.relnamespace = CAST(:s AS regnamespace) "
                "AND (c.relkind IN ('r', 'p', 'v', 'm') OR (c.relkind = 'S' AND NOT EXISTS ("
                "SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
                "AND d.objid = c.oid AND d.deptype IN ('a', 'i')))) ORDER BY c.relname"
            ),
            {"s": scratch},
        )
    ]
    functions = [
        (str(name), str(arguments))
        for name, arguments in connection.execute(
            text(
                "SELECT p.proname, pg_get_function_identity_arguments(p.oid) FROM pg_proc p "
                "WHERE p.pronamespace = CAST(:s AS regnamespace) ORDER BY p.proname"
            ),
            {"s": scratch},
        )
    ]
    old, new = quote(target), quote(scratch)
    for name in relations:
        kind = connection.execute(
            text(
                "SELECT c.relkind FROM pg_class c WHERE c.relname = :name "
                "AND c.relnamespace = CAST(:s AS regnamespace)"
            ),
            {"name": name, "s": target},
        ).scalar()
        if kind is not None:
            what = {"v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}.get(str(kind), "TABLE")
            connection.exec_driver_sql(f"DROP {what} {old}.{quote(name)} CASCADE")
    for name, arguments in functions:
        connection.exec_driver_sql(
            f"DROP FUNCTION IF EXISTS {old}.{quote(name)}({arguments}) CASCADE"
        )
    for name, arguments in functions:
        connection.exec_driver_sql(
            f"ALTER FUNCTION {new}.{quote(name)}({arguments}) SET SCHEMA {old}"
        )
    for name in relations:
        connection.exec_driver_sql(f"ALTER TABLE {new}.{quote(name)} SET SCHEMA {old}")
    connection.exec_driver_sql(f"DROP SCHEMA {new}")  # RESTRICT: anything left is an error
