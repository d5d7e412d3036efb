"""Staffing by Erlang C: how many agents an hour needs for the answer target.

Definitions, for calls arriving at random (Poisson) and served in ``aht`` seconds on average:

- **traffic** ``A`` (erlangs) = calls per period × average handling time ÷ period length;
- **Erlang B** ``B(N, A)``: the blocking probability with ``N`` agents and no queue, computed
  by the stable recurrence ``B(0) = 1``, ``B(k) = A·B(k-1) / (k + A·B(k-1))``;
- **Erlang C** ``C(N, A)``: the probability that a call waits,
  ``C = N·B / (N - A·(1 - B))`` for ``N > A`` (1 otherwise: the queue grows without end);
- **service level** = share of calls answered within ``t`` seconds,
  ``1 - C·exp(-(N - A)·t / aht)``;
- **average speed of answer** = ``C·aht / (N - A)``;
- **occupancy** = ``A / N``.

Agents needed = the fewest ``N`` whose service level reaches the target and whose occupancy
stays within the cap; scheduled agents add shrinkage (breaks, training, after-call work
outside handling time): ``ceil(N / (1 - shrinkage))``.

(``pyworkforce`` implements the same but pulls in numpy, pandas, joblib and ortools; the
formulas are short enough to keep here, pure and tested.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from desk.rules.policy import Policy


def traffic_erlangs(calls: float, aht_seconds: float, period_seconds: float = 3600) -> float:
    """Offered traffic in erlangs: ``calls × aht / period``."""
    if calls < 0 or aht_seconds <= 0 or period_seconds <= 0:
        raise ValueError("calls must be >= 0, aht and period > 0")
    return calls * aht_seconds / period_seconds


def erlang_b(traffic: float, agents: int) -> float:
    """Erlang B blocking probability (see the module docs)."""
    if traffic < 0 or agents < 0:
        raise ValueError("traffic and agents must not be negative")
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = traffic * blocking / (k + traffic * blocking)
    return blocking


def erlang_c(traffic: float, agents: int) -> float:
    """Erlang C probability that a call waits; 1.0 when ``agents <= traffic``."""
    if traffic == 0:
        return 0.0
    if agents <= traffic:
        return 1.0
    blocking = erlang_b(traffic, agents)
    return agents * blocking / (agents - traffic * (1 - blocking))


def service_level(traffic: float, agents: int, aht_seconds: float, within_seconds: float) -> float:
    """Share (0–1) of calls answered within ``within_seconds``."""
    if traffic == 0:
        return 1.0
    if agents <= traffic:
        return 0.0
    waiting = erlang_c(traffic, agents)
    return max(0.0, 1.0 - waiting * math.exp(-(agents - traffic) * within_seconds / aht_seconds))


def average_speed_of_answer(traffic: float, agents: int, aht_seconds: float) -> float:
    """Average wait in seconds over all calls; infinite when ``agents <= traffic``."""
    if traffic == 0:
        return 0.0
    if agents <= traffic:
        return math.inf
    return erlang_c(traffic, agents) * aht_seconds / (agents - traffic)


@dataclass(frozen=True)
class StaffingNeed:
    """The agents one period needs, and what they achieve."""

    calls: float
    traffic: float
    agents: int
    """On calls at once (Erlang C)."""
    scheduled: int
    """On shift, shrinkage added."""
    service_level_percent: float
    average_speed_of_answer_seconds: float
    occupancy_percent: float


def agents_needed(
    calls: float,
    aht_seconds: float,
    *,
    target_percent: float,
    within_seconds: float,
    period_seconds: float = 3600,
    max_occupancy_percent: float = 100.0,
    shrinkage_percent: float = 0.0,
) -> StaffingNeed:
    """The fewest agents for ``target_percent`` of ``calls`` answered within
    ``within_seconds`` in a period, occupancy at most ``max_occupancy_percent``."""
    if not 0 < target_percent < 100:
        raise ValueError("target_percent must be between 0 and 100 (exclusive)")
    if not 0 <= shrinkage_percent < 100:
        raise ValueError("shrinkage_percent must be in [0, 100)")
    if not 0 < max_occupancy_percent <= 100:
        raise ValueError("max_occupancy_percent must be in (0, 100]")
    traffic = traffic_erlangs(calls, aht_seconds, period_seconds)
    if traffic == 0:
        return StaffingNeed(calls, 0.0, 0, 0, 100.0, 0.0, 0.0)
    agents = max(1, math.floor(traffic) + 1)
    while True:
        level = service_level(traffic, agents, aht_seconds, within_seconds)
        occupancy = 100.0 * traffic / agents
        if level * 100 >= target_percent and occupancy <= max_occupancy_percent:
            break
        agents += 1
    scheduled = math.ceil(Fraction(agents * 100) / (100 - Fraction(shrinkage_percent)))
    return StaffingNeed(
        calls=calls,
        traffic=traffic,
        agents=agents,
        scheduled=scheduled,
        service_level_percent=100 * level,
        average_speed_of_answer_seconds=average_speed_of_answer(traffic, agents, aht_seconds),
        occupancy_percent=occupancy,
    )


def staffing_plan(
    calls_by_hour: Mapping[int, float], aht_seconds: float, policy: Policy
) -> dict[int, StaffingNeed]:
    """Agents needed per hour for the policy's staffing target (``staffing.*``)."""
    rules = policy.staffing
    return {
        hour: agents_needed(
            calls,
            aht_seconds,
            target_percent=rules.target_percent,
            within_seconds=rules.answer_within_seconds,
            max_occupancy_percent=rules.max_occupancy_percent,
            shrinkage_percent=rules.shrinkage_percent,
        )
        for hour, calls in sorted(calls_by_hour.items())
    }
