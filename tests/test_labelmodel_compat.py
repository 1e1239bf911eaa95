"""weaksup.compat.snorkel against the real Snorkel (0.10.0; skipped when it is not installed)
and against the native LabelModel. (weaksup.compat.crowdkit: tests/test_crowdkit_compat.py.)
"""

import inspect
import types

import numpy as np
import pytest
from conftest import label_matrices, wrench

import weaksup
from weaksup.compat import snorkel as wsn
from weaksup.compat.snorkel.utils import probs_to_preds

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given  # noqa: E402

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


# ================================================================ Snorkel: LabelModel


@pytest.mark.parametrize("name", sorted(WRENCH))
def test_label_model_gives_the_native_predictions(name, tmp_path):
    k = WRENCH[name]
    L, _ = wrench(name)
    Lt, Yt = wrench(name, "test")
    native = weaksup.LabelModel(k).fit(L)
    lm = wsn.LabelModel(cardinality=k, verbose=False)
    assert lm.fit(L, progress_bar=False, n_epochs=500, lr=0.05, l2=0.1, optimizer="adam", seed=123,
                  lr_scheduler="linear", prec_init=0.8, log_freq=5, mu_eps=1e-4) is None
    for M in (L, Lt):
        np.testing.assert_array_equal(lm.predict_proba(M), native.predict_proba(M))
        probs = native.predict_proba(M)
        for policy in ("abstain", "random"):
            np.testing.assert_array_equal(lm.predict(M, tie_break_policy=policy), probs_to_preds(probs, policy))
        # labels without ties are the native model's
        preds = lm.predict(M)
        decided = preds != -1
        np.testing.assert_array_equal(preds[decided], native.predict(M, tie_break="abstain")[decided])
    np.testing.assert_array_equal(lm.get_conditional_probs(), native.conditional_probs_)
    np.testing.assert_array_equal(lm.get_weights(), np.clip(native.accuracies_, 1e-6, 1.0))
    assert lm.get_conditional_probs().shape == (L.shape[1], k + 1, k) and lm.get_weights().shape == (L.shape[1],)
    preds, probs = lm.predict(Lt, return_probs=True)
    assert preds.shape == (Lt.shape[0],) and probs.shape == (Lt.shape[0], k)
    # save / load round trip
    path = str(tmp_path / "model.npz")
    lm.save(path)
    other = wsn.LabelModel(cardinality=2)
    other.load(path)
    assert other.cardinality == k
    np.testing.assert_array_equal(other.predict_proba(Lt), lm.predict_proba(Lt))


def test_label_model_class_balance_and_dev_labels_are_the_native_ones():
    L, _ = wrench("youtube")
    Lv, Yv = wrench("youtube", "valid")
    lm = wsn.LabelModel(verbose=False)
    lm.fit(L, class_balance=[0.3, 0.7])
    np.testing.assert_array_equal(lm.predict_proba(L), weaksup.LabelModel(2).fit(L, class_balance=[0.3, 0.7]).predict_proba(L))
    lm.fit(L, Y_dev=Yv)
    np.testing.assert_array_equal(lm.predict_proba(L), weaksup.LabelModel(2).fit(L, Y_dev=Yv).predict_proba(L))


@pytest.mark.parametrize("name", sorted(WRENCH))
def test_label_model_scores_as_snorkel_scorer(name):
    analysis = pytest.importorskip("snorkel.analysis")
    snorkel_model()
    k = WRENCH[name]
    L, _ = wrench(name)
    Lt, Yt = wrench(name, "test")
    lm = wsn.LabelModel(k, verbose=False)
    lm.fit(L)
    for policy in ("abstain", "random"):
        preds, probs = lm.predict(Lt, return_probs=True, tie_break_policy=policy)
        ref = analysis.Scorer(metrics=all_metrics(k)).score(Yt, preds, probs)
        assert_scores_equal(lm.score(Lt, Yt, all_metrics(k), tie_break_policy=policy), ref)


def test_label_model_signatures_match_snorkel():
    sm = snorkel_model()
    for name in ("predict", "predict_proba", "score", "get_weights", "get_conditional_probs", "save", "load"):
        ours = inspect.signature(getattr(wsn.LabelModel, name))
        ref = inspect.signature(getattr(sm.LabelModel, name))
        assert list(ours.parameters)[: len(ref.parameters)] == list(ref.parameters), name
        for p in ref.parameters.values():
            assert ours.parameters[p.name].default == p.default, (name, p.name)
    fit = inspect.signature(wsn.LabelModel.fit).parameters
    assert list(fit)[:5] == ["self", "L_train", "Y_dev", "class_balance", "progress_bar"]
    train_config = sm.label_model.TrainConfig()
    for field in train_config._fields:
        assert field in fit, field
        if field not in ("seed", "optimizer_config", "lr_scheduler_config"):
            assert fit[field].default == getattr(train_config, field), field
    assert inspect.signature(wsn.LabelModel).parameters["cardinality"].default == 2


def test_label_model_rejects_unknown_optimizer_and_unfitted_use():
    lm = wsn.LabelModel()
    with pytest.raises(ValueError):
        lm.predict_proba(np.zeros((2, 3), dtype=int))
    with pytest.raises(ValueError):
        lm.fit(np.zeros((2, 3), dtype=int), optimizer="lbfgs")
    with pytest.raises(ValueError):
        lm.fit(np.array([[0, 2, -1]]))  # a label outside 0..cardinality-1
