"""The dashboard's summaries, refreshed set-based from the facts.

- ``contact_hour``/``agent_hour``: the contact counts (the conditions of
  :func:`desk.services.figures.contact_conditions`) and the agents who answered, per UTC hour.
  A refresh brings them up to the start of the current hour and records that instant as
  ``summary_through``; the dashboard reads the summary before it and the contacts themselves
  after it. A contact may still change while it is open (answered, ended, marked, its request
  type chosen), so a refresh counts again (see :func:`refresh_summaries`):

  - the :data:`TRAILING` hours before the previous ``summary_through`` and everything after
    it — however long ago the previous refresh was;
  - every older hour that held a contact still open when it was last counted
    (``contact_hour.open_contacts``). A closed contact does not change again.

  A change of the policy's contact figures (voice channels, short abandons, service-level
  time, satisfied marks) makes the next refresh rebuild all.
- ``churn_snapshot``: the churn counts as of the start of each hour (kept two days; those at
  the center's midnight, where past days, weeks and months end, kept for good); the
  dashboard uses the one at most an hour before its period's as-of, and shows "–" without.

Nothing else writes these tables: contacts and work orders are written by their own services
with no trigger or hook of ours. :func:`refresh_summaries_if_due` runs every
:data:`REFRESH_EVERY` from whichever comes first: the console's timer or ``desk sweep`` (cron),
so the summaries keep up with no console open; the demo builder calls
:func:`refresh_summaries` once at the end with ``full=True``. Figures never depend on a refresh
having run: what the summary does not cover is read from the contacts.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, delete, func, insert, literal, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from desk.clock import SHANGHAI
from desk.infra.database import Database
from desk.models import AgentHour, ChurnSnapshot, Contact, ContactHour, Meta
from desk.rules.policy import Policy
from desk.services.figures import churn_conditions, contact_columns, count_of

THROUGH_KEY = "summary_through"
POLICY_KEY = "summary_policy"
TRAILING = timedelta(hours=24)
CHUNK = timedelta(days=7)
REFRESH_EVERY = timedelta(minutes=5)
KEEP_SNAPSHOTS = timedelta(days=2)

C = Contact.__table__.c  # type: ignore[attr-defined]
CH = ContactHour.__table__  # type: ignore[attr-defined]
AH = AgentHour.__table__  # type: ignore[attr-defined]
CS = ChurnSnapshot.__table__  # type: ignore[attr-defined]
META = Meta.__table__  # type: ignore[attr-defined]


class hour_start(FunctionElement[datetime]):  # noqa: N801 - reads as a SQL function
    """The start of the UTC hour an instant falls in, in the column's own storage form."""

    type = DateTime(timezone=True)
    inherit_cache = True
    name = "hour_start"


@compiles(hour_start, "sqlite")
def _hour_start_sqlite(element: hour_start, compiler: SQLCompiler, **kw: Any) -> str:
    (instant,) = list(element.clauses)
    return f"(substr({compiler.process(instant, **kw)}, 1, 13) || ':00:00.000000')"


@compiles(hour_start, "postgresql")
def _hour_start_pg(element: hour_start, compiler: SQLCompiler, **kw: Any) -> str:
    (instant,) = list(element.clauses)
    value = compiler.process(instant, **kw)
    return f"(date_trunc('hour', {value} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"


def policy_fingerprint(policy: Policy) -> str:
    """What the contact summary depends on in the policy."""
    kpi = policy.kpi
    relevant = {
        "voice": sorted(channel.value for channel in kpi.voice_channels),
        "short": kpi.short_abandon_seconds,
        "level": kpi.service_level_seconds,
        "mark": kpi.satisfied_min_mark,
    }
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:32]


def truncate_hour(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class SummaryState:
    """How far the contact summary reaches, and whether it was made under this policy."""

    through: datetime | None
    policy_matches: bool

    def usable(self) -> datetime | None:
        return self.through if self.policy_matches else None


def _meta(connection: Connection, key: str) -> str | None:
    value = connection.execute(select(META.c.value).where(META.c.key == key)).scalar()
    return None if value is None else str(value)


def _set_meta(connection: Connection, key: str, value: str) -> None:
    connection.execute(delete(META).where(META.c.key == key))
    connection.execute(insert(META).values(key=key, value=value))


def summary_state(connection: Connection, policy: Policy) -> SummaryState:
    found: dict[str, str] = dict(
        connection.execute(
            select(META.c.key, META.c.value).where(META.c.key.in_((THROUGH_KEY, POLICY_KEY)))
        ).all()
    )
    through, fingerprint = found.get(THROUGH_KEY), found.get(POLICY_KEY)
    return SummaryState(
        through=datetime.fromisoformat(through) if through else None,
        policy_matches=fingerprint == policy_fingerprint(policy),
    )


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('desk.summaries'))"))


def _rebuild(connection: Connection, start: datetime | None, end: datetime, policy: Policy) -> int:
    """Replace the hours in ``[start, end)`` (``start`` None: from the beginning)."""
    hour = hour_start(C.offered_at)
    where = [C.offered_at < end]
    if start is not None:
        where.append(C.offered_at >= start)
        connection.execute(delete(CH).where(CH.c.hour >= start, CH.c.hour < end))
        connection.execute(delete(AH).where(AH.c.hour >= start, AH.c.hour < end))
    else:
        connection.execute(delete(CH).where(CH.c.hour < end))
        connection.execute(delete(AH).where(AH.c.hour < end))
    kind = func.coalesce(C.request_type, literal(""))
    columns = [*contact_columns(policy), count_of(C.ended_at.is_(None)).label("open_contacts")]
    names = ["hour", "request_type", *(column.name for column in columns)]
    connection.execute(
        insert(CH).from_select(
            names,
            select(hour, kind, *columns).where(*where).group_by(hour, kind),
        )
    )
    connection.execute(
        insert(AH).from_select(
            ["hour", "agents"],
            select(hour, func.count(func.distinct(C.agent_id)))
            .where(*where, C.agent_id.is_not(None), C.answered_at.is_not(None))
            .group_by(hour),
        )
    )
    # counted, not the insert's rowcount (psycopg reports -1 for a bound INSERT … SELECT)
    made = select(func.count()).select_from(CH).where(CH.c.hour < end)
    if start is not None:
        made = made.where(CH.c.hour >= start)
    return int(connection.execute(made).scalar_one())


@dataclass(frozen=True)
class RefreshReport:
    through: datetime
    rebuilt_from: datetime | None  # None: everything was rebuilt
    hour_rows: int
    churn_snapshot: bool
    seconds: float
    open_hours: int = 0  # older hours counted again for a contact open at their last count

    def as_dict(self) -> dict[str, Any]:
        return {
            "through": self.through.isoformat(),
            "rebuilt_from": None if self.rebuilt_from is None else self.rebuilt_from.isoformat(),
            "hour_rows": self.hour_rows,
            "open_hours": self.open_hours,
            "churn_snapshot": self.churn_snapshot,
            "seconds": round(self.seconds, 3),
        }


def _open_runs(connection: Connection, before: datetime) -> list[tuple[datetime, datetime]]:
    """The hours before ``before`` that held an open contact when last counted, as runs of
    consecutive hours ``[start, end)``."""
    hours = sorted(
        _as_instant(value)
        for value in connection.execute(
            select(CH.c.hour).where(CH.c.hour < before, CH.c.open_contacts > 0).distinct()
        ).scalars()
    )
    runs: list[tuple[datetime, datetime]] = []
    for hour in hours:
        if runs and runs[-1][1] == hour:
            runs[-1] = (runs[-1][0], hour + timedelta(hours=1))
        else:
            runs.append((hour, hour + timedelta(hours=1)))
    return runs


def _as_instant(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def refresh_summaries(
    db: Database, *, policy: Policy, full: bool = False, now: datetime | None = None
) -> RefreshReport:
    """Bring the summaries up to the start of the current hour (see the module docs).

    The first refresh, one after a policy change, and ``full`` rebuild the contact summary
    from the first contact, a week per transaction so no write lock is held for long;
    ``summary_through`` follows each week, so the dashboard reads the contacts for what is not
    rebuilt yet (never a half-empty summary). Otherwise one transaction counts again the
    hours from :data:`TRAILING` before the previous ``summary_through`` (or before now, if
    that is earlier) and the older hours that held an open contact.
    """
    started = time.perf_counter()
    instant = now or db.clock.now()
    through = truncate_hour(instant)

    def read(connection: Connection) -> tuple[SummaryState, Any]:
        return summary_state(connection, policy), connection.execute(
            select(func.min(C.offered_at))
        ).scalar()

    state, first = db.run_core(read, write=False)
    rows = 0
    open_hours = 0
    usable = None if full else state.usable()
    if usable is None:
        rebuilt_from: datetime | None = None
        start = truncate_hour(_as_instant(first)) if first is not None else through

        def clear(connection: Connection) -> None:
            _lock(connection)
            connection.execute(delete(CH))
            connection.execute(delete(AH))
            # the summary covers nothing until the first week is in
            connection.execute(delete(META).where(META.c.key == THROUGH_KEY))
            _set_meta(connection, POLICY_KEY, policy_fingerprint(policy))

        db.run_core(clear, write=True)
        while start < through:
            end = min(start + CHUNK, through)

            def week(connection: Connection, start: datetime = start, end: datetime = end) -> int:
                _lock(connection)
                made = _rebuild(connection, start, end, policy)
                _set_meta(connection, THROUGH_KEY, end.isoformat())
                return made

            rows += db.run_core(week, write=True)
            start = end
    else:
        rebuilt_from = min(usable, through) - TRAILING

        def recount(connection: Connection) -> tuple[int, int]:
            _lock(connection)
            made = hours = 0
            for run_start, run_end in _open_runs(connection, rebuilt_from):
                made += _rebuild(connection, run_start, run_end, policy)
                hours += int((run_end - run_start) / timedelta(hours=1))
            return made + _rebuild(connection, rebuilt_from, through, policy), hours

        rows, open_hours = db.run_core(recount, write=True)

    def stamp(connection: Connection) -> bool:
        _lock(connection)
        _set_meta(connection, THROUGH_KEY, through.isoformat())
        _set_meta(connection, POLICY_KEY, policy_fingerprint(policy))
        return _snapshot_churn(connection, through, instant, policy)

    snapshot = db.run_core(stamp, write=True)
    return RefreshReport(
        through, rebuilt_from, rows, snapshot, time.perf_counter() - started, open_hours
    )


def _snapshot_churn(connection: Connection, as_of: datetime, now: datetime, policy: Policy) -> bool:
    exists = connection.execute(select(CS.c.as_of).where(CS.c.as_of == as_of)).first()
    if exists is not None:
        return False
    conditions = churn_conditions(as_of, policy)
    row = connection.execute(
        select(*(count_of(condition).label(name) for name, condition in conditions.items()))
    ).one()
    connection.execute(
        insert(CS).values(
            as_of=as_of,
            computed_at=now,
            **{name: int(row._mapping[name] or 0) for name in conditions},
        )
    )
    old = connection.execute(select(CS.c.as_of).where(CS.c.as_of < as_of - KEEP_SNAPSHOTS))
    gone = [value for value in old.scalars() if not _local_midnight(_as_instant(value))]
    if gone:
        connection.execute(delete(CS).where(CS.c.as_of.in_(gone)))
    return True


def _local_midnight(instant: datetime) -> bool:
    """A snapshot at the center's midnight is where every past day, week and month ends:
    those are kept, the other hours for :data:`KEEP_SNAPSHOTS`."""
    local = instant.astimezone(SHANGHAI)
    return (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0)


REFRESHED_KEY = "summary_refreshed"


def refresh_summaries_if_due(
    db: Database, *, policy: Policy, every: timedelta = REFRESH_EVERY
) -> RefreshReport | None:
    """The console's timer and ``desk sweep``: refresh when the last refresh (by anyone) is
    ``every`` old, or the summaries were made under another policy; None when not due."""
    now = db.clock.now()
    last, state = db.run_core(
        lambda c: (_meta(c, REFRESHED_KEY), summary_state(c, policy)), write=False
    )
    if last is not None and state.policy_matches and now - datetime.fromisoformat(last) < every:
        return None
    report = refresh_summaries(db, policy=policy, now=now)
    db.run_core(lambda c: _set_meta(c, REFRESHED_KEY, now.isoformat()), write=True)
    return report
