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
) -> npt.NDArray[np.float32]: ...

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
def rank_pool(
    values: npt.NDArray[np.floating], q: npt.NDArray[np.float64], threads: int
) -> tuple[npt.NDArray[np.floating], npt.NDArray[np.int64]]: ...
def rank_pool_grad(
    grad: npt.NDArray[np.floating], order: npt.NDArray[np.int64], q: npt.NDArray[np.float64], threads: int
) -> npt.NDArray[np.floating]: ...
