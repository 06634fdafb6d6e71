r"""What a warm start of the native solver provides: the previous network, and the state of a
previous solve on the same data (a regularization path): :math:`\beta_{\max}`, the lifted
engine's sufficient statistics, the row-space reduction."""

from __future__ import annotations

import logging

from ..network import PolyNetwork
from .base import SolveResult

__all__ = ["start_network", "units_of", "warm_beta_max", "warm_objective"]

logger = logging.getLogger("spectranet.solvers.native")


def start_network(problem, warm_start) -> PolyNetwork | None:
    """The network a warm start provides (a SolveResult or a PolyNetwork, as
    :func:`~spectranet.solvers.base.check_solve_arguments` checked), if it fits."""
    net = warm_start.network if isinstance(warm_start, SolveResult) else warm_start
    if net is None:
        return None
    if (net.n_features, net.n_outputs, net.activation, net.architecture) != (
            problem.n_features, problem.n_outputs, problem.activation, problem.architecture):
        logger.info("warm start ignored: its network does not match the problem")
        return None
    return net.check_unit_norm("a warm-start network")


def units_of(problem):
    """The exact unit scaling of ``problem`` (:class:`~spectranet.reductions.UnitScaling`), or None."""
    from ..reductions import UnitScaling

    return UnitScaling.of(problem)


def warm_beta_max(warm_start, problem) -> float | None:
    r"""The :math:`\beta_{\max}` a previous solve on the same data and loss found (a path)."""
    state = getattr(warm_start, "warm_state", None)
    known = state.get("beta_max") if isinstance(state, dict) else None
    if known is None or known[0] is not problem.data or known[1] != problem.loss:
        return None
    return known[2]


def warm_objective(warm_start):
    """The lifted engine's sufficient statistics of a previous solve (a path; reused by
    :func:`~spectranet.solvers.lifted.objective_model` when the data are the same)."""
    state = getattr(warm_start, "warm_state", None)
    return state.get("lifted_objective") if isinstance(state, dict) else None
