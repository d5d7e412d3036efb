"""Hypothesis strategies for work-order histories, shared by the clock and ladder tests."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import strategies as st

from desk.rules.clocks import TimelineEvent
from desk.rules.vocab import EventKind
from tests.rules.conftest import sh

T0 = sh(2026, 9, 28, 9, 0)  # a Monday before National Day, so holidays come into play

FLOW_KINDS = (
    EventKind.DISPATCHED,
    EventKind.REPLIED,
    EventKind.REJECTED,
    EventKind.ACCEPTED,
    EventKind.CLOSED,
    EventKind.REOPENED,
)
PAUSE_KINDS = (EventKind.PAUSED, EventKind.RESUMED)


@st.composite
def histories(draw: st.DrawFn, *, with_pauses: bool = True) -> list[TimelineEvent]:
    """A creation at ``T0`` followed by up to 8 events in any order, gaps up to ~2 days."""
    kinds = FLOW_KINDS + (PAUSE_KINDS if with_pauses else ())
    events = [TimelineEvent(T0, EventKind.CREATED)]
    at = T0
    for _ in range(draw(st.integers(min_value=0, max_value=8))):
        at = at + timedelta(minutes=draw(st.integers(min_value=0, max_value=3000)))
        events.append(TimelineEvent(at, draw(st.sampled_from(kinds))))
    return events


def offsets(limit_minutes: int = 30_000) -> st.SearchStrategy[timedelta]:
    return st.integers(min_value=0, max_value=limit_minutes).map(lambda m: timedelta(minutes=m))


def at(offset: timedelta) -> datetime:
    return T0 + offset
