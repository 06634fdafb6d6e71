import numpy as np
import pytest

from spectranet import ConvexPolyNetRegressor, PolyNetwork, Problem, get_solver
from spectranet.exceptions import ConvergenceWarning, SolverError
from spectranet.solvers.native import NativeSolver

from .test_solvers import loss_case


def _check_against_sdp(problem, result, C):
    sdp = get_solver("clarabel").solve(problem)
    assert result.status == "optimal" and result.gap <= 1e-6
    assert result.lower_bound <= result.network_objective * (1 + 1e-12)  # equal up to rounding
    assert result.network_objective == pytest.approx(sdp.network_objective, rel=2e-6)
    assert sdp.lower_bound <= result.network_objective * (1 + 1e-12)
    assert result.n_neurons <= 2 * (problem.n_features + 1) * C
    # and per output: each output's neurons are an optimal network of their own (the bound 2(d+1))
    assert np.all(np.count_nonzero(result.network.second_layer_2d, axis=0) <= 2 * (problem.n_features + 1))
    assert np.allclose(np.linalg.norm(result.network.first_layer, axis=1), 1.0)
    times = [h[0] for h in result.history]
    assert times == sorted(times)


@pytest.mark.parametrize("loss", ["squared", "huber", "logistic", "softmax"])
@pytest.mark.parametrize("beta", [1e-2, 1.0])
@pytest.mark.parametrize("engine", ["ipm", "columns"])
def test_native_reaches_the_sdp_optimum_with_a_certificate(loss, beta, engine):
    X, y, C = loss_case(loss, n=50, d=3)
    problem = Problem(X, y, "relu", loss, beta)
    result = NativeSolver(engine=engine).solve(problem)
    assert result.engine == engine
    _check_against_sdp(problem, result, C)
    assert result.history[-1][1] == pytest.approx(result.network_objective)
    if engine == "ipm":  # the lifted iterate and the extracted network agree to the tolerance
        # (the interior point stops once its iterate's network is certified to tol = 1e-6)
        assert result.objective == pytest.approx(result.network_objective, rel=1e-6)
        assert result.network_objective <= result.objective * (1 + 1e-12)


@pytest.mark.parametrize("loss", ["hinge", "absolute"])
def test_native_polyhedral_losses_through_the_interior_point_method(loss):
    X, y, C = loss_case(loss, n=50, d=3)
    problem = Problem(X, y, "relu", loss, 1.0)
    auto = get_solver("auto", problem)  # the native interior point, Clarabel as its fallback
    assert (type(auto).__name__, auto.first.engine, auto.second.name) == ("FallbackSolver", "ipm", "clarabel")
    result = NativeSolver(engine="ipm").solve(problem)
    assert result.engine == "ipm"
    _check_against_sdp(problem, result, C)
    assert auto.solve(problem).engine == "ipm"  # certified by the native engine: no fallback


def test_fallback_hands_an_uncertified_problem_to_the_second_solver(monkeypatch, recwarn):
    """A first result short of tol goes to the second solver, whose certified result is returned
    with the time of both, and the first one's ConvergenceWarning is not shown."""
    from spectranet.solvers.cvxpy_backend import ClarabelSolver
    from spectranet.solvers.fallback import FallbackSolver

    X, y, C = loss_case("absolute", n=50, d=3)
    problem = Problem(X, y, "relu", "absolute", 1.0)
    first = NativeSolver(engine="ipm")
    solver = FallbackSolver(first, ClarabelSolver())
    real = first.solve
    monkeypatch.setattr(first, "solve", lambda problem, **kw: real(problem, **{**kw, "max_iter": 2}))
    assert real(problem, max_iter=2).status != "optimal"  # two iterations: not certified
    recwarn.clear()
    result = solver.solve(problem)
    assert (result.solver, result.status) == ("clarabel", "optimal") and result.gap <= 1e-6
    assert not [w for w in recwarn if "native" in str(w.message)]
    _check_against_sdp(problem, result, C)

    def fail(*args, **kwargs):
        raise SolverError("the Schur matrix is not positive definite")

    monkeypatch.setattr(first, "solve", fail)
    assert solver.solve(problem).solver == "clarabel"  # a first solver that fails outright
    with pytest.raises(SolverError, match="not positive definite"):  # ... with no time left for the second
        solver.solve(problem, max_time=1e-9)
    monkeypatch.setattr(first, "solve", lambda problem, **kw: real(problem, **{**kw, "max_iter": 2}))
    monkeypatch.setattr(solver.second, "solve", fail)
    with pytest.warns(ConvergenceWarning, match="native stopped"):  # a failing second: the first result
        kept = solver.solve(problem)
    assert kept.solver == "native" and kept.status == "max_iter"


def test_auto_prefers_native():
    X, y, _ = loss_case("squared", n=30, d=2)
    assert get_solver("auto", Problem(X, y, "relu", "squared", 0.1)).name == "native"


def test_native_warm_start_from_a_previous_beta_takes_fewer_rounds():
    X, y, _ = loss_case("squared", n=60, d=4)
    problem = Problem(X, y, "relu", "squared", 0.05)
    solver = NativeSolver(engine="columns")
    cold = solver.solve(problem)
    warm = solver.solve(problem.with_beta(0.04), warm_start=cold)
    cold2 = solver.solve(problem.with_beta(0.04))
    assert warm.gap <= 1e-6
    assert warm.network_objective == pytest.approx(cold2.network_objective, rel=2e-6)
    assert warm.iterations < cold2.iterations


def test_native_finishes_a_given_network_to_optimality():
    """A network trained elsewhere (here: the optimum, perturbed) is finished and certified."""
    X, y, _ = loss_case("logistic", n=60, d=3)
    problem = Problem(X, y, "relu", "logistic", 0.5)
    opt = get_solver("native").solve(problem)
    rng = np.random.default_rng(0)
    U = opt.network.first_layer + 0.2 * rng.standard_normal(opt.network.first_layer.shape)
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    start = PolyNetwork(U, 0.5 * opt.network.second_layer, "relu")
    assert problem.objective(start) > opt.network_objective * (1 + 1e-3)
    finished = get_solver("native").solve(problem, warm_start=start)
    assert finished.gap <= 1e-6
    assert finished.network_objective == pytest.approx(opt.network_objective, rel=1e-6)


def test_native_warm_start_errors():
    X, y, _ = loss_case("squared", n=30, d=2)
    problem = Problem(X, y, "relu", "squared", 0.1)
    with pytest.raises(TypeError, match="warm_start must be None, a SolveResult or a PolyNetwork"):
        get_solver("native").solve(problem, warm_start=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="unit-norm first-layer rows"):
        get_solver("native").solve(problem, warm_start=PolyNetwork(2.0 * np.eye(2), [1.0, 1.0], "relu"))
    with pytest.raises(ValueError, match="engine must be one of"):
        NativeSolver(engine="newton")


def test_native_is_deterministic_and_available_to_estimators():
    X, y, _ = loss_case("squared", n=40, d=3)
    a = ConvexPolyNetRegressor(beta=0.1, solver="native").fit(X, y)
    b = ConvexPolyNetRegressor(beta=0.1, solver="native").fit(X, y)
    np.testing.assert_array_equal(a.network_.first_layer, b.network_.first_layer)
    assert a.solver_ == "native" and a.gap_ <= 1e-6


@pytest.mark.parametrize("loss", ["hinge", "absolute"])
def test_column_generation_refuses_polyhedral_losses(loss):
    X, y, _ = loss_case(loss, n=20, d=2)
    problem = Problem(X, y, "relu", loss, 0.1)
    with pytest.raises(ValueError, match=f"its engines need a smooth loss .*not {loss}"):
        get_solver(NativeSolver(engine="columns"), problem).solve(problem)


def test_small_beta_cold_start_skips_the_column_generation_trial(caplog, monkeypatch):
    """Below WIDE * beta_max the interior-point method starts at once, and the first iterate whose
    extracted network its dual certifies ends the solve."""
    import logging

    from spectranet import beta_max
    from spectranet.solvers import dispatch

    X, y, _ = loss_case("squared", n=60, d=4)
    wide = Problem(X, y, "relu", "squared", 0.5 * dispatch.WIDE * beta_max(X, y, "relu", "squared"))
    with caplog.at_level(logging.DEBUG, logger="spectranet"):
        result = NativeSolver().solve(wide)
    assert result.engine in ("ipm", "lifted") and result.status == "optimal" and result.gap <= 1e-6
    assert not any("trial did not" in r.getMessage() or r.name == "spectranet.local" for r in caplog.records)
    assert any("accepted by the caller" in r.getMessage() for r in caplog.records)
    caplog.clear()
    monkeypatch.setattr(dispatch, "TRIAL_MIN", 0.0)  # (the direct engine is cheap here: no trial by default)
    with caplog.at_level(logging.DEBUG, logger="spectranet"):  # a large beta: the trial first
        NativeSolver().solve(wide.with_beta(0.5 * beta_max(X, y, "relu", "squared")))
    assert any("trial did not" in r.getMessage() or r.name == "spectranet.local" for r in caplog.records)


def test_face_network_is_kept_when_nothing_is_certified(monkeypatch):
    """When neither the extraction nor the face polish's network is certified to tol (an engine
    that stalled), the one that proves the smaller gap by itself is kept, as tighten's start; a
    certified extraction is never traded for an uncertified face network."""
    import time

    from spectranet import face
    from spectranet.certificate import certify_problem
    from spectranet.solvers.native import _Run

    rng = np.random.default_rng(3)
    X = rng.standard_normal((80, 5))
    y = X[:, 0] ** 2 - X[:, 1] + 0.1 * rng.standard_normal(80)
    problem = Problem(X, y, "relu", "squared", 0.5)
    optimum = NativeSolver().solve(problem, tol=1e-9).network
    near = optimum.with_layers(optimum.first_layer, optimum.second_layer_2d * (1 + 1e-3))  # not certified
    far = optimum.with_layers(optimum.first_layer, optimum.second_layer_2d * 0.5)
    certs = {k: certify_problem(problem, net, tol=1e-6) for k, net in (("near", near), ("far", far))}
    assert not certs["near"].is_optimal and certs["near"].own_gap < certs["far"].own_gap
    p = problem.n_features + 1
    monkeypatch.setattr(face, "face_polish", lambda *a, **k: face.FaceResult(np.zeros((1, p, p)), np.zeros((1, p, p)),
                                                                             near, 0))
    run = _Run(NativeSolver(), problem, 1e-6, None, False, time.perf_counter(), None)
    Z = np.zeros((1, p, p))
    network, cert, lifted = run._face(Z, Z, Z, Z, far, certs["far"])
    assert network is near and lifted is not None and cert.own_gap == pytest.approx(certs["near"].own_gap)
    # a certified extraction stays, whatever the face network proves by itself
    exact = certify_problem(problem, optimum, tol=1e-6)
    network, cert, lifted = run._face(Z, Z, Z, Z, optimum, exact)
    assert network is optimum and lifted is None


def test_a_face_polish_that_certifies_itself_ends_the_solve_without_an_extraction(monkeypatch):
    # the iterate's extraction (and its certificate, a pass over the data) serves only where the
    # face polish's network does not certify itself
    from spectranet.certificate import certify_problem
    from spectranet.solvers import native_run

    from ._data import planted

    X, y, _ = planted(n=300, d=6, seed=0)
    problem = Problem(X, y, "relu", "squared", 0.0).with_beta(0.11)  # 3.4e-4 beta_max
    extracted = []
    real = native_run.extract_network
    monkeypatch.setattr(native_run, "extract_network", lambda *a, **k: extracted.append(1) or real(*a, **k))
    result = NativeSolver(engine="lifted").solve(problem)
    assert extracted == []
    own = certify_problem(problem, result.network, tol=1e-6)
    assert own.gap <= 1e-6 and result.gap <= 1e-6
    plain = NativeSolver(engine="lifted", self_certify=False, lean=False).solve(problem)
    assert extracted and plain.network_objective == pytest.approx(result.network_objective, rel=2e-6)


def test_fits_are_reproducible_whatever_the_timing():
    """The same data give the same network: a face polish retried after a number of engine
    iterations, not after the time the last one took (which made a regressor's two fits differ at
    4e-7 in one of three of scikit-learn's idempotency checks)."""
    from sklearn.utils.estimator_checks import check_fit_idempotent

    from spectranet import ConvexPolyNetRegressor

    for _ in range(4):
        check_fit_idempotent("ConvexPolyNetRegressor", ConvexPolyNetRegressor())


@pytest.mark.parametrize("loss, outputs", [("squared", 1), ("softmax", 3)])
def test_column_generation_trial_milestone_only_for_one_output(monkeypatch, loss, outputs):
    """A column-generation trial gets the milestone (the gap below TRIAL_GAP after a third of its
    budget) with one output only: with several, the gap stays near 1 until every output has its
    neurons (digits' ten classes at 1e-2 beta_max: 0.96 for 18 s, then 3e-7 in 2 s)."""
    from spectranet import beta_max
    from spectranet.solvers import dispatch
    from spectranet.solvers.native_run import TRIAL_GAP, _Run

    X, y, C = loss_case(loss, n=60, d=4)
    assert C == outputs
    problem = Problem(X, y, "relu", loss, 0.0)
    problem = problem.with_beta(0.5 * beta_max(problem))
    monkeypatch.setattr(dispatch, "TRIAL_MIN", 0.0)  # (a trial even where the direct engine is cheap)
    seen = []
    original = _Run.columns

    def columns(self, network, deadline, milestone):
        seen.append(milestone)
        return original(self, network, deadline, milestone)

    monkeypatch.setattr(_Run, "columns", columns)
    result = NativeSolver().solve(problem)
    assert result.status == "optimal" and result.gap <= 1e-6
    assert len(seen) == 1
    if outputs == 1:
        assert seen[0] is not None and seen[0][1] == TRIAL_GAP
    else:
        assert seen[0] is None


def test_the_lifted_engine_follows_a_sample_space_interior_point_that_stalled():
    """Huber at 1e-10 beta_max: the sample-space interior point stalls (a gap of 8.6e-3, "inaccurate"),
    the lifted one certifies; "auto" now runs it after the stall and returns its network."""
    from spectranet import beta_max

    rng = np.random.default_rng(0)
    X = rng.standard_normal((170, 10))
    y = X[:, 0] ** 2 - X[:, 1] + 0.3 * rng.standard_normal(170)
    problem = Problem(X, y, "relu", "huber", 1e-10 * beta_max(X, y, "relu", "huber"))
    result = NativeSolver().solve(problem)
    assert result.status == "optimal" and result.gap <= 1e-6 and result.engine == "lifted"
    with pytest.warns(ConvergenceWarning):
        alone = NativeSolver(engine="ipm").solve(problem)
    assert alone.gap > 1e-6 and result.network_objective <= alone.network_objective


def test_a_narrower_face_network_is_polished_to_the_optimum():
    """300 identical rows: the face polish's one neuron was 2e-8 above the optimum and proved 0.99 by
    itself, so the fit kept the 12 neurons the dual certified; the exact Newton polish takes the one
    neuron to the optimum (column generation's, which proves itself)."""
    rng = np.random.default_rng(27)
    X = np.tile(rng.standard_normal((1, 5)), (300, 1))
    y = rng.standard_normal(300)
    problem = Problem(X, y, "relu", "squared", 1e-3)
    result = NativeSolver().solve(problem)
    columns = NativeSolver(engine="columns").solve(problem)
    assert result.status == "optimal" and result.n_neurons == columns.n_neurons == 1
    assert result.certificate.own_gap <= 1e-12
    assert result.network_objective == pytest.approx(columns.network_objective, rel=1e-12)
