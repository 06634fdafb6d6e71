"""The backprop baseline: objective definitions, training against the convex optimum, API."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from spectranet import ConvergenceWarning, ConvexPolyNetRegressor, PolyActivation, PolyNetwork, Problem
from spectranet.baseline import (
    C0,
    BackpropPolyNetClassifier,
    BackpropPolyNetRegressor,
    BackpropReLUClassifier,
    formulation_objective,
)
from spectranet.losses import get_loss
from spectranet.lr_search import lr_grid_search

from ._data import planted

torch = pytest.importorskip("torch")

BETA = 1e-2
RNG = np.random.default_rng(0)


@pytest.fixture(scope="module")
def data():
    X, y, _ = planted(n=60, d=4)
    return X, y


@pytest.fixture(scope="module")
def convex(data):
    return ConvexPolyNetRegressor(beta=BETA, solver="clarabel").fit(*data)


@pytest.fixture(scope="module")
def square_data():
    X, y, _ = planted(n=60, d=4, activation="square")
    return X, y


@pytest.fixture(scope="module")
def square_convex(square_data):
    return ConvexPolyNetRegressor(activation="square", beta=BETA, solver="clarabel").fit(*square_data)


def _classes(X, k):
    return np.array(["a", "b", "c"])[:k][np.minimum((X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5), k - 1)]


# -- objective definitions ------------------------------------------------------------


@pytest.mark.parametrize("loss,C", [("squared", 1), ("huber", 2), ("logistic", 1), ("softmax", 3)])
def test_l1_objective_equals_problem_objective(loss, C):
    loss = get_loss(loss)
    X = RNG.standard_normal((15, 3))
    W, A = 3.0 * RNG.standard_normal((4, 3)), RNG.standard_normal((4, C))
    if loss.name == "softmax":
        Y = np.eye(C)[RNG.integers(0, C, 15)]
    elif loss.margin:
        Y = RNG.choice([-1.0, 1.0], (15, C))
    else:
        Y = RNG.standard_normal((15, C))
    act = PolyActivation.from_name("swish")
    value = formulation_objective(X, Y, W, A, activation=act, loss=loss, beta=0.3)
    U = W / np.linalg.norm(W, axis=1, keepdims=True)
    expected = Problem(X, Y, act, loss, 0.3).objective(PolyNetwork(U, A, act))
    assert isinstance(value, float) and value == pytest.approx(expected, rel=1e-12)
    t = [torch.as_tensor(a) for a in (X, Y, W, A)]
    tv = formulation_objective(*t, activation=act, loss=loss, beta=0.3)
    assert float(tv) == pytest.approx(value, rel=1e-12)


def test_weight_decay_and_cubic_definitions():
    loss = get_loss("squared")
    X, Y = RNG.standard_normal((12, 3)), RNG.standard_normal((12, 2))
    W, A = RNG.standard_normal((5, 3)), RNG.standard_normal((5, 2))
    act = PolyActivation.from_name("relu")
    wd = formulation_objective(X, Y, W, A, activation=act, loss=loss, beta=0.2, formulation="weight_decay")
    out = (0.09 * (X @ W.T) ** 2 + 0.5 * (X @ W.T) + 0.47) @ A
    assert wd == pytest.approx(0.5 * np.sum((out - Y) ** 2) + 0.1 * (np.sum(W**2) + np.sum(A**2)), rel=1e-12)
    sq = PolyActivation(1.0, 0.0, 0.0)
    cubic = formulation_objective(X, Y, W, A, activation=sq, loss=loss, beta=0.2, formulation="cubic")
    pen = np.sum(np.linalg.norm(W, axis=1) ** 3) + np.sum(np.sum(np.abs(A), axis=1) ** 3)
    assert cubic == pytest.approx(0.5 * np.sum(((X @ W.T) ** 2 @ A - Y) ** 2) + 0.2 / C0 * pen, rel=1e-12)
    assert C0 == pytest.approx(1.8898815748, rel=1e-10)
    # one definition with the convex side's cubic objective (spectranet.cubic)
    from spectranet.cubic import cubic_objective
    assert cubic == pytest.approx(cubic_objective(X, Y, loss, 0.2, W, A), rel=1e-12)


def test_cubic_at_balanced_weights_equals_problem_p():
    """NOTES.md: u = 2^(1/9)|a|^(1/3) q, alpha = sign(a) 2^(-2/9)|a|^(1/3) gives (P)'s objective."""
    X, y = RNG.standard_normal((10, 3)), RNG.standard_normal((10, 1))
    Q = np.linalg.qr(RNG.standard_normal((3, 3)))[0].T
    lam = np.array([1.5, -0.4, 0.2])
    W = 2 ** (1 / 9) * np.abs(lam)[:, None] ** (1 / 3) * Q
    A = (np.sign(lam) * 2 ** (-2 / 9) * np.abs(lam) ** (1 / 3))[:, None]
    cubic = formulation_objective(X, y, W, A, activation=PolyActivation(1, 0, 0),
                                  loss=get_loss("squared"), beta=0.7, formulation="cubic")
    p = Problem(X, y, "square", "squared", 0.7).objective(PolyNetwork(Q, lam, "square"))
    assert cubic == pytest.approx(p, rel=1e-12)


# -- training against the convex optimum ------------------------------------------------


def test_l1_baseline_objective_is_problem_objective_and_above_the_optimum(data, convex):
    X, y = data
    est = BackpropPolyNetRegressor(beta=BETA, lr=3e-2, max_epochs=60, random_state=0).fit(X, y)
    problem = Problem(X, y, "relu", "squared", BETA)
    assert est.objective_ == pytest.approx(problem.objective(est.network_), rel=1e-12)
    assert est.network_objective_ == pytest.approx(est.objective_, rel=1e-12)
    assert est.objective_ >= convex.objective_ - 1e-8
    assert est.objective_ >= convex.lower_bound_
    np.testing.assert_allclose(np.linalg.norm(est.network_.first_layer, axis=1), 1.0, rtol=1e-12)
    assert est.first_layer_.shape == (10, 4) and est.second_layer_.shape == (10, 1)
    assert est.network_.second_layer.shape == (10,) and est.predict(X).shape == (60,)
    assert len(est.loss_curve_) == est.n_iter_ + 1 == 61 and not est.diverged_
    times, epochs, values = zip(*est.loss_curve_)
    assert list(epochs) == list(range(61)) and all(np.diff(times) >= 0)
    assert values[-1] == pytest.approx(est.objective_, rel=1e-10) and values[-1] < values[0]
    assert est.fit_time_ == pytest.approx(times[-1])


def test_l1_baseline_started_at_the_optimum_stays_there(data, convex):
    X, y = data
    est = BackpropPolyNetRegressor(beta=BETA, lr=1e-6, batch_size=None, max_epochs=5,
                                   init=convex.network_).fit(X, y)
    assert est.n_neurons_ == convex.network_.n_neurons
    assert est.objective_ == pytest.approx(convex.network_objective_, rel=1e-6)
    assert est.objective_ == pytest.approx(convex.objective_, rel=1e-6)
    assert est.loss_curve_[0][2] == pytest.approx(convex.network_objective_, rel=1e-12)


def test_cubic_and_weight_decay_with_the_square_activation(square_data, square_convex):
    X, y = square_data
    cubic = BackpropPolyNetRegressor(activation="square", beta=BETA, formulation="cubic", lr=1e-6,
                                     batch_size=None, max_epochs=3, init=square_convex.network_).fit(X, y)
    assert cubic.loss_curve_[0][2] == pytest.approx(square_convex.network_objective_, rel=1e-10)
    assert cubic.objective_ == pytest.approx(square_convex.objective_, rel=1e-6)
    trained = BackpropPolyNetRegressor(activation="square", beta=BETA, formulation="cubic", lr=1e-2,
                                       max_epochs=30, random_state=0).fit(X, y)
    # AM-GM: the cubic penalty bounds the l1 penalty of the unit-norm network from above
    assert trained.network_objective_ <= trained.objective_ * (1 + 1e-12)
    assert trained.network_objective_ >= square_convex.objective_ - 1e-8
    wd = BackpropPolyNetRegressor(activation="square", beta=BETA, formulation="weight_decay",
                                  max_epochs=5, random_state=0).fit(X, y)
    np.testing.assert_allclose(np.linalg.norm(wd.network_.first_layer, axis=1), 1.0, rtol=1e-12)
    raw = (X @ wd.first_layer_.T) ** 2 @ wd.second_layer_
    np.testing.assert_allclose(wd.predict(X), raw[:, 0], rtol=1e-10, atol=1e-12)


def test_weight_decay_with_a_non_homogeneous_activation_keeps_raw_rows(data):
    X, y = data
    est = BackpropPolyNetRegressor(formulation="weight_decay", max_epochs=3, random_state=0).fit(X, y)
    np.testing.assert_array_equal(est.network_.first_layer, est.first_layer_)
    assert est.objective_ == pytest.approx(formulation_objective(
        X, y[:, None], est.first_layer_, est.second_layer_, activation=est.activation_,
        loss=get_loss("squared"), beta=BETA, formulation="weight_decay"), rel=1e-12)


def test_determinism_float32_and_validation_curve(data):
    X, y = data
    kw = dict(max_epochs=4, random_state=3)
    a = BackpropPolyNetRegressor(**kw).fit(X, y)
    b = BackpropPolyNetRegressor(**kw).fit(X, y)
    np.testing.assert_array_equal(a.first_layer_, b.first_layer_)
    assert [v for *_, v in a.loss_curve_] == [v for *_, v in b.loss_curve_]
    c = BackpropPolyNetRegressor(max_epochs=4, random_state=4).fit(X, y)
    assert not np.array_equal(a.first_layer_, c.first_layer_)
    f32 = BackpropPolyNetRegressor(dtype="float32", **kw)
    f32.fit(X[:40], y[:40], validation_data=(X[40:], y[40:]))
    assert f32.first_layer_.dtype == np.float64 and len(f32.validation_curve_) == 5
    assert f32.objective_ == pytest.approx(f32.loss_curve_[-1][2], rel=1e-5)
    assert f32.validation_curve_[0][2] > 0


# -- classifiers ----------------------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 3])
def test_classifier_predicts_labels(data, k):
    X, _ = data
    labels = _classes(X, k)
    clf = BackpropPolyNetClassifier(beta=BETA, max_epochs=20, random_state=0)
    clf.fit(X, labels, validation_data=(X[:10], labels[:10]))
    pred = clf.predict(X)
    assert pred.dtype == labels.dtype and set(pred) <= set(labels)
    assert clf.score(X, labels) > 0.7
    assert clf.loss_.name == ("logistic" if k == 2 else "softmax")
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)
    assert clf.decision_function(X).shape == ((60,) if k == 2 else (60, 3))
    assert len(clf.validation_curve_) == 21
    hinge = BackpropPolyNetClassifier(loss="hinge", max_epochs=3, random_state=0).fit(X, labels)
    assert not hasattr(hinge, "predict_proba")
    problem = Problem(X, hinge._encode(labels, hinge.loss_), "relu", "hinge", BETA)
    assert hinge.objective_ == pytest.approx(problem.objective(hinge.network_), rel=1e-12)


def test_relu_classifier(data):
    X, _ = data
    labels = _classes(X, 3)
    clf = BackpropReLUClassifier(beta=BETA, max_epochs=20, random_state=0).fit(X, labels)
    assert not hasattr(clf, "network_") and "activation" not in clf.get_params()
    assert set(clf.predict(X)) <= set(labels) and clf.score(X, labels) > 0.7
    H = np.maximum(X @ clf.first_layer_.T, 0.0)
    Y = np.eye(3)[np.searchsorted(clf.classes_, labels)]
    expected = get_loss("softmax").value(H @ clf.second_layer_, Y) + BETA / 2 * (
        np.sum(clf.first_layer_**2) + np.sum(clf.second_layer_**2))
    assert clf.objective_ == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(clf.decision_function(X), H @ clf.second_layer_)


# -- parameters, divergence, grid search -----------------------------------------------------


@pytest.mark.parametrize("param,value", [
    ("formulation", "l2"), ("optimizer", "rmsprop"), ("lr", 0.0), ("lr", float("nan")),
    ("n_neurons", 0), ("batch_size", 1.5), ("max_epochs", 0), ("beta", -1.0), ("beta", "big"),
    ("dtype", "float16"), ("device", "tpu"), ("activation", "tanh"), ("init", "net"), ("loss", "hinge"),
])
def test_bad_parameters_raise_value_error_naming_them(data, param, value):
    with pytest.raises(ValueError, match=param):
        BackpropPolyNetRegressor(**{"max_epochs": 1, param: value}).fit(*data)


def test_cubic_needs_the_square_activation_and_init_must_match(data, convex):
    with pytest.raises(ValueError, match="formulation='cubic' needs the square activation"):
        BackpropPolyNetRegressor(formulation="cubic", max_epochs=1).fit(*data)
    with pytest.raises(ValueError, match="init activation"):
        BackpropPolyNetRegressor(activation="swish", init=convex.network_, max_epochs=1).fit(*data)
    with pytest.raises(ValueError, match="n_neurons"):
        BackpropPolyNetRegressor(n_neurons=50, init=convex.network_, max_epochs=1).fit(*data)


def test_divergence_warns_and_keeps_finite_weights(data):
    X, y = data  # (lr=1e4 stops at a finite 1e57, past DIVERGENCE_FACTOR; lr=1e30 overflows to inf)
    est = BackpropPolyNetRegressor(lr=1e30, max_epochs=50, random_state=0)
    with pytest.warns(ConvergenceWarning, match="diverged"):
        est.fit(X, y)
    assert est.diverged_ and est.n_iter_ < 50
    assert not np.isfinite(est.loss_curve_[-1][2])
    assert np.isfinite(est.objective_) and np.all(np.isfinite(est.predict(X)))
    assert est.objective_ == pytest.approx(min(v for *_, v in est.loss_curve_ if np.isfinite(v)))


def _quadratic_data():
    rng = np.random.default_rng(18)
    X = rng.standard_normal((80, 3))
    return X, X[:, 0] ** 2 - X[:, 1]


@pytest.mark.parametrize("lr,max_epochs,best_epoch", [(10.0, 5, 0), (0.5, 30, 4)])
def test_finite_explosion_counts_as_divergence_and_keeps_the_best_epoch(lr, max_epochs, best_epoch):
    """An objective that explodes by more than DIVERGENCE_FACTOR but stays finite (1e27 after one
    epoch at lr=10; at lr=0.5 it first descends to epoch 4, then climbs to 1e9) is divergence: it
    stops there, warns naming lr, and keeps the weights of the epoch with the lowest objective."""
    from spectranet._torch import DIVERGENCE_FACTOR

    X, y = _quadratic_data()
    est = BackpropPolyNetRegressor(lr=lr, max_epochs=max_epochs, random_state=0)
    with pytest.warns(ConvergenceWarning, match=rf"lr={lr!r}: .*smaller learning rate, e\.g\. lr={lr / 10:g}"):
        est.fit(X, y)
    values = [v for *_, v in est.loss_curve_]
    assert est.diverged_ and est.n_iter_ < max_epochs and len(values) == est.n_iter_ + 1
    assert np.isfinite(values[-1]) and values[-1] > DIVERGENCE_FACTOR * values[0]  # caught before overflow
    assert max(values[:-1]) <= DIVERGENCE_FACTOR * values[0]  # ... at the first epoch past the factor
    assert int(np.argmin(values)) == best_epoch
    assert est.objective_ == pytest.approx(min(values), rel=1e-12)
    assert est.objective_ <= values[0]  # never worse than the initial network
    prediction = est.predict(X)
    assert np.all(np.isfinite(prediction)) and np.abs(prediction).max() < 10 * np.abs(y).max()


def test_divergence_rule_and_recovering_transients_are_not_divergence(data):
    """``diverging``: NaN, inf, or above DIVERGENCE_FACTOR times a positive start. A run whose
    objective spikes (Adam at lr=30: over 1e3 times the start) and comes back is not divergence:
    no warning, and the fitted weights are the last epoch's, as for any run that does not diverge."""
    from spectranet._torch import DIVERGENCE_FACTOR, diverging

    assert diverging(float("nan"), 1.0) and diverging(float("inf"), 1.0)
    assert diverging(2.0 * DIVERGENCE_FACTOR * 1.01, 2.0) and not diverging(2.0 * DIVERGENCE_FACTOR, 2.0)
    assert not diverging(1e300, 0.0)  # a zero start: only a non-finite objective counts
    X, y = data
    est = BackpropPolyNetRegressor(optimizer="adam", lr=30.0, max_epochs=30, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.fit(X, y)
    values = [v for *_, v in est.loss_curve_]
    assert not est.diverged_ and est.n_iter_ == 30 and max(values) > 1e3 * values[0] > 1e3 * values[-1]
    assert est.objective_ == pytest.approx(values[-1], rel=1e-12) and values[-1] > min(values)


def test_lr_grid_search(data):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # the search silences its own warnings
        rows, best = lr_grid_search(BackpropPolyNetRegressor(max_epochs=5), X, y, [1e-3, 3e-2, 1e6],
                                    seeds=(0, 1), validation_data=(X[:10], y[:10]))
    assert len(rows) == 12
    assert set(rows[0]) >= {"optimizer", "lr", "seed", "train_objective", "time_s", "diverged",
                            "validation_objective"}
    assert any(r["diverged"] for r in rows if r["optimizer"] == "sgd" and r["lr"] == 1e6)
    assert best["sgd"] == 3e-2 and best["adam"] in (1e-3, 3e-2, 1e6)


def test_import_does_not_import_torch():
    code = "import sys, spectranet.baseline; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@parametrize_with_checks(
    [BackpropPolyNetRegressor(max_epochs=5, random_state=0),
     BackpropPolyNetClassifier(max_epochs=5, random_state=0),
     BackpropReLUClassifier(max_epochs=5, random_state=0)],
    # minibatch descent: a weighted sample is one row of a batch, its repetitions several rows of
    # several batches, so the iterates differ (scikit-learn's SGD estimators fail it alike); the
    # weighted objective itself is checked below (test_weighted_minibatches_descend_the_weighted_objective)
    expected_failed_checks=lambda est: {"check_sample_weight_equivalence_on_dense_data":
                                        "minibatch descent: weighted and repeated samples give other batches"},
)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


# -- convolutional architectures ---------------------------------------------------------------

from spectranet import Conv2D, ConvexPolyNetClassifier  # noqa: E402

CNN_ARCHS = {
    "patches": Conv2D((1, 5, 5), 3),  # no pooling: G = 9 patches
    "pool2": Conv2D((1, 6, 6), 3, pool=2),  # 2x2 windows of the 4x4 map: G = 4
    "global": Conv2D((2, 5, 5), 3, padding=1, pool="global"),  # G = 1, f = 18
}


def _images(arch, n=40, outputs=None, seed=0):
    """Random images ``(n, C, H, W)`` and targets of a planted CNN plus noise."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n,) + arch.image_shape)
    U = rng.standard_normal((3, arch.filter_size))
    shape = (3, arch.n_groups()) + (() if outputs is None else (outputs,))
    net = PolyNetwork(U / np.linalg.norm(U, axis=1, keepdims=True), rng.standard_normal(shape), "relu", arch)
    y = net.predict(X)
    return X, y + 0.1 * rng.standard_normal(y.shape)


@pytest.mark.parametrize("name", list(CNN_ARCHS))
def test_cnn_l1_objective_is_problem_objective(name):
    arch = CNN_ARCHS[name]
    X, y = _images(arch)
    est = BackpropPolyNetRegressor(beta=0.1, lr=1e-3, max_epochs=3, random_state=0, architecture=arch).fit(X, y)
    problem = Problem(X, y, "relu", "squared", 0.1, architecture=arch)
    assert est.objective_ == pytest.approx(problem.objective(est.network_), rel=1e-10)
    assert est.network_objective_ == pytest.approx(est.objective_, rel=1e-10)
    assert est.loss_curve_[-1][2] == pytest.approx(est.objective_, rel=1e-10)
    net, G, f = est.network_, arch.n_groups(), arch.filter_size
    assert net.architecture == arch and net.second_layer.shape == (est.n_neurons_, G)
    assert est.first_layer_.shape == (est.n_neurons_, f) and est.second_layer_.shape == (est.n_neurons_, G, 1)
    assert est.n_neurons_ == min(2 * (f + 1) * G, max(2 * (f + 1), 256))  # the documented default width
    np.testing.assert_allclose(np.linalg.norm(net.first_layer, axis=1), 1.0, rtol=1e-12)
    # rows (n, C*H*W) and images (N, C, H, W) are the same data
    np.testing.assert_array_equal(est.predict(X), est.predict(X.reshape(len(X), -1)))
    rows = BackpropPolyNetRegressor(beta=0.1, lr=1e-3, max_epochs=3, random_state=0, architecture=arch)
    np.testing.assert_array_equal(rows.fit(X.reshape(len(X), -1), y).first_layer_, est.first_layer_)
    # the torch formula of formulation_objective on numpy input, with raw (non-unit) filters
    W = 3.0 * est.first_layer_
    value = formulation_objective(X.reshape(len(X), -1), y[:, None], W, est.second_layer_, activation=est.activation_,
                                  loss=get_loss("squared"), beta=0.1, architecture=arch)
    assert value == pytest.approx(est.objective_, rel=1e-10)  # l1: the filters are normalized inside


@pytest.mark.parametrize("name", list(CNN_ARCHS))
def test_cnn_backprop_never_below_the_certified_optimum(name):
    arch = CNN_ARCHS[name]
    X, y = _images(arch, n=30, seed=1)
    labels = (y > np.median(y)).astype(int)
    for est_cls, convex_cls, target in ((BackpropPolyNetRegressor, ConvexPolyNetRegressor, y),
                                        (BackpropPolyNetClassifier, ConvexPolyNetClassifier, labels)):
        convex = convex_cls(beta=0.5, tol=1e-8, architecture=arch).fit(X, target)
        assert convex.gap_ <= 1e-8
        for optimizer, lr in (("sgd", 3e-3), ("adam", 1e-2)):
            est = est_cls(beta=0.5, optimizer=optimizer, lr=lr, max_epochs=30, random_state=0,
                          architecture=arch).fit(X, target)
            values = [v for *_, v in est.loss_curve_]
            assert not est.diverged_ and values[-1] < values[0]  # it trained ...
            assert est.objective_ >= convex.lower_bound_ * (1 - 1e-9)  # ... but not below the optimum
            assert est.objective_ >= convex.objective_ * (1 - 1e-7)
        # started at the convex optimum with a tiny step, it stays there (init of a CNN network)
        start = est_cls(beta=0.5, lr=1e-9, batch_size=None, max_epochs=2, init=convex.network_,
                        architecture=arch).fit(X, target)
        assert start.loss_curve_[0][2] == pytest.approx(convex.network_objective_, rel=1e-10)
        assert start.objective_ == pytest.approx(convex.objective_, rel=1e-6)


@pytest.mark.parametrize("name", list(CNN_ARCHS))
@pytest.mark.parametrize("outputs", [None, 3])
def test_cnn_torch_export_of_a_fitted_convex_network_matches_predict(name, outputs):
    arch = CNN_ARCHS[name]
    X, y = _images(arch, n=20, outputs=outputs, seed=2)
    convex = ConvexPolyNetRegressor(beta=2.0, architecture=arch).fit(X, y)
    net = convex.network_
    assert net.n_outputs == (outputs or 1) and net.n_neurons >= 1
    module = net.to_torch()
    with torch.no_grad():
        out = module(torch.as_tensor(X)).numpy()  # images (N, C, H, W), float64
        rows = module(torch.as_tensor(X.reshape(len(X), -1))).numpy()
    expected = convex.predict(X)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())
    np.testing.assert_array_equal(rows, out)


def test_cnn_torch_export_of_the_empty_network():
    arch = CNN_ARCHS["pool2"]
    for outputs, shape in ((None, (3,)), (2, (3, 2))):
        net = PolyNetwork.zero(arch.filter_size, "relu", outputs, arch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch: initializing zero-element tensors
            module = net.to_torch()
        with torch.no_grad():
            out = module(torch.ones((3,) + arch.image_shape, dtype=torch.float64)).numpy()
        np.testing.assert_array_equal(out, np.zeros(shape))


def test_cnn_weight_decay_and_vector_output():
    arch = CNN_ARCHS["pool2"]
    X, y = _images(arch, outputs=2, seed=3)
    wd = BackpropPolyNetRegressor(activation="square", beta=0.1, formulation="weight_decay", lr=1e-3,
                                  max_epochs=5, random_state=0, architecture=arch).fit(X, y)
    assert wd.second_layer_.shape == (wd.n_neurons_, 4, 2) and wd.predict(X).shape == (40, 2)
    np.testing.assert_allclose(np.linalg.norm(wd.network_.first_layer, axis=1), 1.0, rtol=1e-12)
    # the unit-norm network computes the raw weights' function: the library's numpy lift vs torch
    raw = PolyNetwork(wd.first_layer_, wd.second_layer_, "square", arch).predict(X)
    np.testing.assert_allclose(wd.predict(X), raw, rtol=1e-10, atol=1e-12)
    pen = 0.05 * (np.sum(wd.first_layer_**2) + np.sum(wd.second_layer_**2))
    assert wd.objective_ == pytest.approx(get_loss("squared").value(raw, y) + pen, rel=1e-10)
    labels = np.digitize(y[:, 0], np.quantile(y[:, 0], [1 / 3, 2 / 3]))
    clf = BackpropPolyNetClassifier(beta=0.1, lr=1e-2, optimizer="adam", max_epochs=5, random_state=0,
                                    architecture=arch).fit(X, labels)
    assert clf.loss_.name == "softmax" and clf.second_layer_.shape[1:] == (4, clf.classes_.size)
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)


def test_cnn_bad_parameters_raise_clear_errors():
    arch = CNN_ARCHS["global"]
    X, y = _images(arch, n=10)
    with pytest.raises(TypeError, match="architecture must be None"):
        BackpropPolyNetRegressor(architecture="conv", max_epochs=1).fit(X.reshape(10, -1), y)
    with pytest.raises(ValueError, match="C\\*H\\*W = 50"):
        BackpropPolyNetRegressor(architecture=arch, max_epochs=1).fit(X.reshape(10, -1)[:, :49], y)
    with pytest.raises(ValueError, match=r"images must have shape \(N, 2, 5, 5\)"):
        BackpropPolyNetRegressor(architecture=arch, max_epochs=1).fit(X[:, :1], y)
    with pytest.raises(ValueError, match="formulation='cubic' is derived for the dense architecture"):
        BackpropPolyNetRegressor(activation="square", formulation="cubic", architecture=arch,
                                 max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="formulation='cubic' is derived for the dense architecture"):
        formulation_objective(X.reshape(10, -1), y[:, None], np.ones((2, 18)), np.ones((2, 1, 1)),
                              activation=PolyActivation(1, 0, 0), loss=get_loss("squared"), beta=1.0,
                              formulation="cubic", architecture=arch)
    dense = PolyNetwork(np.eye(2, 50), np.ones(2), "relu")
    with pytest.raises(ValueError, match="init architecture Dense"):
        BackpropPolyNetRegressor(architecture=arch, init=dense, max_epochs=1).fit(X, y)
    other = PolyNetwork(np.eye(2, 18), np.ones((2, 1)), "relu", Conv2D((2, 5, 5), 3, padding=1, pool=5))
    with pytest.raises(ValueError, match="init architecture"):
        BackpropPolyNetRegressor(architecture=arch, init=other, max_epochs=1).fit(X, y)
    fitted = BackpropPolyNetRegressor(architecture=arch, max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="images must have shape"):
        fitted.predict(np.ones((3, 1, 5, 5)))


def test_weighted_minibatches_descend_the_weighted_objective():
    """With sample weights the baseline minimizes the weighted objective: full-batch descent with
    integer weights follows the repeated samples' objective (the same function, scaled the same),
    and objective_ is the weighted objective of the network it returns."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = X[:, 0] ** 2 - X[:, 1]
    reps = rng.integers(0, 3, 40)
    kw = dict(beta=1e-2, n_neurons=4, max_epochs=30, batch_size=None, lr=1e-3, random_state=0)
    a = BackpropPolyNetRegressor(**kw).fit(X, y, sample_weight=reps)
    b = BackpropPolyNetRegressor(**kw).fit(X.repeat(reps, axis=0), y.repeat(reps))
    np.testing.assert_allclose([v for _, _, v in a.loss_curve_], [v for _, _, v in b.loss_curve_], rtol=1e-9)
    assert a.objective_ == pytest.approx(a.network_.objective(X, y, beta=1e-2, sample_weight=reps), rel=1e-9)
    assert a.loss_ == get_loss("squared")


@pytest.mark.parametrize("empty", ["lrs", "optimizers", "seeds"])
def test_lr_grid_search_refuses_an_empty_grid(empty):
    """With no seeds it fitted nothing and still named a 'best' learning rate (the first)."""
    pytest.importorskip("torch")
    from spectranet import make_planted

    X, y = make_planted(20, 3, random_state=0)
    grid = {"lrs": [1e-3, 1e-2], "optimizers": ["sgd"], "seeds": [0], empty: []}
    lrs = grid.pop("lrs")
    with pytest.raises(ValueError, match=f"lr_grid_search needs at least one of {empty}, got none"):
        lr_grid_search(BackpropPolyNetRegressor(max_epochs=2), X, y, lrs, **grid)


@pytest.mark.parametrize("validation, error, message", [
    (lambda X, y: (X[:10], y[:5]), ValueError, "validation_data's X has 10 samples and its y 5: they must match"),
    (lambda X, y: (X[:10], 3.0), ValueError, "validation_data's X has 10 samples and its y a scalar"),
    (lambda X, y: (X[:10],), TypeError, r"validation_data must be a pair \(X, y\), got a tuple of 1"),
    (lambda X, y: "ab", TypeError, r"validation_data must be a pair \(X, y\), got str"),
])
@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_validation_data_must_match(validation, error, message, kind):
    """A mismatched validation pair failed inside numpy's reshape (regressor) or the encoder."""
    X = np.random.default_rng(0).standard_normal((30, 2))
    y = X[:, 0] if kind == "regressor" else X[:, 0] > 0
    est = BackpropPolyNetRegressor(max_epochs=2) if kind == "regressor" else BackpropPolyNetClassifier(max_epochs=2)
    with pytest.raises(error, match=message):
        est.fit(X, y, validation_data=validation(X, y))


def test_numeric_string_targets_are_read_as_numbers():
    """As by ConvexPolyNetRegressor (and scikit-learn's linear models); torch refused the strings."""
    X = np.random.default_rng(0).standard_normal((30, 2))
    y = X[:, 0] ** 2
    as_text = np.array([repr(float(v)) for v in y])
    fitted = BackpropPolyNetRegressor(max_epochs=3, random_state=0).fit(X, as_text)
    assert fitted.objective_ == BackpropPolyNetRegressor(max_epochs=3, random_state=0).fit(X, y).objective_
    with pytest.raises(TypeError, match="y must be numeric, got an array of dtype <U1"):
        BackpropPolyNetRegressor(max_epochs=3).fit(X, np.array(["a"] * 30))
