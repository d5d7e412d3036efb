"""The quick table draws what Textual's DataTable draws: the same characters in the same
styles, line by line and a frame at a time, with the cursor, zebra stripes, Chinese text,
styled and cut cells; and it sizes its columns as the stock table does."""

from __future__ import annotations

from functools import partial

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import DuplicateKey

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
    table._render_line = partial(DataTable._render_line, table)  # type: ignore[method-assign]
    table.render_line = partial(DataTable.render_line, table)  # type: ignore[method-assign]
    try:
        stock, stock_frame = drawn()
    finally:
        del table._render_line
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
        # scrolled sideways a cell at a time: wide characters cut at either edge, cells
        # drawn in part, columns left out on both sides
        table.move_cursor(row=2)
        assert table.max_scroll_x > 20
        for x in range(table.max_scroll_x + 1):
            table.scroll_to(x=x, animate=False, immediate=True)
            await pilot.pause()
            assert table.scroll_x == x
            quick, stock, quick_frame, stock_frame = both(table)
            assert quick == stock, x
            assert quick_frame == stock_frame, x


async def test_a_table_narrower_than_its_widget_is_drawn_as_the_stock_one() -> None:
    """The blank right of the last column takes the row's style, as the stock table's."""
    app = One()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(QuickTable)
        table.add_column("Number", key="number")
        table.add_column("Status", key="status")
        for n, row in enumerate(ROWS[:3]):
            table.add_row(row[0], row[2], key=str(n))
        table.move_cursor(row=1)
        await pilot.pause()
        assert sum(column.get_render_width(table) for column in table.ordered_columns) < 40
        quick, stock, quick_frame, stock_frame = both(table)
        assert quick == stock
        assert quick_frame == stock_frame


async def test_rows_added_at_once_are_the_rows_added_one_by_one() -> None:
    """``add_text_rows`` leaves the table as ``add_row`` for each leaves it: the same cells,
    places, heights and cursor, and one highlight of the cursor's row when the table had no
    row before; the rows drawn alike."""
    rows = [row for row in ROWS if all(isinstance(cell, Text) for cell in row)]

    class Two(App[None]):
        highlighted: list[str | None] = []

        def compose(self) -> ComposeResult:
            yield QuickTable(id="one", cursor_type="row", zebra_stripes=True)
            yield QuickTable(id="all", cursor_type="row", zebra_stripes=True)

        def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
            self.highlighted.append(event.data_table.id)

    app = Two()
    async with app.run_test(size=(60, 20)) as pilot:
        one = app.query_one("#one", QuickTable)
        at_once = app.query_one("#all", QuickTable)
        for table in (one, at_once):
            table.add_column("Number", key="number")
            table.add_column("Clock", key="clock")
            table.add_column("Status", key="status")
            table.add_column("Title", key="title")
        await pilot.pause()
        for n, row in enumerate(rows):
            one.add_row(*row, key=str(n))
        at_once.add_text_rows([(str(n), list(row)) for n, row in enumerate(rows)])
        await pilot.pause()
        assert at_once._data == one._data
        assert [at_once._row_locations.get(k) for k in one.rows] == [
            one._row_locations.get(k) for k in one.rows
        ]
        assert [(r.key, r.height, r.label) for r in at_once.rows.values()] == [
            (r.key, r.height, r.label) for r in one.rows.values()
        ]
        assert at_once.cursor_coordinate == one.cursor_coordinate
        assert sorted(app.highlighted, key=str) == ["all", "one"]
        assert [c.content_width for c in at_once.ordered_columns] == [
            c.content_width for c in one.ordered_columns
        ]
        assert [at_once.render_line(y).text for y in range(4)] == [
            one.render_line(y).text for y in range(4)
        ]
        with pytest.raises(DuplicateKey):
            at_once.add_text_rows([("0", [Text("again")])])
