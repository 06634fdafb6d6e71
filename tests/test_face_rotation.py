"""The face's rotation: Newton's method on the factors of a face polish's point turns a face that is
off by a small angle into the optimal one, whose network certifies itself."""

import numpy as np
import pytest
from scipy.linalg import block_diag, expm

from spectranet import Conv2D, PolyActivation, Problem, beta_max, certify
from spectranet import face_rotation as fr
from spectranet.certificate import certify_problem
from spectranet.face import face_polish
from spectranet.solvers import native_run
from spectranet.solvers.native import NativeSolver

from ._data import planted


def _problem(loss, rel=1e-3, n=400, d=8, seed=0, outputs=None, activation="relu"):
    X, y, _ = planted(n=n, d=d, seed=seed, outputs=outputs)
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    base = Problem(X, y, activation, loss, 0.0)
    return base.with_beta(rel * beta_max(base))


def _optimum(problem):
    result = NativeSolver(engine="ipm").solve(problem, tol=1e-9)
    return result, result.lifted


def _turned(Z, angle, seed=0):
    """Each block of ``Z`` turned by an orthogonal matrix ``angle`` away from the identity."""
    rng = np.random.default_rng(seed)
    out = np.empty_like(Z)
    for p, M in enumerate(Z):
        A = rng.standard_normal(M.shape)
        R = expm(angle * (A - A.T) / np.linalg.norm(A - A.T))
        out[p] = R @ M @ R.T
    return out


def _lagrangian(system):
    return system.value - float(system.lam @ system.c)


@pytest.mark.parametrize("loss, outputs, activation", [
    ("squared", None, "relu"), ("logistic", None, "relu"), ("squared", 3, "relu"),
    ("huber", 2, PolyActivation(-0.3, 0.7, -0.2))])
def test_gradient_and_hessian_match_finite_differences(loss, outputs, activation):
    problem = _problem(loss, n=120, d=4, outputs=outputs, activation=activation)
    _, (Z, Zp) = _optimum(problem)
    rng = np.random.default_rng(1)
    cones, Ls = map(list, zip(*fr._factors(Z, Zp)))
    Ls = [L + 1e-2 * rng.standard_normal(L.shape) for L in Ls]  # off the optimum: a nonzero gradient
    system = fr._System(problem, cones, Ls)
    x0 = np.concatenate([L.ravel() for L in Ls])

    def at(x):
        return fr._System(problem, cones, [x[a:b].reshape(L.shape) for a, b, L in
                                           zip(system.offsets[:-1], system.offsets[1:], Ls)], system.lam)

    v = rng.standard_normal(x0.size)
    for i, L in enumerate(Ls):  # no rotation of a factor: the Hessian carries a penalty there
        block = slice(system.offsets[i], system.offsets[i + 1])
        if L.shape[1] > 1:
            B = fr._rotations(L)
            v[block] -= np.linalg.lstsq(B, B @ v[block], rcond=None)[0]
    eps = 1e-5
    plus, minus = _lagrangian(at(x0 + eps * v)), _lagrangian(at(x0 - eps * v))
    assert system.grad @ v == pytest.approx((plus - minus) / (2 * eps), rel=1e-6)
    blocks = [system.hessian(k, members) for k, members in system.outputs()]  # one per output
    H = block_diag(*[np.tril(B) + np.tril(B, -1).T for B in blocks])
    second = (plus - 2 * _lagrangian(system) + minus) / eps ** 2
    assert v @ H @ v == pytest.approx(second, rel=1e-4)
    c_plus, c_minus = at(x0 + eps * v).c, at(x0 - eps * v).c
    np.testing.assert_allclose(system.A @ v, (c_plus - c_minus) / (2 * eps), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_rotation_finds_the_optimal_face_from_a_turned_one(loss):
    problem = _problem(loss)
    result, (Z, Zp) = _optimum(problem)
    Zt, Zpt = _turned(Z, 5e-3), _turned(Zp, 5e-3, seed=1)
    off = face_polish(problem, Zt, Zpt, *fr.face_marks(Zt, Zpt))
    alone = certify(off.network, problem.X, problem.Y, problem.loss, problem.beta)
    assert alone.gap > 1e-5  # the optimum on a face turned by 5e-3 proves little by itself
    turned = fr.rotate_face(problem, off.Z, off.Z_prime)
    face = face_polish(problem, *turned, *fr.face_marks(*turned))
    own = certify(face.network, problem.X, problem.Y, problem.loss, problem.beta)
    assert own.gap <= 1e-9
    assert own.objective == pytest.approx(result.network_objective, rel=1e-9)
    assert face.network.n_neurons == result.n_neurons


def test_face_marks_select_each_blocks_range():
    from spectranet.face import face_basis

    rng = np.random.default_rng(0)
    p = 6
    blocks = [np.zeros((p, p))]  # rank 0, then 1, 3 and full rank
    for r in (1, 3, p):
        F = rng.standard_normal((p, r))
        blocks.append(F @ F.T)
    Z, Zp = np.stack(blocks[:2]), np.stack(blocks[2:])
    S, Sp = fr.face_marks(Z, Zp)
    for M, T, rank in ((Z[0], S[0], 0), (Z[1], S[1], 1), (Zp[0], Sp[0], 3), (Zp[1], Sp[1], p)):
        basis = face_basis(M, T)
        assert basis.shape[1] == rank
        np.testing.assert_allclose(basis @ (basis.T @ M), M, atol=1e-12 * max(np.abs(M).max(), 1.0))


def test_not_applicable_where_it_does_not_run():
    problem = _problem("squared", n=120, d=4)
    _, (Z, Zp) = _optimum(problem)
    assert fr.applicable(problem, Z, Zp)
    hinge = Problem(problem.X, np.sign(problem.Y), "relu", "hinge", problem.beta)
    assert not fr.applicable(hinge, Z, Zp) and fr.rotate_face(hinge, Z, Zp) is None
    assert not fr.applicable(problem, np.zeros_like(Z), np.zeros_like(Zp))  # no face at all
    rng = np.random.default_rng(0)
    images = Problem(rng.standard_normal((30, 1, 5, 5)), rng.standard_normal(30), "relu", "squared", 0.1,
                     architecture=Conv2D((1, 5, 5), 3, pool="global"))
    f = images.n_features + 1
    assert not fr.applicable(images, np.eye(f)[None], np.zeros((1, f, f)))


def test_the_interior_point_turns_its_faces_only_when_self_certifying(monkeypatch):
    # planted 400 x 8 at 1e-5 beta_max: the face of the first iterate polished proves 4.4e-6 by
    # itself; turned, 2e-13
    problem = _problem("squared", 1e-5, seed=2)
    calls = []
    original = native_run._Run._rotate

    def spy(self, found, cert):
        out = original(self, found, cert)
        calls.append((cert.own_gap, out[1].own_gap))
        return out

    monkeypatch.setattr(native_run._Run, "_rotate", spy)
    result = NativeSolver(engine="ipm").solve(problem)
    assert calls and calls[0][0] > 1e-6 >= calls[0][1]
    assert result.gap <= 1e-6 and result.certificate.own_gap <= 1e-6
    calls.clear()
    plain = NativeSolver(engine="ipm", self_certify=False).solve(problem)
    assert not calls and plain.gap <= 1e-6
    assert plain.network_objective == pytest.approx(result.network_objective, rel=1e-6)


def test_no_rotation_past_its_deadline():
    import time

    problem = _problem("squared", n=120, d=4)
    _, (Z, Zp) = _optimum(problem)
    Zt, Zpt = _turned(Z, 5e-3), _turned(Zp, 5e-3, seed=1)
    assert fr.rotate_face(problem, Zt, Zpt, deadline=time.perf_counter() - 1.0) is None
    assert fr.rotate_face(problem, Zt, Zpt, deadline=time.perf_counter() + 60.0) is not None


def test_an_overflowing_step_keeps_the_last_finite_point(monkeypatch):
    # LAPACK factors matrices holding NaN without complaint: a step that overflows must not reach
    # the face polish (its eigendecomposition raised) nor the network
    problem = _problem("squared", 1e-5, seed=2)
    original, made = fr._System.__init__, []

    def overflowing(self, problem, cones, Ls, lam=None, model=None):
        made.append(1)
        if len(made) == 2:  # the point after the first Newton step
            Ls = [L * np.inf if i == 0 else L for i, L in enumerate(Ls)]
        original(self, problem, cones, Ls, lam, model)

    monkeypatch.setattr(fr._System, "__init__", overflowing)
    result = NativeSolver(engine="ipm").solve(problem)
    assert len(made) >= 2  # the rotation ran and met the overflow
    assert result.gap <= 1e-6 and result.certificate.own_gap <= 1e-6
    assert np.all(np.isfinite(result.network.first_layer)) and np.all(np.isfinite(result.network.second_layer))


def test_torch_data_turn_their_faces_on_the_host_copy(monkeypatch):
    torch = pytest.importorskip("torch")
    problem = _problem("squared", 1e-5, seed=2)
    calls = []
    original = native_run._Run._rotate

    def spy(self, found, cert):
        out = original(self, found, cert)
        calls.append(out[1].own_gap)
        return out

    monkeypatch.setattr(native_run._Run, "_rotate", spy)
    ref = NativeSolver(engine="ipm").solve(problem)
    tensors = Problem(torch.tensor(problem.X), problem.Y, "relu", "squared", problem.beta)
    result = NativeSolver(engine="ipm").solve(tensors)
    assert len(calls) == 2 and calls[1] == pytest.approx(calls[0], rel=1e-3, abs=1e-12)
    assert result.n_neurons == ref.n_neurons and result.certificate.own_gap <= 1e-6
    assert result.network_objective == pytest.approx(ref.network_objective, rel=1e-9)


@pytest.mark.parametrize("loss, outputs", [("squared", None), ("logistic", None), ("squared", 2)])
def test_the_lifted_objective_gives_the_same_system_as_the_passes(loss, outputs):
    from spectranet.solvers.lifted import objective_model

    problem = _problem(loss, n=120, d=4, outputs=outputs)
    _, (Z, Zp) = _optimum(problem)
    rng = np.random.default_rng(2)
    cones, Ls = map(list, zip(*fr._factors(Z, Zp, problem.n_outputs)))
    Ls = [L + 1e-2 * rng.standard_normal(L.shape) for L in Ls]
    passes = fr._System(problem, cones, Ls)
    lifted = fr._System(problem, cones, Ls, model=objective_model(problem))
    assert lifted.value == pytest.approx(passes.value, rel=1e-12)
    np.testing.assert_allclose(lifted.grad, passes.grad, rtol=1e-9, atol=1e-9 * np.abs(passes.grad).max())
    for k, members in passes.outputs():
        np.testing.assert_allclose(lifted.hessian(k, members), passes.hessian(k, members), rtol=1e-8,
                                   atol=1e-9 * np.abs(passes.hessian(k, members)).max())


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_a_pooled_cnn_turns_its_face_with_the_lifted_objective(loss):
    # global average pooling of 3 x 3 filters on 6 x 6 images: the grouped lift, no dense Jacobian;
    # the lifted objective's Hessian and gradient serve instead
    from spectranet.solvers.lifted import objective_model

    rng = np.random.default_rng(3)
    images = rng.standard_normal((150, 1, 6, 6))
    y = np.tanh(images[:, 0, 1:4, 1:4].reshape(150, -1) @ rng.standard_normal(9)) + 0.1 * rng.standard_normal(150)
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    base = Problem(images, y, "relu", loss, 0.0, architecture=Conv2D((1, 6, 6), 3, pool="global"))
    problem = base.with_beta(1e-3 * beta_max(base))
    result = NativeSolver(engine="lifted").solve(problem, tol=1e-9)
    Z, Zp = result.lifted
    assert not fr.applicable(problem, Z, Zp) and fr.applicable(problem, Z, Zp, objective_model(problem))
    Zt, Zpt = _turned(Z, 5e-3), _turned(Zp, 5e-3, seed=1)
    off = face_polish(problem, Zt, Zpt, *fr.face_marks(Zt, Zpt))
    alone = certify_problem(problem, off.network)
    turned = fr.rotate_face(problem, off.Z, off.Z_prime, model=objective_model(problem))
    face = face_polish(problem, *turned, *fr.face_marks(*turned))
    own = certify_problem(problem, face.network)
    assert own.gap < 1e-3 * alone.gap and own.gap <= 1e-9
    assert own.objective == pytest.approx(result.network_objective, rel=1e-9)
