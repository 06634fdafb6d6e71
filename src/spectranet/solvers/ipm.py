r"""Primal–dual interior-point method for the lifted program (21), in sample space.

For outputs :math:`k = 1..C` and pairs :math:`(Z_k, Z_k')` of
:math:`\mathcal N_d = \{Z \succeq 0 : \langle G, Z\rangle = 0\}`, :math:`G = \operatorname{diag}(I_d, -1)`:

.. math::

    \min\ \ell(\hat Y, Y) + \beta \sum_k (Z_{k,4} + Z'_{k,4}), \qquad
    \hat Y_{:k} = \mathcal A(Z_k - Z_k') .

Dual: :math:`V \in \mathbb R^{n \times C}` (the link's multiplier, :math:`-\nabla\ell(\hat Y)` at the
optimum), :math:`y_{k\pm}` (for :math:`\langle G, Z\rangle = 0`), slacks
:math:`S_k = \beta E - \mathcal A^*(V_k) - y_{k+} G \succeq 0`,
:math:`S'_k = \beta E + \mathcal A^*(V_k) - y_{k-} G \succeq 0` (:math:`E = e_{d+1} e_{d+1}^\top`);
dual objective :math:`-\ell^*(-V)`, the bound of :mod:`spectranet.certificate`. The iterates
stay dual feasible, so every reported dual objective is a valid lower bound.

Since :math:`A_i = L_i C_\sigma L_i^\top` has rank two, :math:`K_{ij} = \langle A_i, W A_j W\rangle`
costs :math:`O(n^2 d)` (:func:`kernel_matrix`) and each Newton system reduces to positive
definite systems of order :math:`n` per output (:math:`nC` for softmax), see :class:`_Newton`.
Memory :math:`O(n^2 C^2 + C d^2)`: the ``n x (d+1)^2`` lifted matrix is never formed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla

from .._blas import single_threaded_blas
from ._conic import max_step as _max_step, nt_scaling as _nt_scaling, sym as _sym
from ..kernels import lifted_map
from ._schur import _factor, _kernel, _kernel_cross, _parts, kernel_matrix, kernel_sum

__all__ = ["LOSSES", "MAX_SCHUR", "LiftedSolution", "kernel_matrix", "solve_lifted", "supports"]

logger = logging.getLogger(__name__)

#: largest order of a Schur matrix accepted by :func:`supports` (6000: 288 MB in float64)
MAX_SCHUR = 6000
#: beyond MAX_SCHUR, losses separable over outputs run in *low-memory mode* up to this order: the
#: Schur matrix is the only n x n array (its kernel formed in place and factored in place, the
#: kernel's products taken matrix-free, no eigen-split: 20000 is 3.2 GB); MNIST 0/1, n = 12665
MAX_SCHUR_LOW_MEMORY = 20000
#: supported losses
LOSSES = ("squared", "logistic", "softmax", "huber", "absolute", "hinge")
#: losses handled through the box form of their dual (a primal–dual barrier on the box)
BOX = ("huber", "absolute", "hinge")
#: Schur orders up to which BLAS runs single-threaded (see :func:`solve_lifted`)
SINGLE_THREAD_ORDER = 2500
#: fraction of the step to the boundary of the cones
STEP_FRACTION = 0.99
#: the centering parameter keeps mu above KAPPA * mu_0 * (residual / residual_0)
KAPPA = 0.1
#: a block whose W has max eig^2 |A|^2 > SPLIT_MIN is split: eigen-directions with
#: eig * max eig * |A|^2 > SPLIT go into the factor F of :class:`_Newton`
SPLIT_MIN, SPLIT = 1e10, 1e6
#: the split is used only once the relative duality gap is below SPLIT_GAP: before, the explicit
#: system is accurate enough, and the split costs up to 4x an iteration (1000 x 50 squared loss,
#: beta = 1e-3: 0.93 s instead of 1.70 s to a gap of 1e-7, same iterates; without the split it
#: stalls at 2e-8)
SPLIT_GAP = 1e-7
#: iterative refinement of the Newton systems (two steps) once the relative gap is below
#: REFINE_GAP; far from the optimum the directions need no such accuracy (same iterates on the
#: planted and UCI instances, 20 % less time per early iteration)
REFINE_GAP = 1e-3
#: iterations without a better duality gap before stopping (double precision exhausted)
STALL = 6


@dataclass(frozen=True)
class LiftedSolution:
    """Result of :func:`solve_lifted`.

    Attributes
    ----------
    Z, Z_prime : ndarray of shape (C, d+1, d+1)
        The pairs :math:`(Z_k, Z_k')`, positive definite, with :math:`\\langle G, Z\\rangle \\approx 0`.
    dual : ndarray of shape (n, C)
        The dual variable :math:`V`, dual feasible up to rounding: a candidate dual point for
        :func:`~spectranet.certificate.certify_problem`.
    objective : float
        Objective (21) at ``(Z, Z_prime)``.
    dual_objective : float
        :math:`-\\ell^*(-V)` at ``dual`` (``-inf`` while outside the domain of the conjugate).
    iterations : int
    status : str
        ``"optimal"`` (relative gap and equality violation at most ``tol``), ``"max_iter"``,
        ``"time_limit"`` or ``"numerical"`` (no progress or a failed factorization); the best
        iterate is returned.
    history : list of (time, primal objective, dual objective)
    S, S_prime : ndarray of shape (C, d+1, d+1)
        The dual slacks of the returned iterate (its optimal face: :mod:`spectranet.face`).
    """

    Z: np.ndarray = field(repr=False)
    Z_prime: np.ndarray = field(repr=False)
    dual: np.ndarray = field(repr=False)
    objective: float
    dual_objective: float
    iterations: int
    status: str
    history: list = field(default_factory=list, repr=False)
    S: np.ndarray | None = field(default=None, repr=False)
    S_prime: np.ndarray | None = field(default=None, repr=False)


def supports(problem, max_schur: int = MAX_SCHUR, max_low_memory: int = MAX_SCHUR_LOW_MEMORY) -> bool:
    """Whether :func:`solve_lifted` handles ``problem``: a loss in :data:`LOSSES`, ``beta > 0``
    (the dual has no interior otherwise) and Schur matrices of order at most ``max_schur``
    (``n`` for losses separable over outputs, one per output; ``n * C`` for softmax), or up to
    ``max_low_memory`` in low-memory mode (separable losses). Dense architecture only:
    its constraint matrices have rank two (a pooled group's have rank up to the pool size, a
    patch network has one pair per patch)."""
    order = problem.n_samples * (problem.n_outputs if problem.loss.multi_output_only else 1)
    limit = max_schur if problem.loss.multi_output_only else max(max_schur, max_low_memory)
    return (problem.architecture.is_dense and problem.loss.name in LOSSES and problem.beta > 0
            and order <= limit)


def low_memory(problem) -> bool:
    """Whether :func:`solve_lifted` runs ``problem`` in low-memory mode (:data:`MAX_SCHUR_LOW_MEMORY`)."""
    return problem.n_samples > MAX_SCHUR and not problem.loss.multi_output_only


def _hessian_sqrt(loss, Yhat, Y):
    r"""A square root :math:`\mathcal S` of the loss Hessian and its pseudo-inverse :math:`\mathcal S^+`
    (singular values below ``1e-8`` of the largest count as zero): ``(n, C)`` diagonals for
    losses separable over outputs, ``(n, C, C)`` symmetric per-sample blocks for softmax."""
    w = loss.hessian_blocks(Yhat, Y)
    if loss.multi_output_only:
        w, Q = np.linalg.eigh(w)
    s = np.sqrt(np.clip(w, 0.0, None))
    big = s > 1e-8 * max(float(s.max()), 1e-300)
    sp = np.where(big, 1.0 / np.where(big, s, 1.0), 0.0)
    if not loss.multi_output_only:
        return s, sp
    return tuple(np.einsum("nij,nj,nkj->nik", Q, x, Q) for x in (s, sp))


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
    :math:`\mathcal S = (\nabla^2\ell)^{1/2}`, :math:`\rho = \mathcal S^+ r_1`, :math:`r_1^\perp = r_1 - \mathcal S\rho`:
    :math:`(I + \mathcal S\hat K\mathcal S)\, w = \mathcal S(\mathcal A(\Delta M)|_{\Delta V = 0} - \hat K r_1^\perp) + \rho`,
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

    def __init__(self, problem, R, sgn, Gm, S=None, Sp=None, theta=None, split=True, store_kernel=True):
        X, (a, b, c) = problem.X, problem.activation.coefficients
        h = 0.5 * b
        n, d, C = problem.n_samples, problem.n_features, problem.n_outputs
        # S, Sp: (loss Hessian)^(1/2) and its pseudo-inverse; or theta: the inverse of a positive
        # diagonal Hessian (box losses), with the system Theta + K instead of I + S K S
        S_half, self.Sp = S, (Sp if theta is None else theta)
        self.problem, self.S, self.sgn, self.Gm = problem, S_half, sgn, Gm
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
        split = split and store_kernel
        for k in range(C):
            q0, plain, rest = 0, [], []
            for s in (0, 1):
                g, gamma, Rb, w = self.g[:, k, s], self.gamma[k, s], self.Rb[k, s], om[k, s]
                act = w * w.max() * scale > SPLIT
                r = int(act.sum())
                if (not split or w.max() ** 2 * scale <= SPLIT_MIN or r == 0
                        or q0 + r * (r + 1) // 2 > n // 2):
                    plain.append(s)
                    continue
                # huge part: Gram of svec(R_a^T (A_i - g_i G / gamma) R_a), kept as a factor F
                Ra, Ri = Rb[:, act], Rb[:, ~act]
                U, rho = X @ Ra[:d], Ra[d]
                iu, ju = np.triu_indices(r)
                Gaa = Ra.T @ Gm @ Ra
                F = a * U[:, iu] * U[:, ju] + h * (U[:, iu] * rho[ju] + rho[iu] * U[:, ju])
                F += c * rho[iu] * rho[ju] - np.outer(g / gamma, Gaa[iu, ju])
                wts = np.where(iu == ju, 1.0, np.sqrt(2.0))
                self.F[k].append(F * wts)
                self.blocks.append((k, s, act, slice(q0, q0 + iu.size), iu, ju, wts, Gaa))
                q0 += iu.size
                # moderate rest: the other blocks of R^T (A_i - g_i G / gamma) R
                pa, pi = _parts(X, Ra), _parts(X, Ri)
                Wa, Wi = Ra @ Ra.T, Ri @ Ri.T
                Mx = Wa @ Gm @ Wi
                Mx = Mx + Mx.T + Wi @ Gm @ Wi
                e = problem.forward(Mx[None])[:, 0] / np.sqrt(gamma)
                cg = g / np.sqrt(gamma)
                rest.append(2.0 * _kernel_cross(pa, pi, (a, b, c)) + _kernel(*pi, (a, b, c)))
                rest[-1] += np.outer(float(np.sum(Gm * Mx)) / gamma * cg - e, cg) - np.outer(cg, e)
            # the blocks kept whole: their kernels in a few passes
            self.Kr[k] = (kernel_sum(X, self.Rb[k, plain], (a, b, c),
                                     [(self.g[:, k, s] / self.gamma[k, s], self.g[:, k, s]) for s in plain])
                          if plain else rest.pop())
            for K in rest:
                self.Kr[k] += K
            self.F[k] = np.hstack(self.F[k]) if self.F[k] else np.zeros((n, 0))
            self.terms[k] = (self.Rb[k, plain], [(self.g[:, k, s] / self.gamma[k, s], self.g[:, k, s])
                                                 for s in plain])
        if S_half is None or S_half.ndim == 2:  # one system of order n per output
            self.solvers = []
            for k in range(C):
                # low-memory mode: the kernel becomes the Schur matrix in place (its products are
                # then taken matrix-free, _Kmul)
                K = self.Kr[k]
                if not store_kernel:
                    self.Kr[k] = None
                if S_half is None:
                    D = K.copy() if store_kernel else K
                    D[np.diag_indices(n)] += self.Sp[:, k]
                    Fs = self.F[k]
                else:
                    sk = S_half[:, k]
                    D, Fs = (sk[:, None] * K if store_kernel else K), sk[:, None] * self.F[k]
                    if not store_kernel:
                        D *= sk[:, None]
                    D *= sk
                    D[np.diag_indices(n)] += 1.0
                self.solvers.append(_factor(D, Fs))
        else:  # softmax: one system of order n C, the Hessian couples the outputs
            D = np.zeros((n, C, n, C))
            for m in range(C):
                D += S_half[:, :, m, None, None] * self.Kr[m][:, None, :, None] * S_half[None, None, :, m, :]
            D = D.reshape(n * C, n * C)
            D[np.diag_indices(n * C)] += 1.0
            Fs = [S_half[:, :, k, None] * self.F[k][:, None, :] for k in range(C)]  # (n, C, q_k)
            self.solvers = _factor(D, np.concatenate(Fs, axis=2).reshape(n * C, -1))

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
        return np.stack([(self.Kr[k] @ V[:, k] if self.Kr[k] is not None else self._kernel_product(k, V[:, k]))
                         + self.F[k] @ (self.F[k].T @ V[:, k]) for k in range(V.shape[1])], axis=1)

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
            M[iu, ju] = M[ju, iu] = (-(self.F[k][:, sl].T @ r1[:, k]) - z[k][sl]) / wts
            Bt[k, s][np.ix_(act, act)] = sgn[s] * M + y0[k, s] * Gaa
        return dV, dy, Rc + Rb @ Bt @ Rb.swapaxes(-1, -2), -AdV - dy[:, :, None, None] * self.Gm

    def solve(self, r1, Rc, rp, hmul, refine=2):
        """Solve the Newton system, with up to ``refine`` steps of iterative refinement on the link
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
        for _ in range(refine):
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


def _box(loss, Y):
    r"""Box form :math:`\ell(\hat Y) = \max_{lo \le V \le hi} \langle V, Y - \hat Y\rangle - \tfrac q2\|V\|^2`
    of a loss of :data:`BOX`: returns ``(lo, hi, q)``."""
    if loss.name == "huber":
        return np.full(Y.shape, -loss.delta), np.full(Y.shape, loss.delta), 1.0
    if loss.name == "absolute":
        return -np.ones(Y.shape), np.ones(Y.shape), 0.0
    return np.minimum(Y, 0.0), np.maximum(Y, 0.0), 0.0  # hinge: y V in [0, 1]


def _max_ratio(pairs):
    """Largest ``alpha`` with ``x + alpha dx >= 0`` for all ``(x, dx)`` pairs of arrays."""
    ratios = [np.inf] + [float(np.min(-x[dx < 0] / dx[dx < 0])) for x, dx in pairs if np.any(dx < 0)]
    return min(ratios)


class _Step:
    """The Newton systems of one iteration (shared by the predictor and the corrector)."""

    def __init__(self, problem, Z, S, Yhat, r1, rp, box, split, refine=2):
        self.R, self.Rinv, self.lam = _nt_scaling(Z, S)
        store = not low_memory(problem)
        self.problem, self.Yhat, self.r1, self.rp, self.box = problem, Yhat, r1, rp, box
        self.refine = refine
        sgn, Gm = np.array([1.0, -1.0]), np.diag(np.r_[np.ones(problem.n_features), -1.0])
        if box:  # effective Hessian 1 / theta of the box form
            V, t, lo, hi, q = box
            self.s = np.stack([V - lo, hi - V])
            self.theta = q + t[0] / self.s[0] + t[1] / self.s[1]
            self.newton = _Newton(problem, self.R, sgn, Gm, theta=self.theta, split=split, store_kernel=store)
        else:
            Sh, Sp = _hessian_sqrt(problem.loss, Yhat, problem.Y)
            self.newton = _Newton(problem, self.R, sgn, Gm, S=Sh, Sp=Sp, split=split, store_kernel=store)

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
        dV, dy, dZ, dS = self.newton.solve(r, Rc, self.rp, self.hmul, refine=self.refine)
        dZ, dS = _sym(dZ), _sym(dS)
        dZt, dSt = Rinv @ dZ @ Rinv.swapaxes(-1, -2), R.swapaxes(-1, -2) @ dS @ R
        alpha = min(_max_step(self.lam, dZt), _max_step(self.lam, dSt))
        dt = None
        if self.box:
            dt = a - t * np.stack([dV, -dV]) / s
            alpha = min(alpha, _max_ratio([(s[0], dV), (s[1], -dV), (t, dt)]))
        return (dZ, dS, dV, dy, dt), dZt, dSt, alpha


def solve_lifted(problem, *, tol: float = 1e-9, max_iter: int = 100, verbose: bool = False,
                 callback=None, accept=None, accept_gap: float = 0.0, deadline: float | None = None) -> LiftedSolution:
    r"""Solve the lifted program (21) by a primal–dual interior-point method (see
    :func:`_solve_lifted`); BLAS runs single-threaded for Schur orders up to
    :data:`SINGLE_THREAD_ORDER`, where threads gain little and, on a busy machine, cost up to 5x
    (measured: credit-approval, 10.4 s with two threads on two busy cores, 1.9 s with one)."""
    order = problem.n_samples * (problem.n_outputs if problem.loss.multi_output_only else 1)
    with single_threaded_blas(order <= SINGLE_THREAD_ORDER):
        return _solve_lifted(problem, tol=tol, max_iter=max_iter, verbose=verbose, callback=callback,
                             accept=accept, accept_gap=accept_gap, deadline=deadline)


def _solve_lifted(problem, *, tol: float = 1e-9, max_iter: int = 100, verbose: bool = False,
                  callback=None, accept=None, accept_gap: float = 0.0, deadline: float | None = None) -> LiftedSolution:
    r"""Solve the lifted program (21) by a primal–dual interior-point method.

    Nesterov–Todd scaling, Mehrotra predictor–corrector (step fraction :data:`STEP_FRACTION`,
    centering kept above :data:`KAPPA` times the relative link residual), dual-feasible start;
    see the module docstring and :class:`_Newton`. Smooth losses (squared, logistic, softmax)
    enter through their gradient and Hessian. The losses of :data:`BOX` (Huber, absolute,
    hinge) through the box form of their dual, with slacks :math:`s = (V - lo, hi - V)` and
    multipliers :math:`t` in the complementarity: the link becomes
    :math:`\hat Y - Y + qV - t_{lo} + t_{hi} = 0`, whose Newton step has the form of the smooth
    case with the positive diagonal Hessian :math:`(q + t_{lo}/s_{lo} + t_{hi}/s_{hi})^{-1}`.
    For logistic and softmax, whose link is nonlinear, the step is halved until the link
    residual decreases (saturated samples have a vanishing Hessian and invite long steps).
    The best iterate is returned; the solve stops after :data:`STALL` iterations without a
    better gap (the limit of double precision, reached near a relative gap of 1e-10).
    Each iteration costs :math:`O(n^2 d + n^3 + C d^3)` per output: one Cholesky factorization
    and a few solves.

    Parameters
    ----------
    problem : Problem
        A problem with :func:`supports` true.
    tol : float
        Target relative duality gap :math:`(p - d)/\max(|p|, |d|)` (and relative violation of
        :math:`\langle G, Z\rangle = 0`).
    max_iter : int
    verbose : bool
        Log each iteration at INFO level (DEBUG otherwise).
    callback : callable, optional
        ``callback(iteration, primal, dual)`` after each iteration; returning True stops.
    accept : callable, optional
        ``accept(Z, Z_prime, S, S_prime, V)`` on each iterate whose relative gap is at most ``accept_gap``
        (and whose equality violation is at most ``accept_gap``); returning True stops with
        status ``"optimal"``: the caller found the iterate good enough (the native solver
        extracts a network and certifies it, which is cheap next to an iteration).
    accept_gap : float
        See ``accept``.
    deadline : float, optional
        ``time.perf_counter()`` value after which the method stops (status ``"time_limit"``,
        the best iterate returned).

    Returns
    -------
    LiftedSolution

    Raises
    ------
    ValueError
        If the loss is not supported, ``beta == 0``, or a Schur matrix would be too large.
    """
    if not supports(problem):
        if problem.loss.name not in LOSSES:
            raise ValueError(f"the interior-point solver does not support the {problem.loss.name} "
                             f"loss; supported losses: {list(LOSSES)}")
        if problem.beta <= 0:
            raise ValueError("the interior-point solver needs beta > 0 (the dual of (21) has no "
                             "interior at beta = 0)")
        raise ValueError(f"the Schur matrix of this problem (n={problem.n_samples}, C={problem.n_outputs}) "
                         f"exceeds the limit of order {MAX_SCHUR} ({MAX_SCHUR_LOW_MEMORY} in low-memory mode, "
                         "losses separable over outputs)")
    log = logger.info if verbose else logger.debug
    start = time.perf_counter()
    loss, Y, beta, box = problem.loss, problem.Y, problem.beta, problem.loss.name in BOX
    n, d, C = problem.n_samples, problem.n_features, problem.n_outputs
    p, nu = d + 1, 2 * C * (d + 1)
    sgn = np.array([1.0, -1.0])
    Gm = np.diag(np.r_[np.ones(d), -1.0])
    # start: Z = Z' = tau diag(I, d) in N_d (Yhat = 0); y = -beta/2 and V small, so that
    # S = beta E -+ A*(V) - y G >= beta I / 4 (dual feasible); tau balances <Z, S> and the loss
    l0 = loss.value(np.zeros_like(Y), Y)
    floor = 1e-12 * max(1.0, l0)
    Z = np.zeros((C, 2, p, p))
    Z[..., np.arange(p), np.arange(p)] = max(l0, floor) / (2.0 * C * beta * d) * np.r_[np.ones(d), d]
    V, y, lo, hi, q = np.zeros_like(Y), np.full((C, 2), -0.5 * beta), None, None, 0.0
    if box:
        lo, hi, q = _box(loss, Y)
        V = 0.5 * (lo + hi)
        if np.any(V):
            V *= min(1.0, 0.25 * beta / np.max(np.linalg.norm(problem.adjoint(V), 2, axis=(1, 2))))
    S = 0.5 * beta * np.eye(p) - problem.adjoint(V)[:, None] * sgn[:, None, None]
    if box:  # box pairs (slack, multiplier), centered at the mu of the blocks
        t = float(np.sum(Z * S)) / nu / np.stack([V - lo, hi - V])
        nu += 2 * n * C

    def compl(Z, S, V, t):
        return float(np.sum(Z * S)) + (float(np.sum(t * np.stack([V - lo, hi - V]))) if box else 0.0)

    history, status, best, res0 = [], "max_iter", None, None
    for it in range(max_iter + 1):
        Yhat = problem.forward(Z[:, 0] - Z[:, 1])
        grad = loss.gradient(Yhat, Y)
        r1 = Yhat - Y + q * V - t[0] + t[1] if box else grad + V
        rp = -np.einsum("ab,ksab->ks", Gm, Z)
        mu = compl(Z, S, V, t if box else None) / nu
        primal = loss.value(Yhat, Y) + beta * float(np.sum(Z[..., d, d]))
        dual = loss.dual_value(V, Y)  # -inf until V enters the domain of the conjugate
        gap = (primal - dual) / max(abs(primal), abs(dual), floor) if dual > -np.inf else np.inf
        pres = float(np.max(np.abs(rp))) / (1.0 + float(np.max(Z[..., d, d])))
        res = max(float(np.linalg.norm(r1)) / (1.0 + float(np.linalg.norm(grad))), pres)
        history.append((time.perf_counter() - start, primal, dual))
        log("ipm %3d: primal %.12g dual %.12g gap %.2e link %.1e eq %.1e mu %.2e", it, primal,
            dual, gap, res, pres, mu)
        if pres <= max(tol, 1e-12) and gap < np.inf and (best is None or gap < best[0]):
            best = (gap, it, Z.copy(), V.copy(), primal, dual, S.copy())
        if gap <= tol and pres <= tol:
            status = "optimal"
            break
        if (accept is not None and gap <= accept_gap and pres <= accept_gap
                and accept(Z[:, 0], Z[:, 1], S[:, 0], S[:, 1], V)):
            status, best = "optimal", None
            log("ipm: iterate %d accepted by the caller", it)
            break
        if it == max_iter or (callback is not None and callback(it, primal, dual)):
            break
        if deadline is not None and time.perf_counter() > deadline:
            status = "time_limit"
            log("ipm: time limit reached")
            break
        if best is not None and gap < np.inf and it - best[1] >= STALL:
            status = "numerical"
            log("ipm: no progress in %d iterations (double precision exhausted)", STALL)
            break
        if res0 is None:
            res0, mu0 = max(res, 1e-300), mu
        try:
            step = None  # the previous iteration's Schur matrix goes before the next one is formed
            step = _Step(problem, Z, S, Yhat, r1, rp, (V, t, lo, hi, q) if box else None,
                         split=gap <= SPLIT_GAP, refine=2 if gap <= REFINE_GAP else 0)
            # predictor (affine scaling): Delta Z + W Delta S W = -Z, box target 0
            (dZ, dS, dV, dy, dt), dZt, dSt, alpha = step.direction(-Z, 0.0)
            alpha = min(1.0, alpha)
            mu_aff = compl(Z + alpha * dZ, S + alpha * dS, V + alpha * dV,
                           t + alpha * dt if box else None) / nu
            sigma = min(1.0, max(mu_aff / mu, 0.0) ** 3)
            sigma = min(1.0, max(sigma, KAPPA * (res / res0) * mu0 / mu))
            # corrector: lam o (dZt + dSt) = sigma mu I - lam o lam - dZt_aff o dSt_aff
            R, lam = step.R, step.lam
            Bc = sigma * mu * np.eye(p) - _sym(dZt @ dSt)
            Bc = 2.0 * Bc / (lam[..., :, None] + lam[..., None, :])
            Bc[..., np.arange(p), np.arange(p)] -= lam
            target = sigma * mu - dt * np.stack([dV, -dV]) if box else None
            (dZ, dS, dV, dy, dt), _, _, alpha = step.direction(_sym(R @ Bc @ R.swapaxes(-1, -2)), target)
        except (np.linalg.LinAlgError, sla.LinAlgError) as exc:
            status = "numerical"
            log("ipm: factorization failed (%s); stopping", exc)
            break
        alpha = min(1.0, STEP_FRACTION * alpha)
        if loss.name in ("logistic", "softmax"):  # nonlinear link: backtrack on its residual
            r_norm, floor_r = np.linalg.norm(r1), 1e-10 * (1.0 + np.linalg.norm(grad))
            for _ in range(40):
                Zt, Vt = Z + alpha * dZ, V + alpha * dV
                r_new = np.linalg.norm(loss.gradient(problem.forward(Zt[:, 0] - Zt[:, 1]), Y) + Vt)
                if r_new <= max((1.0 - 0.1 * alpha) * r_norm, floor_r):
                    break
                alpha *= 0.5
        Z, S, V, y = Z + alpha * dZ, S + alpha * dS, V + alpha * dV, y + alpha * dy
        if box:
            t = t + alpha * dt
        if not (np.all(np.isfinite(Z)) and np.all(np.isfinite(V))):
            status = "numerical"
            break
    if best is not None and best[1] != it:
        _, it_best, Z, V, primal, dual, S = best
        log("ipm: returning iterate %d (best duality gap %.2e)", it_best, best[0])
    return LiftedSolution(Z=np.ascontiguousarray(Z[:, 0]), Z_prime=np.ascontiguousarray(Z[:, 1]),
                          dual=V, objective=primal, dual_objective=dual, iterations=it,
                          status=status, history=history, S=np.ascontiguousarray(S[:, 0]),
                          S_prime=np.ascontiguousarray(S[:, 1]))
