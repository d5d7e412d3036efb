"""How the center's figures are drawn in the terminal: target tiles, the hourly load against
agents and the staffing need, the request-type mix, trends and hot spots.

Pure functions from read models to Rich renderables (easy to test, no widget state); a
figure with nothing to measure is written "–", never 0. Texts go through the catalog; Rich
measures cells, so Chinese labels line up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

from desk.i18n import N_, vocab_label
from desk.i18n import gettext as _
from desk.rules.kpi import Rate, Standing
from desk.rules.vocab import RequestType

if TYPE_CHECKING:
    from desk.services.dashboard import HourLoad, MixItem, Tile, TrendPoint
    from desk.services.figures import HotSpots

NOTHING = "–"
"""What a figure with nothing to measure shows."""

TILE_TITLES: dict[str, str] = {
    "manual_answer_rate": N_("figure.manual_answer_rate"),
    "vip_answer_rate": N_("figure.vip_answer_rate"),
    "satisfaction": N_("figure.satisfaction"),
    "complaint_satisfaction": N_("figure.complaint_satisfaction"),
    "complaint_reply_rate": N_("figure.complaint_reply_rate"),
    "complaint_on_standard": N_("figure.complaint_on_standard"),
    "complaint_closure": N_("figure.complaint_closure"),
    "churn_member_max": N_("figure.churn_member"),
    "churn_other_max": N_("figure.churn_other"),
}
"""The tile title of each target (a test checks every target has one)."""

STANDING_STYLE = {
    Standing.GREEN: "bold green",
    Standing.AMBER: "bold yellow",
    Standing.RED: "bold red",
    Standing.NONE: "dim",
}
STANDING_LABEL = {
    Standing.GREEN: N_("standing.green"),
    Standing.AMBER: N_("standing.amber"),
    Standing.RED: N_("standing.red"),
    Standing.NONE: N_("standing.none"),
}
TILE_REASONS: dict[str, str] = {"churn_not_counted": N_("dashboard.churn_not_counted")}
"""Why a tile has no value, when it is not "nothing to measure"."""
BLOCKS = " ▁▂▃▄▅▆▇█"


def percent(value: Rate | float | None, digits: int = 1) -> str:
    """A rate or a percentage as ``86.4%``; nothing to measure as "–"."""
    if value is None:
        return NOTHING
    number = value.percent if isinstance(value, Rate) else value
    return f"{number:.{digits}f}%"


def count(value: float | None, digits: int = 0) -> str:
    return NOTHING if value is None else f"{value:,.{digits}f}"


def tile_title(key: str) -> str:
    return _(TILE_TITLES.get(key, key))


def target_text(tile: Tile) -> str:
    sign = "≤" if tile.at_most else "≥"
    return f"{sign}{tile.target:g}%"


def render_tiles(tiles: Sequence[Tile], width: int) -> RenderableType:
    """Every target: tiles three to a row when there is room, a compact table otherwise."""
    if width >= 72:
        grid = Table.grid(expand=True, padding=(0, 1))
        per_row = 3
        for _column in range(per_row):
            grid.add_column(ratio=1)
        cells: list[RenderableType] = []
        for tile in tiles:
            style = STANDING_STYLE[tile.standing]
            body = Text()
            body.append(tile_title(tile.key) + "\n", style="bold")
            body.append(percent(tile.value), style=style)
            body.append(f"  {_('dashboard.target')} {target_text(tile)}\n", style="dim")
            body.append("● " + _(STANDING_LABEL[tile.standing]), style=style)
            if tile.value is not None:
                body.append(f"  {tile.value.numerator:,}/{tile.value.denominator:,}", style="dim")
            elif tile.reason in TILE_REASONS:
                body.append(f"  {_(TILE_REASONS[tile.reason])}", style="dim")
            cells.append(body)
        for start in range(0, len(cells), per_row):
            row = cells[start : start + per_row]
            grid.add_row(*row, *([""] * (per_row - len(row))))
            if start + per_row < len(cells):
                grid.add_row(*([""] * per_row))
        return grid
    table = Table(box=None, padding=(0, 1), show_header=False, expand=False)
    table.add_column(no_wrap=True, overflow="ellipsis")
    table.add_column(justify="right", no_wrap=True)
    table.add_column(justify="right", no_wrap=True, style="dim")
    table.add_column(no_wrap=True)
    for tile in tiles:
        style = STANDING_STYLE[tile.standing]
        table.add_row(
            tile_title(tile.key),
            Text(percent(tile.value), style=style),
            target_text(tile),
            Text("●", style=style),
        )
    return table


class LoadChart:
    """Calls offered per local hour as bars, with the agents on shift and the Erlang C need
    beneath; hours short of staff are red and listed (增员需求)."""

    def __init__(self, hours: Sequence[HourLoad], *, height: int = 6) -> None:
        self.hours = hours
        self.height = height

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        hours = self.hours
        if not hours or not any(hour.calls for hour in hours):
            yield Text(_("dashboard.no_calls"), style="dim")
            return
        top = max(hour.calls for hour in hours)
        label_width = max(len(f"{top:,.0f}"), *(cell_len(_(msgid)) for msgid in ROW_LABELS)) + 1
        widest = max(len(_amount(value)) for hour in hours for value in _values(hour))
        # each hour's column holds its widest number and a space; when the day does not fit
        # the width, it is drawn in two halves, one above the other (80 columns)
        per_row = len(hours)
        if (options.max_width - label_width) // per_row < widest + 1 and per_row > 12:
            per_row = (per_row + 1) // 2
        cell = max(widest + 1, min(5, (options.max_width - label_width) // per_row))
        for start in range(0, len(hours), per_row):
            chunk = hours[start : start + per_row]
            yield Group(*self._chart(chunk, top, cell, label_width))
        short = [hour for hour in hours if hour.short]
        if short:
            yield Text(_("dashboard.more_staff", hours=_short_spans(short)), style="bold red")
        else:
            yield Text(_("dashboard.staff_enough"), style="green")

    def _chart(
        self, hours: Sequence[HourLoad], top: float, cell: int, label_width: int
    ) -> list[Text]:
        height = self.height
        lines: list[Text] = []
        for level in range(height, 0, -1):
            line = Text((f"{top:,.0f}" if level == height else "").rjust(label_width - 1) + "│")
            for hour in hours:
                filled = hour.calls / top * height if top else 0
                eighths = max(0, min(8, round((filled - (level - 1)) * 8)))
                style = "red" if hour.short else "cyan"
                line.append((BLOCKS[eighths] * (cell - 1)).ljust(cell), style=style)
            lines.append(line)
        lines.append(Text(" " * (label_width - 1) + "└" + "─" * (cell * len(hours))))
        rows = [Text(_pad(_(msgid), label_width)) for msgid in ROW_LABELS]
        for hour in hours:
            rows[0].append(f"{hour.hour:02d}".ljust(cell), style="dim")
            rows[1].append(_fit(_amount(hour.calls), cell))
            rows[2].append(_fit(_amount(hour.agents), cell))
            rows[3].append(_fit(str(hour.need), cell), style="bold red" if hour.short else "")
        return [*lines, *rows]


ROW_LABELS = (
    N_("dashboard.row.hour"),
    N_("dashboard.row.calls"),
    N_("dashboard.row.agents"),
    N_("dashboard.row.need"),
)


def _values(hour: HourLoad) -> tuple[float, float, float]:
    return hour.calls, hour.agents, float(hour.need)


def _amount(value: float) -> str:
    """A per-day average as shown under the bars, in at most 4 characters: whole numbers as
    such, a fraction below 10 with one decimal (0.3 calls a day at 03:00 is not 0),
    thousands as ``1.2k``."""
    if value >= 9_999.5:
        return f"{value / 1000:.0f}k"
    if value >= 999.5:
        return f"{value / 1000:.1f}k"
    if value >= 10 or value == round(value):
        return f"{value:.0f}"
    return f"{value:.1f}"


def _short_spans(short: Sequence[HourLoad]) -> str:
    """The hours short of staff, consecutive hours short by as many run together:
    ``00:00–03:00 +2, 07:00 +1``."""
    runs: list[tuple[int, int, int]] = []  # first hour, last hour, missing
    for hour in short:
        if runs and runs[-1][1] == hour.hour - 1 and runs[-1][2] == hour.short:
            runs[-1] = (runs[-1][0], hour.hour, hour.short)
        else:
            runs.append((hour.hour, hour.hour, hour.short))
    return ", ".join(
        _(
            "dashboard.short_hour",
            hour=f"{first:02d}:00" if first == last else f"{first:02d}:00–{last + 1:02d}:00",
            missing=missing,
        )
        for first, last, missing in runs
    )


def _pad(text: str, width: int) -> str:
    from desk.widgets.format import pad_cells

    return pad_cells(text, width)


def _fit(text: str, width: int) -> str:
    return text.rjust(width - 1)[: width - 1] + " "


def render_mix(mix: Sequence[MixItem], width: int = 30) -> RenderableType:
    if not mix:
        return Text(_("dashboard.no_contacts"), style="dim")
    table = Table(box=None, padding=(0, 1), show_header=False)
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    table.add_column(justify="right", no_wrap=True, style="dim")
    for item in mix:
        share = item.share_percent or 0.0
        bar = "█" * max(1, round(share / 100 * width)) if item.contacts else ""
        label = (
            vocab_label(item.request_type, RequestType)
            if item.request_type
            else _("dashboard.no_type")
        )
        table.add_row(
            label, Text(bar, style="cyan"), percent(item.share_percent), count(item.contacts)
        )
    return table


def sparkline(values: Sequence[float | None], low: float = 0.0, high: float = 100.0) -> Text:
    """One block per value between ``low`` and ``high``; a value missing is a dim "–"."""
    text = Text()
    span = max(high - low, 1e-9)
    for value in values:
        if value is None:
            text.append(NOTHING, style="dim")
            continue
        level = max(1, min(8, round((value - low) / span * 8)))
        text.append(BLOCKS[level], style="cyan")
    return text


def render_trend(trend: Sequence[TrendPoint], *, by_hour: bool) -> RenderableType:
    if not trend:
        return Text(_("dashboard.no_contacts"), style="dim")
    answer = [p.answer_rate.percent if p.answer_rate else None for p in trend]
    happy = [p.satisfaction.percent if p.satisfaction else None for p in trend]
    known = [v for v in answer + happy if v is not None]
    low = max(0.0, min(known) - 5) if known else 0.0
    first, last = trend[0].start, trend[-1].start
    pattern = "%H:00" if by_hour else "%m-%d"
    table = Table(box=None, padding=(0, 1), show_header=False)
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    table.add_row(_("figure.manual_answer_rate"), sparkline(answer, low), percent(_last(answer)))
    table.add_row(_("figure.satisfaction"), sparkline(happy, low), percent(_last(happy)))
    caption = Text(
        _(
            "dashboard.trend_span",
            first=first.strftime(pattern),
            last=last.strftime(pattern),
            low=f"{low:.0f}",
        ),
        style="dim",
    )
    return Group(table, caption)


def _last(values: Sequence[float | None]) -> float | None:
    for value in reversed(values):
        if value is not None:
            return value
    return None


def render_hot_spots(spots: HotSpots) -> RenderableType:
    if spots.total == 0:
        return Text(_("dashboard.no_complaints"), style="dim")
    grid = Table.grid(padding=(0, 2))
    sections = (
        (_("dashboard.hot.topics"), spots.topics),
        (_("dashboard.hot.branches"), spots.branches),
        (_("dashboard.hot.regions"), spots.regions),
    )
    for _title in sections:
        grid.add_column(no_wrap=True)
    columns: list[RenderableType] = []
    for title, items in sections:
        table = Table(box=None, padding=(0, 1), show_header=True, header_style="bold")
        table.add_column(title, no_wrap=True, max_width=16, overflow="ellipsis")
        table.add_column("", justify="right", no_wrap=True)
        table.add_column("", justify="right", no_wrap=True, style="dim")
        for item in items[:5]:
            table.add_row(item.label or NOTHING, count(item.count), percent(item.share_percent, 0))
        columns.append(table)
    grid.add_row(*columns)
    people = Table(box=None, padding=(0, 1), show_header=True, header_style="bold")
    people.add_column(_("dashboard.hot.complainers"), no_wrap=True)
    people.add_column("", no_wrap=True)
    people.add_column("", no_wrap=True, style="dim")
    people.add_column("", justify="right", no_wrap=True)
    for person in spots.complainers[:5]:
        people.add_row(
            person.name_masked, person.customer_no, person.region, str(person.complaints)
        )
    if not spots.complainers:
        people.add_row(Text(_("dashboard.hot.no_repeat"), style="dim"), "", "", "")
    total = Text(_("dashboard.hot.total", count=f"{spots.total:,}"), style="dim")
    return Group(total, grid, people)
