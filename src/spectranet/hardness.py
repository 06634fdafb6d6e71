r"""Weight decay is NP-hard: the subset-sum instances of Section 5 and Appendix A.

With the square activation, weight decay (:math:`P_{WD}`), eq. (41),

.. math::

    \min_{u_j, \alpha_j}\ \ell\Big(\sum_{j=1}^m (X u_j)^2 \alpha_j,\ y\Big)
        + \beta \sum_{j=1}^m \big(\alpha_j^2 + \|u_j\|_2^2\big),

is, after the rescaling of Appendix A.1 (eqs. (42)–(45)), the problem with unit-norm
:math:`u_j` and the penalty :math:`\beta \sum_j |\alpha_j|^{2/3}`. As :math:`\beta \to 0`
(eq. (46)) it minimizes :math:`\sum_j |\alpha_j|^{2/3}` subject to interpolation
:math:`\sum_j (X u_j)^2 \alpha_j = y`. With

.. math::

    X = \begin{bmatrix} I_d \\ \tilde X \end{bmatrix}, \quad
    y = \begin{bmatrix} \tfrac1d \mathbf 1_d \\ \tilde y \end{bmatrix}, \qquad
    \tilde X = \begin{bmatrix} D \\ \sqrt d\, a^\top \end{bmatrix}, \quad
    \tilde y = \begin{bmatrix} \tfrac1d \mathbf 1_d \\ (2z - \mathbf 1^\top a)^2 \end{bmatrix},

:math:`D` diagonal with :math:`\pm 1` entries (Lemma 4), the first ``d`` rows force
:math:`\sum_j \alpha_j = 1` (eq. (47)), and by Lemma 3 the value 1 is attained exactly by a
single neuron :math:`\alpha_1 = 1`: the instance has a network of value 1 iff the phase
retrieval problem (49)

.. math:: (\tilde x_i^\top u)^2 = \tilde y_i, \qquad u_k^2 = \tfrac1d \quad (k = 1, \dots, d)

has a solution. The second set of equations gives :math:`u = s / \sqrt d` with
:math:`s \in \{\pm 1\}^d`, and the last row reads :math:`(a^\top s)^2 = (2z - \mathbf 1^\top a)^2`,
i.e. :math:`\sum_{k \in S} a_k = z` for :math:`S = \{k : s_k = +1\}` or for its complement:
a yes-answer to subset sum with target :math:`z` (Definition 3). The default
:math:`z = \tfrac12 \mathbf 1^\top a` (:math:`\tilde y_{d+1} = 0`) is the equal-partition
problem. Lemma 4 does not print :math:`\tilde y`; the value above is the one that makes the
lemma true.

In contrast, the :math:`\ell_1` formulation (P) (equivalently cubic regularization,
:mod:`spectranet.cubic`) is convex and solved in polynomial time on the same data: at
:math:`\beta \to 0` it minimizes :math:`\|W\|_*` subject to
:math:`\operatorname{diag}(X W X^\top) = y`, whose value is 1 whenever a PSD interpolant of
any rank exists (the semidefinite relaxation of the partition problem), so it does not
decide subset sum. :func:`subset_sum_instance` generates these instances;
:func:`find_subset` is the (pseudo-polynomial) reference answer and :func:`decode_partition`
checks whether a candidate neuron ``u`` certifies a yes-instance.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from numbers import Integral, Real
from typing import TYPE_CHECKING

import numpy as np

from .activations import PolyActivation
from .kernels import network_outputs

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["subset_sum_instance", "find_subset", "has_subset_sum", "has_equal_partition",
           "subset_to_neuron", "interpolation_residual", "decode_partition"]

logger = logging.getLogger(__name__)

_SQUARE = PolyActivation(1.0, 0.0, 0.0)


def _check_values(values) -> np.ndarray:
    """Validate a non-empty 1-D sequence of integers; returns an int64 array."""
    if isinstance(values, (str, bytes)):
        raise TypeError(f"values must be a sequence of integers, got {type(values).__name__}")
    try:
        items = list(values)
    except TypeError:
        raise TypeError(f"values must be a sequence of integers, got {type(values).__name__}") from None
    if not items:
        raise ValueError("values must contain at least one integer, got an empty sequence")
    out = []
    for i, v in enumerate(items):
        if isinstance(v, (bool, np.bool_)):
            raise TypeError(f"values[{i}] must be an integer, got bool {v!r}")
        if isinstance(v, Integral):
            out.append(int(v))
        elif isinstance(v, Real) and math.isfinite(float(v)) and float(v).is_integer():
            out.append(int(v))
        elif isinstance(v, Real):
            raise ValueError(f"values[{i}] must be an integer, got {v!r}")
        else:
            raise TypeError(f"values[{i}] must be an integer, got {type(v).__name__} {v!r}")
    return np.array(out, dtype=np.int64)


def _target(values: np.ndarray, target) -> float:
    r"""Right-hand side :math:`(2z - \mathbf 1^\top a)^2` of the last equation."""
    if target is None:
        return 0.0
    if isinstance(target, (bool, np.bool_)) or not isinstance(target, Integral):
        raise TypeError(f"target must be an integer or None, got {type(target).__name__} {target!r}")
    return float((2 * int(target) - int(values.sum())) ** 2)


def subset_sum_instance(values: Iterable[int], *, target: int | None = None, diagonal_signs: ArrayLike | None = None,
                        noise: float = 0.0, random_state: int | np.random.Generator | None = None,
                        ) -> tuple[np.ndarray, np.ndarray]:
    r"""Data :math:`(X, y)` of Lemma 4 for the subset-sum instance ``values``.

    .. math::
        X = \begin{bmatrix} I_d \\ D \\ \sqrt d\, a^\top \end{bmatrix} \in \mathbb{R}^{(2d+1) \times d},
        \qquad y = \begin{bmatrix} \tfrac1d \mathbf 1_d \\ \tfrac1d \mathbf 1_d \\ (2z - \mathbf 1^\top a)^2
        \end{bmatrix}.

    A unit neuron :math:`u` with :math:`(X u)^2 = y` (zero loss, :math:`\alpha = 1`) exists iff
    some subset of ``values`` sums to ``target``.

    Parameters
    ----------
    values : sequence of int
        The set :math:`\mathcal A = \{a_1, \dots, a_d\}` (negative integers and zeros allowed).
    target : int, optional
        The subset sum :math:`z`; default: the equal-partition problem
        :math:`z = \tfrac12 \sum_k a_k` (last target 0, also when the sum is odd).
    diagonal_signs : array-like of d entries in {-1, +1}, optional
        Diagonal of :math:`D` (Lemma 4 allows any signs); default all +1.
    noise : float, default=0
        Standard deviation of Gaussian noise added to ``y``. A noisy instance is a nearby
        regression problem, no longer an exact reduction.
    random_state : int or numpy Generator, optional
        Seed of the noise.

    Returns
    -------
    X : ndarray of shape (2d + 1, d)
        The data :math:`[I_d; D; \sqrt d\, a^\top]`.
    y : ndarray of shape (2d + 1,)
        The targets.

    Raises
    ------
    TypeError
        If ``values`` is not a sequence of integers or ``target`` is not an integer.
    ValueError
        If ``values`` is empty or holds a non-integer number, ``diagonal_signs`` is not ``d``
        signs, or ``noise`` is negative or not finite.

    See Also
    --------
    find_subset : The reference answer (dynamic programming).
    decode_partition : The subset a neuron that interpolates the instance certifies.
    spectranet.solve_cubic : The tractable :math:`\ell_1` / cubic problem on the same data.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, Theorem 2, eq. (41) (weight
    decay), Appendix A: eqs. (46)-(49) and Lemma 4 (the reduction from subset sum).

    Examples
    --------
    >>> X, y = subset_sum_instance([3, 1, 2])  # {3} and {1, 2}: an equal partition
    >>> X.shape, float(y[-1])
    ((7, 3), 0.0)
    >>> u = subset_to_neuron(find_subset([3, 1, 2]), 3)  # u = s / sqrt(d), s in {-1, +1}^d
    >>> bool(np.abs(interpolation_residual(X, y, u)).max() < 1e-12), decode_partition(u, [3, 1, 2])
    (True, (0,))
    """
    a = _check_values(values)
    d = a.size
    last = _target(a, target)
    if diagonal_signs is None:
        signs = np.ones(d)
    else:
        signs = np.asarray(diagonal_signs, dtype=float).ravel()
        if signs.size != d or not np.all(np.isin(signs, (-1.0, 1.0))):
            raise ValueError(f"diagonal_signs must hold {d} entries in {{-1, +1}}, got {diagonal_signs!r}")
    if isinstance(noise, bool) or not isinstance(noise, Real) or not math.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite real number >= 0, got {noise!r}")
    X = np.vstack([np.eye(d), np.diag(signs), math.sqrt(d) * a[None, :].astype(float)])
    y = np.concatenate([np.full(2 * d, 1.0 / d), [last]])
    if noise > 0:
        y = y + noise * np.random.default_rng(random_state).standard_normal(y.shape)
    logger.debug("subset-sum instance: d = %d, target rhs %g, noise %g", d, last, noise)
    return X, y


def find_subset(values, target=None):
    r"""A subset :math:`S` with :math:`\sum_{k \in S} a_k = z`, or None (exact reference answer).

    Dynamic programming over the reachable sums (pseudo-polynomial: at most
    :math:`2^d` and at most :math:`\sum_k |a_k| + 1` sums are kept).

    Parameters
    ----------
    values : sequence of int
    target : int, optional
        Default: the equal partition :math:`z = \tfrac12 \sum_k a_k` (None if the sum is odd).

    Returns
    -------
    tuple of int or None
        Sorted indices of the subset.
    """
    a = _check_values(values)
    total = int(a.sum())
    if target is None:
        if total % 2:
            return None
        z = total // 2
    else:
        _target(a, target)  # validates
        z = int(target)
    reach = {0: ()}
    for k, v in enumerate(a.tolist()):
        for s, subset in list(reach.items()):
            reach.setdefault(s + v, subset + (k,))
    return reach.get(z)


def has_subset_sum(values, target=None) -> bool:
    """Whether some subset of ``values`` sums to ``target`` (default: an equal partition)."""
    return find_subset(values, target) is not None


def has_equal_partition(values) -> bool:
    """Whether ``values`` splits into two parts of equal sum."""
    return find_subset(values, None) is not None


def subset_to_neuron(subset, d: int) -> np.ndarray:
    r"""The neuron :math:`u = s / \sqrt d` with :math:`s_k = +1` on ``subset`` and -1 elsewhere."""
    if isinstance(d, bool) or not isinstance(d, Integral) or d < 1:
        raise ValueError(f"d must be a positive integer, got {d!r}")
    s = -np.ones(int(d))
    idx = np.asarray(list(subset), dtype=int)
    if idx.size and (idx.min() < 0 or idx.max() >= d):
        raise ValueError(f"subset indices must lie in [0, {d}), got {list(subset)!r}")
    s[idx] = 1.0
    return s / math.sqrt(d)


def interpolation_residual(X, y, u) -> np.ndarray:
    r"""Residual :math:`(X u)^2 - y` of the one-neuron network :math:`\alpha = 1` (eq. (46))."""
    X, y, u = np.asarray(X, dtype=float), np.asarray(y, dtype=float), np.asarray(u, dtype=float).ravel()
    if X.ndim != 2 or u.size != X.shape[1] or y.shape != (X.shape[0],):
        raise ValueError(f"need X (n, d), y (n,) and u (d,); got {X.shape}, {y.shape}, {u.shape}")
    return network_outputs(X, u[None, :], np.ones((1, 1)), _SQUARE)[:, 0] - y


def decode_partition(u, values, *, target=None, atol: float = 1e-8):
    r"""The subset certified by a candidate neuron ``u``, or None.

    ``u`` certifies a yes-instance when it solves (49) on :func:`subset_sum_instance`, i.e.
    :math:`\max_i |(X u)^2_i - y_i| \le` ``atol``; then :math:`S = \{k : u_k > 0\}` or its
    complement sums to ``target`` and is returned.

    Parameters
    ----------
    u : array-like of shape (d,)
    values : sequence of int
    target : int, optional
        Default: the equal partition.
    atol : float

    Returns
    -------
    tuple of int or None
    """
    a = _check_values(values)
    u = np.asarray(u, dtype=float).ravel()
    if u.size != a.size:
        raise ValueError(f"u must have {a.size} entries (one per value), got {u.size}")
    X, y = subset_sum_instance(a, target=target)
    if np.max(np.abs(interpolation_residual(X, y, u))) > atol:
        return None
    subset = tuple(int(k) for k in np.flatnonzero(u > 0))
    z = int(a.sum()) / 2 if target is None else int(target)
    if a[list(subset)].sum() != z:
        subset = tuple(int(k) for k in np.flatnonzero(u <= 0))
    return subset if a[list(subset)].sum() == z else None
