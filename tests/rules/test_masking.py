"""Masking of personal data: what stays visible, and that nothing else does."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from desk.rules.masking import (
    COMPOUND_SURNAMES,
    mask_address,
    mask_id_card,
    mask_name,
    mask_phone,
    region_prefix,
)


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812341234", "138****1234"),
        ("19900005678", "199****5678"),
        ("010-88886666", "010-****6666"),
        ("075588886666", "075*****6666"),
        ("+86 13812341234", "+86 138****1234"),
        ("008613812341234", "0086138****1234"),
        ("95588", "*5588"),
        ("1234", "1234"),
        ("", ""),
    ],
)
def test_mask_phone(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("id_card", "masked"),
    [
        ("110101199001011234", "110***********1234"),
        ("44030519851231002X", "440***********002X"),
        ("110101900101123", "110********1123"),  # the old 15-digit cards
        ("1234567", "*******"),
    ],
)
def test_mask_id_card(id_card: str, masked: str) -> None:
    assert mask_id_card(id_card) == masked


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三丰", "张**"),
        ("李四", "李*"),
        ("王", "王"),
        ("欧阳娜娜", "欧阳**"),
        ("司马光", "司马*"),
        ("诸葛亮", "诸葛*"),
        ("上官婉儿", "上官**"),
        ("司马", "司*"),  # two characters: a surname and a given name, not a compound surname
        ("阿依古丽·买买提", "阿***·***"),
        ("John Smith", "J*** *****"),
        ("  张三  ", "张*"),
        ("", ""),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("address", "region", "masked"),
    [
        ("广东省深圳市南山区科技园路1号", None, "广东省深圳市南山区" + "*" * 6),
        ("北京市朝阳区建国路88号院3区", None, "北京市朝阳区" + "*" * 9),
        ("上海市浦东新区张江路1号", None, "上海市浦东新区" + "*" * 5),
        ("内蒙古自治区呼和浩特市新城区1号", None, "内蒙古自治区呼和浩特市新城区**"),
        ("四川省成都市武侯区 人民南路 4 段", None, "四川省成都市武侯区 **** * *"),
        ("建国路88号院3区", None, "*" * 9),  # no region at the start: nothing kept
        ("朝阳区建国路88号", "朝阳区", "朝阳区" + "*" * 6),  # the customer's region wins
    ],
)
def test_mask_address(address: str, region: str | None, masked: str) -> None:
    assert mask_address(address, region) == masked


def test_region_prefix_stops_at_the_county_level() -> None:
    assert region_prefix("浙江省杭州市西湖区文三路") == "浙江省杭州市西湖区"
    assert region_prefix("浙江省杭州市西湖区文三路", "浙江省杭州市") == "浙江省杭州市"


def test_compound_surnames_are_two_characters() -> None:
    assert all(len(surname) == 2 for surname in COMPOUND_SURNAMES)
    assert {"欧阳", "司马", "诸葛", "上官"} <= COMPOUND_SURNAMES


@given(st.from_regex(r"1[3-9]\d{9}", fullmatch=True))
def test_a_masked_mobile_shows_only_its_first_3_and_last_4_digits(phone: str) -> None:
    masked = mask_phone(phone)
    assert len(masked) == len(phone)
    assert masked == phone[:3] + "****" + phone[-4:]


@given(st.text(alphabet="0123456789", max_size=14), st.integers(min_value=0, max_value=14))
def test_separators_do_not_change_which_digits_show(digits: str, at: int) -> None:
    at = min(at, len(digits))
    spaced = mask_phone(digits[:at] + "-" + digits[at:])
    assert spaced.replace("-", "", 1) == mask_phone(digits) or digits.startswith("0086")


@given(st.text(alphabet="0123456789-+ ", max_size=24))
def test_a_masked_phone_never_shows_more_than_7_digits_of_the_number(phone: str) -> None:
    masked = mask_phone(phone)
    assert len(masked) == len(phone)
    country = 2 if phone.startswith("+86") else 4 if phone.startswith("0086") else 0
    assert sum(char.isdigit() for char in masked) <= 7 + country
    assert [c for c in masked if not c.isdigit() and c != "*"] == [
        c for c in phone if not c.isdigit()
    ]


@given(st.text(min_size=0, max_size=30))
def test_a_masked_id_card_keeps_its_length_and_at_most_7_characters(id_card: str) -> None:
    masked = mask_id_card(id_card)
    assert len(masked) == len(id_card)
    shown = [index for index, char in enumerate(masked) if char != "*"]
    assert len(shown) <= 7
    assert all(masked[index] == id_card[index] for index in shown)


@given(st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=2))
def test_a_masked_chinese_name_shows_only_its_surname(name: str) -> None:
    masked = mask_name(name)
    kept = 2 if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else 1
    assert masked == name[:kept] + "*" * (len(name) - kept)


@given(st.text(max_size=60))
def test_masking_never_raises_and_keeps_the_shape(text: str) -> None:
    assert len(mask_address(text)) == len(text.strip())
    assert len(mask_name(text)) == len(text.strip())
