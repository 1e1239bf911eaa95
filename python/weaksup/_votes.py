"""Votes as users hold them, mapped to the integer forms the label model reads: the one place
where ids become codes 0..n-1 and codes become ids again (used by :mod:`weaksup.labelmodel`
and :mod:`weaksup.compat.crowdkit`).

Two forms carry ids:

* crowd-kit's long DataFrame, columns ``task``, ``worker``, ``label`` (one row per answer;
  other columns are ignored): tasks, workers and labels may be any hashable values;
* ``(item, source, label)`` triplets whose items or sources are *ids* rather than indices:
  object arrays (any hashable Python values: strings, integers of any size, tuples), string,
  bytes or datetime arrays, or Python lists that are not all numbers. Integer and float arrays
  (and lists of numbers) stay indices 0..n-1, as they always were; labels of triplets are
  class indices (-1 = abstain).

Order (:func:`factorize`): distinct ids are numbered in sorted order when they can be sorted
(numbers, strings, tuples of those), else in order of first appearance; ``sort=False``
numbers them by first appearance (crowd-kit's order). pandas is imported by no function here:
pandas objects are recognised only when the caller's pandas is already loaded.
"""

from __future__ import annotations

import numbers
import sys
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

import numpy as np

from . import _arrays

COLUMNS = ("task", "worker", "label")
_WHAT = {"task": "items", "worker": "sources", "label": "labels"}


class MissingColumnError(KeyError, ValueError):
    """A column the votes need is missing: crowd-kit's KeyError, and a ValueError."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def _pandas(x: Any) -> Any:
    """The pandas module when x is a pandas Series, Index or DataFrame, else None."""
    pd = sys.modules.get("pandas")
    return pd if pd is not None and isinstance(x, (pd.Series, pd.Index, pd.DataFrame)) else None


def is_frame(x: Any) -> bool:
    pd = _pandas(x)
    return pd is not None and isinstance(x, pd.DataFrame)


def is_vote_frame(x: Any) -> bool:
    """A DataFrame of votes in long format: one with a task, worker or label column (any other
    DataFrame is a dense label matrix, read as numpy.asarray reads it)."""
    return is_frame(x) and any(isinstance(c, str) and c in COLUMNS for c in x.columns)


def frame_columns(data: Any, name: str = "data") -> Any:
    """data[["task", "worker", "label"]], checked: a TypeError for what is not a DataFrame, a
    MissingColumnError for a missing column, a ValueError for a repeated one."""
    if not is_frame(data):
        raise TypeError(f"{name} must be a pandas DataFrame with columns task, worker and label, got "
                        f"{type(data).__name__}")
    missing = [c for c in COLUMNS if c not in data.columns]
    if missing:
        raise MissingColumnError(f"{name} has no column {missing} (it has {list(data.columns)}); the answers need "
                                 f"columns task, worker and label")
    repeated = [c for c in COLUMNS if (data.columns == c).sum() > 1]
    if repeated:
        raise ValueError(f"{name} has more than one column named {repeated}; keep one of each")
    return data[list(COLUMNS)]


# ---------------------------------------------------------------- ids <-> codes


def _missing(v: Any) -> bool:
    """None, NaN, NaT, pandas.NA."""
    if v is None:
        return True
    try:
        return bool(v != v)
    except (TypeError, ValueError):  # pandas.NA: its truth value is ambiguous
        return True


def _where(values: Any, i: int) -> str:
    return f"row {i}" if _pandas(values) is not None else f"position {i}"


def _one_d(values: Any, name: str) -> np.ndarray:
    """values as a 1-D NumPy array; a list or tuple becomes an object array element by element
    (so that tuples stay ids and 1 and "1" stay apart)."""
    if isinstance(values, (list, tuple)):
        arr = np.empty(len(values), dtype=object)
        for i, v in enumerate(values):
            arr[i] = v
        return arr
    try:
        arr = np.asarray(values)
    except Exception as e:
        raise TypeError(f"{name} must be a 1-D array of ids, got {type(values).__name__}") from e
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one id per vote), got shape {arr.shape}")
    return arr


def _first_appearance(values: Any, name: str) -> Tuple[np.ndarray, Any]:
    """(codes, ids) with ids in order of first appearance; errors name the first bad value."""
    pd = _pandas(values)
    if pd is not None:
        try:
            codes, ids = pd.factorize(values)
        except TypeError as e:  # unhashable values (lists, dicts)
            raise TypeError(f"{name} must hold hashable values (ids, strings, numbers): {e}") from None
        codes = np.asarray(codes, dtype=np.int64)
        if (codes < 0).any():
            raise ValueError(f"{name} has a missing value (NaN / None) at {_where(values, int(np.argmax(codes < 0)))}; "
                             f"drop those rows first")
        return codes, ids
    arr = _one_d(values, name)
    if arr.dtype != object:
        if arr.dtype.kind in "fc" and np.isnan(arr).any() or arr.dtype.kind in "mM" and np.isnat(arr).any():
            at = int(np.argmax(np.isnan(arr) if arr.dtype.kind in "fc" else np.isnat(arr)))
            raise ValueError(f"{name} has a missing value ({arr[at]}) at position {at}; drop those votes first")
        ids, first, codes = np.unique(arr, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        rank = np.empty(order.size, np.int64)
        rank[order] = np.arange(order.size)
        return rank[codes.reshape(-1)], ids[order]
    index: Dict[Any, int] = {}
    codes_list = []
    for i, v in enumerate(arr.tolist()):
        try:
            codes_list.append(index.setdefault(v, len(index)))
        except TypeError:
            raise TypeError(f"{name} must hold hashable ids (strings, numbers, tuples): {type(v).__name__} "
                            f"{v!r} at position {i}") from None
    codes = np.asarray(codes_list, dtype=np.int64)
    ids = np.empty(len(index), dtype=object)
    for j, v in enumerate(index):
        if _missing(v):
            raise ValueError(f"{name} contains {v!r} at position {int(np.argmax(codes == j))}; ids must not be "
                             f"missing: drop those votes first")
        ids[j] = v
    return codes, ids


def _sort_order(ids: Any) -> Optional[np.ndarray]:
    """The order that sorts ids, or None when they cannot be sorted (mixed types)."""
    try:
        return np.argsort(np.asarray(ids, dtype=object), kind="stable")
    except TypeError:
        return None


def factorize(values: Any, name: str = "values", sort: bool = True) -> Tuple[np.ndarray, Any]:
    """``(codes, ids)``: the distinct values ``ids`` and, per value, its position among them
    (int64), so that ``ids[codes]`` gives the values back.

    ``ids`` are sorted when they can be sorted, else in order of first appearance; with
    ``sort=False`` always in order of first appearance. ``values`` is a 1-D array or list of
    hashable values (numbers, strings, tuples, ...), or a pandas Series / Index (then ``ids``
    is a pandas Index, as ``pandas.factorize`` gives it). Missing values (None, NaN, NaT,
    pandas.NA) are a ValueError naming the first position, unhashable ones a TypeError.
    """
    name = _arrays.check_str(name, "name", "the values' name for messages")
    sort = _arrays.check_bool(sort, "sort")
    codes, ids = _first_appearance(values, name)
    if sort:
        order = _sort_order(ids)
        if order is not None:
            rank = np.empty(order.size, np.int64)
            rank[order] = np.arange(order.size)
            codes, ids = rank[codes], ids.take(order)
    return codes, ids


def lookup(values: Any, ids: Any, name: str, what: str, fix: str) -> np.ndarray:
    """Codes of values among the fitted ``ids`` (int64); a ValueError names the first value
    that is not among them (``what``: "source", "label", ...) and ends with ``fix``."""
    codes, seen = _first_appearance(values, name)
    table = {v: i for i, v in enumerate(np.asarray(ids, dtype=object).tolist())}
    at = np.empty(len(seen), dtype=np.int64)
    for j, v in enumerate(np.asarray(seen, dtype=object).tolist()):
        c = table.get(v)
        if c is None:
            raise ValueError(f"{name} has {what} {v!r} at {_where(values, int(np.argmax(codes == j)))}, which the "
                             f"model was not fitted on; {fix}")
        at[j] = c
    return np.asarray(at[codes])


def _numpy_ids(ids: Any) -> np.ndarray:
    """Ids as a NumPy array (a pandas Index's values; strings as objects)."""
    return ids.to_numpy() if hasattr(ids, "to_numpy") else np.asarray(ids)


# ---------------------------------------------------------------- label matrices with ids


def _holds_ids(x: Any) -> bool:
    """Whether one part of a triplet holds ids (True) or indices (False: left to the integer
    checks as it always was)."""
    pd = _pandas(x)
    if pd is not None:
        return x.dtype.kind not in "iufb"
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "OUSMm"
    if isinstance(x, (list, tuple)):  # numbers (booleans too: refused as indices, as always) are indices
        return not all(isinstance(v, (numbers.Number, np.bool_)) for v in x)
    return False


@dataclass
class Coded:
    """A label matrix in an integer form, and the ids it carried."""

    L: Any                           # what collapse() reads
    items: Optional[np.ndarray]      # ids of the result's rows (None: rows are item indices)
    sources: Optional[np.ndarray]    # ids of the sources (None: sources are indices)
    classes: Optional[np.ndarray]    # label values of classes 0..k-1 (None: labels are class indices)
    frame: bool = False              # a DataFrame: results as pandas objects


_SOURCE_FIX = "drop its votes, or refit the model with them"


def _frame_classes(labels: Any, k: int, name: str) -> Tuple[np.ndarray, np.ndarray]:
    """(codes, classes) of a DataFrame's label column: a Categorical's categories are the
    classes in their order, else the distinct labels (sorted when sortable); k of them."""
    pd = _pandas(labels)
    if isinstance(labels.dtype, pd.CategoricalDtype):
        codes = np.asarray(labels.cat.codes, dtype=np.int64)
        if (codes < 0).any():
            raise ValueError(f"{name} has a missing value (NaN / None) at row {int(np.argmax(codes < 0))}; drop those "
                             f"rows first")
        classes, how = labels.cat.categories, "categories"
    else:
        codes, classes = factorize(labels, name)
        how = "distinct labels"
    if len(classes) != k:
        shown = ", ".join(repr(c) for c in list(classes)[:6]) + (", ..." if len(classes) > 6 else "")
        raise ValueError(f"{name} has {len(classes)} {how} ({shown}) but cardinality={k}; pass "
                         f"LabelModel(cardinality={len(classes)}), or make the label column a pandas Categorical "
                         f"whose categories are the {k} classes")
    return codes, _numpy_ids(classes)


def encode(L: Any, k: int, name: str, fitting: bool, source_ids: Optional[np.ndarray] = None,
           classes: Optional[np.ndarray] = None, n_sources: Optional[int] = None) -> Coded:
    """L in an integer form collapse() reads, with its ids. Fitting learns the source ids and
    (for a DataFrame) the classes; otherwise sources are looked up among the fitted
    ``source_ids`` (``0..n_sources-1`` for a model fitted on indices) and a DataFrame's labels
    among ``classes``. Any other L comes back as it is."""
    from . import _dask

    if _dask.is_dask_frame(L):  # the same, partition by partition (weaksup._dask.VoteFrame)
        if not fitting:
            assert n_sources is not None and classes is not None  # predicting: the fitted model's
            source_ids = source_ids if source_ids is not None else np.arange(n_sources)
        votes = _dask.VoteFrame(L, k, name, fitting, source_ids, classes)
        return Coded(votes, votes.items, votes.source_ids, votes.classes, frame=True)
    if is_vote_frame(L):
        data = frame_columns(L, name)
        if len(data) == 0:
            raise ValueError(f"{name} holds no votes; it needs at least one (task, worker, label) row")
        items, item_ids = factorize(data["task"], f"{name}'s task column")
        if fitting:
            sources, source_ids = factorize(data["worker"], f"{name}'s worker column")
            labels, classes = _frame_classes(data["label"], k, f"{name}'s label column")
        else:
            assert n_sources is not None and classes is not None  # predicting: the fitted model's
            known = source_ids if source_ids is not None else np.arange(n_sources)
            sources = lookup(data["worker"], known, f"{name}'s worker column", "worker", _SOURCE_FIX)
            labels = lookup(data["label"], classes, f"{name}'s label column", "label",
                            f"its classes are {list(classes)}")
        return Coded((items, sources, labels), _numpy_ids(item_ids), None if source_ids is None else
                     _numpy_ids(source_ids), _numpy_ids(classes), frame=True)
    if not (isinstance(L, tuple) and len(L) == 3):
        return Coded(L, None, None, None)
    items, sources, labels = L
    item_ids = None
    if _holds_ids(items):
        items, item_ids = factorize(items, f"{name}[0] (item ids)")
        item_ids = _numpy_ids(item_ids)
    if fitting:
        if _holds_ids(sources):
            sources, source_ids = factorize(sources, f"{name}[1] (source ids)")
            source_ids = _numpy_ids(source_ids)
    elif source_ids is not None or _holds_ids(sources):
        assert source_ids is not None or n_sources is not None  # predicting: the fitted model's
        known = source_ids if source_ids is not None else np.arange(n_sources or 0)
        sources = lookup(sources, known, f"{name}[1] (source ids)", "source", _SOURCE_FIX)
    return Coded((items, sources, labels), item_ids, source_ids, None)
