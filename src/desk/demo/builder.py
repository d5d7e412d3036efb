"""Building a demo database: every step set-based, on one connection, in one transaction.

Rows are made in Python only where they need Python (names and their search keys, ID cards,
contacts, work-order histories) and written with ``executemany`` (SQLite) or ``COPY``
(PostgreSQL); accounts, bills and payments are ``INSERT … SELECT`` over the customers.

On SQLite the build connection runs with ``synchronous=OFF``, an in-memory journal and
foreign-key checks off (every id is assigned here, in order), restored when it ends; the
secondary indexes and the full-text triggers are dropped while loading and re-created from
their stored definitions, and the full-text index is rebuilt in one pass. A large build
forks a helper process for phones, contacts and work orders (a second core), whose rows are
copied in at the end. On PostgreSQL the id sequences are moved past the ids written.
``ANALYZE`` ends it. The end state is the migrated schema holding the data.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from functools import cache
from pathlib import Path
from typing import NoReturn, TypeVar

from argon2 import PasswordHasher
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from desk.demo import contacts, customers, floor, org, scenarios
from desk.demo.model import (
    DEMO_PASSWORD,
    SERVICE_PASSWORDS,
    DemoParams,
    DemoSummary,
    Progress,
)
from desk.demo.sink import SavedObject, Sink
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
WORK_ORDER_BATCH = 20_000
BILL_ITEM_SAMPLE = 200  # the first customers always have a 详单, for testers


class NotEmpty(DeskError):
    title = "Database not empty"


def _quiet(_step: str, _rows: int, _seconds: float) -> None:
    return None


class _Steps:
    def __init__(self, sink: Sink, progress: Progress) -> None:
        self.sink = sink
        self.progress = progress

    def run(self, label: str, table: str | None, work: Callable[[], T]) -> T:
        before = sum(self.sink.rows_written.values())
        start = time.perf_counter()
        result = work()
        rows = sum(self.sink.rows_written.values()) - before
        if isinstance(result, int) and table is None:
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
) -> DemoSummary:
    """Fill an empty, migrated database with a demo built from ``params``.

    Everything derives from ``random.Random(params.seed)`` (and streams seeded from it) and
    the instant of ``db.clock``: the same parameters at the same instant build the same rows.
    The whole build is one transaction: a failure leaves the database as it was.

    On SQLite with a file, a large build (``parallel`` None: from
    :data:`PARALLEL_MIN_CUSTOMERS` customers; True/False forces it) generates the contacts,
    work orders and everything around them in a forked helper process, into a scratch file
    next to the database, while this process writes customers, accounts and bills; the rows
    are then copied in with ``INSERT … SELECT``. Both ways build the same rows.
    """
    policy = policy or load_policy()
    report = progress or _quiet
    started = time.perf_counter()
    now = db.clock.now().astimezone(UTC).replace(microsecond=0)
    scratch = _scratch_path(db, params, parallel)
    if scratch is not None:
        _prepare_scratch(db, scratch)
    helper: _Helper | None = None
    try:
        with _build_connection(db, attach=scratch) as connection:
            sink = Sink(connection)
            _require_empty(sink)
            w = World(
                sink=sink,
                params=params,
                policy=policy,
                rng=random.Random(params.seed),
                now_s=int(now.timestamp()),
            )
            steps = _Steps(sink, report)
            saved = sink.suspend(BULK_TABLES, triggers=True)
            password_hash, service_hashes = steps.run("password hashes (argon2id)", None, _hashes)
            steps.run(
                "branches, departments, staff, shifts",
                "org",
                lambda: org.write_org(w, password_hash),
            )
            steps.run("customer profiles drawn", None, lambda: _draw_customers(w))
            steps.run("contact schedule drawn", None, lambda: _draw_schedule(w))
            showcase = scenarios.plan_scenarios(w)
            # Customers before what refers to them (PostgreSQL checks foreign keys as rows
            # arrive); neither part draws from the other's random stream, so the order, or
            # running the second in a helper process, changes no row.
            helper = _fork_activity(w, steps, showcase, scratch) if scratch else None
            _people(w, steps, saved, service_hashes)
            if helper is None:
                locks = _activity(w, steps, showcase)
            else:
                locks = steps.run("waiting for the helper process", None, lambda: helper.wait())
                steps.run("contacts, work orders … copied in", None, lambda: _merge(w, scratch))
            floor.apply_locks(w, locks)
            steps.run(
                "knowledge base and canned replies",
                "knowledge_article",
                lambda: floor.write_knowledge(w),
            )
            built_at = now.isoformat()
            floor.write_meta(w, built_at)
            steps.run("indexes", None, lambda: _finish(sink, saved))
            # The escalation sweep's plans: open orders are replayed once here, so the first
            # sweep (the console's timer or `desk sweep`) only stores what falls due.
            steps.run("ladder: open orders marked", None, lambda: prime_ladder(connection))
            steps.run(
                "ladder: plans of open orders",
                None,
                lambda: plan_ladder(connection, policy=policy, now=now),
            )
            steps.run("statistics (ANALYZE)", None, lambda: _analyze(sink))
            rows = dict(sink.rows_written)
            rows.update(w.counts)
            for status, count in sink.rows(
                "SELECT status, COUNT(*) FROM work_order GROUP BY status ORDER BY status"
            ):
                rows[f"work_order.{status}"] = int(count)
    finally:
        if helper is not None:
            helper.stop()
        if scratch is not None:
            _remove_scratch(db, scratch)
    db.run(
        lambda session: audit.record(
            session,
            action="demo.build",
            actor_login="desk demo",
            target_type="database",
            detail={**params.as_meta(), "rows": sum(sink.rows_written.values())},
        ),
        write=True,
    )
    return DemoSummary(
        params=params, rows=rows, seconds=time.perf_counter() - started, built_at=built_at
    )


def _people(w: World, steps: _Steps, saved: list[SavedObject], hashes: list[str]) -> None:
    """Customers, accounts, bills and payments, their indexes and the 详单 sample."""
    sink = w.sink
    steps.run("customers", "customer", lambda: customers.write_customers(w, hashes))
    steps.run("accounts (set-based)", None, lambda: customers.write_accounts(w))
    steps.run("bills and payments (set-based)", None, lambda: _bills(w, saved))
    people = [item for item in saved if item.table in PEOPLE_TABLES]
    steps.run("customer indexes and full-text search", None, lambda: _restore(sink, people))
    for item in people:
        saved.remove(item)
    sample = customers.bill_item_sample(w, max(2_000, w.n // 200), BILL_ITEM_SAMPLE)
    steps.run(
        "itemized bill records (详单, a sample)",
        "bill_item",
        lambda: customers.write_bill_items(w, sample),
    )


def _activity(w: World, steps: _Steps, showcase: list[scenarios.Scenario]) -> list[tuple[int, int]]:
    """Phones, contacts, work orders and everything around them; returns the verification
    locks to set on customers."""
    steps.run("phones", "customer_phone", lambda: customers.write_phones(w))
    maker = contacts.ContactMaker(w)
    steps.run("contacts", "contact", lambda: contacts.write_contacts(w, maker))
    steps.run(
        "showcase contacts",
        "contact",
        lambda: scenarios.write_scenario_contacts(w, maker, showcase),
    )
    writer = WorkOrderWriter(w)
    plans = sorted(
        plans_from_seeds(maker.seeds)
        + [scenario.plan for scenario in showcase]
        + backlog_plans(w, w.params.backlog),
        key=lambda plan: plan.created_s,
    )
    steps.run("work orders and their events", "work_order", lambda: _work_orders(w, writer, plans))
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


# --- the helper process (SQLite) ------------------------------------------------------------

PARALLEL_MIN_CUSTOMERS = 50_000
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
PEOPLE_TABLES = ("customer", "account", "bill", "payment")


def _scratch_path(db: Database, params: DemoParams, parallel: bool | None) -> Path | None:
    database = db.engine.url.database
    if not db.is_sqlite or not database or database == ":memory:" or not hasattr(os, "fork"):
        return None
    if parallel is None:
        parallel = params.customers >= PARALLEL_MIN_CUSTOMERS
    if not parallel:
        return None
    path = Path(database)
    return path.with_name(path.name + ".demo-part")


def _prepare_scratch(db: Database, scratch: Path) -> None:
    """A scratch database with the activity tables (no indexes), ready before the build's
    transaction begins (SQLite attaches databases only outside a transaction)."""
    _remove_scratch(db, scratch)
    with db.engine.connect() as connection:
        ddl = [
            str(row[0])
            for row in connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name IN ("
                + ", ".join(f"'{name}'" for name in ACTIVITY_TABLES)
                + ")"
            )
        ]
    part = sqlite3.connect(scratch, isolation_level=None)
    try:
        for statement in ddl:
            part.execute(statement)
        part.execute("CREATE TABLE demo_lock (customer_id INTEGER, at INTEGER)")
    finally:
        part.close()


def _remove_scratch(db: Database, scratch: Path) -> None:
    del db
    for suffix in ("", "-journal", "-wal", "-shm", ".error"):
        leftover = scratch.with_name(scratch.name + suffix)
        if leftover.exists():
            leftover.unlink()


@dataclass
class _Helper:
    pid: int
    scratch: Path
    done: bool = False

    def stop(self) -> None:
        """End the helper if the build failed before waiting for it."""
        if not self.done:
            os.kill(self.pid, signal.SIGTERM)
            os.waitpid(self.pid, 0)
            self.done = True

    def wait(self) -> list[tuple[int, int]]:
        _pid, status = os.waitpid(self.pid, 0)
        self.done = True
        error = self.scratch.with_name(self.scratch.name + ".error")
        if os.waitstatus_to_exitcode(status) != 0:
            detail = error.read_text(encoding="utf-8") if error.exists() else "no details"
            raise RuntimeError(f"the demo helper process failed:\n{detail}")
        part = sqlite3.connect(self.scratch)
        try:
            return [(int(a), int(b)) for a, b in part.execute("SELECT * FROM demo_lock")]
        finally:
            part.close()


def _fork_activity(
    w: World, steps: _Steps, showcase: list[scenarios.Scenario], scratch: Path
) -> _Helper:
    """Run :func:`_activity` in a forked process writing into ``scratch``."""
    pid = os.fork()
    if pid:
        return _Helper(pid, scratch)
    _helper_main(w, steps, showcase, scratch)


def _helper_main(
    w: World, steps: _Steps, showcase: list[scenarios.Scenario], scratch: Path
) -> NoReturn:
    code = 1
    try:  # the child: never touch the parent's connection, never return
        engine = create_engine(f"sqlite:///{scratch}", poolclass=NullPool)
        with engine.connect() as connection:
            driver = connection.connection.driver_connection
            assert driver is not None
            driver.execute("PRAGMA journal_mode=OFF")
            driver.execute("PRAGMA synchronous=OFF")
            driver.execute("PRAGMA cache_size=-400000")  # the phone index takes random keys
            with connection.begin():
                w.sink = Sink(connection)
                locks = _activity(w, _Steps(w.sink, steps.progress), showcase)
                w.sink.insert("demo_lock", ("customer_id", "at"), locks)
        code = 0
    except BaseException:  # report to the parent, whatever it was
        scratch.with_name(scratch.name + ".error").write_text(
            traceback.format_exc(), encoding="utf-8"
        )
    finally:
        os._exit(code)


def _merge(w: World, scratch: Path | None) -> int:
    """Copy the helper's tables into the build (same columns, same order)."""
    del scratch
    total = 0
    for table in ACTIVITY_TABLES:
        count = w.sink.execute(f"INSERT INTO main.{table} SELECT * FROM part.{table}")
        w.sink.rows_written[table] = w.sink.rows_written.get(table, 0) + count
        total += count
    return total


def _draw_customers(w: World) -> int:
    customers.draw_customers(w)
    return 0


def _draw_schedule(w: World) -> int:
    contacts.draw_schedule(w)
    return len(w.contact_times)


@cache
def _hashes() -> tuple[str, list[str]]:
    """One argon2id hash of ``demo123`` for every demo user, one per service password.

    The demo's secrets are published (DESIGN.md §5, :func:`demo_service_password`), so they
    are hashed with light argon2id parameters (verification reads the parameters from the
    hash itself) and once per process.
    """
    hasher = PasswordHasher(time_cost=1, memory_cost=8_192, parallelism=1)
    return hasher.hash(DEMO_PASSWORD), [hasher.hash(secret) for secret in SERVICE_PASSWORDS]


def _bills(w: World, saved: list[SavedObject]) -> int:
    """Bills and payments, then the bill indexes (the arrears update reads through one)."""
    customers.write_bills(w)
    bills = int(w.sink.scalar("SELECT COUNT(*) FROM bill") or 0)
    payments = int(w.sink.scalar("SELECT COUNT(*) FROM payment") or 0)
    w.sink.rows_written["bill"] = bills
    w.sink.rows_written["payment"] = payments
    bill_indexes = [item for item in saved if item.table == "bill"]
    w.sink.restore(bill_indexes)
    for item in bill_indexes:
        saved.remove(item)
    w.counts["customers_in_arrears"] = customers.settle_arrears(w)
    return bills + payments


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
    keeps the same statistics tables at a fraction of a full scan of a few gigabytes."""
    if sink.is_sqlite:
        sink.connection.exec_driver_sql("PRAGMA analysis_limit=1000")
    sink.connection.exec_driver_sql("ANALYZE")
    return 0


def _require_empty(sink: Sink) -> None:
    for table in ("customer", "staff_user", "work_order", "contact"):
        people = " WHERE NOT is_system" if table == "staff_user" else ""  # desk's own actors
        if sink.scalar(f"SELECT COUNT(*) FROM (SELECT 1 FROM {table}{people} LIMIT 1) t"):
            raise NotEmpty(
                f"the database already holds data ({table}): a demo is built only "
                "into an empty database"
            )


@contextmanager
def _build_connection(db: Database, *, attach: Path | None = None) -> Iterator[Connection]:
    """One connection in one writing transaction, tuned for loading; ``attach`` is the
    helper's scratch database (the transaction then begins deferred, so the helper can write
    the scratch file until it is read)."""
    with db.engine.connect() as connection:
        connection = connection.execution_options(desk_write=attach is None)
        if db.is_sqlite:
            driver = connection.connection.driver_connection
            assert driver is not None
            mode = driver.execute("PRAGMA journal_mode").fetchone()[0]
            driver.execute("PRAGMA foreign_keys=OFF")
            driver.execute("PRAGMA synchronous=OFF")
            driver.execute("PRAGMA journal_mode=MEMORY")
            driver.execute("PRAGMA cache_size=-400000")
            driver.execute("PRAGMA temp_store=MEMORY")
            if attach is not None:
                driver.execute("ATTACH DATABASE ? AS part", (str(attach),))
            try:
                with connection.begin():
                    yield connection
            finally:
                if attach is not None:
                    driver.execute("DETACH DATABASE part")
                driver.execute(f"PRAGMA journal_mode={mode}")
                driver.execute("PRAGMA synchronous=FULL")
                driver.execute("PRAGMA foreign_keys=ON")
        else:
            with connection.begin():
                connection.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")
                connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
                yield connection
