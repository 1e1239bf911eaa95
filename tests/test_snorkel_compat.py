"""weaksup.compat.snorkel's label models against the real Snorkel 0.10.0 (skipped when it is not
installed) and against references written here from the definitions.

What is compared with Snorkel, and where the two should agree: the class prior (class_balance,
normalized, or Y_dev's frequencies, else uniform) given to data points without votes; the
prediction rule P(Y | votes) ∝ P(Y) prod over the LFs that voted of P(vote | Y), checked on
Snorkel's own fitted tables; the mu_eps clamp and its default; the errors Snorkel raises; the
tie-break policies and Scorer; the baselines. The fit itself is weaksup's EM, so fitted tables
are compared with Snorkel's only where both are determined by the data.

Figures measured when these tests were written (WRENCH youtube, fit on train, test split):
the layer and Snorkel (100 epochs) agree on 96.8 % of the labels (tie_break_policy="random"),
accuracy 0.872 (layer) and 0.840 (Snorkel).
"""

import inspect
import itertools
import re

import numpy as np
import pytest
from conftest import label_matrices, wrench
from hypothesis import given, settings

import weaksup
from weaksup.compat import snorkel as wsn
from weaksup.compat.snorkel.labeling.model import TrainConfig, _best_assignment

pytestmark = pytest.mark.filterwarnings(  # Hypothesis imports libcst to explain a failing example
    "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning")


def snorkel_model():
    pytest.importorskip("pandas")
    return pytest.importorskip("snorkel.labeling.model")


def fit_snorkel(L, k, **kwargs):
    model = snorkel_model().LabelModel(cardinality=k, verbose=False)
    model.fit(L, progress_bar=False, **kwargs)
    return model


def fit_ours(L, k, model_kwargs=None, **kwargs):
    model = wsn.LabelModel(k, verbose=False, **(model_kwargs or {}))
    assert model.fit(L, **kwargs) is None
    return model


def synthetic(seed, n, accuracies, k=2, coverage=0.7, silent=0.0):
    """Labeling functions of the given accuracies (errors spread evenly), each voting on a
    `coverage` share of the items; a `silent` share of the items gets no vote at all."""
    rng = np.random.default_rng(seed)
    Y = rng.integers(0, k, n)
    L = np.full((n, len(accuracies)), -1)
    for j, a in enumerate(accuracies):
        cov = coverage[j] if np.ndim(coverage) else coverage
        voted = rng.random(n) < cov
        wrong = (Y + rng.integers(1, k, n)) % k
        L[voted, j] = np.where(rng.random(n) < a, Y, wrong)[voted]
    L[rng.random(n) < silent] = -1
    return L, Y


def snorkel_rule(cprobs, prior, L, given_voted=False):
    """P(Y | votes) ∝ P(Y) prod_{j voted} P(LF_j = vote | Y) (abstains left out); with
    given_voted, P(LF_j = vote | Y, LF_j voted) instead (weaksup's tables hold each class's
    voting rate, which its abstain="ignored" default does not use as evidence)."""
    scores = np.tile(np.log(np.asarray(prior, dtype=np.float64)), (L.shape[0], 1))
    for j in range(L.shape[1]):
        voted = L[:, j] >= 0
        scores[voted] += np.log(cprobs[j, L[voted, j] + 1, :])
        if given_voted:
            scores[voted] -= np.log(cprobs[j, 1:, :].sum(axis=0))
    scores -= scores.max(axis=1, keepdims=True)
    p = np.exp(scores)
    return p / p.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def youtube():
    """(L, Lt, yt, Snorkel's fit, the layer's fit) on WRENCH youtube."""
    L, _ = wrench("youtube")
    Lt, yt = wrench("youtube", "test")
    return L, Lt, yt, fit_snorkel(L, 2, seed=1), fit_ours(L, 2)


# ================================================================ the class prior


@pytest.mark.parametrize("prior", ["uniform", "class_balance", "unnormalized", "Y_dev"])
def test_points_without_votes_get_the_class_prior(prior):
    k = 3
    L, Y = synthetic(0, 400, [0.8, 0.7, 0.75, 0.6], k=k, silent=0.2)
    kwargs = {"uniform": {}, "class_balance": {"class_balance": [0.2, 0.3, 0.5]},
              "unnormalized": {"class_balance": [2.0, 3.0, 5.0]}, "Y_dev": {"Y_dev": np.r_[np.zeros(5), np.ones(3), 2, 2]}}[prior]
    expected = {"uniform": np.full(k, 1 / 3), "Y_dev": np.array([0.5, 0.3, 0.2])}.get(prior, np.array([0.2, 0.3, 0.5]))
    silent = (L == -1).all(axis=1)
    ours = fit_ours(L, k, **kwargs)
    np.testing.assert_allclose(ours.native.class_balance_, expected, rtol=1e-12)
    np.testing.assert_array_equal(ours.native.balance_bias_, 0.0)  # used as it is: no balancing
    np.testing.assert_allclose(ours.predict_proba(L)[silent], np.broadcast_to(expected, (silent.sum(), k)), rtol=1e-12)
    if prior != "unnormalized":  # Snorkel would fit with an unnormalized P
        ref = fit_snorkel(L, k, seed=0, **kwargs)
        np.testing.assert_allclose(ref.predict_proba(L)[silent], ours.predict_proba(L)[silent], atol=1e-6)
    if prior == "uniform":  # ties: "abstain" gives -1 exactly where no LF voted
        np.testing.assert_array_equal(ours.predict(L, tie_break_policy="abstain") == -1, silent)


def test_symmetric_conflicts_tie_as_in_snorkel():
    L = np.array([[-1, 1, 0], [0, -1, 1], [1, 0, -1]])  # every pair of LFs disagrees once
    np.testing.assert_array_equal(fit_snorkel(L, 2, seed=0).predict(L), [-1, -1, -1])
    np.testing.assert_array_equal(fit_ours(L, 2).predict(L), [-1, -1, -1])


def test_youtube_points_without_votes_tie_as_in_snorkel(youtube):
    L, Lt, yt, ref, ours = youtube
    silent = (Lt == -1).all(axis=1)
    assert silent.sum() == 18
    np.testing.assert_array_equal(ours.predict_proba(Lt)[silent], 0.5)
    np.testing.assert_array_equal(ours.predict(Lt)[silent], -1)
    np.testing.assert_array_equal(ref.predict(Lt)[silent], -1)
    assert ours.score(Lt, yt, ["coverage"]) == ref.score(Lt, yt, ["coverage"]) == {"coverage": 1 - 18 / len(yt)}


# ================================================================ prediction rule and fit


def test_predict_proba_is_snorkels_rule(youtube):
    L, Lt, _, ref, ours = youtube
    # Snorkel's rule on Snorkel's own tables (float32), and on the native model's tables (ours
    # reports the tables implied by the posteriors, which are not the ones the rule scores with)
    for M in (L, Lt):
        np.testing.assert_allclose(ref.predict_proba(M), snorkel_rule(ref.get_conditional_probs(), [0.5, 0.5], M),
                                   atol=1e-5)
        np.testing.assert_allclose(ours.predict_proba(M), snorkel_rule(ours.native.conditional_probs_, [0.5, 0.5], M,
                                                                       given_voted=True), rtol=1e-10, atol=1e-14)
    L3, _ = synthetic(1, 300, [0.9, 0.6, 0.7], k=3, silent=0.1)
    ours3 = fit_ours(L3, 3, class_balance=[0.5, 0.3, 0.2])
    np.testing.assert_allclose(ours3.predict_proba(L3), snorkel_rule(ours3.native.conditional_probs_, [0.5, 0.3, 0.2],
                                                                     L3, given_voted=True), rtol=1e-10, atol=1e-14)


def test_labels_agree_with_snorkel_on_youtube(youtube):
    _, Lt, yt, ref, ours = youtube
    ours_labels, ref_labels = ours.predict(Lt, tie_break_policy="random"), ref.predict(Lt, tie_break_policy="random")
    assert (ours_labels == ref_labels).mean() >= 0.95  # 0.968 measured
    assert (ours_labels == yt).mean() >= (ref_labels == yt).mean() - 0.01  # 0.872 and 0.840


def test_fit_is_the_native_em_with_snorkels_options():
    """The layer's fit is weaksup.LabelModel's EM: prior used as it is, prec_init as initial
    accuracies, mu_eps's clamp (the default min(0.01, 10^-ceil(log10 n)))."""
    L, _ = wrench("trec")
    k = 6
    for kwargs, native_kwargs in (
            ({}, dict(class_balance=np.full(k, 1 / k), init_accuracy=0.7, clip=0.0001)),  # n = 4965
            ({"prec_init": np.linspace(0.5, 0.9, L.shape[1]), "mu_eps": 0.001, "class_balance": np.arange(1, k + 1)},
             dict(class_balance=np.arange(1, k + 1) / 21, init_accuracy=np.linspace(0.5, 0.9, L.shape[1]), clip=0.001))):
        ours = fit_ours(L, k, **kwargs)
        native = weaksup.LabelModel(k).fit(L, balance=False, **native_kwargs)
        np.testing.assert_array_equal(ours.get_conditional_probs(), native.implied_probs_)
        np.testing.assert_array_equal(ours.predict_proba(L), native.predict_proba(L, abstains=False))
        np.testing.assert_allclose(ours.get_weights(), np.clip(snorkel_accuracy(native.implied_probs_,
                                                                                native.class_balance_), 1e-6, 1.0),
                                   rtol=1e-12)


def reference_em(L, k, prior, accuracy, iterations, clip):
    """EM of the symmetric, abstain-observed model without smoothing, written from its
    equations: majority-vote start (the prior for items without votes), tables with the given
    accuracies and the start's coverage, then `iterations` rounds of E and M steps; the prior
    stays fixed; the vote probabilities are clamped into [clip, 1 - clip] at the end."""
    n, m = L.shape
    counts = np.stack([(L == c).sum(axis=1) for c in range(k)], axis=1).astype(float)
    q = np.where(counts.sum(axis=1, keepdims=True) > 0, counts / np.maximum(counts.sum(axis=1, keepdims=True), 1), prior)

    def tables(acc, q):
        coverage = np.stack([q[L[:, j] >= 0].sum(axis=0) for j in range(m)]) / q.sum(axis=0)  # (m, k)
        given = np.empty((m, k, k))
        given[:] = ((1 - acc) / (k - 1))[:, None, None]
        given[:, np.arange(k), np.arange(k)] = acc[:, None]
        return np.concatenate([(1 - coverage)[:, None, :], given * coverage[:, None, :]], axis=1)

    def m_step(q):
        acc = np.array([q[L[:, j] >= 0, L[L[:, j] >= 0, j]].sum() / q[L[:, j] >= 0].sum() for j in range(m)])
        return tables(acc, q)

    def e_step(theta):
        s = np.tile(np.log(prior), (n, 1)) + sum(np.log(theta[j, L[:, j] + 1, :]) for j in range(m))
        p = np.exp(s - s.max(axis=1, keepdims=True))
        return p / p.sum(axis=1, keepdims=True)

    q = e_step(tables(np.broadcast_to(accuracy, (m,)).astype(float), q))
    for _ in range(iterations):
        q = e_step(m_step(q))
    theta = m_step(q)
    theta[:, 1:, :] = np.clip(theta[:, 1:, :], clip, 1 - clip)
    theta[:, 0, :] = 1 - theta[:, 1:, :].sum(axis=1)
    return theta


@pytest.mark.parametrize("k, accuracy, iterations", [(2, 0.7, 1), (3, [0.9, 0.5, 0.6, 0.8], 3), (2, 0.55, 2)])
def test_native_fit_options_follow_the_equations(k, accuracy, iterations):
    """The native options the layer uses: balance=False (prior as it is), init_accuracy (the
    EM start), clip (the bound on P(vote | y)), and predict_proba(abstains=False)."""
    L, _ = synthetic(k, 200, [0.85, 0.65, 0.7, 0.75], k=k, silent=0.1)
    prior = np.linspace(1, 2, k) / np.linspace(1, 2, k).sum()
    model = weaksup.LabelModel(k, confusion="symmetric", abstain="observed", smoothing=0.0, accuracy_prior=None,
                               above_random=False, max_iter=iterations, tol=0.0)
    model.fit(L, class_balance=prior, balance=False, init_accuracy=accuracy, clip=0.05)
    np.testing.assert_allclose(model.conditional_probs_, reference_em(L, k, prior, accuracy, iterations, 0.05),
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(model.class_balance_, prior)
    np.testing.assert_allclose(model.predict_proba(L, abstains=False),
                               snorkel_rule(model.conditional_probs_, prior, L, given_voted=True), rtol=1e-10, atol=1e-14)


def test_defaults_of_the_native_options_keep_the_fit():
    L, _ = wrench("youtube")
    base = weaksup.LabelModel(2).fit(L, class_balance=[0.4, 0.6])
    same = weaksup.LabelModel(2).fit(L, class_balance=[0.4, 0.6], balance=True, init_accuracy=None, clip=0.0)
    np.testing.assert_array_equal(base.conditional_probs_, same.conditional_probs_)
    np.testing.assert_array_equal(base.predict_proba(L), same.predict_proba(L, abstains=True))


# ================================================================ mu_eps


def test_mu_eps_clamps_as_snorkel():
    L = np.ones((2, 3), dtype=int)  # no LF ever votes 0
    ref = fit_snorkel(L, 2, mu_eps=0.0123)
    # With a free table per LF and no smoothing, P(vote 0 | Y) = 0 in both fits, clamped to
    # mu_eps (the rest of Snorkel's tables is its SGD's choice: P(vote 1 | Y = 0) = 0.68 there,
    # 0.9877 here). The tables reported are the votes counted under the posteriors, so the native
    # defaults give the same: their one-class tables (P(vote 0 | Y = 0) = the LF's accuracy
    # times its coverage, 0.52 here) only score the votes cast.
    for native in (dict(confusion="full", smoothing=0.0), {}):
        ours = fit_ours(L, 2, native, mu_eps=0.0123)
        np.testing.assert_allclose(ours.get_conditional_probs()[:, 1, :], ref.get_conditional_probs()[:, 1, :],
                                   atol=1e-6)
        np.testing.assert_allclose(ours.get_conditional_probs()[:, 1, :], 0.0123, rtol=1e-12)
        np.testing.assert_allclose(ours.get_conditional_probs()[:, 2, :], 1 - 0.0123, rtol=1e-12)
    assert ours.native.conditional_probs_[0, 1, 0] > 0.5
    for n, eps in ((9, 0.01), (50, 0.01), (500, 0.001), (5000, 0.0001)):  # min(0.01, 10^-ceil(log10 n))
        L, _ = synthetic(n, n, [0.9, 0.8, 0.7])
        L[L[:, 0] == 0, 0] = -1  # LF 0 never votes 0
        ours = fit_ours(L, 2, dict(confusion="full", smoothing=0.0))
        np.testing.assert_allclose(ours.get_conditional_probs()[0, 1, :], eps, rtol=1e-12)
        if n == 500:
            np.testing.assert_allclose(fit_snorkel(L, 2, seed=0).get_conditional_probs()[0, 1, :], eps, rtol=1e-6)


@settings(max_examples=30, deadline=None)
@given(label_matrices(max_n=40))
def test_conditional_probs_stay_within_mu_eps(case):
    L, _, k = case
    for confusion in ("symmetric", "full"):
        ours = fit_ours(L, k, dict(confusion=confusion, smoothing=0.0))
        eps = min(0.01, 1 / 10 ** np.ceil(np.log10(L.shape[0])))
        votes = ours.get_conditional_probs()[:, 1:, :]
        assert (votes >= eps - 1e-15).all() and (votes <= 1 - eps + 1e-15).all()
        np.testing.assert_allclose(ours.get_conditional_probs().sum(axis=1), 1.0, atol=1e-12)
        assert (ours.get_conditional_probs()[:, 0, :] >= 0).all()


# ================================================================ prec_init and symmetry breaking


def test_prec_init_below_chance_still_trusts_the_lfs():
    """An EM start from accuracies 0.1 converges to the relabelled solution (every LF worse
    than chance); Snorkel's symmetry breaking then swaps the classes back."""
    L, Y = synthetic(5, 600, [0.9, 0.8, 0.75, 0.7, 0.85])
    flipped = weaksup.LabelModel(2).fit(L, class_balance=[0.5, 0.5], balance=False, init_accuracy=0.1)
    assert (flipped.accuracies_ < 0.5).all()
    ours = fit_ours(L, 2, prec_init=0.1)
    assert (ours.get_weights() > 0.5).all()
    np.testing.assert_allclose(ours.predict_proba(L), fit_ours(L, 2).predict_proba(L), atol=0.02)  # 0.007: EM stops apart
    assert (ours.predict(L, tie_break_policy="random") == Y).mean() > 0.85  # 0.89
    ref = fit_snorkel(L, 2, prec_init=0.1, seed=0)
    assert (ref.predict(L, tie_break_policy="random") == ours.predict(L, tie_break_policy="random")).mean() > 0.95


def test_best_assignment_is_the_best_permutation():
    rng = np.random.default_rng(3)
    for n in range(1, 7):
        for _ in range(20):
            gain = rng.random((n, n)) if n % 2 else rng.integers(0, 3, (n, n)).astype(float)  # ties too
            perm = _best_assignment(gain)
            assert sorted(perm.tolist()) == list(range(n))
            best = max(sum(gain[c, p[c]] for c in range(n)) for p in itertools.permutations(range(n)))
            assert gain[np.arange(n), perm].sum() == pytest.approx(best, abs=1e-12)


def snorkel_accuracy(cprobs, prior):
    """Snorkel's definition: sum_y P(LF = y | Y = y) P(y) / P(LF votes)."""
    prior = np.asarray(prior)
    return (cprobs[:, 1:, :].diagonal(axis1=1, axis2=2) * prior).sum(axis=1) / ((1 - cprobs[:, 0, :]) * prior).sum(axis=1)


def test_get_weights_recover_accuracies_as_snorkel():
    accuracies = [0.95, 0.6, 0.7, 0.55, 0.8]
    L, Y = synthetic(7, 1000, accuracies, coverage=[1.0, 0.8, 1.0, 1.0, 1.0])
    ours, ref = fit_ours(L, 2), fit_snorkel(L, 2, n_epochs=1000, seed=123)
    np.testing.assert_allclose(ref.get_weights(), accuracies, atol=0.1)  # Snorkel's own test's bar
    np.testing.assert_allclose(ours.get_weights(), accuracies, atol=0.1)
    empirical = wsn.LFAnalysis(L).lf_empirical_accuracies(Y)
    np.testing.assert_allclose(ours.get_weights(), empirical, atol=0.03)
    np.testing.assert_allclose(ours.get_weights(), snorkel_accuracy(ours.get_conditional_probs(), [0.5, 0.5]),
                               rtol=1e-12)


# ================================================================ errors raised as Snorkel raises them


L3 = np.array([[0, 1, -1], [1, 1, 0], [-1, 0, 0], [1, -1, 1], [0, 0, 0], [1, 1, -1]])
SNORKEL_ERRORS = [  # fit arguments, the exception, the part of Snorkel's message ours repeats
    (dict(class_balance=[1.0]), ValueError, "class_balance has 1 entries. Does not match LabelModel cardinality 2."),
    (dict(class_balance=[0.0, 1.0]), ValueError, "Class balance prior is 0 for class(es)"),
    (dict(Y_dev=[0, 0, 0]), ValueError, "Y_dev has 1 class(es). Does not match LabelModel cardinality 2."),
    (dict(prec_init="skibidi"), TypeError, "prec_init is of type <class 'str'> which is not supported currently."),
    (dict(prec_init=(0.7, 0.7, 0.7)), TypeError, "prec_init is of type <class 'tuple'> which is not supported"),
    (dict(prec_init=[0.6, 0.7]), ValueError, "prec_init must have shape 3."),
    (dict(prec_init=np.full(4, 0.7)), ValueError, "prec_init must have shape 3."),
    (dict(optimizer="lbfgs"), ValueError, "Unrecognized optimizer option 'lbfgs'"),
    (dict(lr_scheduler="cosine"), ValueError, "Unrecognized lr scheduler option 'cosine'"),
    (dict(optimizer_config={"foo": 1}), ValueError, "Got unexpected field names: ['foo']"),
    (dict(optimizer_config={"sgd_config": {"nesterov": True}}), ValueError, "Got unexpected field names: ['nesterov']"),
    (dict(lr_scheduler_config={"warmup_steps": 2}), ValueError,
     "LabelModel does not support any warmup_unit other than 'epochs'."),
    (dict(lr_scheduler_config={"warmup_steps": -1, "warmup_unit": "epochs"}), ValueError,
     "warmup_steps much greater or equal than 0."),
]


@pytest.mark.parametrize("kwargs, error, message", SNORKEL_ERRORS)
def test_errors_as_snorkel(kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        fit_snorkel(L3, 2, **kwargs)
    with pytest.raises(error, match=re.escape(message)):
        fit_ours(L3, 2, **kwargs)


def test_label_and_metric_errors_as_snorkel():
    bad = L3.copy()
    bad[0, 0] = 2  # a label past cardinality - 1
    with pytest.raises(ValueError, match="L_train has cardinality"):
        fit_snorkel(bad, 2)
    with pytest.raises(ValueError, match=r"L\[0, 0\] = 2.*cardinality=2"):
        fit_ours(bad, 2)
    unfitted = wsn.LabelModel()
    for method in (unfitted.predict_proba, unfitted.predict):
        with pytest.raises(ValueError, match="not fitted"):
            method(L3)
    for method in (unfitted.get_weights, unfitted.get_conditional_probs):
        with pytest.raises(ValueError, match="not fitted"):
            method()
    ours, ref = fit_ours(L3, 2), fit_snorkel(L3, 2)
    for model in (ours, ref):
        with pytest.raises(ValueError, match="auc"):
            model.score(L3, np.zeros(6, int), metrics=["auc"])
    with pytest.raises(ValueError, match="tie_break_policy"):
        ours.predict(L3, tie_break_policy="coin")


# ================================================================ predictions, scores, save / load


def test_predict_and_score_follow_snorkels_policies(youtube):
    analysis = pytest.importorskip("snorkel.analysis")
    core = pytest.importorskip("snorkel.utils")
    _, Lt, yt, _, ours = youtube
    probs = ours.predict_proba(Lt)
    metrics = ["accuracy", "coverage", "f1", "precision", "recall", "roc_auc", "f1_macro", "matthews_corrcoef"]
    for policy in ("abstain", "random", "true-random"):
        np.random.seed(7)
        expected = core.probs_to_preds(probs, policy)
        np.random.seed(7)
        preds, p = ours.predict(Lt, return_probs=True, tie_break_policy=policy)
        np.testing.assert_array_equal(preds, expected)
        np.testing.assert_array_equal(p, probs)
        np.random.seed(7)
        ref = analysis.Scorer(metrics=metrics).score(yt, core.probs_to_preds(probs, policy), probs)
        np.random.seed(7)
        scores = ours.score(Lt, yt, metrics, tie_break_policy=policy)
        assert scores.keys() == ref.keys()
        for name in ref:
            assert scores[name] == pytest.approx(float(ref[name]), rel=1e-12, abs=1e-15), name


def test_save_and_load(tmp_path):
    L, _ = synthetic(2, 300, [0.8, 0.7, 0.9], k=3, silent=0.1)
    ours = fit_ours(L, 3, class_balance=[0.2, 0.3, 0.5], prec_init=[0.6, 0.7, 0.8])
    path = str(tmp_path / "label_model.pkl")  # any name: the file is the native .npz format
    ours.save(path)
    other = wsn.LabelModel(cardinality=2, verbose=False)
    other.load(path)
    assert other.cardinality == 3
    np.testing.assert_array_equal(other.predict_proba(L), ours.predict_proba(L))
    np.testing.assert_array_equal(other.get_conditional_probs(), ours.get_conditional_probs())
    np.testing.assert_array_equal(other.get_weights(), ours.get_weights())
    for policy in ("abstain", "random"):
        np.testing.assert_array_equal(other.predict(L, tie_break_policy=policy), ours.predict(L, tie_break_policy=policy))
    with pytest.raises(ValueError, match="not fitted"):
        wsn.LabelModel().save(str(tmp_path / "x"))


def test_signatures_and_train_config_match_snorkel():
    sm = snorkel_model()
    for name in ("predict", "predict_proba", "score", "get_weights", "get_conditional_probs", "save", "load"):
        ours = inspect.signature(getattr(wsn.LabelModel, name))
        ref = inspect.signature(getattr(sm.LabelModel, name))
        assert list(ours.parameters)[: len(ref.parameters)] == list(ref.parameters), name
        for p in ref.parameters.values():
            assert ours.parameters[p.name].default == p.default, (name, p.name)
    fit = inspect.signature(wsn.LabelModel.fit).parameters
    assert list(fit)[:5] == ["self", "L_train", "Y_dev", "class_balance", "progress_bar"]
    ref_config = sm.label_model.TrainConfig()
    assert TrainConfig._fields == ref_config._fields
    for field in ref_config._fields:
        if field not in ("seed", "optimizer_config", "lr_scheduler_config"):  # seed: drawn once per process
            assert fit[field].default == getattr(TrainConfig(), field) == getattr(ref_config, field), field
    ours = fit_ours(L3, 2, n_epochs=7, optimizer="adam", optimizer_config={"adam_config": {"amsgrad": True}},
                    lr_scheduler_config={"warmup_percentage": 0.5}, seed=3, mu_eps=0.02)
    assert ours.train_config == TrainConfig(n_epochs=7, optimizer="adam", optimizer_config={"adam_config": {"amsgrad": True}},
                                            lr_scheduler_config={"warmup_percentage": 0.5}, seed=3, mu_eps=0.02)
    assert inspect.signature(wsn.LabelModel).parameters["cardinality"].default == 2


# ================================================================ baselines


@given(label_matrices())
def test_majority_class_and_random_voters_equal_snorkel(case):
    sm = snorkel_model()
    L, _, k = case
    for balance in (np.linspace(1, 2, k), np.r_[0.4, 0.4, np.full(k - 2, 0.2 / max(k - 2, 1))][:k], np.ones(k)):
        ours, ref = wsn.MajorityClassVoter(k), sm.MajorityClassVoter(k)
        assert ours.fit(balance) is None
        ref.fit(balance)
        np.testing.assert_array_equal(ours.predict_proba(L), ref.predict_proba(L))
        for policy in ("abstain", "random"):
            np.testing.assert_array_equal(ours.predict(L, tie_break_policy=policy), ref.predict(L, tie_break_policy=policy))
    np.random.seed(11)
    expected = sm.RandomVoter(k).predict_proba(L)
    np.random.seed(11)
    np.testing.assert_array_equal(wsn.RandomVoter(k).predict_proba(L), expected)


def test_baselines_on_youtube_and_their_errors():
    sm = snorkel_model()
    L, Y = wrench("youtube", "test")
    voter, ref = wsn.MajorityClassVoter(), sm.MajorityClassVoter()
    voter.fit(balance=np.array([0.3, 0.7]))
    ref.fit(balance=np.array([0.3, 0.7]))
    np.testing.assert_array_equal(voter.predict_proba(L), ref.predict_proba(L))
    assert voter.score(L, Y, ["accuracy", "coverage"]) == ref.score(L, Y, ["accuracy", "coverage"])
    np.random.seed(2)
    expected = sm.RandomVoter().predict(L, tie_break_policy="random")
    np.random.seed(2)
    np.testing.assert_array_equal(wsn.RandomVoter().predict(L, tie_break_policy="random"), expected)
    # the baselines do not read the votes: labels past the cardinality are accepted, as Snorkel's
    wide = np.array([[0, 1, 0], [-1, 3, 2]])
    np.testing.assert_array_equal(voter.predict_proba(wide), [[0.0, 1.0], [0.0, 1.0]])
    assert wsn.RandomVoter().predict_proba(wide).shape == (2, 2)
    with pytest.raises(ValueError, match="not fitted"):
        wsn.MajorityClassVoter().predict_proba(L)
    with pytest.raises(ValueError, match="balance"):
        wsn.MajorityClassVoter(3).fit([0.5, 0.5])
    with pytest.raises(TypeError, match="balance"):
        wsn.MajorityClassVoter().fit("ab")
