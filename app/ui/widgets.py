"""Sidebar widgets of the app. Each goes through :mod:`ui.state`: it starts from the URL, the shared
settings or its default, and writes its value back to the URL (see that module for the rules).

Use the typed wrappers (:func:`select_slider`, :func:`slider`, :func:`selectbox`, :func:`multiselect`,
:func:`toggle`, :func:`radio`, :func:`number_input`) for any setting, and the named ones
(:func:`ratio_slider`, :func:`gamma_slider`, :func:`activation_select`, :func:`noise_slider`) for
the settings shared between pages.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

import rfshift as rf

from . import state
from .fmt import fmt_ratio

#: Log-spaced values offered by ratio sliders (n/d, N/n, ...).
LOG_GRID: tuple[float, ...] = tuple(
    sorted({round(m * 10.0**k, 10) for k in range(-2, 3) for m in (1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8)})
)
#: Ridge values offered by γ sliders; 0 is the exact ridgeless limit.
GAMMA_GRID: tuple[float, ...] = (0.0, *(round(m * 10.0**k, 10) for k in range(-5, 2) for m in (1, 2, 5)))


# --- parsing URL values (raise ValueError with the reason) ------------------------------------------


def _one(raw: list[str]) -> str:
    if len(raw) != 1:
        raise ValueError(f"expected one value, got {len(raw)}")
    return raw[0]


def _number(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(v):
        raise ValueError(f"{text!r} is not finite")
    return v


def _option(options: Sequence[Any], text: str) -> Any:
    """The option whose text is ``text`` (numbers match to 1e-9 relative)."""
    for o in options:
        if str(o) == text:
            return o
    if all(isinstance(o, (int, float)) and not isinstance(o, bool) for o in options):
        v = _number(text)
        for o in options:
            if abs(float(o) - v) <= 1e-9 * max(1.0, abs(v)):
                return o
    raise ValueError(f"{text!r} is not one of the choices")


def _in(options: Sequence[Any]) -> Callable[[Any], bool]:
    def ok(v: Any) -> bool:
        if isinstance(v, (list, tuple)):
            return all(x in options for x in v)
        return v in options

    return ok


# --- generic wrappers -----------------------------------------------------------------------------


def select_slider(
    label: str,
    key: str,
    options: Sequence[Any],
    default: Any,
    *,
    shared_as: str | None = None,
    container: Any = None,
    format_func: Callable[[Any], str] = fmt_ratio,
    help: str | None = None,
    disabled: bool = False,
) -> Any:
    """A select slider over ``options``; ``default`` a tuple (lo, hi) makes it a range slider."""
    c = container or st.sidebar
    is_range = isinstance(default, tuple)

    def parse(raw: list[str]) -> Any:
        if is_range:
            if len(raw) != 2:
                raise ValueError("a range needs two values")
            return tuple(_option(options, t) for t in raw)
        return _option(options, _one(raw))

    state.seed(key, default, parse, shared_as=shared_as, valid=_in(options))
    # A range slider is recognised by a tuple ``value``; the seeded session value still wins.
    extra = {"value": default} if is_range else {}
    value = c.select_slider(
        label, options=list(options), key=key, format_func=format_func, help=help, disabled=disabled, **extra
    )
    value = tuple(value) if is_range else value
    state.record(key, value, default, shared_as=shared_as)
    return value


def slider(
    label: str,
    key: str,
    lo: float,
    hi: float,
    default: float,
    step: float,
    *,
    shared_as: str | None = None,
    container: Any = None,
    help: str | None = None,
    disabled: bool = False,
) -> Any:
    """A numeric slider on [lo, hi] (ints if all of lo, hi, default and step are ints)."""
    c = container or st.sidebar
    ints = all(isinstance(v, int) for v in (lo, hi, default, step))

    def parse(raw: list[str]) -> Any:
        v = _number(_one(raw))
        if not lo <= v <= hi:
            raise ValueError(f"{v:g} is outside [{lo:g}, {hi:g}]")
        if ints:
            if v != int(v):
                raise ValueError(f"{v:g} is not a whole number")
            return int(v)
        return v

    def valid(v: Any) -> bool:
        return isinstance(v, (int, float)) and lo <= v <= hi and (not ints or v == int(v))

    state.seed(key, default, parse, shared_as=shared_as, valid=valid)
    value = c.slider(label, lo, hi, step=step, key=key, help=help, disabled=disabled)
    state.record(key, value, default, shared_as=shared_as)
    return value


def number_input(
    label: str,
    key: str,
    lo: int,
    hi: int,
    default: int,
    *,
    container: Any = None,
    help: str | None = None,
    disabled: bool = False,
) -> int:
    """A whole-number input on [lo, hi]."""
    c = container or st.sidebar

    def parse(raw: list[str]) -> int:
        v = _number(_one(raw))
        if v != int(v) or not lo <= v <= hi:
            raise ValueError(f"{v:g} is not a whole number in [{lo}, {hi}]")
        return int(v)

    state.seed(key, default, parse)
    value = int(c.number_input(label, lo, hi, step=1, key=key, help=help, disabled=disabled))
    state.record(key, value, default)
    return value


def selectbox(
    label: str,
    key: str,
    options: Sequence[Any],
    default: Any,
    *,
    shared_as: str | None = None,
    container: Any = None,
    format_func: Callable[[Any], str] = str,
    help: str | None = None,
) -> Any:
    c = container or st.sidebar
    state.seed(key, default, lambda raw: _option(options, _one(raw)), shared_as=shared_as, valid=_in(options))
    value = c.selectbox(label, list(options), key=key, format_func=format_func, help=help)
    state.record(key, value, default, shared_as=shared_as)
    return value


def radio(
    label: str,
    key: str,
    options: Sequence[str],
    default: str,
    *,
    captions: Sequence[str] | None = None,
    shared_as: str | None = None,
    container: Any = None,
    horizontal: bool = False,
    help: str | None = None,
) -> str:
    c = container or st.sidebar
    state.seed(key, default, lambda raw: _option(options, _one(raw)), shared_as=shared_as, valid=_in(options))
    value = c.radio(label, list(options), key=key, captions=captions, horizontal=horizontal, help=help)
    state.record(key, value, default, shared_as=shared_as)
    return str(value)


def multiselect(
    label: str,
    key: str,
    options: Sequence[Any],
    default: Sequence[Any],
    *,
    shared_as: str | None = None,
    container: Any = None,
    format_func: Callable[[Any], str] = str,
    help: str | None = None,
) -> list[Any]:
    c = container or st.sidebar
    state.seed(
        key,
        list(default),
        lambda raw: [_option(options, t) for t in raw if t != ""],
        shared_as=shared_as,
        valid=_in(options),
    )
    value = list(c.multiselect(label, list(options), key=key, format_func=format_func, help=help))
    state.record(key, value, list(default), shared_as=shared_as)
    return value


def toggle(label: str, key: str, default: bool, *, container: Any = None, help: str | None = None) -> bool:
    c = container or st.sidebar

    def parse(raw: list[str]) -> bool:
        t = _one(raw).lower()
        if t not in ("true", "false"):
            raise ValueError(f"{t!r} is not true/false")
        return t == "true"

    state.seed(key, default, parse)
    value = bool(c.toggle(label, key=key, help=help))
    state.record(key, value, default)
    return value


# --- the settings shared between pages ------------------------------------------------------------


def ratio_slider(
    label: str,
    key: str,
    default: float,
    *,
    help: str | None = None,
    container: Any = None,
    grid: Sequence[float] = LOG_GRID,
    shared: bool = True,
) -> float:
    """A log-spaced select slider (n/d, N/n, ...); shared between pages under ``key``."""
    return float(
        select_slider(
            label, key, grid, default, shared_as=key if shared else None, container=container, help=help
        )
    )


def ratio_range(
    label: str,
    key: str,
    default: tuple[float, float],
    *,
    container: Any = None,
    grid: Sequence[float] = LOG_GRID,
    fmt: Callable[[float], str] = fmt_ratio,
) -> tuple[float, float]:
    """A range over a log grid (page-specific, not shared)."""
    lo, hi = select_slider(label, key, grid, tuple(default), container=container, format_func=fmt)
    return float(lo), float(hi)


def gamma_slider(
    key: str = "gamma", default: float = 0.0, *, label: str = "Ridge γ", container: Any = None
) -> float:
    return float(
        select_slider(
            label,
            key,
            GAMMA_GRID,
            default,
            shared_as="gamma",
            container=container,
            help="Ridge on the kernel FᵀF/N + γI; 0 is the exact ridgeless (min-norm) limit.",
        )
    )


def _activation_names(what: str) -> list[str]:
    """Built-in activation names the engine accepts as ``what`` ("activation" or "teacher"), decided
    by the engine's own criterion evaluated at variances 1e-3…1e3 (``rfshift.activations``); all
    built-ins on an rfshift without those helpers."""
    from rfshift import activations as acts

    helper = getattr(acts, "_with_linear_part" if what == "activation" else "_zero_mean", None)
    return list(helper()) if helper is not None else list(rf.available_activations())


def _left_out(offered: list[str]) -> str:
    return ", ".join(a for a in rf.available_activations() if a not in offered)


def activation_select(key: str = "act", default: str = "relu", *, container: Any = None) -> str:
    options = _activation_names("activation")
    left = _left_out(options)
    return str(
        selectbox(
            "Activation",
            key,
            options,
            default,
            shared_as="act",
            container=container,
            help="The activation σ of the random features."
            + (
                f" Not offered: {left} — their μ1 = E σ'(g) is 0 (no linear signal in the features), so "
                "the proportional limit does not exist for them (THEORY.md §3)."
                if left
                else ""
            ),
        )
    )


NO_TEACHER = "none (linear target)"


def teacher_select(key: str = "teacher", *, container: Any = None, help: str = "") -> str | None:
    """A single-index teacher f* (labels y = f*(βᵀx/√d) + ε) among the built-in activations with zero
    Gaussian mean; None for the linear target."""
    options = _activation_names("teacher")
    left = _left_out(options)
    opt = selectbox(
        "Teacher f* (labels y = f*(βᵀx/√d) + ε)",
        key,
        [NO_TEACHER, *options],
        NO_TEACHER,
        container=container,
        help=help
        + (
            f" Only zero-mean teachers are offered (Gaussian mean μ0 = E f*(g) = 0 at every variance); "
            f"not offered: {left}. A label mean is not part of the theory (docs/theory.md, targets)."
            if left
            else ""
        ),
    )
    return None if opt == NO_TEACHER else str(opt)


def noise_slider(key: str = "noise", default: float = 0.1, *, container: Any = None) -> float:
    return float(
        slider(
            "Label noise σ²",
            key,
            0.0,
            10.0,
            default,
            0.05,
            shared_as="noise",
            container=container,
            help="Training label-noise variance; errors are against clean test labels.",
        )
    )
