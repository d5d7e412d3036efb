"""The console's background jobs beside another terminal's writes (SQLite: one writer at a
time).

A job that writes in many batches must not keep the write lock from a person's save for the
whole job: another terminal's write gets in while the job is still running (the batches are
paced, desk.infra.pacing), and the job still finishes its work.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session

from desk.clock import FixedClock
from desk.infra.database import Database
from desk.models import Department, Meta
from desk.rules.vocab import DepartmentKind
from desk.services import sweep as sweep_service
from desk.services.housekeeping import run_due_jobs
from tests.services.test_sweep import POLICY, Org, dispatched_complaint, sh

ORDERS = 12
BATCH_SECONDS = 0.3  # a batch on a loaded machine: the waiting writer polls every 100 ms


@pytest.fixture
def org(sqlite_db: Database, clock: FixedClock) -> Org:
    """A branch office to dispatch to; the clock at Monday noon, after the dispatches."""
    clock.instant = sh(2, 12)

    def build(session: Session) -> Org:
        branch = Department(code="BR1", name="城东分公司", kind=DepartmentKind.BRANCH.value)
        center = Department(code="CC", name="客服中心", kind=DepartmentKind.CENTER.value)
        session.add_all([branch, center])
        session.flush()
        assert branch.id is not None
        assert center.id is not None
        return Org(branch.id, center.id, ())

    return sqlite_db.run(build, write=True)


@pytest.fixture
def slow_batches(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Each replay batch of the sweep holds the lock a while (a big backlog on a busy
    machine); the event is set once the first batch ran."""
    real = sweep_service._replan
    started = threading.Event()

    def slow(*args: Any, **options: Any) -> Any:
        started.set()
        time.sleep(BATCH_SECONDS)  # inside the batch's transaction: the lock is held
        return real(*args, **options)

    monkeypatch.setattr(sweep_service, "_replan", slow)
    return started


def other_terminal(db: Database) -> Database:
    return Database.from_url(db.engine.url.render_as_string(hide_password=False), clock=db.clock)


def test_another_terminal_writes_while_the_sweep_replays_a_backlog(
    sqlite_db: Database, org: Org, slow_batches: threading.Event
) -> None:
    db = sqlite_db
    for _ in range(ORDERS):
        dispatched_complaint(db, org)
    finished = threading.Event()
    reports: list[Any] = []

    def console() -> None:
        try:
            # the database's first sweep replays every open order, one per batch here
            reports.append(
                sweep_service.sweep_if_due(
                    db, holder="console", every=timedelta(minutes=1), policy=POLICY, batch_size=1
                )
            )
        finally:
            finished.set()

    job = threading.Thread(target=console)
    job.start()
    assert slow_batches.wait(30)
    other = other_terminal(db)
    try:

        def save(session: Session) -> None:
            session.add(Meta(key="another terminal", value="saved"))

        other.run(save, write=True)
        written_while_the_job_ran = not finished.is_set()
    finally:
        other.dispose()
        job.join(60)
    assert written_while_the_job_ran
    (report,) = reports
    assert report is not None
    assert report.replayed == ORDERS
    assert db.run(lambda s: s.get(Meta, "another terminal"), write=False) is not None


def test_the_console_jobs_run_beside_a_terminal_that_writes(
    sqlite_db: Database, org: Org, clock: FixedClock, slow_batches: threading.Event
) -> None:
    """run_due_jobs (the sweep, the callback plan, the summaries) while another terminal
    keeps saving: every save goes through, and the jobs finish."""
    db = sqlite_db
    for _ in range(ORDERS // 2):
        dispatched_complaint(db, org)
    clock.instant = sh(3, 12)
    done = threading.Event()
    errors: list[BaseException] = []

    def console() -> None:
        try:
            run_due_jobs(db, holder="console", sweep_every=timedelta(minutes=1), policy=POLICY)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            done.set()

    job = threading.Thread(target=console)
    job.start()
    assert slow_batches.wait(30)
    other = other_terminal(db)
    saved = 0
    try:
        while not done.is_set():

            def save(session: Session, n: int = saved) -> None:
                session.add(Meta(key=f"save {n}", value="saved"))

            other.run(save, write=True)
            saved += 1
    finally:
        other.dispose()
        job.join(60)
    assert errors == []
    assert saved >= 1
    stored = db.run(
        lambda s: [s.get(Meta, f"save {n}") is not None for n in range(saved)], write=False
    )
    assert all(stored)
    assert sweep_service.last_sweep(db) is not None
