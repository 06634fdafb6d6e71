r"""The data backend of the convolutional architectures: products with the grouped lift.

For a :class:`~spectranet.architectures.PatchLift` (:math:`R` of shape ``(n, G, r, f)``, means
:math:`\bar x` of shape ``(n, G, f)``), the group-averaged activation of a filter :math:`u` is

.. math:: \phi_{ig}(u) = a \sum_r (R_{igr}^\top u)^2 + b\, \bar x_{ig}^\top u + c ,

and a network with filters :math:`u_j` and second layer :math:`\alpha_{jgk}` outputs
:math:`\hat y_{ik} = \sum_{j,g} \phi_{ig}(u_j)\,\alpha_{jgk}`. Pairs are indexed
:math:`p = gC + k` (the layout of ``PolyNetwork.second_layer_2d``). :class:`GroupedData` offers
the operations of :class:`~spectranet.data.HostData` in this form, so the local phase, column
generation and the certificate run unchanged on every architecture.
"""

from __future__ import annotations

import numpy as np

from .architectures import PatchLift
from .data import HostData

__all__ = ["GroupedData"]


class GroupedData(HostData):
    """Grouped lift and targets as float64 numpy arrays.

    Parameters
    ----------
    lift : PatchLift
    Y : ndarray of shape (n, C) or None (prediction only)
    """

    def __init__(self, lift: PatchLift, Y):
        self.R, self.mean = lift.R, lift.mean
        self.X = None  # no design matrix: every product goes through the lift
        self.Y = Y

    @property
    def n_groups(self) -> int:
        return self.R.shape[1]

    def hidden(self, first_layer, activation):
        r"""Projections :math:`(R_{igr}^\top u_j)` ``(n, G, r, m)`` and the group activations
        :math:`\phi_{ig}(u_j)` ``(n, G, m)``."""
        a, b, c = activation.coefficients
        Ut = np.asarray(first_layer, dtype=float).T
        n, G, r, f = self.R.shape
        T = (self.R.reshape(-1, f) @ Ut).reshape(n, G, r, -1)  # one GEMM, not n*G small ones
        Phi = a * np.einsum("ngrm,ngrm->ngm", T, T) + b * (self.mean.reshape(-1, f) @ Ut).reshape(n, G, -1) + c
        return T, Phi

    def apply_second(self, Phi, second_layer):
        """Outputs :math:`\\sum_{j,g} \\phi_{ig}(u_j) \\alpha_{j,gC+k}`: ``(n, C)``."""
        n, G, m = Phi.shape
        A = np.asarray(second_layer, dtype=float)
        C = A.shape[1] // G
        return Phi.reshape(n, G * m) @ A.reshape(m, G, C).transpose(1, 0, 2).reshape(G * m, C)

    def second_gradient(self, Phi, B) -> np.ndarray:
        """Adjoint of :meth:`apply_second` in the second layer: ``(m, G*C)``."""
        n, G, m = Phi.shape
        out = Phi.reshape(n, G * m).T @ B  # (G*m, C)
        return out.reshape(G, m, B.shape[1]).transpose(1, 0, 2).reshape(m, G * B.shape[1])

    def first_gradient(self, first_layer, hidden, B, second_layer, activation) -> np.ndarray:
        r"""Gradient in the filters of :math:`\langle B, \hat Y\rangle`: ``(m, f)``.

        :math:`\nabla_{u_j} = \sum_{i,g} w_{igj} \big(2a \sum_r (R_{igr}^\top u_j) R_{igr} + b \bar x_{ig}\big)`,
        :math:`w_{igj} = \sum_k B_{ik} \alpha_{j,gC+k}`.
        """
        a, b, _ = activation.coefficients
        T = hidden
        n, G, r, m = T.shape
        A = np.asarray(second_layer, dtype=float).reshape(m, G, B.shape[1])
        w = np.einsum("nk,mgk->ngm", B, A, optimize=True)
        f = self.R.shape[-1]
        grad = (2.0 * a) * ((T * w[:, :, None, :]).reshape(-1, m).T @ self.R.reshape(-1, f))
        return grad + b * (w.reshape(-1, m).T @ self.mean.reshape(-1, f))

    def newton_terms(self, first_layer, second_layer, free, bases, loss, activation):
        """:func:`spectranet.newton.sample_terms` on the grouped lift."""
        from .newton import sample_terms

        return sample_terms(self.R, self.mean, self.Y, first_layer, second_layer, free, bases, loss,
                            activation)

    def pair_column(self, Phi, j: int, p: int, Yhat):
        """Outputs of a unit weight on neuron ``j``'s pair ``p``: shaped as ``Yhat`` ``(n, C)``."""
        D = np.zeros_like(Yhat)
        g, k = divmod(p, Yhat.shape[1])
        D[:, k] = Phi[:, g, j]
        return D

    def dual_products(self, V):
        r"""For each pair :math:`p = (g, k)`: :math:`\sum_i V_{ik} M_{ig}` ``(P, f, f)``,
        :math:`\sum_i V_{ik} \bar x_{ig}` as ``(f, P)`` and :math:`\sum_i V_{ik}` ``(P,)``."""
        V = np.asarray(V, dtype=float)
        n, G, r, f = self.R.shape
        C = V.shape[1]
        Q = np.empty((G, C, f, f))
        Vr = np.repeat(V, r, axis=0)  # (n*r, C): row i*r + s carries V_i
        for g in range(G):
            Rg = self.R[:, g].reshape(n * r, f)
            for k in range(C):
                Q[g, k] = (Rg * Vr[:, k, None]).T @ Rg
        lin = np.einsum("ngf,nk->gkf", self.mean, V, optimize=True).reshape(G * C, f).T
        sums = np.tile(V.sum(axis=0), G)
        return Q.reshape(G * C, f, f), lin, sums

    def outputs(self, first_layer, second_layer, activation):
        return self.apply_second(self.hidden(first_layer, activation)[1], second_layer)

    def forward(self, M, activation, n_outputs: int):
        r"""Lifted map: :math:`\hat Y_{ik} = \sum_g \langle A_{ig}, M_{gC+k}\rangle` for ``M``
        ``(P, f+1, f+1)``."""
        a, b, c = activation.coefficients
        n, G, r, f = self.R.shape
        M = M.reshape(G, n_outputs, f + 1, f + 1)
        quad = np.einsum("ngrf,gkfe,ngre->nk", self.R, M[:, :, :f, :f], self.R, optimize=True)
        lin = np.einsum("ngf,gkf->nk", self.mean, M[:, :, :f, f], optimize=True)
        return a * quad + b * lin + c * M[:, :, f, f].sum(axis=0)[None, :]

    def lifted_features(self, activation) -> np.ndarray:
        """Explicit lifted features of each group ``(G, n, p)`` in the layout of
        :meth:`~spectranet.problem.Problem.lifted_features`."""
        a, b, c = activation.coefficients
        n, G, r, f = self.R.shape
        iu, ju = np.triu_indices(f, 1)
        out = []
        for g in range(G):
            Rg = self.R[:, g]
            M = np.einsum("nrf,nre->nfe", Rg, Rg)
            out.append(np.hstack([a * np.einsum("nff->nf", M), 2.0 * a * M[:, iu, ju], b * self.mean[:, g],
                                  np.full((n, 1), c)]))
        return np.stack(out)
