"""Satisfaction analysis (opened from the dashboard with ``a``, for the dashboard's period).

Satisfaction and complaint satisfaction against their targets, then where callers are
satisfied and where not: by request type, by channel, by branch (the customer's), by agent
(who answered), the trend per day (per hour for a one-day period), the spread of marks 1–5,
and complaint satisfaction at callback by the work order's branch. Every figure comes from
:func:`desk.services.satisfaction.satisfaction_analysis`, the same counts as the dashboard's
tiles and ``desk report satisfaction``. Keys switch the period like the dashboard's; the load
is a worker, so the keyboard never waits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Resize
from textual.message import Message
from textual.widgets import Label, Static
from textual.worker import get_current_worker

from desk.i18n import N_, vocab_label
from desk.i18n import gettext as _
from desk.rules.periods import PeriodKind
from desk.rules.vocab import Channel, RequestType
from desk.screens.base import SessionScreen, SignedIn
from desk.widgets.figures import NOTHING, STANDING_STYLE, count, percent
from desk.widgets.format import local_time

if TYPE_CHECKING:
    from desk.services.satisfaction import SatisfactionAnalysis, SatisfactionGroup

NARROW_BELOW = 120
SHOWN = 12  # rows of a group table; desk report satisfaction lists them all
BAR_WIDTH = 20


def _group_table(
    groups: Sequence[SatisfactionGroup], title_msgid: str, name: Callable[[str | None], str]
) -> RenderableType:
    if not groups:
        return Text(_("satisfaction.no_marks"), style="dim")
    table = Table(box=None, padding=(0, 1), header_style="bold", expand=False)
    table.add_column(_(title_msgid), no_wrap=True, overflow="ellipsis", max_width=24)
    table.add_column(_("satisfaction.col.marks"), justify="right", no_wrap=True)
    table.add_column(_("satisfaction.col.satisfied"), justify="right", no_wrap=True)
    table.add_column(_("satisfaction.col.rate"), justify="right", no_wrap=True)
    for group in groups[:SHOWN]:
        table.add_row(
            name(group.key),
            count(group.marked),
            count(group.satisfied),
            percent(group.satisfaction),
        )
    if len(groups) > SHOWN:
        more = Text(_("satisfaction.more", count=len(groups) - SHOWN), style="dim")
        return Group(table, more)
    return table


def _plain(key: str | None) -> str:
    return key if key else _("satisfaction.none")


def _marks(data: SatisfactionAnalysis) -> RenderableType:
    total = sum(n for _mark, n in data.marks)
    if not total:
        return Text(_("satisfaction.no_marks"), style="dim")
    table = Table(box=None, padding=(0, 1), show_header=False)
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    table.add_column(justify="right", no_wrap=True, style="dim")
    top = max(n for _mark, n in data.marks)
    for mark, n in data.marks:
        style = "green" if mark >= 4 else ("yellow" if mark == 3 else "red")
        bar = "█" * round(BAR_WIDTH * n / top) if top else ""
        table.add_row(
            _("satisfaction.mark", mark=mark),
            Text(bar or "·", style=style),
            count(n),
            percent(100.0 * n / total),
        )
    return table


def _trend(data: SatisfactionAnalysis) -> RenderableType:
    if not data.trend:
        return Text(_("satisfaction.no_marks"), style="dim")
    table = Table(box=None, padding=(0, 1), header_style="bold")
    column = N_("satisfaction.col.hour") if data.trend_by_hour else N_("satisfaction.col.day")
    table.add_column(_(column), no_wrap=True)
    table.add_column(_("satisfaction.col.marks"), justify="right", no_wrap=True)
    table.add_column(_("satisfaction.col.rate"), justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    pattern = "%H:00" if data.trend_by_hour else "%m-%d"
    for point in data.trend[-31:]:
        value = point.satisfaction
        bar = "█" * round(BAR_WIDTH * value.percent / 100) if value else ""
        table.add_row(
            local_time(point.start, pattern),
            count(point.marked),
            percent(value),
            Text(bar, style="cyan"),
        )
    return table


class SatisfactionScreen(SessionScreen):
    TITLE_MSGID = N_("screen.satisfaction")
    BINDINGS = [
        Binding("escape", "back", N_("customers.key.back"), id="satisfaction.back"),
        Binding("t", "period('today')", N_("dashboard.key.today"), id="satisfaction.today"),
        Binding("w", "period('7d')", N_("dashboard.key.week"), id="satisfaction.week"),
        Binding("m", "period('month')", N_("dashboard.key.month"), id="satisfaction.month"),
        Binding("ctrl+r", "refresh", N_("dashboard.key.refresh"), id="satisfaction.refresh"),
    ]

    class Loaded(Message):
        def __init__(self, seq: int, data: SatisfactionAnalysis) -> None:
            super().__init__()
            self.seq = seq
            self.data = data

    def __init__(
        self,
        signed_in: SignedIn,
        kind: PeriodKind = PeriodKind.TODAY,
        days: tuple[date, date] | None = None,
    ) -> None:
        super().__init__(signed_in)
        self.kind = kind
        self.days = days
        self.data: SatisfactionAnalysis | None = None
        self.loading = False
        self._seq = 0

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="sat-head"):
            yield Static(_("screen.satisfaction"), id="screen-title")
            yield Static(_("dashboard.loading"), id="sat-period", markup=False)
        with VerticalScroll(id="sat-body"):
            yield Static("", id="sat-targets")
            with Horizontal(classes="sat-pair"):
                with Vertical(classes="sat-half"):
                    yield Label(_("satisfaction.section.request_type"), classes="section")
                    yield Static("", id="sat-type")
                with Vertical(classes="sat-half"):
                    yield Label(_("satisfaction.section.channel"), classes="section")
                    yield Static("", id="sat-channel")
            with Horizontal(classes="sat-pair"):
                with Vertical(classes="sat-half"):
                    yield Label(_("satisfaction.section.branch"), classes="section")
                    yield Static("", id="sat-branch")
                with Vertical(classes="sat-half"):
                    yield Label(_("satisfaction.section.agent"), classes="section")
                    yield Static("", id="sat-agent")
            with Horizontal(classes="sat-pair"):
                with Vertical(classes="sat-half"):
                    yield Label(_("satisfaction.section.trend"), classes="section")
                    yield Static("", id="sat-trend")
                with Vertical(classes="sat-half"):
                    yield Label(_("satisfaction.section.marks"), classes="section")
                    yield Static("", id="sat-marks")
                    yield Label(_("satisfaction.section.complaints"), classes="section")
                    yield Static("", id="sat-complaints")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#sat-body", VerticalScroll).focus()
        self._load()

    def on_resize(self, event: Resize) -> None:
        self.set_class(event.size.width < NARROW_BELOW, "narrow")

    def _load(self) -> None:
        self._seq += 1
        self.loading = True
        self._show_period()
        self._fetch(self._seq, self.kind, self.days)

    @work(thread=True, exclusive=True, exit_on_error=False, group="satisfaction")
    def _fetch(self, seq: int, kind: PeriodKind, days: tuple[date, date] | None) -> None:
        from desk.services.dashboard import period_now
        from desk.services.satisfaction import satisfaction_analysis

        if days is not None:
            from desk.clock import SHANGHAI
            from desk.rules.periods import range_period

            period = range_period(days[0], days[1], self.signed_in.db.clock.now(), SHANGHAI)
        else:
            period = period_now(self.signed_in.db, kind)
        data = satisfaction_analysis(
            self.signed_in.db,
            actor=self.actor,
            policy=self.signed_in.backend.policy,
            period=period,
        )
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(seq, data))

    def on_satisfaction_screen_loaded(self, event: Loaded) -> None:
        if event.seq != self._seq:
            return
        self.loading = False
        self.data = event.data
        self._show(event.data)

    def _show_period(self) -> None:
        from desk.screens.dashboard import PERIOD_LABELS, span_text

        label = _(PERIOD_LABELS[self.kind])
        if self.days is not None:
            label = _("period.range_of", first=self.days[0], last=self.days[1])
        data = self.data
        if data is not None:
            label += f"   {span_text(data.period, data.computed_at)}"
        if self.loading:
            label += f"   {_('dashboard.loading')}"
        self.query_one("#sat-period", Static).update(label)

    def _targets(self, data: SatisfactionAnalysis) -> RenderableType:
        from desk.rules.kpi import TARGET_FIGURES
        from desk.widgets.figures import STANDING_LABEL, tile_title

        policy = self.signed_in.backend.policy
        line = Text()
        for key, group in (
            ("satisfaction", data.overall),
            ("complaint_satisfaction", data.complaints),
        ):
            figure = next(f for f in TARGET_FIGURES if f.key == key)
            value = group.satisfaction
            standing = figure.standing(value, policy)
            style = STANDING_STYLE[standing]
            line.append(tile_title(key) + " ", style="bold")
            line.append(percent(value), style=style)
            line.append(
                f" ({count(group.satisfied)}/{count(group.marked)}) "
                f"{_('dashboard.target')} {_target(figure.at_most, figure.target(policy))} ",
                style="dim",
            )
            line.append("● " + _(STANDING_LABEL[standing]), style=style)
            line.append("    ")
        return line

    def _show(self, data: SatisfactionAnalysis) -> None:
        self._show_period()
        self.query_one("#sat-targets", Static).update(self._targets(data))

        def kind_name(key: str | None) -> str:
            return vocab_label(key, RequestType) if key else _("dashboard.no_type")

        def channel_name(key: str | None) -> str:
            return vocab_label(key, Channel) if key else NOTHING

        self.query_one("#sat-type", Static).update(
            _group_table(data.by_request_type, N_("satisfaction.col.request_type"), kind_name)
        )
        self.query_one("#sat-channel", Static).update(
            _group_table(data.by_channel, N_("satisfaction.col.channel"), channel_name)
        )
        self.query_one("#sat-branch", Static).update(
            _group_table(data.by_branch, N_("satisfaction.col.branch"), _plain)
        )
        self.query_one("#sat-agent", Static).update(
            _group_table(data.by_agent, N_("satisfaction.col.agent"), _plain)
        )
        self.query_one("#sat-trend", Static).update(_trend(data))
        self.query_one("#sat-marks", Static).update(_marks(data))
        self.query_one("#sat-complaints", Static).update(
            _group_table(data.complaints_by_branch, N_("satisfaction.col.branch"), _plain)
        )

    def action_period(self, kind: str) -> None:
        self.kind = PeriodKind(kind)
        self.days = None
        self._load()

    def action_refresh(self) -> None:
        self._load()

    def action_back(self) -> None:
        self.dismiss(None)


def _target(at_most: bool, target: float) -> str:
    return f"{'≤' if at_most else '≥'}{target:g}%"
