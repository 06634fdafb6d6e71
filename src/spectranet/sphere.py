r"""Exact maximization of a quadratic over the unit sphere.

Solves the equality-constrained trust-region subproblem

.. math::

    \max_{\|u\|_2 = 1} f(u) = u^\top Q u + q^\top u + r

through the eigendecomposition :math:`Q = V \operatorname{diag}(\lambda) V^\top`
(:math:`\lambda_1 \ge \dots \ge \lambda_d`) and :math:`g = V^\top q`. A feasible
:math:`u` is globally optimal iff :math:`(\mu I - Q) u = q/2` for some
:math:`\mu \ge \lambda_1`. The Lagrangian dual

.. math::

    D(\mu) = \mu + r + \tfrac14 \sum_i \frac{g_i^2}{\mu - \lambda_i},
    \qquad \mu \ge \lambda_1,

(with :math:`g_i^2/0 = 0` when :math:`g_i = 0`) is an upper bound on the maximum
for every admissible :math:`\mu` (weak duality), and strong duality holds. The
solver works in the shifted variable :math:`t = \mu - \lambda_1 \ge 0` so that
near-hard cases (tiny :math:`g_1`) keep full relative precision in :math:`t`.

The returned ``value`` is :math:`f(u)` at the returned unit vector, evaluated with the
original data (a lower bound, up to rounding), and ``value_upper`` is
:math:`D(\mu^*)` plus the rounding margin
``_MARGIN_FACTOR * d * eps * (max|lambda| + ||q|| + |r|)`` (an upper bound). Because
:math:`\partial D / \partial \lambda_i = -z_i^2`, :math:`\partial D/\partial g_i = z_i`
and :math:`\|z\| = 1`, backward errors of size :math:`\delta` in the
eigendecomposition move :math:`D` by at most :math:`O(\delta)`, which is what the
margin covers.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

import numpy as np
import scipy.linalg

__all__ = ["SphereMax", "eig_desc", "sphere_max", "sphere_max_abs"]

logger = logging.getLogger(__name__)

_EPS = float(np.finfo(float).eps)
#: Relative asymmetry ``max|Q - Q^T| / max|Q|`` accepted (then symmetrized).
SYM_RTOL = 1e-10
#: Constant ``c`` of the rounding margin ``c * d * eps * (max|lam| + ||q|| + |r|)``.
_MARGIN_FACTOR = 32.0
#: Eigenvalues within ``_CLUSTER_FACTOR * d * eps * max|lam|`` of ``lam_1`` form the top cluster.
_CLUSTER_FACTOR = 16.0
#: ``||g_top||`` below ``_ZERO_FACTOR * d * eps * ||q||`` counts as numerically zero.
_ZERO_FACTOR = 64.0
_MAX_ITER = 200


@dataclass(frozen=True)
class SphereMax:
    """Result of a sphere-constrained quadratic maximization.

    Attributes
    ----------
    value : float
        ``f(u)`` at the returned feasible maximizer (certified lower bound up to rounding).
    value_upper : float
        Dual value plus rounding margin; ``value <= max f <= value_upper``.
    u : numpy.ndarray
        ``(d,)`` unit-norm maximizer.
    hard_case : bool
        True when the solution has ``mu = lam_1`` (the hard case of the TRS).
    """

    value: float
    value_upper: float
    u: np.ndarray
    hard_case: bool


def _check_Q(Q) -> np.ndarray:
    Q = np.asarray(Q)
    if Q.ndim != 2 or Q.shape[0] != Q.shape[1]:
        raise ValueError(f"Q must be a square 2-D array, got shape {Q.shape}")
    if Q.shape[0] == 0:
        raise ValueError("Q must be non-empty (d >= 1)")
    if np.iscomplexobj(Q) or not (np.issubdtype(Q.dtype, np.number) or Q.dtype == bool):
        raise ValueError(f"Q must be a real numeric array, got dtype {Q.dtype}")
    Q = Q.astype(float)  # copy: inputs are never modified
    if not np.all(np.isfinite(Q)):
        raise ValueError("Q must contain only finite values (no NaN or inf)")
    scale = float(np.max(np.abs(Q)))
    asym = float(np.max(np.abs(Q - Q.T)))
    if asym > SYM_RTOL * scale:
        raise ValueError(
            f"Q must be symmetric: relative asymmetry {asym / scale:.3g} exceeds {SYM_RTOL:g}"
        )
    return 0.5 * (Q + Q.T)


def _check_qr(q, r, d: int) -> tuple[np.ndarray, float]:
    if q is None:
        q = np.zeros(d)
    q = np.asarray(q)
    if q.shape != (d,):
        raise ValueError(f"q must have shape ({d},), got {q.shape}")
    if np.iscomplexobj(q) or not (np.issubdtype(q.dtype, np.number) or q.dtype == bool):
        raise ValueError(f"q must be a real numeric array, got dtype {q.dtype}")
    q = q.astype(float)
    if not np.all(np.isfinite(q)):
        raise ValueError("q must contain only finite values (no NaN or inf)")
    try:
        ok = not np.iscomplexobj(r) and np.ndim(r) == 0 and math.isfinite(r := float(r))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError("r must be a finite real scalar")
    return q, r


def _check_eig(eig, d: int) -> tuple[np.ndarray, np.ndarray]:
    lam, V = (np.asarray(a, dtype=float) for a in eig)
    if lam.shape != (d,) or V.shape != (d, d):
        raise ValueError(
            f"eig must be (lam of shape ({d},), V of shape ({d}, {d})), "
            f"got shapes {lam.shape} and {V.shape}"
        )
    if not (np.all(np.isfinite(lam)) and np.all(np.isfinite(V))):
        raise ValueError("eig must contain only finite values")
    order = np.argsort(-lam, kind="stable")
    return lam[order], V[:, order]


def eig_desc(Q) -> tuple[np.ndarray, np.ndarray]:
    """Eigendecomposition of a symmetric matrix with eigenvalues in descending order.

    Parameters
    ----------
    Q : array_like, shape (d, d)
        Real symmetric matrix (validated and symmetrized).

    Returns
    -------
    lam : numpy.ndarray, shape (d,)
        Eigenvalues, ``lam[0] >= lam[1] >= ...``.
    V : numpy.ndarray, shape (d, d)
        Orthonormal eigenvectors, ``V[:, i]`` belonging to ``lam[i]``.
    """
    lam, V = scipy.linalg.eigh(_check_Q(Q))
    return lam[::-1].copy(), V[:, ::-1].copy()


def _secular_root(gm: np.ndarray, gp: np.ndarray) -> float:
    """Root ``t > 0`` of ``sum (gm / (2 (t + gp)))**2 = 1`` (assumed to exist).

    Safeguarded Newton on the concave increasing ``phi(t) = 1/||z(t)|| - 1``, started
    at a lower bound so that the iterates increase monotonically to the root, with
    bisection whenever a step leaves the bracket.
    """
    lo = max(0.0, float(np.max(np.abs(gm) / 2.0 - gp)))
    hi = max(float(np.linalg.norm(gm)) / 2.0, lo)
    t = lo
    for _ in range(_MAX_ITER):
        den = t + gp
        if np.any(den <= 0.0):  # only possible at t = 0; phi(0+) < 0 then
            lo, t = t, 0.5 * (lo + hi)
            continue
        y = gm / (2.0 * den)
        w = float(y @ y)
        phi = 1.0 / math.sqrt(w) - 1.0
        if phi == 0.0:
            return t
        if phi < 0.0:
            lo = t
        else:
            hi = t
        dphi = float(np.sum(y * y / den)) / w**1.5
        t_new = t - phi / dphi if dphi > 0.0 else 0.5 * (lo + hi)
        if not (lo < t_new < hi):
            t_new = 0.5 * (lo + hi)
        if abs(t_new - t) <= 2.0 * _EPS * t_new or hi - lo <= 2.0 * _EPS * hi:
            return t_new
        t = t_new
    logger.debug("secular equation: iteration limit reached (t=%g, bracket=[%g, %g])", t, lo, hi)
    return t


def sphere_max(Q, q=None, r=0.0, *, eig=None) -> SphereMax:
    """Globally maximize ``u^T Q u + q^T u + r`` over the unit sphere ``||u||_2 = 1``.

    Parameters
    ----------
    Q : array_like, shape (d, d)
        Real symmetric matrix (relative asymmetry up to ``SYM_RTOL`` is symmetrized).
    q : array_like, shape (d,), optional
        Linear term (default zero).
    r : float, optional
        Constant term.
    eig : tuple of (numpy.ndarray, numpy.ndarray), optional
        Precomputed ``(lam, V)`` of ``Q`` (e.g. from :func:`eig_desc`), reused across calls.

    Returns
    -------
    SphereMax
        ``value = f(u)`` at the unit-norm ``u``; ``value_upper`` is the Lagrangian dual
        ``min_{mu >= lam_1} mu + r + q^T (mu I - Q)^+ q / 4`` evaluated at the computed
        ``mu``, plus the margin ``32 d eps (max|lam| + ||q|| + |r|)``.

    Raises
    ------
    ValueError
        If the inputs are not finite, real and of consistent shapes, or ``Q`` is not
        symmetric.
    """
    Q = _check_Q(Q)
    d = Q.shape[0]
    q, r = _check_qr(q, r, d)
    lam, V = eig_desc(Q) if eig is None else _check_eig(eig, d)
    g = V.T @ q
    qnorm = float(np.linalg.norm(q))
    lam_abs = float(np.max(np.abs(lam)))
    margin = _MARGIN_FACTOR * d * _EPS * (lam_abs + qnorm + abs(r))

    # Scale by a power of two (exact) so that max(|lam|, ||q||) ~ 1.
    big = max(lam_abs, qnorm)
    s = 2.0 ** math.frexp(big)[1] if big > 0.0 else 1.0
    lam_s, g_s = lam / s, g / s
    gaps = np.maximum(lam_s[0] - lam_s, 0.0)
    gaps[0] = 0.0
    # components below sqrt(tiny) (relative) change f by less than they count in the margin,
    # and would overflow the secular equation: drop them
    negligible = np.abs(g_s) < math.sqrt(np.finfo(float).tiny)
    if np.any(negligible & (g_s != 0.0)):
        margin += s * float(np.sum(np.abs(g_s[negligible])))
        g_s = np.where(negligible, 0.0, g_s)
    nz = g_s != 0.0
    gm, gp = g_s[nz], gaps[nz]

    def objective(z: np.ndarray) -> tuple[float, np.ndarray]:
        u = V @ z
        u /= np.linalg.norm(u)
        return float(u @ Q @ u + q @ u + r), u

    easy, dual = _easy_case(gm, gp, lam_s, nz, d, objective)
    top = gaps <= _CLUSTER_FACTOR * d * _EPS * float(np.max(np.abs(lam_s)))
    hard = _hard_case(g_s, gaps, top, nz, d, easy, objective)
    best = _choose(easy, hard, g_s, top, d, margin)
    value, u, hard = best
    upper = s * dual + r + margin
    if value > upper:
        logger.warning("sphere_max: value %.17g exceeds dual bound %.17g", value, upper)
        upper = value + margin
    logger.debug("sphere_max: d=%d value=%.17g gap=%.3g hard=%s", d, value, upper - value, hard)
    return SphereMax(value=value, value_upper=float(upper), u=u, hard_case=bool(hard))


def _easy_case(gm, gp, lam_s, nz, d, objective):
    """The easy case (the secular equation's root ``t* > 0`` exists iff the norm of
    ``z(t)`` exceeds 1 as ``t -> 0+``): ``((value, u) or None, the scaled dual value)``."""
    with np.errstate(over="ignore"):  # an overflow to inf means "easy case", as intended
        easy_case = gm.size and (np.any(gp == 0.0) or float(np.sum((gm / (2.0 * gp)) ** 2)) > 1.0)
    if not easy_case:  # dual optimum at t = 0 (mu = lam_1): every g_i with gap_i = 0 is exactly zero
        return None, lam_s[0] + (0.5 * float(gm @ (gm / (2.0 * gp))) if gm.size else 0.0)
    t = _secular_root(gm, gp)
    y = gm / (2.0 * (t + gp))
    z = np.zeros(d)
    z[nz] = y
    return objective(z), lam_s[0] + t + 0.5 * float(gm @ y)


def _hard_case(g_s, gaps, top, nz, d, easy, objective):
    """The hard-case candidate (mu = lam_1), built when ``g`` is small on the top eigenvalue's
    cluster ``top`` (or there is no easy case): ``(value, u)`` or None."""
    g_top = float(np.linalg.norm(g_s[top]))
    if easy is not None and g_top > math.sqrt(_EPS) * float(np.linalg.norm(g_s)):
        return None
    rest = ~top & nz
    z = np.zeros(d)
    z[rest] = g_s[rest] / (2.0 * gaps[rest])
    with np.errstate(over="ignore"):  # inf only in degenerate scalings; handled below
        sq = float(z @ z)
    if sq > 1.0 and easy is not None:  # sq > 1 here only by rounding; u is renormalized
        return None
    rem = math.sqrt(max(1.0 - sq, 0.0))
    if g_top > 0.0:
        z[top] = rem * g_s[top] / g_top
    else:
        z[0] = rem
    return objective(z)


def _choose(easy, hard, g_s, top, d, margin):
    """The better feasible point ``(value, u, hard)``; on a tie (within rounding) the exact hard
    case when ``g`` vanishes numerically on the top eigenspace, the easy case otherwise."""
    if hard is None:
        return (*easy, False)
    if easy is None:
        return (*hard, True)
    numerically_zero = float(np.linalg.norm(g_s[top])) <= _ZERO_FACTOR * d * _EPS * float(np.linalg.norm(g_s))
    tie = margin if numerically_zero else -margin
    return (*hard, True) if hard[0] >= easy[0] - tie else (*easy, False)


def sphere_max_abs(Q, q=None, r=0.0, *, eig=None) -> tuple[SphereMax, int]:
    """Maximize ``|u^T Q u + q^T u + r|`` over the unit sphere.

    Solves ``sphere_max(Q, q, r)`` and ``sphere_max(-Q, -q, -r)`` with one shared
    eigendecomposition (the eigenpairs of ``-Q`` are those of ``Q`` negated and reversed).

    Parameters
    ----------
    Q, q, r, eig
        As in :func:`sphere_max`.

    Returns
    -------
    result : SphereMax
        The winning side's solution: ``value = sign * f(u) = |f(u)|`` (up to the sign of a
        near-zero maximum). ``value_upper`` is the larger of the two sides' certified upper
        bounds, hence an upper bound on ``max |f|``.
    sign : int
        ``+1`` if maximizing ``f`` wins, ``-1`` if maximizing ``-f`` wins.

    Raises
    ------
    ValueError
        As in :func:`sphere_max`.
    """
    Q = _check_Q(Q)
    d = Q.shape[0]
    q, r = _check_qr(q, r, d)
    lam, V = eig_desc(Q) if eig is None else _check_eig(eig, d)
    plus = sphere_max(Q, q, r, eig=(lam, V))
    minus = sphere_max(-Q, -q, -r, eig=(-lam[::-1], V[:, ::-1]))
    best, sign = (plus, 1) if plus.value >= minus.value else (minus, -1)
    upper = max(plus.value_upper, minus.value_upper)
    return replace(best, value_upper=upper), sign
