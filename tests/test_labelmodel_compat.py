"""weaksup.compat.snorkel's LFAnalysis and voters against the real Snorkel (0.10.0; skipped when
it is not installed). (Snorkel's LabelModel: tests/test_snorkel_compat.py; weaksup.compat.crowdkit:
tests/test_crowdkit_compat.py.)
"""

import pathlib
import types

import numpy as np
import pytest
from conftest import label_matrices, wrench

from weaksup.compat import snorkel as wsn
from weaksup.compat.snorkel.utils import probs_to_preds

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given  # noqa: E402

DATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"

# Warnings the peers raise under the project's filterwarnings = error, each for its source:
SNORKEL_DIAGS = pytest.mark.filterwarnings(  # LFAnalysis: scipy.sparse.diags on int64
    "ignore:Input has data type int64, but the output has been cast:FutureWarning")
SKLEARN_ONE_LABEL = pytest.mark.filterwarnings(  # lf_summary -> sklearn confusion_matrix
    "ignore:A single label was found in 'y_true' and 'y_pred':UserWarning")
pytestmark = pytest.mark.filterwarnings(  # Hypothesis imports libcst to explain a failing example
    "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning")


def snorkel_labeling():
    pytest.importorskip("pandas")
    return pytest.importorskip("snorkel.labeling")


def snorkel_model():
    snorkel_labeling()
    return pytest.importorskip("snorkel.labeling.model")


WRENCH = {"youtube": 2, "trec": 6}


# ================================================================ Snorkel: LFAnalysis


def lf_objects(m):
    return [types.SimpleNamespace(name=f"lf_{j}") for j in range(m)]


@SNORKEL_DIAGS
@pytest.mark.parametrize("name", sorted(WRENCH))
def test_lf_analysis_equals_snorkel_on_wrench(name):
    pd = pytest.importorskip("pandas")
    sl = snorkel_labeling()
    L, Y = wrench(name)
    k = WRENCH[name]
    ref, ours = sl.LFAnalysis(L), wsn.LFAnalysis(L)
    for method in ("lf_coverages", "lf_overlaps", "lf_conflicts"):
        np.testing.assert_array_equal(getattr(ours, method)(), getattr(ref, method)())
    np.testing.assert_array_equal(ours.lf_overlaps(normalize_by_coverage=True), ref.lf_overlaps(normalize_by_coverage=True))
    np.testing.assert_array_equal(ours.lf_conflicts(normalize_by_overlaps=True), ref.lf_conflicts(normalize_by_overlaps=True))
    assert ours.lf_polarities() == ref.lf_polarities()
    for method in ("label_coverage", "label_overlap", "label_conflict"):
        assert getattr(ours, method)() == getattr(ref, method)()
    np.testing.assert_array_equal(ours.lf_empirical_accuracies(Y), ref.lf_empirical_accuracies(Y))
    np.testing.assert_array_equal(ours.lf_empirical_probs(Y, k), ref.lf_empirical_probs(Y, k))
    weights = np.linspace(0, 1, L.shape[1])
    pd.testing.assert_frame_equal(ours.lf_summary(), ref.lf_summary())
    pd.testing.assert_frame_equal(ours.lf_summary(Y, est_weights=weights), ref.lf_summary(Y, est_weights=weights),
                                  check_exact=True)
    lfs = lf_objects(L.shape[1])
    pd.testing.assert_frame_equal(wsn.LFAnalysis(L, lfs).lf_summary(Y), sl.LFAnalysis(L, lfs).lf_summary(Y),
                                  check_exact=True)


@SNORKEL_DIAGS
@SKLEARN_ONE_LABEL
@pytest.mark.filterwarnings("ignore:invalid value encountered in (scalar )?divide:RuntimeWarning")  # Snorkel's 0 / 0
@given(label_matrices())
def test_lf_analysis_equals_snorkel_on_random_matrices(case):
    pd = pytest.importorskip("pandas")
    sl = snorkel_labeling()
    L, Y, k = case
    ref, ours = sl.LFAnalysis(L), wsn.LFAnalysis(L)
    pd.testing.assert_frame_equal(ours.lf_summary(Y), ref.lf_summary(Y), check_exact=True)
    np.testing.assert_array_equal(ours.lf_overlaps(True), ref.lf_overlaps(True))
    np.testing.assert_array_equal(ours.lf_conflicts(True), ref.lf_conflicts(True))
    for method in ("label_coverage", "label_overlap", "label_conflict"):
        assert getattr(ours, method)() == getattr(ref, method)()
    np.testing.assert_array_equal(ours.lf_empirical_probs(Y, k), ref.lf_empirical_probs(Y, k))


def test_lf_analysis_checks_lfs():
    with pytest.raises(ValueError):
        wsn.LFAnalysis(np.zeros((3, 2), dtype=int), lfs=lf_objects(3))
    summary = wsn.LFAnalysis(np.array([[0, -1], [1, 1]]), lfs=["a", "b"]).lf_summary(np.array([0, 1]))
    index = summary["index"] if isinstance(summary, dict) else list(summary.index)  # a dict without pandas
    assert index == ["a", "b"] and list(summary["j"]) == [0, 1]
    assert list(summary["Polarity"]) == [[0, 1], [1]] and list(summary["Correct"]) == [2, 1]
    np.testing.assert_array_equal(summary["Emp. Acc."], [1.0, 1.0])


# ================================================================ Snorkel: predictions and scores


def near_tie_probs(rng, n, k):
    probs = np.round(rng.random((n, k)), 1)
    probs[rng.random(n) < 0.3, :] = 0.5
    jitter = rng.choice([0.0, 0.4e-5, 0.99e-5, 1.0e-5, 1.01e-5, 3e-5], size=(n, k))
    return probs + jitter


def test_probs_to_preds_equals_snorkel():
    core = pytest.importorskip("snorkel.utils")
    rng = np.random.default_rng(0)
    for k in (2, 3, 5):
        probs = near_tie_probs(rng, 400, k)
        for policy in ("abstain", "random"):
            np.testing.assert_array_equal(probs_to_preds(probs, policy), core.probs_to_preds(probs, policy))
        np.random.seed(11)
        ref = core.probs_to_preds(probs, "true-random")
        np.random.seed(11)
        np.testing.assert_array_equal(probs_to_preds(probs, "true-random"), ref)
    with pytest.raises(ValueError):
        probs_to_preds(np.ones((2, 1)))
    with pytest.raises(ValueError):
        probs_to_preds(np.ones((2, 2)), "coin")


def all_metrics(k):
    return ["accuracy", "coverage", "f1_micro", "f1_macro", "matthews_corrcoef"] + \
        (["f1", "precision", "recall", "roc_auc"] if k == 2 else [])


def assert_scores_equal(ours, ref):
    assert set(ours) == set(ref)
    for key in ref:
        assert ours[key] == pytest.approx(float(ref[key]), rel=1e-12, abs=1e-15), key


@pytest.mark.parametrize("name", sorted(WRENCH))
def test_majority_label_voter_equals_snorkel_on_wrench(name):
    sm = snorkel_model()
    k = WRENCH[name]
    L, _ = wrench(name)
    Lt, Yt = wrench(name, "test")
    ref, ours = sm.MajorityLabelVoter(k), wsn.MajorityLabelVoter(k)
    for M in (L, Lt):
        np.testing.assert_array_equal(ours.predict_proba(M), ref.predict_proba(M))
        for policy in ("abstain", "random"):
            np.testing.assert_array_equal(ours.predict(M, tie_break_policy=policy), ref.predict(M, tie_break_policy=policy))
        np.random.seed(5)
        expected = ref.predict(M, tie_break_policy="true-random")
        np.random.seed(5)
        np.testing.assert_array_equal(ours.predict(M, tie_break_policy="true-random"), expected)
    for policy in ("abstain", "random"):
        assert_scores_equal(ours.score(Lt, Yt, all_metrics(k), policy), ref.score(Lt, Yt, all_metrics(k), policy))
    preds, probs = ours.predict(Lt, return_probs=True)
    assert preds.dtype == np.int_ and probs.shape == (Lt.shape[0], k)


@given(label_matrices())
def test_majority_label_voter_equals_snorkel_on_random_matrices(case):
    sm = snorkel_model()
    L, _, k = case
    ref, ours = sm.MajorityLabelVoter(k), wsn.MajorityLabelVoter(k)
    np.testing.assert_array_equal(ours.predict_proba(L), ref.predict_proba(L))
    for policy in ("abstain", "random"):
        np.testing.assert_array_equal(ours.predict(L, tie_break_policy=policy), ref.predict(L, tie_break_policy=policy))


def test_majority_label_voter_without_snorkel():
    L = np.array([[0, 0, 1], [1, -1, 0], [-1, -1, -1], [2, 2, -1]])
    voter = wsn.MajorityLabelVoter(3)
    np.testing.assert_allclose(voter.predict_proba(L), [[1, 0, 0], [0.5, 0.5, 0], [1 / 3] * 3, [0, 0, 1]])
    np.testing.assert_array_equal(voter.predict(L), [0, -1, -1, 2])
    # Snorkel's Scorer: abstained predictions (and gold -1) are left out of accuracy, not counted wrong
    assert voter.score(L, np.array([0, 0, 1, 1])) == {"accuracy": 0.5}
    assert voter.score(L, np.array([0, -1, 1, 2]), ["accuracy", "coverage"]) == {"accuracy": 1.0, "coverage": 0.5}


# (Snorkel's LabelModel and the other baselines: tests/test_snorkel_compat.py)
