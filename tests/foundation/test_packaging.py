"""The wheel carries the whole package: every module, the catalogs, the migrations and the
top-level ``data/`` folder (the policy, knowledge articles and import mappings) as
``desk/data``. An editable install reads the same files through the same package name."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from importlib import resources
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _package_folders() -> set[str]:
    src = ROOT / "src"
    return {
        ".".join(path.parent.relative_to(src).parts) for path in (src / "desk").rglob("__init__.py")
    } | {"desk.data"}


def test_every_package_folder_is_listed_in_pyproject() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    assert listed == _package_folders()


def test_every_folder_with_modules_is_a_regular_package() -> None:
    """A folder of modules without ``__init__.py`` would be left out of the wheel."""
    src = ROOT / "src" / "desk"
    bare = sorted(
        str(folder.relative_to(src))
        for folder in {path.parent for path in src.rglob("*.py")}
        if not (folder / "__init__.py").exists()
    )
    assert not bare


def test_the_installed_package_finds_its_data() -> None:
    data = resources.files("desk.data")
    assert data.joinpath("policy.toml").is_file()
    assert any(entry.name.endswith(".md") for entry in data.joinpath("knowledge").iterdir())


@pytest.mark.slow
def test_the_built_wheel_carries_modules_catalogs_and_data(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("desk-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {
        "desk/" + str(path.relative_to(ROOT / "src" / "desk"))
        for path in (ROOT / "src" / "desk").rglob("*")
        if path.suffix in {".py", ".toml", ".tcss", ".mako"}
    }
    data = {
        "desk/data/" + str(path.relative_to(ROOT / "data"))
        for path in (ROOT / "data").rglob("*")
        if path.is_file() and path.suffix in {".py", ".toml", ".md"}
    }
    assert not sorted(modules - names)
    assert not sorted(data - names)
    assert "desk/data/policy.toml" in names
