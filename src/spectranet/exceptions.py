"""Exceptions and warnings of spectranet.

:class:`ConvergenceWarning` is scikit-learn's (:class:`sklearn.exceptions.ConvergenceWarning`),
re-exported: spectranet issues it when a fit ends with a certified relative gap above ``tol``
(status ``"inaccurate"``, ``"max_iter"`` or ``"time_limit"``), and its docstring is scikit-learn's.
"""

from sklearn.exceptions import ConvergenceWarning

__all__ = ["SolverError", "ProblemTooLargeError", "ConvergenceWarning"]


class SolverError(RuntimeError):
    """A solver backend failed to solve the convex program.

    Raised when a backend (a CVXPY solver such as Clarabel or SCS) stops with an error or with no
    usable solution of the convex program; a solve that merely ends with a loose certified gap
    issues a :class:`~spectranet.ConvergenceWarning` instead. The message names the backend, its
    status and what to try (another backend, a larger ``beta``, standardized features).

    Parameters
    ----------
    message : str
        What failed and what to try.
    solver : str, optional
        Registry name of the backend (e.g. ``"clarabel"``, ``"scs-cubic"``).
    status : str, optional
        The backend's status (e.g. ``"solver_error"``, ``"infeasible"``, ``"too_large"``).

    Attributes
    ----------
    solver : str or None
        The ``solver`` argument.
    status : str or None
        The ``status`` argument.

    See Also
    --------
    ProblemTooLargeError : The model does not fit in memory.
    spectranet.available_solvers : The backends installed.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, eq. (21) (the convex program
    the backends solve) and Section 6 (its solution with CVXPY and SCS).

    Examples
    --------
    >>> from spectranet import SolverError
    >>> err = SolverError("scs returned status 'infeasible'", solver="scs", status="infeasible")
    >>> err.solver, err.status, isinstance(err, RuntimeError)
    ('scs', 'infeasible', True)
    """

    def __init__(self, message: str, *, solver: str | None = None, status: str | None = None):
        super().__init__(message)
        self.solver = solver
        self.status = status


class ProblemTooLargeError(SolverError, MemoryError):
    r"""The model a backend would build does not fit in the available memory.

    The CVXPY backends form the explicit lifted features, :math:`(d+1)(d+2)/2` per sample and pair
    of the convex program, before solving; when their estimated size exceeds the available memory
    (or the backend's ``memory_limit``) this error is raised before anything is built. The native
    solver is matrix-free and has no such limit. It is both a :class:`SolverError` (``status ==
    "too_large"``) and a :class:`MemoryError`.

    Parameters
    ----------
    message : str
        The memory needed and available, and what to use instead.
    solver : str, optional
        Registry name of the backend.
    status : str, optional
        ``"too_large"``.

    Attributes
    ----------
    solver : str or None
        The ``solver`` argument.
    status : str or None
        The ``status`` argument.

    See Also
    --------
    SolverError : The base class.
    spectranet.get_solver : ``get_solver("native")`` solves without the explicit lift.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, eq. (11) (the lifted features)
    and eq. (21) (the convex program over them).

    Examples
    --------
    >>> from spectranet import Problem, get_solver, make_planted
    >>> X, y = make_planted(40, 3, random_state=0)
    >>> try:
    ...     get_solver("clarabel", memory_limit=1e3).solve(Problem(X, y, beta=1e-3))
    ... except ProblemTooLargeError as err:
    ...     print(err.status, isinstance(err, MemoryError))
    too_large True
    """
