"""The work order's life as a rule: who may take which action from which state, and the
nearest deadline a queue sorts by."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from desk.rules.clocks import Clock
from desk.rules.permissions import ROLE_PERMISSIONS, Actor
from desk.rules.policy import load_policy
from desk.rules.vocab import ClockKind, ClockState, RequestType, Role, WorkOrderStatus
from desk.rules.work_orders import (
    ACTION_RULES,
    ESCALATION_CONFIRMED,
    ESCALATION_PROPOSED,
    Action,
    OrderState,
    Refusal,
    allowed_actions,
    is_overdue,
    is_satisfied,
    nearest_deadline,
    refusal,
)

POLICY = load_policy(None)
DEPARTMENT = 7


def actor(role: Role, department: int | None = None) -> Actor:
    return Actor(user_id=1, login=role.value, role=role, department_id=department)


def state(
    status: WorkOrderStatus,
    *,
    paused: bool = False,
    category: RequestType = RequestType.COMPLAINT,
    level: int = 0,
) -> OrderState:
    return OrderState(status, paused, category, DEPARTMENT, level)


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("role", list(Role))
def test_a_role_without_the_permission_is_refused_whatever_the_state(
    action: Action, role: Role
) -> None:
    rule = ACTION_RULES[action]
    held = ROLE_PERMISSIONS[role]
    for status in WorkOrderStatus:
        verdict = refusal(action, actor(role, DEPARTMENT), state(status), POLICY)
        if not rule.permissions & held:
            assert verdict is Refusal.ROLE


@pytest.mark.parametrize("action", list(Action))
def test_an_action_is_refused_from_a_status_it_does_not_leave(action: Action) -> None:
    rule = ACTION_RULES[action]
    role = next(r for r in Role if rule.permissions & ROLE_PERMISSIONS[r])
    for status in WorkOrderStatus:
        verdict = refusal(action, actor(role, DEPARTMENT), state(status), POLICY)
        if status not in rule.statuses:
            assert verdict is Refusal.STATUS


def test_the_life_of_an_order_by_role() -> None:
    lead, handler = actor(Role.LEAD), actor(Role.HANDLER, DEPARTMENT)
    agent, complaint = actor(Role.AGENT), actor(Role.COMPLAINT_LEAD)
    S = WorkOrderStatus
    assert Action.DISPATCH in allowed_actions(lead, state(S.NEW), POLICY)
    assert Action.DISPATCH in allowed_actions(lead, state(S.REOPENED), POLICY)
    assert Action.REPLY in allowed_actions(handler, state(S.DISPATCHED), POLICY)
    assert {Action.ACCEPT, Action.RETURN} <= allowed_actions(lead, state(S.REPLIED), POLICY)
    assert Action.CALLBACK_RESULT in allowed_actions(agent, state(S.CALLBACK), POLICY)
    assert Action.REOPEN in allowed_actions(lead, state(S.CLOSED), POLICY)
    assert Action.REMIND in allowed_actions(complaint, state(S.DISPATCHED), POLICY)
    assert allowed_actions(agent, state(S.NEW), POLICY) == {Action.NOTE}


def test_a_handler_acts_only_on_their_own_departments_orders() -> None:
    other = actor(Role.HANDLER, DEPARTMENT + 1)
    order = state(WorkOrderStatus.DISPATCHED)
    assert refusal(Action.REPLY, other, order, POLICY) is Refusal.OTHER_DEPARTMENT
    assert refusal(Action.PAUSE, other, order, POLICY) is Refusal.OTHER_DEPARTMENT
    assert refusal(Action.NOTE, other, order, POLICY) is Refusal.OTHER_DEPARTMENT
    mine = actor(Role.HANDLER, DEPARTMENT)
    assert refusal(Action.PAUSE, mine, order, POLICY) is None


def test_a_paused_order_is_resumed_before_it_moves_on() -> None:
    lead = actor(Role.LEAD)
    paused = state(WorkOrderStatus.NEW, paused=True)
    assert refusal(Action.DISPATCH, lead, paused, POLICY) is Refusal.PAUSED
    assert refusal(Action.PAUSE, lead, paused, POLICY) is Refusal.PAUSED
    assert refusal(Action.RESUME, lead, paused, POLICY) is None
    assert refusal(Action.CLOSE, lead, paused, POLICY) is None
    running = state(WorkOrderStatus.NEW)
    assert refusal(Action.RESUME, lead, running, POLICY) is Refusal.NOT_PAUSED


def test_the_chase_steps_follow_each_other_and_only_for_chased_categories() -> None:
    complaint = actor(Role.COMPLAINT_LEAD)
    supervisor = actor(Role.SUPERVISOR)
    S = WorkOrderStatus.DISPATCHED
    fault = state(S, category=RequestType.FAULT_REPORT)
    assert refusal(Action.REMIND, complaint, fault, POLICY) is Refusal.NOT_CHASED
    assert refusal(Action.PROPOSE_ESCALATION, complaint, state(S), POLICY) is None
    assert refusal(Action.CONFIRM_ESCALATION, complaint, state(S), POLICY) is (
        Refusal.ESCALATION_LEVEL
    )
    proposed = state(S, level=ESCALATION_PROPOSED)
    assert refusal(Action.PROPOSE_ESCALATION, complaint, proposed, POLICY) is (
        Refusal.ESCALATION_LEVEL
    )
    assert refusal(Action.CONFIRM_ESCALATION, complaint, proposed, POLICY) is None
    # The supervisor chases, but only the complaint lead confirms the escalation.
    assert refusal(Action.CONFIRM_ESCALATION, supervisor, proposed, POLICY) is Refusal.ROLE
    confirmed = state(S, level=ESCALATION_CONFIRMED)
    assert refusal(Action.HQ_ANSWER, complaint, confirmed, POLICY) is None
    assert refusal(Action.HQ_ANSWER, complaint, proposed, POLICY) is Refusal.ESCALATION_LEVEL


@pytest.mark.parametrize(("score", "satisfied"), [(1, False), (3, False), (4, True), (5, True)])
def test_satisfied_from_four_of_five(score: int, satisfied: bool) -> None:
    assert is_satisfied(score) is satisfied


T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)


def clock(kind: ClockKind, state_: ClockState, due_minutes: int | None) -> Clock:
    due = T0 + timedelta(minutes=due_minutes) if due_minutes is not None else None
    return Clock(
        kind=kind,
        calendar="center",
        state=state_,
        budget=timedelta(minutes=60),
        started_at=T0,
        due_at=due,
        due_cycle=0,
        warn_at=None,
        warn_cycle=None,
        breached=False,
        remaining=timedelta(0),
        stopped_at=None,
    )


@given(
    st.lists(
        st.tuples(
            st.sampled_from(list(ClockKind)),
            st.sampled_from(list(ClockState)),
            st.one_of(st.none(), st.integers(-10_000, 10_000)),
        ),
        max_size=4,
    )
)
def test_the_nearest_deadline_is_the_earliest_awaited_one(
    specs: list[tuple[ClockKind, ClockState, int | None]],
) -> None:
    clocks = [clock(*spec) for spec in specs]
    found = nearest_deadline(clocks)
    awaited = [
        c.due_at
        for c in clocks
        if c.state in (ClockState.RUNNING, ClockState.PAUSED) and c.due_at is not None
    ]
    assert found.at == (min(awaited) if awaited else None)
    if found.at is None:
        assert found.clock is None
    else:
        assert any(c.kind is found.clock and c.due_at == found.at for c in clocks)


@pytest.mark.parametrize(
    ("offset", "overdue"),
    [
        (None, False),
        (timedelta(minutes=1), False),
        (timedelta(0), True),
        (-timedelta(days=3), True),
    ],
)
def test_an_order_is_overdue_from_the_instant_its_nearest_deadline_is_reached(
    offset: timedelta | None, overdue: bool
) -> None:
    now = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    assert is_overdue(None if offset is None else now + offset, now) is overdue


@given(
    st.lists(
        st.tuples(st.sampled_from(list(ClockState)), st.integers(-10_000, 10_000)), max_size=4
    ),
    st.integers(-10_000, 10_000),
)
def test_overdue_is_a_missed_awaited_clock(
    clocks: list[tuple[ClockState, int]], at_minutes: int
) -> None:
    """Overdue by the nearest deadline = some running or paused clock's deadline is reached."""
    now = T0 + timedelta(minutes=at_minutes)
    made = [clock(ClockKind.REPLY, state_, due) for state_, due in clocks]
    awaited_missed = any(
        c.state in (ClockState.RUNNING, ClockState.PAUSED)
        and c.due_at is not None
        and c.due_at <= now
        for c in made
    )
    assert is_overdue(nearest_deadline(made).at, now) is awaited_missed
