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


# ---- dense CRF: the CUDA mean-field against the CPU's, through the low-level bindings ----
#
# The GPU sums floats in another order than the CPU, so q agrees to float rounding
# (1e-4), not bit for bit; two GPU runs must agree bit for bit.


def _cpu_crf(images, spatial, unary, gaussian, bilateral, normalization, iterations):
    from weaksup import _core

    kwargs = dict(images=images, spatial=list(spatial), unary=unary, gaussian=gaussian, bilateral=bilateral,
                  normalization=normalization, iterations=iterations, threads=0)
    if "probabilities" in (_core.dense_crf_images.__doc__ or ""):  # energies, not probabilities
        kwargs.update(probabilities=False, clip=1e-5)
    return _core.dense_crf_images(**kwargs)


def _gpu_crf(cp, images, spatial, unary, gaussian, bilateral, normalization, iterations):
    from weaksup import _cuda

    img, un = cp.asarray(images), cp.asarray(unary)
    out = cp.full(unary.shape, -1.0, dtype=cp.float32)
    g = None if gaussian is None else (list(gaussian[0]), gaussian[2], gaussian[3].ravel().tolist())
    b = None if bilateral is None else (list(bilateral[0]), list(bilateral[1]), bilateral[2],
                                        bilateral[3].ravel().tolist())
    _cuda.dense_crf_images(img.data.ptr, images.shape[0], list(spatial), images.shape[2], un.data.ptr,
                           unary.shape[2], g, b, normalization, iterations, out.data.ptr,
                           cp.cuda.get_current_stream().ptr)
    return out.get()


def _term(kind, labels, rng, scale=1.0):
    """(kind, float32 values) of a random compatibility: Potts, diagonal or matrix."""
    if kind == 0:
        return kind, np.array([scale * rng.uniform(1, 5)], dtype=np.float32)
    shape = (labels,) if kind == 1 else (labels, labels)
    return kind, (scale * rng.uniform(-2, 0.5, shape)).astype(np.float32)


def _check_crf(cp, images, spatial, unary, gaussian, bilateral, normalization, iterations):
    cpu = _cpu_crf(images, spatial, unary, gaussian, bilateral, normalization, iterations)
    gpu = _gpu_crf(cp, images, spatial, unary, gaussian, bilateral, normalization, iterations)
    again = _gpu_crf(cp, images, spatial, unary, gaussian, bilateral, normalization, iterations)
    assert np.array_equal(gpu.view(np.uint32), again.view(np.uint32)), "two GPU runs differ"
    assert np.abs(gpu - cpu).max() <= 1e-4, np.abs(gpu - cpu).max()
    agree = (gpu.argmax(-1) == cpu.argmax(-1)).mean()
    assert agree >= 0.999, agree
    return gpu


def _smooth_unary(rng, batch, spatial, labels, sharpness=3.0):
    """Energies -log p of spatially smooth random label maps with noise."""
    scores = ndimage.gaussian_filter(rng.random((batch, *spatial, labels)), (0, *([2] * len(spatial)), 0))
    scores = sharpness * (scores - scores.mean()) / scores.std() + 0.5 * rng.standard_normal(scores.shape)
    p = np.exp(scores - scores.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return (-np.log(np.clip(p, 1e-5, 1))).reshape(batch, -1, labels).astype(np.float32)


@pytest.mark.parametrize("labels", [2, 21])
@pytest.mark.parametrize("normalization", [0, 1, 2, 3])
@pytest.mark.parametrize("kinds", [(0, 0), (1, 2), (2, 0)])
def test_dense_crf_random_equal_cpu(cp, rng, labels, normalization, kinds):
    batch, spatial, channels = 3, (37, 50), 3
    images = (255 * rng.random((batch, np.prod(spatial), channels))).astype(np.float32)
    images = ndimage.gaussian_filter(images.reshape(batch, *spatial, channels), (0, 1.5, 1.5, 0))
    images = np.ascontiguousarray(images.reshape(batch, -1, channels), dtype=np.float32)
    unary = _smooth_unary(rng, batch, spatial, labels)
    scale = 0.05 if normalization == 0 else 1.0  # unnormalized kernels sum many points
    gaussian = ([3.0, 2.0], None, *_term(kinds[0], labels, rng, scale))
    bilateral = ([40.0, 30.0], [13.0, 10.0, 20.0], *_term(kinds[1], labels, rng, scale))
    for g, b in ((gaussian, bilateral), (gaussian, None), (None, bilateral)):
        _check_crf(cp, images, spatial, unary, g, b, normalization, 5)


@pytest.mark.parametrize("labels", [2, 21])
def test_dense_crf_astronaut_equal_cpu(cp, rng, labels):
    skimage_data = pytest.importorskip("skimage.data")
    transform = pytest.importorskip("skimage.transform")
    image = transform.resize(skimage_data.astronaut(), (96, 128), anti_aliasing=True, preserve_range=True)
    images = np.ascontiguousarray(image.reshape(1, -1, 3), dtype=np.float32)
    unary = _smooth_unary(rng, 1, (96, 128), labels, sharpness=1.5)
    potts = np.array([3.0], dtype=np.float32)
    gaussian = ([3.0, 3.0], None, 0, potts)
    bilateral = ([80.0, 80.0], [13.0, 13.0, 13.0], 0, np.array([10.0], dtype=np.float32))
    q = _check_crf(cp, images, (96, 128), unary, gaussian, bilateral, 3, 10)
    assert (q.argmax(-1) != unary.argmin(-1)).any()  # the CRF did change labels


def test_dense_crf_volume_equal_cpu(cp, rng):
    spatial, labels = (6, 19, 23), 4  # 2622 points: not a multiple of 4 (densecrf's padding point)
    vol = ndimage.gaussian_filter(rng.random((1, *spatial, 2)), (0, 1, 2, 2, 0))
    images = np.ascontiguousarray((255 * vol).reshape(1, -1, 2), dtype=np.float32)
    unary = _smooth_unary(rng, 1, spatial, labels)
    gaussian = ([2.0, 2.0, 1.0], None, 0, np.array([3.0], dtype=np.float32))
    bilateral = ([20.0, 20.0, 5.0], [10.0, 15.0], 1, np.full(labels, -5.0, dtype=np.float32))
    for normalization in (1, 3):
        _check_crf(cp, images, spatial, unary, gaussian, bilateral, normalization, 5)


def test_dense_crf_sec_batch_equal_cpu(cp, rng):
    """The SEC case: 32 images of 41x41, 21 labels, 10 iterations, one launch sequence."""
    batch, spatial, labels = 32, (41, 41), 21
    images = ndimage.gaussian_filter(255 * rng.random((batch, *spatial, 3)), (0, 2, 2, 0))
    images = np.ascontiguousarray(images.reshape(batch, -1, 3), dtype=np.float32)
    unary = _smooth_unary(rng, batch, spatial, labels)
    gaussian = ([3.0, 3.0], None, 0, np.array([3.0], dtype=np.float32))
    bilateral = ([80.0, 80.0], [13.0, 13.0, 13.0], 0, np.array([10.0], dtype=np.float32))
    _check_crf(cp, images, spatial, unary, gaussian, bilateral, 3, 10)
    # One image alone gives the same bits as inside the batch (images never mix).
    alone = _gpu_crf(cp, images[5:6], spatial, unary[5:6], gaussian, bilateral, 3, 10)
    together = _gpu_crf(cp, images, spatial, unary, gaussian, bilateral, 3, 10)
    np.testing.assert_array_equal(alone[0], together[5])


def test_dense_crf_gpu_reports_bad_input(cp, rng):
    images = rng.random((1, 64, 3)).astype(np.float32)
    images[0, 5, 1] = np.nan
    unary = rng.random((1, 64, 2)).astype(np.float32)
    bilateral = ([5.0, 5.0], [10.0, 10.0, 10.0], 0, np.array([1.0], dtype=np.float32))
    with pytest.raises(ValueError, match="finite"):
        _gpu_crf(cp, images, (8, 8), unary, None, bilateral, 3, 2)
    bad = ([5.0, 5.0], [10.0, 10.0, 10.0], 1, np.ones(3, dtype=np.float32))  # 3 values for 2 labels
    with pytest.raises(ValueError, match="compat"):
        _gpu_crf(cp, np.zeros((1, 64, 3), np.float32), (8, 8), unary, None, bad, 3, 2)


def test_dense_crf_public_api_on_gpu(cp, rng):
    """weaksup.dense_crf on CuPy arrays (the binding above) agrees with its host path."""
    images = (255 * ndimage.gaussian_filter(rng.random((2, 41, 41, 3)), (0, 2, 2, 0))).astype(np.uint8)
    probs = rng.dirichlet(np.ones(5), size=(2, 41, 41)).astype(np.float32)
    host = weaksup.dense_crf(images, probs)
    dev = weaksup.dense_crf(cp.asarray(images), cp.asarray(probs))
    assert isinstance(dev, cp.ndarray)
    assert np.abs(dev.get() - host).max() <= 1e-4



# ---- label-model kernels: weaksup._cuda's bindings against weaksup._core on the CPU ----


def _votes(rng, n, m, k, coverage=0.3):
    """(n, m) int64 labels: noisy sources voting on a hidden class, -1 where they abstain."""
    truth = rng.integers(0, k, n)
    right = rng.random((n, m)) < 0.7
    labels = np.where(right, truth[:, None], rng.integers(0, k, (n, m)))
    return np.where(rng.random((n, m)) < coverage, labels, -1)


def _device_layouts(cp, labels, dtype):
    """The matrix on the device C-ordered, Fortran-ordered and as a strided view of a bigger
    array whose gaps hold invalid labels (-2)."""
    n, m = labels.shape
    base = cp.asarray(labels.astype(dtype))
    big = cp.full((2 * n, 3 * m), -2, dtype=dtype)
    big[::2, ::3] = base
    return {"c": base, "f": cp.asfortranarray(base), "strided": big[::2, ::3]}


def _gpu_label_model(cp, L, k, weights, bias, empty):
    """The kernels on device matrix L (any strides); outputs start as NaN / -7."""
    from weaksup import _cuda

    n, m = L.shape
    item = L.itemsize
    shape = (L.data.ptr, n, m, L.strides[0] // item, L.strides[1] // item, k, item)
    w, b, e = cp.asarray(weights), cp.asarray(bias), cp.asarray(empty)
    stream = cp.cuda.get_current_stream().ptr
    out = {
        "check": cp.full(3, -7, dtype=cp.int64),
        "vote_class": cp.full((m * (k + 1), k), cp.nan),
        "class_total": cp.full(k, cp.nan),
        "stats_ll": cp.full(1, cp.nan),
        "majority_votes": cp.full((m * (k + 1), k), cp.nan),
        "majority_total": cp.full(k, cp.nan),
        "marginal": cp.full(k, cp.nan),
        "hessian": cp.full((k, k), cp.nan),
        "marginal_ll": cp.full(1, cp.nan),
        "scores": cp.full((n, k), cp.nan),
        "posteriors": cp.full((n, k), cp.nan),
    }
    _cuda.label_model_check(*shape, out["check"].data.ptr, stream)
    _cuda.label_model_statistics(*shape, w.data.ptr, b.data.ptr, out["vote_class"].data.ptr,
                                 out["class_total"].data.ptr, out["stats_ll"].data.ptr, stream)
    _cuda.label_model_majority_statistics(*shape, e.data.ptr, out["majority_votes"].data.ptr,
                                          out["majority_total"].data.ptr, stream)
    _cuda.label_model_marginal(*shape, w.data.ptr, b.data.ptr, out["marginal"].data.ptr, out["hessian"].data.ptr,
                               out["marginal_ll"].data.ptr, stream)
    _cuda.label_model_scores(*shape, w.data.ptr, b.data.ptr, False, out["scores"].data.ptr, stream)
    _cuda.label_model_scores(*shape, w.data.ptr, b.data.ptr, True, out["posteriors"].data.ptr, stream)
    return {name: value.get() for name, value in out.items()}


def _cpu_label_model(labels, k, weights, bias, empty):
    from weaksup import _core

    vp = _core.collapse_dense(np.ascontiguousarray(labels), k, 4)
    vote_class, class_total, ll = _core.em_statistics(vp, weights, bias, 4)
    majority_votes, majority_total = _core.majority_statistics(vp, empty, 4)
    marginal, hessian, mll = _core.class_marginal(vp, weights, bias, 4)
    rows = np.asarray(vp.row_pattern)
    return {
        "vote_class": vote_class, "class_total": class_total, "stats_ll": np.array([ll]),
        "majority_votes": majority_votes, "majority_total": majority_total,
        "marginal": marginal, "hessian": hessian, "marginal_ll": np.array([mll]),
        "scores": _core.pattern_scores(vp, weights, bias, False, 4)[rows],
        "posteriors": _core.pattern_scores(vp, weights, bias, True, 4)[rows],
    }


# k = 70: the vote table no longer fits in shared memory; k = 300: neither does a tile.
@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64])
@pytest.mark.parametrize(("n", "m", "k"), [(5000, 12, 2), (70000, 30, 10), (3000, 6, 70), (700, 3, 300), (3, 0, 4)])
def test_label_model_kernels_equal_cpu(cp, rng, dtype, n, m, k):
    if k > np.iinfo(dtype).max:
        pytest.skip(f"{k} classes do not fit {np.dtype(dtype).name}")
    labels = _votes(rng, n, m, k)
    weights = rng.uniform(-2, 2, (m * (k + 1), k))
    bias = rng.uniform(-1, 1, k)
    empty = rng.dirichlet(np.ones(k))
    want = _cpu_label_model(labels.astype(dtype), k, weights, bias, empty)
    for layout, L in _device_layouts(cp, labels, dtype).items():
        got = _gpu_label_model(cp, L, k, weights, bias, empty)
        np.testing.assert_array_equal(got["check"], [-1, 0, 0], err_msg=layout)
        for name, value in want.items():
            # Sums over rows: the order differs, and the GPU fuses q - q * q (Hessian
            # diagonal) into an FMA, so allow rounding that grows with the row count.
            atol = 1e-12 if name in ("scores", "posteriors") else 1e-13 * (n + 1)
            np.testing.assert_allclose(got[name], value, rtol=1e-10, atol=atol, err_msg=f"{layout}: {name}")
        for name in ("vote_class", "majority_votes"):
            assert (got[name].reshape(m, k + 1, k)[:, 0] == 0).all(), f"{layout}: {name} of abstain codes"


def test_label_model_kernels_are_deterministic(cp, rng):
    n, m, k = 300_000, 40, 10
    L = cp.asarray(_votes(rng, n, m, k).astype(np.int8))
    weights, bias, empty = rng.uniform(-2, 2, (m * (k + 1), k)), rng.uniform(-1, 1, k), np.full(k, 1 / k)
    first = _gpu_label_model(cp, L, k, weights, bias, empty)
    for _ in range(3):
        again = _gpu_label_model(cp, L, k, weights, bias, empty)
        for name, value in first.items():
            assert value.tobytes() == again[name].tobytes(), name


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64])
def test_label_model_check_finds_first_bad_label(cp, rng, dtype):
    from weaksup import _cuda

    n, m, k = 20000, 17, 5
    labels = _votes(rng, n, m, k)
    for bad in ([(12345, 3, k)], [(19999, 16, -2), (500, 9, 7), (500, 2, k + 1)], [(0, 0, -5)]):
        planted = labels.copy()
        for i, j, v in bad:
            planted[i, j] = v
        first = min(bad, key=lambda t: (t[0], t[1]))
        for L in _device_layouts(cp, planted, dtype).values():
            out = cp.full(3, -7, dtype=cp.int64)
            _cuda.label_model_check(L.data.ptr, n, m, L.strides[0] // L.itemsize, L.strides[1] // L.itemsize, k,
                                    L.itemsize, out.data.ptr, cp.cuda.get_current_stream().ptr)
            np.testing.assert_array_equal(out.get(), first)


@pytest.mark.parametrize("confusion,abstain", [("symmetric", "observed"), ("full", "ignored")])
def test_label_model_on_gpu_equals_cpu(cp, rng, confusion, abstain):
    """LabelModel end to end on a CuPy matrix (no collapsing) == on the NumPy one (collapsed)."""
    from weaksup import LabelModel

    n, m, k = 20000, 15, 4
    y = rng.integers(0, k, n)
    votes = rng.random((n, m)) < 0.4
    right = rng.random((n, m)) < 0.75
    L = np.where(votes, np.where(right, y[:, None], (y[:, None] + rng.integers(1, k, (n, m))) % k), -1).astype(np.int8)
    for balance in (None, [0.4, 0.3, 0.2, 0.1]):
        cpu = LabelModel(k, confusion=confusion, abstain=abstain, max_iter=30, tol=0.0)
        gpu = LabelModel(k, confusion=confusion, abstain=abstain, max_iter=30, tol=0.0)
        expected = cpu.fit(L, class_balance=balance).predict_proba(L)
        got = gpu.fit(cp.asarray(L), class_balance=balance).predict_proba(cp.asarray(L))
        assert isinstance(got, cp.ndarray)
        np.testing.assert_allclose(cp.asnumpy(got), expected, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(gpu.conditional_probs_, cpu.conditional_probs_, rtol=1e-8, atol=1e-12)
        np.testing.assert_array_equal(cp.asnumpy(gpu.predict(cp.asarray(L), tie_break="first")),
                                      cpu.predict(L, tie_break="first"))


def test_triplet_method_on_gpu_equals_cpu(cp, rng):
    """method="triplet" and init="triplet" on a CuPy matrix (moments from a host copy) == NumPy."""
    from weaksup import LabelModel

    n, m, k = 20000, 8, 3
    y = rng.integers(0, k, n)
    votes, right = rng.random((n, m)) < 0.4, rng.random((n, m)) < 0.75
    L = np.where(votes, np.where(right, y[:, None], (y[:, None] + rng.integers(1, k, (n, m))) % k), -1).astype(np.int8)
    for options in (dict(method="triplet"), dict(init="triplet", max_iter=10, tol=0.0)):
        cpu, gpu = LabelModel(k, **options), LabelModel(k, **options)
        expected = cpu.fit(L).predict_proba(L)
        got = gpu.fit(cp.asarray(L)).predict_proba(cp.asarray(L))
        assert isinstance(got, cp.ndarray)
        np.testing.assert_allclose(cp.asnumpy(got), expected, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(gpu.conditional_probs_, cpu.conditional_probs_, rtol=1e-8, atol=1e-12)


def test_label_model_gpu_bad_labels(cp):
    from weaksup import LabelModel

    L = cp.zeros((100, 4), dtype=cp.int8)
    L[57, 2] = 9
    with pytest.raises(ValueError, match=r"L\[57, 2\] = 9"):
        LabelModel(3).fit(L)
