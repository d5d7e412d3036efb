"""Fixtures for the pure rules: the shipped policy and its calendars, built once."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from desk.rules.calendar import BusinessCalendar, calendars_from_policy
from desk.rules.policy import Policy, load_policy

SHANGHAI = ZoneInfo("Asia/Shanghai")


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Shanghai wall-clock instant."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy(None)


@pytest.fixture(scope="session")
def calendars(policy: Policy) -> Mapping[str, BusinessCalendar]:
    return calendars_from_policy(policy)


@pytest.fixture(scope="session")
def office(calendars: Mapping[str, BusinessCalendar]) -> BusinessCalendar:
    return calendars["office"]


@pytest.fixture(scope="session")
def center(calendars: Mapping[str, BusinessCalendar]) -> BusinessCalendar:
    return calendars["center"]
