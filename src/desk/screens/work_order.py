"""One work order: its facts, its four clocks, what is attached, and its whole history.

Pushed by the queue (``Enter``), the dashboard and the workspace; ``Esc`` returns to where it
was opened from. The detail is read by a worker (:func:`desk.services.work_orders.
work_order_detail`) and drawn by :func:`render_detail`, a pure function of the read model.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from desk.i18n import N_, vocab_label
from desk.i18n import gettext as _
from desk.rules.vocab import (
    CallbackStatus,
    Channel,
    EventKind,
    InboxChannel,
    Priority,
    RequestType,
    WorkOrderSource,
    WorkOrderStatus,
)
from desk.rules.work_orders import Action, OrderState
from desk.screens.base import SessionScreen, SignedIn
from desk.screens.order_actions import ACTION_BINDINGS, ACTION_KEYS, OrderActions, OrderRef
from desk.widgets.clocks import clock_line_of, short_time
from desk.widgets.drawn import Drawn, Grid, facts, heading
from desk.widgets.format import local_time, yuan
from desk.widgets.painted import RenderedOnce

if TYPE_CHECKING:
    from desk.services.queue import FloorDirectory
    from desk.services.work_orders import WorkOrderDetail

ESCALATION_LABELS: dict[int, str] = {
    1: N_("work_order.escalation.reminded"),
    2: N_("work_order.escalation.proposed"),
    3: N_("work_order.escalation.confirmed"),
}


def status_text(detail: WorkOrderDetail) -> Text:
    """The status with what qualifies it: paused, major, escalation level."""
    order = detail.order
    text = Text(vocab_label(order.status), style="bold")
    if order.waiting_reason is not None:
        text.append("  ")
        text.append(_("work_order.paused", reason=vocab_label(order.waiting_reason)), "yellow")
    if order.is_major:
        text.append("  ")
        text.append(_("work_order.major"), style="bold red")
    label = ESCALATION_LABELS.get(order.escalation_level)
    if label:
        text.append("  ")
        text.append(_(label), style="bold magenta")
    return text


def event_text(kind: EventKind, data: dict[str, object]) -> str:
    """What an event was, with the facts its data adds (a callback reached or not …)."""
    label = vocab_label(kind)
    if kind is EventKind.CALLBACK_ATTEMPT:
        reached = data.get("reached")
        label += " · " + (_("work_order.reached") if reached else _("work_order.not_reached"))
    score = data.get("satisfaction")
    if isinstance(score, int):
        label += " · " + _("work_order.satisfaction", score=score)
    if data.get("late") is True:
        label += " · " + _("work_order.late")
    return label


def render_detail(detail: WorkOrderDetail, now: datetime) -> Drawn:
    """The work order as lines of text (pure: the read model in, text out), its whole
    history included: drawn by :mod:`desk.widgets.drawn`, not by Rich's tables."""
    order = detail.order
    title = Text()
    title.append(order.number, style="bold")
    title.append("  ")
    title.append(order.title)
    parts: list[Text | Grid] = [title, status_text(detail)]

    known = [
        (
            _("work_order.category"),
            " · ".join(
                x
                for x in (
                    vocab_label(order.category, RequestType),
                    detail.topic or "",
                    vocab_label(order.priority, Priority),
                )
                if x
            ),
        ),
        (_("work_order.department"), detail.department_name or _("work_order.none")),
        (
            _("work_order.customer"),
            "  ".join(
                x
                for x in (
                    detail.customer_name_masked or "",
                    detail.customer_no or "",
                    detail.customer_phone_masked or "",
                    detail.branch_name or "",
                )
                if x
            )
            or _("work_order.none"),
        ),
        (
            _("work_order.source"),
            f"{vocab_label(detail.source, WorkOrderSource)} · "
            f"{vocab_label(detail.channel, Channel)}",
        ),
        (
            _("work_order.created"),
            f"{local_time(order.created_at)}  {detail.created_by_name or ''}".rstrip(),
        ),
        (
            _("work_order.updated"),
            _(
                "work_order.updated_by",
                at=local_time(order.updated_at, "%Y-%m-%d %H:%M:%S"),
                who=detail.updated_by_name or _("work_order.desk"),
                version=order.version,
            ),
        ),
    ]
    if detail.redispatch_count or detail.cycle:
        known.append(
            (
                _("work_order.rounds"),
                _(
                    "work_order.rounds_value",
                    returned=detail.redispatch_count,
                    reopened=detail.cycle,
                ),
            )
        )
    parts.append(facts(known))
    parts.append(heading(_("work_order.description")))
    parts.append(Text(detail.description))

    parts.append(heading(_("work_order.clocks")))
    clocks = []
    for clock in detail.clocks:
        clocks.append(
            (
                Text(vocab_label(clock.kind)),
                clock_line_of(clock, now),
            )
        )
    parts.append(Grid(clocks))

    if detail.disputed_items:
        parts.append(heading(_("work_order.disputed", count=len(detail.disputed_items))))
        header = [
            Text(_("work_order.item.period")),
            Text(_("work_order.item.at")),
            Text(_("work_order.item.counterpart")),
            Text(_("work_order.item.amount")),
            Text(_("work_order.item.description")),  # last: it folds
        ]
        amounts = [yuan(item.amount_cents) for item in detail.disputed_items]
        wide = max(len(amount) for amount in amounts)
        items = [
            (
                Text(item.period),
                Text(local_time(item.occurred_at, "%m-%d %H:%M")),
                Text(item.counterpart or ""),
                Text(amount.rjust(wide)),
                Text(item.description),
            )
            for item, amount in zip(detail.disputed_items, amounts, strict=True)
        ]
        parts.append(Grid(items, header=header))

    if detail.message is not None:
        message = detail.message
        parts.append(
            heading(
                _(
                    "work_order.from_message",
                    channel=vocab_label(message.channel, InboxChannel),
                    sender=message.sender,
                    at=local_time(message.received_at),
                )
            )
        )
        parts.append(Text(message.text))

    if detail.parent is not None or detail.children:
        parts.append(heading(_("work_order.mass_fault")))
        links: list[tuple[str, Text | str]] = []
        if detail.parent is not None:
            parent = detail.parent
            links.append(
                (
                    _("work_order.parent"),
                    f"{parent.number}  {parent.title}  ({vocab_label(parent.status)})",
                )
            )
        for child in detail.children:
            links.append(
                (
                    _("work_order.child"),
                    f"{child.number}  {child.title}  ({vocab_label(child.status)})",
                )
            )
        parts.append(facts(links))

    if detail.callbacks:
        parts.append(heading(_("work_order.callbacks")))
        for callback in detail.callbacks:
            line = _(
                "work_order.callback_line",
                due=short_time(callback.due_at, now),
                owner=callback.owner_name or _("work_order.anyone"),
                status=callback.status,
                attempts=callback.attempts,
            )
            if callback.result:
                line += f" · {callback.result}"
            parts.append(Text(line))

    parts.append(heading(_("work_order.history", count=len(detail.events))))
    history = []
    for event in detail.events:
        what = event_text(event.kind, event.data)
        if event.to_status is not None and event.to_status != event.from_status:
            what += f" → {vocab_label(event.to_status, WorkOrderStatus)}"
        if event.department_name and event.kind in (
            EventKind.DISPATCHED,
            EventKind.REJECTED,
            EventKind.ESCALATION_CONFIRMED,
            EventKind.REPLIED,
        ):
            what += f" ({event.department_name})"
        style = "red" if event.kind is EventKind.BREACH else ""
        if event.kind in (EventKind.REMINDER, EventKind.ESCALATION_PROPOSED):
            style = "magenta"
        history.append(
            (
                Text(local_time(event.at, "%m-%d %H:%M")),
                Text(event.actor_name or _("work_order.desk")),
                Text(what, style=style),
                # folded, never cut: a reply is read in full, Chinese text included
                Text(event.reason or ""),
            )
        )
    header = [
        Text(_("work_order.col.at")),
        Text(_("work_order.col.who")),
        Text(_("work_order.col.what")),
        Text(_("work_order.col.why")),
    ]
    parts.append(Grid(history, header=header, expand=True))
    return Drawn(parts)


class WorkOrderScreen(OrderActions, SessionScreen):
    """One work order, pushed over the screen that opened it; its actions by key."""

    TITLE_MSGID = N_("screen.work_order")
    DEFAULT_CSS = """
    WorkOrderScreen #wo-scroll { padding: 0 1; scrollbar-gutter: stable; }
    WorkOrderScreen #wo-body { height: auto; }
    """
    BINDINGS = [
        Binding("escape", "back", N_("wo_key.back"), id="work_order.back"),
        Binding("ctrl+r", "reload", N_("wo_key.reload"), id="work_order.reload"),
        *ACTION_BINDINGS,
    ]

    class DetailLoaded(Message):
        def __init__(self, detail: WorkOrderDetail) -> None:
            super().__init__()
            self.detail = detail

    class DirectoryLoaded(Message):
        def __init__(self, directory: FloorDirectory) -> None:
            super().__init__()
            self.directory = directory

    def __init__(
        self,
        signed_in: SignedIn,
        work_order_id: int,
        *,
        then: Action | None = None,
        directory: FloorDirectory | None = None,
        detail: WorkOrderDetail | None = None,
    ) -> None:
        """``then``: an action whose form opens over the order once it is shown (F5 opens a
        work order's callback this way). ``directory``: the departments and branches when the
        opener has them already (the queue): not read again. ``detail``: the order as the
        opener has just read it (its number looked up): shown, not read again."""
        super().__init__(signed_in)
        self.work_order_id = work_order_id
        self.detail: WorkOrderDetail | None = None
        self.directory = directory
        self._then = then
        self._given = detail
        self._styled: tuple[int, int] | None = None  # the styles it was last styled with

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="wo-scroll"):
            yield Static(_("work_order.loading"), id="wo-body", markup=False)

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        """Shown again (the queue keeps this screen for its orders): Textual restyles every
        widget of a screen pushed again, in case the styles changed while it was hidden,
        and a restyled scrollbar paints again in a second frame. They change with the
        theme and with CSS loaded meanwhile (a screen shown for the first time): only then
        is it restyled. Textual's own handler runs after this one."""
        styled = self._styles_now()
        if styled == self._styled:
            event.refresh_styles = False
        self._styled = styled

    def _styles_now(self) -> tuple[int, int]:
        return (self.app._css_update_count, len(self.app.stylesheet.source))

    def on_mount(self) -> None:
        super().on_mount()
        self._styled = self._styles_now()
        self.query_one("#wo-scroll", VerticalScroll).focus()
        given, self._given = self._given, None
        if given is not None and given.order.id == self.work_order_id:
            self._show_detail(given)
        else:
            self.load()
        if self.directory is None:
            self._load_directory()

    def load(self) -> None:
        self._read(self.work_order_id)

    def show_order(self, work_order_id: int, detail: WorkOrderDetail | None = None) -> None:
        """Show another order on this screen, already built (the queue keeps one for its
        orders: pushed again, nothing is mounted or styled again); ``detail`` when the caller
        has just read it."""
        self.work_order_id = work_order_id
        self.detail = None
        self.query_one("#wo-scroll", VerticalScroll).scroll_home(animate=False)
        if detail is not None and detail.order.id == work_order_id:
            self._show_detail(detail)
            return
        self.query_one("#wo-body", Static).update(_("work_order.loading"))
        self.refresh_bindings()
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="work_order")
    def _read(self, work_order_id: int) -> None:
        from desk.services.work_orders import work_order_detail

        detail = work_order_detail(
            self.signed_in.db,
            actor=self.actor,
            work_order_id=work_order_id,
            policy=self.signed_in.backend.policy,
        )
        self.post_message(self.DetailLoaded(detail))

    def on_work_order_screen_detail_loaded(self, event: DetailLoaded) -> None:
        if event.detail.order.id != self.work_order_id:
            return  # read for the order shown before
        self._show_detail(event.detail)

    def _show_detail(self, detail: WorkOrderDetail) -> None:
        self.detail = detail
        body = self.query_one("#wo-body", Static)
        body.update(RenderedOnce(body, render_detail(detail, detail.read_at)))
        self.refresh_bindings()
        if self._then is not None:
            action, self._then = self._then, None
            self._open(action, detail)

    def _open(self, action: Action, detail: WorkOrderDetail) -> None:
        """Open ``action``'s form now, or say why it cannot be taken."""
        if self.order_action_allowed(action.value) is True:
            self.action_order_action(action.value)
            return
        pending = any(c.status == CallbackStatus.PENDING.value for c in detail.callbacks)
        if action is Action.CALLBACK_RESULT and pending:
            # Closed with its mass-fault parent: the call is still made and recorded.
            orders = list(self.current_orders(action))
            self.app.push_screen(
                self._form(action, orders), lambda result: self._action_closed(action, result)
            )
            return
        self.notify(
            _(
                "work_order.cannot_now",
                action=_(ACTION_KEYS[action][1]),
                number=detail.order.number,
            ),
            markup=False,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="wo-directory")
    def _load_directory(self) -> None:
        from desk.services.queue import floor_directory

        self.post_message(
            self.DirectoryLoaded(floor_directory(self.signed_in.db, actor=self.actor))
        )

    def on_work_order_screen_directory_loaded(self, event: DirectoryLoaded) -> None:
        self.directory = event.directory

    def action_back(self) -> None:
        self.dismiss()

    def action_reload(self) -> None:
        self.load()

    # --- actions ---------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "order_action":
            return self.order_action_allowed(str(parameters[0]))
        return True

    def current_orders(self, action: Action) -> Sequence[OrderRef]:  # noqa: ARG002 - one order
        detail = self.detail
        if detail is None:
            return ()
        order = detail.order
        return [
            OrderRef(
                id=order.id,
                number=order.number,
                version=order.version,
                state=OrderState(
                    status=order.status,
                    paused=order.waiting_reason is not None,
                    category=order.category,
                    department_id=order.department_id,
                    escalation_level=order.escalation_level,
                    center_owned=detail.center_owned,
                ),
                children=sum(
                    1 for child in detail.children if child.status is not WorkOrderStatus.CLOSED
                ),
            )
        ]

    def after_action(self, action: Action, result: object) -> None:
        number = getattr(result, "number", "")
        self.notify(_("queue.done", action=_(ACTION_KEYS[action][1]), number=number), markup=False)
        self.load()
