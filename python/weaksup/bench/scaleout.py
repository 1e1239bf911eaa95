"""`weaksup bench dask`: label models beyond one process. A synthetic label matrix is
written chunked to zarr on disk, then fitted on a ``dask.distributed`` LocalCluster of 2
worker processes (1 thread each) straight from the zarr store, against the same fit in one
process from memory (the matrix loaded first). The two fits must give the same tables, bit
for bit. Reported: wall time, the cost per vote, and the peak resident memory of the
workers (which holds a few chunks, not the matrix).

The store goes to a temporary folder under ``$WEAKSUP_BENCH_DIR`` (default: the system's
temporary folder); --full writes 1 GB there (1e9 int8 cells).
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from typing import Any, List, Tuple

import numpy as np

from ._report import Report, human_seconds
from ._timing import measure

SECTION = "dask"
DESCRIPTION = ("label models on Dask: a zarr label matrix fitted on a 2-process LocalCluster vs the same fit in "
               "one process from memory")
COVERAGE, ACCURACY = 0.3, 0.7
CHUNK_BYTES = 10 * 2**20  # int8 cells per zarr chunk
SIZES = {"quick": [(1_000_000, 10, 2)], "default": [(10_000_000, 10, 2)],
         "full": [(100_000_000, 10, 2)]}


def have(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def synthetic_block(block: np.ndarray, k: int, seed: int, block_info: Any = None) -> np.ndarray:
    """Row chunk of the synthetic matrix: each source votes with probability COVERAGE, the
    true class with probability ACCURACY (else a uniform class); a seed per chunk."""
    rows, m = block.shape
    index = block_info[0]["chunk-location"][0] if block_info else 0
    rng = np.random.default_rng([seed, index])
    y = np.asarray(rng.integers(0, k, rows, dtype=np.int8))
    votes = np.where(rng.random((rows, m), dtype=np.float32) < ACCURACY, y[:, None],
                     rng.integers(0, k, (rows, m), dtype=np.int8))
    return np.where(rng.random((rows, m), dtype=np.float32) < COVERAGE, votes, np.int8(-1)).astype(np.int8)


def write_matrix(path: str, n: int, m: int, k: int, seed: int = 0) -> Tuple[int, ...]:
    """Writes the (n, m) int8 matrix to a zarr store at path (in parallel on the current
    Dask scheduler); returns its row chunks."""
    import dask.array as da

    rows = max(1, min(CHUNK_BYTES // m, -(-n // 8)))  # chunks of 10 MB, at least 8 of them
    shape = da.empty((n, m), chunks=(rows, m), dtype=np.int8)
    L = shape.map_blocks(synthetic_block, k, seed, dtype=np.int8)
    L.to_zarr(path, overwrite=True)
    return tuple(L.chunks[0])


def peak_rss_bytes() -> int:
    """This process's peak resident memory (run on each worker)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _size(nbytes: float) -> str:
    return f"{nbytes / 2**30:.2f} GB" if nbytes >= 2**30 else f"{nbytes / 2**20:.0f} MB"


def _same_tables(a: Any, b: Any) -> bool:
    return all(np.array_equal(getattr(a, name), getattr(b, name))
               for name in ("conditional_probs_", "class_balance_", "balance_bias_", "history_"))


def run(report: Report, mode: str = "default") -> List[str]:
    """The Dask workloads; returns the missing packages."""
    missing = [name for name in ("dask", "distributed", "zarr") if not have(name)]
    if missing:
        report.say(f"dask: skipped, needs {', '.join(missing)} (pip install 'weaksup[dask]' zarr)")
        return missing
    import dask.array as da
    from distributed import Client, LocalCluster

    from weaksup.labelmodel import LabelModel

    for n, m, k in SIZES[mode]:
        with tempfile.TemporaryDirectory(dir=os.environ.get("WEAKSUP_BENCH_DIR")) as folder, \
                LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            path = os.path.join(folder, "L.zarr")
            start = time.perf_counter()
            chunks = write_matrix(path, n, m, k)
            report.say(f"    (wrote {n} x {m} int8 to zarr in {len(chunks)} chunks, "
                       f"{human_seconds(time.perf_counter() - start)})")
            lazy = da.from_zarr(path)
            votes = float(n * m * COVERAGE)
            name = f"LabelModel(k={k}).fit, {n} x {m} int8 from zarr ({len(chunks)} chunks), coverage {COVERAGE}"
            with report.workload(SECTION, name, "one process, from memory") as w:
                in_memory = lazy.compute(scheduler="threads")
                fits: List[Any] = []
                seconds = measure(lambda: LabelModel(k).fit(in_memory), 1, on_warm=lambda _, fit: fits.append(fit))
                w.add("one process, from memory", seconds, f"{seconds / votes * 1e9:.1f} ns per vote")
                del in_memory
                seconds = measure(lambda: LabelModel(k).fit(lazy), 1, on_warm=lambda _, fit: fits.append(fit))
                peak = max(client.run(peak_rss_bytes).values())
                same = "same tables" if _same_tables(fits[0], fits[1]) else "TABLES DIFFER"
                w.add("LocalCluster, 2 workers x 1 thread", seconds,
                      f"{same}; {seconds / votes * 1e9:.1f} ns per vote; peak worker memory {_size(peak)} "
                      f"(the matrix: {_size(n * m)})")
    return []


def run_gpu(report: Report, mode: str = "default") -> None:
    return None
