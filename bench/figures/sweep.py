"""The escalation sweep over the open work orders (issue 4: ≤ 5 s over 300,000 open ones).

The sweep writes, so it runs on a copy of the dataset (the other figures keep the dataset as
built). On the copy, at the demo's build instant ``T`` (``desk_meta.demo_built_at``):

- ``sweep.prime``: :func:`~desk.services.sweep.prime_ladder`, the set-based marking of every
  open work order a bulk load ends with;
- ``sweep.catch_up``: the first sweep at ``T``, which replays every open work order's history
  once through the pure ladder, plans its later steps (``ladder_step``) and stores what is due;
- ``sweep.repeat``: a second sweep at ``T`` (0 changes: the acceptance check);
- ``sweep.steady_1h``: a sweep at ``T`` + 1 hour: the planned steps due in that hour, stored
  set-based (no history replayed);
- ``sweep.steady_hourly_max``: the slowest of the hourly sweeps through the following day
  (office hours open and close in it; the 1-hour figure alone may fall in a quiet hour).

Baselines, same copy, same run: the bare driver doing the set-based part alone, rolled back —
the candidate ``SELECT … WHERE ladder_next_at <= ?`` through the index, plus an
``INSERT … SELECT`` of a reply breach for every candidate whose reply is overdue (ignoring one
already stored).

Run on its own: ``python -m bench.figures.sweep DB_FILE`` (a dataset built by ``bench/run.py
--backlog 300000 --keep DIR``).
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.core import BenchContext, Figure, Raw

if TYPE_CHECKING:
    from desk.services.sweep import SweepReport

TARGET_S = 5.0
OPEN_WANTED = 300_000
HOURS_AFTER = 24

_CANDIDATES = "SELECT id FROM work_order WHERE ladder_next_at <= ?"
_BREACHES = """
INSERT {ignore} INTO work_order_event
    (work_order_id, at, kind, department_id, clock, ladder_key)
SELECT id, ?, 'breach', department_id, 'reply', 'breach:reply:c' || cycle
FROM work_order
WHERE ladder_next_at <= ? AND reply_due <= ? AND status IN ('dispatched', 'reopened')
{conflict}
"""


def _instant(raw: Raw, instant: datetime) -> Any:
    """An instant as the bare driver binds it: SQLAlchemy's stored text on SQLite."""
    if raw.dialect == "sqlite":
        return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return instant


def _raw_set_based(ctx: BenchContext, now: datetime) -> tuple[float, int]:
    """Seconds for the raw set-based part at ``now`` (rolled back), and the candidates."""
    sqlite = ctx.is_sqlite
    breaches = _BREACHES.format(
        ignore="OR IGNORE" if sqlite else "", conflict="" if sqlite else "ON CONFLICT DO NOTHING"
    )
    with ctx.raw() as raw:
        at = _instant(raw, now)
        started = time.perf_counter()
        raw.execute("BEGIN IMMEDIATE" if sqlite else "BEGIN")
        candidates = len(raw.fetch(_CANDIDATES, (at,)))
        raw.execute(breaches, (at, at, at))
        seconds = time.perf_counter() - started
        raw.execute("ROLLBACK")
    return seconds, candidates


def _facts(ctx: BenchContext) -> tuple[datetime, int]:
    with ctx.raw() as raw:
        value = raw.scalar("SELECT value FROM desk_meta WHERE key = 'demo_built_at'")
        open_orders = raw.scalar("SELECT COUNT(*) FROM work_order WHERE status <> 'closed'")
        if value is None:
            value = raw.scalar("SELECT MAX(created_at) FROM work_order")
    built = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return (built if built.tzinfo else built.replace(tzinfo=UTC)), int(open_orders)


def measure(ctx: BenchContext) -> list[Figure]:
    from desk.rules.permissions import system_actor
    from desk.rules.policy import load_policy
    from desk.services.sweep import prime_ladder, run_sweep

    built, open_orders = _facts(ctx)
    scale = f"{open_orders:,} open work orders, {ctx.customers:,} customers"
    if open_orders < OPEN_WANTED:
        scale += f" (fewer than the {OPEN_WANTED:,} of the target: build with --backlog)"
    policy = load_policy(None)
    actor = system_actor()
    with ctx.copy() as copy:
        db = copy.db
        started = time.perf_counter()
        with db.connection(write=True) as connection:
            primed = prime_ladder(connection)
        prime_s = time.perf_counter() - started

        raw_catch_up, raw_candidates = _raw_set_based(copy, built)
        catch_up = run_sweep(db, actor=actor, policy=policy, now=built)
        repeat = run_sweep(db, actor=actor, policy=policy, now=built)

        hour = built + timedelta(hours=1)
        raw_steady, raw_steady_candidates = _raw_set_based(copy, hour)
        steady = run_sweep(db, actor=actor, policy=policy, now=hour)
        hourly = [
            run_sweep(db, actor=actor, policy=policy, now=built + timedelta(hours=n))
            for n in range(2, HOURS_AFTER + 2)
        ]
        label = "sqlite3" if copy.is_sqlite else "psycopg"
    slowest = max(hourly, key=lambda report: report.seconds)
    ctx.extra["sweep"] = {
        "catch_up": catch_up.as_dict(),
        "repeat": repeat.as_dict(),
        "steady_1h": steady.as_dict(),
        "hourly": [report.as_dict() for report in hourly],
    }

    def done(report: SweepReport) -> str:
        replayed = ""
        if report.replayed >= 1_000:  # the catch-up: the time is the replays'
            per = report.seconds / report.replayed * 1e6
            replayed = f"{report.replayed:,} histories replayed ({per:.0f} µs each), "
        elif report.replayed:
            replayed = f"{report.replayed:,} histories replayed, "
        return (
            f"{replayed}{report.steps_due:,} planned steps due, {report.changes:,} events "
            f"stored, {report.candidates:,} work orders"
        )

    raw_label = f"{label}: candidate SELECT by index + INSERT…SELECT of reply breaches"
    return [
        Figure(
            name="sweep.prime",
            value=prime_s,
            unit="s",
            note=f"prime_ladder: {primed:,} open orders marked (set-based UPDATE); {scale}",
        ),
        Figure(
            name="sweep.catch_up",
            value=catch_up.seconds,
            unit="s",
            baseline=raw_catch_up,
            baseline_label=f"{raw_label} ({raw_candidates:,} candidates)",
            target=TARGET_S,
            note=f"first sweep after the build: {done(catch_up)}; {scale}",
        ),
        Figure(
            name="sweep.repeat",
            value=repeat.seconds,
            unit="s",
            target=TARGET_S,
            note=f"second sweep at the same instant: {repeat.changes} changes, "
            f"{repeat.candidates} examined",
        ),
        Figure(
            name="sweep.steady_1h",
            value=steady.seconds,
            unit="s",
            baseline=raw_steady,
            baseline_label=f"{raw_label} ({raw_steady_candidates:,} candidates)",
            target=TARGET_S,
            note=f"one hour later: {done(steady)}",
        ),
        Figure(
            name="sweep.steady_hourly_max",
            value=slowest.seconds,
            unit="s",
            target=TARGET_S,
            note=f"slowest of {len(hourly)} hourly sweeps after it (at {slowest.now:%H:%M} UTC: "
            + done(slowest)
            + f"); median {statistics.median(r.seconds for r in hourly):.2f} s",
        ),
    ]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m bench.figures.sweep DB_FILE", file=sys.stderr)
        return 2
    from desk.demo import demo_params
    from desk.infra.database import Database

    path = Path(argv[1]).resolve()
    db = Database.from_url(f"sqlite:///{path}")
    params = demo_params(db)
    ctx = BenchContext(
        db_path=path,
        db=db,
        customers=params.customers if params else 0,
        days=params.days if params else 0,
        seed=params.seed if params else 0,
    )
    for figure in measure(ctx):
        baseline = "" if figure.baseline is None else f"  baseline {figure.baseline:.3f}"
        print(f"{figure.name:<26} {figure.value:8.3f} {figure.unit}{baseline}  {figure.note}")
    db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
