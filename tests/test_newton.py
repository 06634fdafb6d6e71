"""The trust-region Newton polish: exact derivatives on spheres x orthant, convergence, scope."""

import numpy as np
import pytest

from spectranet import Conv2D, PolyNetwork, Problem, certify, get_solver, newton
from spectranet.kernels import tangent
from spectranet.solvers.base import compress_network, lift_network

from ._data import planted
from .test_solvers import loss_case


def _network(rng, m, d, C, activation):
    U = rng.standard_normal((m, d))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    return PolyNetwork(U, rng.standard_normal((m, C)) if C > 1 else rng.standard_normal(m), activation)


def _check_derivatives(problem, network, rows=None, rtol=1e-5):
    """The objective, gradient and Hessian rows (all, or ``rows``) of the Newton system against
    central differences of the objective along the retraction; returns the Hessian."""
    U, A = network.first_layer, network.second_layer_2d
    S = np.sign(A)
    free = np.argwhere(S != 0)
    value, g, H, Q = newton._newton_system(problem, U, A, S, free)
    assert value == pytest.approx(problem.objective(network), rel=1e-12)

    def f(step):
        return newton._objective(problem, *newton._retract(U, A, S, Q, free, step), S)

    h, eye = 1e-4, np.eye(len(g))
    g_fd = np.array([(f(h * e) - f(-h * e)) / (2 * h) for e in eye])
    np.testing.assert_allclose(g, g_fd, rtol=1e-6, atol=1e-6 * np.max(np.abs(g)))
    for i in range(len(g)) if rows is None else rows:
        a = eye[i]
        row = [(f(h * (a + b)) - f(h * (a - b)) - f(h * (b - a)) + f(-h * (a + b))) / (4 * h * h) for b in eye]
        np.testing.assert_allclose(H[i], row, rtol=rtol, atol=1e-5 * np.max(np.abs(H)))
    return H


@pytest.mark.parametrize("loss", ["squared", "logistic", "huber", "softmax"])
def test_gradient_and_hessian_match_finite_differences(loss):
    """The Hessian in tangent coordinates (retraction u <- (u + Qz)/|u + Qz|) is the second
    derivative of the objective along the retraction, sphere curvature included."""
    X, y, C = loss_case(loss, n=40, d=4)
    problem = Problem(X, y, "relu", loss, 0.1)
    network = _network(np.random.default_rng(0), 3, 4, problem.n_outputs, problem.activation)
    H = _check_derivatives(problem, network)
    np.testing.assert_array_equal(H, H.T)


def test_newton_polish_reaches_a_stationary_point_to_rounding():
    X, y, _ = planted(80, 3, seed=1)
    problem = Problem(X, y, "relu", "squared", 0.05)
    start = _network(np.random.default_rng(2), 4, 3, 1, problem.activation)
    polished = newton.newton_polish(problem, start)
    assert problem.objective(polished) < problem.objective(start)
    # stationary on the manifold: the tangent gradient of every neuron and the weights' vanish
    U, A = polished.first_layer, polished.second_layer_2d
    S = np.sign(A)
    _, g, _, _ = newton._newton_system(problem, U, A, S, np.argwhere(S != 0))
    assert np.max(np.abs(g)) <= 1e-7 * problem.objective(polished)
    # never worse than its start, whatever the start
    again = newton.newton_polish(problem, polished)
    assert problem.objective(again) <= problem.objective(polished) * (1 + 1e-15)


def test_newton_polish_keeps_the_sign_pattern():
    X, y, _ = planted(60, 3, seed=3)
    problem = Problem(X, y, "relu", "squared", 0.01)
    net = _network(np.random.default_rng(4), 3, 3, 1, problem.activation)
    A = np.abs(net.second_layer_2d)
    A[2] = 0.0  # a new neuron: weight zero, allowed sign -1
    signs = np.array([[1.0], [1.0], [-1.0]])
    grown = net.with_layers(net.first_layer, A, drop_zero=False)
    polished = newton.newton_polish(problem, grown, signs=signs)
    assert problem.objective(polished) <= problem.objective(grown)
    # neurons whose weight reached zero are dropped, the others keep their order: the surviving
    # signs are a subsequence of the allowed ones (no weight changed sign)
    allowed = iter(signs.ravel())
    assert all(any(sign == a for a in allowed) for sign in np.sign(polished.second_layer_2d.ravel()))


def test_scope_dense_numpy_and_small():
    X, y, _ = planted(50, 3, seed=0)
    problem = Problem(X, y, "relu", "squared", 0.1)
    net = _network(np.random.default_rng(0), 2, 3, 1, problem.activation)
    assert newton.applicable(problem, net)
    wide = _network(np.random.default_rng(0), newton.MAX_PARAMS // 3 + 1, 3, 1, problem.activation)
    assert not newton.applicable(problem, wide)
    hundred = _network(np.random.default_rng(0), 100, 3, 1, problem.activation)  # P = 300
    assert newton.applicable(problem, hundred)
    many = Problem(np.tile(X, (1_000, 1)), np.tile(y, 1_000), "relu", "squared", 0.1)
    assert not newton.applicable(many, hundred)  # n P^2 above MAX_FLOPS: L-BFGS-B polishes


def test_compress_network_keeps_the_lifted_point_with_fewer_neurons():
    """Eight positive neurons in d = 2 span a lifted matrix of rank at most 3: the neural
    decomposition gives the same (Z, Z') and objective with at most 3 neurons per sign."""
    rng = np.random.default_rng(5)
    X, y, _ = planted(40, 2, seed=5)
    problem = Problem(X, y, "relu", "squared", 0.1)
    U = rng.standard_normal((8, 2))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    net = PolyNetwork(U, np.abs(rng.standard_normal(8)), problem.activation)
    compact = compress_network(problem, net)
    assert compact.n_neurons <= 3
    for a, b in zip(lift_network(net), lift_network(compact)):
        np.testing.assert_allclose(a, b, atol=1e-10)
    assert problem.objective(compact) == pytest.approx(problem.objective(net), rel=1e-12)
    assert compress_network(problem, compact) is compact  # nothing left to remove
    c1 = certify(net, X, y, beta=0.1)
    c2 = certify(compact, X, y, beta=0.1)
    assert c2.lower_bound == pytest.approx(c1.lower_bound, rel=1e-9)


@pytest.mark.parametrize("arch", [
    Conv2D((1, 5, 5), 3),  # a pair per patch
    Conv2D((2, 5, 4), 2, stride=2, padding=1),
    Conv2D((1, 6, 6), 3, pool=2),
    Conv2D((1, 6, 6), 2, pool=3),  # windows stored as eigen-factors
    Conv2D((1, 6, 6), 3, pool="global"),
], ids=["patches", "strided", "pool2", "pool_moments", "global"])
@pytest.mark.parametrize("loss", ["squared", "softmax"])
def test_grouped_lift_derivatives_match_finite_differences(arch, loss):
    """The same Newton system on the grouped lift (pairs p = gC + k): exact along the retraction."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((12, arch.n_inputs))
    y = rng.integers(0, 3, 12) if loss == "softmax" else rng.standard_normal(12)
    problem = Problem(X, y, (0.09, 0.5, 0.47), loss, 0.05, architecture=arch)
    m, f, P = 2, problem.n_features, problem.n_pairs
    U = rng.standard_normal((m, f))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    A = rng.standard_normal((m, P)) * (rng.random((m, P)) < 0.6)
    network = problem.make_network(U, A)
    assert newton.applicable(problem, network)
    n_coords = network.n_neurons * (f - 1) + np.count_nonzero(network.second_layer_2d)
    rows = rng.choice(n_coords, size=min(n_coords, 12), replace=False)  # a sample of Hessian rows
    _check_derivatives(problem, network, rows=rows, rtol=1e-4)


def test_newton_polish_on_a_pooled_cnn_is_certified():
    rng = np.random.default_rng(3)
    arch = Conv2D((1, 6, 6), 3, pool="global")
    X = rng.standard_normal((60, arch.n_inputs))
    y = np.sign(rng.standard_normal(60))
    problem = Problem(X, y, (0.09, 0.5, 0.47), "logistic", 0.05, architecture=arch)
    result = get_solver("native").solve(problem)
    assert result.status == "optimal" and result.gap <= 1e-6
    assert result.network_objective == pytest.approx(get_solver("clarabel").solve(problem).network_objective,
                                                     rel=2e-6)


@pytest.mark.parametrize("arch", [None, "pooled"])
def test_newton_terms_summed_over_blocks_of_rows_equal_the_whole(monkeypatch, arch):
    """sample_terms bounds its temporaries by summing blocks of rows (10^6 x 50: 1.2 GB at once):
    the same value, gradient and Hessian."""
    X, y, _ = loss_case("logistic", n=37, d=9)
    architecture = None if arch is None else Conv2D((1, 3, 3), 2, pool=2)
    problem = Problem(X, y, "relu", "logistic", 0.1, architecture=architecture)
    network = _network(np.random.default_rng(5), 3, problem.n_features, problem.n_pairs, problem.activation)
    U, A = network.first_layer, network.second_layer_2d
    S = np.sign(A)
    free = np.argwhere(S != 0)
    whole = newton._newton_system(problem, U, A, S, free)
    monkeypatch.setattr(tangent, "ROW_BLOCK_ENTRIES", 1)  # one row per block
    blocked = newton._newton_system(problem, U, A, S, free)
    assert blocked[0] == pytest.approx(whole[0], rel=1e-13)
    np.testing.assert_allclose(blocked[1], whole[1], rtol=1e-11, atol=1e-12 * np.max(np.abs(whole[1])))
    np.testing.assert_allclose(blocked[2], whole[2], rtol=1e-11, atol=1e-12 * np.max(np.abs(whole[2])))
