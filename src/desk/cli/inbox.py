"""``desk inbox add`` (the hook a web form, a voice-mail box or a mail gateway calls) and
``desk inbox import FILE``: messages customers leave outside a call, for the leads' inbox."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from desk.rules.policy import Policy
    from desk.services.inbox import AddReport, NewMessage

app = typer.Typer(help="Messages and web forms (客户留言, 网上工单).", no_args_is_help=True)

CHANNELS = "web, voicemail, wechat, qq or email"
FILE_OPTION = typer.Option(
    None, "--file", help="Read the message from this UTF-8 file ('-': standard input)."
)
IMPORT_FILE = typer.Argument(..., help="CSV (channel,from,text[,received_at,ref]) or JSONL.")


def _policy(ctx: typer.Context) -> Policy:
    from desk.rules.policy import PolicyError, load_policy

    try:
        return load_policy(state_of(ctx).settings().policy)
    except PolicyError as error:
        fail(str(error))


def _store(ctx: typer.Context, messages: list[NewMessage]) -> AddReport:
    from desk.infra.errors import DeskError
    from desk.services.inbox import add_messages

    policy = _policy(ctx)
    db = open_database(state_of(ctx))
    try:
        return add_messages(db, actor=shell_actor(), messages=messages, policy=policy)
    except DeskError as error:
        fail(error.message)
    finally:
        db.dispose()


@app.command("add")
def add(
    ctx: typer.Context,
    channel: str = typer.Option(..., "--channel", help=f"How it came: {CHANNELS}."),
    sender: str = typer.Option(..., "--from", help="The phone number or address it came from."),
    text: str | None = typer.Option(None, "--text", help="The message."),
    file: Path | None = FILE_OPTION,
    at: str | None = typer.Option(
        None, "--at", help="When it arrived, ISO-8601 with a timezone (default: now)."
    ),
    ref: str | None = typer.Option(
        None, "--ref", help="The gateway's own id: the same message sent twice is stored once."
    ),
    output: OutputFormat = FORMAT_OPTION,
) -> None:
    """Add one message to the leads' inbox, with its response clock from the policy."""
    if (text is None) == (file is None):
        fail("give the message with --text or with --file, not both")
    if file is not None:
        try:
            body = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            fail(f"--file: cannot read {file}: {error}")
    else:
        assert text is not None
        body = text
    from desk.infra.errors import InvalidInput
    from desk.services.inbox import parse_messages

    row: dict[str, Any] = {"channel": channel.strip().lower(), "sender": sender, "text": body}
    if at is not None:
        row["received_at"] = at
    if ref is not None:
        row["external_ref"] = ref
    try:
        (message,) = parse_messages([row])
    except InvalidInput as error:
        option = {"sender": "--from", "received_at": "--at", "external_ref": "--ref"}.get(
            error.field or "", f"--{error.field}"
        )
        fail(f"{option}: {error.message.split(': ', 1)[-1].removeprefix('row 1: ')}")
    report = _store(ctx, [message])
    _say(report, output)


def _rows(path: Path) -> list[dict[str, Any]]:
    """A CSV (UTF-8, UTF-8 with BOM, or GB18030) with a header, or JSON lines (``.jsonl``)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        fail(f"{path}: {error.strerror or error}")
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        rows = []
        for number, line in enumerate(data.decode("utf-8-sig").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                fail(f"{path}: line {number}: not JSON ({error.msg})")
            if not isinstance(value, dict):
                fail(f"{path}: line {number}: not an object")
            rows.append(_named(value))
        return rows
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes every byte string
        fail(f"{path}: neither UTF-8 nor GB18030")
    reader = csv.DictReader(io.StringIO(text))
    wanted = {"channel", "from", "text"}
    missing = wanted - set(reader.fieldnames or [])
    if missing:
        fail(f"{path}: the header lacks {', '.join(sorted(missing))}")
    return [_named(row) for row in reader]


def _named(row: dict[str, Any]) -> dict[str, Any]:
    """A file's row in the service's names (``from`` → sender, ``ref`` → external_ref)."""
    named: dict[str, Any] = {
        "channel": str(row.get("channel") or "").strip().lower(),
        "sender": row.get("from") or row.get("sender") or "",
        "text": row.get("text") or "",
    }
    if row.get("received_at"):
        named["received_at"] = row["received_at"]
    if row.get("ref") or row.get("external_ref"):
        named["external_ref"] = row.get("ref") or row.get("external_ref")
    return named


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Path = IMPORT_FILE,
    dry_run: bool = typer.Option(False, "--dry-run", help="Check every row, store nothing."),
    output: OutputFormat = FORMAT_OPTION,
) -> None:
    """Add a file of messages, all or none: a bad row is named and nothing is stored."""
    from desk.infra.errors import InvalidInput
    from desk.services.inbox import parse_messages

    rows = _rows(file)
    try:
        messages = parse_messages(rows)
    except InvalidInput as error:
        fail(f"{file}: {error.message}")
    if dry_run:
        if output is OutputFormat.JSON:
            emit_json({"checked": len(messages), "added": 0})
        else:
            typer.echo(f"{len(messages)} messages checked, none stored (--dry-run)")
        return
    _say(_store(ctx, messages), output)


def _say(report: AddReport, output: OutputFormat) -> None:
    if output is OutputFormat.JSON:
        emit_json({"added": list(report.added), "duplicates": report.duplicates})
        return
    noun = "message" if len(report.added) == 1 else "messages"
    line = f"{len(report.added)} {noun} added"
    if report.added:
        line += f" (ids {', '.join(str(i) for i in report.added[:10])}"
        line += ", …)" if len(report.added) > 10 else ")"
    if report.duplicates:
        line += f"; {report.duplicates} already stored (same --ref), skipped"
    typer.echo(line)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="inbox")
