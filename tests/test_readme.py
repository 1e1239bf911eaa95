"""README runs as written: every ```python block runs on its own in a fresh interpreter, and
mypy --strict accepts it."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.S | re.M)


def _id(block: str) -> str:
    first = next(line for line in block.splitlines() if line.strip())
    return re.sub(r"\W+", "_", first.strip("# "))[:40]


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("block", BLOCKS, ids=[_id(b) for b in BLOCKS])
def test_block_runs_on_its_own(block, tmp_path):
    script = tmp_path / "block.py"
    script.write_text(block)
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env=dict(os.environ))
    assert run.returncode == 0, run.stderr[-3000:]


@pytest.mark.parametrize("block", BLOCKS, ids=[_id(b) for b in BLOCKS])
def test_block_type_checks(block, tmp_path):
    from test_types import mypy_strict

    script = tmp_path / "block.py"
    script.write_text(block)
    report, status = mypy_strict([str(script)], tmp_path)
    assert status == 0, report
