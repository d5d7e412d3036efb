"""Keys are data (every binding has an id and a translated description) and the formats
the screens write values in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rich.cells import cell_len
from textual.binding import Binding

from desk.app import DeskApp
from desk.i18n import catalog
from desk.rules.permissions import Actor
from desk.rules.vocab import Role
from desk.screens.card import CustomerCardScreen
from desk.screens.dialogs import ChoiceDialog, ErrorDialog, KeymapDialog
from desk.screens.lookup import LookupScreen
from desk.screens.registry import SCREENS, main_screen, permitted
from desk.widgets.format import local_time, pad_cells, yuan
from desk.widgets.keys import key_label

BOUND = [DeskApp, LookupScreen, CustomerCardScreen, ErrorDialog, KeymapDialog, ChoiceDialog]


@pytest.mark.parametrize("owner", BOUND, ids=lambda owner: owner.__name__)
def test_every_binding_has_an_id_and_a_msgid_description(owner: type) -> None:
    bindings = [binding for binding in owner.BINDINGS if isinstance(binding, Binding)]
    assert len(bindings) == len(owner.BINDINGS)
    for binding in bindings:
        assert binding.id, binding
        if not binding.system:
            assert binding.description in catalog("en"), binding


def test_each_registered_screen_has_a_key_a_title_and_a_permission() -> None:
    keys = [screen.key for screen in SCREENS]
    assert len(set(keys)) == len(keys)
    assert {screen.id for screen in SCREENS} == {
        "workspace",
        "queue",
        "lookup",
        "callbacks",
        "handover",
        "dashboard",
        "quality",
    }
    for screen in SCREENS:
        assert screen.title in catalog("en")
    assert [s.id for s in permitted(Actor(1, "a", Role.AGENT))] == [
        "workspace",
        "queue",
        "lookup",
        "callbacks",
    ]
    assert [s.id for s in permitted(Actor(1, "l", Role.LEAD))] == [
        "workspace",
        "queue",
        "lookup",
        "callbacks",
        "handover",
        "dashboard",
        "quality",
    ]
    assert [s.id for s in permitted(Actor(1, "h", Role.HANDLER))] == ["queue"]
    assert permitted(Actor(1, "x", Role.ADMIN)) == []
    assert main_screen(Actor(1, "a", Role.AGENT)) == "workspace"
    assert main_screen(Actor(1, "l", Role.LEAD)) == "queue"
    assert main_screen(Actor(1, "s", Role.SUPERVISOR)) == "dashboard"
    assert main_screen(Actor(1, "x", Role.ADMIN)) is None


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("f1", "F1"),
        ("ctrl+p", "Ctrl+P"),
        ("pagedown", "PgDn"),
        ("escape", "Esc"),
        ("enter", "Enter"),
        ("right_square_bracket", "]"),
        ("left_square_bracket", "["),
        ("ctrl+full_stop", "Ctrl+."),
        ("g", "G"),
        ("E", "Shift+E"),  # confirm the escalation, beside e (propose it)
    ],
)
def test_key_labels(key: str, label: str) -> None:
    assert key_label(key) == label


@pytest.mark.parametrize(
    ("cents", "text"),
    [(1250, "¥12.50"), (0, "¥0.00"), (5, "¥0.05"), (123456789, "¥1,234,567.89"), (-5, "-¥0.05")],
)
def test_money_in_yuan_with_two_decimals(cents: int, text: str) -> None:
    assert yuan(cents) == text


def test_times_are_shown_in_shanghai_and_naive_ones_refused() -> None:
    assert local_time(datetime(2026, 11, 2, 16, 30, tzinfo=UTC)) == "2026-11-03 00:30"
    with pytest.raises(ValueError, match="naive"):
        local_time(datetime(2026, 11, 2, 16, 30))  # noqa: DTZ001 - the point of the test


def test_padding_counts_terminal_cells() -> None:
    assert cell_len(pad_cells("张三丰", 10)) == 10
    assert pad_cells("张三丰", 10) == "张三丰    "
    assert pad_cells("Li Lei", 10) == "Li Lei    "
