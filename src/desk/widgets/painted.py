"""A Rich renderable shown in a ``Static`` and rendered once per width, not once per use.

Textual renders a Rich renderable of a ``Static`` whose height follows its content twice for
each layout: once to count its lines (the layout) and once more to paint them, and again at
every later layout. A customer card (tables of facts, the orders, the contacts) is the
costliest thing the workspace paints when a call starts; :class:`RenderedOnce` keeps the lines
of its last render and gives them to both, rendered again only for another width or style.

Show it with ``static.update(RenderedOnce(static, renderable))``. A
:class:`~desk.widgets.drawn.Drawn` gives its lines directly, without Rich's render pipeline.
"""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING

from rich.segment import Segment
from textual.strip import Strip
from textual.visual import RichVisual

from desk.widgets.drawn import Drawn

if TYPE_CHECKING:
    from rich.console import RenderableType
    from textual.css.styles import RulesMap
    from textual.style import Style
    from textual.visual import RenderOptions
    from textual.widget import Widget


class RenderedOnce(RichVisual):
    """A :class:`~textual.visual.RichVisual` that remembers the lines of its last render.

    The lines are rendered once per width without the widget's base style, and the style
    is laid under each segment when painting, as Textual's ``post_render`` does (``base +
    segment style``): the layout asks for the height with one style and the paint passes
    another object, so a cache keyed on the style missed.
    """

    def __init__(self, widget: Widget, renderable: RenderableType) -> None:
        super().__init__(widget, renderable)
        self._lines: tuple[int, list[list[Segment]]] | None = None

    def _plain_lines(self, width: int) -> list[list[Segment]]:
        known = self._lines
        if known is not None and known[0] == width:
            return known[1]
        app = self._widget.app
        if isinstance(self._renderable, Drawn):
            lines = [
                line
                if Segment.get_line_length(line) <= width
                else Segment.adjust_line_length(line, width, pad=False)
                for line in self._renderable.lines(app.console, width)
            ]
            self._lines = (width, lines)
            return lines
        options = app.console_options.update(highlight=False, width=width, height=None)
        segments = app.console.render(self._renderable, options.update_width(width))
        lines = list(
            Segment.split_and_crop_lines(segments, width, include_new_lines=False, pad=False)
        )
        self._lines = (width, lines)
        return lines

    def get_height(self, rules: RulesMap, width: int) -> int:  # noqa: ARG002 - the Visual protocol
        return len(self._plain_lines(width))

    def render_strips(
        self,
        width: int,
        height: int | None,
        style: Style,
        options: RenderOptions,  # noqa: ARG002 - the Visual protocol
    ) -> list[Strip]:
        base = style.rich_style
        return [
            Strip([Segment(text, base + own if own else base) for text, own, _ in line])
            for line in islice(self._plain_lines(width), None, height)
        ]
