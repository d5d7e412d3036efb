"""The organisation: branches, departments, staff and shifts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel


class Branch(SQLModel, table=True):
    """A branch office (分公司) serving a region."""

    __tablename__ = "branch"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=16, unique=True)
    name: str = Field(max_length=64)
    region: str = Field(max_length=64, index=True)
    active: bool = True


class Department(SQLModel, table=True):
    """A department work orders are dispatched to; its calendar decides its business time."""

    __tablename__ = "department"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=16, unique=True)
    name: str = Field(max_length=64)
    kind: str = Field(max_length=16)  # DepartmentKind
    branch_id: int | None = Field(default=None, foreign_key="branch.id")
    calendar: str = Field(default="office", max_length=32)  # a calendar named in the policy
    active: bool = True


class StaffUser(SQLModel, table=True):
    """A person who logs in to desk."""

    __tablename__ = "staff_user"

    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(max_length=32, unique=True)
    display_name: str = Field(max_length=64)
    role: str = Field(max_length=16, index=True)  # Role
    department_id: int | None = Field(default=None, foreign_key="department.id")
    password_hash: str = Field(max_length=255)
    active: bool = True
    is_system: bool = False  # desk's own actor (the sweep, the command line): never signs in
    failed_logins: int = 0  # failed logins in a row, within the policy's window
    last_failed_login_at: datetime | None = None
    locked_until: datetime | None = None
    last_login_at: datetime | None = None
    created_at: datetime


class Shift(SQLModel, table=True):
    """One staffed shift of the center (早班, 中班, 夜班) on a given day."""

    __tablename__ = "shift"
    __table_args__ = (Index("ix_shift_span", "starts_at", "ends_at"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=32)
    starts_at: datetime
    ends_at: datetime
    lead_id: int | None = Field(default=None, foreign_key="staff_user.id")


class ShiftNote(SQLModel, table=True):
    """Something noted during a shift for the handover: equipment, systems, anything else."""

    __tablename__ = "shift_note"

    id: int | None = Field(default=None, primary_key=True)
    shift_id: int = Field(foreign_key="shift.id", index=True)
    author_id: int = Field(foreign_key="staff_user.id")
    at: datetime
    kind: str = Field(max_length=16)  # equipment | system | other
    text: str = Field(max_length=2000)
