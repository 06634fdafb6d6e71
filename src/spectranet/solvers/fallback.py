r"""A solver that hands a problem on when the first one does not certify it: ``"auto"`` for the
polyhedral losses.

The native sample-space interior point handles the hinge and absolute losses through their dual
box (:meth:`~spectranet.Loss.dual_box`). On 140 random planted problems
(``benchmarks/bench_campaign.py --polyhedral``, seeds 7 and 11: n 40–300, d 3–30,
:math:`\beta/\beta_{\max}` from 1 to :math:`10^{-5}`) it certified 139 to :math:`10^{-6}`; the other
(the hinge loss at :math:`10^{-5}\beta_{\max}` on 8 features) Clarabel certified. Clarabel alone
left 14 of the 140 short of :math:`10^{-6}` (``"inaccurate"``, gaps up to :math:`10^{-2}`). So
``"auto"`` runs the native engine first and Clarabel when the native result is not certified to
``tol``: all 140 certified, in a median 0.46–0.62 of Clarabel's time (25.2 s against 86.7 s in
all).
"""

from __future__ import annotations

import dataclasses
import logging
import time
import warnings

from ..data import check_max_time
from ..exceptions import ConvergenceWarning, SolverError
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
        ``max_time``. The result keeps the name of the solver that produced it (``solver``,
        ``engine``) and the time of both; the first one's :class:`~spectranet.ConvergenceWarning`
        is shown only when its result is the one returned.

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

    def supports(self, problem) -> bool:
        return self.first.supports(problem) or self.second.supports(problem)

    def solve(self, problem, *, tol=1e-6, max_iter=None, verbose=False, warm_start=None,
              max_time=None) -> SolveResult:
        max_time = check_max_time(max_time)
        start = time.perf_counter()
        kwargs = dict(tol=tol, max_iter=max_iter, verbose=verbose, warm_start=warm_start)
        if not self.first.supports(problem):
            return self.second.solve(problem, **kwargs, max_time=max_time)
        with warnings.catch_warnings(record=True) as caught:  # its ConvergenceWarning: only if kept
            warnings.simplefilter("always")
            try:
                result = self.first.solve(problem, **kwargs, max_time=max_time)
            except SolverError as exc:
                if not self.second.supports(problem):
                    raise
                logger.info("%s failed (%s); %s takes over", self.first.name, exc, self.second.name)
                result = None
        for w in caught:
            if not issubclass(w.category, ConvergenceWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        left = None if max_time is None else max_time - (time.perf_counter() - start)
        if result is None or (result.status != "optimal" and self.second.supports(problem)
                              and (left is None or left > 0)):
            if result is not None:
                logger.info("%s certified %.2e > tol; %s takes over", self.first.name, result.gap, self.second.name)
            other = self.second.solve(problem, **kwargs, max_time=left if left is None or left > 0 else None)
            if result is None or other.gap <= result.gap:
                return dataclasses.replace(other, time=time.perf_counter() - start)
        for w in caught:
            if issubclass(w.category, ConvergenceWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return result
