"""Work orders (工单) and their history of events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

_OPEN = text("status <> 'closed'")
_RETURNED = text("redispatch_count > 0")
_OPEN_MAJOR_SQLITE = text("status <> 'closed' AND is_major = 1")
_OPEN_MAJOR_PG = text("status <> 'closed' AND is_major")
_BREACH = text("kind = 'breach'")
_COMPLAINT_DATES = ("created_at", "reply_due", "replied_at", "resolution_due", "closed_at")


def _complaint_columns(date: str) -> tuple[str, ...]:
    """After a complaint date: the id, the other dates and the mark (the figures' columns)."""
    return ("id", *(other for other in _COMPLAINT_DATES if other != date), "satisfaction")


class WorkOrder(SQLModel, table=True):
    """A matter that could not be settled on the call.

    ``version`` guards concurrent saves: an update names the version it read and fails when
    someone else saved first (the sweep bumps it too when it changes a row). Due instants are
    the current deadlines of each clock; while the order waits on the customer
    (``waiting_since``) its clocks are paused.

    ``next_due``/``next_clock`` are the nearest deadline among the clocks still awaited and
    which clock it is (``desk.rules.work_orders.nearest_deadline``), kept by whatever replays
    the history (``desk.services.sweep``); the queue sorts and pages by them. ``parent_id``
    links an order to a mass-fault parent (it is not merged: each keeps its own history).
    """

    __tablename__ = "work_order"
    __table_args__ = (
        Index("ix_work_order_status_department", "status", "department_id"),
        Index("ix_work_order_customer_created", "customer_id", "created_at"),
        Index("ix_work_order_contact", "contact_id"),  # a contact's orders, shown with it
        Index("ix_work_order_reply_due", "reply_due"),
        Index("ix_work_order_created", "created_at"),
        # The queue: open orders by nearest deadline, overall, per status, per department.
        Index(
            "ix_work_order_open_due",
            "next_due",
            "id",
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        ),
        Index("ix_work_order_status_due", "status", "next_due", "id"),
        Index(
            "ix_work_order_open_department_due",
            "department_id",
            "next_due",
            "id",
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        ),
        Index("ix_work_order_parent", "parent_id"),
        # The returned orders (sent back to a department, not replied to again): the queue's
        # view by deadline, its count and the handover's, from the index alone.
        Index(
            "ix_work_order_returned",
            "status",
            "next_due",
            "id",
            "created_at",
            sqlite_where=_RETURNED,
            postgresql_where=_RETURNED,
        ),
        # The handover's open complaints by chase step, and its open major orders.
        Index(
            "ix_work_order_open_chase",
            "category",
            "escalation_level",
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        ),
        Index(
            "ix_work_order_open_major",
            "created_at",
            "id",
            sqlite_where=_OPEN_MAJOR_SQLITE,
            postgresql_where=_OPEN_MAJOR_PG,
        ),
        # The dashboard: escalated and major open orders; complaints by each of their dates.
        Index(
            "ix_work_order_open_escalation",
            "escalation_level",
            "is_major",
            "next_due",
            "id",
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        ),
        # Each carries every column the complaint figures read, so they count from it alone
        Index(
            "ix_work_order_category_created",
            "category",
            "created_at",
            "topic",
            "branch_id",
            "customer_id",
            *_complaint_columns("created_at"),
        ),
        Index(
            "ix_work_order_category_reply_due",
            "category",
            "reply_due",
            *_complaint_columns("reply_due"),
        ),
        Index(
            "ix_work_order_category_replied",
            "category",
            "replied_at",
            *_complaint_columns("replied_at"),
        ),
        Index(
            "ix_work_order_category_resolution_due",
            "category",
            "resolution_due",
            *_complaint_columns("resolution_due"),
        ),
        Index(
            "ix_work_order_category_closed",
            "category",
            "closed_at",
            *_complaint_columns("closed_at"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=20, unique=True)  # WO + yyyymmdd + sequence
    customer_id: int | None = Field(default=None, foreign_key="customer.id")
    contact_id: int | None = Field(default=None, foreign_key="contact.id")
    category: str = Field(max_length=24)  # RequestType
    topic: str | None = Field(default=None, max_length=64)
    title: str = Field(max_length=120)
    description: str = Field(max_length=4000)
    priority: str = Field(default="normal", max_length=16)  # Priority
    channel: str = Field(default="phone", max_length=16)  # Channel
    source: str = Field(default="agent", max_length=16)  # WorkOrderSource
    is_major: bool = False
    major_source: str | None = Field(default=None, max_length=24)  # MajorSource
    department_id: int | None = Field(default=None, foreign_key="department.id")
    branch_id: int | None = Field(default=None, foreign_key="branch.id")
    status: str = Field(default="new", max_length=16)  # WorkOrderStatus
    waiting_reason: str | None = Field(default=None, max_length=24)  # WaitingReason
    waiting_since: datetime | None = None
    cycle: int = 0  # how many times it was reopened
    escalation_level: int = 0  # 0 none, 1 reminder sent, 2 HQ proposed, 3 HQ confirmed
    redispatch_count: int = 0
    callback_attempts: int = 0
    satisfaction: int | None = None
    dispatch_due: datetime | None = None
    reply_due: datetime | None = None
    resolution_due: datetime | None = None
    callback_due: datetime | None = None
    next_due: datetime | None = None
    next_clock: str | None = Field(default=None, max_length=16)  # ClockKind
    parent_id: int | None = Field(default=None, foreign_key="work_order.id")
    # When the sweep must replay this order's history and plan its ladder steps (set after a
    # bulk load or a policy change); None while its plan (ladder_step) is current.
    ladder_next_at: datetime | None = Field(default=None, index=True)
    created_by: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime
    dispatched_at: datetime | None = None
    replied_at: datetime | None = None
    closed_at: datetime | None = None
    updated_at: datetime
    updated_by: int | None = Field(default=None, foreign_key="staff_user.id")
    version: int = 1


class WorkOrderEvent(SQLModel, table=True):
    """One change in a work order's life: who, when, what, why.

    Events raised by the escalation sweep carry a ``ladder_key`` (e.g. ``breach:reply:c0``);
    the unique index on (work_order_id, ladder_key) makes applying the ladder twice impossible.
    """

    __tablename__ = "work_order_event"
    __table_args__ = (
        UniqueConstraint("work_order_id", "ladder_key", name="uq_work_order_event_ladder"),
        Index("ix_work_order_event_order_at", "work_order_id", "at"),
        Index("ix_work_order_event_kind_at", "kind", "at"),
        # The dashboard's complaints on standard: has the order ever been breached (one probe)
        Index(
            "ix_work_order_event_breach",
            "work_order_id",
            sqlite_where=_BREACH,
            postgresql_where=_BREACH,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    work_order_id: int = Field(foreign_key="work_order.id")
    at: datetime
    actor_id: int | None = Field(default=None, foreign_key="staff_user.id")  # None: the sweep
    kind: str = Field(max_length=24)  # EventKind
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str | None = Field(default=None, max_length=16)
    department_id: int | None = Field(default=None, foreign_key="department.id")
    clock: str | None = Field(default=None, max_length=16)  # ClockKind, for ladder events
    ladder_key: str | None = Field(default=None, max_length=48)
    reason: str | None = Field(default=None, max_length=2000)
    data: dict[str, Any] | None = Field(default=None, sa_type=JSON)


class WorkOrderBillItem(SQLModel, table=True):
    """A bill item (详单 record) a billing dispute is about, attached to its work order."""

    __tablename__ = "work_order_bill_item"

    work_order_id: int = Field(foreign_key="work_order.id", primary_key=True)
    bill_item_id: int = Field(foreign_key="bill_item.id", primary_key=True)
