"""Label-model peers (Snorkel, crowd-kit, the Hyper Label Model) and the data they are compared on.

Everything here is plain Python + NumPy; pandas, snorkel, crowd-kit, torch and hyperlm are
imported inside the functions that need them, so this module imports without them.

Data
    ``load_wrench`` (WRENCH youtube / trec / chemprot label matrices), ``load_crowd_dog`` (the
    Dog crowdsourcing answers) read the real sets kept beside the repository in
    ``../shared/data`` (see ``find_data_dir``); ``synthetic_label_matrix`` makes label
    matrices of any size with known labeling-function accuracies.

Peers
    ``snorkel_fit_predict`` / ``snorkel_majority_vote`` (snorkel 0.10.0),
    ``crowdkit_fit_predict`` / ``crowdkit_dawid_skene_df`` / ``crowdkit_majority_vote_df``
    (crowd-kit 1.4.2), ``hyperlm_predict_proba`` (hyperlm 0.0.5).  Install: ``pip install
    torch==2.13.0`` first (a plain install of snorkel would otherwise pull a multi-GB CUDA
    build of torch), then ``pip install snorkel==0.10.0 crowd-kit==1.4.2 hyperlm==0.0.5``.

Protocol (fit on train, score on test)
    Snorkel fits on the train label matrix and predicts the test rows.  crowd-kit has no
    ``predict`` for tasks it was not fitted on, so ``crowdkit_fit_predict`` is transductive:
    it fits on the train and test rows together (the test rows' votes, never their labels)
    and reads off the test rows.  Tasks with no vote at all get no output from crowd-kit; they
    are given a uniform random class (fixed seed) and a uniform probability row.  The Hyper
    Label Model has no fit either (a pretrained network reads the whole matrix at once): it
    is run on the train and test rows together in the same way.

Accuracy
    ``accuracy_table`` scores weaksup and every installed peer on the four real sets, without
    labels and with the valid split's gold labels as ``Y_dev`` (what ``weaksup bench
    labelmodel`` prints).

Scale
    ``peer_at_scale`` runs one peer on a synthetic matrix in a fresh child process (the
    matrix is generated inside the child) and reports times and peak resident memory;
    ``peak_memory_of`` does the same for any picklable function.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pathlib
import resource
import time
import traceback
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

ENV_VAR = "WEAKSUP_DATA"
WRENCH_SETS = ("youtube", "trec", "chemprot")
WRENCH_SPLITS = ("train", "valid", "test")


# ------------------------------------------------------------------ where the data is


def _candidate_dirs() -> List[pathlib.Path]:
    here = pathlib.Path(__file__).resolve()
    out = []
    # source tree (and editable installs, which load this file from the source tree):
    # python/weaksup/bench/labelmodel_peers.py -> parents[3] is the repository root, and
    # the shared folder lies beside it.
    if len(here.parents) > 4:
        out.append(here.parents[3].parent / "shared" / "data")
    # an installed copy lives in site-packages: look beside the working directory instead
    # (running from the repository root or from a clone beside shared/).
    cwd = pathlib.Path.cwd()
    out += [cwd.parent / "shared" / "data", cwd / "shared" / "data"]
    return out


def find_data_dir() -> Optional[pathlib.Path]:
    """The folder holding ``wrench_youtube/``, ``wrench_trec/`` and ``crowd_dog/``, or None.

    ``$WEAKSUP_DATA``, when set, decides alone (None if it is not a folder, so that a wrong
    setting does not silently pick up another copy).  Otherwise the first existing folder of:
    ``<repository root>/../shared/data`` (found from this file, which holds in the source
    tree and in editable installs), ``<cwd>/../shared/data``, ``<cwd>/shared/data``.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        p = pathlib.Path(env).expanduser()
        return p.resolve() if p.is_dir() else None
    for p in _candidate_dirs():
        if p.is_dir():
            return p
    return None


#: the data folder found at import time (None if absent); the loaders look again each call.
DATA_DIR: Optional[pathlib.Path] = find_data_dir()


def _data_dir(data_dir: Optional[Union[str, "os.PathLike[str]"]]) -> pathlib.Path:
    d = pathlib.Path(data_dir) if data_dir is not None else find_data_dir()
    if d is None or not d.is_dir():
        raise FileNotFoundError(
            f"label-model data folder not found (looked for ../shared/data beside the repository "
            f"and the working directory); set ${ENV_VAR} to the folder holding wrench_youtube/, "
            f"wrench_trec/ and crowd_dog/"
        )
    return d


def have_data(data_dir: Optional[Union[str, "os.PathLike[str]"]] = None) -> bool:
    """True when the data folder exists (tests skip otherwise)."""
    d = pathlib.Path(data_dir) if data_dir is not None else find_data_dir()
    return d is not None and d.is_dir()


# ------------------------------------------------------------------ real data


def load_wrench(
    name: str, split: str, data_dir: Optional[Union[str, "os.PathLike[str]"]] = None
) -> Tuple[np.ndarray, np.ndarray]:
    """WRENCH label matrix and gold labels: ``(L, y)``.

    ``L``: int64 (n, m), -1 = abstain, votes in 0..k-1; ``y``: int64 (n,).  Reads
    ``wrench_{name}/{split}.json`` (``id -> {"label", "weak_labels", "data"}``); rows are in
    increasing integer id (which is also the files' order).  name: "youtube" (k=2, m=10),
    "trec" (k=6, m=68) or "chemprot" (k=10, m=26; no train split); split: "train", "valid" or
    "test".
    """
    import json

    if split not in WRENCH_SPLITS:
        raise ValueError(f"split must be one of {WRENCH_SPLITS}, got {split!r}")
    path = _data_dir(data_dir) / f"wrench_{name}" / f"{split}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (known sets: {', '.join(WRENCH_SETS)})")
    with open(path) as f:
        raw = json.load(f)
    ids = sorted(raw, key=int)
    L = np.array([raw[i]["weak_labels"] for i in ids], dtype=np.int64)
    y = np.array([raw[i]["label"] for i in ids], dtype=np.int64)
    if L.ndim != 2 or L.shape[0] != y.shape[0]:
        raise ValueError(f"{path}: weak_labels are not one list of equal length per example")
    return L, y


def wrench_classes(name: str, data_dir: Optional[Union[str, "os.PathLike[str]"]] = None) -> List[str]:
    """Class names of a WRENCH set in label order (``label.json``); ``len()`` is k."""
    import json

    with open(_data_dir(data_dir) / f"wrench_{name}" / "label.json") as f:
        names = json.load(f)
    return [names[str(i)] for i in range(len(names))]


class CrowdData(NamedTuple):
    """Long-format crowd answers with dense 0-based codes (see ``load_crowd_dog``)."""

    task: np.ndarray  # int64 (n_answers,), 0..n_tasks-1
    worker: np.ndarray  # int64 (n_answers,), 0..n_workers-1
    label: np.ndarray  # int64 (n_answers,), 0..k-1
    truth: np.ndarray  # int64 (n_tasks,), -1 where unknown
    task_ids: np.ndarray  # original question id of each task code
    worker_ids: np.ndarray  # original worker id of each worker code
    label_values: np.ndarray  # original label value of each label code

    @property
    def n_tasks(self) -> int:
        return int(self.truth.shape[0])

    @property
    def n_workers(self) -> int:
        return int(self.worker_ids.shape[0])

    @property
    def k(self) -> int:
        return int(self.label_values.shape[0])


def load_crowd_dog(data_dir: Optional[Union[str, "os.PathLike[str]"]] = None) -> CrowdData:
    """The Dog crowdsourcing set (Zhou et al. 2012): 8070 answers, 807 items, 109 workers, k=4.

    Reads ``crowd_dog/answer.csv`` (question,worker,answer) and ``crowd_dog/truth.csv``
    (question,truth).  Codes: tasks are the sorted union of question ids in both files
    (ids 1..807 -> 0..806), workers the sorted worker ids (1..109 -> 0..108), labels the
    sorted union of the answer and truth values.  The files already use 0..3 for the four
    breeds (the set's Readme: "4 classes denoted by 0-3"), so the label mapping is the
    identity; it is applied the same way to answers and truth either way.  Every item has a
    truth; ``truth`` is -1 for items without one.  No pandas needed.
    """
    d = _data_dir(data_dir) / "crowd_dog"
    ans = np.loadtxt(d / "answer.csv", delimiter=",", skiprows=1, dtype=np.int64, ndmin=2)
    tru = np.loadtxt(d / "truth.csv", delimiter=",", skiprows=1, dtype=np.int64, ndmin=2)
    task_ids = np.union1d(ans[:, 0], tru[:, 0])
    worker_ids, worker = np.unique(ans[:, 1], return_inverse=True)
    label_values = np.union1d(ans[:, 2], tru[:, 1])
    task = np.searchsorted(task_ids, ans[:, 0])
    label = np.searchsorted(label_values, ans[:, 2])
    truth = np.full(task_ids.shape[0], -1, dtype=np.int64)
    truth[np.searchsorted(task_ids, tru[:, 0])] = np.searchsorted(label_values, tru[:, 1])
    return CrowdData(
        task.astype(np.int64),
        worker.astype(np.int64).ravel(),
        label.astype(np.int64),
        truth,
        task_ids,
        worker_ids,
        label_values,
    )


def dense_from_long(task: np.ndarray, worker: np.ndarray, label: np.ndarray,
                    n_tasks: Optional[int] = None, n_workers: Optional[int] = None,
                    dtype: Any = np.int64) -> np.ndarray:
    """(n_tasks, n_workers) label matrix, -1 where a worker did not answer a task.
    A repeated (task, worker) pair keeps its last answer (the Dog set has none)."""
    n_tasks = int(task.max()) + 1 if n_tasks is None else n_tasks
    n_workers = int(worker.max()) + 1 if n_workers is None else n_workers
    L = np.full((n_tasks, n_workers), -1, dtype=dtype)
    L[task, worker] = label
    return L


def accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    """Share of rows with ``pred == y`` among rows with a known label (``y >= 0``)."""
    pred = np.asarray(pred)
    y = np.asarray(y)
    known = y >= 0
    return float(np.mean(pred[known] == y[known]))


# ------------------------------------------------------------------ synthetic data


def _chunk_rows(m: int) -> int:
    # ~4M entries per chunk: a few tens of MB of temporaries whatever n is.  Depends on m
    # only, so a seed gives the same matrix however the caller sizes things.
    return max(1, (1 << 22) // max(m, 1))


def synthetic_label_matrix(
    n: int,
    m: int,
    k: int,
    coverage: Union[float, Sequence[float]] = 0.3,
    seed: int = 0,
    accuracies: Optional[Sequence[float]] = None,
    class_balance: Optional[Sequence[float]] = None,
    dtype: Any = np.int8,
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Label matrix from the independent-LF (Dawid-Skene one-coin) model: ``(L, y, accuracies)``.

    ``y`` (int64, (n,)) is drawn from ``class_balance`` (uniform by default).  Each labeling
    function j covers each row independently of y with probability ``coverage`` (a scalar
    or one value per LF); a covering LF votes y with probability ``accuracies[j]`` and
    otherwise a uniformly random *other* class.  ``L`` is ``dtype`` (int8 by default) (n, m)
    with -1 for abstain.  Default accuracies: ``np.random.default_rng(seed).uniform(0.55,
    0.95, m)`` (float64 (m,), returned).  Rows are made in chunks of about 4M entries written
    into the preallocated output, so the only large allocation is ``L`` itself (1 GB at
    n=10M, m=100 int8) plus ``y``.
    """
    if n < 0 or m < 1:
        raise ValueError(f"need n >= 0 and m >= 1, got n={n}, m={m}")
    if k < 2:
        raise ValueError(f"need k >= 2 classes, got {k}")
    if k > np.iinfo(dtype).max:
        raise ValueError(f"k={k} classes do not fit in {np.dtype(dtype).name}")
    rng = np.random.default_rng(seed)
    default_acc = rng.uniform(0.55, 0.95, m)  # always drawn: the stream below does not depend on it
    acc = default_acc if accuracies is None else np.asarray(accuracies, dtype=np.float64)
    if acc.shape != (m,) or np.any(acc < 0) or np.any(acc > 1):
        raise ValueError(f"accuracies must be {m} values in [0, 1]")
    cov = np.broadcast_to(np.asarray(coverage, dtype=np.float64), (m,))
    if np.any(cov < 0) or np.any(cov > 1):
        raise ValueError("coverage must be in [0, 1]")
    if class_balance is not None:
        cb = np.asarray(class_balance, dtype=np.float64)
        if cb.shape != (k,) or np.any(cb < 0) or cb.sum() <= 0:
            raise ValueError(f"class_balance must be {k} non-negative values")
        cdf = np.cumsum(cb / cb.sum())
        cdf[-1] = 1.0
    # One uniform u per entry decides everything: covered iff u < cov, right iff u < cov * acc
    # (given u < cov, u / cov is uniform, so being right is independent of coverage), and for a
    # wrong vote (u in [cov * acc, cov)) the rescaled position picks the offset 1..k-1 from y,
    # i.e. a uniformly random other class.  Pure arithmetic on the chunk: no boolean scatter.
    thr_cover = cov.astype(np.float32)
    thr_right = (cov * acc).astype(np.float32)
    width = thr_cover - thr_right
    scale = np.zeros(m, dtype=np.float32)
    np.divide(np.float32(k - 1), width, out=scale, where=width > 0)
    np.minimum(scale, np.float32(1e30), out=scale)  # finite: no inf * 0 below
    work: Any = np.int8 if k <= 63 else np.int16  # y + offset < 2k must not overflow
    kw = work(k)

    L = np.empty((n, m), dtype=dtype)
    y = np.empty(n, dtype=np.int64)
    step = _chunk_rows(m)
    for s in range(0, n, step):
        e = min(n, s + step)
        c = e - s
        if class_balance is None:
            yc = rng.integers(0, k, size=c)
        else:
            yc = np.searchsorted(cdf, rng.random(c), side="right")
            np.minimum(yc, k - 1, out=yc)
        y[s:e] = yc
        u = rng.random((c, m), dtype=np.float32)
        a = u - thr_right
        a *= scale
        np.floor(a, out=a)
        np.clip(a, 0, k - 2, out=a)
        vote: np.ndarray = a.astype(work)  # offset - 1, in 0..k-2
        del a
        vote += work(1)
        vote *= (u >= thr_right).view(np.int8).astype(work, copy=False)  # 0 if right
        vote += yc.astype(work)[:, None]
        over: np.ndarray = (vote >= kw).view(np.int8).astype(work, copy=False)
        over *= kw
        vote -= over  # (y + offset) mod k
        ab: np.ndarray = (u >= thr_cover).view(np.int8).astype(work, copy=False)
        del u
        ab *= vote + work(1)
        vote -= ab  # abstain -> -1
        L[s:e] = vote
    return L, y, acc


# ------------------------------------------------------------------ Snorkel


class PeerResult(NamedTuple):
    proba: np.ndarray  # float64 (n, k)
    preds: np.ndarray  # int64 (n,)
    fit_seconds: float
    predict_seconds: float


def _check_L(L: np.ndarray, k: int, what: str) -> np.ndarray:
    L = np.asarray(L)
    if L.ndim != 2 or not np.issubdtype(L.dtype, np.integer):
        raise ValueError(f"{what} must be a 2-D integer array (n, m) with -1 for abstain")
    if L.size and (L.min() < -1 or L.max() >= k):
        raise ValueError(f"{what} has values outside -1..{k - 1}")
    return L


def snorkel_fit_predict(
    L_train: np.ndarray,
    L_test: Optional[np.ndarray],
    k: int,
    *,
    Y_dev: Optional[np.ndarray] = None,
    class_balance: Optional[Sequence[float]] = None,
    n_epochs: int = 100,
    seed: int = 123,
    lr: float = 0.01,
    l2: float = 0.0,
    optimizer: str = "sgd",
    tie_break_policy: str = "random",
    **fit_kwargs: Any,
) -> PeerResult:
    """Snorkel ``LabelModel(cardinality=k)`` fitted on ``L_train``, applied to ``L_test``.

    ``L_test=None`` predicts ``L_train``.  ``Y_dev`` only sets the class-balance prior in
    Snorkel (class frequencies; every class must occur).  ``preds`` uses Snorkel's
    ``probs_to_preds(proba, tie_break_policy)``; its "random" policy is deterministic (a SHA-1
    hash of the row index picks among classes within 1e-5 of the max).  ``fit_seconds``
    times ``fit``; ``predict_seconds`` times ``predict_proba`` only (the tie-break is a
    Python loop over rows that Snorkel's ``predict`` adds on top).  Any integer dtype works
    for L (Snorkel computes ``L + 1``, so int8 is fine for k < 127).
    """
    from snorkel.labeling.model import LabelModel
    from snorkel.utils import probs_to_preds

    L_train = _check_L(L_train, k, "L_train")
    L_test = L_train if L_test is None else _check_L(L_test, k, "L_test")
    model = LabelModel(cardinality=k, verbose=False)
    t0 = time.perf_counter()
    model.fit(
        L_train,
        Y_dev=None if Y_dev is None else np.asarray(Y_dev),
        class_balance=None if class_balance is None else list(class_balance),
        progress_bar=False,
        n_epochs=n_epochs,
        seed=seed,
        lr=lr,
        l2=l2,
        optimizer=optimizer,
        **fit_kwargs,
    )
    t1 = time.perf_counter()
    proba = model.predict_proba(L_test)
    t2 = time.perf_counter()
    preds = probs_to_preds(proba, tie_break_policy=tie_break_policy).astype(np.int64)
    return PeerResult(proba, preds, t1 - t0, t2 - t1)


def snorkel_majority_vote(
    L: np.ndarray, k: int, seed: int = 123, tie_break_policy: str = "random"
) -> Tuple[np.ndarray, np.ndarray]:
    """Snorkel ``MajorityLabelVoter``: ``(proba (n, k), preds (n,) int64)``.

    proba spreads 1 evenly over the tied top classes (all k for a row with no vote).  With
    "random" the tie-break is Snorkel's deterministic hash of the row index, so ``seed``
    changes nothing; it seeds ``np.random`` for "true-random".  The voter is a Python loop
    over every entry (about 1 s per million entries).
    """
    from snorkel.labeling.model import MajorityLabelVoter
    from snorkel.utils import probs_to_preds

    L = _check_L(L, k, "L")
    voter = MajorityLabelVoter(cardinality=k)
    proba = voter.predict_proba(L)
    np.random.seed(seed)
    preds = probs_to_preds(proba, tie_break_policy=tie_break_policy).astype(np.int64)
    return proba, preds


# ------------------------------------------------------------------ crowd-kit


class CrowdResult(NamedTuple):
    labels: np.ndarray  # int64 (n_tasks,), -1 for a task with no answer
    proba: np.ndarray  # float64 (n_tasks, k), uniform for a task with no answer
    seconds: float


def _long_frame(task: np.ndarray, worker: np.ndarray, label: np.ndarray) -> Any:
    import pandas as pd

    return pd.DataFrame(
        {
            "task": np.asarray(task, dtype=np.int64),
            "worker": np.asarray(worker, dtype=np.int64),
            "label": np.asarray(label, dtype=np.int64),
        }
    )


def _crowd_arrays(model: Any, n_tasks: int, k: int) -> Tuple[np.ndarray, np.ndarray]:
    """crowd-kit's ``probas_`` / ``labels_`` (indexed by task in first-seen order, one column
    per label that occurs in the data) as dense arrays over tasks 0..n_tasks-1, labels 0..k-1."""
    probas = model.probas_
    proba = np.full((n_tasks, k), 1.0 / k)
    labels = np.full(n_tasks, -1, dtype=np.int64)
    if probas is None or not probas.size:
        return labels, proba
    tasks = probas.index.to_numpy(dtype=np.int64)
    cols = probas.columns.to_numpy(dtype=np.int64)
    proba[tasks] = 0.0
    proba[np.ix_(tasks, cols)] = probas.to_numpy(dtype=np.float64)
    lab = model.labels_
    labels[lab.index.to_numpy(dtype=np.int64)] = lab.to_numpy(dtype=np.int64)
    return labels, proba


def _crowd_shape(task: Any, label: Any, n_tasks: Optional[int], k: Optional[int]) -> Tuple[int, int]:
    n_tasks = (int(np.max(task)) + 1 if len(task) else 0) if n_tasks is None else int(n_tasks)
    k = (int(np.max(label)) + 1 if len(label) else 2) if k is None else int(k)
    return n_tasks, k


def crowdkit_dawid_skene_df(
    task: np.ndarray,
    worker: np.ndarray,
    label: np.ndarray,
    n_iter: int = 100,
    tol: float = 1e-5,
    *,
    n_tasks: Optional[int] = None,
    k: Optional[int] = None,
) -> CrowdResult:
    """crowd-kit ``DawidSkene(n_iter, tol)`` on long-format answers (0-based int codes).

    Returns labels (``labels_``: crowd-kit's ``idxmax``, so ties go to the smallest label),
    probas (n_tasks, k) and the seconds of ``fit`` (the DataFrame is built before the clock
    starts).  Tasks with no answer: label -1, uniform proba.  crowd-kit initialises EM from
    majority vote and stops when the ELBO gains less than ``tol``.
    """
    from crowdkit.aggregation import DawidSkene

    n_tasks, k = _crowd_shape(task, label, n_tasks, k)
    df = _long_frame(task, worker, label)
    model = DawidSkene(n_iter=n_iter, tol=tol)
    t0 = time.perf_counter()
    model.fit(df)
    sec = time.perf_counter() - t0
    labels, proba = _crowd_arrays(model, n_tasks, k)
    return CrowdResult(labels, proba, sec)


def crowdkit_majority_vote_df(
    task: np.ndarray,
    worker: np.ndarray,
    label: np.ndarray,
    *,
    n_tasks: Optional[int] = None,
    k: Optional[int] = None,
) -> CrowdResult:
    """crowd-kit ``MajorityVote`` on long-format answers; ties go to the smallest label."""
    from crowdkit.aggregation import MajorityVote

    n_tasks, k = _crowd_shape(task, label, n_tasks, k)
    df = _long_frame(task, worker, label)
    model = MajorityVote()
    t0 = time.perf_counter()
    model.fit(df)
    sec = time.perf_counter() - t0
    labels, proba = _crowd_arrays(model, n_tasks, k)
    return CrowdResult(labels, proba, sec)


def long_from_dense(L: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(task, worker, label) int64 arrays of the non-abstain entries of L, row-major order."""
    L = np.asarray(L)
    task, worker = np.nonzero(L != -1)
    return task.astype(np.int64), worker.astype(np.int64), L[task, worker].astype(np.int64)


def crowdkit_fit_predict(
    L_train: np.ndarray,
    L_test: Optional[np.ndarray],
    k: int,
    n_iter: int = 100,
    tol: float = 1e-5,
    *,
    method: str = "DawidSkene",
    seed: int = 0,
) -> PeerResult:
    """crowd-kit on a dense label matrix (LFs as workers, rows as tasks, abstains dropped).

    Transductive: crowd-kit cannot predict tasks it was not fitted on, so it fits on the rows
    of ``L_train`` and ``L_test`` together (votes only) and the test rows' results are
    returned; ``L_test=None`` fits and returns ``L_train``.  Rows with no vote get no output
    from crowd-kit: they get a class drawn by ``np.random.default_rng(seed)`` and a uniform
    proba row.  ``method``: "DawidSkene" or "MajorityVote".  ``fit_seconds`` times crowd-kit's
    ``fit``; ``predict_seconds`` the conversion of its pandas results to arrays; building the
    DataFrame is in neither.  Note that crowd-kit's Dawid-Skene has no abstain outcome: an LF
    that only ever votes one class carries no information for it.
    """
    L_train = _check_L(L_train, k, "L_train")
    parts = [L_train] if L_test is None else [L_train, _check_L(L_test, k, "L_test")]
    if len(parts) == 2 and parts[0].shape[1] != parts[1].shape[1]:
        raise ValueError("L_train and L_test have different numbers of labeling functions")
    L_all = np.concatenate(parts) if len(parts) == 2 else L_train
    task, worker, label = long_from_dense(L_all)
    n_tasks = L_all.shape[0]
    df = _long_frame(task, worker, label)
    del task, worker, label
    if method == "DawidSkene":
        from crowdkit.aggregation import DawidSkene

        model = DawidSkene(n_iter=n_iter, tol=tol)
    elif method == "MajorityVote":
        from crowdkit.aggregation import MajorityVote

        model = MajorityVote()
    else:
        raise ValueError(f"method must be 'DawidSkene' or 'MajorityVote', got {method!r}")
    t0 = time.perf_counter()
    model.fit(df)
    t1 = time.perf_counter()
    labels, proba = _crowd_arrays(model, n_tasks, k)
    t2 = time.perf_counter()
    start = 0 if L_test is None else L_train.shape[0]
    labels, proba = labels[start:].copy(), proba[start:].copy()
    missing = labels < 0
    if missing.any():
        labels[missing] = np.random.default_rng(seed).integers(0, k, size=int(missing.sum()))
    return PeerResult(proba, labels, t1 - t0, t2 - t1)


# ------------------------------------------------------------------ Hyper Label Model


def _hyperlm_checkpoint() -> Any:
    """A context allow-listing for ``torch.load(weights_only=True)`` (the default from torch
    2.6 on) the NumPy globals that hyperlm 0.0.5's pickled checkpoint holds: the scalar
    constructor under its NumPy 1 name ``numpy.core.multiarray.scalar``, ``numpy.dtype`` and
    the float64 dtype class.  Older torch loads it as it is."""
    import contextlib

    import torch

    if tuple(int(part) for part in torch.__version__.split("+")[0].split(".")[:2]) < (2, 6):
        return contextlib.nullcontext()
    try:
        from numpy._core.multiarray import scalar  # NumPy 2
    except ImportError:  # pragma: no cover - NumPy 1
        from numpy.core.multiarray import scalar  # type: ignore[no-redef]  # the same function, NumPy 1's path
    return torch.serialization.safe_globals(
        [(scalar, "numpy.core.multiarray.scalar"), np.dtype, type(np.dtype(np.float64))])


def hyperlm_predict_proba(L: np.ndarray, k: int) -> np.ndarray:
    """The Hyper Label Model (hyperlm 0.0.5; Wu et al., ICLR 2023) on a label matrix: (n, k).

    A pretrained graph network reads the whole matrix and outputs every row's probabilities
    in one pass (no fit; CPU).  hyperlm fails on rows where every source abstains, so those
    rows are left out of its input and given a uniform row; it takes k from the largest vote,
    so the columns of classes above it are 0.  The probabilities are its ``return_probs``
    output (a per-entry monotone rescaling, so the argmax and ties are its own).
    """
    from hyperlm import HyperLabelModel

    L = _check_L(L, k, "L")
    proba = np.full((L.shape[0], k), 1.0 / k)
    voted = np.flatnonzero((L != -1).any(axis=1))
    if voted.size:
        with _hyperlm_checkpoint():
            model = HyperLabelModel(device="cpu")
        p = np.asarray(model.infer(L[voted], return_probs=True), dtype=np.float64)
        proba[voted] = 0.0
        proba[voted[:, None], np.arange(p.shape[1])] = p
    return proba


# ------------------------------------------------------------------ accuracy on the real data

#: the sets ``accuracy_table`` scores (WRENCH names and the Dog crowd set).
ACCURACY_SETS = ("youtube", "trec", "chemprot", "dog")

_PIP = {"snorkel": "snorkel==0.10.0", "crowd-kit": "crowd-kit==1.4.2", "hyperlm": "hyperlm==0.0.5"}


class AccuracyRow(NamedTuple):
    """One line of ``accuracy_table``."""

    dataset: str
    method: str
    labels: str  # "none" or "Y_dev: ..." (what gold labels the method was given)
    accuracy: Optional[float]  # over every scored item (no class = wrong); None: did not run, see note
    coverage: Optional[float]  # fraction of scored items given a class (1.0 under random ties)
    seconds: float  # fit + predict wall time (NaN when it did not run)
    note: str = ""


class _Task(NamedTuple):
    name: str
    k: int
    L_fit: np.ndarray
    L_score: np.ndarray  # L_fit itself where the scored items are the fitted ones (Dog)
    y_score: np.ndarray
    Y_dev: Optional[np.ndarray]
    dev_labels: str  # the labels text of the Y_dev column


def _accuracy_task(name: str, data_dir: Optional[Union[str, "os.PathLike[str]"]]) -> _Task:
    """The protocol of one set: youtube / trec fit on train and score on test, Y_dev = valid
    gold; chemprot has no train split: fit on valid, score on test, Y_dev = the valid gold
    (the fit items' own labels); Dog: fit and score on every item with a truth, no Y_dev."""
    if name == "dog":
        dog = load_crowd_dog(data_dir)
        known = dog.truth >= 0
        L = dense_from_long(dog.task, dog.worker, dog.label, dog.n_tasks, dog.n_workers)[known]
        return _Task(name, dog.k, L, L, dog.truth[known], None, "Y_dev: none (no dev split)")
    k = len(wrench_classes(name, data_dir))
    L_dev, y_dev = load_wrench(name, "valid", data_dir)
    L_score, y_score = load_wrench(name, "test", data_dir)
    if name == "chemprot":
        return _Task(name, k, L_dev, L_score, y_score, y_dev,
                     f"Y_dev: valid gold (n={y_dev.size}; valid is also the fit set)")
    L_fit, _ = load_wrench(name, "train", data_dir)
    return _Task(name, k, L_fit, L_score, y_score, y_dev, f"Y_dev: valid gold (n={y_dev.size})")


def _transductive(task: _Task) -> Optional[np.ndarray]:
    """The L_test argument of the peers that read fit and scored rows together."""
    return None if task.L_score is task.L_fit else task.L_score


def _weaksup_proba(task: _Task, Y_dev: Optional[np.ndarray], **options: Any) -> np.ndarray:
    from weaksup.labelmodel import LabelModel

    proba: np.ndarray = LabelModel(task.k, **options).fit(task.L_fit, Y_dev=Y_dev).predict_proba(task.L_score)
    return proba


def _hyperlm_proba(task: _Task, Y_dev: Optional[np.ndarray]) -> np.ndarray:
    rest = _transductive(task)
    L = task.L_fit if rest is None else np.concatenate([task.L_fit, rest])
    return hyperlm_predict_proba(L, task.k)[L.shape[0] - task.L_score.shape[0]:]


def _majority_proba(task: _Task, Y_dev: Optional[np.ndarray]) -> np.ndarray:
    from weaksup.sources import majority_vote_proba

    return majority_vote_proba(task.L_score, task.k)


def _has_triplet() -> bool:
    """Whether this weaksup's LabelModel takes ``method="triplet"``."""
    from weaksup.labelmodel import LabelModel

    try:
        LabelModel(2, method="triplet")
    except (TypeError, ValueError):
        return False
    return True


def _methods(task: _Task) -> List[Tuple[str, Optional[str], bool, Callable[[_Task, Any], np.ndarray]]]:
    """(method, peer package or None for weaksup, takes Y_dev, task, Y_dev -> (n_score, k) proba)."""
    out: List[Tuple[str, Optional[str], bool, Callable[[_Task, Any], np.ndarray]]] = [
        ("weaksup LabelModel", None, True, _weaksup_proba)]
    if _has_triplet():
        out.append(("weaksup LabelModel (triplet)", None, True,
                    lambda t, Y: _weaksup_proba(t, Y, method="triplet")))
    if task.name == "dog":  # the documented crowdsourcing setting
        out.append(("weaksup LabelModel Dawid-Skene (confusion=full, class_prior=learned)", None, True,
                    lambda t, Y: _weaksup_proba(t, Y, confusion="full", abstain="ignored", class_prior="learned")))
    return out + [
        ("majority vote", None, False, _majority_proba),
        ("Snorkel LabelModel", "snorkel", True,
         lambda t, Y: snorkel_fit_predict(t.L_fit, _transductive(t), t.k, Y_dev=Y).proba),
        ("crowd-kit DawidSkene", "crowd-kit", False,
         lambda t, Y: crowdkit_fit_predict(t.L_fit, _transductive(t), t.k).proba),
        ("Hyper Label Model", "hyperlm", False, _hyperlm_proba),
    ]


def _accuracy_row(task: _Task, method: str, peer: Optional[str], fn: Callable[[_Task, Any], np.ndarray],
                  with_dev: bool) -> AccuracyRow:
    from weaksup.labelmodel import probabilities_to_labels

    labels = task.dev_labels if with_dev else "none"
    if with_dev and task.Y_dev is None:
        return AccuracyRow(task.name, method, labels, None, None, float("nan"), "no dev split")
    t0 = time.perf_counter()
    try:
        proba = fn(task, task.Y_dev if with_dev else None)
    except ImportError as e:
        if peer is None:
            raise
        return AccuracyRow(task.name, method, labels, None, None, float("nan"),
                           f"{peer} not installed (pip install '{_PIP[peer]}'): {e}")
    except Exception as e:  # noqa: BLE001 - a failing peer is reported, not fatal
        if peer is None:
            raise
        return AccuracyRow(task.name, method, labels, None, None, float("nan"),
                           f"{peer} failed: {type(e).__name__}: {e}")
    seconds = time.perf_counter() - t0
    proba = np.asarray(proba, dtype=np.float64)
    pred = probabilities_to_labels(proba, "random", seed=0)
    return AccuracyRow(task.name, method, labels, tie_split_accuracy(proba, task.y_score),
                       float(np.mean(pred >= 0)), seconds)


def tie_split_accuracy(proba: np.ndarray, y: np.ndarray) -> float:
    """Accuracy under a uniformly random tie-break, averaged over every tie-break: an item whose
    top classes tie (within 1e-5 of the maximum, as ``probabilities_to_labels`` ties them) counts
    as 1 / t right when its class is one of the t tied.  A seeded tie-break moves a figure by
    up to 2 points where a third of the items tie (chemprot's majority vote: 0.477 to 0.500
    over 20 seeds); this mean does not depend on a seed."""
    proba = np.asarray(proba, dtype=np.float64)
    y = np.asarray(y)
    top = proba >= proba.max(axis=1, keepdims=True) - 1e-5
    hit = top[np.arange(len(y)), y] / top.sum(axis=1)
    return float(np.mean(hit))


def accuracy_table(
    data_dir: Optional[Union[str, "os.PathLike[str]"]] = None,
    with_dev: Sequence[bool] = (False, True),
    datasets: Sequence[str] = ACCURACY_SETS,
) -> List[AccuracyRow]:
    """Accuracy of weaksup and every peer on the real sets: a list of ``AccuracyRow``.

    For each set in ``datasets`` (of ``ACCURACY_SETS``) and each value of ``with_dev`` (False:
    no labels; True: the valid split's gold labels as ``Y_dev``), one row per method:
    weaksup ``LabelModel(k)`` (and ``method="triplet"`` where this weaksup has it; on Dog also
    the crowd setting ``confusion="full", abstain="ignored"``), majority vote, Snorkel
    ``LabelModel`` (100 epochs, seed 123), crowd-kit ``DawidSkene`` and the Hyper Label Model;
    the methods that take no labels appear only in the no-label column.  Protocols:
    youtube and trec fit on train and score on test; chemprot (no train split) fits on valid
    and scores on test, its Y_dev being the valid gold, the fit items' own labels; Dog fits
    and scores every item with a truth and has no Y_dev (its Y_dev rows are blank).
    crowd-kit and the Hyper Label Model, which cannot predict unseen items, read the fit and
    scored rows together.

    Every method's (n, k) probabilities are scored by ``tie_split_accuracy``: the mean
    accuracy over uniformly random tie-breaks, every scored item counting.  A peer that is not installed, or
    fails, gives a row with ``accuracy=None`` and a note.  Raises FileNotFoundError when the
    data folder (``find_data_dir``, or ``data_dir``) is absent.
    """
    from weaksup import _arrays

    for value, name, example in ((datasets, "datasets", "('youtube', 'dog')"), (with_dev, "with_dev", "(False, True)")):
        if isinstance(value, (str, bool, np.bool_)) or not isinstance(value, Sequence):
            raise TypeError(f"{name} must be a sequence such as {example}, got {type(value).__name__}")
    names = [_arrays.check_choice(d, "datasets", {s: s for s in ACCURACY_SETS}) for d in datasets]
    columns = [_arrays.check_bool(w, "with_dev") for w in with_dev]
    return list(_accuracy_rows(names, columns, _data_dir(data_dir)))


def _accuracy_rows(names: Sequence[str], columns: Sequence[bool], directory: pathlib.Path) -> Iterator[AccuracyRow]:
    """The rows of ``accuracy_table``, one at a time as each method is scored."""
    for name in names:
        task = _accuracy_task(name, directory)
        methods = _methods(task)
        for dev in columns:
            for method, peer, takes_dev, fn in methods:
                if takes_dev or not dev:
                    yield _accuracy_row(task, method, peer, fn, dev)


def accuracy_rows(dataset: str, with_dev: bool, data_dir: Optional[Union[str, "os.PathLike[str]"]] = None
                  ) -> Iterator[AccuracyRow]:
    """``accuracy_table(data_dir, [with_dev], [dataset])``'s rows, each yielded as soon as it is
    scored (``weaksup bench`` prints them so)."""
    from weaksup import _arrays

    name = _arrays.check_choice(dataset, "dataset", {s: s for s in ACCURACY_SETS})
    return _accuracy_rows([name], [_arrays.check_bool(with_dev, "with_dev")], _data_dir(data_dir))


# ------------------------------------------------------------------ memory and scale


def _status_mb() -> Dict[str, float]:
    out = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(("VmHWM:", "VmRSS:")):
                    key, val = line.split(":")
                    out[key] = int(val.split()[0]) / 1024.0
    except OSError:
        pass
    return out


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS; False if unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return "VmHWM" in _status_mb()
    except OSError:
        return False


class PeakMeter:
    """Peak resident memory from here on: VmHWM after a clear_refs reset where the kernel
    allows it (Linux), else ``ru_maxrss`` (which cannot be reset, so a peak reached before
    the meter started shows through)."""

    def __init__(self) -> None:
        gc.collect()
        self.exact = _reset_peak()
        st = _status_mb()
        self.baseline_mb = st.get("VmRSS", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)

    def peak_mb(self) -> float:
        if self.exact:
            return _status_mb()["VmHWM"]
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


class Measured(NamedTuple):
    result: Any
    peak_rss_mb: float  # whole process, absolute
    rss_increase_mb: float  # peak minus the RSS just before the call


def _child_measure(conn: Any, fn: Callable[..., Any], args: Sequence[Any], kwargs: Dict[str, Any]) -> None:
    try:
        meter = PeakMeter()
        result = fn(*args, **kwargs)
        peak = meter.peak_mb()
        conn.send(("ok", Measured(result, peak, peak - meter.baseline_mb)))
    except BaseException:  # noqa: BLE001 - reported to the parent
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def _run_child(target: Callable[..., None], args: Sequence[Any], context: str, timeout: Optional[float]) -> Any:
    ctx: Any = multiprocessing.get_context(context)  # a start method chosen at run time
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=target, args=(send,) + tuple(args), daemon=True)
    proc.start()
    send.close()
    try:
        if not recv.poll(timeout):
            proc.kill()
            proc.join()
            raise TimeoutError(f"child process gave no result in {timeout} s")
        status, payload = recv.recv()
    except EOFError:
        proc.join()
        raise RuntimeError(
            f"child process died with exit code {proc.exitcode} (killed for memory?)"
        ) from None
    finally:
        recv.close()
    proc.join()
    if status != "ok":
        raise RuntimeError(f"child process failed:\n{payload}")
    return payload


def peak_memory_of(
    fn: Callable[..., Any], *args: Any, context: str = "spawn", timeout: Optional[float] = None, **kwargs: Any
) -> Measured:
    """Run ``fn(*args, **kwargs)`` in a child process: ``(result, peak_rss_mb, rss_increase_mb)``.

    The peak is the child's whole resident set (MB); the increase is over the RSS just
    before the call.  ``context="spawn"`` (default) starts a fresh interpreter, so ``fn``,
    the arguments and the result must pickle (a module-level function, not a lambda) and
    absolute peaks do not depend on what the caller has loaded; "fork" takes anything but
    the child starts with a copy of the caller's resident memory in its baseline (and forking
    a process whose torch/OpenMP threads have run is not safe; Python 3.12+ warns when a
    multi-threaded process forks).  ``context`` and ``timeout`` (seconds, None = wait) are
    this function's own keywords, not passed to ``fn``.  A child that dies (e.g. killed for
    memory) raises RuntimeError with its exit code; an exception in ``fn`` raises
    RuntimeError carrying the child's traceback.
    """
    measured: Measured = _run_child(_child_measure, (fn, args, kwargs), context, timeout)
    return measured


def _import_peer(peer: str) -> None:
    if peer == "snorkel":
        import snorkel.labeling.model  # noqa: F401
    elif peer == "crowdkit":
        import crowdkit.aggregation  # noqa: F401
        import pandas  # noqa: F401
    elif peer not in ("majority", "weaksup"):
        raise ValueError(f"peer must be 'weaksup', 'snorkel', 'crowdkit' or 'majority', got {peer!r}")


def _peer_fit_predict(peer: str, L: np.ndarray, k: int, peer_kwargs: Dict[str, Any]) -> Dict[str, Any]:
    if peer == "snorkel":
        from snorkel.labeling.model import LabelModel

        model = LabelModel(cardinality=k, verbose=False)
        kw = dict(n_epochs=100, seed=123, lr=0.01)
        kw.update(peer_kwargs)
        t0 = time.perf_counter()
        model.fit(L, progress_bar=False, **kw)
        t1 = time.perf_counter()
        proba = model.predict_proba(L)
        t2 = time.perf_counter()
        return dict(proba=proba, seconds_convert=0.0, seconds_fit=t1 - t0, seconds_predict=t2 - t1, n_iter=kw["n_epochs"])
    if peer == "crowdkit":
        from crowdkit.aggregation import DawidSkene

        t0 = time.perf_counter()
        task, worker, label = long_from_dense(L)
        df = _long_frame(task, worker, label)
        del task, worker, label
        t1 = time.perf_counter()
        model = DawidSkene(n_iter=peer_kwargs.get("n_iter", 100), tol=peer_kwargs.get("tol", 1e-5))
        model.fit(df)
        t2 = time.perf_counter()
        _, proba = _crowd_arrays(model, L.shape[0], k)
        t3 = time.perf_counter()
        return dict(
            proba=proba,
            seconds_convert=t1 - t0,
            seconds_fit=t2 - t1,
            seconds_predict=t3 - t2,
            n_iter=len(getattr(model, "loss_history_", [])),
        )
    if peer == "weaksup":
        from weaksup.labelmodel import LabelModel

        t0 = time.perf_counter()
        model = LabelModel(k, **peer_kwargs)
        proba = model.fit_predict_proba(L)  # fit + predict_proba, collapsing L once
        t1 = time.perf_counter()
        return dict(proba=proba, seconds_convert=0.0, seconds_fit=t1 - t0, seconds_predict=0.0,
                    n_iter=model.n_iter_)
    # "majority": a vectorized NumPy vote count, the floor any label model should beat
    t0 = time.perf_counter()
    counts = np.zeros((L.shape[0], k), dtype=np.int32)
    for j in range(L.shape[1]):
        col = L[:, j]
        rows = np.nonzero(col >= 0)[0]
        np.add.at(counts, (rows, col[rows].astype(np.intp)), 1)
    t1 = time.perf_counter()
    proba = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    return dict(proba=proba, seconds_convert=0.0, seconds_fit=0.0, seconds_predict=t1 - t0, n_iter=0)


def _child_scale(conn: Any, peer: str, n: int, m: int, k: int, coverage: float, seed: int,
                 peer_kwargs: Dict[str, Any]) -> None:
    try:
        _import_peer(peer)
        rss_imported = _status_mb().get("VmRSS", float("nan"))
        t0 = time.perf_counter()
        L, y, _ = synthetic_label_matrix(n, m, k, coverage=coverage, seed=seed)
        t_gen = time.perf_counter() - t0
        meter = PeakMeter()
        out = _peer_fit_predict(peer, L, k, peer_kwargs)
        peak = meter.peak_mb()
        proba = out.pop("proba")
        pred = np.argmax(proba, axis=1)
        result = dict(
            peer=peer,
            n=n,
            m=m,
            k=k,
            coverage=coverage,
            seed=seed,
            seconds_generate=t_gen,
            **out,
            peak_rss_mb=peak,
            rss_before_mb=meter.baseline_mb,
            rss_above_matrix_mb=peak - meter.baseline_mb,
            rss_after_import_mb=rss_imported,
            matrix_mb=(L.nbytes + y.nbytes) / 2**20,
            peak_exact=meter.exact,
            accuracy=float(np.mean(pred == y)),
        )
        conn.send(("ok", result))
    except BaseException:  # noqa: BLE001
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def peer_at_scale(
    peer: str,
    n: int,
    m: int,
    k: int,
    coverage: float = 0.3,
    seed: int = 0,
    *,
    context: str = "spawn",
    timeout: Optional[float] = None,
    **peer_kwargs: Any,
) -> Dict[str, Any]:
    """One peer on ``synthetic_label_matrix(n, m, k, coverage, seed)`` (int8) in a child process.

    The child imports the peer, generates the matrix, resets the peak-RSS mark, then fits and
    predicts probabilities for all n rows.  peer: "weaksup" (``LabelModel(k, **peer_kwargs)``),
    "snorkel" (LabelModel, 100 epochs, seed 123,
    lr 0.01 unless given in ``peer_kwargs``), "crowdkit" (DawidSkene, n_iter 100, tol 1e-5:
    dense -> long DataFrame conversion is timed as ``seconds_convert`` and counts toward the
    peak) or "majority" (NumPy vote count).  Returns a dict with ``seconds_generate``,
    ``seconds_convert``, ``seconds_fit``, ``seconds_predict``, ``n_iter``, ``peak_rss_mb``
    (whole child process), ``rss_before_mb`` (after import and matrix), ``rss_above_matrix_mb``
    (peak minus that), ``matrix_mb``, ``peak_exact`` (VmHWM reset worked) and ``accuracy``
    (argmax of proba, first max on ties, against the generating y).
    """
    if peer not in ("snorkel", "crowdkit", "majority", "weaksup"):
        raise ValueError(f"peer must be 'weaksup', 'snorkel', 'crowdkit' or 'majority', got {peer!r}")
    result: Dict[str, Any] = _run_child(_child_scale, (peer, n, m, k, coverage, seed, peer_kwargs), context, timeout)
    return result


# ------------------------------------------------------------------ FlyingSquid (another interpreter)

FLYINGSQUID_ENV = "WEAKSUP_FLYINGSQUID_PYTHON"


def flyingsquid_at_scale(python: str, n: int, m: int, coverage: float = 0.3, seed: int = 0,
                         timeout: Optional[float] = None) -> Dict[str, Any]:
    """FlyingSquid's fit + predict_proba on ``synthetic_label_matrix(n, m, 2, coverage, seed)``,
    run by the interpreter ``python`` (FlyingSquid needs numpy<2 and pgmpy==0.1.14: a separate
    environment, e.g. ``$WEAKSUP_FLYINGSQUID_PYTHON``) on the matrix passed as a .npy file.
    Returns the child's ``seconds_convert`` / ``seconds_fit`` / ``seconds_predict``, ``proba``
    (n, 2), ``accuracy`` (argmax against the generating y) and ``y``."""
    import json
    import subprocess
    import tempfile

    L, y, _ = synthetic_label_matrix(n, m, 2, coverage=coverage, seed=seed)
    child = pathlib.Path(__file__).with_name("flyingsquid_child.py")
    with tempfile.TemporaryDirectory() as tmp:
        L_path, out_path = os.path.join(tmp, "L.npy"), os.path.join(tmp, "proba.npy")
        np.save(L_path, L)
        del L
        done = subprocess.run([python, str(child), L_path, out_path], capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, "PYTHONPATH": ""})
        if done.returncode != 0:
            raise RuntimeError(f"FlyingSquid under {python} failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
        times = json.loads(done.stdout.strip().splitlines()[-1])
        proba = np.load(out_path)
    return dict(**times, proba=proba, y=y, accuracy=float(np.mean(np.argmax(proba, axis=1) == y)))
