"""The quick table draws what Textual's DataTable draws: the same characters in the same
styles, line by line, with the cursor, zebra stripes, Chinese text, styled and cut cells."""

from __future__ import annotations

from functools import partial

from rich.text import Text
from textual.app import App, ComposeResult
from textual.strip import Strip
from textual.widgets import DataTable

from desk.widgets.table import QuickTable

ROWS = [
    ("WO20261102000001", Text("派单 剩 20分钟", style="bold"), "新建", "彩铃包月未订购却扣费"),
    ("WO20261102000002", Text("reply overdue 3h 05m", style="red"), "Dispatched", "x" * 80),
    ("WO20261102000003", Text("✓", style="bold green"), "", Text("Major ", "bold red") + "断网"),
    ("WO20261102000004", "-", "[bold]markup[/]", Text("宽带 ", style="italic") + "两个字"),
    ("WO20261102000005", Text("cut…", overflow="ellipsis"), "宽带\n两行", "end"),
    ("WO20261102000006", "a剩剩剩剩剩", "tab\there", Text("on", style="reverse")),
]


class One(App[None]):
    def compose(self) -> ComposeResult:
        yield QuickTable(id="quick", cursor_type="row", zebra_stripes=True)


def cells(strip: Strip) -> list[tuple[str, object]]:
    return [(char, segment.style) for segment in strip for char in segment.text]


Lines = list[list[tuple[str, object]]]


def both(table: QuickTable) -> tuple[Lines, Lines]:
    """Every line drawn by the quick table, then by the stock DataTable code, same widget."""
    table._clear_caches()
    quick = [cells(table.render_line(y)) for y in range(table.size.height)]
    table._clear_caches()
    table._render_cell = partial(DataTable._render_cell, table)  # type: ignore[method-assign]
    try:
        stock = [cells(table.render_line(y)) for y in range(table.size.height)]
    finally:
        del table._render_cell
        table._clear_caches()
    return quick, stock


async def test_the_quick_table_draws_every_line_as_the_stock_one() -> None:
    app = One()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(QuickTable)
        table.add_column("Number", key="number")
        table.add_column("Clock", key="clock", width=12)  # a fixed width cuts cells
        table.add_column("Status", key="status")
        table.add_column("Title", key="title")
        for n, row in enumerate(ROWS):
            table.add_row(*row, key=str(n))
        table.move_cursor(row=1)
        await pilot.pause()
        quick, stock = both(table)
        assert any("派" in char for line in quick for char, _style in line)
        assert quick == stock
        table.scroll_to(x=10, animate=False)
        table.move_cursor(row=2)
        await pilot.pause()
        quick, stock = both(table)
        assert quick == stock
