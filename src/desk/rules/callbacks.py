"""Callback (回访) limits from the policy: when a customer counts as unreachable, and when a
customer may be surveyed again."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from desk.rules.policy import Policy


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
