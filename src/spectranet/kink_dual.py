r"""The kink dual of a polyhedral network: a dual point from the network and the data alone.

For the hinge and absolute losses the network's own subgradient is a poor dual point: at a kink
sample (margin 1, zero residual) the optimal dual value is anywhere in an interval, and the
subgradient picks one end, so a network certifies nothing by itself (its own gap 0.3–1.0 where the
solver's dual proves 1e-8). The optimality conditions fix those values instead: at each neuron
:math:`u_j` (feeding output :math:`k_j` with sign :math:`s_j`), the dual function
:math:`v \mapsto V_{k_j}^\top \sigma(Xu)` takes the value :math:`\beta s_j` and is stationary on the
sphere,

.. math:: V_{k_j}^\top \sigma(X u_j) = \beta s_j, \qquad
          (I - u_j u_j^\top)\, X^\top (V_{k_j} \circ \sigma'(X u_j)) = 0,

linear in the kink samples' values :math:`V_{ik} = \text{scale}_{ik}\, t_{ik}`,
:math:`t \in [lo, 1]`, the others fixed by the loss (:class:`~spectranet.losses.Kinks`). Their
least-squares solution in the box (:func:`scipy.optimize.lsq_linear`) is a candidate dual point of
the certificate, which checks it like any other (the exact sphere oracle; a point that is not
feasible is scaled into the feasible set). Where the network solves the conditions exactly (after
the active-set polish, :mod:`spectranet.active_set`) it proves its optimality to rounding; where
the kink samples outnumber the conditions (a network that interpolates the data), the solution is
one point of a family and may prove little.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import lsq_linear

from .kernels import hidden_layer

__all__ = ["kink_dual", "kink_set", "condition_matrix", "target_scale", "KINK_TOL"]

#: a sample is at a kink when its kink function is within KINK_TOL times the targets' scale
KINK_TOL = 1e-5
#: the least-squares systems (one per output: its neurons' conditions on its kink samples) are formed
#: densely and solved through QR factorizations: at most this many entries in all (rows times kink
#: samples; 2M: 16 MB and about 1e10 flops at worst, 1000 rows by 2000 kinks), as every certificate
#: of a polyhedral fit computes them
MAX_ENTRIES = 1 << 21


def target_scale(problem) -> float:
    """The scale of the targets the kink rows are measured in (at least 1)."""
    return max(1.0, float(np.max(np.abs(problem.Y))))


def kink_set(problem, kinks, Yhat, kink_tol: float = KINK_TOL):
    """The entries at a kink (boolean, shaped as ``Y``), their kink values, and the dual values the
    loss fixes elsewhere (zero at the kinks)."""
    K = kinks.kink(Yhat)
    active = np.abs(K) <= kink_tol * target_scale(problem)
    return active, K, np.where(active, 0.0, kinks.off_dual(K)).astype(float)


def condition_matrix(X, U, Phi, dPhi, outputs, rows, cols, scale) -> np.ndarray:
    r"""The optimality conditions' coefficients on the kink samples' ``t`` (entries ``(rows, cols)``,
    :math:`V = \text{scale}\cdot t` there): ``(m (d+1), n_act)``, the value row of each neuron
    (``m``), then its ``d`` tangent rows (also the ``t`` columns of the active-set polish's
    Jacobian, :mod:`spectranet.active_set`)."""
    m, d = U.shape
    M = np.zeros((m * (d + 1), rows.size))
    for j in range(m):
        feeds = (cols == outputs[j]) * scale  # the kink entries of the neuron's output
        M[j] = feeds * Phi[rows, j]
        M[m + j * d: m + (j + 1) * d] = (np.eye(d) - np.outer(U[j], U[j])) @ (X[rows].T * (feeds * dPhi[rows, j]))
    return M


def kink_dual(problem, network, Yhat) -> np.ndarray | None:
    """The kink dual point of ``network`` (outputs ``Yhat``), shaped as ``Y``; None for a loss
    without kinks, an empty network, a neuron feeding several outputs, a convolutional
    architecture, Dask data, no kink sample, or a system of more than :data:`MAX_ENTRIES` entries."""
    kinks = problem.loss.kinks(problem.Y)
    A = network.second_layer_2d
    if (kinks is None or network.n_neurons == 0 or problem.is_dask or not problem.architecture.is_dense
            or np.any(np.count_nonzero(A, axis=1) > 1)):
        return None
    active, _, V = kink_set(problem, kinks, Yhat)
    rows, cols = np.nonzero(active)
    m, d = network.first_layer.shape
    outputs = np.argmax(np.abs(A), axis=1)
    blocks = np.bincount(outputs, minlength=A.shape[1]) * np.bincount(cols, minlength=A.shape[1])
    if rows.size == 0 or (d + 1) * int(blocks.sum()) > MAX_ENTRIES:
        return None
    signs = np.sign(A[np.arange(m), outputs])
    U, X = network.first_layer, problem.X
    H, Phi = hidden_layer(X, U, network.activation)
    dPhi = network.activation.derivative(H)
    scale = kinks.scale[rows, cols]
    for k in np.unique(outputs):  # the conditions of output k's neurons involve its kinks alone
        neurons, entries = np.flatnonzero(outputs == k), np.flatnonzero(cols == k)
        if entries.size == 0:
            continue
        M = condition_matrix(X, U[neurons], Phi[:, neurons], dPhi[:, neurons], outputs[neurons], rows[entries],
                             cols[entries], scale[entries])
        mk = neurons.size
        b = np.zeros(mk * (d + 1))  # the conditions' parts fixed by the samples off their kinks
        for i, j in enumerate(neurons):
            u = U[j]
            b[i] = problem.beta * signs[j] - V[:, k] @ Phi[:, j]
            b[mk + i * d: mk + (i + 1) * d] = -(np.eye(d) - np.outer(u, u)) @ (X.T @ (V[:, k] * dPhi[:, j]))
        t = lsq_linear(M, b, bounds=(kinks.lo, 1.0)).x
        V[rows[entries], k] = scale[entries] * t
    return V
