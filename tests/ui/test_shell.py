"""The shell: each role sees its screens, a forbidden key says so, F1 lists the keys, F10
logs out to a clean login screen, the status line, Chinese, and the one error handler."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from textual.app import App
from textual.command import CommandPalette
from textual.widgets import DataTable, Input

from desk.app import DeskApp
from desk.cli.common import State
from desk.cli.console import launch
from desk.cli.failures import CommandFailed
from desk.clock import FixedClock
from desk.infra.database import Database
from desk.models import Shift
from desk.screens.dialogs import ErrorDialog, KeymapDialog
from desk.screens.home import HomeScreen
from desk.screens.lookup import LookupScreen
from desk.screens.queue import QueueScreen
from desk.services.users import actor_for_login
from desk.widgets.status_line import StatusLine
from tests.ui.conftest import (
    NewCustomer,
    Notes,
    add_customers,
    add_staff,
    make_app,
    screen_text,
    search,
    settle,
    sign_in,
    table_rows,
)

LANDING = {
    "agent1": "workspace",  # an agent's main screen is the F2 workspace
    "lead1": "queue",
    "complaint1": "queue",
    "supervisor1": "dashboard",
    "handler1": "queue",
    "admin1": "home",
}
MAY_LOOK_UP = {"agent1", "lead1", "complaint1", "supervisor1"}


def _f4_state(app: DeskApp) -> bool | None:
    """How the footer shows F4: True enabled, False dimmed, None not at all (no binding of
    it, or only the hidden one that says no)."""
    active = app.screen.active_bindings.get("f4")
    return None if active is None or not active.binding.show else active.enabled


@pytest.mark.parametrize("login", sorted(LANDING))
async def test_each_role_sees_only_its_screens(
    sqlite_db: Database, clock: FixedClock, login: str
) -> None:
    add_staff(sqlite_db, login)
    notes = Notes()
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(100, 30), message_hook=notes) as pilot:
        assert _f4_state(app) is None  # nothing of the shell before signing in
        await sign_in(pilot, login)
        assert app.current_mode == LANDING[login]
        may_look_up = login in MAY_LOOK_UP
        assert _f4_state(app) is (True if may_look_up else None)  # a role sees only its own
        if not may_look_up:
            assert "F4" not in screen_text(pilot).splitlines()[-1]  # the footer's line
        await pilot.press("f4")
        await pilot.pause()
        if may_look_up:
            assert isinstance(app.screen, LookupScreen)
            assert not notes.messages
        elif LANDING[login] == "queue":  # the handler: the department's queue stays
            assert isinstance(app.screen, QueueScreen)
            assert notes.messages == ["Your role may not open Customer lookup."]
            assert "My department" in screen_text(pilot)
        else:
            assert isinstance(app.screen, HomeScreen)
            assert notes.messages == ["Your role may not open Customer lookup."]
            text = screen_text(pilot)
            assert login in text
            assert "Administrator" in text
            assert "F1" in text
            assert "Help" in text
            assert "F10" in text
            assert "Log out" in text
            assert ("desk user add" in text) is (login == "admin1")


async def test_f1_lists_the_keys_of_the_screen_and_the_app(
    sqlite_db: Database, clock: FixedClock
) -> None:
    add_staff(sqlite_db, "agent1")
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(100, 40)) as pilot:
        await sign_in(pilot, "agent1")
        await pilot.press("f4")
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, KeymapDialog)
        rows = {row.key: (row.description, row.enabled) for row in dialog.rows}
        assert rows["F1"] == ("Help", True)
        assert rows["F4"] == ("Customer lookup", True)
        assert rows["F10"] == ("Log out", True)
        assert rows["PgDn"] == ("Next page", False)  # no results yet: dimmed
        assert rows["Esc"] == ("Back to the search field", True)
        assert rows["F2"] == ("Workspace", True)
        text = screen_text(pilot)
        assert "Keys — Customer lookup" in text
        assert "Next page" in text
        await pilot.press("escape")
        assert isinstance(app.screen, LookupScreen)


async def test_the_palette_offers_the_keys_and_runs_them(
    sqlite_db: Database, clock: FixedClock
) -> None:
    add_staff(sqlite_db, "agent1")
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "agent1")
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"log out")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert app.current_mode == "login"
        assert app.signed_in is None


async def test_f10_logs_out_to_a_clean_login_screen(sqlite_db: Database, clock: FixedClock) -> None:
    add_staff(sqlite_db, "agent1", "lead1")
    add_customers(sqlite_db, [NewCustomer("张三丰", "13812345678", "110101198001011234", "C001")])
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "agent1")
        await search(pilot, "5678")
        assert len(table_rows(pilot)) == 1
        await pilot.press("f10")
        await settle(pilot)
        assert app.current_mode == "login"
        assert app.signed_in is None
        assert app.screen.query_one("#login", Input).value == ""
        assert app.screen.query_one("#password", Input).value == ""
        assert app.focused is app.screen.query_one("#login", Input)
        assert _f4_state(app) is None
        await sign_in(pilot, "lead1")
        assert app.current_mode == "queue"  # the lead's main screen
        await pilot.press("f4")
        await settle(pilot)
        assert app.current_mode == "lookup"
        assert app.screen.query_one("#query", Input).value == ""
        assert not app.screen.query_one("#results", DataTable).display
        assert "lead1" in app.screen.query_one(StatusLine).user


async def test_status_line_shows_person_role_shift_and_shanghai_time(
    sqlite_db: Database, clock: FixedClock
) -> None:
    add_staff(sqlite_db, "agent1", "lead1")
    lead = actor_for_login(sqlite_db, login="lead1")
    sqlite_db.run(
        lambda session: session.add(
            Shift(
                name="早班",
                starts_at=clock.now() - timedelta(hours=2),
                ends_at=clock.now() + timedelta(hours=6),
                lead_id=lead.user_id,
            )
        ),
        write=True,
    )
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await sign_in(pilot, "agent1")
        status = app.screen.query_one(StatusLine)
        assert status.user == "李小红 (agent1)"
        assert status.role == "Agent"
        assert status.shift == "Shift: 早班, lead 王班长"
        first_line = screen_text(pilot).splitlines()[0]
        assert "2026-11-02 10:00:00" in first_line  # 02:00 UTC in Shanghai
        clock.advance(timedelta(seconds=61))
        for _ in range(60):  # the status line ticks each second
            if "2026-11-02 10:01:01" in screen_text(pilot).splitlines()[0]:
                break
            await pilot.pause(0.1)
        assert "2026-11-02 10:01:01" in screen_text(pilot).splitlines()[0]


async def test_chinese_ui_under_zh_cn(sqlite_db: Database, clock: FixedClock) -> None:
    add_staff(sqlite_db, "agent1")
    add_customers(sqlite_db, [NewCustomer("张三丰", "13812345678", "110101198001011234", "C001")])
    app = make_app(sqlite_db, clock, language="zh_CN")
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        text = screen_text(pilot)
        assert "工号" in text
        assert "密码" in text
        await sign_in(pilot, "agent1", "wrong-pass")
        assert "工号或密码错误" in screen_text(pilot)
        await sign_in(pilot, "agent1")
        await search(pilot, "5678")
        text = screen_text(pilot)
        assert "座席代表" in text  # the role, translated
        assert "姓名" in text
        assert "电话" in text
        assert "电话尾号" in text  # matched by
        assert "帮助" in text  # F1 in the footer


async def test_a_failing_worker_shows_the_error_dialog_and_the_console_goes_on(
    sqlite_db: Database, clock: FixedClock
) -> None:
    add_staff(sqlite_db, "agent1")
    add_customers(sqlite_db, [NewCustomer("张三丰", "13812345678", "110101198001011234", "C001")])
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "agent1")
        await pilot.press("f4")
        await settle(pilot)
        with sqlite_db.engine.begin() as connection:  # the name index is gone
            connection.exec_driver_sql("DROP TABLE customer_fts")
        await search(pilot, "张")
        dialog = app.screen
        assert isinstance(dialog, ErrorDialog)
        assert dialog.error_title == "Something went wrong"
        assert "customer_fts" in dialog.error_message
        await pilot.press("enter")  # OK
        assert isinstance(app.screen, LookupScreen)
        await search(pilot, "5678")  # phone search does not need the name index
        assert [row[1] for row in table_rows(pilot)] == ["138****5678"]


async def test_a_service_error_shows_its_title_and_message(
    sqlite_db: Database, clock: FixedClock
) -> None:
    add_staff(sqlite_db, "agent1")
    (customer_id,) = add_customers(
        sqlite_db, [NewCustomer("张三丰", "13812345678", "110101198001011234", "C001")]
    )
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "agent1")
        await search(pilot, "13812345678")
        with sqlite_db.engine.begin() as connection:  # removed while the agent looks
            connection.exec_driver_sql(
                f"DELETE FROM customer_phone WHERE customer_id = {customer_id}"
            )
            connection.exec_driver_sql(f"DELETE FROM customer WHERE id = {customer_id}")
        await pilot.press("enter")  # one hit: opens the card
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ErrorDialog)
        assert dialog.error_title == "Not found"
        assert f"no customer with id {customer_id}" in dialog.error_message
        await pilot.press("escape")
        assert not isinstance(app.screen, ErrorDialog)


# --- refusing to start --------------------------------------------------------------------


async def test_the_console_refuses_an_out_of_date_schema(tmp_path: Path) -> None:
    app = DeskApp(database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    async with app.run_test() as pilot:
        await settle(pilot)
    assert app.return_code == 2
    assert app.startup_error is not None
    assert "desk db upgrade" in app.startup_error


def _headless(monkeypatch: pytest.MonkeyPatch) -> None:
    def run_headless(self: DeskApp) -> None:
        App.run(self, headless=True)

    monkeypatch.setattr(DeskApp, "run", run_headless)


def test_launch_exits_non_zero_with_the_reason_on_an_old_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _headless(monkeypatch)
    del capsys
    with pytest.raises(CommandFailed) as missing:
        launch(State(db_url=f"sqlite:///{tmp_path / 'empty.db'}"))
    assert missing.value.code == 3
    assert "no database at" in missing.value.message
    assert not (tmp_path / "empty.db").exists()  # the console never makes a database
    sqlite3.connect(tmp_path / "empty.db").close()  # an empty file: a schema out of date
    with pytest.raises(CommandFailed) as stopped:
        launch(State(db_url=f"sqlite:///{tmp_path / 'empty.db'}"))
    assert stopped.value.code == 2
    assert "the database is at revision none" in stopped.value.message
    assert "desk db upgrade" in stopped.value.message


def test_launch_exits_non_zero_on_a_broken_policy(
    sqlite_db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _headless(monkeypatch)
    policy = tmp_path / "policy.toml"
    policy.write_text("version = 1\n[login]\nmax_failures = 0\n", encoding="utf-8")
    monkeypatch.setenv("DESK_POLICY", str(policy))
    del capsys
    with pytest.raises(CommandFailed) as stopped:
        launch(State(db_url=sqlite_db.engine.url.render_as_string(hide_password=False)))
    assert stopped.value.code == 2
    assert "\n" not in stopped.value.message
    assert "login.max_failures" in stopped.value.message
