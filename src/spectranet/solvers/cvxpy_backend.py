r"""The convex program (21) in CVXPY, solved by Clarabel, SCS or MOSEK.

This is a reduction in CVXPY's sense: :func:`build_model` is ``apply`` (lift the network
problem to an SDP) and :func:`extract_network` is ``invert`` (neural decomposition of the
optimal :math:`(Z_k, Z_k')` back to a network). The lifted map is written with the explicit
lifted features :meth:`Problem.lifted_features` (one dense ``n x p`` constant, no Python loop
over samples); the model's memory is estimated before it is built and a model that would
not fit is refused.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from dataclasses import dataclass

import numpy as np

from ..certificate import certify_problem
from ..data import check_positive_beta
from ..decomposition import project_spectrahedron
from ..exceptions import ProblemTooLargeError, SolverError
from ..kernels import svec_matrix
from ..local import tighten
from ..problem import Problem
from .base import (
    TIME_LIMIT_HINT,
    Solver,
    certified_result,
    check_solve_arguments,
    extract_network,
    other_backends_hint,
    tiny_beta_hint,
    zero_if_optimal,
)

__all__ = ["CvxpySolver", "ClarabelSolver", "ScsSolver", "MosekSolver", "estimate_model_bytes",
           "extract_network"]

logger = logging.getLogger(__name__)

#: bytes per entry of the lifted features in the CVXPY pipeline (canonicalization copies, the
#: backend's sparse matrices and factorization), calibrated by benchmarks/bench_cvxpy_memory.py
BYTES_PER_LIFTED_ENTRY = 600.0
#: fixed overhead of the CVXPY import and a tiny model
BASE_BYTES = 200e6


def estimate_model_bytes(n_samples: int, n_features: int, n_outputs: int = 1) -> float:
    """Estimated peak memory of building and solving the CVXPY model, in bytes (``n_outputs``:
    the number of pairs, one per output for a dense network)."""
    p = n_features * (n_features + 1) // 2 + n_features + 1
    return BASE_BYTES + BYTES_PER_LIFTED_ENTRY * n_samples * p * n_outputs


def available_memory_bytes() -> float:
    """Memory available to this process: ``MemAvailable`` on Linux, else physical memory."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - exotic platforms
        return float("inf")


@dataclass
class _ConicModel:
    """A compiled CVXPY model, reusable across values of beta (a warm start)."""

    cp_problem: object
    beta: object
    Z: list
    Z_prime: list
    link: object
    X: np.ndarray
    Y: np.ndarray
    key: tuple

    def matches(self, problem: Problem) -> bool:
        return (
            self.key == _model_key(problem)
            and np.array_equal(self.X, problem.X)
            and np.array_equal(self.Y, problem.Y)
        )


def _model_key(problem: Problem) -> tuple:
    return (problem.X.shape, problem.Y.shape, problem.activation, problem.loss)


def build_model(problem: Problem) -> _ConicModel:
    """``apply``: the SDP (21) of ``problem`` as a CVXPY problem with a ``beta`` parameter."""
    import cvxpy as cp

    n, d, C, P = problem.n_samples, problem.n_features, problem.n_outputs, problem.n_pairs
    F = problem.group_lifted_features()  # (G, n, p)
    Z = [cp.Variable((d + 1, d + 1), PSD=True, name=f"Z{k}") for k in range(P)]
    Zp = [cp.Variable((d + 1, d + 1), PSD=True, name=f"Zp{k}") for k in range(P)]
    constraints = [cp.trace(M[:d, :d]) == M[d, d] for M in Z + Zp]

    svec_map = svec_matrix(d + 1)  # the svec layout of kernels.lift (that of the lifted features)

    def svec(M):
        return svec_map @ cp.vec(M, order="C")

    # output k sums the groups' pairs p = g*C + k: one (C, p) block of svecs per group
    lifted = sum(F[g] @ cp.vstack([svec(Z[g * C + k] - Zp[g * C + k]) for k in range(C)]).T
                 for g in range(F.shape[0]))
    if problem.loss.smooth:
        # the certificate's dual point is the loss gradient: no need for the link's dual
        Yhat, link = lifted, None
    else:
        Yhat = cp.Variable((n, C), name="Yhat")
        link = Yhat == lifted
        constraints.append(link)
    beta = cp.Parameter(nonneg=True, name="beta", value=problem.beta)
    penalty = cp.sum(cp.hstack([M[d, d] for M in Z + Zp]))
    objective = cp.Minimize(problem.loss.cvxpy(Yhat, problem.Y) + beta * penalty)
    cp_problem = cp.Problem(objective, constraints)
    return _ConicModel(cp_problem, beta, Z, Zp, link, problem.X, problem.Y, _model_key(problem))


class CvxpySolver(Solver):
    """Base of the CVXPY backends. Subclasses set :attr:`name`, :attr:`cvxpy_name` and options."""

    cvxpy_name = ""
    #: options of one retry after a numerical failure (None: no retry)
    retry_options: dict | None = None

    def __init__(self, rank_tol: float = 1e-7, memory_limit: float | None = None, **solver_options):
        self.rank_tol = rank_tol
        self.memory_limit = memory_limit
        self.solver_options = solver_options

    @classmethod
    def is_available(cls) -> bool:
        import cvxpy as cp

        return cls.cvxpy_name in cp.installed_solvers()

    def options(self, tol: float, max_iter: int | None, smooth: bool) -> dict:  # pragma: no cover
        """Backend options for a target certified gap ``tol``. Tighter for non-smooth losses: their
        certificate rests on the backend's dual (the active-set polish needs a close start)."""
        return {}

    def time_limit(self, seconds: float) -> dict:  # pragma: no cover
        """The backend's own option bounding its time to ``seconds``."""
        return {}

    def iteration_limit(self, opts: dict) -> int | None:
        """The backend's iteration cap in the options ``opts`` (None: none, or not known)."""
        return None

    def solve_options(self, tol: float, max_iter: int | None, smooth: bool, seconds: float | None = None) -> dict:
        """The options of a solve: :meth:`options`, the constructor's ``solver_options`` over them, and
        :meth:`time_limit` of ``seconds`` merged in (MOSEK's into its ``mosek_params``)."""
        opts = {**self.options(tol, max_iter, smooth), **self.solver_options}
        if seconds is not None:
            for key, value in self.time_limit(seconds).items():
                opts[key] = {**opts[key], **value} if isinstance(opts.get(key), dict) else value
        return opts

    def stop_reason(self, cp_problem, opts: dict, *, timed: bool) -> str:
        """``"max_iter"`` for a backend stopped by its iteration cap (:meth:`iteration_limit` of ``opts``),
        ``"time_limit"`` for one stopped by ``max_time`` (``timed``), else ``""``. CVXPY reports both as
        ``user_limit`` for Clarabel and MOSEK, and SCS either as ``optimal_inaccurate``: the iterations
        run and SCS's own status tell them apart."""
        import cvxpy as cp

        status, stats, cap = cp_problem.status, cp_problem.solver_stats, self.iteration_limit(opts)
        if status not in (cp.USER_LIMIT, cp.OPTIMAL_INACCURATE):
            return ""
        if cap is not None and (getattr(stats, "num_iters", None) or 0) >= cap:
            return "max_iter"
        info = getattr(stats, "extra_stats", None)
        info = info.get("info", {}) if isinstance(info, dict) else {}  # (SCS: its solution, with its info)
        if timed and (status == cp.USER_LIMIT or "time_limit" in str(info.get("status", ""))):
            return "time_limit"
        return ""

    def run(self, cp_problem, opts: dict, *, verbose: bool = False, warm: bool = False,
            what: str = "this problem", name: str | None = None) -> None:
        """Solve a CVXPY problem with this backend, retrying once with :attr:`retry_options`
        after a numerical failure; :class:`~spectranet.exceptions.SolverError` if both fail."""
        import cvxpy as cp

        attempts = [opts] + ([{**opts, **self.retry_options}] if self.retry_options else [])
        for i, attempt in enumerate(attempts):
            try:
                with warnings.catch_warnings():
                    # CVXPY's "solution may be inaccurate": the certificate decides, not the status.
                    warnings.filterwarnings("ignore", message="Solution may be inaccurate", category=UserWarning)
                    cp_problem.solve(solver=self.cvxpy_name, verbose=verbose, warm_start=warm, **attempt)
                return
            except cp.error.SolverError as exc:
                if i + 1 == len(attempts):
                    raise SolverError(
                        f"{self.name} failed on {what} ({exc}); try solver='scs' or another backend "
                        "from spectranet.available_solvers(), a larger beta, or standardized features",
                        solver=name or self.name, status="solver_error") from exc
                logger.info("%s reported a numerical error; retrying once with %s", self.name, self.retry_options)

    def check_memory(self, problem: Problem) -> None:
        need = estimate_model_bytes(problem.n_samples, problem.n_features, problem.n_pairs)
        limit = self.memory_limit if self.memory_limit is not None else available_memory_bytes()
        if need > limit:
            raise ProblemTooLargeError(
                f"the CVXPY model of this problem (n={problem.n_samples}, d={problem.n_features}, "
                f"pairs={problem.n_pairs}: {problem.lifted_dimension()} lifted features per "
                f"sample and pair) needs about {need / 1e9:.1f} GB, but only {limit / 1e9:.1f} GB is "
                "available; use solver='native' (matrix-free, smooth losses), fewer samples or fewer "
                "features",
                solver=self.name, status="too_large",
            )

    def solve(self, problem, *, tol=1e-6, max_iter=None, verbose=False, warm_start=None, max_time=None):
        tol, max_iter, max_time = check_solve_arguments(tol, max_iter, verbose, warm_start, max_time)
        check_positive_beta(problem.beta)
        problem = problem.in_float64()  # (float32 tensors: the polish and the certificate in float64)
        import cvxpy as cp

        start = time.perf_counter()
        zero_certificate = certify_problem(problem, problem.zero_network(), tol=tol)  # its lam is beta_max
        zero = zero_if_optimal(problem, tol, self.name, start, certificate=zero_certificate)
        if zero is not None:
            return zero
        state = getattr(warm_start, "warm_state", None)  # (a network alone: nothing to reuse)
        if isinstance(state, _ConicModel) and state.matches(problem):
            model, reused = state, True
        else:
            self.check_memory(problem)
            model, reused = build_model(problem), False
        model.beta.value = problem.beta
        left = None if max_time is None else float(max_time) - (time.perf_counter() - start)  # (the build counts)
        if left is not None and left > 0.0:  # so does CVXPY's compilation (cached for the solve: beta is a
            model.cp_problem.get_problem_data(self.cvxpy_name)  # parameter); 1500 x 40: 1.1 s of it at max_time=1
            left = float(max_time) - (time.perf_counter() - start)
        if left is not None and left <= 0.0:
            return _out_of_time(problem, zero_certificate, tol, self.name, start)
        opts = self.solve_options(tol, max_iter, problem.loss.smooth, left)
        logger.debug("solving with %s (%s), options %s", self.name, "reused model" if reused else "new model", opts)
        self.run(model.cp_problem, opts, verbose=verbose, warm=reused)
        status = model.cp_problem.status
        stats = model.cp_problem.solver_stats
        limit = self.stop_reason(model.cp_problem, opts, timed=max_time is not None)
        usable = (cp.OPTIMAL, cp.OPTIMAL_INACCURATE, cp.USER_LIMIT)
        if status not in usable or model.Z[0].value is None:
            raise SolverError(
                f"{self.name} returned status {status!r}; try another backend "
                "(spectranet.available_solvers()), a larger beta, or rescaled features",
                solver=self.name, status=str(status),
            )
        # project onto N_d: a no-op up to rounding at a converged solution, and what makes an
        # iterate stopped early (status user_limit) a feasible, decomposable point
        Z_raw = np.stack([v.value for v in model.Z])
        Zp_raw = np.stack([v.value for v in model.Z_prime])
        Z = np.stack([project_spectrahedron(M) for M in Z_raw])
        Zp = np.stack([project_spectrahedron(M) for M in Zp_raw])
        network = extract_network(problem, Z, Zp, self.rank_tol)
        if model.link is None:  # smooth loss: the dual point is -grad at the SDP's own outputs
            dual = -problem.loss.gradient(problem.forward(Z_raw - Zp_raw), problem.Y)
        else:  # CVXPY's dual of `Yhat == F s` is V, the dual point of (24)
            dual = None if model.link.dual_value is None else np.asarray(model.link.dual_value, dtype=float)
        deadline = None if max_time is None else start + float(max_time)
        network, certificate = tighten(problem, network, tol=tol, dual=dual, deadline=deadline)
        return certified_result(
            network, certificate, tol=tol, solver=self.name, objective=problem.lifted_objective(Z, Zp),
            iterations=int(stats.num_iters or 0) if stats is not None else 0,
            elapsed=time.perf_counter() - start, stopped=f" with status {status!r}",
            hint=tiny_beta_hint(problem.beta, beta_max=zero_certificate.lam)
            + other_backends_hint(self.name, ", a larger max_iter", limit),
            lifted=(Z, Zp), engine=self.name, warm_state=model, problem=problem, limit=limit)


def _out_of_time(problem: Problem, cert, tol: float, solver: str, start: float):
    """The result of a solve whose time ran out before the backend ran: the zero network (``cert``: its
    certificate)."""
    zero = problem.zero_network()
    return certified_result(zero, cert, tol=tol, solver=solver, objective=cert.objective, iterations=0,
                            elapsed=time.perf_counter() - start, stopped=" (time limit before the solve)",
                            hint=TIME_LIMIT_HINT, engine=solver, problem=problem, limit="time_limit")


#: the Parameters every CVXPY backend shares (filled into the class docstrings below)
_BACKEND_PARAMETERS = """rank_tol : float, default=1e-7
        Relative eigenvalue cut of the neural decomposition of the backend's solution: eigenvalues
        at most ``rank_tol`` times the largest of each :math:`Z_p`, :math:`Z_p'` count as zero.
    memory_limit : float or None, default=None
        Bytes the CVXPY model may take: a problem whose estimate (:func:`estimate_model_bytes`)
        exceeds it is refused with :class:`~spectranet.ProblemTooLargeError` before anything is
        built. ``None``: the memory available to the process."""


class ClarabelSolver(CvxpySolver):
    r"""Interior-point backend (Clarabel): accurate; the default for small and medium problems.

    Builds the SDP (21) of a :class:`~spectranet.Problem` in CVXPY (:func:`build_model`), solves it
    with Clarabel, extracts the network by neural decomposition, then polishes and certifies it
    (:func:`~spectranet.local.tighten`). Takes every loss with a CVXPY form and every architecture,
    but materializes the lifted features (about 600 bytes per lifted entry).

    Parameters
    ----------
    {backend_parameters}
    **solver_options
        Keyword arguments of CVXPY's ``solve`` for Clarabel (e.g. ``max_iter``, ``tol_gap_rel``);
        they override the options that :meth:`solve` derives from ``tol`` and ``max_iter``.

    Notes
    -----
    A target gap ``tol`` sets ``tol_gap_abs``, ``tol_gap_rel`` and ``tol_feas`` to ``tol / 100``
    (``tol / 10**4`` for the polyhedral losses, whose certificate rests on the backend's dual),
    clipped to :math:`[10^{-12}, 10^{-8}]`. A numerical failure is retried once with a larger
    ``static_regularization_constant``.

    See Also
    --------
    ScsSolver : The first-order backend.
    MosekSolver : The commercial interior-point backend.
    spectranet.solvers.native.NativeSolver : Matrix-free, for large problems and smooth losses.
    spectranet.get_solver : A solver by name (``"clarabel"``).

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, program (21) (the SDP this
    backend solves), Section 4 (neural decomposition) and Section 6 (solved with CVXPY and SCS).

    Goulart & Chen, *Clarabel: An interior-point solver for conic programs with quadratic
    objectives*, arXiv:2405.12762, 2024.

    Examples
    --------
    >>> from spectranet import Problem, make_planted
    >>> X, y = make_planted(40, 3, random_state=0)
    >>> result = ClarabelSolver().solve(Problem(X, y, beta=1e-2))
    >>> result.status, result.solver, result.n_neurons
    ('optimal', 'clarabel', 4)
    >>> ClarabelSolver(max_iter=50).solve(Problem(X, y, loss="absolute", beta=1e-2)).status
    'optimal'
    """

    name = "clarabel"
    cvxpy_name = "CLARABEL"
    install_hint = "pip install clarabel"
    # the KKT factorization of dense lifted features can fail at Clarabel's default static
    # regularization (seen on standardized breast-cancer data); a larger constant fixes it
    retry_options = {"static_regularization_constant": 1e-7}

    def options(self, tol, max_iter, smooth):
        eps = float(np.clip(tol * (1e-2 if smooth else 1e-4), 1e-12, 1e-8))
        opts = {"tol_gap_abs": eps, "tol_gap_rel": eps, "tol_feas": eps}
        if max_iter is not None:
            opts["max_iter"] = int(max_iter)
        return opts

    def time_limit(self, seconds):
        return {"time_limit": float(seconds)}

    def iteration_limit(self, opts):
        return opts.get("max_iter")


class ScsSolver(CvxpySolver):
    r"""First-order backend (SCS): cheaper iterations, usually a looser certified gap.

    Builds the SDP (21) of a :class:`~spectranet.Problem` in CVXPY (:func:`build_model`), solves it
    with the splitting conic solver SCS, extracts the network by neural decomposition, then
    polishes and certifies it (:func:`~spectranet.local.tighten`): the polish recovers the digits
    that the first-order iterations leave out.

    Parameters
    ----------
    {backend_parameters}
    **solver_options
        Keyword arguments of CVXPY's ``solve`` for SCS (e.g. ``eps_abs``, ``eps_rel``,
        ``max_iters``); they override the options that :meth:`solve` derives from ``tol`` and
        ``max_iter``.

    Notes
    -----
    A target gap ``tol`` sets ``eps_abs`` and ``eps_rel`` to ``tol / 10`` (``tol / 1000`` for the
    polyhedral losses), clipped to :math:`[10^{-12}, 10^{-5}]`; ``max_iters`` is ``max_iter`` or
    100 000.

    See Also
    --------
    ClarabelSolver : The interior-point backend.
    MosekSolver : The commercial interior-point backend.
    spectranet.get_solver : A solver by name (``"scs"``).

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, program (21) (the SDP this
    backend solves), Section 4 (neural decomposition) and Section 6 (solved with CVXPY and SCS).

    O'Donoghue, Chu, Parikh & Boyd, *Conic optimization via operator splitting and homogeneous
    self-dual embedding*, J. Optim. Theory Appl. 169 (2016).

    Examples
    --------
    >>> from spectranet import Problem, make_planted
    >>> X, y = make_planted(40, 3, random_state=0)
    >>> result = ScsSolver(eps_abs=1e-6, eps_rel=1e-6).solve(Problem(X, y, beta=1e-2), tol=1e-4)
    >>> result.status, result.solver, result.gap <= 1e-4
    ('optimal', 'scs', True)
    """

    name = "scs"
    cvxpy_name = "SCS"
    install_hint = "pip install scs"

    def options(self, tol, max_iter, smooth):
        eps = float(np.clip(tol * (1e-1 if smooth else 1e-3), 1e-12, 1e-5))
        return {"eps_abs": eps, "eps_rel": eps, "max_iters": int(max_iter) if max_iter else 100_000}

    def time_limit(self, seconds):
        return {"time_limit_secs": float(seconds)}

    def iteration_limit(self, opts):
        return opts.get("max_iters")


class MosekSolver(CvxpySolver):
    r"""Commercial interior-point backend (MOSEK), used when installed and licensed.

    Builds the SDP (21) of a :class:`~spectranet.Problem` in CVXPY (:func:`build_model`), solves it
    with MOSEK's conic interior point, extracts the network by neural decomposition, then polishes
    and certifies it (:func:`~spectranet.local.tighten`).

    Parameters
    ----------
    {backend_parameters}
    **solver_options
        Keyword arguments of CVXPY's ``solve`` for MOSEK (e.g. ``mosek_params``, a dict of MOSEK
        parameters, which replaces the derived one); they override the options that
        :meth:`solve` derives from ``tol`` and ``max_iter``.

    Notes
    -----
    A target gap ``tol`` sets MOSEK's relative gap and feasibility tolerances
    (``MSK_DPAR_INTPNT_CO_TOL_*``) to ``tol / 100`` (``tol / 10**4`` for the polyhedral losses),
    clipped to :math:`[10^{-12}, 10^{-8}]`; ``max_time`` goes into ``mosek_params`` as
    ``MSK_DPAR_OPTIMIZER_MAX_TIME``.

    See Also
    --------
    ClarabelSolver : The open-source interior-point backend.
    ScsSolver : The first-order backend.
    spectranet.get_solver : A solver by name (``"mosek"``).

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, program (21) (the SDP this
    backend solves), Section 4 (neural decomposition) and Section 6 (solved with CVXPY and SCS).

    MOSEK ApS, *MOSEK Optimizer API for Python* (the conic interior-point optimizer).

    Examples
    --------
    >>> from spectranet import Problem, make_planted
    >>> solver = MosekSolver(rank_tol=1e-8)
    >>> solver.name, solver.rank_tol
    ('mosek', 1e-08)
    >>> solver.options(1e-6, None, smooth=True)["mosek_params"]["MSK_DPAR_INTPNT_CO_TOL_REL_GAP"]
    1e-08
    >>> if MosekSolver.is_available():  # installed and licensed
    ...     X, y = make_planted(40, 3, random_state=0)
    ...     status = solver.solve(Problem(X, y, beta=1e-2)).status
    """

    name = "mosek"
    cvxpy_name = "MOSEK"
    install_hint = "pip install 'spectranet[mosek]' (MOSEK also needs a license)"

    def options(self, tol, max_iter, smooth):
        eps = float(np.clip(tol * (1e-2 if smooth else 1e-4), 1e-12, 1e-8))
        params = {"MSK_DPAR_INTPNT_CO_TOL_REL_GAP": eps, "MSK_DPAR_INTPNT_CO_TOL_PFEAS": eps,
                  "MSK_DPAR_INTPNT_CO_TOL_DFEAS": eps}
        if max_iter is not None:
            params["MSK_IPAR_INTPNT_MAX_ITERATIONS"] = int(max_iter)
        return {"mosek_params": params}

    def time_limit(self, seconds):  # merged into the mosek_params of options() by solve()
        return {"mosek_params": {"MSK_DPAR_OPTIMIZER_MAX_TIME": float(seconds)}}

    def iteration_limit(self, opts):
        return (opts.get("mosek_params") or {}).get("MSK_IPAR_INTPNT_MAX_ITERATIONS")


for _backend in (ClarabelSolver, ScsSolver, MosekSolver):
    _backend.__doc__ = _backend.__doc__.replace("{backend_parameters}", _BACKEND_PARAMETERS)
