"""The quick table draws what Textual's DataTable draws: the same characters in the same
styles, line by line and a frame at a time, with the cursor, zebra stripes, Chinese text,
styled and cut cells; and it sizes its columns as the stock table does."""

from __future__ import annotations

from functools import partial

from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable

from desk.widgets.table import QuickTable

ROWS = [
    (
        Text("WO20261102000001"),
        Text("派单 剩 20分钟", style="bold"),
        Text("新建"),
        Text("彩铃包月未订购却扣费"),
    ),
    (
        Text("WO20261102000002"),
        Text("reply overdue 3h 05m", style="red"),
        Text("Dispatched"),
        Text("x" * 80),
    ),
    (
        Text("WO20261102000003"),
        Text("✓", style="bold green"),
        Text(""),
        Text("Major ", "bold red") + "断网",
    ),
    ("WO20261102000004", "-", "[bold]markup[/]", Text("宽带 ", style="italic") + "两个字"),
    ("WO20261102000005", Text("cut…", overflow="ellipsis"), "宽带\n两行", "end"),
    ("WO20261102000006", "a剩剩剩剩剩", "tab\there", Text("on", style="reverse")),
]


class One(App[None]):
    def compose(self) -> ComposeResult:
        yield QuickTable(id="quick", cursor_type="row", zebra_stripes=True)
        yield DataTable(id="stock", cursor_type="row", zebra_stripes=True)


def cells(strip: Strip) -> list[tuple[str, object]]:
    return [(char, segment.style) for segment in strip for char in segment.text]


Lines = list[list[tuple[str, object]]]


def both(table: QuickTable) -> tuple[Lines, Lines, Lines, Lines]:
    """Every line drawn by the quick table, then by the stock DataTable code, same widget:
    line by line (``render_line``), then as a frame (``render_lines``)."""

    def drawn() -> tuple[Lines, Lines]:
        table._clear_caches()
        lines = [cells(table.render_line(y)) for y in range(table.size.height)]
        table._clear_caches()
        table._styles_cache.clear()
        frame = [cells(strip) for strip in table.render_lines(Region(0, 0, *table.size))]
        return lines, frame

    quick, quick_frame = drawn()
    table._render_line_in_row = partial(DataTable._render_line_in_row, table)  # type: ignore[method-assign]
    table.render_line = partial(DataTable.render_line, table)  # type: ignore[method-assign]
    try:
        stock, stock_frame = drawn()
    finally:
        del table._render_line_in_row
        del table.render_line
        table._clear_caches()
    return quick, stock, quick_frame, stock_frame


async def test_the_quick_table_draws_every_line_as_the_stock_one() -> None:
    app = One()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(QuickTable)
        reference = app.query_one("#stock", DataTable)
        for each in (table, reference):
            each.add_column("Number", key="number")
            each.add_column("Clock", key="clock", width=12)  # a fixed width cuts cells
            each.add_column("Status", key="status")
            each.add_column("Title", key="title")
            for n, row in enumerate(ROWS):
                each.add_row(*row, key=str(n))
        table.move_cursor(row=1)
        await pilot.pause()
        widths = [column.content_width for column in table.ordered_columns]
        assert widths == [column.content_width for column in reference.ordered_columns]
        quick, stock, quick_frame, stock_frame = both(table)
        assert any("派" in char for line in quick for char, _style in line)
        assert quick == stock
        assert quick_frame == stock_frame
        assert any("派" in char for line in quick_frame for char, _style in line)
        assert len(quick_frame) == table.size.height > len(ROWS)  # every row drawn
        table.scroll_to(x=10, animate=False)
        table.move_cursor(row=2)
        await pilot.pause()
        quick, stock, quick_frame, stock_frame = both(table)
        assert quick == stock
        assert quick_frame == stock_frame
