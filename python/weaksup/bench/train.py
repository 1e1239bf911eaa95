"""Training-loop workloads (weaksup.torch, needs torch): rloss's dense-CRF loss with its
gradient, the differentiable mean-field, SEC's three losses (forward + backward, against
SEC's NumPy / pydensecrf2 step, :mod:`weaksup.bench.sec`) and DSRG's region growing
(against DSRG's Python rule and a scipy rewrite, :mod:`weaksup.bench.dsrg`).

The dense-CRF loss is timed against rloss's own computation (``DenseCRFLossFunction``:
copy the softmax to the host, filter each image's classes on a permutohedral lattice, dot,
gradient -2 W S / N). The filter is rloss's own C++ (``bilateralfilter_batch``) when
``WEAKSUP_RLOSS_SRC`` names a checkout of github.com/meng-tang/rloss (it is compiled once
with g++ -fopenmp into ``~/.cache/weaksup``); otherwise pydensecrf2's lattice, one image
and class at a time (each class a two-label CRF whose single mean-field step gives W v).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import pathlib
import shutil
import subprocess
from typing import Any, Callable, List, Optional

import numpy as np

from ._report import Report
from .crf import have, soft_segmentation, synthetic_image

SECTION = "train"
DESCRIPTION = ("training-loop ops with gradients (weaksup.torch): rloss's dense-CRF loss vs rloss / pydensecrf2, "
               "differentiable mean-field forward + backward, SEC's losses vs SEC's step, DSRG's region growing "
               "vs DSRG's Python rule")
RLOSS_FILES = ("pytorch/wrapper/bilateralfilter/bilateralfilter.cpp", "pytorch/wrapper/bilateralfilter/permutohedral.cpp")
# Calls rloss's batch filter through a C symbol, so that no SWIG wrapper is needed.
_SHIM = """#include "bilateralfilter.hpp"
extern "C" void rloss_bilateral_batch(float* images, int li, float* ins, int lin, float* outs, int lout, int n, int k,
                                      int h, int w, float srgb, float sxy) {
  bilateralfilter_batch(images, li, ins, lin, outs, lout, n, k, h, w, srgb, sxy);
}
"""


def rloss_filter(source: Optional[str] = None) -> Optional[Callable[..., np.ndarray]]:
    """rloss's ``bilateralfilter_batch`` built from a checkout (``source`` or
    ``WEAKSUP_RLOSS_SRC``): f(images (N, 3, H, W) float32, values (N, K, H, W) float32,
    sigma_rgb, sigma_xy) -> W values; None when there is no checkout or no compiler."""
    root = source or os.environ.get("WEAKSUP_RLOSS_SRC")
    compiler = shutil.which("g++")
    if not root or not compiler:
        return None
    src = pathlib.Path(root) / "pytorch" / "wrapper" / "bilateralfilter"
    files = [pathlib.Path(root) / f for f in RLOSS_FILES]
    if not all(f.is_file() for f in files):
        return None
    digest = hashlib.sha256(b"".join(f.read_bytes() for f in files) + _SHIM.encode()).hexdigest()[:16]
    cache = pathlib.Path(os.environ.get("XDG_CACHE_HOME", pathlib.Path.home() / ".cache")) / "weaksup"
    lib_path = cache / f"rloss-{digest}.so"
    if not lib_path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        shim = cache / f"rloss-shim-{digest}.cpp"
        shim.write_text(_SHIM)
        cmd = [compiler, "-O3", "-fopenmp", "-fPIC", "-shared", f"-I{src}", str(shim), *map(str, files), "-o",
               str(lib_path)]
        if subprocess.run(cmd, capture_output=True).returncode != 0:
            return None
    lib = ctypes.CDLL(str(lib_path))
    pointer = ctypes.POINTER(ctypes.c_float)

    def apply(images: np.ndarray, values: np.ndarray, sigma_rgb: float, sigma_xy: float) -> np.ndarray:
        images = np.ascontiguousarray(images, dtype=np.float32)
        values = np.ascontiguousarray(values, dtype=np.float32)
        out = np.zeros_like(values)
        n, k, h, w = values.shape
        lib.rloss_bilateral_batch(images.ctypes.data_as(pointer), images.size, values.ctypes.data_as(pointer),
                                  values.size, out.ctypes.data_as(pointer), out.size, n, k, h, w,
                                  ctypes.c_float(sigma_rgb), ctypes.c_float(sigma_xy))
        return out

    return apply


def pydensecrf_filter(images: np.ndarray, values: np.ndarray, sigma_rgb: float, sigma_xy: float) -> np.ndarray:
    """W values with pydensecrf2's lattice, per image and class: a two-label CRF with unary
    (0, -a), a = 2 artanh(c v), and one Potts bilateral term of weight 1 without
    normalization takes one mean-field step to log(Q1[1] / Q1[0]) = a + c W v. The scale c
    keeps c W v near 4, where float32 exponentials neither overflow nor lose v's digits
    (W 1 is measured first, the same way)."""
    import pydensecrf.densecrf as dcrf

    n, k, h, w = values.shape

    def step(rgb: np.ndarray, v: np.ndarray) -> np.ndarray:  # W v for |v| < 1 with W v small
        a = 2 * np.arctanh(v)
        d = dcrf.DenseCRF2D(w, h, 2)
        d.setUnaryEnergy(np.ascontiguousarray(np.stack([np.zeros_like(a), -a]).astype(np.float32)))
        d.addPairwiseBilateral(sxy=sigma_xy, srgb=sigma_rgb, rgbim=rgb, compat=1.0, kernel=dcrf.DIAG_KERNEL,
                               normalization=dcrf.NO_NORMALIZATION)
        q = np.array(d.inference(1), dtype=np.float64)
        ratio: np.ndarray = np.log(q[1] / q[0]) - a
        return ratio

    out = np.empty_like(values, dtype=np.float32)
    for b in range(n):
        rgb = np.ascontiguousarray(np.clip(images[b].transpose(1, 2, 0), 0, 255).astype(np.uint8))
        probe = 0.5 / (h * w)
        scale = min(0.5, 4.0 / max(float(step(rgb, np.full(h * w, probe)).max()) / probe, 1e-30))
        for c in range(k):
            out[b, c] = (step(rgb, values[b, c].reshape(-1).astype(np.float64) * scale) / scale).reshape(h, w)
    return out


def rloss_step(filter_fn: Callable[..., np.ndarray], images: Any, probs: Any, sigma_rgb: float,
               sigma_xy: float) -> Any:
    """rloss's DenseCRFLossFunction forward + backward at scale 1 with no ROI: the loss and
    its gradient -2 W S / N (host arrays, as rloss computes them)."""
    import torch

    s = probs.detach().cpu().numpy()
    ws = filter_fn(images.numpy(), s, sigma_rgb, sigma_xy)
    loss = -float(np.dot(s.ravel(), ws.ravel())) / s.shape[0]
    grad = torch.from_numpy(-2 * ws / s.shape[0])
    return loss, grad


def inputs(batch: int, labels: int, size: int, seed: int = 0) -> Any:
    """(images (N, 3, H, W) float32 0..255, softmax probs (N, L, H, W) float32) torch tensors."""
    import torch

    images = np.stack([synthetic_image(size, size, seed=seed + b) for b in range(batch)])
    probs = np.stack([soft_segmentation(im, labels, seed=seed + b) for b, im in enumerate(images)])
    return (torch.from_numpy(images.transpose(0, 3, 1, 2).astype(np.float32).copy()),
            torch.from_numpy(probs.transpose(0, 3, 1, 2).copy()))


def _agreement(ours: float, theirs: Any) -> str:
    return f"loss rel. difference {abs(ours - theirs[0]) / max(abs(theirs[0]), 1e-30):.1e}"


def run(report: Report, mode: str = "default", repeat: int = 5) -> List[str]:
    """The training-loop workloads; returns the missing peers."""
    if not have("torch"):
        report.say("train: skipped, torch is not installed (pip install torch)")
        return ["torch"]
    import torch

    from weaksup.torch import crf_mean_field, dense_crf_loss

    missing = [] if have("pydensecrf") else ["pydensecrf2"]
    repeat = 2 if mode == "quick" else repeat
    sigma_rgb, sigma_xy = 15.0, 100.0
    rloss = rloss_filter()
    batch = {"quick": 2, "default": 8, "full": 32}[mode] if rloss is None else {"quick": 4, "default": 32,
                                                                              "full": 32}[mode]
    if rloss is None:
        report.say("    (rloss's own filter: set WEAKSUP_RLOSS_SRC to a checkout of github.com/meng-tang/rloss; "
                   "the baseline is pydensecrf2 per image and class)")
    peer_name, peer_fn = ("rloss (its filter)", rloss) if rloss else ("pydensecrf2 per image and class",
                                                                     pydensecrf_filter)
    have_peer = rloss is not None or have("pydensecrf")
    for labels in (2, 21):
        images, probs = inputs(batch, labels, 224, seed=labels)
        name = f"dense-CRF loss + gradient {batch}x{labels}x224x224, sigma_rgb 15, sigma_xy 100"

        def ours() -> float:
            p = probs.clone().requires_grad_()
            loss = dense_crf_loss(p, images, sigma_rgb, sigma_xy, 1.0)
            loss.backward()
            return float(loss.detach())

        with report.workload(SECTION, name, peer_name if have_peer else None) as w:
            value = ours()
            if have_peer:
                w.time(peer_name, lambda: rloss_step(peer_fn, images, probs, sigma_rgb, sigma_xy),  # noqa: B023
                       1 if mode != "quick" and rloss is None else repeat,
                       check=lambda theirs: _agreement(value, theirs))  # noqa: B023
            w.time("weaksup (all cores)", ours, repeat)

    n, size = (4, 64) if mode == "quick" else (8, 128)
    images, probs = inputs(n, 21, size, seed=3)
    unary = -torch.log(probs.clamp_min(1e-5))
    target = torch.rand_like(probs)

    def forward() -> None:
        crf_mean_field(unary, images, 10)

    def forward_backward() -> None:
        u = unary.clone().requires_grad_()
        (crf_mean_field(u, images, 10) * target).sum().backward()

    def forward_for_grad() -> None:
        crf_mean_field(unary.clone().requires_grad_(), images, 10)

    with report.workload(SECTION, f"differentiable mean-field {n}x21x{size}x{size}, 10 iterations",
                         "inference (no grad)") as w:
        w.time("inference (no grad)", forward, repeat, note="= weaksup.dense_crf")
        w.time("forward keeping each Q_t", forward_for_grad, repeat)
        w.time("forward + backward", forward_backward, repeat, note="speedup < 1: the backward's cost")

    if have("pydensecrf"):
        _sec_losses(report, repeat)
    if have("scipy"):
        _region_growing(report, mode, repeat)
    else:
        missing.append("scipy")
    return missing


def _sec_losses(report: Report, repeat: int) -> None:
    """SEC's seed, expand and constrain losses, forward + backward, each and together."""
    from . import sec

    data = sec.workload()
    steps = sec.steps(data, 0)
    shape = f"{sec.N}x{sec.C}x{sec.H}x{sec.W}"
    reference = "SEC's step (NumPy, pydensecrf2 per image)"

    def together(which: int) -> Callable[[], float]:
        return lambda: sum(pair[which]() for pair in steps.values())

    for name, (ours, ref) in [*steps.items(), ("all three", (together(0), together(1)))]:
        with report.workload(SECTION, f"SEC {name} loss{'es' if name == 'all three' else ''} fwd+bwd {shape}",
                             reference) as w:
            value = ours()
            w.time(reference, ref, repeat, check=lambda theirs: _agreement(value, (theirs,)))  # noqa: B023
            w.time("weaksup (all cores)", ours, repeat)


def _region_growing(report: Report, mode: str, repeat: int) -> None:
    """DSRG's region growing on a batch of 41x41 maps, 21 classes."""
    from . import dsrg

    batch = 4 if mode == "quick" else 8
    steps = dsrg.steps(batch)
    python_name = steps[0][0]
    if "its CC_labeling_8" not in python_name:
        report.say("    (DSRG's own labelling: set WEAKSUP_DSRG_SRC to a checkout of github.com/speedinghzl/DSRG)")
    with report.workload(SECTION, f"DSRG region growing {batch}x{dsrg.CLASSES}x{dsrg.SIZE}x{dsrg.SIZE}",
                         python_name) as w:
        for name, fn in steps:
            w.time(name if name != "weaksup" else "weaksup (all cores)", fn, 1 if name == python_name else repeat,
                   note="same seeds" if name != python_name else "")


def run_gpu(report: Report, mode: str = "default") -> None:
    """No GPU rows yet: the lattice ops of weaksup.torch run on the CPU."""
