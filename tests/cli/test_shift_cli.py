"""``desk callbacks plan`` and ``desk report handover`` through the real parser."""

from __future__ import annotations

import json
from datetime import timedelta

from typer.testing import CliRunner

from desk.cli import _register, app
from desk.clock import FixedClock
from desk.infra.database import Database
from tests.services.shift_world import make_world

_register()
runner = CliRunner()
NOW = "2026-11-02T10:00:00+08:00"


def _url(sqlite_db: Database) -> str:
    return sqlite_db.engine.url.render_as_string(hide_password=False)


def test_callbacks_plan_adds_once_and_says_what(sqlite_db: Database, clock: FixedClock) -> None:
    world = make_world(sqlite_db)
    world.customer("流失", tier="gold", last_activity_at=clock.now() - timedelta(days=70))
    url = _url(sqlite_db)
    first = runner.invoke(app, ["--db", url, "callbacks", "plan", "--now", NOW])
    assert first.exit_code == 0, first.output
    assert "win_back" in first.output
    assert first.output.strip().endswith("1 added")
    second = runner.invoke(
        app, ["--db", url, "callbacks", "plan", "--now", NOW, "--format", "json"]
    )
    assert second.exit_code == 0, second.output
    report = json.loads(second.output)
    assert report["total"] == 0
    assert report["now"] == "2026-11-02T02:00:00+00:00"


def test_callbacks_plan_refuses_a_naive_now(sqlite_db: Database) -> None:
    result = runner.invoke(
        app, ["--db", _url(sqlite_db), "callbacks", "plan", "--now", "2026-11-02T10:00"]
    )
    assert result.exit_code != 0
    assert "--now" in result.output
