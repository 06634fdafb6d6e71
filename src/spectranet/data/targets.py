"""Targets in a loss's encoding: 2-D ``(n, C)`` float arrays (one-hot rows for the softmax loss)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import numpy as np
from sklearn.utils.multiclass import check_classification_targets

from ..losses import Loss
from ..weighted import check_sample_weight
from .host import host_values

__all__ = ["encode_targets", "encode_classes", "encode_dask_classes", "dask_labels", "class_sample_weight"]


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


def encode_classes(codes: np.ndarray, n_classes: int, loss: Loss) -> np.ndarray:
    """Targets ``(n, C)`` of class codes 0..n_classes-1: one-hot for the softmax loss, one
    ±1 output for two classes (``classes_[1]`` is +1), one-vs-rest ±1 columns otherwise."""
    if loss.multi_output_only:
        return np.eye(n_classes)[codes]
    if n_classes == 2:
        return (2.0 * codes - 1.0)[:, None]
    return 2.0 * np.eye(n_classes)[codes] - 1.0


def encode_dask_classes(y, classes: np.ndarray, loss: Loss):
    """:func:`encode_classes` for a Dask ``y`` of labels (lazy, chunked like ``y``)."""
    if classes.size == 2 and not loss.multi_output_only:
        return (2.0 * (y == classes[1]) - 1.0)[:, None]
    onehot = y[:, None] == classes[None, :]
    return 1.0 * onehot if loss.multi_output_only else 2.0 * onehot - 1.0


def dask_labels(y) -> tuple:
    """Classes (sorted unique labels, computed by Dask) of a 1-D Dask ``y``, and ``y``."""
    import dask.array as da

    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (n_samples,) for a classifier, got shape {y.shape}")
    classes = np.unique(da.unique(y).compute())
    check_classification_targets(classes)  # the verdict on the labels is that on their set
    return classes, y


def class_sample_weight(class_weight, codes: np.ndarray, classes: np.ndarray, sample_weight=None):
    """The sample weights of a classifier's ``class_weight`` times ``sample_weight`` (as given when
    ``class_weight`` is None). ``class_weight``: ``"balanced"``, :math:`n / (K n_k)` for a class of
    :math:`n_k` of the :math:`n` samples (scikit-learn's, from the unweighted counts), or a dict
    ``{label: weight}`` of finite non-negative weights, labels it does not name weighing 1 (keys
    that name no class are an error only while some class goes unnamed, as in scikit-learn: a
    cross-validation fold may lack a class). ``codes``: each sample's index in ``classes``."""
    if class_weight is None:
        return sample_weight
    n_classes, labels = classes.size, classes.tolist()
    if isinstance(class_weight, str) and class_weight == "balanced":
        per_class = codes.size / (n_classes * np.bincount(codes, minlength=n_classes).astype(float))
    elif isinstance(class_weight, Mapping):
        for label, value in class_weight.items():
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not (
                    math.isfinite(value) and value >= 0):
                raise ValueError(f"class_weight[{label!r}] must be a finite non-negative real number, got {value!r}")
        named = [c in class_weight for c in labels]
        if not all(named) and sum(named) != len(class_weight):
            unknown = [k for k in class_weight if k not in labels]
            raise ValueError(f"class_weight names {unknown!r}, which are not classes of y (classes: {labels!r})")
        per_class = np.array([float(class_weight.get(c, 1.0)) for c in labels])
    else:
        raise TypeError(f"class_weight must be None, 'balanced' or a dict {{label: weight}}, got {class_weight!r}")
    weights = per_class[codes]
    if sample_weight is not None:
        weights = weights * check_sample_weight(host_values(sample_weight), codes.size)
    if np.count_nonzero(weights > 0) < 2:
        given = "class_weight" + (" times sample_weight" if sample_weight is not None else "")
        raise ValueError(f"{given} leaves {np.count_nonzero(weights > 0)} sample(s) of positive weight; at least 2 "
                         "are required")
    return weights
