"""The escalation ladder: keyed, idempotent steps; complaint chase; major complaints."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desk.rules.calendar import BusinessCalendar
from desk.rules.clocks import TimelineEvent
from desk.rules.ladder import (
    LadderEvent,
    PriorContact,
    WorkOrderSnapshot,
    complaints_in_window,
    due_ladder_events,
    is_repeat_caller,
    ladder_key,
    major_source,
    snapshot_from_history,
)
from desk.rules.policy import Policy
from desk.rules.vocab import (
    Channel,
    ClockKind,
    DepartmentKind,
    EventKind,
    MajorSource,
    Priority,
    RequestType,
    Role,
    WorkOrderSource,
    WorkOrderStatus,
)
from tests.rules.conftest import sh
from tests.rules.timelines import at, histories, offsets

E = EventKind
CREATED = sh(2026, 11, 2, 10)  # a Monday
DISPATCHED = sh(2026, 11, 2, 10, 20)
REPLY_DUE = sh(2026, 11, 3, 10, 20)  # 450 office minutes later


def snapshot(
    policy: Policy,
    calendars: Mapping[str, BusinessCalendar],
    events: list[TimelineEvent],
    now: datetime,
    *,
    category: RequestType = RequestType.COMPLAINT,
    status: WorkOrderStatus = WorkOrderStatus.DISPATCHED,
    source: WorkOrderSource = WorkOrderSource.AGENT,
    is_major: bool = False,
    complaints: int = 1,
) -> WorkOrderSnapshot:
    return snapshot_from_history(
        work_order_id=42,
        category=category,
        priority=Priority.NORMAL,
        channel=Channel.PHONE,
        status=status,
        source=source,
        is_major=is_major,
        department_id=7,
        department_kind=DepartmentKind.BRANCH,
        events=events,
        now=now,
        policy=policy,
        calendars=calendars,
        customer_complaints_in_window=complaints,
    )


def dispatched() -> list[TimelineEvent]:
    return [TimelineEvent(CREATED, E.CREATED), TimelineEvent(DISPATCHED, E.DISPATCHED)]


def keys(events: list[LadderEvent]) -> list[str]:
    return [event.ladder_key for event in events]


def test_key_format() -> None:
    assert ladder_key(E.BREACH, ClockKind.REPLY, 0) == "breach:reply:c0"
    assert ladder_key(E.WARNING, ClockKind.DISPATCH, 2) == "warning:dispatch:c2"
    assert ladder_key(E.REMINDER, ClockKind.REPLY, 1) == "reminder:reply:c1"
    assert ladder_key(E.ESCALATION_PROPOSED, ClockKind.REPLY, 0) == "escalation:reply:c0"
    assert ladder_key(E.MAJOR_FLAGGED) == "major"
    with pytest.raises(ValueError, match="not a ladder step"):
        ladder_key(E.NOTE, ClockKind.REPLY)


def test_nothing_due_on_a_fresh_work_order(
    policy: Policy, calendars: Mapping[str, BusinessCalendar]
) -> None:
    now = CREATED + timedelta(minutes=5)
    snap = snapshot(policy, calendars, [TimelineEvent(CREATED, E.CREATED)], now)
    assert due_ladder_events(snap, [], now, policy, calendars) == []


def test_warning_then_breach_of_the_dispatch_clock(
    policy: Policy, calendars: Mapping[str, BusinessCalendar]
) -> None:
    history = [TimelineEvent(CREATED, E.CREATED)]
    warn_now = CREATED + timedelta(minutes=25)
    (warning,) = due_ladder_events(
        snapshot(policy, calendars, history, warn_now), [], warn_now, policy, calendars
    )
    assert warning.ladder_key == "warning:dispatch:c0"
    assert warning.due_at == CREATED + timedelta(minutes=24)
    assert warning.deadline == CREATED + timedelta(minutes=30)
    assert warning.notify is Role.LEAD

    breach_now = CREATED + timedelta(minutes=31)
    snap = snapshot(policy, calendars, history, breach_now)
    (breach,) = due_ladder_events(snap, ["warning:dispatch:c0"], breach_now, policy, calendars)
    assert breach.ladder_key == "breach:dispatch:c0"
    assert breach.kind is E.BREACH
    assert breach.due_at == CREATED + timedelta(minutes=30)
    # A sweep that missed the warning does not send a stale one after the breach.
    assert keys(due_ladder_events(snap, [], breach_now, policy, calendars)) == [
        "breach:dispatch:c0"
    ]


def test_complaint_chase_reminder_once_then_escalation(
    policy: Policy, calendars: Mapping[str, BusinessCalendar]
) -> None:
    now = REPLY_DUE + timedelta(minutes=10)
    snap = snapshot(policy, calendars, dispatched(), now)
    steps = due_ladder_events(snap, [], now, policy, calendars)
    assert keys(steps) == ["breach:reply:c0", "reminder:reply:c0"]
    reminder = steps[1]
    assert reminder.kind is E.REMINDER
    assert reminder.notify is Role.HANDLER
    assert reminder.department_id == 7
    assert reminder.deadline == REPLY_DUE + timedelta(minutes=120)
    assert not reminder.late
    # The reminder goes once.
    later = REPLY_DUE + timedelta(hours=3)
    done = keys(steps)
    assert (
        due_ladder_events(
            snapshot(policy, calendars, dispatched(), later), done, later, policy, calendars
        )
        == []
    )  # noqa: E501
    # Still unreplied 450 office minutes after the breach: escalation proposed.
    escalate_now = sh(2026, 11, 4, 10, 20)
    snap = snapshot(policy, calendars, dispatched(), escalate_now)
    (escalation,) = due_ladder_events(snap, done, escalate_now, policy, calendars)
    assert escalation.ladder_key == "escalation:reply:c0"
    assert escalation.due_at == sh(2026, 11, 4, 10, 20)
    assert escalation.notify is Role.COMPLAINT_LEAD
    assert escalation.escalate_to is DepartmentKind.HEADQUARTERS


def test_late_sweep_flags_a_late_reminder(
    policy: Policy, calendars: Mapping[str, BusinessCalendar]
) -> None:
    now = REPLY_DUE + timedelta(hours=3)
    snap = snapshot(policy, calendars, dispatched(), now)
    reminder = next(
        e for e in due_ladder_events(snap, [], now, policy, calendars) if e.kind is E.REMINDER
    )
    assert reminder.late


def test_no_chase_once_the_reply_came(
    policy: Policy, calendars: Mapping[str, BusinessCalendar]
) -> None:
    history = [*dispatched(), TimelineEvent(REPLY_DUE + timedelta(minutes=30), E.REPLIED)]
    now = sh(2026, 11, 4, 10, 30)  # past the escalation instant, had there been no reply
    snap = snapshot(policy, calendars, history, now, status=WorkOrderStatus.REPLIED)
    # The late reply is still recorded as a breach, but nobody is chased.
    assert keys(due_ladder_events(snap, [], now, policy, calendars)) == ["breach:reply:c0"]


def test_no_chase_for_other_categories(
    policy: Policy, calendars: Mapping[str, BusinessCalendar]
) -> None:
    now = sh(2026, 11, 6, 10)
    snap = snapshot(policy, calendars, dispatched(), now, category=RequestType.BILL_INQUIRY)
    found = keys(due_ladder_events(snap, [], now, policy, calendars))
    assert "breach:reply:c0" in found
    assert not any(key.startswith(("reminder", "escalation")) for key in found)


@pytest.mark.parametrize(
    ("source", "complaints", "expected"),
    [
        (WorkOrderSource.REGULATOR, 1, MajorSource.REGULATOR),
        (WorkOrderSource.MEDIA, 1, MajorSource.MEDIA),
        (WorkOrderSource.AGENT, 3, MajorSource.REPEAT_COMPLAINER),
        (WorkOrderSource.WEB_FORM, 4, MajorSource.REPEAT_COMPLAINER),
        (WorkOrderSource.AGENT, 2, None),
        (WorkOrderSource.VOICE_MESSAGE, 1, None),
    ],
)
def test_major_complaints_go_to_the_supervisor(
    policy: Policy,
    calendars: Mapping[str, BusinessCalendar],
    source: WorkOrderSource,
    complaints: int,
    expected: MajorSource | None,
) -> None:
    assert major_source(RequestType.COMPLAINT, source, complaints, policy) is expected
    now = CREATED + timedelta(minutes=1)
    history = [TimelineEvent(CREATED, E.CREATED)]
    snap = snapshot(policy, calendars, history, now, source=source, complaints=complaints)
    steps = due_ladder_events(snap, [], now, policy, calendars)
    if expected is None:
        assert steps == []
    else:
        (major,) = steps
        assert major.ladder_key == "major"
        assert major.kind is E.MAJOR_FLAGGED
        assert major.notify is Role.SUPERVISOR
        assert major.major_source is expected
        assert major.due_at == CREATED
        already = snapshot(
            policy, calendars, history, now, source=source, complaints=complaints, is_major=True
        )
        assert due_ladder_events(already, [], now, policy, calendars) == []


def test_only_complaints_are_major(policy: Policy) -> None:
    assert major_source(RequestType.FAULT_REPORT, WorkOrderSource.MEDIA, 5, policy) is None


def test_complaints_in_window(policy: Policy) -> None:
    now = sh(2026, 11, 30, 12)
    times = [now - timedelta(days=31), now - timedelta(days=29), now - timedelta(days=1), now]
    assert complaints_in_window(times, now, policy) == 3
    assert complaints_in_window([now + timedelta(days=1)], now, policy) == 0


def test_a_breach_after_reopen_is_a_new_step(
    policy: Policy, calendars: Mapping[str, BusinessCalendar]
) -> None:
    history = [
        TimelineEvent(CREATED, E.CREATED),
        TimelineEvent(DISPATCHED, E.DISPATCHED),
        TimelineEvent(sh(2026, 11, 2, 11), E.REPLIED),
        TimelineEvent(sh(2026, 11, 2, 11, 30), E.ACCEPTED),
        TimelineEvent(sh(2026, 11, 3, 16), E.CLOSED),
        TimelineEvent(sh(2026, 11, 9, 10), E.REOPENED),
        TimelineEvent(sh(2026, 11, 9, 10, 5), E.DISPATCHED),
    ]
    now = sh(2026, 11, 12, 10)
    snap = snapshot(policy, calendars, history, now)
    assert snap.cycle == 1
    found = keys(due_ladder_events(snap, [], now, policy, calendars))
    assert "breach:reply:c1" in found
    assert "reminder:reply:c1" in found
    assert "breach:reply:c0" not in found


def test_paused_work_order_is_not_warned_ahead(
    policy: Policy, calendars: Mapping[str, BusinessCalendar]
) -> None:
    history = [*dispatched(), TimelineEvent(sh(2026, 11, 2, 11), E.PAUSED)]
    now = sh(2026, 11, 9, 10)
    snap = snapshot(policy, calendars, history, now)
    assert due_ladder_events(snap, [], now, policy, calendars) == []


@settings(max_examples=60, deadline=None)
@given(
    history=histories(),
    now=offsets(40_000),
    category=st.sampled_from(list(RequestType)),
    source=st.sampled_from(list(WorkOrderSource)),
    complaints=st.integers(min_value=1, max_value=4),
)
def test_applying_the_ladder_twice_adds_nothing(
    policy: Policy,
    calendars: Mapping[str, BusinessCalendar],
    history: list[TimelineEvent],
    now: timedelta,
    category: RequestType,
    source: WorkOrderSource,
    complaints: int,
) -> None:
    instant = at(now)
    snap = snapshot(
        policy, calendars, history, instant, category=category, source=source, complaints=complaints
    )
    first = due_ladder_events(snap, [], instant, policy, calendars)
    assert len(set(keys(first))) == len(first)
    assert due_ladder_events(snap, keys(first), instant, policy, calendars) == []
    # The same instant again gives the same steps (the sweep is deterministic).
    assert due_ladder_events(snap, [], instant, policy, calendars) == first
    # Steps already stored are not repeated, the others still are.
    if first:
        rest = due_ladder_events(snap, keys(first[:1]), instant, policy, calendars)
        assert rest == first[1:]


@pytest.mark.parametrize(
    ("days_ago", "request_type", "expected"),
    [
        (1, RequestType.FAULT_REPORT, True),
        (6.9, RequestType.FAULT_REPORT, True),
        (7, RequestType.FAULT_REPORT, True),
        (7.1, RequestType.FAULT_REPORT, False),
        (1, RequestType.COMPLAINT, False),
        (-1, RequestType.FAULT_REPORT, False),  # a later contact does not count
    ],
)
def test_repeat_caller(
    policy: Policy, days_ago: float, request_type: RequestType, expected: bool
) -> None:
    now = sh(2026, 11, 10, 10)
    earlier = [PriorContact(now - timedelta(days=days_ago), request_type)]
    assert is_repeat_caller(RequestType.FAULT_REPORT, earlier, now, policy) is expected


def test_repeat_caller_needs_an_earlier_contact(policy: Policy) -> None:
    now = sh(2026, 11, 10, 10)
    assert not is_repeat_caller(RequestType.FAULT_REPORT, [], now, policy)
    assert not is_repeat_caller(RequestType.FAULT_REPORT, [PriorContact(now, None)], now, policy)


def test_headquarters_late_answer_is_a_breach_for_the_complaint_lead(
    policy: Policy, calendars: Mapping[str, BusinessCalendar]
) -> None:
    confirmed = sh(2026, 11, 4, 10)
    events = [*dispatched(), TimelineEvent(confirmed, E.ESCALATION_CONFIRMED)]
    now = sh(2026, 11, 6, 10, 1)  # just past headquarters' 900 office minutes
    due = due_ladder_events(snapshot(policy, calendars, events, now), set(), now, policy, calendars)
    (breach,) = [step for step in due if step.clock is ClockKind.HQ_REPLY and step.kind is E.BREACH]
    assert breach.ladder_key == "breach:hq_reply:c0"
    assert breach.due_at == sh(2026, 11, 6, 10)
    assert breach.notify is Role.COMPLAINT_LEAD
    keys = {step.ladder_key for step in due}
    again = due_ladder_events(
        snapshot(policy, calendars, events, now), keys, now, policy, calendars
    )
    assert again == []  # idempotent
