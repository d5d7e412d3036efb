"""Signing in to the console: when failed logins lock an account, and for how long.

Numbers from :class:`~desk.rules.policy.LoginPolicy`:

- an account is **locked** while ``locked_until`` is after ``now``;
- failed logins **count** towards a lock while each comes within ``failure_window_minutes``
  of the one before; after a longer pause counting starts afresh;
- an attempt is **counted in advance** as a failure before its password is evaluated, so
  parallel guesses see each other; once ``max_failures`` attempts count, a further attempt
  is refused without being evaluated (:func:`reserve_attempt`);
- a failed attempt that brings the count to ``max_failures`` **locks** the account for
  ``lock_minutes`` and starts the count afresh (:func:`after_failure`);
- a successful login clears the count and any lock (:func:`after_success`).

Pure: the service reads the stored state, asks these functions and stores the answers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from desk.rules.policy import LoginPolicy


@dataclass(frozen=True, slots=True)
class LoginState:
    """What is stored about an account's recent failed logins."""

    failed_logins: int = 0
    last_failed_at: datetime | None = None
    locked_until: datetime | None = None


def is_locked(state: LoginState, now: datetime) -> bool:
    return state.locked_until is not None and state.locked_until > now


def counted_failures(state: LoginState, now: datetime, policy: LoginPolicy) -> int:
    """The failures that still count towards a lock at ``now``."""
    window = timedelta(minutes=policy.failure_window_minutes)
    if state.last_failed_at is None or now - state.last_failed_at > window:
        return 0
    return state.failed_logins


def reserve_attempt(state: LoginState, now: datetime, policy: LoginPolicy) -> LoginState | None:
    """The state with an attempt at ``now`` counted in advance as a failure; None when the
    limit is already reached by attempts in flight (refuse it unevaluated). The caller has
    refused a locked account first."""
    failures = counted_failures(state, now, policy)
    if failures >= policy.max_failures:
        return None
    return replace(state, failed_logins=failures + 1, last_failed_at=now)


def after_failure(state: LoginState, now: datetime, policy: LoginPolicy) -> LoginState:
    """The state after an attempt (counted in advance) failed: the limit reached locks the
    account for ``lock_minutes`` and starts the count afresh."""
    if state.failed_logins >= policy.max_failures and not is_locked(state, now):
        return replace(
            state, failed_logins=0, locked_until=now + timedelta(minutes=policy.lock_minutes)
        )
    return state


def after_success() -> LoginState:
    """The state after a successful login: nothing counts, nothing locks."""
    return LoginState()
