"""The softmax Schur systems of the sample-space interior point, solved per output
(spectranet.solvers._schur_softmax) instead of as one dense system of order n C."""

from dataclasses import dataclass

import numpy as np
import pytest

from spectranet import Problem, beta_max
from spectranet.certificate import certify_problem
from spectranet.losses import SoftmaxCrossEntropyLoss
from spectranet.solvers import dispatch, ipm, ipm_newton
from spectranet.solvers._schur_softmax import softmax_factor
from spectranet.solvers.native import NativeSolver

from .test_solvers import loss_case


def _probabilities(rng, n, C, spread):
    Z = spread * rng.standard_normal((n, C))
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    return P / P.sum(axis=1, keepdims=True)


def _sqrt(p):
    """The interior point's square root of the softmax Hessian at the outputs log p: ``(p, S, S^+, O)``
    (``p`` as the loss recomputes it)."""
    S, Sp, (p, O, root) = ipm_newton._hessian_sqrt(SoftmaxCrossEntropyLoss(), np.log(p),
                                                    np.eye(p.shape[1])[[0] * len(p)])
    assert root is None
    return p, S, Sp, O


@pytest.mark.parametrize("spread", [1.0, 30.0])  # 30: most probabilities below 1e-10
def test_softmax_square_root_and_its_rotation(spread):
    rng = np.random.default_rng(0)
    p = _probabilities(rng, 25, 4, spread)
    p, S, Sp, O = _sqrt(p)
    H = np.einsum("nc,cd->ncd", p, np.eye(4)) - p[:, :, None] * p[:, None, :]
    np.testing.assert_allclose(S @ S, H, atol=1e-15)
    np.testing.assert_allclose(S, S.swapaxes(1, 2), atol=0)
    np.testing.assert_allclose(O @ O.swapaxes(1, 2), np.broadcast_to(np.eye(4), O.shape), atol=1e-14)
    q = np.sqrt(p)
    L = q[:, :, None] * (np.eye(4) - q[:, :, None] * q[:, None, :])
    np.testing.assert_allclose(L @ O, S, atol=1e-15)
    # the pseudo-inverse of S with singular values below 1e-8 of the largest cut to zero
    top = np.max(np.linalg.svd(S, compute_uv=False))
    assert np.max(np.abs(S @ Sp @ S - S)) <= 1e-8 * top
    assert np.max(np.abs(Sp @ S @ Sp - Sp)) <= 1e-9 * np.max(np.abs(Sp))  # (kept singular values span 1e8)


def _dense(Kr, S, Fs):
    n, C = S.shape[:2]
    D = np.zeros((n, C, n, C))
    for m in range(C):
        D += S[:, :, m, None, None] * Kr[m][:, None, :, None] * S[None, None, :, m, :]
    return D.reshape(n * C, n * C) + np.eye(n * C) + Fs @ Fs.T


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("spread", [1.0, 30.0])
@pytest.mark.parametrize("q", [0, 6])
def test_softmax_factor_solves_the_dense_system(spread, q, weighted):
    """The same solution as the dense system of order n C, and z = Fs^T u (accurate relative to
    itself with a factor of norm 1e3); the kernels are not modified."""
    rng = np.random.default_rng(1)
    n, C = 30, 4
    p = _probabilities(rng, n, C, spread)
    Kr = []
    for _ in range(C):
        A = rng.standard_normal((n, 3))
        Kr.append(10.0 * A @ A.T + 0.1 * np.eye(n))
    kept = [K.copy() for K in Kr]
    p, S, _, O = _sqrt(p)
    root = None
    if weighted:  # Hessian blocks w_i (diag(p_i) - p_i p_i^T): S scaled by sqrt(w_i)
        root = np.sqrt(rng.uniform(0.1, 10.0, n))
        S = S * root[:, None, None]
    F = [100.0 * rng.standard_normal((n, q)) for _ in range(C)]
    Fs = np.concatenate([S[:, :, k, None] * F[k][:, None, :] for k in range(C)], axis=2).reshape(n * C, -1)
    b = rng.standard_normal(n * C)
    expected = np.linalg.solve(_dense(Kr, S, Fs), b)
    u, z = softmax_factor(Kr, p, O, root, Fs)(b)
    assert u.shape == b.shape and z.shape == (C * q,)
    np.testing.assert_allclose(u, expected, rtol=0, atol=1e-10 * np.max(np.abs(expected)))
    if q:
        np.testing.assert_allclose(z, Fs.T @ expected, rtol=0, atol=1e-10 * np.max(np.abs(Fs.T @ expected)))
    for K, K0 in zip(Kr, kept):
        np.testing.assert_array_equal(K, K0)


@dataclass(frozen=True)
class _DenseSoftmax(SoftmaxCrossEntropyLoss):
    """The softmax loss without its Hessian's form: the interior point's dense system of order n C."""

    def hessian_simplex(self, Yhat, Y):
        return None


@pytest.mark.parametrize("rel", [1e-2, 1e-5])
def test_interior_point_per_output_matches_the_dense_system(rel):
    X, Y, _ = loss_case("softmax", n=60, d=3)
    problem = Problem(X, Y, "relu", "softmax", 0.0)
    problem = problem.with_beta(rel * beta_max(problem))
    dense = Problem(X, Y, "relu", _DenseSoftmax(), problem.beta)
    assert ipm.softmax_form(problem) and not ipm.softmax_form(dense)
    ours, ref = ipm.solve_lifted(problem, tol=1e-9), ipm.solve_lifted(dense, tol=1e-9)
    assert ours.status == ref.status == "optimal"
    assert ours.objective == pytest.approx(ref.objective, rel=1e-8)
    assert ours.dual_objective == pytest.approx(ref.dual_objective, rel=1e-8)
    assert abs(ours.iterations - ref.iterations) <= 2


@pytest.mark.parametrize("rel", [1e-2, 1e-5])
def test_weighted_softmax_keeps_the_per_output_systems(rel):
    """Sample weights scale the Hessian blocks; the per-output systems take the scale
    (hessian_simplex_weights) and reach the dense system's optimum."""
    from spectranet.weighted import WeightedLoss

    X, Y, _ = loss_case("softmax", n=60, d=3)
    w = np.random.default_rng(3).uniform(0.1, 10.0, 60)
    problem = Problem(X, Y, "relu", "softmax", 0.0, sample_weight=w)
    problem = problem.with_beta(rel * beta_max(problem))
    dense = Problem(X, Y, "relu", WeightedLoss(_DenseSoftmax(), w), problem.beta, n_outputs=3)
    assert ipm.softmax_form(problem) and not ipm.softmax_form(dense)
    ours, ref = ipm.solve_lifted(problem, tol=1e-9), ipm.solve_lifted(dense, tol=1e-9)
    assert ours.status == ref.status == "optimal"
    assert ours.objective == pytest.approx(ref.objective, rel=1e-8)
    assert ours.dual_objective == pytest.approx(ref.dual_objective, rel=1e-8)


def test_softmax_beyond_the_dense_limit_is_supported_and_certified(monkeypatch):
    """n C above MAX_SCHUR (the dense system's limit) with n below it: the per-output systems run,
    and the native solver's network is certified to tol; another multi-output loss is refused
    with the limits in the message."""
    X, Y, _ = loss_case("softmax", n=60, d=3)
    problem = Problem(X, Y, "relu", "softmax", 0.0)
    problem = problem.with_beta(1e-3 * beta_max(problem))
    monkeypatch.setattr(ipm, "MAX_SCHUR", 100)  # n = 60 <= 100 < n C
    assert problem.n_samples * problem.n_outputs > ipm.MAX_SCHUR
    assert ipm.supports(problem)
    assert dispatch.estimate_seconds(problem, "ipm") < float("inf")
    result = NativeSolver(engine="ipm").solve(problem, tol=1e-6)
    assert result.status == "optimal" and result.engine == "ipm"
    proof = certify_problem(problem, result.network, dual=result.certificate.dual, tol=1e-6)
    assert proof.is_optimal and proof.gap <= 1e-6
    dense = Problem(X, Y, "relu", _DenseSoftmax(), problem.beta)
    assert not ipm.supports(dense)
    with pytest.raises(ValueError, match=r"n\*C <= 100 for another multi-output loss \(here n = 60, C = 3\)"):
        NativeSolver(engine="ipm").solve(dense, tol=1e-6)


def test_softmax_memory_limit(monkeypatch):
    X, Y, _ = loss_case("softmax", n=60, d=3)
    problem = Problem(X, Y, "relu", "softmax", 0.1)
    assert ipm.softmax_entries(problem) == (3 * 3 + 1) * 60 ** 2
    monkeypatch.setattr(ipm, "MAX_SCHUR_LOW_MEMORY", 189)  # 189^2 = 35721 < 36000 floats
    assert not ipm.supports(problem)
    monkeypatch.setattr(ipm, "MAX_SCHUR_LOW_MEMORY", 190)
    assert ipm.supports(problem)
