"""The state and steps of one :meth:`NativeSolver.solve <spectranet.solvers.native.NativeSolver.solve>`:
the engines' runs (column generation, the low-rank engine, the two interior points with their accept
hook and face polish), the network each gives and its certificate, and the thresholds they use."""

from __future__ import annotations

import logging
import time

from .. import newton
from .._blas import single_threaded_numpy_blas
from ..active_set import active_set_polish
from ..certificate import certify_problem
from ..local import column_generation, polish, tighten
from . import dispatch, ipm, lifted
from .base import TIME_LIMIT_HINT, SolveResult, certified_result, extract_network, tiny_beta_hint

__all__ = ["TRIAL_GAP", "EXTEND_GAP", "LOWRANK_TRIAL_GAP", "IPM_GAP", "ACCEPT_GAP", "SELF_ACCEPT_GAP", "SELF_GAP",
           "RETRY_FACTOR", "RETRY_ITERATIONS", "TIGHTEN_SHARE", "ROTATE_SHARE", "ROTATIONS", "ROTATE_AGAIN",
           "IPM_MAX_ITER"]

logger = logging.getLogger("spectranet.solvers.native")

#: see the milestone of the narrow engine's trial in :meth:`NativeSolver._run`
TRIAL_GAP = 0.1
#: a low-rank trial whose gap is below EXTEND_GAP at any round gets its budget doubled, once
#: (10^5 x 20 planted logistic at 0.01 beta_max: gap 5e-4 when its 1.9 s ran out, certified at
#: 4.6 s, the lifted engine's 7.3 s saved)
EXTEND_GAP = 1e-2
#: the milestone bar of a low-rank trial (TRIAL_GAP is column generation's): its gap falls fast
#: once its subspace is nearly complete (spambase logistic at 1e-3 beta_max: 0.23 at the
#: milestone, certified at 5 s); while above the bar, its subspace polish also stops at the
#: milestone (10^5 x 20 logistic at 1e-3 beta_max, gap 0.79 after the first round: the failing
#: trial ends 1.2 s sooner; at 1e-2 beta_max the gap is 0.15 there and the trial certifies)
LOWRANK_TRIAL_GAP = 0.5
#: the interior-point engines stop at a certified relative gap of IPM_GAP * tol: the extracted
#: network is then certified by the engine's dual to about half that (measured on the planted
#: 1000 x 50 and UCI instances), and :func:`~spectranet.local.tighten` only works on when it is not
IPM_GAP = 0.1
#: from a relative gap of ACCEPT_GAP * tol on, each interior-point iterate's extracted network is
#: certified (two eigendecompositions of order f+1 and a pass over the data): the first one
#: certified to ``tol`` ends the solve, usually an iteration before IPM_GAP * tol
ACCEPT_GAP = 2.0
#: with self-certification, the iterates are face-polished from a gap of SELF_ACCEPT_GAP * tol on
#: (:mod:`spectranet.face`: the face is visible only once the iterate is close), the first whose
#: network certifies itself ends the solve, and the engines run to SELF_GAP * tol at most
#: (measured, planted 1000 x 50, beta = 1e-6 beta_max: the face of the iterate at 1e-6 gives an own
#: gap of 4e-4, at 1e-8 of 2e-7)
SELF_ACCEPT_GAP, SELF_GAP = 0.1, 1e-3
#: see :meth:`_Tried.due` (planted 1000 x 50, beta = 1e-3: own gaps 3.7e-6, 1.1e-6, 2.1e-7 from the
#: faces of iterates at gaps 9.3e-8, 5.6e-8, 3.9e-9; at beta = 1e-6 the engine stalls at 1.7e-8 and
#: repeated the same polish nine times). The own gap is no smooth function of the iterate's gap
#: (credit-approval logistic at 0.01 beta_max: 1.6e-4 from the face at 1.8e-8, 8e-11 at 2.8e-9:
#: the face is either the optimal one or not), so no finer prediction is attempted.
RETRY_FACTOR, RETRY_ITERATIONS = 2.0, 3
#: see :meth:`_Run._tighten_after_face`
TIGHTEN_SHARE = 0.5
#: the most unknowns of the active-set polish that narrows a certified network of a polyhedral loss
#: (:meth:`_Run._narrower_on_kinks`; its dense Levenberg-Marquardt: 0.06 s at 185 unknowns, diabetes,
#: 2.6 s at 780, planted 300 x 20)
LEAN_KINK_UNKNOWNS = 500
#: see :meth:`_Run._rotation_pays` (spambase, squared loss, 1e-6 beta_max, n = 4601: N = 3364, a
#: Newton step of the rotation 1.0-1.7 s against 3.1-3.7 s for an iteration in the split form;
#: planted 1000 x 50 at beta = 1e-3, N = 2091: 0.26-0.3 s a step against 0.1 s an iteration)
ROTATE_SHARE = 1.0
#: rotations of one face polish's face at most, and the fall of the own gap that earns another
#: (see :meth:`_Run._rotate`)
ROTATIONS, ROTATE_AGAIN = 2, 0.1
#: the end of the ConvergenceWarning of an uncertified result, by what stopped the solve
LIMIT_HINTS = {"time_limit": TIME_LIMIT_HINT,
               "max_iter": "; try a larger max_iter or standardized features",
               "": "; try standardized features, or solver='clarabel'"}
#: iterations of an interior-point engine when ``max_iter`` is not given (spambase logistic at
#: 1e-6 beta_max: 110, its nonlinear link met only at iteration 107; most cells take 10 to 40)
IPM_MAX_ITER = 300


def _proves_more(network, cert, before, before_cert, narrower: bool = True) -> bool:
    """Whether a polish's ``network`` (certificate ``cert``, from the same dual point) replaces
    ``before``: certified if ``before`` was, a smaller own gap (or, with ``narrower``, fewer
    neurons), and an objective no larger (to 1e-9 relative: the polishes' rounding)."""
    better = cert.own_gap < before_cert.own_gap or (narrower and network.n_neurons < before.n_neurons)
    return ((cert.is_optimal or not before_cert.is_optimal) and better
            and cert.objective <= before_cert.objective * (1 + 1e-9))


#: a face polish not yet computed (see :meth:`_Run._face`)
_UNSET = object()


class _Tried:
    """The best network the face polishes of an engine's iterates gave so far (``candidate``:
    network, certificate, lifted point), the iterate's ``gap`` at the last polish and the engine's
    iterations since (``waited``)."""

    def __init__(self, candidate, gap: float):
        self.candidate, self.gap, self.waited = candidate, gap, 0

    def due(self, gap: float) -> bool:
        """Whether to polish the iterate at ``gap``: once the gap has fallen by RETRY_FACTOR, or at all
        and the engine has run RETRY_ITERATIONS iterations since (a stalled engine does not repeat a
        polish). In iterations, not seconds: the same data give the same network under any load."""
        return gap <= self.gap / RETRY_FACTOR or (gap < self.gap and self.waited >= RETRY_ITERATIONS)


class _Run:
    """The state of one :meth:`NativeSolver.solve`: history, iterations, the lifted point."""

    def __init__(self, solver, problem, tol, max_iter, verbose, start_time, lifted_objective, deadline=None):
        self.solver, self.problem, self.tol, self.max_iter = solver, problem, tol, max_iter
        self.deadline, self.limit = deadline, ""
        self.verbose, self.start_time = verbose, start_time
        self.history, self.iterations, self.lifted = [], 0, None
        self.tried = None  # see _accept
        self.iterate_on = None  # the problem the sample-space interior point iterates on, when not ``problem``
        self.rotating = None  # the interior point whose face polishes may turn their faces (_rotation_pays)
        self.beta_max = None  # (data, loss, beta_max) of the problem solved: for a warm start
        self.lifted_objective = lifted_objective
        self.log = logger.info if verbose else logger.debug

    def until(self, deadline):
        """The earlier of ``deadline`` and the solve's own (``max_time``)."""
        if deadline is None or self.deadline is None:
            return self.deadline if deadline is None else deadline
        return min(deadline, self.deadline)

    def share(self, fraction: float) -> float | None:  # a deadline: now + fraction of the time so far
        now = time.perf_counter()
        return self.until(now + fraction * (now - self.start_time))

    def out_of_time(self) -> bool:
        if self.deadline is not None and time.perf_counter() > self.deadline:
            self.limit = "time_limit"
            return True
        return False

    def remaining(self, default: int) -> int:
        """The iterations (or rounds) the next engine may run: what ``max_iter`` leaves of the solve's
        (engines share it: a trial's rounds count), ``default`` without one."""
        return default if self.max_iter is None else max(0, int(self.max_iter) - self.iterations)

    def spent(self) -> bool:
        """Whether the caller's budget is used up: its ``max_iter`` (then no polish runs after the
        engine: ``max_iter=1`` on planted 500 x 20 took 3.4 s of face polish and tightening after an
        iteration of 10 ms, against 0.18 s for the whole unlimited fit) or ``max_time``."""
        return (self.max_iter is not None and self.limit == "max_iter") or self.out_of_time()

    def record(self, net, cert):
        self.history.append((time.perf_counter() - self.start_time, cert.objective, cert.lower_bound))
        self.log("native: %d neurons, objective %.10g, bound %.10g, gap %.2e", net.n_neurons, cert.objective,
                 cert.lower_bound, cert.gap)

    def columns(self, network, deadline, milestone):
        """Column generation from ``network`` (float64 data: :meth:`NativeSolver.solve` works on
        :meth:`~spectranet.problem.Problem.in_float64`)."""
        problem = self.problem
        max_rounds = self.remaining(25 * problem.max_neurons())
        network, cert, rounds = column_generation(problem, network, tol=self.tol, max_rounds=max_rounds,
                                                  callback=self.record, deadline=deadline, milestone=milestone)
        self.iterations += rounds
        if not cert.is_optimal:
            if self.out_of_time():
                pass
            elif rounds >= max_rounds:
                self.limit = "max_iter"
        return network, cert

    def lowrank(self, deadline, milestone):
        """The low-rank engine (a cold start), stopped at ``deadline`` or when the gap is still
        above ``milestone[1]`` at ``milestone[0]``."""
        from .lowrank import solve_lowrank

        class _Milestone(Exception):
            pass

        # a trial (milestone given) moves its deadline: to the milestone while the gap is above
        # the milestone's bar, doubled once the gap is below EXTEND_GAP
        moving = {"at": deadline, "extended": False, "gap": 1.0}

        def until():
            if milestone is not None and moving["gap"] > milestone[1]:
                return min(moving["at"], milestone[0])
            return moving["at"]

        def check(gap):
            moving["gap"] = gap
            if milestone is None:
                return
            if time.perf_counter() > milestone[0] and gap > milestone[1]:
                raise _Milestone
            if gap <= EXTEND_GAP and not moving["extended"]:
                moving["at"], moving["extended"] = self.until(2 * deadline - self.start_time), True
                self.log("native: low-rank gap %.2e below %.2g; trial extended to %.2fs", gap, EXTEND_GAP,
                         moving["at"] - self.start_time)

        max_rounds = self.remaining(200)
        try:
            network, cert, rounds = solve_lowrank(self.problem, tol=self.tol, max_rounds=max_rounds,
                                                  verbose=self.verbose, deadline=until,
                                                  callback=check)
        except _Milestone:
            self.log("native: low-rank gap above %.2g at the milestone; stopping", milestone[1])
            zero = self.problem.zero_network()
            return zero, certify_problem(self.problem, zero, tol=self.tol)
        self.iterations += rounds
        if not cert.is_optimal and not self.out_of_time() and rounds >= max_rounds:
            self.limit = "max_iter"
        self.record(network, cert)
        return network, cert

    def _accept(self, dual_of):
        """The accept hook of an interior-point engine: extract the iterate's network and keep it
        when the iterate's dual point certifies it to ``tol``; with self-certification, keep its
        face polish when that certifies itself (and nothing otherwise: the engine goes on).

        After a face polish that gave no network that certifies itself, the next is tried when it
        is due (:meth:`_Tried.due`); the best network tried is kept in ``self.tried``."""
        accepted = []

        def accept(Z, Z_prime, S, S_prime, *dual_args, gap):
            if self.solver.self_certify and self.tried is not None:
                self.tried.waited += 1
                if not self.tried.due(gap):
                    return False
            V, face = dual_of(Z, Z_prime, *dual_args), _UNSET
            if self.solver.self_certify:  # a face polish that certifies itself needs no extraction
                face = self._face_polish(Z, Z_prime, S, S_prime)
                proof = None if face is None else certify_problem(self.problem, face.network, dual=V, tol=self.tol)
                if proof is not None and proof.is_optimal and proof.own_gap <= self.tol:
                    self.log("native: face polish: %d neurons, own gap %.2e", face.network.n_neurons, proof.own_gap)
                    accepted[:] = [(face.network, proof, (face.Z, face.Z_prime))]
                    return True
            net = extract_network(self.problem, Z, Z_prime, self.solver.rank_tol)
            found = certify_problem(self.problem, net, dual=V, tol=self.tol)
            if not self.solver.self_certify:
                accepted[:] = [(net, found, None)] if found.is_optimal else []
                return found.is_optimal
            extracted = (net, found, None)
            net, found, point = self._face(Z, Z_prime, S, S_prime, net, found, face)
            ok = found.is_optimal and found.own_gap <= self.tol
            accepted[:] = [(net, found, point)] if ok else []
            if not ok:  # (the face's network may be narrower than the extraction but prove less)
                best = min([c for c in (self.tried and self.tried.candidate, extracted, (net, found, point)) if c],
                           key=lambda c: self._rank(*c[:2]))
                self.tried = _Tried(best, gap)
            return ok

        return accept, accepted

    def _tighten_after_face(self, candidates, dual):
        """The best of ``candidates`` (``(network, certificate, lifted point)``, see :meth:`_rank`),
        after :func:`~spectranet.local.tighten` of the best one when it is not proven to ``tol`` (by
        the dual point, and with ``self_certify`` by itself), or of the narrowest one the dual
        certifies when it is narrower. Tighten gets TIGHTEN_SHARE of the solve's time so far when the
        dual certifies the best (none on data of LOWRANK_ENTRIES entries or more), else as long again.
        (credit-approval logistic at 0.01 beta_max: the face's 8 neurons prove 2.8e-6 by themselves,
        7.8e-11 tightened, in 0.1 s; 10^5 x 20 squared at 2e-5 beta_max: 4 s of L-BFGS for nothing.)"""
        best = min(candidates, key=lambda c: self._rank(*c[:2]))
        narrowest = min((c for c in candidates if c[1].is_optimal), key=lambda c: c[0].n_neurons, default=best)
        proven = best[1].is_optimal and (best[1].own_gap <= self.tol or not self.solver.self_certify)
        target = best if not proven else narrowest if narrowest[0].n_neurons < best[0].n_neurons else None
        if self._certified_on_large_data(best[1]):
            target = None
        if target is None or self.spent():
            return best
        network, cert = tighten(self.problem, target[0], tol=self.tol, dual=target[1].dual if dual is None else dual,
                                deadline=self.share(TIGHTEN_SHARE if best[1].is_optimal else 1.0))
        return min([best, (network, cert, None)], key=lambda c: self._rank(*c[:2]))

    def _narrower_on_kinks(self, candidate):
        r"""The active-set polish (:func:`~spectranet.active_set.active_set_polish`) of a certified
        network of a polyhedral loss. With ``lean``, where it drops a neuron whose dual function is
        off :math:`\pm\beta` (the spurious components of an inexact interior-point solution) and
        puts the kink samples on their kinks: kept when it certifies ``tol`` with fewer neurons
        (planted 1000 x 10, absolute loss, 1e-5 beta_max: 22 -> 11 neurons, gap 1e-7 -> 2e-11) and
        loses no self-certification. With ``self_certify``, also where the network does not prove
        itself: the polished network solves its optimality conditions exactly, so its kink dual
        (:mod:`spectranet.kink_dual`) proves it by itself (diabetes, absolute, 1e-4 beta_max: own
        gap 2e-4 -> 8e-13); kept when it proves more with no more neurons. Systems of more than
        LEAN_KINK_UNKNOWNS unknowns are not tried."""
        network, cert, _ = candidate
        problem = self.problem
        polyhedral = problem.loss.kinks(problem.Y) is not None
        certify_self = self.solver.self_certify and cert.own_gap > self.tol
        if not ((self.solver.lean or certify_self) and cert.is_optimal and polyhedral) or self.spent():
            return candidate
        found = active_set_polish(problem, network, cert.dual, max_unknowns=LEAN_KINK_UNKNOWNS,
                                  narrower=not certify_self)
        if found is None:
            return candidate
        again = certify_problem(problem, found[0], dual=found[1], tol=self.tol)
        self.log("native: active-set polish: %d -> %d neurons, gap %.2e -> %.2e, own gap %.2e -> %.2e",
                 network.n_neurons, found[0].n_neurons, cert.gap, again.gap, cert.own_gap, again.own_gap)
        if not again.is_optimal or found[0].n_neurons > network.n_neurons:
            return candidate
        narrower = self.solver.lean and found[0].n_neurons < network.n_neurons
        if (narrower and (again.own_gap <= self.tol or cert.own_gap > self.tol)) or again.own_gap < cert.own_gap:
            return found[0], again, None
        return candidate

    def _certified_on_large_data(self, cert) -> bool:
        """Whether ``cert`` is proven by the dual point on data of LOWRANK_ENTRIES entries or more:
        there a polish pass costs what an engine's iteration does, for little, and none runs (CIFAR-10
        GAP CNN, squared, 1e-6 beta_max: an exact Newton polish of 2.8 s for no better network)."""
        return cert.is_optimal and self.problem.n_samples * self.problem.n_features >= dispatch.LOWRANK_ENTRIES

    def _rank(self, network, cert):
        """Order of the networks an engine's iterates gave (smaller is better): certified by the
        dual point first, then certifying itself, then narrower, then a smaller own gap."""
        proves = cert.own_gap <= self.tol
        return (not cert.is_optimal, not proves, network.n_neurons if proves else cert.own_gap)

    def interior_point(self, engine: str):
        problem, tol = self.problem, self.tol
        certify_self = self.solver.self_certify
        stop, accept_gap = ((SELF_GAP * tol, SELF_ACCEPT_GAP * tol) if certify_self else
                            (IPM_GAP * tol, ACCEPT_GAP * tol))
        self.rotating = engine
        max_iter = self.remaining(IPM_MAX_ITER)
        if engine == "ipm":
            accept, accepted = self._accept(lambda Z, Zp, V: V)
            sol = ipm.solve_lifted(self.iterate_on or problem, tol=stop, max_iter=max_iter,
                                   verbose=self.verbose, accept=accept, accept_gap=accept_gap, deadline=self.deadline)
            dual = sol.dual
        else:
            self.lifted_objective = lifted.objective_model(problem, self.lifted_objective)
            def lifted_dual(Z, Zp, t, V):
                if V is None:  # the squared loss (never formed in the iterations): at the iterate's outputs
                    V = -problem.loss.gradient(problem.forward(Z - Zp), problem.Y)
                return t * problem.data.host(V) if not problem.is_dask else t * V

            accept, accepted = self._accept(lifted_dual)
            sol = lifted.solve_lifted_space(problem, tol=stop, max_iter=max_iter,
                                            verbose=self.verbose, accept=accept, accept_gap=accept_gap,
                                            objective=self.lifted_objective, deadline=self.deadline)
            self.lifted_objective = sol.objective_model
            dual = None if accepted else lifted_dual(sol.Z, sol.Z_prime, sol.dual_scale, sol.dual)
        self.history.extend(sol.history)
        self.iterations += sol.iterations
        self.lifted = (sol.Z, sol.Z_prime)
        self.limit = {"time_limit": "time_limit", "max_iter": "max_iter"}.get(sol.status, "")
        bound = getattr(sol, "lower_bound", getattr(sol, "dual_objective", None))
        final_gap = (sol.objective - bound) / max(abs(sol.objective), 1e-300)
        tried = self.tried if certify_self and not accepted else None
        faced = None  # the lifted point of a face polish's network (the optimum on its face)
        if accepted:
            network, cert, faced = accepted[0]
        elif tried is not None and tried.candidate[1].is_optimal and not tried.due(final_gap):
            # the engine stopped before another face polish was due: the best tried
            network, cert, faced = tried.candidate
        else:
            network = extract_network(problem, sol.Z, sol.Z_prime, self.solver.rank_tol)
            face = sol.S is not None and (certify_self or self.solver.lean)
            if self.spent():  # the extraction, as it is
                cert = certify_problem(problem, network, dual=dual, tol=tol)
            elif not face:
                network, cert = tighten(problem, network, tol=tol, dual=dual, deadline=self.share(1.0))
            else:  # the face polish first, tighten after it only where it is still needed
                cert = certify_problem(problem, network, dual=dual, tol=tol)
                found = self._face(sol.Z, sol.Z_prime, sol.S, sol.S_prime, network, cert)
                network, cert, faced = self._tighten_after_face([found] + ([tried.candidate] if tried else []), dual)
        self.lifted = faced or self.lifted
        if (cert.own_gap > tol and faced is None and not self._certified_on_large_data(cert)
                and newton.applicable(problem, network) and not self.spent()):
            # cheap where the exact Newton polish runs: the extraction from an iterate that
            # stopped at tol keeps small spurious neurons (planted 100 x 10, beta = 1: 6
            # neurons at a gap of 1e-7; polished, 2 at 1e-13); a face polish's network is the
            # optimum on its face already (polished, its own gap only grows)
            polished = polish(problem, network)
            again = certify_problem(problem, polished, dual=cert.dual, tol=tol)
            if again.is_optimal and (again.gap <= cert.gap or polished.n_neurons < network.n_neurons):
                network, cert = polished, again
        network, cert, _ = self._narrower_on_kinks((network, cert, None))
        self.record(network, cert)
        return network, cert

    def _face_polish(self, Z, Z_prime, S, S_prime):
        """:func:`~spectranet.face.face_polish` of an iterate (None where its face has no optimum)."""
        from ..face import face_polish

        with single_threaded_numpy_blas():  # (numpy's QR, then scipy's SVD, see _blas: 10 classes, 5.8 -> 4.0 s)
            return face_polish(self.problem, Z, Z_prime, S, S_prime, lean=self.solver.lean, model=self.lifted_objective,
                               deadline=self.deadline)

    def _face(self, Z, Z_prime, S, S_prime, network, cert, found=_UNSET):
        """The face polish of an iterate (:mod:`spectranet.face`; ``found``, when the caller has it
        already): the exact optimum on its optimal face, reduced by Pataki's steps with ``lean``;
        kept when it proves itself better or is narrower (and is certified if the extraction was).
        Returns ``(network, certificate, lifted or None)``."""
        if found is _UNSET:
            found = self._face_polish(Z, Z_prime, S, S_prime)
        if found is None:
            return network, cert, None
        again = certify_problem(self.problem, found.network, dual=cert.dual, tol=self.tol)
        self.log("native: face polish: %d -> %d neurons, own gap %.2e -> %.2e", network.n_neurons,
                 found.network.n_neurons, cert.own_gap, again.own_gap)
        if _proves_more(found.network, again, network, cert):
            if again.is_optimal and again.own_gap > self.tol and self._rotation_pays(found):
                return self._rotate(found, again)
            return found.network, again, (found.Z, found.Z_prime)
        if (found.network.n_neurons < network.n_neurons and newton.applicable(self.problem, found.network)
                and not self.spent()):
            # a narrower network off the optimum by its face's inexactness: the exact Newton polish,
            # cheap at this size, may take it there (300 identical rows, squared loss: the face's one
            # neuron proved 0.99 by itself, 2e-8 above the optimum; polished, it proves 0, and the
            # fit has 1 neuron instead of 12)
            polished = polish(self.problem, found.network)
            again = certify_problem(self.problem, polished, dual=cert.dual, tol=self.tol)
            self.log("native: face polish, polished: %d neurons, own gap %.2e", polished.n_neurons, again.own_gap)
            if _proves_more(polished, again, network, cert):
                return polished, again, None
        return network, cert, None

    def _rotation_pays(self, found) -> bool:
        """Whether to turn a face polish's face (:mod:`spectranet.face_rotation`) rather than wait for
        a later iterate's, with self-certification: in the lifted interior point for the squared
        loss (the rotation's Newton system then comes from the engine's sufficient statistics, no
        pass over the data: 5 ms on planted 2000 x 10; other losses would pay a pass per Newton
        step, as much as the engine's own iterations); in the sample-space one, whose iterations
        near the optimum cost :math:`O(C n^3)`, where a rotation's Newton system
        (:math:`O(n N^2)` per output, ``N`` the entries of its factors) is smaller:
        ``N <= ROTATE_SHARE * n``."""
        from .. import face_rotation

        if not self.solver.self_certify or self.rotating is None:
            return False
        if self.rotating == "lifted":
            model = self._rotation_model()
            return model is not None and face_rotation.applicable(self.problem, found.Z, found.Z_prime, model)
        return face_rotation.applicable(self.problem, found.Z, found.Z_prime,
                                        max_order=ROTATE_SHARE * self.problem.n_samples)

    def _rotation_model(self):
        """The lifted engine's objective when it holds the sufficient statistics (squared loss)."""
        model = self.lifted_objective
        return model if model is not None and getattr(model, "root", None) is not None else None

    def _rotate(self, found, cert):
        """The face polish of the turned face of ``found`` (a face polish's result certified by the
        dual point ``cert.dual``), kept where it proves more by itself (:func:`_proves_more`, a
        narrower network that proves less does not count here); turned again
        (ROTATIONS in all) while that falls short of ``tol`` with an own gap at most ROTATE_AGAIN
        times the last one."""
        from ..face_rotation import face_marks, rotate_face

        kept = (found.network, cert, (found.Z, found.Z_prime))
        for _ in range(ROTATIONS):
            network, proof, point = kept
            turned = rotate_face(self.problem, *point, deadline=self.deadline,
                                 model=self._rotation_model() if self.rotating == "lifted" else None)
            if turned is None or self.out_of_time():
                break
            again = self._face_polish(*turned, *face_marks(*turned))
            if again is None:
                break
            new = certify_problem(self.problem, again.network, dual=proof.dual, tol=self.tol)
            self.log("native: face rotation: %d -> %d neurons, own gap %.2e -> %.2e", network.n_neurons,
                     again.network.n_neurons, proof.own_gap, new.own_gap)
            if not _proves_more(again.network, new, network, proof, narrower=False):  # (turned to prove more)
                break
            kept = (again.network, new, (again.Z, again.Z_prime))
            if new.own_gap <= self.tol or new.own_gap > ROTATE_AGAIN * proof.own_gap:
                break
        return kept

    def _tiny_beta_hint(self, problem) -> str:
        """:func:`~spectranet.solvers.base.tiny_beta_hint` of ``problem`` (the user's, whose beta_max the
        solve knows)."""
        known = self.beta_max
        return "" if known is None or known[0] is not problem.data else tiny_beta_hint(problem.beta, known[2])

    def result(self, network, cert, engine: str, reduction=None, original=None, units=None) -> SolveResult:
        problem = self.problem
        objective = cert.objective
        if self.lifted is not None:  # the lifted point is feasible: its value is attainable too
            objective = min(objective, problem.lifted_objective(*self.lifted))
        warm = {"lifted_objective": self.lifted_objective, "reduction": reduction, "beta_max": self.beta_max}
        lifted = self.lifted
        if reduction is not None and lifted is not None:
            lifted = tuple(reduction.invert_lifted(Z) for Z in lifted)
        if units is not None:
            lifted = None if lifted is None else tuple(units.invert_lifted(Z) for Z in lifted)
            objective = cert.objective  # (the scaled problem's value is in other units)
        limit = self.limit if not cert.is_optimal else ""
        return certified_result(
            network, cert, tol=self.tol, solver=self.solver.name, objective=objective,
            iterations=self.iterations, elapsed=time.perf_counter() - self.start_time,
            stopped=f" ({engine}, {self.iterations} iterations)",
            hint=self._tiny_beta_hint(original if original is not None else problem)
            + LIMIT_HINTS.get(limit, LIMIT_HINTS[""]), history=self.history, lifted=lifted,
            engine=engine, warm_state=warm, problem=original if original is not None else problem, limit=limit)
