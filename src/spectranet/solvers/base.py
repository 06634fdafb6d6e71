"""Solver interface and the one result type every solver returns."""

from __future__ import annotations

import logging
import warnings
import weakref
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from ..certificate import Certificate, certify_problem
from ..data import check_max_iter, check_max_time, check_tol
from ..decomposition import neural_decomposition
from ..exceptions import ConvergenceWarning
from ..network import PolyNetwork
from ..problem import Problem
from ..witness import Witness, data_fingerprint, loss_spec

logger = logging.getLogger(__name__)

__all__ = ["Solver", "SolveResult", "CubicWeights", "make_witness", "extract_network", "certified_result",
           "check_solve_arguments",
           "zero_if_optimal"]


@dataclass(frozen=True)
class CubicWeights:
    r"""The cubic-regularized form of a square-activation network (:mod:`spectranet.cubic`).

    Attributes
    ----------
    first_layer : ndarray of shape (m, d)
        Rows :math:`2^{1/9}|\lambda_j|^{1/3} q_j` (not unit norm).
    second_layer : ndarray of shape (m,) or (m, C)
    nuclear_matrix : ndarray of shape (C, d, d)
        The solution :math:`W^*` of the nuclear-norm program, one per output.
    """

    first_layer: np.ndarray
    second_layer: np.ndarray
    nuclear_matrix: np.ndarray = field(repr=False)


@dataclass
class SolveResult:
    r"""What every solver returns: the certified solution of the convex program (21).

    A solver minimizes :math:`\ell(\mathcal{A}(Z - Z'), Y) + \beta \sum_p (Z_{p,4} + Z'_{p,4})` over
    :math:`Z_p, Z_p' \in \mathcal{N}_f` (or works on problem (P) directly), extracts a network of width
    :math:`m^* = \sum_p (\operatorname{rank} Z_p^* + \operatorname{rank} Z_p'^*)` and certifies it:
    ``network_objective - lower_bound`` bounds its distance to the global optimum of (P). Made by the
    solvers (:meth:`Solver.solve`); its fields are the attributes.

    Attributes
    ----------
    network : PolyNetwork
        The network (unit-norm first layer) the solver ends with.
    objective : float
        The best value proven attainable: the convex program (21) at the solver's final feasible
        point, or ``network_objective`` when lower; never above ``network_objective``, and equal
        to the optimum within the certified gap.
    network_objective : float
        Objective (P) of ``network``: an upper bound on the global optimum.
    lower_bound : float
        Certified lower bound on the global optimum (:func:`spectranet.certify`).
    gap : float
        Relative gap between ``network_objective`` and ``lower_bound``.
    status : str
        ``"optimal"`` when the certified gap is at most ``tol``; otherwise why not:
        ``"time_limit"`` (``max_time`` ran out), ``"max_iter"`` (the iteration limit was reached)
        or ``"inaccurate"`` (the solver stopped without certifying ``tol``).
    solver : str
        Registry name of the solver.
    iterations : int
        Iterations of the solver's main loop.
    time : float
        Wall-clock seconds of the solve (model build included).
    certificate : Certificate
        The certificate of ``network`` (:func:`spectranet.certify`).
    engine : str
        The engine that produced the network: ``"zero"`` (the zero network is optimal),
        ``"ipm"`` (interior point in sample space), ``"lifted"`` (interior point in the lifted
        space), ``"columns"`` (column generation), or the CVXPY backend's name.
    history : list of (time, objective, lower_bound)
        Progress of the solve.
    lifted : tuple of ndarray, optional
        ``(Z, Z')`` of shape ``(P, d+1, d+1)`` each, for solvers that compute them.
    cubic : CubicWeights, optional
        The cubic-regularized weights (``regularization="cubic"``).
    warm_state : object
        Private to the solver that made the result (a compiled CVXPY model), reused by its warm
        starts; not part of the public API.
    n_neurons : int
        Width :math:`m^*` of ``network``.
    converged : bool
        Whether ``status == "optimal"``.

    See Also
    --------
    Solver.solve : Makes it.
    spectranet.Certificate : Its ``certificate``.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, eq. (21) (the convex program),
    eq. (22) (the width :math:`m^*`) and Section 4 (neural decomposition, which extracts ``network``).

    Examples
    --------
    >>> from spectranet import Problem, get_solver, make_planted
    >>> X, y = make_planted(40, 3, random_state=0)
    >>> problem = Problem(X, y, beta=1e-2)
    >>> result = get_solver("clarabel").solve(problem)
    >>> result.status, result.n_neurons, result.lifted[0].shape  # Z: (P, d+1, d+1)
    ('optimal', 4, (1, 4, 4))
    """

    network: PolyNetwork
    objective: float
    network_objective: float
    lower_bound: float
    gap: float
    status: str
    solver: str
    iterations: int
    time: float
    certificate: Certificate
    engine: str = ""
    history: list = field(default_factory=list)
    lifted: tuple[np.ndarray, np.ndarray] | None = None
    cubic: CubicWeights | None = None
    warm_state: object = field(default=None, repr=False)

    @property
    def n_neurons(self) -> int:
        """Width :math:`m^*` of the network."""
        return self.network.n_neurons

    @property
    def converged(self) -> bool:
        """Whether ``status == "optimal"``."""
        return self.status == "optimal"


class Solver(ABC):
    r"""Base class of the solvers of the convex program for a :class:`~spectranet.problem.Problem`.

    A solver returns the globally optimal network of problem (P) through the convex program (21),

    .. math:: \min_{Z_p, Z_p' \in \mathcal{N}_f}\ \ell(\mathcal{A}(Z - Z'), Y)
              + \beta \sum_p (Z_{p,4} + Z'_{p,4}),

    and certifies it. The registry (:func:`~spectranet.get_solver`) holds the native solver
    (matrix-free interior points and column generation) and the CVXPY backends (Clarabel, SCS, MOSEK).
    Subclasses implement :meth:`solve` and, where it applies, :meth:`is_available` and :meth:`supports`.

    Attributes
    ----------
    name : str
        Registry name.
    install_hint : str
        How to install the solver's dependencies (shown when they are missing).

    See Also
    --------
    spectranet.get_solver : A solver by name.
    SolveResult : What :meth:`solve` returns.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, eq. (21) (the convex program),
    Section 4 (neural decomposition) and Section 6 (solved with CVXPY and SCS).

    Examples
    --------
    >>> from spectranet import Problem, get_solver, make_planted
    >>> X, y = make_planted(40, 3, random_state=0)
    >>> problem = Problem(X, y, beta=1e-2)
    >>> solver = get_solver("auto", problem)
    >>> solver.name, solver.supports(problem), solver.solve(problem).status
    ('native', True, 'optimal')
    """

    #: registry name
    name: str = ""
    #: how to install the solver's dependencies (shown when they are missing)
    install_hint: str = ""

    @classmethod
    def is_available(cls) -> bool:
        """Whether the solver's dependencies are installed.

        Returns
        -------
        bool
            True when the solver can run here.
        """
        return True

    def supports(self, problem: Problem) -> bool:
        """Whether the solver handles this problem (loss, architecture).

        Parameters
        ----------
        problem : Problem
            The problem.

        Returns
        -------
        bool
            True when :meth:`solve` accepts it.
        """
        return True

    def with_flags(self, self_certify: bool, lean: bool) -> "Solver":
        """This solver with the estimators' ``self_certify`` and ``lean`` where it has them (the
        native solver, and the native first solver of a fallback); itself otherwise."""
        return self

    @abstractmethod
    def solve(self, problem: Problem, *, tol: float = 1e-6, max_iter: int | None = None,
              verbose: bool = False, warm_start: SolveResult | None = None,
              max_time: float | None = None) -> SolveResult:
        """Solve ``problem`` to relative certified gap ``tol`` where the solver can.

        Parameters
        ----------
        problem : Problem
            The problem.
        tol : float, default=1e-6
            Target relative certified gap, in (0, 1).
        max_iter : int, optional
            Bound on the iterations of the solver's main loop (interior-point iterations,
            column-generation or low-rank rounds, a CVXPY backend's iterations).
        verbose : bool, default=False
            Show the solver's progress.
        warm_start : SolveResult, optional
            A previous result on the same data (e.g. another ``beta``).
        max_time : float, optional
            Bound on the wall-clock seconds, model building and final polish included: the solve
            then stops within about 10 % of it plus one pass over the data, with the best network
            certified so far, ``status == "time_limit"`` and a
            :class:`~spectranet.exceptions.ConvergenceWarning`.

        Returns
        -------
        SolveResult
            The certified result; a gap above ``tol`` issues a ConvergenceWarning.
        """


def extract_network(problem: Problem, Z: np.ndarray, Z_prime: np.ndarray, rank_tol: float) -> PolyNetwork:
    """``invert``: neural decomposition of each pair; neurons of pair p feed pair p only (its
    output, and for a CNN its patch or pooling window)."""
    d, P = problem.n_features, problem.n_pairs
    firsts, seconds = [np.zeros((0, d))], [np.zeros((0, P))]
    for p in range(P):
        U, alpha = neural_decomposition(Z[p], Z_prime[p], rank_tol=rank_tol)
        A = np.zeros((alpha.size, P))
        A[:, p] = alpha
        firsts.append(U)
        seconds.append(A)
    return problem.make_network(np.vstack(firsts), np.vstack(seconds))


def lift_network(network: PolyNetwork) -> tuple[np.ndarray, np.ndarray]:
    r"""``apply`` to a network: the point :math:`(Z_p, Z_p')` of the lifted program it represents,
    :math:`Z_p = \sum_j (\alpha_{jp})_+ \hat u_j \hat u_j^\top`,
    :math:`Z_p' = \sum_j (\alpha_{jp})_- \hat u_j \hat u_j^\top` with :math:`\hat u = (u, 1)`;
    shape (P, d+1, d+1) each. Its lifted objective is the network's (P) objective."""
    U, A = network.first_layer, network.second_layer_2d
    Uh = np.hstack([U, np.ones((len(U), 1))])
    return (np.einsum("jp,ja,jb->pab", np.clip(A, 0.0, None), Uh, Uh),
            np.einsum("jp,ja,jb->pab", np.clip(-A, 0.0, None), Uh, Uh))


def compress_network(problem: Problem, network: PolyNetwork, rank_tol: float = 1e-12) -> PolyNetwork:
    """The same point of the lifted program with at most rank-many neurons per pair (neural
    decomposition of :func:`lift_network`): the objective is unchanged, redundant neurons (a
    network trained by SGD, an accumulation of column generation) are gone. Returns ``network``
    itself when that does not reduce the width or changes the objective beyond rounding."""
    if network.n_neurons <= 1:
        return network
    compact = extract_network(problem, *lift_network(network), rank_tol)
    if compact.n_neurons >= network.n_neurons:
        return network
    before, after = problem.objective(network), problem.objective(compact)
    if after > before + 1e-12 * max(abs(before), 1e-300):
        return network
    logger.debug("compressed a network from %d to %d neurons", network.n_neurons, compact.n_neurons)
    return compact


#: beta / beta_max below which the certified gap is out of reach of double precision (the advice: a larger beta)
TINY_BETA_RATIO = 1e-10


def tiny_beta_hint(beta: float, beta_max: float) -> str:
    """The first advice of an uncertified fit whose beta is tiny next to :math:`\\beta_{\\max}`, else ``""``."""
    ratio = beta / beta_max if beta_max > 0 else float("inf")
    if ratio >= TINY_BETA_RATIO:
        return ""
    return f"; beta is {ratio:.1e} times beta_max: try a larger beta (spectranet.beta_max)"


#: the end of the ConvergenceWarning of a solve stopped by its budget (``limit``), for every solver
TIME_LIMIT_HINT = "; the time limit (max_time) stopped it: allow more time, or a larger beta"


def other_backends_hint(name: str, extra: str = "", limit: str = "") -> str:
    """The hint of an inaccurate CVXPY fit: the interior-point backends other than ``name``
    (suggesting the backend that just stopped short helps no one), then ``extra``; for one stopped by
    ``max_time`` (``limit``), more time (Clarabel's warning named MOSEK and max_iter)."""
    if limit == "time_limit":
        return TIME_LIMIT_HINT
    others = " or ".join(f"'{b}'" for b in ("clarabel", "mosek") if b != name)
    return f"; try solver={others}{extra}, or standardized features"


def certified_result(network: PolyNetwork, certificate: Certificate, *, tol: float, solver: str, objective: float,
                     iterations: int, elapsed: float, stopped: str = "", hint: str = "",
                     history: list | None = None, lifted=None, engine: str = "", cubic=None,
                     warm_state=None, problem: Problem | None = None, limit: str = "") -> SolveResult:
    """The :class:`SolveResult` of ``network`` and its certificate. The certificate, not a backend's own
    status, decides ``status``: ``"optimal"`` iff the certified gap is at most ``tol``, else
    ``"inaccurate"`` with a :class:`~spectranet.exceptions.ConvergenceWarning` (``stopped``
    and ``hint`` complete its message; ``limit``, ``"time_limit"`` or ``"max_iter"``, is the status
    of a solve stopped by it). With ``problem`` (in-memory data), the network carries its
    certificate's dual point as its :class:`~spectranet.witness.Witness`."""
    status = "optimal" if certificate.gap <= tol else (limit or "inaccurate")
    if status != "optimal":
        warnings.warn(f"{solver} stopped{stopped} with a certified relative gap of {certificate.gap:.2e} > "
                      f"tol={tol:g}{hint}", ConvergenceWarning, stacklevel=3)
    if history is None:
        history = [(elapsed, certificate.objective, certificate.lower_bound)]
    if problem is not None and not problem.is_dask:
        network = network.with_witness(make_witness(problem, certificate))
    return SolveResult(network=network, objective=min(objective, certificate.objective),
                       network_objective=certificate.objective, lower_bound=certificate.lower_bound,
                       gap=certificate.gap, status=status, solver=solver, iterations=int(iterations), time=elapsed,
                       certificate=certificate, engine=engine or solver, history=history, lifted=lifted, cubic=cubic,
                       warm_state=warm_state)


#: the fingerprint of each data object seen: a path or a grid search solves the same data many
#: times (hashing 10^5 x 20 takes 23 ms); a Problem's data are not copied, so, as for every other
#: cache on them (the sufficient statistics, the row-space reduction), data modified in place under
#: an existing Problem are not seen
_FINGERPRINTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def make_witness(problem: Problem, certificate: Certificate) -> Witness:
    """The witness of a certificate on ``problem``'s data: its dual point, loss, beta and the data's
    fingerprint."""
    fingerprint = _FINGERPRINTS.get(problem.data)
    if fingerprint is None:
        fingerprint = _FINGERPRINTS[problem.data] = data_fingerprint(problem.X, problem.Y, problem.sample_weight)
    return Witness(problem.data.host(certificate.dual), loss_spec(problem.loss), problem.beta, fingerprint)


def zero_if_optimal(problem: Problem, tol: float, solver: str, start: float,
                    certificate: Certificate | None = None) -> SolveResult | None:
    r"""The result "zero network" when its certificate proves it optimal (:math:`\beta \ge
    \beta_{\max}`), else None. One quadratic form and its eigendecomposition: every solver checks
    this first, so none is run on a problem whose answer is known (where interior-point
    backends can fail numerically). ``certificate``: the zero network's, if already computed
    (its ``lam`` is :math:`\beta_{\max}`)."""
    import time

    zero = problem.zero_network()
    cert = certify_problem(problem, zero, tol=tol) if certificate is None else certificate
    if cert.lam > problem.beta or not cert.is_optimal:
        return None
    return certified_result(zero, cert, tol=tol, solver=solver, objective=cert.objective, iterations=0,
                            elapsed=time.perf_counter() - start, engine="zero", problem=problem)


def check_solve_arguments(tol, max_iter, verbose, warm_start, max_time):
    """The arguments of every :meth:`Solver.solve`, checked (a clear error, not one from inside a
    backend: Clarabel's core rejected ``verbose="yes"`` and ``max_iter=-1`` with errors of its own,
    and read ``warm_start=123`` as an object with a ``warm_state``): returns ``(tol, max_iter,
    max_time)``."""
    if not isinstance(verbose, (bool, np.bool_)):
        raise TypeError(f"verbose must be True or False, got {verbose!r}")
    if warm_start is not None and not isinstance(warm_start, (SolveResult, PolyNetwork)):
        raise TypeError(f"warm_start must be None, a SolveResult or a PolyNetwork, got {type(warm_start).__name__}")
    return check_tol(tol), check_max_iter(max_iter), check_max_time(max_time)
