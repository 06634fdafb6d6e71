r"""Backprop baseline: the same networks, losses and objectives, trained by SGD or Adam.

The estimators here train :math:`f(x) = \sum_{j=1}^m \sigma(x^\top u_j)\,\alpha_j`,
:math:`\alpha_j \in \mathbb{R}^C`, by minibatch gradient descent in PyTorch, for comparison
with the convex program (the paper's Figs. 4-6). They use the library's
:class:`~spectranet.losses.Loss` objects (whose ``value`` runs on tensors) and exactly the
library's objective definitions, one per ``formulation``:

``"l1"``, problem (P), unit-norm first layer :math:`u_j = w_j / \|w_j\|_2`:

.. math:: \ell\Big(\sum_j \sigma(X u_j)\,\alpha_j^\top, Y\Big) + \beta \sum_j \|\alpha_j\|_1

``"weight_decay"``, problem (P_WD), unnormalized :math:`w_j`:

.. math:: \ell\Big(\sum_j \sigma(X w_j)\,\alpha_j^\top, Y\Big)
          + \frac{\beta}{2} \sum_j \big(\|w_j\|_2^2 + \|\alpha_j\|_2^2\big)

``"cubic"``, square activation only, :math:`c_0 = 2^{1/3} + 2^{-2/3}`:

.. math:: \ell\Big(\sum_j (X w_j)^2\,\alpha_j^\top, Y\Big)
          + \frac{\beta}{c_0} \sum_j \big(\|w_j\|_2^3 + \|\alpha_j\|_1^3\big)

which equals (P) with :math:`\ell_1` weight :math:`\beta` (the objective of
:func:`spectranet.cubic.cubic_objective`; with :math:`\|\alpha_j\|_3^3` instead it would not for
``C > 1``). Each step descends a minibatch estimate of the objective divided
by ``n`` (mean loss over the batch plus penalty over ``n``), so learning rates do not scale with
``n``. torch is imported only when a model is fitted.

With ``architecture=Conv2D(...)`` the network is the library's CNN
(:class:`~spectranet.architectures.Conv2D`): filters :math:`w_j` of length ``f = C*kh*kw``, a
second layer :math:`\alpha_{jgk}` per filter, group (patch or pooling window) and output, and the
forward pass :func:`spectranet._torch.conv_forward` (conv2d, activation, pooling, contraction).
``"l1"`` is then the library's problem (P) for that architecture and ``"weight_decay"`` the
same penalty as above over the filters and :math:`\alpha`; ``"cubic"`` is dense only.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping
from numbers import Integral, Real
from typing import TYPE_CHECKING, Literal

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._docstrings import BACKPROP_RELU, CLASS_WEIGHT, backprop_estimator
from .activations import ActivationLike, PolyActivation, as_activation
from .architectures import Conv2D, Dense, check_architecture
from .data.host import host_values
from .data.targets import class_sample_weight
from .data.validation import as_real_array
from .estimators import (
    ConvexPolyNetClassifier,
    ConvexPolyNetRegressor,
    classifier_loss,
    encode_classes,
    regression_loss,
)
from .exceptions import ConvergenceWarning
from .formulations import (
    FORMULATIONS,
    _forward,
    _initial_weights,
    _row_norms,
    _unit_network,
    formulation_objective,
    relu,
)
from .losses import Loss
from .network import PolyNetwork
from .penalties import C0, get_penalty
from .problem import Problem, check_beta
from .weighted import weigh_samples

if TYPE_CHECKING:
    import torch
    from numpy.typing import ArrayLike, DTypeLike

__all__ = ["BackpropPolyNetRegressor", "BackpropPolyNetClassifier", "BackpropReLUClassifier",
           "formulation_objective", "FORMULATIONS", "C0"]

logger = logging.getLogger(__name__)

OPTIMIZERS = ("sgd", "adam")


class _BackpropBase(BaseEstimator):
    def __init__(self, activation: ActivationLike = "relu", loss: str | Loss | None = None, beta: float = 1e-2,
                 n_neurons: int | None = None, formulation: Literal["l1", "weight_decay", "cubic"] = "l1",
                 optimizer: Literal["sgd", "adam"] = "sgd", lr: float = 1e-2, batch_size: int | None = 10,
                 max_epochs: int = 100, random_state: int | np.random.RandomState | None = None,
                 device: str | torch.device = "cpu", dtype: DTypeLike | torch.dtype = "float64",
                 init: PolyNetwork | None = None, verbose: bool = False,
                 architecture: Dense | Conv2D | None = None) -> None:
        self.activation, self.loss, self.beta, self.n_neurons = activation, loss, beta, n_neurons
        self.formulation, self.optimizer, self.lr, self.batch_size = formulation, optimizer, lr, batch_size
        self.max_epochs, self.random_state, self.device = max_epochs, random_state, device
        self.dtype, self.init, self.verbose, self.architecture = dtype, init, verbose, architecture

    _image_rows = ConvexPolyNetRegressor._image_rows  # images (N, C, H, W) -> rows for a CNN

    def _activation_fn(self):
        try:
            return as_activation(self.activation)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"invalid activation: {exc}") from None

    def _check_params(self, n_features: int, n_outputs: int):
        activation = self._activation_fn()
        arch = check_architecture(self.architecture, n_features)
        if self.formulation == "cubic" and not arch.is_dense:
            raise ValueError(f"formulation='cubic' is derived for the dense architecture, not {arch!r}; "
                             "use formulation='l1' or 'weight_decay' for convolutional networks")
        try:
            check_beta(self.beta)
        except TypeError as exc:
            raise ValueError(str(exc)) from None
        if self.formulation not in FORMULATIONS:
            raise ValueError(f"formulation must be one of {list(FORMULATIONS)}, got {self.formulation!r}")
        if self.formulation == "cubic" and activation != PolyActivation(1.0, 0.0, 0.0):
            raise ValueError("formulation='cubic' needs the square activation (a, b, c) = (1, 0, 0), "
                             f"got activation={self.activation!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}, got {self.optimizer!r}")
        if (isinstance(self.lr, bool) or not isinstance(self.lr, Real)
                or not (math.isfinite(self.lr) and self.lr > 0)):
            raise ValueError(f"lr must be a positive finite real number, got {self.lr!r}")
        for name, allow_none in (("n_neurons", True), ("batch_size", True), ("max_epochs", False)):
            value = getattr(self, name)
            if value is None and allow_none:
                continue
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer{' or None' * allow_none}, "
                                 f"got {value!r}")
        if self.init is not None:
            if not isinstance(self.init, PolyNetwork):
                raise ValueError(f"init must be None or a PolyNetwork, got {type(self.init).__name__}")
            init = self.init
            if init.architecture != arch:
                raise ValueError(f"init architecture {init.architecture!r} differs from architecture={arch!r}")
            if (init.n_inputs, init.n_outputs) != (n_features, n_outputs) or init.n_neurons < 1:
                raise ValueError(
                    f"init has {init.n_inputs} features, {init.n_outputs} outputs and "
                    f"{init.n_neurons} neurons; the data need {n_features} features, "
                    f"{n_outputs} outputs and at least one neuron")
            if init.activation != activation:
                raise ValueError(f"init activation {init.activation} differs from activation={activation}")
            if self.n_neurons is not None and self.n_neurons != init.n_neurons:
                raise ValueError(f"n_neurons={self.n_neurons} differs from init.n_neurons={init.n_neurons}")
        from ._torch import torch_device, torch_dtype

        return activation, torch_device(self.device), torch_dtype(self.dtype), arch

    def _start(self, d: int, C: int, rng, arch):
        if self.init is not None:
            U, A = _initial_weights(self.init, self.formulation)
            return U, (A if arch.is_dense else A.reshape(A.shape[0], arch.n_groups(), C))
        if not arch.is_dense:  # filters (m, f), second layer (m, G, C)
            from ._torch import conv_default_width

            f, G = arch.filter_size, arch.n_groups()
            m = conv_default_width(arch, C) if self.n_neurons is None else int(self.n_neurons)
            return (rng.uniform(-1.0, 1.0, (m, f)) / math.sqrt(f),
                    rng.uniform(-1.0, 1.0, (m, G, C)) / math.sqrt(m * G))
        m = 2 * (d + 1) * C if self.n_neurons is None else int(self.n_neurons)
        return rng.uniform(-1.0, 1.0, (m, d)) / math.sqrt(d), rng.uniform(-1.0, 1.0, (m, C)) / math.sqrt(m)

    # -- training ----------------------------------------------------------------
    def _fit(self, X, Y, loss: Loss, validation=None, sample_weight=None):
        from ._torch import DIVERGENCE_FACTOR, as_tensor, train_minibatch

        unweighted = loss  # (the validation objective's)
        loss, keep, w = weigh_samples(loss, X.shape[0], host_values(sample_weight))
        if keep is not None:
            X, Y = X[keep], Y[keep]
        n, d = X.shape
        mean_w = 1.0 if w is None else float(np.mean(w))  # (steps as on the samples repeated: / sum(w))
        activation, device, dtype, arch = self._check_params(d, Y.shape[1])
        loss.check_targets(Y)
        rng = check_random_state(self.random_state)
        W0, A0 = self._start(d, Y.shape[1], rng, arch)
        arch = None if arch.is_dense else arch  # the dense path is the plain formula
        beta, form = float(self.beta), self.formulation

        def minibatch_objective(Xb, Yb, W, A, idx):  # the objective / sum(w), estimated on a minibatch
            out = _forward(Xb, W, A, activation, form, arch)
            return (loss.rows(idx).value(out, Yb) / (Xb.shape[0] * mean_w)
                    + beta * get_penalty(form).value(W, A) / (n * mean_w))

        Xt, Yt = as_tensor(X, dtype, device), as_tensor(Y, dtype, device)
        problem = None
        if arch is None:  # dense: the objectives of the tensors, on the device
            sets = [(Xt, Yt, loss)] + ([] if validation is None else [
                tuple(as_tensor(a, dtype, device) for a in validation) + (unweighted,)])

            def evaluate(W, A):
                return [float(formulation_objective(Xe, Ye, W, A, activation=activation, loss=le, beta=beta,
                                                    formulation=form)) for Xe, Ye, le in sets]
        else:  # a CNN's from the grouped lift of the data (numpy, built once; cheap with pooling)
            from .data import GroupedData

            problem = Problem(X, Y, activation, loss, beta, architecture=arch)
            sets = [(problem.data, Y, loss)] + ([] if validation is None else [
                (GroupedData(arch.lift(validation[0]), None), validation[1], unweighted)])

            def evaluate(W, A):
                W, A = (t.detach().cpu().numpy().astype(np.float64) for t in (W, A))
                U = W / _row_norms(W)[:, None] if form == "l1" else W
                return [float(le.value(data.outputs(U, A.reshape(A.shape[0], -1), activation), Ye)
                              + beta * get_penalty(form).value(W, A)) for data, Ye, le in sets]

        def log(epoch, value, elapsed):
            if self.verbose:
                logger.info("%s epoch %d: objective %.10g (%.2fs)", type(self).__name__, epoch, value, elapsed)

        self.__dict__.pop("validation_curve_", None)  # no stale curve from an earlier fit
        run = train_minibatch(Xt, Yt, W0, A0, minibatch_objective=minibatch_objective, evaluate=evaluate,
                              optimizer=self.optimizer, lr=float(self.lr), batch_size=self.batch_size,
                              max_epochs=int(self.max_epochs), rng=rng, on_epoch=log)
        self.loss_curve_, self.diverged_, last = run.curve, run.diverged, run.weights
        epoch, elapsed = run.epochs, run.elapsed
        if validation is not None:
            self.validation_curve_ = run.validation_curve
        if run.diverged:
            warnings.warn(
                f"{type(self).__name__} diverged at epoch {epoch} with optimizer={self.optimizer!r}, "
                f"lr={self.lr!r}: objective {run.value:.6g} (NaN, infinite or above {DIVERGENCE_FACTOR:g} "
                f"times the starting objective {run.curve[0][2]:.6g}); the fitted weights are those of "
                f"epoch {run.best_epoch}, the lowest objective ({run.best:.6g}). Use a smaller learning "
                f"rate, e.g. lr={self.lr / 10:g}.", ConvergenceWarning, stacklevel=3)
        self.n_iter_ = epoch
        self.fit_time_ = elapsed
        self._set_result(X, Y, loss, activation, *last, arch, problem)
        return self

    def _set_result(self, X, Y, loss, activation, W, A, arch=None, problem=None):
        self.first_layer_, self.second_layer_ = W, A
        self.loss_ = getattr(loss, "base", loss)
        self.activation_ = activation
        self.n_neurons_ = W.shape[0]
        self.objective_ = float(formulation_objective(X, Y, W, A, activation=activation, loss=loss,
                                                      beta=float(self.beta), formulation=self.formulation,
                                                      architecture=arch))
        if isinstance(activation, PolyActivation):
            scalar = Y.shape[1] == 1 and getattr(self, "_y_ndim", 1) == 1
            self.network_ = _unit_network(W, A, activation, self.formulation, scalar, arch)
            problem = problem or Problem(X, Y, activation, loss, self.beta, architecture=arch)
            self.network_objective_ = problem.objective(self.network_)
        logger.debug("%s: objective %.10g after %d epochs (%.2fs)", type(self).__name__,
                     self.objective_, self.n_iter_, self.fit_time_)

    def _decision(self, X) -> np.ndarray:
        check_is_fitted(self, "first_layer_")
        X = validate_data(self, self._image_rows(X), reset=False, dtype=np.float64)
        if hasattr(self, "network_"):
            return self.network_.decision_function(X)
        return _forward(X, self.first_layer_, self.second_layer_, self.activation_, self.formulation)


class BackpropPolyNetRegressor(RegressorMixin, _BackpropBase):
    __doc__ = backprop_estimator(
        "Regression with a polynomial-activation network trained by backpropagation.", "squared",
        '``"squared"``, ``"absolute"``, ``"huber"`` or a Loss.', examples="""
    Examples
    --------
    >>> from spectranet import make_planted
    >>> X, y = make_planted(40, 3, random_state=0)
    >>> est = BackpropPolyNetRegressor(beta=1e-2, max_epochs=5, random_state=0).fit(X, y)
    >>> est.network_.n_neurons, len(est.loss_curve_), est.diverged_  # 2(d+1) neurons, epochs 0..5
    (8, 6, False)
    """)

    def __init__(self, activation: ActivationLike = "relu", loss: str | Loss = "squared", beta: float = 1e-2,
                 n_neurons: int | None = None, formulation: Literal["l1", "weight_decay", "cubic"] = "l1",
                 optimizer: Literal["sgd", "adam"] = "sgd", lr: float = 1e-2, batch_size: int | None = 10,
                 max_epochs: int = 100, random_state: int | np.random.RandomState | None = None,
                 device: str | torch.device = "cpu", dtype: DTypeLike | torch.dtype = "float64",
                 init: PolyNetwork | None = None, verbose: bool = False,
                 architecture: Dense | Conv2D | None = None) -> None:
        super().__init__(activation, loss, beta, n_neurons, formulation, optimizer, lr, batch_size,
                         max_epochs, random_state, device, dtype, init, verbose, architecture)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X: ArrayLike, y: ArrayLike, validation_data: tuple[ArrayLike, ArrayLike] | None = None,
            sample_weight: ArrayLike | float | None = None) -> "BackpropPolyNetRegressor":
        """Train the network by minibatch SGD or Adam.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (for a CNN, images as rows or ``(N, C, H, W)`` arrays).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        validation_data : tuple (Xv, yv), optional
            Data whose objective is recorded after each epoch in ``validation_curve_``.
        sample_weight : array-like of shape (n_samples,) or float, optional
            Weights of the samples' losses (as in ``ConvexPolyNet*.fit``: weight 0 drops a sample);
            each minibatch's loss is weighted, and so are ``loss_curve_`` and ``objective_`` (not
            the validation objective).

        Returns
        -------
        self : BackpropPolyNetRegressor
            The fitted estimator.
        """
        loss = regression_loss(self.loss, type(self).__name__)
        X, y = validate_data(self, self._image_rows(X), y, multi_output=True, y_numeric=True, dtype=np.float64,
                             ensure_min_samples=2)
        y = as_real_array(y, "y")  # (numeric strings, as ConvexPolyNetRegressor reads them)
        self._y_ndim = y.ndim
        Y = y.reshape(y.shape[0], -1)
        validation = None
        if validation_data is not None:
            Xv, yv = _validation_pair(self, validation_data)
            yv = as_real_array(yv, "validation_data's y")
            if yv.reshape(yv.shape[0], -1).shape[1] != Y.shape[1]:
                raise ValueError(f"validation_data's y has {yv.reshape(yv.shape[0], -1).shape[1]} output(s); y has "
                                 f"{Y.shape[1]}")
            validation = (Xv, yv.reshape(Xv.shape[0], Y.shape[1]))
        return self._fit(X, Y, loss, validation, sample_weight)

    predict = ConvexPolyNetRegressor.predict


def _validation_pair(estimator, validation_data):
    """``fit``'s ``validation_data`` ``(Xv, yv)``: ``Xv`` validated like ``X``, ``yv`` as an array of
    as many samples."""
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        got = type(validation_data).__name__
        got = f"a {got} of {len(validation_data)}" if isinstance(validation_data, (tuple, list)) else got
        raise TypeError(f"validation_data must be a pair (X, y), got {got}")
    Xv = validate_data(estimator, estimator._image_rows(validation_data[0]), reset=False, dtype=np.float64)
    yv = np.asarray(validation_data[1])
    if yv.ndim == 0 or yv.shape[0] != Xv.shape[0]:
        raise ValueError(f"validation_data's X has {Xv.shape[0]} samples and its y "
                         f"{'a scalar' if yv.ndim == 0 else yv.shape[0]}: they must match")
    return Xv, yv


class BackpropPolyNetClassifier(ClassifierMixin, _BackpropBase):
    __doc__ = backprop_estimator(
        "Classification with a polynomial-activation network trained by backpropagation.", "logistic",
        '``"logistic"`` (softmax for more than two classes), ``"hinge"``, ``"squared"``, ``"softmax"`` or a '
        'Loss; targets are encoded as by ConvexPolyNetClassifier (one ±1 output for two classes, one-hot '
        'or one-vs-rest ±1 otherwise).', extra_params=CLASS_WEIGHT,
        attributes="""    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted.
""", examples="""
    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).standard_normal((40, 3))
    >>> clf = BackpropPolyNetClassifier(beta=1e-2, max_epochs=20, random_state=0).fit(X, X[:, 0] > 0)
    >>> bool(clf.score(X, X[:, 0] > 0) > 0.8), clf.classes_.tolist()
    (True, [False, True])
    """)

    def __init__(self, activation: ActivationLike = "relu", loss: str | Loss = "logistic", beta: float = 1e-2,
                 n_neurons: int | None = None, formulation: Literal["l1", "weight_decay", "cubic"] = "l1",
                 optimizer: Literal["sgd", "adam"] = "sgd", lr: float = 1e-2, batch_size: int | None = 10,
                 max_epochs: int = 100, random_state: int | np.random.RandomState | None = None,
                 device: str | torch.device = "cpu", dtype: DTypeLike | torch.dtype = "float64",
                 init: PolyNetwork | None = None, verbose: bool = False,
                 architecture: Dense | Conv2D | None = None,
                 class_weight: Mapping | Literal["balanced"] | None = None) -> None:
        super().__init__(activation, loss, beta, n_neurons, formulation, optimizer, lr, batch_size,
                         max_epochs, random_state, device, dtype, init, verbose, architecture)
        self.class_weight = class_weight

    def _encode(self, y, loss: Loss) -> np.ndarray:
        n_classes = self.classes_.size
        codes = np.minimum(np.searchsorted(self.classes_, y), n_classes - 1)
        if np.any(self.classes_[codes] != y):
            raise ValueError("y contains labels not seen in the training data")
        return encode_classes(codes, n_classes, loss)

    def fit(self, X: ArrayLike, y: ArrayLike, validation_data: tuple[ArrayLike, ArrayLike] | None = None,
            sample_weight: ArrayLike | float | None = None) -> "BackpropPolyNetClassifier":
        """Train the classifier network by minibatch SGD or Adam.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (for a CNN, images as rows or ``(N, C, H, W)`` arrays).
        y : array-like of shape (n_samples,)
            Class labels (at least two classes).
        validation_data : tuple (Xv, yv), optional
            Data whose objective is recorded after each epoch in ``validation_curve_``.
        sample_weight : array-like of shape (n_samples,) or float, optional
            Weights of the samples' losses (as in ``ConvexPolyNet*.fit``: weight 0 drops a sample);
            each minibatch's loss is weighted, and so are ``loss_curve_`` and ``objective_`` (not
            the validation objective).

        Returns
        -------
        self : BackpropPolyNetClassifier
            The fitted estimator.
        """
        X, y = validate_data(self, self._image_rows(X), y, dtype=np.float64, ensure_min_samples=2)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if self.classes_.size < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes; got 1 "
                             f"class ({self.classes_[0]!r})")
        loss = classifier_loss(self.loss, self.classes_.size, type(self).__name__)
        validation = None
        if validation_data is not None:
            Xv, yv = _validation_pair(self, validation_data)
            validation = (Xv, self._encode(yv, loss))
        codes = np.searchsorted(self.classes_, y)
        sample_weight = class_sample_weight(self.class_weight, codes, self.classes_, sample_weight)
        return self._fit(X, self._encode(y, loss), loss, validation, sample_weight)

    decision_function = ConvexPolyNetClassifier.decision_function
    predict = ConvexPolyNetClassifier.predict
    _proba_loss = ConvexPolyNetClassifier._proba_loss
    predict_proba = ConvexPolyNetClassifier.__dict__["predict_proba"]
    predict_log_proba = ConvexPolyNetClassifier.__dict__["predict_log_proba"]


class BackpropReLUClassifier(BackpropPolyNetClassifier):
    __doc__ = BACKPROP_RELU

    activation = "relu_exact"
    formulation = "weight_decay"
    init = None
    architecture = None

    def __init__(self, loss: str | Loss = "logistic", beta: float = 1e-2, n_neurons: int | None = None,
                 optimizer: Literal["sgd", "adam"] = "sgd", lr: float = 1e-2, batch_size: int | None = 10,
                 max_epochs: int = 100, random_state: int | np.random.RandomState | None = None,
                 device: str | torch.device = "cpu", dtype: DTypeLike | torch.dtype = "float64",
                 verbose: bool = False, class_weight: Mapping | Literal["balanced"] | None = None) -> None:
        self.loss, self.beta, self.n_neurons, self.optimizer = loss, beta, n_neurons, optimizer
        self.lr, self.batch_size, self.max_epochs = lr, batch_size, max_epochs
        self.random_state, self.device, self.dtype, self.verbose = random_state, device, dtype, verbose
        self.class_weight = class_weight

    def _activation_fn(self):
        return relu
