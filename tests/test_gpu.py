"""CUDA kernels give exactly the CPU kernels' results (skipped without a GPU)."""

import numpy as np
import pytest
from scipy import ndimage

import weaksup
from conftest import requires_gpu, speckled
from weaksup.bench.localize import smooth_cams, upsampled_cams

pytestmark = [requires_gpu, pytest.mark.gpu]


@pytest.fixture
def cp():
    import cupy

    return cupy


@pytest.mark.parametrize("connectivity", [4, 8])
def test_label_and_stats_equal_cpu(cp, rng, connectivity):
    for shape in ((7, 33, 41), (3, 1, 90), (4, 90, 1), (2, 256, 300)):
        masks = speckled(rng, shape, 0.4)
        labels, counts, stats = weaksup.label(cp.asarray(masks), connectivity, return_stats=True)
        assert isinstance(labels, cp.ndarray) and isinstance(counts, cp.ndarray)
        ref_labels, ref_counts, ref_stats = weaksup.label(masks, connectivity, return_stats=True)
        np.testing.assert_array_equal(labels.get(), ref_labels)
        np.testing.assert_array_equal(counts.get(), ref_counts)
        for field in ("area", "bbox", "centroid", "image", "counts"):
            np.testing.assert_array_equal(cp.asnumpy(getattr(stats, field)), getattr(ref_stats, field))


def test_single_image_dtypes_and_strides(cp, rng):
    base = rng.random((80, 90)) < 0.5
    for view in (base, base[::2, ::-3], base.T):
        for dtype in (np.bool_, np.uint8, np.int32, np.float32):
            labels, count = weaksup.label(cp.asarray(view.astype(dtype)), 8)
            ref, ref_count = weaksup.label(view, 8)
            assert count == ref_count
            np.testing.assert_array_equal(labels.get(), ref)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("normalize", ["minmax", "max", None])
def test_cam_to_boxes_equal_cpu(cp, rng, dtype, normalize):
    cams = np.stack([ndimage.gaussian_filter(rng.random((61, 47)), s) for s in rng.uniform(0.5, 5, 64)]).astype(dtype)
    cams[3] = 1.0  # constant map: empty box
    for threshold in (0.0, 0.2, 0.7):
        t = threshold if normalize else threshold * 0.5
        got = weaksup.cam_to_boxes(cp.asarray(cams), t, normalize=normalize)
        np.testing.assert_array_equal(got.get(), weaksup.cam_to_boxes(cams, t, normalize=normalize))


def test_cam_to_boxes_rejects_nan_on_gpu(cp):
    cams = cp.zeros((2, 8, 8), dtype=cp.float32)
    cams[1, 2, 2] = cp.nan
    with pytest.raises(ValueError, match="cams"):
        weaksup.cam_to_boxes(cams)


@pytest.mark.parametrize("multi_contour", [True, False])
def test_box_accuracy_equal_cpu(cp, rng, multi_contour):
    maps = np.concatenate([upsampled_cams(40, seed=3), smooth_cams(24, 224, seed=4)])
    boxes = [np.array([[rng.integers(0, 100), rng.integers(0, 100), rng.integers(100, 224), rng.integers(100, 224)]])
             for _ in maps]
    for thresholds in (None, np.arange(0, 1, 0.001)):
        got = weaksup.box_accuracy(cp.asarray(maps), boxes, thresholds=thresholds, multi_contour=multi_contour)
        cpu = weaksup.box_accuracy(maps, boxes, thresholds=thresholds, multi_contour=multi_contour)
        np.testing.assert_array_equal(got.accuracy, cpu.accuracy)


def test_torch_cuda_tensors_come_back_as_tensors(rng):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    masks = rng.random((5, 40, 50)) < 0.5
    labels, counts = weaksup.label(torch.from_numpy(masks).cuda(), 8)
    assert isinstance(labels, torch.Tensor) and labels.is_cuda
    np.testing.assert_array_equal(labels.cpu().numpy(), weaksup.label(masks, 8)[0])
    cams = torch.rand(6, 30, 30, device="cuda")
    boxes = weaksup.cam_to_boxes(cams)
    assert isinstance(boxes, torch.Tensor) and boxes.is_cuda
    np.testing.assert_array_equal(boxes.cpu().numpy(), weaksup.cam_to_boxes(cams.cpu().numpy()))


def test_runs_on_the_callers_stream(cp, rng):
    masks = rng.random((8, 64, 64)) < 0.5
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        labels, counts = weaksup.label(cp.asarray(masks), 8)
        stream.synchronize()
    np.testing.assert_array_equal(labels.get(), weaksup.label(masks, 8)[0])


def test_inputs_not_modified_on_gpu(cp, rng):
    cams = cp.asarray(rng.random((4, 32, 32)).astype(np.float32))
    before = cams.copy()
    weaksup.cam_to_boxes(cams)
    weaksup.box_accuracy(cams, [np.array([[0, 0, 10, 10]])] * 4)
    assert bool((cams == before).all())
