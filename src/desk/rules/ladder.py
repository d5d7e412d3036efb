"""The escalation ladder: which warning, breach, reminder, escalation and major-complaint
events are due for a work order at ``now``; and the repeat-caller and repeat-complainer rules.

:func:`due_ladder_events` is pure and idempotent by construction: every step it can produce
has a stable ``ladder_key``, and it returns only steps whose key is not among the existing
ones. Feeding its output back as existing keys yields nothing new, so a sweep run twice at the
same instant changes nothing the second time (the database's unique
``(work_order_id, ladder_key)`` index makes double application impossible as well).

Ladder keys (``c<N>`` is the reopen cycle in which the instant fell, 0 before any reopen):

==============================  ===========================================================
``warning:<clock>:c<N>``        the clock's warning threshold passed (policy
                                ``sla.warning_percent``) while the deadline is still ahead
``breach:<clock>:c<N>``         the clock's deadline was missed (never undone)
``reminder:reply:c<N>``         complaint chase: reminder (督促) to the owning department,
                                once per reply breach, while the reply is still awaited
``escalation:reply:c<N>``       complaint chase: still unreplied ``chase.escalation_grace``
                                business minutes after the reply breach: an escalation to
                                headquarters is proposed for the complaint lead to confirm
``major``                       a complaint from the regulator or media, or the customer's
                                N-th complaint in the window: to the supervisor at once
==============================  ===========================================================

``<clock>`` is a :class:`~desk.rules.vocab.ClockKind` value (dispatch, reply, resolution,
callback, hq_reply).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from desk.rules.calendar import BusinessCalendar, add_business_minutes, calendars_from_policy
from desk.rules.clocks import Clock, TimelineEvent, work_order_clocks
from desk.rules.policy import Policy
from desk.rules.vocab import (
    Channel,
    ClockKind,
    ClockState,
    DepartmentKind,
    EventKind,
    MajorSource,
    Priority,
    RequestType,
    Role,
    WorkOrderSource,
    WorkOrderStatus,
)

MAJOR_KEY = "major"


def ladder_key(step: EventKind, clock: ClockKind | None = None, cycle: int = 0) -> str:
    """The stable key of a ladder step (see the module docstring for the format)."""
    if step is EventKind.MAJOR_FLAGGED:
        return MAJOR_KEY
    prefix = {
        EventKind.WARNING: "warning",
        EventKind.BREACH: "breach",
        EventKind.REMINDER: "reminder",
        EventKind.ESCALATION_PROPOSED: "escalation",
    }.get(step)
    if prefix is None or clock is None:
        raise ValueError(f"{step} with clock {clock} is not a ladder step")
    return f"{prefix}:{clock.value}:c{cycle}"


@dataclass(frozen=True)
class WorkOrderSnapshot:
    """What the ladder needs to know about one work order.

    ``clocks`` are the work order's clocks measured at ``now``
    (:func:`desk.rules.clocks.work_order_clocks`); whether it is paused, awaits a reply or
    stopped late is read from them. ``cycle`` is the reopen count.
    ``customer_complaints_in_window`` counts the customer's complaints received within
    ``major.repeat_complaint_window_days`` up to this one's creation, this one included (see
    :func:`complaints_in_window`).
    """

    id: int
    category: RequestType
    status: WorkOrderStatus
    source: WorkOrderSource
    is_major: bool
    department_id: int | None
    department_kind: DepartmentKind | None
    created_at: datetime
    cycle: int
    clocks: Sequence[Clock]
    customer_complaints_in_window: int = 1


@dataclass(frozen=True)
class LadderEvent:
    """One ladder step due now, ready to be stored as a work-order event.

    ``due_at`` is when the step fell due (for a breach, the missed deadline itself);
    ``deadline`` is the latest on-standard instant of a reminder (``late`` when ``now`` is
    past it). ``notify`` is the role that acts on it; ``department_id`` the department
    concerned; ``escalate_to`` the department kind an escalation goes to.
    """

    work_order_id: int
    ladder_key: str
    kind: EventKind
    clock: ClockKind | None
    cycle: int
    due_at: datetime
    deadline: datetime | None
    late: bool
    notify: Role
    department_id: int | None
    escalate_to: DepartmentKind | None = None
    major_source: MajorSource | None = None


_CLOCK_OWNER: Mapping[ClockKind, Role] = {
    ClockKind.DISPATCH: Role.LEAD,
    ClockKind.REPLY: Role.HANDLER,
    ClockKind.RESOLUTION: Role.HANDLER,
    ClockKind.CALLBACK: Role.LEAD,
    ClockKind.HQ_REPLY: Role.COMPLAINT_LEAD,  # who chases headquarters
}
_STEP_ORDER: Mapping[EventKind, int] = {
    EventKind.MAJOR_FLAGGED: 0,
    EventKind.WARNING: 1,
    EventKind.BREACH: 2,
    EventKind.REMINDER: 3,
    EventKind.ESCALATION_PROPOSED: 4,
}
_AWAITING = (ClockState.RUNNING, ClockState.PAUSED)


def major_source(
    category: RequestType,
    source: WorkOrderSource,
    complaints_in_window: int,
    policy: Policy,
) -> MajorSource | None:
    """Why a work order is a major complaint, or None.

    A complaint is major when it comes from a source listed in ``major.sources`` (the
    regulator 通信管理局, media), or when it is at least the customer's
    ``major.repeat_complaint_count``-th complaint within the window.
    """
    if category is not RequestType.COMPLAINT:
        return None
    if source in policy.major.sources:
        return MajorSource(source.value)
    if complaints_in_window >= policy.major.repeat_complaint_count:
        return MajorSource.REPEAT_COMPLAINER
    return None


def complaints_in_window(complaint_times: Iterable[datetime], at: datetime, policy: Policy) -> int:
    """The customer's complaints received in ``(at - window, at]`` (the one at ``at``
    included), window = ``major.repeat_complaint_window_days``."""
    since = at - timedelta(days=policy.major.repeat_complaint_window_days)
    return sum(1 for when in complaint_times if since < when <= at)


def _warning(snapshot: WorkOrderSnapshot, clock: Clock) -> LadderEvent:
    assert clock.warn_at is not None
    assert clock.warn_cycle is not None
    return LadderEvent(
        work_order_id=snapshot.id,
        ladder_key=ladder_key(EventKind.WARNING, clock.kind, clock.warn_cycle),
        kind=EventKind.WARNING,
        clock=clock.kind,
        cycle=clock.warn_cycle,
        due_at=clock.warn_at,
        deadline=clock.due_at,
        late=False,
        notify=_CLOCK_OWNER[clock.kind],
        department_id=snapshot.department_id,
    )


def _breach(snapshot: WorkOrderSnapshot, clock: Clock) -> LadderEvent:
    assert clock.due_at is not None
    assert clock.due_cycle is not None
    return LadderEvent(
        work_order_id=snapshot.id,
        ladder_key=ladder_key(EventKind.BREACH, clock.kind, clock.due_cycle),
        kind=EventKind.BREACH,
        clock=clock.kind,
        cycle=clock.due_cycle,
        due_at=clock.due_at,
        deadline=None,
        late=False,
        notify=_CLOCK_OWNER[clock.kind],
        department_id=snapshot.department_id,
    )


def _reminder(
    snapshot: WorkOrderSnapshot, breach_at: datetime, cycle: int, policy: Policy, *, late: bool
) -> LadderEvent:
    """The 督促 to the owning department: due after the breach, on standard until its
    deadline (``late`` when stored after it)."""
    chase = policy.chase
    return LadderEvent(
        work_order_id=snapshot.id,
        ladder_key=ladder_key(EventKind.REMINDER, ClockKind.REPLY, cycle),
        kind=EventKind.REMINDER,
        clock=ClockKind.REPLY,
        cycle=cycle,
        due_at=breach_at + timedelta(minutes=chase.reminder_after_minutes),
        deadline=breach_at + timedelta(minutes=chase.reminder_within_minutes),
        late=late,
        notify=Role.HANDLER,
        department_id=snapshot.department_id,
    )


def _escalation(
    snapshot: WorkOrderSnapshot,
    breach_at: datetime,
    cycle: int,
    policy: Policy,
    calendars: Mapping[str, BusinessCalendar] | None,
) -> LadderEvent:
    """The proposal to headquarters, the policy's grace in business minutes after the breach
    on the owning department's reply calendar."""
    chase = policy.chase
    calendars = calendars if calendars is not None else calendars_from_policy(policy)
    calendar = calendars[policy.calendar_name_for(ClockKind.REPLY, snapshot.department_kind)]
    return LadderEvent(
        work_order_id=snapshot.id,
        ladder_key=ladder_key(EventKind.ESCALATION_PROPOSED, ClockKind.REPLY, cycle),
        kind=EventKind.ESCALATION_PROPOSED,
        clock=ClockKind.REPLY,
        cycle=cycle,
        due_at=add_business_minutes(breach_at, chase.escalation_grace, calendar),
        deadline=None,
        late=False,
        notify=Role.COMPLAINT_LEAD,
        department_id=snapshot.department_id,
        escalate_to=chase.escalate_to,
    )


def due_ladder_events(
    snapshot: WorkOrderSnapshot,
    existing_keys: Collection[str],
    now: datetime,
    policy: Policy,
    calendars: Mapping[str, BusinessCalendar] | None = None,
) -> list[LadderEvent]:
    """The ladder steps due for ``snapshot`` at ``now`` whose keys are not in ``existing_keys``.

    Rules (numbers from the policy):

    - **warning**: a clock that is running or paused, not breached, whose warning instant
      has passed;
    - **breach**: a clock whose deadline was missed (also recorded for a clock already
      stopped, when it stopped late);
    - **reminder**: a work order of a ``chase.categories`` category whose reply clock is
      breached and which still awaits the reply, once ``chase.reminder_after_minutes`` have
      passed since the breach; it is on standard within ``chase.reminder_within_minutes``;
    - **escalation proposed**: the same, still awaiting the reply
      ``chase.escalation_grace`` business minutes (owning department's calendar) after the
      breach;
    - **major flagged**: a complaint not yet major, from a major source or a repeat
      complainer (:func:`major_source`).

    The result is ordered by ``due_at`` then ladder step.
    """
    existing = set(existing_keys)
    events: list[LadderEvent] = []

    def add(event: LadderEvent) -> None:
        if event.ladder_key not in existing:
            existing.add(event.ladder_key)
            events.append(event)

    source = major_source(
        snapshot.category, snapshot.source, snapshot.customer_complaints_in_window, policy
    )
    if source is not None and not snapshot.is_major:
        add(
            LadderEvent(
                work_order_id=snapshot.id,
                ladder_key=MAJOR_KEY,
                kind=EventKind.MAJOR_FLAGGED,
                clock=None,
                cycle=snapshot.cycle,
                due_at=snapshot.created_at,
                deadline=None,
                late=False,
                notify=Role.SUPERVISOR,
                department_id=snapshot.department_id,
                major_source=source,
            )
        )

    for clock in snapshot.clocks:
        if (
            clock.state in _AWAITING
            and not clock.breached
            and clock.warn_at is not None
            and clock.warn_cycle is not None
            and clock.warn_at <= now
            and (clock.due_at is None or now < clock.due_at)
        ):
            add(_warning(snapshot, clock))
        if clock.breached and clock.due_at is not None and clock.due_cycle is not None:
            add(_breach(snapshot, clock))
        if clock.kind is ClockKind.REPLY and snapshot.category in policy.chase.categories:
            for event in _chase(snapshot, clock, now, policy, calendars):
                add(event)

    events.sort(key=lambda event: (event.due_at, _STEP_ORDER[event.kind], event.ladder_key))
    return events


def _chase(
    snapshot: WorkOrderSnapshot,
    reply: Clock,
    now: datetime,
    policy: Policy,
    calendars: Mapping[str, BusinessCalendar] | None,
) -> list[LadderEvent]:
    """Reminder and escalation for a breached reply clock still awaiting the reply."""
    if not reply.breached or reply.due_at is None or reply.due_cycle is None:
        return []
    if reply.state not in _AWAITING or snapshot.status is WorkOrderStatus.CLOSED:
        return []
    breach_at, cycle = reply.due_at, reply.due_cycle
    steps: list[LadderEvent] = []
    reminder = _reminder(snapshot, breach_at, cycle, policy, late=False)
    if reminder.due_at <= now:
        assert reminder.deadline is not None
        steps.append(replace(reminder, late=now > reminder.deadline))
    escalation = _escalation(snapshot, breach_at, cycle, policy, calendars)
    if escalation.due_at <= now:
        steps.append(escalation)
    return steps


def snapshot_from_history(
    *,
    work_order_id: int,
    category: RequestType,
    priority: Priority,
    channel: Channel,
    status: WorkOrderStatus,
    source: WorkOrderSource,
    is_major: bool,
    department_id: int | None,
    department_kind: DepartmentKind | None,
    events: Iterable[TimelineEvent],
    now: datetime,
    policy: Policy,
    calendars: Mapping[str, BusinessCalendar] | None = None,
    customer_complaints_in_window: int = 1,
) -> WorkOrderSnapshot:
    """Measure the clocks from the work order's history and build its snapshot.

    ``events`` are its clock-moving events (created, dispatched, replied, accepted, rejected,
    closed, reopened, paused, resumed); other kinds are ignored. The creation time is the
    first ``created`` event (or the earliest event).
    """
    history = [event for event in events if event.at <= now]
    if not history:
        raise ValueError(f"work order {work_order_id} has no history at {now}")
    created = [event.at for event in history if event.kind is EventKind.CREATED]
    clocks = work_order_clocks(
        category=category,
        priority=priority,
        channel=channel,
        department_kind=department_kind,
        events=history,
        now=now,
        policy=policy,
        calendars=calendars,
    )
    return WorkOrderSnapshot(
        id=work_order_id,
        category=category,
        status=status,
        source=source,
        is_major=is_major,
        department_id=department_id,
        department_kind=department_kind,
        created_at=min(created) if created else min(event.at for event in history),
        cycle=clocks.cycle,
        clocks=clocks.all(),
        customer_complaints_in_window=customer_complaints_in_window,
    )


# --- when to look again ----------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedStep:
    """A ladder step and the instants at which :func:`due_ladder_events` returns it.

    From ``event.due_at`` (inclusive) until ``until`` (exclusive; None: for good), as long as
    the work order's history stays as it is, :func:`due_ladder_events` returns
    :meth:`as_of` the instant: ``event`` itself, except that a reminder stored after
    ``late_after`` (its on-standard deadline) is ``late``. A warning is only good until its
    clock's deadline: after that, the breach replaces it.
    """

    event: LadderEvent
    until: datetime | None = None
    late_after: datetime | None = None

    def as_of(self, instant: datetime) -> LadderEvent:
        """The step as :func:`due_ladder_events` returns it at ``instant``."""
        late = self.late_after is not None and instant > self.late_after
        return self.event if late == self.event.late else replace(self.event, late=late)

    def is_due(self, instant: datetime) -> bool:
        return self.event.due_at <= instant and (self.until is None or instant < self.until)


def planned(event: LadderEvent) -> PlannedStep:
    """The plan entry of a step :func:`due_ladder_events` returned."""
    return PlannedStep(
        event=event,
        until=event.deadline if event.kind is EventKind.WARNING else None,
        late_after=event.deadline if event.kind is EventKind.REMINDER else None,
    )


def planned_ladder_steps(
    snapshot: WorkOrderSnapshot,
    existing_keys: Collection[str],
    now: datetime,
    policy: Policy,
    calendars: Mapping[str, BusinessCalendar] | None = None,
    *,
    due_now: Iterable[LadderEvent] | None = None,
) -> list[PlannedStep]:
    """Every ladder step that falls due *after* ``now`` while the history stays as it is,
    with the instants at which :func:`due_ladder_events` returns it (see
    :class:`PlannedStep`); steps in ``existing_keys`` or due at ``now`` are not repeated.

    ``snapshot`` is measured at ``now``. Only a *running* clock moves: its warning falls due
    at its warning instant (until its deadline) and its breach at its deadline; a reply clock
    of a chased category that is breached, or running towards its breach, while the reply is
    awaited brings the reminder and the escalation at their fixed instants. A paused clock
    counts nothing until it resumes, a stopped one never again, and the major flag depends on
    nothing that time changes. A change of history (a dispatch, a reply, a pause, a reopen
    ...) makes the plan void: measure again. The result is ordered by instant then step.

    ``due_now`` passes the steps :func:`due_ladder_events` returned for the same snapshot, keys
    and instant, when the caller has them, so that they are not computed twice.
    """
    known = set(existing_keys)
    if due_now is None:
        due_now = due_ladder_events(snapshot, known, now, policy, calendars)
    known.update(event.ladder_key for event in due_now)
    steps: list[PlannedStep] = []

    def add(event: LadderEvent) -> None:
        if event.due_at > now and event.ladder_key not in known:
            known.add(event.ladder_key)
            steps.append(planned(event))

    chased = (
        snapshot.category in policy.chase.categories
        and snapshot.status is not WorkOrderStatus.CLOSED
    )
    for clock in snapshot.clocks:
        if clock.state not in _AWAITING or clock.due_at is None or clock.due_cycle is None:
            continue
        running = clock.state is ClockState.RUNNING and not clock.breached
        if running:
            if (
                clock.warn_at is not None
                and clock.warn_cycle is not None
                and clock.warn_at < clock.due_at
            ):
                add(_warning(snapshot, clock))
            add(_breach(snapshot, clock))
        if clock.kind is ClockKind.REPLY and chased and (running or clock.breached):
            add(_reminder(snapshot, clock.due_at, clock.due_cycle, policy, late=False))
            add(_escalation(snapshot, clock.due_at, clock.due_cycle, policy, calendars))
    steps.sort(
        key=lambda step: (step.event.due_at, _STEP_ORDER[step.event.kind], step.event.ladder_key)
    )
    return steps


def next_ladder_instant(
    snapshot: WorkOrderSnapshot,
    existing_keys: Collection[str],
    now: datetime,
    policy: Policy,
    calendars: Mapping[str, BusinessCalendar] | None = None,
    *,
    due_now: Iterable[LadderEvent] | None = None,
) -> datetime | None:
    """The earliest instant after ``now`` at which :func:`due_ladder_events` returns a step
    that is neither in ``existing_keys`` nor due at ``now`` already, provided the work order's
    history does not change; None when there is no such instant (the first of
    :func:`planned_ladder_steps`). The instant is exact: at any instant before it
    :func:`due_ladder_events` returns nothing new, at it something new.
    """
    steps = planned_ladder_steps(snapshot, existing_keys, now, policy, calendars, due_now=due_now)
    return steps[0].event.due_at if steps else None


# --- repeat callers --------------------------------------------------------------------------


@dataclass(frozen=True)
class PriorContact:
    """An earlier contact of the same customer."""

    at: datetime
    request_type: RequestType | None


def is_repeat_caller(
    request_type: RequestType,
    earlier: Iterable[PriorContact],
    now: datetime,
    policy: Policy,
) -> bool:
    """A repeat caller: the same customer contacted the center about the same request type
    within ``repeat_caller.window_days`` before ``now`` (``now - window <= at < now``)."""
    since = now - timedelta(days=policy.repeat_caller.window_days)
    return any(
        contact.request_type is request_type and since <= contact.at < now for contact in earlier
    )
