"""``pydensecrf.utils``: unaries from labels or softmax output, and pairwise features."""

from __future__ import annotations

import warnings
from numbers import Number
from typing import Any, Sequence

import numpy as np


def unary_from_labels(labels: Any, n_labels: int, gt_prob: float, zero_unsure: bool = True) -> np.ndarray:
    """(n_labels, N) energies: the given label gets probability gt_prob, the others share
    the rest; with zero_unsure, label 0 means "unknown" (uniform) and labels start at 1."""
    if not 0 < gt_prob < 1:
        raise ValueError("`gt_prob must be in (0,1).")
    labels = np.asarray(labels).ravel()
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
    """(n_classes, N) energies -log(p) from softmax output (n_classes, ...)."""
    sm = np.asarray(sm)
    num_cls = sm.shape[0]
    if scale is not None:
        if not 0 < scale <= 1:
            raise ValueError("`scale` needs to be in (0,1]")
        sm = scale * sm + (1 - scale) * (np.ones(sm.shape) / num_cls)
    if clip is not None:
        sm = np.clip(sm, clip, 1.0)
    return -np.log(sm).reshape([num_cls, -1]).astype(np.float32)


def softmax_to_unary(sm: Any, GT_PROB: float = 1) -> np.ndarray:
    """Deprecated alias of unary_from_softmax."""
    warnings.warn("softmax_to_unary is deprecated, use unary_from_softmax", DeprecationWarning, stacklevel=2)
    return unary_from_softmax(sm, None if GT_PROB == 1 else GT_PROB, clip=None)


def create_pairwise_gaussian(sdims: Sequence[float], shape: Sequence[int]) -> np.ndarray:
    """(len(sdims), N) position features, each axis divided by its sdim (any dimension)."""
    mesh = np.array(np.meshgrid(*[range(s) for s in shape], indexing="ij"), dtype=np.float32)
    for i, s in enumerate(sdims):
        mesh[i] /= s
    return mesh.reshape([len(sdims), -1])


def create_pairwise_bilateral(sdims: Sequence[float], schan: Any, img: Any, chdim: int = -1) -> np.ndarray:
    """(len(sdims) + channels, N) position and channel features; chdim is the image's
    channel axis (-1: a single-channel image without one)."""
    img = np.asarray(img)
    im_feat = img[np.newaxis].astype(np.float32) if chdim == -1 else np.rollaxis(img, chdim).astype(np.float32)
    if isinstance(schan, Number):
        im_feat /= schan
    else:
        for i, s in enumerate(schan):
            im_feat[i] /= s
    mesh = np.array(np.meshgrid(*[range(s) for s in im_feat.shape[1:]], indexing="ij"), dtype=np.float32)
    for i, s in enumerate(sdims):
        mesh[i] /= s
    feats = np.concatenate([mesh, im_feat])
    return feats.reshape([feats.shape[0], -1])


__all__ = [
    "compute_unary", "create_pairwise_bilateral", "create_pairwise_gaussian", "softmax_to_unary",
    "unary_from_labels", "unary_from_softmax",
]
