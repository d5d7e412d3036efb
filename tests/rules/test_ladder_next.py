"""What the ladder brings later, and when: the plan the sweep stores per work order.

The properties: measured at ``now`` with the steps already taken, :func:`next_ladder_instant`
names an instant before which :func:`due_ladder_events` (re-measured from the same history)
returns nothing new, and at which it returns something (None: nothing ever, as long as the
history stays the same); and at every later instant, :func:`planned_ladder_steps` holds
exactly what :func:`due_ladder_events` returns then, field for field.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from desk.rules.calendar import BusinessCalendar
from desk.rules.clocks import TimelineEvent
from desk.rules.ladder import (
    WorkOrderSnapshot,
    due_ladder_events,
    next_ladder_instant,
    planned_ladder_steps,
    snapshot_from_history,
)
from desk.rules.policy import Policy
from desk.rules.vocab import (
    Channel,
    DepartmentKind,
    EventKind,
    Priority,
    RequestType,
    WorkOrderSource,
    WorkOrderStatus,
)
from tests.rules.conftest import sh
from tests.rules.timelines import at, histories, offsets

E = EventKind
CREATED = sh(2026, 11, 2, 10)  # a Monday
DISPATCHED = sh(2026, 11, 2, 10, 20)
REPLY_DUE = sh(2026, 11, 3, 10, 20)  # 450 office minutes after the dispatch
US = timedelta(microseconds=1)


def due(
    policy: Policy,
    calendars: Mapping[str, BusinessCalendar],
    history: list[TimelineEvent],
    now: datetime,
    keys: set[str],
    *,
    category: RequestType = RequestType.COMPLAINT,
    status: WorkOrderStatus = WorkOrderStatus.DISPATCHED,
    source: WorkOrderSource = WorkOrderSource.AGENT,
    priority: Priority = Priority.NORMAL,
    channel: Channel = Channel.PHONE,
    department_kind: DepartmentKind | None = DepartmentKind.BRANCH,
    complaints: int = 1,
) -> tuple[list[str], datetime | None]:
    """The keys due at ``now`` and the next instant, from the history as it stands."""
    snap = snapshot_from_history(
        work_order_id=1,
        category=category,
        priority=priority,
        channel=channel,
        status=status,
        source=source,
        is_major=False,
        department_id=3,
        department_kind=department_kind,
        events=history,
        now=now,
        policy=policy,
        calendars=calendars,
        customer_complaints_in_window=complaints,
    )
    steps = due_ladder_events(snap, keys, now, policy, calendars)
    later = next_ladder_instant(snap, keys, now, policy, calendars)
    assert next_ladder_instant(snap, keys, now, policy, calendars, due_now=steps) == later
    return [step.ladder_key for step in steps], later


def dispatched() -> list[TimelineEvent]:
    return [TimelineEvent(CREATED, E.CREATED), TimelineEvent(DISPATCHED, E.DISPATCHED)]


def test_a_new_work_order_is_next_warned_at_eighty_percent_of_the_dispatch_clock(
    policy: Policy, calendars: Mapping[str, BusinessCalendar]
) -> None:
    history = [TimelineEvent(CREATED, E.CREATED)]
    found, after = due(policy, calendars, history, CREATED, set())
    assert found == []
    assert after == CREATED + timedelta(minutes=24)  # 80 % of 30 centre minutes
    found, after = due(policy, calendars, history, CREATED + timedelta(minutes=24), set())
    assert found == ["warning:dispatch:c0"]
    assert after == CREATED + timedelta(minutes=30)  # then the breach


def test_steps_due_now_count_as_taken(
    policy: Policy, calendars: Mapping[str, BusinessCalendar]
) -> None:
    now = CREATED + timedelta(minutes=25)
    history = [TimelineEvent(CREATED, E.CREATED)]
    _, without = due(policy, calendars, history, now, set())
    _, stored = due(policy, calendars, history, now, {"warning:dispatch:c0"})
    assert without == stored == CREATED + timedelta(minutes=30)


def test_the_chase_follows_the_reply_breach(
    policy: Policy, calendars: Mapping[str, BusinessCalendar]
) -> None:
    # Dispatched at 10:20 on Monday: the dispatch clock stopped in time, the reply clock
    # (450 office minutes) warns at 360 minutes, Tuesday 08:50, before the resolution clock.
    found, after = due(policy, calendars, dispatched(), DISPATCHED, set())
    assert found == []
    assert after == sh(2026, 11, 3, 8, 50)
    keys: set[str] = set()
    instant = DISPATCHED
    seen: list[tuple[datetime, list[str]]] = []
    for _ in range(6):
        found, after = due(policy, calendars, dispatched(), instant, keys)
        keys.update(found)
        if found:
            seen.append((instant, found))
        if after is None:
            break
        instant = after
    assert seen[0] == (sh(2026, 11, 3, 8, 50), ["warning:reply:c0"])
    assert seen[1] == (REPLY_DUE, ["breach:reply:c0", "reminder:reply:c0"])
    assert seen[2] == (sh(2026, 11, 4, 10, 20), ["escalation:reply:c0"])


def test_nothing_moves_while_paused_or_closed(
    policy: Policy, calendars: Mapping[str, BusinessCalendar]
) -> None:
    paused = [*dispatched(), TimelineEvent(sh(2026, 11, 2, 11), E.PAUSED)]
    assert due(policy, calendars, paused, sh(2026, 11, 20, 10), set()) == ([], None)
    closed = [*dispatched(), TimelineEvent(sh(2026, 11, 2, 11), E.CLOSED)]
    assert due(
        policy, calendars, closed, sh(2026, 11, 20, 10), set(), status=WorkOrderStatus.CLOSED
    ) == ([], None)


def test_a_major_complaint_is_flagged_once_and_never_again(
    policy: Policy, calendars: Mapping[str, BusinessCalendar]
) -> None:
    history = [
        TimelineEvent(CREATED, E.CREATED),
        TimelineEvent(DISPATCHED, E.DISPATCHED),
        TimelineEvent(sh(2026, 11, 2, 11), E.PAUSED),
    ]
    now = sh(2026, 11, 2, 12)
    found, after = due(policy, calendars, history, now, set(), source=WorkOrderSource.REGULATOR)
    assert found == ["major"]
    assert after is None


def chase_later(policy: Policy) -> Policy:
    """The shipped policy with the reminder 45 minutes after the breach and warnings at 50 %."""
    return policy.model_copy(
        update={
            "chase": policy.chase.model_copy(update={"reminder_after_minutes": 45}),
            "sla": policy.sla.model_copy(update={"warning_percent": 50.0}),
        }
    )


def test_a_later_reminder_is_an_instant_of_its_own(
    policy: Policy, calendars: Mapping[str, BusinessCalendar]
) -> None:
    later = chase_later(policy)
    found, after = due(later, calendars, dispatched(), REPLY_DUE, set())
    assert found == ["breach:reply:c0"]
    assert after == REPLY_DUE + timedelta(minutes=45)


@settings(max_examples=80, deadline=None)
@given(
    variant=st.booleans(),
    history=histories(),
    now=offsets(40_000),
    earlier=st.integers(min_value=0, max_value=6_000),
    category=st.sampled_from(list(RequestType)),
    source=st.sampled_from(list(WorkOrderSource)),
    priority=st.sampled_from(list(Priority)),
    department_kind=st.sampled_from([None, *DepartmentKind]),
    complaints=st.integers(min_value=1, max_value=4),
    probes=st.lists(st.floats(min_value=0, max_value=1, exclude_max=True), max_size=4),
)
def test_nothing_new_before_the_next_instant_and_something_at_it(
    policy: Policy,
    calendars: Mapping[str, BusinessCalendar],
    variant: bool,
    history: list[TimelineEvent],
    now: timedelta,
    earlier: int,
    category: RequestType,
    source: WorkOrderSource,
    priority: Priority,
    department_kind: DepartmentKind | None,
    complaints: int,
    probes: list[float],
) -> None:
    if variant:
        policy = chase_later(policy)
    instant = at(now)
    known = [event for event in history if event.at <= instant]  # the history stays as it is
    status = WorkOrderStatus.CLOSED if known[-1].kind is E.CLOSED else WorkOrderStatus.DISPATCHED

    def measure(moment: datetime, keys: set[str]) -> tuple[list[str], datetime | None]:
        return due(
            policy,
            calendars,
            known,
            moment,
            keys,
            category=category,
            status=status,
            source=source,
            priority=priority,
            department_kind=department_kind,
            complaints=complaints,
        )

    # Some steps were taken by an earlier sweep, some are due now.
    taken, _ = measure(max(CREATED, instant - timedelta(minutes=earlier)), set())
    keys = set(taken)
    found, after = measure(instant, keys)
    keys.update(found)

    horizon = after if after is not None else instant + timedelta(days=60)
    span = horizon - instant
    moments = [instant + span * fraction for fraction in probes]
    if after is not None and span > US:
        moments.append(after - US)
    for moment in moments:
        if moment <= instant or (after is not None and moment >= after):
            continue
        nothing, _ = measure(moment, keys)
        assert nothing == [], f"{nothing} due at {moment}, before {after}"
    if after is not None:
        assert after > instant
        something, _ = measure(after, keys)
        assert something, f"nothing due at the next instant {after}"


@settings(max_examples=80, deadline=None)
@given(
    variant=st.booleans(),
    history=histories(),
    now=offsets(40_000),
    category=st.sampled_from(list(RequestType)),
    priority=st.sampled_from(list(Priority)),
    channel=st.sampled_from([Channel.PHONE, Channel.VIP_LINE]),
    department_kind=st.sampled_from([None, *DepartmentKind]),
    later=st.lists(st.integers(min_value=1, max_value=30 * 24 * 60), max_size=3),
)
def test_the_plan_is_what_the_ladder_returns_at_every_later_instant(
    policy: Policy,
    calendars: Mapping[str, BusinessCalendar],
    variant: bool,
    history: list[TimelineEvent],
    now: timedelta,
    category: RequestType,
    priority: Priority,
    channel: Channel,
    department_kind: DepartmentKind | None,
    later: list[int],
) -> None:
    if variant:
        policy = chase_later(policy)
    instant = at(now)
    known = [event for event in history if event.at <= instant]
    status = WorkOrderStatus.CLOSED if known[-1].kind is E.CLOSED else WorkOrderStatus.DISPATCHED

    def snap(moment: datetime) -> WorkOrderSnapshot:
        return snapshot_from_history(
            work_order_id=9,
            category=category,
            priority=priority,
            channel=channel,
            status=status,
            source=WorkOrderSource.AGENT,
            is_major=False,
            department_id=4,
            department_kind=department_kind,
            events=known,
            now=moment,
            policy=policy,
            calendars=calendars,
        )

    keys = {step.ladder_key for step in due_ladder_events(snap(instant), set(), instant, policy)}
    plan = planned_ladder_steps(snap(instant), keys, instant, policy, calendars)
    assert all(step.event.due_at > instant for step in plan)
    assert len({step.event.ladder_key for step in plan}) == len(plan)
    moments = [instant + timedelta(minutes=minutes) for minutes in later]
    for step in plan:
        moments.append(step.event.due_at)
        if step.until is not None:
            moments.extend([step.until - US, step.until])
        if step.event.deadline is not None:
            moments.extend([step.event.deadline, step.event.deadline + US])
    for moment in moments:
        expected = due_ladder_events(snap(moment), keys, moment, policy, calendars)
        assert [step.as_of(moment) for step in plan if step.is_due(moment)] == expected, moment


def test_the_plan_of_a_dispatched_complaint(
    policy: Policy, calendars: Mapping[str, BusinessCalendar]
) -> None:
    snap = snapshot_from_history(
        work_order_id=1,
        category=RequestType.COMPLAINT,
        priority=Priority.NORMAL,
        channel=Channel.PHONE,
        status=WorkOrderStatus.DISPATCHED,
        source=WorkOrderSource.AGENT,
        is_major=False,
        department_id=3,
        department_kind=DepartmentKind.BRANCH,
        events=dispatched(),
        now=DISPATCHED,
        policy=policy,
        calendars=calendars,
    )
    plan = planned_ladder_steps(snap, set(), DISPATCHED, policy, calendars)
    assert [(s.event.ladder_key, s.event.due_at, s.until, s.late_after) for s in plan] == [
        ("warning:reply:c0", sh(2026, 11, 3, 8, 50), REPLY_DUE, None),
        ("breach:reply:c0", REPLY_DUE, None, None),
        ("reminder:reply:c0", REPLY_DUE, None, REPLY_DUE + timedelta(hours=2)),
        ("escalation:reply:c0", sh(2026, 11, 4, 10, 20), None, None),
        ("warning:resolution:c0", sh(2026, 11, 4, 14, 30), sh(2026, 11, 5, 10), None),
        ("breach:resolution:c0", sh(2026, 11, 5, 10), None, None),
    ]
    reminder = plan[2]
    assert not reminder.as_of(REPLY_DUE + timedelta(hours=2)).late
    assert reminder.as_of(REPLY_DUE + timedelta(hours=2, microseconds=1)).late
    assert plan[0].is_due(REPLY_DUE - US)
    assert not plan[0].is_due(REPLY_DUE)
