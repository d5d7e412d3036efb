"""Settings read from the environment (``DESK_*``) and the command line.

Nothing here runs at import time: call :func:`load_settings` when a command starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Language = Literal["en", "zh_CN"]


def _default_data_dir() -> Path:
    return Path(user_data_dir("desk", appauthor=False))


class Settings(BaseSettings):
    """Where desk keeps its data and how it speaks.

    ``DESK_DATABASE_URL``, ``DESK_LANG``, ``DESK_POLICY`` and ``DESK_DATA_DIR`` override the
    defaults; a ``--db`` option on the command line overrides ``DESK_DATABASE_URL``.
    """

    model_config = SettingsConfigDict(env_prefix="DESK_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = None
    lang: Language | None = None
    policy: Path | None = None

    @field_validator("lang", mode="before")
    @classmethod
    def _normalise_lang(cls, value: object) -> object:
        if isinstance(value, str):
            language = normalise_language(value)
            if language not in ("en", "zh_CN"):
                raise ValueError(f"{value!r} is not a language desk speaks (en or zh_CN)")
            return language
        return value

    @field_validator("data_dir", mode="before")
    @classmethod
    def _usable_data_dir(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            raise ValueError("is empty; unset it or name a directory")
        if isinstance(value, (str, Path)):
            path = Path(value).expanduser()
            if path.exists() and not path.is_dir():
                raise ValueError(f"{str(path)!r} is not a directory")
            return path
        return value

    @property
    def resolved_database_url(self) -> str:
        """The database in force: the explicit URL, else a SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'desk.db'}"

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir


def normalise_language(value: str) -> str:
    """Map locale spellings (``zh_CN.UTF-8``, ``zh-cn``, ``en_US``) to a catalog name."""
    base = value.split(".")[0].replace("-", "_").lower()
    if base.startswith("zh"):
        return "zh_CN"
    if base.startswith("en") or base in {"c", "posix", ""}:
        return "en"
    return value


def load_settings(**overrides: object) -> Settings:
    """Read the environment; ``overrides`` with a value of ``None`` are ignored."""
    given = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**given)  # type: ignore[arg-type]
