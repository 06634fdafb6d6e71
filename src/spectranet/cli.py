"""Command-line interface: ``spectranet demo | fit | solvers``.

The only module of the library that prints.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import numpy as np

__all__ = ["main"]


def _table(rows: list[dict], columns: list[str]) -> str:
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines.append("  ".join("-" * widths[c] for c in columns))
    lines += ["  ".join(str(r[c]).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)


def _fit_row(name, est, metric_name, metric):
    return {
        "task": name,
        "objective": f"{est.objective_:.8g}",
        "network objective": f"{est.network_objective_:.8g}",
        "certified gap": f"{est.gap_:.1e}",
        "m*": est.n_neurons_,
        "bound 2(d+1)C": 2 * (est.n_features_in_ + 1) * est.network_.n_outputs,
        "metric": f"{metric_name} {metric:.3f}",
        "time s": f"{est.fit_time_:.2f}",
    }


def cmd_demo(args) -> int:
    """A small end-to-end run on data that ships with the installed packages."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from . import ConvexPolyNetClassifier, ConvexPolyNetRegressor, PolyNetwork, certify

    rng = np.random.default_rng(0)
    rows = []
    # 1. a planted network: n = 200, d = 10, 5 neurons, noise 0.1
    X = rng.standard_normal((200, 10))
    U = rng.standard_normal((5, 10))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    teacher = PolyNetwork(U, rng.standard_normal(5), "relu")
    y = teacher.predict(X) + 0.1 * rng.standard_normal(200)
    if not args.quiet:
        print("fitting a planted relu-polynomial network (n=200, d=10) ...", flush=True)
    reg = ConvexPolyNetRegressor(activation="relu", beta=0.1).fit(X, y)
    rows.append(_fit_row("planted regression", reg, "train R2", reg.score(X, y)))
    # 2. breast cancer, 80/20 stratified split
    Xb, yb = load_breast_cancer(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(Xb, yb, test_size=0.2, stratify=yb, random_state=0)
    scaler = StandardScaler().fit(Xtr)
    if not args.quiet:
        print("fitting breast cancer (n=455, d=30, logistic loss) ...", flush=True)
    clf = ConvexPolyNetClassifier(activation="relu", beta=1.0).fit(scaler.transform(Xtr), ytr)
    rows.append(_fit_row("breast cancer", clf, "test acc", clf.score(scaler.transform(Xte), yte)))
    print()
    print(_table(rows, list(rows[0])))
    # 3. the certificate on a network not trained to optimality
    U = rng.standard_normal((reg.n_neurons_, 10))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    other = PolyNetwork(U, reg.network_.second_layer, "relu")
    cert = certify(other, X, y, loss="squared", beta=0.1)
    print(f"\ncertify(random network on the planted data): objective {cert.objective:.6g}, "
          f"lower bound {cert.lower_bound:.6g}, gap {cert.gap:.2f}, optimal: {cert.is_optimal}")
    cert = certify(reg.network_, X, y, loss="squared", beta=0.1)
    print(f"certify(the extracted network):               objective {cert.objective:.6g}, "
          f"lower bound {cert.lower_bound:.6g}, gap {cert.gap:.1e}, optimal: {cert.is_optimal}")
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
    demo = sub.add_parser("demo", help="end-to-end fits on bundled data")
    demo.add_argument("--quiet", action="store_true", help="only print the results")
    demo.set_defaults(func=cmd_demo)
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
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError) as exc:
        print(f"spectranet: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
