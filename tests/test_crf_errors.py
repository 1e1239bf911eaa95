"""Dense CRF: bad input gets a clear ValueError / TypeError naming the argument; inputs are
never modified; no crash; no leak."""

import resource
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import weaksup
from weaksup.bench import crf as workloads
import weaksup.compat.pydensecrf.densecrf as wcrf
from conftest import assert_no_crash, not_under_sanitizer


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
    with raises(ValueError, "2 to 1024 labels"):
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
        weaksup.dense_crf(img[:, :1], p[:, :1], iterations=1, gaussian_sigma=1e-4, bilateral_sigma=1e6)
        """,
    )


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
@not_under_sanitizer("its quarantine keeps freed memory resident, so the RSS grows without a leak")
def test_no_leak_over_1000_calls():
    img = workloads.synthetic_image(24, 24, seed=2)
    probs = workloads.soft_segmentation(img, 5, seed=2)
    for _ in range(50):  # warm up allocator pools
        weaksup.dense_crf(img, probs, iterations=2, threads=1)
    before = _rss_mb()
    for _ in range(1000):
        weaksup.dense_crf(img, probs, iterations=2, threads=1)
    assert _rss_mb() - before < 2.0  # a leak of even 2 KB per call would show 2 MB


# ---- issue 11's findings: each of these crashed, read past a buffer or answered NaN


GUARDED = """
import ctypes, mmap, numpy as np, weaksup
PAGE = mmap.PAGESIZE
libc = ctypes.CDLL(None, use_errno=True)
def guarded(shape):
    # A float32 array that ends exactly where an inaccessible page begins: reading one
    # byte past it faults.
    nbytes = int(np.prod(shape)) * 4
    pages = -(-nbytes // PAGE) + 1
    region = mmap.mmap(-1, pages * PAGE)
    base = ctypes.addressof(ctypes.c_char.from_buffer(region))
    assert libc.mprotect(ctypes.c_void_p(base + (pages - 1) * PAGE), PAGE, 0) == 0
    out = np.frombuffer(region, np.float32, int(np.prod(shape)), (pages - 1) * PAGE - nbytes).reshape(shape)
    return out, region
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mprotect via libc")
def test_probabilities_ending_at_a_page_boundary():
    # The 8-wide unary kernel loaded 8 floats where fewer labels remained (5-7, 13-15,
    # 21-23, ... labels): a read past the array, a SIGSEGV when a page ends there.
    assert_no_crash(GUARDED, [], """
        for labels in (5, 6, 7, 13, 15, 21, 23):
            for kind in ("probs", "unary"):
                values, region = guarded((4, 4, labels))
                values[...] = 1.0 / labels
                kwargs = {kind: values}
                q = weaksup.dense_crf(np.zeros((4, 4, 3), np.uint8), iterations=2, **kwargs)
                assert np.allclose(q, 1.0 / labels, atol=1e-5), (labels, kind)
        """)


def test_feature_values_past_the_lattice_range_are_rejected():
    # Huge scaled features overflowed the lattice's integer keys (signed overflow, then a
    # wild write); sigmas positive in float64 but 0 in float32 divided by zero.
    assert_no_crash(
        "import numpy as np, weaksup\n"
        "img = np.random.default_rng(0).integers(0, 256, (64, 64, 3)).astype(np.uint8)\n"
        "p = np.full((64, 64, 2), 0.5, np.float32)\n"
        "crf = weaksup.DenseCRF(1000, 2)",
        [
            "crf.add_pairwise_energy(np.random.default_rng(0).random((1000, 2)) * 3e7)",
            "weaksup.dense_crf(img, p, gaussian_sigma=1e-50)",
            "weaksup.dense_crf(img, p, color_sigma=1e-46)",
            "weaksup.crf_inference(img, p, color_factor=1e-50)",
            "weaksup.dense_crf(img, p, gaussian_sigma=1e-6)",
            "weaksup.dense_crf(img * 1e36, p)",
            "weaksup.dense_crf(img, p, bilateral_sigma=1e-4)",
        ],
        "crf.add_pairwise_energy(np.random.default_rng(0).random((1000, 2)) * 3e5)",
    )
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (64, 64, 3)).astype(np.uint8)
    p = np.full((64, 64, 2), 0.5, np.float32)
    with raises(ValueError, "features", "sigma"):
        weaksup.DenseCRF(1000, 2).add_pairwise_energy(rng.random((1000, 2)) * 3e7)
    with raises(ValueError, "gaussian_sigma", "float32"):
        weaksup.dense_crf(img, p, gaussian_sigma=1e-50)
    with raises(ValueError, "color_sigma", "float32"):
        weaksup.dense_crf(img, p, color_sigma=1e-46)
    with raises(ValueError, "color_factor"):
        weaksup.crf_inference(img, p, color_factor=1e-50)
    with raises(ValueError, "gaussian_sigma", "too small", r"\(64, 64\)"):
        weaksup.dense_crf(img, p, gaussian_sigma=1e-6)
    with raises(ValueError, "color_sigma", "images' values"):
        weaksup.dense_crf(img * 1e36, p)
    with raises(ValueError, "scale_factor", "too small"):
        weaksup.crf_inference(img, p, scale_factor=1e30)


def test_feature_limit_is_the_lattices():
    # Just inside the documented limit works; just outside is rejected, for several dims.
    rng = np.random.default_rng(1)
    for d in (1, 2, 5, 16, 64):
        limit = weaksup._core.max_feature(d)
        crf = weaksup.DenseCRF(50, 2)
        crf.set_unary_energy(rng.random((50, 2)))
        f = rng.uniform(-1, 1, (50, d)).astype(np.float32) * np.float32(limit)
        crf.add_pairwise_energy(f)
        assert np.isfinite(crf.inference(2)).all()
        f[7, d - 1] = np.nextafter(np.float32(limit), np.float32(np.inf))
        with raises(ValueError, "features", f"{d}-dimensional"):
            weaksup.DenseCRF(50, 2).add_pairwise_energy(f)


def test_huge_equal_energies_give_uniform_marginals():
    # Energies >= ~1e30 on every label lost to the padding lanes' -1e30 in the softmax's
    # max: every probability came out 0 / 0 = NaN.
    crf = weaksup.DenseCRF(4, 2)
    crf.set_unary_energy(np.full((4, 2), 2e30))
    np.testing.assert_array_equal(crf.inference(3), 0.5)
    crf.add_pairwise_energy(np.arange(8.0).reshape(4, 2), compat=3)
    np.testing.assert_array_equal(crf.inference(3), 0.5)
    energies = np.array([[2e30, 2e30 + 2e24], [-3e38, 3e38], [1e30, 0.0], [5.0, 5.0]], np.float32)
    crf.set_unary_energy(energies)
    q = crf.inference(2)
    np.testing.assert_allclose(q.sum(axis=1), 1, rtol=1e-6)
    assert q[0, 0] == 1 and q[1, 0] == 1 and q[2, 1] == 1


def test_energies_that_overflow_float32_are_an_error_not_nan():
    crf = weaksup.DenseCRF(4, 2)
    crf.set_unary_energy(np.array([[3e38, -3e38]] * 4))
    crf.add_pairwise_energy(np.random.default_rng(0).random((4, 2)), compat=3e38)
    with raises(ValueError, "overflowed float32", "compat"):
        crf.inference(3)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS")
@not_under_sanitizer("its allocator aborts the process when RLIMIT_AS leaves it no address space")
@pytest.mark.parametrize("headroom_mib", range(40, 104, 8))
def test_threads_the_system_refuses(headroom_mib):
    # With too little address space for every thread stack, overlapping callers (the
    # second finds the pool busy and starts its own threads) aborted the process with
    # "terminate called without an active exception" (64 and 72 MiB did here). Which
    # headroom fails depends on the machine, hence the sweep; NumPy may run out first, and
    # glibc itself may abort a new thread whose thread-local storage it cannot allocate
    # ("cannot allocate memory for thread-local data", outside weaksup), and so may Python's
    # own Thread.start ("can't start new thread" for the test's two callers): those outcomes
    # are tolerated, any other death is not.
    code = textwrap.dedent(f"""
        import numpy as np, resource, threading, weaksup
        img = np.zeros((64, 64, 3), np.uint8)
        p = np.full((64, 64, 4), 0.25, np.float32)
        expected = weaksup.dense_crf(img, p, iterations=2, threads=1)
        results = []
        def work():
            for _ in range(3):
                try:
                    out = weaksup.dense_crf(img[None].repeat(32, 0), p[None].repeat(32, 0), iterations=2,
                                            threads=1024)
                except MemoryError:
                    continue
                results.append(np.array_equal(out[5], expected))
        workers = [threading.Thread(target=work) for _ in range(2)]  # their stacks exist first
        with open("/proc/self/statm") as f:
            used = int(f.read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (used + {headroom_mib} * 2**20, resource.RLIM_INFINITY))
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        assert all(results), results
        print("ok")
        """)
    out = subprocess.run([sys.executable, "-X", "faulthandler", "-c", code], capture_output=True, text=True,
                         timeout=120)
    outside = ("cannot allocate memory for thread-local data", "RuntimeError: can't start new thread")
    if out.returncode != 0 and any(reason in out.stderr for reason in outside):
        return
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_arguments_of_the_wrong_type_are_named():
    img = np.zeros((6, 5, 3), np.uint8)
    p = np.full((6, 5, 2), 0.5, np.float32)
    with raises(ValueError, "threads", "1024"):
        weaksup.dense_crf(img, p, threads=2**31)
    with raises(TypeError, "threads"):
        weaksup.dense_crf(img, p, threads=1.5)
    with raises(TypeError, "spatial_dims"):
        weaksup.dense_crf(img, p, spatial_dims=2.0)
    with raises(TypeError, "clip"):
        weaksup.dense_crf(img, p, clip=None)
    with raises(ValueError, "clip"):
        weaksup.dense_crf(img, p, clip=1e-50)  # 0 in float32: log(0)
    with raises(TypeError, "label_axis"):
        weaksup.dense_crf(img, p, label_axis="last")
    with raises(ValueError, "scale_factor"):
        weaksup.crf_inference(img, p, scale_factor=np.inf)
    with raises(TypeError, "maxiter"):
        weaksup.crf_inference(img, p, maxiter=2.0)
    with raises(TypeError, "n_points"):
        weaksup.DenseCRF(4.7, 2)
    with raises(TypeError, "n_points"):
        weaksup.DenseCRF("4", 2)
    with raises(ValueError, "n_labels", "1024"):
        weaksup.DenseCRF(4, 5000)
    with raises(TypeError, "gaussian_sigma"):
        weaksup.dense_crf(img, p, gaussian_sigma="3")
    with raises(ValueError, "normalization"):
        weaksup.dense_crf(img, p, normalization=["symmetric"])
    with raises(ValueError, "bilateral term", "channels"):
        weaksup.dense_crf(np.zeros((6, 5, 70)), p)
    with raises(TypeError, "q"):
        weaksup.crf_labels("abc")
    # big-endian and unaligned arrays are read as the numbers they hold
    q = weaksup.dense_crf(img, p, iterations=1)
    np.testing.assert_array_equal(weaksup.dense_crf(img.astype(">f8"), p.astype(">f4"), iterations=1), q)
    buffer = np.zeros(p.size * 4 + 1, np.uint8)
    unaligned = np.frombuffer(buffer[1:].data, np.float32).reshape(p.shape)
    unaligned[...] = p
    assert not unaligned.flags.aligned
    np.testing.assert_array_equal(weaksup.dense_crf(img, unaligned, iterations=1), q)


def test_kl_divergence_and_steps_take_marginals_only():
    crf = weaksup.DenseCRF(4, 2)
    crf.set_unary_energy(np.zeros((4, 2)))
    for bad in (np.full((4, 2), np.nan), np.full((4, 2), -1.0), np.full((4, 2), 3.0)):
        with raises(ValueError, "q", "marginals"):
            crf.kl_divergence(bad)
        with raises(ValueError, "q", "marginals"):
            crf.step_inference(bad.astype(np.float32))
    assert np.isfinite(crf.kl_divergence(crf.start_inference()))
