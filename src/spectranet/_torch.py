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
