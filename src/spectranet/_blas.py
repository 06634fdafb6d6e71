"""Single-threaded BLAS for small problems, through one cached threadpoolctl controller.

Threads cost more than they gain on the small products of the local phase and of moderate
interior-point solves (a 100 x 10 polish: 0.6 s with two threads, 0.07 s with one). Building a
``threadpool_limits`` scans the loaded libraries each time (1.4 ms; a regularization path enters
it hundreds of times); the controller built once limits in 0.02 ms.
"""

from __future__ import annotations

from contextlib import nullcontext
from functools import lru_cache

__all__ = ["single_threaded_blas", "single_threaded_numpy_blas"]


@lru_cache(maxsize=1)
def _controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def single_threaded_blas(active: bool = True):
    """A context manager limiting BLAS to one thread when ``active`` (else doing nothing)."""
    return _controller().limit(limits=1, user_api="blas") if active else nullcontext()


@lru_cache(maxsize=1)
def _numpy_blas():
    """The threadpoolctl selection of numpy's own BLAS library where scipy loaded another (the PyPI
    wheels each bundle an OpenBLAS), else None."""
    controller = _controller()
    blas = [lib for lib in controller.lib_controllers if lib.user_api == "blas"]
    numpy_libs = [lib for lib in blas if "numpy" in lib.filepath.replace("\\", "/").split("/site-packages/")[-1]]
    if len(numpy_libs) != 1 or len(blas) < 2:
        return None
    return controller.select(filepath=numpy_libs[0].filepath)


def single_threaded_numpy_blas(active: bool = True):
    """A context manager limiting numpy's BLAS to one thread when ``active`` and scipy's is another
    library (else doing nothing). Two OpenBLAS thread pools that alternate (numpy's products, then
    scipy's LAPACK) each leave their threads spinning while the other runs; on two cores each call
    then waits for a descheduled thread: the Schur kernel of a 500-sample, 10-class softmax fit took
    8-16 ms instead of 2-3 ms, the whole fit 9.4 s instead of 4.0 s. The large products of the hot
    loops go through scipy's BLAS (:mod:`spectranet.solvers._schur`), which keeps its threads."""
    selection = _numpy_blas() if active else None
    return selection.limit(limits=1) if selection is not None else nullcontext()
