"""weaksup.torch.region_growing against two references of DSRG's rule written here: one
that follows DSRG's generate_seed_step step by step (label map, then per present class a
pure-Python 8-connected flood fill, updating the seeds as it goes), one built on
scipy.ndimage.label."""

import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ndimage = pytest.importorskip("scipy.ndimage")
from hypothesis import given, settings, strategies as st  # noqa: E402

import weaksup.torch as wt  # noqa: E402
from weaksup.torch import _common  # noqa: E402

EIGHT = np.ones((3, 3), dtype=int)


def label_map(probs, seeds, present, fg, bg):
    """DSRG's label map (class + 1, 0 = none): seeds first (a later channel overwrites an
    earlier one), then the thresholded argmax over the present classes."""
    classes, h, w = probs.shape
    out = np.zeros((h, w), dtype=np.int64)
    for c in range(classes):
        out[seeds[c] > 0] = c + 1
    chosen = np.flatnonzero(present)
    if chosen.size == 0:
        return out
    sub = probs[chosen]
    best = chosen[np.argmax(sub, axis=0)]
    top = np.max(sub, axis=0)
    t_fg, t_bg = probs.dtype.type(fg), probs.dtype.type(bg)
    for y in range(h):
        for x in range(w):
            c, v = best[y, x], top[y, x]
            if v > t_fg and (c != 0 or v > t_bg):
                out[y, x] = c + 1
    return out


def grow_bfs(probs, seeds, present, fg, bg):
    """One image, DSRG's loop: for each present class in order, flood the 8-connected
    regions of its label from its seeds; pixels with exactly one seed (of another class)
    are passed through but not added. Seeds change as the classes go, as in DSRG."""
    classes, h, w = probs.shape
    lab = label_map(probs, seeds, present, fg, bg)
    seed = seeds.astype(np.uint8).copy()
    for c in np.flatnonzero(present):
        region = lab == c + 1
        seen = np.zeros((h, w), dtype=bool)
        add = []
        for sy in range(h):
            for sx in range(w):
                if not region[sy, sx] or seed[c, sy, sx] != 1 or seen[sy, sx]:
                    continue
                seen[sy, sx] = True
                todo = [(sy, sx)]
                while todo:
                    y, x = todo.pop()
                    add.append((y, x))
                    for ny in range(max(y - 1, 0), min(y + 2, h)):
                        for nx in range(max(x - 1, 0), min(x + 2, w)):
                            if region[ny, nx] and not seen[ny, nx]:
                                seen[ny, nx] = True
                                todo.append((ny, nx))
        keep = [(y, x) for y, x in add if seed[c, y, x] == 1 or seed[:, y, x].sum() != 1]
        for y, x in keep:
            seed[c, y, x] = 1
    return seed


def grow_scipy(probs, seeds, present, fg, bg):
    """One image with scipy.ndimage.label: the components that hold a seed, minus the
    pixels with exactly one seed of another class."""
    lab = label_map(probs, seeds, present, fg, bg)
    out = seeds.astype(np.uint8).copy()
    single = seeds.sum(axis=0) == 1
    for c in np.flatnonzero(present):
        comps, _ = ndimage.label(lab == c + 1, structure=EIGHT)
        hit = np.unique(comps[(comps > 0) & (seeds[c] == 1)])
        grown = np.isin(comps, hit[hit > 0]) & ~(single & (seeds[c] == 0))
        out[c][grown] = 1
    return out


def reference(grow, probs, seeds, labels, fg, bg):
    present = np.ones(probs.shape[:2], dtype=bool) if labels is None else labels.astype(bool)
    return np.stack([grow(probs[b], seeds[b], present[b], fg, bg) for b in range(probs.shape[0])])


def random_case(rng, b, c, h, w, dtype=np.float64, peak=4.0, seed_rate=0.08, ties=False):
    logits = rng.normal(size=(b, c, h, w)) * peak
    if ties:  # coarse values so that equal maxima happen
        logits = np.round(logits / 2) * 2
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = (probs / probs.sum(axis=1, keepdims=True)).astype(dtype)
    seeds = (rng.random((b, c, h, w)) < seed_rate).astype(np.uint8)
    labels = (rng.random((b, c)) < 0.6).astype(np.uint8)
    labels[:, 0] = 1
    return probs, seeds, labels


def check(probs, seeds, labels, fg=0.85, bg=0.99):
    got = wt.region_growing(torch.from_numpy(probs), torch.from_numpy(seeds),
                            None if labels is None else torch.from_numpy(labels), fg, bg)
    assert got.dtype == torch.uint8 and tuple(got.shape) == probs.shape
    want = reference(grow_bfs, probs, seeds, labels, fg, bg)
    np.testing.assert_array_equal(got.numpy(), want)
    np.testing.assert_array_equal(reference(grow_scipy, probs, seeds, labels, fg, bg), want)
    return got.numpy()


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 3), st.integers(1, 5), st.integers(1, 9), st.integers(1, 9),
       st.sampled_from([np.float32, np.float64]), st.booleans(), st.booleans(),
       st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_matches_references_random(seed, b, c, h, w, dtype, with_labels, ties, fg, bg):
    rng = np.random.default_rng(seed)
    probs, seeds, labels = random_case(rng, b, c, h, w, dtype, peak=rng.uniform(0.5, 6), ties=ties,
                                       seed_rate=rng.uniform(0, 0.4))
    check(probs, seeds, labels if with_labels else None, fg, bg)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_realistic_maps_with_default_thresholds(dtype):
    rng = np.random.default_rng(3)
    probs, seeds, labels = random_case(rng, 4, 21, 41, 41, dtype, peak=6.0, seed_rate=0.02)
    # Smooth the logits so that regions form, as CRF-refined maps have them.
    smooth = ndimage.gaussian_filter(np.log(probs.astype(np.float64)), sigma=(0, 0, 3, 3)) * 8
    probs = np.exp(smooth - smooth.max(axis=1, keepdims=True))
    probs = (probs / probs.sum(axis=1, keepdims=True)).astype(dtype)
    grown = check(probs, seeds, labels)
    assert grown.sum() > seeds.sum()  # the case grows something


def test_structured_cases():
    # Two classes (bg 0, fg 1), one 5x7 image. Foreground confident in two blobs: one
    # holds a seed, the other does not; they touch only diagonally at (2, 3)-(3, 4).
    p_fg = np.full((5, 7), 0.05)
    p_fg[0:3, 0:4] = 0.9   # blob A, seeded at (0, 0)
    p_fg[3:5, 4:7] = 0.9   # blob B touches A diagonally: one 8-connected region
    probs = np.stack([1 - p_fg, p_fg])[None]
    seeds = np.zeros((1, 2, 5, 7), np.uint8)
    seeds[0, 1, 0, 0] = 1
    grown = check(probs, seeds, None)
    np.testing.assert_array_equal(grown[0, 1], (p_fg > 0.85).astype(np.uint8))
    assert grown[0, 0].sum() == 0  # background at 0.95 < 0.99 does not pass

    # Break the diagonal: blob B is no longer reached.
    p2 = p_fg.copy()
    p2[3:5, 4] = 0.05
    probs2 = np.stack([1 - p2, p2])[None]
    grown2 = check(probs2, seeds, None)
    assert grown2[0, 1, 3:5, 5:7].sum() == 0 and grown2[0, 1, 0:3, 0:4].all()

    # A pixel of blob A with exactly one seed, of the background, stays out.
    seeds3 = seeds.copy()
    seeds3[0, 0, 1, 1] = 1
    grown3 = check(probs, seeds3, None)
    assert grown3[0, 1, 1, 1] == 0 and grown3[0, 1, 0:3, 0:4].sum() == 11

    # An absent class never grows, even from its seeds; a present one does.
    labels = np.array([[1, 0]], np.uint8)
    np.testing.assert_array_equal(check(probs, seeds, labels), seeds)

    # Ties: equal maxima pick the first present class, as numpy.argmax.
    tie = np.full((1, 3, 1, 3), 0.0)
    tie[0, 1] = tie[0, 2] = 0.5
    seeds_t = np.zeros((1, 3, 1, 3), np.uint8)
    seeds_t[0, 1, 0, 0] = seeds_t[0, 2, 0, 2] = 1
    got = check(tie, seeds_t, None, fg=0.4, bg=0.9)
    # Class 1 takes the row; the pixel seeded (only) for class 2 stays out of it.
    assert got[0, 1].tolist() == [[1, 1, 0]] and got[0, 2].tolist() == [[0, 0, 1]]
    # With class 1 absent, class 2 wins the argmax instead.
    got = check(tie, seeds_t, np.array([[1, 0, 1]], np.uint8), fg=0.4, bg=0.9)
    assert got[0, 2].tolist() == [[0, 1, 1]] and got[0, 1].tolist() == [[1, 0, 0]]


def test_batch_equals_images_and_numpy_and_dtypes():
    rng = np.random.default_rng(5)
    probs, seeds, labels = random_case(rng, 5, 6, 13, 11, np.float32, peak=3.0, seed_rate=0.1)
    whole = wt.region_growing(torch.from_numpy(probs), torch.from_numpy(seeds), torch.from_numpy(labels), 0.5, 0.7)
    for b in range(5):
        one = wt.region_growing(torch.from_numpy(probs[b:b + 1]), torch.from_numpy(seeds[b:b + 1]),
                                torch.from_numpy(labels[b:b + 1]), 0.5, 0.7)
        assert torch.equal(one[0], whole[b])
    # NumPy in, NumPy out; bool / float seeds and labels; threads; a non-contiguous view.
    np.testing.assert_array_equal(wt.region_growing(probs, seeds, labels, 0.5, 0.7), whole.numpy())
    t = torch.from_numpy
    alt = wt.region_growing(t(probs), t(seeds).bool(), t(labels).float(), 0.5, 0.7, threads=1)
    assert torch.equal(alt, whole)
    strided = t(np.ascontiguousarray(probs.transpose(0, 1, 3, 2))).transpose(2, 3)
    assert torch.equal(wt.region_growing(strided, t(seeds), t(labels), 0.5, 0.7), whole)


def test_probs_with_grad_are_read_detached():
    rng = np.random.default_rng(2)
    probs, seeds, _ = random_case(rng, 2, 3, 6, 6, np.float32)
    p = torch.from_numpy(probs).requires_grad_()
    out = wt.region_growing(p, torch.from_numpy(seeds), fg_threshold=0.5, bg_threshold=0.6)
    assert not out.requires_grad
    assert torch.equal(out, wt.region_growing(p.detach(), torch.from_numpy(seeds), fg_threshold=0.5,
                                              bg_threshold=0.6))


def test_empty_batch():
    out = wt.region_growing(torch.zeros(0, 3, 4, 4), torch.zeros(0, 3, 4, 4, dtype=torch.uint8))
    assert tuple(out.shape) == (0, 3, 4, 4)


def _inputs():
    rng = np.random.default_rng(1)
    probs, seeds, labels = random_case(rng, 2, 3, 5, 5, np.float32)
    return torch.from_numpy(probs), torch.from_numpy(seeds), torch.from_numpy(labels)


@pytest.mark.parametrize("change, error, name", [
    (lambda p, s, l: (p, s[:, :2], l), ValueError, "seeds"),
    (lambda p, s, l: (p, s[:, :, :4], l), ValueError, "seeds"),
    (lambda p, s, l: (p, s, l[:, :2]), ValueError, "image_labels"),
    (lambda p, s, l: (p[0], s[0], l), ValueError, "probs"),
    (lambda p, s, l: (p * 2, s, l), ValueError, "probs"),
    (lambda p, s, l: (p + 0.1, s, l), ValueError, "probs"),
    (lambda p, s, l: (torch.where(p > 0.5, float("nan"), p), s, l), ValueError, "probs"),
    (lambda p, s, l: (p.half(), s, l), TypeError, "probs"),
    (lambda p, s, l: (p.to(torch.int64), s, l), TypeError, "probs"),
    (lambda p, s, l: (p.tolist(), s, l), TypeError, "probs"),
    (lambda p, s, l: (p, s * 2, l), ValueError, "seeds"),
    (lambda p, s, l: (p, s.float() * 0.5, l), ValueError, "seeds"),
    (lambda p, s, l: (p, s.to(torch.complex64), l), TypeError, "seeds"),
    (lambda p, s, l: (p, s.numpy(), l), TypeError, "seeds"),
    (lambda p, s, l: (p, s, l * 3), ValueError, "image_labels"),
])
def test_bad_input_names_the_argument(change, error, name):
    probs, seeds, labels = change(*_inputs())
    with pytest.raises(error, match=name):
        wt.region_growing(probs, seeds, labels)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("size", [5, 41])
def test_kernel_checks_reject_what_the_torch_checks_reject(dtype, size):
    """On the CPU the kernel checks probs and 8-bit seeds as it reads them: one bad value
    anywhere (the SIMD body or the scalar tail of a plane, any image, any class) fails
    exactly when the torch checks fail it, with their message."""
    rng = np.random.default_rng(size)
    probs, seeds, labels = (torch.from_numpy(a) for a in random_case(rng, 3, 4, size, size, np.float64))
    probs = probs.to(dtype)
    for value in (float("nan"), float("inf"), -float("inf"), 1.5, -0.01, 0.3, 1e-4):
        for at in ((0, 0, 0, 0), (2, 3, size - 1, size - 1), (1, 2, size // 2, 1)):
            bad = probs.clone()
            bad[at] = value
            try:
                _common.probabilities(bad, "probs", dim=1)
                expected = None
            except ValueError as e:
                expected = str(e)
            if expected is None:
                wt.region_growing(bad, seeds, labels)
            else:
                with pytest.raises(ValueError, match=re.escape(expected)):
                    wt.region_growing(bad, seeds, labels)
    for dtype_s, value in ((torch.uint8, 2), (torch.uint8, 255), (torch.int8, -1)):
        for at in ((0, 0, 0, 0), (2, 3, size - 1, size - 1)):
            bad = seeds.to(dtype_s, copy=True)
            bad[at] = value
            with pytest.raises(ValueError, match="seeds must hold only 0 and 1"):
                wt.region_growing(probs, bad, labels)
    assert torch.equal(wt.region_growing(probs, seeds.to(torch.int8), labels), wt.region_growing(probs, seeds, labels))


@pytest.mark.parametrize("kwargs, error, name", [
    ({"fg_threshold": 1.5}, ValueError, "fg_threshold"),
    ({"bg_threshold": float("nan")}, ValueError, "bg_threshold"),
    ({"fg_threshold": "0.8"}, TypeError, "fg_threshold"),
    ({"threads": -1}, ValueError, "threads"),
])
def test_bad_options_name_the_argument(kwargs, error, name):
    probs, seeds, labels = _inputs()
    with pytest.raises(error, match=name):
        wt.region_growing(probs, seeds, labels, **kwargs)


def dsrg_refinement(probs, images, scale_factor=12.0, min_prob=1e-4):
    """DSRG's refinement, with weaksup.dense_crf in place of krahenbuhl2013.CRF: energies
    -p (DSRG hands the CRF probabilities), result clipped and renormalized."""
    import weaksup
    p = np.maximum(probs, min_prob)
    q = np.stack([weaksup.dense_crf(images[b], unary=-np.moveaxis(p[b], 0, -1).astype(np.float32),
                                    iterations=10, gaussian_sigma=3 / scale_factor, gaussian_compat=3.0,
                                    bilateral_sigma=80 / scale_factor, color_sigma=13.0, bilateral_compat=10.0)
                  for b in range(len(p))]).astype(np.float64)
    q = np.moveaxis(np.maximum(q, min_prob), -1, 1)
    return q / q.sum(axis=1, keepdims=True)


def test_crf_variant_is_refinement_then_growing():
    rng = np.random.default_rng(4)
    b, c, h, w = 3, 5, 17, 19
    images = rng.integers(0, 256, size=(b, h, w, 3), dtype=np.uint8)
    images[:, :, : w // 2] = 30  # flat halves, so the CRF has edges to follow
    probs, seeds, labels = random_case(rng, b, c, h, w, np.float32, peak=2.0, seed_rate=0.05)
    chw = np.moveaxis(images, -1, 1)  # weaksup.torch takes (B, 3, H, W)
    got = wt.region_growing_crf(torch.from_numpy(probs), torch.from_numpy(chw), torch.from_numpy(seeds),
                                torch.from_numpy(labels), 0.3, 0.5)
    refined = dsrg_refinement(probs, images)
    np.testing.assert_array_equal(got.numpy(), reference(grow_scipy, refined, seeds, labels, 0.3, 0.5))
    # NumPy in, NumPy out.
    np.testing.assert_array_equal(wt.region_growing_crf(probs, chw, seeds, labels, 0.3, 0.5), got.numpy())
    with pytest.raises(ValueError, match="images"):
        wt.region_growing_crf(torch.from_numpy(probs), torch.from_numpy(chw[:, :, :-1]), torch.from_numpy(seeds))
    with pytest.raises(ValueError, match="images"):  # channels last is not the layout
        wt.region_growing_crf(torch.from_numpy(probs), torch.from_numpy(images), torch.from_numpy(seeds))
