"""``desk init``, ``desk db``, ``desk user`` through the real command line parser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from desk.cli import _register, app

_register()
runner = CliRunner()


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def _run(url: str, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    """``--password P`` in ``args`` is given as ``--password-stdin`` with P on standard input."""
    words = list(args)
    if "--password" in words:
        at = words.index("--password")
        input = words[at + 1] + "\n"
        words[at : at + 2] = ["--password-stdin"]
    return runner.invoke(app, ["--db", url, *words], input=input)


def test_init_creates_schema_and_first_admin_once(url: str) -> None:
    first = _run(url, "init", "--admin-password", "secret1")
    assert first.exit_code == 0, first.output
    assert "admin user 'admin' created" in first.output
    second = _run(url, "init", "--admin-password", "secret1")
    assert second.exit_code == 0
    assert "none created" in second.output
    current = _run(url, "db", "current", "--format", "json")
    data = json.loads(current.stdout)
    assert data["current"] == data["head"] is not None


def test_commands_refuse_an_uninitialised_database(url: str) -> None:
    assert _run(url, "db", "upgrade", "0001").exit_code == 0
    result = _run(url, "user", "list")
    assert result.exit_code != 0
    assert "desk db upgrade" in result.output


def test_user_lifecycle(url: str) -> None:
    assert _run(url, "init", "--admin-password", "secret1").exit_code == 0
    added = _run(
        url, "user", "add", "agent7", "--role", "agent", "--name", "王芳", "--password", "abcdef"
    )
    assert added.exit_code == 0, added.output
    listing = json.loads(_run(url, "user", "list", "--format", "json").stdout)
    assert {row["login"]: row["role"] for row in listing} == {"admin": "admin", "agent7": "agent"}
    assert _run(url, "user", "disable", "agent7").exit_code == 0
    listing = json.loads(_run(url, "user", "list", "--format", "json").stdout)
    assert [row["active"] for row in listing if row["login"] == "agent7"] == [False]
    reset = _run(url, "user", "reset-password", "agent7", "--password", "ghijkl")
    assert reset.exit_code == 0


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["user", "add", "Bad!", "--role", "agent", "--password", "abcdef"], "login"),
        (["user", "add", "ok1", "--role", "agent", "--password", "abc"], "password"),
        (["user", "add", "ok1", "--role", "pilot", "--password", "abcdef"], "role"),
        (
            [
                "user",
                "add",
                "ok1",
                "--role",
                "handler",
                "--department",
                "ZZ",
                "--password",
                "abcdef",
            ],
            "department",
        ),
        (["user", "disable", "ghost"], "ghost"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(
    url: str, args: list[str], named: str
) -> None:
    assert _run(url, "init", "--admin-password", "secret1").exit_code == 0
    result = _run(url, *args)
    assert result.exit_code != 0
    assert named in result.output
    listing = json.loads(_run(url, "user", "list", "--format", "json").stdout)
    assert [row["login"] for row in listing] == ["admin"]


def test_init_with_a_bad_admin_password_names_it_and_creates_nothing(url: str) -> None:
    result = _run(url, "init", "--admin-password", "abc")
    assert result.exit_code != 0
    assert "admin password" in result.output
    assert not Path(url.removeprefix("sqlite:///")).exists()
