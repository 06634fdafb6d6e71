"""Exceptions and warnings of spectranet."""

from sklearn.exceptions import ConvergenceWarning

__all__ = ["SolverError", "ProblemTooLargeError", "ConvergenceWarning"]


class SolverError(RuntimeError):
    """A solver backend failed. The message names the backend, its status and what to try."""

    def __init__(self, message: str, *, solver: str | None = None, status: str | None = None):
        super().__init__(message)
        self.solver = solver
        self.status = status


class ProblemTooLargeError(SolverError, MemoryError):
    """The model a backend would build does not fit in the available memory."""
