r"""The interface of the losses (:class:`Loss`, :class:`Kinks`) and the machinery the built-in ones
share: the array namespace of their arguments, and :class:`_Elementwise`, a loss that sums one
function of each entry, whose per-entry value, dual value and CVXPY form give every sum (in all,
per sample, at several scales of the dual point). The losses themselves are in
:mod:`spectranet.losses`, which also exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from array_api_compat import array_namespace, is_numpy_namespace

from ._docstrings import add_sections
from ._loss_docstrings import KINKS, LOSS, LOSS_METHODS

if TYPE_CHECKING:
    import cvxpy as cp
    import torch
    from numpy.typing import ArrayLike

__all__ = ["Loss", "Kinks"]


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
    __module__ = "spectranet.losses"  # where it is documented and exported (its examples run there)

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

    def sample_values(self, Yhat: np.ndarray | torch.Tensor, Y: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """The loss of each sample, shape ``(n,)`` (what sample weights multiply; by default
        :meth:`value` row by row)."""
        rows = [self.value(Yhat[i:i + 1], Y[i:i + 1]) for i in range(Yhat.shape[0])]
        xp = _namespace(Yhat, Y)
        return np.array(rows, dtype=float) if xp is np or is_numpy_namespace(xp) else xp.stack(rows)

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
        r"""The ``p`` (n, C) with Hessian blocks :math:`c_i(\operatorname{diag}(p_i) - p_i p_i^\top)`,
        :math:`p_i` on the simplex (numpy; :math:`c_i` from :meth:`hessian_simplex_weights`), where
        the loss has that form (softmax), else None: the sample-space interior point then solves its
        Schur systems per output (:mod:`~spectranet.solvers._schur_softmax`)."""
        return None

    def hessian_simplex_weights(self) -> np.ndarray | None:
        r"""The positive factors :math:`c_i` (n,) of the Hessian blocks of :meth:`hessian_simplex`
        (a weighted loss's sample weights), None where they are all one."""
        return None

    # -- dual -------------------------------------------------------------------
    def dual_value(self, V: np.ndarray, Y: np.ndarray) -> float:
        r"""Return the dual objective :math:`-\ell^*(-V) = \inf_{\hat Y} \langle V, \hat Y\rangle + \ell(\hat Y, Y)`."""
        raise NotImplementedError

    def dual_values(self, V: np.ndarray, Y: np.ndarray, ts: ArrayLike) -> np.ndarray:
        """:meth:`dual_value` at :math:`tV` for each ``t`` in ``ts`` (the certificate's search
        over ``t``; one pass over chunked data, see :class:`~spectranet.data.ChunkwiseLoss`)."""
        return np.array([self.dual_value(t * V, Y) for t in np.asarray(ts, dtype=float)], dtype=float)

    def rows(self, index: slice | np.ndarray) -> Loss:
        """The loss of the samples ``index`` (a slice or an index array), for code that evaluates a
        loss block by block of rows: the loss itself, the same function of every sample (a
        :class:`~spectranet.weighted.WeightedLoss` keeps those samples' weights)."""
        return self

    def sample_dual_values(self, V: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """:meth:`dual_value` of each sample, shape ``(n,)`` (by default row by row)."""
        return np.array([self.dual_value(V[i:i + 1], Y[i:i + 1]) for i in range(V.shape[0])], dtype=float)

    def project_dual(self, V: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """Map ``V`` into the domain of :meth:`dual_value` (identity where it is everything)."""
        return V

    def kinks(self, Y: np.ndarray) -> Kinks | None:
        """The kink structure of a polyhedral loss (None for the others), see :class:`Kinks`."""
        return None

    def dual_box(self, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float | np.ndarray] | None:
        r"""The box form of the loss, :math:`\ell(\hat Y) = \max_{lo \le V \le hi} \langle V, Y -
        \hat Y\rangle - \tfrac12 \langle q, V^2\rangle`, as ``(lo, hi, q)`` (arrays shaped as ``Y``;
        ``q`` a float, or such an array for a weighted loss);
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

    def sample_cvxpy(self, Yhat: cp.Expression, Y: np.ndarray) -> cp.Expression:
        """The loss of each sample as a CVXPY expression of shape ``(n,)`` (by default :meth:`cvxpy`
        row by row)."""
        import cvxpy as cp

        return cp.hstack([self.cvxpy(Yhat[i:i + 1, :], Y[i:i + 1]) for i in range(Y.shape[0])])


# the methods' Parameters, Returns, Raises, See Also, References and Examples
add_sections(Loss, LOSS_METHODS)


@dataclass(frozen=True)
class Kinks:
    __doc__ = KINKS
    __module__ = "spectranet.losses"

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


def _inside(V, lo, hi, tol=1e-12):
    """Entry-wise: whether ``V`` lies in ``[lo, hi]`` (within ``tol``)."""
    return (V >= lo - tol) & (V <= hi + tol)


class _Elementwise(Loss):
    """A loss that sums one function of each entry of :math:`\\hat Y` (every built-in loss but
    softmax): the entries' value (:meth:`_entries`, array-namespace generic), dual value
    (:meth:`_dual_entries`, numpy, ``-inf`` outside the domain) and CVXPY form
    (:meth:`_cvxpy_entries`) give every sum, in all and per sample."""

    def _entries(self, xp, Yhat, Y):
        raise NotImplementedError

    def _dual_entries(self, V, Y):
        raise NotImplementedError

    def _cvxpy_entries(self, Yhat, Y):
        raise NotImplementedError

    def value(self, Yhat, Y):
        xp = _namespace(Yhat, Y)
        return _total(xp, self._entries(xp, Yhat, Y))

    def sample_values(self, Yhat, Y):
        xp = _namespace(Yhat, Y)
        return xp.sum(self._entries(xp, Yhat, Y), axis=1)

    def dual_value(self, V, Y):
        return float(self.dual_values(V, Y, [1.0])[0])

    def dual_values(self, V, Y, ts):
        return _per_t(V, Y, ts, lambda W, y: np.sum(self._dual_entries(W, y), axis=1))

    def sample_dual_values(self, V, Y):
        return np.sum(self._dual_entries(np.asarray(V, dtype=float), np.asarray(Y, dtype=float)), axis=1)

    def cvxpy(self, Yhat, Y):
        import cvxpy as cp

        return cp.sum(self._cvxpy_entries(Yhat, Y))

    def sample_cvxpy(self, Yhat, Y):
        import cvxpy as cp

        return cp.sum(self._cvxpy_entries(Yhat, Y), axis=1)

