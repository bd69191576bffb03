"""Sphinx configuration for the shno-neurons documentation.

The physics figures are generated from the library itself by ``make_figures.py`` at
every build, so they cannot drift from the code.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

project = "shno-neurons"
author = "shno-neurons developers"
copyright = "2026, shno-neurons developers"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
html_theme = "furo"
html_static_path = ["_static"]
html_title = "shno-neurons"

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# Attributes sections as field lists: autodoc already documents NamedTuple fields, and
# attribute directives would describe them twice (duplicate-object warnings).
napoleon_use_ivar = True
# Type aliases in signatures (torch.Tensor, numpy arrays) are not cross-referenced
# from these docs; suppress the unresolved-reference noise only.
nitpicky = False
suppress_warnings = ["myst.header"]


def _make_figures(app) -> None:
    if os.environ.get("SHNO_DOCS_SKIP_FIGURES") == "1":
        return
    import make_figures

    make_figures.main(HERE / "_static" / "figures")


def _resolve_reexport(app, env, node, contnode):
    """Link ``shno_neurons.X`` (a package-level re-export) to where X is documented.

    The API page documents every name in its defining module; docstrings and pages
    also write the short, importable form (``shno_neurons.SHNOParameters``).
    """
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not target.startswith("shno_neurons."):
        return None
    import importlib

    module_name, _, name = target.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError):
        return None
    home = getattr(obj, "__module__", None)
    if not home or home == module_name or not hasattr(obj, "__qualname__"):
        return None
    return env.get_domain("py").resolve_xref(
        env,
        node["refdoc"],
        app.builder,
        node["reftype"],
        f"{home}.{obj.__qualname__}",
        node,
        contnode,
    )


def setup(app) -> None:
    app.connect("builder-inited", _make_figures)
    app.connect("missing-reference", _resolve_reexport)
