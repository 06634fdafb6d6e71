r"""The face polish: from an interior-point iterate to the exact optimum on its optimal face.

An interior-point method stops in the relative interior of the cones: its :math:`Z` has every
eigenvalue positive, the ones that vanish at the optimum of order :math:`\mu`. Its network is then
wider than an optimum needs (each such eigenvalue is a small neuron), and its outputs are right
only to about the duality gap, so the network's *own* gradient — the dual point anyone can
compute from the network and the data — certifies it only to about the square root of that.

The optimal face is visible in the iterate: an eigenvector :math:`q` of :math:`Z` belongs to the
range of the optimal :math:`Z` when its eigenvalue exceeds the curvature :math:`q^\top S q` of the
dual slack in the same direction (at the central path :math:`\lambda_i(Z) \cdot q_i^\top S q_i
\approx \mu`). With the basis :math:`P` of those eigenvectors, :math:`Z = P\hat W P^\top`, and on
the face the program is **smooth**: minimize

.. math:: \ell\Big(\sum_b \pm \langle P_b^\top A_i P_b, \hat W_b\rangle\Big)
          + \beta \sum_b \langle P_b^\top E P_b, \hat W_b\rangle
          \quad\text{s.t.}\quad \langle P_b^\top G P_b, \hat W_b\rangle = 0,

over small symmetric :math:`\hat W_b` (order ``rank`` each), which Newton's method solves to
rounding (one step for the squared loss). Where the optimum of the face lies inside it
(:math:`\hat W_b \succ 0`), it is the optimum of (21), and the network of :math:`P\hat W P^\top`
certifies itself. Then **Pataki's reduction** moves :math:`\hat W` along directions that change
neither the outputs, the trace conditions nor the penalty until an eigenvalue vanishes, as long
as there are such directions: the same objective with fewer neurons.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import scipy.linalg as sla

from .face_data import _FaceData, _FaceGram, _rect_skron
from .kernels import cone_matrices, smat, svec

__all__ = ["face_polish", "face_basis", "FaceResult"]

logger = logging.getLogger(__name__)

MAX_OUTER = 200  #: Newton steps and boundary moves on the face at most
#: Newton's method on the face stops when the predicted decrease, or the decrease of its last step,
#: is below this fraction of the objective (steps cut short by the boundary of the face can
#: otherwise creep: spambase, 1e-4 beta_max, 150 steps of 3.5e-12 each at an objective of 398)
NEWTON_TOL = 1e-14
#: and after CREEP_STEPS Newton steps in a row that each predict less than CREEP_TOL of it (MNIST 0/1,
#: squared, 1e-5 beta_max, before the refinement below and gelsy: 200 steps of 1.1e-12 at 16, 88 s)
CREEP_TOL, CREEP_STEPS = 1e-12, 3
#: a face whose optimum has an eigenvalue below this fraction of the largest is not the optimal face
INTERIOR = 1e-12
#: Pataki's reduction moves along a direction whose effect on the outputs, the trace conditions and
#: the penalty is below this fraction of the map's norm (a null vector to rounding)
NULL = 1e-13
#: a constraint row of a vanished eigenvector (norm between 1/sqrt(2) and 1) adds a direction
#: to the row space where its part off it is at least this long
NEW_ROW = 1e-8
CONDITION_MARGIN = 1e2  #: see :func:`_clearly_regular`: dtrcon's estimate exceeds it times N * NULL
#: the face's Newton (KKT) system: singular values below this fraction of the largest count as zero
KKT_RCOND = 1e-14
#: its solve: equilibrated (Jacobi on the Hessian, unit constraint rows: the truncation is relative
#: to each direction's scale; CIFAR-10 GAP CNN at 1e-6 beta_max, both losses: the first face polish
#: certifies itself with either driver, unscaled one of them fell short on each; 76 planted fits:
#: the same own gaps, 3 narrower networks), then a QR with column pivoting (``gelsy``, half the time
#: of the SVD). No LU: the system is nearly singular along directions the outputs hardly see.
KKT_DRIVER = "gelsy"
#: Newton steps with one Newton matrix for a quadratic loss: the first is exact to rounding, the next
#: (a fresh gradient) confirm it (planted 1000 x 50, beta = 1e-3, on passes: 0.73 -> 0.65 s a fit)
REFINE = 3


class FaceResult:
    """The polished point: ``Z``, ``Z_prime`` (P, f+1, f+1), ``network``, ``reductions`` (Pataki's)."""

    def __init__(self, Z, Z_prime, network, reductions):
        self.Z, self.Z_prime, self.network, self.reductions = Z, Z_prime, network, reductions


def face_basis(Z: np.ndarray, S: np.ndarray) -> np.ndarray:
    """Orthonormal basis (``p x r``) of the eigenvectors of ``Z`` whose eigenvalue exceeds the dual
    slack's curvature :math:`q^\\top S q` in the same direction (the range of the optimal Z)."""
    lam, Q = np.linalg.eigh(0.5 * (Z + Z.T))
    curvature = np.einsum("ji,jk,ki->i", Q, 0.5 * (S + S.T), Q)
    keep = lam > np.maximum(curvature, 0.0)
    return Q[:, keep]


def dominant_basis(Z: np.ndarray, top: float) -> np.ndarray:
    """Orthonormal basis of the eigenvectors of ``Z`` whose eigenvalue is at least ``DOMINANT``
    times ``top`` (the largest eigenvalue of all blocks): the face to try when no block shows one."""
    lam, Q = np.linalg.eigh(0.5 * (Z + Z.T))
    return Q[:, lam >= DOMINANT * top]


#: see :func:`dominant_basis`
DOMINANT = 1e-2


def _cone_basis(Z: np.ndarray, S: np.ndarray, top: float | None = None) -> np.ndarray | None:
    r"""A basis of the iterate's face made of vectors on the cone :math:`y^\top G y = 0`: the cone
    factors (neural decomposition) of the projection of ``Z`` on :func:`face_basis` (on
    :func:`dominant_basis` with ``top``). In this basis
    ``Z = Y W Y^T`` with ``W = I`` satisfies the trace condition exactly and every diagonal ``W`` does
    too; an orthonormal basis of an approximate face may admit no feasible point but zero (rank
    one: its vector is off the cone by rounding). None when the factors do not span the face."""
    from .decomposition import cone_factors

    P = face_basis(Z, S) if top is None else dominant_basis(Z, top)
    if P.shape[1] == 0:
        return P
    Zf = P @ (P.T @ Z @ P) @ P.T
    Y = cone_factors(0.5 * (Zf + Zf.T), rank_tol=1e-14, validate=False).T
    if Y.shape[1] != P.shape[1] or np.linalg.matrix_rank(Y) < P.shape[1]:
        return None
    Y[-1] = np.linalg.norm(Y[:-1], axis=0)  # exactly on the cone: y = sqrt(w) (u, 1), |u| = 1
    return Y


def face_polish(problem, Z: np.ndarray, Z_prime: np.ndarray, S: np.ndarray, S_prime: np.ndarray,
                *, lean: bool = True, model=None, deadline: float | None = None) -> FaceResult | None:
    """Solve (21) on the face of the iterate ``(Z, Z_prime)`` with dual slacks ``(S, S_prime)``
    (all ``(P, f+1, f+1)``), then (``lean``) reduce its rank by Pataki's steps. ``model``: the
    lifted engine's objective with its sufficient statistics (squared loss), used instead of
    passes over the data (torch data without it: the passes on the problem's float64 host copy).
    Returns None when the face's program has no optimum inside the face (the iterate did not show
    the optimal face), for Dask data without ``model``, or once past ``deadline`` (a
    ``time.perf_counter()`` value: no pass and no Newton step starts after it)."""
    kind = type(problem.data).__name__
    gram = model is not None and getattr(model, "root", None) is not None
    if kind == "TorchData" and not gram:  # the face Jacobian's passes on the float64 host copy
        problem, kind = problem.on_host(), "HostData"
    if (kind not in ("HostData", "GroupedData") and not gram) or not problem.loss.smooth:
        return None
    f, P = problem.n_features, problem.n_pairs
    pairs = [(M, T) for Zs, Ss in ((Z, S), (Z_prime, S_prime)) for M, T in zip(Zs, Ss)]
    bases, kept = _bases(pairs, P)
    if bases is not None and not kept and (np.any(Z) or np.any(Z_prime)):
        # no block shows its face: the iterate's eigenvalues have not separated yet (beta within
        # 1e-4 of beta_max: the gap is met while the one optimal eigenvalue is still below the others'
        # curvature; 22 tiny neurons instead of 1): try the dominant eigenvectors (the caller keeps
        # the result only where it certifies itself)
        top = max(float(np.linalg.eigvalsh(0.5 * (M + M.T))[-1]) for M, _ in pairs)
        bases, kept = _bases(pairs, P, top)
    if bases is None or not kept:
        return None
    sizes = [bases[b].shape[1] * (bases[b].shape[1] + 1) // 2 for b in kept]
    N = int(sum(sizes))
    Gm, E = cone_matrices(f)
    offsets = np.cumsum([0] + sizes)
    c_pen, A_eq = np.zeros(N), []
    for i, b in enumerate(kept):
        B, cols = bases[b], slice(offsets[i], offsets[i + 1])
        c_pen[cols] = svec(B.T @ E @ B)
        if B.shape[1] > 1:  # (one vector on the cone: every multiple of it is feasible)
            row = np.zeros(N)
            row[cols] = svec(B.T @ Gm @ B)
            A_eq.append(row)
    A_eq = np.array(A_eq).reshape(-1, N)
    if deadline is not None and time.perf_counter() > deadline:
        return None
    data = _FaceGram(problem, bases, kept, sizes, model) if gram else _FaceData(problem, bases, kept, sizes)
    # start: the iterate projected on the face, W = I in the basis of its cone factors
    solved = _FaceProblem(problem, data, A_eq, c_pen, sizes).solve(
        [np.eye(bases[b].shape[1]) for b in kept], lean=lean, deadline=deadline)
    if solved is None:
        return None
    W_list, reductions = solved
    Zs, Zps = np.zeros_like(Z), np.zeros_like(Z_prime)
    for b, Wb in zip(kept, W_list):
        lam, Q = np.linalg.eigh(0.5 * (Wb + Wb.T))
        Wb = (Q * np.clip(lam, 0.0, None)) @ Q.T
        full = bases[b] @ Wb @ bases[b].T
        (Zs if b % 2 == 0 else Zps)[b // 2] = 0.5 * (full + full.T)
    from .decomposition import neural_decomposition

    firsts, seconds = [np.zeros((0, f))], [np.zeros((0, P))]
    for p in range(P):
        try:
            U, alpha = neural_decomposition(Zs[p], Zps[p], rank_tol=1e-13)
        except ValueError as exc:  # the face's solution left the spectrahedron: not usable
            logger.debug("face polish: no neural decomposition (%s)", exc)
            return None
        A = np.zeros((len(alpha), P))
        A[:, p] = alpha
        firsts.append(U)
        seconds.append(A)
    network = problem.make_network(np.vstack(firsts), np.vstack(seconds))
    logger.debug("face polish: ranks %s, %d reductions, %d neurons", [bases[b].shape[1] for b in kept],
                 reductions, network.n_neurons)
    return FaceResult(Zs, Zps, network, reductions)


def _bases(pairs, P: int, top: float | None = None):
    """The cone bases of the blocks ``pairs`` (``(Z, S)`` of the ``P`` first cones, then of the ``P``
    second ones) in the order ``b = 2 p + s``, and the blocks with a non-empty basis; ``(None, [])``
    when a block's cone factors do not span its face."""
    blocks = [_cone_basis(M, T, top) for M, T in pairs]
    bases = [blocks[s * P + p] for p in range(P) for s in range(2)]
    if any(B is None for B in bases):
        return None, []
    return bases, [b for b, B in enumerate(bases) if B.shape[1]]


def _null_space(R: np.ndarray, triangular: bool = False) -> np.ndarray:
    """The rows of an orthonormal basis of the numerical null space of ``R`` (singular values at
    most ``NULL`` times the largest); the singular vectors are computed only when there is one.
    A square upper-triangular ``R`` (``triangular``) that :func:`_clearly_regular` finds has none,
    without its singular values (planted 1000 x 50, beta = 1e-3: an SVD of order 453 that finds
    none, 0.02-0.08 s a face polish)."""
    if triangular and R.shape[0] == R.shape[1] and R.size and _clearly_regular(R):
        return np.zeros((0, R.shape[1]))
    if R.shape[0] >= R.shape[1] and R.size:
        sv = sla.svdvals(R)
        if sv[-1] > NULL * sv[0]:
            return np.zeros((0, R.shape[1]))
    _, sv, Vt = np.linalg.svd(R)
    return Vt[np.r_[sv, np.zeros(Vt.shape[0] - sv.size)] <= NULL * (sv[0] if sv.size else 1.0)]


def _off_rows(x: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """``x`` (columns) projected off the span of the orthonormal rows ``basis`` (twice: they are
    orthonormal to rounding only)."""
    for _ in range(2):
        x = x - basis.T @ (basis @ x)
    return x


def _clearly_regular(R: np.ndarray) -> bool:
    """Whether the square upper-triangular ``R`` has no singular value below ``NULL`` times the
    largest, by two O(N^2) estimates that must both say so (either alone can be fooled; the SVD
    decides otherwise): LAPACK's ``dtrcon`` (the reciprocal 1-norm condition, at least the ratio of
    the extreme singular values over N; a lower bound from fixed start vectors: off by at most 1.8
    on the face polishes' factors and Kahan matrices, by 4e8 on one built against those vectors),
    and two Gaussian right-hand sides (a fixed seed): a solve with ``R`` sees the smallest singular
    direction with a component of at least 1e-2 times the average with probability 0.99 each, so
    ``||R||_F`` times the larger ``||R^{-1} b|| / ||b||`` times ``100 sqrt(N)`` bounds the condition
    number but with probability below 1e-4."""
    N = R.shape[0]
    rcond, info = sla.lapack.dtrcon(R, norm="1", uplo="U", diag="N")
    if info != 0 or not rcond > CONDITION_MARGIN * N * NULL:
        return False
    b = np.random.default_rng(0).standard_normal((N, 2))
    x = sla.solve_triangular(R, b, lower=False, check_finite=False)
    inverse = float(np.max(np.linalg.norm(x, axis=0) / np.linalg.norm(b, axis=0)))
    return bool(np.isfinite(inverse) and np.linalg.norm(R) * inverse * 100.0 * np.sqrt(N) < 1.0 / NULL)


class _FaceProblem:
    """The program on the face, in the coordinates of each block's current range.

    Variables: one symmetric ``W_b`` per block (``Z_b = Y_b W_b Y_b^T``), kept positive semidefinite;
    the Jacobian of the outputs comes from :class:`_FaceData`, ``A_eq`` (m, N) holds the trace
    conditions and ``c_pen`` (N,) the penalty. :meth:`solve` alternates two moves until Newton's
    method converges inside the current ranges:

    * along the null space of (outputs, trace conditions) — directions that change no output —
      the objective is linear: a direction that lowers the penalty is followed to the boundary of
      the cone (an eigenvalue vanishes: a narrower face); with ``lean``, any null direction is (in
      either sense): Pataki's reduction, at the same objective;
    * Newton's method on the range (the system is then consistent; its least-squares solution
      ignores the null space), each step cut at the boundary of the cone.
    """

    def __init__(self, problem, data, A_eq, c_pen, sizes):
        self.problem, self.data, self.A_eq, self.c_pen = problem, data, A_eq, c_pen
        self.offsets = np.cumsum([0] + list(sizes))

    def _coordinates(self, W):
        """Each block's range ``(Q_b, lam_b)``, the map ``M`` (N x width) of the range coordinates
        to the face coordinates, and the current point in range coordinates."""
        ranges, maps = [], []
        eig = [np.linalg.eigh(0.5 * (Wb + Wb.T)) for Wb in W]
        top = max([float(lam[-1]) for lam, _ in eig if lam.size] + [1e-300])  # one scale for all blocks
        for Wb, (lam, Q) in zip(W, eig):
            keep = lam > INTERIOR * top
            ranges.append((Q[:, keep], lam[keep]))
            maps.append(_rect_skron(Q[:, keep]) if keep.any() else np.zeros((Wb.shape[0] * (Wb.shape[0] + 1) // 2, 0)))
        M = sla.block_diag(*maps) if len(maps) > 1 else maps[0]
        v = np.concatenate([svec(np.diag(lam)) for _, lam in ranges]) if M.shape[1] else np.zeros(0)
        return ranges, M, v

    @staticmethod
    def _split(v, ranges):
        out, i = [], 0
        for Q, _ in ranges:
            r = Q.shape[1]
            size = r * (r + 1) // 2
            out.append(smat(v[i:i + size], r) if r else np.zeros((0, 0)))
            i += size
        return out

    def _boundary(self, v, delta, ranges, both: bool, floor: float | None = None):
        """The step ``t`` along ``delta`` at which the first eigenvalue of a block vanishes (the
        positive sense; with ``both``, the shorter of the two senses); None if there is none.
        With ``floor``, only on the eigenvectors of each block whose eigenvalue exceeds it (those
        below have vanished already, and ``delta`` leaves them alone)."""
        steps = []
        for V, D in zip(self._split(v, ranges), self._split(delta, ranges)):
            if V.size == 0:
                continue
            lam, Q = np.linalg.eigh(V)
            if floor is not None:
                lam, Q = lam[lam > floor], Q[:, lam > floor]
            root = 1.0 / np.sqrt(np.clip(lam, 1e-300, None))
            ev = np.linalg.eigvalsh((Q.T @ D @ Q) * root[:, None] * root[None, :])
            steps += [-1.0 / e for e in ev if e != 0.0]
        pos = [t for t in steps if t > 0]
        neg = [-t for t in steps if t < 0]
        if not both:
            return min(pos) if pos else None
        best = min(pos + neg) if pos + neg else None
        return None if best is None else (best if best in pos else -best)

    def _reduce_wide(self, v, ranges, L, cr, lean: bool):
        r"""Pataki's reduction along the null space of a wide ``L`` (a face with more coordinates
        than outputs and trace conditions), every boundary move from one factorization: the null
        space is the complement of ``L``'s row space, and a move that makes the eigenvector ``q`` of
        a block vanish adds the rows :math:`D \mapsto (Dq)_i` of that block to it (the next moves
        leave ``q`` in the kernel). ``(v, moves)``; None when the penalty falls without bound.
        Before, each move factored ``L`` anew: planted 1000 x 50, logistic, 1e-8 beta_max, 50
        moves of an SVD of order up to 2652, 190 s."""
        _, sv, Vt = np.linalg.svd(L, full_matrices=False)
        basis = Vt[sv > NULL * sv[0]] if sv.size and sv[0] > 0 else np.zeros((0, L.shape[1]))
        kept_out = [np.zeros((Q.shape[1], 0)) for Q, _ in ranges]  # per block: the vanished vectors so far
        noise, moves = np.random.default_rng(0), 0
        while basis.shape[0] < L.shape[1]:
            g_null = _off_rows(cr, basis)
            both = np.linalg.norm(g_null) <= NULL * np.linalg.norm(cr)
            if both and not lean:
                break
            delta = _off_rows(noise.standard_normal(cr.size), basis) if both else -g_null
            top = max(float(np.max(np.linalg.eigvalsh(V), initial=0.0)) for V in self._split(v, ranges))
            t = self._boundary(v, delta, ranges, both=both, floor=INTERIOR * top)
            if t is None:
                return None if not both else (v, moves)
            v, moves = v + t * delta, moves + 1
            rows, offset = [], 0
            for b, V in enumerate(self._split(v, ranges)):
                r = V.shape[0]
                lam, Q = np.linalg.eigh(V) if r else (np.zeros(0), np.zeros((0, 0)))
                gone = Q[:, lam <= INTERIOR * top]  # (in any order: the new ones are the part off kept_out)
                fresh, s_fresh, _ = np.linalg.svd(gone - kept_out[b] @ (kept_out[b].T @ gone), full_matrices=False)
                for q in fresh[:, s_fresh > 0.5].T:  # the rows (D q)_i = <svec(D), svec(sym(q e_i^T))>
                    block = np.zeros((r, cr.size))
                    block[:, offset:offset + r * (r + 1) // 2] = svec(0.5 * (q[None, :, None] * np.eye(r)[:, None, :]
                                                                           + q[None, None, :] * np.eye(r)[:, :, None]))
                    rows.append(block)
                    kept_out[b] = np.column_stack([kept_out[b], q])
                offset += r * (r + 1) // 2
            if not rows:
                break
            _, s_new, Vt_new = np.linalg.svd(_off_rows(np.vstack(rows).T, basis).T, full_matrices=False)
            basis = np.vstack([basis, Vt_new[s_new > NEW_ROW]])  # (unit rows: the new directions)
        return v, moves

    def _apply(self, v, ranges):
        return [Q @ V @ Q.T for (Q, _), V in zip(ranges, self._split(v, ranges))]

    def _kkt(self, M, Hr):
        """The minimum-norm least-squares solve (``KKT_RCOND``) of the Newton (KKT) system in the range
        coordinates ``M`` (singular along directions no output sees; ``Hr``: the Hessian in them),
        equilibrated (``KKT_DRIVER``)."""
        Ar = self.A_eq @ M
        m, width = Ar.shape[0], M.shape[1]
        h = np.sqrt(np.abs(np.diag(Hr)))
        top = float(h.max(initial=0.0))
        h = 1.0 / np.where(h > 1e-12 * top, h, top if top > 0 else 1.0)
        rows = np.linalg.norm(Ar * h, axis=1)
        D = np.concatenate([h, 1.0 / np.where(rows > 0, rows, 1.0)])
        K = np.block([[0.5 * (Hr + Hr.T), Ar.T], [Ar, np.zeros((m, m))]]) * D[:, None] * D[None, :]

        def solve(rhs):
            b = np.concatenate([rhs, np.zeros(m)]) * D
            return (D * sla.lstsq(K, b, cond=KKT_RCOND, lapack_driver=KKT_DRIVER, check_finite=False)[0])[:width]

        return solve

    def _newton(self, v, M, ranges, current):
        """Newton steps from ``v`` in the range coordinates ``M``: one (damped, cut at the boundary
        of the cone) for a loss that is not quadratic; for a quadratic one, up to ``REFINE`` steps
        with the same Newton matrix and a fresh gradient (iterative refinement, which also detects
        convergence). ``current``: the objective before the last step (a step that lowers it by
        less than ``NEWTON_TOL`` ends the method, after the step itself when it stays inside the
        cone: the objective cannot tell the steps apart any more, while the gradient, the network's
        own dual point, still shrinks; softmax at 1e-4 beta_max: own gap 1.4e-5 without it, 2.5e-12
        with it). The damped steps count an objective within ``NEWTON_TOL`` of it as unchanged.
        Returns ``(v, converged, current)``."""
        beta, quadratic = self.problem.beta, self.data.quadratic
        loss_value, g, Hr = self.data.derivatives(M @ v, M=M)
        solve = self._kkt(M, Hr)
        for _ in range(REFINE if quadratic else 1):
            value = loss_value + beta * float(self.c_pen @ (M @ v))
            gr = M.T @ (g + beta * self.c_pen)
            step = solve(-gr)
            decrease = -float(gr @ step)
            logger.debug("face newton: objective %.16g, decrease %.2e, width %d", value, decrease, v.size)
            t_max = self._boundary(v, step, ranges, both=False)
            alpha = 1.0 if t_max is None or t_max > 1.0 else t_max
            self.creep = self.creep + 1 if decrease <= CREEP_TOL * abs(value) else 0
            if decrease <= NEWTON_TOL * max(abs(value), 1e-300) or self.creep >= CREEP_STEPS or (
                    current is not None and current - value <= NEWTON_TOL * abs(value)):
                # converged to the objective's rounding: the last full step inside the cone still
                # divides the gradient (the network's own dual point) by its size
                return (v + step if alpha == 1.0 else v), True, current
            current = value
            flat = NEWTON_TOL * abs(value)  # an objective that moved by less is unchanged (rounding)
            for _ in range(0 if quadratic else 40):  # a damped step for the other losses
                trial = v + alpha * step
                trial_value = float(self.problem.loss.value(self.data.outputs(M @ trial), self.problem.Y))
                if trial_value + beta * float(self.c_pen @ (M @ trial)) <= value - 1e-4 * alpha * decrease + flat:
                    break
                alpha *= 0.5
            v = v + alpha * step
            if alpha < 1.0 or not quadratic:  # the ranges change, or so does the Newton matrix
                break
            loss_value, g, _ = self.data.derivatives(M @ v)
        return v, False, current

    def solve(self, W, *, lean: bool, deadline: float | None = None):
        """``(W_b list, reductions)`` at the optimum on the face, or None when there is none (or
        once past ``deadline``)."""
        reductions, current, self.creep = 0, None, 0
        for _ in range(MAX_OUTER):
            if deadline is not None and time.perf_counter() > deadline:
                logger.debug("face polish: out of time")
                return None
            ranges, M, v = self._coordinates(W)
            if v.size == 0:
                return W, reductions
            cr = self.c_pen @ M
            L = np.vstack([self.data.R @ M, self.A_eq @ M])
            if L.shape[0] < L.shape[1]:  # a null space of at least the excess: all of it in one go
                moved = self._reduce_wide(v, ranges, L, cr, lean)
                if moved is None:
                    return None
                if moved[1]:
                    W, reductions = self._apply(moved[0], ranges), reductions + moved[1]
                    continue
            tall = L.shape[0] > L.shape[1]
            Rl = np.linalg.qr(L, mode="r") if tall else L
            null = _null_space(Rl, triangular=tall)
            if null.size:
                g_null = null @ cr
                t, delta = None, None
                if np.linalg.norm(g_null) > NULL * np.linalg.norm(cr):  # the penalty falls along them
                    delta = -null.T @ g_null
                    t = self._boundary(v, delta, ranges, both=False)
                    if t is None:
                        return None  # unbounded: not a face of an optimum
                elif lean:
                    delta = null[0]
                    t = self._boundary(v, delta, ranges, both=True)
                if t is not None:
                    W = self._apply(v + t * delta, ranges)
                    reductions += 1
                    continue
            # Newton's method in the range coordinates
            v, done, current = self._newton(v, M, ranges, current)
            if done:
                return self._apply(v, ranges), reductions
            W = self._apply(v, ranges)
        return None
