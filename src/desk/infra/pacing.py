"""Background jobs that write in many transactions leave room for people's writes.

On SQLite one connection at a time holds the write lock. A terminal that wants it while a job
holds it waits in SQLite's busy handler, which sleeps between tries (1, 2, 5 … then 100 ms
each). A job that commits a batch and begins the next at once holds the lock all but a few
microseconds, so the waiting terminal almost never finds it free: its save waits for the whole
job, and fails with ``database is locked`` once its ``busy_timeout`` has passed — even though
every batch is short. (Measured on this design: 300 ms batches back to back starved a writer
for seconds; with a 120 ms pause between them it got in at its next try.)

So a job that writes in batches goes through :class:`Pacer`:

- **short batches**: the batch size follows the time the last batch took, so a batch holds the
  lock about :data:`TARGET_SECONDS` whatever the machine's load (within ``minimum`` and
  ``maximum``);
- **a pause** on SQLite once the job's batches have held the lock :data:`STRETCH_SECONDS` in
  a row: :data:`SQLITE_GAP_SECONDS`, longer than the busy handler's longest sleep, so whoever
  waits gets the lock at their next try. A terminal's write waits at most about a stretch and
  a batch; a short job (a quiet minute's sweep) never pauses. PostgreSQL locks rows, not the
  database: no pause there.

Each batch is still its own transaction, run through :func:`desk.infra.retry.retry_transient`
by the caller.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

TARGET_SECONDS = 0.2
STRETCH_SECONDS = 0.3
SQLITE_GAP_SECONDS = 0.12  # SQLite's busy handler sleeps at most 100 ms between tries


@dataclass
class Pacer:
    """Batch sizes and pauses for one job (see the module docs).

    ``size`` is the first batch's size, a guess; later ones follow the measured time per item.
    ``gap`` is the pause once batches have held the lock ``stretch`` seconds in a row (0 on
    PostgreSQL: use :func:`for_dialect`).
    """

    size: int
    minimum: int = 1
    maximum: int | None = None
    target: float = TARGET_SECONDS
    stretch: float = STRETCH_SECONDS
    gap: float = SQLITE_GAP_SECONDS
    clock: Callable[[], float] = time.perf_counter
    sleep: Callable[[float], None] = time.sleep
    paused: float = field(default=0.0, init=False)  # seconds spent in pauses, for reports
    _held: float = field(default=0.0, init=False)  # lock time since the last pause

    def __post_init__(self) -> None:
        if self.minimum < 1 or self.size < 1:
            raise ValueError("batch sizes must be at least 1")
        self.size = self._bounded(self.size)

    def _bounded(self, size: int) -> int:
        size = max(self.minimum, size)
        return size if self.maximum is None else min(self.maximum, size)

    def batches(self, items: Sequence[T]) -> Iterator[Sequence[T]]:
        """``items`` in consecutive batches. The work the caller does between two yields (one
        transaction) is timed: it sets the next batch's size, and a pause comes before the
        next batch once the stretch is used up."""
        start = 0
        while start < len(items):
            batch = items[start : start + self.size]
            began = self.clock()
            yield batch
            self.took(len(batch), self.clock() - began)
            start += len(batch)
            if start < len(items) and self._held >= self.stretch:
                self.pause()

    def took(self, items: int, seconds: float) -> None:
        """A batch of ``items`` took ``seconds``: size the next one to take ``target``."""
        self._held += max(seconds, 0.0)
        if items < 1:
            return
        if seconds <= 0:
            self.size = self._bounded(self.size * 2)
            return
        per_item = seconds / items
        # at most double at a time: one quick batch (a cache warm) does not make a huge next one
        self.size = self._bounded(min(self.size * 2, round(self.target / per_item)))

    def pause(self) -> None:
        """Leave the lock free for whoever waits (nothing on PostgreSQL)."""
        self._held = 0.0
        if self.gap > 0:
            self.sleep(self.gap)
            self.paused += self.gap


def for_dialect(dialect: str, *, size: int, minimum: int = 1, maximum: int | None = None) -> Pacer:
    """A :class:`Pacer` that pauses between batches only where the lock is the whole
    database's (SQLite)."""
    gap = SQLITE_GAP_SECONDS if dialect == "sqlite" else 0.0
    return Pacer(size=size, minimum=minimum, maximum=maximum, gap=gap)
