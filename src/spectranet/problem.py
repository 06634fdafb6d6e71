r"""The training problem: data, activation, loss and regularization, and the lifted map.

This module is the one place where the formulas of the lift live.

Non-convex problem (P), eq. (20), with ``C`` outputs (``C = 1`` for a scalar output):

.. math::

    \min_{\|u_j\|_2 = 1,\ \alpha_j \in \mathbb{R}^C}
        \ell\Big(\sum_j \sigma(X u_j)\, \alpha_j^\top,\ Y\Big) + \beta \sum_j \|\alpha_j\|_1 .

Convex program, eq. (21), one pair :math:`(Z_k, Z_k') \in \mathcal{N}_d` per output:

.. math::

    \min_{Z_k, Z_k' \in \mathcal{N}_d}\ \ell(\hat Y, Y) + \beta \sum_k (Z_{k,4} + Z'_{k,4}),
    \qquad \hat Y_{ik} = \langle A_i, Z_k - Z_k' \rangle,

with :math:`\mathcal{N}_d = \{Z \succeq 0 : \operatorname{tr} Z_1 = Z_4\}` and
:math:`A_i = \begin{bmatrix} a x_i x_i^\top & \tfrac b2 x_i \\ \tfrac b2 x_i^\top & c\end{bmatrix}`.
The lifted map :meth:`Problem.forward` and its adjoint :meth:`Problem.adjoint` are
matrix-free: they use products with ``X`` and ``X^T`` only.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from ._docstrings import add_sections
from ._method_docstrings import PROBLEM_METHODS
from .activations import ActivationLike, PolyActivation, as_activation
from .architectures import Conv2D, Dense, check_architecture
from .data import (
    ChunkwiseLoss,
    GroupedData,
    HostData,
    check_beta,
    check_dask_data,
    check_data,
    check_scale,
    encode_dask_targets,
    encode_targets,
    host_values,
    is_dask_array,
    is_torch_tensor,
    make_data,
)
from .kernels import lifted_dimension, lifted_features
from .losses import Loss, get_loss
from .network import PolyNetwork
from .penalties import PENALTIES
from .weighted import WeightedLoss, weigh_samples

if TYPE_CHECKING:
    import dask.array as da
    import torch
    from numpy.typing import ArrayLike

__all__ = ["Problem", "check_beta"]

logger = logging.getLogger(__name__)

#: the penalty of problem (P)
L1 = PENALTIES["l1"]


class Problem:
    r"""A training problem (P) / (21): data, activation, loss and :math:`\beta`.

    The non-convex problem (P) and its convex program (21), with one pair
    :math:`(Z_p, Z_p') \in \mathcal{N}_f` per (group, output),

    .. math:: \min_{\|u_j\|_2 = 1,\ \alpha_j}\ \ell\Big(\sum_j \sigma(X u_j)\,\alpha_j^\top, Y\Big)
              + \beta \sum_j \|\alpha_j\|_1
              \;=\; \min_{Z_p, Z_p' \in \mathcal{N}_f}\ \ell(\mathcal{A}(Z - Z'), Y)
              + \beta \sum_p (Z_{p,4} + Z'_{p,4}),

    where :math:`\mathcal{N}_f = \{Z \succeq 0 : \operatorname{tr} Z_1 = Z_4\}` and
    :math:`\mathcal{A}` is the lifted map :meth:`forward`. Every solver, certificate and polish
    takes its data, formulas and objectives from a Problem.

    Parameters
    ----------
    X : array-like of shape (n, d)
        The data: a numpy array, a torch tensor or a Dask array (chunked by rows); for a
        :class:`~spectranet.architectures.Conv2D` architecture, images as rows ``(n, C*H*W)`` or
        arrays ``(N, C, H, W)``.
    y : array-like of shape (n,) or (n, C)
        Targets in the loss's encoding (labels in {-1, +1} for margin losses, integer
        class indices or one-hot rows for the softmax loss).
    activation : str, tuple or PolyActivation, default="relu"
        The activation :math:`\sigma` (see :class:`~spectranet.PolyActivation`).
    loss : str or Loss, default="squared"
        The loss :math:`\ell` (see :func:`~spectranet.get_loss`).
    beta : float, default=1e-2
        Weight of the :math:`\ell_1` penalty on the second layer, ``>= 0``.
    n_outputs : int, optional
        Number of outputs ``C`` when it cannot be read from ``y`` (softmax labels).
    device : str or torch.device, optional
        Keep the data on this torch device (e.g. ``"cuda"``) for the matrix-free products
        (:mod:`spectranet.data`). Torch tensors ``X`` stay on their own device without it, in
        float32 (float32, float16 and bfloat16 tensors) or float64 (the others: float64, integers).
    architecture : Dense or Conv2D, optional
        ``None`` (fully connected), or a :class:`~spectranet.architectures.Conv2D` for images
        given as rows of ``C*H*W`` values: one pair per (patch or pooling window, output),
        ``n_features`` is then the filter size ``C*kh*kw`` and the products run on the grouped
        lift (:mod:`spectranet.data.grouped`, numpy on the host).
    sample_weight : array-like of shape (n,) or float, optional
        Weights :math:`w_i \ge 0` of the samples' losses, :math:`\sum_i w_i \ell(\hat y_i, y_i)`
        (:class:`~spectranet.weighted.WeightedLoss`): weight 2 counts a sample twice, and the
        samples of weight 0 are dropped. In-memory data only.

    Attributes
    ----------
    X : ndarray or dask array of shape (n, n_inputs)
        The data, float64.
    Y : ndarray or dask array of shape (n, C)
        The targets in the loss's encoding, float64.
    activation : PolyActivation
        The activation.
    loss : Loss
        The loss (a :class:`~spectranet.data.ChunkwiseLoss` wrapper for Dask data, a
        :class:`~spectranet.weighted.WeightedLoss` with sample weights).
    sample_weight : ndarray of shape (n,) or None
        The positive weights of the samples kept (None when every weight is one).
    beta : float
        The :math:`\beta`.
    architecture : Dense or Conv2D
        The architecture.
    data : object
        The arrays of the matrix-free products (numpy, torch, Dask or grouped).
    n_samples, n_features, n_inputs, n_outputs, n_groups, n_pairs : int
        ``n``; the length ``f`` of a first-layer row; the columns of ``X``; ``C``; the groups per
        filter (1 for a dense network); the pairs ``P = G*C`` of the convex program.
    is_dask : bool
        Whether the data are Dask arrays.

    Raises
    ------
    TypeError
        If the activation, loss, architecture or ``beta`` has the wrong type.
    ValueError
        If the data are not finite or of inconsistent shapes, the targets are not in the loss's
        encoding, ``beta`` is negative, the data's scale would overflow the solvers, a
        convolutional architecture is given a torch tensor, a Dask array or a device, or
        ``sample_weight`` has the wrong shape, a negative or non-finite weight, a zero sum, or
        comes with Dask data.

    See Also
    --------
    spectranet.get_solver : A solver of the problem.
    spectranet.certify : The certificate, from the same formulas.
    spectranet.ConvexPolyNetRegressor : The estimator that builds and solves it.

    Notes
    -----
    The problem never forms the ``n x (d+1)^2`` lifted matrix except on request
    (:meth:`lifted_features`, for the CVXPY backends). ``X`` and ``Y`` are float64 numpy copies on
    the host; ``data`` holds the arrays the matrix-free products use (the same numpy arrays, or
    torch tensors on a device).

    A Dask array ``X`` (chunked by rows) is never brought to the client: ``X`` and ``Y`` are then
    float64 Dask arrays (validated by Dask reductions, ``Y`` persisted), ``loss`` is the given
    loss applied chunk by chunk (:class:`~spectranet.data.ChunkwiseLoss`), and only the native
    solver's column generation runs on them (:mod:`spectranet.data`, ``docs/dask.md``).

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, eq. (20) (problem (P)),
    eq. (21) (the convex program), eq. (11) (the lifted features) and Lemma 1, eq. (19) (the
    neural spectrahedron :math:`\mathcal{N}_d`).

    Examples
    --------
    >>> from spectranet import get_solver, make_planted
    >>> X, y = make_planted(40, 3, random_state=0)
    >>> problem = Problem(X, y, "relu", "squared", beta=1e-2)
    >>> problem.n_samples, problem.n_features, problem.max_neurons()  # m* <= 2(d+1)
    (40, 3, 8)
    >>> result = get_solver("auto", problem).solve(problem)
    >>> round(problem.objective(result.network), 6), result.status
    (0.055296, 'optimal')
    """

    def __init__(self, X: ArrayLike, y: ArrayLike, activation: ActivationLike = "relu", loss: str | Loss = "squared",
                 beta: float = 1e-2, *, n_outputs: int | None = None, device: str | torch.device | None = None,
                 architecture: Dense | Conv2D | None = None, sample_weight: ArrayLike | float | None = None) -> None:
        X_input = X
        self.architecture = check_architecture(architecture)
        if not self.architecture.is_dense:
            got = ("a Dask array" if is_dask_array(X) else "a torch tensor" if is_torch_tensor(X)
                   else None if device is None else f"device={device!r}")
            if got is not None:
                raise ValueError(f"{self.architecture!r} runs on in-memory numpy data on the host; got {got} "
                                 "(compute or convert X to numpy, or use the dense architecture)")
            X = self.architecture.as_rows(np.asarray(X)) if np.ndim(X) >= 3 else X
        if is_dask_array(X):
            self.X, y = check_dask_data(X, y)
        else:
            X, y = host_values(X), host_values(y)
            if is_dask_array(y):  # in-memory X: the targets come to it
                y = y.compute()
            self.X, y = check_data(X, y)
        self.activation: PolyActivation = as_activation(activation)
        self.loss: Loss = get_loss(loss)
        self.beta = check_beta(beta)
        self.sample_weight = None
        if is_dask_array(y):
            if sample_weight is not None or isinstance(self.loss, WeightedLoss):
                raise ValueError("sample weights need the data in memory: compute the Dask arrays first, or "
                                 "leave sample_weight=None")
            self.Y = encode_dask_targets(y, self.loss, n_outputs)
            self.loss = ChunkwiseLoss(self.loss)  # the same formulas, one task per row chunk
        else:
            self.Y = encode_targets(y, self.loss, n_outputs)
            self.loss, keep, self.sample_weight = weigh_samples(self.loss, self.X.shape[0], host_values(sample_weight))
            if keep is not None:  # (after the targets' encoding: a class seen only at weight zero keeps its output)
                self.X, self.Y = self.X[keep], self.Y[keep]
                X_input = X_input[np.flatnonzero(keep)] if is_torch_tensor(X_input) else X_input
            check_scale(self.X, self.Y, self.activation, self.loss, self.sample_weight)
        if self.architecture.is_dense:
            self.data = make_data(X_input, self.X, self.Y, device)
        else:
            check_architecture(self.architecture, self.X.shape[1])
            self.data = GroupedData(self.architecture.lift(self.X), self.Y)

    # -- sizes ------------------------------------------------------------------
    @property
    def n_samples(self) -> int:
        """Number ``n`` of samples."""
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        """Length of a first-layer weight: ``d`` (dense) or the filter size ``C*kh*kw``."""
        return self.X.shape[1] if self.architecture.is_dense else self.architecture.filter_size

    @property
    def n_inputs(self) -> int:
        """Columns of ``X``."""
        return self.X.shape[1]

    @property
    def n_outputs(self) -> int:
        """Number ``C`` of outputs (columns of ``Y``)."""
        return self.Y.shape[1]

    @property
    def n_groups(self) -> int:
        """Groups per filter: 1 (dense), patches, or pooling windows."""
        return self.architecture.n_groups()

    @property
    def n_pairs(self) -> int:
        """Pairs :math:`(Z_p, Z_p')` of the convex program: one per (group, output), ``p = g*C + k``."""
        return self.n_groups * self.n_outputs

    def max_neurons(self) -> int:
        """Bound on the width of an optimal network, :math:`2(f+1)` per pair."""
        return 2 * (self.n_features + 1) * self.n_pairs

    @property
    def is_dask(self) -> bool:
        """Whether the data are Dask arrays (only the native solver's column generation runs then)."""
        return is_dask_array(self.X)

    def _require_in_memory(self, what: str) -> None:
        if self.is_dask:
            raise ValueError(
                f"{what} needs the data in memory, but this problem holds Dask arrays; use "
                "solver='native' (column generation on the Dask workers, smooth losses: squared, "
                "huber, logistic, softmax), or compute X and y first for the other solvers"
            )

    def with_beta(self, beta: float) -> "Problem":
        """Return a copy sharing the data, with another :math:`\\beta`.

        Parameters
        ----------
        beta : float
            The new :math:`\\beta`, ``>= 0``.

        Returns
        -------
        Problem
            The copy (no data are copied).
        """
        new = object.__new__(Problem)
        new.__dict__.update(self.__dict__)
        new.beta = check_beta(beta)
        return new

    def on_host(self) -> "Problem":
        """A copy sharing the data whose products run in float64 numpy (exact certificates).
        Dask data already run in float64: the problem itself."""
        if self.is_dask or not self.architecture.is_dense:  # grouped data: numpy on the host
            return self
        new = object.__new__(Problem)
        new.__dict__.update(self.__dict__)
        new.data = HostData(self.X, self.Y)
        return new

    def in_float64(self) -> "Problem":
        """A copy whose products run in float64 on the data's own device: for float32 torch tensors,
        a float64 copy there of the host copy ``X`` and of the targets ``Y`` (twice the tensors'
        memory on a GPU, none on the CPU, where it shares ``X``'s memory), made once per data object
        and kept with it (the solves of a path share it); where the device cannot hold it, the
        problem on the host (:meth:`on_host`). The problem itself for other data."""
        if not self.data.float32:
            return self
        from .data import TorchData

        data = self.data
        twin = getattr(data, "float64_twin", None)
        if twin is None:
            try:
                twin = TorchData(self.X, self.Y, device=data.device, dtype=data._torch.float64)
            except ValueError as exc:  # out of memory, or a device without float64
                logger.warning("no float64 copy of the float32 tensors on %s (%s): solving on the host",
                               data.device, str(exc).splitlines()[0])
                twin = HostData(self.X, self.Y)
            data.float64_twin = twin
        new = object.__new__(Problem)
        new.__dict__.update(self.__dict__)
        new.data = twin
        return new

    # -- networks ---------------------------------------------------------------
    def make_network(self, first_layer: ArrayLike, second_layer_2d: ArrayLike) -> PolyNetwork:
        """Return the problem's network (activation, architecture, output shape) with these layers.

        Parameters
        ----------
        first_layer : array-like of shape (m, f)
            First-layer rows.
        second_layer_2d : array-like of shape (m, P)
            Second layer, one column per pair ``p = g*C + k``.

        Returns
        -------
        PolyNetwork
            The network, its second layer in the problem's output shape.
        """
        U = np.asarray(first_layer, dtype=float).reshape(-1, self.n_features)
        A = np.asarray(second_layer_2d, dtype=float).reshape(U.shape[0], self.n_pairs)
        scalar = self.n_outputs == 1
        if self.architecture.is_dense:
            A = A[:, 0] if scalar else A
        else:
            A = A.reshape((U.shape[0], self.n_groups) + (() if scalar else (self.n_outputs,)))
        return PolyNetwork(U, A, self.activation, self.architecture)

    def zero_network(self) -> PolyNetwork:
        """The empty network of this problem."""
        return self.make_network(np.zeros((0, self.n_features)), np.zeros((0, self.n_pairs)))

    def hidden(self, first_layer: np.ndarray) -> tuple[np.ndarray | torch.Tensor | da.Array,
                                                       np.ndarray | torch.Tensor | da.Array]:
        r"""Pre-activations and activations :math:`(XU^\top, \sigma(XU^\top))` on the data's device
        (for a grouped architecture: the filters' projections and the group activations ``(n, G, m)``,
        :meth:`GroupedData.hidden <spectranet.data.grouped.GroupedData.hidden>`)."""
        return self.data.hidden(first_layer, self.activation)

    def outputs(self, network: PolyNetwork) -> np.ndarray:
        """Network outputs on the training data."""
        self._check_network(network)
        return self.data.outputs(network.first_layer, network.second_layer_2d, network.activation)

    def objective(self, network: PolyNetwork, outputs: np.ndarray | None = None) -> float:
        r"""Objective (P) of a network: :math:`\ell(f(X), Y) + \beta \sum_j \|\alpha_j\|_1`."""
        Yhat = self.outputs(network) if outputs is None else outputs
        return self.penalized(self.loss.value(Yhat, self.Y), network.second_layer)

    def penalized(self, loss_value: float, second_layer: np.ndarray, signs: np.ndarray | None = None) -> float:
        r"""Objective (P) from the loss's value at a network's outputs.

        :math:`\ell + \beta R(A)` with :math:`R` the :class:`~spectranet.penalties.L1Penalty`, or,
        given ``signs``, its linear restriction :math:`\ell + \beta \langle s, A\rangle` to the face
        of that sign pattern (the smooth model of the polishes). Every solver, polish and the
        certificate evaluate (P) through this method.
        """
        penalty = L1.value(None, second_layer) if signs is None else L1.on_face(signs, second_layer)
        return float(loss_value) + self.beta * penalty

    def _check_network(self, network: PolyNetwork) -> None:
        if not isinstance(network, PolyNetwork):
            raise TypeError(f"expected a PolyNetwork, got {type(network).__name__}")
        if network.architecture != self.architecture:
            raise ValueError(f"network architecture {network.architecture!r} differs from the problem's "
                             f"{self.architecture!r}")
        if network.n_features != self.n_features or network.n_outputs != self.n_outputs:
            raise ValueError(
                f"network has {network.n_features} features and {network.n_outputs} outputs; "
                f"the problem has {self.n_features} features and {self.n_outputs} outputs"
            )
        if network.activation != self.activation:
            raise ValueError(
                f"network activation {network.activation} differs from the problem's {self.activation}"
            )

    # -- the lifted map and its adjoint -----------------------------------------
    def forward(self, M: np.ndarray) -> np.ndarray:
        r"""Lifted map :math:`\hat Y_{ik} = \langle A_i, M_k \rangle`, matrix-free."""
        return self.data.forward(M, self.activation, self.n_outputs)

    def dual_quadratic(self, V: np.ndarray | None = None, *,
                       products: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r"""Coefficients of :math:`u \mapsto V_k^\top \sigma(X u) = u^\top Q_k u + q_k^\top u + r_k`.

        :math:`Q_k = a X^\top \mathrm{diag}(V_k) X`, :math:`q_k = b X^\top V_k`,
        :math:`r_k = c \mathbf{1}^\top V_k`.

        One triple per pair :math:`p` (``P = C`` dense; :meth:`GroupedData.dual_products
        <spectranet.data.grouped.GroupedData.dual_products>` for the grouped architectures).

        Parameters
        ----------
        V : ndarray of shape (n, C), optional
            The dual point (not needed with ``products``).
        products : tuple, optional
            ``data.dual_products(V)``, when a pass over the data already computed them.

        Returns
        -------
        Q : ndarray of shape (P, d, d)
            Quadratic terms, exactly symmetric.
        q : ndarray of shape (P, d)
            Linear terms.
        r : ndarray of shape (P,)
            Constants.
        """
        (a, b, c) = self.activation.coefficients
        Q, XtV, sums = self.data.dual_products(V) if products is None else products  # one pass over X
        Q = 0.5 * a * (Q + Q.transpose(0, 2, 1))  # exactly symmetric
        return Q, b * XtV.T, c * sums

    def adjoint(self, V: np.ndarray) -> np.ndarray:
        r"""Adjoint of :meth:`forward`: :math:`\mathcal{A}^*(V)_k = \sum_i V_{ik} A_i`."""
        Q, q, r = self.dual_quadratic(V)
        d = self.n_features
        out = np.empty((self.n_pairs, d + 1, d + 1))
        out[:, :d, :d] = Q
        out[:, :d, d] = out[:, d, :d] = 0.5 * q
        out[:, d, d] = r
        return out

    def lifted_objective(self, Z: np.ndarray, Z_prime: np.ndarray) -> float:
        r"""Objective of the convex program (21):
        :math:`\ell(\mathcal{A}(Z - Z'), Y) + \beta \sum_p (Z_{p,4} + Z'_{p,4})`."""
        return self.lifted_penalized(self.loss.value(self.forward(Z - Z_prime), self.Y), Z, Z_prime)

    def lifted_penalized(self, loss_value: float, Z: np.ndarray, Z_prime: np.ndarray | None = None) -> float:
        r"""Objective (21) from the loss's value at the lifted outputs: ``loss_value`` plus
        :math:`\beta \sum_p (Z_{p,4} + Z'_{p,4})`, the corner entries. ``Z`` and ``Z_prime`` of shape
        (P, f+1, f+1), or ``Z`` alone holding the pairs, of shape (P, 2, f+1, f+1): the one definition
        of (21)'s objective, used by :meth:`lifted_objective` and the interior-point engines (the
        analogue of :meth:`penalized`)."""
        d = self.n_features
        if Z_prime is None:
            return loss_value + self.beta * float(np.sum(Z[..., d, d]))
        return loss_value + self.beta * float(np.sum(Z[:, d, d]) + np.sum(Z_prime[:, d, d]))

    def lifted_features(self) -> np.ndarray:
        r"""Explicit lifted features :math:`\Phi` of shape ``(n, (d+1)(d+2)/2)``: ``F @ svec(M)``
        equals :meth:`forward` for one output, in the svec layout of :mod:`spectranet.kernels.lift`
        (the layout of every backend). Memory: ``8 n D`` bytes."""
        self._require_in_memory("the explicit lift (CVXPY solvers)")
        if not self.architecture.is_dense:
            raise ValueError("lifted_features is the dense lift; use group_lifted_features for "
                             f"{self.architecture!r}")
        return lifted_features(self.X, self.activation)

    def group_lifted_features(self) -> np.ndarray:
        """Explicit lifted features of each group, ``(G, n, D)`` (``G = 1`` dense): group ``g``'s
        features times ``svec(M_{gC+k})`` summed over groups give output ``k``."""
        if self.architecture.is_dense:
            return self.lifted_features()[None]
        self._require_in_memory("the explicit lift (CVXPY solvers)")
        return self.data.lifted_features(self.activation)

    def lifted_dimension(self) -> int:
        """Number of columns of :meth:`lifted_features`: :math:`(f+1)(f+2)/2`."""
        return lifted_dimension(self.n_features)

    def __repr__(self) -> str:
        dask = ", data=dask" if self.is_dask else ""
        return (
            f"Problem(n_samples={self.n_samples}, n_features={self.n_features}, "
            f"n_outputs={self.n_outputs}, loss={self.loss.name!r}, beta={self.beta:g}, "
            f"activation={self.activation}{dask}"
            + ("" if self.architecture.is_dense else f", architecture={self.architecture!r}") + ")"
        )


# the methods' Raises, See Also, References and Examples (and some Parameters and Returns)
add_sections(Problem, PROBLEM_METHODS)
