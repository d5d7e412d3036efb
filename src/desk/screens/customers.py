"""The customer analysis for the managers (opened from the dashboard with ``c``), and the
big-customer file dialog the customer card opens with ``Ctrl+B``.

The analysis shows tier statistics (for the period with each tier's satisfaction, by day and
by bill month), churn against its targets, the churned members, frequent
callers, birthdays this month and tomorrow, and the big-customer value assessment with the
class the rules propose; ``Enter`` on a customer opens the card, where the big-customer manager
keeps the file (class and account manager, audited, shown on every agent's card).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Input, Label, Static
from textual.worker import get_current_worker

from desk.i18n import N_, vocab_label
from desk.i18n import gettext as _
from desk.rules.periods import PeriodKind
from desk.rules.vocab import BigCustomerClass, Tier
from desk.screens.base import DeskModal, SessionScreen, SignedIn
from desk.widgets.figures import NOTHING, count, percent
from desk.widgets.format import yuan

if TYPE_CHECKING:
    from desk.services.card import CustomerCard
    from desk.services.customer_analysis import CustomerAnalysis, CustomerLine

BIG_COLUMNS: tuple[tuple[str, str], ...] = (
    ("customer_no", N_("customers.col.customer_no")),
    ("name", N_("customers.col.name")),
    ("tier", N_("customers.col.tier")),
    ("class", N_("customers.col.class")),
    ("proposed", N_("customers.col.proposed")),
    ("manager", N_("customers.col.manager")),
    ("recency", N_("customers.col.recency")),
    ("frequency", N_("customers.col.frequency")),
    ("spend", N_("customers.col.spend")),
    ("complaints", N_("customers.col.complaints")),
)
SHOWN_IN_LISTS = 15


def _tiers(data: CustomerAnalysis) -> Table:
    table = Table(box=None, padding=(0, 1), header_style="bold")
    for msgid, justify in (
        (N_("customers.col.tier"), "left"),
        (N_("customers.col.customers"), "right"),
        (N_("customers.col.share"), "right"),
        (N_("customers.col.contacts"), "right"),
        (N_("customers.col.share"), "right"),
        (N_("customers.col.average_bill"), "right"),
        (N_("customers.col.spend_share"), "right"),
        (N_("customers.col.satisfaction"), "right"),
    ):
        table.add_column(_(msgid), justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for row in data.tiers:
        table.add_row(
            vocab_label(row.tier, Tier),
            count(row.customers),
            percent(row.customer_share),
            count(row.contacts),
            percent(row.contact_share),
            yuan(round(row.average_bill_cents)) if row.average_bill_cents is not None else NOTHING,
            percent(row.spend_share),
            percent(row.satisfaction),
        )
    return table


def _tiers_by_day(data: CustomerAnalysis) -> RenderableType:
    """One row per local day: each tier's contacts and their share of the day's."""
    if not data.tiers_by_day:
        return Text(_("customers.none"), style="dim")
    table = Table(box=None, padding=(0, 1), header_style="bold")
    table.add_column(_("customers.col.day"), no_wrap=True)
    for tier in Tier:
        table.add_column(vocab_label(tier, Tier), justify="right", no_wrap=True)
    days: dict[str, dict[Tier, tuple[int, float | None]]] = {}
    for day, tier, n, share in data.tiers_by_day:
        days.setdefault(day, {})[tier] = (n, share)
    for day in sorted(days, reverse=True):  # the latest first
        cells = [day[5:]]  # MM-DD
        for tier in Tier:
            n, share = days[day].get(tier, (0, None))
            cells.append(f"{count(n)} {percent(share, 0):>4}")
        table.add_row(*cells)
    return table


def _tiers_by_month(data: CustomerAnalysis) -> RenderableType:
    """Per bill month and tier: bills, spend, average bill and share of the month's spend."""
    if not data.tiers_by_month:
        return Text(_("customers.none"), style="dim")
    table = Table(box=None, padding=(0, 1), header_style="bold")
    for msgid, justify in (
        (N_("customers.col.month"), "left"),
        (N_("customers.col.tier"), "left"),
        (N_("customers.col.bills"), "right"),
        (N_("customers.col.total_spend"), "right"),
        (N_("customers.col.average_bill"), "right"),
        (N_("customers.col.spend_share"), "right"),
    ):
        table.add_column(_(msgid), justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for month, tier, bills, spend, average, share in data.tiers_by_month:
        table.add_row(
            month,
            vocab_label(tier, Tier),
            count(bills),
            yuan(spend),
            yuan(round(average)) if average is not None else NOTHING,
            percent(share),
        )
    return table


def _churn(data: CustomerAnalysis) -> Text:
    text = Text()
    for msgid, value, target in (
        (N_("figure.churn_member"), data.member_churn, data.churn_member_target),
        (N_("figure.churn_other"), data.other_churn, data.churn_other_target),
    ):
        style = "dim" if value is None else "bold green" if value.within(target) else "bold red"
        text.append(f"{_(msgid)}  ")
        text.append(percent(value), style=style)
        detail = f"{value.numerator:,}/{value.denominator:,}" if value else ""
        text.append(f"  ≤{target:g}%  {detail}\n", style="dim")
    return text


def _lines(
    items: tuple[CustomerLine, ...], value_msgid: str | None, *, birthday: bool = False
) -> RenderableType:
    if not items:
        return Text(_("customers.none"), style="dim")
    table = Table(box=None, padding=(0, 1), show_header=False)
    for _column in range(5 if value_msgid else 4):
        table.add_column(no_wrap=True)
    for line in items[:SHOWN_IN_LISTS]:
        cells = [
            line.customer_no,
            line.name_masked,
            vocab_label(line.tier, Tier)
            + (f" · {line.big_customer_class}" if line.big_customer_class else ""),
            (line.birthday or "") if birthday else line.region,
        ]
        if value_msgid:
            cells.append(_(value_msgid, value=line.value))
        table.add_row(*cells)
    more = len(items) - SHOWN_IN_LISTS
    if more > 0:
        return Group(table, Text(_("customers.more", count=more), style="dim"))
    return table


class CustomersScreen(SessionScreen):
    TITLE_MSGID = N_("screen.customers")
    BINDINGS = [
        Binding("escape", "back", N_("customers.key.back"), id="customers.back"),
        Binding("t", "period('today')", N_("dashboard.key.today"), id="customers.today"),
        Binding("w", "period('7d')", N_("dashboard.key.week"), id="customers.week"),
        Binding("m", "period('month')", N_("dashboard.key.month"), id="customers.month"),
        Binding("ctrl+r", "refresh", N_("dashboard.key.refresh"), id="customers.refresh"),
        Binding("enter", "open_card", N_("key.open_card"), id="customers.open", show=False),
    ]

    class Loaded(Message):
        def __init__(self, seq: int, data: CustomerAnalysis) -> None:
            super().__init__()
            self.seq = seq
            self.data = data

    def __init__(self, signed_in: SignedIn) -> None:
        super().__init__(signed_in)
        self.kind = PeriodKind.MONTH
        self.data: CustomerAnalysis | None = None
        self._seq = 0

    def compose_body(self) -> ComposeResult:
        yield Static(_("screen.customers"), id="screen-title")
        yield Static(_("dashboard.loading"), id="customers-period", markup=False)
        with VerticalScroll(id="customers"):
            yield Label(_("customers.section.big"), classes="section")
            table: DataTable[str | Text] = DataTable(
                id="customers-big", cursor_type="row", zebra_stripes=True
            )
            for key, msgid in BIG_COLUMNS:
                table.add_column(_(msgid), key=key)
            yield table
            yield Label(_("customers.section.tiers"), classes="section")
            yield Static("", id="customers-tiers")
            yield Label(_("customers.section.tiers_by_day"), classes="section")
            yield Static("", id="customers-by-day")
            yield Label(_("customers.section.tiers_by_month"), classes="section")
            yield Static("", id="customers-by-month")
            yield Label(_("customers.section.churn"), classes="section")
            yield Static("", id="customers-churn")
            yield Label(_("customers.section.churned"), classes="section")
            yield Static("", id="customers-churned")
            yield Label(_("customers.section.frequent"), classes="section")
            yield Static("", id="customers-frequent")
            yield Label(_("customers.section.birthdays"), classes="section")
            yield Static("", id="customers-birthdays")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#customers-big", DataTable).focus()
        self._load()

    def _load(self) -> None:
        self._seq += 1
        self._fetch(self._seq, self.kind)

    @work(thread=True, exclusive=True, exit_on_error=False, group="customers")
    def _fetch(self, seq: int, kind: PeriodKind) -> None:
        from desk.services.customer_analysis import customer_analysis
        from desk.services.dashboard import period_now

        period = period_now(self.signed_in.db, kind)
        data = customer_analysis(
            self.signed_in.db,
            actor=self.actor,
            policy=self.signed_in.backend.policy,
            period=period,
        )
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(seq, data))

    def on_customers_screen_loaded(self, event: Loaded) -> None:
        if event.seq != self._seq:
            return
        data = self.data = event.data
        from desk.screens.dashboard import PERIOD_LABELS, span_text

        self.query_one("#customers-period", Static).update(
            f"{_(PERIOD_LABELS[self.kind])}   {span_text(data.period, data.computed_at)}"
        )
        table = self.query_one("#customers-big", DataTable)
        table.clear()
        for item in data.big_customers:
            proposed = item.proposed_class.value if item.proposed_class else NOTHING
            table.add_row(
                item.customer_no,
                item.name_masked,
                vocab_label(item.tier, Tier),
                item.current_class or NOTHING,
                Text(proposed, style="bold yellow" if item.differs else ""),
                item.account_manager_name or NOTHING,
                count(item.days_since_seen) if item.days_since_seen is not None else NOTHING,
                count(item.contacts_90_days),
                yuan(round(item.average_monthly_cents))
                if item.average_monthly_cents is not None
                else NOTHING,
                Text(str(item.open_complaints), style="bold red" if item.open_complaints else ""),
                key=str(item.id),
            )
        from desk.services.customer_analysis import months_of

        bills = Text(_("customers.bills_of", months=", ".join(months_of(data.period))), style="dim")
        self.query_one("#customers-tiers", Static).update(Group(_tiers(data), bills))
        self.query_one("#customers-by-day", Static).update(_tiers_by_day(data))
        self.query_one("#customers-by-month", Static).update(_tiers_by_month(data))
        self.query_one("#customers-churn", Static).update(_churn(data))
        self.query_one("#customers-churned", Static).update(
            _lines(data.churned, N_("customers.days_unseen"))
        )
        self.query_one("#customers-frequent", Static).update(
            _lines(data.frequent, N_("customers.contacts"))
        )
        tomorrow = Text(
            _("customers.birthdays_tomorrow", count=len(data.birthdays_tomorrow)), style="bold"
        )
        month = Text(_("customers.birthdays_month", count=len(data.birthdays_month)), style="bold")
        self.query_one("#customers-birthdays", Static).update(
            Group(
                tomorrow,
                _lines(data.birthdays_tomorrow, None, birthday=True),
                month,
                _lines(data.birthdays_month, None, birthday=True),
            )
        )
        self.refresh_bindings()

    def check_action(self, action: str, _parameters: tuple[object, ...]) -> bool | None:
        if action == "open_card":
            return self.query_one("#customers-big", DataTable).row_count > 0 or None
        return True

    def action_period(self, kind: str) -> None:
        self.kind = PeriodKind(kind)
        self._load()

    def action_refresh(self) -> None:
        self._load()

    def action_back(self) -> None:
        self.dismiss(None)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self._open(int(event.row_key.value))

    def action_open_card(self) -> None:
        table = self.query_one("#customers-big", DataTable)
        if table.row_count:
            row_key, _column = table.coordinate_to_cell_key(table.cursor_coordinate)
            if row_key.value is not None:
                self._open(int(row_key.value))

    def _open(self, customer_id: int) -> None:
        from desk.screens.card import CustomerCardScreen

        self.app.push_screen(CustomerCardScreen(self.signed_in, customer_id))


BigCustomerChoice = tuple[BigCustomerClass | None, str, str]


class BigCustomerDialog(DeskModal[BigCustomerChoice | None]):
    """The big-customer file of one customer: class (A, B, C or empty for none) and the
    account manager. Ctrl+S saves; a bad value is named in the dialog."""

    BINDINGS = [
        Binding("escape", "close", N_("key.cancel"), id="dialog.cancel"),
        Binding("ctrl+s", "save", N_("big.key.save"), id="dialog.save"),
    ]

    def __init__(self, card: CustomerCard) -> None:
        super().__init__()
        self.card = card

    def compose(self) -> ComposeResult:
        card = self.card
        with Vertical(id="dialog", classes="dialog"):
            yield Label(
                _("big.title", customer=f"{card.name_masked} {card.customer_no}"),
                classes="dialog-title",
            )
            yield Label(_("big.class"), classes="field-label")
            yield Input(card.big_customer_class or "", id="big-class", max_length=1)
            yield Label(_("big.manager"), classes="field-label")
            yield Input(card.account_manager_name or "", id="big-manager", max_length=64)
            yield Label(_("big.phone"), classes="field-label")
            yield Input(card.account_manager_phone or "", id="big-phone", max_length=20)
            yield Static("", id="big-error", markup=False)

    def on_mount(self) -> None:
        self.query_one("#big-class", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        order = ["big-class", "big-manager", "big-phone"]
        index = order.index(event.input.id or "big-phone")
        if index + 1 < len(order):
            self.query_one(f"#{order[index + 1]}", Input).focus()
        else:
            self.action_save()

    def action_save(self) -> None:
        raw = self.query_one("#big-class", Input).value.strip().upper()
        manager = self.query_one("#big-manager", Input).value.strip()
        phone = self.query_one("#big-phone", Input).value.strip()
        error = self.query_one("#big-error", Static)
        if raw and raw not in {c.value for c in BigCustomerClass}:
            error.update(_("big.bad_class", value=raw))
            self.query_one("#big-class", Input).focus()
            return
        if raw and not manager:
            error.update(_("big.need_manager"))
            self.query_one("#big-manager", Input).focus()
            return
        self.dismiss((BigCustomerClass(raw) if raw else None, manager, phone))

    def action_close(self) -> None:
        self.dismiss(None)
