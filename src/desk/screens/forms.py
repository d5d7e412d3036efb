"""A small form dialog for an action: a few text fields and choices, saved with Ctrl+S.

The dialog saves by itself, in a worker: ``run`` gets the values and calls the service. On
success the dialog closes with the service's answer. On a refusal the message shows in the
dialog and what the person typed stays; when someone else saved the record meanwhile
(:class:`~desk.infra.errors.StaleRecord`), Ctrl+R reloads the record (``reload``) and the
person saves again, their text still there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Select, Static

from desk.i18n import N_
from desk.i18n import gettext as _
from desk.screens.base import DeskModal
from desk.widgets.select import TypeAheadSelect


@dataclass(frozen=True, slots=True)
class TextField:
    name: str
    label: str
    required: bool = False
    value: str = ""
    max_length: int = 2000
    placeholder: str = ""


@dataclass(frozen=True, slots=True)
class ChoiceField:
    name: str
    label: str
    options: tuple[tuple[str, str], ...]  # (value, label)
    value: str | None = None
    required: bool = True


FormField = TextField | ChoiceField


class ActionForm(DeskModal[Any]):
    """An action's form. Dismissed with the result of ``run``, or None when cancelled."""

    DEFAULT_CSS = """
    ActionForm { align: center middle; background: $background 60%; }
    ActionForm .dialog { width: 76; }
    ActionForm #form-fields { height: auto; max-height: 16; }
    ActionForm .form-label { color: $text-muted; margin-top: 1; }
    ActionForm #form-intro { height: auto; max-height: 3; margin-bottom: 1; }
    ActionForm #form-message { height: auto; margin-top: 1; }
    ActionForm #form-message.error { color: $error; }
    ActionForm #form-message.busy { color: $text-muted; }
    """
    BINDINGS = [
        Binding("ctrl+s", "save", N_("form.save"), id="form.save", priority=True),
        Binding("ctrl+r", "reload", N_("form.reload"), id="form.reload", priority=True),
        Binding("escape", "cancel", N_("key.cancel"), id="form.cancel"),
    ]

    class Done(Message):
        def __init__(self, result: object) -> None:
            super().__init__()
            self.result = result

    class Failed(Message):
        def __init__(self, error: BaseException) -> None:
            super().__init__()
            self.error = error

    class Reloaded(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(
        self,
        title: str,
        fields: Sequence[FormField],
        run: Callable[[Mapping[str, str]], object],
        *,
        intro: str | None = None,
        reload: Callable[[], str] | None = None,
        describe_error: Callable[[BaseException], str] | None = None,
    ) -> None:
        super().__init__()
        self.form_title = title
        self.fields = tuple(fields)
        self.run = run
        self.intro = intro
        self.reload_record = reload
        self.describe_error = describe_error
        self.busy = False
        self.stale = False

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog form"):
            yield Label(self.form_title, id="dialog-title")
            if self.intro:
                yield Static(self.intro, id="form-intro", markup=False)
            with VerticalScroll(id="form-fields"):
                for field in self.fields:
                    yield Label(
                        field.label + (" *" if field.required else ""), classes="form-label"
                    )
                    if isinstance(field, TextField):
                        yield Input(
                            value=field.value,
                            placeholder=field.placeholder,
                            max_length=field.max_length,
                            id=f"field-{field.name}",
                        )
                    else:
                        yield TypeAheadSelect(
                            [(label, value) for value, label in field.options],
                            value=field.value if field.value is not None else Select.NULL,
                            allow_blank=not field.required or field.value is None,
                            prompt=_("form.choose"),
                            id=f"field-{field.name}",
                        )
            yield Static("", id="form-message", markup=False)
            yield Label(_("form.hint"), id="dialog-hint")

    def on_mount(self) -> None:
        self._fit()
        if self.fields:
            self.query_one(f"#field-{self.fields[0].name}").focus()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        """Keep the save hint and the message on a small terminal (80×24): the fields
        scroll in what the dialog (at most 90% of the height) leaves them."""
        # border and padding 4, title 2, intro up to 3 and its margin, message 2, hint 2
        rest = 10 + (4 if self.intro else 0)
        room = int(self.app.size.height * 0.9) - rest
        self.query_one("#form-fields").styles.max_height = max(5, min(16, room))

    def values(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for field in self.fields:
            if isinstance(field, TextField):
                found[field.name] = self.query_one(f"#field-{field.name}", Input).value.strip()
            else:
                value = self.query_one(f"#field-{field.name}", Select).value
                found[field.name] = "" if value is Select.NULL else str(value)
        return found

    def _say(self, text: str, kind: str = "") -> None:
        message = self.query_one("#form-message", Static)
        message.set_classes(kind)
        message.update(text)

    @on(Input.Submitted)
    def _next_or_save(self, event: Input.Submitted) -> None:
        event.stop()
        names = [field.name for field in self.fields]
        current = (event.input.id or "").removeprefix("field-")
        if current in names and names.index(current) == len(names) - 1:
            self.action_save()
        else:
            self.focus_next()

    def check_action(self, action: str, _parameters: tuple[object, ...]) -> bool | None:
        if action == "reload":
            return self.stale and self.reload_record is not None
        if action == "save":
            return not self.busy
        return True

    def action_save(self) -> None:
        if self.busy:
            return
        values = self.values()
        for field in self.fields:
            if field.required and not values[field.name]:
                self._say(_("form.required", field=field.label), "error")
                self.query_one(f"#field-{field.name}").focus()
                return
        self.busy = True
        self._say(_("form.saving"), "busy")
        self.refresh_bindings()
        self._save(values)

    @work(thread=True, exclusive=True, exit_on_error=False, group="form")
    def _save(self, values: dict[str, str]) -> None:
        try:
            result = self.run(values)
        except Exception as error:  # noqa: BLE001 - every failure is said in the form
            self.post_message(self.Failed(error))
        else:
            self.post_message(self.Done(result))

    @on(Done)
    def _done(self, event: Done) -> None:
        self.dismiss(event.result)

    @on(Failed)
    def _failed(self, event: Failed) -> None:
        from desk.infra.errors import DeskError, StaleRecord

        self.busy = False
        error = event.error
        if self.describe_error is not None:
            text = self.describe_error(error)
        elif isinstance(error, DeskError):
            text = error.message
        else:
            text = f"{type(error).__name__}: {error}"
        if isinstance(error, StaleRecord):
            self.stale = True
            if self.reload_record is not None:
                text += "\n" + _("form.stale_hint")
        self._say(text, "error")
        self.refresh_bindings()

    def action_reload(self) -> None:
        if self.reload_record is None or not self.stale:
            return
        self._say(_("form.reloading"), "busy")
        self._reload()

    @work(thread=True, exclusive=True, exit_on_error=False, group="form")
    def _reload(self) -> None:
        assert self.reload_record is not None
        try:
            text = self.reload_record()
        except Exception as error:  # noqa: BLE001
            self.post_message(self.Failed(error))
        else:
            self.post_message(self.Reloaded(text))

    @on(Reloaded)
    def _reloaded(self, event: Reloaded) -> None:
        self.stale = False
        self._say(event.text)
        self.refresh_bindings()

    def action_cancel(self) -> None:
        self.dismiss(None)
