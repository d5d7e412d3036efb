"""The consent and on-behalf boxes read without colour: a mark only when ticked."""

from __future__ import annotations

from textual.app import App, ComposeResult

from desk.widgets.tickbox import Tickbox


class _Box(App[None]):
    def compose(self) -> ComposeResult:
        yield Tickbox("The caller agrees", id="box", compact=True)


async def test_the_mark_shows_only_when_ticked() -> None:
    app = _Box()
    async with app.run_test(size=(40, 3)) as pilot:
        box = app.query_one("#box", Tickbox)
        assert "▐ ▌" in box.render().plain
        box.focus()
        await pilot.press("space")
        assert box.value
        assert "▐X▌" in box.render().plain
        await pilot.press("space")
        assert not box.value
        assert "X" not in box.render().plain.split("The caller")[0]
