"""The experiments (``spectranet experiment figN``): quick versions on synthetic data.

fig5-fig7 run on tiny synthetic sets written in the Fernández-Delgado format into a temporary
folder (never the real data). Every backprop row must have a training objective (P) no lower
than the convex optimum: the paper's claim, made checkable on the library's one objective.
"""

import csv
import math
import subprocess
import sys

import numpy as np
import pytest

from spectranet.cli import main
from spectranet.experiments import COLUMNS, run_experiment
from spectranet.experiments._common import fill_gaps, format_table, make_row, summarize

REQUIRED = ["experiment", "dataset", "method", "optimizer", "lr", "seed", "train_objective", "test_metric",
            "time_s", "n_neurons"]


# -- the Fernández-Delgado format (as in tests/test_datasets.py) ------------------------------------
def write_uci(home, name, X, y):
    folder = home / name
    folder.mkdir(parents=True)
    header = "\t" + "\t".join(f"f{j + 1}" for j in range(X.shape[1])) + "\tclase\n"
    rows = "".join(f"{i + 1}\t" + "\t".join(repr(float(v)) for v in x) + f"\t{c}\n"
                   for i, (x, c) in enumerate(zip(X, y)))
    (folder / f"{name}_R.dat").write_text(header + rows)
    (folder / f"{name}.txt").write_text(f"n_entradas= {X.shape[1]}\nn_patrons1= {X.shape[0]}\n")
    return folder


def synthetic_set(seed, n=50, d=3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    score = X[:, 0] + 0.5 * X[:, 1] ** 2 + 0.3 * rng.standard_normal(n)
    y = (score > np.median(score)).astype(int)
    return (X - X.mean(0)) / X.std(0), y


@pytest.fixture(scope="module")
def uci_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("uci")
    for seed, name in enumerate(["credit-approval", "breast-cancer", "ionosphere"]):
        write_uci(home, name, *synthetic_set(seed))
    return home


def read_rows(path):
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    return reader.fieldnames, rows


def num(value):
    return float(value) if value not in ("", None) else math.nan


def check_results(out, experiment, n_plots_min=1):
    columns, rows = read_rows(out / "results.csv")
    assert columns == COLUMNS and set(REQUIRED) <= set(columns)
    assert rows and all(r["experiment"] == experiment for r in rows)
    plots = sorted(out.glob("*.png"))
    assert len(plots) >= n_plots_min and all(p.stat().st_size > 1000 for p in plots)
    convex = {}
    for r in rows:
        if r["method"] == "convex":
            convex[r["dataset"], r["split_seed"], r["beta"]] = r
    assert convex, "no convex row"
    checked = 0
    for r in rows:
        assert num(r["time_s"]) >= 0 and int(r["n_neurons"]) >= 0
        c = convex[r["dataset"], r["split_seed"], r["beta"]]
        opt, bound = num(c["train_objective"]), num(c["lower_bound"])
        assert bound <= opt * (1 + 1e-6) + 1e-12
        if r["method"] == "backprop":  # the polynomial network by backprop: same objective (P)
            obj = num(r["train_objective"])
            assert obj >= opt - 1e-6 * abs(opt), (r, opt)
            assert obj >= bound - 1e-9 * abs(bound)
            assert num(r["gap_to_optimum"]) >= -1e-6
            checked += 1
    return rows, checked


# -- the experiments -------------------------------------------------------------------------------
def test_fig4_quick(tmp_path, capsys):
    out = tmp_path / "fig4"
    assert main(["experiment", "fig4", "--quick", "--quiet", "--out", str(out)]) == 0
    rows, checked = check_results(out, "fig4", n_plots_min=2)
    assert (out / "fig4_objective_vs_time.png").is_file()
    assert checked == 8  # 2 formulations x 2 learning rates x 2 seeds
    assert {r["formulation"] for r in rows if r["method"] == "backprop"} == {"l1", "weight_decay"}
    assert all(r["test_metric_name"] == "test_objective" for r in rows)
    captured = capsys.readouterr()
    assert "planted-square" in captured.out and "gap to optimum" in captured.out
    assert "[fig4" not in captured.err  # --quiet: no progress


def test_fig5_quick_runs_credit_approval_and_the_digits_cnn_stand_in(tmp_path, uci_home, capsys):
    out = tmp_path / "fig5"
    assert main(["experiment", "fig5", "--quick", "--out", str(out), "--data-dir", str(uci_home)]) == 0
    rows, checked = check_results(out, "fig5", n_plots_min=2)
    # no oocytes set, no MNIST, no CIFAR in the folder: credit-approval and the bundled digits
    assert {r["dataset"] for r in rows} == {"credit-approval", "digits-0-1-8x8"}
    assert {r["optimizer"] for r in rows if r["method"] == "backprop"} == {"sgd", "adam"}
    assert checked == 4 + 2
    assert (out / "fig5_credit-approval.png").is_file() and (out / "fig5_digits_cnn.png").is_file()
    cnn = [r for r in rows if r["dataset"] == "digits-0-1-8x8"]
    assert all(r["n_features"] == "64" and r["n_train"] == "288" and r["n_test"] == "72" for r in cnn)
    convex = next(r for r in cnn if r["method"] == "convex")
    assert num(convex["test_metric"]) >= 0.95 and int(convex["n_neurons"]) <= 2 * (9 + 1)
    assert num(convex["lower_bound"]) >= num(convex["train_objective"]) * (1 - 1e-6)  # certified
    captured = capsys.readouterr()
    assert "CNN panel 'mnist' skipped" in captured.out and "CNN panel 'cifar10' skipped" in captured.out
    assert "stand-in" in captured.out and str(uci_home / "mnist") in captured.out
    assert "fig5" in captured.err  # progress (tqdm bar or log lines) when not --quiet


def test_fig5_cnn_panel_alone_needs_no_data_dir_and_uses_the_beta_max_fraction(tmp_path):
    from spectranet import Conv2D
    from spectranet.experiments.fig5 import _load_images
    from spectranet.path import beta_max

    result = run_experiment("fig5", tmp_path, datasets=["digits"], quick=True, cnn_max_epochs=1,
                            beta_fraction=1e-2)
    check_results(tmp_path, "fig5")
    assert [p.name for p in result.plots] == ["fig5_digits_cnn.png"]
    Xtr, _, ytr, _ = _load_images("digits", None, 0, None)
    arch = Conv2D((1, 8, 8), 3, pool="global")
    expected = 1e-2 * beta_max(Xtr, 2.0 * ytr - 1.0, "relu", "logistic", architecture=arch)
    assert [r["beta"] for r in result.rows] == [pytest.approx(expected, rel=1e-12)] * 3
    assert all(r["epochs"] == 1 for r in result.rows if r["method"] == "backprop")


def test_fig5_requested_image_set_missing_exits_2_naming_the_files(tmp_path, uci_home, capsys):
    out = tmp_path / "out"
    argv = ["experiment", "fig5", "--quick", "--out", str(out), "--data-dir", str(uci_home), "--datasets", "mnist"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert str(uci_home / "mnist" / "train-images-idx3-ubyte.gz") in err and "digits" in err
    assert not out.exists()


def test_fig6_quick_datasets_option(tmp_path, uci_home, capsys):
    out = tmp_path / "fig6"
    argv = ["experiment", "fig6", "--quick", "--quiet", "--out", str(out), "--data-dir", str(uci_home),
            "--datasets", "breast-cancer,ionosphere"]
    assert main(argv) == 0
    rows, checked = check_results(out, "fig6")
    assert {r["dataset"] for r in rows} == {"breast-cancer", "ionosphere"}
    assert {r["method"] for r in rows} == {"relu", "backprop", "convex"}
    relu = [r for r in rows if r["method"] == "relu"]
    assert all(r["train_objective"] in ("", "nan") and num(r["formulation_objective"]) > 0 for r in relu)
    assert all(0.0 <= num(r["test_metric"]) <= 1.0 for r in rows)
    assert checked == 2
    assert "relu" in capsys.readouterr().out


def test_fig7_quick(tmp_path, uci_home, capsys):
    out = tmp_path / "fig7"
    assert main(["experiment", "fig7", "--quick", "--quiet", "--out", str(out), "--data-dir", str(uci_home)]) == 0
    rows, _ = check_results(out, "fig7", n_plots_min=2)
    assert {r["dataset"] for r in rows} == {"credit-approval", "ionosphere"}
    for name in ("credit-approval", "ionosphere"):
        sel = sorted((num(r["beta"]), int(r["n_neurons"])) for r in rows if r["dataset"] == name)
        assert [b for b, _ in sel] == [1.0, 10.0, 100.0]
        assert all(m <= 2 * (3 + 1) for _, m in sel)  # m* <= 2(d+1)
    assert "paper: best beta" in capsys.readouterr().out


def test_fig7_beyond_beta_max_uses_the_zero_network(tmp_path, uci_home):
    result = run_experiment("fig7", tmp_path, data_dir=uci_home, datasets=["ionosphere"], betas=(1.0, 1e6))
    big = next(r for r in result.rows if r["beta"] == 1e6)
    assert big["n_neurons"] == 0 and big["optimizer"].startswith("zero network")
    assert big["train_objective"] == pytest.approx(40 * math.log(2))  # logistic loss at 0, n_train = 40
    assert any("beta_max" in note for note in result.notes)
    check_results(tmp_path, "fig7")


# -- missing data ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["fig5", "fig6", "fig7"])
def test_missing_data_dir_exits_2_naming_the_folder_and_format(tmp_path, name, capsys):
    missing, out = tmp_path / "no-such-dir", tmp_path / "out"
    assert main(["experiment", name, "--quick", "--out", str(out), "--data-dir", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "spectranet: error:" in err and str(missing) in err and "_R.dat" in err
    assert not out.exists()  # failed before doing anything


def test_missing_dataset_names_the_expected_file(tmp_path, uci_home, capsys):
    out = tmp_path / "out"
    argv = ["experiment", "fig6", "--quick", "--out", str(out), "--data-dir", str(uci_home), "--datasets", "pima"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert str(uci_home / "pima" / "pima_R.dat") in err and "tab-separated" in err
    assert "credit-approval" in err  # what the folder does have
    assert not out.exists()


def test_no_data_dir_at_all(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SPECTRANET_DATA", raising=False)
    assert main(["experiment", "fig7", "--quick", "--out", str(tmp_path / "o")]) == 2
    assert "--data-dir" in capsys.readouterr().err


def test_fig4_takes_no_data(tmp_path, capsys):
    assert main(["experiment", "fig4", "--quick", "--out", str(tmp_path), "--datasets", "x"]) == 2
    assert "synthetic" in capsys.readouterr().err


def test_unknown_experiment_is_a_usage_error(tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["experiment", "fig9", "--out", str(tmp_path)])
    assert exc.value.code == 2
    with pytest.raises(ValueError, match="unknown experiment"):
        run_experiment("fig9", tmp_path)


# -- helpers and imports -----------------------------------------------------------------------------
def test_gaps_and_summary():
    rows = [make_row("e", "d", "convex", split_seed=0, beta=1.0, train_objective=10.0, lower_bound=9.99,
                     test_metric=0.9, test_metric_name="test_accuracy", time_s=1.0, n_neurons=3),
            make_row("e", "d", "backprop", split_seed=0, beta=1.0, train_objective=12.0, lr=0.1, seed=0,
                     optimizer="sgd", test_metric=0.8, test_metric_name="test_accuracy", time_s=2.0,
                     n_neurons=8, diverged=False),
            make_row("e", "d", "relu", split_seed=0, beta=1.0, train_objective=math.nan, lr=0.1, seed=0,
                     optimizer="sgd", test_metric=0.85, test_metric_name="test_accuracy", time_s=2.0,
                     n_neurons=8, diverged=False)]
    fill_gaps(rows)
    assert rows[1]["gap_to_optimum"] == pytest.approx((12.0 - 9.99) / 12.0)
    assert rows[2]["gap_to_optimum"] == ""
    table = format_table(summarize(rows))
    assert "convex" in table and "backprop" in table and "test_accuracy" in table
    with pytest.raises(KeyError):
        make_row("e", "d", "convex", no_such_column=1)


def test_importing_the_experiments_imports_neither_torch_nor_matplotlib():
    code = ("import sys, spectranet, spectranet.experiments, spectranet.cli; "
            "from spectranet.experiments import fig4, fig5, fig6, fig7, demo; "
            "print('torch' in sys.modules, 'matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_empty_grids_and_one_class_data_are_refused_by_name(tmp_path):
    """betas=[] raised from max() inside fig7 and split_seeds=[] from matplotlib inside fig6; fig7 on a
    one-class data set reported an accuracy of 1.0 where fig5 and fig6 refuse it."""
    with pytest.raises(ValueError, match="fig4: seeds must hold at least one value, got an empty sequence"):
        run_experiment("fig4", tmp_path / "a", n=40, d=3, seeds=[])
    home = tmp_path / "data"
    (home / "onecls").mkdir(parents=True)
    (home / "onecls" / "onecls_R.dat").write_text("f1\tclase\n" + "".join(f"{i}\t{0.1 * i}\t0\n" for i in range(1, 11)))
    with pytest.raises(ValueError, match="fig7: betas must hold at least one value"):
        run_experiment("fig7", tmp_path / "b", data_dir=home, datasets=["onecls"], betas=[])
    with pytest.raises(ValueError, match=r"onecls: fig7 needs samples of at least 2 classes; the training split has 1"):
        run_experiment("fig7", tmp_path / "c", data_dir=home, datasets=["onecls"], quick=True)
    with pytest.raises(ValueError, match="fig7: datasets must hold at least one value"):
        run_experiment("fig7", tmp_path / "d", data_dir=home, datasets=[])


def test_a_module_run_creates_its_folder_and_a_repeated_dataset_runs_once(tmp_path):
    """fig4.run(out_dir) into a missing folder failed in savefig after every fit; fig7 with a name
    given twice ran it twice (duplicated rows and notes)."""
    from spectranet.experiments import fig4

    out = tmp_path / "new" / "folder"
    result = fig4.run(out, n=30, d=3, n_neurons=2, lrs=[1e-2], seeds=[0], max_epochs=2, formulations=("l1",))
    assert out.is_dir() and all(p.exists() for p in result.plots)
    home = tmp_path / "data"
    (home / "twocls").mkdir(parents=True)
    rows = "".join(f"{i}\t{0.1 * i}\t{0.3 * (i % 3)}\t{i % 2}\n" for i in range(1, 41))
    (home / "twocls" / "twocls_R.dat").write_text("f1\tf2\tclase\n" + rows)
    once = run_experiment("fig7", tmp_path / "a", data_dir=home, datasets=["twocls"], quick=True)
    twice = run_experiment("fig7", tmp_path / "b", data_dir=home, datasets=["twocls", "twocls"], quick=True)
    assert len(twice.rows) == len(once.rows) > 0


def test_the_demo_note_splits_the_own_gradient_gap_at_the_convex_optimum(monkeypatch):
    """The note's share of a backprop network's own-gradient gap that belongs to its dual point was
    measured against the improve=True bound, which is not the optimum, and contradicted the
    note's own numbers (34 % where they give 82 %)."""
    pytest.importorskip("torch")
    import re

    from spectranet import BackpropPolyNetRegressor, ConvexPolyNetRegressor
    from spectranet.experiments import ExperimentResult
    from spectranet.experiments.demo import _certificate_notes
    from spectranet.experiments.fig4 import planted_split

    X, y, *_ = planted_split(100, 10, 10, "square", 0.1, 0)  # (the demo's: improve=True is not tight)
    convex = ConvexPolyNetRegressor(activation="square", beta=1e-6).fit(X, y)
    backprop = BackpropPolyNetRegressor(activation="square", beta=1e-6, max_epochs=200, lr=3e-3,
                                        random_state=0).fit(X, y)
    import spectranet.proof

    certify = spectranet.proof.certify  # improve=True as loose as it may be: no better than without
    monkeypatch.setattr(spectranet.proof, "certify", lambda *a, improve=False, **k: certify(*a, **k))
    result = ExperimentResult("demo", out_dir=".")
    _certificate_notes(result, "planted", convex, {("sgd", 0.01, 0): backprop}, X, y, "squared", 1e-6)
    own = re.search(r"objective (\S+), lower bound from its own gradient (\S+),", result.notes[1])
    share = float(re.search(r"so (\d+)%", result.notes[2]).group(1)) / 100
    objective, bound = float(own.group(1)), float(own.group(2))
    expected = (convex.certificate_.lower_bound - bound) / (objective - bound)
    assert share == pytest.approx(expected, abs=0.006) and share > 0.5
