"""The smooth part of the lifted program for the lifted interior point
(:mod:`spectranet.solvers.lifted`): the loss of the lifted point, its gradient and Hessian blocks
(the squared loss's sufficient statistics, or a Gram pass per iteration), the rank-``n`` factors
of the Hessian that turn the Newton blocks into capacitances, and the certificate of an iterate."""

from __future__ import annotations

import numpy as np

from ..kernels import smat, svec
from ..sphere import eig_desc, sphere_max_abs
from .lifted_newton import block_hess_mul

__all__ = ["newton_order", "uses_factors", "objective_model", "FACTOR_RANK", "FACTOR_ENTRIES", "CANCELLATION"]

#: the Newton blocks are solved through a factor of the lifted Hessian of rank ``n``
#: (:class:`~spectranet.solvers.lifted_newton._Capacitance`) where their order exceeds n / FACTOR_RANK:
#: for the squared loss the rows of ``root``; for the other losses separable over outputs, on
#: in-memory data, the lifted features (kept for the iterations when they and their C weighted
#: copies take at most FACTOR_ENTRIES floats) weighted per iteration
FACTOR_RANK, FACTOR_ENTRIES = 0.5, 25_000_000
#: the squared loss from its sufficient statistics, 1/2 m^T H m - b^T m + 1/2 |y|^2, is taken only
#: where it keeps this fraction of the terms' size (its relative rounding is then below 1e-10);
#: else the outputs are computed (a pass) and the loss and the dual point come from them
CANCELLATION = 1e-6


def newton_order(problem) -> int:
    """Order of the largest dense block of the Newton system (see :data:`MAX_ORDER`)."""
    D = (problem.n_features + 1) * (problem.n_features + 2) // 2
    return D * (problem.n_pairs if problem.loss.multi_output_only else problem.n_groups)


def uses_factors(problem) -> bool:
    """Whether the Newton blocks are solved through a factor of the lifted Hessian of rank ``n``
    (see :data:`FACTOR_RANK`)."""
    if not problem.n_samples < FACTOR_RANK * newton_order(problem):
        return False
    backend = type(problem.data).__name__
    if problem.loss.quadratic:  # (a Dask root is a full triangle: its chunks' factors are padded)
        return backend in ("HostData", "GroupedData", "TorchData")
    return (not problem.loss.multi_output_only and backend in ("HostData", "GroupedData")
            and problem.n_samples * newton_order(problem) * problem.n_outputs <= FACTOR_ENTRIES)


class _Objective:
    """The smooth part :math:`f(m) = \\ell(\\Psi m, Y)` and what the method needs of it.

    For the squared loss, from the sufficient statistics (one pass at construction): the
    triangular factor ``root`` of the lifted features (:math:`R^\\top R` is the lifted Hessian),
    :math:`\\Psi^\\top Y` and :math:`\\|Y\\|^2`; :meth:`dual_value` of the
    certificate's scaled dual points too. Otherwise each evaluation is a pass (outputs, adjoint)
    and each Hessian another (:meth:`~spectranet.data.host.HostData.lifted_gram`).

    Where :func:`uses_factors`, :attr:`factors` holds each block's Hessian as
    :math:`F^\\top F` with ``n`` rows (the squared loss: the rows of ``root``; another loss: its
    lifted features, kept, weighted by the square roots of the loss's Hessian at each evaluation,
    no Gram pass); :meth:`hess_mul` uses them, and :attr:`hessian` is then formed only when asked.
    """

    def __init__(self, problem, blocks):
        self.problem, self.blocks = problem, blocks
        self.P, self.f = problem.n_pairs, problem.n_features
        self.D = (self.f + 1) * (self.f + 2) // 2
        self.quadratic = problem.loss.quadratic
        self._hessian, self.root, self.factors, self._features = None, None, None, None
        n, factored = problem.n_samples, uses_factors(problem)
        if self.quadratic:
            Y, w = problem.Y, problem.sample_weight
            # the lifted Hessian as R^T R: its factor R (a QR factorization of the lifted features,
            # twice the flops of the Gram matrix) also serves the face polish; with sample weights W,
            # Psi^T W Psi, Psi^T W Y and Y^T W Y
            self.root = problem.data.lifted_root(problem.activation, w)
            gram = self.root.T @ self.root
            self._hessian = [gram] * len(blocks)
            if factored and not np.any(self.root[n:]):  # R's rows below n are zero: the factor of rank n
                self.factors = [np.ascontiguousarray(self.root[:n])] * len(blocks)
            WY = Y if w is None else w[:, None] * Y
            self.b = self._adjoint_svec(WY)  # Psi^T W Y, (P, D)
            self.yy = float(problem.data.host((WY * Y).sum()))
        elif factored:
            F = problem.group_lifted_features()  # (G, n, D): the factors' rows, weighted per iteration
            self._features = np.ascontiguousarray(F.transpose(1, 0, 2).reshape(n, -1))

    def _gram(self, weights):
        if self._features is not None:  # separable weights (n, C): one factor of rank n per output
            w = np.sqrt(np.clip(np.asarray(weights, dtype=float), 0.0, None))
            self.factors = [w[:, k, None] * self._features for k in range(w.shape[1])]
            return None
        gram = self.problem.data.lifted_gram(weights, self.problem.activation)
        return list(gram) if gram.ndim == 3 else [gram]

    def _adjoint_svec(self, V) -> np.ndarray:
        """:math:`\\Psi^\\top V` as ``(P, D)``: the svec of the adjoint (one pass)."""
        return svec(self.problem.adjoint(V))

    def hess_mul(self, x: np.ndarray) -> np.ndarray:
        """:math:`H x` for ``x`` of shape (P, D) (the blocks of the current Hessian)."""
        return block_hess_mul(self.blocks, self._hessian, self.factors, x)

    def evaluate(self, m: np.ndarray, hessian: bool = True):
        """``(value, gradient (P, D), V)`` at ``m``; the Hessian blocks are updated when asked
        (``V``: the dual point :math:`-\\nabla\\ell`, ``None`` for the squared loss, which never
        needs it)."""
        problem = self.problem
        if self.quadratic:
            Hm = self.hess_mul(m)
            mHm, bm = float(np.sum(m * Hm)), float(np.sum(self.b * m))
            value = 0.5 * mHm - bm + 0.5 * self.yy
            if value > CANCELLATION * (0.5 * abs(mHm) + abs(bm) + 0.5 * self.yy):
                return value, Hm - self.b, None
            # the three terms cancel (a large step far from the optimum): the loss from the outputs
            Yhat = problem.forward(smat(m, self.f + 1))
            return float(problem.loss.value(Yhat, problem.Y)), Hm - self.b, -problem.loss.gradient(Yhat, problem.Y)

        Yhat = problem.forward(smat(m, self.f + 1))
        G = problem.loss.gradient(Yhat, problem.Y)
        value = float(problem.loss.value(Yhat, problem.Y))
        if hessian:
            self._hessian = self._gram(problem.loss.hessian_blocks(Yhat, problem.Y))  # (None: factors)
        return value, self._adjoint_svec(G), -G

    def dual_values(self, m, grad, V, ts) -> np.ndarray:
        """:math:`-\\ell^*(-tV)` for each ``t`` in ``ts``, :math:`V = -\\nabla\\ell(\\Psi m)`."""
        if self.quadratic and V is None:  # V = Y - Psi m: V.Y = yy - b.m, |V|^2 = yy - 2 b.m + m.H m
            bm = float(np.sum(self.b * m))
            VY, VV = self.yy - bm, self.yy - bm + float(np.sum(grad * m))
            ts = np.asarray(ts, dtype=float)
            return ts * VY - 0.5 * ts * ts * VV
        return self.problem.loss.dual_values(V, self.problem.Y, ts)

    @property
    def factored(self) -> bool:
        """Whether the Newton blocks can be solved through :attr:`factors`."""
        return self._features is not None or (self.quadratic and self.factors is not None)

    def dense(self) -> None:
        """Dense Hessian blocks from the next evaluation on (a non-quadratic loss; the squared
        loss keeps its factors, which a later solve on the same data uses again)."""
        if self._features is not None:
            self.factors, self._features = None, None
            self._hessian = None  # (formed again at the next evaluation, by a Gram pass)

    @property
    def hessian(self):
        """The dense blocks of the current lifted Hessian (formed from the :attr:`factors` when the
        iterations run on those)."""
        if self._hessian is None and self.factors is not None:
            self._hessian = [F.T @ F for F in self.factors]
        return self._hessian


def objective_model(problem, previous=None):
    """The smooth part of the objective with its sufficient statistics (a pass over the data for
    the squared loss): ``previous`` when it was made for the same data, loss and activation."""
    blocks = _blocks(problem)
    if (isinstance(previous, _Objective) and previous.problem.data is problem.data and previous.quadratic
            and previous.problem.loss == problem.loss and previous.problem.activation == problem.activation):
        return previous
    return _Objective(problem, blocks)


def _blocks(problem) -> list[np.ndarray]:
    """Pair indices of the Hessian's dense blocks: per output its groups' pairs ``g*C + k``
    (one pair dense), or all pairs for a loss that couples the outputs."""
    P, C = problem.n_pairs, problem.n_outputs
    if problem.loss.multi_output_only:
        return [np.arange(P)]
    return [np.arange(k, P, C) for k in range(C)]


def _certified_bound(objective: _Objective, m, grad, V, beta, f):
    """The certificate of an iterate: :math:`\\lambda` of its dual point by the exact sphere
    oracle on :math:`\\mathcal A^*(V)_p = -\\mathrm{smat}(\\nabla f)_p`, and the best bound
    :math:`-\\ell^*(-tV)` over :math:`t \\le \\min(1, \\beta/\\lambda)`. Returns ``(bound, t, lam)``."""
    from ..certificate import _maximize_concave

    Astar = -smat(grad, f + 1)  # (P, f+1, f+1)
    lam = 0.0
    for p in range(Astar.shape[0]):
        Q, q, r = Astar[p, :f, :f], 2.0 * Astar[p, :f, f], Astar[p, f, f]
        res, _ = sphere_max_abs(Q, q, r, eig=eig_desc(Q))
        lam = max(lam, res.value_upper)
    t_max = 1.0 if lam <= beta else beta / lam
    t, bound = _maximize_concave(lambda ts: objective.dual_values(m, grad, V, ts), t_max)
    return bound, t, lam
