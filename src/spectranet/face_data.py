"""The face polish's data: the Jacobian of the outputs in a face's coordinates (:class:`_FaceData`,
formed a block of rows at a time) or, for the squared loss on the lifted engine's sufficient
statistics, its Gram form (:class:`_FaceGram`); see :mod:`spectranet.face`."""

from __future__ import annotations

import numpy as np

from .kernels import svec_indices


def _rect_skron(P: np.ndarray) -> np.ndarray:
    r"""The matrix (``D_p x D_r``) of :math:`\hat W \mapsto P \hat W P^\top` from svec to svec
    coordinates, for ``P`` of shape ``(p, r)``."""
    p, r = P.shape
    rows, cols, wr = svec_indices(p)
    rk, ck, wk = svec_indices(r)
    I, J, K, L = rows[:, None], cols[:, None], rk[None, :], ck[None, :]
    M = P[I, K] * P[J, L] + P[I, L] * P[J, K]
    return M * (0.5 * np.outer(wr, wk))


#: entries of a block of rows of the face Jacobian (n_block x C x N): 32 MB
FACE_BLOCK_ENTRIES = 1 << 22


class _FaceData:
    """The Jacobian :math:`J` (``n x C x N``) of the outputs in the face coordinates
    ``svec(W_b)`` of every non-empty block, formed a block of rows at a time (never whole: 10^5 rows
    and N = 462 would be 370 MB), and what the face program needs of it: the triangular factor
    ``R`` of its QR factorization (:math:`R^\top R = J^\top J`, accumulated over the blocks), the
    outputs of a point, and the loss's value, gradient and Hessian (:math:`R^\top R` for the
    squared loss, a pass with the loss's weights otherwise)."""

    def __init__(self, problem, bases, kept, sizes):
        self.problem, self.bases, self.kept, self.sizes = problem, bases, kept, sizes
        self.quadratic = problem.loss.quadratic  # (see REFINE)
        self.C, self.N = problem.n_outputs, int(sum(sizes))
        self.offsets = np.cumsum([0] + list(sizes))
        n = problem.n_samples
        self.step = max(1, FACE_BLOCK_ENTRIES // max(1, self.C * self.N))
        self.rows = [slice(i, min(i + self.step, n)) for i in range(0, n, self.step)]
        if not problem.architecture.is_dense:
            self._phi = problem.data.lifted_features(problem.activation)  # (G, n, D): CNN filters are small
            self._maps = [_rect_skron(bases[b]) for b in kept]
        R, w = np.zeros((0, self.N)), problem.sample_weight
        for rows in self.rows:
            J = self.block(rows)
            if w is not None:  # (J^T W J, the Hessian of the weighted squared loss)
                J = J * np.sqrt(w[rows])[:, None, None]
            R = np.linalg.qr(np.vstack([R, J.reshape(-1, self.N)]), mode="r")
        self.R = R  # (at most N rows)

    def block(self, rows) -> np.ndarray:
        """:math:`J` on a block of rows: ``(rows, C, N)``."""
        problem, C = self.problem, self.C
        nb = len(range(*rows.indices(problem.n_samples)))
        J = np.zeros((nb, C, self.N))
        for i, b in enumerate(self.kept):
            pair, sign = divmod(b, 2)
            cols = slice(self.offsets[i], self.offsets[i + 1])
            P = self.bases[b]
            if problem.architecture.is_dense:
                (a, bb, c), f = problem.activation.coefficients, problem.n_features
                z, pl = problem.X[rows] @ P[:f], P[f]  # P^T x~ = (P_u^T x, p_l)
                rk, ck, wk = svec_indices(P.shape[1])
                F = (a * z[:, rk] * z[:, ck] + 0.5 * bb * (z[:, rk] * pl[ck] + pl[rk] * z[:, ck])
                     + c * pl[rk] * pl[ck]) * wk
            else:
                F = self._phi[pair // C][rows] @ self._maps[i]
            J[:, pair % C, cols] = (1.0 if sign == 0 else -1.0) * F
        return J

    def outputs(self, w) -> np.ndarray:
        return np.concatenate([self.block(rows) @ w for rows in self.rows])

    def derivatives(self, w, M: np.ndarray | None = None):
        """``(loss value, gradient (N,), Hessian)`` of the loss at the outputs ``J w``; the Hessian
        in the coordinates ``M`` (N x width: :math:`M^\top H M`, formed as the Gram matrix of
        :math:`JM`, not through the N x N one), None without ``M``."""
        loss, Y = self.problem.loss, self.problem.Y
        value, g, width = 0.0, np.zeros(self.N), 0 if M is None else M.shape[1]
        quadratic = loss.quadratic or M is None
        H = None if M is None else _gram(self.R @ M) if loss.quadratic else np.zeros((width, width))
        for rows in self.rows:
            J = self.block(rows)
            Yb, loss = Y[rows], self.problem.loss.rows(rows)  # (sample weights: those of the block)
            Yhat = J @ w
            value += float(loss.value(Yhat, Yb))
            g += np.einsum("nkp,nk->p", J, loss.gradient(Yhat, Yb))
            if quadratic:
                continue
            Hl, JM = loss.hessian_blocks(Yhat, Yb), J @ M
            if Hl.ndim == 2:
                H += _gram((JM * np.sqrt(np.clip(Hl, 0.0, None))[:, :, None]).reshape(-1, width))
            else:
                H += JM.reshape(-1, width).T @ np.einsum("nkl,nlp->nkp", Hl, JM).reshape(-1, width)
        return value, g, None if H is None else 0.5 * (H + H.T)


class _FaceGram:
    """:class:`_FaceData` for the squared loss from the lifted engine's sufficient statistics
    (``model``: its triangular factor ``root`` of the lifted features, :math:`\\Psi^\\top Y`,
    :math:`\\|Y\\|^2`): no pass over the data, any data backend, any ``n``."""

    quadratic = True

    def __init__(self, problem, bases, kept, sizes, model):
        C, G = problem.n_outputs, problem.n_groups
        D = model.D
        offsets = np.cumsum([0] + list(sizes))
        self.N = int(offsets[-1])
        self.maps = [np.zeros((G * D, self.N)) for _ in range(C)]  # face coordinates -> m of output k
        for i, b in enumerate(kept):
            pair, sign = divmod(b, 2)
            g, k = divmod(pair, C)
            block = (1.0 if sign == 0 else -1.0) * _rect_skron(bases[b])
            self.maps[k][g * D:(g + 1) * D, offsets[i]:offsets[i + 1]] = block
        self.root, self.yy = model.root, model.yy
        self.H = model.root.T @ model.root
        self.b = [model.b[np.arange(k, problem.n_pairs, C)].ravel() for k in range(C)]
        R = np.vstack([self.root @ M for M in self.maps])
        self.R = np.linalg.qr(R, mode="r") if R.shape[0] > R.shape[1] else R  # (at most N rows)

    def derivatives(self, w, M: np.ndarray | None = None):
        """As :meth:`_FaceData.derivatives`."""
        value, g, H = 0.5 * self.yy, np.zeros(self.N), None if M is None else np.zeros((M.shape[1],) * 2)
        for Mk, b in zip(self.maps, self.b):
            m = Mk @ w
            Hm = self.H @ m
            value += 0.5 * float(m @ Hm) - float(b @ m)
            g += Mk.T @ (Hm - b)
            if M is not None:
                H += _gram(self.root @ (Mk @ M))
        return value, g, H


def _gram(A: np.ndarray) -> np.ndarray:
    """:math:`A^\top A`."""
    return A.T @ A
