"""Backups, restores and the database check.

**Backup** (:func:`backup`): a consistent copy taken while terminals keep writing — SQLite's
``VACUUM INTO`` (one read transaction: WAL readers never block writers), PostgreSQL's
``pg_dump`` on a snapshot exported from a repeatable-read transaction, in which the row
counts and the audit head are read too. Beside the copy, a manifest (JSON): when, which
database and schema revision, the SHA-256 and size of the copy, the row count of every
table, and the audit chain's head (an anchor for ``desk audit verify --against``). Copies
and manifests are written under a temporary name and renamed into place, readable by the
owner only (0600, the directory 0700); the newest ``keep`` copies stay, older ones go.

**Restore** (:func:`restore`): the manifest is verified before anything is replaced — the
copy's hash and size, then (SQLite) the copy's integrity check, row counts and audit head;
only then is the database replaced (SQLite: a rename over the file; PostgreSQL:
``pg_restore --clean`` in one transaction).

**Check** (:func:`check`): the integrity check and foreign keys (SQLite), the schema
revision, and the audit chain.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, func, select, text
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.engine import make_url

from desk.clock import as_utc
from desk.infra import migrations
from desk.infra.database import Database
from desk.infra.errors import DeskError, InvalidInput
from desk.models import metadata
from desk.rules.permissions import Actor, Permission
from desk.services import audit
from desk.services.access import require

MANIFEST_SUFFIX = ".manifest.json"
MANIFEST_FORMAT = 1
DEFAULT_KEEP = 7
_CHUNK = 1 << 20


class BackupError(DeskError):
    title = "Backup"


@dataclass(frozen=True, slots=True)
class Manifest:
    created_at: datetime
    database: str  # sqlite | postgresql
    file: str
    sha256: str
    bytes: int
    revision: str | None
    tables: dict[str, int]
    audit_head: dict[str, Any] | None
    format: int = MANIFEST_FORMAT

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "created_at": self.created_at.isoformat(),
            "database": self.database,
            "file": self.file,
            "sha256": self.sha256,
            "bytes": self.bytes,
            "revision": self.revision,
            "tables": self.tables,
            "audit_head": self.audit_head,
        }

    def audit_head_or_fail(self) -> audit.Head | None:
        if self.audit_head is None:
            return None
        return audit.Head(int(self.audit_head["id"]), str(self.audit_head["hash"]))


def read_manifest(path: Path) -> Manifest:
    """A manifest file, checked for shape; a bad one is named."""
    if not path.name.endswith(MANIFEST_SUFFIX):
        path = path.with_name(path.name + MANIFEST_SUFFIX)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"unknown format {data.get('format')!r}")
        return Manifest(
            created_at=datetime.fromisoformat(data["created_at"]),
            database=str(data["database"]),
            file=str(data["file"]),
            sha256=str(data["sha256"]),
            bytes=int(data["bytes"]),
            revision=data.get("revision"),
            tables={str(k): int(v) for k, v in dict(data["tables"]).items()},
            audit_head=data.get("audit_head"),
        )
    except FileNotFoundError as error:
        raise BackupError(
            f"no manifest {path} (a copy is restored and checked only with its manifest)"
        ) from error
    except (ValueError, KeyError, TypeError) as error:
        raise BackupError(f"the manifest {path} is not readable: {error}") from error


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _sqlite_file(db: Database) -> Path:
    database = db.engine.url.database or ""
    if database.startswith("file:"):
        database = database.removeprefix("file:").split("?", 1)[0]
    if database in ("", ":memory:"):
        raise BackupError("an in-memory database cannot be backed up")
    return Path(database)


def _sqlite_count(table: Table) -> str:
    """``SELECT count(*)`` of ``table`` composed by SQLAlchemy for SQLite (the name quoted by
    the dialect), for a bare ``sqlite3`` connection on a read-only copy."""
    return str(select(func.count()).select_from(table).compile(dialect=sqlite_dialect()))


def _counts_sqlite(path: Path) -> tuple[dict[str, int], dict[str, Any] | None, str | None]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = {
            table.name: int(connection.execute(_sqlite_count(table)).fetchone()[0])
            for table in metadata.sorted_tables
        }
        head = connection.execute(
            "SELECT value FROM desk_meta WHERE key = ?", (audit.HEAD_META,)
        ).fetchone()
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    finally:
        connection.close()
    head_data = None
    if head is not None:
        parsed = json.loads(head[0])
        head_data = {"id": parsed["id"], "hash": parsed["hash"]}
    return tables, head_data, revision[0] if revision else None


def _owner_only_dir(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    manifest_path: Path
    manifest: Manifest
    removed: list[Path] = field(default_factory=list)


def _stamp(now: datetime) -> str:
    return as_utc(now).strftime("%Y%m%dT%H%M%S%fZ")


def backup(
    db: Database, *, actor: Actor, directory: Path, keep: int = DEFAULT_KEEP
) -> BackupResult:
    """Take a consistent copy of the database into ``directory`` with its manifest."""
    db.run(lambda session: require(session, actor, Permission.MANAGE_DATA), write=False)
    if keep < 1:
        raise InvalidInput("must be at least 1", field="keep")
    _owner_only_dir(directory)
    now = db.clock.now()
    stem = f"desk-{_stamp(now)}"
    if db.is_sqlite:
        target = directory / f"{stem}.db"
        part = directory / f"{stem}.db.part"
        part.unlink(missing_ok=True)
        source = sqlite3.connect(str(_sqlite_file(db)), timeout=30)
        try:
            source.execute("VACUUM INTO ?", (str(part),))
        finally:
            source.close()
        os.chmod(part, 0o600)
        tables, head, revision = _counts_sqlite(part)
        kind = "sqlite"
    else:
        target = directory / f"{stem}.dump"
        part = directory / f"{stem}.dump.part"
        tables, head, revision = _pg_dump(db, part)
        kind = "postgresql"
    os.replace(part, target)
    manifest = Manifest(
        created_at=as_utc(now),
        database=kind,
        file=target.name,
        sha256=sha256_of(target),
        bytes=target.stat().st_size,
        revision=revision,
        tables=tables,
        audit_head=head,
    )
    manifest_path = target.with_name(target.name + MANIFEST_SUFFIX)
    manifest_part = manifest_path.with_name(manifest_path.name + ".part")
    descriptor = os.open(manifest_part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(manifest.as_dict(), handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    os.replace(manifest_part, manifest_path)
    removed = _prune(directory, keep)
    db.run(
        lambda session: audit.record(
            session,
            action="backup.made",
            actor=actor,
            target_type="backup",
            detail={"file": target.name, "sha256": manifest.sha256, "rows": sum(tables.values())},
        ),
        write=True,
    )
    return BackupResult(target, manifest_path, manifest, removed)


def _prune(directory: Path, keep: int) -> list[Path]:
    """Remove all but the newest ``keep`` copies (and their manifests)."""
    copies = sorted(
        path
        for path in directory.iterdir()
        if path.name.startswith("desk-") and path.suffix in (".db", ".dump")
    )
    removed: list[Path] = []
    for old in copies[:-keep]:
        for path in (old, old.with_name(old.name + MANIFEST_SUFFIX)):
            if path.exists():
                path.unlink()
                removed.append(path)
    return removed


def _pg_env(db: Database) -> tuple[list[str], dict[str, str]]:
    url = make_url(db.engine.url.render_as_string(hide_password=False))
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    args = ["--host", url.host or "localhost", "--port", str(url.port or 5432)]
    if url.username:
        args += ["--username", url.username]
    return args + ["--dbname", url.database or ""], env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed: PostgreSQL backups need the client tools")
    return found


def _pg_dump(db: Database, part: Path) -> tuple[dict[str, int], dict[str, Any] | None, str | None]:
    """Dump on a snapshot of a repeatable-read transaction, which also counts the rows."""
    args, env = _pg_env(db)
    with db.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            tables = {
                table.name: int(
                    connection.execute(select(func.count()).select_from(table)).scalar_one()
                )
                for table in metadata.sorted_tables
            }
            head_value = connection.execute(
                text("SELECT value FROM desk_meta WHERE key = :k"), {"k": audit.HEAD_META}
            ).scalar()
            revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
            done = subprocess.run(
                [
                    _tool("pg_dump"),
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    "--no-owner",
                    f"--file={part}",
                    *args,
                ],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
    if done.returncode != 0:
        part.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed: {done.stderr.strip().splitlines()[-1:]}")
    os.chmod(part, 0o600)
    head = None
    if head_value:
        parsed = json.loads(head_value)
        head = {"id": parsed["id"], "hash": parsed["hash"]}
    return tables, head, revision


# --- restore ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RestoreResult:
    manifest: Manifest
    replaced: str


def verify_copy(copy: Path, manifest: Manifest) -> None:
    """Everything the manifest promises about ``copy``; raises naming the first mismatch."""
    if not copy.exists():
        raise BackupError(f"the copy {copy} named by the manifest is missing")
    size = copy.stat().st_size
    if size != manifest.bytes:
        raise BackupError(f"{copy.name}: {size} bytes, the manifest says {manifest.bytes}")
    if sha256_of(copy) != manifest.sha256:
        raise BackupError(f"{copy.name}: its SHA-256 does not match the manifest (damaged?)")
    if manifest.database != "sqlite":
        return
    connection = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    try:
        result = connection.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{copy.name} is not a SQLite database: {error}") from error
    finally:
        connection.close()
    if result != "ok":
        raise BackupError(f"{copy.name} fails the integrity check: {result}")
    tables, head, _ = _counts_sqlite(copy)
    if tables != manifest.tables:
        differ = sorted(
            k for k in set(tables) | set(manifest.tables) if tables.get(k) != manifest.tables.get(k)
        )
        raise BackupError(f"{copy.name}: row counts differ from the manifest ({', '.join(differ)})")
    if head != manifest.audit_head:
        raise BackupError(f"{copy.name}: the audit head differs from the manifest")


def restore(db: Database, *, actor: Actor, manifest_path: Path) -> RestoreResult:
    """Replace the database with a verified copy. Stop every console first. An existing
    database is replaced by an admin only; a lost one (no schema) by whoever holds the copy."""
    if migrations.current_revision(db) is not None:
        db.run(lambda session: require(session, actor, Permission.MANAGE_DATA), write=False)
    manifest = read_manifest(manifest_path)
    if manifest_path.name.endswith(MANIFEST_SUFFIX):
        copy = manifest_path.with_name(manifest.file)
    else:
        copy = manifest_path
        manifest_path = copy.with_name(copy.name + MANIFEST_SUFFIX)
    kind = "sqlite" if db.is_sqlite else "postgresql"
    if manifest.database != kind:
        raise BackupError(f"a {manifest.database} copy cannot be restored into {kind}")
    verify_copy(copy, manifest)
    if db.is_sqlite:
        target = _sqlite_file(db)
        db.dispose()
        part = target.with_name(target.name + ".restore-part")
        shutil.copyfile(copy, part)
        with part.open("rb") as handle:
            os.fsync(handle.fileno())
        for suffix in ("-wal", "-shm", "-journal"):
            target.with_name(target.name + suffix).unlink(missing_ok=True)
        os.replace(part, target)
        replaced = str(target)
    else:
        args, env = _pg_env(db)
        db.dispose()
        done = subprocess.run(
            [
                _tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                "--exit-on-error",
                *args,
                str(copy),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise BackupError(f"pg_restore failed, nothing changed: {done.stderr.strip()[-300:]}")
        replaced = db.engine.url.render_as_string(hide_password=True)
    db.run(
        lambda session: audit.record(
            session,
            action="backup.restored",
            actor=actor,
            target_type="backup",
            detail={"file": manifest.file, "sha256": manifest.sha256},
        ),
        write=True,
    )
    return RestoreResult(manifest, replaced)


# --- check -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckReport:
    integrity: str
    foreign_keys: list[str]
    revision: str | None
    head_revision: str | None
    chain: audit.ChainReport

    @property
    def ok(self) -> bool:
        return (
            self.integrity == "ok"
            and not self.foreign_keys
            and self.revision == self.head_revision
            and self.chain.ok
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "integrity": self.integrity,
            "foreign_keys": self.foreign_keys,
            "revision": self.revision,
            "head_revision": self.head_revision,
            "audit": self.chain.as_dict(),
        }


def check(db: Database, *, actor: Actor) -> CheckReport:
    """The integrity check, the foreign keys, the schema revision and the audit chain."""
    db.run(lambda session: require(session, actor, Permission.MANAGE_DATA), write=False)
    problems: list[str] = []
    with db.engine.connect() as connection:
        if db.is_sqlite:
            rows = connection.exec_driver_sql("PRAGMA integrity_check").scalars().all()
            integrity = "ok" if list(rows) == ["ok"] else "; ".join(str(r) for r in rows[:5])
            for table, rowid, parent, _ in connection.exec_driver_sql("PRAGMA foreign_key_check"):
                problems.append(f"{table} row {rowid}: no {parent} row")
        else:
            connection.execute(text("SELECT 1"))
            integrity = "ok"  # the server enforces foreign keys; pages are checksummed by it
            unvalidated = (
                connection.execute(
                    text(
                        "SELECT conname FROM pg_constraint WHERE contype = 'f' AND NOT convalidated"
                    )
                )
                .scalars()
                .all()
            )
            problems.extend(f"constraint {name} not validated" for name in unvalidated)
    chain = audit.verify_chain(db, actor=actor)
    return CheckReport(
        integrity=integrity,
        foreign_keys=problems[:50],
        revision=migrations.current_revision(db),
        head_revision=migrations.head_revision(),
        chain=chain,
    )
