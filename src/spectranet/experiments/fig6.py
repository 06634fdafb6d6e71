r"""Fig. 6: accuracy and run time of a ReLU network, the polynomial network by backprop and the
convex program on UCI sets.

Setup: seeded 80/20 stratified splits (the paper's training sizes are floor(0.8 N)); the
polynomial activation is the ``"relu"`` preset (a, b, c) = (0.09, 0.5, 0.47); logistic loss.
Three methods per split:

``relu``      :class:`~spectranet.BackpropReLUClassifier` (exact ReLU, weight decay), SGD;
``backprop``  :class:`~spectranet.BackpropPolyNetClassifier`, :math:`\ell_1` formulation (P), SGD;
``convex``    :class:`~spectranet.ConvexPolyNetClassifier` (the global optimum of (P)).

SGD uses momentum 0.9 and batch size 10; rows are written for every learning rate of the grid,
the plots use the learning rate with the lowest mean training objective. Unlike the paper,
:math:`\beta` is not tuned per method: one value for the polynomial models (``beta``), one for
the ReLU network (``relu_beta``). A ReLU network has no (P) objective: its ``train_objective``
is empty and ``formulation_objective`` holds its own (weight-decay) objective.
"""

from __future__ import annotations

import numpy as np

from ._common import (
    MISSING_MATPLOTLIB,
    ExperimentResult,
    Plotter,
    Progress,
    Timer,
    backprop_row,
    best_lr,
    convex_row,
    fill_gaps,
    fit_backprop,
    resolve_uci,
    uci_split,
)

__all__ = ["resolve_datasets", "run"]

NAME = "fig6"
DEFAULT = ("credit-approval", "breast-cancer")
OPTIONAL = ("oocytes_merluccius_nucleus_4d",)
FULL = {"lrs": (1e-3, 3e-3, 1e-2), "split_seeds": (0, 1, 2), "max_epochs": 100}
QUICK = {"lrs": (1e-2,), "split_seeds": (0,), "max_epochs": 30}
METHODS = ("relu", "backprop", "convex")


def resolve_datasets(data_dir=None, datasets=None):
    """The data directory and dataset names; DataUnavailableError when missing."""
    return resolve_uci(NAME, data_dir, datasets, DEFAULT, OPTIONAL)


def run(out_dir, *, data_dir=None, datasets=None, quick=False, progress: Progress | None = None,
        beta=1.0, relu_beta=1.0, activation="relu", loss="logistic", lrs=None, split_seeds=None,
        max_epochs=None, batch_size=10, optimizer="sgd", solver="auto") -> ExperimentResult:
    """Run Fig. 6 and write the plots into ``out_dir``.

    Parameters
    ----------
    out_dir : path
    data_dir : path, optional
        Directory of UCI sets in the Fernández-Delgado format (default ``$SPECTRANET_DATA``).
    datasets : list of str, optional
        Default: credit-approval, breast-cancer, and oocytes_merluccius_nucleus_4d if present.
    quick : bool
        One split, one learning rate and 30 epochs instead of 3 splits, 3 rates and 100 epochs.
    beta, relu_beta : float
        Regularization of the polynomial models and of the ReLU network (sums over samples).
    activation, loss, batch_size, optimizer, solver
    lrs, split_seeds, max_epochs : optional
        Override the grid of the chosen mode.

    Returns
    -------
    ExperimentResult
    """
    from ..baseline import BackpropPolyNetClassifier, BackpropReLUClassifier
    from ..estimators import ConvexPolyNetClassifier

    grid = dict(QUICK if quick else FULL)
    grid.update({k: v for k, v in {"lrs": lrs, "split_seeds": split_seeds, "max_epochs": max_epochs}.items()
                 if v is not None})
    home, names = resolve_datasets(data_dir, datasets)
    progress = progress or Progress()
    result = ExperimentResult(NAME, out_dir=out_dir)
    templates = {
        "relu": BackpropReLUClassifier(loss=loss, beta=relu_beta, batch_size=batch_size,
                                       max_epochs=grid["max_epochs"]),
        "backprop": BackpropPolyNetClassifier(activation=activation, loss=loss, beta=beta, formulation="l1",
                                              batch_size=batch_size, max_epochs=grid["max_epochs"]),
    }
    for name in names:
        progress.start(f"{NAME} {name}", len(grid["split_seeds"]) * (1 + 2 * len(grid["lrs"])))
        for split_seed in grid["split_seeds"]:
            Xtr, Xte, ytr, yte = uci_split(name, home, split_seed)
            common = {"dataset": name, "n_train": len(ytr), "n_test": len(yte), "split_seed": split_seed}
            with Timer() as timer:
                convex = ConvexPolyNetClassifier(activation=activation, beta=beta, loss=loss,
                                                 solver=solver).fit(Xtr, ytr)
            result.rows.append(convex_row(NAME, est=convex, time_s=timer.seconds,
                                          test_metric=convex.score(Xte, yte),
                                          test_metric_name="test_accuracy", **common))
            progress.advance(f"split {split_seed} convex: accuracy {convex.score(Xte, yte):.3f}")
            for method, template in templates.items():
                for lr in grid["lrs"]:
                    est = fit_backprop(template, Xtr, ytr, optimizer=optimizer, lr=lr, seed=split_seed)
                    acc = est.score(Xte, yte)
                    result.rows.append(backprop_row(NAME, method=method, est=est, test_metric=acc,
                                                    test_metric_name="test_accuracy", **common))
                    progress.advance(f"split {split_seed} {method} lr={lr:g}: accuracy {acc:.3f}")
        progress.close()
    fill_gaps(result.rows)
    table = _best_table(result.rows, names)
    for name in names:
        parts = [f"{m} {table[name, m][0]:.3f} acc, {table[name, m][2]:.2f} s" for m in METHODS
                 if (name, m) in table]
        result.notes.append(f"{name} (mean over splits, best lr): " + "; ".join(parts))
    plotter = Plotter(out_dir)
    if plotter.available:
        _plot(plotter, table, names)
    else:
        result.notes.append(MISSING_MATPLOTLIB)
    result.plots = plotter.paths
    return result


def _best_table(rows, names):
    """(dataset, method) -> (mean accuracy, std, mean time, lr) at the best learning rate."""
    table = {}
    for name in names:
        for method in METHODS:
            lr = None if method == "convex" else best_lr(rows, dataset=name, method=method)
            sel = [r for r in rows if r["dataset"] == name and r["method"] == method
                   and (method == "convex" or r["lr"] == lr)]
            if sel:
                acc = np.array([r["test_metric"] for r in sel])
                table[name, method] = (acc.mean(), acc.std(), float(np.mean([r["time_s"] for r in sel])), lr)
    return table


_LABELS = {"relu": "ReLU network (backprop)", "backprop": "polynomial network (backprop)",
           "convex": "convex program (global optimum)"}


def _plot(plotter, table, names):
    fig, (ax_acc, ax_time) = plotter.figure(ncols=2)
    x = np.arange(len(names))
    width = 0.27
    for i, method in enumerate(METHODS):
        vals = [table.get((n, method), (np.nan, 0.0, np.nan, None)) for n in names]
        ax_acc.bar(x + (i - 1) * width, [v[0] for v in vals], width, yerr=[v[1] for v in vals],
                   label=_LABELS[method], capsize=3)
        ax_time.bar(x + (i - 1) * width, [v[2] for v in vals], width, label=_LABELS[method])
    for ax, ylabel in ((ax_acc, "test accuracy"), (ax_time, "run time (s)")):
        ax.set_xticks(x, names, rotation=15, fontsize=8)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7)
    low = np.nanmin([v[0] for v in table.values()]) if table else 0.0
    ax_acc.set_ylim(max(0.0, low - 0.1), 1.0)
    ax_time.set_yscale("log")
    fig.suptitle("Fig. 6: ReLU vs polynomial activation (0.09, 0.5, 0.47): backprop and convex program")
    plotter.save(fig, "fig6_accuracy_time.png")
