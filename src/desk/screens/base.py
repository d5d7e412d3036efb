"""What every desk screen shares: translated keys, worker failures routed to the app, and
the context a signed-in screen is built with (the database and the person)."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.reactive import Reactive
from textual.screen import ModalScreen, Screen
from textual.worker import Worker, WorkerState

from desk.i18n import N_, vocab_label
from desk.i18n import gettext as _
from desk.widgets.keys import KeyFooter, translate_bindings
from desk.widgets.status_line import StatusLine

if TYPE_CHECKING:
    from pathlib import Path

    from textual.widget import Widget

    from desk.clock import Clock
    from desk.infra.database import Database
    from desk.rules.permissions import Actor
    from desk.rules.policy import Policy

ResultT = TypeVar("ResultT")


@dataclass(frozen=True, slots=True)
class Backend:
    """The data layer, once loaded in the background: the database and the login limits
    from the policy, and whether this is a demo database."""

    db: Database
    policy: Policy
    demo: bool


class StartupRefusal(Exception):
    """The database or the policy cannot be used: the console does not start."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def open_backend(
    *,
    database: Database | None,
    database_url: str | None,
    policy_path: Path | None,
    clock: Clock,
) -> Backend:
    """Load the policy, open the database (``database``, or one made from ``database_url``)
    and check its schema; :class:`StartupRefusal` says why it cannot be used. Runs in a
    worker behind the painted login screen: these imports take a few hundred milliseconds."""
    from desk.infra.database import Database
    from desk.infra.errors import DeskError
    from desk.rules.policy import PolicyError, load_policy
    from desk.services.setup import ensure_current, is_demo

    try:
        policy = load_policy(policy_path)
    except PolicyError as error:
        raise StartupRefusal(str(error)) from error
    db = database
    if db is None:
        assert database_url is not None
        db = Database.from_url(database_url, clock=clock)
    try:
        ensure_current(db)
        demo = is_demo(db)
    except DeskError as error:
        if database is None:
            db.dispose()  # ours, and of no use
        raise StartupRefusal(error.message) from error
    return Backend(db, policy, demo)


@dataclass(frozen=True, slots=True)
class SignedIn:
    """What a signed-in screen is built with."""

    backend: Backend
    actor: Actor

    @property
    def db(self) -> Database:
        return self.backend.db


class WorkerFailed(Message):
    """A worker of a screen raised: the app shows the error dialog (one handler for all)."""

    def __init__(self, worker: Worker[Any], error: BaseException) -> None:
        super().__init__()
        self.worker = worker
        self.error = error


def route_worker_failure(node: Screen[Any], event: Worker.StateChanged) -> None:
    """Post :class:`WorkerFailed` for a failed worker (``StateChanged`` does not bubble)."""
    if event.state is WorkerState.ERROR and event.worker.error is not None:
        node.post_message(WorkerFailed(event.worker, event.worker.error))


class DeskScreen(Screen[None]):
    """A full screen of desk: bindings translated, worker errors sent up to the app."""

    TITLE_MSGID: ClassVar[str] = N_("app.name")
    """The screen's name, as the F1 keymap heads it."""

    focused: Reactive[Widget | None] = Reactive(None, repaint=False)
    """Textual's own, without its repaint of the whole screen at every move of the focus: the
    widgets that gain and lose it are restyled and repainted by themselves. The whole
    screen was composited again on top of the frame's own update (the workspace: ~10 ms of
    the frame that paints a caller's card, for the focus moving to the request type)."""

    # The framework's screen keys, given ids and our words (they replace its own by key).
    BINDINGS = [
        Binding("tab", "app.focus_next", N_("key.focus_next"), id="screen.focus_next", show=False),
        Binding(
            "shift+tab",
            "app.focus_previous",
            N_("key.focus_previous"),
            id="screen.focus_previous",
            show=False,
        ),
        Binding("ctrl+c", "screen.copy_text", N_("key.copy"), id="screen.copy", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        translate_bindings(self)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        route_worker_failure(self, event)


class DeskModal(ModalScreen[ResultT]):
    """A dialog of desk: bindings translated, worker errors sent up to the app."""

    def __init__(self) -> None:
        super().__init__()
        translate_bindings(self)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        route_worker_failure(self, event)


class SessionScreen(DeskScreen):
    """A screen of a signed-in person: the status line on top, the footer below.

    The app holds the ticking time and the shift on now; each session screen watches them
    and sets them down on its status line.
    """

    def __init__(self, signed_in: SignedIn) -> None:
        super().__init__()
        self.signed_in = signed_in

    @property
    def actor(self) -> Actor:
        return self.signed_in.actor

    def compose(self) -> ComposeResult:
        actor = self.actor
        status = StatusLine()
        status.user = f"{actor.display_name or actor.login} ({actor.login})"
        status.role = vocab_label(actor.role)
        yield status
        yield from self.compose_body()
        yield KeyFooter()

    def compose_body(self) -> ComposeResult:
        """The screen's own widgets, between the status line and the footer."""
        yield from ()

    def on_mount(self) -> None:
        self.watch(self.app, "now", self._show_time)
        self.watch(self.app, "shift_label", self._show_shift)
        # What is loaded by now (catalogs, dictionaries, the policy, the screens) stays for
        # the session: moved out of the collector's sight, a full collection no longer walks
        # its ~360,000 objects (0.2-0.25 s, once every few calls, landed on a call's Enter).
        self.call_after_refresh(gc.freeze)

    def _show_time(self, now: datetime | None) -> None:
        self.query_one(StatusLine).now = now

    def _show_shift(self, label: str | None) -> None:
        self.query_one(StatusLine).shift = label


def denied_text(title_msgid: str) -> str:
    """What a key for a screen the role may not use says."""
    return _("shell.denied", screen=_(title_msgid))
