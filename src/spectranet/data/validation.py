"""Validation of in-memory data (real, finite float64 arrays of consistent shapes) and of beta."""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

__all__ = ["as_real_array", "check_data", "check_beta"]


def as_real_array(a, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype == object or arr.dtype.kind in "USVM":
        try:
            arr = arr.astype(float)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be numeric, got an array of dtype {arr.dtype}") from None
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real, got complex data")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got an array of dtype {arr.dtype}")
    arr = arr.astype(float, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


def check_data(X, y=None):
    """Validate ``X`` (2-D, finite, real, at least 2 samples) and ``y`` (matching length)."""
    X = as_real_array(X, "X")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got an array of shape {X.shape}")
    n, d = X.shape
    if n < 2:
        raise ValueError(f"X has n_samples={n}; at least 2 samples are required")
    if d < 1:
        raise ValueError("X has 0 features; at least 1 is required")
    if y is None:
        return X
    y = as_real_array(y, "y")
    if y.ndim not in (1, 2) or y.shape[0] != n:
        raise ValueError(
            f"y must have shape ({n},) or ({n}, n_outputs) to match X, got shape {y.shape}"
        )
    return X, y


def check_beta(beta) -> float:
    """Validate the regularization weight: a finite real number ``>= 0``."""
    if isinstance(beta, bool) or not isinstance(beta, Real):
        raise TypeError(f"beta must be a real number >= 0, got {type(beta).__name__} {beta!r}")
    beta = float(beta)
    if not math.isfinite(beta) or beta < 0:
        raise ValueError(f"beta must be a finite real number >= 0, got {beta!r}")
    return beta
