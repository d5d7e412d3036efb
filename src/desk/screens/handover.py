"""F6 shift handover (交接班): the shift as the console gathered it beside the lead's notes.

Left: the summary (contacts by request type, work orders, the complaint ladder, returns,
callbacks due next shift, problems noted). Right: a handover of another lead waiting for this
lead's acknowledgement (it stays on this screen until acknowledged), then the notes and the
stamps. ``Ctrl+S`` signs the shift off after a confirmation, ``Ctrl+K`` acknowledges the
waiting handover, ``Ctrl+N`` notes a problem, ``Ctrl+R`` reloads. Services are called from
workers; answers come back as messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, Label, Static, TextArea

from desk.i18n import N_, vocab_label
from desk.i18n import gettext as _
from desk.rules.vocab import CallbackPurpose, RequestType, ShiftNoteKind
from desk.screens.base import DeskModal, SessionScreen, SignedIn
from desk.screens.dialogs import ChoiceDialog
from desk.widgets.format import local_time

if TYPE_CHECKING:
    from desk.services.handover import HandoverView, SignedHandover

PURPOSE_LABELS: dict[str, str] = {
    CallbackPurpose.ROUTINE: N_("callbacks.purpose.routine"),
    CallbackPurpose.SURVEY: N_("callbacks.purpose.survey"),
    CallbackPurpose.SATISFACTION: N_("callbacks.purpose.satisfaction"),
    CallbackPurpose.GREETING: N_("callbacks.purpose.greeting"),
    CallbackPurpose.WIN_BACK: N_("callbacks.purpose.win_back"),
    CallbackPurpose.APOLOGY: N_("callbacks.purpose.apology"),
}
PROBLEM_LABELS: dict[str, str] = {
    ShiftNoteKind.EQUIPMENT: N_("handover.problem.equipment"),
    ShiftNoteKind.SYSTEM: N_("handover.problem.system"),
    ShiftNoteKind.OTHER: N_("handover.problem.other"),
}
REFUSALS: dict[str, str] = {
    "signed": N_("handover.refusal.signed"),
    "not_started": N_("handover.refusal.not_started"),
    "not_the_lead": N_("handover.refusal.not_the_lead"),
}


def _facts(rows: Sequence[tuple[str, str | Text]]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    for label, value in rows:
        table.add_row(label, value)
    return table


def _count(value: int, *, alert: bool = False) -> Text:
    return Text(str(value), style="bold red" if alert and value else "")


def render_summary(summary: dict[str, Any]) -> Group:
    """The gathered shift, section by section (every label through the catalog)."""
    parts: list[Any] = []
    contacts = summary.get("contacts", {})
    parts.append(Text(_("handover.section.contacts"), style="bold"))
    parts.append(
        _facts(
            [(vocab_label(rt, RequestType), str(contacts.get(rt.value, 0))) for rt in RequestType]
            + [
                (_("handover.contacts_total"), str(summary.get("contacts_total", 0))),
                (_("handover.abandoned"), str(summary.get("abandoned", 0))),
            ]
        )
    )
    parts.append(Text(_("handover.section.work_orders"), style="bold"))
    parts.append(
        _facts(
            [
                (_("handover.created"), str(summary.get("work_orders_created", 0))),
                (_("handover.closed"), str(summary.get("work_orders_closed", 0))),
                (_("handover.open"), str(summary.get("work_orders_open", 0))),
                (
                    _("handover.overdue"),
                    _count(summary.get("work_orders_overdue", 0), alert=True),
                ),
            ]
        )
    )
    parts.append(Text(_("handover.section.complaints"), style="bold"))
    complaints: list[tuple[str, str | Text]] = [
        (_("handover.reminded"), str(summary.get("complaints_reminded", 0))),
        (_("handover.hq_proposed"), str(summary.get("complaints_hq_proposed", 0))),
        (_("handover.hq_confirmed"), str(summary.get("complaints_hq_confirmed", 0))),
        (_("handover.major"), _count(summary.get("major_complaints", 0), alert=True)),
    ]
    complaints += [
        ("", f"{item['number']} {item['title']}") for item in summary.get("major_list", [])
    ]
    parts.append(_facts(complaints))
    parts.append(Text(_("handover.section.returns"), style="bold"))
    parts.append(
        _facts(
            [(_("handover.returns_unanswered"), str(summary.get("returns_unanswered", 0)))]
            + [
                ("", f"{item['number']} {item['title']}")
                for item in summary.get("returns_list", [])
            ]
        )
    )
    due = summary.get("callbacks_due_next_shift", {})
    parts.append(Text(_("handover.section.callbacks"), style="bold"))
    parts.append(
        _facts(
            [(_(PURPOSE_LABELS.get(p, p)), str(n)) for p, n in sorted(due.items())]
            + [(_("handover.callbacks_overdue"), str(summary.get("callbacks_overdue", 0)))]
        )
    )
    problems = summary.get("problems", [])
    parts.append(Text(_("handover.section.problems"), style="bold"))
    if problems:
        parts.append(
            _facts(
                [
                    (_(PROBLEM_LABELS.get(p["kind"], p["kind"])), f"{p['text']} — {p['author']}")
                    for p in problems
                ]
            )
        )
    else:
        parts.append(Text(_("handover.none"), style="dim"))
    return Group(*parts)


def _stamps(signed: SignedHandover) -> Text:
    text = Text(
        _(
            "handover.signed_by",
            lead=signed.outgoing_lead,
            at=local_time(signed.signed_at),
        )
    )
    text.append("\n")
    if signed.acknowledged_at is None:
        text.append(_("handover.not_acknowledged"), style="bold yellow")
    else:
        text.append(
            _(
                "handover.acknowledged_by",
                lead=signed.incoming_lead or "",
                at=local_time(signed.acknowledged_at),
            )
        )
        if signed.acknowledgement:
            text.append(f"\n{signed.acknowledgement}")
    return text


class TextDialog(DeskModal[str | None]):
    """A line of text and its two buttons: Enter in the field or on the first button gives
    the text, Esc or the second button gives None; Tab and Shift+Tab go round the three."""

    BINDINGS = [Binding("escape", "close", N_("key.cancel"), id="dialog.cancel")]

    def __init__(self, title: str, placeholder: str = "", *, required: bool = False) -> None:
        super().__init__()
        self.text_title = title
        self.placeholder = placeholder
        self.required = required

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog text"):
            yield Label(self.text_title, id="dialog-title")
            yield Input(placeholder=self.placeholder, id="dialog-input", max_length=500)
            with Horizontal(id="dialog-buttons"):
                yield Button(_("dialog.ok"), id="dialog-confirm", variant="primary")
                yield Button(_("key.cancel"), id="dialog-cancel")
            yield Label(_("dialog.enter_to_confirm"), id="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def _give(self, value: str) -> None:
        if self.required and not value.strip():
            self.query_one(Input).focus()
            return
        self.dismiss(value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._give(event.value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "dialog-confirm":
            self._give(self.query_one(Input).value)
        else:
            self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class ShiftProblemScreen(SessionScreen):
    """A lead's screen on which a problem of the shift is noted for the handover (the key of
    ``action_note_problem``): its kind, then its words, stored by the handover service. Each
    screen says it was stored in its own way (:meth:`problem_noted`)."""

    def action_note_problem(self) -> None:
        self.app.push_screen(
            ChoiceDialog(
                _("handover.problem_kind"),
                [(kind.value, _(PROBLEM_LABELS[kind])) for kind in ShiftNoteKind],
            ),
            self._problem_kind,
        )

    def _problem_kind(self, kind: str | None) -> None:
        if kind is None:
            return
        self.app.push_screen(
            TextDialog(_("handover.problem_text"), required=True),
            partial(self._problem_text, kind),
        )

    def _problem_text(self, kind: str, text: str | None) -> None:
        if text:
            self._note(kind, text)

    @work(thread=True, exclusive=True, exit_on_error=False, group="shift-problem")
    def _note(self, kind: str, text: str) -> None:
        from desk.services.handover import note_shift_problem

        note_shift_problem(
            self.signed_in.db,
            actor=self.actor,
            policy=self.signed_in.backend.policy,
            kind=ShiftNoteKind(kind),
            text=text,
        )
        self.problem_noted(_("handover.problem_noted"))

    def problem_noted(self, text: str) -> None:
        """Say the problem was stored (called from the saving worker's thread: post a
        message)."""
        raise NotImplementedError


class HandoverScreen(ShiftProblemScreen):
    TITLE_MSGID = N_("screen.handover")
    BINDINGS = [
        Binding("ctrl+s", "sign", N_("key.sign_handover"), id="handover.sign", priority=True),
        Binding(
            "ctrl+k", "acknowledge", N_("key.acknowledge"), id="handover.acknowledge", priority=True
        ),
        Binding("ctrl+n", "note_problem", N_("key.note_problem"), id="handover.problem"),
        Binding("ctrl+r", "reload", N_("key.reload"), id="handover.reload"),
    ]

    class Loaded(Message):
        def __init__(self, seq: int, view: HandoverView) -> None:
            super().__init__()
            self.seq = seq
            self.view = view

    class Done(Message):
        """A sign-off, an acknowledgement or a problem was stored: say so, show the result."""

        def __init__(self, text: str, view: HandoverView | None) -> None:
            super().__init__()
            self.text = text
            self.view = view

    def __init__(self, signed_in: SignedIn) -> None:
        super().__init__(signed_in)
        self.view: HandoverView | None = None
        self._seq = 0

    def compose_body(self) -> ComposeResult:
        yield Static(_("screen.handover"), id="screen-title")
        yield Static(_("handover.loading"), id="handover-shift", markup=False)
        with Horizontal(id="handover-split"):
            with VerticalScroll(id="handover-summary"):
                yield Static("", id="handover-summary-body")
            with Vertical(id="handover-side"):
                yield Static("", id="handover-awaiting")
                yield Label(_("handover.notes"), id="handover-notes-label")
                yield TextArea(id="handover-notes", soft_wrap=True)
                yield Static("", id="handover-stamps")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#handover-awaiting").display = False
        self.query_one("#handover-notes", TextArea).focus()
        self._reload()

    def on_screen_resume(self) -> None:
        """Back on the handover (F6 again): read it again, for what was noted, signed or
        acknowledged meanwhile on another screen or terminal. Notes being typed stay."""
        if self.view is not None:
            self._reload()

    # --- loading -----------------------------------------------------------------------------

    def _reload(self) -> None:
        self._seq += 1
        self._load(self._seq)

    @work(thread=True, exclusive=True, exit_on_error=False, group="handover")
    def _load(self, seq: int) -> None:
        from desk.services.handover import handover_view

        view = handover_view(
            self.signed_in.db, actor=self.actor, policy=self.signed_in.backend.policy
        )
        self.post_message(self.Loaded(seq, view))

    def on_handover_screen_loaded(self, event: Loaded) -> None:
        if event.seq == self._seq:
            self._show(event.view)

    def _show(self, view: HandoverView) -> None:
        self.view = view
        shift = view.shift
        lead = shift.lead_name or _("handover.no_lead")
        self.query_one("#handover-shift", Static).update(
            _(
                "handover.shift",
                shift=shift.name,
                starts=local_time(shift.starts_at, "%m-%d %H:%M"),
                ends=local_time(shift.ends_at, "%H:%M"),
                lead=lead,
            )
        )
        self.query_one("#handover-summary-body", Static).update(render_summary(view.summary))
        awaiting = self.query_one("#handover-awaiting", Static)
        if view.awaiting:
            first = view.awaiting[0]
            text = Text(
                _(
                    "handover.awaiting",
                    shift=first.shift_name,
                    day=local_time(first.shift_starts_at, "%m-%d %H:%M"),
                    lead=first.outgoing_lead,
                ),
                style="bold yellow",
            )
            if first.notes:
                text.append(f"\n{first.notes}", style="")
            if len(view.awaiting) > 1:
                text.append("\n" + _("handover.more_awaiting", count=len(view.awaiting) - 1))
            awaiting.update(text)
        awaiting.display = bool(view.awaiting)
        notes = self.query_one("#handover-notes", TextArea)
        stamps = self.query_one("#handover-stamps", Static)
        if view.signed is not None:
            notes.text = view.signed.notes
            notes.read_only = True
            stamps.update(_stamps(view.signed))
        else:
            notes.read_only = not view.can_sign
            refusal = REFUSALS.get(view.sign_refusal or "")
            stamps.update(Text(_(refusal), style="dim") if refusal else _("handover.sign_hint"))
        self.refresh_bindings()

    # --- keys --------------------------------------------------------------------------------

    def check_action(self, action: str, _parameters: tuple[object, ...]) -> bool | None:
        view = self.view
        if action == "sign":
            return True if view is not None and view.can_sign else None
        if action == "acknowledge":
            return True if view is not None and view.awaiting else None
        return True

    def action_reload(self) -> None:
        self._reload()

    def action_sign(self) -> None:
        view = self.view
        if view is None or not view.can_sign:
            return
        self.app.push_screen(
            ChoiceDialog(
                _("handover.confirm_sign", shift=view.shift.name),
                [("yes", _("handover.sign_yes")), ("no", _("handover.sign_no"))],
            ),
            self._sign_chosen,
        )

    def _sign_chosen(self, choice: str | None) -> None:
        view = self.view
        if choice != "yes" or view is None:
            return
        notes = self.query_one("#handover-notes", TextArea).text
        self._sign(view.shift.id, notes)

    @work(thread=True, exclusive=True, exit_on_error=False, group="handover-save")
    def _sign(self, shift_id: int, notes: str) -> None:
        from desk.services.handover import sign_handover

        view = sign_handover(
            self.signed_in.db,
            actor=self.actor,
            policy=self.signed_in.backend.policy,
            shift_id=shift_id,
            notes=notes,
        )
        self.post_message(self.Done(_("handover.signed"), view))

    def action_acknowledge(self) -> None:
        view = self.view
        if view is None or not view.awaiting:
            return
        first = view.awaiting[0]
        self.app.push_screen(
            TextDialog(
                _("handover.confirm_acknowledge", shift=first.shift_name, lead=first.outgoing_lead),
                _("handover.acknowledgement_placeholder"),
            ),
            partial(self._acknowledge_with, first.id),
        )

    def _acknowledge_with(self, handover_id: int, words: str | None) -> None:
        if words is not None:
            self._acknowledge(handover_id, words)

    @work(thread=True, exclusive=True, exit_on_error=False, group="handover-save")
    def _acknowledge(self, handover_id: int, words: str) -> None:
        from desk.services.handover import acknowledge_handover

        acknowledge_handover(
            self.signed_in.db,
            actor=self.actor,
            policy=self.signed_in.backend.policy,
            handover_id=handover_id,
            acknowledgement=words,
        )
        self.post_message(self.Done(_("handover.acknowledged"), None))

    def problem_noted(self, text: str) -> None:
        self.post_message(self.Done(text, None))

    def on_handover_screen_done(self, event: Done) -> None:
        self.notify(event.text, markup=False)
        if event.view is not None:
            self._seq += 1
            self._show(event.view)
        else:
            self._reload()
