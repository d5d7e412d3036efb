"""What every command shares: the database in force, output formats and failures."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from desk.cli.failures import (
    EXIT_DATABASE,
    EXIT_REFUSED,
    EXIT_USAGE,
    CommandFailed,
    note_database_file,
)

if TYPE_CHECKING:
    from desk.infra.database import Database
    from desk.rules.permissions import Actor
    from desk.settings import Settings


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


FORMAT_OPTION = typer.Option(OutputFormat.TEXT, "--format", help="text or json.")


@dataclass
class State:
    """Carried on ``ctx.obj`` from the root callback to every command."""

    db_url: str | None = None

    def settings(self) -> Settings:
        from desk.settings import load_settings

        if self.db_url is not None and not self.db_url.strip():
            fail("--db: the database URL is empty", code=EXIT_USAGE)
        return load_settings(database_url=self.db_url)

    def database_url(self) -> str:
        return self.settings().resolved_database_url


def state_of(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, State) else State()


def fail(message: str, *, code: int = EXIT_REFUSED) -> NoReturn:
    """Stop the command: the root group prints ``message`` on standard error as one line
    and exits ``code`` (see :mod:`desk.cli.failures`)."""
    raise CommandFailed(message, code)


def emit_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for an in-memory database or another kind)."""
    from sqlalchemy.engine import make_url

    from desk.infra.database import normalise_url

    parsed = make_url(normalise_url(url))
    parsed.get_dialect()  # an unknown kind of database or driver is named here
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        return None
    if database.startswith("file:"):  # a URI filename (uri=true)
        database = database.removeprefix("file:").split("?", 1)[0]
    return Path(database)


def open_database(state: State, *, check_schema: bool = True, create: bool = False) -> Database:
    """The database in force; refuses a schema this code does not match unless told not to.

    Only commands that make a database (``create``) may bring a SQLite file (or the data
    directory) into being: any other command on a missing file says so and creates nothing.
    """
    from desk.infra.database import Database
    from desk.infra.migrations import ensure_current

    settings = state.settings()
    url = settings.resolved_database_url
    path = sqlite_path(url)
    if path is not None and not path.exists():
        if not create:
            fail(
                f"no database at {path}: run `desk init` to create one (or check --db)",
                code=EXIT_DATABASE,
            )
        if settings.database_url is None:
            settings.ensure_data_dir()
    if path is not None:
        if path.is_dir():
            fail(f"{path} is a directory, not a database file", code=EXIT_DATABASE)
        note_database_file(path)
    db = Database.from_url(url)
    if check_schema:
        ensure_current(db)
    return db


def os_user() -> str:
    """The operating-system user running the command (named in the audit log)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for this uid (a container)
        return "unknown"


def shell_actor() -> Actor:
    """The admin at the command line: desk's ``shell`` actor, audited as ``cli:<os user>``."""
    from desk.rules.permissions import shell_actor as actor_for

    return actor_for(os_user())


def policy_failure(error: Exception) -> NoReturn:
    """A policy that cannot be used, every problem on one line."""
    from desk.rules.policy import PolicyError

    if isinstance(error, PolicyError):
        problems = "; ".join(str(problem) for problem in error.problems)
        fail(f"{error.source} has {len(error.problems)} problem(s): {problems}")
    fail(str(error))
