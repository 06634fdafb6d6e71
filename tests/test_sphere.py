"""Tests for :mod:`spectranet.sphere` (exact sphere-constrained quadratic maximization)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.optimize
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from spectranet.sphere import SphereMax, eig_desc, sphere_max, sphere_max_abs


def f(Q, q, r, u):
    return float(u @ Q @ u + q @ u + r)


def scale_of(Q, q, r):
    return 1.0 + np.abs(np.linalg.eigvalsh(Q)).max() + np.linalg.norm(q) + abs(r)


def rand_sym(rng, d, spread=1.0):
    A = rng.standard_normal((d, d)) * spread
    return 0.5 * (A + A.T)


def rand_orth(rng, d):
    return np.linalg.qr(rng.standard_normal((d, d)))[0]


def multistart(Q, q, r, rng, starts=50):
    """Best value of L-BFGS on f(w / ||w||) over random starts (a lower bound on the max)."""

    def neg(w):
        n = np.linalg.norm(w)
        u = w / n
        grad = 2.0 * Q @ u + q
        return -f(Q, q, r, u), -(grad - u * (u @ grad)) / n

    best = -np.inf
    for _ in range(starts):
        res = scipy.optimize.minimize(neg, rng.standard_normal(len(q)), jac=True, method="L-BFGS-B")
        best = max(best, -res.fun)
    return best


def check_solution(res, Q, q, r, tol_gap=1e-9):
    """Feasibility, value consistency, certified bracket and KKT conditions."""
    Q, q = np.asarray(Q, float), np.asarray(q, float)
    sc = scale_of(Q, q, r)
    assert isinstance(res, SphereMax)
    assert res.u.shape == q.shape
    assert abs(np.linalg.norm(res.u) - 1.0) < 1e-14
    assert res.value == pytest.approx(f(Q, q, r, res.u), abs=1e-13 * sc)
    assert res.value_upper >= res.value
    assert res.value_upper - res.value <= tol_gap * sc
    # KKT: (mu I - Q) u = q / 2 with mu >= lam_1.
    mu = float(res.u @ Q @ res.u + 0.5 * q @ res.u)
    resid = mu * res.u - Q @ res.u - 0.5 * q
    assert np.linalg.norm(resid) <= 1e-8 * sc
    assert mu >= np.linalg.eigvalsh(Q)[-1] - 1e-10 * sc


# ----------------------------------------------------------------------------- small d
@pytest.mark.parametrize("Q, q, r", [(2.0, 3.0, 1.0), (-1.0, -0.5, 0.0), (0.0, 0.0, -2.0), (4.0, 0.0, 0.5)])
def test_d1_enumeration(Q, q, r):
    Qm, qv = np.array([[Q]]), np.array([q])
    res = sphere_max(Qm, qv, r)
    vals = {s: Q + s * q + r for s in (-1.0, 1.0)}
    assert res.value == max(vals.values())
    assert res.u[0] in (-1.0, 1.0)
    assert vals[res.u[0]] == res.value
    check_solution(res, Qm, qv, r)
    absres, sign = sphere_max_abs(Qm, qv, r)
    assert absres.value == pytest.approx(max(abs(v) for v in vals.values()), abs=1e-15)
    assert sign * f(Qm, qv, r, absres.u) == pytest.approx(absres.value, abs=1e-15)


@pytest.mark.parametrize("seed", range(6))
def test_d2_angle_grid(seed):
    rng = np.random.default_rng(seed)
    Q, q, r = rand_sym(rng, 2, 3.0), rng.standard_normal(2) * (seed % 3), rng.standard_normal()
    if seed == 5:
        Q = np.diag([1.0, 1.0])  # every direction is a top eigenvector
    theta = np.linspace(0.0, 2 * np.pi, 100_000, endpoint=False)
    U = np.stack([np.cos(theta), np.sin(theta)])
    vals = np.einsum("in,ij,jn->n", U, Q, U) + q @ U + r
    k = int(np.argmax(vals))
    h = theta[1] - theta[0]

    def g(th):
        u = np.array([np.cos(th), np.sin(th)])
        return -f(Q, q, r, u)

    ref = -scipy.optimize.minimize_scalar(
        g, bounds=(theta[k] - h, theta[k] + h), method="bounded", options={"xatol": 1e-12}
    ).fun
    ref = max(ref, vals[k])
    res = sphere_max(Q, q, r)
    assert res.value >= ref - 1e-10
    assert res.value <= ref + 1e-9
    check_solution(res, Q, q, r)


# ------------------------------------------------------------------ random vs multistart
@pytest.mark.parametrize("seed", range(8))
def test_random_against_multistart(seed):
    rng = np.random.default_rng(100 + seed)
    d = int(rng.integers(3, 31))
    Q = rand_sym(rng, d, 10.0 ** rng.uniform(-1, 1))
    q = rng.standard_normal(d) * 10.0 ** rng.uniform(-2, 1.5)
    r = float(rng.standard_normal())
    res = sphere_max(Q, q, r)
    ref = multistart(Q, q, r, rng, starts=50 if d <= 12 else 25)
    assert res.value >= ref - 1e-10 * scale_of(Q, q, r)
    assert res.value_upper >= ref
    check_solution(res, Q, q, r)


# ---------------------------------------------------------------------------- hard cases
def test_q_zero_is_exact_hard_case():
    rng = np.random.default_rng(1)
    Q = rand_sym(rng, 7)
    lam, V = eig_desc(Q)
    res = sphere_max(Q, None, 0.25)
    assert res.hard_case
    assert res.value == pytest.approx(lam[0] + 0.25, abs=1e-14)
    assert abs(abs(res.u @ V[:, 0]) - 1.0) < 1e-12
    assert res.value_upper - res.value < 1e-12
    check_solution(res, Q, np.zeros(7), 0.25)


def test_hard_case_q_orthogonal_to_top():
    rng = np.random.default_rng(2)
    d = 8
    V = rand_orth(rng, d)
    lam = np.array([3.0, 2.0, 1.0, 0.5, 0.0, -1.0, -2.0, -4.0])
    Q = V @ np.diag(lam) @ V.T
    g = np.r_[0.0, 0.3 * rng.standard_normal(d - 1)]
    q = V @ g
    z_rest = g[1:] / (2 * (lam[0] - lam[1:]))
    assert z_rest @ z_rest < 1
    exact = lam[0] + 0.25 * np.sum(g[1:] ** 2 / (lam[0] - lam[1:]))  # D(lam_1)
    res = sphere_max(Q, q)
    assert res.hard_case
    assert res.value == pytest.approx(exact, abs=1e-13)
    assert res.value_upper >= exact
    z = V.T @ res.u
    np.testing.assert_allclose(z[1:], z_rest, atol=1e-12)
    assert abs(z[0]) == pytest.approx(np.sqrt(1 - z_rest @ z_rest), abs=1e-10)
    check_solution(res, Q, q, 0.0)


def test_hard_case_repeated_top_eigenvalue():
    rng = np.random.default_rng(3)
    d = 6
    V = rand_orth(rng, d)
    lam = np.array([2.0, 2.0, 2.0, 0.0, -1.0, -3.0])
    Q = V @ np.diag(lam) @ V.T
    g = np.r_[0.0, 0.0, 0.0, 0.5, -0.4, 1.0]
    q = V @ g
    exact = 2.0 + 0.25 * np.sum(g[3:] ** 2 / (2.0 - lam[3:]))
    res = sphere_max(Q, q, -1.0)
    assert res.hard_case
    assert res.value == pytest.approx(exact - 1.0, abs=1e-13)
    z = V.T @ res.u
    np.testing.assert_allclose(z[3:], g[3:] / (2 * (2.0 - lam[3:])), atol=1e-12)
    check_solution(res, Q, q, -1.0)
    # q = 0 with a repeated top eigenvalue: any unit vector of the top eigenspace.
    res0 = sphere_max(Q)
    assert res0.value == pytest.approx(2.0, abs=1e-14)
    assert np.linalg.norm(V[:, :3].T @ res0.u) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("eps_top", [1e-10, 1e-14, 1e-17, 1e-30])
@pytest.mark.parametrize("rest_scale", [0.3, 3.0])
def test_near_hard_case(eps_top, rest_scale):
    rng = np.random.default_rng(4)
    d = 10
    V = rand_orth(rng, d)
    lam = np.sort(rng.standard_normal(d))[::-1] * 2
    lam[1] = lam[0] - 0.5
    Q = V @ np.diag(lam) @ V.T
    g = np.r_[eps_top, rest_scale * rng.standard_normal(d - 1)]
    q = V @ g
    res = sphere_max(Q, q, 0.1)
    check_solution(res, Q, q, 0.1)
    # Independent bracket: weak duality D(mu) >= max >= value; D is convex in t = mu - lam_1.
    def D(t):
        return lam[0] + t + 0.1 + 0.25 * np.sum(g**2 / (np.atleast_1d(t)[:, None] + (lam[0] - lam)), 1)

    ts = np.geomspace(1e-40, 10.0, 4000)
    k = int(np.argmin(D(ts)))
    lo, hi = ts[max(k - 1, 0)], ts[min(k + 1, len(ts) - 1)]
    opt = scipy.optimize.minimize_scalar(
        lambda s: D(np.exp(s))[0], bounds=(np.log(lo), np.log(hi)), method="bounded",
        options={"xatol": 1e-14},
    )
    dual = min(opt.fun, D(ts).min())
    assert res.value <= dual + 1e-12
    assert res.value >= dual - 1e-11
    assert res.value_upper >= dual - 1e-12
    ref = multistart(Q, q, 0.1, rng, starts=20)
    assert res.value >= ref - 1e-10 * scale_of(Q, q, 0.1)


def test_Q_zero():
    q = np.array([3.0, -4.0, 0.0, 12.0])
    res = sphere_max(np.zeros((4, 4)), q, 2.0)
    assert res.value == pytest.approx(13.0 + 2.0, abs=1e-13)
    np.testing.assert_allclose(res.u, q / 13.0, atol=1e-15)
    check_solution(res, np.zeros((4, 4)), q, 2.0)
    res0 = sphere_max(np.zeros((4, 4)), np.zeros(4), -0.5)
    assert res0.value == -0.5 and res0.value_upper >= -0.5 and res0.hard_case
    assert np.linalg.norm(res0.u) == pytest.approx(1.0)


def test_scaling_extremes():
    rng = np.random.default_rng(5)
    for s in (1e-150, 1e150):
        Q, q = rand_sym(rng, 5) * s, rng.standard_normal(5) * s
        res = sphere_max(Q, q)
        ref = sphere_max(Q / s, q / s)
        assert res.value == pytest.approx(ref.value * s, rel=1e-12)
        assert res.value_upper >= res.value


# ---------------------------------------------------------------------- sphere_max_abs
def test_abs_known_sign():
    Q = np.diag([1.0, -5.0])
    res, sign = sphere_max_abs(Q)
    assert sign == -1 and res.value == pytest.approx(5.0)
    assert abs(res.u[1]) == pytest.approx(1.0)
    res, sign = sphere_max_abs(Q, None, 10.0)
    assert sign == 1 and res.value == pytest.approx(11.0)


def test_eig_reuse_and_no_mutation():
    rng = np.random.default_rng(6)
    Q, q = rand_sym(rng, 9), rng.standard_normal(9)
    Q0, q0 = Q.copy(), q.copy()
    eig = eig_desc(Q)
    assert np.all(np.diff(eig[0]) <= 0)
    np.testing.assert_allclose(eig[1] @ np.diag(eig[0]) @ eig[1].T, Q, atol=1e-13)
    a, b = sphere_max(Q, q, 0.5), sphere_max(Q, q, 0.5, eig=eig)
    assert a.value == pytest.approx(b.value, abs=1e-14)
    ra, sa = sphere_max_abs(Q, q, 0.5, eig=eig)
    rb, sb = sphere_max_abs(Q, q, 0.5)
    assert sa == sb and ra.value == pytest.approx(rb.value, abs=1e-14)
    np.testing.assert_array_equal(Q, Q0)
    np.testing.assert_array_equal(q, q0)
    # Slightly asymmetric input is accepted and symmetrized.
    Qa = Q.copy()
    Qa[0, 1] += 1e-13
    assert sphere_max(Qa, q, 0.5).value == pytest.approx(a.value, abs=1e-12)
    # Lists are accepted.
    assert sphere_max(Q.tolist(), q.tolist(), 0.5).value == pytest.approx(a.value, abs=1e-14)


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "Q, q, r, match",
    [
        (np.array([[1.0, np.nan], [np.nan, 1.0]]), None, 0.0, "Q must contain only finite values"),
        (np.array([[np.inf]]), None, 0.0, "Q must contain only finite values"),
        (np.ones((2, 3)), None, 0.0, r"Q must be a square 2-D array, got shape \(2, 3\)"),
        (np.ones(3), None, 0.0, r"Q must be a square 2-D array, got shape \(3,\)"),
        (np.zeros((0, 0)), None, 0.0, r"Q must be non-empty"),
        (np.array([[1.0, 2.0], [0.0, 1.0]]), None, 0.0, "Q must be symmetric"),
        (np.eye(2, dtype=complex), None, 0.0, "Q must be a real numeric array"),
        (np.eye(3), np.ones(2), 0.0, r"q must have shape \(3,\), got \(2,\)"),
        (np.eye(3), np.ones((3, 1)), 0.0, r"q must have shape \(3,\), got \(3, 1\)"),
        (np.eye(2), np.array([1.0, np.nan]), 0.0, "q must contain only finite values"),
        (np.eye(2), None, np.nan, "r must be a finite real scalar"),
        (np.eye(2), None, "x", "r must be a finite real scalar"),
        (np.eye(2), None, [1.0], "r must be a finite real scalar"),
    ],
)
def test_bad_inputs(Q, q, r, match):
    with pytest.raises(ValueError, match=match):
        sphere_max(Q, q, r)
    with pytest.raises(ValueError, match=match):
        sphere_max_abs(Q, q, r)


def test_bad_eig():
    with pytest.raises(ValueError, match="eig must be"):
        sphere_max(np.eye(3), eig=(np.ones(2), np.eye(3)))


# -------------------------------------------------------------------------- properties
finite = st.floats(-10.0, 10.0, allow_nan=False, allow_infinity=False)


@st.composite
def problems(draw):
    d = draw(st.integers(1, 6))
    A = draw(arrays(np.float64, (d, d), elements=finite))
    q = draw(arrays(np.float64, (d,), elements=finite))
    q = q * draw(st.sampled_from([0.0, 1e-9, 1.0]))
    return 0.5 * (A + A.T), q, draw(finite)


def random_units(d, n=300, seed=0):
    U = np.random.default_rng(seed).standard_normal((n, d))
    return U / np.linalg.norm(U, axis=1, keepdims=True)


@settings(max_examples=100, deadline=None)
@given(problems())
def test_property_dominates_random_points(prob):
    Q, q, r = prob
    res = sphere_max(Q, q, r)
    U = random_units(len(q))
    vals = np.einsum("ni,ij,nj->n", U, Q, U) + U @ q + r
    sc = scale_of(Q, q, r)
    assert res.value >= vals.max() - 1e-12 * sc
    assert res.value_upper >= res.value
    assert res.value_upper - res.value <= 1e-10 * sc
    assert abs(np.linalg.norm(res.u) - 1.0) < 1e-14


@settings(max_examples=100, deadline=None)
@given(problems())
def test_property_abs(prob):
    Q, q, r = prob
    res, sign = sphere_max_abs(Q, q, r)
    plus, minus = sphere_max(Q, q, r), sphere_max(-Q, -q, -r)
    sc = scale_of(Q, q, r)
    assert sign in (1, -1)
    assert res.value == pytest.approx(max(plus.value, minus.value), abs=1e-12 * sc)
    assert res.value == pytest.approx(sign * f(Q, q, r, res.u), abs=1e-12 * sc)
    assert res.value_upper >= max(plus.value_upper, minus.value_upper) - 1e-12 * sc
    if abs(plus.value - minus.value) > 1e-9 * sc:
        assert sign == (1 if plus.value > minus.value else -1)
    U = random_units(len(q), seed=1)
    vals = np.abs(np.einsum("ni,ij,nj->n", U, Q, U) + U @ q + r)
    assert res.value >= vals.max() - 1e-12 * sc


# -------------------------------------------------------------------------- performance
def test_performance_d500():
    rng = np.random.default_rng(7)
    Q, q = rand_sym(rng, 500), rng.standard_normal(500)
    t0 = time.perf_counter()
    res = sphere_max(Q, q, 1.0)
    elapsed = time.perf_counter() - t0
    assert np.isfinite(res.value)
    assert elapsed < 30.0  # sanity only (typically well under a second)
    check_solution(res, Q, q, 1.0)


@pytest.mark.parametrize("Q", [0.0, 8.0])
def test_subnormal_linear_term_is_handled(Q):
    """Found by hypothesis: a subnormal q overflowed the secular equation."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res, _ = sphere_max_abs(np.array([[Q]]), np.array([2.2e-322]), 0.0)
    assert res.value == pytest.approx(Q, abs=1e-300) and res.value_upper >= res.value
