"""The paper's learning-rate grid for the backprop baseline (:mod:`spectranet.baseline`): every
optimizer, learning rate and seed fitted, and the best learning rate of each optimizer."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import clone

from .baseline import BackpropPolyNetClassifier, BackpropPolyNetRegressor
from .exceptions import ConvergenceWarning

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["lr_grid_search"]


def lr_grid_search(estimator: BackpropPolyNetRegressor | BackpropPolyNetClassifier, X: ArrayLike, y: ArrayLike,
                   lrs: Iterable[float], *, optimizers: Iterable[str] = ("sgd", "adam"), seeds: Iterable[int] = (0,),
                   validation_data: tuple[ArrayLike, ArrayLike] | None = None,
                   ) -> tuple[list[dict[str, Any]], dict[str, float | None]]:
    """Fit clones of ``estimator`` for every optimizer, learning rate and seed.

    The paper tunes the learning rate of SGD and Adam by such a grid before comparing them with the
    convex program; this returns every run and the best learning rate of each optimizer.

    Parameters
    ----------
    estimator : BackpropPolyNetRegressor, BackpropPolyNetClassifier or BackpropReLUClassifier
        Unfitted template, cloned for each run.
    X, y : array-like
        Training data.
    lrs : iterable of float
        Learning rates.
    optimizers : iterable of {"sgd", "adam"}
        Optimizers.
    seeds : iterable of int
        ``random_state`` of each run.
    validation_data : (Xv, yv), optional
        Passed to ``fit``; rows then carry ``validation_objective`` (final epoch).

    Returns
    -------
    rows : list of dict
        One per run: ``optimizer``, ``lr``, ``seed``, ``train_objective`` (``objective_``),
        ``time_s`` (``fit_time_``), ``diverged``, and ``estimator`` (the fitted clone).
    best_lr : dict
        For each optimizer, the learning rate with the lowest mean training objective over the
        seeds, among those that never diverged (None if all diverged).

    Raises
    ------
    ValueError
        As ``estimator.fit`` (e.g. an unknown optimizer or a learning rate that is not positive), or
        for an empty ``lrs``, ``optimizers`` or ``seeds``.

    See Also
    --------
    BackpropPolyNetRegressor : A template.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, Section 6 (Figs. 4 and 5: the best
    learning rate of a grid, SGD and Adam over many step sizes).

    Examples
    --------
    >>> from spectranet import make_planted
    >>> X, y = make_planted(40, 3, random_state=0)
    >>> rows, best = lr_grid_search(BackpropPolyNetRegressor(max_epochs=3), X, y, [1e-3, 1e-2], optimizers=["sgd"])
    >>> len(rows), best
    (2, {'sgd': 0.01})
    """
    rows, optimizers, lrs, seeds = [], tuple(optimizers), tuple(lrs), tuple(seeds)
    for name, given in (("lrs", lrs), ("optimizers", optimizers), ("seeds", seeds)):
        if not given:
            raise ValueError(f"lr_grid_search needs at least one of {name}, got none")
    for optimizer in optimizers:
        for lr in lrs:
            for seed in seeds:
                est = clone(estimator).set_params(optimizer=optimizer, lr=lr, random_state=seed)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)  # recorded as diverged
                    est.fit(X, y, validation_data=validation_data)
                row = dict(optimizer=optimizer, lr=lr, seed=seed, train_objective=est.objective_,
                           time_s=est.fit_time_, diverged=est.diverged_, estimator=est)
                if validation_data is not None:
                    row["validation_objective"] = est.validation_curve_[-1][2]
                rows.append(row)
    best_lr = {}
    for optimizer in optimizers:
        scores = {lr: [math.inf if r["diverged"] else r["train_objective"] for r in rows
                       if r["optimizer"] == optimizer and r["lr"] == lr] for lr in lrs}
        finite = {lr: float(np.mean(v)) for lr, v in scores.items() if np.all(np.isfinite(v))}
        best_lr[optimizer] = min(finite, key=finite.get) if finite else None
    return rows, best_lr
