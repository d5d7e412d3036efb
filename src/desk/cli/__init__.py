"""The ``desk`` command: launches the console; subcommands for admins, scripts and cron.

Each command group lives in its own module and is added to :data:`app` by :func:`_register`.
"""

from __future__ import annotations

import sys

import typer

from desk.cli.failures import DeskGroup

app = typer.Typer(
    name="desk",
    help="desk: the customer-service center console and its admin commands.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=DeskGroup,
)


_registered = False


def _register() -> None:
    """Attach every command group to :data:`app` (once)."""
    global _registered
    if _registered:
        return
    _registered = True
    from desk.cli import root

    root.register(app)


def main() -> None:
    from desk.cli.terminal import launches_console, typed_ahead_unechoed

    if not launches_console(sys.argv[1:]):
        _register()
        app()
        return
    with typed_ahead_unechoed():  # from the first moment: a password may be typed ahead
        _register()
        app()
