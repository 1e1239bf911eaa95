"""weaksup: fast kernels for weakly supervised learning.

NumPy arrays run multithreaded C++ kernels (the GIL is released); CuPy arrays, torch CUDA
tensors and other CUDA arrays run CUDA kernels on the caller's stream, and results come
back as the caller's array type.
"""

from ._arrays import cuda_available, cuda_built
from .crf import DenseCRF, crf_inference, crf_labels, dense_crf
from .labelmodel import LabelModel, probabilities_to_labels
from .components import Components, cam_to_boxes, component_stats, keep_largest, label, largest_components
from .wsol import (
    BoxAccuracy,
    BoxEvaluator,
    PxAPEvaluator,
    box_accuracy,
    max_box_acc,
    max_box_acc_v2,
    pxap,
    scoremap_boxes,
)

__version__ = "0.1.0"

__all__ = [
    "BoxAccuracy",
    "BoxEvaluator",
    "Components",
    "LabelModel",
    "DenseCRF",
    "PxAPEvaluator",
    "box_accuracy",
    "cam_to_boxes",
    "component_stats",
    "crf_inference",
    "crf_labels",
    "cuda_available",
    "cuda_built",
    "dense_crf",
    "keep_largest",
    "label",
    "largest_components",
    "max_box_acc",
    "max_box_acc_v2",
    "probabilities_to_labels",
    "pxap",
    "scoremap_boxes",
]
