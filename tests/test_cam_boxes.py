"""cam_to_boxes against NumPy thresholding + OpenCV labeling (largest component box)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import weaksup

cv2 = pytest.importorskip("cv2")


def reference_mask(cam, threshold, normalize):
    v = cam.astype(np.float64)
    lo, hi = v.min(), v.max()
    if normalize == "minmax":
        return (v - lo) / (hi - lo) > threshold if hi > lo else np.zeros(cam.shape, bool)
    if normalize == "max":
        return v / hi > threshold if hi > 0 else np.zeros(cam.shape, bool)
    return v > threshold


def reference_box(mask, connectivity=8):
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=connectivity,
                                                           ltype=cv2.CV_32S)
    if n == 1:
        return [-1, -1, -1, -1]
    area = stats[1:, cv2.CC_STAT_AREA]
    winners = np.flatnonzero(area == area.max()) + 1
    # ties: the component whose first pixel comes first in raster order
    firsts = [np.flatnonzero(labels.ravel() == w)[0] for w in winners]
    k = winners[int(np.argmin(firsts))]
    x, y, w, h = stats[k, :4]
    return [x, y, x + w - 1, y + h - 1]


def smooth(rng, shape, dtype):
    from scipy import ndimage

    return ndimage.gaussian_filter(rng.random(shape), rng.uniform(0.5, 6)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("normalize", ["minmax", "max", None])
def test_random_cams_match_reference(rng, dtype, normalize):
    cams = np.stack([smooth(rng, (53, 67), dtype) for _ in range(40)])
    if normalize is None:
        cams -= cams.mean()
    for threshold in (0.0, 0.2, 0.5, 0.9):
        t = threshold if normalize else threshold * 0.05
        boxes = weaksup.cam_to_boxes(cams, t, normalize=normalize)
        assert boxes.shape == (40, 4) and boxes.dtype == np.int64
        for cam, box in zip(cams, boxes):
            assert box.tolist() == reference_box(reference_mask(cam, t, normalize))


def test_real_photo_cams():
    data = pytest.importorskip("skimage.data")
    for image in (data.camera(), data.coins(), data.moon(), data.astronaut()[..., 2]):
        cam = image.astype(np.float32)
        for threshold in (0.2, 0.5, 0.8):
            for connectivity in (4, 8):
                box = weaksup.cam_to_boxes(cam, threshold, connectivity=connectivity)
                assert box.tolist() == reference_box(reference_mask(cam, threshold, "minmax"), connectivity)


@given(
    hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=24),
               elements=st.floats(-3, 3, width=32)),
    st.floats(0, 1),
    st.sampled_from(["minmax", "max"]),
)
def test_hypothesis_cams_exact_at_every_boundary(cam, threshold, normalize):
    box = weaksup.cam_to_boxes(cam, threshold, normalize=normalize)
    assert box.tolist() == reference_box(reference_mask(cam, threshold, normalize))


def test_threshold_exactly_at_a_pixel_value():
    cam = np.array([[0.0, 0.25, 0.5, 0.75, 1.0]], dtype=np.float32)
    # strictly greater than the threshold
    assert weaksup.cam_to_boxes(cam, 0.5).tolist() == [3, 0, 4, 0]
    assert weaksup.cam_to_boxes(cam, 0.49999).tolist() == [2, 0, 4, 0]


def test_empty_maps_give_the_empty_box():
    cams = np.zeros((3, 8, 8), np.float32)
    cams[1] = 5.0  # constant: nothing above the min-max threshold
    cams[2, 3, 3] = 1.0
    boxes = weaksup.cam_to_boxes(cams, 0.2)
    assert boxes.tolist() == [[-1] * 4, [-1] * 4, [3, 3, 3, 3]]
    assert weaksup.cam_to_boxes(-np.ones((4, 4)), 0.1, normalize="max").tolist() == [-1] * 4


def test_single_map_shape_and_other_dtypes(rng):
    cam = (rng.random((20, 30)) * 1000).astype(np.uint16)
    box = weaksup.cam_to_boxes(cam, 0.5)
    assert box.shape == (4,)
    assert box.tolist() == reference_box(reference_mask(cam, 0.5, "minmax"))


def test_non_contiguous_cams_and_no_mutation(rng):
    base = np.stack([smooth(rng, (64, 64), np.float32) for _ in range(6)])
    before = base.copy()
    view = base[::2, ::-1, 1::2]
    boxes = weaksup.cam_to_boxes(view, 0.3)
    for cam, box in zip(np.ascontiguousarray(view), boxes):
        assert box.tolist() == reference_box(reference_mask(cam, 0.3, "minmax"))
    np.testing.assert_array_equal(base, before)


def test_threads_give_identical_boxes(rng):
    cams = np.stack([smooth(rng, (40, 40), np.float64) for _ in range(32)])
    np.testing.assert_array_equal(weaksup.cam_to_boxes(cams, threads=1), weaksup.cam_to_boxes(cams, threads=5))
