"""When a callback may be made, where it stands after a try, what the plan adds, and shifts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from desk.rules.callbacks import (
    LOCAL_ZONE,
    after_attempt,
    birthday_on,
    calling_instant,
    greeting_days,
    holiday_greetings,
    holiday_label,
    is_greeted,
    sample_threshold,
    survey_sampled,
)
from desk.rules.handover import next_shift, shift_at
from desk.rules.policy import Policy, load_policy
from desk.rules.vocab import CallbackOutcome, CallbackStatus
from tests.rules.conftest import sh

POLICY = load_policy(None)
instants = st.datetimes(
    min_value=datetime(2024, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
    max_value=datetime(2030, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)


def _in_calling_hours(instant: datetime, policy: Policy) -> bool:
    local = instant.astimezone(LOCAL_ZONE)
    minute = local.hour * 60 + local.minute + local.second / 60
    return any(h.start <= minute < h.end for h in policy.callbacks.calling_hours)


@given(instants)
def test_calls_are_due_in_calling_hours_and_never_earlier(instant: datetime) -> None:
    due = calling_instant(instant, POLICY)
    assert due >= instant
    assert _in_calling_hours(due, POLICY)
    assert due - instant < timedelta(hours=24)
    if _in_calling_hours(instant, POLICY):
        assert due == instant


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (sh(2026, 11, 2, 10), sh(2026, 11, 2, 10)),
        (sh(2026, 11, 2, 12, 30), sh(2026, 11, 2, 13, 30)),  # the lunch break
        (sh(2026, 11, 2, 21), sh(2026, 11, 3, 9)),  # no calls at night
        (sh(2026, 11, 2, 3), sh(2026, 11, 2, 9)),
    ],
)
def test_calling_hours(local: datetime, expected: datetime) -> None:
    assert calling_instant(local, POLICY) == expected


@given(st.integers(min_value=0, max_value=5), st.booleans(), st.booleans(), instants)
def test_after_a_try(attempts: int, reached: bool, declined: bool, now: datetime) -> None:
    due = now - timedelta(hours=1)
    after = after_attempt(
        attempts=attempts, reached=reached, declined=declined, due_at=due, now=now, policy=POLICY
    )
    assert after.attempts == attempts + 1
    if reached:
        assert after.status is CallbackStatus.DONE
        assert after.outcome is (CallbackOutcome.DECLINED if declined else CallbackOutcome.REACHED)
    elif attempts + 1 >= POLICY.callbacks.max_attempts:
        assert (after.status, after.outcome) == (CallbackStatus.FAILED, CallbackOutcome.UNREACHABLE)
    else:
        assert after.status is CallbackStatus.PENDING
        assert after.outcome is None
        assert after.due_at >= now + timedelta(minutes=POLICY.callbacks.retry_after_minutes)
        assert _in_calling_hours(after.due_at, POLICY)


@given(st.integers(min_value=1, max_value=10**9), st.floats(min_value=0, max_value=100))
def test_the_survey_sample_is_a_fixed_share(contact_id: int, percent: float) -> None:
    assert survey_sampled(contact_id, percent) is (
        contact_id * 7919 % 10_000 < sample_threshold(percent)
    )
    assert survey_sampled(contact_id, 100)
    assert not survey_sampled(contact_id, 0)


def test_about_five_percent_of_contacts_are_surveyed() -> None:
    share = sum(survey_sampled(i, 5) for i in range(1, 100_001)) / 100_000
    assert share == pytest.approx(0.05, abs=0.001)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 10, 1), ["National Day"]),
        (date(2026, 10, 2), []),
        (date(2026, 2, 17), ["Chinese New Year (Spring Festival)"]),
        (date(2026, 2, 16), []),  # New Year's Eve is not in the shipped list
        (date(2026, 1, 1), ["New Year's Day"]),
        (date(2026, 4, 5), []),  # Tomb-Sweeping Day is not greeted
        (date(2026, 11, 3), []),
    ],
)
def test_holiday_greetings_on_a_holidays_first_day(day: date, expected: list[str]) -> None:
    assert holiday_greetings(day, POLICY) == expected


def test_holiday_names_in_both_languages() -> None:
    assert holiday_label("Mid-Autumn Festival", date(2026, 9, 25), "zh_CN") == "中秋节"
    assert holiday_label("Mid-Autumn Festival", date(2026, 9, 25), "en") == "Mid-Autumn Festival"


def test_an_unknown_holiday_in_the_policy_is_refused() -> None:
    from desk.rules.policy import PolicyError, default_policy_text, validate_policy_text

    text = default_policy_text().replace('"Labor Day",', '"Labour Day",')
    policy, problems = validate_policy_text(text)
    assert policy is None
    assert any("Labour Day" in str(problem) for problem in problems)
    assert PolicyError  # the same problems raise on load


@pytest.mark.parametrize(
    ("born", "year", "kept"),
    [
        (date(1996, 2, 29), 2027, date(2027, 2, 28)),
        (date(1996, 2, 29), 2028, date(2028, 2, 29)),
        (date(1980, 11, 3), 2026, date(2026, 11, 3)),
    ],
)
def test_birthdays(born: date, year: int, kept: date) -> None:
    assert birthday_on(born, year) == kept


def test_greeting_days_reach_the_horizon() -> None:
    assert greeting_days(sh(2026, 11, 2, 10), POLICY) == [date(2026, 11, 2), date(2026, 11, 3)]


@pytest.mark.parametrize(
    ("tier", "big", "greeted"),
    [
        ("diamond", None, True),
        ("standard", "A", True),
        ("gold", None, False),
        ("standard", None, False),
    ],
)
def test_who_is_greeted(tier: str, big: str | None, greeted: bool) -> None:
    assert is_greeted(tier, big, POLICY) is greeted


@pytest.mark.parametrize(
    ("local", "name", "starts", "ends"),
    [
        (sh(2026, 11, 2, 10), "早班", sh(2026, 11, 2, 8), sh(2026, 11, 2, 16)),
        (sh(2026, 11, 2, 16), "中班", sh(2026, 11, 2, 16), sh(2026, 11, 3, 0)),
        (sh(2026, 11, 2, 0), "夜班", sh(2026, 11, 2, 0), sh(2026, 11, 2, 8)),
        (sh(2026, 11, 2, 23, 59), "中班", sh(2026, 11, 2, 16), sh(2026, 11, 3, 0)),
    ],
)
def test_the_shift_covering_an_instant(
    local: datetime, name: str, starts: datetime, ends: datetime
) -> None:
    span = shift_at(local, POLICY)
    assert (span.name, span.starts_at, span.ends_at) == (name, starts, ends)


@given(instants)
def test_shifts_tile_the_day(instant: datetime) -> None:
    span = shift_at(instant, POLICY)
    assert span.starts_at <= instant < span.ends_at
    following = next_shift(span, POLICY)
    assert following.starts_at == span.ends_at
