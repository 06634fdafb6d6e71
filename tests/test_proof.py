"""certify(..., improve=True): cutting planes on the dual for networks trained anywhere."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spectranet import PolyNetwork, Problem, certify, get_solver

from .test_solvers import loss_case


def _random_network(rng, d, m=3, C=1):
    U = rng.standard_normal((m, d))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    A = rng.standard_normal(m if C == 1 else (m, C))
    return PolyNetwork(U, A, "relu")


@pytest.mark.parametrize("loss", ["squared", "logistic", "hinge", "absolute"])
def test_improved_bounds_are_better_and_never_above_the_optimum(loss):
    X, y, C = loss_case(loss, n=40, d=3)
    rng = np.random.default_rng(1)
    net = _random_network(rng, 3, C=C)
    beta = 0.2
    base = certify(net, X, y, loss, beta)
    better = certify(net, X, y, loss, beta, improve=True)
    optimum = get_solver("clarabel").solve(Problem(X, y, "relu", loss, beta)).network_objective
    assert better.lower_bound >= base.lower_bound
    assert better.lower_bound <= optimum * (1 + 1e-9) + 1e-12
    assert better.source == "improved" and better.gap < base.gap
    assert better.objective == base.objective  # the network's own objective, unchanged


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), loss=st.sampled_from(["squared", "logistic", "hinge"]),
       beta=st.sampled_from([0.05, 0.5, 2.0]))
def test_improved_bounds_are_valid_on_random_instances(seed, loss, beta):
    X, y, C = loss_case(loss, n=25, d=2)
    rng = np.random.default_rng(seed)
    X = X + 0.1 * rng.standard_normal(X.shape)
    net = _random_network(rng, 2, m=2, C=C)
    better = certify(net, X, y, loss, beta, improve=5)
    optimum = get_solver("clarabel").solve(Problem(X, y, "relu", loss, beta)).network_objective
    assert better.lower_bound <= optimum * (1 + 1e-8) + 1e-10
