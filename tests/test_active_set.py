"""The active-set polish of the polyhedral losses at small beta, and the narrower networks it gives."""

import numpy as np
import pytest
from sklearn.datasets import load_diabetes

from spectranet import Problem, beta_max, certify, get_solver, make_planted
from spectranet.active_set import active_set_polish
from spectranet.certificate import certify_problem
from spectranet.solvers import ipm
from spectranet.solvers.base import extract_network
from spectranet.solvers.native import NativeSolver


def _diabetes_absolute(rel):
    X, y = load_diabetes(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    y = (y - y.mean()) / y.std()
    return X, y, Problem(X, y, "relu", "absolute", rel * beta_max(X, y, "relu", "absolute"))


def test_polish_starts_from_an_interior_point_at_small_beta():
    """At 1e-6 beta_max (beta = 2.5e-4) the interior point's kink residuals (4.7e-5, in output units)
    are no multiple of beta: the polish starts from them and certifies the fit, which the interior
    point and Clarabel alone leave at 1.8e-6 and 2.3e-6."""
    X, y, problem = _diabetes_absolute(1e-6)
    sol = ipm.solve_lifted(problem, tol=1e-9)
    start = extract_network(problem, sol.Z, sol.Z_prime, 1e-7)
    assert certify(start, X, y, loss="absolute", beta=problem.beta, dual=sol.dual).gap > 1e-6  # kinks off
    network, V = active_set_polish(problem, start, sol.dual)
    cert = certify(network, X, y, loss="absolute", beta=problem.beta, dual=V)
    assert cert.gap <= 1e-9 and network.n_neurons < start.n_neurons
    result = get_solver("auto", problem).solve(problem)  # the native engine, no fallback needed
    assert result.status == "optimal" and result.gap <= 1e-9 and result.engine == "ipm"
    assert result.network_objective == pytest.approx(cert.objective, rel=1e-9)


def test_polish_refuses_a_start_far_from_a_solution():
    X, y, problem = _diabetes_absolute(1e-4)
    plain = NativeSolver(engine="ipm", lean=False).solve(problem)
    U = plain.network.first_layer + 0.05 * np.random.default_rng(0).standard_normal(plain.network.first_layer.shape)
    moved = plain.network.with_layers(U / np.linalg.norm(U, axis=1, keepdims=True), plain.network.second_layer_2d)
    assert active_set_polish(problem, moved, plain.certificate.dual) is None
    assert active_set_polish(problem, plain.network, plain.certificate.dual, max_unknowns=10) is None


def test_lean_fit_of_a_polyhedral_loss_drops_the_spurious_neurons():
    """The interior point's solution carries neurons whose dual function is off +-beta; with lean
    the active-set polish drops them: 12 -> 6 neurons, the same optimum, certified."""
    X, y = make_planted(100, 5, n_neurons=3, noise=0.1, random_state=105)
    problem = Problem(X, y, "relu", "absolute", 1e-5 * beta_max(X, y, "relu", "absolute"))
    wide = NativeSolver(engine="ipm", lean=False, self_certify=False).solve(problem)
    lean = NativeSolver(engine="ipm").solve(problem)
    assert wide.status == lean.status == "optimal" and max(wide.gap, lean.gap) <= 1e-6
    assert (wide.n_neurons, lean.n_neurons) == (12, 6)
    assert lean.certificate.own_gap <= 1e-9 < wide.certificate.own_gap  # (its kink dual: by itself)
    assert lean.network_objective == pytest.approx(wide.network_objective, rel=2e-6)
    again = certify_problem(problem, lean.network, dual=lean.certificate.dual, tol=1e-6)
    assert again.gap <= 1e-9 and again.lower_bound <= lean.network_objective * (1 + 1e-12)
    # nothing to drop: the polish is not tried for narrowing
    assert active_set_polish(problem, lean.network, lean.certificate.dual, narrower=True) is None


@pytest.mark.parametrize("rel", [1e-3, 1e-4, 1e-5])
def test_exact_interpolation_keeps_the_polished_network(rel):
    """Noiseless data and the absolute loss: every sample ends on its kink, more kinks than the
    neurons' conditions fix, so the polish's dual values are one point of a family, which may leave
    [-1, 1]. Its network (the kinks met to rounding) is kept and certified by the interior point's
    dual: the fits stopped "inaccurate" at 7e-6, 3e-5 and 8e-3 (Clarabel at 1.4e-5 for 1e-4) when
    the polish was discarded."""
    X, y = make_planted(200, 5, random_state=0)
    problem = Problem(X, y, "relu", "absolute", rel * beta_max(X, y, "relu", "absolute"))
    result = get_solver("auto", problem).solve(problem)
    assert result.status == "optimal" and result.gap <= 1e-6 and result.n_neurons == 5
    assert np.max(np.abs(result.network.predict(X) - y)) <= 1e-12
    # the polish keeps its dual values in the box (a point of the family there): the network proves
    # itself (at 1e-3 and 1e-4, 0.96 and 0.77 by itself before, or 1e-12, as rounding went)
    assert result.certificate.own_gap <= 1e-9
    alone = certify(result.network, X, y, "absolute", problem.beta, witness=False)
    assert alone.gap <= 1e-9
    clarabel = get_solver("clarabel").solve(problem)
    assert clarabel.status == "optimal" and clarabel.gap <= 1e-6
    assert result.network_objective == pytest.approx(clarabel.network_objective, rel=2e-6)


@pytest.mark.parametrize("rel", [1e-2, 1e-3, 1e-4, 1e-6])
def test_polyhedral_fits_prove_themselves_by_their_kink_dual(rel):
    """The subgradient proves nothing at the kink samples (own gap 0.9-1.0 before); the kink dual
    (spectranet.kink_dual), from the network and the data alone, proves the fit after its final
    active-set polish: certify without the witness reaches tol, its source "kinks". (At 1e-3 the
    interior point's kink set holds one sample too many: the polish releases it, active_set.RELEASES;
    without, the network proved 7e-5 by itself.)"""
    X, y, problem = _diabetes_absolute(rel)
    result = get_solver("auto", problem).solve(problem)
    assert result.status == "optimal" and result.certificate.own_gap <= 1e-6
    alone = certify(result.network, X, y, "absolute", problem.beta, witness=False)
    assert alone.is_optimal and alone.source == "kinks"
    again = certify_problem(problem, result.network, tol=1e-6)  # no dual given: the own gap is the kink dual's
    assert again.own_gap == pytest.approx(alone.gap, rel=1e-9)


def test_kink_dual_of_several_outputs_is_the_kink_dual_of_each():
    """The optimality conditions of output k's neurons involve output k's kink samples alone, so the
    kink dual is solved output by output (12 classes of random labels, hinge: 42 s -> 1 s a fit): a
    three-output fit's kink dual is, column by column, the kink dual of each output's own problem."""
    from spectranet.kink_dual import kink_dual

    rng = np.random.default_rng(3)
    X = rng.standard_normal((150, 4))
    Y = np.c_[X[:, 0] ** 2 - X[:, 1], X[:, 2] * X[:, 3], X[:, 1]]
    problem = Problem(X, Y, "relu", "absolute", 0.05 * beta_max(X, Y, "relu", "absolute"))
    network = get_solver("auto", problem).solve(problem).network
    V = kink_dual(problem, network, problem.outputs(network))
    assert V is not None and V.shape == Y.shape
    A = network.second_layer_2d
    outputs = np.argmax(np.abs(A), axis=1)
    assert set(outputs) == {0, 1, 2}
    for k in range(3):
        own = Problem(X, Y[:, k], "relu", "absolute", problem.beta)
        mine = outputs == k
        sub = own.make_network(network.first_layer[mine], A[mine, k])
        Vk = kink_dual(own, sub, own.outputs(sub))
        np.testing.assert_allclose(V[:, k], np.ravel(Vk), rtol=0, atol=1e-12)
