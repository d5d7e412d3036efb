from __future__ import annotations

from pathlib import Path

import pytest

from desk.settings import load_settings, normalise_language


def test_default_database_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.data_dir == tmp_path / "data"
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'data' / 'desk.db'}"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DESK_DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("DESK_LANG", "zh_CN.UTF-8")
    monkeypatch.setenv("DESK_POLICY", str(tmp_path / "p.toml"))
    settings = load_settings()
    assert settings.resolved_database_url == "postgresql://u@h/db"
    assert settings.lang == "zh_CN"
    assert settings.policy == tmp_path / "p.toml"


def test_command_line_beats_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESK_DATABASE_URL", "sqlite:///env.db")
    assert load_settings(database_url="sqlite:///cli.db").resolved_database_url == (
        "sqlite:///cli.db"
    )
    assert load_settings(database_url=None).resolved_database_url == "sqlite:///env.db"


def test_unknown_language_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESK_LANG", "fr_FR")
    with pytest.raises(ValueError, match="lang"):
        load_settings()


@pytest.mark.parametrize(
    ("given", "expected"),
    [("zh_CN.UTF-8", "zh_CN"), ("zh-cn", "zh_CN"), ("en_US.UTF-8", "en"), ("C", "en")],
)
def test_locale_spellings(given: str, expected: str) -> None:
    assert normalise_language(given) == expected


def test_nothing_is_built_at_import(tmp_path: Path) -> None:
    """Importing desk creates no data dir, no database file and no engine."""
    import os
    import subprocess
    import sys

    data_dir = tmp_path / "never"
    code = (
        "import desk.settings, desk.infra.database, desk.services.users, desk.cli, "
        "desk.models, gc, sqlalchemy; "
        "print(sum(isinstance(o, sqlalchemy.engine.Engine) for o in gc.get_objects()))"
    )
    env = {**os.environ, "DESK_DATA_DIR": str(data_dir)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "0"
    assert not data_dir.exists()
