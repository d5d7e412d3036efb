"""The console's shell: modes, global keys, the data layer loaded behind the login screen,
and the one handler for failing workers. Everything else lives on the screens.

The login screen paints first; the data layer (a few hundred milliseconds of imports) loads
in a worker after that and is handed down to the login screen when ready. Nothing heavier
than Textual is imported here at module level.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import constants, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from desk.clock import Clock, SystemClock
from desk.i18n import N_, set_language
from desk.i18n import gettext as _
from desk.screens.base import (
    Backend,
    SignedIn,
    StartupRefusal,
    WorkerFailed,
    denied_text,
    open_backend,
)
from desk.screens.commands import KeymapCommands
from desk.screens.dialogs import KeymapDialog, error_dialog
from desk.screens.login import LoginScreen
from desk.screens.registry import SCREENS, entry, screen_key_state, session_modes
from desk.widgets.keys import grouped, key_label, keymap_of, translate_bindings
from desk.widgets.status_line import shift_text

if TYPE_CHECKING:
    from desk.infra.database import Database
    from desk.services.session_info import ShiftInfo

SHIFT_REFRESH_SECONDS = 60
SWEEP_EVERY_SECONDS = 60


class DeskApp(App[None]):
    CSS_PATH = "desk.tcss"
    TITLE = "desk"
    DEFAULT_MODE = "login"
    COMMANDS: ClassVar[set[Any]] = {KeymapCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", N_("key.help"), id="app.help"),
        *(binding for screen in SCREENS for binding in screen.bindings()),
        Binding("f10", "logout", N_("key.logout"), id="app.logout"),
        Binding("ctrl+p", "command_palette", N_("key.palette"), id="app.palette", priority=True),
        Binding("ctrl+q", "quit", N_("key.quit"), id="app.quit", priority=True, show=False),
    ]

    now: reactive[datetime | None] = reactive(None, repaint=False)  # watchers repaint their own
    shift_label: reactive[str | None] = reactive(None, repaint=False)

    @dataclass
    class BackendReady(Message):
        backend: Backend

    @dataclass
    class StartupRefused(Message):  # the database or the policy cannot be used
        reason: str

    @dataclass
    class SweepFailed(Message):
        """The background jobs ended; ``reason`` is None when they went well."""

        reason: str | None

    @dataclass
    class ShiftLoaded(Message):
        signed_in: SignedIn
        shift: ShiftInfo | None

    def __init__(
        self,
        *,
        database: Database | None = None,
        database_url: str | None = None,
        policy_path: Path | None = None,
        language: str = "en",
        clock: Clock | None = None,
    ) -> None:
        """Give ``database`` (tests) or ``database_url`` (the console opens it itself, in
        the background); ``policy_path`` None means the shipped policy."""
        if (database is None) == (database_url is None):
            raise ValueError("give either database or database_url")
        set_language(language)
        # Textual's log file (TEXTUAL_LOG) records every key and every field's value: the
        # passwords typed at login and the numbers callers give among them. Never written.
        setattr(constants, "LOG_FILE", None)  # noqa: B010 - a Final of the library
        super().__init__()
        translate_bindings(self)
        self.clock: Clock = clock or (database.clock if database else SystemClock())
        self.backend: Backend | None = None
        self.signed_in: SignedIn | None = None
        self.startup_error: str | None = None
        self._database = database
        self._database_url = database_url
        self._policy_path = policy_path
        self._session_modes: list[str] = []
        self._shift_timer: Timer | None = None
        self._sweep_timer: Timer | None = None
        self._sweep_holder: str | None = None
        self._sweep_error: str | None = None
        self._login_screen: LoginScreen | None = None
        self.add_mode("login", self._new_login_screen)

    def _new_login_screen(self) -> LoginScreen:
        self._login_screen = LoginScreen()
        return self._login_screen

    # --- start-up ------------------------------------------------------------------------

    def on_mount(self) -> None:
        self._tick()
        self.set_interval(1, self._tick)
        self.call_after_refresh(self._start_backend)  # paint the login screen first

    def _tick(self) -> None:
        self.now = self.clock.now()

    @work(thread=True, exclusive=True, exit_on_error=False, group="startup")
    def _start_backend(self) -> None:
        try:
            backend = open_backend(
                database=self._database,
                database_url=self._database_url,
                policy_path=self._policy_path,
                clock=self.clock,
            )
        except StartupRefusal as refusal:
            self.post_message(self.StartupRefused(refusal.reason))
            return
        self.post_message(self.BackendReady(backend))

    def on_desk_app_backend_ready(self, event: BackendReady) -> None:
        self.backend = event.backend
        self._database = event.backend.db
        if self._login_screen is not None:
            self._login_screen.backend = event.backend
        self._sweep()
        self._sweep_timer = self.set_interval(SWEEP_EVERY_SECONDS, self._sweep)
        self._warm_search(event.backend)

    @work(thread=True, exclusive=True, exit_on_error=False, group="warm")
    def _warm_search(self, backend: Backend) -> None:
        """Lookup's indexes read once: the first lookups after a reboot need not hit the disk."""
        from desk.services.search import warm_search_indexes

        warm_search_indexes(backend.db)

    def on_desk_app_startup_refused(self, event: StartupRefused) -> None:
        self.startup_error = event.reason
        self.exit(return_code=2)

    def on_unmount(self) -> None:
        if self._database is not None and self._database_url is not None:
            self._database.dispose()  # ours: built from the URL

    # --- the escalation sweep ------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="sweep")
    def _sweep(self) -> None:
        """The background jobs (:mod:`desk.services.housekeeping`), whoever is signed in."""
        backend = self.backend
        if backend is None:
            return
        from desk.infra.leases import make_holder
        from desk.services.housekeeping import run_due_jobs

        if self._sweep_holder is None:
            self._sweep_holder = make_holder("console")
        try:
            run_due_jobs(
                backend.db,
                holder=self._sweep_holder,
                sweep_every=timedelta(seconds=SWEEP_EVERY_SECONDS),
                policy=backend.policy,
            )
        except Exception as error:  # noqa: BLE001 - reported once, retried on the next tick
            self.post_message(self.SweepFailed(f"{type(error).__name__}: {error}"))
        else:
            self.post_message(self.SweepFailed(None))

    def on_desk_app_sweep_failed(self, event: SweepFailed) -> None:
        """A failing sweep is said once (not every minute) and does not stop the console."""
        if event.reason is not None and self._sweep_error is None:
            self.notify(_("sweep.failed", reason=event.reason), severity="error", markup=False)
        self._sweep_error = event.reason

    # --- signing in and out --------------------------------------------------------------

    def on_login_screen_logged_in(self, event: LoginScreen.LoggedIn) -> None:
        assert self.backend is not None
        signed_in = self.signed_in = SignedIn(self.backend, event.actor)
        modes, landing = session_modes(signed_in)
        for mode, factory in modes.items():
            self.add_mode(mode, factory)
            self._session_modes.append(mode)
        self.shift_label = None
        self._refresh_shift()
        self._shift_timer = self.set_interval(SHIFT_REFRESH_SECONDS, self._refresh_shift)
        self.switch_mode(landing)
        self.refresh_bindings()

    async def action_logout(self) -> None:
        """Back to a clean login screen: the person's screens and their state are dropped."""
        if self.signed_in is None:
            return
        self.signed_in = None
        self.shift_label = None
        if self._shift_timer is not None:
            self._shift_timer.stop()
            self._shift_timer = None
        await self.switch_mode("login")
        for mode in self._session_modes:
            await self.remove_mode(mode)
        self._session_modes.clear()
        if self._login_screen is not None:
            self._login_screen.reset()
        self.refresh_bindings()

    @work(thread=True, exclusive=True, exit_on_error=False, group="shift")
    def _refresh_shift(self) -> None:
        signed_in = self.signed_in
        if signed_in is None:
            return
        from desk.services.session_info import current_shift

        shift = current_shift(signed_in.db, actor=signed_in.actor)
        self.post_message(self.ShiftLoaded(signed_in, shift))

    def on_desk_app_shift_loaded(self, event: ShiftLoaded) -> None:
        if event.signed_in is not self.signed_in:
            return  # signed out (or someone else signed in) meanwhile
        self.shift_label = shift_text(event.shift)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        signed_in = self.signed_in
        if action in ("open_screen", "refuse_screen"):
            actor = signed_in.actor if signed_in is not None else None
            return screen_key_state(action, str(parameters[0]), actor)
        if action == "logout":
            return signed_in is not None
        return True

    def action_open_screen(self, screen_id: str) -> None:
        if screen_id in self._session_modes:
            self.switch_mode(screen_id)

    def action_refuse_screen(self, screen_id: str) -> None:
        self.notify(denied_text(entry(screen_id).title), severity="warning", markup=False)

    def action_help(self) -> None:
        screen = self.screen
        if isinstance(screen, KeymapDialog):
            return
        title = _(getattr(screen, "TITLE_MSGID", N_("app.name")))
        self.push_screen(KeymapDialog(title, grouped(keymap_of(screen, self))))

    def action_help_quit(self) -> None:
        self.notify(_("app.quit_hint"), markup=False)

    def get_key_display(self, binding: Binding) -> str:
        return binding.key_display or key_label(binding.key)

    def on_worker_failed(self, event: WorkerFailed) -> None:
        self.handle_worker_error(event.error)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The app's own workers; screens' workers arrive as :class:`WorkerFailed`."""
        error = event.worker.error
        if event.state is not WorkerState.ERROR or error is None:
            return
        if event.worker.group == "startup":
            self.post_message(self.StartupRefused(f"{type(error).__name__}: {error}"))
        else:
            self.handle_worker_error(error)

    def handle_worker_error(self, error: BaseException) -> None:
        """The one place a failing worker ends: a readable dialog; the console goes on. A
        database out of reach is one line: the next action reconnects by itself."""
        from desk.infra.errors import DatabaseUnavailable

        if isinstance(error, DatabaseUnavailable):
            self.notify(_("connection.lost"), severity="error", markup=False)
            return
        self.push_screen(error_dialog(error))
