"""Solver registry: name -> solver class, and the preference order of ``solver="auto"``."""

from __future__ import annotations

from .base import Solver, SolveResult
from .cvxpy_backend import ClarabelSolver, MosekSolver, ScsSolver
from .native import NativeSolver

__all__ = ["Solver", "SolveResult", "get_solver", "available_solvers", "SOLVERS", "AUTO_ORDER"]

SOLVERS: dict[str, type[Solver]] = {
    "clarabel": ClarabelSolver,
    "mosek": MosekSolver,
    "scs": ScsSolver,
    "native": NativeSolver,
}

#: preference order of solver="auto": the first installed solver that supports the problem
AUTO_ORDER = ("native", "clarabel", "mosek", "scs")


def available_solvers() -> list[str]:
    """Names of the registered solvers whose dependencies are installed."""
    return [name for name, cls in SOLVERS.items() if cls.is_available()]


def get_solver(solver="auto", problem=None, **options) -> Solver:
    """Return a solver instance.

    Parameters
    ----------
    solver : str or Solver
        A registry name, ``"auto"`` (the first installed solver in :data:`AUTO_ORDER` that
        supports ``problem``) or a :class:`Solver` instance (returned as is).
    problem : Problem, optional
        Used by ``"auto"`` to skip solvers that do not support the problem.
    **options
        Passed to the solver's constructor.
    """
    if isinstance(solver, Solver):
        return solver
    if not isinstance(solver, str):
        raise TypeError(f"solver must be a name or a Solver instance, got {solver!r}")
    if solver == "auto":
        for name in AUTO_ORDER:
            cls = SOLVERS[name]
            if cls.is_available():
                instance = cls(**options)
                if problem is None or instance.supports(problem):
                    return instance
        raise ValueError(
            f"no installed solver supports this problem; installed: {available_solvers()}"
        )
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; valid solvers are ['auto'] + {sorted(SOLVERS)}")
    cls = SOLVERS[solver]
    if not cls.is_available():
        raise ValueError(f"solver {solver!r} is not installed; install it with: {cls.install_hint}")
    instance = cls(**options)
    if problem is not None and not instance.supports(problem):
        raise ValueError(f"solver {solver!r} does not support this problem ({problem!r})")
    return instance
