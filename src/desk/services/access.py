"""Permission checks at the entry of every service call.

:func:`require` is the first statement of every service entry point that acts for someone:
the role must hold the permission, and the person must still be an active user, so a console
whose user was disabled meanwhile is refused at its next action.
"""

from __future__ import annotations

from sqlmodel import Session, select

from desk.infra.errors import PermissionDenied
from desk.models import StaffUser
from desk.rules.permissions import Actor, Permission, can


def require(session: Session, actor: Actor, permission: Permission | None) -> None:
    """Raise :class:`PermissionDenied` unless ``actor`` holds ``permission`` (None: any
    signed-in person) and is an active user, read in ``session``'s transaction."""
    if permission is not None and not can(actor, permission):
        raise PermissionDenied(f"{actor.login} ({actor.role}) may not {permission.value}")
    require_active(session, actor)


def require_active(session: Session, actor: Actor) -> None:
    """Raise :class:`PermissionDenied` when ``actor``'s user has been disabled or removed.

    Actors with ``user_id`` 0 have no staff row (the shell's admin and desk's own jobs, see
    :mod:`desk.rules.permissions`): the shell already holds the database.
    """
    if actor.user_id == 0:
        return
    active = session.exec(select(StaffUser.active).where(StaffUser.id == actor.user_id)).first()
    if not active:
        raise PermissionDenied(f"{actor.login} is no longer an active user of desk")
