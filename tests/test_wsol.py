"""WSOL metrics against the published protocol re-implemented with cv2.findContours."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage

import weaksup
from weaksup.bench import wsol_reference as ref
from weaksup.bench.localize import smooth_cams, upsampled_cams

pytest.importorskip("cv2")

THRESHOLDS = np.arange(0, 1, 0.01)


def random_gt(rng, shape, max_boxes=3):
    h, w = shape
    boxes = []
    for _ in range(rng.integers(1, max_boxes + 1)):
        x0, y0 = rng.integers(0, w), rng.integers(0, h)
        boxes.append([x0, y0, rng.integers(x0, w), rng.integers(y0, h)])
    return np.array(boxes)


@pytest.fixture(scope="module")
def cams_and_boxes():
    """240 CAMs: upsampled network-like maps, blobs with pixel noise, and random sizes."""
    rng = np.random.default_rng(7)
    maps = list(upsampled_cams(80, seed=1)) + list(smooth_cams(60, 224, seed=2))
    for _ in range(100):
        shape = tuple(rng.integers(3, 90, 2))
        m = ndimage.gaussian_filter(rng.random(shape), rng.uniform(0.3, 4))
        if rng.random() < 0.3:
            m += 0.2 * rng.random(shape)
        maps.append(m)
    boxes = [random_gt(rng, m.shape) for m in maps]
    return maps, boxes


@pytest.mark.parametrize("multi_contour", [True, False])
def test_accuracy_curves_equal_the_protocol(cams_and_boxes, multi_contour):
    maps, boxes = cams_and_boxes
    expected = ref.box_accuracy(maps[:140], boxes[:140], THRESHOLDS, multi_contour=multi_contour)
    got = weaksup.box_accuracy(np.stack(maps[:140]), boxes[:140], multi_contour=multi_contour)
    np.testing.assert_array_equal(got.accuracy, expected)  # to the last digit
    # maps of other sizes, streamed one at a time
    ev = weaksup.BoxEvaluator(multi_contour=multi_contour)
    for m, b in zip(maps[140:], boxes[140:]):
        ev.accumulate(m, b)
    expected = ref.box_accuracy(maps[140:], boxes[140:], THRESHOLDS, multi_contour=multi_contour)
    np.testing.assert_array_equal(ev.compute().accuracy, expected)


def test_headline_numbers(cams_and_boxes):
    maps, boxes = cams_and_boxes
    stack, gts = np.stack(maps[:140]), boxes[:140]
    v1 = ref.box_accuracy(stack, gts, THRESHOLDS, iou_thresholds=(50,), multi_contour=False)
    v2 = ref.box_accuracy(stack, gts, THRESHOLDS, multi_contour=True)
    assert weaksup.max_box_acc(stack, gts) == v1.max()
    assert weaksup.max_box_acc_v2(stack, gts) == np.average(v2.max(axis=1))
    result = weaksup.box_accuracy(stack, gts)
    np.testing.assert_array_equal(result.max_box_acc, v2.max(axis=1))
    np.testing.assert_array_equal(result.best_threshold, THRESHOLDS[v2.argmax(axis=1)])
    assert result.corloc(50) == v2[1].max()


def test_v1_boxes_at_every_threshold(cams_and_boxes):
    maps, _ = cams_and_boxes
    for m in maps[::7]:
        got = weaksup.scoremap_boxes(m, THRESHOLDS)
        expected = ref.boxes_at_thresholds(ref.normalize_scoremap(m), THRESHOLDS, multi_contour=False)
        np.testing.assert_array_equal(got, np.concatenate(expected))


def test_v2_box_sets_at_every_threshold(cams_and_boxes):
    maps, _ = cams_and_boxes
    for m in maps[::9]:
        normalized = ref.normalize_scoremap(m)
        for t in THRESHOLDS[::3]:
            largest, every = weaksup.wsol.contour_boxes(m, t)
            [expected_all] = ref.boxes_at_thresholds(normalized, [t], multi_contour=True)
            [expected_largest] = ref.boxes_at_thresholds(normalized, [t], multi_contour=False)
            assert sorted(map(tuple, every.tolist())) == sorted(map(tuple, expected_all.tolist()))
            assert largest.tolist() == expected_largest[0].tolist()


@given(
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=2, max_side=20),
               elements=st.integers(0, 6).map(float)),
    st.sampled_from([0.0, 0.2, 0.4, 0.6, 0.8, 0.99]),
)
def test_hypothesis_plateaus_holes_and_ties(scoremap, t):
    """Few distinct values: plateaus, holes, nested components and area ties."""
    normalized = ref.normalize_scoremap(scoremap)
    largest, every = weaksup.wsol.contour_boxes(scoremap, t)
    [expected_all] = ref.boxes_at_thresholds(normalized, [t], multi_contour=True)
    [expected_largest] = ref.boxes_at_thresholds(normalized, [t], multi_contour=False)
    assert sorted(map(tuple, every.tolist())) == sorted(map(tuple, expected_all.tolist()))
    assert largest.tolist() == expected_largest[0].tolist()


def test_real_photos_as_scoremaps():
    data = pytest.importorskip("skimage.data")
    maps = [ndimage.zoom(img.astype(np.float64), 0.5, order=1) for img in
            (data.camera(), data.coins(), data.moon(), data.astronaut()[..., 0], data.chelsea()[..., 1])]
    rng = np.random.default_rng(3)
    boxes = [random_gt(rng, m.shape) for m in maps]
    for multi_contour in (True, False):
        ev = weaksup.BoxEvaluator(multi_contour=multi_contour)
        for m, b in zip(maps, boxes):
            ev.accumulate(m, b)
        expected = ref.box_accuracy(maps, boxes, THRESHOLDS, multi_contour=multi_contour)
        np.testing.assert_array_equal(ev.compute().accuracy, expected)


def test_fine_threshold_grid_and_constant_maps(rng):
    maps = upsampled_cams(12, seed=4).astype(np.float64)
    maps[3] = 0.5  # constant -> all zeros -> no contour -> box [0, 0, 0, 0]
    boxes = [random_gt(rng, m.shape) for m in maps]
    boxes[3] = np.array([[0, 0, 3, 3]])
    fine = np.arange(0, 1, 0.001)
    got = weaksup.box_accuracy(maps, boxes, thresholds=fine)
    np.testing.assert_array_equal(got.accuracy, ref.box_accuracy(maps, boxes, fine))


def test_streaming_equals_one_call_and_threads_agree(cams_and_boxes):
    maps, boxes = cams_and_boxes
    stack, gts = np.stack(maps[:64]), boxes[:64]
    whole = weaksup.box_accuracy(stack, gts, threads=1)
    ev = weaksup.BoxEvaluator(threads=3)
    for start in range(0, 64, 10):
        ev.accumulate(stack[start : start + 10], gts[start : start + 10])
    np.testing.assert_array_equal(ev.compute().accuracy, whole.accuracy)


def test_top1_localization(cams_and_boxes):
    maps, boxes = cams_and_boxes
    stack, gts = np.stack(maps[:50]), boxes[:50]
    correct_class = np.arange(50) % 3 != 0
    result = weaksup.box_accuracy(stack, gts, class_correct=correct_class)
    per_map = np.stack([ref.correct_at_thresholds(ref.normalize_scoremap(m), b, THRESHOLDS, (30, 50, 70), True)
                        for m, b in zip(stack, gts)])
    expected = (per_map & correct_class[:, None, None]).sum(axis=0) * 100.0 / 50
    np.testing.assert_array_equal(result.top1_accuracy, expected)
    best = result.accuracy[1].argmax()
    assert result.top1_loc(50) == expected[1, best]
    assert result.top1_loc(50) <= result.corloc(50)


def test_pxap_equals_the_protocol(rng):
    maps = list(upsampled_cams(20, seed=9)) + [ndimage.gaussian_filter(rng.random((50, 60)), 2) for _ in range(10)]
    masks = []
    for m in maps:
        gt = (ndimage.gaussian_filter(rng.random(m.shape), 3) > 0.5).astype(np.uint8)
        gt[rng.random(m.shape) < 0.05] = 255  # ignored pixels
        masks.append(gt)
    for thresholds in (THRESHOLDS, np.arange(0, 1, 0.001)):
        ev = weaksup.PxAPEvaluator(thresholds)
        for m, g in zip(maps, masks):
            ev.accumulate(m, g)
        assert ev.compute() == ref.pxap(maps, masks, thresholds)
    assert weaksup.pxap(np.stack(maps[:20]), np.stack(masks[:20])) == ref.pxap(maps[:20], masks[:20], THRESHOLDS)


def test_boxes_may_be_given_as_one_array(rng):
    maps = upsampled_cams(6, seed=2)
    boxes = np.array([[10, 10, 120, 150]] * 6)
    a = weaksup.box_accuracy(maps, boxes)
    b = weaksup.box_accuracy(maps, [bx[None] for bx in boxes])
    np.testing.assert_array_equal(a.accuracy, b.accuracy)


def test_scoremaps_not_modified(rng):
    maps = upsampled_cams(4, seed=5)
    before = maps.copy()
    weaksup.box_accuracy(maps, [np.array([[0, 0, 50, 50]])] * 4)
    weaksup.pxap(maps, (maps > maps.mean()).astype(np.uint8))
    np.testing.assert_array_equal(maps, before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_quantization_matches_numpy_at_level_boundaries(rng, dtype):
    """uint8(trunc(255 * normalized)) exactly, also for values a few ulps around k / 255."""
    from weaksup import _core

    edges = np.arange(256, dtype=np.float64) / 255
    values = np.concatenate([edges, np.nextafter(edges, 2), np.nextafter(edges, -1), rng.random(4000)])
    for scale, shift in ((1.0, 0.0), (3.7, -1.2), (1e-3, 5.0), (255.0, 0.0)):
        maps = np.stack([rng.permutation(values) * scale + shift for _ in range(3)]).astype(dtype)
        got = _core.quantize_scoremaps(maps, True, 2)
        expected = np.stack([(ref.normalize_scoremap(m) * 255).astype(np.uint8) for m in maps])
        np.testing.assert_array_equal(got, expected)
        unit = np.clip(maps.astype(np.float64) - maps.min(), 0, None)
        unit = (unit / unit.max()).astype(dtype)
        np.testing.assert_array_equal(_core.quantize_scoremaps(unit, False, 1),
                                      (unit.astype(np.float64) * 255).astype(np.uint8))
