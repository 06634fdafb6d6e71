"""Tests for spectranet.decomposition (neural decomposition, Bartan & Pilanci Sec. 4.1)."""

import logging

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from spectranet.decomposition import cone_factors, neural_decomposition, neurons_from_psd

SETTINGS = settings(max_examples=100, deadline=None)


def gmat(n):
    return np.diag(np.r_[np.ones(n - 1), -1.0])


def lift(U, w):
    """sum_j w_j [u_j; 1][u_j; 1]^T."""
    V = np.c_[U, np.ones(len(w))]
    return (V.T * w) @ V


def rel_err(A, B):
    return np.linalg.norm(A - B) / max(np.linalg.norm(B), 1e-300)


def unit_rows(rng, k, p):
    U = rng.standard_normal((k, p))
    return U / np.linalg.norm(U, axis=1, keepdims=True)


def make_z(family, p, k, seed):
    """Random PSD matrix with <Z, G> = 0 and rank min(k, p+1) (generically)."""
    rng = np.random.default_rng(seed)
    if family == "neurons":  # sum of weighted lifted unit neurons
        return lift(unit_rows(rng, k, p), np.exp(rng.uniform(-3, 3, k)))
    if family == "cone":  # sum of y y^T with y = [c; +-||c||]
        C = rng.standard_normal((k, p)) * np.exp(rng.uniform(-2, 2, (k, 1)))
        Y = np.c_[C, np.linalg.norm(C, axis=1) * rng.choice([-1.0, 1.0], k)]
        return Y.T @ Y
    # generic PSD W, rescaled by diag(I, s) so that tr(Z1) = Z4
    B = rng.standard_normal((p + 1, k))
    W = B @ B.T
    d = np.r_[np.ones(p), np.sqrt(np.trace(W[:-1, :-1]) / W[-1, -1])]
    return W * np.outer(d, d)


def num_rank(Z, tol=1e-9):
    ev = np.linalg.eigvalsh(Z)
    return int(np.sum(ev > tol * ev[-1])) if ev[-1] > 0 else 0


def clear_rank(Z):
    """Exclude matrices whose numerical rank is ambiguous (eigenvalue near rank_tol)."""
    ev = np.linalg.eigvalsh(Z)
    return not np.any((ev > 1e-13 * ev[-1]) & (ev < 1e-7 * ev[-1]))


matrices = st.tuples(
    st.sampled_from(["neurons", "cone", "generic"]),
    st.integers(1, 12),
    st.integers(1, 13),
    st.integers(0, 2**32 - 1),
).map(lambda t: make_z(t[0], t[1], min(t[2], t[1] + 1), t[3]))


@SETTINGS
@given(matrices)
def test_cone_factors_properties(Z):
    assume(clear_rank(Z))
    Y = cone_factors(Z)
    n = Z.shape[0]
    assert Y.ndim == 2 and Y.shape[1] == n
    assert 1 <= Y.shape[0] <= num_rank(Z)
    norms2 = np.einsum("ij,ij->i", Y, Y)
    assert np.all(np.abs(np.einsum("ij,ij->i", Y @ gmat(n), Y)) <= 1e-10 * norms2)
    assert rel_err(Y.T @ Y, Z) <= 1e-10


@SETTINGS
@given(matrices)
def test_neurons_properties(Z):
    assume(clear_rank(Z))
    U, w = neurons_from_psd(Z)
    assert U.shape == (len(w), Z.shape[0] - 1)
    assert 1 <= len(w) <= num_rank(Z)
    assert np.all(np.abs(np.linalg.norm(U, axis=1) - 1) <= 1e-12)
    assert np.all(w >= 0)
    assert rel_err(lift(U, w), Z) <= 1e-10


@SETTINGS
@given(matrices, st.integers(0, 2**32 - 1), st.sampled_from(["neurons", "cone", "generic"]))
def test_two_sided_reproduces_difference(Z, seed, family):
    rng = np.random.default_rng(seed)
    p = Z.shape[0] - 1
    Zp = make_z(family, p, int(rng.integers(1, p + 2)), seed)
    assume(clear_rank(Z) and clear_rank(Zp))
    U, alpha = neural_decomposition(Z, Zp)
    m1 = len(neurons_from_psd(Z)[1])
    assert U.shape == (len(alpha), p)
    assert len(alpha) <= num_rank(Z) + num_rank(Zp)
    assert np.all(alpha[:m1] >= 0) and np.all(alpha[m1:] <= 0)
    assert np.all(np.abs(np.linalg.norm(U, axis=1) - 1) <= 1e-12)
    err = np.linalg.norm(lift(U, alpha) - (Z - Zp))
    assert err <= 1e-10 * (np.linalg.norm(Z) + np.linalg.norm(Zp))


@pytest.mark.parametrize("p", [1, 2, 5])
def test_zero_matrix(p):
    Z = np.zeros((p + 1, p + 1))
    assert cone_factors(Z).shape == (0, p + 1)
    U, w = neurons_from_psd(Z)
    assert U.shape == (0, p) and w.shape == (0,)
    U, alpha = neural_decomposition(Z, Z)
    assert U.shape == (0, p) and alpha.shape == (0,)


def test_rank_one_returns_single_neuron():
    rng = np.random.default_rng(1)
    u = unit_rows(rng, 1, 4)
    U, w = neurons_from_psd(lift(u, [2.5]))
    assert U.shape == (1, 4)
    np.testing.assert_allclose(U, u, atol=1e-12)
    np.testing.assert_allclose(w, [2.5], rtol=1e-12)


def test_p_equals_one():
    # the unit sphere in R^1 is {-1, +1}; equal weights give a repeated eigenvalue
    for w_pos, w_neg in [(1.0, 1.0), (3.0, 0.5), (2.0, 0.0)]:
        Z = lift(np.array([[1.0], [-1.0]]), np.array([w_pos, w_neg]))
        U, w = neurons_from_psd(Z)
        assert set(np.round(U.ravel(), 12)) <= {-1.0, 1.0}
        assert rel_err(lift(U, w), Z) <= 1e-12
        assert len(w) == num_rank(Z)


def test_tiny_negative_eigenvalues_tolerated():
    rng = np.random.default_rng(2)
    Z = lift(unit_rows(rng, 2, 5), np.array([1.0, 2.0]))
    ev, Q = np.linalg.eigh(Z)
    ev[np.abs(ev) < 1e-9] = -1e-14
    Zn = (Q * ev) @ Q.T
    assert np.linalg.eigvalsh(Zn)[0] < 0
    U, w = neurons_from_psd(Zn)
    assert len(w) == 2
    assert rel_err(lift(U, w), Z) <= 1e-10


def test_repeated_eigenvalues():
    p, c = 4, 0.7
    E = np.eye(p)
    Z = lift(np.r_[E, -E], np.full(2 * p, c))  # = diag(2c, ..., 2c, 2cp)
    np.testing.assert_allclose(Z, np.diag(np.r_[np.full(p, 2 * c), 2 * c * p]), atol=1e-15)
    Y = cone_factors(Z)
    assert len(Y) <= p + 1
    U, w = neurons_from_psd(Z)
    assert rel_err(lift(U, w), Z) <= 1e-12
    assert np.allclose(np.linalg.norm(U, axis=1), 1)


def test_eigenvector_already_on_cone():
    y1, y2 = np.array([1.0, 0.0, 1.0]), np.array([-1.0, 0.0, 1.0])  # orthogonal, on the cone
    Z = np.outer(y1, y1) + 4 * np.outer(y2, y2)
    Y = cone_factors(Z)
    assert len(Y) == 2
    order = np.argsort(Y[:, 0])
    np.testing.assert_allclose(Y[order], np.array([2 * y2, y1]), atol=1e-12)
    U, w = neurons_from_psd(Z)
    order = np.argsort(w)
    np.testing.assert_allclose(U[order], [[1.0, 0.0], [-1.0, 0.0]], atol=1e-12)
    np.testing.assert_allclose(w[order], [1.0, 4.0], rtol=1e-12)


def test_near_spectrahedron_does_not_crash(caplog):
    # <Z, G> ~ 1e-9 relative, as returned by an SDP solver: no partner for the last vector
    rng = np.random.default_rng(3)
    Z = lift(unit_rows(rng, 3, 4), np.array([1.0, 2.0, 0.5]))
    Z[0, 0] += 1e-9
    with caplog.at_level(logging.DEBUG, logger="spectranet.decomposition"):
        U, w = neurons_from_psd(Z)
    assert "no opposite-sign partner" in caplog.text
    assert np.allclose(np.linalg.norm(U, axis=1), 1, atol=1e-12) and np.all(w >= 0)
    assert rel_err(lift(U, w), Z) <= 1e-8


def test_input_not_modified_and_lists_accepted():
    Z = lift(np.array([[0.6, 0.8], [-1.0, 0.0]]), np.array([1.0, 3.0]))
    Z[0, 1] += 1e-13  # tiny asymmetry, symmetrized internally
    Z0 = Z.copy()
    U, w = neurons_from_psd(Z.tolist())
    cone_factors(Z, validate=False)
    np.testing.assert_array_equal(Z, Z0)
    assert rel_err(lift(U, w), Z) <= 1e-10


def test_known_network_outputs():
    rng = np.random.default_rng(4)
    p = 5
    U0, w0 = unit_rows(rng, 3, p), np.array([0.8, 1.7, 0.3])
    Z = lift(U0, w0)
    U, w = neurons_from_psd(Z)
    assert len(w) == 3
    a, b, c = rng.standard_normal(3)

    def sigma(t):
        return a * t**2 + b * t + c

    for x in rng.standard_normal((10, p)):
        A = np.block([[a * np.outer(x, x), (b / 2) * x[:, None]], [(b / 2) * x[None, :], c]])
        target = np.sum(A * Z)
        np.testing.assert_allclose(w0 @ sigma(U0 @ x), target, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(w @ sigma(U @ x), target, rtol=1e-10, atol=1e-12)


GOOD = lift(np.array([[1.0, 0.0], [0.0, -1.0]]), np.array([1.0, 2.0]))


@pytest.mark.parametrize(
    ("Z", "match"),
    [
        (np.where(np.eye(3) > 0, np.nan, GOOD), "Z must be finite"),
        (np.where(np.eye(3) > 0, np.inf, GOOD), "Z must be finite"),
        (
            np.ones((3, 4)),
            r"Z must be a square symmetric matrix of shape \(p\+1, p\+1\), got shape \(3, 4\)",
        ),
        (np.ones(3), r"got shape \(3,\)"),
        (np.ones((1, 1)), r"got shape \(1, 1\)"),
        (GOOD + np.triu(np.ones((3, 3)), 1), "Z must be a symmetric matrix"),
        (GOOD - 3 * np.outer([0, 1, 0], [0, 1, 0]) + 3 * np.outer([1, 0, 0], [1, 0, 0]),
         "Z must be positive semidefinite"),
        (
            GOOD + np.eye(3) * [1.0, 0.0, 0.0],
            r"not in the neural spectrahedron: tr\(Z1\) must equal Z4",
        ),
        (GOOD.astype(complex), "Z must be real-valued"),
    ],
)
def test_invalid_inputs(Z, match):
    for fn in (cone_factors, neurons_from_psd, lambda M: neural_decomposition(M, GOOD)):
        with pytest.raises(ValueError, match=match):
            fn(Z)


def test_z_prime_validation():
    with pytest.raises(ValueError, match=r"Z_prime must have the same shape as Z"):
        neural_decomposition(GOOD, np.zeros((4, 4)))
    with pytest.raises(ValueError, match="Z_prime must be positive semidefinite"):
        neural_decomposition(GOOD, -GOOD)
    with pytest.raises(ValueError, match="Z_prime must be a square symmetric matrix"):
        neural_decomposition(GOOD, np.ones((2, 3)))


def test_trace_tol_keyword_and_rank_tol():
    Z = GOOD.copy()
    Z[0, 0] += 1e-3 * np.trace(GOOD)
    with pytest.raises(ValueError, match="not in the neural spectrahedron"):
        neurons_from_psd(Z)
    U, w = neurons_from_psd(Z, trace_tol=1e-2)
    assert np.all(w >= 0) and np.allclose(np.linalg.norm(U, axis=1), 1)
    with pytest.raises(ValueError, match="rank_tol"):
        cone_factors(GOOD, rank_tol=-1.0)


@pytest.mark.parametrize("scale", [1e-15, 1.0, 1e12])
def test_projection_onto_the_spectrahedron_at_every_scale(scale):
    """The projection's root finding works at the matrix's own scale: a block that is numerically
    zero (SCS returns them at 1e-15) came back off the spectrahedron relative to its size, and its
    neural decomposition raised out of fit (2 % of small SCS fits)."""
    from spectranet.decomposition import neural_decomposition, project_spectrahedron

    rng = np.random.default_rng(3)
    B = rng.standard_normal((4, 4))
    Z = project_spectrahedron(scale * (B @ B.T))
    assert abs(np.trace(Z[:-1, :-1]) - Z[-1, -1]) <= 1e-12 * np.trace(Z)
    assert np.min(np.linalg.eigvalsh(Z)) >= -1e-12 * np.trace(Z)
    U, alpha = neural_decomposition(Z, np.zeros_like(Z))
    np.testing.assert_allclose(np.linalg.norm(U, axis=1), 1.0, rtol=1e-12)


def test_scs_fits_with_numerically_zero_blocks():
    """A 3-class hinge fit on one feature whose SCS solution has a block of 1e-15 (it raised "Z is
    not in the neural spectrahedron")."""
    pytest.importorskip("scs")
    from spectranet import ConvexPolyNetClassifier

    rng = np.random.default_rng(6)
    X = rng.standard_normal((60, 1))
    s = X[:, 0] ** 2 - X[:, -1] + 0.3 * rng.standard_normal(60)
    y = np.digitize(s, np.quantile(s, [1 / 3, 2 / 3]))
    est = ConvexPolyNetClassifier(loss="hinge", beta=0.25, solver="scs").fit(X, y)
    ref = ConvexPolyNetClassifier(loss="hinge", beta=0.25, solver="clarabel").fit(X, y)
    assert est.network_objective_ == pytest.approx(ref.network_objective_, rel=1e-3)
