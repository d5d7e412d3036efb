"""Proof under load and faults, the long runs (issue 10, point 8); the scenarios are in
``bench/faults.py`` and the test suite runs them briefly.

On a throwaway copy of the dataset:

- ``faults.writers_changes``: 8 worker processes (``DESK_BENCH_FAULT_WRITERS``), each a lead,
  create work orders and add notes to 12 shared orders through the services for 30 s
  (``DESK_BENCH_FAULT_SECONDS``): the changes committed per second. Beside it
  ``faults.writers_errors`` and ``faults.writers_lost`` (errors, and every way the database
  disagrees with what the writers reported: a missing order, a lost note, a version or change
  counter out of step): both must be 0. Baseline: one bare driver connection doing the same
  writes (a note event inserted and the order's version raised, one transaction each) for
  5 s, changes per second.
- ``faults.killed_writer_missing``: a writer killed with SIGKILL 25 times at random instants
  while it creates work orders; the reported commits missing afterwards or a failed
  ``desk check`` (must be 0). Baseline: none (a count of failures).
"""

from __future__ import annotations

import os
import time

from bench.core import BenchContext, Figure
from bench.faults import check_writers, run_killed_writer, run_writers

WRITERS = 8
SECONDS = 30.0
KILLS = 25
BASELINE_SECONDS = 5.0


def _raw_changes_per_second(ctx: BenchContext, order: int, seconds: float) -> float:
    """Note events and version raises by the bare driver, one transaction each."""
    with ctx.raw() as raw:
        done = 0
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()
        while time.perf_counter() < deadline:
            raw.execute("BEGIN")
            raw.execute(
                "INSERT INTO work_order_event (work_order_id, at, kind, from_status, to_status, "
                "reason) VALUES (?, CURRENT_TIMESTAMP, 'note', 'new', 'new', 'raw')",
                (order,),
            )
            raw.execute("UPDATE work_order SET version = version + 1 WHERE id = ?", (order,))
            raw.execute("COMMIT")
            done += 1
        return done / (time.perf_counter() - started)


def measure(ctx: BenchContext) -> list[Figure]:
    processes = int(os.environ.get("DESK_BENCH_FAULT_WRITERS", WRITERS))
    seconds = 3.0 if ctx.quick else float(os.environ.get("DESK_BENCH_FAULT_SECONDS", SECONDS))
    kills = 3 if ctx.quick else KILLS
    with ctx.copy() as copy:
        result = run_writers(copy.db, processes=processes, seconds=seconds)
        problems = check_writers(copy.db, result)
        copy.db.dispose()
        baseline = _raw_changes_per_second(
            copy, result.shared[0], 1.0 if ctx.quick else BASELINE_SECONDS
        )
        killed = run_killed_writer(copy.db, kills=kills)
    changes = result.created + result.notes
    scale = f"{processes} processes × {seconds:.0f} s"
    return [
        Figure(
            name="faults.writers_changes",
            value=changes / seconds,
            unit="/s",
            baseline=baseline,
            baseline_label="bare driver, one connection: note insert + version raise",
            note=(
                f"{scale}: {result.created:,} orders created, {result.notes:,} notes, "
                f"{result.conflicts:,} saves refused as stale and retried"
            ),
        ),
        Figure(
            name="faults.writers_errors",
            value=float(len(result.errors)),
            unit="errors",
            target=0.0,
            note=f"{scale}; first: {result.errors[0]}" if result.errors else scale,
        ),
        Figure(
            name="faults.writers_lost",
            value=float(len(problems)),
            unit="problems",
            target=0.0,
            note="; ".join(problems[:3]) or "every reported change stored, counters in step",
        ),
        Figure(
            name="faults.killed_writer_missing",
            value=float(len(killed.problems)),
            unit="problems",
            target=0.0,
            note=(
                f"{killed.kills} SIGKILLs, {len(killed.reported):,} commits reported, "
                f"{killed.rows_after:,} work orders after; "
                + ("; ".join(killed.problems[:2]) or "all present, desk check ok")
            ),
        ),
    ]
