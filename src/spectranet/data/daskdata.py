r"""Dask backend of the data layer: :class:`DaskData` and the chunk-wise loss.

``X`` and the targets stay row-chunked Dask arrays; every product of :class:`~spectranet.data.host.HostData`
runs as Dask array operations on the active scheduler, one task per row chunk, and only the small
reductions come back to the client (see :class:`DaskData`). dask itself is imported only when Dask
input is used: ``import spectranet`` imports no dask.
"""

from __future__ import annotations

import logging
import math
from functools import partial

import numpy as np

from ..kernels import lifted_dimension, lifted_map, network_outputs
from ..losses import Loss
from .host import HostData, is_dask_array
from .validation import as_real_array

__all__ = ["DaskData", "ChunkwiseLoss", "check_dask_data", "encode_dask_targets"]

logger = logging.getLogger(__name__)

def _compute(a):
    """Compute a Dask result without graph optimization.

    The solver computes one lazily built expression in several passes (the outputs for the loss,
    its gradient, the certificate); unoptimized, each key keeps one task across them, whereas
    blockwise fusion can give a key two different tasks in consecutive computations, which
    ``distributed`` warns may fail or deadlock (dask/dask#9888).
    """
    return a.compute(optimize_graph=False)


#: per-chunk results up to this many bytes in all are summed on the client (one task per chunk);
#: larger ones by a tree reduction on the workers
GATHER_BYTES = 8_000_000


def _chunk_total(parts) -> np.ndarray:
    """Sum over chunks of per-chunk rows ``parts`` (n_chunks, width): a float64 numpy (width,)."""
    if parts.shape[0] * parts.shape[1] * 8 <= GATHER_BYTES:
        return np.asarray(_compute(parts), dtype=float).sum(axis=0)
    return np.asarray(_compute(parts.sum(axis=0)), dtype=float)


def _persist(a):
    """Persist a Dask array (in the workers' memory under ``distributed``), unoptimized."""
    return a.persist(optimize_graph=False)


def _chunk_sum(method, loss, *blocks) -> np.ndarray:
    """One row chunk's value of a loss method that sums over samples, as a (1, 1) block."""
    return np.full((1, 1), float(getattr(loss, method)(*blocks)))


def _base(loss: Loss) -> Loss:
    """The loss that acts on one chunk's numpy arrays (a :class:`ChunkwiseLoss`'s wrapped one)."""
    return loss.base if isinstance(loss, ChunkwiseLoss) else loss


class ChunkwiseLoss(Loss):
    """A :class:`~spectranet.losses.Loss` applied chunk by chunk to row-chunked Dask arrays.

    Every loss is a sum over samples, and its gradient, Hessian product and dual projection act
    on each sample (row) separately, so each method is the wrapped loss's own numpy formula
    mapped over the row chunks (one task per chunk); the sums (:meth:`value`, :meth:`dual_value`)
    add the chunks' values. Compared with running the formulas as Dask array operations, this
    keeps each graph at one layer, evaluates :meth:`dual_value` in one pass instead of one per
    reduction inside it, and keeps row-wise projections (softmax) on the workers. Other
    attributes and methods are the wrapped loss's; in-memory arguments go to it unchanged.

    Parameters
    ----------
    base : Loss
        The wrapped loss.
    """

    def __init__(self, base: Loss):
        self.base = base
        self.name, self.margin = base.name, base.margin
        self.multi_output_only, self.smooth = base.multi_output_only, base.smooth
        self.twice_differentiable, self.quadratic = base.twice_differentiable, base.quadratic

    def __getattr__(self, attr):  # what a Loss subclass adds (e.g. HuberLoss.delta)
        if attr == "base":
            raise AttributeError(attr)
        return getattr(self.base, attr)

    def __repr__(self) -> str:
        return f"ChunkwiseLoss({self.base!r})"

    @staticmethod
    def _aligned(arrays):
        """The arguments as Dask arrays with the row chunks of the first Dask one and one
        column chunk; None when none is a Dask array."""
        first = next((a for a in arrays if is_dask_array(a)), None)
        if first is None:
            return None
        import dask.array as da

        rows = first.chunks[0]
        out = []
        for a in arrays:
            if not is_dask_array(a):
                a = da.from_array(np.asarray(a, dtype=np.float64), chunks=(rows, -1))
            elif a.chunks[0] != rows or a.numblocks[1] != 1:
                a = a.rechunk((rows, -1))
            out.append(a)
        return out

    def _map(self, method, *arrays):
        aligned = self._aligned(arrays)
        if aligned is None:
            return getattr(self.base, method)(*arrays)
        return aligned[0].map_blocks(getattr(self.base, method), *aligned[1:], dtype=np.float64)

    def _sum(self, method, *arrays):
        """The sum of the chunks' values of a method, a float (None for in-memory arguments)."""
        aligned = self._aligned(arrays)
        if aligned is None:
            return None
        n_chunks = len(aligned[0].chunks[0])
        parts = aligned[0].map_blocks(partial(_chunk_sum, method, self.base), *aligned[1:],
                                      dtype=np.float64, chunks=((1,) * n_chunks, (1,)))
        return float(_chunk_total(parts)[0])

    def check_targets(self, Y):
        return self.base.check_targets(Y)

    def value(self, Yhat, Y):
        """The loss, a float (one pass for Dask arguments, as :meth:`Loss.value` on numpy)."""
        total = self._sum("value", Yhat, Y)
        return self.base.value(Yhat, Y) if total is None else total

    def gradient(self, Yhat, Y):
        return self._map("gradient", Yhat, Y)

    def hessp(self, Yhat, Y, D):
        return self._map("hessp", Yhat, Y, D)

    def dual_value(self, V, Y) -> float:
        """The dual objective (a float: one pass; ``-inf`` when a chunk is outside the domain)."""
        total = self._sum("dual_value", V, Y)
        return self.base.dual_value(V, Y) if total is None else total

    def dual_values(self, V, Y, ts) -> np.ndarray:
        """:meth:`dual_value` at ``t V`` for each ``t`` in ``ts``: all in one pass."""
        aligned = self._aligned((V, Y))
        if aligned is None:
            return self.base.dual_values(V, Y, ts)
        ts = np.asarray(ts, dtype=float)
        parts = aligned[0].map_blocks(partial(_chunk_dual_values, self.base, ts), aligned[1], dtype=np.float64,
                                      chunks=((1,) * len(aligned[0].chunks[0]), (ts.size,)))
        return _chunk_total(parts)

    def project_dual(self, V, Y):
        return self._map("project_dual", V, Y)

    def kinks(self, Y):
        return self.base.kinks(Y)

    def dual_box(self, Y):
        return self.base.dual_box(Y)

    def scaled(self, t):
        return self.base.scaled(t)

    def cvxpy(self, Yhat, Y):
        return self.base.cvxpy(Yhat, Y)


def _pack(*parts) -> np.ndarray:
    """Floats and arrays flattened into one row ``(1, width)``: a row chunk's share of a sum."""
    return np.concatenate([np.ravel(np.asarray(p, dtype=float)) for p in parts])[None, :]


def _unpack(total: np.ndarray, *shapes) -> list:
    """The parts of a packed row, by their shapes (``()``: a float)."""
    out, start = [], 0
    for shape in shapes:
        size = math.prod(shape)
        part = total[start:start + size]
        out.append(float(part[0]) if shape == () else part.reshape(shape))
        start += size
    return out


def _chunk_method(method: str, args: tuple, with_X: bool, with_Y: bool, trailing: tuple, *blocks) -> np.ndarray:
    """One row chunk's packed result of the :class:`HostData` composite ``method`` on the chunk's
    rows of ``X`` and ``Y`` (the first blocks, when given; None otherwise), the chunk's other
    blocks (2-D in the graph, reshaped to their ``trailing`` shapes: None keeps a block as it
    is), then ``args``."""
    blocks = list(blocks)
    Xc = blocks.pop(0) if with_X else None
    Yc = blocks.pop(0) if with_Y else None
    blocks = [b if t is None else b.reshape((b.shape[0],) + t) for b, t in zip(blocks, trailing)]
    out = getattr(HostData(Xc, Yc), method)(*blocks, *args)
    flat = []
    for part in out if isinstance(out, tuple) else (out,):
        if isinstance(part, tuple):
            flat.extend(part)
        elif part is not None:
            flat.append(part)
    return _pack(*flat)


def _chunk_dual_values(loss: Loss, ts, Vc, Yc) -> np.ndarray:
    return np.asarray(loss.dual_values(Vc, Yc, ts), dtype=float)[None, :]


def _chunk_root(Xc: np.ndarray, activation) -> np.ndarray:
    return HostData(Xc, None).lifted_root(activation)


def _chunk_matmul(Xc: np.ndarray, Ut: np.ndarray) -> np.ndarray:
    return Xc @ Ut


def _chunk_hidden(Xc: np.ndarray, Ut: np.ndarray, activation) -> np.ndarray:
    return activation(Xc @ Ut)


class DaskData(HostData):
    """``X`` (n, d) and ``Y`` (n, C) as float64 Dask arrays chunked by rows (one column chunk).

    Every product is a Dask array operation on the active scheduler, one task per row chunk
    (``map_blocks`` of a numpy function, then a sum for the reductions). The reductions
    (:meth:`rmatmul`, :meth:`gram`, :meth:`dual_products`, the composites such as
    :meth:`value_and_gradients`, :meth:`host`) return small float64 numpy arrays to the client,
    each in one computation; the reductions run :class:`HostData`'s own code on each chunk
    (:meth:`_chunkwise`). ``n``-sized results stay Dask arrays. :meth:`hidden` and
    :meth:`outputs` persist theirs (in the workers' memory under ``distributed``): the solver
    reads them in several passes, and a persisted operand also keeps Dask's graph optimization
    from giving one key two different tasks in consecutive computations (dask/dask#9888). ``X``
    itself is used as given: persist it when it fits in the cluster's memory (every iteration
    passes over it). Every computation runs without graph optimization (see :func:`_compute`).

    Parameters
    ----------
    X, Y : dask.array.Array
        Validated float64 arrays with the same row chunks (see :class:`~spectranet.problem.Problem`).
    """

    device = "dask"

    def __init__(self, X, Y):
        import dask
        import dask.array as da

        self._dask, self._da = dask, da
        self.X, self.Y = X, Y

    def asarray(self, a):
        """Dask arrays as they are; anything else as a float64 numpy array (small operands)."""
        return a if is_dask_array(a) else np.asarray(a, dtype=np.float64)

    def host(self, a) -> np.ndarray:
        """Compute a (small) Dask result on the active scheduler: a float64 numpy array."""
        if is_dask_array(a):
            a = _compute(a)
        return np.asarray(a, dtype=float)

    def _rows(self, B):
        """``B`` (n, k) as a Dask array with the row chunks of ``X`` (an in-memory ``B`` is
        split into them)."""
        chunks = self.X.chunks[0]
        if is_dask_array(B):
            if B.chunks[0] == chunks and all(k == 1 for k in B.numblocks[1:]):
                return B
            return B.rechunk((chunks,) + tuple(-1 for _ in B.shape[1:]))
        B = np.asarray(B, dtype=np.float64)
        return self._da.from_array(B, chunks=(chunks,) + tuple(-1 for _ in B.shape[1:]))

    def _chunkwise(self, method: str, blocks, args, shapes, *, with_X: bool = True,
                   with_Y: bool = True) -> list:
        """The :class:`HostData` composite ``method`` summed over the row chunks, in one pass.

        Each task runs ``HostData(X_c, Y_c).method(*blocks_c, *args)`` on its chunk (``X_c`` or
        ``Y_c`` None without ``with_X`` / ``with_Y``: then they are not read); the results, packed
        in one row per chunk, are summed. ``shapes`` are those of the summed parts (``()``: a
        float)."""
        with_Y = with_Y and self.Y is not None
        # blocks of more than two dimensions (per-sample Hessian blocks (n, C, C)) travel as 2-D
        # arrays: map_blocks aligns the arrays' dimensions from the right
        trailing = tuple(tuple(np.shape(b)[1:]) if np.ndim(b) > 2 else None for b in blocks)
        blocks = [b.reshape(b.shape[0], -1) if np.ndim(b) > 2 else b for b in blocks]
        arrays = (([self.X] if with_X else []) + ([self._rows(self.Y)] if with_Y else [])
                  + [self._rows(b) for b in blocks])
        func = partial(_chunk_method, method, tuple(args), with_X, with_Y, trailing)
        width = sum(math.prod(shape) for shape in shapes)
        parts = self._da.map_blocks(func, *arrays, dtype=np.float64,
                                    chunks=((1,) * len(self.X.chunks[0]), (width,)))
        return _unpack(_chunk_total(parts), *shapes)

    def matmul(self, U):
        Ut = np.ascontiguousarray(self.asarray(U).T)
        return self.X.map_blocks(_chunk_matmul, Ut, dtype=np.float64, chunks=(self.X.chunks[0], (Ut.shape[1],)))

    def rmatmul(self, B) -> np.ndarray:
        shape = (self.X.shape[1],) + tuple(np.shape(B)[1:])
        return self._chunkwise("rmatmul", [B], (), [shape], with_Y=False)[0]

    def gram(self, V) -> np.ndarray:
        return self.dual_products(V)[0]

    def dual_products(self, V):
        """The three reductions in one pass over ``X``: one task per row chunk, then a sum."""
        return tuple(self._chunkwise("dual_products", [V], (), self._products_shapes(V.shape[1]), with_Y=False))

    def _products_shapes(self, C: int):
        d = self.X.shape[1]
        return [(C, d, d), (d, C), (C,)]

    def value_and_gradients(self, first_layer, second_layer, loss, activation):
        """:meth:`HostData.value_and_gradients` on each row chunk, summed: one pass over ``X``."""
        U, A = np.asarray(first_layer, dtype=float), np.asarray(second_layer, dtype=float)
        return tuple(self._chunkwise("value_and_gradients", [], (U, A, _base(loss), activation),
                                     [(), A.shape, U.shape]))

    def second_layer_terms(self, Phi, layers, loss, active=None):
        """:meth:`HostData.second_layer_terms` on each row chunk of ``Phi`` (persisted by
        :meth:`hidden`), summed: one pass, which does not read ``X``."""
        layers = np.asarray(layers, dtype=float)
        shapes = [(len(layers),)] + ([] if active is None else [layers.shape[1:], (len(active),) * 2])
        out = self._chunkwise("second_layer_terms", [Phi], (layers, _base(loss), active), shapes,
                              with_X=False)
        return (out[0], None, None) if active is None else tuple(out)

    def network_loss(self, first_layer, second_layer, loss, activation) -> float:
        """:meth:`HostData.network_loss` on each row chunk, summed: one pass over ``X``."""
        U, A = np.asarray(first_layer, dtype=float), np.asarray(second_layer, dtype=float)
        return float(self._chunkwise("network_loss", [], (U, A, _base(loss), activation), [()])[0])

    def newton_terms(self, first_layer, second_layer, free, bases, loss, activation):
        """:meth:`HostData.newton_terms` on each row chunk, summed: one pass over ``X``."""
        U, A = np.asarray(first_layer, dtype=float), np.asarray(second_layer, dtype=float)
        P = U.shape[0] * bases.shape[2] + len(free)
        return tuple(self._chunkwise("newton_terms", [], (U, A, free, bases, _base(loss), activation),
                                     [(), (P,), (P, P)]))

    def value_and_dual_products(self, Yhat, Y, V, loss):
        """:meth:`HostData.value_and_dual_products` on each row chunk, summed: one pass over ``X``."""
        value, *products = self._chunkwise("value_and_dual_products", [Yhat, Y, V], (_base(loss),),
                                           [()] + self._products_shapes(V.shape[1]), with_Y=False)
        return value, tuple(products)

    def hidden(self, first_layer, activation):
        """Pre-activations (lazy) and activations (persisted: several passes read them)."""
        Ut = np.ascontiguousarray(self.asarray(first_layer).T)
        Phi = self.X.map_blocks(_chunk_hidden, Ut, activation, dtype=np.float64,
                                chunks=(self.X.chunks[0], (Ut.shape[1],)))
        return self.matmul(first_layer), _persist(Phi)

    def forward(self, M, activation, n_outputs: int):
        """The lifted map, one task per row chunk: a persisted Dask array ``(n, C)``."""
        M = np.asarray(M, dtype=float)
        out = self.X.map_blocks(lifted_map, M, activation, dtype=np.float64,
                                chunks=(self.X.chunks[0], (M.shape[0],)))
        return _persist(out)

    def lifted_gram(self, weights, activation) -> np.ndarray:
        """:meth:`HostData.lifted_gram <spectranet.data.host.HostData.lifted_gram>` on each row
        chunk, summed: one pass over ``X``; the ``D x D`` blocks come to the client."""
        D = lifted_dimension(self.X.shape[1])
        C = weights.shape[1]
        shape = (C, D, D) if weights.ndim == 2 else (C * D, C * D)
        return self._chunkwise("lifted_gram", [weights], (activation,), [shape], with_Y=False)[0]

    def lifted_root(self, activation, sample_weight=None) -> np.ndarray:  # (Dask data take no weights)
        """:meth:`HostData.lifted_root <spectranet.data.host.HostData.lifted_root>` of each row
        chunk (one task each), combined on the client by one more QR factorization of the
        stacked ``D x D`` factors."""
        D = lifted_dimension(self.X.shape[1])
        parts = self.X.map_blocks(_chunk_root, activation, dtype=np.float64, chunks=((D,) * self.X.numblocks[0], (D,)))
        return np.linalg.qr(np.asarray(_compute(parts), dtype=float), mode="r")[:D]

    def outputs(self, first_layer, second_layer, activation):
        """Network outputs (n, C) as a persisted Dask array (the certificate reads them often)."""
        A = self.asarray(second_layer)
        out = self.X.map_blocks(network_outputs, self.asarray(first_layer), A, activation,
                                dtype=np.float64, chunks=(self.X.chunks[0], (A.shape[1],)))
        return _persist(out)


# -- validation and targets of Dask input (never gathered to the client) -------------------------
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
        y = as_real_array(y, "y")
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


def encode_dask_targets(y, loss: Loss, n_outputs: int | None):
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
