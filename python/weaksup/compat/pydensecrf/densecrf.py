"""``pydensecrf.densecrf`` on weaksup: DenseCRF, DenseCRF2D, ConstUnary and the constants.

Differences from pydensecrf, all additive: any real dtype and any memory layout are
accepted (pydensecrf wants C-contiguous float32 / uint8); ``addPairwiseGaussian`` and
``addPairwiseBilateral`` have DeepLab's values as defaults; results are NumPy arrays
(``np.array(Q)`` works as before) and ``stepInference`` updates the ``Q`` that
``startInference`` returned. The kernel type only matters for parameter learning, which
pydensecrf does not expose either: CONST, DIAG and FULL kernels infer alike.
"""

from __future__ import annotations

from typing import Any, Tuple

import numpy as np

from ... import _arrays
from ... import crf as _crf
from .utils import _sigmas

CONST_KERNEL, DIAG_KERNEL, FULL_KERNEL = 0, 1, 2
NO_NORMALIZATION, NORMALIZE_BEFORE, NORMALIZE_AFTER, NORMALIZE_SYMMETRIC = 0, 1, 2, 3


_KERNELS = {CONST_KERNEL: CONST_KERNEL, DIAG_KERNEL: DIAG_KERNEL, FULL_KERNEL: FULL_KERNEL}


def _kernel(kernel: Any) -> None:
    _arrays.check_choice(kernel, "kernel (CONST_KERNEL, DIAG_KERNEL or FULL_KERNEL)", _KERNELS)


class NotSupported(NotImplementedError, TypeError):
    """A pydensecrf feature weaksup does not provide (parameter learning): a TypeError too,
    so that callers catching bad arguments catch it."""


def _scaled(values: np.ndarray, sigmas: Any, name: str) -> np.ndarray:
    """Feature columns (N, d) divided by their sigmas, which must keep them finite in float32."""
    with np.errstate(over="ignore"):
        out = values / _sigmas(sigmas, name, values.shape[1])
    if not np.isfinite(out).all():
        raise ValueError(f"{name} is so small that the features overflow float32; use a larger {name}")
    return np.asarray(out)


class Unary:
    """Base of the unary classes ``setUnary`` takes."""


class ConstUnary(Unary):
    """Fixed unary energies (L, N)."""

    def __init__(self, u: Any):
        self.u = u


class LogisticUnary(Unary):
    """pydensecrf's learnable unary; not supported (there is no learning API)."""

    def __init__(self, L: Any, f: Any):
        raise NotSupported("LogisticUnary is for parameter learning, which weaksup does not provide")


class DenseCRF:
    """A dense CRF over ``nvar`` variables and ``nlabels`` labels (pydensecrf's DenseCRF)."""

    def __init__(self, nvar: int, nlabels: int, *, threads: int = 0):
        self._nvar = _arrays.check_int(nvar, "nvar (the number of variables)", 1)
        self._nlabel = _arrays.check_int(nlabels, "nlabels", 2)
        self._crf = _crf.DenseCRF(self._nvar, self._nlabel, threads=threads)

    def setUnaryEnergy(self, u: Any, f: Any = None) -> None:
        """Unary energies (L, N), e.g. -log p."""
        if f is not None:
            raise NotSupported("setUnaryEnergy(u, f) builds a learnable unary for parameter learning, which "
                               "weaksup does not provide")
        u = _arrays.to_host(u, "u")
        if u.ndim != 2 or u.shape != (self._nlabel, self._nvar):
            raise ValueError(f"Bad shape for unary energy (Need {(self._nlabel, self._nvar)}, got {u.shape})")
        self._crf.set_unary_energy(u.T)

    def setUnary(self, u: Unary) -> None:
        if not isinstance(u, ConstUnary):
            raise TypeError("setUnary takes a ConstUnary")
        self.setUnaryEnergy(u.u)

    def addPairwiseEnergy(self, features: Any, compat: Any, kernel: int = DIAG_KERNEL,
                          normalization: int = NORMALIZE_SYMMETRIC) -> None:
        """A Gaussian term over features (D, N) (already divided by their sigmas)."""
        f = _arrays.to_host(features, "features")
        if f.ndim != 2 or f.shape[1] != self._nvar:
            raise ValueError(f"Bad shape for pairwise energy (Need (?, {self._nvar}), got {f.shape})")
        _kernel(kernel)
        self._crf.add_pairwise_energy(f.T, compat, normalization)

    def inference(self, niter: int) -> np.ndarray:
        """Q (L, N) after ``niter`` mean-field iterations."""
        return self._crf.inference(niter).T

    def startInference(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(Q, tmp1, tmp2) for stepInference; Q (L, N) is softmax(-unary)."""
        q = self._crf.start_inference()
        return q.T, np.empty((0, 0), np.float32), np.empty((0, 0), np.float32)

    def stepInference(self, Q: np.ndarray, tmp1: Any = None, tmp2: Any = None) -> None:
        """One mean-field iteration; updates Q (from startInference) in place."""
        if not isinstance(Q, np.ndarray):
            raise TypeError("Q must be the array startInference() returned")
        self._crf.step_inference(Q.T)

    def klDivergence(self, Q: Any) -> float:
        return self._crf.kl_divergence(np.asarray(Q).T)


class DenseCRF2D(DenseCRF):
    """A dense CRF over a w x h image (width first, as pydensecrf)."""

    def __init__(self, w: int, h: int, nlabels: int, *, threads: int = 0):
        self._w = _arrays.check_int(w, "w (the image width)", 1)
        self._h = _arrays.check_int(h, "h (the image height)", 1)
        super().__init__(self._w * self._h, nlabels, threads=threads)

    def _positions(self, sxy: Any) -> np.ndarray:
        ys, xs = np.mgrid[0 : self._h, 0 : self._w].astype(np.float32)
        return _scaled(np.stack([xs.ravel(), ys.ravel()], axis=1), sxy, "sxy")

    def addPairwiseGaussian(self, sxy: Any = 3, compat: Any = 3, kernel: int = DIAG_KERNEL,
                            normalization: int = NORMALIZE_SYMMETRIC) -> None:
        """Smoothness: features (x / sx, y / sy)."""
        _kernel(kernel)
        self._crf.add_pairwise_energy(self._positions(sxy), compat, normalization)

    def addPairwiseBilateral(self, sxy: Any = 80, srgb: Any = 13, rgbim: Any = None, compat: Any = 10,
                             kernel: int = DIAG_KERNEL, normalization: int = NORMALIZE_SYMMETRIC) -> None:
        """Appearance: features (x / sx, y / sy, r / sr, g / sg, b / sb) from rgbim (H, W, 3)."""
        if rgbim is None:
            raise TypeError("addPairwiseBilateral needs rgbim, an (H, W, 3) image")
        im = _arrays.to_host(rgbim, "rgbim")
        _arrays.real_dtype(im.dtype, "rgbim")
        if im.ndim != 3 or im.shape[:2] != (self._h, self._w):
            raise ValueError(f"Bad shape for pairwise bilateral (Need {(self._h, self._w, 3)}, got {im.shape})")
        if im.shape[2] != 3:
            raise ValueError(
                "addPairwiseBilateral only works for RGB images. For other types, use "
                "`utils.create_pairwise_bilateral` to construct your own pairwise energy and add it through "
                "`addPairwiseEnergy`."
            )
        colours = _scaled(_arrays.finite_float32(im, "rgbim").reshape(-1, 3), srgb, "srgb")
        _kernel(kernel)
        self._crf.add_pairwise_energy(np.concatenate([self._positions(sxy), colours], axis=1), compat, normalization)


__all__ = [
    "CONST_KERNEL", "DIAG_KERNEL", "FULL_KERNEL", "NO_NORMALIZATION", "NORMALIZE_BEFORE", "NORMALIZE_AFTER",
    "NORMALIZE_SYMMETRIC", "ConstUnary", "DenseCRF", "DenseCRF2D", "LogisticUnary", "NotSupported", "Unary",
]
