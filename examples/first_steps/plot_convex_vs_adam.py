"""
Convex optimum vs Adam
======================

The quick version of ``spectranet demo``: on a planted problem, the convex program's certified
optimum against Adam on the **same** objective (P), trained by the PyTorch baseline
:class:`spectranet.BackpropPolyNetRegressor` with the same loss object.
"""

# %%
import importlib.util
import time

import matplotlib.pyplot as plt
import numpy as np

from spectranet import ConvexPolyNetRegressor, make_planted

X, y = make_planted(100, 10, n_neurons=10, activation="square", noise=0.1, random_state=0)
beta = 1e-3

tic = time.perf_counter()
convex = ConvexPolyNetRegressor(activation="square", beta=beta).fit(X, y)
convex_time = time.perf_counter() - tic
print(f"convex: objective {convex.network_objective_:.6f} (certified gap {convex.gap_:.1e}), "
      f"m* = {convex.n_neurons_}, {convex_time:.2f} s")

# %%
# Adam over two learning rates, two seeds each, 80 epochs (skipped without PyTorch). Every
# run ends above the certified lower bound: one objective definition serves both.
runs = {}
if importlib.util.find_spec("torch") is not None:
    from spectranet import BackpropPolyNetRegressor

    for lr in (3e-3, 1e-2):
        for seed in (0, 1):
            est = BackpropPolyNetRegressor(activation="square", beta=beta, optimizer="adam", lr=lr,
                                           max_epochs=80, batch_size=10, random_state=seed).fit(X, y)
            runs[lr, seed] = est
            assert est.network_objective_ >= convex.lower_bound_ * (1 - 1e-9)
    for (lr, seed), est in runs.items():
        above = (est.network_objective_ - convex.lower_bound_) / convex.lower_bound_
        print(f"Adam lr={lr:g} seed={seed}: objective {est.network_objective_:.6f}, "
              f"{100 * above:.1f} % above the certified optimum, {est.fit_time_:.2f} s")
else:
    print("PyTorch is not installed: pip install 'spectranet[torch]' for the backprop runs")

# %%
# The training objective over time, against the convex optimum and its solve time.
fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
colors = {3e-3: "tab:blue", 1e-2: "tab:orange"}
for (lr, seed), est in runs.items():
    t, _, objective = np.array(est.loss_curve_).T
    ax.plot(t, objective, color=colors[lr], alpha=0.8, lw=1, label=f"Adam lr={lr:g}" if seed == 0 else None)
ax.axhline(convex.network_objective_, color="k", ls=":", label="convex optimum (certified)")
ax.plot([convex_time], [convex.network_objective_], "kx", ms=10, mew=2, label=f"convex solve ({convex_time:.2f} s)")
ax.set_xscale("symlog", linthresh=0.05)
ax.set_yscale("log")
ax.set_xlabel("wall-clock time (s)")
ax.set_ylabel("training objective (P)")
ax.legend(fontsize=8)
plt.show()
