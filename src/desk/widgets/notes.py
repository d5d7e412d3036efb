"""A text area whose empty state paints cheaply.

Textual's ``TextArea`` with a placeholder wraps the whole placeholder again for every line it
paints while it is empty: a notes box 30 lines high wraps it 30 times at each repaint (a call
starting, the pane resized), most of the time it takes to paint the workspace. This one
wraps it once per width and paints the lines under it blank, as ``TextArea`` paints the lines
past the end of an empty document.
"""

from __future__ import annotations

from textual.content import Content
from textual.strip import Strip
from textual.widgets import TextArea


class NotesArea(TextArea):
    """A ``TextArea`` whose placeholder is wrapped once per width, not once per line."""

    _placeholder_height: tuple[str, int, int] | None = None  # (placeholder, width, lines)

    def _placeholder_lines(self) -> int:
        placeholder, width = str(self.placeholder), self.content_size.width
        known = self._placeholder_height
        if known is None or known[:2] != (placeholder, width):
            lines = len(Content.from_text(self.placeholder).wrap(width))
            known = self._placeholder_height = (placeholder, width, lines)
        return known[2]

    def render_line(self, y: int) -> Strip:
        if self.text or not self.placeholder or y < self._placeholder_lines():
            return super().render_line(y)
        # past the placeholder of an empty document: blank, in the area's base style
        theme = self._theme
        base = theme.base_style if theme and theme.base_style is not None else self.rich_style
        return Strip.blank(self.size.width, base)
