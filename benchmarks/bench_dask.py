"""Native solver on Dask arrays vs in-memory numpy: wall time and peak client memory as n grows.

The data (d = 50 by default) are a planted two-layer network plus noise, generated chunk by chunk
on the Dask workers (``dask.array.random`` and ``map_blocks`` with seeds per chunk): the Dask runs
never hold ``X`` on the client. The numpy runs (only up to ``--numpy-max`` rows) compute the same
arrays into memory first. Each run is a fresh subprocess, so ``ru_maxrss`` is that run's own peak
(the client only: the workers are separate processes). Both solve the same problem: the squared
loss with beta = ``--beta-frac`` * beta_max, certified to a relative gap of 1e-6.

    python benchmarks/bench_dask.py                         # n = 1e5, 1e6, 1e7 on a LocalCluster
    python benchmarks/bench_dask.py --n 1e5 1e6             # what fits in a few minutes on 2 cores
    python benchmarks/bench_dask.py --scheduler tcp://host:8786 --n 1e7 --numpy-max 0

``--scheduler`` points the Dask runs at an existing ``distributed`` cluster (its workers need
numpy, dask and spectranet installed); by default each run starts a ``LocalCluster`` of
``--workers`` processes with ``--threads`` threads each, on this machine.

Passes of a Dask fit are counted three ways: ``passes``, the computations (every one goes through
``spectranet.data.daskdata._compute``: a scheduler round trip that returns reductions over the data);
``persist``, the ``n``-sized results kept on the workers (``spectranet.data.daskdata._persist``); and
``graphs``, every graph the scheduler received during the fit (a scheduler plugin: these two plus
the input validation of ``beta_max`` and ``Problem``).
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
import dask, dask.array as da
import spectranet.data.daskdata
from spectranet import beta_max, get_solver, Problem

args = json.loads(sys.argv[1])
n, d, chunk, seed = args["n"], args["d"], args["chunk"], args["seed"]


def planted_targets(X_block, U, alpha, noise, seed, block_id=None):
    # y = sum_j alpha_j relu-poly(x.u_j) + noise, seeded per chunk: the same y wherever it runs
    H = X_block @ U.T
    rng = np.random.default_rng([seed, block_id[0]])
    return ((0.09 * H + 0.5) * H + 0.47) @ alpha + noise * rng.standard_normal(X_block.shape[0])


def lazy_data():
    X = da.random.default_rng(seed).standard_normal((n, d), chunks=(chunk, d))
    rng = np.random.default_rng(seed + 1)
    U = rng.standard_normal((3, d))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    y = X.map_blocks(planted_targets, U, np.array([1.0, -0.7, 0.5]), 0.5, seed, drop_axis=1,
                     dtype=float)
    return X, y


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


computations, persists = [0], [0]
if args["mode"] == "dask":
    from distributed import Client, LocalCluster

    if args["scheduler"]:
        client = Client(args["scheduler"])
    else:
        cluster = LocalCluster(n_workers=args["workers"], threads_per_worker=args["threads"],
                               processes=True, host="127.0.0.1", dashboard_address=None)
        client = Client(cluster)
    from distributed.diagnostics.plugin import SchedulerPlugin

    class CountGraphs(SchedulerPlugin):
        # every graph the scheduler receives (computations, persists, the input validation)
        name = "spectranet-count-graphs"

        def __init__(self):
            self.count = 0

        def update_graph(self, scheduler, **kwargs):
            self.count += 1

    client.register_plugin(CountGraphs())

    def graphs():
        return client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.plugins[CountGraphs.name].count)

    X, y = lazy_data()
    t = time.perf_counter()
    X, y = client.persist([X, y])  # generated on the workers, kept in their memory
    from distributed import wait
    wait([X, y])
    t_data = time.perf_counter() - t
    # every computation of the solver (a scheduler round trip returning reductions) goes through
    # spectranet.data.daskdata._compute, every persist (n-sized results kept on the workers) through _persist
    compute, persist = spectranet.data.daskdata._compute, spectranet.data.daskdata._persist

    def counted_compute(a):
        computations[0] += 1
        return compute(a)

    def counted_persist(a):
        persists[0] += 1
        return persist(a)

    spectranet.data.daskdata._compute, spectranet.data.daskdata._persist = counted_compute, counted_persist
else:
    t = time.perf_counter()
    with dask.config.set(scheduler="threads"):
        X, y = dask.compute(*lazy_data())
    t_data = time.perf_counter() - t
before = peak_mb()
graphs_before = graphs() if args["mode"] == "dask" else 0
t = time.perf_counter()
beta = args["beta_frac"] * beta_max(X, y)
problem = Problem(X, y, "relu", "squared", beta)
result = get_solver("native", engine=args["engine"]).solve(problem, tol=1e-6)
elapsed = time.perf_counter() - t
graph_count = graphs() - graphs_before if args["mode"] == "dask" else 0
print(json.dumps({"time": elapsed, "data_time": t_data, "peak_before": before, "peak": peak_mb(),
                  "objective": result.network_objective, "gap": result.gap, "m": result.n_neurons,
                  "lower_bound": result.lower_bound, "rounds": result.iterations, "beta": beta,
                  "computations": computations[0], "persists": persists[0], "graphs": graph_count,
                  "engine": result.engine}))
"""


def run(mode: str, n: int, args) -> dict:
    chunk = args.chunk_rows or min(125_000, max(n // 4, 1))
    spec = {"mode": mode, "n": n, "d": args.d, "chunk": chunk, "seed": args.seed,
            "beta_frac": args.beta_frac, "scheduler": args.scheduler, "workers": args.workers,
            "threads": args.threads, "engine": args.engine}
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec)], capture_output=True,
                         text=True, timeout=args.timeout)
    if out.returncode != 0:
        tail = out.stderr.strip().splitlines()[-3:]
        return {"error": " | ".join(tail) or f"exit {out.returncode}"}
    rec = json.loads(out.stdout.strip().splitlines()[-1])
    rec["chunk"] = chunk
    return rec


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", nargs="+", type=float, default=[1e5, 1e6, 1e7])
    parser.add_argument("--d", type=int, default=50)
    parser.add_argument("--numpy-max", type=float, default=1e6, help="largest n run in memory")
    parser.add_argument("--beta-frac", type=float, default=0.05, help="beta as a fraction of beta_max")
    parser.add_argument("--chunk-rows", type=int, default=None, help="rows per chunk (default: n/4, at most 125000)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="threads per worker")
    parser.add_argument("--scheduler", default=None, help="address of an existing distributed scheduler")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    parser.add_argument("--engine", default="auto", help="engine of the native solver (default: its own choice)")
    args = parser.parse_args(argv)
    where = args.scheduler or f"LocalCluster({args.workers} workers x {args.threads} thread)"
    print(f"d={args.d}, beta={args.beta_frac} beta_max, squared loss, tol 1e-6; Dask on {where}")
    header = (f"{'n':>9} {'mode':>5} {'chunk':>7} {'fit s':>8} {'x prev':>7} {'peak MB':>8} "
              f"{'(before)':>9} {'m*':>3} {'gap':>8} {'passes':>7} {'persist':>7} {'graphs':>7} "
              f"{'objective':>16} engine")
    print(header)
    previous: dict[str, float] = {}
    objectives: dict[int, dict[str, float]] = {}
    for n in (int(v) for v in args.n):
        for mode in ("numpy", "dask"):
            if mode == "numpy" and n > args.numpy_max:
                print(f"{n:>9} {mode:>5}  (skipped: above --numpy-max)")
                continue
            rec = run(mode, n, args)
            if "error" in rec:
                print(f"{n:>9} {mode:>5}  failed: {rec['error']}")
                continue
            growth = f"{rec['time'] / previous[mode]:.1f}" if mode in previous else "-"
            previous[mode] = rec["time"]
            objectives.setdefault(n, {})[mode] = (rec["objective"], rec["lower_bound"])
            passes, persisted, graphs = ((rec["computations"], rec["persists"], rec["graphs"]) if mode == "dask"
                                         else ("-", "-", "-"))
            print(f"{n:>9} {mode:>5} {rec['chunk']:>7} {rec['time']:>8.1f} {growth:>7} {rec['peak']:>8.0f} "
                  f"{rec['peak_before']:>9.0f} {rec['m']:>3} {rec['gap']:>8.1e} {passes!s:>7} "
                  f"{persisted!s:>7} {graphs!s:>7} {rec['objective']:>16.10g} {rec['engine']}", flush=True)
    for n, obj in objectives.items():
        if len(obj) == 2:
            (f_np, lb_np), (f_dask, lb_dask) = obj["numpy"], obj["dask"]
            print(f"n={n}: relative difference numpy vs dask of the certified optima "
                  f"{abs(f_dask - f_np) / abs(f_np):.1e}, of the lower bounds {abs(lb_dask - lb_np) / abs(lb_np):.1e}")
    print("'x prev': fit time over that of the previous n in the same mode; 'passes': Dask "
          "computations of the fit (scheduler round trips returning reductions over the data); "
          "'persist': n-sized results kept on the workers (an asynchronous pass each); 'graphs': all "
          "graphs the scheduler received during the fit (these two and the input validation, "
          "beta_max's included); peak MB: the client process's peak resident memory after the fit, "
          "'(before)' before it (data generated).")


if __name__ == "__main__":
    main()
