"""The benchmark scripts stay runnable: each one imports and parses its options (a script that only
runs by hand can break unseen, as bench_dask once did when the data package moved)."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("bench_*.py"))


def test_there_are_benchmarks():
    assert len(SCRIPTS) >= 6


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_benchmark_script_starts(script):
    proc = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage:" in proc.stdout


def test_regime_cells_below_the_grid_run_where_a_filter_names_them():
    import argparse
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_regimes", SCRIPTS[0].parent / "bench_regimes.py")
    regimes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(regimes)
    cells = list(regimes._cells(argparse.Namespace(cells="planted300:squared:1e-9,planted1k:logistic")))
    assert cells == ([("planted1k", "logistic", rel) for rel in regimes.RELATIVE]
                     + [("planted300", "squared", 1e-9)])
    assert list(regimes._cells(argparse.Namespace(cells="credit:squared:1e-6"))) == [("credit", "squared", 1e-6)]
