"""Run the benchmark: build demo datasets, measure every figure module, print and save.

    python bench/run.py --customers 1000000 [--days 30] [--seed 1] [--backlog 0]
                        [--db URL] [--compare] [--reuse] [--only TOPIC,...]
                        [--keep DIR] [--out FILE]

Where the dataset lives:

- by default a SQLite file in a temporary directory (``--keep DIR``: in DIR, left in place);
- ``--db URL``: that database (PostgreSQL, or a SQLite file). A demo is built into it with
  ``desk.demo`` (it must be empty or hold a demo, which is replaced);
- ``--compare``: both, a SQLite file and the PostgreSQL database of ``--db`` (or of
  ``DESK_BENCH_PG_URL``), printed side by side in one table.

``--customers 1000000,3000000`` measures each size in turn (each database is rebuilt for each
size) and prints how every figure grows from the first size to the others, next to how the
data grows. ``--reuse`` measures a database that already holds a demo of the same parameters
without building it again (no build figure then).

Every module ``bench/figures/<topic>.py`` (sorted by name, or only the topics named) is
imported and its ``measure(ctx)`` called with a :class:`~bench.core.BenchContext` on the
dataset (the contract is in ``bench/core.py``). The table shows each figure, its baseline
from the same run, the ratio and the target (✓/✗); every figure is written as JSON (default
``bench/results/<UTC timestamp>.json``) with the run's facts: date, load average, sizes.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.core import BenchContext, Figure  # noqa: E402

FIGURES = ROOT / "bench" / "figures"
RESULTS = ROOT / "bench" / "results"


def topics() -> list[str]:
    return sorted(path.stem for path in FIGURES.glob("*.py") if not path.stem.startswith("_"))


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not sizes or any(size <= 0 for size in sizes):
        raise argparse.ArgumentTypeError(f"sizes must be positive: {text!r}")
    return sizes


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Measure desk against raw baselines.")
    parser.add_argument(
        "--customers",
        type=_sizes,
        required=True,
        help="customers in the dataset; several, comma-separated, for growth (1000000,3000000)",
    )
    parser.add_argument("--days", type=int, default=90, help="days of history (default 90)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--backlog",
        type=int,
        default=0,
        help="extra open work orders, many overdue (for the sweep and the queues)",
    )
    parser.add_argument("--db", help="database URL to build the dataset in (PostgreSQL)")
    parser.add_argument(
        "--compare",
        action="store_true",
        help="measure on SQLite and on PostgreSQL (--db or DESK_BENCH_PG_URL), side by side",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure a database already holding a demo of these parameters without rebuilding",
    )
    parser.add_argument("--out", type=Path, help="JSON file (default bench/results/<UTC>.json)")
    parser.add_argument("--only", help="comma-separated topics (figure modules) to run")
    parser.add_argument("--keep", type=Path, help="build SQLite datasets in DIR and keep them")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer samples per figure and shorter scenarios (for tests, not for figures)",
    )
    args = parser.parse_args(argv)
    known = topics()
    if args.only:
        wanted = [topic.strip() for topic in args.only.split(",") if topic.strip()]
        unknown = [topic for topic in wanted if topic not in known]
        if unknown:
            parser.error(
                f"--only: no figure module {', '.join(unknown)} (known: {', '.join(known)})"
            )
        args.topics = wanted
    else:
        args.topics = known
    pg = args.db or os.environ.get("DESK_BENCH_PG_URL")
    if args.compare:
        if not pg or pg.startswith("sqlite"):
            parser.error("--compare needs a PostgreSQL database: --db URL or DESK_BENCH_PG_URL")
        args.databases = [None, pg]
    else:
        args.databases = [args.db]
    return args


# --- datasets -------------------------------------------------------------------------------


def _sqlite_url(directory: Path, customers: int) -> str:
    return f"sqlite:///{directory / f'bench-{customers}.db'}"


def dataset(url: str, customers: int, args: argparse.Namespace) -> BenchContext:
    """A context on a demo of ``customers`` at ``url``: built now, or reused (``--reuse``)."""
    from desk.demo import DemoParams, build_demo, inspect_target
    from desk.infra.database import Database, normalise_url

    url = normalise_url(url)
    params = DemoParams(customers=customers, days=args.days, seed=args.seed, backlog=args.backlog)
    db = Database.from_url(url)
    path = Path(url.split("///", 1)[1]) if url.startswith("sqlite") else None
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    where = path or db.engine.url.render_as_string(hide_password=True)
    extra: dict[str, Any] = {"backlog": params.backlog}
    target = inspect_target(db)
    if args.reuse and target.params == params and target.schema_current:
        print(f"reusing the demo at {where} (built {target.built_at})", flush=True)
        extra["demo_rows"] = _rows(db)
    else:
        print(
            f"building {params.customers:,} customers, {params.days} days, seed {params.seed} "
            f"at {where}",
            flush=True,
        )

        def progress(step: str, rows: int, seconds: float) -> None:
            print(f"  {step:<42} {rows:>11,} rows {seconds:8.2f} s", flush=True)

        started = time.perf_counter()
        load_before = _load()
        summary = build_demo(db, params, progress=progress, replace=True)
        seconds = time.perf_counter() - started
        print(f"built in {seconds:.1f} s (load {load_before} → {_load()})", flush=True)
        extra.update(
            demo_build_seconds=seconds,
            demo_rows=dict(summary.rows),
            demo_build_load=[load_before, _load()],
        )
    return BenchContext(
        db=db,
        customers=customers,
        days=params.days,
        seed=params.seed,
        url=url,
        db_path=path,
        quick=args.quick,
        extra=extra,
    )


def _rows(db: Any) -> dict[str, int]:
    from sqlalchemy import func, select, table

    with db.engine.connect() as connection:
        return {
            name: int(connection.execute(select(func.count()).select_from(table(name))).scalar())
            for name in ("customer", "contact", "work_order", "work_order_event", "bill")
        }


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


# --- measuring ------------------------------------------------------------------------------


def measure(ctx: BenchContext, wanted: Sequence[str]) -> tuple[list[Figure], list[str]]:
    figures: list[Figure] = []
    failures: list[str] = []
    for topic in wanted:
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.figures.{topic}")
            found = list(module.measure(ctx))
        except Exception:  # a broken figure module must not hide the others
            failures.append(topic)
            print(f"{topic}: FAILED\n{traceback.format_exc()}", file=sys.stderr, flush=True)
            continue
        print(
            f"{topic}: {len(found)} figures in {time.perf_counter() - started:.1f} s "
            f"(load {_load()})",
            flush=True,
        )
        figures.extend(found)
    return figures, failures


@dataclass
class Run:
    """The figures of one database at one size."""

    database: str  # "SQLite" | "PostgreSQL"
    customers: int
    facts: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.database} {self.customers:,}"


def run_facts(ctx: BenchContext, args: argparse.Namespace) -> dict[str, Any]:
    try:
        load: Any = os.getloadavg()
    except OSError:
        load = None
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": ctx.database_label,
        "customers": ctx.customers,
        "days": ctx.days,
        "seed": ctx.seed,
        "backlog": args.backlog,
        "topics": list(args.topics),
        "quick": args.quick,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": _server_version(ctx),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average": load,
        "demo_build_seconds": ctx.extra.get("demo_build_seconds"),
        "demo_build_load": ctx.extra.get("demo_build_load"),
        "demo_rows": ctx.extra.get("demo_rows", {}),
    }


def _server_version(ctx: BenchContext) -> str | None:
    if ctx.is_sqlite:
        return None
    with ctx.raw() as raw:
        return str(raw.scalar("SHOW server_version"))


# --- tables ---------------------------------------------------------------------------------


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _ratio(figure: Figure | None) -> str:
    return "-" if figure is None or figure.ratio is None else f"{figure.ratio:.1f}×"


def _mark(figure: Figure | None) -> str:
    return "" if figure is None else {True: "✓", False: "✗", None: ""}[figure.within_target]


def _render(header: Sequence[str], rows: Sequence[Sequence[str]], left: Sequence[int]) -> str:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [
            str(cell).ljust(widths[i]) if i in left else str(cell).rjust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def table(figures: Sequence[Figure]) -> str:
    """One run: figure, value, unit, baseline, ratio, target, ✓/✗."""
    header = ("figure", "value", "unit", "baseline", "ratio", "target", "")
    rows = [
        (
            figure.name,
            _number(figure.value),
            figure.unit,
            _number(figure.baseline),
            _ratio(figure),
            _number(figure.target),
            _mark(figure),
        )
        for figure in figures
    ]
    return _render(header, rows, (0, 2))


def _names(runs: Sequence[Run]) -> list[str]:
    names: list[str] = []
    for run in runs:
        for figure in run.figures:
            if figure.name not in names:
                names.append(figure.name)
    return names


def _by_name(run: Run) -> dict[str, Figure]:
    return {figure.name: figure for figure in run.figures}


def compare_table(runs: Sequence[Run]) -> str:
    """Several databases at one size: per database the value, its baseline, the ratio and
    the target (they may differ by database)."""
    header = ["figure", "unit"]
    for run in runs:
        header += [run.database, "baseline", "ratio", "target", ""]
    found = [_by_name(run) for run in runs]
    rows = []
    for name in _names(runs):
        some = next(item[name] for item in found if name in item)
        row = [name, some.unit]
        for item in found:
            figure = item.get(name)
            row += [
                _number(figure.value) if figure else "-",
                _number(figure.baseline) if figure else "-",
                _ratio(figure),
                _number(figure.target) if figure else "-",
                _mark(figure),
            ]
        rows.append(row)
    return _render(header, rows, (0, 1))


def growth_table(runs: Sequence[Run]) -> str:
    """Sizes of one or more databases: each figure at each size, and how much it grew from
    the first size, next to how much the data grew."""
    databases = list(dict.fromkeys(run.database for run in runs))
    sizes = sorted({run.customers for run in runs})
    first = sizes[0]
    header = ["figure", "unit"]
    for database in databases:
        header += [f"{database} {size / 1e6:g}M" for size in sizes]
        header += [f"× {size / first:g} data" for size in sizes[1:]]
    index = {(run.database, run.customers): _by_name(run) for run in runs}
    rows = []
    for name in _names(runs):
        unit = next(fig.unit for item in index.values() if (fig := item.get(name)) is not None)
        row = [name, unit]
        for database in databases:
            values = [index.get((database, size), {}).get(name) for size in sizes]
            row += [_number(figure.value) if figure else "-" for figure in values]
            base = values[0]
            for figure in values[1:]:
                if base is None or figure is None or base.value == 0:
                    row.append("-")
                else:
                    row.append(f"×{figure.value / base.value:.2f}")
        rows.append(row)
    return _render(header, rows, (0, 1))


# --- main -----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="desk-bench-") as scratch:
        directory = args.keep or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        for customers in args.customers:
            for database in args.databases:
                url = database or _sqlite_url(directory, customers)
                ctx = dataset(url, customers, args)
                print(f"measuring on {ctx.database_label}, {customers:,} customers", flush=True)
                try:
                    figures, failures = measure(ctx, args.topics)
                    facts = run_facts(ctx, args)
                finally:
                    ctx.db.dispose()
                runs.append(Run(ctx.database_label, customers, facts, figures, failures))
                if database is None and args.keep is None and len(args.customers) > 1:
                    assert ctx.db_path is not None  # a size measured: its file is not kept
                    for suffix in ("", "-wal", "-shm"):
                        ctx.db_path.with_name(ctx.db_path.name + suffix).unlink(missing_ok=True)
    print()
    print(_heading(runs))
    if len(args.customers) > 1:
        print(growth_table(runs))
        print()
    if len(args.databases) > 1:
        for customers in args.customers:
            print(f"{customers:,} customers")
            print(compare_table([run for run in runs if run.customers == customers]))
            print()
    else:
        for run in runs:
            print(f"{run.key} customers")
            print(table(run.figures))
            print()
    out = args.out or RESULTS / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    failed = sorted({f"{run.key}: {topic}" for run in runs for topic in run.failures})
    out.write_text(
        json.dumps(
            {
                "runs": [
                    {
                        "run": run.facts,
                        "figures": [figure.as_dict() for figure in run.figures],
                        "failed_topics": run.failures,
                    }
                    for run in runs
                ],
                # The first run, where a single one was asked for, also at the top level.
                "run": runs[0].facts,
                "figures": [figure.as_dict() for figure in runs[0].figures],
                "failed_topics": runs[0].failures,
            },
            ensure_ascii=False,
            indent=2,
        ),
        encoding="utf-8",
    )
    print(f"written {out}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _heading(runs: Sequence[Run]) -> str:
    facts = runs[0].facts
    loads = ", ".join(
        f"{run.key}: {run.facts['load_average'][0]:.2f}"
        for run in runs
        if run.facts.get("load_average")
    )
    return (
        f"desk benchmark, {facts['at'][:10]}, {facts['days']} days of history, seed "
        f"{facts['seed']}, {facts['cpus']} CPUs; load average (1 min) after each run: {loads}\n"
    )


if __name__ == "__main__":
    sys.exit(main())
