r"""Where the data matrix lives, and the only products the matrix-free solvers take with it.

Column generation and the certificate touch the data only through

* :math:`X U^\top` (pre-activations, ``n x m``),
* :math:`X^\top B` (``d x k``), and
* :math:`X^\top \mathrm{diag}(v) X` (``d x d``, the certificate's quadratic forms).

:class:`HostData` computes them with numpy; :class:`TorchData` keeps ``X`` (and the targets) on
a torch device — a GPU with ``device="cuda"`` — and returns the small ``d x k`` / ``d x d`` results
to the host in float64. The ``n x m`` arrays stay on the device; the losses work on them unchanged
(they are written for any array namespace). ``import spectranet`` never imports torch.
"""

from __future__ import annotations

import numpy as np

__all__ = ["HostData", "TorchData", "make_data", "is_torch_tensor"]


def is_torch_tensor(a) -> bool:
    """Whether ``a`` is a torch tensor (without importing torch)."""
    return type(a).__module__.startswith("torch") and hasattr(a, "detach")


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
        """:math:`X^\\top \\mathrm{diag}(V_k) X` for each column ``k``: float64 (C, d, d) on the host."""
        V = self.asarray(V)
        return np.stack([self.host((self.X * V[:, k, None]).T @ self.X) for k in range(V.shape[1])])


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
    numpy otherwise. ``X``/``Y`` are the validated float64 host copies."""
    if device is None and not is_torch_tensor(X_input):
        return HostData(X, Y)
    dtype = X_input.dtype if is_torch_tensor(X_input) else None
    source = X_input if is_torch_tensor(X_input) else X
    return TorchData(source, Y, device=device, dtype=dtype)
