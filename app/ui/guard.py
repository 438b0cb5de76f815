"""Library calls that never show a traceback: bad input or a numerical failure becomes ``st.error``."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import streamlit as st

import rfshift as rf

#: Exceptions the library raises for bad input or numerical failure; shown as ``st.error``.
LIB_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, rf.ConvergenceError)


def fail(message: str) -> NoReturn:
    """Show ``message`` as an error and stop this run of the page (no traceback)."""
    st.error(message)
    st.stop()
    raise AssertionError("unreachable")  # pragma: no cover - st.stop() raises


def guarded(fn: Callable[..., Any], *args: Any, what: str, **kwargs: Any) -> Any:
    """Call a library function; on ``ValueError``/``TypeError``/``ConvergenceError`` show a clear
    ``st.error`` naming ``what`` failed and stop the page instead of showing a traceback."""
    try:
        return fn(*args, **kwargs)
    except LIB_ERRORS as exc:
        fail(f"{what}: {exc}")


def optional_module(name: str) -> Any | None:
    """Import ``name`` (e.g. ``"rfshift.montecarlo"``) or return None if it is not available."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def find_api(name: str, *, modules: Sequence[str] = ("rfshift.analysis",)) -> Callable[..., Any] | None:
    """``rf.<name>`` (else the first of ``modules`` that has it), or None if this rfshift lacks it."""
    fn = getattr(rf, name, None)
    for module in modules:
        if fn is not None:
            break
        mod = optional_module(module)
        fn = getattr(mod, name, None) if mod is not None else None
    return fn


def require_api(name: str, *, modules: Sequence[str] = ("rfshift.analysis",)) -> Callable[..., Any]:
    """Return ``rf.<name>`` (else the first of ``modules`` that has it); if this installation of
    rfshift lacks it, say so on the page and stop."""
    fn = find_api(name, modules=modules)
    if fn is None:
        st.warning(
            f"This page needs `rfshift.{name}` (from `{modules[0]}`), which this installation of rfshift "
            "does not provide. Update rfshift to use it."
        )
        st.stop()
    return fn
