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
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from ....labelmodel import LabelModel as _NativeLabelModel
from ....labelmodel import _cardinality, collapse
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
        Y_probs = self.predict_proba(L)
        Y_p = _utils.probs_to_preds(Y_probs, tie_break_policy)
        if return_probs:
            return Y_p, Y_probs
        return Y_p

    def score(self, L: Any, Y: Any, metrics: Optional[List[str]] = ["accuracy"],
              tie_break_policy: str = "abstain") -> Dict[str, float]:
        """Metrics against gold labels ``Y``, as Snorkel's Scorer: data points predicted -1
        (ties abstaining) or with gold -1 are left out of every metric but ``coverage``."""
        if tie_break_policy == "abstain":
            _logger.warning("Metrics calculated over data points with non-abstain labels only")
        Y_pred, Y_prob = self.predict(L, return_probs=True, tie_break_policy=tie_break_policy)
        return _utils.score(Y, Y_pred, Y_prob, metrics)

    def save(self, destination: str) -> None:
        """Pickle the labeler's attributes (as Snorkel)."""
        with open(destination, "wb") as f:
            pickle.dump(self.__dict__, f)

    def load(self, source: str) -> None:
        """Restore attributes written by :meth:`save`."""
        with open(source, "rb") as f:
            self.__dict__.update(pickle.load(f))


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
                 confusion: str = "symmetric", abstain: str = "observed", smoothing: float = 1.0,
                 max_iter: int = 100, tol: float = 1e-6, threads: int = 0) -> None:
        super().__init__(cardinality)
        self.verbose = verbose
        self.device = device
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
        if optimizer not in _OPTIMIZERS:
            raise ValueError(f"Unrecognized optimizer option '{optimizer}'")
        if lr_scheduler not in _LR_SCHEDULERS:
            raise ValueError(f"Unrecognized lr scheduler option '{lr_scheduler}'")
        self.train_config = dict(n_epochs=n_epochs, lr=lr, l2=l2, optimizer=optimizer,
                                 optimizer_config=optimizer_config, lr_scheduler=lr_scheduler,
                                 lr_scheduler_config=lr_scheduler_config, prec_init=prec_init,
                                 seed=seed, log_freq=log_freq, mu_eps=mu_eps)
        if seed is not None:
            random.seed(seed)
            np.random.seed(seed)
        model = _NativeLabelModel(self.cardinality, seed=0 if seed is None else int(seed), **self._native_config)
        model.fit(L_train, Y_dev=Y_dev, class_balance=class_balance)
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
        self._check_fitted()
        self._model.save(destination)

    def load(self, source: str) -> None:
        """Read a model written by :meth:`save` into this object."""
        self._model = _NativeLabelModel.load(source, threads=self._native_config["threads"])
        self.cardinality = self._model.cardinality
        self._fitted = True
