"""Snorkel's prediction and scoring conventions (``snorkel.utils.probs_to_preds``,
``snorkel.analysis.Scorer``), reproduced in NumPy (no scikit-learn needed)."""

from __future__ import annotations

import hashlib
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from ... import _arrays
from ...labelmodel import _check_metrics, _first_outside

TIE_BREAK_POLICIES = ("abstain", "random", "true-random")
METRICS = ("accuracy", "coverage", "precision", "recall", "f1", "f1_micro", "f1_macro",
           "matthews_corrcoef", "roc_auc")


def _hash(i: int) -> int:
    """Snorkel's deterministic hash of a row index (``snorkel.utils.core._hash``)."""
    return int(hashlib.sha1(str(i).encode("utf-8")).hexdigest(), 16)


def probs_to_preds(probs: Any, tie_break_policy: str = "random", tol: float = 1e-5) -> np.ndarray:
    """Snorkel's ``probs_to_preds``: the argmax of each row of (n, k) probabilities.

    Classes whose probability lies strictly within ``tol`` of the row's maximum tie. Ties:
    ``"abstain"`` gives -1; ``"random"`` picks ``tied[sha1(str(i)) % len(tied)]`` for row
    index i (deterministic, the same choice as Snorkel's); ``"true-random"`` picks with
    ``numpy.random.choice`` from NumPy's global generator, row by row in order (so the same
    global seed gives Snorkel's choices). Unlike Snorkel, an unknown policy is rejected even
    when no row ties.
    """
    tie_break_policy = check_policy(tie_break_policy)
    tol = _arrays.check_real(tol, "tol", 0.0, low_open=True)  # tol = 0 would tie no class at all
    probs = _arrays.to_host(probs, "probs")
    _arrays.real_dtype(probs.dtype, "probs")
    if probs.ndim != 2:
        raise ValueError(f"probs must be a 2-D (n, k) array, got shape {probs.shape}")
    num_classes = probs.shape[1]
    if num_classes <= 1:
        raise ValueError(f"probs must have probabilities for at least 2 classes. "
                         f"Instead, got {num_classes} classes.")
    if not np.isfinite(probs).all():
        raise ValueError("probs contains NaN or infinity; pass finite probabilities")
    tied = np.abs(probs - probs.max(axis=1, keepdims=True)) < np.float64(tol)  # float16 would round tol to 0
    n_tied = tied.sum(axis=1)
    preds = np.argmax(tied, axis=1).astype(np.int_)
    rows = np.flatnonzero(n_tied != 1)
    if rows.size:
        if tie_break_policy == "abstain":
            preds[rows] = -1
        elif tie_break_policy == "random":
            for i in rows.tolist():
                idx = np.flatnonzero(tied[i])
                preds[i] = idx[_hash(i) % len(idx)]
        else:
            for i in rows.tolist():
                preds[i] = np.random.choice(np.flatnonzero(tied[i]))
    return np.asarray(preds)


def check_policy(tie_break_policy: Any) -> str:
    return _arrays.check_choice(tie_break_policy, "tie_break_policy", {p: p for p in TIE_BREAK_POLICIES})


def to_int_label_array(X: Any, flatten_vector: bool = True, name: str = "Y") -> np.ndarray:
    """Snorkel's ``to_int_label_array``: integer labels, (n, 1) flattened to (n,). Booleans
    and whole floats are labels too (as in Snorkel); a float beyond int64 is an error."""
    X = _arrays.to_host(X, name)
    if X.dtype != np.bool_:
        _arrays.real_dtype(X.dtype, name)
    with np.errstate(invalid="ignore"):  # NaN and inf: not whole numbers, no warning
        fraction = np.mod(X, 1)
    if np.any(np.not_equal(fraction, 0)):
        raise ValueError(f"Input contains at least one non-integer value. ({name} must hold whole numbers, without "
                         f"NaN or infinity)")
    if X.dtype.kind in "uf":
        bad = _first_outside(X, name, -(2**63), 2**63 - 1024)  # 2^63 - 1024: the last float64 below 2^63
        if bad is not None:
            raise ValueError(f"{bad} is too large for a label ({name} must hold int64 labels)")
    X = X.astype(np.dtype(int))
    if flatten_vector:
        X = X.squeeze()
        if X.ndim == 0:
            X = np.expand_dims(X, 0)
        if X.ndim != 1:
            raise ValueError("Input could not be converted to 1d np.array")
    return np.asarray(X)


# ---------------------------------------------------------------- metrics (scikit-learn's definitions)


def _binary_counts(golds: np.ndarray, preds: np.ndarray, name: str) -> Tuple[float, float, float]:
    labels = np.union1d(golds, preds)
    if labels.size and (labels.min() < 0 or labels.max() > 1):
        raise ValueError(f"{name} is a binary metric (classes 0 and 1); use f1_micro or f1_macro for "
                         f"multiclass problems")
    tp = float(np.sum((preds == 1) & (golds == 1)))
    fp = float(np.sum((preds == 1) & (golds != 1)))
    fn = float(np.sum((preds != 1) & (golds == 1)))
    return tp, fp, fn


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else 0.0  # scikit-learn's zero_division result (it also warns)


def _f1(tp: float, fp: float, fn: float) -> float:
    return _ratio(2 * tp, 2 * tp + fp + fn)


def _roc_auc(golds: np.ndarray, scores: np.ndarray) -> float:
    pos = golds == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("Only one class present in y_true. ROC AUC score is not defined in that case.")
    order = np.argsort(scores, kind="mergesort")
    s = scores[order]
    ranks = np.empty(s.size)
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    ends = np.r_[starts[1:], s.size]
    avg = (starts + ends + 1) / 2.0  # average 1-based rank of each run of equal scores
    ranks[order] = np.repeat(avg, ends - starts)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def metric_score(golds: np.ndarray, preds: np.ndarray, probs: Optional[np.ndarray], metric: str) -> float:
    """One of ``METRICS`` as Snorkel's Scorer computes it (abstain = -1 in golds or preds removed
    first, except for coverage)."""
    golds = to_int_label_array(golds)
    preds = to_int_label_array(preds)
    if metric == "coverage":
        return float(np.sum(preds != -1) / len(preds))
    keep = (golds != -1) & (preds != -1)
    golds, preds = golds[keep], preds[keep]
    probs = None if probs is None else np.asarray(probs)[keep]
    if metric == "accuracy":
        return float(np.mean(golds == preds)) if golds.size else float("nan")
    if metric in ("precision", "recall", "f1"):
        if metric == "f1" and golds.size and golds.max() > 1:
            raise ValueError("f1 not supported for multiclass. Try f1_micro or f1_macro instead.")
        tp, fp, fn = _binary_counts(golds, preds, metric)
        return {"precision": _ratio(tp, tp + fp), "recall": _ratio(tp, tp + fn), "f1": _f1(tp, fp, fn)}[metric]
    if metric == "f1_micro":
        tp = float(np.sum(golds == preds))
        wrong = float(golds.size) - tp
        return _f1(tp, wrong, wrong)
    if metric == "f1_macro":
        labels = np.union1d(golds, preds)
        if not labels.size:
            return 0.0
        return float(np.mean([_f1(float(np.sum((preds == c) & (golds == c))),
                                  float(np.sum((preds == c) & (golds != c))),
                                  float(np.sum((preds != c) & (golds == c)))) for c in labels]))
    if metric == "matthews_corrcoef":
        labels, inverse = np.unique(np.concatenate([golds, preds]), return_inverse=True)
        g, p = inverse[: golds.size], inverse[golds.size:]
        c = labels.size
        C = np.bincount(g * c + p, minlength=c * c).reshape(c, c).astype(np.float64)
        t_sum, p_sum = C.sum(axis=1), C.sum(axis=0)
        n_correct, n_samples = np.trace(C), p_sum.sum()
        cov_ytyp = n_correct * n_samples - np.dot(t_sum, p_sum)
        cov_ypyp = n_samples ** 2 - np.dot(p_sum, p_sum)
        cov_ytyt = n_samples ** 2 - np.dot(t_sum, t_sum)
        if cov_ypyp * cov_ytyt == 0:
            return 0.0
        return float(cov_ytyp / np.sqrt(cov_ytyt * cov_ypyp))
    if metric == "roc_auc":
        if probs is None:
            raise ValueError("Metric roc_auc requires access to probs.")
        if probs.ndim != 2 or probs.shape[1] != 2:
            raise ValueError("Metric roc_auc is currently only defined for binary problems.")
        return _roc_auc(golds, probs[:, 1])
    raise ValueError(f"Unrecognized metric: {metric}")


def score(golds: Any, preds: np.ndarray, probs: Optional[np.ndarray], metrics: Optional[Sequence[str]]) -> Dict[str, float]:
    """Snorkel's ``Scorer(metrics).score(golds, preds, probs)``."""
    metrics = _check_metrics([] if metrics is None else metrics, METRICS)
    golds = to_int_label_array(golds, name="Y")
    if len(golds) == 0:
        raise ValueError("Cannot score empty labels")
    if len(golds) != len(preds):
        raise ValueError(f"Y has {len(golds)} gold labels but L has {len(preds)} data points; pass one per data point")
    return {metric: metric_score(golds, preds, probs, metric) for metric in metrics}
