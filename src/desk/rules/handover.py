"""Shifts and their handover (交接班): which shift covers an instant, and what the handover
summary holds.

The shift pattern comes from the policy (``[shifts]``): every local day (Asia/Shanghai) is
cut at each shift's start; a shift ends where the next one starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from desk.rules.policy import Policy

LOCAL_ZONE = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True, slots=True)
class ShiftSpan:
    name: str
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC


def shift_at(instant: datetime, policy: Policy) -> ShiftSpan:
    """The shift of the pattern covering ``instant`` (start inclusive, end exclusive)."""
    local = instant.astimezone(LOCAL_ZONE)
    pattern = policy.shifts.pattern
    spans: list[tuple[str, datetime]] = []
    for offset in (-1, 0, 1):
        day = local.date() + timedelta(days=offset)
        midnight = datetime.combine(day, time(0), LOCAL_ZONE)
        spans.extend((spec.name, midnight + timedelta(minutes=spec.starts)) for spec in pattern)
    for (name, start), (_next, end) in zip(spans, spans[1:], strict=False):
        if start <= local < end:
            return ShiftSpan(name, start.astimezone(UTC), end.astimezone(UTC))
    raise AssertionError("a pattern of three days covers its middle day")  # pragma: no cover


def next_shift(span: ShiftSpan, policy: Policy) -> ShiftSpan:
    """The shift after ``span`` in the pattern."""
    return shift_at(span.ends_at, policy)
