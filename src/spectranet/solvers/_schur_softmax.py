r"""The softmax Schur system of the sample-space interior point, without its ``nC x nC`` matrix.

The softmax Hessian couples the outputs of a sample: :math:`H_i = \operatorname{diag}(p_i) -
p_i p_i^\top` with :math:`p_i` on the simplex. So the Schur system of
:class:`~spectranet.solvers.ipm_newton._Newton`,

.. math:: (I + \mathcal S K \mathcal S + F_s F_s^\top)\, u = b, \qquad F_s = \mathcal S F,

(:math:`K = \operatorname{blockdiag}_k K_k` over the outputs, :math:`\mathcal S` the symmetric
square root of :math:`H`) is of order :math:`nC`, and factoring it densely costs
:math:`(nC)^3/3` flops and :math:`(nC)^2` floats (scikit-learn's digits, :math:`n = 1797`,
``C = 10``: 1.9e12 flops and 2.6 GB an iteration). The Hessian has a better square root:
with :math:`q_i = \sqrt{p_i}` and the projector :math:`P_i = I - q_i q_i^\top`,
:math:`H_i = L_i L_i^\top` for :math:`L_i = \operatorname{diag}(q_i) P_i`, and
:math:`\mathcal S_i = L_i O_i` with :math:`O_i` orthogonal (from the SVD of :math:`L_i`,
:func:`softmax_sqrt`). In the coordinates :math:`\tilde u = O u` the system is

.. math:: (I + P M P + \tilde F \tilde F^\top)\,\tilde u = O b, \qquad
          M = \operatorname{blockdiag}_k\, \operatorname{diag}(q_{:k}) K_k \operatorname{diag}(q_{:k}),
          \quad \tilde F = O F_s ,

and :math:`I + PMP` has an explicit inverse through the ``C`` blocks :math:`N_k = I + M_k` and
the projector's range :math:`Q` (column ``i``: :math:`e_i \otimes q_i`):
:math:`(I + PMP)^{-1} = QQ^\top + P L_N^{-\top} \Pi L_N^{-1} P`, with :math:`N = L_N L_N^\top`
(Cholesky, per output) and :math:`\Pi` the orthogonal projector off the range of
:math:`E = L_N^{-1} Q` (``nC x n``, blocks :math:`L_{N,k}^{-1} \operatorname{diag}(q_{:k})`), from
its Householder QR, block by block (:func:`_stacked_triangular_qr`). Per iteration that is ``C``
factorizations and triangular inverses of order ``n`` and the QR (about :math:`(4/3) C n^3` flops,
:math:`3 C n^2` floats) instead of one factorization of order :math:`nC` (:math:`C^3 n^3/3`);
digits: 2.2 s of an iteration of 3.1 s, where the dense factorization would take 1.9e12 flops,
about 40 s at the machine's rate. The
Gram matrix :math:`E^\top E` would be cheaper but squares the condition number: near the
optimum the interior point then stalls (digits' first 500 images at 1e-6 beta_max, from a gap of
2e-3; far from it the steps agree with the dense system's to nine digits). The factor
:math:`\tilde F` enters as in :func:`~spectranet.solvers._schur._factor`: ``z`` by the
regularized least-squares problem of :math:`\Pi L_N^{-1} \tilde F` (Householder QR, never the
normal equations).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from ._schur import _cholesky_in_place, _stacked_least_squares

__all__ = ["softmax_sqrt", "softmax_factor"]

#: the block size of the blocked triangular QR (dtpqrt; measured at n = 1797: 16 and 32 take
#: 0.8 s, 64 as long as dgeqrf, 1.5 s)
QR_BLOCK = 32


def softmax_sqrt(p: np.ndarray):
    r"""The SVD :math:`U \operatorname{diag}(s) V^\top` of :math:`\operatorname{diag}(q_i) P_i` per sample:
    ``(U, s, O)`` with :math:`O_i = V_i U_i^\top` orthogonal, so that the symmetric square root
    :math:`\mathcal S_i = U_i \operatorname{diag}(s_i) U_i^\top` of :math:`\operatorname{diag}(p_i) -
    p_i p_i^\top` is :math:`\operatorname{diag}(q_i) P_i O_i` (``(n, C, C)``, ``(n, C)``, ``(n, C, C)``;
    :func:`~spectranet.solvers.ipm_newton._hessian_sqrt` forms :math:`\mathcal S` and its
    pseudo-inverse)."""
    q = np.sqrt(np.clip(p, 0.0, None))
    L = q[:, :, None] * (np.eye(p.shape[1]) - q[:, :, None] * q[:, None, :])
    U, s, Vt = np.linalg.svd(L)
    return U, s, Vt.swapaxes(1, 2) @ U.swapaxes(1, 2)


def softmax_factor(Kr, p: np.ndarray, O: np.ndarray, root: np.ndarray | None, Fs: np.ndarray):
    r"""Solver of :math:`(I + \mathcal S K_r \mathcal S + F_s F_s^\top) u = b` for the softmax
    Hessian (module docstring), returning :math:`(u, z = F_s^\top u)` like
    :func:`~spectranet.solvers._schur._factor`; ``b`` of shape ``(n C,)`` in the sample-major layout
    of ``(n, C)``.

    Parameters
    ----------
    Kr : list of C arrays (n, n)
        The kernels of the outputs (not modified).
    p : ndarray (n, C)
        The probabilities: the Hessian of sample ``i`` is :math:`\operatorname{diag}(p_i) - p_i p_i^\top`.
    O : ndarray (n, C, C)
        The orthogonal factors of :func:`softmax_sqrt`.
    root : ndarray (n,) or None
        :math:`\sqrt{c_i}` for Hessian blocks :math:`c_i(\operatorname{diag}(p_i) - p_i p_i^\top)`
        (sample weights): :math:`\mathcal S_i` is scaled by it, so ``M`` takes :math:`\sqrt{c_i}\,q_i`
        and the projector :math:`P_i` stays.
    Fs : ndarray (n C, q)
        :math:`\mathcal S F` in the same layout.
    """
    n, C = p.shape
    q = np.sqrt(np.clip(p, 0.0, None))
    upper = np.asfortranarray(np.triu(np.ones((n, n))))
    qm = q if root is None else q * root[:, None]  # (in M; the projector keeps q)
    factors, blocks = zip(*(_output_block(Kr[k], q[:, k], upper, qm[:, k]) for k in range(C)))
    steps = _stacked_triangular_qr(list(blocks))
    del blocks

    def lower(w, trans=False):
        r""":math:`L_N^{-1} w` (or :math:`L_N^{-\top} w`), w of shape (n, C, m)."""
        return np.stack([sla.solve_triangular(L, w[:, k], lower=True, trans="T" if trans else "N",
                                              check_finite=False) for k, L in enumerate(factors)], axis=1)

    def reflect(top, rest, k, trans):
        out = sla.lapack.dtpmqrt(n, *steps[k - 1], top, rest, side="L", trans="T" if trans else "N",
                                 overwrite_a=1, overwrite_b=1)
        if out[-1] != 0:
            raise sla.LinAlgError(f"dtpmqrt failed (info {out[-1]})")
        return out[0], out[1]

    def project(w):
        r""":math:`\Pi w = w - E E^+ w` (``Q Q^\top w`` on the first block's coordinates), ``w`` of
        shape (n, C, m)."""
        top = np.array(w[::-1, 0], order="F")
        for k in range(1, C):
            top = reflect(top, np.array(w[::-1, k], order="F"), k, True)[0]
        out = np.empty_like(w)
        for k in range(C - 1, 0, -1):
            top, out[::-1, k] = reflect(top, np.zeros_like(top), k, False)
        out[::-1, 0] = top
        return w - out

    def rotate(x, back=False):
        """:math:`O x` (or :math:`O^\\top x`) per sample, x of shape (n, C, m)."""
        return np.einsum("nji,njm->nim" if back else "nij,njm->nim", O, x)

    Ft = rotate(Fs.reshape(n, C, -1))
    ls = None
    if Ft.shape[2]:
        Gs = project(lower(Ft)).reshape(n * C, -1)
        ls = _stacked_least_squares(Gs)

    def solve(b):
        bt = rotate(b.reshape(n, C, -1))
        qb = np.einsum("nk,nkm->nm", q, bt)
        c = project(lower(bt - q[:, :, None] * qb[:, None, :]))
        z = np.zeros((0,) + b.shape[1:])
        if ls is not None:
            z, c = ls(c.reshape(n * C, -1))
            c = c.reshape(n, C, -1)
        w = lower(c, trans=True)
        ut = q[:, :, None] * qb[:, None, :] + w - q[:, :, None] * np.einsum("nk,nkm->nm", q, w)[:, None, :]
        u = rotate(ut, back=True).reshape(b.shape)
        return u, z.reshape((-1,) + b.shape[1:])

    return solve


def _output_block(K, qk, upper, qm):
    r"""The Cholesky factor :math:`L` (lower, Fortran order) of :math:`N = I + \operatorname{diag}(q_m)
    K \operatorname{diag}(q_m)` and the block :math:`L^{-1} \operatorname{diag}(q_k)` of :math:`E`, its
    rows and columns reversed: upper triangular (``upper``: the mask of the upper triangle);
    :math:`q_m = q_k` but for sample weights."""
    n = len(qk)
    N = np.multiply(K, qm[:, None])  # (one new array: a temporary of this size would page-fault
    N *= qm[None, :]  # again each time, 80 ms instead of 11 at n = 1797)
    N[np.diag_indices(n)] += 1.0
    L = _cholesky_in_place(N)
    if L is None:  # indefinite by rounding (the split's moderate kernel near the optimum)
        N[np.diag_indices(n)] += 1e-13 * float(np.max(np.abs(np.diag(N))))
        L = _cholesky_in_place(N)
    if L is None:
        raise sla.LinAlgError("a softmax Schur block is not positive definite")
    inverse, info = sla.lapack.dtrtri(L, lower=1)
    if info != 0:
        raise sla.LinAlgError(f"dtrtri failed (info {info})")
    block = np.empty((n, n), order="F")  # (Fortran order for dtpqrt: no copy there)
    np.multiply(inverse[::-1, ::-1], qk[None, ::-1], out=block)
    return L, np.multiply(block, upper, out=block)  # (dtrtri leaves L in the other triangle)


def _stacked_triangular_qr(blocks):
    """The Householder QR of upper-triangular blocks stacked, block by block (LAPACK's dtpqrt,
    triangular on top of triangular: a third of the flops of dgeqrf on the whole; digits, 1.5 s ->
    0.8 s): ``Q = Q_1 ... Q_{C-1}``, ``Q_k = steps[k - 1]`` acting on the rows of blocks 0 and k.
    The blocks are overwritten."""
    R, steps = blocks[0], []
    for B in blocks[1:]:
        R, V, T, info = sla.lapack.dtpqrt(len(B), min(QR_BLOCK, len(B)), R, B, overwrite_a=1, overwrite_b=1)
        if info != 0:
            raise sla.LinAlgError(f"dtpqrt failed (info {info})")
        steps.append((V, T))
    return steps
