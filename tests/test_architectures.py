"""Convolutional and pooling architectures: patch operators, the grouped lift, and the convex
program with one pair per (group, output), checked against independent formulas."""

import numpy as np
import pytest

from spectranet import (
    Conv2D,
    ConvexPolyNetClassifier,
    ConvexPolyNetRegressor,
    Dense,
    PolyNetwork,
    Problem,
    certify,
    get_solver,
)
from spectranet.architectures import architecture_from_dict
from spectranet.kernels import svec
from spectranet.local import _objective_and_gradient, polish
from spectranet.path import beta_max

ACT = (0.09, 0.5, 0.47)
ARCHS = {
    "patches": Conv2D((1, 5, 5), 3),
    "strided": Conv2D((2, 5, 4), 2, stride=2, padding=1),
    "pool2": Conv2D((1, 6, 6), 3, pool=2),
    "global": Conv2D((1, 6, 6), 3, pool="global"),
    "pool_moments": Conv2D((1, 6, 6), 2, pool=3),  # 9 patches per window > f = 4: eigen-factor
}


def _data(arch, n=30, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, arch.n_inputs))


def _direct_group_activations(arch, X, U, act):
    """Independent formula: sigma of every patch by explicit loops, averaged per group."""
    C, H, W = arch.image_shape
    (kh, kw), (sh, sw), (ph, pw) = arch.kernel_size, arch.stride, arch.padding
    imgs = np.pad(X.reshape(-1, C, H, W), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    Ho, Wo = arch.output_map
    pre = np.empty((X.shape[0], U.shape[0], Ho, Wo))
    filters = U.reshape(-1, C, kh, kw)
    for i in range(Ho):
        for j in range(Wo):
            patch = imgs[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            pre[:, :, i, j] = np.einsum("nchw,mchw->nm", patch, filters)
    a, b, c = act
    acts = (a * pre**2 + b * pre + c).reshape(X.shape[0], U.shape[0], -1)  # (n, m, K)
    return np.stack([acts[:, :, g].mean(axis=2) for g in arch.groups()], axis=1)  # (n, G, m)


# -- geometry -------------------------------------------------------------------
def test_conv2d_validation():
    with pytest.raises(TypeError, match="image_shape"):
        Conv2D(28, 3)
    with pytest.raises(ValueError, match="image_shape entries must be >= 1"):
        Conv2D((0, 5, 5), 3)
    with pytest.raises(ValueError, match="kernel_size must be >= 1"):
        Conv2D((1, 5, 5), 0)
    with pytest.raises(TypeError, match="kernel_size must be an int or a pair"):
        Conv2D((1, 5, 5), 2.5)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        Conv2D((1, 5, 5), 3, stride=0)
    with pytest.raises(ValueError, match="exceeds the padded image"):
        Conv2D((1, 5, 5), 6)
    with pytest.raises(ValueError, match="pool=4 exceeds the convolution's output map"):
        Conv2D((1, 5, 5), 3, pool=4)
    with pytest.raises(TypeError, match="pool must be None, an int >= 1 or 'global'"):
        Conv2D((1, 5, 5), 3, pool="max")
    assert Conv2D((5, 5), 3).image_shape == (1, 5, 5)


@pytest.mark.parametrize("name", list(ARCHS))
def test_patches_equal_explicit_operator_and_loops(name):
    arch = ARCHS[name]
    X = _data(arch, n=4)
    patches = arch.patches(X)
    E = arch.patch_operator()
    assert E.shape == (arch.n_patches * arch.filter_size, arch.n_inputs)
    np.testing.assert_array_equal(patches, (E @ X.T).T.reshape(4, arch.n_patches, arch.filter_size))
    # loops: one filter equal to a unit vector reads one entry of each patch
    U = np.eye(arch.filter_size)
    direct = _direct_group_activations(Conv2D(arch.image_shape, arch.kernel_size, arch.stride, arch.padding),
                                       X, U, (0.0, 1.0, 0.0))
    np.testing.assert_allclose(direct[:, :, :], patches, atol=1e-12)


def test_groups_of_pooling_windows():
    arch = Conv2D((1, 5, 5), 2, pool=2)  # 4x4 output map, 2x2 windows
    np.testing.assert_array_equal(arch.groups()[0], [0, 1, 4, 5])
    np.testing.assert_array_equal(arch.groups()[3], [10, 11, 14, 15])
    assert Conv2D((1, 6, 6), 2, pool=2).groups().shape == (4, 4)  # 5x5 map: remainder dropped
    assert Conv2D((1, 6, 6), 2, pool="global").groups().shape == (1, 25)


@pytest.mark.parametrize("name", list(ARCHS))
def test_lift_reproduces_group_moments(name):
    arch = ARCHS[name]
    X = _data(arch, n=5)
    lift = arch.lift(X)
    grouped = arch.patches(X)[:, arch.groups()]  # (n, G, P, f)
    M = np.einsum("ngpf,ngpe->ngfe", grouped, grouped) / grouped.shape[2]
    np.testing.assert_allclose(np.einsum("ngrf,ngre->ngfe", lift.R, lift.R), M, atol=1e-12)
    np.testing.assert_allclose(lift.mean, grouped.mean(axis=2), atol=1e-14)


@pytest.mark.parametrize("name", list(ARCHS))
def test_grouped_products_match_independent_formulas(name):
    arch = ARCHS[name]
    X = _data(arch, n=12)
    rng = np.random.default_rng(1)
    prob = Problem(X, rng.standard_normal((12, 2)), ACT, "squared", 0.1, architecture=arch)
    U = rng.standard_normal((3, arch.filter_size))
    A = rng.standard_normal((3, prob.n_pairs))
    H, Phi = prob.hidden(U)
    np.testing.assert_allclose(Phi, _direct_group_activations(arch, X, U, ACT), rtol=1e-12, atol=1e-12)
    net = prob.make_network(U / np.linalg.norm(U, axis=1, keepdims=True), A)
    assert net.second_layer.shape == (3, prob.n_groups, 2)
    direct = np.einsum("ngm,mgk->nk", _direct_group_activations(arch, X, net.first_layer, ACT),
                       net.second_layer)
    np.testing.assert_allclose(prob.outputs(net), direct, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(net.predict(X), direct, rtol=1e-12, atol=1e-12)
    # the lifted map and its adjoint: <forward(M), V> = sum_p <M_p, adjoint(V)_p>
    f = arch.filter_size
    Ms = rng.standard_normal((prob.n_pairs, f + 1, f + 1))
    Ms = Ms + Ms.transpose(0, 2, 1)
    V = rng.standard_normal((12, 2))
    np.testing.assert_allclose(np.sum(prob.forward(Ms) * V), np.sum(Ms * prob.adjoint(V)), rtol=1e-10)
    # forward of rank-one pairs = the network with those neurons
    u = net.first_layer[0]
    z = np.append(u, 1.0)
    Mr = np.zeros_like(Ms)
    Mr[1] = np.outer(z, z)
    single = prob.make_network(u[None], np.eye(prob.n_pairs)[1][None])
    np.testing.assert_allclose(prob.forward(Mr), prob.outputs(single), rtol=1e-10, atol=1e-12)
    # the lifted features of the CVXPY model
    F = prob.group_lifted_features()
    S = np.stack([[svec(Ms[g * 2 + k]) for k in range(2)] for g in range(prob.n_groups)])  # (G, C, p)
    np.testing.assert_allclose(np.einsum("gnp,gkp->nk", F, S), prob.forward(Ms), rtol=1e-10)


@pytest.mark.parametrize("name", ["patches", "pool2", "global"])
def test_first_layer_gradient_by_finite_differences(name):
    arch = ARCHS[name]
    rng = np.random.default_rng(2)
    prob = Problem(_data(arch, n=10), np.sign(rng.standard_normal(10)), ACT, "logistic", 0.3, architecture=arch)
    W = rng.standard_normal((2, arch.filter_size))
    A = rng.standard_normal((2, prob.n_pairs))
    S = np.sign(A)
    _, dW, dA = _objective_and_gradient(prob, W, A, S)
    E = rng.standard_normal(W.shape)
    h = 1e-6
    fd = (_objective_and_gradient(prob, W + h * E, A, S)[0]
          - _objective_and_gradient(prob, W - h * E, A, S)[0]) / (2 * h)
    assert fd == pytest.approx(np.sum(dW * E), rel=1e-6)
    E = rng.standard_normal(A.shape)
    fd = (_objective_and_gradient(prob, W, A + h * E, S)[0]
          - _objective_and_gradient(prob, W, A - h * E, S)[0]) / (2 * h)
    assert fd == pytest.approx(np.sum(dA * E), rel=1e-6)


# -- the convex program -----------------------------------------------------------
@pytest.mark.parametrize("name", list(ARCHS))
@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_convex_optimum_equals_extracted_network(name, loss):
    arch = ARCHS[name]
    X = _data(arch, n=30)
    rng = np.random.default_rng(3)
    y = rng.standard_normal(30) if loss == "squared" else np.sign(rng.standard_normal(30))
    prob = Problem(X, y, ACT, loss, 0.1, architecture=arch)
    ref = get_solver("clarabel", prob).solve(prob, tol=1e-8)
    assert ref.status == "optimal" and ref.gap <= 1e-6
    # convex optimum (21) = objective (P) of the extracted network
    assert ref.network_objective == pytest.approx(ref.objective, rel=1e-6)
    assert ref.network.architecture == arch
    assert 0 < ref.n_neurons <= prob.max_neurons()
    # each extracted filter feeds one pair
    assert np.all(np.count_nonzero(ref.network.second_layer_2d, axis=1) == 1)
    nat = get_solver("native", prob).solve(prob, tol=1e-6)
    assert nat.gap <= 1e-6
    assert nat.objective == pytest.approx(ref.objective, rel=2e-6)
    for result in (ref, nat):  # m* per pair (filter group x output) within the bound 2(f+1)
        assert np.all(np.count_nonzero(result.network.second_layer_2d, axis=0) <= 2 * (prob.n_features + 1))
        assert result.n_neurons <= prob.max_neurons()
    # local search on (P) from random starts never goes below the certified bound
    for seed in range(2):
        r = np.random.default_rng(seed)
        U = r.standard_normal((6, arch.filter_size))
        start = prob.make_network(U / np.linalg.norm(U, axis=1, keepdims=True),
                                  0.1 * r.standard_normal((6, prob.n_pairs)))
        local = polish(prob, start)
        assert prob.objective(local) >= ref.lower_bound * (1 - 1e-9)


def test_vector_output_cnn_softmax():
    arch = ARCHS["pool2"]
    X = _data(arch, n=36)
    y = np.arange(36) % 3
    prob = Problem(X, y, ACT, "softmax", 0.05, architecture=arch)
    assert prob.n_pairs == prob.n_groups * 3
    ref = get_solver("clarabel", prob).solve(prob, tol=1e-8)
    nat = get_solver("native", prob).solve(prob, tol=1e-6)
    assert ref.gap <= 1e-6 and nat.gap <= 1e-6
    assert ref.network_objective == pytest.approx(ref.objective, rel=1e-6)
    assert nat.objective == pytest.approx(ref.objective, rel=2e-6)
    assert ref.network.second_layer.shape[1:] == (prob.n_groups, 3)


@pytest.mark.parametrize("name", ["patches", "global"])
def test_beta_max_and_certificate_cover_the_architecture(name):
    arch = ARCHS[name]
    X = _data(arch, n=20)
    y = np.random.default_rng(4).standard_normal(20)
    bm = beta_max(X, y, ACT, "squared", architecture=arch)
    prob = Problem(X, y, ACT, "squared", 1.001 * bm, architecture=arch)
    res = get_solver("native", prob).solve(prob)
    assert res.n_neurons == 0 and res.gap <= 1e-6
    below = get_solver("native", prob.with_beta(0.9 * bm)).solve(prob.with_beta(0.9 * bm))
    assert below.n_neurons > 0 and below.objective < res.objective
    # certify() takes a CNN network and images
    cert = certify(below.network, X.reshape((-1,) + arch.image_shape), y, "squared", 0.9 * bm)
    assert cert.gap <= 1e-6 and cert.objective == pytest.approx(below.network_objective, rel=1e-12)


def test_solvers_refuse_what_they_cannot_do():
    arch = ARCHS["global"]
    prob = Problem(_data(arch), np.ones(30), ACT, "squared", 0.1, architecture=arch)
    from spectranet.solvers import ipm
    assert not ipm.supports(prob)
    with pytest.raises(ValueError, match="the dense lift"):
        prob.lifted_features()
    with pytest.raises(ValueError, match="X has 10 features but Conv2D"):
        Problem(np.ones((4, 10)), np.ones(4), ACT, "squared", 0.1, architecture=arch)
    with pytest.raises(TypeError, match="architecture must be None"):
        Problem(np.ones((4, 36)), np.ones(4), ACT, "squared", 0.1, architecture="conv")


# -- networks and estimators ---------------------------------------------------------
def test_cnn_network_save_load_and_shapes(tmp_path):
    arch = ARCHS["pool2"]
    rng = np.random.default_rng(5)
    U = rng.standard_normal((3, arch.filter_size))
    net = PolyNetwork(U / np.linalg.norm(U, axis=1, keepdims=True), rng.standard_normal((3, 4)), ACT, arch)
    assert (net.n_groups, net.n_outputs, net.scalar_output, net.n_inputs) == (4, 1, True, 36)
    X = _data(arch, n=3)
    assert net.predict(X).shape == (3,)
    np.testing.assert_array_equal(net.predict(X.reshape(3, 1, 6, 6)), net.predict(X))
    net.save(tmp_path / "cnn.npz")
    back = PolyNetwork.load(tmp_path / "cnn.npz")
    assert back.architecture == arch
    np.testing.assert_array_equal(back.predict(X), net.predict(X))
    assert architecture_from_dict(arch.to_dict()) == arch and architecture_from_dict({"type": "dense"}) == Dense()
    with pytest.raises(ValueError, match=r"second_layer must have shape \(n_neurons, 4\)"):
        PolyNetwork(U, np.ones((3, 5)), ACT, arch)
    with pytest.raises(ValueError, match="filters of length C\\*kh\\*kw = 9"):
        PolyNetwork(np.ones((3, 4)), np.ones((3, 4)), ACT, arch)
    with pytest.raises(ValueError, match=r"images must have shape \(N, 1, 6, 6\)"):
        net.predict(np.ones((2, 1, 5, 5)))


def test_torch_export_of_cnn_matches_predict():
    torch = pytest.importorskip("torch")
    for arch in (ARCHS["patches"], ARCHS["strided"], ARCHS["pool2"], ARCHS["global"], ARCHS["pool_moments"]):
        rng = np.random.default_rng(6)
        U = rng.standard_normal((4, arch.filter_size))
        for shape in ((4, arch.n_groups()), (4, arch.n_groups(), 3)):
            net = PolyNetwork(U / np.linalg.norm(U, axis=1, keepdims=True), rng.standard_normal(shape), ACT, arch)
            X = _data(arch, n=7)
            module = net.to_torch()
            with torch.no_grad():
                out = module(torch.as_tensor(X.reshape((7,) + arch.image_shape))).numpy()
            np.testing.assert_allclose(out, net.predict(X), rtol=1e-6, atol=1e-9)


def test_estimators_fit_cnn_on_images():
    arch = Conv2D((1, 6, 6), 3, pool="global")
    X = _data(arch, n=40)
    rng = np.random.default_rng(7)
    y = (X.reshape(40, 6, 6)[:, 2:4, 2:4].sum(axis=(1, 2)) > 0).astype(int)
    clf = ConvexPolyNetClassifier(activation=ACT, beta=0.5, architecture=arch).fit(X.reshape(40, 1, 6, 6), y)
    assert clf.n_features_in_ == 36 and clf.gap_ <= 1e-6
    assert clf.network_.architecture == arch
    np.testing.assert_array_equal(clf.predict(X), clf.predict(X.reshape(40, 1, 6, 6)))
    assert clf.score(X, y) > 0.7
    reg = ConvexPolyNetRegressor(activation=ACT, beta=0.5, architecture=arch).fit(X, rng.standard_normal((40, 2)))
    assert reg.predict(X).shape == (40, 2) and reg.gap_ <= 1e-6
    with pytest.raises(ValueError, match="regularization='cubic' is derived for the dense architecture"):
        ConvexPolyNetRegressor(activation="square", regularization="cubic", architecture=arch).fit(X, y)
    with pytest.raises(ValueError, match="X has 35 features but Conv2D"):
        ConvexPolyNetRegressor(architecture=arch).fit(X[:, :35], y)


def test_grouped_data_refuses_devices_and_tensors():
    arch = ARCHS["global"]
    X, y = _data(arch, n=6), np.ones(6)
    with pytest.raises(ValueError, match=r"runs on in-memory numpy data on the host; got device='cpu'"):
        Problem(X, y, ACT, "squared", 0.1, architecture=arch, device="cpu")
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="runs on in-memory numpy data on the host; got a torch tensor"):
        Problem(torch.as_tensor(X), y, ACT, "squared", 0.1, architecture=arch)
