"""Dense CRF workloads: weaksup against pydensecrf2, with DeepLab's parameters.

pydensecrf runs one image at a time on one thread (it holds the GIL and has no batches).
Inputs are built in: synthetic photos (smooth colour regions, edges and noise) and soft
segmentations made from them (``soft_segmentation``), so nothing beyond the install is
needed.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from typing import Any, Dict, List, Tuple

import numpy as np

import weaksup

from ._report import Report

SECTION = "crf"
DEEPLAB = dict(gaussian_sigma=3.0, gaussian_compat=3.0, bilateral_sigma=80.0, color_sigma=13.0, bilateral_compat=10.0)


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


# ------------------------------------------------------------------ workloads


def synthetic_image(height: int, width: int, seed: int = 0, channels: int = 3) -> np.ndarray:
    """uint8 (height, width, channels): blocky colour regions, softened, plus noise."""
    rng = np.random.default_rng(seed)
    cells = rng.integers(0, 256, size=(height // 24 + 2, width // 24 + 2, channels)).astype(np.float32)
    ys = (np.arange(height) / 24).astype(int)
    xs = (np.arange(width) / 24).astype(int)
    img = cells[ys][:, xs]
    img = 0.5 * img + 0.25 * np.roll(img, 3, axis=0) + 0.25 * np.roll(img, 3, axis=1)
    img += rng.normal(0, 3, img.shape)
    return np.asarray(np.clip(img, 0, 255).astype(np.uint8))


def soft_segmentation(image: np.ndarray, labels: int, seed: int = 0) -> np.ndarray:
    """float32 (..., labels) probabilities a weak pixel classifier could give: a softmax
    over colour distances to `labels` prototype colours (pixels picked at random),
    plus smooth noise, so that the CRF has real work to do along edges."""
    rng = np.random.default_rng(seed)
    img = image.astype(np.float32)
    flat = img.reshape(-1, img.shape[-1])
    prototypes = flat[rng.integers(0, flat.shape[0], labels)]
    d2 = ((img[..., None, :] - prototypes) ** 2).sum(-1)
    logits = -d2 / (2 * 40.0**2)
    logits += rng.normal(0, 0.7, logits.shape).astype(np.float32)
    logits -= logits.max(-1, keepdims=True)
    p = np.exp(logits)
    return np.asarray((p / p.sum(-1, keepdims=True)).astype(np.float32))


def synthetic_volume(depth: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """float32 (depth, height, width, 1) intensities: blocky regions plus noise."""
    rng = np.random.default_rng(seed)
    cells = rng.uniform(0, 255, size=(depth // 16 + 2, height // 16 + 2, width // 16 + 2, 1)).astype(np.float32)
    vol = cells[(np.arange(depth) // 16)][:, (np.arange(height) // 16)][:, :, (np.arange(width) // 16)]
    return (vol + rng.normal(0, 5, vol.shape)).astype(np.float32)


def photo(size: int, seed: int = 1) -> Tuple[np.ndarray, str]:
    """(uint8 (size, size, 3) image, its name): scikit-image's astronaut (512x512, bilinear
    resize to other sizes) when scikit-image is installed, else synthetic_image()."""
    if not have("skimage"):
        return synthetic_image(size, size, seed=seed), "synthetic photo"
    from skimage import data, transform

    image = data.astronaut()
    if image.shape[0] != size:
        image = (transform.resize(image, (size, size), order=1) * 255).round().astype(np.uint8)
    return image, "astronaut"


# ------------------------------------------------------------------ pydensecrf


def pydensecrf_2d(image: np.ndarray, probs: np.ndarray, iterations: int, scale: float = 1.0) -> np.ndarray:
    """pydensecrf2 with DeepLab's terms (sigmas / scale); returns (H, W, L)."""
    import pydensecrf.densecrf as dcrf
    from pydensecrf.utils import unary_from_softmax

    h, w, labels = probs.shape
    d = dcrf.DenseCRF2D(w, h, labels)
    d.setUnaryEnergy(np.ascontiguousarray(unary_from_softmax(np.moveaxis(probs, -1, 0))))
    d.addPairwiseGaussian(sxy=3 / scale, compat=3)
    d.addPairwiseBilateral(sxy=80 / scale, srgb=13, rgbim=np.ascontiguousarray(image), compat=10)
    q = np.array(d.inference(iterations))
    return np.moveaxis(q.reshape(labels, h, w), 0, -1)


def pydensecrf_3d(volume: np.ndarray, probs: np.ndarray, iterations: int) -> np.ndarray:
    """pydensecrf2's general DenseCRF on a volume with 3-D Gaussian and bilateral features."""
    import pydensecrf.densecrf as dcrf
    from pydensecrf.utils import create_pairwise_bilateral, create_pairwise_gaussian, unary_from_softmax

    shape, labels = probs.shape[:-1], probs.shape[-1]
    d = dcrf.DenseCRF(int(np.prod(shape)), labels)
    d.setUnaryEnergy(np.ascontiguousarray(unary_from_softmax(np.moveaxis(probs, -1, 0))))
    # weaksup's features list the fastest axis first (x, y, z), as DenseCRF2D does.
    d.addPairwiseEnergy(np.ascontiguousarray(create_pairwise_gaussian((3, 3, 3), shape)[::-1]), compat=3)
    feats = create_pairwise_bilateral((80, 80, 80), (13,), volume[..., 0], chdim=-1)
    feats = np.concatenate([feats[:3][::-1], feats[3:]])
    d.addPairwiseEnergy(np.ascontiguousarray(feats), compat=10)
    q = np.array(d.inference(iterations))
    return np.moveaxis(q.reshape((labels,) + shape), 0, -1)


def agreement(ours: np.ndarray, peer: np.ndarray) -> str:
    same = (ours.argmax(-1) == peer.argmax(-1)).mean()
    return f"argmax agree {same:.4%}, max abs dQ {np.abs(ours - peer).max():.1e}"


# ------------------------------------------------------------------ peak memory

_MEMORY_SCRIPT = """
import json, sys
import numpy as np
from weaksup.bench import crf

def status(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":")) / 1024

image, _ = crf.photo({size})
probs = crf.soft_segmentation(image, 21, seed=1)
import weaksup
if sys.argv[1] == "weaksup":
    run = lambda: weaksup.dense_crf(image, probs, iterations=10, threads=1)
else:
    run = lambda: crf.pydensecrf_2d(image, probs, 10)
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # resets the peak (VmHWM) to the current resident size
before = status("VmRSS")
run()
print(json.dumps(status("VmHWM") - before))
"""


def peak_memory_mb(impl: str, size: int = 512) -> float:
    """Peak resident memory (MB) one size x size, L=21 run adds over what the process
    holds before it (inputs included), in a fresh process (Linux: /proc/self)."""
    out = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT.format(size=size), impl], capture_output=True,
                         text=True, check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


# ------------------------------------------------------------------ sections


DESCRIPTION = "dense CRF mean-field inference (2-D, batches of SEC maps, 3-D) vs pydensecrf2"
PEERS = (("pydensecrf2", "pydensecrf"),)


def run(report: Report, mode: str = "default", repeat: int = 5) -> List[str]:
    """The dense-CRF workloads, reported as measured; returns the missing peers."""
    missing = [dist for dist, module in PEERS if not have(module)]
    ok = have("pydensecrf")
    peer = "pydensecrf2"
    repeat = 2 if mode == "quick" else repeat

    size = 256 if mode == "quick" else 512
    image, what = photo(size)
    probs = soft_segmentation(image, 21, seed=1)
    with report.workload(SECTION, f"dense CRF {what} {size}x{size}, L=21, 10 iterations", peer if ok else None) as w:
        ours = weaksup.dense_crf(image, probs, iterations=10, threads=1)
        memory = mode != "quick" and sys.platform.startswith("linux")
        if ok:
            note = ""
            if memory:
                with w.running("pydensecrf2 peak memory, in a child process"):
                    note = f"peak memory {peak_memory_mb('pydensecrf', size):.0f} MB"
            w.time(peer, lambda: pydensecrf_2d(image, probs, 10), repeat, note=note,
                   check=lambda q: agreement(ours, q))
        note = ""
        if memory:
            with w.running("weaksup peak memory, in a child process"):
                note = f"peak memory {peak_memory_mb('weaksup', size):.0f} MB"
        w.time("weaksup (1 thread)", lambda: weaksup.dense_crf(image, probs, iterations=10, threads=1), repeat,
               note=note)
        w.time("weaksup (all cores)", lambda: weaksup.dense_crf(image, probs, iterations=10, threads=0), repeat)

    batch = 8 if mode == "quick" else 32
    images = np.stack([synthetic_image(41, 41, seed=10 + b) for b in range(batch)])
    batch_probs = np.stack([soft_segmentation(im, 21, seed=10 + b) for b, im in enumerate(images)])
    sec: Dict[str, Any] = dict(iterations=10, gaussian_sigma=3 / 12, gaussian_compat=3.0, bilateral_sigma=80 / 12, color_sigma=13.0,
               bilateral_compat=10.0)
    loop = f"{peer} loop"
    with report.workload(SECTION, f"SEC batch {batch}x41x41, L=21, 10 iterations, sigmas / 12",
                         loop if ok else None) as w:
        ours = weaksup.dense_crf(images, batch_probs, threads=1, **sec)
        if ok:
            run_loop = lambda: np.stack([pydensecrf_2d(im, p, 10, scale=12)  # noqa: E731
                                         for im, p in zip(images, batch_probs)])
            w.time(loop, run_loop, repeat, check=lambda q: agreement(ours, q))
        for impl, threads in (("weaksup (1 thread)", 1), ("weaksup (all cores)", 0)):
            w.time(impl, (lambda t: lambda: weaksup.dense_crf(images, batch_probs, threads=t, **sec))(threads), repeat)

    if mode == "full":
        image, what = photo(1024)
        probs = soft_segmentation(image, 21, seed=2)
        with report.workload(SECTION, f"dense CRF {what} 1024x1024, L=21, 10 iterations", peer if ok else None) as w:
            ours = weaksup.dense_crf(image, probs, iterations=10)
            if ok:
                w.time(peer, lambda: pydensecrf_2d(image, probs, 10), 1, check=lambda q: agreement(ours, q))
            w.time("weaksup (all cores)", lambda: weaksup.dense_crf(image, probs, iterations=10), 2)

    shape = (16, 64, 64) if mode == "quick" else (64, 128, 128)
    volume = synthetic_volume(*shape, seed=3)
    probs = soft_segmentation(volume, 4, seed=3)
    kw: Dict[str, Any] = dict(iterations=10, spatial_dims=3, **DEEPLAB)
    with report.workload(SECTION, f"dense CRF volume {'x'.join(map(str, shape))}, L=4, 10 iterations",
                         peer if ok else None) as w:
        ours = weaksup.dense_crf(volume, probs, **kw)
        if ok:
            w.time(peer, lambda: pydensecrf_3d(volume, probs, 10), 1, check=lambda q: agreement(ours, q))
        w.time("weaksup (all cores)", lambda: weaksup.dense_crf(volume, probs, **kw), max(1, repeat // 2))
    return missing


def run_gpu(report: Report, mode: str = "default", repeat: int = 20) -> None:
    """512x512 L=21 and the SEC batch on the GPU, against weaksup on all CPU cores."""
    if not weaksup.cuda_available() or not have("cupy"):
        return
    import cupy

    image, what = photo(512)
    probs = soft_segmentation(image, 21, seed=1)
    cases: List[Tuple[str, np.ndarray, np.ndarray, Dict[str, Any]]] = [(f"dense CRF {what} 512x512, L=21, 10 iterations", image, probs, {})]
    images = np.stack([synthetic_image(41, 41, seed=10 + b) for b in range(32)])
    batch_probs = np.stack([soft_segmentation(im, 21, seed=10 + b) for b, im in enumerate(images)])
    cases.append(("SEC batch 32x41x41, L=21, 10 iterations, sigmas / 12", images, batch_probs,
                  dict(gaussian_sigma=3 / 12, bilateral_sigma=80 / 12)))
    cpu_name = "weaksup (all cores)"
    for name, img, p, kw in cases:
        gi, gp = cupy.asarray(img), cupy.asarray(p)

        def ours() -> None:
            weaksup.dense_crf(gi, gp, iterations=10, **kw)
            cupy.cuda.get_current_stream().synchronize()

        with report.workload(SECTION, f"GPU {name}", cpu_name) as w:
            cpu = weaksup.dense_crf(img, p, iterations=10, **kw)
            w.time(cpu_name, lambda: weaksup.dense_crf(img, p, iterations=10, threads=0, **kw), max(2, repeat // 4))
            gpu = cupy.asnumpy(weaksup.dense_crf(gi, gp, iterations=10, **kw))
            w.time("weaksup CUDA", ours, repeat, note=f"vs CPU: max abs dQ {np.abs(gpu - cpu).max():.1e}")
