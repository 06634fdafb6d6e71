"""The witness a fitted network carries: its certificate travels with it, through save and load."""

from dataclasses import dataclass

import numpy as np
import pytest

from spectranet import ConvexPolyNetClassifier, ConvexPolyNetRegressor, PolyNetwork, certify
from spectranet.losses import HuberLoss, Loss
from spectranet.witness import Witness, check_loss_spec, data_fingerprint, loss_from_spec, loss_spec

from ._data import planted


@pytest.fixture
def fitted():
    X, y, _ = planted(n=120, d=6, seed=7)
    return X, y, ConvexPolyNetRegressor(beta=1e-3, tol=1e-6).fit(X, y)


def test_a_fit_attaches_its_dual_point_and_certify_uses_it(fitted):
    X, y, est = fitted
    w = est.network_.witness
    assert isinstance(w, Witness) and w.beta == est.beta and w.loss == {"name": "squared"}
    assert w.fingerprint == data_fingerprint(X, y[:, None])
    cert = certify(est.network_, X, y)  # loss and beta from the witness
    assert cert.gap == pytest.approx(est.gap_, abs=1e-12) and cert.is_optimal
    assert cert.source in ("witness", "gradient")
    alone = certify(est.network_, X, y, witness=False, beta=est.beta)
    assert alone.source == "gradient" and alone.gap >= cert.gap - 1e-15


def test_the_witness_survives_save_and_load_and_can_be_left_out(fitted, tmp_path):
    X, y, est = fitted
    est.network_.save(tmp_path / "model")  # the same name both ways: model.npz
    back = PolyNetwork.load(tmp_path / "model")
    np.testing.assert_array_equal(back.witness.dual, est.network_.witness.dual)
    assert back.witness.fingerprint == est.network_.witness.fingerprint
    assert certify(back, X, y).gap == pytest.approx(est.gap_, abs=1e-12)
    est.network_.save(tmp_path / "bare.npz", witness=False)
    bare = PolyNetwork.load(tmp_path / "bare.npz")
    assert bare.witness is None
    with np.load(tmp_path / "bare.npz") as data:
        assert "witness_dual" not in data.files
    own = certify(bare, X, y, "squared", est.beta)  # certifies from its own gradient
    assert own.source == "gradient" and own.is_optimal


def test_a_witness_for_other_data_is_refused(fitted):
    X, y, est = fitted
    with pytest.raises(ValueError, match="witness was made for other data.*witness=False"):
        certify(est.network_, X[:-1], y[:-1])
    cert = certify(est.network_, X[:-1], y[:-1], witness=False, beta=est.beta)
    assert np.isfinite(cert.gap)


def test_a_witness_is_not_checked_against_dask_data(fitted):
    da = pytest.importorskip("dask.array")
    X, y, est = fitted
    with pytest.raises(ValueError, match="Dask arrays.*witness=False"):
        certify(est.network_, da.from_array(X, chunks=40), da.from_array(y, chunks=40))


def test_a_dual_point_argument_is_used_when_it_proves_more(fitted):
    X, y, est = fitted
    net = est.network_
    worse = net.with_layers(net.first_layer, net.second_layer_2d * 1.01)  # not optimal: a poor own gradient
    alone = certify(worse, X, y, witness=False, beta=est.beta)
    given = certify(worse, X, y, witness=False, beta=est.beta, dual=net.witness.dual)
    assert alone.source == "gradient" and given.source == "dual"
    assert given.lower_bound > alone.lower_bound and given.lower_bound <= est.objective_ * (1 + 1e-12)
    assert given.objective == alone.objective  # the same network, a better proof


def test_classifier_witness_is_in_the_loss_encoding():
    X, y, _ = planted(n=80, d=4, seed=8)
    labels = np.where(y > np.median(y), "yes", "no")
    clf = ConvexPolyNetClassifier(beta=0.5).fit(X, labels)
    assert clf.network_.witness.loss == {"name": "logistic"}
    signs = np.where(labels == clf.classes_[1], 1.0, -1.0)
    assert certify(clf.network_, X, signs).is_optimal


@dataclass(frozen=True)
class TunedHuber(HuberLoss):
    """A loss defined outside the library (here a renamed Huber loss with its own field)."""

    name = "tuned_huber"


def test_a_user_defined_loss_travels_with_the_witness(tmp_path):
    X, y, _ = planted(n=60, d=4, seed=9)
    est = ConvexPolyNetRegressor(beta=0.05, loss=TunedHuber(delta=0.5), solver="clarabel").fit(X, y)
    spec = est.network_.witness.loss
    assert spec == {"name": "tuned_huber", "class": f"{__name__}.TunedHuber", "delta": 0.5}
    est.network_.save(tmp_path / "user")
    back = PolyNetwork.load(tmp_path / "user")  # resolved only when used: the module is imported
    cert = certify(back, X, y)  # loss and beta from the witness
    assert cert.is_optimal and cert.gap == pytest.approx(est.gap_, abs=1e-9)
    assert loss_from_spec(spec) == TunedHuber(delta=0.5)


class PlainPinball(Loss):
    """A user's loss written as a plain class (not a dataclass): its parameter is an attribute."""

    name, smooth, twice_differentiable = "plain_pinball", False, False

    def __init__(self, tau=0.5):
        self.tau = tau

    def value(self, Yhat, Y):
        R = Y - Yhat
        return float(np.sum(np.maximum(self.tau * R, (self.tau - 1) * R)))

    def gradient(self, Yhat, Y):
        R = Y - Yhat
        return (1 - self.tau) * (R < 0) - self.tau * (R > 0) + (0.5 - self.tau) * (R == 0)

    def dual_value(self, V, Y):
        inside = np.all(V >= self.tau - 1 - 1e-12) and np.all(V <= self.tau + 1e-12)
        return float(np.sum(V * Y)) if inside else -np.inf

    def project_dual(self, V, Y):
        return np.clip(V, self.tau - 1, self.tau)

    def cvxpy(self, Yhat, Y):
        import cvxpy as cp

        R = Y - Yhat
        return cp.sum(cp.maximum(self.tau * R, (self.tau - 1) * R))

    def dual_box(self, Y):
        return np.full(Y.shape, self.tau - 1), np.full(Y.shape, self.tau), 0.0


def test_a_plain_class_loss_keeps_its_attributes_in_the_witness(tmp_path):
    """A loss that is not a dataclass is rebuilt from its attributes (as pickle does), not by
    calling its class with no arguments (tau = 0.5 instead of 0.1: a certificate of another loss);
    one whose attributes are not plain values must be passed explicitly."""
    X, y, _ = planted(n=60, d=2, seed=10)
    est = ConvexPolyNetRegressor(beta=0.5, loss=PlainPinball(0.1)).fit(X, y)
    assert est.network_.witness.loss == {"name": "plain_pinball", "class": f"{__name__}.PlainPinball",
                                         "state": {"tau": 0.1}}
    est.network_.save(tmp_path / "plain")
    cert = certify(PolyNetwork.load(tmp_path / "plain"), X, y)
    assert cert.is_optimal and cert.objective == pytest.approx(est.network_objective_, rel=1e-12)
    odd = PlainPinball(0.1)
    odd.table = np.ones(3)
    spec = loss_spec(odd)
    assert spec["state"] is None
    check_loss_spec(spec)
    with pytest.raises(ValueError, match=r"user-defined loss 'plain_pinball' \(.*PlainPinball\), whose attributes "
                                         r"are not plain values \(numbers, strings\) and were not recorded; pass"):
        loss_from_spec(spec)
    with pytest.raises(ValueError, match=r"'state' must be a dict of its attributes or None, got 3"):
        check_loss_spec({**spec, "state": 3})


def test_a_user_defined_loss_whose_module_is_not_imported_is_named():
    spec = {"name": "pinball", "class": "not_imported_module.Pinball", "tau": 0.9}
    check_loss_spec(spec)  # the file's description is well formed
    with pytest.raises(ValueError, match=r"user-defined loss 'pinball' \(not_imported_module.Pinball\), whose "
                                         r"module is not imported; import it first, or pass the loss object"):
        loss_from_spec(spec)
    with pytest.raises(ValueError, match="'class' must be 'module.QualName', got 3"):
        check_loss_spec({"name": "pinball", "class": 3})


@pytest.mark.parametrize("X", [np.arange(12.0).reshape(3, 4), np.arange(12.0).reshape(3, 4).T,
                               np.arange(6, dtype=np.float32).reshape(2, 3), np.zeros((0, 3))])
def test_fingerprint_is_the_hash_of_the_float64_bytes(X):
    """The fingerprint hashes the bytes of each array as C-ordered float64 (read from its buffer, not a
    copy): files saved by earlier versions keep matching, whatever the array's order, dtype or size."""
    import hashlib

    Y = np.ones((len(X), 1))
    digest = hashlib.blake2b(digest_size=16)
    for a in (X, Y):
        a = np.ascontiguousarray(a, dtype=np.float64)
        digest.update(repr(a.shape).encode())
        digest.update(a.tobytes())
    assert data_fingerprint(X, Y) == f"{X.shape}x{Y.shape}:{digest.hexdigest()}"
