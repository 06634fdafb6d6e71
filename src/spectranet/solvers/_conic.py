"""The conic helpers shared by the interior-point engines: Nesterov–Todd scaling of stacked
positive definite blocks, the longest step inside the cone, symmetrization."""

from __future__ import annotations

from collections import deque

import numpy as np

__all__ = ["PSD_FLOOR", "STALL_FACTOR", "STALL_NEAR", "STALL_LOOKBACK", "STALL_STEADY", "Stall", "max_step",
           "nt_scaling", "psd_factor", "sym"]


#: eigenvalues of a block below this fraction of its largest are raised to it by :func:`psd_factor`
PSD_FLOOR = 1e-15


def psd_factor(M):
    r"""A square factor :math:`L` with :math:`L L^\top = M` for stacked symmetric blocks: the
    Cholesky factor, or where rounding left a block indefinite (an interior-point iterate a step
    from the boundary, eigenvalues of order :math:`10^{-16}` of the largest), its eigenvalue factor
    :math:`Q\,\mathrm{diag}(\sqrt{\max(\lambda, \epsilon\lambda_{\max})})` with
    :math:`\epsilon` = :data:`PSD_FLOOR` (a change of the block at the level of rounding)."""
    try:
        return np.linalg.cholesky(M)
    except np.linalg.LinAlgError:
        lam, Q = np.linalg.eigh(sym(M))
        top = np.max(np.abs(lam), axis=-1, keepdims=True)
        if not np.all(top > 0):
            raise
        return Q * np.sqrt(np.maximum(lam, PSD_FLOOR * top))[..., None, :]


def nt_scaling(Z, S):
    r"""Nesterov–Todd scaling of each block: :math:`R` with :math:`R^{-1} Z R^{-\top} = R^\top S R
    = \Lambda` diagonal; returns ``(R, Rinv, lam)``. Any square factors of ``Z`` and ``S`` serve
    (:func:`psd_factor`)."""
    L = psd_factor(Z)
    Ls = psd_factor(S)
    _, lam, Vt = np.linalg.svd(Ls.swapaxes(-1, -2) @ L)
    R = (L @ Vt.swapaxes(-1, -2)) / np.sqrt(lam)[..., None, :]
    Rinv = np.sqrt(lam)[..., :, None] * (Vt @ np.linalg.inv(L))
    return R, Rinv, lam


def max_step(lam, D):
    """Largest ``alpha`` with ``Lambda + alpha D >= 0`` over all blocks (``D`` scaled)."""
    r = 1.0 / np.sqrt(lam)
    e = np.linalg.eigvalsh(r[..., :, None] * D * r[..., None, :])[..., 0]
    e = float(np.min(e))
    return np.inf if e >= 0 else -1.0 / e


def sym(A):
    return 0.5 * (A + A.swapaxes(-1, -2))


#: progress, for :class:`Stall`: near the optimum (a relative gap below STALL_NEAR), the duality gap
#: falls to STALL_FACTOR of its value at the last progress; farther, any decrease counts (credit-
#: approval logistic at 1e-6 beta_max: the gap falls 3 % in 8 iterations at a relative 0.95, then
#: fast). Planted 10^5 x 20 logistic at 1e-6 beta_max: the lifted bound crept from a gap of 1.28e-5
#: to 1.21e-5 in 285 iterations, each one "better" than the last.
STALL_FACTOR, STALL_NEAR = 0.9, 1e-3
#: ... and far from it, a gap below STALL_STEADY times the smallest of the last STALL_LOOKBACK restarts
#: the window too (a gap that wobbles with a period up to STALL_LOOKBACK does not): a gap that rose from
#: an infeasible start and then falls steadily is progress (5-class hinge, 200 x 5, one-vs-rest: the gap
#: rose to 690 after 421 at iteration 6, then fell by 1-5 % an iteration from 0.97 to 0.79 relative,
#: and the engine stopped as "stalled" at iteration 20; it certifies at iteration 55)
STALL_STEADY, STALL_LOOKBACK = 0.99, 3

#: an interior point's start balances the loss at zero against a penalty of at least START_BETA times
#: the spectral norm of the adjoint of the loss's gradient at zero (at most beta_max): the optimum's
#: norm stops growing as beta shrinks, and a start of norm l0 / beta loses double precision (planted
#: 300 x 20, squared, 1e-9 beta_max: stopped at a gap of 1e-2; from this start, 9 iterations)
START_BETA = 1e-6
#: ... and 1e-2 for a loss whose Hessian vanishes on pieces (Huber, semismooth Newton on the lifted
#: engine): from farther out its first steps put the samples on the linear pieces (200 x 8 at 1e-5 to
#: 1e-8 beta_max and 1000 x 8 at 1e-6: gaps of 0.2-1.0; from this start all certify in 0.04-0.2 s)
SEMISMOOTH_START_BETA = 1e-2


def start_penalty(beta: float, adjoints: np.ndarray, share: float = START_BETA) -> float:
    """The penalty an interior point's start balances the loss at zero against: ``beta``, or
    ``share`` times the largest spectral norm of ``adjoints`` (``(..., p, p)``: the dual constraint
    matrices of the loss's gradient at zero, per output or pair) where ``beta`` is smaller."""
    return max(float(beta), share * float(np.max(np.linalg.norm(adjoints, 2, axis=(-2, -1)))))


class Stall:
    """The stall test of an interior point: ``window`` iterations without progress on its duality
    gap (see :data:`STALL_FACTOR`), or far from the optimum on its residual either."""

    def __init__(self, window: int):
        self.window, self.mark = window, None  # (gap, iteration) at the last progress
        self.residual = None  # the smallest residual so far
        self.recent = deque(maxlen=STALL_LOOKBACK)  # the gaps of the last iterations

    def __call__(self, gap: float, relative: float, it: int, residual: float | None = None) -> bool:
        """Whether the engine has stalled at iteration ``it``, its iterate's duality gap ``gap``
        (primal minus certified bound; ``relative`` to the objective) and ``residual`` (the lifted
        engine's dual residual, the sample-space one's largest relative residual). Far from the
        optimum a smaller residual is progress too: from an infeasible start the objective may grow
        for a few iterations while the residual falls (a pooled CNN on 300 random 10 x 10 images,
        logistic, 1e-6 beta_max: eight such iterations, then the gap fell)."""
        if not np.isfinite(gap):
            return False
        far = relative > STALL_NEAR
        smaller = residual is not None and (self.residual is None or residual < self.residual)
        steady = len(self.recent) == STALL_LOOKBACK and gap < STALL_STEADY * min(self.recent)
        self.recent.append(gap)
        if residual is not None:
            self.residual = residual if self.residual is None else min(self.residual, residual)
        if self.mark is None or gap < (1.0 if far else STALL_FACTOR) * self.mark[0]:
            self.mark = (gap, it)
            return False
        if far and (smaller or steady):  # progress on the residual, or a new low: the window starts again
            self.mark = (self.mark[0], it)
            return False
        return it - self.mark[1] >= self.window
