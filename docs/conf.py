"""Sphinx configuration of the skconstrain documentation (``make docs``).

Built offline: no intersphinx, MathJax served from the build itself
(sphinx-mathjax-offline), and the gallery's examples run at build time.
Warnings are errors (``-W --keep-going`` in the Makefile).
"""

import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")
sys.path.insert(0, os.path.abspath(".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # _gallery_warnings

# TensorFlow first, without its native start-up lines
import skconstrain._quiet_start

# isort: split

import skconstrain

project = "skconstrain"
author = "the skconstrain developers"
copyright = "2026, the skconstrain developers"
release = version = skconstrain.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
    "matplotlib.sphinxext.plot_directive",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
templates_path = ["_templates"]

myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

autosummary_generate = True
autodoc_default_options = {"members": False, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# figures of the user guide, made at build time
plot_include_source = False  # the scripts are in docs/figures
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 100)]
plot_rcparams = {"figure.figsize": (8, 3)}

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"\.py$",  # run every example
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "within_subsection_order": "FileNameSortKey",
    # every UserWarning of an example is an error (docs/_gallery_warnings.py)
    "reset_modules": ("matplotlib", "seaborn", "_gallery_warnings.warnings_are_errors"),
    "reset_modules_order": "both",
}

html_theme = "pydata_sphinx_theme"
html_title = f"skconstrain {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False

warnings.filterwarnings(
    "ignore",
    message="FigureCanvasAgg is non-interactive",
    category=UserWarning,
)
