"""Users and login on both databases: lockout, generic failures, audit rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from desk.clock import FixedClock
from desk.infra.database import Database
from desk.infra.errors import InvalidInput, NotFound, PermissionDenied
from desk.models import AuditEntry, StaffUser
from desk.rules.permissions import Actor, shell_actor
from desk.rules.policy import LoginPolicy, load_policy
from desk.rules.vocab import Role
from desk.services import users

POLICY = load_policy()

ADMIN = shell_actor("test")


def _add(db: Database, login: str, role: Role = Role.AGENT, password: str = "secret1") -> None:
    users.add_user(
        db,
        actor=shell_actor("test"),
        new=users.NewUser(login=login, display_name=login, role=role, password=password),
    )


def _actions(db: Database) -> list[str]:
    return db.run(
        lambda s: list(s.exec(select(AuditEntry.action).order_by(col(AuditEntry.id))).all()),
        write=False,
    )


def test_login_succeeds_and_is_audited(db: Database) -> None:
    _add(db, "agent1")
    outcome = users.authenticate(db, login="Agent1 ", password="secret1", policy=POLICY)
    assert outcome.actor is not None
    assert outcome.actor.login == "agent1"
    assert outcome.actor.role is Role.AGENT
    assert _actions(db)[-1] == "login.ok"


def test_unknown_user_and_wrong_password_fail_alike(db: Database) -> None:
    _add(db, "agent1")
    unknown = users.authenticate(db, login="nobody", password="secret1", policy=POLICY)
    wrong = users.authenticate(db, login="agent1", password="wrong", policy=POLICY)
    assert unknown.failure is wrong.failure is users.LoginFailure.INVALID
    assert unknown.actor is None
    assert wrong.actor is None


def test_five_failures_lock_for_thirty_minutes(db: Database, clock: FixedClock) -> None:
    _add(db, "agent1")
    outcomes = [
        users.authenticate(db, login="agent1", password="bad", policy=POLICY) for _ in range(5)
    ]
    assert [o.failure for o in outcomes] == [users.LoginFailure.INVALID] * 4 + [
        users.LoginFailure.LOCKED
    ]
    assert outcomes[-1].locked_until == clock.now() + timedelta(minutes=30)
    # even the right password is refused while locked
    assert users.authenticate(db, login="agent1", password="secret1", policy=POLICY).failure is (
        users.LoginFailure.LOCKED
    )
    clock.advance(timedelta(minutes=31))
    assert (
        users.authenticate(db, login="agent1", password="secret1", policy=POLICY).actor is not None
    )
    actions = _actions(db)
    assert actions.count("login.failed") == 5
    assert "login.locked" in actions
    assert "login.refused_locked" in actions


def test_disabled_user_cannot_log_in(db: Database) -> None:
    _add(db, "agent1")
    users.disable_user(db, actor=ADMIN, login="agent1")
    assert users.authenticate(db, login="agent1", password="secret1", policy=POLICY).actor is None


def test_reset_password_lifts_the_lock(db: Database) -> None:
    _add(db, "agent1")
    for _ in range(5):
        users.authenticate(db, login="agent1", password="bad", policy=POLICY)
    users.reset_password(db, actor=ADMIN, login="agent1", password="newpass1")
    assert (
        users.authenticate(db, login="agent1", password="newpass1", policy=POLICY).actor is not None
    )


def test_passwords_are_stored_as_argon2id(db: Database) -> None:
    _add(db, "agent1")
    stored = db.run(
        lambda s: s.exec(select(StaffUser.password_hash).where(StaffUser.login == "agent1")).one(),
        write=False,
    )
    assert stored.startswith("$argon2id$")
    assert "secret1" not in stored


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ADMIN])
def test_only_admins_manage_users(db: Database, role: Role) -> None:
    actor = Actor(user_id=ADMIN.user_id, login="x", role=role)  # what the actor claims
    with pytest.raises(PermissionDenied):
        users.list_users(db, actor=actor)
    with pytest.raises(PermissionDenied):
        users.add_user(
            db,
            actor=actor,
            new=users.NewUser(login="nn", display_name="n", role=Role.AGENT, password="secret1"),
        )
    with pytest.raises(PermissionDenied):
        users.disable_user(db, actor=actor, login="nn")
    with pytest.raises(PermissionDenied):
        users.reset_password(db, actor=actor, login="nn", password="secret1")


def test_duplicate_login_and_unknown_department_name_the_field(db: Database) -> None:
    _add(db, "agent1")
    with pytest.raises(InvalidInput, match="login"):
        _add(db, "agent1")
    with pytest.raises(InvalidInput, match="department"):
        users.add_user(
            db,
            actor=ADMIN,
            new=users.NewUser(
                login="h1", display_name="h", role=Role.HANDLER, password="secret1", department="XX"
            ),
        )
    with pytest.raises(NotFound):
        users.disable_user(db, actor=ADMIN, login="ghost")


def test_failures_outside_the_window_do_not_add_up(db: Database, clock: FixedClock) -> None:
    _add(db, "agent1")
    for _ in range(4):
        users.authenticate(db, login="agent1", password="bad", policy=POLICY)
    clock.advance(timedelta(minutes=31))  # the fifth failure comes too late to count
    outcome = users.authenticate(db, login="agent1", password="bad", policy=POLICY)
    assert outcome.failure is users.LoginFailure.INVALID
    assert (
        users.authenticate(db, login="agent1", password="secret1", policy=POLICY).actor is not None
    )


def test_the_lockout_numbers_come_from_the_policy(db: Database, clock: FixedClock) -> None:
    strict = POLICY.model_copy(
        update={"login": LoginPolicy(max_failures=2, failure_window_minutes=5, lock_minutes=90)}
    )
    _add(db, "agent1")
    first = users.authenticate(db, login="agent1", password="bad", policy=strict)
    second = users.authenticate(db, login="agent1", password="bad", policy=strict)
    assert first.failure is users.LoginFailure.INVALID
    assert second.failure is users.LoginFailure.LOCKED
    assert second.locked_until == clock.now() + timedelta(minutes=90)
    clock.advance(timedelta(minutes=89))
    locked = users.authenticate(db, login="agent1", password="secret1", policy=strict)
    assert locked.failure is users.LoginFailure.LOCKED


def test_a_success_clears_the_failures(db: Database) -> None:
    _add(db, "agent1")
    for _ in range(4):
        users.authenticate(db, login="agent1", password="bad", policy=POLICY)
    assert (
        users.authenticate(db, login="agent1", password="secret1", policy=POLICY).actor is not None
    )
    for _ in range(4):
        assert users.authenticate(db, login="agent1", password="bad", policy=POLICY).failure is (
            users.LoginFailure.INVALID
        )


def test_a_disabled_user_is_refused_at_the_next_call(db: Database) -> None:
    """A console signed in before its user was disabled is refused at its next action."""
    from desk.services.search import search_customers

    new = users.NewUser(login="gone", display_name="Gone", role=Role.AGENT, password="pass1234")
    actor = users.add_user(db, actor=ADMIN, new=new).actor()
    search_customers(db, actor=actor, query="张")
    users.disable_user(db, actor=ADMIN, login="gone")
    with pytest.raises(PermissionDenied, match="no longer an active user"):
        search_customers(db, actor=actor, query="张")
