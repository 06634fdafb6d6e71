"""Hostile inputs: every misuse a clear error, every scale either solved in exact units or refused."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spectranet import ConvergenceWarning, ConvexPolyNetClassifier, ConvexPolyNetRegressor, PolyNetwork, certify
from spectranet.reductions import UnitScaling

from ._data import planted


@pytest.fixture(scope="module")
def data():
    X, y, _ = planted(n=60, d=3, seed=21)
    return X, y, ConvexPolyNetRegressor(beta=0.1).fit(X, y)


@pytest.mark.parametrize("sx, sy", [(1e20, 1.0), (1.0, 1e30), (1e-10, 1e-20), (1e10, 1e10), (1.0, 1e-40)])
def test_extreme_units_are_solved_exactly(data, sx, sy):
    """Scaling X by s is the activation (a s^2, b s, c); scaling y by t (squared loss) is beta t
    and the objective times t^2: the same optimum, found in safe units and reported in these."""
    X, y, ref = data
    est = ConvexPolyNetRegressor(beta=0.1 * sy, activation=(0.09 / sx**2, 0.5 / sx, 0.47)).fit(X * sx, y * sy)
    assert est.status_ == "optimal" and est.gap_ <= 1e-6
    assert est.network_objective_ / sy**2 == pytest.approx(ref.network_objective_, rel=1e-7)
    np.testing.assert_allclose(est.predict(X * sx) / sy, ref.predict(X), rtol=1e-5, atol=1e-6)


def test_unit_scaling_is_used_only_out_of_range(data):
    from spectranet import Problem

    X, y, _ = data
    assert UnitScaling.of(Problem(X, y, "relu", "squared", 0.1)) is None
    assert UnitScaling.of(Problem(X * 1e5, y, "relu", "squared", 0.1)) is not None


@pytest.mark.parametrize("sx", [1e-120, 1e-90, 1e20])  # (larger data are refused: test below)
def test_unit_scaling_measures_rows_alike_inside_and_outside_the_safe_range(data, sx):
    """UnitScaling sums the squares of rows in place inside SAFE_SQUARE and scaled outside it: the same
    kappa (activation (1, 0, 0): the largest squared row norm) either way."""
    from spectranet import Problem
    from spectranet.reductions import SAFE_SQUARE

    X, y, _ = data
    sq = float(np.max(np.sum(X * X, axis=1)))
    unit = UnitScaling.of(Problem(X * sx, y, (1.0, 0.0, 0.0), "squared", 0.1))
    assert (SAFE_SQUARE[0] < np.max(np.abs(X * sx)) < SAFE_SQUARE[1]) == (1e-100 < sx < 1e100)
    assert unit.kappa == pytest.approx(sq * sx * sx, rel=1e-13)


@pytest.mark.parametrize("sx, sy, what", [(1e60, 1.0, "X has rows of norm up to"), (1e75, 1.0, "X has rows of norm"),
                                          (1e150, 1.0, "X has rows of norm"), (1e160, 1.0, "X has rows of norm"),
                                          (1.0, 1e150, "y has values up to"), (1.0, 1e200, "y has values up to")])
def test_overflowing_scales_are_refused_with_the_scale_named(data, sx, sy, what):
    X, y, _ = data
    with pytest.raises(ValueError, match=f"{what}.*standardize"):
        ConvexPolyNetRegressor(beta=0.1).fit(X * sx, y * sy)


def test_beta_zero_is_refused_everywhere(data):
    X, y, est = data
    with pytest.raises(ValueError, match="beta must be > 0"):
        ConvexPolyNetClassifier(beta=0.0).fit(X, y > np.median(y))
    with pytest.raises(ValueError, match="beta must be > 0"):
        ConvexPolyNetRegressor(beta=0.0, loss="huber").fit(X, y)
    with pytest.raises(ValueError, match="beta must be > 0"):
        certify(est.network_, X, y, beta=0.0)
    assert np.isfinite(est.network_.objective(X, y, "squared", beta=0.0))  # evaluating still works


@pytest.mark.parametrize("solver", ["native", "clarabel", "scs"])
@pytest.mark.parametrize("max_iter", [0, -1, 2.5, True, "10"])
def test_every_solver_validates_max_iter(data, solver, max_iter):
    """Clarabel raised an OverflowError from its Rust core at -1 and took 0, 2.5 and True silently."""
    from spectranet import Problem, get_solver

    X, y, _ = data
    with pytest.raises(ValueError, match=r"max_iter must be None or a positive integer, got "):
        get_solver(solver).solve(Problem(X, y, "relu", "squared", 0.1), max_iter=max_iter)


@pytest.mark.parametrize("solver", ["native", "clarabel"])
@pytest.mark.parametrize("kwargs, message", [({"verbose": "yes"}, "verbose must be True or False, got 'yes'"),
                                             ({"warm_start": 123}, "warm_start must be None, a SolveResult or a "
                                                                   "PolyNetwork, got int")])
def test_every_solver_checks_verbose_and_warm_start(data, solver, kwargs, message):
    """Clarabel's core raised on a verbose that was not a bool; its warm start read ``warm_state``
    off any object (an AttributeError)."""
    from spectranet import Problem, get_solver

    X, y, _ = data
    with pytest.raises(TypeError, match=message):
        get_solver(solver).solve(Problem(X, y, "relu", "squared", 0.1), **kwargs)


def test_path_names_betas_that_are_not_numbers(data):
    from spectranet import regularization_path

    X, y, _ = data
    with pytest.raises(ValueError, match=r"betas must be a sequence of numbers >= 0, got 'a'"):
        regularization_path(X, y, "a")


@pytest.mark.parametrize("tol, exc", [(np.nan, ValueError), (-1.0, ValueError), (1.0, ValueError), (np.inf, ValueError),
                                      ("small", TypeError)])
def test_certify_validates_tol(data, tol, exc):
    X, y, est = data
    with pytest.raises(exc, match="tol must be"):
        certify(est.network_, X, y, tol=tol)


def test_a_tolerance_below_double_precision_warns(data):
    X, y, _ = data
    with pytest.warns(UserWarning, match="below what double precision can certify"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ConvexPolyNetRegressor(beta=0.1, tol=1e-20, max_time=5).fit(X, y)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(0, 12), d=st.integers(0, 4), scale=st.sampled_from([1e-30, 1e-3, 1.0, 1e3, 1e40, 1e80]),
       dtype=st.sampled_from(["float64", "float32", "int64", "bool", "object", "complex"]),
       labels=st.sampled_from(["numeric", "strings", "constant", "nan"]), classify=st.booleans(),
       seed=st.integers(0, 2**16))
def test_estimator_inputs_fuzz(n, d, scale, dtype, labels, classify, seed):
    """Random shapes, dtypes, scales and labels under a time budget: a fit either succeeds (and then
    says how certified it is) or raises ValueError/TypeError; nothing else ever escapes."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * scale
    if dtype == "complex":
        X = X + 1j
    elif dtype == "object":
        X = X.astype(object)
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            X = X.astype(dtype)
    y = {"numeric": rng.standard_normal(n), "strings": rng.choice(["a", "b"], n),
         "constant": np.ones(n), "nan": np.full(n, np.nan)}[labels]
    est = (ConvexPolyNetClassifier if classify else ConvexPolyNetRegressor)(beta=0.5, max_time=2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            est.fit(X, y)
        except (ValueError, TypeError):
            return
    assert est.status_ in ("optimal", "inaccurate", "time_limit", "max_iter")
    assert np.isfinite(est.gap_) and est.lower_bound_ <= est.network_objective_ * (1 + 1e-9) + 1e-300
    assert isinstance(est.network_, PolyNetwork)


@pytest.mark.parametrize("kind, beta", [("regressor", 1e-50), ("regressor", 1e-300), ("classifier", 1e-30),
                                        ("classifier", 1e-100)])
def test_absurdly_small_beta_never_returns_worse_than_no_network(kind, beta):
    """Far below beta_max (1e-32 to 1e-302 of it) the engines' directions overflow: numpy's
    LinAlgError escaped from a step length (regressor, 1e-50), and a stopped lifted iterate gave a
    network of objective 9e16 with accuracy 0.31 (classifier, 1e-30). The fit now says it did not
    converge and returns a network no worse than the zero network."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((120, 4))
    y = X[:, 0] ** 2 if kind == "regressor" else (X[:, 0] + 0.3 * X[:, 1] > 0).astype(int)
    est = ConvexPolyNetRegressor(beta=beta) if kind == "regressor" else ConvexPolyNetClassifier(beta=beta)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(X, y)
    messages = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert est.status_ != "optimal" and any("times beta_max" in m for m in messages)
    from spectranet.losses import get_loss

    targets = (y if kind == "regressor" else 2.0 * y - 1.0)[:, None]
    zero = get_loss("squared" if kind == "regressor" else "logistic").value(np.zeros_like(targets), targets)
    assert np.isfinite(est.network_objective_) and est.network_objective_ <= zero * (1 + 1e-12)
    assert np.all(np.isfinite(est.predict(X)))
