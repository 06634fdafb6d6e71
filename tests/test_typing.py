"""The public API is annotated (the package ships ``py.typed``), and its annotations resolve.

Every function of ``spectranet.__all__`` and every public method of its classes (``__init__``
included, and methods wrapped by scikit-learn's ``available_if``) annotates each parameter
(``*args``/``**kwargs`` too; ``self``/``cls`` aside) and its return (``__init__`` aside).

The annotations are strings (``from __future__ import annotations``), so nothing checks them at import
time: :func:`typing.get_type_hints` resolves them here with the module's globals plus the names the module
imports under ``if TYPE_CHECKING:`` (what a type checker sees), so a misspelt name or an import that
does not exist fails. A callable annotated with a type of an optional package that is not installed
(torch, Dask) is skipped, saying which.
"""

from __future__ import annotations

import ast
import functools
import inspect
import sys
import typing

import pytest

import spectranet


def _public_callables() -> dict[str, tuple[typing.Callable, bool]]:
    """``{qualified name: (function, is_method)}`` of the public API."""
    out = {}
    for name in spectranet.__all__:
        obj = getattr(spectranet, name, None)
        if inspect.isfunction(obj):
            out[name] = (obj, False)
        elif inspect.isclass(obj):
            for mname, member in vars(obj).items():
                if mname.startswith("_") and mname != "__init__":
                    continue
                if isinstance(member, (staticmethod, classmethod)):
                    member = member.__func__
                member = getattr(member, "fn", member)  # sklearn's available_if descriptor (predict_proba)
                if inspect.isfunction(member):
                    out[f"{name}.{mname}"] = (member, True)
    return out


CALLABLES = _public_callables()


def _unannotated(func: typing.Callable, is_method: bool, is_init: bool) -> list[str]:
    sig = inspect.signature(func)
    missing = [p.name for p in sig.parameters.values()
               if p.annotation is inspect.Parameter.empty and not (is_method and p.name in ("self", "cls"))]
    if sig.return_annotation is inspect.Signature.empty and not is_init:
        missing.append("return")
    return missing


def test_the_public_api_is_found():
    assert "ConvexPolyNetRegressor.fit" in CALLABLES and "certify" in CALLABLES
    assert "ConvexPolyNetClassifier.predict_proba" in CALLABLES
    assert len(CALLABLES) > 60


def test_every_public_callable_is_annotated():
    missing = {}
    for qualname, (func, is_method) in CALLABLES.items():
        gaps = _unannotated(func, is_method, qualname.endswith(".__init__"))
        if gaps:
            missing[qualname] = gaps
    assert not missing, "annotate these parameters (and returns):\n" + "\n".join(
        f"  {name}: {', '.join(gaps)}" for name, gaps in missing.items())


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


@functools.cache
def _type_checking_names(module_name: str) -> dict[str, object]:
    """The names ``module_name`` imports under ``if TYPE_CHECKING:``, imported here; a name whose
    package is not installed maps to its ImportError."""
    module = sys.modules[module_name]
    scope = {"__name__": module_name, "__package__": module.__package__, "__spec__": module.__spec__}
    names: dict[str, object] = {}
    for node in ast.parse(inspect.getsource(module)).body:
        if not (isinstance(node, ast.If) and _is_type_checking(node.test)):
            continue
        for stmt in node.body:
            assert isinstance(stmt, (ast.Import, ast.ImportFrom)), (
                f"{module_name}: only imports belong under TYPE_CHECKING, got {ast.unparse(stmt)}")
            bound: dict[str, object] = {}
            try:
                exec(compile(ast.Module(body=[stmt], type_ignores=[]), module.__file__, "exec"), dict(scope), bound)
            except ImportError as exc:
                bound = {(a.asname or a.name.split(".")[0]): exc for a in stmt.names}
            names.update(bound)
    return names


@pytest.mark.parametrize("qualname", sorted(CALLABLES))
def test_annotations_resolve(qualname):
    func = CALLABLES[qualname][0]
    names = _type_checking_names(func.__module__)
    absent = {name: exc for name, exc in names.items() if isinstance(exc, ImportError)}
    try:
        hints = typing.get_type_hints(func, localns={k: v for k, v in names.items() if k not in absent})
    except NameError as exc:
        if exc.name in absent:
            pytest.skip(f"{qualname} is annotated with {exc.name}, not installed: {absent[exc.name]}")
        raise
    sig = inspect.signature(func)
    expected = {p.name for p in sig.parameters.values() if p.annotation is not inspect.Parameter.empty}
    assert expected <= set(hints), f"{qualname}: unresolved {sorted(expected - set(hints))}"
