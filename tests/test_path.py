import numpy as np
import pytest

from spectranet import ConvexPolyNetRegressor, Problem, beta_max, get_solver, regularization_path

from ._data import planted


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_beta_max_is_the_threshold_of_the_zero_network(loss):
    X, y, _ = planted(n=50, d=3, seed=11)
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    bmax = beta_max(X, y, "relu", loss)
    above = get_solver("clarabel").solve(Problem(X, y, "relu", loss, bmax * 1.001))
    assert above.n_neurons == 0
    assert above.gap <= 1e-6
    below = get_solver("clarabel").solve(Problem(X, y, "relu", loss, bmax * 0.95))
    assert below.n_neurons > 0
    assert below.network_objective < above.network_objective


def test_regularization_path_reports_each_beta_in_order():
    X, y, _ = planted(n=60, d=4, seed=12)
    bmax = beta_max(X, y)
    betas = bmax * np.array([1e-3, 0.5, 1e-2, 1.1])
    path = regularization_path(X, y, betas)
    assert np.array_equal(path.betas, betas)
    assert path.n_neurons[3] == 0
    assert np.all(path.gaps <= 1e-6)
    assert path.n_neurons[0] >= path.n_neurons[2] >= path.n_neurons[1]
    for i, b in enumerate(betas):  # warm-started values equal cold solves
        cold = ConvexPolyNetRegressor(beta=b).fit(X, y)
        assert path.objectives[i] == pytest.approx(cold.objective_, rel=1e-6)
    assert "beta" in path.as_table()


def test_path_rejects_bad_betas_before_solving():
    X, y, _ = planted(n=20, d=2)
    with pytest.raises(ValueError, match="beta must be a finite real number >= 0"):
        regularization_path(X, y, [0.1, -1.0])
    with pytest.raises(ValueError, match="at least one value"):
        regularization_path(X, y, [])
