"""One retry policy for every transaction: what is worth another try, and how often.

A transaction that failed for a reason outside the work itself is run again from its start,
after a short pause that doubles each time:

- PostgreSQL: a serialization failure (``40001``) or a deadlock (``40P01``);
- a connection the server ended (a restart, an administrator, a network cut): SQLAlchemy has
  already dropped it from the pool, so the next try gets a fresh one;
- the database could not be reached at all (the server is restarting);
- SQLite: ``database is locked`` after the ``busy_timeout``.

The unit of work (:meth:`desk.infra.database.Database.run`) and the sweep's batches use
:func:`retry_transient`; nothing else in desk loops on database errors.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError

from desk.infra.errors import DatabaseUnavailable

R = TypeVar("R")

TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock detected
ATTEMPTS = 6
FIRST_PAUSE_SECONDS = 0.02  # then 0.04, 0.08, 0.16, 0.32: about 0.6 s in all


def is_transient(error: BaseException) -> bool:
    """Is ``error`` worth running the whole transaction again?"""
    if isinstance(error, DatabaseUnavailable):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if getattr(error.orig, "sqlstate", None) in TRANSIENT_SQLSTATES:
        return True
    return isinstance(error, OperationalError) and "database is locked" in str(error.orig)


def retry_transient(
    work: Callable[[], R],
    *,
    attempts: int = ATTEMPTS,
    pause: float = FIRST_PAUSE_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> R:
    """Run ``work`` until it returns, up to ``attempts`` times while it fails with a
    transient error (:func:`is_transient`); any other error, or the last one, is raised.

    A connection the server ended that is still failing after the last attempt is raised as
    :class:`DatabaseUnavailable` (one line a person can read), with the driver's error as its
    cause."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except Exception as error:
            if not is_transient(error):
                raise
            if attempt == attempts:
                if isinstance(error, DBAPIError) and error.connection_invalidated:
                    raise DatabaseUnavailable.lost() from error
                raise
            sleep(pause)
            pause *= 2
    raise AssertionError("unreachable")  # pragma: no cover
