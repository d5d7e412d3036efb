"""The engine's connection settings and the unit of work, on the real databases."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlmodel import Session, select

from desk.infra import migrations
from desk.infra.database import Database, create_engine, normalise_url
from desk.infra.errors import DatabaseUnavailable, InvalidInput
from desk.models import Meta
from tests.conftest import end_connections


def test_sqlite_pragmas(sqlite_db: Database) -> None:
    with sqlite_db.engine.connect() as connection:
        pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("foreign_keys") == 1
        assert pragma("busy_timeout") == 30_000
        assert pragma("synchronous") == 2  # FULL


def _begins(db: Database) -> list[str]:
    seen: list[str] = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def _capture(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if statement.startswith("BEGIN"):
            seen.append(statement)

    return seen


def test_writing_transactions_begin_immediate(sqlite_db: Database) -> None:
    seen = _begins(sqlite_db)
    sqlite_db.run(lambda s: s.add(Meta(key="k", value="v")), write=True)
    sqlite_db.run(lambda s: s.exec(select(Meta)).all(), write=False)
    assert seen == ["BEGIN IMMEDIATE", "BEGIN"]


def test_a_failed_call_writes_nothing(db: Database) -> None:
    def work(session):  # type: ignore[no-untyped-def]
        session.add(Meta(key="half", value="written"))
        session.flush()
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        db.run(work, write=True)
    assert db.run(lambda s: s.get(Meta, "half"), write=False) is None


@pytest.mark.parametrize("through", ["run", "run_core"])
def test_a_number_beyond_its_column_is_invalid_input_and_writes_nothing(
    db: Database, through: str
) -> None:
    """2**70 cast to an integer: PostgreSQL's NumericValueOutOfRange (a DataError), SQLite's
    driver's OverflowError; either way one sentence of InvalidInput, the transaction rolled
    back, never the driver's exception."""
    insert = text("INSERT INTO desk_meta (key, value) VALUES ('half', 'written')")
    overflow = text("SELECT CAST(:v AS INTEGER)").bindparams(v=2**70)

    def work(connection):  # type: ignore[no-untyped-def]
        connection.execute(insert)
        return connection.execute(overflow).scalar()

    call = (
        (lambda: db.run(lambda session: work(session.connection()), write=True))
        if through == "run"
        else (lambda: db.run_core(work, write=True))
    )
    with pytest.raises(InvalidInput) as raised:
        call()
    assert "out of range" in str(raised.value)
    assert "\n" not in str(raised.value)
    assert db.run(lambda s: s.get(Meta, "half"), write=False) is None


def test_two_writers_on_sqlite_wait_rather_than_fail(sqlite_db: Database) -> None:
    """BEGIN IMMEDIATE plus busy_timeout: concurrent writers queue, none errors."""
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(10):
                sqlite_db.run(lambda s, i=i: s.add(Meta(key=f"w{n}-{i}", value="x")), write=True)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(sqlite_db.run(lambda s: s.exec(select(Meta)).all(), write=False)) == 40


def test_postgres_serialization_failures_are_retried(pg_db: Database) -> None:
    attempts = []

    def work(session):  # type: ignore[no-untyped-def]
        attempts.append(1)
        if len(attempts) < 3:
            session.execute(text("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"))
            session.execute(text("DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '40001'; END $$"))
        session.add(Meta(key="retried", value=str(len(attempts))))

    pg_db.run(work, write=True)
    assert len(attempts) == 3
    assert pg_db.run(lambda s: s.get(Meta, "retried"), write=False).value == "3"  # type: ignore[union-attr]


def test_url_normalisation() -> None:
    assert normalise_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalise_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"


@pytest.mark.parametrize(
    "dialect", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_migrations_from_empty_to_head_and_back(
    dialect: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if dialect == "sqlite":
        db = Database.from_url(f"sqlite:///{tmp_path / 'm.db'}")
    else:
        db = Database(engine=create_engine(request.getfixturevalue("_pg_url")))
        migrations.downgrade(db, "base")
    assert migrations.current_revision(db) is None
    migrations.upgrade(db)
    assert migrations.is_current(db)
    with db.engine.connect() as connection:
        tables = set(db.engine.dialect.get_table_names(connection))
    assert {"customer", "work_order", "work_order_event", "audit_log", "handover"} <= tables
    migrations.downgrade(db, "base")
    with db.engine.connect() as connection:
        assert "customer" not in db.engine.dialect.get_table_names(connection)
    migrations.upgrade(db)  # leave the worker database as the other tests expect it
    db.dispose()


def test_the_light_schema_check_reads_the_revisions_as_alembic_does(db: Database) -> None:
    """The revisions read from the version files (no Alembic at start) are Alembic's own:
    the same chain, the same head, the database's revision read alike."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrations.alembic_config(db))
    chain = {rev.revision: rev.down_revision for rev in script.walk_revisions()}
    assert migrations.revisions() == chain
    assert migrations.head_revision() == script.get_current_head()
    with db.engine.connect() as connection:
        assert migrations.current_revision(db) == (
            MigrationContext.configure(connection).get_current_revision()
        )
    migrations.ensure_current(db)
    assert migrations.is_known("0001")
    assert not migrations.is_known("0001_nothing")


def test_migrations_match_the_models(db: Database) -> None:
    """The migrated schema is exactly what the SQLModel tables declare (no drift)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from desk.models import metadata

    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    # The name-search pieces live outside the metadata on purpose (FTS5, GIN, PG grams).
    ignored = {
        "customer_fts",
        "knowledge_fts",
        "search_vector",
        "head_vector",
        "ix_knowledge_doc_search",
        "ix_customer_name_tsv",
        "customer_name_gram",
        "ix_customer_phone_rev_c",
        "ix_customer_id_card_rev_c",
        "ix_customer_name_initials_c",
        "ix_customer_name_pinyin_c",
    }
    if not db.is_sqlite:  # migration 0019: unused there (search reads the *_c ones)
        ignored |= {
            "'ix_customer_name_pinyin'",
            "'ix_customer_name_initials'",
            "'ix_customer_id_card_rev'",
            "'ix_customer_phone_rev'",
        }
    remaining = [d for d in diff if not any(name in repr(d) for name in ignored)]
    assert remaining == []


@pytest.mark.postgres
def test_pooled_connections_the_server_ended_are_replaced_at_checkout(own_pg_url: str) -> None:
    """Two idle pooled connections whose backends the server ended: whoever checks them out
    next (a bare session, which is not retried) gets fresh ones, not AdminShutdown."""
    db = Database.from_url(own_pg_url)
    try:
        with db.session(write=False) as first, db.session(write=False) as second:
            pids = {
                first.execute(text("SELECT pg_backend_pid()")).scalar(),
                second.execute(text("SELECT pg_backend_pid()")).scalar(),
            }
        assert len(pids) == 2
        assert end_connections(own_pg_url) == 2
        time.sleep(0.05)  # the server's goodbye reaches the sockets
        for _ in range(3):
            with db.session(write=False) as session:
                assert session.execute(text("SELECT pg_backend_pid()")).scalar() not in pids
    finally:
        db.dispose()


@pytest.mark.postgres
def test_a_connection_lost_inside_a_transaction_is_run_again(own_pg_url: str) -> None:
    """The server ends the connection while the work runs: the whole transaction runs again
    on a fresh connection (the first attempt wrote nothing)."""
    db = Database.from_url(own_pg_url)
    attempts: list[int] = []

    def work(session):  # type: ignore[no-untyped-def]
        attempts.append(session.execute(text("SELECT pg_backend_pid()")).scalar())
        if len(attempts) == 1:
            end_connections(own_pg_url)
            session.execute(text("SELECT pg_sleep(0.05)"))
        return session.execute(text("SELECT 1")).scalar()

    try:
        assert db.run(work, write=True) == 1
        assert len(attempts) == 2
        assert attempts[0] != attempts[1]
    finally:
        db.dispose()


@pytest.mark.postgres
def test_a_database_out_of_reach_is_said_in_one_line_then_recovers(own_pg_url: str) -> None:
    """A restart seen from desk: every connection ended and none accepted for a while. The
    call fails as DatabaseUnavailable (one line, after the retries); once the server takes
    connections again the same Database works, nothing restarted."""
    db = Database.from_url(own_pg_url)
    try:
        assert db.run(lambda s: s.execute(text("SELECT 1")).scalar(), write=False) == 1
        end_connections(own_pg_url, allow_new=False)
        with pytest.raises(DatabaseUnavailable) as caught:
            db.run(lambda s: s.execute(text("SELECT 1")).scalar(), write=False)
        assert "\n" not in caught.value.message
        assert "database" in caught.value.message
        end_connections(own_pg_url, allow_new=True)
        assert db.run(lambda s: s.execute(text("SELECT 2")).scalar(), write=False) == 2
    finally:
        end_connections(own_pg_url, allow_new=True)
        db.dispose()


def test_sqlite_connections_are_pooled(sqlite_db: Database) -> None:
    first = sqlite_db.run(lambda s: id(s.connection().connection.dbapi_connection), write=False)
    second = sqlite_db.run(lambda s: id(s.connection().connection.dbapi_connection), write=False)
    assert first == second


def _durability(db: Database) -> str:
    """This transaction's flush setting: SQLite's synchronous level, PostgreSQL's
    synchronous_commit."""
    statement = "PRAGMA synchronous" if db.is_sqlite else "SHOW synchronous_commit"
    return str(db.run(lambda s: s.execute(text(statement)).scalar(), write=True, flush=True))


def test_only_view_audit_transactions_commit_without_the_flush(db: Database) -> None:
    """reads_audited relaxes the flush for its own transaction only: SQLite NORMAL (1) and
    back to FULL (2) at once on the same connection; PostgreSQL synchronous_commit off, set by
    the statement that takes the audit log's lock, or just before the commit when no
    statement carried it."""
    from desk.infra.database import reads, reads_audited, writes
    from desk.rules.permissions import shell_actor
    from desk.services import audit

    full, relaxed = ("2", "1") if db.is_sqlite else ("on", "off")
    statement = "PRAGMA synchronous" if db.is_sqlite else "SHOW synchronous_commit"

    def setting(session: Session) -> str:
        return str(session.execute(text(statement)).scalar())

    def audited(session: Session) -> str:
        audit.record(session, action="test.view", actor=shell_actor("test"))
        return setting(session)

    assert reads(setting)(db) == full
    assert writes(audited)(db) == full
    assert reads_audited(audited)(db) == relaxed
    assert _durability(db) == full  # the next transaction on the pooled connection

    sent: list[str] = []

    def capture(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        # no statement carried it: PostgreSQL sets it after the work, before the commit
        assert reads_audited(setting)(db) == (relaxed if db.is_sqlite else full)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    if not db.is_sqlite:
        assert "set_config" in sent[-1], sent
    assert _durability(db) == full

    def failing(session: Session) -> None:
        assert audited(session) == relaxed
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):  # a failed one goes back too
        reads_audited(failing)(db)
    assert _durability(db) == full
    assert writes(setting)(db) == full


def test_the_card_and_account_views_are_the_relaxed_ones() -> None:
    """Which services commit without the flush: the card and the bill views, nothing else."""
    import inspect

    from desk.services import bills, card, contacts, verification, work_orders

    relaxed = set()
    for module in (bills, card, contacts, verification, work_orders):
        for name, func in vars(module).items():
            # the @reads/@writes/@reads_audited wrapper closes over its flush setting
            if (
                inspect.isfunction(func)
                and "__wrapped__" in vars(func)
                and func.__module__ == module.__name__
                and inspect.getclosurevars(func).nonlocals.get("flush") is False
            ):
                relaxed.add(f"{module.__name__.rsplit('.', 1)[1]}.{name}")
    assert relaxed == {
        "bills.account_overview",
        "bills.bill_inquiry",
        "bills.bill_items",
        "bills.payments",
        "card.customer_card",
    }
