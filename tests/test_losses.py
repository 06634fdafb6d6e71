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


# -- one formula for numpy and torch ------------------------------------------------


def _all_losses():
    return [get_loss(name) for name in sorted(LOSSES)] + [HuberLoss(0.3)]


@pytest.mark.parametrize("loss", _all_losses(), ids=lambda loss: f"{loss.name}")
@pytest.mark.parametrize("C", [1, 3])
def test_torch_float64_equals_numpy(loss, C):
    torch = pytest.importorskip("torch")
    if loss.multi_output_only and C == 1:
        pytest.skip("multi-output loss")
    Y = targets(loss, n=11, C=C)
    Z = RNG.standard_normal(Y.shape) * 2 + 0.3
    Z[0] = 40.0 * np.sign(Z[0])  # large margins: the stable forms must not overflow
    D = RNG.standard_normal(Y.shape)
    Zt, Yt, Dt = (torch.as_tensor(a, dtype=torch.float64) for a in (Z, Y, D))
    value = loss.value(Z, Y)
    assert isinstance(value, float)
    tv = loss.value(Zt, Yt)
    assert isinstance(tv, torch.Tensor) and tv.ndim == 0
    assert float(tv) == pytest.approx(value, rel=1e-12, abs=1e-12)
    G = loss.gradient(Z, Y)
    assert type(G) is np.ndarray
    np.testing.assert_allclose(loss.gradient(Zt, Yt).numpy(), G, rtol=1e-12, atol=1e-12)
    if loss.smooth:
        H = loss.hessp(Z, Y, D)
        assert type(H) is np.ndarray
        np.testing.assert_allclose(loss.hessp(Zt, Yt, Dt).numpy(), H, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("loss", _all_losses(), ids=lambda loss: f"{loss.name}")
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_torch_autograd_of_value_equals_gradient(loss, dtype):
    torch = pytest.importorskip("torch")
    dtype = getattr(torch, dtype)
    Y = targets(loss, n=9, C=3 if loss.multi_output_only else 2)
    Z = RNG.standard_normal(Y.shape) * 2 + 0.3  # away from kinks with probability one
    Zt = torch.tensor(Z, dtype=dtype, requires_grad=True)
    value = loss.value(Zt, torch.as_tensor(Y, dtype=dtype))
    assert value.dtype == dtype
    value.backward()
    expected = loss.gradient(Z, Y)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    np.testing.assert_allclose(Zt.grad.numpy(), expected, rtol=tol, atol=tol)
    if loss.smooth and dtype == torch.float64:  # hessp = derivative of the gradient
        D = torch.as_tensor(RNG.standard_normal(Y.shape))
        Zt2 = torch.tensor(Z, requires_grad=True)
        (g,) = torch.autograd.grad(loss.value(Zt2, torch.as_tensor(Y)), Zt2, create_graph=True)
        (hv,) = torch.autograd.grad(g, Zt2, grad_outputs=D)
        np.testing.assert_allclose(hv.numpy(), loss.hessp(Z, Y, D.numpy()), rtol=1e-10, atol=1e-12)


def test_stable_forms_on_extreme_outputs():
    torch = pytest.importorskip("torch")
    Z = np.array([[800.0, -800.0, 0.0]])
    for name, Y in (("logistic", np.array([[1.0, -1.0, 1.0]])), ("softmax", np.array([[0.0, 1.0, 0.0]]))):
        loss = get_loss(name)
        for args in ((Z, Y), (torch.as_tensor(Z), torch.as_tensor(Y))):
            assert np.isfinite(float(loss.value(*args)))
            assert np.all(np.isfinite(np.asarray(loss.gradient(*args))))
    assert get_loss("softmax").value(Z, np.array([[0.0, 1.0, 0.0]])) == pytest.approx(1600.0)
    assert get_loss("logistic").value(-Z, np.array([[1.0, -1.0, 1.0]])) == pytest.approx(1600.0 + np.log(2.0))


def test_mixed_array_libraries_are_rejected():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="arrays of one library"):
        get_loss("squared").value(torch.zeros(2, 1), np.zeros((2, 1)))


def test_loss_module_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, numpy as np, spectranet.losses as L; "
            "L.get_loss('softmax').value(np.eye(2), np.eye(2)); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("name", ["squared", "logistic", "absolute", "huber", "hinge"])
def test_dual_values_at_many_t_equal_dual_value_at_each_in_blocks_too(monkeypatch, name):
    """The vectorized dual over t gives dual_value(t V) to the last bit (one block), the same to
    rounding over blocks of entries, and -inf where t V leaves the domain (in any block)."""
    import spectranet.loss_base as losses

    rng = np.random.default_rng(0)
    L = get_loss(name)
    Y = np.sign(rng.standard_normal((50, 1))) if L.margin else rng.standard_normal((50, 1))
    V = L.project_dual(-L.gradient(rng.standard_normal((50, 1)), Y), Y)
    ts = np.array([0.0, 0.3, 0.7, 1.0])
    values = L.dual_values(V, Y, ts)
    assert list(values) == [L.dual_value(t * V, Y) for t in ts]
    monkeypatch.setattr(losses, "DUAL_BLOCK_ENTRIES", 4 * 7)  # blocks of 7 entries
    np.testing.assert_allclose(L.dual_values(V, Y, ts), values, rtol=1e-13, atol=1e-13)
    if name == "logistic":  # y v = 1.5 > 1 in the last block only: out of the domain for t > 2/3
        W = V.copy()
        W[-1] = 1.5 * Y[-1]
        out = L.dual_values(W, Y, ts)
        assert np.isneginf(out[3]) and np.isneginf(out[2]) and np.isfinite(out[1])
