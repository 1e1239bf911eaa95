"""`weaksup bench dask`: beyond one process. A synthetic label matrix, and a batch of
224x224 CAMs, are written chunked to zarr on disk, then processed on a
``dask.distributed`` LocalCluster of 2 worker processes (1 thread each) straight from the
zarr stores, against the same calls in one process from memory (the arrays loaded
first): the label model's fit (the two fits must give the same tables, bit for bit; the
cost per vote is reported), and ``cam_to_boxes`` and ``max_box_acc_v2`` (same boxes, same
accuracy; the time per map). Also reported: the peak resident memory of the workers
(which hold a few chunks, not the arrays).

The store goes to a temporary folder under ``$WEAKSUP_BENCH_DIR`` (default: the system's
temporary folder); --full writes 1 GB there (1e9 int8 cells).
"""

from __future__ import annotations

import contextlib
import os
import resource
import tempfile
import time
from typing import Any, Iterator, List, Tuple

import numpy as np

from ._report import Report, human_seconds
from ._timing import measure

SECTION = "dask"
DESCRIPTION = ("label models on Dask: a zarr label matrix fitted on a 2-process LocalCluster vs the same fit in "
               "one process from memory")
COVERAGE, ACCURACY = 0.3, 0.7
CHUNK_BYTES = 10 * 2**20  # int8 cells per zarr chunk
SIZES = {"quick": [(1_000_000, 10, 2)], "default": [(10_000_000, 10, 2)],
         "full": [(100_000_000, 10, 2), (20_000_000, 50, 10)]}
CAMS = {"quick": 1_000, "default": 2_000, "full": 100_000}  # 224x224 float32 maps (full: 20 GB on disk)
CAM_SIZE, CAMS_PER_CHUNK = 224, 500


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


def synthetic_cams(block: np.ndarray, seed: int, block_info: Any = None) -> np.ndarray:
    """A chunk of CAMs as classifiers give them: 14x14 maps with one or two peaks plus
    noise, upsampled bilinearly to 224x224 (float32)."""
    count = block.shape[0]
    index = block_info[0]["chunk-location"][0] if block_info else 0
    rng = np.random.default_rng([seed, index])
    small = rng.random((count, 14, 14), dtype=np.float32) * 0.3
    for i in range(count):
        for _ in range(int(rng.integers(1, 3))):
            y, x = rng.integers(1, 13, 2)
            small[i, y - 1:y + 2, x - 1:x + 2] += rng.uniform(0.5, 1.0)
    grid = (np.arange(CAM_SIZE) + 0.5) * 14 / CAM_SIZE - 0.5
    lo = np.clip(np.floor(grid).astype(int), 0, 13)
    hi = np.clip(lo + 1, 0, 13)
    frac = np.clip(grid - lo, 0, 1).astype(np.float32)
    rows = small[:, lo] * (1 - frac)[None, :, None] + small[:, hi] * frac[None, :, None]
    return np.asarray(rows[:, :, lo] * (1 - frac) + rows[:, :, hi] * frac, dtype=np.float32)


def gt_boxes(count: int, seed: int = 1) -> List[np.ndarray]:
    """One or two ground-truth boxes per map."""
    rng = np.random.default_rng(seed)
    boxes = []
    for _ in range(count):
        x0, y0 = rng.integers(0, CAM_SIZE // 2, 2)
        w, h = rng.integers(30, CAM_SIZE // 2, 2)
        boxes.append(np.array([[x0, y0, x0 + w, y0 + h]]))
    return boxes


def peak_rss_bytes() -> int:
    """This process's peak resident memory (run on each worker)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _size(nbytes: float) -> str:
    return f"{nbytes / 2**30:.2f} GB" if nbytes >= 2**30 else f"{nbytes / 2**20:.0f} MB"


def _agreement(a: Any, b: Any) -> str:
    """"same tables" when two fits are equal bit for bit, else their largest difference."""
    names = ("conditional_probs_", "class_balance_", "balance_bias_", "history_")
    if any(np.shape(getattr(a, name)) != np.shape(getattr(b, name)) for name in names):
        return f"TABLES DIFFER ({a.n_iter_} and {b.n_iter_} iterations)"
    if all(np.array_equal(getattr(a, name), getattr(b, name)) for name in names):
        return "same tables"
    gap = max(float(np.max(np.abs(getattr(a, name) - getattr(b, name)), initial=0.0)) for name in names)
    return f"tables within {gap:.1e} (map-reduce: sums in another order)"


def run(report: Report, mode: str = "default") -> List[str]:
    """The Dask workloads; returns the missing packages."""
    missing = [name for name in ("dask", "distributed", "zarr") if not have(name)]
    if missing:
        report.say(f"dask: skipped, needs {', '.join(missing)} (pip install 'weaksup[dask]' zarr)")
        return missing
    for n, m, k in SIZES[mode]:
        with _cluster() as client:
            _label_model(report, n, m, k, client)
    with _cluster() as client:
        _cams(report, CAMS[mode], client)
    return []


@contextlib.contextmanager
def _cluster() -> Iterator[Any]:
    """A fresh LocalCluster of 2 worker processes x 1 thread (fresh, so that each workload's
    peak worker memory is its own) and its Client."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        yield client


def _label_model(report: Report, n: int, m: int, k: int, client: Any) -> None:
    import dask.array as da

    from weaksup.labelmodel import LabelModel

    with tempfile.TemporaryDirectory(dir=os.environ.get("WEAKSUP_BENCH_DIR")) as folder:
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
            same = _agreement(fits[0], fits[1])
            w.add("LocalCluster, 2 workers x 1 thread", seconds,
                  f"{same}; {seconds / votes * 1e9:.1f} ns per vote; peak worker memory {_size(peak)} "
                  f"(the matrix: {_size(n * m)})")


def _cams(report: Report, count: int, client: Any) -> None:
    import dask.array as da

    import weaksup
    from weaksup import wsol

    with tempfile.TemporaryDirectory(dir=os.environ.get("WEAKSUP_BENCH_DIR")) as folder:
        path = os.path.join(folder, "cams.zarr")
        start = time.perf_counter()
        shape = da.empty((count, CAM_SIZE, CAM_SIZE), chunks=(CAMS_PER_CHUNK, CAM_SIZE, CAM_SIZE), dtype=np.float32)
        shape.map_blocks(synthetic_cams, 0, dtype=np.float32).to_zarr(path, overwrite=True)
        report.say(f"    (wrote {count} CAMs of {CAM_SIZE}x{CAM_SIZE} float32 to zarr, "
                   f"{human_seconds(time.perf_counter() - start)})")
        lazy = da.from_zarr(path)
        boxes = gt_boxes(count)
        import zarr

        maps = zarr.open_array(path, mode="r")
        spans = [(start, min(start + CAMS_PER_CHUNK, count)) for start in range(0, count, CAMS_PER_CHUNK)]

        def streamed_boxes() -> Any:
            return np.concatenate([weaksup.cam_to_boxes(np.asarray(maps[a:b]), 0.2, threads=1) for a, b in spans])

        def streamed_accuracy() -> float:
            ev = wsol.BoxEvaluator(iou_thresholds=(30, 50, 70), threads=1)
            for a, b in spans:
                ev.accumulate(np.asarray(maps[a:b]), boxes[a:b])
            return ev.compute().mean_max_box_acc

        with report.workload(SECTION, f"reading {count} CAMs {CAM_SIZE}x{CAM_SIZE} from zarr (their sum)",
                             None) as w:
            w.time("LocalCluster, 2 workers x 1 thread", lambda: float(lazy.sum().compute()), 1,
                   note="the floor under the rows below: reading and decompressing the store")
        baseline = "one process, 1 thread, chunk by chunk"
        for name, local, distributed, same in (
                (f"cam_to_boxes, {count} CAMs {CAM_SIZE}x{CAM_SIZE} from zarr", streamed_boxes,
                 lambda: weaksup.cam_to_boxes(lazy, 0.2).compute(), lambda a, b: np.array_equal(a, b)),
                (f"max_box_acc_v2, {count} CAMs {CAM_SIZE}x{CAM_SIZE} from zarr, 100 thresholds", streamed_accuracy,
                 lambda: wsol.max_box_acc_v2(lazy, boxes), lambda a, b: a == b)):
            with report.workload(SECTION, name, baseline) as w:
                answers: List[Any] = []
                seconds = measure(local, 1, on_warm=lambda _, value: answers.append(value))
                w.add(baseline, seconds, f"{seconds / count * 1e6:.0f} us per map (NumPy calls on each chunk)")
                seconds = measure(distributed, 1, on_warm=lambda _, value: answers.append(value))
                peak = max(client.run(peak_rss_bytes).values())
                agree = "same answer" if same(answers[0], answers[1]) else "ANSWERS DIFFER"
                w.add("LocalCluster, 2 workers x 1 thread", seconds,
                      f"{agree}; {seconds / count * 1e6:.0f} us per map; peak worker memory {_size(peak)} "
                      f"(the maps: {_size(4 * count * CAM_SIZE ** 2)})")


def run_gpu(report: Report, mode: str = "default") -> None:
    return None
