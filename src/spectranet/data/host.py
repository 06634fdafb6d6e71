r"""``X`` and ``Y`` as numpy arrays on the host: the reference backend, whose products every other
backend overrides or reuses chunk by chunk (see the package docstring)."""

from __future__ import annotations

import logging

import numpy as np
import scipy.linalg as sla

from ..kernels import lifted_dimension, lifted_features, lifted_map, network_outputs
from ..kernels.tangent import sample_terms
from ..losses import Loss

__all__ = ["HostData", "GRAM_ENTRIES", "is_torch_tensor", "is_dask_array"]

logger = logging.getLogger(__name__)

#: entries of the temporary of one block of rows in :meth:`HostData.gram` (32 MB in float64)
GRAM_ENTRIES = 1 << 22


def is_torch_tensor(a) -> bool:
    """Whether ``a`` is a torch tensor (without importing torch)."""
    return type(a).__module__.startswith("torch") and hasattr(a, "detach")


def host_values(a):
    """A torch tensor's values as a numpy array on the host, whatever its device, autograd state or
    dtype (the floating dtypes numpy lacks, bfloat16 and the float8 ones, as float32: their values
    exactly); anything else unchanged. A tensor of another layout than the dense one (sparse, MKL-DNN)
    or on the ``meta`` device (no values) is refused with a ``TypeError``."""
    if not is_torch_tensor(a):
        return a
    if str(a.layout) != "torch.strided":
        raise TypeError(f"a torch tensor of layout {a.layout} is not accepted; pass a dense one (.to_dense())")
    if a.device.type == "meta":
        raise TypeError("a torch tensor on the 'meta' device holds no values; pass one with data")
    a = a.detach().to("cpu").resolve_conj().resolve_neg()
    numpy_float = str(a.dtype) in ("torch.float16", "torch.float32", "torch.float64")
    return (a.float() if a.dtype.is_floating_point and not numpy_float else a).numpy()


def is_dask_array(a) -> bool:
    """Whether ``a`` is a Dask array (without importing dask)."""
    return type(a).__module__.startswith("dask") and hasattr(a, "chunks") and hasattr(a, "dask")


class HostData:
    """``X`` and ``Y`` as numpy arrays; every product in numpy (BLAS)."""

    device = "cpu"
    float32 = False

    def __init__(self, X: np.ndarray, Y: np.ndarray):
        self.X, self.Y = X, Y

    def asarray(self, a):
        """A host array on the data's device, in its dtype."""
        return a

    def host(self, a) -> np.ndarray:
        """An array of the data's device as a float64 numpy array."""
        return np.asarray(a, dtype=float)

    def matmul(self, U: np.ndarray):
        """:math:`X U^\\top`, shape (n, m), on the device."""
        return self.X @ self.asarray(U).T

    def rmatmul(self, B) -> np.ndarray:
        """:math:`X^\\top B` for ``B`` (n, k) on the device; float64 (d, k) on the host."""
        return self.host(self.X.T @ B)

    def gram(self, V) -> np.ndarray:
        """:math:`X^\\top \\mathrm{diag}(V_k) X` for each column ``k``: float64 (C, d, d) on the host,
        summed over blocks of rows (a temporary of at most :data:`GRAM_ENTRIES` entries, not
        ``n x d``: 400 MB at n = 10^6, d = 50)."""
        V = self.asarray(V)
        n, d = self.X.shape
        step = max(1, GRAM_ENTRIES // max(d, 1))
        grams = []
        for k in range(V.shape[1]):
            total = None
            for i in range(0, n, step):
                rows = self.X[i:i + step]
                part = (rows * V[i:i + step, k, None]).T @ rows
                total = part if total is None else total + part
            grams.append(self.host(total))
        return np.stack(grams)

    def dual_products(self, V):
        r"""The three reductions of a dual point ``V`` (n, C): :meth:`gram`, :math:`X^\top V`
        (d, C) and the column sums :math:`\mathbf{1}^\top V` (C,), float64 on the host."""
        return self.gram(V), self.rmatmul(self.asarray(V)), self.host(V.sum(axis=0))

    def hidden(self, first_layer, activation):
        r"""Pre-activations and activations :math:`(XU^\top, \sigma(XU^\top))` on the device."""
        H = self.matmul(first_layer)
        return H, activation(H)

    def outputs(self, first_layer, second_layer, activation):
        r"""Network outputs :math:`\sigma(XU^\top)A` (n, C): float64 numpy on the host."""
        return self.host(network_outputs(self.X, self.asarray(first_layer), self.asarray(second_layer),
                                         activation))

    # -- the lifted engines' passes ---------------------------------------------------------
    def forward(self, M, activation, n_outputs: int):
        r"""The lifted map :math:`\hat Y_{ik} = \langle A_i, M_k\rangle` for ``M`` ``(C, d+1, d+1)``:
        float64 ``(n, C)`` on the host (:func:`~spectranet.kernels.lift.lifted_map`)."""
        return self.host(lifted_map(self.X, np.asarray(M, dtype=float), activation))

    def lifted_gram(self, weights, activation) -> np.ndarray:
        r"""The lifted Hessian of a loss, :math:`\Phi^\top \mathrm{diag}(w) \Phi` (one pass over the
        data, in blocks of rows: the lifted features of a block at a time).

        Parameters
        ----------
        weights : ndarray of shape (n, C) or (n, C, C)
            The loss Hessian per sample (:meth:`Loss.hessian_blocks`): its diagonal for a loss
            separable over outputs (non-negative), the symmetric blocks otherwise.
        activation : PolyActivation

        Returns
        -------
        ndarray of shape (C, D, D) for separable weights (one block per output), or (C*D, C*D)
        (pairs in order, the ``(k, l)`` block :math:`\Phi^\top \mathrm{diag}(w_{:kl})\Phi`);
        ``D = (d+1)(d+2)/2``, float64 on the host.
        """
        w = np.asarray(self.host(weights), dtype=float)
        n, d = self.X.shape
        D, C = lifted_dimension(d), w.shape[1]
        step = max(1, GRAM_ENTRIES // D)
        separable = w.ndim == 2
        out = np.zeros((C, D, D)) if separable else np.zeros((C * D, C * D))
        for i in range(0, n, step):
            Phi = self.host(lifted_features(self.X[i:i + step], activation))
            wb = w[i:i + step]
            if separable:  # dsyrk on Phi^T, which is Fortran-ordered: no copy, half the flops
                for k in range(C):
                    root = np.sqrt(np.clip(wb[:, k], 0.0, None))
                    scaled = Phi if np.all(root == 1.0) else Phi * root[:, None]
                    out[k] = sla.blas.dsyrk(1.0, scaled.T, trans=0, beta=1.0, c=out[k], overwrite_c=1)
            else:
                for k in range(C):
                    for l in range(k, C):
                        out[k * D:(k + 1) * D, l * D:(l + 1) * D] += (Phi * wb[:, k, l, None]).T @ Phi
        if separable:  # dsyrk fills the upper triangle
            iu = np.triu_indices(D, 1)
            out[:, iu[1], iu[0]] = out[:, iu[0], iu[1]]
        else:
            for k in range(C):
                for l in range(k + 1, C):
                    out[l * D:(l + 1) * D, k * D:(k + 1) * D] = out[k * D:(k + 1) * D, l * D:(l + 1) * D].T
        return out

    def lifted_root(self, activation, sample_weight=None) -> np.ndarray:
        r"""The triangular factor ``R`` (``D x D``) of the QR factorization of the lifted features,
        :math:`R^\top R = \Phi^\top\Phi` (the squared loss's lifted Hessian, as a square root:
        what the face polish needs to see which directions change no output, down to rounding),
        accumulated over blocks of rows; float64 on the host. With ``sample_weight`` (positive,
        ``(n,)``), the rows scaled by their square roots: :math:`R^\top R = \Phi^\top W \Phi`."""
        n, d = self.X.shape
        D = lifted_dimension(d)
        step = max(1, GRAM_ENTRIES // D)
        R = np.zeros((0, D))
        for i in range(0, n, step):
            Phi = self.host(lifted_features(self.X[i:i + step], activation))
            if sample_weight is not None:
                Phi = Phi * np.sqrt(sample_weight[i:i + step])[:, None]
            R = np.linalg.qr(np.vstack([R, Phi]), mode="r")
        return _square(R, D)

    # -- the local phase's products, per pair (here a pair is an output) ----------------------
    n_groups = 1

    def apply_second(self, Phi, second_layer):
        r"""Outputs :math:`\Phi A` (n, C) from the activations of :meth:`hidden`, on the device."""
        return Phi @ self.asarray(second_layer)

    def second_gradient(self, Phi, B) -> np.ndarray:
        r"""Adjoint of :meth:`apply_second` in ``A``: :math:`\Phi^\top B`, float64 (m, C)."""
        return self.host(Phi.T @ B)

    def first_gradient(self, first_layer, hidden, B, second_layer, activation) -> np.ndarray:
        r"""Gradient of :math:`\langle B, \sigma(XU^\top)A\rangle` in ``U``: float64 (m, d)."""
        return self.rmatmul((B @ self.asarray(second_layer).T) * activation.derivative(hidden)).T

    def pair_column(self, Phi, j: int, p: int, Yhat):
        """Outputs (shaped as ``Yhat``, on the device) of a unit second-layer weight of neuron
        ``j`` on pair ``p``."""
        D = Yhat * 0.0
        D[:, p] = Phi[:, j]
        return D

    # -- composite products: one pass over the data each (see DaskData) ---------------------
    def value_and_gradients(self, first_layer, second_layer, loss: Loss, activation):
        r"""The loss :math:`\ell(\sigma(XU^\top)A, Y)` (a float) and its gradients in ``A`` (m, P)
        and ``U`` (m, d) (:meth:`second_gradient`, :meth:`first_gradient`)."""
        H, Phi = self.hidden(first_layer, activation)
        Yhat = self.apply_second(Phi, second_layer)
        G = loss.gradient(Yhat, self.Y)
        value = float(loss.value(Yhat, self.Y))
        return value, self.second_gradient(Phi, G), self.first_gradient(first_layer, H, G, second_layer,
                                                                        activation)

    def second_layer_terms(self, Phi, layers, loss: Loss, active=None):
        r"""Loss values of second layers ``layers`` (K, m, P) on the activations ``Phi`` of
        :meth:`hidden`: (K,); with ``active`` (a, 2) ``(neuron, pair)`` entries, also the
        gradient :math:`\Phi^\top \nabla\ell(\Phi A_0)` (m, P) and the Hessian (a, a) in those
        entries at :math:`A_0` (column ``c``: :meth:`Loss.hessp` along :meth:`pair_column` of
        entry ``c``); None for both without ``active``."""
        values = np.array([float(loss.value(self.apply_second(Phi, A), self.Y)) for A in layers])
        if active is None:
            return values, None, None
        Yhat = self.apply_second(Phi, layers[0])
        grad = self.second_gradient(Phi, loss.gradient(Yhat, self.Y))
        hessian = np.empty((len(active), len(active)))
        for c, (j, k) in enumerate(active):
            D = self.pair_column(Phi, j, k, Yhat)
            hessian[:, c] = self.second_gradient(Phi, loss.hessp(Yhat, self.Y, D))[active[:, 0], active[:, 1]]
        return values, grad, hessian

    def network_loss(self, first_layer, second_layer, loss: Loss, activation) -> float:
        r"""The loss :math:`\ell(\sigma(XU^\top)A, Y)` of a network (a float)."""
        Yhat = self.apply_second(self.hidden(first_layer, activation)[1], self.asarray(second_layer))
        return float(loss.value(Yhat, self.Y))

    def newton_terms(self, first_layer, second_layer, free, bases, loss: Loss, activation):
        """The loss's value, gradient and Hessian in the tangent coordinates of
        :func:`spectranet.newton.sample_terms` (a dense network: one group of one patch, ``X``)."""
        X = self.X
        return sample_terms(X[:, None, None, :], None, self.Y, first_layer, second_layer, free,
                            bases, loss, activation)

    def value_and_dual_products(self, Yhat, Y, V, loss: Loss):
        """The loss at outputs ``Yhat`` and targets ``Y`` (a float; the arrays of :meth:`outputs`
        and the problem's targets) and :meth:`dual_products` of ``V``."""
        return float(loss.value(Yhat, Y)), self.dual_products(V)


def _square(R: np.ndarray, D: int) -> np.ndarray:
    """A triangular factor with fewer rows than columns (fewer samples than D) padded to D x D."""
    return R if R.shape[0] == D else np.vstack([R, np.zeros((D - R.shape[0], D))])
