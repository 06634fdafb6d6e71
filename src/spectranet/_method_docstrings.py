r"""The numpydoc sections of the methods of :class:`~spectranet.Problem`, :class:`~spectranet.PolyNetwork`
and the convex estimators, appended to their docstrings by :func:`spectranet._docstrings.add_sections`.

Each method keeps its summary (some also their Parameters and Returns) in the source; the rest is here so
that those modules stay within the project's 500-line limit (the losses' methods: in
:mod:`spectranet._loss_docstrings`). The examples run as doctests of the modules that define the classes.
"""

from __future__ import annotations

from ._docstrings import sections

__all__ = ["PROBLEM_METHODS", "NETWORK_METHODS", "REGRESSOR_METHODS", "CLASSIFIER_METHODS"]


def _ref(text: str) -> str:
    """A References section's text: the paper, then ``text`` (its line breaks joined)."""
    return f"Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, {' '.join(text.split())}"


# -- Problem (spectranet.problem) -------------------------------------------------------------------
_PROBLEM = """
    >>> import numpy as np
    >>> from spectranet import PolyNetwork, Problem
    >>> X, y = np.array([[1.0, 2.0], [0.0, 1.0], [1.0, 0.0]]), np.array([2.0, 1.0, 0.0])
    >>> problem = Problem(X, y, "square", "squared", beta=0.5)
    >>> net = PolyNetwork([[1.0, 0.0]], [2.0], "square")  # f(x) = 2 (x^T u)^2 with u = e_1"""
_LIFT = """
    >>> p = np.array([1.0, 0.0, 1.0])  # (u, 1)
    >>> Z = 2.0 * np.outer(p, p)  # the lift of net, eq. (36) (alpha = 2 > 0: Z' = 0)"""
_REF_P = _ref("eq. (20) (problem (P)).")

PROBLEM_METHODS = {
    "max_neurons": sections(returns=r"""
    int
        :math:`2(f+1)P`: the bound :math:`m^* \le 2(d+1)` of eq. (22) for each of the ``P`` pairs.""",
                            refs=_ref(r"eq. (22) (the width :math:`m^*`) and Table 1 (its bound per architecture).")),
    "on_host": sections(returns="""
    Problem
        A copy whose ``data`` are the float64 numpy arrays ``X`` and ``Y``; ``self`` for Dask data (already
        float64) or a convolutional architecture (whose products run in numpy on the host)."""),
    "zero_network": sections(returns="""
    PolyNetwork
        No neurons; the problem's activation, architecture and output shape. Its outputs are zero.""",
                             see_also=r"""
    spectranet.beta_max : The smallest :math:`\beta` at which the zero network is optimal."""),
    "hidden": sections(params="""
    first_layer : ndarray of shape (m, f)
        First-layer rows :math:`u_j` (filters for a convolutional architecture).""", returns=r"""
    H : array of shape (n, m)
        :math:`XU^\top` (a convolutional architecture's filter projections: ``(n, G, r, m)``).
    Phi : array of shape (n, m)
        :math:`\sigma(XU^\top)` (a convolutional architecture's group activations: ``(n, G, m)``).
        Both are arrays of the data's library and device (numpy, torch or Dask)."""),
    "outputs": sections(params="""
    network : PolyNetwork
        A network of this problem's activation, architecture, features and outputs.""", returns="""
    ndarray of shape (n, C)
        float64 on the host (a persisted Dask array for Dask data).""", raises="""
    TypeError
        If ``network`` is not a PolyNetwork.
    ValueError
        If its architecture, features, outputs or activation differ from the problem's.""", see_also="""
    objective : Objective (P), from these outputs.
    spectranet.PolyNetwork.decision_function : The same outputs on any data.""",
                        refs=_ref(r"eq. (20) (the outputs :math:`\sum_j \sigma(X u_j)\,\alpha_j^\top` of (P))."),
                        examples=_PROBLEM + """
    >>> problem.outputs(net).ravel()
    array([2., 0., 2.])"""),
    "objective": sections(params="""
    network : PolyNetwork
        A network of this problem's activation, architecture, features and outputs.
    outputs : ndarray of shape (n, C), optional
        :meth:`outputs` of the network, when already computed.""", returns="""
    float
        The objective.""", raises="""
    TypeError
        If ``network`` is not a PolyNetwork.
    ValueError
        If it does not match the problem.""", see_also="""
    spectranet.PolyNetwork.objective : The same objective on any data.
    lifted_objective : The objective of the convex program (21), equal at the network's lift.
    spectranet.certify : A lower bound on the optimum of (P), and the gap.""", refs=_REF_P,
                          examples=_PROBLEM + """
    >>> problem.objective(net)  # (0 + 1 + 4) / 2 + 0.5 * 2
    3.5"""),
    "penalized": sections(params=r"""
    loss_value : float
        The loss :math:`\ell` at the network's outputs.
    second_layer : ndarray
        Second-layer weights :math:`A` (any shape).
    signs : ndarray, optional
        A sign pattern :math:`s`, shaped as ``second_layer``.""", returns=r"""
    float
        :math:`\ell + \beta \sum_j \|\alpha_j\|_1`; given ``signs``, :math:`\ell + \beta \langle s, A\rangle`."""),
    "forward": sections(params="""
    M : ndarray of shape (P, f+1, f+1)
        Symmetric matrices :math:`M_p = Z_p - Z_p'`, one per pair (``P = C`` dense).""", returns="""
    ndarray of shape (n, C)
        float64 on the host (computed on the data's device); a persisted Dask array for Dask data.""",
                        see_also="""
    adjoint : Its adjoint.
    lifted_features : The same map as a matrix (one output).
    lifted_objective : The objective of the convex program (21), through this map.""",
                        refs=_ref(r"""eq. (11) (the network, linear in the lifted features :math:`\phi(x)`) and eq. (21)
    (its constraint :math:`\hat y_i = a x_i^\top (Z_1 - Z_1') x_i + b x_i^\top (Z_2 - Z_2') + c (Z_4 - Z_4')`)."""),
                        examples=_PROBLEM + _LIFT + """
    >>> problem.forward(Z[None]).ravel()  # the outputs of net
    array([2., 0., 2.])"""),
    "dual_quadratic": sections(refs=_ref(r"""eq. (27) (the two quadratic inequalities in :math:`u` of the dual
    constraint :math:`|v^\top \sigma(Xu)| \le \beta` of (26)).""")),
    "adjoint": sections(params="""
    V : ndarray of shape (n, C)
        A point of the output space (a dual point).""", returns="""
    ndarray of shape (P, f+1, f+1)
        One symmetric matrix per pair.""", see_also=r"""
    forward : The lifted map.
    dual_quadratic : The blocks of :math:`\mathcal{A}^*(V)`, as a quadratic in :math:`u`.
    spectranet.certify : Maximizes :math:`|V_k^\top \sigma(Xu)|` over the unit sphere.""",
                        refs=_ref(r"""eqs. (26) and (27) (the dual constraint: :math:`v^\top \sigma(Xu)` is the
    quadratic form of :math:`\mathcal{A}^*(v)` at :math:`(u, 1)`)."""), examples=_PROBLEM + """
    >>> V, p = np.array([[1.0], [-1.0], [0.5]]), np.array([1.0, 0.0, 1.0])
    >>> float(p @ problem.adjoint(V)[0] @ p)  # V^T sigma(X u) at u = e_1: 1 - 0 + 0.5
    1.5"""),
    "lifted_objective": sections(params=r"""
    Z, Z_prime : ndarray of shape (P, f+1, f+1)
        The pairs :math:`(Z_p, Z_p')`, one per pair of the program.""", returns="""
    float
        The objective.""", see_also="""
    objective : Objective (P) of a network, equal to this one at the network's lift.
    forward : The lifted map inside the loss.""",
                                 refs=_ref("""eq. (21) (the convex program) and eqs. (36)-(38) (a network's lift,
    whose objective (21) is its objective (P))."""), examples=_PROBLEM + _LIFT + """
    >>> problem.lifted_objective(Z[None], np.zeros((1, 3, 3))), problem.objective(net)
    (3.5, 3.5)"""),
    "lifted_penalized": sections(params=r"""
    loss_value : float
        The loss at the lifted outputs :math:`\mathcal{A}(Z - Z')`.
    Z : ndarray of shape (P, f+1, f+1), or (P, 2, f+1, f+1) holding the pairs
        The first matrices of the pairs, or the pairs stacked.
    Z_prime : ndarray of shape (P, f+1, f+1), optional
        The second matrices (not given with stacked pairs).""", returns=r"""
    float
        ``loss_value`` + :math:`\beta \sum_p (Z_{p,f+1,f+1} + Z'_{p,f+1,f+1})`.""", see_also="""
    lifted_objective : The same with the loss computed from the pairs.""",
                                 refs=_ref("""eq. (21) (the penalty of the convex program)."""),
                                 examples=_PROBLEM + _LIFT + """
    >>> value = problem.loss.value(problem.forward(Z[None]), problem.Y)
    >>> problem.lifted_penalized(value, np.stack([Z, 0 * Z])[None]), problem.lifted_objective(Z[None], 0 * Z[None])
    (3.5, 3.5)"""),
    "lifted_features": sections(returns="""
    ndarray of shape (n, (d+1)(d+2)/2)
        One row per sample.""", raises="""
    ValueError
        For Dask data, or a convolutional architecture (see :meth:`group_lifted_features`).""",
                                refs=_ref(r"eq. (11) (the lifted features :math:`\phi(x) = (a x x^\top, b x, c)`).")),
    "group_lifted_features": sections(returns="""
    ndarray of shape (G, n, (f+1)(f+2)/2)
        One matrix per group.""", raises="""
    ValueError
        For Dask data."""),
    "lifted_dimension": sections(returns="""
    int
        The number of free entries of a symmetric ``(f+1, f+1)`` matrix."""),
}

# -- PolyNetwork (spectranet.network) ---------------------------------------------------------------
_NETWORK = """
    >>> import numpy as np
    >>> from spectranet import PolyNetwork
    >>> net = PolyNetwork([[1.0, 0.0], [0.0, 1.0]], [2.0, -1.0], "square")
    >>> X = np.array([[1.0, 2.0], [1.0, 0.0]])"""
_X = """
    X : array-like of shape (n, n_inputs)
        Samples (a CNN's: images as rows of ``C*H*W`` values or ``(N, C, H, W)`` arrays)."""
_X_RAISES = """
    ValueError
        If ``X`` is not of this shape."""
_SAVE_LOAD = """
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     net.save(os.path.join(folder, "net"))  # writes net.npz
    ...     loaded = PolyNetwork.load(os.path.join(folder, "net"))
    >>> loaded, bool(np.array_equal(loaded.first_layer, net.first_layer))
    (PolyNetwork(n_neurons=2, n_features=2, n_outputs=1, activation=(1, 0, 0)), True)"""
_WITNESS_REF = _ref("eqs. (24) and (26) (the dual problems; a witness is a feasible point of them).")

NETWORK_METHODS = {
    "with_layers": sections(params="""
    first_layer : array-like of shape (m, f)
        First-layer rows.
    second_layer_2d : array-like of shape (m, P)
        Second layer, one column per pair ``p = g*C + k``.
    drop_zero : bool, default=True
        Drop the neurons whose second-layer weights are all zero.""", returns="""
    PolyNetwork
        The new network, without a witness."""),
    "with_witness": sections(params="""
    witness : Witness or None
        The dual point that proves the network optimal on its training data (:mod:`spectranet.witness`).""",
                             returns="""
    PolyNetwork
        A network with the same weights, activation and architecture.""", refs=_WITNESS_REF),
    "zero": sections(params="""
    n_features : int
        Length of a first-layer row (a CNN's filter size ``C*kh*kw``).
    activation : PolyActivation, str or tuple
        The activation.
    n_outputs : int or None, default=None
        The number ``C`` of outputs; None: a scalar output.
    architecture : Dense or Conv2D, optional
        The architecture (None: fully connected).""", returns="""
    PolyNetwork
        A network with ``n_neurons == 0``.""", examples="""
    >>> import numpy as np
    >>> PolyNetwork.zero(3, "relu").predict(np.ones((2, 3)))
    array([0., 0.])"""),
    "decision_function": sections(params=_X, returns=r"""
    ndarray of shape (n, C)
        :math:`f(X)` in float64, with an output axis even for a scalar-output network.""", raises=_X_RAISES,
                                  see_also="""
    predict : The same outputs, without the axis of a scalar output.
    spectranet.Problem.outputs : The outputs on a problem's training data.""",
                                  refs=_ref("eq. (11) (the network, linear in the lifted features) and Table 1 "
                                            "(vector output, CNN and pooling)."), examples=_NETWORK + """
    >>> net.decision_function(X)  # 2 (x^T u_1)^2 - (x^T u_2)^2
    array([[-2.],
           [ 2.]])"""),
    "predict": sections(params=_X, returns="""
    ndarray of shape (n,) or (n, C)
        ``(n,)`` for a scalar-output network (:attr:`scalar_output`).""", raises=_X_RAISES, see_also="""
    decision_function : The outputs, always 2-D.
    objective : The objective (P) of these outputs.""", refs=_ref("eq. (11) (the network) and eq. (20) (problem (P))."),
                        examples=_NETWORK + """
    >>> net.predict(X)
    array([-2.,  2.])"""),
    "check_unit_norm": sections(params="""
    what : str, default="the network"
        How the error message names the network.""", returns="""
    PolyNetwork
        ``self``.""", raises="""
    ValueError
        If a first-layer row norm differs from 1 by more than ``UNIT_NORM_ATOL`` (1e-8).""", refs=_REF_P),
    "penalty": sections(returns="""
    float
        The unscaled penalty of (P) (:class:`~spectranet.penalties.L1Penalty`).""", refs=_REF_P),
    "objective": sections(params=r"""
    X : array-like of shape (n, n_inputs)
        Samples (at least two).
    y : array-like of shape (n,) or (n, C)
        Targets in the loss's encoding (labels in {-1, +1} for margin losses, class indices or
        one-hot rows for the softmax loss).
    loss : str or Loss, default="squared"
        The loss :math:`\ell`.
    beta : float, default=0.0
        The weight :math:`\beta \ge 0`.
    sample_weight : array-like of shape (n,) or float, optional
        Weights :math:`w_i \ge 0` of the samples' losses (as in :class:`~spectranet.Problem`).""", returns="""
    float
        The objective; it is the objective of (P) only for unit-norm first-layer rows.""", raises="""
    TypeError, ValueError
        For an unknown loss, a negative ``beta``, data of the wrong shape or encoding, or invalid
        weights.""", see_also="""
    spectranet.certify : How far the network is from the global optimum of this objective.
    spectranet.Problem.objective : The same on a prepared problem.""", refs=_REF_P, examples=_NETWORK + """
    >>> net.objective(X, [0.0, 2.0], "squared", beta=0.5)  # (-2)^2 / 2 + 0.5 * (2 + 1)
    3.5"""),
    "save": sections(params="""
    path : str or path-like
        The file; it gets the suffix ``.npz`` if it has none (as :meth:`load` expects).
    witness : bool, default=True
        Write the witness, if the network carries one (its dual point holds n * C floats and, for the
        squared loss, reveals the training labels' residuals; without it the network certifies from its
        gradient).""", see_also="""
    load : Reads the file back.""", refs=_WITNESS_REF, examples=_NETWORK + _SAVE_LOAD),
    "load": sections(params="""
    path : str or path-like
        The ``path`` given to :meth:`save` (the suffix ``.npz`` is added when no file of that name exists).""",
                     returns="""
    PolyNetwork
        The network, with its witness if the file holds one.""", raises="""
    OSError
        When the file cannot be opened (``FileNotFoundError`` when there is none).
    ValueError
        Naming the file and the member for anything else: not a zip archive, a missing member,
        a wrong dtype, shape or format version, non-finite weights, malformed JSON, a member
        over the limits.""", see_also="""
    save : Writes the file.
    spectranet.certify : Certifies the loaded network (from its witness, if it has one).""",
                     refs=_WITNESS_REF, examples=_NETWORK + _SAVE_LOAD),
    "to_torch": sections(params="""
    dtype : torch.dtype or None, default=None
        The parameters' dtype (None: ``torch.float64``).""", returns="""
    torch.nn.Module
        Its parameters are the network's layers (``first.weight`` for a dense network).""", raises="""
    ImportError
        If torch is not installed."""),
}

# -- the convex estimators (spectranet.estimators) --------------------------------------------------
_FIT_REFS = _ref("""eq. (20) (problem (P)), eq. (21) (the convex program it solves), eq. (22) (the width
    ``n_neurons_``), Section 4 (neural decomposition, which extracts ``network_``) and eqs. (24)/(26) (the
    dual, whose feasible point gives ``lower_bound_``).""")
_FIT_SEE_ALSO = """
    spectranet.certify : The certificate of any network (here ``certificate_``).
    spectranet.regularization_path : Fits for a sequence of ``beta``."""
_SCORE_X = """
    X : array-like of shape (n_samples, n_features)
        Test samples."""
_REG = """
    >>> import numpy as np
    >>> from spectranet import ConvexPolyNetRegressor
    >>> X = np.random.default_rng(0).standard_normal((30, 2))
    >>> y = X[:, 0] ** 2 - X[:, 1]
    >>> est = ConvexPolyNetRegressor(beta=1e-2).fit(X, y)"""
_CLF = """
    >>> import numpy as np
    >>> from spectranet import ConvexPolyNetClassifier
    >>> X = np.random.default_rng(0).standard_normal((40, 2))
    >>> y = np.where(X[:, 0] * X[:, 1] > 0, "same", "diff")
    >>> clf = ConvexPolyNetClassifier(beta=0.1).fit(X, y)"""
_PROBA_RAISES = """
    AttributeError
        For a loss other than ``"logistic"`` and softmax: the method is then absent (``hasattr`` is False)."""
_OUTPUTS_REF = _ref("eq. (11) (the network's outputs) and Table 1 (vector output: one output per class).")

REGRESSOR_METHODS = {
    "fit": sections(see_also=_FIT_SEE_ALSO, refs=_FIT_REFS, examples=_REG + """
    >>> est.status_, bool(est.lower_bound_ <= est.objective_ <= est.network_objective_)
    ('optimal', True)"""),
    "predict": sections(see_also="""
    score : The :math:`R^2` of these predictions.
    spectranet.PolyNetwork.predict : The same outputs, from ``network_``.""",
                        refs=_ref("eq. (11) (the network's outputs)."), examples=_REG + """
    >>> est.predict(X[:2]).shape, bool(np.allclose(est.predict(X), est.network_.predict(X)))
    ((2,), True)"""),
    "score": sections(params=_SCORE_X + """
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        True targets.
    sample_weight : array-like of shape (n_samples,), optional
        Sample weights.""", returns=r"""
    float
        :math:`R^2` of :meth:`predict` (averaged uniformly over targets); 1 for a perfect fit.""", see_also="""
    sklearn.metrics.r2_score : The score.
    predict : The predictions it scores.""", refs=_ref("Section 6 (Fig. 4: the training and test cost of the "
                                                      "convex program against SGD)."), examples=_REG + """
    >>> bool(est.score(X, y) > 0.8)
    True"""),
}

CLASSIFIER_METHODS = {
    "fit": sections(see_also=_FIT_SEE_ALSO, refs=_FIT_REFS, examples=_CLF + """
    >>> clf.status_, clf.classes_.tolist()
    ('optimal', ['diff', 'same'])"""),
    "decision_function": sections(see_also="""
    predict : The labels of these scores.
    predict_proba : Their sigmoid or softmax.""", refs=_OUTPUTS_REF, examples=_CLF + """
    >>> scores = clf.decision_function(X[:4])
    >>> scores.shape, clf.classes_[(scores > 0).astype(int)].tolist() == clf.predict(X[:4]).tolist()
    ((4,), True)"""),
    "predict": sections(see_also="""
    decision_function : The scores behind the labels.
    score : The accuracy of these labels.""", refs=_OUTPUTS_REF, examples=_CLF + """
    >>> clf.predict(X[:3]).tolist(), y[:3].tolist()
    (['diff', 'same', 'diff'], ['diff', 'same', 'diff'])"""),
    "predict_proba": sections(raises=_PROBA_RAISES, see_also="""
    decision_function : The scores whose sigmoid or softmax these are.
    predict_log_proba : Their logarithm.""",
                              refs=_ref("eq. (20) (problem (P), here with the logistic loss or softmax "
                                        "cross-entropy) and Table 1 (vector output)."), examples=_CLF + """
    >>> P = clf.predict_proba(X[:3])
    >>> P.shape, bool(np.allclose(P.sum(axis=1), 1.0)), clf.classes_[P.argmax(axis=1)].tolist()
    ((3, 2), True, ['diff', 'same', 'diff'])"""),
    "predict_log_proba": sections(raises=_PROBA_RAISES, see_also="""
    predict_proba : The probabilities."""),
    "score": sections(params=_SCORE_X + """
    y : array-like of shape (n_samples,)
        True labels.
    sample_weight : array-like of shape (n_samples,), optional
        Sample weights.""", returns="""
    float
        The accuracy of :meth:`predict`: the (weighted) fraction of correct labels.""", see_also="""
    sklearn.metrics.accuracy_score : The score.
    predict : The labels it scores.""",
                      refs=_ref("Section 6.1 and Fig. 6 (accuracy against backpropagation) and Fig. 7 "
                                "(accuracy against beta)."), examples=_CLF + """
    >>> bool(clf.score(X, y) > 0.9)
    True"""),
}
