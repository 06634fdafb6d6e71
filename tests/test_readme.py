"""The README's example runs as written and its comments hold (a fresh machine's first contact)."""

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_example_runs_and_certifies(tmp_path, monkeypatch):
    example = next(b for b in _blocks() if "load_breast_cancer" in b)
    monkeypatch.chdir(tmp_path)  # it saves net.npz
    namespace: dict = {}
    exec(compile(example, str(README), "exec"), namespace)
    clf, net, X, y = namespace["clf"], namespace["net"], namespace["X"], namespace["y"]
    assert clf.gap_ <= 1e-6 and clf.status_ == "optimal"
    assert abs(clf.network_objective_ - clf.objective_) <= 1e-6 * abs(clf.objective_)
    assert 1 <= clf.n_neurons_ <= 2 * (X.shape[1] + 1)
    assert np.allclose(np.linalg.norm(net.first_layer, axis=1), 1.0)
    assert (tmp_path / "net.npz").exists() and net.witness is not None
    certify = namespace["certify"]
    assert certify(net, X, 2 * y - 1).is_optimal  # the README's last line, from the loaded file
