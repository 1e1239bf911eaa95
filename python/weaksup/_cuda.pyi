"""Private CUDA kernels; use the weaksup package. Pointers are device addresses, stream a cudaStream_t."""

def device_count() -> int: ...
def label(
    mask_ptr: int, labels_ptr: int, counts_ptr: int, batch: int, height: int, width: int, connectivity: int, stream: int
) -> None: ...
def component_stats(
    labels_ptr: int, batch: int, height: int, width: int, offsets_ptr: int, area_ptr: int, box_ptr: int,
    centroid_ptr: int, stream: int,
) -> None: ...
def cam_to_boxes(
    cams_ptr: int, dtype: int, batch: int, height: int, width: int, threshold: float, normalization: int,
    connectivity: int, boxes_ptr: int, stream: int,
) -> None: ...
def region_growing(
    probs_ptr: int, dtype: int, seeds_ptr: int, present_ptr: int, batch: int, classes: int, height: int, width: int,
    fg_threshold: float, bg_threshold: float, out_ptr: int, stream: int,
) -> None: ...
def quantize_scoremaps(
    maps_ptr: int, dtype: int, batch: int, pixels: int, normalize: bool, out_ptr: int, stream: int
) -> None: ...
def box_correct(
    quantized_ptr: int, batch: int, height: int, width: int, thresholds_ptr: int, n_thresholds: int,
    gt_boxes_ptr: int, gt_offsets_ptr: int, iou_ptr: int, n_iou: int, multi_contour: bool, correct_ptr: int,
    boxes_ptr: int, stream: int,
) -> None: ...
def dense_crf_images(
    images_ptr: int, batch: int, spatial: list[int], channels: int, unary_ptr: int, labels: int,
    gaussian: tuple[list[float], int, list[float]] | None,
    bilateral: tuple[list[float], list[float], int, list[float]] | None,
    normalization: int, iterations: int, out_ptr: int, stream: int,
) -> None: ...
class LatticeBatch:
    def __init__(
        self, images_ptr: int, batch: int, spatial: list[int], channels: int, sigma: list[float],
        color_sigma: list[float], normalization: int, stream: int,
    ) -> None: ...
    def filter(self, in_ptr: int, out_ptr: int, dtype: int, value_channels: int, transpose: bool) -> None: ...
def label_model_check(
    labels_ptr: int, n: int, m: int, row_stride: int, col_stride: int, k: int, itemsize: int, out3_ptr: int,
    stream: int,
) -> None: ...
def label_model_statistics(
    labels_ptr: int, n: int, m: int, row_stride: int, col_stride: int, k: int, itemsize: int, weights_ptr: int,
    bias_ptr: int, vote_class_ptr: int, class_total_ptr: int, log_likelihood_ptr: int, stream: int,
) -> None: ...
def label_model_majority_statistics(
    labels_ptr: int, n: int, m: int, row_stride: int, col_stride: int, k: int, itemsize: int, empty_ptr: int,
    vote_class_ptr: int, class_total_ptr: int, stream: int,
) -> None: ...
def label_model_marginal(
    labels_ptr: int, n: int, m: int, row_stride: int, col_stride: int, k: int, itemsize: int, weights_ptr: int,
    bias_ptr: int, marginal_ptr: int, hessian_ptr: int, log_likelihood_ptr: int, stream: int,
) -> None: ...
def label_model_scores(
    labels_ptr: int, n: int, m: int, row_stride: int, col_stride: int, k: int, itemsize: int, weights_ptr: int,
    bias_ptr: int, softmax: bool, out_ptr: int, stream: int,
) -> None: ...
