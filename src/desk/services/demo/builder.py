"""Building a demo database: every step set-based, on one connection, in one transaction.

On SQLite the build connection runs with ``synchronous=OFF``, an in-memory journal and
foreign-key checks off (every id is assigned here, in order), restored when it ends; the
secondary indexes and the full-text triggers are dropped while loading and re-created from
their stored definitions, and the full-text index is rebuilt in one pass. On PostgreSQL rows
go through ``COPY`` and the id sequences are moved past the ids written. ``ANALYZE`` ends it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC
from functools import cache
from typing import TypeVar

from argon2 import PasswordHasher
from sqlalchemy.engine import Connection

from desk.rules.policy import Policy, load_policy
from desk.services import audit
from desk.services.database import Database
from desk.services.demo import contacts, customers, floor, org, scenarios
from desk.services.demo.model import (
    DEMO_PASSWORD,
    SERVICE_PASSWORDS,
    DemoParams,
    DemoSummary,
    Progress,
)
from desk.services.demo.sink import SavedObject, Sink
from desk.services.demo.work_orders import (
    WORK_ORDER_COLUMNS,
    Plan,
    WorkOrderWriter,
    backlog_plans,
    plans_from_seeds,
)
from desk.services.demo.world import World
from desk.services.errors import DeskError

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
) -> DemoSummary:
    """Fill an empty, migrated database with a demo built from ``params``.

    Everything derives from ``random.Random(params.seed)`` and the instant of ``db.clock``:
    the same parameters at the same instant build the same rows. The whole build is one
    transaction: a failure leaves the database as it was.
    """
    policy = policy or load_policy()
    report = progress or _quiet
    started = time.perf_counter()
    now = db.clock.now().astimezone(UTC).replace(microsecond=0)
    with _build_connection(db) as connection:
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
            "branches, departments, staff, shifts", "org", lambda: org.write_org(w, password_hash)
        )
        steps.run("customer profiles drawn", None, lambda: _then(customers.draw_customers, w, 0))
        steps.run(
            "contact schedule drawn",
            None,
            lambda: _draw_schedule(w),
        )
        showcase = scenarios.plan_scenarios(w)
        steps.run(
            "customers and phones", "customer", lambda: customers.write_customers(w, service_hashes)
        )
        steps.run("accounts (set-based)", None, lambda: customers.write_accounts(w))
        steps.run("bills and payments (set-based)", None, lambda: _bills(w, saved))
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
            + backlog_plans(w, params.backlog),
            key=lambda plan: plan.created_s,
        )
        steps.run(
            "work orders and their events", "work_order", lambda: _work_orders(w, writer, plans)
        )
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
        steps.run(
            "verification attempts",
            "verification_attempt",
            lambda: floor.write_verifications(w, maker),
        )
        sample = sorted(maker.bill_inquirers | set(range(1, min(w.n, BILL_ITEM_SAMPLE) + 1)))
        steps.run(
            "itemized bill records (详单, a sample)",
            "bill_item",
            lambda: customers.write_bill_items(w, sample[: max(2_000, w.n // 200)]),
        )
        steps.run(
            "knowledge base and canned replies",
            "knowledge_article",
            lambda: floor.write_knowledge(w),
        )
        built_at = now.isoformat()
        floor.write_meta(w, built_at)
        steps.run("indexes and full-text search", None, lambda: _finish(sink, saved))
        steps.run("statistics (ANALYZE)", None, lambda: connection.exec_driver_sql("ANALYZE") and 0)
        rows = dict(sink.rows_written)
        rows.update(w.counts)
        for status, count in writer.status_counts.items():
            rows[f"work_order.{status}"] = count
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


def _then(work: Callable[[World], None], w: World, result: int) -> int:
    work(w)
    return result


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


def _finish(sink: Sink, saved: list[SavedObject]) -> int:
    sink.restore(saved)
    if sink.is_sqlite:
        sink.connection.exec_driver_sql("INSERT INTO customer_fts(customer_fts) VALUES ('rebuild')")
    sink.reset_sequences(ID_TABLES)
    return len(saved)


def _require_empty(sink: Sink) -> None:
    for table in ("customer", "staff_user", "work_order", "contact"):
        if sink.scalar(f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} LIMIT 1) t"):
            raise NotEmpty(
                f"the database already holds data ({table}): a demo is built only "
                "into an empty database"
            )


@contextmanager
def _build_connection(db: Database) -> Iterator[Connection]:
    """One connection in one writing transaction, tuned for loading."""
    with db.engine.connect() as connection:
        connection = connection.execution_options(desk_write=True)
        if db.is_sqlite:
            driver = connection.connection.driver_connection
            assert driver is not None
            mode = driver.execute("PRAGMA journal_mode").fetchone()[0]
            driver.execute("PRAGMA foreign_keys=OFF")
            driver.execute("PRAGMA synchronous=OFF")
            driver.execute("PRAGMA journal_mode=MEMORY")
            driver.execute("PRAGMA cache_size=-400000")
            driver.execute("PRAGMA temp_store=MEMORY")
            try:
                with connection.begin():
                    yield connection
            finally:
                driver.execute(f"PRAGMA journal_mode={mode}")
                driver.execute("PRAGMA synchronous=FULL")
                driver.execute("PRAGMA foreign_keys=ON")
        else:
            with connection.begin():
                connection.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")
                connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
                yield connection
