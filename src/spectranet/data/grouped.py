r"""The data backend of the convolutional architectures: products with the grouped lift.

A :class:`~spectranet.architectures.PatchLift` (:math:`R` of shape ``(n, G, r, f)``, means
:math:`\bar x` of shape ``(n, G, f)``) replaces the design matrix; the formulas are those of
:mod:`spectranet.kernels.forward` (group activations :math:`\phi_{ig}(u)`, outputs, gradients) and
:mod:`spectranet.kernels.lift`. :class:`GroupedData` offers the operations of
:class:`~spectranet.data.host.HostData` in this form, so the local phase, column generation and
the certificate run unchanged on every architecture.
"""

from __future__ import annotations

import numpy as np

from ..architectures import PatchLift
from ..kernels import (
    activation_factors,
    group_first_gradient,
    group_forward,
    group_hidden,
    group_moments,
    group_outputs,
    group_second_gradient,
    lifted_dimension,
    sample_terms,
    smat,
    svec,
)
from .host import GRAM_ENTRIES, HostData, _square

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
        self._moments = None  # see moments()

    def moments(self) -> np.ndarray | None:
        r"""The groups' moments :func:`~spectranet.kernels.lift.group_moments` ``(G, n, D)``,
        computed on first use and kept, when they take no more memory than the lift itself
        (:math:`D \le r f`, pooling over many patches; ``None`` otherwise). With them the lifted
        map, its adjoint and the lifted Gram cost :math:`nGD`, :math:`nGDC` and :math:`n(GD)^2`
        instead of a pass over the lift each (:math:`nGrf^2`). MNIST 0/1 with a global-pooling 5 x 5
        CNN: 36 MB of moments against the lift's 1.5 GB."""
        n, G, r, f = self.R.shape
        if self._moments is None and lifted_dimension(f) <= r * f:
            moments = group_moments(self.R, self.mean)
            moments.flags.writeable = False
            self._moments = moments
        return self._moments

    @property
    def n_groups(self) -> int:
        return self.R.shape[1]

    def hidden(self, first_layer, activation):
        r"""Projections :math:`(R_{igr}^\top u_j)` ``(n, G, r, m)`` and the group activations
        :math:`\phi_{ig}(u_j)` ``(n, G, m)`` (:func:`~spectranet.kernels.forward.group_hidden`)."""
        return group_hidden(self.R, self.mean, first_layer, activation)

    def apply_second(self, Phi, second_layer):
        """Outputs :math:`\\sum_{j,g} \\phi_{ig}(u_j) \\alpha_{j,gC+k}`: ``(n, C)``."""
        return group_outputs(Phi, second_layer)

    def second_gradient(self, Phi, B) -> np.ndarray:
        """Adjoint of :meth:`apply_second` in the second layer: ``(m, G*C)``."""
        return group_second_gradient(Phi, B)

    def first_gradient(self, first_layer, hidden, B, second_layer, activation) -> np.ndarray:
        r"""Gradient in the filters of :math:`\langle B, \hat Y\rangle`: ``(m, f)``."""
        return group_first_gradient(self.R, self.mean, hidden, B, second_layer, activation)

    def newton_terms(self, first_layer, second_layer, free, bases, loss, activation):
        """:func:`~spectranet.kernels.tangent.sample_terms` on the grouped lift."""
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
        sums = np.tile(V.sum(axis=0), G)
        moments = self.moments()
        if moments is not None:  # the svec of sum_i V_ik [[M_ig, mean_ig], [mean_ig^T, 1]]
            full = smat(np.stack([(moments[g].T @ V).T for g in range(G)]), f + 1)  # (G, C, f+1, f+1)
            return full[..., :f, :f].reshape(G * C, f, f), full[..., :f, f].reshape(G * C, f).T, sums
        Q = np.empty((G, C, f, f))
        Vr = np.repeat(V, r, axis=0)  # (n*r, C): row i*r + s carries V_i
        for g in range(G):
            Rg = self.R[:, g].reshape(n * r, f)
            for k in range(C):
                Q[g, k] = (Rg * Vr[:, k, None]).T @ Rg
        lin = np.einsum("ngf,nk->gkf", self.mean, V, optimize=True).reshape(G * C, f).T
        return Q.reshape(G * C, f, f), lin, sums

    def outputs(self, first_layer, second_layer, activation):
        return self.apply_second(self.hidden(first_layer, activation)[1], second_layer)

    def forward(self, M, activation, n_outputs: int):
        r"""Lifted map: :math:`\hat Y_{ik} = \sum_g \langle A_{ig}, M_{gC+k}\rangle` for ``M``
        ``(P, f+1, f+1)`` (:func:`~spectranet.kernels.forward.group_forward`, or through the
        :meth:`moments`)."""
        moments = self.moments()
        if moments is None:
            return group_forward(self.R, self.mean, M, activation, n_outputs)
        G, p = moments.shape[0], M.shape[-1]
        weights = svec(M).reshape(G, n_outputs, -1) * activation_factors(p, activation)
        return sum(moments[g] @ weights[g].T for g in range(G))

    def lifted_features(self, activation) -> np.ndarray:
        """Explicit lifted features of each group ``(G, n, D)`` in the svec layout of
        :mod:`spectranet.kernels.lift`."""
        return self._features(slice(None), activation)

    def _features(self, rows, activation) -> np.ndarray:
        """:meth:`lifted_features` of the samples ``rows`` (from the :meth:`moments` when kept)."""
        moments = self.moments()
        f = self.R.shape[-1]
        moments = group_moments(self.R[rows], self.mean[rows]) if moments is None else moments[:, rows]
        return moments * activation_factors(f + 1, activation)

    def lifted_gram(self, weights, activation) -> np.ndarray:
        """:meth:`HostData.lifted_gram <spectranet.data.host.HostData.lifted_gram>` of the grouped
        lift: for separable weights one block per output over its pairs ``(g, k)``, ``g = 0..G-1``
        (``(C, G*D, G*D)``); otherwise all pairs in order ``p = g*C + k`` (``(P*D, P*D)``)."""
        w = np.asarray(weights, dtype=float)
        n, G, r, f = self.R.shape
        D, C = lifted_dimension(f), w.shape[1]
        step = max(1, GRAM_ENTRIES // (G * D))
        separable = w.ndim == 2
        out = np.zeros((C, G * D, G * D)) if separable else np.zeros((G * C * D, G * C * D))
        for i in range(0, n, step):
            rows = slice(i, i + step)
            # (rows, G*D): group g's features in columns g*D:(g+1)*D
            Phi = self._features(rows, activation).transpose(1, 0, 2)
            Phi = Phi.reshape(Phi.shape[0], G * D)
            for k in range(C):
                if separable:
                    out[k] += (Phi * w[rows, k, None]).T @ Phi
                    continue
                for l in range(C):
                    block = ((Phi * w[rows, k, l, None]).T @ Phi).reshape(G, D, G, D)
                    for g in range(G):  # pairs p = g*C + k, q = h*C + l
                        for h in range(G):
                            p, q = g * C + k, h * C + l
                            out[p * D:(p + 1) * D, q * D:(q + 1) * D] += block[g, :, h, :]
        return 0.5 * (out + out.swapaxes(-1, -2))

    def lifted_root(self, activation, sample_weight=None) -> np.ndarray:
        """:meth:`HostData.lifted_root <spectranet.data.host.HostData.lifted_root>` of the grouped
        lift: the factor of the groups' features side by side, ``(G*D, G*D)``."""
        n, G, r, f = self.R.shape
        D = lifted_dimension(f)
        step = max(1, GRAM_ENTRIES // (G * D))
        R = np.zeros((0, G * D))
        for i in range(0, n, step):
            rows = slice(i, i + step)
            Phi = self._features(rows, activation).transpose(1, 0, 2).reshape(-1, G * D)
            if sample_weight is not None:
                Phi = Phi * np.sqrt(sample_weight[rows])[:, None]
            R = np.linalg.qr(np.vstack([R, Phi]), mode="r")
        return _square(R, G * D)
