"""``desk report``: every report in every format, the documented JSON shape, the XLSX opened
with openpyxl, bad input named, and the dashboard cross-checked against the reports on a demo
database."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from desk.cli import _register, app
from desk.clock import SHANGHAI
from desk.demo import DemoParams, build_demo
from desk.infra import migrations
from desk.infra.database import Database
from desk.rules.periods import PeriodKind
from desk.rules.permissions import Actor
from desk.rules.policy import load_policy
from desk.rules.vocab import Role
from desk.services.dashboard import dashboard
from desk.services.reports import FIGURE_TITLES

runner = CliRunner()
DOCS = Path(__file__).resolve().parents[2] / "docs" / "reports.md"

SECTIONS = {
    "daily": [
        "targets",
        "contacts",
        "by_hour",
        "request_types",
        "trend",
        "hot_topics",
        "hot_branches",
        "hot_regions",
        "repeat_complainers",
        "attention",
        "quality_agents",
        "quality_branches",
    ],
    "complaints": [
        "complaint_figures",
        "hot_topics",
        "hot_branches",
        "hot_regions",
        "repeat_complainers",
        "ladder_by_branch",
    ],
    "satisfaction": [
        "targets",
        "by_request_type",
        "by_channel",
        "by_branch",
        "by_agent",
        "satisfaction_trend",
        "marks",
        "complaint_satisfaction",
        "complaints_by_branch",
    ],
    "customers": [
        "tiers",
        "tiers_by_day",
        "tiers_by_month",
        "churn",
        "churned_members",
        "frequent_callers",
        "birthdays_month",
        "birthdays_tomorrow",
        "big_customers",
    ],
}
SECTIONS["weekly"] = SECTIONS["monthly"] = SECTIONS["daily"]
KINDS = {"text", "integer", "number", "percent", "money", "date", "datetime"}


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small demo database, built once for this module."""
    path = tmp_path_factory.mktemp("report") / "demo.db"
    db = Database.from_url(f"sqlite:///{path}")
    migrations.upgrade(db)
    build_demo(db, DemoParams(customers=600, days=40, seed=3))
    db.dispose()
    return f"sqlite:///{path}"


def _invoke(url: str, *args: str) -> Any:
    _register()
    return runner.invoke(app, ["--db", url, "report", *args])


def _check_shape(data: dict[str, Any], kind: str) -> None:
    """The shape docs/reports.md documents."""
    assert data["schema"] == 1
    assert data["report"] == kind
    assert isinstance(data["title"], str)
    period = data["period"]
    assert set(period) == {"kind", "start", "end", "as_of", "time_zone"}
    assert period["kind"] in {"day", "range", "month"}
    for key in ("start", "end", "as_of"):
        assert datetime.fromisoformat(period[key]).utcoffset() is not None
    assert period["time_zone"] == "Asia/Shanghai"
    datetime.fromisoformat(data["generated_at"])
    assert [section["key"] for section in data["sections"]] == SECTIONS[kind]
    for section in data["sections"]:
        assert set(section) == {"key", "title", "note", "columns", "rows"}
        keys = [column["key"] for column in section["columns"]]
        assert all(set(column) == {"key", "title", "kind"} for column in section["columns"])
        assert {column["kind"] for column in section["columns"]} <= KINDS
        for row in section["rows"]:
            assert list(row) == keys
            for column in section["columns"]:
                value = row[column["key"]]
                if column["kind"] in ("integer",) and value is not None:
                    assert isinstance(value, int)
                if column["kind"] in ("percent", "number", "money") and value is not None:
                    assert isinstance(value, int | float)
                    if column["kind"] == "percent":
                        assert 0 <= value <= 100
    assert data["definitions"]
    assert all(set(item) == {"figure", "definition"} for item in data["definitions"])


@pytest.mark.parametrize("kind", sorted(SECTIONS))
def test_every_report_has_the_documented_json_shape(demo_db: str, kind: str) -> None:
    result = _invoke(demo_db, kind, "--format", "json")
    assert result.exit_code == 0, result.output
    _check_shape(json.loads(result.output), kind)


def test_the_documented_section_keys_are_the_reports(demo_db: str) -> None:
    text = DOCS.read_text(encoding="utf-8")
    for keys in SECTIONS.values():
        for key in keys:
            assert f"`{key}`" in text


def _documented_columns() -> dict[str, list[tuple[str, str]]]:
    """docs/reports.md's table of each section's columns: key -> [(column, kind)]."""
    found = {}
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"\| `(\w+)` \| (.+) \|", line)
        if match:
            found[match[1]] = re.findall(r"`(\w+)` (\w+)", match[2])
    return found


@pytest.mark.parametrize("kind", sorted(SECTIONS))
def test_every_section_has_the_documented_columns(demo_db: str, kind: str) -> None:
    documented = _documented_columns()
    assert set(documented) == {key for keys in SECTIONS.values() for key in keys}
    result = _invoke(demo_db, kind, "--format", "json")
    assert result.exit_code == 0, result.output
    for section in json.loads(result.output)["sections"]:
        columns = [(column["key"], column["kind"]) for column in section["columns"]]
        assert columns == documented[section["key"]], section["key"]


def test_text_and_csv_print_the_period_and_the_definitions(demo_db: str) -> None:
    result = _invoke(demo_db, "daily", "--from", "2026-11-02")
    assert result.exit_code == 0, result.output
    assert "Period: 2026-11-02 00:00 to 2026-11-03 00:00" in result.output
    assert "Definitions" in result.output
    assert "人工接通率: contacts answered by an agent" in result.output
    result = _invoke(demo_db, "complaints", "--format", "csv", "--from", "2026-10-01")
    assert result.exit_code == 0, result.output
    assert "[ladder_by_branch]" in result.output
    assert "[definitions] Definitions" in result.output


def test_the_xlsx_has_a_sheet_per_section_with_headers_and_formats(
    demo_db: str, tmp_path: Path
) -> None:
    out = tmp_path / "monthly.xlsx"
    result = _invoke(demo_db, "monthly", "--format", "xlsx", "--out", str(out))
    assert result.exit_code == 0, result.output
    book = load_workbook(out)
    assert book.sheetnames[0] == "Report"
    assert book.sheetnames[-1] == "Definitions"
    assert "Targets" in book.sheetnames
    assert len(book.sheetnames) == len(SECTIONS["monthly"]) + 2
    targets = book["Targets"]
    headers = [cell.value for cell in targets[1]]
    assert headers == ["Figure", "Value %", "Counted", "Of", "Target", "Standing"]
    assert all(cell.font.bold for cell in targets[1])
    assert targets.freeze_panes == "A2"
    assert targets["B2"].number_format == '0.00"%"'
    assert targets["C2"].number_format == "#,##0"
    assert book["Report"]["A2"].value == "Period start"
    assert isinstance(book["Report"]["B2"].value, datetime)
    customers = tmp_path / "customers.xlsx"
    result = _invoke(demo_db, "customers", "--format", "xlsx", "--out", str(customers))
    assert result.exit_code == 0, result.output
    tiers = load_workbook(customers)["Tier statistics (客户分级统计)"]
    assert [cell.value for cell in tiers[1]][:3] == ["Tier", "Customers", "Share of customers %"]
    assert tiers["H2"].number_format == '"¥"#,##0.00'
    assert [row[0].value for row in tiers.iter_rows(min_row=2, max_row=6)] == [
        "standard",
        "silver",
        "gold",
        "platinum",
        "diamond",
    ]


FORMATS = {
    "integer": "#,##0",
    "number": "#,##0.00",
    "percent": '0.00"%"',
    "money": '"¥"#,##0.00',
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm",
}


@pytest.mark.parametrize("kind", ["monthly", "complaints", "satisfaction", "customers"])
def test_every_xlsx_sheet_holds_its_section(demo_db: str, tmp_path: Path, kind: str) -> None:
    """Sheet by sheet, the XLSX holds the JSON report's sections: the same headers, the same
    values (empty for nothing to measure), each column's number format by its kind."""
    args = [kind, "--from", "2026-10-01", "--to", "2026-10-31"]
    data = json.loads(_invoke(demo_db, *args, "--format", "json").output)
    out = tmp_path / f"{kind}.xlsx"
    result = _invoke(demo_db, *args, "--format", "xlsx", "--out", str(out))
    assert result.exit_code == 0, result.output
    book = load_workbook(out)
    sheets = book.worksheets
    assert len(sheets) == len(data["sections"]) + 2
    assert [cell.value for cell in sheets[-1][1]] == ["Figure", "Definition"]
    assert sheets[-1].max_row == len(data["definitions"]) + 1
    for sheet, section in zip(sheets[1:-1], data["sections"], strict=True):
        columns = section["columns"]
        assert [cell.value for cell in sheet[1]] == [column["title"] for column in columns]
        assert all(cell.font.bold for cell in sheet[1])
        assert sheet.freeze_panes == "A2"
        for number, row in enumerate(section["rows"], start=2):
            cells = sheet[number]
            for cell, column in zip(cells, columns, strict=True):
                value = row[column["key"]]
                if column["kind"] == "number" and isinstance(value, int):
                    # a count among measures reads as a whole number, not as 24.00
                    assert cell.number_format == FORMATS["integer"], column["key"]
                elif column["kind"] in FORMATS:
                    assert cell.number_format == FORMATS[column["kind"]], column["key"]
                if value is None:
                    assert cell.value is None
                elif column["kind"] in ("integer", "number", "percent", "money"):
                    assert cell.value == pytest.approx(value), column["key"]
                elif column["kind"] == "datetime":
                    assert cell.value == datetime.fromisoformat(value).replace(tzinfo=None)


def test_an_xlsx_with_nothing_to_measure_has_empty_cells_not_zeros(
    demo_db: str, tmp_path: Path
) -> None:
    out = tmp_path / "quiet.xlsx"
    args = ["daily", "--from", "2020-01-01", "--format", "xlsx", "--out", str(out)]
    result = _invoke(demo_db, *args)
    assert result.exit_code == 0, result.output
    targets = load_workbook(out)["Targets"]
    values = [row[1].value for row in targets.iter_rows(min_row=2, max_row=8)]
    assert values == [None] * 7  # churn (rows 9, 10) is of every customer


def test_bad_input_is_named_and_exits_non_zero(demo_db: str) -> None:
    result = _invoke(demo_db, "daily", "--from", "2026-13-01")
    assert result.exit_code != 0
    assert "--from" in result.output
    result = _invoke(demo_db, "daily", "--from", "2026-11-05", "--to", "2026-11-01")
    assert result.exit_code != 0
    assert "--to" in result.output
    result = _invoke(demo_db, "weekly", "--format", "pdf")
    assert result.exit_code != 0


def test_the_dashboard_and_the_reports_show_the_same_figures(demo_db: str) -> None:
    """The cross-check: the dashboard for a range of days and the JSON report of those days."""
    policy = load_policy(None)
    db = Database.from_url(demo_db)
    try:
        today = datetime.now(UTC).astimezone(SHANGHAI).date()
        for first, last in (
            (today - timedelta(days=7), today - timedelta(days=1)),
            (today - timedelta(days=20), today - timedelta(days=20)),
        ):
            board = dashboard(
                db,
                actor=Actor(user_id=0, login="t", role=Role.SUPERVISOR),
                policy=policy,
                kind=PeriodKind.RANGE,
                first=first,
                last=last,
            )
            args = ["daily", "--format", "json", "--from", str(first), "--to", str(last)]
            result = _invoke(demo_db, *args)
            assert result.exit_code == 0, result.output
            data = json.loads(result.output)
            sections = {section["key"]: section for section in data["sections"]}
            rows = sections["targets"]["rows"]
            assert len(rows) == len(board.tiles)
            for tile, row in zip(board.tiles, rows, strict=True):
                value = None if tile.value is None else round(tile.value.percent, 2)
                assert row["value"] == value, tile.key
                assert row["numerator"] == (tile.value.numerator if tile.value else None)
                assert row["standing"] == tile.standing.value
            assert board.contacts.offered > 0
            hours = sections["by_hour"]["rows"]
            assert [row["need"] for row in hours] == [hour.need for hour in board.hours]
            mix = {
                row["request_type"]: row["contacts"] for row in sections["request_types"]["rows"]
            }
            assert mix == {item.request_type or "(none)": item.contacts for item in board.mix}
            topics = [row["label"] for row in sections["hot_topics"]["rows"]]
            assert topics == [spot.label or "(none)" for spot in board.hot_spots.topics]
            # the text report prints the same values ("–" for nothing to measure)
            text = _invoke(demo_db, "daily", "--from", str(first), "--to", str(last))
            assert text.exit_code == 0, text.output
            targets = text.output.split("\nTargets\n")[1].split("\n\n")[0].splitlines()[3:]
            if any(tile.reason for tile in board.tiles):  # the note saying why a figure is not
                assert targets.pop().startswith("Churn: no hourly churn count")
            assert len(targets) == len(board.tiles)
            for tile, line in zip(board.tiles, targets, strict=True):
                shown = "–" if tile.value is None else f"{tile.value.percent:.2f}%"
                cells = re.split(r"\s{2,}", line.strip())
                assert cells[0] == FIGURE_TITLES[tile.key]
                assert cells[1] == shown, tile.key
                assert cells[-1] == tile.standing.value
            # the complaint and satisfaction reports show the dashboard's complaint figures
            args = ["complaints", "--format", "json", "--from", str(first), "--to", str(last)]
            figures = json.loads(_invoke(demo_db, *args).output)["sections"][0]["rows"]
            c = board.complaints
            expected = [
                (c.reply_rate, c.replied, c.reply_due),
                (c.closure_rate, c.closed, c.closure_due),
                (c.on_standard, c.standard_clean, c.standard_counted),
                (c.satisfaction, c.satisfied, c.asked),
            ]
            assert [(row["value"], row["numerator"], row["denominator"]) for row in figures] == [
                (None if value is None else round(value.percent, 2), counted, of)
                for value, counted, of in expected
            ]
            args = ["satisfaction", "--format", "json", "--from", str(first), "--to", str(last)]
            found = json.loads(_invoke(demo_db, *args).output)["sections"]
            satisfaction = {section["key"]: section["rows"] for section in found}
            for key in ("by_channel", "by_request_type", "by_branch", "by_agent"):
                rows = satisfaction[key]
                assert sum(row["marked"] for row in rows) == board.contacts.marked, key
                assert sum(row["satisfied"] for row in rows) == board.contacts.satisfied, key
            tiles = {tile.key: tile for tile in board.tiles}
            assert [row["value"] for row in satisfaction["targets"]] == [
                None if tiles[key].value is None else round(tiles[key].value.percent, 2)
                for key in ("satisfaction", "complaint_satisfaction")
            ]
    finally:
        db.dispose()


def test_no_activity_shows_dashes_not_zeros(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    db = Database.from_url(f"sqlite:///{path}")
    migrations.upgrade(db)
    db.dispose()
    result = _invoke(f"sqlite:///{path}", "daily")
    assert result.exit_code == 0, result.output
    targets = result.output.split("Targets")[1].split("Contacts")[0]
    assert re.search(r"Manual answer rate \(人工接通率\)\s+–", targets)
    assert "0.00%" not in targets
