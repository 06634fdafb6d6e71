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
    r"""Base class of the weight penalties :math:`R(W, A)` (unscaled).

    The regularizer of a network objective :math:`\ell(f(X), Y) + \beta\,R(W, A)` with first
    layer :math:`W` (rows :math:`w_j`) and second layer :math:`A` (rows :math:`\alpha_j`).
    Subclasses implement :meth:`value`; ``name`` is their key in :func:`get_penalty`.

    Attributes
    ----------
    name : str
        Key of the penalty in :data:`PENALTIES`.

    See Also
    --------
    get_penalty : A penalty by name.
    spectranet.Loss : The other half of the objective.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, eq. (20) (the
    :math:`\ell_1` penalty of (P)), eq. (2) (cubic) and eq. (1) (weight decay).

    Examples
    --------
    >>> import numpy as np
    >>> class MaxPenalty(Penalty):
    ...     name = "max"
    ...     def value(self, first_layer, second_layer):
    ...         return float(np.max(np.abs(second_layer)))
    >>> MaxPenalty().value(np.ones((2, 3)), np.array([1.0, -4.0]))
    4.0
    """

    name = "penalty"

    def value(self, first_layer, second_layer):
        """Evaluate the penalty :math:`R(W, A)`.

        Parameters
        ----------
        first_layer : ndarray or torch.Tensor of shape (m, d)
            First-layer weights :math:`W`, one row per neuron.
        second_layer : ndarray or torch.Tensor of shape (m,) or (m, ...)
            Second-layer weights :math:`A`, one row per neuron.

        Returns
        -------
        float or torch.Tensor
            A Python float for numpy arrays, a differentiable 0-dim tensor for torch tensors.

        See Also
        --------
        spectranet.Loss.value : The other half of the objective.

        References
        ----------
        Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, eq. (20) (the :math:`\\ell_1`
        penalty of (P)), eq. (2) (cubic) and eq. (1) (weight decay).

        Examples
        --------
        >>> import numpy as np
        >>> W, A = np.array([[0.6, 0.8], [1.0, 0.0]]), np.array([2.0, -1.0])
        >>> get_penalty("l1").value(W, A), get_penalty("weight_decay").value(W, A)  # 2 + 1, (2 + 5) / 2
        (3.0, 3.5)
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class L1Penalty(Penalty):
    r"""The :math:`\ell_1` penalty :math:`R = \sum_j \|\alpha_j\|_1` of problem (P).

    Problem (P) constrains the first layer to unit-norm rows, which therefore do not enter:

    .. math:: \min_{\|u_j\|_2 = 1,\ \alpha_j}\ \ell\Big(\sum_j \sigma(X u_j)\,\alpha_j^\top, Y\Big)
              + \beta \sum_j \|\alpha_j\|_1 .

    On a face of fixed signs :math:`s = \operatorname{sign}(A)` it is the linear function
    :meth:`on_face`, whose gradient in ``A`` is ``s``: the smooth model the Newton and
    active-set polishes minimize.

    Attributes
    ----------
    name : str
        ``"l1"``.

    See Also
    --------
    CubicPenalty : Equal to it at the balanced scale of each neuron (square activation).
    spectranet.PolyNetwork.objective : Objective (P) of a network.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, eq. (20) (problem (P)) and
    eq. (21) (its convex program, where the penalty becomes :math:`\beta (Z_4 + Z_4')`).

    Examples
    --------
    >>> import numpy as np
    >>> L1Penalty().value(np.eye(2), np.array([[2.0, -1.0], [0.5, 0.0]]))
    3.5
    """

    name = "l1"

    def value(self, first_layer, second_layer):
        xp = _namespace(second_layer)
        return _float_if_numpy(xp, xp.sum(xp.abs(second_layer)))

    @staticmethod
    def on_face(signs: np.ndarray, second_layer: np.ndarray) -> float:
        r"""The penalty :math:`\langle s, A\rangle` on the face of sign pattern ``signs``.

        Parameters
        ----------
        signs : ndarray
            Sign pattern :math:`s`, shaped as ``second_layer``.
        second_layer : ndarray
            Second-layer weights :math:`A`.

        Returns
        -------
        float
            :math:`\langle s, A\rangle`, equal to :meth:`value` where ``signs == sign(A)``.

        Examples
        --------
        >>> import numpy as np
        >>> A = np.array([2.0, -1.0])
        >>> L1Penalty.on_face(np.sign(A), A), L1Penalty.on_face(np.array([1.0, 1.0]), A)
        (3.0, 1.0)
        """
        return float(np.sum(signs * second_layer))


class CubicPenalty(Penalty):
    r"""The cubic penalty :math:`R = \frac{1}{c_0} \sum_j \big(\|w_j\|_2^3 + \|\alpha_j\|_p^3\big)`.

    With :math:`c_0 = 2^{1/3} + 2^{-2/3}` (:data:`C0`). For the square activation, minimizing
    :math:`\ell + \beta R` over the scale of each neuron gives :math:`c_0 \|\gamma_j\|_1`,
    :math:`\gamma_j = \|w_j\|_2^2 \alpha_j`: the cubic-regularized problem equals (P) and is
    solved as a nuclear-norm program (:mod:`spectranet.cubic`).

    Parameters
    ----------
    output_norm : {1, 3}, default=1
        ``p``: 1 is the penalty equal to (P) at the balanced scale (the nuclear-norm program of
        :mod:`spectranet.cubic`); 3 coincides with it for one output and is smaller for neurons
        feeding several outputs.

    Attributes
    ----------
    name : str
        ``"cubic"``.
    output_norm : int
        The ``output_norm`` argument.

    Raises
    ------
    ValueError
        If ``output_norm`` is not 1 or 3.

    See Also
    --------
    L1Penalty : The penalty of problem (P).
    spectranet.solve_cubic : The globally optimal cubic-regularized network.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, eq. (2) (cubic
    regularization), eqs. (42)-(45) (the rescaling argument) and Table 1.

    Examples
    --------
    >>> import numpy as np
    >>> W, A = np.array([[2.0 ** (1 / 9), 0.0]]), np.array([2.0 ** (-2 / 9)])
    >>> round(CubicPenalty().value(W, A), 12)  # a balanced neuron with gamma = 1: R = 1
    1.0
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
    r"""Weight decay :math:`R = \frac12 \big(\|W\|_F^2 + \|A\|_F^2\big)` (raw first-layer weights).

    The usual regularizer of backpropagation (:mod:`spectranet.baseline`, ``formulation=
    "weight_decay"``). With it the training problem is NP-hard (:mod:`spectranet.hardness`).

    Attributes
    ----------
    name : str
        ``"weight_decay"``.

    See Also
    --------
    L1Penalty : The penalty of the tractable problem (P).
    spectranet.subset_sum_instance : Instances on which weight decay is hard.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, eq. (1) and eq. (41)
    (weight decay) and Theorem 2 (its NP-hardness).

    Examples
    --------
    >>> import numpy as np
    >>> WeightDecay().value(np.array([[3.0, 4.0]]), np.array([2.0]))
    14.5
    """

    name = "weight_decay"

    def value(self, first_layer, second_layer):
        xp = _namespace(first_layer, second_layer)
        return _float_if_numpy(xp, 0.5 * (xp.sum(first_layer ** 2) + xp.sum(second_layer ** 2)))


#: the penalties by name
PENALTIES = {"l1": L1Penalty(), "cubic": CubicPenalty(), "weight_decay": WeightDecay()}


def get_penalty(penalty) -> Penalty:
    """Return the :class:`Penalty` of a name, or a given instance itself.

    Parameters
    ----------
    penalty : {"l1", "cubic", "weight_decay"} or Penalty
        A key of :data:`PENALTIES` or a :class:`Penalty` instance.

    Returns
    -------
    Penalty
        The shared instance of :data:`PENALTIES`, or ``penalty`` itself.

    Raises
    ------
    ValueError
        If ``penalty`` is neither a known name nor a :class:`Penalty`.

    See Also
    --------
    spectranet.get_loss : The same for losses.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, eq. (20) (``"l1"``), eq. (2)
    (``"cubic"``) and eq. (1) (``"weight_decay"``).

    Examples
    --------
    >>> get_penalty("cubic")
    CubicPenalty(output_norm=1)
    """
    if isinstance(penalty, Penalty):
        return penalty
    if isinstance(penalty, str) and penalty in PENALTIES:
        return PENALTIES[penalty]
    raise ValueError(f"penalty must be one of {list(PENALTIES)} or a Penalty instance, got {penalty!r}")
