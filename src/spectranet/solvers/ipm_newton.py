r"""The Newton system of the sample-space interior point (:mod:`spectranet.solvers.ipm`).

Each lifted constraint matrix has rank two, so the Newton system reduces to positive definite
systems of order ``n`` per output (for softmax, whose Hessian couples the outputs, one of order
``n C``, solved through ``C`` of order ``n``: :mod:`spectranet.solvers._schur_softmax`) whose
matrices are kernels of the NT scaling points (:mod:`spectranet.solvers._schur`); :class:`_Newton`
forms and factors them (in place, and without storing the kernel, in low-memory mode) and solves
for a step.
"""

from __future__ import annotations

import numpy as np

from ..kernels import cone_matrices, lifted_map, svec_indices
from ._conic import max_step as _max_step
from ._conic import nt_scaling as _nt_scaling
from ._conic import sym as _sym
from ._schur_softmax import softmax_factor, softmax_sqrt
from ._schur_torch import schur_backend

__all__ = ["SPLIT", "SPLIT_MIN"]

#: a block whose W has max eig^2 |A|^2 > SPLIT_MIN is split: eigen-directions with
#: eig * max eig * |A|^2 > SPLIT go into the factor F of :class:`_Newton`
SPLIT_MIN, SPLIT = 1e10, 1e6

def _hessian_sqrt(loss, Yhat, Y):
    r"""A square root :math:`\mathcal S` of the loss Hessian, its pseudo-inverse :math:`\mathcal S^+`
    (singular values below ``1e-8`` of the largest count as zero) and, for a Hessian of the softmax
    form, ``(p, O)`` of :mod:`~spectranet.solvers._schur_softmax` (else None): ``(n, C)`` diagonals
    for losses separable over outputs, ``(n, C, C)`` symmetric per-sample blocks for softmax."""
    p = loss.hessian_simplex(Yhat, Y) if loss.multi_output_only else None
    simplex = None
    if p is not None:  # from the SVD of its better square root (left vectors Q, values s)
        Q, s, O = softmax_sqrt(p)
        c = loss.hessian_simplex_weights()  # (sample weights: sqrt(c_i) times the square root)
        root = None if c is None else np.sqrt(c)
        s = s if root is None else s * root[:, None]
        simplex = (p, O, root)
    else:
        w = loss.hessian_blocks(Yhat, Y)
        if loss.multi_output_only:
            w, Q = np.linalg.eigh(w)
        s = np.sqrt(np.clip(w, 0.0, None))
    big = s > 1e-8 * max(float(s.max()), 1e-300)
    sp = np.where(big, 1.0 / np.where(big, s, 1.0), 0.0)
    if not loss.multi_output_only:
        return s, sp, None
    return tuple(np.einsum("nij,nj,nkj->nik", Q, x, Q) for x in (s, sp)) + (simplex,)


def _smul(S, U):
    """Product of the per-sample Hessian square root with ``U`` (n, C)."""
    return S * U if S.ndim == 2 else np.einsum("nij,nj->ni", S, U)


class _Newton:
    r"""One factorized Newton system at the NT scaling points :math:`W = R R^\top` of all blocks.

    Unknowns :math:`(\Delta V, \Delta y)`; :math:`\Delta Z`, :math:`\Delta S` follow. Equations
    (the dual equation is exact: the iterates stay dual feasible):

    * link: :math:`\Delta V + \nabla^2\ell\, \mathcal A(\Delta Z_k - \Delta Z_k') = -r_1`;
    * dual: :math:`\Delta S = \mp \mathcal A^*(\Delta V_k) - \Delta y\, G`;
    * complementarity (NT): :math:`\Delta Z + W \Delta S W = R_c`;
    * equality: :math:`\langle G, \Delta Z\rangle = r_p`.

    The equality of each block is eliminated first:
    :math:`\Delta y = (r_p - \langle G, R_c\rangle \mp g^\top \Delta V_k)/\gamma`, :math:`g = \mathcal A(WGW)`,
    :math:`\gamma = \langle G, WGW\rangle` (not through a :math:`2C \times 2C` Schur complement of the
    sample system, nearly singular near the optimum), which leaves the projected kernel
    :math:`\hat K_k = \sum_\pm K(W) - g g^\top/\gamma`, the Gram matrix of
    :math:`\Pi(R^\top A_i R)` (:math:`\Pi`: projection orthogonal to :math:`R^\top G R`). With
    :math:`\mathcal S = (\nabla^2\ell)^{1/2}`, :math:`\rho = \mathcal S^+ r_1`,
    :math:`r_1^\perp = r_1 - \mathcal S\rho`:
    :math:`(I + \mathcal S\hat K\mathcal S)\, w
    = \mathcal S(\mathcal A(\Delta M)|_{\Delta V = 0} - \hat K r_1^\perp) + \rho`,
    :math:`\Delta V = -r_1^\perp - \mathcal S w` (no cancellation, the Hessian is not inverted).

    Near the optimum :math:`W` has eigenvalues :math:`\omega` of order :math:`\mu^{-1/2}` on the
    range of :math:`Z`: :math:`\hat K` is then huge on a subspace and an explicit
    :math:`I + \mathcal S \hat K \mathcal S` loses the identity to rounding. So (with ``split``,
    which the caller sets once the gap is below :data:`SPLIT_GAP`) :math:`W = R_b R_b^\top`
    (eigenvectors) is split into large (:math:`a`) and moderate directions:
    :math:`\hat K = F F^\top + K_r` with
    :math:`F_{i,:} = \operatorname{svec}(R_a^\top (A_i - g_i G/\gamma) R_a)` (at most :math:`n/2`
    columns) and :math:`K_r` (moderate) from cross kernels; :func:`_factor` solves with
    :math:`z = F^\top \mathcal S w` computed directly, and the amplified block
    :math:`R_a^\top \Delta S R_a` of the step is built from :math:`z`, not from :math:`\Delta V`.
    """

    def __init__(self, problem, R, sgn, Gm, S=None, Sp=None, theta=None, split=True, store_kernel=True,
                 simplex=None):
        X, (a, b, c) = problem.X, problem.activation.coefficients
        C = problem.n_outputs
        # S, Sp: (loss Hessian)^(1/2) and its pseudo-inverse; or theta: the inverse of a positive
        # diagonal Hessian (box losses), with the system Theta + K instead of I + S K S
        S_half, self.Sp = S, (Sp if theta is None else theta)
        self.problem, self.S, self.sgn, self.Gm, self.simplex = problem, S_half, sgn, Gm, simplex
        self.dev = schur_backend(problem)  # where the n-sized kernels, factors and products live
        store_kernel = store_kernel or self.dev.on_device  # (low-memory mode is for the host's memory)
        self.W = R @ R.swapaxes(-1, -2)  # (C, 2, p, p)
        self.WGW = self.W @ Gm @ self.W
        self.g = np.stack([problem.forward(self.WGW[:, s]) for s in (0, 1)], axis=2)  # (n, C, 2)
        self.gamma = np.einsum("ab,ksab->ks", Gm, self.WGW)
        # scale of S K S per unit |W|^2: max_i |A_i|_F^2 max |S|^2
        x2 = np.einsum("ij,ij->i", X, X)
        h_max = float(np.max(np.abs(S_half))) ** 2 if S_half is not None else 1.0 / float(np.min(self.Sp))
        scale = float(np.max(a * a * x2 * x2 + 0.5 * b * b * x2 + c * c)) * h_max
        om, Qw = np.linalg.eigh(self.W)
        om = np.clip(om, 0.0, None)
        self.Rb = Qw * np.sqrt(om)[..., None, :]  # orthogonal factors W = Rb Rb^T
        self.Kr, self.terms = [None] * C, [None] * C
        self.F, self.blocks = [[] for _ in range(C)], []
        for k in range(C):
            self._output_kernel(k, om[k], scale, split and store_kernel)
        self.solvers = self._schur_solvers(store_kernel)

    def _output_kernel(self, k, om, scale, split):
        r"""The projected kernel :math:`\hat K_k = F_k F_k^\top + K_{r,k}` of output ``k``: the blocks
        ``s`` whose scaling point has huge eigenvalues ``om[s]`` split (:meth:`_split_block`), the
        others kept whole (their kernels in a few passes, :func:`kernel_sum`)."""
        n, q0, plain, rest = self.problem.n_samples, 0, [], []
        for s in (0, 1):
            w = om[s]
            act = w * w.max() * scale > SPLIT
            r = int(act.sum())
            if (not split or w.max() ** 2 * scale <= SPLIT_MIN or r == 0
                    or q0 + r * (r + 1) // 2 > n // 2):
                plain.append(s)
                continue
            q0 = self._split_block(k, s, act, q0, rest)
        coefficients = self.problem.activation.coefficients
        outer = [(self.g[:, k, s] / self.gamma[k, s], self.g[:, k, s]) for s in plain]
        self.Kr[k] = self.dev.kernel_sum(self.Rb[k, plain], coefficients, outer) if plain else rest.pop()
        for K in rest:
            self.Kr[k] += K
        self.F[k] = self.dev.hstack(self.F[k], n)
        self.terms[k] = (self.Rb[k, plain], outer)  # for the matrix-free products (_kernel_product)

    def _split_block(self, k, s, act, q0, rest):
        r"""Split block ``(k, s)`` along its huge directions ``act``: appends the factor
        :math:`F = \operatorname{svec}(R_a^\top (A_i - g_i G/\gamma) R_a)` (columns ``q0:``) to
        ``self.F[k]``, its layout to ``self.blocks`` and the moderate rest's kernel to ``rest``;
        returns the next free column."""
        Gm, d, dev = self.Gm, self.problem.n_features, self.dev
        (a, b, c) = self.problem.activation.coefficients
        h = 0.5 * b
        g, gamma, Rb = self.g[:, k, s], self.gamma[k, s], self.Rb[k, s]
        r = int(act.sum())
        # huge part: Gram of svec(R_a^T (A_i - g_i G / gamma) R_a), kept as a factor F
        Ra, Ri = Rb[:, act], Rb[:, ~act]
        U, rho = dev.rows_times(Ra[:d]), Ra[d]
        iu, ju, wts = svec_indices(r)
        Gaa = Ra.T @ Gm @ Ra
        Ui, Uj = U[:, dev.index(iu)], U[:, dev.index(ju)]
        F = a * Ui * Uj + h * (Ui * dev.to(rho[ju]) + dev.to(rho[iu]) * Uj)
        F += dev.to(c * rho[iu] * rho[ju]) - dev.outer(g / gamma, Gaa[iu, ju])
        self.F[k].append(F * dev.to(wts))
        self.blocks.append((k, s, act, slice(q0, q0 + iu.size), iu, ju, wts, Gaa))
        # moderate rest: the other blocks of R^T (A_i - g_i G / gamma) R
        Wa, Wi = Ra @ Ra.T, Ri @ Ri.T
        Mx = Wa @ Gm @ Wi
        Mx = Mx + Mx.T + Wi @ Gm @ Wi
        e = self.problem.forward(Mx[None])[:, 0] / np.sqrt(gamma)
        cg = g / np.sqrt(gamma)
        # 2 K_x(Wa, Wi) + K(Wi) + (sum(Gm Mx) / gamma cg - e) cg^T - cg e^T
        rest.append(dev.split_rest_kernel(Ra, Ri, (a, b, c), [(e - float(np.sum(Gm * Mx)) / gamma * cg, cg), (cg, e)]))
        return q0 + iu.size

    def _schur_solvers(self, store_kernel):
        r"""Factor the Schur systems :math:`I + \mathcal S \hat K \mathcal S` (or
        :math:`\Theta + \hat K`): one of order ``n`` per output, or one of order ``n C`` for softmax,
        whose Hessian couples the outputs (through ``C`` of order ``n``,
        :mod:`~spectranet.solvers._schur_softmax`; densely for another multi-output loss). In
        low-memory mode the kernel becomes the Schur matrix in place (its products are then taken
        matrix-free, :meth:`_Kmul`)."""
        S_half, n, C = self.S, self.problem.n_samples, self.problem.n_outputs
        if S_half is not None and S_half.ndim != 2:  # softmax (or another loss coupling the outputs)
            Fs = np.concatenate([S_half[:, :, k, None] * self.F[k][:, None, :] for k in range(C)],
                                axis=2).reshape(n * C, -1)  # (n, C, q_k) blocks, as (n C, q)
            if self.simplex is not None:  # per output
                return softmax_factor(self.Kr, *self.simplex, Fs)
            D = np.zeros((n, C, n, C))  # order n C
            for m in range(C):
                D += S_half[:, :, m, None, None] * self.Kr[m][:, None, :, None] * S_half[None, None, :, m, :]
            D = D.reshape(n * C, n * C)
            D[np.diag_indices(n * C)] += 1.0
            return self.dev.factor(D, Fs)  # (on the host)
        solvers = []
        for k in range(C):
            Fs = self.F[k] if S_half is None else self.dev.to(S_half[:, k])[:, None] * self.F[k]
            # (the Schur matrix is referenced by the factorization alone, which may free it)
            solvers.append(self.dev.factor(self._schur_matrix(k, store_kernel), Fs))
        return solvers

    def _schur_matrix(self, k, store_kernel):
        r""":math:`I + \mathcal S K_r \mathcal S` (or :math:`\Theta + K_r`) of output ``k``: a new array,
        or, in low-memory mode, the kernel itself turned into it in place (then dropped here)."""
        dev, K = self.dev, self.Kr[k]
        if not store_kernel:
            self.Kr[k] = None
        if self.S is None:
            D = dev.copy(K) if store_kernel else K
            dev.add_diagonal(D, self.Sp[:, k])
            return D
        sk = dev.to(self.S[:, k])
        D = sk[:, None] * K if store_kernel else K
        if not store_kernel:
            D *= sk[:, None]
        D *= sk
        dev.add_diagonal(D, 1.0)
        return D

    def _schur_solve(self, b):
        r"""Solve :math:`(I + \mathcal S \hat K \mathcal S) u = b` (or :math:`(\Theta + \hat K) u = b`)
        for ``b`` of shape (n, C); also returns :math:`z_k = F_k^\top (\mathcal S u)_k` per output."""
        C = b.shape[1]
        if self.S is None or self.S.ndim == 2:
            uz = [solve(b[:, k]) for k, solve in enumerate(self.solvers)]
            return np.stack([x[0] for x in uz], axis=1), [x[1] for x in uz]
        u, z = self.solvers(b.ravel())
        sizes = np.cumsum([0] + [f.shape[1] for f in self.F])
        return u.reshape(b.shape), [z[sizes[k]:sizes[k + 1]] for k in range(C)]

    def _Kmul(self, V):
        r""":math:`\hat K V` per output (matrix-free in low-memory mode: :meth:`_kernel_product`)."""
        if not np.any(V):
            return np.zeros_like(V)
        return np.stack([self.dev.kernel_times(self.Kr[k], self.F[k], V[:, k]) + (
            self._kernel_product(k, V[:, k]) if self.Kr[k] is None else 0.0) for k in range(V.shape[1])], axis=1)

    def _kernel_product(self, k, v):
        r""":math:`\hat K_k v` without the kernel: :math:`\sum_s \mathcal A(W_s \mathcal A^*(v) W_s)
        - \sum_t u_t (v_t^\top v)` (one adjoint and one lifted map per factor, :math:`O(nd^2)`)."""
        problem = self.problem
        factors, outer = self.terms[k]
        Astar = problem.adjoint(np.repeat(v[:, None], problem.n_outputs, axis=1))[k]
        out = np.zeros_like(v)
        for Rm in factors:
            W = Rm @ Rm.T
            out += lifted_map(problem.X, (W @ Astar @ W)[None], problem.activation)[:, 0]
        for u, w in outer:
            out -= u * float(w @ v)
        return out

    def _solve_once(self, r1, Rc, rp):
        problem, S, sgn, g, gamma = self.problem, self.S, self.sgn, self.g, self.gamma
        y0 = (rp - np.einsum("ab,ksab->ks", self.Gm, Rc)) / gamma  # Delta y at Delta V = 0
        a = problem.forward(np.einsum("s,ksab->kab", sgn, Rc + y0[:, :, None, None] * self.WGW))
        if S is None:  # Delta V = -(Theta + K)^{-1} (a + Theta r1)
            x, z = self._schur_solve(a + self.Sp * r1)
            r1 = np.zeros_like(r1)
        else:  # Delta V = -r1p - S w with r1 = S rho + r1p, rho = S^+ r1: no cancellation
            rho = _smul(self.Sp, r1)
            r1 = r1 - _smul(S, rho)
            w, z = self._schur_solve(_smul(S, a - self._Kmul(r1)) + rho)
            x = _smul(S, w)
        dV = -r1 - x
        dy = y0 - sgn[None, :] * np.einsum("nks,nk->ks", g, dV) / gamma
        AdV = problem.adjoint(dV)[:, None] * sgn[None, :, None, None]
        Rb = self.Rb
        Bt = Rb.swapaxes(-1, -2) @ (AdV + dy[:, :, None, None] * self.Gm) @ Rb
        for k, s, act, sl, iu, ju, wts, Gaa in self.blocks:
            # the block amplified by W, from z = F^T S w rather than from Delta V
            M = np.zeros((len(Gaa), len(Gaa)))
            M[iu, ju] = M[ju, iu] = (-self.dev.transposed_times(self.F[k][:, sl], r1[:, k]) - z[k][sl]) / wts
            Bt[k, s][np.ix_(act, act)] = sgn[s] * M + y0[k, s] * Gaa
        return dV, dy, Rc + Rb @ Bt @ Rb.swapaxes(-1, -2), -AdV - dy[:, :, None, None] * self.Gm

    def solve(self, r1, Rc, rp, hmul, refinements=2):
        """Solve the Newton system, with up to ``refinements`` steps of iterative refinement on the link
        and equality equations (residuals computed matrix-free; ``hmul(D)`` applies the loss
        Hessian), each kept only if it reduces the residual."""
        problem, sgn = self.problem, self.sgn

        def residual(step):
            dM = np.einsum("s,ksab->kab", sgn, step[2])
            rho1 = -r1 - step[0] - hmul(problem.forward(dM))
            return rho1, rp - np.einsum("ab,ksab->ks", self.Gm, step[2])

        step = self._solve_once(r1, Rc, rp)
        res = residual(step)
        size = max(np.max(np.abs(res[0])), np.max(np.abs(res[1])))
        for _ in range(refinements):
            if size <= 1e-15 * (np.max(np.abs(step[0])) + np.max(np.abs(r1)) + 1e-300):
                break
            corr = self._solve_once(-res[0], np.zeros_like(Rc), res[1])
            new = tuple(x + c for x, c in zip(step, corr))
            new_res = residual(new)
            new_size = max(np.max(np.abs(new_res[0])), np.max(np.abs(new_res[1])))
            if new_size >= size:
                break
            step, res, size = new, new_res, new_size
        return step


def _max_ratio(pairs):
    """Largest ``alpha`` with ``x + alpha dx >= 0`` for all ``(x, dx)`` pairs of arrays."""
    ratios = [np.inf] + [float(np.min(-x[dx < 0] / dx[dx < 0])) for x, dx in pairs if np.any(dx < 0)]
    return min(ratios)


class _Step:
    """The Newton systems of one iteration (shared by the predictor and the corrector); ``store``:
    the kernels kept (not in low-memory mode)."""

    def __init__(self, problem, Z, S, Yhat, r1, rp, box, split, refinements=2, store=True):
        self.R, self.Rinv, self.lam = _nt_scaling(Z, S)
        self.problem, self.Yhat, self.r1, self.rp, self.box = problem, Yhat, r1, rp, box
        self.refinements = refinements
        sgn, Gm = np.array([1.0, -1.0]), cone_matrices(problem.n_features)[0]
        if box:  # effective Hessian 1 / theta of the box form
            V, t, lo, hi, q = box
            self.s = np.stack([V - lo, hi - V])
            self.theta = q + t[0] / self.s[0] + t[1] / self.s[1]
            self.newton = _Newton(problem, self.R, sgn, Gm, theta=self.theta, split=split, store_kernel=store)
        else:
            Sh, Sp, simplex = _hessian_sqrt(problem.loss, Yhat, problem.Y)
            self.newton = _Newton(problem, self.R, sgn, Gm, S=Sh, Sp=Sp, split=split, store_kernel=store,
                                  simplex=simplex)

    def hmul(self, D):
        if self.box:
            return D / self.theta
        return self.problem.loss.hessp(self.Yhat, self.problem.Y, D)

    def direction(self, Rc, target):
        r"""Newton direction and the largest step; ``target``: right-hand side of the box
        complementarity :math:`t s + s\,\Delta t + t\,\Delta s`, :math:`\Delta s = (\Delta V, -\Delta V)`."""
        r, R, Rinv = self.r1, self.R, self.Rinv
        if self.box:
            t, s = self.box[1], self.s
            a = target / s - t
            r = (r - a[0] + a[1]) / self.theta
        dV, dy, dZ, dS = self.newton.solve(r, Rc, self.rp, self.hmul, refinements=self.refinements)
        dZ, dS = _sym(dZ), _sym(dS)
        dZt, dSt = Rinv @ dZ @ Rinv.swapaxes(-1, -2), R.swapaxes(-1, -2) @ dS @ R
        alpha = min(_max_step(self.lam, dZt), _max_step(self.lam, dSt))
        dt = None
        if self.box:
            dt = a - t * np.stack([dV, -dV]) / s
            alpha = min(alpha, _max_ratio([(s[0], dV), (s[1], -dV), (t, dt)]))
        return (dZ, dS, dV, dy, dt), dZt, dSt, alpha
