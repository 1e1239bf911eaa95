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
  ``errors_`` is the M-step on them: per (worker, observed label) the expected counts per true
  label, clipped at 1e-10, divided by the worker's total per true label.

``DawidSkene`` is fitted by :class:`weaksup.labelmodel.LabelModel` with
``confusion="full", abstain="ignored", smoothing=0.0, max_iter=n_iter, tol=tol`` (EM over the
distinct vote patterns, in C++): ``probas_`` is that model's ``predict_proba``. Known
differences from crowd-kit (see the report in the tests): crowd-kit's probabilities after N
iterations equal the native model's after N - 1 (the native ``predict_proba`` runs one more
E-step with the final tables); the native model stops when the mean log-likelihood per task
changes by less than ``tol``, crowd-kit when its loss per answer (an ELBO in which the prior
counts once per answer) rises by less than ``tol``; the native M-step also floors never-given
(worker, label) entries at 1e-10, which crowd-kit leaves out of the normalisation.
``loss_history_`` holds the native mean log-likelihood per task, one entry per iteration.
``true_labels`` and ``initial_error`` are not supported. Each worker may answer a task once.

Bad input raises crowd-kit's exception types: ``KeyError`` for a missing column (as
``MissingColumnError``, which is also a ``ValueError``), ``ValueError`` for bad values,
``TypeError`` for arguments of the wrong type, and ``NotImplementedError`` for what this layer
does not support (as ``NotSupportedError``, also a ``ValueError``). Unlike crowd-kit, rows with
a missing (NaN / None) task, worker or label are an error rather than silently dropped, and
weighted votes must be finite and non-negative, with a positive total per task.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

import numpy as np

from ... import _arrays, _votes
from ..._votes import MissingColumnError
from ...labelmodel import LabelModel as _NativeLabelModel, _check_memory

__all__ = ["DawidSkene", "MajorityVote", "MissingColumnError", "NotSupportedError"]

_EPS = 1e-10  # crowd-kit's _EPS


class NotSupportedError(NotImplementedError, ValueError):
    """An option of crowd-kit's that this layer does not implement (NotImplementedError, and a
    ValueError)."""


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
        self.labels = pd.Index(self.labels, name="label", dtype=data["label"].dtype)
        self.n_tasks, self.n_labels = len(self.tasks), len(self.labels)

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

    def m_step(self, probas: np.ndarray) -> Any:
        """crowd-kit's DawidSkene._m_step: (worker, label) x true label error matrices."""
        import pandas as pd

        K = self.n_labels
        pair, pairs = pd.factorize(self.worker.astype(np.int64) * K + self.label)
        pair_worker, pair_label = np.divmod(np.asarray(pairs, dtype=np.int64), K)
        counts = np.stack([np.bincount(pair, weights=probas[self.task, y], minlength=len(pairs))
                           for y in range(K)], axis=1)
        np.maximum(counts, _EPS, out=counts)
        totals = np.stack([np.bincount(pair_worker, weights=counts[:, y], minlength=len(self.workers))
                           for y in range(K)], axis=1)
        errors = counts / totals[pair_worker]
        index = pd.MultiIndex.from_arrays([self.workers.take(pair_worker), self.labels.take(pair_label)],
                                          names=["worker", "label"])
        columns = self.labels.rename(None)
        if columns.dtype.kind in "biuf":  # crowd-kit's join / group-by leaves these as object
            columns = columns.astype(object)
        return pd.DataFrame(errors, index=index, columns=columns)


class MajorityVote:
    """crowd-kit's ``MajorityVote``: vote fractions per task (weighted by worker ``skills``
    when given), the most voted label, and each worker's agreement with it (``skills_``)."""

    def __init__(self, default_skill: Optional[float] = None, on_missing_skill: str = "error"):
        self.default_skill = None if default_skill is None else _arrays.check_real(default_skill, "default_skill", 0.0)
        self.on_missing_skill = _arrays.check_choice(on_missing_skill, "on_missing_skill",
                                                     {o: o for o in ("error", "ignore", "value")})
        self.probas_: Any = None
        self.labels_: Any = None
        self.skills_: Any = None

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
        return pd.Series(values, index=skills.index).reindex(workers).to_numpy(dtype=np.float64)

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


class DawidSkene:
    """Dawid-Skene on weaksup's native EM (see the module docstring).

    Parameters
    ----------
    n_iter : maximum number of EM iterations.
    tol : the native stopping tolerance (change of the mean log-likelihood per task).
    initial_error_strategy : only ``None`` is supported.
    threads : CPU threads for the native model (0 = all cores; a weaksup extension).
    """

    def __init__(self, n_iter: int = 100, tol: float = 1e-5, initial_error_strategy: Optional[str] = None,
                 *, threads: int = 0):
        if initial_error_strategy is not None:
            raise NotSupportedError("weaksup's DawidSkene does not support initial_error_strategy; leave it None")
        self.n_iter = _arrays.check_int(n_iter, "n_iter")
        self.tol = _arrays.check_real(tol, "tol")
        self.initial_error_strategy = initial_error_strategy
        self.threads = _arrays.check_threads(threads)
        self.probas_: Any = None
        self.priors_: Any = None
        self.errors_: Any = None
        self.labels_: Any = None
        self.loss_history_: List[float] = []
        self.native_: Optional[_NativeLabelModel] = None

    def __repr__(self) -> str:
        return f"DawidSkene(n_iter={self.n_iter}, tol={self.tol}, initial_error_strategy={self.initial_error_strategy})"

    def _fit_probas(self, a: _Answers) -> Tuple[np.ndarray, List[float]]:
        triplets = (a.task, a.worker, a.label)
        if self.n_iter <= 0:  # crowd-kit: the majority-vote initialisation
            counts = a.counts()
            return counts / counts.sum(axis=1, keepdims=True), []
        k = max(2, a.n_labels)  # the native model needs two classes; an unused one gets prior 0
        model = _NativeLabelModel(k, confusion="full", abstain="ignored", smoothing=0.0, class_prior="learned",
                                  max_iter=self.n_iter, tol=max(self.tol, 0.0), threads=self.threads)
        try:
            model.fit(triplets)
        except ValueError as e:
            if "two votes" in str(e):
                raise ValueError("data has two answers of one worker on one task; weaksup's DawidSkene takes "
                                 "one answer per (task, worker): drop duplicates first") from None
            raise
        self.native_ = model
        probas = model.predict_proba(triplets)[:, : a.n_labels]
        return probas, [float(h) for h in model.history_]

    def fit(self, data: Any, true_labels: Any = None, initial_error: Any = None) -> "DawidSkene":
        """Fit on answers (DataFrame with ``task``, ``worker``, ``label``)."""
        import pandas as pd

        if true_labels is not None or initial_error is not None:
            raise NotSupportedError("weaksup's DawidSkene does not support true_labels or initial_error; leave "
                                    "them None")
        data = _answers(data)
        if not data.size:
            self.probas_ = pd.DataFrame()
            self.priors_ = pd.Series(dtype=float, name="prior")
            self.errors_ = pd.DataFrame()
            self.labels_ = pd.Series(dtype=float, name="agg_label")
            self.loss_history_ = []
            return self
        a = _Answers(data)
        probas, history = self._fit_probas(a)
        self.priors_ = pd.Series(probas.mean(axis=0), index=a.labels, name="prior")
        self.errors_ = a.m_step(probas)
        if self.n_iter > 0:
            probas = np.maximum(probas, _EPS)
        self.probas_ = a.proba_frame(probas)
        self.labels_ = a.label_series(probas)
        self.loss_history_ = history
        return self

    def fit_predict_proba(self, data: Any, true_labels: Any = None, initial_error: Any = None) -> Any:
        return self.fit(data, true_labels, initial_error).probas_

    def fit_predict(self, data: Any, true_labels: Any = None, initial_error: Any = None) -> Any:
        return self.fit(data, true_labels, initial_error).labels_
