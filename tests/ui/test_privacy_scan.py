"""The privacy scan itself finds what it looks for: a full number split across two styles in
a screenshot, one in a log line, and lets through only what a capture says is unmasked."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Static

from desk.app import DeskApp
from desk.clock import FixedClock
from desk.infra.database import Database
from tests.ui.privacy import PrivacyScan, full_numbers, svg_text, textual_log_to

PHONE = "13800138000"
ID_CARD = "11010519491231002X"


class Painted(App[None]):
    def compose(self) -> ComposeResult:
        yield Static(f"[b]138[/b]00138000 & {ID_CARD[:9]}[i]{ID_CARD[9:]}[/i] 138****8000")


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (PHONE, [PHONE]),
        (f"tel:{PHONE}.", [PHONE]),
        (ID_CARD, [ID_CARD]),
        ("110105194912310021", ["110105194912310021"]),
        ("138****8000 110105********002X", []),
        ("WO20261102000013800138000", []),  # inside a longer run of digits
        ("12800138000", []),  # not a mobile number
    ],
)
def test_full_numbers(text: str, found: list[str]) -> None:
    assert full_numbers(text) == found


async def test_a_number_split_across_styles_is_found_in_the_screenshot() -> None:
    app = Painted()
    scan = PrivacyScan([PHONE])
    async with app.run_test(size=(80, 3)) as pilot:
        text = svg_text(app.export_screenshot())
        assert PHONE in text
        assert ID_CARD in text
        assert "138****8000" in text
        scan.take(pilot)
    assert {number for _where, number in scan.leaks()} == {PHONE, ID_CARD}
    with pytest.raises(AssertionError):
        scan.assert_clean()


async def test_a_capture_lets_through_only_what_it_unmasked() -> None:
    app = Painted()
    scan = PrivacyScan([PHONE])
    async with app.run_test(size=(80, 3)) as pilot:
        scan.take(pilot, unmasked=[PHONE])
    assert {number for _where, number in scan.leaks()} == {ID_CARD}
    scan.add("log", f"caller {PHONE}")
    assert ("log", PHONE) in scan.leaks()


async def test_the_console_never_writes_textuals_log_file(
    sqlite_db: Database, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = textual_log_to(monkeypatch, tmp_path / "textual.log")
    app = Painted()
    async with app.run_test(size=(80, 3)):
        pass
    assert log.read_text(encoding="utf-8")  # a plain Textual app writes it
    log.unlink()
    scan = PrivacyScan([PHONE], textual_log=log)
    async with DeskApp(database=sqlite_db, clock=clock).run_test(size=(80, 24)) as pilot:
        scan.take(pilot)
    assert not log.exists()
    scan.assert_clean()
