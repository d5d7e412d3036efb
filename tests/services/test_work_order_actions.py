"""Every action of a work order's life through the services, on SQLite and PostgreSQL: the
whole life across roles, the complaint chase, callbacks, pauses, reopening, mass faults; the
role × action matrix; two people saving the same order; the sweep and the console never
doubling an event.

The test clock stands at Monday 2026-11-02 10:00 in Shanghai.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from desk.clock import FixedClock
from desk.infra.database import Database
from desk.infra.errors import InvalidInput, PermissionDenied
from desk.models import Callback, WorkOrder, WorkOrderEvent
from desk.rules.permissions import ROLE_PERMISSIONS, Actor
from desk.rules.vocab import (
    CallbackStatus,
    Channel,
    ClockKind,
    ClockState,
    EventKind,
    Priority,
    RequestType,
    Role,
    WaitingReason,
    WorkOrderSource,
    WorkOrderStatus,
)
from desk.rules.work_orders import ACTION_RULES, Action
from desk.services import work_order_actions as woa
from desk.services import work_orders as wo
from desk.services.sweep import run_sweep
from desk.services.work_order_actions import ActionNotNow
from desk.services.work_orders import (
    WorkOrderChanged,
    WorkOrderDraft,
    WorkOrderView,
    work_order_detail,
)
from tests.floor_world import POLICY, Floor, build_floor

S = WorkOrderStatus
E = EventKind


@pytest.fixture
def floor(db: Database) -> Floor:
    return build_floor(db)


class Life:
    """Moves one work order along its life through the services, as people would."""

    def __init__(self, db: Database, floor: Floor) -> None:
        self.db = db
        self.floor = floor
        self.view: WorkOrderView | None = None

    @property
    def id(self) -> int:
        assert self.view is not None
        return self.view.id

    @property
    def version(self) -> int:
        assert self.view is not None
        return self.view.version

    def who(self, login: str) -> Actor:
        return self.floor.actor(login)

    def create(
        self, category: RequestType = RequestType.COMPLAINT, customer: int | None = None
    ) -> Life:
        self.view = wo.create_work_order(
            self.db,
            actor=self.who("agent1"),
            draft=WorkOrderDraft(
                customer_id=customer or self.floor.customers[0],
                contact_id=None,
                category=category,
                topic=None,
                title="宽带断网",
                description="家中宽带从昨晚起无法上网",
                priority=Priority.NORMAL,
                department_id=None,
                callback_number=None,
                channel=Channel.PHONE,
                source=WorkOrderSource.AGENT,
                consent=True,
            ),
            policy=POLICY,
        )
        return self

    def dispatch(self, to: int | None = None, login: str = "lead1") -> Life:
        self.view = woa.dispatch_work_order(
            self.db,
            actor=self.who(login),
            work_order_id=self.id,
            version=self.version,
            department_id=to or self.floor.branch,
            note="请尽快处理",
            policy=POLICY,
        )
        return self

    def reply(self, login: str = "handler2") -> Life:
        self.view = woa.reply_work_order(
            self.db,
            actor=self.who(login),
            work_order_id=self.id,
            version=self.version,
            reply="已派人上门,线路已修复",
            policy=POLICY,
        )
        return self

    def accept(self) -> Life:
        self.view = woa.accept_reply(
            self.db,
            actor=self.who("lead1"),
            work_order_id=self.id,
            version=self.version,
            note=None,
            policy=POLICY,
        )
        return self

    def give_back(self) -> Life:
        self.view = woa.return_reply(
            self.db,
            actor=self.who("lead1"),
            work_order_id=self.id,
            version=self.version,
            reason="回复未说明修复时间",
            policy=POLICY,
        )
        return self

    def call(self, reached: bool, satisfaction: int | None = None, login: str = "lead1") -> Life:
        self.view = woa.record_callback_result(
            self.db,
            actor=self.who(login),
            work_order_id=self.id,
            version=self.version,
            reached=reached,
            satisfaction=satisfaction,
            note="回访",
            policy=POLICY,
        )
        return self

    def reopen(self) -> Life:
        self.view = woa.reopen_work_order(
            self.db,
            actor=self.who("lead1"),
            work_order_id=self.id,
            version=self.version,
            reason="客户不满意,重新处理",
            policy=POLICY,
        )
        return self

    def detail(self, login: str = "lead1") -> wo.WorkOrderDetail:
        return work_order_detail(
            self.db, actor=self.who(login), work_order_id=self.id, policy=POLICY
        )

    def kinds(self) -> list[str]:
        return [event.kind.value for event in self.detail().events]


def events_of(db: Database, work_order_id: int) -> list[WorkOrderEvent]:
    return db.run(
        lambda s: list(
            s.exec(
                select(WorkOrderEvent)
                .where(WorkOrderEvent.work_order_id == work_order_id)
                .order_by(col(WorkOrderEvent.id))
            ).all()
        ),
        write=False,
    )


def callbacks_of(db: Database, work_order_id: int) -> list[Callback]:
    return db.run(
        lambda s: list(
            s.exec(select(Callback).where(Callback.work_order_id == work_order_id)).all()
        ),
        write=False,
    )


# --- the whole life ---------------------------------------------------------------------------


def test_a_work_orders_whole_life_across_roles(
    db: Database, floor: Floor, clock: FixedClock
) -> None:
    life = Life(db, floor).create(RequestType.FAULT_REPORT)
    clock.advance(timedelta(minutes=10))
    life.dispatch()
    assert life.view is not None
    assert life.view.status is S.DISPATCHED
    assert life.view.department_id == floor.branch
    assert life.view.next_clock is ClockKind.REPLY  # the department owes the reply now
    clock.advance(timedelta(hours=1))
    life.reply()
    clock.advance(timedelta(minutes=5))
    life.give_back()
    assert life.view.status is S.DISPATCHED
    clock.advance(timedelta(minutes=30))
    life.reply()
    clock.advance(timedelta(minutes=5))
    life.accept()
    assert life.view.status is S.CALLBACK
    assert life.view.next_clock is ClockKind.CALLBACK
    (callback,) = callbacks_of(db, life.id)
    assert callback.status == CallbackStatus.PENDING.value
    assert callback.owner_id is None  # anyone on the shift
    detail = life.detail()
    # The callback is due the next day from 15:30 (office calendar), within 120 minutes.
    assert callback.due_at == detail.order.next_due
    assert callback.due_at.astimezone(POLICY_TZ).strftime("%m-%d %H:%M") == "11-03 17:30"
    clock.advance(timedelta(days=1, hours=6))
    life.call(reached=True, satisfaction=2)
    assert life.view.status is S.CLOSED
    (callback,) = callbacks_of(db, life.id)
    assert callback.status == CallbackStatus.DONE.value
    assert callback.satisfaction == 2
    clock.advance(timedelta(hours=2))
    life.reopen()
    assert life.view.status is S.REOPENED
    assert life.kinds() == [
        "created",
        "dispatched",
        "replied",
        "rejected",
        "replied",
        "accepted",
        "callback_attempt",
        "closed",
        "reopened",
    ]
    detail = life.detail()
    assert detail.redispatch_count == 1
    assert detail.cycle == 1
    assert [e.actor_name for e in detail.events] == [
        "李小红",
        "王班长",
        "吴分局",
        "王班长",
        "吴分局",
        "王班长",
        "王班长",
        "王班长",
        "王班长",
    ]
    assert Action.DISPATCH in detail.allowed


POLICY_TZ = __import__("zoneinfo").ZoneInfo("Asia/Shanghai")


def test_reopening_resumes_each_clock_with_the_time_it_had_left(
    db: Database, floor: Floor, clock: FixedClock
) -> None:
    """Dispatch took 10 of its 30 minutes; after the reopen, 20 are left."""
    life = Life(db, floor).create()
    clock.advance(timedelta(minutes=10))
    life.dispatch().reply()
    life.accept()
    life.call(reached=True, satisfaction=1)
    clock.advance(timedelta(hours=3))
    life.reopen()
    clocks = {c.kind: c for c in life.detail().clocks}
    assert clocks[ClockKind.DISPATCH].state is ClockState.RUNNING
    assert clocks[ClockKind.DISPATCH].remaining == timedelta(minutes=20)


def test_three_unreachable_attempts_close_the_order_as_unreachable(
    db: Database, floor: Floor, clock: FixedClock
) -> None:
    life = Life(db, floor).create().dispatch().reply().accept()
    for attempt in range(1, 4):
        clock.advance(timedelta(hours=2))
        life.call(reached=False, login="agent1")
        assert life.view is not None
        expected = S.CLOSED if attempt == 3 else S.CALLBACK
        assert life.view.status is expected
    (callback,) = callbacks_of(db, life.id)
    assert callback.status == CallbackStatus.FAILED.value
    assert callback.attempts == 3
    closed = events_of(db, life.id)[-1]
    assert closed.kind == E.CLOSED.value
    assert closed.data == {"reached": False, "unreachable": True, "attempts": 3}


def test_a_reached_callback_needs_a_satisfaction(db: Database, floor: Floor) -> None:
    life = Life(db, floor).create().dispatch().reply().accept()
    with pytest.raises(InvalidInput) as error:
        life.call(reached=True, satisfaction=None)
    assert error.value.field == "satisfaction"
    with pytest.raises(InvalidInput):
        life.call(reached=True, satisfaction=6)


def test_a_pause_stops_the_clocks_until_resumed(
    db: Database, floor: Floor, clock: FixedClock
) -> None:
    life = Life(db, floor).create().dispatch(to=floor.branch)
    clock.advance(timedelta(minutes=60))
    life.view = woa.pause_work_order(
        db,
        actor=floor.actor("lead1"),
        work_order_id=life.id,
        version=life.version,
        reason=WaitingReason.WAITING_FOR_CUSTOMER,
        note="客户出差,下周提供资料",
        policy=POLICY,
    )
    assert life.view.waiting_reason is WaitingReason.WAITING_FOR_CUSTOMER
    with pytest.raises(ActionNotNow):
        life.reply(login="handler2")  # resume first
    paused = {c.kind: c for c in life.detail().clocks}[ClockKind.REPLY]
    assert paused.state is ClockState.PAUSED
    clock.advance(timedelta(hours=5))
    life.view = woa.resume_work_order(
        db,
        actor=floor.actor("lead1"),
        work_order_id=life.id,
        version=life.version,
        note="客户已提供资料",
        policy=POLICY,
    )
    reply = {c.kind: c for c in life.detail().clocks}[ClockKind.REPLY]
    assert reply.state is ClockState.RUNNING
    # 60 of the 450 office minutes were used before the pause; the pause counted nothing.
    assert reply.remaining == timedelta(minutes=450 - 60)


def test_a_handler_pauses_and_replies_only_for_their_department(db: Database, floor: Floor) -> None:
    life = Life(db, floor).create().dispatch(to=floor.branch)
    with pytest.raises(PermissionDenied):
        woa.pause_work_order(
            db,
            actor=floor.actor("handler1"),
            work_order_id=life.id,
            version=life.version,
            reason=WaitingReason.CUSTOMER_UNREACHABLE,
            note=None,
            policy=POLICY,
        )
    with pytest.raises(PermissionDenied):
        life.reply(login="handler1")
    life.view = woa.pause_work_order(
        db,
        actor=floor.actor("handler2"),
        work_order_id=life.id,
        version=life.version,
        reason=WaitingReason.CUSTOMER_UNREACHABLE,
        note=None,
        policy=POLICY,
    )
    assert life.view.waiting_reason is WaitingReason.CUSTOMER_UNREACHABLE


# --- the complaint chase -----------------------------------------------------------------------


def test_the_complaint_chase_reminder_escalation_and_hqs_answer(
    db: Database, floor: Floor, clock: FixedClock
) -> None:
    life = Life(db, floor).create().dispatch(to=floor.branch)
    # The reply is due 450 office minutes after 10:00 Monday: Tuesday 10:00. Past it:
    clock.advance(timedelta(days=1, minutes=5))
    life.view = woa.send_reminder(
        db,
        actor=floor.actor("complaint1"),
        work_order_id=life.id,
        version=life.version,
        note="请今天内回复",
        policy=POLICY,
    )
    assert life.view.escalation_level == 1
    reminder = [e for e in events_of(db, life.id) if e.kind == E.REMINDER.value]
    assert len(reminder) == 1
    assert reminder[0].ladder_key == "reminder:reply:c0"  # the ladder's own reminder
    assert reminder[0].data["late"] is False  # within 2 hours of the breach
    assert reminder[0].actor_id == floor.actor("complaint1").user_id
    # The sweep stores the breach but never a second reminder.
    report = run_sweep(db, actor=floor.actor("admin1"), policy=POLICY)
    assert report.inserted[E.REMINDER.value] == 0
    assert report.inserted[E.BREACH.value] >= 1
    life.view = work_order_detail(
        db, actor=floor.actor("complaint1"), work_order_id=life.id, policy=POLICY
    ).order
    # A supervisor chases but may not escalate to headquarters; the complaint lead proposes.
    with pytest.raises(PermissionDenied):
        woa.confirm_escalation(
            db,
            actor=floor.actor("supervisor1"),
            work_order_id=life.id,
            version=life.version,
            note=None,
            policy=POLICY,
        )
    with pytest.raises(ActionNotNow):  # not proposed yet
        woa.confirm_escalation(
            db,
            actor=floor.actor("complaint1"),
            work_order_id=life.id,
            version=life.version,
            note=None,
            policy=POLICY,
        )
    life.view = woa.propose_escalation(
        db,
        actor=floor.actor("complaint1"),
        work_order_id=life.id,
        version=life.version,
        reason="分公司无法解决",
        policy=POLICY,
    )
    assert life.view.escalation_level == 2
    life.view = woa.confirm_escalation(
        db,
        actor=floor.actor("complaint1"),
        work_order_id=life.id,
        version=life.version,
        note="升级省公司",
        policy=POLICY,
    )
    assert life.view.escalation_level == 3
    assert life.view.department_id == floor.hq
    # Later, when the ladder's escalation falls due, the sweep does not propose it again.
    clock.advance(timedelta(days=3))
    report = run_sweep(db, actor=floor.actor("admin1"), policy=POLICY)
    assert report.inserted[E.ESCALATION_PROPOSED.value] == 0
    life.view = work_order_detail(
        db, actor=floor.actor("complaint1"), work_order_id=life.id, policy=POLICY
    ).order
    life.view = woa.record_hq_answer(
        db,
        actor=floor.actor("complaint1"),
        work_order_id=life.id,
        version=life.version,
        answer="省公司核实后退还全部费用",
        policy=POLICY,
    )
    assert life.view.status is S.REPLIED
    kinds = [e.kind for e in events_of(db, life.id)]
    assert kinds.count(E.ESCALATION_PROPOSED.value) == 1
    assert kinds.count(E.REMINDER.value) == 1
    life.accept()
    assert life.view.status is S.CALLBACK


def test_headquarters_reply_clock_runs_from_the_confirmation_and_the_sweep_breaches_it(
    db: Database, floor: Floor, clock: FixedClock
) -> None:
    """Confirmed to headquarters, the department's reply clock stops and headquarters'
    starts with the policy's ``chase.hq_reply_due``; the sweep breaches it once when it runs
    out (and a second sweep changes nothing); HQ's answer stops it."""
    from desk.rules.calendar import add_business_time, calendars_from_policy

    life = Life(db, floor).create().dispatch(to=floor.branch)
    clock.advance(timedelta(days=1, minutes=5))  # past the reply's deadline
    run_sweep(db, actor=floor.actor("admin1"), policy=POLICY)
    life.view = life.detail("complaint1").order
    for act in (woa.propose_escalation, woa.confirm_escalation):
        text = {"reason": "分公司无法解决"} if act is woa.propose_escalation else {"note": None}
        life.view = act(  # type: ignore[operator]
            db,
            actor=floor.actor("complaint1"),
            work_order_id=life.id,
            version=life.version,
            policy=POLICY,
            **text,
        )
    confirmed = clock.now()
    clocks = {c.kind: c for c in life.detail("complaint1").clocks}
    hq = clocks[ClockKind.HQ_REPLY]
    office = calendars_from_policy(POLICY)["office"]
    due = add_business_time(confirmed, timedelta(minutes=POLICY.chase.hq_reply_due), office)
    assert hq.state is ClockState.RUNNING
    assert hq.due_at == due
    assert clocks[ClockKind.REPLY].state is ClockState.STOPPED
    assert clocks[ClockKind.REPLY].breached
    clock.advance(due - confirmed + timedelta(minutes=1))
    report = run_sweep(db, actor=floor.actor("admin1"), policy=POLICY)
    assert report.inserted[E.BREACH.value] >= 1
    breaches = [e for e in events_of(db, life.id) if e.ladder_key == "breach:hq_reply:c0"]
    assert len(breaches) == 1
    version = life.detail("complaint1").order.version
    again = run_sweep(db, actor=floor.actor("admin1"), policy=POLICY)
    assert sum(again.inserted.values()) == 0
    assert life.detail("complaint1").order.version == version  # nothing rewritten
    life.view = life.detail("complaint1").order
    life.view = woa.record_hq_answer(
        db,
        actor=floor.actor("complaint1"),
        work_order_id=life.id,
        version=life.version,
        answer="省公司核实后退还全部费用",
        policy=POLICY,
    )
    hq = {c.kind: c for c in life.detail("complaint1").clocks}[ClockKind.HQ_REPLY]
    assert hq.state is ClockState.STOPPED
    assert hq.breached


def test_a_reminder_the_sweep_already_sent_is_followed_by_the_complaint_leads_own(
    db: Database, floor: Floor, clock: FixedClock
) -> None:
    life = Life(db, floor).create().dispatch(to=floor.branch)
    clock.advance(timedelta(days=1, minutes=5))
    report = run_sweep(db, actor=floor.actor("admin1"), policy=POLICY)
    assert report.inserted[E.REMINDER.value] == 1
    life.view = life.detail("complaint1").order  # the sweep raised the version
    life.view = woa.send_reminder(
        db,
        actor=floor.actor("complaint1"),
        work_order_id=life.id,
        version=life.version,
        note="再次督促",
        policy=POLICY,
    )
    reminders = [e for e in events_of(db, life.id) if e.kind == E.REMINDER.value]
    assert [r.ladder_key for r in reminders] == ["reminder:reply:c0", None]
    assert reminders[1].data == {"manual": True}


def test_the_chase_is_for_complaints(db: Database, floor: Floor) -> None:
    life = Life(db, floor).create(RequestType.FAULT_REPORT).dispatch()
    with pytest.raises(ActionNotNow) as error:
        woa.send_reminder(
            db,
            actor=floor.actor("complaint1"),
            work_order_id=life.id,
            version=life.version,
            note=None,
            policy=POLICY,
        )
    assert error.value.refusal.value == "not_chased"


# --- mass faults -------------------------------------------------------------------------------


def test_closing_a_mass_fault_parent_closes_its_children_and_queues_their_callbacks(
    db: Database, floor: Floor, clock: FixedClock
) -> None:
    parent = Life(db, floor).create(RequestType.FAULT_REPORT)
    children = [
        Life(db, floor).create(RequestType.FAULT_REPORT, customer=floor.customers[n % 2])
        for n in range(3)
    ]
    for child in children:
        child.view = woa.link_work_order(
            db,
            actor=floor.actor("lead1"),
            work_order_id=child.id,
            version=child.version,
            parent_number=parent.view.number if parent.view else None,
            policy=POLICY,
        )
        assert child.view.parent_id == parent.id
    with pytest.raises(InvalidInput):  # no chains of parents
        woa.link_work_order(
            db,
            actor=floor.actor("lead1"),
            work_order_id=parent.id,
            version=parent.version,
            parent_number=children[0].view.number if children[0].view else None,
            policy=POLICY,
        )
    detail = parent.detail()
    assert [c.id for c in detail.children] == [c.id for c in children]
    clock.advance(timedelta(hours=3))
    parent.view = woa.close_work_order(
        db,
        actor=floor.actor("lead1"),
        work_order_id=parent.id,
        version=parent.version,
        reason="光缆已修复,区域恢复",
        close_children=True,
        policy=POLICY,
    )
    for child in children:
        assert child.detail().order.status is S.CLOSED
        (callback,) = callbacks_of(db, child.id)
        assert callback.status == CallbackStatus.PENDING.value
        closing = events_of(db, child.id)[-1]
        assert closing.data == {"with_parent": parent.view.number}
    # A child's callback is recorded on the closed order without closing it again.
    child = children[0]
    child.view = child.detail().order
    child.call(reached=True, satisfaction=5)
    kinds = [e.kind for e in events_of(db, child.id)]
    assert kinds.count(E.CLOSED.value) == 1
    assert callbacks_of(db, child.id)[0].status == CallbackStatus.DONE.value


# --- the role × action matrix -------------------------------------------------------------------


def _ready(db: Database, floor: Floor, action: Action) -> Life:
    """An order in a state where ``action`` is allowed to some role."""
    life = Life(db, floor).create()
    if action in (Action.DISPATCH, Action.LINK, Action.PAUSE, Action.NOTE):
        return life
    if action is Action.RESUME:
        life.view = woa.pause_work_order(
            db,
            actor=floor.actor("lead1"),
            work_order_id=life.id,
            version=life.version,
            reason=WaitingReason.WAITING_FOR_CUSTOMER,
            note=None,
            policy=POLICY,
        )
        return life
    life.dispatch(to=floor.branch)
    if action in (Action.REPLY, Action.REMIND, Action.PROPOSE_ESCALATION):
        return life
    if action in (Action.CONFIRM_ESCALATION, Action.HQ_ANSWER):
        life.view = woa.propose_escalation(
            db,
            actor=floor.actor("complaint1"),
            work_order_id=life.id,
            version=life.version,
            reason="升级",
            policy=POLICY,
        )
        if action is Action.HQ_ANSWER:
            life.view = woa.confirm_escalation(
                db,
                actor=floor.actor("complaint1"),
                work_order_id=life.id,
                version=life.version,
                note=None,
                policy=POLICY,
            )
        return life
    life.reply()
    if action in (Action.ACCEPT, Action.RETURN, Action.CLOSE):
        return life
    life.accept()
    if action is Action.CALLBACK_RESULT:
        return life
    life.call(reached=True, satisfaction=4)
    assert action is Action.REOPEN
    return life


CALLS: dict[Action, Callable[[Database, Actor, Life], Any]] = {
    Action.DISPATCH: lambda db, a, life: woa.dispatch_work_order(
        db,
        actor=a,
        work_order_id=life.id,
        version=life.version,
        department_id=life.floor.branch,
        note=None,
        policy=POLICY,
    ),
    Action.REPLY: lambda db, a, life: woa.reply_work_order(
        db, actor=a, work_order_id=life.id, version=life.version, reply="ok", policy=POLICY
    ),
    Action.ACCEPT: lambda db, a, life: woa.accept_reply(
        db, actor=a, work_order_id=life.id, version=life.version, note=None, policy=POLICY
    ),
    Action.RETURN: lambda db, a, life: woa.return_reply(
        db, actor=a, work_order_id=life.id, version=life.version, reason="no", policy=POLICY
    ),
    Action.REMIND: lambda db, a, life: woa.send_reminder(
        db, actor=a, work_order_id=life.id, version=life.version, note=None, policy=POLICY
    ),
    Action.PROPOSE_ESCALATION: lambda db, a, life: woa.propose_escalation(
        db, actor=a, work_order_id=life.id, version=life.version, reason="x", policy=POLICY
    ),
    Action.CONFIRM_ESCALATION: lambda db, a, life: woa.confirm_escalation(
        db, actor=a, work_order_id=life.id, version=life.version, note=None, policy=POLICY
    ),
    Action.HQ_ANSWER: lambda db, a, life: woa.record_hq_answer(
        db, actor=a, work_order_id=life.id, version=life.version, answer="ok", policy=POLICY
    ),
    Action.CALLBACK_RESULT: lambda db, a, life: woa.record_callback_result(
        db,
        actor=a,
        work_order_id=life.id,
        version=life.version,
        reached=True,
        satisfaction=5,
        note=None,
        policy=POLICY,
    ),
    Action.CLOSE: lambda db, a, life: woa.close_work_order(
        db, actor=a, work_order_id=life.id, version=life.version, reason="x", policy=POLICY
    ),
    Action.REOPEN: lambda db, a, life: woa.reopen_work_order(
        db, actor=a, work_order_id=life.id, version=life.version, reason="x", policy=POLICY
    ),
    Action.PAUSE: lambda db, a, life: woa.pause_work_order(
        db,
        actor=a,
        work_order_id=life.id,
        version=life.version,
        reason=WaitingReason.WAITING_FOR_CUSTOMER,
        note=None,
        policy=POLICY,
    ),
    Action.RESUME: lambda db, a, life: woa.resume_work_order(
        db, actor=a, work_order_id=life.id, version=life.version, note=None, policy=POLICY
    ),
    Action.LINK: lambda db, a, life: woa.link_work_order(
        db,
        actor=a,
        work_order_id=life.id,
        version=life.version,
        parent_number=None,
        policy=POLICY,
    ),
    Action.NOTE: lambda db, a, life: woa.add_note(
        db, actor=a, work_order_id=life.id, version=life.version, note="x", policy=POLICY
    ),
}

LOGIN_OF = {
    Role.AGENT: "agent1",
    Role.LEAD: "lead1",
    Role.COMPLAINT_LEAD: "complaint1",
    Role.HANDLER: "handler2",  # the branch's handler: the orders go to the branch
    Role.SUPERVISOR: "supervisor1",
    Role.ADMIN: "admin1",
}


def test_every_action_has_a_service_call() -> None:
    assert set(CALLS) == set(Action)


@pytest.mark.parametrize("action", list(Action))
def test_the_service_refuses_every_role_the_rule_refuses(
    db: Database, floor: Floor, action: Action
) -> None:
    """Every forbidden role is refused (and nothing is written); the first permitted role
    succeeds on the same order."""
    life = _ready(db, floor, action)
    rule = ACTION_RULES[action]
    before = len(events_of(db, life.id))
    permitted: list[Role] = []
    for role in Role:
        if rule.permissions & ROLE_PERMISSIONS[role]:
            permitted.append(role)
            continue
        with pytest.raises(PermissionDenied):
            CALLS[action](db, floor.actor(LOGIN_OF[role]), life)
    assert len(events_of(db, life.id)) == before
    assert permitted
    # A lead answers only for the center's own orders (tests/services/test_center_orders.py):
    # this one is with a department, so its handler does.
    doer = Role.HANDLER if action is Action.REPLY else permitted[0]
    if action is Action.LINK:  # unlinking an unlinked order is refused for what it is
        with pytest.raises(InvalidInput):
            CALLS[action](db, floor.actor(LOGIN_OF[doer]), life)
        return
    CALLS[action](db, floor.actor(LOGIN_OF[doer]), life)
    assert len(events_of(db, life.id)) > before


def test_an_action_from_the_wrong_status_is_refused_and_writes_nothing(
    db: Database, floor: Floor
) -> None:
    life = Life(db, floor).create()
    for action in (Action.ACCEPT, Action.RETURN, Action.REOPEN):
        with pytest.raises(ActionNotNow):
            CALLS[action](db, floor.actor("lead1"), life)
    assert [e.kind for e in events_of(db, life.id)] == [E.CREATED.value]


# --- two people, one order ---------------------------------------------------------------------


def test_two_leads_dispatch_the_same_order_one_wins_the_other_is_told_by_whom(
    db: Database, floor: Floor, clock: FixedClock
) -> None:
    life = Life(db, floor).create()
    seen = life.version  # both leads read the same version
    first = woa.dispatch_work_order(
        db,
        actor=floor.actor("lead1"),
        work_order_id=life.id,
        version=seen,
        department_id=floor.branch,
        note="派分公司",
        policy=POLICY,
    )
    clock.advance(timedelta(seconds=5))
    with pytest.raises(WorkOrderChanged) as error:
        woa.dispatch_work_order(
            db,
            actor=floor.actor("lead2"),
            work_order_id=life.id,
            version=seen,
            department_id=floor.billing,
            note="派计费",
            policy=POLICY,
        )
    assert error.value.by == "王班长"
    assert error.value.version == first.version
    assert "王班长" in error.value.message
    dispatched = [e for e in events_of(db, life.id) if e.kind == E.DISPATCHED.value]
    assert len(dispatched) == 1
    assert dispatched[0].reason == "派分公司"
    assert life.detail().order.department_id == floor.branch


def test_two_leads_dispatching_at_the_same_moment(db: Database, floor: Floor) -> None:
    """Real threads, real transactions: exactly one dispatch is stored, the other lead gets
    WorkOrderChanged naming the winner."""
    life = Life(db, floor).create()
    seen = life.version
    outcomes: dict[str, object] = {}
    start = threading.Barrier(2)

    def dispatch(login: str, department: int) -> None:
        start.wait()
        try:
            outcomes[login] = woa.dispatch_work_order(
                db,
                actor=floor.actor(login),
                work_order_id=life.id,
                version=seen,
                department_id=department,
                note=login,
                policy=POLICY,
            )
        except WorkOrderChanged as error:
            outcomes[login] = error

    threads = [
        threading.Thread(target=dispatch, args=("lead1", floor.branch)),
        threading.Thread(target=dispatch, args=("lead2", floor.billing)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    errors = [v for v in outcomes.values() if isinstance(v, WorkOrderChanged)]
    wins = [v for v in outcomes.values() if isinstance(v, WorkOrderView)]
    assert len(errors) == 1
    assert len(wins) == 1
    winner = next(login for login, v in outcomes.items() if isinstance(v, WorkOrderView))
    assert errors[0].by == floor.actor(winner).display_name
    dispatched = [e for e in events_of(db, life.id) if e.kind == E.DISPATCHED.value]
    assert [e.reason for e in dispatched] == [winner]


def test_dispatching_several_at_once_leaves_the_changed_ones_and_says_so(
    db: Database, floor: Floor
) -> None:
    lives = [Life(db, floor).create() for _ in range(3)]
    # Someone else dispatches the second one meanwhile.
    lives[1].dispatch(to=floor.billing, login="lead2")
    result = woa.dispatch_work_orders(
        db,
        actor=floor.actor("lead1"),
        orders=[(life.id, 1) for life in lives],
        department_id=floor.branch,
        note="批量派单",
        policy=POLICY,
    )
    assert sorted(v.id for v in result.dispatched) == [lives[0].id, lives[2].id]
    (conflict,) = result.conflicts
    assert conflict.work_order_id == lives[1].id
    assert conflict.changed_by == "陈班长"
    assert lives[1].detail().order.department_id == floor.billing


def test_saving_over_a_sweep_change_is_told_it_was_desk(
    db: Database, floor: Floor, clock: FixedClock
) -> None:
    life = Life(db, floor).create().dispatch(to=floor.branch)
    seen = life.version
    clock.advance(timedelta(days=1, minutes=5))  # past the reply deadline: the chase starts
    run_sweep(db, actor=floor.actor("admin1"), policy=POLICY)
    with pytest.raises(WorkOrderChanged) as error:
        woa.send_reminder(
            db,
            actor=floor.actor("complaint1"),
            work_order_id=life.id,
            version=seen,
            note=None,
            policy=POLICY,
        )
    assert error.value.by is None
    assert "desk" in error.value.message


# --- the sweep and the console never double an event ------------------------------------------


def test_the_sweep_and_the_console_never_double_an_event(
    db: Database, floor: Floor, clock: FixedClock
) -> None:
    """A busy day: actions interleaved with sweeps at the same and later instants. Every
    ladder key appears once per order, and sweeping again at the same instant adds nothing."""
    admin = floor.actor("admin1")
    lives = [Life(db, floor).create() for _ in range(4)]
    run_sweep(db, actor=admin, policy=POLICY)
    clock.advance(timedelta(minutes=40))  # dispatch deadlines (30 min) pass
    run_sweep(db, actor=admin, policy=POLICY)
    for life in lives[:3]:
        life.view = life.detail().order
        life.dispatch(to=floor.branch)
    run_sweep(db, actor=admin, policy=POLICY)
    clock.advance(timedelta(days=1))
    life = lives[0]
    life.view = life.detail().order
    life.view = woa.send_reminder(
        db,
        actor=floor.actor("complaint1"),
        work_order_id=life.id,
        version=life.version,
        note=None,
        policy=POLICY,
    )
    run_sweep(db, actor=admin, policy=POLICY)
    lives[1].view = lives[1].detail().order
    lives[1].reply()
    run_sweep(db, actor=admin, policy=POLICY)
    again = run_sweep(db, actor=admin, policy=POLICY)
    assert again.changes == 0

    def keys(session: Session) -> list[tuple[int, str]]:
        rows = session.exec(
            select(WorkOrderEvent.work_order_id, WorkOrderEvent.ladder_key).where(
                col(WorkOrderEvent.ladder_key).is_not(None)
            )
        ).all()
        return [(row[0], str(row[1])) for row in rows]

    found = db.run(keys, write=False)
    assert len(found) == len(set(found))
    assert "breach:dispatch:c0" in {key for _id, key in found}
    reminders = [key for wid, key in found if wid == lives[0].id and key.startswith("reminder")]
    assert reminders == ["reminder:reply:c0"]


def test_orders_are_locked_rows_not_lost_updates(db: Database, floor: Floor) -> None:
    """Sanity: each action raises the version by one and stamps who and when."""
    life = Life(db, floor).create()
    before = life.version
    life.dispatch()
    assert life.version == before + 1

    def row(session: Session) -> WorkOrder:
        return session.exec(select(WorkOrder).where(WorkOrder.id == life.id)).one()

    stored = db.run(row, write=False)
    assert stored.updated_by == floor.actor("lead1").user_id
