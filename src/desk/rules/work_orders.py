"""A work order's life: which action may be taken by whom and from which state, where it
leads, and the nearest deadline a queue sorts by.

The life (statuses of :class:`~desk.rules.vocab.WorkOrderStatus`)::

    new ──dispatch──▶ dispatched ──reply──▶ replied ──accept──▶ callback ──result──▶ closed
     ▲                    ▲                    │                                        │
     │                    └──────return────────┘ (a re-dispatch, 再次派单)               │
    reopened ◀─────────────────────────────reopen──────────────────────────────────────┘

Around it: a pause ("waiting for the customer", "customer unreachable") stops the clocks until
resumed; the complaint chase sends a reminder (督促), proposes an escalation to headquarters,
which only a complaint lead confirms, and records headquarters' answer as the reply; a lead
may close an open order with a reason at any point, and link it to a mass-fault parent.

:data:`ACTION_RULES` is the one table of who and when; the services refuse what it refuses,
the screens dim the keys it refuses, and the tests walk it. Rules that need more than the
order's status (the handler's own department, the chase's categories, the escalation level)
are in :func:`refusal`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from desk.rules.clocks import Clock
from desk.rules.permissions import Actor, Permission, can
from desk.rules.policy import Policy
from desk.rules.vocab import (
    ClockKind,
    ClockState,
    EventKind,
    RequestType,
    Role,
    WorkOrderStatus,
)

S = WorkOrderStatus
OPEN_STATUSES: frozenset[WorkOrderStatus] = frozenset(
    {S.NEW, S.DISPATCHED, S.REPLIED, S.CALLBACK, S.REOPENED}
)
ESCALATION_NONE = 0
ESCALATION_REMINDED = 1
ESCALATION_PROPOSED = 2
ESCALATION_CONFIRMED = 3
SATISFIED_FROM = 4
"""A satisfaction score (1 very unhappy … 5 very happy) from this value counts as satisfied."""


class Action(StrEnum):
    """What a person can do to a work order."""

    DISPATCH = "dispatch"
    REPLY = "reply"
    ACCEPT = "accept"
    RETURN = "return"
    REMIND = "remind"
    PROPOSE_ESCALATION = "propose_escalation"
    CONFIRM_ESCALATION = "confirm_escalation"
    HQ_ANSWER = "hq_answer"
    CALLBACK_RESULT = "callback_result"
    CLOSE = "close"
    REOPEN = "reopen"
    PAUSE = "pause"
    RESUME = "resume"
    LINK = "link"
    NOTE = "note"


@dataclass(frozen=True)
class ActionRule:
    """Who may take an action (any of ``permissions``) and from which statuses.

    ``event`` is the history entry it writes; ``to_status`` where it leads (None: the status
    stays). ``paused`` says whether the order may (None), must (True) or must not (False) be
    paused. ``reason_required``: the action needs a text (a note, a reply, a reason).
    """

    permissions: frozenset[Permission]
    statuses: frozenset[WorkOrderStatus]
    event: EventKind
    to_status: WorkOrderStatus | None
    paused: bool | None = False
    reason_required: bool = False


def _rule(
    permissions: Iterable[Permission],
    statuses: Iterable[WorkOrderStatus],
    event: EventKind,
    to_status: WorkOrderStatus | None,
    *,
    paused: bool | None = False,
    reason_required: bool = False,
) -> ActionRule:
    return ActionRule(
        frozenset(permissions), frozenset(statuses), event, to_status, paused, reason_required
    )


P = Permission
_WAITABLE = (S.NEW, S.REOPENED, S.DISPATCHED, S.CALLBACK)

ACTION_RULES: dict[Action, ActionRule] = {
    Action.DISPATCH: _rule(
        [P.DISPATCH_WORK_ORDER], [S.NEW, S.REOPENED], EventKind.DISPATCHED, S.DISPATCHED
    ),
    Action.REPLY: _rule(
        [P.REPLY_WORK_ORDER, P.DISPATCH_WORK_ORDER],  # leads: for the center's own orders
        [S.DISPATCHED],
        EventKind.REPLIED,
        S.REPLIED,
        reason_required=True,
    ),
    Action.ACCEPT: _rule([P.REVIEW_WORK_ORDER], [S.REPLIED], EventKind.ACCEPTED, S.CALLBACK),
    Action.RETURN: _rule(
        [P.REVIEW_WORK_ORDER],
        [S.REPLIED],
        EventKind.REJECTED,
        S.DISPATCHED,
        reason_required=True,
    ),
    Action.REMIND: _rule(
        [P.CHASE_COMPLAINTS], [S.DISPATCHED], EventKind.REMINDER, None, paused=None
    ),
    Action.PROPOSE_ESCALATION: _rule(
        [P.CHASE_COMPLAINTS],
        [S.DISPATCHED],
        EventKind.ESCALATION_PROPOSED,
        None,
        paused=None,
        reason_required=True,
    ),
    Action.CONFIRM_ESCALATION: _rule(
        [P.CONFIRM_ESCALATION],
        [S.DISPATCHED],
        EventKind.ESCALATION_CONFIRMED,
        None,
        paused=None,
    ),
    Action.HQ_ANSWER: _rule(
        [P.CONFIRM_ESCALATION],
        [S.DISPATCHED],
        EventKind.REPLIED,
        S.REPLIED,
        reason_required=True,
    ),
    Action.CALLBACK_RESULT: _rule(
        [P.MAKE_CALLBACKS], [S.CALLBACK], EventKind.CALLBACK_ATTEMPT, None, paused=None
    ),
    Action.CLOSE: _rule(
        [P.REVIEW_WORK_ORDER], OPEN_STATUSES, EventKind.CLOSED, S.CLOSED, paused=None
    ),
    Action.REOPEN: _rule(
        [P.REVIEW_WORK_ORDER], [S.CLOSED], EventKind.REOPENED, S.REOPENED, reason_required=True
    ),
    Action.PAUSE: _rule(
        [P.DISPATCH_WORK_ORDER, P.REPLY_WORK_ORDER], _WAITABLE, EventKind.PAUSED, None
    ),
    Action.RESUME: _rule(
        [P.DISPATCH_WORK_ORDER, P.REPLY_WORK_ORDER],
        _WAITABLE,
        EventKind.RESUMED,
        None,
        paused=True,
    ),
    Action.LINK: _rule([P.DISPATCH_WORK_ORDER], OPEN_STATUSES, EventKind.LINKED, None, paused=None),
    Action.NOTE: _rule(
        [P.VIEW_WORK_ORDERS],
        [*OPEN_STATUSES, S.CLOSED],
        EventKind.NOTE,
        None,
        paused=None,
        reason_required=True,
    ),
}


class Refusal(StrEnum):
    """Why an action is refused (each has a message on screen and in the error)."""

    ROLE = "role"  # the role lacks the permission
    STATUS = "status"  # not from this status
    PAUSED = "paused"  # resume first
    NOT_PAUSED = "not_paused"  # nothing to resume
    OTHER_DEPARTMENT = "other_department"  # a handler acts on their own department's orders
    NOT_CHASED = "not_chased"  # the chase is for the policy's chase categories
    ESCALATION_LEVEL = "escalation_level"  # proposed / confirmed already, or not yet


@dataclass(frozen=True)
class OrderState:
    """What :func:`refusal` needs to know about one work order."""

    status: WorkOrderStatus
    paused: bool
    category: RequestType
    department_id: int | None
    escalation_level: int
    center_owned: bool = False
    """The order is with the center's own department (a consultation, a suggestion about the
    center): the shift leads answer it as that department."""


def refusal(action: Action, actor: Actor, order: OrderState, policy: Policy) -> Refusal | None:
    """Why ``actor`` may not take ``action`` on ``order`` now, or None when they may.

    Beyond :data:`ACTION_RULES`: a handler acts only on orders of their own department, and
    replies only to those; the center's own orders (``center_owned``) are answered by the
    shift leads, who dispatch (nobody else is that department's handler); the
    chase (reminder, escalation, headquarters' answer) is for the policy's chase categories;
    an escalation is proposed once (by the ladder or by hand), confirmed once proposed, and
    headquarters answers once confirmed.
    """
    rule = ACTION_RULES[action]
    if not any(can(actor, permission) for permission in rule.permissions):
        return Refusal.ROLE
    if order.status not in rule.statuses:
        return Refusal.STATUS
    if rule.paused is True and not order.paused:
        return Refusal.NOT_PAUSED
    if rule.paused is False and order.paused:
        return Refusal.PAUSED
    own_department = order.department_id is not None and order.department_id == actor.department_id
    if actor.role is Role.HANDLER and not own_department:
        return Refusal.OTHER_DEPARTMENT
    if action is Action.REPLY and not (
        (own_department and can(actor, P.REPLY_WORK_ORDER))
        or (order.center_owned and can(actor, P.DISPATCH_WORK_ORDER))
    ):
        return Refusal.OTHER_DEPARTMENT
    chase = (
        Action.REMIND,
        Action.PROPOSE_ESCALATION,
        Action.CONFIRM_ESCALATION,
        Action.HQ_ANSWER,
    )
    if action in chase and order.category not in policy.chase.categories:
        return Refusal.NOT_CHASED
    level = order.escalation_level
    if action is Action.PROPOSE_ESCALATION and level >= ESCALATION_PROPOSED:
        return Refusal.ESCALATION_LEVEL
    if action is Action.CONFIRM_ESCALATION and level != ESCALATION_PROPOSED:
        return Refusal.ESCALATION_LEVEL
    if action is Action.HQ_ANSWER and level != ESCALATION_CONFIRMED:
        return Refusal.ESCALATION_LEVEL
    return None


def allowed_actions(actor: Actor, order: OrderState, policy: Policy) -> frozenset[Action]:
    """Every action ``actor`` may take on ``order`` now."""
    return frozenset(action for action in Action if refusal(action, actor, order, policy) is None)


def is_satisfied(score: int) -> bool:
    """A callback's satisfaction score (1–5) that counts as satisfied."""
    return score >= SATISFIED_FROM


# --- the queue's order -----------------------------------------------------------------------

_AWAITED = (ClockState.RUNNING, ClockState.PAUSED)


@dataclass(frozen=True)
class NearestDeadline:
    """The deadline a queue sorts an order by: ``at`` of clock ``clock`` (None: none)."""

    at: datetime | None
    clock: ClockKind | None


def nearest_deadline(clocks: Iterable[Clock]) -> NearestDeadline:
    """The earliest deadline among the clocks still awaited (running or paused; a missed one
    counts, so the most overdue order comes first). A closed order has none."""
    best: Clock | None = None
    for clock in clocks:
        if clock.state not in _AWAITED or clock.due_at is None:
            continue
        if best is None or best.due_at is None or clock.due_at < best.due_at:
            best = clock
    if best is None:
        return NearestDeadline(None, None)
    return NearestDeadline(best.due_at, best.kind)


def is_overdue(next_due: datetime | None, now: datetime) -> bool:
    """延时: an order is overdue once the nearest deadline among its awaited clocks
    (:func:`nearest_deadline`, kept on the order as ``next_due``) is reached — the moment the
    clock rules count a deadline missed (``due_at <= now``). A paused clock counts: a pause stops
    the budget from running, not a deadline that has already passed. A closed order awaits no
    clock, so it is never overdue. The card, the queue, the handover and the dashboard all use
    this definition (in SQL: :func:`desk.services.overdue.overdue_clause`)."""
    return next_due is not None and next_due <= now


# --- the queue's views -----------------------------------------------------------------------


class QueueView(StrEnum):
    """The lists of the work-order queue (F3)."""

    NEW = "new"  # to dispatch: new and reopened
    REPLIED = "replied"  # the department replied: to review
    RETURNED = "returned"  # returned to the department, awaiting its new reply
    OVERDUE = "overdue"  # 延时: an awaited clock's deadline has passed
    CHASE = "chase"  # complaints in the chase ladder (reminded, escalation proposed or made)
    MAJOR = "major"  # major complaints
    DEPARTMENT = "department"  # the handler's own department's orders
    CALLBACKS = "callbacks"  # callbacks to make: mine, or anyone's on the shift
    ALL = "all"  # every open order


QUEUE_VIEWS: dict[Role, tuple[QueueView, ...]] = {
    Role.LEAD: (
        QueueView.NEW,
        QueueView.REPLIED,
        QueueView.RETURNED,
        QueueView.OVERDUE,
        QueueView.CHASE,
        QueueView.MAJOR,
        QueueView.CALLBACKS,
        QueueView.ALL,
    ),
    Role.COMPLAINT_LEAD: (
        QueueView.CHASE,
        QueueView.MAJOR,
        QueueView.OVERDUE,
        QueueView.REPLIED,
        QueueView.CALLBACKS,
        QueueView.ALL,
    ),
    Role.HANDLER: (QueueView.DEPARTMENT, QueueView.RETURNED, QueueView.OVERDUE),
    Role.SUPERVISOR: (QueueView.MAJOR, QueueView.CHASE, QueueView.OVERDUE, QueueView.ALL),
    Role.AGENT: (QueueView.CALLBACKS, QueueView.ALL),
    Role.ADMIN: (),
}
"""The views each role's queue offers, its main view first. A handler's views hold only
their own department's orders."""
