"""pytest-benchmark version of `weaksup bench labelmodel` at scale: fit + predict_proba on the
synthetic matrix (n=1M, m=50, k=10, coverage 0.3; and m=10, k=2), against Snorkel's
LabelModel and crowd-kit's DawidSkene. Peak memory is reported by `weaksup bench labelmodel`,
which runs each implementation in its own process.

Run with ``pytest benchmarks --benchmark-enable --benchmark-group-by=group``.
"""

import numpy as np
import pytest

from weaksup import LabelModel
from weaksup.bench import labelmodel_peers as peers


@pytest.fixture(scope="module", params=[(1_000_000, 50, 10), (1_000_000, 10, 2)], ids=["m50-k10", "m10-k2"])
def matrix(request):
    n, m, k = request.param
    L, _, _ = peers.synthetic_label_matrix(n, m, k, coverage=0.3, seed=0)
    return request.param, L


def _snorkel(L, k):
    return peers.snorkel_fit_predict(L, None, k).proba


def _crowdkit(L, k):
    return peers.crowdkit_fit_predict(L, None, k).proba


@pytest.mark.parametrize("impl", ["weaksup", "weaksup-triplet", "snorkel", "crowd-kit"])
def test_label_model_at_scale(benchmark, matrix, impl):
    (n, m, k), L = matrix
    benchmark.group = f"label model fit + predict_proba, n={n}, m={m}, k={k}"
    if impl == "weaksup":
        fn = lambda: LabelModel(k).fit_predict_proba(L)  # noqa: E731
    elif impl == "weaksup-triplet":  # the closed form (FlyingSquid's triplet method)
        fn = lambda: LabelModel(k, method="triplet").fit_predict_proba(L)  # noqa: E731
    elif impl == "snorkel":
        pytest.importorskip("snorkel.labeling.model")
        fn = lambda: _snorkel(L, k)  # noqa: E731
    else:
        pytest.importorskip("crowdkit.aggregation")
        fn = lambda: _crowdkit(L, k)  # noqa: E731
    proba = benchmark.pedantic(fn, rounds=3 if impl.startswith("weaksup") else 1, iterations=1)
    assert proba.shape == (n, k) and np.isfinite(proba).all()
