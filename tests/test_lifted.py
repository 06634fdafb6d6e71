"""The interior point in the lifted space: certified optima of (21) whatever their width, the
sufficient statistics of the squared loss, every data backend, and the engines' dispatch."""

import time

import numpy as np
import pytest

from spectranet import Conv2D, Problem, beta_max, certify, get_solver, make_planted
from spectranet.solvers import dispatch, lifted
from spectranet.solvers.native import NativeSolver

from ._data import planted
from .test_solvers import loss_case


def _against_clarabel(problem, result):
    sdp = get_solver("clarabel").solve(problem)
    assert result.status == "optimal" and result.gap <= 1e-6
    assert result.network_objective == pytest.approx(sdp.network_objective, rel=2e-6)
    assert result.lower_bound <= sdp.network_objective * (1 + 1e-9)
    assert sdp.lower_bound <= result.network_objective * (1 + 1e-9)
    assert result.objective <= result.network_objective


@pytest.mark.parametrize("loss", ["squared", "logistic", "softmax", "huber"])
@pytest.mark.parametrize("relative", [1e-1, 1e-4])
def test_lifted_engine_reaches_the_sdp_optimum(loss, relative):
    X, y, C = loss_case(loss, n=60, d=3)
    base = Problem(X, y, "relu", loss, 0.0)
    problem = base.with_beta(relative * beta_max(base))
    result = NativeSolver(engine="lifted").solve(problem)
    assert result.engine == "lifted"
    _against_clarabel(problem, result)
    assert result.n_neurons <= 2 * (problem.n_features + 1) * C
    # the certificate of the returned network, reproduced from the network, the data and its dual
    again = certify(result.network, X, y, loss, problem.beta, dual=result.certificate.dual)
    assert again.gap == pytest.approx(result.gap, abs=1e-12)


def test_lifted_iterates_are_certified_and_converge():
    X, y, _ = planted(n=200, d=5, seed=1)
    problem = Problem(X, y, "relu", "squared", 0.0)
    problem = problem.with_beta(1e-5 * beta_max(problem))
    sol = lifted.solve_lifted_space(problem, tol=1e-9)
    assert sol.status == "optimal"
    assert sol.lower_bound <= sol.objective
    assert (sol.objective - sol.lower_bound) <= 1e-9 * sol.objective
    gaps = [(p - b) / p for _, p, b in sol.history]
    assert gaps[-1] <= 1e-9 and gaps[0] > 0.5
    # the bound is a true one: at most the optimum Clarabel certifies
    sdp = get_solver("clarabel").solve(problem)
    assert sol.lower_bound <= sdp.network_objective * (1 + 1e-9)


def test_squared_loss_sufficient_statistics_are_reused_along_a_path():
    X, y, _ = planted(n=300, d=4, seed=2)
    base = Problem(X, y, "relu", "squared", 0.0)
    bmax = beta_max(base)
    solver = NativeSolver(engine="lifted")
    first = solver.solve(base.with_beta(1e-2 * bmax))
    model = first.warm_state["lifted_objective"]
    second = solver.solve(base.with_beta(1e-3 * bmax), warm_start=first)
    assert second.warm_state["lifted_objective"] is model  # no second pass over the data
    _against_clarabel(base.with_beta(1e-3 * bmax), second)


def test_lifted_engine_on_a_pooled_cnn_matches_clarabel():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 16))
    y = np.sign(X[:, 5] * X[:, 6] + 0.1)
    arch = Conv2D((1, 4, 4), 2, pool="global")
    base = Problem(X, y, "relu", "logistic", 0.0, architecture=arch)
    problem = base.with_beta(1e-2 * beta_max(base))
    result = NativeSolver(engine="lifted").solve(problem)
    _against_clarabel(problem, result)


def test_lifted_engine_on_dask_and_torch_data_matches_numpy():
    dask_array = pytest.importorskip("dask.array")
    torch = pytest.importorskip("torch")
    X, y, _ = planted(n=80, d=3, seed=4)
    problem = Problem(X, y, "relu", "squared", 0.05)
    ref = NativeSolver(engine="lifted").solve(problem)
    for data in ((dask_array.from_array(X, chunks=25), dask_array.from_array(y, chunks=25)),
                 (torch.tensor(X), torch.tensor(y))):
        result = NativeSolver(engine="lifted").solve(Problem(*data, "relu", "squared", 0.05))
        assert result.gap <= 1e-6
        assert result.network_objective == pytest.approx(ref.network_objective, rel=2e-6)


def test_lifted_engine_refuses_what_it_cannot_solve():
    X, y, _ = planted(n=30, d=3)
    with pytest.raises(ValueError, match="needs a smooth loss with a Hessian"):
        NativeSolver(engine="lifted").solve(Problem(X, y, "relu", "absolute", 0.1))
    assert not lifted.supports(Problem(X, y, "relu", "squared", 0.0))  # beta = 0: no interior
    assert lifted.newton_order(Problem(X, y, "relu", "squared", 0.1)) == 10


def test_dispatch_picks_the_cheaper_interior_point_and_trials_only_narrow_optima():
    X, y, _ = planted(n=400, d=3, seed=5)
    problem = Problem(X, y, "relu", "squared", 0.0)
    bmax = beta_max(problem)
    narrow, wide = problem.with_beta(0.5 * bmax), problem.with_beta(1e-6 * bmax)
    estimates = {e: dispatch.estimate_seconds(wide, e) for e in ("ipm", "lifted")}
    assert estimates["lifted"] < estimates["ipm"]  # n = 400, D = 10: the lifted blocks are tiny
    assert dispatch.plan(wide, beta_max=bmax).engine == "lifted"
    assert dispatch.plan(narrow, beta_max=bmax).trial == 0.0  # below TRIAL_MIN: no trial either
    big_d = Problem(np.random.default_rng(0).standard_normal((50, 120)), np.ones(50), "relu", "squared", 1.0)
    assert dispatch.estimate_seconds(big_d, "lifted") == np.inf  # Newton blocks beyond MAX_ORDER
    assert dispatch.plan(big_d, beta_max=10.0, allowed=("lifted", "columns")).engine == "columns"


def _digits_3_vs_8(n=None):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    keep = (y == 3) | (y == 8)
    X, y = X[keep] / 16.0, np.where(y[keep] == 8, 1.0, -1.0)
    return X[:n], y[:n]


def test_dispatch_gives_a_patch_network_a_trial_below_wide():
    """A patch network's dense lifted Newton system has order P D per output whatever the width
    of the optimum: below WIDE * beta_max, column generation still gets a trial when the direct
    engine is estimated above PATCH_TRIAL_MIN seconds (all of digits, 3x3 patches without pooling:
    P D = 1980 against n = 1797); a dense network does not. With fewer samples than half that
    order (digits 3 vs 8, n = 357) the blocks are solved through capacitances of order n and the
    lifted engine runs at once: 1e-6 beta_max certified in about 3 s (60 s with dense blocks)."""
    from sklearn.datasets import load_digits

    Xa, ya = load_digits(return_X_y=True)
    many = Problem(Xa / 16.0, np.where(ya < 5, 1.0, -1.0), "relu", "logistic", 0.0, architecture=Conv2D((1, 8, 8), 3))
    bmax = beta_max(many)
    plan = dispatch.plan(many.with_beta(1e-6 * bmax), beta_max=bmax)
    assert not lifted.uses_factors(many) and plan.engine == "lifted"
    assert plan.estimates["lifted"] > dispatch.PATCH_TRIAL_MIN
    assert plan.trial == pytest.approx(dispatch.TRIAL * plan.estimates["lifted"]) and plan.narrow == "columns"
    X, y = _digits_3_vs_8()
    dense = Problem(X, y, "relu", "logistic", 0.0)
    assert dispatch.plan(dense.with_beta(1e-6 * beta_max(dense)), beta_max=beta_max(dense)).trial == 0.0
    base = Problem(X, y, "relu", "logistic", 0.0, architecture=Conv2D((1, 8, 8), 3))
    bmax = beta_max(base)
    problem = base.with_beta(1e-6 * bmax)
    plan = dispatch.plan(problem, beta_max=bmax)
    assert lifted.uses_factors(problem) and plan == dispatch.Plan("lifted", 0.0, plan.estimates, "columns")
    result = get_solver("native").solve(problem)
    assert result.engine == "lifted" and result.status == "optimal" and result.gap <= 1e-6
    assert certify(result.network, X, y, "logistic", problem.beta, witness=False).gap <= 1e-6  # by itself


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_lifted_engine_solves_a_patch_network_through_capacitances(loss):
    """60 images, 36 patch pairs of D = 55 without pooling: the Newton blocks (order 1980) are
    solved through the lifted Hessian's factor of rank 60; the same optimum as Clarabel."""
    X, y = _digits_3_vs_8(60)
    base = Problem(X, y, "relu", loss, 0.0, architecture=Conv2D((1, 8, 8), 3))
    problem = base.with_beta(1e-4 * beta_max(base))
    assert lifted.uses_factors(problem) and lifted.newton_order(problem) == 36 * 55
    result = NativeSolver(engine="lifted").solve(problem)
    assert result.engine == "lifted"
    _against_clarabel(problem, result)


def test_capacitances_on_every_backend_and_binary_features():
    """Fewer samples than half the block order on a dense network (30 x 12, D = 91), binary
    features (x^2 = x: linearly dependent lifted columns), two outputs and sample weights: numpy
    and torch data solve through the Hessian's rank-n factor, Dask data (whose chunked root is a
    full triangle) through dense blocks; the same optimum. (The factor cut at n rows of a Dask root
    optimized another objective: status numerical at the starting point.)"""
    dask_array = pytest.importorskip("dask.array")
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    X = (rng.random((30, 12)) < 0.5).astype(float)
    Y = np.column_stack([X[:, 0] * X[:, 1] - X[:, 2], X[:, 3] + 0.1 * rng.standard_normal(30)])
    w = rng.uniform(0.5, 2.0, 30)
    problem = Problem(X, Y, "relu", "squared", 1e-2, sample_weight=w)
    assert lifted.uses_factors(problem)
    ref = NativeSolver(engine="lifted").solve(problem)
    _against_clarabel(problem, ref)
    sol = lifted.solve_lifted_space(Problem(torch.tensor(X), torch.tensor(Y), "relu", "squared", 1e-2, sample_weight=w),
                                    tol=1e-8)
    assert sol.status == "optimal" and sol.objective == pytest.approx(ref.objective, rel=1e-6)
    unweighted = lifted.solve_lifted_space(Problem(X, Y, "relu", "squared", 1e-2), tol=1e-8)
    dask_problem = Problem(dask_array.from_array(X, chunks=10), dask_array.from_array(Y, chunks=(10, 2)), "relu",
                           "squared", 1e-2)  # (Dask data take no sample weights)
    assert not lifted.uses_factors(dask_problem)
    sol = lifted.solve_lifted_space(dask_problem, tol=1e-8)
    assert sol.status == "optimal" and sol.objective == pytest.approx(unweighted.objective, rel=1e-6)


def test_capacitances_hand_over_to_dense_blocks_and_keep_the_factors(monkeypatch):
    """Where the capacitances stop improving the certified gap (here: at once, FACTOR_LOST = 0),
    the method continues from its best iterate with dense blocks to the same optimum; the squared
    loss's objective model keeps its factors for the next solve on the same data (a path), the
    other losses drop theirs."""
    X, y = _digits_3_vs_8(40)
    for loss in ("squared", "logistic"):
        base = Problem(X, y, "relu", loss, 0.0, architecture=Conv2D((1, 8, 8), 3, pool=2))
        problem = base.with_beta(1e-3 * beta_max(base))
        assert lifted.uses_factors(problem)
        ref = lifted.solve_lifted_space(problem, tol=1e-8)
        monkeypatch.setattr(lifted, "FACTOR_LOST", 0.0)
        handed = lifted.solve_lifted_space(problem, tol=1e-8)
        monkeypatch.undo()
        assert ref.status == handed.status == "optimal"
        assert handed.objective == pytest.approx(ref.objective, rel=1e-7)
        assert handed.objective_model.factored == (loss == "squared")


def test_capacitances_end_game_asks_the_caller_and_respects_the_deadline(monkeypatch):
    """Before its dense end game the method offers the caller its best iterate (a network of the
    capacitances' best iterate often certifies itself: digits 3 vs 8 at 1e-6 beta_max, 9 s -> 3 s);
    and where a dense iteration would overrun the deadline it stops there (a fit with max_time=3
    took 15 s)."""
    X, y = _digits_3_vs_8(40)
    base = Problem(X, y, "relu", "squared", 0.0, architecture=Conv2D((1, 8, 8), 3, pool=2))
    problem = base.with_beta(1e-3 * beta_max(base))
    monkeypatch.setattr(lifted, "FACTOR_LOST", 0.0)  # the end game at the first iterate below 1e-3
    offered = []

    def accept(Z, Zp, S, Sp, t, V, gap):
        offered.append(gap)
        return True

    sol = lifted.solve_lifted_space(problem, tol=1e-12, accept=accept, accept_gap=1e-4)
    assert sol.status == "optimal" and len(offered) == 1 and 0.0 < offered[0] < 1e-3
    monkeypatch.setattr(lifted, "_dense_seconds", lambda problem, blocks: 1e9)
    sol = lifted.solve_lifted_space(problem, tol=1e-12, deadline=time.perf_counter() + 1e6)
    assert sol.status == "time_limit" and sol.objective_model.factored
    assert (sol.objective - sol.lower_bound) / sol.objective < 1e-3


def test_capacitance_solves_the_newton_block_and_gives_its_outputs():
    """(I + B^T B)^-1 x by the capacitance of order r, B wide with singular values up to 1e8 (an
    iterate near the optimum): the solution of the dense system to its backward error, and B xi
    from the capacitance."""
    from spectranet.solvers.lifted_newton import _Capacitance

    rng = np.random.default_rng(1)
    x = rng.standard_normal(20)
    for top in (3, 8):
        B = rng.standard_normal((6, 20)) * np.logspace(0, top, 6)[:, None]
        xi, w = _Capacitance(B).solve(x)
        M = np.eye(20) + B.T @ B
        assert np.linalg.norm(M @ xi - x) <= 1e-14 * np.linalg.norm(M, 2) * np.linalg.norm(xi)
        if top == 3:  # (M's condition 1e6: the dense solve is a reference, and the normal equations agree)
            assert np.allclose(xi, np.linalg.solve(M, x), rtol=1e-7, atol=1e-8)
            assert np.allclose(w, B @ np.linalg.solve(M, x), rtol=1e-7, atol=1e-8)
            fast = _Capacitance(B, accurate=False).solve(x)
            assert np.allclose(fast[0], xi, rtol=1e-7, atol=1e-8) and np.allclose(fast[1], w, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("loss", ["squared", "logistic", "softmax"])
def test_lowrank_engine_reaches_the_optimum_with_its_own_certificate(loss):
    """Burer–Monteiro factors in a growing subspace: the network's own gradient certifies it."""
    X, y, C = loss_case(loss, n=80, d=12)
    base = Problem(X, y, "relu", loss, 0.0)
    problem = base.with_beta(0.05 * beta_max(base))
    result = NativeSolver(engine="lowrank").solve(problem)
    assert result.engine == "lowrank"
    _against_clarabel(problem, result)
    alone = certify(result.network, X, y, loss, problem.beta)  # no dual point given
    assert alone.gap <= 1e-6


@pytest.mark.parametrize("rel", [1e-2, 1e-4])
def test_lowrank_engine_adds_neurons_where_huber_has_no_curvature(rel):
    """Outputs far from the targets sit on Huber's linear pieces, where Newton's method on a new
    neuron's weight cycles (a step to the far side, where the curvature sends it back to zero): the
    weight now stays in the bracket its slopes give. Before, every neuron of one sign entered with
    weight zero and the engine stopped at max_iter, gap 0.99, after 200 rounds."""
    X, y = make_planted(200, 5, random_state=0)
    base = Problem(X, y, "relu", "huber", 0.0)
    problem = base.with_beta(rel * beta_max(base))
    result = NativeSolver(engine="lowrank").solve(problem)
    assert result.engine == "lowrank" and result.status == "optimal" and result.gap <= 1e-6
    assert result.iterations <= 20
    _against_clarabel(problem, result)


def test_dispatch_takes_the_lowrank_engine_for_narrow_optima_at_large_d():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((300, 150)) / np.sqrt(150)
    y = (X[:, 0] + X[:, 1]) ** 2
    problem = Problem(X, y, "relu", "squared", 0.0)
    bmax = beta_max(problem)
    narrow = dispatch.plan(problem.with_beta(0.1 * bmax), beta_max=bmax)
    assert narrow.narrow == "lowrank"
    assert dispatch.plan(problem.with_beta(0.1 * bmax), beta_max=bmax, warm_width=3).narrow == "columns"
    # the Huber loss: column generation (the low-rank polish makes no progress on it; 12,000 x 20 at
    # 0.1 beta_max: 109 s for a failed low-rank trial and the interior point, 0.07 s by columns)
    huber = Problem(X, y, "relu", "huber", 0.0)
    assert dispatch.plan(huber.with_beta(0.1 * beta_max(huber)), beta_max=beta_max(huber)).narrow == "columns"


def test_warm_starts_try_column_generation_on_small_data_only():
    """A warm network of at most d + 1 neurons on small data, the zero network included, gets a
    column-generation trial before the direct engine; a wider one, a wide optimum or large data go
    to the direct engine at once."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((200, 10))
    y = (X[:, 0] + X[:, 1]) ** 2
    problem = Problem(X, y, "relu", "squared", 0.0)
    bmax = beta_max(problem)
    for width in (3, 0):
        narrow = dispatch.plan(problem.with_beta(0.1 * bmax), beta_max=bmax, warm_width=width)
        assert narrow.trial >= dispatch.WARM_TRIAL_FLOOR and narrow.narrow == "columns"
    for width, rel in ((12, 0.1), (3, 1e-5)):
        plan = dispatch.plan(problem.with_beta(rel * bmax), beta_max=bmax, warm_width=width)
        assert plan.trial == 0.0 and plan.engine in ("ipm", "lifted")
    big = Problem(np.tile(X, (1000, 1)), np.tile(y, 1000), "relu", "squared", 0.1 * bmax)  # 2e6 entries
    assert dispatch.plan(big, beta_max=bmax, warm_width=3).trial == 0.0


def test_newton_system_factors_a_hessian_indefinite_by_rounding():
    """Near the optimum the scaled Newton matrix I + U^T H U has entries of order 1/mu^2 and the
    rounding of H breaks its Cholesky factorization; the QR of the stacked root solves it instead,
    backward stable (planted 10^5 x 20 logistic at 1e-4 beta_max stopped at a gap of 1.5e-7)."""
    import scipy.linalg as sla

    from spectranet.solvers.lifted_newton import _root_factor

    rng = np.random.default_rng(0)
    A = rng.standard_normal((10, 4))
    H = A @ A.T  # rank 4: positive semidefinite, indefinite to rounding in the scaled product
    Ut = 1e9 * rng.standard_normal((10, 20))
    M = Ut.T @ H @ Ut + np.eye(20)
    with pytest.raises(sla.LinAlgError):
        sla.cho_factor(0.5 * (M + M.T))
    b = rng.standard_normal(20)
    x = sla.cho_solve(_root_factor(H, Ut), b)
    B = A.T @ Ut
    backward = np.linalg.norm(x + B.T @ (B @ x) - b) / (np.linalg.norm(B) ** 2 * np.linalg.norm(x))
    assert backward < 1e-14
    # well conditioned: the same solution as the Cholesky route
    small = Ut * 1e-9
    Ms = small.T @ H @ small + np.eye(20)
    assert np.allclose(sla.cho_solve(_root_factor(H, small), b), np.linalg.solve(Ms, b), rtol=1e-10, atol=1e-12)


def test_nt_scaling_of_an_iterate_singular_by_rounding():
    """A block with an eigenvalue rounded to a tiny negative number (an iterate a step from the
    boundary) still gets its Nesterov-Todd scaling, from the eigenvalue factor."""
    from spectranet.solvers._conic import PSD_FLOOR, nt_scaling, psd_factor

    rng = np.random.default_rng(1)
    Q = np.linalg.qr(rng.standard_normal((5, 5)))[0]
    Z = (Q * np.array([1.0, 0.5, 0.2, 0.1, -1e-18])) @ Q.T
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.cholesky(Z)
    L = psd_factor(Z)
    assert np.allclose(L @ L.T, Z, atol=2 * PSD_FLOOR)
    S = np.eye(5)
    R, Rinv, lam = nt_scaling(Z[None], S[None])
    assert np.allclose(R[0] @ Rinv[0], np.eye(5), atol=1e-6)
    # R^T S R = Lambda = R^{-1} Z R^{-T} (Z at its floor)
    assert np.allclose(R[0].T @ S @ R[0], np.diag(lam[0]))
    assert np.allclose(Rinv[0] @ (L @ L.T) @ Rinv[0].T, np.diag(lam[0]), atol=1e-8)


def test_stall_needs_real_progress():
    """Near the optimum, an interior point whose gap creeps (each iterate 'better' than the last,
    by 0.5 %) has stalled after the window, one whose gap falls by 10 % or more has not; far from
    it (a relative gap above STALL_NEAR) any decrease is progress; an infinite gap (no certified
    bound yet) never stalls."""
    from spectranet.solvers._conic import STALL_FACTOR, STALL_NEAR, Stall

    near, falling, far, unbounded = Stall(8), Stall(8), Stall(8), Stall(8)
    gaps = [0.12 * 0.995 ** k for k in range(20)]
    assert [near(g, 1e-5, k) for k, g in enumerate(gaps)].index(True) == 8
    assert not any(falling(0.12 * STALL_FACTOR ** k, 1e-5, k) for k in range(40))
    assert not any(far(g, 10 * STALL_NEAR, k) for k, g in enumerate(gaps))
    assert not any(unbounded(np.inf, np.inf, k) for k in range(40))
    # far from the optimum a falling dual residual is progress while the gap grows; near it, not
    rising = [100.0 * 1.1 ** k for k in range(20)]
    residual, still = Stall(8), Stall(8)
    assert not any(residual(g, 1.0, k, residual=0.5 ** k) for k, g in enumerate(rising))
    assert [still(g, 1.0, k, residual=1.0) for k, g in enumerate(rising)].index(True) == 8
    creeping = Stall(8)
    assert [creeping(g, 1e-5, k, residual=0.5 ** k) for k, g in enumerate(gaps)].index(True) == 8
    # far from the optimum, a gap that rose above its best and then falls steadily (by 2 % an iteration)
    # is progress; one that wobbles around a level is not
    from spectranet.solvers._conic import STALL_STEADY

    rose = [421.0, 537.0, 690.0] + [690.0 * 0.98 ** k for k in range(1, 30)]
    steady, wobbling = Stall(6), Stall(6)
    assert 0.98 < STALL_STEADY
    assert not any(steady(g, 0.9, k, residual=1.2) for k, g in enumerate(rose))
    level = [421.0] + [690.0 * (1.0 + 0.01 * (-1) ** k) for k in range(20)]
    assert [wobbling(g, 0.9, k, residual=1.2) for k, g in enumerate(level)].index(True) == 6


def test_newton_direction_carries_both_slack_steps():
    """The dual equation's slack step and the complementarity's agree when the reduced system is
    solved exactly, and each satisfies its own equation."""
    from spectranet.kernels import smat, svec
    from spectranet.solvers.lifted_newton import _NewtonSystem

    rng = np.random.default_rng(2)
    P, p = 1, 4
    D = p * (p + 1) // 2

    def spd():
        A = rng.standard_normal((p, p))
        return A @ A.T + p * np.eye(p)

    Z = np.stack([np.stack([spd(), spd()])])
    S = np.stack([np.stack([spd(), spd()])])
    A = rng.standard_normal((D, 3))
    H = A @ A.T
    g = svec(np.diag(np.r_[np.ones(p - 1), -1.0]))
    system = _NewtonSystem(Z, S, [H], [np.arange(P)], g)
    B = rng.standard_normal((P, 2, p, p))
    B = 0.5 * (B + B.swapaxes(-1, -2))
    rd = rng.standard_normal((P, 2, D))
    rp = rng.standard_normal((P, 2))
    d = system.solve(B, rd, rp, refinements=2)
    assert np.allclose(d.dS, d.dS_comp, atol=1e-10) and np.allclose(d.dSt, d.dSt_comp, atol=1e-10)
    # the dual equation: ds = rd +- H dm - dy g, dm = svec(dZ - dZ')
    dm = svec(d.dZ[:, 0]) - svec(d.dZ[:, 1])
    sgn = np.array([1.0, -1.0])
    ds = rd + sgn[None, :, None] * (dm @ H)[:, None, :] - d.dy[..., None] * g
    assert np.allclose(d.dS, smat(ds, p), atol=1e-10)
    # the scaled complementarity: R^-1 dZ R^-T + R^T dS R = B, and the equality <g, dZ> = -rp
    R, Rinv = system.R, system.Rinv
    assert np.allclose(Rinv @ d.dZ @ Rinv.swapaxes(-1, -2) + R.swapaxes(-1, -2) @ d.dS_comp @ R, B, atol=1e-10)
    assert np.allclose(svec(d.dZ) @ g, -rp, atol=1e-10)


def _direction(lam, dZt, dSt, dSt_comp):
    from spectranet.solvers.lifted_newton import Direction

    # the unscaled steps are the scaled ones (R = I): the choice is read off by identity
    return Direction(dZ=dZt.copy(), dy=np.zeros(1), dZt=dZt, dS=dSt.copy(), dSt=dSt, dS_comp=dSt_comp.copy(),
                     dSt_comp=dSt_comp)


def test_step_takes_the_dual_equation_slack_unless_its_boundary_is_much_nearer():
    """Near the optimum of a degenerate program the two slack steps part; the dual equation's is
    taken (it lowers the dual residual exactly) while it can go at least half as far as the
    complementarity's, else the complementarity's (CIFAR-10 GAP CNN squared at 1e-6 beta_max: the
    equation's slack left the cone and the engine stalled at a gap of 4e-5)."""
    lam = np.ones((1, 2, 3))
    still = np.zeros((1, 2, 3, 3))
    near = -10.0 * np.broadcast_to(np.eye(3), (1, 2, 3, 3))  # boundary at 0.1
    far = -0.5 * np.broadcast_to(np.eye(3), (1, 2, 3, 3))  # boundary at 2
    d = _direction(lam, still, near, far)
    dS, alpha = lifted._step(lam, d)
    assert dS is d.dS_comp and alpha == 1.0
    closer = -1.25 * np.broadcast_to(np.eye(3), (1, 2, 3, 3))  # boundary at 0.8 >= 0.5 * 1.2
    farther = -(1 / 1.2) * np.broadcast_to(np.eye(3), (1, 2, 3, 3))
    d = _direction(lam, still, closer, farther)
    dS, alpha = lifted._step(lam, d)
    assert dS is d.dS and alpha == pytest.approx(lifted.STEP_FRACTION * 0.8)


def test_step_stays_in_the_neighbourhood_of_the_central_path():
    """A step that would leave one product Z S at 4e-4 of their mean is shortened (by factors of
    0.8) until the smallest is at least CENTRALITY times the mean."""
    lam = np.ones((1, 2, 2))
    D = np.zeros((1, 2, 2, 2))
    D[..., 0, 0] = -1.0  # both Z and S reach the boundary at alpha = 1 in their first direction
    dS, alpha = lifted._step(lam, _direction(lam, D, D, D))
    assert alpha == pytest.approx(0.8 * lifted.STEP_FRACTION)
    assert lifted._centrality(lam, D, D, alpha) >= lifted.CENTRALITY
    assert lifted._centrality(lam, D, D, lifted.STEP_FRACTION) < lifted.CENTRALITY


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_lifted_engine_certifies_a_pooled_cnn_at_tiny_beta(loss):
    """A GAP CNN (3 x 3 filters on 8 x 8 images) at 1e-6 beta_max, to a certified 1e-9: the
    engine used to stop short ("numerical" at a gap of 7.8e-4 for the logistic loss, its dual slack
    outside the cone), as on CIFAR-10 and MNIST at this beta."""
    rng = np.random.default_rng(0)
    X = rng.random((200, 64))
    w = rng.standard_normal(64)
    y = np.sign(X @ w - np.median(X @ w))
    base = Problem(X, y, "relu", loss, 0.0, architecture=Conv2D((1, 8, 8), 3, pool="global"))
    problem = base.with_beta(1e-6 * beta_max(base))
    sol = lifted.solve_lifted_space(problem, tol=1e-9)
    assert sol.status == "optimal"
    assert sol.objective - sol.lower_bound <= 1e-9 * sol.objective
    result = NativeSolver(engine="lifted").solve(problem)
    assert result.status == "optimal" and result.gap <= 1e-6
    assert result.network_objective == pytest.approx(sol.objective, rel=1e-6)


@pytest.mark.parametrize("rel", [1e-5, 1e-6, 1e-8])
def test_huber_at_small_beta_starts_where_its_newton_steps_keep_their_curvature(rel):
    # from a start of norm l0 / beta the first semismooth Newton steps put the samples on Huber's
    # linear pieces, where its Hessian vanishes: 200 x 8 stopped at gaps of 1.0, 1.0 and 0.19
    from spectranet.solvers import _conic

    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 8))
    y = X[:, 0] ** 2 - X[:, 1] + 0.1 * rng.standard_normal(200)
    base = Problem(X, y, "relu", "huber", 0.0)
    problem = base.with_beta(rel * beta_max(base))
    assert _conic.SEMISMOOTH_START_BETA > _conic.START_BETA
    result = NativeSolver(engine="lifted").solve(problem, tol=1e-6)
    assert result.engine == "lifted" and result.status == "optimal" and result.gap <= 1e-6
    reference = NativeSolver(engine="ipm").solve(problem, tol=1e-6)
    assert result.network_objective == pytest.approx(reference.network_objective, rel=2e-6)


def test_auto_hands_a_stalled_huber_fit_to_the_sample_space_interior_point():
    # raw diabetes targets (25 to 346) and delta = 1: nearly every sample on Huber's linear pieces,
    # where the lifted engine's semismooth Newton has no curvature (a gap of 0.93); the box form
    # of the sample-space engine certifies it
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    problem = Problem(X, y, "relu", "huber", 0.01)
    from spectranet.exceptions import ConvergenceWarning

    with pytest.warns(ConvergenceWarning, match="lifted"):
        forced = NativeSolver(engine="lifted").solve(problem, tol=1e-6)
    assert forced.engine == "lifted" and forced.gap > 1e-2  # (the engine alone: no hand-over)
    result = NativeSolver().solve(problem, tol=1e-6)
    assert result.engine == "ipm" and result.status == "optimal" and result.gap <= 1e-6
    assert result.network_objective <= forced.network_objective
    torch = pytest.importorskip("torch")  # torch data: the hand-over takes the torch route of the engine
    on_torch = NativeSolver().solve(Problem(torch.tensor(X), torch.tensor(y), "relu", "huber", 0.01), tol=1e-6)
    assert on_torch.engine == "ipm" and on_torch.gap <= 1e-6
    assert on_torch.network_objective == pytest.approx(result.network_objective, rel=1e-9)
