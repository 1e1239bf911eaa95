"""weaksup.triplet (FlyingSquid's triplet method) and LabelModel(method="triplet") against a
reference written here from the paper's equations over the dense matrix, on data drawn from the
model (known accuracies), and on the real WRENCH sets (../shared/data)."""

import numpy as np
import pytest
from conftest import wrench
from hypothesis import given, settings
from hypothesis import strategies as st
from test_labelmodel import majority_accuracy, reference_em

from weaksup import triplet
from weaksup.labelmodel import LabelModel, collapse, probabilities_to_labels

# ------------------------------------------------------------ reference (dense NumPy)


def reference_moments(L, k):
    """M[i, j] = mean over items of e(lambda_i) . e(lambda_j), the votes as vertices of a regular
    simplex (unit vectors, e_v . e_w = -1/(k-1)) and abstains as 0. For k = 2 literally
    FlyingSquid's E[lambda_i lambda_j] with votes +1 / -1 and 0 for abstain."""
    n, m = L.shape
    if k == 2:
        lam = np.where(L < 0, 0, 2 * L - 1).astype(np.float64)
        return lam.T @ lam / n
    E = np.zeros((n, m, k))
    voted = L >= 0
    E[voted] = (np.eye(k)[L[voted]] - 1.0 / k) * np.sqrt(k / (k - 1))
    return np.einsum("nia,nja->ij", E, E) / n


def reference_accuracies(L, k):
    """|E[lambda_i Y]| as the mean of sqrt(|M_ij M_il / M_jl|) over triplets of distinct sources
    whose three pairs voted together and with M_jl != 0, then
    alpha = (1 + (k-1) |a| / coverage) / k, clipped; the default without a triplet."""
    n, m = L.shape
    M = reference_moments(L, k)
    M[np.abs(M) < 1e-12] = 0.0  # a multiple of 1 / (n (k - 1)): what is smaller is rounding
    voted = (L >= 0).astype(np.float64)
    together = voted.T @ voted > 0
    alpha = np.empty(m)
    for i in range(m):
        values = [np.sqrt(abs(M[i, j] * M[i, l] / M[j, l]))
                  for j in range(m) for l in range(j)
                  if i not in (j, l) and together[i, j] and together[i, l] and together[j, l]
                  and M[j, l] != 0]
        if not values:
            alpha[i] = triplet.DEFAULT_ACCURACY
            continue
        coverage = voted[:, i].mean()
        alpha[i] = np.clip((1 + (k - 1) * np.mean(values) / coverage) / k, 1 / k, triplet.MAX_ACCURACY)
    return alpha


def reference_tables(L, k):
    m = L.shape[1]
    alpha, coverage = reference_accuracies(L, k), (L >= 0).mean(axis=0)
    theta = np.zeros((m, k + 1, k))
    for i in range(m):
        for y in range(k):
            theta[i, 0, y] = 1 - coverage[i]
            for v in range(k):
                theta[i, v + 1, y] = coverage[i] * (alpha[i] if v == y else (1 - alpha[i]) / (k - 1))
    return theta


def posterior_by_hand(L, theta, prior):
    """P(y | votes) proportional to prior[y] * prod_j theta[j, L[i, j] + 1, y], row by row."""
    out = np.empty((L.shape[0], len(prior)))
    for r, row in enumerate(L):
        p = np.array(prior, dtype=np.float64)
        for j, v in enumerate(row):
            p = p * theta[j, v + 1]
        out[r] = p / p.sum()
    return out


def draw_from_model(n, m, k, accuracy, coverage, balance, seed):
    """Votes from FlyingSquid's model: Y ~ balance; source j votes with probability coverage[j]
    (whatever Y), then Y with probability accuracy[j], else another class uniformly."""
    rng = np.random.default_rng(seed)
    y = rng.choice(k, size=n, p=balance)
    L = np.full((n, m), -1, np.int8)
    for j in range(m):
        votes = rng.random(n) < coverage[j]
        wrong = (y + rng.integers(1, k, n)) % k
        L[votes, j] = np.where(rng.random(n) < accuracy[j], y, wrong)[votes]
    return L, y


@st.composite
def small_matrices(draw):
    k = draw(st.integers(2, 5))
    n, m = draw(st.integers(1, 40)), draw(st.integers(3, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    L = rng.integers(0, k, size=(n, m))
    L[rng.random((n, m)) < draw(st.sampled_from([0.0, 0.3, 0.6, 0.9]))] = -1
    if draw(st.booleans()):  # a source voting one class only
        L[:, 0] = np.where(L[:, 0] >= 0, draw(st.integers(0, k - 1)), -1)
    return L, k


# ------------------------------------------------------------ the estimator against the reference


@settings(max_examples=80, deadline=None)
@given(small_matrices())
def test_moments_and_accuracies_match_the_reference(case):
    L, k = case
    patterns = collapse(L, k)
    M, covoted = triplet.moments(patterns)
    np.testing.assert_allclose(M, reference_moments(L, k), rtol=0, atol=1e-12)
    voted = (L >= 0).astype(float)
    np.testing.assert_array_equal(covoted, voted.T @ voted > 0)
    np.testing.assert_allclose(triplet.accuracies(patterns), reference_accuracies(L, k), rtol=1e-12, atol=1e-12)
    theta, prior = triplet.tables(patterns)
    np.testing.assert_allclose(theta, reference_tables(L, k), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(prior, np.full(k, 1 / k))


def test_moments_in_chunks(monkeypatch):
    """Pairs are expanded a chunk of patterns at a time: any chunk size gives the same moments."""
    L, _ = draw_from_model(3000, 7, 3, np.full(7, 0.8), np.linspace(0.2, 0.9, 7), [0.5, 0.3, 0.2], seed=1)
    patterns = collapse(L, 3)
    whole = triplet.moments(patterns)
    monkeypatch.setattr(triplet, "_PAIR_CHUNK", 5)
    chunked = triplet.moments(patterns)
    np.testing.assert_allclose(chunked[0], whole[0], rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(chunked[1], whole[1])


@pytest.mark.parametrize("k,balance", [(2, [0.5, 0.5]), (2, [0.8, 0.2]), (3, [0.5, 0.3, 0.2]), (6, None)])
def test_recovers_known_accuracies(k, balance):
    m = 8
    rng = np.random.default_rng(k)
    accuracy, coverage = rng.uniform(0.55, 0.95, m), rng.uniform(0.2, 0.8, m)
    balance = np.full(k, 1 / k) if balance is None else np.asarray(balance)
    L, y = draw_from_model(300_000, m, k, accuracy, coverage, balance, seed=k)
    model = LabelModel(k, method="triplet").fit(L, class_balance=balance)
    assert np.abs(model.accuracies_ - accuracy).max() <= 0.01  # the moments do not depend on the balance
    np.testing.assert_allclose(model.conditional_probs_[:, 0, 0], 1 - coverage, atol=0.005)
    assert model.n_iter_ == 0 and model.history_.size == 0
    assert (model.predict(L[:20000]) == y[:20000]).mean() > majority_accuracy(L[:20000], y[:20000], k, seeds=3)


def test_sources_that_never_vote_together():
    """Triplets with a pair that never voted together are skipped (two blocks of sources on
    disjoint items); a source sharing no triplet gets the default accuracy."""
    L, _ = draw_from_model(3000, 7, 3, np.linspace(0.6, 0.9, 7), np.full(7, 0.7), [0.5, 0.3, 0.2], seed=5)
    L[:1500, 3:] = -1  # sources 0-2 vote on the first half, 3-5 on the second
    L[1500:, :3] = -1
    L[:, 6] = np.where(np.arange(3000) % 2 == 0, L[:, 6], -1)
    L[L[:, 6] >= 0, :6] = -1  # source 6 votes only where nobody else does
    alpha = triplet.accuracies(collapse(L, 3))
    np.testing.assert_allclose(alpha, reference_accuracies(L, 3), rtol=1e-12)
    assert alpha[6] == triplet.DEFAULT_ACCURACY and (alpha[:6] != triplet.DEFAULT_ACCURACY).all()


def test_clipping_and_edge_cases():
    L = np.zeros((50, 4), np.int64)  # four sources that always agree: alpha = 1, clipped
    np.testing.assert_array_equal(triplet.accuracies(collapse(L, 3)), np.full(4, triplet.MAX_ACCURACY))
    L = np.array([[0, 1, 1, 0], [1, 0, 0, 1], [0, 0, 1, 1]] * 10)  # at or below chance: clipped up to 1/k
    assert (triplet.accuracies(collapse(L, 2)) >= 0.5).all()
    empty = np.full((5, 3), -1)  # every row all-abstain: no triplet, coverage 0, posteriors = prior
    theta, prior = triplet.tables(collapse(empty, 2), [0.3, 0.7])
    np.testing.assert_array_equal(theta[:, 0, :], 1.0)
    np.testing.assert_array_equal(theta[:, 1:, :], 0.0)
    model = LabelModel(2, method="triplet").fit(empty, class_balance=[0.3, 0.7])
    np.testing.assert_allclose(model.predict_proba(empty), np.tile([0.3, 0.7], (5, 1)), rtol=1e-12)
    np.testing.assert_array_equal(triplet.accuracies(collapse(empty, 2)), triplet.DEFAULT_ACCURACY)


def test_bad_inputs():
    with pytest.raises(ValueError, match="at least 3 sources.*method='em'"):
        triplet.tables(collapse(np.zeros((4, 2), int), 2))
    with pytest.raises(ValueError, match="at least 3 sources"):
        LabelModel(2, method="triplet").fit(np.zeros((4, 2), int))
    with pytest.raises(ValueError, match="at least 3 sources"):
        LabelModel(2, init="triplet").fit(np.zeros((4, 2), int))
    with pytest.raises(TypeError, match="patterns must be distinct vote patterns"):
        triplet.accuracies(np.zeros((4, 3), int))
    with pytest.raises(ValueError, match="class_balance must sum to 1"):
        triplet.tables(collapse(np.zeros((4, 3), int), 2), [0.5, 0.6])
    with pytest.raises(ValueError, match="method must be one of 'em', 'triplet'"):
        LabelModel(2, method="flyingsquid")
    with pytest.raises(ValueError, match="init must be one of 'majority', 'triplet'"):
        LabelModel(2, init="random")
    with pytest.raises(ValueError, match="confusion='symmetric'"):
        LabelModel(2, method="triplet", confusion="full")


# ------------------------------------------------------------ the label model built on it


@pytest.mark.parametrize("k", [2, 4])
def test_predict_proba_is_the_posterior_of_the_tables(k):
    L, _ = draw_from_model(2000, 5, k, np.linspace(0.6, 0.9, 5), np.linspace(0.3, 0.9, 5), np.full(k, 1 / k), seed=k)
    L[:25] = -1  # all-abstain rows get the prior
    balance = np.arange(1, k + 1) / (k * (k + 1) / 2)
    model = LabelModel(k, method="triplet").fit(L, class_balance=balance)
    np.testing.assert_allclose(model.conditional_probs_, reference_tables(L, k), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(model.class_balance_, balance)
    expected = posterior_by_hand(L, model.conditional_probs_, balance)
    np.testing.assert_allclose(model.predict_proba(L), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.predict_proba(L)[:25], np.tile(balance, (25, 1)), rtol=1e-12)
    np.testing.assert_array_equal(model.fit_predict_proba(L, class_balance=balance), model.predict_proba(L))
    uniform = LabelModel(k, method="triplet").fit(L)  # no balance given: uniform, as FlyingSquid
    np.testing.assert_array_equal(uniform.class_balance_, np.full(k, 1 / k))
    for form in ((np.nonzero(L >= 0)[0], np.nonzero(L >= 0)[1], L[L >= 0]),):  # long format, same model
        other = LabelModel(k, method="triplet").fit(form, class_balance=balance)
        np.testing.assert_allclose(other.conditional_probs_[:, :, :], model.conditional_probs_, rtol=0, atol=1e-15)


def test_em_started_from_the_triplet_tables():
    L, _ = draw_from_model(3000, 6, 3, np.linspace(0.6, 0.9, 6), np.full(6, 0.5), [0.5, 0.3, 0.2], seed=2)
    L[:30] = -1
    theta = reference_tables(L, 3)
    for balance in (None, np.array([0.5, 0.3, 0.2])):
        start = posterior_by_hand(L, theta, np.full(3, 1 / 3) if balance is None else balance)
        model = LabelModel(3, init="triplet", confusion="symmetric", abstain="observed", smoothing=0.5, max_iter=6,
                           tol=0.0, accuracy_prior=None, above_random=False, class_prior="learned",
                           discount_copies=False).fit(L, class_balance=balance)
        expected, prior, q = reference_em(L, 3, "symmetric", "observed", 0.5, 6, balance, start=start)
        np.testing.assert_allclose(model.conditional_probs_, expected, rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(model.predict_proba(L), q, rtol=1e-7, atol=1e-10)
    long_run = [LabelModel(3, init=init, tol=1e-10, max_iter=500).fit(L) for init in ("majority", "triplet")]
    assert long_run[1].history_[-1] == pytest.approx(long_run[0].history_[-1], abs=1e-6)


def test_save_load_round_trip(tmp_path):
    L, _ = draw_from_model(1000, 5, 3, np.full(5, 0.8), np.full(5, 0.6), [0.2, 0.3, 0.5], seed=3)
    for method, init in (("triplet", "majority"), ("em", "triplet")):
        model = LabelModel(3, method=method, init=init).fit(L, class_balance=[0.2, 0.3, 0.5])
        model.save(tmp_path / "model.npz")
        loaded = LabelModel.load(tmp_path / "model.npz")
        assert (loaded.method, loaded.init) == (method, init)
        np.testing.assert_array_equal(loaded.predict_proba(L), model.predict_proba(L))
        np.testing.assert_array_equal(loaded.history_, model.history_)


# ------------------------------------------------------------ real data


@pytest.mark.parametrize("name,k,floor", [("youtube", 2, 0.78), ("trec", 6, 0.62), ("chemprot", 10, 0.44)])
def test_real_data(name, k, floor):
    """Fit on train (chemprot: valid, its train split is not kept), score on test, random ties;
    reported next to majority vote. Measured: youtube 0.800 (majority vote 0.812), trec 0.646
    (0.608), chemprot 0.465 (0.488)."""
    Lt, _ = wrench(name, "valid" if name == "chemprot" else "train")
    Ls, ys = wrench(name, "test")
    probs = LabelModel(k, method="triplet").fit(Lt).predict_proba(Ls)
    accuracy = (probabilities_to_labels(probs, "random") == ys).mean()
    print(f"{name}: triplet {accuracy:.3f}, majority vote {majority_accuracy(Ls, ys, k):.3f}")
    assert accuracy >= floor


# ------------------------------------------------------------ the bench rows


def test_bench_rows(monkeypatch):
    """`weaksup bench labelmodel`'s triplet rows at a small n; FlyingSquid's only where
    $WEAKSUP_FLYINGSQUID_PYTHON names an interpreter that has it."""
    import io
    import os

    from weaksup.bench import labelmodel as bench
    from weaksup.bench import labelmodel_peers as peers
    from weaksup.bench._report import Report

    python = os.environ.get(peers.FLYINGSQUID_ENV)
    monkeypatch.delenv(peers.FLYINGSQUID_ENV, raising=False)
    report = Report(io.StringIO())
    bench._triplet_rows(report, 3000)
    results = report.results
    assert [r.implementation for r in results] == ["weaksup LabelModel(method='triplet')"]
    assert peers.FLYINGSQUID_ENV in results[0].note and results[0].seconds > 0
    if not python:
        return
    fs = peers.flyingsquid_at_scale(python, 3000, 10)
    assert fs["proba"].shape == (3000, 2) and fs["seconds_predict"] > 0
    L, y, _ = peers.synthetic_label_matrix(3000, 10, 2, coverage=0.3, seed=0)
    ours = LabelModel(2, method="triplet").fit_predict_proba(L)
    assert np.mean(ours.argmax(1) == fs["proba"].argmax(1)) > 0.98
    print(f"FlyingSquid accuracy {fs['accuracy']:.4f}, weaksup {(ours.argmax(1) == y).mean():.4f}")
