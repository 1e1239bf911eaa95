"""crowd-kit (1.4.2) classification aggregators on weaksup: change only the import.

``from weaksup.compat.crowdkit import DawidSkene, MajorityVote`` (also
``weaksup.compat.crowdkit.aggregation``, as ``crowdkit.aggregation``). Input is crowd-kit's
DataFrame with columns ``task``, ``worker``, ``label`` (any hashable ids and labels); outputs
have crowd-kit's types, names, index orders and label orders:

* tasks, labels and (worker, label) pairs are ordered by first appearance in ``data`` (the
  order crowd-kit's pandas group-bys give); ``labels_`` is the first most probable label in
  that order (``DataFrame.idxmax``);
* ``DawidSkene.probas_`` is clipped below at 1e-10 and not renormalised (crowd-kit clips it
  in place when computing its loss); ``priors_`` is the mean of the unclipped probabilities;
  ``errors_`` is the last M-step: per (worker, observed label) the expected counts per true
  label, clipped at 1e-10, divided by the worker's total per true label.

``DawidSkene`` runs crowd-kit's EM on :class:`weaksup.labelmodel.LabelModel` with
``confusion="full", abstain="ignored", smoothing=0.0, class_prior="learned"`` (EM over the
distinct vote patterns, in C++), round for round: the majority-vote start (gold
``true_labels`` fix the known tasks' probabilities, here and in every E-step;
``initial_error`` enters the start's M-step), then up to ``n_iter`` rounds of E-step and
M-step, each followed by crowd-kit's loss (its evidence lower bound per answer, in which the
prior counts once per answer; ``loss_history_``); EM stops when the loss rises by less than
``tol``. ``probas_`` is the last E-step, and the E-steps clip the prior at 1e-10 as
crowd-kit's do. Labels are ordered as crowd-kit's E-steps order them (an ``initial_error``
whose columns list the labels in another order sorts them). Each worker may answer a task
once (where ``n_iter >= 1`` and the task has no gold label).

When crowd-kit is installed, the classes derive from its ``BaseClassificationAggregator``, so
its wrappers (``BinaryRelevance``, ``clone_aggregator``) take them; importing this module then
imports ``crowdkit.aggregation``.

Bad input raises crowd-kit's exception types: ``KeyError`` for a missing column (as
``MissingColumnError``, which is also a ``ValueError``), ``ValueError`` for bad values (with
crowd-kit's messages for a bad ``initial_error``), ``TypeError`` for arguments of the wrong
type. Unlike crowd-kit, rows with a missing (NaN / None) task, worker or label are an error
rather than silently dropped; weighted votes must be finite and non-negative, with a positive
total per task; gold labels and the rows of ``initial_error`` must use the labels of ``data``
(its columns for other labels are ignored: they change none of crowd-kit's numbers), and
``initial_error`` must hold finite counts >= 0 (probabilities for ``"assign"``).
"""

from __future__ import annotations

import importlib.util
import math
import numbers
import warnings
from typing import Any, List, Optional, Tuple

import numpy as np

from ... import _arrays, _core, _votes
from ..._votes import MissingColumnError
from ...labelmodel import LabelModel as _NativeLabelModel
from ...labelmodel import _check_memory, _CpuVotes, _vote_lists

__all__ = ["DawidSkene", "MajorityVote", "MissingColumnError"]

_EPS = 1e-10  # crowd-kit's _EPS
_STRATEGIES = {None: None, "assign": "assign", "addition": "addition"}


def _crowdkit_base() -> type:
    """crowd-kit's BaseClassificationAggregator when crowd-kit is installed, else object."""
    if importlib.util.find_spec("crowdkit") is None:
        return object
    try:
        from crowdkit.aggregation.base import BaseClassificationAggregator
    except ImportError:  # an incomplete install: the classes work without it
        return object
    base: type = BaseClassificationAggregator
    return base


class _Aggregator(_crowdkit_base()):  # type: ignore[misc]
    """The classes' base: crowd-kit's when installed, with Python's identity, equality and
    hashing either way (crowd-kit's attrs base compares fitted Series)."""

    labels_: Any = None
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={value!r}" for name, value in vars(self).items()
                         if not name.startswith("_") and not name.endswith("_"))
        return f"{type(self).__name__}({args})"


def _answers(data: Any) -> Any:
    """data's task, worker and label columns (crowd-kit's ``data[["task", "worker", "label"]]``)."""
    return _votes.frame_columns(data, "data")


class _Answers:
    """Answers factorised in first-appearance order (crowd-kit's group-by orders)."""

    def __init__(self, data: Any):
        import pandas as pd

        self.data = data
        self.task, self.tasks = _votes.factorize(data["task"], "data's task column", sort=False)
        self.worker, self.workers = _votes.factorize(data["worker"], "data's worker column", sort=False)
        self.label, self.labels = _votes.factorize(data["label"], "data's label column", sort=False)
        _check_memory("data", len(data), len(self.labels), 0, True)  # (answers, labels) tables
        self.tasks = pd.Index(self.tasks, name="task")
        self.workers = pd.Index(self.workers, name="worker")
        self.labels = pd.Index(self.labels, name="label", dtype=data["label"].dtype)
        self.n_tasks, self.n_workers, self.n_labels = len(self.tasks), len(self.workers), len(self.labels)
        # (worker, label) pairs in first-appearance order (crowd-kit's error-matrix rows)
        pair, pairs = pd.factorize(self.worker.astype(np.int64) * self.n_labels + self.label)
        self.pair = pair
        self.pair_worker, self.pair_label = np.divmod(np.asarray(pairs, dtype=np.int64), self.n_labels)

    def counts(self, weights: Optional[np.ndarray] = None) -> np.ndarray:
        """(tasks, labels) (weighted) numbers of answers."""
        T, K = self.n_tasks, self.n_labels
        return np.bincount(self.task * K + self.label, weights=weights, minlength=T * K).reshape(T, K).astype(np.float64)

    def proba_frame(self, probas: np.ndarray) -> Any:
        import pandas as pd

        return pd.DataFrame(probas, index=self.tasks, columns=self.labels)

    def label_series(self, probas: np.ndarray) -> Any:
        import pandas as pd

        return pd.Series(self.labels.take(np.argmax(probas, axis=1)), index=self.tasks, name="agg_label")

    def error_frame(self, values: np.ndarray) -> Any:
        """(pairs, labels) values as crowd-kit's error-matrix DataFrame."""
        import pandas as pd

        index = pd.MultiIndex.from_arrays([self.workers.take(self.pair_worker), self.labels.take(self.pair_label)],
                                          names=["worker", "label"])
        columns = self.labels.rename(None)
        if columns.dtype.kind in "biuf":  # crowd-kit's join / group-by leaves these as object
            columns = columns.astype(object)
        return pd.DataFrame(values, index=index, columns=columns)

    def pair_counts(self, probas: np.ndarray) -> np.ndarray:
        """(pairs, labels) expected counts: sum of the answers' task probabilities per (worker, label)."""
        return np.stack([np.bincount(self.pair, weights=probas[self.task, y], minlength=len(self.pair_worker))
                         for y in range(self.n_labels)], axis=1)

    def known_classes(self, true_labels: Any) -> np.ndarray:
        """(tasks,) class of each task given by the gold labels, -1 where none (crowd-kit uses
        the gold labels of the tasks in data and ignores NaN ones)."""
        import pandas as pd

        known = np.full(self.n_tasks, -1, dtype=np.int64)
        if true_labels is None:
            return known
        if not isinstance(true_labels, pd.Series):
            raise TypeError(f"true_labels must be a pandas Series of gold labels indexed by task, got "
                            f"{type(true_labels).__name__}")
        gold = true_labels[true_labels.notna()]
        if gold.index.has_duplicates:
            raise ValueError("true_labels has more than one gold label for a task; keep one per task")
        at = self.tasks.get_indexer(gold.index)
        gold = gold[at >= 0]
        classes = self.labels.get_indexer(gold.to_numpy())
        if (classes < 0).any():
            raise ValueError(f"true_labels gives labels no answer in data has: "
                             f"{list(pd.unique(gold[classes < 0].to_numpy()))[:5]}; gold labels must be among "
                             f"data's labels {list(self.labels)[:10]}")
        known[at[at >= 0]] = classes
        return known


# ---------------------------------------------------------------- majority vote


class MajorityVote(_Aggregator):
    """crowd-kit's ``MajorityVote``: vote fractions per task (weighted by worker ``skills``
    when given), the most voted label, and each worker's agreement with it (``skills_``)."""

    probas_: Any = None
    skills_: Any = None

    def __init__(self, default_skill: Optional[float] = None, on_missing_skill: str = "error"):
        self.default_skill = None if default_skill is None else _arrays.check_real(default_skill, "default_skill", 0.0)
        self.on_missing_skill = _arrays.check_choice(on_missing_skill, "on_missing_skill",
                                                     {o: o for o in ("error", "ignore", "value")})

    def _skills(self, skills: Any, workers: Any) -> np.ndarray:
        """Each worker's skill (NaN where unknown), checked."""
        import pandas as pd

        if not isinstance(skills, pd.Series):
            raise TypeError(f"skills must be a pandas Series of numbers indexed by worker, got {type(skills).__name__}")
        if skills.index.has_duplicates:
            raise ValueError("skills has more than one value for a worker; keep one skill per worker")
        values = _arrays.check_numbers(skills.to_numpy(), "skills", "a Series of numbers")
        known = values[~np.isnan(values)]
        if not np.isfinite(known).all() or (known < 0).any():
            raise ValueError("skills must be finite and >= 0 (NaN where unknown)")
        if self.on_missing_skill != "value" and self.default_skill is not None:
            raise ValueError('default_skill is used but on_missing_skill is not "value"')
        return np.asarray(pd.Series(values, index=skills.index).reindex(workers).to_numpy(dtype=np.float64))

    def fit(self, data: Any, skills: Any = None) -> "MajorityVote":
        import pandas as pd

        data = _answers(data)
        if not data.size:  # crowd-kit's results for no answers
            self.probas_ = pd.DataFrame()
            self.labels_ = pd.Series([], dtype="O", name="agg_label")
            self.skills_ = pd.Series([], dtype=float, name="skill")
            return self
        a = _Answers(data)
        weights = None
        if skills is not None:
            w = self._skills(skills, a.workers)[a.worker]
            unknown = np.isnan(w)
            if self.on_missing_skill == "value":
                if self.default_skill is None:
                    raise ValueError('Default skill value must be specified when using on_missing_skill="value"')
                w = np.where(unknown, self.default_skill, w)
            elif unknown.any() and self.on_missing_skill == "error":
                raise ValueError(f"Skill value is missing in {int(unknown.sum())} assignments. Specify skills for "
                                 f"every used worker or use different 'on_unknown_skill' value.")
            elif unknown.any():  # "ignore": drop those answers; every task must keep one
                dropped = a.n_tasks - len(np.unique(a.task[~unknown]))
                if dropped:
                    raise ValueError(f"{dropped} tasks has no workers with known skills. Provide at least one worker "
                                     f"with known skill for every task or use different 'on_unknown_skill' value.")
                a = _Answers(data[~unknown])
                w = w[~unknown]
            weights = w
        if weights is None:  # crowd-kit's value_counts: tasks and labels in first-appearance order
            scores = a.counts()
            probas = scores / scores.sum(axis=1, keepdims=True)
            self.probas_ = a.proba_frame(probas)
            self.labels_ = a.label_series(probas)
            top = np.argmax(probas, axis=1)
        else:  # crowd-kit's group-by sum: tasks and labels sorted
            scores = a.data.assign(skill=weights).groupby(["task", "label"])["skill"].sum().unstack("label",
                                                                                                  fill_value=0)
            total = scores.sum(axis=1)
            if not (np.isfinite(total) & (total > 0)).all():
                raise ValueError("skills give a task a total weight of 0 or one past float64's range; give every "
                                 "task a worker with a positive skill and scale large skills down")
            self.probas_ = scores.div(total, axis=0)
            self.labels_ = self.probas_.idxmax(axis="columns").rename("agg_label")
            top = a.labels.get_indexer(self.labels_.reindex(a.tasks).to_numpy())
        # skills_: share of each worker's distinct answers that agree with labels_ (sorted by worker)
        answers = a.data.assign(_hit=(a.label == top[a.task]).astype(np.float64))
        answers = answers.sort_values("_hit", kind="stable").drop_duplicates(["task", "worker", "label"], keep="last")
        group = answers.groupby("worker")
        self.skills_ = (group["_hit"].sum() / group["_hit"].count()).rename("skill")
        return self

    def fit_predict(self, data: Any, skills: Any = None) -> Any:
        return self.fit(data, skills).labels_

    def fit_predict_proba(self, data: Any, skills: Any = None) -> Any:
        return self.fit(data, skills).probas_


# ---------------------------------------------------------------- Dawid-Skene


def _tol(value: Any) -> float:
    """crowd-kit's tol: any number but NaN (-inf: never stop early)."""
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) and math.isinf(value):
        return float(value)
    return _arrays.check_real(value, "tol")


def _first_counts(a: _Answers, probas: np.ndarray, initial_error: Any, strategy: Optional[str]) -> Any:
    """crowd-kit's first M-step before clipping and normalising: the expected counts per
    (worker, label) under the start's probabilities, with ``initial_error`` added
    (``"addition"``) or in their place (``"assign"``), as a DataFrame in crowd-kit's layout."""
    import pandas as pd

    counts = a.error_frame(a.pair_counts(probas))
    if strategy is None or initial_error is None:
        return counts
    if not isinstance(initial_error, pd.DataFrame):
        raise TypeError(f"initial_error must be a pandas DataFrame indexed by worker and label, got "
                        f"{type(initial_error).__name__}")
    if list(initial_error.index.names) != list(counts.index.names):
        raise ValueError(f"The index of initial_error must be: {list(counts.index.names)},"
                         f"but got: {list(initial_error.index.names)}")
    if initial_error.index.has_duplicates or initial_error.columns.has_duplicates:
        raise ValueError("initial_error has a (worker, label) row or a label column twice; keep one of each")
    values = _arrays.check_numbers(initial_error.to_numpy(), "initial_error", "a DataFrame of numbers")
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError("initial_error must hold finite counts (or probabilities) >= 0")
    # Columns for labels that data lacks do not change crowd-kit's numbers (each column is
    # normalised on its own); rows for them would (they share their worker's total).
    foreign = [v for v in initial_error.index.get_level_values("label").unique() if v not in a.labels]
    if foreign:
        raise ValueError(f"initial_error has rows for labels no answer in data has: {foreign[:5]}; its observed "
                         f"labels must be among data's labels {list(a.labels)[:10]}")
    if strategy == "addition":
        return counts.add(initial_error, axis="index", fill_value=0.0)
    lacking = [v for v in a.labels if v not in initial_error.columns]
    if lacking:
        raise ValueError(f"initial_error has no column for the labels {lacking[:5]}; with initial_error_strategy="
                         f"'assign' it needs a column for every label of data")
    absent = ~counts.index.isin(initial_error.index)
    if absent.any():
        workers = counts.index[absent].get_level_values("worker").unique()
        raise ValueError(f"All the workers in data should be in initial_error: "
                         f"Can not find {len(workers)} workers' error matrix in initial_error")
    if (values <= 1.0).all() and not np.allclose(initial_error.groupby("worker", sort=False).sum(), 1.0):
        raise ValueError("The sum of each worker's error matrix in initial_error should be 1.0")
    return initial_error.astype(np.float64)


def _e_step_order(labels: Any, columns: Any) -> np.ndarray:
    """Where crowd-kit's E-steps put the labels: its first E-step adds the prior (indexed by
    the start's labels) to the error matrices' columns, and pandas' alignment of the two
    (sorted when they differ) orders every later result. Positions in ``labels``."""
    import pandas as pd

    with warnings.catch_warnings():  # pandas warns about its own sort of odd (tuple) labels, as in crowd-kit
        warnings.simplefilter("ignore")
        aligned = (pd.Series(0.0, index=labels) + pd.DataFrame(np.zeros((0, len(columns))), columns=columns)).columns
    at = labels.get_indexer(aligned)
    return np.asarray(at[at >= 0])


def _normalised(counts: Any) -> Any:
    """crowd-kit's M-step normalisation: counts clipped at 1e-10 over the worker's total per true label."""
    counts = counts.clip(lower=_EPS)
    return counts / counts.groupby(level="worker", sort=False).transform("sum")


class DawidSkene(_Aggregator):
    """crowd-kit's Dawid-Skene on weaksup's native EM (see the module docstring).

    Parameters
    ----------
    n_iter : maximum number of EM iterations (0: the majority-vote start).
    tol : EM stops when the loss (``loss_history_``) rises by less than ``tol``.
    initial_error_strategy : ``None``, ``"assign"`` (``initial_error`` is the first error
        matrices, all workers of ``data``) or ``"addition"`` (``initial_error`` holds counts
        added to the first M-step's).
    threads : CPU threads for the native model (0 = all cores; a weaksup extension).
    """

    probas_: Any = None
    priors_: Any = None
    errors_: Any = None
    native_: Optional[_NativeLabelModel] = None

    def __init__(self, n_iter: int = 100, tol: float = 1e-5, initial_error_strategy: Optional[str] = None,
                 *, threads: int = 0):
        self.n_iter = _arrays.check_int(n_iter, "n_iter")
        self.tol = _tol(tol)
        self.initial_error_strategy = _arrays.check_choice(initial_error_strategy, "initial_error_strategy",
                                                           _STRATEGIES)
        self.threads = _arrays.check_threads(threads)
        self.loss_history_: List[float] = []

    def fit(self, data: Any, true_labels: Any = None, initial_error: Any = None) -> "DawidSkene":
        """Fit on answers (DataFrame with ``task``, ``worker``, ``label``); ``true_labels``
        (Series of gold labels by task) fixes those tasks' probabilities; ``initial_error``
        (DataFrame indexed by ``worker``, ``label`` with a column per true label) is used as
        ``initial_error_strategy`` says."""
        import pandas as pd

        data = _answers(data)
        if not data.size:
            self.probas_ = pd.DataFrame()
            self.priors_ = pd.Series(dtype=float, name="prior")
            self.errors_ = pd.DataFrame()
            self.labels_ = pd.Series(dtype=float, name="agg_label")
            self.loss_history_ = []
            return self
        a = _Answers(data)
        known = a.known_classes(true_labels)
        counts = a.counts()
        probas = counts / counts.sum(axis=1, keepdims=True)  # the majority-vote start
        gold = known >= 0
        probas[gold] = np.eye(a.n_labels)[known[gold]]
        first = _first_counts(a, probas, initial_error, self.initial_error_strategy)
        if self.n_iter <= 0:
            self.priors_ = pd.Series(probas.mean(axis=0), index=a.labels, name="prior")
            self.errors_ = _normalised(first)
            self.loss_history_ = []
            self.probas_ = a.proba_frame(probas)
        else:
            probas = np.maximum(self._em(a, known, first, probas, len(data)), _EPS)
            order = _e_step_order(a.labels, first.columns)
            self.priors_, self.errors_ = self.priors_.iloc[order], self.errors_.iloc[:, order]
            self.probas_ = a.proba_frame(probas).iloc[:, order]
        probas = self.probas_.to_numpy(dtype=np.float64)
        self.labels_ = pd.Series(self.probas_.columns.take(np.argmax(probas, axis=1)), index=a.tasks, name="agg_label")
        return self

    def _em(self, a: _Answers, known: np.ndarray, first: Any, start: np.ndarray, n_answers: int) -> np.ndarray:
        """crowd-kit's EM rounds on the native model, from the first M-step's counts ``first``
        and the start's probabilities; sets priors_, errors_, loss_history_ and native_ and
        returns the last E-step's (tasks, labels) probabilities."""
        import pandas as pd

        K = a.n_labels
        k = max(2, K)  # the native model needs two classes; an unused one gets prior 0
        patterns, held_out = _held_out(a, known, k, self.threads)
        model = _NativeLabelModel(k, confusion="full", abstain="ignored", smoothing=0.0, class_prior="learned",
                                  method="em", max_iter=self.n_iter, tol=0.0, threads=self.threads)
        losses: List[float] = []
        last: List[np.ndarray] = []
        gold = int((known >= 0).sum())

        def monitor(weights: np.ndarray, bias: np.ndarray, vote_class: np.ndarray, class_total: np.ndarray,
                    log_likelihood: float) -> bool:  # after each E-step: crowd-kit's M-step, loss and stopping rule
            answers = vote_class + held_out[0]
            theta, prior = model._tables(answers, class_total + held_out[1], float(a.n_tasks), None, np)
            last[:] = [_core.pattern_scores(patterns, weights, np.ascontiguousarray(bias), True, self.threads)]
            losses.append(_loss(theta, prior, answers, last[0], patterns.counts, gold, K) / n_answers)
            return len(losses) > 1 and losses[-1] - losses[-2] < self.tol

        model._fit_votes(_CpuVotes(patterns, self.threads), None, start=_start_counts(a, first, start, k),
                         known=held_out, monitor=monitor,
                         prior_floor=np.where(np.arange(k) < K, _EPS, 0.0))  # crowd-kit's E-step clips its priors
        probas = np.eye(K)[np.maximum(known, 0)]
        probas[known < 0] = last[0][patterns.row_pattern, :K]
        theta = model._check_fitted()[:, 1:, :K]  # (workers, label, class): error matrices times coverage
        self.errors_ = a.error_frame((theta / theta.sum(axis=1, keepdims=True))[a.pair_worker, a.pair_label])
        self.priors_ = pd.Series(model.class_balance_[:K], index=a.labels, name="prior")
        self.loss_history_ = losses
        self.native_ = model
        return np.asarray(probas)

    def fit_predict_proba(self, data: Any, true_labels: Any = None, initial_error: Any = None) -> Any:
        return self.fit(data, true_labels, initial_error).probas_

    def fit_predict(self, data: Any, true_labels: Any = None, initial_error: Any = None) -> Any:
        return self.fit(data, true_labels, initial_error).labels_


def _held_out(a: _Answers, known: np.ndarray, k: int, threads: int) -> Tuple[Any, Tuple[np.ndarray, np.ndarray]]:
    """The native vote patterns of the tasks without a gold label, and the fixed expected
    counts (vote_class, class_total) of those with one."""
    free = known[a.task] < 0
    number = np.cumsum(known < 0) - 1  # the free tasks' numbers among themselves
    try:
        patterns = _vote_lists(number[a.task[free]], a.worker[free], a.label[free], int((known < 0).sum()),
                               a.n_workers, k, threads, "data")
    except ValueError as e:
        if "two votes" in str(e):
            raise ValueError("data has two answers of one worker on one task; weaksup's DawidSkene takes one "
                             "answer per (task, worker) where n_iter >= 1: drop duplicates first") from None
        raise
    vote_class = np.zeros((a.n_workers * (k + 1), k))
    np.add.at(vote_class, ((a.worker * (k + 1) + a.label + 1)[~free], known[a.task[~free]]), 1.0)
    return patterns, (vote_class, np.bincount(known[known >= 0], minlength=k).astype(np.float64))


def _start_counts(a: _Answers, first: Any, start: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
    """The first M-step's (vote_class, class_total) for the native model: ``first``'s counts
    (the rows of data's workers, the columns of data's labels, which are all crowd-kit's
    E-steps use) and the start's probabilities summed per class."""
    vote_class, class_total = np.zeros((a.n_workers * (k + 1), k)), np.zeros(k)
    class_total[: a.n_labels] = start.sum(axis=0)
    rows = a.workers.get_indexer(first.index.get_level_values("worker"))
    labels = a.labels.get_indexer(first.index.get_level_values("label"))
    columns = a.labels.get_indexer(first.columns)
    inside, used = rows >= 0, columns >= 0
    vote_class[np.ix_(rows[inside] * (k + 1) + labels[inside] + 1, columns[used])] = \
        first.to_numpy(dtype=np.float64)[np.ix_(inside, used)]
    return vote_class, class_total


def _loss(theta: np.ndarray, prior: np.ndarray, answers: np.ndarray, q: np.ndarray, counts: np.ndarray,
          gold: int, K: int) -> float:
    """crowd-kit's evidence lower bound (before dividing by the number of answers): the sum
    over answers of E_q[log error + log prior] under the M-step's tables (``theta``,
    ``prior``), from its expected counts ``answers`` (gold tasks included), plus the entropy
    of the posteriors clipped at 1e-10: ``q`` (patterns, classes) with their ``counts``, and
    ``gold`` tasks with 0 / 1 posteriors. Over crowd-kit's K labels."""
    k = theta.shape[2]
    expected = answers.reshape(-1, k + 1, k)[:, 1:, :K]  # (workers, given label, true label)
    given = theta[:, 1:, :K]
    log_error = np.log(np.where(expected > 0, given / given.sum(axis=1, keepdims=True), 1.0))
    joint = (expected * log_error).sum() + expected.sum(axis=(0, 1)) @ np.log(np.maximum(prior[:K], _EPS))
    clipped = np.maximum(q[:, :K], _EPS)
    entropy = -(counts @ (clipped * np.log(clipped)).sum(axis=1)) - gold * (K - 1) * _EPS * np.log(_EPS)
    return float(joint + entropy)
