"""The organisation: branch offices and the departments work orders are dispatched to.

Codes are short upper-case keys (``HZ``, ``BILL-HZ``) that never change once made; names can
be renamed; nothing is deleted (work orders, users and history point at them), it is
disabled instead. A department with open work orders cannot be disabled until they are
re-dispatched; a branch cannot be disabled while it has active departments.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlmodel import Session, col, func, select

from desk.infra.database import reads, writes
from desk.infra.errors import InvalidInput, NotFound
from desk.models import Branch, Department, StaffUser, WorkOrder
from desk.rules.permissions import Actor, Permission
from desk.rules.text import plain_text_problem
from desk.rules.vocab import DepartmentKind, WorkOrderStatus
from desk.services import audit
from desk.services.access import require

CODE_PATTERN = r"^[A-Z0-9][A-Z0-9_-]{0,15}$"
OPEN_STATUSES = tuple(s.value for s in WorkOrderStatus if s is not WorkOrderStatus.CLOSED)


def _plain(value: object) -> object:
    if isinstance(value, str):
        value = value.strip()
        problem = plain_text_problem(str(value))
        if problem:
            raise ValueError(problem)
    return value


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


class NewBranch(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str = Field(pattern=CODE_PATTERN)
    name: str = Field(min_length=1, max_length=64)
    region: str = Field(min_length=1, max_length=64)

    _code = field_validator("code", mode="before")(_upper)
    _texts = field_validator("name", "region", mode="before")(_plain)


class NewDepartment(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str = Field(pattern=CODE_PATTERN)
    name: str = Field(min_length=1, max_length=64)
    kind: DepartmentKind
    branch: str | None = None
    calendar: str = Field(default="office", min_length=1, max_length=32)

    _code = field_validator("code", "branch", mode="before")(_upper)
    _texts = field_validator("name", "calendar", mode="before")(_plain)


class NewName(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=64)

    _texts = field_validator("name", mode="before")(_plain)


def _valid(model: type[BaseModel], **values: object) -> BaseModel:
    try:
        return model(**values)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        message = str(first["msg"]).removeprefix("Value error, ")
        if first["type"] == "string_pattern_mismatch":
            message = "1 to 16 letters, digits, _ or -"
        raise InvalidInput(message, field=field) from error


@dataclass(frozen=True, slots=True)
class BranchView:
    id: int
    code: str
    name: str
    region: str
    active: bool
    departments: int


@dataclass(frozen=True, slots=True)
class DepartmentView:
    id: int
    code: str
    name: str
    kind: DepartmentKind
    branch: str | None
    calendar: str
    active: bool
    staff: int
    open_work_orders: int


def _branch(session: Session, code: str) -> Branch:
    branch = session.exec(select(Branch).where(Branch.code == code.strip().upper())).first()
    if branch is None:
        raise NotFound(f"no branch {code!r}")
    return branch


def _department(session: Session, code: str) -> Department:
    found = session.exec(select(Department).where(Department.code == code.strip().upper())).first()
    if found is None:
        raise NotFound(f"no department {code!r}")
    return found


def _branch_view(session: Session, branch: Branch) -> BranchView:
    assert branch.id is not None
    departments = session.exec(
        select(func.count()).where(
            Department.branch_id == branch.id, col(Department.active).is_(True)
        )
    ).one()
    return BranchView(
        branch.id, branch.code, branch.name, branch.region, branch.active, int(departments)
    )


def _open_orders(session: Session, department_id: int) -> int:
    return int(
        session.exec(
            select(func.count()).where(
                WorkOrder.department_id == department_id,
                col(WorkOrder.status).in_(OPEN_STATUSES),
            )
        ).one()
    )


def _department_view(session: Session, department: Department) -> DepartmentView:
    assert department.id is not None
    branch = session.get(Branch, department.branch_id) if department.branch_id else None
    staff = session.exec(
        select(func.count()).where(
            StaffUser.department_id == department.id, col(StaffUser.active).is_(True)
        )
    ).one()
    return DepartmentView(
        id=department.id,
        code=department.code,
        name=department.name,
        kind=DepartmentKind(department.kind),
        branch=branch.code if branch else None,
        calendar=department.calendar,
        active=department.active,
        staff=int(staff),
        open_work_orders=_open_orders(session, department.id),
    )


def _audit(
    session: Session, actor: Actor, action: str, target: str, row_id: object, **detail: object
) -> None:
    audit.record(
        session, action=action, actor=actor, target_type=target, target_id=row_id, detail=detail
    )


# --- branches --------------------------------------------------------------------------------


@writes
def add_branch(session: Session, *, actor: Actor, code: str, name: str, region: str) -> BranchView:
    require(session, actor, Permission.MANAGE_ORG)
    new = _valid(NewBranch, code=code, name=name, region=region)
    assert isinstance(new, NewBranch)
    if session.exec(select(Branch.id).where(Branch.code == new.code)).first() is not None:
        raise InvalidInput(f"{new.code!r} is taken", field="code")
    branch = Branch(code=new.code, name=new.name, region=new.region)
    session.add(branch)
    session.flush()
    _audit(session, actor, "org.branch.add", "branch", branch.id, code=new.code, name=new.name)
    return _branch_view(session, branch)


@reads
def list_branches(session: Session, *, actor: Actor) -> list[BranchView]:
    require(session, actor, Permission.MANAGE_ORG)
    branches = session.exec(select(Branch).order_by(col(Branch.code))).all()
    return [_branch_view(session, branch) for branch in branches]


@writes
def rename_branch(session: Session, *, actor: Actor, code: str, name: str) -> BranchView:
    require(session, actor, Permission.MANAGE_ORG)
    new = _valid(NewName, name=name)
    assert isinstance(new, NewName)
    branch = _branch(session, code)
    before, branch.name = branch.name, new.name
    session.add(branch)
    _audit(session, actor, "org.branch.rename", "branch", branch.id, before=before, after=new.name)
    return _branch_view(session, branch)


@writes
def disable_branch(session: Session, *, actor: Actor, code: str) -> BranchView:
    require(session, actor, Permission.MANAGE_ORG)
    branch = _branch(session, code)
    view = _branch_view(session, branch)
    if view.departments:
        raise InvalidInput(
            f"branch {branch.code} still has {view.departments} active department(s): "
            "disable them first",
            field="code",
        )
    if branch.active:
        branch.active = False
        session.add(branch)
        _audit(session, actor, "org.branch.disable", "branch", branch.id, code=branch.code)
    return _branch_view(session, branch)


# --- departments -----------------------------------------------------------------------------


@writes
def add_department(
    session: Session,
    *,
    actor: Actor,
    code: str,
    name: str,
    kind: DepartmentKind,
    branch: str | None = None,
    calendar: str = "office",
    calendars: frozenset[str] | None = None,
) -> DepartmentView:
    """Add a department; ``calendar`` must be one of ``calendars`` (the policy's) when given."""
    require(session, actor, Permission.MANAGE_ORG)
    new = _valid(NewDepartment, code=code, name=name, kind=kind, branch=branch, calendar=calendar)
    assert isinstance(new, NewDepartment)
    if calendars is not None and new.calendar not in calendars:
        known = ", ".join(sorted(calendars))
        raise InvalidInput(
            f"no calendar {new.calendar!r} in the policy ({known})", field="calendar"
        )
    if session.exec(select(Department.id).where(Department.code == new.code)).first() is not None:
        raise InvalidInput(f"{new.code!r} is taken", field="code")
    branch_id = None
    if new.branch:
        owner = _branch(session, new.branch)
        if not owner.active:
            raise InvalidInput(f"branch {owner.code} is disabled", field="branch")
        branch_id = owner.id
    department = Department(
        code=new.code,
        name=new.name,
        kind=new.kind.value,
        branch_id=branch_id,
        calendar=new.calendar,
    )
    session.add(department)
    session.flush()
    _audit(
        session,
        actor,
        "org.department.add",
        "department",
        department.id,
        code=new.code,
        name=new.name,
        kind=new.kind.value,
        branch=new.branch,
    )
    return _department_view(session, department)


@reads
def list_departments(session: Session, *, actor: Actor) -> list[DepartmentView]:
    require(session, actor, Permission.MANAGE_ORG)
    departments = session.exec(select(Department).order_by(col(Department.code))).all()
    return [_department_view(session, department) for department in departments]


@writes
def rename_department(session: Session, *, actor: Actor, code: str, name: str) -> DepartmentView:
    require(session, actor, Permission.MANAGE_ORG)
    new = _valid(NewName, name=name)
    assert isinstance(new, NewName)
    department = _department(session, code)
    before, department.name = department.name, new.name
    session.add(department)
    _audit(
        session,
        actor,
        "org.department.rename",
        "department",
        department.id,
        before=before,
        after=new.name,
    )
    return _department_view(session, department)


@writes
def disable_department(session: Session, *, actor: Actor, code: str) -> DepartmentView:
    """Disable a department: nothing more is dispatched to it, no user is tied to it anew.
    Refused while it has open work orders."""
    require(session, actor, Permission.MANAGE_ORG)
    department = _department(session, code)
    assert department.id is not None
    open_orders = _open_orders(session, department.id)
    if open_orders:
        raise InvalidInput(
            f"department {department.code} has {open_orders} open work order(s): "
            "re-dispatch them first",
            field="code",
        )
    if department.active:
        department.active = False
        session.add(department)
        _audit(
            session,
            actor,
            "org.department.disable",
            "department",
            department.id,
            code=department.code,
        )
    return _department_view(session, department)
