r"""The Newton system of the lifted interior point (:mod:`spectranet.solvers.lifted`), in
NT-scaled coordinates, and the symmetric Kronecker product it is written with."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.linalg as sla

from ..kernels import smat, svec
from ._conic import nt_scaling, sym

__all__ = ["Direction", "skron", "block_hess_mul"]


def skron(W: np.ndarray) -> np.ndarray:
    r"""The symmetric Kronecker product :math:`W \circledast W`: the matrix of
    :math:`X \mapsto W X W^\top` in svec coordinates, ``(..., D, D)`` for ``W`` of shape
    ``(..., p, p)`` (any square ``W``; :math:`(R \circledast R)(R \circledast R)^\top = RR^\top
    \circledast RR^\top`).

    Entry :math:`((i,j),(k,l))` is :math:`s_{ij} s_{kl} (W_{ik} W_{jl} + W_{il} W_{jk}) / 2` with the
    svec weights :math:`s` (1 on the diagonal, :math:`\sqrt 2` off it): four gathers from the
    flattened ``W`` (0.75 ms against 6.7 ms with two-index gathers at p = 21; every lifted
    iteration forms one)."""
    p = W.shape[-1]
    ik, jl, il, jk, scale = _skron_indices(p)
    flat = W.reshape(W.shape[:-2] + (p * p,))
    T = np.take(flat, ik, axis=-1) * np.take(flat, jl, axis=-1)
    T += np.take(flat, il, axis=-1) * np.take(flat, jk, axis=-1)
    T *= scale
    return T


@lru_cache(maxsize=8)
def _skron_indices(p: int):
    """The flat indices of :math:`W_{ik}, W_{jl}, W_{il}, W_{jk}` (each ``(D, D)``) over the svec
    pairs and the weights :math:`s_{ij} s_{kl} / 2` of :func:`skron`."""
    from ..kernels import svec_indices

    rows, cols, weights = svec_indices(p)
    I, J = rows[:, None], cols[:, None]
    K, L = rows[None, :], cols[None, :]
    return I * p + K, J * p + L, I * p + L, J * p + K, 0.5 * np.outer(weights, weights)


def _root_factor(H, Ut):
    r"""The factor of :math:`I + \tilde U^\top H \tilde U` where its Cholesky factorization failed:
    near the optimum :math:`\tilde U` has entries of order :math:`1/\mu`, and the rounding of
    :math:`H` (positive semidefinite, not so to the last bit) is amplified past the identity
    (planted 100,000 x 20, logistic, 1e-4 beta_max: the 371st leading minor at a gap of 1.5e-7).
    With :math:`H = B^\top B` (eigenvalues clipped at zero) the matrix is
    :math:`[B\tilde U; I]^\top [B\tilde U; I]`: the triangular factor of a Householder QR of the
    stacked matrix, in the ``(factor, lower=False)`` form of ``scipy.linalg.cho_factor``."""
    lam, Q = np.linalg.eigh(sym(H))
    keep = lam > 0
    B = (np.sqrt(lam[keep])[:, None] * Q[:, keep].T) @ Ut
    R = np.linalg.qr(np.vstack([B, np.eye(Ut.shape[1])]), mode="r")
    return R, False


def block_hess_mul(blocks, hessian, factors, x: np.ndarray) -> np.ndarray:
    r""":math:`Hx` for ``x`` of shape (P, D), block by block: ``factors[b]`` (``root``, :math:`H_b =
    \mathrm{root}^\top\mathrm{root}`) where given (not None), else the dense ``hessian[b]``."""
    out = np.empty_like(x)
    for b, idx in enumerate(blocks):
        root, xb = (None if factors is None else factors[b]), x[idx].ravel()
        Hx = hessian[b] @ xb if root is None else root.T @ (root @ xb)
        out[idx] = Hx.reshape(len(idx), x.shape[-1])
    return out


class _Dense:
    r"""A Cholesky factorization of the block's :math:`I + \tilde U^\top H \tilde U`."""

    def __init__(self, factor):
        self.factor = factor

    def solve(self, x):
        return sla.cho_solve(self.factor, x, check_finite=False), None


class _Capacitance:
    r""":math:`(I + B^\top B)^{-1}` for a wide ``B`` (``r x N``, ``r < N``) through a capacitance of
    order ``r``: the lifted Hessian of ``n`` samples has rank ``n``, and its factor ``root``
    (:math:`H = \mathrm{root}^\top\mathrm{root}`, ``n`` rows) gives :math:`B = \mathrm{root}\,\tilde
    U\Pi` for a block of order ``N/2`` (used where ``n`` is below a quarter of ``N``,
    :func:`~spectranet.solvers.lifted.uses_factors`; a CNN without pooling: 36 patch pairs of
    ``D = 55`` per output, ``N = 3960``).

    ``accurate``: :math:`\xi = (I + B^\top B)^{-1}x` is the residual of the least-squares problem
    :math:`\min_w \|[B^\top; I]w - [x; 0]\|`, read off the thin QR factorization
    :math:`[B^\top; I] = [Q_1; Q_2]R`: :math:`\xi = x - Q_1 Q_1^\top x` and
    :math:`B\xi = w = Q_2 Q_1^\top x`, with no triangular solve, hence no squared condition number
    (near the optimum :math:`B` has singular values of order :math:`1/\sqrt\mu`). Otherwise (far
    from the optimum, where the iterations need no such accuracy) the normal equations
    :math:`(I + BB^\top)w = Bx` by a Cholesky factorization, a fifth of the flops. ``w`` comes from
    the capacitance, not from :math:`B\xi`, whose rounding the large singular values of ``B``
    would amplify (:meth:`_NewtonSystem._kkt` forms :math:`H\Delta m` from it). Where the
    dense blocks took 1–7 s an iteration (digits 3 vs 8, 357 images, order 1980), these take
    0.03–0.1 s; near the optimum they keep the dual point less accurately, and
    :func:`~spectranet.solvers.lifted.solve_lifted_space` then finishes with dense blocks."""

    def __init__(self, B, accurate: bool = True):
        self.B, self.Q1, self.factor = B, None, None
        if not accurate:  # the normal equations of the capacitance: a Cholesky factorization
            C = sla.blas.dsyrk(1.0, B.T, trans=1, lower=1)  # lower triangle of B B^T (scipy's BLAS)
            C[np.diag_indices_from(C)] += 1.0
            try:
                self.factor = sla.cho_factor(C, lower=True, check_finite=False)
                return
            except sla.LinAlgError:
                pass
        N = B.shape[1]
        Q = sla.qr(np.vstack([B.T, np.eye(B.shape[0])]), mode="economic", overwrite_a=True, check_finite=False)[0]
        self.Q1, self.Q2 = Q[:N], Q[N:]

    def solve(self, x):
        r"""``(xi, B xi)`` for :math:`\xi = (I + B^\top B)^{-1}x`."""
        if self.Q1 is None:
            w = sla.cho_solve(self.factor, self.B @ x, check_finite=False)
            return x - self.B.T @ w, w
        q = self.Q1.T @ x
        return x - self.Q1 @ q, self.Q2 @ q


class _NewtonSystem:
    r"""The factorized Newton system of one iteration, in NT-scaled coordinates.

    With the exact factors :math:`U_b = R_b \circledast R_b` of :math:`T_b = W_b \circledast W_b`
    (:math:`W_b = R_b R_b^\top`), the unknowns are the scaled directions
    :math:`\xi_b = \mathrm{svec}(R_b^{-1}\Delta Z_b R_b^{-\top})`, :math:`\varsigma_b =
    \mathrm{svec}(R_b^\top \Delta S_b R_b)` and :math:`\Delta y_b`. The complementarity reads
    :math:`\xi_b + \varsigma_b = \mathrm{svec}(B_b)`, the dual equation
    :math:`\Delta s_b = r_b \pm H\Delta m - \Delta y_b g` with :math:`\Delta m = \tilde U \xi`,
    :math:`\tilde U = [U_{p+}, -U_{p-}]`, so that

    .. math:: (I + \tilde U^\top H \tilde U)\,\xi - C\Delta y = \mathrm{svec}(B) - U^\top r,
              \qquad C^\top \xi = -r_p, \qquad c_b = U_b^\top g .

    The equality of each block is eliminated by projecting onto the complement of :math:`c_b`
    (:math:`\Pi_b = I - v_b v_b^\top`): one Cholesky factorization of the positive definite
    :math:`I + (\tilde U\Pi)^\top H (\tilde U\Pi)` per Hessian block (order ``2D`` per pair).
    Nothing is inverted but that matrix, and :math:`\Delta m = \tilde U\xi` is formed from the
    solution, not as a difference of large terms: near the optimum :math:`T_b` has eigenvalues from
    :math:`\mu` to :math:`1/\mu`, which an unscaled elimination loses to rounding. With
    ``factors`` (a block's lifted Hessian as :math:`\mathrm{root}^\top\mathrm{root}`, of rank
    ``n`` below the order), that matrix is never formed: :class:`_Capacitance`.
    """

    def __init__(self, Z, S, hessian, blocks, g, factors=None, accurate: bool = True):
        self.R, self.Rinv, self.lam = nt_scaling(Z, S)
        self.U = skron(self.R)  # (P, 2, D, D): T_b = U_b U_b^T
        self.g, self.blocks, self.hessian = g, blocks, hessian
        self.factors = [None] * len(blocks) if factors is None else factors
        P, D = self.U.shape[0], self.U.shape[-1]
        self.P, self.D = P, D
        self.sgn = np.array([1.0, -1.0])
        self.c = self.U.swapaxes(-1, -2) @ g  # (P, 2, D)
        self.cc = np.einsum("psd,psd->ps", self.c, self.c)
        self.v = self.c / np.sqrt(self.cc)[..., None]
        Upi = self.U - (self.U @ self.v[..., :, None]) * self.v[..., None, :]  # U_b Pi_b
        self.F = []
        for b, idx in enumerate(blocks):
            k, root = len(idx), self.factors[b]
            if root is not None:  # H = root^T root of low rank: (I + B^T B)^-1 by its r x r capacitance
                Us = Upi[idx] * self.sgn[None, :, None, None]  # (k, 2, D, D)
                Bk = root.reshape(root.shape[0], k, 1, D).transpose(1, 2, 0, 3) @ Us  # (k, 2, r, D)
                self.F.append(_Capacitance(Bk.transpose(2, 0, 1, 3).reshape(root.shape[0], 2 * k * D), accurate))
                continue
            H = hessian[b]
            Ut = np.zeros((k, D, k, 2, D))  # the block's (U Pi): (pairs x D) x (pairs x 2 x D)
            for i, p in enumerate(idx):
                Ut[i, :, i, 0] = Upi[p, 0]
                Ut[i, :, i, 1] = -Upi[p, 1]
            Ut = Ut.reshape(k * D, 2 * k * D)
            M = Ut.T @ (H @ Ut)
            M = 0.5 * (M + M.T)
            M[np.diag_indices_from(M)] += 1.0
            try:
                self.F.append(_Dense(sla.cho_factor(M, lower=True, check_finite=False)))
            except sla.LinAlgError:
                self.F.append(_Dense(_root_factor(H, Ut)))

    def _hmul(self, x):
        return block_hess_mul(self.blocks, self.hessian, self.factors, x)

    def _dm(self, xi):
        r""":math:`\Delta m = \tilde U \xi` per pair, (P, D)."""
        return np.einsum("pde,pe->pd", self.U[:, 0], xi[:, 0]) - np.einsum("pde,pe->pd", self.U[:, 1], xi[:, 1])

    def _apply(self, xi):
        r""":math:`(I + \tilde U^\top H \tilde U)\xi` and :math:`H\Delta m`."""
        Hdm = self._hmul(self._dm(xi))
        return xi + self.sgn[None, :, None] * np.einsum("psde,pd->pse", self.U, Hdm), Hdm

    def _kkt(self, rhs, rp):
        r"""Solve :math:`(I + \tilde U^\top H\tilde U)\xi - C\Delta y = \text{rhs}`,
        :math:`C^\top\xi = -r_p`: ``(xi, dy, H dm)``."""
        xi0 = (-rp / self.cc)[..., None] * self.c
        t = rhs - self._apply(xi0)[0]
        r = t - self.v * np.einsum("psd,psd->ps", self.v, t)[..., None]
        eta, Beta = np.empty_like(r), []
        for idx, F in zip(self.blocks, self.F):
            solution, w = F.solve(r[idx].ravel())
            eta[idx] = solution.reshape(len(idx), 2, self.D)
            Beta.append(w)
        # the solution lies in the range of Pi; rounding aside, project it there
        eta -= self.v * np.einsum("psd,psd->ps", self.v, eta)[..., None]
        xi = eta + xi0
        if self.factors[0] is None:
            Axi, Hdm = self._apply(xi)
        else:  # H dm = root^T (B eta + root U xi0): the capacitance's B eta, not root (U eta)
            Hdm, dm0 = np.empty((self.P, self.D)), self._dm(xi0)
            for b, idx in enumerate(self.blocks):
                root = self.factors[b]
                Hdm[idx] = (root.T @ (Beta[b] + root @ dm0[idx].ravel())).reshape(len(idx), self.D)
            Axi = xi + self.sgn[None, :, None] * np.einsum("psde,pd->pse", self.U, Hdm)
        dy = np.einsum("psd,psd->ps", self.c, Axi - rhs) / self.cc
        return xi, dy, Hdm

    def solve(self, B, rd, rp, refinements: int = 0) -> Direction:
        r"""The Newton step for the scaled complementarity target ``B`` (``(P, 2, p, p)``:
        :math:`R^{-1}\Delta Z R^{-\top} + R^\top \Delta S R = B`), the dual residual ``rd``
        (``(P, 2, D)``) and the equality's violation ``rp`` (``(P, 2)``), with up to ``refinements``
        rounds of iterative refinement of the reduced system (each kept if it reduces its
        residual)."""
        Ut = self.U.swapaxes(-1, -2)
        rhs = svec(B) - np.einsum("psde,pse->psd", Ut, rd)
        xi, dy, Hdm = self._kkt(rhs, rp)
        if refinements:
            def residual(xi, dy):
                Axi = self._apply(xi)[0]
                return rhs - Axi + self.c * dy[..., None], -rp - np.einsum("psd,psd->ps", self.c, xi)

            res = residual(xi, dy)
            size = max(float(np.max(np.abs(r))) for r in res)
            for _ in range(refinements):
                cxi, cdy, cHdm = self._kkt(res[0], -res[1])
                new = (xi + cxi, dy + cdy)
                new_res = residual(*new)
                new_size = max(float(np.max(np.abs(r))) for r in new_res)
                if not new_size < size:
                    break
                (xi, dy), res, size, Hdm = new, new_res, new_size, Hdm + cHdm
            if self.factors[0] is None:
                Hdm = self._hmul(self._dm(xi))
        p = B.shape[-1]
        ds = rd + self.sgn[None, :, None] * Hdm[:, None, :] - dy[..., None] * self.g
        dZt, dS = smat(xi, p), sym(smat(ds, p))
        dSt = smat(svec(B) - xi, p)
        Rt = self.R.swapaxes(-1, -2)
        return Direction(dZ=sym(self.R @ dZt @ Rt), dy=dy, dZt=dZt, dS=dS, dSt=sym(Rt @ dS @ self.R),
                         dS_comp=sym(self.Rinv.swapaxes(-1, -2) @ dSt @ self.Rinv), dSt_comp=dSt)


@dataclass(frozen=True)
class Direction:
    r"""A Newton direction of the lifted interior point, with its two dual slack steps.

    ``dS`` comes from the dual equation :math:`\Delta s = r_d \pm H\Delta m - \Delta y\, g`:
    along it the dual residual falls by exactly the step's fraction (the squared loss). ``dS_comp``
    comes from the scaled complementarity :math:`R^\top \Delta S R = B - R^{-1}\Delta Z
    R^{-\top}`. They agree when the reduced system is solved exactly; near the optimum of a
    degenerate program (pooled CNNs at 1e-6 beta_max: the lifted Hessian of norm 1e9 times the
    scaling's 1e15) its residual, which is their difference in scaled coordinates, can be as large
    as the direction itself. Then the dual equation's slack leaves the cone a step into the boundary
    the complementarity's slack sees (CIFAR-10 squared: S indefinite at -4e-9, the engine stuck at a
    gap of 4e-5), and :func:`~spectranet.solvers.lifted._step` picks one.
    ``dZt, dSt, dSt_comp``: the scaled steps :math:`R^{-1}\Delta Z R^{-\top}` and
    :math:`R^\top\Delta S R` of each slack.
    """

    dZ: np.ndarray
    dy: np.ndarray
    dZt: np.ndarray
    dS: np.ndarray
    dSt: np.ndarray
    dS_comp: np.ndarray
    dSt_comp: np.ndarray
