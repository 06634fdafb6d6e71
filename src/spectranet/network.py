r"""The two-layer polynomial-activation network :math:`f(x) = \sum_j \sigma(x^\top u_j)\,\alpha_j`.

This module holds the one implementation of the network's forward pass,
:func:`network_outputs`, used by prediction, objectives, certificates and solvers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .activations import PolyActivation, as_activation

__all__ = ["PolyNetwork", "network_outputs", "hidden_layer", "NPZ_FORMAT_VERSION"]

NPZ_FORMAT_VERSION = 1


def hidden_layer(X, first_layer, activation: PolyActivation):
    r"""Pre-activations :math:`H = X U^\top` and activations :math:`\sigma(H)`, each ``(n, m)``."""
    H = X @ first_layer.T
    return H, activation(H)


def network_outputs(X, first_layer, second_layer, activation: PolyActivation):
    r"""Outputs :math:`\sigma(X U^\top)\,A` of shape ``(n, C)``.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    first_layer : ndarray of shape (m, d)
        Rows :math:`u_j`.
    second_layer : ndarray of shape (m, C)
        Rows :math:`\alpha_j`.
    activation : PolyActivation
    """
    return hidden_layer(X, first_layer, activation)[1] @ second_layer


@dataclass(frozen=True, eq=False)
class PolyNetwork:
    r"""A two-layer network with degree-two polynomial activation.

    .. math:: f(x) = \sum_{j=1}^m \sigma(x^\top u_j)\, \alpha_j, \qquad
              \sigma(t) = a t^2 + b t + c.

    Parameters
    ----------
    first_layer : array-like of shape (m, d)
        First-layer weights :math:`u_j` as rows (unit norm for networks extracted from
        the convex program; any norm is accepted).
    second_layer : array-like of shape (m,) or (m, C)
        Second-layer weights :math:`\alpha_j`: ``(m,)`` for a scalar output,
        ``(m, C)`` for ``C`` outputs.
    activation : PolyActivation, str or tuple
        The activation :math:`\sigma`.

    Attributes
    ----------
    n_neurons : int
    n_features : int
    n_outputs : int
    """

    first_layer: np.ndarray
    second_layer: np.ndarray
    activation: PolyActivation

    def __post_init__(self):
        U = np.array(self.first_layer, dtype=float, copy=True)
        A = np.array(self.second_layer, dtype=float, copy=True)
        if U.ndim != 2:
            raise ValueError(f"first_layer must be 2-D (n_neurons, n_features), got shape {U.shape}")
        if A.ndim not in (1, 2) or A.shape[0] != U.shape[0]:
            raise ValueError(
                "second_layer must have shape (n_neurons,) or (n_neurons, n_outputs) with "
                f"n_neurons = {U.shape[0]}, got shape {A.shape}"
            )
        if not (np.all(np.isfinite(U)) and np.all(np.isfinite(A))):
            raise ValueError("network weights must be finite")
        U.flags.writeable = False
        A.flags.writeable = False
        object.__setattr__(self, "first_layer", U)
        object.__setattr__(self, "second_layer", A)
        object.__setattr__(self, "activation", as_activation(self.activation))

    # -- shape ------------------------------------------------------------------
    @property
    def n_neurons(self) -> int:
        return self.first_layer.shape[0]

    @property
    def n_features(self) -> int:
        return self.first_layer.shape[1]

    @property
    def n_outputs(self) -> int:
        return 1 if self.second_layer.ndim == 1 else self.second_layer.shape[1]

    @property
    def second_layer_2d(self) -> np.ndarray:
        """Second layer as ``(m, C)``."""
        return self.second_layer.reshape(self.n_neurons, self.n_outputs)

    def with_layers(self, first_layer, second_layer_2d, *, drop_zero: bool = True) -> "PolyNetwork":
        """A network with the same activation and output shape and new layers, the second
        given as ``(m, C)``; neurons whose second-layer weights are all zero are dropped."""
        U, A = np.asarray(first_layer, dtype=float), np.asarray(second_layer_2d, dtype=float)
        if drop_zero:
            keep = np.any(A != 0.0, axis=1)
            U, A = U[keep], A[keep]
        return PolyNetwork(U, A[:, 0] if self.second_layer.ndim == 1 else A, self.activation)

    @classmethod
    def zero(cls, n_features: int, activation, n_outputs: int | None = None) -> "PolyNetwork":
        """The empty network (no neurons): outputs are identically zero."""
        shape = (0,) if n_outputs is None else (0, n_outputs)
        return cls(np.zeros((0, n_features)), np.zeros(shape), activation)

    # -- evaluation -------------------------------------------------------------
    def _check_X(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(
                f"X must have shape (n_samples, {self.n_features}), got shape {X.shape}"
            )
        return X

    def decision_function(self, X) -> np.ndarray:
        """Raw outputs, shape ``(n, C)`` (always 2-D)."""
        return network_outputs(self._check_X(X), self.first_layer, self.second_layer_2d, self.activation)

    def predict(self, X) -> np.ndarray:
        """Network outputs: ``(n,)`` for a scalar-output network, ``(n, C)`` otherwise."""
        out = self.decision_function(X)
        return out[:, 0] if self.second_layer.ndim == 1 else out

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
        from .problem import Problem

        return Problem(X, y, activation=self.activation, loss=loss, beta=beta).objective(self)

    # -- persistence ------------------------------------------------------------
    def save(self, path) -> None:
        """Save to a ``.npz`` file (no pickle).

        Keys: ``format_version`` (int, currently 1), ``first_layer`` (m, d),
        ``second_layer`` (m,) or (m, C), ``activation`` (3,) = (a, b, c).
        """
        np.savez(
            os.fspath(path),
            format_version=np.array(NPZ_FORMAT_VERSION),
            first_layer=self.first_layer,
            second_layer=self.second_layer,
            activation=np.array(self.activation.coefficients),
        )

    @classmethod
    def load(cls, path) -> "PolyNetwork":
        """Load a network written by :meth:`save`."""
        with np.load(os.fspath(path), allow_pickle=False) as data:
            missing = {"format_version", "first_layer", "second_layer", "activation"} - set(data.files)
            if missing:
                raise ValueError(f"{path!s} is not a spectranet network file: missing {sorted(missing)}")
            version = int(data["format_version"])
            if version != NPZ_FORMAT_VERSION:
                raise ValueError(
                    f"unsupported network file format_version {version}; this spectranet reads "
                    f"version {NPZ_FORMAT_VERSION}"
                )
            return cls(data["first_layer"], data["second_layer"], PolyActivation(*data["activation"].tolist()))

    def to_torch(self, dtype=None):
        """A ``torch.nn.Module`` computing the same function (requires torch)."""
        from ._torch import poly_network_module

        return poly_network_module(self, dtype=dtype)

    def __repr__(self) -> str:
        a = self.activation
        return (
            f"PolyNetwork(n_neurons={self.n_neurons}, n_features={self.n_features}, "
            f"n_outputs={self.n_outputs}, activation=({a.a:g}, {a.b:g}, {a.c:g}))"
        )
