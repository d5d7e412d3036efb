"""``desk sweep`` through the real command-line parser, on a small demo database."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from desk.cli import _register, app
from desk.infra import leases
from desk.infra.database import Database
from desk.services.sweep import SWEEP_LEASE

_register()
runner = CliRunner()


@pytest.fixture(scope="module")
def _demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sweep-demo") / "demo.db"
    built = runner.invoke(
        app,
        ["--db", f"sqlite:///{path}", "demo", "--no-launch", "--customers", "500", "--days", "10"],
    )
    assert built.exit_code == 0, built.output
    return path


@pytest.fixture
def demo_url(_demo_file: Path, tmp_path: Path) -> str:
    """A fresh copy of the small demo database for each test."""
    path = tmp_path / "demo.db"
    shutil.copyfile(_demo_file, path)
    return f"sqlite:///{path}"


def sweep(url: str, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--db", url, "sweep", *args])


def ladder_event_count(url: str) -> int:
    db = Database.from_url(url)
    with db.connection(write=False) as connection:
        count = connection.exec_driver_sql(
            "SELECT COUNT(*) FROM work_order_event WHERE ladder_key IS NOT NULL"
        ).scalar()
    db.dispose()
    return int(count or 0)


LATER = timedelta(hours=1)


@pytest.fixture
def an_hour_later(monkeypatch: pytest.MonkeyPatch) -> None:
    """The present is an hour after the demo was built (so warnings have fallen due)."""
    from desk.clock import SystemClock

    monkeypatch.setattr(SystemClock, "now", lambda self: datetime.now(UTC) + LATER)


def the_present() -> str:
    """Now, by the clock desk reads (a sweep may not run at a later instant)."""
    from desk.clock import SystemClock

    return SystemClock().now().astimezone().isoformat(timespec="seconds")


def an_hour_ahead() -> str:
    return (datetime.now(UTC) + LATER).astimezone().isoformat(timespec="seconds")


@pytest.mark.usefixtures("an_hour_later")
def test_a_second_run_at_the_same_now_reports_no_changes(demo_url: str) -> None:
    now = the_present()
    first = sweep(demo_url, "--now", now)
    assert first.exit_code == 0, first.output
    for kind in ("warning", "breach", "reminder", "escalation_proposed", "major_flagged"):
        assert kind in first.output
    assert "work orders examined" in first.output
    stored = ladder_event_count(demo_url)

    second = sweep(demo_url, "--now", now)
    assert second.exit_code == 0, second.output
    assert "0 changes" in second.output
    assert ladder_event_count(demo_url) == stored

    as_json = sweep(demo_url, "--now", now, "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.output)
    assert report["changes"] == 0
    assert report["candidates"] == 0
    assert report["now"] == datetime.fromisoformat(now).astimezone(UTC).isoformat()


@pytest.mark.usefixtures("an_hour_later")
def test_the_first_run_reports_what_it_stored(demo_url: str) -> None:
    before = ladder_event_count(demo_url)
    result = sweep(demo_url, "--now", the_present(), "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report["inserted"]) == {
        "warning",
        "breach",
        "reminder",
        "escalation_proposed",
        "major_flagged",
    }
    assert report["changes"] == sum(report["inserted"].values())
    assert ladder_event_count(demo_url) - before == report["changes"]
    assert report["candidates"] > 0  # the first sweep checks every open work order


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("2026-11-02T10:00:00", "no timezone"),
        ("2026-11-02 10:00", "no timezone"),
        ("tomorrow", "not an ISO-8601 instant"),
        ("2026-13-40T10:00:00+08:00", "not an ISO-8601 instant"),
    ],
)
def test_a_bad_now_is_refused_naming_the_option(demo_url: str, value: str, says: str) -> None:
    before = ladder_event_count(demo_url)
    result = sweep(demo_url, "--now", value)
    assert result.exit_code != 0
    assert "--now" in result.output
    assert says in result.output
    assert ladder_event_count(demo_url) == before


def test_a_sweep_running_elsewhere_makes_this_one_skip(demo_url: str) -> None:
    db = Database.from_url(demo_url)
    assert leases.acquire(db, name=SWEEP_LEASE, holder="console:lead1", ttl=timedelta(minutes=5))
    db.dispose()
    before = ladder_event_count(demo_url)
    result = sweep(demo_url)
    assert result.exit_code == 4, result.output  # cron sees the skip
    assert "skipped" in result.stdout
    assert "error: sweep skipped" in result.stderr
    assert "console:lead1" in result.stderr
    assert ladder_event_count(demo_url) == before


def test_a_future_now_is_refused_and_a_dry_run_looks_ahead_writing_nothing(
    demo_url: str,
) -> None:
    before = ladder_event_count(demo_url)
    refused = sweep(demo_url, "--now", an_hour_ahead())
    assert refused.exit_code == 2
    assert "later than the present" in refused.stderr
    ahead = sweep(demo_url, "--now", an_hour_ahead(), "--dry-run", "--format", "json")
    assert ahead.exit_code == 0, ahead.output
    preview = json.loads(ahead.stdout)
    assert preview["dry_run"] is True
    assert preview["steps_due"] + preview["orders_to_replay"] > 0
    assert ladder_event_count(demo_url) == before


@pytest.mark.usefixtures("an_hour_later")
def test_the_sweep_keeps_the_dashboard_summaries_up_with_no_console(demo_url: str) -> None:
    """cron's sweep refreshes the summaries when they are due (every 5 minutes, whoever ran
    the last refresh); the figures they give equal the contacts'."""
    from desk.clock import SHANGHAI, SystemClock
    from desk.rules.periods import PeriodKind, period_of
    from desk.rules.policy import load_policy
    from desk.services import figures, summaries

    present = SystemClock().now()
    first = sweep(demo_url, "--now", the_present())
    assert first.exit_code == 0, first.output
    through = summaries.truncate_hour(present)
    assert f"summaries: through {through.isoformat()}, hours from" in first.output
    second = sweep(demo_url, "--format", "json")
    assert second.exit_code == 0, second.output
    assert json.loads(second.output)["summaries"] is None  # refreshed a moment ago
    policy = load_policy(None)
    db = Database.from_url(demo_url)
    try:
        with db.session(write=False) as session:
            assert summaries.summary_state(session.connection(), policy).usable() == through
            period = period_of(PeriodKind.WEEK, present, SHANGHAI)
            read = figures.contact_hours(session, period=period, policy=policy)
            live = figures.contact_hours(session, period=period, policy=policy, summary=False)
    finally:
        db.dispose()
    assert sum((h.tally for h in read), figures.ContactTally()) == sum(
        (h.tally for h in live), figures.ContactTally()
    )
