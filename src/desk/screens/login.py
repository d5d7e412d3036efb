"""The login screen: painted first, usable while the data layer still loads behind it.

The app sets :attr:`LoginScreen.backend` once the database is open; a login submitted
before that waits for it. The check runs in a worker (argon2id is slow on purpose) and
reports back by message; a successful login is posted up as :class:`LoginScreen.LoggedIn`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Vertical
from textual.message import Message
from textual.reactive import var
from textual.widgets import Footer, Input, Label, Static

from desk.i18n import N_
from desk.i18n import gettext as _
from desk.screens.base import Backend, DeskScreen
from desk.widgets.format import local_time

if TYPE_CHECKING:
    from desk.rules.permissions import Actor
    from desk.services.users import LoginOutcome

DEMO_ACCOUNTS = ("agent1", "lead1", "complaint1", "handler1", "supervisor1", "admin1")
DEMO_PASSWORD = "demo123"


class LoginScreen(DeskScreen):
    """Login and password; Enter submits (from the login field it first asks for the
    password when that is still empty)."""

    TITLE_MSGID = N_("screen.login")
    # Enter, Tab and Shift+Tab are priority bindings of the screen, not the inputs' own keys
    # nor the app's focus chain: each runs as the key arrives, before the keys after it are
    # handed to a field, so a burst (a fast typist, a password manager, a badge reader)
    # lands every key in the field it was aimed at.
    BINDINGS = [
        # ctrl+j: an Enter typed before the console took the terminal reaches it as a newline
        # (the terminal, still in line mode, turned it into one)
        Binding("enter,ctrl+j", "submit", N_("key.sign_in"), id="login.submit", priority=True),
        Binding(
            "tab", "other_field", N_("key.focus_next"), show=False, id="login.next", priority=True
        ),
        Binding(
            "shift+tab",
            "other_field",
            N_("key.focus_previous"),
            show=False,
            id="login.previous",
            priority=True,
        ),
    ]

    backend: var[Backend | None] = var(None)

    class LoggedIn(Message):
        """Someone signed in: the app opens their shell."""

        def __init__(self, actor: Actor) -> None:
            super().__init__()
            self.actor = actor

    class Checked(Message):
        """The worker's answer to one login attempt."""

        def __init__(self, outcome: LoginOutcome) -> None:
            super().__init__()
            self.outcome = outcome

    def __init__(self) -> None:
        super().__init__()
        self._pending = False
        self._said = ""

    def compose(self) -> ComposeResult:
        with Center(), Vertical(id="login-box"):
            yield Label(_("login.title"), id="login-title")
            yield Label(_("login.login"), classes="field-label")
            yield Input(id="login", max_length=32)
            yield Label(_("login.password"), classes="field-label")
            yield Input(id="password", password=True, max_length=128)
            yield Static("", id="login-message", markup=False)
            yield Static("", id="demo-accounts", markup=False)
        yield Footer(compact=True, show_command_palette=False)  # fits 80 columns

    def on_mount(self) -> None:
        self.query_one("#login", Input).focus()
        self._say(_("login.starting") if self.backend is None else "")
        self._show_backend(self.backend)

    def watch_backend(self, backend: Backend | None) -> None:
        if self.is_mounted:
            self._show_backend(backend)

    def _show_backend(self, backend: Backend | None) -> None:
        hint = self.query_one("#demo-accounts", Static)
        if backend is not None and backend.demo:
            hint.update(
                _("login.demo_accounts", logins=", ".join(DEMO_ACCOUNTS), password=DEMO_PASSWORD)
            )
            hint.display = True
        else:
            hint.update("")
            hint.display = False
        if backend is None:
            return
        if self._pending:
            self._submit()
        elif self._said == _("login.starting"):
            self._say("")

    # --- input ---------------------------------------------------------------------------

    def action_submit(self) -> None:
        """Enter, as it arrives: focus moves at once (keys typed ahead follow it), the check
        waits until the keys already sent to the field have landed in it."""
        login = self.query_one("#login", Input)
        password = self.query_one("#password", Input)
        if self.focused is not password and not password.value:
            self.set_focus(password)
            login.call_later(self._check_login)
            return
        field = password if self.focused is password else login
        field.call_later(self._check_and_submit)

    def action_other_field(self) -> None:
        """Tab or Shift+Tab, as it arrives: the focus moves between the two fields at once."""
        login = self.query_one("#login", Input)
        password = self.query_one("#password", Input)
        self.set_focus(login if self.focused is password else password)

    def _check_login(self) -> bool:
        login = self.query_one("#login", Input)
        if login.value.strip():
            return True
        self.set_focus(login)
        self._say(_("login.need_login"))
        return False

    def _check_and_submit(self) -> None:
        password = self.query_one("#password", Input)
        if not self._check_login():
            return
        if not password.value:
            if self.focused is password:
                self._say(_("login.need_password"))
            self.set_focus(password)
            return
        self._submit()

    def _submit(self) -> None:
        backend = self.backend
        if backend is None:
            self._pending = True
            self._say(_("login.starting"))
            return
        self._pending = False
        self._say(_("login.checking"))
        login = self.query_one("#login", Input).value.strip()
        password = self.query_one("#password", Input).value
        self._authenticate(backend, login, password)

    @work(thread=True, exclusive=True, exit_on_error=False, group="login", description="sign in")
    def _authenticate(self, backend: Backend, login: str, password: str) -> None:
        from desk.services.users import authenticate

        outcome = authenticate(
            backend.db,
            login=login,
            password=password,
            policy=backend.policy,
        )
        self.post_message(self.Checked(outcome))

    def on_login_screen_checked(self, event: Checked) -> None:
        outcome = event.outcome
        password = self.query_one("#password", Input)
        password.value = ""
        if outcome.actor is not None:
            self._say("")
            self.post_message(self.LoggedIn(outcome.actor))
            return
        self.set_focus(password)
        if outcome.locked_until is not None:
            until = local_time(outcome.locked_until, "%Y-%m-%d %H:%M")
            self._say(_("login.locked", until=until))
        else:
            self._say(_("login.invalid"))

    # --- state ---------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to empty fields and no message: nothing of the last person is left."""
        self._pending = False
        self.query_one("#login", Input).value = ""
        self.query_one("#password", Input).value = ""
        self._say("")
        self.set_focus(self.query_one("#login", Input))

    def _say(self, text: str) -> None:
        self._said = text
        self.query_one("#login-message", Static).update(text)
