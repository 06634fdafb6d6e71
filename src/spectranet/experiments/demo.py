r"""The demo (``spectranet demo``): the paper's comparison on data that ship with the packages.

1. A Fig.-4-style planted problem: square activation, n = 100, d = 10, 10 teacher neurons,
   :math:`\beta = 10^{-6}`; the convex optimum against SGD and Adam (a few learning rates and
   seeds) on the same objective (P) (``formulation="l1"``); test data a fresh draw from the
   teacher.
2. scikit-learn's breast cancer data (standardized on the training part of a seeded 80/20
   stratified split), activation ``"relu"`` (0.09, 0.5, 0.47), logistic loss,
   :math:`\beta = 1`: the convex classifier against backprop.

Every training objective is the objective (P) of :class:`~spectranet.Problem`; the gap column
is (objective − certified lower bound of the convex fit) / objective. The certificate is also
applied to the best backprop network (its own dual bound says it is not optimal).

The demo is the first thing a new user runs, so it runs on a plain ``pip install spectranet``:
without PyTorch the backprop runs are skipped, without matplotlib the plots, each with a one-line
note (``pip install 'spectranet[torch]' matplotlib`` adds them).
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np

from ._common import (
    MISSING_MATPLOTLIB,
    ExperimentResult,
    Plotter,
    Progress,
    Timer,
    backprop_row,
    convex_row,
    curve_arrays,
    fill_gaps,
    fit_backprop,
    heldout_objective,
    mark_convex,
    objective_ylim,
)
from .fig4 import planted_split

__all__ = ["demo_table", "run"]

MISSING_TORCH = ("PyTorch is not installed: the backprop runs are skipped, the convex fits and their "
                 "certificates shown (pip install 'spectranet[torch]')")

NAME = "demo"
FULL = {"planted_lrs": {"sgd": (1e-3, 3e-3, 1e-2), "adam": (1e-3, 3e-3, 1e-2)}, "planted_seeds": (0, 1),
            "planted_epochs": 300, "cancer_lrs": {"sgd": (1e-3, 1e-2), "adam": (1e-3, 1e-2)}, "cancer_epochs": 100}
QUICK = {"planted_lrs": {"sgd": (3e-3,), "adam": (1e-2,)}, "planted_seeds": (0, 1), "planted_epochs": 60,
             "cancer_lrs": {"sgd": (1e-2,), "adam": (1e-2,)}, "cancer_epochs": 15}


def run(out_dir, *, quick=False, progress: Progress | None = None) -> ExperimentResult:
    """Run the demo; plots go to ``out_dir`` (which must exist). Returns the rows and notes."""
    grid = QUICK if quick else FULL
    progress = progress or Progress()
    result = ExperimentResult(NAME, out_dir=out_dir)
    plotter = Plotter(out_dir)
    if not _has_torch():
        grid = dict(grid, planted_lrs={}, cancer_lrs={})
        result.notes.append(MISSING_TORCH)
    _planted(result, grid, progress, plotter)
    _breast_cancer(result, grid, progress, plotter)
    fill_gaps(result.rows)
    if not plotter.available:
        result.notes.append(MISSING_MATPLOTLIB)
    result.plots = plotter.paths
    return result


def _has_torch() -> bool:
    return importlib.util.find_spec("torch") is not None


def _backprop_runs(template, X, y, lrs, seeds, evaluate, common, result, progress, validation=None):
    curves = {}  # no learning rates (no PyTorch): no runs
    for opt, opt_lrs in lrs.items():
        for lr in opt_lrs:
            for seed in seeds:
                est = fit_backprop(template, X, y, optimizer=opt, lr=lr, seed=seed, validation_data=validation)
                metric, metric_name = evaluate(est)
                result.rows.append(backprop_row(NAME, method="backprop", est=est, test_metric=metric,
                                                test_metric_name=metric_name, **common))
                curves[opt, lr, seed] = est
                progress.advance(f"{opt} lr={lr:g} seed={seed}: objective {est.network_objective_:.6g}")
    return curves


def _planted(result, grid, progress, plotter):
    from ..baseline import BackpropPolyNetRegressor
    from ..estimators import ConvexPolyNetRegressor

    beta = 1e-6
    X, y, X_test, y_test, _ = planted_split(100, 10, 10, "square", 0.1, 0)
    common = {"dataset": "planted (square, n=100, d=10)", "n_train": 100, "n_test": 100, "split_seed": 0}
    n_runs = sum(map(len, grid["planted_lrs"].values())) * len(grid["planted_seeds"])
    progress.start("demo: planted regression", 1 + n_runs)
    with Timer() as timer:
        convex = ConvexPolyNetRegressor(activation="square", beta=beta).fit(X, y)
    convex_test = heldout_objective(convex.network_, X_test, y_test, "square", "squared", beta)
    result.rows.append(convex_row(NAME, est=convex, time_s=timer.seconds, test_metric=convex_test,
                                  test_metric_name="test_objective", **common))
    progress.advance(f"convex: objective {convex.objective_:.6g}")
    template = BackpropPolyNetRegressor(activation="square", beta=beta, formulation="l1", batch_size=10,
                                        max_epochs=grid["planted_epochs"])

    def evaluate(est):
        return heldout_objective(est.network_, X_test, y_test, "square", "squared", beta), "test_objective"

    runs = _backprop_runs(template, X, y, grid["planted_lrs"], grid["planted_seeds"], evaluate, common,
                          result, progress, validation=(X_test, y_test))
    progress.close()
    _certificate_notes(result, "planted", convex, runs, X, y, "squared", beta)
    if plotter.available and runs:  # the plots compare backprop with the convex optimum
        _plot(plotter, "demo_planted.png", "planted square-activation regression (Fig. 4 setup)", runs,
              convex.objective_, convex_test, timer.seconds, test_curves=True)


def _breast_cancer(result, grid, progress, plotter):
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from ..baseline import BackpropPolyNetClassifier
    from ..estimators import ConvexPolyNetClassifier

    beta = 1.0
    Xb, yb = load_breast_cancer(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(Xb, yb, test_size=0.2, stratify=yb, random_state=0)
    scaler = StandardScaler().fit(Xtr)
    Xtr, Xte = scaler.transform(Xtr), scaler.transform(Xte)
    common = {"dataset": "breast cancer (sklearn, n=455, d=30)", "n_train": len(ytr), "n_test": len(yte),
                  "split_seed": 0}
    progress.start("demo: breast cancer", 1 + sum(map(len, grid["cancer_lrs"].values())))
    with Timer() as timer:
        convex = ConvexPolyNetClassifier(activation="relu", beta=beta, loss="logistic").fit(Xtr, ytr)
    result.rows.append(convex_row(NAME, est=convex, time_s=timer.seconds, test_metric=convex.score(Xte, yte),
                                  test_metric_name="test_accuracy", **common))
    progress.advance(f"convex: objective {convex.objective_:.6g}")
    template = BackpropPolyNetClassifier(activation="relu", loss="logistic", beta=beta, formulation="l1",
                                         batch_size=10, max_epochs=grid["cancer_epochs"])
    runs = _backprop_runs(template, Xtr, ytr, grid["cancer_lrs"], (0,),
                          lambda est: (est.score(Xte, yte), "test_accuracy"), common, result, progress)
    progress.close()
    _certificate_notes(result, "breast cancer", convex, runs, Xtr, 2.0 * ytr - 1.0, "logistic", beta)
    if plotter.available and runs:  # the plots compare backprop with the convex optimum
        _plot(plotter, "demo_breast_cancer.png", "breast cancer, logistic loss, relu-like activation", runs,
              convex.objective_, None, timer.seconds, test_curves=False)


def _certificate_notes(result, task, convex, runs, X, Y, loss, beta):
    """The certificate of the convex fit, and :func:`spectranet.certify` of the best backprop
    network from its own gradient (a valid but possibly loose bound; at tiny beta, where any
    numerical residual violates the dual constraint, it is loose)."""
    from ..proof import certify

    c = convex.certificate_
    result.notes.append(f"{task}: certificate of the convex fit: objective {c.objective:.8g}, lower bound "
                        f"{c.lower_bound:.8g}, gap {c.gap:.1e}, optimal: {c.is_optimal}")
    if not runs:
        return
    (opt, lr, seed), best = min(runs.items(), key=lambda kv: kv[1].network_objective_)
    c = certify(best.network_, X, Y, loss=loss, beta=beta)
    result.notes.append(
        f"{task}: certify(best backprop network, {opt} lr={lr:g} seed={seed}): objective {c.objective:.8g}, "
        f"lower bound from its own gradient {c.lower_bound:.6g}, gap {c.gap:.1e}, optimal: {c.is_optimal} "
        f"(lambda = max |v^T sigma(Xu)| = {c.lam:.3g}, beta = {beta:g})")
    # how much of that gap is the network's and how much its gradient's dual point's: the convex
    # optimum splits it (the improved bound, cutting planes on the dual, closes part of the latter;
    # it is not the optimum, so the share is measured against the optimum)
    better = certify(best.network_, X, Y, loss=loss, beta=beta, improve=True)
    optimum = convex.certificate_.lower_bound
    result.notes.append(
        f"{task}: with improve=True the bound rises to {better.lower_bound:.8g} (gap {better.gap:.1e}); the "
        f"network is {(c.objective - optimum) / c.objective:.1e} above the certified optimum, so "
        f"{max(optimum - c.lower_bound, 0.0) / max(c.objective - c.lower_bound, 1e-300):.0%} of its "
        "own-gradient gap belonged to the dual point, not to the network")


def _plot(plotter, filename, title, runs, optimum, test_optimum, solve_time, test_curves):
    fig, axes = plotter.figure(ncols=2 if test_curves else 1)
    colors = {"sgd": "tab:blue", "adam": "tab:green"}
    styles = ["-", "--", "-.", ":"]
    panels = [(axes[0], "loss_curve_", optimum, "training objective (P)")]
    if test_curves:
        panels.append((axes[1], "validation_curve_", test_optimum, "test objective (fresh draw)"))
    for ax, attr, opt_value, ylabel in panels:
        values = []
        lrs = {}
        for (opt, lr, seed), est in runs.items():
            k = lrs.setdefault((opt, lr), len([key for key in lrs if key[0] == opt]))
            t, v = curve_arrays(getattr(est, attr))
            values.append(v)
            ax.plot(t, v, styles[k % len(styles)], color=colors.get(opt), linewidth=1, alpha=0.8,
                    label=f"{opt} lr={lr:g}" if seed == min(s for o, r, s in runs if (o, r) == (opt, lr)) else None)
        mark_convex(ax, opt_value, solve_time, label="convex optimum" if attr == "loss_curve_" else "convex network")
        finite = [v[np.isfinite(v)] for v in values]
        floor = min([opt_value] + [f.min() for f in finite if f.size])
        objective_ylim(ax, values, floor)
        ax.set_xlabel("wall-clock time (s)")
        ax.set_ylabel(f"{ylabel}, sum over samples")
        ax.legend(fontsize=7)
    fig.suptitle(f"demo: {title}")
    plotter.save(fig, filename)


_OPT_NAMES = {"sgd": "SGD", "adam": "Adam"}


def demo_table(rows: list[dict], dataset: str) -> list[dict]:
    """The demo's table for one dataset: means over seeds per (method, optimizer, lr)."""
    groups: dict = {}
    for r in rows:
        if r["dataset"] == dataset:
            groups.setdefault((r["method"], r["optimizer"], r["lr"]), []).append(r)
    out = []
    def mean(group, col):
        return float(np.mean([g[col] for g in group]))

    for (method, optimizer, lr), group in groups.items():

        name = (f"convex ({optimizer})" if method == "convex"
                else f"{_OPT_NAMES.get(optimizer, optimizer)} lr={lr:g}")
        if len(group) > 1:
            name += f" ({len(group)} seeds)"
        metric = group[0]["test_metric_name"].replace("_", " ")
        gap = mean(group, "gap_to_optimum") if all(g["gap_to_optimum"] != "" for g in group) else math.nan
        out.append({"method": name, "training objective": f"{mean(group, 'train_objective'):.8g}",
                    "gap to certified optimum": f"{gap:.1e}", metric: f"{mean(group, 'test_metric'):.6g}",
                    "time s": f"{mean(group, 'time_s'):.2f}", "neurons": f"{mean(group, 'n_neurons'):g}"})
    return out
