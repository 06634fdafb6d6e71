"""Command-line interface: ``spectranet demo | experiment | fit | solvers``.

The only module of the library that prints.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import numpy as np

__all__ = ["main"]


def _table(rows: list[dict], columns: list[str] | None) -> str:
    from .experiments import format_table

    return format_table(rows, columns)


def _fit_row(name, est, metric_name, metric):
    return {
        "task": name,
        "objective": f"{est.objective_:.8g}",
        "network objective": f"{est.network_objective_:.8g}",
        "certified gap": f"{est.gap_:.1e}",
        "m*": est.n_neurons_,
        "bound 2(d+1)P": 2 * (est.network_.n_features + 1) * est.network_.n_pairs,
        "metric": f"{metric_name} {metric:.3f}",
        "time s": f"{est.fit_time_:.2f}",
    }


class _LineProgress:
    """Progress as plain log lines on stderr (when tqdm is not installed)."""

    def start(self, desc, total):
        self.desc, self.total, self.done, self.tic = desc, total, 0, time.perf_counter()
        print(f"[{desc}] {total} step(s)", file=sys.stderr, flush=True)

    def advance(self, info=""):
        self.done += 1
        print(f"[{self.desc}] {self.done}/{self.total} ({time.perf_counter() - self.tic:.1f}s) {info}",
              file=sys.stderr, flush=True)

    def close(self):
        pass


class _TqdmProgress:
    """Progress bars with tqdm."""

    def __init__(self, tqdm):
        self._tqdm, self._bar = tqdm, None

    def start(self, desc, total):
        self._bar = self._tqdm(total=total, desc=desc, file=sys.stderr, leave=True)

    def advance(self, info=""):
        self._bar.set_postfix_str(info[:60], refresh=False)
        self._bar.update(1)

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _progress(quiet: bool):
    from .experiments import Progress

    if quiet:
        return Progress()
    try:
        from tqdm import tqdm
    except ImportError:
        return _LineProgress()
    return _TqdmProgress(tqdm)


def _print_files(result) -> None:
    files = ([result.csv_path] if result.csv_path else []) + list(result.plots)
    print(f"\nwritten to {result.out_dir}: " + ", ".join(p.name for p in files))


def cmd_demo(args) -> int:
    """The paper's comparison on data that ship with the installed packages: a planted
    square-activation problem (convex optimum vs SGD and Adam on the same objective) and
    scikit-learn's breast cancer data (convex classifier vs backprop)."""
    from pathlib import Path

    from .experiments import write_csv
    from .experiments.demo import demo_table, run

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    result = run(out, quick=args.quick, progress=_progress(args.quiet))
    result.csv_path = write_csv(result.rows, out / "results.csv")
    for dataset in dict.fromkeys(r["dataset"] for r in result.rows):
        print(f"\n{dataset}")
        print(_table(demo_table(result.rows, dataset), None))
    print("\ngap = (objective - certified lower bound of the convex fit) / objective; objectives are "
          "problem (P), sums over samples")
    for note in result.notes:
        print(note)
    _print_files(result)
    print(f"demo finished in {time.perf_counter() - start:.1f} s")
    return 0


def cmd_experiment(args) -> int:
    """Reproduce one of the paper's figures: plots, results.csv and a summary table."""
    from .experiments import run_experiment

    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()] if args.datasets else None
    start = time.perf_counter()
    result = run_experiment(args.name, args.out, data_dir=args.data_dir, datasets=datasets,
                            quick=args.quick, progress=_progress(args.quiet))
    print(f"\n{args.name}{' (quick)' if args.quick else ''}: summary (means over seeds/splits; objectives "
          "are problem (P), sums over samples; gap = (objective - certified lower bound) / objective)")
    print(result.summary_table())
    print()
    for note in result.notes:
        print(f"- {note}")
    _print_files(result)
    print(f"{args.name} finished in {time.perf_counter() - start:.1f} s")
    return 0


def _load_table(path: str, target: int):
    data = np.genfromtxt(path, delimiter=",", skip_header=0, dtype=float)
    if np.isnan(data[0]).all():  # header line
        data = data[1:]
    if data.ndim != 2 or data.shape[1] < 2:
        raise ValueError(f"{path}: expected a CSV table with at least two columns")
    y = data[:, target]
    X = np.delete(data, target % data.shape[1], axis=1)
    return X, y


def cmd_fit(args) -> int:
    """Fit a CSV file (numeric columns, optional header) and save the network."""
    from . import ConvexPolyNetClassifier, ConvexPolyNetRegressor

    X, y = _load_table(args.file, args.target)
    cls = ConvexPolyNetClassifier if args.task == "classification" else ConvexPolyNetRegressor
    loss = args.loss or ("logistic" if args.task == "classification" else "squared")
    start = time.perf_counter()
    est = cls(activation=args.activation, beta=args.beta, loss=loss, solver=args.solver).fit(X, y)
    row = _fit_row(args.task, est, "train score", est.score(X, y))
    row["time s"] = f"{time.perf_counter() - start:.2f}"
    print(_table([row], list(row)))
    if args.out:
        est.network_.save(args.out)
        print(f"network saved to {args.out}")
    return 0


def cmd_solvers(args) -> int:
    from .solvers import AUTO_ORDER, SOLVERS, available_solvers

    installed = set(available_solvers())
    for name in SOLVERS:
        state = "available" if name in installed else f"not installed ({SOLVERS[name].install_hint})"
        print(f"{name:10s} {state}")
    print(f"auto order: {', '.join(AUTO_ORDER)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spectranet", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="convex optimum vs SGD/Adam on bundled data (planted model, "
                          "breast cancer)", description=cmd_demo.__doc__)
    demo.add_argument("--quick", action="store_true", help="fewer learning rates and epochs (about 20 s)")
    demo.add_argument("--quiet", action="store_true", help="no progress output, only the results")
    demo.add_argument("--out", default="spectranet-demo", help="folder for the plots and results.csv "
                      "(default: spectranet-demo/ in the current directory)")
    demo.set_defaults(func=cmd_demo)
    from .experiments import EXPERIMENTS

    exp = sub.add_parser(
        "experiment", help="reproduce a figure of the paper (fig4-fig7)", description=cmd_experiment.__doc__,
        epilog="; ".join(f"{k}: {v[1]}" for k, v in EXPERIMENTS.items())
        + ". fig5-fig7 need UCI sets in the Fernandez-Delgado format: <data-dir>/<name>/<name>_R.dat; "
        "fig5's CNN panels use <data-dir>/mnist and the CIFAR-10 JPEG zip (--datasets mnist,cifar10,digits).")
    exp.add_argument("name", choices=sorted(EXPERIMENTS))
    exp.add_argument("--out", required=True, help="output folder (plots, results.csv)")
    exp.add_argument("--data-dir", default=None, help="folder of the UCI sets (default $SPECTRANET_DATA); "
                     "not used by fig4")
    exp.add_argument("--datasets", default=None, help="comma-separated dataset folder names")
    exp.add_argument("--quick", action="store_true", help="reduced grids (about a minute)")
    exp.add_argument("--quiet", action="store_true", help="no progress output")
    exp.set_defaults(func=cmd_experiment)
    fit = sub.add_parser("fit", help="fit a CSV file")
    fit.add_argument("file")
    fit.add_argument("--target", type=int, default=-1, help="index of the target column")
    fit.add_argument("--task", choices=["regression", "classification"], default="regression")
    fit.add_argument("--loss", default=None)
    fit.add_argument("--beta", type=float, default=1e-2)
    fit.add_argument("--activation", default="relu")
    fit.add_argument("--solver", default="auto")
    fit.add_argument("--out", default=None, help="save the network to this .npz file")
    fit.set_defaults(func=cmd_fit)
    solvers = sub.add_parser("solvers", help="list the solvers")
    solvers.set_defaults(func=cmd_solvers)
    return parser


def main(argv=None) -> int:
    from .exceptions import SolverError

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError, ImportError) as exc:
        print(f"spectranet: error: {exc}", file=sys.stderr)
        return 2
    except SolverError as exc:  # a backend failed on a valid input: not a usage error
        print(f"spectranet: solver error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
