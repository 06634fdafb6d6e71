"""Targets in a loss's encoding: 2-D ``(n, C)`` float arrays (one-hot rows for the softmax loss)."""

from __future__ import annotations

import numpy as np

from ..losses import Loss

__all__ = ["encode_targets"]


def encode_targets(y: np.ndarray, loss: Loss, n_outputs: int | None) -> np.ndarray:
    """Targets as a 2-D ``(n, C)`` array in the loss's encoding."""
    if loss.multi_output_only and y.ndim == 1:
        labels = y.astype(int)
        if not np.array_equal(labels, y) or labels.min() < 0:
            raise ValueError("softmax targets given as 1-D must be integer class indices >= 0")
        C = int(labels.max()) + 1 if n_outputs is None else int(n_outputs)
        if labels.max() >= C:
            raise ValueError(f"class index {labels.max()} out of range for {C} outputs")
        Y = np.zeros((y.shape[0], C))
        Y[np.arange(y.shape[0]), labels] = 1.0
    else:
        Y = y.reshape(y.shape[0], -1)
    if n_outputs is not None and Y.shape[1] != n_outputs:
        raise ValueError(f"y has {Y.shape[1]} outputs but {n_outputs} were expected")
    return loss.check_targets(Y)
