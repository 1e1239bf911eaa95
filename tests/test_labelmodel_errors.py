"""Bad input to the label models: a ValueError / TypeError naming the argument, inputs never
modified, no crash."""

import subprocess
import sys
import textwrap

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


# ---------------------------------------------------------------- votes with ids; sizes past memory


def test_memory_explosions_are_value_errors_before_allocating():
    """Sizes that asked NumPy for tens of GiB (MemoryError, or the machine's memory taken)
    are refused with the estimate: item indices far apart for few votes (16 GiB of row
    offsets for 2 votes), (n, k) probabilities of 240 GiB, crowd-kit tables of 80 GiB. Run
    under an address-space limit, so that a regression fails instead of swapping."""
    code = textwrap.dedent("""
        import resource, numpy as np, pandas as pd, scipy.sparse as sp
        from weaksup import LabelModel
        from weaksup.compat import crowdkit
        from weaksup.sources import majority_vote_proba
        with open("/proc/self/statm") as f:
            used = int(f.read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (used + 3 * 2**30, resource.RLIM_INFINITY))
        tall = np.zeros((10**7, 1), np.int8)
        distinct = pd.DataFrame({"task": np.arange(10**5), "worker": 0, "label": np.arange(10**5)})
        cases = {
            "far items": lambda: LabelModel(2).fit((np.array([0, 2**31 - 2]), np.array([0, 0]), np.array([1, 0]))),
            "sparse rows": lambda: LabelModel(2).fit(sp.coo_matrix(([1], ([5], [0])), shape=(2**31 - 1, 1))),
            "probabilities": lambda: LabelModel(3000, max_iter=1).fit(tall[:4]).predict_proba(tall),
            "majority vote": lambda: majority_vote_proba(tall, 3000),
            "crowd-kit table": lambda: crowdkit.MajorityVote().fit(distinct),
        }
        for name, case in cases.items():
            try:
                case()
                print(name, "accepted")
            except ValueError as e:
                print(name, "ValueError", "MAX_BYTES" in str(e) and "GiB" in str(e))
            except MemoryError:
                print(name, "MemoryError")
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")[:-1]
    assert lines == [f"{name} ValueError True" for name in ("far items", "sparse rows", "probabilities",
                                                             "majority vote", "crowd-kit table")], out.stdout
    # the messages say what to do
    with raises(ValueError, "item indices up to 2147483646 for 2 votes", "numpy.unique", "ids"):
        LabelModel(2).fit((np.array([0, 2**31 - 2]), np.array([0, 0]), np.array([1, 0])))
    with raises(ValueError, "cardinality=100000", "149 GiB of float64", "MAX_TABLE_ENTRIES"):
        LabelModel(100000).fit([[0, 1]])


def test_a_dataframe_of_votes_is_read_as_votes():
    pd = pytest.importorskip("pandas")
    # integer columns task, worker, label used to be read as a dense (n, 3) label matrix
    frame = pd.DataFrame({"task": [0, 0, 1, 2], "worker": [5, 7, 5, 7], "label": [1, 1, 0, 1]})
    model = LabelModel(2).fit(frame)
    assert model.n_sources_ == 2 and list(model.source_ids_) == [5, 7]
    np.testing.assert_array_equal(model.predict_proba(frame).to_numpy(),
                                  LabelModel(2).fit(np.array([[1, 1], [0, -1], [-1, 1]])).predict_proba(
                                      np.array([[1, 1], [0, -1], [-1, 1]])))
    # ... and where ids are not taken, refused rather than read as a matrix
    from weaksup.labelmodel import collapse
    from weaksup.sources import SourceAnalysis, majority_vote

    for call_ in (lambda: collapse(frame, 2), lambda: majority_vote(frame, 2), lambda: SourceAnalysis(frame)):
        with raises(TypeError, "DataFrame of votes", "LabelModel"):
            call_()


def test_bad_ids_are_named_where_they_are():
    pd = pytest.importorskip("pandas")
    # each used to be a TypeError about numeric arrays, or (integer ids) a silent misreading
    with raises(ValueError, r"L\[0\] \(item ids\) contains None at position 3"):
        LabelModel(2).fit((np.array(["a", "b", "c", None], dtype=object), ["u", "v", "u", "v"], [0, 1, 0, 1]))
    with raises(TypeError, r"L\[1\] \(source ids\)", "hashable", "position 1"):
        LabelModel(2).fit((["a", "b"], np.array(["u", [1]], dtype=object), [0, 1]))
    with raises(ValueError, r"L\[2\]\[1\] = 7 is outside -1..1"):
        LabelModel(2).fit((["a", "b"], ["u", "v"], [0, 7]))
    tasks = [f"t{i}" for i in range(20)]
    frame = pd.DataFrame({"task": tasks, "worker": ["w"] * 20, "label": ["x", "y"] * 10})
    frame.loc[17, "task"] = np.nan
    with raises(ValueError, "L's task column has a missing value", "row 17"):
        LabelModel(2).fit(frame)
    twice = pd.DataFrame({"task": ["t1", "t2", "t1"], "worker": ["ann", "ann", "ann"], "label": ["x", "y", "y"]})
    with raises(ValueError, "two votes of source 'ann' on item 't1'"):
        LabelModel(2).fit(twice)
    with raises(ValueError, "no column", "worker"):
        LabelModel(2).fit(twice.drop(columns="worker"))
    model = LabelModel(2).fit((["a", "b"], ["u", "v"], [0, 1]))
    with raises(ValueError, r"L\[1\] \(source ids\) has source 'zed' at position 1, which the model was not fitted"):
        model.predict_proba((["a", "b"], ["u", "zed"], [0, 1]))
    with raises(ValueError, r"source 'zed'.*fitted on"):  # fitted on indices: ids are not among 0..m-1
        LabelModel(2).fit(np.array([[0, 1]])).predict((np.array([0]), ["zed"], [0]))


@pytest.mark.parametrize("dtype", [">i2", ">i4", ">i8", ">u2", ">u4", ">f4", ">f8"])
def test_big_endian_arrays_are_read_everywhere(dtype):
    sparse = pytest.importorskip("scipy.sparse")
    L = np.array([[0, 1, -1], [1, 1, 0], [-1, 0, 1], [0, 0, 1]])
    unsigned = np.dtype(dtype).kind == "u"
    ref = LabelModel(2).fit(L, Y_dev=np.array([0, 1]), class_balance=None)
    as_be = (np.where(L < 0, 0, L) if unsigned else L).astype(dtype)
    expect = LabelModel(2).fit(np.where(L < 0, 0, L) if unsigned else L)
    np.testing.assert_array_equal(LabelModel(2).fit(as_be).predict_proba(as_be), expect.predict_proba(as_be.astype(
        as_be.dtype.newbyteorder("="))))
    rows, cols = np.nonzero(L >= 0)
    triplets = tuple(a.astype(dtype) for a in (rows, cols, L[rows, cols]))
    model = LabelModel(2).fit(triplets, Y_dev=np.array([0, 1]).astype(dtype))
    np.testing.assert_array_equal(model.predict_proba(triplets), ref.predict_proba(L))
    coo = sparse.coo_matrix((L[rows, cols], (rows, cols)), shape=L.shape)
    coo.row, coo.col = rows.astype(dtype), cols.astype(dtype)  # scipy keeps big-endian indices given this way
    np.testing.assert_array_equal(LabelModel(2).fit(coo).predict_proba(coo), LabelModel(2).fit(L).predict_proba(L))
    model.score(L, np.array([0, 1, 1, 0]).astype(dtype))
    LabelModel(2).fit(L, class_balance=np.array([0.25, 0.75]).astype(">f8"))


def test_huge_unsigned_labels_are_refused_on_every_path():
    sparse = pytest.importorskip("scipy.sparse")
    top = np.uint64(2**64 - 1)
    L = np.array([[0, 1], [1, 0]], dtype=np.uint64)
    L[1, 1] = top
    model = LabelModel(2).fit(L_OK)
    for call_, where in ((lambda: LabelModel(2).fit(np.array([[top, 0]])), r"L\[0, 0\]"),
                         (lambda: LabelModel(2).fit(L), r"L\[1, 1\] = 18446744073709551615"),
                         (lambda: LabelModel(2).fit(sparse.csr_matrix(L)), r"L.data\[\d\] = 18446744073709551615"),
                         (lambda: LabelModel(2).fit((np.array([0, 1], np.uint64), np.array([0, 0], np.uint64),
                                                     np.array([1, top], np.uint64))),
                          r"L\[2\]\[1\] = 18446744073709551615"),
                         (lambda: LabelModel(2).fit((np.array([top]), np.array([0]), np.array([1]))), r"L\[0\]\[0\]"),
                         (lambda: LabelModel(2).fit(L_OK, Y_dev=np.array([0, top])), r"Y_dev\[1\]"),
                         (lambda: model.score(L_OK, np.array([0, 1, 0, top])), r"Y\[3\]"),
                         (lambda: LabelModel(2).fit(L_OK[:, :2]).predict(L.astype(">u8")),
                          r"L\[1, 1\] = 18446744073709551615")):
        with raises(ValueError, where):
            call_()
