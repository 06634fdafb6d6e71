r"""Newton's method on both layers of a network: the last digits of the local phase.

Near an optimum of (P) the objective is flat in the directions that redistribute weight between
neurons, and L-BFGS-B crawls there (hundreds of iterations for a relative decrease of 1e-9). The
certificate needs more: its dual point is the loss gradient at the network's outputs, accurate
only to about the square root of the objective's accuracy. This module takes (regularized)
Newton steps on the product of spheres (first layer) and the orthant of the fixed sign pattern
(second layer), with the exact Hessian

.. math::

    \nabla^2 f = J^\top \nabla^2\ell\, J + \sum_i (\nabla\ell)_i \nabla^2 \hat y_i
    - \operatorname{diag}_j\big(u_j^\top \nabla_{u_j} f\big)\, I_{T_j},

in tangent coordinates :math:`u_j \leftarrow (u_j + Q_j z_j)/\|u_j + Q_j z_j\|`, where
:math:`J = \partial \hat Y / \partial (z, \alpha)` (``n x P``, ``P = m(d-1) +`` free entries of
the second layer) and the last term is the sphere's curvature. For a quadratic activation
:math:`\nabla^2 \hat y_i` has the blocks :math:`2a\,\alpha_{jk} x_i x_i^\top` and
:math:`\sigma'(x_i^\top u_j) x_i` (the grouped lift of the convolutional architectures: see
:func:`sample_terms`). One step costs :math:`O(nCP^2 + P^3)`: this runs where that is small
(:func:`applicable`: numpy, Dask or grouped data, and torch data on their float64 host copy);
elsewhere L-BFGS-B polishes. Directions of
(near-)zero curvature — a neuron whose weight vanishes turns freely — are left out of the Newton
step, and second-layer weights at zero pushed outward are held there (projected Newton).
"""

from __future__ import annotations

import logging
import time

import numpy as np
import scipy.linalg as sla

__all__ = ["applicable", "newton_polish"]

logger = logging.getLogger(__name__)

#: a Newton step forms the n C x P Jacobian and its P x P Gram matrix (n C P^2 flops) and
#: eigendecomposes the Hessian (about 10 P^3 flops); beyond these the polish is L-BFGS-B's
#: (MNIST 0/1 fully connected, P = 1570 for two neurons; 10^6 rows: n P^2 = 10^10 per step
#: against 10^8 per L-BFGS evaluation)
MAX_PARAMS = 1_000
MAX_FLOPS = 4e9
#: eigenvalues of the scaled Hessian below FLAT * its largest count as flat directions, which the
#: Newton step leaves alone (the trust-region step still follows negative curvature beyond them)
FLAT = 1e-6
#: the Jacobi scaling of the trust region uses max(|H_ii|, SCALE_FLOOR * max |H_ii|)
SCALE_FLOOR = 1e-3


def _n_params(problem, network) -> int:
    return network.n_neurons * (problem.n_features - 1) + int(np.count_nonzero(network.second_layer_2d))


def applicable(problem, network) -> bool:
    """Whether :func:`newton_polish` runs on ``problem``: smooth loss, data in numpy, Dask, the
    grouped lift or torch tensors (on the problem's float64 host copy: the step is small, as the
    next two conditions keep it), at most :data:`MAX_PARAMS` parameters and :data:`MAX_FLOPS` for
    the Gram matrix of the Jacobian."""
    P = _n_params(problem, network)
    return (type(problem.data).__name__ in ("HostData", "DaskData", "GroupedData", "TorchData")
            and problem.loss.smooth and network.n_neurons > 0 and problem.n_features > 1 and P <= MAX_PARAMS
            and problem.n_samples * problem.n_outputs * P * P <= MAX_FLOPS)


def _tangent_bases(U):
    """Orthonormal bases ``(m, d, d-1)`` of the tangent spaces of the unit sphere at the rows of
    ``U`` (the last ``d-1`` columns of a complete QR of each ``u_j``)."""
    Q = np.linalg.qr(U[:, :, None], mode="complete")[0]
    return Q[:, :, 1:]


def _objective(problem, U, A, signs):
    """(P) at first layer ``U`` and second layer ``A`` (sign pattern ``signs``): one pass over the data."""
    loss = problem.data.network_loss(U, A, problem.loss, problem.activation)
    return problem.penalized(loss, A, signs)


def _newton_system(problem, U, A, signs, free):
    """Objective, gradient and Hessian of (P) in the tangent coordinates ``(z, alpha[free])``,
    and the tangent bases (one pass over the data)."""
    Q = _tangent_bases(U)
    value, grad, H = problem.data.newton_terms(U, A, free, Q, problem.loss, problem.activation)
    grad[U.shape[0] * Q.shape[2]:] += problem.beta * signs[free[:, 0], free[:, 1]]
    return problem.penalized(value, A, signs), grad, 0.5 * (H + H.T), Q


def _moving(grad, A, signs, free, e):
    """The coordinates a step moves (a boolean mask): all but the second-layer weights at zero
    whose gradient pushes them to the forbidden sign (held at the bound, as in projected Newton)
    and the tangent coordinates of neurons with every weight held (their direction is free)."""
    m = len(A)
    weights = A[free[:, 0], free[:, 1]]
    held = (weights == 0.0) & (signs[free[:, 0], free[:, 1]] * grad[m * e:] >= 0.0)
    dead = np.ones(m, dtype=bool)
    dead[free[~held, 0]] = False
    return np.concatenate([np.repeat(~dead, e), ~held])


def _retract(U, A, signs, Q, free, step):
    """The network at tangent step ``step`` = (z, alpha[free]): first-layer rows moved along
    their tangent bases and renormalized, second-layer entries that would change sign set to 0."""
    m, e = Q.shape[0], Q.shape[2]
    U_new = U + np.einsum("mde,me->md", Q, step[: m * e].reshape(m, e))
    U_new /= np.linalg.norm(U_new, axis=1, keepdims=True)
    A_new = A.copy()
    new = A[free[:, 0], free[:, 1]] + step[m * e:]
    new[np.sign(new) != signs[free[:, 0], free[:, 1]]] = 0.0
    A_new[free[:, 0], free[:, 1]] = new
    return U_new, A_new


class _QuadraticModel:
    r"""The quadratic model :math:`g^\top p + \frac12 p^\top H p` of one Newton system, Jacobi-scaled
    (:math:`D = \sqrt{\max(|H_{ii}|, \text{SCALE\_FLOOR}\max_i |H_{ii}|)}`).

    The Newton step comes from a Cholesky factorization when the scaled Hessian is positive
    definite and well conditioned (reciprocal condition estimate above :data:`FLAT`: no flat
    direction); otherwise, and for the trust-region step and the first radius of a polish, from
    the eigendecomposition, computed only then (at P = 210 it costs ten Cholesky factorizations)."""

    def __init__(self, grad, H):
        self.grad, self.H = grad, H
        h = np.abs(np.diag(H))
        self.D = np.sqrt(np.maximum(h, SCALE_FLOOR * max(float(np.max(h)), 1e-300)))
        self.Hs, self.gs = H / self.D[:, None] / self.D[None, :], grad / self.D
        self._eig = None
        scaled = self._cholesky_step()
        if scaled is None:  # indefinite or nearly flat: the step on the curved directions
            lam, V, gv = self.eig
            curved = lam > FLAT * max(float(lam[-1]), 1e-300)
            scaled = -(V[:, curved] @ (gv[curved] / lam[curved]))
        self.newton_step = scaled / self.D
        self.decrement = -float(self.gs @ scaled)  # -g^T p of the Newton step

    def _cholesky_step(self):
        factor, info = sla.lapack.dpotrf(self.Hs, lower=1, clean=1)
        if info != 0:
            return None
        rcond, info = sla.lapack.dpocon(factor, float(np.max(np.sum(np.abs(self.Hs), axis=0))), uplo="L")
        if info != 0 or rcond <= FLAT:
            return None
        return -sla.cho_solve((factor, True), self.gs, check_finite=False)

    @property
    def eig(self):
        """``(lam, V, V^T g_s)`` of the scaled Hessian (computed once)."""
        if self._eig is None:
            lam, V = np.linalg.eigh(self.Hs)
            self._eig = lam, V, V.T @ self.gs
        return self._eig

    def initial_radius(self) -> float:
        """The length of the step with the small and negative curvatures raised to 1e-3 of the
        largest (scaled norm). Starting from the Newton step's length instead saved 2 % of the
        credit-approval path's systems but cost the MNIST GAP CNN (5 x 5) 310 systems instead of
        158: on its ill-conditioned moments the long first steps are rejected."""
        lam, _, gv = self.eig
        return float(np.linalg.norm(gv / np.maximum(np.abs(lam), 1e-3 * np.max(np.abs(lam)))))

    def step(self, radius):
        """The Newton step when it lies inside the trust region ``||D p|| <= radius``, else the
        boundary point of the shifted system (bisection on the shift; the "hard case" is left
        to the shrinking radius)."""
        if np.linalg.norm(self.newton_step * self.D) <= radius:
            return self.newton_step
        lam, V, gv = self.eig
        lo = max(0.0, -lam[0]) * (1 + 1e-12) + 1e-300
        hi = lo + np.linalg.norm(gv) / radius + abs(lam[0]) + 1e-300
        for _ in range(100):  # ||p(mu)|| decreases in mu
            mid = 0.5 * (lo + hi)
            if np.linalg.norm(gv / (lam + mid)) > radius:
                lo = mid
            else:
                hi = mid
            if hi - lo <= 1e-12 * hi:
                break
        return -(V @ (gv / (lam + hi))) / self.D

    def predicted(self, step) -> float:
        """The decrease the model predicts for ``step``."""
        return -float(self.grad @ step + 0.5 * step @ self.H @ step)


def newton_polish(problem, network, *, signs=None, max_iter: int = 50, ftol: float = 1e-15,
                  deadline: float | None = None):
    """Trust-region Newton steps on (P) from ``network`` with the sign pattern of its second
    layer fixed (an entry that would change sign becomes zero).

    The exact Hessian in tangent coordinates, Jacobi-scaled (:class:`_QuadraticModel`): the Newton step on
    its curved directions is taken when it lies inside the trust region, otherwise the
    trust-region step, which follows negative curvature rather than damping it away. While the
    model holds to the boundary, longer steps along the trust-region path are tried (one pass
    each) before a new system is formed; the polish stops when the quadratic convergence of the
    last two Newton steps predicts the next decrease below ``ftol``.

    Parameters
    ----------
    signs : ndarray of shape (m, P), optional
        The pattern to keep (default: that of the network); a zero entry stays zero, a signed
        one may grow from zero (a new neuron of column generation).
    max_iter : int
        Trust-region iterations.
    ftol : float
        Stop when the decrease the model predicts is at most ``ftol`` times the objective
        (default: the level of rounding).
    deadline : float, optional
        A ``time.perf_counter()`` value after which no further step starts.

    Returns
    -------
    PolyNetwork
        Never one with a larger objective than ``network``.
    """
    problem = problem.on_host() if type(problem.data).__name__ == "TorchData" else problem  # (see applicable)
    U, A = network.first_layer.copy(), network.second_layer_2d.copy()
    signs = np.sign(A) if signs is None else np.asarray(signs, dtype=float)
    A[signs == 0] = 0.0
    free = np.argwhere(signs != 0.0)
    if free.size == 0:
        return network
    start, it, radius, fresh, last_newton, too_long = None, 0, None, True, None, np.inf
    for it in range(max_iter):
        if deadline is not None and it and time.perf_counter() > deadline:
            break
        if fresh:
            value, grad_all, H_all, Q = _newton_system(problem, U, A, signs, free)
            start = value if start is None else start
            keep = _moving(grad_all, A, signs, free, Q.shape[2])
            if not keep.any():
                break
            # near a restricted optimum the Hessian keeps flat directions (a neuron with a tiny
            # weight turns freely) whose rounding-level curvature, often negative, would otherwise
            # confine every step to the trust region: the Newton step leaves them alone
            model = _QuadraticModel(grad_all[keep], H_all[np.ix_(keep, keep)])
            if model.decrement <= ftol * max(abs(value), 1e-300):
                break
            if radius is None:
                radius = model.initial_radius()
        step = model.step(radius)
        predicted = model.predicted(step)
        if predicted <= ftol * max(abs(value), 1e-300):
            break  # nothing left to gain within the trust region
        U_new, A_new, trial = _try(problem, U, A, signs, Q, free, keep, step)
        rho = (value - trial) / predicted if predicted > 0 else -1.0
        scaled_norm = float(np.linalg.norm(step * model.D))
        logger.debug("newton %d: radius %.2e |step| %.2e rho %.3f predicted %.3e value %.15g", it,
                     radius, scaled_norm, rho, predicted, trial)
        grow = rho > 0.75 and scaled_norm >= 0.99 * radius
        while grow and 2.0 * radius < too_long:
            # the model holds up to the boundary: longer steps along the trust-region path cost one
            # pass over the data each, a new Newton system costs many (credit-approval path: 256 ->
            # 240 systems)
            longer = model.step(2.0 * radius)
            longer_norm = float(np.linalg.norm(longer * model.D))
            if longer_norm <= 1.01 * scaled_norm:
                break
            U_long, A_long, trial_long = _try(problem, U, A, signs, Q, free, keep, longer)
            logger.debug("newton %d: longer step %.2e value %.15g", it, longer_norm, trial_long)
            if not trial_long < trial:
                grow = False  # the model's region ends before twice this step
                break
            U_new, A_new, trial, step = U_long, A_long, trial_long, longer
            scaled_norm, radius = longer_norm, 2.0 * radius
        if rho < 0.25:
            radius = 0.25 * scaled_norm
            too_long = min(too_long, scaled_norm)  # on this model
        elif grow:
            radius *= 2.0
        fresh = rho > 1e-4 and trial < value
        if fresh:
            U, A, value, too_long = U_new, A_new, trial, np.inf
            if step is model.newton_step and 0.5 < rho < 2.0:
                # quadratic convergence: the next decrease is about C delta^2, with C measured on
                # the last two Newton steps; below ftol the next Newton system would only confirm
                # convergence (credit-approval path: 240 -> 206 systems)
                if last_newton is not None and predicted ** 2 / last_newton ** 2 * predicted <= ftol * abs(value):
                    break
                last_newton = predicted
            else:
                last_newton = None
        elif radius <= 1e-14:
            break
    return _finish(network, U, A, start, value, it)


def _try(problem, U, A, signs, Q, free, keep, step):
    """The network at the step ``step`` on the moving coordinates ``keep``, and its objective."""
    full = np.zeros(len(keep))
    full[keep] = step
    U_new, A_new = _retract(U, A, signs, Q, free, full)
    return U_new, A_new, _objective(problem, U_new, A_new, signs)


def _finish(network, U, A, start, value, iterations):
    logger.debug("newton polish: objective %.15g -> %.15g in %d steps", start, value, iterations)
    if value > start:
        return network
    return network.with_layers(U, A)
