"""The inbox view of F3: messages and web forms (客户留言, 网上工单) waiting for a lead.

The queue screen shows it like its other views: the messages by nearest response due, each
with its response clock, beside the selected message. Keys: ``w`` turns the message into a
work order, ``t`` answers it, ``u`` matches it to a customer, ``x`` discards it with a reason.
Each opens a form that calls :mod:`desk.services.inbox` and keeps what the lead typed when
another lead handled the message first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.binding import Binding

from desk.i18n import N_, vocab_label
from desk.i18n import gettext as _
from desk.rules.vocab import InboxChannel, Priority, RequestType
from desk.screens.forms import ActionForm, ChoiceField, FormField, TextField
from desk.widgets.clocks import duration_text
from desk.widgets.format import local_time

if TYPE_CHECKING:
    from datetime import datetime

    from desk.screens.base import SignedIn
    from desk.services.inbox import MessageRow
    from desk.services.queue import FloorDirectory

INBOX = "inbox"
TITLE_CHARS = 30

INBOX_KEYS: dict[str, tuple[str, str]] = {
    # action: key, msgid of what it does
    "convert": ("w", N_("inbox.key.convert")),
    "answer": ("t", N_("inbox.key.answer")),
    "match": ("u", N_("inbox.key.match")),
    "discard": ("x", N_("inbox.key.discard")),
}

INBOX_BINDINGS: list[Binding] = [
    Binding(key, f"inbox_action('{name}')", msgid, id=f"inbox.{name}")
    for name, (key, msgid) in INBOX_KEYS.items()
]

INBOX_COLUMNS: tuple[tuple[str, str], ...] = (
    ("mark", " "),
    ("due", N_("inbox.col.due")),
    ("channel", N_("inbox.col.channel")),
    ("sender", N_("inbox.col.sender")),
    ("customer", N_("inbox.col.customer")),
    ("text", N_("inbox.col.text")),
)


def response_cell(message: MessageRow, now: datetime) -> Text:
    """Time left to the first response, or how late it is."""
    due = message.response_due
    if due is None:
        return Text("-", style="dim")
    if due <= now:
        return Text(_("inbox.late", late=duration_text(now - due)), style="bold red")
    left = due - now
    return Text(
        _("inbox.left", left=duration_text(left)),
        style="bold" if left.seconds < 3600 and not left.days else "",
    )


def message_cells(message: MessageRow, now: datetime) -> tuple[Any, ...]:
    first_line = message.text.strip().splitlines()[0] if message.text.strip() else ""
    return (
        Text(" "),
        response_cell(message, now),
        vocab_label(message.channel, InboxChannel),
        message.sender,
        message.customer_name_masked or Text(_("inbox.unknown"), style="dim"),
        first_line,
    )


def render_message(message: MessageRow, now: datetime) -> Group:
    """The selected message beside the list."""
    head = Text(vocab_label(message.channel, InboxChannel), style="bold")
    head.append(f"  {message.sender}")
    facts = Table.grid(padding=(0, 1))
    facts.add_column(style="dim", no_wrap=True)
    facts.add_column(overflow="fold")
    facts.add_row(_("inbox.received"), local_time(message.received_at))
    facts.add_row(_("inbox.due"), response_cell(message, now))
    customer = (
        f"{message.customer_name_masked} {message.customer_no or ''}".strip()
        if message.customer_id
        else _("inbox.unknown")
    )
    facts.add_row(_("inbox.customer"), Text(customer))
    return Group(head, facts, Text(""), Text(message.text))


class InboxActions:
    """Mixed into the queue screen: the inbox's forms (see the module docstring)."""

    signed_in: SignedIn
    directory: FloorDirectory | None

    def current_message(self) -> MessageRow | None:
        raise NotImplementedError

    def after_inbox_action(self, name: str, result: object) -> None:
        raise NotImplementedError

    def inbox_action_allowed(self, name: str) -> bool | None:
        from desk.rules.vocab import InboxStatus

        message = self.current_message()
        if message is None or message.status is not InboxStatus.NEW:
            return None
        return name in INBOX_KEYS

    def action_inbox_action(self, name: str) -> None:
        message = self.current_message()
        if message is None or self.inbox_action_allowed(name) is not True:
            return
        versions = {message.id: message.version}

        def run(values: Mapping[str, str]) -> object:
            return self._inbox_call(name, message, versions[message.id], values)

        def reload() -> str:
            from desk.services.inbox import message as read_message

            fresh = read_message(
                self.signed_in.db, actor=self.signed_in.actor, message_id=message.id
            )
            versions[message.id] = fresh.version
            return _(
                "inbox.reloaded",
                status=vocab_label(fresh.status),
                who=fresh.handled_by_name or "-",
            )

        title = f"{_(INBOX_KEYS[name][1])} — {message.sender}"
        form = ActionForm(
            title,
            self._inbox_fields(name, message),
            run,
            intro=message.text[:300],
            reload=reload,
        )
        screen: Any = self
        screen.app.push_screen(form, lambda result: self._inbox_closed(name, result))

    def _inbox_closed(self, name: str, result: object) -> None:
        if result is not None:
            self.after_inbox_action(name, result)

    def _inbox_fields(self, name: str, message: MessageRow) -> list[FormField]:
        if name == "answer":
            return [TextField("answer", _("inbox.form.answer"), required=True)]
        if name == "discard":
            return [TextField("reason", _("wo_form.reason"), required=True, max_length=500)]
        if name == "match":
            return [
                TextField(
                    "customer",
                    _("inbox.form.customer"),
                    value=message.customer_no or "",
                    max_length=20,
                )
            ]
        departments = self.directory.departments if self.directory else ()
        first_line = message.text.strip().splitlines()[0] if message.text.strip() else ""
        return [
            ChoiceField(
                "category",
                _("inbox.form.category"),
                tuple((c.value, vocab_label(c)) for c in RequestType),
            ),
            TextField(
                "title", _("inbox.form.title"), required=True, value=first_line[:TITLE_CHARS]
            ),
            ChoiceField(
                "priority",
                _("queue.filter.priority"),
                tuple((p.value, vocab_label(p)) for p in Priority),
                value=Priority.NORMAL.value,
            ),
            ChoiceField(
                "department",
                _("inbox.form.department"),
                tuple((str(d.id), d.name) for d in departments),
                required=False,
            ),
        ]

    def _inbox_call(
        self, name: str, message: MessageRow, version: int, values: Mapping[str, str]
    ) -> object:
        from desk.services import inbox as service

        db, actor = self.signed_in.db, self.signed_in.actor
        if name == "answer":
            return service.answer_message(
                db, actor=actor, message_id=message.id, version=version, answer=values["answer"]
            )
        if name == "discard":
            return service.discard_message(
                db, actor=actor, message_id=message.id, version=version, reason=values["reason"]
            )
        if name == "match":
            return service.match_message(
                db,
                actor=actor,
                message_id=message.id,
                version=version,
                customer=values.get("customer", ""),
            )
        return service.convert_message(
            db,
            actor=actor,
            message_id=message.id,
            version=version,
            category=RequestType(values["category"]),
            title=values["title"],
            description=None,
            priority=Priority(values.get("priority") or Priority.NORMAL.value),
            department_id=int(values["department"]) if values.get("department") else None,
            policy=self.signed_in.backend.policy,
        )
