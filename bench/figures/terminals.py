"""Several terminals on one database: 8 console-like worker processes, each an agent at work.

Each worker is a process of its own with its own pooled connections (``Database.from_url``),
signed in as a different agent, and does what an agent's console does on a call, at an agent's
pace (a think time of 0.3–1.5 s between actions), for 60 s:

- **lookup**: the caller's number (or, for one call in three, a 4-digit phone ending or a
  name fragment) through :func:`desk.services.search.search_customers`;
- **card**: the found customer's card, :func:`desk.services.card.customer_card`;
- **write**: for one call in four, a work order opened with the caller's consent,
  :func:`desk.services.work_orders.create_work_order` (the row, its number, the created event,
  its clocks and escalation plan, in one transaction).

Figures: p50, p95 and p99 per action over every terminal, and the errors (any exception: a
timeout, a serialization failure not retried, a lost connection). Baseline, same run: the same
actions by one terminal alone, without think time (what concurrency adds). Targets: p99 ≤ 50 ms
for lookups and cards, 0 errors. The work orders the scenario opened are deleted afterwards.

``DESK_BENCH_TERMINALS`` and ``DESK_BENCH_TERMINAL_SECONDS`` change the 8 and the 60 s.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.core import BenchContext, Figure, Raw, percentiles_ms

TERMINALS = 8
SECONDS = 60.0
THINK = (0.3, 1.5)
TARGET_P99_MS = 50.0
ACTIONS = ("lookup", "card", "write")
QUERIES = 400


@dataclass
class _Plan:
    """What a terminal may ask: real callers' numbers, endings and name fragments."""

    url: str
    phones: list[str]
    others: list[str]
    agents: list[int]
    seconds: float
    think: tuple[float, float]
    seed: int


@dataclass
class _Outcome:
    samples: dict[str, list[float]] = field(default_factory=lambda: {a: [] for a in ACTIONS})
    errors: list[str] = field(default_factory=list)
    created: list[int] = field(default_factory=list)


def _draw(raw: Raw, ctx: BenchContext) -> tuple[list[str], list[str], list[int]]:
    rng = random.Random(ctx.seed + 11)
    top = int(raw.scalar("SELECT MAX(customer_id) FROM customer_phone") or 0)
    ids = sorted({rng.randint(1, top) for _ in range(QUERIES)}) if top else []
    marks = ", ".join("?" for _ in ids) or "NULL"
    rows = raw.fetch(
        f"SELECT p.phone, c.name FROM customer_phone p JOIN customer c ON c.id = p.customer_id "
        f"WHERE p.customer_id IN ({marks}) AND p.is_primary",
        ids,
    )
    phones = [str(row[0]) for row in rows]
    others = []
    for phone, name in rows:
        others.append(str(phone)[-4:])
        name = str(name)
        size = 2 if len(name) >= 2 else 1
        start = rng.randint(0, len(name) - size)
        others.append(name[start : start + size])
    rng.shuffle(phones)
    rng.shuffle(others)
    agents = [
        int(row[0])
        for row in raw.fetch(
            "SELECT id FROM staff_user WHERE role = 'agent' AND active = ? ORDER BY id",
            (True,),
        )
    ]
    return phones, others, agents


def _terminal(plan: _Plan, index: int, results: Any) -> None:
    """One console: its own process, connections, agent and random stream."""
    outcome = _work(plan, index)
    results.put(outcome)


def _work(plan: _Plan, index: int) -> _Outcome:
    from desk.infra.database import Database
    from desk.rules.permissions import Actor
    from desk.rules.policy import load_policy
    from desk.rules.vocab import Channel, Priority, RequestType, Role, WorkOrderSource
    from desk.services.card import customer_card
    from desk.services.search import search_customers
    from desk.services.work_orders import WorkOrderDraft, create_work_order

    rng = random.Random(plan.seed * 1_000 + index)
    db = Database.from_url(plan.url)
    policy = load_policy()
    agent = plan.agents[index % len(plan.agents)]
    actor = Actor(user_id=agent, login=f"agent-{agent}", role=Role.AGENT)
    outcome = _Outcome()

    def timed(action: str, work: Any) -> Any:
        started = time.perf_counter()
        try:
            result = work()
        except Exception as error:  # every failure counts, with what it was
            first = (str(error).strip().splitlines() or [""])[0]
            outcome.errors.append(f"{action}: {type(error).__name__}: {first}"[:300])
            return None
        outcome.samples[action].append((time.perf_counter() - started) * 1000)
        return result

    def pause() -> None:
        if plan.think[1] > 0:
            time.sleep(rng.uniform(*plan.think))

    deadline = time.monotonic() + plan.seconds
    try:
        while time.monotonic() < deadline:
            if rng.random() < 1 / 3 and plan.others:
                query = rng.choice(plan.others)
            else:
                query = rng.choice(plan.phones)
            page = timed("lookup", lambda q=query: search_customers(db, actor=actor, query=q))
            pause()
            if page is None or not page.hits:
                continue
            customer_id = page.hits[0].id
            timed(
                "card",
                lambda c=customer_id: customer_card(db, actor=actor, customer_id=c, policy=policy),
            )
            pause()
            if rng.random() < 0.25:
                draft = WorkOrderDraft(
                    customer_id=customer_id,
                    contact_id=None,
                    category=RequestType.CONSULTATION,
                    topic="资费咨询",
                    title="资费咨询: 客户来电",
                    description="客户来电咨询资费,需回复。",
                    priority=Priority.NORMAL,
                    department_id=None,
                    callback_number=None,
                    channel=Channel.PHONE,
                    source=WorkOrderSource.AGENT,
                    consent=True,
                )
                view = timed(
                    "write",
                    lambda d=draft: create_work_order(db, actor=actor, draft=d, policy=policy),
                )
                if view is not None:
                    outcome.created.append(int(view.id))
                pause()
    finally:
        db.dispose()
    return outcome


def _run(plan: _Plan, terminals: int) -> _Outcome:
    """``terminals`` worker processes at once; their outcomes merged."""
    context = multiprocessing.get_context(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    )
    results = context.Queue()
    workers = [
        context.Process(target=_terminal, args=(plan, index, results), daemon=True)
        for index in range(terminals)
    ]
    for worker in workers:
        worker.start()
    merged = _Outcome()
    for _ in workers:
        outcome: _Outcome = results.get(timeout=plan.seconds + 600)
        for action in ACTIONS:
            merged.samples[action].extend(outcome.samples[action])
        merged.errors.extend(outcome.errors)
        merged.created.extend(outcome.created)
    for worker in workers:
        worker.join(timeout=60)
    return merged


def _clean(ctx: BenchContext, created: Sequence[int]) -> None:
    """Delete the work orders the scenario opened, and what refers to them."""
    if not created:
        return
    from desk.models import metadata

    referring = [
        table.name
        for table in metadata.sorted_tables
        if "work_order_id" in table.columns and table.name != "work_order"
    ]
    with ctx.raw() as raw:
        for start in range(0, len(created), 500):
            chunk = list(created[start : start + 500])
            marks = ", ".join("?" for _ in chunk)
            for name in reversed(referring):
                raw.execute(f"DELETE FROM {name} WHERE work_order_id IN ({marks})", chunk)
            raw.execute(f"DELETE FROM work_order WHERE id IN ({marks})", chunk)


def measure(ctx: BenchContext) -> list[Figure]:
    terminals = int(os.environ.get("DESK_BENCH_TERMINALS", TERMINALS))
    seconds = float(os.environ.get("DESK_BENCH_TERMINAL_SECONDS", SECONDS))
    if ctx.quick:
        terminals, seconds = min(terminals, 2), min(seconds, 3.0)
    with ctx.raw() as raw:
        phones, others, agents = _draw(raw, ctx)
    if not phones or not agents:
        return []
    ctx.db.dispose()  # the workers open their own connections
    plan = _Plan(ctx.url, phones, others, agents, seconds, THINK, ctx.seed)
    alone = _work(
        _Plan(ctx.url, phones, others, agents, min(seconds / 4, 15.0), (0.0, 0.0), ctx.seed), 999
    )
    together = _run(plan, terminals)
    _clean(ctx, alone.created + together.created)
    scene = (
        f"{ctx.database_label}, {ctx.customers:,} customers; {terminals} terminals for "
        f"{seconds:.0f} s at an agent's pace"
    )
    figures: list[Figure] = []
    for action in ACTIONS:
        samples = together.samples[action]
        if not samples:
            continue
        values = percentiles_ms(samples)
        bases = percentiles_ms(alone.samples[action])
        for label, value, base in zip(("p50", "p95", "p99"), values, bases, strict=True):
            figures.append(
                Figure(
                    name=f"terminals.{action}_{label}",
                    value=round(value, 3),
                    unit="ms",
                    baseline=round(base, 3) if alone.samples[action] else None,
                    baseline_label="one terminal alone, no think time, same run",
                    target=TARGET_P99_MS if label == "p99" and action != "write" else None,
                    note=f"{scene}: {len(samples):,} {action}s",
                )
            )
    kinds = sorted({": ".join(error.split(": ", 2)[:2]) for error in together.errors})
    figures.append(
        Figure(
            name="terminals.errors",
            value=float(len(together.errors)),
            unit="errors",
            baseline=float(len(alone.errors)),
            baseline_label="one terminal alone",
            target=0.0,
            note=f"{scene}; "
            + (f"first: {together.errors[0]}; kinds: {', '.join(kinds)}" if kinds else "none"),
        )
    )
    return figures
