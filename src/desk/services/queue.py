"""The work-order queue (F3): one page of a view, by nearest deadline, and the shift's figures.

**Order and paging.** Every open order carries its nearest deadline (``next_due``, kept by the
ladder's refresh, see :func:`desk.rules.work_orders.nearest_deadline`). A page is a keyset
query on ``(next_due, id)`` over the partial index of open orders (or the per-status and
per-department ones), so the first page of 300,000 open orders costs what it costs for 300.
Orders without a deadline (none should be open for long) come after all the others, by id.
A cursor is the key of a page's last (or first) row; the service hands out the next and
previous cursors.

**What a row says.** Its nearest clock: business time left on that clock's calendar, paused
and why, or overdue since when (``remaining`` None when overdue or paused).

Handlers see only their own department's orders, whatever the view.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    bindparam,
    false,
    func,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.sql import Select
from sqlmodel import Session

from desk.clock import as_utc
from desk.infra.database import Database, now_of
from desk.infra.errors import InvalidInput
from desk.models import metadata
from desk.rules.calendar import business_time_between, calendars_from_policy
from desk.rules.masking import mask_name
from desk.rules.permissions import Actor, Permission, can
from desk.rules.policy import Policy
from desk.rules.vocab import (
    CallbackStatus,
    ClockKind,
    DepartmentKind,
    Priority,
    RequestType,
    Role,
    WaitingReason,
    WorkOrderStatus,
)
from desk.rules.work_orders import QUEUE_VIEWS, QueueView, is_overdue
from desk.services.access import require, require_role, require_seen, role_now
from desk.services.overdue import overdue_clause

PAGE_MAX = 200
DEFAULT_PAGE = 50

_WO = metadata.tables["work_order"]
_DEPARTMENT = metadata.tables["department"]
_BRANCH = metadata.tables["branch"]
_CUSTOMER = metadata.tables["customer"]
_CALLBACK = metadata.tables["callback"]
_INBOX = metadata.tables["inbox_message"]
# A literal, not a bound value: the partial indexes of open orders are used only when the
# query's condition is the index's own.
_OPEN = _WO.c.status != literal_column("'closed'")
_S = WorkOrderStatus


@dataclass(frozen=True, slots=True)
class QueueFilters:
    """Narrow any view; None: no narrowing."""

    category: RequestType | None = None
    branch_id: int | None = None
    department_id: int | None = None
    priority: Priority | None = None

    @property
    def active(self) -> bool:
        return any(
            value is not None
            for value in (self.category, self.branch_id, self.department_id, self.priority)
        )


@dataclass(frozen=True, slots=True)
class QueueRow:
    id: int
    number: str
    title: str
    category: RequestType
    priority: Priority
    status: WorkOrderStatus
    version: int
    department_id: int | None
    department_name: str | None
    branch_name: str | None
    next_due: datetime | None
    next_clock: ClockKind | None
    remaining: timedelta | None  # business time left; None when overdue, paused or no clock
    waiting_reason: WaitingReason | None
    is_major: bool
    escalation_level: int
    redispatch_count: int
    parent_id: int | None
    created_at: datetime
    center_owned: bool = False  # with the center's own department: the shift leads answer it
    customer_name: str | None = None  # masked (张**), as every list shows a customer

    def overdue(self, now: datetime) -> bool:
        return is_overdue(self.next_due, now)


@dataclass(frozen=True, slots=True)
class QueuePage:
    view: QueueView
    filters: QueueFilters
    rows: tuple[QueueRow, ...]
    next_cursor: str | None
    prev_cursor: str | None
    read_at: datetime


# --- cursors ---------------------------------------------------------------------------------


class _Phase(StrEnum):
    DUE = "d"  # rows with a deadline, by (next_due, id)
    NONE = "n"  # rows without, by id


@dataclass(frozen=True)
class _Key:
    phase: _Phase
    due: datetime | None
    id: int

    def encode(self) -> str:
        if self.phase is _Phase.NONE:
            return f"n:{self.id}"
        assert self.due is not None
        return f"d:{self.due.astimezone().isoformat()}:{self.id}"

    @staticmethod
    def decode(text: str) -> _Key:
        try:
            phase, rest = text.split(":", 1)
            if phase == _Phase.NONE.value:
                return _Key(_Phase.NONE, None, int(rest))
            if phase != _Phase.DUE.value:
                raise ValueError(phase)
            instant, identifier = rest.rsplit(":", 1)
            return _Key(_Phase.DUE, as_utc(datetime.fromisoformat(instant)), int(identifier))
        except ValueError:
            raise InvalidInput("not a cursor of this queue", field="cursor") from None


# --- the query -------------------------------------------------------------------------------


def views_for(actor: Actor) -> tuple[QueueView, ...]:
    return QUEUE_VIEWS.get(actor.role, ())


def _view_condition(
    view: QueueView, actor: Actor, now: datetime, policy: Policy
) -> ColumnElement[bool]:
    if view is QueueView.NEW:
        return _WO.c.status.in_([_S.NEW.value, _S.REOPENED.value])
    if view is QueueView.REPLIED:
        return _WO.c.status == _S.REPLIED.value
    if view is QueueView.RETURNED:
        return and_(
            _WO.c.status == _S.DISPATCHED.value, _WO.c.redispatch_count > literal_column("0")
        )
    if view is QueueView.OVERDUE:
        return and_(_OPEN, overdue_clause(_WO.c.next_due, now))
    if view is QueueView.CHASE:
        return and_(
            _OPEN,
            _WO.c.category.in_([category.value for category in policy.chase.categories]),
            _WO.c.escalation_level > 0,
        )
    if view is QueueView.MAJOR:
        return and_(_OPEN, _WO.c.is_major == true())
    if view is QueueView.DEPARTMENT:
        return _OPEN
    if view is QueueView.CALLBACKS:
        mine = or_(_CALLBACK.c.owner_id.is_(None), _CALLBACK.c.owner_id == actor.user_id)
        pending = select(_CALLBACK.c.work_order_id).where(
            _CALLBACK.c.status == CallbackStatus.PENDING.value,
            _CALLBACK.c.work_order_id.is_not(None),
            mine,
        )
        return _WO.c.id.in_(pending)
    return _OPEN


def _conditions(
    view: QueueView, filters: QueueFilters, actor: Actor, now: datetime, policy: Policy
) -> list[ColumnElement[bool]]:
    conditions = [_view_condition(view, actor, now, policy)]
    if actor.role is Role.HANDLER:
        conditions.append(
            _WO.c.department_id == actor.department_id
            if actor.department_id is not None
            else false()
        )
    if filters.category is not None:
        conditions.append(_WO.c.category == filters.category.value)
    if filters.branch_id is not None:
        conditions.append(_WO.c.branch_id == filters.branch_id)
    if filters.department_id is not None:
        conditions.append(_WO.c.department_id == filters.department_id)
    if filters.priority is not None:
        conditions.append(_WO.c.priority == filters.priority.value)
    return conditions


_COLUMNS = (
    _WO.c.id,
    _WO.c.number,
    _WO.c.title,
    _WO.c.category,
    _WO.c.priority,
    _WO.c.status,
    _WO.c.version,
    _WO.c.department_id,
    _WO.c.branch_id,
    _WO.c.customer_id,
    _WO.c.next_due,
    _WO.c.next_clock,
    _WO.c.waiting_reason,
    _WO.c.is_major,
    _WO.c.escalation_level,
    _WO.c.redispatch_count,
    _WO.c.parent_id,
    _WO.c.created_at,
)


def _page_query(
    conditions: list[ColumnElement[bool]], key: _Key | None, *, phase: _Phase, backward: bool
) -> Select[Any]:
    query = select(*_COLUMNS).where(*conditions)
    if phase is _Phase.DUE:
        query = query.where(_WO.c.next_due.is_not(None))
        if key is not None and key.phase is _Phase.DUE:
            assert key.due is not None
            # The plain bound on the deadline is what the index is searched by; the OR alone
            # is only a filter, and both databases walked every open order from the far end
            # of the index to it (a page back at 300,000 open orders: 120 ms, not 1).
            if backward:
                query = query.where(
                    _WO.c.next_due <= key.due,
                    or_(
                        _WO.c.next_due < key.due,
                        and_(_WO.c.next_due == key.due, _WO.c.id < key.id),
                    ),
                )
            else:
                query = query.where(
                    _WO.c.next_due >= key.due,
                    or_(
                        _WO.c.next_due > key.due,
                        and_(_WO.c.next_due == key.due, _WO.c.id > key.id),
                    ),
                )
        order = (
            (_WO.c.next_due.desc(), _WO.c.id.desc())
            if backward
            else (_WO.c.next_due.asc(), _WO.c.id.asc())
        )
        return query.order_by(*order)
    query = query.where(_WO.c.next_due.is_(None))
    if key is not None and key.phase is _Phase.NONE:
        query = query.where(_WO.c.id < key.id if backward else _WO.c.id > key.id)
    return query.order_by(_WO.c.id.desc() if backward else _WO.c.id.asc())


def _key_of(row: Any) -> _Key:
    due = _instant(row.next_due)
    return _Key(_Phase.DUE if due is not None else _Phase.NONE, due, int(row.id))


def _instant(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    return value.replace(tzinfo=UTC) if value.utcoffset() is None else value.astimezone(UTC)


def _named(page: Select[Any], *, phase: _Phase, backward: bool, limit: int) -> Select[Any]:
    """``page`` (at most ``limit`` rows) with what its rows show by name: the department
    (and its kind), the branch, the customer, and the reader's role now (the access check,
    :func:`role_now`). The page is limited first, in a subquery, so its keyset search on the
    index is planned as it is alone; the names are then found by key for its rows only, in
    the same round trip (they were three statements more)."""
    rows = page.limit(limit).subquery("page")
    order: tuple[Any, ...] = (rows.c.next_due, rows.c.id) if phase is _Phase.DUE else (rows.c.id,)
    return (
        select(
            rows,
            _DEPARTMENT.c.name.label("department_name"),
            _DEPARTMENT.c.kind.label("department_kind"),
            _BRANCH.c.name.label("branch_name"),
            _CUSTOMER.c.name.label("customer_name"),
            role_now(bindparam("actor_id", type_=Integer)).label("actor_role"),
        )
        .select_from(
            rows.outerjoin(_DEPARTMENT, _DEPARTMENT.c.id == rows.c.department_id)
            .outerjoin(_BRANCH, _BRANCH.c.id == rows.c.branch_id)
            .outerjoin(_CUSTOMER, _CUSTOMER.c.id == rows.c.customer_id)
        )
        .order_by(*(column.desc() if backward else column.asc() for column in order))
    )


def _fetch(
    session: Session,
    actor: Actor,
    conditions: list[ColumnElement[bool]],
    key: _Key | None,
    *,
    backward: bool,
    limit: int,
) -> list[Any]:
    """Up to ``limit + 1`` rows after (or before) ``key`` in (deadline, none) order, with
    their names and the reader's role (:func:`_named`)."""
    connection = session.connection()
    wanted = limit + 1
    phases = [_Phase.NONE, _Phase.DUE] if backward else [_Phase.DUE, _Phase.NONE]
    if key is not None:
        # Start in the cursor's phase: forward from DUE may go on into NONE, backward from
        # NONE into DUE, never the other way.
        phases = phases[phases.index(key.phase) :]
    rows: list[Any] = []
    for phase in phases:
        query = _page_query(conditions, key, phase=phase, backward=backward)
        named = _named(query, phase=phase, backward=backward, limit=wanted - len(rows))
        rows.extend(connection.execute(named, {"actor_id": actor.user_id}).all())
        if len(rows) >= wanted:
            break
    return rows


def _rows(raw: list[Any], now: datetime, policy: Policy) -> tuple[QueueRow, ...]:
    calendars = calendars_from_policy(policy)
    masked: dict[str, str] = {}
    result = []
    for row in raw:
        due = _instant(row.next_due)
        clock = ClockKind(row.next_clock) if row.next_clock else None
        waiting = WaitingReason(row.waiting_reason) if row.waiting_reason else None
        department_kind = row.department_kind if row.department_id else None
        remaining = None
        if due is not None and clock is not None and waiting is None and due > now:
            kind = DepartmentKind(department_kind) if department_kind is not None else None
            calendar = calendars[policy.calendar_name_for(clock, kind)]
            remaining = business_time_between(now, due, calendar)
        customer_name = None
        if row.customer_id and row.customer_name is not None:
            customer_name = masked.get(row.customer_name)
            if customer_name is None:
                customer_name = masked[row.customer_name] = mask_name(row.customer_name)
        result.append(
            QueueRow(
                id=row.id,
                number=row.number,
                title=row.title,
                category=RequestType(row.category),
                priority=Priority(row.priority),
                status=WorkOrderStatus(row.status),
                version=row.version,
                department_id=row.department_id,
                department_name=row.department_name if department_kind is not None else None,
                branch_name=row.branch_name if row.branch_id else None,
                next_due=due,
                next_clock=clock,
                remaining=remaining,
                waiting_reason=waiting,
                is_major=bool(row.is_major),
                escalation_level=row.escalation_level,
                redispatch_count=row.redispatch_count,
                parent_id=row.parent_id,
                created_at=_instant(row.created_at) or now,
                center_owned=department_kind == DepartmentKind.CENTER.value,
                customer_name=customer_name,
            )
        )
    return tuple(result)


def _check_view(actor: Actor, view: QueueView) -> None:
    if view not in views_for(actor):
        raise InvalidInput(f"not a view of the {actor.role.value}'s queue", field="view")


def work_order_queue(
    db: Database,
    *,
    actor: Actor,
    view: QueueView,
    filters: QueueFilters | None = None,
    after: str | None = None,
    before: str | None = None,
    limit: int = DEFAULT_PAGE,
    policy: Policy,
) -> QueuePage:
    """One page of ``view`` (at most ``limit`` ≤ 200 rows) by nearest deadline: the first
    page, the page ``after`` a cursor, or the page ``before`` one."""

    def read(session: Session) -> QueuePage:
        # The role is read with the page (role_now): what needs no database is judged first,
        # and a refused input is told only to a reader who may read the queue at all.
        require_role(actor, Permission.VIEW_WORK_ORDERS)
        try:
            _check_view(actor, QueueView(view))
            if not 1 <= limit <= PAGE_MAX:
                raise InvalidInput(f"between 1 and {PAGE_MAX}", field="limit")
            if after is not None and before is not None:
                raise InvalidInput("give after or before, not both", field="cursor")
            key = _Key.decode(before or after or "") if (before or after) else None
        except InvalidInput:
            require(session, actor, Permission.VIEW_WORK_ORDERS)
            raise
        chosen = filters or QueueFilters()
        now = now_of(session)
        conditions = _conditions(QueueView(view), chosen, actor, now, policy)
        backward = before is not None
        raw = _fetch(session, actor, conditions, key, backward=backward, limit=limit)
        require_seen(
            session, actor, Permission.VIEW_WORK_ORDERS, raw[0].actor_role if raw else None
        )
        more = len(raw) > limit
        raw = raw[:limit]
        if backward:
            raw.reverse()
        rows = _rows(raw, now, policy)
        next_cursor = prev_cursor = None
        if raw:
            first, last = _key_of(raw[0]).encode(), _key_of(raw[-1]).encode()
            if backward:
                prev_cursor = first if more else None
                next_cursor = last
            else:
                next_cursor = last if more else None
                prev_cursor = first if key is not None else None
        return QueuePage(QueueView(view), chosen, rows, next_cursor, prev_cursor, now)

    return db.run(read, write=False)


# --- the shift's figures ---------------------------------------------------------------------


COUNT_CAP = 999
"""The strip counts a view's orders up to this many and says "more" past it: a count of
150,000 overdue orders walks 150,000 index entries (0.1-1.6 s on PostgreSQL at 300,000 open
orders, each time anything changes) and tells a lead no more than "999+" does."""


@dataclass(frozen=True, slots=True)
class QueueFigures:
    """Counts for the strip beside the queue: each view the reader has (at most
    ``COUNT_CAP + 1``: more than ``COUNT_CAP`` means that many or more), and messages waiting
    for a lead (None when the reader does not handle messages)."""

    counts: Mapping[QueueView, int]
    inbox_waiting: int | None
    inbox_overdue: int | None
    read_at: datetime


def queue_figures(db: Database, *, actor: Actor, policy: Policy) -> QueueFigures:
    """How many orders each of the reader's views holds now (handlers: their department's),
    and how many messages wait (and are past their response time)."""

    def read(session: Session) -> QueueFigures:
        require(session, actor, Permission.VIEW_WORK_ORDERS)
        now = now_of(session)
        connection = session.connection()
        counts: dict[QueueView, int] = {}
        empty = QueueFilters()
        for view in views_for(actor):
            if view is QueueView.ALL:
                continue
            conditions = _conditions(view, empty, actor, now, policy)
            capped = select(_WO.c.id).where(*conditions).limit(COUNT_CAP + 1).subquery()
            query = select(func.count()).select_from(capped)
            counts[view] = int(connection.execute(query).scalar_one())
        waiting = overdue = None
        if can(actor, Permission.DISPATCH_WORK_ORDER):
            new = _INBOX.c.status == literal_column("'new'")
            waiting = int(
                connection.execute(select(func.count()).select_from(_INBOX).where(new)).scalar_one()
            )
            overdue = int(
                connection.execute(
                    select(func.count())
                    .select_from(_INBOX)
                    .where(new, _INBOX.c.response_due <= now)
                ).scalar_one()
            )
        return QueueFigures(counts, waiting, overdue, now)

    return db.run(read, write=False)


# --- what the floor can be narrowed to, or dispatched to --------------------------------------


@dataclass(frozen=True, slots=True)
class Choice:
    id: int
    name: str
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class FloorDirectory:
    """The active departments (to dispatch to, to filter by) and the branches."""

    departments: tuple[Choice, ...]
    branches: tuple[Choice, ...]


def floor_directory(db: Database, *, actor: Actor) -> FloorDirectory:
    def read(session: Session) -> FloorDirectory:
        require(session, actor, Permission.VIEW_WORK_ORDERS)
        connection = session.connection()
        departments = connection.execute(
            select(_DEPARTMENT.c.id, _DEPARTMENT.c.name, _DEPARTMENT.c.kind)
            .where(_DEPARTMENT.c.active == true())
            .order_by(_DEPARTMENT.c.kind, _DEPARTMENT.c.name, _DEPARTMENT.c.id)
        ).all()
        branches = connection.execute(
            select(_BRANCH.c.id, _BRANCH.c.name).order_by(_BRANCH.c.name, _BRANCH.c.id)
        ).all()
        return FloorDirectory(
            tuple(Choice(row[0], row[1], row[2]) for row in departments),
            tuple(Choice(row[0], row[1]) for row in branches),
        )

    return db.run(read, write=False)
