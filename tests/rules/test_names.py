"""Names as people say them: a surname is read as a surname (单 shan, 解 xie), the given name
character by character, and the full-text column never changes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from desk.rules.names import SURNAME_READINGS, name_keys, part_keys, surname_of

# (name, pinyin, initials): each surname's reading is not its character's commonest one (or
# a two-character surname read per character would come out wrong); the given names are
# characters with one reading.
POLYPHONIC_SURNAMES = [
    ("解晓东", "xiexiaodong", "xxd"),
    ("区志强", "ouzhiqiang", "ozq"),
    ("朴树", "piaoshu", "ps"),
    ("查良镛", "zhaliangyong", "zly"),
    ("单田芳", "shantianfang", "stf"),
    ("仇英", "qiuying", "qy"),
    ("曾国藩", "zengguofan", "zgf"),
    ("盖伟", "gewei", "gw"),
    ("种师道", "chongshidao", "csd"),
    ("乐嘉", "yuejia", "yj"),
    ("覃丽", "qinli", "ql"),
    ("缪斯", "miaosi", "ms"),
    ("翟志刚", "zhaizhigang", "zzg"),
    ("秘书", "bishu", "bs"),
    ("召忠", "shaozhong", "sz"),
    ("繁星", "poxing", "px"),
    ("句芒", "goumang", "gm"),
    ("员工", "yungong", "yg"),
    ("能静", "naijing", "nj"),
    ("难明", "ningming", "nm"),
    ("适宜", "kuoyi", "ky"),
    ("佴东", "naidong", "nd"),
    ("薄熙", "boxi", "bx"),
    ("都兰", "dulan", "dl"),
    ("蕃兰", "pilan", "pl"),
    ("折克", "sheke", "sk"),
    ("粘罕", "nianhan", "nh"),
    ("祭明", "zhaiming", "zm"),
    ("隗嚣", "weixiao", "wx"),
    ("阚泽", "kanze", "kz"),
    ("卜凡", "bufan", "bf"),
    ("洗星海", "xianxinghai", "xxh"),
    ("尉迟恭", "yuchigong", "ycg"),
    ("万俟卨", "moqixie", "mqx"),
    ("长孙无忌", "zhangsunwuji", "zswj"),
    ("单于丹", "chanyudan", "cyd"),
    ("令狐冲", "linghuchong", "lhc"),
    ("澹台灭明", "tantaimieming", "ttmm"),
]


@pytest.mark.parametrize(("name", "pinyin", "initials"), POLYPHONIC_SURNAMES)
def test_a_surname_is_read_as_a_surname(name: str, pinyin: str, initials: str) -> None:
    keys = name_keys(name)
    assert (keys.pinyin, keys.initials) == (pinyin, initials)
    assert keys.spaced == " ".join(name)


def test_the_list_covers_at_least_30_surnames_of_the_table() -> None:
    surnames = {surname_of(name) for name, _, _ in POLYPHONIC_SURNAMES}
    assert None not in surnames
    assert len(surnames) >= 30
    assert surnames <= set(SURNAME_READINGS)


@pytest.mark.parametrize(
    ("name", "pinyin"),
    [
        ("张三丰", "zhangsanfeng"),  # not in the table: each character's commonest reading
        ("李单", "lidan"),  # 单 in a given name keeps its commonest reading
        ("王乐乐", "wanglele"),
        ("单", "shan"),  # a name that is only a surname
        ("欧阳 娜娜", "ouyangnana"),
        ("Tom Lee", "tomlee"),
    ],
)
def test_only_the_start_of_a_name_is_a_surname(name: str, pinyin: str) -> None:
    assert name_keys(name).pinyin == pinyin


def test_the_longer_surname_wins() -> None:
    assert surname_of("单于丹") == "单于"
    assert surname_of("单丹") == "单"
    assert surname_of("张丹") is None


_CJK_TEXT = st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), max_size=6)


@given(_CJK_TEXT, _CJK_TEXT)
def test_a_name_is_its_surname_then_its_given_name(surname: str, given_name: str) -> None:
    """What the demo relies on: keys of a name are the keys of its surname followed by the
    character-by-character keys of the rest, whenever the surname is where the name's
    own surname ends."""
    name = surname + given_name
    found = surname_of(name)
    head = found if found is not None else ""
    whole, start, rest = name_keys(name), name_keys(head), part_keys(name[len(head) :])
    assert whole.pinyin == start.pinyin + rest.pinyin
    assert whole.initials == start.initials + rest.initials
    assert whole.spaced == " ".join(name)
