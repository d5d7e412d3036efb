"""Work orders with a consistent history, their SLA clocks, ladder events and callbacks.

Each work order is simulated in three passes:

1. the *timeline* of what people did (created → dispatched → replied → accepted → callback
   attempts → closed, with rejections, pauses and a reopen where drawn), cut at ``now`` —
   the last step at or before ``now`` gives the status;
2. the *clocks* replayed over that timeline exactly as :mod:`desk.rules.clocks` defines them
   (runs, pauses, reopen cycles, budgets from the policy on the business calendars), giving
   the due instants stored on the row and the warning and breach events;
3. the *chase* of complaints: a reminder after a missed reply deadline, an escalation to
   headquarters proposed after the grace, and confirmed by a complaint lead.

Calendar arithmetic runs on the policy's :class:`~desk.rules.calendar.BusinessCalendar` in
epoch microseconds (binary searches, no datetimes in the loop).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from desk.demo.catalog import REJECT_REASONS, REPLIES, WORK_ORDER_TITLES
from desk.demo.contacts import WorkOrderSeed
from desk.demo.geography import CITIES
from desk.demo.org import BILLING, CENTER, HQ, MARKETING, NETWORK
from desk.demo.sink import Row
from desk.demo.world import DAY, HOUR, LOCAL_OFFSET, World
from desk.rules.calendar import BusinessCalendar, calendars_from_policy
from desk.rules.clocks import callback_window_opens, clock_budgets, warning_budget
from desk.rules.ladder import MAJOR_KEY, ladder_key, major_source
from desk.rules.policy import CallbackRule
from desk.rules.vocab import (
    CallbackPurpose,
    CallbackStatus,
    Channel,
    ClockKind,
    EventKind,
    MajorSource,
    Priority,
    RequestType,
    Role,
    WaitingReason,
    WorkOrderSource,
    WorkOrderStatus,
)

US = 1_000_000
_MICROSECOND = timedelta(microseconds=1)
CLOCKS = (ClockKind.DISPATCH, ClockKind.REPLY, ClockKind.RESOLUTION, ClockKind.CALLBACK)
_STARTS = {
    EventKind.CREATED: (ClockKind.DISPATCH, ClockKind.RESOLUTION),
    EventKind.DISPATCHED: (ClockKind.REPLY,),
    EventKind.REJECTED: (ClockKind.REPLY,),
    EventKind.ACCEPTED: (ClockKind.CALLBACK,),
    EventKind.REOPENED: (ClockKind.DISPATCH, ClockKind.RESOLUTION),
}
_STOPS = {
    EventKind.DISPATCHED: (ClockKind.DISPATCH,),
    EventKind.REPLIED: (ClockKind.REPLY,),
    EventKind.ACCEPTED: (ClockKind.RESOLUTION,),
    EventKind.CLOSED: CLOCKS,
    EventKind.REOPENED: CLOCKS,
}
_CLOCK_INDEX = {kind: index for index, kind in enumerate(CLOCKS)}
_MOVES = {
    kind: (
        tuple(_CLOCK_INDEX[k] for k in _STOPS.get(kind, ())),
        tuple(_CLOCK_INDEX[k] for k in _STARTS.get(kind, ())),
    )
    for kind in set(_STARTS) | set(_STOPS)
}
_STATUS_OF = {
    EventKind.CREATED: WorkOrderStatus.NEW,
    EventKind.DISPATCHED: WorkOrderStatus.DISPATCHED,
    EventKind.REPLIED: WorkOrderStatus.REPLIED,
    EventKind.REJECTED: WorkOrderStatus.DISPATCHED,
    EventKind.ACCEPTED: WorkOrderStatus.CALLBACK,
    EventKind.CLOSED: WorkOrderStatus.CLOSED,
    EventKind.REOPENED: WorkOrderStatus.REOPENED,
}

# Enum members bound once: attribute access on an enum class is slow in a hot loop.
_E_CREATED = EventKind.CREATED
_E_DISPATCHED = EventKind.DISPATCHED
_E_REPLIED = EventKind.REPLIED
_E_REJECTED = EventKind.REJECTED
_E_ACCEPTED = EventKind.ACCEPTED
_E_CALLBACK_ATTEMPT = EventKind.CALLBACK_ATTEMPT
_E_CLOSED = EventKind.CLOSED
_E_REOPENED = EventKind.REOPENED
_E_PAUSED = EventKind.PAUSED
_E_RESUMED = EventKind.RESUMED
_E_WARNING = EventKind.WARNING
_E_BREACH = EventKind.BREACH
_E_REMINDER = EventKind.REMINDER
_E_ESCALATION_PROPOSED = EventKind.ESCALATION_PROPOSED
_E_ESCALATION_CONFIRMED = EventKind.ESCALATION_CONFIRMED
_E_MAJOR_FLAGGED = EventKind.MAJOR_FLAGGED
_S_NEW = WorkOrderStatus.NEW
_S_DISPATCHED = WorkOrderStatus.DISPATCHED
_S_REPLIED = WorkOrderStatus.REPLIED
_S_CALLBACK = WorkOrderStatus.CALLBACK
_S_CLOSED = WorkOrderStatus.CLOSED
_S_REOPENED = WorkOrderStatus.REOPENED
_K_DISPATCH = ClockKind.DISPATCH
_K_REPLY = ClockKind.REPLY
_K_RESOLUTION = ClockKind.RESOLUTION
_K_CALLBACK = ClockKind.CALLBACK

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


@dataclass
class _Event:
    at: int  # epoch seconds
    actor: int | None
    kind: EventKind
    from_status: WorkOrderStatus | None = None
    to_status: WorkOrderStatus | None = None
    department: int | None = None
    clock: ClockKind | None = None
    key: str | None = None
    reason: str | None = None
    data: dict[str, Any] | None = None


class Arithmetic(Protocol):
    """Business-time arithmetic in epoch microseconds (a calendar, or a faster stand-in)."""

    name: str

    def add_business_us(self, start: int, amount: int) -> int: ...

    def business_us_between(self, start: int, end: int) -> int: ...


class _AlwaysOpen:
    """A calendar open every minute of every day (the center's 24×7): business time is
    wall time, so the arithmetic needs no table look-ups."""

    def __init__(self, name: str) -> None:
        self.name = name

    def add_business_us(self, start: int, amount: int) -> int:
        if amount < 0:
            raise ValueError("business time to add must not be negative")
        return start + amount

    def business_us_between(self, start: int, end: int) -> int:
        return end - start


def _arithmetic(calendar: BusinessCalendar) -> Arithmetic:
    spec = calendar.spec
    always = (
        not spec.china_public_holidays
        and not spec.extra_holidays
        and all(
            len(day) == 1 and day[0].start == 0 and day[0].end == 24 * 60
            for day in spec.hours.by_weekday()
        )
    )
    return _AlwaysOpen(calendar.name) if always else calendar


class _ClockState:
    """One clock being replayed; times in epoch microseconds."""

    __slots__ = (
        "breached",
        "budget",
        "calendar",
        "due",
        "due_cycle",
        "last_end",
        "since",
        "since_cycle",
        "started",
        "used",
        "warn",
        "warn_budget",
        "warn_cycle",
        "warn_reached",
        "awaiting",
        "running",
    )

    def __init__(self, calendar: Arithmetic, budget: int, warn_budget: int) -> None:
        self.calendar = calendar
        self.budget = budget
        self.warn_budget = warn_budget
        self.used = 0
        self.since: int | None = None  # start of the open run
        self.since_cycle = 0
        self.last_end: int | None = None
        self.started = False
        self.due: int | None = None
        self.due_cycle = 0
        self.warn: int | None = None
        self.warn_cycle = 0
        self.warn_reached = False
        self.breached = False
        self.awaiting = False  # running or paused at now
        self.running = False

    def run(self, start: int, end: int, cycle: int, *, open_run: bool) -> None:
        """Count one run, as :func:`desk.rules.clocks.measure_clock` does."""
        if self.breached:
            return
        cal = self.calendar
        available = cal.business_us_between(start, end)
        if self.warn is None and self.used + available >= self.warn_budget:
            self.warn = cal.add_business_us(start, self.warn_budget - self.used)
            self.warn_cycle = cycle
            self.warn_reached = True
        if self.used + available >= self.budget:
            due = cal.add_business_us(start, self.budget - self.used)
            if (due <= end) if open_run else (due < end):
                self.breached, self.due, self.due_cycle = True, due, cycle
                return
        self.used += available


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
    _calendar_of: dict[tuple[ClockKind, int], Arithmetic] = field(default_factory=dict)
    _warn_budgets: dict[int, int] = field(default_factory=dict)
    _clock_specs: dict[tuple[int, int], tuple[list[tuple[Arithmetic, int, int]], Arithmetic]] = (
        field(default_factory=dict)
    )

    def __post_init__(self) -> None:
        self.calendars = dict(calendars_from_policy(self.w.policy))
        w = self.w
        self.r = w.rng.random
        self.hq = w.department(HQ)
        self.center = w.department(CENTER)
        self.complaint_leads = w.staff[Role.COMPLAINT_LEAD]
        self.policy = w.policy
        self.now = w.now_s
        self.budgets: dict[tuple[RequestType, Priority, Channel], Any] = {}

    # --- helpers -------------------------------------------------------------------------

    def lead_at(self, at: int) -> int:
        leads = self.w.shift_leads
        return leads[max(0, min(self.w.shift_of(at), len(leads) - 1))]

    def handler_for(self, department: int) -> int:
        handlers = self.w.handlers_by_department.get(department)
        if not handlers:
            return self.w.staff[Role.LEAD][0]
        return handlers[int(self.r() * len(handlers))]

    def calendar(self, clock: ClockKind, department: int) -> Arithmetic:
        found = self._calendar_of.get((clock, department))
        if found is None:
            kind = self.w.department_kinds.get(department)
            found = _arithmetic(self.calendars[self.policy.calendar_name_for(clock, kind)])
            self._calendar_of[(clock, department)] = found
        return found

    def add_business(self, cal: Arithmetic, at: int, minutes: float) -> int:
        return cal.add_business_us(at * US, int(minutes * 60 * US)) // US

    def department_for(self, plan: Plan) -> int:
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
        if category is RequestType.CONSULTATION:
            return w.department(MARKETING)
        return self.center

    def number(self, created_s: int) -> str:
        """``WO`` + local date + a sequence within the day."""
        day = self.w.stamps((created_s + LOCAL_OFFSET) // DAY * DAY)[:10].replace("-", "")
        sequence = self.numbers.get(day, 0) + 1
        self.numbers[day] = sequence
        return f"WO{day}{sequence:06d}"

    def callback_opens(self, accepted: int, rule: CallbackRule, arithmetic: Arithmetic) -> int:
        """When the callback window opens (cached per local day when it cannot depend on
        the time of acceptance)."""
        calendar = self.calendars[arithmetic.name]
        if rule.days_after >= 1:
            key = ((accepted + LOCAL_OFFSET) // DAY, id(rule), calendar.name)
            found = self._callback_opens.get(key)
            if found is None:
                found = self._opens(accepted, rule, calendar)
                self._callback_opens[key] = found
            return found
        return self._opens(accepted, rule, calendar)

    @staticmethod
    def _opens(accepted: int, rule: CallbackRule, calendar: BusinessCalendar) -> int:
        instant = datetime.fromtimestamp(accepted, UTC)
        return int(callback_window_opens(instant, rule, calendar).timestamp())

    # --- one work order ------------------------------------------------------------------

    def simulate(self, work_order_id: int, plan: Plan) -> _Result:
        r, now = self.r, self.now
        category = plan.category
        priority = plan.priority or (
            Priority.URGENT
            if plan.major
            or (category in (RequestType.FAULT_REPORT, RequestType.COMPLAINT) and r() < 0.12)
            else Priority.NORMAL
        )
        key = (category, priority, plan.channel)
        budgets = self.budgets.get(key)
        if budgets is None:
            budgets = self.budgets[key] = clock_budgets(
                category, priority, plan.channel, self.policy
            )
        department = self.department_for(plan)
        reply_cal = self.calendar(_K_REPLY, department)
        t0 = plan.created_s
        created_status = _S_NEW
        timeline: list[_Event] = [_Event(t0, plan.created_by, _E_CREATED, None, created_status)]
        if plan.major is not None:
            timeline.append(
                _Event(
                    min(t0 + 30, now),
                    None,
                    _E_MAJOR_FLAGGED,
                    key=MAJOR_KEY,
                    reason=_MAJOR_REASON[plan.major],
                    data={"source": plan.major.value},
                )
            )
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
        start = t0
        status = created_status

        def add(event: _Event) -> bool:
            """Append a status event if it happened by now; False stops the timeline."""
            nonlocal status
            if event.at > now:
                return False
            event.from_status = status
            event.to_status = _STATUS_OF.get(event.kind, status)
            timeline.append(event)
            status = event.to_status
            return True

        while True:
            if stall is _S_NEW:
                break
            if plan.dispatch_after is not None:
                delay = float(plan.dispatch_after)
            else:
                delay = 60 * (1 + -math.log(1.0 - r()) * 18) if r() < 0.95 else 60 * r() * 420
            t_dispatch = start + int(delay)
            if not add(
                _Event(t_dispatch, self.lead_at(t_dispatch), _E_DISPATCHED, department=department)
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
                    if not add(
                        _Event(
                            t_pause,
                            handler,
                            _E_PAUSED,
                            reason="等待客户提供资料",
                            data={"reason": WaitingReason.WAITING_FOR_CUSTOMER.value},
                        )
                    ):
                        break
                    used = reply_cal.business_us_between(t_dispatch * US, t_pause * US) / 60 / US
                    t_resume = self.add_business(reply_cal, t_pause, 30 + r() * 600)
                    keep_waiting = plan.pause is True and stall is _S_DISPATCHED
                    if keep_waiting or not add(
                        _Event(t_resume, handler, _E_RESUMED, reason="客户已提供资料")
                    ):
                        break
                    t_reply = self.add_business(reply_cal, t_resume, max(1.0, reply_minutes - used))
            if stall is _S_DISPATCHED and not redispatch:
                break
            if not add(
                _Event(
                    t_reply,
                    self.handler_for(department),
                    _E_REPLIED,
                    reason=_pick(r, REPLIES[category]),
                    department=department,
                )
            ):
                break
            if redispatch:
                redispatch = False
                t_reject = t_reply + int(300 + r() * 5_400)
                if not add(
                    _Event(
                        t_reject,
                        self.lead_at(t_reject),
                        _E_REJECTED,
                        reason=_pick(r, REJECT_REASONS),
                        department=department,
                    )
                ):
                    break
                if stall is _S_DISPATCHED:
                    break
                t_reply = self.add_business(reply_cal, t_reject, budgets.reply * (0.1 + r() * 0.5))
                if not add(
                    _Event(
                        t_reply,
                        self.handler_for(department),
                        _E_REPLIED,
                        reason=_pick(r, REPLIES[category]),
                        department=department,
                    )
                ):
                    break
            if stall is _S_REPLIED:
                break
            t_accept = t_reply + int(300 + -math.log(1.0 - r()) * 3_000)
            if not add(
                _Event(t_accept, self.lead_at(t_accept), _E_ACCEPTED, department=department)
            ):
                break
            callback_cal = self.calendar(_K_CALLBACK, department)
            opens = self.callback_opens(t_accept, budgets.callback, callback_cal)
            t_try = opens + int(r() * 5_400)
            reached = False
            for attempt in range(max_attempts):
                reached = attempt >= failed
                if t_try > now or (reached and stall is _S_CALLBACK):
                    reached = False
                    break
                attempts += 1
                timeline.append(
                    _Event(
                        t_try,
                        self.lead_at(t_try),
                        _E_CALLBACK_ATTEMPT,
                        from_status=status,
                        to_status=status,
                        data={"attempt": attempts, "reached": reached},
                    )
                )
                if reached:
                    satisfaction = _satisfaction(r, category)
                    break
                t_try += int(2 * HOUR + r() * 3 * HOUR)
            if not reached and (attempts < max_attempts or stall is _S_CALLBACK):
                break
            last_try = timeline[-1].at
            reason = "回访客户,客户表示满意" if reached else "三次回访未接通,按规定结单"
            if satisfaction is not None and satisfaction <= 2:
                reason = "回访客户,客户表示不满意"
            if not add(
                _Event(
                    last_try + 180,
                    self.lead_at(last_try),
                    _E_CLOSED,
                    reason=reason,
                    data={"satisfaction": satisfaction, "reached": reached},
                )
            ):
                break
            if not reopen or cycle > 0:
                break
            reopen = False
            t_reopen = last_try + int(HOUR + r() * 30 * HOUR)
            if stall is _S_REOPENED:  # a showcase or backlog order reopened by now
                t_reopen = max(last_try + 240, min(t_reopen, now - 60))
            if not add(
                _Event(
                    t_reopen,
                    self.lead_at(t_reopen),
                    _E_REOPENED,
                    reason="客户对处理结果不满意,重新处理",
                )
            ):
                break
            cycle = 1
            start = t_reopen
            failed = 0
            satisfaction = None
            attempts = 0
            if stall is _S_REOPENED:
                break

        clocks = self.replay(timeline, budgets, department)
        events = timeline + self.ladder(clocks)
        escalation, department = self.chase(plan, clocks, timeline, events, department)
        events.sort(key=lambda event: event.at)
        next_at = self.next_ladder(plan, status, clocks, events, department)
        return self.result(
            work_order_id,
            plan,
            priority,
            department,
            escalation,
            clocks,
            timeline,
            events,
            status,
            satisfaction,
            attempts,
            next_at,
        )

    def _budgets_of(
        self, budgets: Any, department: int
    ) -> tuple[list[tuple[Arithmetic, int, int]], Arithmetic]:
        """Calendar, budget and warning budget (µs) of the three fixed clocks, and the
        callback clock's calendar; cached per budgets and department."""
        key = (id(budgets), department)
        found = self._clock_specs.get(key)
        if found is None:
            fixed = []
            for kind in CLOCKS[:3]:
                budget = budgets.minutes(kind) * 60 * US
                fixed.append((self.calendar(kind, department), budget, self._warn_of(budget)))
            found = (fixed, self.calendar(_K_CALLBACK, department))
            self._clock_specs[key] = found
        return found

    def _warn_of(self, budget: int) -> int:
        warn = self._warn_budgets.get(budget)
        if warn is None:
            percent = self.policy.sla.warning_percent
            warn = warning_budget(timedelta(microseconds=budget), percent) // _MICROSECOND
            self._warn_budgets[budget] = warn
        return warn

    def replay(
        self, timeline: Sequence[_Event], budgets: Any, department: int
    ) -> list[_ClockState]:
        """The four clocks (dispatch, reply, resolution, callback) over the timeline, as
        :func:`desk.rules.clocks.work_order_clocks` measures them at ``now``. The timeline
        is in time order."""
        fixed, callback_cal = self._budgets_of(budgets, department)
        clocks = [_ClockState(cal, budget, warn) for cal, budget, warn in fixed]
        accepted = next((e.at for e in timeline if e.kind is _E_ACCEPTED), None)
        if accepted is not None:
            opens = self.callback_opens(accepted, budgets.callback, callback_cal)
            due = self.add_business(callback_cal, opens, budgets.callback.within)
            budget = callback_cal.business_us_between(accepted * US, due * US)
        else:
            budget = budgets.callback.within * 60 * US
        clocks.append(_ClockState(callback_cal, budget, self._warn_of(budget)))
        active = [False, False, False, False]
        paused = False
        cycle = 0

        def settle(at: int) -> None:
            at_us = at * US
            for index in range(4):
                state = clocks[index]
                should = active[index] and not paused
                if should:
                    if state.since is None:
                        state.since, state.since_cycle, state.started = at_us, cycle, True
                elif state.since is not None:
                    if at_us > state.since:
                        state.run(state.since, at_us, state.since_cycle, open_run=False)
                        state.last_end = at_us
                    state.since = None

        for event in timeline:
            what = event.kind
            if what is _E_PAUSED:
                paused = True
            elif what is _E_RESUMED:
                paused = False
            else:
                moves = _MOVES.get(what)
                if moves is None:
                    continue
                stops, starts = moves
                for index in stops:
                    active[index] = False
                if what is _E_CLOSED or what is _E_REOPENED:
                    paused = False
                settle(event.at)
                if what is _E_REOPENED:
                    cycle += 1
                for index in starts:
                    active[index] = True
            settle(event.at)
        now_us = self.now * US
        for index in range(4):
            state = clocks[index]
            if not state.started:
                continue
            state.running = state.since is not None
            state.awaiting = state.running or (active[index] and paused)
            if state.since is not None:
                state.run(state.since, now_us, state.since_cycle, open_run=True)
            if state.breached:
                continue
            stopped = state.since is None and not (active[index] and paused)
            base = (state.last_end or now_us) if stopped else now_us
            state.due = state.calendar.add_business_us(base, max(state.budget - state.used, 0))
            if state.warn is None and not stopped:
                state.warn = state.calendar.add_business_us(
                    base, max(state.warn_budget - state.used, 0)
                )
                state.warn_cycle = cycle
            state.due_cycle = cycle
        return clocks

    def ladder(self, clocks: list[_ClockState]) -> list[_Event]:
        """Warning and breach events the sweep would have raised by now."""
        events = []
        now_us = self.now * US
        for kind, state in zip(CLOCKS, clocks, strict=True):
            if state.warn_reached and state.warn is not None and state.warn <= now_us:
                events.append(
                    _Event(
                        state.warn // US,
                        None,
                        _E_WARNING,
                        clock=kind,
                        key=ladder_key(_E_WARNING, kind, state.warn_cycle),
                    )
                )
            if state.breached and state.due is not None:
                events.append(
                    _Event(
                        state.due // US,
                        None,
                        _E_BREACH,
                        clock=kind,
                        key=ladder_key(_E_BREACH, kind, state.due_cycle),
                    )
                )
        return events

    def next_ladder(
        self,
        plan: Plan,
        status: WorkOrderStatus,
        clocks: list[_ClockState],
        events: Sequence[_Event],
        department: int,
    ) -> int | None:
        """When the ladder can next bring something new (seconds), as
        :func:`desk.rules.ladder.next_ladder_instant` says: the sweep's work list."""
        known = {event.key for event in events if event.key is not None}
        now_us = self.now * US
        candidates: list[int] = []

        def consider(instant: int, key: str) -> None:
            if instant > now_us and key not in known:
                candidates.append(instant)

        chase = self.policy.chase
        chased = plan.category in chase.categories and status is not _S_CLOSED
        for index, state in enumerate(clocks):
            if not state.awaiting or state.due is None:
                continue
            kind = CLOCKS[index]
            running = state.running and not state.breached
            if running:
                if state.warn is not None and state.warn < state.due:
                    consider(state.warn, ladder_key(_E_WARNING, kind, state.warn_cycle))
                consider(state.due, ladder_key(_E_BREACH, kind, state.due_cycle))
            if index == 1 and chased and (running or state.breached):
                consider(
                    state.due + chase.reminder_after_minutes * 60 * US,
                    ladder_key(_E_REMINDER, _K_REPLY, state.due_cycle),
                )
                calendar = self.calendar(_K_REPLY, department)
                consider(
                    calendar.add_business_us(state.due, chase.escalation_grace * 60 * US),
                    ladder_key(_E_ESCALATION_PROPOSED, _K_REPLY, state.due_cycle),
                )
        return -(-min(candidates) // US) if candidates else None

    def chase(
        self,
        plan: Plan,
        clocks: list[_ClockState],
        timeline: Sequence[_Event],
        events: list[_Event],
        department: int,
    ) -> tuple[int, int]:
        """The complaint chase after a missed reply deadline: (escalation level, owner)."""
        chase = self.policy.chase
        reply = clocks[1]
        if plan.category not in chase.categories or not reply.breached or reply.due is None:
            return 0, department
        r, now = self.r, self.now
        breach = reply.due // US
        replied = next((e.at for e in timeline if e.kind is _E_REPLIED and e.at >= breach), None)
        settled = min(now, replied) if replied is not None else now
        cycle = reply.due_cycle
        level = 0
        due = breach + chase.reminder_after_minutes * 60
        if due > settled:
            return level, department
        remind_at = min(due + int(r() * 300), settled)  # the sweep's next round

        chaser = self.complaint_leads[int(r() * len(self.complaint_leads))]
        events.append(
            _Event(
                remind_at,
                chaser,
                _E_REMINDER,
                clock=_K_REPLY,
                department=department,
                key=ladder_key(_E_REMINDER, _K_REPLY, cycle),
                reason="投诉工单已超回复时限,请尽快处理并回复",
            )
        )
        level = 1
        cal = self.calendar(_K_REPLY, department)
        proposed = self.add_business(cal, breach, chase.escalation_grace)
        if proposed > settled:
            return level, department
        proposed = min(proposed + int(r() * 300), settled)
        events.append(
            _Event(
                proposed,
                None,
                _E_ESCALATION_PROPOSED,
                clock=_K_REPLY,
                department=self.hq,
                key=ladder_key(_E_ESCALATION_PROPOSED, _K_REPLY, cycle),
                reason="督促后仍未回复,建议升级至省公司",
            )
        )
        level = 2
        confirmed = proposed + int(600 + r() * 3 * HOUR)
        if not plan.confirm_escalation or confirmed > settled:
            return level, department
        events.append(
            _Event(
                confirmed,
                chaser,
                _E_ESCALATION_CONFIRMED,
                clock=_K_REPLY,
                department=self.hq,
                reason="分公司无法解决,升级至省公司处理",
            )
        )
        return 3, self.hq

    def result(
        self,
        work_order_id: int,
        plan: Plan,
        priority: Priority,
        department: int,
        escalation: int,
        clocks: list[_ClockState],
        timeline: Sequence[_Event],
        events: Sequence[_Event],
        status: WorkOrderStatus,
        satisfaction: int | None,
        attempts: int,
        next_at: int | None,
    ) -> _Result:
        w, stamps = self.w, self.w.stamps
        dispatched = replied = closed = accepted = waiting = None
        cycle = redispatches = 0
        tries: list[_Event] = []
        for event in timeline:
            what = event.kind
            if what is _E_DISPATCHED:
                if dispatched is None:
                    dispatched = event.at
            elif what is _E_REPLIED:
                replied = event.at
            elif what is _E_CALLBACK_ATTEMPT:
                tries.append(event)
            elif what is _E_ACCEPTED:
                accepted = event.at
            elif what is _E_CLOSED:
                closed = event.at
            elif what is _E_REOPENED:
                cycle += 1
                tries = []
            elif what is _E_REJECTED:
                redispatches += 1
            elif what is _E_PAUSED:
                waiting = event.at
            elif what is _E_RESUMED:
                waiting = None
        dues = [
            stamps(state.due // US) if state.started and state.due is not None else None
            for state in clocks
        ]
        if status is _S_CLOSED:
            waiting = None
        else:
            closed = None
        final = events[-1]
        customer = plan.customer
        city = w.cities[customer] if customer >= 0 else None
        actors = 0
        for event in events:
            if event.actor is not None:
                actors += 1
        row = (
            work_order_id,
            self.number(plan.created_s),
            customer + 1 if customer >= 0 else None,
            plan.contact_id,
            _VALUES[plan.category],
            plan.topic,
            WORK_ORDER_TITLES[plan.category].format(topic=plan.topic),
            _description(plan),
            _VALUES[priority],
            _VALUES[plan.channel],
            _VALUES[plan.source],
            1 if plan.major else 0,
            _VALUES[plan.major] if plan.major else None,
            department,
            w.branch_ids[city] if city is not None else None,
            _VALUES[status],
            _WAITING if waiting is not None else None,
            stamps.maybe(waiting),
            cycle,
            escalation,
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
            stamps.maybe(next_at),
        )
        callback: Row | None = None
        if (status is _S_CALLBACK or status is _S_CLOSED) and customer >= 0:
            accepted = accepted or plan.created_s
            last_try = stamps(tries[-1].at) if tries else None
            if status is _S_CALLBACK:
                callback = (
                    customer + 1,
                    work_order_id,
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
                    work_order_id,
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
            list(events),
            callback,
            status,
            customer,
            plan.major is not None,
            closed,
            plan.category,
        )


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


_MAJOR_REASON = {
    MajorSource.REGULATOR: "通信管理局转办投诉,按重大投诉处理",
    MajorSource.MEDIA: "媒体曝光投诉,按重大投诉处理",
    MajorSource.REPEAT_COMPLAINER: "客户30天内第3次投诉,按重大投诉处理",
}


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


class WorkOrderWriter:
    """Simulates every plan and streams work orders, events and callbacks to the sink."""

    def __init__(self, w: World) -> None:
        self.w = w
        self.simulator = Simulator(w)
        self.events: list[Row] = []
        self.callbacks: list[Row] = []
        self.status_counts: dict[str, int] = {}
        self.closed_major: list[tuple[int, int]] = []  # (customer index, closed at)
        self.recent_closed_complaints: list[tuple[int, int]] = []
        self._json: dict[tuple[tuple[str, Any], ...], str] = {}
        self.complaints: dict[int, list[int]] = {}
        self.created_by_shift: dict[int, int] = {}
        self.closed_by_shift: dict[int, int] = {}

    def flag_repeat_complainer(self, plan: Plan) -> None:
        """A customer's N-th complaint within the policy's window is a major complaint
        (:func:`desk.rules.ladder.major_source`); plans come in order of creation."""
        if plan.category is not RequestType.COMPLAINT or plan.customer < 0:
            return
        policy = self.w.policy
        earlier = self.complaints.setdefault(plan.customer, [])
        since = plan.created_s - policy.major.repeat_complaint_window_days * DAY
        count = 1 + sum(1 for at in earlier if since < at <= plan.created_s)
        earlier.append(plan.created_s)
        if plan.major is None:
            plan.major = major_source(plan.category, plan.source, count, policy)

    def rows(self, plans: Sequence[Plan]) -> Iterator[Row]:
        w = self.w
        stamps, values = w.stamps, _VALUES
        for plan in plans:
            self.flag_repeat_complainer(plan)
            work_order_id = w.next_work_order_id
            w.next_work_order_id += 1
            result = self.simulator.simulate(work_order_id, plan)
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
                        self.json(event.data) if event.data else None,
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
