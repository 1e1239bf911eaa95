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
    with raises(TypeError, "threads", "integer"):
        weaksup.label(np.zeros((3, 3), bool), threads=1.5)
    with raises(ValueError, "threads", "1024"):
        weaksup.label(np.zeros((3, 3), bool), threads=2**31)
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


def test_huge_ground_truth_boxes_are_rejected_not_overflowed():
    """A float 1e20 coordinate used to become INT64_MIN in the IoU and change the accuracy."""
    maps = np.zeros((1, 8, 8))
    maps[0, 2:5, 2:5] = 1.0
    for huge in (1e20, 2.0**31, np.iinfo(np.int64).max):
        box = np.array([[2, 2, huge, huge]], dtype=np.float64 if isinstance(huge, float) else np.int64)
        with raises(ValueError, r"gt_boxes\[0\]", "2\\^31 - 1"):
            weaksup.box_accuracy(maps, [box])
    # The largest accepted coordinate still scores like any big box: IoU ~ 0, never NaN or 100.
    edge = np.array([[0, 0, 2**31 - 1, 2**31 - 1]])
    assert weaksup.max_box_acc(maps, [edge]) == 0.0
    assert weaksup.max_box_acc(maps, [np.array([[2, 2, 4, 4]])]) == 100.0


def test_arguments_of_the_wrong_kind_are_named():
    """Each used to reach pybind (\"incompatible function arguments\") or NumPy unnamed."""
    mask = np.zeros((3, 3), bool)
    cam = np.random.default_rng(1).random((2, 6, 6))
    maps, good = cam, [np.array([[0, 0, 3, 3]])] * 2
    with raises(ValueError, "connectivity", "4, 8"):
        weaksup.label(mask, connectivity=8.0)
    with raises(ValueError, "connectivity"):
        weaksup.component_stats(mask, connectivity="8")
    with raises(TypeError, "return_stats"):
        weaksup.label(mask, return_stats="yes")
    with raises(TypeError, "k", "integer"):
        weaksup.keep_largest(mask, k=1.0)
    with raises(TypeError, "threshold", "number"):
        weaksup.cam_to_boxes(cam, "0.2", normalize=None)
    with raises(ValueError, "normalize", "minmax"):
        weaksup.cam_to_boxes(cam, normalize=["max"])
    with raises(ValueError, "connectivity"):
        weaksup.cam_to_boxes(cam, connectivity=4.0)
    with raises(TypeError, "thresholds", "numbers"):
        weaksup.box_accuracy(maps, good, thresholds="abc")
    with raises(TypeError, "iou_thresholds"):
        weaksup.box_accuracy(maps, good, iou_thresholds=["a"])
    with raises(TypeError, "normalize", "True or False"):
        weaksup.box_accuracy(maps, good, normalize="no")
    with raises(TypeError, "multi_contour"):
        weaksup.BoxEvaluator(multi_contour=None)
    with raises(TypeError, "thresholds"):
        weaksup.pxap(maps, np.zeros((2, 6, 6), np.uint8), thresholds=[[0.1], [0.2, 0.3]])
    big_endian = cam.astype(">f8")
    np.testing.assert_array_equal(weaksup.cam_to_boxes(big_endian), weaksup.cam_to_boxes(cam))
    np.testing.assert_array_equal(weaksup.label(mask.astype(">i4"))[0], weaksup.label(mask)[0])


def test_huge_k_keeps_every_component():
    """k past int64 (2**63, 2**70) raised OverflowError in np.minimum(counts, k)."""
    mask = np.zeros((2, 5, 5), bool)
    mask[0, 0, 0] = mask[0, 2, 2] = mask[1, 4, 4] = True
    for k in (2**31, 2**63, 2**70):
        stats = weaksup.largest_components(mask, k=k, connectivity=4)
        assert stats.counts.tolist() == [2, 1] and stats.area.tolist() == [1, 1, 1]
        assert weaksup.component_stats(mask, 4).largest(k).counts.tolist() == [2, 1]
        np.testing.assert_array_equal(weaksup.keep_largest(mask, k=k, connectivity=4), mask)


def test_corloc_and_top1_loc_check_their_arguments():
    """threshold="a" reached NumPy (UFuncTypeError naming nothing), iou=[50, 50] failed to
    broadcast, iou="a" was "not evaluated", and threshold=NaN silently picked the first
    cam threshold."""
    maps = np.random.default_rng(2).random((3, 8, 8))
    acc = weaksup.box_accuracy(maps, [np.array([[1, 1, 5, 5]])] * 3, class_correct=[True, False, True])
    with raises(TypeError, "threshold", "number"):
        acc.corloc(50, threshold="a")
    for bad in (np.nan, np.inf, -0.5, 1.5):
        with raises(ValueError, "threshold"):
            acc.corloc(50, threshold=bad)
    for method in (acc.corloc, acc.top1_loc):
        for bad in ("a", [50, 50], None):
            with raises(TypeError, "iou", "number"):
                method(bad)
        with raises(ValueError, "iou", "not evaluated", r"\[30.0, 50.0, 70.0\]"):
            method(40)
    assert acc.corloc(50.0, threshold=np.float32(0.25)) == acc.accuracy[1, 25]
    assert acc.top1_loc(np.int64(70)) <= acc.corloc(70)


def test_contour_boxes_errors_name_its_scoremap():
    """The kernel's message named "scoremaps: map 0" for the single `scoremap` argument."""
    with raises(ValueError, "scoremap ", r"\[0, 1\]", "normalize=True"):
        weaksup.wsol.contour_boxes(np.full((3, 3), 2.0), 0.5, normalize=False)
    with raises(ValueError, "scoremap ", "NaN"):
        weaksup.wsol.contour_boxes(np.array([[0.0, np.nan]]), 0.5)


def test_float16_ground_truth_boxes_do_not_warn():
    """Comparing float16 boxes with 2^31 - 1 overflowed the cast: a RuntimeWarning on every
    call (an error under -W error, as in this suite)."""
    import warnings

    maps = np.zeros((1, 6, 6))
    maps[0, 1:4, 1:4] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert weaksup.max_box_acc(maps, [np.array([[1, 1, 3, 3]], np.float16)]) == 100.0
        with raises(ValueError, r"gt_boxes\[0\]", "whole-number"):
            weaksup.max_box_acc(maps, [np.array([[1, 1, np.inf, 3]], np.float16)])


def test_malformed_ground_truth_boxes_are_named():
    """A (0, 4) array for a batch failed in NumPy's reshape, ragged boxes in NumPy's
    array constructor; neither message named gt_boxes."""
    maps = np.random.default_rng(3).random((2, 6, 6))
    with raises(ValueError, "gt_boxes", "0 entries", "2 score maps"):
        weaksup.box_accuracy(maps, np.zeros((0, 4), np.int64))
    with raises(TypeError, r"gt_boxes\[1\]"):
        weaksup.box_accuracy(maps, [[[0, 0, 1, 1]], [[0, 0, 1, 1], [1, 1]]])
    with raises(TypeError, r"gt_boxes\[0\]"):
        weaksup.box_accuracy(maps[0], [[0, 0, 1, 1], [1, 1]])
    ok = weaksup.box_accuracy(maps, np.array([[0, 0, 2, 2], [1, 1, 3, 3]]))
    np.testing.assert_array_equal(ok.accuracy, weaksup.box_accuracy(maps, [[[0, 0, 2, 2]], [[1, 1, 3, 3]]]).accuracy)


def test_pxap_without_foreground_names_gt_masks():
    """The message named no argument (and claimed no foreground where the foreground only
    scored below the first threshold)."""
    maps = np.random.default_rng(4).random((2, 5, 5))
    with raises(ValueError, "no foreground", "gt_masks == 1", "first threshold"):
        weaksup.pxap(maps, np.zeros((2, 5, 5), np.uint8))
    with raises(ValueError, "gt_masks == 1"):
        weaksup.pxap(np.zeros((5, 5)), np.ones((5, 5), np.uint8), thresholds=[0.5, 0.9])


def test_scoremaps_whose_range_overflows_are_rejected():
    """max - min past DBL_MAX normalized the map to NaN: PxAP dropped those pixels and the
    box kernels quantized NaN through an undefined float-to-int conversion."""
    huge = np.array([[[1.7e308, -1.7e308], [0.0, 1.0]]])
    gt_mask = np.array([[[1, 0], [0, 1]]], np.uint8)
    with raises(ValueError, "scoremaps", "map 0", "max - min"):
        weaksup.pxap(huge, gt_mask)
    with raises(ValueError, "scoremaps", "map 0", "max - min"):
        weaksup.box_accuracy(huge, [np.array([[0, 0, 1, 1]])])
    with raises(ValueError, "scoremaps", "max - min"):
        weaksup.scoremap_boxes(huge)
    with raises(ValueError, "scoremap ", "max - min"):
        weaksup.wsol.contour_boxes(huge[0], 0.5)
    # half that range still normalizes as the protocol does
    assert 0 <= weaksup.pxap(huge / 2, gt_mask) <= 100
