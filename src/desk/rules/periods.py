"""The periods the dashboard and the reports measure: today, this shift, 7 days, this month,
or a chosen range of days, as half-open instants ``[start, end)`` in the center's time zone.

A period that has not ended yet is measured up to ``now`` (:attr:`Period.as_of`); figures that
judge deadlines ("replied by", "closed by") judge them at that instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class PeriodKind(StrEnum):
    TODAY = "today"
    SHIFT = "shift"
    WEEK = "7d"  # the last 7 days, today included
    MONTH = "month"  # this calendar month
    DAY = "day"  # one chosen day (daily report)
    RANGE = "range"  # chosen days, both included


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    start: datetime  # aware, included
    end: datetime  # aware, excluded
    now: datetime  # the instant it was asked at

    def __post_init__(self) -> None:
        if self.start.utcoffset() is None or self.end.utcoffset() is None:
            raise ValueError("period bounds must be aware")
        if self.end <= self.start:
            raise ValueError("a period must end after it starts")

    @property
    def as_of(self) -> datetime:
        """Where the measuring stops: the end, or now for a period still running."""
        return min(self.end, self.now)

    @property
    def running(self) -> bool:
        return self.start <= self.now < self.end

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def day_period(day: date, now: datetime, zone: ZoneInfo) -> Period:
    return Period(
        PeriodKind.DAY, _midnight(day, zone), _midnight(day + timedelta(days=1), zone), now
    )


def range_period(first: date, last: date, now: datetime, zone: ZoneInfo) -> Period:
    """The days ``first`` to ``last``, both included."""
    if last < first:
        raise ValueError(f"the range ends ({last}) before it starts ({first})")
    return Period(
        PeriodKind.RANGE, _midnight(first, zone), _midnight(last + timedelta(days=1), zone), now
    )


def month_period(year: int, month: int, now: datetime, zone: ZoneInfo) -> Period:
    start = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return Period(PeriodKind.MONTH, _midnight(start, zone), _midnight(following, zone), now)


def period_of(
    kind: PeriodKind,
    now: datetime,
    zone: ZoneInfo,
    *,
    shift: tuple[datetime, datetime] | None = None,
    first: date | None = None,
    last: date | None = None,
) -> Period:
    """The period of ``kind`` around ``now``. ``shift`` is the shift on now (start, end);
    without one "this shift" falls back to today. ``first``/``last`` bound a range or a day.
    """
    today = now.astimezone(zone).date()
    if kind is PeriodKind.TODAY:
        return Period(kind, _midnight(today, zone), _midnight(today + timedelta(days=1), zone), now)
    if kind is PeriodKind.SHIFT:
        if shift is None:
            return period_of(PeriodKind.TODAY, now, zone)
        return Period(kind, shift[0], shift[1], now)
    if kind is PeriodKind.WEEK:
        return Period(
            kind,
            _midnight(today - timedelta(days=6), zone),
            _midnight(today + timedelta(days=1), zone),
            now,
        )
    if kind is PeriodKind.MONTH:
        return month_period(today.year, today.month, now, zone)
    if kind is PeriodKind.DAY:
        return day_period(first or today, now, zone)
    if first is None or last is None:
        raise ValueError("a range needs its first and last day")
    return range_period(first, last, now, zone)
