"""Vectorised bracketed root finder for strictly increasing scalar functions.

Safeguarded Newton: every point keeps a bracket ``lo < root < hi`` (found by outward doubling
steps) and takes a Newton step when it lands strictly inside the bracket, a bisection step
otherwise. All points advance together; converged points drop out. Convergence is guaranteed by
the bracket; a point that has not converged after ``maxiter`` steps is reported, never returned.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["solve_increasing"]

Fun = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def solve_increasing(
    fun: Fun,
    y0: np.ndarray,
    *,
    ytol: float = 1e-14,
    y_min: float = -700.0,
    y_max: float = 700.0,
    maxiter: int = 200,
) -> tuple[np.ndarray, np.ndarray]:
    """Roots of increasing functions ``f_i(y)``, one per point ``i``.

    ``fun(y, idx)`` returns ``(f, dfdy)`` at points ``idx`` (an index array) and abscissae ``y``;
    ``f`` may be ``-inf``/``+inf`` where the function is only known by its sign.

    Returns ``(y, ok)``: the roots and a mask of points that converged to ``|Δy| <= ytol`` (absolute
    in y; with y = log x this is a relative tolerance on x). Points whose root lies outside
    ``[y_min, y_max]`` or that did not converge have ``ok = False``.
    """
    y0 = np.asarray(y0, dtype=float)
    n = y0.size
    y = y0.copy()
    ok = np.zeros(n, dtype=bool)
    lo = np.full(n, -np.inf)
    hi = np.full(n, np.inf)
    f_at, d_at = fun(y, np.arange(n))
    ycur = y.copy()
    fcur = f_at.copy()
    dcur = d_at.copy()
    zero = fcur == 0
    ok[zero] = True
    lo = np.where(fcur < 0, y, lo)
    hi = np.where(fcur > 0, y, hi)

    # 1. Bracket: Newton-guided outward steps, doubling, until the sign changes.
    step = np.ones(n)
    need = ~ok & (np.isinf(lo) | np.isinf(hi))
    for _ in range(64):
        idx = np.flatnonzero(need)
        if idx.size == 0:
            break
        going_up = np.isinf(hi[idx])
        base = np.where(going_up, lo[idx], hi[idx])
        with np.errstate(all="ignore"):
            newton = -fcur[idx] / dcur[idx]
        usable = np.isfinite(newton) & (np.sign(newton) == np.where(going_up, 1.0, -1.0))
        jump = np.where(usable, np.maximum(np.abs(newton) * 1.5, step[idx]), step[idx])
        ytry = np.clip(base + np.where(going_up, jump, -jump), y_min, y_max)
        f_t, d_t = fun(ytry, idx)
        ycur[idx], fcur[idx], dcur[idx] = ytry, f_t, d_t
        lo[idx] = np.where(f_t < 0, ytry, lo[idx])
        hi[idx] = np.where(f_t > 0, ytry, hi[idx])
        hit = f_t == 0
        ok[idx[hit]] = True
        y[idx[hit]] = ytry[hit]
        step[idx] *= 2.0
        stuck = (ytry <= y_min) & (f_t > 0) | (ytry >= y_max) & (f_t < 0)
        need[idx[stuck]] = False  # root outside the representable range: reported as not ok
        need = need & ~ok & (np.isinf(lo) | np.isinf(hi))
    bracketed = np.isfinite(lo) & np.isfinite(hi)

    # 2. Safeguarded Newton inside the bracket.
    active = bracketed & ~ok
    for it in range(maxiter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        l_, h_ = lo[idx], hi[idx]
        with np.errstate(all="ignore"):
            ynew = ycur[idx] - fcur[idx] / dcur[idx]
        inside = np.isfinite(ynew) & (ynew > l_) & (ynew < h_)
        if it % 6 == 5:  # a periodic bisection bounds the worst case: width halves every 6 steps
            inside &= (h_ - l_) < 1e3 * ytol
        ynew = np.where(inside, ynew, 0.5 * (l_ + h_))
        converged_newton = inside & (np.abs(ynew - ycur[idx]) <= ytol)
        f_n, d_n = fun(ynew, idx)
        ycur[idx], fcur[idx], dcur[idx] = ynew, f_n, d_n
        lo[idx] = np.where(f_n < 0, ynew, l_)
        hi[idx] = np.where(f_n > 0, ynew, h_)
        done = converged_newton | (f_n == 0) | (hi[idx] - lo[idx] <= ytol)
        y[idx[done]] = ynew[done]
        ok[idx[done]] = True
        active[idx[done]] = False
    return y, ok
