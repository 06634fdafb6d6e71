r"""Degree-two polynomial activations :math:`\sigma(t) = a t^2 + b t + c`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import Callable

import numpy as np

__all__ = ["PolyActivation", "as_activation", "PRESETS"]


@dataclass(frozen=True)
class PolyActivation:
    r"""Immutable degree-two polynomial activation :math:`\sigma(t) = a t^2 + b t + c`.

    Parameters
    ----------
    a, b, c : float
        Coefficients. ``a`` may be zero only if the network is then linear in its
        first layer (still a valid, if degenerate, lift).

    Examples
    --------
    >>> PolyActivation.from_name("relu")
    PolyActivation(a=0.09, b=0.5, c=0.47)
    >>> PolyActivation(1.0, 0.0, 0.0)(np.array([2.0]))
    array([4.])
    """

    a: float
    b: float
    c: float

    def __post_init__(self):
        for name in ("a", "b", "c"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Real):
                raise TypeError(
                    f"PolyActivation.{name} must be a real number, got {type(value).__name__}"
                )
            if not math.isfinite(float(value)):
                raise ValueError(f"PolyActivation.{name} must be finite, got {value!r}")
            object.__setattr__(self, name, float(value))
        if self.a == 0.0 and self.b == 0.0:
            raise ValueError(
                "PolyActivation with a = b = 0 is constant; at least one of a, b must be non-zero"
            )

    def __call__(self, t):
        """Evaluate :math:`\\sigma` elementwise (numpy arrays or torch tensors)."""
        return (self.a * t + self.b) * t + self.c

    def derivative(self, t):
        """Evaluate :math:`\\sigma'(t) = 2 a t + b` elementwise."""
        return 2.0 * self.a * t + self.b

    @property
    def coefficients(self) -> tuple[float, float, float]:
        """``(a, b, c)``."""
        return (self.a, self.b, self.c)

    @classmethod
    def from_name(cls, name: str) -> "PolyActivation":
        """Preset by name: ``"square"``, ``"relu"`` or ``"swish"``."""
        try:
            return cls(*PRESETS[name])
        except KeyError:
            raise ValueError(
                f"unknown activation {name!r}; valid presets are {sorted(PRESETS)}, "
                "or pass a tuple (a, b, c) or a PolyActivation"
            ) from None

    @classmethod
    def fit(
        cls,
        function: Callable[[np.ndarray], np.ndarray],
        interval: tuple[float, float] = (-5.0, 5.0),
        n_panels: int = 64,
    ) -> "PolyActivation":
        r"""Least-squares degree-two fit of any scalar activation on an interval.

        Minimizes :math:`\int_{lo}^{hi} (\sigma(t) - g(t))^2 \, dt` (continuous least
        squares), evaluated with composite Gauss–Legendre quadrature (``n_panels`` equal
        panels of 8 nodes; a kink on a panel boundary, like ReLU's at 0 on a symmetric
        interval, is integrated exactly).

        Parameters
        ----------
        function : callable
            Vectorized function ``g`` of a 1-D array.
        interval : (float, float)
            Fit interval ``(lo, hi)`` with ``lo < hi``.
        n_panels : int
            Number of quadrature panels.

        Examples
        --------
        >>> PolyActivation.fit(lambda t: np.maximum(t, 0.0), (-1.0, 1.0))
        PolyActivation(a=0.46875, b=0.5, c=0.09375)
        """
        if not callable(function):
            raise TypeError("function must be callable")
        lo, hi = (float(v) for v in interval)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"interval must be finite with lo < hi, got {interval!r}")
        nodes, weights = np.polynomial.legendre.leggauss(8)
        edges = np.linspace(lo, hi, int(n_panels) + 1)
        half, mid = 0.5 * np.diff(edges)[:, None], 0.5 * (edges[1:] + edges[:-1])[:, None]
        t, weights = (mid + half * nodes).ravel(), (half * weights).ravel()
        g = np.asarray(function(t), dtype=float)
        if g.shape != t.shape or not np.all(np.isfinite(g)):
            raise ValueError("function must return finite values of the same shape as its input")
        basis = np.stack([t**2, t, np.ones_like(t)], axis=1)
        sw = np.sqrt(weights)
        coef, *_ = np.linalg.lstsq(basis * sw[:, None], g * sw, rcond=None)
        return cls(*(round(float(v), 12) for v in coef))


PRESETS: dict[str, tuple[float, float, float]] = {
    "square": (1.0, 0.0, 0.0),
    "relu": (0.09, 0.5, 0.47),
    "swish": (0.1, 0.5, 0.24),
}


def as_activation(activation) -> PolyActivation:
    """Coerce a preset name, an ``(a, b, c)`` tuple or a :class:`PolyActivation`."""
    if isinstance(activation, PolyActivation):
        return activation
    if isinstance(activation, str):
        return PolyActivation.from_name(activation)
    if isinstance(activation, (tuple, list)) and len(activation) == 3:
        return PolyActivation(*activation)
    raise TypeError(
        "activation must be a preset name "
        f"{sorted(PRESETS)}, a tuple (a, b, c) or a PolyActivation, got {activation!r}"
    )
