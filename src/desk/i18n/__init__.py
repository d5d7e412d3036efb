"""One translation function for every string the console shows, and the two catalogs.

A catalog is a folder of TOML files next to this module (``en/``, ``zh_CN/``), one file per
part of the console (``shell.toml``, ``workspace.toml``, …), merged into one table; a msgid
defined in two files is an error. A section and a key make a msgid (``[login] title = "..."``
is ``login.title``). Screens call
``_("login.title")``; a msgid kept for later (a binding description, a registry title) is
marked with ``N_("…")`` and translated where it is shown. Values may carry ``{name}``
placeholders filled from keyword arguments.

Values of the domain vocabulary (roles, tiers, statuses, request types, …) are translated by
:func:`vocab_label`; their msgids are ``<prefix>.<value>`` with the prefixes of
:data:`VOCAB_PREFIXES`.

The language is chosen once per console (:func:`set_language`); :func:`detect_language` reads
``DESK_LANG`` (already in the settings) and then the locale (``LC_ALL``, ``LC_MESSAGES``,
``LANG``). This module imports nothing heavier than ``tomllib``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any, Final

from desk.rules.vocab import (
    BigCustomerClass,
    Channel,
    ClockKind,
    ClockState,
    ContactOutcome,
    CustomerStatus,
    EventKind,
    InboxChannel,
    InboxStatus,
    MajorSource,
    Priority,
    RequestType,
    Role,
    Tier,
    WaitingReason,
    WorkOrderSource,
    WorkOrderStatus,
)

LANGUAGES: Final = ("en", "zh_CN")
DEFAULT_LANGUAGE: Final = "en"

VOCAB_PREFIXES: Final[Mapping[type[StrEnum], str]] = {
    Role: "role",
    Tier: "tier",
    BigCustomerClass: "big_customer_class",
    CustomerStatus: "customer_status",
    RequestType: "request_type",
    Channel: "channel",
    WorkOrderStatus: "work_order_status",
    ContactOutcome: "contact_outcome",
    EventKind: "event_kind",
    ClockKind: "clock_kind",
    ClockState: "clock_state",
    Priority: "priority",
    WaitingReason: "waiting_reason",
    WorkOrderSource: "work_order_source",
    MajorSource: "major_source",
    InboxChannel: "inbox_channel",
    InboxStatus: "inbox_status",
}
"""Every vocabulary shown on screen, and the msgid prefix of its values."""

_state: dict[str, str] = {"language": DEFAULT_LANGUAGE}


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = str(value)
    return flat


@cache
def catalog(language: str) -> Mapping[str, str]:
    """The msgids and texts of ``language`` (``en`` or ``zh_CN``), read once."""
    if language not in LANGUAGES:
        raise ValueError(f"no catalog for language {language!r}")
    merged: dict[str, str] = {}
    folder = resources.files(__package__).joinpath(language)
    for part in sorted(folder.iterdir(), key=lambda entry: entry.name):
        if not part.name.endswith(".toml"):
            continue
        table = _flatten(tomllib.loads(part.read_text("utf-8")))
        twice = sorted(set(table) & set(merged))
        if twice:
            raise ValueError(f"{language}/{part.name} defines again: {', '.join(twice[:5])}")
        merged.update(table)
    return merged


def set_language(language: str) -> None:
    """Speak ``language`` from now on (``en`` or ``zh_CN``)."""
    catalog(language)  # refuse an unknown language here, not at the first string
    _state["language"] = language


def current_language() -> str:
    return _state["language"]


def detect_language(setting: str | None, environ: Mapping[str, str]) -> str:
    """``setting`` (``DESK_LANG``) if given, else the locale; Chinese locales give ``zh_CN``."""
    if setting:
        return setting if setting in LANGUAGES else DEFAULT_LANGUAGE
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name)
        if value:
            base = value.split(".")[0].replace("-", "_").lower()
            return "zh_CN" if base.startswith("zh") else DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


def gettext(msgid: str, /, **values: object) -> str:
    """The text of ``msgid`` in the current language, placeholders filled from ``values``.

    A msgid missing from the current catalog falls back to English, then to the msgid
    itself (the catalog tests make sure neither happens in a release).
    """
    text = catalog(_state["language"]).get(msgid)
    if text is None:
        text = catalog(DEFAULT_LANGUAGE).get(msgid, msgid)
    return text.format(**values) if values else text


_ = gettext


def ngettext(one: str, other: str, count: int, /, **values: object) -> str:
    """``one`` when ``count`` takes the singular in the current language, else ``other``
    (English: 1 customer, 2 customers; Chinese has one form), with ``{count}`` filled in.
    Mark both msgids with ``N_`` where they are written."""
    singular = count == 1 and _state["language"] == "en"
    return gettext(one if singular else other, count=count, **values)


def N_(msgid: str) -> str:
    """Mark ``msgid`` for translation later, where it is shown; returns it unchanged."""
    return msgid


def vocab_label(value: StrEnum | str | None, kind: type[StrEnum] | None = None) -> str:
    """The translated label of a vocabulary value (``Role.AGENT`` → ``Agent`` / ``座席代表``).

    A plain string needs ``kind`` (the enum it belongs to); ``None`` and values the
    vocabulary does not know are shown as they are (``""`` for ``None``).
    """
    if value is None:
        return ""
    enum: type[StrEnum] | None = kind
    if enum is None and isinstance(value, StrEnum):
        enum = type(value)
    prefix = VOCAB_PREFIXES.get(enum) if enum is not None else None
    if enum is None or prefix is None:
        return str(value)
    try:
        member = enum(value)
    except ValueError:
        return str(value)
    return gettext(f"{prefix}.{member.value}")
