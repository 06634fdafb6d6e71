r"""Per-sample terms of the Newton system of (P): the loss's value, gradient and Hessian in the
tangent coordinates of the first layer (the spheres) and the free second-layer entries.

Written once for the grouped lift of the convolutional architectures (a dense network is the
case of one group of one patch, ``R = X[:, None, None, :]`` and ``mean = None``); summed over
blocks of rows, so the data backends (numpy, Dask chunks, the grouped lift) call it on their rows.
See :mod:`spectranet.newton` for the method that uses it.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from .forward import group_activation, group_outputs, group_projections

__all__ = ["sample_terms", "ROW_BLOCK_ENTRIES"]


#: entries of the Newton system's per-row temporaries (the Jacobian, the tangent terms), which
#: :func:`sample_terms` sums over blocks of rows: 32 MB each in float64 (one block of 10^6 rows
#: and 50 parameters took 1.2 GB)
ROW_BLOCK_ENTRIES = 1 << 22


def sample_terms(R, mean, Y, U, A, free, Q, loss, activation):
    """:func:`_block_terms` summed over blocks of rows of at most :data:`ROW_BLOCK_ENTRIES`
    temporaries (at least one row)."""
    n, G, r, f = R.shape
    m, e = Q.shape[0], Q.shape[2]
    per_row = Y.shape[1] * (m * e + len(free)) + G * m * (e + r * f)
    step = max(1, ROW_BLOCK_ENTRIES // per_row)
    if step >= n:
        return _block_terms(R, mean, Y, U, A, free, Q, loss, activation)
    value, grad, H = 0.0, 0.0, 0.0
    for i in range(0, n, step):
        rows = slice(i, i + step)
        v, g, h = _block_terms(R[rows], None if mean is None else mean[rows], Y[rows], U, A, free, Q,
                               loss.rows(rows), activation)
        value, grad, H = value + v, grad + g, H + h
    return value, grad, H


def _block_terms(R, mean, Y, U, A, free, Q, loss, activation):
    r"""The loss's part of the Newton system summed over the samples: ``(value, gradient (P,),
    Hessian (P, P))`` in the tangent coordinates ``(z, A[free])`` (``Q``: the tangent bases).

    Written for the grouped lift of :mod:`spectranet.data.grouped` (``R`` (n, G, r, f), ``mean``
    (n, G, f); a group's activation :math:`\phi_{ig}(u) = a\sum_r (R_{igr}^\top u)^2 + b\,\bar
    x_{ig}^\top u + c`, outputs :math:`\hat y_{ik} = \sum_{j,g}\phi_{ig}(u_j)\alpha_{j,gC+k}`); a
    dense network is the case ``G = r = 1``, ``R = X`` and ``mean = None`` (with ``r = 1``: the
    group's mean is its only patch). With :math:`w_{igj} = \sum_k
    (\nabla\ell)_{ik}\alpha_{j,gC+k}`, the second derivatives of the outputs add
    :math:`2a\sum_{i,g,r} w_{igj} (Q_j^\top R_{igr})(Q_j^\top R_{igr})^\top` to neuron ``j``'s
    block and :math:`\sum_i (\nabla\ell)_{ik} Q_j^\top\nabla\phi_{ig}(u_j)` between its tangent
    coordinates and :math:`\alpha_{j,gC+k}`; the sphere's curvature subtracts
    :math:`\sum_{i,g} w_{igj}\, u_j^\top\nabla\phi_{ig}(u_j)`. Every term is a sum over samples,
    so chunks of rows add up."""
    n, G, r, f = R.shape
    m, P = A.shape
    C, e = P // G, f - 1
    a, b, c = activation.coefficients
    T, L = group_projections(R, mean, U)  # R_igr^T u_j, mean_ig^T u_j
    Phi = group_activation(T, L, activation)
    A3 = A.reshape(m, G, C)
    Yhat = group_outputs(Phi, A)
    Gl = loss.gradient(Yhat, Y)  # (n, C)
    W = (Gl @ A3.transpose(2, 1, 0).reshape(C, G * m)).reshape(n, G, m)  # w_igj
    dphi, blocks = _tangent_terms(R, mean, T, W, Q, a, b)
    nz, rows, cols = m * e, free[:, 0], free[:, 1]
    groups, outs = np.divmod(cols, C)
    Ptot, F = nz + len(free), len(free)
    grad = np.empty(Ptot)
    grad[:nz] = np.einsum("ngm,ngme->me", W, dphi).ravel()
    grad[nz:] = np.sum(Phi[:, groups, rows] * Gl[:, outs], axis=0)
    Hl = loss.hessian_blocks(Yhat, Y)
    separable = Hl.ndim == 2
    # the Jacobian of the outputs, its rows scaled by sqrt(h) for a separable loss
    scale = np.sqrt(np.clip(Hl, 0.0, None)) if separable else np.ones((n, C))
    J = np.empty((n, C, Ptot))
    if G == 1:  # sum_g alpha_jgk dphi_igj
        J[:, :, :nz] = ((A3[:, 0, :].T[None] * scale[:, :, None])[:, :, :, None]
                        * dphi[:, 0, None, :, :]).reshape(n, C, nz)
    else:
        J[:, :, :nz] = np.einsum("mgk,ngme->nkme", A3, dphi).reshape(n, C, nz) * scale[:, :, None]
    J[:, :, nz:] = 0.0
    J[:, outs, nz + np.arange(F)] = Phi[:, groups, rows] * scale[:, outs]
    if separable:  # sum over outputs of J_k^T diag(h_k) J_k (h >= 0: convex)
        H = sla.blas.dsyrk(1.0, J.reshape(n * C, Ptot).T)  # the upper triangle of J^T J (half the flops)
        H += np.triu(H, 1).T
    else:
        H = J.reshape(n * C, Ptot).T @ np.einsum("nkl,nlp->nkp", Hl, J).reshape(n * C, Ptot)
    # second-order terms of the outputs and the sphere's curvature, per neuron (diagonal blocks)
    curvature = np.einsum("ngm,ngm->m", W, 2.0 * (Phi - c) - b * L)  # 2a sum_r T^2 + b L
    blocks[:, np.arange(e), np.arange(e)] -= curvature[:, None]
    own = np.arange(nz).reshape(m, e)  # neuron j's tangent coordinates
    H[own[:, :, None], own[:, None, :]] += blocks
    # between neuron j's tangent coordinates and its weight alpha_{j,gC+k}: sum_i (grad l)_ik dphi_igj
    cross = np.einsum("nk,ngme->mgke", Gl, dphi)[rows, groups, outs]  # (F, e)
    weight = nz + np.arange(F)[:, None]
    H[own[rows], weight] += cross
    H[weight, own[rows]] += cross
    return float(loss.value(Yhat, Y)), grad, H


def _tangent_terms(R, mean, T, W, Q, a, b):
    r"""Per neuron, in its tangent coordinates: :math:`Q_j^\top\nabla\phi_{ig}(u_j)` ``(n, G, m, e)``
    and the outputs' second derivatives :math:`2a\,Q_j^\top(\sum_{i,g,r} w_{igj} R_{igr}
    R_{igr}^\top)Q_j` ``(m, e, e)``; with one patch per group, all neurons at once (the rows are
    a block of :func:`sample_terms`)."""
    n, G, r, f = R.shape
    m, e = Q.shape[0], Q.shape[2]
    dphi, blocks = np.empty((n, G, m, e)), np.zeros((m, e, e))
    if r > 1:
        # several patches per group (pooling): per neuron in the input space, the f x f moments
        # first and their projection last (n G r f^2 flops per neuron, not n G r f e twice for
        # projecting every patch); memory O(n G r f)
        Rf = R.reshape(-1, f)
        for j in range(m):
            grad_phi = (2.0 * a) * np.einsum("ngr,ngrf->ngf", T[..., j], R) + b * mean
            dphi[:, :, j, :] = (grad_phi.reshape(-1, f) @ Q[j]).reshape(n, G, e)
            weights = np.repeat(W[:, :, j].ravel(), r)
            blocks[j] = (2.0 * a) * (Q[j].T @ (Rf.T @ (Rf * weights[:, None])) @ Q[j])
        return dphi, blocks
    Qcat = Q.transpose(1, 0, 2).reshape(f, m * e)
    s = n * G
    RQ = (R.reshape(s, f) @ Qcat).reshape(s, m, e)  # Q_j^T R_ig
    slope = (2.0 * a) * T.reshape(s, m)[:, :, None]  # 2a R_ig^T u_j
    d = dphi.reshape(s, m, e)  # a view
    if mean is None:  # the group's mean is its patch: Q_j^T grad phi = (2a R^T u_j + b) Q_j^T R
        np.multiply(RQ, slope + b, out=d)
    else:
        np.matmul(mean.reshape(s, f), Qcat, out=d.reshape(s, m * e))
        d *= b
        d += slope * RQ
    weighted = (RQ * W.reshape(s, m, 1)).transpose(1, 0, 2)
    blocks += (2.0 * a) * np.matmul(RQ.transpose(1, 2, 0), weighted)
    return dphi, blocks
