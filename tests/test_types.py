"""The package is mypy --strict clean, and its stubs tell callers what they get back: a
2-tuple or a 3-tuple from ``label`` by ``return_stats``, typed arrays, not Any."""

import os
import pathlib
import textwrap

import pytest

PYTHON_DIR = pathlib.Path(__file__).resolve().parents[1] / "python"
PYPROJECT = pathlib.Path(__file__).resolve().parents[1] / "pyproject.toml"


def mypy_strict(targets, tmp_path):
    """(report, exit status) of ``mypy --strict`` on targets, with the project's [tool.mypy]
    settings, finding weaksup in this checkout."""
    api = pytest.importorskip("mypy.api")
    env_path = os.environ.get("MYPYPATH")
    os.environ["MYPYPATH"] = str(PYTHON_DIR)
    try:
        stdout, stderr, status = api.run(["--strict", "--config-file", str(PYPROJECT), "--cache-dir",
                                          str(tmp_path / ".mypy_cache"), "--no-error-summary", *targets])
    finally:
        if env_path is None:
            del os.environ["MYPYPATH"]
        else:
            os.environ["MYPYPATH"] = env_path
    return stdout + stderr, status


def test_the_package_is_strict_clean(tmp_path):
    report, status = mypy_strict(["-p", "weaksup"], tmp_path)
    assert status == 0, report


def _check(tmp_path, source):
    script = tmp_path / "use.py"
    script.write_text(textwrap.dedent(source))
    return mypy_strict([str(script)], tmp_path)


def test_label_returns_two_or_three_values_by_return_stats(tmp_path):
    report, status = _check(tmp_path, """
        import numpy as np
        import numpy.typing as npt
        import weaksup

        masks = np.zeros((4, 8, 8), bool)
        labels, counts = weaksup.label(masks)
        labels3, counts3, stats = weaksup.label(masks, return_stats=True)
        areas: npt.NDArray[np.int64] = stats.area
        reveal_type(labels)
        reveal_type(weaksup.cam_to_boxes(np.zeros((2, 8, 8), np.float32)))
    """)
    assert status == 0, report
    revealed = [line for line in report.splitlines() if "Revealed type" in line]
    assert len(revealed) == 2 and all("ndarray" in line for line in revealed), report


def test_a_wrong_unpacking_is_caught(tmp_path):
    report, status = _check(tmp_path, """
        import numpy as np
        import weaksup

        labels, counts, stats = weaksup.label(np.zeros((8, 8), bool))
    """)
    assert status == 1 and "unpack" in report, report
