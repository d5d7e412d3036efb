"""The one retry policy (desk.infra.retry), with the errors the drivers raise."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from desk.infra.errors import DatabaseUnavailable, InvalidInput
from desk.infra.retry import ATTEMPTS, is_transient, retry_transient


class _DriverError(Exception):
    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def _error(
    kind: type[DBAPIError], message: str, sqlstate: str | None = None, *, lost: bool = False
) -> DBAPIError:
    return kind("SELECT 1", {}, _DriverError(message, sqlstate), connection_invalidated=lost)


TRANSIENT = {
    "serialization failure": _error(OperationalError, "could not serialize", "40001"),
    "deadlock": _error(OperationalError, "deadlock detected", "40P01"),
    "connection ended by the server": _error(
        OperationalError, "terminating connection due to administrator command", "57P01", lost=True
    ),
    "sqlite busy": _error(OperationalError, "database is locked"),
    "database out of reach": DatabaseUnavailable.unreachable(),
}
PERMANENT = {
    "unique violation": _error(IntegrityError, "duplicate key", "23505"),
    "syntax error": _error(DBAPIError, "syntax error", "42601"),
    "other operational error": _error(OperationalError, "disk I/O error"),
    "a domain error": InvalidInput("must be positive", field="limit"),
    "a plain bug": ValueError("oops"),
}


@pytest.mark.parametrize("error", TRANSIENT.values(), ids=list(TRANSIENT))
def test_transient_errors_are_run_again_until_the_work_succeeds(error: Exception) -> None:
    assert is_transient(error)
    calls: list[int] = []
    pauses: list[float] = []

    def work() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise error
        return "done"

    assert retry_transient(work, sleep=pauses.append) == "done"
    assert len(calls) == 3
    assert pauses == [0.02, 0.04]  # doubling


@pytest.mark.parametrize("error", PERMANENT.values(), ids=list(PERMANENT))
def test_other_errors_are_raised_at_once(error: Exception) -> None:
    assert not is_transient(error)
    calls: list[int] = []

    def work() -> None:
        calls.append(1)
        raise error

    with pytest.raises(type(error)):
        retry_transient(work, sleep=lambda _: None)
    assert calls == [1]


def test_the_last_transient_error_is_raised_after_every_attempt() -> None:
    calls: list[int] = []
    deadlock = TRANSIENT["deadlock"]

    def work() -> None:
        calls.append(1)
        raise deadlock

    with pytest.raises(OperationalError):
        retry_transient(work, sleep=lambda _: None)
    assert len(calls) == ATTEMPTS


def test_a_connection_still_lost_after_every_attempt_is_said_in_one_line() -> None:
    lost = TRANSIENT["connection ended by the server"]

    def work() -> None:
        raise lost

    with pytest.raises(DatabaseUnavailable) as caught:
        retry_transient(work, attempts=2, sleep=lambda _: None)
    assert caught.value.__cause__ is lost
    assert "\n" not in caught.value.message


def test_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="attempts"):
        retry_transient(lambda: None, attempts=0)
