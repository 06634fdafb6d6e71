"""Solver interface and the one result type every solver returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..certificate import Certificate
from ..network import PolyNetwork
from ..problem import Problem

__all__ = ["Solver", "SolveResult"]


@dataclass
class SolveResult:
    """What every solver returns.

    Attributes
    ----------
    network : PolyNetwork
        The network (unit-norm first layer) the solver ends with.
    objective : float
        Optimal value reported by the solver for its own formulation (for the SDP backends,
        the convex program (21) evaluated at the returned (Z, Z')).
    network_objective : float
        Objective (P) of ``network``: an upper bound on the global optimum.
    lower_bound : float
        Certified lower bound on the global optimum (:func:`spectranet.certify`).
    gap : float
        Relative gap between ``network_objective`` and ``lower_bound``.
    status : str
        ``"optimal"`` when the solver converged; otherwise its status (e.g. ``"inaccurate"``).
    solver : str
        Registry name of the solver.
    iterations : int
    time : float
        Wall-clock seconds of the solve (model build included).
    history : list of (time, objective, lower_bound)
    certificate : Certificate
    lifted : tuple of ndarray, optional
        ``(Z, Z')`` of shape ``(C, d+1, d+1)`` each, for solvers that compute them.
    state : Any
        Solver-specific state reused by a warm start (not part of the public API).
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
    history: list = field(default_factory=list)
    lifted: tuple[np.ndarray, np.ndarray] | None = None
    state: Any = field(default=None, repr=False)

    @property
    def n_neurons(self) -> int:
        """Width :math:`m^*` of the network."""
        return self.network.n_neurons

    @property
    def converged(self) -> bool:
        return self.status == "optimal"


class Solver(ABC):
    """A solver of the convex program for a :class:`~spectranet.problem.Problem`."""

    #: registry name
    name: str = ""
    #: how to install the solver's dependencies (shown when they are missing)
    install_hint: str = ""

    @classmethod
    def is_available(cls) -> bool:
        """Whether the solver's dependencies are installed."""
        return True

    def supports(self, problem: Problem) -> bool:
        """Whether the solver handles this problem (loss, architecture)."""
        return True

    @abstractmethod
    def solve(self, problem: Problem, *, tol: float = 1e-6, max_iter: int | None = None,
              verbose: bool = False, warm_start: SolveResult | None = None) -> SolveResult:
        """Solve ``problem`` to relative certified gap ``tol`` where the solver can."""
