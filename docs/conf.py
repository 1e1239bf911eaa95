"""Sphinx configuration: the API reference, built from weaksup's docstrings.

Build: ``pip install ".[docs]" && python -m sphinx -W --keep-going -b html docs docs/_build/html``
(tests/test_docs.py builds it so, warnings as errors).
"""

import importlib.util
import pathlib
import sys

# Build from this checkout when weaksup is not installed (the compiled _core must be there).
if importlib.util.find_spec("weaksup") is None:
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "python"))

import weaksup  # noqa: E402

project = "weaksup"
release = version = weaksup.__version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
autodoc_mock_imports = ["cupy", "torch"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = True
html_theme = "alabaster"
exclude_patterns = ["_build"]
