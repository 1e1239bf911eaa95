"""SEC's three losses (Kolesnikov & Lampert 2016, "Seed, Expand and Constrain: Three
Principles for Weakly-Supervised Image Segmentation"), as the layers of SEC's reference
code (``pylayers.py``: SeedLossLayer, ExpandLossLayer, ConstrainLossLayer + CRFLayer)
define them, with gradients with respect to ``probs``.

``probs`` is what SEC's losses take: (N, C, H, W) softmax probabilities, channel 0 the
background. SEC's softmax layer adds 1e-4 to every probability and renormalizes, so its
losses never see a 0 or a 1; here a probability of exactly 0 where a log is taken (a cue,
a present class, the background) or a maximum of exactly 1 for an absent class gives an
infinite loss, as it would in SEC.
"""

from __future__ import annotations

from typing import Any, Tuple

import torch

from .. import _arrays, _core
from ..crf import crf_inference
from . import _common

_IMAGE_DTYPES = (torch.uint8,) + _common.FLOATS


def _probs(probs: Any) -> torch.Tensor:
    return _common.tensor(probs, "probs", 4, meaning="(N, C, H, W) softmax probabilities")


def seed_loss(probs: torch.Tensor, cues: torch.Tensor) -> torch.Tensor:
    """SEC's seeding loss: for each image n, minus the mean of log probs over its cues,
    averaged over the batch::

        loss = -1/N sum_n [ sum_{c,h,w} cues[n,c,h,w] log probs[n,c,h,w] / sum_{c,h,w} cues[n,c,h,w] ]

    probs (N, C, H, W) probabilities; cues (N, C, H, W) 0/1 localization cues (bool,
    integer or float), any number of classes per pixel, as SEC's cue maps are. An image
    without a single cue adds 0 (SEC's 0/0 would be NaN) and still counts in N.

    Gradient: d loss / d probs = -cues / (probs * count_n * N), 0 off the cues (a custom
    autograd Function that visits the cue positions only). cues must not require grad."""
    probs = _probs(probs)
    cues = _common.tensor(cues, "cues", 4, floating=False, meaning="(N, C, H, W) localization cues")
    _common.same_device(probs=probs, cues=cues)
    _common.shape(cues, "cues", tuple(probs.shape), "the shape of probs")
    _common.no_grad(cues, "cues", "they are fixed 0/1 targets")
    mask = _common.binary(cues, "cues", "localization cues")
    _common.probabilities(probs, "probs")
    loss: torch.Tensor = _SeedLoss.apply(probs, mask)
    return loss


class _SeedLoss(torch.autograd.Function):  # type: ignore[misc]  # torch is untyped to mypy here
    """The seed loss over the cue positions only (cues are sparse: a few percent of the
    pixel-class pairs), so that nothing off the cues is read, logged or summed."""

    @staticmethod
    def forward(ctx: Any, probs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        n = probs.shape[0]
        at = mask.reshape(-1).nonzero().squeeze(1)  # flat (N, C, H, W) positions of the cues
        image = at // (probs.numel() // n)
        values = probs.detach().reshape(-1)[at]
        count = torch.bincount(image, minlength=n).clamp(min=1).to(probs.dtype)  # no cues: 0 / 1
        sums = torch.zeros(n, dtype=probs.dtype, device=probs.device).index_add_(0, image, torch.log(values))
        ctx.save_for_backward(at, image, values, count)
        ctx.shape = probs.shape
        return -(sums / count).mean()

    @staticmethod
    @torch.autograd.function.once_differentiable  # type: ignore[untyped-decorator]
    def backward(ctx: Any, grad: torch.Tensor) -> Tuple[torch.Tensor, None]:
        at, image, values, count = ctx.saved_tensors
        n = ctx.shape[0]
        out = torch.zeros(ctx.shape, dtype=values.dtype, device=values.device)
        out.view(-1)[at] = -grad / (values * count[image] * n)
        return out, None


class _RankPool(torch.autograd.Function):  # type: ignore[misc]
    """G per row of values (rows, n), q (rows,) float64 on the CPU: the C++ kernel for
    CPU tensors, or (torch_sort, any device: CUDA tensors stay there) a batched
    torch.sort."""

    @staticmethod
    def forward(ctx: Any, values: torch.Tensor, q: torch.Tensor, threads: int, torch_sort: bool) -> torch.Tensor:
        ctx.threads = threads
        if not torch_sort:
            q_np = q.numpy()
            g, order = _core.rank_pool(values.detach().contiguous().numpy(), q_np, threads)
            ctx.save_for_backward(torch.from_numpy(order), q)
            ctx.on_cpu = True
            return torch.from_numpy(g)
        ctx.on_cpu = False
        ranked, order = torch.sort(values.detach(), dim=1, descending=True)
        j = torch.arange(values.shape[1], dtype=values.dtype, device=values.device)
        weights = torch.pow(q.to(values.dtype)[:, None], j)  # 0 ** 0 = 1: q = 0 is max pooling
        weights = weights / weights.sum(dim=1, keepdim=True)
        ctx.save_for_backward(order, weights)
        return (ranked * weights).sum(dim=1)

    @staticmethod
    @torch.autograd.function.once_differentiable  # type: ignore[untyped-decorator]
    def backward(ctx: Any, grad: torch.Tensor) -> Tuple[torch.Tensor, None, None, None]:
        order, saved = ctx.saved_tensors
        if ctx.on_cpu:
            out = _core.rank_pool_grad(grad.contiguous().numpy(), order.numpy(), saved.numpy(), ctx.threads)
            return torch.from_numpy(out), None, None, None
        return torch.zeros_like(saved).scatter_(1, order, grad[:, None] * saved), None, None, None


def rank_pooling(values: torch.Tensor, q: Any, *, threads: int = 0) -> torch.Tensor:
    """Global weighted rank pooling of each (n, c) map of values (N, C, H, W): with the
    map's values sorted descending, x_0 >= x_1 >= ..., G = sum_j q^j x_j / sum_j q^j
    -> (N, C). q is one number in [0, 1] or one per class ((C,)) or per map ((N, C)):
    1 is the mean, 0 the max. Ties sort in any order (equal values give the same G).

    Gradient: d G / d x = q^j / sum_j q^j at the element of rank j (with ties, the
    one-sided derivative of the order chosen). On the CPU the sort runs in weaksup's C++
    kernel (``threads`` as elsewhere); on CUDA it is torch.sort on the device."""
    values = _common.tensor(values, "values", 4, meaning="(N, C, H, W) maps")
    n, c = values.shape[:2]
    if values.shape[2] * values.shape[3] == 0:
        raise ValueError(f"values must have maps of at least one element, got shape {tuple(values.shape)}")
    if isinstance(q, torch.Tensor):
        _common.no_grad(q, "q", "it is a fixed decay")
        q_t = q.detach().to(values.device, torch.float64)  # small: (N, C) at most
        if tuple(q_t.shape) not in ((), (c,), (n, c)):
            raise ValueError(f"q must be a number, (C,) or (N, C) = ({c},) or ({n}, {c}), got shape {tuple(q_t.shape)}")
        if not bool(((q_t >= 0) & (q_t <= 1)).all()):
            raise ValueError("q must be in [0, 1]")
    else:
        q_t = torch.tensor(_arrays.check_real(q, "q", 0.0, 1.0), dtype=torch.float64, device=values.device)
    q_rows = torch.broadcast_to(q_t, (n, c)).reshape(-1).contiguous()
    threads = _arrays.check_threads(threads)
    pooled: torch.Tensor = _RankPool.apply(values.reshape(n * c, -1), q_rows, threads,
                                             values.device.type != "cpu")
    return pooled.view(n, c)


def expand_loss(probs: torch.Tensor, image_labels: torch.Tensor, q_fg: float = 0.996, q_bg: float = 0.999, *,
                q_absent: float = 0.0, threads: int = 0) -> torch.Tensor:
    """SEC's expansion loss: global weighted rank pooling G (see :func:`rank_pooling`) of
    each class map, then, for each image n, with P_n its present and A_n its absent
    foreground classes::

        loss = -1/N sum_n [ sum_{c in P_n} log G_nc / |P_n|            (q_fg)
                          + sum_{c in A_n} log(1 - G_nc) / |A_n|        (q_absent)
                          + log G_n0 ]                                  (background, q_bg)

    q_absent = 0 is SEC's choice: the maximum of the map (SEC's layer takes the max, the
    paper writes it as d_- = 0). A sum over an empty P_n or A_n adds 0 (SEC's 0/0 would be
    NaN); every image counts in N.

    probs (N, C, H, W) probabilities, channel 0 the background (as in SEC).
    image_labels (N, C) 0/1 (bool, integer or float), SEC's convention: one entry per
    channel of probs, column 0 the background, which is ignored (SEC's layer drops it:
    the background is taken as present in every image); columns 1.. say which
    foreground classes the image holds.

    Gradient: through log and the pooling, whose derivative is q^j / sum_j q^j at the
    element of rank j (a custom autograd Function; the C++ kernel on the CPU, torch.sort
    on other devices). image_labels must not require grad."""
    probs = _probs(probs)
    labels = _common.tensor(image_labels, "image_labels", 2, floating=False, meaning="(N, C) image labels")
    _common.same_device(probs=probs, image_labels=labels)
    n, c = probs.shape[:2]
    _common.shape(labels, "image_labels", (n, c), "one per image and channel of probs, column 0 the background")
    if c < 2:
        raise ValueError(f"probs needs a background and at least one foreground channel, got C = {c}")
    _common.no_grad(labels, "image_labels", "they are fixed 0/1 targets")
    present = _common.binary(labels, "image_labels", "image labels")[:, 1:]
    q_fg = _arrays.check_real(q_fg, "q_fg", 0.0, 1.0)
    q_bg = _arrays.check_real(q_bg, "q_bg", 0.0, 1.0)
    q_absent = _arrays.check_real(q_absent, "q_absent", 0.0, 1.0)
    _common.probabilities(probs, "probs")

    # The decays of the (image, class) maps, built where the labels are (no host copies).
    f64, dev = torch.float64, probs.device
    q = torch.full((n, c), q_bg, dtype=f64, device=dev)
    q[:, 1:] = torch.where(present, torch.tensor(q_fg, dtype=f64, device=dev),
                           torch.tensor(q_absent, dtype=f64, device=dev))
    g = rank_pooling(probs, q, threads=threads)
    g_fg, g_bg = g[:, 1:], g[:, 0]
    one = torch.ones((), dtype=probs.dtype, device=probs.device)
    zero = torch.zeros((), dtype=probs.dtype, device=probs.device)
    # The logs see 1 (or 0) where a class is not counted: no NaN from unused terms.
    log_present = torch.log(torch.where(present, g_fg, one)).sum(dim=1)
    log_absent = torch.log1p(-torch.where(present, zero, g_fg)).sum(dim=1)
    n_present = present.sum(dim=1).clamp(min=1).to(probs.dtype)
    n_absent = (~present).sum(dim=1).clamp(min=1).to(probs.dtype)
    per_image = log_present / n_present + log_absent / n_absent + torch.log(g_bg)
    return -per_image.mean()


def constrain_target(probs: torch.Tensor, images: torch.Tensor, *, maxiter: int = 10, scale_factor: float = 12.0,
                     color_factor: float = 13.0, min_prob: float = 1e-4, threads: int = 0) -> torch.Tensor:
    """The target Q of :func:`constrain_loss` (SEC's CRFLayer), (N, C, H, W) in probs'
    dtype and device, no gradient: SEC's dense CRF (:func:`weaksup.crf_inference`:
    bilateral sxy 80 / scale_factor, srgb color_factor, compat 10; Gaussian sxy
    3 / scale_factor, compat 3; maxiter mean-field steps) of each image with probs as the
    unary, then every probability below min_prob raised to it and each pixel renormalized.

    images (N, 3, H, W) (the PyTorch layout, as every op of weaksup.torch takes images),
    uint8 or float in [0, 255], at probs' spatial size. SEC resizes
    each mean-subtracted input image to the score maps' 41 x 41 with bilinear
    interpolation (scipy.ndimage.zoom, order 1: the corners stay on the corners, as
    torch.nn.functional.interpolate(mode="bilinear", align_corners=True) does), adds the
    mean back and rounds to uint8: pass such an image (uint8) to follow SEC exactly. SEC
    feeds BGR images; the colour term treats the three channels alike, so the order does
    not matter. SEC gives the CRF the logits rather than the probabilities: the same
    unary up to a per-pixel constant (which mean field ignores), except for the 1e-4 its
    softmax layer adds."""
    probs = _probs(probs)
    images = _common.tensor(images, "images", 4, floating=False, meaning="(N, 3, H, W) images")
    _common.same_device(probs=probs, images=images)
    n, _, h, w = probs.shape
    _common.shape(images, "images", (n, 3, h, w), "N, H, W of probs and 3 colour channels")
    _common.dtype_in(images, "images", _IMAGE_DTYPES, "uint8 or float32 / float64 colours in [0, 255]")
    _common.no_grad(images, "images", "the CRF target is a constant")
    min_prob = _arrays.check_real(min_prob, "min_prob", 0.0, 1.0 / probs.shape[1])
    _common.probabilities(probs, "probs")
    q = crf_inference(images.detach().permute(0, 2, 3, 1), probs.detach().permute(0, 2, 3, 1), maxiter,
                      scale_factor, color_factor, threads=threads)
    q = torch.as_tensor(q, device=probs.device).permute(0, 3, 1, 2).to(probs.dtype)
    q = q.clamp(min=min_prob)
    return q / q.sum(dim=1, keepdim=True)


def kl_to_target(probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """SEC's ConstrainLossLayer with its target given: the mean over the N * H * W pixels
    of KL(target || probs) = sum_c target log(target / probs). Gradient (autograd, the
    target a constant): d loss / d probs = -target / (probs * N * H * W)."""
    probs = _probs(probs)
    target = _common.tensor(target, "target", 4, meaning="(N, C, H, W) target probabilities")
    _common.same_device(probs=probs, target=target)
    _common.same_dtype(probs=probs, target=target)
    _common.shape(target, "target", tuple(probs.shape), "the shape of probs")
    _common.no_grad(target, "target", "it is a constant target, as SEC's CRF output")
    _common.probabilities(probs, "probs")
    return _kl(probs, target)


def _kl(probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    n, _, h, w = probs.shape
    # 0 log 0 = 0: a target of exactly 0 adds nothing (SEC's targets are >= min_prob).
    t_log_t = torch.xlogy(target, target)
    return (t_log_t - target * torch.log(probs)).sum() / (n * h * w)


def constrain_loss(probs: torch.Tensor, images: torch.Tensor, *, maxiter: int = 10, scale_factor: float = 12.0,
                   color_factor: float = 13.0, min_prob: float = 1e-4, threads: int = 0) -> torch.Tensor:
    """SEC's constrain-to-boundary loss: Q = :func:`constrain_target` (the dense CRF of
    the image with probs as unary, SEC's parameters as keyword arguments) taken as a
    constant, then the mean over the N * H * W pixels of KL(Q || probs)::

        loss = 1/(N H W) sum_{n,h,w} sum_c Q log(Q / probs)

    Gradient: -Q / (probs * N * H * W), the CRF held fixed (SEC's CRF layer passes no
    gradient back). images must not require grad; see constrain_target for what they
    must be."""
    q = constrain_target(probs, images, maxiter=maxiter, scale_factor=scale_factor, color_factor=color_factor,
                         min_prob=min_prob, threads=threads)
    return _kl(probs, q)


__all__ = ["seed_loss", "expand_loss", "constrain_loss", "constrain_target", "kl_to_target", "rank_pooling"]
