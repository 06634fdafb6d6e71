r"""The lift: svec layout of symmetric matrices, the lifted map and the lifted features.

Each sample's constraint matrix (eq. 21) is

.. math:: A_i = \begin{bmatrix} a\, x_i x_i^\top & \tfrac b2 x_i \\ \tfrac b2 x_i^\top & c \end{bmatrix},
          \qquad \hat y_i = \langle A_i, M \rangle = a\, x_i^\top M_1 x_i + b\, x_i^\top M_2 + c\, M_4 .

**The svec layout** (the one layout of the library: the CVXPY backends, the lifted interior
point and the lifted features all use it): for a symmetric ``p x p`` matrix, the entries of its
upper triangle in row-major order (``numpy.triu_indices(p)``), off-diagonal entries times
:math:`\sqrt 2`, so that :math:`\langle A, B\rangle = \mathrm{svec}(A)^\top \mathrm{svec}(B)`.
The lifted features are :math:`\Phi_{i,:} = \mathrm{svec}(A_i)`: ``Phi @ svec(M)`` is the lifted
map, and :math:`\Phi^\top \mathrm{diag}(w)\Phi` is the lifted Hessian of a separable loss.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["svec_indices", "svec", "smat", "svec_matrix", "lifted_dimension", "lifted_map", "cone_matrices",
           "lifted_features", "group_moments", "group_lifted_features", "activation_factors", "block_svec"]

SQRT2 = float(np.sqrt(2.0))


def lifted_dimension(n_features: int) -> int:
    """Entries of the svec of a ``(f+1) x (f+1)`` matrix: :math:`(f+1)(f+2)/2`."""
    return (n_features + 1) * (n_features + 2) // 2


def cone_matrices(n_features: int) -> tuple[np.ndarray, np.ndarray]:
    r"""The two fixed matrices of (21), ``(f+1) x (f+1)``: the trace condition's
    :math:`G = \mathrm{diag}(I_f, -1)` (:math:`\langle G, Z\rangle = 0`: :math:`\mathrm{tr} Z_1 = Z_4`)
    and the penalty's :math:`E = e_{f+1} e_{f+1}^\top` (:math:`\langle E, Z\rangle = Z_4`)."""
    G = np.diag(np.r_[np.ones(n_features), -1.0])
    E = np.zeros((n_features + 1, n_features + 1))
    E[n_features, n_features] = 1.0
    return G, E


@lru_cache(maxsize=32)
def svec_indices(p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row and column indices of the svec layout of a ``p x p`` matrix and each entry's weight
    (1 on the diagonal, :math:`\\sqrt 2` off it); read-only arrays."""
    rows, cols = np.triu_indices(p)
    weights = np.where(rows == cols, 1.0, SQRT2)
    for a in (rows, cols, weights):
        a.flags.writeable = False
    return rows, cols, weights


def svec(M: np.ndarray) -> np.ndarray:
    """svec of symmetric matrices ``(..., p, p)``: ``(..., p(p+1)/2)`` (the module's layout)."""
    rows, cols, weights = svec_indices(M.shape[-1])
    return M[..., rows, cols] * weights


def smat(v: np.ndarray, p: int) -> np.ndarray:
    """Inverse of :func:`svec`: symmetric ``(..., p, p)`` matrices from ``(..., p(p+1)/2)``."""
    rows, cols, weights = svec_indices(p)
    out = np.zeros(v.shape[:-1] + (p, p))
    entries = v / weights
    out[..., rows, cols] = entries
    out[..., cols, rows] = entries
    return out


def svec_matrix(p: int):
    """The sparse ``(p(p+1)/2, p^2)`` matrix ``S`` with ``svec(M) = S @ M.ravel()`` for
    symmetric ``M`` (for the CVXPY backends: ``S @ vec(Z)`` of a matrix variable)."""
    from scipy.sparse import csr_matrix

    rows, cols, weights = svec_indices(p)
    k = np.arange(rows.size)
    off = rows != cols
    data = np.concatenate([np.where(off, weights / 2.0, 1.0), weights[off] / 2.0])
    r = np.concatenate([k, k[off]])
    c = np.concatenate([rows * p + cols, cols[off] * p + rows[off]])
    return csr_matrix((data, (r, c)), shape=(rows.size, p * p))


def lifted_map(X: np.ndarray, M: np.ndarray, activation) -> np.ndarray:
    r"""The lifted map :math:`\hat Y_{ik} = \langle A_i, M_k\rangle` for ``M`` of shape
    ``(C, d+1, d+1)``, matrix-free (``rowsum((X M_1) * X)``, never the lifted features): ``(n, C)``
    (numpy arrays, or a torch tensor ``X`` with ``M`` on its device)."""
    (a, b, c), d = activation.coefficients, X.shape[1]
    M1, M2, M4 = M[:, :d, :d], M[:, :d, d], M[:, d, d]
    if type(X) is np.ndarray:
        quad = np.sum(np.matmul(X, M1) * X, axis=2).T  # x_i^T M1_k x_i, (n, C)
    else:  # a torch tensor (M on its device)
        quad = ((X @ M1) * X).sum(2).T
    return a * quad + b * (X @ M2.T) + c * M4[None, :]


def activation_factors(p: int, activation) -> np.ndarray:
    r"""The factor of each svec entry of :math:`A_i` (a ``p x p`` matrix) over the same entry of
    :math:`\tilde x \tilde x^\top`, :math:`\tilde x = (x, 1)`: ``a`` in the quadratic block,
    ``b/2`` in the last column, ``c`` in the corner."""
    a, b, c = activation.coefficients
    rows, cols, _ = svec_indices(p)
    last = p - 1
    return np.where(cols < last, a, np.where(rows < last, 0.5 * b, c))


def _coefficients(p: int, activation) -> np.ndarray:
    """:func:`activation_factors` times the svec weights: the factor of each svec entry of
    :math:`A_i` over the product of the extended sample's entries."""
    return activation_factors(p, activation) * svec_indices(p)[2]


def lifted_features(X, activation):
    r"""The lifted features :math:`\Phi_{i,:} = \mathrm{svec}(A_i)`: ``(n, (d+1)(d+2)/2)``,
    with :math:`\Phi\,\mathrm{svec}(M) = \hat y` of :func:`lifted_map`. Memory ``8 n D`` bytes:
    callers take blocks of rows. Array-namespace generic (numpy arrays or torch tensors)."""
    n, d = X.shape
    p = d + 1
    rows, cols, _ = svec_indices(p)
    coef = _coefficients(p, activation)
    if type(X) is np.ndarray:
        Xe = np.empty((n, p), dtype=X.dtype)
        Xe[:, :d] = X
        Xe[:, d] = 1.0
        out = np.take(Xe, rows, axis=1)
        out *= np.take(Xe, cols, axis=1)
        out *= coef.astype(X.dtype, copy=False)
        return out
    import array_api_compat

    xp = array_api_compat.array_namespace(X)
    Xe = xp.concat([X, xp.ones((n, 1), dtype=X.dtype, device=X.device)], axis=1)
    idx = [xp.asarray(np.array(i), device=X.device) for i in (rows, cols)]
    return Xe[:, idx[0]] * Xe[:, idx[1]] * xp.asarray(coef, dtype=X.dtype, device=X.device)


def block_svec(Q: np.ndarray, q: np.ndarray, r) -> np.ndarray:
    r""":math:`\mathrm{svec}\begin{bmatrix} Q & q \\ q^\top & r\end{bmatrix}` for stacks
    ``Q (..., f, f)``, ``q (..., f)``, ``r (...)`` (or a scalar): ``(..., (f+1)(f+2)/2)``."""
    f = Q.shape[-1]
    full = np.empty(Q.shape[:-2] + (f + 1, f + 1))
    full[..., :f, :f] = Q
    full[..., :f, f] = q
    full[..., f, :f] = q
    full[..., f, f] = r
    return svec(full)


def group_moments(R: np.ndarray, mean: np.ndarray) -> np.ndarray:
    r"""The moments of each group of a patch lift, activation-free: ``(G, n, (f+1)(f+2)/2)``, the
    svec of :math:`\begin{bmatrix} \sum_r R_{igr} R_{igr}^\top & \bar x_{ig} \\ \bar x_{ig}^\top & 1
    \end{bmatrix}` (times :func:`activation_factors`: the lifted features
    :func:`group_lifted_features`). One pass over the lift, :math:`n G r f^2` multiply-adds."""
    n, G, r, f = R.shape
    out = np.empty((G, n, lifted_dimension(f)))
    for g in range(G):
        Rg = R[:, g]
        out[g] = block_svec(np.matmul(Rg.swapaxes(1, 2), Rg), mean[:, g], 1.0)
    return out


def group_lifted_features(R: np.ndarray, mean: np.ndarray, activation) -> np.ndarray:
    r"""Lifted features of each group of a patch lift: ``(G, n, (f+1)(f+2)/2)``, the svec of
    :math:`A_{ig} = \begin{bmatrix} a \sum_r R_{igr} R_{igr}^\top & \frac b2 \bar x_{ig} \\
    \frac b2 \bar x_{ig}^\top & c\end{bmatrix}` (group ``g``'s features times ``svec(M_{gC+k})``
    summed over groups give output ``k``): :func:`group_moments` times :func:`activation_factors`."""
    out = group_moments(R, mean)
    out *= activation_factors(R.shape[-1] + 1, activation)
    return out
