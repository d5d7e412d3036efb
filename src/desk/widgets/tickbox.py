"""A checkbox that reads without colour.

Textual's compact checkbox draws the same ``X`` ticked or not and tells the two apart by
colour only, so on a monochrome terminal (or to a colour-blind agent) an unticked consent box
reads as ticked. This one draws the mark only when the box is ticked.
"""

from __future__ import annotations

from textual.widgets import Checkbox


class Tickbox(Checkbox):
    """A checkbox whose mark is ``X`` when ticked and blank when not."""

    @property
    def BUTTON_INNER(self) -> str:  # type: ignore[override]  # Textual reads it per render
        return "X" if self.value else " "
