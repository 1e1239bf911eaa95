"""Label-model EM on CUDA arrays: the dense label matrix stays on the device (no collapsing:
every row counts once), the E-step and the M-step's sums run in weaksup's CUDA kernels
(cuda/label_model.cu) and the M-step itself in CuPy. torch CUDA tensors are viewed as CuPy
arrays through DLPack (zero-copy), so CuPy is required on the GPU path."""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from . import _arrays
from .labelmodel import _first_outside, _label_error, rule_statistics


class GpuVotes:
    """The EM loop's view of a CUDA label matrix (labelmodel._CpuVotes is the CPU twin)."""

    def __init__(self, L: Any, cardinality: int, name: str, n_sources: Optional[int] = None):
        self.device = _arrays.Device(L, name)  # TypeError without a CUDA build or device
        try:
            import cupy
        except ImportError as exc:
            raise TypeError(f"{name} is a CUDA array; the CUDA label model needs CuPy "
                            f"(pip install 'weaksup[cuda]')") from exc
        self.xp = cupy
        self.torch_caller = self.device.torch is not None
        with self.device:
            labels = cupy.from_dlpack(L) if self.torch_caller else self.device.wrap(L)
            if labels.ndim != 2:
                raise ValueError(f"{name} must be a 2-D (n_items, n_sources) label matrix, got shape {labels.shape}")
            if labels.shape[0] == 0 or labels.shape[1] == 0:
                raise ValueError(f"{name} is empty (shape {labels.shape}); it needs at least one item and one source")
            if n_sources is not None and labels.shape[1] != n_sources:
                raise ValueError(f"{name} has {labels.shape[1]} sources (columns) but the model was fitted on "
                                 f"{n_sources}")
            kind = labels.dtype.kind
            if labels.dtype == np.bool_ or kind not in "iuf":
                raise TypeError(f"{name} must hold integer labels (-1 = abstain), got dtype {labels.dtype}")
            if kind == "f":
                if not bool(cupy.isfinite(labels).all()):
                    raise ValueError(f"{name} contains NaN or inf; labels must be integers (-1 = abstain)")
                if not bool((labels == cupy.round(labels)).all()):
                    raise ValueError(f"{name} contains non-integer values; labels must be whole numbers")
            if kind in "fu":  # range-checked as stored: a cast first would wrap 1e300 or 2^64 - 1
                bad = _first_outside(labels, name, -1, cardinality - 1)
                if bad is not None:
                    raise _label_error(name, bad, cardinality)
                labels = labels.astype(cupy.int32)  # every value is in -1..k-1
            item = labels.dtype.itemsize
            if any(s <= 0 or s % item for s in labels.strides):
                labels = cupy.ascontiguousarray(labels)
            self.labels = labels
            self.rows, self.sources = (int(d) for d in labels.shape)
            self.k = cardinality
            self.geometry = (self.rows, self.sources, labels.strides[0] // item, labels.strides[1] // item,
                             cardinality, item)
            bad = cupy.empty(3, dtype=cupy.int64)
            self.device.module.label_model_check(self._ptr(labels), *self.geometry, self._ptr(bad), self.device.stream)
            row, column, value = (int(v) for v in bad.get())
            if row >= 0:
                raise _label_error(name, f"{name}[{row}, {column}] = {value}", cardinality)

    @staticmethod
    def _ptr(x: Any) -> int:
        return int(x.data.ptr)

    def _call(self, kernel: str, *arrays: Any, flag: Optional[bool] = None) -> None:
        mod = self.device.module
        ptrs = [self._ptr(a) for a in arrays]
        args = [self._ptr(self.labels), *self.geometry, *ptrs[:2]]
        if flag is not None:
            args.append(flag)
        args += ptrs[2:]
        with self.device:
            getattr(mod, kernel)(*args, self.device.stream)

    def _f64(self, x: Any) -> Any:
        return self.xp.ascontiguousarray(self.xp.asarray(x, dtype=self.xp.float64))

    def majority_statistics(self, fixed_prior: Any) -> Tuple[Any, Any]:
        xp, k = self.xp, self.k
        empty = self._f64(fixed_prior if fixed_prior is not None else np.full(k, 1.0 / k))
        vote_class = xp.empty((self.sources * (k + 1), k))
        class_total = xp.empty(k)
        with self.device:
            self.device.module.label_model_majority_statistics(
                self._ptr(self.labels), *self.geometry, self._ptr(empty), self._ptr(vote_class),
                self._ptr(class_total), self.device.stream)
        return vote_class, class_total

    def host_patterns(self) -> Any:
        """The distinct vote patterns of a host copy of the matrix (the triplet method's moments
        are read on the CPU; the EM steps and predictions stay on the device)."""
        from .labelmodel import collapse

        with self.device:
            return collapse(self.labels.get(), self.k)

    def statistics(self, weights: Any, bias: Any) -> Tuple[Any, Any, float]:
        xp, k = self.xp, self.k
        vote_class, class_total, ll = xp.empty((self.sources * (k + 1), k)), xp.empty(k), xp.empty(1)
        self._call("label_model_statistics", self._f64(weights), self._f64(bias), vote_class, class_total, ll)
        return vote_class, class_total, float(ll.get()[0])

    def marginal(self, weights: Any, bias: Any) -> Tuple[Any, Any, float]:
        xp, k = self.xp, self.k
        marginal, hessian, ll = xp.empty(k), xp.empty((k, k)), xp.empty(1)
        self._call("label_model_marginal", self._f64(weights), self._f64(bias), marginal, hessian, ll)
        return marginal, hessian, float(ll.get()[0])

    def rule_statistics(self, weights: Any, bias: Any, rules: Any) -> Any:
        """labelmodel.rule_statistics over the rows (each its own pattern, count 1), in CuPy."""
        xp, k = self.xp, self.k
        with self.device:
            voted = self.labels >= 0
            rows, sources = xp.nonzero(voted)  # row-major: votes grouped by row, sources increasing
            codes = sources * (k + 1) + self.labels[rows, sources].astype(xp.int64) + 1
            offsets = xp.concatenate([xp.zeros(1, xp.int64), xp.cumsum(voted.sum(axis=1))])
            return rule_statistics(offsets, codes, xp.ones(self.rows), self._f64(weights), self._f64(bias),
                                   xp.asarray(rules), k, xp)

    def posteriors(self, weights: Any, bias: Any) -> Any:
        out = self.xp.empty((self.rows, self.k))
        self._call("label_model_scores", self._f64(weights), self._f64(bias), out, flag=True)
        if self.torch_caller:
            import torch

            return torch.from_dlpack(out)
        return out
