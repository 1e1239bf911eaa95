"""Snorkel's label models (``snorkel.labeling.model``) on weaksup's native label model.

``LabelModel``
    Snorkel's class, signatures and return shapes, fitted by
    :class:`weaksup.labelmodel.LabelModel` (EM over distinct vote patterns;
    ``confusion="symmetric"``, ``abstain="observed"`` by default) instead of Snorkel's
    matrix-completion SGD. The predictions are the native model's:
    ``LabelModel(k).fit(L); predict_proba(L)`` here equals
    ``weaksup.LabelModel(k).fit(L).predict_proba(L)``. Differences from Snorkel, by design:

    * ``fit``'s optimiser settings (``n_epochs``, ``lr``, ``l2``, ``optimizer``,
      ``optimizer_config``, ``lr_scheduler``, ``lr_scheduler_config``, ``prec_init``,
      ``log_freq``, ``mu_eps``) are accepted and validated but do not change the fit: EM runs
      to convergence (at most ``max_iter`` = 100 iterations, the native default), whatever
      ``n_epochs`` says. ``progress_bar`` and ``verbose`` print nothing.
    * Without ``class_balance`` or ``Y_dev`` the class prior is learned (Snorkel fixes it
      uniform). ``Y_dev`` gives add-one smoothed class frequencies (Snorkel: raw frequencies,
      and an error unless every class occurs in ``Y_dev``).
    * ``seed`` (when given) seeds Python's and NumPy's global generators as Snorkel's ``fit``
      does, so that a later ``tie_break_policy="true-random"`` repeats Snorkel's draws.
    * ``device`` is accepted; the computation runs where ``L`` lives (CuPy / torch CUDA input
      runs on the GPU).
    * Fewer than 3 labeling functions are allowed; ``L`` may also be SciPy sparse or
      (item, source, label) triplets.
    * ``save`` writes the native ``.npz`` format (not a pickle).

``predict`` / ``score`` follow Snorkel exactly: ties are probabilities within 1e-5 of the
row maximum (strictly), broken by ``tie_break_policy`` (``"abstain"`` -> -1, ``"random"``:
Snorkel's deterministic SHA-1 hash of the row index, ``"true-random"``: NumPy's global
generator), and ``score`` leaves out data points whose prediction or gold label is -1 for
every metric but coverage (Snorkel's Scorer), logging Snorkel's warning when ties abstain.

``MajorityLabelVoter``
    Snorkel's majority vote: ``predict_proba`` is uniform over the most voted classes (not
    the vote fractions: see :func:`weaksup.sources.majority_vote_proba` for those), uniform
    over all classes for data points without votes.
"""

from __future__ import annotations

import logging
import pickle
import random
from collections.abc import Mapping
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from .... import _arrays
from ....labelmodel import LabelModel as _NativeLabelModel
from ....labelmodel import _cardinality, _path, collapse
from ....sources import _vote_counts
from .. import utils as _utils

_logger = logging.getLogger("weaksup.compat.snorkel")

_OPTIMIZERS = ("sgd", "adam", "adamax")
_LR_SCHEDULERS = ("constant", "linear", "exponential", "step")


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
        metrics = _utils._check_metrics([] if metrics is None else metrics, _utils.METRICS)
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
        return top[p.row_pattern]


class LabelModel(BaseLabeler):
    """Snorkel's ``LabelModel`` interface on :class:`weaksup.labelmodel.LabelModel` (see the
    module docstring for what differs).

    Parameters
    ----------
    cardinality : number of classes.
    verbose, device : accepted for compatibility (nothing is printed; the computation runs
        where ``L`` lives).
    confusion, abstain, smoothing, max_iter, tol, threads : passed to the native model
        (weaksup extensions; defaults are the native defaults).
    """

    def __init__(self, cardinality: int = 2, *, verbose: bool = True, device: str = "cpu",
                 confusion: str = "auto", abstain: str = "ignored", smoothing: float = 1.0,
                 max_iter: int = 100, tol: float = 1e-6, threads: int = 0) -> None:
        super().__init__(cardinality)
        self.verbose = _arrays.check_bool(verbose, "verbose")
        self.device = _arrays.check_str(device, "device", 'a device name such as "cpu" or "cuda:0"')
        self._native_config = dict(confusion=confusion, abstain=abstain, smoothing=smoothing,
                                   max_iter=max_iter, tol=tol, threads=threads)
        self._model = _NativeLabelModel(self.cardinality, **self._native_config)
        self._fitted = False
        self.train_config: Dict[str, Any] = {}

    @property
    def native(self) -> _NativeLabelModel:
        """The fitted :class:`weaksup.labelmodel.LabelModel`."""
        return self._model

    def fit(self, L_train: Any, Y_dev: Any = None, class_balance: Optional[List[float]] = None,
            progress_bar: bool = True, *, n_epochs: int = 100, lr: float = 0.01, l2: float = 0.0,
            optimizer: str = "sgd", optimizer_config: Any = None, lr_scheduler: str = "constant",
            lr_scheduler_config: Any = None, prec_init: Any = 0.7, seed: Optional[int] = None,
            log_freq: int = 10, mu_eps: Optional[float] = None) -> None:
        """Fit the label model by EM (the optimiser settings are accepted and ignored; see the
        module docstring)."""
        _arrays.check_bool(progress_bar, "progress_bar")
        config = dict(n_epochs=_arrays.check_int(n_epochs, "n_epochs", 0),
                      lr=_arrays.check_real(lr, "lr", 0.0),
                      l2=_arrays.check_real(l2, "l2", 0.0),
                      optimizer=_arrays.check_choice(optimizer, "optimizer", {o: o for o in _OPTIMIZERS}),
                      optimizer_config=_options(optimizer_config, "optimizer_config"),
                      lr_scheduler=_arrays.check_choice(lr_scheduler, "lr_scheduler",
                                                        {s: s for s in _LR_SCHEDULERS}),
                      lr_scheduler_config=_options(lr_scheduler_config, "lr_scheduler_config"),
                      prec_init=prec_init,
                      seed=None if seed is None else _arrays.check_int(seed, "seed", 0, 2**32 - 1),
                      log_freq=_arrays.check_int(log_freq, "log_freq", 1),
                      mu_eps=None if mu_eps is None else _arrays.check_real(mu_eps, "mu_eps", 0.0, 1.0))
        precisions = _arrays.check_numbers(prec_init, "prec_init", "a number in [0, 1] or one per LF")
        if precisions.ndim != 1 or not np.isfinite(precisions).all() or (precisions < 0).any() or \
                (precisions > 1).any():
            raise ValueError(f"prec_init must be a number in [0, 1] or an array of them (one per LF), got "
                             f"{prec_init!r}")
        seed = config["seed"]
        model = _NativeLabelModel(self.cardinality, seed=0 if seed is None else seed, **self._native_config)
        model.fit(L_train, Y_dev=Y_dev, class_balance=class_balance)
        if precisions.size not in (1, model.n_sources_):
            raise ValueError(f"prec_init has {precisions.size} entries but L_train has {model.n_sources_} LFs")
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
        """(n, k) P(Y | votes)."""
        self._check_fitted()
        return self._model.predict_proba(L)

    def get_conditional_probs(self) -> np.ndarray:
        """(m, k + 1, k) P(LF_i = row - 1 | Y = column); row 0 is abstaining."""
        self._check_fitted()
        return self._model.conditional_probs_.copy()

    def get_weights(self) -> np.ndarray:
        """(m,) estimated accuracy of each LF (P(vote correct | voted) under the class
        balance), clipped to [1e-6, 1] as Snorkel."""
        self._check_fitted()
        return np.clip(self._model.accuracies_, 1e-6, 1.0)

    def save(self, destination: str) -> None:
        """Write the fitted model (native ``.npz`` format)."""
        destination = _path(destination, "destination")
        self._check_fitted()
        self._model.save(destination)

    def load(self, source: str) -> None:
        """Read a model written by :meth:`save` into this object."""
        self._model = _NativeLabelModel.load(_path(source, "source"), threads=self._native_config["threads"])
        self.cardinality = self._model.cardinality
        self._fitted = True


def _options(value: Any, name: str) -> Any:
    """An optimiser / scheduler config: None or a mapping of options (accepted, not used)."""
    if value is not None and not isinstance(value, Mapping):
        raise TypeError(f"{name} must be None or a dict of options, got {_arrays._describe(value)}")
    return value
