r"""Where the sample-space interior point's ``n``-sized objects live: its Schur kernels, their
factors and the products with them (:class:`~spectranet.solvers.ipm_newton._Newton`).

:class:`HostSchur` keeps them in numpy on the host (the functions of :mod:`._schur`);
:class:`DeviceSchur` on a torch device, in float64, with the same formulas: for data on a GPU the
``n x n`` kernels (:math:`O(n^2 d)` each), the Cholesky factor (:math:`O(n^3)`) and the solves run
there, and only ``n``-vectors and ``(d+1) x (d+1)`` matrices cross to the host. torch is imported
only with torch data.
"""

from __future__ import annotations

import numpy as np

from ._schur import NumpyOps, _factor, kernel_sum, split_rest_kernel

__all__ = ["HostSchur", "DeviceSchur", "device_arrays", "runs_on_device", "schur_backend"]


class HostSchur(NumpyOps):
    """The numpy forms (the data's float64 host copy ``X``); every method takes and returns numpy.
    Its array operations (:class:`~spectranet.solvers._schur.NumpyOps`, or a device's in
    :class:`DeviceSchur`) are those the shared kernel formulas run on."""

    on_device = False

    def __init__(self, X):
        self.X = X

    def kernel_sum(self, factors, coefficients, outer=()):
        """:func:`~spectranet.solvers._schur.kernel_sum` on this backend."""
        return kernel_sum(self.X, factors, coefficients, outer, ops=self)

    def split_rest_kernel(self, Ra, Ri, coefficients, outer=()):
        """:func:`~spectranet.solvers._schur.split_rest_kernel` on this backend."""
        return split_rest_kernel(self.X, Ra, Ri, coefficients, outer, ops=self)

    def rows_times(self, R):
        """``X @ R`` for a small ``R`` (``d x r``)."""
        return self.X @ R

    @staticmethod
    def index(i):
        """Integer indices for the arrays of this backend."""
        return i

    @staticmethod
    def hstack(blocks, n):
        return np.hstack(blocks) if blocks else np.zeros((n, 0))

    @staticmethod
    def outer(u, v):
        return np.outer(u, v)

    @staticmethod
    def copy(K):
        return K.copy()

    @staticmethod
    def add_diagonal(D, values):
        D[np.diag_indices(len(D))] += values

    @staticmethod
    def factor(D, Fs):
        return _factor(D, Fs)

    @staticmethod
    def kernel_times(K, F, v):
        """:math:`(K + FF^\\top) v` (``K`` None: the :math:`FF^\\top` part only)."""
        out = F @ (F.T @ v)
        return out if K is None else K @ v + out

    @staticmethod
    def transposed_times(F, v):
        return F.T @ v


class DeviceSchur(HostSchur):
    """The torch forms on the device of ``X`` (a float64 tensor); inputs may be numpy, the
    results of :meth:`factor`'s solver, :meth:`kernel_times` and :meth:`transposed_times` come
    back to the host. The kernels are always stored (the interior point's low-memory mode saves
    host memory; on a device, order 20,000 takes 3.2 GB per kernel)."""

    on_device = True

    def __init__(self, X):
        import torch

        self.torch, self.X = torch, X
        self.kw = {"dtype": torch.float64, "device": X.device}

    def to(self, a):
        if isinstance(a, self.torch.Tensor):
            return a
        return self.torch.as_tensor(np.require(a, dtype=float, requirements="W"), **self.kw)  # (read-only: a copy)

    def host(self, a):
        return a.detach().cpu().numpy() if isinstance(a, self.torch.Tensor) else a

    def rows_times(self, R):
        return self.X @ self.to(R)

    def index(self, i):
        return self.torch.as_tensor(np.array(i), device=self.X.device)

    # -- the array operations of the shared kernel formulas (NumpyOps's, on the device) ------------------
    def zeros(self, n):
        return self.torch.zeros(n, **self.kw)

    def ones(self, n):
        return self.torch.ones(n, **self.kw)

    def empty(self, n):
        return self.torch.empty((n, n), **self.kw)

    def column_stack(self, columns):
        return self.torch.column_stack(columns)

    def multiply(self, a, b, out):
        return self.torch.mul(a, b, out=out)

    def add(self, a, b, out):
        return self.torch.add(a, b, out=out)

    @staticmethod
    def product(a, b):
        return a @ b.T

    def accumulate(self, K, left, right):
        return K.addmm_(self.torch.hstack(left), self.torch.hstack(right).T)

    def hstack(self, blocks, n):
        return self.torch.hstack(blocks) if blocks else self.torch.zeros((n, 0), **self.kw)

    def outer(self, u, v):
        return self.torch.outer(self.to(u), self.to(v))

    @staticmethod
    def copy(K):
        return K.clone()

    def add_diagonal(self, D, values):
        D.diagonal().add_(self.to(values) if np.ndim(values) else values)

    def factor(self, D, Fs):
        """:func:`~spectranet.solvers._schur._factor` on the device (``D`` is consumed): the
        solver of :math:`(D + F_s F_s^\\top) u = b` for a numpy ``b``, returning numpy ``(u, z)``."""
        torch = self.torch
        L, info = torch.linalg.cholesky_ex(D)
        if int(info) != 0:  # indefinite by rounding (polyhedral losses near the optimum)
            D.diagonal().add_(1e-13 * float(D.diagonal().abs().max()))
            L, info = torch.linalg.cholesky_ex(D)
            if int(info) != 0:
                raise np.linalg.LinAlgError("the Schur matrix is not positive definite")
        del D
        q = Fs.shape[1]
        tri = torch.linalg.solve_triangular
        if q == 0:
            return lambda rhs: (self.host(torch.cholesky_solve(self.to(rhs)[:, None], L)[:, 0]), np.zeros(0))
        Gs = tri(L, Fs, upper=False)
        n = Fs.shape[0]
        Q, R = torch.linalg.qr(torch.vstack([Gs, torch.eye(q, **self.kw)]))  # (see _factor: never normal equations)
        Qn = Q[:n]

        def solve(rhs):
            c = tri(L, self.to(rhs)[:, None], upper=False)
            z = tri(R, Qn.T @ c, upper=True)
            u = tri(L.T, c - Gs @ z, upper=True)
            return self.host(u[:, 0]), self.host(z[:, 0])

        return solve

    def kernel_times(self, K, F, v):
        v = self.to(v)
        out = F @ (F.T @ v)
        return self.host(out if K is None else K @ v + out)

    def transposed_times(self, F, v):
        return self.host(F.T @ self.to(v))


def runs_on_device(problem) -> bool:
    """Whether the sample-space interior point should iterate on the data's device: float64 torch
    data on a device other than the CPU (where the host's numpy is the same hardware), a loss
    separable over outputs (softmax couples the outputs into one system of order ``nC``, formed
    on the host) and :func:`device_arrays` ``(C)`` arrays of order ``n`` free there."""
    data = problem.data
    if not (_device_capable(problem) and data.device.type != "cpu"):
        return False
    return device_memory_free(data) >= device_arrays(problem.n_outputs) * 8 * problem.n_samples ** 2


def _device_capable(problem) -> bool:
    data = problem.data
    return type(data).__name__ == "TorchData" and not data.float32 and not problem.loss.multi_output_only


def device_arrays(C: int) -> int:
    """``n x n`` float64 arrays the device path holds at its peak for ``C`` outputs: a kernel and a
    Cholesky factor per output (kept for the iteration's solves), the Schur matrix being factored,
    the split corrections (``F``, its triangular solve and its QR: up to three ``n x n/2``) and the
    products of the split rest: ``2C + 4``."""
    return 2 * C + 4


def device_memory_free(data) -> float:
    """Bytes available on the device of torch ``data``: free on a CUDA device
    (``torch.cuda.mem_get_info``) plus what PyTorch's allocator caches there unused; other devices
    report none, taken as unlimited."""
    torch = data._torch
    if data.device.type == "cuda":
        cached = torch.cuda.memory_reserved(data.device) - torch.cuda.memory_allocated(data.device)
        return float(torch.cuda.mem_get_info(data.device)[0] + cached)
    return float("inf")


def schur_backend(problem):
    """:class:`DeviceSchur` for float64 torch data and a loss separable over outputs (the caller,
    :class:`~spectranet.solvers.native.NativeSolver`, hands the interior point a torch problem only
    where :func:`runs_on_device`), :class:`HostSchur` otherwise."""
    return DeviceSchur(problem.data.X) if _device_capable(problem) else HostSchur(problem.X)
