r"""Convex losses, each defined once and used everywhere.

Every loss is a sum over samples (and outputs) of a convex function of the network output
:math:`\hat Y \in \mathbb{R}^{n \times C}` and the targets :math:`Y`, both 2-D, shape ``(n, C)``
(``C = 1`` for a scalar output). A :class:`Loss` gives its value and gradient (the network objective,
the solvers), its dual objective :math:`-\ell^*(-V)` (the certificate's lower bound) and its CVXPY
form, in all and per sample (what sample weights multiply, :mod:`spectranet.weighted`); its class
docstring tells how to write one. :meth:`Loss.value`, :meth:`Loss.gradient` and
:meth:`Loss.hessp` are array-namespace generic (numpy arrays, or torch tensors on any device and
differentiable by autograd: a 0-dim tensor from :meth:`Loss.value`); the dual side and the CVXPY
form are numpy-only. The interface and the machinery the losses share are in
:mod:`spectranet.loss_base`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

import numpy as np
from scipy.special import xlogy

from ._loss_docstrings import ABSOLUTE, HINGE, HUBER, LOGISTIC, SOFTMAX, SQUARED
from .loss_base import Kinks, Loss, _Elementwise, _inside, _log_softmax_rows, _namespace, _sigmoid, _total

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


@dataclass(frozen=True)
class SquaredLoss(_Elementwise):
    __doc__ = SQUARED

    name = "squared"
    quadratic = True

    def scaled(self, t):
        return self, 2

    def _entries(self, xp, Yhat, Y):
        return 0.5 * (Yhat - Y) ** 2

    def gradient(self, Yhat, Y):
        return Yhat - Y

    def hessp(self, Yhat, Y, D):
        return D

    def _dual_entries(self, V, Y):
        return V * Y - 0.5 * V**2

    def _cvxpy_entries(self, Yhat, Y):
        import cvxpy as cp

        return 0.5 * cp.square(Yhat - Y)


@dataclass(frozen=True)
class AbsoluteLoss(_Elementwise):
    __doc__ = ABSOLUTE

    name = "absolute"
    smooth = False
    twice_differentiable = False

    def _entries(self, xp, Yhat, Y):
        return xp.abs(Yhat - Y)

    def gradient(self, Yhat, Y):
        return _namespace(Yhat, Y).sign(Yhat - Y)

    def _dual_entries(self, V, Y):
        return np.where(_inside(V, -1.0, 1.0), V * Y, -math.inf)

    def project_dual(self, V, Y):
        return np.clip(V, -1.0, 1.0)

    def dual_box(self, Y):
        return -np.ones(Y.shape), np.ones(Y.shape), 0.0

    def scaled(self, t):
        return self, 1

    def kinks(self, Y):
        ones = np.ones_like(Y)
        return Kinks(lambda Yhat: Yhat - Y, lambda K: -np.sign(K), ones, ones, -1.0)

    def _cvxpy_entries(self, Yhat, Y):
        import cvxpy as cp

        return cp.abs(Yhat - Y)


@dataclass(frozen=True)
class HuberLoss(_Elementwise):
    __doc__ = HUBER

    delta: float = 1.0
    name = "huber"
    twice_differentiable = False

    def __post_init__(self):
        if isinstance(self.delta, bool) or not isinstance(self.delta, Real):
            raise TypeError(f"HuberLoss.delta must be a real number, got {self.delta!r}")
        if not (math.isfinite(self.delta) and self.delta > 0):
            raise ValueError(f"HuberLoss.delta must be positive and finite, got {self.delta!r}")

    def _entries(self, xp, Yhat, Y):
        r = xp.abs(Yhat - Y)
        d = self.delta
        return xp.where(r <= d, 0.5 * r**2, d * (r - 0.5 * d))

    def gradient(self, Yhat, Y):
        return _namespace(Yhat, Y).clip(Yhat - Y, -self.delta, self.delta)

    def hessp(self, Yhat, Y, D):
        xp = _namespace(Yhat, Y, D)
        return xp.where(xp.abs(Yhat - Y) <= self.delta, D, xp.zeros_like(D))

    def _dual_entries(self, V, Y):
        return np.where(_inside(V, -self.delta, self.delta), V * Y - 0.5 * V**2, -math.inf)

    def project_dual(self, V, Y):
        return np.clip(V, -self.delta, self.delta)

    def dual_box(self, Y):
        return np.full(Y.shape, -self.delta), np.full(Y.shape, self.delta), 1.0

    def scaled(self, t):
        return type(self)(delta=self.delta / t), 2

    def _cvxpy_entries(self, Yhat, Y):
        import cvxpy as cp

        # cvxpy's huber(r, M) is r^2 inside and 2M|r| - M^2 outside: twice ours.
        return 0.5 * cp.huber(Yhat - Y, self.delta)


@dataclass(frozen=True)
class LogisticLoss(_Elementwise):
    __doc__ = LOGISTIC

    name = "logistic"
    margin = True

    def _entries(self, xp, Yhat, Y):
        Z = -Y * Yhat
        return xp.logaddexp(xp.zeros_like(Z), Z)

    def gradient(self, Yhat, Y):
        return -Y * _sigmoid(_namespace(Yhat, Y), -Y * Yhat)

    def hessp(self, Yhat, Y, D):
        xp = _namespace(Yhat, Y, D)
        E = xp.exp(-xp.abs(Y * Yhat))  # p (1 - p) = e / (1 + e)^2 with e = exp(-|y yhat|)
        return E / (1.0 + E) ** 2 * D

    def _dual_entries(self, V, Y):  # the entropy of p = y v, which must lie in [0, 1]
        P = Y * V
        inside = _inside(P, 0.0, 1.0)
        P = np.clip(P, 0.0, 1.0)
        return np.where(inside, -xlogy(P, P) - xlogy(1.0 - P, 1.0 - P), -math.inf)

    def project_dual(self, V, Y):
        return Y * np.clip(Y * V, 0.0, 1.0)

    def _cvxpy_entries(self, Yhat, Y):
        import cvxpy as cp

        return cp.logistic(-cp.multiply(Y, Yhat))


@dataclass(frozen=True)
class HingeLoss(_Elementwise):
    __doc__ = HINGE

    name = "hinge"
    margin = True
    smooth = False
    twice_differentiable = False

    def _entries(self, xp, Yhat, Y):
        return xp.clip(1.0 - Y * Yhat, 0.0, None)

    def gradient(self, Yhat, Y):
        xp = _namespace(Yhat, Y)
        # 1 where the margin is violated, 0 where it holds strictly, 1/2 at the kink
        return -Y * (0.5 * (xp.sign(1.0 - Y * Yhat) + 1.0))

    def _dual_entries(self, V, Y):
        P = Y * V
        return np.where(_inside(P, 0.0, 1.0), P, -math.inf)

    def project_dual(self, V, Y):
        return Y * np.clip(Y * V, 0.0, 1.0)

    def dual_box(self, Y):
        return np.minimum(Y, 0.0), np.maximum(Y, 0.0), 0.0  # y V in [0, 1]

    def kinks(self, Y):
        return Kinks(lambda Yhat: 1.0 - Y * Yhat, lambda K: Y * (K > 0), -Y, Y, 0.0)

    def _cvxpy_entries(self, Yhat, Y):
        import cvxpy as cp

        return cp.pos(1.0 - cp.multiply(Y, Yhat))


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
        return _total(_namespace(Yhat, Y), self.sample_values(Yhat, Y))

    def sample_values(self, Yhat, Y):
        xp = _namespace(Yhat, Y)
        return _log_softmax_rows(xp, Yhat)[1] - xp.sum(Y * Yhat, axis=1)

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
        return float(np.sum(self.sample_dual_values(V, Y)))

    def sample_dual_values(self, V, Y):
        Q = np.asarray(Y, dtype=float) - V  # rows must lie on the simplex
        inside = np.all(Q >= -1e-12, axis=1) & np.isclose(Q.sum(axis=1), 1.0, atol=1e-10)
        P = np.clip(Q, 0.0, 1.0)
        return np.where(inside, -np.sum(xlogy(P, P), axis=1), -math.inf)

    def project_dual(self, V, Y):
        return Y - _project_rows_to_simplex(Y - V)

    def cvxpy(self, Yhat, Y):
        import cvxpy as cp

        return cp.sum(self.sample_cvxpy(Yhat, Y))

    def sample_cvxpy(self, Yhat, Y):
        import cvxpy as cp

        return cp.log_sum_exp(Yhat, axis=1) - cp.sum(cp.multiply(Y, Yhat), axis=1)


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
