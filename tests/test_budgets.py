"""Time and iteration budgets: every long fit is stoppable and says why it stopped."""

import time
import warnings

import numpy as np
import pytest

from spectranet import (
    Conv2D,
    ConvergenceWarning,
    ConvexPolyNetRegressor,
    Problem,
    beta_max,
    get_solver,
    make_planted,
    regularization_path,
)
from spectranet.certificate import certify_problem
from spectranet.solvers.native import NativeSolver

from ._data import planted


@pytest.fixture(scope="module")
def wide():
    """A wide optimum that column generation takes many rounds to certify (seconds, not ms)."""
    X, y, _ = planted(n=1500, d=30, m=10, seed=11)
    base = Problem(X, y, "relu", "squared", 0.0)
    return X, y, 1e-5 * beta_max(base)


@pytest.mark.parametrize("engine", ["columns", "ipm", "lowrank"])
def test_max_time_stops_with_the_best_certified_network(wide, engine):
    X, y, beta = wide
    problem = Problem(X, y, "relu", "squared", beta)
    start = time.perf_counter()
    with pytest.warns(ConvergenceWarning, match=r"certified relative gap .*the time limit \(max_time\) stopped it"):
        result = NativeSolver(engine=engine).solve(problem, max_time=0.3)
    elapsed = time.perf_counter() - start
    assert result.status == "time_limit" and result.gap > 1e-6
    assert elapsed < 0.3 + 3.0  # a budget, plus a pass over the data and the final certificate
    assert result.lower_bound <= result.network_objective  # whatever it returns is certified


def test_estimator_and_path_budgets(wide):
    X, y, beta = wide
    with pytest.warns(ConvergenceWarning):
        est = ConvexPolyNetRegressor(beta=beta, solver=NativeSolver(engine="columns"), max_time=0.3).fit(X, y)
    assert est.status_ == "time_limit" and np.isfinite(est.gap_)
    betas = beta * np.array([1e4, 1e2, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        path = regularization_path(X, y, betas, solver=NativeSolver(engine="columns"), max_time=0.5)
    assert path.statuses[0] in ("optimal", "time_limit")
    assert "time_limit" in path.statuses
    unsolved = [i for i, s in enumerate(path.statuses) if s == "time_limit" and path.networks[i] is None]
    assert all(np.isnan(path.gaps[i]) and path.n_neurons[i] == -1 for i in unsolved)


def test_cvxpy_backends_take_the_budget():
    X, y, _ = planted(n=600, d=12, seed=12)
    problem = Problem(X, y, "relu", "squared", 1e-3)
    with pytest.warns(ConvergenceWarning, match=r"the time limit \(max_time\) stopped it: allow more time") as caught:
        result = get_solver("clarabel").solve(problem, max_time=0.05)
    assert result.status == "time_limit"
    assert not any("mosek" in str(w.message) or "max_iter" in str(w.message) for w in caught)  # (it said so)


def test_max_iter_bounds_the_engine_and_says_so(wide):
    X, y, beta = wide
    with pytest.warns(ConvergenceWarning, match="try a larger max_iter"):
        result = NativeSolver(engine="columns").solve(Problem(X, y, "relu", "squared", beta), max_iter=2)
    assert result.status == "max_iter" and result.iterations <= 2


def test_lowrank_deadline_stops_inside_a_round():
    """A low-rank round's subspace polish stops at the deadline (a round here takes seconds): the
    engine returns its best certified network promptly, and a deadline may be moved by the caller."""
    from spectranet import make_planted
    from spectranet.solvers.lowrank import solve_lowrank

    X, y = make_planted(30000, 20, n_neurons=5, noise=0.1, random_state=0)
    X /= np.sqrt(20)
    y = np.where(y > np.median(y), 1.0, -1.0)
    base = Problem(X, y, "relu", "logistic", 0.0)
    problem = base.with_beta(1e-3 * beta_max(base))
    start = time.perf_counter()
    network, cert, rounds = solve_lowrank(problem, deadline=lambda: start + 0.3, max_rounds=3)
    assert time.perf_counter() - start < 0.3 + 2.0  # without the stop inside the polish: 8 s
    assert rounds <= 2 and not cert.is_optimal
    assert cert.lower_bound <= cert.objective and network.n_neurons >= 1


@pytest.mark.parametrize("engine", ["auto", "ipm", "lifted", "lowrank", "columns"])
def test_an_exhausted_budget_before_the_first_round_returns_the_certified_zero_network(engine):
    """The low-rank engine's best round may be its first, the zero network (no subspace yet): it is
    returned, certified, where the neural decomposition of an empty subspace raised (a deadline
    before the first round ended). max_iter counts iterations or rounds alike: 0 is refused by every
    engine (the interior points read it as no limit)."""
    X, y, _ = planted(n=200, d=5, seed=3)
    problem = Problem(X, y, "relu", "squared", 0.1 * beta_max(X, y, "relu", "squared"))
    with pytest.warns(ConvergenceWarning, match="the time limit"):
        result = NativeSolver(engine=engine).solve(problem, max_time=1e-9)
    assert result.status == "time_limit" and result.n_neurons == 0
    assert result.lower_bound <= result.network_objective == pytest.approx(0.5 * float(np.sum(y * y)))
    with pytest.raises(ValueError, match=r"max_iter must be None or a positive integer, got 0"):
        NativeSolver(engine=engine).solve(problem, max_iter=0)


def test_a_polish_past_its_deadline_skips_the_exact_second_layer(monkeypatch):
    """L-BFGS stops at the deadline and so does the polish: the exact second layer (a Newton solve,
    0.24 s a call on a 220-neuron, 10-output network, six calls) ran past it, and a 10-class softmax
    fit given max_time=0.5 took 2.2 s."""
    from spectranet import local, newton

    X, y, _ = planted(n=200, d=5, seed=3)
    problem = Problem(X, y, "relu", "squared", 1e-3 * beta_max(X, y, "relu", "squared"))
    rng = np.random.default_rng(0)
    network = problem.make_network(rng.standard_normal((12, 5)), rng.standard_normal((12, 1)))
    calls = []
    monkeypatch.setattr(newton, "applicable", lambda problem, network: False)  # (the L-BFGS branch)
    original = local.newton_second_layer
    monkeypatch.setattr(local, "newton_second_layer", lambda *a, **k: calls.append(1) or original(*a, **k))
    late, _ = local._polish_and_certify(problem, network, 1e-6, deadline=time.perf_counter() - 1.0)
    assert calls == []
    on_time, _ = local._polish_and_certify(problem, network, 1e-6)
    assert calls == [1] and problem.objective(on_time) <= problem.objective(late)


def test_max_iter_is_the_whole_budget_no_polish_after_it(monkeypatch):
    """max_iter=1 at 1e-6 beta_max (planted 500 x 20) ran 3.4 s of face polish and column generation
    after an iteration of 10 ms (the unlimited fit: 0.18 s): past max_iter the extraction is
    returned as it is, certified, and said to be stopped there."""
    from spectranet.solvers import native_run

    X, y = make_planted(500, 20, noise=0.1, random_state=0)
    problem = Problem(X, y, "relu", "squared", 1e-6 * beta_max(X, y, "relu", "squared"))

    def refuse(*args, **kwargs):
        raise AssertionError("a polish ran past max_iter")

    monkeypatch.setattr(native_run, "tighten", refuse)
    monkeypatch.setattr(native_run._Run, "_face_polish", refuse)
    monkeypatch.setattr(native_run, "polish", refuse)
    for max_iter in (1, 3):
        with pytest.warns(ConvergenceWarning, match="try a larger max_iter"):
            result = NativeSolver().solve(problem, max_iter=max_iter)
        assert result.status == "max_iter" and result.iterations == max_iter and result.engine == "ipm"
        assert result.certificate.gap == pytest.approx(
            certify_problem(problem, result.network, dual=result.certificate.dual).gap, rel=1e-12)


def test_max_iter_counts_a_trial_and_the_engine_after_it():
    """A convolutional fit (several pairs per output) tries column generation, then the lifted
    engine: max_iter=2 ran 4 iterations in all (2 rounds, then 2 iterations)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 36))
    y = (X[:, :9] ** 2).sum(1) - X[:, 20:29].sum(1) ** 2
    for max_iter in (1, 2, 4):
        with pytest.warns(ConvergenceWarning, match="max_iter"):
            est = ConvexPolyNetRegressor(architecture=Conv2D((1, 6, 6), 3), beta=0.5, max_iter=max_iter).fit(X, y)
        assert est.status_ == "max_iter" and est.n_iter_ <= max_iter


def test_cvxpy_compilation_counts_against_max_time(monkeypatch):
    """CVXPY compiles a model before its backend's clock starts (1500 x 40: 1.1 s, so max_time=1
    took 3.1 s with Clarabel): a compilation that uses the budget up leaves no solve."""
    import cvxpy as cp

    compile_problem = cp.Problem.get_problem_data

    def slow(self, *args, **kwargs):
        time.sleep(0.3)
        return compile_problem(self, *args, **kwargs)

    monkeypatch.setattr(cp.Problem, "get_problem_data", slow)
    X, y, _ = planted(n=60, d=3, seed=12)
    with pytest.warns(ConvergenceWarning, match=r"time limit before the solve.*allow more time"):
        result = get_solver("clarabel").solve(Problem(X, y, "relu", "squared", 1e-3), max_time=0.2)
    assert result.status == "time_limit" and result.iterations == 0 and result.network.n_neurons == 0
