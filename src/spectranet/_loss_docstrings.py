r"""The docstrings of :class:`~spectranet.Loss` and the built-in losses (see :mod:`spectranet._docstrings`).

Kept apart so that :mod:`spectranet.losses` stays within the project's 500-line limit; each text is
assigned to its class's ``__doc__`` in :mod:`spectranet.losses`, where its examples run as doctests. The
sections of :class:`~spectranet.Loss`'s methods (``LOSS_METHODS``) are appended to their summaries there.
"""

from __future__ import annotations

from ._docstrings import sections

__all__ = ["LOSS", "KINKS", "SQUARED", "ABSOLUTE", "HUBER", "LOGISTIC", "HINGE", "SOFTMAX", "LOSS_METHODS"]

_PAPER = "Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*"

LOSS = r"""Base class of the convex losses :math:`\ell(\hat Y, Y)` of problem (P).

    A loss is a sum over samples (and outputs) of a convex, closed function of the network outputs
    :math:`\hat Y \in \mathbb{R}^{n \times C}` and the targets :math:`Y`, both 2-D float arrays of shape
    ``(n, C)`` (``C = 1`` for a scalar output). Besides its value and gradient it provides the concave
    dual objective

    .. math:: -\ell^*(-V) = \inf_{\hat Y}\ \langle V, \hat Y \rangle + \ell(\hat Y, Y),

    whose value at a point :math:`V` scaled into the feasible set of the dual (24)/(26) is a lower bound
    on the optimum :math:`p^*` (the certificate, :func:`~spectranet.certify`). The subclasses are small
    frozen dataclasses whose fields (e.g. Huber's ``delta``) are their parameters; the library
    dispatches on their class attributes, never on their name. :meth:`value`, :meth:`gradient` and
    :meth:`hessp` of the built-in losses are array-namespace generic: they run on numpy arrays and on
    torch tensors (differentiable by autograd), so one object serves the convex program, the
    certificate and the backprop baselines; the dual side and :meth:`cvxpy` are numpy-only.

    Attributes
    ----------
    name : str
        Short identifier, used in messages and in a network's witness.
    margin : bool
        Labels in {-1, +1} required (checked by :meth:`check_targets`); regressors refuse such a loss.
    multi_output_only : bool
        Couples the outputs of a sample (softmax): needs ``C >= 2``; its Hessian has ``(C, C)`` blocks.
    smooth : bool
        Differentiable everywhere: the gradient is then the unique dual point. The native solver needs it.
    twice_differentiable : bool
        Twice continuously differentiable: Newton's method on the loss converges (the lifted interior
        point needs it).
    quadratic : bool
        A quadratic of the outputs (constant Hessian): the lifted engine uses sufficient statistics.

    See Also
    --------
    get_loss : A built-in loss by name.
    spectranet.certify : Bounds the optimum through :meth:`dual_value`.

    Notes
    -----
    .. rubric:: Writing a custom loss

    Subclass :class:`Loss` (a frozen dataclass: its fields become its parameters), set ``name`` and
    the flags above, and implement:

    * **required**: :meth:`value` and :meth:`gradient` (a subgradient if not smooth), used by every
      solver, polish and certificate; :meth:`dual_value`, the certificate's lower bound
      (:mod:`spectranet.certificate`) and the interior point's dual objective; and
      :meth:`project_dual` unless the dual's domain is everything (the default is the identity);
    * :meth:`cvxpy` for the CVXPY backends (``"clarabel"``, ``"scs"``, ``"mosek"``:
      :mod:`spectranet.solvers.cvxpy_backend`, and :func:`~spectranet.solve_cubic`), which
      ``solver="auto"`` picks for a loss that is not smooth;
    * :meth:`hessp` for the native solver (smooth losses only; :mod:`spectranet.solvers.native`):
      its Newton polish, its low-rank engine and its interior points, in the lifted space
      (:mod:`spectranet.solvers.lifted`: any loss with a :meth:`hessp`, Huber's piecewise one
      included) or in the sample space
      (:mod:`spectranet.solvers.ipm`, which takes a loss that is not twice differentiable through its
      :meth:`dual_box`); ``quadratic = True`` lets the lifted engine and the dispatcher
      (:mod:`spectranet.solvers.dispatch`) use sufficient statistics;
    * optionally :meth:`dual_values` (a vectorized search over :math:`t` in the certificate),
      :meth:`dual_box` (also the linear program of ``certify(..., improve=True)``,
      :mod:`spectranet.proof`, when ``q = 0``), :meth:`kinks` (the active-set step that makes the
      certificate of a polyhedral loss tight), :meth:`scaled` (the change of units of
      :mod:`spectranet.reductions`), :meth:`hessian_blocks` (derived from :meth:`hessp`) and
      :meth:`check_targets`.

    A :meth:`value` written with the array namespace of its arguments
    (``array_api_compat.array_namespace``) also trains the backprop baselines. Two checks catch most
    mistakes in :meth:`dual_value`: weak duality, ``dual_value(V, Y) <= value(Yhat, Y) + np.sum(V * Yhat)``
    for any ``Yhat`` and any ``V`` in the domain, with equality at ``V = -gradient(Yhat, Y)``. A
    network's witness records a custom loss by its class (``module.QualName``), which
    :func:`~spectranet.certify` resolves only if that module is imported: passing ``loss=`` always
    works. The guide :doc:`/guide/losses` has the details.

    References
    ----------
    PAPER, eq. (20) (problem (P) and its loss), eqs. (24) and (26) (the dual through the conjugate
    :math:`\ell^*`) and eq. (21) (the convex program, for any convex loss).

    Examples
    --------
    The pinball (quantile) loss :math:`\sum_i \max(\tau r_i, (\tau - 1) r_i)`, :math:`r = y - \hat y`,
    polyhedral with the dual box :math:`\tau - 1 \le V \le \tau`:

    >>> import numpy as np
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class PinballLoss(Loss):
    ...     tau: float = 0.5
    ...     name = "pinball"
    ...     smooth = False
    ...     twice_differentiable = False
    ...     def value(self, Yhat, Y):
    ...         R = Y - Yhat
    ...         return float(np.sum(np.maximum(self.tau * R, (self.tau - 1.0) * R)))
    ...     def gradient(self, Yhat, Y):
    ...         return np.where(Yhat < Y, -self.tau, 1.0 - self.tau)
    ...     def dual_value(self, V, Y):
    ...         inside = np.all((V >= self.tau - 1.0 - 1e-12) & (V <= self.tau + 1e-12))
    ...         return float(np.sum(V * Y)) if inside else -np.inf
    ...     def project_dual(self, V, Y):
    ...         return np.clip(V, self.tau - 1.0, self.tau)
    ...     def dual_box(self, Y):
    ...         return np.full(Y.shape, self.tau - 1.0), np.full(Y.shape, self.tau), 0.0
    ...     def scaled(self, t):
    ...         return self, 1
    ...     def cvxpy(self, Yhat, Y):
    ...         import cvxpy as cp
    ...         return cp.sum(cp.maximum(self.tau * (Y - Yhat), (self.tau - 1.0) * (Y - Yhat)))
    >>> loss = PinballLoss(tau=0.75)
    >>> Y, Yhat = np.array([[1.0], [2.0]]), np.array([[0.0], [3.0]])
    >>> loss.value(Yhat, Y)  # 0.75 * 1 + 0.25 * 1
    1.0
    >>> V = -loss.gradient(Yhat, Y)
    >>> V.ravel().tolist(), bool(np.isclose(loss.dual_value(V, Y), loss.value(Yhat, Y) + np.sum(V * Yhat)))
    ([0.75, -0.25], True)

    ``ConvexPolyNetRegressor(loss=PinballLoss(tau=0.9))`` then fits the 0.9-quantile network (a CVXPY
    backend, the loss not being smooth) and certifies it.
    """.replace("PAPER", _PAPER)

KINKS = r"""Kink structure of a polyhedral loss, per entry of :math:`\hat Y` (what :meth:`Loss.kinks` returns).

    ``kink(Yhat)`` is zero at a kink and has derivative ``slope`` in :math:`\hat Y`; ``off_dual(K)`` is
    the dual point :math:`V = -\partial\ell` away from the kinks; at a kink
    :math:`V = \text{scale} \cdot t` with :math:`t \in [\text{lo}, 1]`. The active-set step of the
    polyhedral losses (:mod:`spectranet.active_set`) solves for these :math:`t`.

    Attributes
    ----------
    kink, off_dual : callable
        ``kink(Yhat)`` and ``off_dual(K)``, arrays shaped as ``Y``.
    slope, scale : ndarray
        Shaped as ``Y``.
    lo : float
        Lower end of :math:`t` (-1 for the absolute loss, 0 for the hinge loss).

    See Also
    --------
    AbsoluteLoss, HingeLoss : The built-in losses with kinks.

    References
    ----------
    PAPER, eq. (24) (the dual point of the bound).

    Examples
    --------
    >>> k = AbsoluteLoss().kinks(np.array([[1.0], [1.0]]))
    >>> k.kink(np.array([[1.0], [0.0]])).ravel(), k.lo  # at a kink where Yhat = Y
    (array([ 0., -1.]), -1.0)
    """.replace("PAPER", _PAPER)

_TAIL = r"""
    See Also
    --------
    spectranet.Loss : The interface every loss implements, and how to write one.
    spectranet.get_loss : A loss by name.

    References
    ----------
    PAPER, eq. (20) (the loss :math:`\ell` of problem (P)) and eq. (24) (its conjugate
    :math:`\ell^*` in the dual).

    Examples
    --------
    >>> import numpy as np
""".replace("PAPER", _PAPER)


def _builtin(summary: str, body: str, attributes: str, examples: str, parameters: str = "", raises: str = "") -> str:
    """A built-in loss's docstring: its parts around the shared See Also and References."""
    return f"{summary}\n\n{body}{parameters}\n    Attributes\n    ----------\n{attributes}{raises}{_TAIL}{examples}"


SQUARED = _builtin(
    r"Squared loss :math:`\ell(\hat Y, Y) = \tfrac12 \sum_{i,k} (\hat y_{ik} - y_{ik})^2`.",
    r"""    Smooth and quadratic: its Hessian is the identity, so the lifted engine runs on sufficient
    statistics. Its dual objective, finite everywhere, is

    .. math:: -\ell^*(-V) = \langle V, Y \rangle - \tfrac12 \|V\|_F^2 .

    The default loss of the regressors; the classifiers use it on ±1 (one-hot ±1) targets.
""",
    """    name : str
        ``"squared"``.
    quadratic : bool
        True.
""",
    """    >>> loss, Y = SquaredLoss(), np.array([[1.0], [-1.0]])
    >>> loss.value(np.array([[0.0], [1.0]]), Y)  # (1 + 4) / 2
    2.5
    >>> loss.dual_value(-loss.gradient(np.zeros((2, 1)), Y), Y)  # = value at 0: tight at -gradient
    1.0
    """)

ABSOLUTE = _builtin(
    r"Absolute loss :math:`\ell(\hat Y, Y) = \sum_{i,k} |\hat y_{ik} - y_{ik}|`.",
    r"""    Polyhedral (not smooth): fitted by the CVXPY backends. Its dual objective is

    .. math:: -\ell^*(-V) = \langle V, Y \rangle \quad \text{on } -1 \le V \le 1

    (:math:`-\infty` outside), the box of :meth:`dual_box`; :meth:`kinks` serves the active-set step
    that makes its certificate tight, and :math:`\ell(t\hat y, ty) = t\,\ell(\hat y, y)`.
""",
    """    name : str
        ``"absolute"``.
    smooth, twice_differentiable : bool
        False.
""",
    """    >>> loss, Y = AbsoluteLoss(), np.array([[1.0], [1.0]])
    >>> loss.value(np.array([[0.0], [3.0]]), Y)
    3.0
    >>> loss.dual_value(np.array([[2.0], [0.0]]), Y), loss.project_dual(np.array([[2.0], [0.0]]), Y).ravel()
    (-inf, array([1., 0.]))
    """)

HUBER = _builtin(
    r"Huber loss: :math:`\tfrac12 r^2` for :math:`|r| \le \delta`, else :math:`\delta (|r| - \delta/2)`.",
    r"""    Summed over the residuals :math:`r = \hat y_{ik} - y_{ik}`. Differentiable but not twice (its
    Hessian jumps at :math:`|r| = \delta`): the native solver runs its sample-space interior point
    through the dual box. Its dual objective is

    .. math:: -\ell^*(-V) = \langle V, Y \rangle - \tfrac12 \|V\|_F^2 \quad \text{on } -\delta \le V \le \delta .
""",
    """    name : str
        ``"huber"``.
    delta : float
        The threshold.
    twice_differentiable : bool
        False.
""",
    """    >>> loss, Y = HuberLoss(delta=1.0), np.zeros((2, 1))
    >>> loss.value(np.array([[0.5], [3.0]]), Y)  # 0.5**2 / 2 + (3 - 0.5)
    2.625
    >>> loss.gradient(np.array([[0.5], [3.0]]), Y).ravel()
    array([0.5, 1. ])
    """, parameters=r"""
    Parameters
    ----------
    delta : float, default=1.0
        The threshold :math:`\delta > 0` between the quadratic and the linear part.
""", raises="""
    Raises
    ------
    TypeError
        If ``delta`` is not a real number.
    ValueError
        If ``delta`` is not positive and finite.
""")

LOGISTIC = _builtin(
    r"Logistic loss :math:`\ell(\hat y, y) = \sum_i \log(1 + e^{-y_i \hat y_i})`, labels :math:`y_i \in \{-1, +1\}`.",
    r"""    Smooth. Its dual objective is a sum of binary entropies,

    .. math:: -\ell^*(-V) = \sum_i H(y_i v_i), \qquad H(p) = -p \log p - (1 - p) \log(1 - p),
              \quad 0 \le y_i v_i \le 1 .

    The default loss of the binary classifiers (softmax cross-entropy for more classes).
""",
    """    name : str
        ``"logistic"``.
    margin : bool
        True: labels in {-1, +1} (:meth:`check_targets`).
""",
    """    >>> loss, Y = LogisticLoss(), np.array([[1.0], [-1.0]])
    >>> round(loss.value(np.zeros((2, 1)), Y), 4)  # 2 log 2
    1.3863
    >>> loss.gradient(np.zeros((2, 1)), Y).ravel()
    array([-0.5,  0.5])
    """)

HINGE = _builtin(
    r"Hinge loss :math:`\ell(\hat y, y) = \sum_i \max(0, 1 - y_i \hat y_i)`, labels :math:`y_i \in \{-1, +1\}`.",
    r"""    Polyhedral (not smooth): fitted by the CVXPY backends, one-vs-rest beyond two classes. Its dual
    objective is

    .. math:: -\ell^*(-V) = \sum_i y_i v_i \quad \text{on } 0 \le y_i v_i \le 1,

    the box of :meth:`dual_box`; :meth:`kinks` serves the active-set step that makes its certificate
    tight.
""",
    """    name : str
        ``"hinge"``.
    margin : bool
        True: labels in {-1, +1}.
    smooth, twice_differentiable : bool
        False.
""",
    """    >>> loss, Y = HingeLoss(), np.array([[1.0], [-1.0]])
    >>> loss.value(np.array([[0.5], [2.0]]), Y)  # 0.5 + 3
    3.5
    >>> loss.gradient(np.array([[0.5], [2.0]]), Y).ravel()
    array([-1.,  1.])
    """)

SOFTMAX = _builtin(
    r"Softmax cross-entropy :math:`\ell(\hat Y, Y) = \sum_i \big(\log \sum_k e^{\hat y_{ik}} - \hat y_{i, c_i}\big)`.",
    r"""    With one-hot targets :math:`Y` (class :math:`c_i` of sample :math:`i`) and ``C >= 2`` outputs: the
    loss couples the outputs of a sample (the vector-output program). Smooth; its dual objective is a
    sum of entropies,

    .. math:: -\ell^*(-V) = \sum_i H(y_i - v_i), \qquad H(q) = -\sum_k q_k \log q_k,

    on the rows :math:`y_i - v_i` in the probability simplex. :meth:`check_targets` raises a
    ``ValueError`` for targets that are not one-hot with ``C >= 2`` columns.
""",
    """    name : str
        ``"softmax"`` (``get_loss("cross_entropy")`` is the same).
    multi_output_only : bool
        True.
""",
    """    >>> loss, Y = SoftmaxCrossEntropyLoss(), np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    >>> round(loss.value(np.zeros((2, 3)), Y), 4)  # 2 log 3
    2.1972
    >>> round(loss.dual_value(-loss.gradient(np.zeros((2, 3)), Y), Y), 4)  # tight at -gradient
    2.1972
    """)


# -- the methods of Loss: appended to their summaries (spectranet.losses) by add_sections --------------
def _ref(text: str) -> str:
    """A References section's text: the paper, then ``text`` (its line breaks joined)."""
    return f"{_PAPER}, {' '.join(text.split())}"


_ARGS = """
    Yhat, Y : ndarray or torch.Tensor of shape (n, C)
        Network outputs and targets (arrays of one library)."""
_DUAL_ARGS = """
    V, Y : ndarray of shape (n, C)
        Dual point and targets."""
_Y = """
    Y : ndarray of shape (n, C)
        The targets."""
_CVXPY_ARGS = """
    Yhat : cvxpy.Expression of shape (n, C)
        The outputs, affine in the program's variables.
    Y : ndarray of shape (n, C)
        The targets."""
_NP = """
    >>> import numpy as np"""
_DUAL_REF = _ref(r"""eqs. (24) and (26) (the dual problems :math:`\max_v -\ell^*(-v)` subject to
    :math:`|v^\top \sigma(Xu)| \le \beta`, whose value at a feasible point bounds :math:`p^*` from below).""")

LOSS_METHODS = {
    "check_targets": sections(params=_Y, returns="""
    ndarray of shape (n, C)
        ``Y`` itself.""", raises="""
    ValueError
        For targets outside the loss's encoding: values other than -1 and +1 for a margin loss; for the
        softmax loss, rows that are not one-hot or fewer than two columns."""),
    "value": sections(params=_ARGS, returns="""
    float or torch.Tensor
        A Python float for numpy arrays; a differentiable 0-dim tensor for torch tensors.""", see_also="""
    gradient : Its gradient in ``Yhat``.
    dual_value : The dual objective, never above it (weak duality).""", refs=_ref("eq. (20) (the loss of (P))."),
                      examples=_NP + """
    >>> Y, Yhat = np.array([[0.0], [1.0]]), np.array([[1.0], [3.0]])
    >>> SquaredLoss().value(Yhat, Y), AbsoluteLoss().value(Yhat, Y)  # (1 + 4) / 2 and 1 + 2
    (2.5, 3.0)"""),
    "gradient": sections(params=_ARGS, returns=r"""
    ndarray or torch.Tensor of shape (n, C)
        :math:`\nabla_{\hat Y} \ell(\hat Y, Y)` (a subgradient where the loss is not differentiable), of
        the array type of ``Yhat``.""", see_also=r"""
    hessp : Its derivative (smooth losses).
    spectranet.certify : Takes :math:`V = -\nabla \ell(\hat Y, Y)` as the network's own dual point.""",
                         refs=_ref("""eqs. (24) and (26) (the dual problems; the certificate scales the negative
    gradient into their feasible set)."""), examples=_NP + """
    >>> Y, Yhat = np.array([[1.0], [-1.0]]), np.array([[0.5], [-1.0]])
    >>> SquaredLoss().gradient(Yhat, Y).ravel(), HingeLoss().gradient(Yhat, Y).ravel()  # hinge: 1/2 at the kink
    (array([-0.5,  0. ]), array([-1. ,  0.5]))"""),
    "hessp": sections(params=_ARGS + """
    D : ndarray or torch.Tensor of shape (n, C)
        The direction.""", returns=r"""
    ndarray or torch.Tensor of shape (n, C)
        :math:`\nabla^2 \ell(\hat Y)[D]` (for the Huber loss, not twice differentiable, the Hessian of the
        piece that holds at each entry).""", raises="""
    NotImplementedError
        For the losses that have none (absolute, hinge).""", see_also="""
    hessian_blocks : The Hessian itself, per sample.
    gradient : The first derivative.""", refs=_ref("""eq. (21) (the convex program, whose Newton steps and
    interior points use it)."""), examples=_NP + """
    >>> LogisticLoss().hessp(np.zeros((2, 1)), np.array([[1.0], [-1.0]]), np.ones((2, 1))).ravel()  # p (1 - p)
    array([0.25, 0.25])"""),
    "hessian_blocks": sections(params="""
    Yhat, Y : ndarray of shape (n, C)
        Network outputs and targets.""", returns="""
    ndarray of shape (n, C) or (n, C, C)
        Per sample, the diagonal of the Hessian (a loss separable over outputs) or its symmetric block.""",
                               examples=_NP + """
    >>> SoftmaxCrossEntropyLoss().hessian_blocks(np.zeros((1, 2)), np.array([[1.0, 0.0]]))
    array([[[ 0.25, -0.25],
            [-0.25,  0.25]]])"""),
    "dual_value": sections(params=_DUAL_ARGS, returns="""
    float
        The value; ``-inf`` outside the domain (see :meth:`project_dual`).""", see_also=r"""
    dual_values : The same at :math:`tV` for several :math:`t`.
    project_dual : A point of the domain.
    spectranet.certify : The lower bound it gives.""", refs=_DUAL_REF, examples=_NP + """
    >>> loss, Y = HuberLoss(delta=1.0), np.array([[1.0], [0.0]])
    >>> loss.dual_value(np.array([[0.5], [0.5]]), Y)  # <V, Y> - |V|^2 / 2
    0.25
    >>> loss.dual_value(np.array([[2.0], [0.0]]), Y)  # outside the box |V| <= delta
    -inf"""),
    "dual_values": sections(params=_DUAL_ARGS + """
    ts : array-like of float
        The scales :math:`t`.""", returns="""
    ndarray of shape (len(ts),)
        ``dual_value(t * V, Y)`` for each ``t``.""", see_also="""
    dual_value : One value.""", refs=_ref(r"""eq. (26) (:math:`tV` is feasible for
    :math:`t \le \beta / \max_{\|u\|_2 = 1} |V^\top \sigma(Xu)|`)."""), examples=_NP + """
    >>> SquaredLoss().dual_values(np.ones((1, 1)), np.ones((1, 1)), [0.0, 0.5, 1.0])  # t - t^2 / 2
    array([0.   , 0.375, 0.5  ])"""),
    "project_dual": sections(params=_DUAL_ARGS, returns="""
    ndarray of shape (n, C)
        The Euclidean projection of ``V`` on the domain of :meth:`dual_value` for the built-in losses
        (``V`` itself where the domain is everything).""", see_also="""
    dual_value : The dual objective on that domain.""", refs=_DUAL_REF, examples=_NP + """
    >>> AbsoluteLoss().project_dual(np.array([[2.0], [-0.5]]), np.zeros((2, 1))).ravel()  # into [-1, 1]
    array([ 1. , -0.5])"""),
    "kinks": sections(params=_Y, returns="""
    Kinks or None
        The kinks, for a polyhedral loss.""", examples=_NP + """
    >>> SquaredLoss().kinks(np.zeros((1, 1))) is None, AbsoluteLoss().kinks(np.zeros((1, 1))).lo
    (True, -1.0)"""),
    "dual_box": sections(params=_Y, returns="""
    lo, hi : ndarray of shape (n, C)
        The box.
    q : float or ndarray of shape (n, C)
        The weight of the quadratic term (per entry for a weighted loss).""", examples=_NP + """
    >>> lo, hi, q = HingeLoss().dual_box(np.array([[1.0], [-1.0]]))  # 0 <= y V <= 1
    >>> lo.ravel(), hi.ravel(), q
    (array([ 0., -1.]), array([1., 0.]), 0.0)"""),
    "scaled": sections(params="""
    t : float
        The unit of the targets, positive.""", returns="""
    (Loss, float) or None
        The loss of the targets in that unit and the power of ``t``.""", examples="""
    >>> HuberLoss(delta=1.0).scaled(2.0), LogisticLoss().scaled(2.0) is None
    ((HuberLoss(delta=0.5), 2), True)"""),
    "sample_values": sections(params=_ARGS, returns="""
    ndarray or torch.Tensor of shape (n,)
        The loss of each sample (summed over its outputs); they add up to :meth:`value`.""", see_also="""
    spectranet.weighted.WeightedLoss : Multiplies them by the sample weights.""", examples=_NP + """
    >>> SquaredLoss().sample_values(np.array([[1.0], [3.0]]), np.array([[0.0], [1.0]]))
    array([0.5, 2. ])"""),
    "sample_dual_values": sections(params=_DUAL_ARGS, returns="""
    ndarray of shape (n,)
        :meth:`dual_value` of each sample (``-inf`` where its row leaves the domain); they add up
        to :meth:`dual_value`.""", see_also="""
    spectranet.weighted.WeightedLoss : Its dual, :math:`\\sum_i w_i` of these at :math:`v_i / w_i`.""",
                                   refs=_DUAL_REF, examples=_NP + """
    >>> AbsoluteLoss().sample_dual_values(np.array([[0.5], [2.0]]), np.ones((2, 1)))
    array([0.5, -inf])"""),
    "sample_cvxpy": sections(params=_CVXPY_ARGS, returns="""
    cvxpy.Expression
        A convex expression of shape ``(n,)``: the loss of each sample.""", examples=_NP + """
    >>> import cvxpy as cp
    >>> LogisticLoss().sample_cvxpy(cp.Variable((3, 1)), np.ones((3, 1))).shape
    (3,)"""),
    "cvxpy": sections(params=_CVXPY_ARGS, returns="""
    cvxpy.Expression
        A convex scalar expression (DCP), equal to :meth:`value` at the variables' values.""",
                      refs=_ref("eq. (21) (the convex program the CVXPY backends build)."), examples=_NP + """
    >>> import cvxpy as cp
    >>> SquaredLoss().cvxpy(cp.Variable((2, 1)), np.ones((2, 1))).is_convex()
    True"""),
}
