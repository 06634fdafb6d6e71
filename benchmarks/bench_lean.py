"""Lean, self-certifying networks: m*, the network-alone gap, and what the face polish costs.

For each case, the native solver with its defaults (``lean=True``, ``self_certify=True``), the
same with both switched off, column generation from scratch (``engine="columns"``) and Clarabel
through spectranet: the width m* of each one's network, the certified gap of the network alone
(its own gradient as the dual point: what a reloaded model proves without any witness), and the
median time of ``--repeat`` solves. *cost* = time with the polish / time without it, measured in
the same run.

``--regrow`` adds the other lean strategy the library does not run: drop the smaller half of the
native network's neurons (by the size of their second-layer weights) and grow the support back by
column generation from the survivors (``spectranet.local.column_generation``, at most
``--regrow-limit`` seconds); its width, own gap and time.

    python benchmarks/bench_lean.py [--repeat 3] [--data-dir ../shared/data] [--no-clarabel] [--regrow]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from pathlib import Path

import numpy as np

from spectranet import ConvergenceWarning, Problem, beta_max, certify, get_solver, load_uci, make_planted
from spectranet.local import column_generation
from spectranet.solvers.native import NativeSolver


def _planted(n, d, loss, outputs=1, seed=0):
    X, y = make_planted(n, d, n_neurons=5, noise=0.1, random_state=seed)
    X /= np.sqrt(d)
    if outputs > 1:
        rng = np.random.default_rng(seed)
        y = np.column_stack([y] + [y * rng.standard_normal() + 0.1 * rng.standard_normal(n)
                                   for _ in range(outputs - 1)])
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    return X, y


def cases(data_dir):
    """(name, X, y, loss, beta or ("rel", fraction of beta_max))"""
    X, y = _planted(1000, 50, "squared")
    yield "planted 1000x50", X, y, "squared", 1.0
    yield "planted 1000x50", X, y, "squared", ("rel", 1e-3)
    X, y = _planted(1000, 50, "logistic")
    yield "planted 1000x50", X, y, "logistic", ("rel", 1e-3)
    X, y = _planted(100, 30, "logistic", seed=3)
    yield "planted 100x30", X, y, "logistic", ("rel", 1e-2)
    X, y = _planted(300, 35, "squared", outputs=3, seed=1)
    yield "planted 300x35, 3 targets", X, y, "squared", 0.5
    if data_dir is not None and Path(data_dir, "credit-approval").is_dir():
        X, y = load_uci("credit-approval", data_dir, return_X_y=True)
        yield "credit-approval", X, 2.0 * y - 1.0, "squared", 1.0
        yield "credit-approval", X, 2.0 * y - 1.0, "logistic", ("rel", 1e-3)


def _alone(result, X, y, loss, beta) -> float:
    """The gap the network proves by itself: no witness, its own gradient as the dual point."""
    return certify(result.network.with_witness(None), X, y, loss=loss, beta=beta, witness=False).gap


def _regrow(problem, network, limit):
    """Drop the smaller half of ``network``'s neurons and grow the support back by column
    generation from the survivors: ``(width, own gap, seconds)``."""
    order = np.argsort(-np.abs(network.second_layer_2d).sum(axis=1))
    keep = np.sort(order[: max(1, network.n_neurons // 2)])
    survivors = network.with_layers(network.first_layer[keep], network.second_layer_2d[keep])
    start = time.perf_counter()
    grown, own, _ = column_generation(problem, survivors, tol=1e-6, max_rounds=100, deadline=start + limit)
    return grown.n_neurons, own.gap, time.perf_counter() - start


def _run(solver, problem, repeat):
    times, result = [], None
    for _ in range(repeat):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            result = solver.solve(problem, tol=1e-6)
            times.append(time.perf_counter() - start)
    return result, statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--no-clarabel", action="store_true")
    parser.add_argument("--regrow", action="store_true", help="drop half the neurons, regrow by column generation")
    parser.add_argument("--regrow-limit", type=float, default=60.0, help="seconds per regrowth")
    args = parser.parse_args(argv)
    solvers = {"native": NativeSolver(), "plain": NativeSolver(lean=False, self_certify=False),
               "columns": NativeSolver(engine="columns")}
    if not args.no_clarabel:
        solvers["clarabel"] = get_solver("clarabel")
    head = " | ".join(f"{k:>8s} m*  alone    s" for k in solvers)
    regrow_head = " |  regrow m*  alone      s" if args.regrow else ""
    print(f"{'case':28s} {'loss':8s} {'beta':>9s} | {head} |  cost{regrow_head}")
    for name, X, y, loss, beta in cases(args.data_dir):
        if isinstance(beta, tuple):
            beta = beta[1] * beta_max(Problem(X, y, "relu", loss, 0.0))
        problem = Problem(X, y, "relu", loss, beta)
        row, times, results = [], {}, {}
        for key, solver in solvers.items():
            repeat = 1 if key == "clarabel" else args.repeat
            results[key], seconds = _run(solver, problem, repeat)
            times[key] = seconds
            row.append(f"{results[key].n_neurons:>11d} {_alone(results[key], X, y, loss, beta):7.1e} {seconds:5.2f}")
        regrown = ""
        if args.regrow:
            width, gap, seconds = _regrow(problem, results["native"].network, args.regrow_limit)
            regrown = f" | {width:>11d} {gap:7.1e} {seconds:6.2f}"
        print(f"{name:28s} {loss:8s} {beta:>9.3g} | {' | '.join(row)} | {times['native'] / times['plain']:5.2f}"
              f"{regrown}", flush=True)


if __name__ == "__main__":
    main()
