"""The supervisor's dashboard and the monthly report (issue 9: a refresh ≤ 300 ms at 2,000,000
contacts and 300,000 work orders; a monthly XLSX report ≤ 10 s), on SQLite and PostgreSQL.

- ``dashboard.refresh_<period>``: one :func:`desk.services.dashboard.dashboard` call (every
  figure of the screen: tiles, hourly load and staffing need, mix, trend, hot spots, the
  orders needing attention) for today, this shift, 7 days and this month, median of runs.
  Baseline: the bare driver (``ctx.raw()``) computing the same aggregates straight from the
  facts (contacts of the period grouped by hour and request type, agents per hour, the
  complaint counts, hot topics, the overdue and escalated counts, churn), the way a dashboard
  without summaries would.
- ``dashboard.summary_refresh``: the steady refresh of the hourly summaries (the trailing
  24 hours, the hours with an open contact, the hourly churn snapshot) that the console's
  timer or ``desk sweep`` runs every 5 minutes; and ``dashboard.summary_rebuild``, rebuilding
  them from every contact (first start, a policy change). No baseline: they are the cost of
  the summaries. Both write only the summaries, which the demo build made already (a refresh
  changes no figure), so they run on the dataset itself, not on a copy.
- ``report.monthly_xlsx``: ``desk report monthly`` for the last 30 days written as XLSX.

Run on its own: ``python -m bench.figures.dashboard URL`` (a SQLite file or a PostgreSQL URL).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.core import BenchContext, Figure, Raw, median_ms

TARGET_MS = 300.0
TARGET_REPORT_S = 10.0
PERIODS = ("today", "shift", "7d", "month")

# the dialect's pieces of the same aggregates: hour of an instant, seconds between two
_HOUR = {
    "sqlite": "substr({0}, 1, 13)",
    "postgresql": "to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')",
}
_SECONDS = {
    "sqlite": "(julianday({1}) - julianday({0})) * 86400.0",
    "postgresql": "EXTRACT(EPOCH FROM ({1} - {0}))",
}
_TRUE = {"sqlite": "1", "postgresql": "true"}


def _raw_contacts(dialect: str) -> str:
    hour = _HOUR[dialect].format("offered_at")
    abandon = _SECONDS[dialect].format("offered_at", "ended_at")
    quick = _SECONDS[dialect].format("offered_at", "answered_at")
    talk = _SECONDS[dialect].format("answered_at", "ended_at")
    offered = f"""direction = 'inbound' AND channel IN ('phone', 'vip_line')
       AND NOT (answered_at IS NULL AND ended_at IS NOT NULL AND {abandon} < 5)"""
    return f"""
SELECT {hour} AS hour, request_type, count(*),
  sum(CASE WHEN {offered} THEN 1 ELSE 0 END),
  sum(CASE WHEN {offered} AND answered_at IS NOT NULL THEN 1 ELSE 0 END),
  sum(CASE WHEN {offered} AND answered_at IS NOT NULL AND {quick} <= 20 THEN 1 ELSE 0 END),
  sum(CASE WHEN {offered} AND channel = 'vip_line' THEN 1 ELSE 0 END),
  sum(CASE WHEN {offered} AND channel = 'vip_line' AND answered_at IS NOT NULL
      THEN 1 ELSE 0 END),
  sum(CASE WHEN satisfaction IS NOT NULL THEN 1 ELSE 0 END),
  sum(CASE WHEN satisfaction >= 4 THEN 1 ELSE 0 END),
  sum(CASE WHEN {offered} AND answered_at IS NOT NULL AND ended_at IS NOT NULL
      THEN {talk} ELSE 0 END)
FROM contact WHERE offered_at >= ? AND offered_at < ?
GROUP BY 1, 2
"""


def _raw_agents(dialect: str) -> str:
    return f"""
SELECT {_HOUR[dialect].format("offered_at")}, count(DISTINCT agent_id) FROM contact
WHERE offered_at >= ? AND offered_at < ? AND agent_id IS NOT NULL AND answered_at IS NOT NULL
GROUP BY 1
"""


_RAW_COMPLAINTS = """
SELECT sum(CASE WHEN replied_at IS NOT NULL AND replied_at <= ? THEN 1 ELSE 0 END),
       sum(CASE WHEN closed_at IS NOT NULL AND closed_at <= ? THEN 1 ELSE 0 END),
       count(*)
FROM work_order
WHERE category = 'complaint' AND created_at < ? AND (closed_at IS NULL OR closed_at >= ?)
  AND ((reply_due >= ? AND reply_due < ?) OR (replied_at >= ? AND replied_at < ?)
       OR (resolution_due >= ? AND resolution_due < ?) OR (closed_at >= ? AND closed_at < ?)
       OR (created_at >= ? AND created_at < ?))
"""
_RAW_HOT = """
SELECT topic, count(*) FROM work_order
WHERE category = 'complaint' AND created_at >= ? AND created_at < ? GROUP BY topic
"""


def _raw_attention(dialect: str) -> str:
    return f"""
SELECT sum(CASE WHEN next_due < ? THEN 1 ELSE 0 END),
       sum(CASE WHEN escalation_level > 0 OR is_major = {_TRUE[dialect]} THEN 1 ELSE 0 END)
FROM work_order WHERE status <> 'closed'
"""


_RAW_CHURN = """
SELECT sum(CASE WHEN tier IN ('silver', 'gold', 'platinum', 'diamond') THEN 1 ELSE 0 END),
       sum(CASE WHEN tier IN ('silver', 'gold', 'platinum', 'diamond')
                 AND (last_activity_at IS NULL OR last_activity_at <= ?) THEN 1 ELSE 0 END),
       count(*)
FROM customer WHERE created_at <= ?
"""


def _param(raw: Raw, instant: datetime) -> Any:
    """An instant as the column stores it: desk's text form on SQLite, a timestamptz."""
    if raw.dialect == "sqlite":
        return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return instant


def _raw(raw: Raw, start: datetime, end: datetime, now: datetime) -> None:
    """The same aggregates as the dashboard, from the facts, through the bare driver."""
    s, e, n = (_param(raw, value) for value in (start, min(end, now), now))
    since = _param(raw, now - timedelta(days=60))
    raw.fetch(_raw_contacts(raw.dialect), (s, e))
    raw.fetch(_raw_agents(raw.dialect), (s, e))
    raw.fetch(_RAW_COMPLAINTS, (n, n, e, s, s, e, s, e, s, e, s, e, s, e))
    raw.fetch(_RAW_HOT, (s, e))
    raw.fetch(_raw_attention(raw.dialect), (n,))
    raw.fetch(_RAW_CHURN, (since, since))


def _median_cpu_ms(func: Any, repeat: int) -> float:
    """The median CPU time of this process for ``func`` (SQLite's work is in it; on
    PostgreSQL only the client's part)."""
    samples = []
    for _ in range(repeat):
        started = time.process_time()
        func()
        samples.append((time.process_time() - started) * 1000)
    return statistics.median(samples)


def measure(ctx: BenchContext) -> list[Figure]:
    from desk.rules.periods import PeriodKind
    from desk.rules.permissions import Actor
    from desk.rules.policy import load_policy
    from desk.rules.vocab import Role
    from desk.services.dashboard import dashboard
    from desk.services.reports import ReportKind, report
    from desk.services.summaries import refresh_summaries

    db = ctx.db
    policy = load_policy(None)
    actor = Actor(user_id=0, login="bench", role=Role.SUPERVISOR)
    figures: list[Figure] = []
    started = time.perf_counter()
    rebuilt = refresh_summaries(db, policy=policy, full=True)
    rebuild_s = time.perf_counter() - started
    steady = []
    for _ in range(ctx.samples(3)):
        started = time.perf_counter()
        refresh_summaries(db, policy=policy)
        steady.append(time.perf_counter() - started)
    for name in PERIODS:
        kind = PeriodKind(name)
        data = dashboard(db, actor=actor, policy=policy, kind=kind)

        def once(kind: PeriodKind = kind) -> None:
            dashboard(db, actor=actor, policy=policy, kind=kind)

        value = median_ms(once, repeat=ctx.samples(7), warmup=1)
        cpu = _median_cpu_ms(once, ctx.samples(7))
        period = data.period
        with ctx.raw() as raw:
            baseline = median_ms(
                lambda period=period: _raw(raw, period.start, period.end, period.now),
                repeat=ctx.samples(3),
                warmup=1,
            )
        figures.append(
            Figure(
                f"dashboard.refresh_{name}",
                value,
                "ms",
                baseline=baseline,
                baseline_label=f"{ctx.dialect}: the same aggregates from the facts",
                target=TARGET_MS,
                note=f"{data.contacts.contacts:,} contacts, {data.attention.overdue:,} overdue; "
                f"this process's CPU {cpu:.0f} ms (on a loaded machine the wall time waits)",
            )
        )
    figures.append(
        Figure(
            "dashboard.summary_refresh",
            statistics.median(steady) * 1000,
            "ms",
            note="trailing 24 h of the hourly summaries and the churn snapshot",
        )
    )
    figures.append(
        Figure(
            "dashboard.summary_rebuild",
            rebuild_s,
            "s",
            note=f"every contact, {rebuilt.hour_rows:,} hour rows",
        )
    )
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as scratch:
        from desk.cli.report_writers import write_xlsx

        started = time.perf_counter()
        found = report(
            db,
            actor=Actor(user_id=0, login="bench", role=Role.ADMIN),
            policy=policy,
            kind=ReportKind.MONTHLY,
            first=(now - timedelta(days=30)).date(),
            last=(now - timedelta(days=1)).date(),
        )
        write_xlsx(found, Path(scratch) / "monthly.xlsx")
        seconds = time.perf_counter() - started
    figures.append(
        Figure("report.monthly_xlsx", seconds, "s", target=TARGET_REPORT_S, note="30 days")
    )
    return figures


def main(argv: list[str]) -> int:
    from desk.infra.database import Database

    target = argv[1]
    url = target if "://" in target else f"sqlite:///{Path(target).resolve()}"
    path = Path(url.split("sqlite:///", 1)[1]) if url.startswith("sqlite") else None
    db = Database.from_url(url)
    ctx = BenchContext(db=db, customers=0, days=0, seed=0, url=url, db_path=path)
    try:
        for figure in measure(ctx):
            ratio = f"{figure.ratio:.2f}x" if figure.ratio else "-"
            print(
                f"{ctx.database_label:10} {figure.name:28} {figure.value:10.1f} {figure.unit:3}"
                f" baseline {figure.baseline or 0:10.1f} {ratio:>7} {figure.note}"
            )
    finally:
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
