"""Calibrate and check the CVXPY model memory estimate (spectranet.solvers.cvxpy_backend).

Each case runs in a fresh subprocess; its peak resident memory (ru_maxrss) is compared
with ``estimate_model_bytes``. Prints one row per case and the ratio measured / estimated
(the estimate should stay above the measurement: ratio < 1).

    python benchmarks/bench_cvxpy_memory.py [--solver clarabel] [--cases 500x20,1000x30]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time, warnings
import numpy as np
warnings.simplefilter("ignore")
from spectranet.problem import Problem
from spectranet.solvers import get_solver
n, d, solver = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = np.random.default_rng(0)
X = rng.standard_normal((n, d)) / np.sqrt(d)
y = (X ** 2).sum(axis=1) - X[:, 0] + 0.1 * rng.standard_normal(n)
problem = Problem(X, y, "relu", "squared", 1e-2)
t = time.perf_counter()
result = get_solver(solver, memory_limit=float("inf")).solve(problem)
print(json.dumps({"peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "time": time.perf_counter() - t, "gap": result.gap}))
"""


def main(argv=None):
    from spectranet.solvers.cvxpy_backend import estimate_model_bytes

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--solver", default="clarabel")
    parser.add_argument("--cases", default="200x10,500x20,1000x20,1000x30,2000x30,1000x45")
    args = parser.parse_args(argv)
    print(f"{'n':>6} {'d':>4} {'lifted MB':>10} {'peak MB':>9} {'estimate MB':>12} {'ratio':>6} {'time s':>7} "
          f"{'gap':>9}")
    for case in args.cases.split(","):
        n, d = (int(v) for v in case.split("x"))
        out = subprocess.run([sys.executable, "-c", CHILD, str(n), str(d), args.solver],
                             capture_output=True, text=True, check=True)
        rec = json.loads(out.stdout.strip().splitlines()[-1])
        p = d * (d + 1) // 2 + d + 1
        est = estimate_model_bytes(n, d)
        print(f"{n:>6} {d:>4} {8 * n * p / 1e6:>10.1f} {rec['peak'] / 1e6:>9.0f} {est / 1e6:>12.0f} "
              f"{rec['peak'] / est:>6.2f} {rec['time']:>7.2f} {rec['gap']:>9.1e}")


if __name__ == "__main__":
    main()
