r"""Fig. 7: test accuracy and the critical width :math:`m^*` of the convex program against
:math:`\beta`.

Setup: seeded 80/20 stratified split of credit-approval (n_train = 552, d = 15) and ionosphere
(n_train = 280, d = 33), activation ``"relu"`` (0.09, 0.5, 0.47), logistic loss, one warm-started
:func:`spectranet.regularization_path` per dataset. The paper reports: credit-approval best
:math:`\beta = 10` with :math:`m^* \approx 20` (bound 2(d+1) = 32), ionosphere best
:math:`\beta = 1` with :math:`m^* \approx 40` (bound 68). :math:`m^*` here is the rank of the
certified solution as extracted by the library (numerical rank of an interior-point solution),
so it need not match the paper's SCS-based counts.
"""

from __future__ import annotations

import numpy as np

from ._common import (
    MISSING_MATPLOTLIB,
    ExperimentResult,
    Plotter,
    Progress,
    fill_gaps,
    make_row,
    resolve_uci,
    uci_split,
)

__all__ = ["PAPER", "resolve_datasets", "run"]

NAME = "fig7"
DEFAULT = ("credit-approval", "ionosphere")
#: The paper's reading of Fig. 7: dataset -> (best beta, m* there).
PAPER = {"credit-approval": (10.0, 20), "ionosphere": (1.0, 40)}
FULL = {"betas": (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0)}
QUICK = {"betas": (1.0, 10.0, 100.0)}


def resolve_datasets(data_dir=None, datasets=None):
    """The data directory and dataset names; DataUnavailableError when missing."""
    return resolve_uci(NAME, data_dir, datasets, DEFAULT)


def run(out_dir, *, data_dir=None, datasets=None, quick=False, progress: Progress | None = None,
        betas=None, activation="relu", loss="logistic", split_seed=0, solver="auto") -> ExperimentResult:
    """Run Fig. 7 and write the plots into ``out_dir``.

    Parameters
    ----------
    out_dir : path
    data_dir : path, optional
        Directory of UCI sets in the Fernández-Delgado format (default ``$SPECTRANET_DATA``).
    datasets : list of str, optional
        Default: credit-approval and ionosphere.
    quick : bool
        Three values of beta (1, 10, 100) instead of eight from 0.1 to 300.
    betas : sequence of float, optional
        Override the grid of the chosen mode.
    activation, loss, split_seed, solver

    Returns
    -------
    ExperimentResult
    """
    from ..network import PolyNetwork
    from ..path import beta_max, regularization_path
    from ..problem import Problem
    from ..solvers import get_solver

    betas = tuple(float(b) for b in (betas if betas is not None else (QUICK if quick else FULL)["betas"]))
    home, names = resolve_datasets(data_dir, datasets)
    progress = progress or Progress()
    result = ExperimentResult(NAME, out_dir=out_dir)
    paths = {}
    for name in names:
        Xtr, Xte, ytr, yte = uci_split(name, home, split_seed)
        if np.unique(ytr).size < 2:  # (as fig5 and fig6, whose classifiers refuse it)
            raise ValueError(f"{name}: fig7 needs samples of at least 2 classes; the training split has "
                             f"1 class ({np.unique(ytr)[0]!r})")
        Ytr = 2.0 * ytr - 1.0
        common = dict(formulation="l1", split_seed=split_seed, test_metric_name="test_accuracy",
                      n_train=len(ytr), n_test=len(yte), n_features=Xtr.shape[1])
        # beta >= beta_max: the zero network is the certified optimum (no solve needed)
        bmax = beta_max(Xtr, Ytr, activation, loss)
        solve = [b for b in betas if b < bmax]
        progress.start(f"{NAME} {name}: {len(solve)} solve(s) (beta < beta_max = {bmax:.4g})", 1)
        if solve:
            path = regularization_path(Xtr, Ytr, solve, activation=activation, loss=loss, solver=solver)
            solver_name = get_solver(solver, Problem(Xtr, Ytr, activation, loss, solve[0])).name
            for i, beta in enumerate(path.betas):
                acc = float(np.mean((path.networks[i].predict(Xte) > 0) == (yte == 1)))
                result.rows.append(make_row(
                    NAME, name, "convex", optimizer=solver_name, beta=float(beta),
                    train_objective=float(path.objectives[i]), formulation_objective=float(path.objectives[i]),
                    lower_bound=float(path.lower_bounds[i]), test_metric=acc, time_s=float(path.times[i]),
                    n_neurons=int(path.n_neurons[i]), **common))
            progress.advance(f"m* = {path.n_neurons.tolist()}")
        zero = PolyNetwork.zero(Xtr.shape[1], activation)
        for beta in (b for b in betas if b >= bmax):
            obj = float(Problem(Xtr, Ytr, activation, loss, beta).objective(zero))
            result.rows.append(make_row(
                NAME, name, "convex", optimizer="zero network (beta >= beta_max)", beta=beta,
                train_objective=obj, formulation_objective=obj, lower_bound=obj,
                test_metric=float(np.mean(yte == 0)), time_s=0.0, n_neurons=0, **common))
        result.rows.sort(key=lambda r: (names.index(r["dataset"]), r["beta"]))
        paths[name] = Xtr.shape[1]
        progress.close()
        if len(solve) < len(betas):
            result.notes.append(f"{name}: beta_max = {bmax:.6g}; for beta >= beta_max the zero network is "
                                "optimal (certified by beta_max), so those values are not solved")
        rows = [r for r in result.rows if r["dataset"] == name]
        top = max(r["test_metric"] for r in rows)
        best = [r for r in rows if r["test_metric"] == top]
        note = (f"{name} (n_train = {len(ytr)}, d = {Xtr.shape[1]}, bound 2(d+1) = {2 * (Xtr.shape[1] + 1)}): "
                f"best test accuracy {top:.4f} at beta " + ", ".join(f"{r['beta']:g}" for r in best)
                + " with m* = " + ", ".join(str(r["n_neurons"]) for r in best))
        if name in PAPER:
            note += f"; paper: best beta {PAPER[name][0]:g}, m* about {PAPER[name][1]}"
        result.notes.append(note)
    fill_gaps(result.rows)
    plotter = Plotter(out_dir)
    if plotter.available:
        for name, d in paths.items():
            _plot(plotter, name, [r for r in result.rows if r["dataset"] == name], d)
    else:
        result.notes.append(MISSING_MATPLOTLIB)
    result.plots = plotter.paths
    return result


def _plot(plotter, name, rows, d):
    rows = sorted(rows, key=lambda r: r["beta"])
    beta = [r["beta"] for r in rows]
    fig, (ax,) = plotter.figure()
    ax.plot(beta, [r["test_metric"] for r in rows], "o-", color="tab:blue", label="test accuracy")
    ax.set_xscale("log")
    ax.set_xlabel("beta (objective is a sum over samples)")
    ax.set_ylabel("test accuracy", color="tab:blue")
    ax2 = ax.twinx()
    ax2.plot(beta, [r["n_neurons"] for r in rows], "s--", color="tab:red", label="m*")
    ax2.axhline(2 * (d + 1), color="tab:red", linestyle=":", linewidth=1, label=f"bound 2(d+1) = {2 * (d + 1)}")
    ax2.set_ylabel("optimal number of neurons m*", color="tab:red")
    ax2.set_ylim(0, 2 * (d + 1) * 1.1)
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=7, loc="best")
    ax.set_title(f"Fig. 7: {name} (n_train = {rows[0]['n_train']}, d = {d})")
    plotter.save(fig, f"fig7_{name}.png")
