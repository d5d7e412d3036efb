"""Masking of personal data shown to staff (pure functions).

- phone: first 3 and last 4 digits kept (``138****1234``; a fixed line keeps its separators,
  ``010-****6666``); numbers of 7 digits or fewer keep only their last 4 digits;
- ID card: first 3 and last 4 characters kept (``110***********1234``);
- name: the surname kept, every other character ``*`` (``张**``, ``李*``); compound surnames
  (欧阳, 司马, 诸葛, 上官, ...) keep both characters when the name is longer than them;
- address: the administrative region (province/city/district or county) kept, the rest masked.

A masked value never reveals more than these parts; its length may follow the original's.
"""

from __future__ import annotations

import re

MASK = "*"

# The compound surnames of the Hundred Family Surnames still in use (复姓).
COMPOUND_SURNAMES: frozenset[str] = frozenset(
    {
        "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙",
        "宇文", "司徒", "夏侯", "轩辕", "令狐", "端木", "独孤", "南宫", "西门", "万俟",
        "闻人", "澹台", "公冶", "宗政", "濮阳", "淳于", "单于", "太叔", "申屠", "仲孙",
        "钟离", "呼延", "赫连", "百里", "东郭", "拓跋", "司空", "司寇", "第五", "左丘",
        "公羊", "谷梁", "段干", "羊舌", "微生", "梁丘", "乐正", "壤驷", "巫马", "漆雕",
        "亓官", "鲜于", "闾丘", "子车", "颛孙", "东门", "公西",
    }
)  # fmt: skip

# Province level, then prefecture level, then county level; each optional, in this order.
_REGION = re.compile(
    r"^(?:[^\W\d_]{2,8}?(?:省|自治区|特别行政区))?"
    r"(?:[^\W\d_]{1,8}?(?:市|自治州|地区|盟))?"
    r"(?:[^\W\d_]{1,8}?(?:区|县|市|旗))?"
)


def _digits_in(text: str) -> int:
    return sum(char.isdigit() for char in text)


_COUNTRY_CODE = re.compile(r"^(?:\+86|0086)[\s-]?")


def mask_phone(phone: str) -> str:
    """``13812341234`` → ``138****1234``; separators and a ``+86`` country code stay."""
    if phone.startswith(("+86", "0086")):
        country = _COUNTRY_CODE.match(phone)
        if country and country.end() < len(phone):
            return country.group(0) + mask_phone(phone[country.end() :])
    if phone.isascii() and phone.isdigit():  # the stored form, digits only: the fast way
        size = len(phone)
        if size > 7:
            return phone[:3] + MASK * (size - 7) + phone[-4:]
        return MASK * max(0, size - 4) + phone[-4:]
    total = _digits_in(phone)
    keep_head = 3 if total > 7 else 0
    keep_tail = min(4, total)
    out: list[str] = []
    seen = 0
    for char in phone:
        if char.isdigit():
            seen += 1
            out.append(char if seen <= keep_head or seen > total - keep_tail else MASK)
        else:
            out.append(char)
    return "".join(out)


def mask_id_card(id_card: str) -> str:
    """First 3 and last 4 characters kept: ``110***********1234``."""
    if len(id_card) <= 7:
        return MASK * len(id_card)
    return id_card[:3] + MASK * (len(id_card) - 7) + id_card[-4:]


def surname_length(name: str) -> int:
    """How many leading characters of ``name`` are its surname (1 or 2)."""
    return 2 if len(name) > 2 and name[:2] in COMPOUND_SURNAMES else 1


def mask_name(name: str) -> str:
    """``张三丰`` → ``张**``, ``李四`` → ``李*``, ``欧阳娜娜`` → ``欧阳**``.

    Names in Latin letters keep their first letter; spaces and the middle dot (``·``) of
    transliterated names stay, so the shape of the name shows but not its letters.
    """
    name = name.strip()
    if not name:
        return ""
    keep = surname_length(name)
    return name[:keep] + "".join(char if char in " ·•.-" else MASK for char in name[keep:])


def region_prefix(address: str, region: str | None = None) -> str:
    """The administrative part at the start of ``address`` (may be empty).

    ``region`` (the customer's region, when it starts the address) wins over parsing.
    """
    if region and address.startswith(region):
        return region
    match = _REGION.match(address)
    return match.group(0) if match else ""


def mask_address(address: str, region: str | None = None) -> str:
    """``广东省深圳市南山区科技园路1号`` → ``广东省深圳市南山区******``."""
    address = address.strip()
    kept = region_prefix(address, region)
    rest = address[len(kept) :]
    return kept + "".join(" " if char.isspace() else MASK for char in rest)
