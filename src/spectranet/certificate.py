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
from dataclasses import dataclass, field, replace

import numpy as np

from .kink_dual import kink_dual
from .network import PolyNetwork
from .problem import Problem
from .reductions import RowSpaceReduction
from .sphere import eig_desc, sphere_max_abs

__all__ = ["Certificate", "certify_problem", "max_violation", "dual_lower_bound", "relative_gap", "Violation"]

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


def _most_violated(problem: Problem, Q, q, r) -> Violation:
    """The largest of the pairs' sphere maximizations of :math:`|u^\top Q_p u + q_p^\top u + r_p|`."""
    best, C = None, problem.n_outputs
    for p in range(problem.n_pairs):
        res, sign = sphere_max_abs(Q[p], q[p], r[p], eig=eig_desc(Q[p]))
        if best is None or res.value_upper > best.value_upper:
            best = Violation(res.value, res.value_upper, res.u, p % C, sign, p)
    return best


def _oracle_problem(problem: Problem):
    """The problem whose sphere oracle runs: the row-space reduction's (:mod:`spectranet.reductions`,
    the same maximum in dimension ``rank X + 1``) where there is one, else ``problem``; and the
    reduction."""
    reduction = RowSpaceReduction.of(problem)
    if reduction is None:
        return problem, None
    return reduction.apply().with_beta(problem.beta), reduction


def _unreduced(violation: Violation, reduction, V) -> Violation:
    """A violation of the reduced problem in the original features: the neuron mapped back, the
    certified upper bound widened by what the dropped (rounding-level) directions could add."""
    if reduction is None:
        return violation
    return replace(violation, neuron=reduction.unreduce_neuron(violation.neuron),
                   value_upper=violation.value_upper + reduction.violation_slack(V))


def max_violation(problem: Problem, V: np.ndarray) -> Violation:
    r"""Solve :math:`\max_p \max_{\|u\|=1} |V^\top \phi_p(u)|` over the pairs exactly (dense
    eigendecomposition, in the row space of ``X`` when it is smaller than ``d``);
    :math:`\phi_p(u) = \sigma(Xu)` for the dense pair of output ``p``."""
    oracle, reduction = _oracle_problem(problem)
    return _unreduced(_most_violated(oracle, *oracle.dual_quadratic(V)), reduction, V)


def _violation_of_products(problem: Problem, products) -> Violation:
    """:func:`max_violation` from the data's :meth:`~spectranet.data.host.HostData.dual_products`
    of ``V``, already reduced (the coefficients of :meth:`Problem.dual_quadratic
    <spectranet.problem.Problem.dual_quadratic>`)."""
    return _most_violated(problem, *problem.dual_quadratic(products=products))


#: the search over t evaluates the dual at T_GRID + 1 equally spaced t, then, at most T_PASSES - 1
#: times, at the vertex of the parabola through the best three points (and its mirror image of the
#: best point) and at T_REFINE equally spaced points of the bracket around the best; it stops when
#: the parabola predicts a gain below T_ROUNDING relative or is not concave (measured: at most 4e-16
#: below a bounded Brent search to 1e-12 t_max, in 2.2 passes on average instead of 10-40 evaluations)
T_GRID, T_REFINE, T_PASSES, T_ROUNDING = 16, 6, 10, float(np.finfo(float).eps)


def _maximize_concave(values, t_max: float):
    """Maximize a concave function on ``[0, t_max]`` from batches of evaluations.

    ``values(ts)`` evaluates the function at an array of points (one pass over the data). A grid
    brackets the maximum; each further batch evaluates the vertex of the parabola through the best
    point and its neighbours (with points symmetric around it) and a finer grid of the bracket, until
    the parabola predicts no gain beyond rounding (or has no maximum: a concave function equal to
    its chord at a point is affine there, its maximum at an end), the bracket is below
    ``1e-12 t_max``, or ``T_PASSES`` batches were evaluated. Returns the best ``(t, value)``
    evaluated: any ``t`` gives a valid bound, the search only makes it tight.
    """
    ts = np.unique(np.linspace(0.0, t_max, T_GRID + 1))
    vs = np.nan_to_num(np.asarray(values(ts), dtype=float), nan=-math.inf, posinf=-math.inf)
    for _ in range(T_PASSES - 1):
        i = len(vs) - 1 - int(np.argmax(vs[::-1]))  # the largest t among equal values
        lo, hi = ts[max(i - 1, 0)], ts[min(i + 1, len(ts) - 1)]
        if not math.isfinite(vs[i]) or hi - lo <= 1e-12 * t_max:
            break
        new = list(np.linspace(lo, hi, T_REFINE + 2)[1:-1])
        j = min(max(i, 1), len(ts) - 2)
        if len(ts) >= 3 and np.all(np.isfinite(vs[j - 1:j + 2])):
            (t0, t1, t2), (v0, v1, v2) = ts[j - 1:j + 2], vs[j - 1:j + 2]
            d1, d2 = (v1 - v0) / (t1 - t0), (v2 - v1) / (t2 - t1)
            curvature = (d2 - d1) / (t2 - t0)  # the parabola v1 + slope (t - t1) + curvature (t - t1)^2
            if curvature >= 0:  # a concave function on its chord at t1: affine on [t0, t2]
                break
            slope = d1 + curvature * (t1 - t0)
            p = min(max(t1 - slope / (2.0 * curvature), lo), hi)
            if v1 + slope * (p - t1) + curvature * (p - t1) ** 2 - vs[i] <= T_ROUNDING * abs(vs[i]):
                break  # the best point is the maximum to rounding
            new += [p, p - (ts[i] - p), p + (ts[i] - p)]
        new = np.unique(np.clip(new, lo, hi))
        new = new[~np.isin(new, ts)]
        if new.size == 0:
            break
        more = np.nan_to_num(np.asarray(values(new), dtype=float), nan=-math.inf, posinf=-math.inf)
        ts, vs = np.concatenate([ts, new]), np.concatenate([vs, more])
        order = np.argsort(ts, kind="stable")
        ts, vs = ts[order], vs[order]
    i = len(vs) - 1 - int(np.argmax(vs[::-1]))
    return float(ts[i]), float(vs[i])


def dual_lower_bound(problem: Problem, V: np.ndarray, violation: Violation | None = None):
    r"""Weak-duality bound :math:`\max_{0 \le t \le \min(1, \beta/\lambda)} -\ell^*(-tV)`.

    ``V`` must lie in the domain of the loss's dual (see :meth:`Loss.project_dual`). Every ``t``
    in the interval gives a valid bound; the maximum over ``t`` (the dual is concave in ``t``) is
    searched in a few batches of :meth:`Loss.dual_values` (one pass over the data each, see
    :func:`_maximize_concave`). Returns ``(bound, t, violation)``.
    """
    if violation is None:
        violation = max_violation(problem, V)
    lam = violation.value_upper
    t_max = 1.0 if lam <= problem.beta else problem.beta / lam
    best_t, best = _maximize_concave(lambda ts: problem.loss.dual_values(V, problem.Y, ts), t_max)
    return best, best_t, violation


@dataclass(frozen=True)
class Certificate:
    r"""Certificate of how far a network is from the global optimum of (P): :func:`certify`'s result.

    For a network with outputs :math:`\hat Y` and a dual point :math:`V` (by default
    :math:`V = -\nabla_{\hat Y} \ell(\hat Y, Y)`), weak duality gives the lower bound

    .. math:: p^* \ \ge\ \max_{0 \le t \le \min(1, \beta/\lambda)} -\ell^*(-t V), \qquad
              \lambda = \max_k \max_{\|u\|_2 = 1} |V_k^\top \sigma(X u)|,

    and the network is globally optimal when the relative gap between its objective (P) and this
    bound is zero; with its own gradient this happens exactly when its second layer is optimal for
    its neurons and :math:`\lambda \le \beta`. The maximizer :math:`u` is the most violated
    neuron. Made by :func:`~spectranet.certify` (and by every fit); its fields are the attributes.

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
        The :math:`\beta` of the objective.
    neuron, output, sign, pair : ndarray of shape (d,), int, int, int
        Most violated neuron :math:`u`, the output it would feed, the sign of the second-layer
        weight that decreases the objective, and its pair (``g*C + output``; the output for a
        dense network).
    dual : ndarray of shape (n, C)
        The dual-feasible point attaining ``lower_bound``.
    tol : float
        Tolerance on ``gap`` for :attr:`is_optimal`.
    source : str
        Which dual point attains ``lower_bound``: ``"gradient"`` (the network's own: provable
        from the network and the data alone), ``"kinks"`` (for a polyhedral loss, the network's
        kink dual, :mod:`spectranet.kink_dual`: from the network and the data alone too),
        ``"dual"`` (a dual point given by the caller), ``"witness"`` (the one the network
        carries), ``"improved"`` (dual improvement rounds).
    own_gap : float
        The relative gap the network proves by itself: its own gradient, or its kink dual (equal
        to ``gap`` when ``source`` is ``"gradient"`` or ``"kinks"``).

    See Also
    --------
    spectranet.certify : Certify any network.
    spectranet.beta_max : The :math:`\lambda` of the zero network.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, eq. (24) and eq. (26) (the dual
    problems whose feasible points give the bound), eq. (27) (the two quadratic constraints whose
    maxima give :math:`\lambda`) and Theorem 1.

    Examples
    --------
    >>> from spectranet import PolyNetwork, certify, make_planted
    >>> X, y = make_planted(40, 3, random_state=0)
    >>> cert = certify(PolyNetwork.zero(3, "relu"), X, y, "squared", beta=1e-2)
    >>> cert.is_optimal, bool(cert.lam > cert.beta), cert.neuron.shape  # add cert.neuron
    (False, True, (3,))
    >>> certify(PolyNetwork.zero(3, "relu"), X, y, "squared", beta=1e3).gap  # beta >= beta_max
    0.0
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
    source: str = "gradient"
    own_gap: float = math.nan

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


def certify_problem(problem: Problem, network: PolyNetwork, *, dual=None, tol: float = 1e-6,
                    dual_source: str = "dual", witness=None) -> Certificate:
    """:func:`certify` on a prepared :class:`~spectranet.problem.Problem`.

    The candidates for the dual point are the negative (sub)gradient of the loss at the
    network's outputs, for a polyhedral loss its kink dual (:mod:`spectranet.kink_dual`: both
    from the network and the data alone, the network's own gap) and, if given, ``dual`` (e.g. a
    solver's dual variable, reported as ``dual_source``) and ``witness`` (the dual point a network
    carries); each is projected onto the dual domain and the best bound is kept.
    """
    Yhat = problem.outputs(network)
    loss = problem.loss
    V0 = loss.project_dual(-loss.gradient(Yhat, problem.Y), problem.Y)
    # the objective and the dual products of the network's own dual point in one pass (the
    # products of the row-space reduction's data where there is one)
    oracle, reduction = _oracle_problem(problem)
    value, products = oracle.data.value_and_dual_products(Yhat, problem.Y, V0, loss)
    objective = problem.penalized(value, network.second_layer)
    candidates = [(V0, "gradient")]
    own_names = {"gradient"}
    V_kinks = kink_dual(problem, network, Yhat)
    if V_kinks is not None:
        candidates.append((loss.project_dual(V_kinks, problem.Y), "kinks"))
        own_names.add("kinks")
    for given, name in ((dual, dual_source), (witness, "witness")):
        if given is None:
            continue
        D = np.asarray(given, dtype=float)
        D = D.reshape(problem.Y.shape) if D.size == problem.Y.size else D
        if D.shape != problem.Y.shape or not np.all(np.isfinite(D)):
            raise ValueError(f"{name} must be finite with shape {problem.Y.shape}, got {D.shape}")
        candidates.append((loss.project_dual(D, problem.Y), name))
    own = _unreduced(_violation_of_products(oracle, products), reduction, V0)
    best_bound, best_V, source, own_bound = -math.inf, V0, "gradient", -math.inf
    for i, (V, name) in enumerate(candidates):
        bound, t, _ = dual_lower_bound(problem, V, own if i == 0 else None)
        own_bound = max(own_bound, bound) if name in own_names else own_bound
        if bound > best_bound:
            best_bound, best_V, source = bound, t * V, name
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
        source=source,
        own_gap=relative_gap(objective, own_bound),
    )
