"""The screens of the shell, as data: one entry per screen, keyed by its global key.

A later issue adds a screen by adding one :class:`ScreenEntry` here: the app binds its key,
gives it a mode, lists it in the footer, the F1 keymap and the palette, and refuses it to a
role without its permission — nothing else changes. Screens that do not exist yet are not
listed, so their keys are not bound at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual.binding import Binding
from textual.screen import Screen

from desk.i18n import N_
from desk.rules.permissions import Actor, Permission, can
from desk.screens.base import SignedIn

ScreenFactory = Callable[[SignedIn], Screen[Any]]


@dataclass(frozen=True, slots=True)
class ScreenEntry:
    key: str  # the global key (DESIGN.md §4)
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


def _lookup(signed_in: SignedIn) -> Screen[Any]:
    from desk.screens.lookup import LookupScreen

    return LookupScreen(signed_in)


def _callbacks(signed_in: SignedIn) -> Screen[Any]:
    from desk.screens.callbacks import CallbacksScreen

    return CallbacksScreen(signed_in)


def _handover(signed_in: SignedIn) -> Screen[Any]:
    from desk.screens.handover import HandoverScreen

    return HandoverScreen(signed_in)


SCREENS: tuple[ScreenEntry, ...] = (
    ScreenEntry("f4", "lookup", N_("screen.lookup"), Permission.SEARCH_CUSTOMERS, _lookup),
    ScreenEntry("f5", "callbacks", N_("screen.callbacks"), Permission.MAKE_CALLBACKS, _callbacks),
    ScreenEntry("f6", "handover", N_("screen.handover"), Permission.SIGN_HANDOVER, _handover),
)


def entry(screen_id: str) -> ScreenEntry:
    for candidate in SCREENS:
        if candidate.id == screen_id:
            return candidate
    raise KeyError(screen_id)


def permitted(actor: Actor) -> list[ScreenEntry]:
    """The screens ``actor``'s role may open, in key order."""
    return [candidate for candidate in SCREENS if can(actor, candidate.permission)]
