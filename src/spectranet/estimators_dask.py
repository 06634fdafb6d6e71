"""The estimators' Dask input: what a fit on Dask arrays supports (checked before any pass over the
data), and the network outputs of a Dask ``X`` (one task per row chunk)."""

from __future__ import annotations

import numpy as np

from .architectures import check_architecture
from .data.host import host_values, is_dask_array
from .losses import Loss
from .solvers.native import NativeSolver

__all__ = ["check_dask_fit", "dask_decision"]


def check_dask_fit(estimator, X, y, loss: Loss, sample_weight=None, class_weight=None):
    """Dask input: what a fit supports, checked before any pass over the data; sets
    ``n_features_in_`` and returns ``y`` (a Dask array, or the given targets as numpy)."""
    if not check_architecture(estimator.architecture).is_dense:
        raise ValueError(f"Dask input is fitted with the dense architecture only, got "
                         f"architecture={estimator.architecture!r}; compute X and y first")
    if y is None:
        raise ValueError("requires y to be passed, but the target y is None")
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D Dask array X (n_samples, n_features), got shape {X.shape}")
    if sample_weight is not None:
        raise ValueError("sample weights need the data in memory: compute the Dask arrays first, or leave "
                         "sample_weight=None")
    if class_weight is not None:
        raise ValueError("class weights need the data in memory: compute the Dask arrays first, or leave "
                         "class_weight=None")
    solver = estimator.solver
    native = solver in ("auto", "native") if isinstance(solver, str) else isinstance(solver, NativeSolver)
    if not native:
        raise ValueError(
            f"Dask input is fitted by solver='native' (column generation on the Dask workers); got "
            f"solver={solver!r}. Use solver='auto' or 'native', or compute X and y first")
    if estimator.regularization != "l1":
        raise ValueError(
            f"Dask input is fitted with regularization='l1' only; regularization="
            f"{estimator.regularization!r} needs the data in memory: compute X and y first")
    if not loss.smooth:
        raise ValueError(
            f"Dask input needs a smooth loss (squared, huber, logistic, softmax) for column "
            f"generation, got loss={loss.name!r}; compute X and y first to use it")
    estimator.n_features_in_ = int(X.shape[1])
    if hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_
    return y if is_dask_array(y) else np.asarray(host_values(y))


def _decision_block(X_block, network):
    return network.decision_function(X_block)


def dask_decision(estimator, X):
    """Network outputs of a Dask ``X``: a Dask array (n, C), one task per row chunk."""
    if X.ndim != 2 or X.shape[1] != estimator.n_features_in_:
        raise ValueError(f"X has shape {X.shape}, but {type(estimator).__name__} is expecting "
                         f"{estimator.n_features_in_} features as input")
    if X.dtype.kind not in "biuf":
        raise TypeError(f"X must be numeric, got a Dask array of dtype {X.dtype}")
    X = X.astype(np.float64) if X.dtype != np.float64 else X
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})
    return X.map_blocks(_decision_block, estimator.network_, dtype=np.float64,
                        chunks=(X.chunks[0], (estimator.network_.n_outputs,)))
