r"""The two-layer polynomial-activation network :math:`f(x) = \sum_j \sigma(x^\top u_j)\,\alpha_j`.

The forward pass itself is the kernel layer's (:func:`~spectranet.kernels.forward.network_outputs` and its
grouped form), the one implementation used by prediction, objectives, certificates and solvers.
"""

from __future__ import annotations

import errno
import json
import math
import os
import reprlib
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ._docstrings import POLY_NETWORK, add_sections
from ._method_docstrings import NETWORK_METHODS
from .activations import ActivationLike, PolyActivation, as_activation
from .architectures import Conv2D, Dense, architecture_from_dict, check_architecture
from .data import check_beta, check_data, encode_targets, host_values
from .kernels import group_hidden, group_outputs, network_outputs
from .losses import Loss, get_loss
from .penalties import PENALTIES
from .weighted import weigh_samples
from .witness import Witness, check_loss_spec

if TYPE_CHECKING:
    import torch
    from numpy.typing import ArrayLike

__all__ = ["PolyNetwork", "NPZ_FORMAT_VERSION"]

NPZ_FORMAT_VERSION = 3


#: tolerance on the first-layer row norms of a network of problem (P)
UNIT_NORM_ATOL = 1e-8


@dataclass(frozen=True, eq=False)
class PolyNetwork:
    __doc__ = POLY_NETWORK

    first_layer: np.ndarray
    second_layer: np.ndarray
    activation: PolyActivation
    architecture: Dense | Conv2D = Dense()
    witness: Witness | None = None

    def __post_init__(self):
        arch = check_architecture(self.architecture)
        U = np.array(self.first_layer, dtype=float, copy=True)
        A = np.array(self.second_layer, dtype=float, copy=True)
        if U.ndim != 2:
            raise ValueError(f"first_layer must be 2-D (n_neurons, n_features), got shape {U.shape}")
        if arch.is_dense:
            if A.ndim not in (1, 2) or A.shape[0] != U.shape[0]:
                raise ValueError("second_layer must have shape (n_neurons,) or (n_neurons, n_outputs) with "
                                 f"n_neurons = {U.shape[0]}, got shape {A.shape}")
        else:
            G = arch.n_groups()
            if A.ndim not in (2, 3) or A.shape[:2] != (U.shape[0], G):
                raise ValueError(f"a {arch!r} network's second_layer must have shape (n_neurons, {G}) or "
                                 f"(n_neurons, {G}, n_outputs) with n_neurons = {U.shape[0]}, got shape {A.shape}")
            if U.shape[1] != arch.filter_size:
                raise ValueError(f"first_layer rows must be filters of length C*kh*kw = {arch.filter_size} "
                                 f"for {arch!r}, got shape {U.shape}")
        if not (np.all(np.isfinite(U)) and np.all(np.isfinite(A))):
            raise ValueError("network weights must be finite")
        if self.witness is not None and not isinstance(self.witness, Witness):
            raise TypeError(f"witness must be a spectranet Witness or None, got {type(self.witness).__name__}")
        U.flags.writeable = False
        A.flags.writeable = False
        object.__setattr__(self, "first_layer", U)
        object.__setattr__(self, "second_layer", A)
        object.__setattr__(self, "activation", as_activation(self.activation))
        object.__setattr__(self, "architecture", arch)

    # -- shape ------------------------------------------------------------------
    @property
    def n_neurons(self) -> int:
        """Number ``m`` of neurons (filters for a CNN)."""
        return self.first_layer.shape[0]

    @property
    def n_features(self) -> int:
        """Length of a first-layer row: ``d`` (dense) or the filter size ``C*kh*kw``."""
        return self.first_layer.shape[1]

    @property
    def n_groups(self) -> int:
        """Groups per filter: 1 (fully connected), patches, or pooling windows."""
        return self.architecture.n_groups()

    @property
    def scalar_output(self) -> bool:
        """Whether the second layer has no output axis (``predict`` returns ``(n,)``)."""
        return self.second_layer.ndim == (1 if self.architecture.is_dense else 2)

    @property
    def n_outputs(self) -> int:
        """Number ``C`` of outputs (1 for a scalar output)."""
        return 1 if self.scalar_output else self.second_layer.shape[-1]

    @property
    def n_pairs(self) -> int:
        """Number of (group, output) pairs of the convex program."""
        return self.n_groups * self.n_outputs

    @property
    def n_inputs(self) -> int:
        """Length of an input row (``n_features`` for a dense network, ``C*H*W`` for a CNN)."""
        return self.n_features if self.architecture.is_dense else self.architecture.n_inputs

    @property
    def second_layer_2d(self) -> np.ndarray:
        """Second layer as ``(m, P)``, one column per pair ``p = g*C + k`` (``(m, C)`` dense)."""
        return self.second_layer.reshape(self.n_neurons, self.n_pairs)

    def with_layers(self, first_layer: ArrayLike, second_layer_2d: ArrayLike, *,
                    drop_zero: bool = True) -> "PolyNetwork":
        """A network with the same activation, architecture and output shape and new layers, the
        second given as ``(m, P)``; neurons whose second-layer weights are all zero are dropped."""
        U, A = np.asarray(first_layer, dtype=float), np.asarray(second_layer_2d, dtype=float)
        if U.ndim != 2:
            raise ValueError(f"first_layer must be 2-D (n_neurons, n_features), got shape {U.shape}")
        P, m = self.n_pairs, U.shape[0]
        if A.ndim == 1 and P == 1:  # one output: the (n_neurons,) form that the constructor takes too
            A = A[:, None]
        if A.shape != (m, P):
            accepted = f"({m}, {P})" + (f" or ({m},)" if P == 1 else "")
            raise ValueError(f"second_layer_2d must have shape (n_neurons, n_pairs) = {accepted}: one row per row of "
                             f"first_layer, one column per (group, output) pair; got shape {A.shape}")
        if drop_zero:
            keep = np.any(A != 0.0, axis=1)
            U, A = U[keep], A[keep]
        shape = self.second_layer.shape[1:]
        return PolyNetwork(U, A.reshape((A.shape[0],) + shape), self.activation, self.architecture)

    def with_witness(self, witness: Witness | None) -> "PolyNetwork":
        """The same network carrying ``witness`` (None: without one)."""
        return PolyNetwork(self.first_layer, self.second_layer, self.activation, self.architecture, witness)

    @classmethod
    def zero(cls, n_features: int, activation: ActivationLike, n_outputs: int | None = None,
             architecture: Dense | Conv2D | None = None) -> "PolyNetwork":
        """The empty network (no neurons): outputs are identically zero."""
        arch = check_architecture(architecture)
        groups = () if arch.is_dense else (arch.n_groups(),)
        shape = (0,) + groups + (() if n_outputs is None else (n_outputs,))
        return cls(np.zeros((0, n_features)), np.zeros(shape), activation, arch)

    # -- evaluation -------------------------------------------------------------
    def _check_X(self, X: ArrayLike) -> np.ndarray:
        if not self.architecture.is_dense:
            X = self.architecture.as_rows(X)
        else:
            X = np.asarray(X, dtype=float)
            if X.ndim != 2 or X.shape[1] != self.n_features:
                raise ValueError(f"X must have shape (n_samples, {self.n_features}), got shape {X.shape}")
        if not np.all(np.isfinite(X)):  # (outputs of NaN or inf inputs would be NaN, silently)
            raise ValueError("X contains NaN or infinity")
        return X

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """Return the raw outputs :math:`f(X)`, always 2-D."""
        X = self._check_X(X)
        if self.architecture.is_dense:
            return network_outputs(X, self.first_layer, self.second_layer_2d, self.activation)
        lift = self.architecture.lift(X)
        Phi = group_hidden(lift.R, lift.mean, self.first_layer, self.activation)[1]
        return group_outputs(Phi, self.second_layer_2d)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Return the network outputs :math:`f(X)`: ``(n,)`` for a scalar-output network, else ``(n, C)``."""
        out = self.decision_function(X)
        return out[:, 0] if self.scalar_output else out

    def check_unit_norm(self, what: str = "the network") -> "PolyNetwork":
        """``self`` when every first-layer row has unit norm (to ``UNIT_NORM_ATOL``), as problem
        (P) requires; ValueError naming ``what`` and the norms otherwise."""
        norms = np.linalg.norm(self.first_layer, axis=1)
        if self.n_neurons and not np.allclose(norms, 1.0, rtol=0, atol=UNIT_NORM_ATOL):
            worst = int(np.argmax(np.abs(norms - 1.0)))  # (1 + 1e-5 read "[1, 1]" at 3 digits)
            raise ValueError(f"{what} must have unit-norm first-layer rows (problem (P)) to {UNIT_NORM_ATOL:g}; "
                             f"row {worst} has norm {float(norms[worst])!r}")
        return self

    def penalty(self) -> float:
        r""":math:`\sum_j \|\alpha_j\|_1`."""
        return PENALTIES["l1"].value(self.first_layer, self.second_layer)

    def objective(self, X: ArrayLike, y: ArrayLike, loss: str | Loss = "squared", beta: float = 0.0, *,
                  sample_weight: ArrayLike | float | None = None) -> float:
        r"""Objective (P): :math:`\sum_i w_i \ell(f(x_i), y_i) + \beta \sum_j \|\alpha_j\|_1`
        (:math:`w_i = 1` without ``sample_weight``)."""
        loss = get_loss(loss)
        X, y = check_data(self._check_X(X), y)
        Y = encode_targets(y, loss, self.n_outputs)
        loss, keep, _ = weigh_samples(loss, X.shape[0], host_values(sample_weight))
        if keep is not None:
            X, Y = X[keep], Y[keep]
        return float(loss.value(self.decision_function(X), Y)) + check_beta(beta) * self.penalty()

    # -- persistence ------------------------------------------------------------
    def save(self, path: str | os.PathLike[str], *, witness: bool = True) -> None:
        """Save to a ``.npz`` file, without pickle (its members: see the class's Notes); ``.npz`` is
        added to ``path`` unless it ends with it. A folder is refused (ValueError)."""
        members = dict(
            format_version=np.array(NPZ_FORMAT_VERSION),
            first_layer=self.first_layer,
            second_layer=self.second_layer,
            activation=np.array(self.activation.coefficients),
            architecture=np.array(json.dumps(self.architecture.to_dict())),
        )
        if witness and self.witness is not None:
            members["witness"] = np.array(self.witness.to_json())
            members["witness_dual"] = self.witness.dual
        np.savez(_npz_path(path), **members)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "PolyNetwork":
        """Load a network written by :meth:`save`.

        The file is untrusted input: every member's ``.npy`` header (shape and dtype) is checked before its data
        are read, against the other members (see the class's Notes) and against the limits ``MAX_MEMBER_ENTRIES``
        (10**8 entries in an array member) and ``MAX_JSON_CHARS`` (100 000 characters in a JSON member).
        """
        path = os.fsdecode(path) if os.path.isfile(os.fspath(path)) else _npz_path(path)
        with open(path, "rb") as fh:
            try:
                archive = zipfile.ZipFile(fh)
            except (ValueError, OSError, *_ARCHIVE_ERRORS) as exc:
                if isinstance(exc, OSError) and exc.errno != errno.EINVAL:
                    raise  # an I/O error; EINVAL: a seek to an offset the archive gets wrong
                raise ValueError(f"{path} is not a spectranet network file (a .npz zip archive written by "
                                 f"PolyNetwork.save): {exc}") from None
            with archive:
                return _read_network(cls, _Archive(path, archive))

    def to_torch(self, dtype: torch.dtype | str | None = None) -> torch.nn.Module:
        """A ``torch.nn.Module`` computing the same function (requires torch), in float64 or ``dtype``
        (``torch.float32``, ``"float32"``, ``np.float32``, or the float64 ones). A CNN's module
        takes images shaped ``(N, C, H, W)`` (``Conv2d``, the activation, ``AvgPool2d`` or a global
        mean, then a linear layer over groups and filters)."""
        from ._torch import poly_network_module

        return poly_network_module(self, dtype=dtype)

    def __repr__(self) -> str:
        a = self.activation
        arch = "" if self.architecture.is_dense else f", architecture={self.architecture!r}"
        arch += "" if self.witness is None else ", witness"
        return (f"PolyNetwork(n_neurons={self.n_neurons}, n_features={self.n_features}, "
                f"n_outputs={self.n_outputs}, activation=({a.a:g}, {a.b:g}, {a.c:g}){arch})")


# the methods' Parameters, Returns, Raises, See Also, References and Examples
add_sections(PolyNetwork, NETWORK_METHODS)


def _npz_path(path) -> str:
    """``path`` with the suffix ``.npz`` unless it ends with it (what ``numpy.savez`` writes: a folder
    ``other`` gives the file ``other.npz`` beside it); a ValueError where that names a folder: a name
    ending with a separator (``models/`` was written as the hidden file ``models/.npz``) or an existing
    folder ``dir.npz``; ``.`` and ``..`` (the hidden file ``..npz``) likewise."""
    path = os.fsdecode(os.fspath(path))
    if path.endswith((os.sep, "/")) or os.path.basename(path) in (".", ".."):
        raise ValueError(f"{path!r} is a folder; give a file name for the network "
                         f"(e.g. {os.path.join(path, 'net.npz')!r})")
    path = path if path.endswith(".npz") else path + ".npz"
    if os.path.isdir(path):
        raise ValueError(f"{path!r} is a folder; give a file name for the network")
    return path


# -- reading network files -------------------------------------------------------------------------
#: most entries an array member of a network file (``first_layer``, ``second_layer``,
#: ``witness_dual``) may have: :meth:`PolyNetwork.load` refuses larger ones before reading them
MAX_MEMBER_ENTRIES = 10**8
#: most characters of a JSON member of a network file (``architecture``, ``witness``)
MAX_JSON_CHARS = 100_000

try:
    from lzma import LZMAError as _LZMAError
except ImportError:  # pragma: no cover - Python built without lzma (zipfile then reads no lzma members)
    _LZMA_ERRORS = ()
else:
    _LZMA_ERRORS = (_LZMAError,)
# what reading a damaged zip archive raises besides ValueError and OSError (UnicodeDecodeError: a
# member name flagged UTF-8 whose local header holds other bytes; found by the fuzz test)
_ARCHIVE_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, NotImplementedError,
                   RuntimeError, struct.error, UnicodeDecodeError) + _LZMA_ERRORS
_REQUIRED = ("format_version", "first_layer", "second_layer", "activation")
_REAL = "fiu"  # dtype kinds of the numeric members: floats and integers
_WITNESS_FIELDS = ("loss", "beta", "fingerprint", "shape")
_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 60


class _Archive:
    """The members of an open ``.npz`` archive, each read only after its header was checked."""

    def __init__(self, path: str, archive: zipfile.ZipFile):
        self.path = path
        self.archive = archive
        self.infos = {info.filename[:-4]: info for info in archive.infolist() if info.filename.endswith(".npy")}

    def error(self, member: str, message: str) -> ValueError:
        return ValueError(f"{self.path}: member {member!r} {message}")

    def read(self, member: str, accepted: str, kinds: str = _REAL, check=None) -> np.ndarray:
        """The array ``member``: a plain dtype of one of ``kinds``, within the size limits and passing
        ``check(shape, dtype)`` (a message of what is wrong, or None) before its data are read;
        ``accepted`` says what is accepted."""
        try:
            with self.archive.open(self.infos[member]) as fh:
                shape, fortran, dtype = _read_header(fh)
                shape = tuple(int(s) for s in shape)
                if dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in kinds:
                    raise self.error(member, f"must be {accepted}, got dtype {dtype}")
                if any(s < 0 for s in shape):
                    raise self.error(member, f"has a negative dimension in its shape {shape}")
                entries = math.prod(shape)
                if entries > MAX_MEMBER_ENTRIES:
                    raise self.error(member, f"has shape {shape}: {entries} entries exceed the limit "
                                             f"MAX_MEMBER_ENTRIES = {MAX_MEMBER_ENTRIES}")
                problem = None if check is None else check(shape, dtype)
                if problem:
                    raise self.error(member, f"must be {accepted}, got {problem}")
                nbytes = entries * dtype.itemsize
                data = fh.read(nbytes)
        except _HeaderError as exc:
            raise self.error(member, f"is not a valid .npy array: {exc}") from None
        except (OSError, *_ARCHIVE_ERRORS) as exc:
            if isinstance(exc, OSError) and exc.errno != errno.EINVAL:
                raise  # an I/O error; EINVAL: a seek to an offset the archive gets wrong
            raise self.error(member, f"cannot be read from the archive: {type(exc).__name__}: {exc}") from None
        if len(data) != nbytes:
            raise self.error(member, f"is truncated: its header declares shape {shape} of {dtype} "
                                     f"({nbytes} bytes), the archive holds {len(data)}")
        try:
            return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
        except ValueError as exc:  # e.g. a zero-width str dtype
            raise self.error(member, f"must be {accepted}, got an unreadable {dtype} array: {exc}") from None

    def real(self, member: str, accepted: str, check=None) -> np.ndarray:
        """A finite numeric member as float64."""
        values = self.read(member, accepted, _REAL, check).astype(float)
        if not np.all(np.isfinite(values)):
            raise self.error(member, "has non-finite values (NaN or infinity); the weights must be finite")
        return values

    def json(self, member: str) -> str:
        """The text of a JSON member (a 0-d str array of at most ``MAX_JSON_CHARS`` characters)."""
        accepted = f"a JSON string (a 0-d str array) of at most MAX_JSON_CHARS = {MAX_JSON_CHARS} characters"

        def check(shape, dtype):
            if shape != ():
                return f"shape {shape}"
            return f"{dtype.itemsize // 4} characters" if dtype.itemsize // 4 > MAX_JSON_CHARS else None

        array = self.read(member, accepted, "U", check)
        codes = np.frombuffer(array.tobytes(), np.dtype("u4").newbyteorder(array.dtype.byteorder))
        if np.any(codes > 0x10FFFF):  # numpy would make an invalid Python str of them
            raise self.error(member, "holds code points outside Unicode (above U+10FFFF)")
        return str(array[()])


class _HeaderError(Exception):
    pass


def _read_header(fh):
    """``(shape, fortran_order, dtype)`` of an ``.npy`` stream (versions 1.0 and 2.0)."""
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(fh)
        if version == (2, 0):
            return np.lib.format.read_array_header_2_0(fh)
    except (OSError, *_ARCHIVE_ERRORS):
        raise
    except Exception as exc:  # numpy parses the header with ast.literal_eval: anything is malformed
        raise _HeaderError(f"{type(exc).__name__}: {exc}") from None
    raise _HeaderError(f"unsupported .npy format version {version}; versions 1.0 and 2.0 are read")


def _read_network(cls, archive: _Archive):
    path, infos = archive.path, archive.infos
    missing = sorted(set(_REQUIRED) - set(infos))
    if missing:
        raise ValueError(f"{path} is not a spectranet network file: missing {missing}")
    version = archive.read("format_version", "an integer scalar", "iu",
                           lambda shape, dtype: None if shape == () else f"shape {shape}")[()]
    if version not in (1, 2, NPZ_FORMAT_VERSION):
        raise ValueError(f"{path}: unsupported network file format_version {version}; this spectranet "
                         f"reads versions 1 to {NPZ_FORMAT_VERSION}")
    arch = Dense()
    if version >= 2:
        if "architecture" not in infos:
            raise ValueError(f"{path} is not a spectranet network file: missing ['architecture']")
        text = archive.json("architecture")
        try:
            arch = architecture_from_dict(text)
        except ValueError as exc:
            raise archive.error("architecture", f"is not a valid architecture: {exc}") from None
    coefficients = archive.real("activation", "(a, b, c): 3 real numbers",
                                lambda shape, dtype: None if shape == (3,) else f"shape {shape}")
    try:
        activation = PolyActivation(*coefficients.tolist())
    except ValueError as exc:
        raise archive.error("activation", str(exc)) from None
    U = archive.real("first_layer", *_first_rule(arch))
    A = archive.real("second_layer", *_second_rule(arch, U.shape[0]))
    witness = None
    if version >= 3 and "witness" in infos:
        scalar = A.ndim == (1 if arch.is_dense else 2)
        witness = _read_witness(archive, 1 if scalar else A.shape[-1])
    try:
        return cls(U, A, activation, arch, witness)
    except (TypeError, ValueError) as exc:  # checked above: a safety net naming the file
        raise ValueError(f"{path}: not a valid network: {exc}") from None


def _first_rule(arch):
    """What ``first_layer`` must be: its description and a check of its shape."""
    if arch.is_dense:
        return "a 2-D real array (n_neurons, n_features)", lambda shape, dtype: (
            None if len(shape) == 2 else f"shape {shape}")
    f = arch.filter_size
    return (f"a 2-D real array (n_neurons, {f}) of filters of length C*kh*kw for {arch!r}",
            lambda shape, dtype: None if len(shape) == 2 and shape[1] == f else f"shape {shape}")


def _second_rule(arch, m: int):
    """What ``second_layer`` must be, given ``m`` neurons."""
    if arch.is_dense:
        lead, ndims, text = (m,), (1, 2), f"({m},) or ({m}, n_outputs)"
    else:
        G = arch.n_groups()
        lead, ndims, text = (m, G), (2, 3), f"({m}, {G}) or ({m}, {G}, n_outputs) for {arch!r} ({G} groups)"
    return (f"a real array of shape {text}, n_neurons = {m} as in first_layer",
            lambda shape, dtype: None if len(shape) in ndims and shape[:len(lead)] == lead else f"shape {shape}")


def _read_witness(archive: _Archive, n_outputs: int) -> Witness:
    """The witness (JSON: loss, beta, fingerprint, shape) and its dual point."""
    try:
        spec = json.loads(archive.json("witness"))
    except RecursionError:
        raise archive.error("witness", "is JSON nested too deeply") from None
    except ValueError as exc:  # including integers of more than 4300 digits
        raise archive.error("witness", f"is not valid JSON: {exc}") from None
    if not isinstance(spec, dict) or set(spec) != set(_WITNESS_FIELDS):
        got = (", ".join(sorted(map(_SHORT.repr, spec))) if isinstance(spec, dict)
               else f"a JSON {type(spec).__name__}")
        raise archive.error("witness", f"must be a JSON object with the fields {', '.join(_WITNESS_FIELDS)}, "
                                       f"got {got}")
    loss = spec["loss"]
    if not isinstance(loss, dict) or not isinstance(loss.get("name"), str):
        raise archive.error("witness", "field 'loss' must be a JSON object with a \"name\" (the loss's "
                                       f"name and fields), got {_SHORT.repr(loss)}")
    try:
        check_loss_spec(loss)
        beta = check_beta(spec["beta"])
    except (TypeError, ValueError, OverflowError) as exc:
        raise archive.error("witness", f"does not describe a loss and beta: {exc}") from None
    if not isinstance(spec["fingerprint"], str):
        raise archive.error("witness", "field 'fingerprint' must be a string, got "
                                       f"{_SHORT.repr(spec['fingerprint'])}")
    shape = spec["shape"]
    if not (isinstance(shape, list) and len(shape) == 2
            and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)
            and shape[1] == n_outputs):
        raise archive.error("witness", f"field 'shape' must be [n_samples, {n_outputs}] (the network's "
                                       f"{n_outputs} output(s)), got {_SHORT.repr(shape)}")
    if "witness_dual" not in archive.infos:
        raise archive.error("witness_dual", "is missing: the witness's dual point goes with the member 'witness'")
    dual = archive.real("witness_dual", f"a real array of the shape {tuple(shape)} that 'witness' declares",
                        lambda got, dtype: None if got == tuple(shape) else f"shape {got}")
    return Witness(dual, loss, beta, spec["fingerprint"])
