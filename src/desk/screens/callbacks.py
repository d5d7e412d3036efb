"""F5 callbacks (回访): the list beside the selected callback and its customer.

Left: a page (≤ 50 rows) of callbacks by due time, keyset-paged, filtered by scope (mine and
the shift's, the shift's only, everyone's for leads), purpose and open/closed. Right: the
selected callback (what it is about, its tries, tries left) above its customer's card. ``Enter``
records a try (reached, declined, not reached; satisfaction; a note); a work order's callback
is recorded on its work order. Every answer comes back from a worker as a message; answers to
an older request are dropped by sequence number.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from desk.clock import SHANGHAI
from desk.i18n import N_, current_language, vocab_label
from desk.i18n import gettext as _
from desk.rules.callbacks import holiday_label
from desk.rules.permissions import Permission, can
from desk.rules.vocab import (
    CallbackKind,
    CallbackOutcome,
    CallbackPurpose,
    CallbackStatus,
    RequestType,
    Tier,
    WorkOrderStatus,
)
from desk.screens.base import SignedIn
from desk.screens.card import render_card
from desk.screens.dialogs import ChoiceDialog
from desk.screens.handover import PURPOSE_LABELS, ShiftProblemScreen, TextDialog
from desk.widgets.format import local_time

if TYPE_CHECKING:
    from desk.services.callbacks import CallbackDetail, CallbackPage, CallbackRow
    from desk.services.card import CustomerCard

PAGE_SIZE = 50
SCOPES = ("mine", "shift", "all")
SCOPE_LABELS = {
    "mine": N_("callbacks.scope.mine"),
    "shift": N_("callbacks.scope.shift"),
    "all": N_("callbacks.scope.all"),
}
KIND_LABELS = {
    CallbackKind.PHONE: N_("callbacks.kind.phone"),
    CallbackKind.SMS: N_("callbacks.kind.sms"),
    CallbackKind.VISIT: N_("callbacks.kind.visit"),
}
OUTCOME_LABELS = {
    CallbackOutcome.REACHED: N_("callbacks.outcome.reached"),
    CallbackOutcome.UNREACHABLE: N_("callbacks.outcome.unreachable"),
    CallbackOutcome.DECLINED: N_("callbacks.outcome.declined"),
    CallbackOutcome.CANCELLED: N_("callbacks.outcome.cancelled"),
}
SATISFACTION_LABELS = {
    5: N_("callbacks.satisfaction.5"),
    4: N_("callbacks.satisfaction.4"),
    3: N_("callbacks.satisfaction.3"),
    2: N_("callbacks.satisfaction.2"),
    1: N_("callbacks.satisfaction.1"),
}
COLUMNS = (
    ("due", N_("callbacks.col.due")),
    ("purpose", N_("callbacks.col.purpose")),
    ("kind", N_("callbacks.col.kind")),
    ("customer", N_("callbacks.col.customer")),
    ("phone", N_("callbacks.col.phone")),
    ("tries", N_("callbacks.col.tries")),
    ("owner", N_("callbacks.col.owner")),
)


def subject_text(row: CallbackRow) -> str:
    """What a callback is about, in the console's language."""
    subject = row.subject or ""
    if subject == "birthday":
        return _("callbacks.subject.birthday")
    if subject.startswith("holiday:"):
        name = subject.removeprefix("holiday:")
        day = row.due_at.astimezone(SHANGHAI).date()
        return _("callbacks.subject.holiday", name=holiday_label(name, day, current_language()))
    if subject == "win_back":
        return _("callbacks.subject.win_back")
    if row.work_order_number:
        return row.work_order_number
    return subject


def row_cells(row: CallbackRow) -> tuple[str | Text, ...]:
    due = local_time(row.due_at, "%m-%d %H:%M")
    purpose = _(PURPOSE_LABELS.get(row.purpose, row.purpose))
    if row.status is not CallbackStatus.PENDING and row.outcome is not None:
        purpose = f"{purpose} · {_(OUTCOME_LABELS[row.outcome])}"
    return (
        due,
        purpose,
        _(KIND_LABELS[row.kind]),
        row.customer_name,
        row.phone or "",
        str(row.attempts),
        row.owner_name or _("callbacks.anyone"),
    )


def render_detail(detail: CallbackDetail) -> Group:
    row = detail.row
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim", no_wrap=True)
    facts.add_column(overflow="fold")
    tier = vocab_label(row.tier, Tier)
    if row.big_customer_class:
        tier = f"{tier} · {_('lookup.big_class', cls=row.big_customer_class)}"
    facts.add_row(_("callbacks.field.purpose"), _(PURPOSE_LABELS.get(row.purpose, row.purpose)))
    about = subject_text(row)
    if detail.work_order_title:
        about = f"{about} {detail.work_order_title}"
        if detail.work_order_status:
            about += f" ({vocab_label(detail.work_order_status, WorkOrderStatus)})"
    if detail.contact_request_type and detail.contact_at:
        about = _(
            "callbacks.about_contact",
            type=vocab_label(detail.contact_request_type, RequestType),
            at=local_time(detail.contact_at),
        )
    if about:
        facts.add_row(_("callbacks.field.about"), about)
    facts.add_row(_("callbacks.field.customer"), f"{row.customer_name}  {row.phone or ''}  {tier}")
    facts.add_row(_("callbacks.field.kind"), _(KIND_LABELS[row.kind]))
    facts.add_row(_("callbacks.field.due"), local_time(row.due_at))
    facts.add_row(_("callbacks.field.owner"), row.owner_name or _("callbacks.anyone"))
    if row.status is CallbackStatus.PENDING:
        facts.add_row(_("callbacks.field.tries_left"), str(detail.attempts_left))
    elif row.outcome is not None:
        facts.add_row(_("callbacks.field.outcome"), _(OUTCOME_LABELS[row.outcome]))
    if detail.satisfaction is not None:
        facts.add_row(_("callbacks.field.satisfaction"), f"{detail.satisfaction}/5")
    if detail.customer_last_activity and row.purpose is CallbackPurpose.WIN_BACK:
        facts.add_row(_("callbacks.field.last_seen"), local_time(detail.customer_last_activity))
    parts: list[Table | Text] = [facts]
    if detail.attempts:
        parts.append(Text(_("callbacks.field.tries"), style="bold"))
        tries = Table.grid(padding=(0, 2))
        for attempt in detail.attempts:
            reached = _("callbacks.try.reached") if attempt.reached else _("callbacks.try.missed")
            tries.add_row(
                local_time(attempt.at, "%m-%d %H:%M"),
                reached,
                attempt.actor_name or "",
                attempt.note or "",
            )
        parts.append(tries)
    return Group(*parts)


class CallbacksScreen(ShiftProblemScreen):
    TITLE_MSGID = N_("screen.callbacks")
    BINDINGS = [
        Binding("enter", "record", N_("key.record_try"), id="callbacks.record"),
        Binding("t", "take", N_("key.take"), id="callbacks.take"),
        Binding("a", "assign", N_("key.assign"), id="callbacks.assign"),
        Binding("x", "cancel", N_("key.call_off"), id="callbacks.cancel"),
        Binding("s", "scope", N_("key.scope"), id="callbacks.scope"),
        Binding("p", "purpose", N_("key.purpose"), id="callbacks.purpose"),
        Binding("c", "closed", N_("key.open_closed"), id="callbacks.closed"),
        Binding("pagedown", "next_page", N_("key.next_page"), id="callbacks.next_page"),
        Binding("pageup", "first_page", N_("key.first_page"), id="callbacks.first_page"),
        Binding("ctrl+n", "note_problem", N_("key.note_problem"), id="callbacks.problem"),
        Binding("ctrl+r", "reload", N_("key.reload"), id="callbacks.reload"),
    ]

    class PageLoaded(Message):
        def __init__(self, seq: int, page: CallbackPage) -> None:
            super().__init__()
            self.seq = seq
            self.page = page

    class DetailLoaded(Message):
        def __init__(self, seq: int, detail: CallbackDetail, card: CustomerCard | None) -> None:
            super().__init__()
            self.seq = seq
            self.detail = detail
            self.card = card

    class Saved(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, signed_in: SignedIn) -> None:
        super().__init__(signed_in)
        self.scope = "mine"
        self.purpose: CallbackPurpose | None = None
        self.closed = False
        self.page: CallbackPage | None = None
        self.cursors: list[str | None] = [None]  # the cursor of each page walked
        self.detail: CallbackDetail | None = None
        self._seq = 0
        self._detail_seq = 0

    @property
    def lead(self) -> bool:
        return can(self.actor, Permission.ASSIGN_CALLBACKS)

    def compose_body(self) -> ComposeResult:
        yield Static(_("screen.callbacks"), id="screen-title")
        yield Static("", id="callbacks-filter", markup=False)
        with Horizontal(id="callbacks-split"):
            table: DataTable[str | Text] = DataTable(
                id="callbacks-table", cursor_type="row", zebra_stripes=True
            )
            for key, msgid in COLUMNS:
                table.add_column(_(msgid), key=key)
            yield table
            with VerticalScroll(id="callbacks-side"):
                yield Static(_("callbacks.none_selected"), id="callbacks-detail")
                yield Static("", id="callbacks-card")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#callbacks-table", DataTable).focus()
        self._reload()

    # --- loading -----------------------------------------------------------------------------

    def _reload(self, *, keep_page: bool = False) -> None:
        if not keep_page:
            self.cursors = [None]
        self._seq += 1
        self._load(self._seq, self.cursors[-1])

    @work(thread=True, exclusive=True, exit_on_error=False, group="callbacks")
    def _load(self, seq: int, after: str | None) -> None:
        from desk.services.callbacks import Scope, StatusView, list_callbacks

        page = list_callbacks(
            self.signed_in.db,
            actor=self.actor,
            scope=Scope(self.scope),
            purpose=self.purpose,
            view=StatusView.CLOSED if self.closed else StatusView.OPEN,
            after=after,
            limit=PAGE_SIZE,
        )
        self.post_message(self.PageLoaded(seq, page))

    def on_callbacks_screen_page_loaded(self, event: PageLoaded) -> None:
        if event.seq != self._seq:
            return
        self.page = event.page
        table = self.query_one("#callbacks-table", DataTable)
        selected = self.detail.row.id if self.detail else None
        table.clear()
        for row in event.page.rows:
            table.add_row(*row_cells(row), key=str(row.id))
        self._show_filter()
        if event.page.rows:
            index = next((i for i, row in enumerate(event.page.rows) if row.id == selected), 0)
            table.move_cursor(row=index)
            self._select(event.page.rows[index].id)
        else:
            self.detail = None
            self.query_one("#callbacks-detail", Static).update(_("callbacks.empty"))
            self.query_one("#callbacks-card", Static).update("")
        self.refresh_bindings()

    def _show_filter(self) -> None:
        purpose = _(PURPOSE_LABELS[self.purpose]) if self.purpose else _("callbacks.all_purposes")
        view = _("callbacks.view.closed") if self.closed else _("callbacks.view.open")
        counts = self.page.counts if self.page else {}
        tally = "  ".join(
            f"{_(PURPOSE_LABELS.get(p, p))} {n}" for p, n in sorted(counts.items()) if n
        )
        self.query_one("#callbacks-filter", Static).update(
            _(
                "callbacks.filter",
                scope=_(SCOPE_LABELS[self.scope]),
                purpose=purpose,
                view=view,
                page=len(self.cursors),
            )
            + (f"  ·  {tally}" if tally else "")
        )

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.row_key.value is not None:
            self._select(int(event.row_key.value))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_record()

    def _select(self, callback_id: int) -> None:
        if self.detail is not None and self.detail.row.id == callback_id:
            return
        self._detail_seq += 1
        self._load_detail(self._detail_seq, callback_id)

    @work(thread=True, exclusive=True, exit_on_error=False, group="callback-detail")
    def _load_detail(self, seq: int, callback_id: int) -> None:
        from desk.services.callbacks import callback_detail
        from desk.services.card import customer_card

        detail = callback_detail(
            self.signed_in.db,
            actor=self.actor,
            callback_id=callback_id,
            policy=self.signed_in.backend.policy,
        )
        card = None
        if can(self.actor, Permission.VIEW_CUSTOMER_CARD):
            card = customer_card(
                self.signed_in.db,
                actor=self.actor,
                customer_id=detail.row.customer_id,
                policy=self.signed_in.backend.policy,
            )
        self.post_message(self.DetailLoaded(seq, detail, card))

    def on_callbacks_screen_detail_loaded(self, event: DetailLoaded) -> None:
        if event.seq != self._detail_seq:
            return
        self.detail = event.detail
        self.query_one("#callbacks-detail", Static).update(render_detail(event.detail))
        self.query_one("#callbacks-card", Static).update(
            render_card(event.card) if event.card else ""
        )
        self.refresh_bindings()

    # --- keys --------------------------------------------------------------------------------

    def check_action(self, action: str, _parameters: tuple[object, ...]) -> bool | None:
        detail = self.detail
        pending = detail is not None and detail.row.status is CallbackStatus.PENDING
        if action == "record":
            return True if pending else None
        if action == "take":
            return True if pending and detail and detail.row.owner_id is None else None
        if action in ("assign", "cancel"):
            if not self.lead:
                return False
            return True if pending else None
        if action == "next_page":
            return bool(self.page and self.page.next_cursor) or None
        if action == "first_page":
            return len(self.cursors) > 1 or None
        return True

    def action_reload(self) -> None:
        self._reload(keep_page=True)

    def action_scope(self) -> None:
        scopes = SCOPES if self.lead else SCOPES[:2]
        self.scope = scopes[(scopes.index(self.scope) + 1) % len(scopes)]
        self._reload()

    def action_purpose(self) -> None:
        order: list[CallbackPurpose | None] = [None, *CallbackPurpose]
        self.purpose = order[(order.index(self.purpose) + 1) % len(order)]
        self._reload()

    def action_closed(self) -> None:
        self.closed = not self.closed
        self._reload()

    def action_next_page(self) -> None:
        if self.page is not None and self.page.next_cursor:
            self.cursors.append(self.page.next_cursor)
            self._reload(keep_page=True)

    def action_first_page(self) -> None:
        self._reload()

    def action_record(self) -> None:
        detail = self.detail
        if detail is None or detail.row.status is not CallbackStatus.PENDING:
            return
        row = detail.row
        if row.work_order_id is not None and row.purpose is CallbackPurpose.ROUTINE:
            # A work order's callback is recorded on the order: its screen, with the
            # callback result's form open over it.
            from desk.rules.work_orders import Action
            from desk.screens.work_order import WorkOrderScreen

            self.app.push_screen(
                WorkOrderScreen(self.signed_in, row.work_order_id, then=Action.CALLBACK_RESULT),
                self._order_closed,
            )
            return
        self.app.push_screen(
            ChoiceDialog(
                _("callbacks.result_title", customer=detail.row.customer_name),
                [
                    ("reached", _("callbacks.result.reached")),
                    ("declined", _("callbacks.result.declined")),
                    ("missed", _("callbacks.result.missed")),
                ],
            ),
            partial(self._result_chosen, detail),
        )

    def _order_closed(self, _result: object) -> None:
        self.detail = None
        self._reload(keep_page=True)

    def _result_chosen(self, detail: CallbackDetail, result: str | None) -> None:
        if result is None:
            return
        if result == "reached" and detail.row.kind is not CallbackKind.SMS:
            self.app.push_screen(
                ChoiceDialog(
                    _("callbacks.satisfaction_title"),
                    [(str(n), _(msgid)) for n, msgid in SATISFACTION_LABELS.items()]
                    + [("none", _("callbacks.satisfaction.none"))],
                ),
                partial(self._marked, detail, result),
            )
        else:
            self._ask_note(detail, result, None)

    def _marked(self, detail: CallbackDetail, result: str, mark: str | None) -> None:
        if mark:
            self._ask_note(detail, result, mark)

    def _ask_note(self, detail: CallbackDetail, result: str, mark: str | None) -> None:
        satisfaction = int(mark) if mark and mark.isdigit() else None
        self.app.push_screen(
            TextDialog(_("callbacks.note_title"), _("callbacks.note_placeholder")),
            partial(self._noted, detail, result, satisfaction),
        )

    def _noted(
        self, detail: CallbackDetail, result: str, satisfaction: int | None, note: str | None
    ) -> None:
        if note is not None:
            self._record(detail, result, satisfaction, note)

    @work(thread=True, exclusive=True, exit_on_error=False, group="callback-save")
    def _record(
        self, detail: CallbackDetail, result: str, satisfaction: int | None, note: str
    ) -> None:
        from desk.services.callbacks import record_attempt

        after = record_attempt(
            self.signed_in.db,
            actor=self.actor,
            callback_id=detail.row.id,
            version=detail.row.version,
            reached=result != "missed",
            declined=result == "declined",
            satisfaction=satisfaction,
            note=note,
            policy=self.signed_in.backend.policy,
        )
        if after.row.status is CallbackStatus.PENDING:
            text = _(
                "callbacks.saved_retry",
                due=local_time(after.row.due_at, "%m-%d %H:%M"),
                left=after.attempts_left,
            )
        elif after.row.outcome is CallbackOutcome.UNREACHABLE:
            text = _("callbacks.saved_unreachable")
        else:
            text = _("callbacks.saved_done")
        self.post_message(self.Saved(text))

    def action_take(self) -> None:
        detail = self.detail
        if detail is not None:
            self._take(detail.row.id, detail.row.version)

    @work(thread=True, exclusive=True, exit_on_error=False, group="callback-save")
    def _take(self, callback_id: int, version: int) -> None:
        from desk.services.callbacks import take_callback

        take_callback(self.signed_in.db, actor=self.actor, callback_id=callback_id, version=version)
        self.post_message(self.Saved(_("callbacks.taken")))

    def action_assign(self) -> None:
        detail = self.detail
        if detail is None or not self.lead:
            return
        self.app.push_screen(
            TextDialog(_("callbacks.assign_title"), _("callbacks.assign_placeholder")),
            partial(self._assign_to, detail.row.id, detail.row.version),
        )

    def _assign_to(self, callback_id: int, version: int, login: str | None) -> None:
        if login is not None:
            self._assign(callback_id, version, login.strip())

    @work(thread=True, exclusive=True, exit_on_error=False, group="callback-save")
    def _assign(self, callback_id: int, version: int, login: str) -> None:
        from desk.services.callbacks import assign_callback

        assign_callback(
            self.signed_in.db,
            actor=self.actor,
            callback_id=callback_id,
            version=version,
            owner_login=login or None,
        )
        self.post_message(self.Saved(_("callbacks.assigned")))

    def action_cancel(self) -> None:
        detail = self.detail
        if detail is None or not self.lead:
            return
        self.app.push_screen(
            TextDialog(_("callbacks.cancel_title"), required=True),
            partial(self._cancel_for, detail.row.id, detail.row.version),
        )

    def _cancel_for(self, callback_id: int, version: int, reason: str | None) -> None:
        if reason:
            self._cancel(callback_id, version, reason)

    @work(thread=True, exclusive=True, exit_on_error=False, group="callback-save")
    def _cancel(self, callback_id: int, version: int, reason: str) -> None:
        from desk.services.callbacks import cancel_callback

        cancel_callback(
            self.signed_in.db,
            actor=self.actor,
            callback_id=callback_id,
            version=version,
            reason=reason,
        )
        self.post_message(self.Saved(_("callbacks.cancelled")))

    def problem_noted(self, text: str) -> None:
        self.post_message(self.Saved(text))

    def on_callbacks_screen_saved(self, event: Saved) -> None:
        self.notify(event.text, markup=False)
        self.detail = None
        self._reload(keep_page=True)
