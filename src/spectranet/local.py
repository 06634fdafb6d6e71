r"""Local descent of a network on problem (P): the polish after neural decomposition.

Starting from a network close to a global optimum (e.g. extracted from an interior-point
solution, whose tiny eigenvalues are cut by the rank tolerance), minimize

.. math:: \ell\Big(\sum_j \sigma(X \hat u_j)\,\alpha_j^\top, Y\Big) + \beta \sum_{j,k} s_{jk}\alpha_{jk},
          \qquad \hat u_j = w_j / \|w_j\|_2,\quad s_{jk}\alpha_{jk} \ge 0,

over :math:`(W, \alpha)` with the sign pattern :math:`s` of the start fixed (bounds), which makes
the objective smooth for smooth losses and equal to (P) on the feasible set: by trust-region
Newton steps (:mod:`spectranet.newton`) where the exact Hessian is affordable, by L-BFGS-B
otherwise. The result never has a larger objective than the start.

Three words, three jobs:

* **polish** (:func:`polish`) — the local descent above, on one sign face;
* **column generation** (:func:`column_generation`) — polish, certify, add the certificate's most
  violated neuron, repeat: grows a network to a certified optimum;
* **tighten** (:func:`tighten`) — what every engine runs on its extracted network: one polish
  when the engine's dual certifies the result, column generation otherwise (and the exact
  active-set solve of :mod:`spectranet.active_set` for the polyhedral losses).
"""

from __future__ import annotations

import functools
import logging
import time

import numpy as np
from scipy.optimize import minimize

from . import newton
from ._blas import single_threaded_blas
from .active_set import active_set_polish
from .certificate import Certificate, certify_problem
from .network import PolyNetwork
from .problem import Problem

__all__ = ["polish", "tighten", "column_generation", "merge_duplicates", "newton_second_layer"]

logger = logging.getLogger(__name__)

#: below this many entries of X, BLAS runs single-threaded in the local phase: its products are
#: tiny and thread start-up and contention dominate (measured 7.4 s -> 1.0 s for one warm-started
#: solve on credit-approval with two busy cores)
SMALL_DATA = 1_000_000
#: the most unknowns of the active-set polish of an uncertified polyhedral network (its dense
#: Levenberg-Marquardt costs their cube: 2.6 s at 780 unknowns; 2000 would take about 45 s)
KINK_UNKNOWNS = 1500
#: column generation first polishes each grown network only to a relative decrease of about this
#: fraction of the current certified gap (L-BFGS-B's ftol), and TIGHTEN times that after each round
#: whose gap (below STALL_GAP) did not fall below STALL_RATIO times the previous one: far from the
#: optimum the next neuron matters more than the last digits (MNIST 5x5 GAP CNN: 407 s with ftol
#: 1e-15 throughout), near it only a precise polish lets the certificate close (a loose polish
#: throughout stalls 50 x 3 problems at gaps of 5e-4)
POLISH_FTOL = 1e-3
#: the stall rule of column generation above: a gap below STALL_GAP that did not fall below
#: STALL_RATIO times the previous gap multiplies the ftol factor by TIGHTEN
STALL_GAP, STALL_RATIO, TIGHTEN = 0.1, 0.5, 1e-3
#: the range of a polish's ftol: FTOL_MIN (the default, converged to rounding) to FTOL_MAX (the
#: loosest ftol of a column-generation round)
FTOL_MIN, FTOL_MAX = 1e-15, 1e-6
#: L-BFGS-B's projected-gradient tolerance and number of stored corrections (its ftol decides)
LBFGS_GTOL, LBFGS_MAXCOR = 1e-13, 30
#: relative rounding slack of objective comparisons: a line-search trial, a polished network and a
#: column-generation round count as no worse than their start within it
OBJECTIVE_RTOL = 1e-14
#: step lengths (1, 1/2, 1/4, ...) of the damped Newton line search evaluated in one pass
LINE_SEARCH_BATCH = 8
#: the damped Newton line search of :func:`newton_second_layer` tries at most this many step lengths
LINE_SEARCH_TRIES = 40
#: Newton on the second layer has converged when no entry moves by more than STEP_RTOL (relative)
STEP_RTOL = 1e-15
#: a grown neuron that vanished in the joint Newton steps is re-seeded with this weight (relative to
#: the largest second-layer weight)
SEED_WEIGHT = 1e-8
#: neurons whose directions agree to |1 - u_i.u_j| <= MERGE_TOL are merged
MERGE_TOL = 1e-9


def _small_blas(func):
    """Run ``func(problem, ...)`` with one BLAS thread when ``problem.X`` is small."""
    @functools.wraps(func)
    def wrapper(problem, *args, **kwargs):
        small = problem.n_samples * problem.n_inputs <= SMALL_DATA
        with single_threaded_blas(small):
            return func(problem, *args, **kwargs)
    return wrapper


def _objective_and_gradient(problem: Problem, W: np.ndarray, A: np.ndarray, signs: np.ndarray):
    """Objective of (P) at first layer ``W / ||W||`` and second layer ``A`` with the sign pattern
    ``signs`` fixed, and its gradients (float64 on the host; the ``n``-sized work on the data's device)."""
    norms = np.linalg.norm(W, axis=1, keepdims=True)
    U = W / norms
    # the loss and both gradients in one pass over the data
    value, dA, dU = problem.data.value_and_gradients(U, A, problem.loss, problem.activation)
    value = problem.penalized(value, A, signs)
    dA = dA + problem.beta * signs  # (m, P): the gradient of the penalty on the face
    dW = (dU - np.sum(dU * U, axis=1, keepdims=True) * U) / norms  # dU: (m, d)
    return value, dW, dA


def merge_duplicates(network: PolyNetwork, tol: float = MERGE_TOL) -> PolyNetwork:
    """Merge neurons with the same direction (|1 - u_i.u_j| <= tol): their second layers add up."""
    U, A = network.first_layer, network.second_layer_2d
    keep, merged = [], []
    for j in range(network.n_neurons):
        for idx, i in enumerate(keep):
            if 1.0 - U[i] @ U[j] <= tol:
                merged[idx] = merged[idx] + A[j]
                break
        else:
            keep.append(j)
            merged.append(A[j].copy())
    if len(keep) == network.n_neurons:
        return network
    return network.with_layers(U[keep], np.array(merged).reshape(len(keep), -1), drop_zero=False)


def newton_second_layer(problem: Problem, network: PolyNetwork, *, max_iter: int = 30) -> PolyNetwork:
    r"""Solve the stationarity of the second layer for fixed first layer by Newton's method.

    On the support of :math:`\alpha` (signs fixed), solves
    :math:`\Phi^\top \nabla\ell(\Phi\alpha) + \beta s = 0` to machine precision with the
    loss's Hessian (:meth:`Loss.hessp`); a line search on the objective cannot resolve the
    last digits that the certificate needs. Entries that would change sign are set to zero.

    Each step is one pass over the data (:meth:`~spectranet.data.HostData.second_layer_terms`)
    when its full step is accepted: the damped line search's trial values
    (:data:`LINE_SEARCH_BATCH` step lengths at once) come with the gradient and Hessian at the
    full step, which the next step needs (after a shorter step, one more pass computes them).
    """
    loss, data, beta = problem.loss, problem.data, problem.beta
    Phi = problem.hidden(network.first_layer)[1]  # activations on the data's device
    A = network.second_layer_2d.copy()
    signs = np.sign(A)
    active = np.argwhere(A != 0.0)  # (neuron, pair) entries
    if active.size == 0:
        return network.with_layers(network.first_layer, A)
    values, grad, H = data.second_layer_terms(Phi, A[None], loss, active)
    value = problem.penalized(values[0], A, signs)
    for _ in range(max_iter):
        rows, cols = active[:, 0], active[:, 1]
        step = np.linalg.lstsq(H, -(grad + beta * signs)[rows, cols], rcond=None)[0]
        current = A[rows, cols]
        accepted, tried = None, 0
        while accepted is None and tried < LINE_SEARCH_TRIES:  # damped: a full step from far away can overshoot
            trials, steps, flips = [], [], []
            for _ in range(min(LINE_SEARCH_BATCH, LINE_SEARCH_TRIES - tried)):
                new = current + step
                flipped = np.sign(new) != signs[rows, cols]
                new[flipped] = 0.0
                trial = A.copy()
                trial[rows, cols] = new
                trials.append(trial)
                steps.append(step)
                flips.append(flipped)
                step = 0.5 * step
            ahead = np.argwhere(trials[0] != 0.0) if tried == 0 else None  # the next step's entries
            values, grad_ahead, H_ahead = data.second_layer_terms(
                Phi, np.stack(trials), loss, ahead if ahead is not None and ahead.size else None)
            for i, trial in enumerate(trials):
                trial_value = problem.penalized(values[i], trial, signs)
                if trial_value <= value + OBJECTIVE_RTOL * abs(value):
                    accepted = i
                    break
            tried += len(trials)
        if accepted is None:
            break  # no decrease along the Newton direction: stationary to rounding
        A, step, value = trials[accepted], steps[accepted], trial_value
        if np.max(np.abs(step)) <= STEP_RTOL * max(1.0, np.max(np.abs(current))) and not flips[accepted].any():
            break
        active = np.argwhere(A != 0.0)
        if active.size == 0:
            break
        if tried == len(trials) and accepted == 0:  # the full step: its derivatives came with it
            grad, H = grad_ahead, H_ahead
        else:
            _, grad, H = data.second_layer_terms(Phi, A[None], loss, active)
    return network.with_layers(network.first_layer, A)


def _newton_steps(problem: Problem, network: PolyNetwork, signs, deadline):
    """The Newton branch of :func:`_polish_steps`: trust-region Newton steps with the sign pattern
    ``signs``, converged to rounding whatever ``ftol`` (its last steps are quadratic, hence cheap, and
    a loose Newton polish lets the network drift: credit-approval path 1.8 s -> 3.2 s)."""
    m, A0 = network.n_neurons, network.second_layer_2d
    polished = newton_second_layer(problem, newton.newton_polish(problem, network, signs=signs,
                                                                 deadline=deadline))
    grow = (signs != 0) & (A0 == 0)
    if grow.any() and polished.n_neurons < m:
        # the new neuron (or another) vanished: the joint steps may rotate a new neuron onto an
        # existing one (MNIST GAP CNN: ten rounds that each added a neuron and ended with the
        # same width). Retry with its weight from the (convex) second-layer problem first.
        A1 = A0.copy()
        A1[grow] = signs[grow] * SEED_WEIGHT * max(1.0, float(np.max(np.abs(A0))))
        seeded = newton_second_layer(problem, network.with_layers(network.first_layer, A1, drop_zero=False))
        seeded = newton_second_layer(problem, newton.newton_polish(problem, seeded, deadline=deadline))
        if problem.objective(seeded) < problem.objective(polished):
            polished = seeded
    logger.debug("polish (newton): %d -> %d neurons", m, polished.n_neurons)
    return polished


def _polish_steps(problem: Problem, network: PolyNetwork, signs, max_iter: int, ftol: float,
                  deadline: float | None = None):
    """The work of :func:`polish` before its final comparison: ``(polished, fallback, start)``
    (the network to return without an improvement, and its objective), or None when there is
    nothing to polish."""
    if not problem.loss.smooth or network.n_neurons == 0:
        return None
    start = problem.objective(network)
    if signs is None:
        network = merge_duplicates(network)
    m, d, C = network.n_neurons, problem.n_features, problem.n_pairs
    A0 = network.second_layer_2d
    signs = np.sign(A0) if signs is None else np.asarray(signs, dtype=float)
    if newton.applicable(problem, network):  # small enough for the exact Hessian
        return _newton_steps(problem, network, signs, deadline), network, start
    bounds_A = [(0.0, None) if s > 0 else (None, 0.0) if s < 0 else (0.0, 0.0) for s in signs.ravel()]
    bounds = [(None, None)] * (m * d) + bounds_A

    def fun(z):
        value, dW, dA = _objective_and_gradient(problem, z[: m * d].reshape(m, d),
                                                z[m * d:].reshape(m, C), signs)
        return value, np.concatenate([dW.ravel(), dA.ravel()])

    def stop_at_deadline(intermediate_result):  # the iterate so far is kept
        if deadline is not None and time.perf_counter() > deadline:
            raise StopIteration

    z0 = np.concatenate([network.first_layer.ravel(), A0.ravel()])
    res = minimize(fun, z0, jac=True, method="L-BFGS-B", bounds=bounds, callback=stop_at_deadline,
                   options={"maxiter": max_iter, "ftol": ftol, "gtol": LBFGS_GTOL, "maxcor": LBFGS_MAXCOR})
    W, A = res.x[: m * d].reshape(m, d), res.x[m * d:].reshape(m, C)
    U = W / np.linalg.norm(W, axis=1, keepdims=True)
    polished = network.with_layers(U, A)
    if deadline is None or time.perf_counter() <= deadline:  # (its exact second layer: a Newton solve)
        polished = newton_second_layer(problem, polished)
    logger.debug("polish: objective %.15g in %d iterations (%d -> %d neurons)", start, res.nit, m,
                 polished.n_neurons)
    return polished, network, start


def _improves(end: float, start: float) -> bool:
    """Whether a polished network (objective ``end``) is kept over its start."""
    return end <= start * (1 + OBJECTIVE_RTOL)


@_small_blas
def polish(problem: Problem, network: PolyNetwork, *, signs: np.ndarray | None = None,
           max_iter: int = 500, ftol: float = FTOL_MIN) -> PolyNetwork:
    """Refine ``network`` locally on ``problem`` (smooth losses).

    Merges duplicate neurons, runs trust-region Newton steps (:func:`spectranet.newton.newton_polish`,
    where :func:`~spectranet.newton.applicable`) or L-BFGS-B on the first and second layers with
    the sign pattern ``signs`` (m, P) of the second layer fixed (default: that of the network; a
    zero entry stays zero), then solves the second layer exactly (:func:`newton_second_layer`)
    and drops neurons whose weights vanish. BLAS runs single-threaded on small data. Returns
    ``network`` itself when the loss is not smooth, the network is empty, or no improvement was found.
    """
    steps = _polish_steps(problem, network, signs, max_iter, ftol)
    if steps is None:
        return network
    polished, fallback, start = steps
    end = problem.objective(polished)
    logger.debug("polish: objective %.15g -> %.15g", start, end)
    return polished if _improves(end, start) else fallback


def _polish_and_certify(problem: Problem, network: PolyNetwork, tol: float, *, signs=None,
                        max_iter: int = 500, ftol: float = FTOL_MIN, deadline: float | None = None):
    """:func:`polish`, then :func:`certify_problem` of the result: the certificate's objective
    (the same value as :meth:`Problem.objective`, from the same pass as its dual products) makes
    the polish's final comparison, which saves a pass over the data."""
    steps = _polish_steps(problem, network, signs, max_iter, ftol, deadline)
    if steps is None:
        return network, certify_problem(problem, network, tol=tol)
    polished, fallback, start = steps
    cert = certify_problem(problem, polished, tol=tol)
    logger.debug("polish: objective %.15g -> %.15g", start, cert.objective)
    if _improves(cert.objective, start):
        return polished, cert
    return fallback, certify_problem(problem, fallback, tol=tol)


@_small_blas
def column_generation(problem: Problem, network: PolyNetwork, *, tol: float = 1e-6,
                      max_rounds: int = 20, callback=None,
                      deadline: float | None = None,
                      milestone: tuple[float, float] | None = None) -> tuple[PolyNetwork, Certificate, int]:
    """Polish ``network``, then repeatedly add the most violated neuron of its certificate and
    polish again, until its own certificate (its gradient as the dual point) has a gap of at
    most ``tol``, no progress is made, ``max_rounds`` neurons were added, or the clock
    (``time.perf_counter()``) passed ``deadline`` (smooth losses; a polish running at the
    deadline stops there, keeping its iterate), or, after at least three rounds, the clock passed
    ``milestone = (time, gap)`` with the gap still above that gap (progress too slow to certify by
    the deadline).

    ``callback(network, certificate)`` is called after each polish. Returns the network, its
    certificate and the number of rounds.
    """
    network, own = _polish_and_certify(problem, network, tol, deadline=deadline)
    if callback is not None:
        callback(network, own)
    rounds, factor = 0, POLISH_FTOL
    while rounds < max_rounds and not (own.is_optimal or own.lam <= problem.beta):
        if deadline is not None and time.perf_counter() > deadline:
            break
        if (milestone is not None and rounds >= 3 and time.perf_counter() > milestone[0]
                and own.gap > milestone[1]):
            logger.debug("column generation: gap %.2e above %.2e at the milestone; stopping", own.gap,
                         milestone[1])
            break
        rounds += 1
        col = np.zeros((1, problem.n_pairs))
        col[0, own.pair] = own.sign
        signs = np.vstack([np.sign(network.second_layer_2d), col])
        grown = network.with_layers(np.vstack([network.first_layer, own.neuron]),
                                    np.vstack([network.second_layer_2d, 0.0 * col]), drop_zero=False)
        # polish about as precisely as the certificate can tell: far from the optimum the next
        # neuron matters more than the last digits of this network
        candidate, new = _polish_and_certify(problem, grown, tol, signs=signs, deadline=deadline,
                                             ftol=float(np.clip(factor * own.gap, FTOL_MIN, FTOL_MAX)))
        logger.debug("column generation: lambda/beta - 1 = %.2e, gap %.2e -> %.2e",
                     own.lam / max(problem.beta, 1e-300) - 1, own.gap, new.gap)
        progress = new.gap < own.gap or new.objective < own.objective * (1 - OBJECTIVE_RTOL)
        if new.gap > STALL_RATIO * own.gap and own.gap < STALL_GAP:  # the polish, not a missing neuron, limits
            factor *= TIGHTEN  # the gap (the first neurons of a cold start may gain little): tighten it
        if not progress:
            if factor * own.gap > FTOL_MIN:
                continue  # retry this round's neuron with the tighter polish
            break
        network, own = candidate, new
        if callback is not None:
            callback(network, own)
    return network, own, rounds


@_small_blas
def tighten(problem: Problem, network: PolyNetwork, *, tol: float = 1e-6, dual=None,
           max_rounds: int = 20, deadline: float | None = None) -> tuple[PolyNetwork, Certificate]:
    """Make an extracted network's certificate tight: :func:`column_generation` for smooth
    losses; for the polyhedral losses, when the solver's dual does not certify the network to
    ``tol``, :func:`active_set_polish`.

    ``deadline`` (a ``time.perf_counter()`` value) stops the polish and the rounds there.
    Returns the best network found and its certificate, which also tries ``dual``. A network that
    ``dual`` certifies to ``tol`` after one polish is returned then: its own gradient may certify
    it only after many more rounds (1000 x 50 squared loss, beta = 1e-3: 20 s of column generation
    for a network the interior-point dual certifies to 5e-7 at once).
    """
    if not problem.loss.smooth:
        cert = certify_problem(problem, network, dual=dual, tol=tol)
        late = deadline is not None and time.perf_counter() > deadline
        exact = None if cert.is_optimal or late else active_set_polish(problem, network, dual,
                                                                       max_unknowns=KINK_UNKNOWNS)
        if exact is not None:  # with its own dual point and the solver's
            candidate = min((certify_problem(problem, exact[0], dual=V, tol=tol) for V in (exact[1], dual)
                             if V is not None), key=lambda c: c.gap)
            if candidate.gap < cert.gap:
                return exact[0], candidate
        return network, cert
    if dual is not None:
        network, _ = _polish_and_certify(problem, network, tol, deadline=deadline)
        cert = certify_problem(problem, network, dual=dual, tol=tol)
        if cert.is_optimal or (deadline is not None and time.perf_counter() > deadline):
            return network, cert
    network, own, _ = column_generation(problem, network, tol=tol, max_rounds=max_rounds, deadline=deadline)
    return network, (own if dual is None else certify_problem(problem, network, dual=dual, tol=tol))
