"""How work-order clocks read on screen: business time left, paused and why, or overdue."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from rich.text import Text

from desk.i18n import gettext as _
from desk.i18n import vocab_label
from desk.rules.vocab import ClockKind, ClockState, WaitingReason
from desk.widgets.format import local_time


def duration_text(amount: timedelta) -> str:
    """``45m``, ``3h 05m``, ``26h 40m`` (hours are not folded into days: business time)."""
    minutes = max(0, int(amount.total_seconds() // 60))
    hours, rest = divmod(minutes, 60)
    if hours == 0:
        return _("duration.minutes", m=rest)
    return _("duration.hours_minutes", h=hours, m=f"{rest:02d}")


def short_time(instant: datetime | None, now: datetime | None = None) -> str:
    """``14:30`` today (Shanghai), ``11-03 14:30`` on another day."""
    if instant is None:
        return ""
    if now is not None and local_time(instant, "%Y-%m-%d") == local_time(now, "%Y-%m-%d"):
        return local_time(instant, "%H:%M")
    return local_time(instant, "%m-%d %H:%M")


def clock_cell(
    *,
    clock: ClockKind | None,
    due_at: datetime | None,
    remaining: timedelta | None,
    now: datetime,
    waiting_reason: WaitingReason | None,
    with_name: bool = True,
) -> Text:
    """One cell for the queue: the nearest clock and where it stands.

    Overdue (red, the time since the deadline), paused (yellow, with why), or the business
    time left (bold when under an hour).
    """
    name = vocab_label(clock) + " " if clock is not None and with_name else ""
    if due_at is None:
        return Text("-", style="dim")
    if waiting_reason is not None:
        return Text(
            _("clock.paused_cell", name=name, reason=vocab_label(waiting_reason)),
            style="yellow",
        )
    if due_at <= now:
        return Text(_("clock.overdue_cell", name=name, late=duration_text(now - due_at)), "red")
    left = remaining if remaining is not None else due_at - now
    style = "bold" if left < timedelta(hours=1) else ""
    return Text(_("clock.left_cell", name=name, left=duration_text(left)), style=style)


class ClockFacts(Protocol):
    """What a clock line is drawn from (a work order's clock as read)."""

    @property
    def state(self) -> ClockState: ...
    @property
    def due_at(self) -> datetime | None: ...
    @property
    def remaining(self) -> timedelta: ...
    @property
    def breached(self) -> bool: ...
    @property
    def overdue(self) -> timedelta | None: ...
    @property
    def stopped_at(self) -> datetime | None: ...


def clock_line_of(clock: ClockFacts, now: datetime) -> Text:
    """:func:`clock_line` of a work order's clock as read."""
    return clock_line(
        state=clock.state,
        due_at=clock.due_at,
        remaining=clock.remaining,
        breached=clock.breached,
        overdue=clock.overdue,
        stopped_at=clock.stopped_at,
        now=now,
    )


def clock_line(
    *,
    state: ClockState,
    due_at: datetime | None,
    remaining: timedelta,
    breached: bool,
    overdue: timedelta | None,
    stopped_at: datetime | None,
    now: datetime,
) -> Text:
    """One clock of the work-order screen, in words."""
    due = short_time(due_at, now)
    if state is ClockState.NOT_STARTED:
        return Text(_("clock.not_started"), style="dim")
    if state is ClockState.STOPPED:
        when = short_time(stopped_at, now)
        if breached:
            return Text(_("clock.stopped_late", at=when, due=due), style="red")
        return Text(_("clock.stopped_on_time", at=when), style="green")
    if breached:
        late = duration_text(overdue or timedelta(0))
        text = _("clock.overdue", late=late, due=due)
        if state is ClockState.PAUSED:
            text = _("clock.paused_prefix") + text
        return Text(text, style="bold red")
    if state is ClockState.PAUSED:
        return Text(_("clock.paused", left=duration_text(remaining)), style="yellow")
    style = "bold" if remaining < timedelta(hours=1) else ""
    return Text(_("clock.running", left=duration_text(remaining), due=due), style=style)
