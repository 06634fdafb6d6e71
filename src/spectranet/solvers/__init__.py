"""Solver registry: name -> solver class, and the preference order of ``solver="auto"``.

The solvers compute the globally optimal network of problem (P) through the convex program (21)
(Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*) and certify it:

* ``"native"`` (:class:`~spectranet.solvers.native.NativeSolver`): matrix-free interior points in the
  sample or the lifted space, column generation and low-rank engines, for smooth losses (and,
  through their dual box, the sample-space interior point for the polyhedral ones, which
  ``"auto"`` runs with Clarabel as its fallback: :mod:`spectranet.solvers.fallback`);
* ``"clarabel"``, ``"scs"``, ``"mosek"`` (:mod:`spectranet.solvers.cvxpy_backend`): the program
  written in CVXPY with the explicit lift, for every loss with a :meth:`~spectranet.Loss.cvxpy` form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import Solver, SolveResult
from .cvxpy_backend import ClarabelSolver, MosekSolver, ScsSolver
from .fallback import FallbackSolver
from .native import NativeSolver

if TYPE_CHECKING:
    from ..problem import Problem

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
    r"""Return the names of the registered solvers whose dependencies are installed.

    The registry :data:`SOLVERS` holds the solvers of the convex program (21),

    .. math:: \min_{Z_p, Z_p' \in \mathcal{N}_f}\ \ell(\mathcal{A}(Z - Z'), Y)
              + \beta \sum_p (Z_{p,4} + Z'_{p,4});

    the native solver has no dependency beyond numpy and scipy, the CVXPY backends need their solver
    packages (and MOSEK a license).

    Returns
    -------
    list of str
        Registry names, in the order of :data:`SOLVERS`; each is accepted by :func:`get_solver`.

    See Also
    --------
    get_solver : A solver by name.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, eq. (21) and Section 6 (the paper
    solved it with CVXPY and SCS).

    Examples
    --------
    >>> "native" in available_solvers()
    True
    """
    return [name for name, cls in SOLVERS.items() if cls.is_available()]


def get_solver(solver: str | Solver = "auto", problem: Problem | None = None, **options: Any) -> Solver:
    r"""Return a solver instance of the convex program (21).

    The solver of a name, or for ``"auto"`` the first installed solver in :data:`AUTO_ORDER`
    (``"native"``, ``"clarabel"``, ``"mosek"``, ``"scs"``) that supports ``problem``: the native solver
    for the smooth losses. For the polyhedral ones (hinge, absolute), ``"auto"`` gives a
    :class:`~spectranet.solvers.fallback.FallbackSolver`: the native sample-space interior point,
    then Clarabel if that did not certify ``tol`` (a CVXPY backend alone where the native engine
    does not take the problem, or when ``options`` are given: they are the backend's).

    Parameters
    ----------
    solver : str or Solver, default="auto"
        A registry name (see :func:`available_solvers`), ``"auto"`` or a :class:`Solver` instance
        (returned as is).
    problem : Problem, optional
        Used by ``"auto"`` to skip solvers that do not support the problem, and checked against a named
        solver.
    **options
        Passed to the solver's constructor (e.g. ``memory_limit`` or solver options of a CVXPY
        backend, ``engine`` of the native solver).

    Returns
    -------
    Solver
        A new instance (or ``solver`` itself).

    Raises
    ------
    TypeError
        If ``solver`` is neither a str nor a Solver.
    ValueError
        If the name is unknown, the solver is not installed or does not support ``problem``, or no
        installed solver supports it (``"auto"``).

    See Also
    --------
    available_solvers : The names installed.
    spectranet.SolveResult : What :meth:`Solver.solve` returns.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, eq. (21) (the program the solvers
    solve) and Theorem 1 (its optimum is the global optimum of (P)).

    Examples
    --------
    >>> from spectranet import Problem, make_planted
    >>> X, y = make_planted(40, 3, random_state=0)
    >>> get_solver("auto", Problem(X, y, loss="squared")).name  # a smooth loss
    'native'
    >>> get_solver("auto", Problem(X, y, loss="absolute")).name  # a polyhedral loss: native, then Clarabel
    'native'
    """
    if isinstance(solver, Solver):
        return solver
    if not isinstance(solver, str):
        raise TypeError(f"solver must be a name or a Solver instance, got {solver!r}")
    if solver == "auto":
        polyhedral = (NativeSolver(engine="ipm") if problem is not None and not problem.loss.smooth and not options
                      else None)
        probe = problem if problem is None or problem.beta > 0 else problem.with_beta(1.0)  # (a path's base: beta 0)
        if polyhedral is not None and polyhedral.supports(probe) and ClarabelSolver.is_available():
            return FallbackSolver(polyhedral, ClarabelSolver())  # see spectranet.solvers.fallback
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
        explain = getattr(instance, "_unsupported", None)  # (the native solver's: which engine needs what)
        raise ValueError(explain(problem) if callable(explain)
                         else f"solver {solver!r} does not support this problem ({problem!r})")
    return instance
