"""The customer card: what pops up when a caller is found (masked personal data, standing,
arrears, open work orders, contacts of the last 30 days, the repeat-caller flag).

- ``card.open``: :func:`desk.services.card.customer_card` for random customers (any standing;
  a big customer's view is audited, as in the console), median;
- ``card.open_busy``: the same for customers with work orders and recent contacts (the
  heaviest cards an agent sees every day).

Baseline, same run: the reading statements the service sent for each customer, captured at
the driver and replayed through a bare connection held open (the audit insert of a big
customer's view is not replayed). Target: 10 ms at a million customers.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Sequence

from bench.core import BenchContext, Figure, Raw, Statement, captured

from desk.infra.database import Database
from desk.rules.permissions import Actor
from desk.rules.policy import load_policy
from desk.rules.vocab import Role

POLICY = load_policy()  # the shipped policy

SAMPLES = 60
ROUNDS = 2
TARGET_MS = 10.0


def _agent(raw: Raw) -> Actor:
    found = raw.scalar("SELECT id FROM staff_user WHERE login = 'agent1'")
    if found is None:
        found = raw.scalar("SELECT id FROM staff_user WHERE role = 'agent' ORDER BY id LIMIT 1")
    return Actor(user_id=int(found), login="agent1", role=Role.AGENT)


def _customers(raw: Raw, ctx: BenchContext) -> tuple[list[int], list[int]]:
    rng = random.Random(ctx.seed + 7)
    top = int(raw.scalar("SELECT MAX(id) FROM customer") or 0)
    samples = ctx.samples(SAMPLES)
    anyone = [rng.randint(1, top) for _ in range(samples)] if top else []
    busy = [
        int(row[0])
        for row in raw.fetch(
            "SELECT customer_id FROM work_order WHERE customer_id IS NOT NULL "
            "GROUP BY customer_id ORDER BY COUNT(*) DESC, customer_id LIMIT ?",
            (samples * 4,),
        )
    ]
    rng.shuffle(busy)
    return anyone, busy[:samples]


def _median(ids: Sequence[int], run: Callable[[int], object]) -> float:
    for customer_id in ids:  # warm-up: page cache, plans
        run(customer_id)
    samples: list[float] = []
    for _ in range(ROUNDS):
        for customer_id in ids:
            started = time.perf_counter()
            run(customer_id)
            samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _plans(db: Database, actor: Actor, ids: Sequence[int]) -> dict[int, list[Statement]]:
    from desk.services.card import customer_card

    plans: dict[int, list[Statement]] = {}
    for customer_id in ids:
        with captured(db) as seen:
            customer_card(db, actor=actor, customer_id=customer_id, policy=POLICY)
        plans[customer_id] = list(seen)
    return plans


def measure(ctx: BenchContext) -> list[Figure]:
    from desk.services.card import customer_card

    with ctx.raw() as raw:
        actor = _agent(raw)
        anyone, busy = _customers(raw, ctx)
    figures = []
    for name, ids, what in (
        ("card.open", anyone, "random customers"),
        ("card.open_busy", busy, "customers with the most work orders"),
    ):
        if not ids:
            continue
        value = _median(
            ids, lambda cid: customer_card(ctx.db, actor=actor, customer_id=cid, policy=POLICY)
        )
        plans = _plans(ctx.db, actor, ids)
        statements = statistics.mean(len(plan) for plan in plans.values())
        with ctx.raw() as raw:

            def replay(
                customer_id: int, raw: Raw = raw, plans: dict[int, list[Statement]] = plans
            ) -> None:
                for statement, parameters in plans[customer_id]:
                    raw.replay(statement, parameters)

            baseline = _median(ids, replay)
            label = f"{raw.label} replay of the same statements"
        figures.append(
            Figure(
                name=name,
                value=round(value, 3),
                unit="ms",
                baseline=round(baseline, 3),
                baseline_label=label,
                target=TARGET_MS,
                note=f"{ctx.database_label}; customer_card for {len(ids)} {what}, median of "
                f"{ROUNDS}×{len(ids)}; {statements:.1f} statements each",
            )
        )
    return figures
