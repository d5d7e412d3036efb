"""What every command shares: the database in force, output formats and failures."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NoReturn

import typer

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

        return load_settings(database_url=self.db_url)

    def database_url(self) -> str:
        return self.settings().resolved_database_url


def state_of(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, State) else State()


def fail(message: str, *, code: int = 1) -> NoReturn:
    """Print ``message`` on standard error and exit non-zero."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def emit_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


def open_database(state: State, *, check_schema: bool = True) -> Database:
    """The database in force; refuses a schema this desk does not match unless told not to."""
    from desk.infra.database import Database
    from desk.infra.errors import DeskError
    from desk.services.setup import ensure_current

    settings = state.settings()
    url = settings.resolved_database_url
    if url.startswith("sqlite:///") and settings.database_url is None:
        settings.ensure_data_dir()
    db = Database.from_url(url)
    if check_schema:
        try:
            ensure_current(db)
        except DeskError as error:
            fail(error.message)
    return db


def shell_actor() -> Actor:
    import getpass

    from desk.rules.permissions import shell_actor as actor_for

    return actor_for(getpass.getuser())
