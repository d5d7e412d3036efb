"""The hourly load chart reads at 160 and at 80 columns: every hour's numbers whole (a day
that does not fit is drawn in two halves), fractions of a call per day not shown as 0, and
the hours short of staff run together."""

from __future__ import annotations

from rich.console import Console

from desk.i18n import set_language
from desk.services.dashboard import HourLoad
from desk.widgets.figures import LoadChart


def _render(width: int) -> list[str]:
    set_language("en")  # the chart's labels; an earlier test in this worker may have left zh_CN
    hours = [
        HourLoad(hour=h, days=7, calls=calls, answered=calls, agents=agents, need=need)
        for h, calls, agents, need in [
            (h, 0.3 if h < 3 else 1234.0 if h == 10 else 12.0, 1.0 if h < 3 else 9.0, 3)
            for h in range(24)
        ]
    ]
    console = Console(width=width, record=True, color_system=None)
    with console.capture() as captured:
        console.print(LoadChart(hours))
    return captured.get().splitlines()


def test_a_wide_terminal_draws_the_day_in_one_row_of_hours() -> None:
    lines = _render(160)
    (hour_row,) = [line for line in lines if line.startswith("hour")]
    assert hour_row.split()[1:] == [f"{h:02d}" for h in range(24)]
    (calls,) = [line for line in lines if line.startswith("calls")]
    assert calls.split()[1:4] == ["0.3", "0.3", "0.3"]  # not 0
    assert "1.2k" in calls
    assert lines[-1] == "More staff needed (增员需求): 00:00–03:00 +2"


def test_an_80_column_terminal_draws_the_day_in_two_halves() -> None:
    lines = _render(78)
    hour_rows = [line.split()[1:] for line in lines if line.startswith("hour")]
    assert hour_rows == [[f"{h:02d}" for h in range(12)], [f"{h:02d}" for h in range(12, 24)]]
    calls = [line for line in lines if line.startswith("calls")]
    assert "1.2k" in calls[0]  # whole, not cut to the column
    assert all(len(line) <= 78 for line in lines)
    assert len([line for line in lines if "└" in line]) == 2  # no line wrapped
