r"""Where the data matrix lives, and the only products the matrix-free solvers take with it.

Column generation and the certificate touch the data only through

* :math:`X U^\top` (pre-activations, ``n x m``),
* :math:`X^\top B` (``d x k``), and
* :math:`X^\top \mathrm{diag}(v) X` (``d x d``, the certificate's quadratic forms).

:class:`HostData` computes them with numpy; :class:`TorchData` keeps ``X`` (and the targets) on
a torch device — a GPU with ``device="cuda"`` — and returns the small ``d x k`` / ``d x d`` results
to the host in float64. The ``n x m`` arrays stay on the device; the losses work on them unchanged
(they are written for any array namespace). :class:`DaskData` keeps ``X`` and the targets as
row-chunked Dask arrays: every product is a Dask array operation that runs on whatever scheduler
is active (threads, processes, a ``distributed`` cluster), the ``n``-sized results stay chunked
on the workers, and only the ``d x k`` / ``d x d`` reductions and scalars come back to the
client. ``import spectranet`` imports neither torch nor dask.

The local phase and the certificate also take a few *composite* products, each one pass over the
data: :meth:`HostData.value_and_gradients` (an L-BFGS evaluation),
:meth:`HostData.second_layer_terms` (a Newton step on the second layer with its line search) and
:meth:`HostData.value_and_dual_products` (a certificate). :class:`HostData` builds them from its
elementary products (so subclasses such as the grouped lift inherit them); :class:`DaskData` runs
that same :class:`HostData` code on each row chunk (one task per chunk) and sums the chunks' packed
results in one computation.
"""

from __future__ import annotations

import logging

import numpy as np

from .losses import Loss
from .network import network_outputs

__all__ = ["HostData", "TorchData", "DaskData", "ChunkwiseLoss", "make_data", "is_torch_tensor",
           "is_dask_array"]

logger = logging.getLogger(__name__)

#: entries of the temporary of one block of rows in :meth:`HostData.gram` (32 MB in float64)
GRAM_ENTRIES = 1 << 22


def __getattr__(name):  # the Dask backend lives in dask_data.py (imported on first use)
    if name in ("DaskData", "ChunkwiseLoss"):
        from . import dask_data

        return getattr(dask_data, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def is_torch_tensor(a) -> bool:
    """Whether ``a`` is a torch tensor (without importing torch)."""
    return type(a).__module__.startswith("torch") and hasattr(a, "detach")


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
        from .newton import sample_terms

        X = self.X
        return sample_terms(X[:, None, None, :], None, self.Y, first_layer, second_layer, free,
                            bases, loss, activation)

    def value_and_dual_products(self, Yhat, Y, V, loss: Loss):
        """The loss at outputs ``Yhat`` and targets ``Y`` (a float; the arrays of :meth:`outputs`
        and the problem's targets) and :meth:`dual_products` of ``V``."""
        return float(loss.value(Yhat, Y)), self.dual_products(V)


class TorchData(HostData):
    """``X`` and ``Y`` as torch tensors on ``device``, in float64 or float32."""

    def __init__(self, X, Y, device=None, dtype=None):
        from ._torch import import_torch

        torch = import_torch()
        self._torch = torch
        if dtype is None:
            dtype = X.dtype if is_torch_tensor(X) and X.dtype in (torch.float32, torch.float64) else torch.float64
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float64 or torch.float32, got {dtype}")
        if device is None:
            device = X.device if is_torch_tensor(X) else "cpu"
        try:
            self.device = torch.device(device)
            self.X = torch.as_tensor(X, dtype=dtype, device=self.device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(f"cannot place the data on device={device!r}: {exc}") from exc
        self.dtype = dtype
        self.float32 = dtype == torch.float32
        self.Y = self.asarray(Y)

    def asarray(self, a):
        if not is_torch_tensor(a):  # a copy: network layers are read-only numpy arrays
            a = np.array(a, dtype=np.float64)
        return self._torch.as_tensor(a, dtype=self.dtype, device=self.device)

    def host(self, a) -> np.ndarray:
        if is_torch_tensor(a):
            return a.detach().to("cpu", self._torch.float64).numpy()
        return np.asarray(a, dtype=float)


def make_data(X_input, X: np.ndarray, Y: np.ndarray, device=None):
    """The data backend of a problem: torch when ``X_input`` is a tensor or ``device`` is given,
    Dask when ``X`` is a Dask array, numpy otherwise. ``X``/``Y`` are the validated float64 host
    copies (the validated Dask arrays for Dask input)."""
    if is_dask_array(X):
        from .dask_data import DaskData

        if device is not None:
            raise ValueError(f"device={device!r} does not apply to Dask arrays: the data stays on the "
                             "Dask workers (leave device=None)")
        return DaskData(X, Y)
    if device is None and not is_torch_tensor(X_input):
        return HostData(X, Y)
    dtype = X_input.dtype if is_torch_tensor(X_input) else None
    source = X_input if is_torch_tensor(X_input) else X
    return TorchData(source, Y, device=device, dtype=dtype)
