"""Native solver (first version) against CVXPY + Clarabel, smooth losses, planted data.

Each case runs in a subprocess with a time limit; prints the certified gap, m*, rounds and
the median wall time of --repeat runs for each solver, and the ratio native / clarabel.

    python benchmarks/bench_native.py [--repeat 3] [--limit 300] [--cases 100x10,1000x50]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = r"""
import json, sys, time, warnings
import numpy as np
warnings.simplefilter("ignore")
from spectranet import PolyNetwork, Problem, get_solver
n, d, loss, beta, solver = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), sys.argv[5]
rng = np.random.default_rng(0)
X = rng.standard_normal((n, d)) / np.sqrt(d)
U = rng.standard_normal((5, d)); U /= np.linalg.norm(U, axis=1, keepdims=True)
y = PolyNetwork(U, rng.standard_normal(5), "relu").predict(X) + 0.1 * rng.standard_normal(n)
if loss == "logistic":
    y = np.where(y > np.median(y), 1.0, -1.0)
t = time.perf_counter()
r = get_solver(solver).solve(Problem(X, y, "relu", loss, beta))
print(json.dumps({"time": time.perf_counter() - t, "gap": r.gap, "m": r.n_neurons, "it": r.iterations}))
"""


def run(args, n, d, loss, beta, solver):
    times, rec = [], None
    for _ in range(args.repeat):
        try:
            out = subprocess.run([sys.executable, "-c", CHILD, str(n), str(d), loss, str(beta), solver],
                                 capture_output=True, text=True, timeout=args.limit, check=True)
        except subprocess.TimeoutExpired:
            return None
        rec = json.loads(out.stdout.strip().splitlines()[-1])
        times.append(rec["time"])
    rec["time"] = statistics.median(times)
    return rec


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--limit", type=float, default=300.0, help="seconds per run")
    parser.add_argument("--cases", default="100x10,1000x50")
    args = parser.parse_args(argv)
    print(f"{'n x d':>9} {'loss':9s} {'beta':>6} | {'native gap':>10} {'m*':>3} {'rounds':>6} {'time s':>7} | "
          f"{'clarabel gap':>12} {'time s':>7} | {'ratio':>6}")
    for case in args.cases.split(","):
        n, d = (int(v) for v in case.split("x"))
        for loss in ("squared", "logistic"):
            for beta in (1e-3, 1.0):
                nat = run(args, n, d, loss, beta, "native")
                cla = run(args, n, d, loss, beta, "clarabel")
                fmt = lambda r, w: ("timeout".rjust(w), "") if r is None else (f"{r['gap']:>{w}.1e}", f"{r['time']:>7.2f}")
                ng, nt = fmt(nat, 10)
                cg, ct = fmt(cla, 12)
                ratio = f"{nat['time'] / cla['time']:>6.2f}" if nat and cla else "     -"
                m = f"{nat['m']:>3d} {nat['it']:>6d}" if nat else "  -      -"
                print(f"{case:>9} {loss:9s} {beta:>6g} | {ng} {m} {nt or '      -':>7} | {cg} {ct or '      -':>7} | {ratio}",
                      flush=True)


if __name__ == "__main__":
    main()
