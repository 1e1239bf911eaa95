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
    if isinstance(original, np.ndarray):
        return (original.dtype == copy.dtype and original.shape == copy.shape
                and np.array_equal(_bytes_view(original), _bytes_view(copy)))
    if type(original).__module__.startswith("pandas"):
        return original.equals(copy)
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


def edge_floats(dtype: Any = np.float64) -> st.SearchStrategy:
    """EDGE_FLOATS that the float dtype can hold (NaN and infinities included)."""
    dtype = np.dtype(dtype)
    fits = [v for v in EDGE_FLOATS if abs(v) < float(np.finfo(dtype).max) or not np.isfinite(v)]
    return st.sampled_from(fits).map(dtype.type)


def _fill(dtype: np.dtype) -> st.SearchStrategy:
    if dtype.kind == "f":
        return st.one_of(hnp.from_dtype(dtype, allow_nan=True, allow_infinity=True), edge_floats(dtype))
    if dtype.kind == "c":
        return hnp.from_dtype(dtype, allow_nan=True, allow_infinity=True)
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
           ndims: Tuple[int, int] = (0, 4), elements: Any = None) -> np.ndarray:
    """Any array: shapes with 0 and 1 sizes, every numeric dtype, NaN / inf / extremes,
    any layout. `shape` fixes the shape (a tuple, or a strategy of tuples)."""
    dtype = np.dtype(draw(st.sampled_from(dtypes or NUMERIC_DTYPES)))
    if shape is None:
        shape = hnp.array_shapes(min_dims=ndims[0], max_dims=ndims[1], min_side=min_side, max_side=max_side)
    if isinstance(shape, st.SearchStrategy):
        shape = draw(shape)
    fill = elements if elements is not None else _fill(dtype)
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
    """Mostly `good`, sometimes a value of the wrong type."""
    return st.one_of(good, good, good, good, wrong_types()) if p_wrong else good
