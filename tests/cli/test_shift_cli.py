"""``desk callbacks plan`` and ``desk report handover`` through the real parser."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

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


def _signed_shift(sqlite_db: Database, clock: FixedClock) -> int:
    from desk.rules.policy import load_policy
    from desk.services import handover

    world = make_world(sqlite_db)
    start = clock.now() - timedelta(hours=2)
    shift = world.shift("早班", start, lead="lead1")
    world.contact(world.customer(), at=start + timedelta(minutes=5), request_type="complaint")
    handover.sign_handover(
        sqlite_db,
        actor=world.actor("lead1"),
        policy=load_policy(),
        shift_id=shift,
        notes="宽带故障已派发\n3号座席耳麦待换",
    )
    return shift


def test_report_handover_says_when_nothing_is_signed(sqlite_db: Database) -> None:
    make_world(sqlite_db)
    result = runner.invoke(app, ["--db", _url(sqlite_db), "report", "handover"])
    assert result.exit_code != 0
    assert "no shift has been signed off yet" in result.output
    unknown = runner.invoke(app, ["--db", _url(sqlite_db), "report", "handover", "--shift", "99"])
    assert unknown.exit_code != 0
    assert "99" in unknown.output
    assert "Traceback" not in unknown.output


def test_report_handover_as_text_csv_json_and_xlsx(
    sqlite_db: Database, clock: FixedClock, tmp_path: Path
) -> None:
    shift = _signed_shift(sqlite_db, clock)
    url = _url(sqlite_db)
    text = runner.invoke(app, ["--db", url, "report", "handover"])
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[0] == f"Shift handover log, shift {shift} 早班 (signed)"
    assert any(line.split() == ["outgoing_lead", "王班长"] for line in lines)
    assert any(line.split() == ["complaint", "1"] for line in lines)
    at = lines.index(next(line for line in lines if "宽带故障已派发" in line))
    assert lines[at + 1].strip() == "3号座席耳麦待换"  # the note's second line, indented

    as_csv = runner.invoke(app, ["--db", url, "report", "handover", "--format", "csv"])
    assert as_csv.exit_code == 0, as_csv.output
    rows = list(csv.reader(io.StringIO(as_csv.output)))
    assert rows[0] == ["section", "item", "value"]
    assert ["shift", "id", str(shift)] in rows
    assert ["contacts", "complaint", "1"] in rows
    assert ["notes", "outgoing", "宽带故障已派发\n3号座席耳麦待换"] in rows

    as_json = runner.invoke(
        app, ["--db", url, "report", "handover", "--shift", str(shift), "--format", "json"]
    )
    assert as_json.exit_code == 0, as_json.output
    log = json.loads(as_json.output)
    assert (log["signed"], log["shift_id"], log["outgoing_lead"]) == (True, shift, "王班长")
    assert log["summary"]["contacts"]["complaint"] == 1
    assert log["acknowledged_at"] is None

    out = tmp_path / "log.xlsx"
    written = runner.invoke(
        app, ["--db", url, "report", "handover", "--format", "xlsx", "--out", str(out)]
    )
    assert written.exit_code == 0, written.output
    from openpyxl import load_workbook  # type: ignore[import-untyped]

    sheet = load_workbook(out).active
    cells = [tuple(row) for row in sheet.iter_rows(min_row=3, values_only=True)]
    assert ("contacts", "complaint", 1) in cells
    assert ("shift", "outgoing_lead", "王班长") in cells


def test_report_handover_of_a_shift_not_signed_yet(sqlite_db: Database, clock: FixedClock) -> None:
    world = make_world(sqlite_db)
    shift = world.shift("早班", clock.now() - timedelta(hours=2), lead="lead1")
    result = runner.invoke(
        app,
        ["--db", _url(sqlite_db), "report", "handover", "--shift", str(shift), "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    log = json.loads(result.output)
    assert (log["signed"], log["signed_at"], log["outgoing_lead"]) == (False, None, None)
