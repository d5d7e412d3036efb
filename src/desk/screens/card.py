"""The customer card: masked personal data, standing, open work orders and last contacts.

Opened from the lookup results (it is pushed on the lookup mode, so Esc returns to the
results with the query and the page as they were). Ctrl+U asks which field to unmask and
calls :func:`desk.services.card.unmask_field`, which audits every attempt; a role
without the permission is told so on the card.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from desk.i18n import N_, vocab_label
from desk.i18n import gettext as _
from desk.rules.permissions import Permission, can
from desk.rules.vocab import (
    BigCustomerClass,
    Channel,
    ContactOutcome,
    CustomerStatus,
    RequestType,
    Tier,
    WorkOrderStatus,
)
from desk.screens.base import SessionScreen, SignedIn
from desk.screens.dialogs import ChoiceDialog
from desk.widgets.drawn import Drawn, Grid, as_written, facts, heading
from desk.widgets.format import local_date, local_time, yuan
from desk.widgets.painted import RenderedOnce

if TYPE_CHECKING:
    from desk.services.card import CustomerCard

FIELD_LABELS: dict[str, str] = {
    "name": N_("card.field.name"),
    "phone": N_("card.field.phone"),
    "id_card": N_("card.field.id_card"),
    "address": N_("card.field.address"),
}
"""The fields ``unmask_field`` can reveal, as named on screen (a test checks all are here)."""

ORDER_COLUMNS = (
    N_("card.wo.number"),
    N_("card.wo.type"),
    N_("card.wo.status"),
    N_("card.wo.created"),
    N_("card.wo.reply_due"),
    N_("card.wo.title"),
)
"""The open orders' columns: the title last, where it takes the rest of the line and wraps."""
CONTACT_COLUMNS = (
    N_("card.contact.at"),
    N_("card.contact.channel"),
    N_("card.contact.type"),
    N_("card.contact.outcome"),
    N_("card.contact.agent"),
)


def render_card(card: CustomerCard) -> Drawn:
    """The card as lines of text (pure: the read model in, text out), drawn by
    :mod:`desk.widgets.drawn`: Rich's tables were the costliest part of painting a card
    when a call starts."""
    title = Text()
    title.append(card.name_masked, style="bold")
    title.append(f"   {card.customer_no}   ")
    title.append(vocab_label(card.tier, Tier), style="bold magenta")
    if card.big_customer_class:
        title.append("  ")
        title.append(vocab_label(card.big_customer_class, BigCustomerClass), style="bold yellow")
    title.append("  ")
    status_style = "green" if card.status == CustomerStatus.ACTIVE.value else "bold red"
    title.append(vocab_label(card.status, CustomerStatus), style=status_style)

    alerts: list[Text] = []
    if card.arrears_cents > 0:
        alerts.append(
            Text(
                _(
                    "card.in_arrears",
                    amount=yuan(card.arrears_cents),
                    since=local_date(card.arrears_since) or "-",
                ),
                style="bold red",
            )
        )
    if card.verification_locked:
        alerts.append(
            Text(
                _("card.verification_locked", at=local_time(card.verification_locked_at)),
                style="bold red",
            )
        )
    if card.repeat_request_types:
        kinds = _("lookup.kind_separator").join(
            vocab_label(kind, RequestType) for kind in card.repeat_request_types
        )
        alerts.append(
            Text(
                _("card.repeat_caller", kinds=kinds, days=card.repeat_window_days),
                style="bold yellow",
            )
        )

    personal = facts(
        [
            (_("card.field.name"), card.name_masked),
            (_("card.field.phone"), "  ".join(card.phones_masked) or "-"),
            (_("card.field.id_card"), card.id_card_masked),
            (_("card.field.address"), card.address_masked or "-"),
            (_("card.birthday"), card.birthday_month_day or "-"),
            (_("card.region"), " · ".join(x for x in (card.region, card.branch_name) if x)),
        ]
    )
    member = (
        _("card.member_since", since=local_date(card.member_since))
        if card.is_member
        else _("card.not_member")
    )
    manager = (
        " ".join(x for x in (card.account_manager_name, card.account_manager_phone) if x) or "-"
    )
    standing = facts(
        [
            (_("card.tier"), vocab_label(card.tier, Tier)),
            (_("card.member"), member),
            (
                _("card.big_customer"),
                card.big_customer_class or "-",  # the class letter; the title names it
            ),
            (_("card.account_manager"), manager),
            (_("card.status"), vocab_label(card.status, CustomerStatus)),
            (
                _("card.arrears"),
                Text(yuan(card.arrears_cents), style="bold red") if card.arrears_cents else yuan(0),
            ),
            (_("card.plan"), card.plan_name or "-"),
            (_("card.account_data"), Text(_("card.account_hidden"), style="dim italic")),
        ]
    )

    orders: Text | Grid
    if card.open_work_orders:
        rows: list[tuple[Text, ...]] = []
        for order in card.open_work_orders:
            due = Text(local_time(order.reply_due) or "-")
            if order.is_overdue:
                due.append(f" {_('card.wo.overdue')}", style="bold red")
            title_text = Text(order.title)
            if order.is_major:
                title_text = Text(f"{_('card.wo.major')} ", style="bold red") + title_text
            rows.append(
                (
                    Text(order.number),
                    Text(vocab_label(order.category, RequestType)),
                    Text(vocab_label(order.status, WorkOrderStatus)),
                    Text(local_time(order.created_at)),
                    due,
                    title_text,
                )
            )
        orders = Grid(rows, header=[Text(_(msgid)) for msgid in ORDER_COLUMNS])
    else:
        orders = Text(_("card.wo.none"), style="dim")

    contacts: Text | Grid
    if card.recent_contacts:
        contacts = Grid(
            [
                tuple(
                    map(
                        as_written,
                        (
                            local_time(contact.offered_at),
                            vocab_label(contact.channel, Channel),
                            vocab_label(contact.request_type, RequestType) or "-",
                            vocab_label(contact.outcome, ContactOutcome) or "-",
                            contact.agent_name or "-",
                        ),
                    )
                )
                for contact in card.recent_contacts
            ],
            header=[Text(_(msgid)) for msgid in CONTACT_COLUMNS],
        )
    else:
        contacts = Text(_("card.contact.none"), style="dim")

    return Drawn(
        [
            title,
            *alerts,
            heading(_("card.personal")),
            personal,
            heading(_("card.standing")),
            standing,
            heading(
                _("card.wo.heading", total=card.open_work_orders_total)
                if len(card.open_work_orders) == card.open_work_orders_total
                else _(
                    "card.wo.heading_some",
                    shown=len(card.open_work_orders),
                    total=card.open_work_orders_total,
                )
            ),
            orders,
            heading(_("card.contact.heading", days30=card.contacts_last_30_days)),
            contacts,
        ]
    )


class CustomerCardScreen(SessionScreen):
    TITLE_MSGID = N_("screen.card")
    # Keys of the card: a later key is one more line here (and its action below).
    BINDINGS = [
        Binding("escape", "back", N_("key.back_to_results"), id="card.back"),
        Binding("f4", "lookup", N_("card_key.lookup"), id="card.lookup"),
        Binding("ctrl+u", "unmask", N_("key.unmask"), id="card.unmask"),
        Binding("ctrl+t", "take_contact", N_("card_key.take_contact"), id="card.take_contact"),
        Binding("ctrl+l", "lift_lock", N_("card_key.lift_lock"), id="card.lift_lock"),
        Binding("ctrl+b", "big_customer", N_("big.key.open"), id="card.big_customer"),
    ]

    class CardLoaded(Message):
        def __init__(self, card: CustomerCard) -> None:
            super().__init__()
            self.card = card

    class Unmasked(Message):
        """The plain value of one field, as the service returned it (and audited)."""

        def __init__(self, field: str, value: str) -> None:
            super().__init__()
            self.field = field
            self.value = value

    class UnmaskRefused(Message):
        def __init__(self, field: str) -> None:
            super().__init__()
            self.field = field

    def __init__(self, signed_in: SignedIn, customer_id: int) -> None:
        super().__init__(signed_in)
        self.customer_id = customer_id
        self.card: CustomerCard | None = None
        self.unmasked: dict[str, str] = {}

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="card"):
            yield Static("", id="card-unmasked", markup=False)  # on top: what was just asked
            yield Static(_("card.loading"), id="card-body")

    def on_mount(self) -> None:
        self.query_one("#card-unmasked", Static).display = False
        self.query_one("#card").focus()
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="card")
    def _load(self) -> None:
        from desk.services.card import customer_card

        card = customer_card(
            self.signed_in.db,
            actor=self.actor,
            customer_id=self.customer_id,
            policy=self.signed_in.backend.policy,
        )
        self.post_message(self.CardLoaded(card))

    def on_customer_card_screen_card_loaded(self, event: CardLoaded) -> None:
        self.card = event.card
        body = self.query_one("#card-body", Static)
        body.update(RenderedOnce(body, render_card(event.card)))
        self.refresh_bindings()

    def check_action(self, action: str, _parameters: tuple[object, ...]) -> bool | None:
        if action == "unmask":
            return True if self.card is not None else None
        if action == "take_contact":
            allowed = can(self.actor, Permission.TAKE_CONTACTS)
            return True if allowed and self.card is not None else None
        if action == "lift_lock":
            allowed = can(self.actor, Permission.LIFT_VERIFICATION_LOCK)
            locked = self.card is not None and self.card.verification_locked
            return True if allowed and locked else None
        if action == "big_customer":  # the big-customer manager only; others do not see it
            if not can(self.actor, Permission.MANAGE_BIG_CUSTOMERS):
                return False
            return True if self.card is not None else None
        return True

    def action_big_customer(self) -> None:
        from desk.screens.customers import BigCustomerDialog

        if self.card is not None:
            self.app.push_screen(BigCustomerDialog(self.card), self._big_customer_chosen)

    def _big_customer_chosen(self, choice: tuple[object, str, str] | None) -> None:
        if choice is not None:
            self._save_big_customer(choice)

    @work(thread=True, exclusive=True, exit_on_error=False, group="big_customer")
    def _save_big_customer(self, choice: tuple[object, str, str]) -> None:
        from desk.services.customer_analysis import set_big_customer

        big_class, manager, phone = choice
        set_big_customer(
            self.signed_in.db,
            actor=self.actor,
            customer_id=self.customer_id,
            big_class=big_class,  # type: ignore[arg-type]
            account_manager_name=manager,
            account_manager_phone=phone,
        )
        self.post_message(self.BigCustomerSaved())

    class BigCustomerSaved(Message):
        """The big-customer file was saved: the card is read again."""

    def on_customer_card_screen_big_customer_saved(self, _event: BigCustomerSaved) -> None:
        self.notify(_("big.saved_note"), markup=False)
        self._load()

    def action_back(self) -> None:
        self.dismiss(None)

    def action_lookup(self) -> None:
        """F4 on the card: back to the lookup field (when the card was opened elsewhere, as
        from the workspace's list of locked customers, lookup opens)."""
        app = self.app
        self.dismiss(None)

        async def focus_query() -> None:
            fields = app.screen.query("#query")
            if not fields:
                await app.run_action("open_screen('lookup')")
                fields = app.screen.query("#query")
            for field in fields:
                field.focus()

        app.call_after_refresh(focus_query)

    async def action_take_contact(self) -> None:
        """Start a contact with this customer in the workspace (F2)."""
        from desk.screens.workspace import WorkspaceScreen

        if self.card is None:
            return
        customer_id = self.card.id
        await self.app.run_action("open_screen('workspace')")
        screen = self.app.screen
        if isinstance(screen, WorkspaceScreen):
            screen.start_for_customer(customer_id)

    def action_lift_lock(self) -> None:
        from desk.screens.workspace_dialogs import ReasonDialog

        if self.card is None or not self.card.verification_locked:
            return
        self.app.push_screen(ReasonDialog(_("ws.lift_title"), _("ws.lift_prompt")), self._lift_with)

    def _lift_with(self, reason: str | None) -> None:
        if reason:
            self._lift(reason)

    @work(thread=True, exclusive=True, exit_on_error=False, group="lift")
    def _lift(self, reason: str) -> None:
        from desk.services.verification import lift_lock

        lift_lock(self.signed_in.db, actor=self.actor, customer_id=self.customer_id, reason=reason)
        self.app.call_from_thread(self.notify, _("ws.lock_lifted"), markup=False)
        self._load()

    def action_unmask(self) -> None:
        card = self.card
        if card is None:
            return
        choices = [
            (field, _(msgid))
            for field, msgid in FIELD_LABELS.items()
            if field != "address" or card.address_masked
        ]
        self.app.push_screen(ChoiceDialog(_("card.unmask_which"), choices), self._chosen)

    def _chosen(self, field: str | None) -> None:
        if field is not None:
            self._unmask(field)

    @work(thread=True, exclusive=True, exit_on_error=False, group="unmask")
    def _unmask(self, field: str) -> None:
        from desk.infra.errors import PermissionDenied
        from desk.services.card import MaskedField, unmask_field

        try:
            value = unmask_field(
                self.signed_in.db,
                actor=self.actor,
                customer_id=self.customer_id,
                field=MaskedField(field),
            )
        except PermissionDenied:
            self.post_message(self.UnmaskRefused(field))
            return
        self.post_message(self.Unmasked(field, value))

    def on_customer_card_screen_unmasked(self, event: Unmasked) -> None:
        self.unmasked[event.field] = event.value
        lines = [_("card.unmasked_heading")]
        for field, value in self.unmasked.items():
            lines.append(f"{_(FIELD_LABELS[field])}: {value}")
        box = self.query_one("#card-unmasked", Static)
        box.update("\n".join(lines))
        box.display = True
        self.query_one("#card", VerticalScroll).scroll_home(animate=False)

    def on_customer_card_screen_unmask_refused(self, event: UnmaskRefused) -> None:
        message = _("card.unmask_denied", field=_(FIELD_LABELS[event.field]))
        box = self.query_one("#card-unmasked", Static)
        box.update(message)
        box.display = True
        self.query_one("#card", VerticalScroll).scroll_home(animate=False)
        self.notify(message, severity="error", markup=False)
