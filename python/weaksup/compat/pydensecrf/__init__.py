"""pydensecrf on weaksup's kernels: ``import weaksup.compat.pydensecrf.densecrf as dcrf``.

Same classes, methods, argument orders, defaults and constants as pydensecrf (pydensecrf2),
the same numbers (to float rounding), multithreaded with the GIL released. It also
accepts what pydensecrf rejects: float64 and other real dtypes, non-contiguous arrays,
non-uint8 images.
"""

from . import densecrf, utils

__all__ = ["densecrf", "utils"]
