"""Network files are untrusted input: PolyNetwork.load succeeds or raises ValueError (naming the file
and the member) or OSError, and never reads more than the limits allow."""

import io
import json
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from spectranet import Conv2D, PolyActivation, PolyNetwork
from spectranet import network as network_module
from spectranet.witness import Witness

ACT = PolyActivation(0.09, 0.5, 0.47)
CNN = Conv2D((1, 4, 4), 2, stride=2)  # filters of length 4, 4 groups


def _witness(n=5, C=1):
    dual = np.arange(n * C, dtype=float).reshape(n, C) / 7.0
    return Witness(dual, {"name": "huber", "delta": 0.5}, 0.25, f"({n}, 2)x({n}, {C}):abc")


def _dense(witness=True):
    U = np.array([[0.6, 0.8], [1.0, 0.0], [0.0, -1.0]])
    return PolyNetwork(U, np.array([1.0, -2.0, 0.5]), ACT, witness=_witness() if witness else None)


def _cnn():
    rng = np.random.default_rng(3)
    return PolyNetwork(rng.standard_normal((2, 4)), rng.standard_normal((2, 4, 3)), ACT, CNN, _witness(6, 3))


def _members(net) -> dict:
    """The members ``save`` writes for ``net``, as a dict of arrays."""
    members = dict(
        format_version=np.array(3), first_layer=net.first_layer, second_layer=net.second_layer,
        activation=np.array(net.activation.coefficients),
        architecture=np.array(json.dumps(net.architecture.to_dict())),
    )
    if net.witness is not None:
        members["witness"] = np.array(net.witness.to_json())
        members["witness_dual"] = net.witness.dual
    return members


def _npy(value) -> bytes:
    """An ``.npy`` stream: raw bytes as given, arrays as ``numpy.save`` writes them."""
    if isinstance(value, bytes):
        return value
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(value), allow_pickle=True)
    return buffer.getvalue()


def _write(path, members: dict, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, value in members.items():
            archive.writestr(f"{name}.npy", _npy(value))
    return path


def _header_only(shape, dtype="<f8") -> bytes:
    """An ``.npy`` header that declares ``shape`` with no data after it."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def _load_error(tmp_path, **changes) -> str:
    """The message of loading the dense network file with members replaced (None: removed)."""
    members = _members(_dense())
    for name, value in changes.items():
        if value is None:
            members.pop(name)
        else:
            members[name] = value
    path = _write(tmp_path / "net.npz", members)
    with pytest.raises(ValueError) as exc:
        PolyNetwork.load(path)
    message = str(exc.value)
    assert message.startswith(str(path))
    return message


# -- round trips -------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda: _dense(False), _dense, _cnn], ids=["bare", "witness", "cnn"])
def test_round_trip(tmp_path, make):
    net = make()
    net.save(tmp_path / "model")
    assert (tmp_path / "model.npz").is_file() and not (tmp_path / "model").exists()
    for name in (tmp_path / "model", tmp_path / "model.npz", str(tmp_path / "model")):
        back = PolyNetwork.load(name)
        np.testing.assert_array_equal(back.first_layer, net.first_layer)
        np.testing.assert_array_equal(back.second_layer, net.second_layer)
        assert back.activation == net.activation and back.architecture == net.architecture
        if net.witness is None:
            assert back.witness is None
        else:
            np.testing.assert_array_equal(back.witness.dual, net.witness.dual)
            assert (back.witness.loss, back.witness.beta, back.witness.fingerprint) == (
                net.witness.loss, net.witness.beta, net.witness.fingerprint)
    X = np.random.default_rng(0).standard_normal((3, net.n_inputs))
    np.testing.assert_array_equal(back.predict(X), net.predict(X))
    net.save(tmp_path / "bare.npz", witness=False)
    assert PolyNetwork.load(tmp_path / "bare.npz").witness is None


def test_load_prefers_the_file_named_and_falls_back_to_npz(tmp_path):
    _dense().save(tmp_path / "model")
    (tmp_path / "other").mkdir()
    _dense(False).save(tmp_path / "other")  # a folder named "other": other.npz is read
    assert PolyNetwork.load(tmp_path / "other").witness is None
    with pytest.raises(FileNotFoundError, match="absent.npz"):
        PolyNetwork.load(tmp_path / "absent")
    with pytest.raises(TypeError, match="expected str, bytes or os.PathLike object, not int"):
        PolyNetwork.load(3)


def test_a_compressed_file_is_read(tmp_path):
    path = _write(tmp_path / "net.npz", _members(_cnn()), zipfile.ZIP_DEFLATED)
    assert PolyNetwork.load(path).architecture == CNN


# -- the reported cases ------------------------------------------------------------------------------
@pytest.mark.parametrize("text, message", [
    ("[1, 2]", 'architecture must be a JSON object such as {"type": "dense"}, got a JSON list'),
    ('{"type": "conv2d"}', "conv2d architecture is missing field(s) ['image_shape', 'kernel_size']"),
    ("[" * 30000 + "]" * 30000, "architecture JSON is nested too deeply"),
    ("{", "architecture is not valid JSON: Expecting property name"),
    ("{}", "architecture has no field 'type'; known types: 'dense', 'conv2d'"),
    ('{"type": "mlp"}', "unknown architecture type 'mlp'; known: 'dense', 'conv2d'"),
    ('{"type": "dense", "pool": 2}', "unknown field(s) 'pool' in a dense architecture"),
])
def test_bad_architecture_json(tmp_path, text, message):
    error = _load_error(tmp_path, architecture=np.array(text))
    assert "member 'architecture' is not a valid architecture: " + message in error


@pytest.mark.parametrize("field, value, accepted", [
    ("image_shape", "abc", "a list [C, H, W] or [H, W] of ints"),
    ("image_shape", [1, 0, 4], "a list [C, H, W] or [H, W] of ints"),
    ("kernel_size", -1, "an int or a list of two ints"),
    ("kernel_size", True, "an int or a list of two ints"),
    ("kernel_size", 2.0, "an int or a list of two ints"),
    ("stride", [1, 1, 1], "an int or a list of two ints"),
    ("padding", -1, "an int or a list of two ints"),
    ("pool", 0, 'null, an int between 1 and 2147483647 or "global"'),
    ("pool", "max", 'null, an int between 1 and 2147483647 or "global"'),
])
def test_ill_typed_conv2d_fields_are_named(tmp_path, field, value, accepted):
    spec = CNN.to_dict() | {field: value}
    error = _load_error(tmp_path, architecture=np.array(json.dumps(spec)))
    assert f"architecture field {field!r} must be {accepted}" in error


def test_a_conv2d_geometry_that_does_not_fit(tmp_path):
    spec = CNN.to_dict() | {"kernel_size": [5, 5]}
    assert "invalid conv2d architecture: kernel_size (5, 5) exceeds the padded image (4, 4)" in _load_error(
        tmp_path, architecture=np.array(json.dumps(spec)))


@pytest.mark.parametrize("content", [b"", b"not a zip at all", "truncated"])
def test_not_a_zip_archive(tmp_path, content):
    path = tmp_path / "net.npz"
    if content == "truncated":
        _dense().save(path)
        content = path.read_bytes()[: path.stat().st_size // 2]
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"^{path} is not a spectranet network file "
                                         r"\(a .npz zip archive written by PolyNetwork.save\): File is not a zip"):
        PolyNetwork.load(path)


def test_missing_members(tmp_path):
    assert "is not a spectranet network file: missing ['activation', 'first_layer']" in _load_error(
        tmp_path, first_layer=None, activation=None)
    assert "is not a spectranet network file: missing ['architecture']" in _load_error(tmp_path, architecture=None)
    assert "member 'witness_dual' is missing" in _load_error(tmp_path, witness_dual=None)


@pytest.mark.parametrize("member, value, message", [
    ("first_layer", np.array([["a", "b"]]), "must be a 2-D real array (n_neurons, n_features), got dtype <U1"),
    ("first_layer", np.array([[None, 1]], dtype=object), "must be a 2-D real array (n_neurons, n_features), "
                                                           "got dtype object"),
    ("first_layer", np.ones((3, 2), complex), "must be a 2-D real array (n_neurons, n_features), "
                                              "got dtype complex128"),
    ("first_layer", np.ones(3), "must be a 2-D real array (n_neurons, n_features), got shape (3,)"),
    ("first_layer", np.full((3, 2), np.nan), "has non-finite values (NaN or infinity)"),
    ("second_layer", np.ones((3, 1, 1)), "must be a real array of shape (3,) or (3, n_outputs), n_neurons = 3 "
                                         "as in first_layer, got shape (3, 1, 1)"),
    ("second_layer", np.ones(4), "must be a real array of shape (3,) or (3, n_outputs), n_neurons = 3 "
                                 "as in first_layer, got shape (4,)"),
    ("second_layer", np.array([1.0, np.inf, 0.0]), "has non-finite values"),
    ("activation", np.ones(4), "must be (a, b, c): 3 real numbers, got shape (4,)"),
    ("activation", np.array([0.0, 0.0, 1.0]), "PolyActivation with a = b = 0 is constant"),
    ("activation", np.array(["relu"]), "must be (a, b, c): 3 real numbers, got dtype <U4"),
    ("format_version", np.array(3.0), "must be an integer scalar, got dtype float64"),
    ("format_version", np.array([3]), "must be an integer scalar, got shape (1,)"),
    ("format_version", np.array("3"), "must be an integer scalar, got dtype <U1"),
    ("architecture", np.array(["{}", "{}"]), "must be a JSON string (a 0-d str array) of at most MAX_JSON_CHARS = "
                                            "100000 characters, got shape (2,)"),
    ("architecture", np.array(7), "must be a JSON string (a 0-d str array)"),
    ("first_layer", b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f8'}   \n", "is not a valid .npy array: "),
    ("first_layer", b"PK not npy", "is not a valid .npy array: ValueError: the magic string is not correct"),
    ("architecture", _header_only((), "<U1") + b"\xff\xff\xff\xff",
     "holds code points outside Unicode (above U+10FFFF)"),
    ("first_layer", _header_only((3, 2)), "is truncated: its header declares shape (3, 2) of float64 (48 bytes), "
                                          "the archive holds 0"),
])
def test_bad_members(tmp_path, member, value, message):
    assert f"member {member!r} {message}" in _load_error(tmp_path, **{member: value})


def test_format_versions(tmp_path):
    assert "unsupported network file format_version 99; this spectranet reads versions 1 to 3" in _load_error(
        tmp_path, format_version=np.array(99))
    members = _members(_dense())
    members.update(format_version=np.array(1, np.uint8), architecture=np.array("not read by version 1"))
    assert PolyNetwork.load(_write(tmp_path / "v1.npz", members)).witness is None  # no witness before 3


@pytest.mark.parametrize("witness, message", [
    ("{", "member 'witness' is not valid JSON: Expecting property name"),
    ("[1]", "member 'witness' must be a JSON object with the fields loss, beta, fingerprint, shape, "
            "got a JSON list"),
    ('{"loss": {"name": "squared"}}', "must be a JSON object with the fields loss, beta, fingerprint, shape, "
                                      "got 'loss'"),
    ("[" * 30000, "member 'witness' is JSON nested too deeply"),
    ("1" * 5000, "member 'witness' is not valid JSON: Exceeds the limit (4300 digits)"),
])
def test_malformed_witness_json(tmp_path, witness, message):
    assert message in _load_error(tmp_path, witness=np.array(witness))


@pytest.mark.parametrize("change, message", [
    ({"loss": "squared"}, "field 'loss' must be a JSON object with a \"name\""),
    ({"loss": {"name": "nope"}}, "does not describe a loss and beta: unknown loss 'nope'"),
    ({"loss": {"name": "huber", "delta": -1}}, "HuberLoss.delta must be positive and finite, got -1"),
    ({"loss": {"name": "huber", "delta": 10**400}}, "int too large to convert to float"),
    ({"loss": {"name": "squared", "p": 2}}, "unexpected keyword argument 'p'"),
    ({"beta": -1}, "beta must be a finite real number >= 0, got -1.0"),
    ({"beta": "0.1"}, "beta must be a real number >= 0, got str '0.1'"),
    ({"fingerprint": 3}, "field 'fingerprint' must be a string, got 3"),
    ({"shape": [5, 2]}, "field 'shape' must be [n_samples, 1] (the network's 1 output(s)), got [5, 2]"),
    ({"shape": [5, True]}, "field 'shape' must be [n_samples, 1]"),
    ({"shape": [4, 1]}, "member 'witness_dual' must be a real array of the shape (4, 1) that 'witness' declares, "
                        "got shape (5, 1)"),
])
def test_witness_fields(tmp_path, change, message):
    spec = json.loads(_dense().witness.to_json()) | change
    assert message in _load_error(tmp_path, witness=np.array(json.dumps(spec)))


def test_witness_dual_must_be_finite_and_real(tmp_path):
    message = _load_error(tmp_path, witness_dual=np.full((5, 1), np.nan))
    assert "member 'witness_dual' has non-finite values (NaN or infinity); the weights must be finite" in message
    assert "member 'witness_dual' must be a real array of the shape (5, 1)" in _load_error(
        tmp_path, witness_dual=np.full((5, 1), "x"))


# -- limits and contradictions, checked on the headers before any data are read ---------------------
def test_members_over_the_entry_limit_are_refused_before_reading(tmp_path):
    assert network_module.MAX_MEMBER_ENTRIES == 10**8
    huge = (network_module.MAX_MEMBER_ENTRIES + 1,)
    message = _load_error(tmp_path, second_layer=_header_only(huge))  # no data: a read would say "truncated"
    assert ("member 'second_layer' has shape (100000001,): 100000001 entries exceed the limit "
            "MAX_MEMBER_ENTRIES = 100000000") in message
    assert "entries exceed the limit" in _load_error(tmp_path, witness_dual=_header_only((10**6, 10**6)))


def test_a_compressed_member_is_refused_before_it_expands(tmp_path, monkeypatch):
    monkeypatch.setattr(network_module, "MAX_MEMBER_ENTRIES", 10_000)
    members = _members(_dense())
    members["witness_dual"] = np.zeros((20_000, 1))  # 160 KB that deflate to a few hundred bytes
    path = _write(tmp_path / "bomb.npz", members, zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 2_000
    with pytest.raises(ValueError, match=r"member 'witness_dual' has shape \(20000, 1\): 20000 entries exceed"):
        PolyNetwork.load(path)


def test_json_members_over_the_length_limit(tmp_path):
    assert network_module.MAX_JSON_CHARS == 100_000
    text = json.dumps({"type": "dense", "pad": "x" * 100_000})
    assert ("member 'architecture' must be a JSON string (a 0-d str array) of at most MAX_JSON_CHARS = 100000 "
            f"characters, got {len(text)} characters") in _load_error(tmp_path, architecture=np.array(text))


_CNN_SECOND = ("must be a real array of shape (2, 4) or (2, 4, n_outputs) for Conv2D(image_shape=(1, 4, 4), "
               "kernel_size=(2, 2), stride=(2, 2)) (4 groups), n_neurons = 2 as in first_layer, got shape ")


@pytest.mark.parametrize("member, value, message", [
    ("first_layer", np.ones((2, 5)), "must be a 2-D real array (n_neurons, 4) of filters of length C*kh*kw for "
                                     "Conv2D(image_shape=(1, 4, 4), kernel_size=(2, 2), stride=(2, 2)), "
                                     "got shape (2, 5)"),
    ("second_layer", np.ones((2, 3, 3)), _CNN_SECOND + "(2, 3, 3)"),
    ("second_layer", np.ones((3, 4)), _CNN_SECOND + "(3, 4)"),
    ("witness_dual", np.ones((6, 2)), "must be a real array of the shape (6, 3) that 'witness' declares, "
                                      "got shape (6, 2)"),
])
def test_cnn_members_that_contradict_each_other(tmp_path, member, value, message):
    members = _members(_cnn()) | {member: value}
    path = _write(tmp_path / "cnn.npz", members)
    with pytest.raises(ValueError) as exc:
        PolyNetwork.load(path)
    assert str(exc.value) == f"{path}: member {member!r} {message}"


# -- fuzz --------------------------------------------------------------------------------------------
_NAMES = ("format_version", "first_layer", "second_layer", "activation", "architecture", "witness", "witness_dual")
_KEYS = st.sampled_from(["type", "image_shape", "kernel_size", "stride", "padding", "pool", "loss", "name",
                         "delta", "beta", "fingerprint", "shape"])
_JSON = st.recursive(st.none() | st.booleans() | st.integers(-3, 10) | st.floats() | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=6),
                     max_leaves=12)
_FIELD = st.one_of(st.integers(-1, 5), st.lists(st.integers(-1, 5), max_size=4), st.none(), st.booleans(),
                   st.just("global"), st.floats(0, 3))
_CONV2D = st.fixed_dictionaries({"type": st.just("conv2d")}, optional={
    name: _FIELD for name in ("image_shape", "kernel_size", "stride", "padding", "pool")})
_WITNESS = st.fixed_dictionaries({
    "loss": st.fixed_dictionaries({"name": st.sampled_from(["squared", "huber", "softmax", "x"])},
                                  optional={"delta": _FIELD}) | _FIELD,
    "beta": _FIELD, "fingerprint": st.text(max_size=5) | _FIELD,
    "shape": st.lists(st.integers(0, 7), min_size=2, max_size=2) | _FIELD})
_DTYPES = st.sampled_from(["<f8", ">f8", "<f4", "<f2", "<i8", "|u1", "|b1", "<c16", "<U3", "|S2", "<m8[s]"])
_ARRAYS = _DTYPES.flatmap(lambda dtype: hnp.arrays(np.dtype(dtype), hnp.array_shapes(min_dims=0, max_dims=3,
                                                                                      min_side=0, max_side=6)))
_CONTENT = st.one_of(
    st.binary(max_size=200),
    _ARRAYS,
    st.one_of(_JSON, _CONV2D, _WITNESS).map(lambda value: np.array(json.dumps(value))),
    st.text(max_size=40).map(np.array),
    st.just(_header_only((10**9,))),
)


def _valid_bytes(make, compression) -> bytes:
    buffer = io.BytesIO()
    _write(buffer, _members(make()), compression)
    return buffer.getvalue()


_VALID = {(name, c): _valid_bytes(make, c) for name, make in (("dense", _dense), ("cnn", _cnn))
          for c in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)}


@st.composite
def _files(draw) -> bytes:
    kind = draw(st.sampled_from(["mutated", "truncated", "flipped"]))
    net, compression = draw(st.sampled_from(sorted(_VALID)))
    valid = _VALID[net, compression]
    if kind == "truncated":
        return valid[: draw(st.integers(0, len(valid) - 1))]
    if kind == "flipped":
        data = bytearray(valid)
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    members = _members(_dense() if net == "dense" else _cnn())
    for name in draw(st.lists(st.sampled_from(_NAMES), min_size=1, max_size=3, unique=True)):
        if draw(st.booleans()):
            members.pop(name, None)
        else:
            members[name] = draw(_CONTENT)
    buffer = io.BytesIO()
    _write(buffer, members, compression)
    return buffer.getvalue()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(content=_files())
def test_fuzz_load_raises_only_value_or_os_errors(tmp_path, content):
    path = tmp_path / "fuzz.npz"
    path.write_bytes(content)
    try:
        net = PolyNetwork.load(path)
    except ValueError as exc:
        assert str(path) in str(exc)
    except OSError:
        pass
    else:
        assert isinstance(net, PolyNetwork) and np.all(np.isfinite(net.first_layer))


def test_architecture_from_dict_takes_dicts_and_leaves_them_alone():
    from spectranet import Dense
    from spectranet.architectures import architecture_from_dict

    spec = {"type": "conv2d", "image_shape": (4, 4), "kernel_size": 2}
    assert architecture_from_dict(spec) == Conv2D((1, 4, 4), 2)  # stride, padding and pool default
    assert spec == {"type": "conv2d", "image_shape": (4, 4), "kernel_size": 2}
    assert architecture_from_dict(CNN.to_dict()) == CNN and architecture_from_dict('{"type": "dense"}') == Dense()
    with pytest.raises(TypeError, match="architecture spec must be a dict or its JSON string, got list"):
        architecture_from_dict([("type", "dense")])
    with pytest.raises(ValueError, match="architecture field 'image_shape' must be a list"):
        architecture_from_dict({"type": "conv2d", "image_shape": 4, "kernel_size": 2})
    with pytest.raises(ValueError, match="architecture field 'image_shape' .* got \\[1, 4, 2147483648\\]"):
        architecture_from_dict({"type": "conv2d", "image_shape": [1, 4, 2**31], "kernel_size": 2})
