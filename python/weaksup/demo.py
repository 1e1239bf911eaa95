"""``weaksup demo``: the pipeline weaksup is for, drawn on real photos.

Per photo (scikit-image's bundled ones, so it runs offline): a label-free, CAM-like score map
computed at 1/16 of the photo's resolution and upsampled bilinearly, as a classifier's CAM is;
its box by ``cam_to_boxes`` and the WSOL protocol's boxes at several thresholds
(``scoremap_boxes``); and the dense CRF's refinement of the coarse map into a segmentation.
Then a label-model panel: learned against true source accuracies on a synthetic label matrix,
and the calibration of the probabilistic labels.  Everything lands in one folder with an
``index.html`` that shows it.  matplotlib and scikit-image are needed (``weaksup[plot]``).
"""

from __future__ import annotations

import dataclasses
import html
import os
import pathlib
from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np

import weaksup

PHOTOS = ("coffee", "astronaut", "rocket")  # one object each, on a background that meets the frame
STRIDE = 16  # the CAM's resolution is 1/16 of the photo's, as in a ResNet / VGG classifier
CAM_THRESHOLD = 0.2  # the classic CAM-to-box threshold
WSOL_THRESHOLDS = (0.3, 0.5, 0.7)


@dataclasses.dataclass
class PhotoResult:
    """What one photo's figure shows."""

    name: str
    image: np.ndarray  # uint8 (H, W, 3)
    coarse: np.ndarray  # float32 (H / 16, W / 16): the score map at CAM resolution
    cam: np.ndarray  # float32 (H, W) in [0, 1]: the coarse map upsampled bilinearly
    box: np.ndarray  # int64 (4,) x0, y0, x1, y1: cam_to_boxes at CAM_THRESHOLD
    wsol_boxes: np.ndarray  # int64 (len(WSOL_THRESHOLDS), 4): the protocol's box per threshold
    segmentation: np.ndarray  # bool (H, W): the dense CRF's foreground
    thresholded: np.ndarray  # bool (H, W): the CRF's unary above 0.5, what it starts from


def _needs(module: str) -> Any:
    try:
        return __import__(module)
    except ImportError as e:
        raise ImportError(f"weaksup demo needs {module}: pip install 'weaksup[plot]'") from e


def load_photo(name: str) -> np.ndarray:
    """scikit-image's bundled photo ``name`` (one of ``PHOTOS``), RGB uint8, cropped to a
    multiple of the CAM stride."""
    if name not in PHOTOS:
        raise ValueError(f"photo must be one of {', '.join(PHOTOS)}, got {name!r}")
    _needs("skimage")
    from skimage import data

    image = np.asarray(getattr(data, name)())[..., :3]
    h, w = (s - s % STRIDE for s in image.shape[:2])
    return np.ascontiguousarray(image[:h, :w])


def bilinear(coarse: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Upsample ``coarse`` to ``shape`` bilinearly with pixel centres aligned
    (``align_corners=False``, as torch's ``interpolate`` and OpenCV's ``resize`` do for CAMs)."""
    def axis(n_in: int, n_out: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
        x = np.clip(x, 0, n_in - 1)
        lo = np.minimum(np.floor(x).astype(int), n_in - 2) if n_in > 1 else np.zeros(n_out, int)
        frac = x - lo
        return lo, np.minimum(lo + 1, n_in - 1), frac

    (y0, y1, fy), (x0, x1, fx) = axis(coarse.shape[0], shape[0]), axis(coarse.shape[1], shape[1])
    top = coarse[y0][:, x0] * (1 - fx) + coarse[y0][:, x1] * fx
    bottom = coarse[y1][:, x0] * (1 - fx) + coarse[y1][:, x1] * fx
    return np.asarray((top * (1 - fy)[:, None] + bottom * fy[:, None]).astype(np.float32))


def coarse_score_map(image: np.ndarray) -> np.ndarray:
    """A label-free stand-in for a CAM at 1/16 resolution: how unlike the photo's border each
    16x16 cell is (the mean CIELAB distance of its mean colour to the nearest tenth of the
    border cells), times a centre prior, min-max normalized.  Objects sit inside the frame;
    backgrounds touch it."""
    from skimage import color

    h, w = image.shape[0] // STRIDE, image.shape[1] // STRIDE
    lab = color.rgb2lab(image[:h * STRIDE, :w * STRIDE])
    cells = lab.reshape(h, STRIDE, w, STRIDE, 3).mean((1, 3))
    frame = np.zeros((h, w), bool)
    frame[[0, -1]] = True
    frame[:, [0, -1]] = True
    border = cells[frame]
    distance = np.sqrt(((cells[:, :, None, :] - border) ** 2).sum(-1))
    nearest = max(1, border.shape[0] // 10)  # a background of several colours: the nearest few count
    score = np.sort(distance, axis=-1)[..., :nearest].mean(-1)
    ys, xs = np.mgrid[0:h, 0:w]
    score *= np.exp(-0.5 * (((ys - (h - 1) / 2) / (0.5 * h)) ** 2 + ((xs - (w - 1) / 2) / (0.5 * w)) ** 2))
    # a classifier's receptive field blurs its CAM: average each cell with its neighbours
    padded = np.pad(score, 1, mode="edge")
    score = np.sum([padded[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)], axis=0) / 9.0
    return np.asarray(((score - score.min()) / (score.max() - score.min() + 1e-12)).astype(np.float32))


def photo_pipeline(name: str) -> PhotoResult:
    """CAM-like map -> box -> WSOL boxes -> dense-CRF segmentation for one photo."""
    image = load_photo(name)
    coarse = coarse_score_map(image)
    cam = np.clip(bilinear(coarse, image.shape[:2]), 0.0, 1.0)
    box = weaksup.cam_to_boxes(cam, threshold=CAM_THRESHOLD)
    wsol_boxes = weaksup.scoremap_boxes(cam, thresholds=np.array(WSOL_THRESHOLDS))
    # The CRF refines the map. Its unary, as CAM pipelines build one (AffinityNet, IRN): the
    # background's score is (1 - cam)^2, foreground and background normalized, kept off 0 and
    # 1 so that colour edges can overrule them; DeepLab's pairwise terms, 10 iterations.
    fg = np.clip(cam / (cam + (1.0 - cam) ** 2 + 1e-6), 0.05, 0.95)
    probs = np.ascontiguousarray(np.stack([1.0 - fg, fg], axis=-1), dtype=np.float32)
    labels = weaksup.crf_labels(weaksup.dense_crf(image, probs))
    return PhotoResult(name, image, coarse, cam, box, wsol_boxes, labels == 1, fg > 0.5)


@dataclasses.dataclass
class LabelModelResult:
    true_accuracies: np.ndarray  # (m,)
    learned_accuracies: np.ndarray  # (m,)
    confidence: np.ndarray  # (n,) the max of each item's probabilistic label
    correct: np.ndarray  # (n,) bool: its argmax is the true class
    majority_accuracy: float  # majority vote, ties split evenly


def label_model_demo(n: int = 5000, m: int = 10, k: int = 3, seed: int = 0) -> LabelModelResult:
    """A synthetic label matrix: m sources with accuracies from 0.45 to 0.9 voting on 40 % of
    the items (a wrong vote picks another class at random); weaksup's default LabelModel fit."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    acc = np.linspace(0.45, 0.9, m)
    right = rng.random((n, m)) < acc
    wrong = (y[:, None] + rng.integers(1, k, (n, m))) % k
    L = np.where(right, y[:, None], wrong)
    L[rng.random((n, m)) > 0.4] = -1
    model = weaksup.LabelModel(k).fit(L)
    proba = model.predict_proba(L)
    counts = np.stack([(L == c).sum(1) for c in range(k)], 1)
    top = counts == counts.max(1, keepdims=True)
    majority = float(np.mean(top[np.arange(n), y] / top.sum(1)))
    return LabelModelResult(acc, np.asarray(model.accuracies_), proba.max(1), proba.argmax(1) == y, majority)


def _draw_box(ax: Any, box: np.ndarray, colour: str, label: str, style: str = "-") -> None:
    import matplotlib.patches as patches

    if box[0] < 0:  # the empty box: nothing above the threshold
        return
    x0, y0, x1, y1 = box
    ax.add_patch(patches.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0 + 1, y1 - y0 + 1, fill=False, edgecolor=colour,
                                   linewidth=2, linestyle=style, label=label))


def _photo_figure(r: PhotoResult, path: pathlib.Path) -> None:
    import matplotlib.pyplot as plt

    height, width = r.image.shape[:2]
    fig, axes = plt.subplots(1, 4, figsize=(16, 4 * height / width + 0.9))
    axes[0].imshow(r.image)
    axes[0].set_title(f"{r.name} ({r.image.shape[1]}x{r.image.shape[0]})")
    axes[1].imshow(r.coarse, cmap="jet", vmin=0, vmax=1, interpolation="nearest")
    axes[1].set_title(f"score map at 1/{STRIDE}: {r.coarse.shape[1]}x{r.coarse.shape[0]}")
    axes[2].imshow(r.image)
    axes[2].imshow(r.cam, cmap="jet", alpha=0.45, vmin=0, vmax=1)
    _draw_box(axes[2], r.box, "white", f"cam_to_boxes (> {CAM_THRESHOLD})")
    for t, b, c in zip(WSOL_THRESHOLDS, r.wsol_boxes, ("yellow", "orange", "red")):
        _draw_box(axes[2], b, c, f"WSOL box at {t}", "--")
    axes[2].legend(loc="lower left", fontsize=7, framealpha=0.8)
    axes[2].set_title("upsampled bilinearly, with its boxes")
    axes[3].imshow(r.image)
    overlay = np.zeros(r.image.shape[:2] + (4,))
    overlay[r.segmentation] = (0.1, 0.9, 0.2, 0.45)
    axes[3].imshow(overlay)
    axes[3].contour(r.thresholded, levels=[0.5], colors="white", linewidths=1, linestyles="dashed")
    changed = float(np.mean(r.segmentation != r.thresholded))
    axes[3].set_title(f"dense CRF: {changed:.1%} of the pixels moved")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{r.name}: CAM -> box -> dense CRF (dashed white: where the CRF starts, its unary above 0.5; "
                 "green: its segmentation)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _label_model_figure(r: LabelModelResult, path: pathlib.Path) -> None:
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 5))
    a.plot([0.3, 1], [0.3, 1], color="grey", linewidth=1, label="learned = true")
    a.scatter(r.true_accuracies, r.learned_accuracies, s=40, zorder=3, label="one source")
    a.set_xlabel("true accuracy of the source")
    a.set_ylabel("accuracy weaksup.LabelModel learned (no labels)")
    a.set_title(f"{len(r.true_accuracies)} sources, {r.confidence.size:,} items, 3 classes")
    a.legend(loc="upper left")
    bins = np.linspace(1 / 3, 1, 9)
    which = np.clip(np.digitize(r.confidence, bins) - 1, 0, len(bins) - 2)
    centres, observed, sizes = [], [], []
    for i in range(len(bins) - 1):
        inside = which == i
        if inside.sum() >= 20:
            centres.append(r.confidence[inside].mean())
            observed.append(r.correct[inside].mean())
            sizes.append(inside.sum())
    b.plot([1 / 3, 1], [1 / 3, 1], color="grey", linewidth=1, label="perfect calibration")
    b.plot(centres, observed, marker="o", label="probabilistic labels")
    b.axhline(r.majority_accuracy, color="tab:red", linestyle="--", linewidth=1,
              label=f"majority vote accuracy {r.majority_accuracy:.3f}")
    b.set_xlabel("confidence (max probability), binned")
    b.set_ylabel("fraction of the bin labelled right")
    b.set_title(f"calibration; label model accuracy {r.correct.mean():.3f}")
    b.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _index(out: pathlib.Path, figures: List[pathlib.Path], captions: List[str]) -> pathlib.Path:
    items = "\n".join(f'<figure><img src="{html.escape(p.name)}" alt="{html.escape(c)}" width="100%">'
                      f"<figcaption>{html.escape(c)}</figcaption></figure>" for p, c in zip(figures, captions))
    page = out / "index.html"
    page.write_text(f"""<!doctype html>
<html><head><meta charset="utf-8"><title>weaksup demo</title>
<style>body{{font-family:sans-serif;max-width:1650px;margin:auto}} figure{{margin:2em 0}}</style></head>
<body><h1>weaksup {html.escape(weaksup.__version__)} demo</h1>
<p>CAM-like score maps at 1/{STRIDE} resolution, their boxes and dense-CRF refinements on scikit-image's
photos, and a label model on a synthetic label matrix. Made by <code>weaksup demo</code>.</p>
{items}
</body></html>
""")
    return page


def run(out: Union[str, "os.PathLike[str]"] = "weaksup-demo", photos: Optional[Sequence[str]] = None
        ) -> List[pathlib.Path]:
    """Draw the demo into the folder ``out`` (created if needed): one PNG per photo (of
    ``PHOTOS`` by default), ``label_model.png`` and ``index.html``.  Returns the files written."""
    _needs("matplotlib")
    _needs("skimage")
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    folder = pathlib.Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    figures, captions = [], []
    for name in (PHOTOS if photos is None else photos):
        result = photo_pipeline(name)
        path = folder / f"{name}.png"
        _photo_figure(result, path)
        figures.append(path)
        captions.append(f"{name}: the photo; a label-free score map at 1/{STRIDE} resolution; upsampled "
                        "bilinearly as CAMs are, with its cam_to_boxes box and the WSOL protocol's boxes; the "
                        "dense CRF's segmentation of it.")
    path = folder / "label_model.png"
    _label_model_figure(label_model_demo(), path)
    figures.append(path)
    captions.append("Label model: learned against true accuracies of 10 sources without any labels, and the "
                    "calibration of the probabilistic labels.")
    return figures + [_index(folder, figures, captions)]
