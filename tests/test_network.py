import json

import numpy as np
import pytest

from spectranet import Dense, PolyActivation, PolyNetwork


def test_predict_shapes_and_values(random_network):
    X = np.random.default_rng(0).standard_normal((7, 4))
    out = random_network.predict(X)
    assert out.shape == (7,)
    act = random_network.activation
    expected = sum(act(X @ u) * a for u, a in zip(random_network.first_layer, random_network.second_layer))
    np.testing.assert_allclose(out, expected, rtol=1e-13)
    vec = PolyNetwork(random_network.first_layer, np.ones((5, 3)), act)
    assert vec.predict(X).shape == (7, 3)
    with pytest.raises(ValueError, match=r"X must have shape \(n_samples, 4\)"):
        random_network.predict(X[:, :3])


def test_weights_are_copied_and_read_only():
    U = np.eye(2)
    net = PolyNetwork(U, np.ones(2), "relu")
    U[0, 0] = 5.0
    assert net.first_layer[0, 0] == 1.0
    with pytest.raises(ValueError):
        net.first_layer[0, 0] = 3.0


def test_bad_shapes():
    with pytest.raises(ValueError, match="first_layer must be 2-D"):
        PolyNetwork(np.ones(3), np.ones(3), "relu")
    with pytest.raises(ValueError, match=r"second_layer must have shape \(n_neurons,\)"):
        PolyNetwork(np.ones((3, 2)), np.ones(2), "relu")
    with pytest.raises(ValueError, match="must be finite"):
        PolyNetwork(np.ones((1, 2)) * np.nan, np.ones(1), "relu")


@pytest.mark.parametrize("second", [np.array([1.0, -2.0]), np.array([[1.0, 0.0], [0.0, -3.0]])])
def test_save_load_roundtrip(tmp_path, second):
    net = PolyNetwork(np.array([[0.6, 0.8], [1.0, 0.0]]), second, PolyActivation(0.1, 0.5, 0.24))
    path = tmp_path / "net.npz"
    net.save(path)
    back = PolyNetwork.load(path)
    np.testing.assert_array_equal(back.first_layer, net.first_layer)
    np.testing.assert_array_equal(back.second_layer, net.second_layer)
    assert back.activation == net.activation
    with np.load(path, allow_pickle=False) as data:  # documented keys, no pickle
        assert sorted(data.files) == ["activation", "architecture", "first_layer", "format_version",
                                      "second_layer"]
        assert int(data["format_version"]) == 3
        assert json.loads(str(data["architecture"])) == {"type": "dense"}


def test_load_reads_format_version_1(tmp_path):
    path = tmp_path / "v1.npz"
    np.savez(path, format_version=np.array(1), first_layer=np.array([[0.6, 0.8]]), second_layer=np.array([2.0]),
             activation=np.array([0.1, 0.5, 0.24]))
    back = PolyNetwork.load(path)
    assert back.architecture == Dense() and back.n_neurons == 1
    np.testing.assert_array_equal(back.second_layer, [2.0])


def test_load_rejects_foreign_files(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, weights=np.ones(3))
    with pytest.raises(ValueError, match="not a spectranet network file"):
        PolyNetwork.load(path)
    np.savez(path, format_version=99, first_layer=np.ones((1, 1)), second_layer=np.ones(1),
             activation=np.array([1.0, 0.0, 0.0]))
    with pytest.raises(ValueError, match="unsupported network file format_version 99"):
        PolyNetwork.load(path)


def test_zero_network_predicts_zero():
    net = PolyNetwork.zero(3, "relu")
    np.testing.assert_array_equal(net.predict(np.ones((4, 3))), np.zeros(4))


def test_to_torch_matches_predict(random_network):
    torch = pytest.importorskip("torch")
    X = np.random.default_rng(0).standard_normal((9, 4))
    module = random_network.to_torch()
    out = module(torch.as_tensor(X)).detach().numpy()
    np.testing.assert_allclose(out, random_network.predict(X), rtol=1e-12)
    vec = PolyNetwork(random_network.first_layer, np.ones((5, 2)), "relu")
    np.testing.assert_allclose(vec.to_torch()(torch.as_tensor(X)).detach().numpy(), vec.predict(X), rtol=1e-12)


def test_import_does_not_import_torch_or_cvxpy():
    import subprocess
    import sys

    code = "import sys, spectranet; print('torch' in sys.modules, 'cvxpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_a_network_refuses_nan_or_infinite_inputs():
    """Its outputs would be NaN, silently (the estimators validate X; a network used alone did not)."""
    from spectranet import Conv2D, PolyNetwork

    net = PolyNetwork(np.eye(3), np.ones(3), "relu")
    X = np.ones((4, 3))
    assert np.all(np.isfinite(net.predict(X)))
    for bad in (np.nan, np.inf):
        X[1, 2] = bad
        with pytest.raises(ValueError, match="X contains NaN or infinity"):
            net.predict(X)
    conv = PolyNetwork(np.ones((2, 4)) / 2.0, np.ones((2, 1)), "relu",
                       architecture=Conv2D((1, 3, 3), kernel_size=2, pool="global"))
    images = np.ones((2, 1, 3, 3))
    assert conv.predict(images).shape == (2,)
    images[0, 0, 1, 1] = np.nan
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        conv.predict(images)


def test_to_torch_takes_a_dtype_by_name_as_the_estimators_do():
    """to_torch(dtype="float32") failed inside torch; names and numpy dtypes are accepted, others
    refused by name."""
    torch = pytest.importorskip("torch")
    from spectranet import PolyNetwork

    net = PolyNetwork(np.eye(3) / 1.0, np.array([1.0, -2.0, 0.5]), "relu")
    X = np.random.default_rng(0).standard_normal((5, 3))
    for dtype in ("float32", np.float32, torch.float32):
        module = net.to_torch(dtype=dtype)
        assert next(module.parameters()).dtype == torch.float32
        out = module(torch.as_tensor(X, dtype=torch.float32)).detach().numpy()
        np.testing.assert_allclose(out, net.predict(X), rtol=1e-5)
    with pytest.raises(ValueError, match=r"dtype must be one of \['float64', 'float32'\], got 'int8'"):
        net.to_torch(dtype="int8")
