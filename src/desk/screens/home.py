"""The home view of a role with no screen of its own yet: who you are, what your keys do,
and for admins, where their work is (the ``desk`` commands)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Label, Static

from desk.i18n import N_, vocab_label
from desk.i18n import gettext as _
from desk.rules.vocab import Role
from desk.screens.base import SessionScreen
from desk.widgets.keys import keymap_of

ADMIN_COMMANDS: tuple[tuple[str, str], ...] = (
    ("desk org branch|department add|…", N_("home.admin.org")),
    ("desk user add|list|disable|…", N_("home.admin.users")),
    ("desk db upgrade", N_("home.admin.upgrade")),
    ("desk policy check FILE", N_("home.admin.policy")),
    ("desk import customers|bills|tickets FILE", N_("home.admin.import")),
    ("desk export tickets|contacts|customers", N_("home.admin.export")),
    ("desk backup DIR / desk restore FILE", N_("home.admin.backup")),
    ("desk check / desk audit verify", N_("home.admin.check")),
    ("desk --help", N_("home.admin.help")),
)


class HomeScreen(SessionScreen):
    TITLE_MSGID = N_("screen.home")

    def compose_body(self) -> ComposeResult:
        actor = self.actor
        with VerticalScroll(id="home"):
            yield Label(_("home.title"), id="home-title")
            yield Static(
                _(
                    "home.who",
                    name=actor.display_name or actor.login,
                    login=actor.login,
                    role=vocab_label(actor.role),
                ),
                id="home-who",
                markup=False,
            )
            yield Label(_("home.keys"), classes="section")
            yield Static("", id="home-keys")
            if actor.role is Role.ADMIN:
                yield Label(_("home.admin.intro"), classes="section")
                commands = Table.grid(padding=(0, 2))
                commands.add_column(no_wrap=True)
                commands.add_column(overflow="fold")  # Chinese has no spaces to wrap at
                for command, msgid in ADMIN_COMMANDS:
                    commands.add_row(Text(command, style="bold"), _(msgid))
                yield Static(commands, id="home-admin")

    def on_screen_resume(self) -> None:
        self._show_keys()

    def _show_keys(self) -> None:
        """The keys this person may press here, read from the live binding table."""
        keys = Table.grid(padding=(0, 2))
        keys.add_column(no_wrap=True)
        keys.add_column()
        for row in keymap_of(self, self.app):
            if row.enabled and row.namespace is self.app:  # the global keys
                keys.add_row(Text(row.key, style="bold"), row.description)
        self.query_one("#home-keys", Static).update(keys)
