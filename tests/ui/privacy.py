"""The privacy scan of the workspace flows: every screen they paint and every log line they
write is searched for full phone and ID-card numbers.

What is scanned:

- each screen capture twice: the rendered text (what the terminal shows) and the SVG of
  :meth:`App.export_screenshot` (its text runs joined per line, so a number split across two
  styles is still found);
- Textual's log file (``TEXTUAL_LOG``), which would hold every key and every field's value:
  the console must not write it at all;
- every Python logging record of level INFO and above, the SQL engine's statements among
  them (as an operator who turns that log on would see them; their parameters are hidden);
- every notification the app posts, and every worker as it is printed (its description
  lists its arguments unless it names one);
- the audit log rows the flow wrote (action and detail);
- any other text a flow adds (the output of ``desk ring``).

A capture taken while a field is deliberately unmasked names the numbers it may show
(``unmasked=``); no other text may hold any full number.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import col, select
from textual.message import Message
from textual.notifications import Notify
from textual.pilot import Pilot
from textual.worker import Worker

from desk.infra.database import Database
from desk.models import AuditEntry

# A mobile number (11 digits, 1[3-9]…) or an ID-card number (17 digits and a digit or X) that
# is not part of a longer run of digits or stars.
FULL_NUMBERS = re.compile(r"(?<![0-9*])(1[3-9][0-9]{9}|[0-9]{17}[0-9Xx])(?![0-9])")
_SVG_RUN = re.compile(
    r'<text class="[^"]*" x="[^"]*" y="[^"]*" textLength="[^"]*" '
    r'clip-path="url\(#[^)]*-line-(\d+)\)">(.*?)</text>',
    re.S,
)


def svg_text(svg: str) -> str:
    """The terminal text of an ``export_screenshot`` SVG, one line per terminal row."""
    rows: dict[int, list[str]] = defaultdict(list)
    for row, run in _SVG_RUN.findall(svg):
        rows[int(row)].append(html.unescape(run).replace("\xa0", " "))
    return "\n".join("".join(rows[row]).rstrip("\n") for row in sorted(rows))


def full_numbers(text: str) -> list[str]:
    return FULL_NUMBERS.findall(text)


class PrivacyScan:
    """Collects what a flow shows and logs; :meth:`assert_clean` scans it all."""

    def __init__(
        self,
        secrets: Iterable[str],
        *,
        db: Database | None = None,
        caplog: pytest.LogCaptureFixture | None = None,
        textual_log: Path | None = None,
    ) -> None:
        self.secrets = tuple(secrets)
        self.texts: list[tuple[str, str, frozenset[str]]] = []  # (where, text, allowed)
        self.db = db
        self.caplog = caplog
        self.audit_from = 0
        if db is not None:
            self.mark_audit(db)
        if caplog is not None:  # restored by the fixture after the test
            caplog.set_level(logging.INFO)
            caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # every statement
        self.textual_log = textual_log
        self._textual_lines = 0

    # --- what is collected ------------------------------------------------------------------

    def add(self, where: str, text: str, *, unmasked: Iterable[str] = ()) -> None:
        self.texts.append((where, text, frozenset(unmasked)))

    def take(self, pilot: Pilot[Any], *, unmasked: Iterable[str] = ()) -> str:
        """The current screen as text (returned) and as an SVG screenshot, both kept."""
        from tests.ui.conftest import screen_text

        text = screen_text(pilot)
        screen = type(pilot.app.screen).__name__
        self.add(f"screen {screen}", text, unmasked=unmasked)
        self.add(f"svg {screen}", svg_text(pilot.app.export_screenshot()), unmasked=unmasked)
        return text

    def notes(self) -> NotesHook:
        return NotesHook(self)

    def mark_audit(self, db: Database) -> None:
        """Audit rows written from now on are scanned by :meth:`add_audit`."""
        self.audit_from = db.run(
            lambda s: s.exec(select(func.max(AuditEntry.id))).one() or 0, write=False
        )

    def add_audit(self, db: Database) -> int:
        rows = db.run(
            lambda s: list(
                s.exec(select(AuditEntry).where(col(AuditEntry.id) > self.audit_from)).all()
            ),
            write=False,
        )
        for row in rows:
            detail = json.dumps(row.detail, ensure_ascii=False)
            self.add(f"audit {row.action}", f"{row.target_type} {row.target_id} {detail}")
            self.audit_from = max(self.audit_from, row.id or 0)
        return len(rows)

    # --- the scan ---------------------------------------------------------------------------

    def leaks(self) -> list[tuple[str, str]]:
        found: dict[tuple[str, str], None] = {}
        for where, text, allowed in self.texts:
            for number in full_numbers(text):
                if number not in allowed:
                    found[where, number] = None
            for secret in self.secrets:
                if secret in text and secret not in allowed:
                    found[where, secret] = None
        return list(found)

    def assert_clean(self) -> None:
        """Scan everything captured, the Python log records and the audit rows so far."""
        if self.caplog is not None:
            for record in self.caplog.records:
                self.add(f"log {record.name}", record.getMessage())
            self.caplog.clear()
        if self.textual_log is not None and self.textual_log.exists():
            lines = self.textual_log.read_text(encoding="utf-8").splitlines()
            for line in lines[self._textual_lines :]:
                self.add("textual log", line)
            self._textual_lines = len(lines)
            assert not lines, "the console wrote Textual's log file"
        if self.db is not None:
            self.add_audit(self.db)
        assert self.texts, "nothing was captured"
        leaks = self.leaks()
        assert not leaks, leaks


class NotesHook:
    """A ``message_hook`` for ``run_test`` that keeps every notification for the scan."""

    def __init__(self, scan: PrivacyScan) -> None:
        self.scan = scan
        self.messages: list[str] = []

    def __call__(self, message: Message) -> None:
        if isinstance(message, Notify):
            self.messages.append(message.notification.message)
            self.scan.add("notification", message.notification.message)
        elif isinstance(message, Worker.StateChanged):
            # what a crash report or the devtools print of a worker
            self.scan.add(f"worker {message.worker.name}", repr(message.worker))


def textual_log_to(monkeypatch: pytest.MonkeyPatch, path: Path) -> Path:
    """Send Textual's log (as ``TEXTUAL_LOG=path`` would) to ``path`` for this test."""
    from textual import constants

    monkeypatch.setattr(constants, "LOG_FILE", str(path))
    return path
