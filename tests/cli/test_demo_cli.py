"""``desk demo`` through the real command line parser."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from desk.cli import _register, app
from desk.cli.common import State
from desk.demo import DemoParams, inspect_target
from desk.infra.database import Database
from desk.rules.policy import load_policy
from desk.services import users
from desk.services.setup import initialise

POLICY = load_policy()

_register()
runner = CliRunner()

SMALL = ["--customers", "500", "--days", "5"]


def _demo(*args: str, url: str | None = None):  # type: ignore[no-untyped-def]
    prefix = ["--db", url] if url else []
    return runner.invoke(app, [*prefix, "demo", *args])


def test_builds_then_reuses_then_rebuilds(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    first = _demo("--no-launch", *SMALL, url=url)
    assert first.exit_code == 0, first.output
    assert "building a demo database" in first.output
    assert "contacts" in first.output  # progress lines
    assert "demo database ready" in first.output
    db = Database.from_url(url)
    assert inspect_target(db).params == DemoParams(customers=500, days=5, seed=1)
    assert (
        users.authenticate(db, login="agent1", password="demo123", policy=POLICY).actor is not None
    )
    db.dispose()

    second = _demo("--no-launch", *SMALL, url=url)
    assert second.exit_code == 0, second.output
    assert "reusing the demo database" in second.output

    other_seed = _demo("--no-launch", *SMALL, "--seed", "2", url=url)
    assert other_seed.exit_code == 0, other_seed.output
    assert "building a demo database" in other_seed.output

    forced = _demo("--no-launch", *SMALL, "--seed", "2", "--rebuild", url=url)
    assert "building a demo database" in forced.output
    db = Database.from_url(url)
    assert inspect_target(db).params == DemoParams(customers=500, days=5, seed=2)
    db.dispose()


def test_without_db_the_demo_lives_in_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESK_DATABASE_URL", f"sqlite:///{tmp_path / 'real.db'}")
    result = _demo("--no-launch", *SMALL)
    assert result.exit_code == 0, result.output
    data_dir = Path(os.environ["DESK_DATA_DIR"])
    assert (data_dir / "demo.db").exists()
    assert not (data_dir / "desk.db").exists()
    assert not (tmp_path / "real.db").exists()


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--customers", "0"], "--customers"),
        (["--customers", "abc"], "--customers"),
        (["--days", "-1"], "--days"),
        (["--days", "0"], "--days"),
        (["--seed", "-3"], "--seed"),
        (["--backlog", "-1"], "--backlog"),
    ],
)
def test_bad_option_values_exit_non_zero_naming_the_option(
    tmp_path: Path, args: list[str], option: str
) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    result = _demo("--no-launch", *args, url=url)
    assert result.exit_code != 0
    assert option in result.output
    assert not (tmp_path / "demo.db").exists()


def test_refuses_a_database_that_is_not_a_demo(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'real.db'}"
    initialise(Database.from_url(url), admin_login="admin", admin_password="secret1")
    result = _demo("--no-launch", *SMALL, url=url)
    assert result.exit_code != 0
    assert "not a demo database" in result.output
    db = Database.from_url(url)
    assert inspect_target(db).params is None  # untouched
    assert (
        users.authenticate(db, login="admin", password="secret1", policy=POLICY).actor is not None
    )


def test_refuses_an_in_memory_database() -> None:
    result = _demo("--no-launch", *SMALL, url="sqlite://")
    assert result.exit_code != 0
    assert "--db" in result.output


def test_launches_the_console_on_the_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    launched: list[State] = []
    monkeypatch.setattr("desk.cli.console.launch", launched.append)
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    result = _demo(*SMALL, url=url)
    assert result.exit_code == 0, result.output
    assert [state.db_url for state in launched] == [url]


@pytest.mark.postgres
def test_rebuilds_a_postgresql_demo_in_place(pg_db: Database) -> None:
    url = pg_db.engine.url.render_as_string(hide_password=False)
    first = _demo("--no-launch", "--customers", "300", "--days", "2", url=url)
    assert first.exit_code == 0, first.output
    second = _demo("--no-launch", "--customers", "300", "--days", "2", "--seed", "5", url=url)
    assert second.exit_code == 0, second.output
    assert inspect_target(pg_db).params == DemoParams(customers=300, days=2, seed=5)
