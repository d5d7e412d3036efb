"""Time, made explicit. Rules take ``now`` as a parameter; services ask an injected clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock for tests and for ``--now``: it stands still until moved."""

    instant: datetime = field(default_factory=lambda: datetime(2026, 11, 2, 2, 0, tzinfo=UTC))

    def __post_init__(self) -> None:
        if self.instant.utcoffset() is None:
            raise ValueError("FixedClock needs an aware datetime")
        self.instant = self.instant.astimezone(UTC)

    def now(self) -> datetime:
        return self.instant

    def advance(self, delta: timedelta) -> None:
        self.instant += delta


def as_utc(value: datetime) -> datetime:
    """An aware value in UTC; naive values are refused rather than guessed."""
    if value.utcoffset() is None:
        raise ValueError("naive datetime: give a timezone")
    return value.astimezone(UTC)
