import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import strategies as st
import weaksup

try:  # in the test extras; a bare GPU image may lack it (test_gpu.py does not need it)
    from hypothesis import settings
except ImportError:
    pass
else:
    settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)
    settings.load_profile("ci")

SHARED_DATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"


def gpu_ready() -> bool:
    if not weaksup.cuda_available():
        return False
    try:
        import cupy  # noqa: F401
    except ImportError:
        return False
    return True


requires_gpu = pytest.mark.skipif(not gpu_ready(), reason="needs a CUDA device, the CUDA build and CuPy")

# .ci/sanitize sets WEAKSUP_SANITIZED=1 when it runs this suite against the AddressSanitizer +
# UBSan build of weaksup (libasan preloaded into an unsanitized Python).
SANITIZED = os.environ.get("WEAKSUP_SANITIZED") == "1"


def not_under_sanitizer(reason: str):
    """Mark a test that cannot work in the sanitizer run: it skips there, saying why."""
    return pytest.mark.skipif(SANITIZED, reason=f"not under AddressSanitizer: {reason}")


@pytest.fixture
def rng():
    return np.random.default_rng(20261124)


def canonical(labels: np.ndarray) -> np.ndarray:
    """Relabel 1..K in raster order of each component's first pixel (0 stays 0)."""
    flat = labels.ravel()
    values, first = np.unique(flat, return_index=True)
    keep = values > 0
    order = np.argsort(first[keep])
    mapping = np.zeros(int(values.max()) + 1 if values.size else 1, dtype=np.int64)
    mapping[values[keep][order]] = np.arange(1, order.size + 1)
    return mapping[labels]


def speckled(rng, shape, density):
    """Random mask with some larger blobs: mixes isolated pixels and big components."""
    noise = rng.random(shape) < density
    blobs = rng.random(tuple(max(1, s // 4) for s in shape)) < 0.5
    big = np.kron(blobs, np.ones((4,) * len(shape), dtype=bool))[tuple(slice(0, s) for s in shape)]
    out = noise.copy()
    out[tuple(slice(0, s) for s in big.shape)] |= big
    return out


def assert_no_crash(setup: str, bad_calls: list, valid: str = "") -> None:
    """In a fresh interpreter with faulthandler on: after `setup`, every expression in
    `bad_calls` must raise ValueError or TypeError, then `valid` must run; no crash."""
    calls = "".join(f"    lambda: {call},\n" for call in bad_calls)
    code = textwrap.dedent(setup) + "\nbad_calls = [\n" + calls + "]\n" + textwrap.dedent(
        """
        for call in bad_calls:
            try:
                call()
            except (ValueError, TypeError):
                pass
            else:
                raise SystemExit("no error raised")
        """
    ) + textwrap.dedent(valid) + "\nprint('ok')\n"
    out = subprocess.run([sys.executable, "-X", "faulthandler", "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


SHARED_DATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"


def wrench(name, split="train"):
    """A WRENCH set's (L, y) from ../shared/data (the test skips where the folder is absent)."""
    from weaksup.bench.labelmodel_peers import load_wrench

    if not (SHARED_DATA / f"wrench_{name}" / f"{split}.json").is_file():
        pytest.skip(f"{SHARED_DATA} is absent (the shared data folder)")
    return load_wrench(name, split, SHARED_DATA)


@st.composite
def label_matrices(draw, max_n=25, max_m=6):
    """(L, Y, k): a small label matrix (-1 = abstain, some rows all-abstain) with gold labels
    (-1 = unknown), for hypothesis tests of the label models and source analysis."""
    k = draw(st.integers(2, 4))
    n = draw(st.integers(1, max_n))
    m = draw(st.integers(1, max_m))
    abstain = draw(st.sampled_from([0.0, 0.4, 0.8, 1.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    L = rng.integers(0, k, size=(n, m))
    L[rng.random((n, m)) < abstain] = -1
    Y = rng.integers(-1, k, size=n)
    return L, Y, k
