r"""The two-layer polynomial-activation network :math:`f(x) = \sum_j \sigma(x^\top u_j)\,\alpha_j`.

The forward pass itself is the kernel layer's (:func:`~spectranet.kernels.forward.network_outputs`
and its grouped form), the one implementation used by prediction, objectives, certificates and
solvers.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np

from .activations import PolyActivation, as_activation
from .architectures import Conv2D, Dense, architecture_from_dict, check_architecture
from .data import check_beta, check_data, encode_targets
from .kernels import group_hidden, group_outputs, network_outputs
from .losses import get_loss
from .witness import Witness

__all__ = ["PolyNetwork", "NPZ_FORMAT_VERSION"]

NPZ_FORMAT_VERSION = 3


@dataclass(frozen=True, eq=False)
class PolyNetwork:
    r"""A two-layer network with degree-two polynomial activation.

    .. math:: f(x) = \sum_{j=1}^m \sigma(x^\top u_j)\, \alpha_j, \qquad
              \sigma(t) = a t^2 + b t + c,

    or, with a :class:`~spectranet.architectures.Conv2D` architecture, a CNN with filters
    :math:`u_j` and a second-layer weight per filter, group (patch or pooling window) and output:

    .. math:: f(x)_k = \sum_{j=1}^m \sum_g \alpha_{jgk}\, \frac{1}{|g|}\sum_{l \in g} \sigma(x_l^\top u_j).

    Parameters
    ----------
    first_layer : array-like of shape (m, d)
        First-layer weights :math:`u_j` as rows (unit norm for networks extracted from
        the convex program; any norm is accepted).
    second_layer : array-like of shape (m,) or (m, C); (m, G) or (m, G, C) for a CNN
        Second-layer weights :math:`\alpha_j`: ``(m,)`` for a scalar output,
        ``(m, C)`` for ``C`` outputs; a CNN's has a group axis (``G`` patches or pooling windows).
    activation : PolyActivation, str or tuple
        The activation :math:`\sigma`.
    architecture : Dense or Conv2D, optional
        ``None``: fully connected. With :class:`~spectranet.architectures.Conv2D` the first layer's
        rows are filters of length ``C*kh*kw`` and inputs are images (rows of ``C*H*W`` values
        or ``(N, C, H, W)`` arrays).
    witness : Witness, optional
        The dual point that proves the network optimal on its training data (a fit attaches it;
        :func:`~spectranet.certify` uses it), see :mod:`spectranet.witness`.

    Attributes
    ----------
    n_neurons : int
    n_features : int
    n_outputs : int
    """

    first_layer: np.ndarray
    second_layer: np.ndarray
    activation: PolyActivation
    architecture: Dense | Conv2D = Dense()
    witness: Witness | None = None

    def __post_init__(self):
        arch = check_architecture(self.architecture)
        U = np.array(self.first_layer, dtype=float, copy=True)
        A = np.array(self.second_layer, dtype=float, copy=True)
        if U.ndim != 2:
            raise ValueError(f"first_layer must be 2-D (n_neurons, n_features), got shape {U.shape}")
        if arch.is_dense:
            if A.ndim not in (1, 2) or A.shape[0] != U.shape[0]:
                raise ValueError(
                    "second_layer must have shape (n_neurons,) or (n_neurons, n_outputs) with "
                    f"n_neurons = {U.shape[0]}, got shape {A.shape}"
                )
        else:
            G = arch.n_groups()
            if A.ndim not in (2, 3) or A.shape[:2] != (U.shape[0], G):
                raise ValueError(
                    f"a {arch!r} network's second_layer must have shape (n_neurons, {G}) or "
                    f"(n_neurons, {G}, n_outputs) with n_neurons = {U.shape[0]}, got shape {A.shape}"
                )
            if U.shape[1] != arch.filter_size:
                raise ValueError(f"first_layer rows must be filters of length C*kh*kw = {arch.filter_size} "
                                 f"for {arch!r}, got shape {U.shape}")
        if not (np.all(np.isfinite(U)) and np.all(np.isfinite(A))):
            raise ValueError("network weights must be finite")
        if self.witness is not None and not isinstance(self.witness, Witness):
            raise TypeError(f"witness must be a spectranet Witness or None, got {type(self.witness).__name__}")
        U.flags.writeable = False
        A.flags.writeable = False
        object.__setattr__(self, "first_layer", U)
        object.__setattr__(self, "second_layer", A)
        object.__setattr__(self, "activation", as_activation(self.activation))
        object.__setattr__(self, "architecture", arch)

    # -- shape ------------------------------------------------------------------
    @property
    def n_neurons(self) -> int:
        return self.first_layer.shape[0]

    @property
    def n_features(self) -> int:
        return self.first_layer.shape[1]

    @property
    def n_groups(self) -> int:
        """Groups per filter: 1 (fully connected), patches, or pooling windows."""
        return self.architecture.n_groups()

    @property
    def scalar_output(self) -> bool:
        """Whether the second layer has no output axis (``predict`` returns ``(n,)``)."""
        return self.second_layer.ndim == (1 if self.architecture.is_dense else 2)

    @property
    def n_outputs(self) -> int:
        return 1 if self.scalar_output else self.second_layer.shape[-1]

    @property
    def n_pairs(self) -> int:
        """Number of (group, output) pairs of the convex program."""
        return self.n_groups * self.n_outputs

    @property
    def n_inputs(self) -> int:
        """Length of an input row (``n_features`` for a dense network, ``C*H*W`` for a CNN)."""
        return self.n_features if self.architecture.is_dense else self.architecture.n_inputs

    @property
    def second_layer_2d(self) -> np.ndarray:
        """Second layer as ``(m, P)``, one column per pair ``p = g*C + k`` (``(m, C)`` dense)."""
        return self.second_layer.reshape(self.n_neurons, self.n_pairs)

    def with_layers(self, first_layer, second_layer_2d, *, drop_zero: bool = True) -> "PolyNetwork":
        """A network with the same activation, architecture and output shape and new layers, the
        second given as ``(m, P)``; neurons whose second-layer weights are all zero are dropped."""
        U, A = np.asarray(first_layer, dtype=float), np.asarray(second_layer_2d, dtype=float)
        if drop_zero:
            keep = np.any(A != 0.0, axis=1)
            U, A = U[keep], A[keep]
        shape = self.second_layer.shape[1:]
        return PolyNetwork(U, A.reshape((A.shape[0],) + shape), self.activation, self.architecture)

    def with_witness(self, witness: Witness | None) -> "PolyNetwork":
        """The same network carrying ``witness`` (None: without one)."""
        return PolyNetwork(self.first_layer, self.second_layer, self.activation, self.architecture, witness)

    @classmethod
    def zero(cls, n_features: int, activation, n_outputs: int | None = None,
             architecture=None) -> "PolyNetwork":
        """The empty network (no neurons): outputs are identically zero."""
        arch = check_architecture(architecture)
        groups = () if arch.is_dense else (arch.n_groups(),)
        shape = (0,) + groups + (() if n_outputs is None else (n_outputs,))
        return cls(np.zeros((0, n_features)), np.zeros(shape), activation, arch)

    # -- evaluation -------------------------------------------------------------
    def _check_X(self, X) -> np.ndarray:
        if not self.architecture.is_dense:
            return self.architecture.as_rows(X)
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(
                f"X must have shape (n_samples, {self.n_features}), got shape {X.shape}"
            )
        return X

    def decision_function(self, X) -> np.ndarray:
        """Raw outputs, shape ``(n, C)`` (always 2-D)."""
        X = self._check_X(X)
        if self.architecture.is_dense:
            return network_outputs(X, self.first_layer, self.second_layer_2d, self.activation)
        lift = self.architecture.lift(X)
        Phi = group_hidden(lift.R, lift.mean, self.first_layer, self.activation)[1]
        return group_outputs(Phi, self.second_layer_2d)

    def predict(self, X) -> np.ndarray:
        """Network outputs: ``(n,)`` for a scalar-output network, ``(n, C)`` otherwise."""
        out = self.decision_function(X)
        return out[:, 0] if self.scalar_output else out

    def penalty(self) -> float:
        r""":math:`\sum_j \|\alpha_j\|_1`."""
        return float(np.abs(self.second_layer).sum())

    def objective(self, X, y, loss="squared", beta: float = 0.0) -> float:
        r"""Objective (P): :math:`\ell(f(X), y) + \beta \sum_j \|\alpha_j\|_1`.

        Parameters
        ----------
        X : array-like of shape (n, d)
        y : array-like of shape (n,) or (n, C)
            Targets in the loss's encoding (labels in {-1, +1} for margin losses,
            class indices or one-hot rows for the softmax loss).
        loss : str or Loss
        beta : float
        """
        loss = get_loss(loss)
        X, y = check_data(self._check_X(X), y)
        Y = encode_targets(y, loss, self.n_outputs)
        return float(loss.value(self.decision_function(X), Y)) + check_beta(beta) * self.penalty()

    # -- persistence ------------------------------------------------------------
    def save(self, path, *, witness: bool = True) -> None:
        """Save to a ``.npz`` file (no pickle); ``path`` gets the suffix ``.npz`` if it has none
        (as :meth:`load` expects).

        Keys: ``format_version`` (int, currently 3), ``first_layer`` (m, d),
        ``second_layer`` (m,) or (m, C) (a CNN's: (m, G) or (m, G, C)), ``activation`` (3,) =
        (a, b, c), ``architecture`` (a JSON string, e.g. ``{"type": "dense"}``) and, for a network
        that carries a witness and unless ``witness=False``, ``witness`` (JSON: loss, beta,
        fingerprint, shape) and ``witness_dual`` (n, C). The dual point holds n * C floats and, for
        the squared loss, reveals the training labels' residuals: leave it out with
        ``witness=False`` (the network then certifies from its own gradient). Versions 1 (dense,
        no architecture) and 2 (no witness) are read too.
        """
        members = dict(
            format_version=np.array(NPZ_FORMAT_VERSION),
            first_layer=self.first_layer,
            second_layer=self.second_layer,
            activation=np.array(self.activation.coefficients),
            architecture=np.array(json.dumps(self.architecture.to_dict())),
        )
        if witness and self.witness is not None:
            members["witness"] = np.array(self.witness.to_json())
            members["witness_dual"] = self.witness.dual
        np.savez(_npz_path(path), **members)

    @classmethod
    def load(cls, path) -> "PolyNetwork":
        """Load a network written by :meth:`save` (the same ``path``: the suffix ``.npz`` is added
        when the name has none and no such file exists)."""
        path = _npz_path(path) if not os.path.exists(os.fspath(path)) else os.fspath(path)
        with np.load(path, allow_pickle=False) as data:
            missing = {"format_version", "first_layer", "second_layer", "activation"} - set(data.files)
            if missing:
                raise ValueError(f"{path!s} is not a spectranet network file: missing {sorted(missing)}")
            version = int(data["format_version"])
            if version not in (1, 2, NPZ_FORMAT_VERSION):
                raise ValueError(
                    f"unsupported network file format_version {version}; this spectranet reads "
                    f"versions 1 to {NPZ_FORMAT_VERSION}"
                )
            arch = Dense()
            if version >= 2:
                if "architecture" not in data.files:
                    raise ValueError(f"{path!s} is not a spectranet network file: missing ['architecture']")
                arch = architecture_from_dict(str(data["architecture"]))
            witness = None
            if version >= 3 and "witness" in data.files:
                spec = json.loads(str(data["witness"]))
                witness = Witness(data["witness_dual"], spec["loss"], spec["beta"], spec["fingerprint"])
            return cls(data["first_layer"], data["second_layer"], PolyActivation(*data["activation"].tolist()),
                       arch, witness)

    def to_torch(self, dtype=None):
        """A ``torch.nn.Module`` computing the same function (requires torch). A CNN's module
        takes images shaped ``(N, C, H, W)`` (``Conv2d``, the activation, ``AvgPool2d`` or a global
        mean, then a linear layer over groups and filters)."""
        from ._torch import poly_network_module

        return poly_network_module(self, dtype=dtype)

    def __repr__(self) -> str:
        a = self.activation
        arch = "" if self.architecture.is_dense else f", architecture={self.architecture!r}"
        arch += "" if self.witness is None else ", witness"
        return (
            f"PolyNetwork(n_neurons={self.n_neurons}, n_features={self.n_features}, "
            f"n_outputs={self.n_outputs}, activation=({a.a:g}, {a.b:g}, {a.c:g}){arch})"
        )


def _npz_path(path) -> str:
    """``path`` with the suffix ``.npz`` when it has none (what ``numpy.savez`` writes)."""
    path = os.fspath(path)
    return path if path.endswith(".npz") else path + ".npz"
