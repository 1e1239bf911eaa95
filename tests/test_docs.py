"""The API reference (docs/, Sphinx autodoc + napoleon) builds from the docstrings with
warnings as errors, and documents the public API."""

import pathlib
import subprocess
import sys

import pytest

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"


def test_api_reference_builds_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    out = tmp_path / "html"
    # In a process of its own: pytest's warnings-as-errors would also catch Sphinx's deprecation
    # warnings about its own extensions; -W is what judges our docstrings.
    build = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                            "-d", str(tmp_path / "doctrees"), str(DOCS), str(out)],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    pages = {p.name: p.read_text(encoding="utf-8") for p in (out / "api").glob("*.html")}
    expected = {
        "localization.html": ["cam_to_boxes", "component_stats", "max_box_acc_v2", "BoxEvaluator", "pxap"],
        "crf.html": ["dense_crf", "crf_inference", "DenseCRF"],
        "labelmodels.html": ["LabelModel", "probabilities_to_labels", "majority_vote_proba"],
        "compat.html": ["DenseCRF2D", "unary_from_softmax", "MajorityLabelVoter", "DawidSkene"],
        "cli.html": ["weaksup.bench.run", "accuracy_table", "photo_pipeline"],
    }
    for page, names in expected.items():
        for name in names:
            assert name in pages[page], f"{name} is missing from {page}"
    # napoleon turned the numpy-style sections into field lists: the parameters are listed
    assert "Parameters" in pages["labelmodels.html"] and "cardinality" in pages["labelmodels.html"]
