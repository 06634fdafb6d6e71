r"""The active-set polish of the polyhedral losses (hinge, absolute): their certificate made tight.

For these losses the dual point at a kink sample is not the loss's (sub)gradient but a free value
in its range; the optimality conditions of (P) on a fixed active set of kink samples are a square
system, solved by Levenberg–Marquardt with an analytic Jacobian (:func:`active_set_polish`).
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.optimize import least_squares

from .kernels import hidden_layer
from .kink_dual import KINK_TOL, condition_matrix, kink_set, target_scale
from .network import PolyNetwork
from .problem import Problem

__all__ = ["active_set_polish"]

logger = logging.getLogger(__name__)

#: a sample is at a kink when its kink function is within KINK_TOL (times the targets' scale,
#: :mod:`spectranet.kink_dual`), or when the solver's dual value there is strictly inside its range
#: by INSIDE
INSIDE = 1e-4
#: neurons whose dual function is farther than STATIONARY * beta from +-beta are dropped (an inexact
#: interior-point solution's spurious components)
STATIONARY = 1e-2
#: the system is tried only from a start near a solution: its value and tangent rows within
#: START * beta, its kink rows within KINK_START times the targets' scale or KINK_BETA_START * beta,
#: whichever is larger (the kink rows are outputs, not multiples of beta: diabetes, absolute loss,
#: 1e-6 beta_max, beta = 2.5e-4, an interior-point start at kink residuals 4.7e-5 and value rows
#: 7.9e-6 = 0.03 beta, from which Levenberg-Marquardt certifies 4.3e-11 with 11 neurons, where a
#: gate of 1e-2 beta on every row skipped it and the fit stopped uncertified at 1.8e-6)
START, KINK_START, KINK_BETA_START = 0.1, 1e-3, 1e-2
#: Levenberg–Marquardt's tolerances and evaluations
LM_TOL, LM_EVALUATIONS = 1e-15, 30
#: dual values that leave [lo, 1] by more than DOMAIN ...
DOMAIN = 1e-9
#: ... leave the active set, their kinks released, at most RELEASES times (where the kinks are not more
#: than the neurons' conditions: diabetes, absolute loss, 1e-3 beta_max, the interior point's 56 kinks
#: gave dual values 1.9e-3 outside [-1, 1], and a network proving 9e-5 by itself)
RELEASES = 5
#: residual at which a solution with its dual values in the box meets the system
BOX_RESIDUAL = 1e-12


class _KinkSystem:
    r"""The square system of :func:`active_set_polish` in the unknowns :math:`(U, \alpha, t)`.

    Rows: the kink equations at the active samples; :math:`V_{k_j}^\top \sigma(X u_j) = \beta\,
    \mathrm{sign}(\alpha_j)` per neuron; :math:`(I - u_j u_j^\top) X^\top (V_{k_j} \circ
    \sigma'(X u_j)) = 0`; :math:`\|u_j\| = 1`."""

    def __init__(self, problem, network, kinks, active, V_fixed, outputs, signs):
        self.X, self.act, self.beta = problem.X, network.activation, problem.beta
        self.kink, self.scale, self.lo = kinks.kink, kinks.scale, kinks.lo
        self.active, self.V_fixed, self.outputs, self.signs = active, V_fixed, outputs, signs
        self.A0 = network.second_layer_2d
        self.m, self.d = network.first_layer.shape
        self.rows_act, self.cols_act = np.nonzero(active)  # active (sample, output) pairs
        self.sign_K = kinks.slope[active]
        self.n_act = self.rows_act.size

    def unpack(self, x):
        m, d = self.m, self.d
        return x[: m * d].reshape(m, d), x[m * d: m * d + m], x[m * d + m:]

    def second_layer(self, alpha):
        A = np.zeros_like(self.A0)
        A[np.arange(self.m), self.outputs] = alpha
        return A

    def dual(self, t):
        V = self.V_fixed.copy()
        V[self.active] = self.scale[self.active] * t
        return V

    def _parts(self, x):
        U, alpha, t = self.unpack(x)
        H, Phi = hidden_layer(self.X, U, self.act)
        return U, alpha, self.second_layer(alpha), H, Phi, self.act.derivative(H), self.dual(t)[:, self.outputs]

    def residual(self, x):
        U, alpha, A, H, Phi, dPhi, Vn = self._parts(x)
        value = np.sum(Vn * Phi, axis=0) - self.beta * self.signs
        grad = self.X.T @ (Vn * dPhi)  # (d, m)
        tangent = grad - U.T * np.sum(U.T * grad, axis=0)
        return np.concatenate([self.kink(Phi @ A)[self.active], value, tangent.T.ravel(),
                               np.sum(U**2, axis=1) - 1.0])

    def jacobian(self, x):
        X, m, d, n_act = self.X, self.m, self.d, self.n_act
        rows_act, sign_K = self.rows_act, self.sign_K
        U, alpha, A, H, Phi, dPhi, Vn = self._parts(x)
        J = np.zeros((n_act + m + m * d + m, m * d + m + n_act))
        feeds = self.outputs[None, :] == self.cols_act[:, None]  # (n_act, m): neuron j feeds the output
        for j in range(m):  # kink rows: dK = sign_K * dyhat
            J[:n_act, j * d:(j + 1) * d] = (sign_K * feeds[:, j] * alpha[j] * dPhi[rows_act, j])[:, None] * X[rows_act]
        J[:n_act, m * d: m * d + m] = sign_K[:, None] * feeds * Phi[rows_act]
        eye = np.eye(d)
        # the value and tangent rows' t columns (the kink dual's least-squares matrix)
        J[n_act:n_act + m + m * d, m * d + m:] = condition_matrix(X, U, Phi, dPhi, self.outputs, rows_act,
                                                                  self.cols_act, self.scale[self.active])
        for j in range(m):
            u, v = U[j], Vn[:, j]
            g = X.T @ (v * dPhi[:, j])
            J[n_act + j, j * d:(j + 1) * d] = g  # value rows
            dg = 2.0 * self.act.a * (X.T * v) @ X  # tangent rows
            P = eye - np.outer(u, u)
            rt = n_act + m + j * d
            J[rt:rt + d, j * d:(j + 1) * d] = P @ dg - (u @ g) * eye - np.outer(u, g)
            J[n_act + m + m * d + j, j * d:(j + 1) * d] = 2.0 * u  # norm row
        return J


def _in_box(system, x0, lo, sol, signs):
    """The bounded trust-region solution of an underdetermined system from ``x0``, its dual values in
    ``[lo, 1]``, where it meets the system as well as Levenberg-Marquardt's ``sol`` (or to
    BOX_RESIDUAL) with the same signs; else None. Noiseless planted 200 x 5, absolute loss, 200 kinks
    for 25 conditions: Levenberg-Marquardt's dual values left the box by 0.7, or stayed in it, by
    rounding alone (from one process to the next), and the network proved 0.99 or 1e-10 by itself.
    Its steps by LSMR: the exact trust-region solver's SVDs of the scaled Jacobian, whose entries
    were subnormal, took 1.5 s each at 235 x 230."""
    n_free = x0.size - system.n_act
    lower = np.r_[np.full(n_free, -np.inf), np.full(system.n_act, lo)]
    upper = np.r_[np.full(n_free, np.inf), np.ones(system.n_act)]
    bounded = least_squares(system.residual, np.clip(x0, lower, upper), jac=system.jacobian, bounds=(lower, upper),
                            method="trf", tr_solver="lsmr", xtol=LM_TOL, ftol=LM_TOL, gtol=LM_TOL,
                            max_nfev=LM_EVALUATIONS)
    met = (np.max(np.abs(bounded.fun)) <= max(np.max(np.abs(sol.fun)), BOX_RESIDUAL)
           and np.all(np.sign(system.unpack(bounded.x)[1]) == signs))
    logger.debug("active-set polish: dual values in the box, residual %.1e (%s)", np.max(np.abs(bounded.fun)),
                 "kept" if met else "not kept")
    return bounded if met else None


def _active_set(problem, network, kinks, dual, kink_tol):
    """The kink samples (boolean ``(n, C)``) and the dual values fixed elsewhere."""
    Yhat0 = problem.outputs(network)
    # at a kink: the output is (nearly) there, or the solver's dual is strictly inside its range
    active, K0, _ = kink_set(problem, kinks, Yhat0, kink_tol)
    if dual is not None:
        t_dual = dual / kinks.scale
        active |= (t_dual > kinks.lo + INSIDE) & (t_dual < 1.0 - INSIDE)
    start = -problem.loss.gradient(Yhat0, problem.Y) if dual is None else dual
    return active, np.where(active, 0.0, kinks.off_dual(K0)).astype(float), start


def active_set_polish(problem: Problem, network: PolyNetwork, dual=None, *, kink_tol: float = KINK_TOL,
                      max_unknowns: int | None = None, narrower: bool = False):
    r"""Solve the optimality conditions of (P) for a polyhedral loss on a fixed active set.

    For the hinge and absolute losses, the samples whose output is at a kink (margin 1, zero
    residual) within ``kink_tol`` stay there; their dual values :math:`t_i` are free, all
    other dual values are fixed by the loss. The square system of :class:`_KinkSystem` is solved
    by Levenberg–Marquardt (analytic Jacobian) in :math:`(U, \alpha, t)` from the given network
    and dual point ``dual`` (an interior-point solution, close to the optimum; without ``dual`` the
    loss's subgradient starts ``t``). Returns ``(network, V)``, or ``None`` when the active set is
    empty, the system has more than ``max_unknowns`` unknowns (Levenberg–Marquardt's dense QR costs
    their cube), with ``narrower`` when no neuron is dropped (the polish would only tighten the
    certificate), or the solution leaves the dual domain.
    """
    kinks = problem.loss.kinks(problem.Y)
    if kinks is None or network.n_neurons == 0 or not problem.architecture.is_dense:
        return None  # (the grouped architectures: not derived; their certificate uses the solver's dual)
    active, V_fixed, start = _active_set(problem, network, kinks, dual, kink_tol)
    if not active.any():
        return None
    A0 = network.second_layer_2d
    outputs = np.argmax(np.abs(A0), axis=1)
    alpha0 = A0[np.arange(network.n_neurons), outputs]
    signs = np.sign(alpha0)
    # drop neurons where the dual function is far from +-beta
    Phi0 = hidden_layer(problem.X, network.first_layer, network.activation)[1]
    stationary = np.abs(np.sum(start[:, outputs] * Phi0, axis=0) - problem.beta * signs) <= STATIONARY * problem.beta
    if narrower and stationary.all():
        return None
    if not stationary.all():
        network = network.with_layers(network.first_layer[stationary], A0[stationary], drop_zero=False)
        outputs, alpha0, signs = outputs[stationary], alpha0[stationary], signs[stationary]
        if network.n_neurons == 0:
            return None
    system = _KinkSystem(problem, network, kinks, active, V_fixed, outputs, signs)
    t0 = np.clip(start[active] / kinks.scale[active], kinks.lo, 1.0)
    x0 = np.concatenate([network.first_layer.ravel(), alpha0, t0])
    if max_unknowns is not None and x0.size > max_unknowns:
        return None
    res0 = np.abs(system.residual(x0))
    n_act, beta = system.n_act, max(problem.beta, 1e-12)
    kink_res, other_res = res0[:n_act].max(initial=0.0), res0[n_act:].max(initial=0.0)
    if kink_res > max(KINK_START * target_scale(problem), KINK_BETA_START * beta) or other_res > START * beta:
        # Newton needs a start near a solution with this active set and these neurons
        logger.debug("active-set polish skipped: starting residual %.1e (kink rows), %.1e (others)",
                     kink_res, other_res)
        return None
    for release in range(RELEASES + 1):
        sol = least_squares(system.residual, x0, jac=system.jacobian, method="lm", xtol=LM_TOL, ftol=LM_TOL,
                            gtol=LM_TOL, max_nfev=LM_EVALUATIONS)
        U, alpha, t = system.unpack(sol.x)
        if np.any(np.sign(alpha) != signs):
            logger.debug("active-set polish flipped a sign; discarded")
            return None
        out = (t < kinks.lo - DOMAIN) | (t > 1.0 + DOMAIN)
        if out.any() and system.n_act > network.n_neurons * problem.n_features:
            # more kinks than the neurons' conditions: the dual values are one point of a family, which
            # Levenberg-Marquardt left (where, rounding decides); a point of it in the box, if it has one
            found = _in_box(system, x0, kinks.lo, sol, signs)
            if found is not None:
                sol, (U, alpha, t) = found, system.unpack(found.x)
            break
        if not out.any() or release == RELEASES:
            break
        # the active set was too large: the kinks whose dual value left its range leave their kink,
        # their dual value fixed at the bound it crossed (a square system again, one row and one
        # unknown fewer each)
        rows, cols = system.rows_act[out], system.cols_act[out]
        active, V_fixed = active.copy(), V_fixed.copy()
        active[rows, cols] = False
        V_fixed[rows, cols] = kinks.scale[rows, cols] * np.where(t[out] > 1.0, 1.0, kinks.lo)
        logger.debug("active-set polish: %d kink(s) released (dual values outside [%g, 1] by %.1e)", int(out.sum()),
                     kinks.lo, max(float(np.max(kinks.lo - t)), float(np.max(t - 1.0))))
        system = _KinkSystem(problem, network, kinks, active, V_fixed, outputs, signs)
        x0 = np.concatenate([U.ravel(), alpha, t[~out]])
    if np.any(t < kinks.lo - DOMAIN) or np.any(t > 1.0 + DOMAIN):
        # (samples interpolated exactly: more kinks than the neurons' conditions fix, so the system's
        # dual values are one point of a family, and may leave it; its network is still the start's
        # with the kinks met, for the caller to certify with another dual point)
        logger.debug("active-set polish: dual values outside [%g, 1] by %.1e", kinks.lo,
                     max(float(np.max(kinks.lo - t)), float(np.max(t - 1.0))))
    polished = network.with_layers(U / np.linalg.norm(U, axis=1, keepdims=True), system.second_layer(alpha))
    logger.debug("active-set polish: %d kinks, residual %.1e", int(active.sum()), float(np.max(np.abs(sol.fun))))
    return polished, system.dual(np.clip(t, kinks.lo, 1.0))
