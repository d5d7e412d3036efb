"""Permission checks at the entry of every service call."""

from __future__ import annotations

from desk.rules.permissions import Actor, Permission, can
from desk.services.errors import PermissionDenied


def require(actor: Actor, permission: Permission) -> None:
    """Raise :class:`PermissionDenied` unless ``actor`` holds ``permission``."""
    if not can(actor, permission):
        raise PermissionDenied(f"{actor.login} ({actor.role}) may not {permission.value}")
