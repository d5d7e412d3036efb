"""``desk audit verify``: recompute the audit log's seals and check its head."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from desk.cli.common import (
    FORMAT_OPTION,
    OutputFormat,
    emit_json,
    open_database,
    shell_actor,
    state_of,
)
from desk.cli.failures import EXIT_REFUSED, printable

audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)


@audit_app.command("verify")
def verify(
    ctx: typer.Context,
    against: Annotated[
        list[Path] | None,
        typer.Option(
            "--against",
            help="A backup manifest whose recorded head must still be in the log (repeatable).",
        ),
    ] = None,
    output: OutputFormat = FORMAT_OPTION,
) -> None:
    """Check every entry's seal, the links between entries and the head: finds an edited,
    deleted, inserted or reordered entry and entries cut from the end. Exit 1 when broken."""
    from desk.services import audit, backups

    anchors = [backups.read_manifest(path).audit_head_or_fail() for path in against or []]
    report = audit.verify_chain(
        open_database(state_of(ctx)), actor=shell_actor(), anchors=[a for a in anchors if a]
    )
    if output is OutputFormat.JSON:
        emit_json(report.as_dict())
    elif report.ok:
        head = f", head entry {report.head.id}" if report.head else ""
        typer.echo(f"audit log ok: {report.entries:,} entries{head}")
    else:
        where = f" at entry {report.broken_at}" if report.broken_at is not None else ""
        typer.echo(printable(f"audit log BROKEN{where}: {report.reason}"))
    if not report.ok:
        raise typer.Exit(EXIT_REFUSED)


@audit_app.command("reseal")
def reseal(ctx: typer.Context, output: OutputFormat = FORMAT_OPTION) -> None:
    """Anchor entries written before the log was keyed (an upgraded database), sealing their
    end with this machine's key; audited. Refused, writing nothing, if the old chain does not
    hold. Running it again changes nothing."""
    from desk.services import audit

    report = audit.reseal(open_database(state_of(ctx)), actor=shell_actor())
    if output is OutputFormat.JSON:
        emit_json(report.as_dict())
    elif report.already:
        typer.echo("already resealed: nothing to do")
    elif report.end is None:
        typer.echo("every entry is sealed with the key: nothing to do")
    else:
        typer.echo(
            f"resealed: {report.old_entries:,} entries written before the key, "
            f"through entry {report.end.id}"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
