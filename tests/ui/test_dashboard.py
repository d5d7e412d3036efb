"""F7: the dashboard with the real keys — tiles, periods, a range, opening an order, roles."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert
from textual.widgets import DataTable, Input

from desk.clock import FixedClock
from desk.infra.database import Database
from desk.models import Contact, WorkOrder
from desk.rules.periods import PeriodKind
from desk.screens.dashboard import DashboardScreen, RangeDialog
from tests.ui.conftest import Notes, add_staff, make_app, screen_text, settle, sign_in


def _seed(db: Database, clock: FixedClock) -> None:
    now = clock.now()
    contacts = []
    for minutes in range(1, 11):  # ten phone calls this morning, eight answered
        at = now - timedelta(minutes=minutes * 10)
        answered = minutes <= 8
        contacts.append(
            {
                "channel": "phone",
                "request_type": "complaint" if minutes <= 2 else "consultation",
                "offered_at": at,
                "answered_at": at + timedelta(seconds=10) if answered else None,
                "ended_at": at + timedelta(seconds=200 if answered else 30),
                "satisfaction": 5 if minutes <= 3 else None,
            }
        )
    old = now - timedelta(days=3)  # three days ago: in 7 days, not today
    contacts.append(
        {
            "channel": "phone",
            "request_type": "bill_inquiry",
            "offered_at": old,
            "answered_at": None,
            "ended_at": old + timedelta(seconds=60),
            "satisfaction": None,
        }
    )
    with db.connection(write=True) as connection:
        connection.execute(insert(Contact.__table__), contacts)  # type: ignore[attr-defined]
        connection.execute(
            insert(WorkOrder.__table__),  # type: ignore[attr-defined]
            [
                {
                    "number": "WO20261102000001",
                    "category": "complaint",
                    "topic": "乱扣费",
                    "title": "乱扣费",
                    "description": "d",
                    "status": "dispatched",
                    "escalation_level": 0,
                    "reply_due": now - timedelta(hours=2),
                    "next_due": now - timedelta(hours=2),  # as the sweep keeps it
                    "created_at": now - timedelta(hours=9),
                    "updated_at": now,
                },
                {
                    "number": "WO20261102000003",
                    "category": "complaint",
                    "topic": "服务态度",
                    "title": "服务态度",
                    "description": "d",
                    "status": "dispatched",
                    "escalation_level": 1,  # reminded, not late yet
                    "reply_due": now + timedelta(hours=5),
                    "next_due": now + timedelta(hours=5),
                    "created_at": now - timedelta(hours=3),
                    "updated_at": now,
                },
                {
                    "number": "WO20261102000002",
                    "category": "fault_report",
                    "topic": "断网",
                    "title": "断网",
                    "description": "d",
                    "status": "dispatched",
                    "escalation_level": 0,
                    "reply_due": now + timedelta(hours=2),
                    "next_due": now + timedelta(hours=2),
                    "created_at": now - timedelta(hours=1),
                    "updated_at": now,
                },
            ],
        )


async def test_f7_shows_the_tiles_and_the_overdue_complaint(
    sqlite_db: Database, clock: FixedClock
) -> None:
    add_staff(sqlite_db, "supervisor1")
    _seed(sqlite_db, clock)
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(160, 48)) as pilot:
        await sign_in(pilot, "supervisor1")
        await pilot.press("f7")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        assert screen.data is not None
        tiles = {tile.key: tile for tile in screen.data.tiles}
        rate = tiles["manual_answer_rate"].value
        assert rate is not None
        assert (rate.numerator, rate.denominator) == (8, 10)
        assert tiles["vip_answer_rate"].value is None  # no VIP calls: nothing to measure
        text = screen_text(pilot)
        assert "Answer rate" in text
        assert "80.0%" in text
        assert "off target" in text
        assert "–" in text  # the VIP tile
        assert "Needs attention: 1 overdue · 1 escalated" in text
        found = screen.data.attention
        assert (found.overdue, found.escalated, found.major) == (1, 1, 0)
        table = screen.query_one("#dash-orders", DataTable)
        assert table.row_count == 2  # the escalated one first, then the overdue one
        assert "WO20261102000003" in str(table.get_row_at(0)[0])
        assert "WO20261102000001" in str(table.get_row_at(1)[0])


async def test_period_keys_and_a_chosen_range(sqlite_db: Database, clock: FixedClock) -> None:
    add_staff(sqlite_db, "supervisor1")
    _seed(sqlite_db, clock)
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(160, 48)) as pilot:
        await sign_in(pilot, "supervisor1")
        await pilot.press("f7")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        assert screen.data is not None
        assert screen.data.contacts.contacts == 10
        await pilot.press("w")
        await settle(pilot)
        assert screen.kind is PeriodKind.WEEK
        assert screen.data.contacts.contacts == 11
        assert "Last 7 days" in screen_text(pilot)
        await pilot.press("m")
        await settle(pilot)
        assert screen.data.period.kind is PeriodKind.MONTH
        await pilot.press("s")  # no shift recorded: this shift falls back to today
        await settle(pilot)
        assert screen.data.contacts.contacts == 10
        await pilot.press("g")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, RangeDialog)
        first = dialog.query_one("#range-first", Input)
        first.value = "2026-10-30"
        last = dialog.query_one("#range-last", Input)
        last.value = "yesterday"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is dialog  # refused, the field named
        assert "is not a date" in screen_text(pilot)
        last.value = "2026-10-31"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is screen
        assert screen.kind is PeriodKind.RANGE
        assert screen.data.contacts.contacts == 1  # the call of three days ago
        assert "2026-10-30 to 2026-10-31" in screen_text(pilot)


async def test_a_lead_sees_the_dashboard_and_an_agent_is_refused(
    sqlite_db: Database, clock: FixedClock
) -> None:
    add_staff(sqlite_db, "lead1", "agent1")
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "lead1")
        await pilot.press("f7")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        text = screen_text(pilot)
        assert "–" in text  # an empty database: nothing to measure, never 0 %
        assert "0.0%" not in text
        await pilot.press("f10")
        await settle(pilot)
    notes = Notes()
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(80, 24), message_hook=notes) as pilot:
        await sign_in(pilot, "agent1")
        await pilot.press("f7")
        await settle(pilot)
        assert not isinstance(app.screen, DashboardScreen)
        assert any("Dashboard" in message for message in notes.messages)


async def test_the_dashboard_reads_in_chinese_at_80_columns(
    sqlite_db: Database, clock: FixedClock
) -> None:
    add_staff(sqlite_db, "supervisor1")
    _seed(sqlite_db, clock)
    app = make_app(sqlite_db, clock, language="zh_CN")
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "supervisor1")
        await pilot.press("f7")
        await settle(pilot)
        text = screen_text(pilot)
        assert "人工接通率" in text
        assert "运营看板" in text
        assert "超时 1" in text


async def test_enter_opens_the_overdue_complaint_and_esc_comes_back(
    sqlite_db: Database, clock: FixedClock
) -> None:
    from desk.screens.work_order import WorkOrderScreen

    add_staff(sqlite_db, "supervisor1")
    _seed(sqlite_db, clock)
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(160, 48)) as pilot:
        await sign_in(pilot, "supervisor1")
        await pilot.press("f7")
        await settle(pilot)
        dashboard = app.screen
        await pilot.press("w")  # a refresh keeps the keyboard on the orders
        await settle(pilot)
        await pilot.pause(0.2)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, WorkOrderScreen)
        assert "WO20261102000001" in screen_text(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is dashboard


async def test_a_opens_the_satisfaction_analysis_for_the_dashboards_period(
    sqlite_db: Database, clock: FixedClock
) -> None:
    from desk.screens.satisfaction import SatisfactionScreen

    add_staff(sqlite_db, "supervisor1")
    _seed(sqlite_db, clock)
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(160, 48)) as pilot:
        await sign_in(pilot, "supervisor1")
        await pilot.press("f7")
        await settle(pilot)
        dashboard = app.screen
        await pilot.press("w")
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SatisfactionScreen)
        assert screen.kind is PeriodKind.WEEK
        assert screen.data is not None
        assert (screen.data.overall.marked, screen.data.overall.satisfied) == (3, 3)
        text = screen_text(pilot)
        assert "Satisfaction analysis" in text
        assert "By request type" in text
        assert "Complaint" in text  # the two complaint calls marked 5
        assert "100.0%" in text
        await pilot.press("t")
        await settle(pilot)
        assert screen.data.period.kind is PeriodKind.TODAY
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is dashboard


async def test_the_satisfaction_analysis_reads_in_chinese_at_80_columns(
    sqlite_db: Database, clock: FixedClock
) -> None:
    add_staff(sqlite_db, "supervisor1")
    _seed(sqlite_db, clock)
    app = make_app(sqlite_db, clock, language="zh_CN")
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "supervisor1")
        await pilot.press("f7")
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        text = screen_text(pilot)
        assert "满意度分析" in text
        assert "按诉求类型" in text
        assert "100.0%" in text
