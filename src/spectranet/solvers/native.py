r"""Our own solver: certified column generation on the network itself (matrix-free).

The iterate is a network :math:`(u_j, \alpha_j)` — points of the neural spectrahedron's extreme
rays — so it is always feasible for (P), and the exact certificate
(:func:`~spectranet.certificate.certify_problem`) bounds the optimum from below at every
iterate. Each round: polish the network (L-BFGS-B on both layers with the sign pattern of the
second layer fixed, then Newton's method on the second layer), certify it, and add the most
violated neuron :math:`\arg\max_{\|u\|=1} |V_k^\top \sigma(Xu)|` (a Frank–Wolfe / column
generation step), until the certified relative gap is at most ``tol``.

Only products with ``X`` and ``X^T`` and ``d x d`` matrices are formed: memory is
:math:`O(nd + d^2 + md)`, never the lifted ``n x (d+1)^2`` matrix.

Scope of this version: smooth losses (squared, Huber, logistic, softmax), numpy arrays, dense
eigendecompositions for the certificate (moderate ``d``). Not yet: the polyhedral losses
(hinge, absolute), Lanczos for large ``d``, torch/GPU and chunked data (issue 3).
"""

from __future__ import annotations

import logging
import time
import warnings

from ..exceptions import ConvergenceWarning
from ..local import column_generation
from ..network import PolyNetwork
from .base import Solver, SolveResult

__all__ = ["NativeSolver"]

logger = logging.getLogger(__name__)


class NativeSolver(Solver):
    """Certified column generation on the network (see the module docstring)."""

    name = "native"

    def supports(self, problem) -> bool:
        return problem.loss.smooth

    def solve(self, problem, *, tol=1e-6, max_iter=None, verbose=False, warm_start=None):
        if not self.supports(problem):
            raise ValueError(
                f"solver 'native' does not support the {problem.loss.name} loss yet (smooth losses "
                "only: squared, huber, logistic, softmax); use solver='clarabel'"
            )
        start = time.perf_counter()
        network = PolyNetwork.zero(problem.n_features, problem.activation,
                                   None if problem.n_outputs == 1 else problem.n_outputs)
        previous = None if warm_start is None else warm_start.network
        if (previous is not None and previous.n_features == problem.n_features
                and previous.n_outputs == problem.n_outputs and previous.activation == problem.activation):
            network = previous
        history = []

        def record(net, cert):
            history.append((time.perf_counter() - start, cert.objective, cert.lower_bound))
            message = "native: %d neurons, objective %.10g, bound %.10g, gap %.2e"
            args = (net.n_neurons, cert.objective, cert.lower_bound, cert.gap)
            (logger.info if verbose else logger.debug)(message, *args)

        max_rounds = int(max_iter) if max_iter is not None else 50 * (problem.n_features + 1) * problem.n_outputs
        network, cert, rounds = column_generation(problem, network, tol=tol, max_rounds=max_rounds,
                                                  callback=record)
        status = "optimal" if cert.gap <= tol else "inaccurate"
        if status != "optimal":
            warnings.warn(f"native solver stopped after {rounds} rounds with a certified relative gap of "
                          f"{cert.gap:.2e} > tol={tol:g}", ConvergenceWarning, stacklevel=3)
        return SolveResult(
            network=network, objective=cert.objective, network_objective=cert.objective,
            lower_bound=cert.lower_bound, gap=cert.gap, status=status, solver=self.name,
            iterations=rounds, time=time.perf_counter() - start, certificate=cert, history=history,
        )
