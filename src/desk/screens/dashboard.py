"""F7 dashboard: the center's targets beside the work orders that need attention.

The screen is split like every role's main screen: the target tiles (one per target of the
policy: value, target, red/amber/green) beside the open work orders that are overdue, escalated
or major (Enter opens one); below them the call volume per hour against the agents on shift
and the Erlang C staffing need (hours short of staff in red: 增员需求), the request-type mix,
the trends of answer rate and satisfaction, and the complaint hot spots.

Keys switch the period (today, this shift, 7 days, this month, a chosen range). Every load is
an exclusive worker calling :func:`desk.services.dashboard.dashboard`; answers to an older
request are dropped by sequence number, so the keyboard never waits on the database. The
figures refresh on their own every :data:`REFRESH_SECONDS`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from rich.console import Group
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Resize
from textual.message import Message
from textual.widgets import DataTable, Input, Label, Static
from textual.worker import get_current_worker

from desk.clock import SHANGHAI, SystemClock
from desk.i18n import N_, vocab_label
from desk.i18n import gettext as _
from desk.rules.periods import Period, PeriodKind
from desk.rules.permissions import Permission, can
from desk.rules.vocab import RequestType, WorkOrderStatus
from desk.screens.base import DeskModal, SessionScreen, SignedIn
from desk.widgets.figures import (
    LoadChart,
    count,
    percent,
    render_hot_spots,
    render_mix,
    render_tiles,
    render_trend,
)
from desk.widgets.format import local_time

if TYPE_CHECKING:
    from desk.services.dashboard import Dashboard

REFRESH_SECONDS = 60
AHT_MEASURED = N_("dashboard.aht_measured")
AHT_DEFAULT = N_("dashboard.aht_default")
NARROW_BELOW = 120
FOCUS_BACK_SECONDS = 0.05  # columns: below this the tiles and the orders stack

PERIOD_LABELS: dict[PeriodKind, str] = {
    PeriodKind.TODAY: N_("period.today"),
    PeriodKind.SHIFT: N_("period.shift"),
    PeriodKind.WEEK: N_("period.week"),
    PeriodKind.MONTH: N_("period.month"),
    PeriodKind.DAY: N_("period.day"),
    PeriodKind.RANGE: N_("period.range"),
}

ORDER_COLUMNS: tuple[tuple[str, str], ...] = (  # what matters first: 80 columns show 3
    ("number", N_("dashboard.col.number")),
    ("late", N_("dashboard.col.late")),
    ("flag", N_("dashboard.col.flag")),
    ("category", N_("dashboard.col.category")),
    ("status", N_("dashboard.col.status")),
    ("branch", N_("dashboard.col.branch")),
)


def span_text(period: Period, computed_at: datetime) -> str:
    """The period's span and when its figures were read (the dashboard and its analyses)."""
    return _(
        "dashboard.span",
        start=local_time(period.start),
        end=local_time(period.as_of),
        at=local_time(computed_at, "%H:%M:%S"),
    )


class RangeDialog(DeskModal[tuple[date, date] | None]):
    """Asks for the first and last day of a range (YYYY-MM-DD); Enter or Ctrl+S accepts."""

    BINDINGS = [
        Binding("escape", "close", N_("key.cancel"), id="dialog.cancel"),
        Binding("ctrl+s", "accept", N_("dashboard.key.accept_range"), id="dialog.accept"),
    ]

    def __init__(self, first: date, last: date) -> None:
        super().__init__()
        self._first = first
        self._last = last

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(_("dashboard.range.title"), classes="dialog-title")
            yield Label(_("dashboard.range.first"), classes="field-label")
            yield Input(self._first.isoformat(), id="range-first", max_length=10)
            yield Label(_("dashboard.range.last"), classes="field-label")
            yield Input(self._last.isoformat(), id="range-last", max_length=10)
            yield Static("", id="range-error", markup=False)

    def on_mount(self) -> None:
        self.query_one("#range-first", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "range-first":
            self.query_one("#range-last", Input).focus()
        else:
            self.action_accept()

    def action_accept(self) -> None:
        error = self.query_one("#range-error", Static)
        values: list[date] = []
        for field_id, msgid in (
            ("#range-first", N_("dashboard.range.first")),
            ("#range-last", N_("dashboard.range.last")),
        ):
            raw = self.query_one(field_id, Input).value.strip()
            try:
                values.append(date.fromisoformat(raw))
            except ValueError:
                error.update(_("dashboard.range.bad_date", field=_(msgid), value=raw))
                self.query_one(field_id, Input).focus()
                return
        first, last = values
        if last < first:
            error.update(_("dashboard.range.reversed"))
            return
        self.dismiss((first, last))

    def action_close(self) -> None:
        self.dismiss(None)


class DashboardScreen(SessionScreen):
    TITLE_MSGID = N_("screen.dashboard")
    BINDINGS = [
        Binding("t", "period('today')", N_("dashboard.key.today"), id="dashboard.today"),
        Binding("s", "period('shift')", N_("dashboard.key.shift"), id="dashboard.shift"),
        Binding("w", "period('7d')", N_("dashboard.key.week"), id="dashboard.week"),
        Binding("m", "period('month')", N_("dashboard.key.month"), id="dashboard.month"),
        Binding("g", "choose_range", N_("dashboard.key.range"), id="dashboard.range"),
        Binding("ctrl+r", "refresh", N_("dashboard.key.refresh"), id="dashboard.refresh"),
        Binding("c", "customers", N_("dashboard.key.customers"), id="dashboard.customers"),
        Binding("a", "satisfaction", N_("dashboard.key.satisfaction"), id="dashboard.satisfaction"),
        Binding("enter", "open_order", N_("dashboard.key.open"), id="dashboard.open", show=False),
    ]

    class Loaded(Message):
        """The figures for request ``seq``."""

        def __init__(self, seq: int, data: Dashboard) -> None:
            super().__init__()
            self.seq = seq
            self.data = data

    def __init__(self, signed_in: SignedIn) -> None:
        super().__init__(signed_in)
        self.kind = PeriodKind.TODAY
        self.range: tuple[date, date] | None = None
        self.data: Dashboard | None = None
        self.loading = False
        self._seq = 0
        self._orders_had_focus = False

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="dash-head"):
            yield Static(_("screen.dashboard"), id="screen-title")
            yield Static("", id="dash-period", markup=False)
        with Horizontal(id="dash-top"):
            with Vertical(id="dash-tiles-pane"):
                yield Static("", id="dash-tiles")
            with Vertical(id="dash-orders-pane"):
                yield Static("", id="dash-orders-title", markup=False)
                table: DataTable[str | Text] = DataTable(
                    id="dash-orders", cursor_type="row", zebra_stripes=True
                )
                for key, msgid in ORDER_COLUMNS:
                    table.add_column(_(msgid), key=key)
                yield table
        with VerticalScroll(id="dash-more"):
            yield Label(_("dashboard.section.load"), classes="section")
            yield Static("", id="dash-load")
            with Horizontal(id="dash-mix-trend"):
                with Vertical(classes="dash-half"):
                    yield Label(_("dashboard.section.mix"), classes="section")
                    yield Static("", id="dash-mix")
                with Vertical(classes="dash-half"):
                    yield Label(_("dashboard.section.trend"), classes="section")
                    yield Static("", id="dash-trend")
            yield Label(_("dashboard.section.hot"), classes="section")
            yield Static("", id="dash-hot")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#dash-orders", DataTable).focus()
        self._load()
        self.set_interval(REFRESH_SECONDS, self._load)

    def on_resize(self, event: Resize) -> None:
        self.set_class(event.size.width < NARROW_BELOW, "narrow")
        if self.data is not None:
            self._show_tiles(self.data)
            self._show_orders_title(self.data)

    # --- loading ---------------------------------------------------------------------------

    def _load(self) -> None:
        table = self.query_one("#dash-orders", DataTable)
        self._orders_had_focus = self._orders_had_focus or table.has_focus
        self._seq += 1
        self.loading = True
        self._show_period()
        first, last = self.range if self.range else (None, None)
        self._fetch(self._seq, self.kind, first, last)

    @work(thread=True, exclusive=True, exit_on_error=False, group="dashboard")
    def _fetch(self, seq: int, kind: PeriodKind, first: date | None, last: date | None) -> None:
        from desk.services.dashboard import dashboard

        data = dashboard(
            self.signed_in.db,
            actor=self.actor,
            policy=self.signed_in.backend.policy,
            kind=kind,
            first=first,
            last=last,
        )
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(seq, data))

    def on_dashboard_screen_loaded(self, event: Loaded) -> None:
        if event.seq != self._seq:
            return  # an answer to a period the supervisor has switched away from
        self.loading = False
        self.data = event.data
        self._show(event.data)

    # --- showing ---------------------------------------------------------------------------

    def period_text(self) -> str:
        data = self.data
        label = _(PERIOD_LABELS[self.kind])
        if self.kind is PeriodKind.RANGE and self.range:
            label = _("period.range_of", first=self.range[0], last=self.range[1])
        if data is not None and data.shift_name and self.kind is PeriodKind.SHIFT:
            label = f"{label} · {data.shift_name}"
        if data is not None:
            label = f"{label}   {span_text(data.period, data.computed_at)}"
        if self.loading:
            label = f"{label}   {_('dashboard.loading')}"
        return label

    def _show_period(self) -> None:
        self.query_one("#dash-period", Static).update(self.period_text())

    def _show_tiles(self, data: Dashboard) -> None:
        pane = self.query_one("#dash-tiles", Static)
        width = pane.size.width or self.size.width // 2
        pane.update(render_tiles(data.tiles, width))

    def _show(self, data: Dashboard) -> None:
        self._show_period()
        self._show_tiles(data)
        self._show_orders(data)
        footnote = _(
            "dashboard.load_note",
            aht=count(data.handle_seconds),
            source=_(AHT_MEASURED if data.handle_measured else AHT_DEFAULT),
            offered=count(data.contacts.offered),
            answer=percent(data.contacts.manual_answer_rate),
            level=percent(data.contacts.service_level),
        )
        self.query_one("#dash-load", Static).update(
            Group(LoadChart(data.hours, height=5), Text(footnote, style="dim"))
        )
        self.query_one("#dash-mix", Static).update(render_mix(data.mix, width=20))
        self.query_one("#dash-trend", Static).update(
            render_trend(data.trend, by_hour=data.trend_by_hour)
        )
        self.query_one("#dash-hot", Static).update(render_hot_spots(data.hot_spots))

    def _show_orders(self, data: Dashboard) -> None:
        found = data.attention
        self._show_orders_title(data)
        table = self.query_one("#dash-orders", DataTable)
        selected = self.selected_order_id()
        had_focus = self._orders_had_focus or table.has_focus or self.focused is None
        table.clear()
        now = data.computed_at
        for order in found.orders:
            flags = Text()
            if order.is_major:
                flags.append(_("dashboard.flag.major"), style="bold red")
            if order.escalation_level:
                flags.append(
                    _("dashboard.flag.level", level=order.escalation_level), style="bold yellow"
                )
            late = ""
            if order.first_missed is not None:
                hours = (now - order.first_missed).total_seconds() / 3600
                late = _("dashboard.late_hours", hours=f"{hours:,.0f}")
            table.add_row(
                order.number,
                Text(late, style="red") if late else Text("–", style="dim"),
                flags,
                vocab_label(order.category, RequestType),
                vocab_label(order.status, WorkOrderStatus),
                order.branch or "",
                key=str(order.id),
            )
        if selected is not None:
            for index, order in enumerate(found.orders):
                if order.id == selected:
                    table.move_cursor(row=index)
                    break
        if had_focus:
            # Refilling the table hides it for a frame, which blurs it (Textual blurs a
            # hidden widget); give the keyboard back once the new rows are on screen.
            self.set_timer(FOCUS_BACK_SECONDS, self._focus_orders)
        self._orders_had_focus = False
        self.refresh_bindings()

    def _show_orders_title(self, data: Dashboard) -> None:
        """The counts above the orders; at 80 columns the short form (the pane is narrow)."""
        found = data.attention
        narrow = self.has_class("narrow")
        msgid = N_("dashboard.orders_title_short") if narrow else N_("dashboard.orders_title")
        self.query_one("#dash-orders-title", Static).update(
            _(
                msgid,
                overdue=f"{found.overdue:,}",
                escalated=f"{found.escalated:,}",
                major=f"{found.major:,}",
                shown=len(found.orders),
            )
        )

    def _focus_orders(self) -> None:
        if self.is_current and not isinstance(self.focused, DataTable | Input):
            self.query_one("#dash-orders", DataTable).focus()

    def selected_order_id(self) -> int | None:
        table = self.query_one("#dash-orders", DataTable)
        if not table.row_count:
            return None
        row_key, _column = table.coordinate_to_cell_key(table.cursor_coordinate)
        return int(row_key.value) if row_key.value is not None else None

    # --- keys ------------------------------------------------------------------------------

    def check_action(self, action: str, _parameters: tuple[object, ...]) -> bool | None:
        if action == "open_order":
            return self.selected_order_id() is not None or None
        if action == "customers":  # managers only; leads do not see the key
            return can(self.actor, Permission.VIEW_CUSTOMER_ANALYSIS)
        return True

    def action_customers(self) -> None:
        from desk.screens.customers import CustomersScreen

        self.app.push_screen(CustomersScreen(self.signed_in))

    def action_satisfaction(self) -> None:
        from desk.screens.satisfaction import SatisfactionScreen

        self.app.push_screen(SatisfactionScreen(self.signed_in, self.kind, self.range))

    def action_period(self, kind: str) -> None:
        self.kind = PeriodKind(kind)
        self.range = None
        self._load()

    def action_choose_range(self) -> None:
        clock = getattr(self.app, "clock", None) or SystemClock()
        today = clock.now().astimezone(SHANGHAI).date()
        first, last = self.range or (today.replace(day=1), today)

        def chosen(value: tuple[date, date] | None) -> None:
            if value is None:
                return
            self.kind = PeriodKind.RANGE
            self.range = value
            self._load()

        self.app.push_screen(RangeDialog(first, last), chosen)

    def action_refresh(self) -> None:
        self._load()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self._open(int(event.row_key.value))

    def action_open_order(self) -> None:
        order_id = self.selected_order_id()
        if order_id is not None:
            self._open(order_id)

    def _open(self, work_order_id: int) -> None:
        from desk.screens.work_order import WorkOrderScreen

        self.app.push_screen(WorkOrderScreen(self.signed_in, work_order_id))
