r"""The sample-space kernels of the interior-point method's Schur complement (:mod:`.ipm`).

Each lifted constraint matrix :math:`A_i = L_i C_\sigma L_i^\top` has rank two
(:math:`L_i = [\hat x_i, e_{d+1}]`), so for a symmetric :math:`W` the ``n x n`` matrix
:math:`K_{ij} = \langle A_i, W A_j W\rangle` costs :math:`O(n^2 d)`: these functions form it
(and its cross and split forms) and factor the Schur matrix without the normal equations.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg as sla

__all__ = ["kernel_matrix", "kernel_sum"]


def _offset(w, s, coefficients):
    r"""The rank-one part :math:`f = (ac - h^2) w^{\circ 2} + 2hcs\, w + \tfrac12 c^2 s^2` of
    :func:`kernel_matrix` (:math:`h = b/2`)."""
    a, b, c = coefficients
    h = 0.5 * b
    return (a * c - h * h) * w * w + 2.0 * h * c * s * w + 0.5 * c * c * s * s


def _kernel(P, w, s, coefficients):
    r""":math:`K` from :math:`P = X W_1 X^\top`, :math:`w = X W_2`, :math:`s = W_4` (see :func:`kernel_matrix`)."""
    a, b, c = coefficients
    h = 0.5 * b
    K = a * P
    K += h * w[:, None]
    K += h * w[None, :]
    K *= K
    if h != 0.0:
        K += (2.0 * h * h * s) * P
    f = _offset(w, s, coefficients)
    K += f[:, None]
    K += f[None, :]
    return K


def kernel_matrix(X, coefficients, W) -> np.ndarray:
    r""":math:`K_{ij} = \langle A_i, W A_j W\rangle` (:math:`n \times n`) in :math:`O(n^2 d)`: with
    :math:`P = X W_1 X^\top`, :math:`w = X W_2`, :math:`s = W_4`, :math:`h = b/2`,

    .. math::

        K = (aP + h(w\mathbf 1^\top + \mathbf 1 w^\top))^{\circ 2} + 2h^2 s P
            + f\mathbf 1^\top + \mathbf 1 f^\top, \quad
        f = (ac - h^2) w^{\circ 2} + 2hcs\, w + \tfrac12 c^2 s^2

    for ``X`` of shape (n, d), ``coefficients = (a, b, c)`` and a symmetric ``W`` of order d+1.
    """
    d = X.shape[1]
    P = X @ W[:d, :d] @ X.T
    return _kernel(0.5 * (P + P.T), X @ W[:d, d], W[d, d], coefficients)


#: entries of the row blocks in which :func:`kernel_sum` forms each factor's n x n term (32 MB)
KERNEL_BLOCK_ENTRIES = 1 << 22


class NumpyOps:
    """The array operations :func:`kernel_sum` and :func:`split_rest_kernel` need, in numpy (a
    torch device supplies its own: :class:`~spectranet.solvers._schur_torch.DeviceSchur`)."""

    @staticmethod
    def to(a):
        return np.asarray(a)

    zeros, ones = staticmethod(np.zeros), staticmethod(np.ones)

    @staticmethod
    def empty(n):
        return np.empty((n, n))

    @staticmethod
    def column_stack(columns):
        return np.column_stack(columns)

    @staticmethod
    def multiply(a, b, out):
        return np.multiply(a, b, out=out)

    @staticmethod
    def add(a, b, out):
        return np.add(a, b, out=out)

    @staticmethod
    def product(a, b):
        """``a @ b.T`` (C order) by scipy's BLAS, as the factorizations around it: numpy's may be
        another library, whose idle threads would slow these calls (:mod:`spectranet._blas`)."""
        a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
        return sla.blas.dgemm(1.0, b.T, a.T, trans_a=True).T

    @staticmethod
    def accumulate(K, left, right):
        """``K += hstack(left) @ hstack(right).T`` in place (BLAS on the Fortran-ordered view
        ``K.T``, no n x n temporary)."""
        return sla.blas.dgemm(1.0, np.hstack(right), np.hstack(left), beta=1.0, c=K.T, trans_b=True,
                              overwrite_c=True).T


def kernel_sum(X, factors, coefficients, outer=(), ops=NumpyOps):
    r""":math:`\sum_s K(R_s R_s^\top) - \sum_t u_t v_t^\top` (``factors``: the :math:`R_s`,
    ``outer``: the pairs :math:`(u_t, v_t)`) with a few n x n passes: with :math:`B = X R_{s,1}`,
    :math:`w = B\, r_s` (:math:`r_s` the last row of :math:`R_s`), the term
    :math:`aP + h(w\mathbf 1^\top + \mathbf 1 w^\top)` of :func:`kernel_matrix` is one product
    :math:`[aB, hw, \mathbf 1][B, \mathbf 1, hw]^\top`, squared in place, and every other term
    (:math:`2h^2 sP`, the rank-one ones) goes into one accumulating product. The result is the
    only n x n array: each factor's term is formed in blocks of rows and added into it (the
    memory of the large-n interior point is one Schur matrix). ``ops``: the array operations
    (:class:`NumpyOps`, or a torch device's, with ``X`` and the factors there)."""
    a, b, c = coefficients
    h = 0.5 * b
    n, d = X.shape
    ones = ops.ones(n)
    K, f, left, right = ops.empty(n), ops.zeros(n), [], []
    step = max(1, KERNEL_BLOCK_ENTRIES // max(n, 1))
    for i, Rm in enumerate(factors):
        Rm = ops.to(Rm)
        B = X @ Rm[:d]
        w = B @ Rm[d]
        s = float(Rm[d] @ Rm[d])
        lhs, rhs = ops.column_stack([a * B, h * w, ones]), ops.column_stack([B, ones, h * w])
        for r in range(0, n, step):
            T = ops.product(lhs[r:r + step], rhs)
            T *= T
            if i == 0:
                K[r:r + step] = T
            else:
                K[r:r + step] += T
        if h != 0.0 and s > 0.0:
            left.append(math.sqrt(2.0 * h * h * s) * B)
            right.append(left[-1])
        f += _offset(w, s, coefficients)
    if len(factors) == 0:
        K[...] = 0.0
    left += [f[:, None], ones[:, None]] + [-ops.to(u)[:, None] for u, _ in outer]
    right += [ones[:, None], f[:, None]] + [ops.to(v)[:, None] for _, v in outer]
    return ops.accumulate(K, left, right)


def split_rest_kernel(X, Ra, Ri, coefficients, outer=(), ops=NumpyOps):
    r""":math:`2K^\times(U, V) + K(V) - \sum_t u_t v_t^\top` for :math:`U = R_a R_a^\top`,
    :math:`V = R_i R_i^\top` (the moderate rest of a split block, :mod:`.ipm_newton`; ``outer``:
    the pairs :math:`(u_t, v_t)`), formed like :func:`kernel_sum`: in row blocks, the result the
    only ``n x n`` array. The cross kernel is :math:`K^\times_{ij} = \langle A_i, U A_j V\rangle`
    (:math:`K(U + V) = K(U) + K(V) + 2K^\times`). With :math:`P = X U_1 X^\top`,
    :math:`Q = X V_1 X^\top`, :math:`w = X U_2`, :math:`s = U_4`, :math:`v = X V_2`, :math:`t = V_4`
    and :math:`M = aQ + h(v\mathbf 1^\top + \mathbf 1 v^\top)` (one product per block),

    .. math::

        M^{\circ 2} + 2P \circ (aM + h^2 t) + 2Q \circ (ah(w\mathbf 1^\top + \mathbf 1 w^\top)
        + h^2(s + t)) + 2h^2(wv^\top + vw^\top) + e\mathbf 1^\top + \mathbf 1 e^\top

    with :math:`e = 2f + g`, :math:`f = acwv + hc(sv + tw) + \tfrac12 c^2 st` (the cross kernel's
    rank-one part) and :math:`g` that of :func:`kernel_matrix` for :math:`V`. (Spambase,
    n = 4601: five ``n x n`` arrays of 170 MB fewer per iteration near the optimum.) ``ops``: as
    for :func:`kernel_sum`."""
    a, b, c = coefficients
    h = 0.5 * b
    n, d = X.shape
    Ra, Ri = ops.to(Ra), ops.to(Ri)
    Ba, Bi = X @ Ra[:d], X @ Ri[:d]
    w, v = Ba @ Ra[d], Bi @ Ri[d]
    s, t = float(Ra[d] @ Ra[d]), float(Ri[d] @ Ri[d])
    ones = ops.ones(n)
    lhs, rhs = ops.column_stack([a * Bi, h * v, ones]), ops.column_stack([Bi, ones, h * v])
    K = ops.empty(n)
    step = max(1, KERNEL_BLOCK_ENTRIES // max(n, 1))
    for r in range(0, n, step):
        rows = slice(r, r + step)
        M, block = ops.product(lhs[rows], rhs), K[rows]
        ops.multiply(M, M, out=block)
        M *= a
        M += h * h * t
        M *= ops.product(Ba[rows], Ba)
        M *= 2.0
        block += M
        ops.add((a * h) * w[rows, None], (a * h) * w[None, :], out=M)
        M += h * h * (s + t)
        M *= ops.product(Bi[rows], Bi)
        M *= 2.0
        block += M
    e = 2.0 * (a * c * w * v + h * c * (s * v + t * w) + 0.5 * c * c * s * t) + _offset(v, t, coefficients)
    left = [2.0 * h * h * w[:, None], 2.0 * h * h * v[:, None], e[:, None], ones[:, None]]
    right = [v[:, None], w[:, None], ones[:, None], e[:, None]]
    left += [-ops.to(u)[:, None] for u, _ in outer]
    right += [ops.to(x)[:, None] for _, x in outer]
    return ops.accumulate(K, left, right)


def _cholesky_in_place(D):
    """Lower Cholesky factor of the symmetric ``D``, computed in ``D``'s memory (LAPACK on its
    Fortran-ordered transpose, no copy: 9 ms instead of 15 ms at order 1000); only the lower
    triangle of the result is meaningful. On failure ``D`` is restored and None returned."""
    diagonal = D.diagonal().copy()
    L, info = sla.lapack.dpotrf(D.T, lower=1, overwrite_a=1, clean=0)
    if info == 0:
        return L
    # the strict upper triangle of D.T (D's strict lower) is untouched: rebuild D from it
    upper = np.triu(D.T, 1)
    D[...] = upper + upper.T
    D[np.diag_indices(len(D))] = diagonal
    return None


def _factor(D, Fs):
    r"""Solver of :math:`(D + F_s F_s^\top) u = b` returning :math:`(u, z = F_s^\top u)` (``D`` is
    overwritten by its Cholesky factor).

    With :math:`D = L L^\top`, :math:`z` solves the regularized least-squares problem
    :math:`\min_z \|L^{-1} F_s z - L^{-1} b\|^2 + \|z\|^2` (Householder QR of the stacked matrix,
    never the normal equations: :math:`F_s` may be ill-conditioned), then
    :math:`u = D^{-1}(b - F_s z)`. :math:`z` is accurate relative to its own size whatever the
    scale of :math:`F_s`; :math:`u` loses digits in the range of :math:`F_s`, which the caller
    takes from :math:`z` instead.
    """
    L = _cholesky_in_place(D)
    if L is None:  # indefinite by rounding (polyhedral losses near the optimum)
        D[np.diag_indices(len(D))] += 1e-13 * float(np.max(np.abs(np.diag(D))))
        L = _cholesky_in_place(D)
        if L is None:
            raise sla.LinAlgError("the Schur matrix is not positive definite")
    if Fs.shape[1] == 0:
        return lambda rhs: (sla.cho_solve((L, True), rhs, check_finite=False), np.zeros(0))
    ls = _stacked_least_squares(sla.solve_triangular(L, Fs, lower=True, check_finite=False))

    def solve(rhs):
        z, c = ls(sla.solve_triangular(L, rhs, lower=True, check_finite=False))
        return sla.solve_triangular(L, c, lower=True, trans="T", check_finite=False), z

    return solve


def _stacked_least_squares(Gs):
    r"""Solver of :math:`\min_z \|G_s z - c\|^2 + \|z\|^2` returning :math:`(z, c - G_s z)`: the
    Householder QR of the stacked :math:`[G_s; I]` (never the normal equations: :math:`G_s` may be
    ill-conditioned), its reflectors kept (Q is never formed: that took as long again, spambase at
    1e-6 beta_max, n = 4601, q = 1711); :math:`Q^\top [c; 0]` per right-hand side costs
    :math:`O((n + q) q)`."""
    n, q = Gs.shape
    stacked_F = np.vstack([Gs, np.eye(q)])
    # the blocked routine's workspace, q * block size (a workspace query would copy the matrix)
    reflectors, tau, _, info = sla.lapack.dgeqrf(stacked_F, lwork=64 * max(q, 1), overwrite_a=1)
    if info != 0:
        raise sla.LinAlgError(f"dgeqrf failed (info {info})")
    Rq = np.triu(reflectors[:q])

    def solve(c):
        stacked = np.zeros((n + q,) + c.shape[1:])
        stacked[:n] = c
        columns = stacked.reshape(n + q, -1)
        lwork = 64 * columns.shape[1] if columns.shape[1] == 1 else int(  # (one column: unblocked, faster)
            sla.lapack.dormqr("L", "T", reflectors, tau, columns, lwork=-1)[1][0])
        qc, _, info = sla.lapack.dormqr("L", "T", reflectors, tau, columns, lwork=lwork, overwrite_c=1)
        if info != 0:
            raise sla.LinAlgError(f"dormqr failed (info {info})")
        z = sla.solve_triangular(Rq, qc[:q].reshape((q,) + c.shape[1:]), lower=False, check_finite=False)
        return z, c - Gs @ z

    return solve
