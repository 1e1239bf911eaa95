"""How ``weaksup bench`` talks: workloads announce themselves, rows print as they are measured.

A section opens one ``Workload`` per workload (``Report.workload``), measures its baseline
first and then the other implementations, so that every row prints with its speedup as soon
as it is measured.  The printed stream is the table (at most ``WIDTH`` columns, grouped by
workload, human units); ``Report.results`` keeps the rows for the JSON file and the plot.
"""

from __future__ import annotations

import contextlib
import math
import sys
import textwrap
import threading
import time
from typing import Any, Callable, Iterator, List, Optional, TextIO, Tuple

from ._timing import Result, measure

WIDTH = 100
# implementation, time, speedup, accuracy; the note follows, wrapped under the row when long.
_COLUMNS = (("implementation", 36, "<"), ("time", 10, ">"), ("speedup", 9, ">"), ("accuracy", 9, ">"))
_NOTE_INDENT = 6
LONG = 3.0  # seconds: a measurement expected to take longer announces itself with an estimate


def human_seconds(seconds: float) -> str:
    """4.46 ms, 1.26 s, 3 min 10 s: three significant digits, the unit a person reads."""
    if not math.isfinite(seconds):
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    if seconds < 60:
        return f"{seconds:.3g} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def human_speedup(speedup: Optional[float]) -> str:
    if speedup is None:
        return ""
    return f"{speedup:.0f}x" if speedup >= 100 else f"{speedup:.3g}x"


def _columns(timed: bool, scored: bool) -> List[Tuple[str, int, str]]:
    """The columns a workload shows: speedup only against a baseline, accuracy only if scored."""
    name, time_, speedup, accuracy = _COLUMNS
    return [name, time_] + ([speedup] if timed else []) + ([accuracy] if scored else [])


def header(timed: bool = True, scored: bool = False) -> str:
    cells = [f"{name:{align}{width}}" for name, width, align in _columns(timed, scored)]
    return "  " + " ".join(cells) + " note"


def format_row(r: Result, baseline: bool, timed: bool = True, scored: bool = False) -> str:
    speed = "baseline" if baseline else human_speedup(r.speedup)
    acc = "-" if r.accuracy is None else f"{r.accuracy:.3f}"
    columns = _columns(timed, scored)
    values = (r.implementation, human_seconds(r.seconds)) + ((speed,) if timed else ()) + ((acc,) if scored else ())
    name_width = columns[0][1]
    lead = ""
    if len(r.implementation) > name_width:  # a long name takes its own line, the numbers go under it
        lead, values = "  " + r.implementation + "\n", ("",) + values[1:]
    line = "  " + " ".join(f"{value:{align}{width}}" for value, (_, width, align) in zip(values, columns))
    if r.note and len(line) + 1 + len(r.note) <= WIDTH:
        return lead + line + " " + r.note
    line = lead + line.rstrip()
    if r.note:
        line += "\n" + textwrap.fill(r.note, WIDTH, initial_indent=" " * _NOTE_INDENT,
                                     subsequent_indent=" " * _NOTE_INDENT)
    return line


class _Ticker:
    """On a terminal, one line that counts the seconds of a long measurement (then vanishes)."""

    def __init__(self, out: TextIO, what: str, estimate: Optional[float]) -> None:
        self.out, self.what, self.estimate = out, what, estimate
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        t0 = time.perf_counter()
        while not self.stop.wait(1.0):
            of = f" of about {human_seconds(self.estimate)}" if self.estimate else ""
            self.out.write(f"\r        {human_seconds(time.perf_counter() - t0)}{of}  ")
            self.out.flush()

    def __enter__(self) -> "_Ticker":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.out.write("\r" + " " * (WIDTH - 1) + "\r")


class Workload:
    """The rows of one workload; speedups are against ``baseline`` (None: no speedup column)."""

    def __init__(self, report: "Report", section: str, name: str, baseline: Optional[str], scored: bool) -> None:
        self.report, self.section, self.name, self.baseline = report, section, name, baseline
        self.scored = scored
        self.baseline_seconds: Optional[float] = None

    def add(self, implementation: str, seconds: float, note: str = "",
            accuracy: Optional[float] = None) -> Result:
        """Record and print one measured row."""
        is_baseline = implementation == self.baseline
        if is_baseline:
            self.baseline_seconds = seconds
        speedup = None
        if not is_baseline and self.baseline_seconds and math.isfinite(seconds) and seconds > 0:
            speedup = self.baseline_seconds / seconds
        r = Result(self.section, self.name, implementation, seconds, self.baseline or "", speedup, note, accuracy)
        self.report.results.append(r)
        self.report.say(format_row(r, is_baseline, self.baseline is not None, self.scored))
        return r

    def time(self, implementation: str, fn: Callable[[], object], repeat: int, note: str = "",
             check: Optional[Callable[[Any], str]] = None) -> Result:
        """Median of ``repeat`` runs of fn (more for fast calls) after a warm-up (``measure``), printed as it ends;
        ``check`` turns the warm-up's answer into a note (its agreement with weaksup's, say)."""
        notes = [note] if note else []

        def warmed(seconds: float, value: object) -> None:
            if check is not None:
                notes.insert(0, check(value))
            if seconds * repeat > LONG:
                self.report.say(f"    ... {implementation}: {repeat} more run{'s' if repeat > 1 else ''} of "
                                f"{human_seconds(seconds)}, about {human_seconds(seconds * repeat)}")

        seconds = measure(fn, repeat, on_warm=warmed)
        return self.add(implementation, seconds, "; ".join(notes))

    @contextlib.contextmanager
    def running(self, what: str, estimate: Optional[float] = None) -> Iterator[None]:
        """Around a measurement that ``time`` does not make (a child process, a peer's fit):
        says what runs and, on a terminal, counts its seconds."""
        if estimate is None or estimate > LONG:
            of = f" (about {human_seconds(estimate)} on 2 cores)" if estimate else ""
            self.report.say(f"    ... {what}{of}")
        if self.report.tty:
            with _Ticker(self.report.out, what, estimate):
                yield
        else:
            yield


class Report:
    """Where sections send their workloads and rows; ``results`` holds every row so far."""

    def __init__(self, out: TextIO = sys.stdout, on_workload_done: Optional[Callable[[], None]] = None) -> None:
        self.out = out
        self.tty = bool(getattr(out, "isatty", lambda: False)())
        self.results: List[Result] = []
        self.on_workload_done = on_workload_done

    def say(self, text: str) -> None:
        """Print text, any line longer than WIDTH wrapped under its own indentation."""
        lines = []
        for line in text.split("\n"):
            indent = " " * (len(line) - len(line.lstrip()) + 2)
            lines.append(line if len(line) <= WIDTH else textwrap.fill(line, WIDTH, subsequent_indent=indent))
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()

    @contextlib.contextmanager
    def workload(self, section: str, name: str, baseline: Optional[str], scored: bool = False
                 ) -> Iterator[Workload]:
        """A workload's rows, under its name and a header; ``scored``: rows have an accuracy."""
        against = f" (speedup vs {baseline})" if baseline else ""
        self.say("")
        self.say(textwrap.fill(name + against, WIDTH, subsequent_indent="  "))
        self.say(header(baseline is not None, scored))
        yield Workload(self, section, name, baseline, scored)
        if self.on_workload_done is not None:
            self.on_workload_done()
