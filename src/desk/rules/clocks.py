"""SLA clocks of a work order: dispatch, reply, resolution and callback due instants.

A clock has a *budget* of business time on its calendar and *runs* (periods in which it
counts). Its deadline is the instant at which the business time counted over its runs
reaches the budget.

Definitions (every number from the policy, :class:`~desk.rules.policy.CategorySla`):

- **dispatch** runs from creation until a lead dispatches the work order;
- **reply** runs from dispatch until the department replies, and again from a rejected reply
  (a re-dispatch) until the next reply;
- **resolution** runs from creation until the lead accepts a reply (the matter settled);
- **callback** runs from the acceptance until the work order is closed; its budget ends
  ``within`` business minutes after the callback window opens ("the day after, from 15:30");
- **hq_reply** runs from the complaint lead's confirmation of an escalation to headquarters
  (which stops the department's reply clock) until headquarters' answer is recorded as the
  reply; its budget is the policy's ``chase.hq_reply_due``.

Waiting states (``paused``/``resumed`` events: customer unreachable, waiting for the
customer) stop every running clock; the deadline moves later by the paused business time.
Closing stops every clock; a reopened work order resumes its dispatch and resolution clocks
(and later reply and callback) *with the time they had left*. A deadline once missed stays
missed: runs after a breach never move it. Budgets per category are made stricter by the
work order's priority and channel (the smallest value wins). A warning instant is where the
policy's ``warning_percent`` of the budget is used up.

Consequences the tests hold: deadlines never move earlier as time passes or pauses are added,
and recomputing at the same instant gives the same result.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from desk.rules.calendar import (
    BusinessCalendar,
    add_business_time,
    business_time_between,
    calendars_from_policy,
)
from desk.rules.policy import CallbackRule, ClockOverride, Policy
from desk.rules.vocab import (
    Channel,
    ClockKind,
    ClockState,
    DepartmentKind,
    EventKind,
    Priority,
    RequestType,
)

CLOCK_KINDS: tuple[ClockKind, ...] = (
    ClockKind.DISPATCH,
    ClockKind.REPLY,
    ClockKind.RESOLUTION,
    ClockKind.CALLBACK,
    ClockKind.HQ_REPLY,
)


# --- budgets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClockBudgets:
    """Business-minute budgets of one work order's clocks, overrides applied."""

    dispatch: int
    reply: int
    resolution: int
    callback: CallbackRule
    hq_reply: int

    def minutes(self, kind: ClockKind) -> int | None:
        """The fixed budget of a clock; the callback's depends on when it starts (None)."""
        return {
            ClockKind.DISPATCH: self.dispatch,
            ClockKind.REPLY: self.reply,
            ClockKind.RESOLUTION: self.resolution,
            ClockKind.HQ_REPLY: self.hq_reply,
        }.get(kind)


def clock_budgets(
    category: RequestType, priority: Priority, channel: Channel, policy: Policy
) -> ClockBudgets:
    """The budgets for a work order: the category's, made stricter by priority and channel.

    Each budget is the smallest of the category's value, the priority override and the
    channel override (an override can only shorten a clock).
    """
    sla = policy.sla.for_category(category)
    overrides: list[ClockOverride] = []
    if priority in sla.priority:
        overrides.append(sla.priority[priority])
    if channel in sla.channel:
        overrides.append(sla.channel[channel])

    def strictest(base: int, name: str) -> int:
        values = [base]
        values.extend(v for o in overrides if (v := getattr(o, name)) is not None)
        return min(values)

    callback = sla.callback
    within = strictest(callback.within, "callback_within")
    if within != callback.within:
        callback = callback.model_copy(update={"within": within})
    return ClockBudgets(
        dispatch=strictest(sla.dispatch_due, "dispatch_due"),
        reply=strictest(sla.reply_due, "reply_due"),
        resolution=strictest(sla.resolution_due, "resolution_due"),
        callback=callback,
        hq_reply=policy.chase.hq_reply_due,
    )


def callback_window_opens(
    accepted_at: datetime, rule: CallbackRule, calendar: BusinessCalendar
) -> datetime:
    """When a callback may start: ``days_after`` local days after acceptance, at
    ``not_before``, on the first working day of ``calendar`` with working time from then on.

    With ``days_after = 0`` the window opens no earlier than the acceptance itself.
    """
    day = calendar.local_date(accepted_at) + timedelta(days=rule.days_after)
    for _ in range(366 * 2):
        opening = calendar.local_midnight(day) + timedelta(minutes=rule.not_before)
        opening = max(opening, accepted_at)
        day_end = calendar.local_midnight(day + timedelta(days=1))
        instant = calendar.next_working_instant(opening)
        if instant < day_end:
            return instant
        day += timedelta(days=1)
    raise ValueError(f"calendar {calendar.name!r} has no working time after {accepted_at}")


def callback_due(accepted_at: datetime, rule: CallbackRule, calendar: BusinessCalendar) -> datetime:
    """The callback deadline without pauses: ``within`` business minutes after the window."""
    opens = callback_window_opens(accepted_at, rule, calendar)
    return add_business_time(opens, timedelta(minutes=rule.within), calendar)


# --- one clock -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """A period in which a clock counts; ``end`` is None while it still runs.

    ``cycle`` is the work order's reopen cycle (0 before any reopen) the run belongs to.
    """

    start: datetime
    end: datetime | None = None
    cycle: int = 0


@dataclass(frozen=True)
class Clock:
    """One clock measured at ``now``.

    ``due_at`` is the deadline: fixed once it is missed or once the clock stopped; while
    running, the instant the budget will run out; while paused, projected as if the clock
    resumed now (it moves later as the pause goes on). ``breached`` says the deadline was
    missed: reached while running, or passed before the clock stopped. ``due_cycle`` is the
    reopen cycle in which the deadline fell (or will fall). ``warn_at``/``warn_cycle`` are the
    same for the warning threshold. ``remaining`` is the business time left at ``now``.
    """

    kind: ClockKind
    calendar: str
    state: ClockState
    budget: timedelta
    started_at: datetime | None
    due_at: datetime | None
    due_cycle: int | None
    warn_at: datetime | None
    warn_cycle: int | None
    breached: bool
    remaining: timedelta
    stopped_at: datetime | None


def warning_budget(budget: timedelta, warning_percent: float) -> timedelta:
    """The business time after which a warning is due: ``warning_percent`` of the budget,
    rounded up to the second."""
    seconds = math.ceil(budget.total_seconds() * warning_percent / 100)
    return min(timedelta(seconds=seconds), budget)


def measure_clock(
    kind: ClockKind,
    runs: Sequence[Run],
    budget: timedelta,
    calendar: BusinessCalendar,
    now: datetime,
    *,
    warning_percent: float,
    state: ClockState | None = None,
    stopped_at: datetime | None = None,
) -> Clock:
    """Measure a clock from its runs at ``now`` (runs after ``now`` are ignored).

    ``state`` says whether a clock without an open run is paused (will resume) or stopped;
    by default a clock with an open run is running and one without is stopped.
    ``stopped_at`` is when a stopped clock was stopped (default: the end of its last run;
    later when it was stopped during a pause).
    """
    runs = [run for run in runs if run.start <= now]
    if state is None:
        state = ClockState.NOT_STARTED if not runs else ClockState.STOPPED
        if runs and (runs[-1].end is None or runs[-1].end > now):
            state = ClockState.RUNNING
    if not runs:
        return Clock(
            kind=kind,
            calendar=calendar.name,
            state=ClockState.NOT_STARTED,
            budget=budget,
            started_at=None,
            due_at=None,
            due_cycle=None,
            warn_at=None,
            warn_cycle=None,
            breached=False,
            remaining=budget,
            stopped_at=None,
        )
    warn_budget = warning_budget(budget, warning_percent)
    used = timedelta(0)
    warn_at: datetime | None = None
    warn_cycle: int | None = None
    for run in runs:
        open_run = run.end is None or run.end > now
        end = now if open_run or run.end is None else run.end
        available = business_time_between(run.start, end, calendar)
        if warn_at is None and used + available >= warn_budget:
            warn_at = add_business_time(run.start, warn_budget - used, calendar)
            warn_cycle = run.cycle
        if used + available >= budget:
            due_at = add_business_time(run.start, budget - used, calendar)
            missed = due_at <= now if open_run else due_at < end
            if missed:
                return Clock(
                    kind=kind,
                    calendar=calendar.name,
                    state=state,
                    budget=budget,
                    started_at=runs[0].start,
                    due_at=due_at,
                    due_cycle=run.cycle,
                    warn_at=warn_at,
                    warn_cycle=warn_cycle,
                    breached=True,
                    remaining=timedelta(0),
                    stopped_at=_stop_instant(runs, now, stopped_at)
                    if state is ClockState.STOPPED
                    else None,
                )
        used += available
    remaining = max(budget - used, timedelta(0))
    last = runs[-1]
    last_end = _stop_instant(runs, now, stopped_at)
    # Running and paused clocks count on from now; a stopped one from when it stopped.
    base = last_end if state is ClockState.STOPPED else now
    due_at = add_business_time(base, remaining, calendar)
    if warn_at is None and state is not ClockState.STOPPED:
        warn_at = add_business_time(base, warn_budget - used, calendar)
        warn_cycle = last.cycle
    return Clock(
        kind=kind,
        calendar=calendar.name,
        state=state,
        budget=budget,
        started_at=runs[0].start,
        due_at=due_at,
        due_cycle=last.cycle,
        warn_at=warn_at,
        warn_cycle=warn_cycle,
        breached=False,
        remaining=remaining,
        stopped_at=last_end if state is ClockState.STOPPED else None,
    )


def _stop_instant(runs: Sequence[Run], now: datetime, stopped_at: datetime | None) -> datetime:
    """When the clock stopped: the end of its last run, or the stop event after it."""
    last = runs[-1]
    end = now if last.end is None or last.end > now else last.end
    if stopped_at is not None and end < stopped_at <= now:
        return stopped_at
    return end


# --- a work order's clocks from its history --------------------------------------------------


@dataclass(frozen=True)
class TimelineEvent:
    """One event of a work order's history that moves clocks."""

    at: datetime
    kind: EventKind


@dataclass(frozen=True)
class ClockRuns:
    """The runs of every clock and where the work order stands, from its history."""

    runs: Mapping[ClockKind, tuple[Run, ...]]
    active: frozenset[ClockKind]
    """Clocks that count or would count were the work order not paused."""
    paused: bool
    cycle: int
    accepted_at: datetime | None
    """The first acceptance of a reply: the callback budget is measured from it."""
    stopped_at: Mapping[ClockKind, datetime]
    """When each clock was last stopped by an event (it may have been paused then)."""


_STARTS: Mapping[EventKind, tuple[ClockKind, ...]] = {
    EventKind.CREATED: (ClockKind.DISPATCH, ClockKind.RESOLUTION),
    EventKind.DISPATCHED: (ClockKind.REPLY,),
    EventKind.REJECTED: (ClockKind.REPLY,),
    EventKind.ACCEPTED: (ClockKind.CALLBACK,),
    EventKind.REOPENED: (ClockKind.DISPATCH, ClockKind.RESOLUTION),
    EventKind.ESCALATION_CONFIRMED: (ClockKind.HQ_REPLY,),
}
_STOPS: Mapping[EventKind, tuple[ClockKind, ...]] = {
    EventKind.DISPATCHED: (ClockKind.DISPATCH,),
    EventKind.REPLIED: (ClockKind.REPLY, ClockKind.HQ_REPLY),
    EventKind.ESCALATION_CONFIRMED: (ClockKind.REPLY,),
    EventKind.ACCEPTED: (ClockKind.RESOLUTION,),
    EventKind.CLOSED: CLOCK_KINDS,
    EventKind.REOPENED: CLOCK_KINDS,
}


def clock_runs(events: Iterable[TimelineEvent]) -> ClockRuns:
    """Replay a work order's history into clock runs (see the module docstring).

    Events are taken in time order (ties keep their given order); kinds that do not move
    clocks are ignored. A ``reopened`` event starts a new cycle.
    """
    ordered = sorted(events, key=lambda event: event.at)
    active: set[ClockKind] = set()
    paused = False
    cycle = 0
    accepted_at: datetime | None = None
    open_since: dict[ClockKind, datetime] = {}
    stopped_at: dict[ClockKind, datetime] = {}
    runs: dict[ClockKind, list[Run]] = {kind: [] for kind in CLOCK_KINDS}

    def settle(at: datetime) -> None:
        """Open or close runs so that exactly the active, unpaused clocks run."""
        for kind in CLOCK_KINDS:
            should_run = kind in active and not paused
            if should_run and kind not in open_since:
                open_since[kind] = at
            elif not should_run and kind in open_since:
                start = open_since.pop(kind)
                if at > start:
                    runs[kind].append(Run(start, at, cycle))

    for event in ordered:
        what = event.kind
        if what is EventKind.PAUSED:
            paused = True
        elif what is EventKind.RESUMED:
            paused = False
        elif what in _STARTS or what in _STOPS:
            if what is EventKind.ACCEPTED and accepted_at is None:
                accepted_at = event.at
            for clock in _STOPS.get(what, ()):
                if clock in active:
                    stopped_at[clock] = event.at
            active.difference_update(_STOPS.get(what, ()))
            if what in (EventKind.CLOSED, EventKind.REOPENED):
                paused = False
            settle(event.at)
            if what is EventKind.REOPENED:
                cycle += 1
            active.update(_STARTS.get(what, ()))
        else:
            continue
        settle(event.at)
    for clock, start in open_since.items():
        runs[clock].append(Run(start, None, cycle))
    return ClockRuns(
        runs={kind: tuple(value) for kind, value in runs.items()},
        active=frozenset(active),
        paused=paused,
        cycle=cycle,
        accepted_at=accepted_at,
        stopped_at=stopped_at,
    )


@dataclass(frozen=True)
class WorkOrderClocks:
    """Every clock of one work order at ``now``."""

    now: datetime
    cycle: int
    paused: bool
    budgets: ClockBudgets
    dispatch: Clock
    reply: Clock
    resolution: Clock
    callback: Clock
    hq_reply: Clock

    def clock(self, kind: ClockKind) -> Clock:
        return {
            ClockKind.DISPATCH: self.dispatch,
            ClockKind.REPLY: self.reply,
            ClockKind.RESOLUTION: self.resolution,
            ClockKind.CALLBACK: self.callback,
            ClockKind.HQ_REPLY: self.hq_reply,
        }[kind]

    def all(self) -> tuple[Clock, ...]:
        return (self.dispatch, self.reply, self.resolution, self.callback, self.hq_reply)


def work_order_clocks(
    *,
    category: RequestType,
    priority: Priority,
    channel: Channel,
    department_kind: DepartmentKind | None,
    events: Iterable[TimelineEvent],
    now: datetime,
    policy: Policy,
    calendars: Mapping[str, BusinessCalendar] | None = None,
) -> WorkOrderClocks:
    """Measure a work order's four clocks at ``now`` from its history.

    ``department_kind`` picks the owning department's calendar (clocks set to
    ``"department"`` in ``sla.clock_calendar``); ``None`` means not yet owned (the default
    calendar). Only events at or before ``now`` count. ``calendars`` defaults to
    :func:`~desk.rules.calendar.calendars_from_policy` (cached).
    """
    calendars = calendars if calendars is not None else calendars_from_policy(policy)
    known = [event for event in events if event.at <= now]
    replay = clock_runs(known)
    budgets = clock_budgets(category, priority, channel, policy)
    measured: dict[ClockKind, Clock] = {}
    for kind in CLOCK_KINDS:
        calendar = calendars[policy.calendar_name_for(kind, department_kind)]
        runs = replay.runs[kind]
        minutes = budgets.minutes(kind)
        if minutes is not None:
            budget = timedelta(minutes=minutes)
        elif replay.accepted_at is not None:
            due = callback_due(replay.accepted_at, budgets.callback, calendar)
            budget = business_time_between(replay.accepted_at, due, calendar)
        else:
            budget = timedelta(minutes=budgets.callback.within)
        if not runs:
            state = ClockState.NOT_STARTED
        elif runs[-1].end is None:
            state = ClockState.RUNNING
        elif kind in replay.active and replay.paused:
            state = ClockState.PAUSED
        else:
            state = ClockState.STOPPED
        measured[kind] = measure_clock(
            kind,
            runs,
            budget,
            calendar,
            now,
            warning_percent=policy.sla.warning_percent,
            state=state,
            stopped_at=replay.stopped_at.get(kind) if state is ClockState.STOPPED else None,
        )
    return WorkOrderClocks(
        now=now,
        cycle=replay.cycle,
        paused=replay.paused,
        budgets=budgets,
        dispatch=measured[ClockKind.DISPATCH],
        reply=measured[ClockKind.REPLY],
        resolution=measured[ClockKind.RESOLUTION],
        callback=measured[ClockKind.CALLBACK],
        hq_reply=measured[ClockKind.HQ_REPLY],
    )
