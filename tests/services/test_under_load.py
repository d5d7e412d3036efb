"""Proof under load and faults, briefly, on both databases (the long runs are
``bench/figures/faults.py``): writer processes that collide lose nothing, and a writer killed
with SIGKILL mid-transaction leaves every reported commit and a database that passes
``desk check``."""

from __future__ import annotations

from bench import faults
from desk.infra.database import Database


def test_eight_writer_processes_lose_no_update(db: Database) -> None:
    result = faults.run_writers(db, processes=8, seconds=3.0)
    assert faults.check_writers(db, result) == []
    assert result.errors == []
    assert result.created + result.notes > 0
    assert len(result.outcomes) == 8


def test_a_writer_killed_25_times_keeps_every_reported_commit(db: Database) -> None:
    result = faults.run_killed_writer(db, kills=25, longest=0.15)
    assert result.problems == []
    assert result.kills == 25
    assert len(result.reported) >= 25  # at least one commit before each kill
    assert result.rows_after >= len(set(result.reported))
