r"""The training objectives of the backprop baseline, one per ``formulation`` (numpy or torch).

See :mod:`spectranet.baseline` for the three formulations (``"l1"``: problem (P);
``"weight_decay"``; ``"cubic"``) and :func:`formulation_objective` for their one implementation,
used for training, for ``objective_`` and by the tests against :class:`~spectranet.problem.Problem`.
"""

from __future__ import annotations

import numpy as np
from array_api_compat import array_namespace

from .activations import PolyActivation
from .architectures import check_architecture
from .cubic import balance
from .kernels import network_outputs
from .network import PolyNetwork
from .penalties import get_penalty

__all__ = ["FORMULATIONS", "formulation_objective", "relu"]

FORMULATIONS = ("l1", "weight_decay", "cubic")


def relu(t):
    """Exact ReLU :math:`\\max(t, 0)` on numpy arrays or torch tensors (the Fig. 6 network)."""
    return t * (t > 0)


def _row_norms(W):
    xp = array_namespace(W)
    return xp.sqrt(xp.sum(W**2, axis=1))


def _forward(X, W, A, activation, formulation, architecture=None):
    """Outputs :math:`\\sigma(X U^\\top) A` (a CNN's: :func:`~spectranet._torch.conv_outputs`),
    ``U`` the row-normalized ``W`` for ``"l1"``."""
    if formulation == "l1":
        W = W / _row_norms(W)[:, None]
    if architecture is None or architecture.is_dense:
        return network_outputs(X, W, A, activation)
    from ._torch import conv_outputs

    return conv_outputs(X, W, A, architecture, activation)


def formulation_objective(X, Y, first_layer, second_layer, *, activation, loss, beta,
                          formulation="l1", architecture=None):
    r"""Training objective of a formulation (see the module docstring), numpy or torch.

    Parameters
    ----------
    X : array of shape (n, d)
        A CNN's: image rows ``(n, C*H*W)``.
    Y : array of shape (n, C)
        Targets in the loss's encoding.
    first_layer : array of shape (m, d)
        Raw first-layer weights :math:`w_j` (normalized inside for ``"l1"``); a CNN's filters
        ``(m, C*kh*kw)``.
    second_layer : array of shape (m, C)
        A CNN's: ``(m, G, C)``.
    activation : PolyActivation or callable
    loss : Loss
    beta : float
    formulation : {"l1", "weight_decay", "cubic"}
    architecture : None, Dense or Conv2D
        A CNN's outputs are computed by :func:`spectranet._torch.conv_outputs` (torch, also for
        numpy input, in float64).

    Returns
    -------
    float for numpy arrays, a 0-dim tensor (differentiable) for torch tensors.
    """
    architecture = check_architecture(architecture)
    if formulation == "cubic" and not architecture.is_dense:
        raise ValueError(f"formulation='cubic' is derived for the dense architecture, not {architecture!r}")
    out = _forward(X, first_layer, second_layer, activation, formulation, architecture)
    return loss.value(out, Y) + beta * get_penalty(formulation).value(first_layer, second_layer)


def _homogeneity(activation) -> int | None:
    """Degree k with :math:`\\sigma(s t) = s^k \\sigma(t)` for s > 0, or None."""
    if isinstance(activation, PolyActivation) and activation.c == 0.0:
        if activation.b == 0.0:
            return 2
        if activation.a == 0.0:
            return 1
    return None


def _initial_weights(network: PolyNetwork, formulation: str):
    """Raw weights (W, A) computing ``network``'s function in ``formulation`` (``A`` as ``(m, P)``)."""
    U, A = network.first_layer.copy(), network.second_layer_2d.copy()
    norms = np.linalg.norm(U, axis=1)
    degree = _homogeneity(network.activation)
    if formulation == "weight_decay":
        return U, A  # sigma(x^T w) with w = u: the network's own function
    if degree is not None and np.all(norms > 0):
        U, A = U / norms[:, None], A * norms[:, None] ** degree
    else:  # a non-homogeneous activation cannot absorb the norms
        network.check_unit_norm(f"init (for formulation={formulation!r} and {network.activation})")
    if formulation == "cubic":
        U, A = balance(U, A)
    return U, A


def _unit_network(W, A, activation, formulation, scalar, architecture=None) -> PolyNetwork:
    """The network of raw weights with unit-norm rows where the activation allows it (``A`` is
    ``(m, C)``, a CNN's ``(m, G, C)``)."""
    norms = _row_norms(W)
    degree = 0 if formulation == "l1" else _homogeneity(activation)
    if degree is None:  # weight decay, non-homogeneous activation: keep the raw weights
        U, A2 = W, A
    else:
        safe, A2 = np.where(norms > 0, norms, 1.0), A.reshape(A.shape[0], -1)
        U, A2 = W / safe[:, None], np.where(norms[:, None] > 0, A2 * safe[:, None] ** degree, 0.0)
    A2 = A2.reshape(A.shape)
    return PolyNetwork(U, A2[..., 0] if scalar else A2, activation, architecture)
