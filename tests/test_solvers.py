import warnings

import cvxpy as cp
import numpy as np
import pytest

from spectranet import (
    ConvergenceWarning,
    Problem,
    ProblemTooLargeError,
    SolverError,
    available_solvers,
    certify,
    get_solver,
)
from spectranet.solvers import SOLVERS
from spectranet.solvers.cvxpy_backend import MosekSolver, estimate_model_bytes

from ._data import planted


def loss_case(loss, n=60, d=4, seed=0):
    """(X, y, n_outputs) for each loss on planted data."""
    X, y, _ = planted(n=n, d=d, seed=seed)
    if loss in ("logistic", "hinge"):
        return X, np.where(y > np.median(y), 1.0, -1.0), 1
    if loss == "softmax":
        return X, np.digitize(y, np.quantile(y, [1 / 3, 2 / 3])), 3
    return X, y, 1


LOSSES = ["squared", "absolute", "huber", "logistic", "hinge", "softmax"]


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("beta", [1e-2, 1.0])
def test_clarabel_optimum_is_extracted_and_certified(loss, beta):
    X, y, C = loss_case(loss)
    problem = Problem(X, y, "relu", loss, beta)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        result = get_solver("clarabel").solve(problem)
    assert result.status == "optimal"
    assert result.gap <= 1e-6
    assert result.lower_bound <= result.network_objective
    assert abs(result.network_objective - result.objective) <= 1e-6 * abs(result.objective)
    assert 0 < result.n_neurons <= 2 * (X.shape[1] + 1) * C
    assert np.allclose(np.linalg.norm(result.network.first_layer, axis=1), 1.0)
    # the objective of the extracted network, recomputed independently
    assert result.network.objective(X, y, loss, beta) == pytest.approx(result.network_objective, rel=1e-12)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_scs_agrees_with_clarabel(loss):
    X, y, _ = loss_case(loss, n=40, d=3)
    problem = Problem(X, y, "relu", loss, 0.1)
    a = get_solver("clarabel").solve(problem)
    b = get_solver("scs").solve(problem, tol=1e-5)
    assert b.network_objective == pytest.approx(a.network_objective, rel=1e-4)
    assert b.lower_bound <= a.network_objective + 1e-9
    assert a.lower_bound <= b.network_objective + 1e-9


def test_vector_output_regression_uses_one_pair_per_output():
    X, Y, _ = planted(n=50, d=3, outputs=2)
    problem = Problem(X, Y, "swish", "squared", 0.05)
    result = get_solver("clarabel").solve(problem)
    assert result.gap <= 1e-6
    Z, Zp = result.lifted
    assert Z.shape == Zp.shape == (2, 4, 4)
    A = result.network.second_layer
    assert A.shape[1] == 2 and np.all(np.count_nonzero(A, axis=1) == 1)  # each neuron feeds one output
    assert result.n_neurons <= 2 * 4 * 2


def test_one_dimensional_case_is_a_two_feature_lasso():
    """d = 1: the sphere is {-1, +1}, so (P) is a lasso on sigma(x) and sigma(-x)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal(40)
    y = 0.7 * x**2 - x + 0.2 * rng.standard_normal(40)
    beta = 0.3
    problem = Problem(x[:, None], y, "relu", "squared", beta)
    result = get_solver("clarabel").solve(problem)
    act = problem.activation
    F = np.column_stack([act(x), act(-x)])
    w = cp.Variable(2)
    lasso = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(F @ w - y) + beta * cp.norm1(w)))
    lasso.solve(solver="CLARABEL")
    assert result.objective == pytest.approx(lasso.value, rel=1e-7)
    assert result.network_objective == pytest.approx(lasso.value, rel=1e-7)
    assert set(np.round(result.network.first_layer[:, 0], 12)) <= {-1.0, 1.0}


def test_iteration_limit_is_reported_not_hidden():
    X, y, _ = loss_case("absolute", n=80, d=5)  # non-smooth: no local polish to rescue it
    problem = Problem(X, y, "relu", "absolute", 1e-3)
    with pytest.warns(ConvergenceWarning, match="certified relative gap") as caught:
        result = get_solver("scs").solve(problem, max_iter=5)
    assert result.status == "max_iter"  # (its iteration cap stopped it)
    assert result.gap > 1e-6
    assert result.lower_bound <= result.network_objective
    assert "try solver='clarabel' or 'mosek', a larger max_iter" in str(caught[0].message)


def test_inaccurate_backend_suggests_the_other_backends():
    """The hint names the interior-point backends other than the one that stopped short."""
    X, y, _ = loss_case("absolute", n=80, d=5)
    problem = Problem(X, y, "relu", "absolute", 1e-3)
    with pytest.warns(ConvergenceWarning, match="certified relative gap") as caught:
        get_solver("clarabel").solve(problem, max_iter=3)
    message = str(caught[0].message)
    assert "try solver='mosek', a larger max_iter" in message and "solver='clarabel'" not in message


def test_backend_failure_raises_solver_error(monkeypatch):
    X, y, _ = loss_case("squared", n=20, d=2)
    problem = Problem(X, y, "relu", "squared", 0.1)

    def fail(self, *args, **kwargs):
        raise cp.error.SolverError("Solver 'CLARABEL' failed.")

    monkeypatch.setattr(cp.Problem, "solve", fail)
    with pytest.raises(SolverError, match="clarabel failed on this problem") as info:
        get_solver("clarabel").solve(problem)
    assert info.value.solver == "clarabel" and info.value.status == "solver_error"


def test_infeasible_status_raises_solver_error(monkeypatch):
    X, y, _ = loss_case("squared", n=20, d=2)
    problem = Problem(X, y, "relu", "squared", 0.1)

    def fake(self, *args, **kwargs):
        self._status = cp.INFEASIBLE_INACCURATE

    monkeypatch.setattr(cp.Problem, "solve", fake)
    with pytest.raises(SolverError, match="clarabel returned status 'infeasible_inaccurate'"):
        get_solver("clarabel").solve(problem)


def test_model_too_large_is_refused_before_building():
    X, y, _ = loss_case("squared", n=20, d=2)
    with pytest.raises(ProblemTooLargeError, match=r"needs about .* GB, but only 0\.0 GB is available"):
        get_solver("clarabel", memory_limit=1e3).solve(Problem(X, y))
    # MNIST 0/1 at full resolution cannot be built as a CVXPY model on a 24 GB machine
    assert estimate_model_bytes(12665, 784) > 100e9


def test_registry_errors(monkeypatch):
    assert {"clarabel", "scs"} <= set(available_solvers())
    with pytest.raises(ValueError, match=r"unknown solver 'gurobi'; valid solvers are \['auto'\]"):
        get_solver("gurobi")
    with pytest.raises(TypeError, match="solver must be a name or a Solver instance"):
        get_solver(3)
    monkeypatch.setattr(MosekSolver, "is_available", classmethod(lambda cls: False))
    message = r"solver 'mosek' is not installed; install it with: pip install 'spectranet\[mosek\]'"
    with pytest.raises(ValueError, match=message):
        get_solver("mosek")
    assert get_solver("auto").name == "native"
    assert set(SOLVERS) == {"clarabel", "scs", "mosek", "native"}


def test_warm_start_reuses_the_compiled_model():
    X, y, _ = loss_case("squared", n=30, d=3)
    problem = Problem(X, y, "relu", "squared", 0.1)
    solver = get_solver("clarabel")
    first = solver.solve(problem)
    second = solver.solve(problem.with_beta(0.05), warm_start=first)
    assert second.warm_state is first.warm_state  # same compiled model, new beta
    cold = solver.solve(problem.with_beta(0.05))
    assert second.objective == pytest.approx(cold.objective, rel=1e-7)


@pytest.mark.parametrize("loss", ["hinge", "absolute"])
def test_active_set_polish_certifies_polyhedral_losses_to_machine_precision(loss):
    from spectranet.local import active_set_polish

    X, y, _ = loss_case(loss, n=80, d=5, seed=3)
    problem = Problem(X, y, "relu", loss, 1e-2)
    result = get_solver("clarabel").solve(problem)
    Z, Zp = result.lifted
    from spectranet.solvers.cvxpy_backend import extract_network

    start = extract_network(problem, Z, Zp, 1e-7)
    polished, V = active_set_polish(problem, start, result.warm_state.link.dual_value)
    cert = certify(polished, X, y, loss=loss, beta=1e-2, dual=V)
    assert cert.gap <= 1e-10
    assert cert.objective <= problem.objective(start) + 1e-9


@pytest.mark.parametrize("solver", ["native", "clarabel", "scs"])
def test_beta_above_beta_max_returns_the_certified_zero_network(solver):
    from spectranet import beta_max

    X, y, _ = loss_case("logistic", n=40, d=3)
    problem = Problem(X, y, "relu", "logistic", 1.5 * beta_max(X, y, "relu", "logistic"))
    result = get_solver(solver).solve(problem)
    assert result.n_neurons == 0 and result.iterations == 0 and result.status == "optimal"
    assert result.gap <= 1e-12 and result.network_objective == pytest.approx(40 * np.log(2.0))
