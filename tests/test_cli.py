import numpy as np

from spectranet import PolyNetwork
from spectranet.cli import main

from ._data import planted


def test_demo_prints_certified_fits(capsys):
    assert main(["demo", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "planted regression" in out and "breast cancer" in out
    assert "certify(the extracted network)" in out and "optimal: True" in out
    assert "optimal: False" in out  # the random network is flagged


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
