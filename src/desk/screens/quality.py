"""F8 quality spot checks (暗访/抽查): a lead scores a finished contact or a branch office on a
score card of the policy, and reads the checks made.

Three lists, each a keyset page beside the selected row: ``1`` the checks made (newest first,
each with its marks), ``2`` the finished contacts to pick from (newest first, the lead's own
left out, each saying whether it was checked already), ``3`` the branch offices (with their
last score). ``Enter`` on a contact or a branch opens the score card: every item starts at full
marks, the lead lowers what fell short, adds a remark and saves with ``Ctrl+S``; the service
checks the permission, the card and the marks, and audits the check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from desk.i18n import N_, current_language, vocab_label
from desk.i18n import gettext as _
from desk.rules.vocab import Channel, ContactOutcome, RequestType, SpotCheckTarget
from desk.screens.base import SessionScreen, SignedIn
from desk.screens.dialogs import ChoiceDialog
from desk.screens.forms import ActionForm, ChoiceField, FormField, TextField
from desk.widgets.format import local_time

if TYPE_CHECKING:
    from desk.rules.policy import ScoreCard
    from desk.services.quality import BranchToCheck, ContactToCheck, SpotCheckView

PAGE_SIZE = 50
CHECKS, CONTACTS, BRANCHES = "checks", "contacts", "branches"
VIEWS = (CHECKS, CONTACTS, BRANCHES)
VIEW_LABELS = {
    CHECKS: N_("quality.view.checks"),
    CONTACTS: N_("quality.view.contacts"),
    BRANCHES: N_("quality.view.branches"),
}
EMPTY = {
    CHECKS: N_("quality.empty.checks"),
    CONTACTS: N_("quality.empty.contacts"),
    BRANCHES: N_("quality.empty.branches"),
}
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    CHECKS: (
        ("at", N_("quality.col.at")),
        ("subject", N_("quality.col.subject")),
        ("score", N_("quality.col.score")),
        ("card", N_("quality.col.card")),
    ),
    CONTACTS: (
        ("at", N_("quality.col.at")),
        ("agent", N_("quality.col.agent")),
        ("type", N_("quality.col.type")),
        ("checked", N_("quality.col.checked")),
    ),
    BRANCHES: (
        ("code", N_("quality.col.code")),
        ("name", N_("quality.col.branch")),
        ("last", N_("quality.col.last")),
    ),
}

Row = Any  # SpotCheckView | ContactToCheck | BranchToCheck


def _in_language(chinese: str, english: str) -> str:
    return chinese if current_language() == "zh_CN" else english


def score_text(score: float, passed: bool) -> Text:
    return Text(
        f"{score:.2f} " + (_("quality.passed") if passed else _("quality.failed")),
        style="" if passed else "bold red",
    )


def check_cells(check: SpotCheckView) -> tuple[str | Text, ...]:
    subject = check.subject if check.target is SpotCheckTarget.BRANCH else check.agent or "?"
    return (
        local_time(check.at, "%m-%d %H:%M"),
        subject,
        score_text(check.score, check.passed),
        _in_language(check.card_name, check.card_name_en),
    )


def contact_cells(contact: ContactToCheck) -> tuple[str | Text, ...]:
    kind = vocab_label(contact.request_type, RequestType) if contact.request_type else "-"
    return (
        local_time(contact.offered_at, "%m-%d %H:%M"),
        contact.agent or "-",
        kind,
        Text(_("quality.checked_yes"), style="dim") if contact.checks else "",
    )


def branch_cells(branch: BranchToCheck) -> tuple[str | Text, ...]:
    last = f"{branch.last_score:.2f}" if branch.last_score is not None else "-"
    return (branch.code, branch.name, last)


def _facts() -> Table:
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim", no_wrap=True)
    facts.add_column(overflow="fold")
    return facts


def render_check(check: SpotCheckView) -> Group:
    facts = _facts()
    facts.add_row(_("quality.field.card"), _in_language(check.card_name, check.card_name_en))
    if check.target is SpotCheckTarget.BRANCH:
        facts.add_row(_("quality.field.branch"), check.subject)
    else:
        facts.add_row(_("quality.field.contact"), check.subject)
        facts.add_row(_("quality.field.agent"), check.agent or "-")
    facts.add_row(_("quality.field.score"), score_text(check.score, check.passed))
    facts.add_row(_("quality.field.by"), f"{check.checker}  {local_time(check.at)}")
    items = Table.grid(padding=(0, 1))
    items.add_column()
    items.add_column(justify="right", no_wrap=True)
    for item in check.items:
        items.add_row(_in_language(item.name, item.name_en), f"{item.mark} ×{item.weight}")
    parts: list[Any] = [facts, Text(""), Text(_("quality.field.items"), style="bold"), items]
    if check.remark:
        parts += [Text(""), Text(check.remark)]
    return Group(*parts)


def render_contact(contact: ContactToCheck) -> Group:
    facts = _facts()
    facts.add_row(_("quality.field.contact"), f"#{contact.id}  {local_time(contact.offered_at)}")
    facts.add_row(_("quality.field.agent"), contact.agent or "-")
    facts.add_row(_("quality.field.channel"), vocab_label(contact.channel, Channel))
    if contact.request_type:
        facts.add_row(_("quality.field.type"), vocab_label(contact.request_type, RequestType))
    facts.add_row(_("quality.field.customer"), contact.customer or _("quality.unknown"))
    if contact.seconds is not None:
        minutes, seconds = divmod(contact.seconds, 60)
        facts.add_row(_("quality.field.length"), f"{minutes}:{seconds:02d}")
    if contact.outcome:
        facts.add_row(_("quality.field.outcome"), vocab_label(contact.outcome, ContactOutcome))
    facts.add_row(_("quality.field.checks"), str(contact.checks))
    return Group(facts, Text(""), Text(_("quality.enter_scores"), style="dim"))


def render_branch(branch: BranchToCheck) -> Group:
    facts = _facts()
    facts.add_row(_("quality.field.branch"), f"{branch.code}  {branch.name}")
    facts.add_row(_("quality.field.region"), branch.region)
    facts.add_row(_("quality.field.checks"), str(branch.checks))
    if branch.last_at is not None and branch.last_score is not None:
        facts.add_row(
            _("quality.field.last"), f"{branch.last_score:.2f}  {local_time(branch.last_at)}"
        )
    return Group(facts, Text(""), Text(_("quality.enter_scores"), style="dim"))


CELLS: dict[str, Callable[[Any], tuple[str | Text, ...]]] = {
    CHECKS: check_cells,
    CONTACTS: contact_cells,
    BRANCHES: branch_cells,
}
RENDER: dict[str, Callable[[Any], Group]] = {
    CHECKS: render_check,
    CONTACTS: render_contact,
    BRANCHES: render_branch,
}


class QualityScreen(SessionScreen):
    TITLE_MSGID = N_("screen.quality")
    DEFAULT_CSS = """
    QualityScreen #quality-filter { height: auto; padding: 0 1; color: $text-muted; }
    QualityScreen #quality-split { height: 1fr; }
    QualityScreen #quality-table { width: 3fr; min-width: 40; }
    QualityScreen #quality-side {
        width: 2fr; padding: 0 1; border-left: tall $primary-background;
    }
    """
    BINDINGS = [
        Binding("1", "view('checks')", N_("quality.key.checks"), id="quality.checks"),
        Binding("2", "view('contacts')", N_("quality.key.contacts"), id="quality.contacts"),
        Binding("3", "view('branches')", N_("quality.key.branches"), id="quality.branches"),
        Binding("enter", "score", N_("quality.key.score"), id="quality.score"),
        Binding("pagedown", "next_page", N_("key.next_page"), id="quality.next_page"),
        Binding("pageup", "first_page", N_("key.first_page"), id="quality.first_page"),
        Binding("ctrl+r", "reload", N_("key.reload"), id="quality.reload"),
    ]

    class PageLoaded(Message):
        def __init__(
            self, seq: int, view: str, rows: Sequence[Row], next_cursor: str | None
        ) -> None:
            super().__init__()
            self.seq = seq
            self.view = view
            self.rows = tuple(rows)
            self.next_cursor = next_cursor

    def __init__(self, signed_in: SignedIn) -> None:
        super().__init__(signed_in)
        self.view = CONTACTS
        self.rows: tuple[Row, ...] = ()
        self.next_cursor: str | None = None
        self.cursors: list[str | None] = [None]
        self.selected: Row | None = None
        self._seq = 0

    def compose_body(self) -> ComposeResult:
        yield Static(_("screen.quality"), id="screen-title")
        yield Static("", id="quality-filter", markup=False)
        with Horizontal(id="quality-split"):
            yield DataTable(id="quality-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="quality-side"):
                yield Static(_("quality.loading"), id="quality-detail")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#quality-table", DataTable).focus()
        self._reload()

    # --- loading -------------------------------------------------------------------------

    def _reload(self, *, keep_page: bool = False) -> None:
        if not keep_page:
            self.cursors = [None]
        self._seq += 1
        self._load(self._seq, self.view, self.cursors[-1])

    @work(thread=True, exclusive=True, exit_on_error=False, group="quality")
    def _load(self, seq: int, view: str, after: str | None) -> None:
        from desk.services import quality

        db, actor = self.signed_in.db, self.actor
        rows: Sequence[Row]
        next_cursor: str | None = None
        if view == CHECKS:
            checks = quality.spot_checks(
                db, actor=actor, policy=self.signed_in.backend.policy, after=after, limit=PAGE_SIZE
            )
            rows, next_cursor = checks.rows, checks.next_cursor
        elif view == CONTACTS:
            contacts = quality.contacts_to_check(db, actor=actor, after=after, limit=PAGE_SIZE)
            rows, next_cursor = contacts.rows, contacts.next_cursor
        else:
            rows = quality.branches_to_check(db, actor=actor)
        self.post_message(self.PageLoaded(seq, view, rows, next_cursor))

    def on_quality_screen_page_loaded(self, event: PageLoaded) -> None:
        if event.seq != self._seq:
            return
        table = self.query_one("#quality-table", DataTable)
        was = self.selected.id if self.selected is not None else None
        same_view = event.view == self.view and bool(table.columns)
        self.rows, self.next_cursor = event.rows, event.next_cursor
        table.clear(columns=not same_view)
        if not same_view:
            for key, msgid in COLUMNS[event.view]:
                table.add_column(_(msgid), key=key)
        cells = CELLS[event.view]
        for row in event.rows:
            table.add_row(*cells(row), key=str(row.id))
        self._show_filter()
        if event.rows:
            index = next((i for i, row in enumerate(event.rows) if row.id == was), 0)
            table.move_cursor(row=index)
            self._select(index)
        else:
            self.selected = None
            self.query_one("#quality-detail", Static).update(_(EMPTY[event.view]))
        self.refresh_bindings()

    def _show_filter(self) -> None:
        self.query_one("#quality-filter", Static).update(
            _("quality.filter", view=_(VIEW_LABELS[self.view]), page=len(self.cursors))
        )

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._select(event.cursor_row)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_score()

    def _select(self, index: int) -> None:
        if not 0 <= index < len(self.rows):
            return
        row = self.rows[index]
        self.selected = row
        self.query_one("#quality-detail", Static).update(RENDER[self.view](row))
        self.refresh_bindings()

    # --- keys ----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "score":
            return True if self.view != CHECKS and self.selected is not None else None
        if action == "view":
            return True if parameters and parameters[0] != self.view else None
        if action == "next_page":
            return bool(self.next_cursor) or None
        if action == "first_page":
            return len(self.cursors) > 1 or None
        return True

    def action_view(self, view: str) -> None:
        if view in VIEWS and view != self.view:
            self.view = view
            self.selected = None
            self.query_one("#quality-table", DataTable).clear(columns=True)
            self.query_one("#quality-detail", Static).update(_("quality.loading"))
            self._reload()

    def action_reload(self) -> None:
        self._reload(keep_page=True)

    def action_next_page(self) -> None:
        if self.next_cursor:
            self.cursors.append(self.next_cursor)
            self._reload(keep_page=True)

    def action_first_page(self) -> None:
        self._reload()

    def action_score(self) -> None:
        row = self.selected
        if self.view == CHECKS or row is None:
            return
        target = SpotCheckTarget.CONTACT if self.view == CONTACTS else SpotCheckTarget.BRANCH
        cards = [
            (key, card)
            for key, card in self.signed_in.backend.policy.quality.cards.items()
            if card.target is target
        ]
        if len(cards) == 1:
            self._open_card(row, target, cards[0][0])
            return
        self.app.push_screen(
            ChoiceDialog(
                _("quality.which_card"),
                [(key, _in_language(card.name, card.name_en)) for key, card in cards],
            ),
            lambda key: self._open_card(row, target, key) if key else None,
        )

    def _open_card(self, row: Row, target: SpotCheckTarget, key: str) -> None:
        policy = self.signed_in.backend.policy
        card = policy.quality.cards[key]
        if target is SpotCheckTarget.CONTACT:
            subject = _("quality.contact_subject", id=row.id, agent=row.agent or "-")
        else:
            subject = row.name
        form = ActionForm(
            f"{_in_language(card.name, card.name_en)} — {subject}",
            self._fields(card, policy.quality.scale),
            partial(self._save, target, key, row.id),
            intro=_(
                "quality.form_intro", scale=policy.quality.scale, passes=policy.quality.pass_score
            ),
        )
        self.app.push_screen(form, self._scored)

    def _fields(self, card: ScoreCard, scale: int) -> list[FormField]:
        marks = tuple((str(n), str(n)) for n in range(scale, -1, -1))
        fields: list[FormField] = [
            ChoiceField(
                item.key,
                _("quality.item", name=_in_language(item.name, item.name_en), weight=item.weight),
                marks,
                value=str(scale),
            )
            for item in card.items
        ]
        fields.append(TextField("remark", _("quality.remark")))
        return fields

    def _save(
        self, target: SpotCheckTarget, card: str, subject_id: int, values: Mapping[str, str]
    ) -> object:
        from desk.services.quality import record_spot_check

        marks = {name: int(value) for name, value in values.items() if name != "remark"}
        return record_spot_check(
            self.signed_in.db,
            actor=self.actor,
            policy=self.signed_in.backend.policy,
            card=card,
            marks=marks,
            contact_id=subject_id if target is SpotCheckTarget.CONTACT else None,
            branch_id=subject_id if target is SpotCheckTarget.BRANCH else None,
            remark=values.get("remark", ""),
        )

    def _scored(self, result: object) -> None:
        if result is None:
            return
        check: SpotCheckView = result  # type: ignore[assignment]
        verdict = _("quality.passed") if check.passed else _("quality.failed")
        self.notify(
            _("quality.saved", subject=check.subject, score=f"{check.score:.2f}", verdict=verdict),
            markup=False,
        )
        self._reload(keep_page=True)
