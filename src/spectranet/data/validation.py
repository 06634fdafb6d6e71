"""Validation of in-memory data (real, finite float64 arrays of consistent shapes) and of beta."""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

__all__ = ["as_real_array", "check_data", "check_beta", "check_positive_beta", "check_tol", "check_max_time",
           "TOL_FLOOR", "SCALE_LIMIT", "check_scale"]


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


#: below this relative gap, double precision cannot certify: rounding in the objective alone is
#: about 1e-16 relative, in the bound's sums about n times that
TOL_FLOOR = 1e-14


def check_positive_beta(beta) -> float:
    """:func:`check_beta` for a fit or a certificate: ``beta > 0``. With ``beta = 0`` the
    certificate's scale :math:`t = \\min(1, \\beta/\\lambda)` is 0 (no finite gap is ever proven)
    and separable logistic data have no minimizer at all."""
    beta = check_beta(beta)
    if beta == 0.0:
        raise ValueError("beta must be > 0: with beta = 0 no gap can be certified (the certificate scales "
                         "its dual point by min(1, beta/lambda) = 0) and separable logistic data have no "
                         "minimizer; use a small positive beta, e.g. 1e-6 * spectranet.beta_max(X, y, ...)")
    return beta


def check_tol(tol, name: str = "tol", *, warn: bool = True) -> float:
    """A relative-gap tolerance in (0, 1); a warning below :data:`TOL_FLOOR`, which double
    precision cannot certify (``warn``; an estimator checks its ``tol`` early and leaves the warning
    to the solver, which would give it a second time)."""
    import warnings

    if isinstance(tol, bool) or not isinstance(tol, Real):
        raise TypeError(f"{name} must be a real number in (0, 1), got {type(tol).__name__} {tol!r}")
    tol = float(tol)
    if not (0.0 < tol < 1.0):  # also rejects NaN
        raise ValueError(f"{name} must be a relative gap in (0, 1), got {tol!r}")
    if tol < TOL_FLOOR and warn:
        warnings.warn(f"{name}={tol:g} is below what double precision can certify (about {TOL_FLOOR:g}); "
                      "fits will report status 'inaccurate'", UserWarning, stacklevel=3)
    return tol


def check_max_iter(max_iter, name: str = "max_iter") -> int | None:
    """None or a positive integer."""
    if max_iter is not None and (isinstance(max_iter, bool) or not isinstance(max_iter, Integral) or max_iter < 1):
        raise ValueError(f"{name} must be None or a positive integer, got {max_iter!r}")
    return None if max_iter is None else int(max_iter)


def check_max_time(max_time, name: str = "max_time") -> float | None:
    """None or a positive, finite number of seconds."""
    if max_time is None:
        return None
    if isinstance(max_time, bool) or not isinstance(max_time, Real):
        raise TypeError(f"{name} must be None or a number of seconds > 0, got {type(max_time).__name__} "
                        f"{max_time!r}")
    max_time = float(max_time)
    if not (math.isfinite(max_time) and max_time > 0):
        raise ValueError(f"{name} must be None or a finite number of seconds > 0, got {max_time!r}")
    return max_time


#: the largest activation value sigma(x^T u) over unit u (from the largest row norm of X) and the
#: largest target the solvers accept: their products square these (Gram matrices of the lifted
#: features, loss Hessians), and 1e60 squared stays far from float64's 1e308
SCALE_LIMIT = 1e60


def check_scale(X, Y, activation, loss, sample_weight=None) -> None:
    """Refuse data whose activations, targets or sample weights the solvers' products would
    overflow: a ``ValueError`` naming the scale and suggesting to standardize (never an
    ``OverflowError`` or a ``LinAlgError`` from deep inside a solver)."""
    top_weight = 0.0 if sample_weight is None else float(np.max(sample_weight))
    if top_weight > SCALE_LIMIT:
        raise ValueError(f"sample_weight has weights up to {top_weight:.3g}, beyond the {SCALE_LIMIT:.0e} the solvers "
                         "can square without overflow; divide the weights and beta by the same factor")
    a, b, c = activation.coefficients
    s = float(np.sqrt(np.max(np.einsum("ij,ij->i", X, X)))) if X.size else 0.0
    sigma = abs(a) * s * s + abs(b) * s + abs(c)
    if not np.isfinite(sigma) or sigma > SCALE_LIMIT:
        raise ValueError(
            f"X has rows of norm up to {s:.3g}: the activation sigma(x^T u) reaches {sigma:.3g}, beyond the "
            f"{SCALE_LIMIT:.0e} the solvers can square without overflow; standardize X (e.g. "
            "sklearn.preprocessing.StandardScaler) or rescale it")
    if getattr(loss, "margin", False) or getattr(loss, "multi_output_only", False):
        return  # labels are +-1 or one-hot
    top = float(np.max(np.abs(Y))) if Y.size else 0.0
    if not np.isfinite(top) or top > SCALE_LIMIT:
        raise ValueError(f"y has values up to {top:.3g}, beyond the {SCALE_LIMIT:.0e} the solvers can square "
                         "without overflow; standardize y (e.g. divide it by its standard deviation) and "
                         "scale beta with it")
