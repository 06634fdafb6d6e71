"""Neural decomposition of matrices in the neural spectrahedron.

Implements the constructive rank-one decomposition of Bartan & Pilanci,
"Neural Spectrahedra" (Section 4.1).  With ``G = diag(I_p, -1)``, a PSD matrix
``Z`` with ``<Z, G> = tr(Z1) - Z4 = 0`` is split as ``Z = sum_j y_j y_j^T`` with
``y_j^T G y_j = 0`` and at most ``rank Z`` terms; each ``y_j = [c; delta]`` then
yields a neuron ``u_j = sign(delta) c / ||c||`` with weight ``delta**2``.

Erratum: the paper prints the cross term of the quadratic in step 2 as
``2 alpha p_1^T p_j``; the correct term is ``2 alpha p_1^T G p_j``.
"""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["cone_factors", "neurons_from_psd", "neural_decomposition", "project_spectrahedron"]

#: Relative asymmetry ``||Z - Z^T||_F / ||Z||_F`` above which ``Z`` is rejected.
SYM_TOL = 1e-8
#: ``Z`` is rejected when its most negative eigenvalue is below ``-PSD_TOL * max|eig|``.
PSD_TOL = 1e-6
#: A vector ``p`` is treated as lying on the cone when ``|p^T G p| <= CONE_TOL * ||p||^2``.
CONE_TOL = 1e-12


def _as_matrix(Z, name: str) -> np.ndarray:
    """Convert ``Z`` to a float64 copy and check that it is a real (p+1)x(p+1) array."""
    try:
        arr = np.asarray(Z)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} must be a square symmetric matrix of shape (p+1, p+1), "
                         f"could not convert it to an array ({exc})") from exc
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real-valued, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] < 2:
        raise ValueError(f"{name} must be a square symmetric matrix of shape (p+1, p+1), "
                         f"got shape {arr.shape} (p >= 1 is required)")
    try:
        return np.array(arr, dtype=np.float64)  # always a copy: the input is never modified
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} must be a real numeric array, got dtype {arr.dtype}") from exc


def _prepare(Z, name: str, *, validate: bool, trace_tol: float):
    """Validate and symmetrize ``Z``; return ``(Zs, eigenvalues, eigenvectors)``."""
    A = _as_matrix(Z, name)
    if validate:
        if not np.all(np.isfinite(A)):
            raise ValueError(f"{name} must be finite, but it contains NaN or inf entries")
        asym = np.linalg.norm(A - A.T)
        scale = np.linalg.norm(A)
        if asym > SYM_TOL * scale:
            raise ValueError(f"{name} must be a symmetric matrix: relative asymmetry "
                             f"||{name} - {name}^T||_F / ||{name}||_F = {asym / scale:.3e} "
                             f"exceeds {SYM_TOL:g}")
    Zs = 0.5 * (A + A.T)
    evals, evecs = np.linalg.eigh(Zs)
    if validate:
        emax_abs = float(np.max(np.abs(evals)))
        if evals[0] < -PSD_TOL * emax_abs:
            raise ValueError(f"{name} must be positive semidefinite: most negative eigenvalue "
                             f"{evals[0]:.3e} is below -{PSD_TOL:g} * {emax_abs:.3e}")
        tr1, z4 = float(np.trace(Zs[:-1, :-1])), float(Zs[-1, -1])
        if abs(tr1 - z4) > trace_tol * (tr1 + z4):
            raise ValueError(f"{name} is not in the neural spectrahedron: tr(Z1) must equal Z4 "
                             f"(<Z, G> = tr(Z1) - Z4 = {tr1 - z4:.3e}, tr(Z1) = {tr1:.3e}, "
                             f"Z4 = {z4:.3e}, relative tolerance {trace_tol:g})")
    return Zs, evals, evecs


def _gform(P: np.ndarray) -> np.ndarray:
    """Row-wise indefinite form ``p^T G p = ||p[:-1]||^2 - p[-1]^2``."""
    return np.einsum("ij,ij->i", P[:, :-1], P[:, :-1]) - P[:, -1] ** 2


def _split_on_cone(P: np.ndarray, tiny: float) -> np.ndarray:
    """Rotate pairs of rows of ``P`` (keeping ``P^T P``) onto the cone ``y^T G y = 0``."""
    P = P.copy()
    alive = np.einsum("ij,ij->i", P, P) > tiny
    out: list[np.ndarray] = []
    while alive.any():
        idx = np.flatnonzero(alive)
        norms2 = np.einsum("ij,ij->i", P[idx], P[idx])
        g = _gform(P[idx])
        on = np.abs(g) <= CONE_TOL * norms2
        if on.any():  # step 1: already on the cone
            out.extend(P[idx[on]])
            alive[idx[on]] = False
            continue
        # Off-cone vectors only.  Take the smallest one as p_1 so that the large
        # ones are kept in the residual (keeps the final vector well scaled).
        a = int(np.argmin(norms2))
        opposite = g * g[a] < 0
        if not opposite.any():
            # Only possible when <Z, G> is ~0 up to round-off / solver tolerance.
            logger.debug("no opposite-sign partner for %d remaining vector(s); max |p^T G p| / "
                         "||p||^2 = %.3e; emitting them as they are", idx.size,
                         float(np.max(np.abs(g) / norms2)))
            out.extend(P[idx])
            break
        b = int(np.argmax(np.where(opposite, np.abs(g), -np.inf)))
        i, j = idx[a], idx[b]
        g1, gj = g[a], g[b]
        cross = float(P[i, :-1] @ P[j, :-1] - P[i, -1] * P[j, -1])  # p_1^T G p_j (erratum)
        # Step 2: gj a^2 + 2 cross a + g1 = 0; disc > 0 since g1 * gj < 0.
        disc = cross * cross - g1 * gj
        q = -(cross + np.copysign(np.sqrt(disc), cross))  # |q| >= sqrt(disc) > 0
        r1, r2 = q / gj, g1 / q  # stable pair of roots
        alpha = r1 if abs(r1) <= abs(r2) else r2
        s = 1.0 / np.hypot(1.0, alpha)
        y = (P[i] + alpha * P[j]) * s
        P[j] = (P[j] - alpha * P[i]) * s  # step 3: residual replaces p_j
        out.append(y)
        alive[i] = False
        if P[j] @ P[j] <= tiny:
            alive[j] = False
    if not out:
        return np.empty((0, P.shape[1]))
    Y = np.asarray(out)
    Y = Y[np.einsum("ij,ij->i", Y, Y) > tiny]
    Y[Y[:, -1] < 0] *= -1.0  # sign convention: last entry delta >= 0
    return Y


def cone_factors(Z, *, rank_tol: float = 1e-9, validate: bool = True,
                 trace_tol: float = 1e-4) -> np.ndarray:
    """Factor ``Z`` into rank-one terms lying on the cone ``y^T G y = 0``.

    Parameters
    ----------
    Z : array_like, shape (p+1, p+1)
        Symmetric PSD matrix with ``tr(Z1) = Z4``.  It is not modified.
    rank_tol : float, default 1e-9
        Eigenvalues ``<= rank_tol * lambda_max`` are treated as zero.
    validate : bool, default True
        Check finiteness, symmetry, positive semidefiniteness and the trace
        condition (the shape is always checked).
    trace_tol : float, default 1e-4
        Allowed ``|tr(Z1) - Z4| / (tr(Z1) + Z4)``.

    Returns
    -------
    Y : ndarray, shape (r, p+1)
        Rows ``y_j`` (last entry ``>= 0``) with ``Z ~= sum_j y_j y_j^T`` and
        ``y_j^T G y_j ~= 0``; ``r`` is at most the numerical rank of ``Z``.

    Raises
    ------
    ValueError
        If ``Z`` is malformed or not in the neural spectrahedron.
    """
    return _cone_factors(Z, "Z", rank_tol=rank_tol, validate=validate, trace_tol=trace_tol)


def _cone_factors(Z, name: str, *, rank_tol: float, validate: bool, trace_tol: float):
    """Implementation of :func:`cone_factors`; ``name`` is used in error messages."""
    if not (np.isfinite(rank_tol) and rank_tol >= 0):
        raise ValueError(f"rank_tol must be a finite non-negative number, got {rank_tol!r}")
    Zs, evals, evecs = _prepare(Z, name, validate=validate, trace_tol=trace_tol)
    n = Zs.shape[0]
    lam_max = float(evals[-1])
    if lam_max <= 0 or not np.any(Zs):
        return np.empty((0, n))
    keep = evals > rank_tol * lam_max
    P = (evecs[:, keep] * np.sqrt(evals[keep])).T  # p_j = sqrt(lambda_j) q_j, lambda_j > 0
    logger.debug("cone_factors: p = %d, numerical rank %d", n - 1, P.shape[0])
    return _split_on_cone(P, tiny=0.5 * rank_tol * lam_max)


def _neurons_from_factors(Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map cone factors ``y = [c; delta]`` to unit neurons ``u`` and weights ``delta^2``."""
    c, delta = Y[:, :-1], Y[:, -1]
    cn = np.linalg.norm(c, axis=1)
    keep = (cn > 0) & (delta != 0)
    if not keep.all():
        logger.debug("dropping %d negligible cone factor(s)", int((~keep).sum()))
    c, delta, cn = c[keep], delta[keep], cn[keep]
    U = np.sign(delta)[:, None] * c / cn[:, None]
    return U, delta**2


def neurons_from_psd(Z, *, rank_tol: float = 1e-9,
                     trace_tol: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """One-sided neural decomposition of a matrix in the neural spectrahedron.

    Parameters
    ----------
    Z : array_like, shape (p+1, p+1)
        Symmetric PSD matrix with ``tr(Z1) = Z4`` (always validated).
    rank_tol : float, default 1e-9
        Relative eigenvalue threshold, see :func:`cone_factors`.
    trace_tol : float, default 1e-4
        Allowed relative violation of ``tr(Z1) = Z4``.

    Returns
    -------
    U : ndarray, shape (r, p)
        Unit-norm neurons.
    w : ndarray, shape (r,)
        Non-negative weights with ``Z ~= sum_j w_j [u_j; 1][u_j; 1]^T``.
    """
    Y = cone_factors(Z, rank_tol=rank_tol, validate=True, trace_tol=trace_tol)
    return _neurons_from_factors(Y)


def neural_decomposition(Z, Z_prime, *, rank_tol: float = 1e-9,
                         trace_tol: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided neural decomposition of ``Z - Z_prime``.

    Parameters
    ----------
    Z, Z_prime : array_like, shape (p+1, p+1)
        Matrices in the neural spectrahedron (always validated).
    rank_tol : float, default 1e-9
        Relative eigenvalue threshold, see :func:`cone_factors`.
    trace_tol : float, default 1e-4
        Allowed relative violation of ``tr(Z1) = Z4``.

    Returns
    -------
    U : ndarray, shape (m, p)
        Unit-norm neurons: those of ``Z`` followed by those of ``Z_prime``;
        ``m <= rank Z + rank Z_prime``.
    alpha : ndarray, shape (m,)
        Signed output weights (``+w`` for ``Z``, ``-w`` for ``Z_prime``), so that
        ``Z - Z_prime ~= sum_j alpha_j [u_j; 1][u_j; 1]^T``.

    Raises
    ------
    ValueError
        If either matrix is invalid or their shapes differ.
    """
    Zp = _as_matrix(Z_prime, "Z_prime")
    U1, w1 = neurons_from_psd(Z, rank_tol=rank_tol, trace_tol=trace_tol)
    if Zp.shape[0] != U1.shape[1] + 1:
        raise ValueError(f"Z_prime must have the same shape as Z, got Z_prime.shape = {Zp.shape} "
                         f"and Z.shape = {np.shape(Z)}")
    Y2 = _cone_factors(Zp, "Z_prime", rank_tol=rank_tol, validate=True, trace_tol=trace_tol)
    U2, w2 = _neurons_from_factors(Y2)
    return np.concatenate([U1, U2]), np.concatenate([w1, -w2])


def project_spectrahedron(Z0) -> np.ndarray:
    r"""Euclidean projection onto :math:`\mathcal{N}_p = \{Z \succeq 0 : \langle Z, G\rangle = 0\}`.

    :math:`\Pi(Z_0) = \Pi_{S_+}(Z_0 - \mu^* G)` where :math:`\mu^*` is the root of the
    non-increasing function :math:`h(\mu) = \langle G, \Pi_{S_+}(Z_0 - \mu G)\rangle`
    (``NOTES.md``), found by Brent's method. Used to make a solver's approximate iterate
    (e.g. one stopped at its iteration limit) decomposable into neurons.
    """
    from scipy.optimize import brentq

    A = _as_matrix(Z0, "Z")
    A = 0.5 * (A + A.T)
    p = A.shape[0] - 1
    g = np.ones(p + 1)
    g[-1] = -1.0

    def psd_part(mu):
        w, Q = np.linalg.eigh(A - mu * np.diag(g))
        return (Q * np.maximum(w, 0.0)) @ Q.T

    def h(mu):
        P = psd_part(mu)
        return float(np.trace(P[:p, :p]) - P[p, p])

    if h(0.0) == 0.0:
        return psd_part(0.0)
    # (the bracket, hence Brent's tolerance, at the scale of Z0: with an absolute floor, a block that is
    # numerically zero (SCS, 1e-15) came back off the spectrahedron relative to its own size)
    radius = np.linalg.norm(A)
    while h(-radius) <= 0.0 or h(radius) >= 0.0:
        radius *= 2.0
    mu = brentq(h, -radius, radius, xtol=1e-15 * radius, rtol=4 * np.finfo(float).eps, maxiter=500)
    return psd_part(mu)
