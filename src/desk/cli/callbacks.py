"""``desk callbacks plan``: add the callbacks that fall due soon (for cron or a timer)."""

from __future__ import annotations

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
from desk.cli.sweep import NOW_OPTION, parse_now

app = typer.Typer(help="Callbacks (回访): plan the lists.", no_args_is_help=True)


@app.command("plan")
def plan(
    ctx: typer.Context, now: str | None = NOW_OPTION, output: OutputFormat = FORMAT_OPTION
) -> None:
    """Add the surveys, greetings, win-back, apology and work-order callbacks that fall due
    within the policy's horizon and are not planned yet; the shifts' records too.

    Safe to run from cron next to open consoles: a second run at the same --now adds nothing.
    """
    instant = parse_now(now)
    from desk.infra.errors import DeskError
    from desk.rules.policy import PolicyError, load_policy
    from desk.services.callbacks import plan_callbacks

    state = state_of(ctx)
    try:
        policy = load_policy(state.settings().policy)
    except PolicyError as error:
        fail(str(error))
    db = open_database(state)
    try:
        report = plan_callbacks(db, actor=shell_actor(), policy=policy, now=instant)
    except DeskError as error:
        fail(error.message)
    finally:
        db.dispose()
    if output is OutputFormat.JSON:
        emit_json(report.as_dict())
        return
    when = report.now.isoformat()
    if report.skipped_because_leased:
        typer.echo(f"callbacks plan at {when}: skipped, another plan is running; 0 added")
        return
    typer.echo(f"callbacks plan at {when}")
    for purpose, count in report.added.items():
        typer.echo(f"  {purpose:<12} {count:>8,}")
    if report.shifts_opened:
        typer.echo(f"  shift records opened: {report.shifts_opened}")
    typer.echo(f"{report.total:,} added")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="callbacks")
