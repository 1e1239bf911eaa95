"""weaksup.compat.snorkel and weaksup.compat.crowdkit against the real peers (Snorkel 0.10.0,
crowd-kit 1.4.2; skipped when they are not installed) and against the native LabelModel.

Figures measured when these tests were written (Dog data, 8070 answers, 807 tasks, k = 4):
crowd-kit's DawidSkene() stops after 14 iterations, the native model (tol=1e-5) after 13, and
the compat layer agrees with crowd-kit on 807 / 807 labels, probas within 7.3e-8, priors
within 3e-10, errors within 1.7e-8. With the iteration count capped (no early stop) the native
probabilities after N iterations equal crowd-kit's after N + 1 (within 3.3e-5; the rest is the
M-step floor on never-given (worker, label) pairs, see weaksup.compat.crowdkit).
"""

import pathlib
import types

import numpy as np
import pytest
from conftest import label_matrices, wrench

import weaksup
from weaksup.compat import crowdkit as wck
from weaksup.compat import snorkel as wsn
from weaksup.compat.snorkel.utils import probs_to_preds

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

DATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"

# Warnings the peers raise under the project's filterwarnings = error, each for its source:
SNORKEL_DIAGS = pytest.mark.filterwarnings(  # LFAnalysis: scipy.sparse.diags on int64
    "ignore:Input has data type int64, but the output has been cast:FutureWarning")
SKLEARN_ONE_LABEL = pytest.mark.filterwarnings(  # lf_summary -> sklearn confusion_matrix
    "ignore:A single label was found in 'y_true' and 'y_pred':UserWarning")
CROWDKIT_PANDAS = pytest.mark.filterwarnings(  # crowd-kit uses pandas arguments pandas 3 deprecates
    "ignore::DeprecationWarning:crowdkit.*")
pytestmark = pytest.mark.filterwarnings(  # Hypothesis imports libcst to explain a failing example
    "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning")


def snorkel_labeling():
    pytest.importorskip("pandas")
    return pytest.importorskip("snorkel.labeling")


def snorkel_model():
    snorkel_labeling()
    return pytest.importorskip("snorkel.labeling.model")


def crowdkit_aggregation():
    pytest.importorskip("pandas")
    return pytest.importorskip("crowdkit.aggregation")


WRENCH = {"youtube": 2, "trec": 6}


def load_dog():
    pd = pytest.importorskip("pandas")
    folder = DATA / "crowd_dog"
    if not (folder / "answer.csv").is_file():
        pytest.skip(f"{folder} not found (the shared data folder is absent)")
    answers = pd.read_csv(folder / "answer.csv").rename(columns={"question": "task", "answer": "label"})
    truth = pd.read_csv(folder / "truth.csv").set_index("question")["truth"]
    return answers, truth


@st.composite
def crowd_frames(draw):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_tasks, n_workers = draw(st.integers(1, 12)), draw(st.integers(1, 6))
    kind = draw(st.sampled_from(["int", "str", "bool"]))
    k = 2 if kind == "bool" else draw(st.integers(1, 4))
    labels = {"int": [7, 3, 5, 1][:k], "str": ["dog", "cat", "owl", "ant"][:k], "bool": [True, False]}[kind]
    task_ids = rng.permutation(100)[:n_tasks] if draw(st.booleans()) else [f"t{i}" for i in rng.permutation(100)[:n_tasks]]
    rows = [(t, f"w{w}", labels[rng.integers(len(labels))])
            for t in task_ids for w in range(n_workers) if rng.random() < 0.7]
    if not rows:
        rows = [(task_ids[0], "w0", labels[0])]
    order = rng.permutation(len(rows))
    return pd.DataFrame([rows[i] for i in order], columns=["task", "worker", "label"])


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


# ================================================================ crowd-kit


def native_dawid_skene(frame, n_iter=100, tol=1e-5):
    """The native model crowd-kit's DawidSkene maps to, on first-appearance codes."""
    pd = pytest.importorskip("pandas")
    task, _ = pd.factorize(frame["task"])
    worker, _ = pd.factorize(frame["worker"])
    label, labels = pd.factorize(frame["label"])
    k = max(2, len(labels))
    model = weaksup.LabelModel(k, confusion="full", abstain="ignored", smoothing=0.0, class_prior="learned", max_iter=n_iter, tol=tol)
    model.fit((task, worker, label))
    return model.predict_proba((task, worker, label))[:, : len(labels)]


@CROWDKIT_PANDAS
def test_dawid_skene_equals_crowdkit_on_dog():
    pd = pytest.importorskip("pandas")
    ck = crowdkit_aggregation()
    answers, truth = load_dog()
    ref = ck.DawidSkene(n_iter=100, tol=1e-5).fit(answers)
    ours = wck.DawidSkene(n_iter=100, tol=1e-5).fit(answers)
    # same index orders, label orders, names and dtypes; values as measured (module docstring)
    pd.testing.assert_frame_equal(ours.probas_, ref.probas_, rtol=0, atol=1e-6)
    pd.testing.assert_series_equal(ours.priors_, ref.priors_, rtol=0, atol=1e-6)
    pd.testing.assert_frame_equal(ours.errors_, ref.errors_, rtol=0, atol=1e-6)
    agree = (ours.labels_ == ref.labels_).mean()
    assert agree >= 0.995
    pd.testing.assert_series_equal(ours.labels_, ref.labels_)  # measured: 807 / 807
    accuracy = (ours.labels_.loc[truth.index] == truth).mean()
    assert accuracy == pytest.approx((ref.labels_.loc[truth.index] == truth).mean())
    assert accuracy > 0.84
    assert len(ours.loss_history_) == ours.native_.n_iter_
    pd.testing.assert_frame_equal(ours.fit_predict_proba(answers), ours.probas_)
    pd.testing.assert_series_equal(ours.fit_predict(answers), ours.labels_)


@CROWDKIT_PANDAS
def test_dawid_skene_iteration_offset_and_start():
    """Without early stopping, crowd-kit's probabilities after N + 1 iterations are the native
    model's after N (the native predict_proba runs one more E-step); with n_iter=0 both give the
    majority-vote start exactly."""
    pd = pytest.importorskip("pandas")
    ck = crowdkit_aggregation()
    answers, _ = load_dog()
    start_ref, start = ck.DawidSkene(n_iter=0).fit(answers), wck.DawidSkene(n_iter=0).fit(answers)
    pd.testing.assert_frame_equal(start.probas_, start_ref.probas_, check_exact=True)
    pd.testing.assert_series_equal(start.labels_, start_ref.labels_)
    pd.testing.assert_frame_equal(start.errors_, start_ref.errors_, rtol=1e-12)
    for n in (1, 4):
        ref = ck.DawidSkene(n_iter=n + 1, tol=-np.inf).fit(answers)
        ours = wck.DawidSkene(n_iter=n, tol=0.0).fit(answers)
        assert ours.native_.n_iter_ == n and len(ref.loss_history_) == n + 1
        pd.testing.assert_frame_equal(ours.probas_, ref.probas_, rtol=0, atol=1e-4)
        pd.testing.assert_series_equal(ours.priors_, ref.priors_, rtol=0, atol=1e-6)


@CROWDKIT_PANDAS
def test_dawid_skene_gives_the_native_predictions():
    answers, _ = load_dog()
    for n_iter, tol in ((100, 1e-5), (7, 0.0)):
        ours = wck.DawidSkene(n_iter=n_iter, tol=tol).fit(answers)
        probas = native_dawid_skene(answers, n_iter, tol)
        np.testing.assert_array_equal(ours.probas_.to_numpy(), np.maximum(probas, 1e-10))
        np.testing.assert_array_equal(ours.labels_.to_numpy(), ours.probas_.columns.to_numpy()[probas.argmax(axis=1)])


@CROWDKIT_PANDAS
@given(crowd_frames())
def test_crowdkit_layouts_on_random_answers(frame):
    pd = pytest.importorskip("pandas")
    ck = crowdkit_aggregation()
    # majority vote: the same numbers
    ref_mv, mv = ck.MajorityVote().fit(frame), wck.MajorityVote().fit(frame)
    pd.testing.assert_frame_equal(mv.probas_, ref_mv.probas_, check_exact=True)
    pd.testing.assert_series_equal(mv.labels_, ref_mv.labels_)
    pd.testing.assert_series_equal(mv.skills_, ref_mv.skills_)
    # Dawid-Skene: the same layout (index orders, label order, names, dtypes), probabilities summing to 1
    ref, ours = ck.DawidSkene(n_iter=3).fit(frame), wck.DawidSkene(n_iter=3).fit(frame)
    for attr in ("probas_", "errors_"):
        a, b = getattr(ours, attr), getattr(ref, attr)
        pd.testing.assert_index_equal(a.index, b.index)
        pd.testing.assert_index_equal(a.columns, b.columns)
    pd.testing.assert_index_equal(ours.priors_.index, ref.priors_.index)
    pd.testing.assert_index_equal(ours.labels_.index, ref.labels_.index)
    assert ours.labels_.name == ref.labels_.name and ours.priors_.name == ref.priors_.name
    assert ours.labels_.dtype == ref.labels_.dtype
    np.testing.assert_allclose(ours.probas_.to_numpy().sum(axis=1), 1.0, atol=1e-8)
    np.testing.assert_allclose(ours.errors_.groupby(level="worker").sum().to_numpy(), 1.0, atol=1e-8)
    np.testing.assert_array_equal(ours.probas_.to_numpy(), np.maximum(native_dawid_skene(frame, 3, 1e-5), 1e-10))


def test_crowdkit_weighted_majority_vote_and_errors():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"task": ["a", "a", "a", "b", "b"], "worker": ["p", "q", "r", "p", "q"],
                          "label": [1, 0, 0, 1, 0]})
    mv = wck.MajorityVote().fit(frame, skills=pd.Series({"p": 3.0, "q": 1.0, "r": 1.0}))
    assert list(mv.labels_) == [1, 1]
    np.testing.assert_allclose(mv.probas_.loc["a", [1, 0]].to_numpy(), [0.6, 0.4])  # by label: crowd-kit sorts them
    with pytest.raises(ValueError):
        wck.MajorityVote().fit(frame, skills=pd.Series({"p": 1.0}))
    with pytest.raises(ValueError):  # two answers of one worker on one task
        wck.DawidSkene().fit(pd.concat([frame, frame.iloc[:1]]))
    with pytest.raises(NotImplementedError):
        wck.DawidSkene().fit(frame, true_labels=pd.Series({"a": 1}))
    empty = wck.DawidSkene().fit(frame.iloc[:0])
    assert empty.probas_.empty and empty.labels_.empty
