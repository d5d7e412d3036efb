"""``desk report``: the center's reports for a period, as text, CSV, XLSX or JSON.

    desk report daily|weekly|monthly|complaints|satisfaction|customers
                [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--format text|csv|xlsx|json] [--out FILE]

Without ``--from``/``--to`` a report covers the last complete period (yesterday, the 7 days up
to yesterday, last month). XLSX is written to ``--out`` (default ``desk-<report>-<from>.xlsx``);
the other formats go to standard output, or to ``--out``. Other command groups add their own
reports to :data:`report_app` (one ``report`` group for every team).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path

import typer

from desk.cli.common import fail, open_database, shell_actor, state_of

report_app = typer.Typer(
    name="report",
    help="The center's reports: figures, complaints, satisfaction, customers.",
    no_args_is_help=True,
)


class ReportFormat(StrEnum):
    TEXT = "text"
    CSV = "csv"
    XLSX = "xlsx"
    JSON = "json"


FROM_OPTION = typer.Option(None, "--from", help="First day (YYYY-MM-DD), center time.")
TO_OPTION = typer.Option(None, "--to", help="Last day, included (YYYY-MM-DD).")
FORMAT_OPTION = typer.Option(ReportFormat.TEXT, "--format", help="text, csv, xlsx or json.")
OUT_OPTION = typer.Option(None, "--out", help="Write to this file (XLSX: the default name).")


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        fail(f"{option}: {value!r} is not a date like 2026-11-02")


def _run(
    ctx: typer.Context,
    kind_name: str,
    first_text: str | None,
    last_text: str | None,
    output: ReportFormat,
    out: Path | None,
) -> None:
    from desk.cli.report_writers import as_csv, as_json, as_text, write_xlsx
    from desk.infra.errors import DeskError
    from desk.rules.policy import PolicyError, load_policy
    from desk.services.reports import ReportKind, report

    first = _day(first_text, "--from")
    last = _day(last_text, "--to")
    state = state_of(ctx)
    try:
        policy = load_policy(state.settings().policy)
    except PolicyError as error:
        fail(str(error))
    db = open_database(state)
    try:
        found = report(
            db,
            actor=shell_actor(),
            policy=policy,
            kind=ReportKind(kind_name),
            first=first,
            last=last,
        )
    except DeskError as error:
        fail(error.message)
    finally:
        db.dispose()
    if output is ReportFormat.XLSX:
        start = found.period.start.date().isoformat()
        path = out or Path(f"desk-{kind_name}-{start}.xlsx")
        try:
            write_xlsx(found, path)
        except OSError as error:
            fail(f"--out: cannot write {path}: {error.strerror or error}")
        typer.echo(f"{found.title} written to {path}")
        return
    if output is ReportFormat.JSON:
        import json

        text = json.dumps(as_json(found), ensure_ascii=False, indent=2) + "\n"
    elif output is ReportFormat.CSV:
        text = as_csv(found)
    else:
        text = as_text(found)
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as error:
        fail(f"--out: cannot write {out}: {error.strerror or error}")
    typer.echo(f"{found.title} written to {out}")


def _command(kind_name: str, summary: str) -> None:
    def command(
        ctx: typer.Context,
        first: str | None = FROM_OPTION,
        last: str | None = TO_OPTION,
        output: ReportFormat = FORMAT_OPTION,
        out: Path | None = OUT_OPTION,
    ) -> None:
        _run(ctx, kind_name, first, last, output, out)

    command.__doc__ = summary
    report_app.command(kind_name)(command)


_command(
    "daily",
    "The dashboard's figures for one day (default: yesterday): targets, contacts, hourly "
    "load and staffing need, request types, trend, complaint hot spots, open orders needing "
    "attention.",
)
_command("weekly", "The dashboard's figures for 7 days (default: the 7 days up to yesterday).")
_command("monthly", "The dashboard's figures for a month (default: last month).")
_command(
    "complaints",
    "Complaint analysis: reply, closure, on-standard and satisfaction rates, hot spots, "
    "repeat complainers, ladder performance per branch (default: last month).",
)
_command(
    "satisfaction",
    "Satisfaction analysis: by channel, by request type, the marks, complaint satisfaction "
    "(default: last month).",
)
_command(
    "customers",
    "Customer analysis: tier statistics by day and month, churn against its targets and the "
    "churned members, frequent callers, birthdays, the big-customer assessment "
    "(default: last month).",
)


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")
