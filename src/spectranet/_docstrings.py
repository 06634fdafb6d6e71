r"""Long docstrings, kept apart so that their modules stay within the project's 500-line limit.

Each text here is the ``__doc__`` of one public object (or the shared part of several), assigned
where the object is defined (numpy's ``_add_newdocs`` pattern): the estimators of
:mod:`spectranet.estimators` and :mod:`spectranet.baseline` and :class:`~spectranet.PolyNetwork`
(the losses' are in :mod:`spectranet._loss_docstrings`). Their examples run as doctests of the
modules that define the objects.

Their methods and those of :class:`~spectranet.problem.Problem` keep a summary (some also Parameters and
Returns) in the source; :func:`add_sections` appends the other sections, written in
:mod:`spectranet._method_docstrings` (the losses' in :mod:`spectranet._loss_docstrings`).
"""

from __future__ import annotations

import inspect
import textwrap

__all__ = ["convex_estimator", "backprop_estimator", "BACKPROP_RELU", "POLY_NETWORK", "sections", "add_sections"]

_PAPER = "Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*"
_TITLES = {"params": "Parameters", "returns": "Returns", "raises": "Raises", "see_also": "See Also",
           "notes": "Notes", "refs": "References", "examples": "Examples"}


def sections(**bodies: str) -> str:
    """numpydoc sections, in numpydoc's order, from their bodies (keywords: the keys of ``_TITLES``)."""
    if set(bodies) - set(_TITLES):
        raise TypeError(f"unknown sections {sorted(set(bodies) - set(_TITLES))}")
    return "\n\n".join(f"{title}\n{'-' * len(title)}\n{textwrap.dedent(bodies[key]).strip(chr(10))}"
                       for key, title in _TITLES.items() if bodies.get(key))


def add_sections(cls: type, docs: dict[str, str]) -> None:
    """Append ``docs[name]`` (:func:`sections`) to the docstring of each method ``name`` of ``cls``."""
    for name, text in docs.items():
        member = cls.__dict__[name]
        func = getattr(member, "__func__", None) or getattr(member, "fn", member)  # classmethod, available_if
        func.__doc__ = f"{inspect.cleandoc(func.__doc__ or '')}\n\n{text}\n"
        if member is not func:
            member.__doc__ = func.__doc__


# -- scikit-learn estimators (spectranet.estimators) ------------------------------------------------
_CONVEX_OBJECTIVE = r"""
    Fits the globally optimal network of problem (P),

    .. math::

        \min_{m,\ \|u_j\|_2 = 1,\ \alpha_j}\
            \ell\Big(\sum_{j=1}^m \sigma(X u_j)\, \alpha_j^\top,\ Y\Big)
            + \beta \sum_{j=1}^m \|\alpha_j\|_1,
        \qquad \sigma(t) = a t^2 + b t + c,

    by solving the convex program (21) over neural spectrahedra and extracting the network
    by neural decomposition; every fit is certified by a dual lower bound.
"""

_CONVEX_PARAMS = r"""
    Parameters
    ----------
    activation : str, tuple (a, b, c) or PolyActivation, default="relu"
        Degree-two activation: a preset name (``"square"``, ``"relu"``, ``"swish"``), its
        coefficients or an instance.
    beta : float, default=1e-2
        Weight :math:`\beta > 0` of the :math:`\ell_1` penalty on the second layer. The
        objective is a *sum* over samples, so the useful range of ``beta`` grows with ``n``
        (:func:`spectranet.beta_max` is the smallest ``beta`` whose optimum is the zero network).
        ``beta = 0`` is refused: no gap can then be certified, and separable classification data
        have no minimizer.
    loss : str or Loss, default=DEFAULT_LOSS
        LOSS_DOC
    solver : str or Solver, default="auto"
        A name from :func:`spectranet.available_solvers` or ``"auto"``, or a solver instance, which
        is used as given: ``lean`` and ``self_certify`` apply to solvers given by name (set them on
        the instance, e.g. ``NativeSolver(lean=False)``).
    tol : float, default=1e-6
        Target relative duality gap, in (0, 1); a fit whose certified gap exceeds it issues a
        :class:`~sklearn.exceptions.ConvergenceWarning`.
    max_iter : int or None, default=None
        Iterations of the solver's main loop at most (interior-point iterations, column-generation
        or low-rank rounds, a CVXPY backend's iterations; None: the solver's default). A fit that
        reaches it without certifying ``tol`` has ``status_ == "max_iter"``.
    verbose : bool, default=False
        Show the solver's progress.
    warm_start : bool, default=False
        Reuse the previous fit's solver state (same data, e.g. a new ``beta``) when possible.
    regularization : {"l1", "cubic"}, default="l1"
        ``"l1"``: problem (P) above. ``"cubic"`` (square activation only): the equivalent
        cubic-regularized problem :math:`\ell + (\beta / c_0) \sum_j (\|u_j\|^3 +
        \|\alpha_j\|_1^3)`, solved as the nuclear-norm program
        (:func:`spectranet.cubic.solve_cubic`); the network is extracted by an
        eigendecomposition (:math:`m^* \le d` per output) and the cubic weights are stored in
        ``cubic_first_layer_`` / ``cubic_second_layer_``. Needs a CVXPY solver.
    architecture : None, Dense or Conv2D, default=None
        ``None`` / :class:`~spectranet.Dense`: fully connected. :class:`~spectranet.Conv2D`:
        a convolutional first layer on images given as rows of ``C*H*W`` values (or arrays
        ``(N, C, H, W)``), with one second-layer weight per patch, per pooling window, or
        (``pool="global"``) per filter; one pair of the convex program per group and output.
    max_time : float or None, default=None
        Seconds the fit may take (model building and final polish included). A fit stopped by it
        returns the best network certified so far with ``status_ == "time_limit"`` and a
        :class:`~sklearn.exceptions.ConvergenceWarning`; it stops within about 10 % of it plus one
        pass over the data.
    lean : bool, default=True
        Among optimal networks, return a narrow one (Pataki's reduction on the optimal face,
        :mod:`spectranet.face`; native solver given by name).
    self_certify : bool, default=True
        Make the network prove its own optimality from its own gradient (the dual point anyone can
        compute from the network and the data): the interior-point engines run a few iterations
        more (native solver). The fit's dual point always travels with ``network_`` as its witness.

    Attributes
    ----------
    network_ : PolyNetwork
        The extracted network: ``network_.first_layer`` (m, d) with unit-norm rows (filters of
        length ``C*kh*kw`` for a CNN), ``network_.second_layer`` (m,) or (m, C) (a CNN's has a
        group axis: (m, G) or (m, G, C)).
    n_neurons_ : int
        Width :math:`m^* = \sum_k (\operatorname{rank} Z_k^* + \operatorname{rank} Z_k'^*)`.
    objective_ : float
        Value of the convex program (21) where the solver stopped (at a feasible point, or the
        objective of ``network_`` when lower): attainable, never above ``network_objective_``, and
        equal to the optimum within the certified gap.
    network_objective_ : float
        Objective (P) of ``network_``: an upper bound on the global optimum, at least ``objective_``.
    lower_bound_ : float
        Certified lower bound on the global optimum.
    gap_ : float
        Relative gap between ``network_objective_`` and ``lower_bound_``.
    certificate_ : Certificate
        Full certificate (:func:`spectranet.certify`).
    status_ : str
        ``"optimal"`` when the certified gap is within ``tol``; else ``"inaccurate"``,
        ``"max_iter"`` or ``"time_limit"``.
    n_iter_ : int
        Solver iterations.
    solver_, engine_ : str
        The solver that ran (a registry name) and its engine (``SolveResult.engine``: e.g.
        ``"lifted"``, ``"ipm"``, ``"columns"``, ``"zero"``).
    fit_time_ : float
        Seconds spent in the solver.
    activation_ : PolyActivation
        The activation of the fit.
    loss_ : Loss
        The loss of the fit (for a classifier, softmax when ``"logistic"`` meets more than two classes).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of str
        Names of the features seen during ``fit``, when ``X`` has string column names.
    cubic_first_layer_, cubic_second_layer_ : ndarray
        Only with ``regularization="cubic"``: the weights of the cubic-regularized network
        (same function as ``network_``).
"""

_CONVEX_TAIL = r"""
    Raises
    ------
    TypeError, ValueError
        Raised by ``fit`` (parameters are checked there, as in scikit-learn): a parameter out of its
        range or of the wrong type (e.g. ``beta <= 0``, ``tol`` outside (0, 1), a non-square activation
        with ``regularization="cubic"``), a loss of the other task, or invalid data.

    See Also
    --------
    spectranet.certify : Certify any network, however trained.
    spectranet.regularization_path : Fits for a sequence of ``beta``.
    spectranet.BackpropPolyNetRegressor : The same network trained by SGD or Adam.

    References
    ----------
    PAPER, eq. (20) (problem (P)), eq. (21) (the convex program), eq. (22) (the width
    :math:`m^*`), Section 4 (neural decomposition) and Table 1 (vector output, CNN and pooling).
""".replace("PAPER", _PAPER)


#: a classifier's ``class_weight`` (the convex and the backprop classifiers)
CLASS_WEIGHT = """    class_weight : dict, "balanced" or None, default=None
        Weights of the classes' losses, multiplying ``fit``'s ``sample_weight``: a dict
        ``{label: weight}`` (finite, non-negative; a label it does not name weighs 1), or
        ``"balanced"``, :math:`n / (K n_k)` for a class of :math:`n_k` of the :math:`n` samples
        (:math:`K` classes), as in scikit-learn.
"""
_ATTRIBUTES = "\n    Attributes\n    ----------\n"


def _with_params(params: str, extra: str) -> str:
    """``params`` (a Parameters section followed by Attributes) with ``extra`` at its end."""
    return params.replace(_ATTRIBUTES, extra.rstrip("\n") + "\n" + _ATTRIBUTES, 1) if extra else params


def convex_estimator(title: str, default_loss: str, loss_doc: str, *, notes: str = "", attributes: str = "",
                     examples: str = "", extra_params: str = "") -> str:
    """The docstring of a convex estimator: ``title``, the shared sections (``extra_params`` at the end
    of Parameters), then ``examples``."""
    params = _CONVEX_PARAMS.replace("DEFAULT_LOSS", repr(default_loss)).replace("LOSS_DOC", loss_doc)
    params = _with_params(params, extra_params)
    return title + "\n" + _CONVEX_OBJECTIVE + notes + params + attributes + _CONVEX_TAIL + examples


# -- backprop baselines (spectranet.baseline) --------------------------------------------------------
_BACKPROP = r"""
    Trains :math:`f(x) = \sum_{j=1}^m \sigma(x^\top u_j)\,\alpha_j` by backpropagation on the
    objective of ``formulation`` (see :mod:`spectranet.baseline`); for ``"l1"`` it is problem (P),

    .. math:: \min_{\|u_j\|_2 = 1,\ \alpha_j}\ \ell\Big(\sum_j \sigma(X u_j)\,\alpha_j^\top, Y\Big)
              + \beta \sum_j \|\alpha_j\|_1,

    whose global optimum the convex estimators compute (:func:`~spectranet.certify` measures how far a
    trained network is from it). torch is required to fit.

    Parameters
    ----------
    activation : str, tuple (a, b, c) or PolyActivation, default="relu"
        Degree-two activation, as for the convex estimators.
    loss : str or Loss, default=DEFAULT_LOSS
        LOSS_DOC
    beta : float, default=1e-2
        Regularization weight :math:`\beta \ge 0` (objectives are sums over samples).
    n_neurons : int or None, default=None
        Width m; None means :math:`2(d+1)C`, the bound on the convex program's width (or the
        width of ``init``); for a CNN the number of filters, by default :math:`2(f+1)GC` capped at
        :math:`\max(2(f+1)C, 256)` (:func:`spectranet._torch.conv_default_width`).
    formulation : {"l1", "weight_decay", "cubic"}, default="l1"
        Objective (P), (P_WD), or the cubic regularization (square activation, dense only).
    optimizer : {"sgd", "adam"}, default="sgd"
        SGD with momentum 0.9 (as in the paper) or Adam.
    lr : float, default=1e-2
        Learning rate; steps descend the objective divided by n.
    batch_size : int or None, default=10
        Minibatch size (None: full batch).
    max_epochs : int, default=100
        Epochs of training.
    random_state : int, RandomState or None, default=None
        Seeds the initialization and the minibatch order (numpy; deterministic on CPU).
    device : str, default="cpu"
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    dtype : {"float64", "float32"}, default="float64"
        Training precision; ``objective_`` is always evaluated in float64.
    init : PolyNetwork or None, default=None
        Start from this network (its function is preserved: rows are rescaled into the
        formulation, balanced for ``"cubic"``); None draws uniform random weights. A CNN's
        ``init`` must have the same architecture.
    verbose : bool, default=False
        Log the objective after every epoch (``logging``, logger ``spectranet.baseline``).
    architecture : None, Dense or Conv2D, default=None
        ``None``/:class:`~spectranet.Dense`: fully connected. :class:`~spectranet.Conv2D`: the
        library's CNN (filters ``(m, C*kh*kw)``, a second-layer weight per filter, group and
        output), trained with the torch forward pass of :func:`spectranet._torch.conv_forward`;
        ``X`` are images as rows ``(n, C*H*W)`` or arrays ``(N, C, H, W)``. With ``"l1"`` the
        objective is the library's (P) for that architecture (``Problem(..., architecture=...)``).

    Attributes
    ----------
    network_ : PolyNetwork
        The trained network with unit-norm rows (norms moved into :math:`\alpha` for
        ``"weight_decay"``/``"cubic"``; raw rows for weight decay with a non-homogeneous
        activation, whose function cannot be rescaled).
    first_layer_, second_layer_ : ndarray of shape (m, d) and (m, C)
        Raw trained weights :math:`w_j`, :math:`\alpha_j` (float64); a CNN's are ``(m, f)`` and
        ``(m, G, C)``.
    objective_ : float
        Objective of ``formulation`` on the training data, in float64.
    network_objective_ : float
        Objective (P) of ``network_`` (equals ``objective_`` for ``"l1"``; a lower bound on it for
        ``"cubic"``; for weight decay with a non-homogeneous activation, whose rows are not unit
        norm, just the loss plus :math:`\beta \sum_j \|\alpha_j\|_1`).
    loss_curve_ : list of (float, int, float)
        ``(wall_time_s, epoch, train_objective)`` after each epoch, starting with epoch 0
        (the start); time counts training steps only, not these evaluations.
    validation_curve_ : list of (float, int, float)
        Same for the objective on ``validation_data`` (only when given to ``fit``).
    diverged_ : bool
        An epoch's training objective was NaN, infinite or above ``1e6`` times the objective of
        the initial network (``spectranet._torch.DIVERGENCE_FACTOR``; when that objective is
        positive): training stopped at that epoch with a ConvergenceWarning naming ``lr``, and the
        fitted weights are those of the epoch with the lowest objective, the initial network
        included (so ``objective_`` is the lowest value of ``loss_curve_``, never NaN). Without
        divergence the fitted weights are the last epoch's.
    n_iter_ : int
        Epochs run.
    fit_time_ : float
        Seconds of training.
    n_features_in_ : int
        Number of features seen during ``fit``.
"""

_BACKPROP_TAIL = r"""
    Raises
    ------
    ValueError
        Raised by ``fit`` (parameters are checked there): a parameter out of its range (``lr``,
        ``beta``, ``n_neurons``, ``batch_size``, ``max_epochs``, ``formulation``, ``optimizer``), an
        ``init`` that does not fit the data, or invalid data.
    ImportError
        Raised by ``fit`` when torch is not installed.

    See Also
    --------
    spectranet.lr_grid_search : Fits over optimizers, learning rates and seeds.
    spectranet.ConvexPolyNetRegressor : The globally optimal network of the same objective (P).

    References
    ----------
    PAPER, eq. (20) (problem (P)), eq. (1) and eq. (41) (weight decay, :math:`P_{WD}`), eq. (2)
    (cubic regularization) and Section 6 (Figs. 4-6: SGD with momentum 0.9 and Adam against the SDP).
""".replace("PAPER", _PAPER)


def backprop_estimator(title: str, default_loss: str, loss_doc: str, *, attributes: str = "",
                       examples: str = "", extra_params: str = "") -> str:
    """The docstring of a backprop estimator: ``title``, the shared sections (``extra_params`` at the
    end of Parameters), then ``examples``."""
    params = _with_params(_BACKPROP.replace("DEFAULT_LOSS", repr(default_loss)).replace("LOSS_DOC", loss_doc),
                          extra_params)
    return title + "\n" + params + attributes + _BACKPROP_TAIL + examples


BACKPROP_RELU = r"""Two-layer ReLU network trained by backpropagation with weight decay (the ReLU baseline of Fig. 6).

    The network :math:`f(x) = \sum_j \max(0, x^\top w_j)\,\alpha_j` (no biases: append a constant column
    to ``X`` for them) minimizes, by SGD or Adam,

    .. math:: \ell(f(X), Y) + \frac{\beta}{2} \sum_j \big(\|w_j\|_2^2 + \|\alpha_j\|_2^2\big).

    No convex program certifies it: it is the paper's point of comparison for accuracy and time.

    Parameters
    ----------
    loss : str or Loss, default="logistic"
        As for :class:`BackpropPolyNetClassifier`.
    beta : float, default=1e-2
        Weight-decay weight :math:`\beta \ge 0`.
    n_neurons : int or None, default=None
        Width m; None means :math:`2(d+1)C`.
    optimizer : {"sgd", "adam"}, default="sgd"
        SGD with momentum 0.9 or Adam.
    lr : float, default=1e-2
        Learning rate; steps descend the objective divided by n.
    batch_size : int or None, default=10
        Minibatch size (None: full batch).
    max_epochs : int, default=100
        Epochs of training.
    random_state : int, RandomState or None, default=None
        Seeds the initialization and the minibatch order.
    device : str, default="cpu"
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    dtype : {"float64", "float32"}, default="float64"
        Training precision.
    verbose : bool, default=False
        Log the objective after every epoch.

    Attributes
    ----------
    first_layer_, second_layer_, objective_, loss_curve_, diverged_, n_iter_, fit_time_, classes_
        As for :class:`BackpropPolyNetClassifier`; there is no ``network_`` (a ReLU network is no
        PolyNetwork).

    Raises
    ------
    ValueError
        Raised by ``fit`` for a parameter out of its range or invalid data.

    See Also
    --------
    BackpropPolyNetClassifier : The polynomial-activation network trained the same way.
    spectranet.ConvexPolyNetClassifier : The globally optimal polynomial-activation network.

    References
    ----------
    PAPER, Section 6.1 and Fig. 6 (ReLU against polynomial activation networks on UCI data).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).standard_normal((40, 3))
    >>> clf = BackpropReLUClassifier(max_epochs=20, random_state=0).fit(X, X[:, 0] > 0)
    >>> bool(clf.score(X, X[:, 0] > 0) > 0.8), hasattr(clf, "network_")
    (True, False)
    """.replace("PAPER", _PAPER)
BACKPROP_RELU = _with_params(BACKPROP_RELU, CLASS_WEIGHT)


# -- the network (spectranet.network) -------------------------------------------------------------
POLY_NETWORK = r"""A two-layer network with degree-two polynomial activation.

    .. math:: f(x) = \sum_{j=1}^m \sigma(x^\top u_j)\, \alpha_j, \qquad
              \sigma(t) = a t^2 + b t + c,

    or, with a :class:`~spectranet.architectures.Conv2D` architecture, a CNN with filters
    :math:`u_j` and a second-layer weight per filter, group (patch or pooling window) and output:

    .. math:: f(x)_k = \sum_{j=1}^m \sum_g \alpha_{jgk}\, \frac{1}{|g|}\sum_{l \in g} \sigma(x_l^\top u_j).

    Immutable, its weights read-only float64 copies. Every network of the library (a fit's
    ``network_``, a planted teacher, a backprop baseline's) is one; with unit-norm first-layer rows it
    is a point of problem (P), whose objective :meth:`objective` evaluates and
    :func:`~spectranet.certify` certifies. It is saved without pickle (:meth:`save`, :meth:`load`)
    and converts to a ``torch.nn.Module`` (:meth:`to_torch`).

    Parameters
    ----------
    first_layer : array-like of shape (m, d)
        First-layer weights :math:`u_j` as rows (unit norm for networks extracted from
        the convex program; any norm is accepted).
    second_layer : array-like of shape (m,) or (m, C); (m, G) or (m, G, C) for a CNN
        Second-layer weights :math:`\alpha_j`: ``(m,)`` for a scalar output,
        ``(m, C)`` for ``C`` outputs; a CNN's has a group axis (``G`` patches or pooling windows).
    activation : PolyActivation, str or tuple
        The activation :math:`\sigma`.
    architecture : Dense or Conv2D, optional
        ``None``: fully connected. With :class:`~spectranet.architectures.Conv2D` the first layer's
        rows are filters of length ``C*kh*kw`` and inputs are images (rows of ``C*H*W`` values
        or ``(N, C, H, W)`` arrays).
    witness : Witness, optional
        The dual point that proves the network optimal on its training data (a fit attaches it;
        :func:`~spectranet.certify` uses it), see :mod:`spectranet.witness`.

    Attributes
    ----------
    first_layer, second_layer : ndarray
        The weights, read-only float64.
    activation : PolyActivation
        The activation.
    architecture : Dense or Conv2D
        The architecture.
    witness : Witness or None
        The witness, if any.
    n_neurons, n_features, n_outputs : int
        Number ``m`` of neurons, length of a first-layer row (a CNN's filter size), number of outputs.
    n_inputs, n_groups, n_pairs : int
        Length of an input row; groups per filter (1 for a dense network); pairs of the convex program.
    scalar_output : bool
        Whether the second layer has no output axis (:meth:`predict` returns ``(n,)``).

    Raises
    ------
    TypeError
        If the activation, architecture or witness has the wrong type.
    ValueError
        If the layers' shapes do not match each other or the architecture, or a weight is not finite.

    See Also
    --------
    spectranet.ConvexPolyNetRegressor : Fits the globally optimal network (its ``network_``).
    spectranet.certify : Certifies how far a network is from the global optimum of (P).

    Notes
    -----
    The file of :meth:`save` is a ``.npz`` archive (no pickle) with the members ``format_version`` (int,
    currently 3), ``first_layer`` (m, d), ``second_layer`` (m,) or (m, C) (a CNN's: (m, G) or
    (m, G, C)), ``activation`` (3,) = (a, b, c), ``architecture`` (a JSON string, e.g.
    ``{"type": "dense"}``) and, for a network that carries a witness (unless ``witness=False``),
    ``witness`` (JSON: loss, beta, fingerprint, shape) and ``witness_dual`` (n, C). :meth:`load`
    checks that ``second_layer`` has ``first_layer``'s rows, that a CNN's filters have the
    architecture's length and its group axis the architecture's groups, and that ``witness_dual``
    has the shape ``witness`` declares; it reads versions 1 (dense, no architecture) and 2 (no
    witness) too.

    References
    ----------
    PAPER, eq. (11) (the network, linear in the lifted features), eq. (20) (problem (P)),
    Section 4 (neural decomposition, which extracts it from the convex program) and Table 1 (vector
    output, CNN and pooling).

    Examples
    --------
    >>> import numpy as np
    >>> net = PolyNetwork([[1.0, 0.0], [0.0, 1.0]], [2.0, -1.0], "square")
    >>> net
    PolyNetwork(n_neurons=2, n_features=2, n_outputs=1, activation=(1, 0, 0))
    >>> X = np.array([[1.0, 2.0], [1.0, 0.0]])
    >>> net.predict(X)  # 2 (x^T u_1)^2 - (x^T u_2)^2
    array([-2.,  2.])
    >>> net.objective(X, [0.0, 2.0], "squared", beta=0.5)  # (-2)^2 / 2 + 0.5 * (2 + 1)
    3.5
    """.replace("PAPER", _PAPER)
