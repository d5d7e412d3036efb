"""Backup, restore drill and check, on SQLite and PostgreSQL.

The drill: a backup taken while writers keep committing restores to a database holding every
row committed before the backup started; the copy is verified against its manifest before
anything is replaced; a damaged copy or manifest replaces nothing.
"""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from desk.clock import FixedClock
from desk.infra.database import Database
from desk.rules.permissions import shell_actor
from desk.rules.vocab import DepartmentKind
from desk.services import audit, backups, org

SHELL = shell_actor("test")


def _branch_codes(db: Database) -> set[str]:
    return {view.code for view in org.list_branches(db, actor=SHELL)}


def _writers(
    db: Database, count: int, stop: threading.Event, committed: list[str]
) -> list[threading.Thread]:
    """``count`` threads adding branches until ``stop``; each commit is appended once made."""

    def write(n: int) -> None:
        i = 0
        while not stop.is_set():
            code = f"W{n}-{i}"
            org.add_branch(db, actor=SHELL, code=code, name=f"分公司 {code}", region="杭州")
            committed.append(code)
            i += 1

    threads = [threading.Thread(target=write, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    return threads


def test_a_backup_under_five_writers_restores_every_earlier_commit(
    db: Database, tmp_path: Path
) -> None:
    org.add_department(db, actor=SHELL, code="NET", name="网络", kind=DepartmentKind.NETWORK)
    stop = threading.Event()
    committed: list[str] = []
    threads = _writers(db, 5, stop, committed)
    try:
        while len(committed) < 20:
            time.sleep(0.01)
        before = list(committed)  # every one of these was committed before the backup began
        result = backups.backup(db, actor=SHELL, directory=tmp_path / "copies")
        while len(committed) < len(before) + 10:  # the writers went on meanwhile
            time.sleep(0.01)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    manifest = backups.read_manifest(result.manifest_path)
    assert manifest.sha256 == backups.sha256_of(result.path)
    assert manifest.tables["branch"] >= len(before)
    assert manifest.audit_head is not None
    assert stat.S_IMODE(os.stat(result.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(result.manifest_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "copies").st_mode) == 0o700
    after_backup = _branch_codes(db)

    backups.restore(db, actor=SHELL, manifest_path=result.manifest_path)

    restored = _branch_codes(db)
    assert set(before) <= restored
    assert len(restored) == manifest.tables["branch"]
    assert restored < after_backup  # what came after the copy is gone
    report = backups.check(db, actor=SHELL)
    assert report.ok, report.as_dict()
    anchor = manifest.audit_head_or_fail()
    assert anchor is not None
    assert audit.verify_chain(db, actor=SHELL, anchors=[anchor]).ok


def test_a_damaged_copy_or_manifest_replaces_nothing(db: Database, tmp_path: Path) -> None:
    org.add_branch(db, actor=SHELL, code="HZ", name="杭州", region="杭州")
    result = backups.backup(db, actor=SHELL, directory=tmp_path)
    org.add_branch(db, actor=SHELL, code="NB", name="宁波", region="宁波")
    data = bytearray(result.path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged = tmp_path / "damaged" / result.path.name
    damaged.parent.mkdir()
    damaged.write_bytes(bytes(data))
    (damaged.parent / result.manifest_path.name).write_text(result.manifest_path.read_text())
    with pytest.raises(backups.BackupError, match="SHA-256"):
        backups.restore(db, actor=SHELL, manifest_path=damaged)
    manifest = json.loads(result.manifest_path.read_text())
    manifest["tables"]["branch"] = 99
    result.manifest_path.write_text(json.dumps(manifest))
    if db.is_sqlite:
        with pytest.raises(backups.BackupError, match="row counts"):
            backups.restore(db, actor=SHELL, manifest_path=result.manifest_path)
    (tmp_path / "lonely.db").write_bytes(b"x")
    with pytest.raises(backups.BackupError, match="no manifest"):
        backups.restore(db, actor=SHELL, manifest_path=tmp_path / "lonely.db")
    assert _branch_codes(db) == {"HZ", "NB"}  # untouched


def test_only_the_newest_copies_are_kept(db: Database, tmp_path: Path, clock: FixedClock) -> None:
    made = []
    for _ in range(4):
        made.append(backups.backup(db, actor=SHELL, directory=tmp_path / "copies", keep=2))
        clock.advance(timedelta(days=1))
    left = sorted(p.name for p in (tmp_path / "copies").iterdir())
    kept = [name for m in made[2:] for name in (m.path.name, m.manifest_path.name)]
    assert left == sorted(kept)


def test_check_finds_a_broken_chain(db: Database) -> None:
    org.add_branch(db, actor=SHELL, code="HZ", name="杭州", region="杭州")
    assert backups.check(db, actor=SHELL).ok
    with db.engine.begin() as connection:
        if db.is_sqlite:
            connection.exec_driver_sql("DROP TRIGGER audit_log_no_delete")
        else:
            connection.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER USER")
        connection.execute(text("DELETE FROM audit_log"))
    report = backups.check(db, actor=SHELL)
    assert not report.ok
    assert "cut" in (report.chain.reason or "")
