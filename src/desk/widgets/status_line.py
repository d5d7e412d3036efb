"""The status line on top of every signed-in screen: who, which role, which shift, what time."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from desk.i18n import gettext as _
from desk.widgets.format import local_time

if TYPE_CHECKING:
    from desk.services.session_info import ShiftInfo


def shift_text(shift: ShiftInfo | None) -> str:
    """The shift on now as the status line says it: its name and its lead, if any."""
    if shift is None:
        return _("status.no_shift")
    lead = shift.lead_name or shift.lead_login
    if lead:
        return _("status.shift_with_lead", shift=shift.name, lead=lead)
    return _("status.shift", shift=shift.name)


class StatusLine(Widget):
    """Set ``user``, ``role``, ``shift`` and ``now`` from above; it only draws them."""

    DEFAULT_CSS = """
    StatusLine {
        dock: top;
        height: 1;
        background: $panel;
        color: $text;
        padding: 0 1;
    }
    """

    user: reactive[str] = reactive("")
    role: reactive[str] = reactive("")
    shift: reactive[str | None] = reactive(None)
    now: reactive[datetime | None] = reactive(None)

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(self.user, style="bold")
        text.append("  ")
        text.append(self.role, style="italic")
        text.append("  │  ")
        text.append(self.shift if self.shift is not None else "…")
        if self.now is not None:
            clock = local_time(self.now, "%Y-%m-%d %H:%M:%S")
            gap = max(2, self.size.width - text.cell_len - len(clock))
            text.append(" " * gap)
            text.append(clock, style="bold")
        return text
