"""Every action of a work order's life after its creation: dispatch (one or several), the
department's reply, the lead's review (accept, or return with a reason), the complaint chase
(reminder, escalation to headquarters, headquarters' answer), the callback result, close,
reopen, pause and resume, the mass-fault link, and notes.

Each public call is one transaction. It checks the permission first (:func:`require`), then
asks :func:`desk.rules.work_orders.refusal` whether this person may take this action on this
order in its state, writes the event, moves the status, re-plans the escalation ladder
(:func:`desk.services.sweep.refresh_ladder`, which also keeps the clocks' due instants and the
queue's nearest deadline) and raises the work-order change counter, so other terminals see it.

**Saving over someone.** Every action names the ``version`` of the order the person saw. The
row is locked (PostgreSQL ``FOR UPDATE``; SQLite's writer holds the file) and its version
compared: when someone saved since, :class:`~desk.services.work_orders.WorkOrderChanged` says
who and when (the sweep counts: it raises the version when it changes a row) and nothing of
this call is written; the screen keeps what the person typed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from desk.infra.database import Database, now_of
from desk.infra.errors import DeskError, InvalidInput, NotFound, PermissionDenied
from desk.models import Callback, Department, WorkOrder, WorkOrderEvent
from desk.rules.calendar import calendars_from_policy
from desk.rules.callbacks import is_unreachable
from desk.rules.clocks import callback_due
from desk.rules.ladder import LadderEvent, due_ladder_events, ladder_key, snapshot_from_history
from desk.rules.permissions import Actor, can
from desk.rules.policy import Policy
from desk.rules.vocab import (
    CallbackOutcome,
    CallbackStatus,
    Channel,
    ClockKind,
    DepartmentKind,
    EventKind,
    Priority,
    RequestType,
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
    Refusal,
    is_satisfied,
    refusal,
)
from desk.services import changes
from desk.services.access import require
from desk.services.callbacks import add_work_order_callback, record_work_order_attempt
from desk.services.sweep import ladder_event_data, refresh_ladder
from desk.services.work_orders import (
    REASON_MAX,
    WorkOrderChanged,
    WorkOrderView,
    clean_text,
    history_of,
    may_see,
    order_state,
    staff_names,
    timeline_of,
    view_of,
)

REFUSAL_TEXT: dict[Refusal, str] = {
    Refusal.ROLE: "your role may not {action} work orders",
    Refusal.STATUS: "a {status} work order cannot be given this action ({action})",
    Refusal.PAUSED: "the work order is paused (waiting on the customer): resume it first",
    Refusal.NOT_PAUSED: "the work order is not paused",
    Refusal.OTHER_DEPARTMENT: "the work order is not with your department",
    Refusal.NOT_CHASED: "only complaints are chased (reminder, escalation)",
    Refusal.ESCALATION_LEVEL: "not at this step of the escalation",
}


class ActionDenied(PermissionDenied):
    """The person may not take this action on this work order (role or department)."""

    def __init__(self, number: str, action: Action, refusal_: Refusal, message: str) -> None:
        super().__init__(f"{number}: {message}")
        self.number = number
        self.action = action
        self.refusal = refusal_


class ActionNotNow(DeskError):
    """The work order's state does not allow this action now (its status, a pause, the
    escalation step)."""

    title = "Not possible now"

    def __init__(self, number: str, action: Action, refusal_: Refusal, message: str) -> None:
        super().__init__(f"{number}: {message}")
        self.number = number
        self.action = action
        self.refusal = refusal_


def _refuse(order: WorkOrder, action: Action, refusal_: Refusal) -> DeskError:
    message = REFUSAL_TEXT[refusal_].format(action=action.value, status=order.status)
    if refusal_ in (Refusal.ROLE, Refusal.OTHER_DEPARTMENT):
        return ActionDenied(order.number, action, refusal_, message)
    return ActionNotNow(order.number, action, refusal_, message)


def _require(session: Session, actor: Actor, action: Action) -> None:
    """The permission check of an action's entry point: one of the rule's permissions
    (:data:`desk.rules.work_orders.ACTION_RULES`), and an active user."""
    permissions = ACTION_RULES[action].permissions
    if len(permissions) == 1:
        require(session, actor, next(iter(permissions)))
        return
    require(session, actor, None)
    if not any(can(actor, permission) for permission in permissions):
        wanted = " or ".join(sorted(permission.value for permission in permissions))
        raise PermissionDenied(f"{actor.login} ({actor.role}) may not {wanted}")


def _changed(session: Session, order: WorkOrder) -> WorkOrderChanged:
    names = staff_names(session, {order.updated_by} if order.updated_by else set())
    by = names.get(order.updated_by) if order.updated_by else None
    return WorkOrderChanged(order.number, by, order.updated_at, order.version)


def _lock(session: Session, work_order_id: int) -> WorkOrder:
    """The row, locked for this transaction on PostgreSQL (SQLite's writer holds the file)."""
    if not isinstance(work_order_id, int):
        raise InvalidInput("give the work order's id", field="work_order_id")
    order = session.get(WorkOrder, work_order_id, with_for_update=True)
    if order is None:
        raise NotFound(f"no work order {work_order_id}")
    return order


def _check(
    session: Session,
    *,
    actor: Actor,
    order: WorkOrder,
    version: int | None,
    action: Action,
    policy: Policy,
) -> None:
    """Refuse an action the rules refuse, on an order the person may not see, or on a
    version older than the row's (someone saved since the person read it)."""
    if not may_see(actor, order):
        raise ActionDenied(
            order.number,
            action,
            Refusal.OTHER_DEPARTMENT,
            REFUSAL_TEXT[Refusal.OTHER_DEPARTMENT],
        )
    if version is None or not isinstance(version, int):
        raise InvalidInput("give the version of the work order you read", field="version")
    if order.version != version:
        raise _changed(session, order)
    department = session.get(Department, order.department_id) if order.department_id else None
    state = order_state(order, department.kind if department is not None else None)
    verdict = refusal(action, actor, state, policy)
    if verdict is not None:
        raise _refuse(order, action, verdict)


def _event(
    order: WorkOrder,
    *,
    actor: Actor,
    at: datetime,
    kind: EventKind,
    to_status: WorkOrderStatus | None = None,
    reason: str | None = None,
    department_id: int | None = None,
    clock: ClockKind | None = None,
    ladder_key: str | None = None,
    data: dict[str, Any] | None = None,
) -> WorkOrderEvent:
    assert order.id is not None
    return WorkOrderEvent(
        work_order_id=order.id,
        at=at,
        actor_id=actor.user_id if actor.user_id > 0 else None,
        kind=kind.value,
        from_status=order.status,
        to_status=(to_status or WorkOrderStatus(order.status)).value,
        department_id=department_id,
        clock=clock.value if clock is not None else None,
        ladder_key=ladder_key,
        reason=reason,
        data=data,
    )


def _touch(order: WorkOrder, actor: Actor, now: datetime) -> None:
    order.version += 1
    order.updated_at = now
    order.updated_by = actor.user_id if actor.user_id > 0 else None


def _finish(session: Session, orders: Sequence[WorkOrder], policy: Policy) -> None:
    """After the events are added: flush, re-plan the ladder (due instants and the nearest
    deadline come back with it), tell other terminals, and read the rows again."""
    session.flush()
    ids = [order.id for order in orders if order.id is not None]
    refresh_ladder(session, ids, policy=policy)
    changes.bump(session, changes.Topic.WORK_ORDERS)
    for order in orders:
        session.refresh(order)


def _optional_text(value: str | None, *, name: str, limit: int = REASON_MAX) -> str | None:
    if value is None:
        return None
    return clean_text(value, name=name, limit=limit, required=False) or None


def _department(session: Session, department_id: int | None) -> Department:
    if department_id is None or not isinstance(department_id, int):
        raise InvalidInput("choose a department", field="department_id")
    department = session.get(Department, department_id)
    if department is None or not department.active:
        raise InvalidInput(f"no active department with id {department_id}", field="department_id")
    return department


Apply = Callable[[Session, WorkOrder, datetime], "Sequence[WorkOrder] | None"]
"""An action's own part: writes its event and the order's new state at ``now``; returns the
other orders it changed (a mass-fault parent's children), each already touched."""


def _act(
    db: Database,
    *,
    actor: Actor,
    work_order_id: int,
    version: int,
    action: Action,
    policy: Policy,
    apply: Apply,
    after: Callable[[Session, WorkOrder, datetime], None] | None = None,
) -> WorkOrderView:
    """One action's transaction: the permission, the row locked, the rules' and the version's
    checks, then the action's own part at one instant; the order's version and author move on,
    the ladder is re-planned and the other terminals are told (:func:`_finish`), and ``after``
    sees the order as re-planned (a callback is due from the re-planned clocks)."""

    def work(session: Session) -> WorkOrderView:
        _require(session, actor, action)
        order = _lock(session, work_order_id)
        _check(session, actor=actor, order=order, version=version, action=action, policy=policy)
        now = now_of(session)
        others = apply(session, order, now) or ()
        _touch(order, actor, now)
        _finish(session, [order, *others], policy)
        if after is not None:
            after(session, order, now)
        return view_of(order)

    return _do(db, work)


def _do(db: Database, work: Callable[[Session], WorkOrderView]) -> WorkOrderView:
    """Run one action's transaction and return the order as it now is."""
    result = db.run(work, write=True)
    assert isinstance(result, WorkOrderView)
    return result


# dispatch --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Conflict:
    """An order of a batch that was not dispatched, and why (someone else changed it, or it
    can no longer be dispatched)."""

    work_order_id: int
    number: str
    message: str
    changed_by: str | None = None
    changed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DispatchResult:
    dispatched: tuple[WorkOrderView, ...]
    conflicts: tuple[Conflict, ...]


def _dispatch_one(
    session: Session,
    order: WorkOrder,
    *,
    actor: Actor,
    department: Department,
    note: str | None,
    now: datetime,
) -> None:
    session.add(
        _event(
            order,
            actor=actor,
            at=now,
            kind=EventKind.DISPATCHED,
            to_status=WorkOrderStatus.DISPATCHED,
            reason=note,
            department_id=department.id,
        )
    )
    order.status = WorkOrderStatus.DISPATCHED.value
    order.department_id = department.id
    if department.branch_id is not None:
        order.branch_id = department.branch_id
    order.dispatched_at = now


def _dispatch(
    session: Session,
    *,
    actor: Actor,
    orders: Sequence[tuple[int, int]],
    department_id: int,
    note: str | None,
    policy: Policy,
) -> DispatchResult:
    _require(session, actor, Action.DISPATCH)
    if not orders:
        raise InvalidInput("choose at least one work order", field="work_orders")
    department = _department(session, department_id)
    cleaned = _optional_text(note, name="note")
    now = now_of(session)
    done: list[WorkOrder] = []
    conflicts: list[Conflict] = []
    for work_order_id, version in sorted(dict(orders).items()):
        order = _lock(session, work_order_id)
        assert order.id is not None
        try:
            _check(
                session,
                actor=actor,
                order=order,
                version=version,
                action=Action.DISPATCH,
                policy=policy,
            )
        except WorkOrderChanged as changed:
            conflicts.append(
                Conflict(order.id, order.number, changed.message, changed.by, changed.at)
            )
            continue
        except (ActionDenied, ActionNotNow) as refused:
            conflicts.append(Conflict(order.id, order.number, refused.message))
            continue
        _dispatch_one(session, order, actor=actor, department=department, note=cleaned, now=now)
        _touch(order, actor, now)
        done.append(order)
    if done:
        _finish(session, done, policy)
    return DispatchResult(tuple(view_of(order) for order in done), tuple(conflicts))


def dispatch_work_orders(
    db: Database,
    *,
    actor: Actor,
    orders: Sequence[tuple[int, int]],
    department_id: int,
    note: str | None,
    policy: Policy,
) -> DispatchResult:
    """Dispatch several work orders (``(id, version)`` pairs, as read) to one department
    with one note, in one transaction. Orders someone changed since they were read, or that
    can no longer be dispatched, are left as they are and listed in ``conflicts``."""
    return db.run(
        lambda session: _dispatch(
            session,
            actor=actor,
            orders=orders,
            department_id=department_id,
            note=note,
            policy=policy,
        ),
        write=True,
    )


def dispatch_work_order(
    db: Database,
    *,
    actor: Actor,
    work_order_id: int,
    version: int,
    department_id: int,
    note: str | None,
    policy: Policy,
) -> WorkOrderView:
    """Dispatch one work order to a department with a note (派单). Raises
    :class:`WorkOrderChanged` when someone saved it since ``version`` was read."""

    def apply(session: Session, order: WorkOrder, now: datetime) -> None:
        department = _department(session, department_id)
        cleaned = _optional_text(note, name="note")
        _dispatch_one(session, order, actor=actor, department=department, note=cleaned, now=now)

    return _act(
        db,
        actor=actor,
        work_order_id=work_order_id,
        version=version,
        action=Action.DISPATCH,
        policy=policy,
        apply=apply,
    )


# the department's reply and the lead's review --------------------------------------------


def reply_work_order(
    db: Database, *, actor: Actor, work_order_id: int, version: int, reply: str, policy: Policy
) -> WorkOrderView:
    """The department posts its result: handlers for their own department's orders, the shift
    leads for the center's own (consultations, suggestions about the center)."""

    def apply(session: Session, order: WorkOrder, now: datetime) -> None:
        text_ = clean_text(reply or "", name="reply", limit=REASON_MAX)
        session.add(
            _event(
                order,
                actor=actor,
                at=now,
                kind=EventKind.REPLIED,
                to_status=WorkOrderStatus.REPLIED,
                reason=text_,
                department_id=order.department_id,
            )
        )
        order.status = WorkOrderStatus.REPLIED.value
        order.replied_at = now

    return _act(
        db,
        actor=actor,
        work_order_id=work_order_id,
        version=version,
        action=Action.REPLY,
        policy=policy,
        apply=apply,
    )


def accept_reply(
    db: Database,
    *,
    actor: Actor,
    work_order_id: int,
    version: int,
    note: str | None,
    policy: Policy,
) -> WorkOrderView:
    """The lead accepts the department's reply: the matter is settled, the callback is due
    (the day after, from 15:30, by the policy) and listed for the shift."""

    def apply(session: Session, order: WorkOrder, now: datetime) -> None:
        session.add(
            _event(
                order,
                actor=actor,
                at=now,
                kind=EventKind.ACCEPTED,
                to_status=WorkOrderStatus.CALLBACK,
                reason=_optional_text(note, name="note"),
                department_id=order.department_id,
            )
        )
        order.status = WorkOrderStatus.CALLBACK.value

    def list_the_callback(session: Session, order: WorkOrder, now: datetime) -> None:
        add_work_order_callback(session, work_order=order, now=now)
        session.flush()

    return _act(
        db,
        actor=actor,
        work_order_id=work_order_id,
        version=version,
        action=Action.ACCEPT,
        policy=policy,
        apply=apply,
        after=list_the_callback,
    )


def return_reply(
    db: Database,
    *,
    actor: Actor,
    work_order_id: int,
    version: int,
    reason: str,
    policy: Policy,
) -> WorkOrderView:
    """The lead returns the reply to the department with a reason: a re-dispatch (再次派单),
    the reply clock runs again."""

    def apply(session: Session, order: WorkOrder, now: datetime) -> None:
        why = clean_text(reason or "", name="reason", limit=REASON_MAX)
        session.add(
            _event(
                order,
                actor=actor,
                at=now,
                kind=EventKind.REJECTED,
                to_status=WorkOrderStatus.DISPATCHED,
                reason=why,
                department_id=order.department_id,
            )
        )
        order.status = WorkOrderStatus.DISPATCHED.value
        order.redispatch_count += 1

    return _act(
        db,
        actor=actor,
        work_order_id=work_order_id,
        version=version,
        action=Action.RETURN,
        policy=policy,
        apply=apply,
    )


# the complaint chase -----------------------------------------------------------------------


def _due_ladder_step(
    session: Session, order: WorkOrder, kind: EventKind, policy: Policy
) -> LadderEvent | None:
    """The ladder's step of ``kind`` due now and not stored yet, if any (the rule decides:
    :func:`desk.rules.ladder.due_ladder_events`)."""
    assert order.id is not None
    events = history_of(session, order.id)
    timeline = timeline_of(events)
    if not timeline:
        return None
    department = session.get(Department, order.department_id) if order.department_id else None
    now = now_of(session)
    snapshot = snapshot_from_history(
        work_order_id=order.id,
        category=RequestType(order.category),
        priority=Priority(order.priority),
        channel=Channel(order.channel),
        status=WorkOrderStatus(order.status),
        source=WorkOrderSource(order.source),
        is_major=order.is_major,
        department_id=order.department_id,
        department_kind=DepartmentKind(department.kind) if department is not None else None,
        events=timeline,
        now=now,
        policy=policy,
    )
    keys = {event.ladder_key for event in events if event.ladder_key is not None}
    due = due_ladder_events(snapshot, keys, now, policy)
    return next((event for event in due if event.kind is kind), None)


def _reply_cycle_key(order: WorkOrder, kind: EventKind) -> str:
    """The ladder key of ``kind`` for the reply deadline of the current cycle."""
    return ladder_key(kind, ClockKind.REPLY, order.cycle)


def send_reminder(
    db: Database,
    *,
    actor: Actor,
    work_order_id: int,
    version: int,
    note: str | None,
    policy: Policy,
) -> WorkOrderView:
    """The complaint chase's reminder (督促) to the department that owes the reply.

    When the ladder's reminder for a missed reply deadline is due and not yet stored, this is
    it (same ladder key, on standard or late by the rule), so the sweep never sends it again;
    otherwise it is an extra reminder of the complaint lead's own.
    """

    def apply(session: Session, order: WorkOrder, now: datetime) -> None:
        step = _due_ladder_step(session, order, EventKind.REMINDER, policy)
        data: dict[str, Any] = {"manual": True}
        key = None
        if step is not None:
            data = {**ladder_event_data(step), "by_hand": True}
            key = step.ladder_key
        session.add(
            _event(
                order,
                actor=actor,
                at=now,
                kind=EventKind.REMINDER,
                reason=_optional_text(note, name="note"),
                department_id=order.department_id,
                clock=ClockKind.REPLY,
                ladder_key=key,
                data=data,
            )
        )
        order.escalation_level = max(order.escalation_level, ESCALATION_REMINDED)

    return _act(
        db,
        actor=actor,
        work_order_id=work_order_id,
        version=version,
        action=Action.REMIND,
        policy=policy,
        apply=apply,
    )


def _headquarters(session: Session, policy: Policy) -> Department:
    found = session.exec(
        select(Department)
        .where(Department.kind == policy.chase.escalate_to.value, col(Department.active))
        .order_by(col(Department.id))
        .limit(1)
    ).first()
    if found is None:
        raise InvalidInput(
            f"no active department of kind {policy.chase.escalate_to.value} to escalate to",
            field="department",
        )
    return found


def propose_escalation(
    db: Database,
    *,
    actor: Actor,
    work_order_id: int,
    version: int,
    reason: str,
    policy: Policy,
) -> WorkOrderView:
    """Propose the escalation to headquarters before (or as) the ladder does; it takes the
    ladder's key for this cycle's reply deadline, so the ladder never proposes it again."""

    def apply(session: Session, order: WorkOrder, now: datetime) -> None:
        why = clean_text(reason or "", name="reason", limit=REASON_MAX)
        headquarters = _headquarters(session, policy)
        step = _due_ladder_step(session, order, EventKind.ESCALATION_PROPOSED, policy)
        if step is not None:
            key, data = step.ladder_key, {**ladder_event_data(step), "by_hand": True}
        else:
            key = _reply_cycle_key(order, EventKind.ESCALATION_PROPOSED)
            data = {"by_hand": True, "escalate_to": policy.chase.escalate_to.value}
        session.add(
            _event(
                order,
                actor=actor,
                at=now,
                kind=EventKind.ESCALATION_PROPOSED,
                reason=why,
                department_id=headquarters.id,
                clock=ClockKind.REPLY,
                ladder_key=key,
                data=data,
            )
        )
        order.escalation_level = max(order.escalation_level, ESCALATION_PROPOSED)

    return _act(
        db,
        actor=actor,
        work_order_id=work_order_id,
        version=version,
        action=Action.PROPOSE_ESCALATION,
        policy=policy,
        apply=apply,
    )


def confirm_escalation(
    db: Database,
    *,
    actor: Actor,
    work_order_id: int,
    version: int,
    note: str | None,
    policy: Policy,
) -> WorkOrderView:
    """The complaint lead confirms the proposed escalation: the order goes to headquarters
    (the policy's ``chase.escalate_to``), which now owes the reply."""

    def apply(session: Session, order: WorkOrder, now: datetime) -> None:
        headquarters = _headquarters(session, policy)
        session.add(
            _event(
                order,
                actor=actor,
                at=now,
                kind=EventKind.ESCALATION_CONFIRMED,
                reason=_optional_text(note, name="note"),
                department_id=headquarters.id,
                clock=ClockKind.REPLY,
                data={"from_department_id": order.department_id},
            )
        )
        order.escalation_level = ESCALATION_CONFIRMED
        order.department_id = headquarters.id

    return _act(
        db,
        actor=actor,
        work_order_id=work_order_id,
        version=version,
        action=Action.CONFIRM_ESCALATION,
        policy=policy,
        apply=apply,
    )


def record_hq_answer(
    db: Database,
    *,
    actor: Actor,
    work_order_id: int,
    version: int,
    answer: str,
    policy: Policy,
) -> WorkOrderView:
    """Headquarters' answer to an escalated complaint, recorded by the complaint lead as the
    reply; the lead then reviews it like any reply."""

    def apply(session: Session, order: WorkOrder, now: datetime) -> None:
        text_ = clean_text(answer or "", name="answer", limit=REASON_MAX)
        session.add(
            _event(
                order,
                actor=actor,
                at=now,
                kind=EventKind.REPLIED,
                to_status=WorkOrderStatus.REPLIED,
                reason=text_,
                department_id=order.department_id,
                data={"by": "headquarters"},
            )
        )
        order.status = WorkOrderStatus.REPLIED.value
        order.replied_at = now

    return _act(
        db,
        actor=actor,
        work_order_id=work_order_id,
        version=version,
        action=Action.HQ_ANSWER,
        policy=policy,
        apply=apply,
    )


# the callback ------------------------------------------------------------------------------


def _pending_callback(session: Session, order: WorkOrder) -> Callback | None:
    return session.exec(
        select(Callback)
        .where(
            Callback.work_order_id == order.id,
            Callback.status == CallbackStatus.PENDING.value,
        )
        .order_by(col(Callback.due_at), col(Callback.id))
        .limit(1)
    ).first()


def _close(
    session: Session,
    order: WorkOrder,
    *,
    actor: Actor,
    now: datetime,
    reason: str | None,
    data: dict[str, Any] | None,
) -> None:
    session.add(
        _event(
            order,
            actor=actor,
            at=now,
            kind=EventKind.CLOSED,
            to_status=WorkOrderStatus.CLOSED,
            reason=reason,
            department_id=order.department_id,
            data=data,
        )
    )
    order.status = WorkOrderStatus.CLOSED.value
    order.closed_at = now
    order.waiting_reason = None
    order.waiting_since = None


def record_callback_result(
    db: Database,
    *,
    actor: Actor,
    work_order_id: int,
    version: int,
    reached: bool,
    satisfaction: int | None,
    note: str | None,
    policy: Policy,
) -> WorkOrderView:
    """One callback attempt on a work order (回访): reached or not, the customer's
    satisfaction (1–5) when reached, and a note.

    Reached: the order closes with the satisfaction. Not reached: the attempt is counted;
    the policy's ``callbacks.max_attempts``-th unreachable attempt closes the order as
    unreachable. The order's callback row follows (attempts, result, done or failed). An
    order already closed with its mass-fault parent keeps its pending callback: the attempt
    is recorded on it without closing anything again.
    """

    def work(session: Session) -> WorkOrderView:
        _require(session, actor, Action.CALLBACK_RESULT)
        order = _lock(session, work_order_id)
        callback = _pending_callback(session, order)
        closed_with_parent = order.status == WorkOrderStatus.CLOSED.value and callback is not None
        if closed_with_parent:
            if not may_see(actor, order):
                raise ActionDenied(
                    order.number,
                    Action.CALLBACK_RESULT,
                    Refusal.OTHER_DEPARTMENT,
                    REFUSAL_TEXT[Refusal.OTHER_DEPARTMENT],
                )
            if order.version != version:
                raise _changed(session, order)
        else:
            _check(
                session,
                actor=actor,
                order=order,
                version=version,
                action=Action.CALLBACK_RESULT,
                policy=policy,
            )
        if reached and (not isinstance(satisfaction, int) or not 1 <= satisfaction <= 5):
            raise InvalidInput("give the customer's satisfaction, 1 to 5", field="satisfaction")
        said = _optional_text(note, name="note", limit=500)
        now = now_of(session)
        attempt = order.callback_attempts + 1
        data: dict[str, Any] = {"attempt": attempt, "reached": bool(reached)}
        if reached:
            data["satisfaction"] = satisfaction
        session.add(
            _event(
                order,
                actor=actor,
                at=now,
                kind=EventKind.CALLBACK_ATTEMPT,
                reason=said,
                data=data,
            )
        )
        order.callback_attempts = attempt
        unreachable = not reached and is_unreachable(attempt, policy)
        record_work_order_attempt(
            session,
            work_order_id=work_order_id,
            actor=actor,
            reached=bool(reached),
            satisfaction=satisfaction if reached else None,
            note=said,
            closes=bool(reached) or unreachable,
            now=now,
            policy=policy,
        )
        if not closed_with_parent:
            if reached:
                assert satisfaction is not None
                order.satisfaction = satisfaction
                _close(
                    session,
                    order,
                    actor=actor,
                    now=now,
                    reason=said,
                    data={
                        "reached": True,
                        "satisfaction": satisfaction,
                        "satisfied": is_satisfied(satisfaction),
                    },
                )
            elif unreachable:
                _close(
                    session,
                    order,
                    actor=actor,
                    now=now,
                    reason=said,
                    data={"reached": False, "unreachable": True, "attempts": attempt},
                )
        _touch(order, actor, now)
        _finish(session, [order], policy)
        return view_of(order)

    return _do(db, work)


# closing, reopening ------------------------------------------------------------------------


def close_work_order(
    db: Database,
    *,
    actor: Actor,
    work_order_id: int,
    version: int,
    reason: str,
    close_children: bool = False,
    policy: Policy,
) -> WorkOrderView:
    """A lead closes an open work order with a reason (a callback result closes it by
    itself). A mass-fault parent's open children close with it when ``close_children``:
    each gets a closing event naming the parent and a callback to make, so every customer
    hears the fault is over. A pending callback of the order itself is called off."""

    def apply(session: Session, order: WorkOrder, now: datetime) -> list[WorkOrder]:
        why = clean_text(reason or "", name="reason", limit=REASON_MAX)
        own = _pending_callback(session, order)
        if own is not None:  # closed without the call: it is called off
            own.status = CallbackStatus.CANCELLED.value
            own.outcome = CallbackOutcome.CANCELLED.value
            own.result = why[:500]
            own.closed_at = now
            own.closed_by = actor.user_id if actor.user_id > 0 else None
            own.updated_at = now
            own.version += 1
        _close(session, order, actor=actor, now=now, reason=why, data={"by_hand": True})
        if not close_children:
            return []
        children = session.exec(
            select(WorkOrder)
            .where(
                WorkOrder.parent_id == order.id,
                WorkOrder.status != WorkOrderStatus.CLOSED.value,
            )
            .order_by(col(WorkOrder.id))
            .with_for_update()
        ).all()
        calendars = calendars_from_policy(policy)
        for child in children:
            _close(
                session, child, actor=actor, now=now, reason=why, data={"with_parent": order.number}
            )
            _touch(child, actor, now)
            rule = policy.sla.for_category(RequestType(child.category)).callback
            department = (
                session.get(Department, child.department_id) if child.department_id else None
            )
            calendar = calendars[
                policy.calendar_name_for(
                    ClockKind.CALLBACK,
                    DepartmentKind(department.kind) if department is not None else None,
                )
            ]
            # Due by the callback rule from now (the day after, from 15:30); the
            # callback clock itself does not run on a closed order.
            child.callback_due = callback_due(now, rule, calendar)
            session.flush()
            add_work_order_callback(session, work_order=child, now=now)
        return list(children)

    return _act(
        db,
        actor=actor,
        work_order_id=work_order_id,
        version=version,
        action=Action.CLOSE,
        policy=policy,
        apply=apply,
    )


def reopen_work_order(
    db: Database,
    *,
    actor: Actor,
    work_order_id: int,
    version: int,
    reason: str,
    policy: Policy,
) -> WorkOrderView:
    """Reopen a closed work order (the customer is not satisfied): a new cycle; its dispatch
    and resolution clocks resume with the time they had left (the clock rules)."""

    def apply(session: Session, order: WorkOrder, now: datetime) -> None:
        why = clean_text(reason or "", name="reason", limit=REASON_MAX)
        session.add(
            _event(
                order,
                actor=actor,
                at=now,
                kind=EventKind.REOPENED,
                to_status=WorkOrderStatus.REOPENED,
                reason=why,
                department_id=order.department_id,
            )
        )
        order.status = WorkOrderStatus.REOPENED.value
        order.cycle += 1
        order.closed_at = None
        order.satisfaction = None
        order.callback_attempts = 0

    return _act(
        db,
        actor=actor,
        work_order_id=work_order_id,
        version=version,
        action=Action.REOPEN,
        policy=policy,
        apply=apply,
    )


# waiting on the customer -------------------------------------------------------------------


def pause_work_order(
    db: Database,
    *,
    actor: Actor,
    work_order_id: int,
    version: int,
    reason: WaitingReason,
    note: str | None,
    policy: Policy,
) -> WorkOrderView:
    """The order waits on the customer ("waiting for the customer", "customer unreachable"):
    its clocks stop until it is resumed. Leads, and handlers for their department's orders."""

    def apply(session: Session, order: WorkOrder, now: datetime) -> None:
        try:
            why = WaitingReason(reason)
        except ValueError:
            raise InvalidInput(f"not a reason to wait: {reason!r}", field="reason") from None
        session.add(
            _event(
                order,
                actor=actor,
                at=now,
                kind=EventKind.PAUSED,
                reason=_optional_text(note, name="note"),
                data={"reason": why.value},
            )
        )
        order.waiting_reason = why.value
        order.waiting_since = now

    return _act(
        db,
        actor=actor,
        work_order_id=work_order_id,
        version=version,
        action=Action.PAUSE,
        policy=policy,
        apply=apply,
    )


def resume_work_order(
    db: Database,
    *,
    actor: Actor,
    work_order_id: int,
    version: int,
    note: str | None,
    policy: Policy,
) -> WorkOrderView:
    """The customer is back: the clocks run again from where they stopped."""

    def apply(session: Session, order: WorkOrder, now: datetime) -> None:
        data: dict[str, Any] = {"reason": order.waiting_reason}
        if order.waiting_since is not None:
            data["paused_seconds"] = int((now - order.waiting_since).total_seconds())
        session.add(
            _event(
                order,
                actor=actor,
                at=now,
                kind=EventKind.RESUMED,
                reason=_optional_text(note, name="note"),
                data=data,
            )
        )
        order.waiting_reason = None
        order.waiting_since = None

    return _act(
        db,
        actor=actor,
        work_order_id=work_order_id,
        version=version,
        action=Action.RESUME,
        policy=policy,
        apply=apply,
    )


# mass faults and notes ---------------------------------------------------------------------


def link_work_order(
    db: Database,
    *,
    actor: Actor,
    work_order_id: int,
    version: int,
    parent_number: str | None,
    policy: Policy,
) -> WorkOrderView:
    """Link an order to a mass-fault parent (群障) by the parent's number, or unlink it
    (``parent_number`` None). Orders are linked, never merged: each keeps its history. A
    parent is an open order that is not itself linked; an order with children is not linked
    under another."""

    def apply(session: Session, order: WorkOrder, now: datetime) -> None:
        if parent_number is None or not parent_number.strip():
            if order.parent_id is None:
                raise InvalidInput("the work order is not linked", field="parent")
            parent = session.get(WorkOrder, order.parent_id)
            data: dict[str, Any] = {"unlinked_from": parent.number if parent else None}
            order.parent_id = None
        else:
            wanted = parent_number.strip().upper()
            parent = session.exec(select(WorkOrder).where(WorkOrder.number == wanted)).first()
            if parent is None:
                raise InvalidInput(f"no work order {wanted}", field="parent")
            if parent.id == order.id:
                raise InvalidInput("a work order cannot be its own parent", field="parent")
            if parent.status == WorkOrderStatus.CLOSED.value:
                raise InvalidInput(f"{parent.number} is closed", field="parent")
            if parent.parent_id is not None:
                raise InvalidInput(
                    f"{parent.number} is itself linked to another parent", field="parent"
                )
            has_children = session.exec(
                select(WorkOrder.id).where(WorkOrder.parent_id == order.id).limit(1)
            ).first()
            if has_children is not None:
                raise InvalidInput(f"{order.number} is the parent of other orders", field="parent")
            order.parent_id = parent.id
            data = {"parent": parent.number}
        session.add(_event(order, actor=actor, at=now, kind=EventKind.LINKED, data=data))

    return _act(
        db,
        actor=actor,
        work_order_id=work_order_id,
        version=version,
        action=Action.LINK,
        policy=policy,
        apply=apply,
    )


def add_note(
    db: Database,
    *,
    actor: Actor,
    work_order_id: int,
    version: int,
    note: str,
    policy: Policy,
) -> WorkOrderView:
    """A note on the history (what a caller said about it, a fact for the next person)."""

    def apply(session: Session, order: WorkOrder, now: datetime) -> None:
        text_ = clean_text(note or "", name="note", limit=REASON_MAX)
        session.add(_event(order, actor=actor, at=now, kind=EventKind.NOTE, reason=text_))

    return _act(
        db,
        actor=actor,
        work_order_id=work_order_id,
        version=version,
        action=Action.NOTE,
        policy=policy,
        apply=apply,
    )
