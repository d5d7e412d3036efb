"""``python -m bench.compare_lookups`` on a small demo, with this checkout on both sides: the
same code against itself, so no kind may come out decidedly apart."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
from bench.compare_lookups import KINDS

from desk.clock import FixedClock
from desk.demo import DemoParams, build_demo
from desk.infra.database import Database
from tests.conftest import T0

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_file(_sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo of 300 customers over 3 days, built once for this module."""
    path = tmp_path_factory.mktemp("compare") / "demo.db"
    shutil.copyfile(_sqlite_template, path)
    db = Database.from_url(f"sqlite:///{path}", clock=FixedClock(T0))
    build_demo(db, DemoParams(customers=300, days=3, seed=5))
    db.dispose()
    return path


def _compare(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench.compare_lookups", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_same_code_on_both_sides_is_not_told_apart(demo_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "pairs.json"
    result = _compare(
        demo_file,
        "--other",
        ROOT,
        "--other-python",
        sys.executable,
        "--queries",
        "16",
        "--out",
        out,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    for side in ("this", "other"):
        assert data["run"][side]["api"] == "desk.services.search"
        assert data["run"][side]["desk"].startswith(str(ROOT / "src"))
    assert [kind["kind"] for kind in data["kinds"]] == list(KINDS)
    pairs = data["pairs"]
    queries = [pair["query"] for pair in pairs]
    assert len(queries) == len(set(queries)) == 16 * len(KINDS)  # every one new to both
    for kind in KINDS:  # each code ran first for half of a kind's queries
        firsts = [pair["first"] for pair in pairs if pair["kind"] == kind]
        assert firsts.count("this") == firsts.count("other") == 8
    for pair in pairs:
        assert len(pair["this_ms"]) == len(pair["other_ms"]) == 3
        assert pair["this_hits"] == pair["other_hits"]  # the same code finds the same
    for kind in data["kinds"]:
        low, high = kind["interval"]
        assert low <= kind["ratio"] <= high
        query_low, query_high = kind["query_ratio_interval"]
        assert query_low <= kind["median_query_ratio"] <= query_high
        assert 0.5 < kind["median_query_ratio"] < 2
        assert 0.5 < kind["ratio"] < 2
        assert kind["verdict"] != "over"
        assert kind["hits_differ"] == 0
    # Two processes of the same code differ by a few per cent, and on a loaded machine one of
    # them can be the slower for a whole run: then most kinds' intervals leave out 1.0 (seen
    # in CI: four of seven, 16 queries a kind, beside a test suite on both CPUs), so the
    # intervals are not held to contain it. What the pairing must not do is lean one way:
    # taken over the kinds, the ratios centre near 1.
    assert 0.85 < statistics.median(kind["ratio"] for kind in data["kinds"]) < 1.15, data["kinds"]
    assert data["every_kind_within_10_percent"] in {"yes", "undecided"}
    for kind in KINDS:
        assert kind in result.stdout  # the printed table
    assert "every kind within 10 %" in result.stdout


@pytest.mark.parametrize(
    ("problem", "says"),
    [
        ("missing file", "no database file"),
        ("checkout without desk", "holds no desk package"),
        ("no python there", "no Python interpreter"),
        ("python that cannot run desk", "the other worker"),
    ],
)
def test_bad_input_is_one_sentence_and_a_failure(
    problem: str, says: str, demo_file: Path, tmp_path: Path
) -> None:
    db_file: Path = demo_file
    other, python = ROOT, Path(sys.executable)
    if problem == "missing file":
        db_file = tmp_path / "nothing.db"
    elif problem == "checkout without desk":
        other = tmp_path
    elif problem == "no python there":
        python = tmp_path / "bin" / "python"
    else:
        python = Path(shutil.which("false") or "/bin/false")
    result = _compare(db_file, "--other", other, "--other-python", python, "--queries", "2")
    assert result.returncode != 0
    assert says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
