"""Snorkel's label models (``snorkel.labeling.model``, also ``.label_model`` and ``.baselines``)
on weaksup's native label model.

``LabelModel``
    Snorkel's class, signatures, return shapes and public semantics, fitted by
    :class:`weaksup.labelmodel.LabelModel` (EM over distinct vote patterns, with the native
    model's defaults for everything Snorkel does not define: the form of the tables, priors on
    the accuracies, smoothing) instead of Snorkel's matrix-completion SGD. What is Snorkel's:

    * the class prior P(Y) is ``class_balance`` (normalized to sum 1), else the class
      frequencies of ``Y_dev`` (every class must occur), else uniform, and is used as it is
      (no balancing of the posterior marginal);
    * ``predict_proba`` is P(Y) prod over the LFs that voted of P(vote | Y, voted): abstains
      are left out, so data points without votes get the prior (under a uniform prior they tie, and
      ``predict`` gives them -1 with ``tie_break_policy="abstain"``);
    * ``prec_init`` (a number, or one per LF) is the initial accuracy of every LF;
    * the fitted P(vote | Y) are clamped into [``mu_eps``, 1 - ``mu_eps``], ``mu_eps``
      defaulting to min(0.01, 10^-ceil(log10 n)); P(abstain | Y) is what remains;
    * ``get_conditional_probs`` describes ``L_train`` as Snorkel's moment-matched tables do:
      each LF's votes counted under the fitted posteriors (the native ``implied_probs_``),
      clamped as above, so an LF that never votes v has P(LF = v | Y) = ``mu_eps``. The
      posteriors themselves score votes with the native tables (``native.conditional_probs_``),
      whose one-class LFs spread their errors over votes they never cast;
    * after the fit, the classes of equal prior are permuted so that the LFs look most
      accurate (Snorkel's column-permutation symmetry breaking);
    * ``get_weights`` is each LF's accuracy under ``get_conditional_probs``, clipped to [1e-6, 1];
    * validation: ``class_balance`` / ``Y_dev`` against the cardinality, zero priors,
      ``prec_init``'s type and length, optimizer and scheduler names, the keys of
      ``optimizer_config`` / ``lr_scheduler_config`` and the warmup settings are checked as
      Snorkel checks them (with the fix added to the message).

    Differences, by design: the optimiser settings (``n_epochs``, ``lr``, ``l2``, ``optimizer``,
    ``optimizer_config``, ``lr_scheduler``, ``lr_scheduler_config``, ``log_freq``) are
    validated but do not change the fit (EM runs to convergence, at most ``max_iter`` = 100
    iterations); ``progress_bar`` and ``verbose`` print nothing; ``seed`` seeds Python's and
    NumPy's global generators only when given (Snorkel always seeds them, with a default drawn
    once per process); ``device`` is accepted, the computation runs where ``L`` lives (CuPy /
    torch CUDA input runs on the GPU); fewer than 3 LFs are allowed, and ``L`` may be SciPy
    sparse or (item, source, label) triplets; ``prec_init`` must lie in [0, 1]; ``save``
    writes the native ``.npz`` format, not a pickle.

``predict`` / ``score`` follow Snorkel exactly: ties are probabilities within 1e-5 of the
row maximum (strictly), broken by ``tie_break_policy`` (``"abstain"`` -> -1, ``"random"``:
Snorkel's deterministic SHA-1 hash of the row index, ``"true-random"``: NumPy's global
generator), and ``score`` leaves out data points whose prediction or gold label is -1 for
every metric but coverage (Snorkel's Scorer), logging Snorkel's warning when ties abstain.

``MajorityLabelVoter``
    Snorkel's majority vote: ``predict_proba`` is uniform over the most voted classes (not
    the vote fractions: see :func:`weaksup.sources.majority_vote_proba` for those), uniform
    over all classes for data points without votes.
``MajorityClassVoter``
    ``fit(balance)``, then every data point gets the most probable class(es) of ``balance``.
``RandomVoter``
    Random probabilities from NumPy's global generator (``numpy.random.rand(n, k)``, rows
    normalized: Snorkel's draws for the same seed).
"""

from __future__ import annotations

import logging
import math
import numbers
import pickle
import random
from collections.abc import Mapping
from typing import Any, Dict, List, NamedTuple, Optional, Tuple, Union

import numpy as np

from .... import _arrays, _votes
from ....labelmodel import LabelModel as _NativeLabelModel
from ....labelmodel import _accuracies, _cardinality, _check_metrics, _clip, _path, collapse
from ....sources import _vote_counts, infer_cardinality
from .. import utils as _utils

_logger = logging.getLogger("weaksup.compat.snorkel")

_OPTIMIZERS = ("sgd", "adam", "adamax")
_LR_SCHEDULERS = ("constant", "linear", "exponential", "step")
# The keys Snorkel's OptimizerConfig / LRSchedulerConfig accept (nested configs as dicts).
_OPTIMIZER_KEYS = {"sgd_config": {"momentum": None}, "adam_config": {"amsgrad": None, "betas": None},
                   "adamax_config": {"betas": None, "eps": None}}
_LR_SCHEDULER_KEYS = {"warmup_steps": None, "warmup_unit": None, "warmup_percentage": None, "min_lr": None,
                      "exponential_config": {"gamma": None}, "step_config": {"gamma": None, "step_size": None}}


class TrainConfig(NamedTuple):
    """The settings of :meth:`LabelModel.fit` (Snorkel's ``TrainConfig``; the optimiser ones
    are validated and kept, not used). ``optimizer_config`` / ``lr_scheduler_config`` are
    dicts of the options given (None: Snorkel's defaults); ``seed`` is None unless given."""

    n_epochs: int = 100
    lr: float = 0.01
    l2: float = 0.0
    optimizer: str = "sgd"
    optimizer_config: Optional[Dict[str, Any]] = None
    lr_scheduler: str = "constant"
    lr_scheduler_config: Optional[Dict[str, Any]] = None
    prec_init: Union[float, List[float], np.ndarray] = 0.7
    seed: Optional[int] = None
    log_freq: int = 10
    mu_eps: Optional[float] = None


class BaseLabeler:
    """Snorkel's ``BaseLabeler``: ``predict`` and ``score`` from ``predict_proba``."""

    def __init__(self, cardinality: int = 2, **kwargs: Any) -> None:
        self.cardinality = _cardinality(cardinality)

    def predict_proba(self, L: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, L: Any, return_probs: Optional[bool] = False,
                tie_break_policy: str = "abstain") -> Union[np.ndarray, Tuple[np.ndarray, np.ndarray]]:
        """(n,) predicted labels (-1 where ties abstain), and the (n, k) probabilities when
        ``return_probs``."""
        return_probs = False if return_probs is None else _arrays.check_bool(return_probs, "return_probs")
        tie_break_policy = _utils.check_policy(tie_break_policy)
        Y_probs = self.predict_proba(L)
        Y_p = _utils.probs_to_preds(Y_probs, tie_break_policy)
        if return_probs:
            return Y_p, Y_probs
        return Y_p

    def score(self, L: Any, Y: Any, metrics: Optional[List[str]] = ["accuracy"],
              tie_break_policy: str = "abstain") -> Dict[str, float]:
        """Metrics against gold labels ``Y``, as Snorkel's Scorer: data points predicted -1
        (ties abstaining) or with gold -1 are left out of every metric but ``coverage``."""
        tie_break_policy = _utils.check_policy(tie_break_policy)
        metrics = _check_metrics([] if metrics is None else metrics, _utils.METRICS)
        if tie_break_policy == "abstain":
            _logger.warning("Metrics calculated over data points with non-abstain labels only")
        Y_pred, Y_prob = self.predict(L, return_probs=True, tie_break_policy=tie_break_policy)
        return _utils.score(Y, Y_pred, Y_prob, metrics)

    def save(self, destination: str) -> None:
        """Pickle the labeler's attributes (as Snorkel)."""
        with open(_path(destination, "destination"), "wb") as f:
            pickle.dump(self.__dict__, f)

    def load(self, source: str) -> None:
        """Restore attributes written by :meth:`save` (a pickle: load only files you trust)."""
        with open(_path(source, "source"), "rb") as f:
            try:
                state = pickle.load(f)
            except Exception as e:  # whatever a damaged or foreign file makes pickle raise
                raise ValueError(f"{source!r} holds no labeler written by save: {type(e).__name__}: {e}") from e
        if not isinstance(state, dict) or "cardinality" not in state:
            raise ValueError(f"{source!r} holds no labeler written by save (no attributes with a cardinality)")
        self.__dict__.update(state)

    def _rows(self, L: Any) -> int:
        """The number of data points of a label matrix, whatever its labels (as Snorkel's
        baselines, which do not read them)."""
        return collapse(L, max(self.cardinality, infer_cardinality(L))).rows


class MajorityLabelVoter(BaseLabeler):
    """Majority vote label model (``snorkel.labeling.model.MajorityLabelVoter``)."""

    def predict_proba(self, L: Any) -> np.ndarray:
        """(n, k): 1 / (number of most voted classes) on each most voted class, 0 elsewhere;
        uniform for data points without votes."""
        k = self.cardinality
        p = collapse(L, k)
        counts = _vote_counts(p, None, 0)
        top = (counts == counts.max(axis=1, keepdims=True)).astype(np.float64)
        top /= top.sum(axis=1, keepdims=True)
        return np.asarray(top[p.row_pattern])


class MajorityClassVoter(BaseLabeler):
    """Majority class label model (``snorkel.labeling.model.MajorityClassVoter``): every data
    point gets the most probable class of the class balance (ties share the probability)."""

    def fit(self, balance: Any, *args: Any, **kwargs: Any) -> None:
        """Set the class balance: (k,) non-negative numbers, not all 0 (further arguments are
        accepted and ignored, as Snorkel)."""
        k = self.cardinality
        balance = _arrays.check_numbers(balance, "balance", f"{k} class probabilities")
        if balance.shape != (k,):
            raise ValueError(f"balance must have {k} entries (one per class), got shape {balance.shape}")
        if not np.isfinite(balance).all() or (balance < 0).any() or not balance.any():
            raise ValueError("balance must hold finite numbers >= 0, not all 0")
        self.balance = balance

    def predict_proba(self, L: Any) -> np.ndarray:
        """(n, k): 1 / (number of most probable classes) on each of them, for every row of L."""
        if getattr(self, "balance", None) is None:
            raise ValueError("this MajorityClassVoter is not fitted yet; call fit(balance) first")
        top = (self.balance == self.balance.max()).astype(np.float64)
        return np.tile(top / top.sum(), (self._rows(L), 1))


class RandomVoter(BaseLabeler):
    """Random vote label model (``snorkel.labeling.model.RandomVoter``)."""

    def predict_proba(self, L: Any) -> np.ndarray:
        """(n, k) random probabilities: ``numpy.random.rand(n, k)`` (NumPy's global generator,
        as Snorkel), each row divided by its sum."""
        Y_p = np.random.rand(self._rows(L), self.cardinality)
        return np.asarray(Y_p / Y_p.sum(axis=1, keepdims=True))


class LabelModel(BaseLabeler):
    """Snorkel's ``LabelModel`` interface on :class:`weaksup.labelmodel.LabelModel` (see the
    module docstring for what is Snorkel's and what differs).

    Parameters
    ----------
    cardinality : number of classes.
    verbose, device : accepted for compatibility (nothing is printed; the computation runs
        where ``L`` lives).
    **native_options : weaksup extensions, passed to :class:`weaksup.labelmodel.LabelModel`
        (``confusion``, ``abstain``, ``smoothing``, ``max_iter``, ``tol``, ``threads``, ...);
        the native defaults otherwise.
    """

    def __init__(self, cardinality: int = 2, *, verbose: bool = True, device: str = "cpu",
                 **native_options: Any) -> None:
        super().__init__(cardinality)
        self.verbose = _arrays.check_bool(verbose, "verbose")
        self.device = _arrays.check_str(device, "device", 'a device name such as "cpu" or "cuda:0"')
        self._model = _NativeLabelModel(self.cardinality, **native_options)  # checks the options
        self._native_config = native_options
        self._fitted = False
        self.train_config = TrainConfig()

    @property
    def native(self) -> _NativeLabelModel:
        """The fitted :class:`weaksup.labelmodel.LabelModel`."""
        return self._model

    def fit(self, L_train: Any, Y_dev: Any = None, class_balance: Optional[List[float]] = None,
            progress_bar: bool = True, *, n_epochs: int = 100, lr: float = 0.01, l2: float = 0.0,
            optimizer: str = "sgd", optimizer_config: Any = None, lr_scheduler: str = "constant",
            lr_scheduler_config: Any = None, prec_init: Any = 0.7, seed: Optional[int] = None,
            log_freq: int = 10, mu_eps: Optional[float] = None) -> None:
        """Fit the label model by EM from accuracies ``prec_init``, with the class prior of
        ``class_balance`` / ``Y_dev`` (uniform without either); see the module docstring."""
        _arrays.check_bool(progress_bar, "progress_bar")
        k = self.cardinality
        config = TrainConfig(
            n_epochs=_arrays.check_int(n_epochs, "n_epochs", 0), lr=_arrays.check_real(lr, "lr", 0.0),
            l2=_arrays.check_real(l2, "l2", 0.0), optimizer=_name(optimizer, "optimizer", _OPTIMIZERS),
            optimizer_config=_options(optimizer_config, "optimizer_config", _OPTIMIZER_KEYS),
            lr_scheduler=_name(lr_scheduler, "lr scheduler", _LR_SCHEDULERS, "lr_scheduler"),
            lr_scheduler_config=_warmup(_options(lr_scheduler_config, "lr_scheduler_config", _LR_SCHEDULER_KEYS)),
            prec_init=prec_init, seed=None if seed is None else _arrays.check_int(seed, "seed", 0, 2**32 - 1),
            log_freq=_arrays.check_int(log_freq, "log_freq", 1),
            mu_eps=None if mu_eps is None else _clip(mu_eps, k, "mu_eps"))
        precisions = _precisions(prec_init)
        prior = _prior(class_balance, Y_dev, k)
        model = _NativeLabelModel(k, **self._native_config)
        coded = _votes.encode(L_train, k, "L_train", fitting=True)
        votes = model._vote_patterns(coded)
        m, n = votes.sources, votes.rows
        if precisions.ndim == 1 and precisions.size != m:
            raise ValueError(f"prec_init must have shape {m}. (one initial precision per LF: L_train has {m} LFs), "
                             f"got {precisions.size} entries")
        eps = config.mu_eps if config.mu_eps is not None else min(0.01, 1 / 10 ** math.ceil(math.log10(n)))
        model._fit_votes(votes, prior, balance=False, init_accuracy=precisions, clip=eps)
        model._set_ids(coded)
        _trust_sources(model)
        if seed is not None:
            random.seed(seed)
            np.random.seed(seed)
        self.train_config = config
        self._model = model
        self._fitted = True

    def _check_fitted(self) -> None:
        if not self._fitted:
            raise ValueError("this LabelModel is not fitted yet; call fit(L_train) first")

    def predict_proba(self, L: Any) -> np.ndarray:
        """(n, k) P(Y | the votes cast): the prior times P(vote | Y, voted) of each LF that
        voted, normalized (abstains are left out, as Snorkel's)."""
        self._check_fitted()
        proba: np.ndarray = self._model.predict_proba(L, abstains=False)
        return proba

    def get_conditional_probs(self) -> np.ndarray:
        """(m, k + 1, k) P(LF_i = row - 1 | Y = column); row 0 is abstaining. As Snorkel's,
        they describe L_train: the native model's ``implied_probs_`` (the votes of each class
        counted under the fitted posteriors), clamped into [mu_eps, 1 - mu_eps]; a model loaded
        from a file without them gives its ``conditional_probs_``."""
        self._check_fitted()
        implied = self._model.implied_probs_
        return (self._model._check_fitted() if implied is None else implied).copy()

    def get_weights(self) -> np.ndarray:
        """(m,) estimated accuracy of each LF, from ``get_conditional_probs`` as Snorkel's:
        P(vote correct | voted) under the class prior, clipped to [1e-6, 1]."""
        return np.clip(_accuracies(self.get_conditional_probs(), self._model.class_balance_), 1e-6, 1.0)

    def save(self, destination: str) -> None:
        """Write the fitted model (native ``.npz`` format)."""
        destination = _path(destination, "destination")
        self._check_fitted()
        self._model.save(destination)

    def load(self, source: str) -> None:
        """Read a model written by :meth:`save` into this object."""
        self._model = _NativeLabelModel.load(_path(source, "source"), threads=self._model.threads)
        self.cardinality = self._model.cardinality
        self._fitted = True


# ---------------------------------------------------------------- fit's arguments, as Snorkel checks them


def _name(value: Any, what: str, choices: Tuple[str, ...], name: Optional[str] = None) -> str:
    """An optimizer / scheduler name; Snorkel's "Unrecognized ... option" otherwise."""
    name = name or what
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {', '.join(map(repr, choices))}; got "
                        f"{_arrays._describe(value)}")
    if value not in choices:
        raise ValueError(f"Unrecognized {what} option {value!r}: {name} must be one of {', '.join(map(repr, choices))}")
    return value


def _options(value: Any, name: str, keys: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """An optimizer / scheduler config: None, or a dict (or Snorkel-style NamedTuple) whose keys
    are among Snorkel's, nested configs as dicts too; an unknown key is a ValueError, as
    Snorkel's merge_config gives."""
    if value is None:
        return None
    if hasattr(value, "_asdict"):  # a NamedTuple config
        value = value._asdict()
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be None or a dict of options, got {_arrays._describe(value)}")
    unknown = [key for key in value if key not in keys]
    if unknown:
        raise ValueError(f"Got unexpected field names: {unknown!r} in {name}; its options are "
                         f"{', '.join(map(repr, keys))}")
    out = {}
    for key, option in value.items():
        nested = keys[key]
        out[key] = option if nested is None else _options(option, f"{name}[{key!r}]", nested)
    return out


def _warmup(config: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """Snorkel's warmup checks: warmup_steps >= 0, counted in "epochs" (the only unit)."""
    steps = (config or {}).get("warmup_steps", 0)
    if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, numbers.Real):
        raise TypeError(f"lr_scheduler_config['warmup_steps'] must be a number, got {_arrays._describe(steps)}")
    if steps:
        if steps < 0:
            raise ValueError(f"warmup_steps much greater or equal than 0. (lr_scheduler_config['warmup_steps'] "
                             f"= {steps!r})")
        if (config or {}).get("warmup_unit", "batches") != "epochs":
            raise ValueError("LabelModel does not support any warmup_unit other than 'epochs'. (set "
                             "lr_scheduler_config['warmup_unit'] = 'epochs' with warmup_steps)")
    return config


def _precisions(value: Any) -> np.ndarray:
    """prec_init: a number (0-d) or a list / array (1-D) of numbers in [0, 1]; Snorkel's
    TypeError for other types."""
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        p = np.asarray(float(value))
    elif isinstance(value, (list, np.ndarray)) or (hasattr(value, "__array__") and not isinstance(value, str)):
        p = _arrays.check_numbers(value, "prec_init", "numbers in [0, 1], one per LF")
        p = p.reshape(()) if np.ndim(value) == 0 else p
        if np.ndim(value) > 1:
            raise ValueError(f"prec_init must be a number or a 1-D list / array (one per LF), got shape "
                             f"{np.shape(value)}")
    else:
        raise TypeError(f"prec_init is of type {type(value)} which is not supported currently. Pass a number or "
                        f"a list / array of numbers (one per LF)")
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ValueError(f"prec_init must hold numbers in [0, 1] (initial precisions of the LFs), got {value!r}")
    return p


def _prior(class_balance: Any, Y_dev: Any, k: int) -> np.ndarray:
    """Snorkel's class prior: class_balance (normalized), else Y_dev's class frequencies,
    else uniform."""
    if class_balance is not None:
        p = _arrays.check_numbers(class_balance, "class_balance", f"{k} class probabilities")
        if p.ndim != 1 or p.size != k:
            raise ValueError(f"class_balance has {p.size} entries. Does not match LabelModel cardinality {k}. "
                             f"(pass one probability per class)")
        if not np.isfinite(p).all() or (p < 0).any():
            raise ValueError(f"class_balance must hold finite probabilities >= 0, got {class_balance!r}")
    elif Y_dev is not None:
        Y = _utils.to_int_label_array(Y_dev, name="Y_dev")
        if Y.size == 0:
            raise ValueError("Y_dev is empty; pass the gold labels of a dev set (or class_balance)")
        if Y.min() < 0 or Y.max() >= k:
            raise ValueError(f"Y_dev holds the label {int(Y.min() if Y.min() < 0 else Y.max())}; gold labels of "
                             f"Y_dev are classes 0..{k - 1} (cardinality={k}; -1 is not a class)")
        p = np.bincount(Y, minlength=k).astype(np.float64)
        present = int(np.count_nonzero(p))
        if present != k:
            raise ValueError(f"Y_dev has {present} class(es). Does not match LabelModel cardinality {k}. (every "
                             f"class must occur in Y_dev; else pass class_balance)")
    else:
        return np.full(k, 1.0 / k)
    if (p == 0).any():
        raise ValueError(f"Class balance prior is 0 for class(es) {np.flatnonzero(p == 0).tolist()}. (every class "
                         f"needs a positive prior)")
    return np.asarray(p / p.sum())


# ---------------------------------------------------------------- symmetry breaking


def _trust_sources(model: _NativeLabelModel) -> None:
    """Snorkel's column-permutation symmetry breaking: the classes are latent, so among
    classes of equal prior (to 3 decimals) any relabelling fits as well; pick the one that
    maximizes sum over LFs and classes y of P(LF votes y | Y = y) P(y)."""
    theta, prior = model._check_fitted(), model.class_balance_
    k = theta.shape[2]
    gain = theta[:, 1:, :].sum(axis=0) * prior  # gain[c, y]: old class y relabelled c
    perm = np.arange(k)
    for value in np.unique(np.round(prior, 3)):
        group = np.flatnonzero(np.round(prior, 3) == value)
        if group.size > 1:
            perm[group] = group[_best_assignment(gain[np.ix_(group, group)])]
    if (perm != np.arange(k)).any():
        model.conditional_probs_ = np.ascontiguousarray(theta[:, :, perm])
        if model.implied_probs_ is not None:
            model.implied_probs_ = np.ascontiguousarray(model.implied_probs_[:, :, perm])
        model.class_balance_ = prior[perm]
        model.balance_bias_ = model.balance_bias_[perm]


def _best_assignment(gain: np.ndarray) -> np.ndarray:
    """The permutation p maximizing sum_c gain[c, p[c]] (Hungarian algorithm, O(n^3)); the
    identity at once when every row's maximum lies on the diagonal."""
    n = gain.shape[0]
    if (np.diag(gain) >= gain.max(axis=1)).all():
        return np.arange(n)
    cost = gain.max() - gain  # minimize
    u, v = np.zeros(n + 1), np.zeros(n + 1)
    match = np.zeros(n + 1, dtype=np.int64)  # match[j]: row (1-based) assigned to column j; 0 = none
    way = np.zeros(n + 1, dtype=np.int64)
    for i in range(1, n + 1):
        match[0], j0 = i, 0
        dist = np.full(n + 1, np.inf)
        used = np.zeros(n + 1, dtype=bool)
        while True:
            used[j0] = True
            i0 = match[j0]
            free = ~used[1:]
            reduced = cost[i0 - 1] - u[i0] - v[1:]
            better = free & (reduced < dist[1:])
            dist[1:][better] = reduced[better]
            way[1:][better] = j0
            candidates = np.where(free, dist[1:], np.inf)
            j1 = int(np.argmin(candidates)) + 1
            delta = candidates[j1 - 1]
            u[match[used]] += delta
            v[used] -= delta
            dist[~used] -= delta
            j0 = j1
            if match[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            match[j0] = match[j1]
            j0 = j1
    perm = np.empty(n, dtype=np.int64)
    perm[match[1:] - 1] = np.arange(n)
    return perm
