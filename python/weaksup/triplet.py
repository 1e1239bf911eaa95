"""Closed-form label model: the triplet method of FlyingSquid (Fu et al., "Fast and Three-rious:
Speeding Up Weak Supervision with Triplet Methods", ICML 2020), from distinct vote patterns.

The model
    Sources vote independently given the true class Y; source i abstains with a probability
    c_i that depends neither on Y nor on the other sources, and when it votes it is right with
    probability ``alpha_i``, its errors spread evenly over the other classes (weaksup's
    ``confusion="symmetric", abstain="ignored"`` tables). The tables hold exactly that:
    1 - c_i for abstaining, c_i alpha_i for the true class. (FlyingSquid itself solves a
    linear system with each source's observed vote shares instead, which for a one-class
    source gives negative probabilities that it flips; at k = 2 on data from the model both
    give the same labels on 99.98 % of the items, ``weaksup bench labelmodel``.)

The moments
    A vote for class v is embedded as the vertex e_v of a regular simplex (unit vectors with
    e_v . e_w = -1/(k-1) for v != w; an abstain is the zero vector). For k = 2 that is
    FlyingSquid's encoding: +1 and -1 for the two classes, 0 for abstain. Under the model
    E[e(lambda_i) | Y] = a_i e_Y, with a_i = E[e(lambda_i) . e_Y] = c_i (k alpha_i - 1) / (k - 1)
    (c_i: how often source i votes), so for i != j

        M_ij = E[e(lambda_i) . e(lambda_j)] = a_i a_j

    whatever the class balance, and every triplet (i, j, l) gives
    ``|a_i| = sqrt(|M_ij M_il / M_jl|)``. M averages over all n items, abstains counting 0, as
    FlyingSquid's does: sources whose abstaining is correlated (say two groups voting on
    different items) break M_ij = a_i a_j. M is read off the collapsed patterns (pairs of votes
    within each distinct pattern: O(patterns x votes per pattern^2)). For k = 2 this is
    exactly FlyingSquid's binary estimator; for k > 2 it is its extension to one multi-class
    model (rather than WRENCH's one binary model per class, whose normalised per-class
    posteriors are no single table model), so that prediction is the usual posterior of
    weaksup's (m, k + 1, k) tables (``LabelModel._posteriors``, O(distinct patterns)).

Estimating (as FlyingSquid's default ``solve_method="triplet_mean"``)
    ``|a_i|`` is the mean over all usable triplets (i; j, l): the three pairs voted together on
    at least one item and M_jl != 0. FlyingSquid counts the other triplets as 0, which drags
    sparse sources towards random; they are skipped here. Signs: every source is taken to be
    better than random (FlyingSquid's ``sign_recovery="all_positive"``; reading the signs off
    M instead flips the one-class labeling functions of real data, whose co-votes always
    disagree). Then alpha_i = (1 + (k - 1) ``|a_i|`` / c_i) / k, clipped to
    [1/k, MAX_ACCURACY] (sampling noise and model mismatch can put it outside [0, 1]; an
    accuracy of 1 would let one vote overrule all others). A source without a usable triplet
    gets DEFAULT_ACCURACY. The class balance is the caller's, else uniform (as FlyingSquid):
    the moments above do not depend on it.
"""

from __future__ import annotations

from typing import Any, Tuple

import numpy as np

from . import _core

MIN_SOURCES = 3
MAX_SOURCES = 4096  # the moments are (m, m) matrices and the triplet means cost O(m^3)
DEFAULT_ACCURACY = 0.7  # a source without a usable triplet (Snorkel's default prior accuracy)
MAX_ACCURACY = 0.99
_PAIR_CHUNK = 1 << 22  # vote pairs expanded at once (about 200 MB of temporaries)


def _check_patterns(patterns: Any, min_sources: int = MIN_SOURCES) -> None:
    if not isinstance(patterns, _core.VotePatterns):
        raise TypeError(f"patterns must be distinct vote patterns from weaksup.labelmodel.collapse(L, cardinality), "
                        f"got {type(patterns).__name__}")
    if patterns.sources < min_sources:
        raise ValueError(f"the triplet method needs at least {MIN_SOURCES} sources (each accuracy comes from "
                         f"triplets of sources), got {patterns.sources}; use LabelModel(method='em', "
                         f"init='majority') for fewer sources")
    if patterns.sources > MAX_SOURCES:
        raise ValueError(f"the triplet method supports at most {MAX_SOURCES} sources (it holds (m, m) moment "
                         f"matrices and costs O(m^3)), got {patterns.sources}; use LabelModel(method='em', "
                         f"init='majority')")


def _pair_counts(patterns: Any) -> Tuple[np.ndarray, np.ndarray]:
    """(covote, agree), (m, m): how many items sources i and j both voted on, and voted the
    same class on (the diagonal: how many items i voted on)."""
    m, k = patterns.sources, patterns.classes
    offsets, codes, counts = patterns.offsets, patterns.codes, patterns.counts
    source, label = codes // (k + 1), codes % (k + 1)
    sizes = np.diff(offsets)
    pairs_before = np.concatenate([[0], np.cumsum(sizes * sizes)])  # ordered pairs, diagonal included
    covote, agree = np.zeros(m * m), np.zeros(m * m)
    start = 0
    while start < sizes.size:  # chunks of whole patterns holding at most _PAIR_CHUNK pairs (one pattern at least)
        stop = max(start + 1, int(np.searchsorted(pairs_before, pairs_before[start] + _PAIR_CHUNK, "right")) - 1)
        size = sizes[start:stop]
        per_vote = np.repeat(size, size)  # each vote pairs with every vote of its pattern
        first = np.repeat(np.arange(offsets[start], offsets[stop]), per_vote)
        block = np.cumsum(per_vote) - per_vote
        second = np.repeat(np.repeat(offsets[start:stop], size), per_vote) + \
            (np.arange(first.size) - np.repeat(block, per_vote))
        weight = np.repeat(np.repeat(counts[start:stop], size), per_vote)
        cell = source[first].astype(np.int64) * m + source[second]
        covote += np.bincount(cell, weight, m * m)
        same = label[first] == label[second]
        agree += np.bincount(cell[same], weight[same], m * m)
        start = stop
    return covote.reshape(m, m), agree.reshape(m, m)


def moments(patterns: Any) -> Tuple[np.ndarray, np.ndarray]:
    """FlyingSquid's second moments of distinct vote patterns (from ``labelmodel.collapse``).

    Returns ``(M, covoted)``, both (m, m): ``M[i, j]`` the mean over all n items of
    e(lambda_i) . e(lambda_j) (for k = 2, E[lambda_i lambda_j] with votes +1 / -1 and 0 for
    abstain; the diagonal is each source's coverage), and ``covoted[i, j]`` whether sources i
    and j voted together on at least one item.
    """
    _check_patterns(patterns, min_sources=1)
    k = patterns.classes
    covote, agree = _pair_counts(patterns)
    M = (k * agree - covote) / ((k - 1) * patterns.rows)
    return M, covote > 0


def _triplet_means(M: np.ndarray, covoted: np.ndarray) -> np.ndarray:
    """|a_i| = |E[e(lambda_i) . e_Y]| per source: the mean of sqrt(|M_ij M_il / M_jl|) over the
    usable triplets (i; j, l), distinct sources whose three pairs are ``covoted`` and with
    M_jl != 0; NaN for a source without one. O(m^3), as three matrix products."""
    m = M.shape[0]
    pair = covoted & ~np.eye(m, dtype=bool)
    usable = pair & (M != 0)
    root = np.where(pair, np.sqrt(np.abs(M)), 0.0)                                 # sqrt|M_ij|
    inverse = np.where(usable, 1.0 / np.sqrt(np.abs(np.where(usable, M, 1.0))), 0.0)  # 1 / sqrt|M_jl|
    # sum over (j, l) of root_ij inverse_jl root_il: every ordered pair (j, l) once, so each
    # triplet twice in both the sum and the count.
    total = ((root @ inverse) * root).sum(axis=1)
    count = ((pair @ usable.astype(np.float64)) * pair).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def accuracies(patterns: Any) -> np.ndarray:
    """alpha_i = P(source i votes the true class | it votes), (m,), by the triplet method
    (see the module docstring: clipped to [1/k, MAX_ACCURACY], DEFAULT_ACCURACY without a
    usable triplet)."""
    _check_patterns(patterns)
    return _accuracies(*moments(patterns), patterns.classes)


def _accuracies(M: np.ndarray, covoted: np.ndarray, k: int) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = (1.0 + (k - 1) * _triplet_means(M, covoted) / np.diag(M)) / k
    return np.where(np.isnan(alpha), DEFAULT_ACCURACY, np.clip(alpha, 1.0 / k, MAX_ACCURACY))


def tables(patterns: Any, class_balance: Any = None) -> Tuple[np.ndarray, np.ndarray]:
    """The triplet method's label model: ``(conditional_probs, class_balance)``.

    ``conditional_probs`` (m, k + 1, k) holds P(vote | true class) as ``LabelModel`` does (row
    0 abstain, row v + 1 a vote for class v): 1 - c_i for abstaining, c_i alpha_i for the true
    class and c_i (1 - alpha_i) / (k - 1) for each other one (c_i: the share of items source i
    voted on). ``class_balance`` (k,) is the given one (checked), or uniform.
    """
    from .labelmodel import _check_tables, _class_balance, _symmetric_tables

    _check_patterns(patterns)
    m, k = patterns.sources, patterns.classes
    _check_tables(m, k, "patterns")
    prior = _class_balance(class_balance, None, k)
    M, covoted = moments(patterns)
    alpha = _accuracies(M, covoted, k)
    coverage = np.clip(np.diag(M), 0.0, 1.0)
    theta = _symmetric_tables(alpha, np.repeat(coverage[:, None], k, axis=1), np)
    return theta, (np.full(k, 1.0 / k) if prior is None else prior)

