"""F4 customer lookup: one field, results as the agent types, a page at a time.

Each change of the field restarts a short debounce; when it fires, an exclusive worker asks
:func:`desk.services.search.search_customers` for one page (≤ 50 rows) and reports it by
:class:`LookupScreen.ResultsLoaded`. Every request carries a sequence number and only the
answer to the newest request is shown, so a slow answer to an old query never overwrites a
newer one. PgDn/PgUp swap the page using the service's cursors; Enter opens the card.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Input, Static
from textual.worker import get_current_worker

from desk.i18n import N_, ngettext, vocab_label
from desk.i18n import gettext as _
from desk.rules.vocab import CustomerStatus, Tier
from desk.screens.base import SessionScreen, SignedIn
from desk.widgets.format import yuan

if TYPE_CHECKING:
    from desk.services.search import CustomerHit, SearchPage

PAGE_SIZE = 50
DEBOUNCE_SECONDS = 0.15

KIND_LABELS: dict[str, str] = {
    "phone_exact": N_("search_kind.phone_exact"),
    "phone_suffix": N_("search_kind.phone_suffix"),
    "id_suffix": N_("search_kind.id_suffix"),
    "name_fragment": N_("search_kind.name_fragment"),
    "pinyin_initials": N_("search_kind.pinyin_initials"),
    "pinyin_full": N_("search_kind.pinyin_full"),
    "work_order": N_("search_kind.work_order"),
    "customer_no": N_("search_kind.customer_no"),
}
"""How each search kind of the service is named on screen (a test checks none is missing)."""

COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", N_("lookup.col.name")),
    ("phone", N_("lookup.col.phone")),
    ("customer_no", N_("lookup.col.customer_no")),
    ("tier", N_("lookup.col.tier")),
    ("status", N_("lookup.col.status")),
    ("arrears", N_("lookup.col.arrears")),
    ("region", N_("lookup.col.region")),
    ("id_card", N_("lookup.col.id_card")),
    ("matched_by", N_("lookup.col.matched_by")),
)


UNSEARCHABLE: dict[str, str] = {
    "too_short": N_("lookup.unsearchable.too_short"),
    "too_long": N_("lookup.unsearchable.too_long"),
    "characters": N_("lookup.unsearchable.characters"),
    "mixed": N_("lookup.unsearchable.mixed"),
}
"""Why a query means no search, said to the agent (by :class:`Unsearchable` value)."""


def unsearchable_text(page: SearchPage) -> str:
    """What the agent is told when the query means no search: why, in one sentence."""
    msgid = UNSEARCHABLE.get(str(page.unsearchable), UNSEARCHABLE["too_short"])
    odd = " ".join(page.odd) if page.odd else ""
    return _(msgid, query=page.query.strip(), odd=odd)


def matches_text(page: SearchPage) -> str:
    """How many customers the query finds: all of them once the last page is reached, else
    those up to this page and a ``+`` (counting every match would cost a scan)."""
    if page.more:
        return _("lookup.matches_more", count=page.matches_known)
    return ngettext(N_("lookup.matches_one"), N_("lookup.matches_other"), page.matches_known)


def kind_label(kind: str) -> str:
    msgid = KIND_LABELS.get(str(kind))
    return _(msgid) if msgid else str(kind)


def hit_cells(hit: CustomerHit) -> tuple[str | Text, ...]:
    """One row of the results table, in the order of :data:`COLUMNS`."""
    tier = vocab_label(hit.tier, Tier)
    if hit.big_customer_class:
        tier = f"{tier} · {_('lookup.big_class', cls=hit.big_customer_class)}"
    arrears = (
        Text(yuan(hit.arrears_cents), style="bold red", justify="right")
        if hit.arrears_cents
        else Text("-", style="dim", justify="right")
    )
    return (
        hit.name_masked,
        hit.phone_masked or "",
        hit.customer_no,
        tier,
        vocab_label(hit.status, CustomerStatus),
        arrears,
        hit.region,
        hit.id_card_masked,
        kind_label(hit.matched_by),
    )


class LookupScreen(SessionScreen):
    TITLE_MSGID = N_("screen.lookup")
    BINDINGS = [
        Binding("pagedown", "next_page", N_("key.next_page"), id="lookup.next_page", priority=True),
        Binding("pageup", "prev_page", N_("key.prev_page"), id="lookup.prev_page", priority=True),
        Binding("enter", "open_card", N_("key.open_card"), id="lookup.open", show=False),
        # a priority binding, so the keys typed after it already go to the table
        Binding(
            "down",
            "focus_results",
            N_("key.to_results"),
            id="lookup.results",
            show=False,
            priority=True,
        ),
        Binding(
            "escape",
            "back",
            N_("key.back_to_search"),
            id="lookup.back",
            show=False,
            priority=True,
        ),
    ]

    class ResultsLoaded(Message):
        """A page of results for request ``seq``."""

        def __init__(self, seq: int, page: SearchPage, number: int) -> None:
            super().__init__()
            self.seq = seq
            self.page = page
            self.number = number  # the page's place in the walk: 1 is the first page

    def __init__(self, signed_in: SignedIn) -> None:
        super().__init__(signed_in)
        self.page: SearchPage | None = None
        self.page_number = 0
        self._seq = 0  # the newest request; answers to older ones are dropped
        self._debounce: Timer | None = None
        self._open_when_single = False

    @property
    def typing(self) -> bool:
        """A change of the field is waiting out the debounce (no request sent for it yet)."""
        return self._debounce is not None

    def compose_body(self) -> ComposeResult:
        yield Static(_("screen.lookup"), id="screen-title")
        yield Input(placeholder=_("lookup.placeholder"), id="query", max_length=40)
        yield Static("", id="lookup-info", markup=False)
        table: DataTable[str | Text] = DataTable(
            id="results", cursor_type="row", zebra_stripes=True
        )
        for key, msgid in COLUMNS:
            table.add_column(_(msgid), key=key)
        yield table
        yield Static(_("lookup.empty"), id="lookup-empty", markup=False)

    def on_mount(self) -> None:
        self.query_one("#results", DataTable).display = False
        self.query_one("#query", Input).focus()

    # --- typing --------------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "query":
            return
        event.stop()
        self._cancel_debounce()
        self._open_when_single = False
        query = event.value
        if not query.strip():
            self._seq += 1
            self.workers.cancel_group(self, "search")
            self._show(None, 0)
            return
        self._debounce = self.set_timer(DEBOUNCE_SECONDS, lambda: self._request(query))

    def _cancel_debounce(self) -> None:
        if self._debounce is not None:
            self._debounce.stop()
            self._debounce = None

    def _request(
        self, query: str, *, after: str | None = None, before: str | None = None, number: int = 1
    ) -> None:
        self._debounce = None
        self._seq += 1
        self._search(self._seq, query, after, before, number)

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="search",
        description="search customers",
    )
    def _search(
        self, seq: int, query: str, after: str | None, before: str | None, number: int
    ) -> None:
        from desk.services.search import search_customers

        page = search_customers(
            self.signed_in.db,
            actor=self.actor,
            query=query,
            after=after,
            before=before,
            limit=PAGE_SIZE,
        )
        if not get_current_worker().is_cancelled:
            self.post_message(self.ResultsLoaded(seq, page, number))

    def on_lookup_screen_results_loaded(self, event: ResultsLoaded) -> None:
        if event.seq != self._seq:
            return  # an answer to a query the agent has typed past
        self._show(event.page, event.number)
        if self._open_when_single:
            self._open_when_single = False
            self._enter_result()

    # --- showing -------------------------------------------------------------------------

    def _show(self, page: SearchPage | None, number: int) -> None:
        self.page = page
        self.page_number = number
        table = self.query_one("#results", DataTable)
        empty = self.query_one("#lookup-empty", Static)
        info = self.query_one("#lookup-info", Static)
        table.clear(columns=True)  # widths follow the page shown, not every page seen
        for key, msgid in COLUMNS:
            table.add_column(_(msgid), key=key)
        if page is None:
            empty.update(_("lookup.empty"))
        elif not page.kinds:
            empty.update(unsearchable_text(page))
        elif not page.hits:
            empty.update(_("lookup.no_match", query=page.query.strip()))
        else:
            for hit in page.hits:
                table.add_row(*hit_cells(hit), key=str(hit.id))
        has_rows = bool(page and page.hits)
        table.display = has_rows
        empty.display = not has_rows
        if page is not None and page.hits:
            info.update(
                _(
                    "lookup.info",
                    page=number,
                    matches=matches_text(page),
                    kinds=_("lookup.kind_separator").join(kind_label(k) for k in page.kinds),
                )
            )
        else:
            info.update("")
        self.refresh_bindings()

    # --- keys ----------------------------------------------------------------------------

    def check_action(self, action: str, _parameters: tuple[object, ...]) -> bool | None:
        if action == "next_page":
            return bool(self.page and self.page.next_cursor) or None
        if action == "prev_page":
            return bool(self.page and self.page.prev_cursor) or None
        if action == "focus_results":  # from the field only; in the table Down moves the cursor
            return self.focused is self.query_one("#query", Input)
        return True

    def action_next_page(self) -> None:
        page = self.page
        if page is None or page.next_cursor is None or self._debounce is not None:
            return
        self._request(page.query, after=page.next_cursor, number=self.page_number + 1)

    def action_prev_page(self) -> None:
        page = self.page
        if page is None or page.prev_cursor is None or self._debounce is not None:
            return
        self._request(page.query, before=page.prev_cursor, number=max(1, self.page_number - 1))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "query":
            return
        event.stop()
        if self._debounce is not None:  # Enter before the debounce fired: search now
            self._cancel_debounce()
            self._open_when_single = True
            self._request(event.value)
            return
        self._enter_result()

    def _enter_result(self) -> None:
        """Enter in the field: one hit opens its card, several move to the table."""
        page = self.page
        if page is None or not page.hits:
            return
        if len(page.hits) == 1:
            self._open(page.hits[0].id)
        else:
            self.action_focus_results()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self._open(int(event.row_key.value))

    def action_open_card(self) -> None:
        table = self.query_one("#results", DataTable)
        if table.has_focus and table.row_count:
            row_key, _column = table.coordinate_to_cell_key(table.cursor_coordinate)
            if row_key.value is not None:
                self._open(int(row_key.value))

    def action_focus_results(self) -> None:
        table = self.query_one("#results", DataTable)
        if table.row_count:
            self.set_focus(table)

    def action_back(self) -> None:
        query = self.query_one("#query", Input)
        if query.has_focus:
            # after the keys already sent to the field, before the ones typed after Esc
            query.call_later(setattr, query, "value", "")
        else:
            self.set_focus(query)

    def _open(self, customer_id: int) -> None:
        from desk.screens.card import CustomerCardScreen

        self.app.push_screen(CustomerCardScreen(self.signed_in, customer_id))
