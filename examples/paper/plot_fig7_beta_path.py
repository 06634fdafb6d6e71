r"""
Fig. 7: accuracy and the optimal width against beta
===================================================

The paper's Fig. 7 plots, along a range of regularization weights :math:`\beta`, the test
accuracy and the width :math:`m^*` of the optimal network. This runs
:func:`spectranet.experiments.run_experiment` (``spectranet experiment fig7``: one warm-started
:func:`spectranet.regularization_path` per data set) on scikit-learn's breast-cancer data, written
in the Fernández-Delgado format the experiment reads, then draws the same path directly with
:func:`spectranet.regularization_path`.
"""

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from spectranet import beta_max, regularization_path
from spectranet.experiments import run_experiment


def write_uci(home, name, X, y):
    """Write ``X, y`` as ``home/name/name_R.dat``: a header, then index, z-scored features, class."""
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    folder = Path(home) / name
    folder.mkdir(parents=True)
    lines = ["\t".join([f"f{j}" for j in range(X.shape[1])] + ["clase"])]
    lines += ["\t".join([str(i)] + [f"{v:.6g}" for v in row] + [str(int(c))]) for i, (row, c) in enumerate(zip(X, y))]
    (folder / f"{name}_R.dat").write_text("\n".join(lines) + "\n")


def show(path):
    """Display a PNG written by the experiment."""
    image = plt.imread(path)
    fig = plt.figure(figsize=(image.shape[1] / 110, image.shape[0] / 110))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(image)
    ax.axis("off")
    plt.show()


with tempfile.TemporaryDirectory() as tmp:
    write_uci(tmp, "sklearn-breast-cancer", *load_breast_cancer(return_X_y=True))
    result = run_experiment("fig7", Path(tmp) / "out", data_dir=tmp, datasets=["sklearn-breast-cancer"],
                            betas=(0.3, 1.0, 3.0, 10.0, 30.0))
    print(result.summary_table())
    for note in result.notes:
        print("-", note)
    show(Path(tmp) / "out" / "fig7_sklearn-breast-cancer.png")

# %%
# The path directly
# -----------------
# :func:`spectranet.beta_max` is where the optimum becomes the zero network; the path runs from
# near it down to :math:`10^{-3}\beta_{\max}`, each solve warm-started from the previous one.
X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
Y_train = 2.0 * y_train - 1.0                     # the logistic loss's labels

b_max = beta_max(X_train, Y_train, "relu", "logistic")
betas = b_max * np.logspace(-0.3, -3, 8)
path = regularization_path(X_train, Y_train, betas, activation="relu", loss="logistic")
print(f"beta_max = {b_max:.1f}")
print(path.as_table())
assert np.all(path.gaps <= 1e-6)

accuracy = [np.mean((net.predict(X_test) > 0) == (y_test == 1)) for net in path.networks]
fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
ax.plot(path.betas, accuracy, "o-", color="tab:blue")
ax.set_xscale("log")
ax.set_xlabel("beta")
ax.set_ylabel("test accuracy", color="tab:blue")
ax2 = ax.twinx()
ax2.plot(path.betas, path.n_neurons, "s--", color="tab:red")
ax2.set_ylabel("m*", color="tab:red")
ax.set_title(f"certified path: {len(betas)} solves in {path.times.sum():.2f} s")
plt.show()

# %%
# On the paper's UCI sets (``spectranet experiment fig7 --data-dir DATA``), credit-approval:
#
# .. image:: /img/fig7_credit-approval.png
#    :alt: Fig. 7, credit-approval, full run
