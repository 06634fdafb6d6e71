r"""The regularization path: :math:`\beta_{\max}` and warm-started sweeps over :math:`\beta`.

``regularization_path(..., n_jobs=k)`` splits the sweep into ``k`` contiguous warm-started
segments and runs them through joblib, so they go wherever the active joblib backend sends them:
local processes by default, a Dask cluster inside ``joblib.parallel_backend("dask")``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .certificate import max_violation
from .data import check_max_time, check_positive_beta, check_tol
from .problem import Problem
from .solvers import Solver, get_solver

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from .activations import ActivationLike
    from .architectures import Conv2D, Dense
    from .losses import Loss

__all__ = ["beta_max", "regularization_path", "PathResult"]

logger = logging.getLogger(__name__)


def beta_max(X: ArrayLike | Problem, y: ArrayLike | None = None, activation: ActivationLike = "relu",
             loss: str | Loss = "squared", *, n_outputs: int | None = None,
             architecture: Dense | Conv2D | None = None, sample_weight: ArrayLike | float | None = None) -> float:
    r"""Smallest :math:`\beta` for which the zero network is globally optimal.

    The zero network is optimal iff :math:`\max_k \max_{\|u\|=1} |V_k^\top \sigma(Xu)| \le \beta`
    with :math:`V = -\nabla \ell(0, Y)` (the certificate at :math:`\hat Y = 0`), so
    :math:`\beta_{\max}` is that maximum, computed exactly. For non-smooth losses with a kink
    at 0 (absolute loss with some :math:`y_i = 0`) the subgradient 0 is used there, which makes
    the value an upper bound of the threshold.

    Parameters
    ----------
    X : array-like of shape (n, d), or a Problem
        The data, or a prepared :class:`~spectranet.problem.Problem` (then the other arguments
        are not used).
    y : array-like of shape (n,) or (n, C)
        Targets in the loss's encoding.
    activation : str, tuple or PolyActivation, default="relu"
        The activation :math:`\sigma`.
    loss : str or Loss, default="squared"
        The loss :math:`\ell`.
    n_outputs, architecture, sample_weight : int or None, Dense or Conv2D or None, array-like or None
        As in :class:`~spectranet.problem.Problem`.

    Returns
    -------
    float
        :math:`\beta_{\max}`: for every :math:`\beta \ge \beta_{\max}` the optimum of (P) is the
        zero network.

    Raises
    ------
    TypeError
        If ``y`` is missing while ``X`` is not a Problem.
    ValueError
        If the data, activation, loss or architecture are invalid.

    See Also
    --------
    regularization_path : Solve for a sequence of :math:`\beta` below it.
    spectranet.certify : The same maximum for any network.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, eq. (26) (the dual constraint
    :math:`|v^\top \sigma(Xu)| \le \beta` on the sphere) and eq. (27).

    Examples
    --------
    >>> from spectranet import make_planted
    >>> X, y = make_planted(40, 3, random_state=0)
    >>> round(beta_max(X, y), 4)
    54.3778
    """
    if isinstance(X, Problem):
        problem = X
    else:
        if y is None:
            raise TypeError("beta_max needs y with the data X (or a Problem as its only argument)")
        problem = Problem(X, y, activation, loss, 0.0, n_outputs=n_outputs, architecture=architecture,
                          sample_weight=sample_weight)
    V = -problem.loss.gradient(np.zeros_like(problem.Y), problem.Y)
    return float(max_violation(problem, V).value)


@dataclass
class PathResult:
    r"""Per-:math:`\beta` results of :func:`regularization_path`, in the order of ``betas``.

    Each entry is the certified solution of the convex program (21) at one :math:`\beta`;
    larger :math:`\beta` give narrower networks (the paper's Fig. 7).

    Attributes
    ----------
    betas : ndarray of shape (k,)
        The values of :math:`\beta`.
    objectives, network_objectives, lower_bounds, gaps : ndarray of shape (k,)
        Per :math:`\beta`: the solver's objective, the objective (P) of the network, the certified
        lower bound and the relative gap (NaN for a :math:`\beta` not reached in time).
    n_neurons : ndarray of int, shape (k,)
        Width :math:`m^*` of each network (-1 if not reached).
    times : ndarray of shape (k,)
        Seconds of each solve.
    statuses : list of str
        ``SolveResult.status`` of each solve (``"time_limit"`` if not reached).
    networks : list of PolyNetwork or None
        The networks.

    See Also
    --------
    regularization_path : Makes it.
    spectranet.SolveResult : The result of one solve.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, eq. (21), eq. (22) (the width
    :math:`m^*`) and Fig. 7 (accuracy and :math:`m^*` against :math:`\beta`).

    Examples
    --------
    >>> from spectranet import make_planted
    >>> X, y = make_planted(40, 3, random_state=0)
    >>> path = regularization_path(X, y, [1.0, 0.1])
    >>> path.n_neurons.tolist(), path.statuses
    ([3, 3], ['optimal', 'optimal'])
    """

    betas: np.ndarray
    objectives: np.ndarray
    network_objectives: np.ndarray
    lower_bounds: np.ndarray
    gaps: np.ndarray
    n_neurons: np.ndarray
    times: np.ndarray
    statuses: list = field(default_factory=list)
    networks: list = field(default_factory=list)

    def as_table(self) -> str:
        """Return a plain-text table, one row per beta.

        Returns
        -------
        str
            Columns beta, objective, :math:`m^*`, gap and time.
        """
        rows = [f"{'beta':>10} {'objective':>14} {'m*':>4} {'gap':>9} {'time s':>7}"]
        for i, b in enumerate(self.betas):
            rows.append(f"{b:>10.4g} {self.objectives[i]:>14.8g} {self.n_neurons[i]:>4d} "
                        f"{self.gaps[i]:>9.1e} {self.times[i]:>7.2f}")
        return "\n".join(rows)


def _solve_segment(problem: Problem, solver, betas, tol, max_iter, deadline=None) -> list[dict]:
    """Solve a warm-started segment of the path (``betas`` in the order to solve them); returns
    the per-beta summaries (light to send back from a joblib worker). ``deadline``: a wall-clock
    ``time.time()`` (shared by joblib workers) after which the remaining betas are not solved."""
    out, previous = [], None
    for beta in betas:
        left = None if deadline is None else deadline - time.time()
        if left is not None and left <= 0:
            out.append({"objective": np.nan, "network_objective": np.nan, "lower_bound": np.nan, "gap": np.nan,
                        "n_neurons": -1, "time": 0.0, "status": "time_limit", "network": None})
            continue
        previous = solver.solve(problem.with_beta(beta), tol=tol, max_iter=max_iter, warm_start=previous,
                                max_time=left)
        logger.info("beta=%g: objective %.8g, m*=%d, gap %.1e", beta, previous.objective,
                    previous.n_neurons, previous.gap)
        out.append({"objective": previous.objective, "network_objective": previous.network_objective,
                    "lower_bound": previous.lower_bound, "gap": previous.gap,
                    "n_neurons": previous.n_neurons, "time": previous.time,
                    "status": previous.status, "network": previous.network})
    return out


def _check_betas(betas) -> np.ndarray:
    """``betas`` as a non-empty float array (each value is checked by the problems)."""
    try:
        betas = np.asarray(betas, dtype=float).ravel()
    except (TypeError, ValueError):
        raise ValueError(f"betas must be a sequence of numbers >= 0, got {betas!r}") from None
    if betas.size == 0:
        raise ValueError("betas must contain at least one value")
    return betas


def regularization_path(X: ArrayLike, y: ArrayLike, betas: ArrayLike, activation: ActivationLike = "relu",
                        loss: str | Loss = "squared", *, solver: str | Solver = "auto", tol: float = 1e-6,
                        max_iter: int | None = None, n_outputs: int | None = None, n_jobs: int | None = None,
                        architecture: Dense | Conv2D | None = None, max_time: float | None = None,
                        sample_weight: ArrayLike | float | None = None) -> PathResult:
    r"""Solve (21) for each :math:`\beta` in ``betas``, largest first, with warm starts.

    Each solve reuses the previous one's solver state (a CVXPY backend's compiled model, a previous network).

    Parameters
    ----------
    X, y : array-like of shape (n, d) and (n,) or (n, C)
        The data and the targets (in the loss's encoding).
    betas : array-like of float
        The values of :math:`\beta`, each ``> 0``.
    activation : str, tuple or PolyActivation, default="relu"
        The activation :math:`\sigma`.
    loss : str or Loss, default="squared"
        The loss :math:`\ell`.
    solver, tol, max_iter : str or Solver, float, int or None
        The solver (default ``"auto"``, see :func:`~spectranet.get_solver`), the target relative gap
        (default 1e-6) and the iteration limit of each solve.
    n_outputs, sample_weight : int, array-like of shape (n,) or None
        The number of outputs (softmax labels) and the weights of the samples' losses, as in
        :class:`~spectranet.problem.Problem`.
    n_jobs : int or None, default=None
        ``None`` or 1: one warm-started sweep. Otherwise ``joblib.effective_n_jobs(n_jobs)`` contiguous
        warm-started segments run in parallel by joblib (local processes, or a Dask cluster inside
        ``joblib.parallel_backend("dask")``): the same certified results. Ignored for Dask data.
    architecture : None, Dense or Conv2D, optional
        As in :class:`~spectranet.problem.Problem`.
    max_time : float, optional
        Seconds for the whole path: each solve gets what is left, and the betas not reached in time are
        reported with status ``"time_limit"``, NaN values, ``n_neurons = -1`` and no network.

    Returns
    -------
    PathResult
        Objective, network objective, bound, gap, :math:`m^*` and time per :math:`\beta`, in the order given.

    Raises
    ------
    ValueError
        If ``betas`` is empty or not positive, or the data, options or solver are invalid.

    See Also
    --------
    beta_max : Above it the optimum is the zero network.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, eq. (21) and Section 6.2 (Fig. 7).

    Examples
    --------
    >>> from spectranet import make_planted
    >>> X, y = make_planted(40, 3, random_state=0)
    >>> path = regularization_path(X, y, [54.4, 5.44, 0.544])  # beta_max(X, y) = 54.378
    >>> path.n_neurons.tolist(), bool(path.gaps.max() < 1e-6)
    ([0, 2, 3], True)
    """
    betas = _check_betas(betas)
    tol, max_time = check_tol(tol), check_max_time(max_time)
    deadline = None if max_time is None else time.time() + max_time
    base = Problem(X, y, activation, loss, 0.0, n_outputs=n_outputs, architecture=architecture,
                   sample_weight=sample_weight)
    [check_positive_beta(b) for b in betas]  # every beta validated before any is solved
    solver = get_solver(solver, base)
    order = np.argsort(-betas, kind="stable")
    n_segments = 1
    if n_jobs not in (None, 1):
        if base.is_dask:
            logger.info("regularization_path: n_jobs=%r ignored for Dask data (each solve runs on the cluster)", n_jobs)
        else:
            from joblib import effective_n_jobs

            n_segments = max(1, min(effective_n_jobs(n_jobs), betas.size))
    segments = [seg for seg in np.array_split(order, n_segments) if seg.size]
    if len(segments) == 1:
        summaries = [_solve_segment(base, solver, betas[order], tol, max_iter, deadline)]
    else:
        from joblib import Parallel, delayed

        summaries = Parallel(n_jobs=n_jobs)(
            delayed(_solve_segment)(base, solver, betas[seg], tol, max_iter, deadline) for seg in segments)
    results = [None] * betas.size
    for seg, summary in zip(segments, summaries):
        for i, r in zip(seg, summary):
            results[i] = r
    return PathResult(
        betas=betas,
        objectives=np.array([r["objective"] for r in results]),
        network_objectives=np.array([r["network_objective"] for r in results]),
        lower_bounds=np.array([r["lower_bound"] for r in results]),
        gaps=np.array([r["gap"] for r in results]),
        n_neurons=np.array([r["n_neurons"] for r in results], dtype=int),
        times=np.array([r["time"] for r in results]),
        statuses=[r["status"] for r in results],
        networks=[r["network"] for r in results],
    )
