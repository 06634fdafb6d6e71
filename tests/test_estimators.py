import pickle
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from spectranet import (
    ConvergenceWarning,
    ConvexPolyNetClassifier,
    ConvexPolyNetRegressor,
    PolyNetwork,
    Problem,
    get_solver,
)

from ._data import planted

# Checks expected to fail, with the reason. The weight equivalence compares predictions to rtol
# 1e-7; a fit certifies its objective to tol (1e-6 by default), and the classifiers' 15 x 30 problem
# has saturated samples, where the outputs move 3e-7 for an objective change of 1e-11. At tol=1e-12 the
# logistic classifier passes it (tests/test_weighted.py); the hinge loss's optimal outputs are not
# unique there (4e-6 apart at any tol, equal objectives): every optimum is a correct answer.
CLASSIFIER_FAILED_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data":
        "predictions equal to the certified tol only (rtol 1e-7 needs tol=1e-12; hinge: optimum not unique)",
}


@parametrize_with_checks(
    [ConvexPolyNetRegressor(), ConvexPolyNetClassifier(), ConvexPolyNetClassifier(loss="hinge")],
    expected_failed_checks=lambda est: CLASSIFIER_FAILED_CHECKS if isinstance(est, ConvexPolyNetClassifier) else {},
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def breast_cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def assert_certified(est, d, C, gap=1e-6):
    assert est.status_ == "optimal"
    assert est.gap_ <= gap
    assert est.lower_bound_ <= est.network_objective_
    assert abs(est.network_objective_ - est.objective_) <= 1e-6 * abs(est.objective_)
    assert 0 < est.n_neurons_ <= 2 * (d + 1) * C
    assert est.n_neurons_ == est.network_.n_neurons


@pytest.mark.parametrize("loss", ["squared", "absolute", "huber"])
def test_regressor_acceptance_on_planted_data(loss):
    X, y, _ = planted(n=80, d=5, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = ConvexPolyNetRegressor(beta=1e-2, loss=loss).fit(X, y)
    assert_certified(est, 5, 1)
    assert est.score(X, y) > 0.95


@pytest.mark.parametrize("loss", ["logistic", "hinge", "squared"])
def test_classifier_acceptance_on_planted_data(loss):
    X, y, _ = planted(n=80, d=5, seed=3)
    labels = np.where(y > np.median(y), "yes", "no")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = ConvexPolyNetClassifier(beta=1e-2, loss=loss).fit(X, labels)
    assert_certified(est, 5, 1)
    assert list(est.classes_) == ["no", "yes"]
    assert est.score(X, labels) > 0.9


# Full breast-cancer data (569 x 30, standardized), beta = 1, every loss.
BREAST_CANCER_CASES = [
    (ConvexPolyNetClassifier, "logistic"),
    (ConvexPolyNetClassifier, "squared"),
    (ConvexPolyNetClassifier, "hinge"),
    (ConvexPolyNetRegressor, "squared"),
    (ConvexPolyNetRegressor, "absolute"),
    (ConvexPolyNetRegressor, "huber"),
]


@pytest.mark.parametrize("cls, loss", BREAST_CANCER_CASES)
def test_acceptance_on_breast_cancer(breast_cancer, cls, loss):
    X, y = breast_cancer
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = cls(beta=1.0, loss=loss).fit(X, y)
    assert_certified(est, X.shape[1], 1)
    assert est.score(X, y) > (0.95 if cls is ConvexPolyNetClassifier else 0.8)


def test_multiclass_softmax_and_one_vs_rest():
    X, y, _ = planted(n=90, d=3, seed=7)
    classes = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    soft = ConvexPolyNetClassifier(beta=0.1).fit(X, classes)
    assert soft.loss_.name == "softmax"
    assert_certified(soft, 3, 3)
    proba = soft.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(soft.predict(X), soft.classes_[np.argmax(proba, axis=1)])
    assert soft.decision_function(X).shape == (90, 3)
    ovr = ConvexPolyNetClassifier(beta=0.1, loss="squared").fit(X, classes)
    assert ovr.network_.second_layer.shape[1] == 3
    assert not hasattr(ovr, "predict_proba")
    assert ovr.score(X, classes) > 0.8
    # LogisticLoss() is the loss named "logistic": softmax for three classes too, the same fit
    from spectranet.losses import LogisticLoss

    instance = ConvexPolyNetClassifier(beta=0.1, loss=LogisticLoss()).fit(X, classes)
    assert instance.loss_.name == "softmax"
    assert instance.network_objective_ == pytest.approx(soft.network_objective_, rel=1e-6)
    np.testing.assert_allclose(instance.predict_proba(X), proba, atol=1e-5)

    class OneVsRest(LogisticLoss):  # a subclass keeps its loss, one-vs-rest: scores, no probabilities
        pass

    mine = ConvexPolyNetClassifier(beta=0.1, loss=OneVsRest()).fit(X, classes)
    assert type(mine.loss_) is OneVsRest and mine.network_.second_layer.shape[1] == 3
    assert not hasattr(mine, "predict_proba") and not hasattr(mine, "predict_log_proba")


def test_binary_probabilities_follow_the_decision_function():
    X, y, _ = planted(n=50, d=3, seed=8)
    labels = (y > np.median(y)).astype(int)
    est = ConvexPolyNetClassifier(beta=0.1).fit(X, labels)
    scores = est.decision_function(X)
    np.testing.assert_allclose(est.predict_proba(X)[:, 1], 1 / (1 + np.exp(-scores)))
    np.testing.assert_array_equal(est.predict(X), (scores > 0).astype(int))


def test_multi_target_regression_predicts_2d():
    X, Y, _ = planted(n=50, d=3, outputs=2, seed=9)
    est = ConvexPolyNetRegressor(beta=0.05).fit(X, Y)
    assert est.predict(X).shape == (50, 2)
    assert_certified(est, 3, 2)


def test_lean_and_self_certify_reach_the_solver():
    """On a wide optimum (3 targets) the defaults return a narrow network that proves itself; the
    switches turn both off (the interior point's extraction: wide, proven by its dual only)."""
    from spectranet import certify, make_planted

    X, y = make_planted(150, 20, n_neurons=5, noise=0.1, random_state=1)
    X /= np.sqrt(20)
    rng = np.random.default_rng(1)
    Y = np.column_stack([y] + [y * rng.standard_normal() + 0.1 * rng.standard_normal(150) for _ in range(2)])
    lean = ConvexPolyNetRegressor(beta=0.5).fit(X, Y)
    plain = ConvexPolyNetRegressor(beta=0.5, lean=False, self_certify=False).fit(X, Y)
    assert lean.gap_ <= 1e-6 and plain.gap_ <= 1e-6
    assert lean.n_neurons_ < plain.n_neurons_
    assert certify(lean.network_, X, Y, "squared", 0.5, witness=False).gap <= 1e-6
    assert certify(plain.network_, X, Y, "squared", 0.5, witness=False).gap > 1e-6


def test_warm_start_refit_with_new_beta_reuses_the_model():
    X, y, _ = planted(n=50, d=3, seed=10)
    est = ConvexPolyNetRegressor(beta=0.1, warm_start=True, solver="clarabel").fit(X, y)
    model = est._last_result.warm_state
    est.set_params(beta=0.05).fit(X, y)
    assert est._last_result.warm_state is model
    cold = ConvexPolyNetRegressor(beta=0.05, solver="clarabel").fit(X, y)
    assert est.objective_ == pytest.approx(cold.objective_, rel=1e-7)


def test_warm_start_refit_continues_from_the_previous_network():
    from spectranet.solvers.native import NativeSolver

    X, y, _ = planted(n=50, d=3, seed=10)
    est = ConvexPolyNetRegressor(beta=0.1, warm_start=True).fit(X, y)
    assert est.solver_ == "native" and est.engine_ == "lifted"  # small d: the lifted interior point
    est.set_params(beta=0.05).fit(X, y)  # from the previous network (each fit makes its own problem: the
    assert est.gap_ <= 1e-6 and est._last_result.warm_state is None  # native warm state is not kept)
    cold = ConvexPolyNetRegressor(beta=0.05).fit(X, y)
    assert est.network_objective_ == pytest.approx(cold.network_objective_, rel=2e-6)
    columns = ConvexPolyNetRegressor(beta=0.1, warm_start=True, solver=NativeSolver(engine="columns")).fit(X, y)
    first = columns.n_iter_
    columns.set_params(beta=0.05).fit(X, y)  # column generation continues from the network
    assert columns.engine_ == "columns" and columns.gap_ <= 1e-6
    assert columns.network_objective_ == pytest.approx(cold.network_objective_, rel=2e-6)
    assert first >= 1


def test_pickle_roundtrip_drops_solver_state():
    X, y, _ = planted(n=30, d=3)
    est = ConvexPolyNetRegressor(beta=0.1, warm_start=True).fit(X, y)
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    assert isinstance(back.network_, PolyNetwork) and not hasattr(back, "_last_result")
    assert hasattr(est, "_last_result")  # pickling leaves the live estimator as it was (its warm start)


def test_solvers_take_the_estimators_flags_where_they_have_them():
    from spectranet.solvers.fallback import FallbackSolver

    X, y, _ = planted(n=30, d=3)
    native = get_solver("native").with_flags(False, False)
    assert not native.self_certify and not native.lean and native.engine == "auto"
    fallback = get_solver("auto", Problem(X, y, "relu", "absolute", 0.1)).with_flags(False, True)
    assert isinstance(fallback, FallbackSolver) and not fallback.first.self_certify and fallback.first.lean
    clarabel = get_solver("clarabel")
    assert clarabel.with_flags(False, False) is clarabel and fallback.second.with_flags(True, True) is fallback.second


@pytest.mark.parametrize(
    "params, match, exc",
    [
        ({"beta": -1.0}, "beta must be a finite real number >= 0", ValueError),
        ({"beta": np.nan}, "beta must be a finite real number >= 0", ValueError),
        ({"beta": "big"}, "beta must be a real number", TypeError),
        ({"activation": "tanh"}, "unknown activation 'tanh'", ValueError),
        ({"loss": "logistic"}, r"ConvexPolyNetRegressor supports the losses "
                               r"\['squared', 'absolute', 'huber'\]", ValueError),
        ({"loss": "l2"}, "unknown loss 'l2'", ValueError),
        ({"solver": "gurobi"}, "unknown solver 'gurobi'", ValueError),
        ({"tol": 0}, r"tol must be a relative gap in \(0, 1\), got 0.0", ValueError),
        ({"tol": 1}, r"tol must be a relative gap in \(0, 1\), got 1.0", ValueError),
        ({"tol": np.inf}, r"tol must be a relative gap in \(0, 1\), got inf", ValueError),
        ({"tol": np.nan}, r"tol must be a relative gap in \(0, 1\), got nan", ValueError),
        ({"tol": "1e-6"}, "tol must be a real number in", TypeError),
        ({"beta": 0.0}, "beta must be > 0: with beta = 0 no gap can be certified", ValueError),
        ({"max_iter": 0}, "max_iter must be None or a positive integer", ValueError),
        ({"max_time": 0}, "max_time must be None or a finite number of seconds > 0, got 0.0", ValueError),
        ({"max_time": "1"}, "max_time must be None or a number of seconds", TypeError),
        ({"lean": 1}, "lean must be True or False", TypeError),
        ({"warm_start": "yes"}, "warm_start must be True or False, got 'yes'", TypeError),
    ],
)
def test_regressor_bad_parameters(params, match, exc):
    X, y, _ = planted(n=20, d=2)
    with pytest.raises(exc, match=match):
        ConvexPolyNetRegressor(**params).fit(X, y)


def test_numpy_booleans_are_flags():
    """A grid search over ``np.array([True, False])`` passes numpy booleans: each fit equals the
    one with Python's."""
    X, y, _ = planted(n=40, d=3)
    for flags in ({"lean": np.False_}, {"self_certify": np.False_}, {"warm_start": np.True_}):
        fitted = ConvexPolyNetRegressor(**flags).fit(X, y)
        plain = ConvexPolyNetRegressor(**{k: bool(v) for k, v in flags.items()}).fit(X, y)
        assert fitted.n_neurons_ == plain.n_neurons_
        assert fitted.objective_ == pytest.approx(plain.objective_, rel=1e-12)


def test_bad_data_and_one_class():
    X, y, _ = planted(n=20, d=2)
    with pytest.raises(ValueError, match="NaN"):
        ConvexPolyNetRegressor().fit(np.where(X > 1, np.nan, X), y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        ConvexPolyNetRegressor().fit(X, y[:5])
    with pytest.raises(ValueError, match="minimum of 2 is required"):
        ConvexPolyNetRegressor().fit(X[:1], y[:1])
    with pytest.raises(ValueError, match="Complex data not supported"):
        ConvexPolyNetRegressor().fit(X + 1j, y)
    with pytest.raises(ValueError, match="needs samples of at least 2 classes; got 1 class"):
        ConvexPolyNetClassifier().fit(X, np.ones(20))
    with pytest.raises(ValueError, match="Unknown label type"):
        ConvexPolyNetClassifier().fit(X, y)
    X0, y0 = X.copy(), y.copy()
    ConvexPolyNetRegressor().fit(X, y)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


def test_cubic_regularization_matches_l1_program():
    X, y, _ = planted(60, 4, seed=3)
    l1 = ConvexPolyNetRegressor(activation="square", beta=0.1).fit(X, y)
    cubic = ConvexPolyNetRegressor(activation="square", beta=0.1, regularization="cubic").fit(X, y)
    assert cubic.gap_ <= 1e-6
    assert cubic.objective_ == pytest.approx(l1.objective_, rel=1e-6)
    assert cubic.n_neurons_ <= X.shape[1]
    # the cubic weights compute the same function as the unit-norm network
    from spectranet.cubic import C0, cubic_objective
    from spectranet.kernels import network_outputs
    out = network_outputs(X, cubic.cubic_first_layer_, cubic.cubic_second_layer_, cubic.activation_)
    np.testing.assert_allclose(np.ravel(out), cubic.predict(X), rtol=1e-9, atol=1e-9)
    value = cubic_objective(X, y, "squared", 0.1, cubic.cubic_first_layer_, cubic.cubic_second_layer_)
    assert value == pytest.approx(cubic.network_objective_, rel=1e-9)
    assert C0 == pytest.approx(2 ** (1 / 3) + 2 ** (-2 / 3))


@pytest.mark.parametrize("params, match", [
    ({"regularization": "l2"}, "regularization must be 'l1' or 'cubic'"),
    ({"regularization": "cubic"}, "needs the square activation"),
    ({"regularization": "cubic", "activation": "square", "solver": "native"}, "CVXPY backend"),
])
def test_cubic_regularization_bad_parameters(params, match):
    X, y, _ = planted(20, 3)
    with pytest.raises(ValueError, match=match):
        ConvexPolyNetRegressor(**params).fit(X, y)


@pytest.mark.parametrize("loss", ["softmax", "cross_entropy"])
def test_binary_softmax_decision_function_is_one_score_per_sample(loss):
    """scikit-learn's binary convention (one score, positive means classes_[1]) with a softmax loss,
    whose network has two outputs: the log-odds. It returned both outputs, and roc_auc_score raised."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    X = rng.standard_normal((120, 4))
    s = X[:, 0] ** 2 - X[:, 1]
    y = np.where(s > np.median(s), "b", "a")
    clf = ConvexPolyNetClassifier(beta=0.1, loss=loss).fit(X, y)
    scores = clf.decision_function(X)
    outputs = clf.network_.decision_function(X)
    assert scores.shape == (120,)
    np.testing.assert_allclose(scores, outputs[:, 1] - outputs[:, 0], rtol=1e-15)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[np.argmax(outputs, axis=1)])
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], 1.0 / (1.0 + np.exp(-scores)), rtol=1e-12)
    assert roc_auc_score(y, scores) > 0.9
