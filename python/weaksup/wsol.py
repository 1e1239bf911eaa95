"""WSOL evaluation: MaxBoxAcc, MaxBoxAccV2, PxAP, top-1 localization.

Reproduces clovaai/wsolevaluation (Choe et al., CVPR 2020) to the last digit:

* score maps are min-max normalized in float64 (``normalize=True``; a constant map becomes
  all zeros) and quantized as ``uint8(trunc(255 * map))``;
* at cam threshold ``t`` the mask is ``s > int(t * max(s))``;
* V1 (MaxBoxAcc) boxes the contour with the largest ``cv2.contourArea``; V2
  (``multi_contour=True``, MaxBoxAccV2) takes every contour, holes included, and keeps the
  best IoU; boxes are ``x, y, min(x + w, W - 1), min(y + h, H - 1)`` from
  ``cv2.boundingRect``, and an empty mask gives ``[0, 0, 0, 0]``;
* IoU uses inclusive areas; a map is correct when the IoU is ``>= delta / 100``.

Ground-truth boxes must already be at the score maps' resolution (the protocol rescales
them to 224 with ``int()``). The score maps are the protocol's input to the evaluator,
i.e. CAMs already resized to the evaluation resolution.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, List, Optional, Sequence, Tuple, cast

import numpy as np
import numpy.typing as npt

from . import _arrays, _core, _dask
from ._arrays import Device

__all__ = [
    "BoxAccuracy",
    "BoxEvaluator",
    "PxAPEvaluator",
    "box_accuracy",
    "max_box_acc",
    "max_box_acc_v2",
    "pxap",
    "scoremap_boxes",
    "contour_boxes",
    "default_thresholds",
]


def default_thresholds(interval: float = 0.01) -> npt.NDArray[np.float64]:
    """The protocol's cam thresholds ``np.arange(0, 1, interval)`` (0.01 on its CLI)."""
    return np.arange(0, 1, interval)


# ------------------------------------------------------------------ validation


# Box coordinates up to 2^31 - 1 keep every area and union exact in int64 (exact.hpp).
MAX_COORDINATE = 2**31 - 1


def _thresholds(thresholds: Any, name: str = "thresholds", increasing: bool = False) -> npt.NDArray[np.float64]:
    meaning = "a 1-D sequence of numbers in [0, 1] such as np.arange(0, 1, 0.01)"
    t = default_thresholds() if thresholds is None else _arrays.check_numbers(thresholds, name, meaning)
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of numbers in [0, 1], got shape {t.shape}")
    if not np.isfinite(t).all() or (t < 0).any() or (t > 1).any():
        raise ValueError(f"{name} must lie in [0, 1]; got values from {t.min()} to {t.max()}")
    if increasing and (np.diff(t) <= 0).any():
        raise ValueError(f"{name} must be strictly increasing for PxAP histograms")
    return np.ascontiguousarray(t)


def _iou_thresholds(values: Any) -> npt.NDArray[np.float64]:
    d = _arrays.check_numbers(values, "iou_thresholds", "percentages in [0, 100] such as (30, 50, 70)")
    if d.ndim != 1 or d.size == 0 or not np.isfinite(d).all() or (d < 0).any() or (d > 100).any():
        raise ValueError(f"iou_thresholds must be percentages in [0, 100] such as (30, 50, 70), got {values!r}")
    return np.ascontiguousarray(d)


def _gt_boxes(gt_boxes: Any, batch: int) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(boxes (G, 4) int64, offsets (B + 1,) int64) from a list or an array of boxes."""
    if isinstance(gt_boxes, np.ndarray) and gt_boxes.ndim in (2, 3):
        if gt_boxes.shape[-1] != 4:
            raise ValueError(f"gt_boxes must end in 4 coordinates (x0, y0, x1, y1), got shape {gt_boxes.shape}")
        per_image: Sequence[Any] = list(gt_boxes if gt_boxes.ndim == 3 else gt_boxes[:, None])
    elif isinstance(gt_boxes, (list, tuple)):
        per_image = gt_boxes
    else:
        raise TypeError("gt_boxes must be a list with one (G_i, 4) array per map, or a (B, 4) / (B, G, 4) array")
    if len(per_image) != batch:
        raise ValueError(f"gt_boxes has {len(per_image)} entries but there are {batch} score maps; give one per map")
    parts: List[np.ndarray] = []
    for i, b in enumerate(per_image):
        a = _arrays.to_host(b, f"gt_boxes[{i}]")
        if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
            raise TypeError(f"gt_boxes[{i}] must hold integer coordinates, got dtype {a.dtype}")
        if a.size == 0 or a.size % 4 or (a.ndim == 2 and a.shape[1] != 4) or a.ndim > 2:
            raise ValueError(f"gt_boxes[{i}] must be (G, 4) boxes x0, y0, x1, y1 with G >= 1, got shape {a.shape}")
        parts.append(a.reshape(-1, 4))
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
    boxes = np.concatenate(parts)
    if boxes.dtype.kind == "f":  # compared in float64: float16 cannot even hold MAX_COORDINATE
        boxes = boxes.astype(np.float64)
    # Checked on all boxes at once; the message names the first map at fault.
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(boxes).all(axis=1) & (boxes == np.floor(boxes)).all(axis=1)
        ordered = (boxes >= 0).all(axis=1) & (boxes[:, 2] >= boxes[:, 0]) & (boxes[:, 3] >= boxes[:, 1])
        small = (boxes <= MAX_COORDINATE).all(axis=1)
    for ok, what in ((whole, "must hold whole-number pixel coordinates"),
                     (small, f"coordinates must be at most {MAX_COORDINATE} (2^31 - 1)"),
                     (ordered, "must be non-negative x0 <= x1, y0 <= y1 boxes (inclusive)")):
        if not ok.all():
            i = int(np.searchsorted(offsets, np.argmin(ok), side="right") - 1)
            raise ValueError(f"gt_boxes[{i}] {what}")
    return np.ascontiguousarray(boxes, dtype=np.int64), offsets


def _maps_shape(shape: Tuple[int, ...]) -> Tuple[int, ...]:
    _arrays.check_shape(shape, "scoremaps", (2, 3), "(H, W) or a batch (B, H, W)")
    return shape if len(shape) == 3 else (1,) + tuple(shape)


def _host_maps(scoremaps: Any) -> Tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """(the caller's array on the host, C-contiguous float32/float64 maps (B, H, W))."""
    arr = _arrays.to_host(scoremaps, "scoremaps")
    shape = _maps_shape(arr.shape)
    if shape[1] * shape[2] >= 2**31:
        raise ValueError("scoremaps larger than 2^31 pixels per map are not supported")
    return arr, _arrays.float_array(arr, "scoremaps").reshape(shape)


def _quantize_host(scoremaps: Any, normalize: bool, threads: int) -> npt.NDArray[np.uint8]:
    return _core.quantize_scoremaps(_host_maps(scoremaps)[1], _arrays.check_bool(normalize, "normalize"), threads)


# ------------------------------------------------------------------ boxes


def scoremap_boxes(
    scoremaps: Any, thresholds: Any = None, *, normalize: bool = True, threads: int = 0
) -> npt.NDArray[np.int64]:
    """The protocol's V1 box at every threshold (``compute_bboxes_from_scoremaps``).

    Returns an int64 array (B, T, 4) (or (T, 4) for one map) of ``x0, y0, x1, y1``.
    """
    threads = _arrays.check_threads(threads)
    t = _thresholds(thresholds)
    q = _quantize_host(scoremaps, normalize, threads)
    dummy = np.zeros((q.shape[0], 4), dtype=np.int64)
    offsets = np.arange(q.shape[0] + 1, dtype=np.int64)
    _, boxes = _core.box_correct(q, t, dummy, offsets, np.array([50.0]), False, True, threads)
    return boxes if np.ndim(scoremaps) == 3 else boxes[0]


def contour_boxes(
    scoremap: Any, threshold: float, *, normalize: bool = True
) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """V1 box and the V2 box set (every contour, holes included) of one map at one threshold.

    Returns ``(largest (4,), all (n, 4))`` int64; an empty mask gives ``[0, 0, 0, 0]``.
    """
    threshold = _arrays.check_fraction(threshold, "threshold")
    arr = _arrays.to_host(scoremap, "scoremap")
    _arrays.check_shape(arr.shape, "scoremap", (2,), "a single (H, W) map")
    normalize = _arrays.check_bool(normalize, "normalize")
    try:
        q = _core.quantize_scoremaps(_arrays.float_array(arr, "scoremap")[None], normalize, 1)[0]
    except ValueError as exc:  # the kernel's message names the batch ("scoremaps: map 0")
        raise ValueError(str(exc).replace("scoremaps: map 0", "scoremap", 1)) from None
    largest, every = _core.contour_boxes(q, int(threshold * int(q.max())))
    return largest[0], every


# ------------------------------------------------------------------ box accuracy


@dataclasses.dataclass(frozen=True)
class BoxAccuracy:
    """Localization accuracy of a set of score maps at every cam threshold.

    Attributes:
        thresholds: (T,) cam thresholds.
        iou_thresholds: (D,) IoU thresholds in percent.
        accuracy: (D, T) percentage of maps whose box reaches each IoU threshold.
        top1_accuracy: (D, T) the same, counting only maps whose class is predicted
            correctly (``None`` when no class correctness was given).
        multi_contour: whether all contours were candidates (V2) or only the largest (V1).
        count: number of maps.
    """

    thresholds: npt.NDArray[np.float64]
    iou_thresholds: npt.NDArray[np.float64]
    accuracy: npt.NDArray[np.float64]
    top1_accuracy: Optional[npt.NDArray[np.float64]]
    multi_contour: bool
    count: int

    @property
    def max_box_acc(self) -> npt.NDArray[np.float64]:
        """(D,) best accuracy over thresholds, per IoU threshold."""
        return cast(npt.NDArray[np.float64], self.accuracy.max(axis=1))

    @property
    def best_threshold(self) -> npt.NDArray[np.float64]:
        """(D,) the (first) cam threshold reaching the best accuracy, per IoU threshold."""
        return cast(npt.NDArray[np.float64], self.thresholds[self.accuracy.argmax(axis=1)])

    @property
    def mean_max_box_acc(self) -> float:
        """Mean over IoU thresholds of the best accuracy: MaxBoxAccV2 with V2 and 30/50/70."""
        return float(np.mean(self.max_box_acc))

    def _at(self, iou: Any) -> int:
        iou = _arrays.check_real(iou, "iou")
        hits = np.flatnonzero(self.iou_thresholds == iou)
        if hits.size == 0:
            raise ValueError(f"iou {iou} was not evaluated; evaluated: {self.iou_thresholds.tolist()}")
        return int(hits[0])

    def corloc(self, iou: float = 50, threshold: Optional[float] = None) -> float:
        """Percentage of maps localized with IoU >= iou (GT-known localization) at one cam
        threshold in [0, 1] (the nearest evaluated one; default: the best one for that IoU)."""
        d = self._at(iou)
        if threshold is None:
            t = int(self.accuracy[d].argmax())
        else:
            t = int(np.argmin(np.abs(self.thresholds - _arrays.check_fraction(threshold, "threshold"))))
        return float(self.accuracy[d, t])

    def top1_loc(self, iou: float = 50) -> float:
        """Top-1 localization: percentage of maps with a correct class and IoU >= iou, at the
        cam threshold that maximizes GT-known localization for that IoU."""
        if self.top1_accuracy is None:
            raise ValueError("top-1 localization needs class_correct (one bool per map) when accumulating")
        d = self._at(iou)
        return float(self.top1_accuracy[d, int(self.accuracy[d].argmax())])


class BoxEvaluator:
    """Streaming box evaluator, like wsolevaluation's ``BoxEvaluator``.

    Call :meth:`accumulate` per batch, then :meth:`compute`. CUDA score maps are
    evaluated on the GPU.

    Args:
        thresholds: cam thresholds (default ``np.arange(0, 1, 0.01)``).
        iou_thresholds: IoU thresholds in percent (default 30, 50, 70).
        multi_contour: V2 (all contours, the default) or V1 (largest contour).
        normalize: min-max normalize each map in float64 first (the protocol's
            ``normalize_scoremap``; a map whose max - min overflows float64 is a
            ValueError); otherwise maps must already lie in [0, 1].
        threads: CPU threads (0 = all cores).
    """

    def __init__(
        self,
        thresholds: Any = None,
        iou_thresholds: Sequence[float] = (30, 50, 70),
        *,
        multi_contour: bool = True,
        normalize: bool = True,
        threads: int = 0,
    ):
        self.thresholds = _thresholds(thresholds)
        self.iou_thresholds = _iou_thresholds(iou_thresholds)
        self.multi_contour = _arrays.check_bool(multi_contour, "multi_contour")
        self.normalize = _arrays.check_bool(normalize, "normalize")
        self.threads = _arrays.check_threads(threads)
        shape = (len(self.iou_thresholds), len(self.thresholds))
        self._correct = np.zeros(shape, dtype=np.int64)
        self._top1 = np.zeros(shape, dtype=np.int64)
        self._with_class: Optional[bool] = None  # whether the batches give class_correct
        self._count = 0

    def accumulate(self, scoremaps: Any, gt_boxes: Any, class_correct: Any = None) -> None:
        """Add a batch: scoremaps (B, H, W) or (H, W); gt_boxes one (G_i, 4) per map;
        class_correct optional (B,) bools (top-1 class prediction is right). A Dask array of
        maps (chunked along B) is evaluated chunk by chunk where its chunks are, and only the
        per-threshold counts come back."""
        if _dask.is_dask_array(scoremaps):
            return self._accumulate_dask(scoremaps, gt_boxes, class_correct)
        correct = self._correctness(scoremaps, gt_boxes)
        if class_correct is not None:
            cc = np.asarray(_arrays.to_host(class_correct, "class_correct")).reshape(-1)
            if cc.shape[0] != correct.shape[0]:
                raise ValueError(f"class_correct has {cc.shape[0]} entries for {correct.shape[0]} maps")
            if cc.dtype != np.bool_ and not np.isin(cc, (0, 1)).all():
                raise ValueError("class_correct must hold booleans (or 0/1)")
            cc = cc.astype(bool)
        if self._with_class is None:
            self._with_class = class_correct is not None
        elif self._with_class != (class_correct is not None):
            raise ValueError("give class_correct for every batch or for none")
        self._correct += correct.sum(axis=0)
        if class_correct is not None:
            self._top1 += (correct & cc[:, None, None]).sum(axis=0)
        self._count += correct.shape[0]

    def _accumulate_dask(self, scoremaps: Any, gt_boxes: Any, class_correct: Any) -> None:
        maps = _dask.batch_chunked(scoremaps, "scoremaps", (3,), "a batch (B, H, W) of score maps")
        boxes = list(gt_boxes)
        if len(boxes) != maps.shape[0]:
            raise ValueError(f"gt_boxes has {len(boxes)} entries for {maps.shape[0]} maps")
        cc = None if class_correct is None else np.asarray(_arrays.to_host(
            class_correct.compute() if _dask.is_dask_array(class_correct) else class_correct, "class_correct"))
        if self._with_class is not None and self._with_class != (cc is not None):
            raise ValueError("give class_correct for every batch or for none")
        chunk = functools.partial(_chunk_box_counts, self.thresholds, self.iou_thresholds, self.multi_contour,
                                  self.normalize)
        correct, top1, count = _dask.sum_over_batches(maps, (boxes, cc), chunk)
        self._with_class = cc is not None
        self._correct += correct
        self._top1 += top1
        self._count += int(count)

    def _correctness(self, scoremaps: Any, gt_boxes: Any) -> npt.NDArray[np.bool_]:
        args = (self.thresholds, self.iou_thresholds, self.multi_contour)
        if _arrays.is_cuda_array(scoremaps):
            return _cuda_correct(scoremaps, gt_boxes, self.normalize, *args)
        arr, maps = _host_maps(scoremaps)
        boxes, offsets = _gt_boxes(gt_boxes if arr.ndim == 3 else [gt_boxes], maps.shape[0])
        correct = _core.box_correct_maps(maps, self.normalize, args[0], boxes, offsets, args[1], args[2], self.threads)
        return correct.astype(bool)

    def compute(self) -> BoxAccuracy:
        if self._count == 0:
            raise ValueError("no score maps were accumulated; call accumulate() first")
        def percent(counts: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
            # the protocol's order of operations; int64 * float is float64 (numpy's stubs say floating)
            return cast(npt.NDArray[np.float64], counts * 100.0 / float(self._count))

        return BoxAccuracy(
            thresholds=self.thresholds,
            iou_thresholds=self.iou_thresholds,
            accuracy=percent(self._correct),
            top1_accuracy=percent(self._top1) if self._with_class else None,
            multi_contour=self.multi_contour,
            count=self._count,
        )


def _chunk_box_counts(thresholds: Any, iou_thresholds: Any, multi_contour: bool, normalize: bool,
                      maps: npt.NDArray[Any], gt_boxes: Any, class_correct: Any) -> Tuple[Any, Any, int]:
    """One batch chunk's (correct, top1) counts per (IoU, threshold) and its map count."""
    ev = BoxEvaluator(thresholds, iou_thresholds, multi_contour=multi_contour, normalize=normalize, threads=1)
    ev.accumulate(np.asarray(maps), gt_boxes, class_correct)
    return ev._correct, ev._top1, ev._count


def _cuda_correct(
    scoremaps: Any, gt_boxes: Any, normalize: bool, thresholds: npt.NDArray[np.float64],
    iou_thresholds: npt.NDArray[np.float64], multi_contour: bool,
) -> npt.NDArray[np.bool_]:
    with Device(scoremaps, "scoremaps") as dev:
        maps = dev.contiguous(dev.wrap(scoremaps))
        shape = _maps_shape(tuple(maps.shape))
        dtype = dev.dtype(maps)
        _arrays.real_dtype(dtype, "scoremaps")
        if dtype not in (np.float32, np.float64):
            maps = maps.double() if dev.torch is not None else maps.astype(np.float64)
            dtype = np.dtype(np.float64)
        batch, h, w = shape
        boxes, offsets = _gt_boxes(gt_boxes if len(maps.shape) == 3 else [gt_boxes], batch)
        q = dev.empty(shape, np.uint8)
        dev.module.quantize_scoremaps(
            dev.ptr(maps), int(dtype == np.float64), batch, h * w, normalize, dev.ptr(q), dev.stream
        )
        d_t, d_boxes, d_offsets, d_iou = (dev.asarray(a) for a in (thresholds, boxes, offsets, iou_thresholds))
        correct = dev.empty((batch, len(iou_thresholds), len(thresholds)), np.uint8)
        dev.module.box_correct(
            dev.ptr(q), batch, h, w, dev.ptr(d_t), len(thresholds), dev.ptr(d_boxes), dev.ptr(d_offsets),
            dev.ptr(d_iou), len(iou_thresholds), multi_contour, dev.ptr(correct), 0, dev.stream,
        )
        return dev.to_host(correct).astype(bool)


def box_accuracy(
    scoremaps: Any,
    gt_boxes: Any,
    *,
    thresholds: Any = None,
    iou_thresholds: Sequence[float] = (30, 50, 70),
    multi_contour: bool = True,
    normalize: bool = True,
    class_correct: Any = None,
    threads: int = 0,
) -> BoxAccuracy:
    """Evaluate score maps in one call; see :class:`BoxEvaluator` for the arguments."""
    ev = BoxEvaluator(thresholds, iou_thresholds, multi_contour=multi_contour, normalize=normalize, threads=threads)
    ev.accumulate(scoremaps, gt_boxes, class_correct)
    return ev.compute()


def max_box_acc(scoremaps: Any, gt_boxes: Any, **kwargs: Any) -> float:
    """MaxBoxAcc (V1): largest contour, IoU >= 0.5, best cam threshold; in percent."""
    return float(box_accuracy(scoremaps, gt_boxes, iou_thresholds=(50,), multi_contour=False, **kwargs).max_box_acc[0])


def max_box_acc_v2(scoremaps: Any, gt_boxes: Any, **kwargs: Any) -> float:
    """MaxBoxAccV2: all contours, mean over IoU 30/50/70 of the best accuracy; in percent."""
    return box_accuracy(scoremaps, gt_boxes, iou_thresholds=(30, 50, 70), multi_contour=True, **kwargs).mean_max_box_acc


# ------------------------------------------------------------------ PxAP


class PxAPEvaluator:
    """Pixel average precision (wsolevaluation's ``MaskEvaluator``), streaming.

    Args:
        thresholds: strictly increasing thresholds (default ``np.arange(0, 1, 0.01)``); the
            histogram bins are the thresholds followed by 1, 2 and 3.
        normalize: min-max normalize each map in float64 first (the protocol does).
        threads: CPU threads (0 = all cores).
    """

    def __init__(self, thresholds: Any = None, *, normalize: bool = True, threads: int = 0):
        self.thresholds = _thresholds(thresholds, increasing=True)
        self.edges = np.ascontiguousarray(np.append(self.thresholds, [1.0, 2.0, 3.0]))
        self.normalize = _arrays.check_bool(normalize, "normalize")
        self.threads = _arrays.check_threads(threads)
        self._true = np.zeros(len(self.edges) - 1, dtype=np.int64)
        self._false = np.zeros(len(self.edges) - 1, dtype=np.int64)

    def accumulate(self, scoremaps: Any, gt_masks: Any) -> None:
        """scoremaps (B, H, W) or (H, W); gt_masks the same shape: 1 (or True) foreground,
        0 background, 255 ignored. Dask arrays (chunked along B) are reduced chunk by chunk
        to the two histograms."""
        if _dask.is_dask_array(scoremaps):
            maps = _dask.batch_chunked(scoremaps, "scoremaps", (3,), "a batch (B, H, W) of score maps")
            if not _dask.is_dask_array(gt_masks) or tuple(gt_masks.shape) != tuple(maps.shape):
                raise ValueError(f"gt_masks must be a Dask array of the scoremaps' shape {maps.shape}, got "
                                 f"{type(gt_masks).__name__} {getattr(gt_masks, 'shape', None)}")
            chunk = functools.partial(_chunk_histograms, self.thresholds, self.normalize)
            masks = gt_masks.rechunk(maps.chunks)
            true, false = _dask.sum_over_batches(maps, (_dask.ChunkSlices(masks),), chunk)
            self._true += true
            self._false += false
            return
        arr, maps = _host_maps(scoremaps)
        shape = maps.shape
        masks = _arrays.to_host(gt_masks, "gt_masks")
        if masks.size != maps.size or masks.shape[-2:] != maps.shape[-2:]:
            raise ValueError(f"gt_masks must have the scoremaps' shape {arr.shape}, got {masks.shape}")
        if masks.dtype == np.bool_:
            masks = masks.view(np.uint8)
        elif not np.issubdtype(masks.dtype, np.integer) or not np.isin(masks, (0, 1, 255)).all():
            raise ValueError("gt_masks must hold 0 (background), 1 (foreground) or 255 (ignore)")
        masks = np.ascontiguousarray(masks.astype(np.uint8, copy=False)).reshape(shape)
        if self.normalize:
            scores = _core.normalize_scoremaps(maps, self.threads)
        else:
            if not np.isfinite(maps).all() or (maps < 0).any() or (maps > 1).any():
                raise ValueError("scoremaps must be finite and lie in [0, 1]; pass normalize=True to normalize them")
            scores = np.ascontiguousarray(maps, dtype=np.float64)
        t, f = _core.pxap_histograms(scores, masks, self.edges, self.threads)
        self._true += t
        self._false += f

    def compute(self) -> float:
        """Area under the pixel precision-recall curve, in percent."""
        true_hist = self._true.astype(np.float64)
        false_hist = self._false.astype(np.float64)
        tp = true_hist[::-1].cumsum()
        fn = true_hist.sum() - tp
        fp = false_hist[::-1].cumsum()
        if ((tp + fn) <= 0).all():
            raise ValueError("no foreground ground-truth pixel was accumulated (gt_masks == 1 with a score at or "
                             "above the first threshold)")
        if ((tp + fp) <= 0).all():
            raise ValueError("no positive prediction was accumulated")
        nonzero = (tp + fp) != 0
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = tp / (tp + fp)
            recall = tp / (tp + fn)
        return float((precision[1:] * np.diff(recall))[nonzero[1:]].sum() * 100)


def _chunk_histograms(thresholds: Any, normalize: bool, maps: npt.NDArray[Any], masks: Any) -> Tuple[Any, Any]:
    ev = PxAPEvaluator(thresholds, normalize=normalize, threads=1)
    ev.accumulate(np.asarray(maps), np.asarray(masks))
    return ev._true, ev._false


def pxap(scoremaps: Any, gt_masks: Any, *, thresholds: Any = None, normalize: bool = True, threads: int = 0) -> float:
    """PxAP of score maps against ground-truth masks in one call (see :class:`PxAPEvaluator`)."""
    ev = PxAPEvaluator(thresholds, normalize=normalize, threads=threads)
    ev.accumulate(scoremaps, gt_masks)
    return ev.compute()
