"""Label models: turn the votes of noisy sources (labeling functions, crowd workers) into
probabilistic labels, fitted by EM.

Every source j has a table ``P(vote | true class)`` of shape (k + 1, k): row 0 is abstaining,
row v + 1 voting class v. Two choices shape the table:

``confusion``
    ``"auto"`` (default): a source that has only ever voted one class (a keyword labeling
    function) gets one accuracy, its errors spread evenly over the other classes; a source that
    votes several classes (a crowd worker) gets its own table, pulled toward that symmetric one
    by ``confusion_strength`` pseudo-votes per class. ``"symmetric"``: one accuracy for every
    source. ``"full"``: a free table per source (Dawid-Skene).
``abstain``
    ``"ignored"`` (default): abstaining carries no evidence (as in a majority vote, and as for
    crowd workers who did not see an item): a vote counts by P(vote | class, voted); the
    tables still hold each class's voting rate in row 0.
    ``"observed"``: how often a source abstains may differ by class, so abstaining is evidence.
    ``confusion="full", abstain="ignored", class_prior="learned", smoothing=0`` is classic
    Dawid-Skene (crowd-kit's ``DawidSkene``).

Without labels, EM's classic failure is a feedback loop: a prolific, inaccurate source makes its
class look frequent, a learned prior then favours that class, which makes the source look
accurate, and the class absorbs the data (WRENCH TREC: 0.466 test accuracy, majority vote
0.608). The default breaks the loop: the class prior stays uniform during EM
(``class_prior="uniform"``; ``class_balance`` or ``Y_dev`` set it when known); each accuracy has a
Beta prior (``accuracy_prior=(0.7, 200)``: 200 pseudo-votes at 70%, so a source's weight moves
away from a majority vote's only as far as many overlapping votes support); accuracies stay
above 1/k (``above_random``), which removes the label-swapped fixed points; and a one-class
source's accuracy is estimated without the other one-class votes for its class
(``discount_copies``: look-alike rules do not vouch for each other; see ``_rules``).

``method="triplet"`` fits instead FlyingSquid's closed form (``weaksup.triplet``: symmetric
accuracies from the agreements of triplets of sources, abstaining independent of the class, no
iterations); ``init="triplet"`` starts EM from it rather than from majority vote.

Votes come as a dense (n, m) matrix, a SciPy sparse matrix, (item, source, label) triplets of
indices, triplets whose items or sources are ids, or crowd-kit's DataFrame (columns ``task``,
``worker``, ``label``) with any hashable ids and labels; ids come back with the predictions
(see :meth:`LabelModel.fit` and :mod:`weaksup._votes` for the order). Identical rows are
collapsed first (distinct vote patterns with counts), so an EM iteration costs O(distinct
votes), not O(n m). The E-step and the M-step's sums run in C++
(``threads=``, GIL released) or, for CuPy / torch CUDA input, on the GPU.
"""

from __future__ import annotations

import json
import numbers
import os
from typing import Any, Dict, List, Literal, Optional, Sequence, Tuple, Union, cast, overload

import numpy as np
import numpy.typing as npt

from . import _arrays
from . import _core
from . import _dask
from . import _votes
from ._votes import factorize  # noqa: F401  (public here: weaksup.labelmodel.factorize)

_CONFUSIONS = ("auto", "symmetric", "full")
_CLASS_PRIORS = ("uniform", "learned")
_ABSTAINS = ("observed", "ignored")
_METHODS = ("em", "triplet")
_INITS = ("majority", "triplet")
TIE_BREAKS = ("abstain", "random", "true-random", "first")
_TIE_TOLERANCE = 1e-5  # probabilities this close to the row's maximum tie (as in Snorkel)


# ---------------------------------------------------------------- inputs

# A model holds a (k + 1, k) table per source; its EM steps hold a few of them at once.
# More entries than this (8 bytes each: 1 GiB per table) are refused rather than left to fail
# allocating.
MAX_TABLE_ENTRIES = 2**27
# Items of sparse / triplet label matrices (whose row count is a number, not memory already
# held) are indices below 2^31.
MAX_ITEMS = _arrays._INT32_MAX
# Per-item arrays a call allocates beyond its input (for sparse and triplet input, whose item
# count is a number rather than memory already held: about _ITEM_BYTES per item for the hashes,
# the pattern table and the row offsets; for predictions, the (n, k) float64 probabilities and
# their per-pattern twin) may take at most this many bytes; more are refused with the estimate
# rather than left to fail allocating (raise it for bigger problems).
MAX_BYTES = 2**35
_ITEM_BYTES = 80


def _size(n_bytes: float) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.3g} {unit}"
    return f"{int(n_bytes)} bytes"


def _check_memory(name: str, n: int, k: int, per_item: int, predict: bool, votes: Optional[int] = None) -> None:
    """Refuse, before allocating, a call whose per-item arrays would pass MAX_BYTES: n items
    of `per_item` bytes each, plus (n, k) float64 results twice over when `predict`."""
    results = 16 * n * k if predict else 0
    need = n * per_item + results
    if need <= MAX_BYTES:
        return
    if votes is not None and n * per_item >= results:  # few votes on far-apart item indices
        raise ValueError(f"{name} has item indices up to {n - 1} for {votes} votes: the rows in between would take "
                         f"about {_size(need)}, more than MAX_BYTES ({_size(MAX_BYTES)}); items of sparse and "
                         f"triplet label matrices are row indices, so compact them "
                         f"(numpy.unique(items, return_inverse=True)) or pass them as ids (an object array, or a "
                         f"DataFrame with columns task, worker, label)")
    raise ValueError(f"{name} has {n} items and cardinality={k}: the (n_items, cardinality) float64 results would "
                     f"take about {_size(need)}, more than MAX_BYTES ({_size(MAX_BYTES)}); predict in chunks of rows, "
                     f"or check cardinality")


def _cardinality(value: Any) -> int:
    """Number of classes k: an integer from 2; the codes source * (k + 1) + label + 1 are int32."""
    return _arrays.check_int(value, "cardinality (the number of classes)", 2, _arrays._INT32_MAX - 1)


def _check_tables(sources: int, k: int, name: str = "L") -> None:
    """Refuse (m, k + 1, k) per-source tables past MAX_TABLE_ENTRIES with a ValueError."""
    entries = sources * (k + 1) * k
    if entries > MAX_TABLE_ENTRIES:
        raise ValueError(f"{name} has {sources} sources and cardinality={k}: the per-source tables would hold "
                         f"{sources} x {k + 1} x {k} = {entries} numbers ({_size(8 * entries)} of float64), more "
                         f"than the {MAX_TABLE_ENTRIES} supported (MAX_TABLE_ENTRIES); check cardinality (labels are "
                         f"classes 0..cardinality-1)")


def _accuracy_prior(value: Any) -> Optional[Tuple[float, float]]:
    """None, or (mean accuracy in (0, 1), strength in pseudo-votes >= 0)."""
    if value is None:
        return None
    pair = _arrays.check_numbers(value, "accuracy_prior", "(mean accuracy, strength in pseudo-votes)")
    if pair.shape != (2,):
        raise ValueError(f"accuracy_prior must be None or a pair (mean accuracy, strength), got {value!r}")
    mean = _arrays.check_real(float(pair[0]), "accuracy_prior[0] (the mean accuracy)", 0.0, 1.0)
    strength = _arrays.check_real(float(pair[1]), "accuracy_prior[1] (the strength in pseudo-votes)", 0.0)
    if not 0.0 < mean < 1.0:
        raise ValueError(f"accuracy_prior's mean accuracy must lie strictly between 0 and 1, got {mean}")
    return (mean, strength)


def _tie_break(value: Any) -> str:
    return _arrays.check_choice(value, "tie_break", {t: t for t in TIE_BREAKS})


def _seed(value: Any) -> int:
    return _arrays.check_int(value, "seed", 0)


def _is_triplets(L: Any) -> bool:
    return isinstance(L, tuple) and len(L) == 3


def _is_sparse(L: Any) -> bool:
    return hasattr(L, "tocsr") and hasattr(L, "nnz")


def _number(value: Any) -> str:
    """A label as the caller wrote it: whole numbers as integers, huge floats as floats."""
    value = value.item() if hasattr(value, "item") else value
    return str(int(value)) if isinstance(value, numbers.Integral) or abs(value) < 2**53 else repr(float(value))


def _check_whole(x: np.ndarray, name: str, meaning: str) -> None:
    """x must hold whole numbers: an integer dtype (not bool), or floats without NaN, inf or
    fractions."""
    if x.dtype == np.bool_ or x.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold {meaning}, got dtype {x.dtype}; convert it with {name}.astype(int)")
    if x.dtype.kind == "f":
        if not np.isfinite(x).all():
            raise ValueError(f"{name} contains NaN or inf; {meaning} must be whole numbers")
        if not (x == np.round(x)).all():
            raise ValueError(f"{name} contains non-integer values; {meaning} must be whole numbers")


def _first_outside(x: np.ndarray, name: str, low: int, high: int) -> Optional[str]:
    """``name[i, j] = value`` for the first entry of x outside [low, high], compared as stored
    (a float label is checked before any cast to integers); None when every entry lies inside."""
    lo: float = low
    hi: float = high
    if x.dtype.kind == "f":  # bounds as float64: a float16 array would cast 2^31 to inf (and warn)
        lo, hi = np.float64(low), np.float64(high)
    bad = (x < lo) | (x > hi)  # NumPy or CuPy
    if not bool(bad.any()):
        return None
    at = tuple(int(i) for i in np.unravel_index(int(bad.argmax()), x.shape))
    return f"{name}[{', '.join(str(i) for i in at)}] = {_number(x[at])}"


def _label_error(name: str, where: str, k: int) -> ValueError:
    return ValueError(f"{name} has a label outside -1..{k - 1}: {where}; labels are -1 (abstain) or a class "
                      f"0..cardinality-1, so check cardinality={k} or remap the labels")


def _integer_matrix(L: np.ndarray, name: str, k: int) -> np.ndarray:
    """A dense label matrix the C++ collapse reads: signed integers as they are (C++ checks
    their range), floats and unsigned integers range-checked here, then as int32."""
    _check_whole(L, name, "integer labels (-1 = abstain)")
    if L.dtype.kind == "i":
        return L
    bad = _first_outside(L, name, -1, k - 1)
    if bad is not None:
        raise _label_error(name, bad, k)
    return L.astype(np.int32)  # every value is in -1..k-1, k < 2^31


def collapse(L: Any, cardinality: int, *, n_sources: Optional[int] = None, threads: int = 0,
             name: str = "L") -> _core.VotePatterns:
    """Distinct vote patterns of a label matrix (see the module docstring), validated.

    ``L`` is a dense (n, m) integer matrix with -1 for abstain, a SciPy sparse matrix whose
    stored entries are votes (classes 0..k-1; -1 entries and entries not stored abstain), or
    long-format triplets ``(item, source, label)`` of equal-length 1-D integer arrays (items
    0..n-1, sources 0..m-1, one vote per item and source). Ids (DataFrames, id triplets) are
    read by :class:`LabelModel`, not here.
    """
    k = _cardinality(cardinality)
    threads = _arrays.check_threads(threads)
    name = _arrays.check_str(name, "name", "the label matrix's name for messages")
    if n_sources is not None:
        n_sources = _arrays.check_int(n_sources, "n_sources", 1, _arrays._INT32_MAX)
    return _collapse(L, k, n_sources, threads, name)


def _no_vote_frame(L: Any, name: str) -> None:
    """A TypeError for a DataFrame of votes where only integer label matrices are read."""
    if _votes.is_vote_frame(L):
        raise TypeError(f"{name} is a DataFrame of votes (columns task, worker, label): LabelModel reads it, but "
                        f"collapse, majority votes and source analysis take integer label matrices (dense, sparse or "
                        f"(item, source, label) index triplets); code the columns with "
                        f"weaksup.labelmodel.factorize first")


def _collapse(L: Any, k: int, n_sources: Optional[int], threads: int, name: str,
              ids: Tuple[Any, Any] = (None, None), predict: bool = False) -> _core.VotePatterns:
    """collapse() on checked arguments; `ids` (item ids, source ids) name the votes in
    messages, `predict` counts (n, k) results into the memory estimate."""
    _no_vote_frame(L, name)
    if _is_triplets(L):
        return _collapse_triplets(L, k, n_sources, threads, name, ids, predict)
    if _is_sparse(L):
        return _collapse_sparse(L, k, n_sources, threads, name, predict)
    if _dask.is_dask_array(L):  # merged across its chunks; its rows stay where they are (no row_pattern)
        return _dask.collapse(L, k, n_sources, threads, name)
    if _arrays.is_cuda_array(L):
        raise TypeError(f"{name} is a CUDA array; collapse() runs on the CPU: pass a NumPy array")
    L = _arrays.to_host(L, name)
    if L.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (n_items, n_sources) label matrix, got shape {L.shape}")
    if L.shape[0] == 0 or L.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {L.shape}); it needs at least one item and one source")
    if n_sources is not None and L.shape[1] != n_sources:
        raise ValueError(f"{name} has {L.shape[1]} sources (columns) but the model was fitted on {n_sources}")
    _check_codes(L.shape[1], k, name)
    _check_memory(name, L.shape[0], k, 0, predict)  # the collapse's own arrays scale with L, held already
    L = _integer_matrix(L, name, k)
    try:
        return _core.collapse_dense(L, k, threads)
    except ValueError as e:  # C++ names the first bad entry of a signed integer matrix: L[i, j] = v
        raise _label_error(name, str(e).replace("L[", f"{name}[", 1), k) from None


def _check_codes(sources: int, k: int, name: str) -> None:
    if sources * (k + 1) > _arrays._INT32_MAX:
        raise ValueError(f"{name}: n_sources * (cardinality + 1) must stay below 2^31, got {sources} sources and "
                         f"cardinality={k}")


def _shown(ids: Any, i: int) -> str:
    """Item or source i as the caller named it: its id (repr), or the index."""
    return str(i) if ids is None else repr(np.asarray(ids[i : i + 1], dtype=object)[0])


def _vote_lists(items: np.ndarray, sources: np.ndarray, labels: np.ndarray, n: int, m: int, k: int,
                threads: int, name: str, ids: Tuple[Any, Any] = (None, None)) -> _core.VotePatterns:
    """Collapses votes given as (item, source, label) arrays (checked); abstains (-1) are dropped."""
    keep = labels >= 0
    items, sources, labels = items[keep], sources[keep], labels[keep]
    order = np.lexsort((sources, items))
    items, sources, labels = items[order], sources[order], labels[order]
    if items.size > 1:
        dup = (items[1:] == items[:-1]) & (sources[1:] == sources[:-1])
        if dup.any():
            at = int(np.argmax(dup))
            raise ValueError(f"{name} has two votes of source {_shown(ids[1], int(sources[at]))} on item "
                             f"{_shown(ids[0], int(items[at]))}; keep one vote per (item, source)")
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(items, minlength=n), out=offsets[1:])
    codes = (sources * (k + 1) + labels + 1).astype(np.int32)
    return _core.collapse_codes(offsets, codes, m, k, threads)


def _integer_vector(x: Any, name: str, low: int, high: int, fix: str,
                    meaning: str = "integer labels") -> npt.NDArray[np.int64]:
    """A 1-D array of whole numbers in [low, high] (checked before any cast) as int64; `fix`
    ends the message for a value outside."""
    arr = _arrays.to_host(x, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    _check_whole(arr, name, meaning)
    bad = _first_outside(arr, name, low, high)
    if bad is not None:
        raise ValueError(f"{bad} is outside {low}..{high}; {fix}")
    return arr.astype(np.int64)


_LABEL_FIX = "labels are -1 (abstain) or a class 0..cardinality-1, so check cardinality={k} or remap the labels"
_INDEX_FIX = ("{what} are indices from 0; pass ids as an object array (numpy.array(ids, dtype=object)) or a "
              "DataFrame, or map them with numpy.unique(..., return_inverse=True)")


def _collapse_triplets(L: Tuple[Any, Any, Any], k: int, n_sources: Optional[int], threads: int, name: str,
                       ids: Tuple[Any, Any] = (None, None), predict: bool = False) -> _core.VotePatterns:
    items = _integer_vector(L[0], f"{name}[0]", 0, MAX_ITEMS - 1, _INDEX_FIX.format(what="items"), "indices")
    if n_sources is None:
        high, fix = _arrays._INT32_MAX // (k + 1) - 1, _INDEX_FIX.format(what="sources") + \
            "; n_sources * (cardinality + 1) must stay below 2^31"
    else:
        high, fix = n_sources - 1, f"the model was fitted on {n_sources} sources"
    sources = _integer_vector(L[1], f"{name}[1]", 0, high, fix, "indices")
    labels = _integer_vector(L[2], f"{name}[2]", -1, k - 1, _LABEL_FIX.format(k=k))
    if not (items.size == sources.size == labels.size):
        raise ValueError(f"{name} = (item, source, label) must be arrays of one length, got "
                         f"{items.size}, {sources.size}, {labels.size}")
    if items.size == 0:
        raise ValueError(f"{name} holds no votes; it needs at least one (item, source, label)")
    m = int(sources.max()) + 1 if n_sources is None else n_sources
    _check_codes(m, k, name)
    n = int(items.max()) + 1
    _check_memory(name, n, k, _ITEM_BYTES, predict, items.size)
    return _vote_lists(items, sources, labels, n, m, k, threads, name, ids)


def _collapse_sparse(L: Any, k: int, n_sources: Optional[int], threads: int, name: str,
                     predict: bool = False) -> _core.VotePatterns:
    if len(L.shape) != 2:
        raise ValueError(f"{name} must be a 2-D (n_items, n_sources) sparse matrix, got shape {L.shape}")
    n, m = L.shape
    if n == 0 or m == 0:
        raise ValueError(f"{name} is empty (shape {L.shape}); it needs at least one item and one source")
    if n > MAX_ITEMS:
        raise ValueError(f"{name} has {n} rows; a sparse label matrix may have at most 2^31 - 1 items")
    if n_sources is not None and m != n_sources:
        raise ValueError(f"{name} has {m} sources (columns) but the model was fitted on {n_sources}")
    _check_codes(m, k, name)
    _check_memory(name, n, k, _ITEM_BYTES, predict, int(L.nnz))
    coo = L.tocoo()
    labels = _integer_vector(coo.data, f"{name}.data", -1, k - 1, _LABEL_FIX.format(k=k))
    return _vote_lists(coo.row.astype(np.int64), coo.col.astype(np.int64), labels, n, m, k, threads, name)


def _gold(Y: Any, n: int, k: int, name: str) -> npt.NDArray[np.int64]:
    Y = _arrays.to_host(Y, name)
    if Y.ndim != 1 or Y.shape[0] != n:
        raise ValueError(f"{name} must be a 1-D array of {n} labels (one per item), got shape {Y.shape}")
    return _integer_vector(Y, name, 0, k - 1, "gold labels must be classes of the model")


def _class_balance(class_balance: Any, Y_dev: Any, k: int) -> Optional[npt.NDArray[np.float64]]:
    if class_balance is not None:
        p = _arrays.check_numbers(class_balance, "class_balance", f"{k} class probabilities")
        if p.shape != (k,):
            raise ValueError(f"class_balance must have {k} entries (one per class), got shape {p.shape}")
        if not np.isfinite(p).all() or (p <= 0).any():
            raise ValueError("class_balance must be finite and positive for every class")
        if abs(p.sum() - 1.0) > 1e-6:
            raise ValueError(f"class_balance must sum to 1, got {p.sum():.6g}; divide it by its sum")
        return p
    if Y_dev is not None:
        Y = _arrays.to_host(Y_dev, "Y_dev")
        if Y.ndim != 1 or Y.size == 0:
            raise ValueError(f"Y_dev must be a non-empty 1-D array of gold labels, got shape {Y.shape}")
        Y = _gold(Y, Y.shape[0], k, "Y_dev")
        return (np.bincount(Y, minlength=k) + 1.0) / (Y.size + k)  # add-one: no class gets zero
    return None


# ---------------------------------------------------------------- the model


def _to_numpy(x: Any, name: str = "array") -> npt.NDArray[Any]:
    """A host copy of a CuPy / torch CUDA array, a Dask array computed; any other array (or
    list, Series) as NumPy."""
    if _dask.is_dask_array(x):
        return np.asarray(x.compute())
    if _arrays.is_cuda_array(x):
        return cast(npt.NDArray[Any], x.cpu().numpy() if _arrays._torch_tensor(x) else x.get())
    return _arrays.to_host(x, name)


def _path(path: Any, name: str = "path") -> Any:
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError(f"{name} must be a file path (str, bytes or os.PathLike), got "
                        f"{_arrays._describe(path)}") from None


_FLOOR = 1e-10


def _ratio(num: Any, den: Any, xp: Any) -> Any:
    """num / den with both floored, so that 0 / 0 (an unused source) gives 1/2, not NaN."""
    return xp.maximum(num, _FLOOR) / xp.maximum(den, 2 * _FLOOR)


def _log(x: Any, xp: Any) -> Any:
    return xp.log(xp.maximum(x, 1e-300))


def _spread(accuracy: Any, k: int, xp: Any) -> Any:
    """(m, k, k) P(vote | class, voted) of sources with one accuracy each (m,): the rest of each
    column spread evenly over the other classes."""
    m = accuracy.shape[0]
    given = xp.broadcast_to(((1.0 - accuracy) / (k - 1))[:, None, None], (m, k, k)).copy()
    idx = xp.arange(k)
    given[:, idx, idx] = accuracy[:, None]
    return given


def _symmetric_tables(accuracy: Any, coverage: Any, xp: Any) -> Any:
    """(m, k + 1, k) tables of one accuracy per source (m,), scaled by the coverage (m, k) =
    P(voting | class); row 0, abstaining, takes the rest."""
    m, k = coverage.shape
    theta = xp.empty((m, k + 1, k))
    theta[:, 0, :] = 1.0 - coverage
    theta[:, 1:, :] = _spread(accuracy, k, xp) * coverage[:, None, :]
    return theta


def _init_accuracy(value: Any, sources: int) -> npt.NDArray[np.float64]:
    """fit's init_accuracy: one accuracy in [0, 1] per source (a single number for all)."""
    accuracy = _arrays.check_numbers(value, "init_accuracy", "a number in [0, 1] or one per source")
    if accuracy.ndim != 1 or accuracy.size not in (1, sources):
        raise ValueError(f"init_accuracy must be a number or one per source ({sources}), got shape "
                         f"{np.shape(value)}")
    if not np.isfinite(accuracy).all() or (accuracy < 0).any() or (accuracy > 1).any():
        raise ValueError(f"init_accuracy must hold numbers in [0, 1], got {value!r}")
    return np.broadcast_to(accuracy, (sources,)).copy()


def _clip(value: Any, k: int, name: str = "clip") -> float:
    """fit's clip: a bound in [0, 1 / k] (k vote probabilities of at least clip sum to 1 at most)."""
    return _arrays.check_real(value, f"{name} (P(vote | y) is clamped into [{name}, 1 - {name}], so at most "
                                     f"1 / cardinality)", 0.0, 1.0 / k)


def _clip_tables(theta: Any, clip: float, xp: Any) -> Any:
    """fit's clip: P(vote | y) into [clip, 1 - clip]; P(abstain | y) = 1 - their sum, kept >= 0
    by taking any excess from the column's largest vote probability."""
    k = theta.shape[2]
    votes = xp.clip(theta[:, 1:, :], clip, 1.0 - clip)
    excess = xp.maximum(votes.sum(axis=1) - 1.0, 0.0)                             # (m, k)
    largest = xp.arange(k)[None, :, None] == votes.argmax(axis=1)[:, None, :]     # (m, vote, k)
    votes = votes - largest * excess[:, None, :]
    out = xp.empty_like(theta)
    out[:, 1:, :] = votes
    out[:, 0, :] = xp.maximum(1.0 - votes.sum(axis=1), 0.0)
    return out


class LabelModel:
    """EM label model over a label matrix (see the module docstring for the model).

    Parameters
    ----------
    cardinality : number of classes k (>= 2).
    confusion : ``"auto"``, ``"symmetric"`` or ``"full"``.
    abstain : ``"ignored"`` or ``"observed"``.
    smoothing : Dirichlet pseudo-count added to every count of the M-step (0 = maximum
        likelihood, as crowd-kit).
    accuracy_prior : ``(mean, strength)`` of the Beta prior on each source's accuracy, in
        pseudo-votes, or None (no prior).
    confusion_strength : pseudo-votes per class pulling a ``"auto"`` source's own table toward
        its symmetric table.
    above_random : keep every accuracy above 1/k.
    class_prior : ``"uniform"`` (held fixed during EM) or ``"learned"`` (re-estimated each
        iteration, as crowd-kit); ``fit``'s ``class_balance`` / ``Y_dev`` override both.
    discount_copies : estimate each one-class source's accuracy from posteriors without the
        other one-class votes for its class (not with ``confusion="full"``).
    max_iter, tol : EM stops after ``max_iter`` iterations or when the mean log-likelihood
        per item changes by less than ``tol``.
    threads : CPU threads (0 = all cores).
    seed : seeds ``tie_break="random"`` in :meth:`predict`.
    method : ``"em"`` (default) or ``"triplet"``: FlyingSquid's closed-form estimate
        (``weaksup.triplet``; needs 3 sources or more, confusion ``"symmetric"``; its tables
        treat abstaining as independent of the class whatever ``abstain`` says; the class
        balance is ``class_balance`` / ``Y_dev``, else uniform; smoothing, max_iter and tol
        are not used).
    init : EM's start (method ``"em"``): ``"majority"`` (default: majority-vote posteriors)
        or ``"triplet"`` (the posteriors of the triplet method's tables).

    Notes
    -----
    After :meth:`fit`: ``conditional_probs_`` (m, k + 1, k), ``implied_probs_`` (m, k + 1, k)
    the same tables as the fitted posteriors count them on the fitted items (expected votes of
    each class over its expected number of items: what the data say of each source under the
    fit, whatever form ``conditional_probs_`` takes; a one-class source's
    ``conditional_probs_`` spread its errors over classes it never votes, here those are 0;
    clamped by ``fit``'s ``clip`` as ``conditional_probs_`` are), ``class_balance_`` (k,),
    ``accuracies_`` (m,), ``history_`` (mean log-likelihood per iteration; empty for
    method ``"triplet"``), ``n_iter_``, and the ids: ``classes_`` (k,) the label of each class
    (``0..k-1`` unless fitted on a DataFrame), ``source_ids_`` (m,) the id of each source (None
    when fitted on source indices), ``item_ids_`` the id of each row of the fitted data's
    probabilities (None when its items were indices).
    """

    def __init__(self, cardinality: int = 2, *, confusion: str = "auto", abstain: str = "ignored",
                 smoothing: float = 1.0, accuracy_prior: Optional[Tuple[float, float]] = (0.7, 200.0),
                 confusion_strength: float = 3.0, above_random: bool = True, class_prior: str = "uniform",
                 discount_copies: bool = True, max_iter: int = 100, tol: float = 1e-6, threads: int = 0,
                 seed: int = 0, method: str = "em", init: str = "majority"):
        self.cardinality = _cardinality(cardinality)
        self.confusion = _arrays.check_choice(confusion, "confusion", {c: c for c in _CONFUSIONS})
        self.abstain = _arrays.check_choice(abstain, "abstain", {a: a for a in _ABSTAINS})
        self.smoothing = _arrays.check_real(smoothing, "smoothing", 0.0)
        self.accuracy_prior = _accuracy_prior(accuracy_prior)
        self.confusion_strength = _arrays.check_real(confusion_strength, "confusion_strength", 0.0)
        self.above_random = _arrays.check_bool(above_random, "above_random")
        self.class_prior = _arrays.check_choice(class_prior, "class_prior", {c: c for c in _CLASS_PRIORS})
        self.discount_copies = _arrays.check_bool(discount_copies, "discount_copies")
        self.max_iter = _arrays.check_int(max_iter, "max_iter", 1)
        self.tol = _arrays.check_real(tol, "tol", 0.0)
        self.threads = _arrays.check_threads(threads)
        self.seed = _seed(seed)
        self.method = _arrays.check_choice(method, "method", {m: m for m in _METHODS})
        self.init = _arrays.check_choice(init, "init", {i: i for i in _INITS})
        if self.method == "triplet" and self.confusion == "full":
            raise ValueError("method='triplet' estimates one accuracy per source (confusion='symmetric'); for full "
                             "confusion tables use method='em' with init='triplet'")
        # Set by fit (None before): float64 tables (m, k + 1, k), and the ids (see the class doc).
        self.conditional_probs_: Optional[npt.NDArray[np.float64]] = None
        self.implied_probs_: Optional[npt.NDArray[np.float64]] = None  # None also when loaded from an older file
        self.classes_: Optional[npt.NDArray[Any]] = None
        self.source_ids_: Optional[npt.NDArray[Any]] = None
        self.item_ids_: Optional[npt.NDArray[Any]] = None

    # -- M-step: tables from expected counts (xp = numpy or cupy)

    def _tables(self, vote_class: Any, class_total: Any, n: float, fixed_prior: Any, xp: Any) -> Tuple[Any, Any]:
        k, a = self.cardinality, self.smoothing
        counts = vote_class.reshape(-1, k + 1, k)
        m = counts.shape[0]
        votes = counts[:, 1:, :]                      # (m, vote, class)
        voted = votes.sum(axis=1)                     # (m, class): expected votes per class
        # Ratios of counts that may be zero (smoothing=0) are floored at _FLOOR, as crowd-kit does.
        # Each class's voting rate is estimated either way; with abstain="ignored" the E-step
        # does not use it (see _weights).
        coverage = _ratio(voted + a, class_total[None, :] + 2 * a, xp)
        # A source voting on every item has coverage 1, but the two sums may round apart:
        # P(abstain) = 1 - coverage must not come out as -2e-16.
        coverage = xp.minimum(coverage, 1.0)
        if self.confusion == "full":
            given = xp.maximum(votes + a, _FLOOR)
            if a == 0:  # as crowd-kit: only the answers a source ever gave share its probability
                seen = votes.sum(axis=2, keepdims=True) > 0
                given = xp.where(seen | ~seen.any(axis=1, keepdims=True), given, 0.0)
            given = given / given.sum(axis=1, keepdims=True)
        else:
            given = self._symmetric(votes, voted, xp)
            if self.confusion == "auto":
                # A source that has voted several classes (a crowd worker) gets its own table,
                # pulled toward its symmetric one by confusion_strength pseudo-votes per class; one
                # that only ever votes one class (a keyword LF) cannot tell its table's rows apart
                # (free rows would all say "votes c"), so it keeps the symmetric table.
                several = (votes.sum(axis=2) > 0).sum(axis=1) > 1
                own = xp.maximum(votes + self.confusion_strength * given, _FLOOR)
                own = own / own.sum(axis=1, keepdims=True)
                given = xp.where(several[:, None, None], own, given)
        theta = xp.empty((m, k + 1, k))
        theta[:, 0, :] = 1.0 - coverage
        theta[:, 1:, :] = given * coverage[:, None, :]
        if fixed_prior is not None:
            prior = fixed_prior
        elif self.class_prior == "learned":
            prior = (class_total + a) / (n + k * a)
        else:
            prior = xp.full(k, 1.0 / k)
        return theta, prior

    def _symmetric(self, votes: Any, voted: Any, xp: Any) -> Any:
        """(m, k, k) P(vote | class, voted) with one accuracy per source and errors spread evenly.

        The accuracy is the share of a source's votes that EM finds correct, plus ``smoothing``
        (add-one) and the ``accuracy_prior`` pseudo-votes: a source with few votes that overlap
        others keeps about the prior's accuracy (its votes count as in a majority vote) until the
        data say otherwise. ``above_random`` keeps it above 1/k, which rules out EM's
        label-swapped fixed points (a source "right" by always being wrong).
        """
        k, a = self.cardinality, self.smoothing
        correct = xp.trace(votes, axis1=1, axis2=2)
        mean, strength = self.accuracy_prior if self.accuracy_prior is not None else (0.5, 0.0)
        accuracy = _ratio(correct + a + strength * mean, voted.sum(axis=1) + 2 * a + strength, xp)
        if self.above_random:
            accuracy = xp.maximum(accuracy, 1.0 / k + 1e-3)
        accuracy = xp.minimum(accuracy, 1.0 - 1e-9)
        return _spread(accuracy, k, xp)

    def _rules(self, vote_class: Any, xp: Any) -> Any:
        """(m,) bool: the sources that have only ever voted one class (keyword rules), or None
        when ``discount_copies`` is off, no source is one, or tables are free (``"full"``).

        Rules voting the same class are often near-copies of one another (two keywords of one
        topic), so their agreement is weak evidence; counted as independent, a cluster of
        inaccurate look-alikes outvotes an accurate rule of another class and EM learns the
        cluster as accurate. A rule's accuracy is therefore estimated from posteriors that leave
        out the other rules' votes for its class (its own vote and every other vote stay). Under
        the model's independence this is still consistent: a posterior given part of the
        evidence averages, over the items the rule voted on, to the same P(class | vote).
        """
        if not self.discount_copies or self.confusion == "full":
            return None
        k = self.cardinality
        given = vote_class.reshape(-1, k + 1, k)[:, 1:, :].sum(axis=2)  # (m, vote): votes cast
        rules = (given > 0).sum(axis=1) == 1
        return rules if bool(rules.sum() > 1) else None

    def _weights(self, theta: Any, xp: Any, abstains: Optional[bool] = None) -> Tuple[Any, Any]:
        """E-step weights per vote, and the base every item gets: when abstains count
        (abstain="observed", or abstains=True), log P(vote | y) relative to abstaining and the
        all-abstain log-likelihood; otherwise log P(vote | y, voted) and no base."""
        log_theta = _log(theta, xp)
        if self.abstain == "observed" if abstains is None else abstains:
            base = log_theta[:, 0, :].sum(axis=0)
            weights = log_theta - log_theta[:, :1, :]
        else:
            base = xp.zeros(theta.shape[2])
            # P(voted | y) as the sum of the vote rows: 1 - P(abstain) loses digits for rare voters
            weights = log_theta - _log(theta[:, 1:, :].sum(axis=1, keepdims=True), xp)
        weights[:, 0, :] = 0.0
        return xp.ascontiguousarray(weights.reshape(-1, theta.shape[2])), base

    # -- fitting

    def fit_predict_proba(self, L: Any, Y_dev: Any = None, class_balance: Any = None) -> Any:
        """``fit(L, ...)`` then ``predict_proba(L)``, collapsing L once."""
        coded = _votes.encode(L, self.cardinality, "L", fitting=True)
        votes = self._vote_patterns(coded, predict=True)
        self._fit_balanced(votes, *self._prior(class_balance, Y_dev, coded))
        self._set_ids(coded)
        return self._proba_result(self._posteriors(votes), coded)

    def _vote_patterns(self, coded: Any, n_sources: Optional[int] = None, predict: bool = False) -> Any:
        L = coded.L
        if _dask.is_dask_array(L) or isinstance(L, _dask.VoteFrame):
            return _DaskVotes(L, self.cardinality, n_sources, self.threads)
        if _arrays.is_cuda_array(L):
            from ._labelmodel_gpu import GpuVotes

            return GpuVotes(L, self.cardinality, "L", n_sources=n_sources)
        patterns = _collapse(L, self.cardinality, n_sources, self.threads, "L", (coded.items, coded.sources), predict)
        return _CpuVotes(patterns, self.threads)

    def _coded(self, L: Any) -> Any:
        """L to predict on, in an integer form, with its ids (looked up among the fitted ones)."""
        self._check_fitted()
        return _votes.encode(L, self.cardinality, "L", fitting=False, source_ids=self.source_ids_,
                             classes=self.classes_, n_sources=self.n_sources_)

    def _prior(self, class_balance: Any, Y_dev: Any, coded: Any) -> Tuple[Optional[np.ndarray], int]:
        """The class balance to hold, and how many dev labels it comes from (0: none)."""
        if class_balance is None and Y_dev is not None and coded.classes is not None:  # labels of a DataFrame
            Y_dev = _votes.lookup(Y_dev, coded.classes, "Y_dev", "label", f"its classes are {list(coded.classes)}")
        prior = _class_balance(class_balance, Y_dev, self.cardinality)
        return prior, (len(Y_dev) if class_balance is None and Y_dev is not None else 0)

    def _fit_balanced(self, votes: Any, prior: Optional[np.ndarray], dev_labels: int, **options: Any) -> None:
        """_fit_votes, with a dev set's class frequencies (``prior``, from ``dev_labels`` labels)
        first shrunk toward the class marginal of a fit without them, as far as the dev set's
        sampling noise warrants (empirical Bayes): class c keeps the share tau2 / (tau2 +
        f_c (1 - f_c) / dev_labels) of its dev frequency f_c, tau2 being how far the label-free
        marginal misses the balance, estimated as the mean squared gap between the two less the
        dev frequencies' own variance. A few hundred dev labels that agree with the label-free
        marginal within their noise move it little; many labels, or a marginal far off, win."""
        if dev_labels:
            assert prior is not None  # the dev labels' frequencies
            self._fit_votes(votes, None, **options)
            marginal = _to_numpy(votes.marginal(*self._score_terms(votes.xp))[0]) / votes.rows
            noise = prior * (1.0 - prior) / dev_labels
            gap = max(float(np.mean((prior - marginal) ** 2 - noise)), 0.0)
            share = gap / (gap + noise)
            prior = share * prior + (1.0 - share) * marginal
            prior = prior / prior.sum()
        self._fit_votes(votes, prior, **options)

    def _set_ids(self, coded: Any) -> None:
        self.classes_ = np.arange(self.cardinality) if coded.classes is None else coded.classes
        self.source_ids_ = coded.sources
        self.item_ids_ = coded.items

    def fit(self, L: Any, Y_dev: Any = None, class_balance: Any = None, *, balance: bool = True,
            init_accuracy: Any = None, clip: float = 0.0) -> "LabelModel":
        """Fit on a label matrix: a dense (n, m) matrix, a SciPy sparse matrix or (item,
        source, label) triplets of indices (see :func:`collapse`); triplets whose items or
        sources are ids (object, string or datetime arrays, lists that are not all numbers); or
        crowd-kit's DataFrame with columns ``task``, ``worker``, ``label`` (one row per answer,
        any hashable ids and labels; other columns are ignored).

        Ids are numbered as :func:`factorize` numbers them: sorted when they can be sorted,
        else by first appearance. A DataFrame's labels become the classes 0..k-1 in that order
        (``classes_``; a Categorical label column gives its categories, in their order, so that
        a class may have no answer): exactly ``cardinality`` of them. Sources become the rows of
        ``conditional_probs_`` in that order (``source_ids_``), items the rows of the
        probabilities (``item_ids_``).

        ``class_balance`` (k,) fixes the class prior and holds the posterior class marginal over
        the training items at it, so that one prolific, inaccurate source cannot absorb a class.
        ``Y_dev`` (gold labels of a small dev set, as labels of the DataFrame when fitting on one)
        does the same with its add-one class frequencies, shrunk toward the class marginal of a
        fit without them as far as the dev set's sampling noise warrants (two fits; see
        README "How the label models work"). Without either, the prior is ``class_prior``'s (uniform by
        default). Items where every source abstains get the prior (with ``abstain="ignored"``).

        Keyword-only options (their defaults give the fit above):

        balance : False uses ``class_balance`` / ``Y_dev``'s prior as P(Y) as it is, without
            holding the posterior marginal at it (Snorkel's meaning of a class balance).
        init_accuracy : a number in [0, 1] or one per source: EM starts from tables with these
            accuracies (errors spread evenly over the other classes, the majority-vote start's
            coverage) instead of from the majority vote (checked, then unused by method="triplet").
        clip : in [0, 1 / k]: the fitted P(vote v | y) (v a class) are clamped into
            [clip, 1 - clip] after the last iteration, P(abstain | y) being what remains (a
            column whose clamped votes would sum past 1 takes the excess from its largest one).
        """
        balance = _arrays.check_bool(balance, "balance")
        clip = _clip(clip, self.cardinality)
        coded = _votes.encode(L, self.cardinality, "L", fitting=True)
        self._fit_balanced(self._vote_patterns(coded), *self._prior(class_balance, Y_dev, coded), balance=balance,
                           init_accuracy=init_accuracy, clip=clip)
        self._set_ids(coded)
        return self

    def _fit_votes(self, votes: Any, prior: Any, *, balance: bool = True, init_accuracy: Any = None,
                   clip: float = 0.0, start: Any = None, known: Any = None, monitor: Any = None,
                   prior_floor: Any = None) -> None:
        """EM on collapsed votes from the start's expected counts (``init``); ``balance``,
        ``init_accuracy`` and ``clip`` as in :meth:`fit`.

        Keyword-only hooks (for :mod:`weaksup.compat.crowdkit`; the defaults give plain EM):
        ``known`` = (vote_class, class_total), the expected counts of items whose class is
        known, held out of ``votes``: added to the start's and to every E-step's (and counted
        in the number of items). ``start`` = (vote_class, class_total) for the first M-step, in
        place of the start's (``known`` included). ``monitor(weights, bias, vote_class,
        class_total, log_likelihood)`` is called after every E-step with its inputs and outputs
        (without ``known``) and replaces the ``tol`` rule: EM stops when it returns True. The
        E-steps take the prior as at least ``prior_floor`` (a number or one per class).
        """
        xp, k = votes.xp, self.cardinality
        _check_tables(votes.sources, k)
        accuracy = None if init_accuracy is None else _init_accuracy(init_accuracy, votes.sources)
        if self.method == "triplet":  # closed form: no EM to start
            return self._fit_triplet(votes, prior, clip)
        known_votes: Any
        known_total: Any
        known_votes, known_total = (0.0, 0.0) if known is None else known
        n = float(votes.rows) + (0.0 if known is None else float(known_total.sum()))
        fixed = None if prior is None else xp.asarray(prior)
        if start is None:
            vote_class, class_total = self._start(votes, fixed)
            if accuracy is not None:
                theta, p = self._tables(vote_class, class_total, n, fixed, xp)
                weights, base = self._weights(_symmetric_tables(xp.asarray(accuracy), 1.0 - theta[:, 0, :], xp), xp)
                vote_class, class_total, _ = votes.statistics(weights, base + _log(p, xp))
            vote_class, class_total = vote_class + known_votes, class_total + known_total
        else:
            vote_class, class_total = start
        rules = self._rules(vote_class, xp)
        bias = xp.zeros(k)
        history: List[float] = []
        for _ in range(self.max_iter):
            theta, p = self._tables(vote_class, class_total, n, fixed, xp)
            weights, base = self._weights(theta, xp)
            log_prior = base + _log(p if prior_floor is None else xp.maximum(p, prior_floor), xp)
            if fixed is not None and balance:
                bias = _balance(votes, weights, log_prior, bias, fixed * n - known_total)
            vote_class, class_total, log_likelihood = votes.statistics(weights, log_prior + bias)
            if rules is not None:  # rules' accuracies from posteriors without their look-alikes
                alone = votes.rule_statistics(weights, log_prior + bias, rules).reshape(-1, k + 1, k)
                vote_class = vote_class.reshape(-1, k + 1, k)
                vote_class = xp.where(rules[:, None, None], alone, vote_class).reshape(-1, k)
            history.append(float(log_likelihood) / n)
            stop = monitor is not None and monitor(weights, log_prior + bias, vote_class, class_total, log_likelihood)
            vote_class, class_total = vote_class + known_votes, class_total + known_total
            if stop or (monitor is None and len(history) > 1 and abs(history[-1] - history[-2]) < self.tol):
                break
        theta, p = self._tables(vote_class, class_total, n, fixed, xp)
        if clip > 0:
            theta = _clip_tables(theta, clip, xp)
        self._set(theta, p, bias, votes.sources, history)
        self._count_implied(votes, clip)

    def _fit_triplet(self, votes: Any, prior: Optional[np.ndarray], clip: float) -> None:
        from . import triplet

        theta, p = triplet.tables(votes.host_patterns(), prior)
        if clip > 0:
            theta = _clip_tables(theta, clip, np)
        self._set(theta, p, np.zeros(self.cardinality), votes.sources, [])
        self._count_implied(votes, clip)

    def _count_implied(self, votes: Any, clip: float) -> None:
        """implied_probs_ (see the class doc): one more E-step under the fitted tables."""
        xp, k = votes.xp, self.cardinality
        vote_class, class_total, _ = votes.statistics(*self._score_terms(xp))
        table = vote_class.reshape(-1, k + 1, k) / xp.maximum(class_total, _FLOOR)[None, None, :]
        table[:, 0, :] = xp.maximum(1.0 - table[:, 1:, :].sum(axis=1), 0.0)
        if clip > 0:
            table = _clip_tables(table, clip, xp)
        self.implied_probs_ = np.ascontiguousarray(_to_numpy(table))

    def _start(self, votes: Any, fixed: Any) -> Tuple[Any, Any]:
        """EM's first expected counts: under majority vote, or under the triplet method's tables."""
        if self.init == "majority":
            vote_class, class_total = votes.majority_statistics(fixed)
            return vote_class, class_total
        from . import triplet

        xp = votes.xp
        theta, p = triplet.tables(votes.host_patterns(), None if fixed is None else _to_numpy(fixed))
        weights, base = self._weights(xp.asarray(theta), xp)
        vote_class, class_total, _ = votes.statistics(weights, base + _log(xp.asarray(p), xp))
        return vote_class, class_total

    def _set(self, theta: Any, prior: Any, bias: Any, sources: int, history: List[float]) -> None:
        asnumpy = _to_numpy
        self.conditional_probs_ = np.ascontiguousarray(asnumpy(theta))
        self.class_balance_ = np.asarray(asnumpy(prior), dtype=np.float64)
        self.balance_bias_ = np.asarray(asnumpy(bias), dtype=np.float64)
        self.n_sources_ = int(sources)
        self.history_: npt.NDArray[np.float64] = np.asarray(history, dtype=np.float64)
        self.n_iter_ = len(history)

    def _check_fitted(self) -> npt.NDArray[np.float64]:
        """conditional_probs_ of a fitted model; a ValueError before fit."""
        if self.conditional_probs_ is None:
            raise ValueError("this LabelModel is not fitted yet; call fit(L) first")
        return self.conditional_probs_

    def _classes(self) -> npt.NDArray[Any]:
        """classes_ of a fitted model (set with its tables)."""
        assert self.classes_ is not None
        return self.classes_

    @property
    def accuracies_(self) -> npt.NDArray[np.float64]:
        """P(vote is the true class | the source voted), averaged over the class balance."""
        return _accuracies(self._check_fitted(), self.class_balance_)

    # -- prediction

    def predict_proba(self, L: Any, *, abstains: bool = True) -> Any:
        """P(true class | votes), (n, k) float64, in the caller's array type; for a DataFrame,
        a DataFrame indexed by task (sorted as :func:`factorize` sorts) with one column per
        class (``classes_``). Rows of id triplets follow the same order of their item ids
        (``factorize(L[0])[1]``). Sources (and a DataFrame's labels) must be among those the
        model was fitted on: a ValueError names the first that is not.

        ``abstains=False`` leaves the abstains out even when the model observes them: P(Y |
        the votes cast) ∝ P(Y) prod over the sources that voted of P(vote | Y, voted), so that
        an item without votes gets the prior (what ``abstain="ignored"`` always does)."""
        abstains = _arrays.check_bool(abstains, "abstains")
        coded = self._coded(L)
        votes = self._vote_patterns(coded, self.n_sources_, predict=True)
        return self._proba_result(self._posteriors(votes, abstains), coded)

    def _posteriors(self, votes: Any, abstains: bool = True) -> Any:
        return votes.posteriors(*self._score_terms(votes.xp, abstains))

    def _score_terms(self, xp: Any, abstains: bool = True) -> Tuple[Any, Any]:
        """The fitted model's (weights per vote, bias per class): a pattern's posterior is the
        softmax of its votes' weights summed, plus the bias."""
        weights, base = self._weights(xp.asarray(self.conditional_probs_), xp, None if abstains else False)
        return weights, base + _log(xp.asarray(self.class_balance_), xp) + xp.asarray(self.balance_bias_)

    def _proba_result(self, probs: Any, coded: Any) -> Any:
        if not coded.frame:
            return probs
        if isinstance(coded.L, _dask.VoteFrame):  # a Dask DataFrame of votes: one, lazily
            return coded.L.frame_of(probs, self.classes_)
        import pandas as pd

        return pd.DataFrame(probs, index=pd.Index(coded.items, name="task"),
                            columns=pd.Index(self.classes_, name="label"))

    def _label_result(self, preds: np.ndarray, coded: Any) -> Any:
        """A DataFrame's predictions: its labels (NaN where abstained) in a Series named
        agg_label (crowd-kit's name) indexed by task."""
        if isinstance(coded.L, _dask.VoteFrame):
            return coded.L.frame_of(preds, None)
        import pandas as pd

        labels = pd.Index(self.classes_).take(preds, allow_fill=True, fill_value=np.nan)
        return pd.Series(labels, index=pd.Index(coded.items, name="task"), name="agg_label")

    def _predict(self, L: Any, tie_break: str) -> Tuple[Any, Any, Any]:
        coded = self._coded(L)
        probs = self._posteriors(self._vote_patterns(coded, self.n_sources_, predict=True))
        return _labels_of(probs, tie_break, self.seed), probs, coded

    def predict(self, L: Any, return_probs: bool = False, tie_break: str = "random") -> Any:
        """Most probable class per item (int64); ties within 1e-5 follow ``tie_break``:
        ``"abstain"`` (-1), ``"random"`` (seeded by ``seed``), ``"true-random"`` or ``"first"``.
        For a DataFrame, a Series of labels (``classes_``; NaN where abstained) indexed by task,
        and the probabilities as a DataFrame."""
        return_probs = _arrays.check_bool(return_probs, "return_probs")
        tie_break = _tie_break(tie_break)
        preds, probs, coded = self._predict(L, tie_break)
        if coded.frame:
            preds, probs = self._label_result(preds, coded), self._proba_result(probs, coded)
        return (preds, probs) if return_probs else preds

    def score(self, L: Any, Y: Any, metrics: Sequence[str] = ("accuracy",), tie_break: str = "abstain") -> Dict[str, float]:
        """Metrics of the predictions against gold labels ``Y``: accuracy, coverage, f1 (k = 2),
        f1_micro, f1_macro. Abstained predictions count as wrong for accuracy. For a DataFrame,
        ``Y`` holds labels (``classes_``): a Series indexed by task (every task of L needs one),
        or an array in the predictions' order."""
        metrics = _check_metrics(metrics, METRICS)
        tie_break = _tie_break(tie_break)
        preds, _, coded = self._predict(L, tie_break)
        preds = _to_numpy(preds)
        if coded.frame:
            Y = self._frame_gold(Y, coded)
        Y = _gold(_to_numpy(Y, "Y"), preds.shape[0], self.cardinality, "Y")
        return classification_metrics(Y, preds, self.cardinality, metrics)

    def _frame_gold(self, Y: Any, coded: Any) -> npt.NDArray[np.int64]:
        """Gold labels of a DataFrame's tasks as classes, in the predictions' order."""
        pd = _votes._pandas(Y)
        if pd is not None and isinstance(Y, pd.Series):
            if Y.index.has_duplicates:
                raise ValueError("Y has more than one gold label for a task; keep one per task")
            tasks = pd.Index(coded.items)
            absent = ~tasks.isin(Y.index)
            if absent.any():
                raise ValueError(f"Y has no gold label for task {tasks[int(np.argmax(absent))]!r}; give one for "
                                 f"every task of L (or score the tasks that have one)")
            Y = Y.reindex(tasks)
        classes = self._classes()
        return _votes.lookup(Y, classes, "Y", "label", f"its classes are {list(classes)}")

    # -- persistence

    def save(self, path: str) -> None:
        """Write the fitted model as a NumPy .npz file (no pickle), with ``classes_`` and
        ``source_ids_`` when they are strings, numbers or dates (a ValueError for other ids)."""
        path = _path(path)
        theta = self._check_fitted()
        config = dict(cardinality=self.cardinality, confusion=self.confusion, abstain=self.abstain,
                      smoothing=self.smoothing, accuracy_prior=self.accuracy_prior,
                      confusion_strength=self.confusion_strength, above_random=self.above_random,
                      class_prior=self.class_prior, discount_copies=self.discount_copies, max_iter=self.max_iter,
                      tol=self.tol, seed=self.seed, method=self.method, init=self.init)
        ids: Dict[str, npt.NDArray[Any]] = {"classes": _savable_ids(self._classes(), "classes_")}
        if self.source_ids_ is not None:
            ids["source_ids"] = _savable_ids(self.source_ids_, "source_ids_")
        with open(path, "wb") as f:
            if self.implied_probs_ is not None:
                ids["implied_probs"] = self.implied_probs_
            np.savez(f, config=np.asarray(json.dumps(config)), conditional_probs=theta,
                     class_balance=self.class_balance_, balance_bias=self.balance_bias_, history=self.history_,
                     **ids)  # type: ignore[arg-type]  # numpy's stub types **kwds like its bool allow_pickle

    @classmethod
    def load(cls, path: str, threads: int = 0) -> "LabelModel":
        """Read a model written by :meth:`save` (OSError when the file cannot be read,
        ValueError when it holds no such model)."""
        threads = _arrays.check_threads(threads)
        path = _path(path)
        with open(path, "rb") as f:
            try:
                return cls._read(f, threads)
            except Exception as e:  # whatever a damaged or foreign file makes NumPy, zipfile or json raise
                raise ValueError(f"{path!r} holds no label model written by LabelModel.save: "
                                 f"{type(e).__name__}: {e}") from e

    @classmethod
    def _read(cls, f: Any, threads: int) -> "LabelModel":
        with np.load(f, allow_pickle=False) as z:
            config = json.loads(str(z["config"]))
            if not isinstance(config, dict):
                raise ValueError("its config is not a dict")
            model = cls(**config, threads=threads)
            arrays = {key: np.asarray(z[key], dtype=np.float64)
                      for key in ("conditional_probs", "class_balance", "balance_bias", "history")}
            ids = {key: z[key] for key in ("classes", "source_ids") if key in z.files}  # older files: none
            implied = np.asarray(z["implied_probs"], dtype=np.float64) if "implied_probs" in z.files else None
        theta, k = arrays["conditional_probs"], model.cardinality
        if theta.ndim != 3 or theta.shape[0] == 0 or theta.shape[1:] != (k + 1, k):
            raise ValueError(f"conditional_probs has shape {theta.shape}, not (n_sources, {k + 1}, {k})")
        if arrays["class_balance"].shape != (k,) or arrays["balance_bias"].shape != (k,) or \
                arrays["history"].ndim != 1:
            raise ValueError("class_balance, balance_bias or history has the wrong shape")
        if not all(np.isfinite(a).all() for a in arrays.values()) or (theta < -1e-12).any() or \
                (theta > 1 + 1e-12).any():
            raise ValueError("its tables hold NaN, infinity or numbers outside [0, 1]")
        theta = np.clip(theta, 0.0, 1.0)  # files saved before fit clipped coverage may hold -2e-16
        model._set(theta, arrays["class_balance"], arrays["balance_bias"], theta.shape[0], list(arrays["history"]))
        if implied is not None:
            if implied.shape != theta.shape or not ((implied >= 0) & (implied <= 1)).all():
                raise ValueError(f"implied_probs has shape {implied.shape} or numbers outside [0, 1]: it must be "
                                 f"like conditional_probs {theta.shape}")
            model.implied_probs_ = implied
        for key, size in (("classes", k), ("source_ids", theta.shape[0])):
            if key in ids:
                v = ids[key]
                if v.ndim != 1 or v.shape[0] != size or np.unique(v).size != size:
                    raise ValueError(f"{key} has shape {v.shape}, not ({size},) distinct ids")
                ids[key] = v.astype(object) if v.dtype.kind in "US" else v
        model.classes_ = ids.get("classes", np.arange(k))
        model.source_ids_ = ids.get("source_ids")
        return model


def _savable_ids(ids: npt.NDArray[Any], name: str) -> npt.NDArray[Any]:
    """Ids as an array np.savez writes without pickle: strings, integers or floats."""
    if ids.dtype != object:
        return ids
    values = ids.tolist()
    for kind, dtype in ((str, str), (int, np.int64), (float, np.float64)):
        if all(isinstance(v, kind) and not isinstance(v, bool) for v in values):
            try:
                return np.array(values, dtype=dtype)
            except OverflowError:  # integers past int64
                break
    odd = next((v for v in values if not isinstance(v, (str, int, float)) or isinstance(v, bool)), values[0])
    raise ValueError(f"the model's {name} hold ids such as {odd!r} ({type(odd).__name__}) that save() cannot write "
                     f"without pickle: it writes ids that are all strings, all integers (int64) or all floats; "
                     f"map the ids to strings before fitting, or pickle the model")


def _accuracies(theta: npt.NDArray[np.float64], prior: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """(m,) P(vote is the true class | voted) of tables (m, k + 1, k) under the class prior."""
    k = theta.shape[2]
    correct = theta[:, 1 + np.arange(k), np.arange(k)]  # (m, k)
    voted = 1.0 - theta[:, 0, :]
    return cast(npt.NDArray[np.float64], (correct * prior).sum(axis=1) / np.maximum((voted * prior).sum(axis=1), 1e-300))


def _balance(votes: Any, weights: Any, log_prior: Any, bias: Any, target: Any) -> Any:
    """The bias b that makes sum_i softmax(score_i + b) equal `target` (counts per class).

    Newton's method on the convex F(b) = sum_i logsumexp(score_i + b) - target . b, whose
    gradient is the marginal minus the target and whose Hessian the marginal's Jacobian;
    backtracking keeps every step a descent. F is flat along b + c, so steps are taken
    orthogonal to that direction (least squares).
    """
    xp = votes.xp
    marginal, hessian, lse = votes.marginal(weights, log_prior + bias)
    value = float(lse) - float(target @ bias)
    scale = float(target.sum())
    for _ in range(30):
        gradient = marginal - target
        if float(xp.abs(gradient).max()) <= 1e-10 * scale:
            break
        step = np.linalg.lstsq(_to_numpy(hessian), -_to_numpy(gradient), rcond=None)[0]
        step = xp.asarray(step - step.mean())
        t = 1.0
        while True:
            trial = bias + t * step
            m2, h2, lse2 = votes.marginal(weights, log_prior + trial)
            v2 = float(lse2) - float(target @ trial)
            if v2 <= value + 1e-12 * abs(value) or t < 1e-6:
                break
            t *= 0.5
        bias, marginal, hessian, value = trial, m2, h2, v2
    return bias


_F64 = npt.NDArray[np.float64]


class _CpuVotes:
    """Vote patterns on the CPU: the EM loop's view of the C++ kernels."""

    xp = np

    def __init__(self, patterns: Any, threads: int):
        self.patterns = patterns
        self.threads = threads
        self.rows = patterns.rows
        self.sources = patterns.sources

    def majority_statistics(self, fixed_prior: Optional[npt.NDArray[np.float64]]) -> Tuple[_F64, _F64]:
        """EM's start: expected counts under majority-vote fractions (the prior, or uniform,
        for items without votes)."""
        k = self.patterns.classes
        empty = fixed_prior if fixed_prior is not None else np.full(k, 1.0 / k)
        return _core.majority_statistics(self.patterns, np.ascontiguousarray(empty, dtype=np.float64), self.threads)

    def host_patterns(self) -> Any:
        """The distinct vote patterns on the CPU (what the triplet method reads)."""
        return self.patterns

    def statistics(self, weights: _F64, bias: _F64) -> Tuple[_F64, _F64, float]:
        return _core.em_statistics(self.patterns, weights, np.ascontiguousarray(bias), self.threads)

    def marginal(self, weights: _F64, bias: _F64) -> Tuple[_F64, _F64, float]:
        return _core.class_marginal(self.patterns, weights, np.ascontiguousarray(bias), self.threads)

    def rule_statistics(self, weights: _F64, bias: _F64, rules: npt.NDArray[np.bool_]) -> _F64:
        return _core.rule_statistics(self.patterns, weights, np.ascontiguousarray(bias), rules.astype(np.uint8),
                                     self.threads)

    def posteriors(self, weights: _F64, bias: _F64) -> _F64:
        q = _core.pattern_scores(self.patterns, weights, np.ascontiguousarray(bias), True, self.threads)
        # Patterns are numbered by first occurrence: as many as rows means one per row, in order.
        return q if self.patterns.patterns == self.rows else q[self.patterns.row_pattern]


class _DaskVotes(_CpuVotes):
    """A Dask label matrix or DataFrame of votes (weaksup._dask), for fitting: the chunks'
    vote patterns are merged into one _CpuVotes when they take at most _dask.MERGE_BYTES
    (the fit is then NumPy's bit for bit); beyond that, every statistic EM asks for is a
    sum over the chunks, collapsed again each time (map-reduce; equal to rounding).
    Posteriors are lazy, chunk by chunk."""

    def __init__(self, L: Any, k: int, n_sources: Optional[int], threads: int):
        self.source: Any = L if isinstance(L, _dask.VoteFrame) else _dask.ArraySource(L, k, n_sources)
        self.k, self.threads = k, threads
        self.rows, self.sources = self.source.rows, self.source.sources
        self._merged: Any = None
        self._chunks: Optional[List[Any]] = None  # the chunks' patterns, in map-reduce mode

    def _collapse(self) -> None:
        if self._merged is not None or self._chunks is not None:
            return
        nodes, size = self.source.chunk_patterns()
        if size <= _dask.MERGE_BYTES:
            self._merged = _dask.merge_tree(nodes, self.sources, self.k, self.threads)
        else:
            self._chunks = nodes

    @property
    def patterns(self) -> Any:
        self._collapse()
        if self._merged is None:
            raise ValueError(f"L's distinct vote patterns take more than weaksup._dask.MERGE_BYTES "
                             f"({_size(_dask.MERGE_BYTES)}) and are not merged in one process, which method='triplet' "
                             f"and init='triplet' need; fit with the default method and init, or raise MERGE_BYTES")
        return self._merged

    @patterns.setter
    def patterns(self, value: Any) -> None:
        self._merged = value

    def _summed(self, method: str, *args: Any) -> Any:
        self._collapse()
        if self._chunks is None:
            return getattr(super(), method)(*args)
        return _dask.sum_over_patterns(self._chunks, method, *args)

    def majority_statistics(self, fixed_prior: Optional[npt.NDArray[np.float64]]) -> Tuple[_F64, _F64]:
        return cast(Tuple[_F64, _F64], self._summed("majority_statistics", fixed_prior))

    def statistics(self, weights: _F64, bias: _F64) -> Tuple[_F64, _F64, float]:
        return cast(Tuple[_F64, _F64, float], self._summed("statistics", weights, np.ascontiguousarray(bias)))

    def marginal(self, weights: _F64, bias: _F64) -> Tuple[_F64, _F64, float]:
        return cast(Tuple[_F64, _F64, float], self._summed("marginal", weights, np.ascontiguousarray(bias)))

    def rule_statistics(self, weights: _F64, bias: _F64, rules: npt.NDArray[np.bool_]) -> _F64:
        return cast(_F64, self._summed("rule_statistics", weights, np.ascontiguousarray(bias), rules))

    def posteriors(self, weights: _F64, bias: _F64) -> Any:
        return self.source.posteriors(weights, np.ascontiguousarray(bias))


def rule_statistics(offsets: Any, codes: Any, counts: Any, weights: Any, bias: Any, rules: Any, k: int,
                    xp: Any) -> Any:
    """What ``_core.rule_statistics`` computes, vectorized over the votes with NumPy or CuPy
    (the CUDA path's version): vote patterns as CSR ``offsets`` (P + 1), ``codes``, ``counts``
    (P); ``rules`` (m,) bool. Returns (m (k + 1), k) expected vote counts, each vote of a rule
    counted with its pattern's posterior without the other rules' votes for the same class."""
    def scatter_add(out: Any, at: Any, values: Any) -> None:
        if xp is np:
            np.add.at(out, at, values)
        else:
            import cupyx

            cupyx.scatter_add(out, at, values)

    out = xp.zeros((weights.shape[0], k))
    if codes.shape[0] == 0:
        return out
    codes = codes.astype(xp.int64)
    pattern = xp.searchsorted(offsets, xp.arange(codes.shape[0]), side="right") - 1
    rows = weights[codes]                                   # (votes, k)
    score = xp.zeros((counts.shape[0], k))
    scatter_add(score, pattern, rows)
    score += bias
    mine = rules[codes // (k + 1)]
    codes, pattern, rows = codes[mine], pattern[mine], rows[mine]
    groups, at = xp.unique(pattern * k + codes % (k + 1) - 1, return_inverse=True)  # (pattern, class)
    together = xp.zeros((groups.shape[0], k))
    scatter_add(together, at.ravel(), rows)
    alone = score[pattern] - together[at.ravel()] + rows
    alone = xp.exp(alone - alone.max(axis=1, keepdims=True))
    alone *= (counts[pattern] / alone.sum(axis=1))[:, None]
    scatter_add(out, codes, alone)
    return out


# ---------------------------------------------------------------- predictions and metrics


def probabilities_to_labels(probs: Any, tie_break: str = "random", seed: int = 0) -> Any:
    """Argmax per row of (n, k) probabilities, with classes within 1e-5 of the maximum tied.

    ``tie_break``: ``"abstain"`` gives -1, ``"random"`` a choice seeded by ``seed``
    (reproducible), ``"true-random"`` an unseeded choice, ``"first"`` the lowest class.
    ``probs`` may be any real (n, k) array without NaN or infinity (k >= 1), NumPy, torch or
    CuPy; the labels come back in the same array type.
    """
    tie_break = _tie_break(tie_break)
    seed = _seed(seed)
    if _arrays.is_cuda_array(probs):
        return _labels_of(probs, tie_break, seed)
    p = _arrays.to_host(probs, "probs")
    _arrays.real_dtype(p.dtype, "probs")
    if p.ndim != 2 or p.shape[1] == 0:
        raise ValueError(f"probs must be a 2-D (n_items, n_classes) array with at least one class, got shape "
                         f"{p.shape}")
    if not np.isfinite(p).all():
        raise ValueError("probs contains NaN or infinity; pass finite probabilities")
    return _arrays.like_caller(_labels_of(p, tie_break, seed), probs)


def _labels_of(probs: Any, tie_break: str, seed: int) -> Any:
    """probabilities_to_labels on checked arguments (NumPy, CuPy, torch CUDA or Dask probabilities)."""
    if _dask.is_dask_array(probs):
        return _dask.labels(probs, tie_break, seed)
    if _arrays._torch_tensor(probs):  # torch CUDA: decide on a CuPy view, answer in torch
        import cupy
        import torch

        return torch.from_dlpack(_labels_of(cupy.from_dlpack(probs), tie_break, seed))
    xp: Any = np
    if not isinstance(probs, np.ndarray):
        import cupy

        xp = cupy
    tied = probs >= probs.max(axis=1, keepdims=True) - _TIE_TOLERANCE
    if tie_break == "first":
        return xp.argmax(tied, axis=1).astype(xp.int64)
    if tie_break == "abstain":
        return xp.where(tied.sum(axis=1) > 1, -1, xp.argmax(tied, axis=1)).astype(xp.int64)
    rng = np.random.default_rng(seed if tie_break == "random" else None)
    noise = xp.asarray(rng.random(tuple(probs.shape)))
    return xp.argmax(tied * (1.0 + noise), axis=1).astype(xp.int64)


METRICS = ("accuracy", "coverage", "f1", "f1_micro", "f1_macro")


def _check_metrics(metrics: Any, allowed: Sequence[str]) -> List[str]:
    """A list of metric names among `allowed` (a single name is a list of one)."""
    if isinstance(metrics, str):
        metrics = [metrics]
    try:
        names = list(metrics)
    except TypeError:
        raise TypeError(f"metrics must be a list of metric names ({', '.join(allowed)}), got "
                        f"{_arrays._describe(metrics)}") from None
    return [_arrays.check_choice(name, "metrics", {a: a for a in allowed}) for name in names]


def classification_metrics(Y: np.ndarray, preds: np.ndarray, k: int, metrics: Sequence[str]) -> Dict[str, float]:
    """accuracy, coverage (share of non-abstained predictions), f1 (binary, class 1), f1_micro,
    f1_macro of predictions (classes 0..k-1, -1 = abstain) against gold classes ``Y``."""
    k = _cardinality(k)
    metrics = _check_metrics(metrics, METRICS)
    Y = _integer_vector(Y, "Y", 0, k - 1, "gold labels must be classes of the model")
    preds = _integer_vector(preds, "preds", -1, k - 1, "predictions are classes or -1 (abstain)")
    if Y.size == 0 or Y.shape != preds.shape:
        raise ValueError(f"Y and preds must be non-empty and of one length, got {Y.size} and {preds.size}")
    out: Dict[str, float] = {}
    for metric in metrics:
        if metric == "accuracy":
            out[metric] = float((preds == Y).mean())
        elif metric == "coverage":
            out[metric] = float((preds >= 0).mean())
        elif metric in ("f1", "f1_macro", "f1_micro"):
            # Classes that occur in neither Y nor preds score 0: only the ones present are counted
            # (k may be huge), and the macro mean divides by all k.
            present = np.union1d(Y, preds[preds >= 0])
            classes = [1] if metric == "f1" else present
            f1_sum = 0.0
            tp_all = fp_all = fn_all = 0
            for c in classes:
                tp = int(((preds == c) & (Y == c)).sum())
                fp = int(((preds == c) & (Y != c)).sum())
                fn = int(((preds != c) & (Y == c)).sum())
                tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
                f1_sum += 2 * tp / max(2 * tp + fp + fn, 1)
            if metric == "f1_micro":
                out[metric] = 2 * tp_all / max(2 * tp_all + fp_all + fn_all, 1)
            else:
                out[metric] = float(f1_sum / (1 if metric == "f1" else k))
        else:
            raise ValueError(f"unknown metric {metric!r}; use accuracy, coverage, f1, f1_micro or f1_macro")
    return out
