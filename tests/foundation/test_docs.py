"""The project's documents are its own: docs/ holds them, the README links each, and nothing
in the repository points at a document its users do not have."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted((ROOT / "docs").glob("*.md"))
CITED_TREES = ("src", "tests", "bench", "data", "docs")


def _text_files() -> list[Path]:
    files = [ROOT / "README.md"]
    for tree in CITED_TREES:
        files += [
            path
            for path in (ROOT / tree).rglob("*")
            if path.is_file()
            and path.suffix in {".py", ".md", ".toml", ".tcss", ".mako"}
            and ".egg-info" not in str(path)
        ]
    return files


def test_nothing_cites_the_design_brief() -> None:
    pattern = re.compile(r"DESIGN(\.md| ?§| \d)")
    offenders = [
        str(path.relative_to(ROOT))
        for path in _text_files()
        if path != Path(__file__) and pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert not offenders


@pytest.mark.parametrize("doc", [path.name for path in DOCS])
def test_the_readme_links_every_document(doc: str) -> None:
    assert f"(docs/{doc})" in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("doc", [path.name for path in DOCS])
def test_links_between_documents_resolve(doc: str) -> None:
    text = (ROOT / "docs" / doc).read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#:]+\.md)\)", text):
        assert (ROOT / "docs" / target).is_file(), target


def test_every_policy_section_is_in_the_reference() -> None:
    """docs/policy.md has a heading for every top-level section of the shipped policy."""
    import tomllib

    shipped = tomllib.loads((ROOT / "data" / "policy.toml").read_text(encoding="utf-8"))
    reference = (ROOT / "docs" / "policy.md").read_text(encoding="utf-8")
    missing = [
        key
        for key, value in shipped.items()
        if f"`[{key}]`" not in reference
        and f"`[{key}.<" not in reference
        and (isinstance(value, dict) or f"`{key}`" not in reference)
    ]
    assert not missing


def test_every_policy_key_is_in_the_reference() -> None:
    """Each key of the shipped policy (weekdays aside: ``hours.mon`` … ``hours.sun``) is named
    in docs/policy.md."""
    import tomllib
    from typing import Any

    shipped = tomllib.loads((ROOT / "data" / "policy.toml").read_text(encoding="utf-8"))
    reference = (ROOT / "docs" / "policy.md").read_text(encoding="utf-8")
    names: set[str] = set()

    def walk(value: Any, key: str) -> None:
        if isinstance(value, dict):
            for name, item in value.items():
                walk(item, name)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                walk(item, key)
        else:
            names.add(key)

    walk(shipped, "")
    weekdays = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
    assert sorted(name for name in names - weekdays if name not in reference) == []


def test_ci_runs_the_readmes_test_command_with_the_constraints() -> None:
    """.ci/run runs exactly the README's test command, and both install the versions
    pinned in constraints.txt."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = next(line for line in readme.splitlines() if line.endswith("&& .venv/bin/pytest"))
    assert "-c constraints.txt" in command
    assert command in ci.splitlines()
    pins = (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
    assert not any(line.lower().startswith(("desk==", "-e")) for line in pins)
