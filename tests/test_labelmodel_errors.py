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


# ---------------------------------------------------------------- regressions (issue 11)


def raises(exc, *words):
    return pytest.raises(exc, match="(?s)" + "".join(f"(?=.*{w})" for w in words))


def test_float_labels_are_range_checked_before_the_cast():
    # 1e300 used to be cast to int64 first and reported as L[0, 1] = -9223372036854775808
    for value, shown in ((1e300, r"1e\+300"), (-1e300, r"-1e\+300"), (3e9, "3000000000"), (2.0, "= 2;")):
        with raises(ValueError, r"L\[0, 1\]", shown, "outside -1..1"):
            LabelModel(2).fit(np.array([[0.0, value]]))
    with raises(ValueError, r"L\[2\]\[0\] = 1e\+300"):
        LabelModel(2).fit((np.array([0]), np.array([0]), np.array([1e300])))
    with raises(ValueError, r"Y_dev\[1\] = 1e\+300"):
        LabelModel(2).fit(L_OK, Y_dev=np.array([0.0, 1e300]))
    from weaksup.sources import SourceAnalysis

    with raises(ValueError, r"Y\[0\] = 1e\+300"):
        SourceAnalysis(L_OK).correct_incorrect(np.array([1e300, 0, 0, 0]))


def test_huge_unsigned_labels_are_not_abstains():
    # uint64 2^64 - 1 used to become -1 (abstain) in the cast to int64 and was silently accepted
    L = np.array([[0, 1], [1, 2**64 - 1]], dtype=np.uint64)
    with raises(ValueError, r"L\[1, 1\] = 18446744073709551615"):
        LabelModel(2).fit(L)
    sparse = pytest.importorskip("scipy.sparse")
    with raises(ValueError, "18446744073709551615"):
        LabelModel(2).fit(sparse.csr_matrix(L))


def test_threads_past_int32_name_threads():
    from weaksup.compat import crowdkit
    from weaksup.sources import SourceAnalysis, majority_vote

    for make in (lambda: LabelModel(2, threads=2**31), lambda: majority_vote(L_OK, 2, threads=2**31),
                 lambda: SourceAnalysis(L_OK, threads=2**31), lambda: crowdkit.DawidSkene(threads=2**31)):
        with raises(ValueError, "threads"):
            make()
    with raises(TypeError, "threads"):
        LabelModel(2, threads=1.5)


def test_constructor_arguments_of_the_wrong_type_are_type_errors():
    for kwargs, name in (({"smoothing": "a"}, "smoothing"), ({"tol": "a"}, "tol"), ({"max_iter": 1.5}, "max_iter"),
                         ({"seed": 1.5}, "seed"), ({"seed": "a"}, "seed")):
        with raises(TypeError, name):
            LabelModel(2, **kwargs)
    with raises(ValueError, "seed"):  # used to fail only in predict, without naming seed
        LabelModel(2, seed=-1)


def test_cardinality_too_large_for_the_tables_is_a_value_error():
    # used to raise MemoryError allocating (m, k + 1, k) tables
    with raises(ValueError, "cardinality"):
        LabelModel(10**6).fit(L_OK)
    with raises(ValueError, "cardinality"):
        LabelModel(2**40)
    from weaksup.sources import majority_vote_proba

    with raises(ValueError, "cardinality"):
        majority_vote_proba(L_OK, 10**6)


def test_probabilities_to_labels_checks_probs():
    import weaksup

    # a list used to need CuPy (ModuleNotFoundError); NaN rows became class 0; 3-D arrays passed
    np.testing.assert_array_equal(weaksup.probabilities_to_labels([[0.2, 0.8]]), [1])
    with raises(ValueError, "probs", "NaN"):
        weaksup.probabilities_to_labels(np.array([[np.nan, 0.5]]))
    with raises(ValueError, "probs", "2-D"):
        weaksup.probabilities_to_labels(np.zeros((2, 2, 2)))
    with raises(ValueError, "probs", "2-D"):
        weaksup.probabilities_to_labels(np.zeros((2, 0)))
    with raises(TypeError, "probs"):
        weaksup.probabilities_to_labels(np.array([["a", "b"]]))
    with raises(TypeError, "seed"):
        weaksup.probabilities_to_labels(np.ones((1, 2)), seed="a")
    torch = pytest.importorskip("torch")
    out = weaksup.probabilities_to_labels(torch.tensor([[0.1, 0.9]]))  # used to need CuPy
    assert isinstance(out, torch.Tensor) and out.tolist() == [1]


def test_score_takes_a_pandas_series_and_checks_metrics():
    pd = pytest.importorskip("pandas")
    model = LabelModel(2).fit(L_OK)
    Y = [0, 1, 0, 1]
    # Series.get() used to be called as if Y were a CuPy array (TypeError)
    assert model.score(L_OK, pd.Series(Y)) == model.score(L_OK, np.array(Y))
    with raises(TypeError, "metrics"):
        model.score(L_OK, Y, metrics=None)
    with raises(ValueError, "metrics"):
        model.score(L_OK, Y, metrics=["precision"])
    with raises(TypeError, "return_probs"):
        model.predict(L_OK, return_probs="yes")


def test_load_of_a_damaged_file_is_a_value_error(tmp_path):
    model = LabelModel(2).fit(L_OK)
    good = tmp_path / "model.npz"
    model.save(good)
    data = good.read_bytes()
    for name, content in (("truncated", data[: len(data) // 2]), ("garbage", b"garbage" * 10)):
        path = tmp_path / name
        path.write_bytes(content)
        with raises(ValueError, name):  # BadZipFile / pickle refusal
            LabelModel.load(path)
    keys = tmp_path / "keys.npz"
    np.savez(keys, config=np.asarray("{}"))  # used to raise KeyError
    with raises(ValueError, "keys.npz"):
        LabelModel.load(keys)
    with raises(TypeError, "path"):
        model.save(None)


def test_source_analysis_arguments():
    from weaksup.sources import SourceAnalysis, infer_cardinality, majority_vote_proba

    a = SourceAnalysis(L_OK)
    with raises(TypeError, "normalize_by_coverage"):  # used to be taken as True
        a.overlaps("x")
    with raises(ValueError, r"L\[0, 0\] = 1e\+300"):  # used to infer a 301-digit cardinality
        infer_cardinality(np.array([[1e300]]))
    with raises(ValueError, "weights", "overflow"):  # used to give NaN probabilities
        majority_vote_proba(L_OK, 2, weights=[1e308] * 3)
    with raises(TypeError, "weights"):
        majority_vote_proba(L_OK, 2, weights="abc")
    # classes far apart: analysis costs O(votes), not O(items x classes)
    big = np.array([[0, 10**9], [10**9, 10**9], [-1, 3]])
    b = SourceAnalysis(big)
    assert b.polarities() == [[0, 10**9], [3, 10**9]]
    assert b.label_conflict() == pytest.approx(1 / 3)
    np.testing.assert_array_equal(b.correct_incorrect([0, 10**9, 3])[0], [2, 2])


def test_snorkel_layer_arguments():
    from weaksup.compat import snorkel

    model = snorkel.LabelModel(2)
    for kwargs, name in (({"n_epochs": "x"}, "n_epochs"), ({"seed": 1.5}, "seed"), ({"lr": "x"}, "lr"),
                         ({"progress_bar": "x"}, "progress_bar"), ({"optimizer_config": 5}, "optimizer_config")):
        with raises(TypeError, name):  # used to be ignored, or a NumPy error without the name
            model.fit(L_OK, **kwargs)
    with raises(ValueError, "seed"):
        model.fit(L_OK, seed=2**40)
    with raises(ValueError, "prec_init"):
        model.fit(L_OK, prec_init=[0.5, 0.5])
    model.fit(L_OK)
    with raises(ValueError, "Y", "4 data points"):  # used to be a NumPy broadcasting error
        model.score(L_OK, [0, 1])
    with raises(ValueError, r"Y\[0\] = 1e\+300"):  # used to become INT64_MIN
        model.score(L_OK, np.array([1e300, 0, 0, 1]))
    with raises(ValueError, "probs", "NaN"):  # used to raise ZeroDivisionError
        snorkel.probs_to_preds(np.array([[np.nan, 0.5]]))
    with raises(ValueError, "tol"):  # tol=0 tied no class: ZeroDivisionError choosing among none
        snorkel.probs_to_preds(np.array([[0.5, 0.5]]), "random", tol=0.0)
    # float16 probabilities used to round tol=1e-300 to 0 (no class tied: ZeroDivisionError)
    np.testing.assert_array_equal(snorkel.probs_to_preds(np.array([[0.4, 0.6]], np.float16), tol=1e-300), [1])
    with raises(TypeError, "lfs"):  # used to raise AttributeError
        snorkel.LFAnalysis(L_OK, lfs=[1, 2, 3])
    with raises(TypeError, "est_weights"):  # used to land in the summary as a column of "ab"
        snorkel.LFAnalysis(L_OK).lf_summary(est_weights="ab")
    with raises(ValueError, "cardinality"):  # used to raise MemoryError
        snorkel.LFAnalysis(L_OK).lf_empirical_probs(np.array([0, 1, 0, 0]), 10**6)


def test_crowdkit_layer_errors_and_weights():
    pd = pytest.importorskip("pandas")
    from weaksup.compat import crowdkit

    frame = pd.DataFrame({"task": [1, 1, 2, 2, 3], "worker": ["a", "b", "a", "b", "a"], "label": [0, 1, 1, 1, 0]})
    for agg in (crowdkit.MajorityVote(), crowdkit.DawidSkene(n_iter=3)):
        with pytest.raises(KeyError, match="label") as info:  # crowd-kit's type, also a ValueError
            agg.fit(frame[["task", "worker"]])
        assert isinstance(info.value, ValueError)
        with raises(TypeError, "DataFrame"):  # used to raise IndexError
            agg.fit(np.zeros((3, 3)))
    with raises(TypeError, "n_iter"):  # used to be accepted
        crowdkit.DawidSkene(n_iter=1.5)
    with raises(TypeError, "tol"):
        crowdkit.DawidSkene(tol="x")
    with raises(ValueError, "initial_error_strategy"):
        crowdkit.DawidSkene(initial_error_strategy="addone")
    mv = crowdkit.MajorityVote()
    for skills in ({"a": -1.0, "b": 1.0}, {"a": np.inf, "b": 1.0}, {"a": 0.0, "b": 0.0}):  # used to give NaN
        with raises(ValueError, "skill"):
            mv.fit(frame, skills=pd.Series(skills))
    with raises(TypeError, "skills"):  # used to be reported as missing skills
        mv.fit(frame, skills="x")
    empty = mv.fit(frame.iloc[:0])  # used to raise (argmax of an empty sequence); crowd-kit's empty results
    assert empty.probas_.empty and empty.labels_.empty and empty.skills_.empty


def test_crowdkit_majority_vote_ignores_unknown_skills_as_crowdkit():
    pd = pytest.importorskip("pandas")
    ck = pytest.importorskip("crowdkit.aggregation")
    from weaksup.compat import crowdkit

    frame = pd.DataFrame({"task": ["x", "x", "y", "y"], "worker": ["a", "b", "a", "c"], "label": [1, 0, 0, 0]})
    skills = pd.Series({"a": 2.0, "c": 1.0})
    # on_missing_skill="ignore" used to raise NotImplementedError
    ours = crowdkit.MajorityVote(on_missing_skill="ignore").fit(frame, skills)
    ref = ck.MajorityVote(on_missing_skill="ignore").fit(frame, skills)
    pd.testing.assert_frame_equal(ours.probas_, ref.probas_)
    pd.testing.assert_series_equal(ours.labels_, ref.labels_)
    pd.testing.assert_series_equal(ours.skills_, ref.skills_)
    with raises(ValueError, "known skill"):
        crowdkit.MajorityVote(on_missing_skill="ignore").fit(frame, pd.Series({"b": 1.0}))


def test_crowdkit_weighted_majority_vote_orders_as_crowdkit():
    pd = pytest.importorskip("pandas")
    ck = pytest.importorskip("crowdkit.aggregation")
    from weaksup.compat import crowdkit

    # weighted votes: crowd-kit's group-by sorts tasks and labels (unweighted: first appearance);
    # the layer used to keep first-appearance order for both
    frame = pd.DataFrame({"task": ["y", "x", "x", "y"], "worker": ["a", "b", "a", "c"], "label": [1, 0, 1, 0]})
    skills = pd.Series({"a": 1.0, "b": 1.0, "c": 1.0})
    ours, ref = crowdkit.MajorityVote().fit(frame, skills), ck.MajorityVote().fit(frame, skills)
    pd.testing.assert_frame_equal(ours.probas_, ref.probas_)
    pd.testing.assert_series_equal(ours.labels_, ref.labels_)  # ties go to the first label in that order
    pd.testing.assert_series_equal(ours.skills_, ref.skills_)


def test_tables_are_probabilities_and_saved_models_load(tmp_path):
    # a source voting on every item: coverage rounded to 1 + 2e-16 gave P(abstain) = -2.2e-16
    L = np.array([[1, 1], [1, 0], [0, 0], [0, 0], [0, 1], [1, 1], [1, 1], [1, 1], [1, 1]])
    for confusion, abstain in (("symmetric", "observed"), ("full", "observed"), ("full", "ignored")):
        model = LabelModel(2, confusion=confusion, abstain=abstain, smoothing=0.0, max_iter=1).fit(L)
        assert (model.conditional_probs_ >= 0).all() and (model.conditional_probs_ <= 1).all()
        model.save(tmp_path / "m.npz")
        np.testing.assert_array_equal(LabelModel.load(tmp_path / "m.npz").predict_proba(L), model.predict_proba(L))


def test_macro_f1_with_a_huge_cardinality_is_immediate():
    """f1_macro / f1_micro looped over every class 0..k-1: the largest k took hours."""
    from weaksup.labelmodel import classification_metrics

    Y, preds = np.array([0, 1, 2, 1]), np.array([0, 1, 1, -1])
    small = classification_metrics(Y, preds, 3, ["f1_macro", "f1_micro"])
    assert small == pytest.approx({"f1_macro": 0.5, "f1_micro": 4 / 7})
    huge = classification_metrics(Y, preds, 2**31 - 2, ["f1_macro", "f1_micro"])
    assert huge == pytest.approx({"f1_macro": 1.5 / (2**31 - 2), "f1_micro": 4 / 7})
