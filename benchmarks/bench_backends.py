"""The same problems as numpy arrays and as torch tensors (float64 and float32): time, engine, m*,
certified gaps. The native solver should give torch data what it gives numpy data: the same engine
where the cost model allows it, a certified result in every cell, at a comparable time.

Each run is a fresh process (``--repeat`` of them per cell and backend, alternated; medians);
``--src`` runs another version's sources instead of this checkout's (before/after comparisons),
``--device cuda`` puts the tensors on a GPU.

    python benchmarks/bench_backends.py                                   # planted 1000 x 50, 5000 x 10
    python benchmarks/bench_backends.py --src /tmp/old/src --repeat 3     # another version
    python benchmarks/bench_backends.py --device cuda --sizes 1000x50     # tensors on a GPU
    python benchmarks/bench_backends.py --device cuda --data mnist --data-dir ../shared/data \
        --losses squared --rel 1e-5 --backends torch64 --repeat 1         # issue 13's GPU cell
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

BACKENDS = ("numpy", "torch64", "torch32")

CHILD = r"""
import json, sys, time, warnings
import numpy as np
warnings.simplefilter("ignore")
import torch
from spectranet import Problem, beta_max, load_mnist, make_planted
from spectranet.solvers.native import NativeSolver
spec = json.loads(sys.argv[1])
if spec["data"] == "mnist":  # MNIST 0/1 fully connected, pixels in [0, 1], labels -1/+1
    X, y = load_mnist(spec["data_dir"], digits=(0, 1))
    y = 2.0 * y - 1.0
else:
    X, y = make_planted(spec["n"], spec["d"], n_neurons=5, noise=0.1, random_state=0)
    X /= np.sqrt(spec["d"])
    if spec["loss"] == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
X = X.astype(np.float32).astype(np.float64)  # the same values for every backend
beta = spec["rel"] * beta_max(X, y, "relu", spec["loss"])
backend = spec["backend"]
if backend != "numpy":
    X = torch.as_tensor(X, dtype=torch.float64 if backend == "torch64" else torch.float32, device=spec["device"])
problem = Problem(X, y, "relu", spec["loss"], beta)
t = time.perf_counter()
r = NativeSolver().solve(problem, tol=spec["tol"], max_time=spec["limit"])
elapsed = time.perf_counter() - t
print(json.dumps({"time": elapsed, "engine": r.engine, "m": r.n_neurons, "gap": r.gap,
                  "own": r.certificate.own_gap, "status": r.status}))
"""


def once(spec, src):
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec)], capture_output=True, text=True,
                         env=env, timeout=spec["limit"] + 120)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"error": (out.stderr.strip().splitlines() or ["?"])[-1][:80]}
    return json.loads(lines[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="planted", choices=["planted", "mnist"])
    parser.add_argument("--data-dir", default="../shared/data", help="where MNIST is (--data mnist)")
    parser.add_argument("--sizes", default="1000x50,5000x10", help="planted n x d (--data planted)")
    parser.add_argument("--losses", default="squared,logistic")
    parser.add_argument("--rel", default="1e-2,1e-4,1e-6", help="beta / beta_max values")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--limit", type=float, default=120.0, help="max_time of each solve")
    parser.add_argument("--src", default="", help="another version's source folder (PYTHONPATH)")
    args = parser.parse_args(argv)
    src = str(Path(args.src).resolve()) if args.src else ""
    backends = args.backends.split(",")
    print(f"{'cell':<28} " + " | ".join(f"{b:>8} s engine    m     gap     own" for b in backends)
          + " | torch/numpy")
    for size in (args.sizes.split(",") if args.data == "planted" else ["12665x784"]):
        n, d = (int(v) for v in size.split("x"))
        for loss in args.losses.split(","):
            for rel in (float(v) for v in args.rel.split(",")):
                runs = {b: [] for b in backends}
                for _ in range(args.repeat):
                    for b in backends:
                        runs[b].append(once(dict(data=args.data, data_dir=str(Path(args.data_dir).resolve()), n=n, d=d,
                                                 loss=loss, rel=rel, backend=b, device=args.device, tol=args.tol,
                                                 limit=args.limit), src))
                cells, med = [], {}
                for b in backends:
                    ok = [r for r in runs[b] if "time" in r]
                    if not ok:
                        cells.append(f"{runs[b][0]['error']:>40}")
                        continue
                    med[b] = statistics.median(r["time"] for r in ok)
                    last = ok[-1]
                    cells.append(f"{med[b]:>10.2f} {last['engine']:>7} {last['m']:>4} {last['gap']:.1e} "
                                 f"{last['own']:.1e}")
                ratios = " ".join(f"{med[b] / med['numpy']:.2f}" for b in backends
                                  if b != "numpy" and b in med and "numpy" in med)
                print(f"{f'{n}x{d} {loss} {rel:g}':<28} " + " | ".join(cells) + f" | {ratios}", flush=True)


if __name__ == "__main__":
    main()
