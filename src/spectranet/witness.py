r"""The witness a network carries: the dual point that proves its optimality on its training data.

A certificate's bound (:mod:`spectranet.certificate`) holds for *any* dual point once
:math:`\lambda` is recomputed, so the witness is not trusted, only reused: :func:`certify
<spectranet.certificate.certify>` recomputes everything from it, the network and the data. It is
needed where the network's own gradient certifies less than the solver proved (where double
precision cannot resolve the outputs finely enough: small :math:`\beta`). It holds the dual point,
the loss and :math:`\beta` it was made for, and a fingerprint of the data (shapes and a hash of
``X`` and of the targets in the loss's encoding, as float64), so that it is refused, with a clear
message, on other data.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass, field, fields

import numpy as np

from .losses import LOSSES, Loss, get_loss

__all__ = ["Witness", "data_fingerprint", "loss_spec", "loss_from_spec", "check_loss_spec"]


def data_fingerprint(X, Y) -> str:
    """Shapes and a BLAKE2b hash of ``X`` and of the targets ``Y`` (in the loss's encoding), each as
    C-ordered float64: equal data give equal fingerprints."""
    digest = hashlib.blake2b(digest_size=16)
    for a in (X, Y):
        a = np.ascontiguousarray(np.asarray(a, dtype=np.float64))
        digest.update(repr(a.shape).encode())
        digest.update(a.tobytes())
    return f"{np.shape(X)}x{np.shape(Y)}:{digest.hexdigest()}"


def loss_spec(loss: Loss) -> dict:
    """A JSON-able description of a loss: its name, its fields (e.g. Huber's ``delta``) and, for a
    loss that is not one of the library's (:data:`~spectranet.losses.LOSSES`), its class as
    ``"module.QualName"``."""
    loss = getattr(loss, "base", loss)  # a Dask problem's chunk-wise wrapper
    spec = {"name": loss.name}
    if LOSSES.get(loss.name) is not type(loss):
        spec["class"] = f"{type(loss).__module__}.{type(loss).__qualname__}"
    for f in fields(loss) if hasattr(loss, "__dataclass_fields__") else ():
        spec[f.name] = getattr(loss, f.name)
    return spec


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
    return cls(**spec)


def check_loss_spec(spec) -> None:
    """ValueError unless ``spec`` has the form :func:`loss_spec` writes (a user-defined loss is
    resolved only when used, by :func:`loss_from_spec`)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise ValueError(f"a loss description must be a dict with a 'name' string, got {spec!r}")
    if "class" not in spec:
        loss_from_spec(spec)  # a library loss: its name and fields are checked now
    elif not isinstance(spec["class"], str) or "." not in spec["class"]:
        raise ValueError(f"a user-defined loss's 'class' must be 'module.QualName', got {spec['class']!r}")


@dataclass(frozen=True, eq=False)
class Witness:
    """A dual point of a network's training problem.

    Attributes
    ----------
    dual : ndarray of shape (n, C)
        The dual point :math:`V` (a fit's :attr:`Certificate.dual <spectranet.Certificate>`).
    loss : dict
        :func:`loss_spec` of the loss it was made for.
    beta : float
    fingerprint : str
        :func:`data_fingerprint` of the training data.
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

    def matches(self, X, Y) -> bool:
        """Whether the witness was made for these data (``Y`` in the loss's encoding)."""
        return data_fingerprint(X, Y) == self.fingerprint

    def to_json(self) -> str:
        """Everything but the dual point, as JSON (the network file's ``witness`` member)."""
        return json.dumps({"loss": self.loss, "beta": self.beta, "fingerprint": self.fingerprint,
                           "shape": list(self.dual.shape)})
