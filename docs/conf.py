"""Sphinx configuration of the fastnn documentation (build: python -m sphinx -W -b html docs docs/_build/html)."""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
os.environ.setdefault("MPLBACKEND", "Agg")

import fastnn  # noqa: E402  (the installed package; the docs describe what pip installs)

project = "fastnn"
author = "the fastnn developers"
copyright = "the fastnn developers"
release = version = fastnn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "fastnn_docs",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "examples/README.rst", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.md5"]
myst_heading_anchors = 3
# README sections are included with their own (level-2) headings under each page's title
suppress_warnings = ["myst.header"]

# numpydoc renders the docstrings; autodoc imports the modules
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
autodoc_default_options = {"member-order": "bysource"}
autodoc_mock_imports = ["skl2onnx", "onnx", "onnxruntime"]  # fastnn.onnx, documented without the extra


sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib", "fastnn_docs.image_files"),
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "remove_config_comments": True,
    "download_all_examples": False,
    "show_memory": False,
    "min_reported_time": 1e9,  # no per-example timing lines in the pages
    "write_computation_times": False,
}

html_theme = "furo"
html_title = f"fastnn {release}"
html_static_path = ["_static"]
html_css_files = ["fastnn.css"]
html_show_sourcelink = False
