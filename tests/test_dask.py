"""Label models on Dask arrays: a fit on a row-chunked dask array is the NumPy fit bit for
bit, for any chunking (one row per chunk, uneven chunks, chunked columns), on Dask's
threads and on a dask.distributed cluster of two worker processes; predictions are lazy
and equal too. Bad Dask input gets a clear error."""

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from conftest import not_under_sanitizer  # noqa: E402
from weaksup.labelmodel import LabelModel  # noqa: E402

# The kernels these tests reach are the ones the rest of the suite runs under the sanitizers;
# here they would only add worker processes that each load the ASan runtime.
pytestmark = not_under_sanitizer("the kernels are the rest of the suite's; Dask would add worker processes")


def label_matrix(n, m, k, seed=0, coverage=0.4, accuracy=0.7, dtype=np.int8):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    votes = np.where(rng.random((n, m)) < accuracy, y[:, None], rng.integers(0, k, (n, m)))
    return np.where(rng.random((n, m)) < coverage, votes, -1).astype(dtype)


def assert_same_fit(fitted, reference):
    for name in ("conditional_probs_", "class_balance_", "balance_bias_", "history_"):
        np.testing.assert_array_equal(getattr(fitted, name), getattr(reference, name), err_msg=name)


CHUNKINGS = [(500, -1), (1, -1), ((7, 13, 980), -1), (333, 2)]


@pytest.fixture(scope="module")
def cluster_client():
    with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1, dashboard_address=":0") as c:
        with distributed.Client(c) as client:
            yield client


def cases(L):
    """(matrix, chunks) pairs: L in each chunking, one row per chunk on its first 100 rows
    (a thousand tasks would only slow the tests down)."""
    return [(L[:100] if chunks[0] == 1 else L, chunks) for chunks in CHUNKINGS]


def check_chunkings(k, method="em", tie_break="random"):
    for L, chunks in cases(label_matrix(1000, 6, k, seed=k)):
        reference = LabelModel(k, method=method).fit(L)
        want_p = reference.predict_proba(L)
        want = reference.predict(L, tie_break=tie_break)
        lazy = da.from_array(L, chunks=chunks)
        model = LabelModel(k, method=method).fit(lazy)
        assert_same_fit(model, reference)
        probs = model.predict_proba(lazy)
        assert isinstance(probs, da.Array) and probs.chunks[0] == lazy.chunks[0]
        np.testing.assert_array_equal(probs.compute(), want_p)
        np.testing.assert_array_equal(model.predict(lazy, tie_break=tie_break).compute(), want)


@pytest.mark.parametrize("k", [2, 4])
def test_fit_and_predictions_equal_numpy_on_dask_threads(k):
    check_chunkings(k)


def test_triplet_method_and_tie_breaks_equal_numpy():
    check_chunkings(3, method="triplet", tie_break="abstain")
    check_chunkings(2, tie_break="first")


def test_on_a_distributed_cluster_of_two_processes(cluster_client):
    assert len(cluster_client.scheduler_info()["workers"]) == 2
    check_chunkings(3)
    L = label_matrix(2000, 5, 2, seed=9, dtype=np.int64)
    lazy = da.from_array(L, chunks=300)
    model = LabelModel(2).fit(lazy, class_balance=[0.3, 0.7])
    assert_same_fit(model, LabelModel(2).fit(L, class_balance=[0.3, 0.7]))
    assert model.score(lazy, L.max(axis=1).clip(0))["accuracy"] == \
        LabelModel(2).fit(L, class_balance=[0.3, 0.7]).score(L, L.max(axis=1).clip(0))["accuracy"]


def test_fit_predict_proba_is_lazy_and_equal():
    L = label_matrix(800, 4, 3, seed=3)
    lazy = da.from_array(L, chunks=128)
    probs = LabelModel(3).fit_predict_proba(lazy)
    assert isinstance(probs, da.Array)
    np.testing.assert_array_equal(probs.compute(), LabelModel(3).fit_predict_proba(L))


def test_bad_dask_input():
    L = label_matrix(100, 4, 2)
    with pytest.raises(ValueError, match=r"L has a label outside -1..1: L\[57, 2\] = 5"):
        bad = L.copy()
        bad[57, 2] = 5
        LabelModel(2).fit(da.from_array(bad, chunks=20))  # row 57 is row 17 of its chunk
    with pytest.raises(ValueError, match="unknown size.*compute_chunk_sizes"):
        lazy = da.from_array(L, chunks=10)
        LabelModel(2).fit(lazy[lazy[:, 0] >= 0])
    with pytest.raises(TypeError, match="integer labels"):
        LabelModel(2).fit(da.from_array(L.astype(bool), chunks=10))
    with pytest.raises(ValueError, match="2-D"):
        LabelModel(2).fit(da.from_array(L[:, 0], chunks=10))
    model = LabelModel(2).fit(da.from_array(L, chunks=10))
    with pytest.raises(ValueError, match="fitted on 4"):
        model.predict_proba(da.from_array(L[:, :3], chunks=10))


def test_workers_without_weaksup_get_a_clear_error(monkeypatch, cluster_client):
    import importlib.util

    from weaksup import _dask

    real = importlib.util.find_spec
    monkeypatch.setattr(_dask.importlib.util, "find_spec", lambda name: real("no_such_module_" + name))
    with pytest.raises(ModuleNotFoundError, match="weaksup is not installed on the Dask workers.*pip install"):
        LabelModel(2).fit(da.from_array(label_matrix(50, 3, 2), chunks=10))


def test_majority_vote_and_source_analysis_are_reductions():
    from weaksup.sources import SourceAnalysis, infer_cardinality, majority_vote, majority_vote_proba

    weights = np.linspace(0.5, 2.0, 7)
    for L, chunks in cases(label_matrix(1000, 7, 3, seed=5)):
        lazy = da.from_array(L, chunks=chunks)
        assert infer_cardinality(lazy) == infer_cardinality(L) == 3
        fractions = majority_vote_proba(lazy, 3, weights)
        assert isinstance(fractions, da.Array)
        np.testing.assert_array_equal(fractions.compute(), majority_vote_proba(L, 3, weights))
        np.testing.assert_array_equal(majority_vote(lazy, 3).compute(), majority_vote(L, 3))
        ours, theirs = SourceAnalysis(lazy, 3), SourceAnalysis(L, 3)
        for stat in ("label_coverage", "label_overlap", "label_conflict", "coverage", "overlaps", "conflicts",
                     "vote_counts", "polarities"):
            np.testing.assert_array_equal(getattr(ours, stat)(), getattr(theirs, stat)(), err_msg=stat)
    bad = label_matrix(1000, 7, 3, seed=5)
    bad[700, 1] = 7
    with pytest.raises(ValueError, match=r"L\[700, 1\]"):
        majority_vote_proba(da.from_array(bad, chunks=100), 3).compute()


def test_source_analysis_against_gold_labels_sums_over_chunks():
    from weaksup.sources import SourceAnalysis

    L = label_matrix(1000, 5, 3, seed=8)
    Y = np.random.default_rng(8).integers(-1, 3, 1000)
    theirs = SourceAnalysis(L, 3)
    for gold in (Y, da.from_array(Y, chunks=333)):
        ours = SourceAnalysis(da.from_array(L, chunks=((7, 13, 980), -1)), 3)
        for a, b in zip(ours.correct_incorrect(gold), theirs.correct_incorrect(Y)):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(ours.empirical_accuracies(gold), theirs.empirical_accuracies(Y))
        np.testing.assert_array_equal(ours.empirical_probs(gold), theirs.empirical_probs(Y))
        summary, want = ours.summary(gold), theirs.summary(Y)
        for key in want:
            np.testing.assert_array_equal(np.asarray(summary[key], dtype=object), np.asarray(want[key], dtype=object))
    with pytest.raises(ValueError, match="one gold label per item"):
        SourceAnalysis(da.from_array(L, chunks=100), 3).correct_incorrect(Y[:10])


# ------------------------------------------------------------ image batches


def smooth_cams(b, h, w, seed=0):
    rng = np.random.default_rng(seed)
    cams = rng.random((b, h, w)).astype(np.float32)
    for i in range(b):  # one bright block per map, somewhere
        y, x = rng.integers(0, h // 2), rng.integers(0, w // 2)
        cams[i, y:y + h // 3, x:x + w // 3] += 2.0
    return cams


@pytest.mark.parametrize("chunks", [(5, -1, -1), (2, 7, 9), ((3, 30, 4), -1, -1)])
def test_cam_boxes_and_wsol_metrics_equal_numpy(chunks):
    import weaksup
    from weaksup import wsol

    cams = smooth_cams(37, 20, 24, seed=1)
    lazy = da.from_array(cams, chunks=chunks)
    boxes = weaksup.cam_to_boxes(lazy, 0.3)
    assert isinstance(boxes, da.Array)
    np.testing.assert_array_equal(boxes.compute(), weaksup.cam_to_boxes(cams, 0.3))
    np.testing.assert_array_equal(weaksup.cam_to_boxes(lazy[4], 0.5, normalize="max").compute(),
                                  weaksup.cam_to_boxes(cams[4], 0.5, normalize="max"))
    rng = np.random.default_rng(2)
    gt = [np.array([[x, y, x + 7, y + 6]]) for x, y in zip(rng.integers(0, 12, 37), rng.integers(0, 10, 37))]
    right = rng.random(37) < 0.6
    assert wsol.max_box_acc_v2(lazy, gt) == wsol.max_box_acc_v2(cams, gt)
    assert wsol.max_box_acc(lazy, gt) == wsol.max_box_acc(cams, gt)
    ours, theirs = wsol.box_accuracy(lazy, gt, class_correct=right), wsol.box_accuracy(cams, gt, class_correct=right)
    np.testing.assert_array_equal(ours.max_box_acc, theirs.max_box_acc)
    assert ours.top1_loc() == theirs.top1_loc()
    masks = (rng.random(cams.shape) < 0.3).astype(np.uint8)
    assert wsol.pxap(lazy, da.from_array(masks, chunks=(6, -1, -1))) == wsol.pxap(cams, masks)


def test_labels_component_stats_and_dense_crf_equal_numpy(cluster_client):
    import weaksup

    cams = smooth_cams(13, 18, 21, seed=3)
    mask = cams > 1.1
    lazy = da.from_array(mask, chunks=(4, 9, -1))
    labels, counts = weaksup.label(lazy)
    want_labels, want_counts = weaksup.label(mask)
    np.testing.assert_array_equal(labels.compute(), want_labels)
    np.testing.assert_array_equal(counts.compute(), want_counts)
    ours, theirs = weaksup.component_stats(lazy), weaksup.component_stats(mask)
    for field in ("area", "bbox", "centroid", "image", "counts"):
        np.testing.assert_array_equal(getattr(ours, field), getattr(theirs, field), err_msg=field)
    rng = np.random.default_rng(4)
    images = rng.integers(0, 256, (7, 12, 15, 3)).astype(np.uint8)
    probs = rng.random((7, 12, 15, 4))
    probs /= probs.sum(-1, keepdims=True)
    refined = weaksup.dense_crf(da.from_array(images, chunks=(2, 6, -1, -1)), da.from_array(probs, chunks=(3, -1, -1, -1)))
    assert isinstance(refined, da.Array)
    np.testing.assert_array_equal(refined.compute(), weaksup.dense_crf(images, probs))
    one = np.moveaxis(probs[0], -1, 0)
    np.testing.assert_array_equal(weaksup.dense_crf(images[0], da.from_array(one), label_axis=0).compute(),
                                  weaksup.dense_crf(images[0], one, label_axis=0))


def test_bad_dask_image_input():
    import weaksup
    from weaksup import wsol

    cams = da.from_array(smooth_cams(6, 8, 8), chunks=2)
    with pytest.raises(ValueError, match="gt_boxes has 2 entries for 6 maps"):
        wsol.max_box_acc_v2(cams, [np.array([[0, 0, 1, 1]])] * 2)
    with pytest.raises(ValueError, match="cams must be"):
        weaksup.cam_to_boxes(cams[None], 0.5)
    with pytest.raises(ValueError, match="unknown size"):
        weaksup.cam_to_boxes(cams[cams[:, 0, 0] > 0.5], 0.5)
    with pytest.raises(ValueError, match="gt_masks must be a Dask array"):
        wsol.pxap(cams, np.zeros((6, 8, 8), np.uint8))


def test_map_reduce_em_beyond_merge_bytes(monkeypatch):
    """Patterns too many to merge: each EM statistic is a sum over the chunks; the fit
    equals the NumPy fit to rounding (sums in another order), balance and rules included."""
    from weaksup import _dask

    monkeypatch.setattr(_dask, "MERGE_BYTES", 0)
    L = label_matrix(3000, 6, 3, seed=11)
    L[:, 5] = np.where(L[:, 5] == 2, 2, -1)  # a one-class source: the rule statistics run too
    for chunks, kwargs in (((400, -1), {}), (((5, 2000, 995), -1), {"class_balance": [0.2, 0.3, 0.5]})):
        lazy = da.from_array(L, chunks=chunks)
        model, reference = LabelModel(3).fit(lazy, **kwargs), LabelModel(3).fit(L, **kwargs)
        assert model.n_iter_ == reference.n_iter_
        for name in ("conditional_probs_", "class_balance_", "balance_bias_", "history_"):
            np.testing.assert_allclose(getattr(model, name), getattr(reference, name), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(model.predict_proba(lazy).compute(), reference.predict_proba(L), rtol=1e-9,
                                   atol=1e-12)
    with pytest.raises(ValueError, match="MERGE_BYTES.*triplet"):
        LabelModel(3, method="triplet").fit(da.from_array(L, chunks=500))


# ------------------------------------------------------------ votes as a Dask DataFrame


def crowd_answers(n=400, m=9, seed=0):
    """crowd-kit's long format with string ids, shuffled: tasks, workers and labels."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n)
    rows = []
    for i in range(n):
        for j in rng.choice(m, size=int(rng.integers(1, 5)), replace=False):
            answer = truth[i] if rng.random() < 0.7 else int(rng.integers(0, 3))
            rows.append((f"task-{i:04d}", f"worker-{j}", ("cat", "dog", "owl")[answer]))
    frame = pd.DataFrame(rows, columns=["task", "worker", "label"]).sample(frac=1.0, random_state=seed)
    gold = pd.Series([("cat", "dog", "owl")[c] for c in truth], index=[f"task-{i:04d}" for i in range(n)])
    return frame, gold


@pytest.mark.parametrize("partitions", [1, 4, 9])
def test_votes_as_a_dask_dataframe_equal_pandas(partitions):
    import pandas as pd

    dd = pytest.importorskip("dask.dataframe")
    frame, gold = crowd_answers(seed=partitions)
    reference = LabelModel(3).fit(frame)
    lazy = dd.from_pandas(frame, npartitions=partitions)
    model = LabelModel(3).fit(lazy)
    assert_same_fit(model, reference)
    assert list(model.source_ids_) == list(reference.source_ids_)
    assert list(model.classes_) == list(reference.classes_)
    assert list(model.item_ids_) == list(reference.item_ids_)
    probs = model.predict_proba(lazy)
    assert isinstance(probs, dd.DataFrame)
    pd.testing.assert_frame_equal(probs.compute(), reference.predict_proba(frame))
    pd.testing.assert_series_equal(model.predict(lazy).compute(), reference.predict(frame))
    assert model.score(lazy, gold) == reference.score(frame, gold)
    fitted_on_pandas = reference.predict_proba(lazy)  # predicting on a Dask frame with a pandas fit
    pd.testing.assert_frame_equal(fitted_on_pandas.compute(), reference.predict_proba(frame))


def test_bad_dask_dataframes():
    dd = pytest.importorskip("dask.dataframe")
    frame, _ = crowd_answers(60)
    with pytest.raises(ValueError, match="no column"):
        LabelModel(3).fit(dd.from_pandas(frame.drop(columns="worker"), npartitions=2))
    with pytest.raises(ValueError, match="cardinality=2"):
        LabelModel(2).fit(dd.from_pandas(frame, npartitions=2))
    model = LabelModel(3).fit(dd.from_pandas(frame, npartitions=2))
    unseen = frame.copy()
    unseen.iloc[5, 1] = "worker-new"
    with pytest.raises(ValueError, match="worker-new"):
        model.predict_proba(dd.from_pandas(unseen, npartitions=3)).compute()
    with pytest.raises(ValueError, match="holds no votes"):
        LabelModel(3).fit(dd.from_pandas(frame.iloc[:0], npartitions=1))
    twice = frame.copy()
    twice.iloc[1] = twice.iloc[0]
    with pytest.raises(ValueError, match="two votes"):
        LabelModel(3).fit(dd.from_pandas(twice, npartitions=2))
