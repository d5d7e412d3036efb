"""``desk init`` and ``desk db upgrade|current``."""

from __future__ import annotations

import typer

from desk.cli.common import (
    FORMAT_OPTION,
    OutputFormat,
    emit_json,
    fail,
    open_database,
    os_user,
    state_of,
)

# Services (and with them SQLAlchemy and Alembic) load inside the commands, so that `desk`
# alone reaches the console's login screen without paying for them first.

db_app = typer.Typer(help="Schema migrations.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(ctx: typer.Context, revision: str = typer.Argument("head")) -> None:
    """Migrate the database to REVISION (default: the newest)."""
    from desk.infra import migrations

    db = open_database(state_of(ctx), check_schema=False, create=True)
    before = migrations.current_revision(db)
    migrations.upgrade(db, revision)
    typer.echo(f"schema {before or 'empty'} -> {migrations.current_revision(db)}")


@db_app.command("current")
def current(ctx: typer.Context, output: OutputFormat = FORMAT_OPTION) -> None:
    """Print the schema revision of the database and of this desk."""
    from desk.infra import migrations

    db = open_database(state_of(ctx), check_schema=False)
    data = {"current": migrations.current_revision(db), "head": migrations.head_revision()}
    if output is OutputFormat.JSON:
        emit_json(data)
    else:
        typer.echo(f"database: {data['current'] or 'empty'}  desk: {data['head']}")


def init(
    ctx: typer.Context,
    admin_login: str = typer.Option("admin", "--admin-login", help="Login of the first admin."),
    admin_password: str = typer.Option(
        ...,
        "--admin-password",
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        envvar="DESK_ADMIN_PASSWORD",
        help="Password of the first admin (or DESK_ADMIN_PASSWORD).",
    ),
) -> None:
    """Create the schema (or bring it to head) and the first admin if there is none."""
    from desk.infra.errors import DeskError
    from desk.services.setup import initialise

    db = open_database(state_of(ctx), check_schema=False, create=True)
    try:
        result = initialise(
            db, admin_login=admin_login, admin_password=admin_password, os_user=os_user()
        )
    except DeskError as error:
        fail(error.message)
    typer.echo(f"schema at {result.revision}")
    if result.admin:
        typer.echo(f"admin user {result.admin.login!r} created")
    else:
        typer.echo("an admin exists already; none created")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.command("init")(init)
