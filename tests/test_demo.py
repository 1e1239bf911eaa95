"""`weaksup demo`: CAM -> box -> dense CRF on scikit-image's photos, and the label-model panel."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("skimage")

from weaksup import cli, demo  # noqa: E402


def iou(a, b):
    w = min(a[2], b[2]) - max(a[0], b[0]) + 1
    h = min(a[3], b[3]) - max(a[1], b[1]) + 1
    inter = max(0, w) * max(0, h)
    area = lambda r: (r[2] - r[0] + 1) * (r[3] - r[1] + 1)  # noqa: E731
    return inter / (area(a) + area(b) - inter)


@pytest.fixture(scope="module")
def coffee():
    return demo.photo_pipeline("coffee")


def test_the_cam_is_coarse_then_upsampled(coffee):
    h, w = coffee.image.shape[:2]
    assert coffee.coarse.shape == (h // demo.STRIDE, w // demo.STRIDE)
    assert coffee.cam.shape == (h, w) and 0 <= coffee.cam.min() and coffee.cam.max() <= 1
    # bilinear: within a cell's interior the map moves smoothly, never past its neighbours
    assert np.abs(np.diff(coffee.cam, axis=1)).max() < np.abs(np.diff(coffee.coarse, axis=1)).max() / 8


def test_bilinear_matches_opencv_resize():
    cv2 = pytest.importorskip("cv2")
    coarse = np.random.default_rng(0).random((7, 9)).astype(np.float32)
    ours = demo.bilinear(coarse, (7 * 16, 9 * 16))
    theirs = cv2.resize(coarse, (9 * 16, 7 * 16), interpolation=cv2.INTER_LINEAR)
    assert np.abs(ours - theirs).max() < 1e-5


def test_the_box_lies_on_the_cup_and_saucer(coffee):
    # the cup and its saucer, read off the photo by eye: x 55..500, the full height
    assert iou(coffee.box, (55, 0, 500, 399)) > 0.6
    # the protocol's boxes shrink as the threshold rises, each inside the one below it
    for outer, inner in zip(coffee.wsol_boxes, coffee.wsol_boxes[1:]):
        assert outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def test_the_tightest_box_holds_the_rocket():
    rocket = demo.photo_pipeline("rocket")
    x0, y0, x1, y1 = rocket.wsol_boxes[-1]
    assert x0 <= 320 <= x1 and x1 - x0 < 0.3 * rocket.image.shape[1]  # the rocket stands at x = 300..335


def test_the_crf_moves_the_map_to_the_edges(coffee):
    moved = np.mean(coffee.segmentation != coffee.thresholded)
    assert 0.01 < moved < 0.3
    # the CRF's foreground is one object, not speckle: its largest component holds most of it
    import weaksup

    stats = weaksup.component_stats(coffee.segmentation)
    assert stats.area.max() > 0.9 * coffee.segmentation.sum()


def test_the_label_model_panel_learns_the_accuracies():
    r = demo.label_model_demo()
    assert np.corrcoef(r.true_accuracies, r.learned_accuracies)[0, 1] > 0.98
    assert np.abs(r.true_accuracies - r.learned_accuracies).max() < 0.05
    assert r.correct.mean() > r.majority_accuracy  # the reason to fit a label model
    assert abs(r.confidence.mean() - r.correct.mean()) < 0.03  # calibrated on average


def test_demo_writes_pictures_and_a_page(tmp_path, capsys):
    import matplotlib.image

    assert cli.main(["demo", "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert str(tmp_path / "out") in printed
    pngs = sorted((tmp_path / "out").glob("*.png"))
    assert {p.stem for p in pngs} == set(demo.PHOTOS) | {"label_model"}
    page = (tmp_path / "out" / "index.html").read_text()
    for p in pngs:
        image = matplotlib.image.imread(p)
        assert image.shape[1] >= 1000 and image.shape[0] >= 300  # a figure, not a thumbnail
        assert image[..., :3].std() > 0.1  # not a blank canvas
        assert f'src="{p.name}"' in page


def test_unknown_photos_are_refused():
    with pytest.raises(ValueError, match="photo must be one of"):
        demo.load_photo("lena")
