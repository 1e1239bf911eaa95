"""Snorkel's ``LFAnalysis`` on :class:`weaksup.sources.SourceAnalysis` (vote patterns, no dense
indicator matrices): the same numbers as ``snorkel.labeling.LFAnalysis`` 0.10.0, bit for bit."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from .... import _arrays
from ....sources import SourceAnalysis, _gold_labels, infer_cardinality
from ..utils import to_int_label_array


def _lf_name(lf: Any) -> str:
    name = lf if isinstance(lf, str) else getattr(lf, "name", None)
    return _arrays.check_str(name, "lfs", "labeling functions (with a .name) or their names")


class LFAnalysis:
    """Run analyses on LFs using a label matrix (as ``snorkel.labeling.LFAnalysis``).

    Parameters
    ----------
    L : (n, m) label matrix, -1 for abstain (also a SciPy sparse matrix or (item, source,
        label) triplets, which Snorkel does not accept).
    lfs : the labeling functions (anything with a ``name``, or the names) that made ``L``.
    """

    def __init__(self, L: Any, lfs: Optional[Sequence[Any]] = None) -> None:
        self.L = L
        self._analysis = SourceAnalysis(L)
        self._lf_names: Optional[List[str]] = None
        if lfs is not None:
            m = self._analysis.n_sources
            if isinstance(lfs, str) or not hasattr(lfs, "__len__"):
                raise TypeError(f"lfs must be a list of labeling functions or names, got {_arrays._describe(lfs)}")
            if len(lfs) != m:
                raise ValueError(f"Number of LFs ({len(lfs)}) and number of "
                                 f"LF matrix columns ({m}) are different")
            self._lf_names = [_lf_name(lf) for lf in lfs]

    @property
    def source_analysis(self) -> SourceAnalysis:
        return self._analysis

    def label_coverage(self) -> float:
        """Fraction of data points with at least one label."""
        return self._analysis.label_coverage()

    def label_overlap(self) -> float:
        """Fraction of data points with at least two (non-abstain) labels."""
        return self._analysis.label_overlap()

    def label_conflict(self) -> float:
        """Fraction of data points with conflicting (non-abstain) labels."""
        return self._analysis.label_conflict()

    def lf_polarities(self) -> List[List[int]]:
        """Sorted unique labels each LF outputs."""
        return self._analysis.polarities()

    def lf_coverages(self) -> np.ndarray:
        """Fraction of data points each LF labels."""
        return self._analysis.coverage()

    def lf_overlaps(self, normalize_by_coverage: bool = False) -> np.ndarray:
        """Fraction of data points each LF labels that another LF labels too."""
        return self._analysis.overlaps(normalize_by_coverage)

    def lf_conflicts(self, normalize_by_overlaps: bool = False) -> np.ndarray:
        """Fraction of data points each LF labels that another LF labels differently."""
        return self._analysis.conflicts(normalize_by_overlaps)

    def lf_empirical_accuracies(self, Y: Any) -> np.ndarray:
        """Snorkel's empirical accuracy per LF: correct votes / all votes, where votes on data
        points with gold label -1 count as wrong, and 0 (not NaN) for an LF that never votes."""
        Y = to_int_label_array(Y)
        correct, _, voted = self._analysis._gold_counts(Y)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(np.nan_to_num(0.5 * ((correct - (voted - correct)) / voted + 1)))

    def lf_empirical_probs(self, Y: Any, k: int) -> np.ndarray:
        """(m, k + 1, k) empirical P(LF = row - 1 | Y = column) (row 0: abstain)."""
        k = _arrays.check_int(k, "k", 0)
        Y = _gold_labels(to_int_label_array(Y), self._analysis.n_items)
        own = max(k, infer_cardinality(self.L), int(Y.max()) + 1 if Y.size else 0)
        analysis = self._analysis if own == self._analysis.cardinality else SourceAnalysis(self.L, own)
        return analysis.empirical_probs(Y)[:, : k + 1, :k]

    def lf_summary(self, Y: Any = None, est_weights: Any = None) -> Any:
        """Per-LF statistics as a pandas DataFrame (Snorkel's columns: j (with lfs), Polarity,
        Coverage, Overlaps, Conflicts and, with ``Y``, Correct, Incorrect, Emp. Acc., and
        Learned Weight with ``est_weights``); a dict of the same columns without pandas."""
        m = self._analysis.n_sources
        names: List[Any] = self._lf_names if self._lf_names is not None else list(range(m))
        d: Dict[str, Any] = {}
        if self._lf_names is not None:
            d["j"] = list(range(m))
        d["Polarity"] = self.lf_polarities()
        d["Coverage"] = self.lf_coverages()
        d["Overlaps"] = self.lf_overlaps()
        d["Conflicts"] = self.lf_conflicts()
        if est_weights is not None:
            est_weights = _arrays.check_numbers(est_weights, "est_weights", "one learned weight per LF")
            if est_weights.shape != (m,):
                raise ValueError(f"est_weights must have one entry per LF ({m}), got shape {est_weights.shape}")
        if Y is not None:
            Y = to_int_label_array(Y)
            Yi = _gold_labels(Y, self._analysis.n_items)
            correct, incorrect = self._analysis.correct_incorrect(Yi)
            d["Correct"] = correct
            d["Incorrect"] = incorrect
            d["Emp. Acc."] = self.lf_empirical_accuracies(Y)
        if est_weights is not None:
            d["Learned Weight"] = est_weights
        try:
            import pandas as pd
        except ImportError:
            d["index"] = names
            return d
        return pd.DataFrame({key: pd.Series(list(v) if key == "Polarity" else v, index=names)
                             for key, v in d.items()}, index=names)
