"""``desk backup DIR``, ``desk restore FILE`` and ``desk check``."""

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


def backup(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="Where the copies are kept (made 0700).")],
    keep: int = typer.Option(7, "--keep", min=1, max=10_000, help="How many copies to keep."),
    output: OutputFormat = FORMAT_OPTION,
) -> None:
    """Take a consistent copy of the database while terminals keep writing, with a manifest
    (time, row counts, SHA-256, audit head); keep the newest --keep copies."""
    from desk.services import backups

    result = backups.backup(
        open_database(state_of(ctx)), actor=shell_actor(), directory=directory, keep=keep
    )
    if output is OutputFormat.JSON:
        emit_json(
            {
                "file": str(result.path),
                "manifest": str(result.manifest_path),
                **result.manifest.as_dict(),
                "removed": [str(path) for path in result.removed],
            }
        )
        return
    rows = sum(result.manifest.tables.values())
    typer.echo(
        printable(
            f"backup {result.path} ({result.manifest.bytes / 1_000_000:,.1f} MB, {rows:,} rows, "
            f"sha256 {result.manifest.sha256[:16]}…)"
        )
    )
    for path in result.removed:
        typer.echo(printable(f"  removed old copy {path.name}"))


def restore(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A copy made by desk backup, or its manifest.")],
) -> None:
    """Verify a copy against its manifest, then replace the database with it. Stop every
    console first."""
    from desk.services import backups

    result = backups.restore(
        open_database(state_of(ctx), check_schema=False, create=True),
        actor=shell_actor(),
        manifest_path=file,
    )
    typer.echo(
        printable(
            f"restored {result.manifest.file} (taken {result.manifest.created_at.isoformat()}) "
            f"into {result.replaced}"
        )
    )


def check(ctx: typer.Context, output: OutputFormat = FORMAT_OPTION) -> None:
    """Integrity check, foreign keys, schema revision and the audit chain; exit 1 on a problem."""
    from desk.services import backups

    report = backups.check(open_database(state_of(ctx), check_schema=False), actor=shell_actor())
    if output is OutputFormat.JSON:
        emit_json(report.as_dict())
    else:
        chain = report.chain
        lines = [
            f"integrity      {report.integrity}",
            f"foreign keys   {'ok' if not report.foreign_keys else '; '.join(report.foreign_keys)}",
            f"schema         {report.revision} (desk: {report.head_revision})",
            "audit chain    "
            + (
                f"ok, {chain.entries:,} entries"
                if chain.ok
                else f"BROKEN at entry {chain.broken_at}: {chain.reason}"
            ),
        ]
        for line in lines:
            typer.echo(printable(line))
    if not report.ok:
        raise typer.Exit(EXIT_REFUSED)


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.command("restore")(restore)
    app.command("check")(check)
