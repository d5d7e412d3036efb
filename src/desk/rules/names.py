"""Search keys derived from names, phones and ID-card numbers (pure; used on every write).

``张三丰`` → spaced ``张 三 丰`` (one full-text token per character, so 1-character fragments
match as a phrase), pinyin ``zhangsanfeng`` and initials ``zsf``. Suffix searches (phone
tail, ID-card tail) run as a range over the reversed string, which a plain index serves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pypinyin import Style, lazy_pinyin

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True, slots=True)
class NameKeys:
    spaced: str
    pinyin: str
    initials: str


@lru_cache(maxsize=65536)
def _syllables(char: str) -> tuple[str, str]:
    full = lazy_pinyin(char, style=Style.NORMAL, errors="ignore")
    initial = lazy_pinyin(char, style=Style.FIRST_LETTER, errors="ignore")
    return ("".join(full).lower(), "".join(initial).lower())


def name_keys(name: str) -> NameKeys:
    """The three search keys of a name; non-CJK letters and digits pass through lower-cased."""
    name = name.strip()
    chars = [char for char in name if not char.isspace()]
    full: list[str] = []
    initials: list[str] = []
    for char in chars:
        if _CJK.match(char):
            syllable, initial = _syllables(char)
            full.append(syllable)
            initials.append(initial)
        elif char.isalnum():
            full.append(char.lower())
            initials.append(char.lower())
    return NameKeys(spaced=" ".join(chars), pinyin="".join(full), initials="".join(initials))


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def reverse(text: str) -> str:
    """The reversed string: ``phone_rev``/``id_card_rev`` columns and their suffix probes."""
    return text[::-1]


def prefix_upper_bound(prefix: str) -> str:
    """The smallest string greater than every string starting with ``prefix`` (for ranges)."""
    return prefix + "\U0010ffff"
