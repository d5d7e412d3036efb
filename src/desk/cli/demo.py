"""``desk demo``: build (or reuse) a realistic demo database and launch the console on it."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from desk.cli.common import State, fail, state_of


def _echo(message: str) -> None:
    typer.echo(message, err=True)


def _progress(step: str, rows: int, seconds: float) -> None:
    _echo(f"  {step:<42} {rows:>11,} rows {seconds:8.2f} s")


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for other databases. In-memory URLs are refused."""
    if not url.startswith("sqlite"):
        return None
    database = url.split("///", 1)[1] if "///" in url else ""
    if database in ("", ":memory:"):
        fail("--db: a demo needs a database file or server, not an in-memory SQLite database")
    return Path(database)


def demo(
    ctx: typer.Context,
    customers: int = typer.Option(
        200_000,
        "--customers",
        min=100,
        max=5_000_000,
        help="How many customers (default 200,000: about 40 seconds on two cores; "
        "1,000,000 for load tests).",
    ),
    days: int = typer.Option(
        90, "--days", min=1, max=365, help="Days of history: contacts, work orders, shifts."
    ),
    seed: int = typer.Option(
        1, "--seed", min=0, max=2**31 - 1, help="Random seed: the same seed, the same data."
    ),
    backlog: int = typer.Option(
        0,
        "--backlog",
        min=0,
        max=2_000_000,
        help="Extra open work orders on top of the normal flow, many overdue (load tests of "
        "the sweep and the queues).",
    ),
    no_launch: bool = typer.Option(False, "--no-launch", help="Only build; do not launch."),
    rebuild: bool = typer.Option(
        False, "--rebuild", help="Build afresh even when a matching demo database exists."
    ),
) -> None:
    """Build (or reuse) a demo database and launch the console on it (see HELP)."""
    from desk import demo as demo_service
    from desk.infra.database import Database
    from desk.infra.errors import DeskError

    state = state_of(ctx)
    if state.db_url:
        url = state.db_url
    else:
        settings = State().settings()
        url = f"sqlite:///{settings.ensure_data_dir() / 'demo.db'}"
    path = _sqlite_file(url)
    try:
        params = demo_service.DemoParams(customers=customers, days=days, seed=seed, backlog=backlog)
    except DeskError as error:
        fail(error.message)
    db = Database.from_url(url)
    target = demo_service.inspect_target(db)
    where = str(path) if path is not None else db.engine.url.render_as_string(hide_password=True)
    if target.has_data and target.params is None:
        fail(
            f"{where} holds data and is not a demo database: refusing to overwrite it "
            "(give --db a new file or an empty database)"
        )
    if target.params == params and target.schema_current and not rebuild:
        _echo(
            f"reusing the demo database at {where} (built {target.built_at}, "
            f"{customers:,} customers, {days} days, seed {seed})"
        )
    else:
        started = time.perf_counter()
        _echo(
            f"building a demo database at {where}: {customers:,} customers, {days} days, "
            f"seed {seed}"
        )
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            demo_service.build_demo(db, params, progress=_progress, replace=True)
        except DeskError as error:
            fail(error.message)
        size = ""
        if path is not None and path.exists():
            size = f", {path.stat().st_size / 1_000_000:,.0f} MB"
        _echo(f"demo database ready in {time.perf_counter() - started:.1f} s{size}")
    db.dispose()
    if not no_launch:
        from desk.cli.console import launch

        launch(State(db_url=url))


HELP = " ".join(
    (
        "Build a demo database (users agent1, lead1, complaint1, handler1, supervisor1, admin1;",
        "password demo123) and launch the console on it.",
        "\n\nWithout --db the demo lives in DATA_DIR/demo.db, never in the real database.",
        "A demo built with the same --customers, --days, --seed and --backlog at the current",
        "schema is reused; --rebuild builds it afresh.",
    )
)


def register(app: typer.Typer) -> None:
    app.command("demo", help=HELP)(demo)
