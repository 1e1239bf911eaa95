"""Fuzzing every public localization entry point under the contract of tests/fuzzing.py.

Each test draws every argument (valid most of the time, otherwise of the wrong type, out
of range, of an odd shape or dtype), and decides from the documented contract, argument by
argument, whether the call is valid. A valid call must succeed and its result must pass
the entry point's invariants and agree with an independent reference (scipy.ndimage for
components, the OpenCV re-implementation of the WSOL protocol for boxes and PxAP). An
invalid call must raise ValueError / TypeError; when one argument alone is at fault, the
message must name it. No call may crash or modify its inputs (`call`).

One hypothesis test per entry point (test_fuzz_<entry point>), then a plain test per entry
point of valid but degenerate inputs (1x1 maps, constant maps, empty masks).
"""

from __future__ import annotations

import numbers
import re
from typing import Any, Dict, List, Optional

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage

import weaksup
from conftest import canonical
from fuzzing import (
    array_like,
    arrays,
    call,
    fuzz_settings,
    layouts,
    masks,
    mostly,
    ok,
    plateaus,
    real_sequences,
    reals,
    thread_counts,
    wrong_types,
)
from weaksup import wsol
from weaksup._arrays import MAX_THREADS
from weaksup.bench import wsol_reference as ref

pytest.importorskip("cv2")  # the WSOL reference

# ------------------------------------------------------------------ the argument contract


def is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def is_bool(v: Any) -> bool:
    return isinstance(v, (bool, np.bool_)) or (is_int(v) and v in (0, 1))


def good_threads(t: Any) -> bool:
    return is_int(t) and 0 <= t <= MAX_THREADS


def good_fraction(t: Any) -> bool:
    return is_real(t) and 0 <= float(t) <= 1


def host(x: Any) -> Optional[np.ndarray]:
    """x as NumPy would see it, None where it is no numeric array."""
    try:
        a = np.asarray(x)
    except Exception:
        return None
    return None if a.dtype == object else a


def numbers_array(values: Any) -> Optional[np.ndarray]:
    """A 1-D float64 array of a numbers argument (thresholds, iou_thresholds), or None."""
    a = host(values)
    if a is None or a.dtype.kind not in "iuf":
        return None
    a = np.atleast_1d(a.astype(np.float64))
    return a if a.ndim == 1 and a.size else None


def good_numbers(values: Any, low: float, high: float, increasing: bool = False) -> bool:
    a = numbers_array(values)
    return (a is not None and bool(np.isfinite(a).all()) and low <= a.min() and a.max() <= high
            and (not increasing or bool((np.diff(a) > 0).all())))


def names(error: Exception, argument: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(argument)}(?![A-Za-z0-9_])", str(error), re.I) is not None


def verdict(result: Any, faults: Dict[str, bool], degenerate: Optional[str] = None) -> bool:
    """Whether the call had to succeed (and did). `faults`: {argument: whether it is
    invalid}. A valid call must succeed, except for the documented degenerate case whose
    message matches `degenerate`; an invalid one must be rejected, naming its argument when
    it is the only one at fault."""
    bad = [name for name, fault in faults.items() if fault]
    event("valid call" if not bad else f"invalid: {bad}")
    if not bad:
        if degenerate is not None and not ok(result) and re.search(degenerate, str(result.error)):
            return False
        assert ok(result), f"a valid call was rejected: {result!r}"
        return True
    assert not ok(result), f"accepted although {bad} is invalid: {result!r}"
    if len(bad) == 1:
        assert names(result.error, bad[0]), f"{result!r} does not name the faulty argument {bad[0]!r}"
    return False


def map_fault(x: Any, ndims: tuple, kinds: str = "iuf", unit: bool = False, span: bool = False) -> bool:
    """Whether x is no valid map / mask: a real array of ndim in ndims, no empty axis,
    finite; within [0, 1] when unit; with span, each map's max - min finite in float64
    (min-max normalization divides by it)."""
    a = host(x)
    if a is None or a.dtype.kind not in kinds or a.ndim not in ndims or a.size == 0:
        return True
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        return True
    if unit:
        return not (a.min() >= 0 and a.max() <= 1)
    return span and not reference_safe(maps_2d(a))


# ------------------------------------------------------------------ strategies

CONNECTIVITIES = [4, 8, 6, 18, 26]
STRUCTURES = {c: ndimage.generate_binary_structure(2 if c in (4, 8) else 3, {4: 1, 8: 2, 6: 1, 18: 2, 26: 3}[c])
              for c in CONNECTIVITIES}


def connectivities(good: List[int] = CONNECTIVITIES) -> st.SearchStrategy:
    return mostly(st.sampled_from(good), st.sampled_from(good).map(np.int64),
                  st.sampled_from([0, 5, 9, 27, -8, 2**70, 8.0, "8", True, [8]]), wrong_types())


def good_connectivity(c: Any, good: List[int] = CONNECTIVITIES) -> bool:
    return is_int(c) and int(c) in good


def ks() -> st.SearchStrategy:
    return mostly(st.integers(1, 4), st.sampled_from([1, 2**31, 2**63, 2**70, np.int64(2)]),
                  st.sampled_from([0, -1, -(2**70), 1.0, 2.5, True, "1", None]), wrong_types())


def bools() -> st.SearchStrategy:
    return mostly(st.booleans(), st.sampled_from([np.bool_(True), 0, 1, np.int64(1)]),
                  st.sampled_from([2, -1, 0.0, "True", None, [True]]), wrong_types(), times=12)


@st.composite
def mask_case(draw):
    """(mask, connectivity, spatial dims): mostly a mask of the connectivity's layout."""
    conn = draw(connectivities())
    base = 3 if good_connectivity(conn) and int(conn) in (6, 18, 26) else 2
    ndims = draw(st.sampled_from([(base, base + 1)] * 8 + [(0, 5)]))
    side = 6 if base == 2 else 4
    mask = draw(array_like(mostly(masks(ndims=ndims, max_side=side), arrays(ndims=ndims, max_side=side), times=4)))
    return mask, conn, base


def mask_faults(mask: Any, conn: Any, base: int) -> Dict[str, bool]:
    if not good_connectivity(conn):  # the layout is unknown: the mask is at fault if bad as both
        return {"connectivity": True, "mask": map_fault(mask, (2, 3), "biuf") and map_fault(mask, (3, 4), "biuf")}
    return {"connectivity": False, "mask": map_fault(mask, (base, base + 1), "biuf")}


def score_maps(ndims=(2, 3), max_side: int = 7) -> st.SearchStrategy:
    """Score maps / CAMs: plateaus (ties, holes, constant maps, extreme magnitudes; or in
    [0, 1]) or any values."""
    return mostly(plateaus(ndims=ndims, max_side=max_side), plateaus(ndims=ndims, max_side=max_side, unit=True),
                  arrays(ndims=ndims, max_side=max_side, finite=True),
                  plateaus(ndims=ndims, max_side=max_side, finite=False), arrays(ndims=ndims, max_side=max_side),
                  times=3)


@st.composite
def maps_arg(draw, ndims=(2, 3), unit: bool = False):
    """A maps argument, mostly within [0, 1] with unit=True (for normalize=False)."""
    choice = draw(st.sampled_from([ndims] * 8 + [(0, 4)]))
    good = mostly(plateaus(ndims=choice, max_side=7, unit=True), score_maps(choice), times=3) if unit else (
        score_maps(choice))
    return draw(array_like(good))


@st.composite
def normalized_maps(draw, ndims=(2, 3), normalize: Any = None):
    """(maps, normalize): normalize drawn unless given; maps to go with it."""
    normalize = draw(bools()) if normalize is None else normalize
    return draw(maps_arg(ndims, unit=unit_required(normalize))), normalize


def thresholds_arg(increasing: bool = False) -> st.SearchStrategy:
    """Cam thresholds: None (the default grid) or a sequence, mostly in [0, 1]."""
    return mostly(st.one_of(st.none(), real_sequences(0, 1, increasing=increasing)), wrong_types())


def unit_required(normalize: Any) -> bool:
    """Whether maps must already lie in [0, 1] (normalize=False)."""
    return is_bool(normalize) and not bool(normalize)


def maps_2d(maps: Any) -> np.ndarray:
    a = np.asarray(maps).astype(np.float64)
    return a.reshape((-1,) + a.shape[-2:])


def reference_safe(maps: np.ndarray) -> bool:
    """Whether the protocol's float64 normalization is well defined (max - min finite)."""
    with np.errstate(over="ignore"):
        return bool(np.isfinite(maps.max(axis=(1, 2)) - maps.min(axis=(1, 2))).all())


# ------------------------------------------------------------------ components: references


def reference_labels(mask: Any, conn: int):
    """Per image (N, *image) canonical labels and (N,) counts from scipy.ndimage.label."""
    base = STRUCTURES[conn].ndim
    fg = np.asarray(mask) != 0
    images = fg.reshape((-1,) + fg.shape[-base:])
    out = [ndimage.label(im, STRUCTURES[conn]) for im in images]
    return np.stack([canonical(lab) for lab, _ in out]), np.array([n for _, n in out], dtype=np.int64)


def reference_stats(labels: np.ndarray, counts: np.ndarray):
    """(area, bbox, centroid, image) rows of every component, in label order per image."""
    base = labels.ndim - 1
    area, bbox, centroid, image = [], [], [], []
    for b, (lab, n) in enumerate(zip(labels, counts)):
        if n == 0:
            continue
        ids = np.arange(1, n + 1)
        area.append(np.bincount(lab.ravel(), minlength=n + 1)[1:])
        slices = ndimage.find_objects(lab, n)
        lo = [[s.start for s in sl][::-1] for sl in slices]
        hi = [[s.stop - 1 for s in sl][::-1] for sl in slices]
        bbox.append(np.concatenate([lo, hi], axis=1))
        centroid.append(np.array(ndimage.center_of_mass(np.ones(lab.shape), lab, ids)).reshape(n, base)[:, ::-1])
        image.append(np.full(n, b))
    if not area:
        return (np.zeros(0, np.int64), np.zeros((0, 2 * base), np.int64), np.zeros((0, base)), np.zeros(0, np.int64))
    return tuple(np.concatenate(x) for x in (area, bbox, centroid, image))


def top_rows(area: np.ndarray, counts: np.ndarray, k: int) -> np.ndarray:
    """Rows of the k largest components of each image: decreasing area, ties in label order."""
    rows, start = [], 0
    for c in counts:
        rows.extend(start + np.argsort(-area[start:start + c], kind="stable")[:k])
        start += c
    return np.array(rows, dtype=np.int64)


def check_labels(mask: Any, conn: int, labels: Any, count: Any) -> None:
    m = np.asarray(mask)
    base = STRUCTURES[conn].ndim
    assert isinstance(labels, np.ndarray) and labels.shape == m.shape and labels.dtype in (np.int32, np.int64)
    assert np.array_equal(labels > 0, m != 0), "labels > 0 exactly on the foreground"
    expected, counts = reference_labels(m, conn)
    if m.ndim == base:
        assert type(count) is int and count == counts[0]
    else:
        assert isinstance(count, np.ndarray) and count.dtype == np.int64 and count.shape == (m.shape[0],)
        np.testing.assert_array_equal(count, counts)
    per_image = labels.reshape(expected.shape)
    np.testing.assert_array_equal(per_image.reshape(len(counts), -1).max(axis=1), counts)
    np.testing.assert_array_equal(per_image, expected)  # the partition, numbered in raster order


def check_components(stats: Any, mask: Any, conn: int) -> None:
    m = np.asarray(mask)
    base = STRUCTURES[conn].ndim
    labels, counts = reference_labels(m, conn)
    total = int(counts.sum())
    assert isinstance(stats, weaksup.Components) and len(stats) == total
    for field, dtype, shape in (("area", np.int64, (total,)), ("bbox", np.int64, (total, 2 * base)),
                                ("centroid", np.float64, (total, base)), ("image", np.int64, (total,)),
                                ("counts", np.int64, (len(counts),))):
        value = getattr(stats, field)
        assert isinstance(value, np.ndarray) and value.dtype == dtype and value.shape == shape, field
    np.testing.assert_array_equal(stats.counts, counts)
    np.testing.assert_array_equal(stats.offsets, np.concatenate([[0], np.cumsum(counts)]))
    assert stats.area.sum() == np.count_nonzero(m) and (stats.area > 0).all()
    size = np.array(m.shape[-base:][::-1])  # W, H (, D)
    lo, hi = stats.bbox[:, :base], stats.bbox[:, base:]
    assert (lo >= 0).all() and (lo <= hi).all() and (hi < size).all(), "boxes inside the image"
    assert (stats.centroid >= lo - 1e-9).all() and (stats.centroid <= hi + 1e-9).all(), "centroids inside boxes"
    area, bbox, centroid, image = reference_stats(labels, counts)
    np.testing.assert_array_equal(stats.area, area)
    np.testing.assert_array_equal(stats.bbox, bbox)
    np.testing.assert_allclose(stats.centroid, centroid, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(stats.image, image)


def check_largest(got: Any, mask: Any, conn: int, k: int) -> None:
    labels, counts = reference_labels(np.asarray(mask), conn)
    area, bbox, centroid, image = reference_stats(labels, counts)
    rows = top_rows(area, counts, k)
    assert isinstance(got, weaksup.Components) and len(got) == len(rows)
    np.testing.assert_array_equal(got.counts, [min(int(c), k) for c in counts])
    np.testing.assert_array_equal(got.area, area[rows])
    np.testing.assert_array_equal(got.bbox, bbox[rows])
    np.testing.assert_allclose(got.centroid, centroid[rows], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(got.image, image[rows])


# ------------------------------------------------------------------ components: fuzz tests


@fuzz_settings
@given(mask_case(), bools(), thread_counts())
def test_fuzz_label(case, return_stats, threads):
    mask, conn, base = case
    result = call(weaksup.label, mask, conn, return_stats=return_stats, threads=threads)
    faults = mask_faults(mask, conn, base)
    faults.update(return_stats=not is_bool(return_stats), threads=not good_threads(threads))
    if verdict(result, faults):
        assert len(result) == (3 if return_stats else 2)
        check_labels(mask, int(conn), result[0], result[1])
        if return_stats:
            check_components(result[2], mask, int(conn))


@fuzz_settings
@given(mask_case(), thread_counts())
def test_fuzz_component_stats(case, threads):
    mask, conn, base = case
    result = call(weaksup.component_stats, mask, conn, threads=threads)
    faults = mask_faults(mask, conn, base)
    faults.update(threads=not good_threads(threads))
    if verdict(result, faults):
        check_components(result, mask, int(conn))


@fuzz_settings
@given(mask_case(), ks(), thread_counts())
def test_fuzz_largest_components(case, k, threads):
    mask, conn, base = case
    result = call(weaksup.largest_components, mask, k, conn, threads=threads)
    faults = mask_faults(mask, conn, base)
    faults.update(k=not (is_int(k) and k >= 1), threads=not good_threads(threads))
    if verdict(result, faults):
        check_largest(result, mask, int(conn), int(k))


@fuzz_settings
@given(mask_case(), ks(), thread_counts())
def test_fuzz_keep_largest(case, k, threads):
    mask, conn, base = case
    result = call(weaksup.keep_largest, mask, k, conn, threads=threads)
    faults = mask_faults(mask, conn, base)
    faults.update(k=not (is_int(k) and k >= 1), threads=not good_threads(threads))
    if verdict(result, faults):
        m = np.asarray(mask)
        assert isinstance(result, np.ndarray) and result.dtype == np.bool_ and result.shape == m.shape
        assert not (result & (m == 0)).any(), "keep_largest keeps a subset of the mask"
        labels, counts = reference_labels(m, int(conn))
        area = reference_stats(labels, counts)[0]
        offsets = np.concatenate([[0], np.cumsum(counts)])
        expected = np.stack([np.isin(lab, top_rows(area[offsets[b]:offsets[b + 1]], counts[b:b + 1], int(k)) + 1)
                             for b, lab in enumerate(labels)])
        np.testing.assert_array_equal(result, expected.reshape(m.shape))


@fuzz_settings
@given(mask_case(), ks())
def test_fuzz_Components_largest(case, k):
    mask, conn, base = case
    if any(mask_faults(mask, conn, base).values()):
        mask, conn = np.eye(3, dtype=bool), 4  # largest runs on a library-made Components
    stats = weaksup.component_stats(mask, conn)
    before = {f: getattr(stats, f).copy() for f in ("area", "bbox", "centroid", "image", "counts")}
    result = call(weaksup.Components.largest, stats, k)
    for field, value in before.items():
        np.testing.assert_array_equal(getattr(stats, field), value, err_msg=f"largest modified {field}")
    if verdict(result, {"k": not (is_int(k) and k >= 1)}):
        check_largest(result, mask, int(conn), int(k))


# ------------------------------------------------------------------ cam_to_boxes

NORMALIZATIONS = ["minmax", "max", None, "none"]


def cam_normalizations() -> st.SearchStrategy:
    return mostly(st.sampled_from(NORMALIZATIONS), st.sampled_from([np.str_("max"), "MINMAX", "zscore", "", 0, 1,
                                                                     False, ["max"]]), wrong_types())


def reference_cam_boxes(cams: Any, threshold: float, mode: str, conn: int) -> np.ndarray:
    """NumPy thresholding in float64 + scipy labels: the box of the largest component,
    the first in raster order among equal areas; [-1, -1, -1, -1] without foreground."""
    out = []
    for v in maps_2d(cams):
        lo, hi = v.min(), v.max()
        with np.errstate(all="ignore"):
            if mode == "minmax":
                fg = (v - lo) / (hi - lo) > threshold if hi > lo else np.zeros(v.shape, bool)
            elif mode == "max":
                fg = v / hi > threshold if hi > 0 else np.zeros(v.shape, bool)
            else:
                fg = v > threshold
        labels, n = ndimage.label(fg, STRUCTURES[conn])
        if n == 0:
            out.append([-1, -1, -1, -1])
            continue
        labels = canonical(labels)
        best = int(np.argmax(np.bincount(labels.ravel())[1:])) + 1
        ys, xs = np.nonzero(labels == best)
        out.append([xs.min(), ys.min(), xs.max(), ys.max()])
    boxes = np.array(out, dtype=np.int64)
    return boxes if np.ndim(cams) == 3 else boxes[0]


@fuzz_settings
@given(maps_arg(), mostly(reals(0, 1), reals(), wrong_types(), times=8), cam_normalizations(),
       connectivities([4, 8]), thread_counts())
def test_fuzz_cam_to_boxes(cams, threshold, normalize, conn, threads):
    result = call(weaksup.cam_to_boxes, cams, threshold, normalize=normalize, connectivity=conn, threads=threads)
    good_normalize = normalize is None or (isinstance(normalize, str) and normalize in NORMALIZATIONS)
    mode = "none" if normalize is None else normalize
    absolute = good_normalize and mode == "none"
    faults = {
        "normalize": not good_normalize,
        "threshold": not (is_real(threshold) and np.isfinite(float(threshold))) or (
            good_normalize and not absolute and not good_fraction(threshold)),
        "connectivity": not good_connectivity(conn, [4, 8]),
        "threads": not good_threads(threads),
        "cams": map_fault(cams, (2, 3)),
    }
    if verdict(result, faults):
        a = np.asarray(cams)
        h, w = a.shape[-2:]
        assert isinstance(result, np.ndarray) and result.dtype == np.int64
        assert result.shape == ((a.shape[0], 4) if a.ndim == 3 else (4,))
        boxes = result.reshape(-1, 4)
        empty = (boxes == -1).all(axis=1)
        x0, y0, x1, y1 = boxes[~empty].T
        assert ((0 <= x0) & (x0 <= x1) & (x1 < w) & (0 <= y0) & (y0 <= y1) & (y1 < h)).all(), boxes
        np.testing.assert_array_equal(result, reference_cam_boxes(cams, float(threshold), mode, int(conn)))


# ------------------------------------------------------------------ WSOL boxes


def check_boxes(boxes: np.ndarray, h: int, w: int) -> None:
    """Protocol boxes x0, y0, x1, y1 inside the image (empty masks give 0, 0, 0, 0)."""
    assert boxes.dtype == np.int64
    x0, y0, x1, y1 = boxes.reshape(-1, 4).T
    assert ((0 <= x0) & (x0 <= x1) & (x1 < w) & (0 <= y0) & (y0 <= y1) & (y1 < h)).all(), boxes


def protocol_maps(maps: Any, normalize: bool) -> List[np.ndarray]:
    return [ref.normalize_scoremap(m) if normalize else m for m in maps_2d(maps)]


@fuzz_settings
@given(normalized_maps(), thresholds_arg(), thread_counts())
def test_fuzz_scoremap_boxes(case, thresholds, threads):
    scoremaps, normalize = case
    result = call(wsol.scoremap_boxes, scoremaps, thresholds, normalize=normalize, threads=threads)
    faults = {
        "thresholds": thresholds is not None and not good_numbers(thresholds, 0, 1),
        "normalize": not is_bool(normalize),
        "threads": not good_threads(threads),
        "scoremaps": map_fault(scoremaps, (2, 3), unit=unit_required(normalize), span=True),
    }
    if verdict(result, faults):
        a = np.asarray(scoremaps)
        t = wsol.default_thresholds() if thresholds is None else numbers_array(thresholds)
        assert isinstance(result, np.ndarray)
        assert result.shape == ((a.shape[0], len(t), 4) if a.ndim == 3 else (len(t), 4))
        check_boxes(result, *a.shape[-2:])
        expected = [np.concatenate(ref.boxes_at_thresholds(m, t, multi_contour=False))
                    for m in protocol_maps(a, bool(normalize))]
        np.testing.assert_array_equal(result.reshape(-1, len(t), 4), np.stack(expected))


@fuzz_settings
@given(normalized_maps(ndims=(2, 2)), mostly(reals(0, 1), wrong_types()))
def test_fuzz_contour_boxes(case, threshold):
    scoremap, normalize = case
    result = call(wsol.contour_boxes, scoremap, threshold, normalize=normalize)
    faults = {
        "threshold": not good_fraction(threshold),
        "normalize": not is_bool(normalize),
        "scoremap": map_fault(scoremap, (2,), unit=unit_required(normalize), span=True),
    }
    if verdict(result, faults):
        a = np.asarray(scoremap)
        largest, every = result
        assert largest.shape == (4,) and every.ndim == 2 and every.shape[1] == 4
        check_boxes(largest, *a.shape)
        check_boxes(every, *a.shape)
        [m] = protocol_maps(a, bool(normalize))
        [expected_all] = ref.boxes_at_thresholds(m, [float(threshold)], multi_contour=True)
        [expected_largest] = ref.boxes_at_thresholds(m, [float(threshold)], multi_contour=False)
        assert largest.tolist() == expected_largest[0].tolist()
        if expected_all.tolist() == [[0, 0, 0, 0]]:  # no contour
            assert every.tolist() in ([], [[0, 0, 0, 0]])
        else:
            assert sorted(map(tuple, every.tolist())) == sorted(map(tuple, expected_all.tolist()))


# ------------------------------------------------------------------ box accuracy

HUGE = [2**31, 2**53 + 1, 1e20, np.inf, np.nan, -1, 0.5, 2**64 - 1]


@st.composite
def one_image_boxes(draw, h: int, w: int):
    """(G, 4) ground-truth boxes of one map in some dtype: mostly valid (inside or beyond the
    image), otherwise with one fault: none, negative, reversed, fractional, huge or NaN
    coordinates, a bool / complex dtype, a misshapen array."""
    fault = draw(st.sampled_from([None] * 24 + ["empty", "value", "dtype", "shape"]))
    g = 0 if fault == "empty" else draw(st.sampled_from([1, 1, 1, 2, 3]))
    rows = []
    for _ in range(g):
        x0, y0 = draw(st.integers(0, w)), draw(st.integers(0, h))
        rows.append([x0, y0, draw(st.integers(x0, w + 1)), draw(st.integers(y0, h + 1))])
    if fault == "value":
        rows[draw(st.integers(0, g - 1))][draw(st.integers(0, 3))] = draw(st.sampled_from(HUGE))
    good = [np.int64, np.float64, np.int32, np.uint16, np.float32, np.float16, np.uint64, np.int8]
    dtype = draw(st.sampled_from([np.bool_, np.complex128] if fault == "dtype" else good))
    with np.errstate(all="ignore"):
        boxes = np.array(rows, dtype=np.float64).reshape(g, 4).astype(dtype)
    if fault == "shape":
        boxes = boxes.reshape(draw(st.sampled_from([(-1,), (1, -1), (1, 1, -1)])))
    as_list = draw(st.integers(0, 4)) == 0 and boxes.dtype.kind in "iuf"
    return boxes.tolist() if as_list else draw(layouts(boxes))


@st.composite
def gt_boxes_arg(draw, maps: Any):
    a = host(maps)
    batch = a.shape[0] if a is not None and a.ndim == 3 else None
    h, w = a.shape[-2:] if a is not None and a.ndim >= 2 else (4, 4)
    kind = draw(st.sampled_from(["list"] * 16 + ["array"] * 4 + ["miscount", "junk", "wrong"]))
    if kind == "wrong":
        return draw(wrong_types())
    if kind == "junk":
        return draw(arrays(ndims=(0, 3), max_side=4))
    if batch is None:
        return draw(one_image_boxes(h, w))
    n = batch + draw(st.sampled_from([-1, 1])) if kind == "miscount" else batch
    if kind == "array":  # (B, 4) or (B, G, 4), G maybe 0
        g = draw(st.sampled_from([None, 1, 2, 0]))
        rows = []
        for _ in range(max(n, 0) * (g if g is not None else 1)):
            x0, y0 = draw(st.integers(0, w)), draw(st.integers(0, h))
            rows.append([x0, y0, draw(st.integers(x0 - (draw(st.integers(0, 19)) == 0), w + 1)),
                         draw(st.integers(y0, h + 1))])
        dtype = draw(st.sampled_from([np.int64, np.float64, np.uint8]))
        boxes = np.array(rows, dtype=np.int64).reshape((max(n, 0), 4) if g is None else (max(n, 0), g, 4))
        return draw(layouts(boxes.astype(dtype) if dtype != np.uint8 or boxes.min(initial=0) >= 0 else boxes))
    parts = [draw(one_image_boxes(h, w)) for _ in range(max(n, 0))]
    return tuple(parts) if draw(st.booleans()) else parts


def per_image_boxes(gt: Any, batch: Optional[int]) -> Optional[List[np.ndarray]]:
    """gt_boxes as one int64 (G, 4) array per map, None when the argument is invalid."""
    if batch is None:
        per = [gt]
    elif isinstance(gt, np.ndarray) and gt.ndim in (2, 3):
        if gt.shape[-1] != 4:
            return None
        per = list(gt) if gt.ndim == 3 else [row[None] for row in gt]
    elif isinstance(gt, (list, tuple)):
        per = list(gt)
    else:
        return None
    if len(per) != batch and not (batch is None and len(per) == 1):
        return None
    out = []
    for b in per:
        a = host(b)
        if a is None or a.dtype.kind not in "iuf" or a.size == 0 or a.size % 4 or a.ndim > 2 or (
                a.ndim == 2 and a.shape[1] != 4):
            return None
        with np.errstate(all="ignore"):
            v = a.reshape(-1, 4).astype(np.float64)
            if not (np.isfinite(v).all() and (v == np.floor(v)).all() and (v >= 0).all() and (v <= 2**31 - 1).all()
                    and (v[:, 2] >= v[:, 0]).all() and (v[:, 3] >= v[:, 1]).all()):
                return None
        out.append(a.reshape(-1, 4).astype(np.int64))
    return out


def class_correct_arg(batch: int) -> st.SearchStrategy:
    """None, or (B,) booleans (lists, arrays, 0 / 1), sometimes of another length or with
    other values, any array, or the wrong type."""
    flags = st.lists(st.booleans(), min_size=batch, max_size=batch)
    good = st.one_of(st.none(), flags, flags.map(np.array), flags.map(lambda f: np.array(f, dtype=np.uint8)))
    odd_length = st.sampled_from([batch + 1, max(batch - 1, 0)]).flatmap(
        lambda k: st.lists(st.booleans(), min_size=k, max_size=k))
    odd_values = st.lists(st.sampled_from([0, 1, 1.0, 2, 0.5, np.nan]), min_size=batch, max_size=batch)
    return mostly(good, odd_length, odd_values, arrays(ndims=(0, 2), max_side=batch + 1), wrong_types())


def class_correct_values(cc: Any, batch: int) -> Optional[np.ndarray]:
    """class_correct as (B,) bools, None when invalid."""
    a = host(cc)
    if a is None:
        return None
    a = a.reshape(-1)
    if a.shape[0] != batch:
        return None
    if a.dtype != np.bool_:
        if a.dtype.kind not in "iufc" or not np.isin(a, (0, 1)).all():
            return None
    return a.astype(bool)


IOU_DEFAULT = (30, 50, 70)


def iou_arg() -> st.SearchStrategy:
    return mostly(st.one_of(st.just(IOU_DEFAULT), real_sequences(0, 100)), wrong_types())


@st.composite
def box_case(draw, normalize: Any = None):
    """(scoremaps, gt_boxes, class_correct, normalize) of one batch, each maybe invalid."""
    maps, normalize = draw(normalized_maps(normalize=normalize))
    gt = draw(gt_boxes_arg(maps))
    a = host(maps)
    batch = a.shape[0] if a is not None and a.ndim == 3 else 1
    return maps, gt, draw(class_correct_arg(batch)), normalize


def batch_faults(maps: Any, gt: Any, cc: Any, normalize: bool) -> tuple:
    """(faults, (maps (B, H, W), boxes per map, class_correct or None) when valid)."""
    a = host(maps)
    batch = a.shape[0] if a is not None and a.ndim == 3 else None
    boxes = per_image_boxes(gt, batch) if a is not None and a.ndim in (2, 3) else None
    correct = None if cc is None else class_correct_values(cc, batch or 1)
    faults = {"scoremaps": map_fault(maps, (2, 3), unit=not normalize, span=True),
              "gt_boxes": boxes is None and a is not None and a.ndim in (2, 3),
              "class_correct": cc is not None and correct is None}
    return faults, (None if any(faults.values()) else (maps_2d(a), boxes, correct))


def reference_correct(maps: np.ndarray, boxes: List[np.ndarray], thresholds, ious, multi: bool,
                      normalize: bool) -> np.ndarray:
    """(B, D, T) localized-or-not of every map, by the OpenCV protocol."""
    return np.stack([ref.correct_at_thresholds(m, b, thresholds, ious, multi)
                     for m, b in zip(protocol_maps(maps, normalize), boxes)])


def referable(batches) -> bool:
    """Whether the reference is exact for these batches: box areas small enough that its
    int64 IoU cannot overflow."""
    return all(max(int(b.max()) for b in boxes) < 2**20 for _, boxes, _ in batches)


def check_accuracy(result: Any, batches: list, thresholds, ious, multi: bool, normalize: bool) -> None:
    assert isinstance(result, weaksup.BoxAccuracy)
    count = sum(len(m) for m, _, _ in batches)
    assert result.count == count and result.multi_contour == multi
    np.testing.assert_array_equal(result.thresholds, thresholds)
    np.testing.assert_array_equal(result.iou_thresholds, ious)
    assert result.accuracy.shape == (len(ious), len(thresholds))
    assert np.isfinite(result.accuracy).all() and (result.accuracy >= 0).all() and (result.accuracy <= 100).all()
    with_class = batches[0][2] is not None
    assert (result.top1_accuracy is not None) == with_class
    if with_class:
        assert (result.top1_accuracy <= result.accuracy).all() and (result.top1_accuracy >= 0).all()
    for d, iou in enumerate(ious):
        assert 0 <= result.corloc(iou) <= 100 and result.corloc(iou) == result.accuracy[d].max()
    assert 0 <= result.mean_max_box_acc <= 100
    if referable(batches):
        per_map = np.concatenate([reference_correct(m, b, thresholds, ious, multi, normalize) for m, b, _ in batches])
        np.testing.assert_array_equal(result.accuracy, per_map.sum(axis=0) * 100.0 / count)
        if with_class:
            cc = np.concatenate([c for _, _, c in batches])
            np.testing.assert_array_equal(result.top1_accuracy,
                                          (per_map & cc[:, None, None]).sum(axis=0) * 100.0 / count)


def evaluator_faults(thresholds, ious, multi, normalize, threads) -> Dict[str, bool]:
    return {"thresholds": thresholds is not None and not good_numbers(thresholds, 0, 1),
            "iou_thresholds": not good_numbers(ious, 0, 100),
            "multi_contour": not is_bool(multi), "normalize": not is_bool(normalize),
            "threads": not good_threads(threads)}


def some_thresholds(thresholds: Any) -> np.ndarray:
    return wsol.default_thresholds() if thresholds is None else numbers_array(thresholds)


@fuzz_settings
@given(box_case(), thresholds_arg(), iou_arg(), bools(), thread_counts())
def test_fuzz_box_accuracy(case, thresholds, ious, multi, threads):
    maps, gt, cc, normalize = case
    result = call(weaksup.box_accuracy, maps, gt, thresholds=thresholds, iou_thresholds=ious, multi_contour=multi,
                  normalize=normalize, class_correct=cc, threads=threads)
    faults = evaluator_faults(thresholds, ious, multi, normalize, threads)
    more, batch = batch_faults(maps, gt, cc, not is_bool(normalize) or bool(normalize))
    faults.update(more)
    if verdict(result, faults):
        check_accuracy(result, [batch], some_thresholds(thresholds), numbers_array(ious), bool(multi), bool(normalize))


def headline_case(fn):
    @fuzz_settings
    @given(box_case(), thresholds_arg(), thread_counts())
    def test(case, thresholds, threads):
        maps, gt, cc, normalize = case
        result = call(fn, maps, gt, thresholds=thresholds, normalize=normalize, class_correct=cc, threads=threads)
        faults = evaluator_faults(thresholds, IOU_DEFAULT, True, normalize, threads)
        more, batch = batch_faults(maps, gt, cc, not is_bool(normalize) or bool(normalize))
        faults.update(more)
        if verdict(result, faults):
            assert isinstance(result, float) and np.isfinite(result) and 0 <= result <= 100
            m, boxes, _ = batch
            if referable([batch]):
                t = some_thresholds(thresholds)
                if fn is weaksup.max_box_acc:
                    per_map = reference_correct(m, boxes, t, (50,), False, bool(normalize))
                    assert result == (per_map.sum(axis=0) * 100.0 / len(m)).max()
                else:
                    per_map = reference_correct(m, boxes, t, IOU_DEFAULT, True, bool(normalize))
                    assert result == np.mean((per_map.sum(axis=0) * 100.0 / len(m)).max(axis=1))
    return test


test_fuzz_max_box_acc = headline_case(weaksup.max_box_acc)
test_fuzz_max_box_acc_v2 = headline_case(weaksup.max_box_acc_v2)


@fuzz_settings
@given(st.data(), thresholds_arg(), iou_arg(), bools(), bools(), thread_counts())
def test_fuzz_BoxEvaluator(data, thresholds, ious, multi, normalize, threads):
    """Constructor, then a few accumulate calls (each maybe invalid), then compute: a
    rejected batch leaves the evaluator as it was."""
    ev = call(weaksup.BoxEvaluator, thresholds, ious, multi_contour=multi, normalize=normalize, threads=threads)
    if not verdict(ev, evaluator_faults(thresholds, ious, multi, normalize, threads)):
        return
    accepted: list = []
    for _ in range(data.draw(st.integers(0, 3), label="batches")):
        maps, gt, cc, _ = data.draw(box_case(normalize), label="batch")
        result = call(ev.accumulate, maps, gt, cc)
        faults, batch = batch_faults(maps, gt, cc, bool(normalize))
        if accepted and (cc is None) != (accepted[0][2] is None):
            faults["class_correct"] = True  # for every batch or for none
        if verdict(result, faults):
            assert result is None
            accepted.append(batch)
    result = call(ev.compute)
    if not accepted:
        assert not ok(result) and names(result.error, "accumulate")
        return
    check_accuracy(result, accepted, some_thresholds(thresholds), numbers_array(ious), bool(multi), bool(normalize))


@st.composite
def accuracy_case(draw):
    """A valid BoxAccuracy (maybe with class correctness) and its per-map reference."""
    shape = hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=6)
    maps = draw(plateaus(shape=shape, dtypes=[np.float64, np.uint8, np.int16]))
    h, w = maps.shape[-2:]
    boxes = []
    for _ in range(len(maps)):
        x0, y0 = draw(st.integers(0, w - 1)), draw(st.integers(0, h - 1))
        boxes.append(np.array([[x0, y0, draw(st.integers(x0, w - 1)), draw(st.integers(y0, h - 1))]]))
    ious = draw(st.lists(st.sampled_from([0, 10, 30, 50, 70, 99.5, 100]), min_size=1, max_size=4, unique=True))
    thresholds = draw(st.lists(st.floats(0, 1), min_size=1, max_size=5))
    cc = draw(mostly(st.lists(st.booleans(), min_size=len(maps), max_size=len(maps)).map(np.array), st.none(),
                     times=3))
    return weaksup.box_accuracy(maps, boxes, thresholds=thresholds, iou_thresholds=ious, class_correct=cc), ious


def iou_choice(ious: list) -> st.SearchStrategy:
    evaluated = st.sampled_from(ious)
    return mostly(st.one_of(evaluated, evaluated.map(float), evaluated.map(np.float64), evaluated.map(np.float32)),
                  reals(0, 100), st.sampled_from([None, "50", [50], np.nan]), wrong_types(), times=4)


def good_iou(iou: Any, ious: list) -> bool:
    return is_real(iou) and float(iou) in [float(v) for v in ious]


@fuzz_settings
@given(st.data(), accuracy_case())
def test_fuzz_BoxAccuracy_corloc(data, case):
    acc, ious = case
    iou = data.draw(iou_choice(ious), label="iou")
    threshold = data.draw(mostly(st.one_of(st.none(), reals(0, 1)), wrong_types()), label="threshold")
    result = call(acc.corloc, iou, threshold)
    faults = {"iou": not good_iou(iou, ious), "threshold": threshold is not None and not good_fraction(threshold)}
    if verdict(result, faults):
        assert isinstance(result, float) and 0 <= result <= 100
        d = [float(v) for v in ious].index(float(iou))
        t = acc.accuracy[d].argmax() if threshold is None else np.argmin(np.abs(acc.thresholds - float(threshold)))
        assert result == acc.accuracy[d, t]


@fuzz_settings
@given(st.data(), accuracy_case())
def test_fuzz_BoxAccuracy_top1_loc(data, case):
    acc, ious = case
    iou = data.draw(iou_choice(ious), label="iou")
    result = call(acc.top1_loc, iou)
    faults = {"iou": not good_iou(iou, ious), "class_correct": acc.top1_accuracy is None}
    if verdict(result, faults):
        assert isinstance(result, float) and 0 <= result <= 100
        d = [float(v) for v in ious].index(float(iou))
        assert result == acc.top1_accuracy[d, acc.accuracy[d].argmax()] <= acc.corloc(iou)


# ------------------------------------------------------------------ PxAP


@st.composite
def gt_masks_arg(draw, maps: Any):
    """Ground-truth masks for maps: 0 / 1 / 255 of the maps' shape, mostly; otherwise other
    values, dtypes or shapes."""
    a = host(maps)
    shape = a.shape if a is not None else (3, 3)
    kind = draw(st.sampled_from(["levels"] * 12 + ["bool"] * 2 + ["values", "shape", "wrong"]))
    if kind == "wrong":
        return draw(wrong_types())
    if kind == "shape":
        return draw(arrays(ndims=(0, 4), max_side=5))
    if kind == "bool":
        return draw(masks(shape=shape, dtypes=[np.bool_]))
    levels = np.array([0, 1, 255]) if kind == "levels" else np.array([0, 1, 2, -1, 256])
    pattern = draw(plateaus(shape=shape, dtypes=[np.uint8]))
    dtype = draw(st.sampled_from([np.uint8, np.uint8, np.int64, np.int8, np.int16, np.float64, np.uint16]))
    return levels[pattern % len(levels)].astype(dtype) if pattern.size else np.zeros(shape, dtype)


def masks_values(gt: Any, shape: tuple) -> Optional[np.ndarray]:
    """gt_masks as uint8 (B, H, W), None when invalid for maps of this shape."""
    a = host(gt)
    if a is None or a.size != int(np.prod(shape)) or a.shape[-2:] != tuple(shape[-2:]):
        return None
    if a.dtype != np.bool_ and (a.dtype.kind not in "iu" or not np.isin(a, (0, 1, 255)).all()):
        return None
    return a.astype(np.uint8).reshape((-1,) + tuple(shape[-2:]))


def reference_pxap(batches, thresholds: np.ndarray, normalize: bool) -> Optional[float]:
    """wsolevaluation's MaskEvaluator over (maps, masks) batches; None without foreground."""
    edges = np.append(thresholds, [1.0, 2.0, 3.0])
    true_hist = np.zeros(len(edges) - 1)
    false_hist = np.zeros(len(edges) - 1)
    for maps, gts in batches:
        for m, g in zip(protocol_maps(maps, normalize), gts):
            true_hist += np.histogram(m[g == 1], bins=edges)[0]
            false_hist += np.histogram(m[g == 0], bins=edges)[0]
    tp = true_hist[::-1].cumsum()
    fn = true_hist.sum() - tp
    fp = false_hist[::-1].cumsum()
    if ((tp + fn) <= 0).all():
        return None
    nonzero = (tp + fp) != 0
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = tp / (tp + fp)
        recall = tp / (tp + fn)
    return float((precision[1:] * np.diff(recall))[nonzero[1:]].sum() * 100)


@st.composite
def pxap_case(draw, normalize: Any = None):
    maps, normalize = draw(normalized_maps(normalize=normalize))
    return maps, draw(gt_masks_arg(maps)), normalize


def pxap_faults(maps: Any, gt: Any, normalize: bool) -> tuple:
    faults = {"scoremaps": map_fault(maps, (2, 3), unit=not normalize, span=True)}
    a = host(maps)
    values = None
    if a is not None and a.ndim in (2, 3) and a.size:
        values = masks_values(gt, a.shape)
        faults["gt_masks"] = values is None
    return faults, (None if any(faults.values()) else (maps_2d(a), values))


NO_FOREGROUND = "no foreground ground-truth pixel"


def check_pxap(result: Any, batches, thresholds: Any, normalize: bool) -> None:
    assert isinstance(result, float) and np.isfinite(result) and 0 <= result <= 100
    assert result == reference_pxap(batches, some_thresholds(thresholds), normalize)


@fuzz_settings
@given(pxap_case(), thresholds_arg(increasing=True), thread_counts())
def test_fuzz_pxap(case, thresholds, threads):
    maps, gt, normalize = case
    result = call(weaksup.pxap, maps, gt, thresholds=thresholds, normalize=normalize, threads=threads)
    faults = {"thresholds": thresholds is not None and not good_numbers(thresholds, 0, 1, increasing=True),
              "normalize": not is_bool(normalize), "threads": not good_threads(threads)}
    more, batch = pxap_faults(maps, gt, not is_bool(normalize) or bool(normalize))
    faults.update(more)
    if verdict(result, faults, degenerate=NO_FOREGROUND):
        check_pxap(result, [batch], thresholds, bool(normalize))
    elif not any(faults.values()):  # rejected as degenerate: really no foreground pixel
        assert reference_pxap([batch], some_thresholds(thresholds), bool(normalize)) is None
        assert names(result.error, "gt_masks")


@fuzz_settings
@given(st.data(), thresholds_arg(increasing=True), bools(), thread_counts())
def test_fuzz_PxAPEvaluator(data, thresholds, normalize, threads):
    """Constructor, a few accumulate calls (each maybe invalid), compute."""
    ev = call(weaksup.PxAPEvaluator, thresholds, normalize=normalize, threads=threads)
    faults = {"thresholds": thresholds is not None and not good_numbers(thresholds, 0, 1, increasing=True),
              "normalize": not is_bool(normalize), "threads": not good_threads(threads)}
    if not verdict(ev, faults):
        return
    accepted: list = []
    for _ in range(data.draw(st.integers(0, 3), label="batches")):
        maps, gt, _ = data.draw(pxap_case(normalize), label="batch")
        result = call(ev.accumulate, maps, gt)
        faults, batch = pxap_faults(maps, gt, bool(normalize))
        if verdict(result, faults):
            assert result is None
            accepted.append(batch)
    result = call(ev.compute)
    expected = reference_pxap(accepted, some_thresholds(thresholds), bool(normalize))
    if expected is None:
        assert not ok(result) and NO_FOREGROUND in str(result.error)
    else:
        check_pxap(result, accepted, thresholds, bool(normalize))


# ------------------------------------------------------------------ valid but degenerate inputs


ONE = np.ones((1, 1), bool)
EMPTY = np.zeros((3, 4), bool)


def test_degenerate_label():
    for conn in (4, 8):
        assert weaksup.label(ONE, conn)[1] == 1 and weaksup.label(EMPTY, conn)[1] == 0
        labels, count = weaksup.label(np.zeros((2, 1, 1), np.float32), conn)
        assert labels.shape == (2, 1, 1) and not labels.any() and count.tolist() == [0, 0]
    for conn in (6, 18, 26):
        labels, count = weaksup.label(np.ones((1, 1, 1), np.uint8), conn)
        assert labels.tolist() == [[[1]]] and count == 1
    full = weaksup.label(np.full((3, 5), -0.5), 4)[0]
    assert (full == 1).all()


def test_degenerate_component_stats():
    stats = weaksup.component_stats(ONE)
    assert stats.area.tolist() == [1] and stats.bbox.tolist() == [[0, 0, 0, 0]]
    assert stats.centroid.tolist() == [[0.0, 0.0]]
    empty = weaksup.component_stats(np.zeros((2, 1, 3, 3), bool), 26)
    assert len(empty) == 0 and empty.bbox.shape == (0, 6) and empty.counts.tolist() == [0, 0]


def test_degenerate_largest_components():
    assert weaksup.largest_components(EMPTY, k=5).counts.tolist() == [0]
    assert weaksup.largest_components(ONE, k=2**70).area.tolist() == [1]


def test_degenerate_keep_largest():
    assert not weaksup.keep_largest(EMPTY).any()
    np.testing.assert_array_equal(weaksup.keep_largest(np.ones((2, 2, 2)), k=2**63), np.ones((2, 2, 2), bool))


def test_degenerate_Components_largest():
    empty = weaksup.component_stats(EMPTY).largest(3)
    assert len(empty) == 0 and empty.counts.tolist() == [0]
    assert weaksup.component_stats(ONE).largest(2**70).area.tolist() == [1]


def test_degenerate_cam_to_boxes():
    for normalize in ("minmax", "max", None):
        assert weaksup.cam_to_boxes(np.zeros((1, 1)), 0.0, normalize=normalize).tolist() == [-1, -1, -1, -1]
        assert weaksup.cam_to_boxes(np.full((2, 3, 3), 7.0), 0.5, normalize=normalize)[0].tolist() == (
            [-1, -1, -1, -1] if normalize == "minmax" else [0, 0, 2, 2])
    assert weaksup.cam_to_boxes(np.ones((1, 1)), 0.0, normalize="max").tolist() == [0, 0, 0, 0]


def test_degenerate_scoremap_boxes():
    assert weaksup.scoremap_boxes(np.zeros((1, 1)), [0.0, 0.5]).tolist() == [[0, 0, 0, 0]] * 2
    assert weaksup.scoremap_boxes(np.full((2, 4, 4), 3.0), [0.5]).tolist() == [[[0, 0, 0, 0]]] * 2


def test_degenerate_contour_boxes():
    largest, every = wsol.contour_boxes(np.ones((1, 1)), 0.0, normalize=False)
    assert largest.tolist() == [0, 0, 0, 0]
    largest, every = wsol.contour_boxes(np.full((4, 4), 2.0), 0.5)
    assert largest.tolist() == [0, 0, 0, 0]


def test_degenerate_box_accuracy():
    one = weaksup.box_accuracy(np.zeros((1, 1)), np.array([[0, 0, 0, 0]]), thresholds=[0.5])
    assert one.accuracy.tolist() == [[100.0]] * 3 and one.count == 1
    constant = weaksup.box_accuracy(np.full((2, 5, 5), 0.3), [[[0, 0, 4, 4]]] * 2, iou_thresholds=[50])
    assert constant.accuracy.max() == 0.0  # the empty box [0, 0, 0, 0] against the whole image


def test_degenerate_max_box_acc():
    assert weaksup.max_box_acc(np.zeros((1, 1)), [[0, 0, 0, 0]]) == 100.0
    assert weaksup.max_box_acc(np.ones((3, 3)), [[0, 0, 2, 2]], normalize=False) == 100.0


def test_degenerate_max_box_acc_v2():
    assert weaksup.max_box_acc_v2(np.zeros((1, 1, 1)), np.zeros((1, 4), np.int64)) == 100.0
    assert weaksup.max_box_acc_v2(np.full((4, 4), -2.0), [[3, 3, 3, 3]]) == 0.0


def test_degenerate_BoxEvaluator():
    ev = weaksup.BoxEvaluator(thresholds=0.5, iou_thresholds=0)
    ev.accumulate(np.zeros((1, 1)), [0, 0, 0, 0])
    ev.accumulate(np.ones((2, 2, 2)), [[[5, 5, 6, 6]], [[1, 1, 1, 1]]])
    assert ev.compute().accuracy.tolist() == [[100.0]]  # IoU >= 0 always holds


def test_degenerate_BoxAccuracy_corloc():
    acc = weaksup.box_accuracy(np.zeros((1, 1)), [[0, 0, 0, 0]], thresholds=[0.0])
    assert acc.corloc(50) == acc.corloc(30.0, threshold=1.0) == 100.0


def test_degenerate_BoxAccuracy_top1_loc():
    acc = weaksup.box_accuracy(np.zeros((2, 1, 1)), [[[0, 0, 0, 0]]] * 2, thresholds=[0.0],
                               class_correct=[False, False])
    assert acc.top1_loc(50) == 0.0 and acc.corloc(50) == 100.0


def test_degenerate_PxAPEvaluator():
    ev = weaksup.PxAPEvaluator(thresholds=[0.0])
    ev.accumulate(np.zeros((1, 1)), np.ones((1, 1), np.uint8))
    assert ev.compute() == 100.0  # the only pixel is foreground and predicted
    ev = weaksup.PxAPEvaluator()
    ev.accumulate(np.full((3, 3), 5.0), np.full((3, 3), 255, np.uint8))
    with pytest.raises(ValueError, match=NO_FOREGROUND):
        ev.compute()


def test_degenerate_pxap():
    with pytest.raises(ValueError, match="gt_masks"):
        weaksup.pxap(np.random.default_rng(0).random((2, 3, 3)), np.zeros((2, 3, 3), np.uint8))
    assert 0 <= weaksup.pxap(np.full((2, 2), 4.0), np.eye(2, dtype=bool)) <= 100
