r"""Square activation with cubic regularization: a nuclear-norm program.

For the square activation :math:`\sigma(t) = t^2` and :math:`c_0 = 2^{1/3} + 2^{-2/3}`, the
non-convex cubic-regularized problem

.. math::

    \min_{u_j \in \mathbb{R}^d,\ \alpha_j \in \mathbb{R}^C}\
        \ell\Big(\sum_j (X u_j)^2 \alpha_j^\top,\ Y\Big)
        + \frac{\beta}{c_0} \sum_j \big(\|u_j\|_2^3 + \|\alpha_j\|_1^3\big)

equals problem (P) with :math:`(a, b, c) = (1, 0, 0)` and :math:`\ell_1` weight :math:`\beta`.
Indeed, writing :math:`u_j = t_j q_j` with :math:`\|q_j\|_2 = 1` and
:math:`\gamma_j = t_j^2 \alpha_j` (which keeps the output), the penalty of neuron ``j`` is
:math:`t_j^3 + \|\gamma_j\|_1^3 / t_j^6`, minimal at :math:`t_j^9 = 2\|\gamma_j\|_1^3` with
value :math:`c_0 \|\gamma_j\|_1`. For a scalar output (and for neurons feeding one output,
which is what the extraction returns) :math:`\|\alpha_j\|_1^3 = \|\alpha_j\|_3^3 = |\alpha_j|^3`.
With :math:`W_k = \sum_j \gamma_{jk} q_j q_j^\top`, the program is convex:

.. math::

    \min_{W_1, \dots, W_C \in \mathbb{S}^d}\
        \ell\big([\operatorname{diag}(X W_k X^\top)]_{k=1}^C,\ Y\big)
        + \beta \sum_{k=1}^C \|W_k\|_* ,

since :math:`\min \{\sum_j |\gamma_{jk}| : W_k = \sum_j \gamma_{jk} q_j q_j^\top\} = \|W_k\|_*`
(the :math:`\ell_1` penalty separates by output, as in the vector-output program). It is
solved as :math:`W_k = P_k - N_k`, :math:`P_k, N_k \succeq 0`, penalty
:math:`\beta \sum_k \operatorname{tr}(P_k + N_k)`. The eigendecomposition
:math:`W_k^* = \sum_j \lambda_j q_j q_j^\top` gives the unit-norm network
:math:`u_j = q_j`, :math:`\alpha_j = \lambda_j e_k` (width :math:`m^* = \sum_k
\operatorname{rank} W_k^* \le dC`) and the cubic weights
:math:`u_j = 2^{1/9} |\lambda_j|^{1/3} q_j`, :math:`\alpha_j = \operatorname{sign}(\lambda_j)
2^{-2/9} |\lambda_j|^{1/3} e_k`.

Note: with the penalty :math:`\|\alpha_j\|_3^3` and ``C > 1`` the same rescaling gives
:math:`c_0 \|\gamma_j\|_3 \le c_0 \|\gamma_j\|_1`, a different (smaller) problem whose dual
constraint is not an eigenvalue problem; :func:`cubic_objective` offers it as
``output_norm=3`` for comparison only.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import numpy as np

from .activations import PolyActivation
from .exceptions import SolverError
from .kernels import network_outputs
from .local import tighten
from .network import PolyNetwork
from .penalties import C0, CubicPenalty
from .problem import Problem
from .solvers.base import CubicWeights, SolveResult, certified_result, check_solve_arguments, other_backends_hint

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from .losses import Loss
    from .solvers.cvxpy_backend import CvxpySolver

__all__ = ["C0", "SQUARE", "solve_cubic", "cubic_weights", "cubic_objective", "extract_cubic_network",
           "balance"]

logger = logging.getLogger(__name__)

#: the square activation :math:`\sigma(t) = t^2`
SQUARE = PolyActivation(1.0, 0.0, 0.0)


def _check_problem(problem) -> Problem:
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a spectranet.Problem, got {type(problem).__name__}")
    if problem.activation != SQUARE:
        raise ValueError(
            f"cubic regularization needs the square activation (a, b, c) = (1, 0, 0) "
            f"(activation='square'); the problem has activation {problem.activation}. For other "
            "activations solve (P) with spectranet.get_solver(...).solve(problem)"
        )
    if not problem.architecture.is_dense:
        raise ValueError(f"cubic regularization is derived for the dense architecture, not "
                         f"{problem.architecture!r}; use regularization='l1' for convolutional networks")
    return problem


def _backend(solver):
    """A CVXPY solver instance of the registry (its tolerances and availability)."""
    from .solvers import AUTO_ORDER, SOLVERS
    from .solvers.cvxpy_backend import CvxpySolver

    names = sorted(k for k, v in SOLVERS.items() if issubclass(v, CvxpySolver))
    if isinstance(solver, CvxpySolver):
        return solver
    if solver == "auto":
        for name in AUTO_ORDER:
            if issubclass(SOLVERS[name], CvxpySolver) and SOLVERS[name].is_available():
                return SOLVERS[name]()
        raise ValueError(f"no CVXPY backend installed; install one of {names}")
    if not isinstance(solver, str) or solver not in names:
        raise ValueError(f"solver must be 'auto' or a CVXPY backend in {names}, got {solver!r}")
    cls = SOLVERS[solver]
    if not cls.is_available():
        raise ValueError(f"solver {solver!r} is not installed; install it with: {cls.install_hint}")
    return cls()


def _build(problem: Problem):
    r"""CVXPY model of :math:`\min \ell(\hat Y, Y) + \beta \sum_k \operatorname{tr}(P_k + N_k)`."""
    import cvxpy as cp

    X, d, C = problem.X, problem.n_features, problem.n_outputs
    P = [cp.Variable((d, d), PSD=True, name=f"P{k}") for k in range(C)]
    N = [cp.Variable((d, d), PSD=True, name=f"N{k}") for k in range(C)]
    # diag(X W X^T) = rowsum((X W) * X): linear in W, no loop over samples
    outputs = cp.vstack([cp.sum(cp.multiply(X @ (P[k] - N[k]), X), axis=1) for k in range(C)]).T
    constraints, link = [], None
    if problem.loss.smooth:
        Yhat = outputs
    else:  # the dual of the link is the dual point of the certificate
        Yhat = cp.Variable((problem.n_samples, C), name="Yhat")
        link = Yhat == outputs
        constraints.append(link)
    penalty = cp.sum(cp.hstack([cp.trace(M) for M in P + N]))
    objective = cp.Minimize(problem.loss.cvxpy(Yhat, problem.Y) + problem.beta * penalty)
    return cp.Problem(objective, constraints), P, N, link


def extract_cubic_network(W: np.ndarray, *, rank_tol: float = 1e-7,
                          scalar_output: bool = True) -> PolyNetwork:
    r"""Unit-norm network of :math:`W_k = \sum_j \lambda_j q_j q_j^\top`: :math:`u_j = q_j`,
    :math:`\alpha_j = \lambda_j e_k`.

    Parameters
    ----------
    W : ndarray of shape (C, d, d)
        Symmetric matrices, one per output.
    rank_tol : float
        Eigenvalues with :math:`|\lambda| \le` ``rank_tol`` times the largest :math:`|\lambda|`
        over all outputs are dropped.
    scalar_output : bool
        Return a ``(m,)`` second layer when ``C == 1``.
    """
    W = np.asarray(W, dtype=float)
    C, d = W.shape[0], W.shape[1]
    decomps = [np.linalg.eigh(0.5 * (Wk + Wk.T)) for Wk in W]
    largest = max((float(np.max(np.abs(ev))) for ev, _ in decomps), default=0.0)
    firsts, seconds = [np.zeros((0, d))], [np.zeros((0, C))]
    for k, (ev, vecs) in enumerate(decomps):
        keep = np.abs(ev) > rank_tol * largest
        A = np.zeros((int(keep.sum()), C))
        A[:, k] = ev[keep]
        firsts.append(vecs[:, keep].T)
        seconds.append(A)
    second = np.vstack(seconds)
    return PolyNetwork(np.vstack(firsts), second[:, 0] if (C == 1 and scalar_output) else second, SQUARE)


def _split(W: np.ndarray):
    """Lifted pair (Z, Z') in N_d of W = W+ - W-: Z = diag(W+, tr W+), Z' = diag(W-, tr W-)."""
    C, d = W.shape[0], W.shape[1]
    Z, Zp = np.zeros((C, d + 1, d + 1)), np.zeros((C, d + 1, d + 1))
    for k in range(C):
        ev, vecs = np.linalg.eigh(0.5 * (W[k] + W[k].T))
        Wp = (vecs * np.maximum(ev, 0.0)) @ vecs.T
        Wm = (vecs * np.maximum(-ev, 0.0)) @ vecs.T
        Z[k, :d, :d], Z[k, d, d] = Wp, np.trace(Wp)
        Zp[k, :d, :d], Zp[k, d, d] = Wm, np.trace(Wm)
    return Z, Zp


def cubic_weights(network: PolyNetwork) -> tuple[np.ndarray, np.ndarray]:
    r"""Weights of ``network`` rescaled to the optimum of the cubic penalty.

    Each neuron is written :math:`\gamma_j (x^\top q_j)^2` with :math:`\|q_j\|_2 = 1`,
    :math:`\gamma_j = \|u_j\|_2^2 \alpha_j`; the output-preserving rescaling minimizing
    :math:`\|u_j\|_2^3 + \|\alpha_j\|_1^3` is

    .. math:: u_j = 2^{1/9} \|\gamma_j\|_1^{1/3} q_j, \qquad
              \alpha_j = 2^{-2/9} \|\gamma_j\|_1^{-2/3} \gamma_j ,

    i.e. :math:`\alpha_j = \operatorname{sign}(\lambda_j) 2^{-2/9} |\lambda_j|^{1/3}` for a scalar
    weight :math:`\gamma_j = \lambda_j`, with penalty :math:`c_0 \|\gamma_j\|_1`.

    Parameters
    ----------
    network : PolyNetwork
        A network with the square activation.

    Returns
    -------
    first_layer : ndarray of shape (m, d)
        The balanced rows :math:`u_j` (not unit norm).
    second_layer : ndarray of shape (m,) or (m, C)
        Same shape as ``network.second_layer``; neurons with zero weight are dropped.

    Raises
    ------
    TypeError
        If ``network`` is not a PolyNetwork.
    ValueError
        If its activation is not the square activation.

    See Also
    --------
    cubic_objective : The objective these weights are balanced for.
    solve_cubic : Returns them as ``result.cubic``.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, eq. (2) (cubic
    regularization) and eqs. (42)-(45) (the same rescaling argument for weight decay).

    Examples
    --------
    >>> from spectranet import PolyNetwork
    >>> W, A = cubic_weights(PolyNetwork([[1.0, 0.0]], [2.0], "square"))
    >>> bool(np.allclose(W[0, 0] ** 2 * A[0], 2.0))  # the same neuron: ||u||^2 alpha = 2
    True
    >>> round(float(np.linalg.norm(W[0]) ** 3), 4), round(float(A[0]) ** 3, 4)  # balanced: 2:1
    (2.5198, 1.2599)
    """
    if not isinstance(network, PolyNetwork):
        raise TypeError(f"network must be a PolyNetwork, got {type(network).__name__}")
    if network.activation != SQUARE:
        raise ValueError(f"cubic weights need the square activation (1, 0, 0), got {network.activation}")
    norms = np.linalg.norm(network.first_layer, axis=1)
    gamma = network.second_layer_2d * norms[:, None] ** 2
    size = np.abs(gamma).sum(axis=1)
    keep = size > 0.0
    first, second = balance(network.first_layer[keep] / norms[keep, None], gamma[keep])
    return first, (second[:, 0] if network.second_layer.ndim == 1 else second)


def balance(q: np.ndarray, gamma: np.ndarray):
    r"""The balanced cubic weights of neurons :math:`\gamma_j (x^\top q_j)^2`, unit rows ``q``:
    :math:`u_j = t_j q_j`, :math:`\alpha_j = \gamma_j / t_j^2` with :math:`t_j^9 = 2\|\gamma_j\|_1^3`,
    the scale minimizing :math:`t^3 + \|\gamma_j\|_1^3 / t^6` (a zero neuron stays zero)."""
    t = (2.0 * np.sum(np.abs(gamma), axis=1) ** 3) ** (1.0 / 9.0)
    return q * t[:, None], gamma / np.where(t > 0, t, 1.0)[:, None] ** 2


def cubic_objective(X: ArrayLike, Y: ArrayLike, loss: str | Loss, beta: float, first_layer: ArrayLike,
                    second_layer: ArrayLike, *, output_norm: int = 1) -> float:
    r"""Objective of the non-convex cubic-regularized problem,

    .. math:: \ell\Big(\sum_j (X u_j)^2 \alpha_j^\top, Y\Big)
              + \frac{\beta}{c_0} \sum_j \big(\|u_j\|_2^3 + \|\alpha_j\|_p^3\big),
              \qquad c_0 = 2^{1/3} + 2^{-2/3}.

    With :math:`p = 1` its minimum over the weights equals the optimum of (P) with the square
    activation (:func:`solve_cubic` computes it).

    Parameters
    ----------
    X : array-like of shape (n, d)
        The data.
    Y : array-like of shape (n,) or (n, C)
        Targets in the loss's encoding.
    loss : str or Loss
        The loss :math:`\ell`.
    beta : float
        The weight :math:`\beta \ge 0`.
    first_layer : array-like of shape (m, d)
        First-layer weights :math:`u_j` (any norm).
    second_layer : array-like of shape (m,) or (m, C)
        Second-layer weights :math:`\alpha_j`.
    output_norm : {1, 3}
        ``p``: 1 (default) is the problem equal to the nuclear-norm program; 3 (the
        :math:`\sum_k |\alpha_{jk}|^3` penalty) coincides with it for ``C = 1`` and is
        smaller for neurons feeding several outputs.

    Returns
    -------
    float
        The objective.

    Raises
    ------
    ValueError
        If ``output_norm`` is not 1 or 3, or the data or weights have inconsistent shapes.

    See Also
    --------
    cubic_weights : The balanced weights of a network.
    spectranet.penalties.CubicPenalty : The penalty.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, eq. (2) (the problem
    :math:`P_{SQ}`, with :math:`c_0` as in eq. (42)) and Table 1.

    Examples
    --------
    >>> from spectranet import Problem, make_planted
    >>> X, y = make_planted(40, 3, activation="square", random_state=0)
    >>> result = solve_cubic(Problem(X, y, "square", "squared", beta=1e-2))
    >>> W, A = result.cubic.first_layer, result.cubic.second_layer
    >>> bool(np.isclose(cubic_objective(X, y, "squared", 1e-2, W, A), result.network_objective))
    True
    """
    penalty = CubicPenalty(output_norm)  # checks output_norm
    problem = Problem(X, Y, SQUARE, loss, beta)
    U = np.asarray(first_layer, dtype=float)
    if U.ndim != 2 or U.shape[1] != problem.n_features:
        raise ValueError(f"first_layer must have shape (m, {problem.n_features}), got {U.shape}")
    A = np.asarray(second_layer, dtype=float).reshape(U.shape[0], problem.n_outputs)
    outputs = network_outputs(problem.X, U, A, SQUARE)
    return problem.loss.value(outputs, problem.Y) + problem.beta * penalty.value(U, A)


def solve_cubic(problem: Problem, *, solver: str | CvxpySolver = "clarabel", tol: float = 1e-6, verbose: bool = False,
                rank_tol: float = 1e-7, max_time: float | None = None, max_iter: int | None = None) -> SolveResult:
    r"""Globally optimal square-activation network with cubic regularization.

    Solves the nuclear-norm program

    .. math:: \min_{W_k \in \mathbb{S}^d}\ \ell\big([\operatorname{diag}(X W_k X^\top)]_k, Y\big)
              + \beta \sum_k \|W_k\|_*

    with a CVXPY backend, extracts the unit-norm network from the eigendecompositions of the :math:`W_k^*`,
    tightens it (:func:`spectranet.local.tighten`) and certifies it as a solution of (P), which the
    cubic-regularized problem equals.

    Parameters
    ----------
    problem : Problem
        Its activation must be the square activation ``(1, 0, 0)``.
    solver : str or CvxpySolver, default="clarabel"
        ``"clarabel"``, ``"scs"``, ``"mosek"`` or ``"auto"`` (its tolerances are used).
    tol : float
        Target relative certified gap.
    verbose, rank_tol : bool, float
        Show the backend's progress; relative eigenvalue cut of the extraction.
    max_time : float, optional
        Seconds at most, the model's build included (the backend's own time limit).
    max_iter : int, optional
        The backend's iterations at most (its own default without).

    Returns
    -------
    SolveResult
        ``network`` is the unit-norm network of (P) (the refinement may merge neurons of equal direction
        that feed different outputs into one); ``objective`` the nuclear-norm program's value; ``lifted``
        the pair :math:`Z_k = \operatorname{diag}(W_k^+, \operatorname{tr} W_k^+)`,
        :math:`Z_k' = \operatorname{diag}(W_k^-, \operatorname{tr} W_k^-)` of program (21); ``cubic`` the
        cubic weights (:func:`cubic_weights`) and :math:`W_k^*` (:class:`~spectranet.solvers.base.CubicWeights`).

    Raises
    ------
    TypeError, ValueError, SolverError
        If ``problem`` is not a dense square-activation Problem, the solver is unknown or missing, or
        the backend fails.

    See Also
    --------
    spectranet.ConvexPolyNetRegressor : ``regularization="cubic"`` fits this.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, eq. (2) (cubic regularization,
    :math:`P_{SQ}`), Table 1 (its width :math:`m^* \le d`) and eq. (20) (problem (P), which it equals).

    Examples
    --------
    >>> from spectranet import Problem, make_planted
    >>> X, y = make_planted(40, 3, activation="square", random_state=0)
    >>> result = solve_cubic(Problem(X, y, "square", "squared", beta=1e-2))
    >>> result.status, result.network.n_neurons <= 3  # m* <= d
    ('optimal', True)
    """
    import cvxpy as cp

    tol, max_iter, max_time = check_solve_arguments(tol, max_iter, verbose, None, max_time)
    problem = _check_problem(problem).in_float64()  # (float32 tensors: certificates in float64)
    backend = _backend(solver)
    start = time.perf_counter()
    cp_problem, P, N, link = _build(problem)
    # what is left of max_time after the model's build
    left = None if max_time is None else max(float(max_time) - (time.perf_counter() - start), 1e-3)
    opts = backend.solve_options(tol, max_iter, problem.loss.smooth, left)
    name = f"{backend.name}-cubic"
    logger.debug("solving the nuclear-norm program with %s, options %s", backend.name, opts)
    backend.run(cp_problem, opts, verbose=verbose, what="the nuclear-norm program", name=name)
    status = cp_problem.status
    limit = backend.stop_reason(cp_problem, opts, timed=max_time is not None)
    if status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE, cp.USER_LIMIT) or P[0].value is None:
        raise SolverError(f"{backend.name} returned status {status!r} on the nuclear-norm program; try "
                          "another backend (spectranet.available_solvers()) or rescaled features",
                          solver=name, status=str(status))
    W = np.stack([p.value - q.value for p, q in zip(P, N)])
    W = 0.5 * (W + W.transpose(0, 2, 1))
    Z, Zp = _split(W)
    network = extract_cubic_network(W, rank_tol=rank_tol)
    if link is None:  # smooth loss: the dual point is -grad at the program's own outputs
        dual = -problem.loss.gradient(problem.forward(Z - Zp), problem.Y)
    else:
        dual = None if link.dual_value is None else np.asarray(link.dual_value, dtype=float)
    network, certificate = tighten(problem, network, tol=tol, dual=dual,
                                  deadline=None if max_time is None else start + float(max_time))
    first, second = cubic_weights(network)
    stats = cp_problem.solver_stats
    result = certified_result(
        network, certificate, tol=tol, solver=name, objective=problem.lifted_objective(Z, Zp),
        iterations=int(stats.num_iters or 0) if stats is not None else 0,
        elapsed=time.perf_counter() - start, stopped=f" with status {status!r}",
        hint=other_backends_hint(name, limit=limit), lifted=(Z, Zp),
        engine=name, cubic=CubicWeights(first, second, W), problem=problem, limit=limit)
    logger.info("%s: objective %.10g, m* = %d, certified gap %.2e (%.2fs)", name, result.objective,
                network.n_neurons, certificate.gap, result.time)
    return result
