"""Private C++ kernels; use the weaksup package. Arrays must already be C-contiguous with these dtypes."""

from typing import Any, List, Literal, Optional, Tuple, Union, overload

import numpy as np
import numpy.typing as npt

# label: labels are int32, int64 from 2^31 pixels per volume on (or with wide=True); None
# without want_labels. With want_stats the tuple also holds area (K,), box (K, 6) x0 y0 z0
# x1 y1 z1, centroid (K, 3) and image (K,).
_Labels = Optional[npt.NDArray[Union[np.int32, np.int64]]]
_I64 = npt.NDArray[np.int64]
_LabelOut = Tuple[_Labels, _I64]
_LabelStatsOut = Tuple[_Labels, _I64, _I64, _I64, npt.NDArray[np.float64], _I64]

@overload
def label(
    mask: npt.NDArray[np.uint8], connectivity: int, want_labels: bool, want_stats: Literal[False], threads: int,
    wide: bool = False,
) -> _LabelOut: ...
@overload
def label(
    mask: npt.NDArray[np.uint8], connectivity: int, want_labels: bool, want_stats: Literal[True], threads: int,
    wide: bool = False,
) -> _LabelStatsOut: ...
@overload
def label(
    mask: npt.NDArray[np.uint8], connectivity: int, want_labels: bool, want_stats: bool, threads: int,
    wide: bool = False,
) -> Union[_LabelOut, _LabelStatsOut]: ...
def region_growing(
    probs: Union[npt.NDArray[np.float32], npt.NDArray[np.float64]], seeds: npt.NDArray[np.uint8],
    present: Optional[npt.NDArray[np.uint8]], fg_threshold: float, bg_threshold: float, threads: int,
) -> tuple[npt.NDArray[np.uint8], tuple[float, float, float, bool], bool]: ...
@overload
def cam_to_boxes(
    cams: npt.NDArray[np.float32], threshold: float, normalization: int, connectivity: int, threads: int
) -> npt.NDArray[np.int64]: ...
@overload
def cam_to_boxes(
    cams: npt.NDArray[np.float64], threshold: float, normalization: int, connectivity: int, threads: int
) -> npt.NDArray[np.int64]: ...
def quantize_scoremaps(maps: npt.NDArray[np.floating], normalize: bool, threads: int) -> npt.NDArray[np.uint8]: ...
def normalize_scoremaps(maps: npt.NDArray[np.floating], threads: int) -> npt.NDArray[np.float64]: ...
def contour_boxes(
    quantized: npt.NDArray[np.uint8], level: int
) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
@overload
def box_correct(
    quantized: npt.NDArray[np.uint8],
    thresholds: npt.NDArray[np.float64],
    gt_boxes: npt.NDArray[np.int64],
    gt_offsets: npt.NDArray[np.int64],
    iou_thresholds: npt.NDArray[np.float64],
    multi_contour: bool,
    want_boxes: Literal[True],
    threads: int,
) -> Tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]: ...
@overload
def box_correct(
    quantized: npt.NDArray[np.uint8],
    thresholds: npt.NDArray[np.float64],
    gt_boxes: npt.NDArray[np.int64],
    gt_offsets: npt.NDArray[np.int64],
    iou_thresholds: npt.NDArray[np.float64],
    multi_contour: bool,
    want_boxes: Literal[False],
    threads: int,
) -> Tuple[npt.NDArray[np.uint8], None]: ...
@overload
def box_correct(
    quantized: npt.NDArray[np.uint8],
    thresholds: npt.NDArray[np.float64],
    gt_boxes: npt.NDArray[np.int64],
    gt_offsets: npt.NDArray[np.int64],
    iou_thresholds: npt.NDArray[np.float64],
    multi_contour: bool,
    want_boxes: bool,
    threads: int,
) -> Tuple[npt.NDArray[np.uint8], Optional[npt.NDArray[np.int64]]]: ...
def box_correct_maps(
    maps: npt.NDArray[np.floating],
    normalize: bool,
    thresholds: npt.NDArray[np.float64],
    gt_boxes: npt.NDArray[np.int64],
    gt_offsets: npt.NDArray[np.int64],
    iou_thresholds: npt.NDArray[np.float64],
    multi_contour: bool,
    threads: int,
) -> npt.NDArray[np.uint8]: ...
def pxap_histograms(
    scores: npt.NDArray[np.float64], masks: npt.NDArray[np.uint8], edges: npt.NDArray[np.float64], threads: int
) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...

# Dense CRF. A pairwise term is (kernel, compat kind 0/1/2 = Potts/diagonal/matrix, float32 values).
Term = Tuple["PairwiseKernel", int, npt.NDArray[np.float32]]

def max_feature(dims: int) -> float: ...

class PairwiseKernel:
    def __init__(self, features: npt.NDArray[np.float32], normalization: int, threads: int) -> None: ...
    @property
    def points(self) -> int: ...
    @property
    def dims(self) -> int: ...
    @property
    def vertices(self) -> int: ...
    def filter(self, values: npt.NDArray[np.float32], threads: int) -> npt.NDArray[np.float32]: ...

def mean_field(
    unary: npt.NDArray[np.float32], terms: List[Term], iterations: int, threads: int
) -> npt.NDArray[np.float32]: ...
def mean_field_start(unary: npt.NDArray[np.float32], threads: int) -> npt.NDArray[np.float32]: ...
def mean_field_step(
    unary: npt.NDArray[np.float32], q: npt.NDArray[np.float32], terms: List[Term], threads: int
) -> None: ...
def kl_divergence(
    unary: npt.NDArray[np.float32], q: npt.NDArray[np.float32], terms: List[Term], threads: int
) -> float: ...
def dense_crf_images(
    images: npt.NDArray[np.float32],
    spatial: List[int],
    unary: npt.NDArray[np.float32],
    probabilities: bool,
    clip: float,
    gaussian: Optional[Tuple[List[float], None, int, npt.NDArray[np.float32]]],
    bilateral: Optional[Tuple[List[float], List[float], int, npt.NDArray[np.float32]]],
    normalization: int,
    iterations: int,
    threads: int,
    want_history: bool = False,
) -> Any: ...  # q (B, P, L); with want_history, (q, history (B, iterations, P, L))
def image_features(
    spatial: List[int], sigma: List[float], image: Optional[npt.NDArray[np.float32]], color_sigma: List[float]
) -> npt.NDArray[np.float32]: ...

class KernelBatch:
    """One normalized lattice kernel per image, or one for all (cpp/lattice_filter.hpp)."""
    def __init__(self, features: npt.NDArray[np.float32], normalization: int, threads: int) -> None: ...
    @staticmethod
    def of_images(images: npt.NDArray[np.float32], spatial: List[int], sigma: List[float], color_sigma: List[float],
                  normalization: int, threads: int) -> "KernelBatch": ...
    @property
    def kernels(self) -> int: ...
    @property
    def points(self) -> int: ...
    @overload
    def filter(self, values: npt.NDArray[np.float32], transpose: bool,  # type: ignore[overload-overlap]
               threads: int) -> npt.NDArray[np.float32]: ...
    @overload
    def filter(self, values: npt.NDArray[np.float64], transpose: bool, threads: int) -> npt.NDArray[np.float64]: ...

def batch_mean_field(
    unary: npt.NDArray[np.float32], terms: List[Tuple[KernelBatch, int, npt.NDArray[np.float32]]], iterations: int,
    threads: int,
) -> Tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]: ...
def mean_field_backward(
    history: npt.NDArray[Any], q: npt.NDArray[Any], grad: npt.NDArray[Any],
    terms: List[Tuple[KernelBatch, int, npt.NDArray[Any], bool]], threads: int,
) -> Tuple[npt.NDArray[Any], List[Optional[npt.NDArray[Any]]]]: ...

class VotePatterns:
    """Distinct rows of a label matrix with their counts (see cpp/label_model.hpp)."""
    rows: int
    sources: int
    classes: int
    @property
    def patterns(self) -> int: ...
    @property
    def counts(self) -> npt.NDArray[np.float64]: ...
    @property
    def row_pattern(self) -> npt.NDArray[np.int64]: ...
    @property
    def offsets(self) -> npt.NDArray[np.int64]: ...
    @property
    def codes(self) -> npt.NDArray[np.int32]: ...

def collapse_dense(labels: npt.NDArray[np.signedinteger], classes: int, threads: int) -> VotePatterns: ...
def collapse_codes(
    row_offsets: npt.NDArray[np.int64], codes: npt.NDArray[np.int32], sources: int, classes: int, threads: int
) -> VotePatterns: ...
def merge_patterns(
    offsets: npt.NDArray[np.int64], codes: npt.NDArray[np.int32], counts: npt.NDArray[np.float64], rows: int,
    sources: int, classes: int, threads: int,
) -> VotePatterns: ...
def pattern_scores(
    patterns: VotePatterns, weights: npt.NDArray[np.float64], bias: npt.NDArray[np.float64], softmax: bool, threads: int
) -> npt.NDArray[np.float64]: ...
def em_statistics(
    patterns: VotePatterns, weights: npt.NDArray[np.float64], bias: npt.NDArray[np.float64], threads: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], float]: ...
def majority_statistics(
    patterns: VotePatterns, empty: npt.NDArray[np.float64], threads: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
def rule_statistics(
    patterns: VotePatterns, weights: npt.NDArray[np.float64], bias: npt.NDArray[np.float64],
    rules: npt.NDArray[np.uint8], threads: int
) -> npt.NDArray[np.float64]: ...
def class_marginal(
    patterns: VotePatterns, weights: npt.NDArray[np.float64], bias: npt.NDArray[np.float64], threads: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], float]: ...
@overload
def rank_pool(  # type: ignore[overload-overlap]
    values: npt.NDArray[np.float32], q: npt.NDArray[np.float64], threads: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]: ...
@overload
def rank_pool(
    values: npt.NDArray[np.float64], q: npt.NDArray[np.float64], threads: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]: ...
@overload
def rank_pool_grad(  # type: ignore[overload-overlap]
    grad: npt.NDArray[np.float32], order: npt.NDArray[np.int64], q: npt.NDArray[np.float64], threads: int
) -> npt.NDArray[np.float32]: ...
@overload
def rank_pool_grad(
    grad: npt.NDArray[np.float64], order: npt.NDArray[np.int64], q: npt.NDArray[np.float64], threads: int
) -> npt.NDArray[np.float64]: ...
