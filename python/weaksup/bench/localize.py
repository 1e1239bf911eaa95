"""Localization workloads: CAM -> box, labeling, MaxBoxAccV2; weaksup against its peers.

Peers run one map at a time in a Python loop (none of them batches), on one thread:
OpenCV ``connectedComponentsWithStats`` with BBDT (the fastest peer measured),
scipy.ndimage, cc3d, and the published WSOL protocol on ``cv2.findContours``.
"""

from __future__ import annotations

import importlib.util
from typing import Callable, Dict, List, Tuple

import numpy as np

import weaksup

from . import wsol_reference
from ._report import Report

SECTION = "localize"
THRESHOLD = 0.2


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


# ------------------------------------------------------------------ workloads


def smooth_cams(batch: int, size: int, seed: int = 0) -> np.ndarray:
    """float32 (batch, size, size) CAM-like maps: 1-3 Gaussian blobs plus faint noise."""
    rng = np.random.default_rng(seed)
    axis = np.arange(size, dtype=np.float32)
    cams = np.empty((batch, size, size), dtype=np.float32)
    for b in range(batch):
        cam = np.zeros((size, size), dtype=np.float32)
        for _ in range(rng.integers(1, 4)):
            cy, cx = rng.uniform(0.15, 0.85, 2) * size
            sy, sx = rng.uniform(0.04, 0.2, 2) * size
            gy = np.exp(-0.5 * ((axis - cy) / sy) ** 2)
            gx = np.exp(-0.5 * ((axis - cx) / sx) ** 2)
            cam += rng.uniform(0.3, 1.0) * np.outer(gy, gx)
        cam += 0.02 * rng.random((size, size), dtype=np.float32)
        cams[b] = cam
    return cams


def _cubic_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) bicubic interpolation weights (Keys, a = -0.75, half-pixel centres,
    clamped edges), the kernel cv2.resize uses for INTER_CUBIC."""
    a = -0.75
    x = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    base = np.floor(x).astype(int)
    weights = np.zeros((n_out, n_in))
    for k in range(-1, 3):
        d = np.abs(x - (base + k))
        w = np.where(d <= 1, (a + 2) * d**3 - (a + 3) * d**2 + 1, a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a)
        np.add.at(weights, (np.arange(n_out), np.clip(base + k, 0, n_in - 1)), w)
    return weights


def upsampled_cams(batch: int, size: int = 224, low: int = 14, seed: int = 0, relu: bool = False) -> np.ndarray:
    """float32 CAMs as networks produce them: a low x low map (blobs plus noise) bicubic-
    upsampled to size x size, as the WSOL protocol does before evaluating. CAM proper is
    signed (class-weighted features); relu=True gives Grad-CAM-style maps whose zero
    plateaus ring into speckle after upsampling."""
    rng = np.random.default_rng(seed)
    small = smooth_cams(batch, low, seed) - 0.1 + 0.15 * rng.standard_normal((batch, low, low))
    if relu:
        small = np.maximum(0.0, small)
    up = _cubic_matrix(low, size)
    return np.asarray(np.einsum("ij,bjk,lk->bil", up, small, up).astype(np.float32))


def gt_boxes_for(cams: np.ndarray, seed: int = 1) -> List[np.ndarray]:
    """One jittered box per map around its strongest region (plausible ground truth)."""
    rng = np.random.default_rng(seed)
    out = []
    for cam in cams:
        ys, xs = np.nonzero(cam > 0.5 * cam.max())
        h, w = cam.shape
        jitter = rng.integers(-8, 9, 4)
        x0, y0 = max(0, xs.min() + jitter[0]), max(0, ys.min() + jitter[1])
        x1, y1 = min(w - 1, max(x0, xs.max() + jitter[2])), min(h - 1, max(y0, ys.max() + jitter[3]))
        out.append(np.array([[x0, y0, x1, y1]], dtype=np.int64))
    return out


def masks_of(cams: np.ndarray, threshold: float = THRESHOLD) -> np.ndarray:
    lo = cams.min(axis=(1, 2), keepdims=True).astype(np.float64)
    hi = cams.max(axis=(1, 2), keepdims=True).astype(np.float64)
    return np.asarray((cams - lo) / (hi - lo) > threshold)


# ------------------------------------------------------------------ peers


def _minmax_mask(cam: np.ndarray, threshold: float) -> np.ndarray:
    lo, hi = float(cam.min()), float(cam.max())
    return (cam > lo + threshold * (hi - lo)).view(np.uint8)


def opencv_boxes(cams: np.ndarray, threshold: float = THRESHOLD) -> np.ndarray:
    import cv2

    boxes = np.full((len(cams), 4), -1, dtype=np.int64)
    for i, cam in enumerate(cams):
        mask = _minmax_mask(cam, threshold)
        n, _, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(mask, 8, cv2.CV_32S, cv2.CCL_BBDT)
        if n > 1:
            k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
            x, y, w, h = stats[k, :4]
            boxes[i] = (x, y, x + w - 1, y + h - 1)
    return boxes


def scipy_boxes(cams: np.ndarray, threshold: float = THRESHOLD) -> np.ndarray:
    from scipy import ndimage

    structure = np.ones((3, 3), dtype=bool)
    boxes = np.full((len(cams), 4), -1, dtype=np.int64)
    for i, cam in enumerate(cams):
        labels, n = ndimage.label(_minmax_mask(cam, threshold), structure)
        if n:
            k = int(np.argmax(np.bincount(labels.ravel())[1:]))
            ys, xs = ndimage.find_objects(labels)[k]
            boxes[i] = (xs.start, ys.start, xs.stop - 1, ys.stop - 1)
    return boxes


def cc3d_boxes(cams: np.ndarray, threshold: float = THRESHOLD) -> np.ndarray:
    import cc3d

    boxes = np.full((len(cams), 4), -1, dtype=np.int64)
    for i, cam in enumerate(cams):
        labels = cc3d.connected_components(_minmax_mask(cam, threshold), connectivity=8)
        stats = cc3d.statistics(labels)
        if len(stats["voxel_counts"]) > 1:
            k = 1 + int(np.argmax(stats["voxel_counts"][1:]))
            ys, xs = stats["bounding_boxes"][k][:2]
            boxes[i] = (xs.start, ys.start, xs.stop - 1, ys.stop - 1)
    return boxes


def opencv_labels(masks: np.ndarray) -> None:
    import cv2

    for m in masks.view(np.uint8):
        cv2.connectedComponentsWithAlgorithm(m, 8, cv2.CV_32S, cv2.CCL_BBDT)


def scipy_labels(masks: np.ndarray) -> None:
    from scipy import ndimage

    structure = np.ones((3, 3), dtype=bool)
    for m in masks:
        ndimage.label(m, structure)


def cc3d_labels(masks: np.ndarray) -> None:
    import cc3d

    for m in masks:
        cc3d.connected_components(m, connectivity=8)


# ------------------------------------------------------------------ sections


def _single_thread_peers() -> None:
    if have("cv2"):
        import cv2

        cv2.setNumThreads(1)


DESCRIPTION = "CAM -> boxes, connected components, MaxBoxAccV2 vs OpenCV, SciPy, cc3d, the WSOL protocol"
PEERS = (("opencv-python-headless", "cv2"), ("scipy", "scipy"), ("connected-components-3d", "cc3d"))
Peers = Dict[str, Tuple[str, Callable[..., object]]]  # name: (module, the loop over maps)
BOX_PEERS: Peers = {"opencv BBDT loop": ("cv2", opencv_boxes), "scipy loop": ("scipy", scipy_boxes),
                    "cc3d loop": ("cc3d", cc3d_boxes)}
LABEL_PEERS: Peers = {"opencv BBDT loop": ("cv2", opencv_labels), "scipy loop": ("scipy", scipy_labels),
                      "cc3d loop": ("cc3d", cc3d_labels)}


def _ordered(peers: Peers, baseline: str) -> List[Tuple[str, Callable[..., object]]]:
    """The installed peers, the baseline first (its row must print before the speedups)."""
    names = sorted((name for name, (module, _) in peers.items() if have(module)), key=lambda n: n != baseline)
    return [(name, peers[name][1]) for name in names]


def run(report: Report, mode: str = "default", repeat: int = 5) -> List[str]:
    """All localization workloads, reported as measured; returns the missing peers."""
    _single_thread_peers()
    missing = [dist for dist, module in PEERS if not have(module)]
    repeat = 2 if mode == "quick" else repeat
    # 64 1024x1024 maps hold 1.4 GB of maps, masks and labels: --full only (the default stays under 2 GB)
    sizes = {"quick": [(64, 224), (8, 1024)], "default": [(256, 224), (32, 1024)], "full": [(256, 224), (64, 1024)]}[mode]
    for batch, size in sizes:
        cams = smooth_cams(batch, size)
        masks = masks_of(cams)
        reference = weaksup.cam_to_boxes(cams, THRESHOLD, threads=1)
        peers = _ordered(BOX_PEERS, "opencv BBDT loop")
        with report.workload(SECTION, f"cam_to_boxes {batch}x{size}x{size}", peers[0][0] if peers else None) as w:
            for name, boxes in peers:
                w.time(name, (lambda f: lambda: f(cams))(boxes), repeat,
                       check=lambda found: f"same boxes: {(found == reference).all(axis=1).mean():.1%}")
            w.time("weaksup (1 thread)", lambda: weaksup.cam_to_boxes(cams, THRESHOLD, threads=1), repeat)
            w.time("weaksup (all cores)", lambda: weaksup.cam_to_boxes(cams, THRESHOLD, threads=0), repeat)

        peers = _ordered(LABEL_PEERS, "opencv BBDT loop")
        with report.workload(SECTION, f"label {batch}x{size}x{size}", peers[0][0] if peers else None) as w:
            for name, label in peers:
                w.time(name, (lambda f: lambda: f(masks))(label), repeat)
            w.time("weaksup (1 thread)", lambda: weaksup.label(masks, 8, threads=1), repeat)
            w.time("weaksup (all cores)", lambda: weaksup.label(masks, 8, threads=0), repeat)
    _wsol(report, mode, repeat)
    return missing


def _wsol(report: Report, mode: str, repeat: int) -> None:
    batch = 32 if mode == "quick" else 256
    workloads = {
        f"MaxBoxAccV2 {batch} CAMs 14x14 -> 224x224, 100 thresholds": upsampled_cams(batch, seed=3),
        f"MaxBoxAccV2 {batch} ReLU'd CAMs 14x14 -> 224x224, 100 thresholds": upsampled_cams(batch, seed=3, relu=True),
        f"MaxBoxAccV2 {batch}x224x224 blobs + 2% pixel noise, 100 thresholds": smooth_cams(batch, 224, seed=3),
    }
    thresholds = np.arange(0, 1, 0.01)
    protocol = "cv2.findContours protocol"
    for name, cams in workloads.items():
        gt = gt_boxes_for(cams)
        with report.workload(SECTION, name, protocol if have("cv2") else None) as w:
            ours = weaksup.box_accuracy(cams, gt, thresholds=thresholds, threads=1)
            if have("cv2"):
                w.time(protocol, (lambda c=cams, g=gt: lambda: wsol_reference.box_accuracy(c, g, thresholds))(), 1,
                       check=lambda found: f"identical accuracies: {np.array_equal(found, ours.accuracy)}")
            for impl, threads in (("weaksup (1 thread)", 1), ("weaksup (all cores)", 0)):
                w.time(impl, (lambda t, c=cams, g=gt: lambda: weaksup.box_accuracy(c, g, thresholds=thresholds,
                                                                                 threads=t))(threads), repeat)


def run_gpu(report: Report, mode: str = "default", repeat: int = 20) -> None:
    """label + stats of a 256x224x224 batch on the GPU against cupyx.scipy.ndimage."""
    if not weaksup.cuda_available() or not have("cupy"):
        return
    import cupy
    import cupyx.scipy.ndimage as cndi

    batch = 64 if mode == "quick" else 256
    masks = cupy.asarray(masks_of(smooth_cams(batch, 224, seed=5)))

    def ours() -> None:
        weaksup.label(masks, 8, return_stats=True)
        cupy.cuda.get_current_stream().synchronize()

    structure = cupy.zeros((3, 3, 3), dtype=bool)
    structure[1] = True  # per-image 8-connectivity over the whole batch in one call

    def peer() -> None:
        labels, n = cndi.label(masks, structure)
        cndi.find_objects(labels)
        cndi.sum_labels(cupy.ones_like(labels), labels, cupy.arange(1, n + 1))
        cupy.cuda.get_current_stream().synchronize()

    baseline = "cupyx label+find_objects"
    with report.workload(SECTION, f"GPU label+stats {batch}x224x224", baseline) as w:
        w.time(baseline, peer, max(3, repeat // 4))
        w.time("weaksup CUDA", ours, repeat)
