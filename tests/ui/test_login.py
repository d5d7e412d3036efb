"""The login screen: Enter from either field, one message for every failure, lockout, and
the demo-accounts hint on a demo database only."""

from __future__ import annotations

import threading

import pytest
from textual import events
from textual.widgets import Input, Static

from desk.clock import FixedClock
from desk.infra.database import Database
from desk.services import setup
from tests.ui.conftest import (
    PASSWORD,
    add_staff,
    audit_rows,
    make_app,
    mark_demo,
    screen_text,
    settle,
    sign_in,
)


def _message(app: object) -> str:
    return str(app.screen.query_one("#login-message", Static).render())  # type: ignore[attr-defined]


async def test_typing_login_then_enter_moves_to_password_and_enter_signs_in(
    sqlite_db: Database, clock: FixedClock
) -> None:
    add_staff(sqlite_db, "agent1")
    app = make_app(sqlite_db, clock)
    async with app.run_test() as pilot:
        await settle(pilot)
        assert app.focused is app.screen.query_one("#login", Input)
        await pilot.press(*"agent1", "enter")
        assert app.focused is app.screen.query_one("#password", Input)
        await pilot.press(*PASSWORD, "enter")
        await settle(pilot)
        assert app.current_mode == "workspace"  # an agent's main screen
        assert app.signed_in is not None
        assert app.signed_in.actor.login == "agent1"
    assert [row.action for row in audit_rows(sqlite_db, "login.")] == ["login.ok"]


async def test_unknown_user_and_wrong_password_get_the_same_message(
    sqlite_db: Database, clock: FixedClock
) -> None:
    add_staff(sqlite_db, "agent1")
    app = make_app(sqlite_db, clock)
    async with app.run_test() as pilot:
        await sign_in(pilot, "agent1", "wrong-password")
        wrong = _message(app)
        assert app.screen.query_one("#password", Input).value == ""
        await sign_in(pilot, "nobody", PASSWORD)
        unknown = _message(app)
        assert app.current_mode == "login"
    assert wrong == unknown == "Wrong login or password."


async def test_five_failures_lock_the_account_for_thirty_minutes(
    sqlite_db: Database, clock: FixedClock
) -> None:
    add_staff(sqlite_db, "agent1")
    app = make_app(sqlite_db, clock)
    async with app.run_test() as pilot:
        for _ in range(4):
            await sign_in(pilot, "agent1", "bad-guess")
            assert _message(app) == "Wrong login or password."
        await sign_in(pilot, "agent1", "bad-guess")
        # 02:00 UTC + 30 min = 10:30 in Shanghai
        assert "locked until 2026-11-02 10:30" in _message(app)
        await sign_in(pilot, "agent1", PASSWORD)  # the right password no longer helps
        assert "locked until 2026-11-02 10:30" in _message(app)
        assert app.current_mode == "login"
    actions = [row.action for row in audit_rows(sqlite_db, "login.")]
    assert actions == ["login.failed"] * 5 + ["login.locked", "login.refused_locked"]


@pytest.mark.parametrize("demo", [True, False])
async def test_demo_accounts_are_listed_on_a_demo_database_only(
    sqlite_db: Database, clock: FixedClock, demo: bool
) -> None:
    if demo:
        mark_demo(sqlite_db)
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        hint = app.screen.query_one("#demo-accounts", Static)
        text = screen_text(pilot)
        assert hint.display is demo
        assert ("supervisor1" in text and "demo123" in text) is demo


async def test_a_login_submitted_before_the_data_layer_is_ready_waits_for_it(
    sqlite_db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_staff(sqlite_db, "lead1")
    release = threading.Event()
    real_is_demo = setup.is_demo

    def slow_is_demo(db: Database) -> bool:
        release.wait(10)
        return real_is_demo(db)

    monkeypatch.setattr(setup, "is_demo", slow_is_demo)
    app = make_app(sqlite_db, clock)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.backend is None
        assert _message(app).startswith("Starting")
        screen = app.screen
        screen.query_one("#login", Input).value = "lead1"
        screen.query_one("#password", Input).value = PASSWORD
        screen.query_one("#password", Input).focus()
        await pilot.press("enter")
        assert app.current_mode == "login"
        release.set()
        await settle(pilot)
        assert app.current_mode == "queue"  # the lead's main screen


async def test_enter_with_an_empty_password_asks_for_it_and_tries_nothing(
    sqlite_db: Database, clock: FixedClock
) -> None:
    add_staff(sqlite_db, "agent1")
    app = make_app(sqlite_db, clock)
    async with app.run_test() as pilot:
        await settle(pilot)
        await pilot.press("enter")  # nothing typed: stay in the login field
        assert _message(app) == "Enter your login first."
        await pilot.press(*"agent1", "enter", "enter")  # to the password field, then Enter
        await settle(pilot)
        assert app.focused is app.screen.query_one("#password", Input)
        assert _message(app) == "Enter your password."
    assert audit_rows(sqlite_db, "login.") == []


async def test_keys_typed_ahead_in_one_burst_land_in_the_right_fields(
    sqlite_db: Database, clock: FixedClock
) -> None:
    """A person who types login, Enter, password, Enter before the screen catches up (or
    before it is even painted) is signed in, not left with everything in the login field."""
    add_staff(sqlite_db, "agent1")
    app = make_app(sqlite_db, clock)
    async with app.run_test() as pilot:
        await settle(pilot)
        burst = [*"agent1", "enter", *PASSWORD, "enter"]
        for key in burst:  # posted all at once, without waiting for the app between keys
            app.post_message(events.Key(key, None if key == "enter" else key))
        await settle(pilot)
        assert app.signed_in is not None
        assert app.signed_in.actor.login == "agent1"


def _burst(app: object, keys: list[str]) -> None:
    """Post every key at once, as a password manager or badge reader sends them, without
    letting the app run between two keys."""
    for key in keys:
        character = key if len(key) == 1 else {"tab": "\t", "enter": "\r", "ctrl+j": "\n"}.get(key)
        app.post_message(events.Key(key, character))  # type: ignore[attr-defined]


@pytest.mark.parametrize("backend_ready", [False, True], ids=["while-loading", "loaded"])
async def test_a_login_tab_password_enter_burst_at_the_first_frame_signs_in(
    sqlite_db: Database, clock: FixedClock, backend_ready: bool
) -> None:
    """login, Tab, password, Enter sent the moment the screen shows (before the data layer
    is loaded, or just after): every key lands in the field it was aimed at."""
    add_staff(sqlite_db, "agent1")
    app = make_app(sqlite_db, clock)
    async with app.run_test() as pilot:
        if backend_ready:
            await settle(pilot)
        _burst(app, [*"agent1", "tab", *PASSWORD, "enter"])
        await settle(pilot)
        await settle(pilot)
        assert app.signed_in is not None, _message(app)
        assert app.signed_in.actor.login == "agent1"
    assert [row.action for row in audit_rows(sqlite_db, "login.")] == ["login.ok"]


async def test_a_burst_with_a_wrong_password_leaves_each_field_its_own_keys(
    sqlite_db: Database, clock: FixedClock
) -> None:
    """The same burst with a password that is wrong: the login field holds the login alone,
    the password was checked (and refused), nothing leaked from one field into the other."""
    add_staff(sqlite_db, "agent1")
    app = make_app(sqlite_db, clock)
    async with app.run_test() as pilot:
        _burst(app, [*"agent1", "tab", *"not-it-at-all", "enter"])
        await settle(pilot)
        await settle(pilot)
        assert app.screen.query_one("#login", Input).value == "agent1"
        assert _message(app) == "Wrong login or password."
        assert app.focused is app.screen.query_one("#password", Input)
    assert [row.action for row in audit_rows(sqlite_db, "login.")] == ["login.failed"]


async def test_keys_typed_before_the_console_took_the_terminal_sign_in(
    sqlite_db: Database, clock: FixedClock
) -> None:
    """Typed while desk was still starting, the terminal (in line mode then) hands the keys
    over with the Enter turned into a newline (ctrl+j): it signs in all the same."""
    add_staff(sqlite_db, "agent1")
    app = make_app(sqlite_db, clock)
    async with app.run_test() as pilot:
        _burst(app, [*"agent1", "tab", *PASSWORD, "ctrl+j"])
        await settle(pilot)
        await settle(pilot)
        assert app.signed_in is not None, _message(app)
