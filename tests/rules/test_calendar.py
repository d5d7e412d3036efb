"""Business calendars: hours, China's holidays and make-up workdays, exact arithmetic."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desk.rules.calendar import (
    BusinessCalendar,
    add_business_minutes,
    add_business_time,
    business_minutes_between,
    business_time_between,
    calendar_from_spec,
    china_makeup_workdays,
    china_public_holidays,
    next_working_periods,
)
from desk.rules.policy import Policy
from tests.rules.conftest import sh

OFFICE_DAY = ((8 * 60 + 30, 12 * 60), (13 * 60 + 30, 17 * 60 + 30))

instants = st.datetimes(
    min_value=datetime(2025, 12, 1),  # noqa: DTZ001 - hypothesis bounds are naive
    max_value=datetime(2027, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)


def _hours(calendar: BusinessCalendar, day: date) -> tuple[tuple[int, int], ...]:
    return tuple((hours.start, hours.end) for hours in calendar.day_hours(day))


# --- holidays and make-up workdays ----------------------------------------------------------


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 1, 1),  # New Year's Day
        date(2026, 2, 17),  # Spring Festival
        date(2026, 2, 20),  # day off moved from 2026-02-14
        date(2026, 4, 6),  # Qingming, observed
        date(2026, 5, 5),  # day off moved from 2026-05-09
        date(2026, 10, 1),  # National Day
        date(2026, 10, 7),  # day off moved from 2026-10-10
        date(2027, 1, 1),
        date(2027, 2, 8),  # Spring Festival 2027
        date(2027, 10, 1),
        date(2027, 10, 4),  # National Day 2027, observed
    ],
)
def test_public_holidays_have_no_office_hours(
    office: BusinessCalendar, center: BusinessCalendar, day: date
) -> None:
    assert day in china_public_holidays(day.year)
    assert office.is_holiday(day)
    assert _hours(office, day) == ()
    assert not office.is_working_day(day)
    # The center works round the clock, holidays included.
    assert _hours(center, day) == ((0, 24 * 60),)


@pytest.mark.parametrize(
    "day",
    [date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9), date(2026, 9, 20)],
)
def test_make_up_workdays_of_2026_are_worked(office: BusinessCalendar, day: date) -> None:
    assert day.weekday() >= 5  # a weekend day ...
    assert day in china_makeup_workdays(2026)  # ... the package says is worked (调休上班)
    assert office.is_makeup_workday(day)
    assert _hours(office, day) == OFFICE_DAY


def test_make_up_saturday_2026_10_10(office: BusinessCalendar) -> None:
    saturday = date(2026, 10, 10)
    assert saturday.strftime("%A") == "Saturday"
    assert saturday in china_makeup_workdays(2026)
    assert _hours(office, saturday) == OFFICE_DAY
    assert _hours(office, date(2026, 10, 17)) == ()  # an ordinary Saturday
    # Friday 17:00 + 60 business minutes runs into the make-up Saturday, not Monday.
    assert add_business_minutes(sh(2026, 10, 9, 17), 60, office) == sh(2026, 10, 10, 9)


def test_ordinary_days(office: BusinessCalendar) -> None:
    assert _hours(office, date(2026, 11, 2)) == OFFICE_DAY  # a Monday
    assert _hours(office, date(2026, 11, 7)) == ()  # a Saturday
    assert _hours(office, date(2027, 3, 10)) == OFFICE_DAY  # a Wednesday in 2027


def test_extra_dates_from_the_policy(policy: Policy) -> None:
    spec = policy.calendars["office"].model_copy(
        update={"extra_holidays": (date(2027, 2, 11),), "extra_workdays": (date(2027, 2, 20),)}
    )
    calendar = calendar_from_spec("office-2027", spec)
    assert calendar.is_holiday(date(2027, 2, 11))
    assert _hours(calendar, date(2027, 2, 11)) == ()
    assert calendar.is_makeup_workday(date(2027, 2, 20))
    assert _hours(calendar, date(2027, 2, 20)) == OFFICE_DAY


# --- arithmetic -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "minutes", "expected"),
    [
        (sh(2026, 11, 2, 9), 60, sh(2026, 11, 2, 10)),
        (sh(2026, 11, 2, 11, 30), 30, sh(2026, 11, 2, 12)),  # ends at noon, not 13:30
        (sh(2026, 11, 2, 11, 30), 31, sh(2026, 11, 2, 13, 31)),
        (sh(2026, 11, 2, 7), 1, sh(2026, 11, 2, 8, 31)),  # before hours
        (sh(2026, 11, 6, 17), 60, sh(2026, 11, 9, 9)),  # Friday to Monday
        (sh(2026, 9, 30, 16), 120, sh(2026, 10, 8, 9)),  # across National Day
        (sh(2026, 11, 2, 10), 1350, sh(2026, 11, 5, 10)),  # three office days
        (sh(2026, 12, 31, 17), 60, sh(2027, 1, 4, 9)),  # across the year end and New Year
        (sh(2026, 11, 2, 9), 0, sh(2026, 11, 2, 9)),
        (sh(2026, 11, 7, 9), 0, sh(2026, 11, 7, 9)),  # adding nothing stays put
    ],
)
def test_add_business_minutes_office(
    office: BusinessCalendar, start: datetime, minutes: int, expected: datetime
) -> None:
    result = add_business_minutes(start, minutes, office)
    assert result == expected
    assert result.tzinfo is UTC
    assert business_minutes_between(start, result, office) == minutes


def test_center_counts_every_minute(center: BusinessCalendar) -> None:
    start = sh(2026, 9, 30, 23, 30)
    assert add_business_minutes(start, 24 * 60 * 9, center) == sh(2026, 10, 9, 23, 30)
    assert business_minutes_between(sh(2026, 10, 1), sh(2026, 10, 2), center) == 24 * 60


def test_between_is_antisymmetric_and_truncates(office: BusinessCalendar) -> None:
    a, b = sh(2026, 11, 2, 9), sh(2026, 11, 2, 9, 10) + timedelta(seconds=59)
    assert business_minutes_between(a, b, office) == 10
    assert business_minutes_between(b, a, office) == -10
    assert business_time_between(a, b, office) == timedelta(minutes=10, seconds=59)


def test_long_spans_and_far_years(office: BusinessCalendar) -> None:
    start = sh(2026, 1, 5, 8, 30)
    end = add_business_minutes(start, 450 * 400, office)
    assert end.year == 2027
    assert business_minutes_between(start, end, office) == 450 * 400
    assert add_business_minutes(sh(2030, 3, 1, 9), 60, office) == sh(2030, 3, 1, 10)


def test_naive_and_negative_are_refused(office: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="naive"):
        add_business_minutes(datetime(2026, 11, 2, 9), 1, office)  # noqa: DTZ001
    with pytest.raises(ValueError, match="negative"):
        add_business_minutes(sh(2026, 11, 2, 9), -1, office)
    with pytest.raises(ValueError, match="negative"):
        add_business_time(sh(2026, 11, 2, 9), timedelta(seconds=-1), office)


def test_next_working_periods(office: BusinessCalendar, center: BusinessCalendar) -> None:
    periods = next_working_periods(sh(2026, 9, 30, 14), 3, office)
    assert periods == [
        (sh(2026, 9, 30, 14), sh(2026, 9, 30, 17, 30)),
        (sh(2026, 10, 8, 8, 30), sh(2026, 10, 8, 12)),
        (sh(2026, 10, 8, 13, 30), sh(2026, 10, 8, 17, 30)),
    ]
    assert next_working_periods(sh(2026, 9, 30, 12, 0), 1, office) == [
        (sh(2026, 9, 30, 13, 30), sh(2026, 9, 30, 17, 30))
    ]
    assert next_working_periods(sh(2026, 12, 31, 6), 2, center) == [
        (sh(2026, 12, 31, 6), sh(2027, 1, 1)),
        (sh(2027, 1, 1), sh(2027, 1, 2)),
    ]
    assert next_working_periods(sh(2026, 9, 30, 14), 0, office) == []


def test_working_instants(office: BusinessCalendar) -> None:
    assert office.is_working_instant(sh(2026, 11, 2, 8, 30))
    assert not office.is_working_instant(sh(2026, 11, 2, 12))  # intervals are half-open
    assert office.next_working_instant(sh(2026, 11, 2, 12)) == sh(2026, 11, 2, 13, 30)
    assert office.next_working_instant(sh(2026, 11, 2, 9)) == sh(2026, 11, 2, 9)
    assert office.next_working_instant(sh(2026, 10, 1, 9)) == sh(2026, 10, 8, 8, 30)


@settings(max_examples=150, deadline=None)
@given(start=instants, minutes=st.integers(min_value=0, max_value=450 * 60))
def test_round_trip(office: BusinessCalendar, start: datetime, minutes: int) -> None:
    end = add_business_minutes(start, minutes, office)
    assert end >= start
    assert business_minutes_between(start, end, office) == minutes


@settings(max_examples=100, deadline=None)
@given(
    start=instants,
    first=st.integers(min_value=0, max_value=5000),
    second=st.integers(min_value=0, max_value=5000),
)
def test_adding_is_additive_and_monotone(
    office: BusinessCalendar, start: datetime, first: int, second: int
) -> None:
    step = add_business_minutes(start, first, office)
    assert add_business_minutes(step, second, office) == add_business_minutes(
        start, first + second, office
    )
    if first <= second:
        assert step <= add_business_minutes(start, second, office)


@settings(max_examples=100, deadline=None)
@given(a=instants, b=instants)
def test_between_matches_adding_back(office: BusinessCalendar, a: datetime, b: datetime) -> None:
    early, late = min(a, b), max(a, b)
    span = business_time_between(early, late, office)
    assert business_time_between(late, early, office) == -span
    assert add_business_time(early, span, office) <= late


def test_fast_enough_for_the_sweep(office: BusinessCalendar) -> None:
    start = sh(2026, 1, 5, 9)
    began = time.perf_counter()
    for i in range(20_000):
        moment = start + timedelta(minutes=37 * i)
        due = add_business_minutes(moment, 1350, office)
        business_minutes_between(moment, due, office)
    assert time.perf_counter() - began < 5  # ~0.3 s measured; loose for slow machines
