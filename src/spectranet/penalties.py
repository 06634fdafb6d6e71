r"""Weight penalties, each defined once: the regularizers of the network problems.

A :class:`Penalty` is the second half of an objective :math:`\ell(f(X), Y) + \beta\,R(W, A)`
(the first half is a :class:`~spectranet.losses.Loss`). Three are used:

* :class:`L1Penalty` — :math:`R = \sum_j \|\alpha_j\|_1` with unit-norm first-layer rows:
  problem (P) of the paper, the objective every solver certifies;
* :class:`CubicPenalty` — :math:`R = \frac{1}{c_0}\sum_j (\|w_j\|_2^3 + \|\alpha_j\|_p^3)`, the
  cubic regularization of the square activation (:mod:`spectranet.cubic`), equal to (P) at the
  balanced scale of each neuron;
* :class:`WeightDecay` — :math:`R = \frac12 (\|W\|_F^2 + \|A\|_F^2)`, the usual backprop
  regularizer (:mod:`spectranet.baseline`).

:meth:`Penalty.value` is array-namespace generic, like :meth:`Loss.value`: it runs on numpy
arrays (a Python float) and on torch tensors (a differentiable 0-dim tensor), so the convex
program, the certificate and the PyTorch baseline use the same definition. The penalty is
unscaled; callers multiply by :math:`\beta`.

Examples
--------
>>> import numpy as np
>>> from spectranet.penalties import get_penalty
>>> W, A = np.array([[3.0, 4.0]]), np.array([[2.0, -1.0]])
>>> get_penalty("l1").value(W, A), get_penalty("weight_decay").value(W, A)
(3.0, 15.0)
"""

from __future__ import annotations

import numpy as np
from array_api_compat import array_namespace

__all__ = ["Penalty", "L1Penalty", "CubicPenalty", "WeightDecay", "get_penalty", "PENALTIES", "C0"]

#: :math:`c_0 = 2^{1/3} + 2^{-2/3}`: the cubic penalty of a neuron at its balanced scale is
#: :math:`c_0 \|\gamma_j\|_1` (see :mod:`spectranet.cubic`)
C0 = 2.0 ** (1.0 / 3.0) + 2.0 ** (-2.0 / 3.0)


def _float_if_numpy(xp, value):
    return float(value) if xp is np else value


def _namespace(*arrays):
    return np if all(type(a) is np.ndarray for a in arrays) else array_namespace(*arrays)


class Penalty:
    """A weight penalty :math:`R(W, A)` (unscaled).

    Subclasses implement :meth:`value`; ``name`` is the key of :func:`get_penalty`.
    """

    name = "penalty"

    def value(self, first_layer, second_layer):
        """:math:`R(W, A)` for first layer ``(m, d)`` and second layer ``(m, ...)``: a float for
        numpy arrays, a 0-dim tensor for torch tensors."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class L1Penalty(Penalty):
    r""":math:`R = \sum_j \|\alpha_j\|_1`, the penalty of problem (P) (the first layer is unit-norm
    and does not enter).

    On a face of fixed signs :math:`s = \operatorname{sign}(A)` it is the linear function
    :meth:`on_face`, whose gradient in ``A`` is ``s``: the smooth model the Newton and
    active-set polishes minimize.
    """

    name = "l1"

    def value(self, first_layer, second_layer):
        xp = _namespace(second_layer)
        return _float_if_numpy(xp, xp.sum(xp.abs(second_layer)))

    @staticmethod
    def on_face(signs: np.ndarray, second_layer: np.ndarray) -> float:
        r""":math:`\langle s, A\rangle`: the penalty on the face of sign pattern ``signs``
        (equal to :meth:`value` where ``signs == sign(A)``)."""
        return float(np.sum(signs * second_layer))


class CubicPenalty(Penalty):
    r""":math:`R = \frac{1}{c_0} \sum_j \big(\|w_j\|_2^3 + \|\alpha_j\|_p^3\big)`,
    :math:`c_0 = 2^{1/3} + 2^{-2/3}`.

    Parameters
    ----------
    output_norm : {1, 3}, default=1
        ``p``: 1 is the penalty equal to (P) at the balanced scale (the nuclear-norm program of
        :mod:`spectranet.cubic`); 3 coincides with it for one output and is smaller for neurons
        feeding several outputs.
    """

    name = "cubic"

    def __init__(self, output_norm: int = 1):
        if output_norm not in (1, 3):
            raise ValueError(f"output_norm must be 1 or 3, got {output_norm!r}")
        self.output_norm = output_norm

    def value(self, first_layer, second_layer):
        xp = _namespace(first_layer, second_layer)
        A = xp.reshape(second_layer, (second_layer.shape[0], -1))
        p = self.output_norm
        size = xp.sum(xp.abs(A) ** p, axis=1) ** (3.0 / p)
        first = xp.sum(xp.sum(first_layer ** 2, axis=1) ** 1.5)
        return _float_if_numpy(xp, (first + xp.sum(size)) / C0)

    def __repr__(self) -> str:
        return f"CubicPenalty(output_norm={self.output_norm})"


class WeightDecay(Penalty):
    r""":math:`R = \frac12 \big(\|W\|_F^2 + \|A\|_F^2\big)` (raw first-layer weights)."""

    name = "weight_decay"

    def value(self, first_layer, second_layer):
        xp = _namespace(first_layer, second_layer)
        return _float_if_numpy(xp, 0.5 * (xp.sum(first_layer ** 2) + xp.sum(second_layer ** 2)))


#: the penalties by name
PENALTIES = {"l1": L1Penalty(), "cubic": CubicPenalty(), "weight_decay": WeightDecay()}


def get_penalty(penalty) -> Penalty:
    """The :class:`Penalty` named ``penalty`` (one of :data:`PENALTIES`), or ``penalty`` itself."""
    if isinstance(penalty, Penalty):
        return penalty
    if isinstance(penalty, str) and penalty in PENALTIES:
        return PENALTIES[penalty]
    raise ValueError(f"penalty must be one of {list(PENALTIES)} or a Penalty instance, got {penalty!r}")
