"""Component statistics against OpenCV's connectedComponentsWithStats."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis.extra import numpy as hnp

import weaksup
from conftest import speckled

cv2 = pytest.importorskip("cv2")


def opencv_stats(mask, connectivity):
    """OpenCV's stats reordered into our label order (raster order of first pixel)."""
    n, labels, stats, centroids = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=connectivity,
                                                                   ltype=cv2.CV_32S)
    flat = labels.ravel()
    ids, first = np.unique(flat[flat > 0], return_index=True)
    order = ids[np.argsort(np.flatnonzero(flat > 0)[first])] if ids.size else ids
    x, y, w, h, area = (stats[order, i] for i in range(5))
    return area, np.stack([x, y, x + w - 1, y + h - 1], axis=1), centroids[order]


def check(mask, connectivity):
    stats = weaksup.component_stats(mask, connectivity)
    area, bbox, centroid = opencv_stats(mask, connectivity)
    np.testing.assert_array_equal(stats.area, area)
    np.testing.assert_array_equal(stats.bbox, bbox.reshape(-1, 4))
    np.testing.assert_allclose(stats.centroid, centroid.reshape(-1, 2), rtol=1e-12, atol=1e-9)
    labels, count, with_labels = weaksup.label(mask, connectivity, return_stats=True)
    np.testing.assert_array_equal(with_labels.area, stats.area)
    assert count == len(stats)


@pytest.mark.parametrize("connectivity", [4, 8])
def test_random_masks_match_opencv(rng, connectivity):
    for density in (0.02, 0.2, 0.5, 0.8):
        for _ in range(6):
            check(speckled(rng, tuple(rng.integers(1, 120, 2)), density), connectivity)


@pytest.mark.parametrize("connectivity", [4, 8])
def test_real_photos_match_opencv(connectivity):
    data = pytest.importorskip("skimage.data")
    for image in (data.coins(), data.camera(), data.page(), data.astronaut()[..., 0], data.chelsea()[..., 1]):
        for cut in (80, 140, 200):
            check(image > cut, connectivity)


@given(hnp.arrays(np.bool_, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=48)))
def test_hypothesis_masks_match_opencv(mask):
    check(mask, 8)


def test_batch_rows_follow_images_and_labels(rng):
    masks = rng.random((5, 30, 30)) < 0.4
    stats = weaksup.component_stats(masks, 8)
    assert stats.counts.tolist() == [weaksup.label(m, 8)[1] for m in masks]
    offsets = stats.offsets
    for b in range(5):
        rows = slice(offsets[b], offsets[b + 1])
        assert (stats.image[rows] == b).all()
        area, bbox, _ = opencv_stats(masks[b], 8)
        np.testing.assert_array_equal(stats.area[rows], area)
        np.testing.assert_array_equal(stats.bbox[rows], bbox)


def test_3d_stats_match_scipy(rng):
    from scipy import ndimage

    vol = speckled(rng, (12, 17, 19), 0.3)
    labels, count, stats = weaksup.label(vol, 26, return_stats=True)
    objects = ndimage.find_objects(labels)
    for k, sl in enumerate(objects):
        z, y, x = sl
        assert stats.bbox[k].tolist() == [x.start, y.start, z.start, x.stop - 1, y.stop - 1, z.stop - 1]
    np.testing.assert_array_equal(stats.area, np.bincount(labels.ravel())[1:])
    com = np.array(ndimage.center_of_mass(vol, labels, range(1, count + 1)))
    np.testing.assert_allclose(stats.centroid, com[:, ::-1], rtol=1e-12)


def test_largest_selectors(rng):
    masks = np.zeros((3, 20, 20), bool)
    masks[0, :2, :2] = True   # area 4
    masks[0, 5:8, 5:8] = True  # area 9
    masks[0, 15, 15] = True   # area 1
    masks[1, 0, :5] = True
    masks[1, 10, :5] = True   # tie: equal areas keep label order
    stats = weaksup.largest_components(masks, k=2)
    assert stats.counts.tolist() == [2, 2, 0]
    assert stats.area.tolist() == [9, 4, 5, 5]
    assert stats.bbox[:2].tolist() == [[5, 5, 7, 7], [0, 0, 1, 1]]
    assert stats.bbox[2:].tolist() == [[0, 0, 4, 0], [0, 10, 4, 10]]
    kept = weaksup.keep_largest(masks, k=1)
    assert kept[0].sum() == 9 and kept[0, 6, 6] and not kept[0, 0, 0]
    assert kept[1].sum() == 5 and kept[1, 0, 0]
    assert not kept[2].any()


def test_keep_largest_matches_scipy_reference(rng):
    from scipy import ndimage

    mask = speckled(rng, (64, 70), 0.3)
    labels, n = ndimage.label(mask, np.ones((3, 3)))
    sizes = np.bincount(labels.ravel())[1:]
    top = np.argsort(-sizes, kind="stable")[:3] + 1
    np.testing.assert_array_equal(weaksup.keep_largest(mask, k=3), np.isin(labels, top))
