"""Labeling against scipy.ndimage.label (an implementation no one here wrote)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage

import weaksup
from conftest import canonical, speckled

STRUCTURES = {
    4: ndimage.generate_binary_structure(2, 1),
    8: ndimage.generate_binary_structure(2, 2),
    6: ndimage.generate_binary_structure(3, 1),
    18: ndimage.generate_binary_structure(3, 2),
    26: ndimage.generate_binary_structure(3, 3),
}


def reference(mask, connectivity):
    labels, n = ndimage.label(mask, STRUCTURES[connectivity])
    return canonical(labels), n


@pytest.mark.parametrize("connectivity", [4, 8])
@pytest.mark.parametrize("density", [0.05, 0.3, 0.5, 0.7, 0.95])
def test_2d_random_masks_match_scipy(rng, connectivity, density):
    for _ in range(8):
        shape = tuple(rng.integers(1, 97, 2))
        mask = speckled(rng, shape, density)
        labels, count = weaksup.label(mask, connectivity)
        ref, n = reference(mask, connectivity)
        assert count == n
        np.testing.assert_array_equal(labels, ref)
        # up to renumbering, too: same partition as scipy's own numbering
        raw, _ = ndimage.label(mask, STRUCTURES[connectivity])
        pairs = np.unique(np.stack([labels.ravel(), raw.ravel()]), axis=1)
        assert pairs.shape[1] == n + 1


@pytest.mark.parametrize("connectivity", [6, 18, 26])
@pytest.mark.parametrize("density", [0.1, 0.4, 0.6])
def test_3d_random_volumes_match_scipy(rng, connectivity, density):
    for _ in range(5):
        shape = tuple(rng.integers(1, 23, 3))
        mask = speckled(rng, shape, density)
        labels, count = weaksup.label(mask, connectivity)
        ref, n = reference(mask, connectivity)
        assert count == n
        np.testing.assert_array_equal(labels, ref)


@pytest.mark.parametrize("connectivity", [4, 8])
def test_batch_is_labelled_per_image(rng, connectivity):
    masks = rng.random((7, 33, 41)) < 0.5
    masks[:, :, :] |= rng.random((7, 33, 41)) < 0.2
    labels, counts = weaksup.label(masks, connectivity, threads=3)
    assert counts.shape == (7,) and counts.dtype == np.int64
    for b in range(7):
        ref, n = reference(masks[b], connectivity)
        assert counts[b] == n
        np.testing.assert_array_equal(labels[b], ref)


def test_batch_of_volumes(rng):
    vols = rng.random((3, 9, 10, 11)) < 0.4
    labels, counts = weaksup.label(vols, 26)
    for b in range(3):
        ref, n = reference(vols[b], 26)
        assert counts[b] == n
        np.testing.assert_array_equal(labels[b], ref)


def test_real_photos_match_scipy():
    data = pytest.importorskip("skimage.data")
    for image in (data.coins(), data.camera(), data.moon(), data.page()):
        for cut in (64, 128, 192):
            mask = image > cut
            for connectivity in (4, 8):
                labels, count = weaksup.label(mask, connectivity)
                ref, n = reference(mask, connectivity)
                assert count == n
                np.testing.assert_array_equal(labels, ref)


@given(
    hnp.arrays(np.bool_, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=40)),
    st.sampled_from([4, 8]),
)
def test_hypothesis_masks_2d(mask, connectivity):
    labels, count = weaksup.label(mask, connectivity)
    ref, n = reference(mask, connectivity)
    assert count == n
    np.testing.assert_array_equal(labels, ref)


@given(
    hnp.arrays(np.bool_, hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=12)),
    st.sampled_from([6, 18, 26]),
)
def test_hypothesis_volumes(mask, connectivity):
    labels, count = weaksup.label(mask, connectivity)
    ref, n = reference(mask, connectivity)
    assert count == n
    np.testing.assert_array_equal(labels, ref)


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.int8, np.int16, np.uint16, np.int32, np.int64, np.float32,
                                   np.float64])
def test_any_numeric_dtype_nonzero_is_foreground(rng, dtype):
    values = rng.integers(0, 3, (29, 31))
    mask = values.astype(dtype)
    labels, count = weaksup.label(mask, 8)
    ref, n = reference(values != 0, 8)
    assert count == n
    np.testing.assert_array_equal(labels, ref)


def test_non_contiguous_and_negative_strides_are_read_correctly(rng):
    base = rng.random((60, 80)) < 0.45
    for view in (base[::2, ::3], base[::-1], base[:, ::-1], base.T, base[5:50:3, 70:2:-2]):
        labels, count = weaksup.label(view, 8)
        ref, n = reference(np.ascontiguousarray(view), 8)
        assert count == n
        np.testing.assert_array_equal(labels, ref)


def test_input_is_not_modified(rng):
    mask = rng.integers(0, 5, (20, 20)).astype(np.int32)
    before = mask.copy()
    weaksup.label(mask, 8, return_stats=True)
    np.testing.assert_array_equal(mask, before)


def test_results_do_not_depend_on_threads(rng):
    masks = rng.random((16, 50, 50)) < 0.5
    one = weaksup.label(masks, 8, return_stats=True, threads=1)
    many = weaksup.label(masks, 8, return_stats=True, threads=4)
    np.testing.assert_array_equal(one[0], many[0])
    np.testing.assert_array_equal(one[1], many[1])
    for field in ("area", "bbox", "centroid", "image"):
        np.testing.assert_array_equal(getattr(one[2], field), getattr(many[2], field))


def test_single_image_count_is_int_and_labels_int32():
    labels, count = weaksup.label(np.eye(5, dtype=bool), 8)
    assert isinstance(count, int) and count == 1
    assert labels.dtype == np.int32
    labels, count = weaksup.label(np.eye(5, dtype=bool), 4)
    assert count == 5


def test_all_background_and_all_foreground():
    labels, count = weaksup.label(np.zeros((4, 5), bool))
    assert count == 0 and not labels.any()
    labels, count = weaksup.label(np.ones((4, 5), bool))
    assert count == 1 and (labels == 1).all()


def test_torch_cpu_tensor_comes_back_as_tensor():
    torch = pytest.importorskip("torch")
    mask = torch.rand(3, 20, 20) > 0.5
    labels, counts = weaksup.label(mask, 8)
    assert isinstance(labels, torch.Tensor)
    ref, _ = weaksup.label(mask.numpy(), 8)
    np.testing.assert_array_equal(labels.numpy(), ref)


@pytest.mark.slow
def test_stats_past_2_31_pixels():
    """A single image of more than 2^31 pixels: 64-bit run indices and coordinates."""
    side = 46341  # side**2 = 2_147_488_281 > 2**31 - 1
    try:
        mask = np.zeros((side, side), dtype=bool)
    except MemoryError:
        pytest.skip("not enough memory for a 2 GiB mask")
    mask[0, 0] = True
    mask[side - 1, side - 3 : side] = True
    mask[side // 2, :] = True
    stats = weaksup.component_stats(mask, 8)
    np.testing.assert_array_equal(stats.area, [1, side, 3])
    np.testing.assert_array_equal(stats.bbox, [[0, 0, 0, 0], [0, side // 2, side - 1, side // 2],
                                               [side - 3, side - 1, side - 1, side - 1]])
    np.testing.assert_allclose(stats.centroid[2], [side - 2, side - 1])


@pytest.mark.parametrize("connectivity", [4, 8, 26])
def test_int64_label_path_matches_int32(rng, connectivity):
    """The int64 labels used from 2^31 pixels per image on, exercised on small inputs."""
    from weaksup import _core

    shape = (3, 1, 40, 50) if connectivity < 6 else (2, 9, 10, 11)
    mask = (rng.random(shape) < 0.5).astype(np.uint8)
    narrow = _core.label(mask, connectivity, True, True, 2)
    wide = _core.label(mask, connectivity, True, True, 2, wide=True)
    assert narrow[0].dtype == np.int32 and wide[0].dtype == np.int64
    np.testing.assert_array_equal(narrow[0], wide[0])
    for a, b in zip(narrow[1:], wide[1:]):
        np.testing.assert_array_equal(a, b)
