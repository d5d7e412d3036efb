"""The workspace's dialogs: an incoming call, verifying the caller, account and bills, service
requests, a new work order, and a reason to type.

Each is a modal over the workspace, closed with Esc; forms submit with Ctrl+S (a single-field
form also with Enter). Dialogs call services only from workers and report back by message;
what the service refuses is shown inside the dialog, with what the agent typed kept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Checkbox, DataTable, Input, Label, OptionList, Select, Static, TextArea
from textual.widgets.option_list import Option

from desk.i18n import N_, vocab_label
from desk.i18n import gettext as _
from desk.rules.vocab import (
    Channel,
    Priority,
    RequestType,
    VerificationMethod,
    VerifyReason,
)
from desk.screens.base import DeskModal, SignedIn
from desk.widgets.account import item_cells, render_bills, render_overview, render_payments
from desk.widgets.format import local_date, local_time, yuan
from desk.widgets.select import TypeAheadSelect
from desk.widgets.tickbox import Tickbox

if TYPE_CHECKING:
    from desk.rules.verification import GateDecision
    from desk.services.bills import AccountOverview, BillInquiry, ItemPage, PaymentLine
    from desk.services.contacts import RingView
    from desk.services.routing import RoutingChoice
    from desk.services.service_requests import ServiceRequestResult
    from desk.services.verification import AttemptResult, LockedPage, VerificationState
    from desk.services.work_orders import WorkOrderView

PRIORITY_LABELS: dict[str, str] = {
    "normal": N_("ws.priority.normal"),
    "urgent": N_("ws.priority.urgent"),
}
METHOD_LABELS: dict[str, str] = {
    "service_password": N_("ws.method.service_password"),
    "personal_data": N_("ws.method.personal_data"),
    "none": N_("ws.method.none"),
}
REQUEST_KIND_LABELS: dict[str, str] = {
    "plan_change": N_("ws.sr.plan_change"),
    "add_on": N_("ws.sr.add_on"),
    "suspend": N_("ws.sr.suspend"),
    "resume": N_("ws.sr.resume"),
    "password_reset": N_("ws.sr.password_reset"),
    "personal_data_change": N_("ws.sr.address"),
}
URGENT_BECAUSE_LABELS: dict[str, str] = {
    "channel": N_("ws.urgent_because.channel"),
    "tier": N_("ws.urgent_because.tier"),
    "big_customer": N_("ws.urgent_because.big_customer"),
    "topic": N_("ws.urgent_because.topic"),
}
VERIFY_REASON_LABELS: dict[str, str] = {
    "not_verified": N_("ws.verify_reason.not_verified"),
    "expired": N_("ws.verify_reason.expired"),
    "holder_must_verify": N_("ws.verify_reason.holder_must_verify"),
}


def gate_text(decision: GateDecision) -> str:
    """Why the gate did not allow a request, as the agent reads it out."""
    if decision.refusal is not None:
        if decision.refusal.value == "arrears":
            return _(
                "ws.refused_arrears",
                amount=yuan(decision.amount_owed_cents),
                since=local_date(decision.owed_since) or "-",
            )
        return _("ws.refused_locked")
    reason = decision.verify_reason or VerifyReason.NOT_VERIFIED
    return _(
        "ws.verify_first",
        why=_(VERIFY_REASON_LABELS[reason.value]),
        left=decision.failures_left if decision.failures_left is not None else "-",
    )


def read_out(number: str) -> str:
    """A work-order number as it is read to a caller: letters and digits one by one, in
    groups (``WO20261102000042`` → ``W O · 2026 · 11 02 · 000 042``)."""
    letters = "".join(ch for ch in number if ch.isalpha())
    digits = "".join(ch for ch in number if ch.isdigit())
    groups = [" ".join(letters)] if letters else []
    if len(digits) == 14:  # yyyymmdd + six-digit sequence
        groups += [digits[:4], f"{digits[4:6]} {digits[6:8]}", f"{digits[8:11]} {digits[11:]}"]
    else:
        groups += [" ".join(digits[i : i + 3] for i in range(0, len(digits), 3))]
    return " · ".join(group for group in groups if group)


# --- an incoming call -----------------------------------------------------------------------


class RingDialog(DeskModal[str | None]):
    """An incoming call: Enter takes it, Esc declines (stored as abandoned)."""

    BINDINGS = [
        Binding("enter", "answer", N_("ws_key.answer"), id="ring.answer", priority=True),
        Binding("escape", "decline", N_("ws_key.decline"), id="ring.decline"),
    ]

    def __init__(self, ring: RingView, who: str) -> None:
        super().__init__()
        self.ring = ring
        self.who = who

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog ring"):
            yield Label(_("ws.ring_title"), id="dialog-title")
            yield Static(
                _(
                    "ws.ring_body",
                    number=self.ring.caller_masked,
                    channel=vocab_label(self.ring.channel, Channel),
                    who=self.who,
                    until=local_time(self.ring.expires_at, "%H:%M:%S"),
                ),
                id="ring-body",
                markup=False,
            )
            yield Label(_("ws.ring_hint"), id="dialog-hint")

    def action_answer(self) -> None:
        self.dismiss("answer")

    def action_decline(self) -> None:
        self.dismiss("decline")


# --- a reason -------------------------------------------------------------------------------


class ReasonDialog(DeskModal[str | None]):
    """One line of text (a reason); Enter gives it, Esc gives none."""

    BINDINGS = [Binding("escape", "close", N_("key.cancel"), id="dialog.cancel")]

    def __init__(self, title: str, prompt: str) -> None:
        super().__init__()
        self.reason_title = title
        self.prompt = prompt

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog reason"):
            yield Label(self.reason_title, id="dialog-title")
            yield Static(self.prompt, markup=False)
            yield Input(id="reason", max_length=500, compact=True)

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    @on(Input.Submitted, "#reason")
    def _given(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_close(self) -> None:
        self.dismiss(None)


# --- verification ---------------------------------------------------------------------------


class VerifyDialog(DeskModal[bool]):
    """The service password (masked) or the personal-data check, with the attempts left.

    Enter in the password field checks it; Ctrl+S checks the personal data. The expected
    answers are never shown. A lead may lift a lock from here (Ctrl+L, with a reason).
    """

    BINDINGS = [
        Binding("escape", "close", N_("key.close"), id="verify.close"),
        Binding("ctrl+s", "check_data", N_("ws_key.check_data"), id="verify.check_data"),
        Binding("ctrl+l", "lift", N_("ws_key.lift_lock"), id="verify.lift"),
    ]

    class Checked(Message):
        def __init__(self, result: AttemptResult) -> None:
            super().__init__()
            self.result = result

    class Lifted(Message):
        pass

    def __init__(self, signed_in: SignedIn, contact_id: int, state: VerificationState) -> None:
        super().__init__()
        self.signed_in = signed_in
        self.contact_id = contact_id
        self.state = state
        self.passed = False

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog form"):
            yield Label(_("ws.verify_title"), id="dialog-title")
            yield Static("", id="verify-state", markup=False)
            yield Label(_("ws.verify_password"), classes="field-label")
            yield Input(id="password", password=True, max_length=12, compact=True)
            yield Label(
                _("ws.verify_data", needed=self.state.required_matches), classes="field-label"
            )
            yield Input(placeholder=_("ws.field.name"), id="pd-name", compact=True, max_length=64)
            yield Input(placeholder=_("ws.field.id_last6"), id="pd-id", compact=True, max_length=6)
            yield Input(
                placeholder=_("ws.field.last_payment"), id="pd-payment", compact=True, max_length=12
            )
            yield Static("", id="verify-message", markup=False)
            yield Label(_("ws.verify_hint"), id="dialog-hint")

    def on_mount(self) -> None:
        self._show(self.state, None)
        self.query_one("#password", Input).focus()

    def _show(self, state: VerificationState, message: str | None) -> None:
        self.state = state
        if state.locked:
            line = Text(_("ws.state.locked"), style="bold red")
        elif state.verified:
            line = Text(
                _(
                    "ws.state.verified",
                    method=_(METHOD_LABELS[state.method.value if state.method else "none"]),
                    until=local_time(state.valid_until, "%H:%M"),
                ),
                style="bold green",
            )
        else:
            line = Text(_("ws.state.unverified", left=state.failures_left), style="bold yellow")
        if state.on_behalf:
            line.append("  " + _("ws.state.on_behalf"), style="italic")
        if not state.has_service_password:
            line.append("  " + _("ws.state.no_password"), style="dim")
        self.query_one("#verify-state", Static).update(line)
        self.query_one("#verify-message", Static).update(message or "")
        self.refresh_bindings()

    def check_action(self, action: str, _parameters: tuple[object, ...]) -> bool | None:
        if action == "lift":
            from desk.rules.permissions import Permission, can

            allowed = can(self.signed_in.actor, Permission.LIFT_VERIFICATION_LOCK)
            return True if allowed and self.state.locked else None
        return True

    @on(Input.Submitted, "#password")
    def _password(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value:
            self._check(password=event.value)

    @on(Input.Submitted, "#pd-name, #pd-id, #pd-payment")
    def _data_enter(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_check_data()

    def action_check_data(self) -> None:
        answers = {
            "name": self.query_one("#pd-name", Input).value.strip() or None,
            "id_last6": self.query_one("#pd-id", Input).value.strip() or None,
            "last_payment_amount": self.query_one("#pd-payment", Input).value.strip() or None,
        }
        self._check(answers=answers)

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="verify",
        description="check the caller's answers",
    )
    def _check(
        self, *, password: str | None = None, answers: dict[str, str | None] | None = None
    ) -> None:
        from desk.infra.errors import InvalidInput
        from desk.rules.verification import PersonalDataAnswers
        from desk.services.verification import check_personal_data, check_service_password

        db, actor, policy = self.signed_in.db, self.signed_in.actor, self.signed_in.backend.policy
        try:
            if password is not None:
                result = check_service_password(
                    db, actor=actor, contact_id=self.contact_id, password=password, policy=policy
                )
            else:
                assert answers is not None
                result = check_personal_data(
                    db,
                    actor=actor,
                    contact_id=self.contact_id,
                    answers=PersonalDataAnswers(**answers),
                    policy=policy,
                )
        except InvalidInput as error:
            self.app.call_from_thread(self._show, self.state, error.message)
            return
        self.post_message(self.Checked(result))

    @on(Checked)
    def _checked(self, event: Checked) -> None:
        result = event.result
        for selector in ("#password", "#pd-name", "#pd-id", "#pd-payment"):
            self.query_one(selector, Input).value = ""  # never kept on screen
        if result.passed:
            self.passed = True
            message = _("ws.verify_passed")
        elif result.refused_locked:
            message = _("ws.verify_refused_locked")
        elif result.locked_now:
            message = _("ws.verify_locked_now")
        else:
            message = _("ws.verify_failed", left=result.state.failures_left)
        self._show(result.state, message)
        if result.passed and result.state.verified:
            self.dismiss(True)

    def action_lift(self) -> None:
        self.app.push_screen(ReasonDialog(_("ws.lift_title"), _("ws.lift_prompt")), self._lift_with)

    def _lift_with(self, reason: str | None) -> None:
        if reason:
            self._lift(reason)

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="verify",
        description="lift the verification lock",
    )
    def _lift(self, reason: str) -> None:
        from desk.services.verification import lift_lock, verification_state

        db, actor = self.signed_in.db, self.signed_in.actor
        lift_lock(db, actor=actor, customer_id=self.state.customer_id, reason=reason)
        state = verification_state(
            db, actor=actor, contact_id=self.contact_id, policy=self.signed_in.backend.policy
        )
        self.app.call_from_thread(self._show, state, _("ws.lock_lifted"))

    def action_close(self) -> None:
        self.dismiss(self.passed)


# --- account and bills ----------------------------------------------------------------------


class AccountDialog(DeskModal[tuple[int, ...] | None]):
    """Balance, plans, the current and last 12 months' bills, payments; Enter on a bill shows
    its itemized records (PgDn for the next page), Space marks a record as disputed, Ctrl+N
    opens a billing complaint with the marked records (returned to the workspace)."""

    BINDINGS = [
        Binding("escape", "close", N_("key.close"), id="account.close"),
        Binding("pagedown", "next_items", N_("key.next_page"), id="account.next_items"),
        Binding("space", "mark", N_("ws_key.mark_disputed"), id="account.mark"),
        Binding("ctrl+n", "dispute", N_("ws_key.dispute"), id="account.dispute", priority=True),
    ]

    class Loaded(Message):
        def __init__(
            self,
            overview: AccountOverview,
            inquiry: BillInquiry,
            paid: tuple[PaymentLine, ...],
        ) -> None:
            super().__init__()
            self.overview = overview
            self.inquiry = inquiry
            self.paid = paid

    class Refused(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class ItemsLoaded(Message):
        def __init__(self, page: ItemPage) -> None:
            super().__init__()
            self.page = page

    def __init__(self, signed_in: SignedIn, contact_id: int) -> None:
        super().__init__()
        self.signed_in = signed_in
        self.contact_id = contact_id
        self.inquiry: BillInquiry | None = None
        self.page: ItemPage | None = None
        self.marked: dict[int, None] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog wide"):
            yield Label(_("ws.account_title"), id="dialog-title")
            with VerticalScroll(id="account-scroll"):
                yield Static(_("ws.loading"), id="account-summary")
                yield Label(_("ws.bills_pick"), classes="field-label")
                yield DataTable(id="bills", cursor_type="row")
                yield Static("", id="items-title", markup=False)
                yield DataTable(id="items", cursor_type="row")
            yield Label(_("ws.account_hint"), id="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#items", DataTable).display = False
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="account")
    def _load(self) -> None:
        from desk.services.bills import account_overview, bill_inquiry, payments
        from desk.services.verification import GateRefused

        db, actor, policy = self.signed_in.db, self.signed_in.actor, self.signed_in.backend.policy
        try:
            overview = account_overview(db, actor=actor, contact_id=self.contact_id, policy=policy)
            inquiry = bill_inquiry(db, actor=actor, contact_id=self.contact_id, policy=policy)
            paid = payments(db, actor=actor, contact_id=self.contact_id, policy=policy)
        except GateRefused as refused:
            self.post_message(self.Refused(gate_text(refused.decision)))
            return
        self.post_message(self.Loaded(overview, inquiry, paid))

    @on(Refused)
    def _refused(self, event: Refused) -> None:
        self.query_one("#account-summary", Static).update(Text(event.text, style="bold yellow"))
        self.query_one("#bills", DataTable).display = False

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        from rich.console import Group

        self.inquiry = event.inquiry
        self.query_one("#account-summary", Static).update(
            Group(
                render_overview(event.overview),
                render_bills(event.inquiry),
                render_payments(event.paid),
            )
        )
        table = self.query_one("#bills", DataTable)
        table.clear(columns=True)
        for msgid in (
            N_("account.col.period"),
            N_("account.col.account"),
            N_("account.col.amount"),
        ):
            table.add_column(_(msgid))
        for line in (*event.inquiry.current, *(event.inquiry.history or ())):
            table.add_row(line.period, line.account_no, yuan(line.amount_cents), key=str(line.id))
        table.focus()

    @on(DataTable.RowSelected, "#bills")
    def _bill_chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self._items(int(event.row_key.value), None)

    @work(thread=True, exclusive=True, exit_on_error=False, group="items")
    def _items(self, bill_id: int, after: str | None) -> None:
        from desk.services.bills import bill_items
        from desk.services.verification import GateRefused

        try:
            page = bill_items(
                self.signed_in.db,
                actor=self.signed_in.actor,
                contact_id=self.contact_id,
                bill_id=bill_id,
                policy=self.signed_in.backend.policy,
                after=after,
            )
        except GateRefused as refused:
            self.post_message(self.Refused(gate_text(refused.decision)))
            return
        self.post_message(self.ItemsLoaded(page))

    @on(ItemsLoaded)
    def _items_loaded(self, event: ItemsLoaded) -> None:
        self.page = event.page
        self._show_items()
        items = self.query_one("#items", DataTable)
        items.display = True
        items.focus()

    def _show_items(self) -> None:
        page = self.page
        if page is None:
            return
        self.query_one("#items-title", Static).update(
            _(
                "ws.items_title",
                period=page.bill.period,
                page=page.number,
                marked=len(self.marked),
            )
        )
        items = self.query_one("#items", DataTable)
        row = items.cursor_row
        items.clear(columns=True)
        for msgid in (
            N_("ws.items.mark"),
            N_("ws.items.at"),
            N_("ws.items.kind"),
            N_("ws.items.other"),
            N_("ws.items.quantity"),
            N_("ws.items.amount"),
            N_("ws.items.description"),
        ):
            items.add_column(_(msgid))
        for item, cells in zip(page.items, item_cells(page, self.marked), strict=True):
            items.add_row(*cells, key=str(item.id))
        if page.items:
            items.move_cursor(row=min(row, len(page.items) - 1))

    def check_action(self, action: str, _parameters: tuple[object, ...]) -> bool | None:
        if action == "next_items":
            return bool(self.page and self.page.next_cursor) or None
        if action == "mark":
            return self.page is not None and self.query_one("#items", DataTable).has_focus
        if action == "dispute":
            return bool(self.marked) or None
        return True

    def action_next_items(self) -> None:
        if self.page is not None and self.page.next_cursor is not None:
            self._items(self.page.bill.id, self.page.next_cursor)

    def action_mark(self) -> None:
        items = self.query_one("#items", DataTable)
        if self.page is None or not items.row_count:
            return
        row_key, _column = items.coordinate_to_cell_key(items.cursor_coordinate)
        if row_key.value is None:
            return
        item_id = int(row_key.value)
        if item_id in self.marked:
            del self.marked[item_id]
        else:
            self.marked[item_id] = None
        self._show_items()
        self.refresh_bindings()

    def action_dispute(self) -> None:
        if self.marked:
            self.dismiss(tuple(self.marked))

    def action_close(self) -> None:
        self.dismiss(None)


# --- service requests -----------------------------------------------------------------------


class ServiceRequestDialog(DeskModal[str | None]):
    """Choose a service request, fill in what it needs, Ctrl+S submits. A refusal (not
    verified, locked, in arrears) is shown here with its reason; the dialog returns the line
    to add to the contact's notes when the request was done."""

    BINDINGS = [
        Binding("escape", "close", N_("key.close"), id="sr.close"),
        Binding("ctrl+s", "submit", N_("ws_key.submit"), id="sr.submit", priority=True),
        Binding("ctrl+r", "reload", N_("ws_key.reload_customer"), id="sr.reload", priority=True),
    ]

    class Done(Message):
        def __init__(self, result: ServiceRequestResult) -> None:
            super().__init__()
            self.result = result

    class Failed(Message):
        def __init__(self, text: str, stale: bool = False) -> None:
            super().__init__()
            self.text = text
            self.stale = stale

    def __init__(
        self,
        signed_in: SignedIn,
        contact_id: int,
        overview: AccountOverview | None,
        customer_version: int,
    ) -> None:
        super().__init__()
        self.signed_in = signed_in
        self.contact_id = contact_id
        self.overview = overview
        self.customer_version = customer_version
        self.kind: str | None = None
        self.notes: list[str] = []

    def compose(self) -> ComposeResult:
        policy = self.signed_in.backend.policy
        accounts = [
            (f"{line.account_no} {line.plan_name}", str(line.id))
            for line in (self.overview.accounts if self.overview else ())
        ]
        with Vertical(id="dialog", classes="dialog form"):
            yield Label(_("ws.sr_title"), id="dialog-title")
            yield OptionList(
                *(Option(_(msgid), id=kind) for kind, msgid in REQUEST_KIND_LABELS.items()),
                id="sr-kinds",
            )
            yield TypeAheadSelect(
                accounts, prompt=_("ws.field.account"), id="sr-account", compact=True
            )
            yield TypeAheadSelect(
                [(f"{p.name} {yuan(p.monthly_fee_cents)}", p.code) for p in policy.offers.plans],
                prompt=_("ws.field.plan"),
                id="sr-plan",
                compact=True,
            )
            yield TypeAheadSelect(
                [(f"{a.name} {yuan(a.monthly_fee_cents)}", a.code) for a in policy.offers.add_ons],
                prompt=_("ws.field.add_on"),
                id="sr-add-on",
                compact=True,
            )
            yield Input(
                placeholder=_("ws.field.new_password"),
                id="sr-password",
                password=True,
                compact=True,
                max_length=12,
            )
            yield Input(
                placeholder=_("ws.field.confirm_password"),
                id="sr-confirm",
                password=True,
                compact=True,
                max_length=12,
            )
            yield Input(
                placeholder=_("ws.field.address"), id="sr-address", compact=True, max_length=200
            )
            yield Static("", id="sr-message", markup=False)
            yield Label(_("ws.sr_hint"), id="dialog-hint")

    def on_mount(self) -> None:
        self._fields_for(None)
        kinds = self.query_one("#sr-kinds", OptionList)
        kinds.highlighted = 0
        kinds.focus()
        if self.overview and len(self.overview.accounts) == 1:
            self.query_one("#sr-account", Select).value = str(self.overview.accounts[0].id)

    def _fields_for(self, kind: str | None) -> None:
        wanted: dict[str, tuple[str, ...]] = {
            "plan_change": ("#sr-account", "#sr-plan"),
            "add_on": ("#sr-account", "#sr-add-on"),
            "suspend": ("#sr-account",),
            "resume": ("#sr-account",),
        }
        if self.overview is None or len(self.overview.accounts) < 2:
            wanted = {
                key: tuple(field for field in fields if field != "#sr-account")
                for key, fields in wanted.items()
            }
        wanted |= {
            "password_reset": ("#sr-password", "#sr-confirm"),
            "personal_data_change": ("#sr-address",),
        }
        shown = wanted.get(kind or "", ())
        for selector in (
            "#sr-account",
            "#sr-plan",
            "#sr-add-on",
            "#sr-password",
            "#sr-confirm",
            "#sr-address",
        ):
            self.query_one(selector).display = selector in shown
        if shown:
            self.query_one(shown[0]).focus()

    @on(OptionList.OptionSelected, "#sr-kinds")
    def _kind(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.kind = event.option.id
        self.query_one("#sr-message", Static).update("")
        self._fields_for(self.kind)

    @on(Input.Submitted)
    def _enter(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def action_submit(self) -> None:
        if self.kind is None:
            self.query_one("#sr-message", Static).update(_("ws.sr_pick"))
            return
        values: dict[str, Any] = {
            "account": self.query_one("#sr-account", Select).value,
            "plan": self.query_one("#sr-plan", Select).value,
            "add_on": self.query_one("#sr-add-on", Select).value,
            "password": self.query_one("#sr-password", Input).value,
            "confirm": self.query_one("#sr-confirm", Input).value,
            "address": self.query_one("#sr-address", Input).value,
        }
        self._submit(self.kind, values, self.customer_version)

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="sr",
        description="submit the service request",
    )
    def _submit(self, kind: str, values: dict[str, Any], version: int) -> None:
        from desk.infra.errors import InvalidInput, NotFound, StaleRecord
        from desk.services import service_requests as sr

        db, actor, policy = self.signed_in.db, self.signed_in.actor, self.signed_in.backend.policy
        common: dict[str, Any] = {"actor": actor, "contact_id": self.contact_id, "policy": policy}
        account = values["account"]
        # no account listed (the caller is not verified yet): the main one; the gate refuses
        account_id = int(account) if isinstance(account, str) else None
        try:
            if kind == "plan_change":
                plan = values["plan"] if isinstance(values["plan"], str) else ""
                result = sr.change_plan(db, account_id=account_id, plan_code=plan, **common)
            elif kind == "add_on":
                code = values["add_on"] if isinstance(values["add_on"], str) else ""
                result = sr.add_add_on(db, account_id=account_id, code=code, **common)
            elif kind == "suspend":
                result = sr.suspend_account(db, account_id=account_id, **common)
            elif kind == "resume":
                result = sr.resume_account(db, account_id=account_id, **common)
            elif kind == "password_reset":
                result = sr.reset_service_password(
                    db, new_password=values["password"], confirm=values["confirm"], **common
                )
            else:
                from pydantic import ValidationError

                try:
                    change = sr.AddressChange(address=values["address"])
                except ValidationError as error:
                    raise InvalidInput(str(error.errors()[0]["msg"]), field="address") from error
                result = sr.change_address(db, version=version, change=change, **common)
        except StaleRecord as error:
            self.post_message(self.Failed(error.message, stale=True))
            return
        except (InvalidInput, NotFound) as error:
            self.post_message(self.Failed(error.message))
            return
        self.post_message(self.Done(result))

    @on(Failed)
    def _failed(self, event: Failed) -> None:
        text = Text(event.text, style="bold red")
        if event.stale:
            text.append("\n" + _("ws.stale_hint"), style="italic")
        self.query_one("#sr-message", Static).update(text)

    @on(Done)
    def _done(self, event: Done) -> None:
        result = event.result
        self.query_one("#sr-password", Input).value = ""
        self.query_one("#sr-confirm", Input).value = ""
        label = _(REQUEST_KIND_LABELS[result.kind.value])
        if result.done:
            line = _("ws.sr_done", kind=label, what=result.summary or "✓")
            self.notes.append(line)
            self.query_one("#sr-message", Static).update(Text(line, style="bold green"))
            if result.kind.value == "personal_data_change":
                self.customer_version += 1
        else:
            line = _("ws.sr_refused", kind=label, why=gate_text(result.decision))
            self.query_one("#sr-message", Static).update(Text(line, style="bold red"))
            self.notes.append(line)

    def action_reload(self) -> None:
        self._reload()

    @work(thread=True, exclusive=True, exit_on_error=False, group="sr")
    def _reload(self) -> None:
        from desk.services.card import customer_card

        card = customer_card(
            self.signed_in.db,
            actor=self.signed_in.actor,
            customer_id=self._customer_id(),
            policy=self.signed_in.backend.policy,
            contact_id=self.contact_id,
        )
        self.app.call_from_thread(self._reloaded, card.version, card.address_masked)

    def _customer_id(self) -> int:
        assert self.overview is not None
        return self.overview.customer_id

    def _reloaded(self, version: int, address_masked: str | None) -> None:
        self.customer_version = version
        self.query_one("#sr-message", Static).update(
            _("ws.reloaded", address=address_masked or "-")
        )

    def check_action(self, action: str, _parameters: tuple[object, ...]) -> bool | None:
        if action == "reload":
            return self.overview is not None
        return True

    def action_close(self) -> None:
        self.dismiss("\n".join(self.notes) or None)


# --- a new work order -----------------------------------------------------------------------


class WorkOrderForm(DeskModal["WorkOrderView | None"]):
    """A work order for the caller, only with their consent (a required yes). Category and
    topic come from the contact; priority and department are proposed by the routing rule
    and may be changed; the callback number defaults to the caller's. Ctrl+S creates it."""

    BINDINGS = [
        Binding("escape", "close", N_("key.cancel"), id="wo_form.cancel"),
        Binding(
            "ctrl+s", "submit", N_("ws_key.create_work_order"), id="wo_form.submit", priority=True
        ),
    ]

    class Proposed(Message):
        def __init__(self, choice: RoutingChoice) -> None:
            super().__init__()
            self.choice = choice

    class Created(Message):
        def __init__(self, view: WorkOrderView) -> None:
            super().__init__()
            self.view = view

    class Failed(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(
        self,
        signed_in: SignedIn,
        *,
        contact_id: int,
        customer_id: int | None,
        channel: Channel,
        category: RequestType | None,
        topic: str | None,
        description: str,
        disputed: tuple[int, ...] = (),
    ) -> None:
        super().__init__()
        self.signed_in = signed_in
        self.contact_id = contact_id
        self.customer_id = customer_id
        self.channel = channel
        self.category = category or RequestType.COMPLAINT
        self.topic = topic or ""
        self.description = description
        self.disputed = disputed
        self.choice: RoutingChoice | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog form"):
            yield Label(_("ws.wo_title"), id="dialog-title")
            if self.disputed:
                yield Static(_("ws.wo_disputed", count=len(self.disputed)), markup=False)
            yield Tickbox(_("ws.wo_consent"), id="wo-consent", compact=True)
            with Horizontal(classes="row"):
                yield TypeAheadSelect(
                    [(vocab_label(kind), kind.value) for kind in RequestType],
                    value=self.category.value,
                    allow_blank=False,
                    id="wo-category",
                    compact=True,
                )
                yield Input(
                    value=self.topic,
                    placeholder=_("ws.field.topic"),
                    id="wo-topic",
                    compact=True,
                    max_length=64,
                )
            with Horizontal(classes="row"):
                yield TypeAheadSelect(
                    [(_(PRIORITY_LABELS[p.value]), p.value) for p in Priority],
                    value=Priority.NORMAL.value,
                    allow_blank=False,
                    id="wo-priority",
                    compact=True,
                )
                yield TypeAheadSelect(
                    [], prompt=_("ws.field.department"), id="wo-department", compact=True
                )
            yield Static("", id="wo-proposal", markup=False)
            yield Input(
                placeholder=_("ws.field.title"), id="wo-title", compact=True, max_length=120
            )
            yield TextArea(
                self.description,
                id="wo-description",
                compact=True,
                placeholder=_("ws.field.description"),
            )
            yield Input(
                placeholder=_("ws.field.callback"), id="wo-callback", compact=True, max_length=20
            )
            yield Static("", id="wo-message", markup=False)
            yield Label(_("ws.wo_hint"), id="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#wo-consent", Checkbox).focus()
        self._propose()

    @on(Select.Changed, "#wo-category")
    def _category(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self.category = RequestType(event.value)
            self._propose()

    @on(Input.Blurred, "#wo-topic")
    def _topic(self, event: Input.Blurred) -> None:
        if event.value != self.topic:
            self.topic = event.value
            self._propose()

    @work(thread=True, exclusive=True, exit_on_error=False, group="route")
    def _propose(self) -> None:
        from desk.services.routing import propose_routing

        choice = propose_routing(
            self.signed_in.db,
            actor=self.signed_in.actor,
            category=self.category,
            policy=self.signed_in.backend.policy,
            topic=self.topic or None,
            channel=self.channel,
            customer_id=self.customer_id,
        )
        self.post_message(self.Proposed(choice))

    @on(Proposed)
    def _proposed(self, event: Proposed) -> None:
        choice = event.choice
        self.choice = choice
        departments = self.query_one("#wo-department", Select)
        departments.set_options([(f"{d.name} ({d.code})", str(d.id)) for d in choice.departments])
        if choice.department_id is not None:
            departments.value = str(choice.department_id)
        self.query_one("#wo-priority", Select).value = choice.priority.value
        because = ", ".join(_(URGENT_BECAUSE_LABELS[key]) for key in choice.urgent_because)
        text = _(
            "ws.wo_proposal",
            priority=_(PRIORITY_LABELS[choice.priority.value]),
            department=next(
                (d.name for d in choice.departments if d.id == choice.department_id), "-"
            ),
        )
        if because:
            text += " — " + because
        if choice.to_shift_leads:
            text += " — " + _("ws.wo_to_leads")
        self.query_one("#wo-proposal", Static).update(text)

    def action_submit(self) -> None:
        if not self.query_one("#wo-consent", Checkbox).value:
            # the service refuses too; said here first, before anything else is checked
            self.post_message(self.Failed(_("ws.wo_no_consent")))
            return
        department = self.query_one("#wo-department", Select).value
        priority = self.query_one("#wo-priority", Select).value
        topic = self.query_one("#wo-topic", Input).value.strip()
        title = self.query_one("#wo-title", Input).value.strip()
        description = self.query_one("#wo-description", TextArea).text.strip()
        category = vocab_label(self.category)
        self._create(
            {
                "consent": self.query_one("#wo-consent", Checkbox).value,
                "category": self.category,
                "topic": topic or None,
                "title": title or f"{category}: {topic or description[:40]}",
                "description": description,
                "priority": Priority(priority) if isinstance(priority, str) else Priority.NORMAL,
                "department_id": int(department) if isinstance(department, str) else None,
                "callback_number": self.query_one("#wo-callback", Input).value.strip() or None,
            }
        )

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="create",
        description="create the work order",
    )
    def _create(self, form: dict[str, Any]) -> None:
        from desk.infra.errors import InvalidInput, NotFound
        from desk.services.contacts import NewWorkOrder, open_work_order

        try:
            view = open_work_order(
                self.signed_in.db,
                actor=self.signed_in.actor,
                contact_id=self.contact_id,
                form=NewWorkOrder(**form, disputed_bill_item_ids=self.disputed),
                policy=self.signed_in.backend.policy,
            )
        except (InvalidInput, NotFound) as error:
            field = getattr(error, "field", None)
            text = _("ws.wo_no_consent") if field == "consent" else error.message
            self.post_message(self.Failed(text))
            return
        self.post_message(self.Created(view))

    @on(Failed)
    def _failed(self, event: Failed) -> None:
        self.query_one("#wo-message", Static).update(Text(event.text, style="bold red"))

    @on(Created)
    def _created(self, event: Created) -> None:
        self.dismiss(event.view)

    def action_close(self) -> None:
        self.dismiss(None)


def method_label(method: VerificationMethod | None) -> str:
    return _(METHOD_LABELS[method.value if method else "none"])


# --- the locked customers (leads) -----------------------------------------------------------


class LockedCustomersDialog(DeskModal[int | None]):
    """The customers whose verification is locked, the newest lock first (for the leads):
    Enter opens the card, where Ctrl+L lifts the lock with a reason; PgDn/PgUp page."""

    BINDINGS = [
        Binding("escape", "close", N_("key.close"), id="locked.close"),
        Binding("pagedown", "next_page", N_("key.next_page"), id="locked.next_page"),
        Binding("pageup", "first_page", N_("ws_key.first_page"), id="locked.first_page"),
    ]

    class Loaded(Message):
        def __init__(self, page: LockedPage) -> None:
            super().__init__()
            self.page = page

    def __init__(self, signed_in: SignedIn) -> None:
        super().__init__()
        self.signed_in = signed_in
        self.page: LockedPage | None = None
        self.cursors: list[str | None] = [None]  # the cursor of each page read so far

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog wide"):
            yield Label(_("ws.locked_title"), id="dialog-title")
            yield Static(_("ws.loading"), id="locked-note", markup=False)
            yield DataTable(id="locked", cursor_type="row", zebra_stripes=True)
            yield Label(_("ws.locked_hint"), id="dialog-hint")

    def on_mount(self) -> None:
        table = self.query_one("#locked", DataTable)
        for key, msgid in (
            ("customer_no", N_("ws.locked_col.customer_no")),
            ("name", N_("ws.locked_col.name")),
            ("phone", N_("ws.locked_col.phone")),
            ("locked_at", N_("ws.locked_col.locked_at")),
            ("failures", N_("ws.locked_col.failures")),
        ):
            table.add_column(_(msgid), key=key)
        table.focus()
        self._load(None)

    @work(thread=True, exclusive=True, exit_on_error=False, group="locked")
    def _load(self, after: str | None) -> None:
        from desk.services.verification import locked_customers

        page = locked_customers(
            self.signed_in.db,
            actor=self.signed_in.actor,
            policy=self.signed_in.backend.policy,
            after=after,
        )
        self.post_message(self.Loaded(page))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        self.page = event.page
        table = self.query_one("#locked", DataTable)
        table.clear()
        for row in event.page.rows:
            table.add_row(
                row.customer_no,
                row.name_masked,
                row.phone_masked or "-",
                local_time(row.locked_at, "%Y-%m-%d %H:%M"),
                str(row.failures),
                key=str(row.customer_id),
            )
        note = (
            _("ws.locked_none")
            if not event.page.rows and len(self.cursors) == 1
            else _("ws.locked_page", page=len(self.cursors), count=len(event.page.rows))
        )
        self.query_one("#locked-note", Static).update(note)

    @on(DataTable.RowSelected, "#locked")
    def _chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.dismiss(int(event.row_key.value))

    def action_next_page(self) -> None:
        if self.page is not None and self.page.after is not None:
            self.cursors.append(self.page.after)
            self._load(self.page.after)

    def action_first_page(self) -> None:
        if len(self.cursors) > 1:
            self.cursors = [None]
            self._load(None)

    def action_close(self) -> None:
        self.dismiss(None)
