"""The kernel layer: the svec layout, the lifted features and map, the symmetric Kronecker product."""

import numpy as np
import pytest

from spectranet import PolyActivation, Problem
from spectranet.kernels import (
    block_svec,
    lifted_dimension,
    lifted_features,
    lifted_map,
    smat,
    svec,
    svec_indices,
    svec_matrix,
)
from spectranet.solvers.lifted import skron

ACT = PolyActivation(0.3, -0.7, 0.2)


def _sym(rng, *shape):
    A = rng.standard_normal(shape)
    return A + A.swapaxes(-1, -2)


def test_svec_is_an_isometry_with_an_inverse():
    rng = np.random.default_rng(0)
    A, B = _sym(rng, 3, 5, 5), _sym(rng, 3, 5, 5)
    assert svec(A).shape == (3, 15) == (3, lifted_dimension(4))
    np.testing.assert_allclose(np.sum(svec(A) * svec(B), axis=1), np.einsum("kij,kij->k", A, B), rtol=1e-13)
    np.testing.assert_allclose(smat(svec(A), 5), A, rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(svec_matrix(5) @ A[0].ravel(), svec(A[0]), rtol=1e-15)
    rows, cols, weights = svec_indices(5)
    assert not weights.flags.writeable and np.all(rows <= cols)
    assert block_svec(A[0, :4, :4], A[0, :4, 4], A[0, 4, 4]) == pytest.approx(svec(A[0]))


def test_lifted_features_are_the_svec_of_each_sample_matrix():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((7, 4))
    a, b, c = ACT.coefficients
    F = lifted_features(X, ACT)
    for i, x in enumerate(X):
        Ai = np.block([[a * np.outer(x, x), 0.5 * b * x[:, None]], [0.5 * b * x[None, :], np.array([[c]])]])
        np.testing.assert_allclose(F[i], svec(Ai), rtol=1e-13)
    M = _sym(rng, 2, 5, 5)
    np.testing.assert_allclose(F @ svec(M).T, lifted_map(X, M, ACT), rtol=1e-12)
    # a rank-one M = (u, 1)(u, 1)^T gives the activation of neuron u
    u = rng.standard_normal(4)
    z = np.append(u, 1.0)
    np.testing.assert_allclose(lifted_map(X, np.outer(z, z)[None], ACT)[:, 0], ACT(X @ u), rtol=1e-12)


def test_lifted_features_on_torch_match_numpy():
    torch = pytest.importorskip("torch")
    X = np.random.default_rng(2).standard_normal((6, 3))
    np.testing.assert_allclose(lifted_features(torch.tensor(X), ACT).numpy(), lifted_features(X, ACT), rtol=1e-14)


@pytest.mark.parametrize("symmetric", [True, False])
def test_skron_is_the_matrix_of_the_congruence(symmetric):
    rng = np.random.default_rng(3)
    W = _sym(rng, 4, 4) if symmetric else rng.standard_normal((4, 4))
    X = _sym(rng, 4, 4)
    np.testing.assert_allclose(skron(W) @ svec(X), svec(W @ X @ W.T), rtol=1e-12, atol=1e-12)
    R = rng.standard_normal((4, 4))
    np.testing.assert_allclose(skron(R) @ skron(R).T, skron(R @ R.T), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("loss", ["squared", "logistic", "softmax"])
def test_lifted_gram_is_the_lifted_hessian(loss):
    """Psi^T (loss Hessian) Psi: its quadratic form is the second derivative of the loss of the
    lifted map, on every data backend."""
    from .test_solvers import loss_case

    X, y, C = loss_case(loss, n=40, d=3)
    problem = Problem(X, y, "relu", loss, 0.1)
    rng = np.random.default_rng(4)
    M = 0.2 * _sym(rng, problem.n_pairs, 4, 4)
    Yhat = problem.forward(M)
    weights = problem.loss.hessian_blocks(Yhat, problem.Y)
    H = problem.data.lifted_gram(weights, problem.activation)
    dM = _sym(rng, problem.n_pairs, 4, 4)
    dY = problem.forward(dM)
    expected = float(np.sum(dY * problem.loss.hessp(Yhat, problem.Y, dY)))
    v = svec(dM)
    got = sum(v[k] @ H[k] @ v[k] for k in range(C)) if H.ndim == 3 else v.ravel() @ H @ v.ravel()
    assert got == pytest.approx(expected, rel=1e-10)
