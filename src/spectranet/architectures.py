r"""Architectures: how a sample becomes the lifted features of each pair.

Every program of the library is the same block, one pair :math:`(Z, Z') \in \mathcal{N}_f` per
(group, output) (``../shared/paper/NOTES.md``). A *group* is what one second-layer weight of a
neuron multiplies:

* :class:`Dense` — one group, the sample itself: :math:`f = d`.
* :class:`Conv2D` without pooling — one group per patch :math:`x_{ik} = E_k x_i`
  (:math:`f = c_\mathrm{in} k_h k_w`, :math:`c_\mathrm{in}` the image channels); the network is
  :math:`\sum_j \sum_k \sigma(x_{ik}^\top u_j)\,\alpha_{jk}`.
* :class:`Conv2D` with average pooling — one group per pooling window :math:`g` of
  :math:`|g|` patches, whose averaged activation is, for a quadratic :math:`\sigma`, a moment form:

  .. math:: \frac1{|g|} \sum_{l \in g} \sigma(x_{il}^\top u)
            = a\, u^\top M_{ig} u + b\, \bar x_{ig}^\top u + c, \qquad
            M_{ig} = \frac1{|g|} \sum_{l \in g} x_{il} x_{il}^\top,\quad
            \bar x_{ig} = \frac1{|g|} \sum_{l\in g} x_{il}.

  Global pooling is a single group (:math:`|g| = K`, the number of patches): the FC program with
  :math:`x x^\top` replaced by the image's average patch second moment.

:meth:`Conv2D.lift` stores each :math:`M_{ig}` by a factor, :math:`M_{ig} = \sum_r R_{igr}
R_{igr}^\top` with :math:`r = \min(|g|, f)` (the scaled patches when :math:`|g| \le f`, else the
eigen-factor), so that one formula, :math:`a \sum_r (R_{igr}^\top u)^2 + b \bar x_{ig}^\top u + c`,
serves every case (:mod:`spectranet.data.grouped`).
"""

from __future__ import annotations

import json
import reprlib
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from scipy.sparse import csr_matrix

__all__ = ["Dense", "Conv2D", "PatchLift", "check_architecture", "architecture_from_dict"]

#: work arrays of the moment computation are cut into sample chunks of about this many floats
CHUNK_FLOATS = 4_000_000


@dataclass(frozen=True)
class Dense:
    r"""Fully connected architecture: each neuron sees the whole sample, one pair per output.

    The default architecture (``architecture=None``): the network
    :math:`f(x) = \sum_j \sigma(x^\top u_j)\,\alpha_j` with one group, the sample itself
    (:math:`f = d`), and the convex program (21) with one pair :math:`(Z_k, Z_k') \in \mathcal{N}_d`
    per output :math:`k`.

    Attributes
    ----------
    is_dense : bool
        True.

    See Also
    --------
    Conv2D : A convolutional first layer.
    spectranet.ConvexPolyNetRegressor : Takes it as ``architecture``.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, eq. (20) (the network and
    problem (P)) and eq. (21) (its convex program); Table 1 (the vector output).

    Examples
    --------
    >>> Dense().n_groups(), Dense().to_dict()
    (1, {'type': 'dense'})
    """

    @property
    def is_dense(self) -> bool:
        """Whether the architecture is fully connected (True)."""
        return True

    def n_groups(self) -> int:
        """Return the number of groups per neuron: 1."""
        return 1

    def to_dict(self) -> dict:
        """Return the JSON-able description ``{"type": "dense"}`` (see :func:`architecture_from_dict`)."""
        return {"type": "dense"}

    def __repr__(self) -> str:
        return "Dense()"


def _pair(value, name: str, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints, each ``>= minimum``."""
    vals = (value, value) if isinstance(value, Integral) and not isinstance(value, bool) else value
    try:
        vals = tuple(vals)
    except TypeError:
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}") from None
    if len(vals) != 2 or not all(isinstance(v, Integral) and not isinstance(v, bool) for v in vals):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if min(vals) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(vals[0]), int(vals[1])


@dataclass(frozen=True)
class PatchLift:
    r"""The grouped lift of a data set: :math:`M_{ig} = \sum_r R_{igr} R_{igr}^\top` and the means.

    Attributes
    ----------
    R : ndarray of shape (n, G, r, f)
    mean : ndarray of shape (n, G, f)
    """

    R: np.ndarray
    mean: np.ndarray


@dataclass(frozen=True, init=False)
class Conv2D:
    r"""Convolutional layer with degree-two activation, optionally followed by average pooling.

    Images are rows of length ``c_in*H*W`` (``c_in`` channels first, the layout of
    ``X.reshape(n, c_in, H, W)``) or arrays of shape ``(N, c_in, H, W)``. Filters are vectors of
    length ``f = c_in*kh*kw`` in the layout of a ``torch.nn.Conv2d`` weight ``(c_in, kh, kw)``. The
    network is
    :math:`f(x)_k = \sum_j \sum_g \alpha_{jgk} \frac{1}{|g|} \sum_{l \in g} \sigma(x_l^\top u_j)`
    over the groups :math:`g` of patches :math:`x_l`; its convex program has one pair
    :math:`(Z_p, Z_p') \in \mathcal{N}_f` per (group, output), ``p = g*C + k`` (``C`` outputs).

    Parameters
    ----------
    image_shape : tuple of int
        ``(c_in, H, W)``, or ``(H, W)`` for one channel.
    kernel_size : int or (int, int)
        Filter height and width ``(kh, kw)``.
    stride : int or (int, int), default=1
        Steps between patches.
    padding : int or (int, int), default=0
        Zeros added on each side.
    pool : None, int or "global", default=None
        ``None``: one second-layer weight per patch (output position) and output; an int: average
        pooling over non-overlapping ``pool x pool`` windows of the output map
        (``torch.nn.AvgPool2d(pool)``: a remainder that does not fill a window is dropped);
        ``"global"``: the average over all patches (one group).

    Attributes
    ----------
    image_shape : tuple of int
        ``(c_in, H, W)``.
    kernel_size, stride, padding : tuple of int
        Pairs ``(h, w)``.
    pool : None, int or "global"
        The ``pool`` argument.
    filter_size : int
        ``f = c_in*kh*kw``, the length of a filter (a first-layer row).
    n_inputs : int
        ``c_in*H*W``, the length of an image row.
    output_map, pooled_map : tuple of int
        Shapes of the convolution's output map and of the map after pooling.
    n_patches : int
        ``K``, the number of patches (positions of the output map).

    Raises
    ------
    TypeError
        If a size is not an int (or a pair of ints), or ``pool`` is not None, an int or ``"global"``.
    ValueError
        If a size is below its minimum, the kernel exceeds the padded image, or the pooling window
        exceeds the output map.

    See Also
    --------
    Dense : The fully connected architecture.
    spectranet.ConvexPolyNetClassifier : Takes it as ``architecture``.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, Table 1 (the CNN and pooling
    programs of the supplementary material, and their critical widths) and Fig. 5 (global pooling).

    Examples
    --------
    >>> arch = Conv2D((1, 6, 6), kernel_size=3, pool=2)
    >>> arch.filter_size, arch.output_map, arch.n_groups()
    (9, (4, 4), 4)
    >>> arch.lift(np.ones((2, 36))).R.shape  # (n, G, r, f): r = min(|g|, f) factors per group
    (2, 4, 4, 9)
    """

    image_shape: tuple
    kernel_size: tuple
    stride: tuple
    padding: tuple
    pool: object

    def __init__(self, image_shape: Sequence[int], kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 pool: int | Literal["global"] | None = None) -> None:
        try:
            shape = tuple(image_shape)
        except TypeError:
            raise TypeError(f"image_shape must be (C, H, W) or (H, W), got {image_shape!r}") from None
        if len(shape) == 2:
            shape = (1,) + shape
        if len(shape) != 3 or not all(isinstance(s, Integral) and not isinstance(s, bool) for s in shape):
            raise TypeError(f"image_shape must be (C, H, W) or (H, W) of ints, got {image_shape!r}")
        if min(shape) < 1:
            raise ValueError(f"image_shape entries must be >= 1, got {image_shape!r}")
        kernel = _pair(kernel_size, "kernel_size", 1)
        stride_ = _pair(stride, "stride", 1)
        pad = _pair(padding, "padding", 0)
        c_in, H, W = (int(s) for s in shape)
        if kernel[0] > H + 2 * pad[0] or kernel[1] > W + 2 * pad[1]:
            raise ValueError(f"kernel_size {kernel} exceeds the padded image ({H + 2 * pad[0]}, "
                             f"{W + 2 * pad[1]})")
        if pool is not None and pool != "global":
            if isinstance(pool, bool) or not isinstance(pool, Integral):
                raise TypeError(f"pool must be None, an int >= 1 or 'global', got {pool!r}")
            if pool < 1:
                raise ValueError(f"pool must be None, an int >= 1 or 'global', got {pool!r}")
            pool = int(pool)
        for name, value in (("image_shape", (c_in, H, W)), ("kernel_size", kernel), ("stride", stride_),
                            ("padding", pad), ("pool", pool)):
            object.__setattr__(self, name, value)
        Ho, Wo = self.output_map
        if isinstance(pool, int) and (pool > Ho or pool > Wo):
            raise ValueError(f"pool={pool} exceeds the convolution's output map ({Ho}, {Wo})")

    # -- geometry ---------------------------------------------------------------
    @property
    def is_dense(self) -> bool:
        """Whether the architecture is fully connected (False)."""
        return False

    @property
    def n_inputs(self) -> int:
        """Length ``c_in*H*W`` of an image row."""
        c_in, H, W = self.image_shape
        return c_in * H * W

    @property
    def filter_size(self) -> int:
        """``f = c_in*kh*kw``."""
        return self.image_shape[0] * self.kernel_size[0] * self.kernel_size[1]

    @property
    def output_map(self) -> tuple[int, int]:
        """Shape ``(Ho, Wo)`` of the convolution's output map."""
        _, H, W = self.image_shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        return (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1

    @property
    def n_patches(self) -> int:
        """Number ``K = Ho*Wo`` of patches."""
        Ho, Wo = self.output_map
        return Ho * Wo

    @property
    def pooled_map(self) -> tuple[int, int]:
        """Shape of the map after pooling (``(1, 1)`` for global pooling)."""
        Ho, Wo = self.output_map
        if self.pool is None:
            return Ho, Wo
        if self.pool == "global":
            return 1, 1
        return Ho // self.pool, Wo // self.pool

    def n_groups(self) -> int:
        """Return the number ``G`` of groups per filter: patches, pooling windows, or 1 (global).

        Returns
        -------
        int
            The number of groups.
        """
        Gh, Gw = self.pooled_map
        return Gh * Gw

    def groups(self) -> np.ndarray:
        """Patch indices (row-major over the output map) of each group: ``(G, |g|)``, ``|g|`` patches
        per group (1, ``pool*pool`` or ``K``)."""
        Ho, Wo = self.output_map
        index = np.arange(Ho * Wo).reshape(Ho, Wo)
        if self.pool is None:
            return index.reshape(-1, 1)
        if self.pool == "global":
            return index.reshape(1, -1)
        pool = self.pool
        Gh, Gw = self.pooled_map
        win = index[: Gh * pool, : Gw * pool].reshape(Gh, pool, Gw, pool).transpose(0, 2, 1, 3)
        return win.reshape(Gh * Gw, pool * pool)

    def patch_index(self) -> np.ndarray:
        """Indices into the flattened zero-padded image ``(c_in, H+2ph, W+2pw)`` of each patch entry:
        ``(K, f)``, patches row-major over the output map, entries in the filter layout."""
        c_in, H, W = self.image_shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        Hp, Wp = H + 2 * ph, W + 2 * pw
        Ho, Wo = self.output_map
        c, di, dj = np.meshgrid(np.arange(c_in), np.arange(kh), np.arange(kw), indexing="ij")
        offsets = (c * Hp * Wp + di * Wp + dj).ravel()  # (f,)
        oi, oj = np.meshgrid(np.arange(Ho) * sh, np.arange(Wo) * sw, indexing="ij")
        corners = (oi * Wp + oj).ravel()  # (K,)
        return corners[:, None] + offsets[None, :]

    def patch_operator(self) -> csr_matrix:
        r"""The explicit patch operators as one sparse matrix ``E`` of shape ``(K*f, c_in*H*W)``:
        rows ``k*f:(k+1)*f`` are :math:`E_k`, so ``(E @ x).reshape(K, f)`` are the patches of an
        image row ``x`` (rows of zero padding are empty)."""
        from scipy.sparse import csr_matrix

        _, H, W = self.image_shape
        (ph, pw) = self.padding
        Hp, Wp = H + 2 * ph, W + 2 * pw
        idx = self.patch_index().ravel()
        c, rest = np.divmod(idx, Hp * Wp)
        i, j = np.divmod(rest, Wp)
        i, j = i - ph, j - pw
        inside = (i >= 0) & (i < H) & (j >= 0) & (j < W)
        rows = np.nonzero(inside)[0]
        cols = (c * H * W + i * W + j)[inside]
        return csr_matrix((np.ones(rows.size), (rows, cols)), shape=(idx.size, self.n_inputs))

    # -- data -------------------------------------------------------------------
    def as_rows(self, X: ArrayLike) -> np.ndarray:
        """Return images as float64 rows ``(n, c_in*H*W)``.

        Parameters
        ----------
        X : array-like
            Rows ``(n, c_in*H*W)`` or images ``(N, c_in, H, W)`` (``(N, H, W)`` for one channel).

        Returns
        -------
        ndarray of shape (n, c_in*H*W)
        """
        X = np.asarray(X, dtype=float)
        if X.ndim >= 3:
            if X.shape[1:] != self.image_shape and not (X.ndim == 3 and (1,) + X.shape[1:] == self.image_shape):
                raise ValueError(f"images must have shape (N, {', '.join(map(str, self.image_shape))}), "
                                 f"got {X.shape}")
            X = X.reshape(X.shape[0], -1)
        if X.ndim != 2 or X.shape[1] != self.n_inputs:
            raise ValueError(f"X must have shape (n_samples, {self.n_inputs}) = C*H*W for image_shape "
                             f"{self.image_shape}, or (n_samples, *image_shape); got {X.shape}")
        return X

    def patches(self, X: ArrayLike) -> np.ndarray:
        """Patches of each image: ``(n, K, f)`` (a vectorized gather from the padded images)."""
        X = self.as_rows(X)
        c_in, H, W = self.image_shape
        (ph, pw) = self.padding
        images = X.reshape(X.shape[0], c_in, H, W)
        if ph or pw:
            images = np.pad(images, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        return images.reshape(X.shape[0], -1)[:, self.patch_index()]

    def lift(self, X: ArrayLike) -> PatchLift:
        """Return the grouped lift of ``X`` (see the module docstring).

        Parameters
        ----------
        X : array-like
            Images, as for :meth:`as_rows`.

        Returns
        -------
        PatchLift
            ``R`` of shape ``(n, G, r, f)`` with :math:`M_{ig} = \\sum_r R_{igr} R_{igr}^\\top` and the
            group means ``(n, G, f)``.
        """
        X = self.as_rows(X)
        groups, f = self.groups(), self.filter_size
        size = groups.shape[1]  # |g|, the patches of a group
        if size == 1:
            patches = self.patches(X)
            return PatchLift(patches[:, :, None, :], patches)
        n, G = X.shape[0], groups.shape[0]
        r = min(size, f)
        R, mean = np.empty((n, G, r, f)), np.empty((n, G, f))
        step = max(1, CHUNK_FLOATS // max(1, self.n_patches * f))
        for s in range(0, n, step):
            grouped = self.patches(X[s:s + step])[:, groups]  # (n_c, G, |g|, f)
            mean[s:s + step] = grouped.mean(axis=2)
            if size <= f:
                R[s:s + step] = grouped / np.sqrt(size)
            else:
                M = np.einsum("ngpf,ngpe->ngfe", grouped, grouped, optimize=True) / size
                w, vecs = np.linalg.eigh(M)
                R[s:s + step] = np.swapaxes(vecs * np.sqrt(np.clip(w, 0.0, None))[..., None, :], -1, -2)
        return PatchLift(R, mean)

    def to_dict(self) -> dict:
        """Return the JSON-able description (the inverse of :func:`architecture_from_dict`).

        Returns
        -------
        dict
            ``{"type": "conv2d", "image_shape": ..., "kernel_size": ..., "stride": ...,
            "padding": ..., "pool": ...}``.
        """
        return {"type": "conv2d", "image_shape": list(self.image_shape), "kernel_size": list(self.kernel_size),
                "stride": list(self.stride), "padding": list(self.padding), "pool": self.pool}

    def __repr__(self) -> str:
        parts = [f"image_shape={self.image_shape}", f"kernel_size={self.kernel_size}"]
        if self.stride != (1, 1):
            parts.append(f"stride={self.stride}")
        if self.padding != (0, 0):
            parts.append(f"padding={self.padding}")
        if self.pool is not None:
            parts.append(f"pool={self.pool!r}")
        return f"Conv2D({', '.join(parts)})"


#: largest integer an architecture read by :func:`architecture_from_dict` may hold (image sides,
#: kernel sizes, strides, padding, pooling windows)
MAX_ARCHITECTURE_INT = 2**31 - 1

_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 60


_CONV2D_REQUIRED = ("image_shape", "kernel_size")
_CONV2D_FIELDS = _CONV2D_REQUIRED + ("stride", "padding", "pool")


def _spec_int(value, minimum: int) -> bool:
    return (isinstance(value, Integral) and not isinstance(value, bool)
            and minimum <= value <= MAX_ARCHITECTURE_INT)


def _spec_field(name: str, value, minimum: int, lengths: tuple[int, ...], accepted: str):
    """A conv2d field as Conv2D takes it (an int, where ``accepted`` says so, or a tuple of ints of
    one of ``lengths``), or a ValueError naming it."""
    if _spec_int(value, minimum) and accepted.startswith("an int"):
        return int(value)
    if isinstance(value, (list, tuple)) and len(value) in lengths and all(_spec_int(v, minimum) for v in value):
        return tuple(int(v) for v in value)
    raise ValueError(f"architecture field {name!r} must be {accepted} (each between {minimum} and "
                     f"{MAX_ARCHITECTURE_INT}), got {_SHORT.repr(value)}")


def architecture_from_dict(spec) -> Dense | Conv2D:
    """Inverse of ``to_dict``: a dict or its JSON string, ``{"type": "dense"}`` or ``{"type":
    "conv2d", "image_shape": [c_in, H, W], "kernel_size": [kh, kw], "stride": [sh, sw], "padding":
    [ph, pw], "pool": null | pool | "global"}`` (``image_shape`` may be ``[H, W]``; ``kernel_size``,
    ``stride`` and ``padding`` a single int; ``stride``, ``padding`` and ``pool`` may be left out).

    Raises ``ValueError`` naming the field for any content that is not such an architecture (JSON
    that does not parse or is not an object, a missing, unknown or ill-typed field), ``TypeError``
    when ``spec`` is neither a str nor a dict.
    """
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except RecursionError:
            raise ValueError("architecture JSON is nested too deeply") from None
        except ValueError as exc:
            raise ValueError(f"architecture is not valid JSON: {exc}") from None
        if not isinstance(spec, dict):
            raise ValueError('architecture must be a JSON object such as {"type": "dense"}, got a JSON '
                             f"{type(spec).__name__}")
    elif not isinstance(spec, dict):
        raise TypeError(f"architecture spec must be a dict or its JSON string, got {type(spec).__name__}")
    kind = spec.get("type")
    if kind == "dense":
        fields = ()
    elif kind == "conv2d":
        fields = _CONV2D_FIELDS
    else:
        if "type" not in spec:
            raise ValueError("architecture has no field 'type'; known types: 'dense', 'conv2d'")
        raise ValueError(f"unknown architecture type {_SHORT.repr(kind)}; known: 'dense', 'conv2d'")
    unknown = sorted(_SHORT.repr(key) for key in set(spec) - set(fields) - {"type"})
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)} in a {kind} architecture; its fields "
                         f"are {', '.join(('type',) + fields)}")
    if kind == "dense":
        return Dense()
    missing = [name for name in _CONV2D_REQUIRED if name not in spec]
    if missing:
        raise ValueError(f"conv2d architecture is missing field(s) {missing}; required: image_shape, "
                         "kernel_size (stride, padding and pool are optional)")
    pool = spec.get("pool")
    if pool is not None and pool != "global" and not _spec_int(pool, 1):
        raise ValueError(f"architecture field 'pool' must be null, an int between 1 and "
                         f"{MAX_ARCHITECTURE_INT} or \"global\", got {_SHORT.repr(pool)}")
    args = (
        _spec_field("image_shape", spec["image_shape"], 1, (2, 3), "a list [C, H, W] or [H, W] of ints"),
        _spec_field("kernel_size", spec["kernel_size"], 1, (2,), "an int or a list of two ints"),
        _spec_field("stride", spec.get("stride", 1), 1, (2,), "an int or a list of two ints"),
        _spec_field("padding", spec.get("padding", 0), 0, (2,), "an int or a list of two ints"),
    )
    try:
        return Conv2D(*args, pool=pool)
    except (TypeError, ValueError) as exc:  # a geometry that does not fit (e.g. kernel > image)
        raise ValueError(f"invalid conv2d architecture: {exc}") from None


def check_architecture(architecture, n_inputs: int | None = None) -> Dense | Conv2D:
    """``None`` -> :class:`Dense`; a :class:`Conv2D` must match rows of length ``n_inputs``."""
    if architecture is None:
        return Dense()
    if not isinstance(architecture, (Dense, Conv2D)):
        raise TypeError("architecture must be None, spectranet.Dense() or spectranet.Conv2D(...), got "
                        f"{type(architecture).__name__}")
    if n_inputs is not None and not architecture.is_dense and n_inputs != architecture.n_inputs:
        raise ValueError(f"X has {n_inputs} features but {architecture!r} takes images of "
                         f"C*H*W = {architecture.n_inputs} values")
    return architecture
