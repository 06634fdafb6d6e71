"""Shared pieces of the experiments: rows and CSV, the summary table, data, runs and plots.

Nothing here prints: progress goes to a :class:`Progress` object supplied by the caller (the
command line passes one that draws a bar or writes log lines), results are returned.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..datasets import DATA_ENV, list_uci, load_uci
from ..exceptions import ConvergenceWarning
from ..problem import Problem

__all__ = [
    "COLUMNS",
    "UCI_FORMAT",
    "DataUnavailableError",
    "ExperimentResult",
    "Plotter",
    "Progress",
    "backprop_row",
    "best_lr",
    "convex_row",
    "fill_gaps",
    "fit_backprop",
    "format_table",
    "heldout_objective",
    "make_row",
    "resolve_uci",
    "summarize",
    "uci_split",
    "write_csv",
]

logger = logging.getLogger(__name__)

#: Columns of ``results.csv``, in order. All objectives are sums over samples: the objective
#: (P) of :class:`~spectranet.Problem` (``train_objective``), or of the run's own formulation
#: (``formulation_objective``: weight decay, or the ReLU network's objective).
COLUMNS = ["experiment", "dataset", "method", "optimizer", "formulation", "lr", "seed", "split_seed",
           "beta", "train_objective", "formulation_objective", "lower_bound", "gap_to_optimum",
           "test_metric", "test_metric_name", "time_s", "n_neurons", "epochs", "diverged", "n_train",
           "n_test", "n_features"]

UCI_FORMAT = ("one folder per dataset, <data-dir>/<name>/<name>_R.dat: tab-separated, a header line "
              "'f1 ... fd clase', then one row per sample with a row index, d feature values and "
              "the class 0 or 1 (Fernández-Delgado et al., JMLR 2014 preprocessing, as in the "
              "project's shared data)")


class DataUnavailableError(FileNotFoundError):
    """An experiment's data directory or one of its datasets is missing."""


class Progress:
    """Progress sink of the experiments; this base class ignores everything.

    The experiments call ``start(desc, total)``, then ``advance(info)`` once per finished run,
    then ``close()``.
    """

    def start(self, desc: str, total: int) -> None:
        pass

    def advance(self, info: str = "") -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class ExperimentResult:
    r"""What an experiment returns: its rows (one per run), the files it wrote and its notes.

    Made by each experiment's ``run`` (and so by :func:`run_experiment`, which also writes the rows
    to ``results.csv``). Every row is one fit: the convex program's, or one backprop run (an
    optimizer, a learning rate and a seed). Objectives are problem (P), sums over samples:

    .. math:: \ell\Big(\sum_{j=1}^m \sigma(X u_j)\, \alpha_j^\top,\ Y\Big)
              + \beta \sum_{j=1}^m \|\alpha_j\|_1,

    and ``gap_to_optimum`` is ``(train_objective - lower_bound) / |train_objective|`` against the
    certified lower bound of the convex row of the same dataset, split and :math:`\beta`.

    Parameters
    ----------
    name : str
        The experiment: ``"fig4"``, ``"fig5"``, ``"fig6"``, ``"fig7"`` or ``"demo"``.
    rows : list of dict, optional
        One per run, each with the keys :data:`COLUMNS` (empty string where a column does not
        apply).
    plots : list of Path, optional
        The PNG files drawn (none when matplotlib is missing).
    notes : list of str, optional
        One-line findings (the certified optimum, the best learning rates, skipped parts).
    csv_path : Path or None, optional
        ``results.csv``, once written.
    out_dir : Path or None, optional
        The folder of the plots and ``results.csv``.

    Attributes
    ----------
    name, rows, plots, notes, csv_path, out_dir
        The parameters.

    See Also
    --------
    run_experiment : Runs an experiment and writes ``results.csv``.
    format_table : The plain-text table of :meth:`summary_table`.
    write_csv : Writes the rows as CSV.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, Section 6 and Figs. 4-7 (the
    experiments), eq. (20) (problem (P), the objective of every row) and eq. (21) (the convex
    program whose certified bound gives ``gap_to_optimum``).

    Examples
    --------
    >>> from spectranet.experiments import COLUMNS, ExperimentResult
    >>> row = dict.fromkeys(COLUMNS, "")
    >>> row.update(experiment="demo", dataset="planted", method="convex", beta=0.01,
    ...            train_objective=1.25, lower_bound=1.2499999, gap_to_optimum=8e-8, n_neurons=3)
    >>> result = ExperimentResult("demo", rows=[row])
    >>> line = result.summary()[0]  # means over seeds, one line per method and learning rate
    >>> line["method"], line["train obj (mean)"], line["gap to optimum"], line["neurons"]
    ('convex', '1.25', '8.0e-08', '3')
    >>> result.summary_table().split()[:4]  # the header of the table the command line prints
    ['dataset', 'method', 'optimizer', 'formulation']
    """

    name: str
    rows: list = field(default_factory=list)
    plots: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    csv_path: Path | None = None
    out_dir: Path | None = None

    def summary(self) -> list[dict]:
        """One line per (dataset, method, optimizer, formulation, learning rate, beta): means over
        the seeds of the rows."""
        return summarize(self.rows)

    def summary_table(self) -> str:
        """:meth:`summary` as a plain-text table (what the command line prints)."""
        return format_table(self.summary())


# -- rows ----------------------------------------------------------------------------------------
def make_row(experiment: str, dataset: str, method: str, **values) -> dict:
    row = dict.fromkeys(COLUMNS, "")
    row.update(experiment=experiment, dataset=dataset, method=method)
    unknown = set(values) - set(COLUMNS)
    if unknown:
        raise KeyError(f"unknown result columns {sorted(unknown)}")
    row.update(values)
    return row


def convex_row(experiment, dataset, est, *, time_s, test_metric, test_metric_name, n_train, n_test,
               **extra) -> dict:
    """Row of a fitted convex estimator: ``train_objective`` is its ``objective_``."""
    return make_row(experiment, dataset, "convex", optimizer=est.solver_, formulation="l1",
                    beta=est.beta, train_objective=float(est.objective_),
                    formulation_objective=float(est.objective_), lower_bound=float(est.lower_bound_),
                    test_metric=float(test_metric), test_metric_name=test_metric_name,
                    time_s=float(time_s), n_neurons=int(est.n_neurons_), n_train=n_train,
                    n_test=n_test, n_features=est.n_features_in_, **extra)


def fit_backprop(template, X, y, *, optimizer, lr, seed, validation_data=None):
    """Fit a clone of a Backprop* estimator; divergence is recorded, not warned about."""
    from sklearn.base import clone

    est = clone(template).set_params(optimizer=optimizer, lr=lr, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y, validation_data=validation_data)
    return est


def backprop_row(experiment, dataset, method, est, *, test_metric, test_metric_name, n_train, n_test,
                 **extra) -> dict:
    """Row of a fitted Backprop* estimator.

    ``train_objective`` is the objective (P) of its network (``network_objective_``, computed by
    :class:`~spectranet.Problem`): for ``formulation="l1"`` that is the trained objective itself,
    for weight decay the (P) objective of the same function with unit-norm rows. A ReLU network
    has no (P) objective: NaN, its own objective is ``formulation_objective``.
    """
    p_obj = float(getattr(est, "network_objective_", math.nan))
    return make_row(experiment, dataset, method, optimizer=est.optimizer, formulation=est.formulation,
                    lr=est.lr, seed=est.random_state, beta=est.beta, train_objective=p_obj,
                    formulation_objective=float(est.objective_), test_metric=float(test_metric),
                    test_metric_name=test_metric_name, time_s=float(est.fit_time_),
                    n_neurons=int(est.n_neurons_), epochs=int(est.n_iter_),
                    diverged=bool(est.diverged_), n_train=n_train, n_test=n_test,
                    n_features=est.n_features_in_, **extra)


def heldout_objective(network, X, y, activation, loss, beta) -> float:
    """Objective (P) of ``network`` on held-out data (the library's one definition)."""
    return float(Problem(X, y, activation, loss, beta).objective(network))


def fill_gaps(rows: list[dict]) -> list[dict]:
    """Set ``gap_to_optimum`` = (train_objective − lower bound) / |train_objective| of every row,
    with the certified lower bound of the convex row of the same experiment, dataset, split and
    beta (rows without a (P) objective or without such a convex row keep it empty)."""
    bounds = {(r["experiment"], r["dataset"], r["split_seed"], r["beta"]): r["lower_bound"]
              for r in rows if r["method"] == "convex"}
    for r in rows:
        lb = bounds.get((r["experiment"], r["dataset"], r["split_seed"], r["beta"]))
        obj = r["train_objective"]
        if lb not in (None, "") and obj != "" and math.isfinite(obj):
            r["gap_to_optimum"] = (obj - lb) / max(abs(obj), 1e-300)
    return rows


def best_lr(rows: list[dict], **match) -> float | None:
    """The learning rate with the lowest mean final training objective (never diverged)."""
    by_lr: dict = {}
    for r in rows:
        if all(r.get(k) == v for k, v in match.items()) and r["lr"] != "":
            obj = r["train_objective"] if math.isfinite(r["train_objective"]) else r["formulation_objective"]
            by_lr.setdefault(r["lr"], []).append(math.inf if r["diverged"] else obj)
    finite = {lr: float(np.mean(v)) for lr, v in by_lr.items() if np.all(np.isfinite(v))}
    return min(finite, key=finite.get) if finite else None


# -- CSV and summary -------------------------------------------------------------------------------
def _csv_value(v):
    if isinstance(v, (float, np.floating)):
        return "" if math.isnan(v) else repr(float(v))
    return v


def write_csv(rows: list[dict], path: Path) -> Path:
    path = Path(path)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: _csv_value(v) for k, v in r.items()})
    return path


def _fmt(value, spec=".6g") -> str:
    if value == "" or value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec) if isinstance(value, (float, np.floating)) else str(value)


def summarize(rows: list[dict]) -> list[dict]:
    """One line per (dataset, method, optimizer, formulation, lr, beta): means over seeds."""
    groups: dict = {}
    for r in rows:
        key = (r["dataset"], r["method"], r["optimizer"], r["formulation"], r["lr"], r["beta"])
        groups.setdefault(key, []).append(r)
    out = []
    def mean(group, col):
        vals = [g[col] for g in group if g[col] != "" and math.isfinite(float(g[col]))]
        return float(np.mean(vals)) if vals else ""

    for (dataset, method, optimizer, formulation, lr, beta), group in groups.items():

        best = [g["train_objective"] for g in group if g["train_objective"] != ""
                and math.isfinite(g["train_objective"])]
        gap = mean(group, "gap_to_optimum")
        out.append({
            "dataset": dataset, "method": method, "optimizer": optimizer or "-",
            "formulation": formulation or "-", "lr": _fmt(lr, "g"), "beta": _fmt(beta, "g"),
            "runs": len(group), "train obj (mean)": _fmt(mean(group, "train_objective")),
            "train obj (best)": _fmt(min(best) if best else ""),
            "gap to optimum": _fmt(gap, ".1e"),
            group[0]["test_metric_name"] or "test metric": _fmt(mean(group, "test_metric"), ".4g"),
            "time s": _fmt(mean(group, "time_s"), ".2f"), "neurons": _fmt(mean(group, "n_neurons"), "g"),
            "diverged": sum(1 for g in group if g["diverged"] is True),
        })
    return out


def format_table(rows: list[dict], columns: list[str] | None = None) -> str:
    """Plain-text table; the union of the rows' keys (in first-seen order) by default."""
    if not rows:
        return "(no rows)"
    if columns is None:
        columns = list(dict.fromkeys(k for r in rows for k in r))
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


# -- data --------------------------------------------------------------------------------------------
def resolve_uci(experiment: str, data_dir, requested, default, optional=()) -> tuple[Path, list[str]]:
    """The data directory and the dataset names of a real-data experiment, checked up front.

    ``requested`` (from ``--datasets``) wins; otherwise ``default`` plus those of ``optional``
    present in the directory. Raises :class:`DataUnavailableError` naming the folder and the
    expected format when the directory or a dataset is missing.
    """
    source = "--data-dir"
    if data_dir is None:
        data_dir, source = os.environ.get(DATA_ENV) or None, f"${DATA_ENV}"
    if data_dir is None:
        raise DataUnavailableError(
            f"{experiment} needs real data: pass --data-dir DIR (or set ${DATA_ENV}) with "
            f"{UCI_FORMAT}")
    home = Path(data_dir).expanduser()
    if not home.is_dir():
        raise DataUnavailableError(
            f"{experiment}: data directory {home} (from {source}) does not exist; expected {UCI_FORMAT}")
    present = list_uci(home)
    names = list(requested) if requested else list(default) + [n for n in optional if n in present]
    names = list(dict.fromkeys(names))  # (a name given twice ran twice: duplicated rows and notes)
    missing = [n for n in names if n not in present]
    if missing:
        raise DataUnavailableError(
            f"{experiment}: dataset(s) {missing} not found in {home}: expected "
            f"{', '.join(str(home / n / (n + '_R.dat')) for n in missing)}; format: {UCI_FORMAT}. "
            f"Datasets present there: {present or 'none'}")
    return home, names


def uci_split(name: str, home: Path, seed: int, test_size: float = 0.2):
    """Seeded stratified split (default 80/20) of a UCI set: ``Xtr, Xte, ytr, yte``."""
    from sklearn.model_selection import train_test_split

    X, y = load_uci(name, home, return_X_y=True)
    return train_test_split(X, y, test_size=test_size, stratify=y, random_state=seed)


class Timer:
    """Wall-clock seconds of a ``with`` block (``.seconds``)."""

    def __enter__(self):
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._start


# -- plots ---------------------------------------------------------------------------------------------
class Plotter:
    """Makes figures with matplotlib's object API (no pyplot state, Agg rendering), imported on
    first use; when matplotlib is missing, :attr:`available` is False and nothing is drawn."""

    def __init__(self, out_dir: Path):
        self.out_dir = Path(out_dir)
        # created, as run_experiment does (a module's run(out_dir) failed in savefig, after every fit)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.paths: list[Path] = []
        try:
            from matplotlib.figure import Figure
        except ImportError:
            self.available, self._Figure = False, None
        else:
            self.available, self._Figure = True, Figure

    def figure(self, ncols=1, width=5.5, height=4.0):
        fig = self._Figure(figsize=(width * ncols, height), layout="constrained")
        axes = fig.subplots(1, ncols, squeeze=False)[0]
        return fig, list(axes)

    def save(self, fig, name: str) -> Path:
        path = self.out_dir / name
        fig.savefig(path, dpi=110)
        self.paths.append(path)
        return path


MISSING_MATPLOTLIB = "matplotlib is not installed: plots skipped (pip install matplotlib)"


def curve_arrays(curve):
    arr = np.asarray(curve, dtype=float).reshape(-1, 3)
    return arr[:, 0], arr[:, 2]


def mark_convex(ax, objective, solve_time, label="convex optimum"):
    """The convex optimum as a dotted horizontal line, its solve time as a vertical line and a cross."""
    ax.axhline(objective, color="k", linestyle=":", linewidth=1.5, label=label)
    ax.axvline(solve_time, color="k", linestyle="--", linewidth=0.8, alpha=0.6)
    ax.plot([solve_time], [objective], "kx", markersize=10, mew=2, label=f"convex solve ({solve_time:.2f} s)")


def objective_ylim(ax, curves, floor):
    """Log axis from just below ``floor`` to a little above the largest start value."""
    starts = [c[0] for c in curves if len(c) and math.isfinite(c[0])]
    top = (max(starts) if starts else 10 * floor) * 1.5
    ax.set_yscale("log")
    ax.set_ylim(floor * 0.8 if floor > 0 else None, top)
