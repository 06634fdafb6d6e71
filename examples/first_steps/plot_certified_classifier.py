"""
A certified classifier
======================

Fit the globally optimal two-layer network on scikit-learn's breast-cancer data, read its
certificate, save it with its witness, load it back and certify it again, then certify a network
trained by backpropagation.
"""

# %%
# Fit
# ---
# The objective is a *sum* over samples, so ``beta`` is relative to ``n``: ``beta_max`` is the
# smallest value whose optimum is the zero network.
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from spectranet import BackpropPolyNetClassifier, ConvexPolyNetClassifier, PolyNetwork, beta_max, certify

X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

print(f"beta_max = {beta_max(X_train, 2 * y_train - 1, 'relu', 'logistic'):.1f}")
clf = ConvexPolyNetClassifier(activation="relu", beta=1.0, loss="logistic").fit(X_train, y_train)
print(f"test accuracy {clf.score(X_test, y_test):.3f}")

# %%
# Read the certificate
# --------------------
# ``network_objective_`` is the objective (P) of the extracted network, ``lower_bound_`` a proved
# lower bound on the global optimum; their relative gap is at most ``tol`` (``1e-6``).
print(f"convex optimum (21)      {clf.objective_:.10f}")
print(f"network objective (P)    {clf.network_objective_:.10f}")
print(f"certified lower bound    {clf.lower_bound_:.10f}")
print(f"relative gap             {clf.gap_:.1e}   status: {clf.status_}")
print(f"m* = {clf.n_neurons_} neurons (bound 2(d+1) = {2 * (X.shape[1] + 1)}), "
      f"solver {clf.solver_}, engine {clf.engine_}, {clf.fit_time_:.2f} s")
print(f"dual point from: {clf.certificate_.source}; the network's own gradient proves "
      f"{clf.certificate_.own_gap:.1e}")

# %%
# Save and load, with the witness
# -------------------------------
# The network carries its witness (the dual point of its certificate, the loss, beta and a
# fingerprint of the training data), so ``certify`` needs only the data.
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "breast_cancer.npz"
    clf.network_.save(path)
    net = PolyNetwork.load(path)
print(net)
cert = certify(net, X_train, 2 * y_train - 1)   # the loss's encoding: labels in {-1, +1}
print(f"certify: gap {cert.gap:.1e}, optimal {cert.is_optimal}, from the {cert.source}")

# %%
# On other data the witness's fingerprint does not match: ``certify`` refuses it unless told
# to use the network's own gradient only (then loss and beta must be given). The network is
# optimal for its training problem, not for the test set's: the gap says how far.
try:
    certify(net, X_test, 2 * y_test - 1)
except ValueError as exc:
    print("refused:", str(exc)[:60], "...")
test_cert = certify(net, X_test, 2 * y_test - 1, loss="logistic", beta=1.0, witness=False)
print(f"on the test problem: gap {test_cert.gap:.2e}")

# %%
# Certify a network trained by backpropagation
# --------------------------------------------
# ``certify`` works for any network with unit-norm first-layer rows. Adam on the same objective
# (P) ends above the certified optimum; its certificate says by how much at most.
adam = BackpropPolyNetClassifier(activation="relu", beta=1.0, optimizer="adam", lr=1e-2, max_epochs=20,
                                 batch_size=32, random_state=0).fit(X_train, y_train)
own = certify(adam.network_, X_train, 2 * y_train - 1, loss="logistic", beta=1.0)
print(f"Adam: objective {adam.network_objective_:.4f} vs optimum {clf.network_objective_:.4f}; "
      f"its own certificate proves a gap <= {own.gap:.1e}")
true_gap = (adam.network_objective_ - clf.lower_bound_) / adam.network_objective_
print(f"gap to the convex fit's bound: {true_gap:.1e}")
assert adam.network_objective_ >= clf.lower_bound_

# %%
# The ``Certificate`` also names the most violated neuron: the direction in which the Adam
# network is furthest from optimal (a column-generation step would add it).
print(f"lambda = {own.lam:.3g} > beta = {own.beta:g}: neuron for output {own.output}, sign {own.sign:+d}")
print(np.round(own.neuron[:5], 3), "...")

# %%
# Adam's training objective per epoch against the certified optimum:
t, epoch, objective = np.array(adam.loss_curve_).T
fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
ax.plot(epoch, objective, "o-", ms=3, label="Adam, objective (P)")
ax.axhline(clf.network_objective_, color="k", ls=":", label="convex fit (certified optimal)")
ax.set_xlabel("epoch")
ax.set_ylabel("objective (P), sum over samples")
ax.set_yscale("log")
ax.legend()
plt.show()
