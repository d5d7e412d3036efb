"""``desk policy check`` and ``desk policy show`` through the real command-line parser."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import tomlkit
from typer.testing import CliRunner

from desk.cli import _register, app
from desk.rules.policy import default_policy_text, load_policy

_register()
runner = CliRunner()


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(default_policy_text(), encoding="utf-8")
    return path


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    raw = tomllib.loads(default_policy_text())
    raw["sla"]["complaint"]["reply_due"] = 0
    raw["sla"]["warning_percent"] = 101
    raw["verification"]["validity_minutes"] = -15
    raw["arrears"]["refuse_request_types"] = ["service_request", "haircut"]
    raw["departments"]["default_calendar"] = "lunar"
    raw["login"]["lockout"] = 30
    del raw["kpi"]["short_abandon_seconds"]
    path = tmp_path / "broken.toml"
    path.write_text(tomlkit.dumps(raw), encoding="utf-8")
    return path


BAD_KEYS = {
    "sla.complaint.reply_due",
    "sla.warning_percent",
    "verification.validity_minutes",
    "arrears.refuse_request_types.1",
    "departments.default_calendar",
    "login.lockout",
    "kpi.short_abandon_seconds",
}


def test_check_passes_the_shipped_policy(shipped: Path) -> None:
    result = runner.invoke(app, ["policy", "check", str(shipped)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "ok"


def test_check_names_every_bad_key(broken: Path) -> None:
    result = runner.invoke(app, ["policy", "check", str(broken)])
    assert result.exit_code == 1
    lines = result.stdout.strip().splitlines()
    assert {line.split(": ", 1)[0] for line in lines} == BAD_KEYS
    assert "sla.complaint.reply_due: must be > 0" in lines
    assert "login.lockout: unknown key" in lines
    assert "kpi.short_abandon_seconds: missing" in lines


def test_check_as_json(broken: Path, shipped: Path) -> None:
    result = runner.invoke(app, ["policy", "check", str(broken), "--format", "json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False
    assert {problem["key"] for problem in data["problems"]} == BAD_KEYS
    good = runner.invoke(app, ["policy", "check", str(shipped), "--format", "json"])
    assert good.exit_code == 0
    assert json.loads(good.stdout) == {"file": str(shipped), "ok": True, "problems": []}


def test_check_reports_syntax_and_missing_files(tmp_path: Path) -> None:
    bad = tmp_path / "syntax.toml"
    bad.write_text("version = 1\nverification = {\n", encoding="utf-8")
    result = runner.invoke(app, ["policy", "check", str(bad)])
    assert result.exit_code == 1
    assert result.stdout.startswith("line 2, column")
    missing = runner.invoke(app, ["policy", "check", str(tmp_path / "absent.toml")])
    assert missing.exit_code == 1
    assert missing.stdout.startswith("(file): cannot read")


def test_show_prints_the_shipped_policy(tmp_path: Path) -> None:
    result = runner.invoke(app, ["policy", "show"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# policy in force: the policy shipped with desk")
    assert result.stdout.endswith(default_policy_text())  # its comments and units kept
    again = tmp_path / "shown.toml"
    again.write_text(result.stdout, encoding="utf-8")
    assert load_policy(again) == load_policy(None)


def test_show_follows_desk_policy(
    shipped: Path, broken: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = shipped.read_text(encoding="utf-8").replace(
        "validity_minutes = 15", "validity_minutes = 10"
    )
    shipped.write_text(text, encoding="utf-8")
    monkeypatch.setenv("DESK_POLICY", str(shipped))
    result = runner.invoke(app, ["policy", "show", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["source"] == str(shipped)
    assert data["policy"]["verification"]["validity_minutes"] == 10
    assert data["policy"]["calendars"]["office"]["hours"]["mon"] == ["08:30-12:00", "13:30-17:30"]

    monkeypatch.setenv("DESK_POLICY", str(broken))
    refused = runner.invoke(app, ["policy", "show"])
    assert refused.exit_code == 1
    assert "sla.complaint.reply_due: must be > 0" in refused.stderr


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("login.lock_minutes", 999_999_999_999),
        ("login.max_failures", 10**30),
        ("login.failure_window_minutes", 1_000_001),
    ],
)
def test_check_refuses_numbers_the_code_cannot_handle(
    shipped: Path, tmp_path: Path, key: str, value: int
) -> None:
    """A lock of 999,999,999,999 minutes would overflow and so disable the lockout."""
    section, name = key.split(".")
    text = shipped.read_text(encoding="utf-8")
    lines = text.splitlines()
    start = lines.index(f"[{section}]")
    for index in range(start + 1, len(lines)):
        if lines[index].split("=")[0].strip() == name:
            lines[index] = f"{name} = {value}"
            break
    policy = tmp_path / "policy.toml"
    policy.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["policy", "check", str(policy)])
    assert result.exit_code == 1
    assert key in result.output
    assert "1000000" in result.output
