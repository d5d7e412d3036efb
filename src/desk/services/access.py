"""Permission checks at the entry of every service call.

:func:`require` is the first statement of every service entry point that acts for someone:
the role must hold the permission, and the person must still be an active user, so a console
whose user was disabled meanwhile is refused at its next action. A lookup that counts its round
trips (customer search) reads the user's row within its own first statement instead
(:func:`role_now`, :func:`require_seen`): the same check, no statement of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Integer,
    ScalarSelect,
    String,
    column,
    select,
    table,
)

from desk.infra.errors import PermissionDenied
from desk.rules.permissions import Actor, Permission, can
from desk.rules.vocab import Role

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlmodel import Session

# staff_user as Core sees it (desk.models.StaffUser): the check runs in an ORM session or on a
# Core connection alike, and loads no model (`desk ring` starts without them).
_STAFF = table(
    "staff_user", column("id", Integer), column("active", Boolean), column("role", String)
)


def require(session: Session | Connection, actor: Actor, permission: Permission | None) -> None:
    """Raise :class:`PermissionDenied` unless ``actor`` is an active user whose role, as it
    stands now in ``session``'s transaction, holds ``permission`` (None: any signed-in
    person). A console whose user was disabled, or given another role, since sign-in is
    judged by what the user is now."""
    require_role(actor, permission)
    _judge(actor, permission, require_active(session, actor))


def require_role(actor: Actor, permission: Permission | None) -> None:
    """The part of :func:`require` that needs no database: the role ``actor`` signed in with
    holds ``permission``. An entry point that folds the rest into its own statement
    (:func:`role_now`) calls this first."""
    if permission is not None and not can(actor, permission):
        raise PermissionDenied(f"{actor.login} ({actor.role}) may not {permission.value}")


def role_now(user_id: ColumnElement[int]) -> ScalarSelect[Any]:
    """The role of the user ``user_id`` (a bound parameter: the statement is built once) now,
    NULL when the user is disabled or missing: a column for an entry point's own first
    statement, so that the check of :func:`require` costs no round trip of its own. Judge it
    with :func:`require_seen`."""
    return select(_STAFF.c.role).where(_STAFF.c.id == user_id, _STAFF.c.active).scalar_subquery()


def require_seen(
    session: Session | Connection, actor: Actor, permission: Permission | None, role: object
) -> None:
    """:func:`require`, given ``role``: the value of :func:`role_now` that a statement of this
    call read (None: the user is disabled or missing, or the statement returned no row; the
    check is then read on its own and says which)."""
    require_role(actor, permission)
    if role is None:
        _judge(actor, permission, require_active(session, actor))
    else:
        _judge(actor, permission, Role(str(role)))


def _judge(actor: Actor, permission: Permission | None, role: Role) -> None:
    if (
        permission is not None
        and role is not actor.role
        and not can(Actor(actor.user_id, actor.login, role), permission)
    ):
        raise PermissionDenied(
            f"{actor.login} is now {role.value} and may no longer {permission.value}"
        )


def require_active(session: Session | Connection, actor: Actor) -> Role:
    """The role of ``actor``'s user now; :class:`PermissionDenied` when the user has been
    disabled or does not exist. Every actor has a row, desk's own included
    (:data:`desk.rules.permissions.SYSTEM_USERS`)."""
    row = session.execute(
        select(_STAFF.c.active, _STAFF.c.role).where(_STAFF.c.id == actor.user_id)
    ).first()
    if row is None:
        raise PermissionDenied(f"{actor.login} is not a user of desk")
    active, role = row
    if not active:
        raise PermissionDenied(f"{actor.login} is no longer an active user of desk")
    return Role(role)
