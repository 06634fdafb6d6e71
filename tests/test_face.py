"""The face polish: the exact optimum on an interior-point iterate's optimal face, a network that
certifies itself, and Pataki's reduction to a narrow optimum at the same objective."""

import numpy as np
import pytest

from spectranet import Problem, beta_max, certify, get_solver
from spectranet.face import face_basis, face_polish
from spectranet.solvers.ipm import solve_lifted
from spectranet.solvers.lifted import objective_model, solve_lifted_space
from spectranet.solvers.native import NativeSolver

from ._data import planted
from .test_solvers import loss_case


def _problem(loss, rel, n=300, d=6, seed=0):
    X, y, _ = loss_case(loss, n=n, d=d) if loss != "squared" else planted(n=n, d=d, seed=seed)[:2] + (1,)
    base = Problem(X, y, "relu", loss, 0.0)
    return base.with_beta(rel * beta_max(base))


@pytest.mark.parametrize("loss", ["squared", "logistic", "softmax"])
@pytest.mark.parametrize("rel", [1e-1, 1e-4])
def test_face_polish_certifies_itself_at_the_sdp_optimum(loss, rel):
    problem = _problem(loss, rel)
    sol = solve_lifted(problem, tol=1e-9)
    face = face_polish(problem, sol.Z, sol.Z_prime, sol.S, sol.S_prime)
    assert face is not None
    own = certify(face.network, problem.X, problem.Y, problem.loss, problem.beta)  # the network alone
    assert own.gap <= 1e-6
    sdp = get_solver("clarabel").solve(problem)
    assert own.objective == pytest.approx(sdp.network_objective, rel=1e-6)
    assert own.lower_bound <= sdp.network_objective * (1 + 1e-9)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_just_below_beta_max_the_network_is_one_neuron(loss):
    # within 1e-4 of beta_max the iterate's eigenvalues have not separated when the gap is met:
    # no block showed a face, and the extraction returned 10 tiny neurons (2(d+1): the iterate's
    # full rank); the face of the dominant eigenvectors gives the optimum, one neuron
    X, y, _ = planted(200, 4, seed=1)
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    base = Problem(X, y, "relu", loss, 0.0)
    result = NativeSolver().solve(base.with_beta((1 - 1e-4) * beta_max(base)))
    assert result.n_neurons == 1
    assert result.gap <= 1e-6 and result.certificate.own_gap <= 1e-6
    zero = certify(base.zero_network(), X, base.Y, loss, result.certificate.beta)
    assert result.network_objective < zero.objective  # below beta_max the neuron lowers the objective


def test_face_basis_separates_the_ranges():
    problem = _problem("squared", 1e-1)
    sol = solve_lifted(problem, tol=1e-9)
    ranks = [face_basis(sol.Z[0], sol.S[0]).shape[1], face_basis(sol.Z_prime[0], sol.S_prime[0]).shape[1]]
    face = face_polish(problem, sol.Z, sol.Z_prime, sol.S, sol.S_prime)
    assert face.network.n_neurons <= sum(ranks) <= 2 * (problem.n_features + 1)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("seed", [3, 4, 5])
def test_pataki_reduction_keeps_the_objective_and_narrows_the_network(loss, seed):
    """A degenerate program (every feature twice: a continuum of optimal networks, and the
    interior point stops in the relative interior of that face) loses neurons, not objective."""
    p0 = _problem(loss, 1e-5, n=40, d=3, seed=seed)
    base = Problem(np.hstack([p0.X, p0.X]) / np.sqrt(2), p0.Y, "relu", loss, 0.0)
    problem = base.with_beta(1e-5 * beta_max(base))
    sol = solve_lifted(problem, tol=1e-10)
    wide = face_polish(problem, sol.Z, sol.Z_prime, sol.S, sol.S_prime, lean=False)
    lean = face_polish(problem, sol.Z, sol.Z_prime, sol.S, sol.S_prime, lean=True)
    before, after = problem.objective(wide.network), problem.objective(lean.network)
    assert lean.reductions > wide.reductions  # (without lean: only moves that lower the penalty)
    assert after <= before * (1 + 1e-12)
    assert lean.network.n_neurons < wide.network.n_neurons
    assert lean.network.n_neurons <= 2 * (problem.n_features + 1)


def test_face_polish_from_the_sufficient_statistics_matches_the_passes():
    problem = _problem("squared", 1e-4, n=400, d=5, seed=4)
    sol = solve_lifted_space(problem, tol=1e-9)
    with_passes = face_polish(problem, sol.Z, sol.Z_prime, sol.S, sol.S_prime)
    gram = face_polish(problem, sol.Z, sol.Z_prime, sol.S, sol.S_prime, model=objective_model(problem))
    assert problem.objective(gram.network) == pytest.approx(problem.objective(with_passes.network), rel=1e-10)
    assert certify(gram.network, problem.X, problem.Y, "squared", problem.beta).gap <= 1e-6


@pytest.mark.parametrize("model", [False, True])
def test_squared_face_newton_refines_with_one_newton_matrix(monkeypatch, model):
    # a quadratic loss: the face's Newton step is exact, the next ones (a fresh gradient, the same
    # matrix) confirm it; the passes over the data did so only from the sufficient statistics
    import spectranet.face as face_module

    problem = _problem("squared", 1e-4, n=400, d=5, seed=4)
    sol = solve_lifted(problem, tol=1e-7)
    kkt = []
    real = face_module._FaceProblem._kkt
    monkeypatch.setattr(face_module._FaceProblem, "_kkt", lambda self, *a: kkt.append(1) or real(self, *a))
    found = face_polish(problem, sol.Z, sol.Z_prime, sol.S, sol.S_prime, lean=False,
                        model=objective_model(problem) if model else None)
    assert found is not None and found.reductions == 0
    assert len(kkt) == 1
    assert certify(found.network, problem.X, problem.Y, "squared", problem.beta).gap <= 1e-7


@pytest.mark.parametrize("engine", ["ipm", "lifted"])
def test_native_networks_certify_themselves_and_switch_off(engine):
    problem = _problem("squared", 1e-5, n=200, d=8, seed=5)
    result = NativeSolver(engine=engine).solve(problem)
    assert result.certificate.own_gap <= 1e-6  # the network's own gradient proves it
    plain = NativeSolver(engine=engine, self_certify=False, lean=False).solve(problem)
    assert plain.gap <= 1e-6
    assert plain.network_objective == pytest.approx(result.network_objective, rel=2e-6)


def test_null_space_skips_the_svd_only_where_there_is_none(monkeypatch):
    import scipy.linalg as sla

    from spectranet import face

    rng = np.random.default_rng(0)
    R_full = np.linalg.qr(rng.standard_normal((80, 40)), mode="r")
    A = rng.standard_normal((80, 40))
    A[:, 7] = A[:, 3] - 2.0 * A[:, 5]  # rank 39
    R_deficient = np.linalg.qr(A, mode="r")
    calls = []
    svdvals = sla.svdvals
    monkeypatch.setattr(face.sla, "svdvals", lambda M: calls.append(1) or svdvals(M))
    assert face._null_space(R_full, triangular=True).shape == (0, 40) and not calls  # no SVD
    assert face._null_space(R_full).shape == (0, 40) and calls  # (the SVD finds none either)
    null = face._null_space(R_deficient, triangular=True)
    assert null.shape == (1, 40)
    np.testing.assert_allclose(R_deficient @ null[0], 0.0, atol=1e-12)


def test_null_space_is_not_fooled_by_a_factor_built_against_the_condition_estimate():
    # dtrcon's estimate of ||R^-1||_1 starts from fixed vectors: a factor whose inverse's large
    # columns cancel on them fooled it by 4e8 (rcond 2.3e-9 for singular values 9.4e-18 apart);
    # the random right-hand sides see it
    import scipy.linalg as sla

    from spectranet import face

    found = 0
    for seed in range(12):
        rng = np.random.default_rng(seed)
        N = 8
        cols = np.sort(rng.choice(np.arange(N // 2, N), 3, replace=False))
        probes = np.vstack([np.ones(N) / N, [(-1) ** i * (1 + i / (N - 1)) for i in range(N)]])
        c = sla.null_space(probes[:, cols])[:, 0]
        a = rng.standard_normal(cols[0])
        a -= a.mean()
        T = np.eye(N) + np.triu(0.01 * rng.standard_normal((N, N)), 1)
        for ci, j in zip(c, cols):
            T[:cols[0], j] += 1e8 * ci * a
        R = np.triu(sla.solve_triangular(T, np.eye(N)))
        rcond = sla.lapack.dtrcon(R, norm="1", uplo="U", diag="N")[0]
        fooled = rcond > face.CONDITION_MARGIN * N * face.NULL and face._null_space(R).shape[0] > 0
        found += fooled
        assert face._null_space(R, triangular=True).shape[0] == face._null_space(R).shape[0]
    assert found  # (the construction does fool dtrcon alone)


@pytest.mark.parametrize("driver", ["gelsy", "gelsd"])
def test_face_newton_system_solve_leaves_the_null_directions_alone(monkeypatch, driver):
    # the face's Newton (KKT) system is singular along directions no output and no trace condition
    # sees (Pataki's moves, not Newton's): the solve satisfies the system and has no component there,
    # whatever the LAPACK driver and the scales of the other directions
    import spectranet.face as face_module

    monkeypatch.setattr(face_module, "KKT_DRIVER", driver)
    rng = np.random.default_rng(0)
    N, rank = 12, 8
    B = rng.standard_normal((rank, rank)) * np.logspace(0, 8, rank)  # eight decades of scales
    H = np.zeros((N, N))
    H[:rank, :rank] = B.T @ B
    face = face_module._FaceProblem.__new__(face_module._FaceProblem)
    face.A_eq = np.r_[rng.standard_normal(rank), np.zeros(N - rank)][None, :]
    rhs = np.r_[rng.standard_normal(rank), np.zeros(N - rank)]
    step = face._kkt(np.eye(N), H)(rhs)
    assert np.all(step[rank:] == 0.0) or np.max(np.abs(step[rank:])) <= 1e-12 * np.max(np.abs(step))
    # the system: H step + A^T lam = rhs for some lam, A step = 0
    A = face.A_eq
    lam = np.linalg.lstsq(A.T, rhs - H @ step, rcond=None)[0]
    assert np.linalg.norm(H @ step + A.T @ lam - rhs) <= 1e-8 * np.linalg.norm(rhs)
    assert abs(float((A @ step)[0])) <= 1e-10 * np.linalg.norm(A) * np.linalg.norm(step)


def test_face_newton_stops_creeping_at_rounding_level(monkeypatch):
    # Newton steps that keep predicting a decrease at the objective's rounding level (1e-13 of it)
    # without shrinking end the method after CREEP_STEPS of them, instead of MAX_OUTER steps
    import spectranet.face as face_module

    problem = _problem("squared", 1e-4, n=400, d=5, seed=4)
    sol = solve_lifted(problem, tol=1e-7)
    level = 1e-13 * problem.lifted_objective(sol.Z, sol.Z_prime)
    steps = []

    def creeping(self, M, H):
        def solve(rhs):
            steps.append(1)
            return rhs * (level / float(rhs @ rhs))  # predicted decrease: level, whatever the gradient

        return solve

    monkeypatch.setattr(face_module._FaceProblem, "_kkt", creeping)
    found = face_polish(problem, sol.Z, sol.Z_prime, sol.S, sol.S_prime, lean=False)
    assert found is not None and len(steps) == face_module.CREEP_STEPS


def test_face_polish_starts_no_pass_or_newton_step_after_its_deadline(monkeypatch):
    import time

    import spectranet.face as face_module

    problem = _problem("squared", 1e-4, n=400, d=5, seed=4)
    sol = solve_lifted(problem, tol=1e-7)
    assert face_polish(problem, sol.Z, sol.Z_prime, sol.S, sol.S_prime, deadline=time.perf_counter() - 1.0) is None
    # the deadline passes during the Newton steps: no further step, no result
    steps = []
    real = face_module._FaceProblem._newton

    def newton_then_late(self, *args):
        steps.append(1)
        out = real(self, *args)
        monkeypatch.setattr(face_module.time, "perf_counter", lambda: float("inf"))
        return out[0], False, out[2]  # (not converged: another step would be due)

    monkeypatch.setattr(face_module._FaceProblem, "_newton", newton_then_late)
    assert face_polish(problem, sol.Z, sol.Z_prime, sol.S, sol.S_prime, deadline=time.perf_counter() + 60.0) is None
    assert steps == [1]
    monkeypatch.undo()
    found = face_polish(problem, sol.Z, sol.Z_prime, sol.S, sol.S_prime, deadline=time.perf_counter() + 60.0)
    assert found is not None and certify(found.network, problem.X, problem.Y, "squared", problem.beta).gap <= 1e-7


def test_a_wide_face_is_reduced_along_its_null_space_from_one_factorization(monkeypatch):
    # 60 x 12, logistic, 1e-8 beta_max: the face of the iterate the polish starts from is the whole
    # cone (ranks 13 and 13, 182 coordinates for 60 outputs); each of its Pataki moves factored the
    # stacked map anew (planted 1000 x 50 at 1e-8: 50 SVDs of order up to 2652, 190 s)
    from spectranet import face

    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 12))
    y = np.sign(X[:, 0] ** 2 - X[:, 1] - np.median(X[:, 0] ** 2 - X[:, 1]))
    base = Problem(X, y, "relu", "logistic", 0.0)
    problem = base.with_beta(1e-8 * beta_max(base))
    moves, factored = [], []
    reduce_wide, null_space = face._FaceProblem._reduce_wide, face._null_space

    def counted_reduce(self, v, ranges, L, cr, lean):
        assert L.shape[0] < L.shape[1]
        out = reduce_wide(self, v, ranges, L, cr, lean)
        moves.append(out[1])
        np.testing.assert_allclose(L @ (out[0] - v), 0.0, atol=1e-9 * np.abs(L).max() * np.abs(v).max())
        return out

    monkeypatch.setattr(face._FaceProblem, "_reduce_wide", counted_reduce)
    monkeypatch.setattr(face, "_null_space", lambda *a, **k: factored.append(1) or null_space(*a, **k))
    result = NativeSolver(engine="ipm").solve(problem, tol=1e-6)
    assert result.status == "optimal" and result.gap <= 1e-6 and result.certificate.own_gap <= 1e-6
    assert sum(moves) >= 10 and len(moves) <= 2  # the moves, from at most two factorizations
    assert len(factored) < sum(moves)
    assert result.n_neurons <= 10
