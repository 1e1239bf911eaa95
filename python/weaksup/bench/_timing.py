"""Timing and reporting shared by every benchmark section."""

from __future__ import annotations

import dataclasses
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
    rows = [("workload", "implementation", "time (ms)", "speedup vs baseline", "note")]
    for r in results:
        speed = f"{r.speedup:.2f}x" if r.speedup is not None else "-"
        rows.append((r.workload, r.implementation, f"{r.seconds * 1e3:.2f}", speed, r.note))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
