r"""The data layer: where the data matrix lives, and the only products the solvers take with it.

Column generation and the certificate touch the data only through

* :math:`X U^\top` (pre-activations, ``n x m``),
* :math:`X^\top B` (``d x k``), and
* :math:`X^\top \mathrm{diag}(v) X` (``d x d``, the certificate's quadratic forms).

:class:`~spectranet.data.host.HostData` computes them with numpy;
:class:`~spectranet.data.torchdata.TorchData` keeps ``X`` (and the targets) on a torch device — a
GPU with ``device="cuda"`` — and returns the small ``d x k`` / ``d x d`` results to the host in
float64. The ``n x m`` arrays stay on the device; the losses work on them unchanged (they are
written for any array namespace). :class:`~spectranet.data.daskdata.DaskData` keeps ``X`` and the
targets as row-chunked Dask arrays: every product is a Dask array operation that runs on whatever scheduler
is active (threads, processes, a ``distributed`` cluster), the ``n``-sized results stay chunked
on the workers, and only the ``d x k`` / ``d x d`` reductions and scalars come back to the
client. ``import spectranet`` imports neither torch nor dask.

The local phase and the certificate also take a few *composite* products, each one pass over the
data: :meth:`~spectranet.data.host.HostData.value_and_gradients` (an L-BFGS evaluation),
:meth:`~spectranet.data.host.HostData.second_layer_terms` (a Newton step on the second layer
with its line search) and :meth:`~spectranet.data.host.HostData.value_and_dual_products` (a
certificate). :class:`~spectranet.data.host.HostData` builds them from its elementary products (so
subclasses such as the grouped lift inherit them); :class:`~spectranet.data.daskdata.DaskData`
runs that same code on each row chunk (one task per chunk) and sums the chunks' packed
results in one computation.

Modules: :mod:`~spectranet.data.host` (numpy), :mod:`~spectranet.data.torchdata` (torch, any
device), :mod:`~spectranet.data.grouped` (the patch lift of the convolutional architectures),
:mod:`~spectranet.data.daskdata` (Dask, with its own validation), :mod:`~spectranet.data.lifted`
(the passes of the lifted engines: lifted Gram matrices and products with the lifted features),
:mod:`~spectranet.data.validation` and :mod:`~spectranet.data.targets` (in-memory input).
"""

from __future__ import annotations

from .daskdata import ChunkwiseLoss, DaskData, check_dask_data, encode_dask_targets
from .grouped import GroupedData
from .host import GRAM_ENTRIES, HostData, host_values, is_dask_array, is_torch_tensor
from .targets import encode_targets
from .torchdata import TorchData
from .validation import (
    SCALE_LIMIT,
    TOL_FLOOR,
    as_real_array,
    check_beta,
    check_data,
    check_max_iter,
    check_max_time,
    check_positive_beta,
    check_scale,
    check_tol,
)

__all__ = ["HostData", "TorchData", "GroupedData", "DaskData", "ChunkwiseLoss", "make_data", "host_values",
           "is_torch_tensor", "is_dask_array", "check_beta", "check_data", "check_positive_beta", "check_tol",
           "check_max_iter", "check_max_time", "TOL_FLOOR", "SCALE_LIMIT", "check_scale", "check_dask_data",
           "as_real_array", "encode_targets", "encode_dask_targets", "GRAM_ENTRIES"]


def make_data(X_input, X, Y, device=None):
    """The data backend of a problem: torch when ``X_input`` is a tensor or ``device`` is given,
    Dask when ``X`` is a Dask array, numpy otherwise. ``X``/``Y`` are the validated float64 host
    copies (the validated Dask arrays for Dask input)."""
    if is_dask_array(X):
        if device is not None:
            raise ValueError(f"device={device!r} does not apply to Dask arrays: the data stays on the "
                             "Dask workers (leave device=None)")
        return DaskData(X, Y)
    if device is None and not is_torch_tensor(X_input):
        return HostData(X, Y)
    if not is_torch_tensor(X_input):
        return TorchData(X, Y, device=device)
    from .._torch import import_torch

    torch = import_torch()
    # float32 tensors stay float32 (and the narrower floating ones become float32: their values
    # exactly); the others (float64, integers, booleans) float64, as numpy input would
    low = X_input.dtype.is_floating_point and torch.finfo(X_input.dtype).bits <= 32
    return TorchData(X_input, Y, device=device, dtype=torch.float32 if low else torch.float64)
