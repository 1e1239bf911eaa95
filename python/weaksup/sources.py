"""Baselines and diagnostics over a label matrix: majority vote and per-source statistics.

Everything here works on the distinct vote patterns of ``L`` (:func:`weaksup.labelmodel.collapse`:
any dense (n, m) matrix with -1 for abstain, SciPy sparse matrix or (item, source, label)
triplets), so the cost is O(distinct votes) plus O(n) to spread per-pattern results back to
the items, with NumPy vector operations only.

``majority_vote_proba`` / ``majority_vote``
    Vote fractions per item and the most voted class. With ``weights`` (one non-negative
    number per source) every vote counts its source's weight: the *weighted majority vote*.
    A common choice is the log-odds of each source's accuracy,
    ``w_j = log(a_j / (1 - a_j)) + log(k - 1)`` (the weight a symmetric-noise naive Bayes model
    gives a vote), clipped at 0 so that sources no better than chance are ignored, for example
    from ``LabelModel(...).fit(L).accuracies_`` or :meth:`SourceAnalysis.empirical_accuracies`.

``SourceAnalysis``
    Coverage, overlaps, conflicts, polarities and accuracies against gold labels per source,
    with the definitions of Snorkel's ``LFAnalysis`` (``snorkel.labeling.analysis``, 0.10.0):
    the same numbers, bit for bit, for the same matrix (``weaksup.compat.snorkel.LFAnalysis``
    is a thin layer over this class).
"""

from __future__ import annotations

import functools
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from . import _arrays, _core, _dask
from .labelmodel import (MAX_TABLE_ENTRIES, _cardinality, _collapse, _integer_vector, _is_sparse, _is_triplets,
                         _labels_of, _no_vote_frame, _seed, _tie_break, _check_tables, _check_whole, collapse,
                         _first_outside)

__all__ = ["SourceAnalysis", "majority_vote", "majority_vote_proba", "infer_cardinality"]


# ---------------------------------------------------------------- helpers


def infer_cardinality(L: Any) -> int:
    """Number of classes implied by the largest label in ``L`` (max label + 1, at least 2)."""
    _no_vote_frame(L, "L")
    if _is_triplets(L):
        labels, name = L[2], "L[2]"
    elif _is_sparse(L):
        labels, name = L.tocoo().data, "L.data"
    elif _dask.is_dask_array(L):  # the largest label, a reduction over the chunks
        L = _dask.rows_chunked(L, "L")
        _check_whole(np.zeros(0, L.dtype), "L", "integer labels (-1 = abstain)")
        labels, name = np.asarray([L.min().compute(), L.max().compute()]), "L"
    else:
        labels, name = L, "L"
    labels = _arrays.to_host(labels, name)
    _check_whole(labels, name, "integer labels (-1 = abstain)")
    bad = _first_outside(labels, name, -1, _arrays._INT32_MAX - 2)
    if bad is not None:
        raise ValueError(f"{bad} is not a label: labels are -1 (abstain) or classes 0..k-1 (k < 2^31); remap the "
                         f"labels or pass cardinality")
    return max(2, int(labels.max()) + 1) if labels.size else 2


def _gold_labels(Y: Any, n: int) -> np.ndarray:
    """Gold labels as int64 (n,): whole numbers >= -1 (-1 = unknown); (n, 1) is flattened."""
    Y = _arrays.to_host(Y, "Y")
    if Y.ndim == 2 and Y.shape[1] == 1:
        Y = Y[:, 0]
    if Y.ndim != 1 or Y.shape[0] != n:
        raise ValueError(f"Y must be a 1-D array of {n} gold labels (one per item), got shape {Y.shape}")
    return _integer_vector(Y, "Y", -1, _arrays._INT32_MAX, "gold labels are classes 0..k-1 or -1 (unknown)")


def _vote_weights_table(weights: Optional[Any], m: int, k: int) -> np.ndarray:
    """W (m * (k + 1), k) with W[source * (k + 1) + label + 1, label] = weight of the source."""
    _check_tables(m, k)
    if weights is None:
        w = np.ones(m)
    else:
        w = _arrays.check_numbers(weights, "weights", f"one non-negative number per source ({m})")
        if w.shape != (m,):
            raise ValueError(f"weights must have one entry per source ({m}), got shape {w.shape}")
        if not np.isfinite(w).all() or (w < 0).any():
            raise ValueError("weights must be finite and >= 0 (clip log-odds weights at 0)")
        with np.errstate(over="ignore"):
            total = w.sum()
        if not np.isfinite(total):
            raise ValueError("weights are so large that their sum overflows float64; scale them down")
    W = np.zeros((m, k + 1, k))
    idx = np.arange(k)
    W[:, idx + 1, idx] = w[:, None]
    return W.reshape(m * (k + 1), k)


def _vote_counts(patterns: Any, weights: Optional[Any], threads: int) -> np.ndarray:
    """(P, k) weighted vote counts per distinct pattern."""
    k, m = patterns.classes, patterns.sources
    W = _vote_weights_table(weights, m, k)
    return _core.pattern_scores(patterns, W, np.zeros(k), False, threads)


def _per_row(patterns: Any, per_pattern: np.ndarray) -> np.ndarray:
    return np.asarray(per_pattern[patterns.row_pattern])


# ---------------------------------------------------------------- majority vote


def majority_vote_proba(L: Any, cardinality: int, weights: Optional[Any] = None, *, threads: int = 0) -> np.ndarray:
    """(n, k) float64 fractions of the (weighted) votes per class; uniform 1/k for items with
    no vote (or whose votes all weigh 0). ``weights``: (m,) non-negative weight per source."""
    k = _cardinality(cardinality)
    threads = _arrays.check_threads(threads)
    if _dask.is_dask_array(L):  # lazily, chunk by chunk
        chunk_fractions = functools.partial(majority_vote_proba, cardinality=k, weights=weights, threads=1)
        return _dask.per_chunk(L, k, chunk_fractions, "L")  # type: ignore[no-any-return]
    p = _collapse(L, k, None, threads, "L", predict=True)  # (n, k) fractions: counted into the memory estimate
    counts = _vote_counts(p, weights, threads)
    total = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(total > 0, counts / total, 1.0 / k)
    return _per_row(p, frac)


def majority_vote(L: Any, cardinality: int, weights: Optional[Any] = None, tie_break: str = "random",
                  seed: int = 0, *, threads: int = 0) -> np.ndarray:
    """(n,) int64 most voted class per item (weighted by ``weights`` if given).

    Classes whose vote fractions lie within 1e-5 of the row's maximum tie (items with no
    votes tie over every class); ties follow ``tie_break`` as in
    :func:`weaksup.labelmodel.probabilities_to_labels`: ``"random"`` (seeded by ``seed``),
    ``"true-random"``, ``"abstain"`` (-1) or ``"first"``.
    """
    tie_break, seed = _tie_break(tie_break), _seed(seed)
    labels: np.ndarray = _labels_of(majority_vote_proba(L, cardinality, weights, threads=threads), tie_break, seed)
    return labels


# ---------------------------------------------------------------- analysis


class SourceAnalysis:
    """Per-source statistics of a label matrix, with Snorkel's ``LFAnalysis`` definitions.

    Parameters
    ----------
    L : any form :func:`weaksup.labelmodel.collapse` accepts (n items, m sources).
    cardinality : number of classes k; by default the largest label + 1 (at least 2).

    Notes
    -----
    An item *overlaps* when at least two sources vote on it and *conflicts* when two
    sources vote different classes. Per source (arrays of length m), as fractions of all n
    items: :meth:`coverage` (the source votes), :meth:`overlaps` (it votes and another source
    votes too), :meth:`conflicts` (it votes and another source votes a different class).
    """

    def __init__(self, L: Any, cardinality: Optional[int] = None, *, threads: int = 0):
        k = infer_cardinality(L) if cardinality is None else _cardinality(cardinality)
        p = collapse(L, k, threads=threads)
        # A Dask L's rows stay in its chunks: statistics against gold labels sum over them.
        self._chunked = _dask.rows_chunked(L, "L") if _dask.is_dask_array(L) else None
        self.cardinality = k
        self.n_items = int(p.rows)
        self.n_sources = int(p.sources)
        self.patterns = p
        P = int(p.patterns)
        offsets = np.asarray(p.offsets, dtype=np.int64)
        codes = np.asarray(p.codes, dtype=np.int64)
        n_votes = np.diff(offsets)                                    # collapse stores no abstains
        pattern_of_vote = np.repeat(np.arange(P, dtype=np.int64), n_votes)
        source, label = np.divmod(codes, k + 1)
        label -= 1
        self._counts = np.asarray(p.counts, dtype=np.float64)        # rows per pattern
        self._n_votes = n_votes                                       # votes per pattern
        self._pattern_of_vote = pattern_of_vote
        self._source = source
        self._label = label
        # A pattern conflicts when one of its votes differs from its first vote (O(votes), whatever k).
        first_label = np.repeat(label[offsets[:-1][n_votes > 0]], n_votes[n_votes > 0])
        self._overlapped = n_votes > 1
        self._conflicted = np.bincount(pattern_of_vote[label != first_label], minlength=P) > 0
        self._rows_of_vote = self._counts[pattern_of_vote]            # rows behind each stored vote

    # -- per-item aggregates

    def _item_fraction(self, mask: np.ndarray) -> float:
        return float(self._counts[mask].sum() / self.n_items)

    def label_coverage(self) -> float:
        """Fraction of items with at least one vote."""
        return self._item_fraction(self._n_votes > 0)

    def label_overlap(self) -> float:
        """Fraction of items with at least two votes."""
        return self._item_fraction(self._overlapped)

    def label_conflict(self) -> float:
        """Fraction of items with votes for at least two different classes."""
        return self._item_fraction(self._conflicted)

    # -- per-source counts (exact integers held in float64)

    def _per_source(self, vote_weights: np.ndarray) -> np.ndarray:
        return np.bincount(self._source, weights=vote_weights, minlength=self.n_sources)

    def vote_counts(self) -> np.ndarray:
        """(m,) number of items each source votes on."""
        return self._per_source(self._rows_of_vote)

    def coverage(self) -> np.ndarray:
        """(m,) fraction of items each source votes on."""
        return self.vote_counts() / self.n_items

    def overlaps(self, normalize_by_coverage: bool = False) -> np.ndarray:
        """(m,) fraction of items the source votes on that another source also votes on
        (divided by the source's coverage if ``normalize_by_coverage``; 0 for silent sources)."""
        out = self._per_source(self._rows_of_vote * self._overlapped[self._pattern_of_vote]) / self.n_items
        if _arrays.check_bool(normalize_by_coverage, "normalize_by_coverage"):
            with np.errstate(invalid="ignore", divide="ignore"):
                out = out / self.coverage()
        return np.nan_to_num(out)

    def conflicts(self, normalize_by_overlaps: bool = False) -> np.ndarray:
        """(m,) fraction of items the source votes on where another source votes a different
        class (divided by the source's overlaps if ``normalize_by_overlaps``)."""
        out = self._per_source(self._rows_of_vote * self._conflicted[self._pattern_of_vote]) / self.n_items
        if _arrays.check_bool(normalize_by_overlaps, "normalize_by_overlaps"):
            with np.errstate(invalid="ignore", divide="ignore"):
                out = out / self.overlaps()
        return np.nan_to_num(out)

    def polarities(self) -> List[List[int]]:
        """Sorted list of the classes each source ever votes."""
        k = self.cardinality
        source, label = np.divmod(np.unique(self._source * k + self._label), k)
        return [part.tolist() for part in np.split(label, np.searchsorted(source, np.arange(1, self.n_sources)))]

    # -- against gold labels

    def _gold_table(self, Y: Any) -> Tuple[np.ndarray, np.ndarray]:
        """(P, k) rows per (pattern, gold class) and (P,) rows with a known gold label."""
        Y = _gold_labels(Y, self.n_items)
        k, P = self.cardinality, int(self.patterns.patterns)
        if P * k > MAX_TABLE_ENTRIES:
            raise ValueError(f"L has {P} distinct vote patterns and cardinality={k}: a table of {P * k} numbers "
                             f"is more than the {MAX_TABLE_ENTRIES} supported")
        rp = np.asarray(self.patterns.row_pattern, dtype=np.int64)
        inside = (Y >= 0) & (Y < k)
        table = np.bincount(rp[inside] * k + Y[inside], minlength=P * k).reshape(P, k).astype(np.float64)
        known = np.bincount(rp[Y >= 0], minlength=P).astype(np.float64)
        return table, known

    def _gold_counts(self, Y: Any) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(m,) correct votes, votes on items with a known gold label, all votes."""
        if self._chunked is not None:
            chunk = functools.partial(_chunk_gold, self.cardinality, "_gold_counts")
            correct, on_known, votes = _dask.sum_over_chunks(self._chunked, Y, chunk)
            return correct, on_known, votes
        Y = _gold_labels(Y, self.n_items)
        k, P = self.cardinality, int(self.patterns.patterns)
        rp = np.asarray(self.patterns.row_pattern, dtype=np.int64)
        # rows per (pattern, gold class) as sorted keys pattern * k + class: O(n log n), whatever k
        inside = (Y >= 0) & (Y < k)
        keys, rows = np.unique(rp[inside] * k + Y[inside], return_counts=True)
        wanted = self._pattern_of_vote * k + self._label
        at = np.minimum(np.searchsorted(keys, wanted), max(keys.size - 1, 0))
        hits = np.where(keys[at] == wanted, rows[at], 0) if keys.size else np.zeros(wanted.size)
        correct = self._per_source(hits.astype(np.float64))
        known = np.bincount(rp[Y >= 0], minlength=P).astype(np.float64)
        on_known = self._per_source(known[self._pattern_of_vote])
        return correct, on_known, self.vote_counts()

    def correct_incorrect(self, Y: Any) -> Tuple[np.ndarray, np.ndarray]:
        """(m,) int64 numbers of correct and incorrect votes against gold labels ``Y`` (n,);
        items whose gold label is -1 (unknown) are left out."""
        correct, on_known, _ = self._gold_counts(Y)
        return correct.astype(np.int64), (on_known - correct).astype(np.int64)

    def empirical_accuracies(self, Y: Any) -> np.ndarray:
        """(m,) fraction of each source's votes (on items with known gold) that are correct;
        NaN for a source that never votes there. (Snorkel's ``lf_empirical_accuracies``
        returns 0 for such a source and counts votes on gold -1 items as wrong; see
        ``weaksup.compat.snorkel.LFAnalysis``.)"""
        correct, on_known, _ = self._gold_counts(Y)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(on_known > 0, correct / on_known, np.nan)

    def empirical_probs(self, Y: Any) -> np.ndarray:
        """(m, k + 1, k) empirical P(vote = row - 1 | gold = column) (row 0: abstain); NaN
        columns for classes absent from ``Y``. Items with gold outside 0..k-1 are left out."""
        _check_tables(self.n_sources, self.cardinality)
        if self._chunked is not None:
            chunk = functools.partial(_chunk_gold, self.cardinality, "_vote_table")
            out, per_class = _dask.sum_over_chunks(self._chunked, Y, chunk)
        else:
            out, per_class = self._vote_table(Y)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(out / per_class[None, None, :])

    def _vote_table(self, Y: Any) -> Tuple[np.ndarray, np.ndarray]:
        """(m, k + 1, k) items per (source, vote, gold class) (vote 0: abstain), (k,) items
        per gold class."""
        k, m = self.cardinality, self.n_sources
        table, _ = self._gold_table(Y)
        per_class = table.sum(axis=0)
        out = np.empty((m, k + 1, k))
        key = self._source * k + self._label
        for y in range(k):
            votes = np.bincount(key, weights=table[self._pattern_of_vote, y], minlength=m * k).reshape(m, k)
            out[:, 1:, y] = votes
            out[:, 0, y] = per_class[y] - votes.sum(axis=1)
        return out, per_class

    def summary(self, Y: Any = None) -> Dict[str, Any]:
        """Per-source statistics as a dict: ``polarity`` (list of lists), ``coverage``,
        ``overlaps``, ``conflicts`` and, with gold labels ``Y``, ``correct``, ``incorrect``,
        ``empirical_accuracy`` (arrays of length m)."""
        out: Dict[str, Any] = {
            "polarity": self.polarities(),
            "coverage": self.coverage(),
            "overlaps": self.overlaps(),
            "conflicts": self.conflicts(),
        }
        if Y is not None:
            correct, on_known, _ = self._gold_counts(Y)
            out["correct"] = correct.astype(np.int64)
            out["incorrect"] = (on_known - correct).astype(np.int64)
            with np.errstate(invalid="ignore", divide="ignore"):
                out["empirical_accuracy"] = np.where(on_known > 0, correct / on_known, np.nan)
        return out


def _chunk_gold(k: int, method: str, block: np.ndarray, gold: np.ndarray) -> Tuple[np.ndarray, ...]:
    """A statistic against gold labels of one row chunk of a Dask label matrix (summed over
    the chunks by SourceAnalysis)."""
    result: Tuple[np.ndarray, ...] = getattr(SourceAnalysis(block, k, threads=1), method)(gold)
    return result
