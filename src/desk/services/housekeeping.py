"""What every console does in the background, whoever is signed in: move the work-order
clocks (the sweep), plan the callback lists and refresh the dashboard's hourly summaries.

Each job is guarded in the database (a lease for the sweep, a last-run stamp for the others),
so many consoles, and cron, running this at once do each job once per period.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from desk.services.callbacks import plan_if_due
from desk.services.summaries import refresh_summaries_if_due
from desk.services.sweep import sweep_if_due

if TYPE_CHECKING:
    from desk.infra.database import Database
    from desk.rules.policy import Policy

PLAN_EVERY = timedelta(minutes=5)


def run_due_jobs(db: Database, *, holder: str, sweep_every: timedelta, policy: Policy) -> None:
    """The sweep if nobody swept within ``sweep_every``, then the callback plan and the
    summaries if their period has passed; ``holder`` names this console on the lease."""
    sweep_if_due(db, holder=holder, every=sweep_every, policy=policy)
    plan_if_due(db, every=PLAN_EVERY, policy=policy)
    refresh_summaries_if_due(db, policy=policy)
