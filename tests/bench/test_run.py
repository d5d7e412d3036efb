"""``bench/run.py`` end to end on a small dataset: it builds, measures, prints and saves."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from desk.infra.database import create_engine
from tests.conftest import truncate_all

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        check=False,
    )


def _figures(tmp_path: Path, *args: str) -> dict[str, dict[str, Any]]:
    """``bench/run.py ARGS`` into a JSON file: its figures by name (the run must succeed)."""
    out = tmp_path / "figures.json"
    result = _run(*args, "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return {f["name"]: f for f in json.loads(out.read_text(encoding="utf-8"))["figures"]}


def test_runs_the_foundation_figures_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    keep = tmp_path / "data"
    result = _run(
        "--customers",
        "2000",
        "--days",
        "5",
        "--only",
        "foundation",
        "--out",
        str(out),
        "--keep",
        str(keep),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    figures = {figure["name"]: figure for figure in data["figures"]}
    assert set(figures) == {"demo.build", "search.phone_lookup", "db.size"}
    for figure in figures.values():
        assert figure["value"] > 0
        assert figure["unit"] in {"s", "ms", "MB"}
    assert figures["demo.build"]["baseline"] > 0
    assert figures["search.phone_lookup"]["within_target"] is not None
    assert data["run"]["customers"] == 2000
    assert data["run"]["demo_rows"]["customer"] == 2000
    assert data["failed_topics"] == []
    for name in figures:
        assert name in result.stdout  # the printed table
    assert (keep / "bench-2000.db").exists()


def test_unknown_topic_is_refused(tmp_path: Path) -> None:
    result = _run("--customers", "100", "--only", "nosuchtopic", cwd=tmp_path)
    assert result.returncode != 0
    assert "nosuchtopic" in result.stderr


@pytest.mark.postgres
def test_compares_sqlite_and_postgresql_and_prints_growth(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Two sizes on both databases: every figure on each, one table side by side per size,
    and one table of growth from the first size."""
    pg_url: str = request.getfixturevalue("_pg_url")
    engine = create_engine(pg_url)
    # the worker's database holds what its last PostgreSQL test left (they empty it when they
    # start, not when they end): a demo is built only into an empty one
    truncate_all(engine)
    out = tmp_path / "result.json"
    try:
        result = _run(
            "--customers",
            "200,400",
            "--days",
            "3",
            "--only",
            "foundation,card,search,terminals",
            "--compare",
            "--quick",
            "--db",
            pg_url,
            "--out",
            str(out),
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        data = json.loads(out.read_text(encoding="utf-8"))
        runs = [(run["run"]["database"], run["run"]["customers"]) for run in data["runs"]]
        assert runs == [("SQLite", 200), ("PostgreSQL", 200), ("SQLite", 400), ("PostgreSQL", 400)]
        names = [sorted(figure["name"] for figure in run["figures"]) for run in data["runs"]]
        assert all(found == names[0] for found in names)
        expected = {"demo.build", "search.phone_exact", "card.open", "terminals.lookup_p99"}
        assert expected <= set(names[0])
        for run in data["runs"]:
            for figure in run["figures"]:
                if figure["name"] == "terminals.errors":
                    assert figure["value"] == 0, figure["note"]
                elif figure["name"] in {"demo.build", "card.open", "search.phone_exact"}:
                    assert figure["value"] > 0, figure
                    assert figure["baseline"] > 0, figure
        out_text = result.stdout
        growth = next(line for line in out_text.splitlines() if "× 2 data" in line)
        assert "SQLite 0.0002M" in growth
        assert "PostgreSQL 0.0004M" in growth
        side_by_side = [
            line
            for line in out_text.splitlines()
            if line.startswith("figure") and "baseline" in line and "PostgreSQL" in line
        ]
        assert len(side_by_side) == 2  # one table per size
    finally:
        truncate_all(engine)
        engine.dispose()


def test_the_dashboard_figures_run_on_a_small_dataset(tmp_path: Path) -> None:
    figures = _figures(tmp_path, "--customers", "300", "--days", "5", "--only", "dashboard")
    for period in ("today", "shift", "7d", "month"):
        figure = figures[f"dashboard.refresh_{period}"]
        assert figure["value"] > 0
        assert figure["baseline"] > 0
        assert figure["target"] == 300
    assert figures["report.monthly_xlsx"]["target"] == 10
    assert figures["dashboard.summary_rebuild"]["unit"] == "s"


def test_the_floor_figures_run_on_a_small_backlog(tmp_path: Path) -> None:
    figures = _figures(
        tmp_path,
        "--customers",
        "200",
        "--days",
        "3",
        "--backlog",
        "120",
        "--only",
        "floor",
        "--quick",
    )
    targets = {
        "floor.queue_first_page": 100,
        "floor.queue_page_swap": 50,
        "floor.open_work_order": 50,
        "floor.open_work_order_read": 50,
        "floor.handover_summary": 300,
        "floor.change_seen": 2000,
    }
    for name, target in targets.items():
        figure = figures[name]
        assert figure["value"] > 0, figure
        assert figure["baseline"] > 0, figure
        assert figure["target"] == target
    assert "open work orders" in figures["floor.queue_first_page"]["note"]


def test_the_import_figures_run_on_a_small_file(tmp_path: Path) -> None:
    """CSV twice, then an XLSX of other customers (quick: 3,000 and 300 rows), beside the
    bare driver's load; each goal scaled to the rows."""
    figures = _figures(
        tmp_path, "--customers", "200", "--days", "3", "--only", "imports", "--quick"
    )
    assert set(figures) == {"import.customers", "import.customers_again", "import.customers_xlsx"}
    assert figures["import.customers"]["baseline"] > 0
    assert figures["import.customers"]["target"] == 60 * 3_000 / 1_000_000
    assert figures["import.customers_xlsx"]["target"] == 60 * 300 / 1_000_000
    assert "XLSX of 300 other new customers" in figures["import.customers_xlsx"]["note"]
