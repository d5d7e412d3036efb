"""Widgets that take the size a layout gives them without asking for a second layout.

Textual sets each widget's ``virtual_size`` after a layout, and that reactive asks for a
layout of its own whenever it changes: a customer card appearing in the workspace (its body
grows from one line to forty, its pane's scrollable height with it) made the screen lay out
and paint once for the card and then once more for nothing, a second frame that delayed the
card's settling by a frame and its work. A leaf widget's virtual size is the size the layout
has just given it, and a scrolling pane whose scrollbar is always shown (``overflow-y:
scroll``) keeps its width whatever its content: for these the sizes are recorded without a
new layout, and the pane's scrollbar is told its new range (a repaint of the bar only).

Textual's ``Widget._size_updated`` has a ``layout`` switch for this (its partial reflow of
scrolled widgets uses it); these classes pass it for every layout. Textual is pinned in
``constraints.txt``; a test checks that a card appearing lays the workspace out once.
"""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.geometry import Size
from textual.widget import Widget
from textual.widgets import Static


class _Settled(Widget):
    """Takes the size a layout gives it without asking for another layout."""

    def _size_updated(
        self,
        size: Size,
        virtual_size: Size,
        container_size: Size,
        layout: bool = True,  # noqa: ARG002, FBT001, FBT002 - Textual's signature
    ) -> bool:
        return super()._size_updated(size, virtual_size, container_size, layout=False)


class SettledStatic(_Settled, Static):
    """A ``Static`` whose new size after a layout asks for no other layout."""


class SettledScroll(_Settled, VerticalScroll):
    """A ``VerticalScroll`` whose scrollable height after a layout asks for no other
    layout. Give it ``overflow-y: scroll``: a scrollbar that comes and goes changes the
    width of what it holds, and that needs the layout."""
