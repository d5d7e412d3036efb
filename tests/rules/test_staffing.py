"""Erlang B/C against textbook values, and the staffing search."""

from __future__ import annotations

import math

import pytest

from desk.rules.policy import Policy
from desk.rules.staffing import (
    agents_needed,
    average_speed_of_answer,
    erlang_b,
    erlang_c,
    service_level,
    staffing_plan,
    traffic_erlangs,
)


@pytest.mark.parametrize(
    ("traffic", "agents", "blocking"),
    [
        (1.0, 1, 0.5),
        (2.0, 2, 0.4),
        (5.0, 10, 0.018385),  # Erlang B table
        (10.0, 15, 0.036497),
        (0.0, 3, 0.0),
    ],
)
def test_erlang_b_table(traffic: float, agents: int, blocking: float) -> None:
    assert erlang_b(traffic, agents) == pytest.approx(blocking, abs=1e-6)


def test_erlang_c_closed_forms() -> None:
    assert erlang_c(0.5, 1) == pytest.approx(0.5)  # M/M/1: P(wait) = utilisation
    assert erlang_c(1.0, 2) == pytest.approx(1 / 3)  # M/M/2 at 50 % load
    assert erlang_c(3.0, 3) == 1.0  # unstable: everyone waits
    assert erlang_c(0.0, 1) == 0.0


# The classic worked example: 100 calls in 30 minutes, 180 s handling time (10 erlangs),
# target 80 % answered within 20 s.
@pytest.mark.parametrize(
    ("agents", "p_wait", "level", "asa"),
    [
        (11, 0.6821, 0.3896, 122.8),
        (12, 0.4494, 0.6402, 40.4),
        (13, 0.2853, 0.7956, 17.1),
        (14, 0.1741, 0.8884, 7.8),
    ],
)
def test_erlang_c_worked_example(agents: int, p_wait: float, level: float, asa: float) -> None:
    traffic = traffic_erlangs(100, 180, 1800)
    assert traffic == 10.0
    assert erlang_c(traffic, agents) == pytest.approx(p_wait, abs=5e-5)
    assert service_level(traffic, agents, 180, 20) == pytest.approx(level, abs=5e-5)
    assert average_speed_of_answer(traffic, agents, 180) == pytest.approx(asa, abs=0.05)


def test_agents_needed_for_the_worked_example() -> None:
    need = agents_needed(100, 180, target_percent=80, within_seconds=20, period_seconds=1800)
    assert need.agents == 14
    assert need.scheduled == 14
    assert need.occupancy_percent == pytest.approx(100 * 10 / 14)
    with_shrinkage = agents_needed(
        100, 180, target_percent=80, within_seconds=20, period_seconds=1800, shrinkage_percent=30
    )
    assert with_shrinkage.scheduled == 20  # 14 / 0.7, exactly


def test_occupancy_cap_adds_agents() -> None:
    free = agents_needed(1000, 180, target_percent=50, within_seconds=20)
    capped = agents_needed(
        1000, 180, target_percent=50, within_seconds=20, max_occupancy_percent=80
    )
    assert capped.agents >= math.ceil(free.traffic / 0.8)
    assert capped.agents > free.agents


def test_large_traffic_is_stable() -> None:
    need = agents_needed(20_000, 240, target_percent=85, within_seconds=20)
    traffic = 20_000 * 240 / 3600
    assert traffic < need.agents < traffic * 1.2
    assert 0 <= erlang_b(traffic, need.agents) <= 1


def test_no_calls_needs_nobody() -> None:
    need = agents_needed(0, 180, target_percent=85, within_seconds=20)
    assert (need.agents, need.scheduled) == (0, 0)
    assert service_level(0, 0, 180, 20) == 1.0
    assert average_speed_of_answer(2.0, 2, 180) == math.inf


def test_staffing_plan_uses_the_policy(policy: Policy) -> None:
    plan = staffing_plan({9: 120, 10: 0, 8: 60}, 180, policy)
    assert list(plan) == [8, 9, 10]
    assert plan[10].agents == 0
    assert plan[9].service_level_percent >= policy.staffing.target_percent
    assert plan[9].occupancy_percent <= policy.staffing.max_occupancy_percent
    assert plan[9].scheduled == math.ceil(plan[9].agents / 0.7)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"target_percent": 0},
        {"target_percent": 100},
        {"target_percent": 80, "shrinkage_percent": 100},
        {"target_percent": 80, "max_occupancy_percent": 0},
    ],
)
def test_bad_parameters(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        agents_needed(10, 180, within_seconds=20, **kwargs)
