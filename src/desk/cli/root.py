"""Top-level options and the command groups."""

from __future__ import annotations

import typer

from desk.cli.common import State


def register(app: typer.Typer) -> None:
    from desk.cli import (
        audit,
        backup,
        callbacks,
        db,
        demo,
        handover,
        inbox,
        org,
        policy,
        report,
        ring,
        sweep,
        transfer,
        user,
    )

    @app.callback(invoke_without_command=True)
    def root(
        ctx: typer.Context,
        database: str | None = typer.Option(
            None, "--db", help="Database URL (default: DESK_DATABASE_URL or a SQLite file)."
        ),
    ) -> None:
        """Launch the console, or run an admin command."""
        ctx.obj = State(db_url=database)
        if ctx.invoked_subcommand is None:
            from desk.cli.console import launch

            launch(ctx.obj)

    db.register(app)
    user.register(app)
    policy.register(app)
    demo.register(app)
    sweep.register(app)
    org.register(app)
    audit.register(app)
    backup.register(app)
    transfer.register(app)
    callbacks.register(app)
    inbox.register(app)
    ring.register(app)
    handover.register(report.report_app)
    report.register(app)
