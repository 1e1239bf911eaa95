"""Dense CRF against pydensecrf2 (Krähenbühl's densecrf, PyPI), which no one here wrote.

Inputs: scikit-image's sample photos, and soft segmentations made from them by
``weaksup.bench.crf.soft_segmentation``: a softmax over colour distances to L prototype
colours picked at random pixels, plus noise (what a weak pixel classifier gives). Bar
from the issue: >= 99.9% identical argmax labels and max |dQ| <= 1e-3.
"""

import numpy as np
import pytest

import weaksup
from weaksup.bench import crf as workloads

dcrf = pytest.importorskip("pydensecrf.densecrf")
putils = pytest.importorskip("pydensecrf.utils")
skdata = pytest.importorskip("skimage.data")

import weaksup.compat.pydensecrf.densecrf as wcrf  # noqa: E402
from weaksup.compat.pydensecrf import utils as wutils  # noqa: E402

DEEPLAB = dict(gaussian_sigma=3, gaussian_compat=3, bilateral_sigma=80, color_sigma=13, bilateral_compat=10)


def agree(ours, peer, tol=1e-3, fraction=0.999):
    ours, peer = np.asarray(ours), np.asarray(peer)
    assert ours.shape == peer.shape
    assert np.abs(ours - peer).max() <= tol
    assert (ours.argmax(0) == peer.argmax(0)).mean() >= fraction


def peer_unary(probs_hwl):
    return np.ascontiguousarray(putils.unary_from_softmax(np.moveaxis(probs_hwl, -1, 0)))


@pytest.fixture(scope="module", params=["astronaut", "coffee", "chelsea"])
def photo(request):
    return getattr(skdata, request.param)()


@pytest.mark.parametrize("labels", [2, 21])
def test_dense_crf_matches_pydensecrf_on_photos(photo, labels):
    h, w = photo.shape[:2]
    probs = workloads.soft_segmentation(photo, labels, seed=labels)
    d = dcrf.DenseCRF2D(w, h, labels)
    d.setUnaryEnergy(peer_unary(probs))
    d.addPairwiseGaussian(sxy=3, compat=3)
    d.addPairwiseBilateral(sxy=80, srgb=13, rgbim=photo, compat=10)
    q, t1, t2 = d.startInference()
    done = 0
    for iterations in (1, 5, 10):
        for _ in range(iterations - done):
            d.stepInference(q, t1, t2)
        done = iterations
        ours = weaksup.dense_crf(photo, probs, iterations=iterations, **DEEPLAB)
        agree(np.moveaxis(ours, -1, 0).reshape(labels, -1), np.array(q))


def test_compat_layer_is_a_drop_in(photo):
    h, w = photo.shape[:2]
    labels = 21
    unary = peer_unary(workloads.soft_segmentation(photo, labels, seed=3))
    results = []
    for module in (dcrf, wcrf):
        d = module.DenseCRF2D(w, h, labels)
        d.setUnaryEnergy(unary)
        d.addPairwiseGaussian(sxy=(3, 3), compat=3, kernel=module.DIAG_KERNEL, normalization=module.NORMALIZE_SYMMETRIC)
        d.addPairwiseBilateral(sxy=(80, 80), srgb=(13, 13, 13), rgbim=photo, compat=10)
        q = np.array(d.inference(5))
        results.append((q, d.klDivergence(d.inference(5))))
    agree(results[1][0], results[0][0])
    assert results[1][1] == pytest.approx(results[0][1], rel=1e-3)
    # ... and equals the native API.
    native = weaksup.dense_crf(photo, unary=np.moveaxis(unary.reshape(labels, h, w), 0, -1), iterations=5, **DEEPLAB)
    np.testing.assert_allclose(np.moveaxis(native, -1, 0).reshape(labels, -1), results[1][0], atol=1e-5)


def test_compat_accepts_what_pydensecrf_rejects():
    img = np.ascontiguousarray(skdata.chelsea()[::4, ::4])
    h, w = img.shape[:2]
    unary = peer_unary(workloads.soft_segmentation(img, 3, seed=1))
    d = dcrf.DenseCRF2D(w, h, 3)
    d.setUnaryEnergy(unary)
    d.addPairwiseBilateral(sxy=20, srgb=10, rgbim=img, compat=5)
    expected = np.array(d.inference(3))
    ours = wcrf.DenseCRF2D(w, h, 3)
    ours.setUnaryEnergy(np.asfortranarray(unary.astype(np.float64)))  # float64, not C-contiguous
    ours.addPairwiseBilateral(sxy=20, srgb=10, rgbim=img.astype(np.float32)[:, :, :], compat=5)
    agree(ours.inference(3), expected, tol=1e-4, fraction=1.0)


@pytest.mark.parametrize("normalization", [0, 1, 2, 3])
@pytest.mark.parametrize("compat", ["potts", "diagonal", "matrix"])
def test_general_model_custom_features(normalization, compat, rng):
    """General DenseCRF with custom features, every normalization and compatibility kind."""
    img = skdata.coffee()[::3, ::3]
    h, w = img.shape[:2]
    labels = 5
    unary = peer_unary(workloads.soft_segmentation(img, labels, seed=2))
    feats = wutils.create_pairwise_bilateral((30, 30), (20, 20, 20), img, chdim=2)  # (5, N), y first
    feats = np.ascontiguousarray(np.concatenate([feats, rng.normal(0, 0.5, (2, feats.shape[1]))]).astype(np.float32))
    values = {"potts": 4.0, "diagonal": -rng.uniform(1, 4, labels).astype(np.float32),
              "matrix": rng.uniform(0, 3, (labels, labels)).astype(np.float32)}[compat]
    if normalization == 0:
        # Unnormalized messages sum over hundreds of points: unit weights would saturate
        # every softmax, where float rounding (in either library) decides the result.
        values = np.float32(0.01) * values
    results = []
    for module in (dcrf, wcrf):
        d = module.DenseCRF(h * w, labels)
        d.setUnaryEnergy(unary)
        d.addPairwiseEnergy(feats, compat=values, normalization=normalization)
        d.addPairwiseEnergy(np.ascontiguousarray(wutils.create_pairwise_gaussian((3, 3), (h, w))), compat=2.0)
        q = d.inference(5)
        results.append((np.array(q), d.klDivergence(q)))
    agree(results[1][0], results[0][0])
    assert results[1][1] == pytest.approx(results[0][1], rel=1e-3)


@pytest.mark.parametrize("normalization", [0, 1, 2, 3])
@pytest.mark.parametrize("compat", ["potts", "matrix"])
def test_points_alone_in_the_lattice(normalization, compat, rng):
    """Points whose simplices touch no other point's leave the lattice and keep a self
    weight (weaksup's shortcut for small sigmas, e.g. SEC's); mixed here with a cluster
    of points that share vertices, against pydensecrf, which blurs them all."""
    from weaksup import _core

    labels, n = 4, 400
    spread = rng.uniform(0, 300, (2, n // 2))  # far apart: alone
    cluster = rng.normal(150, 0.7, (2, n - n // 2))  # sharing simplices
    feats = np.ascontiguousarray(np.concatenate([spread, cluster], 1).astype(np.float32))
    vertices = _core.PairwiseKernel(np.ascontiguousarray(feats.T), normalization, 1).vertices
    assert 0 < vertices < 3 * (n // 2)  # the shortcut ran, and not for every point
    unary = peer_unary(rng.dirichlet(np.ones(labels), (1, n)).astype(np.float32))
    values = 3.0 if compat == "potts" else rng.uniform(0, 3, (labels, labels)).astype(np.float32)
    results = []
    for module in (dcrf, wcrf):
        d = module.DenseCRF(n, labels)
        d.setUnaryEnergy(unary)
        d.addPairwiseEnergy(feats, compat=values, normalization=normalization)
        q = d.inference(5)
        results.append((np.array(q), d.klDivergence(q)))
    agree(results[1][0], results[0][0])
    assert results[1][1] == pytest.approx(results[0][1], rel=1e-3)


def test_volume_matches_pydensecrf():
    volume = workloads.synthetic_volume(12, 24, 20, seed=4)
    probs = workloads.soft_segmentation(volume, 4, seed=4)
    ours = weaksup.dense_crf(volume, probs, iterations=5, spatial_dims=3, **DEEPLAB)
    peer = workloads.pydensecrf_3d(volume, probs, 5)
    agree(np.moveaxis(ours, -1, 0).reshape(4, -1), np.moveaxis(peer, -1, 0).reshape(4, -1))


def test_sec_crf_inference_matches_pydensecrf():
    images = np.stack([workloads.synthetic_image(41, 41, seed=b) for b in range(6)])
    probs = np.stack([workloads.soft_segmentation(im, 21, seed=b) for b, im in enumerate(images)])
    ours = weaksup.crf_inference(images, probs, maxiter=10, scale_factor=12.0)
    for b in range(len(images)):
        peer = workloads.pydensecrf_2d(images[b], probs[b], 10, scale=12)
        agree(np.moveaxis(ours[b], -1, 0).reshape(21, -1), np.moveaxis(peer, -1, 0).reshape(21, -1))
        single = weaksup.crf_inference(images[b], probs[b], maxiter=10, scale_factor=12.0)
        np.testing.assert_array_equal(single, ours[b])  # a batch is a loop, bit for bit


def test_step_inference_and_kl():
    img = skdata.astronaut()[::4, ::4]
    h, w = img.shape[:2]
    probs = workloads.soft_segmentation(img, 4, seed=5).reshape(-1, 4)
    model = weaksup.DenseCRF(h * w, 4, threads=2)
    model.set_probabilities(probs)
    ys, xs = np.mgrid[0:h, 0:w]
    model.add_pairwise_energy(np.stack([xs.ravel() / 3, ys.ravel() / 3], 1), compat=3)
    q = model.start_inference()
    kl = [model.kl_divergence(q)]
    for _ in range(4):
        model.step_inference(q)
        kl.append(model.kl_divergence(q))
    np.testing.assert_allclose(q, model.inference(4), atol=1e-6)
    assert kl[-1] < kl[0]  # mean field lowers the KL divergence


def test_deterministic_across_threads_and_runs():
    img = skdata.coffee()
    probs = workloads.soft_segmentation(img, 21, seed=6)
    runs = [weaksup.dense_crf(img, probs, iterations=3, threads=t) for t in (1, 2, 3, 1)]
    for r in runs[1:]:
        np.testing.assert_array_equal(r, runs[0])


def test_layouts_and_labels():
    img = skdata.chelsea()[::5, ::5]
    probs = workloads.soft_segmentation(img, 3, seed=7)
    q = weaksup.dense_crf(img, probs, iterations=2)
    assert q.shape == probs.shape and q.dtype == np.float32
    np.testing.assert_allclose(q.sum(-1), 1, atol=1e-5)
    chw = weaksup.dense_crf(img, np.moveaxis(probs, -1, 0), iterations=2, label_axis=0)
    np.testing.assert_array_equal(chw, np.moveaxis(q, -1, 0))
    batch = weaksup.dense_crf(img[None], np.moveaxis(probs, -1, 0)[None], iterations=2, label_axis=1)
    np.testing.assert_array_equal(batch[0], chw)
    np.testing.assert_array_equal(weaksup.crf_labels(q), q.argmax(-1))
    no_bilateral = weaksup.dense_crf(img, probs, iterations=2, bilateral_compat=None)
    assert not np.array_equal(no_bilateral, q)


def test_strided_probabilities_read_in_place():
    """Probabilities in any strides (a label-first view into a larger buffer, negative
    strides) give exactly the result of a contiguous copy, and are left unchanged."""
    img = skdata.astronaut()[::8, ::8]
    probs = workloads.soft_segmentation(img, 5, seed=9)
    q = weaksup.dense_crf(img, np.ascontiguousarray(probs), iterations=3)
    buffer = np.zeros((3, 5) + tuple(2 * n for n in probs.shape[:2]), np.float32)
    buffer[1, :, ::2, ::2] = np.moveaxis(probs, -1, 0)
    label_first = buffer[1:2, :, ::2, ::2]  # (1, L, H, W), every other pixel
    kept = buffer.copy()
    np.testing.assert_array_equal(weaksup.dense_crf(img[None], label_first, iterations=3, label_axis=1)[0],
                                  np.moveaxis(q, -1, 0))
    np.testing.assert_array_equal(buffer, kept)
    reversed_axes = np.ascontiguousarray(probs[::-1, :, ::-1])[::-1, :, ::-1]  # same values, negative strides
    assert reversed_axes.strides[0] < 0 and reversed_axes.strides[2] < 0
    np.testing.assert_array_equal(weaksup.dense_crf(img, reversed_axes, iterations=3), q)
    energies = -np.log(np.maximum(probs, 1e-5)).astype(np.float64)[:, ::-1][:, ::-1]  # float64: converted
    np.testing.assert_allclose(weaksup.dense_crf(img, unary=energies, iterations=3), q, atol=1e-5)


def test_wide_lattice_keys():
    """Far-apart points never share a simplex: with symmetric normalization each point's
    message is its own marginal, so Q follows q <- softmax(-U + w q) per point. densecrf's
    int16 keys would wrap at these coordinates (|key| ~ 1e5) and merge distant points."""
    rng = np.random.default_rng(8)
    n, labels, w = 500, 3, 2.0
    unary = rng.uniform(0, 3, (n, labels)).astype(np.float32)
    feats = np.zeros((n, 2), np.float32)
    feats[:, 0] = np.arange(n) * 61.0 + 20000.0
    feats[:, 1] = -7000.0
    model = weaksup.DenseCRF(n, labels)
    model.set_unary_energy(unary)
    model.add_pairwise_energy(feats, compat=w)
    ours = model.inference(5)
    q = np.exp(-unary)
    q /= q.sum(1, keepdims=True)
    for _ in range(5):
        e = -unary + w * q
        q = np.exp(e - e.max(1, keepdims=True))
        q /= q.sum(1, keepdims=True)
    np.testing.assert_allclose(ours, q, atol=1e-5)


def test_hypothesis_random_images_match_pydensecrf():
    hyp = pytest.importorskip("hypothesis")
    st = pytest.importorskip("hypothesis.strategies")

    @hyp.given(
        h=st.integers(1, 24), w=st.integers(2, 24), labels=st.integers(2, 6), seed=st.integers(0, 10**6),
        sxy=st.floats(0.5, 50), srgb=st.floats(1, 60), iterations=st.integers(1, 6),
    )
    def check(h, w, labels, seed, sxy, srgb, iterations):
        rng = np.random.default_rng(seed)
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        probs = rng.dirichlet(np.ones(labels), (h, w)).astype(np.float32)
        ours = weaksup.dense_crf(img, probs, iterations=iterations, gaussian_sigma=sxy, bilateral_sigma=sxy,
                                 color_sigma=srgb)
        d = dcrf.DenseCRF2D(w, h, labels)
        d.setUnaryEnergy(peer_unary(probs))
        d.addPairwiseGaussian(sxy=np.float32(sxy), compat=3)
        d.addPairwiseBilateral(sxy=np.float32(sxy), srgb=np.float32(srgb), rgbim=img, compat=10)
        peer = np.array(d.inference(iterations))
        assert np.abs(np.moveaxis(ours, -1, 0).reshape(labels, -1) - peer).max() <= 1e-3

    check()


def test_utils_match_pydensecrf(rng):
    labels = rng.integers(0, 4, (7, 9))
    np.testing.assert_array_equal(wutils.unary_from_labels(labels, 4, 0.7), putils.unary_from_labels(labels, 4, 0.7))
    np.testing.assert_array_equal(wutils.unary_from_labels(labels, 4, 0.7, zero_unsure=False),
                                  putils.unary_from_labels(labels, 4, 0.7, zero_unsure=False))
    sm = rng.dirichlet(np.ones(3), (5, 6)).transpose(2, 0, 1)
    np.testing.assert_array_equal(wutils.unary_from_softmax(sm, scale=0.8), putils.unary_from_softmax(sm, scale=0.8))
    np.testing.assert_array_equal(wutils.create_pairwise_gaussian((2, 3), (5, 6)),
                                  putils.create_pairwise_gaussian((2, 3), (5, 6)))
    img = rng.integers(0, 255, (5, 6, 3)).astype(np.uint8)
    np.testing.assert_array_equal(wutils.create_pairwise_bilateral((2, 3), (4, 5, 6), img, chdim=2),
                                  putils.create_pairwise_bilateral((2, 3), (4, 5, 6), img, chdim=2))


def test_baseline_and_avx2_kernels_agree(tmp_path):
    """The 4-wide baseline kernels (any CPU) and the 8-wide AVX2 ones (picked at run time
    where the CPU has them) give the same marginals to float rounding."""
    import os
    import subprocess
    import sys

    code = (
        "import numpy as np, sys, weaksup\n"
        "from weaksup.bench import crf\n"
        "img = crf.synthetic_image(40, 56, seed=3); p = crf.soft_segmentation(img, 21, seed=3)\n"
        "np.save(sys.argv[1], weaksup.dense_crf(img, p, iterations=5))\n"
    )
    results = []
    for disable in ("1", "0"):
        out = tmp_path / f"q{disable}.npy"
        env = dict(os.environ, WEAKSUP_DISABLE_AVX2=disable)
        subprocess.run([sys.executable, "-c", code, str(out)], check=True, env=env, timeout=120)
        results.append(np.load(out))
    np.testing.assert_allclose(results[0], results[1], atol=1e-4)  # FMA vs mul + add roundings
