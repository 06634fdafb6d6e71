"""Dask data: the native solver's column generation on a `distributed.LocalCluster` (issue 6).

One cluster (2 worker processes on loopback) serves the module; the worker-kill test runs last.
The products and the chunk-wise losses are checked on the synchronous scheduler (no cluster).
"""

import logging
import os
import pickle
import signal
import subprocess
import sys

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

import spectranet.data.daskdata  # noqa: E402
from spectranet import (  # noqa: E402
    ConvexPolyNetClassifier,
    ConvexPolyNetRegressor,
    PolyNetwork,
    Problem,
    beta_max,
    get_loss,
    get_solver,
    regularization_path,
)
from spectranet.data import ChunkwiseLoss, DaskData  # noqa: E402
from spectranet.solvers.native import NativeSolver  # noqa: E402

from ._data import planted  # noqa: E402

N, D, CHUNK = 2000, 5, 1000  # two row chunks: one per worker of the LocalCluster
BETA = {"squared": 200.0, "logistic": 80.0}  # a few neurons: a fit is a few dozen Dask passes


def chunked(a):
    return da.from_array(a, chunks=(CHUNK,) + a.shape[1:])


@pytest.fixture(scope="module")
def data():
    X, y, _ = planted(N, D, seed=0)
    return X, y, np.where(y > np.median(y), 1.0, -1.0)


class _Warnings(logging.Handler):
    """Collects the scheduler's warnings (it runs in this process for a LocalCluster)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, worker_class=distributed.Nanny)
    client = Client(cluster)
    handler = _Warnings()
    logging.getLogger("distributed.scheduler").addHandler(handler)
    client.scheduler_warnings = handler.messages
    yield client
    logging.getLogger("distributed.scheduler").removeHandler(handler)
    client.close()
    cluster.close()


# -- no cluster: the products, the chunk-wise losses, validation and refusals ---------------------

def test_import_spectranet_imports_neither_dask_nor_distributed():
    code = "import sys, spectranet; print(sorted({'dask', 'distributed'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_products_and_losses_match_numpy(data):
    X, y, _ = data
    Y2 = np.column_stack([y, -0.5 * y])
    host = Problem(X, Y2, "relu", "squared", 1.0)
    # X split by columns too and y chunked differently: both are aligned to X's row chunks
    lazy = Problem(da.from_array(X, chunks=(300, 2)), da.from_array(Y2, chunks=(700, 1)), "relu",
                   "squared", 1.0)
    assert isinstance(lazy.data, DaskData) and lazy.is_dask and "data=dask" in repr(lazy)
    assert lazy.X.numblocks[1] == 1 and lazy.Y.chunks[0] == lazy.X.chunks[0]
    V = np.random.default_rng(0).standard_normal((N, 2))
    with dask.config.set(scheduler="sync"):
        for a, b in zip(host.dual_quadratic(V), lazy.dual_quadratic(chunked(V))):
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-10)
        net = PolyNetwork(np.eye(D)[:2], np.array([[0.5, 1.0], [-1.0, 0.2]]), "relu")
        out = lazy.outputs(net)
        assert isinstance(out, da.Array)
        np.testing.assert_allclose(out.compute(), host.outputs(net), rtol=1e-12)
        assert lazy.objective(net) == pytest.approx(host.objective(net), rel=1e-12)
        rng = np.random.default_rng(1)
        Yhat = rng.standard_normal((N, 3))
        targets = {"squared": Yhat + 0.1, "huber": 3 * Yhat, "logistic": np.sign(Yhat),
                   "softmax": np.eye(3)[rng.integers(0, 3, N)]}
        for name, T in targets.items():
            base = get_loss(name)
            loss, L, Lhat = ChunkwiseLoss(base), chunked(T), chunked(Yhat)
            assert float(loss.value(Lhat, L)) == pytest.approx(base.value(Yhat, T), rel=1e-12)
            G = loss.gradient(Lhat, L)
            np.testing.assert_allclose(G.compute(), base.gradient(Yhat, T), rtol=1e-12)
            np.testing.assert_allclose(loss.hessp(Lhat, L, G).compute(),
                                       base.hessp(Yhat, T, base.gradient(Yhat, T)), rtol=1e-12)
            P = loss.project_dual(-G, L)  # row-wise for softmax: on the chunks, never gathered
            np.testing.assert_allclose(P.compute(), base.project_dual(-base.gradient(Yhat, T), T))
            assert loss.dual_value(0.5 * P, L) == pytest.approx(
                base.dual_value(0.5 * base.project_dual(-base.gradient(Yhat, T), T), T), rel=1e-12)
        assert ChunkwiseLoss(get_loss("huber")).delta == 1.0


class _Computations:
    """Counts the Dask computations (every one goes through ``spectranet.data.daskdata._compute``)."""

    def __init__(self, monkeypatch):
        self.count, original = 0, spectranet.data.daskdata._compute

        def compute(a):
            self.count += 1
            return original(a)

        monkeypatch.setattr(spectranet.data.daskdata, "_compute", compute)

    def delta(self, func, *args, **kwargs):
        """``func``'s result and the number of computations it took."""
        before = self.count
        return func(*args, **kwargs), self.count - before


@pytest.mark.parametrize("loss", ["squared", "logistic", "softmax"])
def test_each_evaluation_step_and_certificate_is_one_pass_with_numpy_results(data, monkeypatch, loss):
    """The local phase's composites run the numpy code on each row chunk: one computation each
    (an L-BFGS evaluation, a Newton step with its batched line search, a certificate's objective
    and dual products, a batch of the search over t), with the results of the numpy backend."""
    from spectranet.certificate import T_PASSES, certify_problem
    from spectranet.local import _objective_and_gradient, newton_second_layer

    X, y, labels = data
    targets = {"squared": y, "logistic": labels, "softmax": np.digitize(y, np.quantile(y, [0.3, 0.6]))}[loss]
    host = Problem(X, targets, "relu", loss, 5.0)
    lazy = Problem(da.from_array(X, chunks=(300, 2)), da.from_array(targets, chunks=700), "relu", loss, 5.0)
    C = host.n_outputs
    rng = np.random.default_rng(2)
    U = rng.standard_normal((3, D))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    A = 0.3 * rng.standard_normal((3, C))
    S = np.sign(A)
    count = _Computations(monkeypatch)
    with dask.config.set(scheduler="sync"):
        got, passes = count.delta(_objective_and_gradient, lazy, 1.3 * U, A, S)
        assert passes == 1
        for a, b in zip(_objective_and_gradient(host, 1.3 * U, A, S), got):
            np.testing.assert_allclose(b, a, rtol=1e-11, atol=1e-9)
        Phi = lazy.hidden(U)[1]
        active = np.argwhere(A != 0)
        layers = np.stack([A, 0.5 * A, -A])
        got, passes = count.delta(lazy.data.second_layer_terms, Phi, layers, lazy.loss, active)
        assert passes == 1
        for a, b in zip(host.data.second_layer_terms(host.hidden(U)[1], layers, host.loss, active), got):
            np.testing.assert_allclose(b, a, rtol=1e-11, atol=1e-9)
        net = host.make_network(U, A)
        steps = []  # the numpy and Dask runs take the same Newton steps, one computation each
        for problem in (host, lazy):
            original = problem.data.second_layer_terms
            calls = []
            monkeypatch.setattr(problem.data, "second_layer_terms",
                                lambda *a, _f=original, _c=calls, **k: _c.append(1) or _f(*a, **k))
            result, passes = count.delta(newton_second_layer, problem, net)
            steps.append((result, len(calls), passes))
        (ref, n_ref, _), (res, n_dask, passes) = steps
        assert n_dask == n_ref == passes >= 2
        np.testing.assert_allclose(res.second_layer_2d, ref.second_layer_2d, rtol=1e-9, atol=1e-12)
        cert_ref = certify_problem(host, net)
        cert, passes = count.delta(certify_problem, lazy, net)
        assert 2 <= passes <= 1 + T_PASSES  # objective and dual products, then the search over t
        assert cert.objective == pytest.approx(cert_ref.objective, rel=1e-12)
        assert cert.lower_bound == pytest.approx(cert_ref.lower_bound, rel=1e-12)
        assert cert.lam == pytest.approx(cert_ref.lam, rel=1e-10) and cert.pair == cert_ref.pair
        assert isinstance(cert.dual, da.Array)
        ts = np.linspace(0.0, 1.0, 7)
        V = cert_ref.dual
        values, passes = count.delta(lazy.loss.dual_values, chunked(V), lazy.Y, ts)
        assert passes == 1
        np.testing.assert_allclose(values, host.loss.dual_values(V, host.Y, ts), rtol=1e-12)


def test_dask_input_validation():
    X, y, _ = planted(40, 3)
    bad = X.copy()
    bad[17, 1] = np.nan
    with dask.config.set(scheduler="sync"):
        with pytest.raises(ValueError, match="X contains NaN or infinity"):
            Problem(da.from_array(bad, chunks=10), y)
        with pytest.raises(ValueError, match="y must have shape"):
            Problem(da.from_array(X, chunks=10), da.from_array(y[:-1], chunks=10))
        with pytest.raises(TypeError, match="must be real"):
            Problem(da.from_array(X + 1j, chunks=10), y)
        with pytest.raises(ValueError, match=r"needs labels in \{-1, \+1\}"):
            Problem(da.from_array(X, chunks=10), da.from_array(y, chunks=10), loss="logistic")
        with pytest.raises(ValueError, match="does not apply to Dask arrays"):
            Problem(da.from_array(X, chunks=10), y, device="cpu")
        # softmax labels given as class indices, one-hot encoded by Dask
        labels = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
        soft = Problem(da.from_array(X, chunks=10), da.from_array(labels, chunks=10), loss="softmax")
        np.testing.assert_array_equal(soft.Y.compute(), np.eye(3)[labels])


def test_unsupported_engines_and_solvers_raise_a_clear_error():
    X, y, _ = planted(40, 3)
    Xd, yd = da.from_array(X, chunks=10), da.from_array(y, chunks=10)
    with dask.config.set(scheduler="sync"):
        problem = Problem(Xd, yd, "relu", "squared", 0.1)
        with pytest.raises(ValueError, match="sample-space interior point needs in-memory data"):
            NativeSolver(engine="ipm").solve(problem)
        with pytest.raises(ValueError, match="needs the data in memory.*solver='native'"):
            get_solver("clarabel").solve(problem)
        M = np.random.default_rng(0).standard_normal((1, 4, 4))
        np.testing.assert_allclose(problem.forward(M + M.transpose(0, 2, 1)).compute(),
                                   Problem(X, y, "relu", "squared", 0.1).forward(M + M.transpose(0, 2, 1)))
        hinge = Problem(Xd, da.sign(yd) + (yd == 0), "relu", "hinge", 0.1)
        with pytest.raises(ValueError, match="need a smooth loss"):
            NativeSolver().solve(hinge)
        for est in (ConvexPolyNetRegressor(solver="clarabel"), ConvexPolyNetRegressor(loss="absolute")):
            with pytest.raises(ValueError, match="Dask input"):
                est.fit(Xd, yd)
        with pytest.raises(ValueError, match="regularization='cubic' needs the data in memory: compute X and y first"):
            ConvexPolyNetRegressor(activation="square", regularization="cubic").fit(Xd, yd)  # (it said: use 'auto')
        with pytest.raises(ValueError, match="Dask input needs a smooth loss"):
            ConvexPolyNetClassifier(loss="hinge").fit(Xd, yd > np.median(y))


def test_threaded_scheduler_solves_too(data, monkeypatch):
    import spectranet.local
    import spectranet.newton

    X, y, _ = data
    ref = get_solver("native", engine="columns").solve(Problem(X, y, "relu", "squared", BETA["squared"]))
    count, evaluations = _Computations(monkeypatch), [0]

    def counting(module, name):
        evaluate = getattr(module, name)

        def counted(*args):
            evaluations[0] += 1
            return evaluate(*args)

        monkeypatch.setattr(module, name, counted)

    # the local phase's evaluations: L-BFGS-B's, or the trust-region Newton's systems and trials
    counting(spectranet.local, "_objective_and_gradient")
    counting(spectranet.newton, "_newton_system")
    counting(spectranet.newton, "_objective")
    with dask.config.set(scheduler="threads"):
        result = get_solver("native", engine="columns").solve(Problem(chunked(X), chunked(y), "relu", "squared",
                                                                      BETA["squared"]))
    assert result.engine == "columns" and result.gap <= 1e-6
    assert result.network_objective == pytest.approx(ref.network_objective, rel=1e-6)
    # one computation per evaluation, and a few per round for the Newton steps on the second
    # layer, the polish's start and the certificate (before the composites: 227 in all)
    assert evaluations[0] < count.count <= evaluations[0] + 8 * (result.iterations + 1)


def test_a_one_dimensional_y_of_unknown_chunk_sizes_is_fitted():
    """Boolean indexing leaves Dask chunks of unknown size; the regressor reshaped such a ``y`` by
    its NaN length (a ValueError from inside Dask); X and y are now read as docs/dask.md says."""
    X, y, _ = planted(60, 3)
    Xd, yd = da.from_array(X, chunks=20), da.from_array(y, chunks=20)
    keep = Xd[:, 0] > -100.0  # every row, in chunks of unknown size
    with dask.config.set(scheduler="sync"):
        fitted = ConvexPolyNetRegressor(beta=0.1).fit(Xd[keep], yd[keep])
    assert fitted.objective_ == pytest.approx(ConvexPolyNetRegressor(beta=0.1).fit(X, y).objective_, rel=1e-9)


def test_multiclass_softmax_on_dask_matches_numpy():
    X, y, _ = planted(300, 3, seed=0)
    labels = np.digitize(y, np.quantile(y, [0.33, 0.66]))
    ref = ConvexPolyNetClassifier(beta=5.0).fit(X, labels)
    with dask.config.set(scheduler="sync"):
        est = ConvexPolyNetClassifier(beta=5.0).fit(da.from_array(X, chunks=100), da.from_array(labels, chunks=100))
        proba = est.predict_proba(da.from_array(X, chunks=100)).compute()
    assert est.loss_.name == "softmax" and est.gap_ <= 1e-6
    assert est.network_objective_ == pytest.approx(ref.network_objective_, rel=1e-6)
    # the same algorithm on both, but chunked sums round differently, and a gap of 1e-6 pins the
    # probabilities only to about 1e-5 (measured: 2e-6 apart, depending on the BLAS threads)
    np.testing.assert_allclose(proba, ref.predict_proba(X), atol=1e-5)


# -- on the LocalCluster ----------------------------------------------------------------------------

def test_regressor_on_cluster_equals_in_memory_fit(client, data):
    X, y, _ = data
    ref = ConvexPolyNetRegressor(beta=BETA["squared"]).fit(X, y)
    est = ConvexPolyNetRegressor(beta=BETA["squared"]).fit(chunked(X), chunked(y))
    assert est.status_ == "optimal" and est.gap_ <= 1e-6 and est.solver_ == "native"
    assert est.network_objective_ == pytest.approx(ref.network_objective_, rel=1e-6)
    assert est.lower_bound_ <= ref.network_objective_ * (1 + 1e-12)
    assert est.n_features_in_ == D and est.loss_.name == "squared"
    pred = est.predict(chunked(X))
    assert isinstance(pred, da.Array) and pred.shape == (N,)
    np.testing.assert_allclose(pred.compute(), ref.predict(X), rtol=1e-6, atol=1e-6 * np.abs(y).max())
    np.testing.assert_allclose(est.predict(X[:7]), pred[:7].compute())  # numpy in, numpy out
    assert isinstance(est.certificate_.dual, da.Array)  # n x C: stays on the workers
    clone = pickle.loads(pickle.dumps(est))  # without the workers' memory
    assert clone.certificate_.dual is None and clone.gap_ == est.gap_
    np.testing.assert_array_equal(clone.predict(X[:7]), est.predict(X[:7]))
    assert not [m for m in client.scheduler_warnings if "run_spec" in m]


def test_classifier_on_cluster_equals_in_memory_fit(client, data):
    X, _, labels = data
    names = np.where(labels > 0, "yes", "no")
    ref = ConvexPolyNetClassifier(beta=BETA["logistic"]).fit(X, names)
    est = ConvexPolyNetClassifier(beta=BETA["logistic"]).fit(chunked(X), chunked(names))
    np.testing.assert_array_equal(est.classes_, ["no", "yes"])
    assert est.status_ == "optimal" and est.gap_ <= 1e-6
    assert est.network_objective_ == pytest.approx(ref.network_objective_, rel=1e-6)
    Xd = chunked(X)
    pred, proba = est.predict(Xd), est.predict_proba(Xd)
    assert isinstance(pred, da.Array) and isinstance(proba, da.Array)
    pred, proba = dask.compute(pred, proba)
    np.testing.assert_allclose(proba, ref.predict_proba(X), atol=1e-6)
    margin = np.abs(ref.decision_function(X)) > 1e-5
    np.testing.assert_array_equal(pred[margin], ref.predict(X)[margin])
    assert not [m for m in client.scheduler_warnings if "run_spec" in m]


def test_sweeps_through_the_joblib_dask_backend(client):
    from joblib import parallel_backend
    from sklearn.model_selection import GridSearchCV

    X, y, _ = planted(60, 3, seed=4)
    grid = {"beta": [0.1, 1.0, 10.0]}
    serial = GridSearchCV(ConvexPolyNetRegressor(), grid, cv=3).fit(X, y)
    with parallel_backend("dask"):
        parallel = GridSearchCV(ConvexPolyNetRegressor(), grid, cv=3, n_jobs=2).fit(X, y)
        path = regularization_path(X, y, beta_max(X, y) * np.array([1.1, 0.3, 0.1, 0.01]), n_jobs=2)
    assert parallel.best_params_ == serial.best_params_
    np.testing.assert_allclose(parallel.cv_results_["mean_test_score"],
                               serial.cv_results_["mean_test_score"], rtol=1e-6)
    one = regularization_path(X, y, path.betas)
    np.testing.assert_allclose(path.objectives, one.objectives, rtol=1e-6)
    assert np.all(path.gaps <= 1e-6) and path.n_neurons[0] == 0


def test_a_worker_killed_mid_fit_is_recovered_or_raises(client, data, monkeypatch):
    """SIGKILL one worker process at the 5th computation of the fit: Dask recomputes what it
    held (the nanny starts a new worker), and the fit ends certified at the in-memory optimum; an
    unrecoverable loss must surface as an exception, never as a wrong model."""
    X, y, _ = data
    ref = ConvexPolyNetRegressor(beta=BETA["squared"]).fit(X, y)
    victim = next(iter(client.run(os.getpid).values()))  # one worker process (its nanny restarts it)
    calls, killed = [0], []
    original = spectranet.data.daskdata._compute  # every computation of the fit goes through it

    def compute(a):
        calls[0] += 1
        if calls[0] == 5 and not killed:
            os.kill(victim, signal.SIGKILL)
            killed.append(calls[0])
        return original(a)

    monkeypatch.setattr(spectranet.data.daskdata, "_compute", compute)
    try:
        est = ConvexPolyNetRegressor(beta=BETA["squared"]).fit(chunked(X), chunked(y))
    except Exception as exc:  # surfaced: acceptable, as long as it is an error
        assert killed, f"the fit failed before the worker was killed: {exc!r}"
        return
    assert killed and calls[0] > 5
    assert est.status_ == "optimal" and est.gap_ <= 1e-6
    assert est.network_objective_ == pytest.approx(ref.network_objective_, rel=1e-6)
    np.testing.assert_allclose(est.predict(chunked(X)).compute(), ref.predict(X), rtol=1e-6,
                               atol=1e-6 * np.abs(y).max())
