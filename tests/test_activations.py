import numpy as np
import pytest

from spectranet import PolyActivation
from spectranet.activations import as_activation


def test_presets_have_the_papers_coefficients():
    assert PolyActivation.from_name("square").coefficients == (1.0, 0.0, 0.0)
    assert PolyActivation.from_name("relu").coefficients == (0.09, 0.5, 0.47)
    assert PolyActivation.from_name("swish").coefficients == (0.1, 0.5, 0.24)


def test_evaluation_and_derivative():
    act = PolyActivation(2.0, -1.0, 0.5)
    t = np.array([-1.0, 0.0, 3.0])
    np.testing.assert_allclose(act(t), 2 * t**2 - t + 0.5)
    np.testing.assert_allclose(act.derivative(t), 4 * t - 1)


def test_immutable():
    act = PolyActivation(1, 0, 0)
    with pytest.raises(AttributeError):
        act.a = 2.0


def test_fit_recovers_a_quadratic_exactly():
    act = PolyActivation.fit(lambda t: 0.3 * t**2 - 2 * t + 1.5, (-3, 2))
    np.testing.assert_allclose(act.coefficients, (0.3, -2.0, 1.5), atol=1e-12)


def test_fit_relu_on_minus5_5_is_close_to_the_papers_relu_preset():
    a, b, c = PolyActivation.fit(lambda t: np.maximum(t, 0), (-5, 5)).coefficients
    assert (round(a, 2), b, round(c, 2)) == (0.09, 0.5, 0.47)


def test_fit_relu_is_the_continuous_least_squares_projection():
    act = PolyActivation.fit(lambda t: np.maximum(t, 0), (-1, 1))
    # closed form on [-1, 1]: projection of max(t, 0) on Legendre P0, P1, P2
    np.testing.assert_allclose(act.coefficients, (15 / 32, 0.5, 3 / 32), atol=1e-12)


@pytest.mark.parametrize(
    "arg, exc, match",
    [
        ("tanh", ValueError, "unknown activation 'tanh'; valid presets are"),
        ((1, 2), TypeError, "activation must be a preset name"),
        (3.0, TypeError, "activation must be a preset name"),
        ((np.nan, 0, 0), ValueError, "PolyActivation.a must be finite"),
        (("1", 0, 0), TypeError, "PolyActivation.a must be a real number"),
        ((0, 0, 1), ValueError, "a = b = 0 is constant"),
    ],
)
def test_bad_activations(arg, exc, match):
    with pytest.raises(exc, match=match):
        as_activation(arg)


def test_fit_rejects_bad_interval_and_function():
    with pytest.raises(ValueError, match="lo < hi"):
        PolyActivation.fit(np.tanh, (1, -1))
    with pytest.raises(TypeError, match="callable"):
        PolyActivation.fit("relu")
    with pytest.raises(ValueError, match="finite values"):
        PolyActivation.fit(lambda t: np.where(t > 0, np.inf, 0.0), (-1, 1))
