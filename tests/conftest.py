"""Shared fixtures: a migrated database per test, on SQLite and on PostgreSQL.

PostgreSQL: ``DESK_TEST_PG_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``) names a
server database; each xdist worker gets its own database next to it, migrated once, emptied
between tests. Where the server cannot be reached the PostgreSQL tests are skipped with the
reason shown, except under CI (``CI=true``), where they fail: CI never skips them silently.
``DESK_TEST_PG=off`` turns them off on purpose.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url

from desk.clock import FixedClock
from desk.infra import migrations
from desk.infra.database import Database, create_engine, normalise_url
from desk.models import metadata
from desk.services.users import ensure_system_users

TEST_AUDIT_KEY = "desk-test-audit-key-0123456789abcdef"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai


def pytest_configure(config: pytest.Config) -> None:
    """Fixtures wider than a test (a module's demo database) run before the per-test
    environment below: they too get a data directory of their own and the tests' audit key."""
    del config
    os.environ["DESK_DATA_DIR"] = tempfile.mkdtemp(prefix="desk-test-data-")
    os.environ["DESK_AUDIT_KEY"] = TEST_AUDIT_KEY


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never touch a person's data dir, database, policy or language."""
    monkeypatch.setenv("DESK_DATA_DIR", str(tmp_path / "data"))
    # One audit key for every test, as every terminal of one center shares one: a database
    # built in a module fixture is sealed with the key the next test holds too.
    monkeypatch.setenv("DESK_AUDIT_KEY", TEST_AUDIT_KEY)
    for name in ("DESK_DATABASE_URL", "DESK_POLICY", "DESK_LANG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


# --- SQLite -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database.from_url(f"sqlite:///{path}")
    migrations.upgrade(db)
    with db.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


@pytest.fixture
def sqlite_db(_sqlite_template: Path, tmp_path: Path, clock: FixedClock) -> Iterator[Database]:
    path = tmp_path / "desk.db"
    shutil.copyfile(_sqlite_template, path)
    db = Database.from_url(f"sqlite:///{path}", clock=clock)
    yield db
    db.dispose()


# --- PostgreSQL ---------------------------------------------------------------------------


def _pg_base_url() -> str | None:
    if os.environ.get("DESK_TEST_PG", "").lower() == "off":
        return None
    return os.environ.get("DESK_TEST_PG_URL") or DEFAULT_PG_URL


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"PostgreSQL tests cannot run under CI: {reason}")
    pytest.skip(f"PostgreSQL not available: {reason}")


@pytest.fixture(scope="session")
def _pg_url(worker_id: str) -> Iterator[str]:
    base = _pg_base_url()
    if base is None:
        pytest.skip("PostgreSQL tests turned off (DESK_TEST_PG=off)")
    url = make_url(normalise_url(base))
    name = f"desk_test_{worker_id}_{os.getpid()}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as error:
        admin.dispose()
        _unavailable(str(error.orig).strip().splitlines()[0])
    worker_url = url.set(database=name).render_as_string(hide_password=False)
    db = Database.from_url(worker_url)
    migrations.upgrade(db)
    db.dispose()
    yield worker_url
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(scope="session")
def _own_pg_database(_pg_url: str) -> Iterator[str]:
    url = make_url(_pg_url)
    name = f"{url.database}_own"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    own_url = url.set(database=name).render_as_string(hide_password=False)
    db = Database.from_url(own_url)
    migrations.upgrade(db)
    db.dispose()
    try:
        yield own_url
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def own_pg_url(_own_pg_database: str) -> str:
    """A migrated, empty PostgreSQL database of this worker's own, for tests that end its
    connections as a server restart would: nothing else connects to it."""
    end_connections(_own_pg_database, allow_new=True)
    engine = sa.create_engine(_own_pg_database)
    try:
        truncate_all(engine)
    finally:
        engine.dispose()
    return _own_pg_database


def end_connections(url: str, *, allow_new: bool | None = None) -> int:
    """Terminate every backend connected to the database of ``url`` (a database the test
    created: never anyone else's), as a server restart would; ``allow_new`` False keeps new
    connections out until called again with True. Returns how many were ended."""
    parsed = make_url(normalise_url(url))
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            if allow_new is not None:
                connection.exec_driver_sql(
                    f'ALTER DATABASE "{parsed.database}" ALLOW_CONNECTIONS {str(allow_new).lower()}'
                )
            ended = connection.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": parsed.database},
            ).scalar_one()
    finally:
        admin.dispose()
    return int(ended)


@pytest.fixture(scope="session")
def _pg_engine(_pg_url: str) -> Iterator[sa.Engine]:
    engine = create_engine(_pg_url)
    yield engine
    engine.dispose()


def truncate_all(engine: sa.Engine) -> None:
    """Empty every table as a fresh migration leaves it: desk's own actors stay. The audit
    log refuses TRUNCATE by a trigger; replica mode (superuser only) lets the tests past it,
    and past the trigger that empties the name grams with ``customer``: they are named here
    (a table of the migrations, not of the models), or a later test's customer 1 would
    inherit an earlier one's grams."""
    tables = [f'"{table.name}"' for table in metadata.sorted_tables]
    names = ", ".join([*tables, "customer_name_gram"])
    with engine.begin() as connection:
        connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        ensure_system_users(connection)


@pytest.fixture
def pg_db(_pg_engine: sa.Engine, clock: FixedClock) -> Database:
    truncate_all(_pg_engine)
    return Database(engine=_pg_engine, clock=clock)


# --- Both ---------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest) -> Database:
    """A migrated, empty database: each test using it runs on SQLite and on PostgreSQL."""
    name = "sqlite_db" if request.param == "sqlite" else "pg_db"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many tests ran on PostgreSQL, so a CI log shows they were not skipped."""
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for outcome in counts:
        for report in terminalreporter.stats.get(outcome, []):
            if "postgres" in getattr(report, "keywords", {}) and report.when in ("call", "setup"):
                if outcome == "passed" and report.when != "call":
                    continue
                counts[outcome] += 1
    terminalreporter.write_line(
        "PostgreSQL tests: {passed} passed, {failed} failed, {skipped} skipped".format(**counts)
    )


@contextmanager
def reading_statements(db: Database) -> Iterator[list[str]]:
    """The statements sent meanwhile, SQLite's ``BEGIN`` left out (on PostgreSQL the driver
    begins the transaction with the first statement)."""
    seen: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        if statement.strip().upper() != "BEGIN":
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def set_user(db: Database, user_id: int, **values: object) -> None:
    """Change a staff user behind a signed-in actor's back (disabled, another role)."""
    from desk.models import StaffUser

    with db.session(write=True) as session:
        user = session.get(StaffUser, user_id)
        assert user is not None
        for name, value in values.items():
            setattr(user, name, value)
        session.add(user)
