"""``desk ring NUMBER --agent LOGIN``: the telephony side offers a call to an agent's console,
and ``desk knowledge sync [DIR]``: the knowledge base (articles and canned replies) brought in
line with a folder.

``desk ring`` is the hook a PBX adapter or a script calls: it stores the contact with its
offered time and puts the call on the agent's console, which pops the caller within a second.
A call the agent does not take within the policy's ``contacts.ring_timeout_seconds`` is stored
as abandoned. A call rung to an agent already on a call is stored as abandoned at once, its
reason ``agent_busy``; the command says so in one line and exits 5, so the adapter can offer
the call to another agent.
"""

from __future__ import annotations

from pathlib import Path

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
from desk.cli.failures import EXIT_BUSY
from desk.rules.vocab import Channel

AGENT_OPTION = typer.Option(..., "--agent", help="Login of the agent whose console rings.")
CHANNEL_OPTION = typer.Option(Channel.PHONE, "--channel", help="phone, vip_line, …")
FOLDER_ARGUMENT = typer.Argument(
    None,
    help="A folder of *.md articles and, if it has one, replies.toml (default: those shipped "
    "with desk).",
)
DEACTIVATE_OPTION = typer.Option(
    False,
    "--deactivate-missing",
    help="Hide articles that are not in the folder, and remove canned replies not in its "
    "replies.toml.",
)


def ring(
    ctx: typer.Context,
    number: str = typer.Argument(..., help="The caller's number."),
    agent: str = AGENT_OPTION,
    channel: Channel = CHANNEL_OPTION,
    output: OutputFormat = FORMAT_OPTION,
) -> None:
    """Offer a call from NUMBER to the console of agent LOGIN."""
    # desk.services.ringing works on SQLAlchemy Core: a PBX adapter runs this command for
    # every call, and it starts without SQLModel, the models or Alembic
    from desk.infra.errors import DeskError
    from desk.rules.policy import PolicyError, load_policy
    from desk.services.ringing import ring as ring_agent

    state = state_of(ctx)
    try:
        policy = load_policy(state.settings().policy)
    except PolicyError as error:
        fail(str(error))
    db = open_database(state)
    try:
        rung = ring_agent(
            db,
            actor=shell_actor(),
            number=number,
            agent_login=agent,
            policy=policy,
            channel=channel,
        )
    except DeskError as error:
        fail(error.message)
    finally:
        db.dispose()
    if output is OutputFormat.JSON:
        emit_json(
            {
                "contact_id": rung.contact_id,
                "agent": rung.agent_login,
                "caller": rung.caller_masked,
                "known_customer": rung.customer_id is not None,
                "expires_at": rung.expires_at.isoformat(),
                "busy": rung.busy,
            }
        )
        if rung.busy:
            raise typer.Exit(EXIT_BUSY)
    elif rung.busy:
        fail(
            f"{rung.agent_login} is on a call: {rung.caller_masked}, contact {rung.contact_id}, "
            "stored as abandoned (agent busy); ring another agent",
            code=EXIT_BUSY,
        )
    else:
        who = "a known customer" if rung.customer_id is not None else "an unknown number"
        typer.echo(
            f"rang {rung.agent_login}: {rung.caller_masked} ({who}), contact {rung.contact_id}; "
            f"abandoned unless taken by {rung.expires_at.isoformat(timespec='seconds')}"
        )


knowledge_app = typer.Typer(help="The knowledge base.", no_args_is_help=True)


@knowledge_app.command("sync")
def sync(
    ctx: typer.Context,
    folder: Path | None = FOLDER_ARGUMENT,
    deactivate_missing: bool = DEACTIVATE_OPTION,
    output: OutputFormat = FORMAT_OPTION,
) -> None:
    """Add new articles and canned replies, update changed ones; consoles find the changes at
    their next search."""
    from desk.infra.errors import DeskError
    from desk.services.knowledge import (
        Reply,
        SyncReport,
        folder_articles,
        folder_replies,
        shipped_articles,
        shipped_replies,
        sync_articles,
        sync_replies,
    )

    replies: list[Reply] | None
    try:
        if folder is None:
            articles, replies = shipped_articles(), shipped_replies()
        else:
            articles, replies = folder_articles(folder), folder_replies(folder)
    except DeskError as error:
        fail(error.message)
    db = open_database(state_of(ctx))
    try:
        report = sync_articles(
            db, actor=shell_actor(), articles=articles, deactivate_missing=deactivate_missing
        )
        replied = (
            None
            if replies is None
            else sync_replies(
                db, actor=shell_actor(), replies=replies, remove_missing=deactivate_missing
            )
        )
    except DeskError as error:
        fail(error.message)
    finally:
        db.dispose()

    def counts(report: SyncReport, gone: str) -> dict[str, int]:
        return {
            "added": report.added,
            "updated": report.updated,
            "unchanged": report.unchanged,
            gone: report.deactivated,
        }

    if output is OutputFormat.JSON:
        emit_json(
            {
                **counts(report, "deactivated"),
                "replies": None if replied is None else counts(replied, "removed"),
            }
        )
        return
    typer.echo(
        f"articles: {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.deactivated} hidden"
    )
    if replied is None:
        typer.echo("canned replies: no replies.toml in the folder, left as they are")
    else:
        typer.echo(
            f"canned replies: {replied.added} added, {replied.updated} updated, "
            f"{replied.unchanged} unchanged, {replied.deactivated} removed"
        )


def register(app: typer.Typer) -> None:
    app.command("ring")(ring)
    app.add_typer(knowledge_app, name="knowledge")
