"""A select picks the option typed, however fast the keys come: on the closed select, and
right after Enter opened it."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Select

from desk.widgets.select import TypeAheadSelect

FRUIT = [("Apple", "a"), ("Banana", "b"), ("Cherry", "c"), ("Blueberry", "bl")]


class _Form(App[None]):
    def __init__(self, kind: type[Select[str]]) -> None:
        super().__init__()
        self.kind = kind

    def compose(self) -> ComposeResult:
        yield self.kind(FRUIT, id="fruit", prompt="Fruit")


@pytest.mark.parametrize(
    ("keys", "value"),
    [
        (("b", "l", "u", "enter"), "bl"),  # typed on the closed select
        (("enter", "c", "h", "enter"), "c"),  # typed at once after Enter opened it
        (("enter", "b", "l", "enter"), "bl"),
    ],
)
async def test_every_key_typed_picks_the_option(keys: tuple[str, ...], value: str) -> None:
    app = _Form(TypeAheadSelect)
    async with app.run_test() as pilot:
        select = app.query_one("#fruit", Select)
        select.focus()
        await pilot.pause()
        await pilot.press(*keys)
        await pilot.pause()
        assert select.value == value
        assert not select.expanded


async def test_space_still_opens_the_list() -> None:
    app = _Form(TypeAheadSelect)
    async with app.run_test() as pilot:
        select = app.query_one("#fruit", Select)
        select.focus()
        await pilot.pause()
        await pilot.press("space")
        await pilot.pause()
        assert select.expanded


async def test_textuals_own_select_drops_the_letters_typed_on_it() -> None:
    """Why TypeAheadSelect exists: the same keys on Textual's Select pick nothing."""
    app = _Form(Select)
    async with app.run_test() as pilot:
        select = app.query_one("#fruit", Select)
        select.focus()
        await pilot.pause()
        await pilot.press("b", "l", "u", "enter")
        await pilot.pause()
        assert select.value != "bl"
