"""Callbacks (回访): the plan that fills the lists, the lists, and the tries.

**The plan.** :func:`plan_callbacks` adds what falls due within the policy's horizon:
satisfaction surveys of recent contacts (a sample, at most one per customer in the policy's
interval), birthday and holiday greetings for VIP and big customers, win-back calls to members
not seen for a while, apology calls after serious complaints, and a work-order callback for any
order waiting for its callback without one. Each row carries a ``plan_key`` naming what planned
it, unique in the table, and every statement skips what exists: running the plan twice at the
same instant adds nothing, whoever races. The statements are set-based (SQLAlchemy Core); the
decisions are the rules of :mod:`desk.rules.callbacks`. The console runs it on a timer as the
system (:func:`plan_if_due`), ``desk callbacks plan`` from cron.

**Tries.** :func:`record_attempt` stores one try (reached, declined, or not reached) with its
note and satisfaction; a failed try brings the callback back later, and the policy's last
failed try closes it as unreachable. A work-order callback is recorded on its work order
(``desk.services.work_orders``), which keeps this row in step through
:func:`record_work_order_attempt` in its own transaction.
"""

from __future__ import annotations

import base64
import json
from calendar import isleap
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    cast,
    exists,
    extract,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel import Session, col

from desk.clock import as_utc
from desk.infra import leases
from desk.infra.database import Database, now_of, reads, writes
from desk.infra.errors import InvalidInput, NotFound, PermissionDenied, StaleRecord
from desk.models import (
    Callback,
    CallbackAttempt,
    Contact,
    Customer,
    CustomerPhone,
    Meta,
    StaffUser,
    WorkOrder,
)
from desk.rules import callbacks as rules
from desk.rules.masking import mask_name, mask_phone
from desk.rules.permissions import Actor, Permission, can, system_actor
from desk.rules.policy import Policy
from desk.rules.vocab import (
    CallbackKind,
    CallbackOutcome,
    CallbackPurpose,
    CallbackStatus,
    CustomerStatus,
    RequestType,
    Role,
    WorkOrderStatus,
)
from desk.services import audit
from desk.services.access import require
from desk.services.handover import open_shifts

PLAN_LEASE = "callbacks"
LAST_PLAN_KEY = "callbacks_last_plan"
PAGE_LIMIT = 200
NOTE_LIMIT = 500
_TABLE = Callback.__table__  # type: ignore[attr-defined]


# --- read models ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallbackRow:
    """One callback as a list shows it (personal data masked)."""

    id: int
    customer_id: int
    customer_name: str
    phone: str | None
    tier: str
    big_customer_class: str | None
    kind: CallbackKind
    purpose: CallbackPurpose
    subject: str | None
    due_at: datetime
    owner_id: int | None
    owner_name: str | None
    status: CallbackStatus
    outcome: CallbackOutcome | None
    attempts: int
    work_order_id: int | None
    work_order_number: str | None
    version: int


@dataclass(frozen=True, slots=True)
class AttemptView:
    at: datetime
    actor_name: str | None
    reached: bool
    satisfaction: int | None
    note: str | None


@dataclass(frozen=True, slots=True)
class CallbackDetail:
    """A callback with its tries, what it is about, and the rule's count of tries left."""

    row: CallbackRow
    attempts: tuple[AttemptView, ...]
    attempts_left: int
    result: str | None
    satisfaction: int | None
    created_at: datetime
    closed_at: datetime | None
    contact_at: datetime | None  # a survey's contact
    contact_request_type: RequestType | None
    work_order_title: str | None
    work_order_status: WorkOrderStatus | None
    customer_last_activity: datetime | None


class Scope(StrEnum):
    """Whose callbacks a list shows."""

    MINE = "mine"  # mine and the shift's (anyone's): what I may make
    SHIFT = "shift"  # owned by nobody: anyone on the shift
    ALL = "all"  # everyone's (leads)


class StatusView(StrEnum):
    OPEN = "open"  # still to make, by due time
    CLOSED = "closed"  # made, unreachable or called off, latest first


@dataclass(frozen=True, slots=True)
class CallbackPage:
    rows: tuple[CallbackRow, ...]
    next_cursor: str | None
    counts: dict[str, int] = field(default_factory=dict)  # open ones by purpose, in scope


@dataclass(frozen=True, slots=True)
class PlanReport:
    """What one run of the plan added, by purpose; 0 everywhere on a second run."""

    now: datetime
    added: dict[str, int]
    shifts_opened: int = 0
    skipped_because_leased: bool = False

    @property
    def total(self) -> int:
        return sum(self.added.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "added": dict(self.added),
            "total": self.total,
            "shifts_opened": self.shifts_opened,
            "skipped_because_leased": self.skipped_because_leased,
        }


# --- the plan --------------------------------------------------------------------------------


def _insert_ignoring_duplicates(connection: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert callback rows, skipping any whose ``plan_key`` exists; the count inserted."""
    if not rows:
        return 0
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(_TABLE)
        .on_conflict_do_nothing(index_elements=["plan_key"])
        .returning(_TABLE.c.id)
    )
    return len(connection.execute(statement, list(rows)).all())


def _insert_from_select(connection: Connection, columns: list[str], query: Any) -> int:
    """INSERT … SELECT, skipping rows whose ``plan_key`` exists. (SQLite parses the upsert
    of an INSERT … SELECT only when the SELECT has a WHERE clause, hence the ``true``.)"""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(_TABLE)
        .from_select(columns, query.where(true()))
        .on_conflict_do_nothing(index_elements=["plan_key"])
        .returning(_TABLE.c.id)
    )
    return len(connection.execute(statement).all())


def _row(
    *,
    customer_id: int,
    purpose: CallbackPurpose,
    kind: CallbackKind,
    due_at: datetime,
    plan_key: str,
    now: datetime,
    subject: str | None = None,
    work_order_id: int | None = None,
    contact_id: int | None = None,
) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "work_order_id": work_order_id,
        "contact_id": contact_id,
        "kind": kind.value,
        "purpose": purpose.value,
        "subject": subject,
        "plan_key": plan_key,
        "due_at": due_at,
        "owner_id": None,
        "status": CallbackStatus.PENDING.value,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }


def _key(*parts: object) -> ColumnElement[str]:
    """A plan key built in SQL from literal parts and columns, joined by ':'."""
    pieces: list[ColumnElement[str]] = []
    for index, part in enumerate(parts):
        if index:
            pieces.append(literal(":"))
        if isinstance(part, ColumnElement):
            pieces.append(cast(part, String))
        else:
            pieces.append(literal(str(part)))
    result = pieces[0]
    for piece in pieces[1:]:
        result = result.concat(piece)
    return result


def _plan_surveys(connection: Connection, now: datetime, policy: Policy) -> int:
    plan = policy.callbacks.survey
    horizon = now + timedelta(hours=policy.callbacks.horizon_hours)
    since = now - timedelta(hours=plan.lookback_hours)
    contact = Contact.__table__  # type: ignore[attr-defined]
    spread = (contact.c.id * rules.SAMPLE_MULTIPLIER) % rules.SAMPLE_MODULUS
    sampled = spread < rules.sample_threshold(plan.sample_percent)
    candidates = connection.execute(
        select(contact.c.id, contact.c.customer_id, contact.c.ended_at)
        .where(
            contact.c.ended_at > since,
            contact.c.ended_at <= now,
            contact.c.customer_id.is_not(None),
            contact.c.request_type.in_([value.value for value in plan.request_types]),
            contact.c.outcome.in_([value.value for value in plan.outcomes]),
            sampled,
        )
        .order_by(contact.c.ended_at, contact.c.id)
    ).all()
    if not candidates:
        return 0
    customers = sorted({int(row.customer_id) for row in candidates})
    interval = timedelta(days=policy.callbacks.survey_min_interval_days)
    surveyed: dict[int, list[datetime]] = {}
    for chunk_start in range(0, len(customers), 5_000):
        chunk = customers[chunk_start : chunk_start + 5_000]
        for customer_id, due_at in connection.execute(
            select(_TABLE.c.customer_id, _TABLE.c.due_at).where(
                _TABLE.c.customer_id.in_(chunk),
                _TABLE.c.purpose == CallbackPurpose.SURVEY.value,
                _TABLE.c.status != CallbackStatus.CANCELLED.value,
                _TABLE.c.due_at > since - interval,
            )
        ):
            surveyed.setdefault(int(customer_id), []).append(as_utc(due_at))
    rows: list[dict[str, Any]] = []
    for contact_id, customer_id, ended_at in candidates:
        due = rules.survey_due(as_utc(ended_at), policy)
        if due > horizon:
            continue
        before = surveyed.setdefault(int(customer_id), [])
        if not rules.may_survey(before, due, policy) or any(at > due for at in before):
            continue
        before.append(due)
        rows.append(
            _row(
                customer_id=int(customer_id),
                contact_id=int(contact_id),
                purpose=CallbackPurpose.SURVEY,
                kind=plan.kind,
                due_at=due,
                plan_key=f"survey:contact:{contact_id}",
                now=now,
            )
        )
    return _insert_ignoring_duplicates(connection, rows)


def _greeted(customer: Any, policy: Policy) -> ColumnElement[bool]:
    plan = policy.callbacks.greeting
    conditions: list[ColumnElement[bool]] = []
    if plan.tiers:
        conditions.append(customer.c.tier.in_([tier.value for tier in plan.tiers]))
    if plan.big_customer_classes:
        conditions.append(
            customer.c.big_customer_class.in_([cls.value for cls in plan.big_customer_classes])
        )
    if not conditions:
        return literal(False)
    return and_(customer.c.status == CustomerStatus.ACTIVE.value, or_(*conditions))


_PLANNED_COLUMNS = [
    "customer_id",
    "kind",
    "purpose",
    "subject",
    "plan_key",
    "due_at",
    "status",
    "attempts",
    "created_at",
    "updated_at",
    "version",
]


def _planned(
    customer_id: Any,
    *,
    kind: CallbackKind,
    purpose: CallbackPurpose,
    subject: str,
    plan_key: ColumnElement[str],
    due_at: datetime,
    now: datetime,
) -> list[Any]:
    """The selected values of :data:`_PLANNED_COLUMNS` for an INSERT … SELECT."""
    return [
        customer_id,
        literal(kind.value),
        literal(purpose.value),
        literal(subject),
        plan_key,
        literal(due_at, type_=_TABLE.c.due_at.type),
        literal(CallbackStatus.PENDING.value),
        literal(0),
        literal(now, type_=_TABLE.c.created_at.type),
        literal(now, type_=_TABLE.c.updated_at.type),
        literal(1),
    ]


def _plan_greetings(connection: Connection, now: datetime, policy: Policy) -> dict[str, int]:
    plan = policy.callbacks.greeting
    customer = Customer.__table__  # type: ignore[attr-defined]
    added = {"birthday": 0, "holiday": 0}
    for day in rules.greeting_days(now, policy):
        due = rules.greeting_due(day, policy)
        months_days = [(day.month, day.day)]
        if (day.month, day.day) == (2, 28) and not isleap(day.year):
            months_days.append((2, 29))  # kept on the 28th outside leap years
        born = or_(
            *(
                and_(
                    cast(extract("month", customer.c.birthday), Integer) == month,
                    cast(extract("day", customer.c.birthday), Integer) == mday,
                )
                for month, mday in months_days
            )
        )
        added["birthday"] += _insert_from_select(
            connection,
            _PLANNED_COLUMNS,
            select(
                *_planned(
                    customer.c.id,
                    kind=plan.birthday_kind,
                    purpose=CallbackPurpose.GREETING,
                    subject="birthday",
                    plan_key=_key("greeting", "birthday", customer.c.id, day.isoformat()),
                    due_at=due,
                    now=now,
                )
            ).where(_greeted(customer, policy), customer.c.birthday.is_not(None), born),
        )
        for name in rules.holiday_greetings(day, policy):
            added["holiday"] += _insert_from_select(
                connection,
                _PLANNED_COLUMNS,
                select(
                    *_planned(
                        customer.c.id,
                        kind=plan.holiday_kind,
                        purpose=CallbackPurpose.GREETING,
                        subject=f"holiday:{name}",
                        plan_key=_key("greeting", "holiday", customer.c.id, day.isoformat()),
                        due_at=due,
                        now=now,
                    )
                ).where(_greeted(customer, policy)),
            )
    return added


def _plan_win_back(connection: Connection, now: datetime, policy: Policy) -> int:
    plan = policy.callbacks.win_back
    customer = Customer.__table__  # type: ignore[attr-defined]
    today = now.astimezone(rules.LOCAL_ZONE).date()
    day_start = as_utc(datetime.combine(today, datetime.min.time(), rules.LOCAL_ZONE))
    planned_today = connection.execute(
        select(func.count())
        .select_from(_TABLE)
        .where(
            _TABLE.c.purpose == CallbackPurpose.WIN_BACK.value,
            _TABLE.c.created_at >= day_start,
        )
    ).scalar_one()
    room = plan.daily_limit - int(planned_today)
    if room <= 0:
        return 0
    recently = now - timedelta(days=plan.repeat_after_days)
    called = exists().where(
        _TABLE.c.customer_id == customer.c.id,
        _TABLE.c.purpose == CallbackPurpose.WIN_BACK.value,
        _TABLE.c.created_at > recently,
    )
    due = rules.calling_instant(now, policy)
    chosen = (
        select(customer.c.id)
        .where(
            customer.c.status == CustomerStatus.ACTIVE.value,
            customer.c.tier.in_([tier.value for tier in policy.kpi.member_tiers]),
            customer.c.last_activity_at <= rules.win_back_cutoff(now, policy),
            ~called,
        )
        .order_by(customer.c.last_activity_at, customer.c.id)
        .limit(room)
        .subquery()
    )
    return _insert_from_select(
        connection,
        _PLANNED_COLUMNS,
        select(
            *_planned(
                chosen.c.id,
                kind=plan.kind,
                purpose=CallbackPurpose.WIN_BACK,
                subject="win_back",
                plan_key=_key("win_back", chosen.c.id, today.isoformat()),
                due_at=due,
                now=now,
            )
        ),
    )


def _plan_apologies(connection: Connection, now: datetime, policy: Policy) -> int:
    plan = policy.callbacks.apology
    order = WorkOrder.__table__  # type: ignore[attr-defined]
    horizon = now + timedelta(hours=policy.callbacks.horizon_hours)
    candidates = connection.execute(
        select(order.c.id, order.c.customer_id, order.c.cycle, order.c.closed_at).where(
            order.c.category == RequestType.COMPLAINT.value,
            order.c.status == WorkOrderStatus.CLOSED.value,
            order.c.customer_id.is_not(None),
            order.c.closed_at > now - timedelta(days=plan.lookback_days),
            order.c.closed_at <= now,
            or_(order.c.is_major == true(), order.c.escalation_level >= plan.min_escalation_level),
        )
    ).all()
    rows = []
    for order_id, customer_id, cycle, closed_at in candidates:
        due = rules.apology_due(as_utc(closed_at), policy)
        if due > horizon:
            continue
        rows.append(
            _row(
                customer_id=int(customer_id),
                work_order_id=int(order_id),
                purpose=CallbackPurpose.APOLOGY,
                kind=plan.kind,
                due_at=due,
                plan_key=f"apology:{order_id}:c{cycle}",
                now=now,
            )
        )
    return _insert_ignoring_duplicates(connection, rows)


def work_order_plan_key(work_order_id: int, cycle: int) -> str:
    """The plan key of a work order's callback in its ``cycle`` (0 before any reopening)."""
    return f"work_order:{work_order_id}:c{cycle}"


def _plan_work_orders(connection: Connection, now: datetime, policy: Policy) -> int:
    """Orders waiting for their callback without a callback row (loaded in bulk, or
    accepted before this plan existed) get one, due at their callback deadline."""
    order = WorkOrder.__table__  # type: ignore[attr-defined]
    horizon = now + timedelta(hours=policy.callbacks.horizon_hours)
    pending = exists().where(
        _TABLE.c.work_order_id == order.c.id,
        _TABLE.c.purpose == CallbackPurpose.ROUTINE.value,
        _TABLE.c.status == CallbackStatus.PENDING.value,
    )
    due = func.coalesce(order.c.callback_due, literal(now, type_=order.c.created_at.type))
    return _insert_from_select(
        connection,
        [*_PLANNED_COLUMNS, "work_order_id"],
        select(
            order.c.customer_id,
            literal(CallbackKind.PHONE.value),
            literal(CallbackPurpose.ROUTINE.value),
            order.c.number,
            _key("work_order", order.c.id, literal("c").concat(cast(order.c.cycle, String))),
            due,
            literal(CallbackStatus.PENDING.value),
            literal(0),
            literal(now, type_=_TABLE.c.created_at.type),
            literal(now, type_=_TABLE.c.updated_at.type),
            literal(1),
            order.c.id,
        ).where(
            order.c.status == WorkOrderStatus.CALLBACK.value,
            order.c.customer_id.is_not(None),
            or_(order.c.callback_due.is_(None), order.c.callback_due <= horizon),
            ~pending,
        ),
    )


def _plan(connection: Connection, now: datetime, policy: Policy) -> dict[str, int]:
    greetings = _plan_greetings(connection, now, policy)
    return {
        "work_order": _plan_work_orders(connection, now, policy),
        "survey": _plan_surveys(connection, now, policy),
        "birthday": greetings["birthday"],
        "holiday": greetings["holiday"],
        "win_back": _plan_win_back(connection, now, policy),
        "apology": _plan_apologies(connection, now, policy),
    }


def plan_callbacks(
    db: Database, *, actor: Actor, policy: Policy, now: datetime | None = None
) -> PlanReport:
    """Add every callback due within the horizon that is not planned yet, and the records of
    the shift on now and the next (``shifts``) when missing (needs ``RUN_SWEEP``). A second
    run at the same ``now`` adds nothing."""
    db.run(lambda session: require(session, actor, Permission.RUN_SWEEP), write=False)
    at = as_utc(now) if now is not None else db.clock.now()
    holder = leases.make_holder("plan")
    if not leases.acquire(db, name=PLAN_LEASE, holder=holder, ttl=timedelta(minutes=5)):
        return PlanReport(now=at, added={}, skipped_because_leased=True)
    try:
        added = db.run_core(lambda connection: _plan(connection, at, policy), write=True)

        def finish(session: Session) -> int:
            opened = open_shifts(session, now=at, policy=policy)
            row = session.get(Meta, LAST_PLAN_KEY)
            stamp = now_of(session).isoformat()
            if row is None:
                session.add(Meta(key=LAST_PLAN_KEY, value=stamp))
            else:
                row.value = stamp
            if sum(added.values()):
                audit.record(
                    session,
                    action="callbacks.plan",
                    actor=actor,
                    target_type="callback",
                    detail={"now": at.isoformat(), "added": {k: n for k, n in added.items() if n}},
                )
            return opened

        opened = db.run(finish, write=True)
        return PlanReport(now=at, added=added, shifts_opened=opened)
    finally:
        leases.release(db, name=PLAN_LEASE, holder=holder)


def plan_if_due(db: Database, *, every: timedelta, policy: Policy) -> PlanReport | None:
    """The console's timer: plan as the system when the last plan (by anyone) is ``every``
    old or older; None when it was not due."""

    def last(session: Session) -> datetime | None:
        row = session.get(Meta, LAST_PLAN_KEY)
        return datetime.fromisoformat(row.value) if row is not None else None

    previous = db.run(last, write=False)
    if previous is not None and db.clock.now() - previous < every:
        return None
    return plan_callbacks(db, actor=system_actor(), policy=policy)


# --- helpers for the work-order service (one transaction with the order's own change) -------


def add_work_order_callback(session: Session, *, work_order: WorkOrder, now: datetime) -> None:
    """The callback of an order whose reply was accepted: anyone on the shift, due at the
    order's callback deadline. Nothing is added when the order's cycle has one already."""
    assert work_order.id is not None
    if work_order.customer_id is None:
        return
    connection = session.connection()
    _insert_ignoring_duplicates(
        connection,
        [
            _row(
                customer_id=work_order.customer_id,
                work_order_id=work_order.id,
                purpose=CallbackPurpose.ROUTINE,
                kind=CallbackKind.PHONE,
                due_at=work_order.callback_due or now,
                plan_key=work_order_plan_key(work_order.id, work_order.cycle),
                subject=work_order.number,
                now=now,
            )
        ],
    )


def record_work_order_attempt(
    session: Session,
    *,
    work_order_id: int,
    actor: Actor,
    reached: bool,
    satisfaction: int | None,
    note: str | None,
    closes: bool,
    now: datetime,
    policy: Policy,
) -> None:
    """Keep the pending callback of a work order in step with a try recorded on the order:
    the try is stored; ``closes`` (the order closed: reached, or unreachable) closes it. The
    actor must be one who makes callbacks, whoever calls this."""
    require(session, actor, Permission.MAKE_CALLBACKS)
    callback = session.scalars(
        select(Callback)
        .where(
            col(Callback.work_order_id) == work_order_id,
            col(Callback.status) == CallbackStatus.PENDING.value,
        )
        .order_by(col(Callback.id).desc())
        .limit(1)
    ).first()
    if callback is None:
        return
    _store_attempt(
        session,
        callback,
        actor=actor,
        reached=reached,
        declined=False,
        satisfaction=satisfaction,
        note=note,
        now=now,
        policy=policy,
        closes=closes,
    )


def _store_attempt(
    session: Session,
    callback: Callback,
    *,
    actor: Actor,
    reached: bool,
    declined: bool,
    satisfaction: int | None,
    note: str | None,
    now: datetime,
    policy: Policy,
    closes: bool | None = None,
) -> None:
    assert callback.id is not None
    actor_id = actor.user_id or None
    session.add(
        CallbackAttempt(
            callback_id=callback.id,
            at=now,
            actor_id=actor_id,
            reached=reached,
            satisfaction=satisfaction,
            note=note,
        )
    )
    after = rules.after_attempt(
        attempts=callback.attempts,
        reached=reached,
        declined=declined,
        due_at=callback.due_at,
        now=now,
        policy=policy,
    )
    status, outcome = after.status, after.outcome
    if closes is not None and closes and status is CallbackStatus.PENDING:
        status, outcome = CallbackStatus.FAILED, CallbackOutcome.UNREACHABLE
    callback.attempts = after.attempts
    callback.last_attempt_at = now
    callback.due_at = after.due_at
    callback.status = status.value
    callback.outcome = outcome.value if outcome else None
    if note:
        callback.result = note
    if satisfaction is not None:
        callback.satisfaction = satisfaction
    if status is not CallbackStatus.PENDING:
        callback.closed_at = now
        callback.closed_by = actor_id
    callback.updated_at = now
    callback.version += 1
    session.add(callback)


# --- the lists -------------------------------------------------------------------------------


def _cursor(due_at: datetime, callback_id: int) -> str:
    raw = json.dumps([as_utc(due_at).isoformat(), callback_id]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _parse_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        due, callback_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(due), int(callback_id)
    except (ValueError, TypeError) as error:
        raise InvalidInput("not a cursor of this list", field="after") from error


def _scope_filter(actor: Actor, scope: Scope) -> ColumnElement[bool]:
    owner = col(Callback.owner_id)
    if scope is Scope.SHIFT:
        return owner.is_(None)
    if scope is Scope.ALL:
        if not can(actor, Permission.ASSIGN_CALLBACKS):
            raise PermissionDenied(f"{actor.login} ({actor.role}) sees only their own callbacks")
        return true()
    return or_(owner.is_(None), owner == actor.user_id)


_ROW_COLUMNS = (
    _TABLE.c.id,
    _TABLE.c.customer_id,
    Customer.__table__.c.name,  # type: ignore[attr-defined]
    Customer.__table__.c.tier,  # type: ignore[attr-defined]
    Customer.__table__.c.big_customer_class,  # type: ignore[attr-defined]
    _TABLE.c.kind,
    _TABLE.c.purpose,
    _TABLE.c.subject,
    _TABLE.c.due_at,
    _TABLE.c.owner_id,
    StaffUser.__table__.c.display_name,  # type: ignore[attr-defined]
    _TABLE.c.status,
    _TABLE.c.outcome,
    _TABLE.c.attempts,
    _TABLE.c.work_order_id,
    WorkOrder.__table__.c.number,  # type: ignore[attr-defined]
    _TABLE.c.version,
)


def _rows_query() -> Any:
    customer = Customer.__table__  # type: ignore[attr-defined]
    staff = StaffUser.__table__  # type: ignore[attr-defined]
    order = WorkOrder.__table__  # type: ignore[attr-defined]
    return (
        select(*_ROW_COLUMNS)
        .select_from(_TABLE)
        .join(customer, customer.c.id == _TABLE.c.customer_id)
        .outerjoin(staff, staff.c.id == _TABLE.c.owner_id)
        .outerjoin(order, order.c.id == _TABLE.c.work_order_id)
    )


def _phones(session: Session, customer_ids: Sequence[int]) -> dict[int, str]:
    if not customer_ids:
        return {}
    phones: dict[int, str] = {}
    for customer_id, phone in session.execute(
        select(CustomerPhone.customer_id, CustomerPhone.phone)  # type: ignore[call-overload]
        .where(col(CustomerPhone.customer_id).in_(customer_ids))
        .order_by(col(CustomerPhone.is_primary).desc(), col(CustomerPhone.id))
    ):
        phones.setdefault(int(customer_id), phone)
    return phones


def _to_rows(session: Session, records: Sequence[Any]) -> tuple[CallbackRow, ...]:
    phones = _phones(session, sorted({int(r.customer_id) for r in records}))
    return tuple(
        CallbackRow(
            id=int(r.id),
            customer_id=int(r.customer_id),
            customer_name=mask_name(r.name),
            phone=mask_phone(phones[int(r.customer_id)]) if int(r.customer_id) in phones else None,
            tier=r.tier,
            big_customer_class=r.big_customer_class,
            kind=CallbackKind(r.kind),
            purpose=CallbackPurpose(r.purpose),
            subject=r.subject,
            due_at=as_utc(r.due_at),
            owner_id=r.owner_id,
            owner_name=r.display_name,
            status=CallbackStatus(r.status),
            outcome=CallbackOutcome(r.outcome) if r.outcome else None,
            attempts=int(r.attempts),
            work_order_id=r.work_order_id,
            work_order_number=r.number,
            version=int(r.version),
        )
        for r in records
    )


@reads
def list_callbacks(
    session: Session,
    *,
    actor: Actor,
    scope: Scope = Scope.MINE,
    purpose: CallbackPurpose | None = None,
    view: StatusView = StatusView.OPEN,
    after: str | None = None,
    limit: int = 50,
) -> CallbackPage:
    """A page of callbacks (≤ 200): open ones by due time, closed ones latest first, by a
    keyset on (due, id). ``counts`` are the open callbacks in ``scope`` by purpose."""
    require(session, actor, Permission.MAKE_CALLBACKS)
    if not 1 <= limit <= PAGE_LIMIT:
        raise InvalidInput(f"must be between 1 and {PAGE_LIMIT}", field="limit")
    scoped = _scope_filter(actor, Scope(scope))
    open_ = _TABLE.c.status == CallbackStatus.PENDING.value
    query = _rows_query().where(scoped, open_ if view is StatusView.OPEN else ~open_)
    if purpose is not None:
        query = query.where(_TABLE.c.purpose == CallbackPurpose(purpose).value)
    ordering: ColumnElement[Any]
    if view is StatusView.OPEN:
        if after is not None:
            due, last_id = _parse_cursor(after)
            query = query.where(
                or_(_TABLE.c.due_at > due, and_(_TABLE.c.due_at == due, _TABLE.c.id > last_id))
            )
        query = query.order_by(_TABLE.c.due_at, _TABLE.c.id)
    else:
        closed = func.coalesce(_TABLE.c.closed_at, _TABLE.c.due_at)
        if after is not None:
            due, last_id = _parse_cursor(after)
            query = query.where(or_(closed < due, and_(closed == due, _TABLE.c.id < last_id)))
        ordering = closed.desc()
        query = query.order_by(ordering, _TABLE.c.id.desc()).add_columns(closed.label("closed"))
    records = session.execute(query.limit(limit + 1)).all()
    more = len(records) > limit
    records = records[:limit]
    next_cursor = None
    if more and records:
        last = records[-1]
        key = last.due_at if view is StatusView.OPEN else last.closed
        next_cursor = _cursor(as_utc(key), int(last.id))
    counts = {
        str(purpose_): int(count)
        for purpose_, count in session.execute(
            select(_TABLE.c.purpose, func.count()).where(scoped, open_).group_by(_TABLE.c.purpose)
        )
    }
    return CallbackPage(rows=_to_rows(session, records), next_cursor=next_cursor, counts=counts)


def _load(session: Session, callback_id: int) -> Callback:
    callback = session.get(Callback, callback_id)
    if callback is None:
        raise NotFound(f"no callback {callback_id}")
    return callback


def _may_work_on(actor: Actor, callback: Callback) -> None:
    if callback.owner_id in (None, actor.user_id) or can(actor, Permission.ASSIGN_CALLBACKS):
        return
    raise PermissionDenied(f"callback {callback.id} belongs to someone else")


@reads
def callback_detail(
    session: Session, *, actor: Actor, callback_id: int, policy: Policy
) -> CallbackDetail:
    """One callback with its tries, what it is about, its customer's last activity, and
    the tries left before the customer counts as unreachable."""
    return _detail(session, actor, callback_id, policy)


def _detail(session: Session, actor: Actor, callback_id: int, policy: Policy) -> CallbackDetail:
    require(session, actor, Permission.MAKE_CALLBACKS)
    callback = _load(session, callback_id)
    _may_work_on(actor, callback)
    record = session.execute(_rows_query().where(_TABLE.c.id == callback_id)).one()
    (row,) = _to_rows(session, [record])
    staff = StaffUser.__table__  # type: ignore[attr-defined]
    attempt = CallbackAttempt.__table__  # type: ignore[attr-defined]
    attempts = tuple(
        AttemptView(
            at=as_utc(a.at),
            actor_name=a.display_name,
            reached=bool(a.reached),
            satisfaction=a.satisfaction,
            note=a.note,
        )
        for a in session.execute(
            select(attempt, staff.c.display_name)
            .outerjoin(staff, staff.c.id == attempt.c.actor_id)
            .where(attempt.c.callback_id == callback_id)
            .order_by(attempt.c.at, attempt.c.id)
        )
    )
    contact = session.get(Contact, callback.contact_id) if callback.contact_id else None
    order = session.get(WorkOrder, callback.work_order_id) if callback.work_order_id else None
    customer = session.get(Customer, callback.customer_id)
    failed = sum(not attempt.reached for attempt in attempts)
    pending = row.status is CallbackStatus.PENDING
    return CallbackDetail(
        row=row,
        attempts=attempts,
        attempts_left=rules.attempts_left(failed, policy) if pending else 0,
        result=callback.result,
        satisfaction=callback.satisfaction,
        created_at=as_utc(callback.created_at),
        closed_at=as_utc(callback.closed_at) if callback.closed_at else None,
        contact_at=as_utc(contact.offered_at) if contact else None,
        contact_request_type=(
            RequestType(contact.request_type) if contact and contact.request_type else None
        ),
        work_order_title=order.title if order else None,
        work_order_status=WorkOrderStatus(order.status) if order else None,
        customer_last_activity=(
            as_utc(customer.last_activity_at) if customer and customer.last_activity_at else None
        ),
    )


def _check_version(callback: Callback, version: int, session: Session) -> None:
    if callback.version == version:
        return
    who = session.get(StaffUser, callback.closed_by) if callback.closed_by else None
    by = f" by {who.display_name}" if who else ""
    when = callback.updated_at.isoformat(timespec="minutes") if callback.updated_at else "?"
    raise StaleRecord(f"callback {callback.id} was changed{by} at {when}: reload it")


def _clean_note(note: str | None) -> str | None:
    if note is None:
        return None
    note = note.strip()
    if len(note) > NOTE_LIMIT:
        raise InvalidInput(f"at most {NOTE_LIMIT} characters", field="note")
    return note or None


@writes
def record_attempt(
    session: Session,
    *,
    actor: Actor,
    callback_id: int,
    version: int,
    reached: bool,
    policy: Policy,
    declined: bool = False,
    satisfaction: int | None = None,
    note: str | None = None,
) -> CallbackDetail:
    """Store one try at a callback that is not a work order's (those are recorded on the
    order): reached, declined by the customer, or not reached. A failed try brings it back
    ``retry_after_minutes`` later; the policy's last one closes it as unreachable."""
    require(session, actor, Permission.MAKE_CALLBACKS)
    callback = _load(session, callback_id)
    _may_work_on(actor, callback)
    if callback.purpose == CallbackPurpose.ROUTINE.value and callback.work_order_id is not None:
        raise InvalidInput(
            "a work order's callback is recorded on the work order", field="callback_id"
        )
    _check_version(callback, version, session)
    if callback.status != CallbackStatus.PENDING.value:
        raise InvalidInput(f"callback {callback_id} is {callback.status}", field="callback_id")
    if satisfaction is not None and not 1 <= satisfaction <= 5:
        raise InvalidInput("must be 1 to 5", field="satisfaction")
    if satisfaction is not None and not reached:
        raise InvalidInput("only a reached customer gives a satisfaction", field="satisfaction")
    if declined and not reached:
        raise InvalidInput("only a reached customer can decline", field="declined")
    now = now_of(session)
    _store_attempt(
        session,
        callback,
        actor=actor,
        reached=reached,
        declined=declined,
        satisfaction=satisfaction,
        note=_clean_note(note),
        now=now,
        policy=policy,
    )
    session.flush()
    return _detail(session, actor, callback_id, policy)


@writes
def take_callback(session: Session, *, actor: Actor, callback_id: int, version: int) -> None:
    """Take a callback of the shift as one's own."""
    require(session, actor, Permission.MAKE_CALLBACKS)
    callback = _load(session, callback_id)
    _check_version(callback, version, session)
    if callback.owner_id not in (None, actor.user_id):
        raise InvalidInput("someone else has taken it already", field="callback_id")
    _change_owner(session, callback, actor.user_id or None, actor)


@writes
def assign_callback(
    session: Session, *, actor: Actor, callback_id: int, version: int, owner_login: str | None
) -> None:
    """Give a callback to one person (who may make callbacks), or back to the shift (None)."""
    require(session, actor, Permission.ASSIGN_CALLBACKS)
    callback = _load(session, callback_id)
    _check_version(callback, version, session)
    owner_id = None
    if owner_login:
        owner = session.scalars(
            select(StaffUser).where(col(StaffUser.login) == owner_login)
        ).first()
        if owner is None or not owner.active:
            raise InvalidInput(f"no active user {owner_login!r}", field="owner")
        holder = Actor(user_id=owner.id or 0, login=owner.login, role=Role(owner.role))
        if not can(holder, Permission.MAKE_CALLBACKS):
            raise InvalidInput(
                f"{owner_login} ({owner.role}) does not make callbacks", field="owner"
            )
        owner_id = owner.id
    _change_owner(session, callback, owner_id, actor)


def _change_owner(session: Session, callback: Callback, owner_id: int | None, actor: Actor) -> None:
    if callback.status != CallbackStatus.PENDING.value:
        raise InvalidInput(f"callback {callback.id} is {callback.status}", field="callback_id")
    now = now_of(session)
    audit.record(
        session,
        action="callback.assign",
        actor=actor,
        target_type="callback",
        target_id=callback.id,
        detail={"from": callback.owner_id, "to": owner_id},
    )
    callback.owner_id = owner_id
    callback.updated_at = now
    callback.version += 1
    session.add(callback)


@writes
def cancel_callback(
    session: Session, *, actor: Actor, callback_id: int, version: int, reason: str
) -> None:
    """Call a callback off, with a reason (a lead's decision, audited)."""
    require(session, actor, Permission.ASSIGN_CALLBACKS)
    callback = _load(session, callback_id)
    _check_version(callback, version, session)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("say why it is called off", field="reason")
    if callback.status != CallbackStatus.PENDING.value:
        raise InvalidInput(f"callback {callback_id} is {callback.status}", field="callback_id")
    if callback.work_order_id is not None and callback.purpose == CallbackPurpose.ROUTINE.value:
        raise InvalidInput("a work order's callback ends with its work order", field="callback_id")
    now = now_of(session)
    callback.status = CallbackStatus.CANCELLED.value
    callback.outcome = CallbackOutcome.CANCELLED.value
    callback.result = _clean_note(reason)
    callback.closed_at = now
    callback.closed_by = actor.user_id or None
    callback.updated_at = now
    callback.version += 1
    session.add(callback)
    audit.record(
        session,
        action="callback.cancel",
        actor=actor,
        target_type="callback",
        target_id=callback.id,
        detail={"reason": reason},
    )
