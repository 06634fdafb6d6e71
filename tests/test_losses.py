import cvxpy as cp
import numpy as np
import pytest

from spectranet.losses import LOSSES, HuberLoss, get_loss

RNG = np.random.default_rng(0)


def targets(loss, n=7, C=1):
    if loss.name == "softmax":
        return np.eye(3)[RNG.integers(0, 3, n)]
    if loss.margin:
        return RNG.choice([-1.0, 1.0], size=(n, C))
    return RNG.standard_normal((n, C))


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_gradient_matches_finite_differences(name):
    loss = get_loss(name)
    Y = targets(loss)
    Z = RNG.standard_normal(Y.shape) * 2 + 0.3  # away from kinks with probability one
    G = loss.gradient(Z, Y)
    h = 1e-6
    for idx in np.ndindex(Z.shape):
        E = np.zeros_like(Z)
        E[idx] = h
        fd = (loss.value(Z + E, Y) - loss.value(Z - E, Y)) / (2 * h)
        assert fd == pytest.approx(G[idx], abs=1e-6)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_fenchel_young_equality_at_the_gradient_and_weak_duality(name):
    loss = get_loss(name)
    Y = targets(loss)
    Z0 = RNG.standard_normal(Y.shape)
    V = loss.project_dual(-loss.gradient(Z0, Y), Y)
    if loss.smooth:  # -l*(-V) = l(Z0) + <V, Z0> at V = -grad l(Z0)
        assert loss.dual_value(V, Y) == pytest.approx(loss.value(Z0, Y) + np.sum(V * Z0), rel=1e-10)
    for _ in range(20):  # -l*(-V) <= l(Z) + <V, Z> for every Z
        Z = 3 * RNG.standard_normal(Y.shape)
        assert loss.dual_value(V, Y) <= loss.value(Z, Y) + np.sum(V * Z) + 1e-10


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_dual_outside_domain_is_minus_infinity_and_projection_fixes_it(name):
    loss = get_loss(name)
    Y = targets(loss)
    V = 5.0 * RNG.standard_normal(Y.shape)
    if name in ("squared",):
        assert np.isfinite(loss.dual_value(V, Y))
    else:
        assert loss.dual_value(V, Y) == -np.inf
    assert np.isfinite(loss.dual_value(loss.project_dual(V, Y), Y))


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_cvxpy_expression_equals_value(name):
    loss = get_loss(name)
    Y = targets(loss)
    Z = RNG.standard_normal(Y.shape)
    expr = loss.cvxpy(cp.Constant(Z), Y)
    assert expr.value == pytest.approx(loss.value(Z, Y), rel=1e-10)


def test_values_on_known_points():
    y = np.array([[1.0], [-1.0]])
    z = np.array([[0.5], [0.5]])
    assert get_loss("squared").value(z, y) == pytest.approx(0.5 * (0.25 + 2.25))
    assert get_loss("absolute").value(z, y) == pytest.approx(2.0)
    assert get_loss("hinge").value(z, y) == pytest.approx(0.5 + 1.5)
    assert get_loss("logistic").value(z, y) == pytest.approx(np.log1p(np.exp(-0.5)) + np.log1p(np.exp(0.5)))
    assert HuberLoss(1.0).value(z, y) == pytest.approx(0.5 * 0.25 + (1.5 - 0.5))


def test_unknown_and_invalid_losses():
    with pytest.raises(ValueError, match=r"unknown loss 'l2'; valid losses are \['absolute', 'hinge', 'huber'"):
        get_loss("l2")
    with pytest.raises(TypeError, match="loss must be a name"):
        get_loss(3)
    with pytest.raises(ValueError, match="delta must be positive"):
        HuberLoss(0.0)
    with pytest.raises(ValueError, match=r"needs labels in \{-1, \+1\}"):
        get_loss("logistic").check_targets(np.array([[0.0], [1.0]]))
    with pytest.raises(ValueError, match="one-hot targets"):
        get_loss("softmax").check_targets(np.array([[0.5, 0.5]]))
