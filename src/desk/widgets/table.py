"""A data table whose one-line text cells are drawn without Rich's layout pipeline.

Textual's :class:`~textual.widgets.DataTable` draws every cell through Rich (a ``Padding``
inside a ``Styled``, the text wrapped and split into lines), about a tenth of a millisecond a
cell: a page of 50 work orders in eight columns is drawn in tens of milliseconds each time it
changes. :class:`QuickTable` draws a cell that is one line of :class:`~rich.text.Text` in a row
one line high (every cell of the queue) straight from the text's segments: the cell padding,
the text cropped or padded to the column, the table's styles under and the cursor's over it,
the same characters in the same styles as the stock drawing (a test compares the two). Any
other cell (a header, several lines, a justified or ellipsised text, another renderable) is
drawn by the stock code.

It reads the stock table's caches and style lookup (``_cell_render_cache``,
``_get_row_renderables``, ``_get_styles_to_render_cell``): Textual's version is pinned in
``constraints.txt``, and the comparison test fails when an upgrade changes the drawing.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual._types import SegmentLines
from textual.widgets import DataTable

_PLAIN_JUSTIFY = (None, "default", "left")
_CROPPING = (None, "fold", "crop")
_JOIN = Text("")


class QuickTable(DataTable[str | Text]):
    """A :class:`DataTable` that draws one-line text cells directly (see the module)."""

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> SegmentLines:
        fast = (
            row_index >= 0
            and column_index >= 0
            and row_index >= self.fixed_rows
            and column_index >= self.fixed_columns
        )
        row_key = self._row_locations.get_key(row_index) if fast else None
        row = self.rows.get(row_key) if row_key is not None else None
        if row is None or row.height != 1 or width <= 2 * self.cell_padding:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        column_key = self._column_locations.get_key(column_index)
        if row_key is None or column_key is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        cache_key = (
            row_key,
            column_key,
            base_style,
            cursor,
            hover,
            self._show_hover_cursor,
            self._update_count,
            self._pseudo_class_state,
        )
        cached = self._cell_render_cache.get(cache_key)
        if cached is not None:
            return cached
        cell = self._get_row_renderables(row_index).cells[column_index]
        if (
            not isinstance(cell, Text)
            or "\n" in cell.plain
            or "\t" in cell.plain
            or cell.justify not in _PLAIN_JUSTIFY
            or cell.overflow not in _CROPPING
        ):
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
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
        pre_style = base_style + Style.from_meta({"row": row_index, "column": column_index})
        padding = self.cell_padding
        inner = width - 2 * padding
        console = self.app.console
        # joined as Rich joins a cell's lines: the text's own style becomes a span under its
        # spans (Text.render alone leaves it out)
        text = list(_JOIN.join([cell]).render(console, end=""))
        line = Segment.adjust_line_length(text, inner)
        if padding:
            side = [Segment(" " * padding)]
            line = side + line + side
        lines = [
            list(
                Segment.apply_style(
                    line,
                    style=console.get_style(pre_style + component_style),
                    post_style=console.get_style(post_style),
                )
            )
        ]
        self._cell_render_cache[cache_key] = lines
        return lines
