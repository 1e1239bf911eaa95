"""The contract every public entry point keeps, and the hypothesis strategies that try to
break it (shared by the tests/test_fuzz_*.py suites).

The contract: a call returns a result that passes the entry point's own invariants, or
raises ValueError / TypeError with a message; it never raises another exception type,
never crashes the process and never modifies its inputs.

Budget: WEAKSUP_FUZZ_EXAMPLES cases per entry point (default 150, what CI runs), drawn
from a fixed seed so that a CI failure reproduces; WEAKSUP_FUZZ_RANDOM=1 draws new cases
on every run. A long local run:

    WEAKSUP_FUZZ_EXAMPLES=5000 WEAKSUP_FUZZ_RANDOM=1 pytest tests -k fuzz -p no:cacheprovider
"""

from __future__ import annotations

import os
from typing import Any, Callable, List, Tuple

import numpy as np
from hypothesis import HealthCheck, event, settings
from hypothesis.errors import InvalidArgument
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

FUZZ_EXAMPLES = int(os.environ.get("WEAKSUP_FUZZ_EXAMPLES", "150"))

fuzz_settings = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("WEAKSUP_FUZZ_RANDOM"),
    suppress_health_check=list(HealthCheck),
    database=None,
)

ALLOWED_ERRORS = (ValueError, TypeError)


class Rejected:
    """What `call` returns when the entry point raised ValueError / TypeError."""

    def __init__(self, error: Exception):
        self.error = error

    def __repr__(self) -> str:
        return f"Rejected({self.error!r})"


def _snapshots(obj: Any, out: List[Tuple[Any, Any]]) -> None:
    if isinstance(obj, np.ndarray):
        out.append((obj, obj.copy(order="K")))
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            _snapshots(item, out)
    elif isinstance(obj, dict):
        for item in obj.values():
            _snapshots(item, out)
    elif type(obj).__module__.startswith("pandas"):
        out.append((obj, obj.copy(deep=True)))
    elif type(obj).__module__.startswith("scipy.sparse"):
        out.append((obj, obj.copy()))


def _bytes_view(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(np.uint8) if a.size and a.dtype.itemsize else a


def _unchanged(original: Any, copy: Any) -> bool:
    if isinstance(original, np.ndarray) and original.dtype == object:  # references: the same objects
        return original.shape == copy.shape and all(a is b for a, b in zip(original.flat, copy.flat))
    if isinstance(original, np.ndarray):
        return (original.dtype == copy.dtype and original.shape == copy.shape
                and np.array_equal(_bytes_view(original), _bytes_view(copy)))
    if type(original).__module__.startswith("pandas"):
        return original.equals(copy)
    if original.format in ("csr", "csc", "coo", "bsr", "dia"):  # bit for bit, so that NaN equals NaN
        return original.shape == copy.shape and all(
            _unchanged(getattr(original, a), getattr(copy, a)) for a in ("data", "indices", "indptr", "row", "col",
                                                                         "offsets") if hasattr(original, a))
    return original.shape == copy.shape and (original != copy).nnz == 0


def call(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """fn(*args, **kwargs) under the contract: its result, or Rejected for a ValueError /
    TypeError; any other exception propagates (and fails the test); every array, DataFrame
    or sparse matrix among the arguments must come back bit for bit unchanged."""
    snaps: List[Tuple[Any, Any]] = []
    _snapshots(args, snaps)
    _snapshots(kwargs, snaps)
    name = getattr(fn, "__qualname__", repr(fn))
    try:
        result = fn(*args, **kwargs)
    except ALLOWED_ERRORS as error:
        assert str(error), f"{type(error).__name__} without a message"
        result = Rejected(error)
        _event(f"{name}: {type(error).__name__}")
    else:
        _event(f"{name}: accepted")
    for original, copy in snaps:
        assert _unchanged(original, copy), f"{name} modified an input"
    return result


def _event(text: str) -> None:
    """Counted in hypothesis's statistics (pytest --hypothesis-show-statistics)."""
    try:
        event(text)
    except InvalidArgument:  # called outside a hypothesis test
        pass


def ok(result: Any) -> bool:
    return not isinstance(result, Rejected)


# ------------------------------------------------------------------ strategies

NUMERIC_DTYPES = [np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64,
                  np.float16, np.float32, np.float64]
ODD_DTYPES = [np.complex64, np.complex128, np.dtype("U3"), np.dtype("M8[s]")]

# Values chosen to hit the edges: zeros, signs, tiny and huge magnitudes, NaN and infinity.
EDGE_FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, 1e-300, 1e-45, 1e-30, 3e7, 1e20, 1e30, 3e38, 1e300, np.nan, np.inf,
               -np.inf, -1e300]

WRONG_TYPES = [None, "abc", "4", b"x", [1, "a"], {}, object(), 1.5, True, 2**70, -(2**70), float("nan"),
               complex(1, 1), [[1, 2], [3]]]


def edge_floats(dtype: Any = np.float64, finite: bool = False) -> st.SearchStrategy:
    """EDGE_FLOATS that the float dtype can hold (NaN and infinities too unless finite)."""
    dtype = np.dtype(dtype)
    fits = [v for v in EDGE_FLOATS if abs(v) < float(np.finfo(dtype).max) or (not finite and not np.isfinite(v))]
    return st.sampled_from(fits).map(dtype.type)


def _fill(dtype: np.dtype, finite: bool = False) -> st.SearchStrategy:
    if dtype.kind == "f":
        return st.one_of(hnp.from_dtype(dtype, allow_nan=not finite, allow_infinity=not finite),
                         edge_floats(dtype, finite))
    if dtype.kind == "c":
        return hnp.from_dtype(dtype, allow_nan=not finite, allow_infinity=not finite)
    return hnp.from_dtype(dtype)


@st.composite
def layouts(draw, arr: np.ndarray) -> np.ndarray:
    """The same values in another memory layout: C, Fortran, reversed (negative strides),
    a strided view into a larger buffer, big-endian, or read-only."""
    kind = draw(st.sampled_from(["c", "fortran", "reversed", "strided", "big-endian", "read-only"]))
    if kind == "fortran":
        return np.asfortranarray(arr)
    if kind == "reversed" and arr.ndim:
        axis = draw(st.integers(0, arr.ndim - 1))
        flipped = np.flip(arr, axis).copy()
        return np.flip(flipped, axis)  # same values, negative stride along axis
    if kind == "strided" and arr.ndim:
        big = np.zeros(tuple(2 * s for s in arr.shape), dtype=arr.dtype)
        view = big[tuple(slice(None, None, 2) for _ in arr.shape)]
        view[...] = arr
        return view
    if kind == "big-endian" and arr.dtype.kind in "iuf" and arr.dtype.itemsize > 1:
        return arr.astype(arr.dtype.newbyteorder(">"))
    if kind == "read-only":
        out = arr.copy()
        out.flags.writeable = False
        return out
    return np.ascontiguousarray(arr)


@st.composite
def arrays(draw, shape: Any = None, dtypes: Any = None, min_side: int = 0, max_side: int = 6,
           ndims: Tuple[int, int] = (0, 4), elements: Any = None, finite: bool = False) -> np.ndarray:
    """Any array: shapes with 0 and 1 sizes, every numeric dtype, NaN / inf / extremes,
    any layout. `shape` fixes the shape (a tuple, or a strategy of tuples); finite=True
    leaves out NaN and infinity (the extremes stay)."""
    dtype = np.dtype(draw(st.sampled_from(dtypes or NUMERIC_DTYPES)))
    if shape is None:
        shape = hnp.array_shapes(min_dims=ndims[0], max_dims=ndims[1], min_side=min_side, max_side=max_side)
    if isinstance(shape, st.SearchStrategy):
        shape = draw(shape)
    fill = elements if elements is not None else _fill(dtype, finite)
    arr = draw(hnp.arrays(dtype, shape, elements=fill))
    return draw(layouts(arr))


def wrong_types() -> st.SearchStrategy:
    return st.sampled_from(WRONG_TYPES)


@st.composite
def one_wrong(draw, good: dict, wrong: dict) -> dict:
    """Keyword arguments drawn from `good`, except (in most cases) one drawn from its
    `wrong` strategy (wrong types and values out of range): each call tests one mistake,
    and about a third of the calls are valid throughout."""
    names = sorted(wrong)
    choice = draw(st.sampled_from([None] * len(names) + names))
    return {name: draw(wrong[name] if name == choice else strategy) for name, strategy in good.items()}


def maybe_wrong(good: st.SearchStrategy, p_wrong: float = 0.15) -> st.SearchStrategy:
    """Mostly `good`, a value of the wrong type with probability about p_wrong."""
    return mostly(good, wrong_types(), times=max(1, round((1 - p_wrong) / p_wrong))) if p_wrong else good


def mostly(good: st.SearchStrategy, *rare: st.SearchStrategy, times: int = 8) -> st.SearchStrategy:
    """`good`, drawn about `times` times as often as each of the `rare` strategies (so that
    calls with several arguments are still valid as a whole often enough). Not
    st.one_of(good, good, ..., rare): one_of drops repeated branches."""
    return st.sampled_from([good] * times + list(rare)).flatmap(lambda strategy: strategy)


def _shape(draw, shape: Any, ndims: Tuple[int, int], max_side: int) -> tuple:
    if shape is None:  # an empty axis now and then, not in most arrays of three axes
        min_side = draw(st.sampled_from([0] + [1] * 9))
        shape = hnp.array_shapes(min_dims=ndims[0], max_dims=ndims[1], min_side=min_side, max_side=max_side)
    return tuple(draw(shape) if isinstance(shape, st.SearchStrategy) else shape)


def _levels(draw, shape: tuple, n: int) -> np.ndarray:
    """An int array of levels 0..n-1 at random proportions (from a drawn seed: fast for
    any size, and as varied as the seeds)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    weights = rng.random(n) ** 2 + 1e-3
    return np.asarray(rng.choice(n, size=shape, p=weights / weights.sum()))


@st.composite
def masks(draw, shape: Any = None, dtypes: Any = None, ndims: Tuple[int, int] = (2, 3),
          max_side: int = 6) -> np.ndarray:
    """A binary mask (nonzero = foreground) in any numeric dtype and layout: random
    foreground density (none, all, speckles), foreground values of any magnitude and sign
    (tiny, huge, -1), background 0 or -0.0, and sometimes a NaN or an infinity."""
    dtype = np.dtype(draw(st.sampled_from(dtypes or NUMERIC_DTYPES)))
    fg = _levels(draw, _shape(draw, shape, ndims, max_side), 2).astype(bool)
    if dtype == np.bool_:
        return draw(layouts(fg))
    if dtype.kind == "f":
        nonzero = [v for v in EDGE_FLOATS if v != 0 and np.isfinite(v) and abs(v) < float(np.finfo(dtype).max)]
        zero = draw(st.sampled_from([0.0, -0.0]))
    else:
        info = np.iinfo(dtype)
        nonzero = [v for v in (1, 2, -1, info.max, info.min) if v != 0 and info.min <= v <= info.max]
        zero = 0
    value = draw(st.sampled_from(nonzero))
    out = np.where(fg, dtype.type(value), dtype.type(zero)).astype(dtype)
    if dtype.kind == "f" and out.size and draw(st.integers(0, 9)) == 0:
        out.flat[draw(st.integers(0, out.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    return draw(layouts(out))


@st.composite
def plateaus(draw, shape: Any = None, dtypes: Any = None, ndims: Tuple[int, int] = (2, 3),
             max_side: int = 6, finite: bool = True, unit: bool = False) -> np.ndarray:
    """A map of few distinct levels (plateaus, area ties, holes, constant maps), scaled and
    shifted to extreme magnitudes, in any real dtype and layout (float16 / float32 may
    overflow to infinity; finite=False also adds a NaN or an infinity now and then;
    unit=True keeps the values in [0, 1])."""
    dtype = np.dtype(draw(st.sampled_from(dtypes or [d for d in NUMERIC_DTYPES if d is not np.bool_])))
    n = draw(st.integers(1, 5))
    levels = _levels(draw, _shape(draw, shape, ndims, max_side), n)
    if unit:
        out = (levels / max(n - 1, 1)).astype(dtype) if dtype.kind == "f" else (levels > 0).astype(dtype)
    elif dtype.kind == "f":  # the scale and shift fit the dtype, mostly
        top = float(np.finfo(dtype).max) / 5 if draw(st.integers(0, 9)) else np.inf
        scale = draw(st.sampled_from([v for v in (1.0, 0.25, 1e-300, 1e-30, 3e7, 1e20, 3e38, 1e300, -1.0) if v < top]))
        shift = draw(st.sampled_from([v for v in (0.0, 0.0, 1.0, -5.0, 1e20, -1e300) if abs(v) < top]))
        with np.errstate(all="ignore"):
            out = (levels * scale + shift).astype(dtype)
    elif dtype.kind == "b":
        out = (levels % 2).astype(bool)
    else:
        info = np.iinfo(dtype)
        step = draw(st.sampled_from([1, 7, int(info.max) // 4]))
        base = draw(st.sampled_from([0, int(info.min), int(info.max) - 4 * step]))
        out = np.asarray(base + levels.astype(object) * step, dtype=object).astype(dtype)
    if not finite and dtype.kind == "f" and out.size and draw(st.integers(0, 4)) == 0:
        out.flat[draw(st.integers(0, out.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    return draw(layouts(np.asarray(out)))


@st.composite
def array_like(draw, good: st.SearchStrategy) -> Any:
    """An array argument as callers pass it: mostly an array drawn from `good`, sometimes
    the same values as nested lists, an array of that shape with an odd dtype (complex,
    str, datetime), or a value of the wrong type."""
    kind = draw(st.sampled_from(["array"] * 10 + ["list", "odd", "wrong"]))
    if kind == "wrong":
        return draw(wrong_types())
    arr = draw(good)
    if kind == "list":
        return arr.tolist()
    if kind == "odd":
        return draw(hnp.arrays(draw(st.sampled_from(ODD_DTYPES)), arr.shape))
    return arr


# threads: check_threads allows 0 (all cores) up to weaksup._arrays.MAX_THREADS (1024).
GOOD_THREADS = [0, 1, 2, 3, 1024, np.int64(2), np.uint8(1)]
BAD_THREADS = [-1, 1025, 2**31, 2**63, 2**70, 1.5, 2.0, True, "2", None]


def thread_counts() -> st.SearchStrategy:
    """A threads argument: mostly a small count, sometimes an edge (0 = all cores, the
    maximum, NumPy integers) or what must be refused (-1, 2**31, 1.5, True, "2")."""
    return mostly(st.integers(0, 3), st.sampled_from(GOOD_THREADS), st.sampled_from(BAD_THREADS))


def _float32(v: Any) -> Any:
    with np.errstate(over="ignore"):
        return np.float32(v) if np.ndim(v) == 0 else np.array(v, dtype=np.float32)


def _inside(low: float, high: float) -> st.SearchStrategy:
    inside = st.floats(low, high, allow_nan=False)
    whole = list(range(int(np.ceil(low)), int(np.floor(high)) + 1))[:3] if high - low < 1e6 else [0, 1, -1]
    return st.one_of(inside, inside, inside.map(np.float64), st.sampled_from([low, high] + whole),
                     st.sampled_from(whole).map(np.int64))


def reals(low: float = -1e300, high: float = 1e300) -> st.SearchStrategy:
    """A real-number argument: mostly in [low, high] (its ends included) as a Python or
    NumPy float or int, sometimes a float32 of it, a value just outside the range, NaN /
    infinity or an edge magnitude."""
    outside = [np.nextafter(low, -np.inf), np.nextafter(high, np.inf)]
    return mostly(_inside(low, high), _inside(low, high).map(_float32), st.sampled_from(outside),
                  st.sampled_from(EDGE_FLOATS), times=6)


def real_sequences(low: float = -1e300, high: float = 1e300, max_size: int = 6,
                   increasing: bool = False) -> st.SearchStrategy:
    """A sequence-of-numbers argument (thresholds and the like): mostly a non-empty list,
    tuple or array of numbers in [low, high] (strictly increasing ones often, always with
    increasing=True), sometimes one that is empty, unsorted, duplicated or out of range, a
    bare number, or an array of any shape and dtype."""
    inside = st.lists(_inside(low, high), min_size=1, max_size=max_size)
    ordered = st.lists(st.floats(low, high, allow_nan=False), min_size=1, max_size=max_size, unique=True).map(sorted)
    good = st.one_of(ordered, ordered.map(np.array), ordered.map(tuple),
                     *([] if increasing else [inside, inside.map(tuple), inside.map(np.array)]))
    rare = st.one_of(st.lists(reals(low, high), max_size=max_size), st.lists(reals(low, high), max_size=max_size)
                     .map(_float32), reals(low, high), arrays(ndims=(0, 2), max_side=4))
    return mostly(good, rare, times=5)
