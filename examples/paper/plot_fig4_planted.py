"""
Fig. 4: square activation, planted model
========================================

The paper's Fig. 4 in small: a planted regression with the square activation, the convex
optimum against SGD on the same objective (P) and on weight decay. This runs the code behind
``spectranet experiment fig4`` (:func:`spectranet.experiments.run_experiment`) with one learning
rate, one seed and 40 epochs instead of 4 rates, 5 seeds and 1,000 epochs.
"""

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

from spectranet.experiments import run_experiment


def show(path):
    """Display a PNG written by the experiment."""
    image = plt.imread(path)
    fig = plt.figure(figsize=(image.shape[1] / 110, image.shape[0] / 110))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(image)
    ax.axis("off")
    plt.show()


with tempfile.TemporaryDirectory() as tmp:
    result = run_experiment("fig4", tmp, quick=True, lrs=(3e-3,), seeds=(0,), max_epochs=40)
    print(result.summary_table())
    for note in result.notes:
        print("-", note)
    show(Path(tmp) / "fig4_objective_vs_time.png")

# %%
# Every row's training objective is problem (P) of its network, so the convex optimum (the
# certified lower bound) is below all of them:
convex = next(r for r in result.rows if r["method"] == "convex")
for row in result.rows:
    if row["method"] == "backprop":
        assert row["train_objective"] >= convex["lower_bound"] * (1 - 1e-9)

# %%
# The full experiment (``spectranet experiment fig4 --out fig4``, a few minutes) gives:
#
# .. image:: /img/fig4_objective_vs_time.png
#    :alt: Fig. 4, full run
