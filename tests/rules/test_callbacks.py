"""Callback limits: unreachable after the policy's tries, one survey per interval."""

from __future__ import annotations

from datetime import timedelta

import pytest

from desk.rules.callbacks import attempts_left, is_unreachable, may_survey, next_survey_allowed
from desk.rules.policy import Policy
from tests.rules.conftest import sh

NOW = sh(2026, 11, 2, 10)


@pytest.mark.parametrize(
    ("failed", "unreachable", "left"), [(0, False, 3), (2, False, 1), (3, True, 0), (4, True, 0)]
)
def test_unreachable_after_three_tries(
    policy: Policy, failed: int, unreachable: bool, left: int
) -> None:
    assert is_unreachable(failed, policy) is unreachable
    assert attempts_left(failed, policy) == left


@pytest.mark.parametrize(
    ("days_ago", "allowed"),
    [(None, True), (1, False), (29.9, False), (30, True), (45, True), (-1, True)],
)
def test_survey_not_more_than_once_in_30_days(
    policy: Policy, days_ago: float | None, allowed: bool
) -> None:
    surveys = [] if days_ago is None else [NOW - timedelta(days=days_ago)]
    assert may_survey(surveys, NOW, policy) is allowed


def test_next_survey_allowed(policy: Policy) -> None:
    assert next_survey_allowed([], policy) is None
    last = NOW - timedelta(days=10)
    assert next_survey_allowed([NOW - timedelta(days=40), last], policy) == last + timedelta(
        days=30
    )
    assert may_survey([last], last + timedelta(days=30), policy)
