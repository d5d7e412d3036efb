"""Building a demo database: set-based, in a scratch place moved into the target at the end.

Rows are made in Python only where they need Python (names and their search keys, ID cards,
contacts, work-order histories) and written with ``executemany`` (SQLite) or ``COPY``
(PostgreSQL); accounts, bills and payments are ``INSERT … SELECT`` over the customers.

The build writes into a scratch place (:mod:`desk.demo.place`): a file next to the target on
SQLite, a schema of the target database on PostgreSQL. What checks and indexes rows is set
aside while loading and made again from its stored definitions (:mod:`desk.demo.sink`); on
SQLite the loading connection also runs with ``synchronous=OFF`` and foreign-key checks off
(every id is assigned here, in order). The full-text index is rebuilt in one pass. Then the
escalation ladder's plans of open orders, ``ANALYZE``, and the scratch place becomes the
target in one step; a build that fails or is killed leaves the target as it was.

A large build runs the phones, contacts, work orders and everything around them in a helper
process (:mod:`multiprocessing`, forked where the platform can: a second core) while this
process writes customers, accounts and bills: on SQLite into a file of its own, where it also
makes those tables' indexes, copied in at the end record by record into the same indexes
(no sort left for this process); on PostgreSQL straight into the scratch schema over its own
connection. The helper dies with its parent. Both ways build the same rows.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC
from functools import cache
from multiprocessing.connection import Connection as Pipe
from typing import Any, TypeVar, cast

from argon2 import PasswordHasher
from sqlalchemy import column, select, table
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import ColumnClause

from desk.demo import contacts, customers, floor, org, scenarios
from desk.demo.model import (
    DEMO_PASSWORD,
    SERVICE_PASSWORDS,
    DemoParams,
    DemoSummary,
    Progress,
)
from desk.demo.place import ScratchPlace, create_part_file, scratch_place
from desk.demo.processes import can_fork, die_with_parent, workers
from desk.demo.sink import FOREIGN_KEY, INDEX, SavedObject, Sink
from desk.demo.work_orders import (
    WORK_ORDER_COLUMNS,
    Plan,
    WorkOrderWriter,
    backlog_plans,
    plans_from_seeds,
)
from desk.demo.world import World
from desk.infra.database import Database
from desk.infra.errors import DeskError
from desk.rules.policy import Policy, load_policy
from desk.services import audit
from desk.services.sweep import plan_ladder, prime_ladder

T = TypeVar("T")

BULK_TABLES = (
    "customer",
    "customer_phone",
    "account",
    "bill",
    "payment",
    "bill_item",
    "contact",
    "work_order",
    "work_order_event",
    "callback",
    "verification_attempt",
)
ID_TABLES = (
    "branch",
    "department",
    "staff_user",
    "shift",
    "shift_note",
    "customer",
    "customer_phone",
    "account",
    "bill",
    "bill_item",
    "payment",
    "contact",
    "verification_attempt",
    "work_order",
    "work_order_event",
    "callback",
    "handover",
    "knowledge_article",
    "canned_reply",
    "audit_log",
)
PEOPLE_TABLES = ("customer", "account", "bill", "payment")
ACTIVITY_TABLES = (
    "customer_phone",
    "contact",
    "work_order",
    "work_order_event",
    "callback",
    "verification_attempt",
    "shift_note",
    "handover",
)
WORK_ORDER_BATCH = 20_000
BILL_ITEM_SAMPLE = 200  # the first customers always have a 详单, for testers
PARALLEL_MIN_CUSTOMERS = 50_000
BUILD_GC_THRESHOLD = 50_000
"""Allocations between two collections of the youngest generation while a demo builds."""
PG_WORK_MEM = "256MB"  # the bills' sort and the index builds of one session, not the server's


class NotEmpty(DeskError):
    title = "Database not empty"


class DemoBuildFailed(DeskError):
    """A step of the build failed; ``step`` names it. Nothing of the build was kept."""

    title = "Demo build failed"

    def __init__(self, step: str, reason: str) -> None:
        super().__init__(f'demo build failed at "{step}": {reason} (nothing was kept)')
        self.step = step
        self.reason = reason


def one_line(error: BaseException) -> str:
    """What went wrong, in one line: a database error's own first line, else the error."""
    if isinstance(error, DBAPIError) and error.orig is not None:
        first = (str(error.orig).strip().splitlines() or [""])[0]
        return f"{type(error.orig).__name__}: {first}"
    if isinstance(error, DeskError):
        return error.message
    first = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def _quiet(_step: str, _rows: int, _seconds: float) -> None:
    return None


class _Steps:
    """Runs the build's steps: reports each (rows, seconds), and names the one that fails."""

    def __init__(self, sink: Sink, progress: Progress) -> None:
        self.sink = sink
        self.progress = progress

    def run(self, label: str, table_name: str | None, work: Callable[[], T]) -> T:
        before = sum(self.sink.rows_written.values())
        start = time.perf_counter()
        try:
            result = work()
        except DemoBuildFailed:
            raise
        except Exception as error:
            raise DemoBuildFailed(label, one_line(error)) from error
        rows = sum(self.sink.rows_written.values()) - before
        if isinstance(result, int) and table_name is None:
            rows = result
        self.progress(label, rows, time.perf_counter() - start)
        return result


def build_demo(
    db: Database,
    params: DemoParams,
    *,
    policy: Policy | None = None,
    progress: Progress | None = None,
    parallel: bool | None = None,
    replace: bool = False,
) -> DemoSummary:
    """Build a demo from ``params`` and make it the database ``db``.

    ``db`` must be empty (a migrated schema without data, or no schema yet), or hold a demo
    and ``replace`` be true; a database with other data is refused (:class:`NotEmpty`). The
    build happens in a scratch place that becomes ``db`` only once complete: a failure
    (:class:`DemoBuildFailed`, naming the step) or a kill leaves ``db`` as it was.

    Everything derives from ``random.Random(params.seed)`` (and streams seeded from it) and
    the instant of ``db.clock``: the same parameters at the same instant build the same rows.
    ``parallel`` (None: from :data:`PARALLEL_MIN_CUSTOMERS` customers) runs the contacts, work
    orders and everything around them in a helper process; both ways build the same rows.
    """
    policy = policy or load_policy()
    report = progress or _quiet
    started = time.perf_counter()
    empty_and_current = _check_target(db, replace=replace)
    place = scratch_place(db)
    if parallel is None:
        parallel = params.customers >= PARALLEL_MIN_CUSTOMERS
    parallel = parallel and can_fork()
    try:
        with _collector_spared():
            scratch = _timed(
                report,
                "scratch database (migrated)",
                lambda: place.prepare(from_target=empty_and_current),
            )
            rows, built_at = _build(scratch, place, params, policy, report, parallel=parallel)
            _timed(report, "moved into place", place.adopt)
            if not db.is_sqlite:
                _timed(report, "visibility map (VACUUM)", lambda: _vacuum(db))
    except BaseException as error:
        place.discard()
        if isinstance(error, Exception) and not isinstance(error, DeskError):
            raise DemoBuildFailed("building the demo", one_line(error)) from error
        raise
    return DemoSummary(
        params=params, rows=rows, seconds=time.perf_counter() - started, built_at=built_at
    )


@contextmanager
def _collector_spared() -> Iterator[None]:
    """The cyclic garbage collector kept off what the build never frees: the objects alive
    before it (the modules, the policy; moved to the permanent generation, which a forked
    helper inherits too) are not scanned again at each collection, and the youngest
    generation is collected every :data:`BUILD_GC_THRESHOLD` allocations instead of 700. The
    build makes millions of short-lived tuples and rows and frees them by reference
    counting; in a process that had imported more (the benchmark's, a console's) the
    collections over its older objects cost the work orders' replay seconds."""
    frozen_before = gc.get_freeze_count()
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(BUILD_GC_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if not frozen_before:  # what someone else froze (a console) stays frozen
            gc.unfreeze()


def _timed(report: Progress, label: str, work: Callable[[], T]) -> T:
    start = time.perf_counter()
    try:
        result = work()
    except DeskError:
        raise
    except Exception as error:
        raise DemoBuildFailed(label, one_line(error)) from error
    report(label, 0, time.perf_counter() - start)
    return result


def _check_target(db: Database, *, replace: bool) -> bool:
    """Refuse a target holding data, unless it is a demo to replace. Returns whether the
    target is an empty database at the current schema."""
    from desk.demo import inspect_target

    target = inspect_target(db)
    if not target.has_data:
        return target.has_schema and target.schema_current
    if target.params is not None and replace:
        return False
    what = "a demo" if target.params is not None else "data"
    raise NotEmpty(
        f"the database already holds {what}: a demo is built only into an empty database"
        + (" (or replaces a demo)" if target.params is None else "")
    )


def _build(
    scratch: Database,
    place: ScratchPlace,
    params: DemoParams,
    policy: Policy,
    report: Progress,
    *,
    parallel: bool,
) -> tuple[dict[str, int], str]:
    now = scratch.clock.now().astimezone(UTC).replace(microsecond=0)
    part_url = place.part_url() if parallel else None
    with scratch.engine.connect() as connection:
        steps = _Steps(Sink(connection), report)
        tables = BULK_TABLES if scratch.is_sqlite else None
        with connection.begin():
            saved = steps.run(
                "checks and indexes set aside", None, lambda: Sink(connection).suspend(tables)
            )
    part_indexes: list[str] = []
    if part_url is not None:
        create_part_file(part_url, _table_statements(scratch, ACTIVITY_TABLES))
        part_indexes = _index_statements(scratch, ACTIVITY_TABLES, saved)
    helper: _Helper | None = None
    try:
        with _loading_connection(scratch, attach=part_url) as connection:
            sink = Sink(connection)
            w = World(
                sink=sink,
                params=params,
                policy=policy,
                rng=random.Random(params.seed),
                now_s=int(now.timestamp()),
            )
            steps = _Steps(sink, report)
            password_hash, service_hashes = steps.run("password hashes (argon2id)", None, _hashes)
            steps.run(
                "branches, departments, staff, shifts",
                "org",
                lambda: org.write_org(w, password_hash),
            )
            steps.run("customer profiles drawn", None, lambda: _draw_customers(w))
            steps.run("contact schedule drawn", None, lambda: _draw_schedule(w))
            showcase = scenarios.plan_scenarios(w)
            # Neither part draws from the other's random stream, so running the activity in
            # a helper process, before or after the people, changes no row.
            if parallel:
                job = _HelperJob(part_url or place.url, _portable(w), showcase, part_indexes)
                helper = _Helper(job, report)
                if sink.is_sqlite:
                    _sorter_threads(connection, False)
            _people(w, steps, saved)
            if helper is None:
                locks = _activity(w, steps, showcase)
            else:
                outcome = steps.run("waiting for the helper process", None, helper.wait)
                locks = outcome.locks
                _add_counts(sink.rows_written, outcome.rows_written)
                if sink.is_sqlite:
                    _sorter_threads(connection, True)
                if part_url is not None:
                    steps.run("contacts, work orders … copied in", None, lambda: _merge(w, saved))
            floor.apply_locks(w, locks)
            steps.run(
                "knowledge base and canned replies",
                "knowledge_article",
                lambda: floor.write_knowledge(w),
            )
            built_at = now.isoformat()
            floor.write_meta(w, built_at)
            foreign_keys = _take_foreign_keys(saved)
            steps.run("indexes and keys", None, lambda: _finish(sink, saved))
            steps.run("statistics (ANALYZE)", None, lambda: _analyze(sink))
            # The escalation sweep's plans: open orders are replayed once here, so the first
            # sweep (the console's timer or `desk sweep`) only stores what falls due. Before
            # the foreign keys come back: an order updated twice in one transaction has its
            # keys checked again at each update.
            steps.run("ladder: open orders marked", None, lambda: prime_ladder(connection))
            steps.run(
                "ladder: plans of open orders",
                None,
                lambda: plan_ladder(connection, policy=policy, now=now),
            )
            if foreign_keys:
                steps.run("foreign keys checked", None, lambda: _restore(sink, foreign_keys))
            rows = dict(sink.rows_written)
            rows.update(w.counts)
            for status, count in sink.rows(
                "SELECT status, COUNT(*) FROM work_order GROUP BY status ORDER BY status"
            ):
                rows[f"work_order.{status}"] = int(count)
    finally:
        if helper is not None:
            helper.stop()
    scratch.run(
        lambda session: audit.record(
            session,
            action="demo.build",
            actor_login="desk demo",
            target_type="database",
            detail={**params.as_meta(), "rows": sum(rows.values())},
        ),
        write=True,
    )
    # The dashboard's hourly summaries and churn snapshot, from the facts just written.
    from desk.services.summaries import refresh_summaries

    _timed(
        report,
        "dashboard summaries",
        lambda: refresh_summaries(scratch, policy=policy, full=True, now=now),
    )
    return rows, built_at


def _people(w: World, steps: _Steps, saved: list[SavedObject]) -> None:
    """Customers, accounts, bills and payments, their indexes and the 详单 sample."""
    sink = w.sink
    _, service_hashes = _hashes()
    steps.run("customers", "customer", lambda: customers.write_customers(w, service_hashes))
    steps.run("accounts (set-based)", None, lambda: customers.write_accounts(w))
    steps.run("bills and payments (set-based)", None, lambda: _bills(w, saved))
    people = _take(saved, lambda item: item.table in PEOPLE_TABLES)
    steps.run("customer indexes and full-text search", None, lambda: _restore(sink, people))
    steps.run("arrears from the bills (set-based)", None, lambda: _arrears(w))
    sample = customers.bill_item_sample(w, max(2_000, w.n // 200), BILL_ITEM_SAMPLE)
    steps.run(
        "itemized bill records (详单, a sample)",
        "bill_item",
        lambda: customers.write_bill_items(w, sample),
    )


def _activity(
    w: World, steps: _Steps, showcase: list[scenarios.Scenario], *, processes: int = 1
) -> list[tuple[int, int]]:
    """Phones, contacts, work orders and everything around them; returns the verification
    locks to set on customers. ``processes``: worker processes for the work orders' rules."""
    steps.run("phones", "customer_phone", lambda: customers.write_phones(w))
    maker = contacts.ContactMaker(w)
    steps.run("contacts", "contact", lambda: contacts.write_contacts(w, maker))
    steps.run(
        "showcase contacts",
        "contact",
        lambda: scenarios.write_scenario_contacts(w, maker, showcase),
    )
    writer = WorkOrderWriter(w, workers=processes)
    plans = sorted(
        plans_from_seeds(maker.seeds)
        + [scenario.plan for scenario in showcase]
        + backlog_plans(w, w.params.backlog),
        key=lambda plan: plan.created_s,
    )
    try:
        steps.run(
            "work orders and their events", "work_order", lambda: _work_orders(w, writer, plans)
        )
    finally:
        writer.close()
    steps.run(
        "callbacks",
        "callback",
        lambda: floor.write_callbacks(w, writer, maker, customers.greetings_due(w)),
    )
    steps.run(
        "shift notes and handovers",
        "handover",
        lambda: floor.write_shift_records(w, writer, maker),
    )
    return steps.run(
        "verification attempts",
        "verification_attempt",
        lambda: floor.write_verifications(w, maker),
    )


# --- the helper process ---------------------------------------------------------------------


@dataclass
class _HelperJob:
    url: str  # where the helper writes: its SQLite part file, or the PostgreSQL scratch schema
    world: World  # without its sink
    showcase: list[scenarios.Scenario]
    indexes: list[str] = field(default_factory=list)  # SQLite: made in the part file at the end


@dataclass
class _HelperOutcome:
    locks: list[tuple[int, int]]
    rows_written: dict[str, int] = field(default_factory=dict)


def _portable(w: World) -> World:
    """A copy of the world that can cross to another process (no connection)."""
    return replace(w, sink=cast(Sink, None))


class _Helper:
    """The activity part of the build in a child process (:mod:`multiprocessing`, forked: it
    inherits the drawn world, and opens a connection of its own). It reports progress and its
    outcome through a pipe, and exits when this process dies."""

    def __init__(self, job: _HelperJob, progress: Progress) -> None:
        context = multiprocessing.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)
        self.process = context.Process(
            # Not a daemon: it starts worker processes of its own; it still dies with this
            # process (die_with_parent) and is killed by stop().
            target=_helper_main,
            args=(job, send),
            name="desk-demo-helper",
            daemon=False,
        )
        self.process.start()
        send.close()
        self._progress = progress
        self._last: tuple[Any, ...] | None = None
        self._listener = threading.Thread(target=self._listen, daemon=True)
        self._listener.start()

    def _listen(self) -> None:
        while True:
            try:
                message = self._receive.recv()
            except (EOFError, OSError):
                return
            if message[0] == "progress":
                self._progress(*message[1:])
            else:
                self._last = message
                return

    def wait(self) -> _HelperOutcome:
        self._listener.join()
        self.process.join()
        last = self._last
        if last is None:
            raise DemoBuildFailed(
                "helper process", f"it ended without reporting (exit code {self.process.exitcode})"
            )
        if last[0] == "failed":
            raise DemoBuildFailed(str(last[1]), str(last[2]))
        outcome: _HelperOutcome = last[1]
        return outcome

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self._receive.close()


def _helper_main(job: _HelperJob, send: Pipe) -> None:
    die_with_parent()
    from desk.infra.database import create_engine

    w = job.world
    engine = create_engine(job.url)
    try:
        with engine.connect() as connection:
            _tune(connection, part=True)
            with connection.begin():
                w.sink = Sink(connection)
                steps = _Steps(w.sink, lambda *message: send.send(("progress", *message)))
                locks = _activity(w, steps, job.showcase, processes=workers())
                if job.indexes:
                    steps.run(
                        "indexes of contacts, work orders …",
                        None,
                        lambda: _create_indexes(connection, job.indexes),
                    )
        send.send(("done", _HelperOutcome(locks, dict(w.sink.rows_written))))
    except DemoBuildFailed as error:
        send.send(("failed", error.step, error.reason))
    except BaseException as error:  # report whatever it was, in one line
        send.send(("failed", "helper process", one_line(error)))
    finally:
        engine.dispose()
        send.close()


def _table_statements(db: Database, tables: tuple[str, ...]) -> list[str]:
    """SQLite: the ``CREATE TABLE`` statements of ``tables``, for the helper's part file."""
    with db.engine.connect() as connection:
        found = {
            str(name): str(ddl)
            for name, ddl in connection.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
            )
        }
    return [found[name] for name in tables]


def _index_statements(db: Database, tables: tuple[str, ...], saved: list[SavedObject]) -> list[str]:
    """SQLite: the ``CREATE INDEX`` statements of ``tables``, those set aside and those not,
    for the helper to make in its part file."""
    ddl: ColumnClause[str] = column("sql")
    kind: ColumnClause[str] = column("type")
    owner: ColumnClause[str] = column("tbl_name")
    name: ColumnClause[str] = column("name")
    query = (
        select(ddl)
        .select_from(table("sqlite_master"))
        .where(kind == "index", ddl.is_not(None), owner.in_(tables))
        .order_by(name)
    )
    with db.engine.connect() as connection:
        kept = [str(statement) for (statement,) in connection.execute(query)]
    aside = [item.ddl for item in saved if item.kind == INDEX and item.table in tables]
    return aside + kept


def _create_indexes(connection: Connection, statements: list[str]) -> int:
    for statement in statements:
        connection.exec_driver_sql(statement)
    return len(statements)


def _merge(w: World, saved: list[SavedObject]) -> int:
    """Copy the helper's tables, with their indexes, into the build.

    The tables' indexes are made again here while the tables are still empty, so each
    ``INSERT INTO main.t SELECT * FROM part.t`` copies whole records into the table and into
    every index in order (SQLite's transfer of a table into an empty one with the same
    columns and indexes): the indexes were sorted in the helper process, beside this one,
    instead of here after it. That form is what SQLite recognises; it has no column list."""
    sink = w.sink
    sink.restore(_take(saved, lambda item: item.table in ACTIVITY_TABLES and item.kind == INDEX))
    total = 0
    for name in ACTIVITY_TABLES:
        total += sink.connection.exec_driver_sql(_copy_statement(sink.connection, name)).rowcount
    return total


def _copy_statement(connection: Connection, name: str) -> str:
    """``INSERT INTO main.t SELECT * FROM part.t`` for the table ``name``."""
    quote = connection.dialect.identifier_preparer.quote
    source, target = "part." + quote(name), "main." + quote(name)
    return "INSERT INTO " + target + " SELECT * FROM " + source  # noqa: S608 - table names


def _add_counts(into: dict[str, int], more: dict[str, int]) -> None:
    for key, value in more.items():
        into[key] = into.get(key, 0) + value


# --- steps ----------------------------------------------------------------------------------


def _draw_customers(w: World) -> int:
    customers.draw_customers(w)
    return 0


def _draw_schedule(w: World) -> int:
    contacts.draw_schedule(w)
    return len(w.contact_times)


@cache
def _hashes() -> tuple[str, list[str]]:
    """One argon2id hash of ``demo123`` for every demo user, one per service password.

    The demo's secrets are published (:func:`~desk.demo.model.demo_service_password`), so
    they are hashed with light argon2id parameters (verification reads the parameters from
    the hash itself) and once per process.
    """
    hasher = PasswordHasher(time_cost=1, memory_cost=8_192, parallelism=1)
    return hasher.hash(DEMO_PASSWORD), [hasher.hash(secret) for secret in SERVICE_PASSWORDS]


def _take(saved: list[SavedObject], wanted: Callable[[SavedObject], bool]) -> list[SavedObject]:
    """Remove and return the saved objects ``wanted`` picks, except foreign keys (made
    again last, once every table holds its rows)."""
    taken = [item for item in saved if wanted(item) and item.kind != FOREIGN_KEY]
    for item in taken:
        saved.remove(item)
    return taken


def _take_foreign_keys(saved: list[SavedObject]) -> list[SavedObject]:
    taken = [item for item in saved if item.kind == FOREIGN_KEY]
    for item in taken:
        saved.remove(item)
    return taken


def _bills(w: World, saved: list[SavedObject]) -> int:
    """Bills and payments, then the bill indexes (the arrears update reads through one)."""
    customers.write_bills(w)
    bills, payments = w.sink.count("bill"), w.sink.count("payment")
    w.sink.rows_written["bill"] = bills
    w.sink.rows_written["payment"] = payments
    w.sink.restore(_take(saved, lambda item: item.table == "bill"))
    return bills + payments


def _arrears(w: World) -> int:
    """Customers' arrears from their bills, once the customer's indexes exist.

    On PostgreSQL an update of rows of a table without indexes leaves heap-only tuple chains,
    and an index built over such a table is withheld from every transaction older than the
    build (``pg_index.indcheckxmin``): for as long as any session on the server keeps a
    transaction open from before, lookups would scan the whole table. Updating after the
    indexes exist avoids that.
    """
    count = customers.settle_arrears(w)
    w.counts["customers_in_arrears"] = count
    return count


def _work_orders(w: World, writer: WorkOrderWriter, plans: list[Plan]) -> None:
    for start in range(0, len(plans), WORK_ORDER_BATCH):
        batch = plans[start : start + WORK_ORDER_BATCH]
        w.sink.insert("work_order", WORK_ORDER_COLUMNS, writer.rows(batch))
        writer.flush_events()


def _restore(sink: Sink, saved: list[SavedObject]) -> int:
    """Indexes and triggers back; the full-text index rebuilt once with the customer's."""
    sink.restore(saved)
    if sink.is_sqlite and any(item.table == "customer" for item in saved):
        sink.connection.exec_driver_sql("INSERT INTO customer_fts(customer_fts) VALUES ('rebuild')")
    return len(saved)


def _finish(sink: Sink, saved: list[SavedObject]) -> int:
    count = _restore(sink, saved)
    sink.reset_sequences(ID_TABLES)
    return count


def _analyze(sink: Sink) -> int:
    """Planner statistics; on SQLite from a sample of each index (``analysis_limit``), which
    keeps the same statistics tables at a fraction of a full scan of a few gigabytes, but the
    work orders' in full."""
    if sink.is_sqlite:
        sink.connection.exec_driver_sql("PRAGMA analysis_limit=1000")
        sink.connection.exec_driver_sql("ANALYZE")
        # Work orders in full (a second at 300,000 open ones): sampled, the status indexes
        # claimed 1,001 orders a status (51,000 on average at that backlog), and the planner
        # read the returned orders through one of them rather than through their own index.
        sink.connection.exec_driver_sql("PRAGMA analysis_limit=0")
        sink.connection.exec_driver_sql("ANALYZE work_order")
        return 0
    # PostgreSQL: the scratch schema's tables only (a bare ANALYZE covers the whole database).
    names = [
        str(name)
        for (name,) in sink.rows(
            "SELECT c.relname FROM pg_class c WHERE c.relkind = 'r' "
            "AND c.relnamespace = current_schema()::regnamespace ORDER BY c.relname"
        )
    ]
    quote = sink.connection.dialect.identifier_preparer.quote
    sink.connection.exec_driver_sql("ANALYZE " + ", ".join(quote(name) for name in names))
    return len(names)


def _vacuum(db: Database) -> None:
    """PostgreSQL: mark every page of the freshly loaded tables all-visible, as autovacuum
    would in time (a server may run without it), so index-only reads (the dashboard's counts,
    the queues' keyset pages) read no table page. Outside a transaction, as VACUUM must be."""
    with db.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        names = [
            str(name)
            for (name,) in connection.exec_driver_sql(
                "SELECT c.relname FROM pg_class c WHERE c.relkind = 'r' "
                "AND c.relnamespace = current_schema()::regnamespace ORDER BY c.relname"
            )
        ]
        quote = connection.dialect.identifier_preparer.quote
        connection.exec_driver_sql("VACUUM " + ", ".join(quote(name) for name in names))


def _tune(connection: Connection, *, part: bool = False) -> None:
    """Session settings for loading. SQLite: no syncs, no foreign-key checks (restored by the
    caller), a big page cache, sorting threads; the helper's part file needs no journal at
    all. PostgreSQL: UTC for the instants written as text, no wait for the WAL flush, room
    to sort."""
    driver: Any = connection.connection.driver_connection
    if connection.dialect.name == "sqlite":
        driver.execute("PRAGMA foreign_keys=OFF")
        driver.execute("PRAGMA synchronous=OFF")
        driver.execute("PRAGMA journal_mode=OFF" if part else "PRAGMA journal_mode=MEMORY")
        driver.execute("PRAGMA cache_size=-400000")
        driver.execute("PRAGMA temp_store=MEMORY")
        _sorter_threads(connection, True)
        return
    for statement in (
        "SET TIME ZONE 'UTC'",
        "SET synchronous_commit = off",
        f"SET work_mem = '{PG_WORK_MEM}'",
        f"SET maintenance_work_mem = '{PG_WORK_MEM}'",
    ):
        connection.exec_driver_sql(statement)
    connection.commit()


def _sorter_threads(connection: Connection, on: bool) -> None:
    """SQLite: whether the sorter of ``CREATE INDEX`` may use helper threads (off by default),
    one per core of the machine. Off in this process while the helper process runs: the
    helper (and its workers, on more than two cores) keeps the other cores busy, and the
    threads' merges cost a fifth more CPU (the helper's indexes at 1M: 6.9 -> 8.6 CPU-s),
    taken from the helper, which is the longer of the two."""
    threads = min(8, os.cpu_count() or 1) if on else 0
    driver: Any = connection.connection.driver_connection
    driver.execute(f"PRAGMA threads={threads}")


@contextmanager
def _loading_connection(db: Database, *, attach: str | None = None) -> Iterator[Connection]:
    """One connection in one transaction, tuned for loading; ``attach`` is the helper's part
    file (SQLite; the transaction then begins deferred, so the helper can write the file until
    it is read)."""
    with db.engine.connect() as connection:
        connection = connection.execution_options(desk_write=attach is None)
        if not db.is_sqlite:
            _tune(connection)
            with connection.begin():
                yield connection
            return
        driver: Any = connection.connection.driver_connection
        mode = driver.execute("PRAGMA journal_mode").fetchone()[0]
        _tune(connection)
        if attach is not None:
            driver.execute("ATTACH DATABASE ? AS part", (attach.removeprefix("sqlite:///"),))
        try:
            with connection.begin():
                yield connection
        finally:
            if attach is not None:
                driver.execute("DETACH DATABASE part")
            driver.execute(f"PRAGMA journal_mode={mode}")
            driver.execute("PRAGMA synchronous=FULL")
            driver.execute("PRAGMA foreign_keys=ON")
