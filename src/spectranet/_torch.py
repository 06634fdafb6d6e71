"""PyTorch forms of library objects. Imported lazily: ``import spectranet`` never imports torch.

Networks as modules (:func:`poly_network_module`), the CNN's forward pass
(:func:`conv_forward`, the one torch formula of a :class:`~spectranet.Conv2D` network, used by
the exported module and by the backprop baseline) and the baseline's minibatch training loop
(:func:`train_minibatch`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

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
    dtype = torch.float64 if dtype is None else torch_dtype(dtype)  # (a name, as the estimators take)
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


def conv_forward(x, filters, second, architecture, activation):
    r"""The CNN's outputs in torch: the one torch formula of a :class:`~spectranet.Conv2D` network.

    ``conv2d`` with the filters (no bias), the activation, ``avg_pool2d(P)`` / the global mean /
    nothing, then the contraction with the second layer over (filter, group):

    .. math:: \hat y_{ik} = \sum_{j,g} \alpha_{jgk}\, \frac{1}{|g|} \sum_{l \in g} \sigma(x_{il}^\top u_j).

    Parameters
    ----------
    x : tensor of shape (N, C, H, W), (N, H, W) (one channel) or (N, C*H*W)
    filters : tensor of shape (m, C*kh*kw)
        Filters :math:`u_j` in the layout of a ``Conv2d`` weight ``(C, kh, kw)`` (used as given:
        normalize them first for the unit-norm formulation).
    second : tensor of shape (m, G, n_outputs) or (m, G*n_outputs)
        :math:`\alpha_{jgk}`, pairs ``p = g*n_outputs + k`` (``PolyNetwork.second_layer_2d``).
    architecture : Conv2D
    activation : PolyActivation or callable on tensors

    Returns
    -------
    tensor of shape (N, n_outputs)
    """
    torch = import_torch()
    F = torch.nn.functional
    arch = architecture
    if x.dim() == 2:
        x = x.reshape((x.shape[0],) + arch.image_shape)
    elif x.dim() == 3:
        x = x[:, None]
    m, G = filters.shape[0], arch.n_groups()
    second = second.reshape(m * G, second.shape[-1] if second.dim() == 3 else second.shape[-1] // G)
    if m == 0:  # the empty network
        return x.new_zeros((x.shape[0], second.shape[1]))
    h = activation(F.conv2d(x, filters.reshape((m, arch.image_shape[0]) + arch.kernel_size),
                            stride=arch.stride, padding=arch.padding))
    if arch.pool == "global":
        h = h.mean(dim=(2, 3))
    elif arch.pool is not None:
        h = F.avg_pool2d(h, arch.pool)  # non-overlapping windows; a remainder is dropped
    return h.reshape(x.shape[0], m * G) @ second


#: rows of a CNN evaluation are processed in chunks whose conv output holds about this many floats
CONV_CHUNK_FLOATS = 1 << 20


def conv_outputs(x, filters, second, architecture, activation):
    """:func:`conv_forward` over chunks of rows (bounded memory when evaluating large data sets).

    numpy arrays in (computed in float64 on the CPU) give a numpy array out; tensors give a
    tensor (differentiable; a minibatch that needs gradients is computed in one piece).
    """
    torch = import_torch()
    numpy_in = not isinstance(x, torch.Tensor)
    if numpy_in:
        x, filters, second = (torch.as_tensor(np.asarray(a, dtype=float)) for a in (x, filters, second))
    m = max(1, filters.shape[0])
    step = max(1, CONV_CHUNK_FLOATS // (m * architecture.n_patches))
    training = torch.is_grad_enabled() and (filters.requires_grad or second.requires_grad)
    if training or x.shape[0] <= step:
        out = conv_forward(x, filters, second, architecture, activation)
    else:
        out = torch.cat([conv_forward(x[s:s + step], filters, second, architecture, activation)
                         for s in range(0, x.shape[0], step)])
    return out.numpy() if numpy_in else out


def conv_default_width(architecture, n_outputs: int, cap: int = 256) -> int:
    """Default number of filters of a backprop CNN: :math:`2(f+1)GC`, the bound on the convex
    program's width, capped at ``max(2(f+1)C, cap)`` (without pooling ``G`` is the number of
    patches, e.g. 676 for 3x3 filters on 28x28 images, and the bound is far too wide to train)."""
    per_pair = 2 * (architecture.filter_size + 1) * n_outputs
    return int(min(per_pair * architecture.n_groups(), max(per_pair, cap)))


def conv_network_module(network, dtype=None):
    """Build a ``torch.nn.Module`` equal to a CNN ``network`` (:class:`~spectranet.Conv2D`).

    Parameters: ``conv.weight`` (a ``Conv2d`` without bias, filters ``(m, C, kh, kw)``) and
    ``second.weight`` (a ``Linear`` from the ``m*G`` pooled activations, filter-major, groups
    row-major over the pooled map, to the outputs); the forward pass is :func:`conv_forward`
    (``Conv2d``, the activation, ``AvgPool2d(P)`` / a global mean / nothing, the linear layer).
    Takes images ``(N, C, H, W)`` (or rows of ``C*H*W`` values); returns ``(N,)`` for a
    scalar-output network, ``(N, C)`` otherwise.
    """
    torch = import_torch()
    nn = torch.nn
    dtype = torch.float64 if dtype is None else torch_dtype(dtype)
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
            self.second = nn.Linear(m * G, C, bias=False, dtype=dtype)
            with torch.no_grad():
                self.conv.weight.copy_(torch.tensor(weights, dtype=dtype))
                self.second.weight.copy_(torch.tensor(second, dtype=dtype))

        def forward(self, x):
            filters = self.conv.weight.reshape(m, arch.filter_size)
            out = conv_forward(x, filters, self.second.weight.T.reshape(m, G, C), arch, activation)
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


#: An epoch objective above this multiple of the starting objective (that of the initial network)
#: counts as divergence. In a sweep of SGD and Adam (lr 0.03 to 30) on small regression and
#: classification problems, runs that came back below their start peaked at under 1e4 times it
#: (Adam at lr=30), while exploding runs grew by many orders of magnitude per epoch and never came
#: back: the factor leaves a wide margin for transients and still stops an explosion about one epoch
#: after it starts, long before the objective overflows to inf (about 1e308).
DIVERGENCE_FACTOR = 1e6


def diverging(value: float, start: float) -> bool:
    """Whether the epoch objective ``value`` counts as divergence of a run whose starting objective
    is ``start``: it is NaN or infinite, or ``start > 0`` and it exceeds
    :data:`DIVERGENCE_FACTOR` times ``start``."""
    return not math.isfinite(value) or (start > 0 and value > DIVERGENCE_FACTOR * start)


@dataclass
class Training:
    """What :func:`train_minibatch` returns.

    Attributes
    ----------
    curve, validation_curve : list of (float, int, float)
        ``(wall_time_s, epoch, objective)`` from epoch 0 (the start); ``validation_curve`` is None
        without validation data.
    weights : tuple of ndarray
        The final weights (float64), or when training diverged those of the epoch with the lowest
        objective (``best_epoch``; 0 is the initial network).
    epochs : int
    elapsed : float
        Seconds of training steps (evaluations excluded).
    diverged : bool
        An epoch objective was NaN, infinite or above :data:`DIVERGENCE_FACTOR` times the starting
        objective (:func:`diverging`); training stopped there.
    value, best : float
        Last and lowest recorded objective.
    best_epoch : int
        The epoch of ``best`` (0: the start).
    """

    curve: list
    validation_curve: list | None
    weights: tuple
    epochs: int
    elapsed: float
    diverged: bool
    value: float
    best: float
    best_epoch: int


def as_tensor(a, dtype, device):
    """A numpy array as a tensor of ``dtype`` on ``device`` (copied when it is read-only)."""
    torch = import_torch()
    a = np.ascontiguousarray(a)
    return torch.as_tensor(a if a.flags.writeable else a.copy(), dtype=dtype, device=device)


def train_minibatch(Xt, Yt, W0, A0, *, minibatch_objective, evaluate, optimizer, lr, batch_size,
                    max_epochs, rng, on_epoch=None) -> Training:
    """Minibatch descent of the backprop baseline (:mod:`spectranet.baseline`) on weights ``(W, A)``.

    Each epoch visits the samples (rows of the tensors ``Xt``, ``Yt``) in the order of
    ``rng.permutation(n)`` in batches of ``batch_size`` (None: full batch), stepping ``optimizer``
    (:func:`make_optimizer`) on ``minibatch_objective(Xb, Yb, W, A, idx)`` (``idx``: the batch's
    rows). ``evaluate(W, A)`` (called without gradients at the start and after each epoch) returns
    the training objective and, if any, the validation objective; training stops early when the
    former diverges (:func:`diverging`: not finite, or above :data:`DIVERGENCE_FACTOR` times its
    value at the start).
    ``on_epoch(epoch, value, elapsed)`` is called after each epoch. ``W0``, ``A0`` (numpy) are
    copied to the dtype and device of ``Xt``.
    """
    torch = import_torch()
    n, device = Xt.shape[0], Xt.device
    W = as_tensor(W0, Xt.dtype, device).clone().requires_grad_(True)  # a copy: W0, A0 stay the start
    A = as_tensor(A0, Xt.dtype, device).clone().requires_grad_(True)
    opt = make_optimizer(optimizer, [W, A], lr)
    bs = n if batch_size is None else min(int(batch_size), n)
    curve, vcurve = [], []

    def record(elapsed, epoch):
        with torch.no_grad():
            values = evaluate(W, A)
        curve.append((elapsed, epoch, values[0]))
        if len(values) > 1:
            vcurve.append((elapsed, epoch, values[1]))
        return values[0]

    value = start = record(0.0, 0)
    best = (value, W0, A0, 0)  # lowest objective so far and its epoch: the fallback if training diverges
    elapsed, epoch, last = 0.0, 0, (W0, A0)
    diverged = diverging(value, start)
    while not diverged and epoch < max_epochs:
        epoch += 1
        tic = time.perf_counter()
        perm = torch.as_tensor(rng.permutation(n), device=device)
        for start in range(0, n, bs):
            idx = perm[start:start + bs]
            step = minibatch_objective(Xt[idx], Yt[idx], W, A, idx)
            opt.zero_grad(set_to_none=True)
            step.backward()
            opt.step()
        synchronize(device)
        elapsed += time.perf_counter() - tic
        value = record(elapsed, epoch)
        last = (W.detach().cpu().numpy().astype(np.float64), A.detach().cpu().numpy().astype(np.float64))
        if value < best[0]:
            best = (value, *last, epoch)
        if on_epoch is not None:
            on_epoch(epoch, value, elapsed)
        diverged = diverging(value, start)
    weights = tuple(np.array(a, dtype=np.float64) for a in best[1:3]) if diverged else last
    return Training(curve, vcurve or None, weights, epoch, elapsed, diverged, value, best[0], best[3])
