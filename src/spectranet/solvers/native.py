r"""Our own solver: two interior-point engines and certified column generation, one result.

Every engine ends the same way — neural decomposition of its lifted point
(:func:`~spectranet.solvers.base.extract_network`, the ``invert`` of the lift), the polish where
it is cheap, and the exact certificate (:func:`~spectranet.certificate.certify_problem`):

* ``"ipm"`` — **interior point in sample space** (:mod:`spectranet.solvers.ipm`): each lifted
  constraint matrix :math:`A_i` has rank two, so a Newton step is a Schur complement of order
  :math:`nC`, :math:`O(n^2 d + n^3)`. Small ``n``, any width of the optimum.
* ``"lifted"`` — **interior point in the lifted space** (:mod:`spectranet.solvers.lifted`):
  Newton blocks of order :math:`D = (f+1)(f+2)/2` per pair; the data enter through the lifted
  Hessian (a pass per iteration; for the squared loss once, as sufficient statistics). Small
  ``d`` (or filter size), any ``n``, any width, any data backend.
* ``"lowrank"`` — **Burer–Monteiro factors in a growing subspace** (:mod:`spectranet.solvers.lowrank`):
  one pass over ``X`` per round (the exact oracle), the rest on the subspace data; large ``d``
  with narrow optima, dense in-memory data.
* ``"columns"`` — **certified column generation** on the network
  (:func:`~spectranet.local.column_generation`): the iterate is always a feasible network; each
  round polishes it and adds the most violated neuron
  :math:`\arg\max_{\|u\|=1} |V_k^\top \sigma(Xu)|` of its certificate. Only products with ``X``
  and ``d x d`` matrices: large ``d`` with narrow optima, and warm starts.

``engine="auto"`` chooses by the documented cost model of :mod:`spectranet.solvers.dispatch`.
Scope: smooth losses (squared, Huber, logistic, softmax) on numpy arrays, torch tensors (any
device) and Dask arrays (:mod:`spectranet.data`); the polyhedral losses (hinge, absolute) run
through the sample-space interior point only with ``engine="ipm"`` (the registry's ``"auto"`` runs it
with Clarabel as its fallback, :mod:`spectranet.solvers.fallback`). The state and steps of one
solve are in :mod:`spectranet.solvers.native_run`.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import scipy.linalg as sla

from ..certificate import certify_problem
from ..data import check_positive_beta
from ..network import PolyNetwork
from . import dispatch, ipm, lifted  # imported with the solver: on a first solve they cost 15 ms
from .base import Solver, check_solve_arguments, compress_network, zero_if_optimal
from .native_run import LOWRANK_TRIAL_GAP, TRIAL_GAP, _Run
from .warm import start_network, units_of, warm_beta_max, warm_objective

__all__ = ["NativeSolver", "ENGINES"]

logger = logging.getLogger(__name__)

#: the engines of ``NativeSolver(engine=...)``
ENGINES = ("auto", "ipm", "lifted", "lowrank", "columns")
#: seconds of the lifted engine's estimate up to which it follows a sample-space interior point that
#: stalled (see :meth:`NativeSolver._lifted_after`)
RETRY_LIFTED = 1.0


class NativeSolver(Solver):
    """Interior points in sample and lifted space, column generation; every result certified (see
    the module docstring).

    Parameters
    ----------
    engine : {"auto", "ipm", "lifted", "lowrank", "columns"}, default="auto"
        ``"auto"``: the cost model of :mod:`spectranet.solvers.dispatch` (smooth losses).
        ``"ipm"`` also accepts the polyhedral losses (``"auto"`` of the registry runs it for them,
        with Clarabel as its fallback: :mod:`spectranet.solvers.fallback`).
    rank_tol : float, default=1e-7
        Relative eigenvalue cut of the neural decomposition after an interior-point engine.
    self_certify : bool, default=True
        Make the network certify itself (its own gradient as the dual point, which anyone can
        recompute from the network and the data): the interior-point engines run until the face
        polish of an iterate (:mod:`spectranet.face`) gives such a network, a few iterations more.
    lean : bool, default=True
        Among optimal networks, return a narrow one: Pataki's reduction on the optimal face.

    See Also
    --------
    spectranet.get_solver : A solver by name (``"native"``, or ``"auto"``).
    spectranet.solvers.cvxpy_backend.ClarabelSolver : The generic interior point on program (21).
    spectranet.certify : The certificate every result carries, recomputed from the network.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*: program (21) (what every
    engine solves), Section 4 (neural decomposition, with the erratum of the project's notes) and
    the duality of Section 3 (the certificate's dual point).

    Examples
    --------
    >>> from spectranet import Problem, make_planted
    >>> X, y = make_planted(60, 4, random_state=0)
    >>> result = NativeSolver().solve(Problem(X, y, loss="squared", beta=0.1), tol=1e-6)
    >>> result.status, bool(result.gap <= 1e-6), bool(result.certificate.own_gap <= 1e-6)
    ('optimal', True, True)
    """

    name = "native"

    def __init__(self, engine: str = "auto", rank_tol: float = 1e-7, self_certify: bool = True,
                 lean: bool = True):
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
        self.engine = engine
        self.rank_tol = rank_tol
        self.self_certify = bool(self_certify)
        self.lean = bool(lean)

    def with_flags(self, self_certify: bool, lean: bool) -> "NativeSolver":
        return NativeSolver(self.engine, self.rank_tol, self_certify=self_certify, lean=lean)

    # -- what runs --------------------------------------------------------------------------
    def supports(self, problem) -> bool:
        if self.engine == "ipm":  # also the polyhedral losses (get_solver("auto"): with a fallback)
            return ipm.supports(problem) and not problem.is_dask
        if self.engine == "lifted":
            return lifted.supports(problem)
        if self.engine == "lowrank":
            from . import lowrank

            return lowrank.supports(problem)
        return problem.loss.smooth

    def _unsupported(self, problem) -> str:
        if self.engine == "ipm":
            why = (f"the sample-space interior point needs in-memory data and Schur systems it holds: n <= "
                   f"{ipm.MAX_SCHUR_LOW_MEMORY} for losses separable over outputs, n <= {ipm.MAX_SCHUR} and "
                   f"(3C + 1) n^2 <= {ipm.MAX_SCHUR_LOW_MEMORY ** 2} floats for softmax, n*C <= {ipm.MAX_SCHUR} for "
                   f"another multi-output loss (here n = {problem.n_samples}, C = {problem.n_outputs}); use "
                   "engine='lifted' or 'columns'")
        elif self.engine == "lowrank":
            why = ("the low-rank engine needs dense in-memory numpy data, a smooth loss and beta > 0; use "
                   "engine='columns'")
        elif self.engine == "lifted":
            why = (f"the lifted interior point needs a smooth loss with a Hessian (squared, logistic, "
                   f"softmax, huber) and Newton blocks of order <= "
                   f"{lifted.MAX_ORDER} (here {lifted.newton_order(problem)}, loss {problem.loss.name}); use "
                   "engine='columns' for large d")
        else:
            why = (f"its engines need a smooth loss (squared, huber, logistic, softmax), not "
                   f"{problem.loss.name} (engine='ipm' takes the polyhedral losses with a dual box); use "
                   "solver='auto' (engine='ipm', then Clarabel) or 'clarabel'")
        return f"solver 'native' (engine={self.engine!r}) does not support this problem: {why}"

    def plan(self, problem, beta_max: float, start=None) -> dispatch.Plan:
        """The engine this solver runs on ``problem`` (see :mod:`spectranet.solvers.dispatch`)."""
        if self.engine != "auto":
            return dispatch.Plan(self.engine, 0.0, {})
        return dispatch.plan(problem, beta_max=beta_max, warm_width=None if start is None else start.n_neurons)

    # -- the solve ----------------------------------------------------------------------------
    def solve(self, problem, *, tol=1e-6, max_iter=None, verbose=False, warm_start=None, max_time=None):
        tol, max_iter, max_time = check_solve_arguments(tol, max_iter, verbose, warm_start, max_time)
        check_positive_beta(problem.beta)
        if not self.supports(problem):
            raise ValueError(self._unsupported(problem))
        start_time = time.perf_counter()
        deadline = None if max_time is None else start_time + float(max_time)
        # float32 tensors: every engine works in float64 on their device (in float32 their Newton
        # systems and polishes stall above tol: planted 5000 x 10 squared at 1e-4 beta_max, a
        # certified gap of 1.1e-4 against 1.4e-8 for the same values in float64)
        problem = problem.in_float64()
        start = start_network(problem, warm_start)
        if start is not None:  # the same point of the lifted program with rank-many neurons
            start = compress_network(problem, start)
        lam = warm_beta_max(warm_start, problem)  # a path: beta_max of the same data, known
        zero_objective = None if problem.is_dask else problem.loss.value(np.zeros_like(problem.Y), problem.Y)
        if lam is None or lam <= problem.beta:
            zero_cert = certify_problem(problem, problem.zero_network(), tol=tol)  # its lam: beta_max
            zero = zero_if_optimal(problem, tol, self.name, start_time, zero_cert)
            if zero is not None:
                return zero
            lam, zero_objective = zero_cert.lam, zero_cert.objective
        units = units_of(problem)
        base = problem if units is None else units.apply()
        if units is not None and start is not None:
            start = PolyNetwork(start.first_layer, start.second_layer * (units.kappa / units.scale), base.activation,
                                start.architecture)
        reduction = self._reduction(base, warm_start)
        work = base if reduction is None else reduction.apply().with_beta(base.beta)
        if reduction is not None and start is not None:
            start = reduction.reduce_network(start)
        run = _Run(self, work, tol, max_iter, verbose, start_time, warm_objective(warm_start), deadline)
        run.beta_max = (problem.data, problem.loss, lam)
        try:
            network, cert, engine = self._run(run, work, lam * (1.0 if units is None else base.beta / problem.beta),
                                              start)
        except (np.linalg.LinAlgError, sla.LinAlgError) as exc:  # (overflown directions: 1e-52 beta_max)
            run.log("native: the engines failed (%s); the zero network", exc)
            network, engine = work.zero_network(), "zero"
            cert = certify_problem(work, network, tol=tol)
        if reduction is not None or units is not None:  # back to the original problem; its certificate
            dual = cert.dual
            if reduction is not None:
                network = reduction.invert(network)
            if units is not None:
                network = units.invert(network)
                dual = dual * units.dual_factor
            cert = certify_problem(problem, network, dual=dual, tol=tol)
            run.record(network, cert)
        if zero_objective is not None and not cert.objective <= zero_objective:  # (NaN too) an engine stopped
            # far from the optimum (1e-30 beta_max: objective 9e16): never worse than no network
            run.log("native: objective %.6g above the zero network's %.6g; the zero network", cert.objective,
                    zero_objective)
            network = problem.zero_network()
            cert = certify_problem(problem, network, dual=cert.dual, tol=tol)
            run.record(network, cert)
        return run.result(network, cert, engine, reduction, problem, units)

    def _reduction(self, problem, warm_start):
        """The row-space reduction of ``problem`` (:mod:`spectranet.reductions`), the one of a
        warm start on the same data when there is one."""
        from ..reductions import RowSpaceReduction

        state = getattr(warm_start, "warm_state", None)
        previous = state.get("reduction") if isinstance(state, dict) else None
        if previous is not None and previous.problem.data is problem.data:
            return previous
        return RowSpaceReduction.of(problem)

    def _run(self, run, problem, beta_max, start):
        """The plan's engines on ``problem``: ``(network, certificate, engine)``."""
        plan = self.plan(problem, beta_max, start)
        run.log("native: plan %s (estimates %s)", plan, {k: f"{v:.3g}s" for k, v in plan.estimates.items()})
        network = start if start is not None else problem.zero_network()
        narrow = plan.engine if plan.engine in ("columns", "lowrank") else plan.narrow
        if plan.engine == narrow or plan.trial > 0:
            deadline = run.until(run.start_time + plan.trial if plan.trial > 0 else None)
            # a trial that has not brought the gap below TRIAL_GAP in a third of its budget would
            # not certify in the rest (spambase: gap 0.65 after 13 s, 0.38 after 38 s); not for column
            # generation with several outputs, whose gap stays near 1 until each has its neurons (a
            # neuron a round: digits' ten classes at 1e-2 beta_max, 0.96 for 18 s, then 3e-7 in 2 s)
            bar = TRIAL_GAP if narrow == "columns" else LOWRANK_TRIAL_GAP
            several = narrow == "columns" and problem.n_outputs > 1
            milestone = (run.start_time + plan.trial / 3, bar) if plan.trial > 0 and not several else None
            if narrow == "lowrank":
                network, cert = run.lowrank(deadline, milestone)
            else:
                network, cert = run.columns(network, deadline, milestone)
            if plan.engine == narrow or cert.is_optimal:
                return network, cert, narrow
            if run.remaining(1) == 0:  # the trial used max_iter up
                run.limit = "max_iter"
                return network, cert, narrow
            run.log("native: the %s trial did not certify within %.2fs; %s", narrow, plan.trial, plan.engine)
        if plan.engine == "ipm":
            network, cert, engine = self._sample_space(run, problem)
            return self._lifted_after(run, problem, plan, (network, cert, engine))
        network, cert = run.interior_point(plan.engine)
        if (self.engine == "auto" and plan.engine == "lifted" and not cert.is_optimal
                and not problem.loss.twice_differentiable
                and ipm.supports(problem) and not problem.is_dask and not run.spent()):
            # Huber's semismooth Newton in the lifted space stalls where most samples sit on its
            # linear pieces (raw diabetes targets, delta = 1: a gap of 0.93); its box form does not
            run.log("native: the lifted engine stopped at a gap of %.2e; the sample-space interior point",
                    cert.gap)
            run.tried = None
            return self._sample_space(run, problem)
        return network, cert, plan.engine

    def _lifted_after(self, run, problem, plan, found):
        """The lifted interior point after a sample-space one that stopped uncertified (a stall, not
        a limit) on a smooth loss, where the plan estimated it at most RETRY_LIFTED seconds, or as long
        as the solve so far: the better of the two (Huber, 170 x 10 at 1e-10 beta_max: the sample-space
        engine stalls at a gap of 0.9, the lifted one certifies 3e-9 in 0.07 s)."""
        cert = found[1]
        estimate = plan.estimates.get("lifted", float("inf"))
        if (self.engine != "auto" or cert.is_optimal or not problem.loss.smooth or run.limit or run.out_of_time()
                or estimate > max(RETRY_LIFTED, time.perf_counter() - run.start_time)):
            return found
        run.log("native: the sample-space interior point stopped at a gap of %.2e; the lifted one", cert.gap)
        run.tried, run.rotating, kept = None, None, (run.lifted, run.limit)
        again = run.interior_point("lifted")
        best = min([found, (*again, "lifted")], key=lambda c: run._rank(*c[:2]))
        if best is found:  # (the lifted point and the limit are those of the result)
            run.lifted, run.limit = kept
        return best

    @staticmethod
    def _sample_space(run, problem):
        """The sample-space interior point; on torch data everything but its iterations on the
        float64 host copy (extraction, face polish, the exact Newton polish, certificates: as for
        numpy data); the iterations on a GPU where :func:`~spectranet.solvers._schur_torch.
        runs_on_device` (their Schur kernels, factors and solves there), on the host otherwise (on
        the CPU numpy is the same hardware), and again on the host if the device runs out of memory."""
        from . import _schur_torch

        if type(problem.data).__name__ != "TorchData":
            network, cert = run.interior_point("ipm")
            return network, cert, "ipm"
        run.problem = problem.on_host()
        if _schur_torch.runs_on_device(problem):
            run.iterate_on = problem
            try:
                network, cert = run.interior_point("ipm")
                return network, cert, "ipm"
            except Exception as exc:  # torch.OutOfMemoryError (torch.cuda.OutOfMemoryError before 2.5)
                if "OutOfMemoryError" not in type(exc).__name__:
                    raise
                logger.warning("the sample-space interior point ran out of device memory (%s); solving on the "
                               "host", str(exc).splitlines()[0])
                run.iterate_on, run.tried = None, None
        network, cert = run.interior_point("ipm")
        return network, cert, "ipm"
