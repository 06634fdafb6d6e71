"""Certified accuracy of the CVXPY route, per loss, on planted data and breast cancer.

For each case: the certified relative gap, |network objective - convex objective| / objective,
m* against the bound 2(d+1)C, the status, and the median wall time of --repeat fits.

    python benchmarks/bench_acceptance.py [--repeat 3] [--solver clarabel]
    python benchmarks/bench_acceptance.py --widths       # m* of native, columns from scratch, Clarabel

``--widths`` fits each case once with the native solver's defaults (lean, self-certifying), with
column generation from scratch and with Clarabel, and prints the three widths m* (the lean target:
the native network is never wider than the narrower of the other two) and the gap the native
network proves by itself.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

from spectranet import ConvergenceWarning, ConvexPolyNetClassifier, ConvexPolyNetRegressor, PolyNetwork
from spectranet.data.targets import encode_classes
from spectranet.estimators import classifier_loss


def planted(n=200, d=10, m=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    U = rng.standard_normal((m, d))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    y = PolyNetwork(U, rng.standard_normal(m), "relu").predict(X)
    return X, y + 0.1 * rng.standard_normal(n)


def cases():
    Xp, yp = planted()
    labels = (yp > np.median(yp)).astype(int)
    classes = np.digitize(yp, np.quantile(yp, [1 / 3, 2 / 3]))
    Xb, yb = load_breast_cancer(return_X_y=True)
    Xb = StandardScaler().fit_transform(Xb)
    for beta in (1e-2, 1.0):
        for loss in ("squared", "absolute", "huber"):
            yield "planted 200x10", ConvexPolyNetRegressor, loss, beta, Xp, yp
        for loss in ("logistic", "hinge", "squared"):
            yield "planted 200x10 (2 classes)", ConvexPolyNetClassifier, loss, beta, Xp, labels
        yield "planted 200x10 (3 classes)", ConvexPolyNetClassifier, "softmax", beta, Xp, classes
    for beta in (0.1, 1.0, 10.0):
        for loss in ("logistic", "hinge", "squared"):
            yield "breast cancer 569x30", ConvexPolyNetClassifier, loss, beta, Xb, yb
        for loss in ("squared", "absolute", "huber"):
            yield "breast cancer 569x30 (regression)", ConvexPolyNetRegressor, loss, beta, Xb, yb


def widths() -> None:
    """m* of the native solver, column generation from scratch and Clarabel on every case."""
    from spectranet import certify
    from spectranet.solvers.native import NativeSolver

    print(f"{'data':34s} {'loss':9s} {'beta':>6s} {'native':>6s} {'columns':>7s} {'clarabel':>8s} {'alone':>8s}")
    for name, cls, loss, beta, X, y in cases():
        fits = {}
        for label, solver in (("native", "native"), ("columns", NativeSolver(engine="columns")),
                              ("clarabel", "clarabel")):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                try:
                    fits[label] = cls(beta=beta, loss=loss, solver=solver).fit(X, y)
                except ValueError:  # the native engines take the smooth losses only
                    fits[label] = None
        m = {k: (f"{f.n_neurons_}" if f is not None else "-") for k, f in fits.items()}
        native = fits["native"]
        alone = "-"
        if native is not None:
            alone = f"{certify(native.network_, X, _encoded(native, y), loss, beta=beta, witness=False).gap:.1e}"
        print(f"{name:34s} {loss:9s} {beta:>6g} {m['native']:>6s} {m['columns']:>7s} {m['clarabel']:>8s} {alone:>8s}",
              flush=True)


def _encoded(est, y):
    """The targets as the estimator's loss sees them (the library's own encoding of classes)."""
    if not hasattr(est, "classes_"):
        return y
    n_classes = len(est.classes_)
    return encode_classes(np.searchsorted(est.classes_, y), n_classes, classifier_loss(est.loss, n_classes))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--solver", default="clarabel")
    parser.add_argument("--widths", action="store_true", help="m* of native, columns and Clarabel")
    args = parser.parse_args(argv)
    if args.widths:
        widths()
        return
    print(f"{'data':34s} {'loss':9s} {'beta':>6s} {'gap':>9s} {'|P-SDP|/SDP':>11s} {'m*':>4s} "
          f"{'bound':>5s} {'status':>10s} {'time s':>7s}")
    for name, cls, loss, beta, X, y in cases():
        times = []
        for _ in range(args.repeat):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                start = time.perf_counter()
                est = cls(beta=beta, loss=loss, solver=args.solver).fit(X, y)
                times.append(time.perf_counter() - start)
        C = est.network_.n_outputs
        rel = abs(est.network_objective_ - est.objective_) / abs(est.objective_)
        print(f"{name:34s} {loss:9s} {beta:>6g} {est.gap_:>9.1e} {rel:>11.1e} {est.n_neurons_:>4d} "
              f"{2 * (X.shape[1] + 1) * C:>5d} {est.status_:>10s} {statistics.median(times):>7.2f}",
              flush=True)


if __name__ == "__main__":
    main()
