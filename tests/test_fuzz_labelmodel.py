"""Fuzzing the label models and their peers' layers under the contract of tests/fuzzing.py.

Every public entry point of weaksup.labelmodel (LabelModel, probabilities_to_labels, collapse,
classification_metrics), weaksup.triplet (moments, accuracies, tables), weaksup.sources, weaksup.compat.snorkel and weaksup.compat.crowdkit
gets one hypothesis test, test_fuzz_<entry point>. Inputs are drawn with what is known about
them: an argument drawn as valid must be accepted, one drawn as invalid must be rejected
(ValueError / TypeError with a message; the crowd-kit layer's KeyError for a missing column is
its MissingColumnError, also a ValueError), and values of unknown validity (any array, any
wrong type) may go either way; every accepted result is checked (probabilities of shape (n, k),
finite, in [0, 1], rows summing to 1; labels in range; analysis fractions in [0, 1] and equal
to a brute-force count; DataFrames indexed by the tasks given). EM runs a few iterations only.
"""

from __future__ import annotations

import numbers
import pickle
from dataclasses import dataclass
from typing import Any, Callable, Optional, Tuple

import numpy as np
import pytest
from fuzzing import NUMERIC_DTYPES, Rejected, arrays, call, fuzz_settings, layouts, ok, wrong_types
from hypothesis import event, given
from hypothesis import strategies as st

import weaksup
from weaksup import LabelModel, probabilities_to_labels, sources, triplet
from weaksup.compat import crowdkit as wck
from weaksup.compat import snorkel as wsn
from weaksup.labelmodel import METRICS, MAX_TABLE_ENTRIES, classification_metrics, collapse, factorize

sparse = pytest.importorskip("scipy.sparse")
pd = pytest.importorskip("pandas")

pytestmark = pytest.mark.filterwarnings(  # Hypothesis imports libcst to explain a failing example
    "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning")

INT32_MAX = 2**31 - 1
SIGNED = [np.int8, np.int16, np.int32, np.int64]
UNSIGNED = [np.uint8, np.uint16, np.uint32, np.uint64]
FLOATS = [np.float16, np.float32, np.float64]
ODD = [np.bool_, np.complex128, np.dtype("U3"), np.dtype("M8[s]"), object]


# ================================================================ argument validity


def is_int(v: Any, low: Optional[int] = None, high: Optional[int] = None) -> bool:
    return (isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))
            and (low is None or v >= low) and (high is None or v <= high))


def is_real(v: Any, low: Optional[float] = None, high: Optional[float] = None, low_open: bool = False) -> bool:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        return False
    v = float(v)
    return bool(np.isfinite(v) and (low is None or (v > low if low_open else v >= low))
                and (high is None or v <= high))


def is_bool(v: Any) -> bool:
    return isinstance(v, (bool, np.bool_)) or (is_int(v) and v in (0, 1))


def is_choice(choices):
    return lambda v: isinstance(v, str) and v in choices


def weighted(*options: tuple) -> st.SearchStrategy:
    """one_of with weights: ((weight, strategy), ...). (hypothesis' one_of counts a strategy
    given twice once.)"""
    strategies = [strategy for _, strategy in options]
    return st.sampled_from([i for i, (w, _) in enumerate(options) for _ in range(w)]).flatmap(lambda i: strategies[i])


@dataclass(frozen=True)
class Spec:
    """A scalar argument: which values are valid, a strategy of valid values, and edge values
    (valid or not: the predicate decides)."""

    valid: Callable[[Any], bool]
    good: st.SearchStrategy
    edges: tuple = ()

    def _pair(self, v: Any) -> tuple:
        return v, self.valid(v)

    def any(self) -> st.SearchStrategy:
        """(value, valid): mostly a valid value, sometimes an edge or a value of a wrong type."""
        return weighted((6, self.good), (1, wrong_types()),
                        *([(1, st.sampled_from(self.edges))] if self.edges else [])).map(self._pair)

    def ok(self) -> st.SearchStrategy:
        return self.good.map(self._pair)

    def bad(self) -> st.SearchStrategy:
        return weighted((1, wrong_types()), *([(2, st.sampled_from(self.edges))] if self.edges else [])).map(self._pair)


def scalar(valid, good: st.SearchStrategy, edges=()) -> st.SearchStrategy:
    return Spec(valid, good, tuple(edges)).any()


def optional(spec: Spec) -> Spec:
    """The same argument, None allowed."""
    return Spec(lambda v: v is None or spec.valid(v), st.one_of(st.none(), spec.good), spec.edges)


def draw_args(data, **specs: Spec) -> dict:
    """name -> (value, valid) with every argument valid but, two times in three, one of them
    drawn from its edges and wrong types: faults one at a time."""
    broken = data.draw(st.sampled_from([None] * max(1, len(specs) // 2) + sorted(specs)))
    return {name: data.draw(spec.bad() if name == broken else spec.ok()) for name, spec in specs.items()}


def ints(low: int, high: int) -> st.SearchStrategy:
    """Python and NumPy integers in [low, high]."""
    base = st.integers(low, high)
    return st.one_of(base, base.filter(lambda i: -2**63 <= i < 2**63).map(np.int64))


def cardinality_spec(good=st.integers(2, 4), inferred: bool = False) -> Spec:
    """Valid: integers 2..2^31 - 2 (and None where the cardinality can be inferred)."""
    return Spec(lambda v: (inferred and v is None) or is_int(v, 2, INT32_MAX - 1), good,
                (1, 0, -3, 2**30, 10**6, 2**31 - 1, 2**31, 2**70, np.uint8(3), 3.0, np.float64(2), "3"))


def cardinality_arg(good=st.integers(2, 4), inferred: bool = False) -> st.SearchStrategy:
    return cardinality_spec(good, inferred).any()


THREADS = Spec(lambda v: is_int(v, 0, 1024), ints(0, 2), (-1, 1024, 1025, 2**31, 2**63, 1.5, np.int32(1)))
BOOL = Spec(is_bool, st.booleans(), (np.bool_(True), 0, 1, 2, -1, np.int8(1), 1.0, "True"))


def seed_spec(high: Optional[int] = None) -> Spec:
    return Spec(lambda v: is_int(v, 0, high), ints(0, 2**32 - 1), (-1, 2**32, 2**70, 1.5, np.uint64(7)))


def choice_spec(choices, edges=("coin", "", "Random", "first ", "ABSTAIN")) -> Spec:
    return Spec(is_choice(choices), st.sampled_from(choices), tuple(edges))


def threads_arg():
    return THREADS.any()


def seed_arg(high: Optional[int] = None):
    return seed_spec(high).any()


def tie_break_arg(choices):
    return choice_spec(choices).any()


def bool_arg():
    return BOOL.any()


def expect(result: Any, *valid: Optional[bool]) -> bool:
    """Input drawn as invalid must be rejected, input drawn as valid accepted; True when the
    call returned a result to check."""
    event("accepted" if ok(result) else f"rejected ({type(result.error).__name__})")
    if False in valid:
        assert not ok(result), f"invalid input accepted: {result!r}"
    elif all(v is True for v in valid):
        assert ok(result), f"valid input rejected: {result!r}"
    return ok(result)


# ================================================================ label matrices


@dataclass
class Case:
    """A drawn argument: its value, whether it is valid (None: unknown), and for a valid label
    matrix its shape and the dense matrix it stands for."""

    value: Any
    valid: Optional[bool]
    n: Optional[int] = None
    m: Optional[int] = None
    dense: Optional[np.ndarray] = None
    kind: str = ""
    items: Optional[list] = None  # ids of the result's rows (DataFrames and id triplets)


def _random_matrix(draw, k: int, n: Optional[int] = None, m: Optional[int] = None) -> np.ndarray:
    n = draw(st.integers(1, 12)) if n is None else n
    m = draw(st.integers(1, 5)) if m is None else m
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    L = rng.integers(0, k, size=(n, m))
    L[rng.random((n, m)) < draw(st.sampled_from([0.0, 0.3, 0.7, 1.0]))] = -1
    return L


def _as_sparse(draw, L: np.ndarray, data_dtype) -> Any:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    keep = (L >= 0) | (rng.random(L.shape) < 0.3)  # some abstains stored explicitly as -1
    if np.dtype(data_dtype).kind == "u":
        keep &= L >= 0
    rows, cols = np.nonzero(keep)
    coo = sparse.coo_matrix((L[rows, cols].astype(data_dtype), (rows, cols)), shape=L.shape)
    kind = draw(st.sampled_from(["csr", "csc", "coo", "csr_array", "coo_array"]))
    if kind.endswith("_array"):
        return getattr(sparse, kind)(coo)
    return coo.asformat(kind)


def _as_triplets(draw, L: np.ndarray) -> tuple:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    keep = (L >= 0) | (rng.random(L.shape) < 0.3)
    keep[-1, -1] = True  # the last item and source appear: the triplets stand for all of L
    items, srcs = np.nonzero(keep)
    labels = L[items, srcs]
    order = rng.permutation(items.size)
    items, srcs, labels = items[order], srcs[order], labels[order]
    signed = draw(st.sampled_from(SIGNED + FLOATS[1:]))
    index = draw(st.sampled_from([np.int64, np.int32, np.uint32, np.float64]))
    return (draw(layouts(items.astype(index))), draw(layouts(srcs.astype(index))),
            draw(layouts(labels.astype(signed))))


# Ids of items (and sources), each family increasing with the index i, or unsortable (mixed
# types: numbered by first appearance); label values per class, sorted.
ITEM_IDS = [lambda i: f"t{i:03d}", lambda i: 10**12 + 7 * i, lambda i: ("t", i), lambda i: 10**30 + i,
            lambda i: i if i % 2 else f"s{i}"]
LABEL_NAMES = [["ant", "bee", "cat", "dog", "eel", "fox"], [10, 20, 30, 40, 10**20, 10**30],
               [-1.5, 0.0, 2.5, 1e300, 1e308, np.inf], [("a", 1), ("a", 2), ("b", 0), ("c", 0), ("c", 1), ("d",)]]


def _objects(values) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = v
    return out


def _order(ids_of, indices: np.ndarray) -> np.ndarray:
    """The distinct indices in the order their ids are numbered: sorted by id, or by first
    appearance when the ids cannot be sorted."""
    distinct = pd.unique(indices)
    try:
        return np.array(sorted(distinct, key=lambda i: ids_of(int(i))), dtype=distinct.dtype)
    except TypeError:
        return distinct


@st.composite
def id_forms(draw, k: int, m: Optional[int] = None) -> Case:
    """L as crowd-kit's DataFrame or as triplets of item (and source) ids, valid, with the dense
    matrix it stands for. With m (a model fitted on m sources, by index) sources are the
    indices 0..m-1 and a DataFrame's labels the classes 0..k-1."""
    L = _random_matrix(draw, k, m=m)
    L[0, 0] = max(L[0, 0], 0)  # at least one vote
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    items, srcs = np.nonzero(L >= 0)
    order = rng.permutation(items.size)
    items, srcs = items[order], srcs[order]
    labels = L[items, srcs]
    item_id, source_id = draw(st.sampled_from(ITEM_IDS)), draw(st.sampled_from(ITEM_IDS))
    rows = _order(item_id, items)
    form = draw(st.sampled_from(["frame", "ids"]))
    if m is not None:  # sources by index (as a fitted model knows them)
        cols, source_values = np.arange(L.shape[1]), [int(j) for j in srcs]
    elif form == "ids" and draw(st.booleans()):  # item ids, source indices
        cols, source_values = np.arange(srcs.max() + 1), srcs.astype(draw(st.sampled_from([np.int64, np.uint8])))
    else:
        cols, source_values = _order(source_id, srcs), [source_id(int(j)) for j in srcs]
    item_values = [item_id(int(i)) for i in items]
    dense = L[rows][:, cols]
    ids = [item_id(int(i)) for i in rows]
    if form == "ids":
        # a list of ids that are all numbers would be indices: ids come as object arrays, or lists of non-numbers
        wrap = draw(st.sampled_from([_objects, list]))
        def wrap_ids(values):
            return _objects(values) if all(isinstance(v, (int, float)) for v in values) else wrap(values)
        value = (wrap_ids(item_values), wrap_ids(source_values) if isinstance(source_values, list) else source_values,
                 labels.astype(draw(st.sampled_from([np.int64, np.int8, np.float64]))))
        return Case(value, True, len(rows), len(cols), dense, "ids", ids)
    names = list(range(k)) if m is not None else draw(st.sampled_from(LABEL_NAMES))[:k]  # k <= 6
    column = _objects([names[c] for c in labels])
    frame = pd.DataFrame({"task": _objects(item_values), "worker": _objects(source_values), "label": column})
    frame = frame.infer_objects()
    if len(np.unique(labels)) < k or draw(st.booleans()):
        frame["label"] = pd.Categorical(column, categories=_objects(names))
    if draw(st.booleans()):  # extra columns, another column order, another index
        frame = frame.assign(weight=1.0)[draw(st.permutations(["task", "worker", "label", "weight"]))]
        frame.index = rng.permutation(len(frame)) * 3 + 5
    return Case(frame, True, len(rows), len(cols), dense, "frame", ids)


@st.composite
def bad_id_forms(draw, k: int, m: Optional[int] = None) -> Case:
    """A DataFrame or id triplets that must be rejected (for a model fitted on m sources with m)."""
    good = draw(id_forms(k, m))
    kind = draw(st.sampled_from(["missing-id", "unhashable", "empty", "duplicate", "missing-column", "labels"]
                                + (["unknown-source"] if m is not None else [])))
    value = good.value
    if good.kind == "ids":
        items, srcs, labels = (_objects(list(v)) if i < 2 else v for i, v in enumerate(value))
        at = draw(st.integers(0, len(items) - 1))
        if kind == "missing-id":
            items[at] = draw(st.sampled_from([None, np.nan, float("nan")]))
        elif kind == "unhashable":
            items[at] = [1, 2]
        elif kind == "empty":
            items, srcs, labels = items[:0], srcs[:0], labels[:0]
        elif kind == "duplicate":
            items, srcs, labels = np.r_[items, items[at:at + 1]], np.r_[srcs, srcs[at:at + 1]], np.r_[labels, 0]
        elif kind == "unknown-source":
            srcs[at] = "zed"
        else:
            labels = np.r_[labels[:-1], k]
        return Case((items, srcs, labels), False)
    frame = value.copy()
    row = frame.index[draw(st.integers(0, len(frame) - 1))]
    if kind in ("missing-id", "unhashable"):
        column = draw(st.sampled_from(["task", "worker"] if kind == "unhashable" else ["task", "worker", "label"]))
        frame = frame.astype({column: object})
        frame.loc[row, column] = [1, 2] if kind == "unhashable" else draw(st.sampled_from([None, np.nan]))
    elif kind == "empty":
        frame = frame.iloc[:0]
    elif kind == "duplicate":
        frame = pd.concat([frame, frame.loc[[row]]])
    elif kind == "missing-column":
        frame = frame.drop(columns=draw(st.sampled_from(["task", "worker", "label"])))
    elif kind == "unknown-source":
        frame = frame.astype({"worker": object})
        frame.loc[row, "worker"] = draw(st.sampled_from(["zed", m, -1]))
    elif m is None:  # k + 1 classes
        labels = frame["label"].astype(object)
        present = list(pd.unique(labels.to_numpy()))
        extra = [f"zz-extra{i}" for i in range(k + 1 - len(present))]
        frame["label"] = pd.Categorical(labels.to_numpy(), categories=_objects(present + extra))
    else:  # a label the model has no class for
        frame = frame.astype({"label": object})
        frame.loc[row, "label"] = draw(st.sampled_from(["x", k, -1, 0.5]))
    return Case(frame, False)


@st.composite
def good_L(draw, k: int, m: Optional[int] = None, n: Optional[int] = None,
           forms=("dense", "dense", "dense", "list", "sparse", "triplets"), ids: bool = False) -> Case:
    """A valid label matrix for cardinality k (labels -1..k-1) in any accepted form and layout
    (with ids: also DataFrames and id triplets, which LabelModel reads)."""
    if ids and n is None and draw(st.integers(0, 3)) == 0:
        return draw(id_forms(k, m))
    L = _random_matrix(draw, k, n, m)
    form = draw(st.sampled_from(forms))
    if form == "dense":
        dtype = draw(st.sampled_from(SIGNED + FLOATS + (UNSIGNED if (L >= 0).all() else [])))
        value = draw(layouts(L.astype(dtype)))
    elif form == "list":
        value = L.tolist()
    elif form == "sparse":
        value = _as_sparse(draw, L, draw(st.sampled_from([np.int64, np.int8, np.float64, np.float32, np.uint8])))
    else:
        value = _as_triplets(draw, L)
    return Case(value, True, L.shape[0], L.shape[1], L)


@st.composite
def bad_L(draw, k: int, m: Optional[int] = None) -> Case:
    """A label matrix that must be rejected for cardinality k (and, with m, for a model fitted
    on m sources)."""
    L = _random_matrix(draw, k, m=m).astype(np.int64)
    n, mm = L.shape
    i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, mm - 1))
    kind = draw(st.sampled_from(["high", "low", "float-high", "float-low", "nan", "fraction", "uint-high", "dtype",
                                 "ndim", "empty", "sparse-high", "sparse-nan", "sparse-empty", "sparse-bool",
                                 "triplets-length", "triplets-duplicate", "triplets-negative", "triplets-empty",
                                 "triplets-label", "triplets-huge-item", "triplets-2d", "wrong-type"]
                                + (["columns", "sparse-columns", "triplets-source"] if m is not None else [])))
    if kind == "high":
        dtype = draw(st.sampled_from([np.int8, np.int32, np.int64]))
        L[i, j] = draw(st.sampled_from([k, k + 1, 127, 2**31, 2**62, 2**63 - 1]))
        value = L.astype(dtype) if np.iinfo(dtype).max >= L.max() else L
    elif kind == "low":
        L[i, j] = draw(st.sampled_from([-2, -128, -2**31, -2**63]))
        value = L
    elif kind in ("float-high", "float-low", "nan", "fraction"):
        F = L.astype(draw(st.sampled_from(FLOATS[1:])))
        with np.errstate(over="ignore"):  # 1e300 as float32 is inf: invalid too
            F[i, j] = draw(st.sampled_from({"float-high": [float(k), 3e9, 1e20, 3e38, 1e300, 2.0**64],
                                            "float-low": [-2.0, -1e300, -3e38],
                                            "nan": [np.nan, np.inf, -np.inf],
                                            "fraction": [0.5, -0.5, 1e-300, 1e-30, k - 1.5]}[kind]))
        if kind == "fraction" and F[i, j] == np.round(F[i, j]):  # 1e-300 as float32 is 0: a label
            F[i, j] = 0.5
        value = F
    elif kind == "uint-high":
        U = np.abs(L).astype(draw(st.sampled_from(UNSIGNED)))
        U[i, j] = np.iinfo(U.dtype).max
        value = U
    elif kind == "dtype":
        dtype = draw(st.sampled_from(ODD))
        value = np.zeros(L.shape, dtype=dtype) if dtype is not object else L.astype(object)
    elif kind == "ndim":
        value = draw(st.sampled_from([L[0], L[None], L[:, :, None], np.int64(0), L.ravel().tolist()]))
    elif kind == "empty":
        value = draw(st.sampled_from([L[:0], L[:, :0], np.zeros((0, 0)), []]))
    elif kind == "sparse-high":
        value = sparse.csr_matrix(np.where(np.arange(L.size).reshape(L.shape) == 0, k + 5, L))
    elif kind == "sparse-nan":
        value = sparse.csr_matrix(np.full(L.shape, np.nan))
    elif kind == "sparse-empty":
        value = sparse.csr_matrix((0, mm))
    elif kind == "sparse-bool":
        value = sparse.csr_matrix(L >= 0)
    elif kind == "columns":  # dense, for a model fitted on m sources
        value = np.hstack([L, L[:, :1]])
    elif kind == "sparse-columns":
        value = sparse.csr_matrix(np.hstack([L, L[:, :1]]))
    elif kind == "triplets-source":
        value = (np.array([0]), np.array([m]), np.array([0]))
    else:
        items, srcs = np.nonzero(np.ones_like(L, dtype=bool))
        labels = L[items, srcs]
        if kind == "triplets-length":
            value = (items, srcs[:-1] if srcs.size > 1 else srcs[:0], labels)
        elif kind == "triplets-duplicate":  # two votes (not abstains) of a source on an item
            labels[0] = 0
            value = (np.r_[items, items[:1]], np.r_[srcs, srcs[:1]], np.r_[labels, labels[:1]])
        elif kind == "triplets-negative":
            value = (np.r_[items, -1], np.r_[srcs, 0], np.r_[labels, 0])
        elif kind == "triplets-empty":
            value = (np.array([], np.int64), np.array([], np.int64), np.array([], np.int64))
        elif kind == "triplets-label":
            value = (items, srcs, np.r_[labels[:-1], draw(st.sampled_from([k, -2, 1e300, 0.5]))])
        elif kind == "triplets-huge-item":
            value = (np.r_[items, draw(st.sampled_from([2**31, 2**62, 1e300]))], np.r_[srcs, 0], np.r_[labels, 0])
        elif kind == "triplets-2d":
            value = (items[:, None], srcs, labels)
        else:
            value = draw(wrong_types().filter(lambda v: not isinstance(v, list) or v == [[1, 2], [3]]))
    return Case(value, False)


def not_here(k: int) -> st.SearchStrategy:
    """DataFrames and id triplets, valid for LabelModel, refused by collapse() and weaksup.sources."""
    return id_forms(k).map(lambda case: Case(case.value, False))


def any_L() -> st.SearchStrategy:
    """Anything: arrays of every dtype, shape and layout, and values of wrong types."""
    return st.one_of(arrays(ndims=(0, 3), max_side=5), wrong_types()).map(lambda v: Case(v, None))


def L_cases(k: int, m: Optional[int] = None, ids: bool = False) -> st.SearchStrategy:
    """Label matrices for cardinality k (with ids: DataFrames and id triplets too)."""
    good = good_L(k, m, ids=ids)
    if ids:
        return weighted((8, good), (1, bad_L(k, m)), (1, bad_id_forms(k, m)), (2, any_L()))
    return weighted((4, good), (1, bad_L(k, m)), (1, any_L()))


def for_cardinality(case: Case, card: tuple, k: int) -> Case:
    """A case drawn invalid for k labels may be valid for a larger cardinality drawn: unknown."""
    if case.valid is False and card[1] and card[0] is not None and card[0] > k:
        return Case(case.value, None)
    return case


def shape_of(case: Case, result_rows: int) -> tuple:
    """(n, m) of an accepted label matrix: known for drawn ones, else from the value (m None for
    triplets of unknown validity)."""
    if case.n is not None:
        return case.n, case.m
    if sparse.issparse(case.value):
        n, m = case.value.shape
    elif isinstance(case.value, tuple):
        return result_rows, None
    else:
        arr = np.asarray(case.value)
        assert arr.ndim == 2
        n, m = arr.shape
    assert n == result_rows
    return n, m


# ================================================================ other arguments


# Which gold labels an entry point takes: "native" classes 0..k-1 (LabelModel); "analysis"
# -1 (unknown) or any class up to 2^31 - 1 (SourceAnalysis); "lf" the same and booleans
# (LFAnalysis, through Snorkel's to_int_label_array); "snorkel" any whole number in int64 and
# booleans (Snorkel's Scorer).
GOLD_RULES = {  # kind of label drawn -> valid under native, analysis, lf, snorkel
    "good": (True, True, True, True), "class": (False, True, True, True), "low": (False, False, False, True),
    "nan": (False,) * 4, "fraction": (False,) * 4, "huge": (False,) * 4, "text": (False,) * 4,
    "bool": (False, False, True, True), "2d": (False,) * 4, "empty": (False,) * 4, "length": (False,) * 4,
}
RULES = ("native", "analysis", "lf", "snorkel")


@st.composite
def gold(draw, k: int, n: Optional[int], rules: str = "native") -> Case:
    """Gold labels for classes 0..k-1 (n of them; any number with n None) under `rules`."""
    size = draw(st.integers(1, 10)) if n is None else n
    low = 0 if rules == "native" else -1
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    Y = rng.integers(low, k, size=size)
    kind = draw(st.sampled_from(["good"] * 14 + sorted(GOLD_RULES.keys() - {"good", "length"})
                                + (["length"] if n is not None else []) + ["wrong"]))
    if kind == "wrong":
        return Case(draw(wrong_types()), None)
    valid = GOLD_RULES[kind][RULES.index(rules)]
    if kind == "good":
        dtype = draw(st.sampled_from(SIGNED + FLOATS + (UNSIGNED if low >= 0 else [])))
        return Case(draw(st.one_of(layouts(Y.astype(dtype)), st.just(Y.tolist()))), True, dense=Y)
    if kind in ("class", "low"):
        Y[0] = k + draw(st.integers(0, 3)) if kind == "class" else low - 1 - draw(st.integers(0, 3))
        return Case(Y.astype(draw(st.sampled_from([np.int64, np.float64]))), valid, dense=Y)
    if kind == "bool":
        B = rng.random(size) < 0.5
        return Case(B, valid, dense=B.astype(np.int64))
    F = Y.astype(np.float64)
    if kind in ("nan", "fraction", "huge"):
        F[0] = draw(st.sampled_from({"nan": [np.nan, np.inf, -np.inf], "fraction": [0.5, -0.5, 1e-300],
                                     "huge": [1e300, -1e300, 2.0**64, -(2.0**64)]}[kind]))
        return Case(F, valid)
    return Case({"text": Y.astype(str), "2d": np.stack([Y, Y]), "empty": Y[:0],
                 "length": Y[:-1] if size > 1 else np.r_[Y, Y]}[kind], valid, kind=kind)


@st.composite
def class_balances(draw, k: int) -> Case:
    kind = draw(st.sampled_from(["none"] * 3 + ["good"] * 2 + ["bad", "wrong"]))
    if kind == "none":
        return Case(None, True)
    if kind == "wrong":
        v = draw(wrong_types())
        return Case(v, v is None)
    p = np.asarray(draw(st.lists(st.floats(0.05, 1.0), min_size=k, max_size=k)))
    p = p / p.sum()
    if kind == "good":
        return Case(draw(st.sampled_from([p, p.tolist(), tuple(p)])), True)
    bad = draw(st.sampled_from([p[:-1], np.r_[p, 0.0], p * 0.5, np.r_[p[:-1] + p[-1], 0.0], -p, np.full(k, np.nan),
                                np.full(k, np.inf), np.stack([p, p]), p.astype(str), np.r_[1.0, p[1:]] if k > 1 else p]))
    if bad is not p and bad.dtype.kind == "f" and bad.shape == (k,) and np.isfinite(bad).all() \
            and (bad > 0).all() and abs(bad.sum() - 1) <= 1e-6:
        return Case(bad, True)
    return Case(bad, False)


@st.composite
def probability_arrays(draw, min_k: int = 1) -> Case:
    """(n, k) probabilities (valid: real and finite), or broken ones."""
    kind = draw(st.sampled_from(["good", "good", "good", "ties", "bad", "any"]))
    if kind == "any":
        return Case(draw(st.one_of(arrays(ndims=(0, 3), max_side=5), wrong_types())), None)
    n, k = draw(st.integers(0, 8)), draw(st.integers(min_k, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    P = rng.dirichlet(np.ones(k), size=n)
    if kind == "ties":
        P = np.round(P * 4) / 4 + draw(st.sampled_from([0.0, 0.4e-5, 1e-5, 3e-5])) * rng.integers(0, 2, P.shape)
    if kind in ("good", "ties"):
        dtype = draw(st.sampled_from(FLOATS + [np.int64] if kind == "good" else [np.float64]))
        return Case(draw(layouts(P.astype(dtype))), True, n, k)
    bad = draw(st.sampled_from(["nan", "ndim", "classes", "dtype"]))
    if bad == "nan":
        P = np.vstack([P, np.full((1, k), 0.5)])
        P[rng.integers(n + 1), rng.integers(k)] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    elif bad == "ndim":
        P = draw(st.sampled_from([P[..., None], P.ravel(), np.float64(0.5)]))
    elif bad == "classes":
        P = P[:, :min_k - 1]
    else:
        P = P.astype(draw(st.sampled_from([np.bool_, np.complex64, "U3"])))
    return Case(P, False)


# ================================================================ result checks


def check_probs(P: Any, n: int, k: int, atol: float = 1e-9) -> None:
    P = np.asarray(P)
    assert P.shape == (n, k), (P.shape, n, k)
    assert np.isfinite(P).all() and (P >= 0).all() and (P <= 1).all(), P
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=atol)


def check_labels(y: Any, n: int, k: int, abstain: bool = True) -> None:
    y = np.asarray(y)
    assert y.shape == (n,) and y.dtype.kind == "i", (y.shape, y.dtype)
    assert ((y >= (-1 if abstain else 0)) & (y < k)).all(), y


def check_among_ties(y: np.ndarray, P: np.ndarray, tol: float = 1e-5) -> None:
    """Each label is the row's maximum or tied with it (within tol, with rounding slack)."""
    P = np.asarray(P, dtype=np.float64)
    if not P.size:
        return
    top = P.max(axis=1)
    slack = tol * 1.01 + 4 * np.spacing(np.abs(top)) + 1e-3 * tol
    rows = np.flatnonzero(y >= 0)
    assert (P[rows, y[rows]] >= top[rows] - slack[rows]).all(), (y, P)


def check_model(model: LabelModel, m: int, k: int) -> None:
    theta = model.conditional_probs_
    assert theta.shape == (m, k + 1, k) and np.isfinite(theta).all()
    assert (theta >= 0).all() and (theta <= 1).all()
    np.testing.assert_allclose(theta.sum(axis=1), 1.0, atol=1e-9)
    check_probs(model.class_balance_[None, :], 1, k)
    assert np.isfinite(model.history_).all() and len(model.history_) == model.n_iter_
    assert model.n_iter_ == 0 if model.method == "triplet" else 1 <= model.n_iter_ <= model.max_iter
    acc = model.accuracies_
    assert acc.shape == (m,) and np.isfinite(acc).all() and (acc >= 0).all() and (acc <= 1 + 1e-12).all()


def votes_of(L: np.ndarray, k: int) -> np.ndarray:
    """(n, k) vote counts per class, by brute force."""
    return np.stack([(L == c).sum(axis=1) for c in range(k)], axis=1).astype(np.float64)


def same(a: Any, b: Any) -> bool:
    return bool(np.allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), rtol=1e-9,
                            atol=1e-12, equal_nan=True))


# ================================================================ weaksup.LabelModel


CONFUSIONS, ABSTAINS = ("auto", "symmetric", "full"), ("observed", "ignored")
CLASS_PRIORS = ("uniform", "learned")


def is_accuracy_prior(v) -> bool:
    """None, or a (mean in (0, 1), strength >= 0) pair of real numbers."""
    if v is None:
        return True
    if not isinstance(v, (tuple, list)) or len(v) != 2 or not all(is_real(x) for x in v):
        return False
    return 0.0 < float(v[0]) < 1.0 and float(v[1]) >= 0.0
METHODS, INITS = ("em", "triplet"), ("majority", "triplet")
TIE_BREAKS = ("abstain", "random", "true-random", "first")


@st.composite
def native_models(draw, k: int) -> LabelModel:
    """A valid, quick LabelModel (a few EM iterations, or the triplet method)."""
    method = draw(st.sampled_from(METHODS))
    return LabelModel(k, confusion=draw(st.sampled_from(CONFUSIONS if method == "em" else CONFUSIONS[:1])),
                      abstain=draw(st.sampled_from(ABSTAINS)),
                      smoothing=draw(st.sampled_from([0.0, 1e-300, 0.5, 1.0, 1e6])),
                      accuracy_prior=draw(st.sampled_from([None, (0.7, 300.0), (0.5, 0.0), (1e-9, 1e9)])),
                      confusion_strength=draw(st.sampled_from([0.0, 3.0, 1e9])), above_random=draw(st.booleans()),
                      class_prior=draw(st.sampled_from(CLASS_PRIORS)), discount_copies=draw(st.booleans()),
                      max_iter=draw(st.integers(1, 4)), tol=draw(st.sampled_from([0.0, 1e-6, 10.0])),
                      threads=draw(st.integers(0, 2)), seed=draw(st.integers(0, 2**64)), method=method,
                      init=draw(st.sampled_from(INITS)))


def uses_triplets(model: LabelModel) -> bool:
    return model.method == "triplet" or model.init == "triplet"


def sources_fit(model: LabelModel, L: Case) -> Optional[bool]:
    """Whether the model can fit a matrix of L's sources: the triplet method needs 3 (None: a
    matrix of unknown shape)."""
    if not uses_triplets(model):
        return True
    return None if L.m is None else L.m >= triplet.MIN_SOURCES


@st.composite
def fitted_native(draw, k: Optional[int] = None):
    k = draw(st.integers(2, 4)) if k is None else k
    model = draw(native_models(k))
    train = draw(good_L(k, m=draw(st.integers(3, 5)) if uses_triplets(model) else None, forms=("dense",)))
    return model.fit(train.value), k, train.m


@fuzz_settings
@given(st.data())
def test_fuzz_label_model_init(data):
    args = draw_args(
        data, cardinality=cardinality_spec(), confusion=choice_spec(CONFUSIONS, ["Full", "", "diagonal"]),
        abstain=choice_spec(ABSTAINS, ["drop", "OBSERVED"]),
        smoothing=Spec(lambda v: is_real(v, 0.0), st.floats(0, 10), (-1.0, -1e-300, 1e300, np.inf, np.nan,
                                                                     np.float32(0.5))),
        accuracy_prior=Spec(is_accuracy_prior, st.one_of(st.none(), st.tuples(st.floats(0.01, 0.99), st.floats(0, 1e4))),
                            ((0.0, 1.0), (1.0, 1.0), (0.7, -1.0), (0.7,), (0.7, np.nan), "0.7", (0.7, 1.0, 2.0))),
        confusion_strength=Spec(lambda v: is_real(v, 0.0), st.floats(0, 100), (-1.0, np.inf, np.nan)),
        above_random=BOOL, class_prior=choice_spec(CLASS_PRIORS, ["Uniform", "fixed"]), discount_copies=BOOL,
        max_iter=Spec(lambda v: is_int(v, 1), ints(1, 1000), (0, -1, 2**70, 1.0)),
        tol=Spec(lambda v: is_real(v, 0.0), st.sampled_from([0.0, 1e-6, 1.0]), (-1e-9, np.nan, np.inf, 1e300)),
        threads=THREADS, seed=seed_spec(), method=choice_spec(METHODS, ["EM", "flyingsquid", "triplets"]),
        init=choice_spec(INITS, ["majority vote", "Triplet", "random"]))
    model = call(LabelModel, **{name: a[0] for name, a in args.items()})
    card = args["cardinality"]
    closed_form_full = args["method"][0] == "triplet" and args["confusion"][0] == "full"  # refused
    if expect(model, *(a[1] for a in args.values()), not closed_form_full):
        assert type(model.cardinality) is int and model.cardinality == card[0]
        assert (model.method, model.init) == (args["method"][0], args["init"][0])
        assert type(model.max_iter) is int and type(model.smoothing) is float and type(model.seed) is int
        assert model.conditional_probs_ is None
        assert isinstance(call(model.predict_proba, [[0]]), Rejected)  # not fitted yet


def native_twin(model: LabelModel) -> LabelModel:
    """An unfitted LabelModel with model's settings."""
    settings = ("confusion", "abstain", "smoothing", "accuracy_prior", "confusion_strength", "above_random",
                "class_prior", "discount_copies", "max_iter", "tol", "seed", "method", "init")
    return LabelModel(model.cardinality, **{name: getattr(model, name) for name in settings})


def check_ids(result: Any, L: Case, model: LabelModel) -> np.ndarray:
    """A DataFrame's probabilities indexed by its tasks with one column per class, id triplets'
    rows in the order of their ids; the probabilities as an array."""
    if L.kind == "frame":
        assert isinstance(result, pd.DataFrame) and result.index.name == "task"
        assert list(result.index) == L.items and list(result.columns) == list(model.classes_)
    return np.asarray(result, dtype=np.float64)


def label_codes(preds: Any, L: Case, model: LabelModel) -> np.ndarray:
    """Predictions as class indices: a DataFrame's Series of labels (NaN = abstain) indexed by task."""
    if L.kind != "frame":
        return np.asarray(preds)
    assert isinstance(preds, pd.Series) and preds.name == "agg_label" and list(preds.index) == L.items
    return pd.Index(model.classes_).get_indexer(preds).astype(np.int64)


@fuzz_settings
@given(st.data())
def test_fuzz_label_model_fit(data):
    k = data.draw(st.integers(2, 4))
    model = data.draw(native_models(k))
    L = data.draw(L_cases(k, ids=True))
    balance = data.draw(class_balances(k))
    Y_dev = data.draw(weighted((2, st.just(Case(None, True))), (1, gold(k, None))))
    options = draw_args(data, balance=BOOL, clip=Spec(lambda v: is_real(v, 0.0, 1.0 / k), st.sampled_from(
        [0.0, 0.01, 1.0 / k]), (-0.01, 1.0 / k + 1e-9, 0.5 + 1e-9, np.nan, np.inf)))
    init = data.draw(init_accuracies(L.m))
    result = call(model.fit, L.value, Y_dev=Y_dev.value, class_balance=balance.value, init_accuracy=init.value,
                  **{name: a[0] for name, a in options.items()})
    Y_valid = True if balance.value is not None else (True if Y_dev.value is None else Y_dev.valid)
    if L.kind == "frame" and Y_dev.value is not None and balance.value is None:  # gold labels: the frame's labels
        Y_valid = None
    if expect(result, L.valid, balance.valid, Y_valid, init.valid, *(a[1] for a in options.values()),
              L.valid and sources_fit(model, L)):
        assert result is model
        n, m = shape_of(L, model.predict_proba(L.value).shape[0])
        check_model(model, m or model.n_sources_, k)
        probs = check_ids(model.predict_proba(L.value), L, model)
        check_probs(probs, n, k)
        if balance.value is not None:
            np.testing.assert_allclose(model.class_balance_, np.asarray(balance.value, dtype=np.float64))
        if L.items is not None:  # ids: the same fit as on the dense matrix they stand for
            assert list(model.item_ids_) == L.items
            twin = native_twin(model).fit(L.dense, class_balance=model.class_balance_ if balance.value is not None
                                          or Y_dev.value is not None else None, init_accuracy=init.value,
                                          **{name: a[0] for name, a in options.items()})
            np.testing.assert_array_equal(probs, twin.predict_proba(L.dense))
        clip = float(options["clip"][0])
        votes = model.conditional_probs_[:, 1:, :]
        assert (votes >= clip - 1e-12).all() and (votes <= 1 - clip + 1e-12).all()


@st.composite
def init_accuracies(draw, m: Optional[int]) -> Case:
    """fit's init_accuracy for m sources (None when unknown): None, a number or one per source
    in [0, 1], or something invalid."""
    sized = [] if m is None else [Case(np.full(m, 0.6), True), Case(np.linspace(0, 1, m).tolist(), True),
                                  Case(np.full(m + 1, 0.6), False), Case(np.full((m, 1), 0.6), False)]
    return draw(st.one_of(st.just(Case(None, True)), st.floats(0, 1).map(lambda v: Case(v, True)), st.sampled_from(
        [Case(1.5, False), Case(-0.1, False), Case(np.nan, False), Case("x", False), Case([0.5, "a"], False)] + sized)))


@fuzz_settings
@given(st.data())
def test_fuzz_label_model_fit_predict_proba(data):
    k = data.draw(st.integers(2, 4))
    model = data.draw(native_models(k))
    L = data.draw(L_cases(k, ids=True))
    balance = data.draw(class_balances(k))
    result = call(model.fit_predict_proba, L.value, class_balance=balance.value)
    if expect(result, L.valid, balance.valid, L.valid and sources_fit(model, L)):
        n, m = shape_of(L, result.shape[0])
        probs = check_ids(result, L, model)
        check_probs(probs, n, k)
        check_model(model, m or model.n_sources_, k)
        np.testing.assert_allclose(check_ids(model.predict_proba(L.value), L, model), probs, rtol=0, atol=1e-12)


@fuzz_settings
@given(st.data())
def test_fuzz_label_model_predict_proba(data):
    model, k, m = data.draw(fitted_native())
    L = data.draw(L_cases(k, m, ids=True))
    abstains = data.draw(bool_arg())
    result = call(model.predict_proba, L.value, abstains=abstains[0])
    if expect(result, L.valid, abstains[1]):
        n, mm = shape_of(L, result.shape[0])
        assert (mm or m) <= m
        probs = check_ids(result, L, model)
        check_probs(probs, n, k)
        if L.dense is not None:  # every form of a matrix gives the same posteriors
            np.testing.assert_allclose(probs, model.predict_proba(L.dense, abstains=abstains[0]), rtol=0, atol=1e-12)
            if not abstains[0]:  # abstains left out: items without votes get the prior
                silent = (np.asarray(L.dense) == -1).all(axis=1)
                np.testing.assert_allclose(probs[silent], np.broadcast_to(model.class_balance_, (silent.sum(), k)),
                                           rtol=1e-12, atol=1e-15)


@fuzz_settings
@given(st.data())
def test_fuzz_label_model_predict(data):
    model, k, m = data.draw(fitted_native())
    L = data.draw(L_cases(k, m, ids=True))
    return_probs = data.draw(bool_arg())
    tie_break = data.draw(tie_break_arg(TIE_BREAKS))
    result = call(model.predict, L.value, return_probs=return_probs[0], tie_break=tie_break[0])
    if expect(result, L.valid, return_probs[1], tie_break[1]):
        preds, probs = result if return_probs[0] else (result, model.predict_proba(L.value))
        preds, probs = label_codes(preds, L, model), check_ids(probs, L, model)
        n, _ = shape_of(L, len(preds))
        check_probs(probs, n, k)
        check_labels(preds, n, k, abstain=tie_break[0] == "abstain")
        check_among_ties(preds, probs)
        if tie_break[0] in ("random", "first", "abstain"):  # reproducible
            np.testing.assert_array_equal(label_codes(model.predict(L.value, tie_break=tie_break[0]), L, model), preds)


@fuzz_settings
@given(st.data())
def test_fuzz_label_model_score(data):
    model, k, m = data.draw(fitted_native())
    L = data.draw(weighted((2, good_L(k, m, ids=True)), (1, bad_L(k, m)), (1, bad_id_forms(k, m))))
    Y = data.draw(gold(k, L.n if L.n is not None else 3))
    Y_valid = Y.valid
    if L.kind == "frame":  # a DataFrame's gold labels are looked up among the classes (True is 1 there)
        Y_valid = None if Y_valid is False else Y_valid
        if Y.valid and data.draw(st.booleans()):  # as a Series indexed by task, in any order
            Y = Case(pd.Series(list(Y.value), index=pd.Index(_objects(L.items))).iloc[::-1], True)
    metrics = data.draw(st.one_of(
        st.lists(st.sampled_from(METRICS), min_size=0, max_size=4).map(lambda v: (v, True)),
        st.sampled_from(METRICS).map(lambda v: (v, True)),
        st.sampled_from([["precision"], ["accuracy", "auc"], [1], None, 5, "f2", [None]]).map(lambda v: (v, False))))
    tie_break = data.draw(tie_break_arg(TIE_BREAKS))
    result = call(model.score, L.value, Y.value, metrics=metrics[0], tie_break=tie_break[0])
    if expect(result, L.valid, Y_valid, metrics[1], tie_break[1]):
        names = [metrics[0]] if isinstance(metrics[0], str) else list(metrics[0])
        assert set(result) == set(names)
        assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in result.values()), result


@fuzz_settings
@given(st.data())
def test_fuzz_label_model_accuracies(data):
    k = data.draw(st.integers(2, 4))
    model = data.draw(native_models(k))
    L = data.draw(st.one_of(good_L(k, ids=True), any_L()))
    fitted = ok(call(model.fit, L.value))
    if L.valid:
        assert fitted == sources_fit(model, L)
    result = call(lambda: model.accuracies_)
    if expect(result, fitted):
        assert result.shape == (model.n_sources_,) and np.isfinite(result).all()
        assert ((result >= 0) & (result <= 1 + 1e-12)).all()


def paths(file) -> st.SearchStrategy:
    """The file as str, bytes or Path (valid), or a value of a wrong type."""
    return st.one_of(st.sampled_from([file, str(file), bytes(file)]).map(lambda v: Case(v, True)),
                     st.sampled_from([file, str(file)]).map(lambda v: Case(v, True)),
                     wrong_types().filter(lambda v: not isinstance(v, (str, bytes))).map(lambda v: Case(v, False)))


def _damage(draw, path) -> Optional[bool]:
    """Spoil the saved file (or not): True when it is left whole, False when it holds no
    model for sure, None when it may still read."""
    kind = draw(st.sampled_from(["whole", "whole", "truncate", "flip", "garbage", "foreign"]))
    data = path.read_bytes()
    if kind == "whole":
        return True
    if kind == "truncate":
        path.write_bytes(data[: draw(st.integers(0, len(data) - 1))])
        return False
    if kind == "flip":
        at = draw(st.integers(0, len(data) - 1))
        path.write_bytes(data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:])
        return None
    if kind == "garbage":
        path.write_bytes(draw(st.binary(max_size=64)))
        return False
    with np.load(path) as z:
        arrays_ = {key: z[key] for key in z.files}
    key = draw(st.sampled_from(sorted(arrays_)))
    arrays_[key] = draw(st.sampled_from([np.full((2, 3), np.nan), np.asarray("[1, 2]"), np.asarray('{"abc": 1}'),
                                         np.zeros((1, 1, 1)), np.asarray(-1.0), np.asarray('{"cardinality": 1}')]))
    deleted = draw(st.booleans())
    if deleted:
        del arrays_[key]
    with open(path, "wb") as f:
        np.savez(f, **arrays_)
    return None if deleted and key in ("classes", "source_ids") else False  # files of older versions lack the ids


@fuzz_settings
@given(data=st.data())
def test_fuzz_label_model_save_load(data, tmp_path):
    k = data.draw(st.integers(2, 4))
    model = data.draw(native_models(k))
    train = data.draw(good_L(k, m=data.draw(st.integers(3, 5)) if uses_triplets(model) else None, forms=("dense",)))
    fitted = data.draw(st.integers(0, 9)) > 0
    if fitted:
        model.fit(train.value)
    file = tmp_path / "model.npz"
    file.unlink(missing_ok=True)
    path = data.draw(paths(file))
    saved = call(model.save, path.value)
    if not expect(saved, fitted, path.valid) or not path.valid:
        return
    whole = _damage(data.draw, file)
    path, threads = data.draw(paths(file)), data.draw(threads_arg())
    loaded = call(LabelModel.load, path.value, threads=threads[0])
    if expect(loaded, whole, path.valid, threads[1]):
        check_model(loaded, loaded.n_sources_, loaded.cardinality)
        if whole:
            assert loaded.threads == threads[0]
            assert (loaded.method, loaded.init) == (model.method, model.init)
            np.testing.assert_array_equal(loaded.predict_proba(train.value), model.predict_proba(train.value))


@fuzz_settings
@given(st.data())
def test_fuzz_collapse(data):
    args = draw_args(data, cardinality=cardinality_spec(), threads=THREADS,
                     n_sources=optional(Spec(lambda v: is_int(v, 1, INT32_MAX), st.integers(1, 6), (0, -1, 2**31, 1.5))),
                     name=Spec(lambda v: isinstance(v, str), st.text(max_size=3)))
    card, n_sources, threads, name = (args[a] for a in ("cardinality", "n_sources", "threads", "name"))
    k = card[0] if card[1] and card[0] <= 6 else data.draw(st.integers(2, 4))
    L = data.draw(weighted((8, L_cases(k)), (1, not_here(k))))
    L = for_cardinality(L, card, k)
    fits = True
    if L.valid and card[1] and n_sources[0] is not None and n_sources[1]:
        fits = L.m == n_sources[0] if not isinstance(L.value, tuple) else L.m <= n_sources[0]
    codes_fit = not (L.valid and card[1]) or L.m * (card[0] + 1) <= INT32_MAX
    result = call(collapse, L.value, card[0], n_sources=n_sources[0], threads=threads[0], name=name[0])
    if expect(result, L.valid, card[1], n_sources[1], threads[1], name[1], fits, codes_fit):
        n, m = shape_of(L, result.rows)
        assert result.rows == n and result.classes == card[0]
        assert result.sources == (m or result.sources if n_sources[0] is None else n_sources[0])
        counts, row_pattern = np.asarray(result.counts), np.asarray(result.row_pattern)
        assert counts.sum() == n and (counts >= 1).all() and result.patterns <= n
        assert row_pattern.shape == (n,) and (row_pattern >= 0).all() and (row_pattern < result.patterns).all()
        np.testing.assert_array_equal(np.bincount(row_pattern, minlength=result.patterns), counts)
        codes = np.asarray(result.codes)
        assert ((codes >= 0) & (codes < result.sources * (card[0] + 1))).all()


@st.composite
def id_values(draw) -> Case:
    """Values to factorize: ids of every family as lists, object arrays or pandas Series (valid),
    with a missing or unhashable value, or of another shape (invalid), or anything."""
    kind = draw(st.sampled_from(["good"] * 6 + ["missing", "unhashable", "2d", "any"]))
    if kind == "any":
        return Case(draw(st.one_of(arrays(ndims=(0, 2), max_side=4, dtypes=NUMERIC_DTYPES + ODD[:-1]), wrong_types())),
                    None)
    family = draw(st.sampled_from(ITEM_IDS + [lambda i: float(i) / 2, lambda i: [("a", 1), 2.5, "b"][i % 3]]))
    values = [family(int(i)) for i in draw(st.lists(st.integers(0, 6), max_size=10))]
    if kind == "2d":
        return Case(np.array([[1, 2], [3, 4]]), False)
    if kind in ("missing", "unhashable"):
        values = values + [None if kind == "missing" else draw(st.sampled_from([[1], {"a": 1}, {1}]))]
        values = [values[i] for i in np.random.default_rng(len(values)).permutation(len(values))]
    form = draw(st.sampled_from(["list", "objects", "series"]))
    value = values if form == "list" else _objects(values) if form == "objects" else pd.Series(_objects(values))
    return Case(value, kind == "good")


@fuzz_settings
@given(id_values(), bool_arg(), scalar(lambda v: isinstance(v, str), st.sampled_from(["values", "L[0]", ""])))
def test_fuzz_factorize(values, sort, name):
    result = call(factorize, values.value, name=name[0], sort=sort[0])
    if expect(result, values.valid, sort[1], name[1]):
        codes, ids = result
        given_values = list(values.value) if not isinstance(values.value, np.ndarray) else list(values.value.ravel())
        assert codes.dtype == np.int64 and codes.shape == (len(given_values),)
        ids = list(ids)
        assert len(set(map(repr, ids))) == len(ids)  # distinct
        assert [ids[c] for c in codes] == given_values
        first = [int(c) for c in pd.unique(codes)]
        try:
            sortable = sorted(ids) is not None
        except TypeError:
            sortable = False
        if sort[0] and sortable:
            assert ids == sorted(ids)
        else:  # numbered by first appearance
            assert first == list(range(len(ids)))


@fuzz_settings
@given(probability_arrays(), tie_break_arg(TIE_BREAKS), seed_arg())
def test_fuzz_probabilities_to_labels(probs, tie_break, seed):
    result = call(probabilities_to_labels, probs.value, tie_break[0], seed[0])
    if expect(result, probs.valid, tie_break[1], seed[1]):
        P = np.asarray(probs.value)
        check_labels(result, P.shape[0], P.shape[1], abstain=tie_break[0] == "abstain")
        check_among_ties(result, P)
        if tie_break[0] != "true-random":
            np.testing.assert_array_equal(probabilities_to_labels(probs.value, tie_break[0], seed[0]), result)


# ================================================================ weaksup.triplet


@st.composite
def pattern_cases(draw):
    """(Case, k): the collapsed patterns of a valid label matrix, or something else."""
    k = draw(st.integers(2, 4))
    if draw(st.integers(0, 5)) == 0:
        return Case(draw(st.one_of(wrong_types(), arrays(ndims=(0, 3), max_side=4))), False), k
    L = draw(good_L(k))
    return Case(collapse(L.value, k), True, L.n, L.m, L.dense), k


def brute_force_moments(L: np.ndarray, k: int) -> np.ndarray:
    voted = (L >= 0).astype(np.float64)
    agree = sum((L == c).astype(np.float64).T @ (L == c).astype(np.float64) for c in range(k))
    return (k * agree - voted.T @ voted) / ((k - 1) * L.shape[0])


@fuzz_settings
@given(pattern_cases())
def test_fuzz_triplet_moments(case):
    patterns, k = case
    result = call(triplet.moments, patterns.value)
    if expect(result, patterns.valid):
        M, covoted = result
        m = patterns.m
        assert M.shape == covoted.shape == (m, m) and covoted.dtype == np.bool_
        assert np.isfinite(M).all() and (np.abs(M) <= 1 + 1e-12).all()
        np.testing.assert_array_equal(M, M.T)
        np.testing.assert_allclose(M, brute_force_moments(patterns.dense, k), rtol=0, atol=1e-12)
        voted = (patterns.dense >= 0).astype(np.float64)
        np.testing.assert_array_equal(covoted, voted.T @ voted > 0)


@fuzz_settings
@given(pattern_cases())
def test_fuzz_triplet_accuracies(case):
    patterns, k = case
    result = call(triplet.accuracies, patterns.value)
    if expect(result, patterns.valid, patterns.valid and patterns.m >= triplet.MIN_SOURCES):
        assert result.shape == (patterns.m,) and np.isfinite(result).all()
        assert ((result >= 1 / k) & (result <= triplet.MAX_ACCURACY)).all()


@fuzz_settings
@given(st.data())
def test_fuzz_triplet_tables(data):
    patterns, k = data.draw(pattern_cases())
    balance = data.draw(class_balances(k))
    result = call(triplet.tables, patterns.value, balance.value)
    if expect(result, patterns.valid, patterns.valid and patterns.m >= triplet.MIN_SOURCES, balance.valid):
        theta, prior = result
        assert theta.shape == (patterns.m, k + 1, k) and np.isfinite(theta).all()
        assert ((theta >= 0) & (theta <= 1)).all()
        np.testing.assert_allclose(theta.sum(axis=1), 1.0, atol=1e-12)
        np.testing.assert_allclose(theta[:, 0, 0], 1 - (patterns.dense >= 0).mean(axis=0), atol=1e-12)
        expected = np.full(k, 1 / k) if balance.value is None else np.asarray(balance.value, dtype=np.float64)
        np.testing.assert_allclose(prior, expected, rtol=1e-15)


@fuzz_settings
@given(st.data())
def test_fuzz_classification_metrics(data):
    card = data.draw(cardinality_arg())
    k = card[0] if card[1] and card[0] <= 6 else 3
    n = data.draw(st.integers(1, 8))
    Y = data.draw(gold(k, n))
    preds = data.draw(gold(k, n, "analysis"))
    if preds.valid and preds.dense is not None and (preds.dense >= k).any():
        preds = Case(preds.value, False)  # predictions are classes 0..k-1 or -1
    Y, preds = for_cardinality(Y, card, k), for_cardinality(preds, card, k)
    if Y.kind == preds.kind == "length":  # one length, not the drawn one: fine here
        Y, preds = Case(Y.value, True, dense=np.asarray(Y.value)), Case(preds.value, True, dense=np.asarray(preds.value))
    metrics = data.draw(st.lists(st.sampled_from(METRICS), max_size=5).map(lambda v: (v, True))
                        | st.sampled_from([["roc"], None, [3]]).map(lambda v: (v, False)))
    result = call(classification_metrics, Y.value, preds.value, card[0], metrics[0])
    if expect(result, Y.valid, preds.valid, card[1], metrics[1]):
        assert set(result) == set(metrics[0]) and all(0.0 <= v <= 1.0 for v in result.values())
        if "accuracy" in result:
            assert result["accuracy"] == pytest.approx(float((Y.dense == preds.dense).mean()))


# ================================================================ weaksup.sources


@st.composite
def vote_weights(draw, m: Optional[int]) -> Case:
    kind = draw(st.sampled_from(["none", "none", "good", "bad", "wrong"]))
    if kind == "none" or m is None:
        return Case(None, True)
    if kind == "wrong":
        v = draw(wrong_types())
        return Case(v, True if v is None else None)  # a scalar is one weight for one source
    w = np.asarray(draw(st.lists(st.sampled_from([0.0, 1e-300, 0.5, 1.0, 3.0, 1e30]), min_size=m, max_size=m)))
    if kind == "good":
        value = draw(st.sampled_from([w, w.tolist(), w.astype(np.float32)]
                                     + ([np.round(w).astype(np.int64)] if (w < 1e18).all() else [])))
        return Case(value, True, dense=np.asarray(value, dtype=np.float64))  # float32: 1e-300 is 0
    bad = draw(st.sampled_from(["negative", "nan", "length", "2d", "overflow", "str"]))
    if bad == "negative":
        w[0] = -1.0
    elif bad == "nan":
        w[0] = draw(st.sampled_from([np.nan, np.inf]))
    elif bad == "length":
        w = np.r_[w, 1.0]
    elif bad == "2d":
        w = w[None, :]
    elif bad == "overflow":
        w = np.full(m + 1, 1e308)[:m] if m > 1 else np.full(1, np.inf)
    else:
        w = w.astype(str)
    return Case(w, False)


def reference_vote_fractions(L: np.ndarray, k: int, w: Optional[np.ndarray]) -> np.ndarray:
    w = np.ones(L.shape[1]) if w is None else np.asarray(w, dtype=np.float64)
    counts = np.stack([((L == c) * w).sum(axis=1) for c in range(k)], axis=1)
    total = counts.sum(axis=1, keepdims=True)
    return np.where(total > 0, counts / np.where(total > 0, total, 1), 1.0 / k)


def _majority_case(data):
    card = data.draw(weighted((3, cardinality_spec(st.integers(2, 5)).ok()), (1, cardinality_spec().bad())))
    k = card[0] if card[1] and card[0] <= 6 else data.draw(st.integers(2, 4))
    L = data.draw(weighted((8, L_cases(k)), (1, not_here(k))))
    weights = data.draw(vote_weights(L.m))
    tables = not (card[1] and L.valid) or L.m * (card[0] + 1) * card[0] <= MAX_TABLE_ENTRIES
    return card, L, weights, tables


@fuzz_settings
@given(st.data())
def test_fuzz_majority_vote_proba(data):
    card, L, weights, tables = _majority_case(data)
    threads = data.draw(threads_arg())
    result = call(sources.majority_vote_proba, L.value, card[0], weights.value, threads=threads[0])
    if expect(result, L.valid, card[1], weights.valid if L.valid else None, threads[1], tables):
        n, _ = shape_of(L, result.shape[0])
        check_probs(result, n, card[0])
        if L.dense is not None and weights.valid:
            np.testing.assert_allclose(result, reference_vote_fractions(L.dense, card[0], weights.dense),
                                       rtol=1e-12, atol=1e-15)


@fuzz_settings
@given(st.data())
def test_fuzz_majority_vote(data):
    card, L, weights, tables = _majority_case(data)
    args = draw_args(data, tie_break=choice_spec(TIE_BREAKS), seed=seed_spec())
    tie_break, seed = args["tie_break"], args["seed"]
    result = call(sources.majority_vote, L.value, card[0], weights.value, tie_break[0], seed[0])
    if expect(result, L.valid, card[1], weights.valid if L.valid else None, tie_break[1], seed[1], tables):
        n, _ = shape_of(L, result.shape[0])
        check_labels(result, n, card[0], abstain=tie_break[0] == "abstain")
        if L.dense is not None and weights.valid:
            check_among_ties(result, reference_vote_fractions(L.dense, card[0], weights.dense))


def _infer_valid(L: Any) -> bool:
    labels = L[2] if isinstance(L, tuple) and len(L) == 3 else (L.tocoo().data if sparse.issparse(L) else L)
    try:
        arr = np.asarray(labels)
    except Exception:
        return False
    if arr.dtype == np.bool_ or arr.dtype.kind not in "iuf":
        return False
    if arr.dtype.kind == "f" and not (np.isfinite(arr).all() and (arr == np.round(arr)).all()):
        return False
    arr = arr.astype(np.float64) if arr.dtype.kind == "f" else arr
    return bool(((arr >= -1) & (arr <= INT32_MAX - 2)).all())


@fuzz_settings
@given(st.one_of(good_L(4), bad_L(3), any_L(), st.sampled_from([np.array([[2**31]]), np.array([[1e300]]),
                                                                np.array([[-5]])]).map(lambda v: Case(v, False))))
def test_fuzz_infer_cardinality(L):
    result = call(sources.infer_cardinality, L.value)
    if expect(result, _infer_valid(L.value)):
        labels = np.asarray(L.value[2] if isinstance(L.value, tuple) else
                            (L.value.tocoo().data if sparse.issparse(L.value) else L.value))
        assert type(result) is int and result == max(2, int(labels.max()) + 1 if labels.size else 2)
        if L.dense is not None:
            assert result <= 4


def _analysis_case(data):
    """(SourceAnalysis or Rejected, L case, accepted), from any label matrix and cardinality."""
    card = data.draw(weighted((1, st.just((None, True))), (2, cardinality_arg(st.integers(4, 6), True))))
    k = card[0] if card[0] is not None and card[1] and card[0] <= 6 else 4
    L = for_cardinality(data.draw(weighted((3, good_L(k)), (1, bad_L(k)), (1, any_L()))), card, k)
    threads = data.draw(threads_arg())
    L_valid = L.valid if card[0] is not None or L.valid else None  # inferring k, high labels are fine
    codes = not (card[1] and L.valid and card[0] is not None) or L.m * (card[0] + 1) <= INT32_MAX
    analysis = call(sources.SourceAnalysis, L.value, card[0], threads=threads[0])
    accepted = expect(analysis, L_valid, card[1], threads[1], codes)
    if accepted:
        n, m = shape_of(L, analysis.n_items)
        assert (analysis.n_items, analysis.n_sources) == (n, m or analysis.n_sources)
    return analysis, L, accepted


def reference_analysis(L: np.ndarray) -> dict:
    voted = L >= 0
    n_votes = voted.sum(axis=1)
    labels = [set(row[row >= 0].tolist()) for row in L]
    conflict = np.array([len(s) > 1 for s in labels])
    return dict(coverage=voted.mean(axis=0), overlaps=(voted & (n_votes > 1)[:, None]).mean(axis=0),
                conflicts=(voted & conflict[:, None]).mean(axis=0), label_coverage=(n_votes > 0).mean(),
                label_overlap=(n_votes > 1).mean(), label_conflict=conflict.mean(),
                polarities=[sorted(set(L[:, j][L[:, j] >= 0].tolist())) for j in range(L.shape[1])])


@fuzz_settings
@given(st.data())
def test_fuzz_source_analysis(data):
    analysis, L, accepted = _analysis_case(data)
    if not accepted:
        return
    m = analysis.n_sources
    fractions = [analysis.label_coverage(), analysis.label_overlap(), analysis.label_conflict()]
    assert all(0.0 <= f <= 1.0 for f in fractions) and fractions[0] >= fractions[1] >= fractions[2]
    cov, ovl, cfl = analysis.coverage(), analysis.overlaps(), analysis.conflicts()
    for a in (cov, ovl, cfl):
        assert a.shape == (m,) and ((a >= 0) & (a <= 1)).all()
    assert (cov >= ovl).all() and (ovl >= cfl).all()
    counts = analysis.vote_counts()
    assert (counts == np.round(counts)).all() and (counts <= analysis.n_items).all()
    polarities = analysis.polarities()
    assert len(polarities) == m and all(p == sorted(p) and all(0 <= c < analysis.cardinality for c in p)
                                        for p in polarities)
    if L.dense is not None:
        ref = reference_analysis(L.dense)
        assert same(cov, ref["coverage"]) and same(ovl, ref["overlaps"]) and same(cfl, ref["conflicts"])
        assert same(fractions, [ref["label_coverage"], ref["label_overlap"], ref["label_conflict"]])
        assert polarities == ref["polarities"]


@fuzz_settings
@given(st.data())
def test_fuzz_source_analysis_overlaps(data):
    analysis, L, accepted = _analysis_case(data)
    flag = data.draw(bool_arg())
    if not accepted:
        return
    result = call(analysis.overlaps, flag[0])
    if expect(result, flag[1]):
        assert result.shape == (analysis.n_sources,) and ((result >= 0) & (result <= 1 + 1e-12)).all()


@fuzz_settings
@given(st.data())
def test_fuzz_source_analysis_conflicts(data):
    analysis, L, accepted = _analysis_case(data)
    flag = data.draw(bool_arg())
    if not accepted:
        return
    result = call(analysis.conflicts, flag[0])
    if expect(result, flag[1]):
        assert result.shape == (analysis.n_sources,) and ((result >= 0) & (result <= 1 + 1e-12)).all()


def _gold_for(data, analysis, L) -> Case:
    """Gold labels for an analysis: -1 (unknown) and classes past k are allowed."""
    return data.draw(gold(min(analysis.cardinality, 6), analysis.n_items, "analysis"))


def reference_correct(L: np.ndarray, Y: np.ndarray):
    voted = L >= 0
    known = voted & (Y >= 0)[:, None]
    correct = (L == Y[:, None]) & voted
    return correct.sum(axis=0), (known & ~correct).sum(axis=0), voted.sum(axis=0)


@fuzz_settings
@given(st.data())
def test_fuzz_source_analysis_correct_incorrect(data):
    analysis, L, accepted = _analysis_case(data)
    if not accepted:
        return
    Y = _gold_for(data, analysis, L)
    result = call(analysis.correct_incorrect, Y.value)
    if expect(result, Y.valid):
        correct, incorrect = result
        assert ((correct >= 0) & (incorrect >= 0)).all()
        assert (correct + incorrect <= analysis.vote_counts()).all()
        if L.dense is not None:
            ref = reference_correct(L.dense, Y.dense)
            np.testing.assert_array_equal(correct, ref[0])
            np.testing.assert_array_equal(incorrect, ref[1])


@fuzz_settings
@given(st.data())
def test_fuzz_source_analysis_empirical_accuracies(data):
    analysis, L, accepted = _analysis_case(data)
    if not accepted:
        return
    Y = _gold_for(data, analysis, L)
    result = call(analysis.empirical_accuracies, Y.value)
    if expect(result, Y.valid):
        assert result.shape == (analysis.n_sources,)
        real = result[~np.isnan(result)]
        assert ((real >= 0) & (real <= 1)).all()


@fuzz_settings
@given(st.data())
def test_fuzz_source_analysis_empirical_probs(data):
    analysis, L, accepted = _analysis_case(data)
    if not accepted:
        return
    Y = _gold_for(data, analysis, L)
    k, m = analysis.cardinality, analysis.n_sources
    tables = m * (k + 1) * k <= MAX_TABLE_ENTRIES and int(analysis.patterns.patterns) * k <= MAX_TABLE_ENTRIES
    result = call(analysis.empirical_probs, Y.value)
    if expect(result, Y.valid, tables):
        assert result.shape == (m, k + 1, k)
        present = ~np.isnan(result).all(axis=(0, 1))
        assert not np.isnan(result[:, :, present]).any()
        assert ((result[:, :, present] >= 0) & (result[:, :, present] <= 1)).all()
        np.testing.assert_allclose(result[:, :, present].sum(axis=1), 1.0, atol=1e-12)


@fuzz_settings
@given(st.data())
def test_fuzz_source_analysis_summary(data):
    analysis, L, accepted = _analysis_case(data)
    if not accepted:
        return
    Y = data.draw(st.one_of(st.none().map(lambda v: Case(v, True)),
                            gold(min(analysis.cardinality, 6), analysis.n_items, "analysis")))
    result = call(analysis.summary, Y.value)
    if expect(result, Y.valid):
        keys = {"polarity", "coverage", "overlaps", "conflicts"}
        assert set(result) == (keys if Y.value is None else keys | {"correct", "incorrect", "empirical_accuracy"})
        assert all(len(v) == analysis.n_sources for v in result.values())


# ================================================================ weaksup.compat.snorkel


POLICIES = ("abstain", "random", "true-random")
SNORKEL_METRICS = ("accuracy", "coverage", "precision", "recall", "f1", "f1_micro", "f1_macro",
                   "matthews_corrcoef", "roc_auc")
ALWAYS_DEFINED = ("accuracy", "coverage", "f1_micro", "f1_macro", "matthews_corrcoef")
SNORKEL_RETURN_PROBS = Spec(lambda v: v is None or is_bool(v), st.booleans(), (None, 2, "True"))  # Optional[bool]


@st.composite
def snorkel_models(draw, k: int) -> wsn.LabelModel:
    return wsn.LabelModel(k, verbose=draw(st.booleans()), confusion=draw(st.sampled_from(CONFUSIONS)),
                          max_iter=draw(st.integers(1, 4)), threads=draw(st.integers(0, 2)))


@st.composite
def fitted_snorkel(draw, k: Optional[int] = None):
    k = draw(st.integers(2, 4)) if k is None else k
    model = draw(snorkel_models(k))
    train = draw(good_L(k, forms=("dense",)))
    model.fit(train.value)
    return model, k, train.m


@fuzz_settings
@given(st.data())
def test_fuzz_snorkel_label_model_init(data):
    args = draw_args(data, cardinality=cardinality_spec(), verbose=BOOL,
                     device=Spec(lambda v: isinstance(v, str), st.sampled_from(["cpu", "cuda:0"])),
                     confusion=choice_spec(CONFUSIONS), threads=THREADS)
    model = call(wsn.LabelModel, **{name: a[0] for name, a in args.items()})
    card = args["cardinality"]
    if expect(model, *(a[1] for a in args.values())):
        assert model.cardinality == card[0]
        assert isinstance(call(model.predict_proba, np.zeros((1, 1), int)), Rejected)  # not fitted


@fuzz_settings
@given(st.data())
def test_fuzz_snorkel_label_model_fit(data):
    k = data.draw(st.integers(2, 4))
    model = data.draw(snorkel_models(k))
    L = data.draw(L_cases(k))
    balance = data.draw(class_balances(k))
    args = draw_args(
        data, progress_bar=BOOL,
        n_epochs=Spec(lambda v: is_int(v, 0), ints(0, 500), (-1, 2**70, 10.0)),
        lr=Spec(lambda v: is_real(v, 0.0), st.floats(0, 1), (-0.1, np.nan, np.inf)),
        l2=Spec(lambda v: is_real(v, 0.0), st.floats(0, 1), (-1.0, np.inf)),
        optimizer=choice_spec(("sgd", "adam", "adamax"), ["lbfgs", "SGD"]),
        optimizer_config=Spec(lambda v: v is None or v in ({}, {"sgd_config": {"momentum": 0.5}}), st.sampled_from(
            [None, {}, {"sgd_config": {"momentum": 0.5}}]), ({"a": 1}, {"sgd_config": {"beta": 1}})),
        lr_scheduler=choice_spec(("constant", "linear", "exponential", "step"), ["cosine"]),
        lr_scheduler_config=Spec(lambda v: v is None or v in ({}, {"warmup_steps": 2, "warmup_unit": "epochs"}),
                                 st.sampled_from([None, {}, {"warmup_steps": 2, "warmup_unit": "epochs"}]),
                                 ({"warmup_steps": 2}, {"warmup_steps": -1, "warmup_unit": "epochs"}, {"x": 0})),
        seed=optional(seed_spec(2**32 - 1)), log_freq=Spec(lambda v: is_int(v, 1), ints(1, 100), (0, -5)),
        mu_eps=optional(Spec(lambda v: is_real(v, 0.0, 1.0 / k), st.floats(0, 1.0 / k), (0.6, 1.5, -0.1, np.nan))))
    sized = [] if L.m is None else [(np.full(L.m, 0.7), True), (np.full(L.m + 1, 0.7).tolist(), False)]
    prec = data.draw(st.one_of(st.floats(0, 1).map(lambda v: (v, True)), st.sampled_from(
        [(1.5, False), (-0.1, False), (np.nan, False), ("x", False), (None, False)] + sized)))
    result = call(model.fit, L.value, class_balance=balance.value, prec_init=prec[0],
                  **{name: a[0] for name, a in args.items()})
    if expect(result, L.valid, snorkel_balance_valid(balance, k), prec[1], *(a[1] for a in args.values())):
        assert result is None
        n, mm = shape_of(L, model.predict_proba(L.value).shape[0])
        mm = mm or model.native.n_sources_
        check_model(model.native, mm, k)
        check_probs(model.predict_proba(L.value), n, k)
        weights = model.get_weights()
        assert weights.shape == (mm,) and ((weights >= 1e-6) & (weights <= 1)).all()


def _numbers(value: Any) -> Optional[np.ndarray]:
    """A list / tuple / array of real numbers as an array; None for anything else."""
    if not isinstance(value, (list, tuple, np.ndarray)):
        return None
    try:
        p = np.asarray(value)
    except ValueError:  # ragged
        return None
    return p if p.dtype.kind in "iuf" else None


def snorkel_balance_valid(case: Case, k: int) -> bool:
    """Snorkel's class_balance: k finite positive numbers, normalized (need not sum to 1)."""
    if case.value is None:
        return True
    p = _numbers(case.value)
    return p is not None and p.shape == (k,) and bool(np.isfinite(p).all() and (p > 0).all())


@fuzz_settings
@given(st.data())
def test_fuzz_snorkel_label_model_predict_proba(data):
    model, k, m = data.draw(fitted_snorkel())
    L = data.draw(L_cases(k, m))
    result = call(model.predict_proba, L.value)
    if expect(result, L.valid):
        n, _ = shape_of(L, result.shape[0])
        check_probs(result, n, k)


@fuzz_settings
@given(st.data())
def test_fuzz_snorkel_label_model_predict(data):
    model, k, m = data.draw(fitted_snorkel())
    L = data.draw(L_cases(k, m))
    return_probs = data.draw(SNORKEL_RETURN_PROBS.any())
    policy = data.draw(tie_break_arg(POLICIES))
    result = call(model.predict, L.value, return_probs=return_probs[0], tie_break_policy=policy[0])
    if expect(result, L.valid, return_probs[1], policy[1]):
        preds, probs = result if return_probs[0] else (result, model.predict_proba(L.value))
        n, _ = shape_of(L, len(preds))
        check_probs(probs, n, k)
        check_labels(preds, n, k, abstain=policy[0] == "abstain")
        check_among_ties(preds, probs)


def _snorkel_score(data, model, k, m: Optional[int], reads_votes: bool = True):
    L = data.draw(weighted((2, good_L(k, m)), (1, bad_L(k, m))))
    if not reads_votes and not L.valid:  # a baseline that ignores the labels may accept labels past k
        L = Case(L.value, None)
    Y = data.draw(gold(k, L.n if L.n is not None else 3, "snorkel"))
    metrics = data.draw(st.one_of(
        st.lists(st.sampled_from(SNORKEL_METRICS), max_size=4).map(lambda v: (v, True)),
        st.none().map(lambda v: (v, True)),
        st.sampled_from([["auc"], [1], 5, ["accuracy", None]]).map(lambda v: (v, False))))
    policy = data.draw(tie_break_arg(POLICIES))
    result = call(model.score, L.value, Y.value, metrics=metrics[0], tie_break_policy=policy[0])
    defined = True if not metrics[1] or all(name in ALWAYS_DEFINED for name in metrics[0] or []) else None
    if expect(result, L.valid, Y.valid, metrics[1], policy[1], defined):
        assert set(result) == set(metrics[0] or [])
        for name, value in result.items():
            low = -1.0 if name == "matthews_corrcoef" else 0.0
            assert isinstance(value, float) and (np.isnan(value) or low <= value <= 1.0), result


@fuzz_settings
@given(st.data())
def test_fuzz_snorkel_label_model_score(data):
    _snorkel_score(data, *data.draw(fitted_snorkel()))


def _maybe_fitted_snorkel(data):
    k = data.draw(st.integers(2, 4))
    model = data.draw(snorkel_models(k))
    L = data.draw(st.one_of(good_L(k), any_L()))
    fitted = ok(call(model.fit, L.value))
    return model, k, fitted


@fuzz_settings
@given(st.data())
def test_fuzz_snorkel_label_model_get_conditional_probs(data):
    model, k, fitted = _maybe_fitted_snorkel(data)
    result = call(model.get_conditional_probs)
    if expect(result, fitted):
        m = model.native.n_sources_
        assert result.shape == (m, k + 1, k) and np.isfinite(result).all()
        np.testing.assert_allclose(result.sum(axis=1), 1.0, atol=1e-9)


@fuzz_settings
@given(st.data())
def test_fuzz_snorkel_label_model_get_weights(data):
    model, k, fitted = _maybe_fitted_snorkel(data)
    result = call(model.get_weights)
    if expect(result, fitted):
        assert result.shape == (model.native.n_sources_,) and ((result >= 1e-6) & (result <= 1)).all()


@fuzz_settings
@given(data=st.data())
def test_fuzz_snorkel_label_model_save_load(data, tmp_path):
    model, k, fitted = _maybe_fitted_snorkel(data)
    file = tmp_path / "snorkel.npz"
    file.unlink(missing_ok=True)
    path = data.draw(paths(file))
    if not expect(call(model.save, path.value), path.valid, fitted) or not path.valid:
        return
    whole = _damage(data.draw, file)
    path = data.draw(paths(file))
    other = wsn.LabelModel(2)
    if expect(call(other.load, path.value), whole, path.valid):
        check_model(other.native, other.native.n_sources_, other.cardinality)
        if whole:
            assert other.cardinality == k
            np.testing.assert_array_equal(other.get_conditional_probs(), model.get_conditional_probs())


def reference_majority_voter(L: np.ndarray, k: int) -> np.ndarray:
    counts = votes_of(L, k)
    top = (counts == counts.max(axis=1, keepdims=True)).astype(np.float64)
    return top / top.sum(axis=1, keepdims=True)


@fuzz_settings
@given(st.data())
def test_fuzz_majority_label_voter_predict_proba(data):
    card = data.draw(cardinality_arg())
    k = card[0] if card[1] and card[0] <= 6 else data.draw(st.integers(2, 4))
    voter = call(wsn.MajorityLabelVoter, card[0])
    if not expect(voter, card[1]):
        return
    L = data.draw(L_cases(k))
    tables = not L.valid or L.m * (card[0] + 1) * card[0] <= MAX_TABLE_ENTRIES
    result = call(voter.predict_proba, L.value)
    if expect(result, L.valid, tables):
        n, _ = shape_of(L, result.shape[0])
        check_probs(result, n, card[0])
        if L.dense is not None:
            np.testing.assert_allclose(result, reference_majority_voter(L.dense, card[0]), rtol=1e-15)


@fuzz_settings
@given(st.data())
def test_fuzz_majority_label_voter_predict(data):
    k = data.draw(st.integers(2, 4))
    L = data.draw(L_cases(k))
    return_probs, policy = data.draw(SNORKEL_RETURN_PROBS.any()), data.draw(tie_break_arg(POLICIES))
    result = call(wsn.MajorityLabelVoter(k).predict, L.value, return_probs=return_probs[0],
                  tie_break_policy=policy[0])
    if expect(result, L.valid, return_probs[1], policy[1]):
        preds = result[0] if return_probs[0] else result
        n, _ = shape_of(L, len(preds))
        check_labels(preds, n, k, abstain=policy[0] == "abstain")
        if L.dense is not None:
            check_among_ties(preds, reference_majority_voter(L.dense, k))


@fuzz_settings
@given(st.data())
def test_fuzz_majority_label_voter_score(data):
    k = data.draw(st.integers(2, 4))
    _snorkel_score(data, wsn.MajorityLabelVoter(k), k, None)


@fuzz_settings
@given(data=st.data())
def test_fuzz_majority_label_voter_save_load(data, tmp_path):
    _voter_save_load(data, tmp_path, wsn.MajorityLabelVoter(data.draw(st.integers(2, 4))))


def _voter_save_load(data, tmp_path, voter):
    k = voter.cardinality
    file = tmp_path / "voter.pkl"
    path = data.draw(paths(file))
    if not expect(call(voter.save, path.value), path.valid) or not path.valid:
        return
    kind = data.draw(st.sampled_from(["whole", "whole", "truncate", "garbage", "foreign"]))
    if kind == "truncate":
        file.write_bytes(file.read_bytes()[:-1])
    elif kind == "garbage":
        file.write_bytes(data.draw(st.binary(max_size=32)))
    elif kind == "foreign":
        file.write_bytes(pickle.dumps(data.draw(st.sampled_from([[1, 2], {"x": 1}, 3.5, None]))))
    other, path = type(voter)(2), data.draw(paths(file))
    if expect(call(other.load, path.value), path.valid, True if kind == "whole" else None if kind == "garbage"
              else False):
        assert other.cardinality == (k if kind == "whole" else other.cardinality)
        if kind == "whole" and hasattr(voter, "balance"):
            np.testing.assert_array_equal(other.balance, voter.balance)


def baseline_L(k: int) -> st.SearchStrategy:
    """Label matrices for the baselines that do not read the votes (MajorityClassVoter,
    RandomVoter): a matrix with labels past the cardinality may be accepted (valid None)."""
    return L_cases(k).map(lambda case: case if case.valid else Case(case.value, None, case.n, case.m, case.dense))


def majority_class_balance_valid(case: Case, k: int) -> bool:
    p = _numbers(case.value)
    return p is not None and p.shape == (k,) and bool(np.isfinite(p).all() and (p >= 0).all() and (p > 0).any())


@st.composite
def fitted_majority_class_voter(draw):
    k = draw(st.integers(2, 4))
    voter = wsn.MajorityClassVoter(k)
    voter.fit(draw(st.sampled_from([np.full(k, 1.0 / k), np.arange(1.0, k + 1), np.r_[1.0, np.zeros(k - 1)]])))
    return voter, k


@fuzz_settings
@given(st.data())
def test_fuzz_majority_class_voter_fit(data):
    k = data.draw(st.integers(2, 4))
    voter = wsn.MajorityClassVoter(k)
    balance = data.draw(st.one_of(class_balances(k), st.sampled_from(
        [Case(np.r_[1.0, np.zeros(k - 1)], True), Case(np.zeros(k), False), Case(np.arange(k), True)])))
    result = call(voter.fit, balance.value)
    if expect(result, majority_class_balance_valid(balance, k)):
        assert result is None
        np.testing.assert_array_equal(voter.balance, np.asarray(balance.value, dtype=np.float64))
    else:
        assert isinstance(call(voter.predict_proba, np.zeros((1, 1), int)), Rejected)  # not fitted


@fuzz_settings
@given(st.data())
def test_fuzz_majority_class_voter_predict_proba(data):
    voter, k = data.draw(fitted_majority_class_voter())
    L = data.draw(baseline_L(k))
    result = call(voter.predict_proba, L.value)
    if expect(result, L.valid):
        n, _ = shape_of(L, result.shape[0])
        check_probs(result, n, k)
        top = (voter.balance == voter.balance.max()) / np.sum(voter.balance == voter.balance.max())
        np.testing.assert_array_equal(result, np.broadcast_to(top, (n, k)))


@fuzz_settings
@given(st.data())
def test_fuzz_majority_class_voter_predict(data):
    voter, k = data.draw(fitted_majority_class_voter())
    _baseline_predict(data, voter, k)


@fuzz_settings
@given(st.data())
def test_fuzz_majority_class_voter_score(data):
    _snorkel_score(data, *data.draw(fitted_majority_class_voter()), None, reads_votes=False)


@fuzz_settings
@given(data=st.data())
def test_fuzz_majority_class_voter_save_load(data, tmp_path):
    _voter_save_load(data, tmp_path, data.draw(fitted_majority_class_voter())[0])


def _baseline_predict(data, voter, k: int) -> None:
    L = data.draw(baseline_L(k))
    return_probs, policy = data.draw(SNORKEL_RETURN_PROBS.any()), data.draw(tie_break_arg(POLICIES))
    result = call(voter.predict, L.value, return_probs=return_probs[0], tie_break_policy=policy[0])
    if expect(result, L.valid, return_probs[1], policy[1]):
        preds, probs = result if return_probs[0] else (result, None)
        n, _ = shape_of(L, len(preds))
        check_labels(preds, n, k, abstain=policy[0] == "abstain")
        if probs is not None:
            check_probs(probs, n, k)
            check_among_ties(preds, probs)


@fuzz_settings
@given(st.data())
def test_fuzz_random_voter_predict_proba(data):
    k = data.draw(st.integers(2, 4))
    L = data.draw(baseline_L(k))
    seed = data.draw(st.integers(0, 2**32 - 1))
    np.random.seed(seed)
    result = call(wsn.RandomVoter(k).predict_proba, L.value)
    if expect(result, L.valid):
        n, _ = shape_of(L, result.shape[0])
        check_probs(result, n, k)
        np.random.seed(seed)  # NumPy's global generator, rand(n, k), rows normalized (Snorkel's draws)
        expected = np.random.rand(n, k)
        np.testing.assert_allclose(result, expected / expected.sum(axis=1, keepdims=True), rtol=1e-15)


@fuzz_settings
@given(st.data())
def test_fuzz_random_voter_predict(data):
    k = data.draw(st.integers(2, 4))
    _baseline_predict(data, wsn.RandomVoter(k), k)


@fuzz_settings
@given(st.data())
def test_fuzz_random_voter_score(data):
    k = data.draw(st.integers(2, 4))
    _snorkel_score(data, wsn.RandomVoter(k), k, None, reads_votes=False)


@fuzz_settings
@given(data=st.data())
def test_fuzz_random_voter_save_load(data, tmp_path):
    _voter_save_load(data, tmp_path, wsn.RandomVoter(data.draw(st.integers(2, 4))))


@fuzz_settings
@given(probability_arrays(min_k=2), tie_break_arg(POLICIES),
       scalar(lambda v: is_real(v, 0.0, low_open=True), st.sampled_from([1e-5, 1e-300, 0.1, 1.0]),
              [0.0, -1e-5, np.nan, np.inf]))
def test_fuzz_probs_to_preds(probs, policy, tol):
    result = call(wsn.probs_to_preds, probs.value, policy[0], tol[0])
    if expect(result, probs.valid, policy[1], tol[1]):
        P = np.asarray(probs.value)
        check_labels(result, P.shape[0], P.shape[1], abstain=policy[0] == "abstain")
        check_among_ties(result, P, tol=float(tol[0]))


def _lf_analysis(data):
    L = data.draw(weighted((3, good_L(4)), (1, bad_L(4)), (1, any_L())))
    lfs = data.draw(st.one_of(
        st.none().map(lambda v: (v, True)),
        st.just(L.m).map(lambda m: ([f"lf{j}" for j in range(m)] if m else None, True)),
        st.just(L.m).map(lambda m: ([f"lf{j}" for j in range((m or 1) + 1)], False)),
        st.sampled_from([5, "abc", [1, 2], [None]]).map(lambda v: (v, False))))
    valid_L = L.valid if L.valid is not False else None  # no cardinality: high labels are fine here
    if L.valid is False and lfs[0] is not None:
        lfs = (lfs[0], None)
    analysis = call(wsn.LFAnalysis, L.value, lfs[0])
    accepted = expect(analysis, valid_L, lfs[1] if L.valid else None)
    return analysis, L, accepted


@fuzz_settings
@given(st.data())
def test_fuzz_lf_analysis(data):
    analysis, L, accepted = _lf_analysis(data)
    if not accepted:
        return
    m = analysis.source_analysis.n_sources
    fractions = [analysis.label_coverage(), analysis.label_overlap(), analysis.label_conflict()]
    assert all(0.0 <= f <= 1.0 for f in fractions) and fractions[0] >= fractions[1] >= fractions[2]
    cov = analysis.lf_coverages()
    assert cov.shape == (m,) and ((cov >= 0) & (cov <= 1)).all()
    assert len(analysis.lf_polarities()) == m
    if L.dense is not None:
        ref = reference_analysis(L.dense)
        assert same(cov, ref["coverage"]) and analysis.lf_polarities() == ref["polarities"]
        assert same(fractions, [ref["label_coverage"], ref["label_overlap"], ref["label_conflict"]])


@fuzz_settings
@given(st.data())
def test_fuzz_lf_analysis_lf_overlaps(data):
    analysis, L, accepted = _lf_analysis(data)
    flag = data.draw(bool_arg())
    if accepted and expect(result := call(analysis.lf_overlaps, flag[0]), flag[1]):
        assert ((result >= 0) & (result <= 1 + 1e-12)).all()
        if L.dense is not None and not flag[0]:
            assert same(result, reference_analysis(L.dense)["overlaps"])


@fuzz_settings
@given(st.data())
def test_fuzz_lf_analysis_lf_conflicts(data):
    analysis, L, accepted = _lf_analysis(data)
    flag = data.draw(bool_arg())
    if accepted and expect(result := call(analysis.lf_conflicts, flag[0]), flag[1]):
        assert ((result >= 0) & (result <= 1 + 1e-12)).all()
        if L.dense is not None and not flag[0]:
            assert same(result, reference_analysis(L.dense)["conflicts"])


@fuzz_settings
@given(st.data())
def test_fuzz_lf_analysis_lf_empirical_accuracies(data):
    analysis, L, accepted = _lf_analysis(data)
    if not accepted:
        return
    Y = data.draw(gold(4, analysis.source_analysis.n_items, "lf"))
    result = call(analysis.lf_empirical_accuracies, Y.value)
    if expect(result, Y.valid):
        assert ((result >= 0) & (result <= 1)).all()
        if L.dense is not None:
            correct, _, voted = reference_correct(L.dense, Y.dense)
            np.testing.assert_allclose(result, np.where(voted > 0, correct / np.maximum(voted, 1), 0.0))


@fuzz_settings
@given(st.data())
def test_fuzz_lf_analysis_lf_empirical_probs(data):
    analysis, L, accepted = _lf_analysis(data)
    if not accepted:
        return
    Y = data.draw(gold(4, analysis.source_analysis.n_items, "lf"))
    k = data.draw(scalar(lambda v: is_int(v, 0), ints(0, 5), [-1, 10**6, 2.0]))
    m = analysis.source_analysis.n_sources
    big = k[1] and m * (k[0] + 1) * k[0] > MAX_TABLE_ENTRIES
    result = call(analysis.lf_empirical_probs, Y.value, k[0])
    if expect(result, Y.valid, k[1], False if big else None):
        assert result.shape == (m, k[0] + 1, k[0])
        finite = result[~np.isnan(result)]
        assert ((finite >= 0) & (finite <= 1)).all()


@fuzz_settings
@given(st.data())
def test_fuzz_lf_analysis_lf_summary(data):
    analysis, L, accepted = _lf_analysis(data)
    if not accepted:
        return
    n, m = analysis.source_analysis.n_items, analysis.source_analysis.n_sources
    Y = data.draw(st.one_of(st.none().map(lambda v: Case(v, True)), gold(4, n, "lf")))
    w = data.draw(st.one_of(st.none().map(lambda v: Case(v, True)), vote_weights(m)))
    if w.value is not None and w.valid is False and isinstance(w.value, np.ndarray) and w.value.shape == (m,) \
            and w.value.dtype.kind == "f":
        w = Case(w.value, True)  # learned weights may be any numbers
    result = call(analysis.lf_summary, Y.value, w.value)
    if expect(result, Y.valid, w.valid):
        assert isinstance(result, pd.DataFrame) and len(result) == m
        for column in ("Coverage", "Overlaps", "Conflicts") + (("Emp. Acc.",) if Y.value is not None else ()):
            values = result[column].to_numpy(dtype=np.float64)
            assert ((values >= 0) & (values <= 1)).all(), (column, values)


# ================================================================ weaksup.compat.crowdkit


TASK_IDS = [lambda i: i, lambda i: f"t{i}", lambda i: float(i) + 0.5, lambda i: ("t", i), lambda i: np.int64(i * 7)]
LABELS = [[0, 1, 2, 3], ["dog", "cat", "owl", "ant"], [True, False], [2.5, -1.0, 1e300, 0.0], [10, "x", 3.0, None]]


@dataclass
class Frame:
    value: Any
    valid: Optional[bool]        # for MajorityVote
    duplicates: bool = False     # one worker answering a task twice (DawidSkene refuses it)
    tasks: Any = None            # the tasks in first-appearance order
    labels: Any = None


@st.composite
def answer_frames(draw) -> Frame:
    kind = draw(st.sampled_from(["good", "good", "good", "good", "empty", "missing", "nan", "unhashable",
                                 "not-frame", "repeated-column"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    task_id, worker_id = draw(st.sampled_from(TASK_IDS)), draw(st.sampled_from(TASK_IDS))
    labels = draw(st.sampled_from(LABELS[:4]))[: draw(st.integers(1, 4))]
    n_tasks, n_workers = draw(st.integers(1, 8)), draw(st.integers(1, 4))
    rows = [(task_id(t), worker_id(w), labels[rng.integers(len(labels))])
            for t in range(n_tasks) for w in range(n_workers) if rng.random() < 0.7] or [(task_id(0), worker_id(0),
                                                                                         labels[0])]
    rows = [rows[i] for i in rng.permutation(len(rows))]
    duplicates = draw(st.integers(0, 4)) == 0
    if duplicates:
        rows.append((rows[0][0], rows[0][1], labels[-1]))
    frame = pd.DataFrame(rows, columns=["task", "worker", "label"])
    if draw(st.booleans()):  # extra columns, another column order, another index
        frame = frame.assign(extra=1.5)[draw(st.permutations(["task", "worker", "label", "extra"]))]
        frame.index = rng.permutation(len(frame)) * 3 + 7
    if draw(st.integers(0, 5)) == 0:
        frame = frame.astype({"label": "category"})
    tasks = pd.unique(frame["task"].to_numpy())
    if kind == "good":
        return Frame(frame, True, duplicates, tasks, pd.unique(frame["label"].to_numpy()))
    if kind == "empty":
        return Frame(frame.iloc[:0], True)
    if kind == "missing":
        return Frame(frame.drop(columns=draw(st.sampled_from(["task", "worker", "label"]))), False)
    if kind == "nan":
        column = draw(st.sampled_from(["task", "worker", "label"]))
        frame = frame.astype({column: object})
        frame.loc[frame.index[0], column] = draw(st.sampled_from([None, np.nan]))
        return Frame(frame, False)
    if kind == "unhashable":
        frame = frame.astype({"label": object})
        frame.loc[frame.index[0], "label"] = [1, 2]
        return Frame(frame, False)
    if kind == "repeated-column":
        return Frame(pd.concat([frame, frame[["task"]]], axis=1), False)
    return Frame(draw(st.sampled_from([frame.to_numpy(), frame.to_dict(), None, "task", frame["task"], []])), False)


def check_crowd_result(agg: Any, frame: Frame, sorted_order: bool = False, atol: float = 1e-9) -> None:
    probas, labels = agg.probas_, agg.labels_
    if frame.tasks is None:  # no answers: crowd-kit's empty results
        assert probas.empty and labels.empty
        return
    tasks = pd.Index(frame.tasks)
    if sorted_order:
        assert set(probas.index) == set(tasks) and len(probas.index) == len(tasks)
    else:
        assert list(probas.index) == list(tasks)
    assert probas.index.name == "task" and probas.columns.name == "label"
    assert set(probas.columns) == set(frame.labels) and len(probas.columns) == len(frame.labels)
    check_probs(probas.to_numpy(dtype=np.float64), len(tasks), len(frame.labels), atol=atol)
    assert labels.name == "agg_label" and list(labels.index) == list(probas.index)
    argmax = probas.columns.take(probas.to_numpy(dtype=np.float64).argmax(axis=1))
    assert list(labels) == list(argmax)


STRATEGIES = ("assign", "addition")


@fuzz_settings
@given(st.data())
def test_fuzz_dawid_skene_init(data):
    args = draw_args(data, n_iter=Spec(is_int, ints(-2, 30), (2**70, -(2**70), 1.5, np.int8(3))),
                     tol=Spec(lambda v: is_real(v) or (isinstance(v, float) and np.isinf(v)),  # -inf: never stop
                              st.sampled_from([1e-5, 0.0, -1.0, 1e300, -np.inf]), (np.nan, np.inf, "1e-5")),
                     initial_error_strategy=Spec(lambda v: v is None or v in STRATEGIES and isinstance(v, str),
                                                 st.sampled_from([None, *STRATEGIES]), ("Assign", "addone", "mv", 3)),
                     threads=THREADS)
    result = call(wck.DawidSkene, **{name: a[0] for name, a in args.items()})
    n_iter = args["n_iter"]
    if expect(result, *(a[1] for a in args.values())):
        assert result.n_iter == n_iter[0] and result.probas_ is None


def dawid_skene_extras(data, frame: Frame, strategy: Optional[str]) -> Tuple[dict, bool]:
    """(true_labels / initial_error keyword arguments, valid) for DawidSkene.fit on a frame
    with answers: a gold label for the first task (the one a duplicate answer is on), from the
    frame's labels or not; initial errors of zeros (counts to add, but no probabilities to
    assign) or without the worker / label index."""
    answers = frame.value
    first = pd.Index([answers["task"].iloc[0]], tupleize_cols=False)
    pairs = answers[["worker", "label"]].drop_duplicates()
    zeros = pd.DataFrame(0.0, index=pd.MultiIndex.from_frame(pairs), columns=pd.Index(frame.labels))
    kind = data.draw(st.sampled_from(["none"] * 3 + ["gold", "foreign gold", "zeros", "no index"]))
    if kind == "gold":
        return {"true_labels": pd.Series([answers["label"].iloc[0]], index=first)}, True
    if kind == "foreign gold":
        return {"true_labels": pd.Series(["not a label"], index=first)}, False
    if kind == "zeros":
        return {"initial_error": zeros}, strategy != "assign"
    if kind == "no index":
        return {"initial_error": pd.DataFrame()}, strategy is None
    return {}, True


def _dawid_skene(data, method: str):
    frame = data.draw(answer_frames())
    model = wck.DawidSkene(n_iter=data.draw(st.integers(-1, 4)), tol=data.draw(st.sampled_from([1e-5, 0.0, -1.0])),
                           initial_error_strategy=data.draw(st.sampled_from([None, *STRATEGIES])),
                           threads=data.draw(st.integers(0, 2)))
    extra, extra_valid = {}, True
    if frame.tasks is not None:
        extra, extra_valid = dawid_skene_extras(data, frame, model.initial_error_strategy)
    result = call(getattr(model, method), frame.value, **extra)
    # a worker's two answers on a task are refused where EM estimates the task: the duplicate
    # is on the first task, which the gold labels fix
    refused = frame.duplicates and model.n_iter > 0 and "true_labels" not in extra
    valid = frame.valid and not refused and extra_valid
    if expect(result, valid):
        check_crowd_result(model, frame, atol=1e-8)
        if frame.tasks is not None:
            check_probs(model.priors_.to_numpy()[None, :], 1, len(frame.labels))
            assert np.isfinite(model.errors_.to_numpy(dtype=np.float64)).all()
    return model, result, frame


@fuzz_settings
@given(st.data())
def test_fuzz_dawid_skene_fit(data):
    model, result, _ = _dawid_skene(data, "fit")
    assert not ok(result) or result is model


@fuzz_settings
@given(st.data())
def test_fuzz_dawid_skene_fit_predict(data):
    model, result, _ = _dawid_skene(data, "fit_predict")
    assert not ok(result) or result is model.labels_


@fuzz_settings
@given(st.data())
def test_fuzz_dawid_skene_fit_predict_proba(data):
    model, result, _ = _dawid_skene(data, "fit_predict_proba")
    assert not ok(result) or result is model.probas_


MISSING_SKILL = ("error", "ignore", "value")


@fuzz_settings
@given(scalar(lambda v: v is None or is_real(v, 0.0), st.floats(0, 5), [None, -1.0, np.nan, "0.5"]),
       scalar(is_choice(MISSING_SKILL), st.sampled_from(MISSING_SKILL), ["drop", "VALUE"]))
def test_fuzz_majority_vote_init(default_skill, on_missing):
    result = call(wck.MajorityVote, default_skill[0], on_missing[0])
    if expect(result, default_skill[1], on_missing[1]):
        assert result.on_missing_skill == on_missing[0] and result.probas_ is None


@st.composite
def skills_for(draw, frame: Frame, on_missing: str, default_skill: Optional[float]):
    """(skills, valid, labels of the answers that count) for MajorityVote.fit on frame."""
    labels = frame.labels
    if frame.tasks is None or not frame.valid or draw(st.booleans()):
        return None, True, labels
    answers = frame.value
    workers = pd.unique(answers["worker"].to_numpy())
    kind = draw(st.sampled_from(["all", "all", "some", "bad", "wrong"]))
    values = np.asarray(draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 1e-300, 1e300]), min_size=len(workers),
                                      max_size=len(workers))))
    if kind == "wrong":
        return draw(st.sampled_from([values.tolist(), "x", dict(zip(workers, values)), 3])), False, labels
    if kind == "bad":
        values[0] = draw(st.sampled_from([-1.0, np.inf]))
        return pd.Series(values, index=workers), False, labels
    keep = np.ones(len(workers), bool) if kind == "all" else np.asarray(draw(st.lists(
        st.booleans(), min_size=len(workers), max_size=len(workers))))
    skills = pd.Series(values[keep], index=workers[keep], dtype=np.float64)
    known = answers["worker"].isin(skills.index).to_numpy()
    if on_missing == "value":
        if default_skill is None:
            return skills, False, labels
        weight = np.where(known, answers["worker"].map(skills).to_numpy(dtype=np.float64), default_skill)
    else:
        if not np.all(known) and on_missing == "error":
            return skills, False, labels
        if not pd.Series(known).groupby(answers["task"].to_numpy()).any().all():  # "ignore": a task left bare
            return skills, False, labels
        labels = pd.unique(answers["label"].to_numpy()[known])  # "ignore" drops the other answers
        weight = np.where(known, answers["worker"].map(skills).to_numpy(dtype=np.float64), 0.0)
    totals = pd.Series(weight).groupby(answers["task"].to_numpy()).sum()
    with np.errstate(over="ignore"):
        valid = bool((np.isfinite(totals) & (totals > 0)).all())
    if default_skill is not None and on_missing != "value":
        valid = False
    return skills, valid, labels


def _majority_vote(data, method: str):
    frame = data.draw(answer_frames())
    on_missing = data.draw(st.sampled_from(MISSING_SKILL))
    default_skill = data.draw(st.sampled_from([None, None, 0.0, 1.0]))
    model = wck.MajorityVote(default_skill, on_missing)
    skills, skills_valid, labels = data.draw(skills_for(frame, on_missing, default_skill))
    result = call(getattr(model, method), frame.value, skills)
    if expect(result, frame.valid, skills_valid):
        check_crowd_result(model, Frame(frame.value, True, tasks=frame.tasks, labels=labels),
                           sorted_order=skills is not None)
        if frame.tasks is not None:
            s = model.skills_
            assert s.name == "skill" and ((s >= 0) & (s <= 1)).all()
    return model, result


@fuzz_settings
@given(st.data())
def test_fuzz_majority_vote_fit(data):
    model, result = _majority_vote(data, "fit")
    assert not ok(result) or result is model


@fuzz_settings
@given(st.data())
def test_fuzz_majority_vote_fit_predict(data):
    model, result = _majority_vote(data, "fit_predict")
    assert not ok(result) or result is model.labels_


@fuzz_settings
@given(st.data())
def test_fuzz_majority_vote_fit_predict_proba(data):
    model, result = _majority_vote(data, "fit_predict_proba")
    assert not ok(result) or result is model.probas_


def test_fuzz_suite_covers_every_entry_point():
    """Every public method of the classes fuzzed here has its test_fuzz_ case (a new method
    needs one)."""
    names = {name for name in globals() if name.startswith("test_fuzz_")}
    covered = {
        LabelModel: "label_model", wsn.LabelModel: "snorkel_label_model", wsn.MajorityLabelVoter:
        "majority_label_voter", wsn.MajorityClassVoter: "majority_class_voter", wsn.RandomVoter: "random_voter",
        wsn.LFAnalysis: "lf_analysis", sources.SourceAnalysis: "source_analysis",
        wck.DawidSkene: "dawid_skene", wck.MajorityVote: "majority_vote"}
    grouped = {  # methods checked inside another entry point's test
        "label_model": {"load": "save_load", "save": "save_load"},
        "snorkel_label_model": {"load": "save_load", "save": "save_load", "native": "fit"},
        "majority_label_voter": {"load": "save_load", "save": "save_load"},
        "majority_class_voter": {"load": "save_load", "save": "save_load"},
        "random_voter": {"load": "save_load", "save": "save_load"},
        "lf_analysis": {name: "" for name in ("label_coverage", "label_overlap", "label_conflict",
                                              "lf_polarities", "lf_coverages", "source_analysis")},
        "source_analysis": {name: "" for name in ("label_coverage", "label_overlap", "label_conflict",
                                                  "vote_counts", "coverage", "polarities")},
    }
    missing = []
    for cls, prefix in covered.items():
        for name in dir(cls):
            if name.startswith("_") or not callable(getattr(cls, name, None)) and not isinstance(
                    getattr(cls, name, None), property):
                continue
            test = grouped.get(prefix, {}).get(name, name)
            if f"test_fuzz_{prefix}_{test}".rstrip("_") not in names:
                missing.append(f"{cls.__qualname__}.{name}")
    assert not missing, missing
    for function in ("probabilities_to_labels", "collapse", "factorize", "classification_metrics", "majority_vote",
                     "majority_vote_proba", "infer_cardinality", "probs_to_preds", "triplet_moments",
                     "triplet_accuracies", "triplet_tables"):
        assert f"test_fuzz_{function}" in names
    assert set(sources.__all__) <= {"SourceAnalysis", "majority_vote", "majority_vote_proba", "infer_cardinality"}
    assert weaksup.probabilities_to_labels is probabilities_to_labels
