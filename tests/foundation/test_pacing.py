"""Paced batches (desk.infra.pacing): sizes that follow the time a batch takes, and a pause
once the batches have held the lock for a stretch, on SQLite only."""

from __future__ import annotations

import pytest

from desk.infra.pacing import SQLITE_GAP_SECONDS, Pacer, for_dialect


class FakeTime:
    """A clock the work advances by hand, and the sleeps taken."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def paced(time: FakeTime, **options: object) -> Pacer:
    return Pacer(clock=time.clock, sleep=time.sleep, **options)  # type: ignore[arg-type]


def test_every_item_comes_once_in_order() -> None:
    time = FakeTime()
    pacer = paced(time, size=3, maximum=3)
    seen: list[int] = []
    for batch in pacer.batches(list(range(10))):
        seen.extend(batch)
    assert seen == list(range(10))


def test_batches_are_sized_to_the_target_time() -> None:
    time = FakeTime()
    pacer = paced(time, size=100, target=0.2, stretch=100.0)
    sizes = []
    for batch in pacer.batches(list(range(10_000))):
        sizes.append(len(batch))
        time.now += len(batch) * 0.004  # 4 ms an item: 50 items make 0.2 s
    assert sizes[0] == 100
    assert sizes[1:4] == [50, 50, 50]


def test_a_quick_batch_at_most_doubles_the_next_and_the_maximum_holds() -> None:
    time = FakeTime()
    pacer = paced(time, size=10, maximum=35, stretch=100.0)
    sizes = []
    for batch in pacer.batches(list(range(200))):
        sizes.append(len(batch))
        time.now += len(batch) * 0.000_001
    assert sizes[:4] == [10, 20, 35, 35]


def test_a_slow_batch_shrinks_the_next_down_to_the_minimum() -> None:
    time = FakeTime()
    pacer = paced(time, size=100, minimum=5, stretch=100.0)
    sizes = []
    for batch in pacer.batches(list(range(300))):
        sizes.append(len(batch))
        time.now += 10.0  # each batch takes 10 s whatever its size
    assert sizes[:3] == [100, 5, 5]


def test_a_pause_comes_once_the_batches_held_the_lock_a_stretch() -> None:
    time = FakeTime()
    pacer = paced(time, size=1, maximum=1, stretch=0.25, gap=0.125)
    for _batch in pacer.batches(list(range(7))):
        time.now += 0.125  # each batch holds the lock 0.125 s
    # after batches 2, 4 and 6 (each stretch 0.25 s); none after the last batch
    assert time.sleeps == [0.125, 0.125, 0.125]
    assert pacer.paused == 0.375


def test_a_short_job_never_pauses() -> None:
    time = FakeTime()
    pacer = paced(time, size=2, maximum=2)
    for _batch in pacer.batches(list(range(6))):
        time.now += 0.01
    assert time.sleeps == []


def test_only_sqlite_pauses() -> None:
    assert for_dialect("sqlite", size=10).gap == SQLITE_GAP_SECONDS
    assert for_dialect("postgresql", size=10).gap == 0.0


def test_sizes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Pacer(size=0)
