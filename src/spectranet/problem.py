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
import math
from numbers import Real

import numpy as np

from .activations import PolyActivation, as_activation
from .architectures import check_architecture
from .losses import Loss, get_loss
from .data import ChunkwiseLoss, HostData, is_dask_array, is_torch_tensor, make_data
from .network import PolyNetwork

__all__ = ["Problem", "check_beta", "check_data", "check_dask_data"]

logger = logging.getLogger(__name__)


def check_beta(beta) -> float:
    """Validate the regularization weight: a finite real number ``>= 0``."""
    if isinstance(beta, bool) or not isinstance(beta, Real):
        raise TypeError(f"beta must be a real number >= 0, got {type(beta).__name__} {beta!r}")
    beta = float(beta)
    if not math.isfinite(beta) or beta < 0:
        raise ValueError(f"beta must be a finite real number >= 0, got {beta!r}")
    return beta


def _as_real_array(a, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype == object or arr.dtype.kind in "USVM":
        try:
            arr = arr.astype(float)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be numeric, got an array of dtype {arr.dtype}") from None
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real, got complex data")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got an array of dtype {arr.dtype}")
    arr = arr.astype(float, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


def check_data(X, y=None):
    """Validate ``X`` (2-D, finite, real, at least 2 samples) and ``y`` (matching length)."""
    X = _as_real_array(X, "X")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got an array of shape {X.shape}")
    n, d = X.shape
    if n < 2:
        raise ValueError(f"X has n_samples={n}; at least 2 samples are required")
    if d < 1:
        raise ValueError("X has 0 features; at least 1 is required")
    if y is None:
        return X
    y = _as_real_array(y, "y")
    if y.ndim not in (1, 2) or y.shape[0] != n:
        raise ValueError(
            f"y must have shape ({n},) or ({n}, n_outputs) to match X, got shape {y.shape}"
        )
    return X, y


def _check_dask_dtype(a, name: str):
    kind = a.dtype.kind
    if kind == "c":
        raise TypeError(f"{name} must be real, got complex data")
    if kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got an array of dtype {a.dtype}")
    return a if a.dtype == np.float64 else a.astype(np.float64)


def check_dask_data(X, y=None):
    """Validate a Dask ``X`` (and ``y``) without bringing them to the client.

    Shapes and dtypes are checked on the metadata; finiteness by one Dask reduction (a pass over
    ``X``). ``X`` is rechunked to one column chunk, ``y`` (a Dask array or an in-memory array) to
    the row chunks of ``X``; both become float64. Returns the (lazy) validated arrays.
    """
    import dask
    import dask.array as da

    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got an array of shape {X.shape}")
    if any(math.isnan(c) for c in X.chunks[0]):
        logger.info("computing the unknown chunk sizes of X (one pass)")
        X = X.compute_chunk_sizes()
    X = _check_dask_dtype(X, "X")
    n, d = X.shape
    if n < 2:
        raise ValueError(f"X has n_samples={n}; at least 2 samples are required")
    if d < 1:
        raise ValueError("X has 0 features; at least 1 is required")
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})
    if y is None:
        if not bool(da.isfinite(X).all().compute()):
            raise ValueError("X contains NaN or infinity")
        return X
    if is_dask_array(y):
        if any(math.isnan(c) for c in y.chunks[0]):
            y = y.compute_chunk_sizes()
        y = _check_dask_dtype(y, "y")
    else:
        y = _as_real_array(y, "y")
    if y.ndim not in (1, 2) or y.shape[0] != n:
        raise ValueError(
            f"y must have shape ({n},) or ({n}, n_outputs) to match X, got shape {y.shape}"
        )
    if is_dask_array(y):
        y = y.rechunk({0: X.chunks[0]} if y.ndim == 1 else {0: X.chunks[0], 1: -1})
    else:
        y = da.from_array(y, chunks=(X.chunks[0],) + ((-1,) if y.ndim == 2 else ()))
    finite_X, finite_y = dask.compute(da.isfinite(X).all(), da.isfinite(y).all())
    if not finite_X:
        raise ValueError("X contains NaN or infinity")
    if not finite_y:
        raise ValueError("y contains NaN or infinity")
    return X, y


def _dask_targets(y, loss: Loss, n_outputs: int | None):
    """:func:`_targets` for a Dask ``y``: the same encodings and checks, as Dask reductions;
    the result is persisted (the solver reads the targets in every pass)."""
    import dask
    import dask.array as da

    if loss.multi_output_only and y.ndim == 1:
        lo, hi, integral = dask.compute(y.min(), y.max(), (y == da.floor(y)).all())
        if not integral or lo < 0:
            raise ValueError("softmax targets given as 1-D must be integer class indices >= 0")
        C = int(hi) + 1 if n_outputs is None else int(n_outputs)
        if hi >= C:
            raise ValueError(f"class index {int(hi)} out of range for {C} outputs")
        Y = (y[:, None] == np.arange(C, dtype=np.float64)[None, :]).astype(np.float64)
    else:
        Y = y.reshape(y.shape[0], -1)
    if n_outputs is not None and Y.shape[1] != n_outputs:
        raise ValueError(f"y has {Y.shape[1]} outputs but {n_outputs} were expected")
    if loss.margin:
        values = np.unique(da.unique(Y).compute())
        if not np.all(np.isin(values, (-1.0, 1.0))):
            raise ValueError(
                f"the {loss.name} loss needs labels in {{-1, +1}}; got values "
                f"{values[:5].tolist()}. ConvexPolyNetClassifier encodes labels for you."
            )
    return loss.check_targets(Y).persist()


def _targets(y: np.ndarray, loss: Loss, n_outputs: int | None) -> np.ndarray:
    """Targets as a 2-D ``(n, C)`` array in the loss's encoding."""
    if loss.multi_output_only and y.ndim == 1:
        labels = y.astype(int)
        if not np.array_equal(labels, y) or labels.min() < 0:
            raise ValueError("softmax targets given as 1-D must be integer class indices >= 0")
        C = int(labels.max()) + 1 if n_outputs is None else int(n_outputs)
        if labels.max() >= C:
            raise ValueError(f"class index {labels.max()} out of range for {C} outputs")
        Y = np.zeros((y.shape[0], C))
        Y[np.arange(y.shape[0]), labels] = 1.0
    else:
        Y = y.reshape(y.shape[0], -1)
    if n_outputs is not None and Y.shape[1] != n_outputs:
        raise ValueError(f"y has {Y.shape[1]} outputs but {n_outputs} were expected")
    return loss.check_targets(Y)


class Problem:
    r"""A training problem (P) / (21): data, activation, loss and :math:`\beta`.

    Parameters
    ----------
    X : array-like of shape (n, d)
    y : array-like of shape (n,) or (n, C)
        Targets in the loss's encoding (labels in {-1, +1} for margin losses, integer
        class indices or one-hot rows for the softmax loss).
    activation : str, tuple or PolyActivation
    loss : str or Loss
    beta : float
        Weight of the :math:`\ell_1` penalty on the second layer, ``>= 0``.
    n_outputs : int, optional
        Number of outputs ``C`` when it cannot be read from ``y`` (softmax labels).
    device : str or torch.device, optional
        Keep the data on this torch device (e.g. ``"cuda"``) for the matrix-free products
        (:mod:`spectranet.data`). Torch tensors ``X`` stay on their own device and dtype
        (float64 or float32) without it.
    architecture : Dense or Conv2D, optional
        ``None`` (fully connected), or a :class:`~spectranet.architectures.Conv2D` for images
        given as rows of ``C*H*W`` values: one pair per (patch or pooling window, output),
        ``n_features`` is then the filter size ``C*kh*kw`` and the products run on the grouped
        lift (:mod:`spectranet.grouped`, numpy on the host).

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
    """

    def __init__(self, X, y, activation="relu", loss="squared", beta=1e-2, *, n_outputs=None,
                 device=None, architecture=None):
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
            X, y = (a.detach().to("cpu").numpy() if is_torch_tensor(a) else a for a in (X, y))
            if is_dask_array(y):  # in-memory X: the targets come to it
                y = y.compute()
            self.X, y = check_data(X, y)
        self.activation: PolyActivation = as_activation(activation)
        self.loss: Loss = get_loss(loss)
        self.beta = check_beta(beta)
        if is_dask_array(y):
            self.Y = _dask_targets(y, self.loss, n_outputs)
            self.loss = ChunkwiseLoss(self.loss)  # the same formulas, one task per row chunk
        else:
            self.Y = _targets(y, self.loss, n_outputs)
        if self.architecture.is_dense:
            self.data = make_data(X_input, self.X, self.Y, device)
        else:
            from .grouped import GroupedData

            check_architecture(self.architecture, self.X.shape[1])
            self.data = GroupedData(self.architecture.lift(self.X), self.Y)

    # -- sizes ------------------------------------------------------------------
    @property
    def n_samples(self) -> int:
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

    def with_beta(self, beta) -> "Problem":
        """A copy sharing the data, with another :math:`\\beta`."""
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

    # -- networks ---------------------------------------------------------------
    def make_network(self, first_layer, second_layer_2d) -> PolyNetwork:
        """The problem's network (activation, architecture, output shape) with these layers, the
        second given as ``(m, P)`` (one column per pair)."""
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

    def hidden(self, first_layer: np.ndarray):
        r"""Pre-activations and activations :math:`(XU^\top, \sigma(XU^\top))` on the data's device
        (for a grouped architecture: the filters' projections and the group activations ``(n, G, m)``,
        :meth:`GroupedData.hidden <spectranet.grouped.GroupedData.hidden>`)."""
        return self.data.hidden(first_layer, self.activation)

    def outputs(self, network: PolyNetwork) -> np.ndarray:
        """Network outputs on the training data, float64 ``(n, C)`` on the host (a persisted Dask
        array for Dask data)."""
        self._check_network(network)
        return self.data.outputs(network.first_layer, network.second_layer_2d, network.activation)

    def objective(self, network: PolyNetwork, outputs: np.ndarray | None = None) -> float:
        r"""Objective (P) of a network: :math:`\ell(f(X), Y) + \beta \sum_j \|\alpha_j\|_1`.

        ``outputs`` may pass :meth:`outputs` of the network when already computed.
        """
        Yhat = self.outputs(network) if outputs is None else outputs
        return float(self.loss.value(Yhat, self.Y)) + self.beta * network.penalty()

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
        r"""Lifted map :math:`\hat Y_{ik} = \langle A_i, M_k \rangle`, matrix-free.

        Parameters
        ----------
        M : ndarray of shape (P, d+1, d+1)
            Symmetric matrices :math:`M_p = Z_p - Z_p'`, one per pair (``P = C`` dense).

        Returns
        -------
        ndarray of shape (n, C)
        """
        self._require_in_memory("the lifted map (interior-point and CVXPY solvers)")
        if not self.architecture.is_dense:
            return self.data.forward(M, self.activation, self.n_outputs)
        X, (a, b, c), d = self.X, self.activation.coefficients, self.n_features
        M1, M2, M4 = M[:, :d, :d], M[:, :d, d], M[:, d, d]
        quad = np.sum(np.matmul(X, M1) * X, axis=2).T  # x_i^T M1_k x_i, (n, P)
        return a * quad + b * (X @ M2.T) + c * M4[None, :]

    def dual_quadratic(self, V: np.ndarray | None = None, *, products=None):
        r"""Coefficients of :math:`u \mapsto V_k^\top \sigma(X u) = u^\top Q_k u + q_k^\top u + r_k`.

        :math:`Q_k = a X^\top \mathrm{diag}(V_k) X`, :math:`q_k = b X^\top V_k`,
        :math:`r_k = c \mathbf{1}^\top V_k`.

        One triple per pair :math:`p` (``P = C`` dense; :meth:`GroupedData.dual_products
        <spectranet.grouped.GroupedData.dual_products>` for the grouped architectures).

        ``products`` may pass ``data.dual_products(V)`` when a pass already computed them.

        Returns
        -------
        Q : (P, d, d), q : (P, d), r : (P,)
        """
        (a, b, c) = self.activation.coefficients
        Q, XtV, sums = self.data.dual_products(V) if products is None else products  # one pass over X
        Q = 0.5 * a * (Q + Q.transpose(0, 2, 1))  # exactly symmetric
        return Q, b * XtV.T, c * sums

    def adjoint(self, V: np.ndarray) -> np.ndarray:
        r"""Adjoint of :meth:`forward`: :math:`\mathcal{A}^*(V)_k = \sum_i V_{ik} A_i`,
        shape ``(P, d+1, d+1)``."""
        Q, q, r = self.dual_quadratic(V)
        d = self.n_features
        out = np.empty((self.n_pairs, d + 1, d + 1))
        out[:, :d, :d] = Q
        out[:, :d, d] = out[:, d, :d] = 0.5 * q
        out[:, d, d] = r
        return out

    def lifted_objective(self, Z: np.ndarray, Z_prime: np.ndarray) -> float:
        r"""Objective of the convex program (21): :math:`\ell(\mathcal{A}(Z - Z'), Y) + \beta \sum_k (Z_{k,4} + Z'_{k,4})`."""
        d = self.n_features
        penalty = float(np.sum(Z[:, d, d]) + np.sum(Z_prime[:, d, d]))
        return self.loss.value(self.forward(Z - Z_prime), self.Y) + self.beta * penalty

    def lifted_features(self) -> np.ndarray:
        r"""Explicit lifted features ``F`` of shape ``(n, d(d+1)/2 + d + 1)``.

        ``F @ svec(M)`` equals :meth:`forward` for one output, where ``svec(M)`` stacks
        the diagonal of :math:`M_1`, its strictly upper triangle in row-major order,
        :math:`M_2` and :math:`M_4` (the layout of the CVXPY backend). Memory: ``8 n p`` bytes.
        """
        self._require_in_memory("the explicit lift (CVXPY solvers)")
        if not self.architecture.is_dense:
            raise ValueError("lifted_features is the dense lift; use group_lifted_features for "
                             f"{self.architecture!r}")
        X, (a, b, c) = self.X, self.activation.coefficients
        iu, ju = np.triu_indices(self.n_features, 1)
        return np.hstack(
            [a * X**2, 2.0 * a * X[:, iu] * X[:, ju], b * X, np.full((self.n_samples, 1), c)]
        )

    def group_lifted_features(self) -> np.ndarray:
        """Explicit lifted features of each group, ``(G, n, p)`` (``G = 1`` dense): group ``g``'s
        features times ``svec(M_{gC+k})`` summed over groups give output ``k``."""
        if self.architecture.is_dense:
            return self.lifted_features()[None]
        self._require_in_memory("the explicit lift (CVXPY solvers)")
        return self.data.lifted_features(self.activation)

    def lifted_dimension(self) -> int:
        """Number of columns of :meth:`lifted_features`."""
        d = self.n_features
        return d * (d + 1) // 2 + d + 1

    def __repr__(self) -> str:
        dask = ", data=dask" if self.is_dask else ""
        return (
            f"Problem(n_samples={self.n_samples}, n_features={self.n_features}, "
            f"n_outputs={self.n_outputs}, loss={self.loss.name!r}, beta={self.beta:g}, "
            f"activation={self.activation}{dask}"
            + ("" if self.architecture.is_dense else f", architecture={self.architecture!r}") + ")"
        )
