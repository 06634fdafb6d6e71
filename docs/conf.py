"""Sphinx configuration of the spectranet documentation (``make docs``).

The build is offline: no intersphinx inventories are fetched, and the gallery runs on data that
ship with scikit-learn or are generated (``spectranet.make_planted``).
"""

import os
import re
import warnings
from pathlib import Path

import spectranet

DOCS = Path(__file__).resolve().parent

project = "spectranet"
author = "spectranet developers"
copyright = "spectranet developers"
version = release = spectranet.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.md5", "auto_examples/*.json"]
templates_path = ["_templates"]
root_doc = "index"
nitpicky = False

# -- MyST (Markdown pages) ------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
myst_dmath_double_inline = True

# -- autodoc, autosummary, numpydoc ---------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"  # the numpydoc sections carry the types
autodoc_inherit_docstrings = False
# the class pages list their members through autodoc (templates/autosummary/class.rst); numpydoc's
# own member tables would need a stub page per member
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()

# -- sphinx-gallery -------------------------------------------------------------------------------
os.environ.setdefault("OMP_NUM_THREADS", "1")
warnings.filterwarnings("ignore", category=UserWarning, message="Matplotlib is currently using agg")

sphinx_gallery_conf = {
    "examples_dirs": str(DOCS.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",  # every example runs (each a few seconds, bundled data only)
    "within_subsection_order": "FileNameSortKey",
    "plot_gallery": "True",
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "min_reported_time": 1,
    "abort_on_example_error": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "run_stale_examples": True,
    "write_computation_times": False,
}

# -- HTML -----------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"spectranet {release}"
html_static_path = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 7,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
}
html_sidebars = {"index": [], "benchmarks": [], "maths": []}
html_show_sourcelink = True


# -- hooks ----------------------------------------------------------------------------------------
def _skip_member(app, what, name, obj, skip, options):
    """Leave out scikit-learn's generated metadata-routing setters (``set_fit_request`` etc.): they
    are not spectranet's API and their docstrings cite scikit-learn's glossary."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


_CODE = re.compile(r"(`[^`]*`)")


def _plain_attribute_comments(app, what, name, obj, options, lines):
    """Attribute docs come from ``#:`` comments, written as plain text: a bar there (``|r|``) is
    an absolute value, not a reST substitution, so it is escaped outside inline code and roles."""
    if what != "attribute":
        return
    for i, line in enumerate(lines):
        parts = _CODE.split(line)
        lines[i] = "".join(p if p.startswith("`") else p.replace("|", "\\|") for p in parts)


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
    app.connect("autodoc-process-docstring", _plain_attribute_comments)
