"""Leases on periodic jobs: one holder at a time, across terminals, processes and machines.

A lease is one row of ``job_lease`` (name, holder, acquired_at, expires_at). Taking it is a
single conditional upsert: the row is inserted when there is none, or taken over only where
the current lease has expired; whether the statement wrote a row (its ``RETURNING``) decides,
so two terminals racing for it cannot both win, on SQLite or on PostgreSQL. A holder renews
its lease while it works (each renewal names the holder, so a holder that lost the lease finds
out) and releases it when done; a holder that died loses it when it expires. Times come from
the database's clock, never from the instant a job works *for* (``desk sweep --now``).
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.engine import Connection

from desk.clock import as_utc
from desk.infra.database import Database
from desk.models import metadata

HOLDER_LENGTH = 64

_TABLE: Table = metadata.tables["job_lease"]


@dataclass(frozen=True, slots=True)
class Lease:
    name: str
    holder: str
    acquired_at: datetime
    expires_at: datetime


def make_holder(kind: str) -> str:
    """A holder name unique to this process and call: ``kind:host:pid:token``."""
    name = f"{kind}:{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    return name[-HOLDER_LENGTH:] if len(name) > HOLDER_LENGTH else name


def _upsert(connection: Connection) -> Any:
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(_TABLE)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(_TABLE)


def try_acquire(
    connection: Connection, *, name: str, holder: str, now: datetime, ttl: timedelta
) -> bool:
    """Take the lease ``name`` for ``holder`` until ``now + ttl`` unless someone else holds
    it unexpired (the holder itself included: a lease is not re-entrant). One statement."""
    now = as_utc(now)
    insert = _upsert(connection).values(
        name=name, holder=holder, acquired_at=now, expires_at=now + ttl
    )
    statement = insert.on_conflict_do_update(
        index_elements=[_TABLE.c.name],
        set_={
            "holder": insert.excluded.holder,
            "acquired_at": insert.excluded.acquired_at,
            "expires_at": insert.excluded.expires_at,
        },
        where=_TABLE.c.expires_at <= now,
    )
    # RETURNING, not the row count: the PostgreSQL driver reports no count for this insert.
    taken = connection.execute(statement.returning(_TABLE.c.holder)).first()
    return taken is not None


def renew(connection: Connection, *, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
    """Extend ``holder``'s lease to ``now + ttl``; False when someone else took it over."""
    statement = (
        update(_TABLE)
        .where(_TABLE.c.name == name, _TABLE.c.holder == holder)
        .values(expires_at=as_utc(now) + ttl)
    )
    return bool(connection.execute(statement).rowcount == 1)


def give_up(connection: Connection, *, name: str, holder: str, now: datetime) -> None:
    """End ``holder``'s lease now (the row stays, so the last holder remains visible)."""
    connection.execute(
        update(_TABLE)
        .where(_TABLE.c.name == name, _TABLE.c.holder == holder)
        .values(expires_at=as_utc(now))
    )


def read(connection: Connection, *, name: str) -> Lease | None:
    row = connection.execute(
        select(_TABLE.c.holder, _TABLE.c.acquired_at, _TABLE.c.expires_at).where(
            _TABLE.c.name == name
        )
    ).first()
    if row is None:
        return None
    return Lease(name=name, holder=row[0], acquired_at=row[1], expires_at=row[2])


# --- one transaction each ----------------------------------------------------------------


def acquire(db: Database, *, name: str, holder: str, ttl: timedelta) -> bool:
    """Take the lease in a transaction of its own (committed before the job starts)."""
    return db.run_core(
        lambda c: try_acquire(c, name=name, holder=holder, now=db.clock.now(), ttl=ttl),
        write=True,
    )


def release(db: Database, *, name: str, holder: str) -> None:
    db.run_core(lambda c: give_up(c, name=name, holder=holder, now=db.clock.now()), write=True)


def lease_of(db: Database, *, name: str) -> Lease | None:
    """The lease row as it stands (it may have expired: compare ``expires_at``)."""
    return db.run_core(lambda c: read(c, name=name), write=False)
