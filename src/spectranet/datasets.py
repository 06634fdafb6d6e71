r"""Dataset loaders: UCI binary sets, MNIST, CIFAR-10 (JPEG zip) and planted teacher networks.

The real datasets live outside the package, in a data directory with the layout of the
project's shared data (see :func:`get_data_home`): ``<data_home>/<name>/<name>_R.dat`` for
the UCI sets (Fernández-Delgado et al., JMLR 2014 preprocessing), ``<data_home>/mnist/`` with
the four original idx ``.gz`` files and ``<data_home>/cifar10-airplane-automobile/`` with a zip
of JPEG images. :func:`make_planted` needs no files.
"""

from __future__ import annotations

import gzip
import io
import logging
import os
import struct
import zipfile
from numbers import Integral, Real
from pathlib import Path
from typing import Sequence, Union

import numpy as np
from sklearn.utils import Bunch

from .activations import ActivationLike
from .network import PolyNetwork

__all__ = ["get_data_home", "list_uci", "load_uci", "load_mnist", "load_cifar_jpeg_zip", "make_planted"]

logger = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]
DATA_ENV = "SPECTRANET_DATA"
_HINT = f"pass data_home=... or set the environment variable {DATA_ENV} to the data directory"
_CIFAR_ZIP = Path("cifar10-airplane-automobile") / "CIFAR-10-images_airplane_automobile.zip"
_MNIST_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


def get_data_home(data_home: PathLike | None = None) -> Path:
    """The data directory: ``data_home`` if given, else ``$SPECTRANET_DATA``.

    Raises
    ------
    FileNotFoundError
        If neither is set, or the directory does not exist.
    """
    source = "data_home"
    if data_home is None:
        data_home, source = os.environ.get(DATA_ENV) or None, f"${DATA_ENV}"
        if data_home is None:
            raise FileNotFoundError(f"no data directory given: {_HINT}")
    path = Path(data_home).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"data directory {path} (from {source}) does not exist; {_HINT}")
    return path


def _check_split(split) -> str:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return split


# -- UCI ---------------------------------------------------------------------------------------
def list_uci(data_home: PathLike | None = None) -> list[str]:
    """Sorted names of the folders of the data directory that contain a ``<name>_R.dat``."""
    home = get_data_home(data_home)
    return sorted(p.name for p in home.iterdir() if (p / f"{p.name}_R.dat").is_file())


def _read_metadata(path: Path) -> dict[str, str]:
    meta = {}
    for line in path.read_text(errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            meta[key.strip()] = value.strip()
    return meta


def _read_folds(path: Path, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    lines = path.read_text().rstrip().splitlines()
    if len(lines) % 2:
        raise ValueError(f"{path}: expected pairs of lines (train, test indices), got {len(lines)} lines")
    try:
        idx = [np.array(line.split(), dtype=np.intp) for line in lines]
    except ValueError as exc:
        raise ValueError(f"{path}: fold indices must be integers ({exc})") from None
    folds = list(zip(idx[0::2], idx[1::2]))
    for k, (train, test) in enumerate(folds):
        both = np.concatenate([train, test])
        if both.size and (both.min() < 0 or both.max() >= n):
            raise ValueError(f"{path}: fold {k} has row indices outside 0..{n - 1}")
        if np.intersect1d(train, test).size:
            raise ValueError(f"{path}: fold {k} has rows in both its train and test lines")
    return folds


def load_uci(name: str, data_home: PathLike | None = None, *,
             return_X_y: bool = False) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """Load a UCI binary classification set in the Fernández-Delgado format.

    Reads ``<data_home>/<name>/<name>_R.dat``: tab-separated, a header line, then one row per
    sample with a row index, ``d`` feature values and the class (0 or 1).

    Parameters
    ----------
    name : str
        Dataset folder name, e.g. ``"credit-approval"`` (see :func:`list_uci`).
    data_home : str or path-like, optional
        Data directory (default ``$SPECTRANET_DATA``).
    return_X_y : bool
        Return ``(X, y)`` instead of a Bunch.

    Returns
    -------
    bunch : Bunch or tuple of ndarray
        ``data`` (float64 ``(N, d)``), ``target`` (int64 ``(N,)``), ``feature_names``, ``name``,
        ``folds`` and ``DESCR`` (``(data, target)`` if ``return_X_y``). ``folds`` is the list of
        ``(train_idx, test_idx)`` 0-based index arrays of ``conxuntos_kfold.dat`` (None if absent); in
        the collection's files each pair partitions the rows, but the test parts of different pairs
        overlap (repeated random 75/25 splits).

    Raises
    ------
    FileNotFoundError, TypeError, ValueError
        If there is no ``<name>_R.dat``, ``name`` is not a folder name, or the file is malformed.

    See Also
    --------
    list_uci : The sets of a data directory.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, Figs. 6 and 7 (UCI sets).

    Examples
    --------
    >>> import tempfile; tmp = tempfile.TemporaryDirectory(); (Path(tmp.name) / "toy").mkdir()
    >>> _ = (Path(tmp.name) / "toy" / "toy_R.dat").write_text("a\\tb\\tclass\\n1\\t.5\\t-1\\t0\\n2\\t-.5\\t1\\t1\\n")
    >>> data = load_uci("toy", data_home=tmp.name); tmp.cleanup()
    >>> data.data.shape, data.target.tolist(), data.feature_names
    ((2, 2), [0, 1], ['a', 'b'])
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str (a dataset folder name), got {type(name).__name__}")
    if not name or "/" in name or os.sep in name or name in (".", ".."):
        raise ValueError(f"name must be a dataset folder name such as 'credit-approval', got {name!r}")
    home = get_data_home(data_home)
    folder, path = home / name, home / name / f"{name}_R.dat"
    if not path.is_file():
        where = "folder" if not folder.is_dir() else "file"
        raise FileNotFoundError(f"UCI dataset {name!r} not found: no {where} {folder if where == 'folder' else path}; "
                                f"expected <data_home>/{name}/{name}_R.dat (available in {home}: "
                                f"{list_uci(home)}); {_HINT}")
    lines = [line.split() for line in path.read_text(errors="replace").splitlines()]
    lines = [fields for fields in lines if fields]
    if len(lines) < 2:
        raise ValueError(f"{path}: expected a header line and at least one data row")
    header, rows = lines[0], lines[1:]
    n_cols = len(header) + 1  # the header has no name for the row-index column
    if n_cols < 3:
        raise ValueError(f"{path}: header must name at least one feature and the class column")
    for lineno, fields in enumerate(rows, start=2):
        if len(fields) != n_cols:
            raise ValueError(f"{path}: line {lineno} has {len(fields)} columns, expected {n_cols} "
                             f"(row index, {n_cols - 2} features, class) as in the header")
    try:
        table = np.array(rows, dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"{path}: non-numeric value ({exc})") from None
    X, classes = np.ascontiguousarray(table[:, 1:-1]), table[:, -1]
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{path}: non-finite feature values")
    bad = np.flatnonzero((classes != 0) & (classes != 1))
    if bad.size:
        raise ValueError(f"{path}: the class column must be 0 or 1, got {rows[bad[0]][-1]!r} on line {bad[0] + 2}")
    y = classes.astype(np.int64)
    n, d = X.shape
    meta_path = folder / f"{name}.txt"
    meta = _read_metadata(meta_path) if meta_path.is_file() else {}
    for key, value, what in (("n_patrons1", n, "rows"), ("n_entradas", d, "features")):
        if meta.get(key, "").isdigit() and int(meta[key]) != value:
            raise ValueError(f"{path}: {value} {what} but {meta_path.name} says {key}= {meta[key]} "
                             "(truncated or mismatched file?)")
    fold_path = folder / "conxuntos_kfold.dat"
    folds = _read_folds(fold_path, n) if fold_path.is_file() else None
    logger.info("loaded UCI %s: %d samples, %d features, %s folds", name, n, d, len(folds or ()) or "no")
    if return_X_y:
        return X, y
    descr = (f"UCI dataset {name!r} (Fernández-Delgado et al. 2014 preprocessing, features z-scored): "
             f"{n} samples, {d} features, classes 0/1 with counts {np.bincount(y, minlength=2).tolist()}; "
             f"{len(folds) if folds else 'no'} train/test folds.\nSource: {path}\n")
    if meta:
        descr += "".join(f"{k}= {v}\n" for k, v in meta.items())
    return Bunch(data=X, target=y, feature_names=list(header[:-1]), name=name, folds=folds, DESCR=descr)


# -- MNIST -------------------------------------------------------------------------------------
def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """Parse a gzip-compressed idx file of unsigned bytes with ``ndim`` dimensions."""
    if not path.is_file():
        raise FileNotFoundError(f"MNIST file not found: {path}; expected the idx file {path.name} in "
                                f"<data_home>/mnist/; {_HINT}")
    try:
        with gzip.open(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise ValueError(f"{path}: not a complete gzip file ({exc})") from None
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] != 0x08 or raw[3] != ndim:
        raise ValueError(f"{path}: bad idx magic number {raw[:4].hex()!r}, expected "
                         f"'000008{ndim:02x}' (unsigned bytes, {ndim} dimensions)")
    offset = 4 + 4 * ndim
    if len(raw) < offset:
        raise ValueError(f"{path}: truncated idx header")
    dims = struct.unpack(f">{ndim}I", raw[4:offset])
    size = int(np.prod(dims, dtype=np.int64))
    if len(raw) - offset != size:
        problem = "truncated" if len(raw) - offset < size else "has trailing bytes"
        raise ValueError(f"{path}: {problem}: header dims {dims} need {size} bytes of data, "
                         f"found {len(raw) - offset}")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)


def _as_tuple(values) -> tuple | None:
    """``tuple(values)`` for a non-string iterable, else None."""
    if isinstance(values, (str, bytes)):
        return None
    try:
        return tuple(values)
    except TypeError:
        return None


def _check_digits(digits) -> tuple[int, ...]:
    if digits is None:
        return tuple(range(10))
    values = _as_tuple(digits)
    if values is None or not all(isinstance(v, Integral) and not isinstance(v, bool) for v in values):
        raise TypeError(f"digits must be None or a sequence of integers, got {digits!r}")
    digits = tuple(int(v) for v in values)
    if not digits or any(not 0 <= v <= 9 for v in digits) or len(set(digits)) != len(digits):
        raise ValueError(f"digits must be distinct integers in 0..9 (at least one), got {digits}")
    return digits


def load_mnist(data_home: PathLike | None = None, digits: Sequence[int] | None = (0, 1), *, split: str = "train",
               flatten: bool = True, scale: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST from the original gzip idx files in ``<data_home>/mnist/``.

    Parameters
    ----------
    data_home : str or path-like, optional
        Data directory (default ``$SPECTRANET_DATA``).
    digits : sequence of int or None
        Digits to keep, relabelled ``0..len(digits)-1`` in the order given; None keeps all
        ten with their own labels.
    split : {"train", "test"}
        Training (60,000) or test (``t10k``, 10,000) images.
    flatten : bool
        ``X`` of shape ``(N, 784)`` if True, else ``(N, 1, 28, 28)``.
    scale : bool
        Pixels as float64 in ``[0, 1]`` if True, else the raw uint8 values.

    Returns
    -------
    X : ndarray
        The images, ``(N, 784)`` or ``(N, 1, 28, 28)``.
    y : ndarray of int64, shape (N,)
        The labels.

    Raises
    ------
    FileNotFoundError, TypeError, ValueError
        If an idx file is missing or damaged, or ``split`` or ``digits`` is invalid.

    See Also
    --------
    load_cifar_jpeg_zip : The other image set of Fig. 5.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, Fig. 5 (MNIST digits 0 and 1).

    Examples
    --------
    >>> import tempfile; tmp = tempfile.TemporaryDirectory(); os.makedirs(os.path.join(tmp.name, "mnist"))
    >>> for name, a in [("train-images-idx3-ubyte.gz", np.zeros((3, 28, 28), np.uint8)),
    ...                 ("train-labels-idx1-ubyte.gz", np.array([0, 1, 7], np.uint8))]:  # 3 blank images
    ...     with gzip.open(os.path.join(tmp.name, "mnist", name), "wb") as fh:
    ...         _ = fh.write(bytes([0, 0, 8, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes())
    >>> X, y = load_mnist(tmp.name, digits=(0, 1)); tmp.cleanup()
    >>> X.shape, y.tolist()
    ((2, 784), [0, 1])
    """
    split, digits = _check_split(split), _check_digits(digits)
    home = get_data_home(data_home) / "mnist"
    image_file, label_file = (home / f for f in _MNIST_FILES[split])
    images, labels = _read_idx(image_file, 3), _read_idx(label_file, 1)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{image_file} holds {images.shape[0]} images but {label_file} "
                         f"holds {labels.shape[0]} labels")
    if labels.size and labels.max() > 9:
        raise ValueError(f"{label_file}: labels must be in 0..9, found {labels.max()}")
    lut = np.full(10, -1, dtype=np.int64)
    lut[list(digits)] = np.arange(len(digits))
    y = lut[labels]
    keep = y >= 0
    X, y = images[keep], y[keep]
    X = X.reshape(len(X), -1) if flatten else X[:, None, :, :]
    X = X / 255.0 if scale else X
    logger.info("loaded MNIST %s digits %s: %d images", split, digits, len(y))
    return X, y


# -- CIFAR-10 JPEG zip -------------------------------------------------------------------------
def load_cifar_jpeg_zip(path: PathLike | None = None, *, data_home: PathLike | None = None, split: str = "train",
                        classes: Sequence[str] = ("airplane", "automobile"), flatten: bool = True, scale: bool = True,
                        max_per_class: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Load CIFAR-10 images from a zip of JPEGs (``<split>/<class>/*.jpg`` members; needs Pillow).

    Parameters
    ----------
    path : str or path-like, optional
        The zip (default ``cifar10-airplane-automobile/CIFAR-10-images_airplane_automobile.zip`` of ``data_home``).
    data_home : str or path-like, optional
        Data directory (default ``$SPECTRANET_DATA``), used when ``path`` is None.
    split : {"train", "test"}
    classes : sequence of str
        Class folders to load, labelled ``0..len(classes)-1`` in the order given.
    flatten, scale : bool
        ``X`` of shape ``(N, 3*H*W)`` (channels first), else ``(N, 3, H, W)``; pixels as float64 in
        ``[0, 1]``, else the raw uint8 values.
    max_per_class : int, optional
        Load only the first (by sorted member name) images of each class.

    Returns
    -------
    X, y : ndarray
        Images (grouped by class in the order of ``classes``, by member name within a class) and labels.

    Raises
    ------
    FileNotFoundError, ImportError, TypeError, ValueError
        If the zip file or Pillow is missing, an argument is invalid or an image cannot be read.

    See Also
    --------
    load_mnist : The other image set of Fig. 5.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, Fig. 5 (CIFAR-10 classes 0, 1).

    Examples
    --------
    >>> import tempfile; from PIL import Image; tmp = tempfile.TemporaryDirectory()
    >>> with zipfile.ZipFile(path := os.path.join(tmp.name, "c.zip"), "w") as zf:  # a black 4 x 4 image per class
    ...     for name in ("airplane", "automobile"):
    ...         jpeg = io.BytesIO(); Image.new("RGB", (4, 4)).save(jpeg, "JPEG")
    ...         zf.writestr(f"train/{name}/0.jpg", jpeg.getvalue())
    >>> X, y = load_cifar_jpeg_zip(path); tmp.cleanup(); X.shape, y.tolist()
    ((2, 48), [0, 1])
    """
    split = _check_split(split)
    names = _as_tuple(classes)
    if names is None or not all(isinstance(c, str) for c in names):
        raise TypeError(f"classes must be a sequence of class folder names (str), got {classes!r}")
    if not names or len(set(names)) != len(names) or not all(c and "/" not in c for c in names):
        raise ValueError(f"classes must be distinct non-empty folder names (at least one), got {names}")
    classes = names
    if max_per_class is not None and (isinstance(max_per_class, bool) or not isinstance(max_per_class, Integral)
                                      or max_per_class < 1):
        raise ValueError(f"max_per_class must be None or a positive integer, got {max_per_class!r}")
    path = Path(path).expanduser() if path is not None else get_data_home(data_home) / _CIFAR_ZIP
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR zip not found: {path}; expected a zip of <split>/<class>/*.jpg "
                                f"images (default <data_home>/{_CIFAR_ZIP.as_posix()}); {_HINT}")
    try:
        from PIL import Image
    except ImportError as exc:
        raise ImportError("load_cifar_jpeg_zip needs Pillow to decode JPEG images: pip install pillow") from exc
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{path}: not a zip file ({exc})") from None
    images, labels, shape = [], [], None
    with archive:
        names = sorted(archive.namelist())
        for label, cls in enumerate(classes):
            prefix = f"{split}/{cls}/"
            members = [n for n in names if n.startswith(prefix) and "/" not in n[len(prefix):]
                       and n.lower().endswith((".jpg", ".jpeg"))][:max_per_class]
            if not members:
                found = sorted({n.split("/")[1] for n in names if n.startswith(f"{split}/") and n.count("/") >= 2})
                raise ValueError(f"{path}: no JPEG members {prefix}*.jpg for class {cls!r}; "
                                 f"classes in split {split!r}: {found}")
            for member in members:
                try:
                    with Image.open(io.BytesIO(archive.read(member))) as im:
                        pixels = np.asarray(im if im.mode == "RGB" else im.convert("RGB"), dtype=np.uint8)
                except (OSError, zipfile.BadZipFile) as exc:
                    raise ValueError(f"{path}: cannot decode member {member} ({exc})") from None
                if shape is None:
                    shape = pixels.shape
                elif pixels.shape != shape:
                    raise ValueError(f"{path}: member {member} is {pixels.shape[1]}x{pixels.shape[0]}, "
                                     f"expected {shape[1]}x{shape[0]} like the first image")
                images.append(pixels.transpose(2, 0, 1))
                labels.append(label)
    X, y = np.stack(images), np.asarray(labels, dtype=np.int64)
    X = X.reshape(len(X), -1) if flatten else X
    X = X / 255.0 if scale else X
    logger.info("loaded %d %s images of classes %s from %s", len(y), split, tuple(classes), path)
    return X, y


# -- planted teacher networks ------------------------------------------------------------------
def _rng(random_state) -> np.random.Generator:
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**32, size=4, dtype=np.uint64))
    if random_state is None or isinstance(random_state, (Integral, np.random.Generator, np.random.SeedSequence)):
        return np.random.default_rng(random_state)
    raise TypeError(f"random_state must be None, an int, a numpy Generator or RandomState, got {random_state!r}")


def _check_count(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def make_planted(n_samples: int, n_features: int, *, n_neurons: int = 5, activation: ActivationLike = "relu",
                 noise: float = 0.0, n_outputs: int | None = None, distribution: str = "gaussian",
                 random_state: int | np.random.Generator | np.random.RandomState | np.random.SeedSequence | None = None,
                 return_teacher: bool = False,
                 ) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, PolyNetwork]:
    r"""Data from a planted teacher network :math:`f(x) = \sum_j \sigma(x^\top u_j)\,\alpha_j`.

    The :math:`u_j` are Gaussian then normalized to unit norm, the :math:`\alpha_j` standard
    Gaussian, and :math:`y = f(X) + \text{noise}\cdot\varepsilon`, :math:`\varepsilon \sim N(0, 1)`.
    Draws, in this order from one generator: ``X``, the :math:`u_j`, the :math:`\alpha_j`, then
    the noise (only if ``noise > 0``).

    Parameters
    ----------
    n_samples, n_features : int
        Shape ``(n, d)`` of ``X``.
    n_neurons : int
        Number of planted neurons ``m``.
    activation : str, tuple or PolyActivation
        Anything :func:`~spectranet.activations.as_activation` accepts.
    noise : float
        Standard deviation of the additive Gaussian noise.
    n_outputs : int, optional
        None for a scalar output ``y`` of shape ``(n,)``, else ``y`` of shape ``(n, n_outputs)``.
    distribution : {"gaussian", "gaussian4"}
        ``X`` i.i.d. :math:`N(0, 1)`, or its elementwise 4th power (the authors' notebook setup).
    random_state : None, int, numpy Generator or RandomState
        Seed of the generator.
    return_teacher : bool
        Also return the teacher as a :class:`~spectranet.PolyNetwork`.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The data.
    y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        The teacher's outputs, plus noise.
    teacher : PolyNetwork, only if ``return_teacher``
        The teacher.

    Raises
    ------
    TypeError, ValueError
        If a count is not a positive integer, ``noise`` or ``distribution`` is invalid, or
        ``random_state`` is of another type.

    See Also
    --------
    spectranet.ConvexPolyNetRegressor : Fits the data.
    spectranet.PolyNetwork : The teacher.

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, Fig. 4 (a planted square
    activation network, n = 100, d = 10) and the authors' notebook setup (``"gaussian4"``).

    Examples
    --------
    >>> X, y, teacher = make_planted(100, 20, distribution="gaussian4", random_state=0,
    ...                              return_teacher=True)
    >>> X.shape, y.shape, teacher.n_neurons
    ((100, 20), (100,), 5)
    >>> bool(np.all(y == teacher.predict(X)))
    True
    """
    n = _check_count(n_samples, "n_samples")
    d = _check_count(n_features, "n_features")
    m = _check_count(n_neurons, "n_neurons")
    if n_outputs is not None:
        n_outputs = _check_count(n_outputs, "n_outputs")
    if isinstance(noise, bool) or not isinstance(noise, Real) or not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    if distribution not in ("gaussian", "gaussian4"):
        raise ValueError(f"distribution must be 'gaussian' or 'gaussian4', got {distribution!r}")
    rng = _rng(random_state)
    X = rng.standard_normal((n, d))
    if distribution == "gaussian4":
        X = X**4
    U = rng.standard_normal((m, d))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    alpha = rng.standard_normal(m if n_outputs is None else (m, n_outputs))
    teacher = PolyNetwork(U, alpha, activation)
    y = teacher.predict(X)
    if noise > 0:
        y = y + float(noise) * rng.standard_normal(y.shape)
    return (X, y, teacher) if return_teacher else (X, y)
