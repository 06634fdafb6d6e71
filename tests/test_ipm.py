import numpy as np
import pytest

from spectranet import PolyNetwork, Problem, beta_max, get_solver
from spectranet.certificate import certify_problem
from spectranet.local import tighten
from spectranet.losses import AbsoluteLoss, SquaredLoss
from spectranet.solvers import _conic, _schur, ipm, ipm_newton
from spectranet.solvers.cvxpy_backend import extract_network
from spectranet.solvers.ipm import kernel_matrix, solve_lifted, supports

from ._data import planted
from .test_solvers import loss_case


def _lifted_A(X, coefficients):
    a, b, c = coefficients
    n, d = X.shape
    A = np.zeros((n, d + 1, d + 1))
    A[:, :d, :d] = a * X[:, :, None] * X[:, None, :]
    A[:, :d, d] = A[:, d, :d] = 0.5 * b * X
    A[:, d, d] = c
    return A


@pytest.mark.parametrize("coefficients", [(0.09, 0.5, 0.47), (1.0, 0.0, 0.0), (-0.3, 1.2, -0.7)])
def test_kernel_formula_equals_explicit_products(coefficients):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((15, 4))
    Z = rng.standard_normal((5, 5))
    Z = Z + Z.T  # any symmetric matrix, not only PSD ones
    A = _lifted_A(X, coefficients)
    explicit = np.einsum("iab,bc,jcd,da->ij", A, Z, A, Z)
    np.testing.assert_allclose(kernel_matrix(X, coefficients, Z), explicit, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("coefficients", [(0.09, 0.5, 0.47), (1.0, 0.0, 0.0), (-0.3, 1.2, -0.7)])
@pytest.mark.parametrize("block", [1 << 22, 40])  # one block of rows, or blocks of 2 rows
def test_split_rest_kernel_equals_explicit_products(coefficients, block, monkeypatch):
    """The moderate rest of a split block, formed in row blocks: 2 K_x(U, V) + K(V) - u v^T, with
    K_x(U, V)_ij = <A_i, U A_j V>."""
    monkeypatch.setattr(_schur, "KERNEL_BLOCK_ENTRIES", block)
    rng = np.random.default_rng(3)
    X = rng.standard_normal((21, 4))
    Ra, Ri = rng.standard_normal((5, 2)), rng.standard_normal((5, 3))
    U, V = Ra @ Ra.T, Ri @ Ri.T
    u, v = rng.standard_normal(21), rng.standard_normal(21)
    A = _lifted_A(X, coefficients)
    explicit = (2.0 * np.einsum("iab,bc,jcd,da->ij", A, U, A, V) + np.einsum("iab,bc,jcd,da->ij", A, V, A, V)
                - np.outer(u, v))
    got = _schur.split_rest_kernel(X, Ra, Ri, coefficients, [(u, v)])
    np.testing.assert_allclose(got, explicit, rtol=1e-11, atol=1e-11)
    # K(U + V) = K(U) + K(V) + 2 K_x(U, V): the same rest from three kernels of the (exact) formula
    via_sum = (kernel_matrix(X, coefficients, U + V) - kernel_matrix(X, coefficients, U)
               - np.outer(u, v))
    np.testing.assert_allclose(got, via_sum, rtol=1e-10, atol=1e-10)


def test_split_kernel_equals_the_projected_kernel():
    """The split F F^T + K_r (used near the optimum) is the same projected kernel."""
    X, y, _ = planted(n=40, d=4)
    problem = Problem(X, y, "relu", "squared", 0.1)
    rng = np.random.default_rng(1)
    R = rng.standard_normal((1, 2, 5, 5))
    R[..., :2] *= 1e3  # two large directions in each block
    Gm = np.diag([1.0, 1.0, 1.0, 1.0, -1.0])
    S, Sp, _ = ipm_newton._hessian_sqrt(problem.loss, np.zeros_like(problem.Y), problem.Y)
    split = ipm_newton._Newton(problem, R, np.array([1.0, -1.0]), Gm, S=S, Sp=Sp)
    assert 0 < split.F[0].shape[1] <= 20  # the large directions of the blocks, at most n / 2
    A = _lifted_A(X, problem.activation.coefficients)
    expected = np.zeros((40, 40))
    for s in (0, 1):
        W = R[0, s] @ R[0, s].T
        g = np.einsum("iab,ab->i", A, W @ Gm @ W)
        expected += np.einsum("iab,bc,jcd,da->ij", A, W, A, W) - np.outer(g, g) / np.sum(Gm * (W @ Gm @ W))
    np.testing.assert_allclose(split.Kr[0] + split.F[0] @ split.F[0].T, expected,
                               rtol=1e-9, atol=1e-9 * np.abs(expected).max())


def _case(name):
    if name == "vector":
        X, y, _ = planted(n=50, d=3, outputs=2)
        return X, y, "squared"
    X, y, _ = loss_case(name, n={"softmax": 60}.get(name, 70), d={"softmax": 3}.get(name, 5))
    return X, y, name


@pytest.mark.parametrize("name,beta", [("squared", 1e-2), ("squared", 1.0), ("logistic", 1e-2),
                                       ("huber", 1e-2), ("softmax", 1e-2), ("vector", 1e-2),
                                       ("absolute", 1e-2), ("hinge", 1.0)])
def test_ipm_matches_clarabel_and_certifies(name, beta):
    X, y, loss = _case(name)
    problem = Problem(X, y, "relu", loss, beta)
    sol = solve_lifted(problem, tol=1e-9)
    assert sol.status == "optimal" and sol.iterations <= 40
    reference = get_solver("clarabel").solve(problem).objective
    assert sol.objective == pytest.approx(reference, rel=1e-7)
    assert sol.dual_objective <= sol.objective and sol.objective - sol.dual_objective <= 1e-9 * sol.objective
    d = problem.n_features
    for Zs in (sol.Z, sol.Z_prime):
        assert np.min(np.linalg.eigvalsh(Zs)) > 0  # interior point
        trace_gap = np.trace(Zs[:, :d, :d], axis1=1, axis2=2) - Zs[:, d, d]
        assert np.all(np.abs(trace_gap) <= 1e-9 * (1.0 + Zs[:, d, d]))
    # the IPM's dual variable alone certifies the optimum
    C = problem.n_outputs
    zero = PolyNetwork.zero(problem.n_features, problem.activation, None if C == 1 else C)
    assert certify_problem(problem, zero, dual=sol.dual).lower_bound >= sol.objective * (1 - 2e-9)
    network = extract_network(problem, sol.Z, sol.Z_prime, 1e-7)
    network, cert = tighten(problem, network, tol=1e-8, dual=sol.dual)
    assert cert.gap <= 1e-8
    assert cert.objective == pytest.approx(sol.objective, rel=1e-8)
    times = [h[0] for h in sol.history]
    assert times == sorted(times) and len(sol.history) == sol.iterations + 1


class RenamedSquaredLoss(SquaredLoss):
    name = "renamed"


class KinkedLoss(AbsoluteLoss):
    """Not twice differentiable and without a dual box: nothing the method can use."""

    name = "kinked"

    def dual_box(self, Y):
        return None


def test_losses_are_handled_by_their_properties_not_their_names():
    X, y, _ = loss_case("squared", n=20, d=2)
    assert supports(Problem(X, y, "relu", RenamedSquaredLoss(), 0.1))  # a user's smooth loss
    problem = Problem(X, y, "relu", KinkedLoss(), 0.1)
    assert not supports(problem)
    with pytest.raises(ValueError, match="does not support the kinked loss"):
        solve_lifted(problem)


@pytest.mark.parametrize("coefficients", [(0.09, 0.5, 0.47), (1.0, 0.0, 0.0), (-0.3, 1.2, -0.7)])
def test_kernel_sum_equals_the_sum_of_kernels(coefficients):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((12, 3))
    factors = rng.standard_normal((2, 4, 4))
    pairs = [(rng.standard_normal(12), rng.standard_normal(12)) for _ in range(2)]
    expected = sum(kernel_matrix(X, coefficients, R @ R.T) for R in factors)
    expected = expected - sum(np.outer(u, v) for u, v in pairs)
    got = _schur.kernel_sum(X, factors, coefficients, pairs)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_schur.kernel_sum(X, factors[:1], coefficients),
                               kernel_matrix(X, coefficients, factors[0] @ factors[0].T), rtol=1e-12, atol=1e-12)


def test_accept_hook_stops_at_the_first_accepted_iterate():
    X, y, _ = loss_case("squared", n=30, d=2)
    problem = Problem(X, y, "relu", "squared", 0.1)
    full = solve_lifted(problem, tol=1e-9)
    seen = []

    def accept(Z, Z_prime, S, S_prime, V, gap):
        seen.append((Z.shape, Z_prime.shape, V.shape))
        assert S.shape == Z.shape and S_prime.shape == Z_prime.shape and 0 <= gap <= 1e-3
        return len(seen) == 2

    sol = solve_lifted(problem, tol=1e-9, accept=accept, accept_gap=1e-3)
    assert seen == [((1, 3, 3), (1, 3, 3), (30, 1))] * 2
    assert sol.status == "optimal" and sol.iterations < full.iterations
    assert (sol.objective - sol.dual_objective) / abs(sol.objective) <= 1e-3
    assert solve_lifted(problem, tol=1e-9, accept=lambda *a, gap: True).iterations == full.iterations


def test_limits_beta_zero_and_callback():
    X, y, _ = loss_case("squared", n=30, d=2)
    problem = Problem(X, y, "relu", "squared", 0.1)
    assert supports(problem) and not supports(problem, max_schur=29, max_low_memory=29)
    assert supports(problem, max_schur=29)  # low-memory mode: a loss separable over outputs
    with pytest.raises(ValueError, match="beta > 0"):
        solve_lifted(problem.with_beta(0.0))
    seen = []
    sol = solve_lifted(problem, callback=lambda it, p, d: seen.append(it) or it == 3)
    assert seen == [0, 1, 2, 3] and sol.status == "max_iter" and sol.iterations == 3
    short = solve_lifted(problem, max_iter=2)
    assert short.status == "max_iter" and short.iterations == 2


def test_in_place_cholesky_factors_or_restores():
    from spectranet.solvers._schur import _cholesky_in_place

    rng = np.random.default_rng(3)
    B = rng.standard_normal((40, 50))
    D = B @ B.T + np.eye(40)
    original = D.copy()
    L = np.tril(_cholesky_in_place(D))
    np.testing.assert_allclose(L @ L.T, original, rtol=1e-12, atol=1e-10)
    bad = original.copy()
    bad[20, 20] = -5.0  # indefinite: the factorization fails part-way
    kept = bad.copy()
    assert _cholesky_in_place(bad) is None
    np.testing.assert_array_equal(bad, kept)  # restored exactly


@pytest.mark.parametrize("loss", ["squared", "logistic", "huber"])
def test_low_memory_mode_reaches_the_same_optimum(monkeypatch, loss):
    """Beyond MAX_SCHUR the Schur matrix is the only n x n array (the kernel formed and factored in
    place, its products matrix-free): the same optimum as the stored-kernel iterations."""
    from .test_solvers import loss_case

    X, y, _ = loss_case(loss, n=80, d=4)
    problem = Problem(X, y, "relu", loss, 0.05)
    ref = solve_lifted(problem, tol=1e-8)
    monkeypatch.setattr(ipm, "MAX_SCHUR", 50)
    assert ipm.low_memory(problem) and supports(problem)
    low = solve_lifted(problem, tol=1e-8)
    assert low.status == "optimal"
    assert low.objective == pytest.approx(ref.objective, rel=1e-7)
    assert low.dual_objective == pytest.approx(ref.dual_objective, rel=1e-7)


@pytest.mark.parametrize("n, d, rel, n_neurons, seed", [(292, 3, 1e-5, 4, 485342), (269, 8, 1e-4, 2, 489014)])
def test_hinge_at_small_beta_is_not_taken_for_a_stall(n, d, rel, n_neurons, seed):
    """From its infeasible start the box interior point's gap can rise for a while as its link
    residual falls: that is progress, not double precision exhausted (these two stopped at a gap of
    0.95 after 23 iterations; bench_campaign --polyhedral, seed 7)."""
    from spectranet import beta_max, make_planted
    from spectranet.solvers.native import NativeSolver

    X, y = make_planted(n, d, n_neurons=n_neurons, noise=0.1, random_state=seed)
    X /= np.sqrt(d)
    y = np.where(y > np.median(y), 1.0, -1.0)
    base = Problem(X, y, "relu", "hinge", 0.0)
    problem = base.with_beta(rel * beta_max(base))
    result = NativeSolver(engine="ipm").solve(problem, tol=1e-6)
    assert result.status == "optimal" and result.gap <= 1e-6
    independent = certify_problem(problem, result.network, dual=result.certificate.dual, tol=1e-6)
    assert independent.gap <= 1e-6


def test_a_stalled_iteration_near_the_optimum_splits_the_newton_systems_for_good():
    """Below SPLIT_GAP always; from the first iteration below STALL_SPLIT_GAP that cut the gap by less
    than 10 % on, whatever the gap (digits, softmax, 1e-6 beta_max: stalled at 1.5e-7 unsplit)."""
    X, y, _ = planted(n=20, d=3)
    method = ipm._PathFollowing(Problem(X, y, "relu", "squared", 0.1))
    gaps = [1.0, 1e-3, 2e-6, 1.9e-6, 9e-7, 5e-7, 1e-7, 2e-7, 1.9e-7, 1e-3, 1e-9]
    # 1.9e-6: above STALL_SPLIT_GAP; 5e-7 fell by more than 10 %; 1e-7: SPLIT_GAP; 2e-7 rose (stall)
    assert [method.split_now(g) for g in gaps] == [False] * 6 + [True] * 5
    fresh = ipm._PathFollowing(Problem(X, y, "relu", "squared", 0.1))
    # SPLIT_GAP alone is not for good (a rise above STALL_SPLIT_GAP is no stall near the optimum)
    assert [fresh.split_now(g) for g in (1e-3, 1e-7, 5e-3, 1e-4)] == [False, True, False, False]


@pytest.mark.parametrize("rel", [1e-9, 1e-10])
def test_far_below_the_grid_the_start_is_scaled_to_the_optimum_not_to_beta(rel):
    # a start of norm l0 / beta lost double precision at once: 60 x 6, squared, 1e-9 beta_max ran
    # 100 iterations to a gap of 0.95 (the estimator's fit: 9e-3, "inaccurate"); the start balances
    # the loss against START_BETA times the adjoint of its gradient (at most beta_max) instead
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 6))
    y = X[:, 0] ** 2 - X[:, 1] + 0.1 * rng.standard_normal(60)
    base = Problem(X, y, "relu", "squared", 0.0)
    bmax = beta_max(base)
    problem = base.with_beta(rel * bmax)
    start_beta = ipm._PathFollowing(problem).start_beta()
    assert problem.beta < start_beta <= _conic.START_BETA * bmax
    assert ipm._PathFollowing(base.with_beta(1e-6 * bmax)).start_beta() == 1e-6 * bmax  # the grid: as before
    sol = solve_lifted(problem, tol=1e-9)
    assert sol.status == "optimal" and sol.iterations <= 20
    assert (sol.objective - sol.dual_objective) / sol.objective <= 1e-9
    result = get_solver("native").solve(problem, tol=1e-6)
    assert result.status == "optimal" and result.gap <= 1e-6


def test_a_projected_dual_that_breaks_feasibility_is_no_bound():
    # planted 300 x 20, logistic, 10^-9.5 beta_max: at the first iterate whose link residual was
    # below ROUNDED_LINK, the dual measured at the projection of V onto the conjugate's domain lay
    # 1.6 % above the primal (the move A*(dV) exceeded the slack); the engine stopped "optimal" and the
    # fit was inaccurate (5.9e-3); a projection the slacks cannot absorb now leaves the bound at -inf
    from spectranet import make_planted

    X, y = make_planted(300, 20, n_neurons=5, noise=0.1, random_state=0)
    X /= np.sqrt(20)
    y = np.where(y > np.median(y), 1.0, -1.0)
    base = Problem(X, y, "relu", "logistic", 0.0)
    problem = base.with_beta(10 ** -9.5 * beta_max(base))
    sol = solve_lifted(problem, tol=1e-9)
    for _, primal, dual in sol.history:
        assert dual <= primal + 1e-12 * abs(primal)
    assert (sol.objective - sol.dual_objective) / sol.objective <= 1e-8
    result = get_solver("native").solve(problem, tol=1e-6)
    assert result.status == "optimal" and result.gap <= 1e-6


def test_a_gap_that_falls_steadily_far_from_the_optimum_is_progress():
    """One-vs-rest hinge, 5 classes: the gap rises from the start's infeasibility and then falls by
    1-5 % an iteration; the engine stopped there as "stalled" at a relative gap of 0.79 (and "auto"
    handed it to Clarabel, which ended inaccurate)."""
    from spectranet import ConvexPolyNetClassifier
    from spectranet.solvers.native import NativeSolver

    rng = np.random.default_rng(7)
    X = rng.standard_normal((200, 5))
    s = X[:, 0] ** 2 - X[:, 1] + X[:, 2] * X[:, 3]
    y = np.digitize(s, np.quantile(s, [0.2, 0.4, 0.6, 0.8]))
    est = ConvexPolyNetClassifier(loss="hinge", beta=1e-2, solver=NativeSolver(engine="ipm")).fit(X, y)
    assert est.status_ == "optimal" and est.gap_ <= 1e-6 and est.engine_ == "ipm"


def test_kernel_products_go_through_scipys_blas_and_numpys_runs_single_threaded_in_the_iterations():
    """numpy's and scipy's wheels each bundle an OpenBLAS; alternating them left one's threads
    spinning while the other ran (a 10-class softmax fit: 9.4 s -> 5.7 s without it). The kernel
    products are scipy's (equal to numpy's), and inside the iterations numpy's own library, where it
    is another, runs one thread while scipy's keeps its own."""
    from threadpoolctl import threadpool_info

    from spectranet._blas import single_threaded_numpy_blas

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((7, 5)), rng.standard_normal((9, 5))
    for x, y in ((a, b), (a[::2], b.T.copy().T), (np.asfortranarray(a), b)):
        product = _schur.NumpyOps.product(x, y)
        np.testing.assert_allclose(product, x @ y.T, rtol=1e-14, atol=1e-14)
        assert product.flags.c_contiguous

    def threads():
        return {lib["filepath"]: lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    before = threads()
    numpy_own = [path for path in before if "numpy" in path.split("site-packages")[-1]]
    with single_threaded_numpy_blas():
        inside = threads()
    assert threads() == before
    if len(numpy_own) == 1 and len(before) > 1:  # (the PyPI wheels: two libraries)
        assert inside == {**before, numpy_own[0]: 1}
    else:  # one shared library (conda, a system BLAS): left alone
        assert inside == before
