r"""
A new convex loss in user code: quantile regression
===================================================

The solvers and the certificate dispatch on what a :class:`spectranet.Loss` *provides*, not on its
name, so a new convex loss needs no change to spectranet. This example writes the **pinball loss** of quantile
regression,

.. math:: \ell_\tau(\hat y, y) = \sum_i \rho_\tau(y_i - \hat y_i), \qquad
          \rho_\tau(r) = \max(\tau r,\ (\tau - 1) r), \qquad 0 < \tau < 1,

fits globally optimal networks for three quantiles and certifies them with
:func:`spectranet.certify`. The asserts make this page's build fail if the loss interface ever
stops accepting such a loss.
"""

# %%
# The loss
# --------
# The pinball loss is polyhedral: not differentiable at :math:`r = 0`, so ``smooth = False``.
# What the solvers and the certificate need from it:
#
# * ``value`` and ``gradient`` (a subgradient): the objective (P) and the certificate's default
#   dual point :math:`V = -\nabla \ell`;
# * ``dual_value``, the concave dual :math:`-\ell^*(-V) = \inf_{\hat Y} \langle V, \hat Y\rangle +
#   \ell(\hat Y, Y)`, here :math:`\langle V, Y\rangle` on the box :math:`\tau - 1 \le V \le \tau`
#   and :math:`-\infty` outside; ``project_dual`` maps any candidate into that box;
# * ``cvxpy``: the loss as a CVXPY expression, for the CVXPY backends (Clarabel, SCS, MOSEK);
# * ``dual_box``: the same box, :math:`\ell(\hat Y) = \max_{lo \le V \le hi} \langle V, Y -
#   \hat Y\rangle`. It opens the native solver's sample-space interior point and the linear
#   program of ``certify(..., improve=True)``;
# * ``kinks``: where the kinks are (:math:`\hat y = y`) and the dual values off them, for the
#   active-set step that makes a polyhedral loss's certificate tight;
# * ``scaled``: :math:`\rho_\tau(t r) = t\,\rho_\tau(r)`, so the solver may change the units of
#   the targets.
#
# ``value`` and ``gradient`` are written with the array namespace of their arguments, so they
# run on numpy arrays and torch tensors alike.
import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from array_api_compat import array_namespace

from spectranet import ConvexPolyNetRegressor, Loss, certify
from spectranet.losses import Kinks
from spectranet.solvers.native import NativeSolver


@dataclass(frozen=True)
class PinballLoss(Loss):
    """Pinball (quantile) loss: its minimizer over constants is the tau-quantile of y."""

    tau: float = 0.5
    name = "pinball"
    smooth = False
    twice_differentiable = False

    def __post_init__(self):
        if not 0.0 < self.tau < 1.0:
            raise ValueError(f"tau must lie in (0, 1), got {self.tau!r}")

    def value(self, Yhat, Y):
        xp = array_namespace(Yhat, Y)
        R = Y - Yhat
        total = xp.sum(xp.maximum(self.tau * R, (self.tau - 1.0) * R))
        return float(total) if isinstance(total, np.ndarray | np.generic) else total

    def gradient(self, Yhat, Y):
        R = Y - Yhat  # d/dyhat rho(y - yhat): -tau above the target, 1 - tau below, between at 0
        return (1.0 - self.tau) * (R < 0) - self.tau * (R > 0) + (0.5 - self.tau) * (R == 0)

    def dual_value(self, V, Y):
        inside = np.all(V >= self.tau - 1.0 - 1e-12) and np.all(V <= self.tau + 1e-12)
        return float(np.sum(V * Y)) if inside else -math.inf

    def project_dual(self, V, Y):
        return np.clip(V, self.tau - 1.0, self.tau)

    def cvxpy(self, Yhat, Y):
        import cvxpy as cp

        R = Y - Yhat
        return cp.sum(cp.maximum(self.tau * R, (self.tau - 1.0) * R))

    def dual_box(self, Y):
        return np.full(Y.shape, self.tau - 1.0), np.full(Y.shape, self.tau), 0.0

    def kinks(self, Y):
        # kink(Yhat) = Yhat - Y (slope 1); off the kink V = tau - 1 (above y) or tau (below);
        # at the kink V = tau * t with t in [(tau - 1) / tau, 1]
        ones = np.ones_like(Y)
        return Kinks(kink=lambda Yhat: Yhat - Y,
                     off_dual=lambda K: np.where(K > 0, self.tau - 1.0, self.tau),
                     slope=ones, scale=self.tau * ones, lo=(self.tau - 1.0) / self.tau)

    def scaled(self, t):
        return self, 1


# %%
# Check the dual side
# -------------------
# The certificate is only as right as ``dual_value``. Weak duality must hold for every output
# and every dual point in the domain, with equality at :math:`V = -\nabla\ell`:
rng = np.random.default_rng(0)
Y, Yhat = rng.standard_normal((50, 1)), rng.standard_normal((50, 1))
for tau in (0.1, 0.5, 0.9):
    loss = PinballLoss(tau)
    V = loss.project_dual(rng.standard_normal((50, 1)), Y)
    assert loss.dual_value(V, Y) <= loss.value(Yhat, Y) + np.sum(V * Yhat) + 1e-12
    V = -loss.gradient(Yhat, Y)
    assert math.isclose(loss.dual_value(V, Y), loss.value(Yhat, Y) + np.sum(V * Yhat), abs_tol=1e-12)
print("weak duality and tightness hold")

# %%
# Data with a spread that grows with x
# ------------------------------------
# One input feature, so the fitted quantile curves can be drawn; the noise's scale grows with
# :math:`|x|`, so the quantiles are not parallel.
n = 300
x = rng.uniform(-2.0, 2.0, n)
y = 0.5 * x**2 + (0.2 + 0.4 * np.abs(x)) * rng.standard_normal(n)
X = x[:, None]

# %%
# Fit and certify
# ---------------
# ``solver="auto"`` hands a non-smooth loss to the CVXPY backend Clarabel (the native solver's
# automatic engines need a smooth loss). The fit's network carries its certificate's dual point
# as its witness; ``certify`` recomputes the bound from it, the network and the data.
beta, fits = 1.0, {}
for tau in (0.1, 0.5, 0.9):
    loss = PinballLoss(tau)
    est = ConvexPolyNetRegressor(activation="relu", beta=beta, loss=loss).fit(X, y)
    cert = certify(est.network_, X, y, loss=loss, beta=beta)
    print(f"tau = {tau}: solver {est.solver_}, objective {est.network_objective_:.6f}, certified gap "
          f"{est.gap_:.1e}, m* = {est.n_neurons_}; certify: gap {cert.gap:.1e} ({cert.source}); "
          f"below the fit: {np.mean(y < est.predict(X)):.2f}")
    assert est.status_ == "optimal" and est.gap_ <= est.tol
    assert cert.is_optimal
    fits[tau] = est

# %%
# The curves: about 10 %, 50 % and 90 % of the points lie below them.
grid = np.linspace(-2.0, 2.0, 200)[:, None]
fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
ax.scatter(x, y, s=6, color="0.6", label="data")
for tau, est in fits.items():
    ax.plot(grid[:, 0], est.predict(grid), lw=2, label=f"tau = {tau} (gap {est.gap_:.0e})")
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.set_title("Certified quantile networks (pinball loss, user-defined)")
ax.legend(fontsize=8)
plt.show()

# %%
# What the network's own subgradient proves
# -----------------------------------------
# For a polyhedral loss the subgradient at a sample on the kink is only one point of an interval
# of dual values, so the network's own gradient proves a much looser bound than the witness.
# ``improve=True`` tightens it by cutting planes on the dual (a linear program built from
# ``dual_box``).
net = fits[0.9].network_.with_witness(None)
own = certify(net, X, y, loss=PinballLoss(0.9), beta=beta)
better = certify(net, X, y, loss=PinballLoss(0.9), beta=beta, improve=True)
print(f"own subgradient: gap {own.gap:.1e}; improved ({better.source}): gap {better.gap:.1e}")
assert better.lower_bound >= own.lower_bound

# %%
# The native solver's interior point
# ----------------------------------
# With ``dual_box``, the native solver's sample-space interior point (``engine="ipm"``,
# experimental for non-smooth losses) solves the same program.
ipm = ConvexPolyNetRegressor(beta=beta, loss=PinballLoss(0.9), solver=NativeSolver(engine="ipm")).fit(X, y)
print(f"native ipm: objective {ipm.network_objective_:.6f} (Clarabel: {fits[0.9].network_objective_:.6f}), "
      f"gap {ipm.gap_:.1e}, status {ipm.status_}")

# %%
# Two limits of user-defined losses
# ---------------------------------
# The witness names its loss, and two places look that name up among the built-in losses:
#
# * ``PolyNetwork.load`` refuses a file whose witness was made for a user-defined loss, so save
#   such a network with ``network.save(path, witness=False)``;
# * ``certify(network, X, y)`` without ``loss=`` takes the loss from the witness: pass your loss
#   object, as above.
