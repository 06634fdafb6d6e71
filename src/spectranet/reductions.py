r"""Exact reductions of a problem, in CVXPY's sense: ``apply`` to the problem, ``invert`` to its network.

**The row-space reduction.** The pre-activations :math:`Xu` depend on :math:`u` only through
:math:`w = Q^\top u`, where :math:`Q` (``d x r``) is an orthonormal basis of the row space of
``X``. For :math:`r < d` the set :math:`\{Xu : \|u\| = 1\} = \{XQw : \|w\| \le 1\}` is also
:math:`\{X'u' : \|u'\| = 1\}` with :math:`X' = [XQ,\ 0]` (``n x (r+1)``) and
:math:`u' = (w, \|u - Qw\|)`. So problem (P), the convex program (21) and the certificate are the
same in dimension :math:`r + 1`: a ``10 x 2000`` data set becomes a problem with ``d = 11``, and
the always-zero pixels of MNIST drop out (784 -> 580 on digits 0/1). A network of the reduced
problem maps back by :math:`u = Qw + t\,q_\perp` (:math:`q_\perp` a unit vector orthogonal to the
row space), with the same outputs on ``X`` and the same objective.
"""

from __future__ import annotations

import logging
import weakref

import numpy as np

from .data import HostData
from .network import PolyNetwork
from .problem import Problem

__all__ = ["RowSpaceReduction"]

logger = logging.getLogger(__name__)

#: dense data with n >= d is reduced only from this many features on (below, a rank-deficient X is
#: rare and the engines' cost in d is small): the rank test is a QR factorization, 2 n d^2 flops
MIN_FEATURES = 100

#: the reduction of each data object (problems of one data set share it: the copies of
#: ``Problem.with_beta``, a regularization path); None where there is none
_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


class RowSpaceReduction:
    """The row-space reduction of a dense in-memory problem (see the module docstring).

    Use :meth:`of` to build it (None when it would not reduce the problem), :meth:`apply` for
    the reduced problem, :meth:`invert` to map its networks back and :meth:`reduce_network`
    to map a network of the original problem (a warm start) into it.

    Attributes
    ----------
    basis : ndarray of shape (d, r)
        Orthonormal basis :math:`Q` of the row space of ``X``.
    complement : ndarray of shape (d,)
        A unit vector :math:`q_\\perp` orthogonal to it.
    dropped : float
        The largest singular value of ``X`` left out (at rounding level): :meth:`violation_slack`
        bounds what it can change in a certificate.
    """

    def __init__(self, problem: Problem, basis: np.ndarray, dropped: float = 0.0):
        self.problem, self.basis, self.dropped = problem, basis, float(dropped)
        self._reduced = None
        d, r = basis.shape
        # the standard basis vector farthest from the row space, projected out of it
        j = int(np.argmin(np.einsum("jr,jr->j", basis, basis)))
        e = np.zeros(d)
        e[j] = 1.0
        for _ in range(2):  # twice: orthogonal to rounding
            e -= basis @ (basis.T @ e)
        self.complement = e / np.linalg.norm(e)

    @classmethod
    def of(cls, problem: Problem, rtol: float | None = None) -> "RowSpaceReduction | None":
        """The reduction of ``problem``, or None when ``X`` has full column rank, is not dense
        in-memory numpy data, or is not worth the rank test (``n >= d`` and ``d`` below
        :data:`MIN_FEATURES` with no all-zero column).

        The rank counts singular values above ``rtol * s_max`` (default
        ``max(n, d) * eps``: only directions that ``X`` annihilates to rounding are dropped). The
        result is cached per data object (all ``with_beta`` copies of a problem share it).
        """
        if not (problem.architecture.is_dense and type(problem.data) is HostData):
            return None
        if rtol is None and problem.data in _CACHE:
            return _CACHE[problem.data]
        found = cls._compute(problem, rtol)
        if rtol is None:
            _CACHE[problem.data] = found
        return found

    @classmethod
    def _compute(cls, problem: Problem, rtol):
        X = problem.X
        n, d = X.shape
        zero_column = bool(np.any(np.all(X == 0.0, axis=0)))
        if n >= d and d < MIN_FEATURES and not zero_column:
            return None
        if n < d:
            _, s, Vt = np.linalg.svd(X, full_matrices=False)
        else:
            R = np.linalg.qr(X, mode="r")
            _, s, Vt = np.linalg.svd(R, full_matrices=False)
        if s.size == 0 or s[0] == 0.0:
            return None
        tol = (max(n, d) * np.finfo(float).eps if rtol is None else rtol) * s[0]
        r = int(np.sum(s > tol))
        if r + 1 >= d:
            return None
        logger.debug("row-space reduction: d = %d -> %d", d, r + 1)
        return cls(problem, np.ascontiguousarray(Vt[:r].T), float(s[r]) if r < s.size else 0.0)

    @property
    def n_features(self) -> int:
        """Width :math:`r + 1` of the reduced problem."""
        return self.basis.shape[1] + 1

    def apply(self) -> Problem:
        """The reduced problem: data :math:`[XQ,\\ 0]`, the same targets, loss, activation and beta
        (built once; use ``.with_beta`` for another beta)."""
        if self._reduced is None:
            p = self.problem
            Xr = np.zeros((p.n_samples, self.n_features))
            Xr[:, :-1] = p.X @ self.basis
            self._reduced = Problem(Xr, p.Y, p.activation, p.loss, p.beta, n_outputs=p.n_outputs)
        return self._reduced

    def reduce_quadratic(self, Q: np.ndarray, q: np.ndarray):
        """The coefficients of :math:`u \\mapsto u^\\top Q u + q^\\top u` in the reduced
        coordinates :math:`u' = (w, t)`: ``(B^T Q B, B^T q)`` with :math:`B = [Q_{\\rm basis},\\ 0]`
        (the last coordinate does not move :math:`Xu`)."""
        r = self.basis.shape[1]
        Qr = np.zeros(Q.shape[:-2] + (r + 1, r + 1))
        Qr[..., :r, :r] = self.basis.T @ Q @ self.basis
        qr = np.zeros(q.shape[:-1] + (r + 1,))
        qr[..., :r] = q @ self.basis
        return Qr, qr

    def unreduce_neuron(self, u: np.ndarray) -> np.ndarray:
        """A unit neuron of the reduced problem in the original features."""
        full = self.basis @ u[:-1] + u[-1] * self.complement
        return full / np.linalg.norm(full)

    def violation_slack(self, V: np.ndarray) -> float:
        r"""A bound on what the dropped directions can add to :math:`|V_k^\top \sigma(Xu)|`:
        :math:`s \sum_i |v_i| (|a| (2\|x_i\| + s) + |b|)` with ``s`` the largest dropped singular
        value (at rounding level: the certificate's :math:`\lambda` stays an upper bound)."""
        if self.dropped == 0.0:
            return 0.0
        a, b, _ = self.problem.activation.coefficients
        s, norms = self.dropped, np.linalg.norm(self.problem.X, axis=1)
        weights = np.abs(a) * (2.0 * norms + s) + np.abs(b)
        return float(s * np.max(np.abs(np.asarray(V, dtype=float)).T @ weights))

    def invert(self, network: PolyNetwork) -> PolyNetwork:
        """A network of the reduced problem as a network of the original one: :math:`u = Qw +
        t q_\\perp`, unit norm, the same outputs on ``X``."""
        U = network.first_layer
        first = U[:, :-1] @ self.basis.T + U[:, -1:] * self.complement[None, :]
        first /= np.linalg.norm(first, axis=1, keepdims=True) if len(first) else 1.0
        return PolyNetwork(first, network.second_layer, network.activation, network.architecture)

    def reduce_network(self, network: PolyNetwork) -> PolyNetwork:
        """A network of the original problem in the reduced problem: :math:`w = Q^\\top u`,
        :math:`t = \\|u - Qw\\|` (the same outputs on ``X``)."""
        U = network.first_layer
        W = U @ self.basis
        t = np.sqrt(np.clip(1.0 - np.einsum("jr,jr->j", W, W), 0.0, None))
        return PolyNetwork(np.hstack([W, t[:, None]]), network.second_layer, network.activation,
                           network.architecture)

    def invert_lifted(self, Z: np.ndarray) -> np.ndarray:
        r"""Lifted matrices ``(P, r+2, r+2)`` of the reduced problem as ``(P, d+1, d+1)`` of the original:
        :math:`B Z B^\top` with :math:`B = \mathrm{diag}([Q,\ q_\perp], 1)` (the same outputs,
        trace and penalty: :math:`B^\top A_i B` is the reduced sample's :math:`A_i`)."""
        d, r = self.basis.shape
        B = np.zeros((d + 1, r + 2))
        B[:d, :r], B[:d, r], B[d, r + 1] = self.basis, self.complement, 1.0
        return B @ Z @ B.T


#: data are solved in their own units while the activation's largest value over the data is in
#: [UNITS_LOW, UNITS_HIGH] and the regression targets' largest magnitude in [1/UNITS_HIGH, UNITS_HIGH]
UNITS_LOW, UNITS_HIGH = 1e-3, 1e6
#: data whose largest magnitude lies in this range have their row norms summed unscaled (no copy of
#: the data; the squares can neither overflow nor lose the largest rows to underflow)
SAFE_SQUARE = (1e-100, 1e100)


class UnitScaling:
    r"""The exact change of units that makes a problem's activations and targets of order one.

    With :math:`\kappa` the largest activation :math:`|\sigma(x^\top u)|` over the data and unit
    :math:`u` (:math:`|a| s^2 + |b| s + |c|`, ``s`` the largest row norm) and ``t`` the targets'
    largest magnitude (regression losses; 1 otherwise), the problem with activation
    :math:`\sigma/\kappa`, targets :math:`y/t` and the loss :meth:`Loss.scaled
    <spectranet.losses.Loss.scaled>` gives (:math:`\ell(t\hat y, ty) = t^p\ell'(\hat y, y)`: the
    squared loss itself with ``p = 2``, Huber with :math:`\delta/t`, the absolute loss with ``p = 1``;
    labels do not scale) and :math:`\beta' = \beta t^{1-p}/\kappa` has the same optimal first layer,
    second layer :math:`\alpha' = \kappa\alpha/t`, and objective :math:`f/t^p`. :meth:`apply`
    gives it, :meth:`invert` maps its networks back.
    """

    def __init__(self, problem: Problem, kappa: float, scale: float):
        self.problem, self.kappa, self.scale = problem, float(kappa), float(scale)

    @classmethod
    def of(cls, problem: Problem) -> "UnitScaling | None":
        """The scaling of a dense or grouped in-memory problem whose units are out of range, else None."""
        if problem.is_dask:
            return None
        a, b, c = problem.activation.coefficients
        X = problem.X
        top = max(float(X.max()), -float(X.min())) if X.size else 0.0  # max |X| without a copy of X
        if top > 0 and SAFE_SQUARE[0] < top < SAFE_SQUARE[1]:  # squares and their row sums cannot overflow
            s = float(np.sqrt(np.max(np.einsum("ij,ij->i", X, X))))
        else:
            s = top * float(np.sqrt(np.max(np.einsum("ij,ij->i", X / top, X / top)))) if top > 0 else 0.0
        kappa = abs(a) * s * s + abs(b) * s + abs(c)
        regression = problem.loss.scaled(1.0) is not None
        t = float(np.max(np.abs(problem.Y))) if regression and problem.Y.size else 1.0
        t = t if t > 0 else 1.0
        if kappa == 0 or (UNITS_LOW <= kappa <= UNITS_HIGH and 1.0 / UNITS_HIGH <= t <= UNITS_HIGH):
            return None
        return cls(problem, kappa, t)

    def _beta_and_loss(self):
        loss, t = self.problem.loss, self.scale
        scaled = loss.scaled(t) if t != 1.0 else None
        if scaled is None:
            return self.problem.beta / self.kappa, loss
        new, power = scaled
        return self.problem.beta * t ** (1 - power) / self.kappa, new

    @property
    def dual_factor(self) -> float:
        r"""The factor of a dual point of the scaled problem in the original units
        (:math:`t^{p-1}` for a loss with :math:`\ell(t\hat y, ty) = t^p \ell'`)."""
        scaled = self.problem.loss.scaled(self.scale) if self.scale != 1.0 else None
        return 1.0 if scaled is None else self.scale ** (scaled[1] - 1)

    def apply(self) -> Problem:
        """The problem in the new units."""
        p = self.problem
        a, b, c = p.activation.coefficients
        beta, loss = self._beta_and_loss()
        return Problem(p.X, p.Y / self.scale, (a / self.kappa, b / self.kappa, c / self.kappa), loss, beta,
                       n_outputs=p.n_outputs, architecture=p.architecture)

    def invert(self, network: PolyNetwork) -> PolyNetwork:
        """A network of the scaled problem in the original units: :math:`\\alpha = t\\alpha'/\\kappa`."""
        return PolyNetwork(network.first_layer, network.second_layer * (self.scale / self.kappa),
                           self.problem.activation, network.architecture)

    def invert_lifted(self, Z: np.ndarray) -> np.ndarray:
        """Lifted matrices in the original units (:math:`Z = t Z'/\\kappa`)."""
        return Z * (self.scale / self.kappa)
