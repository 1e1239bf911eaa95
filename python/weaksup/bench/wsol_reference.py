"""The published WSOL box protocol, step by step with OpenCV (the peer weaksup must match).

An independent re-implementation of clovaai/wsolevaluation's box evaluation
(``normalize_scoremap``, ``compute_bboxes_from_scoremaps``, ``calculate_multiple_iou``,
``BoxEvaluator``) for NumPy >= 1.24, where the published code no longer runs
(``np.float``). Used by the tests as the reference and by the benchmarks as the peer.
"""

from __future__ import annotations

from typing import List, Sequence, Union

import numpy as np


Thresholds = Union[Sequence[float], np.ndarray]

def normalize_scoremap(cam: np.ndarray) -> np.ndarray:
    cam = np.array(cam, dtype=np.float64)
    if np.isnan(cam).any() or cam.min() == cam.max():
        return np.zeros_like(cam)
    cam -= cam.min()
    cam /= cam.max()
    return cam


def boxes_at_thresholds(scoremap: np.ndarray, thresholds: Thresholds, multi_contour: bool) -> List[np.ndarray]:
    """For each threshold, the (n, 4) candidate boxes of one normalized score map."""
    import cv2

    height, width = scoremap.shape
    image = np.expand_dims((scoremap * 255).astype(np.uint8), 2)
    out = []
    for threshold in thresholds:
        _, mask = cv2.threshold(image, int(threshold * np.max(image)), 255, cv2.THRESH_BINARY)
        contours = cv2.findContours(mask, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
        if len(contours) == 0:
            out.append(np.zeros((1, 4), dtype=np.int64))
            continue
        if not multi_contour:
            contours = [max(contours, key=cv2.contourArea)]
        boxes = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            boxes.append([x, y, min(x + w, width - 1), min(y + h, height - 1)])
        out.append(np.asarray(boxes, dtype=np.int64))
    return out


def multiple_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) IoU with inclusive areas; degenerate pairs give 0."""
    a = a[:, None, :]
    b = b[None, :, :]
    iw = np.maximum(0, np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + 1)
    ih = np.maximum(0, np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + 1)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0] + 1) * (a[..., 3] - a[..., 1] + 1)
    area_b = (b[..., 2] - b[..., 0] + 1) * (b[..., 3] - b[..., 1] + 1)
    denominator = area_a + area_b - inter
    degenerate = denominator <= 0
    denominator = np.where(degenerate, 1, denominator)
    return np.where(degenerate, 0.0, inter / denominator)


def correct_at_thresholds(
    scoremap: np.ndarray,
    gt_boxes: np.ndarray,
    thresholds: Thresholds,
    iou_thresholds: Sequence[float],
    multi_contour: bool,
) -> np.ndarray:
    """(D, T) booleans: is the map localized at each IoU threshold and cam threshold."""
    per_threshold = boxes_at_thresholds(scoremap, thresholds, multi_contour)
    best = np.array([multiple_iou(b, np.asarray(gt_boxes)).max() for b in per_threshold])
    return np.stack([best >= (delta / 100) for delta in iou_thresholds])


def box_accuracy(
    scoremaps: Sequence[np.ndarray],
    gt_boxes: Sequence[np.ndarray],
    thresholds: Thresholds,
    iou_thresholds: Sequence[float] = (30, 50, 70),
    multi_contour: bool = True,
    normalize: bool = True,
) -> np.ndarray:
    """(D, T) percentage of maps localized, as BoxEvaluator.compute() would derive it."""
    correct = np.zeros((len(iou_thresholds), len(thresholds)))
    for cam, gt in zip(scoremaps, gt_boxes):
        m = normalize_scoremap(cam) if normalize else np.asarray(cam, dtype=np.float64)
        correct += correct_at_thresholds(m, gt, thresholds, iou_thresholds, multi_contour)
    return correct * 100.0 / float(len(scoremaps))


def pxap(scoremaps: Sequence[np.ndarray], gt_masks: Sequence[np.ndarray], thresholds: Thresholds) -> float:
    """MaskEvaluator's PxAP over normalized score maps (mask: 1 fg, 0 bg, 255 ignore)."""
    edges = np.append(thresholds, [1.0, 2.0, 3.0])
    true_hist = np.zeros(len(edges) - 1)
    false_hist = np.zeros(len(edges) - 1)
    for cam, mask in zip(scoremaps, gt_masks):
        m = normalize_scoremap(cam)
        true_hist += np.histogram(m[mask == 1], bins=edges)[0].astype(np.float64)
        false_hist += np.histogram(m[mask == 0], bins=edges)[0].astype(np.float64)
    tp = true_hist[::-1].cumsum()
    fn = true_hist.sum() - tp
    fp = false_hist[::-1].cumsum()
    nonzero = (tp + fp) != 0
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = tp / (tp + fp)
        recall = tp / (tp + fn)
    return float((precision[1:] * np.diff(recall))[nonzero[1:]].sum() * 100)
