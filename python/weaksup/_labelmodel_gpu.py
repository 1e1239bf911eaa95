"""Label-model EM on CUDA arrays: the dense label matrix stays on the device (no collapsing),
the E-step and the M-step's sums run in weaksup's CUDA kernels and the M-step itself in CuPy."""

from __future__ import annotations

from typing import Any, Optional

from . import _arrays


class GpuVotes:
    """The EM loop's view of a CUDA label matrix (see labelmodel._CpuVotes for the CPU twin)."""

    def __init__(self, L: Any, cardinality: int, name: str, n_sources: Optional[int] = None):
        self.device = _arrays.Device(L, name)  # TypeError without a CUDA build or device
        raise TypeError(f"{name} is a CUDA array: the CUDA label model is not available in this build; "
                        f"pass a NumPy array (cupy.asnumpy({name}) or {name}.cpu().numpy())")
