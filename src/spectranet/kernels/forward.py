r"""The network's forward pass and its gradients: dense, and on the grouped lift of a CNN.

Dense network: :math:`f(X) = \sigma(XU^\top)A` (:func:`network_outputs`). Convolutional network
on a :class:`~spectranet.architectures.PatchLift` (:math:`R` of shape ``(n, G, r, f)``, means
:math:`\bar x` of shape ``(n, G, f)``): the group-averaged activation of a filter :math:`u` is

.. math:: \phi_{ig}(u) = a \sum_r (R_{igr}^\top u)^2 + b\, \bar x_{ig}^\top u + c ,

and the outputs are :math:`\hat y_{ik} = \sum_{j,g} \phi_{ig}(u_j)\,\alpha_{j,gC+k}` (pairs
:math:`p = gC + k`, the layout of ``PolyNetwork.second_layer_2d``). The dense functions are
array-namespace generic (numpy arrays or torch tensors); the grouped ones are numpy.
"""

from __future__ import annotations

import numpy as np

__all__ = ["hidden_layer", "network_outputs", "group_projections", "group_activation", "group_hidden", "group_outputs",
           "group_second_gradient",
           "group_first_gradient", "group_forward"]


def hidden_layer(X, first_layer, activation):
    r"""Pre-activations :math:`H = X U^\top` and activations :math:`\sigma(H)`, each ``(n, m)``."""
    H = X @ first_layer.T
    return H, activation(H)


def network_outputs(X, first_layer, second_layer, activation):
    r"""Outputs :math:`\sigma(X U^\top)\,A` of shape ``(n, C)``.

    Parameters
    ----------
    X : array of shape (n, d)
    first_layer : array of shape (m, d)
        Rows :math:`u_j`.
    second_layer : array of shape (m, C)
        Rows :math:`\alpha_j`.
    activation : PolyActivation
    """
    return hidden_layer(X, first_layer, activation)[1] @ second_layer


def group_projections(R, mean, first_layer):
    r"""Projections :math:`R_{igr}^\top u_j` ``(n, G, r, m)`` and :math:`\bar x_{ig}^\top u_j`
    ``(n, G, m)`` (one GEMM for all patches, not ``n G`` small ones); ``mean=None`` when every
    group has one patch (``r = 1``: the patch is its own mean)."""
    Ut = np.asarray(first_layer, dtype=float).T
    n, G, r, f = R.shape
    T = (R.reshape(-1, f) @ Ut).reshape(n, G, r, -1)
    L = T[:, :, 0, :] if mean is None else (mean.reshape(-1, f) @ Ut).reshape(n, G, -1)
    return T, L


def group_activation(T, L, activation):
    r"""The group activations :math:`\phi_{ig}(u_j) = a \sum_r T_{igrj}^2 + b L_{igj} + c`
    ``(n, G, m)`` from the projections of :func:`group_projections`."""
    a, b, c = activation.coefficients
    return a * np.einsum("ngrm,ngrm->ngm", T, T) + b * L + c


def group_hidden(R, mean, first_layer, activation):
    r"""Projections :math:`R_{igr}^\top u_j` ``(n, G, r, m)`` and the group activations
    :math:`\phi_{ig}(u_j)` ``(n, G, m)``."""
    T, L = group_projections(R, mean, first_layer)
    return T, group_activation(T, L, activation)


def group_outputs(Phi, second_layer):
    r"""Outputs :math:`\sum_{j,g} \phi_{ig}(u_j)\,\alpha_{j,gC+k}` ``(n, C)`` from the group
    activations ``Phi`` ``(n, G, m)`` and the second layer ``(m, G*C)``."""
    n, G, m = Phi.shape
    A = np.asarray(second_layer, dtype=float)
    C = A.shape[1] // G
    return Phi.reshape(n, G * m) @ A.reshape(m, G, C).transpose(1, 0, 2).reshape(G * m, C)


def group_second_gradient(Phi, B):
    r"""Adjoint of :func:`group_outputs` in the second layer: :math:`\sum_i \phi_{ig}(u_j) B_{ik}`
    as ``(m, G*C)``."""
    n, G, m = Phi.shape
    out = Phi.reshape(n, G * m).T @ B
    return out.reshape(G, m, B.shape[1]).transpose(1, 0, 2).reshape(m, G * B.shape[1])


def group_first_gradient(R, mean, T, B, second_layer, activation):
    r"""Gradient in the filters of :math:`\langle B, \hat Y\rangle`: ``(m, f)``.

    :math:`\nabla_{u_j} = \sum_{i,g} w_{igj} \big(2a \sum_r (R_{igr}^\top u_j) R_{igr} + b \bar x_{ig}\big)`,
    :math:`w_{igj} = \sum_k B_{ik} \alpha_{j,gC+k}`; ``T``: the projections of :func:`group_hidden`.
    """
    a, b, _ = activation.coefficients
    n, G, r, m = T.shape
    A = np.asarray(second_layer, dtype=float).reshape(m, G, B.shape[1])
    w = np.einsum("nk,mgk->ngm", B, A, optimize=True)
    f = R.shape[-1]
    grad = (2.0 * a) * ((T * w[:, :, None, :]).reshape(-1, m).T @ R.reshape(-1, f))
    return grad + b * (w.reshape(-1, m).T @ mean.reshape(-1, f))


def group_forward(R, mean, M, activation, n_outputs: int):
    r"""Lifted map of the grouped lift: :math:`\hat Y_{ik} = \sum_g \langle A_{ig}, M_{gC+k}\rangle`
    for ``M`` of shape ``(P, f+1, f+1)``, with :math:`A_{ig} = \begin{bmatrix} a \sum_r R_{igr}
    R_{igr}^\top & \frac b2 \bar x_{ig} \\ \frac b2 \bar x_{ig}^\top & c\end{bmatrix}`."""
    a, b, c = activation.coefficients
    n, G, r, f = R.shape
    M = M.reshape(G, n_outputs, f + 1, f + 1)
    quad = np.einsum("ngrf,gkfe,ngre->nk", R, M[:, :, :f, :f], R, optimize=True)
    lin = np.einsum("ngf,gkf->nk", mean, M[:, :, :f, f], optimize=True)
    return a * quad + b * lin + c * M[:, :, f, f].sum(axis=0)[None, :]
