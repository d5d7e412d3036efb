"""What every benchmark figure shares: the context it measures in and how it reports.

A figure module is ``bench/figures/<topic>.py`` with ``def measure(ctx: BenchContext) ->
list[Figure]``. Each figure is measured next to a raw-sqlite3 (or bare-framework) baseline
for the same question, in the same run, so the ratio means something on any machine.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from desk.infra.database import Database


@dataclass(frozen=True)
class Figure:
    name: str  # e.g. "search.phone_exact"
    value: float  # desk's figure
    unit: str  # "ms", "s", "MB", "rows"
    baseline: float | None = None  # the raw baseline, same unit
    baseline_label: str = ""  # what the baseline is, e.g. "sqlite3 SELECT by index"
    target: float | None = None  # the bound on ``value``, same unit (lower is better)
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    @property
    def within_target(self) -> bool | None:
        return None if self.target is None else self.value <= self.target

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "within_target": self.within_target}


@dataclass
class BenchContext:
    db_path: Path  # the SQLite file the dataset was built in
    db: Database  # desk's Database on that file
    customers: int
    days: int
    seed: int
    extra: dict[str, Any] = field(default_factory=dict)  # figures may leave facts for others


def median_ms(func: Callable[[], object], *, repeat: int = 50, warmup: int = 3) -> float:
    """The median wall time of ``func`` in milliseconds."""
    for _ in range(warmup):
        func()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)
