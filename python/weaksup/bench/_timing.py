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


def measure(fn: Callable[[], object], repeat: int,
            on_warm: Optional[Callable[[float, object], None]] = None) -> float:
    """Median wall time of fn() over `repeat` runs, after one warm-up run (whose time and value
    go to ``on_warm``: it can check the answer and announce how long the rest will take)."""
    t0 = time.perf_counter()
    value = fn()
    if on_warm is not None:
        on_warm(time.perf_counter() - t0, value)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
