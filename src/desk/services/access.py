"""Permission checks at the entry of every service call.

:func:`require` is the first statement of every service entry point that acts for someone:
the role must hold the permission, and the person must still be an active user, so a console
whose user was disabled meanwhile is refused at its next action.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Integer, String, column, select, table

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
    if permission is not None and not can(actor, permission):
        raise PermissionDenied(f"{actor.login} ({actor.role}) may not {permission.value}")
    role = require_active(session, actor)
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
