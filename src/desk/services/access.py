"""Permission checks at the entry of every service call."""

from __future__ import annotations

from desk.infra.errors import PermissionDenied
from desk.rules.permissions import Actor, Permission, can


def require(actor: Actor, permission: Permission) -> None:
    """Raise :class:`PermissionDenied` unless ``actor`` holds ``permission``."""
    if not can(actor, permission):
        raise PermissionDenied(f"{actor.login} ({actor.role}) may not {permission.value}")
