"""``desk inbox add`` and ``desk inbox import`` through the real parser."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import col, select
from typer.testing import CliRunner

from desk.cli import _register, app
from desk.cli.failures import EXIT_REFUSED, EXIT_USAGE
from desk.infra.database import Database
from desk.models import InboxMessage

_register()
runner = CliRunner()


def _url(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def _messages(db: Database) -> list[InboxMessage]:
    return db.run(
        lambda s: list(s.exec(select(InboxMessage).order_by(col(InboxMessage.id))).all()),
        write=False,
    )


def test_add_stores_one_message_with_its_clock(sqlite_db: Database, tmp_path: Path) -> None:
    url = _url(sqlite_db)
    result = runner.invoke(
        app,
        ["--db", url, "inbox", "add", "--channel", "web", "--from", "13800000001", "--text",
         "宽带断网", "--ref", "form-1"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1 message added (ids 1)"
    body = tmp_path / "voice.txt"
    body.write_text("语音留言:话费有误", encoding="utf-8")
    second = runner.invoke(
        app,
        ["--db", url, "inbox", "add", "--channel", "voicemail", "--from", "13900000000",
         "--file", str(body), "--format", "json"],
    )  # fmt: skip
    assert second.exit_code == 0, second.output
    assert json.loads(second.output) == {"added": [2], "duplicates": 0}
    again = runner.invoke(
        app,
        ["--db", url, "inbox", "add", "--channel", "web", "--from", "13800000001", "--text",
         "宽带断网", "--ref", "form-1"],
    )  # fmt: skip
    assert "1 already stored (same --ref), skipped" in again.output
    stored = _messages(sqlite_db)
    assert [(m.channel, m.text) for m in stored] == [
        ("web", "宽带断网"),
        ("voicemail", "语音留言:话费有误"),
    ]
    assert all(m.response_due is not None for m in stored)


def test_add_names_what_is_wrong(sqlite_db: Database) -> None:
    url = _url(sqlite_db)
    cases = [
        (["--channel", "fax", "--from", "1", "--text", "x"], "--channel"),
        (["--channel", "web", "--from", "1"], "--text or with --file"),
        (["--channel", "web", "--from", "1", "--text", "x", "--at", "2026-11-02"], "--at"),
    ]
    for args, said in cases:
        result = runner.invoke(app, ["--db", url, "inbox", "add", *args])
        assert result.exit_code != 0
        assert said in result.output
    assert _messages(sqlite_db) == []


def test_import_is_all_or_none(sqlite_db: Database, tmp_path: Path) -> None:
    url = _url(sqlite_db)
    good = tmp_path / "messages.csv"
    good.write_text(
        "channel,from,text,ref\nwechat,13800000002,话费不对,w1\nemail,a@b.cn,查询,e1\n",
        encoding="utf-8-sig",
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("channel,from,text\nweb,1,好\nfax,2,坏\n", encoding="gb18030")
    result = runner.invoke(app, ["--db", url, "inbox", "import", str(bad)])
    assert result.exit_code != 0
    assert "row 2" in result.output
    assert _messages(sqlite_db) == []
    checked = runner.invoke(app, ["--db", url, "inbox", "import", str(good), "--dry-run"])
    assert "2 messages checked, none stored" in checked.output
    assert _messages(sqlite_db) == []
    result = runner.invoke(app, ["--db", url, "inbox", "import", str(good)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("2 messages added")
    lines = tmp_path / "messages.jsonl"
    lines.write_text(
        json.dumps({"channel": "qq", "from": "12345", "text": "你好", "ref": "q1"}) + "\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["--db", url, "inbox", "import", str(lines)])
    assert result.exit_code == 0, result.output
    assert len(_messages(sqlite_db)) == 3


ARGUMENT = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    channel=st.one_of(st.sampled_from(["web", "WeChat", "email", "voicemail"]), ARGUMENT),
    sender=ARGUMENT,
    body=ARGUMENT,
    at=st.one_of(st.none(), ARGUMENT, st.sampled_from(["2026-11-02T09:00:00+08:00", "2026-13-01"])),
    ref=st.one_of(st.none(), ARGUMENT),
)
def test_inbox_add_fuzzed(
    sqlite_db: Database, channel: str, sender: str, body: str, at: str | None, ref: str | None
) -> None:
    """Whatever the options hold: a message stored (exit 0) or one line naming the option
    (exit 1 or 2) and nothing stored; never a traceback."""
    before = len(_messages(sqlite_db))
    args = ["--db", _url(sqlite_db), "inbox", "add", "--channel", channel, "--from", sender]
    args += ["--text", body]
    if at is not None:
        args += ["--at", at]
    if ref is not None:
        args += ["--ref", ref]
    result = runner.invoke(app, args)
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    if result.exit_code == 0:
        assert len(_messages(sqlite_db)) in (before, before + 1)  # a ref stored already: skipped
        return
    assert result.exit_code in (EXIT_REFUSED, EXIT_USAGE), result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert len(_messages(sqlite_db)) == before
