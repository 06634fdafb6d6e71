r"""The face's rotation: Newton's method on the factors of the face polish's point, its ranks fixed.

The face polish (:mod:`spectranet.face`) solves (21) exactly on the face an interior-point iterate
shows, the range of its large eigenvectors. That range is only as accurate as the iterate: near the
optimum its angle to the optimal face shrinks like the iterate's distance to the optimum, and the
optimum on a face turned by that angle gives a network whose own gradient certifies little
(planted 1000 x 50, squared loss, :math:`\beta = 10^{-3}`: own gap :math:`4 \cdot 10^{-6}` from the face
of the iterate at a gap of :math:`9 \cdot 10^{-8}`; spambase at :math:`10^{-6}\beta_{\max}`:
:math:`9.5 \cdot 10^{-2}` at :math:`3.6 \cdot 10^{-8}`, the same ranks as the optimum). The engine then
runs on, its iterations near the optimum the costliest (the split Schur systems), until a later
iterate shows the face well enough.

This turns the face instead: (21) over the matrices of the face polish's ranks,
:math:`Z_b = L_b L_b^\top` (``L_b`` of shape ``(f+1, r_b)``, one per cone ``b``), with the trace
conditions :math:`c_b = \langle G, L_b L_b^\top\rangle = 0` as equality constraints, by the
Lagrange–Newton method with the exact Hessian of the Lagrangian

.. math::

    \nabla^2 \mathcal L = J^\top \nabla^2 \ell\, J + 2 \operatorname{diag}_b(S_b \otimes I_{r_b}),
    \qquad S_b = \pm\mathcal A^*(\nabla\ell)_k + \beta E - \lambda_b G,

where :math:`J = \partial \hat Y / \partial L` and :math:`S_b` is the dual slack at the network's own
dual point (positive definite off the optimal face under strict complementarity, which makes the
rotations of the face curved). The factors' own symmetry :math:`L_b \to L_b Q` (orthogonal ``Q``)
leaves every :math:`Z_b` unchanged; a penalty on :math:`\operatorname{skew}(L_b^\top \Delta L_b)`
makes the system definite without moving along it. Near a nondegenerate optimum of the ranks the
steps converge quadratically; the caller then solves the turned face exactly with the face polish
(:func:`face_marks` marks it) and keeps the result only where it proves more.

The loss is separable over outputs (softmax is left out), so the system has one block per output.
:math:`J^\top \nabla^2\ell\, J` comes from passes over the data (dense networks) or, given the
lifted engine's objective, from its Hessian blocks in the lifted coordinates (any architecture).
A face whose ranks are not the optimum's (a neuron missing) is stationary for its ranks: no
rotation reaches the optimum from it (CIFAR-10 0/1 GAP CNN, squared loss, 1e-6 beta_max).
"""

from __future__ import annotations

import logging
import time

import numpy as np
import scipy.linalg as sla

from .kernels import cone_matrices, smat, svec, svec_indices

__all__ = ["rotate_face", "face_marks", "applicable", "n_params"]

logger = logging.getLogger(__name__)

#: steps at most (quadratic convergence from the face polish's point takes three to five)
MAX_ITER = 8
#: Newton steps (each a new Hessian: O(n C N^2)) before chord steps reuse the last one, while the
#: decrease they predict shrinks (spambase, squared loss, 1e-6 beta_max, N = 3364: five Newton steps,
#: 6 s; two Newton steps, 1.0 and 1.7 s, then six chord steps, 0.2 s: the same network, its own gap
#: 1.75e-7; after one Newton step the chord steps diverge)
NEWTON_STEPS = 2
#: eigenvalues of a block below this fraction of the largest of all blocks are not in its face
RANK_TOL = 1e-12
#: the order N of an output's block of the Newton system (the entries of its factors, sum of
#: (f+1) r_b) and the flops of its Hessian (n N^2 from the data, G D N^2 from the lifted
#: objective) beyond which no rotation runs
MAX_PARAMS = 4000
MAX_FLOPS = 6e10
#: the Jacobi-scaled Newton matrix gets the smallest shift on its diagonal, from the first of these
#: up to the last (beyond it: no definite system), that makes it positive definite: the directions
#: that change no output, no penalty and no trace condition (the optimum's own non-uniqueness, which
#: the face polish's lean step resolves) are flat, or slightly concave off the optimal face (planted
#: 400 x 8, logistic loss, 1e-3 beta_max: -9e-13 at the optimum). After a failed factorization the
#: next shift is at least 100 times the last and twice the failed pivot, at most the last of these
#: (spambase, squared loss, 1e-6 beta_max: the second Newton system needs 1e-4)
SHIFTS = (1e-10, 1e-4)
#: rows of the Jacobian formed at a time (n_rows x C x N entries: 32 MB)
BLOCK_ENTRIES = 1 << 22


def applicable(problem, Z: np.ndarray, Z_prime: np.ndarray, model=None, max_order: float = MAX_PARAMS) -> bool:
    """Whether :func:`rotate_face` runs: a smooth loss separable over outputs; a dense network on
    numpy data (or torch data's float64 host copy), or any data and architecture with ``model``
    (the lifted engine's objective); a system within :data:`MAX_FLOPS` whose blocks' order
    (:func:`n_params`) is at most :data:`MAX_PARAMS` and ``max_order`` (a caller's own bound)."""
    if not problem.loss.smooth or problem.loss.multi_output_only:
        return False
    if model is None and (type(problem.data).__name__ not in ("HostData", "TorchData")
                          or not problem.architecture.is_dense):
        return False
    N = n_params(Z, Z_prime, problem.n_outputs)
    rows = model.D * problem.n_groups if model is not None else problem.n_samples
    return 0 < N <= min(MAX_PARAMS, max_order) and rows * N * N <= MAX_FLOPS


def n_params(Z: np.ndarray, Z_prime: np.ndarray, n_outputs: int = 1) -> int:
    """The order of the largest block of the rotation's Newton system: the entries of the factors of
    one output's cones (pairs ``p`` with ``p % n_outputs == k``)."""
    sizes = {}
    for b, L in _factors(Z, Z_prime):
        sizes[(b // 2) % n_outputs] = sizes.get((b // 2) % n_outputs, 0) + L.size
    return max(sizes.values(), default=0)


def _factors(Z, Z_prime, n_outputs: int = 1):
    """``(b, L_b)`` for each cone ``b = 2 p + s`` with a non-empty face, ``Z_b = L_b L_b^T``, the
    cones of each output together (pair ``p = g C + k`` belongs to output ``k``)."""
    blocks = [(2 * p + s, M) for p in range(len(Z)) for s, M in enumerate((Z[p], Z_prime[p]))]
    eigs = [(b, *np.linalg.eigh(0.5 * (M + M.T))) for b, M in blocks]
    top = max([float(lam[-1]) for _, lam, _ in eigs] + [1e-300])
    out = []
    for b, lam, Q in eigs:
        keep = lam > RANK_TOL * top
        if keep.any():
            out.append((b, Q[:, keep] * np.sqrt(lam[keep])))
    return sorted(out, key=lambda item: ((item[0] // 2) % n_outputs, item[0]))


def face_marks(Z: np.ndarray, Z_prime: np.ndarray):
    """Slack matrices ``(S, S_prime)`` that make :func:`spectranet.face.face_basis` return the range
    of each block's factor (:func:`_factors`, the rank rule of the rotation): zero on it, a multiple
    of the identity off it (the largest entry of ``Z`` and ``Z_prime``: above every eigenvalue of
    theirs off the range, which is zero)."""
    top = max(float(np.max(np.abs(Z), initial=0.0)), float(np.max(np.abs(Z_prime), initial=0.0)), 1e-300)
    eye = np.eye(Z.shape[-1])
    marks = (np.broadcast_to(top * eye, Z.shape).copy(), np.broadcast_to(top * eye, Z_prime.shape).copy())
    for b, L in _factors(Z, Z_prime):
        Q = np.linalg.qr(L)[0]
        marks[b % 2][b // 2] = top * (eye - Q @ Q.T)
    return marks


class _System:
    """The Lagrange–Newton system of :func:`rotate_face` at the factors ``Ls`` (one per cone of
    ``cones``): objective, Lagrangian gradient, constraints and their gradients, the Hessian."""

    def __init__(self, problem, cones, Ls, lam=None, model=None):
        C = problem.n_outputs
        order = sorted(range(len(cones)), key=lambda i: ((cones[i] // 2) % C, cones[i]))  # (outputs together)
        cones, Ls = [cones[i] for i in order], [Ls[i] for i in order]
        lam = None if lam is None else np.asarray(lam)[order]
        self.problem, self.cones, self.Ls, self.model = problem, cones, Ls, model
        self.fresh = False  # whether the model's Hessian is at this point (a loss that is not quadratic)
        f, P = problem.n_features, problem.n_pairs
        self.Gm, E = cone_matrices(f)
        Z = np.zeros((2, P, f + 1, f + 1))
        for b, L in zip(cones, Ls):
            Z[b % 2, b // 2] = L @ L.T
        self.Z = Z
        if model is None:  # passes over the data: the outputs, the loss's Hessian, the adjoint
            Yhat, loss = problem.forward(Z[0] - Z[1]), problem.loss
            value = loss.value(Yhat, problem.Y)
            self.h = loss.hessian_blocks(Yhat, problem.Y)  # (n, C)
            adj = problem.adjoint(loss.gradient(Yhat, problem.Y))  # (P, f+1, f+1)
        else:  # the lifted objective: its gradient in svec coordinates is the adjoint's svec
            self.m = svec(Z[0] - Z[1])
            value, grad, _ = model.evaluate(self.m, hessian=False)  # (see hessian)
            adj = smat(grad, f + 1)
        self.value = problem.lifted_penalized(value, Z[0], Z[1])
        self.S0 = [(1.0 if b % 2 == 0 else -1.0) * adj[b // 2] + problem.beta * E for b in cones]
        GL = [self.Gm @ L for L in Ls]
        if lam is None:  # least squares: the Lagrangian's gradient as small as it gets
            lam = np.array([float(np.sum((S @ L) * gl)) / max(float(np.sum(gl * gl)), 1e-300)
                            for S, L, gl in zip(self.S0, Ls, GL)])
        self.lam = lam
        self.S = [S - lb * self.Gm for S, lb in zip(self.S0, lam)]
        self.grad = np.concatenate([(2.0 * S @ L).ravel() for S, L in zip(self.S, Ls)])
        self.c = np.array([float(np.sum(L * gl)) for L, gl in zip(Ls, GL)])
        self.offsets = np.cumsum([0] + [L.size for L in Ls])
        A = np.zeros((len(Ls), self.offsets[-1]))
        for i, gl in enumerate(GL):
            A[i, self.offsets[i]:self.offsets[i + 1]] = 2.0 * gl.ravel()
        self.A = A

    def outputs(self):
        """``(k, cones)`` per output with a non-empty face: the indices of its cones, contiguous
        (``b = 2 p + s``, ``p = k`` for a dense network). The loss is separable over outputs, so
        the Newton system is block diagonal with one block per output."""
        C = self.problem.n_outputs
        groups = {}
        for i, cone in enumerate(self.cones):
            groups.setdefault((cone // 2) % C, []).append(i)
        return sorted(groups.items())

    def jacobian(self, rows, k, members, weights=None) -> np.ndarray:
        r""":math:`\partial \hat Y_{:,k} / \partial L` on a block of rows, for the cones ``members`` of
        output ``k`` (contiguous): ``(rows, N_k)``, each row times ``weights`` (rows,) when given; for
        a sample, :math:`\partial \langle A_i, L L^\top\rangle / \partial L = 2 A_i L` with
        :math:`A_i L = [x (a s + \frac b2 t)^\top;\ \frac b2 s^\top + c\, t^\top]`, :math:`s = L_{:f}^\top x`,
        :math:`t = L_f`."""
        problem = self.problem
        (a, b, c), f = problem.activation.coefficients, problem.n_features
        X = problem.X[rows]
        m, first = len(X), self.offsets[members[0]]
        J = np.zeros((m, self.offsets[members[-1] + 1] - first))
        for i in members:
            cone, L = self.cones[i], self.Ls[i]
            scale = (2.0 if cone % 2 == 0 else -2.0) * (1.0 if weights is None else weights)
            scale = np.reshape(scale, (-1, 1))
            s, t = X @ L[:f], L[f]
            out = J[:, self.offsets[i] - first:self.offsets[i + 1] - first].reshape(m, f + 1, L.shape[1])  # (a view)
            np.multiply(X[:, :, None], ((a * s + 0.5 * b * t) * scale)[:, None, :], out=out[:, :f])
            out[:, f] = (0.5 * b * s + c * t) * scale
        return J

    def _lifted_jacobian(self, members) -> np.ndarray:
        r""":math:`\partial m_k / \partial L` for the cones ``members`` of one output, ``m_k`` the
        svec of its pairs' :math:`Z_p - Z_p'` side by side (the lifted engine's coordinates):
        ``(G D, N_k)``."""
        C, D = self.problem.n_outputs, self.model.D
        first = self.offsets[members[0]]
        J = np.zeros((self.problem.n_groups * D, self.offsets[members[-1] + 1] - first))
        for i in members:
            g = (self.cones[i] // 2) // C
            J[g * D:(g + 1) * D, self.offsets[i] - first:self.offsets[i + 1] - first] = (
                (1.0 if self.cones[i] % 2 == 0 else -1.0) * _svec_jacobian(self.Ls[i]))
        return J

    def _data_hessian(self, k, members, N) -> np.ndarray:
        r""":math:`J^\top \nabla^2\ell\, J` of output ``k`` from passes over the data, in blocks of
        rows: its lower triangle, Fortran-ordered."""
        n = self.problem.n_samples
        step = max(1, BLOCK_ENTRIES // max(1, N))
        H = np.zeros((N, N), order="F")
        for start in range(0, n, step):
            rows = slice(start, min(start + step, n))
            Js = self.jacobian(rows, k, members, np.sqrt(np.clip(self.h[rows, k], 0.0, None)))
            # the lower triangle (half the flops of a product), from Js^T: Fortran-ordered, no copy
            H = sla.blas.dsyrk(1.0, Js.T, beta=1.0, c=H, trans=0, lower=1, overwrite_c=1)
        return H

    def hessian(self, k, members) -> np.ndarray:
        """The Lagrangian's Hessian on the cones ``members`` of output ``k`` (its lower triangle,
        Fortran-ordered), plus the penalty on each factor's rotations (see the module)."""
        first = self.offsets[members[0]]
        N = self.offsets[members[-1] + 1] - first
        if self.model is not None:  # from the lifted objective's Hessian block of output k
            if not self.model.quadratic and not self.fresh:  # (one pass: every output's block at m)
                self.model.evaluate(self.m, hessian=True)
                self.fresh = True
            J = self._lifted_jacobian(members)
            H = np.asfortranarray(np.tril(J.T @ (self.model.hessian[k] @ J)))
        else:
            H = self._data_hessian(k, members, N)
        for i in members:
            S, L = self.S[i], self.Ls[i]
            block = slice(self.offsets[i] - first, self.offsets[i + 1] - first)
            r = L.shape[1]
            H[block, block] += np.tril(2.0 * np.kron(S, np.eye(r)))
            if r > 1:
                B = _rotations(L)
                scale = float(np.mean(np.abs(np.diag(H[block, block])))) / max(
                    float(np.mean(np.sum(B * B, axis=0))), 1e-300)
                H[block, block] += np.tril(scale * (B.T @ B))
        return H


def _svec_jacobian(L: np.ndarray) -> np.ndarray:
    r""":math:`\partial\, \mathrm{svec}(L L^\top) / \partial L` (``D x (f+1) r``, row-major ``vec``):
    the svec of :math:`\Delta L\, L^\top + L\, \Delta L^\top`."""
    p, r = L.shape
    rows, cols, weights = svec_indices(p)
    J = np.zeros((rows.size, p, r))
    e = np.arange(rows.size)
    J[e, rows, :] += weights[:, None] * L[cols, :]
    J[e, cols, :] += weights[:, None] * L[rows, :]  # (a diagonal entry gets both: 2 L_i)
    return J.reshape(rows.size, p * r)


def _rotations(L: np.ndarray) -> np.ndarray:
    r"""The map :math:`\Delta L \mapsto` the upper triangle of :math:`L^\top \Delta L - \Delta L^\top L`
    (``r(r-1)/2 x (f+1) r``, row-major ``vec``): zero exactly on the steps that change
    :math:`L L^\top` to first order only by a rotation of the factor."""
    p, r = L.shape
    iu, ju = np.triu_indices(r, 1)
    B = np.zeros((iu.size, p, r))
    rows = np.arange(iu.size)
    B[rows, :, ju] = L[:, iu].T
    B[rows, :, iu] -= L[:, ju].T
    return B.reshape(iu.size, p * r)


class _Factored:
    """The Jacobi-scaled Newton matrix of one system, one block per output, each factored
    (Cholesky) with a shift within :data:`SHIFTS` that makes it positive definite (``ok`` False when
    none does for some block); :meth:`step` solves with them for any system's gradient and
    constraints (a chord step when the system is a later one: no new Hessian, the costly part)."""

    def __init__(self, system):
        self.blocks, self.shift = [], 0.0
        for k, members in system.outputs():
            Hs = system.hessian(k, members)  # (scaled in place)
            diag = np.abs(np.diag(Hs))
            d = np.sqrt(np.maximum(diag, 1e-12 * max(float(np.max(diag)), 1e-300)))
            Hs /= d[:, None]
            Hs /= d[None, :]
            shift = SHIFTS[0]
            while shift <= SHIFTS[-1]:
                shifted = Hs.copy(order="F")
                shifted[np.diag_indices_from(shifted)] += shift
                factor, info = sla.lapack.dpotrf(shifted, lower=1, clean=0, overwrite_a=1)
                if info == 0 and np.all(np.isfinite(np.diag(factor))):  # (LAPACK passes NaN through)
                    self.blocks.append((members, d, (factor, True)))
                    self.shift = max(self.shift, shift)
                    break
                # the failed pivot: a shift beyond its size raises it above zero (the Schur
                # complements grow by at least the shift), a later pivot may fail still
                pivot = abs(float(factor[info - 1, info - 1])) if info > 0 else np.inf
                larger = max(100.0 * shift, 2.0 * pivot + shift) if np.isfinite(pivot) else np.inf
                shift = min(larger, SHIFTS[-1]) if shift < SHIFTS[-1] else np.inf  # (the last: exactly the cap)
            else:
                self.ok = False
                return
        self.ok = True

    def step(self, system):
        """``(step, multiplier step, predicted decrease)`` for ``system``."""
        step, dlam = np.zeros_like(system.grad), np.zeros_like(system.c)
        for members, d, factor in self.blocks:
            cols = slice(system.offsets[members[0]], system.offsets[members[-1] + 1])
            gs, As = system.grad[cols] / d, system.A[members, cols] / d[None, :]
            Hg = sla.cho_solve(factor, gs, check_finite=False)
            HA = sla.cho_solve(factor, As.T, check_finite=False)
            dl = np.linalg.solve(As @ HA, As @ Hg - system.c[members])
            step[cols], dlam[members] = (HA @ dl - Hg) / d, dl
        return step, dlam, -float(system.grad @ step)


def rotate_face(problem, Z: np.ndarray, Z_prime: np.ndarray, *, max_iter: int = MAX_ITER,
                deadline: float | None = None, model=None):
    """Turn the face of ``(Z, Z_prime)`` (a face polish's point, ``(P, f+1, f+1)`` each) by Newton's
    method on its factors (see the module): full steps, no line search; after :data:`NEWTON_STEPS`
    Newton steps, chord steps with the last Newton matrix while the decrease they predict shrinks.
    The caller judges the point reached by what the
    network of its face proves: the objective and the trace conditions are no merit function here
    (planted 1000 x 50, beta = 1e-3: the first step leaves the conditions by 5e-4 and lowers the
    objective below the optimum, the next three converge to it; damped until an exact penalty
    function falls, the steps crawl: own gap 1e-6 after six instead of 1e-7 after four). ``model``:
    the lifted engine's objective (:func:`spectranet.solvers.lifted.objective_model`), whose
    gradient and Hessian blocks replace the passes over the data (any data and architecture; its
    Hessian is updated in place for a loss that is not quadratic: give a model of its own). Returns
    the turned point ``(Z, Z_prime)``, or None when it does not apply (:func:`applicable`), the
    first Newton matrix is not definite or ``deadline`` (a ``time.perf_counter()`` value) has passed;
    no new Newton matrix is formed after it."""
    if type(problem.data).__name__ == "TorchData" and model is None:
        problem = problem.on_host()
    if not applicable(problem, Z, Z_prime, model):
        return None
    cones, Ls = map(list, zip(*_factors(Z, Z_prime, problem.n_outputs)))
    system = _System(problem, cones, Ls, model=model)
    start, factored, newton, last = system.value, None, 0, np.inf
    for it in range(max_iter):
        chord = factored is not None and newton >= NEWTON_STEPS
        if not chord and deadline is not None and time.perf_counter() > deadline:
            if it == 0:
                return None
            break
        if not chord:
            factored, newton = _Factored(system), newton + 1
            if not factored.ok:  # (after a step: the point reached is the caller's to judge)
                logger.debug("face rotation: the Newton matrix is not definite at step %d", it)
                if it == 0:
                    return None
                break
        step, dlam, decrease = factored.step(system)
        if not np.isfinite(decrease) or (chord and abs(decrease) > last):  # (the chord steps diverge)
            break
        last = abs(decrease)
        logger.debug("face rotation %d (%s, shift %.0e): objective %.16g, predicted decrease %.2e, violation %.1e",
                     it, "chord" if chord else "Newton", factored.shift, system.value, decrease,
                     float(np.max(np.abs(system.c))))
        if abs(decrease) <= 1e-15 * max(abs(system.value), 1e-300) and np.all(
                np.abs(system.c) <= 1e-14 * max(float(np.max(np.abs(system.Z))), 1e-300)):
            break
        with np.errstate(over="ignore", invalid="ignore"):  # (an overflow is caught below, not warned of)
            turned = _System(problem, system.cones, [L + step[system.offsets[i]:system.offsets[i + 1]].reshape(
                L.shape) for i, L in enumerate(system.Ls)], system.lam + dlam, model)
        if not (np.isfinite(turned.value) and np.all(np.isfinite(turned.Z)) and np.all(np.isfinite(turned.grad))):
            break  # (an overflow: the last finite point)
        system = turned
    logger.debug("face rotation: objective %.16g -> %.16g", start, system.value)
    return system.Z[0], system.Z[1]
