"""Targets, standings, tier statistics from counts, the big-customer proposal, periods."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from desk.clock import SHANGHAI
from desk.rules.kpi import (
    TARGET_FIGURES,
    CustomerFact,
    Rate,
    Standing,
    TierTally,
    definition_of,
    is_satisfied,
    manual_answer_rate,
    proposed_big_customer_class,
    standing,
    tier_statistics,
    tier_statistics_from,
)
from desk.rules.periods import PeriodKind, period_of, range_period
from desk.rules.policy import Policy, TargetsPolicy
from desk.rules.vocab import BigCustomerClass, Tier


def test_every_target_of_the_policy_has_a_figure() -> None:
    keys = {figure.key for figure in TARGET_FIGURES}
    assert keys == set(TargetsPolicy.model_fields) - {"amber_points"}
    assert [f.key for f in TARGET_FIGURES if f.at_most] == ["churn_member_max", "churn_other_max"]


@pytest.mark.parametrize(
    ("value", "at_most", "expected"),
    [
        (None, False, Standing.NONE),
        (Rate(90, 100), False, Standing.GREEN),
        (Rate(85, 100), False, Standing.GREEN),  # exactly the target
        (Rate(83, 100), False, Standing.AMBER),  # 2 points short: amber
        (Rate(82, 100), False, Standing.RED),
        (Rate(85, 100), True, Standing.GREEN),
        (Rate(87, 100), True, Standing.AMBER),
        (Rate(88, 100), True, Standing.RED),
    ],
)
def test_standing(value: Rate | None, at_most: bool, expected: Standing) -> None:
    assert standing(value, 85, at_most=at_most, amber_points=2) is expected


def test_a_figure_with_nothing_to_measure_has_no_standing(policy: Policy) -> None:
    figure = TARGET_FIGURES[0]
    assert figure.standing(manual_answer_rate([], policy), policy) is Standing.NONE


@pytest.mark.parametrize(("mark", "expected"), [(None, None), (3, False), (4, True), (5, True)])
def test_satisfied_marks(policy: Policy, mark: int | None, expected: bool | None) -> None:
    assert is_satisfied(mark, policy) is expected


@given(st.lists(st.tuples(st.sampled_from(list(Tier)), st.integers(0, 100_000)), max_size=40))
def test_tier_statistics_from_counts_equal_those_from_facts(
    rows: list[tuple[Tier, int]],
) -> None:
    since = datetime(2020, 1, 1, tzinfo=UTC)
    facts = [CustomerFact(i, tier, since, None, spend) for i, (tier, spend) in enumerate(rows)]
    tallies = {
        tier: TierTally(sum(1 for t, _ in rows if t is tier), sum(s for t, s in rows if t is tier))
        for tier in Tier
    }
    assert tier_statistics_from(tallies) == tier_statistics(facts)


def test_an_empty_tier_has_no_average_and_no_share() -> None:
    stats = tier_statistics_from({Tier.GOLD: TierTally(2, 300)})
    assert stats[Tier.GOLD].average_spend_cents == 150
    assert stats[Tier.GOLD].share_percent == 100
    assert stats[Tier.SILVER].average_spend_cents is None
    assert tier_statistics_from({})[Tier.GOLD].share_percent is None


@pytest.mark.parametrize(
    ("spend", "churned", "expected"),
    [
        (None, False, None),
        (7_999, False, None),
        (8_000, False, BigCustomerClass.C),
        (15_000, False, BigCustomerClass.B),
        (30_000, False, BigCustomerClass.A),
        (30_000, True, BigCustomerClass.B),
        (8_000, True, None),
    ],
)
def test_the_big_customer_proposal(
    policy: Policy, spend: float | None, churned: bool, expected: BigCustomerClass | None
) -> None:
    assert proposed_big_customer_class(spend, churned=churned, policy=policy) is expected


def test_definitions_are_the_rules_docstrings() -> None:
    text = definition_of(manual_answer_rate)
    assert text.startswith("人工接通率: contacts answered by an agent")
    assert "\n" not in text


# --- periods -----------------------------------------------------------------------------

NOW = datetime(2026, 11, 2, 2, 30, tzinfo=UTC)  # Monday 10:30 in Shanghai


def test_today_is_the_local_day_measured_up_to_now() -> None:
    period = period_of(PeriodKind.TODAY, NOW, SHANGHAI)
    assert period.start == datetime(2026, 11, 2, tzinfo=SHANGHAI)
    assert period.end == datetime(2026, 11, 3, tzinfo=SHANGHAI)
    assert period.as_of == NOW
    assert period.running


def test_seven_days_this_month_shift_and_range() -> None:
    week = period_of(PeriodKind.WEEK, NOW, SHANGHAI)
    assert week.start == datetime(2026, 10, 27, tzinfo=SHANGHAI)
    assert week.days == 7
    month = period_of(PeriodKind.MONTH, NOW, SHANGHAI)
    assert (month.start, month.end) == (
        datetime(2026, 11, 1, tzinfo=SHANGHAI),
        datetime(2026, 12, 1, tzinfo=SHANGHAI),
    )
    december = period_of(PeriodKind.MONTH, datetime(2026, 12, 20, tzinfo=UTC), SHANGHAI)
    assert december.end == datetime(2027, 1, 1, tzinfo=SHANGHAI)
    shift = (datetime(2026, 11, 2, 0, tzinfo=UTC), datetime(2026, 11, 2, 8, tzinfo=UTC))
    assert period_of(PeriodKind.SHIFT, NOW, SHANGHAI, shift=shift).start == shift[0]
    assert period_of(PeriodKind.SHIFT, NOW, SHANGHAI).kind is PeriodKind.TODAY  # no shift
    chosen = range_period(date(2026, 10, 1), date(2026, 10, 31), NOW, SHANGHAI)
    assert chosen.days == 31
    assert chosen.as_of == chosen.end
    assert not chosen.running
    with pytest.raises(ValueError, match="ends"):
        range_period(date(2026, 10, 2), date(2026, 10, 1), NOW, SHANGHAI)
