"""The conic helpers shared by the interior-point engines: Nesterov–Todd scaling of stacked
positive definite blocks, the longest step inside the cone, symmetrization."""

from __future__ import annotations

import numpy as np

__all__ = ["nt_scaling", "max_step", "sym"]


def nt_scaling(Z, S):
    r"""Nesterov–Todd scaling of each block: :math:`R` with :math:`R^{-1} Z R^{-\top} = R^\top S R
    = \Lambda` diagonal; returns ``(R, Rinv, lam)``."""
    L = np.linalg.cholesky(Z)
    Ls = np.linalg.cholesky(S)
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
