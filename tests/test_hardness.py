"""Subset-sum instances of the weight-decay hardness proof (spectranet.hardness)."""

import itertools
import math

import numpy as np
import pytest

from spectranet import Problem
from spectranet.cubic import solve_cubic
from spectranet.hardness import (
    decode_partition,
    find_subset,
    has_equal_partition,
    has_subset_sum,
    interpolation_residual,
    subset_sum_instance,
    subset_to_neuron,
)

YES = [(1, 2, 3), (3, 1, 1, 2, 2, 1), (5, 5), (4, -1, 3, 2)]
NO = [(1, 2, 4), (2, 3, 7), (2, 3, 4), (1,)]


def _sign_solutions(values, target=None, atol=1e-12):
    """Brute force: every s in {+-1}^d whose u = s / sqrt(d) solves (49)."""
    d = len(values)
    X, y = subset_sum_instance(values, target=target)
    return [s for s in itertools.product((-1.0, 1.0), repeat=d)
            if np.max(np.abs(interpolation_residual(X, y, np.array(s) / math.sqrt(d)))) <= atol]


def test_instance_layout():
    X, y = subset_sum_instance([1, 2, 3], diagonal_signs=[1, -1, 1])
    assert X.shape == (7, 3) and y.shape == (7,)
    assert np.array_equal(X[:3], np.eye(3)) and np.array_equal(X[3:6], np.diag([1.0, -1.0, 1.0]))
    assert np.allclose(X[6], math.sqrt(3) * np.array([1, 2, 3]))
    assert np.allclose(y[:6], 1 / 3) and y[6] == 0.0
    _, y_t = subset_sum_instance([1, 2, 3], target=1)
    assert y_t[6] == (2 * 1 - 6) ** 2


@pytest.mark.parametrize("values", YES)
def test_yes_instances_interpolate_exactly(values):
    d = len(values)
    subset = find_subset(values)
    assert subset is not None and has_equal_partition(values)
    assert 2 * sum(values[k] for k in subset) == sum(values)
    u = subset_to_neuron(subset, d)
    assert np.isclose(np.linalg.norm(u), 1.0)
    X, y = subset_sum_instance(values)
    assert np.max(np.abs(interpolation_residual(X, y, u))) <= 1e-12  # zero loss with alpha = 1
    assert np.allclose(u**2, 1 / d)
    decoded = decode_partition(u, values)
    assert decoded is not None and 2 * sum(values[k] for k in decoded) == sum(values)
    assert decode_partition(-u, values) is not None  # the complement works too
    assert _sign_solutions(values)


@pytest.mark.parametrize("values", NO)
def test_no_instances_have_no_solution(values):
    assert not has_equal_partition(values) and find_subset(values) is None
    assert _sign_solutions(values) == []
    d = len(values)
    for s in itertools.product((-1.0, 1.0), repeat=d):
        assert decode_partition(np.array(s) / math.sqrt(d), values) is None


def test_general_target_matches_brute_force():
    values = (3, 5, 9, 14)
    sums = {sum(c) for r in range(5) for c in itertools.combinations(values, r)}
    for z in range(-1, 33):
        assert has_subset_sum(values, z) == (z in sums)
        assert bool(_sign_solutions(values, target=z)) == (z in sums)
        subset = find_subset(values, z)
        if subset is not None:
            assert decode_partition(subset_to_neuron(subset, 4), values, target=z) == subset


def test_decode_rejects_non_solutions():
    values = (1, 2, 3)
    u = subset_to_neuron((2,), 3)
    assert decode_partition(u, values) is not None
    assert decode_partition(u * 1.01, values) is None
    assert decode_partition(np.array([1.0, 0.0, 0.0]), values) is None


def test_noise_perturbs_targets_only():
    X0, y0 = subset_sum_instance([1, 2, 3])
    X, y = subset_sum_instance([1, 2, 3], noise=0.1, random_state=0)
    assert np.array_equal(X, X0) and not np.allclose(y, y0)
    assert np.allclose(y, subset_sum_instance([1, 2, 3], noise=0.1, random_state=0)[1])


@pytest.mark.parametrize("values, nuclear", [((1, 2, 3), 1.0), ((2, 3, 4), 1.0)])
def test_convex_l1_formulation_does_not_decide(values, nuclear):
    """The l1 / cubic program is solved in polynomial time and reaches ||W||_* -> 1 on a
    no-instance too (a rank-2 interpolant): weight decay would need a rank-one one."""
    X, y = subset_sum_instance(values)
    beta = 1e-5
    res = solve_cubic(Problem(X, y, "square", "squared", beta))
    W = res.cubic.nuclear_matrix[0]
    eig = np.linalg.eigvalsh(W)
    assert abs(np.abs(eig).sum() - nuclear) <= 1e-3
    assert np.max(np.abs(res.network.predict(X) - y)) <= 1e-3
    if not has_equal_partition(values):
        assert np.sort(np.abs(eig))[-2] > 0.1  # not rank one
        assert np.sum(np.abs(eig) ** (2 / 3)) > 1.05  # Lemma 3: the l_{2/3} value exceeds 1


@pytest.mark.parametrize("bad, exc, match", [
    ([], ValueError, "values"),
    ([1, 2.5], ValueError, r"values\[1\]"),
    ([1, "2"], TypeError, r"values\[1\]"),
    ([True, 2], TypeError, r"values\[0\]"),
    ([1, float("nan")], ValueError, r"values\[1\]"),
    ("123", TypeError, "values"),
    (5, TypeError, "values"),
])
def test_bad_values(bad, exc, match):
    with pytest.raises(exc, match=match):
        subset_sum_instance(bad)
    with pytest.raises(exc, match=match):
        has_equal_partition(bad)


def test_bad_options():
    with pytest.raises(TypeError, match="target"):
        subset_sum_instance([1, 2], target=1.5)
    with pytest.raises(ValueError, match="diagonal_signs"):
        subset_sum_instance([1, 2], diagonal_signs=[1, 0])
    with pytest.raises(ValueError, match="noise"):
        subset_sum_instance([1, 2], noise=-1.0)
    with pytest.raises(ValueError, match="u must have"):
        decode_partition(np.ones(3), [1, 2])
    with pytest.raises(ValueError, match="subset"):
        subset_to_neuron((3,), 3)
    # integral floats are accepted
    assert np.array_equal(subset_sum_instance([1.0, 2.0])[0], subset_sum_instance([1, 2])[0])
