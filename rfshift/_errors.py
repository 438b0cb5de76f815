"""Exceptions raised by rfshift."""

from __future__ import annotations

__all__ = ["ConvergenceError"]


class ConvergenceError(ArithmeticError):
    """A numerical solve did not converge, or produced a non-finite value where none is allowed.

    The message names the offending parameter values. rfshift never returns a value from a
    non-converged iteration; it raises this instead.
    """
