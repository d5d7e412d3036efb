"""Login lockout arithmetic (desk.rules.login), with the policy's numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from desk.rules.login import (
    LoginState,
    after_failure,
    after_success,
    counted_failures,
    is_locked,
    reserve_attempt,
)
from desk.rules.policy import LoginPolicy

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
POLICY = LoginPolicy(max_failures=3, failure_window_minutes=10, lock_minutes=20)


def _fail(minutes: list[int], policy: LoginPolicy = POLICY) -> LoginState:
    """Failed attempts, one after the other, each reserved then settled as the service does."""
    state = LoginState()
    for minute in minutes:
        at = T0 + timedelta(minutes=minute)
        if is_locked(state, at):
            continue
        reserved = reserve_attempt(state, at, policy)
        assert reserved is not None
        state = after_failure(reserved, at, policy)
    return state


@pytest.mark.parametrize(
    ("minutes", "failures", "locked"),
    [
        ([0], 1, False),
        ([0, 1], 2, False),
        ([0, 1, 2], 0, True),  # the third within the window locks; the count starts afresh
        ([0, 10, 20], 0, True),  # each within 10 minutes of the one before (ends included)
        ([0, 1, 12], 1, False),  # 11 minutes after the one before: counting starts again
        ([0, 11, 12], 2, False),
    ],
)
def test_failures_count_within_the_window_and_lock_at_the_limit(
    minutes: list[int], failures: int, locked: bool
) -> None:
    state = _fail(minutes)
    last = T0 + timedelta(minutes=minutes[-1])
    assert state.failed_logins == failures
    assert state.last_failed_at == last
    assert is_locked(state, last) is locked
    if locked:
        assert state.locked_until == last + timedelta(minutes=POLICY.lock_minutes)


def test_a_lock_ends_after_lock_minutes() -> None:
    state = _fail([0, 1, 2])
    assert is_locked(state, T0 + timedelta(minutes=21, seconds=59))
    assert not is_locked(state, T0 + timedelta(minutes=22))


def test_attempts_in_flight_are_counted_in_advance_and_the_limit_refuses_more() -> None:
    """Parallel guesses each reserve an attempt before any is evaluated: the limit's worth
    are evaluated, the rest refused unevaluated."""
    state = LoginState()
    reserved = 0
    for _ in range(10):
        after = reserve_attempt(state, T0, POLICY)
        if after is None:
            continue
        state, reserved = after, reserved + 1
    assert reserved == POLICY.max_failures
    assert counted_failures(state, T0, POLICY) == POLICY.max_failures
    assert not is_locked(state, T0)  # the lock comes when a failure settles
    assert is_locked(after_failure(state, T0, POLICY), T0)


def test_an_old_count_no_longer_counts() -> None:
    state = LoginState(failed_logins=2, last_failed_at=T0)
    assert counted_failures(state, T0 + timedelta(minutes=10), POLICY) == 2
    assert counted_failures(state, T0 + timedelta(minutes=11), POLICY) == 0
    reserved = reserve_attempt(state, T0 + timedelta(minutes=11), POLICY)
    assert reserved is not None
    assert reserved.failed_logins == 1


def test_the_numbers_come_from_the_policy() -> None:
    strict = LoginPolicy(max_failures=1, failure_window_minutes=1, lock_minutes=60)
    assert _fail([0], strict).locked_until == T0 + timedelta(minutes=60)
    lenient = LoginPolicy(max_failures=10, failure_window_minutes=60, lock_minutes=1)
    assert _fail(list(range(0, 9 * 50, 50)), lenient).failed_logins == 9


def test_a_success_clears_everything() -> None:
    assert after_success() == LoginState()
    assert not is_locked(after_success(), T0)


@given(
    gaps=st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=20),
    limit=st.integers(min_value=1, max_value=6),
    window=st.integers(min_value=1, max_value=15),
)
def test_a_lock_needs_max_failures_each_within_the_window(
    gaps: list[int], limit: int, window: int
) -> None:
    """A lock falls exactly when ``limit`` failures in a row, each within ``window`` minutes
    of the one before, have happened since the last lock (attempts while locked are refused
    before they count)."""
    policy = LoginPolicy(max_failures=limit, failure_window_minutes=window, lock_minutes=5)
    state = LoginState()
    run = 0
    at = T0
    previous: datetime | None = None
    for gap in gaps:
        at = at + timedelta(minutes=gap)
        if is_locked(state, at):
            continue
        run = run + 1 if previous is not None and at - previous <= timedelta(minutes=window) else 1
        reserved = reserve_attempt(state, at, policy)
        assert reserved is not None
        state = after_failure(reserved, at, policy)
        previous = at
        if run >= limit:
            assert state.locked_until == at + timedelta(minutes=5)
            assert state.failed_logins == 0
            run = 0
            previous = None
        else:
            assert state.failed_logins == run
