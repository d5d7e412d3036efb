"""``desk import customers|bills|tickets FILE`` and ``desk export customers|contacts|tickets``."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from desk.cli.common import (
    FORMAT_OPTION,
    OutputFormat,
    emit_json,
    fail,
    open_database,
    shell_actor,
    state_of,
)
from desk.cli.failures import EXIT_REFUSED, EXIT_USAGE, printable

if TYPE_CHECKING:
    from desk.services.imports import ImportReport

SHOWN_PROBLEMS = 50


def import_(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="customers, bills or tickets.")],
    file: Annotated[Path, typer.Argument(help="A CSV or XLSX file.")],
    mapping: Annotated[
        Path | None,
        typer.Option(
            "--map",
            help="A column mapping (TOML file); a bare name, with or without .toml, is one "
            "shipped with desk (data/mappings).",
        ),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option("--encoding", help="utf-8, utf-8-sig, gbk, gb18030 (default: detected)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and count; write nothing.")
    ] = False,
    output: OutputFormat = FORMAT_OPTION,
) -> None:
    """Import a file: every row validated, rejected rows reported by row, field and reason,
    good rows upserted by natural key (a second run changes nothing). Exit 1 when any row
    was rejected."""
    from desk.services import imports

    try:
        chosen = imports.ImportKind(kind)
    except ValueError:
        fail(f"kind: {kind!r} is not customers, bills or tickets", code=EXIT_USAGE)
    if file.is_dir():
        fail(f"FILE: {file} is a directory, not a file", code=EXIT_USAGE)
    if not file.is_file():
        fail(f"FILE: no file {file}", code=EXIT_USAGE)
    if mapping is not None and not mapping.exists() and mapping.parent == Path("."):
        mapping = _shipped(mapping.name)
    report = imports.run_import(
        open_database(state_of(ctx)),
        actor=shell_actor(),
        kind=chosen,
        path=file,
        mapping_path=mapping,
        encoding=encoding,
        dry_run=dry_run,
    )
    if output is OutputFormat.JSON:
        emit_json(report.as_dict())
    else:
        _print(report)
    if report.rejected:
        raise typer.Exit(EXIT_REFUSED)


def _shipped(name: str) -> Path:
    """The shipped mapping a bare ``--map`` names, with or without ``.toml``."""
    from desk.services import imports

    for candidate in (name, f"{name}.toml"):
        shipped = imports.shipped_mapping(candidate)
        if shipped.is_file():
            return shipped
    known = ", ".join(imports.shipped_mapping_names())
    fail(f"--map: no mapping file {printable(name)} here, nor one shipped with desk ({known})")


def _print(report: ImportReport) -> None:
    for problem in report.problems[:SHOWN_PROBLEMS]:
        marker = "rejected" if problem.severity == "rejected" else "warning "
        typer.echo(printable(f"{marker} {problem}"))
    hidden = report.rejected + report.warned - min(len(report.problems), SHOWN_PROBLEMS)
    if hidden > 0:
        typer.echo(f"… and {hidden:,} more (--format json lists up to 1,000)")
    for note in report.notes:
        typer.echo(printable(f"note: {note}"))
    what = "would be " if report.dry_run else ""
    typer.echo(
        printable(
            f"{report.kind.value} from {report.file} ({report.encoding}): read {report.read:,}, "
            f"{what}inserted {report.inserted:,}, {what}updated {report.updated:,}, "
            f"unchanged {report.unchanged:,}, rejected {report.rejected:,}, "
            f"warnings {report.warned:,}"
            + (" (dry run: nothing written)" if report.dry_run else "")
        )
    )


def _instant(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        instant = datetime.fromisoformat(value.strip())
    except ValueError:
        fail(f"{option}: {value!r} is not an ISO-8601 date or instant", code=EXIT_USAGE)
    if instant.tzinfo is None:
        from zoneinfo import ZoneInfo

        instant = instant.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    return instant


def export(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="customers, contacts or tickets.")],
    fmt: Annotated[str, typer.Option("--format", help="csv, xlsx or json.")] = "csv",
    output_file: Annotated[
        Path | None, typer.Option("--output", "-o", help="The file (default: standard output).")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--from", help="From this date or instant (Asia/Shanghai).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--to", help="Up to (not including) this date or instant.")
    ] = None,
    unmasked: Annotated[
        bool, typer.Option("--unmasked", help="Personal data in clear (admins; audited).")
    ] = False,
) -> None:
    """Export rows, personal data masked unless --unmasked."""
    from desk.services import exports

    try:
        chosen = exports.ExportKind(kind)
    except ValueError:
        fail(f"kind: {kind!r} is not customers, contacts or tickets", code=EXIT_USAGE)
    try:
        form = exports.ExportFormat(fmt)
    except ValueError:
        fail(f"--format: {fmt!r} is not csv, xlsx or json", code=EXIT_USAGE)
    result = exports.export(
        open_database(state_of(ctx)),
        actor=shell_actor(),
        kind=chosen,
        fmt=form,
        out=output_file if output_file is not None else sys.stdout,
        since=_instant(since, "--from"),
        until=_instant(until, "--to"),
        unmasked=unmasked,
    )
    if output_file is not None:
        masked = "masked" if result.masked else "UNMASKED"
        typer.echo(f"{result.rows:,} {chosen.value} ({masked}) written to {output_file}", err=True)


def register(app: typer.Typer) -> None:
    app.command("import")(import_)
    app.command("export")(export)
