"""Staff users: creation, listing, disabling, password resets, and login."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select as sa_select
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from desk.infra.database import Database, now_of, reads, writes
from desk.infra.errors import InvalidInput, NotFound
from desk.models import Department, StaffUser
from desk.rules.login import (
    LoginState,
    after_failure,
    after_success,
    counted_failures,
    is_locked,
    reserve_attempt,
)
from desk.rules.permissions import SYSTEM_USERS, Actor, Permission
from desk.rules.policy import LoginPolicy, Policy
from desk.rules.text import control_characters, plain_text_problem
from desk.rules.vocab import Role
from desk.services import audit
from desk.services.access import require
from desk.services.secrets import dummy_hash, hash_secret, verify_secret

NO_PASSWORD = "!"  # not an argon2 hash: nothing verifies against it (desk's own actors)

MIN_PASSWORD_LENGTH = 6
MAX_PASSWORD_LENGTH = 128
"""One limit everywhere a staff password is set or checked (add, reset, init, login): a
longer one is refused before it is hashed, never cut; spaces are kept as typed."""


def password_problem(password: str) -> str | None:
    """Why ``password`` cannot be a staff password, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"at most {MAX_PASSWORD_LENGTH} characters"
    if control_characters(password):
        return "contains control characters"
    return None


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
    is_system: bool = False

    def actor(self) -> Actor:
        return Actor(self.id, self.login, self.role, self.display_name)


class NewUser(BaseModel):
    """What it takes to add a user; validated before anything is written. The login and the
    name are trimmed; the password is taken exactly as typed."""

    model_config = ConfigDict(frozen=True)

    login: str = Field(min_length=2, max_length=32, pattern=r"^[a-z][a-z0-9_.-]*$")
    display_name: str = Field(min_length=1, max_length=64)
    role: Role
    password: str
    department: str | None = Field(default=None, max_length=16)

    @field_validator("login", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("display_name", mode="before")
    @classmethod
    def _plain_name(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip()
            problem = plain_text_problem(value)
            if problem:
                raise ValueError(problem)
        return value

    @field_validator("department", mode="before")
    @classmethod
    def _code(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip().upper() or None
        return value

    @field_validator("password")
    @classmethod
    def _password(cls, value: str) -> str:
        problem = password_problem(value)
        if problem:
            raise ValueError(problem)
        return value


def validation_message(error: ValidationError) -> InvalidInput:
    """The first problem of a pydantic error, naming its field."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    return InvalidInput(str(first["msg"]).removeprefix("Value error, "), field=field)


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
        is_system=user.is_system,
    )


def _department_id(session: Session, code: str | None) -> int | None:
    if code is None:
        return None
    found = session.exec(
        select(Department.id, Department.active).where(Department.code == code.strip().upper())
    ).first()
    if found is None:
        raise InvalidInput(f"no department with code {code!r}", field="department")
    department_id, active = found
    if not active:
        raise InvalidInput(f"department {code!r} is disabled", field="department")
    return department_id


def ensure_system_users(connection: Connection) -> None:
    """Insert desk's own actors (:data:`desk.rules.permissions.SYSTEM_USERS`) where missing,
    as the migration that introduced them does (for a database emptied by hand or a test)."""
    table = StaffUser.__table__  # type: ignore[attr-defined]
    present = set(
        connection.execute(sa_select(table.c.id).where(table.c.is_system.is_(True))).scalars()
    )
    rows = [
        {
            "id": user_id,
            "login": login,
            "display_name": name,
            "role": Role.ADMIN.value,
            "password_hash": NO_PASSWORD,
            "active": True,
            "is_system": True,
            "failed_logins": 0,
            "created_at": datetime.now(UTC),
        }
        for user_id, login, name in SYSTEM_USERS
        if user_id not in present
    ]
    if rows:
        connection.execute(table.insert(), rows)


def add_user_in(
    session: Session, *, actor: Actor, new: NewUser, password_hash: str | None = None
) -> UserView:
    """Add a user inside an open transaction (``password_hash``: computed beforehand, so the
    transaction does not hold its lock while argon2 runs)."""
    require(session, actor, Permission.MANAGE_USERS)
    if session.exec(select(StaffUser.id).where(StaffUser.login == new.login)).first() is not None:
        raise InvalidInput(f"{new.login!r} is taken", field="login")
    user = StaffUser(
        login=new.login,
        display_name=new.display_name,
        role=new.role.value,
        department_id=_department_id(session, new.department),
        password_hash=password_hash or hash_secret(new.password),
        created_at=now_of(session),
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        action="user.add",
        actor=actor,
        target_type="staff_user",
        target_id=user.id,
        detail={"login": new.login, "role": new.role.value, "department": new.department},
    )
    return _view(session, user)


def add_user(db: Database, *, actor: Actor, new: NewUser) -> UserView:
    """Add a user. The password is hashed (argon2id, about half a second) before the
    transaction, so no write lock is held while it is computed."""
    db.run(lambda session: require(session, actor, Permission.MANAGE_USERS), write=False)
    password_hash = hash_secret(new.password)
    return db.run(
        lambda session: add_user_in(session, actor=actor, new=new, password_hash=password_hash),
        write=True,
    )


@reads
def list_users(session: Session, *, actor: Actor, include_system: bool = False) -> list[UserView]:
    """Every person who may sign in (and desk's own actors with ``include_system``)."""
    require(session, actor, Permission.MANAGE_USERS)
    query = select(StaffUser).order_by(col(StaffUser.login))
    if not include_system:
        query = query.where(col(StaffUser.is_system).is_(False))
    return [_view(session, user) for user in session.exec(query).all()]


def _by_login(session: Session, login: str, *, for_update: bool = False) -> StaffUser:
    query = select(StaffUser).where(StaffUser.login == login.strip().lower())
    if for_update:
        query = query.with_for_update()
    user = session.exec(query).first()
    if user is None:
        raise NotFound(f"no user {login!r}")
    return user


def _person(session: Session, login: str) -> StaffUser:
    """A person's row to change; desk's own actors are not managed by hand."""
    user = _by_login(session, login, for_update=True)
    if user.is_system:
        raise InvalidInput(
            f"{user.login!r} is desk's own actor (scheduled jobs, command line) and is not "
            "managed by hand",
            field="login",
        )
    return user


def _other_active_admins(session: Session, user: StaffUser) -> int:
    return len(
        session.exec(
            select(StaffUser.id).where(
                StaffUser.role == Role.ADMIN.value,
                col(StaffUser.active).is_(True),
                col(StaffUser.is_system).is_(False),
                StaffUser.id != user.id,
            )
        ).all()
    )


def _keep_an_admin(session: Session, user: StaffUser, doing: str) -> None:
    """Refuse to leave the center without an active admin who can sign in."""
    if session.info.get("dialect") == "postgresql":  # two admins disabling each other at once
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('desk.last_admin'))"))
    if user.role == Role.ADMIN.value and user.active and not _other_active_admins(session, user):
        raise InvalidInput(
            f"{user.login!r} is the last active admin: add or enable another admin before "
            f"you {doing}",
            field="login",
        )


def _changed(
    session: Session, actor: Actor, user: StaffUser, action: str, **detail: Any
) -> UserView:
    session.add(user)
    session.flush()
    audit.record(
        session,
        action=action,
        actor=actor,
        target_type="staff_user",
        target_id=user.id,
        detail={"login": user.login, **detail},
    )
    return _view(session, user)


@writes
def disable_user(session: Session, *, actor: Actor, login: str) -> UserView:
    """Disable a user: the login stops working and a running console is refused at its
    next action; history stays. The last active admin cannot be disabled."""
    require(session, actor, Permission.MANAGE_USERS)
    user = _person(session, login)
    if not user.active:
        return _view(session, user)
    _keep_an_admin(session, user, "disable this one")
    user.active = False
    return _changed(session, actor, user, "user.disable")


@writes
def enable_user(session: Session, *, actor: Actor, login: str) -> UserView:
    """Enable a disabled user again (a login lock is lifted too)."""
    require(session, actor, Permission.MANAGE_USERS)
    user = _person(session, login)
    if user.active and user.locked_until is None:
        return _view(session, user)
    user.active = True
    user.failed_logins = 0
    user.locked_until = None
    return _changed(session, actor, user, "user.enable")


@writes
def set_role(session: Session, *, actor: Actor, login: str, role: Role) -> UserView:
    """Give a user another role; a running console of theirs acts with it from its next
    action. The last active admin keeps the admin role."""
    require(session, actor, Permission.MANAGE_USERS)
    role = Role(role)
    user = _person(session, login)
    if user.role == role.value:
        return _view(session, user)
    if role is not Role.ADMIN:
        _keep_an_admin(session, user, "change its role")
    before = user.role
    user.role = role.value
    return _changed(session, actor, user, "user.set_role", before=before, after=role.value)


@writes
def set_department(
    session: Session, *, actor: Actor, login: str, department: str | None
) -> UserView:
    """Tie a user to a department (a handler sees that department's work orders), or untie
    them with None."""
    require(session, actor, Permission.MANAGE_USERS)
    user = _person(session, login)
    department_id = _department_id(session, department)
    if user.department_id == department_id:
        return _view(session, user)
    user.department_id = department_id
    code = department.strip().upper() if department else None
    return _changed(session, actor, user, "user.set_department", department=code)


def reset_password(db: Database, *, actor: Actor, login: str, password: str) -> UserView:
    """Set a new password (exactly as given) and lift a login lock. Hashed before the
    transaction, so no write lock is held while it is computed."""
    db.run(lambda session: require(session, actor, Permission.MANAGE_USERS), write=False)
    problem = password_problem(password)
    if problem:
        raise InvalidInput(problem, field="password")
    password_hash = hash_secret(password)

    def work(session: Session) -> UserView:
        require(session, actor, Permission.MANAGE_USERS)
        user = _person(session, login)
        user.password_hash = password_hash
        user.failed_logins = 0
        user.locked_until = None
        return _changed(session, actor, user, "user.reset_password")

    return db.run(work, write=True)


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


def authenticate(db: Database, *, login: str, password: str, policy: Policy) -> LoginOutcome:
    """Check a login; failed logins lock the account as :mod:`desk.rules.login` says, with the
    numbers of ``policy.login``.

    Three steps, so no write lock is held while the password is hashed (argon2id takes about
    half a second, and on SQLite every other terminal would wait for it):

    1. *reserve* (a short writing transaction): a locked account is refused; otherwise the
       attempt is counted as a failure in advance. When the attempts in flight already reach
       the limit, this one is refused without being evaluated: twenty parallel guesses
       evaluate at most ``max_failures`` passwords.
    2. *evaluate* the password, outside any transaction.
    3. *settle* (a short writing transaction): a success clears the count and signs in; a
       failure that reached the limit locks the account.

    Unknown users, wrong passwords and disabled accounts fail alike. Every success, failure
    and lock is audited.
    """
    name = login.strip().lower()
    if len(password) > MAX_PASSWORD_LENGTH:
        password = ""  # never hashed at length; fails like any wrong password
    reserved = db.run(lambda session: _reserve(session, name, policy.login), write=True)
    if isinstance(reserved, LoginOutcome):
        return reserved
    if reserved is None:  # unknown login: the same work as a known one, then the record
        verify_secret(dummy_hash(), password)
        db.run(
            lambda session: audit.record(
                session,
                action="login.failed",
                actor_login=login.strip()[:32],
                detail={"reason": "unknown_login"},
            ),
            write=True,
        )
        return LoginOutcome(None, LoginFailure.INVALID)
    user_id, stored_hash = reserved
    matches = verify_secret(stored_hash, password)
    return db.run(lambda session: _settle(session, user_id, matches, policy.login), write=True)


def _state(user: StaffUser) -> LoginState:
    return LoginState(user.failed_logins, user.last_failed_login_at, user.locked_until)


def _store(user: StaffUser, state: LoginState) -> None:
    user.failed_logins = state.failed_logins
    user.last_failed_login_at = state.last_failed_at
    user.locked_until = state.locked_until


def _reserve(
    session: Session, name: str, policy: LoginPolicy
) -> LoginOutcome | tuple[int, str] | None:
    now = now_of(session)
    user = session.exec(select(StaffUser).where(StaffUser.login == name).with_for_update()).first()
    if user is None or user.is_system:
        return None
    assert user.id is not None
    state = _state(user)
    if is_locked(state, now):
        audit.record(
            session,
            action="login.refused_locked",
            actor_login=user.login,
            target_type="staff_user",
            target_id=user.id,
        )
        return LoginOutcome(None, LoginFailure.LOCKED, user.locked_until)
    reserved = reserve_attempt(state, now, policy)
    if reserved is None:  # the limit is in flight: refuse unevaluated
        audit.record(
            session,
            action="login.refused_in_flight",
            actor_login=user.login,
            target_type="staff_user",
            target_id=user.id,
            detail={"failures": counted_failures(state, now, policy)},
        )
        return LoginOutcome(None, LoginFailure.INVALID)
    _store(user, reserved)
    session.add(user)
    return user.id, user.password_hash


def _settle(session: Session, user_id: int, matches: bool, policy: LoginPolicy) -> LoginOutcome:
    now = now_of(session)
    user = session.exec(select(StaffUser).where(StaffUser.id == user_id).with_for_update()).one()
    if matches and user.active:
        _store(user, after_success())
        user.last_login_at = now
        session.add(user)
        view = _view(session, user)
        audit.record(
            session,
            action="login.ok",
            actor=view.actor(),
            target_type="staff_user",
            target_id=user.id,
        )
        return LoginOutcome(
            Actor(view.id, view.login, view.role, view.display_name, user.department_id)
        )
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
    before = _state(user)
    after = after_failure(before, now, policy)
    if is_locked(after, now) and not is_locked(before, now):
        assert after.locked_until is not None
        _store(user, after)
        session.add(user)
        audit.record(
            session,
            action="login.locked",
            actor_login=user.login,
            target_type="staff_user",
            target_id=user.id,
            detail={"until": after.locked_until.isoformat()},
        )
        return LoginOutcome(None, LoginFailure.LOCKED, after.locked_until)
    return LoginOutcome(None, LoginFailure.INVALID)
