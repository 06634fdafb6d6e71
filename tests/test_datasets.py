"""Dataset loaders: file formats on tiny files written here, the real data when present."""

import gzip
import io
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from spectranet.datasets import (
    get_data_home,
    list_uci,
    load_cifar_jpeg_zip,
    load_mnist,
    load_uci,
    make_planted,
)

from ._data import planted

REAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


# -- writers for the formats -------------------------------------------------------------------
def write_uci(home, name, X, y, folds=None, meta=None):
    folder = home / name
    folder.mkdir(parents=True)
    header = "\t" + "\t".join(f"f{j + 1}" for j in range(X.shape[1])) + "\tclase\n"
    rows = "".join(f"{i + 1}\t" + "\t".join(repr(float(v)) for v in x) + f"\t{c}\n"
                   for i, (x, c) in enumerate(zip(X, y)))
    (folder / f"{name}_R.dat").write_text(header + rows)
    if folds is not None:
        (folder / "conxuntos_kfold.dat").write_text(
            "".join(" ".join(map(str, idx)) + " \n" for pair in folds for idx in pair))
    if meta is not None:
        (folder / f"{name}.txt").write_text("".join(f"{k}= {v}\n" for k, v in meta.items()))
    return folder


def idx_bytes(array, magic=None):
    array = np.asarray(array, dtype=np.uint8)
    magic = struct.pack(">BBBB", 0, 0, 8, array.ndim) if magic is None else magic
    return magic + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_mnist(home, split="train", n=12, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = np.arange(n, dtype=np.uint8) % 10
    prefix = "train" if split == "train" else "t10k"
    (home / "mnist").mkdir(parents=True, exist_ok=True)
    (home / "mnist" / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
    (home / "mnist" / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    return images, labels


@pytest.fixture
def uci_home(tmp_path):
    X = np.random.default_rng(0).standard_normal((8, 3))
    y = np.array([0, 1, 1, 0, 1, 0, 0, 1])
    folds = [([0, 1, 2, 3, 4, 5], [6, 7]), ([2, 3, 4, 5, 6, 7], [0, 1])]
    write_uci(tmp_path, "toy", X, y, folds=folds, meta={"n_entradas": 3, "n_patrons1": 8})
    return tmp_path, X, y, folds


# -- data home -----------------------------------------------------------------------------------
def test_get_data_home(tmp_path, monkeypatch):
    monkeypatch.delenv("SPECTRANET_DATA", raising=False)
    assert get_data_home(tmp_path) == tmp_path
    assert get_data_home(str(tmp_path)) == tmp_path
    with pytest.raises(FileNotFoundError, match="no data directory given.*SPECTRANET_DATA"):
        get_data_home()
    monkeypatch.setenv("SPECTRANET_DATA", str(tmp_path))
    assert get_data_home() == tmp_path
    with pytest.raises(FileNotFoundError, match=r"data directory .*missing \(from data_home\) does not exist"):
        get_data_home(tmp_path / "missing")
    monkeypatch.setenv("SPECTRANET_DATA", str(tmp_path / "gone"))
    with pytest.raises(FileNotFoundError, match=r"gone \(from \$SPECTRANET_DATA\)"):
        load_mnist()


# -- UCI -------------------------------------------------------------------------------------------
def test_load_uci_roundtrip(uci_home, monkeypatch):
    home, X, y, folds = uci_home
    bunch = load_uci("toy", home)
    assert bunch.data.dtype == np.float64 and bunch.target.dtype == np.int64
    np.testing.assert_array_equal(bunch.data, X)
    np.testing.assert_array_equal(bunch.target, y)
    assert bunch.feature_names == ["f1", "f2", "f3"] and bunch.name == "toy"
    assert len(bunch.folds) == 2
    for (train, test), (train0, test0) in zip(bunch.folds, folds):
        np.testing.assert_array_equal(train, train0)
        np.testing.assert_array_equal(test, test0)
    assert "'toy'" in bunch.DESCR and "8 samples, 3 features" in bunch.DESCR
    monkeypatch.setenv("SPECTRANET_DATA", str(home))
    X2, y2 = load_uci("toy", return_X_y=True)
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)


def test_list_uci_and_no_folds(uci_home):
    home = uci_home[0]
    write_uci(home, "other", np.ones((2, 1)), [1, 0])
    (home / "mnist").mkdir()
    (home / "empty").mkdir()
    assert list_uci(home) == ["other", "toy"]
    assert load_uci("other", home).folds is None


def test_load_uci_missing(uci_home):
    home = uci_home[0]
    with pytest.raises(FileNotFoundError, match=r"no folder .*nope; expected <data_home>/nope/nope_R.dat"):
        load_uci("nope", home)
    (home / "nope").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no file .*nope_R.dat.*SPECTRANET_DATA"):
        load_uci("nope", home)
    for bad in ("", "../toy", ".."):
        with pytest.raises(ValueError, match="name must be a dataset folder name"):
            load_uci(bad, home)
    with pytest.raises(TypeError, match="name must be a str"):
        load_uci(3, home)


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("\t1\n", "\t2\n", 1), r"class column must be 0 or 1, got '2' on line \d"),
    (lambda t: t.replace("\t0\n", "\t\n", 1), r"line \d has 4 columns, expected 5 \(row index, 3 features"),
    (lambda t: t.replace("\t1\n", "\tx\t1\n", 1), r"line \d has 6 columns, expected 5"),
    (lambda t: t.replace("\t1\n", "\tyes\n", 1), "non-numeric value"),
    (lambda t: t.split("\n", 1)[0], "expected a header line and at least one data row"),
    (lambda t: t.rsplit("\n", 2)[0] + "\n", r"7 rows but toy.txt says n_patrons1= 8 \(truncated"),
])
def test_load_uci_malformed(uci_home, edit, message):
    home = uci_home[0]
    path = home / "toy" / "toy_R.dat"
    path.write_text(edit(path.read_text()))
    with pytest.raises(ValueError, match=message) as info:
        load_uci("toy", home)
    assert "toy_R.dat" in str(info.value)


@pytest.mark.parametrize("text, message", [
    ("0 1\n2 3\n4\n", "expected pairs of lines"),
    ("0 1\n2 x\n", "fold indices must be integers"),
    ("0 1\n2 8\n", r"fold 0 has row indices outside 0..7"),
    ("0 1\n1 2\n", "fold 0 has rows in both"),
])
def test_load_uci_bad_folds(uci_home, text, message):
    home = uci_home[0]
    (home / "toy" / "conxuntos_kfold.dat").write_text(text)
    with pytest.raises(ValueError, match=f"conxuntos_kfold.dat: {message}"):
        load_uci("toy", home)


# -- MNIST -----------------------------------------------------------------------------------------
def test_load_mnist_roundtrip(tmp_path):
    images, labels = write_mnist(tmp_path, "train", n=25)
    test_images, test_labels = write_mnist(tmp_path, "test", n=13, seed=1)
    X, y = load_mnist(tmp_path)
    keep = labels < 2
    assert X.shape == (keep.sum(), 784) and X.dtype == np.float64
    np.testing.assert_array_equal(X, images[keep].reshape(-1, 784) / 255.0)
    np.testing.assert_array_equal(y, labels[keep])
    X, y = load_mnist(tmp_path, digits=(7, 3), split="test", flatten=False, scale=False)
    keep = np.isin(test_labels, (7, 3))
    assert X.shape == (keep.sum(), 1, 28, 28) and X.dtype == np.uint8
    np.testing.assert_array_equal(X[:, 0], test_images[keep])
    np.testing.assert_array_equal(y, np.where(test_labels[keep] == 7, 0, 1))
    X, y = load_mnist(tmp_path, digits=None)
    np.testing.assert_array_equal(y, labels)
    assert X.min() >= 0.0 and X.max() <= 1.0


@pytest.mark.parametrize("payload, message", [
    (lambda raw: b"\x00\x00\x08\x02" + raw[4:], r"bad idx magic number '00000802', expected '00000803'"),
    (lambda raw: b"\x00\x00\x0d\x03" + raw[4:], "bad idx magic number"),
    (lambda raw: raw[:-5], r"truncated: header dims \(12, 28, 28\) need 9408 bytes of data, found 9403"),
    (lambda raw: raw + b"\x00", "has trailing bytes"),
    (lambda raw: raw[:10], "truncated idx header"),
])
def test_load_mnist_malformed_images(tmp_path, payload, message):
    write_mnist(tmp_path)
    path = tmp_path / "mnist" / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(payload(gzip.decompress(path.read_bytes()))))
    with pytest.raises(ValueError, match=f"train-images-idx3-ubyte.gz: {message}"):
        load_mnist(tmp_path)


def test_load_mnist_bad_files(tmp_path):
    write_mnist(tmp_path)
    labels = tmp_path / "mnist" / "train-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(idx_bytes(np.arange(11) % 10)))
    with pytest.raises(ValueError, match="holds 12 images but .*train-labels-idx1-ubyte.gz holds 11 labels"):
        load_mnist(tmp_path)
    labels.write_bytes(gzip.compress(idx_bytes(np.full(12, 10))))
    with pytest.raises(ValueError, match="labels must be in 0..9, found 10"):
        load_mnist(tmp_path)
    labels.write_bytes(gzip.compress(idx_bytes(np.zeros(12)))[:-8])  # cut gzip stream
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz: not a complete gzip file"):
        load_mnist(tmp_path)
    labels.write_bytes(idx_bytes(np.zeros(12)))  # not gzip-compressed
    with pytest.raises(ValueError, match="not a complete gzip file"):
        load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"MNIST file not found: .*t10k-images-idx3-ubyte.gz.*SPECTRANET_DATA"):
        load_mnist(tmp_path, split="test")


def test_load_mnist_bad_arguments(tmp_path):
    write_mnist(tmp_path)
    for digits in [(0, 0), (1, 10), (-1,), ()]:
        with pytest.raises(ValueError, match=r"digits must be distinct integers in 0..9"):
            load_mnist(tmp_path, digits=digits)
    for digits in ["01", 1, (0.0, 1.0), (True, False)]:
        with pytest.raises(TypeError, match="digits must be None or a sequence of integers"):
            load_mnist(tmp_path, digits=digits)
    with pytest.raises(ValueError, match="split must be 'train' or 'test', got 'valid'"):
        load_mnist(tmp_path, split="valid")
    X, y = load_mnist(tmp_path, digits=np.array([2, 5]))
    assert sorted(set(y.tolist())) == [0, 1]


# -- CIFAR JPEG zip --------------------------------------------------------------------------------
def jpeg_bytes(seed, size=(32, 32)):
    Image = pytest.importorskip("PIL.Image")
    pixels = np.random.default_rng(seed).integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=75)
    return buffer.getvalue()


def decode(data):
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).transpose(2, 0, 1)


@pytest.fixture
def cifar_zip(tmp_path):
    pytest.importorskip("PIL")
    names = [f"{split}/{cls}/{i:04d}.jpg" for split in ("train", "test")
             for cls in ("airplane", "automobile", "cat") for i in (2, 0, 1)]
    members = {name: jpeg_bytes(seed) for seed, name in enumerate(names)}
    path = tmp_path / "cifar10-airplane-automobile" / "CIFAR-10-images_airplane_automobile.zip"
    path.parent.mkdir()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("train/", b"")
        archive.writestr("train/airplane/notes.txt", b"not an image")
        for name, data in members.items():
            archive.writestr(name, data)
    return path, members


def test_load_cifar_roundtrip(cifar_zip, tmp_path):
    path, members = cifar_zip
    X, y = load_cifar_jpeg_zip(data_home=tmp_path)
    names = [f"train/{c}/{i:04d}.jpg" for c in ("airplane", "automobile") for i in range(3)]
    expected = np.stack([decode(members[n]) for n in names])
    assert X.shape == (6, 3 * 32 * 32) and X.dtype == np.float64
    np.testing.assert_array_equal(X, expected.reshape(6, -1) / 255.0)
    np.testing.assert_array_equal(y, [0, 0, 0, 1, 1, 1])
    X, y = load_cifar_jpeg_zip(path, split="test", classes=("cat", "airplane"), flatten=False, scale=False,
                               max_per_class=2)
    names = ["test/cat/0000.jpg", "test/cat/0001.jpg", "test/airplane/0000.jpg", "test/airplane/0001.jpg"]
    assert X.shape == (4, 3, 32, 32) and X.dtype == np.uint8
    np.testing.assert_array_equal(X, np.stack([decode(members[n]) for n in names]))
    np.testing.assert_array_equal(y, [0, 0, 1, 1])


def test_load_cifar_errors(cifar_zip, tmp_path):
    path, members = cifar_zip
    with pytest.raises(ValueError, match=r"no JPEG members train/dog/\*.jpg for class 'dog'; classes in split "
                                         r"'train': \['airplane', 'automobile', 'cat'\]"):
        load_cifar_jpeg_zip(path, classes=("airplane", "dog"))
    with pytest.raises(TypeError, match="classes must be a sequence of class folder names"):
        load_cifar_jpeg_zip(path, classes="airplane")
    with pytest.raises(ValueError, match="classes must be distinct"):
        load_cifar_jpeg_zip(path, classes=("cat", "cat"))
    with pytest.raises(ValueError, match="max_per_class must be None or a positive integer, got 0"):
        load_cifar_jpeg_zip(path, max_per_class=0)
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        load_cifar_jpeg_zip(path, split="val")
    with pytest.raises(FileNotFoundError, match=r"CIFAR zip not found: .*absent.zip"):
        load_cifar_jpeg_zip(tmp_path / "absent.zip")
    not_zip = tmp_path / "not.zip"
    not_zip.write_bytes(b"plain bytes")
    with pytest.raises(ValueError, match="not.zip: not a zip file"):
        load_cifar_jpeg_zip(not_zip)
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("train/airplane/0.jpg", members["train/airplane/0000.jpg"])
        archive.writestr("train/airplane/1.jpg", b"garbage")
        archive.writestr("train/automobile/0.jpg", jpeg_bytes(1, size=(16, 16)))
    with pytest.raises(ValueError, match="cannot decode member train/airplane/1.jpg"):
        load_cifar_jpeg_zip(bad)
    with pytest.raises(ValueError, match="member train/automobile/0.jpg is 16x16, expected 32x32"):
        load_cifar_jpeg_zip(bad, max_per_class=1)


def test_load_cifar_without_pillow(tmp_path, monkeypatch):
    path = tmp_path / "images.zip"
    path.write_bytes(b"")
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match="pip install pillow"):
        load_cifar_jpeg_zip(path)


# -- planted -----------------------------------------------------------------------------------------
def test_make_planted_shapes_and_determinism():
    X, y = make_planted(30, 4, random_state=0)
    assert X.shape == (30, 4) and y.shape == (30,)
    X2, y2 = make_planted(30, 4, random_state=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(y, make_planted(30, 4, random_state=1)[1])
    X, y = make_planted(20, 3, n_neurons=2, n_outputs=4, noise=0.5, random_state=np.random.default_rng(3))
    assert X.shape == (20, 3) and y.shape == (20, 4)
    a = make_planted(5, 2, random_state=np.random.RandomState(7))[1]
    np.testing.assert_array_equal(a, make_planted(5, 2, random_state=np.random.RandomState(7))[1])
    X4, _ = make_planted(50, 3, distribution="gaussian4", random_state=0)
    np.testing.assert_array_equal(X4, make_planted(50, 3, random_state=0)[0] ** 4)


@pytest.mark.parametrize("n_outputs", [None, 2])
def test_make_planted_teacher(n_outputs):
    X, y, teacher = make_planted(40, 5, n_neurons=3, activation=(0.5, -1.0, 0.2), n_outputs=n_outputs,
                                 random_state=2, return_teacher=True)
    np.testing.assert_allclose(np.linalg.norm(teacher.first_layer, axis=1), 1.0, rtol=1e-14)
    assert teacher.activation.coefficients == (0.5, -1.0, 0.2)
    np.testing.assert_array_equal(y, teacher.predict(X))  # noise = 0: exactly the teacher
    act = teacher.activation
    manual = sum(np.multiply.outer(act(X @ u), a) for u, a in zip(teacher.first_layer, teacher.second_layer))
    np.testing.assert_allclose(y, manual, rtol=1e-12, atol=1e-12)
    Xn, yn = make_planted(40, 5, n_neurons=3, activation=(0.5, -1.0, 0.2), n_outputs=n_outputs, noise=0.1,
                          random_state=2)
    np.testing.assert_array_equal(Xn, X)
    assert 0.05 < np.std(yn - y) < 0.2


def test_make_planted_matches_test_fixture():
    X, y, net = planted(n=60, d=4, m=3, noise=0.1, seed=0)
    X2, y2, net2 = make_planted(60, 4, n_neurons=3, noise=0.1, random_state=0, return_teacher=True)
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)
    np.testing.assert_array_equal(net2.first_layer, net.first_layer)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"n_samples": 0}, ValueError, "n_samples must be >= 1, got 0"),
    ({"n_features": 2.5}, TypeError, "n_features must be an integer"),
    ({"n_neurons": 0}, ValueError, "n_neurons must be >= 1"),
    ({"n_outputs": 0}, ValueError, "n_outputs must be >= 1"),
    ({"noise": -1.0}, ValueError, "noise must be a finite number >= 0"),
    ({"distribution": "uniform"}, ValueError, "distribution must be 'gaussian' or 'gaussian4'"),
    ({"random_state": "seed"}, TypeError, "random_state must be None, an int"),
    ({"activation": "tanh"}, ValueError, "unknown activation 'tanh'"),
])
def test_make_planted_bad_arguments(kwargs, error, message):
    args = {"n_samples": 10, "n_features": 3, **kwargs}
    with pytest.raises(error, match=message):
        make_planted(args.pop("n_samples"), args.pop("n_features"), **args)


# -- the real data (skipped when ../shared/data is absent) -------------------------------------------
@pytest.fixture(scope="module")
def real_data():
    if not REAL_DATA.is_dir():
        pytest.skip(f"real data folder {REAL_DATA} is absent")
    return REAL_DATA


@pytest.mark.parametrize("name, shape", [("credit-approval", (690, 15)), ("breast-cancer", (286, 9)),
                                         ("ionosphere", (351, 33))])
def test_real_uci(real_data, name, shape):
    bunch = load_uci(name, real_data)
    assert bunch.data.shape == shape and bunch.target.shape == shape[:1]
    assert set(np.unique(bunch.target)) == {0, 1}
    assert len(bunch.folds) == 4
    assert all(len(tr) + len(te) == shape[0] for tr, te in bunch.folds)
    assert name in list_uci(real_data)


def test_real_mnist(real_data):
    X, y = load_mnist(real_data)
    assert X.shape == (12665, 784) and np.bincount(y).tolist() == [5923, 6742]
    assert X.min() == 0.0 and X.max() == 1.0
    X, y = load_mnist(real_data, split="test", flatten=False)
    assert X.shape == (2115, 1, 28, 28) and set(np.unique(y)) == {0, 1}


def test_real_cifar(real_data):
    path = real_data / "cifar10-airplane-automobile" / "CIFAR-10-images_airplane_automobile.zip"
    with zipfile.ZipFile(path) as archive:
        jpgs = [n for n in archive.namelist() if n.endswith(".jpg")]
    assert sum(n.startswith("train/") for n in jpgs) == 10000
    assert sum(n.startswith("test/") for n in jpgs) == 2000
    pytest.importorskip("PIL")
    X, y = load_cifar_jpeg_zip(data_home=real_data, max_per_class=50)
    assert X.shape == (100, 3072) and np.bincount(y).tolist() == [50, 50]
    assert 0.0 <= X.min() and X.max() <= 1.0
