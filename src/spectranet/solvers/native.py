r"""Our own solver: a structured interior-point method plus certified column generation.

Two engines, one result, both ending in the exact certificate
(:func:`~spectranet.certificate.certify_problem`):

* **Interior point in sample space** (:mod:`spectranet.solvers.ipm`), for a cold start when the
  :math:`nC \times nC` Schur complement fits (moderate ``n``). Each lifted constraint matrix
  :math:`A_i` has rank two, so a Newton step costs :math:`O(n^2 d + n^3 + d^3)` instead of the
  generic solvers' dense :math:`n \times (d+1)^2` lifted matrix. Its solution is inverted by
  neural decomposition (:func:`~spectranet.solvers.base.extract_network`) and tightened by
  :func:`~spectranet.local.refine` with the IPM's dual point.
* **Column generation on the network** (:func:`~spectranet.local.column_generation`), for
  large ``n`` (the Schur complement would not fit) and for warm starts (a regularization path,
  a network trained by SGD). The iterate is a network :math:`(u_j, \alpha_j)` — points of the
  neural spectrahedron's extreme rays — so it is always feasible for (P); each round polishes
  it (L-BFGS-B on both layers with the signs of :math:`\alpha` fixed, then Newton's method on
  :math:`\alpha`), certifies it and adds the most violated neuron
  :math:`\arg\max_{\|u\|=1} |V_k^\top \sigma(Xu)|`. Only products with ``X`` and ``d x d``
  matrices: memory :math:`O(nd + d^2 + md)`.

Scope: smooth losses (squared, Huber, logistic, softmax) on numpy arrays, torch tensors (any
device) and Dask arrays (:mod:`spectranet.data`). The polyhedral losses (hinge, absolute) run
through the interior-point method only with ``engine="ipm"`` (it can stall on them; ``"auto"``
leaves them to the CVXPY backends). Dask data run by column generation only: its passes over
``X`` are Dask array operations on the active scheduler, and the client holds the ``m x d``
network and ``d x d`` matrices.
"""

from __future__ import annotations

import logging
import time
import numpy as np

from ..certificate import certify_problem
from ..data import DaskData, TorchData
from .. import newton
from ..local import column_generation, polish, refine
from ..network import PolyNetwork
from .base import (Solver, SolveResult, certified_result, compress_network, extract_network,
                   zero_if_optimal)

__all__ = ["NativeSolver"]

logger = logging.getLogger(__name__)


#: fraction of the interior-point method's estimated time given to column generation first
IPM_TRIAL = 0.3
#: see the milestone of the column-generation trial in NativeSolver.solve
TRIAL_GAP = 0.1
#: the interior-point method stops at a relative gap of IPM_GAP * tol: its extracted network is
#: then certified by its dual to about half that (measured on the planted 1000 x 50 and UCI
#: instances), and :func:`refine` only works on when it is not
IPM_GAP = 0.1
#: a cold start with beta below WIDE * beta_max goes to the interior-point method at once: the
#: optimal networks there are wide (tens of neurons), and column generation, one neuron per round,
#: spends its whole trial without certifying (1000 x 50 squared loss at beta = 1e-6 beta_max:
#: gap still 0.99 after 22 neurons and 4 s, where the interior point takes 1 s)
WIDE = 1e-4
#: from a relative gap of ACCEPT_GAP * tol on, each interior-point iterate's extracted network is
#: certified (two eigendecompositions of order d+1 and one pass over the data): the first one
#: certified to ``tol`` ends the solve, usually an iteration before IPM_GAP * tol
ACCEPT_GAP = 2.0


def _ipm_seconds(problem) -> float:
    """Rough time of the interior-point method: ~15 iterations of an order-nC Cholesky and the
    O(n^2 d) kernels, at ~15 GFlop/s (measured: 1000 x 50, 45 ms per iteration single-threaded;
    spambase, n = 4601, 1.5 s per iteration on two threads)."""
    n, d, C = problem.n_samples, problem.n_features, problem.n_outputs
    return 15 * ((n * C) ** 3 / 3 + 8 * n * n * d * C) / 15e9


def _max_schur() -> int:
    from .ipm import MAX_SCHUR

    return MAX_SCHUR


def _is_dask(problem) -> bool:
    return isinstance(problem.data, DaskData)


def _start_network(problem, warm_start) -> PolyNetwork | None:
    """The network a warm start provides (a SolveResult or a PolyNetwork), if it fits."""
    net = warm_start.network if isinstance(warm_start, SolveResult) else warm_start
    if net is None:
        return None
    if not isinstance(net, PolyNetwork):
        raise TypeError(f"warm_start must be a SolveResult or a PolyNetwork, got {type(net).__name__}")
    if (net.n_features, net.n_outputs, net.activation, net.architecture) != (
            problem.n_features, problem.n_outputs, problem.activation, problem.architecture):
        logger.info("warm start ignored: its network does not match the problem")
        return None
    norms = np.linalg.norm(net.first_layer, axis=1)
    if net.n_neurons and not np.allclose(norms, 1.0, rtol=0, atol=1e-8):
        raise ValueError("a warm-start network must have unit-norm first-layer rows (problem (P)); got "
                         f"norms in [{norms.min():.3g}, {norms.max():.3g}]")
    return net


class NativeSolver(Solver):
    """Interior point in sample space for cold starts, column generation for large ``n`` and
    warm starts; every result certified (see the module docstring).

    Parameters
    ----------
    engine : {"auto", "ipm", "columns"}, default="auto"
        ``"auto"``: the interior-point method when it supports the problem and there is no
        warm start, column generation otherwise (smooth losses). ``"ipm"`` also accepts the
        polyhedral losses (experimental).
    rank_tol : float, default=1e-7
        Relative eigenvalue cut of the neural decomposition after the interior-point method.
    """

    name = "native"

    def __init__(self, engine: str = "auto", rank_tol: float = 1e-7):
        if engine not in ("auto", "ipm", "columns"):
            raise ValueError(f"engine must be 'auto', 'ipm' or 'columns', got {engine!r}")
        self.engine = engine
        self.rank_tol = rank_tol

    def supports(self, problem) -> bool:
        from . import ipm

        if self.engine == "ipm":  # the polyhedral losses only on request: not yet robust
            return ipm.supports(problem) and not _is_dask(problem)
        return problem.loss.smooth

    def _unsupported(self, problem) -> str:
        smooth = "column generation needs a smooth loss (squared, huber, logistic, softmax)"
        size = (f"the interior-point method handles n*C <= {_max_schur()} (here "
                f"{problem.n_samples * problem.n_outputs})")
        if _is_dask(problem):
            why = ("Dask data run by column generation only (engine='auto' or 'columns'), which needs "
                   f"a smooth loss (squared, huber, logistic, softmax), not {problem.loss.name} with "
                   f"engine={self.engine!r}; compute X and y for the other engines and solvers")
        elif self.engine == "ipm":
            why = f"{size}; use engine='columns' for smooth losses"
        else:
            why = (f"{smooth}, not {problem.loss.name} (engine='ipm' handles the polyhedral losses "
                   "experimentally); use solver='clarabel'")
        return f"solver 'native' (engine={self.engine!r}) does not support this problem: {why}"

    def _use_ipm(self, problem, start) -> bool:
        from . import ipm

        if self.engine != "auto":
            return self.engine == "ipm"
        # warm starts (a path, a network trained by SGD) continue by column generation, and
        # data on a torch device or Dask workers stays there (the interior-point method runs on
        # the host)
        return (start is None and not isinstance(problem.data, (TorchData, DaskData))
                and ipm.supports(problem))

    def solve(self, problem, *, tol=1e-6, max_iter=None, verbose=False, warm_start=None):
        if not self.supports(problem):
            raise ValueError(self._unsupported(problem))
        start_time = time.perf_counter()
        start = _start_network(problem, warm_start)
        if start is not None:  # the same point of the lifted program with rank-many neurons
            start = compress_network(problem, start)
        zero_cert = certify_problem(problem, problem.zero_network(), tol=tol)  # its lam: beta_max
        zero = zero_if_optimal(problem, tol, self.name, start_time, zero_cert)
        if zero is not None:
            return zero
        history = []
        log = logger.info if verbose else logger.debug

        def record(net, cert):
            history.append((time.perf_counter() - start_time, cert.objective, cert.lower_bound))
            log("native: %d neurons, objective %.10g, bound %.10g, gap %.2e", net.n_neurons,
                cert.objective, cert.lower_bound, cert.gap)

        engine, lifted, iterations = "columns", None, 0
        use_ipm = self._use_ipm(problem, start)
        trial = self.engine == "auto" and problem.loss.smooth and problem.beta >= WIDE * zero_cert.lam
        if start is not None or not use_ipm or trial:
            # column generation: the engine of warm starts and large n; on a cold start that
            # the interior-point method could take, only while it is cheap compared to it (few
            # neurons: large beta), then the interior-point method takes over
            network = start if start is not None else problem.zero_network()
            max_rounds = int(max_iter) if max_iter is not None else 25 * problem.max_neurons()
            budget = IPM_TRIAL * _ipm_seconds(problem)
            deadline = start_time + budget if use_ipm else None
            # a trial that has not brought the gap below TRIAL_GAP in a third of its budget would
            # not certify in the rest (spambase: gap 0.65 after 13 s, 0.38 after 38 s)
            milestone = (start_time + budget / 3, TRIAL_GAP) if use_ipm else None
            network, cert, iterations = column_generation(problem, network, tol=tol, max_rounds=max_rounds,
                                                          callback=record, deadline=deadline,
                                                          milestone=milestone)
            if problem.data.float32:  # the certificate of record: float64 on the host
                cert = certify_problem(problem.on_host(), network, tol=tol)
                record(network, cert)
            use_ipm = use_ipm and not cert.is_optimal
            if use_ipm:
                log("native: column generation not certified within %.2fs; interior point", IPM_TRIAL
                    * _ipm_seconds(problem))
        if use_ipm:
            from .ipm import solve_lifted

            accepted = []

            def accept(Z, Z_prime, V):  # an iterate whose extracted network its dual certifies
                net = extract_network(problem, Z, Z_prime, self.rank_tol)
                found = certify_problem(problem, net, dual=V, tol=tol)
                accepted[:] = [(net, found)] if found.is_optimal else []
                return found.is_optimal

            sol = solve_lifted(problem, tol=IPM_GAP * tol, max_iter=max_iter or 100, verbose=verbose,
                               accept=accept, accept_gap=ACCEPT_GAP * tol)
            history.extend(sol.history)
            if accepted:
                network, cert = accepted[0]
            else:
                network = extract_network(problem, sol.Z, sol.Z_prime, self.rank_tol)
                network, cert = refine(problem, network, tol=tol, dual=sol.dual)
            if newton.applicable(problem, network):
                # cheap where the exact Newton polish runs: the extraction from an iterate that
                # stopped at tol keeps small spurious neurons (planted 100 x 10, beta = 1: 6
                # neurons at a gap of 1e-7; polished, 2 at 1e-13)
                polished = polish(problem, network)
                again = certify_problem(problem, polished, dual=sol.dual, tol=tol)
                if again.is_optimal and (again.gap <= cert.gap or polished.n_neurons < network.n_neurons):
                    network, cert = polished, again
            record(network, cert)
            iterations, engine, lifted = iterations + sol.iterations, "ipm", (sol.Z, sol.Z_prime)
        objective = cert.objective if lifted is None else problem.lifted_objective(*lifted)
        return certified_result(
            network, cert, tol=tol, solver=self.name, objective=objective, iterations=iterations,
            elapsed=time.perf_counter() - start_time, stopped=f" ({engine}, {iterations} iterations)",
            hint="; try a larger max_iter or standardized features", history=history, lifted=lifted,
            state={"engine": engine})
