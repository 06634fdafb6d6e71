"""Command-line interface: ``spectranet demo | experiment | fit | solvers``.

The only module of the library that prints.
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import os
import sys
import tempfile
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
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {args.out}: a file of that name exists; give a folder for the plots and results.csv")
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

    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()] if args.datasets is not None else None
    if datasets == []:  # (",," ran the default full grid)
        raise ValueError(f"--datasets {args.datasets!r} names no dataset; give comma-separated folder names")
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


def _number(text: str) -> float | None:
    """The finite float a CSV field holds, NaN for a non-finite one, None when it is no number."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else math.nan


def _load_table(path: str, target: int):
    """``X, y`` of a CSV file of numbers (comma-separated, an optional header line of names, blank
    lines skipped); ``target`` is the index of the target column (negative: from the end). Raises
    ValueError naming the file, line and column of what is wrong."""
    rows, header, width, first = [], None, None, None
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            for fields in reader:
                if not fields or all(not f.strip() for f in fields):
                    continue
                values = [_number(f) for f in fields]
                if first is None:
                    width, first = len(fields), reader.line_num
                    if all(v is None for v in values):  # a header line of names
                        header = [f.strip() for f in fields]
                        continue
                if len(fields) != width:
                    raise ValueError(f"{path}: line {reader.line_num} has {len(fields)} fields, line {first} "
                                     f"has {width}")
                for column, (text, value) in enumerate(zip(fields, values), start=1):
                    if value is None or math.isnan(value):
                        where = f"{path}: line {reader.line_num}, column {column}"
                        where += f" ({header[column - 1]!r})" if header else ""
                        if not text.strip():
                            raise ValueError(f"{where} is empty")
                        header_like = value is None and reader.line_num == first
                        hint = " (a header line holds only names)" if header_like else ""
                        raise ValueError(f"{where}: {text.strip()!r} is not a finite number{hint}")
                rows.append(np.array(values))
    except csv.Error as exc:
        raise ValueError(f"{path}: not a readable CSV file: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    if len(rows) < 2:
        raise ValueError(f"{path}: needs at least 2 rows of numbers (samples), got {len(rows)}")
    if width < 2:
        raise ValueError(f"{path}: needs at least 2 columns (features and a target), got {width}")
    if not -width <= target < width:
        raise ValueError(f"--target {target} is out of range for the {width} columns of {path} (use 0 to "
                         f"{width - 1}, or -{width} to -1 from the end)")
    data = np.array(rows)
    target %= width
    return np.delete(data, target, axis=1), data[:, target]


def _check_fit_options(args) -> None:
    """Refuse bad option values before reading the data (one line each)."""
    from .activations import as_activation
    from .losses import get_loss

    if not (math.isfinite(args.beta) and args.beta > 0):
        raise ValueError(f"--beta must be a finite number > 0, got {args.beta!r}")
    if args.max_time is not None and not (math.isfinite(args.max_time) and args.max_time > 0):
        raise ValueError(f"--max-time must be a finite number of seconds > 0, got {args.max_time!r}")
    try:
        as_activation(args.activation)
    except (TypeError, ValueError) as exc:  # (a tuple or a PolyActivation: not on a command line)
        raise ValueError(f"--activation: {str(exc).split(', or pass')[0]}") from None
    if args.loss is not None:
        try:
            get_loss(args.loss)
        except ValueError as exc:
            raise ValueError(f"--loss: {exc}") from None
    if args.out:
        from .network import _npz_path

        folder = os.path.dirname(os.path.abspath(args.out))
        if not os.path.isdir(folder):
            raise ValueError(f"--out {args.out}: no such folder {folder}")
        try:  # a file can be written there (before the fit, not after it)
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as exc:
            raise ValueError(f"--out {args.out}: cannot write in the folder {folder} ({exc.strerror})") from None
        try:  # (before the fit: a folder is refused)
            _npz_path(args.out)
        except ValueError as exc:
            raise ValueError(f"--out: {exc}") from None


def cmd_fit(args) -> int:
    """Fit a CSV file (numeric columns, optional header) and save the network."""
    from . import ConvexPolyNetClassifier, ConvexPolyNetRegressor
    from .network import _npz_path

    _check_fit_options(args)
    X, y = _load_table(args.file, args.target)
    cls = ConvexPolyNetClassifier if args.task == "classification" else ConvexPolyNetRegressor
    loss = args.loss or ("logistic" if args.task == "classification" else "squared")
    params = dict(activation=args.activation, beta=args.beta, loss=loss, solver=args.solver)
    if args.max_time is not None and "max_time" in cls().get_params():
        params["max_time"] = args.max_time
    start = time.perf_counter()
    est = cls(**params).fit(X, y)
    row = _fit_row(args.task, est, "train score", est.score(X, y))
    row["time s"] = f"{time.perf_counter() - start:.2f}"
    print(_table([row], list(row)))
    if args.out:
        path = _npz_path(args.out)
        est.network_.save(path)
        print(f"network saved to {path}")
    return 0


def cmd_solvers(args) -> int:
    from .solvers import AUTO_ORDER, SOLVERS, available_solvers

    installed = set(available_solvers())
    for name in SOLVERS:
        state = "available" if name in installed else f"not installed ({SOLVERS[name].install_hint})"
        print(f"{name:10s} {state}")
    print(f"auto order: {', '.join(AUTO_ORDER)}")
    return 0


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that reports a usage error on one line (and exits with status 2, as argparse
    does)."""

    def error(self, message):
        self.exit(2, f"spectranet: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="spectranet", description=__doc__.splitlines()[0])
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
    fit = sub.add_parser("fit", help="fit a CSV file", description=cmd_fit.__doc__)
    fit.add_argument("file", help="CSV file of numbers, comma-separated, with an optional header line")
    fit.add_argument("--target", type=int, default=-1, help="index of the target column (0-based; "
                     "negative from the end; default -1: the last)")
    fit.add_argument("--task", choices=["regression", "classification"], default="regression")
    fit.add_argument("--loss", default=None, help="default: squared (regression), logistic (classification)")
    fit.add_argument("--beta", type=float, default=1e-2, help="regularization weight > 0 (default 0.01)")
    fit.add_argument("--activation", default="relu", help="relu, swish or square (default relu)")
    fit.add_argument("--solver", default="auto")
    fit.add_argument("--max-time", type=float, default=None, metavar="SECONDS",
                     help="stop the fit after about this many seconds (> 0) with the best network certified")
    fit.add_argument("--out", default=None, help="save the network to this file (.npz is added unless the name "
                     "ends with .npz)")
    fit.set_defaults(func=cmd_fit)
    solvers = sub.add_parser("solvers", help="list the solvers")
    solvers.set_defaults(func=cmd_solvers)
    return parser


def _error(exc) -> int:
    """Report a user error on one line of stderr: rc 2."""
    print("spectranet: error: " + " ".join(str(exc).split()), file=sys.stderr)
    return 2


def main(argv=None) -> int:
    from .exceptions import SolverError

    args = build_parser().parse_args(argv)  # a usage error exits with status 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError, ImportError) as exc:
        return _error(exc)
    except SolverError as exc:  # a backend failed on a valid input: not a usage error
        print(f"spectranet: solver error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
