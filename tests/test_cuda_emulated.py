"""The CUDA kernels, run without a GPU: cuda/*.cu compiled as C++ against a host
emulation of the CUDA runtime (tests/cuda_emulator) and compared with the CPU kernels
of cpp/ bit for bit. This keeps the CUDA logic tested on machines without a device."""

import os
import pathlib
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import SANITIZED

ROOT = pathlib.Path(__file__).resolve().parents[1]
EMULATOR = ROOT / "tests" / "cuda_emulator"
ITERATIONS = 40  # a few seconds on 2 cores; the driver defaults to 200

CXX = shutil.which("g++") or shutil.which("c++")
FLAGS = ["-std=c++17", "-O1", "-pthread", "-Wall", "-Wextra"]
INCLUDES = ["-I", str(EMULATOR / "shim"), "-I", str(ROOT / "cuda"), "-I", str(ROOT / "cpp")]
# Few blocks per launch and little labelling scratch, so that the grid-stride loops
# and box_correct's chunking run on small inputs.
EMULATION = ["-DWEAKSUP_CUDA_EMULATION", "-DWEAKSUP_MAX_BLOCKS=3", "-DWEAKSUP_SCRATCH_BYTES=84000"]
# In the sanitizer run (.ci/sanitize) the emulator is an ASan + UBSan program too, so that the
# CUDA kernels' host emulation is checked for out-of-bounds accesses and undefined behaviour.
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g"]
if SANITIZED:
    FLAGS += SANITIZE
# The compiler is not under test: no libasan preloaded into it (the emulator links its own).
COMPILER_ENV = {key: value for key, value in os.environ.items() if key != "LD_PRELOAD"}


def _compile(source: pathlib.Path, obj: pathlib.Path, extra: list) -> None:
    cmd = [CXX, *FLAGS, *extra, *INCLUDES, "-c", str(source), "-o", str(obj)]
    result = subprocess.run(cmd, capture_output=True, text=True, env=COMPILER_ENV)
    assert result.returncode == 0, f"{' '.join(cmd)}\n{result.stderr}"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("cuda_emulator")
    jobs = [(src, out / f"cuda_{src.stem}.o", ["-x", "c++", *EMULATION]) for src in sorted(ROOT.glob("cuda/*.cu"))]
    jobs += [(src, out / f"cpp_{src.stem}.o", []) for src in sorted(ROOT.glob("cpp/*.cpp"))]
    jobs.append((EMULATOR / "emulate.cpp", out / "emulate.o", EMULATION))
    with ThreadPoolExecutor(max_workers=2) as pool:  # each job is a compiler process
        list(pool.map(lambda job: _compile(*job), jobs))
    exe = out / "emulate"
    link = [CXX, "-pthread", *(SANITIZE if SANITIZED else []), *(str(obj) for _, obj, _ in jobs), "-o", str(exe)]
    result = subprocess.run(link, capture_output=True, text=True, env=COMPILER_ENV)
    assert result.returncode == 0, f"{' '.join(link)}\n{result.stderr}"
    return exe


@pytest.mark.skipif(CXX is None, reason="needs a C++ compiler (g++ or c++)")
def test_emulated_cuda_matches_cpu(emulator):
    result = subprocess.run([str(emulator), str(ITERATIONS)], capture_output=True, text=True, timeout=300)
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0 and lines and lines[-1].startswith("emulated CUDA == CPU:"), (
        f"exit status {result.returncode}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    assert ", 0 failures" in lines[-1], lines[-1]
