"""``desk user add|list|enable|disable|set-role|set-department|reset-password``.

Passwords are never given on the command line (where ``ps`` and the shell history would keep
them): they are prompted for twice with the input hidden, or read from standard input with
``--password-stdin`` (one line; only its line ending is removed, spaces are kept).
"""

from __future__ import annotations

import sys
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
from desk.cli.failures import EXIT_USAGE, printable
from desk.rules.vocab import Role

if TYPE_CHECKING:
    from desk.services.users import UserView

# Services load inside the commands: `desk` alone must not pay for SQLAlchemy first.

user_app = typer.Typer(help="Staff users and their roles.", no_args_is_help=True)

STDIN_OPTION = typer.Option(
    False,
    "--password-stdin",
    help="Read the password from standard input (one line) instead of prompting.",
)


def read_password(from_stdin: bool) -> str:
    """The new password: one line of standard input, or typed twice at a hidden prompt."""
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            fail("--password-stdin: standard input is empty", code=EXIT_USAGE)
        return line.removesuffix("\n").removesuffix("\r")
    value: str = typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True, show_default=False
    )
    return value


def _row(view: UserView) -> dict[str, object]:
    return {
        "login": view.login,
        "name": view.display_name,
        "role": view.role.value,
        "department": view.department,
        "active": view.active,
        "system": view.is_system,
        "locked_until": view.locked_until.isoformat() if view.locked_until else None,
        "last_login_at": view.last_login_at.isoformat() if view.last_login_at else None,
    }


def _said(view: UserView) -> str:
    department = f", department {view.department}" if view.department else ""
    state = "active" if view.active else "disabled"
    return f"{view.login} ({view.role.value}{department}, {state})"


@user_app.command("add")
def add(
    ctx: typer.Context,
    login: Annotated[str, typer.Argument(help="Login name: lower-case letters, digits, _ . -")],
    role: Annotated[Role, typer.Option("--role", help="agent, lead, complaint_lead, handler, …")],
    name: str = typer.Option(None, "--name", help="Display name (default: the login)."),
    department: str = typer.Option(None, "--department", help="Department code."),
    password_stdin: bool = STDIN_OPTION,
) -> None:
    """Add a user (the password is prompted for, or read with --password-stdin)."""
    from pydantic import ValidationError

    from desk.services import users

    db = open_database(state_of(ctx))
    password = read_password(password_stdin)
    try:
        new = users.NewUser(
            login=login,
            display_name=name or login,
            role=role,
            password=password,
            department=department,
        )
    except ValidationError as error:
        fail(users.validation_message(error).message)
    view = users.add_user(db, actor=shell_actor(), new=new)
    typer.echo(f"added {printable(_said(view))}")


@user_app.command("list")
def list_(
    ctx: typer.Context,
    show_all: bool = typer.Option(
        False, "--all", help="Also desk's own actors (scheduled jobs, the command line)."
    ),
    output: OutputFormat = FORMAT_OPTION,
) -> None:
    """List users: login, role, department, name, and whether disabled or locked."""
    from desk.services import users

    db = open_database(state_of(ctx))
    views = users.list_users(db, actor=shell_actor(), include_system=show_all)
    rows = [_row(view) for view in views]
    if output is OutputFormat.JSON:
        emit_json(rows)
        return
    for row in rows:
        flags = "" if row["active"] else "  disabled"
        if row["system"]:
            flags += "  desk's own actor"
        if row["locked_until"]:
            flags += f"  locked until {row['locked_until']}"
        typer.echo(
            printable(
                f"{row['login']:<16} {row['role']:<15} {row['department'] or '-':<10} "
                f"{row['name']}{flags}"
            )
        )


@user_app.command("disable")
def disable(ctx: typer.Context, login: str) -> None:
    """Disable a user: the login stops working, a running console is refused at its next
    action; history stays. The last active admin cannot be disabled."""
    from desk.services import users

    view = users.disable_user(open_database(state_of(ctx)), actor=shell_actor(), login=login)
    typer.echo(f"disabled {printable(view.login)}")


@user_app.command("enable")
def enable(ctx: typer.Context, login: str) -> None:
    """Enable a disabled user again (a login lock is lifted too)."""
    from desk.services import users

    view = users.enable_user(open_database(state_of(ctx)), actor=shell_actor(), login=login)
    typer.echo(f"enabled {printable(view.login)}")


@user_app.command("set-role")
def set_role(ctx: typer.Context, login: str, role: Role) -> None:
    """Give a user another role (a running console uses it from its next action)."""
    from desk.services import users

    view = users.set_role(open_database(state_of(ctx)), actor=shell_actor(), login=login, role=role)
    typer.echo(f"{printable(_said(view))}")


@user_app.command("set-department")
def set_department(
    ctx: typer.Context,
    login: str,
    department: str = typer.Argument(..., help="Department code, or - for none."),
) -> None:
    """Tie a user to a department (handlers see its work orders); - unties them."""
    from desk.services import users

    code = None if department.strip() in ("-", "") else department
    view = users.set_department(
        open_database(state_of(ctx)), actor=shell_actor(), login=login, department=code
    )
    typer.echo(f"{printable(_said(view))}")


@user_app.command("reset-password")
def reset_password(ctx: typer.Context, login: str, password_stdin: bool = STDIN_OPTION) -> None:
    """Set a new password and lift a login lock."""
    from desk.services import users

    db = open_database(state_of(ctx))
    password = read_password(password_stdin)
    view = users.reset_password(db, actor=shell_actor(), login=login, password=password)
    typer.echo(f"password of {printable(view.login)} reset")


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
