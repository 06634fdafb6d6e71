"""Native solver against CVXPY + Clarabel and CVXPY + SCS: time to a certified gap, memory, ratio.

Every (instance, solver) pair runs in a fresh subprocess with a time limit; the child reports
its wall time (median of ``--repeat`` runs), the certified relative gap it reached, m*, and
its peak resident memory. A backend that cannot reach the target gap counts with its time to
its best gap (the gap column says what it reached); one that is refused (model too large) or
times out is shown as such. The last column is native time / best CVXPY time.

    python benchmarks/bench_solvers.py                       # planted instances
    python benchmarks/bench_solvers.py --groups uci,mnist,path --data-dir ../shared/data
    python benchmarks/bench_solvers.py --groups large        # n = 10^6, d = 50 (native only)
    python benchmarks/bench_solvers.py --groups planted,path --sizes 100x10,1000x50 \
        --solvers native,native-plain --against /tmp/ref/src --repeat 7   # this version vs another

Groups: ``planted`` (n, d) in {(100, 10), (1000, 50), (5000, 100)} x {squared, logistic} x
beta in {1e-3, 1}; ``uci`` every Fernandez-Delgado set in --data-dir (logistic, beta = 1);
``mnist`` MNIST 0/1 fully connected, d = 784, n = 12,665 (logistic, beta = 1e-3 beta_max,
target gap 1e-4); ``path`` 20 beta values on credit-approval, warm-started path vs cold
solves; ``large`` n = 10^6, d = 50 planted (squared, beta = 1e-2 beta_max, target 1e-4).
Solvers: any name of ``spectranet.get_solver``, and ``native-plain``, the native solver with the
lean reduction and the self-certifying polish off (``lean=False, self_certify=False``).

``--against SRC`` compares two versions on the same machine: SRC is another version's source
folder (a git worktree's ``src``), whose default native solver (``ref``) runs alternately with
each of ``--solvers`` of this one, one fresh process each, instance by instance and repetition
by repetition (the order rotates), so that drifts of the machine's speed fall on both sides. The
table shows the medians, each one's ratio to ``ref`` and the minor page faults of the timed
part (memory the allocator took afresh from the system: glibc's malloc gives freed memory back
and takes it again depending on the sizes the process freed earlier, so two versions computing
alike can differ in them; pin its thresholds in the environment, e.g. ``MALLOC_MMAP_THRESHOLD_=
33554432 MALLOC_TRIM_THRESHOLD_=67108864``, to compare without that); the path group likewise.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time, warnings
import numpy as np
warnings.simplefilter("ignore")
from spectranet import Problem, beta_max, get_solver, load_mnist, load_uci, make_planted
from spectranet.exceptions import ProblemTooLargeError, SolverError
from spectranet.solvers.native import NativeSolver
spec = json.loads(sys.argv[1])
solver = NativeSolver(lean=False, self_certify=False) if spec["solver"] == "native-plain" else spec["solver"]
solver = "native" if solver == "ref" else solver
kind = spec["kind"]
if kind == "planted":
    X, y = make_planted(spec["n"], spec["d"], n_neurons=5, noise=0.1, random_state=0)
    X /= np.sqrt(spec["d"])
    if spec["loss"] == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
elif kind == "uci":
    X, y = load_uci(spec["name"], spec["data_dir"], return_X_y=True)
    y = 2.0 * y - 1.0
elif kind == "mnist":
    X, y = load_mnist(spec["data_dir"], digits=(0, 1))
    y = 2.0 * y - 1.0
beta = spec["beta"]
if spec.get("relative"):
    beta *= beta_max(X, y, "relu", spec["loss"])
problem = Problem(X, y, "relu", spec["loss"], beta)
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
t = time.perf_counter()
try:
    r = get_solver(solver).solve(problem, tol=spec["tol"])
except ProblemTooLargeError as exc:
    print(json.dumps({"refused": str(exc).split(";")[0]}))
    sys.exit(0)
except SolverError as exc:
    print(json.dumps({"failed": str(exc)[:80]}))
    sys.exit(0)
elapsed = time.perf_counter() - t
print(json.dumps({"time": elapsed, "gap": r.gap, "m": r.n_neurons, "it": r.iterations,
                  "objective": r.network_objective, "beta": beta,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "data_mb": rss0 / 1024,
                  "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults}))
"""

PATH_CHILD = r"""
import json, resource, sys, time, warnings
import numpy as np
warnings.simplefilter("ignore")
from spectranet import Problem, beta_max, get_solver, load_uci, regularization_path
from spectranet.solvers.native import NativeSolver
spec = json.loads(sys.argv[1])
solver = NativeSolver(lean=False, self_certify=False) if spec["solver"] == "native-plain" else spec["solver"]
solver = "native" if solver == "ref" else solver
X, y = load_uci(spec["name"], spec["data_dir"], return_X_y=True)
y = 2.0 * y - 1.0
bmax = beta_max(X, y, "relu", "logistic")
betas = bmax * np.logspace(0, -3, 20)
# one untimed solve first: one-time costs (lazy imports, the BLAS thread controller: 33 ms) fall
# on neither side of the comparison
get_solver(solver).solve(Problem(X, y, "relu", "logistic", betas[10]), tol=spec["tol"])
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
t = time.perf_counter()
path = regularization_path(X, y, betas, "relu", "logistic", solver=solver, tol=spec["tol"])
t_path = time.perf_counter() - t
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
cold = []
for b in betas:
    t = time.perf_counter()
    get_solver(solver).solve(Problem(X, y, "relu", "logistic", b), tol=spec["tol"])
    cold.append(time.perf_counter() - t)
print(json.dumps({"time": t_path, "faults": faults, "cold_sum": sum(cold), "cold_median": float(np.median(cold)),
                  "cold_max": max(cold), "max_gap": float(np.max(path.gaps)),
                  "m_range": [int(path.n_neurons.min()), int(path.n_neurons.max())]}))
"""


def once(args, spec, child=CHILD):
    """One run of ``spec`` in a fresh subprocess (``ref``: on the sources of ``--against``)."""
    env = None
    if spec.get("solver") == "ref":
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [args.against, os.environ.get("PYTHONPATH")]))}
    try:
        out = subprocess.run([sys.executable, "-c", child, json.dumps(spec)], capture_output=True,
                             text=True, timeout=args.limit, check=True, env=env)
    except subprocess.TimeoutExpired:
        return {"timeout": args.limit}
    except subprocess.CalledProcessError as exc:
        return {"failed": exc.stderr.strip().splitlines()[-1][:80] if exc.stderr else "crash"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_record(records):
    """The last record with the median time of all, and the records (``runs``)."""
    best = dict(records[-1])
    best["time"] = statistics.median(r["time"] for r in records)
    best["runs"] = records
    return best


def run(args, spec, child=CHILD):
    """Median over ``--repeat`` runs (``--repeat-reference`` for the CVXPY backends) of one spec
    in fresh subprocesses."""
    records = []
    native = spec.get("solver") in ("native", "native-plain", "ref")
    repeat = args.repeat if native else (args.repeat_reference or args.repeat)
    for _ in range(repeat):
        rec = once(args, spec, child)
        if "time" not in rec:
            return rec
        records.append(rec)
    return median_record(records)


def alternate(args, spec, solvers, child=CHILD):
    """``{solver: median record}`` of ``--repeat`` rounds, each running every solver once, in an
    order that rotates from round to round."""
    records, failed = {s: [] for s in solvers}, {}
    for i in range(args.repeat):
        for s in solvers[i % len(solvers):] + solvers[:i % len(solvers)]:
            if s in failed:
                continue
            rec = once(args, {**spec, "solver": s}, child)
            if "time" in rec:
                records[s].append(rec)
            else:
                failed[s] = rec
    return {s: failed.get(s) or median_record(records[s]) for s in solvers}


def cell(rec):
    if "timeout" in rec:
        return f"{'> %ds' % rec['timeout']:>9} {'':>8} {'':>6}"
    if "refused" in rec:
        return f"{'refused':>9} {'':>8} {'':>6}"
    if "failed" in rec:
        return f"{'failed':>9} {'':>8} {'':>6}"
    return f"{rec['time']:>9.2f} {rec['gap']:>8.1e} {rec['peak_mb']:>6.0f}"


def table(args, specs):
    solvers = args.solvers.split(",")
    if args.against:
        return versus(args, specs, solvers)
    head = " | ".join(f"{s + ' s':>9} {'gap':>8} {'MB':>6}" for s in solvers)
    print(f"{'instance':34s} {'beta':>8} {'m*':>4} | {head} | {'ratio':>6}", flush=True)
    for label, spec in specs:
        recs = {s: run(args, {**spec, "solver": s}) for s in solvers}
        nat = recs.get("native", {})
        others = [r["time"] for s, r in recs.items() if not s.startswith("native") and "time" in r]
        ratio = f"{nat['time'] / min(others):>6.3f}" if "time" in nat and others else "     -"
        beta = next((r["beta"] for r in recs.values() if "beta" in r), spec["beta"])
        m = next((r["m"] for r in recs.values() if "m" in r), 0)
        print(f"{label:34s} {beta:>8.3g} {m:>4d} | " + " | ".join(cell(recs[s]) for s in solvers)
              + f" | {ratio}", flush=True)


def versus(args, specs, solvers):
    """The ``--against`` table: medians of alternated runs, each solver's ratio to ``ref``."""
    names = ["ref"] + solvers
    head = " | ".join(f"{s + ' s':>13} {'m*':>4} {'faults':>7}" + ("" if s == "ref" else f" {'ratio':>6}")
                      for s in names)
    print(f"{'instance':34s} {'beta':>8} | {head}", flush=True)
    for label, spec in specs:
        recs = alternate(args, spec, names)
        ref = recs["ref"].get("time")
        cells = []
        for s in names:
            rec = recs[s]
            if "time" not in rec:
                cells.append(f"{str(next(iter(rec)))[:13]:>13} {'':>4} {'':>7}" + ("" if s == "ref" else f" {'':>6}"))
                continue
            ratio = "" if s == "ref" else (f" {rec['time'] / ref:>6.2f}" if ref else f" {'-':>6}")
            faults = statistics.median(r.get("faults", 0) for r in rec["runs"])
            cells.append(f"{rec['time']:>13.3f} {rec['m']:>4d} {faults:>7.0f}{ratio}")
        print(f"{label:34s} {spec['beta']:>8.3g} | " + " | ".join(cells), flush=True)


def path_versus(args, solvers):
    """The path group with ``--against``: path times, alternated, and their ratios to ``ref``."""
    names = ["ref"] + solvers
    recs = alternate(args, dict(name="credit-approval", data_dir=args.data_dir, tol=1e-6), names, PATH_CHILD)
    ref = recs["ref"].get("time")
    for s in names:
        rec = recs[s]
        if "time" not in rec:
            print(f"{s:13s} {rec}")
            continue
        ratio = "" if s == "ref" or not ref else f"; ratio to ref {rec['time'] / ref:.2f}"
        times = ", ".join(f"{r['time']:.3f}" for r in rec["runs"])
        faults = statistics.median(r.get("faults", 0) for r in rec["runs"])
        print(f"{s:13s} path {rec['time']:.3f} s (median of {len(rec['runs'])}: {times}), "
              f"{faults:.0f} minor page faults{ratio}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", default="planted")
    parser.add_argument("--solvers", default="native,clarabel,scs")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--repeat-reference", type=int, default=None,
                        help="runs of the CVXPY backends (default: --repeat)")
    parser.add_argument("--limit", type=float, default=600.0, help="seconds per run")
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--sizes", default="100x10,1000x50,5000x100")
    parser.add_argument("--against", default=None, metavar="SRC",
                        help="another version's source folder: its native solver (ref) alternates with "
                             "--solvers, and the tables show ratios to it")
    args = parser.parse_args(argv)
    groups = args.groups.split(",")
    specs = []
    if "planted" in groups:
        for size in args.sizes.split(","):
            n, d = (int(v) for v in size.split("x"))
            for loss in ("squared", "logistic"):
                for beta in (1e-3, 1.0):
                    specs.append((f"planted {n}x{d} {loss}", dict(kind="planted", n=n, d=d, loss=loss,
                                                                beta=beta, tol=1e-6)))
    if "uci" in groups:
        from spectranet.datasets import list_uci

        for name in list_uci(args.data_dir):
            specs.append((f"{name} logistic", dict(kind="uci", name=name, data_dir=args.data_dir,
                                                   loss="logistic", beta=1.0, tol=1e-6)))
    if "mnist" in groups:
        specs.append(("MNIST 0/1 12665x784 logistic", dict(kind="mnist", data_dir=args.data_dir,
                                                            loss="logistic", beta=1e-3, relative=True,
                                                            tol=1e-4)))
    if "large" in groups:
        specs.append(("planted 1000000x50 squared", dict(kind="planted", n=10**6, d=50, loss="squared",
                                                          beta=1e-2, relative=True, tol=1e-4)))
    if specs:
        table(args, specs)
    if "path" in groups:
        print("\nregularization path, credit-approval, logistic, 20 betas from beta_max to 1e-3 beta_max")
        if args.against:
            return path_versus(args, args.solvers.split(","))
        for s in args.solvers.split(","):
            rec = run(args, dict(name="credit-approval", data_dir=args.data_dir, solver=s, tol=1e-6),
                      child=PATH_CHILD)
            if "time" not in rec:
                print(f"{s:9s} {rec}")
                continue
            # each ratio against the cold solves of the same process (the machine's speed drifts
            # between runs), then their median over the runs
            runs = rec["runs"]
            to_max = sorted(r["time"] / r["cold_max"] for r in runs)
            to_median = statistics.median(r["time"] / r["cold_median"] for r in runs)
            print(f"{s:9s} path {rec['time']:.2f} s (max gap {max(r['max_gap'] for r in runs):.1e}, "
                  f"m* {rec['m_range']}); cold: sum {statistics.median(r['cold_sum'] for r in runs):.2f} s, "
                  f"max {statistics.median(r['cold_max'] for r in runs):.2f} s (medians of {len(runs)} "
                  f"runs); path / max cold = {statistics.median(to_max):.2f} (runs: "
                  f"{', '.join(f'{x:.2f}' for x in to_max)}), path / median cold = {to_median:.2f}",
                  flush=True)


if __name__ == "__main__":
    main()
