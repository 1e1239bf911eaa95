"""PyTorch ops with gradients for weakly supervised segmentation training (needs torch,
an optional dependency): SEC's seed / expand / constrain losses, DSRG's seeded region
growing, rloss's dense-CRF loss and a differentiable dense-CRF mean-field. Tensors stay on
their device; results are torch tensors."""

try:
    import torch as _torch  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("weaksup.torch needs PyTorch: pip install torch") from e

from ._crf import crf_mean_field, dense_crf_loss  # noqa: E402
from ._growing import region_growing, region_growing_crf  # noqa: E402
from ._sec import constrain_loss, constrain_target, expand_loss, kl_to_target, rank_pooling, seed_loss  # noqa: E402

__all__ = ["seed_loss", "expand_loss", "constrain_loss", "constrain_target", "kl_to_target", "rank_pooling",
           "region_growing", "region_growing_crf", "crf_mean_field", "dense_crf_loss"]
