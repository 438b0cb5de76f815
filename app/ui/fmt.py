"""Numbers for display: ∞ at the interpolation peak, never a silently huge number or a bare NaN."""

from __future__ import annotations

import math


def fmt(v: float, digits: int = 5) -> str:
    """``v`` with ``digits`` significant digits; ``∞``/``−∞`` for infinities, ``n/a`` for NaN."""
    v = float(v)
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if math.isnan(v):
        return "n/a"
    return f"{v:.{digits}g}"


def fmt_ratio(v: float) -> str:
    """A ratio as the sliders show it (``%g``)."""
    return f"{v:g}"


def fmt_gamma(v: float) -> str:
    """A ridge value; 0 is the exact ridgeless (min-norm) limit."""
    return "0 (ridgeless)" if v == 0 else f"{v:g}"


#: Relative size below which a difference of numbers of a given scale is rounding, shown as 0.
ROUNDING = 1e-12


def snap_zero(v: float, scale: float) -> float:
    """``v`` — a difference of numbers of size ``scale`` (e.g. an intercept E_OOD − slope·E_ID, with
    ``scale`` the error) — as 0.0 when ``|v| ≤ 1e-12·|scale|``, i.e. floating-point rounding of that
    subtraction rather than a value (5.55e-17 for an exact 0); otherwise ``v`` unchanged. Infinite or
    NaN ``v`` or ``scale`` pass ``v`` through."""
    v, scale = float(v), abs(float(scale))
    if math.isfinite(v) and math.isfinite(scale) and abs(v) <= ROUNDING * scale:
        return 0.0
    return v


def fmt_diff(v: float, scale: float, digits: int = 5) -> str:
    """:func:`fmt` of :func:`snap_zero` ``(v, scale)``: a difference shown as 0 when it is rounding."""
    return fmt(snap_zero(v, scale), digits)
