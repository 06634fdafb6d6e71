"""A randomized check of what a default fit claims, against an independent certificate and Clarabel.

Random planted problems (n from 40 to 300, d from 3 to 30, squared and logistic loss,
beta/beta_max from 1 to 1e-5) are fitted by the native solver with its defaults. Each network is
certified anew from itself alone (no witness: its own gradient as the dual point), and, where
n d <= 3000, the same problem is solved by Clarabel through spectranet. Counted: networks that do
not prove their optimality to 1e-6 by themselves, networks wider than Clarabel's (when Clarabel
certifies), ``objective_`` above the network's objective, and native networks worse than
Clarabel's by more than 2e-6 relative. One JSON line per fit, then the summary.

    python benchmarks/bench_campaign.py --fits 80 --seed 7
    python benchmarks/bench_campaign.py --fits 120 --seed 11

``--polyhedral``: the hinge and absolute losses instead, fitted by ``solver="auto"`` (the native
interior point, Clarabel when that does not certify) and by Clarabel alone; counted: fits either
leaves uncertified to 1e-6, and the time ratio.

    python benchmarks/bench_campaign.py --polyhedral --fits 60 --seed 7
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

import numpy as np

from spectranet import ConvergenceWarning, Problem, beta_max, certify, get_solver, make_planted
from spectranet.solvers.native import NativeSolver


def random_problem(rng, k: int, losses=("squared", "logistic")):
    """The k-th random planted problem: ``(X, y, problem, row)``, ``row`` its description."""
    n, d = int(rng.integers(40, 300)), int(rng.integers(3, 31))
    loss = losses[k % 2]
    rel = float(10.0 ** -rng.integers(0, 6))
    X, y = make_planted(n, d, n_neurons=int(rng.integers(1, 6)), noise=0.1, random_state=int(rng.integers(1e6)))
    X /= np.sqrt(d)
    if loss in ("logistic", "hinge"):
        y = np.where(y > np.median(y), 1.0, -1.0)
    problem = Problem(X, y, "relu", loss, 0.0)
    problem = problem.with_beta(rel * beta_max(problem))
    return X, y, problem, dict(n=n, d=d, loss=loss, rel=rel)


def fit(rng, k: int, clarabel: bool) -> dict:
    """The k-th random fit: its claims and the independent checks."""
    X, y, problem, row = random_problem(rng, k)
    n, d, loss = row["n"], row["d"], row["loss"]
    start = time.perf_counter()
    result = NativeSolver().solve(problem, tol=1e-6)
    row.update(time=time.perf_counter() - start, gap=result.gap,
               own=certify(result.network.with_witness(None), X, y, loss=loss, beta=problem.beta, witness=False).gap,
               m=result.n_neurons, objective=result.objective, network_objective=result.network_objective,
               engine=result.engine)
    if clarabel and n * d <= 3000:
        other = get_solver("clarabel").solve(problem, tol=1e-6)
        row.update(clarabel_m=other.n_neurons, clarabel_objective=other.network_objective, clarabel_gap=other.gap)
    return row


def fit_polyhedral(rng, k: int) -> dict:
    """The k-th random fit of a polyhedral loss: "auto" and Clarabel alone, each certified."""
    _, _, problem, row = random_problem(rng, k, ("hinge", "absolute"))
    for name in ("auto", "clarabel"):
        start = time.perf_counter()
        result = get_solver(name, problem).solve(problem, tol=1e-6)
        row[name] = dict(time=time.perf_counter() - start, gap=result.gap, status=result.status, m=result.n_neurons,
                         solver=result.solver, objective=result.network_objective)
    return row


def summarize_polyhedral(rows) -> None:
    short = {s: [r for r in rows if r[s]["gap"] > 1e-6] for s in ("auto", "clarabel")}
    handed = [r for r in rows if r["auto"]["solver"] == "clarabel"]
    ratios = [r["auto"]["time"] / r["clarabel"]["time"] for r in rows]
    total = {s: sum(r[s]["time"] for r in rows) for s in ("auto", "clarabel")}
    print(f"fits {len(rows)}: not certified to 1e-6 by auto in {len(short['auto'])}, by Clarabel alone in "
          f"{len(short['clarabel'])}; auto handed {len(handed)} to Clarabel; time auto / Clarabel: median "
          f"{statistics.median(ratios):.2f} (range {min(ratios):.2f}-{max(ratios):.2f}), total {total['auto']:.1f} s "
          f"against {total['clarabel']:.1f} s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fits", type=int, default=80)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-clarabel", action="store_true")
    parser.add_argument("--polyhedral", action="store_true", help="hinge and absolute losses, auto vs Clarabel")
    args = parser.parse_args(argv)
    rng, rows = np.random.default_rng(args.seed), []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for k in range(args.fits):
            rows.append(fit_polyhedral(rng, k) if args.polyhedral else fit(rng, k, not args.no_clarabel))
            print(json.dumps(rows[-1]), flush=True)
    if args.polyhedral:
        return summarize_polyhedral(rows)
    compared = [r for r in rows if "clarabel_m" in r and r["clarabel_gap"] <= 1e-6]
    own = [r for r in rows if r["own"] > 1e-6]
    wider = [r for r in compared if r["m"] > r["clarabel_m"]]
    above = [r for r in rows if r["objective"] > r["network_objective"]]
    worse = [r for r in compared if r["network_objective"] > r["clarabel_objective"] * (1 + 2e-6)]
    print(f"fits {len(rows)}: own gap > 1e-6 in {len(own)} (max {max(r['own'] for r in rows):.1e}); wider than "
          f"Clarabel in {len(wider)} of {len(compared)}; objective_ above the network's objective in {len(above)}; "
          f"worse than Clarabel's network by > 2e-6 in {len(worse)}")


if __name__ == "__main__":
    main()
