"""Single-threaded BLAS for small problems, through one cached threadpoolctl controller.

Threads cost more than they gain on the small products of the local phase and of moderate
interior-point solves (a 100 x 10 polish: 0.6 s with two threads, 0.07 s with one). Building a
``threadpool_limits`` scans the loaded libraries each time (1.4 ms; a regularization path enters
it hundreds of times); the controller built once limits in 0.02 ms.
"""

from __future__ import annotations

from contextlib import nullcontext
from functools import lru_cache

__all__ = ["single_threaded_blas"]


@lru_cache(maxsize=1)
def _controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def single_threaded_blas(active: bool = True):
    """A context manager limiting BLAS to one thread when ``active`` (else doing nothing)."""
    return _controller().limit(limits=1, user_api="blas") if active else nullcontext()
