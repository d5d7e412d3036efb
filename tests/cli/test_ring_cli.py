"""``desk ring`` and ``desk knowledge sync`` through the real command-line parser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from desk.cli import _register, app
from desk.clock import FixedClock
from desk.infra.database import Database
from desk.models import CannedReply, Contact, ContactRing, KnowledgeArticle
from tests.workspace_world import ZHANG_PHONE, World, build_world

_register()
runner = CliRunner()


@pytest.fixture
def world(sqlite_db: Database, clock: FixedClock) -> World:
    return build_world(sqlite_db, clock.now())


def _url(db: Database) -> str:
    return str(db.engine.url)


def test_ring_offers_the_call_to_the_agent(sqlite_db: Database, world: World) -> None:
    result = runner.invoke(
        app,
        [
            "--db",
            _url(sqlite_db),
            "ring",
            ZHANG_PHONE,
            "--agent",
            "agent1",
            "--channel",
            "vip_line",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["caller"] == "138****8000"
    assert out["known_customer"] is True
    assert ZHANG_PHONE not in result.output
    contact = sqlite_db.run(lambda s: s.get(Contact, out["contact_id"]), write=False)
    assert contact is not None
    assert (contact.channel, contact.answered_at) == ("vip_line", None)
    rings = sqlite_db.run(lambda s: s.exec(select(ContactRing)).all(), write=False)
    assert [r.contact_id for r in rings] == [out["contact_id"]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ring", "12", "--agent", "agent1"], "number"),
        (["ring", ZHANG_PHONE, "--agent", "nobody"], "no active user"),
        (["ring", ZHANG_PHONE, "--agent", "admin1"], "does not take calls"),
    ],
)
def test_ring_names_what_is_wrong(
    sqlite_db: Database, world: World, args: list[str], message: str
) -> None:
    result = runner.invoke(app, ["--db", _url(sqlite_db), *args])
    assert result.exit_code != 0
    assert message in result.output
    assert sqlite_db.run(lambda s: s.exec(select(Contact)).all(), write=False) == []


def test_knowledge_sync_reloads_an_edited_folder(
    sqlite_db: Database, world: World, tmp_path: Path
) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "a.md").write_text(
        "---\ncode: KB-X-1\ntitle: 量子通话\ncategory: plan\nkeywords: quantum\n---\n正文\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["--db", _url(sqlite_db), "knowledge", "sync", str(folder)])
    assert result.exit_code == 0, result.output
    assert "articles: 1 added" in result.output
    assert "no replies.toml in the folder, left as they are" in result.output
    (folder / "replies.toml").write_text(
        '[[reply]]\ncode = "Q-1"\ntitle = "量子问候"\ntext = "您好,量子客服为您服务。"\n',
        encoding="utf-8",
    )
    result = runner.invoke(
        app,
        ["--db", _url(sqlite_db), "knowledge", "sync", str(folder), "--deactivate-missing"],
    )
    assert result.exit_code == 0, result.output
    assert "canned replies: 1 added, 0 updated, 0 unchanged, 30 removed" in result.output
    replies = sqlite_db.run(lambda s: s.exec(select(CannedReply.code)).all(), write=False)
    assert replies == ["Q-1"]
    (folder / "b.md").write_text("no front matter\n", encoding="utf-8")
    bad = runner.invoke(app, ["--db", _url(sqlite_db), "knowledge", "sync", str(folder)])
    assert bad.exit_code != 0
    assert "b.md" in bad.output
    codes = sqlite_db.run(
        lambda s: s.exec(
            select(KnowledgeArticle.code).where(KnowledgeArticle.code == "KB-X-1")
        ).all(),
        write=False,
    )
    assert codes == ["KB-X-1"]


def test_ring_starts_without_the_heavy_imports(sqlite_db: Database, world: World) -> None:
    """``desk ring`` (its own process, as a PBX adapter runs it) loads neither pypinyin's
    dictionaries nor the holidays package's ~250 countries: only China's table."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from desk.cli import main\n"
        f"sys.argv = ['desk', '--db', {_url(sqlite_db)!r}, 'ring', {ZHANG_PHONE!r}, "
        "'--agent', 'agent1']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as end:\n"
        "    assert not end.code, end.code\n"
        "heavy = sorted(name for name in ('pypinyin', 'holidays.countries', "
        "'holidays.countries.germany') if name in sys.modules)\n"
        "print('HEAVY', heavy, 'holidays.countries.china' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "rang agent1" in done.stdout
    assert "HEAVY [] True" in done.stdout, done.stdout
