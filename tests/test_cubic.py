"""Square activation with cubic regularization (spectranet.cubic)."""

import warnings

import numpy as np
import pytest
from scipy.optimize import minimize

import spectranet
from spectranet import PolyNetwork, Problem
from spectranet.cubic import C0, SQUARE, cubic_objective, cubic_weights, extract_cubic_network, solve_cubic
from spectranet.exceptions import ConvergenceWarning

RTOL = 1e-6


def _data(n=40, d=5, outputs=None, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.standard_normal(n if outputs is None else (n, outputs))
    return X, y


def _close(a, b, rtol=RTOL):
    assert abs(a - b) <= rtol * max(1.0, abs(b)), (a, b)


@pytest.mark.parametrize("beta", [0.1, 1.0, 10.0])
def test_nuclear_norm_optimum_matches_everything(beta):
    X, y = _data()
    problem = Problem(X, y, "square", "squared", beta)
    res = solve_cubic(problem, tol=1e-6)
    assert res.status == "optimal" and res.gap <= 1e-6
    assert res.solver == "clarabel-cubic"
    assert res.n_neurons <= X.shape[1]
    U, A = res.cubic.first_layer, res.cubic.second_layer
    # (i) the non-convex cubic objective at the cubic weights
    _close(cubic_objective(X, y, "squared", beta, U, A), res.objective)
    # (ii) objective (P) of the unit-norm network
    assert np.allclose(np.linalg.norm(res.network.first_layer, axis=1), 1.0)
    _close(problem.objective(res.network), res.objective)
    # (iii) the generic SDP (21) with the square activation
    generic = spectranet.get_solver("clarabel").solve(problem)
    _close(generic.objective, res.objective)
    assert res.lower_bound <= res.objective * (1 + 1e-9)
    # the nuclear matrix and the lifted pair of (21)
    W = res.cubic.nuclear_matrix
    Z, Zp = res.lifted
    assert W.shape == (1, 5, 5) and Z.shape == Zp.shape == (1, 6, 6)
    _close(problem.lifted_objective(Z, Zp), res.objective)


def test_cubic_weights_formula_and_penalty():
    q = np.array([[0.6, 0.8, 0.0], [0.0, 0.0, 1.0]])
    net = PolyNetwork(q, np.array([-8.0, 1.0]), SQUARE)
    U, A = cubic_weights(net)
    assert np.allclose(U[0], 2 ** (1 / 9) * 2.0 * q[0]) and np.allclose(A[0], -(2 ** (-2 / 9)) * 2.0)
    assert np.allclose(U[1], 2 ** (1 / 9) * q[1]) and np.allclose(A[1], 2 ** (-2 / 9))
    # same function, penalty (1/c0)(|u|^3 + |a|^3) = |lambda|
    X, y = _data(n=10, d=3)
    rescaled = PolyNetwork(U, A, SQUARE)
    assert np.allclose(rescaled.predict(X), net.predict(X))
    penalty = (np.sum(np.linalg.norm(U, axis=1) ** 3) + np.sum(np.abs(A) ** 3)) / C0
    assert np.isclose(penalty, 9.0)
    assert np.isclose(cubic_objective(X, y, "squared", 2.0, U, A),
                      net.objective(X, y, "squared", beta=2.0))


def test_cubic_weights_of_non_unit_network_and_zero_neurons():
    net = PolyNetwork(np.array([[3.0, 0.0], [1.0, 1.0]]), np.array([[1.0, -2.0], [0.0, 0.0]]), SQUARE)
    U, A = cubic_weights(net)
    assert U.shape == (1, 2) and A.shape == (1, 2)
    X = np.random.default_rng(3).standard_normal((7, 2))
    assert np.allclose(PolyNetwork(U, A, SQUARE).predict(X), net.predict(X))
    with pytest.raises(ValueError, match="square"):
        cubic_weights(PolyNetwork(np.eye(2), np.ones(2), "relu"))


def test_extraction_rank_and_tolerance():
    rng = np.random.default_rng(1)
    Q = np.linalg.qr(rng.standard_normal((4, 4)))[0]
    W = (Q * np.array([2.0, -1.0, 1e-12, 0.0])) @ Q.T
    net = extract_cubic_network(W[None])
    assert net.n_neurons == 2 and net.second_layer.shape == (2,)
    assert np.allclose(sorted(net.second_layer), [-1.0, 2.0])
    X = rng.standard_normal((6, 4))
    assert np.allclose(net.predict(X), np.einsum("id,de,ie->i", X, W, X))


def test_vector_output():
    X, Y = _data(outputs=2, seed=2)
    problem = Problem(X, Y, "square", "squared", 1.0)
    res = solve_cubic(problem)
    assert res.status == "optimal" and res.gap <= 1e-6
    assert res.network.second_layer.shape[1] == 2
    assert res.n_neurons <= 2 * X.shape[1]
    U, A = res.cubic.first_layer, res.cubic.second_layer
    _close(cubic_objective(X, Y, "squared", 1.0, U, A), res.objective)
    _close(problem.objective(res.network), res.objective)
    _close(spectranet.get_solver("clarabel").solve(problem).objective, res.objective)


def test_vector_output_l3_penalty_is_a_different_problem():
    """With ||alpha_j||_3^3 a neuron feeding both outputs beats the nuclear-norm optimum."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((30, 3))
    q = np.array([1.0, 2.0, -2.0]) / 3.0
    t = (X @ q) ** 2
    Y = np.column_stack([t, t])
    res = solve_cubic(Problem(X, Y, "square", "squared", 0.5))
    # W_1 = W_2: the refinement merges the equal neurons of both outputs into one
    assert np.allclose(*res.cubic.nuclear_matrix, atol=1e-7)
    assert np.any(np.count_nonzero(res.network.second_layer_2d, axis=1) == 2)
    U, A = res.cubic.first_layer, res.cubic.second_layer
    assert np.isclose(cubic_objective(X, Y, "squared", 0.5, U, A), res.objective, rtol=1e-6)
    assert cubic_objective(X, Y, "squared", 0.5, U, A, output_norm=3) < res.objective - 1e-2


def test_logistic_loss():
    X, _ = _data(seed=5)
    y = np.sign(X[:, 0] ** 2 - X[:, 1] ** 2 + 0.1)
    problem = Problem(X, y, "square", "logistic", 0.5)
    res = solve_cubic(problem)
    assert res.status == "optimal" and res.gap <= 1e-6 and res.n_neurons <= 5
    U, A = res.cubic.first_layer, res.cubic.second_layer
    _close(cubic_objective(X, y, "logistic", 0.5, U, A), res.objective)
    _close(spectranet.get_solver("clarabel").solve(problem).objective, res.objective)


def test_non_smooth_loss_uses_the_backend_dual():
    X, y = _data(seed=6)
    problem = Problem(X, y, "square", "absolute", 2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = solve_cubic(problem)
    _close(problem.objective(res.network), res.objective, 1e-5)
    assert res.gap <= 1e-5


def test_zero_network_above_beta_max():
    X, y = _data(seed=7)
    res = solve_cubic(Problem(X, y, "square", "squared", 1e6))
    assert res.n_neurons == 0 and res.status == "optimal"
    _close(res.objective, 0.5 * float(np.sum(y**2)))


@pytest.mark.parametrize("activation", ["relu", (1.0, 0.5, 0.0), (2.0, 0.0, 0.0)])
def test_non_square_activation_raises(activation):
    X, y = _data()
    with pytest.raises(ValueError, match=r"square activation \(a, b, c\) = \(1, 0, 0\).*PolyActivation"):
        solve_cubic(Problem(X, y, activation, "squared", 1.0))


def test_bad_solver_and_problem():
    X, y = _data()
    problem = Problem(X, y, "square", "squared", 1.0)
    with pytest.raises(ValueError, match="CVXPY backend"):
        solve_cubic(problem, solver="native")
    with pytest.raises(TypeError, match="Problem"):
        solve_cubic((X, y))
    with pytest.raises(ValueError, match="output_norm"):
        cubic_objective(X, y, "squared", 1.0, np.ones((1, 5)), np.ones(1), output_norm=2)


def test_scs_backend_runs():
    X, y = _data(seed=8)
    problem = Problem(X, y, "square", "squared", 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = solve_cubic(problem, solver="scs", tol=1e-4)
    assert res.solver == "scs-cubic"
    _close(res.network_objective, solve_cubic(problem).objective, 1e-4)


def test_local_search_never_beats_the_optimum():
    X, y = _data(seed=9)
    beta = 1.0
    opt = solve_cubic(Problem(X, y, "square", "squared", beta)).objective
    m, d = 7, X.shape[1]
    rng = np.random.default_rng(10)

    def f(z):
        return cubic_objective(X, y, "squared", beta, z[: m * d].reshape(m, d), z[m * d:])

    best = np.inf
    for _ in range(6):
        z0 = 0.5 * rng.standard_normal(m * d + m)
        res = minimize(f, z0, method="L-BFGS-B", options={"maxiter": 3000, "ftol": 1e-14, "gtol": 1e-10})
        assert res.fun >= opt - 1e-8
        best = min(best, res.fun)
    assert best <= opt * (1 + 1e-3)  # local search gets close: the comparison is meaningful


def test_cubic_fits_take_max_iter_and_a_refit_drops_the_cubic_weights():
    """max_iter reaches the backend (it ran to convergence before), and a refit with "l1" leaves no
    stale cubic weights of the earlier fit."""
    from spectranet import ConvexPolyNetRegressor

    rng = np.random.default_rng(12)
    X = rng.standard_normal((120, 4))
    y = X[:, 0] ** 2 - X[:, 1]
    est = ConvexPolyNetRegressor(regularization="cubic", activation="square", beta=1e-2, max_iter=1).fit(X, y)
    assert est.n_iter_ == 1 and hasattr(est, "cubic_first_layer_")
    full = ConvexPolyNetRegressor(regularization="cubic", activation="square", beta=1e-2).fit(X, y)
    assert full.n_iter_ > 1
    est.set_params(regularization="l1", max_iter=None).fit(X, y)
    assert not hasattr(est, "cubic_first_layer_") and not hasattr(est, "cubic_second_layer_")
    with pytest.raises(ValueError, match="max_iter"):
        ConvexPolyNetRegressor(regularization="cubic", activation="square", max_iter=0).fit(X, y)
