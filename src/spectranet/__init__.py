r"""spectranet: globally optimal two-layer polynomial-activation networks by semidefinite lifting.

Trains :math:`f(x) = \sum_j \sigma(x^\top u_j)\,\alpha_j` with :math:`\sigma(t) = a t^2 + b t + c` on
problem (P), eq. (20) of Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*,

.. math:: \min_{\|u_j\|_2 = 1,\ \alpha_j}\ \ell\Big(\sum_j \sigma(X u_j)\,\alpha_j^\top, Y\Big)
          + \beta \sum_j \|\alpha_j\|_1,

by solving the convex program (21) over neural spectrahedra, recovers the network by neural
decomposition (Section 4) and certifies its global optimality with a dual bound (eqs. (24), (26)).
``import spectranet`` imports neither torch nor cvxpy.

The public names: the estimators :class:`ConvexPolyNetRegressor` and :class:`ConvexPolyNetClassifier`;
:class:`PolyNetwork`, :class:`PolyActivation`, :class:`Dense` and :class:`Conv2D`; :func:`certify`,
:class:`Certificate` and :func:`beta_max`; :class:`Problem`, :func:`get_solver`,
:func:`available_solvers`, :class:`SolveResult`, :func:`regularization_path` and :class:`PathResult`;
:func:`solve_cubic`, :func:`cubic_weights` and :func:`cubic_objective`; :class:`Loss` and
:func:`get_loss`; the backprop baselines; the data loaders and :func:`make_planted`;
:func:`subset_sum_instance`; the exceptions; and ``__version__``, the installed version.
"""

from .activations import PolyActivation
from .architectures import Conv2D, Dense
from .baseline import BackpropPolyNetClassifier, BackpropPolyNetRegressor, BackpropReLUClassifier
from .certificate import Certificate
from .cubic import cubic_objective, cubic_weights, solve_cubic
from .datasets import load_cifar_jpeg_zip, load_mnist, load_uci, make_planted
from .estimators import ConvexPolyNetClassifier, ConvexPolyNetRegressor
from .exceptions import ConvergenceWarning, ProblemTooLargeError, SolverError
from .hardness import subset_sum_instance
from .losses import Loss, get_loss
from .lr_search import lr_grid_search
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
