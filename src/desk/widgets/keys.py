"""Keys are data: one table of bindings feeds the footer, the F1 keymap and the palette.

:class:`KeyFooter` is the footer of every screen.

Every ``Binding`` of desk carries an ``id`` and a msgid as its description (marked with
``N_``). :func:`translate_bindings` turns a node's descriptions into the current language
when the node is built, so the footer, :func:`keymap_of` (read by the F1 dialog) and the
command palette all show the same translated words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingsMap
from textual.dom import DOMNode
from textual.keys import key_to_character
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from desk.i18n import gettext

_KEY_NAMES = {
    "escape": "Esc",
    "enter": "Enter",
    "pagedown": "PgDn",
    "pageup": "PgUp",
    "tab": "Tab",
    "space": "Space",
    "up": "↑",
    "down": "↓",
    "left": "←",
    "right": "→",
    "home": "Home",
    "end": "End",
    "delete": "Del",
    "backspace": "Backspace",
}


def key_label(key: str) -> str:
    """How a key is written for people: ``ctrl+p`` → ``Ctrl+P``, ``f1`` → ``F1``, a key named
    for its character as the character (``right_square_bracket`` → ``]``), an upper-case
    letter with its Shift (``E`` → ``Shift+E``, ``e`` → ``E``)."""
    *modifiers, name = key.split("+")
    if len(name) == 1 and name.isupper():  # typed with Shift: told apart from its lowercase
        modifiers = [*modifiers, "shift"]
    shown = _KEY_NAMES.get(name)
    if shown is None and len(name) > 3:
        character = key_to_character(name)
        if character is not None and len(character) == 1 and character.isprintable():
            shown = character
    if shown is None:
        shown = name.upper() if len(name) <= 3 else name.capitalize()
    return "+".join([*(modifier.capitalize() for modifier in modifiers), shown])


def translate_bindings(node: DOMNode) -> None:
    """Replace the msgids in ``node``'s binding descriptions and tooltips by their texts.

    Call it in ``__init__`` of every desk App, Screen and Widget with bindings: the language
    is fixed for the console's life, so translating once per node is enough.
    """
    translated = {
        key: [
            replace(
                binding,
                description=gettext(binding.description) if binding.description else "",
                tooltip=gettext(binding.tooltip) if binding.tooltip else "",
            )
            for binding in bindings
        ]
        for key, bindings in node._bindings.key_to_bindings.items()
    }
    node._bindings = BindingsMap.from_keys(translated)


@dataclass(frozen=True, slots=True)
class KeyRow:
    """One line of the keymap: a key, what it does, and whether the role/state allows it."""

    key: str
    description: str
    enabled: bool
    binding_id: str | None
    action: str
    namespace: DOMNode


def keymap_of(screen: Screen[Any], app: App[Any]) -> list[KeyRow]:
    """Every active binding of ``screen`` and of ``app``, screen first, as the footer sees them.

    Only desk's own bindings are listed (they carry an ``id``; the framework's few extras do
    not), and not system bindings; bindings the role or the state forbids are kept with
    ``enabled`` False.
    """
    rows: list[KeyRow] = []
    for active in screen.active_bindings.values():
        binding: Binding = active.binding
        if active.node not in (screen, app) or binding.system or binding.id is None:
            continue
        rows.append(
            KeyRow(
                key=app.get_key_display(binding),
                description=binding.description,
                enabled=active.enabled,
                binding_id=binding.id,
                action=binding.action,
                namespace=active.node,
            )
        )
    rows.sort(key=lambda row: row.namespace is app)  # stable: the screen's keys first
    return rows


def grouped(rows: Sequence[KeyRow]) -> list[KeyRow]:
    """The keymap as a person reads it: the keys of one action told apart only by a number
    (``1`` to ``9``: pick a view) on one line, ``1…8``, the ones allowed now. Keys of the action
    none of which is allowed now stay, dimmed, as one line too."""
    out: list[KeyRow] = []
    groups: dict[tuple[str, str, int], list[KeyRow]] = {}
    for row in rows:
        name, _sep, _parameters = row.action.partition("(")
        key = (name, row.description, id(row.namespace))
        if _sep and row.key.isdigit():
            members = groups.get(key)
            if members is None:
                groups[key] = members = []
                out.append(row)  # its place: the first of its group
            members.append(row)
        else:
            out.append(row)
    for index, row in enumerate(out):
        name = row.action.partition("(")[0]
        members = groups.get((name, row.description, id(row.namespace)))
        if not members or members[0] is not row or len(members) == 1:
            continue
        enabled = [member for member in members if member.enabled] or members
        keys = [member.key for member in enabled]
        label = keys[0] if len(keys) == 1 else f"{keys[0]}…{keys[-1]}"
        out[index] = replace(row, key=label, enabled=enabled[0].enabled)
    return out


class KeyFooter(Footer):
    """Textual's footer, rebuilt only when the keys it shows change.

    The stock footer mounts a widget per key again whenever a screen's bindings are refreshed
    (a page read, a row selected), and mounting a row of keys costs more than the page
    itself. This one compares what it would show: the same keys in the same state, nothing
    happens; the same keys with some enabled or disabled, those keys change in place; other
    keys, it is rebuilt."""

    def __init__(self) -> None:
        super().__init__(compact=True, show_command_palette=False)  # fits 80 columns
        self._shown: tuple[tuple[str, str, str, bool], ...] | None = None
        self._rebuilding = False  # a rebuild is queued: it will show the keys as they are then

    def _keys(self, screen: Screen[Any]) -> tuple[tuple[str, str, str, bool], ...]:
        return tuple(
            (binding.key, binding.action, binding.description, enabled)
            for (_node, binding, enabled, _tooltip) in screen.active_bindings.values()
            if binding.show
        )

    def compose(self) -> ComposeResult:
        if self._bindings_ready:
            self._shown = self._keys(self.screen)
            self._rebuilding = False
        yield from super().compose()

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if not (self.is_attached and screen is self.screen and screen.app.app_focus):
            super().bindings_changed(screen)
            return
        if self._rebuilding:
            return
        shown = self._keys(screen)
        before = self._shown
        if before == shown:
            return
        if before is not None and [key[:3] for key in before] == [key[:3] for key in shown]:
            enabled = {(key, action): on for key, action, _text, on in shown}
            for widget in self.query(FooterKey):
                on = enabled.get((widget.key, widget.action))
                if on is not None and on == widget._disabled:
                    widget._disabled = not on
                    widget.set_class(not on, "-disabled")
            self._shown = shown
            return
        self._rebuilding = True
        super().bindings_changed(screen)
