"""``desk`` with no subcommand: run the console.

The console paints its login screen first and opens the database, checks the schema and
reads the policy in the background; when either cannot be used it quits at once and this
function prints why and exits non-zero (2), before anyone could sign in.
"""

from __future__ import annotations

import os

from desk.cli.common import State, fail


def launch(state: State) -> None:
    """Resolve the settings, run the console on the database in force, report a refusal."""
    from desk.app import DeskApp
    from desk.i18n import detect_language

    settings = state.settings()
    url = settings.resolved_database_url
    if url.startswith("sqlite:///") and settings.database_url is None:
        settings.ensure_data_dir()
    app = DeskApp(
        database_url=url,
        policy_path=settings.policy,
        language=detect_language(settings.lang, os.environ),
    )
    app.run()
    if app.startup_error is not None:
        fail(app.startup_error, code=2)
    if app.return_code:
        fail("the console stopped with an error", code=app.return_code)
