"""``desk report handover``: the shift handover log (交接班日志) as text, CSV, XLSX or JSON.

    desk report handover [--shift ID] [--format text|csv|xlsx|json] [--out FILE]

Without ``--shift`` it prints the last shift signed off; with it, that shift — signed, or as it
stands now when nobody has signed it yet. Text, CSV and XLSX carry the same (section, item,
value) rows; JSON is the whole log with its summary. XLSX is written to ``--out`` (default
``desk-handover-<shift id>.xlsx``).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.cells import cell_len

from desk.cli.common import fail, open_database, shell_actor, state_of
from desk.cli.report import FORMAT_OPTION, OUT_OPTION, ReportFormat

if TYPE_CHECKING:
    from desk.services.handover import SignedHandover

SHIFT_OPTION = typer.Option(
    None, "--shift", min=1, help="The shift's id (default: the last shift signed off)."
)
HEADER = ("section", "item", "value")


def _title(log: SignedHandover) -> str:
    state = "signed" if log.id else "not signed yet"
    return f"Shift handover log, shift {log.shift_id} {log.shift_name} ({state})"


def as_text(log: SignedHandover, rows: list[tuple[str, str, str]]) -> str:
    """Rows aligned under their section; a multi-line note indented under its item."""
    width = max(cell_len(item) for _, item, _ in rows)
    lines = [_title(log), ""]
    section = None
    for name, item, value in rows:
        if name != section:
            if section is not None:
                lines.append("")
            lines.append(name)
            section = name
        first, *rest = (value or "–").splitlines() or ["–"]
        lines.append(f"  {item}{' ' * (width - cell_len(item))}  {first}")
        lines.extend(f"  {' ' * width}  {line}" for line in rest)
    return "\n".join(lines) + "\n"


def as_csv(rows: list[tuple[str, str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buffer.getvalue()


def as_json(log: SignedHandover) -> dict[str, Any]:
    data = asdict(log)
    data["signed"] = bool(log.id)
    for key, value in data.items():
        if isinstance(value, datetime):
            data[key] = value.isoformat()
    if not log.id:  # nothing signed: no signing instant
        data["id"] = None
        data["signed_at"] = None
        data["outgoing_lead"] = None
    return data


def write_xlsx(log: SignedHandover, rows: list[tuple[str, str, str]], path: Path) -> None:
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.styles import Font  # type: ignore[import-untyped]

    book = Workbook()
    sheet = book.active
    sheet.title = "handover"
    sheet.append([_title(log)])
    sheet["A1"].font = Font(bold=True)
    sheet.append(list(HEADER))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for name, item, value in rows:
        sheet.append([name, item, int(value) if value.isdigit() else value])
    for letter, width in (("A", 26), ("B", 26), ("C", 60)):
        sheet.column_dimensions[letter].width = width
    book.save(path)


def handover(
    ctx: typer.Context,
    shift: int | None = SHIFT_OPTION,
    output: ReportFormat = FORMAT_OPTION,
    out: Path | None = OUT_OPTION,
) -> None:
    """The shift handover log (交接班日志): the shift gathered, the outgoing lead's notes and
    signature, the incoming lead's acknowledgement (default: the last shift signed off)."""
    from desk.infra.errors import DeskError
    from desk.rules.policy import PolicyError, load_policy
    from desk.services.handover import handover_log, log_rows

    state = state_of(ctx)
    try:
        policy = load_policy(state.settings().policy)
    except PolicyError as error:
        fail(str(error))
    db = open_database(state)
    try:
        log = handover_log(db, actor=shell_actor(), policy=policy, shift_id=shift)
    except DeskError as error:
        fail(error.message)
    finally:
        db.dispose()
    rows = [("shift", "id", str(log.shift_id)), *log_rows(log)]
    if output is ReportFormat.XLSX:
        path = out or Path(f"desk-handover-{log.shift_id}.xlsx")
        try:
            write_xlsx(log, rows, path)
        except OSError as error:
            fail(f"--out: cannot write {path}: {error.strerror or error}")
        typer.echo(f"{_title(log)} written to {path}")
        return
    if output is ReportFormat.JSON:
        text = json.dumps(as_json(log), ensure_ascii=False, indent=2, default=str) + "\n"
    elif output is ReportFormat.CSV:
        text = as_csv(rows)
    else:
        text = as_text(log, rows)
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as error:
        fail(f"--out: cannot write {out}: {error.strerror or error}")
    typer.echo(f"{_title(log)} written to {out}")


def register(reports: typer.Typer) -> None:
    """Add ``handover`` to the ``report`` group."""
    reports.command("handover")(handover)
