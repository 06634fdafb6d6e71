r"""Primal–dual interior-point method in the lifted space: cost independent of the optimum's width.

For pairs :math:`p` (one per output for a dense network; one per pooling group and output for a
CNN) and :math:`(Z_p, Z_p') \in \mathcal N_f`, the program (21) is

.. math::

    \min\ f(m) + \beta \sum_p (Z_{p,4} + Z'_{p,4}), \qquad m_p = \mathrm{svec}(Z_p - Z_p'),
    \qquad f(m) = \ell(\Psi m, Y),

with :math:`\Psi` the lifted features (:mod:`spectranet.kernels.lift`: :math:`\hat Y_{:k} =
\sum_g \Phi_g m_{gC+k}`). Its unknowns are the ``D = (f+1)(f+2)/2`` entries of each matrix, not
the ``n`` samples: the Newton system has order :math:`D` per pair (:math:`GD` per output when
pooling groups share an output, :math:`PD` for the softmax loss, which couples the outputs),
whatever the width of the optimal network. The data enter only through the lifted Hessian
:math:`\Psi^\top \nabla^2\ell\,\Psi` (one pass, :meth:`~spectranet.data.host.HostData.lifted_gram`)
and the adjoint :math:`\Psi^\top \nabla\ell` (one pass). For the squared loss both are fixed —
the sufficient statistics :math:`\Phi^\top\Phi` and :math:`\Phi^\top y` — and ``n`` drops out of
the iterations entirely.

**The Newton system.** Blocks :math:`b = (p, \pm)` with Nesterov–Todd scaling :math:`W_b`
(:math:`W_b S_b W_b = Z_b`), :math:`T_b = W_b \circledast W_b` (the symmetric Kronecker product:
:math:`X \mapsto W_b X W_b` in svec coordinates), :math:`g = \mathrm{svec}(G)`. With
:math:`r_b = \pm\nabla f + \beta e_4 - y_b g - s_b` (dual residual) and the complementarity right-
hand side :math:`R_b`, eliminating :math:`\Delta s_b` and :math:`\Delta z_b` leaves

.. math:: (I + K H)\,\Delta m = c_0 + \sum_b \Delta y_b\, a_b, \qquad K_p = T_{p+} + T_{p-},
          \quad a_b = \pm T_b g,

solved as :math:`\Delta m = L (I + L^\top H L)^{-1} L^{-1}(\cdot)` with :math:`K = LL^\top`
(Cholesky factors of order :math:`D` and of the positive definite :math:`I + L^\top H L`), and a
:math:`2P \times 2P` system for the equality multipliers whose rank-one part per pair,
:math:`\pi_p \mathbf 1\mathbf 1^\top` with :math:`\pi_p = g^\top T_{p+} K_p^{-1} T_{p-} g`, is formed
as a product (not as the difference of two nearly equal terms). Mehrotra's predictor–corrector as
in :mod:`spectranet.solvers.ipm`. Where a block's order exceeds twice the number of samples (a
CNN without pooling: 36 patch pairs of :math:`D = 55` per output on 8 x 8 images, order 1980), the
lifted Hessian has rank ``n`` and its factor turns each block into a capacitance of order ``n``
(:func:`uses_factors`: the squared loss on numpy, torch and grouped data; the other losses
separable over outputs on numpy and grouped data whose lifted features fit in
:data:`~spectranet.solvers.lifted_objective.FACTOR_ENTRIES` floats;
:class:`~spectranet.solvers.lifted_newton._Capacitance`); dense blocks finish where the
capacitances stop improving the certified gap (:data:`FACTOR_LOST`).

**Steps.** Near the optimum of a degenerate program the reduced system is solved only to the
precision its conditioning allows, and its two readings of :math:`\Delta S` part (the dual
equation's and the complementarity's, :class:`~spectranet.solvers.lifted_newton.Direction`): the
step takes the dual equation's, which lowers the dual residual exactly, unless its boundary is
much nearer, then the complementarity's, which stays in the cone the step length was computed
for. The step is shortened to keep :math:`\lambda_{\min}(ZS)` above :data:`CENTRALITY` times
their mean (a wide neighbourhood of the central path). Without both, the GAP CNNs at
:math:`10^{-6}\beta_{\max}` stalled at relative gaps of :math:`10^{-5}` (the dual slack left the
cone, or the iterate lost its centre and every later step was :math:`10^{-4}` of the way).

**Certified iterates.** The dual point of an iterate is :math:`V = -\nabla\ell(\hat Y)`, and
:math:`\mathcal A^*(V)_p = -\mathrm{smat}(\nabla f)_p`: the exact sphere oracle on these
:math:`(f+1) \times (f+1)` matrices gives :math:`\lambda` and the lower bound
:math:`\max_{t \le \min(1, \beta/\lambda)} -\ell^*(-tV)` at no cost in passes for the squared loss
(from the sufficient statistics), one cheap pass otherwise. The method stops on that certified gap.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla

from .._blas import single_threaded_blas
from ..kernels import smat, svec
from ..losses import Loss
from ._conic import SEMISMOOTH_START_BETA, Stall, max_step, start_penalty, sym
from .lifted_newton import _NewtonSystem, skron
from .lifted_objective import (  # noqa: F401  (newton_order, uses_factors: this module's API too)
    _blocks,
    _certified_bound,
    newton_order,
    objective_model,
    uses_factors,
)

__all__ = ["MAX_ORDER", "LiftedSolution", "supports", "solve_lifted_space", "skron", "newton_order",
           "objective_model", "uses_factors"]

logger = logging.getLogger(__name__)

#: largest order of a dense block of the Newton system (``D`` per pair, ``G*D`` per output for
#: pooled CNNs, ``P*D`` for softmax): 4000 is 128 MB and about 2e10 flops per factorization
MAX_ORDER = 4000
#: fraction of the step to the boundary of the cones
STEP_FRACTION = 0.98
#: iterations without progress on the certified gap before stopping (double precision exhausted;
#: progress: :data:`~spectranet.solvers._conic.STALL_FACTOR`)
STALL = 8
#: near the optimum the capacitances keep the dual point less accurately than dense blocks (digits
#: 3 vs 8, 3x3 patches without pooling, squared loss at 1e-6 beta_max: the certified gap fell to
#: 7e-7, then rose again as mu went below 1e-13, where dense blocks reach 2e-8): once the gap is
#: FACTOR_LOST times the best one's, or the best is half of STALL iterations old, the method
#: offers the best iterate to the caller (``accept``, where its gap is at most 10 accept_gap: the
#: native solver's face polish often certifies its network, 1.5e-7 there), then goes back to it and
#: continues with dense Newton blocks, unless one would overrun the deadline (status "time_limit")
FACTOR_LOST = 10.0
#: seconds of a dense iteration per block order cubed near the optimum, where the Cholesky
#: factorization fails by rounding and the root factor's QR takes over (measured: 4-6 s at order 1980)
DENSE_SECONDS = 7e-10


def supports(problem, max_order: int = MAX_ORDER) -> bool:
    """Whether :func:`solve_lifted_space` handles ``problem``: a smooth loss with a Hessian
    (:func:`has_hessian`: squared, logistic, softmax, Huber), ``beta > 0`` and Newton blocks of
    order at most ``max_order`` (:func:`newton_order`); any data backend."""
    return has_hessian(problem.loss) and problem.beta > 0 and newton_order(problem) <= max_order


def has_hessian(loss) -> bool:
    """A smooth loss with a Hessian product: twice differentiable, or piecewise so (Huber's second
    derivative is 1 or 0 per sample, and Newton's method on it semismooth: 12,000 x 20 at 1e-3 to
    1e-6 beta_max certified in 10-12 iterations, 0.7-1.0 s)."""
    return loss.smooth and (loss.twice_differentiable or type(loss).hessp is not Loss.hessp)


@dataclass(frozen=True)
class LiftedSolution:
    r"""Result of :func:`solve_lifted_space`.

    Attributes
    ----------
    Z, Z_prime : ndarray of shape (P, f+1, f+1)
    objective : float
        Objective (21) at ``(Z, Z_prime)``.
    lower_bound : float
        Certified lower bound of the last accepted iterate (the exact sphere oracle on its dual
        point :math:`V = -\nabla\ell(\hat Y)`).
    dual_scale : float
        The ``t`` of that bound: ``dual_scale * V`` is dual feasible.
    iterations : int
    status : str
        ``"optimal"`` (certified gap at most ``tol``, or accepted by the caller), ``"max_iter"``,
        ``"numerical"``, ``"time_limit"``.
    history : list of (time, objective, lower_bound)
    dual : ndarray of shape (n, C) or None
        :math:`V = -\nabla\ell(\hat Y)` at the returned iterate (None for the squared loss, whose
        iterations never form it: ``Y - forward(Z - Z_prime)``).
    objective_model : object
        The smooth part of the objective with its sufficient statistics (the squared loss's lifted
        Gram matrix): a later solve on the same data and another beta reuses it.
    S, S_prime : ndarray of shape (P, f+1, f+1)
        The dual slacks of the returned iterate (its optimal face: :mod:`spectranet.face`).
    """

    Z: np.ndarray = field(repr=False)
    Z_prime: np.ndarray = field(repr=False)
    objective: float
    lower_bound: float
    dual_scale: float
    iterations: int
    status: str
    history: list = field(default_factory=list, repr=False)
    dual: object = field(default=None, repr=False)
    objective_model: object = field(default=None, repr=False)
    S: np.ndarray | None = field(default=None, repr=False)
    S_prime: np.ndarray | None = field(default=None, repr=False)


#: the dual equation's slack step is taken while its step to the boundary is at least this share
#: of the complementarity's (:class:`~spectranet.solvers.lifted_newton.Direction`)
CONSISTENT_SHARE = 0.5
#: the step keeps the iterate in the wide neighbourhood of the central path: the smallest eigenvalue
#: of ZS at least CENTRALITY times their mean (or half the current ratio, if smaller)
CENTRALITY = 1e-3


def _step(lam, d):
    """The dual slack step and the step length of a direction: the dual equation's slack while its
    boundary is not much nearer (:data:`CONSISTENT_SHARE`), else the complementarity's; the
    fraction :data:`STEP_FRACTION` of the way to the boundary, shortened to stay in the
    neighbourhood (:data:`CENTRALITY`)."""
    to_z = max_step(lam, d.dZt)
    eq, comp = min(to_z, max_step(lam, d.dSt)), min(to_z, max_step(lam, d.dSt_comp))
    dS, dSt, bound = (d.dS, d.dSt, eq) if eq >= CONSISTENT_SHARE * comp else (d.dS_comp, d.dSt_comp, comp)
    alpha = min(1.0, STEP_FRACTION * bound)
    floor = min(CENTRALITY, 0.5 * _centrality(lam, d.dZt, dSt, 0.0))
    for _ in range(30):
        if _centrality(lam, d.dZt, dSt, alpha) >= floor:
            break
        alpha *= 0.8
    return dS, alpha


def _dense_seconds(problem, blocks) -> float:
    """Seconds of an iteration with dense Newton blocks near the optimum (:data:`DENSE_SECONDS`)."""
    return DENSE_SECONDS * newton_order(problem) ** 3 * len(blocks)


def _end_game(problem, blocks, best, accept, accept_gap, deadline, log):
    """Where the capacitances stop improving the certified gap: ``"accepted"`` (the caller's
    network of the best iterate certifies), ``"time_limit"`` (a dense iteration would overrun the
    deadline) or ``"dense"`` (go on from the best iterate with dense blocks); see :data:`FACTOR_LOST`."""
    _, it_best, Zb, _, _, tb, Vb, Sb = best
    if accept is not None and best[0] <= 10.0 * accept_gap and accept(
            Zb[:, 0], Zb[:, 1], Sb[:, 0], Sb[:, 1], tb, Vb, gap=best[0]):
        log("lifted: iterate %d accepted by the caller", it_best)
        return "accepted"
    if deadline is not None and time.perf_counter() + _dense_seconds(problem, blocks) > deadline:
        log("lifted: the capacitances lost the dual's accuracy; no time left for dense blocks")
        return "time_limit"
    log("lifted: the capacitances lost the dual's accuracy (best gap %.2e): dense Newton blocks from iterate %d on",
        best[0], it_best)
    return "dense"


def _predictor_corrector(system, Z, S, rd, rp, mu, nu, refinements):
    r"""Mehrotra's direction from the factorized Newton ``system``: the predictor (affine scaling,
    scaled target :math:`-\Lambda`), then the corrector
    :math:`\lambda \circ (dZ + dS) = \sigma\mu I - \lambda\circ\lambda - dZ_{aff} \circ dS_{aff}`."""
    lam, p = system.lam, Z.shape[-1]
    B = np.zeros_like(Z)
    B[..., np.arange(p), np.arange(p)] = -lam
    d = system.solve(B, rd, rp, refinements)
    alpha = min(1.0, max_step(lam, d.dZt), max_step(lam, d.dSt_comp))
    mu_aff = float(np.sum((Z + alpha * d.dZ) * (S + alpha * d.dS_comp))) / nu
    sigma = min(1.0, max(mu_aff / mu, 0.0) ** 3)
    B = sigma * mu * np.eye(p) - sym(d.dZt @ d.dSt_comp)
    B = 2.0 * B / (lam[..., :, None] + lam[..., None, :])
    B[..., np.arange(p), np.arange(p)] -= lam
    return system.solve(B, rd, rp, refinements)


def _centrality(lam, dZt, dSt, alpha) -> float:
    r"""The smallest eigenvalue of :math:`ZS` over their mean after a step ``alpha`` (in scaled
    coordinates, from :math:`\Lambda`); -1 outside the cone."""
    L0 = np.zeros_like(dZt)
    L0[..., np.arange(lam.shape[-1]), np.arange(lam.shape[-1])] = lam
    try:
        C = np.linalg.cholesky(L0 + alpha * dZt)
    except np.linalg.LinAlgError:
        return -1.0
    e = np.linalg.eigvalsh(C.swapaxes(-1, -2) @ (L0 + alpha * dSt) @ C)
    return float(np.min(e)) / max(float(np.mean(e)), 1e-300)


def _initial_point(problem, objective, P, f):
    """Interior start: :math:`Z = Z' = \\tau\\,\\mathrm{diag}(I, f)` (on :math:`\\mathcal N_f`, zero
    network) and :math:`S = \\frac\\beta 2 I`, :math:`y = -\\beta/2`, with :math:`\\tau` balancing the
    penalty :math:`\\beta' \\sum Z_4` against the loss at zero: :math:`\\beta' = \\beta`, for Huber
    from :func:`~spectranet.solvers._conic.start_penalty` with
    :data:`~spectranet.solvers._conic.SEMISMOOTH_START_BETA`."""
    beta, Y = problem.beta, problem.Y
    l0 = float(problem.loss.value(Y * 0.0, Y))  # numpy, or Dask arrays with the chunk-wise loss
    penalty = beta
    if not problem.loss.twice_differentiable:  # (the smooth losses keep beta: from START_BETA, credit,
        # logistic, at 1e-9 beta_max, certified only through its witness, 17 neurons instead of 15)
        grad0 = objective.evaluate(np.zeros((P, (f + 1) * (f + 2) // 2)), hessian=False)[1]
        penalty = start_penalty(beta, smat(grad0, f + 1), SEMISMOOTH_START_BETA)
    tau = max(l0, 1e-12) / (2.0 * P * penalty * f)
    p = f + 1
    Z = np.zeros((P, 2, p, p))
    Z[..., np.arange(p), np.arange(p)] = tau * np.r_[np.ones(f), f]
    S = np.zeros((P, 2, p, p))
    S[..., np.arange(p), np.arange(p)] = 0.5 * beta
    return Z, S, np.full((P, 2), -0.5 * beta)


#: BLAS runs single-threaded when the Newton blocks have order at most SINGLE_THREAD_ORDER and
#: an iteration's passes over the data are small (n D^2 <= SINGLE_THREAD_PASS): threads gain
#: nothing on such products and cost up to 10x on a busy machine (a 132 x 132 Cholesky: 0.17 s)
SINGLE_THREAD_ORDER, SINGLE_THREAD_PASS = 1000, 1e9


def solve_lifted_space(problem, *, tol: float = 1e-8, max_iter: int = 100, verbose: bool = False,
                       accept=None, accept_gap: float = 0.0, deadline: float | None = None,
                       objective=None) -> LiftedSolution:
    r"""Solve (21) by the primal–dual interior-point method in the lifted space (see the module
    docstring).

    Parameters
    ----------
    problem : Problem
        A problem with :func:`supports` true (any data backend: numpy, torch, Dask, grouped).
    tol : float
        Target certified relative gap of the lifted iterate.
    max_iter : int
    verbose : bool
        Log each iteration at INFO level (DEBUG otherwise).
    accept : callable, optional
        ``accept(Z, Z_prime, S, S_prime, t, V, gap=gap)`` on each iterate whose certified gap is at most
        ``accept_gap`` (``S, S_prime``: its dual slacks)
        (``t * V`` is its certified dual point; ``V`` is None for the squared loss, where the
        iterations never form it: it is ``Y - forward(Z - Z_prime)``); returning True stops with
        status ``"optimal"`` (the native solver extracts and certifies the iterate's network).
    accept_gap : float
    deadline : float, optional
        ``time.perf_counter()`` value after which the method stops (status ``"time_limit"``).
    objective : object, optional
        ``LiftedSolution.objective_model`` of an earlier solve on the same data (another beta):
        its sufficient statistics are reused.

    Returns
    -------
    LiftedSolution
    """
    if not supports(problem):
        raise ValueError(f"the lifted interior point does not support this problem: it needs a smooth "
                         f"loss with a Hessian (squared, logistic, softmax, huber), "
                         f"beta > 0 and Newton blocks of order <= {MAX_ORDER} (here {newton_order(problem)})")
    blocks = _blocks(problem)
    objective = objective_model(problem, objective)  # the sufficient statistics: a pass, with threads
    D = objective.D
    small_passes = objective.quadratic or problem.n_samples * D * D <= SINGLE_THREAD_PASS
    with single_threaded_blas(small_passes and 2 * newton_order(problem) <= SINGLE_THREAD_ORDER):
        return _iterate(problem, objective, blocks, tol=tol, max_iter=max_iter, verbose=verbose, accept=accept,
                        accept_gap=accept_gap, deadline=deadline)


def _iterate(problem, objective, blocks, *, tol, max_iter, verbose, accept, accept_gap, deadline):
    """The iterations of :func:`solve_lifted_space`."""
    log = logger.info if verbose else logger.debug
    start = time.perf_counter()
    beta, f, P = problem.beta, problem.n_features, problem.n_pairs
    p = f + 1
    g = svec(np.diag(np.r_[np.ones(f), -1.0]))
    e4 = svec(np.diag(np.r_[np.zeros(f), 1.0]))
    sgn = np.array([1.0, -1.0])
    nu = 2 * P * p
    Z, S, y = _initial_point(problem, objective, P, f)
    nonlinear = not objective.quadratic
    history, status, best, it = [], "max_iter", None, 0
    stalled, factored = Stall(STALL), objective.factored
    for it in range(max_iter + 1):
        zs = svec(Z)
        m = zs[:, 0] - zs[:, 1]
        value, grad, V = objective.evaluate(m, hessian=True)
        primal = problem.lifted_penalized(value, Z)
        rd = sgn[None, :, None] * grad[:, None, :] + beta * e4 - y[..., None] * g - svec(S)
        rp = zs @ g
        mu = float(np.sum(Z * S)) / nu
        bound, t, lam = _certified_bound(objective, m, grad, V, beta, f)
        scale = max(abs(primal), abs(bound), 1e-300)
        gap = max(primal - bound, 0.0) / scale
        pres = float(np.max(np.abs(rp))) / (1.0 + float(np.max(np.abs(Z[..., f, f]))))
        history.append((time.perf_counter() - start, primal, bound))
        log("lifted %3d: primal %.12g bound %.12g gap %.2e lam/beta %.3g eq %.1e mu %.2e", it, primal, bound,
            gap, lam / beta, pres, mu)
        if pres <= 1e-9 and (best is None or gap < best[0]):
            best, best_y = (gap, it, Z.copy(), primal, bound, t, V, S.copy()), y.copy()
        if gap <= tol and pres <= 1e-9:
            status = "optimal"
            break
        if (accept is not None and gap <= accept_gap and pres <= 1e-9
                and accept(Z[:, 0], Z[:, 1], S[:, 0], S[:, 1], t, V, gap=gap)):
            status, best = "optimal", (gap, it, Z.copy(), primal, bound, t, V, S.copy())
            log("lifted: iterate %d accepted by the caller", it)
            break
        if it == max_iter:
            break
        if deadline is not None and time.perf_counter() > deadline:
            status = "time_limit"
            break
        if (factored and best is not None and tol < best[0] < 1e-3
                and (gap > FACTOR_LOST * best[0] or it - best[1] >= STALL // 2)):
            step = _end_game(problem, blocks, best, accept, accept_gap, deadline, log)
            if step != "dense":
                status = "optimal" if step == "accepted" else step
                break
            factored, stalled = False, Stall(STALL)
            objective.dense()
            Z, S, y = best[2].copy(), best[7].copy(), best_y.copy()
            continue
        if best is not None and stalled(primal - bound, gap, it, float(np.linalg.norm(rd))):
            status = "numerical"
            log("lifted: no progress in %d iterations (double precision exhausted)", STALL)
            break
        try:
            factors = objective.factors if factored else None  # (the capacitance's order: n)
            order = problem.n_samples if factors else 2 * newton_order(problem)
            with single_threaded_blas(order <= SINGLE_THREAD_ORDER):
                refinements = (8 if factors else 2) if gap < 1e-3 else 0
                system = _NewtonSystem(Z, S, None if factors else objective.hessian, blocks, g, factors,
                                       accurate=refinements > 0)
                lam_nt, d = system.lam, _predictor_corrector(system, Z, S, rd, rp, mu, nu, refinements)
            dS, alpha = _step(lam_nt, d)  # (its eigenvalues fail on a direction overflown at 1e-52 beta_max)
        except (np.linalg.LinAlgError, sla.LinAlgError) as exc:
            status = "numerical"
            log("lifted: factorization or step length failed (%s); stopping", exc)
            break
        dZ, dy = d.dZ, d.dy
        if nonlinear:  # backtrack on the dual residual of the nonlinear gradient
            r_norm = float(np.linalg.norm(rd))
            for _ in range(30):
                Zt, St, yt = Z + alpha * dZ, S + alpha * dS, y + alpha * dy
                zt = svec(Zt)
                _, grad_t, _ = objective.evaluate(zt[:, 0] - zt[:, 1], hessian=False)
                rd_t = sgn[None, :, None] * grad_t[:, None, :] + beta * e4 - yt[..., None] * g - svec(St)
                if float(np.linalg.norm(rd_t)) <= max((1.0 - 0.1 * alpha) * r_norm, 1e-12 * (1.0 + r_norm)):
                    break
                alpha *= 0.5
        Z, S, y = Z + alpha * dZ, S + alpha * dS, y + alpha * dy
        if not (np.all(np.isfinite(Z)) and np.all(np.isfinite(S))):
            status = "numerical"
            break
    if best is None:
        best = (math.inf, it, Z, history[-1][1], -math.inf, 0.0, V, S)
    _, it_best, Z, primal, bound, t, V, S = best
    if it_best != it:
        log("lifted: returning iterate %d (best certified gap %.2e)", it_best, best[0])
    return LiftedSolution(Z=np.ascontiguousarray(Z[:, 0]), Z_prime=np.ascontiguousarray(Z[:, 1]),
                          objective=primal, lower_bound=bound, dual_scale=t, iterations=it, status=status,
                          history=history, dual=V, objective_model=objective, S=np.ascontiguousarray(S[:, 0]),
                          S_prime=np.ascontiguousarray(S[:, 1]))
