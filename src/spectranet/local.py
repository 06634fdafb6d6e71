r"""Local refinement of a network on problem (P) (the "polish" after neural decomposition).

Starting from a network close to a global optimum (e.g. extracted from an interior-point
solution, whose tiny eigenvalues are cut by the rank tolerance), minimize

.. math:: \ell\Big(\sum_j \sigma(X \hat u_j)\,\alpha_j^\top, Y\Big) + \beta \sum_{j,k} s_{jk}\alpha_{jk},
          \qquad \hat u_j = w_j / \|w_j\|_2,\quad s_{jk}\alpha_{jk} \ge 0,

over :math:`(W, \alpha)` by L-BFGS-B with the sign pattern :math:`s` of the start fixed (bounds),
which makes the objective smooth for smooth losses and equal to (P) on the feasible set.
The result never has a larger objective than the start.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.optimize import minimize

from .certificate import Certificate, certify_problem
from .network import PolyNetwork, hidden_layer
from .problem import Problem

__all__ = ["polish", "refine", "merge_duplicates", "newton_second_layer"]

logger = logging.getLogger(__name__)


def _objective_and_gradient(problem: Problem, W: np.ndarray, A: np.ndarray, S: np.ndarray):
    X, loss, act = problem.X, problem.loss, problem.activation
    norms = np.linalg.norm(W, axis=1, keepdims=True)
    U = W / norms
    H, Phi = hidden_layer(X, U, act)
    Yhat = Phi @ A
    G = loss.gradient(Yhat, problem.Y)  # (n, C)
    value = loss.value(Yhat, problem.Y) + problem.beta * float(np.sum(S * A))
    dA = Phi.T @ G + problem.beta * S
    dU = ((G @ A.T) * act.derivative(H)).T @ X  # (m, d)
    dW = (dU - np.sum(dU * U, axis=1, keepdims=True) * U) / norms
    return value, dW, dA


def merge_duplicates(network: PolyNetwork, tol: float = 1e-9) -> PolyNetwork:
    """Merge neurons with the same direction (|1 - u_i.u_j| <= tol): their second layers add up."""
    U, A = network.first_layer, network.second_layer_2d
    keep, merged = [], []
    for j in range(network.n_neurons):
        for idx, i in enumerate(keep):
            if 1.0 - U[i] @ U[j] <= tol:
                merged[idx] = merged[idx] + A[j]
                break
        else:
            keep.append(j)
            merged.append(A[j].copy())
    if len(keep) == network.n_neurons:
        return network
    second = np.array(merged).reshape(len(keep), -1)
    return PolyNetwork(U[keep], second[:, 0] if network.second_layer.ndim == 1 else second,
                       network.activation)


def newton_second_layer(problem: Problem, network: PolyNetwork, *, max_iter: int = 30) -> PolyNetwork:
    r"""Solve the stationarity of the second layer for fixed first layer by Newton's method.

    On the support of :math:`\alpha` (signs fixed), solves
    :math:`\Phi^\top \nabla\ell(\Phi\alpha) + \beta s = 0` to machine precision with the
    loss's Hessian (:meth:`Loss.hessp`); a line search on the objective cannot resolve the
    last digits that the certificate needs. Entries that would change sign are set to zero.
    """
    loss, Y = problem.loss, problem.Y
    Phi = hidden_layer(problem.X, network.first_layer, network.activation)[1]  # (n, m)
    A = network.second_layer_2d.copy()
    S = np.sign(A)
    for _ in range(max_iter):
        active = np.argwhere(A != 0.0)  # (j, k) pairs
        if active.size == 0:
            break
        Yhat = Phi @ A
        grad = (Phi.T @ loss.gradient(Yhat, Y) + problem.beta * S)[active[:, 0], active[:, 1]]
        H = np.empty((len(active), len(active)))
        for c, (j, k) in enumerate(active):
            D = np.zeros_like(Y)
            D[:, k] = Phi[:, j]
            HD = Phi.T @ loss.hessp(Yhat, Y, D)  # (m, C)
            H[:, c] = HD[active[:, 0], active[:, 1]]
        step = np.linalg.lstsq(H, -grad, rcond=None)[0]
        current = A[active[:, 0], active[:, 1]]
        new = current + step
        flipped = np.sign(new) != S[active[:, 0], active[:, 1]]
        new[flipped] = 0.0
        A[active[:, 0], active[:, 1]] = new
        if np.max(np.abs(step)) <= 1e-15 * max(1.0, np.max(np.abs(current))) and not flipped.any():
            break
    keep = np.any(A != 0.0, axis=1)
    return PolyNetwork(network.first_layer[keep],
                       A[keep][:, 0] if network.second_layer.ndim == 1 else A[keep],
                       network.activation)


def polish(problem: Problem, network: PolyNetwork, *, signs: np.ndarray | None = None,
           max_iter: int = 500) -> PolyNetwork:
    """Refine ``network`` locally on ``problem`` (smooth losses).

    Merges duplicate neurons, runs L-BFGS-B on the first and second layers with the sign
    pattern ``signs`` (m, C) of the second layer fixed (default: that of the network; a zero
    entry stays zero), then solves the second layer exactly (:func:`newton_second_layer`) and
    drops neurons whose weights vanish. Returns ``network`` itself when the loss is not
    smooth, the network is empty, or no improvement was found.
    """
    if not problem.loss.smooth or network.n_neurons == 0:
        return network
    start = problem.objective(network)
    if signs is None:
        network = merge_duplicates(network)
    m, d, C = network.n_neurons, problem.n_features, problem.n_outputs
    A0 = network.second_layer_2d
    S = np.sign(A0) if signs is None else np.asarray(signs, dtype=float)
    bounds_A = [(0.0, None) if s > 0 else (None, 0.0) if s < 0 else (0.0, 0.0) for s in S.ravel()]
    bounds = [(None, None)] * (m * d) + bounds_A

    def fun(z):
        value, dW, dA = _objective_and_gradient(problem, z[: m * d].reshape(m, d),
                                                z[m * d:].reshape(m, C), S)
        return value, np.concatenate([dW.ravel(), dA.ravel()])

    z0 = np.concatenate([network.first_layer.ravel(), A0.ravel()])
    res = minimize(fun, z0, jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": max_iter, "ftol": 1e-15, "gtol": 1e-13, "maxcor": 30})
    W, A = res.x[: m * d].reshape(m, d), res.x[m * d:].reshape(m, C)
    U = W / np.linalg.norm(W, axis=1, keepdims=True)
    keep = np.any(A != 0.0, axis=1)
    second = A[keep]
    polished = PolyNetwork(U[keep], second[:, 0] if network.second_layer.ndim == 1 else second,
                           network.activation)
    polished = newton_second_layer(problem, polished)
    end = problem.objective(polished)
    logger.debug("polish: objective %.15g -> %.15g in %d iterations (%d -> %d neurons)",
                 start, end, res.nit, m, polished.n_neurons)
    return polished if end <= start * (1 + 1e-14) else network


def refine(problem: Problem, network: PolyNetwork, *, tol: float = 1e-6, dual=None,
           max_rounds: int = 20) -> tuple[PolyNetwork, Certificate]:
    """Polish, then add the most violated neuron and polish again until the network's own
    certificate (its gradient as the dual point) has a gap of at most ``tol`` (column
    generation; smooth losses only, other losses are just certified).

    Returns the best network found and its certificate, which also tries ``dual``.
    """
    network = polish(problem, network)
    own = certify_problem(problem, network, tol=tol)
    for _ in range(max_rounds if problem.loss.smooth else 0):
        if own.is_optimal or own.lam <= problem.beta:
            break
        col = np.zeros((1, problem.n_outputs))
        col[0, own.output] = own.sign
        signs = np.vstack([np.sign(network.second_layer_2d), col])
        second = np.vstack([network.second_layer_2d, np.zeros((1, problem.n_outputs))])
        grown = PolyNetwork(np.vstack([network.first_layer, own.neuron]),
                            second[:, 0] if network.second_layer.ndim == 1 else second,
                            network.activation)
        candidate = polish(problem, grown, signs=signs)
        new = certify_problem(problem, candidate, tol=tol)
        logger.debug("column generation: lambda/beta - 1 = %.2e, gap %.2e -> %.2e",
                     own.lam / max(problem.beta, 1e-300) - 1, own.gap, new.gap)
        if new.gap >= own.gap:
            break
        network, own = candidate, new
    return network, (own if dual is None else certify_problem(problem, network, dual=dual, tol=tol))
