import numpy as np
import pytest

from spectranet import PolyNetwork, Problem
from spectranet.kernels import svec
from spectranet.problem import check_beta

from ._data import planted


def lifted_matrix(net: PolyNetwork, k=0):
    """M_k = sum_j alpha_jk [u_j; 1][u_j; 1]^T."""
    P = np.hstack([net.first_layer, np.ones((net.n_neurons, 1))])
    return (P.T * net.second_layer_2d[:, k]) @ P


@pytest.mark.parametrize("outputs", [None, 3])
def test_forward_of_a_networks_lift_equals_the_network(outputs):
    X, y, net = planted(n=20, d=5, m=4, outputs=outputs)
    problem = Problem(X, y, net.activation, "squared", 0.1)
    M = np.stack([lifted_matrix(net, k) for k in range(net.n_outputs)])
    np.testing.assert_allclose(problem.forward(M), problem.outputs(net), rtol=1e-12, atol=1e-12)


def test_adjoint_identity_and_dual_quadratic():
    rng = np.random.default_rng(3)
    X, y, net = planted(n=15, d=4, outputs=2)
    problem = Problem(X, y, "swish", "squared", 0.1)
    M = rng.standard_normal((2, 5, 5))
    M = M + M.transpose(0, 2, 1)
    V = rng.standard_normal((15, 2))
    assert np.sum(problem.forward(M) * V) == pytest.approx(np.sum(M * problem.adjoint(V)), rel=1e-12)
    u = rng.standard_normal(4)
    u /= np.linalg.norm(u)
    Q, q, r = problem.dual_quadratic(V)
    direct = V.T @ problem.activation(X @ u)
    np.testing.assert_allclose(np.einsum("d,kde,e->k", u, Q, u) + q @ u + r, direct, rtol=1e-12)


def test_lifted_features_reproduce_forward():
    X, y, _ = planted(n=12, d=4)
    problem = Problem(X, y, "relu", "squared", 0.1)
    rng = np.random.default_rng(0)
    M = rng.standard_normal((5, 5))
    M = M + M.T
    np.testing.assert_allclose(problem.lifted_features() @ svec(M), problem.forward(M[None])[:, 0], rtol=1e-12)
    assert problem.lifted_features().shape == (12, problem.lifted_dimension())


def test_objective_is_loss_plus_l1(random_network):
    X, y, _ = planted(n=10, d=4)
    problem = Problem(X, y, random_network.activation, "squared", 0.5)
    yhat = random_network.predict(X)
    expected = 0.5 * np.sum((yhat - y) ** 2) + 0.5 * np.abs(random_network.second_layer).sum()
    assert problem.objective(random_network) == pytest.approx(expected, rel=1e-13)
    assert random_network.objective(X, y, "squared", 0.5) == pytest.approx(expected, rel=1e-13)


X_OK = np.arange(12.0).reshape(6, 2)
Y_OK = np.arange(6.0)


@pytest.mark.parametrize(
    "X, y, exc, match",
    [
        (np.where(X_OK > 10, np.nan, X_OK), Y_OK, ValueError, "X contains NaN or infinity"),
        (np.where(X_OK > 10, np.inf, X_OK), Y_OK, ValueError, "X contains NaN or infinity"),
        (X_OK, np.where(Y_OK > 4, np.nan, Y_OK), ValueError, "y contains NaN or infinity"),
        (X_OK.ravel(), np.arange(12.0), ValueError, r"X must be 2-D \(n_samples, n_features\)"),
        (X_OK, Y_OK[:5], ValueError, r"y must have shape \(6,\) or \(6, n_outputs\)"),
        (X_OK[:1], Y_OK[:1], ValueError, "n_samples=1; at least 2 samples are required"),
        (X_OK + 1j, Y_OK, TypeError, "X must be real, got complex data"),
        (np.array([["a", "b"], ["c", "d"]]), Y_OK[:2], TypeError, "X must be numeric"),
        (np.empty((3, 0)), Y_OK[:3], ValueError, "X has 0 features"),
    ],
)
def test_bad_data(X, y, exc, match):
    with pytest.raises(exc, match=match):
        Problem(X, y)


@pytest.mark.parametrize(
    "beta, exc, match",
    [(-1.0, ValueError, "beta must be a finite real number >= 0"),
     (np.nan, ValueError, "beta must be a finite real number >= 0"),
     (np.inf, ValueError, "beta must be a finite real number >= 0"),
     ("0.1", TypeError, "beta must be a real number >= 0, got str"),
     (True, TypeError, "beta must be a real number")],
)
def test_bad_beta(beta, exc, match):
    with pytest.raises(exc, match=match):
        check_beta(beta)


def test_inputs_are_not_modified():
    X, y, _ = planted(n=10, d=3)
    X0, y0 = X.copy(), y.copy()
    Problem(X, y, "relu", "squared", 0.1).lifted_features()
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


def test_softmax_labels_are_one_hot_encoded():
    X = np.random.default_rng(0).standard_normal((6, 2))
    problem = Problem(X, np.array([0, 1, 2, 0, 1, 2]), "relu", "softmax", 0.1)
    assert problem.Y.shape == (6, 3)
    with pytest.raises(ValueError, match="n_classes >= 2"):
        Problem(X, np.zeros(6), "relu", "softmax", 0.1)
