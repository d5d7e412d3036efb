"""Work orders with a consistent history, written by the rules that run the floor.

The demo only decides what *people* did and when: an agent creates the order, a lead
dispatches it, the department replies (or pauses for the customer), the lead accepts or
returns the reply, calls the customer back, closes it, perhaps reopens it; a complaint lead
confirms an escalation. Everything else comes from the rules the services use:

- each person's action is one of :data:`desk.rules.work_orders.ACTION_RULES`: its event, the
  status it leads to, and the refusal check (:func:`desk.rules.work_orders.refusal`) with the
  person's role and department, as the service would check it (a refused action stops the
  build: the generator broke a rule);
- the ladder's events (warnings, breaches, the complaint chase's reminder and escalation
  proposal, the repeat complainer's major flag) are what the sweep would have stored had it
  run all along: between two changes of the history, the order's plan is
  :func:`desk.rules.ladder.due_ladder_events` and :func:`desk.rules.ladder.planned_ladder_steps`
  at the change (as :func:`desk.services.sweep.refresh_ladder` makes it), and each planned
  step is stored when it falls due, with the data the sweep gives it
  (:func:`desk.services.sweep.ladder_event_data`); escalation levels and the major flag
  follow as the sweep raises them;
- the due instants stored on the row are the clocks of
  :func:`desk.rules.ladder.snapshot_from_history` (:mod:`desk.rules.clocks`) at ``now``.

Only the stretches of history where something can fall due are replayed: those holding an
instant where, measured at ``now``, a clock warned or broke its deadline, and for a chased
complaint every stretch after its reply deadline; the rest has nothing to store (the tests
replay whole histories and find nothing missing).
"""

from __future__ import annotations

import json
import math
import multiprocessing
from bisect import insort
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from desk.demo.catalog import REJECT_REASONS, REPLIES, WORK_ORDER_TITLES
from desk.demo.contacts import WorkOrderSeed
from desk.demo.geography import CITIES
from desk.demo.org import BILLING, CENTER, HQ, MARKETING, NETWORK
from desk.demo.processes import die_with_parent
from desk.demo.sink import Row
from desk.demo.world import DAY, HOUR, LOCAL_OFFSET, World
from desk.rules.calendar import BusinessCalendar, calendars_from_policy
from desk.rules.clocks import (
    Clock,
    ClockBudgets,
    TimelineEvent,
    callback_window_opens,
    clock_budgets,
)
from desk.rules.ladder import (
    MAJOR_KEY,
    LadderEvent,
    WorkOrderSnapshot,
    due_ladder_events,
    major_source,
    planned_ladder_steps,
    snapshot_from_history,
)
from desk.rules.permissions import Actor
from desk.rules.policy import CallbackRule
from desk.rules.vocab import (
    CallbackPurpose,
    CallbackStatus,
    Channel,
    ClockKind,
    ClockState,
    EventKind,
    MajorSource,
    Priority,
    RequestType,
    Role,
    WaitingReason,
    WorkOrderSource,
    WorkOrderStatus,
)
from desk.rules.work_orders import (
    ACTION_RULES,
    ESCALATION_CONFIRMED,
    ESCALATION_PROPOSED,
    ESCALATION_REMINDED,
    Action,
    OrderState,
    is_satisfied,
    refusal,
)
from desk.services.sweep import ladder_event_data

US = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)

_S_NEW = WorkOrderStatus.NEW
_S_DISPATCHED = WorkOrderStatus.DISPATCHED
_S_REPLIED = WorkOrderStatus.REPLIED
_S_CALLBACK = WorkOrderStatus.CALLBACK
_S_CLOSED = WorkOrderStatus.CLOSED
_S_REOPENED = WorkOrderStatus.REOPENED

# The history changes that make the services re-plan an order's ladder: clock-moving events,
# and the escalation that hands the order to another department.
_CLOCK_MOVING = frozenset(
    {
        EventKind.CREATED,
        EventKind.DISPATCHED,
        EventKind.REPLIED,
        EventKind.ACCEPTED,
        EventKind.REJECTED,
        EventKind.CLOSED,
        EventKind.REOPENED,
        EventKind.PAUSED,
        EventKind.RESUMED,
    }
)
_REPLANS = _CLOCK_MOVING | {EventKind.ESCALATION_CONFIRMED}
_HANDS_OVER = (EventKind.DISPATCHED, EventKind.ESCALATION_CONFIRMED)  # the owner changes
# Escalation levels the sweep raises for the steps it stores.
_LEVEL_OF = {
    EventKind.REMINDER: ESCALATION_REMINDED,
    EventKind.ESCALATION_PROPOSED: ESCALATION_PROPOSED,
}
_MAJOR_FROM_SOURCE = (MajorSource.REGULATOR, MajorSource.MEDIA)

WORK_ORDER_COLUMNS = (
    "id",
    "number",
    "customer_id",
    "contact_id",
    "category",
    "topic",
    "title",
    "description",
    "priority",
    "channel",
    "source",
    "is_major",
    "major_source",
    "department_id",
    "branch_id",
    "status",
    "waiting_reason",
    "waiting_since",
    "cycle",
    "escalation_level",
    "redispatch_count",
    "callback_attempts",
    "satisfaction",
    "dispatch_due",
    "reply_due",
    "resolution_due",
    "callback_due",
    "created_by",
    "created_at",
    "dispatched_at",
    "replied_at",
    "closed_at",
    "updated_at",
    "updated_by",
    "version",
    "ladder_next_at",
)
EVENT_COLUMNS = (
    "id",
    "work_order_id",
    "at",
    "actor_id",
    "kind",
    "from_status",
    "to_status",
    "department_id",
    "clock",
    "ladder_key",
    "reason",
    "data",
)
CALLBACK_COLUMNS = (
    "customer_id",
    "work_order_id",
    "kind",
    "purpose",
    "due_at",
    "owner_id",
    "status",
    "attempts",
    "last_attempt_at",
    "result",
    "satisfaction",
    "created_at",
)


class RuleBroken(AssertionError):
    """The generator drew an action the rules refuse (a bug in the demo, never in the data)."""


@dataclass
class Plan:
    """What to simulate for one work order; the knobs force a scenario, else drawn."""

    customer: int  # index, -1 for none
    category: RequestType
    topic: str
    channel: Channel
    created_s: int
    created_by: int | None
    contact_id: int | None = None
    source: WorkOrderSource = WorkOrderSource.AGENT
    major: MajorSource | None = None
    priority: Priority | None = None
    department_code: str | None = None
    stall: WorkOrderStatus | None = None  # stop once this status is reached
    reply_fraction: float | None = None  # of the reply budget, first reply
    redispatch: bool | None = None
    reopen: bool | None = None
    pause: bool | None = None  # waiting for the customer, resumed or not
    failed_callbacks: int | None = None
    confirm_escalation: bool = True
    dispatch_after: int | None = None  # seconds from creation (or reopening) to dispatch
    complaints: int = 1  # the customer's complaints in the policy's window, this one included


@dataclass
class _Event:
    at: int  # epoch seconds
    actor: int | None  # None: the sweep
    kind: EventKind
    action: Action | None = None  # the person's action; None: creation or the ladder
    from_status: WorkOrderStatus | None = None
    to_status: WorkOrderStatus | None = None
    department: int | None = None
    clock: ClockKind | None = None
    key: str | None = None
    reason: str | None = None
    data: dict[str, Any] | None = None
    data_text: str | None = None  # the ladder's data, as the sweep stores it


def _instant(seconds: int) -> datetime:
    return _EPOCH + timedelta(seconds=seconds)


def _seconds(instant: datetime) -> int:
    return (instant - _EPOCH) // _SECOND


@dataclass
class _Order:
    """One work order while it is drawn: what the rules need to know about it."""

    id: int
    plan: Plan
    priority: Priority
    budgets: ClockBudgets
    department: int  # owner (the routing proposal, then the department it went to)
    events: list[_Event] = field(default_factory=list)
    status: WorkOrderStatus = _S_NEW
    paused: bool = False
    level: int = 0
    major: MajorSource | None = None  # flagged as major (the row's ``major_source``)
    clocks: tuple[Clock, ...] = ()  # measured at now (kept while the owner stays the same)
    satisfaction: int | None = None
    attempts: int = 0  # callback attempts of the last cycle
    # Drawn beforehand, so that settling the order draws nothing (it may run in a worker):
    confirm_after: int = 0  # seconds from an escalation's proposal to its confirmation
    confirm_by: int = 0  # the complaint lead who confirms it
    hq_handler: int = 0  # who acts for headquarters once it owns the order

    def state(self) -> OrderState:
        return OrderState(
            status=self.status,
            paused=self.paused,
            category=self.plan.category,
            department_id=self.department,
            escalation_level=self.level,
        )


@dataclass
class _Result:
    row: Row
    events: list[_Event]
    callback: Row | None
    status: WorkOrderStatus
    customer: int
    major: bool
    closed_s: int | None
    category: RequestType


@dataclass
class Simulator:
    w: World
    calendars: dict[str, BusinessCalendar] = field(default_factory=dict)
    numbers: dict[str, int] = field(default_factory=dict)
    _callback_opens: dict[tuple[int, int, str], int] = field(default_factory=dict)
    _actors: dict[int, Actor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.calendars = dict(calendars_from_policy(self.w.policy))
        w = self.w
        self.r = w.rng.random
        self.hq = w.department(HQ)
        self.center = w.department(CENTER)
        self.complaint_leads = w.staff[Role.COMPLAINT_LEAD]
        self.policy = w.policy
        self.now = w.now_s
        self.now_at = _instant(w.now_s)
        self.budgets: dict[tuple[RequestType, Priority, Channel], ClockBudgets] = {}
        departments = {
            user: department
            for department, handlers in w.handlers_by_department.items()
            for user in handlers
        }
        for role, users in w.staff.items():
            for user in users:
                self._actors[user] = Actor(
                    user_id=user,
                    login=str(user),
                    role=role,
                    department_id=departments.get(user, self.center),
                )

    # --- helpers -------------------------------------------------------------------------

    def lead_at(self, at: int) -> int:
        leads = self.w.shift_leads
        return leads[max(0, min(self.w.shift_of(at), len(leads) - 1))]

    def handler_for(self, department: int) -> int:
        return _pick_id(self.r, self.w.handlers_by_department[department])

    def calendar(self, clock: ClockKind, department: int) -> BusinessCalendar:
        kind = self.w.department_kinds.get(department)
        return self.calendars[self.policy.calendar_name_for(clock, kind)]

    def add_business(self, cal: BusinessCalendar, at: int, minutes: float) -> int:
        return cal.add_business_us(at * US, int(minutes * 60 * US)) // US

    def department_for(self, plan: Plan) -> int:
        """The department the order goes to: one whose handlers can reply to it."""
        w, r = self.w, self.r
        city = w.cities[plan.customer] if plan.customer >= 0 else int(r() * len(CITIES))
        branch = w.branch_departments[city]
        if plan.department_code is not None:
            return w.department(plan.department_code)
        category = plan.category
        if category is RequestType.FAULT_REPORT:
            return w.department(NETWORK) if r() < 0.55 else branch
        if category is RequestType.COMPLAINT:
            if plan.topic == "乱扣费":
                return w.department(BILLING)
            if plan.topic == "网络质量":
                return w.department(NETWORK)
            return branch
        if category is RequestType.BILL_INQUIRY:
            return w.department(BILLING)
        if category is RequestType.SERVICE_REQUEST:
            return branch if r() < 0.5 else w.department(BILLING)
        return w.department(MARKETING)  # consultations and suggestions

    def number(self, created_s: int) -> str:
        """``WO`` + local date + a sequence within the day."""
        day = self.w.stamps((created_s + LOCAL_OFFSET) // DAY * DAY)[:10].replace("-", "")
        sequence = self.numbers.get(day, 0) + 1
        self.numbers[day] = sequence
        return f"WO{day}{sequence:06d}"

    def callback_opens(self, accepted: int, rule: CallbackRule, calendar: BusinessCalendar) -> int:
        """When the callback window opens (:func:`desk.rules.clocks.callback_window_opens`;
        cached per local day when it cannot depend on the time of acceptance)."""
        if rule.days_after >= 1:
            key = ((accepted + LOCAL_OFFSET) // DAY, id(rule), calendar.name)
            found = self._callback_opens.get(key)
            if found is None:
                found = _seconds(callback_window_opens(_instant(accepted), rule, calendar))
                self._callback_opens[key] = found
            return found
        return _seconds(callback_window_opens(_instant(accepted), rule, calendar))

    # --- people's actions ----------------------------------------------------------------

    def act(
        self,
        order: _Order,
        action: Action,
        at: int,
        actor: int,
        *,
        reason: str | None = None,
        data: dict[str, Any] | None = None,
        department: int | None = None,
        clock: ClockKind | None = None,
    ) -> bool:
        """Record ``action`` at ``at`` if it happened by now (False: it did not, the history
        stops there): the rule's event and the status it leads to."""
        if at > self.now:
            return False
        rule = ACTION_RULES[action]
        to_status = rule.to_status or order.status
        order.events.append(
            _Event(
                at,
                actor,
                rule.event,
                action,
                order.status,
                to_status,
                department,
                clock,
                reason=reason,
                data=data,
            )
        )
        order.status = to_status
        if action is Action.PAUSE:
            order.paused = True
        elif action in (Action.RESUME, Action.CLOSE, Action.REOPEN):
            order.paused = False
        return True

    # --- one work order ------------------------------------------------------------------

    def simulate(self, work_order_id: int, plan: Plan) -> _Result:
        """One work order, start to end (:meth:`draw_order`, :meth:`settle`, :meth:`result`)."""
        return self.result(self.settle(self.draw_order(work_order_id, plan)))

    def draw_order(self, work_order_id: int, plan: Plan) -> _Order:
        """What people did (every random draw of the order is made here, in plan order)."""
        r = self.r
        # A call that ended a moment ago: its order was written by now, not after.
        plan.created_s = min(plan.created_s, self.now)
        category = plan.category
        major = major_source(category, plan.source, plan.complaints, self.policy)
        if plan.major in _MAJOR_FROM_SOURCE:
            major = plan.major
        priority = plan.priority or (
            Priority.URGENT
            if major is not None
            or (category in (RequestType.FAULT_REPORT, RequestType.COMPLAINT) and r() < 0.12)
            else Priority.NORMAL
        )
        key = (category, priority, plan.channel)
        budgets = self.budgets.get(key)
        if budgets is None:
            budgets = self.budgets[key] = clock_budgets(
                category, priority, plan.channel, self.policy
            )
        order = _Order(work_order_id, plan, priority, budgets, self.department_for(plan))
        t0 = plan.created_s
        data: dict[str, Any] = {"source": plan.source.value, "channel": plan.channel.value}
        if plan.source is WorkOrderSource.AGENT:
            data["consent"] = True
        order.events.append(
            _Event(
                t0,
                plan.created_by,
                EventKind.CREATED,
                None,
                None,
                _S_NEW,
                order.department,
                data=data,
            )
        )
        if major in _MAJOR_FROM_SOURCE:
            # Known at creation (the regulator's or the media's complaint): flagged with the
            # ladder's key, as the service does, so the sweep never flags it again.
            order.major = major
            order.events.append(
                _Event(
                    t0,
                    plan.created_by,
                    EventKind.MAJOR_FLAGGED,
                    None,
                    _S_NEW,
                    _S_NEW,
                    order.department,
                    key=MAJOR_KEY,
                    data={"major_source": major.value, "notify": Role.SUPERVISOR.value},
                )
            )
        order.satisfaction, order.attempts = self.draw(order)
        order.confirm_after = int(600 + r() * 3 * HOUR)
        order.confirm_by = _pick_id(r, self.complaint_leads)
        order.hq_handler = self.handler_for(self.hq)
        return order

    def settle(self, order: _Order) -> _Order:
        """The rules' part: the ladder's events and the check of every action. Draws nothing
        and reads nothing but the order and the policy, so it can run in another process."""
        self.sweep(order)
        self.follow_rules(order)
        if not order.clocks:
            order.clocks = tuple(self.snapshot_at(order, self.now).clocks)
        return order

    def draw(self, order: _Order) -> tuple[int | None, int]:
        """What people did, up to ``now`` or the scenario's stall: (satisfaction, callback
        attempts of the last cycle)."""
        r, now, plan = self.r, self.now, order.plan
        category, budgets, department = plan.category, order.budgets, order.department
        reply_cal = self.calendar(ClockKind.REPLY, department)
        stall = plan.stall
        redispatch = plan.redispatch if plan.redispatch is not None else r() < 0.07
        reopen = plan.reopen if plan.reopen is not None else r() < 0.03
        pause = plan.pause if plan.pause is not None else r() < 0.03
        failed = plan.failed_callbacks
        if failed is None:
            roll = r()
            failed = 0 if roll < 0.86 else 1 if roll < 0.95 else 2 if roll < 0.985 else 3
        max_attempts = self.policy.callbacks.max_attempts
        satisfaction: int | None = None
        attempts = 0
        cycle = 0
        start = plan.created_s
        act = self.act

        while stall is not _S_NEW:
            if plan.dispatch_after is not None:
                delay = float(plan.dispatch_after)
            else:
                delay = 60 * (1 + -math.log(1.0 - r()) * 18) if r() < 0.95 else 60 * r() * 420
            t_dispatch = start + int(delay)
            if not act(
                order,
                Action.DISPATCH,
                t_dispatch,
                self.lead_at(t_dispatch),
                department=department,
            ):
                break
            fraction = (
                plan.reply_fraction
                if plan.reply_fraction is not None
                else (0.1 + r() * 0.75 if r() < 0.9 else 1.05 + r() * 1.5)
            )
            reply_minutes = fraction * budgets.reply * (0.5 if cycle else 1.0)
            t_reply = self.add_business(reply_cal, t_dispatch, reply_minutes)
            if pause:
                pause = False
                t_pause = t_dispatch + int(600 + r() * 3 * HOUR)
                if t_pause < t_reply:
                    handler = self.handler_for(department)
                    why = WaitingReason.WAITING_FOR_CUSTOMER.value
                    if not act(
                        order,
                        Action.PAUSE,
                        t_pause,
                        handler,
                        reason="等待客户提供资料",
                        data={"reason": why},
                    ):
                        break
                    used = reply_cal.business_us_between(t_dispatch * US, t_pause * US) / 60 / US
                    t_resume = self.add_business(reply_cal, t_pause, 30 + r() * 600)
                    keep_waiting = plan.pause is True and stall is _S_DISPATCHED
                    if keep_waiting or not act(
                        order,
                        Action.RESUME,
                        t_resume,
                        handler,
                        reason="客户已提供资料",
                        data={"reason": why, "paused_seconds": t_resume - t_pause},
                    ):
                        break
                    t_reply = self.add_business(reply_cal, t_resume, max(1.0, reply_minutes - used))
            if stall is _S_DISPATCHED and not redispatch:
                break
            if not act(
                order,
                Action.REPLY,
                t_reply,
                self.handler_for(department),
                reason=_pick(r, REPLIES[category]),
                department=department,
            ):
                break
            if redispatch:
                redispatch = False
                t_reject = t_reply + int(300 + r() * 5_400)
                if not act(
                    order,
                    Action.RETURN,
                    t_reject,
                    self.lead_at(t_reject),
                    reason=_pick(r, REJECT_REASONS),
                    department=department,
                ):
                    break
                if stall is _S_DISPATCHED:
                    break
                t_reply = self.add_business(reply_cal, t_reject, budgets.reply * (0.1 + r() * 0.5))
                if not act(
                    order,
                    Action.REPLY,
                    t_reply,
                    self.handler_for(department),
                    reason=_pick(r, REPLIES[category]),
                    department=department,
                ):
                    break
            if stall is _S_REPLIED:
                break
            t_accept = t_reply + int(300 + -math.log(1.0 - r()) * 3_000)
            if not act(
                order,
                Action.ACCEPT,
                t_accept,
                self.lead_at(t_accept),
                department=department,
            ):
                break
            callback_cal = self.calendar(ClockKind.CALLBACK, department)
            opens = self.callback_opens(t_accept, budgets.callback, callback_cal)
            t_try = opens + int(r() * 5_400)
            reached = False
            attempts = 0
            for attempt in range(max_attempts):
                reached = attempt >= failed
                if t_try > now or (reached and stall is _S_CALLBACK):
                    reached = False
                    break
                attempts = attempt + 1
                caller = self.lead_at(t_try)
                said: dict[str, Any] = {"attempt": attempts, "reached": reached}
                if reached:
                    satisfaction = _satisfaction(r, category)
                    said["satisfaction"] = satisfaction
                act(order, Action.CALLBACK_RESULT, t_try, caller, data=said)
                if reached:
                    assert satisfaction is not None
                    act(
                        order,
                        Action.CLOSE,
                        t_try,
                        caller,
                        reason="回访客户,客户表示满意"
                        if is_satisfied(satisfaction)
                        else "回访客户,客户表示不满意",
                        data={
                            "reached": True,
                            "satisfaction": satisfaction,
                            "satisfied": is_satisfied(satisfaction),
                        },
                        department=department,
                    )
                    break
                if attempts >= max_attempts:
                    act(
                        order,
                        Action.CLOSE,
                        t_try,
                        caller,
                        reason="三次回访未接通,按规定结单",
                        data={"reached": False, "unreachable": True, "attempts": attempts},
                        department=department,
                    )
                    break
                t_try += int(2 * HOUR + r() * 3 * HOUR)
            if order.status is not _S_CLOSED:
                break
            if not reopen or cycle > 0:
                break
            reopen = False
            last = order.events[-1].at
            t_reopen = last + int(HOUR + r() * 30 * HOUR)
            if stall is _S_REOPENED:  # a showcase or backlog order reopened by now
                t_reopen = max(last + 240, min(t_reopen, now - 60))
            if not act(
                order,
                Action.REOPEN,
                t_reopen,
                self.lead_at(t_reopen),
                reason="客户对处理结果不满意,重新处理",
            ):
                break
            cycle = 1
            start = t_reopen
            failed = 0
            satisfaction = None
            attempts = 0
            if stall is _S_REOPENED:
                break
        return (satisfaction if order.status is _S_CLOSED else None), attempts

    # --- the sweep, had it run all along -------------------------------------------------

    def snapshot_at(self, order: _Order, at: int) -> WorkOrderSnapshot:
        """The ladder's snapshot of ``order`` at ``at``, from its history up to then."""
        known = [event for event in order.events if event.at <= at]
        status, department, is_major = _state_after(order, known)
        plan = order.plan
        return snapshot_from_history(
            work_order_id=order.id,
            category=plan.category,
            priority=order.priority,
            channel=plan.channel,
            status=status,
            source=plan.source,
            is_major=is_major,
            department_id=department,
            department_kind=self.w.department_kinds.get(department),
            events=[
                TimelineEvent(_instant(event.at), event.kind)
                for event in known
                if event.kind in _CLOCK_MOVING
            ],
            now=_instant(at),
            policy=self.policy,
            calendars=self.calendars,
            customer_complaints_in_window=plan.complaints,
        )

    def sweep(self, order: _Order) -> None:
        """Add the ladder's events the sweep would have stored, each when it fell due, and
        the complaint lead's confirmation of a proposed escalation."""
        order.events.sort(key=_at)
        now = self.now
        clocks = order.clocks = tuple(self.snapshot_at(order, now).clocks)
        candidates = [
            _seconds(instant)
            for clock in clocks
            if clock.state is not ClockState.NOT_STARTED
            for instant in (
                clock.due_at if clock.breached else None,
                clock.warn_at
                if clock.warn_at is not None and clock.warn_at <= self.now_at
                else None,
            )
            if instant is not None
        ]
        reply = next(clock for clock in clocks if clock.kind is ClockKind.REPLY)
        plan = order.plan
        chase_from = (
            _seconds(reply.due_at)
            if plan.category in self.policy.chase.categories
            and reply.breached
            and reply.due_at is not None
            else None
        )
        flag_pending = order.major is None and (
            major_source(plan.category, plan.source, plan.complaints, self.policy) is not None
        )
        keys = {event.key for event in order.events if event.key is not None}
        events = order.events
        index = 0
        while index < len(events):
            event = events[index]
            index += 1
            if event.kind not in _REPLANS or _replanned_again(events, index, event.at):
                continue  # the plan is made once the instant's changes are all in
            start = event.at
            following = next((e.at for e in events[index:] if e.kind in _REPLANS), None)
            end = now + 1 if following is None else following
            if not (
                (flag_pending and start == plan.created_s)
                or (chase_from is not None and end > chase_from)
                or any(start <= instant < end for instant in candidates)
            ):
                continue
            for step, at in self.plan_at(order, start, keys):
                if at >= end:
                    break
                keys.add(step.ladder_key)
                insort(events, self.ladder_event(order, step, at), key=_at)
                if step.kind is EventKind.ESCALATION_PROPOSED and plan.confirm_escalation:
                    confirmed = self.confirm(order, at, end)
                    if confirmed is not None:
                        end = confirmed  # a new plan from there, for headquarters

    def plan_at(self, order: _Order, start: int, keys: set[str]) -> list[tuple[LadderEvent, int]]:
        """The order's plan made at ``start`` (a change of its history): the steps due then,
        and each later step with the instant it falls due, in time order."""
        snapshot = self.snapshot_at(order, start)
        at = _instant(start)
        due = due_ladder_events(snapshot, keys, at, self.policy, self.calendars)
        later = planned_ladder_steps(snapshot, keys, at, self.policy, self.calendars, due_now=due)
        return [(event, start) for event in due] + [
            (step.event, _seconds(step.event.due_at)) for step in later
        ]

    def ladder_event(self, order: _Order, event: LadderEvent, at: int) -> _Event:
        data = ladder_event_data(event)
        if event.deadline is not None and at > _seconds(event.deadline):
            data["late"] = True
        level = _LEVEL_OF.get(event.kind)
        if level is not None:
            order.level = max(order.level, level)
        if event.kind is EventKind.MAJOR_FLAGGED:
            order.major = event.major_source or MajorSource.REPEAT_COMPLAINER
        return _Event(
            at,
            None,
            event.kind,
            None,
            department=event.department_id,
            clock=event.clock,
            key=event.ladder_key,
            data_text=json.dumps(data, ensure_ascii=False),
        )

    def confirm(self, order: _Order, proposed: int, end: int) -> int | None:
        """A complaint lead confirms the escalation proposed at ``proposed``, if before the
        history's next change and by now: the order goes to headquarters, which now owes
        the reply. Returns when (None: not confirmed)."""
        at = proposed + order.confirm_after
        if at >= end or at > self.now:
            return None
        lead = order.confirm_by
        old = order.department
        order.clocks = ()  # measured again for the new owner's calendars
        insort(
            order.events,
            _Event(
                at,
                lead,
                EventKind.ESCALATION_CONFIRMED,
                Action.CONFIRM_ESCALATION,
                department=self.hq,
                clock=ClockKind.REPLY,
                reason="分公司无法解决,升级至省公司处理",
                data={"from_department_id": old},
            ),
            key=_at,
        )
        order.department = self.hq
        # Headquarters owns it from then on: its answer is the reply, its handlers act.
        answered = False
        for event in order.events:
            if event.at <= at:
                continue
            if event.department == old:
                event.department = self.hq
            if event.action is Action.REPLY and not answered:
                answered = True
                event.action = Action.HQ_ANSWER
                event.actor = lead
                event.data = {"by": "headquarters"}
            elif event.actor is not None and self._actors[event.actor].role is Role.HANDLER:
                event.actor = order.hq_handler
        return at

    # --- the rules' verdict --------------------------------------------------------------

    def follow_rules(self, order: _Order) -> None:
        """Replay the history through the rules: every person's action allowed to that
        person in that state (the service's check), statuses as the rules lead them."""
        order.events.sort(key=_at)
        state = _Order(order.id, order.plan, order.priority, order.budgets, order.department)
        state.department = order.events[0].department or order.department
        for event in order.events:
            action = event.action
            if action is not None:
                actor = self._actors[event.actor] if event.actor is not None else None
                if actor is None:
                    raise RuleBroken(f"{action} without a person on work order {order.id}")
                verdict = refusal(action, actor, state.state(), self.policy)
                if verdict is not None:
                    raise RuleBroken(
                        f"work order {order.id}: {actor.role} may not {action} a "
                        f"{state.status} order ({verdict}) at {event.at}"
                    )
                rule = ACTION_RULES[action]
                event.kind = rule.event
                event.from_status = state.status
                event.to_status = rule.to_status or state.status
                state.status = event.to_status
                if action is Action.PAUSE:
                    state.paused = True
                elif action in (Action.RESUME, Action.CLOSE, Action.REOPEN):
                    state.paused = False
                if action is Action.DISPATCH and event.department is not None:
                    state.department = event.department
                elif action is Action.CONFIRM_ESCALATION:
                    state.level = ESCALATION_CONFIRMED
                    state.department = self.hq
            elif event.kind is EventKind.CREATED:
                event.from_status, event.to_status = None, _S_NEW
            else:
                if event.actor is None:  # the sweep stores its steps without a status
                    event.from_status = event.to_status = None
                else:
                    event.from_status = event.to_status = state.status
                level = _LEVEL_OF.get(event.kind)
                if level is not None:
                    state.level = max(state.level, level)
        order.status = state.status
        order.paused = state.paused
        order.department = state.department
        order.level = max(order.level, state.level)

    # --- the row -------------------------------------------------------------------------

    def result(self, order: _Order) -> _Result:
        """The row, its events and its callback (numbers are given in plan order)."""
        w, stamps, plan = self.w, self.w.stamps, order.plan
        clocks = order.clocks
        satisfaction, attempts = order.satisfaction, order.attempts
        dispatched = replied = closed = accepted = waiting = None
        cycle = redispatches = 0
        tries: list[_Event] = []
        for event in order.events:
            what = event.kind
            if what is EventKind.DISPATCHED:
                dispatched = event.at
            elif what is EventKind.REPLIED:
                replied = event.at
            elif what is EventKind.CALLBACK_ATTEMPT:
                tries.append(event)
            elif what is EventKind.ACCEPTED:
                accepted = event.at
            elif what is EventKind.CLOSED:
                closed = event.at
            elif what is EventKind.REOPENED:
                cycle += 1
                tries = []
            elif what is EventKind.REJECTED:
                redispatches += 1
            elif what is EventKind.PAUSED:
                waiting = event.at
            elif what is EventKind.RESUMED:
                waiting = None
        status = order.status
        dues = [stamps.maybe(_seconds(c.due_at) if c.due_at is not None else None) for c in clocks]
        if status is _S_CLOSED:
            waiting = None
        else:
            closed = None
        final = order.events[-1]
        customer = plan.customer
        city = w.cities[customer] if customer >= 0 else None
        actors = sum(1 for event in order.events if event.actor is not None)
        row = (
            order.id,
            self.number(plan.created_s),
            customer + 1 if customer >= 0 else None,
            plan.contact_id,
            _VALUES[plan.category],
            plan.topic,
            WORK_ORDER_TITLES[plan.category].format(topic=plan.topic),
            _description(plan),
            _VALUES[order.priority],
            _VALUES[plan.channel],
            _VALUES[plan.source],
            1 if order.major is not None else 0,
            _VALUES[order.major] if order.major is not None else None,
            order.department,
            w.branch_ids[city] if city is not None else None,
            _VALUES[status],
            _WAITING if waiting is not None else None,
            stamps.maybe(waiting),
            cycle,
            order.level,
            redispatches,
            attempts,
            satisfaction if status is _S_CLOSED else None,
            dues[0],
            dues[1],
            dues[2],
            dues[3],
            plan.created_by,
            stamps(plan.created_s),
            stamps.maybe(dispatched),
            stamps.maybe(replied),
            stamps.maybe(closed),
            stamps(final.at),
            final.actor,
            actors,
            None,  # the builder marks open orders for the ladder's catch-up
        )
        callback: Row | None = None
        if (status is _S_CALLBACK or status is _S_CLOSED) and customer >= 0:
            accepted = accepted or plan.created_s
            last_try = stamps(tries[-1].at) if tries else None
            if status is _S_CALLBACK:
                callback = (
                    customer + 1,
                    order.id,
                    "phone",
                    _ROUTINE,
                    dues[3] or stamps(accepted + DAY),
                    self.lead_at(self.now) if self.r() < 0.3 else None,
                    _PENDING,
                    len(tries),
                    last_try,
                    "未接通" if tries else None,
                    None,
                    stamps(accepted),
                )
            else:
                reached = satisfaction is not None
                callback = (
                    customer + 1,
                    order.id,
                    "phone",
                    _ROUTINE,
                    dues[3] or stamps(accepted + DAY),
                    tries[-1].actor if tries else None,
                    _DONE if reached else _FAILED,
                    len(tries),
                    last_try,
                    "客户确认问题已解决" if reached else "三次未接通",
                    satisfaction,
                    stamps(accepted),
                )
        return _Result(
            row,
            order.events,
            callback,
            status,
            customer,
            order.major is not None,
            closed,
            plan.category,
        )


def _at(event: _Event) -> int:
    return event.at


def _pick_id(r: Any, options: Sequence[int]) -> int:
    return options[int(r() * len(options))]


def _replanned_again(events: Sequence[_Event], index: int, at: int) -> bool:
    """Whether another change of history follows at the same instant."""
    while index < len(events) and events[index].at == at:
        if events[index].kind in _REPLANS:
            return True
        index += 1
    return False


def _state_after(order: _Order, known: Sequence[_Event]) -> tuple[WorkOrderStatus, int, bool]:
    """Status, owning department and major flag after the events ``known``."""
    status = _S_NEW
    department = known[0].department if known and known[0].department else order.department
    is_major = False
    for event in known:
        if event.to_status is not None:
            status = event.to_status
        if event.kind in _HANDS_OVER and event.department is not None:
            department = event.department
        elif event.kind is EventKind.MAJOR_FLAGGED:
            is_major = True
    return status, department, is_major


_VALUES: dict[object, str] = {
    member: member.value
    for member in (
        *RequestType,
        *Priority,
        *Channel,
        *WorkOrderSource,
        *MajorSource,
        *WorkOrderStatus,
        *EventKind,
        *ClockKind,
    )
}
_WAITING = WaitingReason.WAITING_FOR_CUSTOMER.value
_ROUTINE = CallbackPurpose.ROUTINE.value
_PENDING, _DONE, _FAILED = (
    CallbackStatus.PENDING.value,
    CallbackStatus.DONE.value,
    CallbackStatus.FAILED.value,
)


def _pick(r: Any, options: Sequence[str]) -> str:
    return options[int(r() * len(options))]


def _satisfaction(r: Any, category: RequestType) -> int:
    roll = r()
    if category is RequestType.COMPLAINT:
        return 5 if roll < 0.6 else 4 if roll < 0.97 else 3 if roll < 0.985 else 2
    return (
        5 if roll < 0.62 else 4 if roll < 0.91 else 3 if roll < 0.96 else 2 if roll < 0.985 else 1
    )


def _description(plan: Plan) -> str:
    source = {
        WorkOrderSource.AGENT: "客户来电反映",
        WorkOrderSource.WEB_FORM: "客户网上留言反映",
        WorkOrderSource.VOICE_MESSAGE: "客户语音留言反映",
        WorkOrderSource.REGULATOR: "通信管理局转办",
        WorkOrderSource.MEDIA: "媒体反映",
    }[plan.source]
    return f"{source}:{plan.topic}。请相关部门核实处理并回复。"


SETTLE_CHUNK = 400  # orders per task of the worker processes

_WORKER: Simulator | None = None  # what a forked worker settles orders with


def _settle_chunk(orders: list[_Order]) -> list[_Order]:
    assert _WORKER is not None, "a worker forked without its simulator"
    return [_WORKER.settle(order) for order in orders]


class WorkOrderWriter:
    """Simulates every plan and streams work orders, events and callbacks to the sink.

    People's steps are drawn here in plan order (one random stream); the rules' part
    (:meth:`Simulator.settle`) runs in ``workers`` forked processes when more than one is
    given (:mod:`concurrent.futures`), which gives the same rows. Call :meth:`close` at the
    end."""

    def __init__(self, w: World, *, workers: int = 1) -> None:
        self.w = w
        self.simulator = Simulator(w)
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self.events: list[Row] = []
        self.callbacks: list[Row] = []
        self.status_counts: dict[str, int] = {}
        self.closed_major: list[tuple[int, int]] = []  # (customer index, closed at)
        self.recent_closed_complaints: list[tuple[int, int]] = []
        self._json: dict[tuple[tuple[str, Any], ...], str] = {}
        self.complaints: dict[int, list[int]] = {}
        self.created_by_shift: dict[int, int] = {}
        self.closed_by_shift: dict[int, int] = {}

    def count_complaints(self, plan: Plan) -> None:
        """The customer's complaints within the policy's window up to this one (the ladder
        flags the N-th as major, :func:`desk.rules.ladder.major_source`); plans come in
        order of creation."""
        if plan.category is not RequestType.COMPLAINT or plan.customer < 0:
            return
        policy = self.w.policy
        earlier = self.complaints.setdefault(plan.customer, [])
        since = plan.created_s - policy.major.repeat_complaint_window_days * DAY
        count = 1 + sum(1 for at in earlier if since < at <= plan.created_s)
        earlier.append(plan.created_s)
        plan.complaints = count

    def _settled(self, orders: list[_Order]) -> Iterator[_Order]:
        if self.workers <= 1 or len(orders) < 2 * SETTLE_CHUNK:
            for order in orders:
                yield self.simulator.settle(order)
            return
        if self._pool is None:
            global _WORKER
            _WORKER = self.simulator  # inherited by the workers, forked from here
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=die_with_parent,
            )
        chunks = [orders[at : at + SETTLE_CHUNK] for at in range(0, len(orders), SETTLE_CHUNK)]
        for chunk in self._pool.map(_settle_chunk, chunks):
            yield from chunk

    def close(self) -> None:
        """Stop the worker processes, if any."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def rows(self, plans: Sequence[Plan]) -> Iterator[Row]:
        w = self.w
        stamps, values = w.stamps, _VALUES
        drawn: list[_Order] = []
        for plan in plans:
            self.count_complaints(plan)
            drawn.append(self.simulator.draw_order(w.next_work_order_id, plan))
            w.next_work_order_id += 1
        for order in self._settled(drawn):
            plan, work_order_id = order.plan, order.id
            result = self.simulator.result(order)
            for event in result.events:
                self.events.append(
                    (
                        w.next_event_id,
                        work_order_id,
                        stamps(event.at),
                        event.actor,
                        values[event.kind],
                        values[event.from_status] if event.from_status else None,
                        values[event.to_status] if event.to_status else None,
                        event.department,
                        values[event.clock] if event.clock else None,
                        event.key,
                        event.reason,
                        event.data_text or (self.json(event.data) if event.data else None),
                    )
                )
                w.next_event_id += 1
            if result.callback is not None:
                self.callbacks.append(result.callback)
            status = result.status.value
            self.status_counts[status] = self.status_counts.get(status, 0) + 1
            shift = w.shift_of(plan.created_s)
            self.created_by_shift[shift] = self.created_by_shift.get(shift, 0) + 1
            if result.closed_s is not None:
                shift = w.shift_of(result.closed_s)
                self.closed_by_shift[shift] = self.closed_by_shift.get(shift, 0) + 1
            if result.closed_s is not None and result.customer >= 0:
                if result.major:
                    self.closed_major.append((result.customer, result.closed_s))
                elif (
                    result.category is RequestType.COMPLAINT
                    and result.closed_s >= w.now_s - 3 * DAY
                ):
                    self.recent_closed_complaints.append((result.customer, result.closed_s))
            yield result.row

    def json(self, data: dict[str, Any]) -> str:
        """JSON text of an event's data (few distinct values: cached)."""
        key = tuple(data.items())
        text = self._json.get(key)
        if text is None:
            text = self._json[key] = json.dumps(data, ensure_ascii=False)
        return text

    def flush_events(self) -> None:
        if self.events:
            self.w.sink.insert("work_order_event", EVENT_COLUMNS, self.events)
            self.events = []


def plans_from_seeds(seeds: Sequence[WorkOrderSeed]) -> list[Plan]:
    return [
        Plan(
            customer=seed.customer,
            category=seed.category,
            topic=seed.topic,
            channel=seed.channel,
            created_s=seed.created_s + 60,
            created_by=seed.agent_id,
            contact_id=seed.contact_id,
        )
        for seed in seeds
    ]


def backlog_plans(w: World, count: int) -> list[Plan]:
    """``count`` open work orders from web forms and voice messages, stuck at each open
    status (many overdue): the load the sweep and the queues are benchmarked on."""
    r = w.rng.random
    topics = {
        RequestType.FAULT_REPORT: ("宽带无法上网", "网速慢", "手机无信号"),
        RequestType.COMPLAINT: ("装维超时", "乱扣费", "网络质量"),
        RequestType.SERVICE_REQUEST: ("套餐变更", "停复机"),
        RequestType.BILL_INQUIRY: ("扣费疑问",),
    }
    categories = list(topics)
    stalls = (
        (_S_NEW, 0.08),
        (_S_DISPATCHED, 0.62),
        (_S_REPLIED, 0.12),
        (_S_CALLBACK, 0.14),
        (_S_REOPENED, 0.04),
    )
    window = min(w.params.days, 30) * DAY
    leads = w.staff[Role.LEAD]
    plans = []
    for _ in range(count):
        category = categories[int(r() * len(categories))]
        roll, acc = r(), 0.0
        stall = _S_DISPATCHED
        for status, share in stalls:
            acc += share
            if roll < acc:
                stall = status
                break
        age = int(window * r() * r()) + 600
        plans.append(
            Plan(
                customer=int(r() * w.n),
                category=category,
                topic=_pick(r, topics[category]),
                channel=Channel.WEB_MESSAGE,
                created_s=w.now_s - age,
                created_by=leads[int(r() * len(leads))],
                source=WorkOrderSource.WEB_FORM if r() < 0.6 else WorkOrderSource.VOICE_MESSAGE,
                stall=stall,
                reopen=stall is _S_REOPENED,
                redispatch=False if stall is _S_NEW else None,
                failed_callbacks=1 if stall is _S_CALLBACK else None,
            )
        )
    return plans
