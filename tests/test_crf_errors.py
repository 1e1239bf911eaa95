"""Dense CRF: bad input gets a clear ValueError / TypeError naming the argument; inputs are
never modified; no crash; no leak."""

import resource
import sys

import numpy as np
import pytest

import weaksup
from weaksup.bench import crf as workloads
import weaksup.compat.pydensecrf.densecrf as wcrf
from conftest import assert_no_crash


def raises(exc, *words):
    return pytest.raises(exc, match="(?s)" + "".join(f"(?=.*{w})" for w in words))


@pytest.fixture
def scene():
    img = workloads.synthetic_image(12, 10, seed=1)
    return img, workloads.soft_segmentation(img, 3, seed=1)


def test_dense_crf_errors(scene):
    img, probs = scene
    with raises(ValueError, "images", "probs", "shape"):
        weaksup.dense_crf(img, probs[:-1])
    with raises(ValueError, "probs", "dimensions"):
        weaksup.dense_crf(img, probs[..., 0])
    with raises(ValueError, "probs", "NaN"):
        weaksup.dense_crf(img, np.where(probs > 0.5, np.nan, probs))
    with raises(ValueError, "probs", "NaN or infinity"):
        weaksup.dense_crf(img, np.where(probs > 0.5, np.inf, probs))
    with raises(ValueError, "probs", "negative"):
        weaksup.dense_crf(img, probs - 0.5)
    with raises(ValueError, "images", "NaN"):
        weaksup.dense_crf(np.where(img > 100, np.nan, img.astype(float)), probs)
    with raises(ValueError, "at least 2 labels"):
        weaksup.dense_crf(img, probs[..., :1])
    with raises(ValueError, "bilateral_sigma", "positive"):
        weaksup.dense_crf(img, probs, bilateral_sigma=0)
    with raises(ValueError, "gaussian_sigma", "positive"):
        weaksup.dense_crf(img, probs, gaussian_sigma=-3)
    with raises(ValueError, "color_sigma"):
        weaksup.dense_crf(img, probs, color_sigma=(1, 2))
    with raises(ValueError, "iterations", "at least 1"):
        weaksup.dense_crf(img, probs, iterations=0)
    with raises(TypeError, "iterations"):
        weaksup.dense_crf(img, probs, iterations=2.5)
    with raises(ValueError, "empty"):
        weaksup.dense_crf(img[:0], probs[:0])
    with raises(ValueError, "bilateral_compat", r"\(3, 3\)"):
        weaksup.dense_crf(img, probs, bilateral_compat=np.ones((3, 4)))
    with raises(ValueError, "gaussian_compat", r"\(3,\)"):
        weaksup.dense_crf(img, probs, gaussian_compat=np.ones(5))
    with raises(ValueError, "exactly one of probs"):
        weaksup.dense_crf(img, probs, unary=probs)
    with raises(ValueError, "normalization"):
        weaksup.dense_crf(img, probs, normalization="sideways")
    with raises(ValueError, "images", "spatial_dims=3"):
        weaksup.dense_crf(img[..., 0], probs[..., 0])
    with raises(TypeError, "images"):
        weaksup.dense_crf(img.astype(complex), probs)
    with raises(ValueError, "label_axis"):
        weaksup.dense_crf(img, probs, label_axis=5)
    with raises(ValueError, "scale_factor"):
        weaksup.crf_inference(img, probs, scale_factor=0)


class FakeCudaArray:
    __cuda_array_interface__ = {"shape": (4, 4, 3), "typestr": "<f4", "data": (0, False), "version": 3}


def test_gpu_arrays_without_cuda(scene):
    if weaksup.cuda_available():
        pytest.skip("CUDA is available here")
    img, probs = scene
    with raises(TypeError, "CUDA"):
        weaksup.dense_crf(FakeCudaArray(), FakeCudaArray())


def test_general_model_errors():
    with raises(ValueError, "n_labels"):
        weaksup.DenseCRF(10, 1)
    with raises(ValueError, "n_points"):
        weaksup.DenseCRF(0, 3)
    model = weaksup.DenseCRF(6, 3)
    with raises(ValueError, "unary"):
        model.inference(2)
    with raises(ValueError, "energies", r"\(6, 3\)"):
        model.set_unary_energy(np.zeros((3, 6)))
    with raises(ValueError, "features", r"\(6, d\)"):
        model.add_pairwise_energy(np.zeros((5, 2)))
    with raises(ValueError, "features", "NaN"):
        model.add_pairwise_energy(np.full((6, 2), np.nan))
    with raises(ValueError, "compat"):
        model.add_pairwise_energy(np.zeros((6, 2)), compat=np.ones((2, 2)))
    model.set_unary_energy(np.zeros((6, 3)))
    with raises(TypeError, "q"):
        model.step_inference(np.zeros((6, 3)))  # float64


def test_compat_layer_errors():
    d = wcrf.DenseCRF2D(4, 3, 2)
    with raises(ValueError, "Bad shape for unary energy"):
        d.setUnaryEnergy(np.zeros((2, 11), np.float32))
    with raises(ValueError, "Bad shape for pairwise bilateral"):
        d.addPairwiseBilateral(sxy=3, srgb=3, rgbim=np.zeros((4, 3, 3), np.uint8), compat=3)
    with raises(ValueError, "only works for RGB"):
        d.addPairwiseBilateral(sxy=3, srgb=3, rgbim=np.zeros((3, 4, 2), np.uint8), compat=3)
    with raises(ValueError, "kernel"):
        d.addPairwiseGaussian(sxy=3, compat=3, kernel=7)


def test_inputs_never_modified(scene):
    img, probs = scene
    img0, probs0 = img.copy(), probs.copy()
    weaksup.dense_crf(img, probs, iterations=2)
    weaksup.dense_crf(img, unary=-np.log(probs), iterations=2)
    np.testing.assert_array_equal(img, img0)
    np.testing.assert_array_equal(probs, probs0)


def test_no_crash_under_faulthandler():
    assert_no_crash(
        "import numpy as np, weaksup\n"
        "img = np.zeros((5, 6, 3), np.uint8); p = np.full((5, 6, 2), 0.5, np.float32)",
        [
            "weaksup.dense_crf(img, p[:4])",
            "weaksup.dense_crf(img[:0], p[:0])",
            "weaksup.dense_crf(img, np.full_like(p, np.nan))",
            "weaksup.dense_crf(img, p, gaussian_sigma=0)",
            "weaksup.dense_crf(img, p, iterations=0)",
            "weaksup.dense_crf(img, p, bilateral_compat=np.ones((3, 3)))",
            "weaksup.DenseCRF(4, 2).add_pairwise_energy(np.zeros((4, 65)))",
        ],
        # degenerate but valid: one pixel, one-pixel-wide images, huge and tiny sigmas
        """
        weaksup.dense_crf(img[:1, :1], p[:1, :1], iterations=1)
        weaksup.dense_crf(img[:, :1], p[:, :1], iterations=1, gaussian_sigma=1e-6, bilateral_sigma=1e6)
        """,
    )


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_no_leak_over_1000_calls():
    img = workloads.synthetic_image(24, 24, seed=2)
    probs = workloads.soft_segmentation(img, 5, seed=2)
    for _ in range(50):  # warm up allocator pools
        weaksup.dense_crf(img, probs, iterations=2, threads=1)
    before = _rss_mb()
    for _ in range(1000):
        weaksup.dense_crf(img, probs, iterations=2, threads=1)
    assert _rss_mb() - before < 2.0  # a leak of even 2 KB per call would show 2 MB
