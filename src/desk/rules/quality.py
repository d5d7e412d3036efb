"""Quality spot checks (暗访/抽查): how a score card's marks make a score.

Each item of a card is marked 0..``scale`` and counts for its weight (the weights of a card
add up to 100): the score is the sum of ``mark / scale × weight``, out of 100, kept to two
decimals (in hundredths, so sums and averages stay exact). A check passes with the policy's
``pass_score`` or more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from desk.rules.policy import QualityPolicy, ScoreCard


class MarksRefused(ValueError):
    """The marks do not fit the card: an item missing, unknown, or marked out of range."""

    def __init__(self, message: str, item: str | None = None) -> None:
        super().__init__(message)
        self.item = item


@dataclass(frozen=True, slots=True)
class Score:
    hundredths: int  # 0 … 10000
    passed: bool

    @property
    def points(self) -> float:
        return self.hundredths / 100


def score(card: ScoreCard, marks: Mapping[str, int], quality: QualityPolicy) -> Score:
    """The score of ``marks`` (item key → mark) on ``card``; every item marked, 0..scale."""
    known = {item.key for item in card.items}
    unknown = sorted(set(marks) - known)
    if unknown:
        raise MarksRefused(f"{', '.join(unknown)} is not an item of this card", unknown[0])
    total = 0
    for item in card.items:
        if item.key not in marks:
            raise MarksRefused(f"{item.key} is not marked", item.key)
        mark = marks[item.key]
        if isinstance(mark, bool) or not isinstance(mark, int) or not 0 <= mark <= quality.scale:
            raise MarksRefused(f"{item.key}: a mark is 0 to {quality.scale}", item.key)
        total += mark * item.weight * 100
    hundredths = round(total / quality.scale)
    return Score(hundredths=hundredths, passed=hundredths >= quality.pass_score * 100)


def pass_rate(passed: int, checks: int) -> float | None:
    """Checks passed as a percentage of checks made; None when none was made."""
    return None if checks == 0 else 100.0 * passed / checks
