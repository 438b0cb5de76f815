"""Ratios of non-negative quantities without NaN (issue 12, fault 5: no derived ratio may be NaN).

Every ratio in :mod:`rfshift.analysis` divides a non-negative numerator by a non-negative
denominator. Where the denominator is 0 the quotient is taken as

* ``zero_over_zero`` (documented at each call site: the limit or the meaning of an exact tie) when
  the numerator is 0 too, and
* ``+inf`` when the numerator is positive (a finite amount over nothing: unbounded).

NaN or negative inputs are a bug upstream and raise instead of propagating.
"""

from __future__ import annotations

import numpy as np

__all__ = ["safe_ratio"]


def safe_ratio(num: object, den: object, *, zero_over_zero: float, name: str) -> np.ndarray:
    """``num/den`` (broadcast) with 0/0 := ``zero_over_zero`` and x/0 := +inf for x > 0; no warnings.

    Raises ``ValueError`` naming ``name`` if either input holds NaN or a negative value.
    """
    n = np.asarray(num, dtype=float)
    d = np.asarray(den, dtype=float)
    for label, arr in (("numerator", n), ("denominator", d)):
        if np.isnan(arr).any() or (arr < 0).any():
            raise ValueError(f"{name}: {label} must be >= 0 and not NaN (got {arr!r}); please report this")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = n / np.where(d == 0, 1.0, d)
    out = np.where(d == 0, np.where(n == 0, zero_over_zero, np.inf), out)
    # inf/inf cannot occur for the ratios here (errors are finite off the interpolation peak,
    # which the callers refuse); say so loudly if it ever does.
    if np.isnan(out).any():
        raise ValueError(f"{name}: undefined ratio inf/inf; please report this configuration")
    return out[()]
