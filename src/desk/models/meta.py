"""Facts about the database itself, and locks that keep two terminals from doubling work."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class Meta(SQLModel, table=True):
    """Key/value facts: ``demo`` (a demo database), ``created_at``, ``seed``."""

    __tablename__ = "desk_meta"

    key: str = Field(primary_key=True, max_length=32)
    value: str = Field(max_length=400)


class JobLease(SQLModel, table=True):
    """A lease on a periodic job (the sweep): one holder at a time, expiring if it dies."""

    __tablename__ = "job_lease"

    name: str = Field(primary_key=True, max_length=32)
    holder: str = Field(max_length=64)
    acquired_at: datetime
    expires_at: datetime


class ChangeCounter(SQLModel, table=True):
    """A counter per kind of record, raised in the same transaction as every change to it.

    Screens that show live lists read one row (``work_orders``, ``inbox``) every second and
    reload their page only when the value moved: a change on one terminal shows on the
    others without any of them reloading on a timer.
    """

    __tablename__ = "change_counter"

    name: str = Field(primary_key=True, max_length=32)
    value: int = 0
