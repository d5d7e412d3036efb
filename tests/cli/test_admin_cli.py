"""``desk user …`` and ``desk org …`` through the real command line parser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from desk.cli import _register, app
from desk.infra.database import Database
from desk.rules.policy import load_policy
from desk.services import users

POLICY = load_policy()

_register()
runner = CliRunner()


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'admin.db'}"
    assert _run(url, "init", "--admin-password", "secret1").exit_code == 0
    return url


def _run(url: str, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--db", url, *args], input=input)


def _logins(url: str, *extra: str) -> dict[str, dict[str, object]]:
    result = _run(url, "user", "list", "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    return {row["login"]: row for row in json.loads(result.stdout)}


def test_a_password_from_stdin_keeps_its_spaces(url: str) -> None:
    added = _run(
        url,
        "user",
        "add",
        "agent7",
        "--role",
        "agent",
        "--name",
        "王芳",
        "--password-stdin",
        input="  two words  \n",
    )
    assert added.exit_code == 0, added.output
    db = Database.from_url(url)
    assert (
        users.authenticate(db, login="agent7", password="  two words  ", policy=POLICY).actor
        is not None
    )
    assert users.authenticate(db, login="agent7", password="two words", policy=POLICY).actor is None


def test_a_prompted_password_is_asked_twice(url: str) -> None:
    added = _run(url, "user", "add", "agent8", "--role", "agent", input="abc defg\nabc defg\n")
    assert added.exit_code == 0, added.output
    assert "abc defg" not in added.stdout
    mismatch = _run(url, "user", "add", "agent9", "--role", "agent", input="abcdefg\nzzzzzzz\n")
    assert mismatch.exit_code != 0
    assert "agent9" not in _logins(url)


def test_there_is_no_password_option(url: str) -> None:
    result = _run(url, "user", "add", "x1", "--role", "agent", "--password", "abcdef")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(("password", "said"), [("abc", "at least 6"), ("x" * 129, "at most 128")])
def test_one_password_length_limit_everywhere(url: str, password: str, said: str) -> None:
    added = _run(url, "user", "add", "a1", "--role", "agent", "--password-stdin", input=password)
    assert added.exit_code == 1
    assert said in added.stderr
    reset = _run(url, "user", "reset-password", "admin", "--password-stdin", input=password)
    assert reset.exit_code == 1
    assert said in reset.stderr
    init = runner.invoke(
        app, ["--db", url.replace("admin.db", "other.db"), "init", "--admin-password", password]
    )
    assert init.exit_code == 1
    assert said in init.stderr


def test_the_last_active_admin_stays(url: str) -> None:
    result = _run(url, "user", "disable", "admin")
    assert result.exit_code == 1
    assert "last active admin" in result.stderr
    result = _run(url, "user", "set-role", "admin", "agent")
    assert "last active admin" in result.stderr
    assert (
        _run(
            url, "user", "add", "root2", "--role", "admin", "--password-stdin", input="secret2\n"
        ).exit_code
        == 0
    )
    assert _run(url, "user", "disable", "admin").exit_code == 0
    assert _logins(url)["admin"]["active"] is False
    assert "last active admin" in _run(url, "user", "disable", "root2").stderr
    assert _run(url, "user", "enable", "admin").exit_code == 0
    assert _logins(url)["admin"]["active"] is True


def test_desk_own_actors_are_listed_on_request_and_not_managed(url: str) -> None:
    assert "system" not in _logins(url)
    everyone = _logins(url, "--all")
    assert everyone["system"]["system"] is True
    assert everyone["shell"]["role"] == "admin"
    refused = _run(url, "user", "disable", "system")
    assert refused.exit_code == 1
    assert "desk's own actor" in refused.stderr
    db = Database.from_url(url)
    assert users.authenticate(db, login="system", password="!", policy=POLICY).actor is None


def test_control_characters_in_a_name_are_refused(url: str) -> None:
    result = _run(
        url,
        "user",
        "add",
        "a1",
        "--role",
        "agent",
        "--name",
        "evil\x1b[2Jname",
        "--password-stdin",
        input="secret1\n",
    )
    assert result.exit_code == 1
    assert "control characters" in result.stderr
    assert "\x1b" not in result.output


def test_org_then_a_handler_in_a_department(url: str) -> None:
    assert (
        _run(
            url, "org", "branch", "add", "HZ", "--name", "杭州分公司", "--region", "杭州"
        ).exit_code
        == 0
    )
    added = _run(
        url,
        "org",
        "department",
        "add",
        "bill-hz",
        "--name",
        "计费中心",
        "--kind",
        "billing",
        "--branch",
        "HZ",
    )
    assert added.exit_code == 0, added.output
    moon = _run(
        url,
        "org",
        "department",
        "add",
        "X",
        "--name",
        "x",
        "--kind",
        "billing",
        "--calendar",
        "moon",
    )
    assert moon.exit_code == 1
    assert "calendar" in moon.stderr
    assert (
        _run(
            url, "user", "add", "h1", "--role", "handler", "--password-stdin", input="secret1\n"
        ).exit_code
        == 0
    )
    assert _run(url, "user", "set-department", "h1", "BILL-HZ").exit_code == 0
    assert _logins(url)["h1"]["department"] == "BILL-HZ"
    assert _run(url, "org", "department", "rename", "BILL-HZ", "计费部").exit_code == 0
    listing = json.loads(_run(url, "org", "department", "list", "--format", "json").stdout)
    assert [(d["code"], d["name"], d["staff"]) for d in listing] == [("BILL-HZ", "计费部", 1)]
    assert _run(url, "user", "set-department", "h1", "-").exit_code == 0
    assert _logins(url)["h1"]["department"] is None
    assert _run(url, "org", "department", "disable", "BILL-HZ").exit_code == 0
    assert _run(url, "org", "branch", "disable", "HZ").exit_code == 0
    branches = json.loads(_run(url, "org", "branch", "list", "--format", "json").stdout)
    assert branches == [
        {"code": "HZ", "name": "杭州分公司", "region": "杭州", "active": False, "departments": 0}
    ]


def test_set_role_is_audited_and_takes_effect(url: str) -> None:
    assert (
        _run(
            url, "user", "add", "a1", "--role", "agent", "--password-stdin", input="secret1\n"
        ).exit_code
        == 0
    )
    assert _run(url, "user", "set-role", "a1", "lead").exit_code == 0
    assert _logins(url)["a1"]["role"] == "lead"
    verify = _run(url, "audit", "verify", "--format", "json")
    assert verify.exit_code == 0, verify.output
    assert json.loads(verify.stdout)["ok"] is True
