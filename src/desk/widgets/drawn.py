"""Text laid out in lines by desk itself: paragraphs and grids of cells, for a screen that
shows a long read model (a work order with its history of 50 events).

Rich's :class:`~rich.table.Table` measures every cell of a column twice to size it, renders
each cell through a ``Padding`` and a ``Styled``, then splits and crops the lines it made: a
work order with a 50-event history took ~30 ms of the main thread to lay out at 160
columns, as long as the rest of opening it. A :class:`Grid` here sizes its columns from the
cells' widths (``cell_len``), gives what is left of the line to its last column, wraps only
the cells wider than their column (folding a word longer than the column, Chinese text
included) and joins the segments of each line directly.

:class:`Drawn` is a Rich renderable of paragraphs and grids: printed by any Rich console
(tests), and drawn without Rich's pipeline by :class:`~desk.widgets.painted.RenderedOnce`,
which asks it for its lines (:meth:`Drawn.lines`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult

Line = list[Segment]


@dataclass(frozen=True, slots=True)
class Grid:
    """Rows of cells in columns: each column as wide as its widest cell, the last one
    taking what is left of the line (``expand``) or what it needs, never less than a third
    of the line while another column can give way. ``styles``: a style under each column's
    cells (``"dim"`` labels); ``header``: a first row, in ``header_style``.

    On a line too narrow for the columns (a leading column would keep fewer than
    :data:`NARROWEST` cells of a wider text: a date folded over five lines), each row is
    drawn as a paragraph instead, its cells one after the other, its later lines indented."""

    rows: Sequence[Sequence[Text]]
    header: Sequence[Text] | None = None
    gap: int = 2
    styles: Sequence[str] = ()
    header_style: str = "bold"
    expand: bool = False


@dataclass(frozen=True, slots=True)
class Drawn:
    """Paragraphs (:class:`~rich.text.Text`, wrapped to the width) and :class:`Grid` s, one
    below the other."""

    blocks: Sequence[Text | Grid] = field(default_factory=list)

    def lines(self, console: Console, width: int) -> list[Line]:
        """The blocks as lines of segments, ``width`` cells wide at most."""
        width = max(1, width)
        out: list[Line] = []
        for block in self.blocks:
            if isinstance(block, Grid):
                out.extend(_grid_lines(block, console, width))
            else:
                out.extend(_text_lines(block, console, width))
        return out

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        new_line = Segment.line()
        for line in self.lines(console, options.max_width):
            yield from line
            yield new_line


def as_written(value: Text | str) -> Text:
    """A cell as it was written, never parsed as markup (a reason or a name with ``[b]``
    in it lost those characters)."""
    return Text(value) if isinstance(value, str) else value


def facts(rows: Iterable[tuple[str, Text | str]]) -> Grid:
    """Label/value lines, the labels dim; columns sized by cell width, so Chinese labels
    line up."""
    return Grid([(Text(label), as_written(value)) for label, value in rows], styles=("dim",))


def heading(text: str) -> Text:
    """A section's heading, a blank line above it."""
    return Text(f"\n{text}", style="bold underline")


def _segments(text: Text, console: Console) -> Line:
    """One line of text as segments, its own style under its spans (Rich's
    ``Text.render`` alone leaves the text's style out when it has no spans)."""
    segments = list(text.render(console))
    if text.style:
        return list(Segment.apply_style(segments, console.get_style(text.style)))
    return segments


def _fits(text: Text, width: int) -> bool:
    plain = text.plain
    return "\n" not in plain and "\t" not in plain and cell_len(plain) <= width


def _wrapped(text: Text, console: Console, width: int) -> list[Text]:
    """``text`` in lines of ``width`` cells at most: as it is when it fits, else wrapped
    at spaces with a longer word (or a run of Chinese) folded."""
    if _fits(text, width):
        return [text]
    plain = text.plain
    if "\t" not in plain and all(cell_len(part) <= width for part in plain.split("\n")):
        return list(text.split("\n", allow_blank=True))  # a heading's blank line above it
    return list(text.wrap(console, width, overflow="fold", no_wrap=False))


def _text_lines(text: Text, console: Console, width: int) -> list[Line]:
    return [_segments(line, console) for line in _wrapped(text, console, width)]


def _text_width(text: Text) -> int:
    plain = text.plain
    if "\n" not in plain and "\t" not in plain:
        return cell_len(plain)
    return max(cell_len(part) for part in plain.expandtabs(8).split("\n"))


def _column_widths(natural: list[int], width: int, gap: int, *, expand: bool) -> list[int]:
    """Each column's width: its widest cell, the last one what is left. When the leading
    columns leave the last less than a third of the line (or less than it needs), the
    widest of them give way, down to 4 cells each."""
    if not natural:
        return []
    if len(natural) == 1:
        return [width if expand else min(natural[0], width)]
    lead = natural[:-1]
    room = width - gap * (len(natural) - 1)
    wanted_last = min(natural[-1], max(1, width // 3)) if not expand else max(1, width // 3)
    over = sum(lead) + wanted_last - room
    while over > 0:
        widest = max(range(len(lead)), key=lead.__getitem__)
        if lead[widest] <= 4:
            break
        cut = min(over, lead[widest] - 4)
        lead[widest] -= cut
        over -= cut
    rest = max(1, room - sum(lead))
    return [*lead, rest if expand else min(natural[-1], rest)]


NARROWEST = 8
"""The fewest cells a leading column of a grid keeps before its rows become paragraphs."""


def _flowed(
    rows: list[Sequence[Text]],
    styles: list[Style | None],
    header: Style | None,
    console: Console,
    width: int,
    gap: int,
) -> list[Line]:
    """Each row as a paragraph: its cells in order, ``gap`` spaces apart, each under its
    column's style, wrapped at ``width`` with its later lines indented by two cells."""
    out: list[Line] = []
    indent = Segment("  ") if width > 4 else None
    for number, row in enumerate(rows):
        text = Text()
        for index, cell in enumerate(row):
            if not cell.plain:
                continue
            if text.plain:
                text.append(" " * gap)
            start = len(text)
            text.append_text(cell)
            style = _under(styles[index], header if number == 0 else None)
            if style is not None:
                text.stylize_before(style, start, len(text))
        if indent is None:
            out.extend(_text_lines(text, console, width))
            continue
        for y, line in enumerate(_wrapped(text, console, width - 2)):
            segments = _segments(line, console)
            out.append([indent, *segments] if y else segments)
    return out


def _grid_lines(grid: Grid, console: Console, width: int) -> list[Line]:
    rows: list[Sequence[Text]] = list(grid.rows)
    if grid.header is not None:
        rows.insert(0, grid.header)
    if not rows:
        return []
    columns = max(len(row) for row in rows)
    natural = [0] * columns
    for row in rows:
        for index, cell in enumerate(row):
            natural[index] = max(natural[index], _text_width(cell))
    widths = _column_widths(natural, width, grid.gap, expand=grid.expand)
    styles = [console.get_style(style) if style else None for style in grid.styles]
    styles += [None] * (columns - len(styles))
    header = console.get_style(grid.header_style) if grid.header is not None else None
    if any(
        kept < wanted and kept < NARROWEST
        for kept, wanted in zip(widths[:-1], natural[:-1], strict=True)
    ):
        return _flowed(rows, styles, header, console, width, grid.gap)
    gap = Segment(" " * grid.gap)
    out: list[Line] = []
    for number, row in enumerate(rows):
        under = header if number == 0 and header is not None else None
        cells = [_wrapped(cell, console, widths[index]) for index, cell in enumerate(row)]
        height = max((len(lines) for lines in cells), default=1)
        for y in range(height):
            line: Line = []
            last = len(cells) - 1
            for index, lines in enumerate(cells):
                if index:
                    line.append(gap)
                segments = _segments(lines[y], console) if y < len(lines) else []
                style = _under(styles[index], under)
                if style is not None:
                    segments = list(Segment.apply_style(segments, style))
                line.extend(segments)
                if index < last:
                    used = sum(cell_len(segment.text) for segment in segments)
                    if used < widths[index]:
                        line.append(Segment(" " * (widths[index] - used)))
            out.append(line)
    return out


def _under(column: Style | None, row: Style | None) -> Style | None:
    if column is None:
        return row
    return column if row is None else column + row
