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
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import App
from textual.binding import Binding, BindingsMap
from textual.dom import DOMNode
from textual.keys import key_to_character
from textual.screen import Screen
from textual.widget import Widget

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
class ShownKey:
    """One key as the footer shows it."""

    key: str
    action: str
    display: str
    description: str
    enabled: bool


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


class KeyFooter(Widget):
    """The keys of the screen shown, one line at the bottom: one widget drawing one text.

    Textual's footer is a container with a widget per key (26 on a work order, 28 on the
    queue): every push of a screen restyles them, every layout arranges them and every
    frame paints them one by one, and they were five in six of a screen's widgets. This
    one keeps the keys it shows (key, action, words, enabled) and draws them again only
    when they change: a key the role or the state forbids is dimmed, as in the stock
    footer, and keys past the right edge are cut (``F1`` lists them all). desk is used by keyboard:
    a key is not clicked."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES: ClassVar[set[str]] = {"keys--key", "keys--description"}
    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        text-wrap: nowrap;
        text-overflow: clip;
    }
    KeyFooter > .keys--key {
        color: $footer-key-foreground;
        background: $footer-key-background;
        text-style: bold;
    }
    KeyFooter > .keys--description {
        color: $footer-description-foreground;
        background: $footer-description-background;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.shown: tuple[ShownKey, ...] = ()

    def on_mount(self) -> None:
        # the screen publishes its keys once they are known (its focus set)
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def bindings_changed(self, screen: Screen[Any]) -> None:
        """The screen's keys may have changed: drawn again when they did (one line)."""
        if screen is not self.screen:
            return
        app = self.app
        shown = tuple(
            ShownKey(
                binding.key,
                binding.action,
                app.get_key_display(binding),
                binding.description,
                enabled,
            )
            for (_node, binding, enabled, _tooltip) in screen.active_bindings.values()
            if binding.show
        )
        if shown != self.shown:
            self.shown = shown
            self.refresh()

    def render(self) -> Text:
        key_style = self.get_component_rich_style("keys--key", partial=True)
        words_style = self.get_component_rich_style("keys--description", partial=True)
        dim = Style(dim=True)
        text = Text(no_wrap=True, overflow="crop", end="")
        for shown in self.shown:
            off = Style() if shown.enabled else dim
            if text:
                text.append(" ")
            text.append(shown.display, key_style + off)
            if shown.description:
                text.append(" " + shown.description, words_style + off)
        return text
