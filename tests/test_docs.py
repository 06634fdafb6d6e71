"""The documentation builds: Sphinx, warnings as errors, every gallery example run (offline).

The site's sources (``docs/`` and ``examples/``) are copied to a temporary folder first, so the
build writes nothing into the work tree (sphinx-gallery and autosummary generate pages next to
their sources). The gallery's examples assert what they show (the pinball example: a loss written
in user code is fitted and certified optimal), so a broken interface fails this test.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import spectranet
from spectranet import losses, penalties

for module in ("sphinx", "numpydoc", "sphinx_gallery", "myst_parser", "pydata_sphinx_theme", "matplotlib", "torch"):
    pytest.importorskip(module, reason="the docs and torch extras are not installed (make docs installs them)")

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ("_build", "auto_examples", "generated", "gen_modules", "sg_execution_times.rst", "__pycache__")


def test_docs_build(tmp_path):
    src = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", src, ignore=shutil.ignore_patterns(*GENERATED))
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "html"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "agg"}
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q", "-d", str(tmp_path / "doctrees"),
         str(src), str(out)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-10000:]
    for page in ("index.html", "getting_started.html", "maths.html", "benchmarks.html", "dask.html",
                 "guide/losses.html", "api/index.html", "api/generated/spectranet.certify.html",
                 "auto_examples/index.html", "auto_examples/losses/plot_pinball_quantile.html"):
        assert (out / page).is_file(), page
    pinball = (out / "auto_examples/losses/plot_pinball_quantile.html").read_text()
    assert "weak duality and tightness hold" in pinball
    # the API reference has a page for every public name (constants and registries aside)
    documented = [f"spectranet.{n}" for n in spectranet.__all__ if n != "__version__"]
    documented += [f"spectranet.losses.{n}" for n in losses.__all__ if n not in ("Loss", "get_loss", "LOSSES")]
    documented += [f"spectranet.penalties.{n}" for n in penalties.__all__ if n not in ("PENALTIES", "C0")]
    missing = [n for n in documented if not (out / "api" / "generated" / f"{n}.html").is_file()]
    assert not missing, f"no API page for {missing}: add them to docs/api/index.md"


def _api_names():
    """The public names: ``spectranet.__all__`` and every name the API reference lists."""
    import re

    names, module = {f"spectranet.{n}" for n in spectranet.__all__ if n != "__version__"}, "spectranet"
    for line in (ROOT / "docs" / "api" / "index.md").read_text().splitlines():
        if found := re.match(r"\.\. currentmodule:: (\S+)", line.strip()):
            module = found.group(1)
        elif re.fullmatch(r"   [A-Za-z_][\w.]*", line):
            names.add(f"{module}.{line.strip()}")
    return sorted(names)


def _resolve(full):
    import importlib

    module, _, attr = full.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except ModuleNotFoundError:  # a method or attribute of a class
        outer, _, cls = module.rpartition(".")
        return getattr(getattr(importlib.import_module(outer), cls), attr)


@pytest.mark.parametrize("name", _api_names())
def test_public_docstring_sections(name):
    """Every public name has the numpydoc sections CONTRIBUTING asks for: Parameters (where its
    signature has any; a dataclass documents its fields as Attributes), Returns (functions),
    Examples, See Also and References."""
    import dataclasses
    import inspect

    from numpydoc.docscrape import NumpyDocString

    obj = _resolve(name)
    if not callable(obj):  # constants and registries
        return
    doc = NumpyDocString(inspect.getdoc(obj) or "")
    required = ["Examples", "See Also", "References"]
    is_class = inspect.isclass(obj)
    try:
        parameters = inspect.signature(obj).parameters.values()
    except ValueError:  # an exception or warning class (the built-in constructor)
        parameters = []
    if [p for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]:
        required.append("Attributes" if is_class and dataclasses.is_dataclass(obj) else "Parameters")
    if not is_class:
        required.append("Returns")
    missing = [section for section in required if not doc[section]]
    assert not missing, f"{name} lacks the numpydoc sections {missing}"
