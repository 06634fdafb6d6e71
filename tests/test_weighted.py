"""Sample weights: a weighted loss is the loss of the samples repeated (integer weights), on every
layer: the loss's formulas, the problem, every engine and backend, the certificate and the
estimators."""

import warnings

import numpy as np
import pytest
from sklearn.utils.estimator_checks import check_sample_weight_equivalence_on_dense_data

from spectranet import (
    ConvexPolyNetClassifier,
    ConvexPolyNetRegressor,
    Problem,
    beta_max,
    certify,
    get_solver,
    regularization_path,
)
from spectranet.losses import LOSSES, HuberLoss, get_loss
from spectranet.solvers.native import NativeSolver
from spectranet.weighted import WeightedLoss

from ._data import planted

RNG = np.random.default_rng(7)
W_INT = RNG.integers(0, 4, 60)  # integer weights, zeros included


def _targets(name, n, C=1, seed=0):
    rng = np.random.default_rng(seed)
    loss = get_loss(name)
    if loss.multi_output_only:
        return np.eye(3)[rng.integers(0, 3, n)]
    if loss.margin:
        return np.sign(rng.standard_normal((n, C)))
    return rng.standard_normal((n, C))


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_weighted_formulas_are_those_of_repeated_samples(name):
    """Value, gradient, dual, projection, dual box and kinks of integer weights are those of the
    samples repeated (the dual point of a repeated sample split among its copies)."""
    base = get_loss(name)
    w = np.array([1.0, 2.0, 3.0, 1.0, 2.0])
    Y = _targets(name, 5)
    Yhat = np.random.default_rng(1).standard_normal(Y.shape)
    loss = WeightedLoss(base, w)
    reps = w.astype(int)
    Yr, Yhat_r = Y.repeat(reps, axis=0), Yhat.repeat(reps, axis=0)
    assert loss.value(Yhat, Y) == pytest.approx(base.value(Yhat_r, Yr), rel=1e-14)
    np.testing.assert_allclose(loss.sample_values(Yhat, Y), w * base.sample_values(Yhat, Y), rtol=1e-14)
    G = loss.gradient(Yhat, Y)
    np.testing.assert_allclose(G, np.add.reduceat(base.gradient(Yhat_r, Yr), np.r_[0, np.cumsum(reps)[:-1]]),
                               rtol=1e-14)
    V = loss.project_dual(-G, Y)
    np.testing.assert_allclose(V, -G, atol=1e-15)  # the gradient is in the domain
    Vr = (V / w[:, None]).repeat(reps, axis=0)
    assert loss.dual_value(V, Y) == pytest.approx(base.dual_value(Vr, Yr), rel=1e-12)
    if base.smooth:  # weak duality, tight at the gradient
        assert loss.dual_value(V, Y) == pytest.approx(loss.value(Yhat, Y) + np.sum(V * Yhat), rel=1e-10)
    np.testing.assert_allclose(loss.dual_values(V, Y, [0.5, 1.0]), [loss.dual_value(t * V, Y) for t in (0.5, 1.0)])
    if name != "squared":  # (whose domain is everything) a step of 10 w leaves the weighted domain
        assert loss.dual_value(V + 10.0 * w[:, None], Y) == -np.inf
        assert base.dual_value(Vr + 10.0, Yr) == -np.inf
    box = loss.dual_box(Y)
    if box is not None:
        lo, hi, q = base.dual_box(Y)
        np.testing.assert_array_equal(box[0], w[:, None] * lo)
        np.testing.assert_array_equal(box[1], w[:, None] * hi)
        np.testing.assert_allclose(box[2], q / w[:, None] * np.ones(Y.shape) if q else 0.0)
    kinks = loss.kinks(Y)
    if kinks is not None:
        K = base.kinks(Y).kink(Yhat)
        np.testing.assert_array_equal(kinks.off_dual(K), w[:, None] * base.kinks(Y).off_dual(K))
        np.testing.assert_array_equal(kinks.scale, w[:, None] * base.kinks(Y).scale)
    assert (loss.name, loss.smooth, loss.quadratic) == (base.name, base.smooth, base.quadratic)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_per_sample_methods_sum_to_the_totals(name):
    """sample_values, sample_dual_values and sample_cvxpy of every built-in loss add up to value,
    dual_value and cvxpy; the generic defaults (row by row) give the same."""
    cp = pytest.importorskip("cvxpy")
    from spectranet.loss_base import Loss

    loss = get_loss(name)
    Y = _targets(name, 6)
    Yhat = np.random.default_rng(2).standard_normal(Y.shape)
    V = loss.project_dual(-loss.gradient(Yhat, Y), Y)
    assert np.sum(loss.sample_values(Yhat, Y)) == pytest.approx(loss.value(Yhat, Y), rel=1e-14)
    assert np.sum(loss.sample_dual_values(V, Y)) == pytest.approx(loss.dual_value(V, Y), rel=1e-14)
    np.testing.assert_allclose(Loss.sample_values(loss, Yhat, Y), loss.sample_values(Yhat, Y), rtol=1e-14)
    np.testing.assert_allclose(Loss.sample_dual_values(loss, V, Y), loss.sample_dual_values(V, Y), rtol=1e-14)
    expr = loss.sample_cvxpy(cp.Constant(Yhat), Y)
    assert expr.shape == (6,)
    np.testing.assert_allclose(expr.value, loss.sample_values(Yhat, Y), rtol=1e-9)
    np.testing.assert_allclose(Loss.sample_cvxpy(loss, cp.Constant(Yhat), Y).value, expr.value, rtol=1e-9)


def test_weighted_loss_runs_on_torch_tensors():
    torch = pytest.importorskip("torch")
    loss = WeightedLoss(get_loss("logistic"), [1.0, 2.0, 0.5])
    Y = np.array([[1.0], [-1.0], [1.0]])
    Yhat = np.array([[0.3], [0.2], [-1.0]])
    Yt = torch.tensor(Yhat, requires_grad=True)
    value = loss.value(Yt, torch.tensor(Y))
    value.backward()
    assert value.item() == pytest.approx(loss.value(Yhat, Y), rel=1e-14)
    np.testing.assert_allclose(Yt.grad.numpy(), loss.gradient(Yhat, Y), rtol=1e-12)
    np.testing.assert_allclose(loss.gradient(torch.tensor(Yhat), torch.tensor(Y)).numpy(), loss.gradient(Yhat, Y))


def test_problem_drops_zero_weights_and_keeps_the_input():
    X, y, _ = planted()
    w = W_INT.astype(float)
    w_before, X_before = w.copy(), X.copy()
    p = Problem(X, y, sample_weight=w)
    keep = w > 0
    assert p.n_samples == keep.sum() and isinstance(p.loss, WeightedLoss)
    np.testing.assert_array_equal(p.X, X[keep])
    np.testing.assert_array_equal(p.sample_weight, w[keep])
    np.testing.assert_array_equal(w, w_before)
    np.testing.assert_array_equal(X, X_before)
    ones = Problem(X, y, sample_weight=np.ones(60))
    assert ones.sample_weight is None and not isinstance(ones.loss, WeightedLoss)
    scalar = Problem(X, y, sample_weight=2.0)
    np.testing.assert_array_equal(scalar.sample_weight, np.full(60, 2.0))
    assert Problem(X, y, loss=WeightedLoss(get_loss("squared"), np.full(60, 2.0))).sample_weight.shape == (60,)


@pytest.mark.parametrize("weights, error, match", [
    (np.ones(59), ValueError, r"sample_weight must have shape \(60,\) \(one weight per sample\), got \(59,\)"),
    (np.ones((60, 1)), ValueError, r"must have shape \(60,\)"),
    (np.r_[-1.0, np.ones(59)], ValueError, "sample_weight must be non-negative, got -1"),
    (np.r_[np.nan, np.ones(59)], ValueError, "sample_weight must be finite"),
    (np.r_[np.inf, np.ones(59)], ValueError, "sample_weight must be finite"),
    (np.zeros(60), ValueError, "sample_weight must have a positive sum"),
    (np.r_[1.0, np.zeros(59)], ValueError, "sample_weight leaves 1 sample of positive weight; at least 2 are required"),
    (np.full(60, 1e300), ValueError, r"sample_weight has weights up to 1e\+300, beyond the 1e\+60 the solvers can "
                                     "square without overflow; divide the weights and beta by the same factor"),
    ("ones", TypeError, "sample_weight must be an array-like of real numbers or a real number, got str"),
    (np.full(60, True), TypeError, "sample_weight must hold real numbers, got dtype bool"),
    (np.full(60, 1 + 1j), TypeError, "sample_weight must hold real numbers, got dtype complex128"),
])
def test_bad_weights_are_refused_by_name(weights, error, match):
    X, y, _ = planted()
    with pytest.raises(error, match=match):
        Problem(X, y, sample_weight=weights)
    with pytest.raises(error, match=match):
        ConvexPolyNetRegressor().fit(X, y, sample_weight=weights)


def test_weights_twice_and_weights_on_dask_are_refused():
    X, y, _ = planted()
    loss = WeightedLoss(get_loss("squared"), np.full(60, 2.0))
    with pytest.raises(ValueError, match="pass the weights once"):
        Problem(X, y, loss=loss, sample_weight=np.ones(60))
    with pytest.raises(ValueError, match="the WeightedLoss has 60 weights for 59 samples"):
        Problem(X[:59], y[:59], loss=loss)
    with pytest.raises(ValueError, match="positive finite weights"):
        WeightedLoss(get_loss("squared"), [1.0, 0.0])
    with pytest.raises(TypeError, match="not weighted already"):
        WeightedLoss(loss, np.ones(60))
    da = pytest.importorskip("dask.array")
    Xd, yd = da.from_array(X, chunks=(30, 4)), da.from_array(y, chunks=30)
    with pytest.raises(ValueError, match="sample weights need the data in memory"):
        Problem(Xd, yd, sample_weight=np.ones(60))
    with pytest.raises(ValueError, match="sample weights need the data in memory"):
        ConvexPolyNetRegressor().fit(Xd, yd, sample_weight=np.ones(60))


CASES = [("squared", e) for e in ("ipm", "lifted", "lowrank", "columns")] + [
    ("logistic", e) for e in ("ipm", "lifted", "columns")] + [
    ("softmax", e) for e in ("ipm", "lifted")] + [("huber", "ipm"), ("huber", "lifted"), ("absolute", "ipm"),
                                                  ("hinge", "ipm")]


@pytest.mark.parametrize("name, engine", CASES)
def test_every_engine_reaches_the_optimum_of_the_repeated_samples(name, engine):
    """Each engine's certified optimum with integer weights equals the optimum of the samples repeated."""
    X, _, _ = planted(seed=3)
    Y = _targets(name, 60, seed=3) if get_loss(name).margin or name == "softmax" else planted(seed=3)[1]
    reps = W_INT
    beta = 1e-3 * beta_max(X.repeat(reps, axis=0), Y.repeat(reps, axis=0), loss=name)
    weighted = Problem(X, Y, loss=name, beta=beta, sample_weight=reps)
    repeated = Problem(X.repeat(reps, axis=0), Y.repeat(reps, axis=0), loss=name, beta=beta)
    assert beta_max(weighted) == pytest.approx(beta / 1e-3, rel=1e-9)
    rw = NativeSolver(engine=engine).solve(weighted)
    rr = NativeSolver(engine=engine).solve(repeated)
    assert rw.status == rr.status == "optimal"
    assert rw.gap <= 1e-6 and rr.gap <= 1e-6
    assert rw.network_objective == pytest.approx(rr.network_objective, rel=3e-6)
    assert repeated.objective(rw.network) == pytest.approx(weighted.objective(rw.network), rel=1e-12)


@pytest.mark.parametrize("name", ["squared", "hinge", "softmax"])
def test_cvxpy_backend_takes_the_weights(name):
    pytest.importorskip("clarabel")
    X, _, _ = planted(n=30, d=3, seed=4)
    Y = _targets(name, 30, seed=4) if name != "squared" else planted(n=30, d=3, seed=4)[1]
    reps = W_INT[:30]
    weighted = Problem(X, Y, loss=name, beta=0.05, sample_weight=reps)
    repeated = Problem(X.repeat(reps, axis=0), Y.repeat(reps, axis=0), loss=name, beta=0.05)
    rw, rr = get_solver("clarabel").solve(weighted), get_solver("clarabel").solve(repeated)
    assert rw.gap <= 1e-6 and rr.gap <= 1e-6
    assert rw.network_objective == pytest.approx(rr.network_objective, rel=1e-6)


def test_fits_with_weights_are_fits_of_the_repeated_samples():
    X, y, _ = planted(seed=5)
    reps = W_INT
    est = ConvexPolyNetRegressor(beta=1e-2, loss=HuberLoss(0.5)).fit(X, y, sample_weight=reps)
    ref = ConvexPolyNetRegressor(beta=1e-2, loss=HuberLoss(0.5)).fit(X.repeat(reps, axis=0), y.repeat(reps))
    assert est.status_ == ref.status_ == "optimal"
    assert est.objective_ == pytest.approx(ref.objective_, rel=1e-7)
    np.testing.assert_allclose(est.predict(X), ref.predict(X), rtol=1e-4, atol=1e-4)
    labels = (y > np.median(y)).astype(int) + (y > np.quantile(y, 0.8))
    clf = ConvexPolyNetClassifier(beta=1e-2).fit(X, labels, sample_weight=reps)
    ref = ConvexPolyNetClassifier(beta=1e-2).fit(X.repeat(reps, axis=0), labels.repeat(reps))
    assert clf.objective_ == pytest.approx(ref.objective_, rel=1e-7)
    assert list(clf.classes_) == [0, 1, 2]


def test_scikit_learn_weight_equivalence_holds_at_a_tight_tolerance():
    """scikit-learn's check compares predictions to rtol 1e-7: at tol=1e-12 the logistic (softmax)
    classifier's unique optimum meets it (the default tol=1e-6 bounds the objective, not the outputs
    to 1e-7, hence the expected failure in test_estimators)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_sample_weight_equivalence_on_dense_data("ConvexPolyNetClassifier", ConvexPolyNetClassifier(tol=1e-12))


def test_the_network_proves_itself_with_its_weights():
    X, y, _ = planted(seed=6)
    w = W_INT + 0.5
    est = ConvexPolyNetRegressor(beta=1e-2).fit(X, y, sample_weight=w)
    cert = certify(est.network_, X, y, sample_weight=w)
    assert cert.is_optimal and cert.gap <= est.gap_ * (1 + 1e-9)
    with pytest.raises(ValueError, match="sample weights included"):
        certify(est.network_, X, y)
    own = certify(est.network_, X, y, beta=1e-2, sample_weight=w, witness=False)
    assert own.gap <= 1e-6
    assert est.network_.objective(X, y, beta=1e-2, sample_weight=w) == pytest.approx(est.network_objective_, rel=1e-12)
    path = regularization_path(X, y, [1.0, 0.1], sample_weight=w)
    assert path.gaps.max() <= 1e-6
    assert path.objectives[1] == pytest.approx(ConvexPolyNetRegressor(beta=0.1).fit(X, y, sample_weight=w).objective_,
                                               rel=1e-6)


def test_torch_data_with_weights():
    torch = pytest.importorskip("torch")
    X, y, _ = planted(seed=8)
    w = W_INT.astype(float)
    p_np = Problem(X, y, beta=0.05, sample_weight=w)
    p_t = Problem(torch.tensor(X), y, beta=0.05, sample_weight=torch.tensor(w))
    assert p_t.n_samples == p_np.n_samples
    r_np, r_t = get_solver("native").solve(p_np), get_solver("native").solve(p_t)
    assert r_t.gap <= 1e-6 and r_t.network_objective == pytest.approx(r_np.network_objective, rel=1e-7)


def test_cubic_regularization_and_convolutions_take_the_weights():
    """The CVXPY route of the cubic regularization and the grouped lift of a GAP CNN: integer
    weights give the optimum of the repeated samples."""
    from spectranet import Conv2D

    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = X[:, 0] ** 2 - X[:, 1]
    reps = rng.integers(0, 3, 40)
    kw = dict(beta=0.1, activation="square", regularization="cubic")
    a = ConvexPolyNetRegressor(**kw).fit(X, y, sample_weight=reps)
    b = ConvexPolyNetRegressor(**kw).fit(X.repeat(reps, axis=0), y.repeat(reps))
    assert a.status_ == b.status_ == "optimal" and a.objective_ == pytest.approx(b.objective_, rel=1e-6)
    images = rng.standard_normal((30, 1, 6, 6))
    labels = (images.mean(axis=(1, 2, 3)) > 0).astype(int)
    arch = Conv2D((1, 6, 6), kernel_size=3, pool="global")
    a = ConvexPolyNetClassifier(beta=0.1, architecture=arch).fit(images, labels, sample_weight=reps[:30])
    b = ConvexPolyNetClassifier(beta=0.1, architecture=arch).fit(images.repeat(reps[:30], axis=0),
                                                                  labels.repeat(reps[:30]))
    assert a.status_ == b.status_ == "optimal" and a.objective_ == pytest.approx(b.objective_, rel=1e-8)


@pytest.mark.parametrize("name", ["squared", "logistic"])
def test_blocks_of_rows_take_their_samples_weights(monkeypatch, name):
    """The face polish and the Newton polish evaluate the loss block by block of rows
    (Loss.rows): with blocks of a few rows, integer weights still give the repeated samples'
    optimum, through the weighted sufficient statistics for the squared loss."""
    import spectranet.face_data as face_data
    import spectranet.kernels.tangent as tangent

    monkeypatch.setattr(face_data, "FACE_BLOCK_ENTRIES", 64)
    monkeypatch.setattr(tangent, "ROW_BLOCK_ENTRIES", 64)
    X, y, _ = planted(n=80, d=3, seed=9)
    Y = np.sign(y - np.median(y)) if name == "logistic" else y
    reps = np.random.default_rng(9).integers(0, 4, 80)
    for engine in ("lifted", "ipm"):
        rw = NativeSolver(engine=engine).solve(Problem(X, Y, loss=name, beta=1e-3, sample_weight=reps))
        rr = NativeSolver(engine=engine).solve(Problem(X.repeat(reps, axis=0), Y.repeat(reps), loss=name, beta=1e-3))
        assert rw.gap <= 1e-6 and rr.gap <= 1e-6
        assert rw.network_objective == pytest.approx(rr.network_objective, rel=2e-6)


def test_weighted_sufficient_statistics_on_torch_and_grouped_data():
    """The lifted engine's weighted factor Psi^T W Psi on torch tensors and on a CNN's grouped lift."""
    from spectranet import Conv2D

    torch = pytest.importorskip("torch")
    X, y, _ = planted(n=80, d=3, seed=10)
    w = np.random.default_rng(10).uniform(0.2, 3.0, 80)
    r_np = NativeSolver(engine="lifted").solve(Problem(X, y, beta=1e-3, sample_weight=w))
    r_t = NativeSolver(engine="lifted").solve(Problem(torch.tensor(X), y, beta=1e-3, sample_weight=w))
    assert r_t.gap <= 1e-6 and r_t.network_objective == pytest.approx(r_np.network_objective, rel=1e-7)
    rng = np.random.default_rng(11)
    images = rng.standard_normal((30, 1, 5, 5))
    target = images[:, 0, 1:4, 1:4].sum(axis=(1, 2)) ** 2 / 9.0
    reps = rng.integers(0, 3, 30)
    arch = Conv2D((1, 5, 5), kernel_size=3, pool="global")
    a = ConvexPolyNetRegressor(beta=1e-3, architecture=arch).fit(images, target, sample_weight=reps)
    b = ConvexPolyNetRegressor(beta=1e-3, architecture=arch).fit(images.repeat(reps, axis=0), target.repeat(reps))
    assert a.engine_ == "lifted" and a.status_ == b.status_ == "optimal"
    assert a.objective_ == pytest.approx(b.objective_, rel=1e-7)


def test_scikit_learn_tools_route_the_weights():
    """GridSearchCV and a Pipeline hand sample_weight to fit (sliced per fold)."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.utils.class_weight import compute_sample_weight

    X, y, _ = planted(n=60, d=3, seed=12)
    labels = (y > np.quantile(y, 0.8)).astype(int)
    w = compute_sample_weight("balanced", labels)
    search = GridSearchCV(ConvexPolyNetClassifier(), {"beta": [1e-2, 1e-1]}, cv=3).fit(X, labels, sample_weight=w)
    assert search.best_estimator_.status_ == "optimal"
    pipe = make_pipeline(StandardScaler(), ConvexPolyNetClassifier())
    pipe.fit(X, labels, convexpolynetclassifier__sample_weight=w)
    direct = ConvexPolyNetClassifier().fit(StandardScaler().fit_transform(X), labels, sample_weight=w)
    assert pipe[-1].objective_ == pytest.approx(direct.objective_, rel=1e-9)


def test_dual_improvement_of_a_weighted_fit():
    """certify(improve=True) from the network alone: the cutting-plane rounds run on the weighted
    loss's restricted dual (Huber: smooth; its dual box's quadratic term is per entry, q / w)."""
    X, y, _ = planted(seed=13)
    w = np.random.default_rng(13).uniform(0.5, 2.0, 60)
    est = ConvexPolyNetRegressor(loss="huber").fit(X, y, sample_weight=w)
    cert = certify(est.network_, X, y, "huber", 1e-2, sample_weight=w, witness=False, improve=True)
    assert cert.gap <= 1e-6
