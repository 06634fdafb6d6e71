r"""The witness a network carries: the dual point that proves its optimality on its training data.

A certificate's bound (:mod:`spectranet.certificate`) holds for *any* dual point once
:math:`\lambda` is recomputed, so the witness is not trusted, only reused: :func:`certify
<spectranet.certify>` recomputes everything from it, the network and the data. Every
fit on in-memory data attaches one to its network. It is needed where the network's own gradient
certifies less than the solver proved: the polyhedral losses (hinge, absolute), whose subgradient
at a kink sample is not the optimal dual point, and small :math:`\beta` (where double precision
cannot resolve the outputs finely enough). It holds the dual point, the loss and :math:`\beta` it
was made for, and a fingerprint of the data (shapes and a hash of ``X`` and of the targets in the
loss's encoding, as float64), so that it is refused, with a clear message, on other data.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass, field, fields

import numpy as np

from .losses import LOSSES, Loss, get_loss

__all__ = ["Witness", "data_fingerprint", "loss_spec", "loss_from_spec", "check_loss_spec"]


def data_fingerprint(X, Y, sample_weight=None) -> str:
    """Shapes and a BLAKE2b hash of ``X``, of the targets ``Y`` (in the loss's encoding) and of the
    sample weights where there are any, each as C-ordered float64: equal data give equal
    fingerprints (unweighted data, the fingerprint they always had)."""
    digest = hashlib.blake2b(digest_size=16)
    for a in (X, Y) if sample_weight is None else (X, Y, sample_weight):
        a = np.ascontiguousarray(np.asarray(a, dtype=np.float64))
        digest.update(repr(a.shape).encode())
        digest.update(a.reshape(-1).view(np.uint8))  # the bytes of a.tobytes(), without the copy
    return f"{np.shape(X)}x{np.shape(Y)}:{digest.hexdigest()}"


def loss_spec(loss: Loss) -> dict:
    """A JSON-able description of a loss: its name, its fields (e.g. Huber's ``delta``) and, for a
    loss that is not one of the library's (:data:`~spectranet.losses.LOSSES`), its class as
    ``"module.QualName"``."""
    loss = getattr(loss, "base", loss)  # a Dask problem's chunk-wise wrapper
    spec = {"name": loss.name}
    if LOSSES.get(loss.name) is not type(loss):
        spec["class"] = f"{type(loss).__module__}.{type(loss).__qualname__}"
    if hasattr(loss, "__dataclass_fields__"):
        for f in fields(loss):
            spec[f.name] = getattr(loss, f.name)
    elif "class" in spec:  # a plain class: its attributes, restored without calling __init__ (as pickle)
        spec["state"] = _plain_state(loss)
    return spec


def _plain_state(loss) -> dict | None:
    """The attributes of a loss that is not a dataclass when they are plain values (numbers,
    strings, booleans, None), else None: the loss cannot be rebuilt from a description."""
    state = {}
    for key, value in getattr(loss, "__dict__", {}).items():
        value = value.item() if isinstance(value, np.generic) else value
        if not isinstance(value, (bool, int, float, str, type(None))):
            return None
        state[key] = value
    return state if hasattr(loss, "__dict__") else None


def loss_from_spec(spec: dict) -> Loss:
    """The loss of :func:`loss_spec`: a library loss, or a user-defined one whose module is
    already imported (a file never makes the library import code); ValueError otherwise."""
    spec = dict(spec)
    name, path = spec.pop("name"), spec.pop("class", None)
    if path is None:
        base = get_loss(name)
        return type(base)(**spec) if spec else base
    module, _, qualname = str(path).rpartition(".")
    cls = sys.modules.get(module)
    for part in qualname.split(".") if cls is not None else ():
        cls = getattr(cls, part, None)
    if not (isinstance(cls, type) and issubclass(cls, Loss)):
        raise ValueError(f"the witness was made for the user-defined loss {name!r} ({path}), whose module is not "
                         "imported; import it first, or pass the loss object (loss=...)")
    if hasattr(cls, "__dataclass_fields__") or "state" not in spec:  # (descriptions before "state": no fields)
        return cls(**spec)
    if spec["state"] is None:
        raise ValueError(f"the witness was made for the user-defined loss {name!r} ({path}), whose attributes are "
                         "not plain values (numbers, strings) and were not recorded; pass the loss object (loss=...)")
    loss = cls.__new__(cls)
    loss.__dict__.update(spec["state"])
    return loss


def check_loss_spec(spec) -> None:
    """ValueError unless ``spec`` has the form :func:`loss_spec` writes (a user-defined loss is
    resolved only when used, by :func:`loss_from_spec`)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise ValueError(f"a loss description must be a dict with a 'name' string, got {spec!r}")
    if "class" not in spec:
        loss_from_spec(spec)  # a library loss: its name and fields are checked now
    elif not isinstance(spec["class"], str) or "." not in spec["class"]:
        raise ValueError(f"a user-defined loss's 'class' must be 'module.QualName', got {spec['class']!r}")
    elif not isinstance(spec.get("state", {}), (dict, type(None))):
        raise ValueError(f"a user-defined loss's 'state' must be a dict of its attributes or None, got "
                         f"{spec['state']!r}")


@dataclass(frozen=True, eq=False)
class Witness:
    r"""A dual point of a network's training problem, carried by the network to prove its optimality.

    Every fit on in-memory data attaches its certificate's dual point :math:`V` (the one that
    attains ``certificate_.lower_bound``) to the network it returns, as
    :attr:`PolyNetwork.witness <spectranet.PolyNetwork>`, with the loss and :math:`\beta` it was
    made for and a fingerprint of the training data (Dask fits attach none: their dual point stays
    on the workers). :func:`~spectranet.certify` takes it as one candidate dual point, next to the
    network's own gradient, on the data it was made for. Any :math:`V` gives the lower bound

    .. math:: p^* \ \ge\ \max_{0 \le t \le \min(1, \beta/\lambda)} -\ell^*(-t V), \qquad
              \lambda = \max_k \max_{\|u\|_2 = 1} |V_k^\top \sigma(X u)|,

    once :math:`\lambda` is recomputed, so the witness is reused, never trusted: a stale or wrong
    one can only give a weaker bound. It matters where the network's own gradient proves less than
    the solver did (the hinge and absolute losses, very small :math:`\beta`). The witness is
    immutable and its dual point read-only; :meth:`PolyNetwork.save <spectranet.PolyNetwork.save>`
    writes it without pickle (``witness=False`` leaves it out: it holds :math:`n \times C`
    numbers, for the squared loss the training residuals).

    Parameters
    ----------
    dual : array-like of shape (n, C)
        The dual point :math:`V` (a fit's :attr:`Certificate.dual <spectranet.Certificate>`); finite.
    loss : dict
        :func:`loss_spec` of the loss it was made for.
    beta : float
        The :math:`\beta` it was made for.
    fingerprint : str
        :func:`data_fingerprint` of the training data ``X`` and targets ``Y`` (in the loss's
        encoding, shape (n, C)).

    Attributes
    ----------
    dual : ndarray of shape (n, C)
        A read-only float64 copy of ``dual``.
    loss : dict
        A copy of ``loss``.
    beta : float
        ``beta`` as a float.
    fingerprint : str
        ``fingerprint``.

    Raises
    ------
    ValueError
        If ``dual`` is not a finite two-dimensional array.

    See Also
    --------
    spectranet.certify : Certifies a network with its witness (``Certificate.source == "witness"``
        when the witness's dual point proves the bound).
    spectranet.Certificate : A fit's ``certificate_.dual`` is its network's witness.
    spectranet.PolyNetwork : Carries the witness (``witness``, ``with_witness``, ``save``, ``load``).

    References
    ----------
    Bartan & Pilanci, *Neural Spectrahedra and Semidefinite Lifts*, eq. (24) and eq. (26) (the dual
    problems whose feasible points the witness's :math:`V` gives, once scaled), eq. (27) (the two
    quadratic constraints whose maxima give :math:`\lambda`) and Theorem 1.

    Examples
    --------
    A hinge-loss fit: the witness is made for its data (its fingerprint matches them). Here the
    network also proves itself, by its kink dual (:mod:`spectranet.kink_dual`; the subgradient at
    the kink samples alone proves nothing), which certify takes when it is the better bound.

    >>> import numpy as np
    >>> from spectranet import ConvexPolyNetClassifier, certify, make_planted
    >>> X, t = make_planted(40, 3, random_state=0)
    >>> y = np.where(t > np.median(t), 1, -1)  # labels in the loss's encoding
    >>> net = ConvexPolyNetClassifier(loss="hinge", beta=0.1).fit(X, y).network_
    >>> w = net.witness
    >>> w.dual.shape, w.loss, w.beta, w.matches(X, y.reshape(-1, 1))
    ((40, 1), {'name': 'hinge'}, 0.1, True)
    >>> cert = certify(net, X, y)  # loss and beta from the witness
    >>> cert.is_optimal, cert.source
    (True, 'kinks')
    >>> certify(net, X, y, "hinge", beta=0.1, witness=False).is_optimal  # the network alone
    True
    >>> Witness(np.zeros(3), {"name": "hinge"}, 0.1, w.fingerprint)
    Traceback (most recent call last):
    ...
    ValueError: a witness's dual point must be a finite (n, C) array, got shape (3,)
    """

    dual: np.ndarray = field(repr=False)
    loss: dict
    beta: float
    fingerprint: str

    def __post_init__(self):
        dual = np.array(self.dual, dtype=float, copy=True)
        if dual.ndim != 2 or not np.all(np.isfinite(dual)):
            raise ValueError(f"a witness's dual point must be a finite (n, C) array, got shape {dual.shape}")
        dual.flags.writeable = False
        object.__setattr__(self, "dual", dual)
        object.__setattr__(self, "beta", float(self.beta))
        object.__setattr__(self, "loss", dict(self.loss))

    def matches(self, X, Y, sample_weight=None) -> bool:
        """Whether the witness was made for these data (``Y`` in the loss's encoding; the positive
        sample weights, None for none)."""
        return data_fingerprint(X, Y, sample_weight) == self.fingerprint

    def to_json(self) -> str:
        """Everything but the dual point, as JSON (the network file's ``witness`` member)."""
        return json.dumps({"loss": self.loss, "beta": self.beta, "fingerprint": self.fingerprint,
                           "shape": list(self.dual.shape)})
