"""weaksup.sources: majority vote and per-source statistics, checked against plain loops over
the label matrix and (when installed) against Snorkel's LFAnalysis on real and random matrices."""

import pathlib

import numpy as np
import pytest
from conftest import label_matrices, wrench
import scipy.sparse as sp

from weaksup.labelmodel import probabilities_to_labels
from weaksup.sources import SourceAnalysis, infer_cardinality, majority_vote, majority_vote_proba

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

DATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"

# Snorkel's LFAnalysis builds a scipy.sparse.diags matrix from int64 (a FutureWarning in SciPy >= 1.16)
SNORKEL_DIAGS = pytest.mark.filterwarnings("ignore:Input has data type int64, but the output has been cast:FutureWarning")
# Snorkel's lf_summary calls sklearn's confusion_matrix, which warns when a matrix holds one label
SNORKEL_ONE_LABEL = pytest.mark.filterwarnings("ignore:A single label was found in 'y_true' and 'y_pred':UserWarning")
# Hypothesis imports libcst to explain a failing example, which warns under mypy_extensions
pytestmark = pytest.mark.filterwarnings("ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning")


# ---------------------------------------------------------------- plain-loop references


def reference_stats(L, k, Y=None):
    n, m = L.shape
    cov, ov, conf = np.zeros(m), np.zeros(m), np.zeros(m)
    correct, incorrect = np.zeros(m, np.int64), np.zeros(m, np.int64)
    polar = [set() for _ in range(m)]
    probs = np.zeros((m, k + 1, k))
    for j in range(m):
        for i in range(n):
            if Y is not None and 0 <= Y[i] < k:
                probs[j, L[i, j] + 1, Y[i]] += 1
            if L[i, j] == -1:
                continue
            polar[j].add(int(L[i, j]))
            others = [L[i, jj] for jj in range(m) if jj != j and L[i, jj] != -1]
            cov[j] += 1
            ov[j] += len(others) > 0
            conf[j] += any(o != L[i, j] for o in others)
            if Y is not None and Y[i] != -1:
                if L[i, j] == Y[i]:
                    correct[j] += 1
                else:
                    incorrect[j] += 1
    votes = [[L[i, j] for j in range(m) if L[i, j] != -1] for i in range(n)]
    out = dict(coverage=cov / n, overlaps=ov / n, conflicts=conf / n, polarity=[sorted(p) for p in polar],
               label_coverage=sum(len(v) > 0 for v in votes) / n,
               label_overlap=sum(len(v) > 1 for v in votes) / n,
               label_conflict=sum(len(set(v)) > 1 for v in votes) / n)
    if Y is not None:
        out["correct"], out["incorrect"] = correct, incorrect
        with np.errstate(invalid="ignore", divide="ignore"):
            out["accuracy"] = np.where(correct + incorrect > 0, correct / (correct + incorrect), np.nan)
            out["probs"] = probs / np.array([(Y == y).sum() for y in range(k)])[None, None, :]
    return out


def reference_majority(L, k, weights=None):
    n, m = L.shape
    w = np.ones(m) if weights is None else weights
    out = np.full((n, k), 1.0 / k)
    for i in range(n):
        counts = np.zeros(k)
        for j in range(m):
            if L[i, j] != -1:
                counts[L[i, j]] += w[j]
        if counts.sum() > 0:
            out[i] = counts / counts.sum()
    return out


def as_sparse(L):
    r, c = np.nonzero(L != -1)
    return sp.coo_matrix((L[r, c], (r, c)), shape=L.shape)


def as_triplets(L):
    r, c = np.nonzero(L != -1)
    return r, c, L[r, c]


# ---------------------------------------------------------------- against the loops


@given(label_matrices())
def test_source_analysis_matches_loops(case):
    L, Y, k = case
    a = SourceAnalysis(L, k)
    ref = reference_stats(L, k, Y)
    np.testing.assert_array_equal(a.coverage(), ref["coverage"])
    np.testing.assert_array_equal(a.overlaps(), ref["overlaps"])
    np.testing.assert_array_equal(a.conflicts(), ref["conflicts"])
    assert a.polarities() == ref["polarity"]
    assert a.label_coverage() == ref["label_coverage"]
    assert a.label_overlap() == ref["label_overlap"]
    assert a.label_conflict() == ref["label_conflict"]
    correct, incorrect = a.correct_incorrect(Y)
    np.testing.assert_array_equal(correct, ref["correct"])
    np.testing.assert_array_equal(incorrect, ref["incorrect"])
    np.testing.assert_allclose(a.empirical_accuracies(Y), ref["accuracy"], rtol=1e-15, equal_nan=True)
    np.testing.assert_allclose(a.empirical_probs(Y), ref["probs"], rtol=1e-15, equal_nan=True)
    s = a.summary(Y)
    np.testing.assert_array_equal(s["coverage"], ref["coverage"])
    np.testing.assert_array_equal(s["correct"], ref["correct"])
    np.testing.assert_allclose(s["empirical_accuracy"], ref["accuracy"], rtol=1e-15, equal_nan=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        np.testing.assert_array_equal(a.overlaps(True), np.nan_to_num(ref["overlaps"] / ref["coverage"]))


@given(label_matrices())
def test_input_forms_agree(case):
    L, Y, k = case
    dense = SourceAnalysis(L, k)
    for form in (as_sparse(L), as_sparse(L).tocsr()):
        other = SourceAnalysis(form, k)
        np.testing.assert_array_equal(other.coverage(), dense.coverage())
        np.testing.assert_array_equal(other.conflicts(), dense.conflicts())
        np.testing.assert_array_equal(other.correct_incorrect(Y)[0], dense.correct_incorrect(Y)[0])
        np.testing.assert_array_equal(majority_vote_proba(form, k), majority_vote_proba(L, k))
    if (L[-1] != -1).any() and (L[:, -1] != -1).any():  # triplets know n and m from the largest ids
        trip = SourceAnalysis(as_triplets(L), k)
        np.testing.assert_array_equal(trip.overlaps(), dense.overlaps())
        assert trip.polarities() == dense.polarities()
        np.testing.assert_array_equal(majority_vote_proba(as_triplets(L), k), majority_vote_proba(L, k))


def test_cardinality_is_inferred():
    L = np.array([[0, -1, 2], [-1, -1, -1]])
    assert infer_cardinality(L) == 3
    assert SourceAnalysis(L).cardinality == 3
    assert infer_cardinality(np.full((2, 2), -1)) == 2
    assert infer_cardinality(as_sparse(L)) == 3
    assert infer_cardinality(as_triplets(L)) == 3
    assert SourceAnalysis(L, 5).polarities() == [[0], [], [2]]


def test_silent_source_accuracy_is_nan():
    L = np.array([[0, -1], [1, -1], [1, -1]])
    acc = SourceAnalysis(L).empirical_accuracies([0, 0, 1])
    assert acc[0] == pytest.approx(2 / 3) and np.isnan(acc[1])


def test_gold_labels_are_checked():
    a = SourceAnalysis(np.array([[0, 1], [1, 1]]))
    with pytest.raises(ValueError):
        a.empirical_accuracies([0, 1, 1])
    with pytest.raises(ValueError):
        a.empirical_accuracies([0, -2])
    with pytest.raises(ValueError):
        a.empirical_accuracies([0.5, 1])
    np.testing.assert_array_equal(a.correct_incorrect(np.array([[0], [1]]))[0], [2, 1])


# ---------------------------------------------------------------- majority vote


@given(label_matrices(), st.booleans())
def test_majority_vote_matches_loops(case, weighted):
    L, _, k = case
    weights = np.random.default_rng(L.size).uniform(0, 2, L.shape[1]) if weighted else None
    ref = reference_majority(L, k, weights)
    got = majority_vote_proba(L, k, weights)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-15)
    for tie in ("abstain", "first", "random"):
        np.testing.assert_array_equal(majority_vote(L, k, weights, tie_break=tie, seed=3),
                                      probabilities_to_labels(got, tie, 3))


def test_majority_vote_small_example():
    L = np.array([[0, 0, 1], [1, -1, 0], [-1, -1, -1], [2, 2, -1]])
    np.testing.assert_allclose(majority_vote_proba(L, 3), [[2 / 3, 1 / 3, 0], [0.5, 0.5, 0], [1 / 3] * 3, [0, 0, 1]])
    np.testing.assert_array_equal(majority_vote(L, 3, tie_break="abstain"), [0, -1, -1, 2])
    # a heavy source wins the tie; weights of zero silence a source
    np.testing.assert_array_equal(majority_vote(L, 3, weights=[2.0, 1.0, 0.0], tie_break="abstain"), [0, 1, -1, 2])
    with pytest.raises(ValueError):
        majority_vote_proba(L, 3, weights=[1.0, -1.0, 1.0])
    with pytest.raises(ValueError):
        majority_vote_proba(L, 3, weights=[1.0, 1.0])


def test_majority_vote_on_wrench():
    L, Y = wrench("youtube")
    preds = majority_vote(L, 2, tie_break="abstain")
    np.testing.assert_array_equal(preds, probabilities_to_labels(reference_majority(L, 2), "abstain"))
    covered = preds != -1
    assert (preds[covered] == Y[covered]).mean() > 0.8


# ---------------------------------------------------------------- against Snorkel


def snorkel_analysis():
    pytest.importorskip("pandas")
    return pytest.importorskip("snorkel.labeling").LFAnalysis


def assert_same_as_snorkel(L, Y, k=None):
    ref = snorkel_analysis()(L)
    a = SourceAnalysis(L, k)
    np.testing.assert_array_equal(a.coverage(), ref.lf_coverages())
    np.testing.assert_array_equal(a.overlaps(), ref.lf_overlaps())
    np.testing.assert_array_equal(a.conflicts(), ref.lf_conflicts())
    assert a.polarities() == ref.lf_polarities()
    assert a.label_coverage() == ref.label_coverage()
    assert a.label_overlap() == ref.label_overlap()
    assert a.label_conflict() == ref.label_conflict()
    summary = ref.lf_summary(Y)
    correct, incorrect = a.correct_incorrect(Y)
    np.testing.assert_array_equal(correct, summary["Correct"].to_numpy())
    np.testing.assert_array_equal(incorrect, summary["Incorrect"].to_numpy())
    if (Y != -1).all():  # Snorkel's Emp. Acc. counts votes on gold -1 items as wrong; ours leaves them out
        voted = a.vote_counts() > 0
        np.testing.assert_allclose(a.empirical_accuracies(Y)[voted], ref.lf_empirical_accuracies(Y)[voted],
                                   rtol=1e-14)
    return a, ref


@SNORKEL_DIAGS
@pytest.mark.parametrize("name", ["youtube", "trec"])
def test_same_as_snorkel_on_wrench(name):
    L, Y = wrench(name)
    a, ref = assert_same_as_snorkel(L, Y)
    np.testing.assert_array_equal(a.empirical_probs(Y), ref.lf_empirical_probs(Y, a.cardinality))


@SNORKEL_DIAGS
@SNORKEL_ONE_LABEL
@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")  # Snorkel's 0 / 0
@given(label_matrices())
def test_same_as_snorkel_on_random_matrices(case):
    L, Y, _ = case
    a, ref = assert_same_as_snorkel(L, Y)
    np.testing.assert_array_equal(a.overlaps(normalize_by_coverage=True), ref.lf_overlaps(normalize_by_coverage=True))
    np.testing.assert_array_equal(a.conflicts(normalize_by_overlaps=True), ref.lf_conflicts(normalize_by_overlaps=True))
