"""The workspace figures run on a small demo (``--quick``: they only prove the module runs;
the figures themselves come from a full run at a million customers)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_workspace_figures_run_on_a_small_dataset(tmp_path: Path) -> None:
    out = tmp_path / "workspace.json"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--customers",
            "300",
            "--days",
            "3",
            "--only",
            "workspace",
            "--quick",
            "--out",
            str(out),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["failed_topics"] == []
    figures = {figure["name"]: figure for figure in data["figures"]}
    assert set(figures) == {
        "workspace.enter_to_card",
        "workspace.ring_to_pop",
        "workspace.keystroke_to_frame",
        "workspace.kb_query",
    }
    for figure in figures.values():
        assert figure["value"] > 0, figure
        assert figure["baseline"] > 0, figure
        assert figure["within_target"] is not None
