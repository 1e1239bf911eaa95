"""Votes as users hold them: crowd-kit's DataFrame (task, worker, label) and (item, source,
label) triplets with ids of any hashable kind give exactly the fit of the integer-coded dense
matrix they stand for (built here from the documented order, not by weaksup), and the ids come
back with the predictions."""

import pathlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weaksup import LabelModel
from weaksup.labelmodel import factorize

pd = pytest.importorskip("pandas")

DATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"

# Id families, each increasing with i (so sorted ids follow i), and one of mixed types that
# cannot be sorted (numbered by first appearance).
IDS = {
    "str": lambda i: f"id-{i:04d}",
    "big int": lambda i: 10**12 + 3 * i,
    "huge int": lambda i: 2**70 + i,
    "tuple": lambda i: ("batch", i // 3, f"x{i % 3}"),
    "mixed": lambda i: i if i % 2 else f"s{i}",
}
LABELS = {"str": ["bird", "cat", "dog", "fish"], "int": [-7, 0, 5, 10**15], "tuple": [(0, "a"), (0, "b"), (1, "a"),
                                                                                   (2, "z")]}


def objects(values):
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = v
    return out


def numbered(values):
    """The distinct values in the order weaksup documents: sorted, or by first appearance when
    they cannot be sorted."""
    try:
        return sorted(set(values))
    except TypeError:
        return list(dict.fromkeys(values))


@st.composite
def crowd(draw):
    """A random label matrix as answers in a random row order, with ids drawn per family."""
    k = draw(st.integers(2, 4))
    n, m = draw(st.integers(1, 15)), draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    L = rng.integers(0, k, (n, m))
    L[rng.random((n, m)) < draw(st.sampled_from([0.0, 0.4, 0.8]))] = -1
    L[rng.integers(n), rng.integers(m)] = rng.integers(k)  # at least one answer
    items, sources = np.nonzero(L >= 0)
    order = rng.permutation(items.size)
    items, sources = items[order], sources[order]
    task_family, worker_family = draw(st.sampled_from(sorted(IDS))), draw(st.sampled_from(sorted(IDS)))
    names = LABELS[draw(st.sampled_from(sorted(LABELS)))][:k]
    tasks = [IDS[task_family](int(i)) for i in items]
    workers = [IDS[worker_family](int(j)) for j in sources]
    labels = [names[c] for c in L[items, sources]]
    # the dense twin: rows and columns in the documented order of their ids, classes in label order
    row_ids, col_ids = numbered(tasks), numbered(workers)
    dense = np.full((len(row_ids), len(col_ids)), -1)
    rows = {t: r for r, t in enumerate(row_ids)}
    cols = {w: c for c, w in enumerate(col_ids)}
    for t, w, label in zip(tasks, workers, labels):
        dense[rows[t], cols[w]] = names.index(label)
    config = dict(confusion=draw(st.sampled_from(["symmetric", "full"])),
                  abstain=draw(st.sampled_from(["observed", "ignored"])), max_iter=draw(st.integers(1, 20)))
    return dict(k=k, tasks=tasks, workers=workers, labels=labels, names=names, dense=dense, row_ids=row_ids,
                col_ids=col_ids, config=config, strings=task_family == worker_family == "str")


def frame_of(c):
    frame = pd.DataFrame({"task": objects(c["tasks"]), "worker": objects(c["workers"]), "label": objects(c["labels"])})
    if len(set(c["labels"])) < c["k"]:  # not every class answered: a Categorical names them all
        frame["label"] = pd.Categorical(objects(c["labels"]), categories=objects(c["names"]))
    return frame


@settings(max_examples=60, deadline=None)
@given(crowd())
def test_dataframe_fit_is_the_dense_fit_with_ids(c):
    k, dense = c["k"], c["dense"]
    ref = LabelModel(k, **c["config"]).fit(dense)
    model = LabelModel(k, **c["config"])
    probs = model.fit_predict_proba(frame_of(c))
    np.testing.assert_array_equal(probs.to_numpy(), ref.predict_proba(dense))
    np.testing.assert_array_equal(model.conditional_probs_, ref.conditional_probs_)
    np.testing.assert_array_equal(model.class_balance_, ref.class_balance_)
    # ids come back: tasks as the index, labels as the columns, workers as the tables' rows
    assert list(probs.index) == c["row_ids"] and probs.index.name == "task"
    assert list(probs.columns) == c["names"] and list(model.classes_) == c["names"]
    assert list(model.source_ids_) == c["col_ids"] and list(model.item_ids_) == c["row_ids"]
    labels = model.predict(frame_of(c), tie_break="first")
    expected = [c["names"][y] for y in ref.predict(dense, tie_break="first")]
    assert list(labels) == expected and list(labels.index) == c["row_ids"] and labels.name == "agg_label"
    # the same answers in another row order: the same numbers for each task (in another order only
    # when the ids cannot be sorted)
    shuffled = model.predict_proba(frame_of(c).sample(frac=1.0, random_state=0))
    pd.testing.assert_frame_equal(shuffled.loc[probs.index], probs, check_exact=True)


@settings(max_examples=60, deadline=None)
@given(crowd())
def test_id_triplets_fit_is_the_dense_fit(c):
    k, dense = c["k"], c["dense"]
    ref = LabelModel(k, **c["config"]).fit(dense)
    classes = np.array([c["names"].index(label) for label in c["labels"]])
    forms = [(objects(c["tasks"]), objects(c["workers"]))]
    if c["strings"]:  # lists and string arrays of string ids too
        forms += [(list(c["tasks"]), list(c["workers"])), (np.array(c["tasks"]), np.array(c["workers"]))]
    for items, sources in forms:
        triplets = (items, sources, classes)
        model = LabelModel(k, **c["config"]).fit(triplets)
        np.testing.assert_array_equal(model.predict_proba(triplets), ref.predict_proba(dense))
        np.testing.assert_array_equal(model.conditional_probs_, ref.conditional_probs_)
        assert list(model.item_ids_) == c["row_ids"] and list(model.source_ids_) == c["col_ids"]
        assert list(factorize(items)[1]) == c["row_ids"]  # the rows of any prediction on id triplets


def test_dog_data_as_a_dataframe_of_strings_is_the_dense_fit():
    if not (DATA / "crowd_dog" / "answer.csv").is_file():
        pytest.skip("the shared data folder is absent")
    answers = pd.read_csv(DATA / "crowd_dog" / "answer.csv").astype(str)
    truth = pd.read_csv(DATA / "crowd_dog" / "truth.csv").astype(str).set_index("question")["truth"]
    frame = answers.rename(columns={"question": "task", "answer": "label"})
    frame["label"] = "breed " + frame["label"]
    tasks, workers, names = (sorted(set(frame[c])) for c in ("task", "worker", "label"))
    dense = np.full((len(tasks), len(workers)), -1, np.int8)
    dense[np.searchsorted(tasks, frame["task"]), np.searchsorted(workers, frame["worker"])] = \
        np.searchsorted(names, frame["label"])
    config = dict(confusion="full", abstain="ignored", smoothing=0.0)
    ref = LabelModel(4, **config).fit(dense)
    model = LabelModel(4, **config).fit(frame)
    probs = model.predict_proba(frame)
    np.testing.assert_array_equal(probs.to_numpy(), ref.predict_proba(dense))
    assert list(probs.index) == tasks and list(probs.columns) == names and list(model.source_ids_) == workers
    predicted = model.predict(frame, tie_break="first")
    gold = "breed " + truth
    assert (predicted.loc[gold.index] == gold).mean() > 0.8
    assert model.score(frame, gold.reindex(tasks)) == pytest.approx(
        {"accuracy": float((predicted.reindex(tasks) == gold.reindex(tasks)).mean())})


def crowd_frame():
    return pd.DataFrame({"task": ["img3", "img1", "img3", "img2", "img1", "img2", "img4"],
                         "worker": ["ann", "bob", "bob", "ann", "cyd", "cyd", "ann"],
                         "label": ["dog", "cat", "dog", "cat", "dog", "cat", "dog"]})


def test_predicting_on_other_answers_maps_workers_and_labels_by_id():
    model = LabelModel(2, confusion="full", abstain="ignored").fit(crowd_frame())
    new = pd.DataFrame({"task": ["new-b", "new-a"], "worker": ["cyd", "bob"], "label": ["cat", "dog"]})
    probs = model.predict_proba(new)
    assert list(probs.index) == ["new-a", "new-b"]
    # the same votes as a dense matrix over the fitted sources (ann, bob, cyd) and classes (cat, dog)
    np.testing.assert_array_equal(probs.to_numpy(), model.predict_proba(np.array([[-1, 1, -1], [-1, -1, 0]])))
    with pytest.raises(ValueError, match=r"worker 'dan' at row 0, which the model was not fitted on"):
        model.predict_proba(new.assign(worker=["dan", "bob"]))
    with pytest.raises(ValueError, match=r"label 'owl' at row 1"):
        model.predict_proba(new.assign(label=["cat", "owl"]))
    # gold labels by task, in any order; every task needs one
    gold = pd.Series({"img4": "dog", "img1": "cat", "img2": "cat", "img3": "dog"})
    predicted = model.predict(crowd_frame(), tie_break="first")
    assert model.score(crowd_frame(), gold, metrics=["accuracy", "coverage"], tie_break="first") == \
        {"accuracy": float((predicted == gold.reindex(predicted.index)).mean()), "coverage": 1.0}
    with pytest.raises(ValueError, match="no gold label for task 'img4'"):
        model.score(crowd_frame(), gold.drop("img4"))


def test_abstained_predictions_are_missing_labels():
    frame = pd.DataFrame({"task": ["a", "a", "b"], "worker": ["u", "v", "u"], "label": ["no", "yes", "yes"]})
    model = LabelModel(2, smoothing=1.0, max_iter=1).fit(frame)
    labels, probs = model.predict(frame, tie_break="abstain", return_probs=True)
    tied = np.isclose(probs.to_numpy()[:, 0], probs.to_numpy()[:, 1], atol=1e-5)
    assert list(labels.isna()) == list(tied) and labels.index.equals(probs.index)


def test_categorical_labels_name_every_class_in_their_order():
    frame = crowd_frame()
    frame["label"] = pd.Categorical(frame["label"], categories=["dog", "cat", "owl"])  # owl: never answered
    model = LabelModel(3, confusion="full", abstain="ignored").fit(frame)
    assert list(model.classes_) == ["dog", "cat", "owl"]
    assert list(model.predict_proba(frame).columns) == ["dog", "cat", "owl"]
    with pytest.raises(ValueError, match="3 categories.*cardinality=2"):
        LabelModel(2).fit(frame)
    with pytest.raises(ValueError, match=r"2 distinct labels \('cat', 'dog'\) but cardinality=3"):
        LabelModel(3).fit(crowd_frame())


def test_unsortable_ids_are_numbered_by_first_appearance():
    codes, ids = factorize([("b", 1), 7, ("b", 1), "z", 7])
    assert list(ids) == [("b", 1), 7, "z"] and list(codes) == [0, 1, 0, 2, 1]
    codes, ids = factorize(["b", "a", "b"], sort=False)
    assert list(ids) == ["b", "a"] and list(codes) == [0, 1, 0]
    codes, ids = factorize(np.array([10**12, 5, 10**12]))
    assert list(ids) == [5, 10**12] and list(codes) == [1, 0, 1]
    series_codes, series_ids = factorize(pd.Series(["b", "a", "b"]))
    assert list(series_codes) == [1, 0, 1] and list(series_ids) == ["a", "b"]


def test_integer_forms_keep_their_meaning():
    """Integer triplets are indices as always (items without votes get the prior); a DataFrame
    without task / worker / label columns is a dense matrix as numpy.asarray reads it."""
    triplets = (np.array([0, 3, 3]), np.array([0, 0, 1]), np.array([1, 0, 0]))
    model = LabelModel(2).fit(triplets)
    assert model.predict_proba(triplets).shape == (4, 2) and model.source_ids_ is None and model.item_ids_ is None
    assert list(model.classes_) == [0, 1]
    dense = np.array([[0, 1], [1, 1], [-1, 0]])
    as_frame = pd.DataFrame(dense, columns=["lf_a", "lf_b"])
    np.testing.assert_array_equal(LabelModel(2).fit(as_frame).predict_proba(as_frame),
                                  LabelModel(2).fit(dense).predict_proba(dense))


def test_ids_survive_save_and_load(tmp_path):
    model = LabelModel(2, confusion="full", abstain="ignored").fit(crowd_frame())
    model.save(tmp_path / "crowd.npz")
    loaded = LabelModel.load(tmp_path / "crowd.npz")
    assert list(loaded.classes_) == ["cat", "dog"] and list(loaded.source_ids_) == ["ann", "bob", "cyd"]
    pd.testing.assert_frame_equal(loaded.predict_proba(crowd_frame()), model.predict_proba(crowd_frame()))
    tuples = (objects([("a", 1), ("b", 2)]), objects([("w", 1), ("w", 2)]), np.array([0, 1]))
    with pytest.raises(ValueError, match="source_ids_.*tuple"):
        LabelModel(2).fit(tuples).save(tmp_path / "tuples.npz")


def test_y_dev_of_a_dataframe_holds_its_labels():
    frame = crowd_frame()
    with_dev = LabelModel(2).fit(frame, Y_dev=["dog", "dog", "cat"])
    # add-one frequencies of (cat, dog), shrunk toward a label-free fit's marginal by empirical Bayes
    marginal = LabelModel(2).fit(frame).predict_proba(frame).to_numpy().mean(axis=0)
    dev = np.array([2 / 5, 3 / 5])
    variance = dev * (1 - dev) / 3
    spread = max(np.mean((dev - marginal) ** 2) - np.mean(variance), 0.0)
    expected = (spread * dev + variance * marginal) / (spread + variance)
    np.testing.assert_allclose(with_dev.class_balance_, expected / expected.sum(), rtol=1e-12)
    with pytest.raises(ValueError, match="Y_dev has label 'owl'"):
        LabelModel(2).fit(frame, Y_dev=["dog", "owl"])
