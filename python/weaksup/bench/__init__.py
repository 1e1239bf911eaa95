"""Built-in benchmark workloads (``weaksup bench``); each section compares with its peers.

``run`` prints each workload as it starts and each row as it is measured, and keeps the
results in a JSON file of its own per run (``weaksup-bench-<date>-<time>.json`` unless a
path is given), rewritten after every workload so that an interrupted run keeps what it
measured.  Three sizes: ``quick`` (a smoke test), ``default`` (a few minutes and under 2 GB
on a 2-core laptop) and ``full`` (the large workloads: Snorkel and crowd-kit at a million
rows, the 10M-row fit, the 1024x1024 CRF).
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import platform
import sys
import textwrap
import time
from importlib import metadata
from typing import Any, Dict, List, Optional, TextIO, Union

import weaksup

from . import crf, labelmodel, localize, scaleout, train
from ._report import WIDTH, Report, human_seconds
from ._timing import Result

SECTIONS = {"crf": crf, "labelmodel": labelmodel, "localize": localize, "train": train, "dask": scaleout}
MODES = ("quick", "default", "full")
# Wall time and peak resident memory (largest process) of each section on the 2-core
# reference machine with every peer installed (README's "Performance"), for the help text.
DURATIONS = {
    "crf": {"quick": "5 s", "default": "30 s", "full": "45 s"},
    "labelmodel": {"quick": "20 s", "default": "30 s", "full": "2 min, 8.6 GB"},
    "localize": {"quick": "10 s", "default": "45 s", "full": "1 min"},
    "train": {"quick": "10 s", "default": "1 min", "full": "2 min"},
    "dask": {"quick": "15 s", "default": "25 s", "full": "18 min, 21 GB on disk"},
}
SIZES_TEXT = ("The default size takes about 2 minutes and under 2 GB of memory in all; --full adds the large "
              "workloads (Snorkel and crowd-kit at a million rows, a 10M-row fit, a 1024x1024 CRF, 64 "
              "1024x1024 maps, two 1e9-cell label matrices and 100,000 CAMs on Dask): about 25 minutes, "
              "8.6 GB of memory (Snorkel's fit at a million rows) and 21 GB of disk.")
# The distributions whose versions a result depends on (weaksup's peers and what they run on).
DISTRIBUTIONS = ("numpy", "scipy", "opencv-python-headless", "opencv-python", "scikit-image",
                 "connected-components-3d", "pydensecrf2", "snorkel", "crowd-kit", "hyperlm", "pandas", "torch",
                 "cupy-cuda13x", "cupy-cuda12x", "matplotlib")


def versions() -> Dict[str, str]:
    """Installed version of weaksup and of each of ``DISTRIBUTIONS`` that is installed."""
    found = {"weaksup": weaksup.__version__}
    for name in DISTRIBUTIONS:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> Dict[str, Any]:
    """The machine a run measured: CPU, cores, threads weaksup uses, OS, Python, GPU."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "cpus_usable": usable,
        "threads_all_cores": os.cpu_count(),  # what threads=0 ("all cores") starts
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cuda_built": weaksup.cuda_built(),
        "cuda_available": weaksup.cuda_available(),
    }


def new_results_path(directory: Union[str, "os.PathLike[str]"] = ".") -> pathlib.Path:
    """``weaksup-bench-<date>-<time>.json`` in ``directory``, never the name of an existing file."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = pathlib.Path(directory) / f"weaksup-bench-{stamp}.json"
    n = 2
    while path.exists():
        path = pathlib.Path(directory) / f"weaksup-bench-{stamp}-{n}.json"
        n += 1
    return path


def write_results(path: Union[str, "os.PathLike[str]"], meta: Dict[str, Any], results: List[Result]) -> None:
    with open(path, "w") as f:
        json.dump(dict(meta, results=[r.__dict__ for r in results]), f, indent=2)


def run(sections: List[str], mode: str = "default", json_path: Optional[Union[str, "os.PathLike[str]"]] = None,
        plot_path: Optional[Union[str, "os.PathLike[str]"]] = None, out: TextIO = sys.stdout) -> List[Result]:
    """Run ``sections`` (names of ``SECTIONS``) at size ``mode`` (one of ``MODES``), printing as
    it goes; write the JSON to ``json_path`` (None: a new file, ``new_results_path()``) and,
    with ``plot_path``, the speedup plot.  Returns every result row."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise ValueError(f"sections must be among {', '.join(sorted(SECTIONS))}, got {', '.join(unknown)}")
    if plot_path is not None:
        from ._plot import check_plot_path

        check_plot_path(plot_path)  # before the run, not after minutes of it
    path = pathlib.Path(json_path) if json_path is not None else new_results_path()
    meta: Dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "mode": mode,
        "sections": sections,
        "argv": sys.argv,  # how this run was started
        "machine": machine(),
        "versions": versions(),
    }
    report = Report(out)
    report.on_workload_done = lambda: write_results(path, meta, report.results)
    expected = ", ".join(f"{s} {DURATIONS[s][mode]}" for s in sections)
    report.say(textwrap.fill(f"weaksup {weaksup.__version__} bench, {mode} size, on {meta['machine']['cpu']} "
                             f"({meta['machine']['cpus_usable']} cores); about {expected} on 2 cores", WIDTH))
    report.say(f"results: {path}")
    t0 = time.perf_counter()
    missing: List[str] = []
    for name in sections:
        module = SECTIONS[name]
        report.say("\n" + textwrap.fill(f"== {name}: {module.DESCRIPTION}", WIDTH, subsequent_indent="   "))
        missing += module.run(report, mode)
        module.run_gpu(report, mode)
    meta["seconds"] = round(time.perf_counter() - t0, 1)
    write_results(path, meta, report.results)
    report.say("")
    if missing:
        report.say(f"peers not installed (pip install 'weaksup[bench]'): {', '.join(sorted(set(missing)))}")
    if not weaksup.cuda_available():
        why = "no CUDA device" if weaksup.cuda_built() else "weaksup was built without CUDA"
        report.say(f"GPU workloads skipped: {why}")
    report.say(f"done in {human_seconds(meta['seconds'])}; results written to {path}")
    if plot_path is not None:
        from ._plot import plot

        plot(str(path), plot_path)
        report.say(f"speedup plot written to {plot_path}")
    return report.results
