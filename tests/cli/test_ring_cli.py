"""``desk ring`` and ``desk knowledge sync`` through the real command-line parser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from desk.cli import _register, app
from desk.cli.failures import EXIT_BUSY
from desk.clock import FixedClock
from desk.infra.database import Database
from desk.models import CannedReply, Contact, ContactRing, KnowledgeArticle
from desk.rules.vocab import ContactOutcome, RefusalReason, RequestType
from desk.services import audit, contacts
from tests.workspace_world import LI_PHONE, ZHANG_PHONE, World, build_world

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


@pytest.mark.parametrize("output", ["text", "json"])
def test_ring_to_an_agent_on_a_call_is_abandoned_at_once_and_says_so(
    sqlite_db: Database, world: World, output: str
) -> None:
    """The agent took another call: the ring is stored as offered and abandoned with its
    reason, nothing waits on the console, and the command says so in one line and exits 5
    (the adapter offers the call elsewhere). The next ring, once the call is closed, rings."""
    on_call = contacts.start_contact(sqlite_db, actor=world.agent, number=LI_PHONE)
    args = ["--db", _url(sqlite_db), "ring", ZHANG_PHONE, "--agent", "agent1"]
    result = runner.invoke(app, [*args, "--format", output])
    assert result.exit_code == EXIT_BUSY == 5, result.output
    if output == "json":
        out = json.loads(result.stdout)
        assert out["busy"] is True
        contact_id = out["contact_id"]
    else:
        (line,) = result.output.strip().splitlines()
        assert "agent1 is on a call" in line
        assert "agent busy" in line
        assert ZHANG_PHONE not in line
        contact_id = int(line.split("contact ", 1)[1].split(",", 1)[0])
    contact = sqlite_db.run(lambda s: s.get(Contact, contact_id), write=False)
    assert contact is not None
    assert contact.outcome == ContactOutcome.ABANDONED.value
    assert contact.refusal_reason == RefusalReason.AGENT_BUSY.value
    assert contact.answered_at is None
    assert contact.ended_at == contact.offered_at
    assert sqlite_db.run(lambda s: s.exec(select(ContactRing)).all(), write=False) == []
    assert contacts.pending_ring(sqlite_db, actor=world.agent) is None
    assert audit.verify_chain(sqlite_db, actor=world.admin).ok
    contacts.close_contact(
        sqlite_db,
        actor=world.agent,
        contact_id=on_call.id,
        version=on_call.version,
        draft=contacts.ContactDraft(
            request_type=RequestType.CONSULTATION, outcome=ContactOutcome.SETTLED, summary="ok"
        ),
    )
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert contacts.pending_ring(sqlite_db, actor=world.agent) is not None


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


# What `desk ring` must not load: it runs on SQLAlchemy Core, checks the schema with a plain
# read of alembic_version and validates the policy's greetings on one year of China's table.
RING_NEVER_LOADS = (
    "sqlmodel",
    "sqlalchemy.orm",
    "desk.models",
    "alembic",
    "pypinyin",
    "textual",
    "desk.services.contacts",
    "desk.services.audit",
)
# (loaded by name alone: the package of all ~250 countries; China's table is loaded by itself)
RING_NEVER_LOADS_EXACTLY = ("holidays.countries", "holidays.countries.germany")


def test_ring_starts_without_the_heavy_imports(sqlite_db: Database, world: World) -> None:
    """``desk ring`` (its own process, as a PBX adapter runs it, for every call) loads
    neither SQLModel, the ORM, the models, Alembic, pypinyin's dictionaries, Textual nor the
    holidays package's countries."""
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
        f"heavy = sorted(name for name in sys.modules if name in {RING_NEVER_LOADS!r} "
        f"or name.startswith(tuple(n + '.' for n in {RING_NEVER_LOADS!r})) "
        f"or name in {RING_NEVER_LOADS_EXACTLY!r})\n"
        "print('HEAVY', heavy[:12])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "rang agent1" in done.stdout
    assert "HEAVY []" in done.stdout, done.stdout
    contact = sqlite_db.run(
        lambda s: s.exec(select(Contact).order_by(Contact.id.desc())).first(),  # type: ignore[union-attr]
        write=False,
    )
    assert contact is not None
    assert (contact.caller_number, contact.answered_at) == (ZHANG_PHONE, None)


def test_ring_refuses_a_database_not_at_this_desks_revision(
    sqlite_db: Database, world: World
) -> None:
    """The light schema check (alembic_version read plainly) still refuses an old or an
    unknown revision, in one sentence, before anything is written."""
    from sqlalchemy import text

    for revision, said in (
        ("0016_callback_work_order", "run `desk db upgrade`"),
        ("9999_from_the_future", "was it made by a newer desk?"),
    ):
        sqlite_db.run_core(
            lambda c, r=revision: c.execute(
                text("UPDATE alembic_version SET version_num = :r"), {"r": r}
            ),
            write=True,
        )
        result = runner.invoke(
            app, ["--db", _url(sqlite_db), "ring", ZHANG_PHONE, "--agent", "agent1"]
        )
        assert result.exit_code != 0
        assert said in result.output
        assert "Traceback" not in result.output
    assert sqlite_db.run(lambda s: s.exec(select(Contact)).all(), write=False) == []
