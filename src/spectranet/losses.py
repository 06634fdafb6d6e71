r"""Convex losses, each defined once and used everywhere.

Every loss is a sum over samples (and outputs) of a convex function of the network output
:math:`\hat Y \in \mathbb{R}^{n \times C}` and the targets :math:`Y`, both 2-D, shape ``(n, C)``
(``C = 1`` for a scalar output). A :class:`Loss` gives its value and gradient (the network objective,
the solvers), its dual objective :math:`-\ell^*(-V)` (the certificate's lower bound) and its CVXPY
form; its class docstring tells how to write one. :meth:`Loss.value`, :meth:`Loss.gradient` and
:meth:`Loss.hessp` are array-namespace generic (numpy arrays, or torch tensors on any device and
differentiable by autograd: a 0-dim tensor from :meth:`Loss.value`); the dual side and the CVXPY
form are numpy-only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import TYPE_CHECKING

import numpy as np
from array_api_compat import array_namespace, is_numpy_namespace
from scipy.special import xlogy

from ._docstrings import add_sections
from ._loss_docstrings import ABSOLUTE, HINGE, HUBER, KINKS, LOGISTIC, LOSS, LOSS_METHODS, SOFTMAX, SQUARED

if TYPE_CHECKING:
    import cvxpy as cp
    import torch
    from numpy.typing import ArrayLike

__all__ = [
    "Loss",
    "SquaredLoss",
    "AbsoluteLoss",
    "HuberLoss",
    "LogisticLoss",
    "HingeLoss",
    "SoftmaxCrossEntropyLoss",
    "Kinks",
    "get_loss",
    "LOSSES",
]


def _namespace(*arrays):
    """The array namespace of the arguments (numpy itself for plain ndarrays: the fast path)."""
    if all(type(a) is np.ndarray for a in arrays):
        return np
    try:
        return array_namespace(*arrays)
    except TypeError as exc:
        raise TypeError(
            "the loss arguments must be arrays of one library (all numpy arrays or all torch "
            f"tensors on one device), got {[type(a).__name__ for a in arrays]}"
        ) from exc


def _total(xp, S):
    """Sum of all entries: a Python float for numpy, a 0-dim array (autograd-ready) otherwise."""
    total = xp.sum(S)
    return float(total) if xp is np or is_numpy_namespace(xp) else total


def _sigmoid(xp, Z):
    """Logistic function :math:`1 / (1 + e^{-z})`, without overflow for any sign of ``z``."""
    E = xp.exp(-xp.abs(Z))
    return xp.where(Z >= 0, 1.0 / (1.0 + E), E / (1.0 + E))


def _log_softmax_rows(xp, Z):
    """Row-wise log-softmax and log-sum-exp (max-shifted), ``(n, C)`` and ``(n,)``."""
    M = xp.max(Z, axis=1, keepdims=True)
    S = Z - M
    L = xp.log(xp.sum(xp.exp(S), axis=1, keepdims=True))
    return S - L, (M + L)[:, 0]


class Loss:
    __doc__ = LOSS

    # the flags the library dispatches on (see the Attributes of the class docstring)
    name: str = ""
    margin: bool = False
    multi_output_only: bool = False
    smooth: bool = True
    twice_differentiable: bool = True
    quadratic: bool = False

    # -- targets ----------------------------------------------------------------
    def check_targets(self, Y: np.ndarray) -> np.ndarray:
        """Validate 2-D float targets of shape ``(n, C)``; returns them unchanged."""
        if self.margin and not np.all(np.isin(Y, (-1.0, 1.0))):
            raise ValueError(
                f"the {self.name} loss needs labels in {{-1, +1}}; got values "
                f"{np.unique(Y)[:5].tolist()}. ConvexPolyNetClassifier encodes labels for you."
            )
        return Y

    # -- primal -----------------------------------------------------------------
    def value(self, Yhat: np.ndarray | torch.Tensor, Y: np.ndarray | torch.Tensor) -> float | torch.Tensor:
        """Return the loss :math:`\\ell(\\hat Y, Y)`, summed over samples and outputs."""
        raise NotImplementedError

    def gradient(self, Yhat: np.ndarray | torch.Tensor, Y: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """Gradient (a subgradient for non-smooth losses) with respect to ``Yhat``, same
        array type as ``Yhat``."""
        raise NotImplementedError

    def hessp(self, Yhat: np.ndarray | torch.Tensor, Y: np.ndarray | torch.Tensor,
              D: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        r"""Hessian-vector product :math:`\nabla^2 \ell(\hat Y)[D]` (smooth losses only)."""
        raise NotImplementedError(f"the {self.name} loss is not twice differentiable")

    def hessian_blocks(self, Yhat: np.ndarray, Y: np.ndarray) -> np.ndarray:
        r"""The Hessian per sample (smooth losses, numpy): its diagonal ``(n, C)`` for losses
        separable over outputs, the symmetric blocks ``(n, C, C)`` for
        :attr:`multi_output_only` ones (from :meth:`hessp`)."""
        if not self.multi_output_only:
            return self.hessp(Yhat, Y, np.ones_like(Yhat))
        eye = np.eye(Yhat.shape[1])
        H = np.stack([self.hessp(Yhat, Y, np.broadcast_to(e, Yhat.shape)) for e in eye], axis=2)
        return 0.5 * (H + H.swapaxes(1, 2))

    def hessian_simplex(self, Yhat: np.ndarray, Y: np.ndarray) -> np.ndarray | None:
        r"""The ``p`` (n, C) with Hessian blocks :math:`\operatorname{diag}(p_i) - p_i p_i^\top`,
        :math:`p_i` on the simplex (numpy), where the loss has that form (softmax), else None: the
        sample-space interior point then solves its Schur systems per output
        (:mod:`~spectranet.solvers._schur_softmax`)."""
        return None

    # -- dual -------------------------------------------------------------------
    def dual_value(self, V: np.ndarray, Y: np.ndarray) -> float:
        r"""Return the dual objective :math:`-\ell^*(-V) = \inf_{\hat Y} \langle V, \hat Y\rangle + \ell(\hat Y, Y)`."""
        raise NotImplementedError

    def dual_values(self, V: np.ndarray, Y: np.ndarray, ts: ArrayLike) -> np.ndarray:
        """:meth:`dual_value` at :math:`tV` for each ``t`` in ``ts`` (the certificate's search
        over ``t``; one pass over chunked data, see :class:`~spectranet.data.ChunkwiseLoss`)."""
        return np.array([self.dual_value(t * V, Y) for t in np.asarray(ts, dtype=float)], dtype=float)

    def project_dual(self, V: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """Map ``V`` into the domain of :meth:`dual_value` (identity where it is everything)."""
        return V

    def kinks(self, Y: np.ndarray) -> Kinks | None:
        """The kink structure of a polyhedral loss (None for the others), see :class:`Kinks`."""
        return None

    def dual_box(self, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
        r"""The box form of the loss, :math:`\ell(\hat Y) = \max_{lo \le V \le hi} \langle V, Y -
        \hat Y\rangle - \tfrac q2\|V\|^2`, as ``(lo, hi, q)`` (arrays shaped as ``Y``, a float);
        None for a loss without one. The interior point handles such losses through their dual
        box, and dual improvement solves their restricted dual as a linear program (``q = 0``)."""
        return None

    def scaled(self, t: float) -> tuple[Loss, float] | None:
        r"""``(loss, power)`` with :math:`\ell(t\hat y, ty) = t^{power}\,\ell'(\hat y, y)`: the loss of
        targets divided by ``t`` (an exact change of units, :class:`~spectranet.reductions.UnitScaling`);
        None for a loss whose targets do not scale (labels)."""
        return None

    def cvxpy(self, Yhat: cp.Expression, Y: np.ndarray) -> cp.Expression:
        """The loss as a CVXPY expression of the ``(n, C)`` expression ``Yhat``."""
        raise NotImplementedError


# the methods' Parameters, Returns, Raises, See Also, References and Examples
add_sections(Loss, LOSS_METHODS)


@dataclass(frozen=True)
class Kinks:
    __doc__ = KINKS

    kink: object
    off_dual: object
    slope: np.ndarray
    scale: np.ndarray
    lo: float


#: entries of the temporary of one block in :func:`_per_t` (8 MB in float64)
DUAL_BLOCK_ENTRIES = 1 << 20


def _per_t(V, Y, ts, row_values):
    """``row_values(W, y)`` summed over blocks of entries, for the rows ``W[i] = ts[i] * V``
    (flattened) and the targets ``y``: a loss's dual at every ``t`` in a few array operations
    instead of one pass per ``t``. With one block, each row is computed as the loss's
    ``dual_value(t * V, Y)`` computes it (the same floats)."""
    ts = np.asarray(ts, dtype=float)
    v, y = np.asarray(V, dtype=float).ravel(), np.asarray(Y, dtype=float).ravel()
    step = max(1, DUAL_BLOCK_ENTRIES // max(ts.size, 1))
    total = np.zeros(ts.size)
    for i in range(0, v.size, step):
        total = total + row_values(ts[:, None] * v[None, i:i + step], y[None, i:i + step])
    return total


def _in_box(V, lo, hi, tol=1e-12) -> bool:
    return bool(np.all(V >= lo - tol) and np.all(V <= hi + tol))


@dataclass(frozen=True)
class SquaredLoss(Loss):
    __doc__ = SQUARED

    name = "squared"
    quadratic = True

    def scaled(self, t):
        return self, 2

    def value(self, Yhat, Y):
        return 0.5 * _total(_namespace(Yhat, Y), (Yhat - Y) ** 2)

    def gradient(self, Yhat, Y):
        return Yhat - Y

    def hessp(self, Yhat, Y, D):
        return D

    def dual_value(self, V, Y):
        return float(self.dual_values(V, Y, [1.0])[0])

    def dual_values(self, V, Y, ts):
        return _per_t(V, Y, ts, lambda W, y: np.sum(W * y, axis=1) - 0.5 * np.sum(W**2, axis=1))

    def cvxpy(self, Yhat, Y):
        import cvxpy as cp

        return 0.5 * cp.sum_squares(Yhat - Y)


@dataclass(frozen=True)
class AbsoluteLoss(Loss):
    __doc__ = ABSOLUTE

    name = "absolute"
    smooth = False
    twice_differentiable = False

    def value(self, Yhat, Y):
        xp = _namespace(Yhat, Y)
        return _total(xp, xp.abs(Yhat - Y))

    def gradient(self, Yhat, Y):
        return _namespace(Yhat, Y).sign(Yhat - Y)

    def dual_value(self, V, Y):
        return float(np.sum(V * Y)) if _in_box(V, -1.0, 1.0) else -math.inf

    def project_dual(self, V, Y):
        return np.clip(V, -1.0, 1.0)

    def dual_box(self, Y):
        return -np.ones(Y.shape), np.ones(Y.shape), 0.0

    def scaled(self, t):
        return self, 1

    def kinks(self, Y):
        ones = np.ones_like(Y)
        return Kinks(lambda Yhat: Yhat - Y, lambda K: -np.sign(K), ones, ones, -1.0)

    def cvxpy(self, Yhat, Y):
        import cvxpy as cp

        return cp.sum(cp.abs(Yhat - Y))


@dataclass(frozen=True)
class HuberLoss(Loss):
    __doc__ = HUBER

    delta: float = 1.0
    name = "huber"
    twice_differentiable = False

    def __post_init__(self):
        if isinstance(self.delta, bool) or not isinstance(self.delta, Real):
            raise TypeError(f"HuberLoss.delta must be a real number, got {self.delta!r}")
        if not (math.isfinite(self.delta) and self.delta > 0):
            raise ValueError(f"HuberLoss.delta must be positive and finite, got {self.delta!r}")

    def value(self, Yhat, Y):
        xp = _namespace(Yhat, Y)
        r = xp.abs(Yhat - Y)
        d = self.delta
        return _total(xp, xp.where(r <= d, 0.5 * r**2, d * (r - 0.5 * d)))

    def gradient(self, Yhat, Y):
        return _namespace(Yhat, Y).clip(Yhat - Y, -self.delta, self.delta)

    def hessp(self, Yhat, Y, D):
        xp = _namespace(Yhat, Y, D)
        return xp.where(xp.abs(Yhat - Y) <= self.delta, D, xp.zeros_like(D))

    def dual_value(self, V, Y):
        if not _in_box(V, -self.delta, self.delta):
            return -math.inf
        return float(np.sum(V * Y) - 0.5 * np.sum(V**2))

    def project_dual(self, V, Y):
        return np.clip(V, -self.delta, self.delta)

    def dual_box(self, Y):
        return np.full(Y.shape, -self.delta), np.full(Y.shape, self.delta), 1.0

    def scaled(self, t):
        return type(self)(delta=self.delta / t), 2

    def cvxpy(self, Yhat, Y):
        import cvxpy as cp

        # cvxpy's huber(r, M) is r^2 inside and 2M|r| - M^2 outside: twice ours.
        return 0.5 * cp.sum(cp.huber(Yhat - Y, self.delta))


def _entropy(P):
    """Sum of -p log p (with 0 log 0 = 0)."""
    return -float(np.sum(xlogy(P, P)))


@dataclass(frozen=True)
class LogisticLoss(Loss):
    __doc__ = LOGISTIC

    name = "logistic"
    margin = True

    def value(self, Yhat, Y):
        xp = _namespace(Yhat, Y)
        Z = -Y * Yhat
        return _total(xp, xp.logaddexp(xp.zeros_like(Z), Z))

    def gradient(self, Yhat, Y):
        return -Y * _sigmoid(_namespace(Yhat, Y), -Y * Yhat)

    def hessp(self, Yhat, Y, D):
        xp = _namespace(Yhat, Y, D)
        E = xp.exp(-xp.abs(Y * Yhat))  # p (1 - p) = e / (1 + e)^2 with e = exp(-|y yhat|)
        return E / (1.0 + E) ** 2 * D

    def dual_value(self, V, Y):
        return float(self.dual_values(V, Y, [1.0])[0])

    def dual_values(self, V, Y, ts):
        def entropies(W, y):  # of p = y v, which must lie in [0, 1]
            P = y * W
            inside = np.all((P >= -1e-12) & (P <= 1.0 + 1e-12), axis=1)  # as _in_box
            P = np.clip(P, 0.0, 1.0)
            value = -np.sum(xlogy(P, P), axis=1) - np.sum(xlogy(1.0 - P, 1.0 - P), axis=1)
            return np.where(inside, value, -math.inf)

        return _per_t(V, Y, ts, entropies)

    def project_dual(self, V, Y):
        return Y * np.clip(Y * V, 0.0, 1.0)

    def cvxpy(self, Yhat, Y):
        import cvxpy as cp

        return cp.sum(cp.logistic(-cp.multiply(Y, Yhat)))


@dataclass(frozen=True)
class HingeLoss(Loss):
    __doc__ = HINGE

    name = "hinge"
    margin = True
    smooth = False
    twice_differentiable = False

    def value(self, Yhat, Y):
        xp = _namespace(Yhat, Y)
        return _total(xp, xp.clip(1.0 - Y * Yhat, 0.0, None))

    def gradient(self, Yhat, Y):
        xp = _namespace(Yhat, Y)
        # 1 where the margin is violated, 0 where it holds strictly, 1/2 at the kink
        return -Y * (0.5 * (xp.sign(1.0 - Y * Yhat) + 1.0))

    def dual_value(self, V, Y):
        P = Y * V
        return float(np.sum(P)) if _in_box(P, 0.0, 1.0) else -math.inf

    def project_dual(self, V, Y):
        return Y * np.clip(Y * V, 0.0, 1.0)

    def dual_box(self, Y):
        return np.minimum(Y, 0.0), np.maximum(Y, 0.0), 0.0  # y V in [0, 1]

    def kinks(self, Y):
        return Kinks(lambda Yhat: 1.0 - Y * Yhat, lambda K: Y * (K > 0), -Y, Y, 0.0)

    def cvxpy(self, Yhat, Y):
        import cvxpy as cp

        return cp.sum(cp.pos(1.0 - cp.multiply(Y, Yhat)))


def _project_rows_to_simplex(Q):
    """Euclidean projection of each row onto the probability simplex (sort-based)."""
    n, C = Q.shape
    srt = -np.sort(-Q, axis=1)
    css = np.cumsum(srt, axis=1) - 1.0
    ind = np.arange(1, C + 1)
    cond = srt - css / ind > 0
    rho = C - 1 - np.argmax(cond[:, ::-1], axis=1)
    theta = css[np.arange(n), rho] / (rho + 1)
    return np.maximum(Q - theta[:, None], 0.0)


@dataclass(frozen=True)
class SoftmaxCrossEntropyLoss(Loss):
    __doc__ = SOFTMAX

    name = "softmax"
    multi_output_only = True

    def check_targets(self, Y):
        if Y.shape[1] < 2 or not (np.all(np.isin(Y, (0.0, 1.0))) and np.all(Y.sum(axis=1) == 1.0)):
            raise ValueError(
                "the softmax loss needs one-hot targets of shape (n_samples, n_classes) with "
                "n_classes >= 2 (or integer class labels, which certify() one-hot encodes)"
            )
        return Y

    def value(self, Yhat, Y):
        xp = _namespace(Yhat, Y)
        lse = _log_softmax_rows(xp, Yhat)[1]
        return _total(xp, lse) - _total(xp, Y * Yhat)

    def gradient(self, Yhat, Y):
        xp = _namespace(Yhat, Y)
        return xp.exp(_log_softmax_rows(xp, Yhat)[0]) - Y

    def hessp(self, Yhat, Y, D):
        xp = _namespace(Yhat, Y, D)
        P = xp.exp(_log_softmax_rows(xp, Yhat)[0])
        return P * D - P * xp.sum(P * D, axis=1, keepdims=True)

    def hessian_simplex(self, Yhat, Y):
        return np.exp(_log_softmax_rows(np, np.asarray(Yhat))[0])

    def dual_value(self, V, Y):
        Q = Y - V  # rows must lie on the simplex
        if not (_in_box(Q, 0.0, math.inf) and np.allclose(Q.sum(axis=1), 1.0, atol=1e-10)):
            return -math.inf
        return _entropy(np.clip(Q, 0.0, 1.0))

    def project_dual(self, V, Y):
        return Y - _project_rows_to_simplex(Y - V)

    def cvxpy(self, Yhat, Y):
        import cvxpy as cp

        return cp.sum(cp.log_sum_exp(Yhat, axis=1)) - cp.sum(cp.multiply(Y, Yhat))


LOSSES: dict[str, type[Loss]] = {
    "squared": SquaredLoss,
    "absolute": AbsoluteLoss,
    "huber": HuberLoss,
    "logistic": LogisticLoss,
    "hinge": HingeLoss,
    "softmax": SoftmaxCrossEntropyLoss,
}


def get_loss(loss: str | Loss) -> Loss:
    r"""Return the loss :math:`\ell` of a name, or a given :class:`Loss` itself.

    Parameters
    ----------
    loss : str or Loss
        A name in :data:`LOSSES` (``"squared"``, ``"absolute"``, ``"huber"``, ``"logistic"``, ``"hinge"``,
        ``"softmax"``; ``"cross_entropy"`` is ``"softmax"``), with its default parameters, or an instance.

    Returns
    -------
    Loss
        A new instance of the named loss, or ``loss`` itself.

    Raises
    ------
    ValueError, TypeError
        If the name is unknown, or ``loss`` is neither a str nor a Loss.

    See Also
    --------
    Loss : The interface, and how to write a custom loss.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, eq. (20) (problem (P), for any convex loss).

    Examples
    --------
    >>> get_loss("huber"), get_loss(HuberLoss(delta=0.5)).delta
    (HuberLoss(delta=1.0), 0.5)
    """
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str):
        key = "softmax" if loss == "cross_entropy" else loss
        if key in LOSSES:
            return LOSSES[key]()
        raise ValueError(f"unknown loss {loss!r}; valid losses are {sorted(LOSSES)}")
    raise TypeError(f"loss must be a name in {sorted(LOSSES)} or a Loss instance, got {loss!r}")
