"""Sample weights: the cost of a weighted fit against the unweighted one, and against the samples
repeated (integer weights), measured in the same run.

Each fit runs in a fresh process (medians of ``--repeat``), with ``solver="auto"`` and
``tol=1e-6``, on planted data (X Gaussian / sqrt(d), 5 neurons, noise 0.1; +-1 labels at the
median for the logistic loss) at ``--rel`` times beta_max of the problem fitted. Rows: the
unweighted fit, weights drawn uniformly from [0.5, 1.5], and integer weights from {0, 1, 2, 3}
against their repetition. The ratio column is the row's time over the unweighted one's.

    python benchmarks/bench_weights.py
    python benchmarks/bench_weights.py --sizes 100000x20,1000x50 --losses squared,logistic --rel 1e-4
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
from spectranet import Problem, beta_max, get_solver, make_planted
spec = json.loads(sys.argv[1])
n, d = spec["n"], spec["d"]
X, y = make_planted(n, d, n_neurons=5, noise=0.1, random_state=0)
X /= np.sqrt(d)
if spec["loss"] == "logistic":
    y = np.where(y > np.median(y), 1.0, -1.0)
rng = np.random.default_rng(1)
w = None
if spec["weights"] == "uniform":
    w = rng.uniform(0.5, 1.5, n)
elif spec["weights"] in ("integer", "repeated"):
    w = rng.integers(0, 4, n)
    if spec["weights"] == "repeated":
        X, y, w = X.repeat(w, axis=0), y.repeat(w), None
base = Problem(X, y, "relu", spec["loss"], 0.0, sample_weight=w)
problem = base.with_beta(spec["rel"] * beta_max(base))
t = time.perf_counter()
r = get_solver("auto", problem).solve(problem, tol=1e-6)
print(json.dumps({"time": time.perf_counter() - t, "gap": r.gap, "m": r.n_neurons, "engine": r.engine,
                  "objective": r.network_objective}))
"""

KINDS = ("none", "uniform", "integer", "repeated")


def run(spec: dict, limit: float) -> dict:
    try:
        out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec)], capture_output=True, text=True,
                             timeout=limit)
    except subprocess.TimeoutExpired:
        return {"timeout": limit}
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {"failed": out.stderr.strip().splitlines()[-1:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="20000x10,100000x20,1000x50")
    parser.add_argument("--losses", default="squared,logistic")
    parser.add_argument("--rel", type=float, default=1e-4, help="beta / beta_max")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--limit", type=float, default=600.0, help="seconds per fit")
    args = parser.parse_args()
    print(f"{'instance':32s} {'weights':9s} {'median s':>9s} {'ratio':>6s} {'gap':>8s} {'m*':>4s} engine")
    for size in args.sizes.split(","):
        n, d = (int(v) for v in size.split("x"))
        for loss in args.losses.split(","):
            times: dict[str, list] = {k: [] for k in KINDS}
            last: dict[str, dict] = {}
            for _ in range(args.repeat):  # the kinds alternate, so drifts of the machine fall on all
                for kind in KINDS:
                    res = run({"n": n, "d": d, "loss": loss, "rel": args.rel, "weights": kind}, args.limit)
                    last[kind] = res
                    if "time" in res:
                        times[kind].append(res["time"])
            ref = statistics.median(times["none"]) if times["none"] else float("nan")
            for kind in KINDS:
                res, name = last[kind], f"planted {n}x{d} {loss} {args.rel:g}"
                if not times[kind]:
                    print(f"{name:32s} {kind:9s} {str(res)[:60]}")
                    continue
                med = statistics.median(times[kind])
                print(f"{name:32s} {kind:9s} {med:9.2f} {med / ref:6.2f} {res['gap']:8.1e} {res['m']:4d} "
                      f"{res['engine']}")


if __name__ == "__main__":
    main()
