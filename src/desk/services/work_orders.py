"""Work orders (工单): creating one, and reading one with its whole history, clocks and
attachments. The actions of its life are in :mod:`desk.services.work_order_actions`.

Each public call is one transaction that checks its permission first (:func:`require`).
Creating writes the row, the ``created`` event and the disputed bill items, plans the
escalation ladder (:func:`desk.services.sweep.refresh_ladder`, which sets the clocks' due
instants and the queue's nearest deadline) and raises the work-order change counter.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Integer, String, bindparam, text
from sqlalchemy import select as core_select
from sqlalchemy.engine import Row
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.selectable import Exists
from sqlmodel import Session, col, select

from desk.clock import SHANGHAI
from desk.infra.database import Database, now_of
from desk.infra.errors import InvalidInput, NotFound, PermissionDenied, StaleRecord
from desk.models import (
    Bill,
    BillItem,
    Contact,
    Customer,
    Department,
    InboxMessage,
    StaffUser,
    WorkOrder,
    WorkOrderBillItem,
    WorkOrderEvent,
    metadata,
)
from desk.rules.calendar import business_time_between, calendars_from_policy
from desk.rules.clocks import TimelineEvent, work_order_clocks
from desk.rules.ladder import (
    MAJOR_KEY,
)
from desk.rules.masking import mask_name, mask_phone
from desk.rules.permissions import Actor, Permission
from desk.rules.policy import Policy, load_policy
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
    WaitingReason,
    WorkOrderSource,
    WorkOrderStatus,
)
from desk.rules.work_orders import (
    Action,
    OrderState,
    allowed_actions,
)
from desk.services import changes
from desk.services.access import require, require_seen, role_now
from desk.services.sweep import CLOCK_EVENT_KINDS, refresh_ladder

TITLE_MAX = 120
DESCRIPTION_MAX = 4000
REASON_MAX = 2000


# --- what goes in and what comes out ---------------------------------------------------------


class WorkOrderDraft(BaseModel):
    """A new work order as the agent's form (or a lead turning a message into one) gives it.

    ``consent``: the caller agreed to a work order being opened (needed when ``source`` is an
    agent's call). ``disputed_bill_item_ids``: the itemized records (详单) a billing dispute
    is about; they must be the customer's. ``major_source``: the agent knows it is a major
    complaint (the customer went to the regulator or the media): it is flagged at once.
    """

    model_config = ConfigDict(frozen=True)

    customer_id: int | None
    contact_id: int | None
    category: RequestType
    topic: str | None
    title: str
    description: str
    priority: Priority
    department_id: int | None
    callback_number: str | None
    channel: Channel
    source: WorkOrderSource
    consent: bool
    disputed_bill_item_ids: tuple[int, ...] = ()
    major_source: MajorSource | None = None


@dataclass(frozen=True, slots=True)
class WorkOrderView:
    """One work order as a list or a form shows it, with the version to save against."""

    id: int
    number: str
    status: WorkOrderStatus
    version: int
    category: RequestType
    priority: Priority
    title: str
    customer_id: int | None
    department_id: int | None
    branch_id: int | None
    created_at: datetime
    updated_at: datetime
    next_due: datetime | None
    next_clock: ClockKind | None
    waiting_reason: WaitingReason | None
    is_major: bool
    escalation_level: int
    parent_id: int | None


@dataclass(frozen=True, slots=True)
class ClockView:
    """One clock at the moment of reading: its state, deadline, and business time left.

    ``remaining`` is business time left on its calendar (zero once breached); ``overdue``
    the wall-clock time since a missed deadline of a clock still awaited.
    """

    kind: ClockKind
    state: ClockState
    calendar: str
    budget: timedelta
    due_at: datetime | None
    breached: bool
    remaining: timedelta
    overdue: timedelta | None
    started_at: datetime | None
    stopped_at: datetime | None


@dataclass(frozen=True, slots=True)
class EventView:
    """One line of the history: who, when, what, why."""

    id: int
    at: datetime
    kind: EventKind
    actor_name: str | None  # None: desk itself (the sweep)
    from_status: WorkOrderStatus | None
    to_status: WorkOrderStatus | None
    department_name: str | None
    clock: ClockKind | None
    ladder_key: str | None
    reason: str | None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DisputedItem:
    """A bill item a billing dispute is about."""

    id: int
    period: str
    occurred_at: datetime
    kind: str
    counterpart: str | None
    quantity: int
    amount_cents: int
    description: str


@dataclass(frozen=True, slots=True)
class LinkedOrder:
    id: int
    number: str
    title: str
    status: WorkOrderStatus


@dataclass(frozen=True, slots=True)
class CallbackView:
    id: int
    purpose: str
    kind: str
    due_at: datetime
    owner_name: str | None  # None: anyone on the shift
    status: str
    attempts: int
    last_attempt_at: datetime | None
    result: str | None
    satisfaction: int | None


@dataclass(frozen=True, slots=True)
class MessageView:
    """The message (客户留言, 网上工单) a work order was made from."""

    id: int
    channel: str
    sender: str
    received_at: datetime
    text: str


@dataclass(frozen=True, slots=True)
class WorkOrderDetail:
    """A work order with everything about it: the whole history, its clocks and what is
    attached (disputed bill items, the message it came from, its mass-fault parent and
    children, its callbacks), and the actions the reader may take on it now."""

    order: WorkOrderView
    description: str
    topic: str | None
    channel: Channel
    source: WorkOrderSource
    major_source: MajorSource | None
    contact_id: int | None
    customer_no: str | None
    customer_name_masked: str | None
    customer_phone_masked: str | None
    department_name: str | None
    branch_name: str | None
    created_by_name: str | None
    updated_by_name: str | None  # None: desk (the sweep) or nobody yet
    waiting_since: datetime | None
    cycle: int
    redispatch_count: int
    callback_attempts: int
    satisfaction: int | None
    clocks: tuple[ClockView, ...]
    events: tuple[EventView, ...]
    disputed_items: tuple[DisputedItem, ...]
    message: MessageView | None
    parent: LinkedOrder | None
    children: tuple[LinkedOrder, ...]
    callbacks: tuple[CallbackView, ...]
    allowed: frozenset[Action]
    read_at: datetime  # the instant the clocks were measured at
    center_owned: bool = False  # with the center's own department: the shift leads answer it


class WorkOrderChanged(StaleRecord):
    """Someone saved the work order after the person read it: who, when, and the version now."""

    def __init__(self, number: str, by: str | None, at: datetime, version: int) -> None:
        who = by or "desk"
        stamp = at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
        super().__init__(f"{number} was changed by {who} at {stamp}: reload to see it")
        self.number = number
        self.by = by
        self.at = at
        self.version = version


# --- reading ---------------------------------------------------------------------------------


def view_of(order: WorkOrder) -> WorkOrderView:
    assert order.id is not None
    return WorkOrderView(
        id=order.id,
        number=order.number,
        status=WorkOrderStatus(order.status),
        version=order.version,
        category=RequestType(order.category),
        priority=Priority(order.priority),
        title=order.title,
        customer_id=order.customer_id,
        department_id=order.department_id,
        branch_id=order.branch_id,
        created_at=order.created_at,
        updated_at=order.updated_at,
        next_due=order.next_due,
        next_clock=ClockKind(order.next_clock) if order.next_clock else None,
        waiting_reason=WaitingReason(order.waiting_reason) if order.waiting_reason else None,
        is_major=order.is_major,
        escalation_level=order.escalation_level,
        parent_id=order.parent_id,
    )


def order_state(order: WorkOrder, department_kind: str | None) -> OrderState:
    """What the rules judge an action on ``order`` by; ``department_kind``: the kind of the
    department it is with (None: with nobody yet)."""
    return OrderState(
        status=WorkOrderStatus(order.status),
        paused=order.waiting_since is not None,
        category=RequestType(order.category),
        department_id=order.department_id,
        escalation_level=order.escalation_level,
        center_owned=department_kind == DepartmentKind.CENTER.value,
    )


def may_see(actor: Actor, order: WorkOrder) -> bool:
    """Handlers see only their own department's work orders; other roles with
    ``VIEW_WORK_ORDERS`` see all."""
    if actor.role is Role.HANDLER:
        return order.department_id is not None and order.department_id == actor.department_id
    return True


def staff_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.exec(
        select(StaffUser.id, StaffUser.display_name, StaffUser.login).where(
            col(StaffUser.id).in_(sorted(ids))
        )
    )
    return {row[0]: row[1] or row[2] for row in rows if row[0] is not None}


def history_of(session: Session, work_order_id: int) -> list[WorkOrderEvent]:
    return list(
        session.exec(
            select(WorkOrderEvent)
            .where(WorkOrderEvent.work_order_id == work_order_id)
            .order_by(col(WorkOrderEvent.at), col(WorkOrderEvent.id))
        )
    )


def timeline_of(events: Sequence[WorkOrderEvent]) -> list[TimelineEvent]:
    return timeline_from((event.at, event.kind) for event in events)


def timeline_from(events: Iterable[tuple[datetime, str]]) -> list[TimelineEvent]:
    """The events that move clocks, from (instant, kind) pairs in the history's order."""
    kinds = {kind.value: kind for kind in CLOCK_EVENT_KINDS}
    return [TimelineEvent(at, kinds[kind]) for at, kind in events if kind in kinds]


def _clock_views(
    order: WorkOrder,
    timeline: list[TimelineEvent],
    department_kind: DepartmentKind | None,
    now: datetime,
    policy: Policy,
) -> tuple[ClockView, ...]:
    if not timeline:
        return ()
    calendars = calendars_from_policy(policy)
    measured = work_order_clocks(
        category=RequestType(order.category),
        priority=Priority(order.priority),
        channel=Channel(order.channel),
        department_kind=department_kind,
        events=timeline,
        now=now,
        policy=policy,
        calendars=calendars,
    )
    views = []
    for clock in measured.all():
        awaited = clock.state in (ClockState.RUNNING, ClockState.PAUSED)
        overdue = None
        if awaited and clock.breached and clock.due_at is not None:
            overdue = max(now - clock.due_at, timedelta(0))
        remaining = clock.remaining
        if clock.state is ClockState.RUNNING and clock.due_at is not None and not clock.breached:
            calendar = calendars[clock.calendar]
            remaining = business_time_between(now, clock.due_at, calendar)
        views.append(
            ClockView(
                kind=clock.kind,
                state=clock.state,
                calendar=clock.calendar,
                budget=clock.budget,
                due_at=clock.due_at,
                breached=clock.breached,
                remaining=remaining,
                overdue=overdue,
                started_at=clock.started_at,
                stopped_at=clock.stopped_at,
            )
        )
    return tuple(views)


def _linked(order: WorkOrder) -> LinkedOrder:
    assert order.id is not None
    return LinkedOrder(order.id, order.number, order.title, WorkOrderStatus(order.status))


# --- the detail's statements -----------------------------------------------------------------
#
# Each statement is a round trip on PostgreSQL, and the queue reads an order at every Enter
# and for its preview: the order is read with what it points at (department, branch,
# customer and primary phone, the names of who created and last changed it, its parent) and
# with the reader's role now (the access check, :func:`role_now`), and whether it has any of
# the parts few orders have; its history with the names each event shows. Callbacks,
# disputed bill items, the message it came from and its mass-fault children are read only
# when the order has them. Composed once, with bound parameters.

_WO = metadata.tables["work_order"]
_EVENT = metadata.tables["work_order_event"]
_STAFF = metadata.tables["staff_user"]
_DEPARTMENT = metadata.tables["department"]
_BRANCH = metadata.tables["branch"]
_CUSTOMER = metadata.tables["customer"]
_PHONE = metadata.tables["customer_phone"]
_CALLBACK = metadata.tables["callback"]
_WO_ITEM = metadata.tables["work_order_bill_item"]
_INBOX = metadata.tables["inbox_message"]


def _has(refers_to_order: ColumnElement[Any]) -> Exists:
    """Whether any row points at the order through ``refers_to_order``."""
    return core_select(refers_to_order).where(refers_to_order == _WO.c.id).exists()


def _order_statement(by_number: bool) -> Select[Any]:
    creator = _STAFF.alias("creator")
    updater = _STAFF.alias("updater")
    parent = _WO.alias("parent")
    child = _WO.alias("child")
    phone = (
        core_select(_PHONE.c.phone)
        .where(_PHONE.c.customer_id == _CUSTOMER.c.id)
        .order_by(_PHONE.c.is_primary.desc(), _PHONE.c.id)
        .limit(1)
        .scalar_subquery()
    )
    wanted = (
        _WO.c.number == bindparam("number", type_=String)
        if by_number
        else _WO.c.id == bindparam("work_order_id", type_=Integer)
    )
    return (
        core_select(
            WorkOrder,
            role_now(bindparam("actor_id", type_=Integer)).label("actor_role"),
            _DEPARTMENT.c.name.label("department_name"),
            _DEPARTMENT.c.kind.label("department_kind"),
            _BRANCH.c.name.label("branch_name"),
            _CUSTOMER.c.id.label("customer_found"),
            _CUSTOMER.c.customer_no,
            _CUSTOMER.c.name.label("customer_name"),
            phone.label("customer_phone"),
            creator.c.display_name.label("creator_name"),
            creator.c.login.label("creator_login"),
            updater.c.display_name.label("updater_name"),
            updater.c.login.label("updater_login"),
            parent.c.id.label("parent_found"),
            parent.c.number.label("parent_number"),
            parent.c.title.label("parent_title"),
            parent.c.status.label("parent_status"),
            _has(_CALLBACK.c.work_order_id).label("has_callbacks"),
            _has(_WO_ITEM.c.work_order_id).label("has_items"),
            _has(_INBOX.c.work_order_id).label("has_message"),
            _has(child.c.parent_id).label("has_children"),
        )
        .select_from(_WO)
        .outerjoin(_DEPARTMENT, _DEPARTMENT.c.id == _WO.c.department_id)
        .outerjoin(_BRANCH, _BRANCH.c.id == _WO.c.branch_id)
        .outerjoin(_CUSTOMER, _CUSTOMER.c.id == _WO.c.customer_id)
        .outerjoin(creator, creator.c.id == _WO.c.created_by)
        .outerjoin(updater, updater.c.id == _WO.c.updated_by)
        .outerjoin(parent, parent.c.id == _WO.c.parent_id)
        .where(wanted)
        .limit(1)
    )


def _history_statement() -> Select[Any]:
    actor = _STAFF.alias("actor")
    return (
        core_select(
            _EVENT.c.id,
            _EVENT.c.at,
            _EVENT.c.kind,
            _EVENT.c.actor_id,
            _EVENT.c.from_status,
            _EVENT.c.to_status,
            _EVENT.c.clock,
            _EVENT.c.ladder_key,
            _EVENT.c.reason,
            _EVENT.c.data,
            actor.c.display_name.label("actor_name"),
            actor.c.login.label("actor_login"),
            _DEPARTMENT.c.name.label("department_name"),
        )
        .select_from(_EVENT)
        .outerjoin(actor, actor.c.id == _EVENT.c.actor_id)
        .outerjoin(_DEPARTMENT, _DEPARTMENT.c.id == _EVENT.c.department_id)
        .where(_EVENT.c.work_order_id == bindparam("work_order_id", type_=Integer))
        .order_by(_EVENT.c.at, _EVENT.c.id)
    )


def _callbacks_statement() -> Select[Any]:
    owner = _STAFF.alias("owner")
    return (
        core_select(
            _CALLBACK.c.id,
            _CALLBACK.c.purpose,
            _CALLBACK.c.kind,
            _CALLBACK.c.due_at,
            _CALLBACK.c.owner_id,
            _CALLBACK.c.status,
            _CALLBACK.c.attempts,
            _CALLBACK.c.last_attempt_at,
            _CALLBACK.c.result,
            _CALLBACK.c.satisfaction,
            owner.c.display_name.label("owner_name"),
            owner.c.login.label("owner_login"),
        )
        .select_from(_CALLBACK)
        .outerjoin(owner, owner.c.id == _CALLBACK.c.owner_id)
        .where(_CALLBACK.c.work_order_id == bindparam("work_order_id", type_=Integer))
        .order_by(_CALLBACK.c.due_at, _CALLBACK.c.id)
    )


_BY_ID = _order_statement(by_number=False)
_BY_NUMBER = _order_statement(by_number=True)
_HISTORY = _history_statement()
_CALLBACKS = _callbacks_statement()


def _name(shown: str | None, login: str | None) -> str | None:
    """A person's name as lists show it: the display name, else the login (None: nobody)."""
    return shown or login


def _read_detail(
    session: Session,
    actor: Actor,
    work_order_id: int | None,
    number: str | None,
    policy: Policy,
) -> WorkOrderDetail:
    if work_order_id is None and not number:
        require(session, actor, Permission.VIEW_WORK_ORDERS)
        raise InvalidInput("give a work order id or number", field="work_order")
    parameters: dict[str, object] = {"actor_id": actor.user_id}
    if work_order_id is not None:
        wanted = str(work_order_id)
        statement, parameters["work_order_id"] = _BY_ID, work_order_id
    else:
        assert number is not None
        wanted = number.strip().upper()
        statement, parameters["number"] = _BY_NUMBER, wanted
    found = session.execute(statement, parameters).first()
    require_seen(session, actor, Permission.VIEW_WORK_ORDERS, found.actor_role if found else None)
    if found is None:
        raise NotFound(f"no work order {wanted}")
    order: WorkOrder = found[0]
    if not may_see(actor, order):
        raise PermissionDenied(f"{order.number} belongs to another department")
    return _detail(session, actor, order, found, policy)


def _detail(
    session: Session, actor: Actor, order: WorkOrder, found: Row[Any], policy: Policy
) -> WorkOrderDetail:
    assert order.id is not None
    now = now_of(session)
    connection = session.connection()
    of_order = {"work_order_id": order.id}
    events = connection.execute(_HISTORY, of_order).all()
    callbacks = connection.execute(_CALLBACKS, of_order).all() if found.has_callbacks else []
    department_kind = (
        DepartmentKind(found.department_kind) if found.department_kind is not None else None
    )
    customer_no = name = phone = None
    if found.customer_found is not None:
        customer_no, name = found.customer_no, mask_name(found.customer_name)
        phone = mask_phone(found.customer_phone) if found.customer_phone else None

    items = (
        session.exec(
            select(BillItem, Bill.period)
            .join(WorkOrderBillItem, col(WorkOrderBillItem.bill_item_id) == col(BillItem.id))
            .join(Bill, col(Bill.id) == col(BillItem.bill_id))
            .where(WorkOrderBillItem.work_order_id == order.id)
            .order_by(col(BillItem.occurred_at), col(BillItem.id))
        ).all()
        if found.has_items
        else []
    )
    message = (
        session.exec(
            select(InboxMessage).where(InboxMessage.work_order_id == order.id).limit(1)
        ).first()
        if found.has_message
        else None
    )
    children = (
        session.exec(
            select(WorkOrder).where(WorkOrder.parent_id == order.id).order_by(col(WorkOrder.id))
        ).all()
        if found.has_children
        else []
    )

    return WorkOrderDetail(
        order=view_of(order),
        description=order.description,
        topic=order.topic,
        channel=Channel(order.channel),
        source=WorkOrderSource(order.source),
        major_source=MajorSource(order.major_source) if order.major_source else None,
        contact_id=order.contact_id,
        customer_no=customer_no,
        customer_name_masked=name,
        customer_phone_masked=phone,
        department_name=found.department_name,
        branch_name=found.branch_name,
        created_by_name=_name(found.creator_name, found.creator_login)
        if order.created_by
        else None,
        updated_by_name=_name(found.updater_name, found.updater_login)
        if order.updated_by
        else None,
        waiting_since=order.waiting_since,
        cycle=order.cycle,
        redispatch_count=order.redispatch_count,
        callback_attempts=order.callback_attempts,
        satisfaction=order.satisfaction,
        clocks=_clock_views(
            order,
            timeline_from((event.at, event.kind) for event in events),
            department_kind,
            now,
            policy,
        ),
        events=tuple(
            EventView(
                id=event.id or 0,
                at=event.at,
                kind=EventKind(event.kind),
                actor_name=_name(event.actor_name, event.actor_login) if event.actor_id else None,
                from_status=WorkOrderStatus(event.from_status) if event.from_status else None,
                to_status=WorkOrderStatus(event.to_status) if event.to_status else None,
                department_name=event.department_name,
                clock=ClockKind(event.clock) if event.clock else None,
                ladder_key=event.ladder_key,
                reason=event.reason,
                data=dict(event.data or {}),
            )
            for event in events
        ),
        disputed_items=tuple(
            DisputedItem(
                id=item.id or 0,
                period=period,
                occurred_at=item.occurred_at,
                kind=item.kind,
                counterpart=item.counterpart,
                quantity=item.quantity,
                amount_cents=item.amount_cents,
                description=item.description,
            )
            for item, period in items
        ),
        message=MessageView(
            id=message.id or 0,
            channel=message.channel,
            sender=message.sender,
            received_at=message.received_at,
            text=message.text,
        )
        if message is not None
        else None,
        parent=LinkedOrder(
            found.parent_found,
            found.parent_number,
            found.parent_title,
            WorkOrderStatus(found.parent_status),
        )
        if found.parent_found is not None
        else None,
        children=tuple(_linked(child) for child in children),
        callbacks=tuple(
            CallbackView(
                id=row.id or 0,
                purpose=row.purpose,
                kind=row.kind,
                due_at=row.due_at,
                owner_name=_name(row.owner_name, row.owner_login) if row.owner_id else None,
                status=row.status,
                attempts=row.attempts,
                last_attempt_at=row.last_attempt_at,
                result=row.result,
                satisfaction=row.satisfaction,
            )
            for row in callbacks
        ),
        allowed=allowed_actions(
            actor, order_state(order, department_kind.value if department_kind else None), policy
        ),
        read_at=now,
        center_owned=department_kind is DepartmentKind.CENTER,
    )


def work_order_detail(
    db: Database,
    *,
    actor: Actor,
    work_order_id: int | None = None,
    number: str | None = None,
    policy: Policy | None = None,
) -> WorkOrderDetail:
    """One work order by id or number, with its whole history, its clocks measured now,
    what is attached, and the actions ``actor`` may take on it now.

    ``policy`` is the policy in force (the console's); without it, the shipped one measures
    the clocks. Handlers may read only their own department's orders. Two statements for an
    order without callbacks, disputed items, a message or children; one more for each of
    those it has.
    """
    in_force = policy or load_policy()
    return db.run(
        lambda session: _read_detail(session, actor, work_order_id, number, in_force),
        write=False,
    )


# --- creating --------------------------------------------------------------------------------


def clean_text(value: str, *, name: str, limit: int, required: bool = True) -> str:
    cleaned = value.strip()
    if required and not cleaned:
        raise InvalidInput("must not be empty", field=name)
    if len(cleaned) > limit:
        raise InvalidInput(f"at most {limit} characters (got {len(cleaned)})", field=name)
    return cleaned


def _next_number(session: Session, now: datetime) -> str:
    """``WO`` + the local date + a six-digit sequence within the day.

    Writers are serialised for this (``BEGIN IMMEDIATE`` on SQLite; a transaction lock on
    PostgreSQL), so two terminals never draw the same number.
    """
    if session.info.get("dialect") == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('desk.work_order_number'))"))
    day = now.astimezone(SHANGHAI).strftime("%Y%m%d")
    prefix = f"WO{day}"
    last = session.exec(
        select(WorkOrder.number)
        .where(col(WorkOrder.number) >= prefix, col(WorkOrder.number) < prefix + "~")
        .order_by(col(WorkOrder.number).desc())
        .limit(1)
    ).first()
    sequence = int(last[len(prefix) :]) + 1 if last and last[len(prefix) :].isdigit() else 1
    return f"{prefix}{sequence:06d}"


def _check_draft(session: Session, draft: WorkOrderDraft) -> tuple[Department | None, int | None]:
    """Refuse a draft that names what does not exist; the department and branch it gets."""
    if draft.source is WorkOrderSource.AGENT and not draft.consent:
        raise InvalidInput(
            "the caller has not agreed to a work order being opened", field="consent"
        )
    customer: Customer | None = None
    if draft.customer_id is not None:
        customer = session.get(Customer, draft.customer_id)
        if customer is None:
            raise InvalidInput(f"no customer with id {draft.customer_id}", field="customer_id")
    if draft.contact_id is not None and session.get(Contact, draft.contact_id) is None:
        raise InvalidInput(f"no contact with id {draft.contact_id}", field="contact_id")
    department: Department | None = None
    if draft.department_id is not None:
        department = session.get(Department, draft.department_id)
        if department is None or not department.active:
            raise InvalidInput(
                f"no active department with id {draft.department_id}", field="department_id"
            )
    if draft.disputed_bill_item_ids:
        if customer is None:
            raise InvalidInput(
                "disputed bill items need the customer they belong to",
                field="disputed_bill_item_ids",
            )
        wanted = sorted(set(draft.disputed_bill_item_ids))
        found = set(
            session.exec(
                select(BillItem.id)
                .join(Bill, col(Bill.id) == col(BillItem.bill_id))
                .where(col(BillItem.id).in_(wanted), Bill.customer_id == customer.id)
            ).all()
        )
        missing = [item for item in wanted if item not in found]
        if missing:
            raise InvalidInput(
                "not bill items of this customer: " + ", ".join(str(i) for i in missing),
                field="disputed_bill_item_ids",
            )
    if draft.callback_number is not None and len(draft.callback_number.strip()) > 20:
        raise InvalidInput("at most 20 characters", field="callback_number")
    branch_id = department.branch_id if department is not None else None
    if branch_id is None and customer is not None:
        branch_id = customer.branch_id
    return department, branch_id


def create_in_session(
    session: Session, *, actor: Actor, draft: WorkOrderDraft, policy: Policy
) -> WorkOrderView:
    """:func:`create_work_order` inside the caller's transaction (turning a message into a
    work order does both in one)."""
    require(session, actor, Permission.CREATE_WORK_ORDER)
    title = clean_text(draft.title, name="title", limit=TITLE_MAX)
    description = clean_text(draft.description, name="description", limit=DESCRIPTION_MAX)
    department, branch_id = _check_draft(session, draft)
    now = now_of(session)
    author = actor.user_id if actor.user_id > 0 else None
    order = WorkOrder(
        number=_next_number(session, now),
        customer_id=draft.customer_id,
        contact_id=draft.contact_id,
        category=draft.category.value,
        topic=(draft.topic or "").strip()[:64] or None,
        title=title,
        description=description,
        priority=draft.priority.value,
        channel=draft.channel.value,
        source=draft.source.value,
        department_id=department.id if department is not None else None,
        branch_id=branch_id,
        status=WorkOrderStatus.NEW.value,
        created_by=author,
        created_at=now,
        updated_at=now,
        updated_by=author,
    )
    session.add(order)
    session.flush()
    assert order.id is not None
    data: dict[str, Any] = {"source": draft.source.value, "channel": draft.channel.value}
    if draft.source is WorkOrderSource.AGENT:
        data["consent"] = True
    if draft.callback_number:
        data["callback_number"] = draft.callback_number.strip()
    session.add(
        WorkOrderEvent(
            work_order_id=order.id,
            at=now,
            actor_id=author,
            kind=EventKind.CREATED.value,
            to_status=WorkOrderStatus.NEW.value,
            department_id=order.department_id,
            data=data,
        )
    )
    if draft.major_source is not None:
        # The agent knows it is major: flagged now, with the ladder's key, so the sweep
        # never flags it a second time.
        order.is_major = True
        order.major_source = draft.major_source.value
        session.add(
            WorkOrderEvent(
                work_order_id=order.id,
                at=now,
                actor_id=author,
                kind=EventKind.MAJOR_FLAGGED.value,
                ladder_key=MAJOR_KEY,
                department_id=order.department_id,
                data={"major_source": draft.major_source.value, "notify": Role.SUPERVISOR.value},
            )
        )
    for item in sorted(set(draft.disputed_bill_item_ids)):
        session.add(WorkOrderBillItem(work_order_id=order.id, bill_item_id=item))
    session.flush()
    refresh_ladder(session, [order.id], policy=policy)
    changes.bump(session, changes.Topic.WORK_ORDERS)
    session.refresh(order)
    return view_of(order)


def create_work_order(
    db: Database, *, actor: Actor, draft: WorkOrderDraft, policy: Policy
) -> WorkOrderView:
    """Open a work order from ``draft``, in one transaction: the row with its number, the
    ``created`` event, the disputed bill items, its clocks and its escalation plan.

    Refused without the caller's consent when it comes from an agent's call, and when the
    draft names a customer, contact, department or bill item that does not exist (the error
    names the field).
    """
    return db.run(
        lambda session: create_in_session(session, actor=actor, draft=draft, policy=policy),
        write=True,
    )
