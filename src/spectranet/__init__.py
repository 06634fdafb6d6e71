"""spectranet: globally optimal two-layer polynomial-activation networks by semidefinite lifting.

Solves the convex program over neural spectrahedra (Bartan & Pilanci, "Neural Spectrahedra
and Semidefinite Lifts"), recovers the network by neural decomposition and certifies its
global optimality with a dual bound. ``import spectranet`` imports neither torch nor cvxpy.
"""

from .activations import PolyActivation
from .certificate import Certificate, certify
from .estimators import ConvexPolyNetClassifier, ConvexPolyNetRegressor
from .exceptions import ConvergenceWarning, ProblemTooLargeError, SolverError
from .losses import Loss, get_loss
from .network import PolyNetwork
from .path import PathResult, beta_max, regularization_path
from .problem import Problem
from .solvers import SolveResult, available_solvers, get_solver

__version__ = "0.1.0"

__all__ = [
    "Certificate",
    "ConvergenceWarning",
    "ConvexPolyNetClassifier",
    "ConvexPolyNetRegressor",
    "Loss",
    "PathResult",
    "PolyActivation",
    "PolyNetwork",
    "Problem",
    "ProblemTooLargeError",
    "SolveResult",
    "SolverError",
    "__version__",
    "available_solvers",
    "beta_max",
    "certify",
    "get_loss",
    "get_solver",
    "regularization_path",
]
