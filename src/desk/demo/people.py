"""People of the demo: Chinese names, ID-card numbers, mobile numbers and addresses.

Every generator draws from a ``random.Random`` it is given, so a seed gives the same people.
Weighted draws use flat lookup tables (one ``random()`` and an index), which keeps a million
customers inside the build's time budget.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date
from typing import TypeVar

from desk.demo.geography import COMMUNITIES, City

T = TypeVar("T")

# Surnames with their share of the population in percent (2020 census, most common first).
SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 7.12),
    ("李", 7.00),
    ("张", 6.74),
    ("刘", 5.10),
    ("陈", 4.61),
    ("杨", 3.22),
    ("黄", 2.45),
    ("赵", 2.19),
    ("吴", 2.08),
    ("周", 2.00),
    ("徐", 1.45),
    ("孙", 1.38),
    ("马", 1.29),
    ("朱", 1.28),
    ("胡", 1.16),
    ("郭", 1.15),
    ("何", 1.06),
    ("林", 1.02),
    ("高", 1.00),
    ("罗", 0.95),
    ("郑", 0.87),
    ("梁", 0.86),
    ("谢", 0.76),
    ("宋", 0.70),
    ("唐", 0.67),
    ("许", 0.65),
    ("韩", 0.63),
    ("冯", 0.61),
    ("邓", 0.61),
    ("曹", 0.59),
    ("彭", 0.56),
    ("曾", 0.53),
    ("肖", 0.53),
    ("田", 0.51),
    ("董", 0.50),
    ("袁", 0.49),
    ("潘", 0.48),
    ("于", 0.48),
    ("蒋", 0.47),
    ("蔡", 0.47),
    ("余", 0.46),
    ("杜", 0.45),
    ("叶", 0.44),
    ("程", 0.43),
    ("苏", 0.42),
    ("魏", 0.41),
    ("吕", 0.40),
    ("丁", 0.39),
    ("任", 0.38),
    ("沈", 0.37),
    ("姚", 0.36),
    ("卢", 0.36),
    ("姜", 0.35),
    ("崔", 0.34),
    ("钟", 0.34),
    ("谭", 0.33),
    ("陆", 0.32),
    ("汪", 0.32),
    ("范", 0.31),
    ("金", 0.30),
    ("石", 0.30),
    ("廖", 0.29),
    ("贾", 0.29),
    ("夏", 0.28),
    ("韦", 0.28),
    ("付", 0.27),
    ("方", 0.27),
    ("白", 0.26),
    ("邹", 0.26),
    ("孟", 0.25),
    ("熊", 0.25),
    ("秦", 0.24),
    ("邱", 0.24),
    ("江", 0.24),
    ("尹", 0.23),
    ("薛", 0.23),
    ("闫", 0.22),
    ("段", 0.22),
    ("雷", 0.22),
    ("侯", 0.21),
    ("龙", 0.21),
    ("史", 0.21),
    ("陶", 0.20),
    ("黎", 0.20),
    ("贺", 0.20),
    ("顾", 0.19),
    ("毛", 0.19),
    ("郝", 0.18),
    ("龚", 0.18),
    ("邵", 0.18),
    ("万", 0.17),
    ("钱", 0.17),
    ("严", 0.17),
    ("覃", 0.16),
    ("武", 0.16),
    ("戴", 0.16),
    ("莫", 0.15),
    ("孔", 0.15),
    ("向", 0.14),
    ("汤", 0.14),
    ("应", 0.10),
    ("楼", 0.06),
    ("欧阳", 0.03),
    ("上官", 0.01),
    ("司马", 0.01),
    ("诸葛", 0.01),
)

MALE_CHARS = (
    "伟",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "杰",
    "涛",
    "明",
    "超",
    "刚",
    "平",
    "辉",
    "鹏",
    "华",
    "飞",
    "鑫",
    "波",
    "斌",
    "宇",
    "浩",
    "凯",
    "健",
    "俊",
    "帆",
    "帅",
    "旭",
    "宁",
    "龙",
    "林",
    "峰",
    "建",
    "国",
    "志",
    "文",
    "博",
    "轩",
    "睿",
    "泽",
    "诚",
    "宏",
    "海",
    "东",
    "亮",
    "成",
    "晨",
    "阳",
    "昊",
    "然",
    "天",
    "子",
    "嘉",
    "毅",
    "航",
    "杭",
    "立",
    "新",
    "永",
    "家",
    "振",
)
FEMALE_CHARS = (
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "艳",
    "娟",
    "霞",
    "燕",
    "玲",
    "婷",
    "雪",
    "琳",
    "颖",
    "慧",
    "倩",
    "洁",
    "萍",
    "红",
    "梅",
    "晶",
    "欣",
    "怡",
    "悦",
    "佳",
    "雨",
    "涵",
    "诗",
    "思",
    "可",
    "琪",
    "媛",
    "蕾",
    "薇",
    "妍",
    "璐",
    "瑶",
    "晨",
    "嘉",
    "月",
    "秀",
    "兰",
    "英",
    "美",
    "凤",
    "桂",
    "丹",
    "莉",
    "琴",
    "云",
    "青",
    "婉",
    "馨",
    "若",
    "紫",
    "一",
    "梓",
    "亦",
    "心",
    "蓉",
)

# The 18-digit resident ID card (GB 11643-1999): ISO 7064 MOD 11-2 check character.
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"

# Mobile number segments (号段) of the operator the demo center serves.
MOBILE_PREFIXES = (
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "147",
    "150",
    "151",
    "152",
    "157",
    "158",
    "159",
    "172",
    "178",
    "182",
    "183",
    "184",
    "187",
    "188",
    "195",
    "197",
    "198",
)
_PHONE_SPACE = len(MOBILE_PREFIXES) * 10**8
_PHONE_MULTIPLIERS = (2_654_435_761, 2_246_822_519, 3_266_489_917, 668_265_263, 374_761_393)


def lookup_table(weighted: Sequence[tuple[T, float]], size: int = 4096) -> list[T]:
    """A flat table where each value fills a share of slots matching its weight.

    ``table[int(rng.random() * len(table))]`` then draws by weight in constant time.
    """
    total = sum(weight for _, weight in weighted)
    table: list[T] = []
    acc = 0.0
    for value, weight in weighted:
        acc += weight
        while len(table) < round(acc / total * size):
            table.append(value)
    return table


def id_check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11]


def is_valid_id_card(number: str) -> bool:
    """An 18-character ID-card number with a real birth date and a matching check character."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return id_check_char(number[:17]) == number[17]


class IdCards:
    """Fast ID-card numbers: the weighted digit sum is cached per part (region, birth date,
    sequence), so a number costs three look-ups."""

    def __init__(self) -> None:
        self._divisions: dict[str, int] = {}
        self._dates: dict[str, tuple[str, int]] = {}
        self._seq = [
            (f"{n:03d}", sum(int(d) * w for d, w in zip(f"{n:03d}", ID_WEIGHTS[14:], strict=True)))
            for n in range(1000)
        ]

    def number(self, division: str, birthday_iso: str, sequence: int) -> str:
        """``division`` (6 digits), ``birthday_iso`` (YYYY-MM-DD), ``sequence`` 0..999 whose
        last digit is odd for men and even for women."""
        division_sum = self._divisions.get(division)
        if division_sum is None:
            division_sum = sum(int(d) * w for d, w in zip(division, ID_WEIGHTS, strict=False))
            self._divisions[division] = division_sum
        birth = self._dates.get(birthday_iso)
        if birth is None:
            ymd = birthday_iso.replace("-", "")
            birth = (ymd, sum(int(d) * w for d, w in zip(ymd, ID_WEIGHTS[6:], strict=False)))
            self._dates[birthday_iso] = birth
        seq, seq_sum = self._seq[sequence]
        return division + birth[0] + seq + ID_CHECK[(division_sum + birth[1] + seq_sum) % 11]


class MobileNumbers:
    """Unique mobile numbers: the n-th number is a bijection of ``n`` onto every prefix ×
    8-digit suffix (an affine step, then two invertible mixing rounds), so no set of issued
    numbers is needed and a seed scrambles them."""

    def __init__(self, seed: int) -> None:
        self._a = _PHONE_MULTIPLIERS[seed % len(_PHONE_MULTIPLIERS)]
        self._b = (seed * 7_919 + 12_345_678) % _PHONE_SPACE

    def number(self, n: int) -> str:
        k = (n * self._a + self._b) % _PHONE_SPACE
        # Two Feistel-like rounds, each invertible, hide the arithmetic progression.
        prefix, suffix = divmod(k, 10**8)
        suffix = (suffix * 48_271 + prefix * 1_000_003 + self._b) % 10**8
        prefix = (prefix + suffix * 7) % len(MOBILE_PREFIXES)
        suffix = (suffix * 69_621 + prefix * 99_991) % 10**8
        return MOBILE_PREFIXES[prefix] + f"{suffix:08d}"

    def numbers(self, count: int) -> list[str]:
        """``number(n)`` for every ``n`` below ``count``, in order: the same arithmetic with
        its constants held in locals (a million numbers for the customers' phones)."""
        a, b, space = self._a, self._b, _PHONE_SPACE
        prefixes, kinds = MOBILE_PREFIXES, len(MOBILE_PREFIXES)
        found: list[str] = []
        add = found.append
        for n in range(count):
            prefix, suffix = divmod((n * a + b) % space, 10**8)
            suffix = (suffix * 48_271 + prefix * 1_000_003 + b) % 10**8
            prefix = (prefix + suffix * 7) % kinds
            add(prefixes[prefix] + f"{(suffix * 69_621 + prefix * 99_991) % 10**8:08d}")
        return found


def fixed_line(city: City, n: int, seed: int) -> str:
    """A unique 8-digit landline in ``city`` for index ``n`` (n < 10**7)."""
    local = (n * 7_654_321 + seed * 1_013) % 10**7
    return f"{city.area_code}8{local:07d}"


class People:
    """Draws names and addresses from one ``random.Random``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.surnames: list[str] = lookup_table(SURNAMES, 8192)
        self.male_chars, self.female_chars = MALE_CHARS, FEMALE_CHARS

    def name(self, male: bool) -> str:
        r = self.rng.random
        surname = self.surnames[int(r() * len(self.surnames))]
        chars = MALE_CHARS if male else FEMALE_CHARS
        first = chars[int(r() * len(chars))]
        if r() < 0.18:
            return f"{surname}{first}"
        return f"{surname}{first}{chars[int(r() * len(chars))]}"

    def address(self, city: City, district: str) -> str:
        r = self.rng.random
        street = city.streets[int(r() * len(city.streets))]
        number = 1 + int(r() * 398)
        if r() < 0.7:
            community = COMMUNITIES[int(r() * len(COMMUNITIES))]
            building = 1 + int(r() * 30)
            unit = 1 + int(r() * 4)
            room = (1 + int(r() * 28)) * 100 + 1 + int(r() * 4)
            return (
                f"{city.name}{district}{street}{number}号{community}{building}幢{unit}单元{room}室"
            )
        return f"{city.name}{district}{street}{number}号"
