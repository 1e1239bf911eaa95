"""``pydensecrf.densecrf`` on weaksup: DenseCRF, DenseCRF2D, ConstUnary and the constants.

Differences from pydensecrf, all additive: any real dtype and any memory layout are
accepted (pydensecrf wants C-contiguous float32 / uint8); ``addPairwiseGaussian`` and
``addPairwiseBilateral`` have DeepLab's values as defaults; results are NumPy arrays
(``np.array(Q)`` works as before) and ``stepInference`` updates the ``Q`` that
``startInference`` returned. The kernel type only matters for parameter learning, which
pydensecrf does not expose either: CONST, DIAG and FULL kernels infer alike.
"""

from __future__ import annotations

from numbers import Number
from typing import Any, Optional

import numpy as np

from ... import crf as _crf

CONST_KERNEL, DIAG_KERNEL, FULL_KERNEL = 0, 1, 2
NO_NORMALIZATION, NORMALIZE_BEFORE, NORMALIZE_AFTER, NORMALIZE_SYMMETRIC = 0, 1, 2, 3


def _kernel(kernel: Any) -> None:
    if kernel not in (CONST_KERNEL, DIAG_KERNEL, FULL_KERNEL):
        raise ValueError(f"kernel must be CONST_KERNEL, DIAG_KERNEL or FULL_KERNEL, got {kernel!r}")


class Unary:
    """Base of the unary classes ``setUnary`` takes."""


class ConstUnary(Unary):
    """Fixed unary energies (L, N)."""

    def __init__(self, u: Any):
        self.u = u


class LogisticUnary(Unary):
    """pydensecrf's learnable unary; not supported (there is no learning API)."""

    def __init__(self, L: Any, f: Any):
        raise NotImplementedError("LogisticUnary is for parameter learning, which weaksup does not provide")


class DenseCRF:
    """A dense CRF over ``nvar`` variables and ``nlabels`` labels (pydensecrf's DenseCRF)."""

    def __init__(self, nvar: int, nlabels: int, *, threads: int = 0):
        self._nvar, self._nlabel = int(nvar), int(nlabels)
        self._crf = _crf.DenseCRF(self._nvar, self._nlabel, threads=threads)

    def setUnaryEnergy(self, u: Any, f: Any = None) -> None:
        """Unary energies (L, N), e.g. -log p."""
        if f is not None:
            raise NotImplementedError("setUnaryEnergy(u, f) builds a learnable unary; weaksup has no learning API")
        u = np.asarray(u)
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
        f = np.asarray(features)
        if f.ndim != 2 or f.shape[1] != self._nvar:
            raise ValueError(f"Bad shape for pairwise energy (Need (?, {self._nvar}), got {f.shape})")
        _kernel(kernel)
        self._crf.add_pairwise_energy(f.T, compat, normalization)

    def inference(self, niter: int) -> np.ndarray:
        """Q (L, N) after ``niter`` mean-field iterations."""
        return self._crf.inference(niter).T

    def startInference(self):
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
        super().__init__(int(w) * int(h), nlabels, threads=threads)
        self._w, self._h = int(w), int(h)

    def _positions(self, sxy: Any) -> np.ndarray:
        sx, sy = (sxy, sxy) if isinstance(sxy, Number) else sxy
        sx, sy = np.float32(sx), np.float32(sy)
        if not (sx > 0 and sy > 0):
            raise ValueError(f"sxy must be positive, got {sxy!r}")
        ys, xs = np.mgrid[0 : self._h, 0 : self._w].astype(np.float32)
        return np.stack([xs.ravel() / sx, ys.ravel() / sy], axis=1)

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
        im = np.asarray(rgbim)
        if im.ndim != 3 or im.shape[:2] != (self._h, self._w):
            raise ValueError(f"Bad shape for pairwise bilateral (Need {(self._h, self._w, 3)}, got {im.shape})")
        if im.shape[2] != 3:
            raise ValueError(
                "addPairwiseBilateral only works for RGB images. For other types, use "
                "`utils.create_pairwise_bilateral` to construct your own pairwise energy and add it through "
                "`addPairwiseEnergy`."
            )
        srgb = (srgb, srgb, srgb) if isinstance(srgb, Number) else srgb
        s = np.asarray(srgb, dtype=np.float32)
        if s.shape != (3,) or not (s > 0).all():
            raise ValueError(f"srgb must be positive (one value or three), got {srgb!r}")
        colours = np.asarray(im, dtype=np.float32).reshape(-1, 3) / s
        _kernel(kernel)
        self._crf.add_pairwise_energy(np.concatenate([self._positions(sxy), colours], axis=1), compat, normalization)


__all__ = [
    "CONST_KERNEL", "DIAG_KERNEL", "FULL_KERNEL", "NO_NORMALIZATION", "NORMALIZE_BEFORE", "NORMALIZE_AFTER",
    "NORMALIZE_SYMMETRIC", "ConstUnary", "DenseCRF", "DenseCRF2D", "LogisticUnary", "Unary",
]
