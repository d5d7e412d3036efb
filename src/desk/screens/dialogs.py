"""Dialogs: the error dialog (and how an error becomes one), the F1 keymap, and a small
chooser. Each closes with Esc."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Button, Label, OptionList, Static
from textual.widgets.option_list import Option

from desk.i18n import N_
from desk.i18n import gettext as _
from desk.screens.base import DeskModal
from desk.widgets.keys import KeyRow

ERROR_TEXT_LIMIT = 800

ERROR_TITLES: dict[str, str] = {
    "PermissionDenied": N_("error.permission_denied"),
    "NotFound": N_("error.not_found"),
    "InvalidInput": N_("error.invalid_input"),
    "StaleRecord": N_("error.stale_record"),
    "AuthenticationFailed": N_("error.authentication_failed"),
    "AccountLocked": N_("error.account_locked"),
    "SchemaOutOfDate": N_("error.schema_out_of_date"),
    "DeskError": N_("error.generic"),
}
"""Titles of the error dialog by the class of a service error (first match up its MRO)."""


class ErrorDialog(DeskModal[None]):
    """A readable error: a title and a message; Enter or Esc closes it, the console goes on."""

    BINDINGS = [
        Binding("escape", "close", N_("key.close"), id="dialog.close"),
    ]

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self.error_title = title
        self.error_message = message

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog error"):
            yield Label(self.error_title, id="dialog-title")
            yield Static(self.error_message, id="dialog-message", markup=False)
            yield Button(_("dialog.ok"), id="dialog-ok", variant="error")

    def on_mount(self) -> None:
        self.query_one(Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class KeymapDialog(DeskModal[None]):
    """F1: every key of the screen below and of the app, with what it does.

    ``rows`` come from :func:`desk.widgets.keys.keymap_of`, the same table the footer and
    the command palette read; keys the role or the moment forbids are shown dimmed.
    """

    BINDINGS = [
        Binding("escape,f1", "close", N_("key.close"), id="dialog.close"),
    ]

    def __init__(self, title: str, rows: Sequence[KeyRow]) -> None:
        super().__init__()
        self.keymap_title = title
        self.rows = tuple(rows)

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(no_wrap=True)
        table.add_column()
        for row in self.rows:
            style = "" if row.enabled else "dim"
            description = Text(row.description, style=style)
            if not row.enabled:
                description.append(f"  ({_('keymap.unavailable')})", style="dim italic")
            table.add_row(Text(row.key, style="bold" if row.enabled else "dim"), description)
        with Vertical(id="dialog", classes="dialog keymap"):
            yield Label(_("keymap.title", screen=self.keymap_title), id="dialog-title")
            with VerticalScroll(id="keymap-scroll"):
                yield Static(table, id="keymap")
            yield Label(_("keymap.hint"), id="dialog-hint")

    def action_close(self) -> None:
        self.dismiss(None)


class ChoiceDialog(DeskModal[str | None]):
    """Choose one of a few values: Enter picks the highlighted one, Esc picks none."""

    BINDINGS = [
        Binding("escape", "close", N_("key.cancel"), id="dialog.cancel"),
    ]

    def __init__(self, title: str, choices: Sequence[tuple[str, str]]) -> None:
        """``choices`` are (value, label) pairs, shown in this order."""
        super().__init__()
        self.choice_title = title
        self.choices = tuple(choices)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog choice"):
            yield Label(self.choice_title, id="dialog-title")
            yield OptionList(
                *(Option(label, id=value) for value, label in self.choices), id="choices"
            )

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_close(self) -> None:
        self.dismiss(None)


def error_dialog(error: BaseException) -> ErrorDialog:
    """The dialog a failing worker ends in: a service error's own sentence under a title for
    its kind; anything else named as unexpected, with its type. Long texts are cut."""
    from desk.infra.errors import DeskError

    if isinstance(error, DeskError):
        msgid = next(
            (
                ERROR_TITLES[cls.__name__]
                for cls in type(error).__mro__
                if cls.__name__ in ERROR_TITLES
            ),
            ERROR_TITLES["DeskError"],
        )
        title, message = _(msgid), error.message
    else:
        title = _("error.unexpected")
        message = f"{type(error).__name__}: {error}"
    if len(message) > ERROR_TEXT_LIMIT:
        message = message[: ERROR_TEXT_LIMIT - 1] + "…"
    return ErrorDialog(title, message)
