"""Bad input to the label models: a ValueError / TypeError naming the argument, inputs never
modified, no crash."""

import numpy as np
import pytest

from weaksup.labelmodel import LabelModel

L_OK = np.array([[0, 1, -1], [1, 1, 0], [-1, -1, -1], [0, 0, 1]], dtype=np.int8)


@pytest.mark.parametrize("L,error,words", [
    (np.array([[0, 2]]), ValueError, "outside -1..1"),
    (np.array([[0, -2]]), ValueError, "outside -1..1"),
    (np.array([[0.5, 1.0]]), ValueError, "non-integer"),
    (np.array([[np.nan, 1.0]]), ValueError, "NaN"),
    (np.array([0, 1, 1]), ValueError, "2-D"),
    (np.zeros((0, 3), int), ValueError, "empty"),
    (np.zeros((3, 0), int), ValueError, "empty"),
    (np.array([[True, False]]), TypeError, "integer labels"),
    (np.array([["a", "b"]]), TypeError, "integer labels"),
])
def test_bad_label_matrix(L, error, words):
    before = L.copy()
    with pytest.raises(error, match=words) as info:
        LabelModel(2).fit(L)
    assert "L" in str(info.value)
    np.testing.assert_array_equal(L, before)


def test_bad_label_reports_where():
    L = np.zeros((100, 4), np.int64)
    L[57, 2] = 9
    with pytest.raises(ValueError, match=r"L\[57, 2\] = 9"):
        LabelModel(3).fit(L)


def test_bad_y_dev_and_class_balance():
    model = LabelModel(2)
    with pytest.raises(ValueError, match="Y_dev"):
        model.fit(L_OK, Y_dev=np.array([0, 2]))
    with pytest.raises(ValueError, match="Y_dev"):
        model.fit(L_OK, Y_dev=np.zeros((2, 2), int))
    with pytest.raises(ValueError, match="sum to 1"):
        model.fit(L_OK, class_balance=[0.5, 0.6])
    with pytest.raises(ValueError, match="class_balance"):
        model.fit(L_OK, class_balance=[1.0])
    with pytest.raises(ValueError, match="class_balance"):
        model.fit(L_OK, class_balance=[1.0, 0.0])


def test_bad_gold_in_score():
    model = LabelModel(2).fit(L_OK)
    with pytest.raises(ValueError, match="Y"):
        model.score(L_OK, [0, 1])
    with pytest.raises(ValueError, match="Y"):
        model.score(L_OK, [0, 1, 5, 0])


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="cardinality"):
        LabelModel(1)
    with pytest.raises(TypeError, match="cardinality"):
        LabelModel(2.5)
    with pytest.raises(ValueError, match="confusion"):
        LabelModel(2, confusion="diagonal")
    with pytest.raises(ValueError, match="abstain"):
        LabelModel(2, abstain="drop")
    with pytest.raises(ValueError, match="smoothing"):
        LabelModel(2, smoothing=-1)
    with pytest.raises(ValueError, match="max_iter"):
        LabelModel(2, max_iter=0)


def test_predict_before_fit_and_wrong_sources():
    with pytest.raises(ValueError, match="not fitted"):
        LabelModel(2).predict(L_OK)
    model = LabelModel(2).fit(L_OK)
    with pytest.raises(ValueError, match="3"):
        model.predict(L_OK[:, :2])


def test_bad_triplets_and_sparse():
    model = LabelModel(2)
    with pytest.raises(ValueError, match="one length"):
        model.fit((np.array([0, 1]), np.array([0]), np.array([1, 0])))
    with pytest.raises(ValueError, match="two votes"):
        model.fit((np.array([0, 0]), np.array([1, 1]), np.array([1, 0])))
    with pytest.raises(ValueError, match="indices from 0"):
        model.fit((np.array([-1, 0]), np.array([0, 1]), np.array([1, 0])))
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(ValueError, match="outside"):
        model.fit(sparse.csr_matrix(np.array([[0, 3], [1, 0]])))


def test_gpu_array_without_cuda(monkeypatch):
    class FakeCuda:
        __cuda_array_interface__ = {"shape": (2, 2), "typestr": "<i1", "data": (0, False), "version": 3}

    monkeypatch.setenv("WEAKSUP_DISABLE_CUDA", "1")
    from weaksup import _arrays

    _arrays._load_cuda.cache_clear()
    try:
        with pytest.raises(TypeError, match="CUDA"):
            LabelModel(2).fit(FakeCuda())
    finally:
        _arrays._load_cuda.cache_clear()
