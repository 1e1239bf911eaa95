"""Dense-CRF ops with gradients: rloss's dense-CRF loss (Tang et al. 2018) and mean-field
inference that backpropagates through its iterations (CRF as RNN, Zheng et al. 2015).

Both filter on the permutohedral lattice of :mod:`weaksup.crf` (``_core.KernelBatch``: one
lattice per image, built once per call). The lattice's filter K is linear but not exactly
symmetric (its blur runs the lattice axes in order), so every backward applies the exact
transpose K^T (the axes in reverse order), and ``gradcheck`` holds to float64 rounding.

Tensors are (N, C, H, W), the PyTorch layout. CUDA tensors stay on their device: the
lattices are built and filter there (``_cuda.LatticeBatch``, on the current stream), and
the mean-field's backward is autograd's through the iterations and those filters.
"""

from __future__ import annotations

import math

from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .. import _arrays, _core
from .. import crf as _crf
from . import _common

_NAMES = {"gaussian_sigma": "gaussian_sigma", "bilateral_sigma": "bilateral_sigma", "color_sigma": "color_sigma",
          "probs": "unary", "unary": "unary", "iterations": "iterations"}


def _points(images: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) images -> float32 (N, H * W, C), the lattices' point-major layout, on
    the images' device."""
    n, c = images.shape[:2]
    return images.detach().permute(0, 2, 3, 1).reshape(n, -1, c).to(torch.float32).contiguous()


class _Lattices:
    """One term's lattices over a batch of images, on the images' device: ``apply(values
    (B, P, C), transpose)`` gives K values (or K^T values) of values' dtype. The CPU's
    are a _core.KernelBatch, CUDA's a _cuda.LatticeBatch built on the current stream."""

    def __init__(self, spatial: Tuple[int, int], sigma: Sequence[float], pixels: Optional[torch.Tensor],
                 color_sigma: Sequence[float], normalization: int, threads: int, device: torch.device):
        spatial_list = [int(v) for v in spatial]
        self.threads, self.device = threads, device
        if device.type == "cuda":
            if pixels is None:  # one lattice shared by the batch: the positions alone
                pixels = torch.zeros((1, spatial_list[0] * spatial_list[1], 1), dtype=torch.float32, device=device)
            self.shared = pixels.shape[0] == 1 and not color_sigma
            self._images = pixels  # the lattice reads them while it is built, on the stream
            with _arrays.Device(pixels, "images") as dev:
                self.native: Any = dev.module.LatticeBatch(
                    dev.ptr(pixels), int(pixels.shape[0]), spatial_list, int(pixels.shape[2]), list(sigma),
                    list(color_sigma), normalization, dev.stream)
            return
        if pixels is None:
            features = _core.image_features(spatial_list, list(sigma), None, [])[None]
            self.native = _core.KernelBatch(features, normalization, threads)
        else:  # the features of each image are computed in the parallel build
            self.native = _core.KernelBatch.of_images(pixels.numpy(), spatial_list, list(sigma), list(color_sigma),
                                                      normalization, threads)
        self.shared = self.native.kernels == 1

    @property
    def kernels(self) -> Any:
        """The CPU's KernelBatch (for _core's mean-field kernels)."""
        return self.native

    def apply(self, values: torch.Tensor, transpose: bool) -> torch.Tensor:
        if self.device.type != "cuda":
            host = np.ascontiguousarray(values.detach().numpy())
            return torch.from_numpy(self.native.filter(host, transpose, self.threads))
        v = values.detach().contiguous()
        batch, points, channels = (int(x) for x in v.shape)
        if self.shared and batch > 1:  # one lattice for every image: the images as channels
            flat = v.permute(1, 0, 2).reshape(1, points, batch * channels)
            return self._filter_cuda(flat, transpose).reshape(points, batch, channels).permute(1, 0, 2).contiguous()
        return self._filter_cuda(v, transpose)

    def _filter_cuda(self, v: torch.Tensor, transpose: bool) -> torch.Tensor:
        out = torch.empty_like(v)
        if v.numel():
            with _arrays.Device(v, "values") as dev:
                self.native.filter(dev.ptr(v), dev.ptr(out), 0 if v.dtype == torch.float32 else 1, int(v.shape[2]),
                                   transpose)
        return out


class _Filter(torch.autograd.Function):  # type: ignore[misc]  # torch is untyped here
    """values (B, P, C) -> K values with a term's lattices K; backward: K^T."""

    @staticmethod
    def forward(ctx: Any, values: torch.Tensor, lattices: _Lattices) -> torch.Tensor:
        ctx.lattices = lattices
        return lattices.apply(values, False)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Tuple[Optional[torch.Tensor], None]:
        return ctx.lattices.apply(grad, True), None


def dense_crf_loss(probs: torch.Tensor, images: torch.Tensor, sigma_rgb: float = 15.0, sigma_xy: float = 100.0,
                   scale: float = 0.5, rois: Optional[torch.Tensor] = None, *, threads: int = 0) -> torch.Tensor:
    """rloss's dense-CRF loss (Tang et al. 2018, ``DenseCRFLoss``): ``-sum_k S_k^T W S_k / N``.

    As rloss computes it: the images are downscaled by ``scale`` (nearest), the softmax
    ``probs`` bilinearly (align_corners=False) and the regions of interest ``rois`` (nearest);
    S = probs x rois; W is the unnormalized Gaussian kernel over (x, y) / (sigma_xy x scale)
    and colours / sigma_rgb on the permutohedral lattice (self-weight included), per image;
    the sum runs over classes and pixels, divided by the batch size N. Defaults are rloss's
    training script's (``--sigma-rgb 15 --sigma-xy 100 --rloss-scale 0.5``); multiply by the
    loss weight (rloss: 2e-9) yourself.

    The gradient with respect to ``probs`` is ``-(W + W^T) S / N`` (through the rescaling
    and ``rois``): rloss's ``-2 W S / N`` for the symmetric kernel W approximates, exact
    for the lattice's W (see the module docstring). ``images`` and ``rois`` get none.

    Args:
        probs: (N, K, H, W) softmax probabilities, float32 / float64.
        images: (N, C, H, W) images (rloss: RGB in 0..255), any real dtype.
        rois: optional (N, H, W) mask of the pixels that count (1) and do not (0).
    Returns:
        a 0-d tensor of probs' dtype.
    """
    _common.tensor(probs, "probs", 4, meaning="(N, K, H, W) probabilities")
    _common.tensor(images, "images", 4, floating=False, meaning="(N, C, H, W) images")
    _common.spatial_match(probs, "probs", images, "images")
    _common.no_grad(images, "images", "the loss is differentiated with respect to probs only")
    tensors = {"probs": probs, "images": images}
    if rois is not None:
        _common.tensor(rois, "rois", 3, floating=False, meaning="(N, H, W) region-of-interest mask")
        _common.shape(rois, "rois", (probs.shape[0], probs.shape[2], probs.shape[3]), "one mask per image")
        _common.no_grad(rois, "rois", "it is a mask")
        tensors["rois"] = rois
    device = _common.same_device(**tensors)
    _common.probabilities(probs, "probs")
    sigma_rgb = _arrays.check_real(sigma_rgb, "sigma_rgb", 0.0, low_open=True)
    sigma_xy = _arrays.check_real(sigma_xy, "sigma_xy", 0.0, low_open=True)
    scale = _arrays.check_real(scale, "scale", 0.0, low_open=True)
    threads = _arrays.check_threads(threads)
    imgs = images.detach().to(probs.dtype) if images.dtype != probs.dtype else images.detach()
    segs = probs
    mask = None if rois is None else rois.detach().to(probs.dtype)
    if scale != 1.0:
        imgs = F.interpolate(imgs, scale_factor=scale)
        segs = F.interpolate(probs, scale_factor=scale, mode="bilinear", align_corners=False)
        mask = None if mask is None else F.interpolate(mask[:, None], scale_factor=scale)[:, 0]
    n, k, h, w = segs.shape
    if h == 0 or w == 0:
        raise ValueError(f"scale={scale} leaves no pixel of {tuple(probs.shape[2:])} images; use a larger scale")
    if mask is not None:
        segs = segs * mask[:, None]
    pixels = _points(imgs)
    sig_xy = sigma_xy * scale
    _check_features((h, w), sig_xy, pixels, sigma_rgb)
    lattices = _Lattices((h, w), [sig_xy, sig_xy], pixels, [sigma_rgb] * pixels.shape[2], _crf.NO_NORMALIZATION,
                         threads, device)
    s = segs.permute(0, 2, 3, 1).reshape(n, h * w, k)
    return -(s * _Filter.apply(s, lattices)).sum() / n


def _check_features(spatial: Tuple[int, int], sigma_xy: float, pixels: torch.Tensor, sigma_rgb: float) -> None:
    """Positions and colours over their sigmas must stay in the range a lattice resolves."""
    d = 2 + pixels.shape[2]
    limit = _core.max_feature(d)
    largest = max(max(spatial) - 1, 0) / np.float32(sigma_xy)
    if largest > limit:
        raise ValueError(f"sigma_xy x scale = {sigma_xy:.4g} is too small for {spatial} images: positions / "
                         f"sigma reach {largest:.4g}, past the lattice's {limit:.4g}; increase sigma_xy")
    low, high = (float(v) for v in torch.aminmax(pixels)) if pixels.numel() else (0.0, 0.0)  # one pass; NaN stays NaN
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError("images must be finite")
    colour = max(-low, high) / np.float32(sigma_rgb)
    if colour > limit:
        raise ValueError(f"sigma_rgb = {sigma_rgb:.4g} is too small for the images' values: colours / sigma reach "
                         f"{colour:.4g}, past the lattice's {limit:.4g}; increase sigma_rgb")


# ------------------------------------------------------------------ differentiable mean-field


class _Term:
    """One pairwise term: its lattices, the kind of compat (_crf._POTTS, ...) and its values
    as a tensor of the unary's dtype (which may require grad)."""

    def __init__(self, lattices: _Lattices, kind: int, compat: torch.Tensor):
        self.lattices, self.kind = lattices, kind
        self.compat = compat
        if kind == _crf._MATRIX:
            self.compat = (compat + compat.T) / 2  # densecrf symmetrizes a matrix

    def energy(self, filtered: torch.Tensor) -> torch.Tensor:
        """mu(F): what the term subtracts from -unary (densecrf: Potts -w F, diagonal w_l F_l,
        matrix W_sym F)."""
        if self.kind == _crf._POTTS:
            return -self.compat[0] * filtered
        if self.kind == _crf._DIAGONAL:
            return filtered * self.compat
        return filtered @ self.compat  # symmetric: F W^T = F W


def _compat_tensor(value: Any, name: str, labels: int, like: torch.Tensor) -> Tuple[int, torch.Tensor]:
    """(kind, values (1,), (L,) or (L, L) as a tensor of like's dtype). A tensor that
    requires grad keeps its graph (the values' gradient flows back to it)."""
    if isinstance(value, torch.Tensor):
        _common.tensor(value, name, meaning="a Potts weight, an (L,) diagonal or an (L, L) matrix")
        _common.same_device(**{name: value, "unary": like})
        kind, _ = _crf._compat(value.detach().cpu().numpy(), labels, name)
        tensor = value.to(like.dtype).reshape(-1) if kind == _crf._POTTS else value.to(like.dtype)
        return kind, tensor
    kind, _ = _crf._compat(value, labels, name)  # checks it
    exact = np.asarray(value, dtype=np.float64).reshape(-1 if kind == _crf._POTTS else np.shape(value))
    tensor = torch.as_tensor(exact, dtype=like.dtype, device=like.device)
    return kind, tensor


class _MeanField(torch.autograd.Function):  # type: ignore[misc]  # torch is untyped here
    """unary (B, P, L) energies -> Q_T (B, P, L); ``compats`` are the terms' compat tensors
    (inputs, for their gradients). The backward is _core.mean_field_backward."""

    @staticmethod
    def forward(ctx: Any, unary: torch.Tensor, terms: List[_Term], iterations: int, cpp: Any, threads: int,
                *compats: torch.Tensor) -> torch.Tensor:
        if cpp is not None:  # float32: dense_crf's kernel, which also gives each iteration's start
            q, history = (torch.from_numpy(a) for a in cpp())
        else:
            q = torch.softmax(-unary, dim=-1)
            steps = []
            for _ in range(iterations):
                steps.append(q)
                q = torch.softmax(-unary - sum(t.energy(t.lattices.apply(q, False)) for t in terms), dim=-1)
            history = torch.stack(steps, dim=1) if steps else q.new_empty((q.shape[0], 0) + q.shape[1:])
        ctx.terms, ctx.threads = terms, threads
        ctx.save_for_backward(q, history)
        return q

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Any:
        q, history = ctx.saved_tensors
        terms: List[_Term] = ctx.terms
        native = [(t.lattices.kernels, t.kind, t.compat.detach().numpy(), bool(t.compat.requires_grad))
                  for t in terms]
        grad_unary, compat_grads = _core.mean_field_backward(
            history.numpy(), q.numpy(), np.ascontiguousarray(grad.detach().numpy(), dtype=history.numpy().dtype),
            native, ctx.threads)
        return (torch.from_numpy(grad_unary), None, None, None, None,
                *(None if g is None else torch.from_numpy(g) for g in compat_grads))


def crf_mean_field(unary: torch.Tensor, images: torch.Tensor, iterations: int = 10, *,
                   gaussian_sigma: Any = 3.0, gaussian_compat: Any = 3.0, bilateral_sigma: Any = 80.0,
                   color_sigma: Any = 13.0, bilateral_compat: Any = 10.0, normalization: Any = "symmetric",
                   threads: int = 0) -> torch.Tensor:
    """Mean-field inference in the dense CRF of :func:`weaksup.dense_crf` (same terms,
    defaults and normalization), differentiable: CRF as RNN (Zheng et al. 2015).

    ``Q_0 = softmax(-unary)``, ``Q_{t+1} = softmax(-unary - sum_m mu_m(K_m Q_t))``; the
    backward runs the iterations in reverse (each Q_t is kept: memory iterations x N x P x L),
    with the lattice's exact transpose. Gradients flow to ``unary`` and to any compat given
    as a tensor that requires grad (a Potts weight, an (L,) diagonal or an (L, L) matrix,
    symmetrized as densecrf does). ``images`` and the sigmas get none.

    float32 on the CPU runs the same kernel as ``weaksup.dense_crf(images, unary=...)``: the
    result is equal to it, bit for bit. float64 runs the same iterations in float64. CUDA
    tensors run the iterations as torch ops around the GPU lattices (equal to dense_crf
    to float rounding); autograd keeps their intermediates.

    Args:
        unary: (N, L, H, W) energies (e.g. -log p or -logits), float32 / float64.
        images: (N, C, H, W) images (any real dtype; RGB 0..255 for the default sigmas).
    Returns:
        (N, L, H, W) marginals of unary's dtype.
    """
    _common.tensor(unary, "unary", 4, meaning="(N, L, H, W) energies")
    _common.tensor(images, "images", 4, floating=False, meaning="(N, C, H, W) images")
    _common.spatial_match(unary, "unary", images, "images")
    _common.no_grad(images, "images", "mean-field is differentiated with respect to the unary and compats")
    device = _common.same_device(unary=unary, images=images)
    if not bool(torch.isfinite(unary.detach()).all()):
        raise ValueError("unary must be finite energies, got NaN or infinity")
    iterations = _crf._iterations(iterations, allow_zero=True)
    norm = _crf._normalization(normalization)
    threads = _arrays.check_threads(threads)
    n, labels, h, w = unary.shape
    pixels = _points(images)
    if not bool(torch.isfinite(pixels).all()):
        raise ValueError("images must be finite")

    def colour_range() -> np.ndarray:  # per channel, for the sigma checks (C values to the host)
        if pixels.numel() == 0:
            return np.zeros(pixels.shape[2], np.float32)
        return pixels.abs().amax(dim=(0, 1)).cpu().numpy()  # type: ignore[no-any-return]

    gaussian, bilateral = _crf._image_terms(
        (h, w), pixels.shape[2], labels, gaussian_sigma,
        None if gaussian_compat is None else _crf_compat_values(gaussian_compat),
        bilateral_sigma, color_sigma, None if bilateral_compat is None else _crf_compat_values(bilateral_compat),
        colour_range, _NAMES)
    points = unary.permute(0, 2, 3, 1).reshape(n, h * w, labels)
    specs = [(spec, compat, name, image_pixels) for spec, compat, name, image_pixels in
             ((gaussian, gaussian_compat, "gaussian_compat", None), (bilateral, bilateral_compat, "bilateral_compat",
                                                                    pixels)) if spec is not None]
    wants_grad = torch.is_grad_enabled() and (
        unary.requires_grad or any(isinstance(c, torch.Tensor) and c.requires_grad for _, c, _, _ in specs))
    on_cpu = _native_mean_field(device)
    if on_cpu and unary.dtype == torch.float32 and iterations > 0 and not wants_grad:  # dense_crf itself
        energies = np.ascontiguousarray(points.detach().numpy()).reshape(n, h, w, labels)
        q = torch.from_numpy(_core.dense_crf_images(pixels.numpy(), [h, w], energies, False, 1e-5, gaussian,
                                                    bilateral, norm, iterations, threads))
        return q.reshape(n, h, w, labels).permute(0, 3, 1, 2)
    terms: List[_Term] = []
    compats: List[torch.Tensor] = []
    native = []  # (kernels, kind, float32 values): the terms as batch_mean_field takes them
    for spec, compat, name, image_pixels in specs:
        kind, values = _compat_tensor(compat, name, labels, unary)
        lattices = _Lattices((h, w), spec[0], image_pixels, spec[1] or [], norm, threads, device)
        terms.append(_Term(lattices, kind, values))
        compats.append(terms[-1].compat)  # the symmetrized matrix: autograd takes it back to the values
        if on_cpu:
            native.append((lattices.kernels, kind, spec[3]))
    if not on_cpu:
        q = _composed_mean_field(points, terms, iterations)
    else:
        cpp = None
        if unary.dtype == torch.float32 and iterations > 0:
            def cpp() -> Any:  # the kernel dense_crf runs, on the kernels the backward uses
                energies = np.ascontiguousarray(points.detach().numpy())
                return _core.batch_mean_field(energies, native, iterations, threads)
        q = _MeanField.apply(points, terms, iterations, cpp, threads, *compats)
    return q.reshape(n, h, w, labels).permute(0, 3, 1, 2)


def _native_mean_field(device: torch.device) -> bool:
    """Whether _core's mean-field kernels (forward and backward) serve tensors on device."""
    return bool(device.type == "cpu")


def _composed_mean_field(unary: torch.Tensor, terms: List[_Term], iterations: int) -> torch.Tensor:
    """The iterations as torch ops on unary (B, P, L), for devices without _core's
    mean-field kernels: autograd differentiates them (through each filter, whose
    backward is K^T), keeping its intermediates (a few times iterations x B x P x L)."""
    q = torch.softmax(-unary, dim=-1)
    for _ in range(iterations):
        q = torch.softmax(-unary - sum(t.energy(_Filter.apply(q, t.lattices)) for t in terms), dim=-1)
    return q


def _crf_compat_values(compat: Any) -> Any:
    """A compat as _image_terms checks it (a tensor's values, detached)."""
    return compat.detach().cpu().numpy() if isinstance(compat, torch.Tensor) else compat
