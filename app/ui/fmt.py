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
