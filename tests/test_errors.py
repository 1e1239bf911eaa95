"""Bad input gets a clear ValueError / TypeError naming the argument; never a crash."""


import numpy as np
import pytest

import weaksup
from conftest import assert_no_crash


class FakeCudaArray:
    """Looks like a device array to the dispatcher (no real device memory behind it)."""

    __cuda_array_interface__ = {"shape": (4, 4), "typestr": "|u1", "data": (0, False), "version": 3}


def raises(exc, *words):
    return pytest.raises(exc, match="(?s)" + "".join(f"(?=.*{w})" for w in words))


def test_label_errors():
    with raises(ValueError, "mask", r"\(H, W\)"):
        weaksup.label(np.zeros(5, bool))
    with raises(ValueError, "mask", "shape"):
        weaksup.label(np.zeros((1, 2, 3, 4, 5), bool), 26)
    with raises(ValueError, "connectivity"):
        weaksup.label(np.zeros((3, 3), bool), 5)
    with raises(ValueError, "connectivity"):
        weaksup.label(np.zeros((3, 3), bool), True)
    with raises(ValueError, "mask", r"\(D, H, W\)"):
        weaksup.label(np.zeros((3, 3), bool), 26)
    with raises(TypeError, "mask"):
        weaksup.label(np.array([["a", "b"]]))
    with raises(TypeError, "mask"):
        weaksup.label(np.zeros((3, 3), complex))
    with raises(TypeError, "mask"):
        weaksup.label(np.array([[object()]]))
    with raises(ValueError, "mask", "NaN"):
        weaksup.label(np.array([[0.0, np.nan]]))
    with raises(ValueError, "mask", "empty"):
        weaksup.label(np.zeros((0, 4, 4), bool))
    with raises(ValueError, "mask", "empty"):
        weaksup.label(np.zeros((4, 0), bool))
    with raises(ValueError, "threads"):
        weaksup.label(np.zeros((3, 3), bool), threads=-1)
    with raises(ValueError, "threads"):
        weaksup.label(np.zeros((3, 3), bool), threads=1.5)
    with raises(ValueError, "k"):
        weaksup.largest_components(np.zeros((3, 3), bool), k=0)


def test_cam_to_boxes_errors():
    cam = np.random.default_rng(0).random((2, 8, 8))
    for bad in (np.nan, np.inf, -np.inf):
        c = cam.copy()
        c[1, 3, 3] = bad
        with raises(ValueError, "cams", "NaN or infinity"):
            weaksup.cam_to_boxes(c)
        np.testing.assert_equal(c[1, 3, 3], bad)  # not modified
    for t in (-0.1, 1.5, np.nan):
        with raises(ValueError, "threshold"):
            weaksup.cam_to_boxes(cam, t)
    with raises(ValueError, "threshold", "finite"):
        weaksup.cam_to_boxes(cam, np.inf, normalize=None)
    with raises(TypeError, "cams"):
        weaksup.cam_to_boxes(cam > 0.5)
    with raises(ValueError, "cams"):
        weaksup.cam_to_boxes(cam[0, 0])
    with raises(ValueError, "cams", "empty"):
        weaksup.cam_to_boxes(np.zeros((0, 8, 8)))
    with raises(ValueError, "normalize"):
        weaksup.cam_to_boxes(cam, normalize="zscore")
    with raises(ValueError, "connectivity"):
        weaksup.cam_to_boxes(cam, connectivity=26)


def test_wsol_errors():
    maps = np.random.default_rng(0).random((2, 16, 16))
    good = [np.array([[0, 0, 5, 5]])] * 2
    with raises(ValueError, "gt_boxes", "2 score maps"):
        weaksup.box_accuracy(maps, good[:1])
    with raises(ValueError, r"gt_boxes\[0\]", "non-negative"):
        weaksup.box_accuracy(maps, [np.array([[-1, 0, 5, 5]])] * 2)
    with raises(ValueError, r"gt_boxes\[1\]", "x0 <= x1"):
        weaksup.box_accuracy(maps, [good[0], np.array([[5, 0, 4, 5]])])
    with raises(ValueError, r"gt_boxes\[0\]", "whole-number"):
        weaksup.box_accuracy(maps, [np.array([[0.5, 0, 4, 5]])] * 2)
    with raises(ValueError, r"gt_boxes\[0\]", r"\(G, 4\)"):
        weaksup.box_accuracy(maps, [np.zeros((0, 4))] * 2)
    with raises(TypeError, "gt_boxes"):
        weaksup.box_accuracy(maps, "boxes")
    with raises(ValueError, "thresholds", r"\[0, 1\]"):
        weaksup.box_accuracy(maps, good, thresholds=[0.1, 1.2])
    with raises(ValueError, "iou_thresholds"):
        weaksup.box_accuracy(maps, good, iou_thresholds=(50, 150))
    bad = maps.copy()
    bad[0, 2, 2] = np.nan
    with raises(ValueError, "scoremaps", "NaN"):
        weaksup.box_accuracy(bad, good)
    with raises(ValueError, "scoremaps", r"\[0, 1\]", "normalize=True"):
        weaksup.box_accuracy(maps * 3, good, normalize=False)
    with raises(ValueError, "class_correct"):
        weaksup.box_accuracy(maps, good, class_correct=[True])
    with raises(ValueError, "accumulate"):
        weaksup.BoxEvaluator().compute()
    with raises(ValueError, "top-1", "class_correct"):
        weaksup.box_accuracy(maps, good).top1_loc()
    with raises(ValueError, "gt_masks", "shape"):
        weaksup.pxap(maps, np.zeros((2, 8, 8), np.uint8))
    with raises(ValueError, "gt_masks", "255"):
        weaksup.pxap(maps, np.full((2, 16, 16), 7, np.uint8))
    with raises(ValueError, "thresholds", "increasing"):
        weaksup.PxAPEvaluator(thresholds=[0.5, 0.2])


def test_gpu_array_without_a_usable_cuda_gives_a_clear_error():
    if weaksup.cuda_available():
        pytest.skip("a CUDA device is present")
    for call in (lambda: weaksup.label(FakeCudaArray()), lambda: weaksup.cam_to_boxes(FakeCudaArray()),
                 lambda: weaksup.component_stats(FakeCudaArray())):
        with raises(TypeError, "CUDA", "NumPy"):
            call()


def test_no_crash_under_faulthandler():
    """Every bad call above in a fresh interpreter with faulthandler on: exits cleanly."""
    assert_no_crash(
        "import numpy as np, weaksup",
        [
            "weaksup.label(np.zeros(5, bool))",
            "weaksup.label(np.zeros((0, 3, 3), bool))",
            "weaksup.label(np.zeros((3, 3), bool), 99)",
            "weaksup.cam_to_boxes(np.full((3, 3), np.nan))",
            "weaksup.cam_to_boxes(np.zeros((2, 0, 3)))",
            "weaksup.box_accuracy(np.zeros((1, 4, 4)), [np.array([[9, 9, 1, 1]])])",
            "weaksup.box_accuracy(np.full((1, 4, 4), np.inf), [np.array([[0, 0, 1, 1]])])",
            "weaksup.pxap(np.zeros((1, 4, 4)), np.zeros((1, 3, 3), np.uint8))",
        ],
        # degenerate but valid inputs
        """
        weaksup.label(np.zeros((1, 1), bool)); weaksup.cam_to_boxes(np.zeros((1, 1)))
        weaksup.box_accuracy(np.zeros((1, 1, 1)), [np.array([[0, 0, 0, 0]])])
        """,
    )
