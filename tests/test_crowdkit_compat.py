"""weaksup.compat.crowdkit against the installed crowd-kit (1.4.2, under the installed pandas;
those tests skip without it), against Dawid & Skene's EM written out below in NumPy, and
against the native LabelModel; on random answers and on the Dog crowd data (skipped when the
shared data folder is absent).

Measured when these tests were written (Dog: 8070 answers, 807 tasks, 4 labels): for n_iter
from 0 to 100 (crowd-kit stops after 14 at tol=1e-5), with gold labels and with initial error
matrices, probas_, errors_ and priors_ agree with crowd-kit within 1e-14, loss_history_ within
1e-15, labels_ and the number of iterations exactly.
"""

import numpy as np
import pytest
from conftest import SHARED_DATA

import weaksup
from weaksup.compat import crowdkit as wck

pd = pytest.importorskip("pandas")
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

EPS = 1e-10


def crowdkit():
    return pytest.importorskip("crowdkit.aggregation")


def dog():
    folder = SHARED_DATA / "crowd_dog"
    if not (folder / "answer.csv").is_file():
        pytest.skip(f"{folder} not found (the shared data folder is absent)")
    answers = pd.read_csv(folder / "answer.csv").rename(columns={"question": "task", "answer": "label"})
    truth = pd.read_csv(folder / "truth.csv").set_index("question")["truth"]
    return answers, truth


@st.composite
def answer_frames(draw):
    """crowd-kit answers: up to 12 tasks and 6 workers, 1 to 4 labels (integers, strings or
    booleans), each worker answering each task with probability 0.7, rows in random order."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_tasks, n_workers = draw(st.integers(1, 12)), draw(st.integers(1, 6))
    kind = draw(st.sampled_from(["int", "str", "bool"]))
    k = 2 if kind == "bool" else draw(st.integers(1, 4))
    labels = {"int": [7, 3, 5, 1][:k], "str": ["dog", "cat", "owl", "ant"][:k], "bool": [True, False]}[kind]
    tasks = rng.permutation(100)[:n_tasks]
    if draw(st.booleans()):
        tasks = [f"t{t}" for t in tasks]
    rows = [(t, f"w{w}", labels[rng.integers(k)]) for t in tasks for w in range(n_workers) if rng.random() < 0.7]
    rows = rows or [(tasks[0], "w0", labels[0])]
    return pd.DataFrame([rows[i] for i in rng.permutation(len(rows))], columns=["task", "worker", "label"])


@st.composite
def dawid_skene_fits(draw):
    """(answers, DawidSkene arguments, fit keyword arguments): n_iter, tol, maybe gold labels
    for some tasks, maybe initial errors (counts for some workers to add, or probabilities for
    every worker to assign, columns in random order)."""
    frame = draw(answer_frames())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    tasks, workers = pd.unique(frame["task"]), pd.unique(frame["worker"])
    labels = pd.unique(frame["label"])
    strategy = draw(st.sampled_from([None, "addition", "assign"]))
    args = dict(n_iter=draw(st.integers(0, 6)), tol=draw(st.sampled_from([1e-5, 1e-3, -np.inf])),
                initial_error_strategy=strategy)
    fit = {}
    if draw(st.booleans()):
        chosen = tasks[rng.random(len(tasks)) < 0.4]
        fit["true_labels"] = pd.Series(labels[rng.integers(len(labels), size=len(chosen))], index=chosen)
    columns = labels[rng.permutation(len(labels))]
    if strategy == "addition":
        some = workers[rng.random(len(workers)) < 0.5]
        index = pd.MultiIndex.from_product([some, labels], names=["worker", "label"])
        fit["initial_error"] = pd.DataFrame(rng.integers(0, 6, (len(index), len(labels))).astype(float),
                                            index=index, columns=columns)
    elif strategy == "assign":
        index = pd.MultiIndex.from_product([workers, labels], names=["worker", "label"])
        values = rng.random((len(workers), len(labels), len(labels))) + 0.05
        values /= values.sum(axis=1, keepdims=True)  # per worker, each true label's column sums to 1
        fit["initial_error"] = pd.DataFrame(values.reshape(-1, len(labels)), index=index, columns=columns)
    return frame, args, fit


def assert_as_crowdkit(ours, ref, atol=1e-9):
    """The same layouts (index and label orders, names, dtypes) and numbers; labels_ the same
    wherever the top two probabilities are not tied within rounding."""
    for name in ("probas_", "errors_"):
        pd.testing.assert_frame_equal(getattr(ours, name), getattr(ref, name), rtol=0, atol=atol)
    pd.testing.assert_series_equal(ours.priors_, ref.priors_, rtol=0, atol=atol)
    pd.testing.assert_index_equal(ours.labels_.index, ref.labels_.index)
    assert ours.labels_.name == ref.labels_.name and ours.labels_.dtype == ref.labels_.dtype
    top = np.sort(ref.probas_.to_numpy(dtype=np.float64), axis=1)
    clear = top[:, -1] - top[:, -2] > 1e-9 if top.shape[1] > 1 else np.ones(len(top), bool)
    np.testing.assert_array_equal(ours.labels_.to_numpy()[clear], ref.labels_.to_numpy()[clear])
    assert len(ours.loss_history_) == len(ref.loss_history_)
    np.testing.assert_allclose(ours.loss_history_, ref.loss_history_, rtol=0, atol=1e-12)


def copy(value):
    return value.copy() if hasattr(value, "copy") else value


def both(ours, ref, *args, **kwargs):
    """Fit weaksup's and crowd-kit's aggregator on the same input: crowd-kit on copies (its
    "assign" normalises initial_error in place), weaksup's on the input, which it must leave
    as it was."""
    inputs = [*args, *kwargs.values()]
    before = [copy(value) for value in inputs]
    ref.fit(*map(copy, args), **{name: copy(value) for name, value in kwargs.items()})
    ours.fit(*args, **kwargs)
    for value, kept in zip(inputs, before):
        assert value is None or value.equals(kept)
    return ours, ref


# ================================================================ Dawid-Skene


def reference_dawid_skene(frame, n_iter, tol):
    """Dawid & Skene's EM as crowd-kit runs it, written out on dense (task, worker, label)
    arrays: start from the majority vote's fractions; each round is an E-step (posterior of
    each task's label from the prior and the error matrices), an M-step (prior = mean
    posterior; error matrix = expected counts per (worker, given label, true label), floored
    at 1e-10 over the labels the worker gave, normalised per true label) and the loss: the
    expected log joint, the prior counted once per answer, plus the entropy of the posteriors
    clipped at 1e-10, per answer. Stops when the loss rises by less than tol. Returns the
    posteriors (clipped, as computing the loss leaves them), prior, errors (worker, given,
    true) and the losses."""
    task, _ = pd.factorize(frame["task"])
    worker, _ = pd.factorize(frame["worker"])
    label, labels = pd.factorize(frame["label"])
    T, W, K = task.max() + 1, worker.max() + 1, len(labels)
    A = np.zeros((T, W, K))
    A[task, worker, label] = 1.0
    gave = A.any(axis=0)[:, :, None]  # (W, K, 1): the labels each worker gave

    def m_step(q):
        counts = np.where(gave, np.maximum(np.einsum("twl,ty->wly", A, q), EPS), 0.0)
        return q.mean(axis=0), counts / counts.sum(axis=1, keepdims=True)

    def log_errors(e):
        return np.log(np.where(gave, e, 1.0))

    def e_step(p, e):
        s = np.log(np.maximum(p, EPS)) + np.einsum("twl,wly->ty", A, log_errors(e))
        q = np.exp(s - s.max(axis=1, keepdims=True))
        return q / q.sum(axis=1, keepdims=True)

    def loss(q, p, e):
        joint = np.einsum("twl,ty,wly->", A, q, log_errors(e)) + A.sum(axis=(1, 2)) @ (q @ np.log(np.maximum(p, EPS)))
        clipped = np.maximum(q, EPS)
        return (joint - (clipped * np.log(clipped)).sum()) / A.sum()

    q = A.sum(axis=1) / A.sum(axis=(1, 2))[:, None]
    p, e = m_step(q)
    history = []
    for _ in range(n_iter):
        q = e_step(p, e)
        p, e = m_step(q)
        history.append(loss(q, p, e))
        if len(history) > 1 and history[-1] - history[-2] < tol:
            break
    return (np.maximum(q, EPS) if history else q), p, e, history


@given(answer_frames(), st.integers(0, 6), st.sampled_from([1e-5, 1e-3, -np.inf]))
def test_dawid_skene_is_dawid_skene_as_crowdkit_runs_it(frame, n_iter, tol):
    q, p, e, history = reference_dawid_skene(frame, n_iter, tol)
    ours = wck.DawidSkene(n_iter=n_iter, tol=tol).fit(frame)
    np.testing.assert_allclose(ours.probas_.to_numpy(dtype=np.float64), q, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.priors_.to_numpy(), p, rtol=0, atol=1e-9)
    rows = ours.errors_.index
    w = pd.Index(pd.unique(frame["worker"])).get_indexer(rows.get_level_values("worker"))
    given_label = pd.Index(pd.unique(frame["label"])).get_indexer(rows.get_level_values("label"))
    np.testing.assert_allclose(ours.errors_.to_numpy(dtype=np.float64), e[w, given_label], rtol=0, atol=1e-9)
    assert len(ours.loss_history_) == len(history)
    np.testing.assert_allclose(ours.loss_history_, history, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n_iter, tol", [(0, 1e-5), (1, 1e-5), (2, 1e-5), (100, 1e-5), (100, 1e-3), (6, -np.inf)])
def test_dawid_skene_as_crowdkit_on_dog(n_iter, tol):
    ck = crowdkit()
    answers, truth = dog()
    ours, ref = both(wck.DawidSkene(n_iter, tol), ck.DawidSkene(n_iter, tol), answers)
    assert_as_crowdkit(ours, ref)
    pd.testing.assert_series_equal(ours.labels_, ref.labels_)
    if n_iter == 100:
        assert (ours.labels_.loc[truth.index] == truth).mean() > 0.84
        assert 1 < ours.native_.n_iter_ == len(ours.loss_history_) < 100


def test_one_iteration_is_crowdkits_first_round():
    """n_iter=1: one E-step from the majority vote's error matrices (and its M-step)."""
    ck = crowdkit()
    answers, _ = dog()
    ours, ref = both(wck.DawidSkene(n_iter=1), ck.DawidSkene(n_iter=1), answers)
    assert len(ours.loss_history_) == 1 == ours.native_.n_iter_
    assert_as_crowdkit(ours, ref)
    start = wck.DawidSkene(n_iter=0).fit(answers)
    assert np.abs(ours.probas_.to_numpy() - start.probas_.to_numpy()).max() > 0.1


@pytest.mark.parametrize("n_iter", [0, 1, 3, 100])
def test_dawid_skene_gold_labels_as_crowdkit_on_dog(n_iter):
    ck = crowdkit()
    answers, truth = dog()
    gold = truth.iloc[::3]
    ours, ref = both(wck.DawidSkene(n_iter), ck.DawidSkene(n_iter), answers, gold)
    assert_as_crowdkit(ours, ref)
    fixed = ours.probas_.loc[gold.index].to_numpy()
    np.testing.assert_array_equal(fixed.argmax(axis=1), ours.probas_.columns.get_indexer(gold.to_numpy()))
    np.testing.assert_allclose(fixed.max(axis=1), 1.0, rtol=0, atol=0)


@pytest.mark.parametrize("strategy", ["addition", "assign"])
@pytest.mark.parametrize("n_iter", [0, 1, 20])
def test_dawid_skene_initial_errors_as_crowdkit_on_dog(strategy, n_iter):
    ck = crowdkit()
    answers, _ = dog()
    rng = np.random.default_rng(7)
    labels = np.sort(pd.unique(answers["label"]))[::-1]  # columns in another order than the answers'
    workers = pd.unique(answers["worker"])
    if strategy == "addition":  # counts from history for a third of the workers
        index = pd.MultiIndex.from_product([workers[::3], labels], names=["worker", "label"])
        initial = pd.DataFrame(rng.integers(0, 30, (len(index), len(labels))).astype(float), index=index,
                               columns=labels)
    else:  # probabilities for every worker
        index = pd.MultiIndex.from_product([workers, labels], names=["worker", "label"])
        values = rng.random((len(workers), len(labels), len(labels))) + np.eye(len(labels)) * 3
        values /= values.sum(axis=1, keepdims=True)
        initial = pd.DataFrame(values.reshape(-1, len(labels)), index=index, columns=labels)
    model = wck.DawidSkene(n_iter, initial_error_strategy=strategy)
    ours, ref = both(model, ck.DawidSkene(n_iter, initial_error_strategy=strategy), answers,
                     initial_error=initial)
    assert_as_crowdkit(ours, ref)
    plain = wck.DawidSkene(n_iter).fit(answers)  # the initial errors change the result
    assert not plain.errors_.equals(ours.errors_)
    assert n_iter == 0 or np.abs(plain.probas_.to_numpy() - ours.probas_.to_numpy()).max() > 1e-3


@given(dawid_skene_fits())
def test_dawid_skene_as_crowdkit_on_random_answers(case):
    ck = crowdkit()
    frame, args, fit = case
    assert_as_crowdkit(*both(wck.DawidSkene(**args), ck.DawidSkene(**args), frame, **fit))


@given(answer_frames(), st.integers(2, 6))
def test_dawid_skene_probabilities_are_the_native_models(frame, n_iter):
    """The last E-step: the native model's predictions after n_iter - 1 rounds."""
    task, _ = pd.factorize(frame["task"])
    worker, _ = pd.factorize(frame["worker"])
    label, labels = pd.factorize(frame["label"])
    native = weaksup.LabelModel(max(2, len(labels)), confusion="full", abstain="ignored", smoothing=0.0,
                                class_prior="learned", max_iter=n_iter - 1, tol=0.0).fit((task, worker, label))
    probas = native.predict_proba((task, worker, label))[:, : len(labels)]
    ours = wck.DawidSkene(n_iter=n_iter, tol=-np.inf).fit(frame)  # its start's sums are added in another order
    np.testing.assert_allclose(ours.probas_.to_numpy(dtype=np.float64), np.maximum(probas, EPS), rtol=0, atol=1e-12)


def test_dawid_skene_checks_gold_labels_and_initial_errors():
    frame = pd.DataFrame({"task": ["a", "a", "b", "b", "c"], "worker": ["p", "q", "p", "q", "p"],
                          "label": ["x", "y", "y", "y", "x"]})
    index = pd.MultiIndex.from_product([["p", "q"], ["x", "y"]], names=["worker", "label"])
    counts = pd.DataFrame(1.0, index=index, columns=["x", "y"])
    addition, assign = wck.DawidSkene(3, initial_error_strategy="addition"), wck.DawidSkene(
        3, initial_error_strategy="assign")
    with pytest.raises(ValueError, match="The index of initial_error must be"):
        addition.fit(frame, initial_error=counts.reset_index(drop=True))
    with pytest.raises(ValueError, match="All the workers in data should be in initial_error"):
        assign.fit(frame, initial_error=counts.iloc[:2] / 2)
    with pytest.raises(ValueError, match="should be 1.0"):
        assign.fit(frame, initial_error=counts * 0.3)
    with pytest.raises(ValueError, match="labels no answer in data has"):
        addition.fit(frame, initial_error=counts.rename(index={"y": "z"}))
    with pytest.raises(ValueError, match="finite counts"):
        addition.fit(frame, initial_error=-counts)
    with pytest.raises(TypeError, match="initial_error must be a pandas DataFrame"):
        addition.fit(frame, initial_error=counts.to_numpy())
    with pytest.raises(TypeError, match="true_labels must be a pandas Series"):
        addition.fit(frame, {"a": "x"})
    with pytest.raises(ValueError, match="true_labels gives labels no answer in data has"):
        addition.fit(frame, pd.Series({"a": "z"}))
    with pytest.raises(ValueError, match="initial_error_strategy must be one of"):
        wck.DawidSkene(initial_error_strategy="add")
    # as crowd-kit: initial_error without a strategy, gold labels of other tasks and NaN gold
    # labels are ignored; a column for a label data lacks changes nothing
    plain = wck.DawidSkene(3).fit(frame)
    for fit in ({"initial_error": "anything"}, {"true_labels": pd.Series({"zz": "x", "a": np.nan})}):
        pd.testing.assert_frame_equal(wck.DawidSkene(3).fit(frame, **fit).probas_, plain.probas_)
    extra = addition.fit(frame, initial_error=counts.assign(z=5.0)).probas_
    pd.testing.assert_frame_equal(extra, addition.fit(frame, initial_error=counts).probas_)
    # every task gold: EM has nothing to estimate
    every = wck.DawidSkene(5).fit(frame, pd.Series({"a": "x", "b": "y", "c": "y"}))
    assert list(every.labels_) == ["x", "y", "y"] and len(every.loss_history_) == 2


def test_dawid_skene_with_crowdkit_wrappers():
    """crowd-kit's BinaryRelevance and clone_aggregator take weaksup's aggregators."""
    ck = crowdkit()
    from crowdkit.aggregation.utils import clone_aggregator

    rng = np.random.default_rng(3)
    tags = np.array(["house", "tree", "car", "grass"])
    rows = [(f"t{t}", f"w{w}", list(tags[rng.random(4) < 0.4]) or ["car"]) for t in range(30) for w in range(3)]
    frame = pd.DataFrame(rows, columns=["task", "worker", "label"])
    for ours, ref in ((wck.DawidSkene(10), ck.DawidSkene(10)), (wck.MajorityVote(), ck.MajorityVote())):
        got = ck.BinaryRelevance(ours).fit_predict(frame)
        pd.testing.assert_series_equal(got, ck.BinaryRelevance(ref).fit_predict(frame))
        clone = clone_aggregator(ours)
        assert type(clone) is type(ours) and clone is not ours and repr(clone) == repr(ours)
        assert clone.labels_ is None and clone.probas_ is None


# ================================================================ majority vote


def test_majority_vote_as_crowdkit_on_dog():
    ck = crowdkit()
    answers, truth = dog()
    # weighted by each worker's accuracy on the gold labels
    accuracy = answers.join(truth.rename("truth"), on="task").eval("hit = label == truth").groupby("worker")["hit"]
    every, half = accuracy.mean(), accuracy.mean().iloc[::2]  # half: every other worker's skill unknown
    answered = answers["worker"].isin(half.index).groupby(answers["task"]).transform("any")
    cases = [({}, answers, None), ({}, answers, every), ({"on_missing_skill": "ignore"}, answers[answered], half),
             ({"on_missing_skill": "value", "default_skill": 0.5}, answers, half)]
    for args, frame, skills in cases:
        ours, ref = both(wck.MajorityVote(**args), ck.MajorityVote(**args), frame, skills)
        pd.testing.assert_frame_equal(ours.probas_, ref.probas_, check_exact=True)
        pd.testing.assert_series_equal(ours.labels_, ref.labels_)
        pd.testing.assert_series_equal(ours.skills_, ref.skills_)


@given(answer_frames(), st.data())
def test_majority_vote_as_crowdkit_on_random_answers(frame, data):
    ck = crowdkit()
    workers = pd.unique(frame["worker"])
    mode = data.draw(st.sampled_from([None, "error", "ignore", "value"]))
    args, skills = {}, None
    if mode is not None:
        values = data.draw(st.lists(st.sampled_from([0.0, 0.25, 1.0, 3.0]), min_size=len(workers),
                                    max_size=len(workers)))
        known = data.draw(st.lists(st.booleans(), min_size=len(workers), max_size=len(workers)))
        skills = pd.Series(values, index=workers, dtype=np.float64)[np.asarray(known, bool)]
        args = dict(on_missing_skill=mode, default_skill=1.0 if mode == "value" else None)
    ours, ref = wck.MajorityVote(**args), ck.MajorityVote(**args)
    try:
        ref.fit(frame, skills)
        refused = not np.isfinite(ref.probas_.to_numpy(dtype=np.float64)).all()  # 0 / 0: weights all 0
    except ValueError:  # a skill missing for "error"; a task left without skills for "ignore"
        refused = True
    if refused:
        with pytest.raises(ValueError):
            ours.fit(frame, skills)
        return
    ours.fit(frame, skills)
    pd.testing.assert_frame_equal(ours.probas_, ref.probas_, check_exact=True)
    pd.testing.assert_series_equal(ours.labels_, ref.labels_)
    pd.testing.assert_series_equal(ours.skills_, ref.skills_)
