"""pytest-benchmark version of `weaksup bench crf`: same workloads, same peer.

Run with ``pytest benchmarks --benchmark-enable --benchmark-group-by=group``.
"""

import numpy as np
import pytest

import weaksup
from weaksup.bench import crf

IMPLS = {
    "weaksup-1-thread": lambda img, p, **kw: weaksup.dense_crf(img, p, threads=1, **kw),
    "weaksup-all-cores": lambda img, p, **kw: weaksup.dense_crf(img, p, threads=0, **kw),
    "pydensecrf2": None,
}


def _peer(images, probs, scale):
    if images.ndim == 3:
        return crf.pydensecrf_2d(images, probs, 10, scale=scale)
    return [crf.pydensecrf_2d(im, p, 10, scale=scale) for im, p in zip(images, probs)]


@pytest.fixture(scope="module", params=["512x512", "sec-32x41x41"])
def workload(request):
    if request.param == "512x512":
        image = crf.synthetic_image(512, 512, seed=1)
        return request.param, image, crf.soft_segmentation(image, 21, seed=1), 1.0
    images = np.stack([crf.synthetic_image(41, 41, seed=10 + b) for b in range(32)])
    probs = np.stack([crf.soft_segmentation(im, 21, seed=10 + b) for b, im in enumerate(images)])
    return request.param, images, probs, 12.0


@pytest.mark.parametrize("impl", list(IMPLS))
def test_dense_crf(benchmark, workload, impl):
    name, images, probs, scale = workload
    benchmark.group = f"dense CRF {name}, L=21, 10 iterations"
    if impl == "pydensecrf2":
        if not crf.have("pydensecrf"):
            pytest.skip("pydensecrf2 not installed")
        benchmark(_peer, images, probs, scale)
        return
    kw = dict(iterations=10, gaussian_sigma=3 / scale, bilateral_sigma=80 / scale)
    benchmark(IMPLS[impl], images, probs, **kw)
