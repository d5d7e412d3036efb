"""Staff users: creation, listing, disabling, password resets, and login."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlmodel import Session, col, select

from desk.infra.database import now_of, reads, writes
from desk.infra.errors import InvalidInput, NotFound
from desk.models import Department, StaffUser
from desk.rules.permissions import Actor, Permission
from desk.rules.vocab import Role
from desk.services import audit
from desk.services.access import require
from desk.services.secrets import dummy_hash, hash_secret, verify_secret

MIN_PASSWORD_LENGTH = 6


@dataclass(frozen=True, slots=True)
class UserView:
    id: int
    login: str
    display_name: str
    role: Role
    department: str | None
    active: bool
    locked_until: datetime | None
    last_login_at: datetime | None

    def actor(self) -> Actor:
        return Actor(self.id, self.login, self.role, self.display_name)


class NewUser(BaseModel):
    """What it takes to add a user; validated before anything is written."""

    model_config = ConfigDict(str_strip_whitespace=True, frozen=True)

    login: str = Field(min_length=2, max_length=32, pattern=r"^[a-z][a-z0-9_.-]*$")
    display_name: str = Field(min_length=1, max_length=64)
    role: Role
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=128)
    department: str | None = Field(default=None, max_length=16)

    @field_validator("login", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


def validation_message(error: ValidationError) -> InvalidInput:
    """The first problem of a pydantic error, naming its field."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    return InvalidInput(first["msg"], field=field)


def _view(session: Session, user: StaffUser) -> UserView:
    department = session.get(Department, user.department_id) if user.department_id else None
    assert user.id is not None
    return UserView(
        id=user.id,
        login=user.login,
        display_name=user.display_name,
        role=Role(user.role),
        department=department.code if department else None,
        active=user.active,
        locked_until=user.locked_until,
        last_login_at=user.last_login_at,
    )


def _department_id(session: Session, code: str | None) -> int | None:
    if code is None:
        return None
    found = session.exec(select(Department.id).where(Department.code == code)).first()
    if found is None:
        raise InvalidInput(f"no department with code {code!r}", field="department")
    return found


def add_user_in(session: Session, *, actor: Actor | None, new: NewUser) -> UserView:
    """Add a user inside an open transaction (``actor`` None only while bootstrapping)."""
    if actor is not None:
        require(session, actor, Permission.MANAGE_USERS)
    if session.exec(select(StaffUser.id).where(StaffUser.login == new.login)).first():
        raise InvalidInput(f"{new.login!r} is taken", field="login")
    user = StaffUser(
        login=new.login,
        display_name=new.display_name,
        role=new.role.value,
        department_id=_department_id(session, new.department),
        password_hash=hash_secret(new.password),
        created_at=now_of(session),
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        action="user.add",
        actor=actor,
        actor_login=None if actor else "bootstrap",
        target_type="staff_user",
        target_id=user.id,
        detail={"login": new.login, "role": new.role.value},
    )
    return _view(session, user)


@writes
def add_user(session: Session, *, actor: Actor | None, new: NewUser) -> UserView:
    return add_user_in(session, actor=actor, new=new)


@reads
def list_users(session: Session, *, actor: Actor) -> list[UserView]:
    require(session, actor, Permission.MANAGE_USERS)
    users = session.exec(select(StaffUser).order_by(col(StaffUser.login))).all()
    return [_view(session, user) for user in users]


def _by_login(session: Session, login: str) -> StaffUser:
    user = session.exec(select(StaffUser).where(StaffUser.login == login.lower())).first()
    if user is None:
        raise NotFound(f"no user {login!r}")
    return user


@writes
def disable_user(session: Session, *, actor: Actor, login: str) -> UserView:
    require(session, actor, Permission.MANAGE_USERS)
    user = _by_login(session, login)
    user.active = False
    session.add(user)
    audit.record(
        session,
        action="user.disable",
        actor=actor,
        target_type="staff_user",
        target_id=user.id,
        detail={"login": user.login},
    )
    return _view(session, user)


@writes
def reset_password(session: Session, *, actor: Actor, login: str, password: str) -> UserView:
    """Set a new password and clear any login lock."""
    require(session, actor, Permission.MANAGE_USERS)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"at least {MIN_PASSWORD_LENGTH} characters", field="password")
    user = _by_login(session, login)
    user.password_hash = hash_secret(password)
    user.failed_logins = 0
    user.locked_until = None
    session.add(user)
    audit.record(
        session,
        action="user.reset_password",
        actor=actor,
        target_type="staff_user",
        target_id=user.id,
        detail={"login": user.login},
    )
    return _view(session, user)


@reads
def actor_for_login(session: Session, *, login: str) -> Actor:
    """The actor of an active user (for admin commands run as a named user)."""
    user = _by_login(session, login)
    if not user.active:
        raise NotFound(f"user {login!r} is disabled")
    return _view(session, user).actor()


class LoginFailure(StrEnum):
    INVALID = "invalid"  # unknown login, wrong password or disabled: one generic message
    LOCKED = "locked"


@dataclass(frozen=True, slots=True)
class LoginOutcome:
    actor: Actor | None
    failure: LoginFailure | None = None
    locked_until: datetime | None = None


@writes
def authenticate(
    session: Session,
    *,
    login: str,
    password: str,
    max_failures: int = 5,
    failure_window_minutes: int = 30,
    lock_minutes: int = 30,
) -> LoginOutcome:
    """Check a login; ``max_failures`` failures in a row, each within
    ``failure_window_minutes`` of the one before, lock the account for ``lock_minutes``.

    Unknown users, wrong passwords and disabled accounts fail alike. Every success, failure
    and lock is audited; the failure count is written in the same transaction as the check.
    """
    now = now_of(session)
    user = session.exec(
        select(StaffUser).where(StaffUser.login == login.strip().lower()).with_for_update()
    ).first()
    if user is None:
        verify_secret(dummy_hash(), password)
        audit.record(
            session,
            action="login.failed",
            actor_login=login[:32],
            detail={"reason": "unknown_login"},
        )
        return LoginOutcome(None, LoginFailure.INVALID)
    if user.locked_until is not None and user.locked_until > now:
        audit.record(
            session,
            action="login.refused_locked",
            actor_login=user.login,
            target_type="staff_user",
            target_id=user.id,
        )
        return LoginOutcome(None, LoginFailure.LOCKED, user.locked_until)
    if not verify_secret(user.password_hash, password) or not user.active:
        window = timedelta(minutes=failure_window_minutes)
        if user.last_failed_login_at is None or now - user.last_failed_login_at > window:
            user.failed_logins = 0  # an old failure no longer counts towards the lock
        user.failed_logins += 1
        user.last_failed_login_at = now
        detail: dict[str, object] = {"failures": user.failed_logins}
        if not user.active:
            detail["reason"] = "disabled"
        audit.record(
            session,
            action="login.failed",
            actor_login=user.login,
            target_type="staff_user",
            target_id=user.id,
            detail=detail,
        )
        if user.failed_logins >= max_failures:
            user.locked_until = now + timedelta(minutes=lock_minutes)
            user.failed_logins = 0
            session.add(user)
            audit.record(
                session,
                action="login.locked",
                actor_login=user.login,
                target_type="staff_user",
                target_id=user.id,
                detail={"until": user.locked_until.isoformat()},
            )
            return LoginOutcome(None, LoginFailure.LOCKED, user.locked_until)
        session.add(user)
        return LoginOutcome(None, LoginFailure.INVALID)
    user.failed_logins = 0
    user.last_failed_login_at = None
    user.locked_until = None
    user.last_login_at = now
    session.add(user)
    view = _view(session, user)
    audit.record(
        session, action="login.ok", actor=view.actor(), target_type="staff_user", target_id=user.id
    )
    return LoginOutcome(
        Actor(view.id, view.login, view.role, view.display_name, user.department_id)
    )
