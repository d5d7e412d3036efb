"""Exports: masked by default, unmasked only for admins and audited, date ranges, formats."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from desk.infra.database import Database
from desk.infra.errors import PermissionDenied
from desk.rules.permissions import shell_actor
from desk.services import exports, imports
from desk.services.exports import ExportFormat, ExportKind

SHELL = shell_actor("test")


@pytest.fixture
def people(db: Database, tmp_path: Path) -> Database:
    path = tmp_path / "p.csv"
    path.write_text(
        "customer_no,name,phone,id_card_no,region,address\n"
        "C1,张三丰,13812345678,110101198001011234,杭州,浙江省杭州市西湖区文三路1号\n"
        "C2,李四,13900001111,,宁波,\n",
        encoding="utf-8",
    )
    imports.run_import(db, actor=SHELL, kind=imports.ImportKind.CUSTOMERS, path=path)
    return db


def _csv(db: Database, **kwargs: object) -> list[dict[str, str]]:
    out = io.StringIO()
    exports.export(
        db, actor=SHELL, kind=ExportKind.CUSTOMERS, fmt=ExportFormat.CSV, out=out, **kwargs
    )  # type: ignore[arg-type]
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def test_customers_are_masked_by_default(people: Database) -> None:
    rows = _csv(people)
    assert [r["customer_no"] for r in rows] == ["C1", "C2"]
    first = rows[0]
    assert "13812345678" not in first["phone"]
    assert first["phone"].endswith("5678")
    assert first["name"] != "张三丰"
    assert "110101198001011234" not in first["id_card_no"]
    assert "文三路" not in first["address"]


def test_unmasked_is_for_admins_and_audited(people: Database) -> None:
    rows = _csv(people, unmasked=True)
    assert rows[0]["phone"] == "13812345678"
    with people.engine.connect() as connection:
        actions = (
            connection.execute(
                text("SELECT action FROM audit_log WHERE action LIKE 'export.%' ORDER BY id")
            )
            .scalars()
            .all()
        )
    assert list(actions) == ["export.unmasked", "export.done"]


def test_an_unmasked_export_by_another_role_is_refused_before_a_row_leaves(
    people: Database,
) -> None:
    from dataclasses import replace

    from desk.rules.vocab import Role

    pretending = replace(SHELL, role=Role.SUPERVISOR)
    out = io.StringIO()
    with pytest.raises(PermissionDenied):
        exports.export(
            people,
            actor=pretending,
            kind=ExportKind.CUSTOMERS,
            fmt=ExportFormat.CSV,
            out=out,
            unmasked=True,
        )
    assert out.getvalue() == ""


def test_json_xlsx_and_a_date_range(people: Database, tmp_path: Path) -> None:
    out = io.StringIO()
    exports.export(people, actor=SHELL, kind=ExportKind.CUSTOMERS, fmt=ExportFormat.JSON, out=out)
    assert [row["customer_no"] for row in json.loads(out.getvalue())] == ["C1", "C2"]
    later = datetime(2030, 1, 1, tzinfo=UTC)
    assert _csv(people, since=later) == []
    path = tmp_path / "c.xlsx"
    result = exports.export(
        people, actor=SHELL, kind=ExportKind.CUSTOMERS, fmt=ExportFormat.XLSX, out=path
    )
    assert result.rows == 2
    from openpyxl import load_workbook

    sheet = load_workbook(path).active
    assert sheet is not None
    assert [cell.value for cell in sheet[1]][:2] == ["customer_no", "name"]
    for kind in (ExportKind.CONTACTS, ExportKind.TICKETS):
        out = io.StringIO()
        assert (
            exports.export(people, actor=SHELL, kind=kind, fmt=ExportFormat.CSV, out=out).rows == 0
        )


def test_an_xlsx_export_goes_on_to_a_new_sheet_where_a_sheet_is_full(
    people: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the rows a spreadsheet program opens in one sheet (1,048,576), the rows go on in
    the next sheet, each with the header; here with sheets of a header and one row."""
    from openpyxl import load_workbook

    monkeypatch.setattr(exports, "XLSX_SHEET_ROWS", 2)
    path = tmp_path / "c.xlsx"
    result = exports.export(
        people, actor=SHELL, kind=ExportKind.CUSTOMERS, fmt=ExportFormat.XLSX, out=path
    )
    assert result.rows == 2
    book = load_workbook(path)
    assert book.sheetnames == ["customers", "customers 2"]
    pages = [[[cell.value for cell in row][:1] for row in book[name]] for name in book.sheetnames]
    assert pages == [[["customer_no"], ["C1"]], [["customer_no"], ["C2"]]]


def test_an_empty_xlsx_export_is_the_header(db: Database, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    path = tmp_path / "none.xlsx"
    result = exports.export(
        db, actor=SHELL, kind=ExportKind.TICKETS, fmt=ExportFormat.XLSX, out=path
    )
    assert result.rows == 0
    book = load_workbook(path)
    assert book.sheetnames == ["tickets"]
    assert [cell.value for cell in next(book["tickets"].iter_rows())][0] == "number"
