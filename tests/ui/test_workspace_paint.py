"""The workspace when a call starts and ends: what it paints and how little it redoes, and
that a call ended elsewhere never leaves a dialog over the screen (a call rung meanwhile would
wait behind it)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text
from textual.app import App, ComposeResult
from textual.content import Content
from textual.widgets import DataTable, Input, Static, TextArea

from desk.clock import FixedClock
from desk.infra.database import Database
from desk.rules.policy import load_policy
from desk.rules.vocab import ContactOutcome, RequestType
from desk.screens.workspace import WorkspaceScreen
from desk.screens.workspace_dialogs import RingDialog
from desk.services import contacts, ringing
from desk.widgets.notes import NotesArea
from desk.widgets.painted import RenderedOnce
from tests.ui.conftest import Notes, make_app, screen_text, settle, sign_in
from tests.workspace_world import LI_PHONE, ZHANG_PHONE, World, build_world

POLICY = load_policy()


@pytest.fixture
def world(sqlite_db: Database, clock: FixedClock) -> World:
    return build_world(sqlite_db, clock.now())


async def _wait_for(pilot: Any, condition: Any, tries: int = 60) -> None:
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(0.1)
    raise AssertionError("the console did not get there")


async def test_a_draft_saved_after_the_contact_closed_elsewhere_is_one_line(
    sqlite_db: Database, clock: FixedClock, world: World
) -> None:
    """The draft's save finds its contact closed (another terminal, a script): the agent is
    told in one line and the screen waits for the next call; no error dialog covers it, so a
    call rung next pops."""
    notes = Notes()
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(160, 48), message_hook=notes) as pilot:
        await sign_in(pilot, "agent1")
        screen = app.screen
        assert isinstance(screen, WorkspaceScreen)
        await pilot.press(*ZHANG_PHONE, "enter")
        await settle(pilot)
        contact = screen.contact
        assert contact is not None
        screen.query_one("#notes", TextArea).focus()
        await pilot.press(*"asks about roaming")  # a draft save is due 0.8 s from now
        draft = contacts.ContactDraft(
            request_type=RequestType.CONSULTATION,
            outcome=ContactOutcome.SETTLED,
            summary="closed by the other terminal",
        )
        contacts.close_contact(
            sqlite_db,
            actor=world.agent,
            contact_id=contact.id,
            version=contact.version,
            draft=draft,
        )
        await _wait_for(pilot, lambda: screen.contact is None)
        await settle(pilot)
        assert app.screen is screen
        assert any("closed elsewhere" in message for message in notes.messages)
        assert screen.focused is screen.query_one("#number", Input)
        ringing.ring(
            sqlite_db, actor=world.admin, number=LI_PHONE, agent_login="agent1", policy=POLICY
        )
        await _wait_for(pilot, lambda: isinstance(app.screen, RingDialog))


async def test_a_ring_declined_after_it_ended_elsewhere_leaves_the_console_ready(
    sqlite_db: Database, clock: FixedClock, world: World
) -> None:
    """Esc on a call that was already ended (declined elsewhere, hung up): nothing to decline,
    no error dialog; the next call pops."""
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(160, 48)) as pilot:
        await sign_in(pilot, "agent1")
        screen = app.screen
        assert isinstance(screen, WorkspaceScreen)
        first = ringing.ring(
            sqlite_db, actor=world.admin, number=ZHANG_PHONE, agent_login="agent1", policy=POLICY
        )
        await _wait_for(pilot, lambda: isinstance(app.screen, RingDialog))
        contacts.decline_ring(sqlite_db, actor=world.agent, contact_id=first.contact_id)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen
        ringing.ring(
            sqlite_db, actor=world.admin, number=LI_PHONE, agent_login="agent1", policy=POLICY
        )
        await _wait_for(pilot, lambda: isinstance(app.screen, RingDialog))
        await pilot.pause()
        assert "139****2222" in screen_text(pilot)


async def test_the_call_fields_show_with_a_contact_and_the_lit_pane_follows_the_focus(
    sqlite_db: Database, clock: FixedClock, world: World
) -> None:
    """Idle, the call pane holds the number alone; a contact shows its fields (shown, not
    enabled: nothing is restyled). The pane with the focus is lit by a class set when the
    focus crosses into it, one pane at a time."""
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(160, 48)) as pilot:
        await sign_in(pilot, "agent1")
        screen = app.screen
        assert isinstance(screen, WorkspaceScreen)
        fields = screen.query_one("#contact-fields")
        assert not fields.display
        assert screen.query_one("#call-pane").has_class("focus-pane")
        await pilot.press(*ZHANG_PHONE, "enter")
        await settle(pilot)
        assert fields.display
        assert not screen.query_one("#request-type").disabled
        assert screen.focused is screen.query_one("#request-type")
        await pilot.press("ctrl+g")  # the knowledge pane
        await pilot.pause()
        lit = [pane.id for pane in screen.query(".pane") if pane.has_class("focus-pane")]
        assert lit == ["kb-pane"]


class _Counted:
    """A renderable that counts how often it is rendered."""

    def __init__(self) -> None:
        self.renders = 0

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        self.renders += 1
        for number in range(12):
            yield Text(f"line {number} " + "x" * (number * 7))


async def test_a_card_is_rendered_once_for_its_layout_and_its_paint() -> None:
    """RenderedOnce paints what Textual's own render of the renderable paints, from one
    render of it; a plain Static renders it again to paint after measuring it."""
    counted, plain = _Counted(), _Counted()

    class Two(App[None]):
        def compose(self) -> ComposeResult:
            yield Static(id="once")
            yield Static(id="plain")

    app = Two()
    async with app.run_test(size=(60, 40)) as pilot:
        once = app.query_one("#once", Static)
        once.update(RenderedOnce(once, counted))
        app.query_one("#plain", Static).update(plain)
        await pilot.pause()
        await pilot.pause()
        assert counted.renders == 1
        assert plain.renders >= 2
        height = once.size.height
        assert height == app.query_one("#plain", Static).size.height > 12  # lines wrapped
        shown = screen_text(pilot).splitlines()
        assert shown[:height] == shown[height : 2 * height]  # the same lines, alike


async def test_empty_notes_wrap_their_placeholder_once_and_paint_as_a_text_area(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An empty NotesArea paints what TextArea paints (its placeholder, blank lines under
    it), wrapping the placeholder once per width instead of once per line."""
    placeholder = "Notes: what the caller asked, what was done " * 2

    class Both(App[None]):
        def compose(self) -> ComposeResult:
            yield NotesArea(id="ours", placeholder=placeholder, compact=True)
            yield TextArea(id="theirs", placeholder=placeholder, compact=True)

    wraps: list[int] = []
    real_wrap = Content.wrap

    def counting_wrap(self: Content, width: int, **options: Any) -> Any:
        wraps.append(width)
        return real_wrap(self, width, **options)

    app = Both()
    async with app.run_test(size=(40, 40)) as pilot:
        await pilot.pause()
        ours, theirs = app.query_one("#ours", NotesArea), app.query_one("#theirs", TextArea)
        assert ours.size == theirs.size
        monkeypatch.setattr(Content, "wrap", counting_wrap)
        lines_ours = [ours.render_line(y).text for y in range(ours.size.height)]
        ours_wraps = len(wraps)
        wraps.clear()
        lines_theirs = [theirs.render_line(y).text for y in range(theirs.size.height)]
        assert lines_ours == lines_theirs
        assert "Notes: what the caller" in lines_ours[0]
        assert ours.size.height > 5
        assert ours_wraps <= 4  # the placeholder's own lines (three at 40 columns), then none
        assert len(wraps) >= theirs.size.height  # TextArea: once per line


async def test_the_card_of_a_call_is_rendered_once(
    sqlite_db: Database, clock: FixedClock, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Enter on a caller's number: the card's renderable is rendered once for the layout
    and the paint together (the pane's style differs between the two: a cache keyed on it
    rendered the card twice)."""
    import desk.screens.workspace as workspace

    renders: list[int] = []
    real = workspace.render_card

    class Counting:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
            renders.append(options.max_width)
            yield self.inner

    monkeypatch.setattr(workspace, "render_card", lambda card: Counting(real(card)))
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(160, 48)) as pilot:
        await sign_in(pilot, "agent1")
        await pilot.press(*ZHANG_PHONE, "enter")
        await settle(pilot)
        await pilot.pause()
        assert "张*" in screen_text(pilot)
        # once: the pane always shows its scrollbar, so a card taller than the pane does
        # not narrow it after the first layout (a second layout, a second render)
        assert len(renders) == 1


async def test_a_session_freezes_what_it_loaded_out_of_the_collectors_sight(
    sqlite_db: Database, clock: FixedClock, world: World
) -> None:
    import gc

    gc.unfreeze()
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(160, 48)) as pilot:
        await sign_in(pilot, "agent1")
        await pilot.pause()
        assert gc.get_freeze_count() > 10_000
    gc.unfreeze()


async def test_neither_the_focus_nor_the_clock_repaints_the_whole_screen(
    sqlite_db: Database, clock: FixedClock, world: World
) -> None:
    """A call starting moves the focus to the request type, and the clock ticks each second:
    the widgets concerned repaint themselves, the screen is not composited again as a whole
    (Textual repaints the whole screen for a reactive of the screen or the app by default)."""
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(160, 48)) as pilot:
        await sign_in(pilot, "agent1")
        screen = app.screen
        assert isinstance(screen, WorkspaceScreen)
        whole: list[str] = []
        real = screen._set_dirty

        def spy(*regions: Any) -> None:
            if not regions:
                whole.append("screen")
            real(*regions)

        screen._set_dirty = spy  # type: ignore[method-assign]
        await pilot.press(*ZHANG_PHONE, "enter")
        await settle(pilot)
        assert screen.card is not None
        assert screen.focused is screen.query_one("#request-type")
        clock.advance(timedelta(seconds=1))
        app._tick()
        await settle(pilot)
        assert whole == []
        assert "00:01" in screen_text(pilot)  # the call's timer still moved


async def test_the_orders_table_is_filled_again_only_when_its_rows_change(
    sqlite_db: Database, clock: FixedClock, world: World
) -> None:
    """A caller without open orders after no caller at all: the table keeps its (empty) rows
    as they are, instead of being cleared and laid out again on the way to the card."""
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(160, 48)) as pilot:
        await sign_in(pilot, "agent1")
        screen = app.screen
        assert isinstance(screen, WorkspaceScreen)
        table = screen.query_one("#orders", DataTable)
        cleared: list[int] = []
        real = table.clear
        table.clear = lambda columns=False: (cleared.append(1), real(columns))[1]  # type: ignore[method-assign]
        await pilot.press(*ZHANG_PHONE, "enter")
        await settle(pilot)
        assert screen.card is not None
        assert screen.card.open_work_orders == ()
        assert table.row_count == 0
        assert cleared == []


async def test_a_card_appearing_lays_the_workspace_out_once_and_its_pane_scrolls(
    sqlite_db: Database, clock: FixedClock, world: World
) -> None:
    """Enter on a caller's number: the call's fields and the card are laid out in one layout
    (the card's body and its pane take their new sizes without asking for another; the
    fields, shown once before, keep theirs), and at 80×24, where the card is taller than its
    pane, the pane still scrolls to the card's last section."""
    from textual.screen import Screen

    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "agent1")
        screen = app.screen
        assert isinstance(screen, WorkspaceScreen)
        await pilot.press(*ZHANG_PHONE, "enter")  # the first call shows the fields' widgets
        await settle(pilot)
        first = screen.contact
        assert first is not None
        draft = contacts.ContactDraft(
            request_type=RequestType.CONSULTATION, outcome=ContactOutcome.SETTLED, summary="-"
        )
        contacts.close_contact(
            sqlite_db, actor=world.agent, contact_id=first.id, version=first.version, draft=draft
        )
        screen._idle()
        await pilot.press(*ZHANG_PHONE)
        await settle(pilot)
        layouts: list[int] = []
        real = Screen._refresh_layout

        def counting(self: Screen[Any], *args: Any, **kwargs: Any) -> None:
            layouts.append(1)
            real(self, *args, **kwargs)

        screen._refresh_layout = counting.__get__(screen)  # type: ignore[method-assign]
        await pilot.press("enter")
        await settle(pilot)
        await pilot.pause()
        assert screen.card is not None
        assert len(layouts) == 1
        pane = screen.query_one("#customer-pane")
        body = screen.query_one("#customer-body", Static)
        assert body.size.height > pane.scrollable_content_region.height
        assert pane.max_scroll_y == pane.virtual_size.height - pane.scrollable_content_region.height
        await pilot.press("ctrl+r", "end")
        await pilot.pause()
        assert pane.scroll_y == pane.max_scroll_y > 0
        assert "Recent contacts" in screen_text(pilot)
