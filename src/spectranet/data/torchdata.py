"""``X`` and ``Y`` as torch tensors on any device (a GPU with ``device="cuda"``): the products of
:class:`~spectranet.data.host.HostData` run there, the small results come back to the host in
float64. torch is imported when such data is made, never by ``import spectranet``."""

from __future__ import annotations

import numpy as np

from .._torch import import_torch
from ..kernels import lifted_dimension, lifted_features, lifted_map
from .host import GRAM_ENTRIES, HostData, _square, is_torch_tensor

__all__ = ["TorchData"]


class TorchData(HostData):
    """``X`` and ``Y`` as torch tensors on ``device``, in float64 or float32."""

    def __init__(self, X, Y, device=None, dtype=None):
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
        except (RuntimeError, TypeError, ValueError) as exc:
            raise ValueError(f"device={device!r} is not a torch device ({exc}); use e.g. 'cpu' or "
                             "'cuda'") from exc
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={device!r} needs a CUDA build of PyTorch and a GPU, but this torch "
                             f"({torch.__version__}) has no CUDA device available; leave device=None "
                             "(numpy on the host) or use device='cpu'")
        try:  # (detached: the products build no autograd graph on a tensor that requires grad)
            self.X = torch.as_tensor(X.detach() if is_torch_tensor(X) else X, dtype=dtype, device=self.device)
        except (RuntimeError, TypeError, AssertionError) as exc:
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

    def forward(self, M, activation, n_outputs: int):
        """The lifted map on the device; float64 ``(n, C)`` on the host."""
        return self.host(lifted_map(self.X, self.asarray(M), activation))

    def lifted_gram(self, weights, activation) -> np.ndarray:
        """:meth:`HostData.lifted_gram <spectranet.data.host.HostData.lifted_gram>` on the device:
        the lifted features of a block of rows at a time, their weighted Gram matrices summed
        there; float64 on the host."""
        w = self.asarray(weights)
        n, d = self.X.shape
        D, C = lifted_dimension(d), w.shape[1]
        step = max(1, GRAM_ENTRIES // D)
        separable = w.dim() == 2
        shape = (C, D, D) if separable else (C * D, C * D)
        out = self._torch.zeros(shape, dtype=self.dtype, device=self.device)
        for i in range(0, n, step):
            Phi = lifted_features(self.X[i:i + step], activation)
            wb = w[i:i + step]
            for k in range(C):
                if separable:
                    out[k] += (Phi * wb[:, k, None]).T @ Phi
                    continue
                for l in range(C):
                    out[k * D:(k + 1) * D, l * D:(l + 1) * D] += (Phi * wb[:, k, l, None]).T @ Phi
        out = self.host(out)
        return 0.5 * (out + out.swapaxes(-1, -2))

    def lifted_root(self, activation, sample_weight=None) -> np.ndarray:
        """:meth:`HostData.lifted_root <spectranet.data.host.HostData.lifted_root>` on the device."""
        n, d = self.X.shape
        D = lifted_dimension(d)
        step = max(1, GRAM_ENTRIES // D)
        torch = self._torch
        R = torch.zeros((0, D), dtype=self.dtype, device=self.device)
        roots = None if sample_weight is None else self.asarray(np.sqrt(sample_weight))
        for i in range(0, n, step):
            Phi = lifted_features(self.X[i:i + step], activation)
            if roots is not None:
                Phi = Phi * roots[i:i + step, None]
            R = torch.linalg.qr(torch.cat([R, Phi]), mode="r")[1]
        return _square(self.host(R), D)
