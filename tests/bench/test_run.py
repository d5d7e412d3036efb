"""``bench/run.py`` end to end on a small dataset: it builds, measures, prints and saves."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
    assert (keep / "bench.db").exists()


def test_unknown_topic_is_refused(tmp_path: Path) -> None:
    result = _run("--customers", "100", "--only", "nosuchtopic", cwd=tmp_path)
    assert result.returncode != 0
    assert "nosuchtopic" in result.stderr
