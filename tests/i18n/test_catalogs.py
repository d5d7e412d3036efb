"""The catalogs: every msgid the code uses is in both languages, every key is used, both
languages have the same keys and placeholders, and every vocabulary value is translated."""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from pathlib import Path

import pytest

import desk
from desk.i18n import (
    LANGUAGES,
    N_,
    VOCAB_PREFIXES,
    catalog,
    current_language,
    detect_language,
    gettext,
    set_language,
    vocab_label,
)
from desk.rules.vocab import RequestType, Role, Tier

SRC = Path(desk.__file__).parent
# _("…"), N_("…") and gettext("…"), in single or double quotes, across line breaks
MSGID = re.compile(r"""\b(?:N_|_|gettext)\(\s*(["'])([A-Za-z0-9_.]+)\1""")


def _used_msgids() -> dict[str, list[str]]:
    used: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        for match in MSGID.finditer(path.read_text(encoding="utf-8")):
            used.setdefault(match.group(2), []).append(str(path.relative_to(SRC)))
    return used


def _vocab_msgids() -> set[str]:
    return {
        f"{prefix}.{member.value}" for enum, prefix in VOCAB_PREFIXES.items() for member in enum
    }


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.fixture(autouse=True)
def _english_afterwards() -> Iterator[None]:
    yield
    set_language("en")


def test_the_scan_finds_the_code_s_msgids() -> None:
    used = _used_msgids()
    assert "login.title" in used  # a plain _("…")
    assert "key.help" in used  # an N_("…") in a binding
    assert "keymap.unavailable" in used  # _('…') inside an f-string
    assert "lookup.info" in used  # _( on one line, the msgid on the next
    assert len(used) > 100


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_msgid_in_the_code_is_in_the_catalog(language: str) -> None:
    missing = {
        msgid: places for msgid, places in _used_msgids().items() if msgid not in catalog(language)
    }
    assert not missing


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_vocabulary_value_shown_is_translated(language: str) -> None:
    missing = sorted(_vocab_msgids() - set(catalog(language)))
    assert not missing


def test_search_kinds_and_unmaskable_fields_all_have_labels() -> None:
    from desk.screens.card import FIELD_LABELS
    from desk.screens.lookup import KIND_LABELS
    from desk.services.card import MaskedField
    from desk.services.search import SearchKind

    assert set(KIND_LABELS) == {kind.value for kind in SearchKind}
    assert set(FIELD_LABELS) == {field.value for field in MaskedField}


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_catalog_key_is_unused(language: str) -> None:
    unused = sorted(set(catalog(language)) - set(_used_msgids()) - _vocab_msgids())
    assert not unused


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    english, chinese = catalog("en"), catalog("zh_CN")
    assert set(english) == set(chinese)
    differing = [
        key for key in english if _placeholders(english[key]) != _placeholders(chinese[key])
    ]
    assert not differing


def test_chinese_texts_are_chinese() -> None:
    """A catalog copied over untranslated would pass the key checks; this would not."""
    chinese = catalog("zh_CN")
    same = [
        key
        for key, text in catalog("en").items()
        if chinese[key] == text and re.search(r"[A-Za-z]{4,}", text)
    ]
    assert same == ["app.name"]


# --- the function ---------------------------------------------------------------------------


def test_gettext_fills_placeholders_in_the_current_language() -> None:
    set_language("zh_CN")
    assert current_language() == "zh_CN"
    assert (
        gettext("shell.denied", screen=gettext("screen.lookup")) == "您的角色无权打开“客户查询”。"
    )
    set_language("en")
    assert gettext("shell.denied", screen=gettext("screen.lookup")) == (
        "Your role may not open Customer lookup."
    )


def test_an_unknown_msgid_shows_itself_and_n_marks_without_translating() -> None:
    assert gettext("no.such.msgid") == "no.such.msgid"
    assert N_("key.help") == "key.help"


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="no catalog"):
        set_language("fr")


def test_vocab_labels() -> None:
    assert vocab_label(Role.COMPLAINT_LEAD) == "Complaint lead"
    assert vocab_label("gold", Tier) == "Gold"
    assert vocab_label("no-such-tier", Tier) == "no-such-tier"
    assert vocab_label(None) == ""
    set_language("zh_CN")
    assert vocab_label(RequestType.FAULT_REPORT) == "故障申告"
    assert vocab_label(Role.AGENT) == "座席代表"


@pytest.mark.parametrize(
    ("setting", "environ", "expected"),
    [
        ("zh_CN", {"LANG": "en_US.UTF-8"}, "zh_CN"),  # DESK_LANG wins over the locale
        ("en", {"LANG": "zh_CN.UTF-8"}, "en"),
        (None, {"LANG": "zh_CN.UTF-8"}, "zh_CN"),
        (None, {"LC_ALL": "zh_TW.UTF-8", "LANG": "en_US.UTF-8"}, "zh_CN"),  # LC_ALL first
        (None, {"LC_ALL": "en_GB.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"),
        (None, {"LANG": "C.UTF-8"}, "en"),
        (None, {}, "en"),
    ],
)
def test_the_language_comes_from_desk_lang_then_the_locale(
    setting: str | None, environ: dict[str, str], expected: str
) -> None:
    assert detect_language(setting, environ) == expected


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_part_of_a_catalog_has_its_counterpart(language: str) -> None:
    """A catalog is a folder of parts; both languages have the same parts."""
    names = {
        language: sorted(path.name for path in (SRC / "i18n" / language).glob("*.toml"))
        for language in LANGUAGES
    }
    assert names[language] == names["en"]
