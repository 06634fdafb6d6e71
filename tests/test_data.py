"""The data backends: numpy on the host, torch tensors on a device (CPU here; CUDA alike)."""

import numpy as np
import pytest

from spectranet import PolyNetwork, Problem, get_solver
from spectranet.data import HostData, TorchData
from spectranet.solvers.native import NativeSolver

from ._data import planted

torch = pytest.importorskip("torch")


def test_products_agree_across_backends():
    X, y, _ = planted(40, 3, seed=1)
    host = Problem(X, y, "relu", "squared", 0.1)
    dev = Problem(torch.tensor(X), torch.tensor(y), "relu", "squared", 0.1)
    assert isinstance(host.data, HostData) and isinstance(dev.data, TorchData)
    np.testing.assert_array_equal(dev.X, host.X)  # the host copy is float64 numpy either way
    V = np.random.default_rng(0).standard_normal((40, 1))
    for a, b in zip(host.dual_quadratic(V), dev.dual_quadratic(V)):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)
    net = PolyNetwork(np.eye(3)[:2], [0.5, -1.0], "relu")
    np.testing.assert_allclose(dev.outputs(net), host.outputs(net), rtol=1e-12)
    assert dev.objective(net) == pytest.approx(host.objective(net), rel=1e-12)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_native_on_torch_tensors_matches_numpy(loss):
    X, y, _ = planted(60, 3, seed=2)
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    ref = get_solver("native").solve(Problem(X, y, "relu", loss, 0.5))
    result = get_solver("native").solve(Problem(torch.tensor(X), torch.tensor(y), "relu", loss, 0.5))
    assert result.state["engine"] == "columns"  # device data stays on its device
    assert result.gap <= 1e-6
    assert result.network_objective == pytest.approx(ref.network_objective, rel=2e-6)


def test_float32_tensors_are_certified_in_float64():
    X, y, _ = planted(60, 3, seed=3)
    problem = Problem(torch.tensor(X, dtype=torch.float32), y, "relu", "squared", 0.5)
    assert problem.data.float32 and problem.X.dtype == np.float64
    result = NativeSolver().solve(problem, tol=1e-4)
    exact = Problem(X.astype(np.float32), y, "relu", "squared", 0.5)  # the data given, in float64
    assert result.network_objective == pytest.approx(exact.objective(result.network), rel=1e-12)
    assert result.gap <= 1e-4
    assert result.lower_bound <= get_solver("clarabel").solve(exact).network_objective * (1 + 1e-9)


def test_device_argument_and_errors():
    X, y, _ = planted(20, 2)
    assert isinstance(Problem(X, y, device="cpu").data, TorchData)
    with pytest.raises(ValueError, match="cannot place the data on device='nowhere'"):
        Problem(X, y, device="nowhere")
    with pytest.raises(ValueError, match="dtype must be torch.float64 or torch.float32"):
        TorchData(torch.tensor(X, dtype=torch.float16), y, dtype=torch.float16)
