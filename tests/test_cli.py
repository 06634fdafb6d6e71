import csv

import numpy as np
import pytest

from spectranet import PolyNetwork
from spectranet.cli import main

from ._data import planted


def test_quick_demo_prints_the_comparison_and_writes_plots(tmp_path, capsys):
    out_dir = tmp_path / "demo"
    assert main(["demo", "--quick", "--quiet", "--out", str(out_dir)]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "planted" in out and "breast cancer" in out
    for column in ("method", "training objective", "gap to certified optimum", "test objective",
                   "test accuracy", "time s", "neurons"):
        assert column in out
    assert "convex (" in out and "SGD lr=" in out and "Adam lr=" in out
    assert "certificate of the convex fit" in out and "optimal: True" in out
    assert "optimal: False" in out  # the backprop network is flagged by its own certificate
    assert captured.err == ""  # --quiet
    assert (out_dir / "results.csv").is_file()
    assert (out_dir / "demo_planted.png").is_file() and (out_dir / "demo_breast_cancer.png").is_file()
    with open(out_dir / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    for dataset in {r["dataset"] for r in rows}:
        sel = [r for r in rows if r["dataset"] == dataset]
        optimum = next(float(r["train_objective"]) for r in sel if r["method"] == "convex")
        assert all(float(r["train_objective"]) >= optimum * (1 - 1e-6) for r in sel)
        assert {r["optimizer"] for r in sel if r["method"] == "backprop"} == {"sgd", "adam"}


def test_experiment_help_lists_the_figures(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["experiment", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert all(f"fig{k}" in out for k in (4, 5, 6, 7)) and "--data-dir" in out and "--quick" in out


def test_fit_a_csv_file_and_save_the_network(tmp_path, capsys):
    X, y, _ = planted(n=40, d=3)
    path = tmp_path / "data.csv"
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", header="a,b,c,y", comments="")
    out_path = tmp_path / "net.npz"
    assert main(["fit", str(path), "--beta", "0.1", "--out", str(out_path)]) == 0
    assert "network saved" in capsys.readouterr().out
    net = PolyNetwork.load(out_path)
    assert net.n_features == 3


def test_errors_are_reported_without_a_traceback(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("1\n2\n3\n")
    assert main(["fit", str(path)]) == 2
    assert "spectranet: error:" in capsys.readouterr().err


def test_solvers_lists_the_registry(capsys):
    assert main(["solvers"]) == 0
    out = capsys.readouterr().out
    assert "clarabel" in out and "auto order" in out


def test_progress_uses_tqdm_when_installed_and_log_lines_otherwise(monkeypatch, capsys):
    import sys
    import types

    from spectranet import cli

    calls = []

    class FakeTqdm:
        def __init__(self, total, desc, file, leave):
            calls.append(("start", desc, total))

        def set_postfix_str(self, text, refresh):
            calls.append(("info", text))

        def update(self, n):
            calls.append(("update", n))

        def close(self):
            calls.append(("close",))

    monkeypatch.setitem(sys.modules, "tqdm", types.SimpleNamespace(tqdm=FakeTqdm))
    progress = cli._progress(quiet=False)
    progress.start("fig4", 2)
    progress.advance("run 1")
    progress.close()
    assert calls == [("start", "fig4", 2), ("info", "run 1"), ("update", 1), ("close",)]
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import fails: plain lines on stderr
    progress = cli._progress(quiet=False)
    progress.start("fig4", 2)
    progress.advance("run 1")
    err = capsys.readouterr().err
    assert "[fig4] 2 step(s)" in err and "[fig4] 1/2" in err and "run 1" in err
    quiet = cli._progress(quiet=True)
    quiet.start("fig4", 2)
    quiet.advance("x")
    assert capsys.readouterr().err == ""
