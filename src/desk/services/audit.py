"""The audit log: every login, verification, unmask, lock, override and admin action.

**Sealed.** Each entry's ``hash`` is an HMAC-SHA256, keyed with the audit key, of the
previous entry's hash and this entry's canonical content. The key is kept outside the
database: ``DESK_AUDIT_KEY`` (at least 32 characters; every terminal of a PostgreSQL center
sets the same), else the file ``audit.key`` in the data directory, made with mode 0600 by
``desk init`` (or by the first entry written on this machine to a database that has no
sealed entry yet). Someone who can write the database but does not hold the key cannot
recompute the chain after an edit: the edit shows.

**Anchored.** ``desk_meta`` holds the head of the chain (the last entry's id and hash, sealed
with the key) in the same transaction as each entry, and every backup manifest copies it, so
rows cut from the end show too: the table then ends before its head.

**Append-only.** Triggers refuse UPDATE and DELETE of ``audit_log`` (and TRUNCATE on
PostgreSQL); see migration 0008_admin_safety.

**Entries from before the key.** A log written before desk sealed it with a key holds
entries chained with a bare SHA-256. ``desk audit reseal`` (an admin; ``desk init`` does it
on upgrade) checks that old chain whole, then records its end (id and hash) in ``desk_meta``
sealed with the key, and appends an ``audit.reseal`` entry naming it. From then on verify
checks the old entries by their SHA-256 links up to that end, and the recorded end by the
key: an old entry edited afterwards, even with every later hash recomputed, no longer ends
where the reseal said. The old rows themselves are never rewritten.

**One key per database.** The database keeps a fingerprint of the key that seals it
(``desk_meta.audit_key_id``). A terminal with another key, or none, is refused before it
writes an entry it could not seal consistently.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from desk.infra.database import Database, now_of, pending_settings, reads
from desk.infra.errors import DeskError
from desk.models import AuditEntry, Meta
from desk.rules.permissions import Actor, Permission
from desk.services.access import require
from desk.services.sealing import (
    GENESIS,
    HEAD_META,
    KEY_ENV,
    KEY_FILE,
    KEY_ID_META,
    MIN_KEY_LENGTH,
    AuditKeyError,
    append,
    checked_key,
    key_path,
)
from desk.services.sealing import canonical as _canonical
from desk.services.sealing import fingerprint as _fingerprint
from desk.services.sealing import head_mac as _head_mac
from desk.services.sealing import seal as _seal

__all__ = [
    "GENESIS",
    "HEAD_META",
    "KEY_ENV",
    "KEY_FILE",
    "KEY_ID_META",
    "MIN_KEY_LENGTH",
    "AuditKeyError",
    "key_path",
]

LEGACY_META = "audit_legacy"
_SESSION_KEY = "desk.audit_key"
_META_ROWS = "desk.audit_meta_rows"


class AuditChainBroken(DeskError):
    title = "Audit log"


# --- the key (the shared part: desk.services.sealing) ----------------------------------------


def _key_for(session: Session, *, writing: bool) -> bytes:
    """The key that seals this database's log, checked against its fingerprint."""
    cached = session.info.get(_SESSION_KEY)
    if isinstance(cached, bytes):
        return cached
    stored = session.get(Meta, KEY_ID_META)
    key, new = checked_key(None if stored is None else stored.value, writing=writing)
    if new:
        session.add(Meta(key=KEY_ID_META, value=_fingerprint(key)))
        session.flush()
    session.info[_SESSION_KEY] = key
    return key


def ensure_key(db: Database) -> None:
    """Make sure this machine holds the database's audit key (``desk init``): create it for
    a database whose log was never sealed, refuse a key that does not match."""
    db.run(lambda session: _key_for(session, writing=True), write=True)


def check_key(session: Session) -> None:
    """Refuse now, before a long piece of work, when this machine could not seal the entry
    that work ends with (no key, or another key than this database's)."""
    _key_for(session, writing=True)


# --- sealing (canonical text, seal and head: desk.services.sealing) --------------------------


def _unkeyed(prev_hash: str, canonical: str) -> str:
    """The seal of an entry written before the log was keyed (a bare SHA-256 link)."""
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _canonical_of(entry: AuditEntry) -> str:
    return _canonical(
        at=entry.at,
        actor_id=entry.actor_id,
        actor_login=entry.actor_login,
        action=entry.action,
        target_type=entry.target_type,
        target_id=entry.target_id,
        detail=entry.detail,
    )


def _legacy_mac(key: bytes, entry_id: int, entry_hash: str) -> str:
    return hmac.new(key, f"legacy:{entry_id}:{entry_hash}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Head:
    """The last entry of the chain: what a backup manifest records and verify checks."""

    id: int
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "hash": self.hash}


def record(
    session: Session,
    *,
    action: str,
    actor: Actor | None = None,
    actor_login: str | None = None,
    target_type: str | None = None,
    target_id: object = None,
    detail: dict[str, Any] | None = None,
) -> int:
    """Append one entry to the chain inside the caller's transaction, and move the head; the
    entry's id.

    ``actor`` is who acted; an event with no acting user (a failed login of an unknown name)
    names the login typed in ``actor_login``. Writers are serialised (``BEGIN IMMEDIATE`` on
    SQLite, an advisory transaction lock on PostgreSQL), so two terminals never fork the chain.
    Written on the session's connection (:func:`desk.services.sealing.append`): an entry is
    columns, never an ORM object, and the ORM's flush of one cost more than its statements.
    """
    return append(
        session.connection(),
        at=now_of(session),
        action=action,
        actor=actor,
        actor_login=actor_login,
        target_type=target_type,
        target_id=target_id,
        detail=detail,
        settings=pending_settings(session),
    )


# --- verifying -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChainReport:
    entries: int
    broken_at: int | None  # id of the first entry that does not hold (or of the head)
    reason: str | None
    head: Head | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "broken_at": self.broken_at,
            "reason": self.reason,
            "head": self.head.as_dict() if self.head else None,
        }


def _stored_head(session: Session, key: bytes) -> tuple[Head | None, str | None]:
    row = session.get(Meta, HEAD_META)
    if row is None:
        return None, None
    try:
        data = json.loads(row.value)
        head = Head(int(data["id"]), str(data["hash"]))
        mac = str(data["mac"])
    except (ValueError, KeyError, TypeError):
        return None, "the head record is unreadable (edited?)"
    if not hmac.compare_digest(mac, _head_mac(key, head.id, head.hash)):
        return None, "the head record's seal does not match (edited?)"
    return head, None


@reads
def verify_chain(session: Session, *, actor: Actor, anchors: Sequence[Head] = ()) -> ChainReport:
    """Recompute every seal in order and check the end against the head record; each of
    ``anchors`` (heads kept elsewhere, e.g. in backup manifests) must still be in the chain.

    Finds an edited entry (its seal), a deleted, inserted or reordered one (the link to the
    previous hash), rows cut from the end (the head), and a recomputed chain (the key).
    """
    require(session, actor, Permission.VIEW_AUDIT)
    if not _has_entries_or_key(session):
        return ChainReport(0, None, None)
    if session.get(Meta, KEY_ID_META) is None:  # entries, but never a key: all from before
        first = session.exec(select(AuditEntry.id).order_by(col(AuditEntry.id)).limit(1)).first()
        return ChainReport(
            0,
            first,
            "the log was written before it was keyed: an admin runs `desk audit reseal`",
        )
    key = _key_for(session, writing=False)
    head, problem = _stored_head(session, key)
    legacy, legacy_problem = _stored_legacy(session, key)
    problem = problem or legacy_problem
    wanted = {anchor.id: anchor.hash for anchor in anchors}
    prev_hash = GENESIS
    count = 0
    last: Head | None = None
    sealed_seen = False
    for entry in session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).yield_per(2000):
        assert entry.id is not None
        count += 1
        if entry.prev_hash != prev_hash:
            return ChainReport(
                count,
                entry.id,
                "the link to the previous entry is broken (a row deleted, inserted or moved)",
                head,
            )
        canonical = _canonical_of(entry)
        if legacy is not None and entry.id <= legacy.id:
            if entry.hash != _unkeyed(prev_hash, canonical):
                return ChainReport(
                    count, entry.id, "the entry does not match its hash (edited)", head
                )
            if entry.id == legacy.id and entry.hash != legacy.hash:
                return ChainReport(
                    count,
                    entry.id,
                    "the entries from before the key no longer end where the reseal recorded "
                    "(edited)",
                    head,
                )
        elif not hmac.compare_digest(entry.hash, _seal(key, prev_hash, canonical)):
            if not sealed_seen and legacy is None and entry.hash == _unkeyed(prev_hash, canonical):
                return ChainReport(
                    count,
                    entry.id,
                    "the log starts with entries written before it was keyed: an admin runs "
                    "`desk audit reseal`",
                    head,
                )
            return ChainReport(count, entry.id, "the entry does not match its seal (edited)", head)
        else:
            sealed_seen = True
        if entry.id in wanted and wanted.pop(entry.id) != entry.hash:
            return ChainReport(count, entry.id, "the entry differs from a recorded head", head)
        prev_hash = entry.hash
        last = Head(entry.id, entry.hash)
    if legacy is not None and (last is None or last.id < legacy.id):
        return ChainReport(
            count,
            legacy.id,
            f"entry {legacy.id}, the last one from before the key, is gone (rows cut)",
            head,
        )
    if problem:
        return ChainReport(count, None, problem, head)
    if wanted:
        missing = min(wanted)
        return ChainReport(
            count, missing, f"entry {missing}, a recorded head, is gone (rows cut)", head
        )
    if head is None and last is not None:
        return ChainReport(count, None, "the log has entries but no head record", head)
    if head is not None and last != head:
        where = f"entry {last.id}" if last else "no entry"
        return ChainReport(
            count,
            head.id,
            f"the log ends at {where} but its head is entry {head.id} (rows cut from the end)",
            head,
        )
    return ChainReport(count, None, None, head)


def _stored_legacy(session: Session, key: bytes) -> tuple[Head | None, str | None]:
    """The recorded end of the entries written before the key, checked against its seal."""
    row = session.get(Meta, LEGACY_META)
    if row is None:
        return None, None
    try:
        data = json.loads(row.value)
        end = Head(int(data["id"]), str(data["hash"]))
        mac = str(data["mac"])
    except (ValueError, KeyError, TypeError):
        return None, "the reseal record is unreadable (edited?)"
    if not hmac.compare_digest(mac, _legacy_mac(key, end.id, end.hash)):
        return None, "the reseal record's seal does not match (edited?)"
    return end, None


@dataclass(frozen=True, slots=True)
class ResealReport:
    old_entries: int  # entries written before the key, now anchored (0: nothing to do)
    end: Head | None  # the last of them
    already: bool  # resealed before

    def as_dict(self) -> dict[str, Any]:
        return {
            "old_entries": self.old_entries,
            "end": self.end.as_dict() if self.end else None,
            "already": self.already,
        }


def reseal_in(session: Session, *, actor: Actor) -> ResealReport:
    """:func:`reseal` inside the caller's transaction."""
    require(session, actor, Permission.MANAGE_DATA)
    if session.info.get("dialect") == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('desk.audit_log'))"))
    # Both rows the entry needs (the key's fingerprint, the head it moves) in one statement:
    # the session.get() calls below then find them in the identity map, which holds rows
    # only while something refers to them; session.info does until the transaction ends.
    session.info[_META_ROWS] = session.exec(
        select(Meta).where(col(Meta.key).in_((KEY_ID_META, HEAD_META)))
    ).all()
    key = _key_for(session, writing=True)
    existing, problem = _stored_legacy(session, key)
    if problem:
        raise AuditChainBroken(f"{problem}: nothing resealed")
    if existing is not None:
        return ResealReport(0, existing, already=True)
    prev_hash = GENESIS
    end: Head | None = None
    old = 0
    sealed_seen = False
    for entry in session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).yield_per(2000):
        assert entry.id is not None
        canonical = _canonical_of(entry)
        if entry.prev_hash != prev_hash:
            raise AuditChainBroken(
                f"entry {entry.id}: the link to the previous entry is broken; nothing resealed"
            )
        if hmac.compare_digest(entry.hash, _seal(key, prev_hash, canonical)):
            sealed_seen = True
        elif not sealed_seen and entry.hash == _unkeyed(prev_hash, canonical):
            old += 1
            end = Head(entry.id, entry.hash)
        else:
            raise AuditChainBroken(
                f"entry {entry.id} matches neither its seal nor the unkeyed hash of before "
                "(edited?); nothing resealed"
            )
        prev_hash = entry.hash
    if end is None:
        return ResealReport(0, None, already=False)
    value = {"id": end.id, "hash": end.hash, "mac": _legacy_mac(key, end.id, end.hash)}
    session.add(Meta(key=LEGACY_META, value=json.dumps(value)))
    session.flush()
    record(
        session,
        action="audit.reseal",
        actor=actor,
        target_type="audit_log",
        target_id=end.id,
        detail={"old_entries": old, "end": end.as_dict()},
    )
    return ResealReport(old, end, already=False)


def reseal(db: Database, *, actor: Actor) -> ResealReport:
    """Anchor the entries written before the log was keyed (see the module's documentation).
    An admin only; audited. Refused, writing nothing, when the old chain does not hold."""
    return db.run(lambda session: reseal_in(session, actor=actor), write=True)


def _has_entries_or_key(session: Session) -> bool:
    if session.get(Meta, KEY_ID_META) is not None or session.get(Meta, HEAD_META) is not None:
        return True
    return session.exec(select(AuditEntry.id).limit(1)).first() is not None


def head_of(session: Session) -> Head | None:
    """The stored head (unchecked), for a backup manifest."""
    row = session.get(Meta, HEAD_META)
    if row is None:
        return None
    try:
        data = json.loads(row.value)
        return Head(int(data["id"]), str(data["hash"]))
    except (ValueError, KeyError, TypeError):
        return None
