"""The data backends: numpy on the host, torch tensors on a device (CPU here; CUDA alike)."""

import numpy as np
import pytest

from spectranet import PolyNetwork, Problem, get_solver
from spectranet.data import HostData, TorchData
from spectranet.solvers.native import NativeSolver

from ._data import planted

torch = pytest.importorskip("torch")


def test_products_agree_across_backends():
    X, y, _ = planted(40, 3, seed=1)
    host = Problem(X, y, "relu", "squared", 0.1)
    dev = Problem(torch.tensor(X), torch.tensor(y), "relu", "squared", 0.1)
    assert isinstance(host.data, HostData) and isinstance(dev.data, TorchData)
    np.testing.assert_array_equal(dev.X, host.X)  # the host copy is float64 numpy either way
    V = np.random.default_rng(0).standard_normal((40, 1))
    for a, b in zip(host.dual_quadratic(V), dev.dual_quadratic(V)):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)
    net = PolyNetwork(np.eye(3)[:2], [0.5, -1.0], "relu")
    np.testing.assert_allclose(dev.outputs(net), host.outputs(net), rtol=1e-12)
    assert dev.objective(net) == pytest.approx(host.objective(net), rel=1e-12)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_native_on_torch_tensors_matches_numpy(loss):
    X, y, _ = planted(60, 3, seed=2)
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    ref = get_solver("native").solve(Problem(X, y, "relu", loss, 0.5))
    result = get_solver("native").solve(Problem(torch.tensor(X), torch.tensor(y), "relu", loss, 0.5))
    assert result.engine == "lifted"  # device data stays on its device: the lifted engine's passes
    assert result.gap <= 1e-6
    assert result.network_objective == pytest.approx(ref.network_objective, rel=2e-6)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_small_beta_on_torch_tensors_runs_the_sample_space_interior_point_on_the_host(dtype):
    # before, torch data never got the sample-space engine: planted 1000 x 50 squared at 1e-4
    # beta_max took the lifted engine 8.6 s against 0.6 s for numpy data; float32 tensors forced
    # through engine="ipm" stopped at a gap of 3.5e-5 (float32 products inside the iterations)
    X, y, _ = planted(150, 20, seed=4)
    X32 = X.astype(np.float32).astype(np.float64)  # the data a float32 tensor holds
    Xh = X if dtype == torch.float64 else X32
    lam = get_solver("native").solve(Problem(Xh, y, "relu", "squared", 1e9)).certificate.lam  # beta_max
    ref = NativeSolver().solve(Problem(Xh, y, "relu", "squared", 1e-5 * lam))
    problem = Problem(torch.tensor(X, dtype=dtype), y, "relu", "squared", 1e-5 * lam)
    result = NativeSolver().solve(problem)
    assert ref.engine == result.engine == "ipm"
    assert result.gap <= 1e-6 and result.certificate.own_gap <= 1e-6
    assert result.n_neurons == ref.n_neurons
    assert result.network_objective == pytest.approx(ref.network_objective, rel=1e-12)
    exact = Problem(Xh, y, "relu", "squared", 1e-5 * lam)  # the data given, in float64
    assert result.network_objective == pytest.approx(exact.objective(result.network), rel=1e-12)


def test_device_schur_forms_equal_the_host_ones():
    from spectranet.solvers import _schur
    from spectranet.solvers._schur_torch import DeviceSchur

    rng = np.random.default_rng(7)
    n, d = 40, 5
    X = rng.standard_normal((n, d))
    dev = DeviceSchur(torch.tensor(X))
    coefficients = (0.09, 0.5, 0.47)
    factors = [rng.standard_normal((d + 1, 3)), rng.standard_normal((d + 1, 2))]
    outer = [(rng.standard_normal(n), rng.standard_normal(n))]
    np.testing.assert_allclose(dev.host(dev.kernel_sum(factors, coefficients, outer)),
                               _schur.kernel_sum(X, factors, coefficients, outer), rtol=1e-12, atol=1e-12)
    Ra, Ri = factors
    np.testing.assert_allclose(dev.host(dev.split_rest_kernel(Ra, Ri, coefficients, outer)),
                               _schur.split_rest_kernel(X, Ra, Ri, coefficients, outer), rtol=1e-12, atol=1e-12)
    B = rng.standard_normal((n, n))
    D, Fs, b = B @ B.T + np.eye(n), rng.standard_normal((n, 4)) * 1e3, rng.standard_normal(n)
    for F in (Fs, Fs[:, :0]):
        u, z = dev.factor(torch.tensor(D), torch.tensor(F))(b)
        u0, z0 = _schur._factor(D.copy(), F)(b)
        np.testing.assert_allclose(u, u0, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(z, z0, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose((D + F @ F.T) @ u, b, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("loss, seed, shape, outputs, rel", [("squared", 6, (150, 20), None, 1e-5),
                                                             ("logistic", 5, (150, 20), None, 1e-5),
                                                             ("squared", 1, (300, 6), 3, 1e-7)])
def test_sample_space_interior_point_on_a_device_matches_the_host(monkeypatch, loss, seed, shape, outputs, rel):
    # on a GPU the interior point keeps its kernels, Cholesky factors and split corrections there
    # (solvers._schur_torch.DeviceSchur) and everything else runs on the host copy, as for numpy
    # data (the exact Newton polish included: 42 neurons instead of 21 on the 3-output case while
    # the extraction ran on the device); CPU tensors stand in for the device here
    from spectranet.solvers import _schur_torch, ipm_newton, native_run

    X, y, _ = planted(*shape, seed=seed, outputs=outputs)
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    lam = get_solver("native").solve(Problem(X, y, "relu", loss, 1e9)).certificate.lam
    ref = NativeSolver(engine="ipm").solve(Problem(X, y, "relu", loss, rel * lam))
    assert not _schur_torch.runs_on_device(Problem(torch.tensor(X), y, "relu", loss, 1.0))  # CPU: numpy
    used = {"factor": 0, "split": 0}
    factor, split = _schur_torch.DeviceSchur.factor, ipm_newton._Newton._split_block

    def counted(name, func):
        def wrapper(*args, **kwargs):
            used[name] += 1
            return func(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(_schur_torch.DeviceSchur, "factor", counted("factor", factor))
    monkeypatch.setattr(ipm_newton._Newton, "_split_block", counted("split", split))
    monkeypatch.setattr(_schur_torch, "runs_on_device", lambda p: type(p.data).__name__ == "TorchData")
    # no face rotation, which certifies the squared cases before the split systems run
    monkeypatch.setattr(native_run, "ROTATE_SHARE", 0.0)
    result = NativeSolver(engine="ipm").solve(Problem(torch.tensor(X), y, "relu", loss, rel * lam))
    assert used["factor"] > 0  # the device path ran
    assert used["split"] > 0 or loss != "squared"  # near the optimum too (the split Newton systems)
    assert ref.engine == result.engine == "ipm"
    assert result.gap <= 1e-6 and result.certificate.own_gap <= 1e-6
    assert result.n_neurons == ref.n_neurons
    assert result.network_objective == pytest.approx(ref.network_objective, rel=1e-9)


def test_out_of_device_memory_falls_back_to_the_host(monkeypatch, caplog):
    from spectranet.solvers import _schur_torch

    class OutOfMemoryError(RuntimeError):  # the name torch's CUDA allocator error carries
        pass

    def exhausted(self, D, Fs):
        raise OutOfMemoryError("CUDA out of memory. Tried to allocate 1.20 GiB")

    X, y, _ = planted(150, 20, seed=6)
    ref = NativeSolver(engine="ipm").solve(Problem(X, y, "relu", "squared", 0.01))
    monkeypatch.setattr(_schur_torch, "runs_on_device", lambda p: type(p.data).__name__ == "TorchData")
    monkeypatch.setattr(_schur_torch.DeviceSchur, "factor", exhausted)
    with caplog.at_level("WARNING", logger="spectranet.solvers.native"):
        result = NativeSolver(engine="ipm").solve(Problem(torch.tensor(X), y, "relu", "squared", 0.01))
    assert "ran out of device memory" in caplog.text and "solving on the host" in caplog.text
    assert result.gap <= 1e-6 and result.n_neurons == ref.n_neurons
    assert result.network_objective == pytest.approx(ref.network_objective, rel=1e-12)


def test_float32_tensors_without_a_float64_copy_on_the_device_are_solved_on_the_host(monkeypatch, caplog):
    import spectranet.data

    def no_room(*args, **kwargs):
        raise ValueError("cannot place the data on device=cuda: CUDA out of memory")

    X, y, _ = planted(60, 3, seed=3)
    problem = Problem(torch.tensor(X, dtype=torch.float32), y, "relu", "squared", 0.5)
    monkeypatch.setattr(spectranet.data, "TorchData", no_room)
    with caplog.at_level("WARNING", logger="spectranet.problem"):
        work = problem.in_float64()
    assert isinstance(work.data, HostData) and "solving on the host" in caplog.text
    assert problem.data.float32 and problem.data.float64_twin is work.data  # made once, the data untouched
    result = NativeSolver().solve(problem)
    assert result.gap <= 1e-6 and result.certificate.own_gap <= 1e-6


def test_torch_networks_are_polished_on_their_faces_like_numpy_ones():
    # the face polish (passes on the float64 host copy) ran for numpy data only: this logistic
    # network proved itself to 3.7e-8 on torch data against 4.1e-9 on numpy data
    X, y, _ = planted(2000, 6, seed=2)
    y = np.where(y > np.median(y), 1.0, -1.0)
    lam = get_solver("native").solve(Problem(X, y, "relu", "logistic", 1e9)).certificate.lam
    ref = NativeSolver().solve(Problem(X, y, "relu", "logistic", 1e-4 * lam))
    result = NativeSolver().solve(Problem(torch.tensor(X), y, "relu", "logistic", 1e-4 * lam))
    assert ref.engine == result.engine == "lifted"
    assert result.n_neurons == ref.n_neurons
    assert result.certificate.own_gap <= 1.01 * ref.certificate.own_gap


@pytest.mark.parametrize("solver", ["clarabel", "scs"])
def test_cvxpy_backends_certify_float32_tensors_in_float64(solver):
    # their certificates were computed on the float32 tensors: clarabel "inaccurate" at 3.96e-6
    X, y, _ = planted(60, 3, seed=0)
    result = get_solver(solver).solve(Problem(torch.tensor(X, dtype=torch.float32), y, "relu", "squared", 0.1))
    assert result.status == "optimal" and result.gap <= 1e-6


def test_float32_tensors_are_certified_in_float64():
    X, y, _ = planted(60, 3, seed=3)
    problem = Problem(torch.tensor(X, dtype=torch.float32), y, "relu", "squared", 0.5)
    assert problem.data.float32 and problem.X.dtype == np.float64
    result = NativeSolver().solve(problem, tol=1e-4)
    exact = Problem(X.astype(np.float32), y, "relu", "squared", 0.5)  # the data given, in float64
    assert result.network_objective == pytest.approx(exact.objective(result.network), rel=1e-12)
    assert result.gap <= 1e-4
    assert result.lower_bound <= get_solver("clarabel").solve(exact).network_objective * (1 + 1e-9)


@pytest.mark.parametrize("dtype, stored", [("int64", "float64"), ("float16", "float32"), ("bfloat16", "float32"),
                                           ("float8_e4m3fn", "float32"), ("float64", "float64")])
def test_tensors_of_any_real_dtype_are_accepted_like_numpy_arrays(dtype, stored):
    # integer tensors were refused ("dtype must be torch.float64 or torch.float32") where integer
    # numpy arrays are accepted, and bfloat16 ones crashed in .numpy() ("unsupported ScalarType")
    X, y, _ = planted(40, 3, seed=8)
    Xt = torch.tensor(np.round(4 * X)).to(getattr(torch, dtype)).requires_grad_(dtype not in ("int64", "float8_e4m3fn"))
    values = Xt.detach().to(torch.float64).numpy()  # the values the tensor holds
    problem = Problem(Xt, y, "relu", "squared", 0.1)
    assert problem.data.dtype == getattr(torch, stored)
    np.testing.assert_array_equal(problem.X, values)
    result = NativeSolver().solve(problem)
    ref = NativeSolver().solve(Problem(values, y, "relu", "squared", 0.1))
    assert result.gap <= 1e-6 and result.n_neurons == ref.n_neurons
    assert result.network_objective == pytest.approx(ref.network_objective, rel=1e-9)
    assert Xt.grad is None and Xt.dtype == getattr(torch, dtype)  # the input untouched


def test_estimators_take_tensors_as_numpy_arrays(monkeypatch):
    # scikit-learn's validation read tensors through np.asarray: tensors that require grad, bfloat16
    # ones (and CUDA ones) failed inside it with torch's errors; the problem keeps the tensor (its
    # device), as Problem does
    import spectranet.estimators
    from spectranet import ConvexPolyNetClassifier, ConvexPolyNetRegressor

    kinds = []

    def recording(*args, **kwargs):
        problem = Problem(*args, **kwargs)
        kinds.append(type(problem.data).__name__)
        return problem

    monkeypatch.setattr(spectranet.estimators, "Problem", recording)
    X, y, _ = planted(50, 3, seed=9)
    labels = (y > np.median(y)).astype(int)
    Xt = torch.tensor(X, requires_grad=True)
    reg = ConvexPolyNetRegressor(beta=0.1).fit(Xt, torch.tensor(y, requires_grad=True))
    ref = ConvexPolyNetRegressor(beta=0.1).fit(X, y)
    assert reg.gap_ <= 1e-6 and reg.n_neurons_ == ref.n_neurons_
    np.testing.assert_allclose(reg.predict(Xt), ref.predict(X), rtol=1e-7, atol=1e-9)
    bf16 = torch.tensor(X, dtype=torch.bfloat16)
    np.testing.assert_allclose(reg.predict(bf16), reg.predict(bf16.float().numpy()), rtol=1e-12)
    assert reg.score(Xt, torch.tensor(y)) == pytest.approx(ref.score(X, y), rel=1e-9)
    clf = ConvexPolyNetClassifier(beta=0.1).fit(Xt, torch.tensor(labels))
    assert clf.gap_ <= 1e-6 and set(clf.classes_) == {0, 1} and Xt.grad is None
    assert kinds == ["HostData"] * 3  # CPU tensors: numpy on the host (a GPU's stay there)
    assert reg._last_result.warm_state is None  # (the native warm state would hold the data)


@pytest.mark.parametrize("make, match", [(lambda X: X.to_sparse(), "layout torch.sparse_coo"),
                                         (lambda X: torch.empty(X.shape, device="meta"), "'meta' device")])
def test_tensors_without_dense_values_are_refused(make, match):
    X, y, _ = planted(20, 3, seed=1)
    with pytest.raises(TypeError, match=match):
        Problem(make(torch.tensor(X)), y, "relu", "squared", 0.1)


def test_device_argument_and_errors():
    X, y, _ = planted(20, 2)
    assert isinstance(Problem(X, y, device="cpu").data, TorchData)
    with pytest.raises(ValueError, match="device='nowhere' is not a torch device"):
        Problem(X, y, device="nowhere")
    if not torch.cuda.is_available():  # a CPU-only torch: a clear message, not torch's assertion
        with pytest.raises(ValueError, match="device='cuda' needs a CUDA build of PyTorch and a GPU"):
            Problem(X, y, device="cuda")
    with pytest.raises(ValueError, match="dtype must be torch.float64 or torch.float32"):
        TorchData(torch.tensor(X, dtype=torch.float16), y, dtype=torch.float16)


# -- the composite products (one pass over chunked data each) and the search over t ---------------

@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("loss", ["squared", "logistic", "softmax"])
def test_composite_products_match_their_definitions(backend, loss):
    X, y, _ = planted(50, 3, seed=5)
    targets = {"squared": y, "logistic": np.where(y > np.median(y), 1.0, -1.0),
               "softmax": np.digitize(y, np.quantile(y, [0.3, 0.6]))}[loss]
    problem = Problem(torch.tensor(X) if backend == "torch" else X, targets, "relu", loss, 0.1)
    data, L, Y = problem.data, problem.loss, problem.Y
    rng = np.random.default_rng(0)
    U, A = rng.standard_normal((4, 3)), rng.standard_normal((4, problem.n_outputs))
    Phi = problem.activation(X @ U.T)
    Yhat = Phi @ A
    value, dA, dU = data.value_and_gradients(U, A, L, problem.activation)
    assert value == pytest.approx(L.value(Yhat, Y), rel=1e-13)
    G = L.gradient(Yhat, Y)
    np.testing.assert_allclose(dA, Phi.T @ G, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dU, ((G @ A.T) * problem.activation.derivative(X @ U.T)).T @ X, rtol=1e-12,
                               atol=1e-12)
    # second layer: values of several layers; gradient and Hessian (by differences of the gradient)
    active = np.argwhere(np.abs(A) > 0.3)
    layers = np.stack([A, 2 * A, A + 0.1])
    Phi_device = data.hidden(U, problem.activation)[1]
    values, grad, H = data.second_layer_terms(Phi_device, layers, L, active)
    np.testing.assert_allclose(values, [L.value(Phi @ B, Y) for B in layers], rtol=1e-12)
    np.testing.assert_allclose(grad, dA, rtol=1e-12, atol=1e-12)
    h = 1e-6
    for c, (j, k) in enumerate(active):
        E = np.zeros_like(A)
        E[j, k] = h
        fd = (Phi.T @ L.gradient(Phi @ (A + E), Y) - Phi.T @ L.gradient(Phi @ (A - E), Y)) / (2 * h)
        np.testing.assert_allclose(H[:, c], fd[active[:, 0], active[:, 1]], rtol=1e-5, atol=1e-7)
    assert data.second_layer_terms(Phi_device, layers[:1], L)[1:] == (None, None)
    V = L.project_dual(-G, Y)
    value, products = data.value_and_dual_products(Yhat, Y, V, L)
    assert value == pytest.approx(L.value(Yhat, Y), rel=1e-13)
    for a, b in zip(products, problem.data.dual_products(V)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("loss", ["squared", "huber", "logistic", "softmax"])
def test_search_over_t_finds_the_maximum_in_a_few_passes(loss):
    """The batched search over t never ends below a bounded Brent search to 1e-12 (the previous
    method, 10-40 passes on chunked data) by more than rounding, in a few batches."""
    from scipy.optimize import minimize_scalar

    from spectranet import get_loss
    from spectranet.certificate import T_PASSES, _maximize_concave

    rng = np.random.default_rng(6)
    L, batches = get_loss(loss), []
    for trial in range(20):
        n, C = 200, 3 if loss == "softmax" else 1
        Y = (np.eye(3)[rng.integers(0, 3, n)] if loss == "softmax" else np.sign(rng.standard_normal((n, 1)))
             if loss == "logistic" else 3 * rng.standard_normal((n, 1)))
        Yhat = rng.uniform(0.1, 5) * rng.standard_normal((n, C))
        V = L.project_dual(-rng.uniform(0.3, 3) * L.gradient(Yhat, Y), Y)
        t_max = 1.0 if trial % 2 else rng.uniform(0.01, 1.0)

        def values(ts, V=V, Y=Y):
            batches.append(len(ts))
            return L.dual_values(V, Y, ts)

        before = len(batches)
        t, best = _maximize_concave(values, t_max)
        assert len(batches) - before <= T_PASSES and 0.0 <= t <= t_max
        assert best == L.dual_value(t * V, Y)  # the bound is a value at a feasible t
        brent = minimize_scalar(lambda s, V=V, Y=Y: -L.dual_value(s * V, Y), bounds=(0.0, t_max), method="bounded",
                                options={"xatol": 1e-12 * t_max})
        reference = max(-brent.fun, L.dual_value(t_max * V, Y))
        assert best >= reference - 1e-15 * abs(reference)
        assert best >= np.max(L.dual_values(V, Y, np.linspace(0.0, t_max, 201)))
    assert len(batches) <= 4 * 20  # on average at most 4 passes (measured: 2.2)
    t, best = _maximize_concave(lambda ts: L.dual_values(V, Y, ts), 0.0)  # beta = 0: only t = 0
    assert (t, best) == (0.0, L.dual_value(0.0 * V, Y))


def test_certificate_violation_from_shared_products_equals_max_violation():
    from spectranet.certificate import _violation_of_products, certify_problem, max_violation

    X, y, _ = planted(40, 3, seed=7)
    problem = Problem(X, y, "relu", "squared", 0.1)
    net = PolyNetwork(np.eye(3)[:2], [0.5, -1.0], "relu")
    cert = certify_problem(problem, net)
    V = problem.loss.project_dual(-problem.loss.gradient(problem.outputs(net), problem.Y), problem.Y)
    ref, got = max_violation(problem, V), _violation_of_products(problem, problem.data.dual_products(V))
    assert (got.value, got.value_upper, got.pair, got.sign) == (ref.value, ref.value_upper, ref.pair, ref.sign)
    np.testing.assert_array_equal(got.neuron, ref.neuron)
    assert (cert.lam, cert.objective) == (ref.value, problem.objective(net))


def test_gram_summed_over_blocks_of_rows_equals_the_whole(monkeypatch):
    """HostData.gram bounds its temporary by summing blocks of rows: the same d x d forms."""
    import spectranet.data as data

    rng = np.random.default_rng(0)
    X, V = rng.standard_normal((103, 4)), rng.standard_normal((103, 2))
    whole = HostData(X, None).gram(V)
    monkeypatch.setattr(data, "GRAM_ENTRIES", 4 * 10)  # blocks of 10 rows, the last one of 3
    blocked = HostData(X, None).gram(V)
    np.testing.assert_allclose(blocked, whole, rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(whole[1], (X * V[:, 1, None]).T @ X, rtol=1e-13, atol=1e-12)


@pytest.mark.parametrize("pool, kept", [("global", True), (None, False)])
def test_grouped_moments_give_the_products_of_a_pass_over_the_lift(pool, kept):
    """GroupedData keeps the groups' moments where they are no larger than the lift (global pooling:
    D = 55 <= r f = 16 * 9; one patch per group: D > f) and computes the lifted map, its adjoint,
    the features and the lifted Gram from them: the numbers of a pass over the patches."""
    from spectranet.architectures import Conv2D
    from spectranet.kernels import group_forward, smat, svec

    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((40, 36)), rng.standard_normal(40)
    problem = Problem(X, y, (0.2, 0.9, -0.3), "squared", 0.1, architecture=Conv2D((1, 6, 6), 3, pool=pool))
    data, act = problem.data, problem.activation
    n, G, r, f = data.R.shape
    assert (data.moments() is not None) == kept and (data.moments() is data.moments())
    if kept:
        assert data.moments().shape == (G, n, (f + 1) * (f + 2) // 2) and not data.moments().flags.writeable
    M = rng.standard_normal((G, f + 1, f + 1))
    M = M + M.swapaxes(1, 2)
    np.testing.assert_allclose(data.forward(M, act, 1), group_forward(data.R, data.mean, M, act, 1), rtol=1e-12)
    a, b, c = act.coefficients

    def sample_matrix(Rig, m):  # A_ig
        return np.block([[a * Rig.T @ Rig, 0.5 * b * m[:, None]], [0.5 * b * m[None], np.full((1, 1), c)]])

    features = np.array([[svec(sample_matrix(Rig, m)) for Rig, m in zip(data.R[:, g], data.mean[:, g])]
                         for g in range(G)])
    np.testing.assert_allclose(data.lifted_features(act), features, rtol=1e-12, atol=1e-14)
    V = rng.standard_normal((n, 1))
    Q, lin, sums = data.dual_products(V)
    for g in range(G):  # sum_i V_i A_ig, assembled from the products
        full = smat(features[g].T @ V[:, 0], f + 1)
        np.testing.assert_allclose(0.2 * Q[g], full[:f, :f], rtol=1e-11, atol=1e-11)
        np.testing.assert_allclose(0.45 * lin[:, g], full[:f, f], rtol=1e-11, atol=1e-11)
        assert -0.3 * sums[g] == pytest.approx(full[f, f], rel=1e-12)
    w = rng.random((n, 1))
    Phi = features.transpose(1, 0, 2).reshape(n, -1)
    np.testing.assert_allclose(data.lifted_gram(w, act)[0], (Phi * w).T @ Phi, rtol=1e-11, atol=1e-11)
