"""F2, the agent's workspace: the call, the customer, their open work orders and the
knowledge base, side by side.

**Panes.** At 120 columns and more the four panes are visible together (the call on the left,
the customer on top right, the work orders and the knowledge base below it); narrower, the
call pane stays on the left and one other pane is shown beside it. Ctrl+T, Ctrl+R, Ctrl+O and
Ctrl+G go to the call, the customer, the work orders and the knowledge base (priority keys, so
they work from any field); Tab moves within and between them. F1 lists every key.

**A contact.** The focus starts in the caller number; Enter there starts a contact and
reads the caller's card with it, in one transaction (:func:`desk.services.calls.start_call`;
answering a rung call and starting one from lookup do the same). A call rung by
``desk ring`` pops up as an incoming call (on SQLite the screen polls
:func:`~desk.services.contacts.pending_ring` every quarter second: one indexed read of a
table of waiting calls; on PostgreSQL the ring's ``NOTIFY`` wakes it at once, through
:class:`~desk.services.contacts.RingListener`, and a poll every two seconds stays as a
safety net); lookup and the card start one for the customer they show. While a contact
is open the call pane shows its timer, and what the agent types is saved as a draft after
each pause (:func:`~desk.services.contacts.save_draft`), so a logout, a crash or a restart
loses nothing: the next login offers it again. Ctrl+S closes it.

**Serving.** Ctrl+L verifies the caller; Ctrl+B shows the account and bills (a verified caller
only, the gate decides); Ctrl+F makes a service request; Ctrl+N opens a work order with the
caller's consent. Each is a dialog of :mod:`desk.screens.workspace_dialogs`.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Vertical, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Checkbox, DataTable, Input, OptionList, Select, Static, TextArea
from textual.widgets.option_list import Option

from desk.i18n import N_, vocab_label
from desk.i18n import gettext as _
from desk.rules.permissions import Permission, can
from desk.rules.vocab import Channel, ContactOutcome, RequestType, WorkOrderStatus
from desk.screens.base import SessionScreen, SignedIn
from desk.screens.card import render_card
from desk.screens.dialogs import ChoiceDialog
from desk.screens.workspace_dialogs import (
    AccountDialog,
    LockedCustomersDialog,
    RingDialog,
    ServiceRequestDialog,
    VerifyDialog,
    WorkOrderForm,
    method_label,
    read_out,
)
from desk.widgets.format import local_time
from desk.widgets.notes import NotesArea
from desk.widgets.painted import RenderedOnce
from desk.widgets.select import TypeAheadSelect
from desk.widgets.settled import SettledScroll, SettledStatic
from desk.widgets.tickbox import Tickbox

if TYPE_CHECKING:
    from desk.services.bills import AccountOverview
    from desk.services.calls import TakenCall
    from desk.services.card import CustomerCard
    from desk.services.contacts import ContactView, RingView
    from desk.services.knowledge import KnowledgeResult
    from desk.services.verification import VerificationState
    from desk.services.work_orders import WorkOrderView

WIDE_COLUMNS = 120
RING_POLL_SECONDS = 0.25  # SQLite: how often the console looks for a rung call
RING_SAFETY_POLL_SECONDS = 2.0  # PostgreSQL: the poll behind the notifications
RING_LISTEN_SECONDS = 1.0  # PostgreSQL: how long one wait for a notification lasts
DRAFT_PAUSE_SECONDS = 0.8
KB_DEBOUNCE_SECONDS = 0.12
PANES = ("call", "customer", "orders", "knowledge")
PANE_FIRST = {
    "call": "#number",
    "customer": "#customer-pane",
    "orders": "#wo-number",
    "knowledge": "#kb-query",
}
SATISFACTION: dict[int, str] = {
    5: N_("ws.satisfaction.5"),
    4: N_("ws.satisfaction.4"),
    3: N_("ws.satisfaction.3"),
    2: N_("ws.satisfaction.2"),
    1: N_("ws.satisfaction.1"),
}


def _elapsed(since: datetime | None, now: datetime | None) -> str:
    if since is None or now is None:
        return "00:00"
    seconds = max(int((now - since).total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"


class WorkspaceScreen(SessionScreen):
    TITLE_MSGID = N_("screen.workspace")
    DEFAULT_CSS = """
    WorkspaceScreen #ws-grid {
        layout: grid;
        grid-size: 3 2;
        grid-columns: 1fr 1fr 1fr;
        grid-rows: 3fr 2fr;
        height: 1fr;
    }
    WorkspaceScreen .pane {
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        padding: 0 1;
        height: 1fr;
    }
    WorkspaceScreen .pane.focus-pane { border: round $primary; border-title-color: $primary; }
    WorkspaceScreen #call-pane { row-span: 2; }
    WorkspaceScreen #customer-pane { column-span: 2; }
    WorkspaceScreen #call-pane > * { margin-bottom: 0; }
    WorkspaceScreen #call-head { height: 1; }
    WorkspaceScreen #contact-fields { height: 1fr; }
    WorkspaceScreen #contact-fields > * { margin-bottom: 0; }
    WorkspaceScreen #notes { height: 1fr; min-height: 3; }
    WorkspaceScreen #call-hint { color: $text-muted; height: auto; }
    WorkspaceScreen #verify-line { height: auto; }
    WorkspaceScreen #customer-pane { overflow-y: scroll; }
    WorkspaceScreen #customer-body { height: auto; }
    WorkspaceScreen #new-caller { height: auto; margin-top: 1; }
    WorkspaceScreen #nc-message { height: auto; }
    WorkspaceScreen #orders { height: 1fr; }
    WorkspaceScreen #orders-note { height: auto; }
    WorkspaceScreen #kb-hits { height: 1fr; min-height: 3; border: none; padding: 0; }
    WorkspaceScreen #kb-article-box { height: 1fr; }
    WorkspaceScreen #kb-article { height: auto; }
    WorkspaceScreen.narrow #ws-grid { grid-size: 2 1; grid-columns: 38 1fr; grid-rows: 1fr; }
    WorkspaceScreen.narrow #call-pane { row-span: 1; }
    WorkspaceScreen.narrow #customer-pane { column-span: 1; }
    WorkspaceScreen .folded { display: none; }
    """
    BINDINGS = [
        Binding(
            "ctrl+t",
            "pane('call')",
            N_("ws_key.pane_call"),
            id="workspace.pane_call",
            priority=True,
        ),
        Binding(
            "ctrl+r",
            "pane('customer')",
            N_("ws_key.pane_customer"),
            id="workspace.pane_customer",
            priority=True,
        ),
        Binding(
            "ctrl+o",
            "pane('orders')",
            N_("ws_key.pane_orders"),
            id="workspace.pane_orders",
            priority=True,
        ),
        Binding(
            "ctrl+g",
            "pane('knowledge')",
            N_("ws_key.pane_knowledge"),
            id="workspace.pane_knowledge",
            priority=True,
        ),
        Binding("ctrl+l", "verify", N_("ws_key.verify"), id="workspace.verify", priority=True),
        Binding("ctrl+b", "account", N_("ws_key.account"), id="workspace.account", priority=True),
        Binding(
            "ctrl+f",
            "service_request",
            N_("ws_key.service_request"),
            id="workspace.service_request",
            priority=True,
        ),
        Binding(
            "ctrl+n",
            "work_order",
            N_("ws_key.work_order"),
            id="workspace.work_order",
            priority=True,
        ),
        Binding(
            "ctrl+s",
            "close_contact",
            N_("ws_key.close_contact"),
            id="workspace.close",
            priority=True,
        ),
        Binding("ctrl+k", "locked", N_("ws_key.locked"), id="workspace.locked", priority=True),
    ]

    # --- messages from the workers -------------------------------------------------------

    class ContactLoaded(Message):
        """A contact started, was answered or resumed: the screen now works on it."""

        def __init__(
            self,
            contact: ContactView,
            resumed: bool = False,
            card: WorkspaceScreen.CardLoaded | None = None,
        ) -> None:
            super().__init__()
            self.contact = contact
            self.resumed = resumed
            self.card = card  # read in the same worker, so the card paints with the call

    class DraftSaved(Message):
        def __init__(self, contact: ContactView) -> None:
            super().__init__()
            self.contact = contact

    class DraftStale(Message):
        def __init__(self, text: str, version: int) -> None:
            super().__init__()
            self.text = text
            self.version = version

    class DraftRefused(Message):
        """The draft could not be saved: its contact was closed elsewhere meanwhile."""

        def __init__(self, contact_id: int, text: str) -> None:
            super().__init__()
            self.contact_id = contact_id
            self.text = text

    class ContactClosed(Message):
        def __init__(self, contact: ContactView) -> None:
            super().__init__()
            self.contact = contact

    class CardLoaded(Message):
        def __init__(self, card: CustomerCard, state: VerificationState | None) -> None:
            super().__init__()
            self.card = card
            self.state = state

    class RingNotified(Message):
        """PostgreSQL told the console that a call was rung to its agent."""

    class RingPolled(Message):
        """One poll's answer: the call waiting for this agent, if any."""

        def __init__(self, ring: RingView | None) -> None:
            super().__init__()
            self.ring = ring

    class OpenFound(Message):
        def __init__(self, contact: ContactView | None) -> None:
            super().__init__()
            self.contact = contact

    class KnowledgeLoaded(Message):
        def __init__(self, seq: int, result: KnowledgeResult) -> None:
            super().__init__()
            self.seq = seq
            self.result = result

    class ArticleLoaded(Message):
        def __init__(self, title: str, body: str) -> None:
            super().__init__()
            self.title = title
            self.body = body

    class CannedLoaded(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class OrderFound(Message):
        def __init__(self, work_order_id: int) -> None:
            super().__init__()
            self.work_order_id = work_order_id

    class NewCallerFailed(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class OverviewLoaded(Message):
        """The accounts, for the service-request dialog (None: not allowed yet)."""

        def __init__(self, overview: AccountOverview | None) -> None:
            super().__init__()
            self.overview = overview

    def __init__(self, signed_in: SignedIn) -> None:
        super().__init__(signed_in)
        self.contact: ContactView | None = None
        self.card: CustomerCard | None = None
        self.verification: VerificationState | None = None
        self.pane = "call"
        self.narrow = False
        self._filling = False  # fields set from a contact: not the agent's typing
        self._draft_timer: Timer | None = None
        self._saving = False
        self._save_again = False
        self._close_after_save = False
        self._ring_shown: int | None = None
        self._polling = False
        self._ring_stop: threading.Event | None = None  # PostgreSQL: stops the listener
        self._kb_seq = 0
        self._kb_timer: Timer | None = None
        self._created_orders: list[WorkOrderView] = []
        self._pending_customer: int | None = None
        self._focus_pane: Widget | None = None  # the pane whose border is lit
        self._orders_shown: list[tuple[str, str, str, str]] = []  # the orders table's rows

    # --- layout ------------------------------------------------------------------------

    def compose_body(self) -> ComposeResult:
        with Container(id="ws-grid"):
            with Vertical(id="call-pane", classes="pane"):
                yield Static("", id="call-head")
                yield Input(
                    placeholder=_("ws.number_placeholder"),
                    id="number",
                    max_length=24,
                    compact=True,
                )
                with Vertical(id="contact-fields"):  # shown while a contact is open
                    yield TypeAheadSelect(
                        [(vocab_label(kind), kind.value) for kind in RequestType],
                        prompt=_("ws.field.request_type"),
                        id="request-type",
                        compact=True,
                    )
                    yield Input(
                        placeholder=_("ws.field.topic"), id="topic", max_length=64, compact=True
                    )
                    yield Tickbox(_("ws.field.on_behalf"), id="on-behalf", compact=True)
                    yield NotesArea(id="notes", compact=True, placeholder=_("ws.field.notes"))
                    yield TypeAheadSelect(
                        [
                            (vocab_label(outcome), outcome.value)
                            for outcome in ContactOutcome
                            if outcome is not ContactOutcome.ABANDONED
                        ],
                        prompt=_("ws.field.outcome"),
                        id="outcome",
                        compact=True,
                    )
                    yield Input(
                        placeholder=_("ws.field.refusal_reason"),
                        id="refusal-reason",
                        max_length=32,
                        compact=True,
                    )
                    yield TypeAheadSelect(
                        [(_(msgid), str(mark)) for mark, msgid in SATISFACTION.items()],
                        prompt=_("ws.field.satisfaction"),
                        id="satisfaction",
                        compact=True,
                    )
                yield SettledStatic("", id="call-hint", markup=False)
            with SettledScroll(id="customer-pane", classes="pane"):
                yield SettledStatic("", id="verify-line")
                yield SettledStatic(_("ws.no_caller"), id="customer-body")
                with Vertical(id="new-caller"):
                    yield Static(_("ws.new_caller_title"), markup=False)
                    yield Input(
                        placeholder=_("ws.field.name"), id="nc-name", compact=True, max_length=64
                    )
                    yield Input(
                        placeholder=_("ws.field.id_card"), id="nc-id", compact=True, max_length=18
                    )
                    yield Static("", id="nc-born", markup=False)
                    yield Input(
                        placeholder=_("ws.field.region"),
                        id="nc-region",
                        compact=True,
                        max_length=64,
                    )
                    yield Input(
                        placeholder=_("ws.field.address"),
                        id="nc-address",
                        compact=True,
                        max_length=200,
                    )
                    yield Static("", id="nc-message", markup=False)
            with Vertical(id="orders-pane", classes="pane"):
                yield Input(
                    placeholder=_("ws.wo_lookup_placeholder"),
                    id="wo-number",
                    max_length=24,
                    compact=True,
                )
                yield DataTable(id="orders", cursor_type="row", zebra_stripes=True)
                yield Static("", id="orders-note", markup=False)
            with Vertical(id="kb-pane", classes="pane"):
                yield Input(
                    placeholder=_("ws.kb_placeholder"), id="kb-query", max_length=60, compact=True
                )
                yield OptionList(id="kb-hits")
                with VerticalScroll(id="kb-article-box"):
                    yield Static("", id="kb-article")

    def on_mount(self) -> None:
        super().on_mount()
        titles = {
            "call-pane": N_("ws.pane.call"),
            "customer-pane": N_("ws.pane.customer"),
            "orders-pane": N_("ws.pane.orders"),
            "kb-pane": N_("ws.pane.knowledge"),
        }
        for pane_id, msgid in titles.items():
            self.query_one(f"#{pane_id}").border_title = _(msgid)
        self.query_one("#customer-pane", VerticalScroll).can_focus = True
        orders = self.query_one("#orders", DataTable)
        for msgid in (N_("card.wo.number"), N_("card.wo.status"), N_("card.wo.title")):
            orders.add_column(_(msgid))
        self._idle()
        self._layout(self.size.width)
        self.watch(self.app, "now", self._tick)
        if self.signed_in.db.is_sqlite:
            self.set_interval(RING_POLL_SECONDS, self._poll)
        else:
            self.set_interval(RING_SAFETY_POLL_SECONDS, self._poll)
            self._listen_rings()
        self._find_open()

    def on_resize(self, event: events.Resize) -> None:
        self._layout(event.size.width)

    def _layout(self, width: int) -> None:
        self.narrow = width < WIDE_COLUMNS
        self.set_class(self.narrow, "narrow")
        self._fold()

    def _fold(self) -> None:
        shown = self.pane if self.pane != "call" else "customer"
        for name, pane_id in zip(
            PANES, ("call-pane", "customer-pane", "orders-pane", "kb-pane"), strict=True
        ):
            folded = self.narrow and name != "call" and name != shown
            self.query_one(f"#{pane_id}").set_class(folded, "folded")

    def action_pane(self, name: str) -> None:
        self.pane = name
        self._fold()
        target = PANE_FIRST[name]
        if name == "call" and self.contact is not None:
            target = "#notes"
        elif name == "customer" and self._unknown_caller():
            target = "#nc-name"
        widget = self.query_one(target)
        if not widget.display:
            widget = self.query_one("#notes")
        widget.focus()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """Tab into a pane makes it the shown one when the screen is narrow, and marks it as
        the pane with the focus (its border lit).

        A class set when the focus enters another pane, not ``:focus-within``: Textual
        restyles every widget of a pane with a ``:focus-within`` rule at each move of the
        focus inside it (the call pane's selects, their lists and the notes: tens of
        milliseconds when a call starts and the focus goes from the number to the request
        type)."""
        for pane_id, name in (
            ("call-pane", "call"),
            ("customer-pane", "customer"),
            ("orders-pane", "orders"),
            ("kb-pane", "knowledge"),
        ):
            pane = self.query_one(f"#{pane_id}")
            if event.widget is pane or pane in event.widget.ancestors:
                if pane is not self._focus_pane:
                    if self._focus_pane is not None:
                        self._focus_pane.remove_class("focus-pane")
                    pane.add_class("focus-pane")
                    self._focus_pane = pane
                if name != self.pane:
                    self.pane = name
                    self._fold()
                return

    # --- the idle and the working state ----------------------------------------------------

    def _idle(self) -> None:
        """No contact: the caller number waits for the next call."""
        self.contact = None
        self.card = None
        self.verification = None
        self._created_orders.clear()
        self._filling = True
        number = self.query_one("#number", Input)
        number.value = ""
        number.display = True
        for selector in ("#request-type", "#outcome", "#satisfaction"):
            self.query_one(selector, Select).clear()
        for selector in ("#topic", "#refusal-reason"):
            self.query_one(selector, Input).value = ""
        self.query_one("#on-behalf", Checkbox).value = False
        self.query_one("#notes", TextArea).text = ""
        self._filling = False
        # Hidden, not disabled, while no contact is open: showing them again changes no
        # style (a disabled widget and all of its parts are restyled when enabled, tens of
        # milliseconds on the path from Enter to the card).
        self.query_one("#contact-fields").display = False
        self.query_one("#customer-body", Static).update(_("ws.no_caller"))
        self.query_one("#verify-line", Static).update("")
        self.query_one("#new-caller").display = False
        for selector in ("#nc-name", "#nc-id", "#nc-region", "#nc-address"):
            self.query_one(selector, Input).value = ""
        self.query_one("#nc-message", Static).update("")
        self.query_one("#nc-born", Static).update("")
        self._show_orders()
        self._show_head()
        number.focus()
        self.refresh_bindings()

    def _working(self, contact: ContactView, *, card_coming: bool = False) -> None:
        self.contact = contact
        self._filling = True
        self.query_one("#number", Input).display = False
        self.query_one("#contact-fields").display = True
        request_type = self.query_one("#request-type", Select)
        if contact.request_type is not None:
            request_type.value = contact.request_type.value
        self.query_one("#topic", Input).value = contact.topic or ""
        self.query_one("#on-behalf", Checkbox).value = contact.on_behalf
        self.query_one("#notes", TextArea).text = contact.summary or ""
        if contact.outcome is not None:
            self.query_one("#outcome", Select).value = contact.outcome.value
        self.query_one("#refusal-reason", Input).value = contact.refusal_reason or ""
        if contact.satisfaction is not None:
            self.query_one("#satisfaction", Select).value = str(contact.satisfaction)
        kb_query = contact.draft.get("kb_query")
        if isinstance(kb_query, str) and kb_query:
            self.query_one("#kb-query", Input).value = kb_query
        self.call_after_refresh(setattr, self, "_filling", False)
        self._show_head()
        if contact.customer_id is None:
            self.query_one("#customer-body", Static).update(
                Text(_("ws.unknown_caller", number=contact.caller_masked), style="bold yellow")
            )
            self.query_one("#new-caller").display = True
            self.query_one("#verify-line", Static).update("")
        else:
            self.query_one("#new-caller").display = False
            for selector in ("#nc-name", "#nc-id", "#nc-region", "#nc-address"):
                self.query_one(selector, Input).value = ""  # typed numbers leave the screen
            if not card_coming:
                self.query_one("#customer-body", Static).update(_("card.loading"))
                self._load_card(contact.customer_id, contact.id)
        self.query_one("#request-type", Select).focus()
        self.refresh_bindings()

    def _unknown_caller(self) -> bool:
        return self.contact is not None and self.contact.customer_id is None

    def _tick(self, now: datetime | None) -> None:
        self._show_head(now)

    def _show_head(self, now: datetime | None = None) -> None:
        head = Text(no_wrap=True, overflow="ellipsis")
        contact = self.contact
        if contact is None:
            head.append(_("ws.waiting"), style="dim")
            hint = _("ws.hint_idle")
        else:
            now = now or getattr(self.app, "now", None)
            head.append("● ", style="bold green")
            head.append(_elapsed(contact.answered_at, now), style="bold")
            head.append(f"  {contact.caller_masked}  ")
            head.append(vocab_label(contact.channel, Channel), style="italic")
            hint = _("ws.hint_working")
        self.query_one("#call-head", Static).update(head)
        self.query_one("#call-hint", Static).update(hint)

    # --- finding the draft, rings ------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="open")
    def _find_open(self) -> None:
        from desk.services.contacts import open_contact

        self.post_message(self.OpenFound(open_contact(self.signed_in.db, actor=self.actor)))

    @on(OpenFound)
    def _open_found(self, event: OpenFound) -> None:
        contact = event.contact
        if contact is None or self.contact is not None:
            return
        self.app.push_screen(
            ChoiceDialog(
                _(
                    "ws.resume_title",
                    at=local_time(contact.offered_at, "%m-%d %H:%M"),
                    number=contact.caller_masked,
                ),
                [("resume", _("ws.resume_yes")), ("drop", _("ws.resume_drop"))],
            ),
            lambda choice: self._resume(contact, choice),
        )

    def _resume(self, contact: ContactView, choice: str | None) -> None:
        if choice == "drop":
            self._close(contact.id, contact.version, self._draft_of(contact, dropped=True))
            return
        self.post_message(self.ContactLoaded(contact, resumed=True))

    def _poll(self) -> None:
        if self.contact is not None or self._ring_shown is not None or self._polling:
            return
        if not self.is_current:
            return
        self._polling = True
        self._poll_ring()

    def _listen_rings(self) -> None:
        """PostgreSQL: wait for the ring notifications while the screen is mounted, in a
        daemon thread of its own, stopped at unmount. Not a thread worker: those run in the
        event loop's executor, whose shutdown waits for every thread, and this one only ends
        when told. When the listening connection fails, the safety poll alone goes on."""
        self._ring_stop = threading.Event()
        threading.Thread(
            target=self._listen, args=(self._ring_stop,), name="desk-ring-listener", daemon=True
        ).start()

    def _listen(self, stop: threading.Event) -> None:
        from desk.services.contacts import RingListener

        try:
            listener = RingListener(self.signed_in.db, agent_id=self.actor.user_id)
        except Exception:  # noqa: BLE001 - no notifications: the poll still finds the call
            return
        try:
            while not stop.is_set():
                if listener.wait(RING_LISTEN_SECONDS) and not stop.is_set():
                    self.post_message(self.RingNotified())
        except Exception:  # noqa: BLE001 - as above
            return
        finally:
            listener.close()

    def on_unmount(self) -> None:
        if self._ring_stop is not None:
            self._ring_stop.set()

    @on(RingNotified)
    def _ring_notified(self) -> None:
        self._poll()

    @work(thread=True, exit_on_error=False, group="ring")
    def _poll_ring(self) -> None:
        """Not exclusive: one poll at a time is kept by ``_polling``, reset on the UI side."""
        from desk.services.contacts import pending_ring

        try:
            ring = pending_ring(self.signed_in.db, actor=self.actor)
        except BaseException:
            self.post_message(self.RingPolled(None))
            raise
        self.post_message(self.RingPolled(ring))

    @on(RingPolled)
    def _ring_polled(self, event: RingPolled) -> None:
        self._polling = False
        ring = event.ring
        if ring is None or self.contact is not None or self._ring_shown is not None:
            return
        self._ring_shown = ring.contact_id
        who = _("ws.ring_known") if ring.customer_id is not None else _("ws.ring_unknown")
        self.app.push_screen(RingDialog(ring, who), lambda answer: self._rang(ring, answer))

    def _rang(self, ring: RingView, answer: str | None) -> None:
        self._answer(ring.contact_id, answer == "answer")

    @work(thread=True, exclusive=True, exit_on_error=False, group="contact")
    def _answer(self, contact_id: int, take: bool) -> None:
        from desk.infra.errors import InvalidInput
        from desk.services.calls import answer_call
        from desk.services.contacts import decline_ring

        try:
            if take:
                taken = answer_call(
                    self.signed_in.db,
                    actor=self.actor,
                    contact_id=contact_id,
                    policy=self.signed_in.backend.policy,
                )
                self.post_message(self._loaded(taken))
            else:
                decline_ring(self.signed_in.db, actor=self.actor, contact_id=contact_id)
        except InvalidInput as error:
            # The call ended before this answer reached it (the caller hung up, it expired,
            # it was declined elsewhere): a line, not a dialog over the screen, so the next
            # call rung can pop at once.
            if take:
                self.app.call_from_thread(
                    self.notify, error.message, severity="warning", markup=False
                )
        finally:
            self._ring_shown = None

    # --- starting a contact ------------------------------------------------------------------

    @on(Input.Submitted, "#number")
    def _number_entered(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip() and self.contact is None:
            self._start(event.value)

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="contact",
        description="start a contact for the number typed",
    )
    def _start(self, number: str) -> None:
        from desk.services.calls import start_call

        taken = start_call(
            self.signed_in.db,
            actor=self.actor,
            number=number,
            policy=self.signed_in.backend.policy,
        )
        self.post_message(self._loaded(taken))

    def start_for_customer(self, customer_id: int) -> None:
        """Lookup or the card asked for a contact with this customer."""
        if self.contact is not None:
            self.notify(_("ws.already_open"), severity="warning", markup=False)
            return
        self._start_for(customer_id)

    @work(thread=True, exclusive=True, exit_on_error=False, group="contact")
    def _start_for(self, customer_id: int) -> None:
        from desk.services.calls import start_call_for_customer

        taken = start_call_for_customer(
            self.signed_in.db,
            actor=self.actor,
            customer_id=customer_id,
            policy=self.signed_in.backend.policy,
        )
        self.post_message(self._loaded(taken))

    def _loaded(self, taken: TakenCall) -> ContactLoaded:
        """The contact a worker took, with the card read in its transaction."""
        card = None if taken.card is None else self.CardLoaded(taken.card, taken.verification)
        return self.ContactLoaded(taken.contact, card=card)

    @on(ContactLoaded)
    def _contact_loaded(self, event: ContactLoaded) -> None:
        self._working(event.contact, card_coming=event.card is not None)
        if event.card is not None:
            self._card_loaded(event.card)
        if event.resumed:
            self.notify(_("ws.resumed"), markup=False)

    # --- the customer ------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="card")
    def _load_card(self, customer_id: int, contact_id: int) -> None:
        self.post_message(self._read_card(customer_id, contact_id))

    def _read_card(self, customer_id: int, contact_id: int) -> CardLoaded:
        """The card and the caller's verification state (in a worker's thread)."""
        from desk.services.card import customer_card
        from desk.services.verification import verification_state

        db, actor = self.signed_in.db, self.actor
        policy = self.signed_in.backend.policy
        card = customer_card(
            db, actor=actor, customer_id=customer_id, policy=policy, contact_id=contact_id
        )
        state = (
            verification_state(
                db, actor=actor, contact_id=contact_id, policy=self.signed_in.backend.policy
            )
            if can(actor, Permission.VERIFY_CALLER)
            else None
        )
        return self.CardLoaded(card, state)

    @on(CardLoaded)
    def _card_loaded(self, event: WorkspaceScreen.CardLoaded) -> None:
        if self.contact is None or self.contact.customer_id != event.card.id:
            return
        self.card = event.card
        self.verification = event.state
        body = self.query_one("#customer-body", Static)
        body.update(RenderedOnce(body, render_card(event.card)))
        self._show_verification()
        self._show_orders()
        self.refresh_bindings()

    def _show_verification(self) -> None:
        state = self.verification
        if state is None:
            self.query_one("#verify-line", Static).update("")
            return
        if state.locked:
            line = Text(_("ws.state.locked"), style="bold white on red")
        elif state.verified:
            line = Text(
                _(
                    "ws.state.verified",
                    method=method_label(state.method),
                    until=local_time(state.valid_until, "%H:%M"),
                ),
                style="bold green",
            )
        else:
            line = Text(_("ws.state.unverified", left=state.failures_left), style="bold yellow")
            line.append("  " + _("ws.state.press_verify"), style="dim")
        if state.on_behalf:
            line.append("  " + _("ws.state.on_behalf"), style="italic")
        self.query_one("#verify-line", Static).update(line)

    def _reload_customer(self) -> None:
        if self.contact is not None and self.contact.customer_id is not None:
            self._load_card(self.contact.customer_id, self.contact.id)

    # --- an unknown caller -------------------------------------------------------------------

    @on(Input.Submitted, "#nc-name, #nc-id, #nc-region, #nc-address")
    def _new_caller(self, event: Input.Submitted) -> None:
        event.stop()
        if self.contact is None or self.contact.customer_id is not None:
            return
        values = {
            "name": self.query_one("#nc-name", Input).value,
            "id_card_no": self.query_one("#nc-id", Input).value,
            "region": self.query_one("#nc-region", Input).value,
            "address": self.query_one("#nc-address", Input).value or None,
        }
        self._create_caller(self.contact.id, values)

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="contact",
        description="create the unknown caller",
    )
    def _create_caller(self, contact_id: int, values: dict[str, Any]) -> None:
        from desk.infra.errors import InvalidInput
        from desk.services.contacts import new_caller, quick_create_customer

        try:
            contact = quick_create_customer(
                self.signed_in.db, actor=self.actor, contact_id=contact_id, new=new_caller(**values)
            )
        except InvalidInput as error:
            self.post_message(self.NewCallerFailed(error.message))
            return
        self.post_message(self.ContactLoaded(contact))

    @on(Input.Changed, "#nc-id")
    def _id_typed(self, event: Input.Changed) -> None:
        """A valid ID-card number fills the birthday (it carries the birth date)."""
        from desk.services.contacts import id_card_birthday

        born = id_card_birthday(event.value)
        self.query_one("#nc-born", Static).update(
            "" if born is None else _("ws.nc_born", date=born.isoformat())
        )

    @on(NewCallerFailed)
    def _new_caller_failed(self, event: NewCallerFailed) -> None:
        self.query_one("#nc-message", Static).update(Text(event.text, style="bold red"))

    # --- work orders -------------------------------------------------------------------------

    def _show_orders(self) -> None:
        """The caller's open orders and those made in this contact; the table is filled
        again only when its rows change (a call with no open orders after another leaves it
        alone: clearing it laid its pane out and painted it again on the way to the card)."""
        table = self.query_one("#orders", DataTable)
        rows: list[tuple[str, str, str, str]] = []
        for view in self._created_orders:
            rows.append(
                (str(view.id), view.number, vocab_label(view.status, WorkOrderStatus), view.title)
            )
        if self.card is not None:
            created = {view.id for view in self._created_orders}
            for order in self.card.open_work_orders:
                if order.id not in created:
                    title = ("! " if order.is_overdue else "") + order.title
                    rows.append(
                        (
                            str(order.id),
                            order.number,
                            vocab_label(order.status, WorkOrderStatus),
                            title,
                        )
                    )
        if rows != self._orders_shown:
            table.clear()
            for key, *cells in rows:
                table.add_row(*cells, key=key)
            self._orders_shown = rows
        note = self.query_one("#orders-note", Static)
        if self._created_orders:
            last = self._created_orders[-1]
            note.update(
                Text(
                    _("ws.wo_read_out", number=last.number, spoken=read_out(last.number)),
                    style="bold",
                )
            )
        elif self.card is not None and not rows:
            note.update(_("card.wo.none"))
        else:
            note.update("")

    @on(DataTable.RowSelected, "#orders")
    def _order_chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self._open_order(int(event.row_key.value))

    @on(Input.Submitted, "#wo-number")
    def _order_number(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self._find_order(event.value.strip().upper())

    @work(thread=True, exclusive=True, exit_on_error=False, group="order")
    def _find_order(self, number: str) -> None:
        from desk.services.work_orders import work_order_detail

        detail = work_order_detail(
            self.signed_in.db,
            actor=self.actor,
            number=number,
            policy=self.signed_in.backend.policy,
        )
        self.post_message(self.OrderFound(detail.order.id))

    @on(OrderFound)
    def _order_found(self, event: OrderFound) -> None:
        self._open_order(event.work_order_id)

    def _open_order(self, work_order_id: int) -> None:
        from desk.screens.work_order import WorkOrderScreen

        self.app.push_screen(WorkOrderScreen(self.signed_in, work_order_id))

    # --- the knowledge base ------------------------------------------------------------------

    @on(Input.Changed, "#kb-query")
    def _kb_typed(self, event: Input.Changed) -> None:
        event.stop()
        if self._kb_timer is not None:
            self._kb_timer.stop()
        query = event.value
        self._kb_timer = self.set_timer(KB_DEBOUNCE_SECONDS, lambda: self._kb_request(query))
        if self.contact is not None and not self._filling:
            self._schedule_draft()

    def _kb_request(self, query: str) -> None:
        self._kb_timer = None
        self._kb_seq += 1
        self._kb_search(self._kb_seq, query)

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="kb",
        description="search the knowledge base",
    )
    def _kb_search(self, seq: int, query: str) -> None:
        from desk.services.knowledge import search_knowledge

        result = search_knowledge(self.signed_in.db, actor=self.actor, query=query, limit=20)
        self.post_message(self.KnowledgeLoaded(seq, result))

    @on(KnowledgeLoaded)
    def _kb_loaded(self, event: KnowledgeLoaded) -> None:
        if event.seq != self._kb_seq:
            return
        hits = self.query_one("#kb-hits", OptionList)
        hits.clear_options()
        for hit in event.result.hits:
            label = Text()
            label.append("▤ " if hit.kind == "article" else "✎ ", style="bold")
            label.append(hit.title, style="bold")
            label.append(f"  {hit.excerpt}", style="dim")
            hits.add_option(Option(label, id=f"{hit.kind}:{hit.id}"))
        if not event.result.hits and event.result.query.strip():
            hits.add_option(Option(_("ws.kb_none"), id="none", disabled=True))

    @on(Input.Submitted, "#kb-query")
    def _kb_enter(self, event: Input.Submitted) -> None:
        event.stop()
        hits = self.query_one("#kb-hits", OptionList)
        if hits.option_count:
            hits.highlighted = 0
            hits.focus()

    @on(OptionList.OptionSelected, "#kb-hits")
    def _kb_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        kind, _sep, raw = (event.option.id or "").partition(":")
        if raw.isdigit():
            self._kb_open(kind, int(raw))

    @work(thread=True, exclusive=True, exit_on_error=False, group="kb-open")
    def _kb_open(self, kind: str, item_id: int) -> None:
        from desk.services.knowledge import canned_reply_text, read_article

        if kind == "canned":
            text = canned_reply_text(self.signed_in.db, actor=self.actor, reply_id=item_id)
            self.post_message(self.CannedLoaded(text))
        else:
            article = read_article(self.signed_in.db, actor=self.actor, article_id=item_id)
            self.post_message(self.ArticleLoaded(article.title, article.body))

    @on(ArticleLoaded)
    def _article(self, event: ArticleLoaded) -> None:
        self.query_one("#kb-article", Static).update(
            Group(Text(event.title, style="bold underline"), Text(event.body))
        )

    @on(CannedLoaded)
    def _canned(self, event: CannedLoaded) -> None:
        if self.contact is None:
            self.query_one("#kb-article", Static).update(Text(event.text))
            return
        self._append_note(event.text)
        self.notify(_("ws.canned_inserted"), markup=False)

    def _append_note(self, line: str) -> None:
        notes = self.query_one("#notes", TextArea)
        text = notes.text.rstrip()
        notes.text = f"{text}\n{line}" if text else line
        notes.move_cursor(notes.document.end)

    # --- the draft ---------------------------------------------------------------------------

    @on(Select.Changed)
    @on(Input.Changed, "#topic, #refusal-reason")
    @on(Checkbox.Changed, "#on-behalf")
    @on(TextArea.Changed, "#notes")
    def _changed(self, event: Message) -> None:
        if self.contact is None or self._filling:
            return
        if isinstance(event, Select.Changed) and event.select.id not in (
            "request-type",
            "outcome",
            "satisfaction",
        ):
            return
        self._schedule_draft()

    def _schedule_draft(self) -> None:
        if self._draft_timer is not None:
            self._draft_timer.stop()
        self._draft_timer = self.set_timer(DRAFT_PAUSE_SECONDS, self._save_now)

    def _fields(self) -> dict[str, Any]:
        request_type = self.query_one("#request-type", Select).value
        outcome = self.query_one("#outcome", Select).value
        satisfaction = self.query_one("#satisfaction", Select).value
        return {
            "request_type": RequestType(request_type) if isinstance(request_type, str) else None,
            "topic": self.query_one("#topic", Input).value.strip() or None,
            "on_behalf": self.query_one("#on-behalf", Checkbox).value,
            "summary": self.query_one("#notes", TextArea).text.strip() or None,
            "outcome": ContactOutcome(outcome) if isinstance(outcome, str) else None,
            "refusal_reason": self.query_one("#refusal-reason", Input).value.strip() or None,
            "satisfaction": int(satisfaction) if isinstance(satisfaction, str) else None,
            "extra": {"kb_query": self.query_one("#kb-query", Input).value},
        }

    def _draft_of(self, contact: ContactView, *, dropped: bool = False) -> Any:
        from desk.services.contacts import ContactDraft

        if dropped:
            return ContactDraft(
                request_type=contact.request_type or RequestType.CONSULTATION,
                topic=contact.topic,
                on_behalf=contact.on_behalf,
                summary=contact.summary or _("ws.dropped_summary"),
                outcome=ContactOutcome.DROPPED,
                refusal_reason=contact.refusal_reason,
                satisfaction=contact.satisfaction,
            )
        return ContactDraft(**self._fields())

    def _save_now(self) -> None:
        self._draft_timer = None
        contact = self.contact
        if contact is None:
            return
        if self._saving:
            self._save_again = True
            return
        self._saving = True
        self._save(contact.id, contact.version, self._draft_of(contact))

    @work(
        thread=True,
        exclusive=False,
        exit_on_error=False,
        group="draft",
        description="save the contact's draft",
    )
    def _save(self, contact_id: int, version: int, draft: Any) -> None:
        from desk.infra.errors import InvalidInput, StaleRecord
        from desk.services.contacts import contact_view, save_draft

        db = self.signed_in.db
        try:
            saved = save_draft(
                db, actor=self.actor, contact_id=contact_id, version=version, draft=draft
            )
        except StaleRecord as error:
            current = contact_view(db, actor=self.actor, contact_id=contact_id)
            self.post_message(self.DraftStale(error.message, current.version))
            return
        except InvalidInput as error:  # closed elsewhere: not a failure of this console
            self.post_message(self.DraftRefused(contact_id, error.message))
            return
        except BaseException:
            self._saving = False
            raise
        self.post_message(self.DraftSaved(saved))

    @on(DraftSaved)
    def _draft_saved(self, event: DraftSaved) -> None:
        self._saving = False
        if self.contact is None or self.contact.id != event.contact.id:
            return
        self.contact = event.contact
        if self._close_after_save:
            self._close_after_save = False
            self.action_close_contact()
        elif self._save_again:
            self._save_again = False
            self._save_now()

    @on(DraftStale)
    def _draft_stale(self, event: DraftStale) -> None:
        """Someone saved this contact meanwhile: what is on screen is kept and saved over
        the newer version at the next pause."""
        self._saving = False
        if self.contact is None:
            return
        from dataclasses import replace

        self.contact = replace(self.contact, version=event.version)
        self.notify(event.text + " " + _("ws.kept"), severity="warning", markup=False)
        self._schedule_draft()

    @on(DraftRefused)
    def _draft_refused(self, event: DraftRefused) -> None:
        """The contact was closed elsewhere while this screen still held it: say so and
        wait for the next call. A save that ends after the screen moved on says nothing
        (an error dialog here would cover the screen, and a call rung meanwhile would wait
        behind it)."""
        self._saving = False
        if self.contact is None or self.contact.id != event.contact_id:
            return
        self.notify(_("ws.closed_elsewhere", reason=event.text), severity="warning", markup=False)
        self._idle()

    # --- closing -----------------------------------------------------------------------------

    def action_close_contact(self) -> None:
        contact = self.contact
        if contact is None:
            return
        if self._draft_timer is not None:
            self._draft_timer.stop()
            self._draft_timer = None
        problem = self._closing_problem()
        if problem is not None:  # said in the agent's language, the field focused
            selector, msgid = problem
            self.notify(_(msgid), severity="warning", markup=False)
            self.query_one(selector).focus()
            return
        if self._saving:
            self._close_after_save = True
            return
        self._close(contact.id, contact.version, self._draft_of(contact))

    def _closing_problem(self) -> tuple[str, str] | None:
        """The first field a save needs and lacks (the service checks the same)."""
        if not isinstance(self.query_one("#request-type", Select).value, str):
            return "#request-type", N_("ws.close_needs.request_type")
        outcome = self.query_one("#outcome", Select).value
        if not isinstance(outcome, str):
            return "#outcome", N_("ws.close_needs.outcome")
        refused = outcome == ContactOutcome.REFUSED.value
        if refused and not self.query_one("#refusal-reason", Input).value.strip():
            return "#refusal-reason", N_("ws.close_needs.refusal_reason")
        if not self.query_one("#notes", TextArea).text.strip():
            return "#notes", N_("ws.close_needs.summary")
        return None

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="close",
        description="close the contact",
    )
    def _close(self, contact_id: int, version: int, draft: Any) -> None:
        from desk.services.contacts import close_contact

        closed = close_contact(
            self.signed_in.db, actor=self.actor, contact_id=contact_id, version=version, draft=draft
        )
        self.post_message(self.ContactClosed(closed))

    @on(ContactClosed)
    def _contact_closed(self, event: ContactClosed) -> None:
        contact = event.contact
        self.notify(
            _(
                "ws.closed",
                number=contact.caller_masked,
                outcome=vocab_label(contact.outcome, ContactOutcome),
                length=_elapsed(contact.answered_at, contact.ended_at),
            ),
            markup=False,
        )
        self._idle()

    # --- serving -----------------------------------------------------------------------------

    def check_action(self, action: str, _parameters: tuple[object, ...]) -> bool | None:
        known = self.contact is not None and self.contact.customer_id is not None
        if action in ("verify", "account", "service_request"):
            return True if known else None
        if action == "work_order":
            allowed = can(self.actor, Permission.CREATE_WORK_ORDER)
            return True if (allowed and self.contact is not None) else None
        if action == "close_contact":
            return True if self.contact is not None else None
        if action == "locked":  # hidden from those who may not lift a lock
            return can(self.actor, Permission.LIFT_VERIFICATION_LOCK)
        return True

    def action_locked(self) -> None:
        if can(self.actor, Permission.LIFT_VERIFICATION_LOCK):
            self.app.push_screen(LockedCustomersDialog(self.signed_in), self._open_locked)

    def _open_locked(self, customer_id: int | None) -> None:
        if customer_id is not None:
            from desk.screens.card import CustomerCardScreen

            self.app.push_screen(CustomerCardScreen(self.signed_in, customer_id))

    def action_verify(self) -> None:
        contact, state = self.contact, self.verification
        if contact is None or state is None:
            return
        self.app.push_screen(
            VerifyDialog(self.signed_in, contact.id, state), lambda _passed: self._reload_customer()
        )

    def action_account(self) -> None:
        if self.contact is None or self.contact.customer_id is None:
            return
        self.app.push_screen(AccountDialog(self.signed_in, self.contact.id), self._disputed)

    def _disputed(self, items: tuple[int, ...] | None) -> None:
        if items:
            self._work_order_form(
                RequestType.COMPLAINT,
                _("ws.dispute_topic"),
                items,
                _("ws.dispute_description", count=len(items)),
            )

    def action_service_request(self) -> None:
        if self.contact is None or self.contact.customer_id is None:
            return
        self._overview(self.contact.id)

    @work(thread=True, exclusive=True, exit_on_error=False, group="overview")
    def _overview(self, contact_id: int) -> None:
        from desk.services.bills import account_overview
        from desk.services.verification import GateRefused

        try:
            overview: AccountOverview | None = account_overview(
                self.signed_in.db,
                actor=self.actor,
                contact_id=contact_id,
                policy=self.signed_in.backend.policy,
            )
        except GateRefused:
            overview = None  # the requests themselves say why, through the gate
        self.post_message(self.OverviewLoaded(overview))

    @on(OverviewLoaded)
    def _overview_loaded(self, event: OverviewLoaded) -> None:
        contact, card = self.contact, self.card
        if contact is None or card is None:
            return
        self.app.push_screen(
            ServiceRequestDialog(self.signed_in, contact.id, event.overview, card.version),
            self._requested,
        )

    def _requested(self, notes: str | None) -> None:
        if notes:
            self._append_note(notes)
        self._refresh_contact()
        self._reload_customer()

    @work(thread=True, exclusive=True, exit_on_error=False, group="refresh")
    def _refresh_contact(self) -> None:
        """A service request may have written the refusal reason (and a new version)."""
        from desk.services.contacts import contact_view

        if self.contact is None:
            return
        current = contact_view(self.signed_in.db, actor=self.actor, contact_id=self.contact.id)
        self.app.call_from_thread(self._adopt, current)

    def _adopt(self, current: ContactView) -> None:
        if self.contact is None or self.contact.id != current.id:
            return
        from dataclasses import replace

        self.contact = replace(self.contact, version=current.version)
        if current.refusal_reason:
            self._filling = True
            self.query_one("#refusal-reason", Input).value = current.refusal_reason
            self.call_after_refresh(setattr, self, "_filling", False)
        self._schedule_draft()

    def action_work_order(self) -> None:
        self._work_order_form(None, None, ())

    def _work_order_form(
        self,
        category: RequestType | None,
        topic: str | None,
        disputed: tuple[int, ...],
        description: str | None = None,
    ) -> None:
        contact = self.contact
        if contact is None:
            return
        fields = self._fields()
        self.app.push_screen(
            WorkOrderForm(
                self.signed_in,
                contact_id=contact.id,
                customer_id=contact.customer_id,
                channel=contact.channel,
                category=category or fields["request_type"],
                topic=topic or fields["topic"],
                description="\n".join(x for x in (fields["summary"], description) if x),
                disputed=disputed,
            ),
            self._order_created,
        )

    def _order_created(self, view: WorkOrderView | None) -> None:
        if view is None:
            return
        self._created_orders.append(view)
        self._show_orders()
        self._reload_customer()  # the card's open work orders list it too
        self._append_note(_("ws.wo_note", number=view.number))
        self._filling = True
        self.query_one("#outcome", Select).value = ContactOutcome.WORK_ORDER.value
        self.call_after_refresh(setattr, self, "_filling", False)
        self._schedule_draft()
        self.notify(
            _("ws.wo_read_out", number=view.number, spoken=read_out(view.number)), markup=False
        )
