r"""Certificate of global optimality for any network.

For a network with outputs :math:`\hat Y` and any candidate dual point :math:`V` (by default
:math:`V = -\nabla_{\hat Y} \ell(\hat Y, Y)`), let

.. math:: \lambda(V) = \max_k \max_{\|u\|_2 = 1} |V_k^\top \sigma(X u)| ,

the larger of two sphere-constrained quadratic maximizations per output, solved exactly
(:mod:`spectranet.sphere`). For :math:`t \le \min(1, \beta / \lambda)` the point :math:`tV`
is feasible for the dual (24)/(26), so by weak duality

.. math:: p^* \ \ge\ \max_{0 \le t \le \min(1, \beta/\lambda)} -\ell^*(-t V).

The relative gap between the network's objective (P) and this bound certifies global
optimality. The maximizer :math:`u` is the most violated neuron (a column-generation step).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize_scalar

from .network import PolyNetwork
from .problem import Problem
from .sphere import eig_desc, sphere_max_abs

__all__ = ["Certificate", "certify", "certify_problem", "max_violation", "dual_lower_bound"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Violation:
    """The most violated dual constraint: :math:`\\lambda = |V_k^\\top \\sigma(X u)|` at ``neuron``."""

    value: float  #: attained |V_k^T sigma(X u)| at `neuron`
    value_upper: float  #: certified upper bound on the maximum (use for feasibility)
    neuron: np.ndarray  #: unit-norm u, shape (d,)
    output: int  #: output k
    sign: int  #: sign of V_k^T sigma(X u)
    pair: int = 0  #: pair p = g*C + k (the output k for a dense network)


def max_violation(problem: Problem, V: np.ndarray) -> Violation:
    r"""Solve :math:`\max_p \max_{\|u\|=1} |V^\top \phi_p(u)|` over the pairs exactly (dense
    eigendecomposition); :math:`\phi_p(u) = \sigma(Xu)` for the dense pair of output ``p``."""
    Q, q, r = problem.dual_quadratic(V)
    best, C = None, problem.n_outputs
    for p in range(problem.n_pairs):
        res, sign = sphere_max_abs(Q[p], q[p], r[p], eig=eig_desc(Q[p]))
        if best is None or res.value_upper > best.value_upper:
            best = Violation(res.value, res.value_upper, res.u, p % C, sign, p)
    return best


def dual_lower_bound(problem: Problem, V: np.ndarray, violation: Violation | None = None):
    r"""Weak-duality bound :math:`\max_{0 \le t \le \min(1, \beta/\lambda)} -\ell^*(-tV)`.

    ``V`` must lie in the domain of the loss's dual (see :meth:`Loss.project_dual`).
    Returns ``(bound, t, violation)``.
    """
    if violation is None:
        violation = max_violation(problem, V)
    lam = violation.value_upper
    t_max = 1.0 if lam <= problem.beta else problem.beta / lam
    dual = problem.loss.dual_value

    def g(t):
        return dual(t * V, problem.Y)

    best_t, best = t_max, g(t_max)
    if t_max > 0:
        res = minimize_scalar(lambda t: -g(t), bounds=(0.0, t_max), method="bounded",
                              options={"xatol": 1e-12 * t_max})
        if math.isfinite(res.fun) and -res.fun > best:
            best_t, best = float(res.x), -float(res.fun)
    return best, best_t, violation


@dataclass(frozen=True)
class Certificate:
    r"""Result of :func:`certify`.

    Attributes
    ----------
    objective : float
        Objective (P) of the network.
    lower_bound : float
        Certified lower bound on the global optimum :math:`p^*`.
    gap : float
        Relative gap ``(objective - lower_bound) / objective`` (0 when both are 0).
    lam : float
        :math:`\lambda = \max_u |V^\top \sigma(Xu)|` at the network's own dual point; the
        network is optimal only if ``lam <= beta`` (up to tolerance).
    beta : float
    neuron, output, sign, pair
        Most violated neuron :math:`u`, the output it would feed, the sign of the second-layer
        weight that decreases the objective, and its pair (``g*C + output``; the output for a
        dense network).
    dual : ndarray of shape (n, C)
        The dual-feasible point attaining ``lower_bound``.
    tol : float
        Tolerance on ``gap`` for :attr:`is_optimal`.
    """

    objective: float
    lower_bound: float
    gap: float
    lam: float
    beta: float
    neuron: np.ndarray = field(repr=False)
    output: int
    sign: int
    dual: np.ndarray = field(repr=False)
    tol: float = 1e-6
    pair: int = 0

    @property
    def is_optimal(self) -> bool:
        """Whether the network is globally optimal within ``tol`` (relative gap)."""
        return self.gap <= self.tol


def relative_gap(objective: float, lower_bound: float) -> float:
    """``(objective - lower_bound) / |objective|``, 0 when the difference is <= 0."""
    diff = objective - lower_bound
    if diff <= 0:
        if diff < -1e-9 * max(1.0, abs(objective)):
            logger.warning("lower bound %.12g exceeds objective %.12g", lower_bound, objective)
        return 0.0
    return diff / max(abs(objective), np.finfo(float).tiny)


def certify_problem(problem: Problem, network: PolyNetwork, *, dual=None, tol: float = 1e-6) -> Certificate:
    """:func:`certify` on a prepared :class:`~spectranet.problem.Problem`.

    The candidates for the dual point are the negative (sub)gradient of the loss at the
    network's outputs and, if given, ``dual`` (e.g. a solver's dual variable); each is
    projected onto the dual domain and the best bound is kept.
    """
    Yhat = problem.outputs(network)
    loss = problem.loss
    objective = problem.objective(network, Yhat)
    V0 = loss.project_dual(-loss.gradient(Yhat, problem.Y), problem.Y)
    candidates = [V0]
    if dual is not None:
        D = np.asarray(dual, dtype=float)
        D = D.reshape(problem.Y.shape) if D.size == problem.Y.size else D
        if D.shape != problem.Y.shape or not np.all(np.isfinite(D)):
            raise ValueError(f"dual must be finite with shape {problem.Y.shape}, got {D.shape}")
        candidates.append(loss.project_dual(D, problem.Y))
    own = max_violation(problem, V0)
    best_bound, best_V = -math.inf, V0
    for i, V in enumerate(candidates):
        bound, t, _ = dual_lower_bound(problem, V, own if i == 0 else None)
        if bound > best_bound:
            best_bound, best_V = bound, t * V
    return Certificate(
        objective=objective,
        lower_bound=best_bound,
        gap=relative_gap(objective, best_bound),
        lam=own.value,
        beta=problem.beta,
        neuron=own.neuron,
        output=own.output,
        sign=own.sign,
        dual=best_V,
        tol=tol,
        pair=own.pair,
    )


def certify(network: PolyNetwork, X, y, loss="squared", beta: float = 1e-2, *, dual=None,
            tol: float = 1e-6) -> Certificate:
    r"""Certify how far any network is from the global optimum of (P).

    .. math:: \min_{\|u_j\|=1,\ \alpha_j}\ \ell\Big(\sum_j \sigma(Xu_j)\alpha_j^\top, Y\Big)
              + \beta \sum_j \|\alpha_j\|_1

    Works for a network trained any way (SGD, the SDP, anything) whose first-layer rows
    have unit norm, as (P) requires; ``sigma`` is not homogeneous, so other norms cannot be
    moved into the second layer and are rejected.

    Parameters
    ----------
    network : PolyNetwork
        Any architecture (:class:`~spectranet.architectures.Conv2D` networks take images).
    X : array-like of shape (n, d)
    y : array-like of shape (n,) or (n, C)
        Targets in the loss's encoding (labels in {-1, +1} for ``"logistic"`` and
        ``"hinge"``, class indices or one-hot rows for ``"softmax"``).
    loss : str or Loss
    beta : float
    dual : array-like of shape (n, C), optional
        An extra candidate dual point (e.g. a solver's dual variable); useful for the
        non-smooth losses, whose subgradient at the network may give a loose bound.
    tol : float
        Relative-gap tolerance for :attr:`Certificate.is_optimal`.

    Returns
    -------
    Certificate
    """
    if not isinstance(network, PolyNetwork):
        raise TypeError(f"network must be a PolyNetwork, got {type(network).__name__}")
    norms = np.linalg.norm(network.first_layer, axis=1)
    if network.n_neurons and not np.allclose(norms, 1.0, rtol=0, atol=1e-8):
        raise ValueError(
            "the first layer of the network must have unit-norm rows (problem (P)); "
            f"got row norms in [{norms.min():.3g}, {norms.max():.3g}]"
        )
    problem = Problem(X, y, network.activation, loss, beta, n_outputs=network.n_outputs,
                      architecture=network.architecture)
    return certify_problem(problem, network, dual=dual, tol=tol)
