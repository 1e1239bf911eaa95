"""The result row and the timing every benchmark section shares (printing is in _report.py)."""

from __future__ import annotations

import dataclasses
import statistics
import time
from typing import Callable, Optional


@dataclasses.dataclass
class Result:
    section: str
    workload: str
    implementation: str
    seconds: float  # median over repeats
    baseline: str  # implementation the speedup is measured against
    speedup: Optional[float] = None  # baseline seconds / these seconds
    note: str = ""
    accuracy: Optional[float] = None  # for workloads that score predictions (the table adds a column)


# Fast calls run more than `repeat` times, as timeit's autorange does: until their runs
# add up to MIN_TOTAL seconds (at most MAX_RUNS runs). A median of 5 runs of a 0.2 ms
# call still holds the first, slower calls (cold caches, sleeping worker threads).
MIN_TOTAL, MAX_RUNS = 0.2, 1000


def measure(fn: Callable[[], object], repeat: int,
            on_warm: Optional[Callable[[float, object], None]] = None) -> float:
    """Median wall time of fn() over `repeat` runs (more for fast calls: see MIN_TOTAL),
    after one warm-up run (whose time and value go to ``on_warm``: it can check the answer
    and announce how long the rest will take)."""
    t0 = time.perf_counter()
    value = fn()
    warm = time.perf_counter() - t0
    if on_warm is not None:
        on_warm(warm, value)
    runs = max(repeat, min(MAX_RUNS, int(MIN_TOTAL / max(warm, 1e-9)))) if repeat > 1 else repeat
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
