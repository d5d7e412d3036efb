"""How a demo build ends: moved into place whole, or not at all.

A build killed at any moment (here: SIGKILL while its helper process runs) leaves the target
as it was and its helper gone; the next build removes the leftovers. A failed step is named in
one line. On PostgreSQL the demo ends as the migrated schema, constraint for constraint.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from desk.clock import FixedClock
from desk.demo import DemoBuildFailed, DemoParams, NotEmpty, build_demo, inspect_target
from desk.infra import migrations
from desk.infra.database import Database, create_engine
from desk.services import setup
from tests.conftest import T0, truncate_all

SMALL = DemoParams(customers=300, days=3, seed=4)
KILLED = DemoParams(customers=30_000, days=20, seed=9)

_BUILD = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from desk.clock import FixedClock
    from desk.demo import DemoParams, build_demo
    from desk.infra.database import Database

    def progress(step, rows, seconds):
        print(step, flush=True)

    db = Database.from_url(sys.argv[1], clock=FixedClock(datetime(2026, 11, 2, 2, tzinfo=UTC)))
    build_demo(db, DemoParams(customers=30_000, days=20, seed=9), progress=progress,
               parallel=True, replace=True)
    print("BUILT", flush=True)
    """
)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _kill_mid_build(url: str) -> list[int]:
    """Start a build in another process; SIGKILL it once its helper runs and the customers
    are being written. Returns the helper's pid(s)."""
    process = subprocess.Popen(
        [sys.executable, "-c", _BUILD, url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    helpers: list[int] = []
    deadline = time.monotonic() + 120
    for line in process.stdout:
        helpers = helpers or _children(process.pid)
        if line.strip() in {"phones", "customers"} and helpers:
            break
        assert "BUILT" not in line, "the build ended before it could be killed"
        assert time.monotonic() < deadline
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    return helpers


def _wait_gone(pids: list[int]) -> None:
    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in pids):
        assert time.monotonic() < deadline, "the helper outlived its parent"
        time.sleep(0.1)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_sqlite_build_leaves_the_old_demo_and_no_helper(tmp_path: Path) -> None:
    path = tmp_path / "demo.db"
    url = f"sqlite:///{path}"
    db = Database.from_url(url, clock=FixedClock(T0))
    build_demo(db, SMALL)
    db.dispose()
    helpers = _kill_mid_build(url)
    assert helpers, "the build had no helper process"
    _wait_gone(helpers)
    assert (tmp_path / "demo.db.building").exists()  # what the killed build left
    db = Database.from_url(url, clock=FixedClock(T0))
    target = inspect_target(db)
    assert target.params == SMALL
    assert target.schema_current
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        assert connection.exec_driver_sql("SELECT COUNT(*) FROM customer").scalar() == 300
    # The next build clears the leftovers and replaces the demo.
    build_demo(db, DemoParams(customers=400, days=3, seed=5), replace=True)
    assert inspect_target(db).params == DemoParams(customers=400, days=3, seed=5)
    assert not [item for item in tmp_path.iterdir() if ".building" in item.name]
    db.dispose()


@pytest.mark.postgres
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_postgresql_build_leaves_the_old_demo_and_no_helper(
    request: pytest.FixtureRequest,
) -> None:
    pg_url: str = request.getfixturevalue("_pg_url")
    engine = create_engine(pg_url)
    truncate_all(engine)
    db = Database(engine=engine, clock=FixedClock(T0))
    try:
        build_demo(db, SMALL)
        helpers = _kill_mid_build(pg_url)
        assert helpers
        _wait_gone(helpers)
        target = inspect_target(db)
        assert target.params == SMALL
        assert target.schema_current
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT COUNT(*) FROM customer").scalar() == 300
        build_demo(db, DemoParams(customers=400, days=3, seed=5), replace=True)
        assert inspect_target(db).params == DemoParams(customers=400, days=3, seed=5)
        with engine.connect() as connection:
            left = connection.exec_driver_sql(
                "SELECT COUNT(*) FROM pg_namespace WHERE nspname = 'desk_demo_build'"
            ).scalar()
        assert left == 0
    finally:
        truncate_all(engine)
        engine.dispose()


def test_a_failed_step_is_named_in_one_line_and_nothing_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database.from_url(f"sqlite:///{tmp_path / 'demo.db'}", clock=FixedClock(T0))
    build_demo(db, SMALL)

    def broken(*_args: Any) -> None:
        raise sa.exc.OperationalError("INSERT …", {}, Exception("database or disk is full\nmore"))

    monkeypatch.setattr("desk.demo.customers.write_accounts", broken)
    with pytest.raises(DemoBuildFailed) as failed:
        build_demo(db, DemoParams(customers=500, days=3, seed=2), replace=True, parallel=False)
    assert failed.value.step == "accounts (set-based)"
    assert failed.value.message == (
        'demo build failed at "accounts (set-based)": Exception: database or disk is full '
        "(nothing was kept)"
    )
    assert inspect_target(db).params == SMALL
    assert not [item for item in tmp_path.iterdir() if ".building" in item.name]


def test_a_build_spares_the_collector_while_it_runs_and_leaves_it_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a demo builds, what was alive before it is frozen out of the collector's scans
    and the youngest generation is collected less often; afterwards, a build that ended or
    one that failed, the collector is as it was (what another part of the process had frozen
    stays frozen)."""
    import gc

    from desk.demo import builder

    gc.unfreeze()  # what an earlier test in this process froze
    before = (gc.get_threshold(), 0)
    during: list[tuple[tuple[int, int, int], int]] = []
    real = builder.customers.write_accounts

    def watched(*args: Any) -> Any:
        during.append((gc.get_threshold(), gc.get_freeze_count()))
        return real(*args)

    monkeypatch.setattr("desk.demo.customers.write_accounts", watched)
    db = Database.from_url(f"sqlite:///{tmp_path / 'demo.db'}", clock=FixedClock(T0))
    build_demo(db, SMALL)
    assert during[0][0][0] == builder.BUILD_GC_THRESHOLD
    assert during[0][1] > before[1]
    assert (gc.get_threshold(), gc.get_freeze_count()) == before

    def broken(*_args: Any) -> None:
        raise sa.exc.OperationalError("INSERT …", {}, Exception("disk full"))

    monkeypatch.setattr("desk.demo.customers.write_accounts", broken)
    with pytest.raises(DemoBuildFailed):
        build_demo(db, DemoParams(customers=500, days=3, seed=2), replace=True, parallel=False)
    assert (gc.get_threshold(), gc.get_freeze_count()) == before
    monkeypatch.setattr("desk.demo.customers.write_accounts", real)
    gc.freeze()  # a console froze its heap: a build keeps it frozen
    build_demo(db, SMALL, replace=True)
    assert gc.get_freeze_count() > 0  # not unfrozen (the count drops as frozen objects die)
    assert gc.get_threshold() == before[0]
    gc.unfreeze()


def test_data_that_is_not_a_demo_is_never_replaced(tmp_path: Path) -> None:
    db = Database.from_url(f"sqlite:///{tmp_path / 'real.db'}", clock=FixedClock(T0))
    setup.initialise(db, admin_login="admin", admin_password="secret1")
    with pytest.raises(NotEmpty, match="holds data"):
        build_demo(db, SMALL, replace=True)
    assert inspect_target(db).params is None
    assert not [item for item in tmp_path.iterdir() if ".building" in item.name]


def test_a_demo_is_replaced_only_when_asked(tmp_path: Path) -> None:
    db = Database.from_url(f"sqlite:///{tmp_path / 'demo.db'}", clock=FixedClock(T0))
    build_demo(db, SMALL)
    with pytest.raises(NotEmpty, match="holds a demo"):
        build_demo(db, DemoParams(customers=400, days=3, seed=5))
    assert inspect_target(db).params == SMALL


def test_sqlite_statistics_of_the_work_orders_are_taken_in_full(tmp_path: Path) -> None:
    """The other tables are analysed from a sample; the work orders in full, so their status
    indexes count the rows as they are (sampled, at 300,000 open orders the rows a status
    read 1,001 for 51,000, and the planner passed over the returned orders' own index)."""
    db = Database.from_url(f"sqlite:///{tmp_path / 'demo.db'}", clock=FixedClock(T0))
    build_demo(db, DemoParams(customers=300, days=3, seed=4, backlog=2500))
    with db.engine.connect() as connection:
        orders = connection.exec_driver_sql("SELECT count(*) FROM work_order").scalar_one()
        statuses = connection.exec_driver_sql(
            "SELECT count(DISTINCT status) FROM work_order"
        ).scalar_one()
        stat = connection.exec_driver_sql(
            "SELECT stat FROM sqlite_stat1 WHERE idx = 'ix_work_order_status_due'"
        ).scalar_one()
    assert orders > 2500  # beyond the sample of the other tables
    total, per_status = (int(part) for part in stat.split()[:2])
    assert total == orders
    assert per_status == -(-orders // statuses)  # the rows a status, rounded up
    db.dispose()


def _pg_schema(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    queries = {
        "constraints": "SELECT conrelid::regclass::text, conname, contype, convalidated, "
        "pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE connamespace = current_schema()::regnamespace ORDER BY 1, 2",
        "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes "
        "WHERE schemaname = current_schema() ORDER BY 1, 2",
        "triggers": "SELECT tgrelid::regclass::text, tgname, tgenabled FROM pg_trigger "
        "WHERE NOT tgisinternal ORDER BY 1, 2",
        "functions": "SELECT proname FROM pg_proc "
        "WHERE pronamespace = current_schema()::regnamespace ORDER BY 1",
        "sequences": "SELECT sequencename FROM pg_sequences "
        "WHERE schemaname = current_schema() ORDER BY 1",
    }
    with engine.connect() as connection:
        return {
            name: [tuple(row) for row in connection.exec_driver_sql(sql)]
            for name, sql in queries.items()
        }


@pytest.mark.postgres
def test_a_postgresql_demo_ends_as_the_migrated_schema(request: pytest.FixtureRequest) -> None:
    """Every key, index, foreign key (validated), trigger, function and sequence set aside
    or moved comes back exactly as the migrations made them, and the sequences continue
    after the ids written."""
    engine = create_engine(request.getfixturevalue("_pg_url"))
    truncate_all(engine)
    db = Database(engine=engine, clock=FixedClock(T0))
    try:
        before = _pg_schema(engine)
        build_demo(db, SMALL, parallel=True)
        assert _pg_schema(engine) == before
        assert migrations.is_current(db)
        with engine.begin() as connection:
            top = connection.exec_driver_sql("SELECT MAX(id) FROM branch").scalar()
            new = connection.exec_driver_sql(
                "INSERT INTO branch (code, name, region) VALUES ('ZZ', 'z', 'z') RETURNING id"
            ).scalar()
            assert new == top + 1
            grams = connection.exec_driver_sql(
                "SELECT COUNT(DISTINCT customer_id) FROM customer_name_gram"
            ).scalar()
        assert grams == SMALL.customers  # filled by the name index's own trigger while loading
    finally:
        truncate_all(engine)
        engine.dispose()
