"""The engine factory and the unit of work.

SQLite runs with WAL, ``foreign_keys=ON``, a ``busy_timeout`` and ``synchronous=FULL``; a
writing transaction begins with ``BEGIN IMMEDIATE`` so two terminals never deadlock on a lock
upgrade. PostgreSQL runs through psycopg with a pool of connections per process; a pooled
connection the server closed (a restart, an administrator) is found at checkout, without a
round trip, and replaced. Serialization failures, deadlocks and lost connections are retried by
:mod:`desk.infra.retry`; a database that stays out of reach is :class:`DatabaseUnavailable`.
A value the database refuses as such (an id beyond 64 bits, a NUL byte in text) is
:class:`InvalidInput`, never the driver's exception.

Each public service call is one transaction: decorate it with :func:`reads`, :func:`writes`
or :func:`reads_audited`. The decorated function takes a :class:`Session` first; callers pass a
:class:`Database`. A lookup that must answer within a millisecond (customer search) is
:func:`reads_autocommit`: on PostgreSQL its statements run without ``BEGIN`` and ``COMMIT``,
two of the four round trips a one-statement read made (see there why it sees the same).

**Durability.** A writing transaction commits only once its changes are on disk
(``synchronous=FULL``, PostgreSQL's default ``synchronous_commit``), with one exception: a
read whose only write is its view-audit row (a card view, a bill or itemized-record view:
:func:`reads_audited`) commits without waiting for the flush — SQLite (WAL) runs that
transaction with ``synchronous=NORMAL`` and the connection goes back to ``FULL`` right after;
PostgreSQL sets ``synchronous_commit = off`` for that transaction alone (with the statement
that takes the audit log's lock, no round trip of its own: :func:`pending_settings`). The
next flushed commit carries those rows to disk with it, in order (WAL frames and the
PostgreSQL WAL are written in commit order), so a power cut can lose the last moment's
view-audit rows but never a contact, a work order or an account change, and the audit chain
stays whole: its head is written in the same transaction as the row.
"""

from __future__ import annotations

import functools
import select
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import ColumnElement, Engine, event, func
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy import select as sql_select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DataError, DBAPIError, DisconnectionError

from desk.clock import Clock, SystemClock
from desk.infra.errors import DatabaseUnavailable, InvalidInput
from desk.infra.retry import retry_transient

if TYPE_CHECKING:
    # SQLModel (and SQLAlchemy's ORM under it) is loaded by the first Session opened, not by
    # this module: `desk ring` works on Core connections alone and starts without it.
    from sqlmodel import Session

P = ParamSpec("P")
R = TypeVar("R")

SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_sqlite_url(url: str) -> bool:
    return normalise_url(url).startswith("sqlite")


def create_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine with desk's connection settings for SQLite or PostgreSQL."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        # Connections are pooled (a fresh one costs ~1 ms of connect and pragmas per call);
        # each is used by one thread at a time, so check_same_thread is off.
        engine = sa_create_engine(
            url,
            echo=echo,
            hide_parameters=True,  # logs and error texts never carry a caller's number
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        _configure_sqlite(engine)
        return engine
    # One pool per process. No pre-ping round trip per call: a connection the server closed
    # is found at checkout by looking at its socket (see _configure_postgresql).
    engine = sa_create_engine(
        url,
        echo=echo,
        hide_parameters=True,
        pool_size=5,
        max_overflow=5,
        pool_recycle=1800,
    )
    _configure_postgresql(engine)
    return engine


def _configure_postgresql(engine: Engine) -> None:
    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if closed_by_server(dbapi_connection):
            # The pool drops this one and checks out a fresh connection in its place.
            raise DisconnectionError("the server closed this pooled connection")


def closed_by_server(dbapi_connection: Any) -> bool:
    """Has the server ended this idle connection? An idle session is sent nothing unless it
    listens for notifications (the console does not), so a readable socket means the server said
    goodbye (terminated the backend, shut down) or the connection broke. A local poll, no
    round trip: ~1 µs against the ~100 µs of a ping."""
    if getattr(dbapi_connection, "closed", False) or getattr(dbapi_connection, "broken", False):
        return True
    try:
        descriptor = dbapi_connection.fileno()
    except Exception:  # noqa: BLE001 - a connection without a socket is no use either
        return True
    poller = select.poll()
    poller.register(descriptor, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite would defer it).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        options = connection.get_execution_options()
        if not options.get("desk_flush", True):
            # outside the transaction: SQLite refuses to change it within one
            connection.exec_driver_sql("PRAGMA synchronous=NORMAL")
        if options.get("desk_write", False):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


@dataclass
class Database:
    """An engine plus the clock the services read the time from."""

    engine: Engine
    clock: Clock = field(default_factory=SystemClock)

    @classmethod
    def from_url(cls, url: str, *, clock: Clock | None = None) -> Database:
        return cls(engine=create_engine(url), clock=clock or SystemClock())

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def connect(self) -> Connection:
        """A connection from the pool; :class:`DatabaseUnavailable` when the database cannot
        be reached (a transient error: :func:`desk.infra.retry.retry_transient` tries again)."""
        try:
            return self.engine.connect()
        except DBAPIError as error:
            raise DatabaseUnavailable.unreachable() from error

    @contextmanager
    def session(
        self, *, write: bool, flush: bool = True, autocommit: bool = False
    ) -> Iterator[Session]:
        """One transaction: committed on success, rolled back on any error. ``flush`` False:
        the commit does not wait for the disk (view-audit rows only; see the module's
        docstring). ``autocommit`` (a read, PostgreSQL): no ``BEGIN``/``COMMIT`` around the
        statements (:func:`reads_autocommit`); SQLite keeps its transaction."""
        from sqlmodel import Session

        with self.connect() as connection:
            options: dict[str, Any] = {"desk_write": write, "desk_flush": flush}
            if autocommit and not write and not self.is_sqlite:
                # the driver's own switch, no round trip; the pool puts it back on return
                options["isolation_level"] = "AUTOCOMMIT"
            connection = connection.execution_options(**options)
            try:
                with (
                    connection.begin(),
                    Session(bind=connection, expire_on_commit=False) as session,
                ):
                    if not flush and not self.is_sqlite:
                        session.info[_PENDING] = {"synchronous_commit": "off"}
                    session.info["now"] = self.clock.now()
                    session.info["dialect"] = self.engine.dialect.name
                    yield session
                    session.flush()
                    for name, value in session.info.pop(_PENDING, {}).items():
                        connection.execute(sql_select(func.set_config(name, value, True)))
            finally:
                if not flush and self.is_sqlite and not connection.invalidated:
                    # the transaction has ended; the driver is in autocommit (no BEGIN)
                    connection.connection.driver_connection.execute(  # type: ignore[union-attr]
                        "PRAGMA synchronous=FULL"
                    )

    @contextmanager
    def connection(self, *, write: bool) -> Iterator[Connection]:
        """A Core connection in one transaction, for set-based bulk work."""
        with self.connect() as connection:
            connection = connection.execution_options(desk_write=write)
            with connection.begin():
                yield connection

    def run_core(self, work: Callable[[Connection], R], *, write: bool) -> R:
        """Like :meth:`run`, on a Core connection (set-based bulk work): one transaction,
        run again from the start on a transient error."""

        def attempt() -> R:
            with self.connection(write=write) as connection:
                return work(connection)

        with refused_values():
            return retry_transient(attempt)

    def run(
        self,
        work: Callable[[Session], R],
        *,
        write: bool,
        flush: bool = True,
        autocommit: bool = False,
    ) -> R:
        """Run ``work`` in one transaction, run again from the start on a transient error
        (serialization failure, deadlock, lost connection, busy SQLite: see
        :mod:`desk.infra.retry`)."""

        def attempt() -> R:
            with self.session(write=write, flush=flush, autocommit=autocommit) as session:
                return work(session)

        with refused_values():
            return retry_transient(attempt)

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def refused_values() -> Iterator[None]:
    """A value the database refuses as such, in the block, is :class:`InvalidInput`: a
    number beyond its column (PostgreSQL's ``NumericValueOutOfRange``, any other
    ``DataError``), an integer beyond 64 bits (SQLite's driver refuses it before the
    statement is sent), a NUL byte in text. The statement failed: the caller's transaction
    rolls back with it."""
    try:
        yield
    except DataError as error:
        raise InvalidInput(f"a value the database cannot store: {_said(error)}") from error
    except OverflowError as error:
        raise InvalidInput(f"a number out of range: {error}") from error


def _said(error: DataError) -> str:
    """The database's own words, first line, without SQLAlchemy's decoration."""
    lines = str(error.orig).strip().splitlines()
    return lines[0] if lines else type(error.orig).__name__


_PENDING = "desk.pending_settings"


def pending_settings(session: Session) -> list[ColumnElement[Any]]:
    """What this transaction has yet to set for itself (PostgreSQL: ``synchronous_commit``
    off, for a commit that does not wait for the disk), as columns that a statement the
    transaction sends anyway can carry: ``set_config(name, value, true)`` is ``SET LOCAL``.
    A setting taken here counts as made; one that no statement took is set just before the
    commit (a round trip of its own). The setting is read at the commit, so it applies
    wherever in the transaction it is made."""
    pending: dict[str, str] = session.info.pop(_PENDING, {})
    return [func.set_config(name, value, True) for name, value in pending.items()]


def now_of(session: Session) -> datetime:
    """The instant this transaction started, read once from the database's clock."""
    now = session.info.get("now")
    if not isinstance(now, datetime):
        raise RuntimeError("session was not opened by Database.session")
    return now


@dataclass(frozen=True, slots=True)
class ServiceCall:
    """A function made a service call by :func:`reads`, :func:`writes` or
    :func:`reads_audited`: where it was defined (``module``, ``name``: the function's own,
    whatever decorates it later), the ``call`` made of it (taking a :class:`Database`) and
    its transaction."""

    module: str
    name: str
    call: Callable[..., Any]
    write: bool
    flush: bool
    autocommit: bool = False


SERVICE_CALLS: dict[str, ServiceCall] = {}
"""Every service call made so far, by ``module.name``: the role tests read it to know which
functions are called with a Database, so that no decorated entry point escapes them (a
wrapper's ``__wrapped__`` says only that something wrapped it)."""


def is_service_call(obj: object) -> bool:
    """Whether ``obj`` is a call made by :func:`reads`, :func:`writes` or
    :func:`reads_audited` (itself, not something wrapping it)."""
    module, name = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    made = SERVICE_CALLS.get(f"{module}.{name}")
    return made is not None and made.call is obj


def _transactional(
    write: bool, flush: bool = True, autocommit: bool = False
) -> Callable[[Callable[Concatenate[Session, P], R]], Callable[Concatenate[Database, P], R]]:
    def decorate(
        func: Callable[Concatenate[Session, P], R],
    ) -> Callable[Concatenate[Database, P], R]:
        @functools.wraps(func)
        def wrapper(db: Database, /, *args: P.args, **kwargs: P.kwargs) -> R:
            return db.run(
                lambda session: func(session, *args, **kwargs),
                write=write,
                flush=flush,
                autocommit=autocommit,
            )

        made = ServiceCall(func.__module__, func.__qualname__, wrapper, write, flush, autocommit)
        SERVICE_CALLS[f"{made.module}.{made.name}"] = made
        return wrapper

    return decorate


reads = _transactional(write=False)
"""A read-only service call: one transaction, ``BEGIN`` (deferred) on SQLite."""

writes = _transactional(write=True)
"""A writing service call: one transaction, ``BEGIN IMMEDIATE`` on SQLite; retried like
:func:`reads`."""

reads_audited = _transactional(write=True, flush=False)
"""A read whose only write is its view-audit row (a card, bill or itemized-record view): a
writing transaction whose commit does not wait for the disk flush (see the module's
docstring); everything else as :func:`writes`."""

reads_autocommit = _transactional(write=False, autocommit=True)
"""A read whose statements need no transaction around them: on PostgreSQL they run in
autocommit, without the ``BEGIN`` and ``COMMIT`` round trips (half of what a one-statement
read cost); SQLite runs it as :func:`reads`. What each statement sees is unchanged: desk's
transactions are READ COMMITTED, where every statement takes its own snapshot anyway. Not
for a read that sets anything for its transaction (``SET LOCAL``, an advisory or row lock),
or that needs two statements to see one snapshot."""
