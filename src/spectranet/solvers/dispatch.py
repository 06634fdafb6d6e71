r"""The native solver's cost model: which engine runs a problem.

Three engines solve the convex program (21); each costs what a different part of the problem
makes expensive:

* ``"ipm"`` — interior point in **sample space** (:mod:`~spectranet.solvers.ipm`): a Schur
  complement of order :math:`nC` per iteration, :math:`O(n^3 C^3 + n^2 d C)`. Independent of the
  width of the optimum; dense numpy data with :math:`nC \le` ``ipm.MAX_SCHUR`` only.
* ``"lifted"`` — interior point in the **lifted space** (:mod:`~spectranet.solvers.lifted`):
  Newton blocks of order :math:`o = D = (f+1)(f+2)/2` per pair (:math:`GD` per output for pooled
  CNNs, :math:`PD` for softmax), :math:`\approx 15\,o^3` flops per block and iteration, plus one
  pass of :math:`n D^2` flops per iteration for a non-quadratic loss (once for the squared loss:
  its sufficient statistics). Independent of the width of the optimum and, for the squared loss,
  of ``n``; any data backend (numpy, torch on any device, Dask, the grouped lift).
* ``"columns"`` — certified column generation on the network (:func:`~spectranet.local.
  column_generation`): cost per neuron and per round, cheap when the optimum is narrow (large
  :math:`\beta`) or a warm start is already close, slow when it is wide; the only engine without
  a dense object of size :math:`D^2` or :math:`n^2` (large ``d``, large ``n`` together).

**The rule** (:func:`plan`): estimate the seconds of each interior-point engine that supports the
problem (:func:`estimate_seconds`, flop counts at :data:`FLOP_RATE`) and take the cheaper as the
*direct* engine. Then

1. a warm start (a regularization path, a network trained elsewhere) continues by column
   generation when no direct engine applies, or when the direct engine is estimated slower than
   :data:`WARM_DIRECT` seconds and the warm network is narrow; otherwise the direct engine runs;
2. a cold start with :math:`\beta \ge` :data:`WIDE` :math:`\beta_{\max}` (narrow optima) tries
   column generation first for :data:`TRIAL` of the direct engine's estimate when that estimate
   exceeds :data:`TRIAL_MIN` seconds, then the direct engine if it did not certify;
3. below :data:`WIDE` :math:`\beta_{\max}` the direct engine runs at once (wide optima take column
   generation hundreds of rounds);
4. without a direct engine (large ``d``, or very large ``n`` with a non-quadratic loss and a large
   ``D``), column generation.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Plan", "plan", "estimate_seconds", "FLOP_RATE", "WIDE", "TRIAL", "TRIAL_MIN", "WARM_DIRECT"]

#: sustained flop rate assumed for the estimates (dense factorizations and passes over the data
#: on the 2-core development machine, single-threaded BLAS for small blocks)
FLOP_RATE = 1.5e10
#: below WIDE * beta_max the optimum is wide: no column-generation trial
WIDE = 1e-4
#: fraction of the direct engine's estimate given to a column-generation trial on a cold start
TRIAL = 0.3
#: a direct engine estimated below TRIAL_MIN seconds runs at once (no trial)
TRIAL_MIN = 0.5
#: a warm start continues by column generation when the direct engine's estimate exceeds this
WARM_DIRECT = 2.0
#: interior-point iterations assumed by the estimates
IPM_ITERATIONS, LIFTED_ITERATIONS = 15, 18


@dataclass(frozen=True)
class Plan:
    """What the native solver runs: ``trial`` seconds of column generation first (0: none), then
    ``engine`` (``"ipm"``, ``"lifted"`` or ``"columns"``); ``estimates`` holds the seconds
    estimated for each interior-point engine that supports the problem."""

    engine: str
    trial: float
    estimates: dict


def estimate_seconds(problem, engine: str) -> float:
    """Estimated seconds of an interior-point engine on ``problem`` (``inf`` when unsupported)."""
    from . import ipm, lifted

    n, f, C = problem.n_samples, problem.n_features, problem.n_outputs
    if engine == "ipm":
        if not ipm.supports(problem) or problem.is_dask or type(problem.data).__name__ != "HostData":
            return float("inf")
        order = n * (C if problem.loss.multi_output_only else 1)
        per_iteration = (order ** 3 / 3) * (1 if problem.loss.multi_output_only else C) + 8.0 * n * n * f * C
        return IPM_ITERATIONS * per_iteration / FLOP_RATE
    if engine == "lifted":
        if not lifted.supports(problem):
            return float("inf")
        D = (f + 1) * (f + 2) // 2
        order = lifted.newton_order(problem)
        blocks = 1 if problem.loss.multi_output_only else C
        factor = 15.0 * order ** 3 * blocks
        gram = n * D * D * (C * C if problem.loss.multi_output_only else C) * problem.n_groups ** 2
        passes = 6.0 * n * f * f * C
        quadratic = problem.loss.name == "squared"
        total = LIFTED_ITERATIONS * (factor + (0 if quadratic else gram + passes)) + (gram if quadratic else 0)
        return total / FLOP_RATE
    raise ValueError(f"unknown engine {engine!r}")


def plan(problem, *, beta_max: float, warm_width: int | None = None, allowed=("ipm", "lifted", "columns")) -> Plan:
    """The engine (and trial) for ``problem`` by the rule of the module docstring.

    Parameters
    ----------
    problem : Problem
    beta_max : float
        :math:`\\beta_{\\max}` of the problem (the zero network's :math:`\\lambda`).
    warm_width : int, optional
        Neurons of the warm-start network, None for a cold start.
    allowed : tuple of str
        The engines the caller may run.
    """
    estimates = {e: estimate_seconds(problem, e) for e in ("ipm", "lifted") if e in allowed}
    direct = min(estimates, key=estimates.get, default=None)
    if direct is not None and estimates[direct] == float("inf"):
        direct = None
    can_columns = "columns" in allowed and problem.loss.smooth
    if direct is None:
        return Plan("columns", 0.0, estimates)
    seconds = estimates[direct]
    if not can_columns:
        return Plan(direct, 0.0, estimates)
    if warm_width is not None:
        narrow = warm_width <= problem.n_features + 1
        return Plan("columns" if (seconds > WARM_DIRECT and narrow) else direct, 0.0, estimates)
    if problem.beta >= WIDE * beta_max and seconds > TRIAL_MIN:
        return Plan(direct, TRIAL * seconds, estimates)
    return Plan(direct, 0.0, estimates)
