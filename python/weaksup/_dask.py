"""Label models and image batches on Dask arrays (the ``weaksup[dask]`` extra: dask and
distributed).

A label matrix as a ``dask.array.Array`` of integers, chunked along its rows, is fitted
without ever being in one place:

1. each chunk collapses into its distinct vote patterns with counts (the compiled
   kernel, one thread per task: Dask runs the chunks in parallel);
2. the pattern lists merge in a tree, adjacent chunks first (``SPLIT_EVERY`` at a time),
   each merge keeping the patterns in order of first occurrence and summing their counts
   (``_core.merge_patterns``);
3. EM runs on the merged patterns where the fit was called, with every core.

Patterns numbered by first occurrence over the chunks in row order are the patterns of
the whole matrix in the same order, with the same counts, so the fit is the NumPy path's
bit for bit, whatever the chunking. Beyond ``MERGE_BYTES`` of patterns the lists are not
merged: every EM statistic is a sum over the chunks, each collapsed again where it is
(``sum_over_patterns``; equal to rounding, memory a few chunks per worker). ``predict_proba`` and ``predict`` are lazy:
each chunk collapses again and scores its own patterns (``map_blocks``); the random
tie-break draws each row's numbers where the NumPy path draws them (the generator is
advanced to the chunk's first row). A Dask DataFrame of answers (task, worker, label)
goes the same way, partition by partition, after a shuffle by task (``VoteFrame``).

Image batches chunked along their first axis run chunk by chunk too (``per_batch``,
``gather_batches``); the WSOL metrics sum their per-threshold counts over the chunks
(``sum_over_batches``).

The computations run on the current Dask scheduler: a ``dask.distributed`` Client's
cluster when one is active (every worker needs weaksup installed), else Dask's threads.
"""

from __future__ import annotations

import importlib.util
import math
import re
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np

from . import _core

# Pattern lists merged per tree node: few enough that a node holds a handful of chunks'
# patterns, enough that the tree stays shallow.
SPLIT_EVERY = 8

# Above this many bytes of distinct patterns (merged over the chunks, estimated from the
# first two: estimated_bytes), the chunks' patterns are not merged in one process: each statistic EM needs
# is a sum over the chunks instead, each chunk collapsed again where it is (map-reduce:
# memory stays a few chunks per worker, the fit equals the NumPy fit to rounding).
MERGE_BYTES = 256 * 2**20


def is_dask_array(x: Any) -> bool:
    """Whether x is a dask.array.Array (without importing dask)."""
    return type(x).__module__.split(".")[0] == "dask" and hasattr(x, "chunks") and hasattr(x, "to_delayed")


def rows_chunked(L: Any, name: str, n_sources: Optional[int] = None) -> Any:
    """L checked as a 2-D label matrix chunked along its rows only (column chunks are
    joined: a row's votes must be in one chunk)."""
    if L.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (n_items, n_sources) label matrix, got shape {L.shape}")
    if L.dtype == np.bool_ or L.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold integer labels (-1 = abstain), got dtype {L.dtype}; convert it with "
                        f"{name}.astype(int)")
    if any(math.isnan(c) for axis in L.chunks for c in axis):
        raise ValueError(f"{name} has chunks of unknown size (a dask array from a dataframe or a filter); call "
                         f"{name}.compute_chunk_sizes() first (or pass lengths=True to to_dask_array)")
    n, m = L.shape
    if n == 0 or m == 0:
        raise ValueError(f"{name} is empty (shape {L.shape}); it needs at least one item and one source")
    if n_sources is not None and m != n_sources:
        raise ValueError(f"{name} has {m} sources (columns) but the model was fitted on {n_sources}")
    if len(L.chunks[1]) > 1:
        L = L.rechunk({1: -1})
    return L


def _row_starts(L: Any) -> List[int]:
    return [0, *np.cumsum(L.chunks[0]).tolist()][:-1]


def _in_whole_matrix(error: ValueError, name: str, first_row: int) -> ValueError:
    """A chunk's error about ``name[i, j]``, about the entry's row in the whole matrix."""
    return ValueError(re.sub(rf"{re.escape(name)}\[(\d+), ", lambda at: f"{name}[{int(at.group(1)) + first_row}, ",
                             str(error), count=1))


def _first_row(block_info: Any) -> int:
    return int(block_info[0]["array-location"][0][0]) if block_info else 0


def _chunk_collapse(block: np.ndarray, k: int, n_sources: Optional[int], first_row: int, name: str) -> Any:
    """One chunk's _core.VotePatterns."""
    from . import labelmodel

    try:
        return labelmodel._collapse(_aligned(np.asarray(block)), k, n_sources, 1, name)
    except ValueError as e:
        raise _in_whole_matrix(e, name, first_row) from None


def _chunk_patterns(block: np.ndarray, k: int, first_row: int, name: str) -> _core.VotePatterns:
    """One chunk's patterns, without row_pattern (only the counts travel)."""
    vp = _chunk_collapse(block, k, None, first_row, name)
    return _merge([vp], int(vp.sources), k)


def _merge(parts: Sequence[_core.VotePatterns], sources: int, k: int, threads: int = 1) -> _core.VotePatterns:
    """The parts' patterns (in row order) merged: a _core.VotePatterns without row_pattern."""
    counts = np.concatenate([np.asarray(p.counts) for p in parts])
    codes = np.concatenate([np.asarray(p.codes) for p in parts]).astype(np.int32, copy=False)
    sizes = np.concatenate([np.diff(p.offsets) for p in parts])
    offsets = np.zeros(sizes.size + 1, np.int64)
    np.cumsum(sizes, out=offsets[1:])
    rows = sum(int(p.rows) for p in parts)
    return _core.merge_patterns(offsets, codes, counts, rows, sources, k, threads)


def _pattern_bytes(vp: _core.VotePatterns) -> int:
    return int(vp.patterns) * 16 + int(vp.codes.size) * 4


def check_workers() -> None:
    """With a dask.distributed Client active, refuse a cluster whose workers cannot import
    weaksup (their tasks would fail one by one with an unpickling error)."""
    try:
        from distributed import default_client

        client = default_client()
    except (ImportError, ValueError):  # no distributed, or no client: Dask's local threads
        return
    found = client.run(importlib.util.find_spec, "weaksup")
    missing = sorted(worker for worker, spec in found.items() if spec is None)
    if missing:
        raise ModuleNotFoundError(f"weaksup is not installed on the Dask workers {', '.join(missing)}; install it "
                                  f"in the workers' environment (pip install weaksup, the same version as here)")


def chunk_patterns(L: Any, k: int, n_sources: Optional[int], name: str) -> Tuple[List[Any], float]:
    """Each row chunk's vote patterns (delayed, in row order: not computed), and the bytes
    the chunks' merged patterns would take (estimated_bytes)."""
    import dask

    L = rows_chunked(L, name, n_sources)
    check_workers()
    blocks = L.to_delayed()[:, 0]
    nodes = [dask.delayed(_chunk_patterns)(b, k, start, name) for b, start in zip(blocks, _row_starts(L))]
    return nodes, estimated_bytes(nodes, int(L.shape[1]), k)


def estimated_bytes(nodes: Sequence[Any], sources: int, k: int) -> float:
    """The bytes the merged patterns of all the chunks will take, from the first two: the
    first chunk's, plus for every further chunk as many new ones as the second brought (so
    a matrix whose patterns repeat is estimated at about one chunk's, one whose rows are
    all distinct at all of them)."""
    import dask

    if len(nodes) == 1:
        (first,) = dask.compute(dask.delayed(_pattern_bytes)(nodes[0]))
        return float(first)
    both = dask.delayed(_merge)([nodes[0], nodes[1]], sources, k)
    first, merged = dask.compute(dask.delayed(_pattern_bytes)(nodes[0]), dask.delayed(_pattern_bytes)(both))
    return float(first) + float(merged - first) * (len(nodes) - 1)


def merge_tree(nodes: Sequence[Any], sources: int, k: int, threads: int) -> _core.VotePatterns:
    """Chunk patterns merged in a tree, SPLIT_EVERY adjacent lists at a time, on the
    scheduler; the last merge here, on `threads` threads."""
    import dask

    nodes = list(nodes)
    while len(nodes) > SPLIT_EVERY:
        nodes = [dask.delayed(_merge)(nodes[i:i + SPLIT_EVERY], sources, k)
                 for i in range(0, len(nodes), SPLIT_EVERY)]
    (parts,) = dask.compute(nodes)
    return _merge(parts, sources, k, threads)


def collapse(L: Any, k: int, n_sources: Optional[int], threads: int, name: str) -> _core.VotePatterns:
    """The distinct vote patterns of a Dask label matrix (see the module docstring): a
    _core.VotePatterns equal to collapsing the whole matrix, without row_pattern."""
    nodes, _ = chunk_patterns(L, k, n_sources, name)
    return merge_tree(nodes, int(L.shape[1]), k, threads)


def _aligned(x: Any) -> Any:
    """Arrays that crossed processes may arrive unaligned (views of a message buffer): the
    kernels read doubles, so they get an aligned C-contiguous copy (others pass as they are)."""
    return np.require(x, requirements=["C", "A"]) if isinstance(x, np.ndarray) else x


def _chunk_call(vp: _core.VotePatterns, method: str, *args: Any) -> Any:
    from . import labelmodel

    return getattr(labelmodel._CpuVotes(vp, 1), method)(*(_aligned(a) for a in args))


def sum_over_patterns(nodes: Sequence[Any], method: str, *args: Any) -> Any:
    """_CpuVotes.<method>(*args) of each chunk's patterns, summed over the chunks in row
    order: EM's statistics as a map-reduce (an array, or a tuple of arrays and numbers)."""
    import dask

    check_workers()
    (results,) = dask.compute([dask.delayed(_chunk_call)(node, method, *args) for node in nodes])
    if isinstance(results[0], tuple):
        return tuple(sum(values[1:], values[0]) for values in zip(*results))
    return sum(results[1:], results[0])


def _chunk_posteriors(block: np.ndarray, k: int, n_sources: int, weights: np.ndarray, bias: np.ndarray,
                      name: str, block_info: Any = None) -> np.ndarray:
    from . import labelmodel

    vp = _chunk_collapse(block, k, n_sources, _first_row(block_info), name)
    return labelmodel._CpuVotes(vp, 1).posteriors(_aligned(weights), _aligned(bias))


def posteriors(L: Any, k: int, n_sources: int, weights: np.ndarray, bias: np.ndarray, name: str) -> Any:
    """P(class | votes) per row of a Dask label matrix, lazily: (n, k) float64 in L's row chunks."""
    L = rows_chunked(L, name, n_sources)
    check_workers()
    return L.map_blocks(_chunk_posteriors, k, n_sources, weights, bias, name, dtype=np.float64,
                        chunks=(L.chunks[0], (k,)), meta=np.zeros((0, k)))


def _apply_chunk(block: np.ndarray, fn: Callable[[np.ndarray], np.ndarray], name: str,
                 block_info: Any = None) -> np.ndarray:
    try:
        return fn(np.asarray(block))
    except ValueError as e:
        raise _in_whole_matrix(e, name, _first_row(block_info)) from None


def per_chunk(L: Any, k: int, fn: Callable[[np.ndarray], np.ndarray], name: str) -> Any:
    """fn ((rows, m) -> (rows, k) float64) over the row chunks of a Dask label matrix,
    lazily; its errors about name[i, j] name the row in the whole matrix."""
    L = rows_chunked(L, name)
    check_workers()
    return L.map_blocks(_apply_chunk, fn, name, dtype=np.float64, chunks=(L.chunks[0], (k,)), meta=np.zeros((0, k)))


def _chunk_labels(probs: np.ndarray, tie_break: str, seed: int, block_info: Any = None) -> np.ndarray:
    from . import labelmodel

    if tie_break != "random":
        return labelmodel._labels_of(probs, tie_break, seed)  # type: ignore[no-any-return]
    # The NumPy path draws rows x k doubles from default_rng(seed), row by row: skip to this chunk's.
    first_row = _first_row(block_info)
    rng = np.random.default_rng(seed)
    rng.bit_generator.advance(first_row * probs.shape[1])  # type: ignore[attr-defined]  # PCG64 has it
    tied = probs >= probs.max(axis=1, keepdims=True) - labelmodel._TIE_TOLERANCE
    noise = rng.random(tuple(probs.shape))
    return np.argmax(tied * (1.0 + noise), axis=1).astype(np.int64)  # type: ignore[no-any-return]


def labels(probs: Any, tie_break: str, seed: int) -> Any:
    """The most probable class per row of lazy probabilities, ties as LabelModel.predict breaks them."""
    return probs.map_blocks(_chunk_labels, tie_break, seed, dtype=np.int64, drop_axis=1,
                            meta=np.zeros((0,), np.int64))


def sum_over_chunks(L: Any, Y: Any, fn: Callable[..., Tuple[Any, ...]]) -> Tuple[Any, ...]:
    """fn(row chunk of L, its gold labels) (a tuple of counts) summed over the row chunks of
    L (checked), with gold labels Y (n,) a NumPy-like or Dask array."""
    n = int(L.shape[0])
    shape = tuple(Y.shape) if is_dask_array(Y) else np.shape(Y)
    if shape not in ((n,), (n, 1)):
        raise ValueError(f"Y must hold one gold label per item (shape ({n},)), got shape {shape}")
    gold = ChunkSlices(Y.reshape(-1).rechunk((L.chunks[0],))) if is_dask_array(Y) else np.asarray(Y).reshape(-1)
    return sum_over_batches(L, (gold,), fn)


# ---------------------------------------------------------------- image batches


def batch_chunked(x: Any, name: str, ndims: Sequence[int], meaning: str) -> Any:
    """x checked as a batch chunked along its first axis only (the others are joined into
    one chunk: each map must be whole in its chunk)."""
    if x.ndim not in ndims:
        raise ValueError(f"{name} must be {meaning}, got shape {x.shape}")
    if any(math.isnan(c) for axis in x.chunks for c in axis):
        raise ValueError(f"{name} has chunks of unknown size; call {name}.compute_chunk_sizes() first")
    if any(len(axis) > 1 for axis in x.chunks[1:]):
        x = x.rechunk({axis: -1 for axis in range(1, x.ndim)})
    return x


def per_batch(x: Any, fn: Callable[[np.ndarray], np.ndarray], trailing: Tuple[int, ...], dtype: Any) -> Any:
    """fn over the batch chunks of x ((b, ...) -> (b, *trailing)), lazily."""
    check_workers()
    drop = list(range(1 + len(trailing), x.ndim))
    new = list(range(x.ndim, 1 + len(trailing)))
    return x.map_blocks(fn, dtype=dtype, chunks=(x.chunks[0], *((n,) for n in trailing)), drop_axis=drop,
                        new_axis=new or None, meta=np.zeros((0, *trailing), dtype))


def sum_over_batches(x: Any, per_item: Sequence[Any], fn: Callable[..., Tuple[Any, ...]]) -> Tuple[Any, ...]:
    """fn(chunk, its slice of each per_item sequence) (a tuple of counts) summed over the
    chunks of x along its first axis, in order: counts are whole numbers, so the sums are
    exact. per_item entries are None, or sequences of one item per row or map (NumPy arrays,
    lists, ChunkSlices)."""
    import dask

    check_workers()
    parts = []
    for block, start, size in zip(x.to_delayed().reshape(-1), _row_starts(x), x.chunks[0]):
        parts.append(dask.delayed(fn)(block, *(None if seq is None else seq[start:start + size] for seq in per_item)))
    (results,) = dask.compute(parts)
    return tuple(sum(values[1:], values[0]) for values in zip(*results))


def gather_batches(x: Any, fn: Callable[[np.ndarray], Any]) -> List[Any]:
    """fn of each batch chunk of x, computed, in order (for results too ragged for an array)."""
    import dask

    check_workers()
    (results,) = dask.compute([dask.delayed(fn)(block) for block in x.to_delayed().reshape(-1)])
    return list(results)


# ---------------------------------------------------------------- votes as a Dask DataFrame


def is_dask_frame(x: Any) -> bool:
    """Whether x is a dask DataFrame (without importing dask)."""
    return (type(x).__module__.split(".")[0] == "dask" and hasattr(x, "map_partitions") and hasattr(x, "columns")
            and not hasattr(x, "chunks"))


class VoteFrame:
    """crowd-kit's long votes (columns task, worker, label) as a Dask DataFrame, shuffled so
    that each task's votes are in one partition, tasks sorted (``set_index("task")``), with
    workers and labels coded as the pandas path codes them: the sorted distinct tasks are
    the rows 0..n-1, partition after partition (their ids, ``items``, come to this process).
    Tasks must be sortable (the pandas path sorts them too when it can)."""

    def __init__(self, df: Any, k: int, name: str, fitting: bool, source_ids: Any = None, classes: Any = None):
        import dask

        from . import _votes

        missing = [c for c in _votes.COLUMNS if c not in df.columns]
        if missing:
            raise _votes.MissingColumnError(f"{name} has no column {missing} (it has {list(df.columns)}); the answers "
                                            f"need columns task, worker and label")
        df = df[list(_votes.COLUMNS)]
        check_workers()
        if fitting:
            workers, labels = dask.compute(df["worker"].drop_duplicates(), df["label"].drop_duplicates())
            if len(workers) == 0:
                raise ValueError(f"{name} holds no votes; it needs at least one (task, worker, label) row")
            source_ids = _votes._numpy_ids(_votes.factorize(workers, f"{name}'s worker column")[1])
            classes = _votes._frame_classes(labels, k, f"{name}'s label column")[1]
        self.source_ids, self.classes, self.k, self.name = source_ids, classes, k, name
        try:
            self.frame = df.set_index("task")
            (tasks,) = dask.compute([dask.delayed(_partition_tasks)(part) for part in self.frame.to_delayed()])
        except TypeError as e:
            raise TypeError(f"{name}'s task column must hold ids that sort (all strings, or all numbers) to be read "
                            f"as a Dask DataFrame: {e}") from None
        self.parts = [t for t in tasks]
        if not sum(len(t) for t in self.parts):
            raise ValueError(f"{name} holds no votes; it needs at least one (task, worker, label) row")
        self.items = _votes._numpy_ids(np.concatenate(self.parts))
        self.chunks = tuple(len(t) for t in self.parts)
        self.rows, self.sources = int(sum(self.chunks)), int(len(source_ids))

    def _nodes(self, fn: Callable[..., Any], *args: Any) -> List[Any]:
        import dask

        return [dask.delayed(fn)(part, self.source_ids, self.classes, self.k, self.name, *args)
                for part in self.frame.to_delayed()]

    def chunk_patterns(self) -> Tuple[List[Any], float]:
        check_workers()
        nodes = self._nodes(_frame_patterns)
        return nodes, estimated_bytes(nodes, self.sources, self.k)

    def posteriors(self, weights: np.ndarray, bias: np.ndarray) -> Any:
        """P(class | votes) per task, lazily: (n, k) in the partitions' tasks."""
        import dask.array as da

        check_workers()
        blocks = [da.from_delayed(node, shape=(size, self.k), dtype=np.float64, meta=np.zeros((0, self.k)))
                  for node, size in zip(self._nodes(_frame_posteriors, weights, bias), self.chunks)]
        return da.concatenate(blocks, axis=0) if blocks else da.zeros((0, self.k), chunks=((0,), (self.k,)))

    def frame_of(self, values: Any, columns: Any) -> Any:
        """A lazy (n, ...) array in this frame's rows as a Dask DataFrame (or Series, when
        columns is None) indexed by task."""
        import dask
        import dask.dataframe as dd
        import pandas as pd

        parts = values.to_delayed().reshape(-1)
        if columns is None:  # predictions: class indices (-1: abstained) as the classes' labels
            make = [dask.delayed(_series)(block, ids, self.classes) for block, ids in zip(parts, self.parts)]
            meta = _series(np.zeros(0, np.int64), np.zeros(0, object), self.classes)
        else:
            make = [dask.delayed(_data_frame)(block, ids, columns) for block, ids in zip(parts, self.parts)]
            meta = pd.DataFrame(np.zeros((0, len(columns))), index=pd.Index([], name="task"),
                                columns=pd.Index(columns, name="label"))
        return dd.from_delayed(make, meta=meta)


def _partition_tasks(part: Any) -> np.ndarray:
    return np.asarray(part.index.unique().sort_values())


def _coded_partition(part: Any, source_ids: Any, classes: Any, name: str) -> Tuple[np.ndarray, ...]:
    from . import _votes

    items, _ = _votes.factorize(part.index.to_series(), f"{name}'s task column")
    sources = _votes.lookup(part["worker"], source_ids, f"{name}'s worker column", "worker", _votes._SOURCE_FIX)
    labels = _votes.lookup(part["label"], classes, f"{name}'s label column", "label",
                           f"its classes are {list(classes)}")
    return np.asarray(items), np.asarray(sources), np.asarray(labels)


def _frame_patterns(part: Any, source_ids: Any, classes: Any, k: int, name: str) -> _core.VotePatterns:
    from . import labelmodel

    items, sources, labels = _coded_partition(part, source_ids, classes, name)
    n = int(items.max()) + 1 if items.size else 0
    vp = labelmodel._vote_lists(items, sources, labels, n, len(source_ids), k, 1, name)
    return _merge([vp], len(source_ids), k)


def _frame_posteriors(part: Any, source_ids: Any, classes: Any, k: int, name: str, weights: np.ndarray,
                      bias: np.ndarray) -> np.ndarray:
    from . import labelmodel

    items, sources, labels = _coded_partition(part, source_ids, classes, name)
    n = int(items.max()) + 1 if items.size else 0
    vp = labelmodel._vote_lists(items, sources, labels, n, len(source_ids), k, 1, name)
    return labelmodel._CpuVotes(vp, 1).posteriors(_aligned(weights), _aligned(bias))


def _data_frame(block: np.ndarray, ids: np.ndarray, columns: Any) -> Any:
    import pandas as pd

    return pd.DataFrame(block, index=pd.Index(ids, name="task"), columns=pd.Index(columns, name="label"))


def _series(block: np.ndarray, ids: np.ndarray, classes: Any) -> Any:
    import pandas as pd

    labels = pd.Index(classes).take(np.asarray(block), allow_fill=True, fill_value=np.nan)
    return pd.Series(labels, index=pd.Index(ids, name="task"), name="agg_label")


class ArraySource:
    """A Dask label matrix as _DaskVotes reads it (VoteFrame's interface)."""

    def __init__(self, L: Any, k: int, n_sources: Optional[int], name: str = "L"):
        self.L = rows_chunked(L, name, n_sources)
        self.k, self.n_sources, self.name = k, n_sources, name
        self.rows, self.sources = int(self.L.shape[0]), int(self.L.shape[1])

    def chunk_patterns(self) -> Tuple[List[Any], float]:
        return chunk_patterns(self.L, self.k, self.n_sources, self.name)

    def posteriors(self, weights: np.ndarray, bias: np.ndarray) -> Any:
        return posteriors(self.L, self.k, self.sources, weights, bias, self.name)


class ChunkSlices:
    """A Dask array's chunks along its first axis, sliced as sum_over_batches slices
    per-item sequences (each slice is one whole chunk of the array it goes with)."""

    def __init__(self, x: Any):
        self.blocks = list(x.to_delayed().reshape(-1))
        self.starts = _row_starts(x)

    def __getitem__(self, span: slice) -> Any:
        return self.blocks[self.starts.index(span.start)]
