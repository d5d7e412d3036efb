"""The console sweeps the work-order clocks in the background, once a minute, as the system."""

from __future__ import annotations

import pytest

from desk.clock import FixedClock
from desk.infra.database import Database
from desk.screens.login import LoginScreen
from desk.services import housekeeping, sweep
from tests.ui.conftest import Notes, make_app, settle


async def test_the_console_sweeps_once_the_data_layer_is_ready(
    sqlite_db: Database, clock: FixedClock
) -> None:
    assert sweep.last_sweep(sqlite_db) is None
    app = make_app(sqlite_db, clock)
    async with app.run_test() as pilot:
        await settle(pilot)
        assert sweep.last_sweep(sqlite_db) == clock.now()
        # a second terminal at the same instant finds the sweep done and does nothing
        other = make_app(sqlite_db, clock)
        async with other.run_test() as second:
            await settle(second)
        assert sweep.last_sweep(sqlite_db) == clock.now()


async def test_a_failing_sweep_is_said_once_and_the_console_goes_on(
    sqlite_db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(housekeeping, "sweep_if_due", broken)
    notes = Notes()
    app = make_app(sqlite_db, clock)
    async with app.run_test(message_hook=notes) as pilot:
        await settle(pilot)
        app._sweep()  # the next tick fails the same way
        await settle(pilot)
        failures = [message for message in notes.messages if "disk full" in message]
        assert len(failures) == 1
        assert app.is_running
        assert isinstance(app.screen, LoginScreen)
