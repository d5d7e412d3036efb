"""The layers of docs/architecture.md import only downward; each is checked in a fresh
interpreter."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import pytest

import desk

LAYERS = {
    # layer: package prefixes it must never drag in
    "desk.rules": [
        "desk.models",
        "desk.infra",
        "desk.demo",
        "desk.services",
        "desk.screens",
        "desk.widgets",
        "desk.app",
        "desk.cli",
        "sqlalchemy",
        "sqlmodel",
        "textual",
    ],
    "desk.models": [
        "desk.infra",
        "desk.services",
        "desk.demo",
        "desk.screens",
        "desk.widgets",
        "desk.app",
        "desk.cli",
        "textual",
    ],
    "desk.infra": [
        "desk.services",
        "desk.demo",
        "desk.screens",
        "desk.widgets",
        "desk.app",
        "desk.cli",
        "textual",
    ],
    "desk.services": [
        "desk.demo",
        "desk.screens",
        "desk.widgets",
        "desk.app",
        "desk.cli",
        "textual",
    ],
    "desk.demo": ["desk.screens", "desk.widgets", "desk.app", "desk.cli", "textual"],
}


def _modules_of(package: str) -> list[str]:
    module = __import__(package, fromlist=["_"])
    names = [package]
    for info in pkgutil.walk_packages(module.__path__, prefix=package + "."):
        names.append(info.name)
    return names


def _loaded_after_importing(modules: list[str]) -> set[str]:
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


@pytest.mark.parametrize("layer", list(LAYERS))
def test_layer_imports_only_downward(layer: str) -> None:
    """Import every module of the layer in a fresh interpreter; nothing above may load."""
    modules = [name for name in _modules_of(layer) if "migrations" not in name]
    loaded = _loaded_after_importing(modules)
    forbidden = sorted(
        name
        for name in loaded
        for banned in LAYERS[layer]
        if name == banned or name.startswith(banned + ".")
    )
    assert not forbidden, f"{layer} drags in {forbidden[:8]}"


def test_rules_never_read_the_clock() -> None:
    """Rules take ``now`` as a parameter: no ``datetime.now``/``utcnow``/``date.today``."""
    from pathlib import Path

    root = Path(desk.__file__).parent / "rules"
    offenders = [
        str(path.name)
        for path in root.rglob("*.py")
        for needle in ("datetime.now(", ".utcnow(", "date.today(", "time.time(")
        if needle in path.read_text(encoding="utf-8")
    ]
    assert not offenders


def test_screens_hold_no_sql() -> None:
    from pathlib import Path

    root = Path(desk.__file__).parent
    places = [root / "screens", root / "widgets", root / "app.py"]
    offenders = []
    for place in places:
        files = [place] if place.is_file() else list(place.rglob("*.py")) if place.exists() else []
        for path in files:
            text = path.read_text(encoding="utf-8")
            if "sqlalchemy" in text or "sqlmodel" in text or "desk.models" in text:
                offenders.append(path.name)
    assert not offenders


def test_the_app_stays_a_shell() -> None:
    """app.py holds modes, global keys, timers and the worker-error handler; the rest lives
    on the screens, in the registry and in services (under 300 lines)."""
    from pathlib import Path

    lines = (Path(desk.__file__).parent / "app.py").read_text(encoding="utf-8").splitlines()
    assert len(lines) < 300
