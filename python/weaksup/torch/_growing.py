"""DSRG's seeded region growing (Huang et al. 2018, "Weakly-Supervised Semantic Segmentation
Network with Deep Seeded Region Growing"), the ``DSRGLayer`` of their training code, as one
batched kernel (C++ on the CPU, CUDA for CUDA tensors).

The rule, per image, with P the classes the image-level labels say are present:

1. Each pixel gets a label: the class of P with the highest probability (the first of equal
   ones, as ``numpy.argmax``) when that probability p passes the thresholds:
   p > fg_threshold, and for the background (class 0) also p > bg_threshold. Otherwise
   the pixel keeps the highest class that has a seed there, or no label.
2. For each class c of P, every 8-connected region of pixels labelled c that contains a
   seed of c joins the seeds of c, except the pixels that carry exactly one seed, of
   another class (DSRG keeps those out; they still connect the region).

The result is the seeds plus what grew, 0 / 1 uint8 (B, C, H, W): DSRG feeds it to the
balanced seeding loss as the new cues. It is a target, so it has no gradient: ``probs``
may require grad (the network's output) and is read detached.
"""

from __future__ import annotations

import warnings
from typing import Any, Optional, Tuple

import numpy as np
import torch

from .. import _arrays
from .. import crf as _crf
from .. import _core
from . import _common

# DSRG's CRF refinement: krahenbuhl2013.CRF(image, probs, scale_factor=12.0), 10 iterations,
# probabilities clipped below at min_prob before and after.
MIN_PROB = 1e-4
SEEDS = "(B, C, H, W) seed cues"


def region_growing(probs: Any, seeds: Any, image_labels: Any = None, fg_threshold: float = 0.85,
                   bg_threshold: float = 0.99, *, threads: int = 0) -> Any:
    """DSRG's seeded region growing (see the module docstring for the rule).

    Args:
        probs: (B, C, H, W) float32 / float64 probabilities over the C classes (class 0 the
            background), summing to 1 over C; DSRG passes the CRF-refined softmax (see
            :func:`region_growing_crf`). Read detached, in place when C-contiguous.
        seeds: (B, C, H, W) 0 / 1 cues (bool, integer or floating dtype); a pixel may hold
            seeds of several classes, or none.
        image_labels: (B, C) 0 / 1 image-level labels (DSRG's ``labels``, background always
            1), or None: every class present.
        fg_threshold, bg_threshold: DSRG's th2 = 0.85 and th1 = 0.99, compared (strictly)
            in the dtype of ``probs``.
        threads: CPU threads (0 = all cores), one image per thread.

    Returns:
        uint8 (B, C, H, W) grown seeds on the device of ``probs``. NumPy arrays in give a
        NumPy array out.
    """
    if isinstance(probs, np.ndarray):
        probs, seeds, image_labels = _from_numpy(probs, seeds, image_labels)
        return region_growing(probs, seeds, image_labels, fg_threshold, bg_threshold, threads=threads).numpy()
    probs, seeds_u8, present, fg, bg = _checked(probs, seeds, image_labels, fg_threshold, bg_threshold)
    threads = _arrays.check_threads(threads)
    if probs.is_cuda:
        _common.probabilities(probs, "probs", dim=1)
        return _cuda_growing(probs, seeds_u8, present, fg, bg)
    # The C++ kernel checks probs and 8-bit seeds as it reads them (passes of their own, or
    # torch ops, would cost as much as the growth); a wrong one raises here, unused.
    grown, seen, binary_seeds = _core.region_growing(
        probs.contiguous().numpy(), seeds_u8.contiguous().numpy(),
        None if present is None else present.contiguous().numpy(), fg, bg, threads)
    _common.check_probabilities("probs", 1, *seen)
    if not binary_seeds:
        raise _common.not_binary("seeds", SEEDS)
    return torch.from_numpy(grown)


def region_growing_crf(probs: Any, images: Any, seeds: Any, image_labels: Any = None, fg_threshold: float = 0.85,
                       bg_threshold: float = 0.99, *, scale_factor: float = 12.0, color_factor: float = 13.0,
                       iterations: int = 10, min_prob: float = MIN_PROB, threads: int = 0) -> Any:
    """DSRG's ``DSRGLayer``: refine ``probs`` with DSRG's dense CRF, batched, then grow the
    seeds on the refined probabilities (:func:`region_growing`).

    The refinement is DSRG's ``refinement``: probabilities clipped below at ``min_prob``,
    SEC's CRF (bilateral sxy 80 / scale_factor, srgb color_factor, weight 10; Gaussian sxy
    3 / scale_factor, weight 3; ``iterations`` mean-field steps) whose unary energies are
    the negated probabilities -p (DSRG hands krahenbuhl2013.CRF the softmax itself, where
    SEC hands it the scores: :func:`weaksup.crf_inference` takes -log p), then the result
    clipped at ``min_prob`` and renormalized in float64.

    Args:
        probs: (B, C, H, W) softmax probabilities (the network's output; read detached).
        images: (B, 3, H, W) colours in 0..255 at the resolution of ``probs`` (DSRG
            resizes the input images to the score map, adds the mean back and rounds).
        seeds, image_labels, fg_threshold, bg_threshold, threads: as :func:`region_growing`.

    Returns:
        uint8 (B, C, H, W) grown seeds, on the device of ``probs`` (NumPy in, NumPy out).
    """
    numpy_in = isinstance(probs, np.ndarray)
    if numpy_in:
        probs, images, seeds, image_labels = _from_numpy(probs, images, seeds, image_labels)
    p = _common.tensor(probs, "probs", 4, meaning="(B, C, H, W) probabilities").detach()
    _common.probabilities(p, "probs", dim=1)
    img = _common.tensor(images, "images", 4, floating=False, meaning="(B, 3, H, W) colours")
    _common.shape(img, "images", (p.shape[0], None, p.shape[2], p.shape[3]), "colours at the size of probs")
    _common.same_device(probs=p, images=img)
    min_prob = _arrays.check_real(min_prob, "min_prob", 0.0, 1.0, low_open=True)
    scale_factor = _arrays.check_real(scale_factor, "scale_factor", 0.0, low_open=True)
    color_factor = _arrays.check_real(color_factor, "color_factor", 0.0, low_open=True)
    energies = -p.clamp(min=min_prob).float()
    q = _crf.dense_crf(img.permute(0, 2, 3, 1), unary=energies, iterations=iterations, gaussian_sigma=3.0 / scale_factor,
                       gaussian_compat=3.0, bilateral_sigma=80.0 / scale_factor, color_sigma=color_factor,
                       bilateral_compat=10.0, label_axis=1, threads=threads)
    q = q.double().clamp(min=min_prob)
    q = q / q.sum(dim=1, keepdim=True)
    out = region_growing(q, seeds, image_labels, fg_threshold, bg_threshold, threads=threads)
    return out.numpy() if numpy_in else out


def _from_numpy(*arrays: Any) -> Tuple[Any, ...]:
    """NumPy arguments as torch tensors on the same memory (others as they are): the NumPy
    entry points share the torch validation."""
    with warnings.catch_warnings():  # read-only arrays: the kernels only read them
        warnings.filterwarnings("ignore", "The given NumPy array is not writable", UserWarning)
        return tuple(torch.from_numpy(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a
                     for a in arrays)


def _checked(probs: Any, seeds: Any, image_labels: Any, fg_threshold: Any, bg_threshold: Any
             ) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor], float, float]:
    """The arguments of region_growing, validated: probs detached, seeds and image labels
    as uint8 0 / 1, thresholds as floats. On the CPU, whether probs are probabilities and
    8-bit seeds 0 / 1 is left to the kernel, which checks them as it reads them."""
    p = _common.tensor(probs, "probs", 4, meaning="(B, C, H, W) probabilities").detach()
    s = _common.binary(seeds, "seeds", SEEDS, bytes_checked_later=not p.is_cuda).view(torch.uint8)
    _common.shape(s, "seeds", tuple(p.shape), "seed cues, the shape of probs")
    tensors = {"probs": p, "seeds": s}
    present = None
    if image_labels is not None:
        present = _common.binary(image_labels, "image_labels", "(B, C) image-level labels").view(torch.uint8)
        _common.shape(present, "image_labels", (p.shape[0], p.shape[1]), "image-level labels")
        tensors["image_labels"] = present
    _common.same_device(**tensors)
    fg = _arrays.check_real(fg_threshold, "fg_threshold", 0.0, 1.0)
    bg = _arrays.check_real(bg_threshold, "bg_threshold", 0.0, 1.0)
    return p, s, present, fg, bg


def _cuda_growing(probs: torch.Tensor, seeds: torch.Tensor, present: Optional[torch.Tensor], fg: float,
                  bg: float) -> torch.Tensor:
    batch, classes, height, width = (int(n) for n in probs.shape)
    if height * width > _arrays._INT32_MAX:
        raise ValueError(f"probs images of more than 2^31 - 1 pixels are not supported on CUDA "
                         f"(shape {tuple(probs.shape)})")
    with _arrays.Device(probs, "probs") as dev:
        p = probs.contiguous()
        s = seeds.contiguous()
        labels = None if present is None else present.contiguous()
        out = dev.empty((batch, classes, height, width), np.uint8)
        dtype = 0 if p.dtype == torch.float32 else 1
        dev.module.region_growing(dev.ptr(p), dtype, dev.ptr(s), 0 if labels is None else dev.ptr(labels),
                                  batch, classes, height, width, fg, bg, dev.ptr(out), dev.stream)
        return out
