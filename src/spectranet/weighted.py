r"""Sample weights: the loss :math:`\sum_i w_i\,\ell(\hat y_i, y_i)` of problem (P).

A weight multiplies a sample's loss, so weight 2 is the sample counted twice and weight 0 the
sample left out (:class:`~spectranet.problem.Problem` drops such rows). :class:`WeightedLoss` wraps
any :class:`~spectranet.losses.Loss` with positive weights and is itself a loss: every solver,
polish and certificate takes it unchanged. Its dual is the base loss's, scaled per sample,

.. math:: \inf_{\hat y}\ v^\top \hat y + w\,\ell(\hat y, y) = w\,\big(-\ell^*(-v / w)\big),

so its dual box is the base's times :math:`w` (the quadratic term of Huber's divided by it) and
its kinks are the base's, their dual point times :math:`w`. It uses the base loss's per-sample
methods (:meth:`~spectranet.losses.Loss.sample_values`,
:meth:`~spectranet.losses.Loss.sample_dual_values`, :meth:`~spectranet.losses.Loss.sample_cvxpy`).
"""

from __future__ import annotations

import numbers

import numpy as np

from .loss_base import Kinks, Loss, _namespace, _total

__all__ = ["WeightedLoss", "check_sample_weight", "weigh_samples"]


def check_sample_weight(sample_weight, n_samples: int) -> np.ndarray:
    """``sample_weight`` as a new float64 array of shape ``(n_samples,)``: finite, non-negative,
    with a positive sum; a scalar is every sample's weight. TypeError or ValueError naming what
    was wrong otherwise."""
    if isinstance(sample_weight, (str, bytes, dict, set)) or sample_weight is None:
        raise TypeError(f"sample_weight must be an array-like of real numbers or a real number, got "
                        f"{type(sample_weight).__name__}")
    if isinstance(sample_weight, numbers.Real) and not isinstance(sample_weight, bool):
        w = np.full(n_samples, float(sample_weight))
    else:
        try:
            w = np.array(sample_weight, copy=True)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"sample_weight must be an array-like of real numbers: {exc}") from None
        if w.dtype == bool or not (np.issubdtype(w.dtype, np.number) and not np.iscomplexobj(w)):
            raise TypeError(f"sample_weight must hold real numbers, got dtype {w.dtype}")
        w = w.astype(np.float64)
    if w.shape != (n_samples,):
        raise ValueError(f"sample_weight must have shape ({n_samples},) (one weight per sample), got {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("sample_weight must be finite, got NaN or infinite weights")
    if np.any(w < 0):
        raise ValueError(f"sample_weight must be non-negative, got {w.min():g}")
    if not w.sum() > 0:
        raise ValueError("sample_weight must have a positive sum (every weight is zero)")
    return w


def weigh_samples(loss: Loss, n_samples: int, sample_weight) -> tuple[Loss, np.ndarray | None, np.ndarray | None]:
    """``(loss, keep, weights)`` of a problem's ``sample_weight`` (or of its loss, a WeightedLoss
    already): the loss weighted by the positive weights, the mask ``keep`` of the samples of positive
    weight (None: every sample), and their weights (None when all are one: the loss unweighted)."""
    if isinstance(loss, WeightedLoss):
        if sample_weight is not None:
            raise ValueError("the loss is a WeightedLoss already: pass the weights once, as sample_weight or in "
                             "the loss")
        if loss.weights.shape != (n_samples,):
            raise ValueError(f"the WeightedLoss has {loss.weights.size} weights for {n_samples} samples")
        return loss, None, loss.weights
    if sample_weight is None:
        return loss, None, None
    w = check_sample_weight(sample_weight, n_samples)
    keep = w > 0
    if keep.sum() < 2:
        raise ValueError(f"sample_weight leaves {int(keep.sum())} sample of positive weight; at least 2 are required")
    w = w[keep]
    if np.all(w == 1.0):
        return loss, (None if keep.all() else keep), None
    return WeightedLoss(loss, w), (None if keep.all() else keep), w


class WeightedLoss(Loss):
    r"""The loss :math:`\sum_i w_i\,\ell(\hat y_i, y_i)`: a base loss weighted per sample.

    Parameters
    ----------
    base : Loss
        The loss of each sample.
    weights : array-like of shape (n,)
        Positive, finite weights (:class:`~spectranet.problem.Problem` takes ``sample_weight`` and
        drops the samples of weight zero before it weights the others).

    Attributes
    ----------
    base : Loss
        The base loss.
    weights : ndarray of shape (n,)
        The weights (read-only).

    See Also
    --------
    spectranet.Problem : Takes ``sample_weight`` and builds this loss.
    spectranet.losses.Loss.sample_values : The per-sample methods it weights.

    Notes
    -----
    The flags are the base loss's. The weighted squared loss keeps the lifted engine's sufficient
    statistics, :math:`\Psi^\top W \Psi`, :math:`\Psi^\top W Y` and :math:`Y^\top W Y`; the
    weighted softmax loss the sample-space interior point's Schur systems per output (its Hessian
    blocks :math:`w_i(\operatorname{diag}(p_i) - p_i p_i^\top)`, :meth:`hessian_simplex_weights`).

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, eq. (20) (problem (P), for any
    convex loss) and eq. (24) (its dual through the conjugate).

    Examples
    --------
    >>> from spectranet.losses import SquaredLoss
    >>> loss = WeightedLoss(SquaredLoss(), [1.0, 2.0])
    >>> Y, Yhat = np.zeros((2, 1)), np.ones((2, 1))
    >>> loss.value(Yhat, Y), loss.gradient(Yhat, Y).ravel().tolist()  # (1 + 2) / 2
    (1.5, [1.0, 2.0])
    """

    def __init__(self, base: Loss, weights):
        if not isinstance(base, Loss) or isinstance(base, WeightedLoss):
            raise TypeError(f"WeightedLoss weights a Loss that is not weighted already, got {base!r}")
        w = np.array(weights, dtype=np.float64, copy=True)
        if w.ndim != 1 or not np.all(np.isfinite(w)) or not np.all(w > 0):
            raise ValueError("WeightedLoss needs a 1-D array of positive finite weights (a Problem drops the "
                             "samples of weight zero)")
        w.flags.writeable = False
        self.base, self.weights = base, w
        self.name, self.margin = base.name, base.margin
        self.multi_output_only, self.smooth = base.multi_output_only, base.smooth
        self.twice_differentiable, self.quadratic = base.twice_differentiable, base.quadratic
        self._columns = {}  # the weights as a column in each array library and device used

    def __getattr__(self, attr):  # what a Loss subclass adds (e.g. HuberLoss.delta)
        if attr in ("base", "weights", "_columns"):
            raise AttributeError(attr)
        return getattr(self.base, attr)

    def __repr__(self) -> str:
        return f"WeightedLoss({self.base!r}, n={self.weights.size})"

    def __getstate__(self):
        return {"base": self.base, "weights": np.array(self.weights)}

    def __setstate__(self, state):
        self.__init__(state["base"], state["weights"])

    def _column(self, A, ndim: int = 2):
        """The weights shaped ``(n, 1, ...)`` (``ndim`` axes) in the array library, device and
        dtype of ``A``."""
        if type(A) is np.ndarray:
            return self.weights.reshape((-1,) + (1,) * (ndim - 1))
        key = (type(A), str(getattr(A, "device", "")), str(A.dtype), ndim)
        col = self._columns.get(key)
        if col is None:
            xp = _namespace(A)
            col = xp.reshape(xp.asarray(np.array(self.weights), dtype=A.dtype, device=A.device),
                             (-1,) + (1,) * (ndim - 1))
            self._columns[key] = col
        return col

    def rows(self, index):
        if not isinstance(index, (slice, np.ndarray)) and hasattr(index, "cpu"):  # a torch tensor
            index = index.cpu().numpy()
        return WeightedLoss(self.base, self.weights[index])

    # -- primal -------------------------------------------------------------------
    def check_targets(self, Y):
        return self.base.check_targets(Y)

    def value(self, Yhat, Y):
        return _total(_namespace(Yhat, Y), self.sample_values(Yhat, Y))

    def sample_values(self, Yhat, Y):
        return self._column(Yhat, 1) * self.base.sample_values(Yhat, Y)

    def gradient(self, Yhat, Y):
        return self._column(Yhat) * self.base.gradient(Yhat, Y)

    def hessp(self, Yhat, Y, D):
        return self._column(Yhat) * self.base.hessp(Yhat, Y, D)

    def hessian_simplex(self, Yhat, Y):
        return self.base.hessian_simplex(Yhat, Y)

    def hessian_simplex_weights(self):
        base = self.base.hessian_simplex_weights()
        return self.weights if base is None else base * self.weights

    def hessian_blocks(self, Yhat, Y):
        H = self.base.hessian_blocks(Yhat, Y)
        return self._column(H, H.ndim) * H

    # -- dual -------------------------------------------------------------------
    def dual_value(self, V, Y):
        return float(np.sum(self.sample_dual_values(V, Y)))

    def sample_dual_values(self, V, Y):
        V = np.asarray(V, dtype=float)
        return self.weights * self.base.sample_dual_values(V / self._column(V), Y)

    def project_dual(self, V, Y):
        w = self._column(V)
        return w * self.base.project_dual(V / w, Y)

    def kinks(self, Y):
        k = self.base.kinks(Y)
        if k is None:
            return None
        w = self._column(Y)
        off_dual = k.off_dual
        return Kinks(k.kink, lambda K: w * off_dual(K), k.slope, w * k.scale, k.lo)

    def dual_box(self, Y):
        box = self.base.dual_box(Y)
        if box is None:
            return None
        lo, hi, q = box
        w = self._column(Y)
        return w * lo, w * hi, (q / w * np.ones(Y.shape) if np.any(q) else q)

    def scaled(self, t):
        found = self.base.scaled(t)
        return None if found is None else (WeightedLoss(found[0], self.weights), found[1])

    def cvxpy(self, Yhat, Y):
        return self.weights @ self.base.sample_cvxpy(Yhat, Y)

    def sample_cvxpy(self, Yhat, Y):
        import cvxpy as cp

        return cp.multiply(self.weights, self.base.sample_cvxpy(Yhat, Y))
