"""Business calendars: working hours per weekday, China's public holidays and make-up workdays.

A *business minute* is a minute inside the working hours of a calendar. Working hours are
given per weekday in local time (Asia/Shanghai). On a public holiday (法定节假日, including
the days off moved by the State Council's yearly schedule) a calendar that observes them has
no hours; on a make-up workday (调休上班: a Saturday or Sunday worked instead) it has its
``makeup_workday_hours``. Holidays and make-up workdays come from the ``holidays`` package
(``holidays.China``: its holidays and its ``weekend_workdays``), never from a list kept here;
a policy can add dates the package does not know yet (``extra_holidays``/``extra_workdays``).

Every instant in and out is an aware datetime; results are in UTC. Arithmetic is exact to
the microsecond. Each calendar precomputes its working intervals for whole years and keeps
running totals, so that adding business time or measuring it between two instants is a
binary search, not a walk over minutes or days: the sweep runs this over every open work
order.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from desk.rules.china_holidays import china
from desk.rules.policy import CalendarSpec, Policy, TimeRange

if TYPE_CHECKING:
    from holidays.holiday_base import HolidayBase

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_US_PER_MINUTE = 60_000_000
_MAX_YEARS = 60  # a calendar with working time searches at most this far for it


def _to_us(instant: datetime) -> int:
    if instant.utcoffset() is None:
        raise ValueError("naive datetime: business-calendar arithmetic needs aware instants")
    return (instant - _EPOCH) // _MICROSECOND


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _china(year: int) -> HolidayBase:
    return china()(years=year)


@lru_cache(maxsize=256)
def _china_year(year: int) -> tuple[frozenset[date], frozenset[date]]:
    """China's days off and make-up workdays (调休上班) falling in ``year``."""
    this_year = _china(year)
    # A make-up day late in December can belong to the next year's schedule.
    next_year = _china(year + 1)
    days_off = frozenset(day for day in this_year if day.year == year)
    makeup = frozenset(
        day
        for day in set(this_year.weekend_workdays) | set(next_year.weekend_workdays)
        if day.year == year and day not in days_off
    )
    return days_off, makeup


def china_public_holidays(year: int) -> frozenset[date]:
    """China's public holidays and the days off moved next to them, in ``year``."""
    return _china_year(year)[0]


def china_makeup_workdays(year: int) -> frozenset[date]:
    """Weekend days worked instead of a moved day off (调休上班), in ``year``."""
    return _china_year(year)[1]


@dataclass(frozen=True)
class _Table:
    """Working intervals (epoch microseconds) covering local years ``first``..``last``."""

    first: int
    last: int
    cover_start: int
    cover_end: int
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    cum_before: tuple[int, ...]
    cum_after: tuple[int, ...]


class BusinessCalendar:
    """One named calendar built from a :class:`~desk.rules.policy.CalendarSpec`.

    Build it once (see :func:`calendars_from_policy`) and reuse it: it caches its yearly
    interval tables. It is safe to share between threads.
    """

    def __init__(self, name: str, spec: CalendarSpec) -> None:
        self.name = name
        self.spec = spec
        self.zone = ZoneInfo(spec.timezone)
        self._weekly = spec.hours.by_weekday()
        self._extra_holidays = frozenset(spec.extra_holidays)
        self._extra_workdays = frozenset(spec.extra_workdays)
        self._table: _Table | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"BusinessCalendar({self.name!r})"

    # --- days ---------------------------------------------------------------------------

    def is_holiday(self, day: date) -> bool:
        """A day off this calendar observes: a public holiday or an extra holiday."""
        if day in self._extra_workdays:
            return False
        if day in self._extra_holidays:
            return True
        return self.spec.china_public_holidays and day in china_public_holidays(day.year)

    def is_makeup_workday(self, day: date) -> bool:
        """A day worked with the make-up hours: 调休上班 or an extra workday."""
        if day in self._extra_workdays:
            return True
        if day in self._extra_holidays:
            return False
        return self.spec.china_public_holidays and day in china_makeup_workdays(day.year)

    def day_hours(self, day: date) -> tuple[TimeRange, ...]:
        """The local working hours of ``day`` (empty on a day off)."""
        if self.is_makeup_workday(day):
            return self.spec.makeup_workday_hours
        if self.is_holiday(day):
            return ()
        return self._weekly[day.weekday()]

    def is_working_day(self, day: date) -> bool:
        return bool(self.day_hours(day))

    def local_midnight(self, day: date) -> datetime:
        """The first instant of the local ``day``, in UTC."""
        return datetime(day.year, day.month, day.day, tzinfo=self.zone).astimezone(UTC)

    def local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.zone).date()

    def day_intervals(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The working intervals of the local ``day`` as half-open UTC ``[start, end)``."""
        return tuple((_from_us(s), _from_us(e)) for s, e in self._day_us(day))

    def _day_us(self, day: date) -> list[tuple[int, int]]:
        midnight = datetime(day.year, day.month, day.day, tzinfo=self.zone)
        intervals: list[tuple[int, int]] = []
        for hours in self.day_hours(day):
            start = _to_us(midnight + timedelta(minutes=hours.start))
            end = _to_us(midnight + timedelta(minutes=hours.end))
            if intervals and intervals[-1][1] == start:
                intervals[-1] = (intervals[-1][0], end)
            else:
                intervals.append((start, end))
        return intervals

    # --- the interval table --------------------------------------------------------------

    def _build(self, first: int, last: int) -> _Table:
        starts: list[int] = []
        ends: list[int] = []
        day = date(first, 1, 1)
        stop = date(last + 1, 1, 1)
        while day < stop:
            for start, end in self._day_us(day):
                starts.append(start)
                ends.append(end)
            day += timedelta(days=1)
        cum_before: list[int] = []
        cum_after: list[int] = []
        total = 0
        for start, end in zip(starts, ends, strict=True):
            cum_before.append(total)
            total += end - start
            cum_after.append(total)
        return _Table(
            first=first,
            last=last,
            cover_start=_to_us(self.local_midnight(date(first, 1, 1))),
            cover_end=_to_us(self.local_midnight(stop)),
            starts=tuple(starts),
            ends=tuple(ends),
            cum_before=tuple(cum_before),
            cum_after=tuple(cum_after),
        )

    def _year_of(self, us: int) -> int:
        return _from_us(us).astimezone(self.zone).year

    def _covering(self, *instants: int) -> _Table:
        """A table whose local years cover every instant given."""
        table = self._table
        if table is not None and all(table.cover_start <= us < table.cover_end for us in instants):
            return table
        years = [self._year_of(us) for us in instants]
        with self._lock:
            table = self._table
            first, last = min(years), max(years)
            if table is not None:
                first, last = min(first, table.first), max(last, table.last)
            if table is None or first < table.first or last > table.last:
                table = self._build(first, last)
                self._table = table
            return table

    def _extended(self, table: _Table) -> _Table:
        """The table with one more year at its end."""
        if table.last - table.first >= _MAX_YEARS:
            raise ValueError(f"calendar {self.name!r} has no working time in {_MAX_YEARS} years")
        with self._lock:
            current = self._table
            if current is not None and current.last > table.last:
                return current
            bigger = self._build(table.first, table.last + 1)
            self._table = bigger
            return bigger

    @staticmethod
    def _cum(table: _Table, us: int) -> int:
        index = bisect_right(table.starts, us) - 1
        if index < 0:
            return 0
        return table.cum_before[index] + min(us, table.ends[index]) - table.starts[index]

    # --- arithmetic in microseconds ------------------------------------------------------

    def business_us_between(self, start: int, end: int) -> int:
        """Business microseconds in ``[start, end)``; negative when ``end`` precedes ``start``."""
        table = self._covering(start, end)
        return self._cum(table, end) - self._cum(table, start)

    def add_business_us(self, start: int, amount: int) -> int:
        """The earliest instant with ``amount`` business microseconds after ``start``."""
        if amount < 0:
            raise ValueError("business time to add must not be negative")
        if amount == 0:
            return start
        table = self._covering(start)
        target = self._cum(table, start) + amount
        while not table.cum_after or table.cum_after[-1] < target:
            table = self._extended(table)
        index = bisect_left(table.cum_after, target)
        return table.starts[index] + target - table.cum_before[index]

    def next_working_us(self, start: int) -> int:
        """``start`` if it is inside working hours, else the start of the next interval."""
        table = self._covering(start)
        while True:
            index = bisect_right(table.ends, start)
            if index < len(table.ends):
                return max(start, table.starts[index])
            table = self._extended(table)

    # --- arithmetic on datetimes ---------------------------------------------------------

    def is_working_instant(self, instant: datetime) -> bool:
        """Whether ``instant`` falls inside working hours (intervals are half-open)."""
        us = _to_us(instant)
        table = self._covering(us)
        index = bisect_right(table.starts, us) - 1
        return index >= 0 and us < table.ends[index]

    def next_working_instant(self, instant: datetime) -> datetime:
        """``instant`` if it is inside working hours, else the start of the next interval."""
        return _from_us(self.next_working_us(_to_us(instant)))

    def next_working_periods(self, start: datetime, n: int) -> list[tuple[datetime, datetime]]:
        """The next ``n`` working intervals at or after ``start`` (UTC, half-open).

        An interval ``start`` falls inside is returned clipped to begin at ``start``.
        Intervals are per local day: a 24-hour calendar has one interval per day.
        """
        if n < 0:
            raise ValueError("n must not be negative")
        us = _to_us(start)
        periods: list[tuple[datetime, datetime]] = []
        table = self._covering(us)
        index = bisect_right(table.ends, us)
        while len(periods) < n:
            if index >= len(table.ends):
                table = self._extended(table)
                continue
            begin = max(us, table.starts[index])
            periods.append((_from_us(begin), _from_us(table.ends[index])))
            index += 1
        return periods


def add_business_time(start: datetime, amount: timedelta, calendar: BusinessCalendar) -> datetime:
    """The earliest instant at which ``amount`` of business time has passed since ``start``.

    Adding zero returns ``start`` itself; otherwise the result lies inside or at the end of a
    working interval (adding up to 12:00 ends at 12:00, not at 13:30).
    """
    return _from_us(calendar.add_business_us(_to_us(start), amount // _MICROSECOND))


def business_time_between(start: datetime, end: datetime, calendar: BusinessCalendar) -> timedelta:
    """Business time in ``[start, end)``; negative when ``end`` is before ``start``."""
    return timedelta(microseconds=calendar.business_us_between(_to_us(start), _to_us(end)))


def add_business_minutes(start: datetime, minutes: int, calendar: BusinessCalendar) -> datetime:
    """``start`` plus ``minutes`` business minutes (see :func:`add_business_time`)."""
    if minutes < 0:
        raise ValueError("business minutes to add must not be negative")
    return _from_us(calendar.add_business_us(_to_us(start), minutes * _US_PER_MINUTE))


def business_minutes_between(start: datetime, end: datetime, calendar: BusinessCalendar) -> int:
    """Whole business minutes in ``[start, end)``, truncated toward zero; negative if reversed.

    ``business_minutes_between(t, add_business_minutes(t, m, c), c) == m`` for every ``m >= 0``.
    """
    us = calendar.business_us_between(_to_us(start), _to_us(end))
    whole = abs(us) // _US_PER_MINUTE
    return whole if us >= 0 else -whole


def next_working_periods(
    start: datetime, n: int, calendar: BusinessCalendar
) -> list[tuple[datetime, datetime]]:
    """The next ``n`` working intervals of ``calendar`` at or after ``start``."""
    return calendar.next_working_periods(start, n)


@lru_cache(maxsize=64)
def _calendar(name: str, spec_json: str) -> BusinessCalendar:
    return BusinessCalendar(name, CalendarSpec.model_validate_json(spec_json))


def calendar_from_spec(name: str, spec: CalendarSpec) -> BusinessCalendar:
    """The calendar for ``spec``, shared with every caller that asks for the same spec."""
    return _calendar(name, spec.model_dump_json())


def calendars_from_policy(policy: Policy) -> Mapping[str, BusinessCalendar]:
    """Every calendar of the policy by name, built once and cached."""
    return {name: calendar_from_spec(name, spec) for name, spec in policy.calendars.items()}
