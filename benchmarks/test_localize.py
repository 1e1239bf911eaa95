"""pytest-benchmark version of `weaksup bench localize`: same workloads, same peers.

Run with ``pytest benchmarks --benchmark-enable --benchmark-group-by=group``; compare
implementations within a group (machines here are noisy: read ratios, not absolutes).
"""

import numpy as np
import pytest

import weaksup

from weaksup.bench import localize, wsol_reference

SIZES = [(256, 224), (64, 1024)]


@pytest.fixture(scope="module", params=SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def cams(request):
    batch, size = request.param
    return localize.smooth_cams(batch, size)


CAM_IMPLS = {
    "weaksup-1-thread": lambda c: weaksup.cam_to_boxes(c, localize.THRESHOLD, threads=1),
    "weaksup-all-cores": lambda c: weaksup.cam_to_boxes(c, localize.THRESHOLD, threads=0),
    "opencv-bbdt-loop": localize.opencv_boxes,
    "scipy-loop": localize.scipy_boxes,
    "cc3d-loop": localize.cc3d_boxes,
}
NEEDS = {"opencv-bbdt-loop": "cv2", "scipy-loop": "scipy", "cc3d-loop": "cc3d"}


@pytest.mark.parametrize("impl", list(CAM_IMPLS))
def test_cam_to_boxes(benchmark, cams, impl):
    if impl in NEEDS:
        if not localize.have(NEEDS[impl]):
            pytest.skip(f"{NEEDS[impl]} not installed")
    benchmark.group = f"cam_to_boxes {cams.shape}"
    benchmark(CAM_IMPLS[impl], cams)


LABEL_IMPLS = {
    "weaksup-1-thread": lambda m: weaksup.label(m, 8, threads=1),
    "weaksup-all-cores": lambda m: weaksup.label(m, 8, threads=0),
    "opencv-bbdt-loop": localize.opencv_labels,
    "scipy-loop": localize.scipy_labels,
    "cc3d-loop": localize.cc3d_labels,
}


@pytest.mark.parametrize("impl", list(LABEL_IMPLS))
def test_label(benchmark, cams, impl):
    if impl in NEEDS and not localize.have(NEEDS[impl]):
        pytest.skip(f"{NEEDS[impl]} not installed")
    masks = localize.masks_of(cams)
    benchmark.group = f"label {cams.shape}"
    benchmark(LABEL_IMPLS[impl], masks)


@pytest.fixture(scope="module", params=["upsampled", "noisy"])
def wsol_workload(request):
    cams = localize.upsampled_cams(256, seed=3) if request.param == "upsampled" else localize.smooth_cams(256, 224, 3)
    return request.param, cams, localize.gt_boxes_for(cams)


@pytest.mark.parametrize("impl", ["weaksup-1-thread", "weaksup-all-cores", "cv2-findcontours-protocol"])
def test_max_box_acc_v2(benchmark, wsol_workload, impl):
    name, cams, gt = wsol_workload
    thresholds = np.arange(0, 1, 0.01)
    benchmark.group = f"MaxBoxAccV2 256 {name} CAMs, 100 thresholds"
    if impl == "cv2-findcontours-protocol":
        if not localize.have("cv2"):
            pytest.skip("cv2 not installed")
        benchmark.pedantic(wsol_reference.box_accuracy, (cams, gt, thresholds), rounds=1, iterations=1)
    else:
        threads = 1 if impl == "weaksup-1-thread" else 0
        benchmark(weaksup.box_accuracy, cams, gt, thresholds=thresholds, threads=threads)
