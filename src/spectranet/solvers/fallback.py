r"""A solver that hands a problem on when the first one does not certify it: ``"auto"`` for the
polyhedral losses.

The native sample-space interior point handles the hinge and absolute losses through their dual
box (:meth:`~spectranet.Loss.dual_box`). On 140 random planted problems
(``benchmarks/bench_campaign.py --polyhedral``, seeds 7 and 11: n 40–300, d 3–30,
:math:`\beta/\beta_{\max}` from 1 to :math:`10^{-5}`) it certified 139 to :math:`10^{-6}`; the other
(the hinge loss at :math:`10^{-5}\beta_{\max}` on 8 features) Clarabel certified. Clarabel alone
left 8 of the 140 short of :math:`10^{-6}` (``"inaccurate"``, gaps up to :math:`2.3 \times 10^{-3}`;
14 before the active-set polish measured its start's kink rows in output units). So ``"auto"``
runs the native engine first and Clarabel when the native result is not certified to ``tol``: all
140 certified, in a median 0.47–0.53 of Clarabel's time (25.9 s against 89.5 s in all).
"""

from __future__ import annotations

import dataclasses
import logging
import time
import warnings

from ..data import check_max_time
from ..exceptions import SolverError
from .base import Solver, SolveResult

__all__ = ["FallbackSolver"]

logger = logging.getLogger(__name__)


class FallbackSolver(Solver):
    """Run ``first``; when its result is not certified to ``tol`` (and time is left), run
    ``second`` on the same problem and return the better certified result.

    Parameters
    ----------
    first, second : Solver
        The solvers, in order; ``name`` is the first one's. Both get the same ``tol``,
        ``max_iter``, ``verbose`` and ``warm_start``; the second gets the time the first left of
        ``max_time`` (a first solver that raised :class:`~spectranet.SolverError` with no time
        left re-raises). The result keeps the name of the solver that produced it (``solver``,
        ``engine``) and the time of both; each solver's warnings (its
        :class:`~spectranet.ConvergenceWarning`) are shown only when its result is the one returned,
        and a second solver that fails leaves the first one's result.

    See Also
    --------
    spectranet.get_solver : ``"auto"`` builds one for the polyhedral losses.
    spectranet.solvers.native.NativeSolver : The first solver there (``engine="ipm"``).
    spectranet.solvers.cvxpy_backend.ClarabelSolver : The second.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*: program (21), which both
    solvers solve, and the duality of Section 3 behind the certificate either result carries.

    Examples
    --------
    >>> from spectranet import Problem, get_solver, make_planted
    >>> X, y = make_planted(40, 3, random_state=0)
    >>> solver = get_solver("auto", Problem(X, y, loss="absolute", beta=0.1))
    >>> type(solver).__name__, solver.first.name, solver.second.name
    ('FallbackSolver', 'native', 'clarabel')
    """

    def __init__(self, first: Solver, second: Solver):
        self.first, self.second = first, second
        self.name = first.name

    def with_flags(self, self_certify: bool, lean: bool) -> "FallbackSolver":
        return FallbackSolver(self.first.with_flags(self_certify, lean), self.second.with_flags(self_certify, lean))

    def supports(self, problem) -> bool:
        return self.first.supports(problem) or self.second.supports(problem)

    def solve(self, problem, *, tol=1e-6, max_iter=None, verbose=False, warm_start=None,
              max_time=None) -> SolveResult:
        max_time = check_max_time(max_time)
        start = time.perf_counter()
        kwargs = dict(tol=tol, max_iter=max_iter, verbose=verbose, warm_start=warm_start)
        if not self.first.supports(problem):
            return self.second.solve(problem, **kwargs, max_time=max_time)
        result, shown = _quietly(self.first.solve, problem, **kwargs, max_time=max_time)
        failed = isinstance(result, SolverError)
        left = None if max_time is None else max_time - (time.perf_counter() - start)
        if (not failed and result.status == "optimal") or not self.second.supports(problem) or (
                left is not None and left <= 0):
            if failed:
                raise result
            _reissue(shown)
            return result
        logger.info("%s did not certify tol (%s); %s takes over", self.first.name,
                    result if failed else f"gap {result.gap:.2e}", self.second.name)
        other, other_shown = _quietly(self.second.solve, problem, **kwargs, max_time=left)
        if failed or (not isinstance(other, SolverError) and other.gap <= result.gap):
            if isinstance(other, SolverError):
                raise other
            result, shown = other, other_shown
        _reissue(shown)  # (a second solver that failed leaves the first one's result)
        return dataclasses.replace(result, time=time.perf_counter() - start)


def _quietly(solve, *args, **kwargs):
    """``(result or the SolverError raised, the warnings recorded)``: a solver's warnings are
    shown only for the result returned."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return solve(*args, **kwargs), caught
        except SolverError as exc:
            return exc, caught


def _reissue(caught) -> None:
    """Show the recorded warnings, attributed to the caller of :meth:`FallbackSolver.solve`."""
    for w in caught:
        warnings.warn(w.message, w.category, stacklevel=3)
