"""The hourly summaries stay right whoever refreshes them and however long between refreshes:
a contact still open when its hour was counted is counted again once it changes, a contact
that arrives late before ``summary_through`` is counted after a long pause, and a rebuild
stopped half-way leaves figures that equal the contacts. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, update

from desk.clock import SHANGHAI
from desk.infra.database import Database
from desk.models import Contact
from desk.rules.periods import Period, PeriodKind, period_of
from desk.rules.policy import Policy, load_policy
from desk.services import figures, summaries

NOW = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
CT = Contact.__table__  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(None)


def _contact(ident: int, offered: datetime, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": ident,
        "channel": "phone",
        "direction": "inbound",
        "request_type": "inquiry",
        "offered_at": offered,
        "answered_at": offered + timedelta(seconds=10),
        "ended_at": offered + timedelta(minutes=5),
        "satisfaction": None,
        "agent_id": None,
    }
    row.update(values)
    return row


def _add(db: Database, *rows: dict[str, Any]) -> None:
    with db.connection(write=True) as connection:
        connection.execute(insert(CT), list(rows))


def _month(at: datetime) -> Period:
    """The 30 days up to and including the day of ``at`` (a running range)."""
    last = at.astimezone(SHANGHAI).date()
    return period_of(PeriodKind.RANGE, at, SHANGHAI, first=last - timedelta(days=29), last=last)


def _both(db: Database, period: Period, policy: Policy) -> tuple[Any, Any]:
    """The period's tally as the dashboard reads it (summary + contacts), and from the
    contacts alone (the summary set aside)."""
    with db.session(write=False) as session:
        read = figures.contact_hours(session, period=period, policy=policy)
        live = figures.contact_hours(session, period=period, policy=policy, summary=False)

    def tally(hours: list[figures.HourTally]) -> figures.ContactTally:
        return sum((h.tally for h in hours), figures.ContactTally())

    return tally(read), tally(live)


def test_a_contact_open_when_counted_is_counted_again_once_it_changes(
    db: Database, policy: Policy
) -> None:
    offered = NOW - timedelta(days=3, hours=5, minutes=20)
    _add(
        db,
        _contact(1, offered - timedelta(hours=2), satisfaction=5),
        _contact(2, offered, ended_at=None),  # the agent still has it open
    )
    summaries.refresh_summaries(db, policy=policy, now=NOW)
    summaries.refresh_summaries(db, policy=policy, now=NOW + timedelta(hours=1))
    with db.connection(write=True) as connection:  # closed days later, marked 5
        connection.execute(
            update(CT)
            .where(CT.c.id == 2)
            .values(ended_at=NOW + timedelta(hours=1, minutes=10), satisfaction=5)
        )
    later = NOW + timedelta(hours=2, minutes=5)
    report = summaries.refresh_summaries(db, policy=policy, now=later)
    assert report.rebuilt_from == NOW + timedelta(hours=1) - summaries.TRAILING
    assert report.open_hours == 1
    read, live = _both(db, _month(later), policy)
    assert read == live
    assert (read.marked, read.satisfied, read.handled) == (2, 2, 2)
    # closed now: its hour is not counted again
    assert summaries.refresh_summaries(db, policy=policy, now=later).open_hours == 0


def test_a_long_pause_counts_again_the_hours_before_the_last_refresh(
    db: Database, policy: Policy
) -> None:
    _add(db, _contact(1, NOW - timedelta(days=2)))
    summaries.refresh_summaries(db, policy=policy, now=NOW)
    # committed after that refresh, offered before its summary_through (a late writer)
    _add(db, _contact(2, NOW - timedelta(hours=2), satisfaction=4))
    later = NOW + timedelta(days=3)
    report = summaries.refresh_summaries(db, policy=policy, now=later)
    assert report.rebuilt_from == NOW - summaries.TRAILING
    read, live = _both(db, _month(later), policy)
    assert read == live
    assert read.contacts == 2


def test_a_rebuild_stopped_half_way_never_shows_a_half_empty_summary(
    db: Database, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = NOW - timedelta(days=20)
    _add(db, *(_contact(day + 1, start + timedelta(days=day, hours=3)) for day in range(20)))
    summaries.refresh_summaries(db, policy=policy, now=NOW)
    rebuild = summaries._rebuild
    calls = []

    def failing(*args: Any, **kwargs: Any) -> int:
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("killed")
        return rebuild(*args, **kwargs)

    monkeypatch.setattr(summaries, "_rebuild", failing)
    with pytest.raises(RuntimeError):
        summaries.refresh_summaries(db, policy=policy, full=True, now=NOW)
    with db.session(write=False) as session:
        through = summaries.summary_state(session.connection(), policy).usable()
    first_hour = summaries.truncate_hour(start + timedelta(hours=3))
    assert through == first_hour + summaries.CHUNK  # the first week only
    for period in (_month(NOW), _month(NOW - timedelta(days=12))):
        read, live = _both(db, period, policy)
        assert read == live
    monkeypatch.setattr(summaries, "_rebuild", rebuild)
    assert summaries.refresh_summaries(db, policy=policy, now=NOW).through == NOW
    read, live = _both(db, _month(NOW), policy)
    assert read == live


def test_the_refresh_is_due_every_five_minutes_whoever_ran_the_last(
    db: Database, policy: Policy
) -> None:
    _add(db, _contact(1, NOW - timedelta(hours=3)))
    assert summaries.refresh_summaries_if_due(db, policy=policy) is not None
    assert summaries.refresh_summaries_if_due(db, policy=policy) is None
    db.clock.advance(summaries.REFRESH_EVERY)  # type: ignore[attr-defined]
    assert summaries.refresh_summaries_if_due(db, policy=policy) is not None
