r"""The native solver's cost model: which engine runs a problem.

Three engines solve the convex program (21); each costs what a different part of the problem
makes expensive:

* ``"ipm"`` — interior point in **sample space** (:mod:`~spectranet.solvers.ipm`): a Schur
  complement of order :math:`n` per output per iteration, :math:`O(n^3 C + n^2 d C)` (softmax:
  ``C`` blocks of order ``n`` and the QR of an :math:`nC \times n` matrix,
  :mod:`~spectranet.solvers._schur_softmax`). Independent of the width of the optimum; dense in-memory data with
  :math:`n \le` ``ipm.MAX_SCHUR`` (``ipm.MAX_SCHUR_LOW_MEMORY`` for separable losses) only (torch
  tensors: its Schur systems on a GPU, :mod:`~spectranet.solvers._schur_torch`; on the CPU it runs
  on the problem's float64 host copy).
* ``"lifted"`` — interior point in the **lifted space** (:mod:`~spectranet.solvers.lifted`):
  Newton blocks of order :math:`o = D = (f+1)(f+2)/2` per pair (:math:`GD` per output for pooled
  CNNs, :math:`PD` for softmax), :math:`\approx 9\,o^3` flops per block and iteration, plus one
  weighted Gram pass of :math:`n D^2` multiply-adds per iteration for a non-quadratic loss (once
  for the squared loss: its sufficient statistics; for a pooled CNN, over each image's patch
  moments, which the grouped data keep); where :math:`n < o/2`, capacitances of order ``n``
  instead: :math:`4nDo + 4(2o + n)n^2` flops per block, the Gram pass replaced by weighting the
  lifted features (:func:`~spectranet.solvers.lifted.uses_factors`), and
  :data:`PAIR_SECONDS` per pair beyond one per output. Independent of the width of the optimum and, for the
  squared loss, of ``n``; any data backend (numpy, torch on any device, Dask, the grouped lift).
* ``"lowrank"`` — Burer–Monteiro factors in a growing subspace (:mod:`~spectranet.solvers.lowrank`):
  one pass over ``X`` per round, the rest on ``n x k`` subspace data; fast for narrow optima at
  large ``d`` (MNIST, :math:`10^{-3}\beta_{\max}`: 24 s), slow when the subspace must grow
  towards ``d``. Dense in-memory data.
* ``"columns"`` — certified column generation on the network (:func:`~spectranet.local.
  column_generation`): cost per neuron and per round, cheap when the optimum is narrow (large
  :math:`\beta`) or a warm start is already close, slow when it is wide; no dense object of size
  :math:`D^2`, :math:`n^2` or :math:`nk` (Dask and torch data, warm starts).

**The rule** (:func:`plan`): estimate the seconds of each interior-point engine that supports the
problem (:func:`estimate_seconds`, flop counts at :data:`FLOP_RATE`) and take the cheaper as the
*direct* engine. The *narrow* engine is ``"lowrank"`` for dense in-memory data with a cold
start, a twice differentiable loss (on the Huber loss its subspace polish makes no progress: a
gap of 1.0 after five rounds on 5000 x 20, where column generation certifies; 12,000 x 20 at
0.1 beta_max: 109 s for a failed low-rank trial and the interior point, 0.07 s by column
generation) and either at least :data:`LOWRANK_FEATURES` features or at least :data:`LOWRANK_ENTRIES`
entries (``n d``: there a round of column generation, a pass over the data per neuron, costs more
than a low-rank round on the ``n x k`` subspace data), ``"columns"`` otherwise. Then

1. a warm start (a regularization path, a network trained elsewhere) continues by column
   generation when no direct engine applies, or when the direct engine is estimated slower than
   :data:`WARM_DIRECT` seconds and the warm network is narrow; on small data (below
   :data:`LOWRANK_ENTRIES` entries) a warm network of at most :math:`f + 1` neurons gets a
   column-generation trial (:data:`WARM_TRIAL_FLOOR`) before the direct engine; otherwise the
   direct engine runs;
2. a cold start with :math:`\beta \ge` :data:`WIDE` :math:`\beta_{\max}` (narrow optima) tries
   the narrow engine first for :data:`TRIAL` of the direct engine's estimate (at least
   :data:`TRIAL_FLOOR` seconds) when that estimate exceeds :data:`TRIAL_MIN` seconds, then the
   direct engine if it did not certify;
3. below :data:`WIDE` :math:`\beta_{\max}` the direct engine runs at once (wide optima take the
   narrow engines hundreds of rounds), except for a convolutional network of several pairs per
   output (no pooling: one per patch; pooling windows: one per window) whose direct engine is
   estimated above :data:`PATCH_TRIAL_MIN` seconds: its lifted Newton system has order
   :math:`GD` per output (``G`` pairs) whatever the width of the optimum, while a round of column
   generation is a pass over the patches, so column generation gets a trial as in 2.;
4. without a direct engine (large ``d`` and large ``n``, or very large ``n`` with a non-quadratic
   loss and a large ``D``), the narrow engine.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Plan", "plan", "estimate_seconds", "FLOP_RATE", "WIDE", "TRIAL", "TRIAL_MIN", "TRIAL_FLOOR", "WARM_DIRECT",
           "WARM_TRIAL_FLOOR", "LOWRANK_FEATURES", "LOWRANK_ENTRIES", "PATCH_TRIAL_MIN"]

#: sustained flop rate assumed for the estimates (dense factorizations and passes over the data
#: on the 2-core development machine; measured: the sample-space interior point on MNIST 0/1,
#: n = 12665, about 1.4e12 flops in 31 s per iteration; the lifted engine on spambase, o = 1711,
#: 1.5 s per iteration, i.e. 9 o^3 flops at this rate)
FLOP_RATE = 3e10
#: the low-rank engine is the narrow engine from this many features on (below, the subspace soon
#: spans the features and column generation's Newton polish is cheaper) ...
LOWRANK_FEATURES = 100
#: ... or from this many entries n d of the data on (measured at 0.1 and 0.01 beta_max: spambase,
#: 4601 x 57, squared loss 3.3 s vs 5.7 s for column generation; 10^5 x 20 planted logistic
#: 1.6 s vs 8.0 s for a failed column-generation trial and the lifted engine)
LOWRANK_ENTRIES = 200_000
#: below WIDE * beta_max the optimum is wide: no column-generation trial
WIDE = 1e-4
#: fraction of the direct engine's estimate given to a column-generation trial on a cold start
TRIAL = 0.3
#: a direct engine estimated below TRIAL_MIN seconds runs at once (no trial); a trial gets at
#: least TRIAL_FLOOR seconds (planted 1000 x 50 squared at 7.7e-4 beta_max: column generation
#: certifies in 0.10 s, the sample-space interior point in 0.42 s; a failed trial costs 0.3 s)
TRIAL_MIN, TRIAL_FLOOR = 0.05, 0.3
#: below WIDE * beta_max, a network of several pairs per output (Conv2D without global pooling)
#: whose direct engine is estimated above this many seconds
#: still gets a column-generation trial (scikit-learn's digits 3 vs 8, n = 357, 3x3 patches without
#: pooling, P = 36, logistic: at 1e-5 and 1e-6 beta_max the lifted engine took 52 s and 60 s with
#: dense Newton blocks, estimated 34 s; column generation certified 1e-6 in 3.1 s with the same 9
#: neurons. Its blocks are now capacitances of order n, estimated 0.8 s: no trial; the rule stays
#: for patch networks of more samples than half their block order, all of digits for one)
PATCH_TRIAL_MIN = 10.0
#: a warm start continues by column generation when the direct engine's estimate exceeds this
WARM_DIRECT = 2.0
#: otherwise a warm start from a network of at most f + 1 neurons, on data below LOWRANK_ENTRIES
#: entries (where a round is cheap), tries column generation first, for TRIAL of the direct
#: estimate and at least WARM_TRIAL_FLOOR seconds (credit-approval, logistic, 20 beta down to 1e-3
#: beta_max: the narrow points in 5-30 ms each, against 0.05-0.1 s by the lifted engine, the first
#: one, from the zero network, included: 12 ms against 50 ms; a floor of
#: 0.1 s cut the wider points just before they certified; on 10^5 x 20 a round of column generation
#: alone takes longer than the lifted engine)
WARM_TRIAL_FLOOR = 0.25
#: interior-point iterations assumed by the estimates: the sample-space engine for a quadratic
#: loss and for the others (measured on spambase: 9 and 19), the lifted engine (10 to 14)
IPM_ITERATIONS, IPM_ITERATIONS_NONQUADRATIC, LIFTED_ITERATIONS = 9, 18, 14
#: the sample-space engine's dense Cholesky and Gram products run faster than FLOP_RATE by this
#: factor (measured: MNIST 0/1, 4.5e10 flop/s; spambase, 5.2e10)
IPM_EFFICIENCY = 1.6
#: flops per Newton block order cubed and iteration of the lifted engine (assembly, Cholesky,
#: solves), and per multiply-add of its weighted Gram pass (measured: 10^5 x 20 logistic,
#: D = 231, 0.45 s per iteration)
LIFTED_FACTOR, LIFTED_GRAM = 9.0, 2.5
#: dense-block iterations counted for the capacitances' end game (``lifted.FACTOR_LOST``; digits 3 vs
#: 8 without pooling, squared loss at 1e-6 beta_max: the capacitances to a gap of 7e-7, then dense)
FALLBACK_ITERATIONS = 2
#: seconds per lifted iteration beside the flops for each pair beyond one per output (a patch's or
#: a pooling window's: its scaling, the sphere oracle of its certificate; measured: digits 3 vs 8
#: with 3x3 patches and no pooling, 36 pairs, 40 ms an iteration at n = 60, where the flops take
#: 2 ms; the estimates of one pair per output are calibrated with it)
PAIR_SECONDS = 1.5e-3
#: products with a capacitance's ``Q`` and the Hessian's factor per lifted iteration, counted as
#: multiply-adds of ``n * order`` (two solves, each with up to 8 refinements)
CAPACITANCE_SOLVES = 300.0


@dataclass(frozen=True)
class Plan:
    """What the native solver runs: ``trial`` seconds of the narrow engine ``narrow`` first (0:
    none), then ``engine`` (``"ipm"``, ``"lifted"``, ``"lowrank"`` or ``"columns"``); ``estimates``
    holds the seconds estimated for each interior-point engine that supports the problem."""

    engine: str
    trial: float
    estimates: dict
    narrow: str = "columns"


def estimate_seconds(problem, engine: str) -> float:
    """Estimated seconds of an interior-point engine on ``problem`` (``inf`` when unsupported)."""
    from . import ipm, lifted

    n, f, C = problem.n_samples, problem.n_features, problem.n_outputs
    if engine == "ipm":
        if not ipm.supports(problem) or type(problem.data).__name__ not in ("HostData", "TorchData"):
            return float("inf")  # (torch data: on a GPU or the host copy, NativeSolver._sample_space)
        order = n * (C if problem.loss.multi_output_only else 1)
        per_iteration = (order ** 3 / 3) * (1 if problem.loss.multi_output_only else C) + 8.0 * n * n * f * C
        if ipm.softmax_form(problem):  # C factorizations and triangular inverses of order n, the QR of
            # E (nC x n): fewer flops, but the count matches the time (digits, n = 1797: 3.1 s an iteration)
            per_iteration = (2.0 / 3.0 + 2.0) * C * n ** 3 + 8.0 * n * n * f * C
        iterations = IPM_ITERATIONS if problem.loss.quadratic else IPM_ITERATIONS_NONQUADRATIC
        return iterations * per_iteration / (FLOP_RATE * IPM_EFFICIENCY)
    if engine == "lifted":
        if not lifted.supports(problem):
            return float("inf")
        D = (f + 1) * (f + 2) // 2
        order = lifted.newton_order(problem)
        blocks = 1 if problem.loss.multi_output_only else C
        factor = LIFTED_FACTOR * order ** 3 * blocks
        gram = LIFTED_GRAM * n * D * D * (C * C if problem.loss.multi_output_only else C) * problem.n_groups ** 2
        fallback = 0.0
        if lifted.uses_factors(problem):  # capacitances of order n: B = root U (4nDo), the QR of [B^T; I]
            # with its Q, products with Q in the solves; the weighted features of a non-quadratic loss (no Gram)
            factor = blocks * (4.0 * n * order * D + 4.0 * (2 * order + n) * n * n + CAPACITANCE_SOLVES * n * order)
            gram = (LIFTED_GRAM * n * order * order) if problem.loss.quadratic else n * order * C
            fallback = FALLBACK_ITERATIONS * LIFTED_FACTOR * order ** 3 * blocks  # dense blocks at the end
        passes = 6.0 * n * f * f * C
        quadratic = problem.loss.quadratic
        total = LIFTED_ITERATIONS * (factor + (0 if quadratic else gram + passes)) + (gram if quadratic else 0)
        total += fallback
        return total / FLOP_RATE + LIFTED_ITERATIONS * (problem.n_pairs - C) * PAIR_SECONDS
    raise ValueError(f"unknown engine {engine!r}")


def plan(problem, *, beta_max: float, warm_width: int | None = None,
         allowed=("ipm", "lifted", "lowrank", "columns")) -> Plan:
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
    from . import lowrank

    estimates = {e: estimate_seconds(problem, e) for e in ("ipm", "lifted") if e in allowed}
    direct = min(estimates, key=estimates.get, default=None)
    if direct is not None and estimates[direct] == float("inf"):
        direct = None
    large = (problem.n_features >= LOWRANK_FEATURES
             or problem.n_samples * problem.n_features >= LOWRANK_ENTRIES)
    narrow = ("lowrank" if "lowrank" in allowed and warm_width is None and lowrank.supports(problem)
              and large and problem.loss.twice_differentiable else "columns")
    can_narrow = narrow in allowed and problem.loss.smooth
    if direct is None:
        return Plan(narrow, 0.0, estimates, narrow)
    seconds = estimates[direct]
    if not can_narrow:
        return Plan(direct, 0.0, estimates, narrow)
    if warm_width is not None:
        small = warm_width <= problem.n_features + 1
        if seconds > WARM_DIRECT and small:
            return Plan("columns", 0.0, estimates, "columns")
        if problem.beta >= WIDE * beta_max and small and not large:
            return Plan(direct, max(TRIAL * seconds, WARM_TRIAL_FLOOR), estimates, "columns")
        return Plan(direct, 0.0, estimates, "columns")
    patch_trial = problem.n_groups > 1 and seconds > PATCH_TRIAL_MIN
    if (problem.beta >= WIDE * beta_max and seconds > TRIAL_MIN) or patch_trial:
        return Plan(direct, max(TRIAL * seconds, TRIAL_FLOOR), estimates, narrow)
    return Plan(direct, 0.0, estimates, narrow)
