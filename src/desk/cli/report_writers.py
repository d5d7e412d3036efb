"""A report as text, CSV, XLSX or JSON (the shape is documented in ``docs/reports.md``).

Every format carries the period and the definitions. A value with nothing to measure is
``null`` in JSON, an empty cell in XLSX and "–" in text and CSV.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path
from typing import Any

from rich.cells import cell_len

from desk.clock import SHANGHAI
from desk.services.reports import ColumnKind, Report, Section

NOTHING = "–"
SCHEMA_VERSION = 1

NUMBER_FORMATS = {
    ColumnKind.INTEGER: "#,##0",
    ColumnKind.NUMBER: "#,##0.00",
    ColumnKind.PERCENT: '0.00"%"',
    ColumnKind.MONEY: '"¥"#,##0.00',
    ColumnKind.DATE: "yyyy-mm-dd",
    ColumnKind.DATETIME: "yyyy-mm-dd hh:mm",
}


def _local(value: datetime) -> datetime:
    return value.astimezone(SHANGHAI)


def _plain(value: Any, kind: ColumnKind) -> str:
    """A cell as text: numbers grouped, percentages with %, nothing as "–"."""
    if value is None:
        return NOTHING
    if isinstance(value, datetime):
        return _local(value).strftime("%Y-%m-%d %H:%M")
    if kind is ColumnKind.PERCENT:
        return f"{float(value):.2f}%"
    if kind is ColumnKind.MONEY:
        return f"¥{float(value):,.2f}"
    if kind in (ColumnKind.INTEGER, ColumnKind.NUMBER) and isinstance(value, int):
        return f"{value:,}"
    if kind is ColumnKind.NUMBER and isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _cell_format(kind: ColumnKind, value: Any, number_format: str) -> str:
    """A count in a column of measures (the contacts section mixes counts with an average)
    reads as a whole number, not as "24.00"."""
    if kind is ColumnKind.NUMBER and isinstance(value, int) and not isinstance(value, bool):
        return NUMBER_FORMATS[ColumnKind.INTEGER]
    return number_format


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return _local(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def period_dict(report: Report) -> dict[str, Any]:
    period = report.period
    return {
        "kind": period.kind.value,
        "start": _local(period.start).isoformat(),
        "end": _local(period.end).isoformat(),
        "as_of": _local(period.as_of).isoformat(),
        "time_zone": "Asia/Shanghai",
    }


def as_json(report: Report) -> dict[str, Any]:
    """The report as the documented JSON object."""
    return {
        "schema": SCHEMA_VERSION,
        "report": report.kind.value,
        "title": report.title,
        "period": period_dict(report),
        "generated_at": _local(report.generated_at).isoformat(),
        "sections": [
            {
                "key": section.key,
                "title": section.title,
                "note": section.note,
                "columns": [
                    {"key": column.key, "title": column.title, "kind": column.kind.value}
                    for column in section.columns
                ],
                "rows": [
                    {
                        column.key: _json_value(value)
                        for column, value in zip(section.columns, row, strict=True)
                    }
                    for row in section.rows
                ],
            }
            for section in report.sections
        ],
        "definitions": [
            {"figure": figure, "definition": text} for figure, text in report.definitions
        ],
    }


def _period_line(report: Report) -> str:
    period = report.period
    return (
        f"Period: {_local(period.start):%Y-%m-%d %H:%M} to {_local(period.end):%Y-%m-%d %H:%M} "
        f"(Asia/Shanghai, end excluded), measured as of {_local(period.as_of):%Y-%m-%d %H:%M}"
    )


def _text_table(section: Section) -> list[str]:
    headers = [column.title for column in section.columns]
    cells = [
        [_plain(value, column.kind) for column, value in zip(section.columns, row, strict=True)]
        for row in section.rows
    ]
    widths = [
        max([cell_len(headers[i]), *(cell_len(row[i]) for row in cells)])
        for i in range(len(headers))
    ]
    numeric = [
        column.kind not in (ColumnKind.TEXT, ColumnKind.DATE, ColumnKind.DATETIME)
        for column in section.columns
    ]

    def line(values: list[str]) -> str:
        parts = []
        for i, value in enumerate(values):
            pad = " " * (widths[i] - cell_len(value))
            parts.append(pad + value if numeric[i] else value + pad)
        return "  ".join(parts).rstrip()

    lines = [line(headers), "  ".join("-" * width for width in widths)]
    lines += [line(row) for row in cells] or ["(none)"]
    return lines


def as_text(report: Report) -> str:
    lines = [
        f"{report.title}",
        _period_line(report),
        f"Generated {_local(report.generated_at):%Y-%m-%d %H:%M:%S}",
        "",
    ]
    for section in report.sections:
        lines.append(section.title)
        lines.append("=" * cell_len(section.title))
        lines.extend(_text_table(section))
        if section.note:
            lines.append(section.note)
        lines.append("")
    lines.append("Definitions")
    lines.append("===========")
    for figure, text in report.definitions:
        lines.append(f"- {figure}: {text}")
    return "\n".join(lines) + "\n"


def as_csv(report: Report) -> str:
    """Every section one after the other: its title row, its header row, its rows, a blank
    row; the period first and the definitions last."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([report.title])
    writer.writerow([_period_line(report)])
    writer.writerow([])
    for section in report.sections:
        writer.writerow([f"[{section.key}] {section.title}"])
        writer.writerow([column.title for column in section.columns])
        for row in section.rows:
            writer.writerow(
                [
                    NOTHING
                    if value is None
                    else _local(value).strftime("%Y-%m-%d %H:%M")
                    if isinstance(value, datetime)
                    else value
                    for value in row
                ]
            )
        if section.note:
            writer.writerow([section.note])
        writer.writerow([])
    writer.writerow(["[definitions] Definitions"])
    writer.writerow(["Figure", "Definition"])
    for figure, text in report.definitions:
        writer.writerow([figure, text])
    return out.getvalue()


_BAD_SHEET_CHARS = str.maketrans(dict.fromkeys("[]:*?/\\", " "))


def _sheet_title(title: str, taken: set[str]) -> str:
    base = title.translate(_BAD_SHEET_CHARS).strip()[:31] or "Sheet"
    name, n = base, 2
    while name.lower() in taken:
        suffix = f" {n}"
        name = base[: 31 - len(suffix)] + suffix
        n += 1
    taken.add(name.lower())
    return name


def write_xlsx(report: Report, path: Path) -> None:
    """One sheet for the period, one per section, one for the definitions: bold frozen
    headers, number formats by column kind, widths to fit."""
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.styles import Font  # type: ignore[import-untyped]
    from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

    book = Workbook()
    bold = Font(bold=True)
    taken: set[str] = set()
    summary = book.active
    assert summary is not None
    summary.title = _sheet_title("Report", taken)
    for row in (
        ("Report", report.title),
        ("Period start", _local(report.period.start).replace(tzinfo=None)),
        ("Period end (excluded)", _local(report.period.end).replace(tzinfo=None)),
        ("Measured as of", _local(report.period.as_of).replace(tzinfo=None)),
        ("Time zone", "Asia/Shanghai"),
        ("Generated", _local(report.generated_at).replace(tzinfo=None)),
    ):
        summary.append(list(row))
    for cell in summary["A"]:
        cell.font = bold
    for cell in summary["B"][1:]:
        cell.number_format = NUMBER_FORMATS[ColumnKind.DATETIME]
    summary.column_dimensions["A"].width = 24
    summary.column_dimensions["B"].width = 30
    for section in report.sections:
        sheet = book.create_sheet(_sheet_title(section.title, taken))
        sheet.append([column.title for column in section.columns])
        for cell in sheet[1]:
            cell.font = bold
        sheet.freeze_panes = "A2"
        for row in section.rows:
            sheet.append(
                [
                    _local(value).replace(tzinfo=None)
                    if isinstance(value, datetime)
                    else date.fromisoformat(value)
                    if column.kind is ColumnKind.DATE and isinstance(value, str)
                    else value
                    for column, value in zip(section.columns, row, strict=True)
                ]
            )
        for index, column in enumerate(section.columns, start=1):
            letter = get_column_letter(index)
            number_format = NUMBER_FORMATS.get(column.kind)
            if number_format:
                for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                    cell.number_format = _cell_format(column.kind, cell.value, number_format)
            longest = max(
                [
                    cell_len(column.title),
                    *(cell_len(_plain(r[index - 1], column.kind)) for r in section.rows[:200]),
                ]
            )
            sheet.column_dimensions[letter].width = min(60, longest + 2)
        if section.note:
            sheet.cell(row=len(section.rows) + 3, column=1, value=section.note)
    definitions = book.create_sheet(_sheet_title("Definitions", taken))
    definitions.append(["Figure", "Definition"])
    for cell in definitions[1]:
        cell.font = bold
    for figure, text in report.definitions:
        definitions.append([figure, text])
    definitions.column_dimensions["A"].width = 40
    definitions.column_dimensions["B"].width = 120
    book.save(path)
