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


def test_quick_demo_runs_without_pytorch(tmp_path, capsys, monkeypatch):
    """A plain install (no torch extra) runs the demo: convex fits and certificates, one note."""
    from spectranet.experiments import demo

    monkeypatch.setattr(demo, "_has_torch", lambda: False)
    out_dir = tmp_path / "demo"
    assert main(["demo", "--quick", "--quiet", "--out", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert demo.MISSING_TORCH in out
    assert out.count("optimal: True") == 2 and "SGD lr=" not in out and "Adam lr=" not in out
    with open(out_dir / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["method"] for r in rows] == ["convex", "convex"]
    assert not (out_dir / "demo_planted.png").exists()


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
    assert f"network saved to {out_path}\n" in capsys.readouterr().out
    net = PolyNetwork.load(out_path)
    assert net.n_features == 3


def test_fit_prints_the_path_it_writes(tmp_path, capsys):
    X, y, _ = planted(n=30, d=2)
    path = tmp_path / "data.csv"
    np.savetxt(path, np.column_stack([y, X]), delimiter=",")
    assert main(["fit", str(path), "--target", "0", "--out", str(tmp_path / "model")]) == 0
    assert capsys.readouterr().out.endswith(f"network saved to {tmp_path / 'model.npz'}\n")
    assert PolyNetwork.load(tmp_path / "model").n_features == 2 and not (tmp_path / "model").exists()


def _run(argv) -> int:
    """``main``'s status: what it returns, or the status it exits with (argparse's usage errors)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def _error_line(capsys) -> str:
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and captured.err.startswith("spectranet: error: ")
    return captured.err[len("spectranet: error: "):-1]


@pytest.mark.parametrize("content, options, message", [
    ("", [], "{path}: needs at least 2 rows of numbers (samples), got 0"),
    ("a,b,y\n", [], "{path}: needs at least 2 rows of numbers (samples), got 0"),
    ("1,2,3\n", [], "{path}: needs at least 2 rows of numbers (samples), got 1"),
    ("1\n2\n3\n", [], "{path}: needs at least 2 columns (features and a target), got 1"),
    ("a,b,y\n1,2,3\n4,x,6\n", [], "{path}: line 3, column 2 ('b'): 'x' is not a finite number"),
    ("1,2,3\n\n4,,6\n", [], "{path}: line 3, column 2 is empty"),
    ("1,2,3\n4,5,inf\n", [], "{path}: line 2, column 3: 'inf' is not a finite number"),
    ("x,1,2\n3,4,5\n", [], "{path}: line 1, column 1: 'x' is not a finite number "
                           "(a header line holds only names)"),
    ("1,2,3\n4,5\n", [], "{path}: line 2 has 2 fields, line 1 has 3"),
    ("1,2,3\n4,5,6\n", ["--target", "3"],
     "--target 3 is out of range for the 3 columns of {path} (use 0 to 2, or -3 to -1 from the end)"),
    ("1,2,3\n4,5,6\n", ["--target", "-4"], "--target -4 is out of range for the 3 columns of {path}"),
    ("1,2,3\n4,5,6\n", ["--target", "x"], "argument --target: invalid int value: 'x' "
                                            "(see 'spectranet fit --help')"),
    ("1,2,3\n4,5,6\n", ["--beta", "-1"], "--beta must be a finite number > 0, got -1.0"),
    ("1,2,3\n4,5,6\n", ["--beta", "0"], "--beta must be a finite number > 0, got 0.0"),
    ("1,2,3\n4,5,6\n", ["--beta", "nan"], "--beta must be a finite number > 0, got nan"),
    ("1,2,3\n4,5,6\n", ["--beta", "abc"], "argument --beta: invalid float value: 'abc' "
                                            "(see 'spectranet fit --help')"),
    ("1,2,3\n4,5,6\n", ["--max-time", "0"], "--max-time must be a finite number of seconds > 0, got 0.0"),
    ("1,2,3\n4,5,6\n", ["--max-time=-inf"], "--max-time must be a finite number of seconds > 0, got -inf"),
    ("1,2,3\n4,5,6\n", ["--max-time", "soon"], "argument --max-time: invalid float value: 'soon'"),
    ("1,2,3\n4,5,6\n", ["--activation", "tanh"], "--activation: unknown activation 'tanh'; valid presets are "
                                                    "['relu', 'square', 'swish']"),
    ("1,2,3\n4,5,6\n", ["--activation", "1,2,3"], "--activation: unknown activation '1,2,3'; valid presets are "
                                                     "['relu', 'square', 'swish']\n"),  # (no tuple on a command line)
    ("1,2,3\n4,5,6\n", ["--out", "/proc/model"], "--out /proc/model: cannot write in the folder /proc ("),
    ("1,2,3\n4,5,6\n", ["--loss", "l3"], "--loss: unknown loss 'l3'; valid losses are"),
    ("1,2,3\n4,5,6\n", ["--task", "ranking"], "argument --task: invalid choice: 'ranking' (choose from "
                                                 "'regression', 'classification')"),
    ("1,2,3\n4,5,6\n", ["--out", "{tmp}/absent/model"], "--out {tmp}/absent/model: no such folder {tmp}/absent"),
])
def test_fit_user_errors_print_one_line_and_return_2(tmp_path, capsys, content, options, message):
    path = tmp_path / "data.csv"
    path.write_text(content)
    options = [o.format(tmp=tmp_path) for o in options]
    assert _run(["fit", str(path), *options]) == 2
    assert message.format(path=path, tmp=tmp_path) in _error_line(capsys) + "\n"


def test_fit_file_errors(tmp_path, capsys):
    assert main(["fit", str(tmp_path / "absent.csv")]) == 2
    assert _error_line(capsys) == f"[Errno 2] No such file or directory: '{tmp_path / 'absent.csv'}'"
    assert main(["fit", str(tmp_path)]) == 2
    assert _error_line(capsys) == f"[Errno 21] Is a directory: '{tmp_path}'"
    (tmp_path / "latin1.csv").write_bytes(b"caf\xe9,1\n1,2\n")
    assert main(["fit", str(tmp_path / "latin1.csv")]) == 2
    assert _error_line(capsys) == (f"{tmp_path / 'latin1.csv'}: not a UTF-8 text file "
                                   "(invalid continuation byte at byte 3)")


@pytest.mark.parametrize("argv, message", [
    ([], "the following arguments are required: command (see 'spectranet --help')"),
    (["fit"], "the following arguments are required: file (see 'spectranet fit --help')"),
    (["train"], "argument command: invalid choice: 'train' (choose from 'demo', 'experiment', 'fit', 'solvers')"),
    (["solvers", "--all"], "unrecognized arguments: --all (see 'spectranet --help')"),
])
def test_usage_errors_print_one_line_and_exit_with_2(capsys, argv, message):
    assert _run(argv) == 2
    assert message in _error_line(capsys)


def test_errors_are_reported_without_a_traceback(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("1\n2\n3\n")
    assert main(["fit", str(path)]) == 2
    assert capsys.readouterr().err == (f"spectranet: error: {path}: needs at least 2 columns (features and a "
                                       "target), got 1\n")


def test_max_time_is_passed_when_the_estimator_takes_it(tmp_path, capsys, monkeypatch):
    import spectranet

    X, y, _ = planted(n=30, d=2)
    path = tmp_path / "data.csv"
    np.savetxt(path, np.column_stack([X, y]), delimiter=",")
    seen = []

    class Recording(spectranet.ConvexPolyNetRegressor):
        def fit(self, X, y):
            seen.append(self.get_params().get("max_time", "absent"))
            return super().fit(X, y)

    class WithoutMaxTime(Recording):
        def __init__(self, activation="relu", beta=1e-2, loss="squared", solver="auto"):
            super().__init__(activation=activation, beta=beta, loss=loss, solver=solver)

        def get_params(self, deep=True):
            return {k: v for k, v in super().get_params(deep).items() if k != "max_time"}

    monkeypatch.setattr(spectranet, "ConvexPolyNetRegressor", Recording)
    assert main(["fit", str(path), "--max-time", "30"]) == 0
    assert main(["fit", str(path)]) == 0
    monkeypatch.setattr(spectranet, "ConvexPolyNetRegressor", WithoutMaxTime)
    assert main(["fit", str(path), "--max-time", "2.5"]) == 0  # not taken: ignored, no error
    assert seen == [30.0, None, "absent"]
    assert "--max-time SECONDS" in spectranet.cli.build_parser()._subparsers._group_actions[0].choices[
        "fit"].format_help()


def test_a_wide_csv_fits_quickly(tmp_path, capsys):
    """10 samples of 2000 features: the fit works in the data's row space (d = 11)."""
    import time

    rng = np.random.default_rng(0)
    path = tmp_path / "wide.csv"
    np.savetxt(path, rng.standard_normal((10, 2000)), delimiter=",")
    start = time.perf_counter()
    assert main(["fit", str(path), "--out", str(tmp_path / "wide")]) == 0
    assert time.perf_counter() - start < 30  # about 1 s; was 120 s and 1.6 GB
    assert "network saved to" in capsys.readouterr().out
    assert PolyNetwork.load(tmp_path / "wide").n_features == 1999


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


def test_fit_refuses_a_folder_as_out_before_fitting(tmp_path, capsys):
    """`--out models/` was written as the hidden file models/.npz, and an existing folder named
    dir.npz failed only after the fit; both are refused before it, and so are they given to
    PolyNetwork.save and load. (A folder named without the separator gives the file beside it, as
    numpy's suffix rule does: tests/test_model_files.py.)"""
    X, y, _ = planted(n=30, d=2)
    path = tmp_path / "data.csv"
    np.savetxt(path, np.column_stack([X, y]), delimiter=",")
    (tmp_path / "models").mkdir()
    (tmp_path / "dir.npz").mkdir()
    for out in (str(tmp_path / "models") + "/", str(tmp_path / "dir.npz"), str(tmp_path / "models") + "/.",
                str(tmp_path / "models") + "/.."):  # ("." was written as the hidden file ..npz)
        assert main(["fit", str(path), "--out", out]) == 2
        captured = capsys.readouterr()
        assert "is a folder; give a file name for the network" in captured.err and "train score" not in captured.out
    assert list((tmp_path / "models").iterdir()) == []
    net = PolyNetwork(np.eye(2), np.ones(2), "relu")
    for bad in (str(tmp_path / "models") + "/", tmp_path / "dir.npz"):
        with pytest.raises(ValueError, match="is a folder; give a file name for the network"):
            net.save(bad)
        with pytest.raises(ValueError, match="is a folder; give a file name for the network"):
            PolyNetwork.load(bad)


def test_experiment_and_demo_refuse_empty_dataset_lists_and_files_as_folders(tmp_path, capsys):
    """--datasets ",," ran the default full grid (63 s for fig6); demo --out on an existing file said
    only "File exists"."""
    assert main(["experiment", "fig7", "--out", str(tmp_path / "x"), "--data-dir", str(tmp_path),
                 "--datasets", ",,"]) == 2
    assert "--datasets ',,' names no dataset" in capsys.readouterr().err
    (tmp_path / "afile").write_text("")
    assert main(["demo", "--quick", "--out", str(tmp_path / "afile")]) == 2
    assert "a file of that name exists; give a folder" in capsys.readouterr().err
    assert main(["experiment", "fig4", "--quick", "--out", str(tmp_path / "afile")]) == 2  # (said "File exists")
    assert "a file of that name exists; give a folder" in capsys.readouterr().err
