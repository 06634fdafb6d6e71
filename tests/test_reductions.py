"""The row-space reduction: the same problem in dimension rank(X) + 1, and back."""

import numpy as np
import pytest

from spectranet import PolyNetwork, Problem, certify, get_solver
from spectranet.certificate import _most_violated, max_violation
from spectranet.reductions import RowSpaceReduction


def _wide(n=8, d=300, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal(n)


def test_reduction_keeps_outputs_and_objectives():
    X, y = _wide()
    problem = Problem(X, y, "relu", "squared", 0.1)
    red = RowSpaceReduction.of(problem)
    assert red is not None and red.n_features == 9 and RowSpaceReduction.of(problem.with_beta(0.2)) is red
    reduced = red.apply()
    rng = np.random.default_rng(1)
    U = rng.standard_normal((4, 300))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    net = PolyNetwork(U, rng.standard_normal(4), "relu")
    small = red.reduce_network(net)
    np.testing.assert_allclose(np.linalg.norm(small.first_layer, axis=1), 1.0)
    np.testing.assert_allclose(reduced.outputs(small), problem.outputs(net), rtol=1e-10)
    back = red.invert(small)
    np.testing.assert_allclose(problem.outputs(back), problem.outputs(net), rtol=1e-10)
    assert reduced.objective(small) == pytest.approx(problem.objective(net), rel=1e-12)
    Z = rng.standard_normal((1, 10, 10))
    Z = Z @ Z.transpose(0, 2, 1)
    np.testing.assert_allclose(problem.forward(red.invert_lifted(Z)), reduced.forward(Z), rtol=1e-10)


def test_no_reduction_for_full_rank_or_small_data():
    rng = np.random.default_rng(2)
    assert RowSpaceReduction.of(Problem(rng.standard_normal((50, 5)), rng.standard_normal(50))) is None
    X = rng.standard_normal((20, 120))
    X[:, 3] = 0.0  # n < d already reduces; a zero column with n >= d too
    assert RowSpaceReduction.of(Problem(X, rng.standard_normal(20))).n_features == 21
    X = rng.standard_normal((60, 10))
    X[:, 4] = 0.0  # rank 9: dimension 10 again, no gain
    assert RowSpaceReduction.of(Problem(X, rng.standard_normal(60))) is None
    X[:, 7] = 0.0
    assert RowSpaceReduction.of(Problem(X, rng.standard_normal(60))).n_features == 9


def test_the_oracle_in_the_row_space_is_the_full_oracle():
    X, y = _wide(n=6, d=40, seed=3)
    X = np.hstack([X, np.zeros((6, 80))])  # d = 120 >= MIN_FEATURES
    problem = Problem(X, y, "relu", "squared", 0.1)
    V = np.random.default_rng(4).standard_normal((6, 1))
    reduced = max_violation(problem, V)
    full = _most_violated(problem, *problem.dual_quadratic(V))  # the d x d oracle itself
    assert reduced.value == pytest.approx(full.value, rel=1e-10)
    assert reduced.value_upper >= full.value * (1 - 1e-12)
    assert np.linalg.norm(reduced.neuron) == pytest.approx(1.0)
    u = reduced.neuron
    assert abs(V[:, 0] @ problem.activation(X @ u)) == pytest.approx(reduced.value, rel=1e-9)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_native_solves_wide_data_in_the_row_space(loss):
    X, y = _wide(n=12, d=400, seed=5)
    if loss == "logistic":
        y = np.sign(y)
    problem = Problem(X, y, "relu", loss, 0.05)
    result = get_solver("native").solve(problem)
    assert result.network.n_features == 400 and result.gap <= 1e-6
    assert result.lifted[0].shape[-1] == 401
    again = certify(result.network, X, y, loss, 0.05)  # the network alone, on the original data
    assert again.objective == pytest.approx(result.network_objective, rel=1e-12)
    small = Problem(X @ np.linalg.svd(X, full_matrices=False)[2].T, y, "relu", loss, 0.05)
    assert result.network_objective == pytest.approx(get_solver("clarabel").solve(small).network_objective, rel=2e-6)
