"""The customer analysis (``c`` on the dashboard) and the big-customer file (``Ctrl+B`` on the
card), with the real keys."""

from __future__ import annotations

from datetime import date, timedelta

from rich.console import Console
from sqlalchemy import insert, update
from textual.widgets import DataTable, Input, Static

from desk.clock import FixedClock
from desk.infra.database import Database
from desk.models import Account, Bill, Contact, Customer
from desk.screens.card import CustomerCardScreen
from desk.screens.customers import BigCustomerDialog, CustomersScreen
from desk.screens.dashboard import DashboardScreen
from tests.ui.conftest import (
    NewCustomer,
    add_customers,
    add_staff,
    audit_rows,
    make_app,
    screen_text,
    search,
    settle,
    sign_in,
    table_rows,
)


def _seed(db: Database, clock: FixedClock) -> list[int]:
    ids = add_customers(
        db,
        [
            NewCustomer("张三丰", "13812345678", "110101198001011234", "C0001", tier="gold"),
            NewCustomer("李雷", "13900001111", "320102199002023456", "C0002", tier="silver"),
        ],
    )
    now = clock.now()
    with db.connection(write=True) as connection:
        account = connection.execute(
            insert(Account.__table__).values(  # type: ignore[attr-defined]
                customer_id=ids[0],
                account_no="A0001",
                plan_code="P1",
                plan_name="畅享",
                opened_on=date(2020, 1, 1),
            )
        ).inserted_primary_key[0]
        connection.execute(
            update(Customer.__table__)  # type: ignore[attr-defined]
            .where(Customer.__table__.c.id == ids[1])  # type: ignore[attr-defined]
            .values(last_activity_at=now - timedelta(days=90), birthday=date(1990, 11, 3))
        )
        connection.execute(
            update(Customer.__table__)  # type: ignore[attr-defined]
            .where(Customer.__table__.c.id == ids[0])  # type: ignore[attr-defined]
            .values(last_activity_at=now - timedelta(days=2))
        )
        connection.execute(
            insert(Bill.__table__),  # type: ignore[attr-defined]
            [
                {
                    "account_id": account,
                    "customer_id": ids[0],
                    "period": period,
                    "amount_cents": 40_000,
                    "due_date": date(2026, 12, 15),
                    "issued_at": now,
                }
                for period in ("2026-09", "2026-10")
            ],
        )
        connection.execute(
            insert(Contact.__table__).values(  # type: ignore[attr-defined]
                customer_id=ids[0],
                channel="phone",
                offered_at=now - timedelta(hours=1),
                satisfaction=5,
            )
        )
    return ids


def _plain(widget: Static) -> str:
    """What a Static shows, as plain text lines."""
    console = Console(width=160, record=True, file=None, color_system=None)
    with console.capture() as captured:
        console.print(widget.content)
    return captured.get()


async def test_the_manager_opens_the_analysis_and_files_a_big_customer(
    sqlite_db: Database, clock: FixedClock
) -> None:
    add_staff(sqlite_db, "supervisor1")
    ids = _seed(sqlite_db, clock)
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(160, 48)) as pilot:
        await sign_in(pilot, "supervisor1")
        await pilot.press("f7")
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CustomersScreen)
        assert screen.data is not None
        text = screen_text(pilot)
        assert "Tier statistics" in text
        assert "Member churn" in text
        # the gold customer's bills of ¥400 a month propose class A; nobody has a class yet
        table = screen.query_one("#customers-big", DataTable)
        assert table.row_count == 1
        assert [str(cell) for cell in table.get_row_at(0)][:5] == [
            "C0001",
            "张**",
            "Gold",
            "–",
            "A",
        ]
        assert screen.data.churned[0].customer_no == "C0002"  # 90 days unseen, a member
        # tiers by day (the contact of today, satisfied) and by bill month: the last 6 up to
        # November, the gold customer's ¥400 in September and October
        assert "100.0%" in _plain(screen.query_one("#customers-tiers", Static))  # satisfaction
        days = _plain(screen.query_one("#customers-by-day", Static)).splitlines()
        assert days[0].split()[:3] == ["Day", "Standard", "Silver"]
        assert days[1].split() == ["11-02", "0", "0%", "0", "0%", "1", "100%", "0", "0%", "0", "0%"]
        months = _plain(screen.query_one("#customers-by-month", Static)).splitlines()
        assert [line.split()[:4] for line in months[1:] if "Gold" in line] == [
            ["2026-09", "Gold", "1", "¥400.00"],
            ["2026-10", "Gold", "1", "¥400.00"],
        ]
        await pilot.press("enter")
        await settle(pilot)
        card = app.screen
        assert isinstance(card, CustomerCardScreen)
        await pilot.press("ctrl+b")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, BigCustomerDialog)
        dialog.query_one("#big-class", Input).value = "x"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "is not A, B or C" in screen_text(pilot)
        dialog.query_one("#big-class", Input).value = "a"
        dialog.query_one("#big-manager", Input).value = "陈经理"
        dialog.query_one("#big-phone", Input).value = "13900002222"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is card
        assert card.card is not None
        assert card.card.big_customer_class == "A"
        assert card.card.account_manager_name == "陈经理"
        entries = audit_rows(sqlite_db, "customer.big_customer")
        assert len(entries) == 1
        assert entries[0].target_id == str(ids[0])
        assert entries[0].detail["after"]["class"] == "A"
        assert entries[0].detail["before"]["class"] is None


async def test_leads_see_no_customer_key_and_agents_no_big_customer_key(
    sqlite_db: Database, clock: FixedClock
) -> None:
    add_staff(sqlite_db, "lead1", "agent1")
    _seed(sqlite_db, clock)
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "lead1")
        await pilot.press("f7")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)  # not for leads
        assert "Customers" not in screen_text(pilot)
        await search(pilot, "C0001")  # typed, waiting out the debounce
        for _ in range(100):  # the results, slower on a busy machine
            if table_rows(pilot):
                break
            await pilot.pause(0.05)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CustomerCardScreen)
        await pilot.press("ctrl+b")
        await settle(pilot)
        assert isinstance(app.screen, CustomerCardScreen)  # no dialog: not the manager
        assert audit_rows(sqlite_db, "customer.big_customer") == []
