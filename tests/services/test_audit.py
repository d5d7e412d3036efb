"""The audit log cannot be rewritten: triggers refuse UPDATE and DELETE, and `verify_chain`
finds every edit made past them (edited, deleted, inserted, reordered rows, a cut tail, a
chain recomputed without the key, a forged head)."""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from desk.infra.database import Database
from desk.infra.errors import PermissionDenied
from desk.models import AuditEntry
from desk.rules.permissions import shell_actor
from desk.rules.vocab import Role
from desk.services import audit, users
from desk.services.sealing import append
from tests.services.test_roles import role_actors

SHELL = shell_actor("test")


def _entries(db: Database, count: int = 6) -> None:
    for n in range(count):
        db.run(
            lambda session, n=n: audit.record(
                session, action="test.event", actor=SHELL, target_type="t", detail={"n": n}
            ),
            write=True,
        )


def _verify(db: Database, **kwargs: object) -> audit.ChainReport:
    return audit.verify_chain(db, actor=SHELL, **kwargs)  # type: ignore[arg-type]


def _as_attacker(db: Database, work: Callable[[Connection], None]) -> None:
    """Someone with write access to the database who gets past the triggers."""
    with db.engine.begin() as connection:
        if db.is_sqlite:
            connection.exec_driver_sql("DROP TRIGGER audit_log_no_update")
            connection.exec_driver_sql("DROP TRIGGER audit_log_no_delete")
        else:
            connection.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER USER")
        work(connection)


def _sql(statement: str, **params: object) -> Callable[[Connection], None]:
    return lambda connection: connection.execute(sa.text(statement), params) and None


def test_a_clean_chain_verifies_with_its_head(db: Database) -> None:
    _entries(db)
    report = _verify(db)
    assert report.ok, report.reason
    assert report.entries == 6
    assert report.head is not None
    assert report.head.id == 6


@pytest.mark.postgres
def test_an_entry_that_waited_for_the_lock_is_chained_after_the_one_that_held_it(
    pg_db: Database,
) -> None:
    """On PostgreSQL a statement sees what was committed when it began: the chain's tail
    and the entry's id are read by a statement of their own once the lock is held, so an
    entry that waited for another terminal's lock chains after that terminal's entry (and
    its id is the next one), not beside it."""
    _entries(pg_db, 2)
    waiter: dict[str, object] = {}

    def wait_and_write() -> None:
        waiter["id"] = pg_db.run(
            lambda session: audit.record(session, action="test.waiter", actor=SHELL),
            write=True,
        )

    with pg_db.engine.connect() as holder, holder.begin():  # another terminal
        held = append(holder, at=datetime.now(UTC), action="test.holder", actor=SHELL)
        thread = threading.Thread(target=wait_and_write)
        thread.start()
        with pg_db.engine.connect() as watcher:
            for _ in range(500):  # until the waiter is queued on the lock
                waiting = watcher.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                    )
                ).scalar()
                if waiting:
                    break
                time.sleep(0.01)
        assert waiting
    thread.join(timeout=30)
    assert waiter["id"] == held + 1, waiter
    with pg_db.engine.connect() as connection:
        tail = connection.execute(
            sa.text("SELECT action, prev_hash FROM audit_log ORDER BY id DESC LIMIT 2")
        ).all()
    (last_action, last_prev), (before_action, _) = tail
    assert (before_action, last_action) == ("test.holder", "test.waiter")
    holder_hash = _hash_of(pg_db, held)
    assert last_prev == holder_hash
    assert _verify(pg_db).ok


def _hash_of(db: Database, entry_id: int) -> str:
    with db.engine.connect() as connection:
        return str(
            connection.execute(
                sa.text("SELECT hash FROM audit_log WHERE id = :id"), {"id": entry_id}
            ).scalar_one()
        )


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"]
)
def test_the_table_refuses_update_and_delete(db: Database, statement: str) -> None:
    _entries(db, 2)
    with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as connection:
        connection.exec_driver_sql(statement)
    assert _verify(db).entries == 2


@pytest.mark.postgres
def test_postgresql_refuses_truncate(pg_db: Database) -> None:
    _entries(pg_db, 1)
    with pytest.raises(DBAPIError, match="append-only"), pg_db.engine.begin() as connection:
        connection.exec_driver_sql("TRUNCATE audit_log CASCADE")


TAMPERING = {
    "edited": (_sql("UPDATE audit_log SET detail = '{\"n\": 99}' WHERE id = 3"), 3, "seal"),
    "deleted": (_sql("DELETE FROM audit_log WHERE id = 3"), 4, "link"),
    "inserted": (
        _sql(
            "INSERT INTO audit_log (id, at, actor_login, action, detail, prev_hash, hash) "
            "SELECT 100, at, 'intruder', 'test.event', detail, hash, :forged "
            "FROM audit_log WHERE id = 3",
            forged="f" * 64,
        ),
        100,
        "link",
    ),
    "reordered": (
        _sql(
            "UPDATE audit_log SET id = CASE id WHEN 3 THEN 1003 WHEN 4 THEN 3 END "
            "WHERE id IN (3, 4)"
        ),
        3,
        "link",
    ),
    "cut tail": (_sql("DELETE FROM audit_log WHERE id > 4"), 6, "cut from the end"),
    "all rows cut": (_sql("DELETE FROM audit_log"), 6, "cut from the end"),
    "head moved back": (
        _sql(
            'UPDATE desk_meta SET value = (SELECT \'{"id": 4, "hash": "\' || hash || '
            '\'", "mac": "\' || :mac || \'"}\' FROM audit_log WHERE id = 4) '
            "WHERE key = 'audit_head'",
            mac="0" * 64,
        ),
        None,
        "head record's seal",
    ),
}


@pytest.mark.parametrize("kind", list(TAMPERING))
def test_verify_finds_tampering_past_the_triggers(db: Database, kind: str) -> None:
    _entries(db)
    work, broken_at, said = TAMPERING[kind]
    _as_attacker(db, work)
    report = _verify(db)
    assert not report.ok
    assert said in (report.reason or "")
    if broken_at is not None:
        assert report.broken_at == broken_at


def test_a_chain_recomputed_without_the_key_does_not_pass(db: Database) -> None:
    """The attacker edits a row and reseals the whole chain and the head with their own key."""
    _entries(db)
    forged_key = b"attacker-has-no-access-to-the-real-key"

    def reseal(connection: Connection) -> None:
        connection.execute(sa.text("UPDATE audit_log SET detail = '{\"n\": 42}' WHERE id = 2"))
        rows = connection.execute(
            sa.text(
                "SELECT id, at, actor_id, actor_login, action, target_type, target_id, detail "
                "FROM audit_log ORDER BY id"
            )
        ).all()
        prev = audit.GENESIS
        for row in rows:
            entry = connection.execute(
                sa.select(AuditEntry).where(AuditEntry.id == row.id)  # type: ignore[arg-type]
            ).first()
            assert entry is not None
            canonical = audit._canonical(
                at=entry.at,
                actor_id=entry.actor_id,
                actor_login=entry.actor_login,
                action=entry.action,
                target_type=entry.target_type,
                target_id=entry.target_id,
                detail=entry.detail,
            )
            sealed = audit._seal(forged_key, prev, canonical)
            connection.execute(
                sa.text("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE id = :i"),
                {"p": prev, "h": sealed, "i": row.id},
            )
            prev = sealed
        mac = audit._head_mac(forged_key, rows[-1].id, prev)
        value = f'{{"id": {rows[-1].id}, "hash": "{prev}", "mac": "{mac}"}}'
        connection.execute(
            sa.text("UPDATE desk_meta SET value = :v WHERE key = 'audit_head'"), {"v": value}
        )

    _as_attacker(db, reseal)
    report = _verify(db)
    assert not report.ok
    assert report.broken_at == 1  # the first row no longer matches the real key's seal


def test_a_recorded_head_must_still_be_in_the_chain(db: Database) -> None:
    _entries(db, 4)
    anchor = _verify(db).head
    assert anchor is not None
    assert _verify(db, anchors=[anchor]).ok
    forged = audit.Head(anchor.id, "0" * 64)
    report = _verify(db, anchors=[forged])
    assert not report.ok
    assert report.broken_at == anchor.id
    gone = audit.Head(anchor.id + 50, anchor.hash)
    assert "gone" in (_verify(db, anchors=[gone]).reason or "")


def test_the_key_file_is_made_owner_only_and_kept(
    db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(audit.KEY_ENV)
    _entries(db, 1)
    path = tmp_path / "data" / audit.KEY_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    first = path.read_text()
    _entries(db, 1)
    assert path.read_text() == first
    assert _verify(db).ok


def test_another_key_or_none_is_refused_before_anything_is_written(
    db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _entries(db, 2)
    monkeypatch.setenv(audit.KEY_ENV, "another-center-another-key-0123456789")
    with pytest.raises(audit.AuditKeyError, match="not the key"):
        _entries(db, 1)
    monkeypatch.delenv(audit.KEY_ENV)  # and no key file on this machine either
    with pytest.raises(audit.AuditKeyError, match="no audit key"):
        _verify(db)
    assert not (tmp_path / "data" / audit.KEY_FILE).exists()


def test_a_short_key_is_refused(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(audit.KEY_ENV, "short")
    with pytest.raises(audit.AuditKeyError, match="at least 32"):
        _entries(db, 1)


def test_admin_actions_are_in_the_chain(db: Database) -> None:
    users.add_user(
        db,
        actor=SHELL,
        new=users.NewUser(login="a1", display_name="A", role=Role.AGENT, password="secret1"),
    )
    users.disable_user(db, actor=SHELL, login="a1")
    report = _verify(db)
    assert report.ok
    assert report.entries == 2


# --- a log written before the key ------------------------------------------------------------


def _unkeyed_entries(db: Database, count: int) -> None:
    """What desk wrote before the log was keyed: entries chained by a bare SHA-256, no key
    fingerprint, no head (the triggers allow INSERT)."""
    import hashlib
    from datetime import UTC, datetime, timedelta

    prev = audit.GENESIS
    start = datetime(2026, 10, 1, tzinfo=UTC)
    with db.engine.begin() as connection:
        for n in range(count):
            at = start + timedelta(minutes=n)
            fields = {
                "at": at,
                "actor_id": None,
                "actor_login": "shell",
                "action": "old.event",
                "target_type": "t",
                "target_id": str(n),
                "detail": {"n": n},
            }
            canonical = audit._canonical(**fields)
            digest = hashlib.sha256((prev + canonical).encode()).hexdigest()
            table = AuditEntry.__table__  # type: ignore[attr-defined]
            connection.execute(table.insert().values(**fields, prev_hash=prev, hash=digest))
            prev = digest


def test_a_log_from_before_the_key_is_resealed_once_by_an_admin_and_audited(
    db: Database,
) -> None:
    _unkeyed_entries(db, 4)
    report = _verify(db)
    assert (report.ok, report.broken_at) == (False, 1)
    assert "desk audit reseal" in (report.reason or "")
    _entries(db, 2)  # written after the upgrade, on top of the old chain
    report = _verify(db)
    assert (report.ok, report.broken_at) == (False, 1)
    assert "desk audit reseal" in (report.reason or "")
    supervisor = role_actors(db)[Role.SUPERVISOR]
    with pytest.raises(PermissionDenied):
        audit.reseal(db, actor=supervisor)
    done = audit.reseal(db, actor=SHELL)
    assert (done.old_entries, done.end and done.end.id, done.already) == (4, 4, False)
    report = _verify(db)
    assert report.ok, report.reason
    assert report.entries == 7  # 4 old, 2 keyed, the reseal itself
    assert audit.reseal(db, actor=SHELL).already
    with db.engine.connect() as connection:
        last = connection.execute(
            sa.text("SELECT action FROM audit_log ORDER BY id DESC LIMIT 1")
        ).scalar_one()
    assert last == "audit.reseal"


def test_an_old_entry_edited_after_the_reseal_shows_even_with_its_hashes_recomputed(
    db: Database,
) -> None:
    import hashlib

    _unkeyed_entries(db, 4)
    audit.reseal(db, actor=SHELL)

    def rewrite(connection: Connection) -> None:
        connection.execute(sa.text("UPDATE audit_log SET target_id = 'forged' WHERE id = 2"))
        prev = audit.GENESIS
        for entry_id in (1, 2, 3, 4):
            with Session(bind=connection) as session:
                entry = session.get(AuditEntry, entry_id)
                assert entry is not None
                digest = hashlib.sha256((prev + audit._canonical_of(entry)).encode()).hexdigest()
            connection.execute(
                sa.text("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE id = :i"),
                {"p": prev, "h": digest, "i": entry_id},
            )
            prev = digest
        connection.execute(sa.text("UPDATE audit_log SET prev_hash = :p WHERE id = 5"), {"p": prev})

    _as_attacker(db, rewrite)
    report = _verify(db)
    assert not report.ok
    assert report.broken_at == 4
    assert "reseal recorded" in (report.reason or "")


def test_a_broken_old_chain_is_not_resealed(db: Database) -> None:
    _unkeyed_entries(db, 3)
    _as_attacker(db, _sql("UPDATE audit_log SET target_id = 'forged' WHERE id = 2"))
    with pytest.raises(audit.AuditChainBroken, match="entry 2"):
        audit.reseal(db, actor=SHELL)
    with db.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT COUNT(*) FROM audit_log")).scalar_one() == 3
