r"""Degree-two polynomial activations :math:`\sigma(t) = a t^2 + b t + c`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import TYPE_CHECKING, Callable

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["PolyActivation", "as_activation", "PRESETS"]


@dataclass(frozen=True)
class PolyActivation:
    r"""Immutable degree-two polynomial activation :math:`\sigma(t) = a t^2 + b t + c`.

    The activation of every network of the library: with it the output of a neuron,
    :math:`\sigma(x^\top u)\,\alpha = \langle \phi(x), (u u^\top \alpha, u \alpha, \alpha)\rangle`, is
    linear in the lifted features :math:`\phi(x) = (a x x^\top, b x, c)`, which makes the training
    problem (P) a convex program over neural spectrahedra. The presets approximate ReLU and swish
    (the paper's Fig. 1); :meth:`fit` fits any other activation on an interval.

    Parameters
    ----------
    a, b, c : float
        Coefficients. ``a`` may be zero only if the network is then linear in its
        first layer (still a valid, if degenerate, lift).

    Attributes
    ----------
    a, b, c : float
        The coefficients, as floats.
    coefficients : tuple of float
        ``(a, b, c)``.

    Raises
    ------
    TypeError
        If a coefficient is not a real number (booleans included).
    ValueError
        If a coefficient is not finite, or ``a = b = 0`` (a constant activation).

    See Also
    --------
    spectranet.PolyNetwork : The network :math:`\sum_j \sigma(x^\top u_j)\,\alpha_j`.
    spectranet.ConvexPolyNetRegressor : Takes a preset name, a tuple ``(a, b, c)`` or an instance.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, eq. (11) (the lifted
    features), Fig. 1 (the ReLU and swish approximations) and eq. (20) (problem (P)).

    Examples
    --------
    >>> PolyActivation.from_name("relu")
    PolyActivation(a=0.09, b=0.5, c=0.47)
    >>> PolyActivation(1.0, 0.0, 0.0)(np.array([2.0]))
    array([4.])
    >>> PolyActivation(0.09, 0.5, 0.47).derivative(np.array([0.0, 1.0]))
    array([0.5 , 0.68])
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

    def derivative(self, t: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """Evaluate the derivative :math:`\\sigma'(t) = 2 a t + b` elementwise.

        Parameters
        ----------
        t : ndarray or torch.Tensor
            Pre-activations.

        Returns
        -------
        ndarray or torch.Tensor
            :math:`\\sigma'(t)`, of the type and shape of ``t``.

        See Also
        --------
        PolyActivation.fit : A degree-two fit of another activation.

        Examples
        --------
        >>> import numpy as np
        >>> PolyActivation.from_name("relu").derivative(np.array([0.0, 1.0]))  # 2 * 0.09 t + 0.5
        array([0.5 , 0.68])
        """
        return 2.0 * self.a * t + self.b

    @property
    def coefficients(self) -> tuple[float, float, float]:
        """``(a, b, c)``."""
        return (self.a, self.b, self.c)

    @classmethod
    def from_name(cls, name: str) -> "PolyActivation":
        """Return the preset activation of a name.

        Parameters
        ----------
        name : {"square", "relu", "swish"}
            ``"square"``: :math:`t^2`; ``"relu"``: :math:`0.09 t^2 + 0.5 t + 0.47`;
            ``"swish"``: :math:`0.1 t^2 + 0.5 t + 0.24` (the paper's Fig. 1).

        Returns
        -------
        PolyActivation
            The preset.

        Raises
        ------
        ValueError
            If ``name`` is not a preset.

        See Also
        --------
        PolyActivation.fit : The least-squares fit that the presets approximate.

        References
        ----------
        Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, Fig. 1 (the ReLU and swish
        approximations) and Section 6 (the activation (0.09, 0.5, 0.47) of its experiments).

        Examples
        --------
        >>> PolyActivation.from_name("swish"), PolyActivation.from_name("square").coefficients
        (PolyActivation(a=0.1, b=0.5, c=0.24), (1.0, 0.0, 0.0))
        """
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

        Returns
        -------
        PolyActivation
            The fitted activation (coefficients rounded to 12 decimals).

        Raises
        ------
        TypeError
            If ``function`` is not callable.
        ValueError
            If the interval is not finite with ``lo < hi``, or ``function`` does not return finite
            values of its input's shape.

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

#: what the library's ``activation`` parameters take (:func:`as_activation`): a preset name, the
#: coefficients ``(a, b, c)`` as a tuple or a list, or an instance
ActivationLike = str | tuple[float, float, float] | list[float] | PolyActivation


def as_activation(activation: ActivationLike) -> PolyActivation:
    """Coerce a preset name, an ``(a, b, c)`` tuple or a :class:`PolyActivation`.

    Parameters
    ----------
    activation : str, tuple or list of three floats, or PolyActivation
        The activation.

    Returns
    -------
    PolyActivation
        ``activation`` itself if it is one.

    Raises
    ------
    TypeError
        If ``activation`` is none of these.
    ValueError
        If it is an unknown preset name or invalid coefficients.
    """
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
