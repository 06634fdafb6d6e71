"""
Certified regression
====================

A regressor on data from a planted teacher network: the convex fit, its certificate, the width
of the optimal network as ``beta`` changes, and the predictions.
"""

# %%
# Data from a planted network
# ---------------------------
# :func:`spectranet.make_planted` draws a teacher with 5 neurons of the ``"relu"`` polynomial
# activation (0.09, 0.5, 0.47), Gaussian inputs, and adds noise.
import matplotlib.pyplot as plt
import numpy as np

from spectranet import ConvexPolyNetRegressor, beta_max, make_planted

X, y, teacher = make_planted(300, 10, n_neurons=5, noise=0.1, random_state=0, return_teacher=True)
X_train, y_train, X_test, y_test = X[:200], y[:200], X[200:], y[200:]
print(teacher)

# %%
# Fit and certify
# ---------------
reg = ConvexPolyNetRegressor(activation="relu", beta=0.1, loss="squared").fit(X_train, y_train)
print(f"objective (P) {reg.network_objective_:.6f}, certified gap {reg.gap_:.1e}, "
      f"m* = {reg.n_neurons_}, {reg.fit_time_:.2f} s ({reg.engine_})")
print(f"test R^2 {reg.score(X_test, y_test):.4f}")

# %%
# The width of the optimum depends on beta
# ----------------------------------------
# Larger ``beta`` gives narrower networks; at ``beta_max`` the optimum is the zero network.
b_max = beta_max(X_train, y_train, "relu", "squared")
for fraction in (1e-1, 1e-2, 1e-3):
    est = ConvexPolyNetRegressor(beta=fraction * b_max).fit(X_train, y_train)
    print(f"beta = {fraction:g} beta_max: m* = {est.n_neurons_:2d}, gap {est.gap_:.1e}, "
          f"test R^2 {est.score(X_test, y_test):.4f}")

# %%
# Predictions against the targets
# --------------------------------
fig, ax = plt.subplots(figsize=(4.5, 4), layout="constrained")
ax.scatter(y_test, reg.predict(X_test), s=10)
lims = [min(y_test.min(), reg.predict(X_test).min()), max(y_test.max(), reg.predict(X_test).max())]
ax.plot(lims, lims, "k:", lw=1)
ax.set_xlabel("target (test)")
ax.set_ylabel("prediction")
ax.set_title(f"m* = {reg.n_neurons_}, certified gap {reg.gap_:.0e}")
plt.show()

# %%
# Other losses are one argument away: ``loss="absolute"`` and ``loss="huber"`` (or any
# :class:`spectranet.Loss` object, see the pinball example). The absolute loss is polyhedral:
# ``solver="auto"`` runs the native sample-space interior point on it, and the CVXPY backend
# Clarabel only if that does not certify ``tol``.
robust = ConvexPolyNetRegressor(beta=0.1, loss="huber").fit(X_train, y_train)
print(f"huber: gap {robust.gap_:.1e}, m* = {robust.n_neurons_}, solver {robust.solver_}")
robust = ConvexPolyNetRegressor(beta=0.1, loss="absolute").fit(X_train, y_train)
print(f"absolute: gap {robust.gap_:.1e}, m* = {robust.n_neurons_}, solver {robust.solver_}")
assert np.isfinite(robust.gap_)
