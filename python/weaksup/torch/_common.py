"""Argument checks shared by the ops of :mod:`weaksup.torch`: one place that says what a
tensor argument must be (a torch tensor, its dtype, shape and device, whether it may carry
a gradient), so that every op reports a wrong argument by name in the same words."""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

import torch

FLOATS = (torch.float32, torch.float64)


def tensor(x: Any, name: str, ndim: Optional[int] = None, *, floating: bool = True,
           meaning: str = "") -> torch.Tensor:
    """x itself, checked: a torch tensor, float32 / float64 when ``floating``, with ``ndim``
    axes; ``meaning`` (e.g. "(N, C, H, W) probabilities") goes into the messages."""
    what = f" {meaning}" if meaning else ""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor{what}, got {type(x).__name__}; "
                        f"convert it with torch.as_tensor")
    if floating and x.dtype not in FLOATS:
        raise TypeError(f"{name} must be float32 or float64, got {x.dtype}; use {name}.float() or .double()")
    if ndim is not None and x.dim() != ndim:
        raise ValueError(f"{name} must have {ndim} axes{what}, got shape {tuple(x.shape)}")
    return x


def same_device(**tensors: torch.Tensor) -> torch.device:
    """The one device every tensor is on; a ValueError naming them otherwise."""
    devices = {name: t.device for name, t in tensors.items()}
    if len(set(devices.values())) > 1:
        where = ", ".join(f"{name} on {device}" for name, device in devices.items())
        raise ValueError(f"the tensors must be on one device, got {where}; move them with .to(device)")
    return next(iter(devices.values()))


def same_dtype(**tensors: torch.Tensor) -> torch.dtype:
    """The one floating dtype of every tensor; a TypeError naming them otherwise."""
    dtypes = {name: t.dtype for name, t in tensors.items()}
    if len(set(dtypes.values())) > 1:
        what = ", ".join(f"{name} is {dtype}" for name, dtype in dtypes.items())
        raise TypeError(f"the tensors must have one dtype, got {what}; convert them with .to(dtype)")
    return next(iter(dtypes.values()))


def shape(x: torch.Tensor, name: str, expected: Sequence[Optional[int]], meaning: str) -> None:
    """x's shape against ``expected`` (None: any size on that axis)."""
    ok = x.dim() == len(expected) and all(e is None or s == e for s, e in zip(x.shape, expected))
    if not ok:
        want = "(" + ", ".join("*" if e is None else str(e) for e in expected) + ")"
        raise ValueError(f"{name} must have shape {want} ({meaning}), got {tuple(x.shape)}")


def no_grad(x: torch.Tensor, name: str, why: str) -> None:
    """Refuse ``requires_grad`` on an argument the op has no gradient for."""
    if x.requires_grad:
        raise ValueError(f"{name} requires grad, but this op has no gradient with respect to {name} ({why}); "
                         f"pass {name}.detach()")


def probabilities(x: torch.Tensor, name: str, dim: int = 1, tol: float = 1e-3) -> None:
    """x holds probabilities along ``dim``: finite, in [0, 1], summing to 1 within ``tol``
    (1e-3 by default: loose enough for float32 softmax sums and gradcheck's perturbations,
    tight enough to catch logits or unnormalized scores)."""
    with torch.no_grad():
        if x.numel() == 0:
            return
        # One pass for both ends; NaN makes them NaN and fails the comparison as inf does.
        low_t, high_t = torch.aminmax(x)
        low, high = float(low_t), float(high_t)
        in_range = -tol <= low and high <= 1.0 + tol
        finite = in_range or bool(torch.isfinite(x).all())
        gap = float((x.sum(dim=dim) - 1.0).abs().max()) if in_range else 0.0
    check_probabilities(name, dim, low, high, gap, finite, tol)


def check_probabilities(name: str, dim: int, low: float, high: float, gap: float, finite: bool,
                        tol: float = 1e-3) -> None:
    """The verdict of :func:`probabilities` on a summary of x: its smallest and largest
    value, the largest |sum along ``dim`` - 1|, and whether it is all finite (for kernels
    that summarize their input while reading it)."""
    if not finite:
        raise ValueError(f"{name} must be finite probabilities, got NaN or infinity")
    if not (-tol <= low and high <= 1.0 + tol):
        raise ValueError(f"{name} must be probabilities in [0, 1], got values from {low:.4g} to {high:.4g}; "
                         f"apply softmax along axis {dim} first")
    if gap > tol:
        raise ValueError(f"{name} must sum to 1 along axis {dim} (probabilities), but a sum is off by "
                         f"{gap:.3g}; apply softmax along axis {dim} first")


def spatial_match(a: torch.Tensor, a_name: str, b: torch.Tensor, b_name: str,
                  axes: Tuple[int, ...] = (0, 2, 3)) -> None:
    """a and b agree on ``axes`` (batch and spatial ones, by default of (N, C, H, W))."""
    if any(a.shape[i] != b.shape[i] for i in axes):
        raise ValueError(f"{a_name} {tuple(a.shape)} and {b_name} {tuple(b.shape)} must agree on the batch and "
                         f"spatial axes {axes}")


def dtype_in(x: torch.Tensor, name: str, allowed: Sequence[torch.dtype], meaning: str) -> None:
    """x's dtype is one of ``allowed``; ``meaning`` says what they are (e.g. "uint8 or float")."""
    if x.dtype not in tuple(allowed):
        raise TypeError(f"{name} must be {meaning}, got {x.dtype}")


BINARY_DTYPES = (torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64) + FLOATS


def binary(x: Any, name: str, meaning: str, *, bytes_checked_later: bool = False) -> torch.Tensor:
    """x, a tensor holding only 0 and 1 (bool, integer or float; not NaN), as a bool tensor
    (x itself when bool, a view of it when 8-bit). With ``bytes_checked_later``, an 8-bit
    x is returned as that view unchecked: the caller's kernel checks the bytes as it reads
    them and raises :func:`not_binary` (a pass of its own would cost as much)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor ({meaning}), got {type(x).__name__}; "
                        f"convert it with torch.as_tensor")
    dtype_in(x, name, BINARY_DTYPES, f"bool, integer or float 0/1 {meaning}")
    if x.dtype == torch.bool:
        return x
    if x.numel() == 0:
        return x != 0
    if bytes_checked_later and x.dtype in (torch.uint8, torch.int8):
        return x.view(torch.bool)
    with torch.no_grad():
        # One pass for the range (NaN fails it); integers in [0, 1] are 0 / 1, floats must
        # also have no fraction.
        low, high = (float(v) for v in torch.aminmax(x))
        if not (low >= 0 and high <= 1):
            raise not_binary(name, meaning)
        if x.dtype in (torch.uint8, torch.int8):
            return x.view(torch.bool)  # bytes that are 0 / 1 are bools already: no pass
        mask = x != 0
        if x.is_floating_point() and not bool((x == mask).all()):
            raise not_binary(name, meaning)
    return mask


def not_binary(name: str, meaning: str) -> ValueError:
    """The error of :func:`binary` for values other than 0 and 1."""
    return ValueError(f"{name} must hold only 0 and 1 ({meaning}), got other values")
