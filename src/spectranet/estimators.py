r"""scikit-learn estimators: thin shells over :class:`~spectranet.problem.Problem` and the solvers.

Both estimators fit the globally optimal two-layer network of problem (P),

.. math::

    \min_{m,\ \|u_j\|_2 = 1,\ \alpha_j}\
        \ell\Big(\sum_{j=1}^m \sigma(X u_j)\, \alpha_j^\top,\ Y\Big) + \beta \sum_{j=1}^m \|\alpha_j\|_1,
    \qquad \sigma(t) = a t^2 + b t + c,

by solving the convex program (21) over neural spectrahedra and extracting the network by
neural decomposition; every fit is certified by a dual lower bound.

Both accept Dask arrays (``fit(X_dask, y_dask)``, chunked by rows): the fit then runs the native
solver's column generation on the Dask scheduler without bringing ``X`` to the client, and
``predict``/``decision_function``/``predict_proba`` return Dask arrays (``docs/dask.md``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Literal

import numpy as np
from scipy.special import expit, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._docstrings import CLASS_WEIGHT, add_sections, convex_estimator
from ._method_docstrings import CLASSIFIER_METHODS, REGRESSOR_METHODS
from .activations import ActivationLike, PolyActivation, as_activation
from .architectures import Conv2D, Dense, check_architecture
from .data import check_max_iter, check_max_time, check_positive_beta, check_tol
from .data.host import host_values, is_dask_array, is_torch_tensor
from .data.targets import class_sample_weight, encode_classes, encode_dask_classes
from .data.targets import dask_labels as _dask_labels
from .estimators_dask import check_dask_fit, dask_decision
from .losses import LogisticLoss, Loss, SoftmaxCrossEntropyLoss, get_loss
from .problem import Problem
from .solvers import Solver, get_solver

if TYPE_CHECKING:
    import dask.array as da
    from numpy.typing import ArrayLike

__all__ = ["ConvexPolyNetRegressor", "ConvexPolyNetClassifier", "regression_loss", "classifier_loss",
           "encode_classes"]

logger = logging.getLogger(__name__)


REGRESSION_LOSSES = ("squared", "absolute", "huber")
CLASSIFICATION_LOSSES = ("logistic", "hinge", "squared", "softmax", "cross_entropy")


def regression_loss(param: str | Loss, owner: str = "ConvexPolyNetRegressor") -> Loss:
    """The regression Loss named by an estimator's ``loss`` parameter (ValueError otherwise)."""
    loss = get_loss(param)
    if loss.margin or loss.multi_output_only or (isinstance(param, str) and param not in REGRESSION_LOSSES):
        raise ValueError(
            f"{owner} supports the losses {list(REGRESSION_LOSSES)} (or a regression Loss instance), "
            f"got {param!r}; use a classifier for classification losses"
        )
    return loss


def classifier_loss(param: str | Loss, n_classes: int, owner: str = "ConvexPolyNetClassifier") -> Loss:
    """The Loss of a classifier: ``"logistic"`` (the name or a ``LogisticLoss()``, which is the
    same loss) becomes softmax for more than two classes."""
    if isinstance(param, str) and param not in CLASSIFICATION_LOSSES:
        raise ValueError(f"{owner} supports the losses {list(CLASSIFICATION_LOSSES)} (or a Loss "
                         f"instance), got {param!r}")
    loss = get_loss(param)
    if n_classes > 2 and type(loss) is LogisticLoss:
        return SoftmaxCrossEntropyLoss()
    return loss


def _binary_labels(scores, classes):
    return classes[(scores > 0).astype(int)]


def _argmax_labels(scores, classes):
    return classes[np.argmax(scores, axis=1)]


def _proba_block(scores):
    if scores.shape[1] == 1:
        p = expit(scores[:, 0])
        return np.column_stack([1.0 - p, p])
    return softmax(scores, axis=1)

class _ConvexPolyNetBase(BaseEstimator):
    _default_loss = "squared"

    def __init__(self, activation: ActivationLike = "relu", beta: float = 1e-2, loss: str | Loss | None = None,
                 solver: str | Solver = "auto", tol: float = 1e-6, max_iter: int | None = None, verbose: bool = False,
                 warm_start: bool = False, regularization: Literal["l1", "cubic"] = "l1",
                 architecture: Dense | Conv2D | None = None, max_time: float | None = None, lean: bool = True,
                 self_certify: bool = True) -> None:
        self.architecture = architecture
        self.activation = activation
        self.beta = beta
        self.loss = loss
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.verbose = verbose
        self.warm_start = warm_start
        self.regularization = regularization
        self.max_time = max_time
        self.lean = lean
        self.self_certify = self_certify

    # -- parameter checks (in fit, never in __init__) ----------------------------
    def _check_params(self):
        as_activation(self.activation)
        check_positive_beta(self.beta)
        check_tol(self.tol, warn=False)  # (the solver warns below what double precision certifies)
        check_max_time(self.max_time)
        for flag in ("lean", "self_certify", "warm_start"):  # (numpy's booleans too: a grid
            if not isinstance(getattr(self, flag), (bool, np.bool_)):  # search over np.array([True, False]))
                raise TypeError(f"{flag} must be True or False, got {getattr(self, flag)!r}")
        check_max_iter(self.max_iter)
        if not isinstance(self.regularization, str) or self.regularization not in ("l1", "cubic"):
            raise ValueError(f"regularization must be 'l1' or 'cubic', got {self.regularization!r}")
        arch = check_architecture(self.architecture)
        if self.regularization == "cubic" and not arch.is_dense:
            raise ValueError(f"regularization='cubic' is derived for the dense architecture, not {arch!r}; "
                             "use regularization='l1' for convolutional networks")
        if self.regularization == "cubic":
            if as_activation(self.activation) != PolyActivation(1.0, 0.0, 0.0):
                raise ValueError(
                    "regularization='cubic' needs the square activation (a, b, c) = (1, 0, 0) "
                    f"(activation='square'), got activation={self.activation!r}")
            if isinstance(self.solver, str) and self.solver == "native":
                raise ValueError("regularization='cubic' is solved with a CVXPY backend: use "
                                 "solver='auto', 'clarabel', 'scs' or 'mosek'")

    def _solve(self, X, Y, loss: Loss, n_outputs: int, sample_weight=None):
        problem = Problem(X, Y, self.activation, loss, self.beta, n_outputs=n_outputs,
                          architecture=self.architecture, sample_weight=sample_weight)
        if self.regularization == "cubic":
            from .cubic import solve_cubic

            result = solve_cubic(problem, solver=self.solver, tol=float(self.tol), verbose=bool(self.verbose),
                                 max_time=self.max_time, max_iter=self.max_iter)
            self.cubic_first_layer_ = result.cubic.first_layer
            self.cubic_second_layer_ = result.cubic.second_layer
        else:
            for stale in ("cubic_first_layer_", "cubic_second_layer_"):  # (a refit with "l1")
                self.__dict__.pop(stale, None)
            name = "native" if problem.is_dask and not isinstance(self.solver, Solver) else self.solver
            solver = get_solver(name, problem)
            if not isinstance(self.solver, Solver):  # (a given instance as is)
                solver = solver.with_flags(bool(self.self_certify), bool(self.lean))
            previous = getattr(self, "_last_result", None) if self.warm_start else None
            result = solver.solve(problem, tol=float(self.tol), max_iter=self.max_iter,
                                  verbose=bool(self.verbose), warm_start=previous, max_time=self.max_time)
        # (a native warm state matches data by identity, never a later fit's, and holds the data: dropped)
        self._last_result = replace(result, warm_state=None) if isinstance(result.warm_state, dict) else result
        self.network_ = result.network
        self.n_neurons_ = result.n_neurons
        self.objective_ = result.objective
        self.network_objective_ = result.network_objective
        self.lower_bound_ = result.lower_bound
        self.gap_ = result.gap
        self.certificate_ = result.certificate
        self.status_ = result.status
        self.n_iter_ = result.iterations
        self.fit_time_ = result.time
        self.solver_ = result.solver
        self.engine_ = result.engine
        self.activation_ = problem.activation
        self.loss_ = getattr(problem.loss, "base", problem.loss)  # Dask data: the chunk-wise wrapper's loss
        logger.info("%s: objective %.10g, m* = %d, certified gap %.2e (%s, %.2fs)",
                    type(self).__name__, result.objective, result.n_neurons, result.gap,
                    result.solver, result.time)
        return self

    def _decision(self, X) -> np.ndarray:
        check_is_fitted(self, "network_")
        if is_dask_array(X):
            return dask_decision(self, X)
        X = validate_data(self, self._image_rows(X), reset=False, dtype=np.float64)
        return self.network_.decision_function(X)

    def _problem_data(self, given, validated):
        """What the problem is built from: a dense network's torch tensor off the CPU as given (it stays on
        its device, as in :class:`~spectranet.Problem`), else the validated array (numpy on the CPU)."""
        dense = check_architecture(self.architecture).is_dense
        return given if is_torch_tensor(given) and given.device.type != "cpu" and dense else validated

    def _image_rows(self, X):
        """Images ``(N, C, H, W)`` as rows for a convolutional architecture; ``X`` otherwise (a torch
        tensor's values on the host: :func:`~spectranet.data.host_values`)."""
        X = host_values(X)
        arch = check_architecture(self.architecture)
        if not arch.is_dense and not is_dask_array(X) and np.ndim(X) >= 3:
            return arch.as_rows(X)
        return X

    def __getstate__(self):
        state = dict(super().__getstate__())  # (a copy: scikit-learn's may be the live __dict__)
        state.pop("_last_result", None)  # solver state (a compiled CVXPY model) is not pickled
        cert = state.get("certificate_")
        if cert is not None and is_dask_array(cert.dual):  # worker memory: not part of the model
            state["certificate_"] = replace(cert, dual=None)
        return state


class ConvexPolyNetRegressor(RegressorMixin, _ConvexPolyNetBase):
    __doc__ = convex_estimator(
        "Regression with a globally optimal two-layer polynomial-activation network.", "squared",
        '``"squared"`` (half the sum of squares), ``"absolute"``, ``"huber"`` or a Loss.', examples="""
    Examples
    --------
    >>> import numpy as np
    >>> from spectranet import ConvexPolyNetRegressor
    >>> X = np.random.default_rng(0).standard_normal((50, 3))
    >>> y = X[:, 0] ** 2 - X[:, 1]
    >>> est = ConvexPolyNetRegressor(beta=1e-2).fit(X, y)
    >>> bool(est.gap_ < 1e-6), est.status_, est.network_.n_features
    (True, 'optimal', 3)
    """)

    def __init__(self, activation: ActivationLike = "relu", beta: float = 1e-2, loss: str | Loss = "squared",
                 solver: str | Solver = "auto", tol: float = 1e-6, max_iter: int | None = None, verbose: bool = False,
                 warm_start: bool = False, regularization: Literal["l1", "cubic"] = "l1",
                 architecture: Dense | Conv2D | None = None, max_time: float | None = None, lean: bool = True,
                 self_certify: bool = True) -> None:
        super().__init__(activation=activation, beta=beta, loss=loss, solver=solver, tol=tol,
                         max_iter=max_iter, verbose=verbose, warm_start=warm_start,
                         regularization=regularization, architecture=architecture, max_time=max_time,
                         lean=lean, self_certify=self_certify)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X: ArrayLike, y: ArrayLike,
            sample_weight: ArrayLike | float | None = None) -> "ConvexPolyNetRegressor":
        """Fit the globally optimal network and certify it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a Dask array
            Training data (for a CNN, images as rows or ``(N, C, H, W)`` arrays).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        sample_weight : array-like of shape (n_samples,) or float, optional
            Weights of the samples' losses, :math:`\\sum_i w_i \\ell(\\hat y_i, y_i)`: weight 2
            counts a sample twice, weight 0 leaves it out (in-memory data only).

        Returns
        -------
        self : ConvexPolyNetRegressor
            The fitted estimator.

        Raises
        ------
        TypeError, ValueError
            For invalid parameters (see the class), a classification loss, or invalid data or weights.
        """
        self._check_params()
        loss = regression_loss(self.loss)
        if is_dask_array(X):  # validated by Dask reductions in Problem, never gathered
            y = check_dask_fit(self, X, y, loss, sample_weight)
        else:
            Xv, y = validate_data(self, self._image_rows(X), host_values(y), multi_output=True, y_numeric=True,
                                  dtype=np.float64, ensure_min_samples=2)
            X = self._problem_data(X, Xv)
        self._y_ndim = y.ndim
        Y = y[:, None] if y.ndim == 1 else y  # (a Dask y of unknown chunk sizes has no shape[0] to reshape by)
        return self._solve(X, Y, loss, Y.shape[1], sample_weight)

    def predict(self, X: ArrayLike) -> np.ndarray | da.Array:
        """Predict with the fitted network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a Dask array
            Samples.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_targets)
            Network outputs: 1-D for 1-D training targets (a Dask array for Dask input).
        """
        out = self._decision(X)
        return out[:, 0] if self._y_ndim == 1 else out

    def score(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
        """Return the coefficient of determination :math:`R^2` of :meth:`predict` on ``(X, y)``."""
        return super().score(X, host_values(y), sample_weight=host_values(sample_weight))


# the methods' See Also, References and Examples (score's Parameters and Returns too)
add_sections(ConvexPolyNetRegressor, REGRESSOR_METHODS)


def _available_if_proba(estimator) -> bool:
    return estimator._proba_loss() is not None


class ConvexPolyNetClassifier(ClassifierMixin, _ConvexPolyNetBase):
    __doc__ = convex_estimator(
        "Classification with a globally optimal two-layer polynomial-activation network.", "logistic",
        '``"logistic"`` (softmax cross-entropy for more than two classes), ``"hinge"`` (one-vs-rest for '
        'more than two classes), ``"squared"`` (on ±1 / one-hot ±1 targets), ``"softmax"``, or a Loss.',
        extra_params=CLASS_WEIGHT, notes="""
    Binary problems use one output with labels encoded as -1/+1 (``classes_[1]`` is +1);
    multi-class problems use one output per class (the vector-output program).
""", attributes="""    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted.
""", examples="""
    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import StandardScaler
    >>> from spectranet import ConvexPolyNetClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X[:200, :5])
    >>> clf = ConvexPolyNetClassifier(beta=1.0).fit(X, y[:200])
    >>> bool(clf.score(X, y[:200]) > 0.85), clf.classes_.tolist()
    (True, [0, 1])
    """)

    def __init__(self, activation: ActivationLike = "relu", beta: float = 1e-2, loss: str | Loss = "logistic",
                 solver: str | Solver = "auto", tol: float = 1e-6, max_iter: int | None = None, verbose: bool = False,
                 warm_start: bool = False, regularization: Literal["l1", "cubic"] = "l1",
                 architecture: Dense | Conv2D | None = None, max_time: float | None = None, lean: bool = True,
                 self_certify: bool = True, class_weight: Mapping | Literal["balanced"] | None = None) -> None:
        super().__init__(activation=activation, beta=beta, loss=loss, solver=solver, tol=tol,
                         max_iter=max_iter, verbose=verbose, warm_start=warm_start,
                         regularization=regularization, architecture=architecture, max_time=max_time,
                         lean=lean, self_certify=self_certify)
        self.class_weight = class_weight

    def fit(self, X: ArrayLike, y: ArrayLike,
            sample_weight: ArrayLike | float | None = None) -> "ConvexPolyNetClassifier":
        """Fit the globally optimal classifier network and certify it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a Dask array
            Training data (for a CNN, images as rows or ``(N, C, H, W)`` arrays).
        y : array-like of shape (n_samples,)
            Class labels (at least two classes).
        sample_weight : array-like of shape (n_samples,) or float, optional
            Weights of the samples' losses, :math:`\\sum_i w_i \\ell(\\hat y_i, y_i)`: weight 2
            counts a sample twice, weight 0 leaves it out (in-memory data only).
            Multiplied by the weights of ``class_weight``.

        Returns
        -------
        self : ConvexPolyNetClassifier
            The fitted estimator.

        Raises
        ------
        TypeError, ValueError
            For invalid parameters (see the class), a single class, or invalid data or weights.
        """
        self._check_params()
        dask_input = is_dask_array(X)
        if dask_input:
            if y is None:
                raise ValueError("requires y to be passed, but the target y is None")
            if not is_dask_array(y):
                import dask.array as da

                y = np.asarray(host_values(y))
                y = da.from_array(y, chunks=(X.chunks[0],) + ((-1,) if y.ndim == 2 else ()))
            self.classes_, y = _dask_labels(y)
        else:
            Xv, y = validate_data(self, self._image_rows(X), host_values(y), dtype=np.float64, ensure_min_samples=2)
            X = self._problem_data(X, Xv)
            check_classification_targets(y)
            self.classes_, codes = np.unique(y, return_inverse=True)
        n_classes = self.classes_.size
        if n_classes < 2:
            raise ValueError(
                f"ConvexPolyNetClassifier needs samples of at least 2 classes; got 1 class "
                f"({self.classes_[0]!r})"
            )
        loss = classifier_loss(self.loss, n_classes)
        if dask_input:
            check_dask_fit(self, X, y, loss, sample_weight, self.class_weight)
            Y = encode_dask_classes(y, self.classes_, loss)
        else:
            Y = encode_classes(codes, n_classes, loss)
            sample_weight = class_sample_weight(self.class_weight, codes, self.classes_, sample_weight)
        return self._solve(X, Y, loss, Y.shape[1], sample_weight)

    def decision_function(self, X: ArrayLike) -> np.ndarray | da.Array:
        """Return the network outputs (the decision scores).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a Dask array
            Samples.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
            For two classes one score per sample (positive means ``classes_[1]``; with a softmax loss,
            the difference of its two outputs: the log-odds), else one per class.
        """
        out = self._decision(X)
        if out.shape[1] == 2 and self.classes_.size == 2:  # (softmax on two classes: one output each)
            return out[:, 1] - out[:, 0]
        return out[:, 0] if out.shape[1] == 1 else out

    def predict(self, X: ArrayLike) -> np.ndarray | da.Array:
        """Predict class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a Dask array
            Samples.

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_`` (a Dask array for Dask input).
        """
        scores = self.decision_function(X)
        if is_dask_array(scores):
            if scores.ndim == 1:
                return scores.map_blocks(_binary_labels, self.classes_, dtype=self.classes_.dtype)
            return scores.map_blocks(_argmax_labels, self.classes_, dtype=self.classes_.dtype, drop_axis=1)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]

    def _proba_loss(self):
        loss = getattr(self, "loss_", None)
        if loss is None:
            try:
                loss = get_loss(self.loss)
            except (TypeError, ValueError):
                return None
        if loss.name == "logistic" and len(getattr(self, "classes_", ())) > 2:
            return None  # one-vs-rest scores of a logistic subclass: no link to probabilities
        return loss.name if loss.name in ("logistic", "softmax") else None

    @available_if(_available_if_proba)
    def predict_proba(self, X: ArrayLike) -> np.ndarray | da.Array:
        """Return the class probabilities (logistic and softmax losses only).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a Dask array
            Samples.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            The sigmoid (two classes) or softmax of the network outputs.
        """
        scores = self._decision(X)
        if is_dask_array(scores):
            return scores.map_blocks(_proba_block, dtype=np.float64,
                                     chunks=(scores.chunks[0], (self.classes_.size,)))
        return _proba_block(scores)

    @available_if(_available_if_proba)
    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """Return the logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Log-probabilities.
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def score(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
        """Return the accuracy of :meth:`predict` on ``(X, y)``."""
        return super().score(X, host_values(y), sample_weight=host_values(sample_weight))


add_sections(ConvexPolyNetClassifier, CLASSIFIER_METHODS)
