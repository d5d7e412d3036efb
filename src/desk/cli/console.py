"""``desk`` with no subcommand: run the console.

The console paints its login screen first and opens the database, checks the schema and
reads the policy in the background; when either cannot be used it quits at once and this
function prints why and exits non-zero (2), before anyone could sign in.
"""

from __future__ import annotations

import os

from desk.cli.common import State, fail, sqlite_path
from desk.cli.failures import EXIT_DATABASE, EXIT_USAGE
from desk.cli.terminal import typed_ahead_unechoed


def launch(state: State) -> None:
    """Resolve the settings, run the console on the database in force, report a refusal."""
    with typed_ahead_unechoed():
        _run(state)


def _run(state: State) -> None:
    from desk.app import DeskApp
    from desk.i18n import detect_language

    settings = state.settings()
    url = settings.resolved_database_url
    path = sqlite_path(url)
    if path is not None and not path.exists():  # the console never makes a database
        fail(
            f"no database at {path}: run `desk init` to create one, or `desk demo` to try "
            "desk on a demo database",
            code=EXIT_DATABASE,
        )
    app = DeskApp(
        database_url=url,
        policy_path=settings.policy,
        language=detect_language(settings.lang, os.environ),
    )
    app.run()
    if app.startup_error is not None:
        lines = [line.strip() for line in app.startup_error.splitlines() if line.strip()]
        fail(" ".join(lines[:1] + ["; ".join(lines[1:])]).strip(), code=EXIT_USAGE)
    if app.return_code:
        fail("the console stopped with an error", code=app.return_code)
