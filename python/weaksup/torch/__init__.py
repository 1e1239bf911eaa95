"""PyTorch ops with gradients for weakly supervised segmentation training (needs torch,
an optional dependency): SEC's seed / expand / constrain losses, DSRG's seeded region
growing, rloss's dense-CRF loss and a differentiable dense-CRF mean-field. Tensors stay on
their device; results are torch tensors."""

try:
    import torch as _torch  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("weaksup.torch needs PyTorch: pip install torch") from e

from ._growing import region_growing, region_growing_crf

__all__ = ["region_growing", "region_growing_crf"]
