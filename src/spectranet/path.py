r"""The regularization path: :math:`\beta_{\max}` and warm-started sweeps over :math:`\beta`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from .certificate import max_violation
from .problem import Problem
from .solvers import get_solver

__all__ = ["beta_max", "regularization_path", "PathResult"]

logger = logging.getLogger(__name__)


def beta_max(X, y, activation="relu", loss="squared", *, n_outputs=None) -> float:
    r"""Smallest :math:`\beta` for which the zero network is globally optimal.

    The zero network is optimal iff :math:`\max_k \max_{\|u\|=1} |V_k^\top \sigma(Xu)| \le \beta`
    with :math:`V = -\nabla \ell(0, Y)` (the certificate at :math:`\hat Y = 0`), so
    :math:`\beta_{\max}` is that maximum, computed exactly. For non-smooth losses with a kink
    at 0 (absolute loss with some :math:`y_i = 0`) the subgradient 0 is used there, which makes
    the value an upper bound of the threshold.

    Parameters
    ----------
    X : array-like of shape (n, d)
    y : array-like of shape (n,) or (n, C)
        Targets in the loss's encoding.
    activation, loss
        As in :class:`~spectranet.problem.Problem`.
    """
    problem = Problem(X, y, activation, loss, 0.0, n_outputs=n_outputs)
    V = -problem.loss.gradient(np.zeros_like(problem.Y), problem.Y)
    return float(max_violation(problem, V).value)


@dataclass
class PathResult:
    """Per-:math:`\\beta` results of :func:`regularization_path`, in the order of ``betas``."""

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
        """A plain-text table, one row per beta."""
        rows = [f"{'beta':>10} {'objective':>14} {'m*':>4} {'gap':>9} {'time s':>7}"]
        for i, b in enumerate(self.betas):
            rows.append(f"{b:>10.4g} {self.objectives[i]:>14.8g} {self.n_neurons[i]:>4d} "
                        f"{self.gaps[i]:>9.1e} {self.times[i]:>7.2f}")
        return "\n".join(rows)


def regularization_path(X, y, betas, activation="relu", loss="squared", *, solver="auto",
                        tol=1e-6, max_iter=None, n_outputs=None) -> PathResult:
    r"""Solve (21) for each :math:`\beta` in ``betas``, largest first, with warm starts.

    Each solve reuses the previous one's solver state (for the CVXPY backends, the compiled
    model with :math:`\beta` as a parameter; for warm-startable solvers, the previous
    network).

    Returns
    -------
    PathResult
        Objective, network objective, certified bound and gap, :math:`m^*` and time per
        :math:`\beta`, in the order given.
    """
    betas = np.asarray(betas, dtype=float).ravel()
    if betas.size == 0:
        raise ValueError("betas must contain at least one value")
    base = Problem(X, y, activation, loss, 0.0, n_outputs=n_outputs)
    for b in betas:  # validate every beta before solving any
        base.with_beta(b)
    solver = get_solver(solver, base)
    results = [None] * betas.size
    previous = None
    for i in np.argsort(-betas, kind="stable"):
        previous = solver.solve(base.with_beta(betas[i]), tol=tol, max_iter=max_iter,
                                warm_start=previous)
        results[i] = previous
        logger.info("beta=%g: objective %.8g, m*=%d, gap %.1e", betas[i], previous.objective,
                    previous.n_neurons, previous.gap)
    return PathResult(
        betas=betas,
        objectives=np.array([r.objective for r in results]),
        network_objectives=np.array([r.network_objective for r in results]),
        lower_bounds=np.array([r.lower_bound for r in results]),
        gaps=np.array([r.gap for r in results]),
        n_neurons=np.array([r.n_neurons for r in results], dtype=int),
        times=np.array([r.time for r in results]),
        statuses=[r.status for r in results],
        networks=[r.network for r in results],
    )
