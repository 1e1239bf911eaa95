"""Timing and reporting shared by every benchmark section."""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from typing import Callable, List, Optional


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


def measure(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of fn() over `repeat` runs, after one warm-up run."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def fill_speedups(results: List[Result]) -> None:
    """Set each result's speedup against its workload's baseline implementation."""
    base = {(r.section, r.workload): r.seconds for r in results if r.implementation == r.baseline}
    for r in results:
        ref = base.get((r.section, r.workload))
        r.speedup = ref / r.seconds if ref and r.seconds > 0 else None


def table(results: List[Result]) -> str:
    scored = any(r.accuracy is not None for r in results)
    rows = [("workload", "implementation", "time (ms)", "speedup vs baseline") + (("accuracy",) if scored else ())
            + ("note",)]
    for r in results:
        speed = f"{r.speedup:.2f}x" if r.speedup is not None else "-"
        ms = f"{r.seconds * 1e3:.2f}" if math.isfinite(r.seconds) else "-"
        acc = (f"{r.accuracy:.3f}" if r.accuracy is not None else "-",) if scored else ()
        rows.append((r.workload, r.implementation, ms, speed) + acc + (r.note,))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
