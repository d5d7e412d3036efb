"""The screens of the shell, as data: one entry per screen, keyed by its global key.

A later issue adds a screen by adding one :class:`ScreenEntry` here: the app binds its key,
gives it a mode, lists it in the footer, the F1 keymap and the palette, and refuses it to a
role without its permission — nothing else changes. Screens that do not exist yet are not
listed, so their keys are not bound at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from textual.binding import Binding
from textual.screen import Screen

from desk.i18n import N_
from desk.rules.permissions import Actor, Permission, can
from desk.rules.vocab import Role
from desk.screens.base import SignedIn

ScreenFactory = Callable[[SignedIn], Screen[Any]]


@dataclass(frozen=True, slots=True)
class ScreenEntry:
    key: str  # the global key (docs/roles-and-workflows.md, "Keys")
    id: str  # the mode's name, and the binding id ``screen.<id>``
    title: str  # msgid of the screen's title
    permission: Permission  # a role without it may not open the screen
    factory: ScreenFactory  # builds the screen for a signed-in person

    @property
    def binding_id(self) -> str:
        return f"screen.{self.id}"

    def bindings(self) -> list[Binding]:
        """The key opens the screen; when the role may not, the same key (a hidden second
        binding with the same id, so a keymap moves both) says so instead."""
        return [
            Binding(self.key, f"open_screen('{self.id}')", self.title, id=self.binding_id),
            Binding(
                self.key,
                f"refuse_screen('{self.id}')",
                show=False,
                system=True,
                id=self.binding_id,
            ),
        ]


def _workspace(signed_in: SignedIn) -> Screen[Any]:
    from desk.screens.workspace import WorkspaceScreen

    return WorkspaceScreen(signed_in)


def _lookup(signed_in: SignedIn) -> Screen[Any]:
    from desk.screens.lookup import LookupScreen

    return LookupScreen(signed_in)


def _callbacks(signed_in: SignedIn) -> Screen[Any]:
    from desk.screens.callbacks import CallbacksScreen

    return CallbacksScreen(signed_in)


def _handover(signed_in: SignedIn) -> Screen[Any]:
    from desk.screens.handover import HandoverScreen

    return HandoverScreen(signed_in)


def _queue(signed_in: SignedIn) -> Screen[Any]:
    from desk.screens.queue import QueueScreen

    return QueueScreen(signed_in)


def _dashboard(signed_in: SignedIn) -> Screen[Any]:
    from desk.screens.dashboard import DashboardScreen

    return DashboardScreen(signed_in)


def _quality(signed_in: SignedIn) -> Screen[Any]:
    from desk.screens.quality import QualityScreen

    return QualityScreen(signed_in)


SCREENS: tuple[ScreenEntry, ...] = (
    ScreenEntry("f2", "workspace", N_("screen.workspace"), Permission.TAKE_CONTACTS, _workspace),
    ScreenEntry("f3", "queue", N_("screen.queue"), Permission.VIEW_WORK_ORDERS, _queue),
    ScreenEntry("f4", "lookup", N_("screen.lookup"), Permission.SEARCH_CUSTOMERS, _lookup),
    ScreenEntry("f5", "callbacks", N_("screen.callbacks"), Permission.MAKE_CALLBACKS, _callbacks),
    ScreenEntry("f6", "handover", N_("screen.handover"), Permission.SIGN_HANDOVER, _handover),
    ScreenEntry("f7", "dashboard", N_("screen.dashboard"), Permission.WATCH_FLOOR, _dashboard),
    ScreenEntry("f8", "quality", N_("screen.quality"), Permission.SPOT_CHECK, _quality),
)


MAIN_SCREENS: dict[Role, tuple[str, ...]] = {
    Role.AGENT: ("workspace", "lookup"),
    Role.LEAD: ("queue",),
    Role.COMPLAINT_LEAD: ("queue",),
    Role.HANDLER: ("queue",),
    Role.SUPERVISOR: ("dashboard", "queue"),
}
"""Each role's main screen, where it lands after signing in: the first of these that exists
and the role may open (else its first screen in key order)."""


def main_screen(actor: Actor) -> str | None:
    """Where ``actor`` lands after signing in (None: no screen, the welcome page)."""
    screens = permitted(actor)
    ids = {candidate.id for candidate in screens}
    for wanted in MAIN_SCREENS.get(actor.role, ()):
        if wanted in ids:
            return wanted
    return screens[0].id if screens else None


def entry(screen_id: str) -> ScreenEntry:
    for candidate in SCREENS:
        if candidate.id == screen_id:
            return candidate
    raise KeyError(screen_id)


def permitted(actor: Actor) -> list[ScreenEntry]:
    """The screens ``actor``'s role may open, in key order."""
    return [candidate for candidate in SCREENS if can(actor, candidate.permission)]


def session_modes(signed_in: SignedIn) -> tuple[dict[str, Callable[[], Screen[Any]]], str]:
    """The modes a signed-in person gets (one per screen their role may open, or a welcome
    page when there is none), and the one they land on."""
    modes: dict[str, Callable[[], Screen[Any]]] = {
        screen.id: partial(screen.factory, signed_in) for screen in permitted(signed_in.actor)
    }
    landing = main_screen(signed_in.actor)
    if landing is None:
        from desk.screens.home import HomeScreen

        landing = "home"
        modes[landing] = partial(HomeScreen, signed_in)
    return modes, landing


def screen_key_state(action: str, screen_id: str, actor: Actor | None) -> bool | None:
    """Whether a screen key's ``open_screen`` or ``refuse_screen`` binding is live for
    ``actor`` (None: nobody signed in): the first, shown in the footer, when the role may
    open the screen (a role sees only the screens it may use), the second, hidden, which
    says no, when it may not."""
    if actor is None:
        return False
    allowed = can(actor, entry(screen_id).permission)
    return allowed if action == "open_screen" else not allowed
