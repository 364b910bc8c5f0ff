"""Sphinx configuration of fastgd's documentation: ``python -P -m sphinx -W -b html docs docs/_build/html``."""

import os
import sys
import warnings

import fastgd

project = "fastgd"
author = "fastgd developers"
copyright = "fastgd developers"
release = fastgd.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "benchmarks/*.md", "examples/GALLERY_HEADER.rst", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.json", "auto_examples/*.md5"]
root_doc = "index"

# The API reference: one page per public object, generated from the docstrings.
autosummary_generate = True
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"
numpydoc_show_class_members = False  # the class template lists the methods itself
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()  # the test suite validates the docstrings (tests/test_docstrings.py)

# The gallery: every example runs while the docs build, so none can rot.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # _gallery_order
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "_gallery_order.TeachingOrder",
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "show_memory": False,
    "capture_repr": ("_repr_html_", "__repr__"),
    "reference_url": {"fastgd": None},
}
os.environ.setdefault("MPLBACKEND", "Agg")
# The examples stop some runs early on purpose; their warnings belong to the page, not the build's error list.
warnings.filterwarnings("default", category=UserWarning)

html_theme = "pydata_sphinx_theme"
html_title = f"fastgd {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_show_sourcelink = False
html_static_path = []
