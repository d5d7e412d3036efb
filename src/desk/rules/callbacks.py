"""Callbacks (回访): when a customer counts as unreachable, when a customer may be surveyed
again, when a call may be made, where a callback stands after a try, and what the plan adds
(surveys, greetings on birthdays and China's holidays, win-back and apology calls).

Every instant is aware; ``now`` is a parameter. Local days and hours are Asia/Shanghai.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from desk.rules import china_holidays
from desk.rules.policy import Policy
from desk.rules.vocab import CallbackOutcome, CallbackStatus, Tier


def is_unreachable(failed_attempts: int, policy: Policy) -> bool:
    """Unreachable: ``callbacks.max_attempts`` tries failed to reach the customer; the
    callback closes as unreachable."""
    return failed_attempts >= policy.callbacks.max_attempts


def attempts_left(failed_attempts: int, policy: Policy) -> int:
    """Tries left before the customer counts as unreachable (never below 0)."""
    return max(policy.callbacks.max_attempts - failed_attempts, 0)


def may_survey(surveyed_at: Iterable[datetime], now: datetime, policy: Policy) -> bool:
    """A customer may be surveyed unless surveyed within the last
    ``callbacks.survey_min_interval_days`` (``now - interval < at <= now``)."""
    since = now - timedelta(days=policy.callbacks.survey_min_interval_days)
    return not any(since < at <= now for at in surveyed_at)


def next_survey_allowed(surveyed_at: Iterable[datetime], policy: Policy) -> datetime | None:
    """The first instant at which a survey is allowed again, None if never surveyed."""
    latest = max(surveyed_at, default=None)
    if latest is None:
        return None
    return latest + timedelta(days=policy.callbacks.survey_min_interval_days)


# --- when a call may be made -----------------------------------------------------------------

LOCAL_ZONE = ZoneInfo("Asia/Shanghai")


def calling_instant(instant: datetime, policy: Policy) -> datetime:
    """The first instant at or after ``instant`` inside ``callbacks.calling_hours`` (local
    time, every day), in UTC. Customers are not called at night."""
    local = instant.astimezone(LOCAL_ZONE)
    for offset in range(2):
        day = local.date() + timedelta(days=offset)
        midnight = datetime.combine(day, time(0), LOCAL_ZONE)
        for hours in policy.callbacks.calling_hours:
            start = midnight + timedelta(minutes=hours.start)
            end = midnight + timedelta(minutes=hours.end)
            if local < end:
                return max(local, start).astimezone(UTC)
    raise AssertionError("calling_hours is never empty")  # pragma: no cover


# --- after a try -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AfterAttempt:
    """Where a callback stands after one more try."""

    status: CallbackStatus
    outcome: CallbackOutcome | None
    due_at: datetime  # when it is due next (unchanged once it is closed)
    attempts: int


def after_attempt(
    *, attempts: int, reached: bool, declined: bool, due_at: datetime, now: datetime, policy: Policy
) -> AfterAttempt:
    """One more try at a callback that had ``attempts`` tries: reached (or declined by the
    customer) closes it; a failed try brings it back ``retry_after_minutes`` later, within
    calling hours, until :func:`is_unreachable` closes it as unreachable."""
    made = attempts + 1
    if reached:
        outcome = CallbackOutcome.DECLINED if declined else CallbackOutcome.REACHED
        return AfterAttempt(CallbackStatus.DONE, outcome, due_at, made)
    if is_unreachable(made, policy):
        return AfterAttempt(CallbackStatus.FAILED, CallbackOutcome.UNREACHABLE, due_at, made)
    retry = calling_instant(now + timedelta(minutes=policy.callbacks.retry_after_minutes), policy)
    return AfterAttempt(CallbackStatus.PENDING, None, retry, made)


# --- what the plan adds ----------------------------------------------------------------------

SAMPLE_MULTIPLIER = 7919
SAMPLE_MODULUS = 10_000


def survey_sampled(contact_id: int, percent: float) -> bool:
    """Whether a contact is in the survey sample: a fixed spread of its id, so the plan
    chooses the same contacts whenever it runs. The plan's SQL computes the same expression
    (``id * SAMPLE_MULTIPLIER % SAMPLE_MODULUS < percent * 100``)."""
    return contact_id * SAMPLE_MULTIPLIER % SAMPLE_MODULUS < sample_threshold(percent)


def sample_threshold(percent: float) -> int:
    return round(percent * SAMPLE_MODULUS / 100)


def survey_due(ended_at: datetime, policy: Policy) -> datetime:
    """A survey is due ``survey.after_hours`` after the contact ended, within calling hours."""
    return calling_instant(ended_at + timedelta(hours=policy.callbacks.survey.after_hours), policy)


def apology_due(closed_at: datetime, policy: Policy) -> datetime:
    """An apology call is due ``apology.after_hours`` after the complaint closed."""
    after = timedelta(hours=policy.callbacks.apology.after_hours)
    return calling_instant(closed_at + after, policy)


def greeting_due(day: date, policy: Policy) -> datetime:
    """A greeting is due on its day at ``greeting.at`` (local), within calling hours."""
    midnight = datetime.combine(day, time(0), LOCAL_ZONE)
    at = midnight + timedelta(minutes=policy.callbacks.greeting.at)
    return calling_instant(at, policy)


def greeting_days(now: datetime, policy: Policy) -> list[date]:
    """The local days whose greetings the plan adds at ``now``: from today up to the day
    ``horizon_hours`` ahead (a greeting shows before its day), in order."""
    today = now.astimezone(LOCAL_ZONE).date()
    last = (now + timedelta(hours=policy.callbacks.horizon_hours)).astimezone(LOCAL_ZONE).date()
    return [today + timedelta(days=k) for k in range((last - today).days + 1)]


def birthday_on(born: date, year: int) -> date:
    """The day a birthday is kept in ``year``: 29 February on the 28th outside leap years."""
    try:
        return born.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


def is_greeted(tier: Tier | str, big_customer_class: str | None, policy: Policy) -> bool:
    """VIP (``greeting.tiers``) and big customers (``greeting.big_customer_classes``) are
    greeted on their birthday and on the holidays of ``greeting.holidays``."""
    plan = policy.callbacks.greeting
    return tier in plan.tiers or (
        big_customer_class is not None and big_customer_class in plan.big_customer_classes
    )


@cache
def _holidays_of(year: int) -> tuple[tuple[date, str, str], ...]:
    china = china_holidays.china()
    english = china(years=year, language="en_US")
    chinese = china(years=year, language="zh_CN")
    return tuple((day, str(english[day]), str(chinese[day])) for day in sorted(english))


def holiday_greetings(day: date, policy: Policy) -> list[str]:
    """The holidays of ``greeting.holidays`` whose first day is ``day`` (by English name)."""
    wanted = set(policy.callbacks.greeting.holidays)
    days = _holidays_of(day.year) + _holidays_of(day.year - 1)
    named = {name for holiday, name, _chinese in days if holiday == day and name in wanted}
    before = {name for holiday, name, _chinese in days if holiday == day - timedelta(days=1)}
    return sorted(named - before)


def holiday_label(name: str, on: date, language: str) -> str:
    """A holiday's name in ``language`` (``zh_CN`` or English), from the holidays package."""
    if language == "zh_CN":
        for holiday, english, chinese in _holidays_of(on.year):
            if holiday == on and english == name:
                return chinese
    return name


def win_back_cutoff(now: datetime, policy: Policy) -> datetime:
    """Members last active at or before this instant are due a win-back call."""
    return now - timedelta(days=policy.callbacks.win_back.inactive_days)
