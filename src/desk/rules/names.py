"""Search keys derived from names, phones and ID-card numbers (pure; used on every write).

``张三丰`` → spaced ``张 三 丰`` (one full-text token per character, so 1-character fragments
match as a phrase), pinyin ``zhangsanfeng`` and initials ``zsf``. Suffix searches (phone
tail, ID-card tail) run as a range over the reversed string, which a plain index serves.

A name is read as people say it: its surname with the surname's reading (单 is shan, not dan;
解 xie, 区 ou, 曾 zeng), from :data:`SURNAME_READINGS`; every other character with its
commonest reading.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from pypinyin import Style, lazy_pinyin

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


SURNAME_READINGS: Final[Mapping[str, str]] = {
    # Surnames read otherwise than their character's commonest reading.
    "解": "xie", "区": "ou", "朴": "piao", "查": "zha", "单": "shan", "仇": "qiu",
    "曾": "zeng", "盖": "ge", "种": "chong", "乐": "yue", "覃": "qin", "缪": "miao",
    "翟": "zhai", "秘": "bi", "召": "shao", "繁": "po", "句": "gou", "员": "yun",
    "能": "nai", "难": "ning", "适": "kuo", "佴": "nai", "重": "chong", "薄": "bo",
    "都": "du", "蕃": "pi", "折": "she", "粘": "nian", "祭": "zhai", "隗": "wei",
    "阚": "kan", "藏": "zang", "卜": "bu", "洗": "xian", "长": "chang", "华": "hua",
    "纪": "ji", "任": "ren", "沈": "shen", "曲": "qu", "车": "che", "宿": "su",
    "厍": "she", "谌": "chen", "贲": "ben", "郇": "huan", "尉": "wei", "柏": "bai",
    # Two-character surnames, read as one word.
    "尉迟": "yu chi", "万俟": "mo qi", "长孙": "zhang sun", "单于": "chan yu",
    "令狐": "ling hu", "澹台": "tan tai", "鲜于": "xian yu", "上官": "shang guan",
    "欧阳": "ou yang", "夏侯": "xia hou", "诸葛": "zhu ge", "宇文": "yu wen",
    "司马": "si ma", "皇甫": "huang fu", "东方": "dong fang", "公孙": "gong sun",
    "慕容": "mu rong", "司徒": "si tu", "闻人": "wen ren", "轩辕": "xuan yuan",
}  # fmt: skip
"""How a surname is read at the start of a name: toneless pinyin, one syllable per character
(a space between the syllables of a two-character surname)."""


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


def surname_of(name: str) -> str | None:
    """The surname of :data:`SURNAME_READINGS` that ``name`` starts with (the longer one
    first: 单于 before 单), or None."""
    name = name.strip()
    for length in (2, 1):
        if len(name) >= length and name[:length] in SURNAME_READINGS:
            return name[:length]
    return None


def name_keys(name: str) -> NameKeys:
    """The three search keys of a person's name: its surname read as a surname, the rest
    character by character; non-CJK letters and digits pass through lower-cased."""
    name = name.strip()
    surname = surname_of(name)
    if surname is None:
        return part_keys(name)
    syllables = SURNAME_READINGS[surname].split()
    rest = part_keys(name[len(surname) :])
    return NameKeys(
        spaced=" ".join(filter(None, [" ".join(surname), rest.spaced])),
        pinyin="".join(syllables) + rest.pinyin,
        initials="".join(syllable[0] for syllable in syllables) + rest.initials,
    )


def part_keys(text: str) -> NameKeys:
    """The keys of a part of a name that is not at its start (a given name): each CJK
    character with its commonest reading."""
    chars = [char for char in text.strip() if not char.isspace()]
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
