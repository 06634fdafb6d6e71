"""
Fig. 5: a convolutional network, SGD and Adam vs the convex program
===================================================================

The paper's Fig. 5 trains a CNN with 3×3 filters, the polynomial activation and global average
pooling on MNIST and CIFAR-10 (classes 0/1), and compares SGD and Adam over learning rates with
the convex program. Here the same code (``spectranet experiment fig5 --datasets digits
--quick``, :func:`spectranet.experiments.run_experiment`) runs on scikit-learn's bundled 8×8
digits 0 and 1 (288 training images), with one learning rate per optimizer and 10 epochs.
"""

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits

from spectranet import Conv2D, ConvexPolyNetClassifier, beta_max
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
    result = run_experiment("fig5", tmp, datasets=["digits"], quick=True, cnn_max_epochs=10)
    print(result.summary_table())
    for note in result.notes:
        print("-", note)
    show(Path(tmp) / "fig5_digits_cnn.png")

convex = next(r for r in result.rows if r["method"] == "convex")
assert all(r["train_objective"] >= convex["lower_bound"] * (1 - 1e-9) for r in result.rows)

# %%
# The same CNN with the estimator directly
# ----------------------------------------
# ``Conv2D((1, 8, 8), 3, pool="global")``: 3×3 filters, stride 1, no padding, the activation
# averaged over all 36 patches. For a quadratic activation that average is a moment form, so
# the convex program has a single pair of order :math:`f + 1 = 10`.
X, y = load_digits(n_class=2, return_X_y=True)
X = X / 16.0
cnn = Conv2D((1, 8, 8), kernel_size=3, pool="global")
beta = 1e-3 * beta_max(X, 2 * y - 1, "relu", "logistic", architecture=cnn)
clf = ConvexPolyNetClassifier(beta=beta, architecture=cnn).fit(X, y)
print(f"{clf.n_neurons_} filters, certified gap {clf.gap_:.1e}, training accuracy {clf.score(X, y):.3f}")

fig, axes = plt.subplots(1, clf.n_neurons_, figsize=(1.6 * clf.n_neurons_, 1.9), layout="constrained")
for ax, u, alpha in zip(axes.flat, clf.network_.first_layer, clf.network_.second_layer[:, 0]):
    ax.imshow(u.reshape(3, 3), cmap="RdBu", vmin=-1, vmax=1)
    ax.set_title(f"alpha {alpha:+.2g}", fontsize=8)
    ax.axis("off")
fig.suptitle("the optimal 3x3 filters")
plt.show()

# %%
# The full-size runs (all MNIST 0/1 images, and CIFAR-10 airplane/automobile) are in
# :doc:`/guide/paper`; for MNIST:
#
# .. image:: /img/fig5_mnist_cnn.png
#    :alt: Fig. 5, MNIST 0/1, full run
