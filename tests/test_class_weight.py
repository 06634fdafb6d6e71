"""Class weights: a classifier's ``class_weight`` is the sample weights of its classes (times
``fit``'s ``sample_weight``), checked against scikit-learn's weights and against the repeated
samples, with named errors for bad weights."""

import numpy as np
import pytest
from sklearn.utils.class_weight import compute_sample_weight

from spectranet import BackpropPolyNetClassifier, ConvexPolyNetClassifier, certify
from spectranet.data.targets import class_sample_weight

from ._data import planted


def _labels(n=60, seed=21, classes=3):
    X, y, _ = planted(n=n, d=3, seed=seed)
    cuts = np.quantile(y, np.linspace(0, 1, classes + 1)[1:-1] + 0.1)
    return X, np.searchsorted(cuts, y)


@pytest.mark.parametrize("class_weight", [{0: 3.0, 2: 0.5}, "balanced", {0: 2.0, 1: 1.0, 2: 0.0}])
def test_class_weights_are_the_sample_weights_of_the_classes(class_weight):
    X, labels = _labels()
    expected = compute_sample_weight(class_weight, labels)
    np.testing.assert_allclose(class_sample_weight(class_weight, labels, np.arange(3)), expected, rtol=1e-15)
    by_class = ConvexPolyNetClassifier(class_weight=class_weight).fit(X, labels)
    by_sample = ConvexPolyNetClassifier().fit(X, labels, sample_weight=expected)
    assert by_class.status_ == by_sample.status_ == "optimal"
    assert by_class.objective_ == pytest.approx(by_sample.objective_, rel=1e-12)
    np.testing.assert_allclose(by_class.decision_function(X), by_sample.decision_function(X), atol=1e-9)
    assert list(by_class.classes_) == [0, 1, 2]  # (a class of weight 0 keeps its output)
    # the network proves itself with the weights of its classes
    cert = certify(by_class.network_, X, labels, by_class.loss_, by_class.beta, sample_weight=expected, witness=False)
    assert cert.gap <= 1e-6 and cert.gap == pytest.approx(by_class.gap_, rel=1e-3, abs=1e-12)


def test_class_weights_multiply_the_sample_weights_and_equal_repeated_samples():
    X, labels = _labels(seed=22, classes=2)
    labels = np.where(labels == 1, "yes", "no")  # string labels, named by the dict
    reps = np.random.default_rng(22).integers(1, 3, labels.size)
    est = ConvexPolyNetClassifier(class_weight={"yes": 2}).fit(X, labels, sample_weight=reps)
    counts = reps * np.where(labels == "yes", 2, 1)
    ref = ConvexPolyNetClassifier().fit(X.repeat(counts, axis=0), labels.repeat(counts))
    assert est.status_ == ref.status_ == "optimal"
    assert est.objective_ == pytest.approx(ref.objective_, rel=1e-7)
    assert list(est.classes_) == ["no", "yes"]


def test_a_dict_may_name_absent_classes_when_every_class_is_named():
    """As in scikit-learn: a cross-validation fold may lack a class of the dict."""
    X, labels = _labels(seed=23, classes=2)
    est = ConvexPolyNetClassifier(class_weight={0: 1.0, 1: 2.0, 7: 5.0}).fit(X, labels)
    ref = ConvexPolyNetClassifier(class_weight={1: 2.0}).fit(X, labels)
    assert est.objective_ == pytest.approx(ref.objective_, rel=1e-12)


@pytest.mark.parametrize("class_weight, error, match", [
    ({0: -1.0}, ValueError, r"class_weight\[0\] must be a finite non-negative real number, got -1.0"),
    ({1: float("nan")}, ValueError, r"class_weight\[1\] must be a finite non-negative real number, got nan"),
    ({1: "2"}, ValueError, r"class_weight\[1\] must be a finite non-negative real number, got '2'"),
    ({1: True}, ValueError, r"class_weight\[1\] must be a finite non-negative real number, got True"),
    ({5: 2.0}, ValueError, r"class_weight names \[5\], which are not classes of y \(classes: \[0, 1, 2\]\)"),
    ("balance", TypeError, r"class_weight must be None, 'balanced' or a dict \{label: weight\}, got 'balance'"),
    ([1.0, 2.0, 3.0], TypeError, r"class_weight must be None, 'balanced' or a dict"),
    ({0: 0.0, 1: 0.0, 2: 0.0}, ValueError, r"class_weight leaves 0 sample\(s\) of positive weight; at least 2"),
])
def test_bad_class_weights_are_refused_by_name(class_weight, error, match):
    X, labels = _labels()
    given = dict(class_weight) if isinstance(class_weight, dict) else class_weight
    for est in (ConvexPolyNetClassifier(class_weight=class_weight),
                BackpropPolyNetClassifier(class_weight=class_weight, max_epochs=1)):
        with pytest.raises(error, match=match):
            est.fit(X, labels)
        assert est.class_weight == given  # (stored untouched)


def test_class_weight_times_zero_sample_weights_is_refused_by_name():
    X, labels = _labels()
    w = np.zeros(labels.size)
    w[np.flatnonzero(labels == 0)[:3]] = 1.0
    with pytest.raises(ValueError, match=r"class_weight times sample_weight leaves 0 sample\(s\) of positive"):
        ConvexPolyNetClassifier(class_weight={0: 0.0}).fit(X, labels, sample_weight=w)


def test_class_weights_on_dask_are_refused():
    da = pytest.importorskip("dask.array")
    X, labels = _labels()
    with pytest.raises(ValueError, match="class weights need the data in memory"):
        ConvexPolyNetClassifier(class_weight="balanced").fit(da.from_array(X, chunks=(30, 3)),
                                                             da.from_array(labels, chunks=30))


def test_backprop_classifier_class_weights_are_its_sample_weights():
    pytest.importorskip("torch")
    X, labels = _labels(seed=24)
    kw = dict(max_epochs=5, random_state=0, batch_size=None)
    by_class = BackpropPolyNetClassifier(class_weight="balanced", **kw).fit(X, labels)
    by_sample = BackpropPolyNetClassifier(**kw).fit(X, labels, sample_weight=compute_sample_weight("balanced", labels))
    assert by_class.objective_ == pytest.approx(by_sample.objective_, rel=1e-12)
    unweighted = BackpropPolyNetClassifier(**kw).fit(X, labels)
    assert by_class.objective_ != pytest.approx(unweighted.objective_, rel=1e-6)
