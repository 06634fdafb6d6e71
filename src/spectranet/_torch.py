"""PyTorch forms of library objects. Imported lazily: ``import spectranet`` never imports torch."""

from __future__ import annotations

import numpy as np


def import_torch():
    """Import torch or raise an ImportError that says how to install it."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "this feature needs PyTorch, which is not installed; install the extra with "
            "`pip install 'spectranet[torch]'` (or `pip install torch`)"
        ) from exc
    return torch


def poly_network_module(network, dtype=None):
    """Build a ``torch.nn.Module`` equal to ``network`` (a :class:`~spectranet.PolyNetwork`).

    The module maps ``(N, d)`` inputs to ``(N,)`` for a scalar-output network and to
    ``(N, C)`` otherwise; its parameters are the first layer (``first.weight``, rows
    :math:`u_j`) and the second layer (``second.weight``).
    """
    if not network.architecture.is_dense:
        return conv_network_module(network, dtype=dtype)
    torch = import_torch()
    nn = torch.nn
    dtype = torch.float64 if dtype is None else dtype
    activation = network.activation  # PolyActivation works on tensors too
    scalar = network.second_layer.ndim == 1

    class PolyNetworkModule(nn.Module):
        def __init__(self):
            super().__init__()
            self.first = nn.Linear(network.n_features, network.n_neurons, bias=False, dtype=dtype)
            self.second = nn.Linear(network.n_neurons, network.n_outputs, bias=False, dtype=dtype)
            with torch.no_grad():
                self.first.weight.copy_(torch.tensor(np.array(network.first_layer), dtype=dtype))
                self.second.weight.copy_(torch.tensor(np.array(network.second_layer_2d.T), dtype=dtype))

        def forward(self, x):
            h = self.first(x)
            out = self.second(activation(h))
            return out[:, 0] if scalar else out

    return PolyNetworkModule()


def conv_network_module(network, dtype=None):
    """Build a ``torch.nn.Module`` equal to a CNN ``network`` (:class:`~spectranet.Conv2D`).

    ``Conv2d`` (filters ``conv.weight`` of shape ``(m, C, kh, kw)``, no bias), the activation,
    ``AvgPool2d(P)`` / a global mean / nothing, then ``second``: a linear layer from the
    ``m*G`` pooled activations (filter-major, groups row-major over the pooled map) to the
    ``C`` outputs. Takes images ``(N, C, H, W)`` (or rows of ``C*H*W`` values); returns ``(N,)``
    for a scalar-output network, ``(N, C)`` otherwise.
    """
    torch = import_torch()
    nn = torch.nn
    dtype = torch.float64 if dtype is None else dtype
    arch, activation = network.architecture, network.activation
    channels, m, G = arch.image_shape[0], network.n_neurons, network.n_groups
    scalar, C = network.scalar_output, network.n_outputs
    weights = np.array(network.first_layer).reshape((m, channels) + arch.kernel_size)
    second = np.array(network.second_layer).reshape(m * G, C).T

    class ConvPolyNetworkModule(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(channels, m, arch.kernel_size, stride=arch.stride, padding=arch.padding,
                                  bias=False, dtype=dtype)
            self.pool = nn.AvgPool2d(arch.pool) if isinstance(arch.pool, int) else None
            self.second = nn.Linear(m * G, C, bias=False, dtype=dtype)
            with torch.no_grad():
                self.conv.weight.copy_(torch.tensor(weights, dtype=dtype))
                self.second.weight.copy_(torch.tensor(second, dtype=dtype))

        def forward(self, x):
            if x.dim() == 2:
                x = x.reshape((x.shape[0],) + arch.image_shape)
            h = activation(self.conv(x))
            if self.pool is not None:
                h = self.pool(h)
            elif arch.pool == "global":
                h = h.mean(dim=(2, 3))
            out = self.second(h.flatten(1))
            return out[:, 0] if scalar else out

    return ConvPolyNetworkModule()


_DTYPES = ("float64", "float32")


def torch_dtype(dtype):
    """The torch floating dtype named by ``dtype`` (``"float64"``, ``"float32"``, a numpy or
    torch dtype); ValueError naming the parameter ``dtype`` otherwise."""
    torch = import_torch()
    if isinstance(dtype, torch.dtype):
        name = str(dtype).removeprefix("torch.")
    else:
        try:
            name = np.dtype(dtype).name
        except TypeError:
            name = None
    if name not in _DTYPES:
        raise ValueError(f"dtype must be one of {list(_DTYPES)}, got {dtype!r}")
    return getattr(torch, name)


def torch_device(device):
    """The ``torch.device`` named by ``device`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``, a device);
    ValueError naming the parameter ``device`` when it is invalid or CUDA is unavailable."""
    torch = import_torch()
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}") from None
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available to torch")
    return dev


def make_optimizer(name, params, lr):
    """``"sgd"`` (momentum 0.9, as in the paper's experiments) or ``"adam"`` on ``params``."""
    torch = import_torch()
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    return torch.optim.Adam(params, lr=lr)


def synchronize(device) -> None:
    """Wait for the device's queued kernels (wall-clock timing on CUDA)."""
    torch = import_torch()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
