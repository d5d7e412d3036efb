"""Plain text people type into desk: names, titles, import cells.

A terminal obeys control characters: an escape sequence in a user's display name would
recolour, move or clear an admin's screen when printed, and a bidi override would show a
name reversed. Text fields refuse them (tab and newline only where a field is multi-line);
what is printed from elsewhere goes through an escaping function of the command line.
"""

from __future__ import annotations

import unicodedata

ALLOWED_IN_MULTILINE = frozenset("\n\t")


def control_characters(text: str, *, multiline: bool = False) -> list[str]:
    """The control and format characters of ``text`` (C0, C1, DEL, bidi overrides and
    isolates, zero-width marks, lone surrogates), each once, in order of appearance."""
    if text.isprintable():  # the common case, in C: no control, format or separator character
        return []
    found: list[str] = []
    for char in text:
        if multiline and char in ALLOWED_IN_MULTILINE:
            continue
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Cs", "Zl", "Zp") and char not in found:
            found.append(char)
    return found


def plain_text_problem(text: str, *, multiline: bool = False) -> str | None:
    """Why ``text`` cannot be stored as a plain text field, or None."""
    bad = control_characters(text, multiline=multiline)
    if not bad:
        return None
    shown = ", ".join(f"U+{ord(char):04X}" for char in bad[:3])
    return f"contains control characters ({shown}); type plain text"
