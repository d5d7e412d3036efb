"""F4 lookup: every search kind through the screen (SQLite and PostgreSQL), paging, the
explicit empty states, stale answers, the masked card, unmasking, and CJK alignment."""

from __future__ import annotations

from rich.cells import cell_len
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from desk.clock import FixedClock
from desk.infra.database import Database
from desk.screens.card import CustomerCardScreen
from desk.screens.dialogs import ChoiceDialog
from desk.screens.lookup import LookupScreen
from tests.ui.conftest import (
    NewCustomer,
    Notes,
    add_customers,
    add_staff,
    add_work_order,
    audit_rows,
    make_app,
    screen_text,
    search,
    settle,
    sign_in,
    table_rows,
)

ZHANG = NewCustomer(
    "张三丰", "13812345678", "110101198001011234", "C0001", tier="gold", arrears_cents=1250
)
LI = NewCustomer("李雷", "13900001111", "320102199002023456", "C0002", region="南京市")
OUYANG = NewCustomer(
    "欧阳娜娜",
    "010-88886666",
    "44030519950505777X",
    "C0003",
    big_customer_class="A",
    account_manager_name="陈经理",
    address="广东省深圳市南山区科技园路1号",
)

# query → (the customer's masked name, "matched by" as the screen says it)
KINDS = {
    "13812345678": ("张**", "phone number"),
    "0001111": ("李*", "phone ending"),
    "023456": ("李*", "ID-card ending"),
    "三丰": ("张**", "name"),
    "oynn": ("欧阳**", "pinyin initials"),
    "zhangsan": ("张**", "pinyin"),
    "WO20261102001": ("李*", "work order"),
    "C0003": ("欧阳**", "customer no."),
}


async def test_every_search_kind_finds_the_right_customer(db: Database, clock: FixedClock) -> None:
    add_staff(db, "agent1")
    _zhang, li, _ouyang = add_customers(db, [ZHANG, LI, OUYANG])
    add_work_order(db, customer_id=li, number="WO20261102001", now=clock.now())
    app = make_app(db, clock)
    async with app.run_test(size=(140, 30)) as pilot:
        await sign_in(pilot, "agent1")
        await pilot.press("f4")  # agents and leads land on F2
        await settle(pilot)
        found = {}
        for query in KINDS:
            await search(pilot, query)
            found[query] = [(row[0], row[-1]) for row in table_rows(pilot)]
    assert found == {query: [expected] for query, expected in KINDS.items()}


async def test_paging_forward_and_back_swaps_pages_of_fifty(
    sqlite_db: Database, clock: FixedClock
) -> None:
    add_staff(sqlite_db, "agent1")
    given = "一二三四五六七八九十"
    add_customers(
        sqlite_db,
        [
            NewCustomer(
                f"张{given[i // 10]}{given[i % 10]}",
                f"137{i:08d}",
                f"11010119800101{i:04d}",
                f"P{i:05d}",
            )
            for i in range(100)
        ]
        + [
            NewCustomer(f"张{given[i]}", f"136{i:08d}", f"22010119800101{i:04d}", f"Q{i:05d}")
            for i in range(10)
        ],
    )
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await sign_in(pilot, "agent1")
        await pilot.press("f4")  # agents and leads land on F2
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LookupScreen)
        await search(pilot, "张")
        first = [row[2] for row in table_rows(pilot)]
        assert len(first) == 50
        assert "Page 1 · 50+ customers" in screen_text(pilot)  # more than this page, uncounted
        assert screen.check_action("prev_page", ()) is None  # dimmed on the first page
        await pilot.press("pagedown")
        await settle(pilot)
        second = [row[2] for row in table_rows(pilot)]
        assert len(second) == 50
        assert not set(first) & set(second)
        await pilot.press("pagedown")
        await settle(pilot)
        third = [row[2] for row in table_rows(pilot)]
        assert len(third) == 10
        assert "Page 3 · 110 customers" in screen_text(pilot)  # every match, now known
        assert screen.check_action("next_page", ()) is None  # the last page
        await pilot.press("pagedown")  # nothing further: the page stays
        await settle(pilot)
        assert [row[2] for row in table_rows(pilot)] == third
        await pilot.press("pageup")
        await settle(pilot)
        assert [row[2] for row in table_rows(pilot)] == second
        await pilot.press("pageup")
        await settle(pilot)
        assert [row[2] for row in table_rows(pilot)] == first
        assert "Page 1" in screen_text(pilot)
    assert len(set(first) | set(second) | set(third)) == 110


async def test_empty_no_match_and_each_unsearchable_query_are_said_plainly(
    sqlite_db: Database, clock: FixedClock
) -> None:
    add_staff(sqlite_db, "agent1")
    add_customers(sqlite_db, [ZHANG])
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await sign_in(pilot, "agent1")
        await pilot.press("f4")  # agents and leads land on F2
        await settle(pilot)
        empty = app.screen.query_one("#lookup-empty", Static)
        assert "Type to search customers" in screen_text(pilot)
        await search(pilot, "9999")
        assert "No customer matches “9999”." in screen_text(pilot)
        assert empty.display
        await search(pilot, "x")
        assert "“x” is too short to search" in screen_text(pilot)
        await search(pilot, "张三!")
        assert "“张三!” holds characters no search reads (!)" in screen_text(pilot)
        await search(pilot, "张3")
        assert "“张3” mixes Chinese characters with letters or digits" in screen_text(pilot)
        await search(pilot, "1234567890123456789")
        assert "longer than any number a search reads" in screen_text(pilot)
        await search(pilot, "张")
        assert "Page 1 · 1 customer · by name" in screen_text(pilot)  # one: singular
        await pilot.press("backspace")
        await settle(pilot)
        assert "Type to search customers" in screen_text(pilot)
        assert not app.screen.query_one("#results", DataTable).display


async def test_a_stale_answer_never_overwrites_a_newer_query(
    sqlite_db: Database, clock: FixedClock
) -> None:
    add_staff(sqlite_db, "agent1")
    add_customers(sqlite_db, [ZHANG, LI])
    answers: list[LookupScreen.ResultsLoaded] = []

    def keep_answers(message: Message) -> None:
        if isinstance(message, LookupScreen.ResultsLoaded):
            answers.append(message)

    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(120, 30), message_hook=keep_answers) as pilot:
        await sign_in(pilot, "agent1")
        await pilot.press("f4")  # agents and leads land on F2
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LookupScreen)
        await search(pilot, "张")
        answer_for_zhang = answers[-1]
        assert answer_for_zhang.page.query == "张"
        await search(pilot, "李")
        assert [row[0] for row in table_rows(pilot)] == ["李*"]
        # the answer to "张" arrives again, late: it must not replace the newer results
        screen.post_message(
            LookupScreen.ResultsLoaded(
                answer_for_zhang.seq, answer_for_zhang.page, answer_for_zhang.number
            )
        )
        await pilot.pause()
        assert [row[0] for row in table_rows(pilot)] == ["李*"]
        assert screen.page is not None
        assert screen.page.query == "李"


async def test_the_card_shows_masked_data_and_esc_returns_to_the_same_results(
    sqlite_db: Database, clock: FixedClock
) -> None:
    add_staff(sqlite_db, "agent1")
    add_customers(sqlite_db, [ZHANG, LI])
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await sign_in(pilot, "agent1")
        await pilot.press("f4")  # agents and leads land on F2
        await settle(pilot)
        await search(pilot, "1")  # too short: nothing
        await search(pilot, "13812345678")
        await pilot.press("enter")  # exactly one hit: Enter in the field opens it
        await settle(pilot)
        assert isinstance(app.screen, CustomerCardScreen)
        text = screen_text(pilot)
        assert "138****5678" in text
        assert "13812345678" not in text
        assert "110***********1234" in text
        assert "张**" in text
        assert "张三丰" not in text
        assert "Gold" in text
        assert "¥12.50" in text  # arrears in yuan
        await pilot.press("escape")
        assert isinstance(app.screen, LookupScreen)
        assert app.screen.query_one("#query", Input).value == "13812345678"
        assert [row[1] for row in table_rows(pilot)] == ["138****5678"]


async def test_enter_on_a_row_opens_that_customer(sqlite_db: Database, clock: FixedClock) -> None:
    add_staff(sqlite_db, "agent1")
    add_customers(
        sqlite_db,
        [
            NewCustomer("张三丰", "13800001234", "110101198001011111", "C0101"),
            NewCustomer(
                "欧阳娜娜",
                "13700001234",
                "110101198001012222",
                "C0102",
                big_customer_class="A",
                account_manager_name="陈经理",
                address="广东省深圳市南山区科技园路1号",
            ),
        ],
    )
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await sign_in(pilot, "agent1")
        await pilot.press("f4")  # agents and leads land on F2
        await settle(pilot)
        await search(pilot, "01234")
        names = [row[0] for row in table_rows(pilot)]
        assert sorted(names) == ["张**", "欧阳**"]
        await pilot.press("enter")  # two hits: Enter in the field moves to the table
        assert app.focused is app.screen.query_one("#results", DataTable)
        await pilot.press(*["down"] * names.index("欧阳**"), "enter")
        await settle(pilot)
        text = screen_text(pilot)
        assert "欧阳**" in text
        assert "Big customer A" in text
        assert "陈经理" in text  # the account manager is staff: not masked
        assert "广东省深圳市南山区" in text
        assert "科技园路" not in text


async def test_unmask_is_denied_for_an_agent_and_logged(
    sqlite_db: Database, clock: FixedClock
) -> None:
    add_staff(sqlite_db, "agent1")
    (customer_id,) = add_customers(sqlite_db, [ZHANG])
    notes = Notes()
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(120, 40), message_hook=notes) as pilot:
        await sign_in(pilot, "agent1")
        await pilot.press("f4")  # agents and leads land on F2
        await settle(pilot)
        await search(pilot, "13812345678")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("ctrl+u")
        await pilot.pause()
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.press("down", "enter")  # the phones
        await settle(pilot)
        assert isinstance(app.screen, CustomerCardScreen)
        text = screen_text(pilot)
        assert "13812345678" not in text
        assert "may not unmask personal data (Phones)" in text
        assert any("may not unmask" in note for note in notes.messages)
    rows = audit_rows(sqlite_db, "customer.unmask")
    assert [(row.actor_login, row.target_id, row.detail["outcome"]) for row in rows] == [
        ("agent1", str(customer_id), "denied")
    ]


async def test_unmask_is_shown_and_logged_for_a_lead(
    sqlite_db: Database, clock: FixedClock
) -> None:
    add_staff(sqlite_db, "lead1")
    (customer_id,) = add_customers(sqlite_db, [ZHANG])
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await sign_in(pilot, "lead1")
        await pilot.press("f4")  # the lead lands on the queue
        await settle(pilot)
        await search(pilot, "5678")
        await pilot.press("down", "enter")  # to the table, open the highlighted row
        await settle(pilot)
        assert isinstance(app.screen, CustomerCardScreen)
        await pilot.press("ctrl+u")
        await pilot.pause()
        await pilot.press("down", "enter")
        await settle(pilot)
        text = screen_text(pilot)
        assert "Unmasked for you (logged):" in text
        assert "Phones: 13812345678" in text
    rows = audit_rows(sqlite_db, "customer.unmask")
    assert [(row.actor_login, row.target_id, row.detail) for row in rows] == [
        ("lead1", str(customer_id), {"field": "phone", "outcome": "granted", "role": "lead"})
    ]


async def test_chinese_and_latin_names_line_up_in_the_results(
    sqlite_db: Database, clock: FixedClock
) -> None:
    add_staff(sqlite_db, "agent1")
    add_customers(
        sqlite_db,
        [
            NewCustomer("张三丰", "13800001234", "110101198001011111", "C0101"),
            NewCustomer("Li Lei", "13900001234", "110101198001012222", "C0102"),
            NewCustomer("欧阳娜娜", "13700001234", "110101198001013333", "C0103"),
        ],
    )
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(140, 30)) as pilot:
        await sign_in(pilot, "agent1")
        await pilot.press("f4")  # agents and leads land on F2
        await settle(pilot)
        await search(pilot, "01234")
        table = app.screen.query_one("#results", DataTable)
        assert table.row_count == 3
        lines = [table.render_line(y).text for y in range(1, 1 + table.row_count)]
        phones = ["138****1234", "139****1234", "137****1234"]
        for column_text in (phones, ["C0101", "C0102", "C0103"]):
            starts = set()
            for line in lines:
                value = next(value for value in column_text if value in line)
                starts.add(cell_len(line[: line.index(value)]))
            assert len(starts) == 1, lines
        names = [line.split()[0] for line in lines]
        assert sorted(names) == sorted(["张**", "L*", "欧阳**"])
