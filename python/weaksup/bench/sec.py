"""SEC's three losses, forward + backward, on SEC's batch (15 images, 21 classes, 41 x 41
score maps): weaksup.torch against a reference step built as SEC's layers build it
(NumPy for the seed and expand losses, a pydensecrf2 loop over the images for the
constrain loss's CRF, as SEC's krahenbuhl2013.CRF does).

    PYTHONPATH=python python benchmarks/bench_sec_losses.py [--repeat 5] [--threads 0]

(``weaksup bench train`` runs the same steps.)

:func:`sec_losses_rows` returns the timings as (name, seconds) pairs, without printing.
"""

from __future__ import annotations

import argparse
from typing import Callable, Dict, List, Tuple

import numpy as np

N, C, H, W = 15, 21, 41, 41  # SEC's training batch and score-map size
MIN_PROB = 1e-4  # SEC's pylayers.min_prob


def workload(seed: int = 0) -> Dict[str, np.ndarray]:
    """images (N, H, W, 3) uint8, probs (N, C, H, W) float32 with SEC's 1e-4 smoothing,
    cues (N, C, H, W) and image labels (N, C) float32 0/1 (the background always present)."""
    from weaksup.bench import crf

    rng = np.random.default_rng(seed)
    images = np.stack([crf.synthetic_image(H, W, seed=seed + b) for b in range(N)])
    probs = np.stack([crf.soft_segmentation(im, C, seed=seed + b) for b, im in enumerate(images)])
    probs = np.moveaxis(probs, -1, 1).astype(np.float64) + MIN_PROB  # SEC's SoftmaxLayer
    probs = (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)
    labels = (rng.random((N, C)) < 0.15).astype(np.float32)
    labels[:, 0] = 1.0
    cues = ((rng.random((N, C, H, W)) < 0.05) & (labels[:, :, None, None] > 0)).astype(np.float32)
    return {"images": images, "probs": probs, "cues": cues, "labels": labels}


# ------------------------------------------------------------ the reference step (SEC)


def ref_seed(probs: np.ndarray, cues: np.ndarray) -> Tuple[float, np.ndarray]:
    count = cues.sum(axis=(1, 2, 3), keepdims=True)
    loss = -np.mean(np.sum(cues * np.log(probs), axis=(1, 2, 3), keepdims=True) / count)
    return float(loss), -cues / (probs * count * probs.shape[0])


def _ref_rank_pool(maps: np.ndarray, q: float) -> Tuple[np.ndarray, np.ndarray]:
    """SEC's pooling of (rows, n) maps: G and dG/dx (the weights put back in place)."""
    n = maps.shape[1]
    w = q ** np.arange(n - 1, -1, -1, dtype=np.float64)  # ascending sort: the top value gets q^0
    w = (w / w.sum()).astype(maps.dtype)
    order = np.argsort(maps, axis=1)
    g = (np.take_along_axis(maps, order, axis=1) * w).sum(axis=1)
    grad = np.empty_like(maps)
    np.put_along_axis(grad, order, np.broadcast_to(w, maps.shape), axis=1)
    return g, grad


def ref_expand(probs: np.ndarray, labels: np.ndarray, q_fg: float = 0.996,
               q_bg: float = 0.999) -> Tuple[float, np.ndarray]:
    n_img, c = probs.shape[:2]
    fg = probs[:, 1:].reshape(n_img * (c - 1), -1)
    bg = probs[:, 0].reshape(n_img, -1)
    stat = (labels[:, 1:] > 0.5).astype(probs.dtype)
    g_fg, dg_fg = _ref_rank_pool(fg, q_fg)
    g_bg, dg_bg = _ref_rank_pool(bg, q_bg)
    g_fg = g_fg.reshape(n_img, c - 1)
    arg = fg.argmax(axis=1)
    m = fg.max(axis=1).reshape(n_img, c - 1)
    k_pos, k_neg = stat.sum(axis=1, keepdims=True), (1 - stat).sum(axis=1, keepdims=True)
    loss = (-np.mean(np.sum(stat * np.log(g_fg) / k_pos, axis=1))
            - np.mean(np.sum((1 - stat) * np.log(1 - m) / k_neg, axis=1)) - np.mean(np.log(g_bg)))
    grad_fg = (-stat / (g_fg * k_pos * n_img)).reshape(-1, 1) * dg_fg  # (rows, n)
    grad_fg[np.arange(fg.shape[0]), arg] += ((1 - stat) / ((1 - m) * k_neg * n_img)).reshape(-1)
    grad = np.empty_like(probs).reshape(n_img, c, -1)
    grad[:, 1:] = grad_fg.reshape(n_img, c - 1, -1)
    grad[:, 0] = (-1.0 / (g_bg * n_img))[:, None] * dg_bg
    return float(loss), grad.reshape(probs.shape)


def ref_crf(image: np.ndarray, probs_chw: np.ndarray, scale: float = 12.0) -> np.ndarray:
    """SEC's krahenbuhl2013.CRF with pydensecrf2: (C, H, W) probabilities."""
    import pydensecrf.densecrf as dcrf

    c, h, w = probs_chw.shape
    d = dcrf.DenseCRF2D(w, h, c)
    d.setUnaryEnergy(np.ascontiguousarray(-np.log(probs_chw.reshape(c, -1)), dtype=np.float32))
    d.addPairwiseGaussian(sxy=3 / scale, compat=3)
    d.addPairwiseBilateral(sxy=80 / scale, srgb=13, rgbim=np.ascontiguousarray(image), compat=10)
    return np.array(d.inference(10)).reshape(c, h, w)


def ref_constrain(probs: np.ndarray, images: np.ndarray) -> Tuple[float, np.ndarray]:
    q = np.stack([ref_crf(images[b], probs[b]) for b in range(probs.shape[0])])
    q[q < MIN_PROB] = MIN_PROB  # SEC's CRFLayer
    q = q / q.sum(axis=1, keepdims=True)
    pixels = probs.shape[0] * probs.shape[2] * probs.shape[3]
    loss = np.sum(q * np.log(q / probs)) / pixels
    return float(loss), (-q / (probs * pixels)).astype(probs.dtype)


# ------------------------------------------------------------ timing


def steps(data: Dict[str, np.ndarray], threads: int) -> Dict[str, Tuple[Callable[[], float], Callable[[], float]]]:
    """name -> (weaksup step, reference step); each returns its loss."""
    import torch

    import weaksup.torch as wt

    probs = torch.from_numpy(data["probs"])
    cues, labels = torch.from_numpy(data["cues"]), torch.from_numpy(data["labels"])
    images = torch.from_numpy(data["images"]).permute(0, 3, 1, 2)  # weaksup.torch takes (N, 3, H, W)

    def ours(loss: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[], float]:
        def step() -> float:
            x = probs.detach().requires_grad_()
            out = loss(x)
            out.backward()
            return float(out.detach())
        return step

    def ref(loss: Callable[[], Tuple[float, np.ndarray]]) -> Callable[[], float]:
        return lambda: loss()[0]

    p = data["probs"]
    return {
        "seed": (ours(lambda x: wt.seed_loss(x, cues)), ref(lambda: ref_seed(p, data["cues"]))),
        "expand": (ours(lambda x: wt.expand_loss(x, labels, threads=threads)),
                   ref(lambda: ref_expand(p, data["labels"]))),
        "constrain": (ours(lambda x: wt.constrain_loss(x, images, threads=threads)),
                      ref(lambda: ref_constrain(p, data["images"]))),
    }


def sec_losses_rows(repeat: int = 5, threads: int = 0, seed: int = 0) -> List[Tuple[str, float]]:
    """(name, median seconds) for each loss's forward + backward on SEC's batch, weaksup
    and the reference step, then the three together; the two sides' losses are checked
    to agree on the warm-up run (1e-4 relative; the CRFs differ in float32 rounding)."""
    from weaksup.bench._timing import measure

    rows: List[Tuple[str, float]] = []
    totals = {"weaksup": 0.0, "reference": 0.0}
    losses: Dict[str, float] = {}
    for name, (ours, ref) in steps(workload(seed), threads).items():
        for side, fn in (("weaksup", ours), ("reference", ref)):
            def keep(_: float, value: object, key: str = f"{name}/{side}") -> None:
                losses[key] = float(value)  # type: ignore[arg-type]
            seconds = measure(fn, repeat, on_warm=keep)
            totals[side] += seconds
            rows.append((f"sec {name} loss fwd+bwd {N}x{C}x{H}x{W}, {side}", seconds))
        a, b = losses[f"{name}/weaksup"], losses[f"{name}/reference"]
        if not abs(a - b) <= 1e-4 * abs(b):
            raise AssertionError(f"{name} loss: weaksup {a!r}, reference {b!r}")
    for side, seconds in totals.items():
        rows.append((f"sec all three losses fwd+bwd {N}x{C}x{H}x{W}, {side}", seconds))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="weaksup's CPU threads (0: all cores)")
    args = parser.parse_args()
    rows = sec_losses_rows(args.repeat, args.threads)
    seconds = dict(rows)
    for name, s in rows:
        print(f"{s * 1e3:10.2f} ms  {name}")
    for name, s in rows:
        if name.endswith("weaksup"):
            ref = seconds[name[: -len("weaksup")] + "reference"]
            print(f"{ref / s:8.1f}x  {name[: -len(', weaksup')]}")


if __name__ == "__main__":
    main()
