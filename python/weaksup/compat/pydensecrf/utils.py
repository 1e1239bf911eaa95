"""``pydensecrf.utils``: unaries from labels or softmax output, and pairwise features.

The same numbers as pydensecrf; arguments it would misread (a label past ``n_labels``
wrapping around, fewer ``sdims`` than axes, a zero sigma) are ValueErrors here.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np

from ... import _arrays


def _sigmas(values: Any, name: str, count: int) -> np.ndarray:
    """`count` positive sigmas (one number stands for all) that stay positive in float32."""
    s = _arrays.check_numbers(values, name, "a positive number or a sequence of them")
    if s.size == 1 and count != 1:
        s = np.repeat(s, count)
    if s.shape != (count,):
        raise ValueError(f"{name} needs {count} value(s), one per axis or channel; got {s.size}")
    s32 = s.astype(np.float32)
    if not (np.isfinite(s32).all() and (s32 > 0).all()):
        raise ValueError(f"{name} must be positive and finite in float32, got {values!r}")
    return s32


def _finite(features: np.ndarray, names: str) -> np.ndarray:
    if not np.isfinite(features).all():
        raise ValueError(f"features overflow float32 (or the image holds NaN / inf); use larger {names}")
    return features


def _probability(value: Any, name: str) -> float:
    value = _arrays.check_real(value, name)
    if not 0 < value < 1:
        raise ValueError(f"`{name} must be in (0,1), got {value!r}")
    return float(value)


def unary_from_labels(labels: Any, n_labels: int, gt_prob: float, zero_unsure: bool = True) -> np.ndarray:
    """(n_labels, N) energies: the given label gets probability gt_prob, the others share
    the rest; with zero_unsure, label 0 means "unknown" (uniform) and labels start at 1."""
    gt_prob = _probability(gt_prob, "gt_prob")
    n_labels = _arrays.check_int(n_labels, "n_labels", 2)
    zero_unsure = _arrays.check_bool(zero_unsure, "zero_unsure")
    labels = _arrays.to_host(labels, "labels").ravel()
    if labels.dtype == np.bool_ or labels.dtype.kind not in "iu":
        raise TypeError(f"labels must be an integer array, got dtype {labels.dtype}")
    first, last = (0, n_labels) if zero_unsure else (0, n_labels - 1)
    if labels.size and (labels.min() < first or labels.max() > last):
        raise ValueError(f"labels must lie in {first}..{last} for n_labels={n_labels}"
                         f"{' (0 = unsure)' if zero_unsure else ''}; got {labels.min()}..{labels.max()}")
    labels = labels.astype(np.int64)
    n_energy = -np.log((1.0 - gt_prob) / (n_labels - 1))
    p_energy = -np.log(gt_prob)
    u = np.full((n_labels, len(labels)), n_energy, dtype="float32")
    # Order matters: the unsure columns overwrite the label ones.
    u[labels - 1 if zero_unsure else labels, np.arange(u.shape[1])] = p_energy
    if zero_unsure:
        u[:, labels == 0] = -np.log(1.0 / n_labels)
    return u


def compute_unary(labels: Any, M: int, GT_PROB: float = 0.5) -> np.ndarray:
    """Deprecated alias of unary_from_labels."""
    warnings.warn("compute_unary is deprecated, use unary_from_labels", DeprecationWarning, stacklevel=2)
    return unary_from_labels(labels, M, GT_PROB)


def unary_from_softmax(sm: Any, scale: Any = None, clip: Any = 1e-5) -> np.ndarray:
    """(n_classes, N) energies -log(p) from softmax output (n_classes, ...); probability 0
    (with clip=None) gives an infinite energy, as in pydensecrf."""
    sm = _arrays.to_host(sm, "sm")
    _arrays.real_dtype(sm.dtype, "sm")
    if sm.ndim == 0 or sm.shape[0] == 0:
        raise ValueError(f"sm must be (n_classes, ...) probabilities with n_classes >= 1, got shape {sm.shape}")
    num_cls = sm.shape[0]
    if scale is not None:
        scale = _arrays.check_real(scale, "scale")
        if not 0 < scale <= 1:
            raise ValueError("`scale` needs to be in (0,1]")
        sm = scale * sm + (1 - scale) * (np.ones(sm.shape) / num_cls)
    if clip is not None:
        sm = np.clip(sm, _arrays.check_real(clip, "clip", 0.0, 1.0), 1.0)
    if not (np.isfinite(sm).all() and (sm >= 0).all()):  # NaN, or negative / infinite with clip=None
        raise ValueError("sm must hold probabilities: NaN, and negative or infinite values with clip=None, "
                         "have no energy")
    with np.errstate(divide="ignore"):
        return np.asarray(-np.log(sm).reshape([num_cls, -1]).astype(np.float32))


def softmax_to_unary(sm: Any, GT_PROB: float = 1) -> np.ndarray:
    """Deprecated alias of unary_from_softmax."""
    warnings.warn("softmax_to_unary is deprecated, use unary_from_softmax", DeprecationWarning, stacklevel=2)
    return unary_from_softmax(sm, None if GT_PROB == 1 else GT_PROB, clip=None)


def _mesh(shape: Sequence[int], sdims: Any) -> np.ndarray:
    """Coordinates (len(shape), *shape) as float32, each axis divided by its sdim."""
    s = _sigmas(sdims, "sdims", len(shape))
    mesh = np.array(np.meshgrid(*[range(n) for n in shape], indexing="ij"), dtype=np.float32)
    with np.errstate(over="ignore"):  # overflow becomes inf, which _finite rejects
        return np.asarray(mesh / s.reshape((-1,) + (1,) * len(shape)))


def create_pairwise_gaussian(sdims: Sequence[float], shape: Sequence[int]) -> np.ndarray:
    """(len(sdims), N) position features, each axis divided by its sdim (any dimension)."""
    if isinstance(shape, (str, bytes)):
        raise TypeError(f"shape must be a sequence of image sizes, got {shape!r}")
    try:
        axes = [_arrays.check_int(n, "shape (image size per axis)", 0) for n in shape]
    except TypeError as exc:
        if "shape" in str(exc):
            raise
        raise TypeError(f"shape must be a sequence of image sizes, got {shape!r}") from None
    if not axes:
        raise ValueError("shape must have at least one axis")
    return _finite(_mesh(axes, sdims).reshape([len(axes), -1]), "sdims")


def create_pairwise_bilateral(sdims: Sequence[float], schan: Any, img: Any, chdim: int = -1) -> np.ndarray:
    """(len(sdims) + channels, N) position and channel features; chdim is the image's
    channel axis (-1: a single-channel image without one)."""
    img = _arrays.to_host(img, "img")
    chdim = _arrays.check_int(chdim, "chdim (the channel axis, -1 for none)")
    if chdim == -1:
        im_feat = _arrays.finite_float32(img[np.newaxis], "img")
    elif -img.ndim <= chdim < img.ndim:
        im_feat = _arrays.finite_float32(np.moveaxis(img, chdim, 0), "img")
    else:
        raise ValueError(f"chdim {chdim} is not an axis of img (shape {img.shape}); use -1 for no channel axis")
    if im_feat.ndim < 2:
        raise ValueError(f"img needs at least one spatial axis, got shape {img.shape}")
    with np.errstate(over="ignore"):  # (not in place: im_feat may be the caller's array)
        im_feat = im_feat / _sigmas(schan, "schan", im_feat.shape[0]).reshape((-1,) + (1,) * (im_feat.ndim - 1))
    feats = np.concatenate([_mesh(im_feat.shape[1:], sdims), im_feat])
    return _finite(feats.reshape([feats.shape[0], -1]), "sdims / schan")


__all__ = [
    "compute_unary", "create_pairwise_bilateral", "create_pairwise_gaussian", "softmax_to_unary",
    "unary_from_labels", "unary_from_softmax",
]
