"""A Rich renderable shown in a ``Static`` and rendered once per width, not once per use.

Textual renders a Rich renderable of a ``Static`` whose height follows its content twice for
each layout: once to count its lines (the layout) and once more to paint them, and again at
every later layout. A customer card (tables of facts, the orders, the contacts) is the
costliest thing the workspace paints when a call starts; :class:`RenderedOnce` keeps the lines
of its last render and gives them to both, rendered again only for another width or style.

Show it with ``static.update(RenderedOnce(static, renderable))``.
"""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING

from rich.segment import Segment
from textual.strip import Strip
from textual.visual import RichVisual

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.style import Style as RichStyle
    from textual.css.styles import RulesMap
    from textual.style import Style
    from textual.visual import RenderOptions
    from textual.widget import Widget


class RenderedOnce(RichVisual):
    """A :class:`~textual.visual.RichVisual` that remembers the lines of its last render."""

    def __init__(self, widget: Widget, renderable: RenderableType) -> None:
        super().__init__(widget, renderable)
        self._lines: tuple[int, RichStyle, list[Strip]] | None = None

    def _strips(self, width: int, rich_style: RichStyle) -> list[Strip]:
        known = self._lines
        if known is not None and known[0] == width and known[1] == rich_style:
            return known[2]
        app = self._widget.app
        options = app.console_options.update(highlight=False, width=width, height=None)
        renderable = self._widget.post_render(self._renderable, rich_style)
        segments = app.console.render(renderable, options.update_width(width))
        strips = [
            Strip(line)
            for line in Segment.split_and_crop_lines(
                segments, width, include_new_lines=False, pad=False
            )
        ]
        self._lines = (width, rich_style, strips)
        return strips

    def get_height(self, rules: RulesMap, width: int) -> int:  # noqa: ARG002 - the Visual protocol
        return len(self._strips(width, self._widget.visual_style.rich_style))

    def render_strips(
        self,
        width: int,
        height: int | None,
        style: Style,
        options: RenderOptions,  # noqa: ARG002 - the Visual protocol
    ) -> list[Strip]:
        return list(islice(self._strips(width, style.rich_style), None, height))
