"""A data table whose one-line text rows are drawn without Rich's layout pipeline.

Textual's :class:`~textual.widgets.DataTable` draws every cell through Rich (a ``Padding``
inside a ``Styled``, the text wrapped and split into lines), and works out again for every
line it draws the widget's style (walking its ancestors), the row's zebra style, the columns'
widths and the background: a page of 50 work orders in eight columns took ~40 ms of the main
thread to draw each time it changed, and measuring its cells for the columns' widths another
~8 ms. :class:`QuickTable` draws a row one line high whose cells are each one line of
:class:`~rich.text.Text` (every row of the queue) straight from the text's segments: the cell
padding, the text cropped or padded to the column, the table's styles under and the cursor's
over it, the same characters in the same styles as the stock drawing (a test compares the
two). What every line of a frame shares (the widget's style, the rows' styles, the widths) is
worked out once per frame. Only the columns the widget shows are drawn: at 160 columns the
queue's table is ~96 cells wide and its eight columns ~150, and the stock code drew every cell
of a row, then cropped the line. A one-line text cell is measured by its cell length. Any other
row or cell (a header, several lines, a justified or ellipsised text, another renderable, a
row label, a fixed column, a cell or column cursor) is drawn and measured by the stock code.

It reads the stock table's caches and style lookup (``_line_cache``, ``_get_offsets``,
``_get_styles_to_render_cell``, ``_data``): Textual's version is
pinned in ``constraints.txt``, and the comparison test fails when an upgrade changes the
drawing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual._segment_tools import line_crop
from textual.cache import LRUCache
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, DuplicateKey, Row, RowKey

_PLAIN_JUSTIFY = (None, "default", "left")
_CROPPING = (None, "fold", "crop")
_JOIN = Text("")


def _one_line(cell: object) -> bool:
    """A cell drawn (and measured) directly: one line of text, left, cropped."""
    if not isinstance(cell, Text):
        return False
    plain = cell.plain
    return (
        "\n" not in plain
        and "\t" not in plain
        and cell.justify in _PLAIN_JUSTIFY
        and cell.overflow in _CROPPING
    )


@dataclass(frozen=True, slots=True)
class _Frame:
    """What every line of one frame shares."""

    base_style: Style
    even_style: Style
    odd_style: Style
    columns: tuple[tuple[ColumnKey, int], ...]  # key and width drawn, in order
    remaining: int  # blank cells right of the last column


@dataclass(frozen=True, slots=True)
class _View:
    """Where the widget stands in one frame: its width, scroll, fixed rows, cursor and the
    rest of what a drawn line is cached by (read once, not for every line)."""

    width: int
    scroll_x: int
    scroll_y: int
    fixed_rows_height: int
    cursor: Coordinate
    hover: Coordinate
    state: tuple[Any, ...]  # cursor type, hover shown, update count, pseudo classes


class QuickTable(DataTable[str | Text]):
    """A :class:`DataTable` that draws one-line text rows directly (see the module)."""

    _drawing = False
    _texts: LRUCache[tuple[RowKey, ColumnKey, int, int], list[Segment]]
    _frame: _Frame | None = None
    _base_style: Style | None = None
    _view: _View | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._texts = LRUCache(2000)
        self._metas: dict[tuple[int, int], Style] = {}

    def add_text_rows(self, rows: Sequence[tuple[str, Sequence[Text]]]) -> None:
        """Add ``rows`` (a key and the cells of each) one line high, as ``add_row`` adds them
        one at a time, with the columns listed, the cursor set again and the table told once
        for all (a page of 50 rows: ``add_row`` listed the columns twice and set the cursor
        again for each)."""
        columns = self.ordered_columns
        was_empty = not self.rows
        for key, cells in rows:
            row_key = RowKey(key)
            if row_key in self._row_locations:
                raise DuplicateKey(f"The row key {row_key!r} already exists.")
            if len(cells) > len(columns):
                raise ValueError("More values provided than there are columns.")
            self._row_locations[row_key] = len(self.rows)
            self._data[row_key] = {column.key: cell for column, cell in zip_longest(columns, cells)}
            self.rows[row_key] = Row(row_key, 1, None, False)
            self._new_rows.add(row_key)
        if not rows:
            return
        self._require_update_dimensions = True
        self.cursor_coordinate = self.cursor_coordinate
        if was_empty and self.columns and self.show_cursor and self.cursor_type != "none":
            self._highlight_cursor()  # a cell for the cursor where there was none
        self._update_count += 1
        self.check_idle()

    # --- measuring -------------------------------------------------------------------------

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """The stock measuring, but a row of one-line text cells is measured by the cells'
        lengths (what Rich's measure of such a text comes to) instead of through Rich."""
        slow: list[RowKey] = []
        columns = self.ordered_columns
        for row_key in new_rows:
            row = self.rows.get(row_key)
            cells = self._data.get(row_key)
            if (
                row is None
                or cells is None
                or row.label is not None
                or row.auto_height
                or row_key not in self._row_locations
            ):
                slow.append(row_key)
                continue
            values = [cells.get(column.key) for column in columns]
            if not all(_one_line(value) for value in values):
                slow.append(row_key)
                continue
            for column, value in zip(columns, values, strict=True):
                assert isinstance(value, Text)
                width = max((cell_len(line) for line in value.plain.splitlines()), default=0)
                if width > column.content_width:
                    column.content_width = width
        super()._update_dimensions(slow)

    # --- drawing ---------------------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        self._drawing, self._frame, self._base_style, self._view = True, None, None, None
        try:
            return super().render_lines(crop)
        finally:
            self._drawing, self._frame, self._base_style, self._view = False, None, None, None

    def _view_now(self) -> _View:
        """Where the widget stands for the frame drawn (or now, outside one)."""
        view = self._view
        if view is not None:
            return view
        scroll_x, scroll_y = self.scroll_offset
        fixed_rows_height = 0
        for row_index in range(self.fixed_rows):
            fixed_key = self._row_locations.get_key(row_index)
            if fixed_key is not None:
                fixed_rows_height += self.get_row_height(fixed_key)
        if self.show_header:
            fixed_rows_height += self.get_row_height(self._header_row_key)
        view = _View(
            width=self.size.width,
            scroll_x=scroll_x,
            scroll_y=scroll_y,
            fixed_rows_height=fixed_rows_height,
            cursor=self.cursor_coordinate,
            hover=self.hover_coordinate,
            state=(
                self.cursor_type,
                self._show_hover_cursor,
                self._update_count,
                self._pseudo_class_state,
            ),
        )
        if self._drawing:  # kept for the frame's other lines only
            self._view = view
        return view

    def render_line(self, y: int) -> Strip:
        if not self._drawing:
            return super().render_line(y)
        # DataTable.render_line, with the widget's style and place worked out once per frame
        base_style = self._base_style
        if base_style is None:
            base_style = self._base_style = self.rich_style
        view = self._view_now()
        if y >= view.fixed_rows_height:
            y += view.scroll_y
        return self._render_line(y, view.scroll_x, view.scroll_x + view.width, base_style)

    def _frame_now(self, base_style: Style) -> _Frame:
        frame = self._frame
        if frame is not None and frame.base_style == base_style:
            return frame
        columns = tuple(
            (column.key, column.get_render_width(self)) for column in self.ordered_columns
        )
        table_width = sum(width for _key, width in columns) + self._row_label_column_width
        frame = _Frame(
            base_style=base_style,
            even_style=self.get_component_styles("datatable--even-row").rich_style,
            odd_style=self.get_component_styles("datatable--odd-row").rich_style,
            columns=columns,
            remaining=max(0, self._view_now().width - table_width),
        )
        if self._drawing:  # kept for the frame's other lines only
            self._frame = frame
        return frame

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style) -> Strip:
        """DataTable._render_line for a row one line high of text cells: only the columns
        seen between ``x1`` and ``x2`` are drawn (the stock code draws every cell of the row,
        then crops the line to the widget), and the line's width is known, not measured."""
        view = self._view_now()
        width = view.width
        try:
            row_key, line_no = self._get_offsets(y)
        except LookupError:
            return Strip.blank(width, base_style)
        row = self.rows.get(row_key)
        row_index = self._row_locations.get(row_key)
        if (
            row is None
            or row_index is None
            or row.height != 1
            or line_no != 0
            or row_index < self.fixed_rows
            or self.fixed_columns
            or self.cursor_type != "row"
            or (self._labelled_row_exists and self.show_row_labels)
        ):
            return super()._render_line(y, x1, x2, base_style)
        cursor_location = view.cursor
        hover_location = view.hover
        cursor_type, show_hover, update_count, pseudo_classes = view.state
        cache_key = (
            y,
            x1,
            x2,
            width,
            cursor_location,
            hover_location,
            base_style,
            cursor_type,
            show_hover,
            update_count,
            pseudo_classes,
        )
        cached = self._line_cache.get(cache_key)
        if cached is not None:
            return cached
        strip = Strip(
            self._row_line(
                row_key, row_index, base_style, cursor_location, hover_location, x1, x2, width
            ),
            width,
        )
        self._line_cache[cache_key] = strip
        return strip

    def _row_line(
        self,
        row_key: RowKey,
        row_index: int,
        base_style: Style,
        cursor_location: Coordinate,
        hover_location: Coordinate,
        x1: int,
        x2: int,
        width: int,
    ) -> list[Segment]:
        """The segments of the row's cells seen between ``x1`` and ``x2``, and of the blank
        right of the last column, ``width`` cells in all."""
        cells = self._data.get(row_key, {})
        frame = self._frame_now(base_style)
        if self.zebra_stripes:
            row_style = frame.odd_style if row_index % 2 else frame.even_style
        else:
            row_style = base_style
        cursor = cursor_location.row == row_index
        hover = hover_location.row == row_index
        component_style, post_style = self._get_styles_to_render_cell(
            False,
            False,
            False,
            hover,
            cursor,
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
        )
        console = self.app.console
        post = console.get_style(post_style)
        padding = self.cell_padding
        side = Segment(" " * padding) if padding else None
        line: list[Segment] = []
        x = 0
        for column_index, (column_key, column_width) in enumerate(frame.columns):
            start, x = x, x + column_width
            if x <= x1:
                continue  # left of the widget
            if start >= x2:
                break  # right of it
            value = cells.get(column_key)
            inner = column_width - 2 * padding
            drawn: list[Segment]
            if inner <= 0 or not isinstance(value, Text) or not _one_line(value):
                drawn = super()._render_cell(
                    row_index, column_index, row_style, column_width, cursor, hover
                )[0]
            else:
                # the text cut or padded to the column: the same on every line and frame it
                # is drawn in, whatever the row's style and the cursor
                text_key = (row_key, column_key, inner, self._update_count)
                text = self._texts.get(text_key)
                if text is None:
                    if value.spans:
                        # joined as Rich joins a cell's lines: the text's own style becomes
                        # a span under its spans (Text.render alone leaves it out)
                        rendered = list(_JOIN.join([value]).render(console, end=""))
                    else:  # what that join renders for a text of one style
                        own = console.get_style(value.style) if value.style else None
                        rendered = [Segment(value.plain, own)]
                    text = Segment.adjust_line_length(rendered, inner)
                    self._texts[text_key] = text
                # what Segment.apply_style(style=row + cell meta + cursor, post_style=...)
                # gives; the meta of a place is kept, so the styles added are found in
                # Rich's cache
                meta = self._metas.get((row_index, column_index))
                if meta is None:
                    meta = Style.from_meta({"row": row_index, "column": column_index})
                    self._metas[row_index, column_index] = meta
                cell_style = console.get_style(row_style + meta + component_style)
                pieces = [side, *text, side] if side is not None else text
                drawn = []
                for segment in pieces:
                    style = cell_style + segment.style
                    if post:
                        style = style + post if style else post
                    drawn.append(Segment(segment.text, style))
            if start < x1 or x > x2:  # cut by the widget's edge
                drawn = line_crop(drawn, max(x1 - start, 0), min(x2, x) - start, column_width)
            line.extend(drawn)
        seen = max(0, min(x, x2) - x1)  # cells drawn so far
        blank_end = min(x + frame.remaining, x2)
        if blank_end > max(x, x1):
            extend_style, _post = self._get_styles_to_render_cell(
                False,
                False,
                False,
                hover,
                cursor,
                self.show_cursor,
                self._show_hover_cursor,
                False,
                False,
            )
            extend_style = (row_style + extend_style) + Style.from_meta(
                {"row": row_index, "column": 0, "out_of_bounds": True}
            )
            blank = blank_end - max(x, x1)
            line.append(Segment(" " * blank, extend_style))
            seen += blank
        if seen < width:
            line.append(Segment(" " * (width - seen), base_style))
        return line
