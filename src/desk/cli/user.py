"""``desk user add|list|disable|reset-password``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from desk.cli.common import (
    FORMAT_OPTION,
    OutputFormat,
    emit_json,
    fail,
    open_database,
    shell_actor,
    state_of,
)
from desk.rules.vocab import Role

if TYPE_CHECKING:
    from desk.services.users import UserView

# Services load inside the commands: `desk` alone must not pay for SQLAlchemy first.

user_app = typer.Typer(help="Staff users and their roles.", no_args_is_help=True)

PASSWORD_OPTION = typer.Option(
    ...,
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="The password (prompted for when not given).",
)


def _row(view: UserView) -> dict[str, object]:
    return {
        "login": view.login,
        "name": view.display_name,
        "role": view.role.value,
        "department": view.department,
        "active": view.active,
        "locked_until": view.locked_until.isoformat() if view.locked_until else None,
        "last_login_at": view.last_login_at.isoformat() if view.last_login_at else None,
    }


@user_app.command("add")
def add(
    ctx: typer.Context,
    login: Annotated[str, typer.Argument(help="Login name: lower-case letters, digits, _ . -")],
    role: Annotated[Role, typer.Option("--role", help="agent, lead, complaint_lead, handler, …")],
    name: str = typer.Option(None, "--name", help="Display name (default: the login)."),
    department: str = typer.Option(None, "--department", help="Department code."),
    password: str = PASSWORD_OPTION,
) -> None:
    """Add a user."""
    from pydantic import ValidationError

    from desk.infra.errors import DeskError
    from desk.services import users

    db = open_database(state_of(ctx))
    try:
        new = users.NewUser(
            login=login,
            display_name=name or login,
            role=role,
            password=password,
            department=department,
        )
        view = users.add_user(db, actor=shell_actor(), new=new)
    except ValidationError as error:
        fail(users.validation_message(error).message)
    except DeskError as error:
        fail(error.message)
    typer.echo(f"added {view.login} ({view.role.value})")


@user_app.command("list")
def list_(ctx: typer.Context, output: OutputFormat = FORMAT_OPTION) -> None:
    """List users."""
    from desk.services import users

    db = open_database(state_of(ctx))
    rows = [_row(view) for view in users.list_users(db, actor=shell_actor())]
    if output is OutputFormat.JSON:
        emit_json(rows)
        return
    for row in rows:
        flags = "" if row["active"] else "  disabled"
        if row["locked_until"]:
            flags += f"  locked until {row['locked_until']}"
        typer.echo(
            f"{row['login']:<16} {row['role']:<15} {row['department'] or '-':<10} "
            f"{row['name']}{flags}"
        )


@user_app.command("disable")
def disable(ctx: typer.Context, login: str) -> None:
    """Disable a user: the login stops working; history stays."""
    from desk.infra.errors import DeskError
    from desk.services import users

    db = open_database(state_of(ctx))
    try:
        view = users.disable_user(db, actor=shell_actor(), login=login)
    except DeskError as error:
        fail(error.message)
    typer.echo(f"disabled {view.login}")


@user_app.command("reset-password")
def reset_password(ctx: typer.Context, login: str, password: str = PASSWORD_OPTION) -> None:
    """Set a new password and lift a login lock."""
    from desk.infra.errors import DeskError
    from desk.services import users

    db = open_database(state_of(ctx))
    try:
        view = users.reset_password(db, actor=shell_actor(), login=login, password=password)
    except DeskError as error:
        fail(error.message)
    typer.echo(f"password of {view.login} reset")


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
