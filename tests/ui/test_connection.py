"""The console through a PostgreSQL restart: one line, then it goes on by itself."""

from __future__ import annotations

import pytest

from desk.clock import FixedClock
from desk.infra.database import Database
from desk.screens.dialogs import ErrorDialog
from desk.screens.lookup import LookupScreen
from tests.conftest import end_connections
from tests.ui.conftest import (
    NewCustomer,
    Notes,
    add_customers,
    add_staff,
    make_app,
    search,
    sign_in,
    table_rows,
)

ZHANG = NewCustomer("张三丰", "13812345678", "110101198001011234", "C0001")
LI = NewCustomer("李雷", "13900001111", "320102199002023456", "C0002")


@pytest.mark.postgres
async def test_a_server_restart_mid_session_is_one_line_and_the_console_recovers(
    own_pg_url: str, clock: FixedClock
) -> None:
    db = Database.from_url(own_pg_url, clock=clock)
    add_staff(db, "agent1")
    add_customers(db, [ZHANG, LI])
    notes = Notes()
    app = make_app(db, clock)
    try:
        async with app.run_test(size=(140, 30), message_hook=notes) as pilot:
            await sign_in(pilot, "agent1")
            await search(pilot, "13812345678")
            assert isinstance(app.screen, LookupScreen)
            assert [row[0] for row in table_rows(pilot)] == ["张**"]

            # The server goes away: every connection ended, none accepted for now.
            assert end_connections(own_pg_url, allow_new=False) >= 1
            await search(pilot, "13900001111")
            said = [note for note in notes.messages if "database" in note]
            assert len(said) == 1, notes.messages
            assert "\n" not in said[0]
            assert not isinstance(app.screen, ErrorDialog)  # no dialog, no traceback

            # It is back: the next search works, nothing restarted.
            end_connections(own_pg_url, allow_new=True)
            await search(pilot, "13812345678")
            assert [row[0] for row in table_rows(pilot)] == ["张**"]
            await search(pilot, "13900001111")
            assert [row[0] for row in table_rows(pilot)] == ["李*"]
    finally:
        end_connections(own_pg_url, allow_new=True)
        db.dispose()
