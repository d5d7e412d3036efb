"""``desk sweep``: apply the escalation ladder's due steps once (for cron or a systemd timer),
and keep the dashboard's summaries up when they are due (:mod:`desk.services.summaries`)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import typer

from desk.cli.common import (
    FORMAT_OPTION,
    OutputFormat,
    emit_json,
    fail,
    open_database,
    os_user,
    policy_failure,
    shell_actor,
    state_of,
)
from desk.cli.failures import EXIT_SKIPPED, EXIT_USAGE

if TYPE_CHECKING:
    from desk.services.summaries import RefreshReport
    from desk.services.sweep import SweepReport

NOW_OPTION = typer.Option(
    None,
    "--now",
    help="Sweep as of this ISO-8601 instant with a timezone, e.g. 2026-11-02T10:00:00+08:00 "
    "(default: now).",
)


def parse_now(value: str | None) -> datetime | None:
    """``--now`` as an aware instant; a naive or malformed value fails naming the option."""
    if value is None:
        return None
    try:
        instant = datetime.fromisoformat(value.strip())
    except ValueError:
        fail(f"--now: {value!r} is not an ISO-8601 instant (e.g. 2026-11-02T10:00:00+08:00)")
    if instant.utcoffset() is None:
        fail(f"--now: {value!r} has no timezone; add one, e.g. {value.strip()}+08:00 or Z")
    return instant


def sweep(
    ctx: typer.Context,
    now: str | None = NOW_OPTION,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Count what is due by --now (may be in the future); write nothing."
    ),
    output: OutputFormat = FORMAT_OPTION,
) -> None:
    """Apply every warning, breach, reminder, escalation and major flag due by now, once.

    Safe to run from cron next to open consoles: a sweep already running elsewhere (or one
    killed within the lease's 5 minutes) makes this one skip, say so and exit 4; a second run
    at the same --now changes nothing. --now may not be later than the present: breaches that
    have not happened would be stored for good (--dry-run may look ahead).

    It also refreshes the dashboard's hourly summaries when the last refresh (by a console or
    a sweep) is 5 minutes old, so they keep up with no console open.
    """
    instant = parse_now(now)
    from desk.infra.leases import make_holder
    from desk.rules.policy import PolicyError, load_policy
    from desk.services.summaries import refresh_summaries_if_due
    from desk.services.sweep import preview_sweep, run_sweep

    state = state_of(ctx)
    db = open_database(state)
    present = db.clock.now()
    if dry_run:
        preview = preview_sweep(db, actor=shell_actor(), now=instant or present)
        if output is OutputFormat.JSON:
            emit_json(preview.as_dict())
        else:
            typer.echo(
                f"dry run at {preview.now.isoformat()}: {preview.steps_due:,} planned steps due "
                f"on {preview.orders_with_steps_due:,} work orders, "
                f"{preview.orders_to_replay:,} histories to replay first; nothing written"
            )
        return
    if instant is not None and instant > present:
        fail(
            f"--now: {instant.isoformat()} is later than the present ({present.isoformat()}); "
            "a sweep stores what is due for good: use --dry-run to look ahead",
            code=EXIT_USAGE,
        )
    try:
        policy = load_policy(state.settings().policy)
    except PolicyError as error:
        policy_failure(error)
    try:
        report = run_sweep(
            db,
            actor=shell_actor(),
            policy=policy,
            now=instant,
            holder=make_holder(f"cli:{os_user()}"),
        )
        # also when the sweep was skipped: the summaries have no lease and no sweep order
        summaries = refresh_summaries_if_due(db, policy=policy)
    finally:
        db.dispose()
    if output is OutputFormat.JSON:
        emit_json({**report.as_dict(), "summaries": summaries and summaries.as_dict()})
    else:
        typer.echo(describe(report))
        typer.echo(describe_summaries(summaries))
    if report.skipped_because_leased:
        fail(
            f"sweep skipped: another sweep holds the lease ({report.held_by or 'unknown'}); "
            "a killed sweep's lease lapses within 5 minutes",
            code=EXIT_SKIPPED,
        )


def describe(report: SweepReport) -> str:
    """The report as a few lines of text: each kind stored, the total, the work examined."""
    when = report.now.isoformat()
    if report.skipped_because_leased:
        holder = report.held_by or "another process"
        return f"sweep at {when}: skipped, a sweep is running ({holder}); 0 changes"
    lines = [f"sweep at {when}"]
    if report.primed:
        lines.append(f"  {report.primed:,} open work orders marked for a replay of their history")
    for kind, count in report.inserted.items():
        lines.append(f"  {kind:<20} {count:>8,}")
    noun = "change" if report.changes == 1 else "changes"
    lines.append(
        f"{report.changes:,} {noun}: {report.candidates:,} work orders examined "
        f"({report.replayed:,} histories replayed, {report.steps_due:,} planned steps due), "
        f"{report.orders_updated:,} updated, in {report.seconds:.2f} s"
    )
    return "\n".join(lines)


def describe_summaries(report: RefreshReport | None) -> str:
    """One line on the dashboard's summaries: refreshed how far, or not due."""
    if report is None:
        return "summaries: refreshed less than 5 minutes ago; not due"
    through = report.through.isoformat()
    if report.rebuilt_from is None:
        counted = "rebuilt from every contact"
    else:
        counted = f"hours from {report.rebuilt_from.isoformat()} counted again"
        if report.open_hours:
            counted += f", and {report.open_hours:,} older hours with an open contact"
    return (
        f"summaries: through {through}, {counted} ({report.hour_rows:,} hour rows) "
        f"in {report.seconds:.2f} s"
    )


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep)
