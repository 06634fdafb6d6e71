import numpy as np
import pytest

from spectranet import ConvexPolyNetRegressor, Problem, get_solver

from .test_solvers import loss_case


@pytest.mark.parametrize("loss", ["squared", "huber", "logistic", "softmax"])
@pytest.mark.parametrize("beta", [1e-2, 1.0])
def test_native_reaches_the_sdp_optimum_with_a_certificate(loss, beta):
    X, y, C = loss_case(loss, n=50, d=3)
    problem = Problem(X, y, "relu", loss, beta)
    native = get_solver("native").solve(problem)
    sdp = get_solver("clarabel").solve(problem)
    assert native.status == "optimal" and native.gap <= 1e-6
    assert native.lower_bound <= native.network_objective
    assert native.network_objective == pytest.approx(sdp.network_objective, rel=2e-6)
    assert sdp.lower_bound <= native.network_objective * (1 + 1e-12)
    assert native.n_neurons <= 2 * (X.shape[1] + 1) * C
    assert np.allclose(np.linalg.norm(native.network.first_layer, axis=1), 1.0)
    times = [h[0] for h in native.history]
    assert times == sorted(times) and native.history[-1][1] == pytest.approx(native.network_objective)


def test_native_warm_start_from_a_previous_beta_takes_fewer_rounds():
    X, y, _ = loss_case("squared", n=60, d=4)
    problem = Problem(X, y, "relu", "squared", 0.05)
    solver = get_solver("native")
    cold = solver.solve(problem)
    warm = solver.solve(problem.with_beta(0.04), warm_start=cold)
    cold2 = solver.solve(problem.with_beta(0.04))
    assert warm.gap <= 1e-6
    assert warm.network_objective == pytest.approx(cold2.network_objective, rel=2e-6)
    assert warm.iterations < cold2.iterations


def test_native_is_deterministic_and_available_to_estimators():
    X, y, _ = loss_case("squared", n=40, d=3)
    a = ConvexPolyNetRegressor(beta=0.1, solver="native").fit(X, y)
    b = ConvexPolyNetRegressor(beta=0.1, solver="native").fit(X, y)
    np.testing.assert_array_equal(a.network_.first_layer, b.network_.first_layer)
    assert a.solver_ == "native" and a.gap_ <= 1e-6


@pytest.mark.parametrize("loss", ["hinge", "absolute"])
def test_native_refuses_losses_it_does_not_support(loss):
    X, y, _ = loss_case(loss, n=20, d=2)
    problem = Problem(X, y, "relu", loss, 0.1)
    with pytest.raises(ValueError, match="solver 'native' does not support this problem"):
        get_solver("native", problem)
    with pytest.raises(ValueError, match=f"does not support the {loss} loss yet"):
        get_solver("native").solve(problem)
