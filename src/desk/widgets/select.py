"""A select that keeps every key typed to pick an option, however fast.

Textual's ``Select`` searches its options as you type only once its list has the focus, and
the list takes the focus a moment after it opens: letters typed on the closed select, or
right after Enter opened it, went to the select itself and were dropped, and the list then
reset its search when the focus arrived (typing ``com`` fast picked what ``m`` matched, or
nothing). :class:`TypeAheadSelect` opens the list at the first letter typed on it and hands
every letter to the list's search, whose query survives the focus arriving.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events
from textual.widgets import Select
from textual.widgets._select import SelectCurrent, SelectOverlay, SelectType

if TYPE_CHECKING:
    from textual.app import ComposeResult


class _TypeAheadOverlay(SelectOverlay):
    """The options list; its search query survives the focus arriving after the keys."""

    def watch_has_focus(self, value: bool) -> None:
        query = self._search_query
        super().watch_has_focus(value)
        if value:  # letters typed while the focus was on its way are still the query
            self._search_query = query

    def type_ahead(self, character: str) -> None:
        """One letter of the search, typed before the list had the focus."""
        self._search_reset_timer.reset()
        self._search_query += character
        index = self._find_search_match(self._search_query)
        if index is not None:
            self.select(index)


class TypeAheadSelect(Select[SelectType]):
    """A ``Select`` whose type-to-search loses no key (see the module's docstring)."""

    def compose(self) -> ComposeResult:
        yield SelectCurrent(self.prompt)
        yield _TypeAheadOverlay(type_to_search=self._type_to_search).data_bind(
            compact=Select.compact
        )

    def check_consume_key(self, key: str, character: str | None = None) -> bool:
        return self._type_to_search and _searches(key, character)

    async def _on_key(self, event: events.Key) -> None:
        """A letter reaching the select itself (its list closed, or not focused yet)."""
        if not (self._type_to_search and _searches(event.key, event.character)):
            return
        assert event.character is not None
        event.stop()
        event.prevent_default()
        if not self.expanded:
            self.action_show_overlay()
        self.query_one(_TypeAheadOverlay).type_ahead(event.character)


def _searches(key: str, character: str | None) -> bool:
    """A key that types into the search (space still opens the list, as it always did)."""
    return character is not None and character.isprintable() and key != "space"
