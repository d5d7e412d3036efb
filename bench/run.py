"""Run the benchmark: build a demo dataset, measure every figure module, print and save.

    python bench/run.py --customers 1000000 [--days 90] [--seed 1] [--backlog 0]
                        [--out FILE] [--only TOPIC,...] [--keep DIR]

The dataset is built with the demo builder (``desk.demo``) into a SQLite file in a
temporary directory (or in ``--keep DIR``, which is then left in place); the build is timed and
left in ``ctx.extra`` for the figures. Then every module ``bench/figures/<topic>.py`` (sorted
by name, or only the topics named) is imported and its ``measure(ctx)`` called. One table is
printed — figure, value, unit, baseline, ratio, target, ✓/✗ — and every figure is written as
JSON (default ``bench/results/<UTC timestamp>.json``).
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


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Measure desk against raw baselines.")
    parser.add_argument("--customers", type=int, required=True, help="customers in the dataset")
    parser.add_argument("--days", type=int, default=90, help="days of history (default 90)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--backlog",
        type=int,
        default=0,
        help="extra open work orders, many overdue (for the sweep)",
    )
    parser.add_argument("--out", type=Path, help="JSON file (default bench/results/<UTC>.json)")
    parser.add_argument("--only", help="comma-separated topics (figure modules) to run")
    parser.add_argument("--keep", type=Path, help="build the dataset in DIR and keep it")
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
    return args


def build(directory: Path, args: argparse.Namespace) -> BenchContext:
    from desk.demo import DemoParams, build_demo
    from desk.infra import migrations
    from desk.infra.database import Database

    params = DemoParams(
        customers=args.customers, days=args.days, seed=args.seed, backlog=args.backlog
    )
    path = directory / "bench.db"
    for suffix in ("", "-wal", "-shm"):
        leftover = path.with_name(path.name + suffix)
        if leftover.exists():
            leftover.unlink()
    db = Database.from_url(f"sqlite:///{path}")
    print(
        f"building {params.customers:,} customers, {params.days} days, seed {params.seed} "
        f"in {path}",
        flush=True,
    )

    def progress(step: str, rows: int, seconds: float) -> None:
        print(f"  {step:<42} {rows:>11,} rows {seconds:8.2f} s", flush=True)

    started = time.perf_counter()
    migrations.upgrade(db)
    summary = build_demo(db, params, progress=progress)
    seconds = time.perf_counter() - started
    print(f"built in {seconds:.1f} s", flush=True)
    return BenchContext(
        db_path=path,
        db=db,
        customers=params.customers,
        days=params.days,
        seed=params.seed,
        extra={
            "demo_build_seconds": seconds,
            "demo_rows": dict(summary.rows),
            "backlog": params.backlog,
        },
    )


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
        print(f"{topic}: {len(found)} figures in {time.perf_counter() - started:.1f} s", flush=True)
        figures.extend(found)
    return figures, failures


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def table(figures: Sequence[Figure]) -> str:
    header = ("figure", "value", "unit", "baseline", "ratio", "target", "")
    rows = [
        (
            figure.name,
            _number(figure.value),
            figure.unit,
            _number(figure.baseline),
            "-" if figure.ratio is None else f"{figure.ratio:.1f}×",
            _number(figure.target),
            {True: "✓", False: "✗", None: ""}[figure.within_target],
        )
        for figure in figures
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [
            str(cell).ljust(widths[i]) if i in (0, 2) else str(cell).rjust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def run_facts(ctx: BenchContext, args: argparse.Namespace) -> dict[str, Any]:
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "customers": ctx.customers,
        "days": ctx.days,
        "seed": ctx.seed,
        "backlog": args.backlog,
        "topics": list(args.topics),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average": load,
        "demo_rows": ctx.extra.get("demo_rows", {}),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="desk-bench-") as scratch:
        directory = args.keep or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        ctx = build(directory, args)
        try:
            figures, failures = measure(ctx, args.topics)
        finally:
            ctx.db.dispose()
        facts = run_facts(ctx, args)
    print()
    print(table(figures))
    out = args.out or RESULTS / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "run": facts,
                "figures": [figure.as_dict() for figure in figures],
                "failed_topics": failures,
            },
            ensure_ascii=False,
            indent=2,
        ),
        encoding="utf-8",
    )
    print(f"\nwritten {out}")
    if failures:
        print(f"failed: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
