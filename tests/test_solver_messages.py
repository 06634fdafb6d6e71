"""Statuses and messages: a CVXPY backend stopped by its iteration cap, solver='native' on a polyhedral
loss, certify without a witness, with_layers' shapes, the advice at a tiny beta."""

import warnings

import numpy as np
import pytest

from spectranet import ConvergenceWarning, ConvexPolyNetClassifier, Problem, certify, get_solver
from spectranet.solvers.cvxpy_backend import ClarabelSolver, ScsSolver

from ._data import planted


def hinge_problem(beta=1e-2):
    X, y, _ = planted(n=80, d=4, seed=3)
    return Problem(X, np.where(y > np.median(y), 1.0, -1.0), "relu", "hinge", beta)


@pytest.mark.parametrize("solver, kwargs", [(ClarabelSolver(), {"max_iter": 2}), (ClarabelSolver(max_iter=2), {}),
                                            (ScsSolver(), {"max_iter": 3}), (ScsSolver(max_iters=3), {}),
                                            (ClarabelSolver(), {"max_iter": 2, "max_time": 60.0})])
def test_a_cvxpy_backend_stopped_by_its_iteration_cap_says_max_iter(solver, kwargs):
    with pytest.warns(ConvergenceWarning, match=rf"{solver.name} stopped with status .* a certified relative gap"):
        result = solver.solve(hinge_problem(), **kwargs)
    assert result.gap > 1e-6
    assert result.status == "max_iter"


def test_the_estimators_status_is_max_iter_for_a_polyhedral_loss_stopped_by_max_iter():
    X, y, _ = planted(n=80, d=4, seed=3)
    for solver in ("clarabel", "auto"):
        with pytest.warns(ConvergenceWarning, match="clarabel stopped"):
            fitted = ConvexPolyNetClassifier(loss="hinge", solver=solver, max_iter=2).fit(X, y > np.median(y))
        assert fitted.status_ == "max_iter"


def test_native_by_name_on_a_polyhedral_loss_gives_the_native_solvers_reason():
    problem = hinge_problem()
    match = (r"solver 'native' \(engine='auto'\) does not support this problem: its engines need a smooth loss "
             r"\(squared, huber, logistic, softmax\), not hinge \(engine='ipm' takes the polyhedral losses .*\); "
             r"use solver='auto' \(engine='ipm', then Clarabel\) or 'clarabel'")
    with pytest.raises(ValueError, match=match):
        get_solver("native", problem)
    X, y, _ = planted(n=80, d=4, seed=3)
    with pytest.raises(ValueError, match=match):
        ConvexPolyNetClassifier(loss="hinge", solver="native").fit(X, y > np.median(y))


def test_certify_without_beta_and_with_witness_false_says_the_witness_was_not_used():
    X, y, _ = planted(n=60, d=3, seed=1)
    network = get_solver("native").solve(Problem(X, y, beta=1e-2)).network
    assert network.witness is not None
    with pytest.raises(ValueError, match=r"^beta is required: witness=False leaves the network's witness unused, "
                                         r"so beta is not taken from it \(certify\(network, X, y, loss, beta\)\)$"):
        certify(network, X, y, witness=False)
    with pytest.raises(ValueError, match="^beta is required: the network carries no witness to take it from"):
        certify(network.with_witness(None), X, y)


def test_with_layers_takes_a_1d_second_layer_for_one_output_and_names_the_shape_otherwise():
    X, y, _ = planted(n=60, d=3, seed=1)
    network = get_solver("native").solve(Problem(X, y, beta=1e-2)).network
    U, a = network.first_layer, network.second_layer
    assert a.ndim == 1
    same = network.with_layers(U, a)
    np.testing.assert_array_equal(same.second_layer, a)
    m = U.shape[0]
    with pytest.raises(ValueError, match=rf"^second_layer_2d must have shape \(n_neurons, n_pairs\) = "
                                         rf"\({m}, 1\) or \({m},\): one row per row of first_layer"):
        network.with_layers(U, a[:-1])
    with pytest.raises(ValueError, match=rf"= \({m}, 1\) or \({m},\).*got shape \({m}, 2\)$"):
        network.with_layers(U, np.c_[a, a])  # the network's output shape decides: (m, 2) is not (m, 1)
    wide = network.__class__(U, np.c_[a, a], network.activation)
    with pytest.raises(ValueError, match=rf"= \({m}, 2\): one row per row of first_layer.*got shape \({m},\)$"):
        wide.with_layers(U, a)


def test_a_cvxpy_fit_at_a_tiny_beta_advises_a_larger_beta():
    X, y, _ = planted(n=60, d=3, seed=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = ClarabelSolver().solve(Problem(X, y, beta=1e-14))
    messages = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    if result.status == "optimal":  # (certified anyway: no advice to give)
        pytest.skip("certified at this beta")
    assert any(f"> tol=1e-06; beta is {1e-14 / certify_zero_lam(X, y):.1e} times beta_max: try a larger beta "
               "(spectranet.beta_max); try solver='mosek', a larger max_iter, or standardized features" in m
               for m in messages), messages


def test_a_cvxpy_fit_at_an_ordinary_beta_gives_no_beta_advice():
    with pytest.warns(ConvergenceWarning) as caught:
        ClarabelSolver().solve(hinge_problem(), max_iter=2)
    assert not any("a larger beta" in str(w.message) for w in caught)
    assert any("> tol=1e-06; try solver='mosek', a larger max_iter, or standardized features" in str(w.message)
               for w in caught)


def certify_zero_lam(X, y):
    from spectranet import beta_max

    return beta_max(X, y, "relu", "squared")


@pytest.mark.parametrize("kwargs", [{}, {"regularization": "cubic", "activation": "square"}])
def test_a_tol_below_double_precision_warns_once_per_fit(kwargs):
    """The estimator checks its tol early without the warning; the solver gives it (it came twice)."""
    from spectranet import ConvexPolyNetRegressor

    X, y, _ = planted(n=40, d=3, seed=4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ConvexPolyNetRegressor(tol=1e-15, **kwargs).fit(X, y)
    assert sum("is below what double precision can certify" in str(w.message) for w in caught) == 1


def test_the_native_solver_advises_a_larger_beta_at_a_tiny_beta():
    """At 9e-15 beta_max double precision cannot certify: the warning says so first (it advised
    standardized features and Clarabel, which does worse)."""
    from spectranet import ConvexPolyNetRegressor

    rng = np.random.default_rng(6)
    X = rng.standard_normal((100, 4))
    y = X[:, 0] ** 2 - X[:, 1] + 0.1 * rng.standard_normal(100)
    with pytest.warns(ConvergenceWarning, match=r"; beta is 9\.0e-15 times beta_max: try a larger beta"):
        est = ConvexPolyNetRegressor(beta=1e-12).fit(X, y)
    assert est.status_ == "inaccurate"
