"""spectranet: globally optimal two-layer polynomial-activation networks by semidefinite lifting.

Solves the convex program over neural spectrahedra (Bartan & Pilanci, "Neural Spectrahedra
and Semidefinite Lifts"), recovers the network by neural decomposition and certifies its
global optimality with a dual bound. ``import spectranet`` imports neither torch nor cvxpy.
"""

from .activations import PolyActivation
from .architectures import Conv2D, Dense
from .baseline import BackpropPolyNetClassifier, BackpropPolyNetRegressor, BackpropReLUClassifier, lr_grid_search
from .certificate import Certificate
from .cubic import cubic_objective, cubic_weights, solve_cubic
from .datasets import load_cifar_jpeg_zip, load_mnist, load_uci, make_planted
from .estimators import ConvexPolyNetClassifier, ConvexPolyNetRegressor
from .exceptions import ConvergenceWarning, ProblemTooLargeError, SolverError
from .hardness import subset_sum_instance
from .losses import Loss, get_loss
from .network import PolyNetwork
from .path import PathResult, beta_max, regularization_path
from .problem import Problem
from .proof import certify
from .solvers import SolveResult, available_solvers, get_solver

__version__ = "0.2.0"

__all__ = [
    "BackpropPolyNetClassifier",
    "BackpropPolyNetRegressor",
    "BackpropReLUClassifier",
    "Certificate",
    "ConvergenceWarning",
    "Conv2D",
    "ConvexPolyNetClassifier",
    "ConvexPolyNetRegressor",
    "Dense",
    "Loss",
    "PathResult",
    "PolyActivation",
    "PolyNetwork",
    "Problem",
    "ProblemTooLargeError",
    "SolveResult",
    "SolverError",
    "available_solvers",
    "beta_max",
    "certify",
    "cubic_objective",
    "cubic_weights",
    "get_loss",
    "get_solver",
    "load_cifar_jpeg_zip",
    "lr_grid_search",
    "load_mnist",
    "load_uci",
    "make_planted",
    "regularization_path",
    "solve_cubic",
    "subset_sum_instance",
    "__version__",
]
