r"""Fig. 4: square-activation regression on a planted model, convex optimum vs SGD.

Setup of the paper: ``X`` Gaussian with n = 100, d = 10, labels from a teacher with 10 planted
square-activation neurons, :math:`\beta = 10^{-6}`, SGD (momentum 0.9) with batch size 10 over
several learning rates and seeds, training and test cost against wall-clock time, the convex
optimum as a horizontal line and its solve time as a vertical line. The test set is a fresh
draw from the same teacher (same noise level).

Backprop trains the :math:`\ell_1` formulation (problem (P), the same objective the convex
program minimizes) and, as a second curve, weight decay (P_WD). Every row's
``train_objective`` is the objective (P) of the trained network, so the convex row is a lower
bound of all of them (up to the solver's certified tolerance).
"""

from __future__ import annotations

import numpy as np

from ..datasets import make_planted
from ._common import (
    MISSING_MATPLOTLIB,
    ExperimentResult,
    Plotter,
    Progress,
    Timer,
    backprop_row,
    best_lr,
    convex_row,
    curve_arrays,
    fill_gaps,
    fit_backprop,
    heldout_objective,
    mark_convex,
    objective_ylim,
)

__all__ = ["planted_split", "run"]

NAME = "fig4"
FULL = {"lrs": (3e-4, 1e-3, 3e-3, 1e-2), "seeds": (0, 1, 2, 3, 4), "max_epochs": 1000}
QUICK = {"lrs": (1e-3, 1e-2), "seeds": (0, 1), "max_epochs": 100}


def planted_split(n=100, d=10, n_neurons=10, activation="square", noise=0.1, seed=0):
    """Training data from a planted teacher and a fresh test draw from the same teacher.

    Returns ``X, y, X_test, y_test, teacher``.
    """
    X, y, teacher = make_planted(n, d, n_neurons=n_neurons, activation=activation, noise=noise,
                                 random_state=seed, return_teacher=True)
    rng = np.random.default_rng([seed, 1])  # an independent stream for the test draw
    X_test = rng.standard_normal((n, d))
    y_test = teacher.predict(X_test) + noise * rng.standard_normal(n)
    return X, y, X_test, y_test, teacher


def run(out_dir, *, quick=False, progress: Progress | None = None, n=100, d=10, n_neurons=10,
        beta=1e-6, noise=0.1, data_seed=0, lrs=None, seeds=None, max_epochs=None, batch_size=10,
        formulations=("l1", "weight_decay"), optimizers=("sgd",), solver="auto") -> ExperimentResult:
    """Run Fig. 4 and write ``results.csv`` and the plots into ``out_dir``.

    Parameters
    ----------
    out_dir : path
    quick : bool
        Small grid (2 learning rates, 2 seeds, 100 epochs) instead of the full one
        (4 learning rates, 5 seeds, 1000 epochs).
    progress : Progress, optional
    n, d, n_neurons, beta, noise, data_seed
        The planted problem (defaults: the paper's).
    lrs, seeds, max_epochs : optional
        Override the grid of the chosen mode.
    batch_size : int
    formulations : tuple of {"l1", "weight_decay"}
    optimizers : tuple of {"sgd", "adam"}
    solver : str
        Convex solver.

    Returns
    -------
    ExperimentResult
    """
    from ..baseline import BackpropPolyNetRegressor
    from ..estimators import ConvexPolyNetRegressor

    grid = dict(QUICK if quick else FULL)
    grid.update({k: v for k, v in {"lrs": lrs, "seeds": seeds, "max_epochs": max_epochs}.items() if v is not None})
    progress = progress or Progress()
    result = ExperimentResult(NAME, out_dir=out_dir)
    X, y, X_test, y_test, _ = planted_split(n, d, n_neurons, "square", noise, data_seed)
    common = {"dataset": "planted-square", "n_train": n, "n_test": n, "split_seed": data_seed}

    progress.start(f"{NAME}: convex program", 1)
    with Timer() as timer:
        convex = ConvexPolyNetRegressor(activation="square", beta=beta, loss="squared", solver=solver).fit(X, y)
    convex_test = heldout_objective(convex.network_, X_test, y_test, "square", "squared", beta)
    result.rows.append(convex_row(NAME, est=convex, time_s=timer.seconds, test_metric=convex_test,
                                  test_metric_name="test_objective", **common))
    progress.advance(f"objective {convex.objective_:.6g}, m* = {convex.n_neurons_}, {timer.seconds:.2f}s")
    progress.close()

    template = BackpropPolyNetRegressor(activation="square", loss="squared", beta=beta,
                                        batch_size=batch_size, max_epochs=grid["max_epochs"])
    runs = [(f, o, lr, s) for f in formulations for o in optimizers for lr in grid["lrs"] for s in grid["seeds"]]
    curves = {}
    progress.start(f"{NAME}: backprop runs", len(runs))
    for form, opt, lr, seed in runs:
        est = fit_backprop(template.set_params(formulation=form), X, y, optimizer=opt, lr=lr, seed=seed,
                           validation_data=(X_test, y_test))
        test = heldout_objective(est.network_, X_test, y_test, "square", "squared", beta)
        result.rows.append(backprop_row(NAME, method="backprop", est=est, test_metric=test,
                                        test_metric_name="test_objective", **common))
        curves[form, opt, lr, seed] = (est.loss_curve_, est.validation_curve_)
        progress.advance(f"{form} {opt} lr={lr:g} seed={seed}: objective {est.network_objective_:.6g}")
    progress.close()
    fill_gaps(result.rows)

    plotter = Plotter(out_dir)
    if plotter.available:
        _plot_curves(plotter, result.rows, curves, convex, convex_test, timer.seconds, formulations, optimizers)
        _plot_lr_grid(plotter, result.rows, convex.objective_, formulations, optimizers)
    else:
        result.notes.append(MISSING_MATPLOTLIB)
    result.plots = plotter.paths
    bests = {(f, o): best_lr(result.rows, method="backprop", formulation=f, optimizer=o)
             for f in formulations for o in optimizers}
    result.notes.append(
        f"planted square-activation regression: n = {n}, d = {d}, {n_neurons} teacher neurons, noise "
        f"{noise}, beta = {beta:g}; convex optimum {convex.objective_:.8g} (certified gap "
        f"{convex.gap_:.1e}, m* = {convex.n_neurons_}) in {timer.seconds:.2f} s")
    for (f, o), lr in bests.items():
        objs = [r["train_objective"] for r in result.rows
                if (r["method"], r["formulation"], r["optimizer"], r["lr"]) == ("backprop", f, o, lr)]
        if objs:
            result.notes.append(f"best {o} lr for {f}: {lr:g}; final objective (P) over seeds "
                                f"{min(objs):.6g} .. {max(objs):.6g} vs optimum {convex.objective_:.6g}")
    return result


_STYLE = {"l1": ("-", "tab:blue", "SGD, l1 formulation (P)"),
          "weight_decay": ("--", "tab:red", "SGD, weight decay (its own objective)")}


def _plot_curves(plotter, rows, curves, convex, convex_test, solve_time, formulations, optimizers):
    fig, (ax_train, ax_test) = plotter.figure(ncols=2)
    values = {"train": [], "test": []}
    for form in formulations:
        for opt in optimizers:
            lr = best_lr(rows, method="backprop", formulation=form, optimizer=opt)
            if lr is None:
                continue
            style, color, label = _STYLE.get(form, ("-", None, form))
            if opt != "sgd":
                label = label.replace("SGD", opt)
            for i, (train, test) in enumerate(v for k, v in curves.items() if k[:3] == (form, opt, lr)):
                for ax, curve, key in ((ax_train, train, "train"), (ax_test, test, "test")):
                    t, v = curve_arrays(curve)
                    values[key].append(v)
                    ax.plot(t, v, style, color=color, alpha=0.7, linewidth=1,
                            label=f"{label}, lr={lr:g}" if i == 0 else None)
    mark_convex(ax_train, convex.objective_, solve_time)
    mark_convex(ax_test, convex_test, solve_time, label="convex network")
    for ax, title, key in ((ax_train, "training objective", "train"),
                           (ax_test, "test objective (fresh draw, same teacher)", "test")):
        ax.set_xlabel("wall-clock time (s)")
        ax.set_ylabel("objective (sum over samples)")
        ax.set_title(title)
        finite = [c[np.isfinite(c)] for c in values[key]]
        low = convex.objective_ if key == "train" else min([convex_test] + [c.min() for c in finite if c.size])
        objective_ylim(ax, values[key], low)
        ax.legend(fontsize=7)
    fig.suptitle("Fig. 4: square activation, planted model, convex SDP vs backprop (best lr, all seeds)")
    plotter.save(fig, "fig4_objective_vs_time.png")


def _plot_lr_grid(plotter, rows, optimum, formulations, optimizers):
    fig, (ax,) = plotter.figure()
    for form in formulations:
        for opt in optimizers:
            pts = [(r["lr"], r["train_objective"]) for r in rows
                   if (r["method"], r["formulation"], r["optimizer"]) == ("backprop", form, opt)]
            if pts:
                lr, obj = np.array(pts).T
                _, color, label = _STYLE.get(form, ("-", None, form))
                ax.plot(lr, obj, "o", color=color, alpha=0.6, label=label.replace("SGD", opt))
    ax.axhline(optimum, color="k", linestyle=":", label="convex optimum")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("final training objective (P)")
    ax.set_title("Fig. 4: final objective per run (every seed)")
    ax.legend(fontsize=7)
    plotter.save(fig, "fig4_lr_grid.png")
