r"""The proof of a network's optimality: :func:`certify`, from the network, the data and its
candidate dual points, improved on request by cutting planes on the dual.

:func:`certify` recomputes everything (:func:`~spectranet.certificate.certify_problem`) from the
network's own gradient, a given dual point, and the dual point the network carries
(:class:`~spectranet.witness.Witness`).

**Dual improvement** (``improve=True``): a better lower bound for a network trained anywhere.

A network's own gradient is one dual point; the bound it proves mixes two things: how far the
network is from the optimum, and how far that dual point is from the best one. The best bound is
the optimum of the dual

.. math:: \max_V\ -\ell^*(-V) \quad\text{s.t.}\quad |V_k^\top \phi_p(u)| \le \beta\ \ \forall\,\|u\|=1,\ p,

a semi-infinite program. :func:`improved_certificate` attacks it by **cutting planes**: keep a
finite set of neurons (the network's own, then each round's most violated one from the exact
sphere oracle), solve the dual restricted to their constraints — the dual of the convex
second-layer problem :math:`\min_\alpha \ell(\Phi\alpha) + \beta\|\alpha\|_1` on those neurons,
a bound-constrained smooth problem (L-BFGS-B on :math:`\alpha^\pm \ge 0`) or, for the hinge and
absolute losses, a linear program whose multipliers choose the best subgradient at the kink
samples (HiGHS, from the loss's box form) — and add the constraints its dual point violates. Every round's dual point
is scaled by :math:`\min(1, \beta/\lambda)` with :math:`\lambda` recomputed exactly, so every
reported bound is proved, whatever the restricted solves' accuracy.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import linprog, minimize

from .certificate import Certificate, certify_problem, dual_lower_bound, max_violation, relative_gap
from .data import check_positive_beta, check_tol
from .network import PolyNetwork
from .problem import Problem
from .witness import loss_from_spec

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from .losses import Loss

__all__ = ["certify", "improved_certificate"]

logger = logging.getLogger(__name__)


def _columns(problem, U: np.ndarray, pairs: list[int]) -> np.ndarray:
    """The activations of the neurons ``U`` (m, f) on their pairs: ``(n, m, C)``, neuron ``j``
    feeding output ``pairs[j] % C`` (its group's activation for a CNN)."""
    C = problem.n_outputs
    Phi = problem.data.host(problem.hidden(U)[1])  # (n, m) dense, (n, G, m) grouped
    out = np.zeros((problem.n_samples, len(pairs), C))
    for j, p in enumerate(pairs):
        g, k = divmod(p, C)
        out[:, j, k] = Phi[:, j] if Phi.ndim == 2 else Phi[:, g, j]
    return out


def _restricted_dual_smooth(problem, F: np.ndarray, alpha0: np.ndarray):
    """``-grad loss`` at the optimum of :math:`\\min_\\alpha \\ell(F\\alpha) + \\beta\\|\\alpha\\|_1` (``F``:
    (n, m, C), one weight per column) by L-BFGS-B on :math:`\\alpha = \\alpha^+ - \\alpha^-`."""
    loss, Y, beta = problem.loss, problem.Y, problem.beta
    m = F.shape[1]

    def fun(z):
        a = z[:m] - z[m:]
        Yhat = np.einsum("nmk,m->nk", F, a)
        G = loss.gradient(Yhat, Y)
        g = np.einsum("nmk,nk->m", F, G)
        return float(loss.value(Yhat, Y)) + beta * float(z.sum()), np.concatenate([g + beta, -g + beta])

    z0 = np.concatenate([np.clip(alpha0, 0, None), np.clip(-alpha0, 0, None)])
    res = minimize(fun, z0, jac=True, method="L-BFGS-B", bounds=[(0.0, None)] * (2 * m),
                   options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-12, "maxcor": 30})
    alpha = res.x[:m] - res.x[m:]
    return -loss.gradient(np.einsum("nmk,m->nk", F, alpha), Y), alpha


def _restricted_dual_polyhedral(problem, F: np.ndarray) -> np.ndarray | None:
    r"""The restricted dual of a loss with a box form and ``q = 0`` (hinge, absolute:
    :meth:`Loss.dual_box <spectranet.losses.Loss.dual_box>`) as a linear program: maximize
    :math:`\langle V, Y\rangle` over :math:`lo \le V \le hi` with :math:`|F_j^\top V_{k_j}| \le
    \beta` for each column (HiGHS); None if the loss has no such form or the solve fails."""
    box = problem.loss.dual_box(problem.Y)
    if box is None or np.any(box[2] != 0.0):
        return None
    lo, hi, _ = box
    n, m, C = F.shape
    A = F.transpose(1, 0, 2).reshape(m, n * C)  # column j's coefficients on V (row-major (i, k))
    res = linprog(-problem.Y.reshape(-1), A_ub=np.vstack([A, -A]), b_ub=np.full(2 * m, problem.beta),
                  bounds=list(zip(lo.reshape(-1), hi.reshape(-1))), method="highs")
    return res.x.reshape(n, C) if res.status == 0 else None


def _violated(problem, V, violation):
    """The constraints a round adds: the most violated neuron of every pair and sign whose value
    exceeds beta (one more pass over the data: the dual quadratic of ``V``)."""
    from .certificate import _oracle_problem
    from .sphere import eig_desc, sphere_max

    oracle, reduction = _oracle_problem(problem)
    Q, q, r = oracle.dual_quadratic(V)
    found = []
    for p in range(problem.n_pairs):
        lam, E = eig_desc(Q[p])
        for sgn in (1.0, -1.0):
            ev = (lam, E) if sgn > 0 else (-lam[::-1], E[:, ::-1])
            res = sphere_max(sgn * Q[p], sgn * q[p], sgn * r[p], eig=ev)
            if res.value > problem.beta:
                u = res.u if reduction is None else reduction.unreduce_neuron(res.u)
                found.append((u, p))
    return found or [(violation.neuron, violation.pair)]


def improved_certificate(problem, network, base: Certificate, *, rounds: int = 20) -> Certificate:
    """The certificate of ``network`` with its lower bound improved by up to ``rounds`` rounds of
    cutting planes on the dual (see the module docstring); ``base`` is its certificate from its
    own gradient (and any given dual point). The result's ``source`` is ``"improved"`` when the
    rounds gave a better bound, else ``base``'s. Never claims more than it proved: every bound is
    recomputed from its dual point with the exact oracle."""
    A2 = network.second_layer_2d
    U, pairs = [], []
    for j in range(network.n_neurons):
        for p in np.flatnonzero(A2[j]):
            U.append(network.first_layer[j])
            pairs.append(int(p))
    alpha0 = [float(A2[j, p]) for j in range(network.n_neurons) for p in np.flatnonzero(A2[j])]
    if base.pair is not None and base.neuron is not None and len(base.neuron):
        U.append(np.asarray(base.neuron, dtype=float))
        pairs.append(int(base.pair))
        alpha0.append(0.0)
    best_bound, best_V, source = base.lower_bound, base.dual, base.source
    smooth = problem.loss.smooth
    for r in range(rounds):
        F = _columns(problem, np.array(U).reshape(len(U), problem.n_features), pairs)
        if smooth:
            V, alpha0 = _restricted_dual_smooth(problem, F, np.array(alpha0))
            alpha0 = list(alpha0)
        else:
            V = _restricted_dual_polyhedral(problem, F)
        if V is None:
            break
        V = problem.loss.project_dual(V, problem.Y)
        violation = max_violation(problem, V)
        bound, t, _ = dual_lower_bound(problem, V, violation)
        logger.debug("improve %d: %d neurons, bound %.12g (lambda/beta %.4g)", r, len(U), bound,
                     violation.value_upper / problem.beta)
        if bound > best_bound:
            best_bound, best_V, source = bound, t * V, "improved"
        if violation.value_upper <= problem.beta or len(U) >= 4 * problem.max_neurons():
            break  # the restricted dual point is feasible: the restricted optimum is the optimum's
        for u, p in _violated(problem, V, violation):
            U.append(u)
            pairs.append(p)
            alpha0 = list(alpha0) + [0.0]
    return Certificate(objective=base.objective, lower_bound=best_bound,
                       gap=relative_gap(base.objective, best_bound), lam=base.lam, beta=base.beta,
                       neuron=base.neuron, output=base.output, sign=base.sign, dual=best_V, tol=base.tol,
                       pair=base.pair, source=source, own_gap=base.own_gap)


def _witness_dual(carried, problem: Problem):
    """The dual point of the witness ``carried`` (or None), refused for other data."""
    if carried is None:
        return None
    if problem.is_dask:
        raise ValueError("a witness is checked against data in memory (a hash of X and y), and these are Dask "
                         "arrays: certify on the computed arrays, or from the network's own gradient: "
                         "certify(network, X, y, loss, beta, witness=False)")
    if not carried.matches(problem.X, problem.Y, problem.sample_weight):
        raise ValueError("the network's witness was made for other data (its fingerprint "
                         f"{carried.fingerprint} differs from these data's, sample weights included); pass the "
                         "fit's sample_weight, or certify the network on these data from its own gradient: "
                         "certify(network, X, y, loss, beta, witness=False)")
    return carried.dual


def certify(network: PolyNetwork, X: ArrayLike, y: ArrayLike, loss: str | Loss | None = None,
            beta: float | None = None, *, dual: ArrayLike | None = None, tol: float = 1e-6, witness: bool = True,
            improve: bool | int = False, sample_weight: ArrayLike | float | None = None) -> Certificate:
    r"""Certify how far any network is from the global optimum of (P).

    .. math:: \min_{\|u_j\|=1,\ \alpha_j}\ \ell\Big(\sum_j \sigma(Xu_j)\alpha_j^\top, Y\Big)
              + \beta \sum_j \|\alpha_j\|_1

    Works for a network trained any way (SGD, the SDP, anything) whose first-layer rows have unit norm,
    as (P) requires; ``sigma`` is not homogeneous, so other norms cannot be moved into the second layer
    and are rejected. Everything is recomputed from the network, the data and the candidate dual
    points: the network's own gradient, ``dual`` if given, and the network's
    :class:`~spectranet.witness.Witness` if it carries one (a fit attaches it).

    Parameters
    ----------
    network : PolyNetwork
        Any architecture (:class:`~spectranet.architectures.Conv2D` networks take images).
    X : array-like of shape (n, d)
        The training data (for a CNN, images as rows ``(n, C*H*W)`` or ``(N, C, H, W)``).
    y : array-like of shape (n,) or (n, C)
        Targets in the loss's encoding (labels in {-1, +1} for ``"logistic"`` and ``"hinge"``, class
        indices or one-hot rows for ``"softmax"``).
    loss : str or Loss, optional
        Default: the witness's loss, else ``"squared"``.
    beta : float, optional
        ``> 0`` (no finite gap can be proven at 0). Default: the witness's; required without one.
    dual : array-like of shape (n, C), optional
        An extra candidate dual point (e.g. a solver's dual variable; for a non-smooth loss).
    tol : float, default=1e-6
        Relative-gap tolerance for :attr:`Certificate.is_optimal`, in (0, 1).
    witness : bool, default=True
        Use the network's witness, which must have been made for these data (its fingerprint is
        checked); ``witness=False`` certifies a network on other data from its own gradient.
    improve : bool or int, default=False
        Tighten the bound by rounds (``True``: 20) of cutting planes on the dual
        (:func:`improved_certificate`): for networks trained anywhere (SGD, hinge and absolute
        fits), it separates how much of a gap belongs to the network and how much to its
        gradient's dual point. Each round solves a convex problem on the neurons found so far.
    sample_weight : array-like of shape (n,) or float, optional
        The weights of the samples' losses the network was fitted with
        (:class:`~spectranet.Problem`); its witness is checked against them too.

    Returns
    -------
    Certificate
        Its ``source`` names the dual point that proves the bound.

    Raises
    ------
    TypeError
        If ``network`` is not a :class:`~spectranet.PolyNetwork`.
    ValueError
        If the rows are not unit norm, ``beta`` is missing or not positive, ``tol`` is not in (0, 1),
        the data or ``dual`` do not fit the network, or the witness was made for other data.

    See Also
    --------
    Certificate : The result.
    spectranet.beta_max : The smallest :math:`\beta` at which the zero network is optimal.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, eq. (20) (problem (P)), eqs. (24)
    and (26) (the duals whose feasible points give the lower bound) and Theorem 1.

    Examples
    --------
    >>> from spectranet import ConvexPolyNetRegressor, make_planted
    >>> X, y = make_planted(40, 3, random_state=0)
    >>> net = ConvexPolyNetRegressor(beta=1e-2).fit(X, y).network_
    >>> certify(net, X, y).is_optimal  # loss and beta from the network's witness
    True
    >>> certify(net, X, y, "absolute", beta=1e-2, witness=False).is_optimal  # optimal for another loss?
    False
    """
    if not isinstance(network, PolyNetwork):
        raise TypeError(f"network must be a PolyNetwork, got {type(network).__name__}")
    network.check_unit_norm()
    tol = check_tol(tol)
    carried = network.witness if witness else None
    if loss is None:
        loss = loss_from_spec(carried.loss) if carried is not None else "squared"
    if beta is None:
        if carried is None:
            source = ("witness=False leaves the network's witness unused, so beta is not taken from it"
                      if network.witness is not None else "the network carries no witness to take it from")
            raise ValueError(f"beta is required: {source} (certify(network, X, y, loss, beta))")
        beta = carried.beta
    beta = check_positive_beta(beta)
    problem = Problem(X, y, network.activation, loss, beta, n_outputs=network.n_outputs,
                      architecture=network.architecture, sample_weight=sample_weight)
    cert = certify_problem(problem, network, dual=dual, tol=tol, witness=_witness_dual(carried, problem))
    if improve and not cert.lower_bound >= cert.objective:
        rounds = 20 if improve is True else int(improve)
        cert = improved_certificate(problem, network, cert, rounds=rounds)
    return cert
