"""F3, the work-order queue: the queue beside the selected work order, and a strip of the
shift's live figures.

- **Views** (the role's, from :data:`desk.rules.work_orders.QUEUE_VIEWS`): keys ``1``–``9``
  pick one, ``[``/``]`` step through them; a lead's last view is the inbox of messages
  (:mod:`desk.screens.inbox`).
- **Rows** by nearest deadline, each with its clock; ``PgDn``/``PgUp`` swap pages (keyset,
  :func:`desk.services.queue.work_order_queue`); ``f`` filters by type, branch, department and
  priority; ``Space`` marks rows for a batch dispatch; ``Enter`` opens the work order (as
  the preview read it when that was a moment ago, else read first).
- **Actions** by key on the selected (or marked) orders: :mod:`desk.screens.order_actions`.
- **Other terminals**: once a second a worker reads the change counters (one row each,
  :func:`desk.services.changes.counters`); only when one moved is the page read again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, ScreenStackError
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from desk.i18n import N_, vocab_label
from desk.i18n import gettext as _
from desk.rules.permissions import Permission, can
from desk.rules.vocab import Priority, RequestType, WorkOrderStatus
from desk.rules.work_orders import QUEUE_VIEWS, Action, OrderState, QueueView
from desk.screens.base import SessionScreen, SignedIn
from desk.screens.forms import ActionForm, ChoiceField, TextField
from desk.screens.inbox import (
    INBOX,
    INBOX_BINDINGS,
    INBOX_COLUMNS,
    INBOX_KEYS,
    InboxActions,
    message_cells,
    render_message,
)
from desk.screens.order_actions import ACTION_BINDINGS, ACTION_KEYS, OrderActions, OrderRef
from desk.screens.work_order import (
    ESCALATION_LABELS,
    WorkOrderScreen,
    event_text,
    status_text,
)
from desk.widgets.clocks import clock_cell, short_time
from desk.widgets.format import local_time
from desk.widgets.painted import RenderedOnce
from desk.widgets.table import QuickTable

if TYPE_CHECKING:
    from desk.services.inbox import InboxPage, MessageRow
    from desk.services.queue import FloorDirectory, QueueFigures, QueueFilters, QueuePage
    from desk.services.work_orders import WorkOrderDetail

PAGE_SIZE = 50
POLL_SECONDS = 1.0
PREVIEW_DEBOUNCE = 0.15
# Enter shows the order as the preview read it when it was read this recently
PREVIEW_FRESH = timedelta(seconds=2 * POLL_SECONDS)

VIEW_LABELS: dict[str, str] = {
    QueueView.NEW.value: N_("queue.view.new"),
    QueueView.REPLIED.value: N_("queue.view.replied"),
    QueueView.RETURNED.value: N_("queue.view.returned"),
    QueueView.OVERDUE.value: N_("queue.view.overdue"),
    QueueView.CHASE.value: N_("queue.view.chase"),
    QueueView.MAJOR.value: N_("queue.view.major"),
    QueueView.DEPARTMENT.value: N_("queue.view.department"),
    QueueView.CALLBACKS.value: N_("queue.view.callbacks"),
    QueueView.ALL.value: N_("queue.view.all"),
    INBOX: N_("queue.view.inbox"),
}

COLUMNS: tuple[tuple[str, str], ...] = (
    ("mark", " "),
    ("number", N_("queue.col.number")),
    ("clock", N_("queue.col.clock")),
    ("title", N_("queue.col.title")),
    ("status", N_("queue.col.status")),
    ("type", N_("queue.col.type")),
    ("customer", N_("queue.col.customer")),
    ("department", N_("queue.col.department")),
)
# Below WIDE columns the selected order is not previewed beside the queue (Enter opens it)
# and the short columns a lead sorts by come before the title, which takes what is left.
WIDE = 120
NARROW_COLUMNS: tuple[tuple[str, str], ...] = (
    ("mark", " "),
    ("number", N_("queue.col.number")),
    ("clock", N_("queue.col.clock")),
    ("status", N_("queue.col.status")),
    ("type", N_("queue.col.type")),
    ("customer", N_("queue.col.customer")),
    ("title", N_("queue.col.title")),
    ("department", N_("queue.col.department")),
)


def columns_for(width: int) -> tuple[tuple[str, str], ...]:
    """The queue's columns for a screen ``width`` columns wide."""
    return COLUMNS if width >= WIDE else NARROW_COLUMNS


def set_columns(
    table: DataTable[Any], columns: Sequence[tuple[str, str]], *, fit: bool = False
) -> None:
    """Empty ``table`` for a new page. The columns stay when they are the ones wanted (a page
    swap, a reload), so the widths do not jump from page to page; else they are replaced (the
    inbox's or the queue's). ``fit`` (a first page: another view, other filters) lets the
    widths start again from the labels, fitted to the rows that come, rather than keep the
    widest cell of every view seen."""
    wanted = [(key, _(msgid) if msgid.strip() else msgid) for key, msgid in columns]
    current = [(str(column.key.value), column.label.plain) for column in table.ordered_columns]
    if current == wanted:
        table.clear()
        if fit:
            for column in table.ordered_columns:
                column.content_width = cell_len(column.label.plain)
        return
    table.clear(columns=True)
    for key, label in wanted:
        table.add_column(label, key=key)


def _plain(cell: str | Text) -> Text:
    """A cell as text, never as markup: the table parses a string cell as Rich markup (and
    emoji codes), which drops a name's ``[b]`` and costs a parse per cell and page."""
    return cell if isinstance(cell, Text) else Text(cell)


def views_of(signed_in: SignedIn) -> list[str]:
    """The role's views, and the inbox for those who turn messages into work orders."""
    views = [view.value for view in QUEUE_VIEWS.get(signed_in.actor.role, ())]
    if can(signed_in.actor, Permission.DISPATCH_WORK_ORDER):
        views.append(INBOX)
    return views


def render_preview(detail: WorkOrderDetail, now: datetime) -> Group:
    """The selected order beside the queue: what it is, where it stands, its clocks and the
    last few events (the whole history is one Enter away)."""
    order = detail.order
    head = Text(order.number, style="bold")
    parts: list[Any] = [head, Text(order.title), status_text(detail)]
    facts = Table.grid(padding=(0, 1))
    facts.add_column(style="dim", no_wrap=True)
    facts.add_column(overflow="fold")
    facts.add_row(
        _("work_order.category"),
        f"{vocab_label(order.category, RequestType)} · {vocab_label(order.priority, Priority)}",
    )
    facts.add_row(_("work_order.department"), Text(detail.department_name or _("work_order.none")))
    if detail.customer_name_masked:
        facts.add_row(_("work_order.customer"), Text(detail.customer_name_masked))
    parts.append(facts)
    clocks = Table.grid(padding=(0, 1))
    clocks.add_column(no_wrap=True)
    clocks.add_column(overflow="fold")
    from desk.widgets.clocks import clock_line_of

    for clock in detail.clocks:
        clocks.add_row(
            vocab_label(clock.kind),
            clock_line_of(clock, now),
        )
    parts.append(Text(""))
    parts.append(clocks)
    parts.append(Text(""))
    for event in detail.events[-4:]:
        line = Text(short_time(event.at, now) + " ", style="dim")
        line.append(event_text(event.kind, event.data))
        who = event.actor_name or _("work_order.desk")
        line.append(f" · {who}", style="dim")
        if event.reason:
            line.append(f"\n  {event.reason}")
        parts.append(line)
    return Group(*parts)


class QueueScreen(InboxActions, OrderActions, SessionScreen):
    TITLE_MSGID = N_("screen.queue")
    DEFAULT_CSS = """
    QueueScreen #queue-strip { height: 1; padding: 0 1; background: $boost; }
    QueueScreen #queue-views { height: auto; max-height: 2; padding: 0 1; }
    QueueScreen #queue-info { height: 1; padding: 0 1; color: $text-muted; }
    QueueScreen #queue-split { height: 1fr; }
    QueueScreen #queue-table { width: 3fr; height: 1fr; }
    QueueScreen #queue-empty { width: 3fr; height: 1fr; padding: 1 2; color: $text-muted; }
    QueueScreen #queue-preview { width: 2fr; min-width: 30; height: 1fr;
        border-left: solid $primary; padding: 0 1; }
    """
    BINDINGS = [
        Binding("enter", "open", N_("queue.key.open"), id="queue.open", show=False),
        Binding("pagedown", "next_page", N_("key.next_page"), id="queue.next_page", priority=True),
        Binding("pageup", "prev_page", N_("key.prev_page"), id="queue.prev_page", priority=True),
        Binding(
            "right_square_bracket",
            "step_view(1)",
            N_("queue.key.next_view"),
            id="queue.next_view",
            show=False,
        ),
        Binding(
            "left_square_bracket",
            "step_view(-1)",
            N_("queue.key.prev_view"),
            id="queue.prev_view",
            show=False,
        ),
        *(
            Binding(
                str(n), f"pick_view({n})", N_("queue.key.view"), id=f"queue.view_{n}", show=False
            )
            for n in range(1, 10)
        ),
        Binding("space", "mark", N_("queue.key.mark"), id="queue.mark", show=False),
        Binding("f", "filters", N_("queue.key.filters"), id="queue.filters"),
        Binding("g", "go_to", N_("queue.key.go_to"), id="queue.go_to"),
        Binding("ctrl+r", "reload", N_("wo_key.reload"), id="queue.reload", show=False),
        *ACTION_BINDINGS,
        *INBOX_BINDINGS,
    ]

    class PageLoaded(Message):
        def __init__(self, seq: int, page: QueuePage, number: int) -> None:
            super().__init__()
            self.seq = seq
            self.page = page
            self.number = number

    class InboxLoaded(Message):
        def __init__(self, seq: int, page: InboxPage, number: int) -> None:
            super().__init__()
            self.seq = seq
            self.page = page
            self.number = number

    class FiguresLoaded(Message):
        def __init__(self, figures: QueueFigures | None) -> None:
            super().__init__()
            self.figures = figures

    class PreviewLoaded(Message):
        def __init__(self, detail: WorkOrderDetail) -> None:
            super().__init__()
            self.detail = detail

    class DirectoryLoaded(Message):
        def __init__(self, directory: FloorDirectory) -> None:
            super().__init__()
            self.directory = directory

    class OrderRead(Message):
        """The order to open (Enter) has been read."""

        def __init__(self, detail: WorkOrderDetail) -> None:
            super().__init__()
            self.detail = detail

    class Changed(Message):
        """Another terminal (or this one) changed work orders or messages."""

    def __init__(self, signed_in: SignedIn) -> None:
        super().__init__(signed_in)
        self.views = views_of(signed_in)
        self.view = self.views[0] if self.views else QueueView.ALL.value
        self.filters: QueueFilters | None = None
        self.page: QueuePage | None = None
        self.inbox_page: InboxPage | None = None
        self.page_number = 1
        self.marked: dict[int, OrderRef] = {}
        self.preview: WorkOrderDetail | None = None
        self.directory: FloorDirectory | None = None
        self.figures: QueueFigures | None = None
        self._seq = 0
        self._request: tuple[str | None, str | None, int] = (None, None, 1)
        self._seen: dict[str, int] | None = None
        # The strip's counts: read at most once at a time, again only when asked meanwhile.
        self._figures_reading = False
        self._figures_again = False
        self._preview_timer: Timer | None = None
        self._order_screen: WorkOrderScreen | None = None
        # the view and filters the columns' widths were last fitted to (a first page)
        self._fitted: tuple[str, QueueFilters | None] | None = None

    # --- layout ----------------------------------------------------------------------------

    def compose_body(self) -> ComposeResult:
        yield Static("", id="queue-strip", markup=False)
        yield Static("", id="queue-views", markup=False)
        yield Static("", id="queue-info", markup=False)
        with Horizontal(id="queue-split"):
            table = QuickTable(id="queue-table", cursor_type="row", zebra_stripes=True)
            yield table
            yield Static(_("queue.empty"), id="queue-empty", markup=False)
            with VerticalScroll(id="queue-preview"):
                yield Static("", id="queue-preview-body")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#queue-empty", Static).display = False
        self._show_views()
        self._show_layout()
        self.query_one("#queue-table", DataTable).focus()
        self.load(None, None, 1)
        self._count()
        self._load_directory()
        self.set_interval(POLL_SECONDS, self._poll)

    # --- loading ---------------------------------------------------------------------------

    def load(self, after: str | None, before: str | None, number: int) -> None:
        self._seq += 1
        self._request = (after, before, number)
        if self.view == INBOX:
            self._read_inbox(self._seq, after, before, number)
            return
        self._read_page(self._seq, QueueView(self.view), self.filters, after, before, number)

    def reload(self) -> None:
        after, before, number = self._request
        self.load(after, before, number)
        self._count()

    def on_screen_resume(self) -> None:
        """Back on the queue (a work order closed, F3 again): the change counters are read
        now, and the page and its counts again only if something changed meanwhile."""
        if self._seen is not None:
            self._poll()

    def _count(self) -> None:
        """The strip's counts, read again: never two reads at once (at 300,000 open orders
        each count is a walk of an index; they queued up behind each other)."""
        if self._figures_reading:
            self._figures_again = True
            return
        self._figures_reading = True
        self._load_figures()

    @work(thread=True, exclusive=True, exit_on_error=False, group="queue-page")
    def _read_page(
        self,
        seq: int,
        view: QueueView,
        filters: QueueFilters | None,
        after: str | None,
        before: str | None,
        number: int,
    ) -> None:
        from desk.services.queue import work_order_queue

        page = work_order_queue(
            self.signed_in.db,
            actor=self.actor,
            view=view,
            filters=filters,
            after=after,
            before=before,
            limit=PAGE_SIZE,
            policy=self.signed_in.backend.policy,
        )
        if not get_current_worker().is_cancelled:
            self.post_message(self.PageLoaded(seq, page, number))

    @work(thread=True, exclusive=True, exit_on_error=False, group="queue-page")
    def _read_inbox(self, seq: int, after: str | None, before: str | None, number: int) -> None:
        from desk.services.inbox import inbox_page

        page = inbox_page(
            self.signed_in.db, actor=self.actor, after=after, before=before, limit=PAGE_SIZE
        )
        if not get_current_worker().is_cancelled:
            self.post_message(self.InboxLoaded(seq, page, number))

    @on(InboxLoaded)
    def _inbox_loaded(self, event: InboxLoaded) -> None:
        if event.seq != self._seq or self.view != INBOX:
            return
        self._show_inbox(event.page, event.number)

    def _show_inbox(self, page: InboxPage, number: int) -> None:
        self.inbox_page = page
        self.page_number = number
        table: DataTable[Any] = self.query_one("#queue-table", DataTable)
        empty = self.query_one("#queue-empty", Static)
        previous = self._current_id()
        set_columns(table, INBOX_COLUMNS, fit=self._fit(number))
        for message in page.rows:
            table.add_row(*map(_plain, message_cells(message, page.read_at)), key=str(message.id))
        has_rows = bool(page.rows)
        table.display = has_rows
        empty.display = not has_rows
        if not has_rows:
            empty.update(_("inbox.empty"))
            self.query_one("#queue-preview-body", Static).update("")
        elif previous is not None:
            index = next((i for i, row in enumerate(page.rows) if row.id == previous), None)
            if index is not None:
                table.move_cursor(row=index)
        info = _("inbox.info", page=number, count=len(page.rows)) if has_rows else ""
        self.query_one("#queue-info", Static).update(info)
        self.refresh_bindings()
        self._show_message()

    def _show_message(self) -> None:
        message = self.current_message()
        body = self.query_one("#queue-preview-body", Static)
        if message is None or self.inbox_page is None:
            body.update("")
            return
        body.update(render_message(message, self.inbox_page.read_at))

    def current_message(self) -> MessageRow | None:
        if self.view != INBOX or self.inbox_page is None:
            return None
        current = self._current_id()
        return next((row for row in self.inbox_page.rows if row.id == current), None)

    def after_inbox_action(self, name: str, result: object) -> None:
        from desk.services.work_orders import WorkOrderView

        if isinstance(result, WorkOrderView):
            self.notify(_("inbox.converted", number=result.number), markup=False)
        else:
            self.notify(_("inbox.done", action=_(INBOX_KEYS_LABEL[name])), markup=False)
        self.reload()

    @work(thread=True, exclusive=True, exit_on_error=False, group="queue-figures")
    def _load_figures(self) -> None:
        from desk.services.queue import queue_figures

        figures = None
        try:
            figures = queue_figures(
                self.signed_in.db, actor=self.actor, policy=self.signed_in.backend.policy
            )
        finally:  # read or failed: the next read may start
            self.post_message(self.FiguresLoaded(figures))

    @work(thread=True, exclusive=True, exit_on_error=False, group="queue-directory")
    def _load_directory(self) -> None:
        from desk.services.queue import floor_directory

        self.post_message(
            self.DirectoryLoaded(floor_directory(self.signed_in.db, actor=self.actor))
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="queue-poll")
    def _poll(self) -> None:
        from desk.services.changes import Topic, counters

        values = counters(self.signed_in.db, list(Topic))
        seen = {topic.value: value for topic, value in values.items()}
        if self._seen is not None and seen != self._seen:
            self.post_message(self.Changed())
        self._seen = seen

    @on(Changed)
    def _changed(self) -> None:
        preview, self.preview = self.preview, None  # Enter reads it until it is read again
        self.reload()
        if preview is not None:
            self._read_preview(preview.order.id)

    @on(DirectoryLoaded)
    def _directory_loaded(self, event: DirectoryLoaded) -> None:
        self.directory = event.directory

    @on(FiguresLoaded)
    def _figures_loaded(self, event: FiguresLoaded) -> None:
        self._figures_reading = False
        if self._figures_again:
            self._figures_again = False
            self._count()
        if event.figures is None:
            return
        self.figures = event.figures
        self._show_strip()
        self._show_views()

    @on(PageLoaded)
    def _page_loaded(self, event: PageLoaded) -> None:
        if event.seq != self._seq:
            return
        self._show(event.page, event.number)

    # --- showing ---------------------------------------------------------------------------

    def _show_strip(self) -> None:
        from desk.services.queue import COUNT_CAP

        figures = self.figures
        if figures is None:
            return
        text = Text()
        labels = [
            (QueueView.NEW, N_("queue.fig.new"), ""),
            (QueueView.REPLIED, N_("queue.fig.replied"), ""),
            (QueueView.DEPARTMENT, N_("queue.fig.department"), ""),
            (QueueView.OVERDUE, N_("queue.fig.overdue"), "bold red"),
            (QueueView.CHASE, N_("queue.fig.chase"), "magenta"),
            (QueueView.MAJOR, N_("queue.fig.major"), "bold red"),
            (QueueView.CALLBACKS, N_("queue.fig.callbacks"), ""),
        ]
        for view, msgid, style in labels:
            if view not in figures.counts:
                continue
            count = figures.counts[view]
            if text:
                text.append(" · ")
            shown = f"{COUNT_CAP}+" if count > COUNT_CAP else str(count)
            text.append(_(msgid, count=shown), style=style if count else "")
        if figures.inbox_waiting is not None:
            text.append(" · ")
            text.append(_("queue.fig.inbox", count=figures.inbox_waiting))
            if figures.inbox_overdue:
                text.append(" ")
                text.append(_("queue.fig.inbox_late", count=figures.inbox_overdue), "bold red")
        self.query_one("#queue-strip", Static).update(text)

    def _show_views(self) -> None:
        text = Text()
        for n, view in enumerate(self.views, start=1):
            label = f"{n} {_(VIEW_LABELS[view])}"
            if text:
                text.append("  ")
            text.append(label, style="bold reverse" if view == self.view else "")
        self.query_one("#queue-views", Static).update(text)

    @property
    def narrow(self) -> bool:
        return self.size.width < WIDE

    def _columns(self, table: DataTable[Any], *, fit: bool) -> None:
        set_columns(table, columns_for(self.size.width), fit=fit)

    def _fit(self, number: int) -> bool:
        """Are the columns' widths fitted again to the page shown (``number``)? For the first
        page of another view or other filters only: back on page 1 of the same view (PgUp, a
        change read again) they stay as they are, as on any other page, so the table keeps
        its width and is not laid out again (its widths shrank to page 1's, then grew back at
        the next PgDn, each time a layout and a second frame for the scrollbars)."""
        shown = (self.view, self.filters)
        if number != 1 or shown == self._fitted:
            return False
        self._fitted = shown
        return True

    def _show_layout(self) -> None:
        """The preview beside the queue on a wide screen; the inbox keeps it (its text)."""
        self.query_one("#queue-preview").display = self.view == INBOX or not self.narrow

    def on_resize(self) -> None:
        self._show_layout()
        if self.view == INBOX or self.page is None:
            return
        table: DataTable[Any] = self.query_one("#queue-table", DataTable)
        shown = [str(column.key.value) for column in table.ordered_columns]
        if shown != [key for key, _msgid in columns_for(self.size.width)]:
            self._show(self.page, self.page_number)

    def _show(self, page: QueuePage, number: int) -> None:
        self.page = page
        self.page_number = number
        # read again for the row the cursor is on once this page is shown (Enter reads the
        # order meanwhile): the page may have been read for a change to that order
        self.preview = None
        table = self.query_one("#queue-table", QuickTable)
        empty = self.query_one("#queue-empty", Static)
        previous = self._current_id()
        self._columns(table, fit=self._fit(number))
        keys = [str(column.key.value) for column in table.ordered_columns]
        now = page.read_at
        lines: list[tuple[str, list[Text]]] = []
        for row in page.rows:
            mark = Text("✓", style="bold green") if row.id in self.marked else Text(" ")
            title = Text(row.title)
            if row.is_major:
                title = Text(_("work_order.major") + " ", style="bold red") + title
            status = vocab_label(row.status, WorkOrderStatus)
            level = ESCALATION_LABELS.get(row.escalation_level)
            if level and row.status is not WorkOrderStatus.CLOSED:
                status += f" · {_(level)}"
            cells: dict[str, str | Text] = {
                "mark": mark,
                "number": row.number,
                "clock": clock_cell(
                    clock=row.next_clock,
                    due_at=row.next_due,
                    remaining=row.remaining,
                    now=now,
                    waiting_reason=row.waiting_reason,
                ),
                "title": title,
                "status": status,
                "type": vocab_label(row.category, RequestType),
                "customer": row.customer_name or "-",
                "department": row.department_name or "-",
            }
            lines.append((str(row.id), [_plain(cells[key]) for key in keys]))
        table.add_text_rows(lines)
        has_rows = bool(page.rows)
        table.display = has_rows
        empty.display = not has_rows
        if not has_rows:
            empty.update(_("queue.empty_filtered") if page.filters.active else _("queue.empty"))
            self.preview = None
            self.query_one("#queue-preview-body", Static).update("")
        elif previous is not None:
            index = next((i for i, row in enumerate(page.rows) if row.id == previous), None)
            if index is not None:
                table.move_cursor(row=index)
        self._show_info()
        self.refresh_bindings()
        if has_rows:
            self._schedule_preview()

    def _show_info(self) -> None:
        page = self.page
        parts = []
        if page is not None and page.rows:
            parts.append(_("queue.info", page=self.page_number, count=len(page.rows)))
        if self.filters is not None and self.filters.active:
            parts.append(_("queue.filtered", filters=self._filter_text()))
        if self.marked:
            parts.append(_("queue.marked", count=len(self.marked)))
        # one line whatever it says: no layout of the screen for it
        self.query_one("#queue-info", Static).update(" · ".join(parts), layout=False)

    def _filter_text(self) -> str:
        filters = self.filters
        if filters is None:
            return ""
        parts = []
        if filters.category is not None:
            parts.append(vocab_label(filters.category))
        if filters.priority is not None:
            parts.append(vocab_label(filters.priority))
        directory = self.directory
        if filters.department_id is not None and directory is not None:
            parts.extend(d.name for d in directory.departments if d.id == filters.department_id)
        if filters.branch_id is not None and directory is not None:
            parts.extend(b.name for b in directory.branches if b.id == filters.branch_id)
        return ", ".join(parts)

    # --- the selected order ----------------------------------------------------------------

    def _current_id(self) -> int | None:
        table: DataTable[Any] = self.query_one("#queue-table", DataTable)
        rows = self.inbox_page.rows if self.view == INBOX and self.inbox_page else None
        if rows is None and self.page is not None:
            rows = self.page.rows  # type: ignore[assignment]
        if not table.row_count or not rows:
            return None
        row_key, _column = table.coordinate_to_cell_key(table.cursor_coordinate)
        return int(row_key.value) if row_key.value is not None else None

    def _current_row(self) -> Any:
        current = self._current_id()
        if current is None or self.page is None or self.view == INBOX:
            return None
        return next((row for row in self.page.rows if row.id == current), None)

    @on(DataTable.RowHighlighted, "#queue-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if self.view == INBOX:
            self._show_message()
        else:
            self._schedule_preview()
        self.refresh_bindings()

    @on(DataTable.RowSelected, "#queue-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def _schedule_preview(self) -> None:
        if self._preview_timer is not None:
            self._preview_timer.stop()
        current = self._current_id()
        if current is None:
            return
        self._preview_timer = self.set_timer(PREVIEW_DEBOUNCE, lambda: self._read_preview(current))

    def _detail(self, work_order_id: int) -> WorkOrderDetail:
        """The order with its history and clocks (in a worker's thread)."""
        from desk.services.work_orders import work_order_detail

        return work_order_detail(
            self.signed_in.db,
            actor=self.actor,
            work_order_id=work_order_id,
            policy=self.signed_in.backend.policy,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="queue-preview")
    def _read_preview(self, work_order_id: int) -> None:
        detail = self._detail(work_order_id)
        if not get_current_worker().is_cancelled:
            self.post_message(self.PreviewLoaded(detail))

    @on(PreviewLoaded)
    def _preview_loaded(self, event: PreviewLoaded) -> None:
        if event.detail.order.id != self._current_id():
            return
        self.preview = event.detail
        body = self.query_one("#queue-preview-body", Static)
        body.update(RenderedOnce(body, render_preview(event.detail, event.detail.read_at)))

    # --- keys ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        inbox = self.view == INBOX
        if action == "order_action":
            return False if inbox else self.order_action_allowed(str(parameters[0]))
        if action == "inbox_action":
            return self.inbox_action_allowed(str(parameters[0])) if inbox else False
        current: Any = self.inbox_page if inbox else self.page
        if action == "next_page":
            return bool(current and current.next_cursor) or None
        if action == "prev_page":
            return bool(current and current.prev_cursor) or None
        if action == "pick_view":
            return int(str(parameters[0])) <= len(self.views)
        if action in ("mark", "open"):
            return not inbox and self._current_id() is not None
        if action == "filters":
            return not inbox
        return True

    def action_next_page(self) -> None:
        current: Any = self.inbox_page if self.view == INBOX else self.page
        if current is not None and current.next_cursor is not None:
            self.load(current.next_cursor, None, self.page_number + 1)

    def action_prev_page(self) -> None:
        current: Any = self.inbox_page if self.view == INBOX else self.page
        if current is not None and current.prev_cursor is not None:
            self.load(None, current.prev_cursor, max(1, self.page_number - 1))

    def action_pick_view(self, number: int) -> None:
        if 1 <= number <= len(self.views):
            self.switch_view(self.views[number - 1])

    def action_step_view(self, step: int) -> None:
        if self.views:
            index = (self.views.index(self.view) + step) % len(self.views)
            self.switch_view(self.views[index])

    def switch_view(self, view: str) -> None:
        if view == self.view:
            return
        self.view = view
        self.marked.clear()
        self.preview = None
        self.page = None
        self.inbox_page = None
        self.query_one("#queue-preview-body", Static).update("")
        self._show_views()
        self._show_layout()
        self.load(None, None, 1)
        self.refresh_bindings()

    def action_mark(self) -> None:
        row = self._current_row()
        if row is None:
            return
        if row.id in self.marked:
            del self.marked[row.id]
        else:
            self.marked[row.id] = self._ref(row)
        table: DataTable[Any] = self.query_one("#queue-table", DataTable)
        mark = Text("✓", style="bold green") if row.id in self.marked else Text(" ")
        table.update_cell(str(row.id), "mark", mark)
        table.action_cursor_down()
        self._show_info()
        self.refresh_bindings()

    def action_open(self) -> None:
        current = self._current_id()
        if current is None:
            return
        preview = self.preview
        if (
            preview is not None
            and preview.order.id == current
            and self.signed_in.db.clock.now() - preview.read_at <= PREVIEW_FRESH
        ):
            # read a moment ago for the preview (and again whenever the change counters
            # moved): shown as it is, its clocks as they were a second ago at most
            self.open_order(current, preview)
            return
        self._read_to_open(current)

    @work(thread=True, exclusive=True, exit_on_error=False, group="queue-open")
    def _read_to_open(self, work_order_id: int) -> None:
        """The order read before its screen is shown: the screen is laid out and painted
        once, with the order, not first with the order shown before (or a loading line) and
        again when the read came back meanwhile."""
        detail = self._detail(work_order_id)
        if not get_current_worker().is_cancelled:
            self.post_message(self.OrderRead(detail))

    @on(OrderRead)
    def _order_read(self, event: OrderRead) -> None:
        if self.is_current:  # not when the lead went elsewhere meanwhile
            self.open_order(event.detail.order.id, event.detail)

    def open_order(self, work_order_id: int, detail: WorkOrderDetail | None = None) -> None:
        """The queue's one work-order screen, showing ``work_order_id`` (``detail`` when it
        has just been read: not read again)."""
        screen = self._order_screen
        if screen is None:
            screen = WorkOrderScreen(
                self.signed_in, work_order_id, directory=self.directory, detail=detail
            )
            self.app.install_screen(screen, f"queue-work-order-{id(self)}")
            self._order_screen = screen
        else:
            screen.show_order(work_order_id, detail)
        # Back on the queue its resume reads the change counters: the page and the counts
        # are read again only when the order (or any other) changed meanwhile.
        self.app.push_screen(screen)

    def on_unmount(self) -> None:
        """The kept work-order screen goes with the queue (signed out)."""
        screen, self._order_screen = self._order_screen, None
        if screen is None:
            return
        try:
            self.app.uninstall_screen(screen)
        except ScreenStackError:
            return  # still shown somewhere: Textual removes it when it is popped
        screen.remove()

    def action_reload(self) -> None:
        self.reload()

    def action_go_to(self) -> None:
        """Open any work order by its number (a closed one too: to reopen it)."""
        signed_in = self.signed_in

        def run(values: Any) -> WorkOrderDetail:
            from desk.services.work_orders import work_order_detail

            return work_order_detail(
                signed_in.db,
                actor=signed_in.actor,
                number=values["number"],
                policy=signed_in.backend.policy,
            )

        def found(detail: WorkOrderDetail | None) -> None:
            if detail is not None:  # shown as read, on the queue's work-order screen
                self.open_order(detail.order.id, detail)

        field = TextField("number", _("queue.go_to.number"), required=True, max_length=20)
        self.app.push_screen(ActionForm(_("queue.go_to.title"), [field], run), found)

    def action_filters(self) -> None:
        from desk.services.queue import QueueFilters

        directory = self.directory
        current = self.filters or QueueFilters()
        fields = [
            ChoiceField(
                "category",
                _("queue.filter.category"),
                tuple((c.value, vocab_label(c)) for c in RequestType),
                value=current.category.value if current.category else None,
                required=False,
            ),
            ChoiceField(
                "priority",
                _("queue.filter.priority"),
                tuple((p.value, vocab_label(p)) for p in Priority),
                value=current.priority.value if current.priority else None,
                required=False,
            ),
            ChoiceField(
                "department",
                _("queue.filter.department"),
                tuple((str(d.id), d.name) for d in directory.departments) if directory else (),
                value=str(current.department_id) if current.department_id else None,
                required=False,
            ),
            ChoiceField(
                "branch",
                _("queue.filter.branch"),
                tuple((str(b.id), b.name) for b in directory.branches) if directory else (),
                value=str(current.branch_id) if current.branch_id else None,
                required=False,
            ),
        ]

        def run(values: Any) -> QueueFilters:
            return QueueFilters(
                category=RequestType(values["category"]) if values["category"] else None,
                priority=Priority(values["priority"]) if values["priority"] else None,
                department_id=int(values["department"]) if values["department"] else None,
                branch_id=int(values["branch"]) if values["branch"] else None,
            )

        def chosen(result: QueueFilters | None) -> None:
            if result is None:
                return
            self.filters = result
            self.marked.clear()
            self.load(None, None, 1)

        self.app.push_screen(ActionForm(_("queue.filter.title"), fields, run), chosen)

    # --- the order actions -----------------------------------------------------------------

    @staticmethod
    def _ref(row: Any) -> OrderRef:
        return OrderRef(
            id=row.id,
            number=row.number,
            version=row.version,
            state=OrderState(
                status=row.status,
                paused=row.waiting_reason is not None,
                category=row.category,
                department_id=row.department_id,
                escalation_level=row.escalation_level,
                center_owned=row.center_owned,
            ),
            children=0,
        )

    def current_orders(self, action: Action) -> Sequence[OrderRef]:
        if action is Action.DISPATCH and self.marked:
            return list(self.marked.values())
        row = self._current_row()
        if row is None:
            return ()
        ref = self._ref(row)
        preview = self.preview
        if preview is not None and preview.order.id == row.id:
            open_children = sum(
                1 for c in preview.children if c.status is not WorkOrderStatus.CLOSED
            )
            ref = OrderRef(ref.id, ref.number, ref.version, ref.state, open_children)
        return [ref]

    def after_action(self, action: Action, result: object) -> None:
        from desk.services.work_order_actions import DispatchResult

        if isinstance(result, DispatchResult):
            self.marked.clear()
            text = _("queue.dispatched_several", count=len(result.dispatched))
            for conflict in result.conflicts:
                who = conflict.changed_by or _("work_order.desk")
                if conflict.changed_at is not None:
                    text += "\n" + _(
                        "queue.dispatch_conflict",
                        number=conflict.number,
                        who=who,
                        at=local_time(conflict.changed_at, "%H:%M:%S"),
                    )
                else:
                    text += f"\n{conflict.number}: {conflict.message}"
            self.notify(
                text, severity="warning" if result.conflicts else "information", markup=False
            )
        else:
            number = getattr(result, "number", "")
            self.notify(
                _("queue.done", action=_(ACTION_KEYS[action][1]), number=number), markup=False
            )
        self.reload()


INBOX_KEYS_LABEL = {name: msgid for name, (_key, msgid) in INBOX_KEYS.items()}
