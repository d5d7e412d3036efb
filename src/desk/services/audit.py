"""The hash-chained audit log: every login, verification, unmask, lock and override."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from desk.infra.database import now_of, reads
from desk.models import AuditEntry
from desk.rules.permissions import Actor, Permission
from desk.services.access import require

GENESIS = "0" * 64


def _canonical(
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


def _digest(prev_hash: str, canonical: str) -> str:
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def record(
    session: Session,
    *,
    action: str,
    actor: Actor | None = None,
    actor_login: str | None = None,
    target_type: str | None = None,
    target_id: object = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the chain inside the caller's transaction.

    Writers are serialised (``BEGIN IMMEDIATE`` on SQLite, an advisory transaction lock on
    PostgreSQL), so two terminals never fork the chain.
    """
    if session.info.get("dialect") == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('desk.audit_log'))"))
    last = session.exec(
        select(AuditEntry.hash).order_by(col(AuditEntry.id).desc()).limit(1)
    ).first()
    prev_hash = last or GENESIS
    at = now_of(session)
    fields: dict[str, Any] = {
        "at": at,
        "actor_id": actor.user_id if actor and actor.user_id > 0 else None,
        "actor_login": actor.login if actor else actor_login,
        "action": action,
        "target_type": target_type,
        "target_id": None if target_id is None else str(target_id),
        "detail": detail or {},
    }
    entry = AuditEntry(**fields, prev_hash=prev_hash, hash=_digest(prev_hash, _canonical(**fields)))
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True, slots=True)
class ChainReport:
    entries: int
    broken_at: int | None  # id of the first entry whose hash does not match
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


@reads
def verify_chain(session: Session, *, actor: Actor | None = None) -> ChainReport:
    """Recompute every hash in order; report the first entry that does not match."""
    if actor is not None:
        require(session, actor, Permission.VIEW_AUDIT)
    prev_hash = GENESIS
    count = 0
    for entry in session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).yield_per(2000):
        count += 1
        if entry.prev_hash != prev_hash:
            return ChainReport(count, entry.id, "previous hash does not match (row removed?)")
        expected = _digest(
            prev_hash,
            _canonical(
                at=entry.at,
                actor_id=entry.actor_id,
                actor_login=entry.actor_login,
                action=entry.action,
                target_type=entry.target_type,
                target_id=entry.target_id,
                detail=entry.detail,
            ),
        )
        if entry.hash != expected:
            return ChainReport(count, entry.id, "content does not match its hash (row changed?)")
        prev_hash = entry.hash
    return ChainReport(count, None, None)
