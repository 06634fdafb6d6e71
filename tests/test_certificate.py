import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spectranet import PolyNetwork, Problem, certify, get_solver
from spectranet.certificate import max_violation

from ._data import planted


@pytest.fixture(scope="module")
def solved():
    X, y, _ = planted(n=60, d=4, seed=2)
    beta = 0.05
    result = get_solver("clarabel").solve(Problem(X, y, "relu", "squared", beta))
    return X, y, beta, result


def test_certify_confirms_the_sdp_network(solved):
    X, y, beta, result = solved
    # the solver's certificate is reproduced from its dual point
    cert = certify(result.network, X, y, loss="squared", beta=beta, dual=result.certificate.dual)
    assert cert.is_optimal
    assert cert.gap <= 1e-6
    assert cert.lower_bound == pytest.approx(result.lower_bound, rel=1e-12)
    assert cert.lower_bound <= cert.objective
    # the network's own gradient alone certifies nearly as much (the dual point is what differs)
    own = certify(result.network, X, y, loss="squared", beta=beta)
    assert own.gap <= 1e-4 and own.lam <= beta * (1 + 1e-3)
    assert own.lower_bound <= cert.lower_bound * (1 + 1e-12)


def test_certify_flags_a_random_network(solved, random_network):
    X, y, beta, result = solved
    cert = certify(random_network, X, y, loss="squared", beta=beta)
    assert not cert.is_optimal
    assert cert.gap > 0.1
    assert cert.lam > beta
    # the bound holds whatever the network: it never exceeds the global optimum
    assert cert.lower_bound <= result.network_objective * (1 + 1e-9)


def test_certify_flags_the_optimum_with_a_neuron_removed(solved):
    X, y, beta, result = solved
    net = result.network
    j = int(np.argmax(np.abs(net.second_layer)))
    keep = np.arange(net.n_neurons) != j
    pruned = PolyNetwork(net.first_layer[keep], net.second_layer[keep], net.activation)
    cert = certify(pruned, X, y, loss="squared", beta=beta)
    assert not cert.is_optimal and cert.gap > 1e-3
    assert cert.lam > beta
    # the most violated neuron points towards the removed one (the residual moved, so not exactly)
    cosines = net.first_layer @ cert.neuron
    assert np.argmax(cosines) == j and cosines[j] > 0.9
    assert cert.sign == np.sign(net.second_layer[j])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), m=st.integers(1, 6))
def test_weak_duality_no_network_beats_the_certified_bound(solved, seed, m):
    X, y, beta, result = solved
    rng = np.random.default_rng(seed)
    U = rng.standard_normal((m, X.shape[1]))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    net = PolyNetwork(U, rng.standard_normal(m), "relu")
    assert net.objective(X, y, "squared", beta) >= result.lower_bound - 1e-9


def test_certify_exact_dual_point_of_the_zero_network():
    X, y, _ = planted(n=30, d=3)
    zero = PolyNetwork.zero(3, "relu")
    problem = Problem(X, y, "relu", "squared", 0.1)
    cert = certify(zero, X, y, loss="squared", beta=0.1)
    violation = max_violation(problem, y[:, None])  # V = -grad = y at y_hat = 0
    assert cert.lam == pytest.approx(violation.value, rel=1e-12)
    assert cert.objective == pytest.approx(0.5 * np.sum(y**2))


def test_certify_classification_and_vector_output():
    X, y, _ = planted(n=40, d=3, seed=4)
    labels = np.where(y > np.median(y), 1.0, -1.0)
    result = get_solver("clarabel").solve(Problem(X, labels, "relu", "logistic", 0.5))
    assert certify(result.network, X, labels, loss="logistic", beta=0.5).is_optimal
    classes = np.digitize(y, np.quantile(y, [0.5]))
    result = get_solver("clarabel").solve(Problem(X, classes, "relu", "softmax", 0.5))
    cert = certify(result.network, X, classes, loss="softmax", beta=0.5)
    assert cert.is_optimal and cert.dual.shape == (40, 2)


def test_certify_bad_inputs(random_network):
    X = np.random.default_rng(0).standard_normal((10, 4))
    y = np.zeros(10)
    with pytest.raises(TypeError, match="network must be a PolyNetwork"):
        certify("net", X, y)
    with pytest.raises(ValueError, match="unit-norm first-layer rows"):
        certify(PolyNetwork(2 * random_network.first_layer, random_network.second_layer, "relu"), X, y)
    U = random_network.first_layer.copy()
    U[1] *= 1 + 1e-5  # (the message read "row norms in [1, 1]")
    with pytest.raises(ValueError, match=r"rows \(problem \(P\)\) to 1e-08; row 1 has norm 1\.0000"):
        certify(PolyNetwork(U, random_network.second_layer, "relu"), X, y)
    with pytest.raises(ValueError, match=r"network has 4 features and 1 outputs; the problem has 3"):
        certify(random_network, X[:, :3], y, beta=0.1)
    with pytest.raises(ValueError, match="beta must be a finite real number >= 0"):
        certify(random_network, X, y, beta=-1.0)
    with pytest.raises(ValueError, match=r"dual must be finite with shape \(10, 1\)"):
        certify(random_network, X, y, beta=0.1, dual=np.zeros(3))
    with pytest.raises(ValueError, match="beta is required: the network carries no witness"):
        certify(random_network, X, y)
