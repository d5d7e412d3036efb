"""SLA clocks: budgets, pauses, reopen, breaches that stay, deadlines that never move earlier."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desk.rules.calendar import BusinessCalendar
from desk.rules.clocks import (
    Run,
    TimelineEvent,
    WorkOrderClocks,
    callback_due,
    callback_window_opens,
    clock_budgets,
    clock_runs,
    measure_clock,
    warning_budget,
    work_order_clocks,
)
from desk.rules.policy import CallbackRule, Policy
from desk.rules.vocab import (
    Channel,
    ClockKind,
    ClockState,
    DepartmentKind,
    EventKind,
    Priority,
    RequestType,
)
from tests.rules.conftest import sh
from tests.rules.timelines import at, histories, offsets

E = EventKind


def _clocks(
    policy: Policy,
    calendars: Mapping[str, BusinessCalendar],
    events: list[TimelineEvent],
    now: datetime,
    *,
    category: RequestType = RequestType.COMPLAINT,
    priority: Priority = Priority.NORMAL,
    channel: Channel = Channel.PHONE,
) -> WorkOrderClocks:
    return work_order_clocks(
        category=category,
        priority=priority,
        channel=channel,
        department_kind=DepartmentKind.BRANCH,
        events=events,
        now=now,
        policy=policy,
        calendars=calendars,
    )


def ev(when: datetime, kind: EventKind) -> TimelineEvent:
    return TimelineEvent(when, kind)


# --- budgets --------------------------------------------------------------------------------


def test_budgets_take_the_strictest_override(policy: Policy) -> None:
    plain = clock_budgets(RequestType.COMPLAINT, Priority.NORMAL, Channel.PHONE, policy)
    assert (plain.dispatch, plain.reply, plain.resolution) == (30, 450, 1350)
    vip = clock_budgets(RequestType.COMPLAINT, Priority.NORMAL, Channel.VIP_LINE, policy)
    assert (vip.dispatch, vip.reply, vip.resolution) == (15, 225, 900)
    urgent = clock_budgets(RequestType.COMPLAINT, Priority.URGENT, Channel.PHONE, policy)
    assert (urgent.dispatch, urgent.reply, urgent.resolution) == (30, 225, 900)
    both = clock_budgets(RequestType.FAULT_REPORT, Priority.URGENT, Channel.VIP_LINE, policy)
    assert (both.dispatch, both.reply, both.resolution) == (15, 120, 450)
    assert plain.minutes(ClockKind.CALLBACK) is None


def test_warning_budget_rounds_up() -> None:
    assert warning_budget(timedelta(minutes=30), 80) == timedelta(minutes=24)
    assert warning_budget(timedelta(seconds=7), 50) == timedelta(seconds=4)
    assert warning_budget(timedelta(minutes=30), 100) == timedelta(minutes=30)


# --- a work order's clocks ------------------------------------------------------------------


def test_new_work_order(policy: Policy, calendars: Mapping[str, BusinessCalendar]) -> None:
    created = sh(2026, 11, 2, 10)  # a Monday
    clocks = _clocks(policy, calendars, [ev(created, E.CREATED)], sh(2026, 11, 2, 10, 10))
    assert clocks.dispatch.state is ClockState.RUNNING
    assert clocks.dispatch.due_at == sh(2026, 11, 2, 10, 30)  # 30 min, center calendar
    assert clocks.dispatch.warn_at == sh(2026, 11, 2, 10, 24)  # at 80 %
    assert clocks.dispatch.remaining == timedelta(minutes=20)
    assert clocks.resolution.due_at == sh(2026, 11, 5, 10)  # 3 office days
    assert clocks.reply.state is ClockState.NOT_STARTED
    assert clocks.reply.due_at is None
    assert clocks.callback.state is ClockState.NOT_STARTED
    assert clocks.cycle == 0
    assert not clocks.paused


def test_reply_clock_from_dispatch_to_reply(
    policy: Policy, calendars: Mapping[str, BusinessCalendar]
) -> None:
    history = [
        ev(sh(2026, 11, 2, 10), E.CREATED),
        ev(sh(2026, 11, 2, 10, 20), E.DISPATCHED),
        ev(sh(2026, 11, 3, 9), E.REPLIED),
    ]
    running = _clocks(policy, calendars, history[:2], sh(2026, 11, 2, 11))
    assert running.reply.due_at == sh(2026, 11, 3, 10, 20)  # 450 office minutes
    assert running.dispatch.state is ClockState.STOPPED
    assert not running.dispatch.breached
    done = _clocks(policy, calendars, history, sh(2026, 11, 4, 9))
    assert done.reply.state is ClockState.STOPPED
    assert done.reply.due_at == sh(2026, 11, 3, 10, 20)  # the deadline it had
    assert not done.reply.breached
    assert done.reply.stopped_at == sh(2026, 11, 3, 9)
    assert done.reply.remaining == timedelta(minutes=80)


def test_pause_moves_the_deadline_by_the_paused_business_time(
    policy: Policy, calendars: Mapping[str, BusinessCalendar]
) -> None:
    history = [
        ev(sh(2026, 11, 2, 10), E.CREATED),
        ev(sh(2026, 11, 2, 10, 20), E.DISPATCHED),
        ev(sh(2026, 11, 2, 14), E.PAUSED),
        ev(sh(2026, 11, 3, 14), E.RESUMED),  # 450 office minutes paused
    ]
    while_paused = _clocks(policy, calendars, history[:3], sh(2026, 11, 3, 9))
    assert while_paused.paused
    assert while_paused.reply.state is ClockState.PAUSED
    assert while_paused.reply.remaining == timedelta(minutes=320)
    assert while_paused.reply.due_at == sh(2026, 11, 3, 15, 50)  # as if resumed now
    later_in_pause = _clocks(policy, calendars, history[:3], sh(2026, 11, 3, 11))
    assert later_in_pause.reply.due_at is not None
    assert later_in_pause.reply.due_at > sh(2026, 11, 3, 15, 50)
    resumed = _clocks(policy, calendars, history, sh(2026, 11, 3, 15))
    assert resumed.reply.state is ClockState.RUNNING
    assert resumed.reply.due_at == sh(2026, 11, 4, 10, 20)  # one office day later
    assert resumed.dispatch.state is ClockState.STOPPED  # a stopped clock stays stopped


def test_a_missed_deadline_stays_missed(
    policy: Policy, calendars: Mapping[str, BusinessCalendar]
) -> None:
    history = [
        ev(sh(2026, 11, 2, 10), E.CREATED),
        ev(sh(2026, 11, 2, 10, 20), E.DISPATCHED),
    ]
    missed = _clocks(policy, calendars, history, sh(2026, 11, 4, 9))
    assert missed.reply.breached
    assert missed.reply.due_at == sh(2026, 11, 3, 10, 20)
    assert missed.reply.due_cycle == 0
    assert missed.reply.remaining == timedelta(0)
    later = [*history, ev(sh(2026, 11, 4, 9, 30), E.PAUSED), ev(sh(2026, 11, 4, 11), E.REPLIED)]
    still = _clocks(policy, calendars, later, sh(2026, 11, 5, 9))
    assert still.reply.breached
    assert still.reply.due_at == sh(2026, 11, 3, 10, 20)


def test_reopen_resumes_with_the_time_left(
    policy: Policy, calendars: Mapping[str, BusinessCalendar]
) -> None:
    history = [
        ev(sh(2026, 11, 2, 10), E.CREATED),
        ev(sh(2026, 11, 2, 10, 10), E.DISPATCHED),
        ev(sh(2026, 11, 2, 15), E.REPLIED),
        ev(sh(2026, 11, 2, 16), E.ACCEPTED),
        ev(sh(2026, 11, 3, 16), E.CLOSED),
        ev(sh(2026, 11, 9, 10), E.REOPENED),
    ]
    clocks = _clocks(policy, calendars, history, sh(2026, 11, 9, 10, 5))
    assert clocks.cycle == 1
    # Resolution used 270 office minutes before acceptance: 1080 left from the reopen.
    assert clocks.resolution.remaining == timedelta(minutes=1080 - 5)
    assert clocks.resolution.due_at == sh(2026, 11, 11, 14, 30)
    assert clocks.resolution.due_cycle == 1
    # Dispatch used 10 of its 30 center minutes: 20 left.
    assert clocks.dispatch.due_at == sh(2026, 11, 9, 10, 20)
    assert clocks.reply.state is ClockState.STOPPED
    assert clocks.callback.state is ClockState.STOPPED
    assert not any(clock.breached for clock in clocks.all())


def test_breach_in_a_later_cycle_is_keyed_to_it(
    policy: Policy, calendars: Mapping[str, BusinessCalendar]
) -> None:
    history = [
        ev(sh(2026, 11, 2, 10), E.CREATED),
        ev(sh(2026, 11, 2, 10, 10), E.DISPATCHED),
        ev(sh(2026, 11, 2, 11), E.REPLIED),
        ev(sh(2026, 11, 2, 11, 30), E.ACCEPTED),
        ev(sh(2026, 11, 3, 16), E.CLOSED),
        ev(sh(2026, 11, 9, 10), E.REOPENED),
        ev(sh(2026, 11, 9, 10, 5), E.DISPATCHED),
    ]
    clocks = _clocks(policy, calendars, history, sh(2026, 11, 12, 10))
    assert clocks.reply.breached
    assert clocks.reply.due_cycle == 1


def test_callback_the_day_after_from_1530(
    policy: Policy, calendars: Mapping[str, BusinessCalendar]
) -> None:
    office = calendars["office"]
    rule = policy.sla.complaint.callback
    assert callback_window_opens(sh(2026, 11, 2, 16), rule, office) == sh(2026, 11, 3, 15, 30)
    assert callback_due(sh(2026, 11, 2, 16), rule, office) == sh(2026, 11, 3, 17, 30)
    # Accepted on a Friday: the next working day is Monday.
    assert callback_window_opens(sh(2026, 11, 6, 10), rule, office) == sh(2026, 11, 9, 15, 30)
    # Accepted before National Day: the window opens after the holiday.
    assert callback_window_opens(sh(2026, 9, 30, 10), rule, office) == sh(2026, 10, 8, 15, 30)
    same_day = CallbackRule(days_after=0, not_before=15 * 60 + 30, within=60)
    assert callback_window_opens(sh(2026, 11, 2, 16), same_day, office) == sh(2026, 11, 2, 16)
    assert callback_window_opens(sh(2026, 11, 2, 9), same_day, office) == sh(2026, 11, 2, 15, 30)

    history = [
        ev(sh(2026, 11, 2, 10), E.CREATED),
        ev(sh(2026, 11, 2, 10, 10), E.DISPATCHED),
        ev(sh(2026, 11, 2, 15), E.REPLIED),
        ev(sh(2026, 11, 2, 16), E.ACCEPTED),
    ]
    clocks = _clocks(policy, calendars, history, sh(2026, 11, 3, 9))
    assert clocks.callback.state is ClockState.RUNNING
    assert clocks.callback.due_at == sh(2026, 11, 3, 17, 30)
    assert clocks.resolution.state is ClockState.STOPPED
    unreachable = [*history, ev(sh(2026, 11, 3, 16), E.PAUSED)]
    paused = _clocks(policy, calendars, unreachable, sh(2026, 11, 4, 9))
    assert paused.callback.state is ClockState.PAUSED
    assert paused.callback.due_at == sh(2026, 11, 4, 10, 30)  # 90 minutes left from now


# --- one clock ------------------------------------------------------------------------------


def test_stopping_exactly_at_the_deadline_is_on_time(center: BusinessCalendar) -> None:
    start = sh(2026, 11, 2, 10)
    budget = timedelta(minutes=30)
    on_time = measure_clock(
        ClockKind.REPLY,
        [Run(start, start + budget)],
        budget,
        center,
        sh(2026, 11, 3),
        warning_percent=80,
    )
    assert not on_time.breached
    assert on_time.state is ClockState.STOPPED
    late = measure_clock(
        ClockKind.REPLY,
        [Run(start, start + budget + timedelta(microseconds=1))],
        budget,
        center,
        sh(2026, 11, 3),
        warning_percent=80,
    )
    assert late.breached
    assert late.due_at == start + budget


def test_stopping_after_hours_past_the_deadline_is_late(office: BusinessCalendar) -> None:
    budget = timedelta(minutes=60)
    clock = measure_clock(
        ClockKind.REPLY,
        [Run(sh(2026, 11, 2, 16, 30), sh(2026, 11, 2, 18))],
        budget,
        office,
        sh(2026, 11, 3),
        warning_percent=80,
    )
    assert clock.breached  # the 17:30 deadline passed before the 18:00 reply
    assert clock.due_at == sh(2026, 11, 2, 17, 30)


def test_running_clock_reaching_its_deadline_now_is_breached(center: BusinessCalendar) -> None:
    start = sh(2026, 11, 2, 10)
    clock = measure_clock(
        ClockKind.DISPATCH,
        [Run(start)],
        timedelta(minutes=30),
        center,
        start + timedelta(minutes=30),
        warning_percent=80,
    )
    assert clock.breached
    assert clock.state is ClockState.RUNNING


def test_runs_record_cycles() -> None:
    replay = clock_runs(
        [
            ev(sh(2026, 11, 2, 10), E.CREATED),
            ev(sh(2026, 11, 2, 11), E.CLOSED),
            ev(sh(2026, 11, 2, 12), E.REOPENED),
        ]
    )
    assert [run.cycle for run in replay.runs[ClockKind.DISPATCH]] == [0, 1]
    assert replay.runs[ClockKind.DISPATCH][-1].end is None
    assert replay.cycle == 1


# --- properties -----------------------------------------------------------------------------


def _dues(clocks: WorkOrderClocks) -> dict[ClockKind, datetime | None]:
    return {clock.kind: clock.due_at for clock in clocks.all()}


@settings(max_examples=60, deadline=None)
@given(history=histories(), first=offsets(), more=offsets())
def test_deadlines_never_move_earlier_as_time_passes(
    policy: Policy,
    calendars: Mapping[str, BusinessCalendar],
    history: list[TimelineEvent],
    first: timedelta,
    more: timedelta,
) -> None:
    early = _dues(_clocks(policy, calendars, history, at(first)))
    late_clocks = _clocks(policy, calendars, history, at(first + more))
    for kind, due in _dues(late_clocks).items():
        before = early[kind]
        if before is not None:
            assert due is not None
            assert due >= before, kind
    # Measuring twice at the same instant gives the same answer.
    assert _clocks(policy, calendars, history, at(first + more)) == late_clocks


@settings(max_examples=60, deadline=None)
@given(
    history=histories(with_pauses=False),
    pause_start=offsets(),
    pause_length=st.integers(min_value=1, max_value=5000),
    now=offsets(40_000),
)
def test_adding_a_pause_never_moves_a_deadline_earlier(
    policy: Policy,
    calendars: Mapping[str, BusinessCalendar],
    history: list[TimelineEvent],
    pause_start: timedelta,
    pause_length: int,
    now: timedelta,
) -> None:
    paused_history = [
        *history,
        TimelineEvent(at(pause_start), E.PAUSED),
        TimelineEvent(at(pause_start + timedelta(minutes=pause_length)), E.RESUMED),
    ]
    without = _clocks(policy, calendars, history, at(now))
    with_pause = _clocks(policy, calendars, paused_history, at(now))
    for plain, paused in zip(without.all(), with_pause.all(), strict=True):
        if plain.due_at is not None and paused.due_at is not None:
            assert paused.due_at >= plain.due_at, plain.kind
        if plain.breached and plain.due_at is not None and plain.due_at < at(pause_start):
            # A pause after the breach does not undo it.
            assert paused.breached
            assert paused.due_at == plain.due_at


@pytest.mark.parametrize("category", list(RequestType))
def test_every_category_measures(
    policy: Policy, calendars: Mapping[str, BusinessCalendar], category: RequestType
) -> None:
    clocks = _clocks(
        policy,
        calendars,
        [ev(sh(2026, 11, 2, 10), E.CREATED)],
        sh(2026, 11, 2, 10),
        category=category,
    )
    assert clocks.dispatch.due_at is not None
    assert clocks.dispatch.due_at > sh(2026, 11, 2, 10)


# --- headquarters' reply (the complaint chase after a confirmed escalation) ------------------


def _escalated(confirmed: datetime) -> list[TimelineEvent]:
    return [
        ev(sh(2026, 11, 2, 10), E.CREATED),
        ev(sh(2026, 11, 2, 10, 20), E.DISPATCHED),  # reply due 11-03 10:20, missed
        ev(confirmed, E.ESCALATION_CONFIRMED),
    ]


def _hq_clocks(
    policy: Policy,
    calendars: Mapping[str, BusinessCalendar],
    events: list[TimelineEvent],
    now: datetime,
) -> WorkOrderClocks:
    return work_order_clocks(
        category=RequestType.COMPLAINT,
        priority=Priority.NORMAL,
        channel=Channel.PHONE,
        department_kind=DepartmentKind.HEADQUARTERS,  # owned by headquarters once confirmed
        events=events,
        now=now,
        policy=policy,
        calendars=calendars,
    )


@pytest.mark.parametrize(
    ("confirmed", "due"),
    [
        (sh(2026, 11, 4, 10), sh(2026, 11, 6, 10)),  # 900 office minutes: two office days
        (sh(2026, 11, 4, 16), sh(2026, 11, 6, 16)),
        (sh(2026, 11, 6, 10), sh(2026, 11, 10, 10)),  # a Friday: over the weekend
    ],
)
def test_headquarters_owes_its_answer_from_the_confirmation(
    policy: Policy, calendars: Mapping[str, BusinessCalendar], confirmed: datetime, due: datetime
) -> None:
    assert policy.chase.hq_reply_due == 900
    before = _hq_clocks(policy, calendars, _escalated(confirmed)[:2], confirmed)
    assert before.hq_reply.state is ClockState.NOT_STARTED
    clocks = _hq_clocks(policy, calendars, _escalated(confirmed), confirmed + timedelta(minutes=1))
    assert clocks.hq_reply.state is ClockState.RUNNING
    assert clocks.hq_reply.started_at == confirmed
    assert clocks.hq_reply.due_at == due
    assert clocks.hq_reply.budget == timedelta(minutes=900)
    assert clocks.hq_reply.calendar == "office"  # headquarters' calendar
    assert clocks.reply.state is ClockState.STOPPED  # the department no longer owes it
    assert clocks.reply.breached  # its miss stays on record
    assert clocks.clock(ClockKind.HQ_REPLY) is clocks.hq_reply


def test_headquarters_answer_stops_its_clock_and_a_late_one_is_breached(
    policy: Policy, calendars: Mapping[str, BusinessCalendar]
) -> None:
    confirmed = sh(2026, 11, 4, 10)
    answered = [*_escalated(confirmed), ev(sh(2026, 11, 5, 15), E.REPLIED)]
    on_time = _hq_clocks(policy, calendars, answered, sh(2026, 11, 9, 9))
    assert on_time.hq_reply.state is ClockState.STOPPED
    assert not on_time.hq_reply.breached
    silent = _hq_clocks(policy, calendars, _escalated(confirmed), sh(2026, 11, 6, 10))
    assert silent.hq_reply.breached  # reached its deadline while running
    late = [*_escalated(confirmed), ev(sh(2026, 11, 6, 11), E.REPLIED)]
    answered_late = _hq_clocks(policy, calendars, late, sh(2026, 11, 9, 9))
    assert answered_late.hq_reply.state is ClockState.STOPPED
    assert answered_late.hq_reply.breached


@settings(max_examples=60, deadline=None)
@given(history=histories(), later=offsets())
def test_no_headquarters_clock_without_a_confirmed_escalation(
    policy: Policy,
    calendars: Mapping[str, BusinessCalendar],
    history: list[TimelineEvent],
    later: timedelta,
) -> None:
    clocks = _clocks(policy, calendars, history, max(e.at for e in history) + later)
    assert clocks.hq_reply.state is ClockState.NOT_STARTED
    assert clocks.hq_reply.due_at is None
