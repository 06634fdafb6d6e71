"""The distribution: ``python -m build`` makes an sdist and a wheel that hold the package, its
licence and its type marker, and the wheel installs and imports on its own."""

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import spectranet

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(str(p.relative_to(ROOT / "src")) for p in (ROOT / "src" / "spectranet").rglob("*.py"))


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    pytest.importorskip("build", reason="the dev extra installs `build`")
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return out


def test_wheel_holds_the_package_licence_and_type_marker(dist):
    wheel = next(dist.glob(f"spectranet-{spectranet.__version__}-py3-none-any.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert set(MODULES) <= names
    assert "spectranet/py.typed" in names
    assert any(n.endswith("licenses/LICENSE") for n in names)
    assert not any(n.startswith(("tests/", "benchmarks/", "docs/")) for n in names)


def test_sdist_holds_sources_licence_and_readme(dist):
    sdist = next(dist.glob(f"spectranet-{spectranet.__version__}.tar.gz"))
    names = {n.split("/", 1)[1] for n in tarfile.open(sdist).getnames() if "/" in n}
    assert {"LICENSE", "README.md", "pyproject.toml", "src/spectranet/py.typed"} <= names
    assert {"src/" + m for m in MODULES} <= names


def test_installed_wheel_imports_and_fits(dist, tmp_path):
    """The wheel alone (dependencies from this environment) imports without torch and fits."""
    wheel = next(dist.glob("*.whl"))
    target = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet",
                           "--target", str(target), str(wheel)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    code = ("import sys, spectranet as s; assert 'torch' not in sys.modules; "
            "X, y = s.make_planted(60, 4, random_state=0)[:2]; "
            "r = s.ConvexPolyNetRegressor(beta=0.1).fit(X, y); print(s.__file__, r.certificate_.is_optimal)")
    env = dict(os.environ, PYTHONPATH=str(target))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    path, optimal = proc.stdout.split()
    assert Path(path).is_relative_to(target) and optimal == "True"
