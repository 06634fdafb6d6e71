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
stay dual feasible, so every reported dual objective is a lower bound, up to rounding (a ``V``
that rounding moved out of the conjugate's domain, at saturated samples, is measured at its
projection); the certificate of the extracted network is exact.

Since :math:`A_i = L_i C_\sigma L_i^\top` has rank two, :math:`K_{ij} = \langle A_i, W A_j W\rangle`
costs :math:`O(n^2 d)` (:func:`kernel_matrix`) and each Newton system reduces to positive
definite systems of order :math:`n` per output (:math:`nC` for softmax, solved through ``C`` of
order :math:`n`), see :class:`_Newton`. Memory :math:`O(n^2 C + C d^2)` (:math:`O(n^2 C^2)` for
another multi-output loss): the ``n x (d+1)^2`` lifted matrix is never formed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla

from .._blas import single_threaded_blas, single_threaded_numpy_blas
from ..kernels import cone_matrices
from ._conic import Stall, start_penalty
from ._conic import sym as _sym
from ._schur import kernel_matrix
from .ipm_newton import _Step

__all__ = ["LOSSES", "MAX_SCHUR", "LiftedSolution", "kernel_matrix", "solve_lifted", "supports"]

logger = logging.getLogger(__name__)

#: largest order of a Schur matrix accepted by :func:`supports` (6000: 288 MB in float64)
MAX_SCHUR = 6000
#: beyond MAX_SCHUR, losses separable over outputs run in *low-memory mode* up to this order: the
#: Schur matrix is the only n x n array (its kernel formed in place and factored in place, the
#: kernel's products taken matrix-free, no eigen-split: 20000 is 3.2 GB); MNIST 0/1, n = 12665
MAX_SCHUR_LOW_MEMORY = 20000
#: the losses of the library it handles: twice differentiable ones through their gradient and
#: Hessian, the others through the box form of their dual (:meth:`Loss.dual_box
#: <spectranet.losses.Loss.dual_box>`, a primal–dual barrier on the box); a user's loss qualifies
#: by the same two properties
LOSSES = ("squared", "logistic", "softmax", "huber", "absolute", "hinge")
#: Schur orders up to which BLAS runs single-threaded (see :func:`solve_lifted`)
SINGLE_THREAD_ORDER = 2500
#: fraction of the step to the boundary of the cones
STEP_FRACTION = 0.99
#: the centering parameter keeps mu above KAPPA * mu_0 * (residual / residual_0)
KAPPA = 0.1
#: the split is used only once the relative duality gap is below SPLIT_GAP: before, the explicit
#: system is accurate enough, and the split costs up to 4x an iteration (1000 x 50 squared loss,
#: beta = 1e-3: 0.93 s instead of 1.70 s to a gap of 1e-7, same iterates; without the split it
#: stalls at 2e-8)
SPLIT_GAP = 1e-7
#: ... or once an iteration at a relative gap below STALL_SPLIT_GAP has cut the gap by less than 10 %
#: (the explicit system's accuracy exhausted above SPLIT_GAP: digits, softmax, at 1e-6 beta_max,
#: stalled at 1.5e-7 for 6 iterations and stopped with a network proving 5e-6 by itself; split from
#: the first such iteration on, it reaches 3.5e-9 two iterations later and its network certifies
#: itself: 83 s -> 72 s; at 1e-5 beta_max, 101 s -> 65 s)
STALL_SPLIT_GAP = 1e-6
#: iterative refinement of the Newton systems (two steps) once the relative gap is below
#: REFINE_GAP; far from the optimum the directions need no such accuracy (same iterates on the
#: planted and UCI instances, 20 % less time per early iteration)
REFINE_GAP = 1e-3
#: a relative link residual at which a dual point outside the conjugate's domain is there by
#: rounding only, and is measured at its projection onto the domain
ROUNDED_LINK = 1e-8
#: without an iterate whose equality meets tol, the best one within LOOSE_EQ (one far off has no network:
#: planted 300 x 20, squared, 1e-12 beta_max crawled for 300 iterations at 5e-8, then diverged)
LOOSE_EQ = 1e-6
#: iterations without progress on the duality gap before stopping (double precision exhausted;
#: progress: :data:`~spectranet.solvers._conic.STALL_FACTOR`; far from the optimum a falling link
#: residual counts too: the hinge loss at 1e-5 beta_max, from its infeasible start, stopped at a gap
#: of 0.95 without it)
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


def supports(problem, max_schur: int | None = None, max_low_memory: int | None = None) -> bool:
    """Whether :func:`solve_lifted` handles ``problem``: a loss of :data:`LOSSES` (or any with their
    properties: twice differentiable, or with a dual box), ``beta > 0``
    (the dual has no interior otherwise) and Schur matrices of order at most ``max_schur``
    (``n`` for losses separable over outputs, one per output; ``n`` for softmax too, with
    :func:`softmax_entries` at most ``max_low_memory ** 2``; ``n * C`` for another multi-output
    loss), or up to ``max_low_memory`` in low-memory mode (separable losses). Dense architecture
    only: its constraint matrices have rank two (a pooled group's have rank up to the pool size, a
    patch network has one pair per patch). The limits default to the module's."""
    max_schur = MAX_SCHUR if max_schur is None else max_schur
    max_low_memory = MAX_SCHUR_LOW_MEMORY if max_low_memory is None else max_low_memory
    if not (problem.architecture.is_dense and _handled(problem.loss) and problem.beta > 0):
        return False
    if softmax_form(problem):
        return problem.n_samples <= max_schur and softmax_entries(problem) <= max_low_memory ** 2
    order = problem.n_samples * (problem.n_outputs if problem.loss.multi_output_only else 1)
    return order <= (max_schur if problem.loss.multi_output_only else max(max_schur, max_low_memory))


def softmax_form(problem) -> bool:
    """Whether the loss's Hessian has the softmax form (:mod:`~spectranet.solvers._schur_softmax`)."""
    Y = problem.Y[:1]
    return problem.loss.multi_output_only and problem.loss.hessian_simplex(np.zeros_like(Y), Y) is not None


def softmax_entries(problem) -> int:
    """Floats of the softmax Schur systems: the C kernels, their factors and E (3 C n^2), and one n^2."""
    return (3 * problem.n_outputs + 1) * problem.n_samples ** 2


def _handled(loss) -> bool:
    """A loss the method handles: twice differentiable (its Hessian), or with a dual box."""
    if loss.smooth and loss.twice_differentiable:
        return True
    return loss.dual_box(np.zeros((1, 1))) is not None


def low_memory(problem) -> bool:
    """Whether :func:`solve_lifted` runs ``problem`` in low-memory mode (:data:`MAX_SCHUR_LOW_MEMORY`)."""
    return problem.n_samples > MAX_SCHUR and not problem.loss.multi_output_only


def solve_lifted(problem, *, tol: float = 1e-9, max_iter: int = 100, verbose: bool = False,
                 callback=None, accept=None, accept_gap: float = 0.0, deadline: float | None = None) -> LiftedSolution:
    r"""Solve the lifted program (21) by a primal–dual interior-point method (see
    :func:`_solve_lifted`); BLAS runs single-threaded for Schur orders up to
    :data:`SINGLE_THREAD_ORDER`, where threads gain little and, on a busy machine, cost up to 5x
    (measured: credit-approval, 10.4 s with two threads on two busy cores, 1.9 s with one); above,
    numpy's BLAS (where it is not scipy's) runs single-threaded, the factorizations and kernel
    products threaded in scipy's (:func:`~spectranet._blas.single_threaded_numpy_blas`: a 500 x 10
    softmax fit of 10 classes, 9.4 s -> 5.7 s; spambase, logistic, 1e-6 beta_max, 84 s -> 60 s)."""
    order = problem.n_samples * (problem.n_outputs if problem.loss.multi_output_only else 1)
    with single_threaded_blas(order <= SINGLE_THREAD_ORDER), single_threaded_numpy_blas(order > SINGLE_THREAD_ORDER):
        return _solve_lifted(problem, tol=tol, max_iter=max_iter, verbose=verbose, callback=callback,
                             accept=accept, accept_gap=accept_gap, deadline=deadline)


def _solve_lifted(problem, *, tol: float = 1e-9, max_iter: int = 100, verbose: bool = False,
                  callback=None, accept=None, accept_gap: float = 0.0, deadline: float | None = None) -> LiftedSolution:
    r"""Solve the lifted program (21) by a primal–dual interior-point method.

    Nesterov–Todd scaling, Mehrotra predictor–corrector (step fraction :data:`STEP_FRACTION`,
    centering kept above :data:`KAPPA` times the relative link residual), dual-feasible start;
    see the module docstring and :class:`_Newton`. Smooth losses (squared, logistic, softmax)
    enter through their gradient and Hessian. The others (Huber, absolute, hinge) through the box
    form of their dual (:meth:`Loss.dual_box <spectranet.losses.Loss.dual_box>`), with slacks
    :math:`s = (V - lo, hi - V)` and multipliers :math:`t` in the complementarity: the link becomes
    :math:`\hat Y - Y + qV - t_{lo} + t_{hi} = 0`, whose Newton step has the form of the smooth
    case with the positive diagonal Hessian :math:`(q + t_{lo}/s_{lo} + t_{hi}/s_{hi})^{-1}`.
    For a non-quadratic smooth loss (logistic, softmax), whose link is nonlinear, the step is
    halved until the link residual decreases (saturated samples have a vanishing Hessian and invite long steps).
    The best iterate is returned; the solve stops after :data:`STALL` iterations without progress
    (the limit of double precision, reached near a relative gap of 1e-10).
    Each iteration: :math:`O(n^2 d + n^3 + C d^3)` per output, one Cholesky and a few solves.

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
        ``accept(Z, Z_prime, S, S_prime, V, gap=gap)`` on each iterate whose relative gap is at most ``accept_gap``
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
    _refuse_unsupported(problem)
    log = logger.info if verbose else logger.debug
    method, stalled = _PathFollowing(problem), Stall(STALL)
    x = method.start()
    history, status, best, loose, first, it = [], "max_iter", None, None, None, 0
    for it in range(max_iter + 1):
        m = method.measure(x)
        history.append((time.perf_counter() - method.clock, m.primal, m.dual))
        log("ipm %3d: primal %.12g dual %.12g gap %.2e link %.1e eq %.1e mu %.2e", it, m.primal,
            m.dual, m.gap, m.res, m.pres, m.mu)
        best, loose = _kept(best, loose, m, it, x, tol)
        if m.gap <= tol and m.pres <= tol:
            status = "optimal"
            break
        if (accept is not None and m.gap <= accept_gap and m.pres <= accept_gap
                and accept(x.Z[:, 0], x.Z[:, 1], x.S[:, 0], x.S[:, 1], x.V, gap=m.gap)):
            status, best = "optimal", None
            log("ipm: iterate %d accepted by the caller", it)
            break
        if it == max_iter or (callback is not None and callback(it, m.primal, m.dual)):
            break
        if deadline is not None and time.perf_counter() > deadline:
            status = "time_limit"
            log("ipm: time limit reached")
            break
        if (best or loose) is not None and stalled(m.primal - m.dual, m.gap, it, m.res):
            status = "numerical"
            log("ipm: no progress in %d iterations (double precision exhausted)", STALL)
            break
        first = first or (max(m.res, 1e-300), m.mu)
        try:
            d, alpha = method.direction(x, m, first)
        except (np.linalg.LinAlgError, sla.LinAlgError) as exc:
            status = "numerical"
            log("ipm: factorization failed (%s); stopping", exc)
            break
        x = x.moved(method.step_length(x, m, d, alpha), d)
        if not x.finite():
            status = "numerical"
            break
    primal, dual = m.primal, m.dual
    best = best or (loose if m.pres > LOOSE_EQ else None)
    if best is not None and best[1] != it:
        _, it_best, x, primal, dual = best
        log("ipm: returning iterate %d (best duality gap %.2e)", it_best, best[0])
    return LiftedSolution(Z=np.ascontiguousarray(x.Z[:, 0]), Z_prime=np.ascontiguousarray(x.Z[:, 1]),
                          dual=x.V, objective=primal, dual_objective=dual, iterations=it,
                          status=status, history=history, S=np.ascontiguousarray(x.S[:, 0]),
                          S_prime=np.ascontiguousarray(x.S[:, 1]))


def _kept(best, loose, m, it, x, tol):
    """``(best, loose)`` after iteration ``it``: the smallest gap whose equality meets ``tol`` (gap 1,
    the start's V = 0, proves nothing), and while there is none, the one within :data:`LOOSE_EQ`."""
    if m.pres <= max(tol, 1e-12) and m.gap < 1.0 and (best is None or m.gap < best[0]):
        return (m.gap, it, x.copy(), m.primal, m.dual), loose
    if best is None and m.pres <= LOOSE_EQ and (loose is None or m.gap <= loose[0]):
        return best, (m.gap, it, x.copy(), m.primal, m.dual)
    return best, loose


def _refuse_unsupported(problem) -> None:
    """A ``ValueError`` saying why :func:`supports` is false, if it is."""
    if supports(problem):
        return
    if not _handled(problem.loss):
        raise ValueError(f"the interior-point solver does not support the {problem.loss.name} loss: it "
                         f"needs a twice differentiable loss or one with a dual box; the library's: {list(LOSSES)}")
    if problem.beta <= 0:
        raise ValueError("the interior-point solver needs beta > 0 (the dual of (21) has no interior at beta = 0)")
    raise ValueError(f"the Schur matrix of this problem (n={problem.n_samples}, C={problem.n_outputs}) "
                     f"exceeds the limit of order {MAX_SCHUR} ({MAX_SCHUR_LOW_MEMORY} in low-memory mode, "
                     "losses separable over outputs)")


@dataclass
class _Iterate:
    """A primal–dual point: the blocks ``Z``, ``S`` (C, 2, p, p), the dual ``V`` (n, C), the
    multipliers ``y`` (C, 2) of the trace conditions and, for a loss with a dual box, those of
    the box ``t`` (2, n, C)."""

    Z: np.ndarray
    S: np.ndarray
    V: np.ndarray
    y: np.ndarray
    t: np.ndarray | None = None

    def copy(self) -> "_Iterate":
        return _Iterate(self.Z.copy(), self.S.copy(), self.V.copy(), self.y.copy(),
                        None if self.t is None else self.t.copy())

    def moved(self, alpha: float, d: "_Iterate") -> "_Iterate":
        return _Iterate(self.Z + alpha * d.Z, self.S + alpha * d.S, self.V + alpha * d.V, self.y + alpha * d.y,
                        None if self.t is None else self.t + alpha * d.t)

    def finite(self) -> bool:
        return bool(np.all(np.isfinite(self.Z)) and np.all(np.isfinite(self.V)))


@dataclass
class _Measures:
    """An iterate's outputs, residuals and gaps (:meth:`_PathFollowing.measure`)."""

    Yhat: np.ndarray
    grad: np.ndarray
    r1: np.ndarray
    rp: np.ndarray
    mu: float
    primal: float
    dual: float
    gap: float
    pres: float
    res: float


class _PathFollowing:
    """The steps of :func:`_solve_lifted` on one problem: the start, the measures of an iterate,
    Mehrotra's direction and the step length."""

    def __init__(self, problem):
        self.problem, self.clock = problem, time.perf_counter()
        loss, Y = problem.loss, problem.Y
        d, C = problem.n_features, problem.n_outputs
        self.box = loss.dual_box(Y) if not (loss.smooth and loss.twice_differentiable) else None
        self.p, self.nu = d + 1, 2 * C * (d + 1)
        self.sgn = np.array([1.0, -1.0])
        self.Gm = cone_matrices(d)[0]
        self.l0 = loss.value(np.zeros_like(Y), Y)
        self.floor = 1e-12 * max(1.0, self.l0)
        self.split, self.last_gap = False, np.inf  # (see STALL_SPLIT_GAP)

    def start(self) -> _Iterate:
        r"""Z = Z' = tau diag(I, d) in N_d (Yhat = 0); y = -beta/2 and V small, so that
        :math:`S = \beta E \mp \mathcal A^*(V) - yG \succeq \beta I/4` (dual feasible); tau balances
        the loss at zero against the penalty :meth:`start_beta`; for a box, its pairs (slack, multiplier) centered
        at the mu of the blocks."""
        problem, p, beta = self.problem, self.p, self.problem.beta
        d, C = problem.n_features, problem.n_outputs
        Z = np.zeros((C, 2, p, p))
        Z[..., np.arange(p), np.arange(p)] = (max(self.l0, self.floor) / (2.0 * C * self.start_beta() * d)
                                              * np.r_[np.ones(d), d])
        V, y = np.zeros_like(problem.Y), np.full((C, 2), -0.5 * beta)
        if self.box is not None:
            lo, hi, _ = self.box
            V = 0.5 * (lo + hi)
            if np.any(V):
                V *= min(1.0, 0.25 * beta / np.max(np.linalg.norm(problem.adjoint(V), 2, axis=(1, 2))))
        S = 0.5 * beta * np.eye(p) - problem.adjoint(V)[:, None] * self.sgn[:, None, None]
        t = None
        if self.box is not None:
            lo, hi, _ = self.box
            t = float(np.sum(Z * S)) / self.nu / np.stack([V - lo, hi - V])
            self.nu += 2 * problem.n_samples * C
        return _Iterate(Z, S, V, y, t)

    def start_beta(self) -> float:
        r"""The penalty the start's Z balances: beta, or :data:`~spectranet.solvers._conic.START_BETA` times the largest
        spectral norm of :math:`\mathcal A^*(\nabla\ell(0))` over the outputs where beta is smaller;
        beta for a box (hinge at 1e-9 beta_max: the box start certified, this one did not)."""
        problem = self.problem
        if self.box is not None:
            return problem.beta
        return start_penalty(problem.beta, problem.adjoint(problem.loss.gradient(np.zeros_like(problem.Y), problem.Y)))

    def compl(self, x: _Iterate) -> float:
        r"""The complementarity :math:`\langle Z, S\rangle` (and the box's :math:`\langle t, s\rangle`)."""
        value = float(np.sum(x.Z * x.S))
        if self.box is not None:
            lo, hi, _ = self.box
            value += float(np.sum(x.t * np.stack([x.V - lo, hi - x.V])))
        return value

    def measure(self, x: _Iterate) -> _Measures:
        problem, loss, Y, d = self.problem, self.problem.loss, self.problem.Y, self.problem.n_features
        Yhat = problem.forward(x.Z[:, 0] - x.Z[:, 1])
        grad = loss.gradient(Yhat, Y)
        if self.box is not None:
            r1 = Yhat - Y + self.box[2] * x.V - x.t[0] + x.t[1]
        else:
            r1 = grad + x.V
        rp = -np.einsum("ab,ksab->ks", self.Gm, x.Z)
        primal = problem.lifted_penalized(loss.value(Yhat, Y), x.Z)
        pres = float(np.max(np.abs(rp))) / (1.0 + float(np.max(x.Z[..., d, d])))
        res = max(float(np.linalg.norm(r1)) / (1.0 + float(np.linalg.norm(grad))), pres)
        dual = loss.dual_value(x.V, Y)  # -inf while V is outside the domain of the conjugate; with
        if dual == -np.inf and res <= ROUNDED_LINK:  # the link met, only by rounding (saturated
            dual = self._projected_dual(x)  # samples): measured at its projection
        gap = (primal - dual) / max(abs(primal), abs(dual), self.floor) if dual > -np.inf else np.inf
        return _Measures(Yhat, grad, r1, rp, self.compl(x) / self.nu, primal, dual, gap, pres, res)

    def _projected_dual(self, x: _Iterate) -> float:
        r"""The dual value at the projection of ``V`` onto the conjugate's domain, where the slacks
        absorb the move (:math:`\|\mathcal A^*(\Delta V_k)\|_2 \le \lambda_{\min}` of both
        slacks of output k; -inf otherwise: far below beta_max a projection that looked like
        rounding broke dual feasibility, and a bound above the primal stopped the engine)."""
        problem = self.problem
        projected = problem.loss.project_dual(x.V, problem.Y)
        moved = np.linalg.norm(problem.adjoint(projected - x.V), 2, axis=(1, 2))
        if np.any(moved > np.min(np.linalg.eigvalsh(x.S), axis=(1, 2))):
            return -np.inf
        return problem.loss.dual_value(projected, problem.Y)

    def split_now(self, gap: float) -> bool:
        """Whether the Newton systems of an iterate at relative gap ``gap`` are split: below
        :data:`SPLIT_GAP`, and for good from the first iteration below :data:`STALL_SPLIT_GAP` that
        cut the gap by less than 10 % (called once per iteration)."""
        self.split = self.split or (gap <= STALL_SPLIT_GAP and gap > 0.9 * self.last_gap)
        self.last_gap = gap
        return self.split or gap <= SPLIT_GAP

    def direction(self, x: _Iterate, m: _Measures, first) -> tuple[_Iterate, float]:
        """Mehrotra's predictor–corrector direction and the longest step inside the cones."""
        p, nu = self.p, self.nu
        box = None if self.box is None else (x.V, x.t) + tuple(self.box)
        step = _Step(self.problem, x.Z, x.S, m.Yhat, m.r1, m.rp, box, store=not low_memory(self.problem),
                     split=self.split_now(m.gap), refinements=2 if m.gap <= REFINE_GAP else 0)
        # predictor (affine scaling): Delta Z + W Delta S W = -Z, box target 0
        (dZ, dS, dV, dy, dt), dZt, dSt, alpha = step.direction(-x.Z, 0.0)
        alpha = min(1.0, alpha)
        mu_aff = self.compl(x.moved(alpha, _Iterate(dZ, dS, dV, dy, dt))) / nu
        sigma = min(1.0, max(mu_aff / m.mu, 0.0) ** 3)
        res0, mu0 = first
        sigma = min(1.0, max(sigma, KAPPA * (m.res / res0) * mu0 / m.mu))
        # corrector: lam o (dZt + dSt) = sigma mu I - lam o lam - dZt_aff o dSt_aff
        R, lam = step.R, step.lam
        Bc = sigma * m.mu * np.eye(p) - _sym(dZt @ dSt)
        Bc = 2.0 * Bc / (lam[..., :, None] + lam[..., None, :])
        Bc[..., np.arange(p), np.arange(p)] -= lam
        target = sigma * m.mu - dt * np.stack([dV, -dV]) if box is not None else None
        (dZ, dS, dV, dy, dt), _, _, alpha = step.direction(_sym(R @ Bc @ R.swapaxes(-1, -2)), target)
        return _Iterate(dZ, dS, dV, dy, dt), alpha

    def step_length(self, x: _Iterate, m: _Measures, d: _Iterate, alpha: float) -> float:
        """:data:`STEP_FRACTION` of the way to the boundary; for a non-quadratic smooth loss, whose
        link is nonlinear, halved until the link residual decreases."""
        problem, loss, Y = self.problem, self.problem.loss, self.problem.Y
        alpha = min(1.0, STEP_FRACTION * alpha)
        if self.box is None and not loss.quadratic:
            r_norm, floor_r = np.linalg.norm(m.r1), 1e-10 * (1.0 + np.linalg.norm(m.grad))
            for _ in range(40):
                Zt, Vt = x.Z + alpha * d.Z, x.V + alpha * d.V
                r_new = np.linalg.norm(loss.gradient(problem.forward(Zt[:, 0] - Zt[:, 1]), Y) + Vt)
                if r_new <= max((1.0 - 0.1 * alpha) * r_norm, floor_r):
                    break
                alpha *= 0.5
        return alpha
