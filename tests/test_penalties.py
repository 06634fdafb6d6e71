"""The penalties: one definition, numpy and torch alike, and the identities the programs use."""

import numpy as np
import pytest

from spectranet import PolyNetwork, Problem
from spectranet.cubic import balance, cubic_objective
from spectranet.penalties import C0, CubicPenalty, L1Penalty, WeightDecay, get_penalty

RNG = np.random.default_rng(0)
W = RNG.standard_normal((4, 3))
A = RNG.standard_normal((4, 2))


def test_values_by_definition():
    assert L1Penalty().value(W, A) == pytest.approx(np.abs(A).sum(), rel=1e-15)
    assert WeightDecay().value(W, A) == pytest.approx(0.5 * (np.sum(W**2) + np.sum(A**2)), rel=1e-15)
    cubic = np.sum(np.linalg.norm(W, axis=1) ** 3) + np.sum(np.abs(A).sum(axis=1) ** 3)
    assert CubicPenalty().value(W, A) == pytest.approx(cubic / C0, rel=1e-14)
    cubic3 = np.sum(np.linalg.norm(W, axis=1) ** 3) + np.sum(np.abs(A) ** 3)
    assert CubicPenalty(3).value(W, A) == pytest.approx(cubic3 / C0, rel=1e-14)
    assert C0 == pytest.approx(2 ** (1 / 3) + 2 ** (-2 / 3), rel=1e-15)


def test_balanced_cubic_penalty_is_c0_times_l1():
    """At the balanced scale the cubic penalty of neurons gamma (x^T q)^2 is ||gamma||_1 (c0 cancels)."""
    q = W / np.linalg.norm(W, axis=1, keepdims=True)
    U, alpha = balance(q, A)
    assert np.allclose(np.linalg.norm(U, axis=1, keepdims=True) ** 2 * alpha, A)  # the same neurons
    assert CubicPenalty().value(U, alpha) == pytest.approx(np.abs(A).sum(), rel=1e-12)


def test_torch_values_equal_numpy_and_differentiate():
    torch = pytest.importorskip("torch")
    Wt = torch.tensor(W, requires_grad=True)
    At = torch.tensor(A, requires_grad=True)
    for name in ("l1", "cubic", "weight_decay"):
        value = get_penalty(name).value(Wt, At)
        assert isinstance(value, torch.Tensor) and value.ndim == 0
        assert float(value.detach()) == pytest.approx(get_penalty(name).value(W, A), rel=1e-14)
    WeightDecay().value(Wt, At).backward()
    assert np.allclose(Wt.grad.numpy(), W) and np.allclose(At.grad.numpy(), A)


def test_problem_penalized_is_the_objective_and_its_face_model():
    X, y = RNG.standard_normal((20, 3)), RNG.standard_normal(20)
    problem = Problem(X, y, "relu", "squared", 0.3)
    U = W / np.linalg.norm(W, axis=1, keepdims=True)
    net = PolyNetwork(U, A[:, 0], problem.activation)
    value = problem.loss.value(problem.outputs(net), problem.Y)
    assert problem.objective(net) == pytest.approx(value + 0.3 * np.abs(A[:, 0]).sum(), rel=1e-15)
    signs = np.sign(net.second_layer_2d)
    assert problem.penalized(value, net.second_layer_2d, signs) == pytest.approx(problem.objective(net), rel=1e-15)
    assert net.objective(X, y, "squared", 0.3) == pytest.approx(problem.objective(net), rel=1e-14)


def test_cubic_objective_uses_the_cubic_penalty():
    X, y = RNG.standard_normal((20, 3)), RNG.standard_normal(20)
    value = cubic_objective(X, y, "squared", 0.5, W, A[:, 0])
    fit = 0.5 * np.sum(((X @ W.T) ** 2 @ A[:, 0] - y) ** 2)
    assert value == pytest.approx(fit + 0.5 * CubicPenalty().value(W, A[:, :1]), rel=1e-13)


@pytest.mark.parametrize("bad", ["l2", None, 3])
def test_unknown_penalty_is_refused(bad):
    with pytest.raises(ValueError, match=r"penalty must be one of \['l1', 'cubic', 'weight_decay'\]"):
        get_penalty(bad)


def test_cubic_output_norm_is_checked():
    with pytest.raises(ValueError, match="output_norm must be 1 or 3, got 2"):
        CubicPenalty(2)
