"""Exceptions and warnings of spectranet.

:class:`SolverError` (a backend failed), :class:`ProblemTooLargeError` (a model would not fit in
memory) and :class:`ConvergenceWarning` (a fit ended with a certified relative gap above ``tol``).
spectranet's :class:`ConvergenceWarning` subclasses scikit-learn's
(:class:`sklearn.exceptions.ConvergenceWarning`), so filters and handlers written for either catch it.
"""

from sklearn.exceptions import ConvergenceWarning as _SklearnConvergenceWarning

__all__ = ["SolverError", "ProblemTooLargeError", "ConvergenceWarning"]


class ConvergenceWarning(_SklearnConvergenceWarning):
    r"""A fit or solve ended without certifying its tolerance.

    Every fit is certified: the objective (P) of the returned network and a dual lower bound on the
    global optimum give the relative gap ``gap_``. When that gap is above ``tol`` — the time budget
    (``max_time``) or the iteration limit (``max_iter``) ran out, or the solver stopped on a
    numerically difficult problem — the fit keeps the best network it certified, sets ``status_``
    to ``"time_limit"``, ``"max_iter"`` or ``"inaccurate"`` and issues this warning with the
    certified gap: a fit never claims more than its certificate. The backprop baselines issue it
    when training diverges (``diverged_``).

    It is a subclass of :class:`sklearn.exceptions.ConvergenceWarning` (itself a
    :class:`UserWarning`): filters written for scikit-learn's, such as
    ``warnings.simplefilter("ignore", sklearn.exceptions.ConvergenceWarning)``, apply to it unchanged.

    Parameters
    ----------
    message : str
        Which solver stopped and why, the certified relative gap against ``tol``, and what to try
        (a larger ``max_iter`` or ``max_time``, standardized features, another solver).

    See Also
    --------
    SolverError : Raised when a backend fails outright (no usable solution).
    spectranet.certify : The certificate behind ``gap_`` and ``status_``.
    sklearn.exceptions.ConvergenceWarning : The base class.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, eq. (20) (problem (P), whose
    objective bounds the optimum from above), eqs. (24) and (26) (the duals whose feasible points
    bound it from below) and Theorem 1.

    Examples
    --------
    >>> import warnings
    >>> import sklearn.exceptions
    >>> from spectranet import ConvergenceWarning, ConvexPolyNetRegressor, make_planted
    >>> issubclass(ConvergenceWarning, sklearn.exceptions.ConvergenceWarning)
    True
    >>> X, y = make_planted(40, 3, random_state=0)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     est = ConvexPolyNetRegressor(beta=1e-2, max_time=1e-6).fit(X, y)  # no time to certify
    >>> est.status_, any(issubclass(w.category, ConvergenceWarning) for w in caught)
    ('time_limit', True)
    >>> bool(est.gap_ > est.tol)  # the certified gap the warning reports
    True
    """


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
