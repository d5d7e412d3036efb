"""The audit log's seal, and an entry appended on a Core connection.

What :mod:`desk.services.audit` and a light command share: the audit key (``DESK_AUDIT_KEY``
or the data directory's ``audit.key``) checked against the database's fingerprint, the
canonical text of an entry, its HMAC seal and the sealed head record. :func:`append` writes
one entry and moves the head exactly as :func:`desk.services.audit.record` does, on a Core
connection: ``desk ring`` runs on SQLAlchemy Core alone and starts without SQLModel, the ORM
or the models (a test writes a chain through both and verifies it whole).

Stdlib and SQLAlchemy Core only: importing this module loads no model.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    DateTime,
    Integer,
    String,
    column,
    func,
    insert,
    select,
    table,
    update,
)

from desk.infra.errors import DeskError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.engine import Connection

    from desk.rules.permissions import Actor

GENESIS = "0" * 64
KEY_ENV = "DESK_AUDIT_KEY"
KEY_FILE = "audit.key"
MIN_KEY_LENGTH = 32
KEY_ID_META = "audit_key_id"
HEAD_META = "audit_head"

# The two tables as Core sees them: the same names and types as desk.models' AuditEntry and
# Meta, so a value is stored exactly as the ORM stores it (times in UTC, detail as JSON).
AUDIT_LOG = table(
    "audit_log",
    column("id", Integer),
    column("at", DateTime(timezone=True)),
    column("actor_id", Integer),
    column("actor_login", String),
    column("action", String),
    column("target_type", String),
    column("target_id", String),
    column("detail", JSON),
    column("prev_hash", String),
    column("hash", String),
)
META = table("desk_meta", column("key", String), column("value", String))


class AuditKeyError(DeskError):
    title = "Audit key"


# --- the key ---------------------------------------------------------------------------------


_DATA_DIR_ENV = frozenset({"DESK_DATA_DIR", "XDG_DATA_HOME", "HOME"})
_key_paths: dict[tuple[tuple[str, str], ...], Path] = {}


def key_path() -> Path:
    """Where this machine keeps the audit key when ``DESK_AUDIT_KEY`` is not set.

    Remembered per value of the variables that place the data directory: reading the
    settings costs more than the card view that writes the entry.
    """
    from desk.settings import load_settings

    placed_by = tuple(
        sorted((name, value) for name, value in os.environ.items() if name.upper() in _DATA_DIR_ENV)
    )
    path = _key_paths.get(placed_by)
    if path is None:
        path = _key_paths[placed_by] = load_settings().data_dir / KEY_FILE
    return path


def read_key(*, create: bool) -> bytes | None:
    value = os.environ.get(KEY_ENV)
    if value is not None:
        if len(value.strip()) < MIN_KEY_LENGTH:
            raise AuditKeyError(f"{KEY_ENV} must be at least {MIN_KEY_LENGTH} characters")
        return value.strip().encode()
    path = key_path()
    try:
        return path.read_text(encoding="ascii").strip().encode()
    except FileNotFoundError:
        if not create:
            return None
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text(encoding="ascii").strip().encode()
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    return path.read_text(encoding="ascii").strip().encode()


def fingerprint(key: bytes) -> str:
    return hmac.new(key, b"desk audit key id", hashlib.sha256).hexdigest()[:32]


def where_the_key_is() -> str:
    return KEY_ENV if os.environ.get(KEY_ENV) is not None else str(key_path())


def checked_key(stored: str | None, *, writing: bool) -> tuple[bytes, bool]:
    """This machine's key, checked against the database's stored fingerprint ``stored``
    (None: the log was never sealed), and whether the fingerprint is to be stored now."""
    key = read_key(create=writing and stored is None)
    if key is None:
        raise AuditKeyError(
            f"no audit key on this machine ({where_the_key_is()}): copy the key file from the "
            f"machine that ran `desk init`, or set {KEY_ENV}"
        )
    if stored is None:
        if not writing:
            raise AuditKeyError("this database's audit log has never been sealed")
        return key, True
    if stored != fingerprint(key):
        raise AuditKeyError(
            f"the audit key of this machine ({where_the_key_is()}) is not the key this "
            "database's log is sealed with: use the key file of the machine that ran "
            f"`desk init`, or its {KEY_ENV}"
        )
    return key, False


# --- sealing ---------------------------------------------------------------------------------


def canonical(
    *,
    at: datetime,
    actor_id: int | None,
    actor_login: str | None,
    action: str,
    target_type: str | None,
    target_id: str | None,
    detail: dict[str, Any],
) -> str:
    return json.dumps(
        {
            "at": at.isoformat(),
            "actor_id": actor_id,
            "actor_login": actor_login,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "detail": detail,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )


def seal(key: bytes, prev_hash: str, canonical_text: str) -> str:
    return hmac.new(key, (prev_hash + canonical_text).encode(), hashlib.sha256).hexdigest()


def head_mac(key: bytes, entry_id: int, entry_hash: str) -> str:
    return hmac.new(key, f"head:{entry_id}:{entry_hash}".encode(), hashlib.sha256).hexdigest()


def head_value(key: bytes, entry_id: int, entry_hash: str) -> str:
    """The head record's value: the last entry's id and hash, sealed with the key."""
    mac = head_mac(key, entry_id, entry_hash)
    return json.dumps({"id": entry_id, "hash": entry_hash, "mac": mac})


def entry_fields(
    *,
    at: datetime,
    action: str,
    actor: Actor | None,
    actor_login: str | None,
    target_type: str | None,
    target_id: object,
    detail: dict[str, Any] | None,
) -> dict[str, Any]:
    """An entry's sealed fields, as stored."""
    return {
        "at": at,
        "actor_id": actor.user_id if actor else None,
        "actor_login": actor.login if actor else actor_login,
        "action": action,
        "target_type": target_type,
        "target_id": None if target_id is None else str(target_id)[:32],
        "detail": detail or {},
    }


# --- an entry on a Core connection -----------------------------------------------------------


def append(
    connection: Connection,
    *,
    at: datetime,
    action: str,
    actor: Actor | None = None,
    actor_login: str | None = None,
    target_type: str | None = None,
    target_id: object = None,
    detail: dict[str, Any] | None = None,
    settings: Sequence[ColumnElement[Any]] = (),
) -> int:
    """Append one entry inside the caller's transaction on ``connection`` (a writing one:
    ``BEGIN IMMEDIATE`` on SQLite; an advisory transaction lock on PostgreSQL serialises the
    writers), and move the head; its id. ``settings``: the transaction's own settings
    (:func:`desk.infra.database.pending_settings`, PostgreSQL), carried by the lock's
    statement.

    The key's fingerprint and the chain's last hash are one statement, read once the lock is
    held (on PostgreSQL each statement sees what was committed when it began); on PostgreSQL
    it also draws the entry's id from the table's sequence, so the entry and the head it
    becomes are written by one statement more; SQLite writes the entry, then the head. The
    first entry of a log also stores the key's fingerprint and the head."""
    postgresql = connection.dialect.name == "postgresql"
    entry_id: int | None = None
    if postgresql:
        connection.execute(select(_LOCK, *settings))
        stored, last, entry_id = connection.execute(_KEY_TAIL_AND_ID).one()
    else:
        stored, last = connection.execute(_KEY_AND_TAIL).one()
    key, new_key = checked_key(stored, writing=True)
    if new_key:
        connection.execute(insert(META).values(key=KEY_ID_META, value=fingerprint(key)))
    prev_hash = last or GENESIS
    fields = entry_fields(
        at=at.astimezone(UTC),
        action=action,
        actor=actor,
        actor_login=actor_login,
        target_type=target_type,
        target_id=target_id,
        detail=detail,
    )
    entry_hash = seal(key, prev_hash, canonical(**fields))
    entry = insert(AUDIT_LOG).values(**fields, prev_hash=prev_hash, hash=entry_hash)
    move_head = update(META).where(META.c.key == HEAD_META)
    if entry_id is None:
        entry_id = int(connection.execute(entry.returning(AUDIT_LOG.c.id)).scalar_one())
    else:
        # one statement: WITH entry AS (INSERT ...) UPDATE desk_meta ... (a data-modifying
        # WITH runs whether or not the statement reads it)
        move_head = move_head.add_cte(entry.values(id=entry_id).cte("entry"))
    value = head_value(key, entry_id, entry_hash)
    if not connection.execute(move_head.values(value=value)).rowcount:  # the first entry
        connection.execute(insert(META).values(key=HEAD_META, value=value))
    return entry_id


_LOCK = func.pg_advisory_xact_lock(func.hashtext("desk.audit_log"))
_KEY_AND_TAIL = select(
    select(META.c.value).where(META.c.key == KEY_ID_META).scalar_subquery().label("key_id"),
    select(AUDIT_LOG.c.hash)
    .order_by(AUDIT_LOG.c.id.desc())
    .limit(1)
    .scalar_subquery()
    .label("last_hash"),
)
_KEY_TAIL_AND_ID = _KEY_AND_TAIL.add_columns(
    func.nextval(func.pg_get_serial_sequence("audit_log", "id")).label("entry_id")
)
