"""The regime grid: every engine on every (data, loss, beta/beta_max) cell, and the one "auto" picks.

Each cell runs the native solver's ``"auto"`` first, then ``"plain"`` (``"auto"`` with
``lean=False, self_certify=False``: the cost of the narrow, self-certifying result, and the width
without it), then each engine forced (``ipm``, ``lifted``, ``lowrank``, ``columns``) and the CVXPY
backends (``clarabel``, ``scs``, where their model fits), each in a fresh subprocess whose solve is
capped at ``--cap`` times the fastest time seen so far in the cell (the losers only need to be
shown slower; the process gets the cell's setup time on top). Per run: wall time of the solve, m*,
the certified gap from the solver's dual point and from the network alone (its own gradient),
peak resident memory, the engine.
Results go to a resumable cache (one JSON line per run): rerunning skips what is there.

    python benchmarks/bench_regimes.py --data-dir ../shared/data                     # the whole grid
    python benchmarks/bench_regimes.py --cells planted100k:squared --data-dir ../shared/data
    python benchmarks/bench_regimes.py --table                                       # print the cache
    python benchmarks/bench_regimes.py --path planted100k:squared --repeat 3         # path vs cold solves

``--cells`` takes comma-separated filters ``data[:loss[:rel]]`` (``rel`` as ``1e-5``; one below the
grid, such as ``1e-9``, runs where a filter names it); data names:
planted1k (1000 x 50), planted100k (100,000 x 20), planted1m (10^6 x 20, only when named), credit,
spambase, mnist (fully connected), mnist_cnn5 (GAP CNN 5x5), cifar_cnn3 (GAP CNN 3x3, all 10,000
images), digits (scikit-learn's 8x8 digits, 1797 x 64, 10 classes, softmax loss; only when named),
diabetes (scikit-learn's, 442 x 10, standardized, absolute and squared losses; only when named),
planted300 (300 x 20, only when named), digits38 (scikit-learn's digits 3 vs 8, 357 images of
8x8, a CNN of 3x3 filters without pooling: 36 patch pairs; only when named), planted1k10
(1000 x 10, 3 planted neurons, hinge and absolute losses; only when named). The polyhedral cells'
"auto" is ``solver="auto"`` (the native interior point, then Clarabel).
The whole grid is not meant to run in one sitting.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

DATASETS = ("planted1k", "planted100k", "credit", "spambase", "mnist", "mnist_cnn5", "cifar_cnn3")
#: run only when --cells names them: planted1m (10^6 x 20, the in-memory scale target)
EXTRA = ("planted1m", "digits", "diabetes", "planted1k10", "planted300", "digits38")
LOSSES = ("squared", "logistic")
#: the losses of a data set, where not LOSSES: scikit-learn's 8x8 digits (1797 x 64, 10 classes)
LOSSES_OF = {"digits": ("softmax",), "diabetes": ("absolute", "squared"), "planted1k10": ("hinge", "absolute")}
RELATIVE = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6)
SOLVERS = ("auto", "plain", "ipm", "lifted", "lowrank", "columns", "clarabel", "scs")
#: "plain" is the native solver's "auto" with the lean reduction and the self-certifying polish
#: switched off (their cost, measured in the same run; for the polyhedral cells, whose "auto" is
#: the native interior point with Clarabel as its fallback, the native solver refuses "plain");
#: it is not an engine, so it is left out of "the fastest"
NOT_ENGINES = ("plain",)

CHILD = r"""
import json, os, resource, sys, time, warnings
import numpy as np
warnings.simplefilter("ignore")
spec = json.loads(sys.argv[1])
from spectranet import Conv2D, Problem, beta_max, get_solver, load_cifar_jpeg_zip, load_mnist, load_uci, make_planted
from spectranet.certificate import certify_problem
from spectranet.exceptions import ProblemTooLargeError, SolverError
from spectranet.solvers.native import NativeSolver

cache = spec["cache_dir"]
os.makedirs(cache, exist_ok=True)

def load(name, loss):
    arch = None
    if name == "planted1k10":  # the polyhedral losses' planted cells
        X, y = make_planted(1000, 10, n_neurons=3, noise=0.1, random_state=1010)
        return X, (np.where(y > np.median(y), 1.0, -1.0) if loss == "hinge" else y), arch
    if name.startswith("planted"):
        n, d = {"planted1k": (1000, 50), "planted100k": (100000, 20), "planted1m": (1000000, 20),
                "planted300": (300, 20)}[name]
        X, y = make_planted(n, d, n_neurons=5, noise=0.1, random_state=0)
        X /= np.sqrt(d)
        if loss == "logistic":
            y = np.where(y > np.median(y), 1.0, -1.0)
        return X, y, arch
    if name == "diabetes":  # scikit-learn's bundled diabetes regression, standardized
        from sklearn.datasets import load_diabetes

        X, y = load_diabetes(return_X_y=True)
        return (X - X.mean(axis=0)) / X.std(axis=0), (y - y.mean()) / y.std(), arch
    if name == "digits38":  # digits 3 vs 8, 3x3 filters, one second-layer weight per patch (36 pairs)
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        keep = (y == 3) | (y == 8)
        return X[keep] / 16.0, np.where(y[keep] == 8, 1.0, -1.0), Conv2D((1, 8, 8), 3, pool=None)
    if name == "digits":  # scikit-learn's bundled 8x8 digits, 10 classes (one-hot)
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        return X / 16.0, np.eye(10)[y], arch
    if name in ("credit", "spambase"):
        folder = {"credit": "credit-approval", "spambase": "spambase"}[name]
        X, y = load_uci(folder, spec["data_dir"], return_X_y=True)  # z-scored in the files
        return X, 2.0 * y - 1.0, arch
    path = os.path.join(cache, name + ".npz")
    if not os.path.exists(path):  # decoded once (the JPEGs take a while), outside the repository
        if name.startswith("mnist"):
            X, y = load_mnist(spec["data_dir"], digits=(0, 1))
        else:
            X, y = load_cifar_jpeg_zip(data_home=spec["data_dir"], split="train")
        np.savez(path, X=X, y=y)
    with np.load(path) as f:
        X, y = f["X"], f["y"]
    if name == "mnist_cnn5":
        arch = Conv2D((1, 28, 28), 5, pool="global")
    elif name == "cifar_cnn3":
        arch = Conv2D((3, 32, 32), 3, pool="global")
    return X, 2.0 * y - 1.0, arch

X, y, arch = load(spec["data"], spec["loss"])
base = Problem(X, y, "relu", spec["loss"], 0.0, architecture=arch)
bmax = beta_max(base)
problem = base.with_beta(spec["rel"] * bmax)
name = spec["solver"]
if name == "plain":
    solver = NativeSolver(lean=False, self_certify=False)
elif name in ("ipm", "lifted", "lowrank", "columns"):
    solver = NativeSolver(engine=name)
else:
    solver = get_solver(name, problem) if name == "auto" else get_solver(name)
if not solver.supports(problem):
    print(json.dumps({"unsupported": True}))
    sys.exit(0)
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
try:
    r = solver.solve(problem, tol=spec["tol"])
except ProblemTooLargeError as exc:
    print(json.dumps({"refused": str(exc).split(";")[0][:120]}))
    sys.exit(0)
except (SolverError, ValueError) as exc:
    print(json.dumps({"failed": str(exc)[:120]}))
    sys.exit(0)
elapsed = time.perf_counter() - t
alone = certify_problem(problem, r.network, tol=spec["tol"])  # the network's own gradient only
print(json.dumps({"time": elapsed, "gap": r.gap, "gap_alone": alone.gap, "m": r.n_neurons,
                  "bound": 2 * (problem.n_features + 1) * problem.n_pairs, "engine": r.engine,
                  "objective": r.network_objective, "lower_bound": r.lower_bound, "beta": problem.beta,
                  "beta_max": bmax, "status": r.status,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "data_mb": rss0 / 1024}))
"""


PATH_CHILD = CHILD.split("X, y, arch = load(")[0] + r"""
from spectranet import regularization_path
X, y, arch = load(spec["data"], spec["loss"])
base = Problem(X, y, "relu", spec["loss"], 0.0, architecture=arch)
bmax = beta_max(base)
betas = bmax * np.logspace(0, np.log10(spec["rel"]), 20)
get_solver("native").solve(base.with_beta(betas[10]), tol=spec["tol"])  # one-time costs, untimed
t = time.perf_counter()
path = regularization_path(X, y, betas, "relu", spec["loss"], tol=spec["tol"], architecture=arch)
t_path = time.perf_counter() - t
cold = []
for b in betas:
    t = time.perf_counter()
    get_solver("native").solve(Problem(X, y, "relu", spec["loss"], b, architecture=arch), tol=spec["tol"])
    cold.append(time.perf_counter() - t)
print(json.dumps({"time": t_path, "cold_max": max(cold), "cold_sum": sum(cold), "max_gap": float(np.max(path.gaps)),
                  "m_range": [int(path.n_neurons.min()), int(path.n_neurons.max())]}))
"""


def run_path(args) -> None:
    """The path of 20 beta from beta_max to ``rel`` beta_max against the slowest cold solve of the
    same process: each run's ratio, their median."""
    data, loss, *rest = args.path.split(":")
    spec = {"data": data, "loss": loss, "rel": float(rest[0]) if rest else 1e-5, "tol": args.tol,
            "data_dir": args.data_dir, "cache_dir": args.data_cache}
    ratios = []
    for _ in range(args.repeat):
        rec = _run(spec, args.limit, PATH_CHILD)
        if "time" not in rec:
            print(rec)
            return
        ratios.append(rec["time"] / rec["cold_max"])
        print(f"path {rec['time']:.2f}s, slowest cold solve {rec['cold_max']:.2f}s (all cold {rec['cold_sum']:.2f}s): "
              f"ratio {ratios[-1]:.2f}; max gap {rec['max_gap']:.1e}, m* {rec['m_range']}", flush=True)
    print(f"median ratio {statistics.median(ratios):.2f} over {len(ratios)} runs")


def _key(spec) -> str:
    return f"{spec['data']}:{spec['loss']}:{spec['rel']:g}:{spec['solver']}"


def _load_cache(path: Path) -> dict:
    out = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                out[rec["key"]] = rec
    return out


def _run(spec, limit: float, child: str = CHILD, overhead: float = 0.0) -> dict:
    """One run in a fresh process, stopped after ``limit`` seconds of solving: the process gets
    ``overhead`` more (loading the data, building the problem, beta_max and the certificate after
    the solve: seconds on the CNN cells). ``wall``: the process's whole time."""
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-c", child, json.dumps(spec)], capture_output=True, text=True,
                              timeout=limit + overhead, check=True)
    except subprocess.TimeoutExpired:
        return {"timeout": limit}
    except subprocess.CalledProcessError as exc:
        return {"failed": (exc.stderr.strip().splitlines() or ["crash"])[-1][:120]}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]), wall=time.perf_counter() - start)


def _cells(args):
    filters = [f.split(":") for f in args.cells.split(",")] if args.cells else [[]]
    named = {f[0] for f in filters if f}
    below = tuple(sorted({float(f[2]) for f in filters if len(f) > 2} - set(RELATIVE), reverse=True))
    for data in DATASETS + tuple(e for e in EXTRA if e in named):
        for loss in LOSSES_OF.get(data, LOSSES):
            for rel in RELATIVE + below:  # (a beta/beta_max off the grid runs where a filter names it)
                for f in filters:
                    if ((not f or f[0] == data) and (len(f) < 2 or f[1] == loss)
                            and (float(f[2]) == rel if len(f) > 2 else rel in RELATIVE)):
                        yield data, loss, rel
                        break


def run_grid(args) -> None:
    cache_path = Path(args.cache)
    cache = _load_cache(cache_path)
    solvers = args.solvers.split(",")
    for data, loss, rel in _cells(args):
        best, overhead = None, 0.0  # the cell's setup time, beyond the solve (seen in its runs)
        for name in solvers:
            spec = {"data": data, "loss": loss, "rel": rel, "solver": name, "tol": args.tol,
                    "data_dir": args.data_dir, "cache_dir": args.data_cache}
            key = _key(spec)
            if key in cache and not args.force:
                rec = cache[key]
            else:
                limit = args.limit if best is None else max(args.cap * best, args.min_limit)
                runs = []
                for _ in range(args.repeat if name in ("auto", "plain") else 1):
                    rec = _run(spec, min(limit, args.limit), overhead=1.5 * overhead)
                    if "time" not in rec:
                        break
                    runs.append(rec)
                if runs:
                    rec = dict(runs[-1], time=statistics.median(r["time"] for r in runs),
                               times=[r["time"] for r in runs])
                rec["key"] = key
                with cache_path.open("a") as fh:
                    fh.write(json.dumps(rec) + "\n")
                cache[key] = rec
            if "wall" in rec and "time" in rec:
                overhead = max(overhead, rec["wall"] - rec["time"])
            if "time" in rec and rec.get("status") == "optimal" and name not in NOT_ENGINES:
                best = rec["time"] if best is None else min(best, rec["time"])
            print(_line(key, rec), flush=True)


def _line(key, rec) -> str:
    if "time" not in rec:
        what = ("unsupported" if rec.get("unsupported") else f"> {rec['timeout']:.0f}s" if "timeout" in rec
                else "refused" if "refused" in rec else f"failed: {rec.get('failed', '?')[:50]}")
        return f"{key:40s} {what}"
    return (f"{key:40s} {rec['time']:8.2f}s gap {rec['gap']:.1e} alone {rec['gap_alone']:.1e} m* {rec['m']:4d}"
            f"/{rec['bound']:<5d} {rec['engine']:9s} {rec['peak_mb']:7.0f} MB {rec['status']}")


def table(args) -> str:
    """A markdown table, one row per cell: each solver's time and auto's choice and ratio."""
    cache = _load_cache(Path(args.cache))
    solvers = args.solvers.split(",")
    widths = [s for s in ("plain", "columns", "clarabel") if s in solvers]
    head = ("| data | loss | β/β_max | " + " | ".join(solvers) + " | auto picked | auto / fastest | "
            + ("auto / plain | " if "plain" in solvers else "") + "m* (auto) | "
            + "".join(f"m* ({s}) | " for s in widths) + "gap (dual) | gap (network alone) | MB (auto) |")
    rows = [head, "|" + " --- |" * (head.count("|") - 1)]
    for data, loss, rel in _cells(args):
        recs = {s: cache.get(f"{data}:{loss}:{rel:g}:{s}") for s in solvers}
        if not any(recs.values()):
            continue
        cells, times = [], {}
        for s in solvers:
            rec = recs[s]
            if rec is None:
                cells.append("")
            elif "time" in rec:
                ok = rec.get("status") == "optimal"
                cells.append(f"{rec['time']:.2f}" + ("" if ok else f" ({rec['gap']:.0e})"))
                if ok and s not in NOT_ENGINES:
                    times[s] = rec["time"]
            else:
                cells.append("–" if rec.get("unsupported") else f">{rec['timeout']:.0f}" if "timeout" in rec
                             else "too large" if "refused" in rec else "failed")
        auto = recs.get("auto") or {}
        ratio = ""
        if "auto" in times and times:
            fastest = min(times.values())
            ratio = f"{times['auto'] / fastest:.2f}"
        gap = f"{auto['gap']:.1e}" if "gap" in auto else ""
        alone = f"{auto['gap_alone']:.1e}" if "gap_alone" in auto else ""
        plain = recs.get("plain") or {}
        cost = (f"{auto['time'] / plain['time']:.2f} | " if "time" in auto and "time" in plain else " | "
                ) if "plain" in solvers else ""
        m_others = "".join(f"{recs[s]['m']} | " if recs.get(s) and "m" in recs[s] else " | " for s in widths)
        rows.append(f"| {data} | {loss} | {rel:g} | " + " | ".join(cells)
                    + f" | {auto.get('engine', '')} | {ratio} | {cost}{auto.get('m', '')} | {m_others}"
                    + f"{gap} | {alone} | "
                    + (f"{auto['peak_mb']:.0f}" if "peak_mb" in auto else "") + " |")
    return "\n".join(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--data-cache", default=str(Path.home() / ".cache" / "spectranet-bench"),
                        help="decoded image sets (outside the repository)")
    parser.add_argument("--cache", default="benchmarks/regimes.jsonl", help="the resumable results")
    parser.add_argument("--cells", default="", help="filters data[:loss[:rel]], comma-separated")
    parser.add_argument("--solvers", default=",".join(SOLVERS))
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--repeat", type=int, default=1, help="runs of 'auto' and 'plain' per cell (median)")
    parser.add_argument("--cap", type=float, default=1.5, help="losers stop at cap x the fastest")
    parser.add_argument("--min-limit", type=float, default=5.0)
    parser.add_argument("--limit", type=float, default=900.0, help="seconds per run at most")
    parser.add_argument("--force", action="store_true", help="rerun cells already in the cache")
    parser.add_argument("--table", action="store_true", help="print the cached results as a table")
    parser.add_argument("--path", default="", help="data:loss[:rel]: a warm-started path of 20 beta vs cold solves")
    args = parser.parse_args()
    if args.path:
        run_path(args)
    elif args.table:
        print(table(args))
    else:
        run_grid(args)


if __name__ == "__main__":
    main()
