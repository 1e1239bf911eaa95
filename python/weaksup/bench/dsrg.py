"""DSRG's seeded region growing per 41x41 image (21 classes, PASCAL VOC as DSRG trains):
weaksup.torch.region_growing against DSRG's rule as DSRG's training code runs it (pure
Python: a loop over np.ndenumerate for the label map, a pure-Python two-pass
connected-component labelling per present class, then more per-pixel loops; written here
afresh) and against a scipy.ndimage rewrite of the same rule.

When ``WEAKSUP_DSRG_SRC`` names a checkout of github.com/speedinghzl/DSRG, the Python
rule labels components with DSRG's own ``CC_labeling_8`` (imported from the checkout, as
DSRG's training runs it); otherwise with the two-pass labelling written here.

Run: ``python benchmarks/bench_region_growing.py [--batch 20] [--repeat 5]``.
:func:`rows` returns (name, seconds per image) rows for ``weaksup bench``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import pathlib
import time
from typing import Callable, List, Optional, Tuple

import numpy as np
from scipy import ndimage

CLASSES, SIZE = 21, 41
FG_THRESHOLD, BG_THRESHOLD = 0.85, 0.99  # DSRG's th2 and th1


def workload(batch: int = 20, seed: int = 0) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(probs float64 (B, 21, 41, 41), seeds uint8 (same), image labels uint8 (B, 21)) like
    DSRG's: CRF-refined softmax maps (smooth, mostly confident: objects as blobs over the
    background), SEC-style cues (dense background seeds away from the objects, a few
    foreground seeds inside them, some wrong), one to three object classes per image."""
    rng = np.random.default_rng(seed)
    probs = np.empty((batch, CLASSES, SIZE, SIZE))
    seeds = np.zeros((batch, CLASSES, SIZE, SIZE), np.uint8)
    labels = np.zeros((batch, CLASSES), np.uint8)
    labels[:, 0] = 1
    for b in range(batch):
        present = rng.choice(np.arange(1, CLASSES), size=rng.integers(1, 4), replace=False)
        labels[b, present] = 1
        logits = rng.normal(0, 0.5, (CLASSES, SIZE, SIZE))
        logits[0] += 4.0
        for c in present:
            blob = np.zeros((SIZE, SIZE))
            for _ in range(rng.integers(1, 3)):
                y, x = rng.integers(4, SIZE - 4, 2)
                blob[y, x] = 1.0
            blob = ndimage.gaussian_filter(blob, rng.uniform(3, 7))
            logits[c] += 10 * blob / blob.max()
        logits = ndimage.gaussian_filter(logits, (0, 1.5, 1.5)) * 2.5
        p = np.exp(logits - logits.max(axis=0))
        probs[b] = p / p.sum(axis=0)
        owner = probs[b].argmax(axis=0)
        near_object = ndimage.binary_dilation(owner != 0, iterations=4)
        seeds[b, 0] = (~near_object) & (rng.random((SIZE, SIZE)) < 0.5)
        for c in present:
            inside = (owner == c) & (probs[b, c] > 0.9)
            seeds[b, c] = inside & (rng.random((SIZE, SIZE)) < 0.15)
        wrong = rng.random((SIZE, SIZE)) < 0.01
        seeds[b, rng.choice(present)][wrong] = 1
    return probs, seeds, labels


# ---------------------------------------------------------------- DSRG's rule in pure Python


def _components_8(mat: List[List[int]]) -> List[List[int]]:
    """Two-pass 8-connected labelling of the ones and of the zeros of a list-of-lists
    matrix with a union-find in Python lists, as DSRG's CC_labeling_8 (minus its
    bookkeeping of neighbouring regions, which the growth never reads)."""
    n, m = len(mat), len(mat[0])
    parent: List[int] = []

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    labels = [[0] * m for _ in range(n)]
    for i in range(n):
        for j in range(m):
            v = mat[i][j]
            near = []
            if j > 0 and mat[i][j - 1] == v:
                near.append(labels[i][j - 1])
            if i > 0:
                for dj in (-1, 0, 1):
                    if 0 <= j + dj < m and mat[i - 1][j + dj] == v:
                        near.append(labels[i - 1][j + dj])
            if not near:
                labels[i][j] = len(parent)
                parent.append(len(parent))
                continue
            low = min(near)
            labels[i][j] = low
            for other in near:
                ra, rb = find(low), find(other)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
    for i in range(n):
        for j in range(m):
            labels[i][j] = find(labels[i][j])
    return labels


Components = Callable[[List[List[int]]], List[List[int]]]


def dsrg_components(source: Optional[str] = None) -> Optional[Components]:
    """DSRG's own ``CC_labeling_8.CC_lab`` from a checkout (``source`` or
    ``WEAKSUP_DSRG_SRC``) as a labelling function like :func:`_components_8`; None
    without one."""
    root = source or os.environ.get("WEAKSUP_DSRG_SRC")
    path = pathlib.Path(root or "") / "pylayers" / "pylayers" / "CC_labeling_8.py"
    if not root or not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("dsrg_cc_labeling_8", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def components(mat: List[List[int]]) -> List[List[int]]:
        lab = module.CC_lab(np.array(mat))
        lab.connectedComponentLabel()
        return lab.labels  # type: ignore[no-any-return]

    return components


def dsrg_python_image(labels: np.ndarray, seed_c: np.ndarray, probs: np.ndarray, th1: float = BG_THRESHOLD,
                      th2: float = FG_THRESHOLD, components: Components = _components_8) -> np.ndarray:
    """One image, step by step as DSRG's generate_seed_step goes (seeds change in place)."""
    seed_c = seed_c.astype(np.float64)  # DSRG's cues are a float blob
    cls_index = np.where(labels == 1)[0]
    selected = probs[cls_index]
    best, top = np.argmax(selected, axis=0), np.max(selected, axis=0)
    _, height, width = seed_c.shape
    label_map = np.zeros((height, width))
    where = np.where(seed_c > 0)
    label_map[where[1], where[2]] = where[0] + 1
    for (x, y), value in np.ndenumerate(top):
        c = cls_index[best[x, y]]
        if value > th2 and (c != 0 or value > th1):
            label_map[x, y] = c + 1
    for c in cls_index:
        mat = (label_map == c + 1).astype(int)
        cc = components(mat.tolist())
        reached = set()
        for (x, y), value in np.ndenumerate(mat):
            if value == 1 and seed_c[c, x, y] == 1:
                reached.add(cc[x][y])
            elif value == 1 and np.sum(seed_c[:, x, y]) == 1:
                cc[x][y] = -1
        for (x, y), value in np.ndenumerate(np.array(cc)):
            if value in reached:
                seed_c[c, x, y] = 1
    return seed_c.astype(np.uint8)


def dsrg_python(probs: np.ndarray, seeds: np.ndarray, labels: np.ndarray,
                components: Components = _components_8) -> np.ndarray:
    return np.stack([dsrg_python_image(labels[b], seeds[b], probs[b], components=components)
                     for b in range(len(probs))])


# ---------------------------------------------------------------- a scipy.ndimage rewrite


def scipy_image(labels: np.ndarray, seeds: np.ndarray, probs: np.ndarray) -> np.ndarray:
    chosen = np.flatnonzero(labels == 1)
    best = chosen[np.argmax(probs[chosen], axis=0)]
    top = np.max(probs[chosen], axis=0)
    classes = seeds.shape[0]
    label_map = np.where(seeds.any(axis=0), classes - np.argmax(seeds[::-1] > 0, axis=0), 0)
    passed = (top > FG_THRESHOLD) & ((best != 0) | (top > BG_THRESHOLD))
    label_map = np.where(passed, best + 1, label_map)
    out = seeds.copy()
    single = seeds.sum(axis=0) == 1
    for c in chosen:
        comps, _ = ndimage.label(label_map == c + 1, structure=np.ones((3, 3), int))
        hit = np.unique(comps[(comps > 0) & (seeds[c] == 1)])
        out[c][np.isin(comps, hit[hit > 0]) & ~(single & (seeds[c] == 0))] = 1
    return out


def scipy_rewrite(probs: np.ndarray, seeds: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return np.stack([scipy_image(labels[b], seeds[b], probs[b]) for b in range(len(probs))])


# ---------------------------------------------------------------- timing


def _best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def steps(batch: int = 8, threads: int = 0, seed: int = 0) -> List[Tuple[str, Callable[[], object]]]:
    """(name, step) pairs, each step growing the same ``batch`` images: weaksup on
    ``threads`` threads, the scipy rewrite, and DSRG's Python rule (with DSRG's own
    labelling when :func:`dsrg_components` finds a checkout). Checks first that all three
    give the same seeds."""
    import torch

    import weaksup.torch as wt

    probs, seeds, labels = workload(batch, seed)
    tp, ts, tl = torch.from_numpy(probs), torch.from_numpy(seeds), torch.from_numpy(labels)
    theirs = dsrg_components()
    components = theirs or _components_8
    ours = wt.region_growing(tp, ts, tl, threads=threads).numpy()
    same = np.array_equal(dsrg_python(probs, seeds, labels, components), ours)
    if not (same and np.array_equal(scipy_rewrite(probs, seeds, labels), ours)):
        raise AssertionError("weaksup, the scipy rewrite and DSRG's rule disagree")
    python_name = "DSRG's Python rule" + (" (its CC_labeling_8)" if theirs else " (labelling written here)")
    return [
        (python_name, lambda: dsrg_python(probs, seeds, labels, components)),
        ("scipy.ndimage rewrite", lambda: scipy_rewrite(probs, seeds, labels)),
        ("weaksup", lambda: wt.region_growing(tp, ts, tl, threads=threads)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="weaksup's CPU threads (0: all cores)")
    args = parser.parse_args()
    timed = [(name, _best(fn, 1 if name.startswith("DSRG") else args.repeat) / args.batch)
             for name, fn in steps(args.batch, args.threads)]
    print(f"DSRG region growing, {CLASSES} classes, {SIZE}x{SIZE}, per image (batch {args.batch}):")
    for name, seconds in timed:
        print(f"  {name:45s} {seconds * 1e6:12.1f} us")
    ours = timed[-1][1]
    for name, seconds in timed[:-1]:
        print(f"  weaksup: {seconds / ours:.0f}x {name}")


if __name__ == "__main__":
    main()
