"""Vectorised bracketed root finder for strictly increasing scalar functions.

Every point keeps a bracket ``lo < root < hi`` with ``f(lo) < 0 < f(hi)``. Brackets are either
given (e.g. from a table search) or found by Newton-guided outward steps that at least double.
Inside the bracket each point takes a Newton step from the endpoint with the smaller ``|f|``; if
that leaves the bracket, a Newton step from the other endpoint or a regula-falsi step; if ``|f|``
has not halved over three steps, a bisection. All points advance together and converged points
drop out. Convergence is guaranteed by the bracket; a point that has not converged after
``maxiter`` steps is reported (``ok = False``), never returned as a root.
:func:`solve_bracketed_point` is the same stage for one point on plain floats (the engine's
one-point path); :func:`polish_bracketed` runs its first two steps on whole arrays when every point
already has a bracket (the engine's usual case).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = ["polish_bracketed", "solve_bracketed_point", "solve_increasing"]

Fun = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _nan(n: int) -> np.ndarray:
    return np.full(n, np.nan)


def _update(state: tuple[np.ndarray, ...], idx: np.ndarray, y: np.ndarray, f: np.ndarray,
            d: np.ndarray) -> None:
    """Move the lower (f < 0) or upper (f > 0) end of the brackets of points ``idx`` to ``y``."""
    lo, hi, f_lo, f_hi, d_lo, d_hi = state
    neg, pos = f < 0, f > 0
    lo[idx] = np.where(neg, y, lo[idx])
    f_lo[idx], d_lo[idx] = np.where(neg, f, f_lo[idx]), np.where(neg, d, d_lo[idx])
    hi[idx] = np.where(pos, y, hi[idx])
    f_hi[idx], d_hi[idx] = np.where(pos, f, f_hi[idx]), np.where(pos, d, d_hi[idx])


def solve_increasing(
    fun: Fun,
    y0: np.ndarray,
    *,
    bracket: tuple[np.ndarray, ...] | None = None,
    ytol: float = 1e-14,
    y_min: float = -700.0,
    y_max: float = 700.0,
    maxiter: int = 200,
) -> tuple[np.ndarray, np.ndarray]:
    """Roots of increasing functions ``f_i(y)``, one per point ``i``.

    ``fun(y, idx)`` returns ``(f, dfdy)`` at points ``idx`` (an index array) and abscissae ``y``.
    ``bracket = (lo, hi, f_lo, f_hi, d_lo, d_hi)`` optionally gives known brackets (NaN where
    unknown); other points start from ``y0``.

    Returns ``(y, ok)``: the roots and a mask of points that converged to ``|Δy| <= ytol`` (absolute
    in y, but never below 4 float spacings of y; with y = log x this is a relative tolerance on x):
    a point is done when its last Newton correction is below ``ytol``, or is below 1e-6 and its own
    error estimate (f''/2f')·Δy², with f'' from the slopes at the bracket ends, is below ``ytol``/5
    (one evaluation fewer than waiting for a correction below ``ytol``).
    Points whose root lies outside
    ``[y_min, y_max]`` or that did not converge have ``ok = False``.
    """
    y0 = np.asarray(y0, dtype=float)
    n = y0.size
    y = y0.copy()
    ok = np.zeros(n, dtype=bool)
    if bracket is None:
        lo, hi, f_lo, f_hi, d_lo, d_hi = (_nan(n) for _ in range(6))
        state = (lo, hi, f_lo, f_hi, d_lo, d_hi)
    else:
        lo, hi, f_lo, f_hi, d_lo, d_hi = (np.array(a, dtype=float) for a in bracket)
    state = (lo, hi, f_lo, f_hi, d_lo, d_hi)
    known = np.isfinite(lo) & np.isfinite(hi) & (f_lo < 0) & (f_hi > 0)

    # 1. Points without a bracket: evaluate at y0, then Newton-guided outward steps.
    idx = np.flatnonzero(~known)
    if idx.size:
        f0, g0 = fun(y0[idx], idx)
        ok[idx[f0 == 0]] = True
        _update(state, idx, y0[idx], f0, g0)
    step = np.ones(n)
    need = ~ok & ~(np.isfinite(lo) & np.isfinite(hi))
    for _ in range(64):
        idx = np.flatnonzero(need)
        if idx.size == 0:
            break
        going_up = np.isnan(hi[idx])
        base = np.where(going_up, lo[idx], hi[idx])
        with np.errstate(all="ignore"):
            newton = -np.where(going_up, f_lo[idx] / d_lo[idx], f_hi[idx] / d_hi[idx])
        usable = np.isfinite(newton) & (np.sign(newton) == np.where(going_up, 1.0, -1.0))
        jump = np.where(usable, np.clip(np.abs(newton) * 1.5, step[idx], 4.0 * step[idx]), step[idx])
        ytry = np.clip(base + np.where(going_up, jump, -jump), y_min, y_max)
        f_t, d_t = fun(ytry, idx)
        neg, pos = f_t < 0, f_t > 0
        _update(state, idx, ytry, f_t, d_t)
        hit = f_t == 0
        ok[idx[hit]] = True
        y[idx[hit]] = ytry[hit]
        step[idx] *= 2.0
        stuck = ((ytry <= y_min) & pos) | ((ytry >= y_max) & neg)
        need[idx[stuck]] = False  # root outside the representable range: reported as not ok
        need &= ~ok & ~(np.isfinite(lo) & np.isfinite(hi))
    active = ~ok & np.isfinite(lo) & np.isfinite(hi)

    # 2. Safeguarded Newton inside the bracket.
    fbest_old = np.minimum(np.abs(f_lo), np.abs(f_hi))
    for it in range(maxiter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        l_, h_ = lo[idx], hi[idx]
        fl, fh, dl, dh = f_lo[idx], f_hi[idx], d_lo[idx], d_hi[idx]
        with np.errstate(all="ignore"):
            use_lo = np.abs(fl) <= np.abs(fh)
            base = np.where(use_lo, l_, h_)
            step = -np.where(use_lo, fl / dl, fh / dh)
            # converged: the Newton correction from the best endpoint is below tolerance, or its
            # own error, (f''/2f')·step² with f'' from the bracket ends' slopes, is (×10 margin)
            tol = np.maximum(ytol, 4.0 * np.spacing(np.abs(base)))
            curv = np.abs(dh - dl) / ((h_ - l_) * np.minimum(np.abs(dl), np.abs(dh)))
            done = (np.abs(step) <= tol) | ((np.abs(step) <= 1e-6) & (5.0 * curv * step * step <= tol))
            ynew = base + step
            inside = np.isfinite(ynew) & (ynew > l_) & (ynew < h_)
            if not inside.all():  # (only then: a Newton step from the other end, or regula falsi)
                alt = np.where(use_lo, h_ - fh / dh, l_ - fl / dl)
                alt_in = ~inside & np.isfinite(alt) & (alt > l_) & (alt < h_)
                ynew = np.where(alt_in, alt, ynew)
                inside |= alt_in
                secant = l_ - fl * (h_ - l_) / (fh - fl)
                sec_in = ~inside & np.isfinite(secant) & (secant > l_) & (secant < h_)
                ynew = np.where(sec_in, secant, ynew)
                inside |= sec_in
        if it % 3 == 2:  # |f| must halve every three steps, else bisect (guaranteed progress)
            fbest = np.minimum(np.abs(fl), np.abs(fh))
            inside &= ~(fbest > 0.5 * fbest_old[idx])
            fbest_old[idx] = fbest
        ynew = np.where(inside, ynew, 0.5 * (l_ + h_))
        ynew = np.where(done, base + step, ynew)
        y[idx[done]] = ynew[done]
        ok[idx[done]] = True
        active[idx[done]] = False
        idx_e, y_e = idx[~done], ynew[~done]
        if idx_e.size == 0:
            continue
        f_n, d_n = fun(y_e, idx_e)
        _update(state, idx_e, y_e, f_n, d_n)
        zero = f_n == 0
        narrow = hi[idx_e] - lo[idx_e] <= np.maximum(ytol, 4.0 * np.spacing(np.abs(y_e)))
        fin = zero | narrow
        y[idx_e[fin]] = np.where(zero[fin], y_e[fin], 0.5 * (lo[idx_e[fin]] + hi[idx_e[fin]]))
        ok[idx_e[fin]] = True
        active[idx_e[fin]] = False
    return y, ok


def _newton_step(lo: np.ndarray, hi: np.ndarray, f_lo: np.ndarray, f_hi: np.ndarray, d_lo: np.ndarray,
                 d_hi: np.ndarray, ytol: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One step of stage 2 of :func:`solve_increasing` on whole arrays: the Newton step from the
    bracket end with the smaller |f|, its convergence test, and whether it stays inside."""
    use_lo = np.abs(f_lo) <= np.abs(f_hi)
    base = np.where(use_lo, lo, hi)
    step = np.where(use_lo, f_lo / d_lo, f_hi / d_hi)
    np.negative(step, out=step)
    tol = np.maximum(ytol, 4.0 * np.spacing(np.abs(base)))
    curv = np.abs(d_hi - d_lo) / ((hi - lo) * np.minimum(np.abs(d_lo), np.abs(d_hi)))
    a_step = np.abs(step)
    done = (a_step <= tol) | ((a_step <= 1e-6) & (5.0 * curv * step * step <= tol))
    ynew = base + step
    inside = np.isfinite(ynew) & (ynew > lo) & (ynew < hi)
    return ynew, done, inside


def polish_bracketed(
    fun: Fun,
    bracket: tuple[np.ndarray, ...],
    *,
    ytol: float = 1e-14,
    maxiter: int = 200,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`solve_increasing` for points that all have a bracket ``(lo, hi, f_lo, f_hi, d_lo, d_hi)``
    (``f_lo < 0 < f_hi``), with its first two Newton steps on whole arrays.

    The steps, the convergence test and the bracket updates are those of ``solve_increasing``'s
    stage 2, applied to every point at once (no index bookkeeping; a point that converged at the
    first step is evaluated once more and keeps its first answer). Where a step would leave its
    bracket, or a point has not converged after two steps, the points are handed to
    ``solve_increasing`` with their brackets, so the guarantees are the same. ``fun(y, None)``
    evaluates all points, ``fun(y, idx)`` a subset. Returns ``(y, ok)``.
    """
    lo, hi, f_lo, f_hi, d_lo, d_hi = bracket
    with np.errstate(all="ignore"):
        y1, done1, inside = _newton_step(lo, hi, f_lo, f_hi, d_lo, d_hi, ytol)
    if not inside.all():
        return solve_increasing(fun, lo, bracket=bracket, ytol=ytol, maxiter=maxiter)
    f1, d1 = fun(y1, None)
    neg, pos = f1 < 0, f1 > 0
    lo, f_lo, d_lo = np.where(neg, y1, lo), np.where(neg, f1, f_lo), np.where(neg, d1, d_lo)
    hi, f_hi, d_hi = np.where(pos, y1, hi), np.where(pos, f1, f_hi), np.where(pos, d1, d_hi)
    with np.errstate(all="ignore"):
        y2, done2, _ = _newton_step(lo, hi, f_lo, f_hi, d_lo, d_hi, ytol)
        # (solve_increasing also stops at an exact zero and when the bracket is narrower than ytol)
        narrow = hi - lo <= np.maximum(ytol, 4.0 * np.spacing(np.abs(y1)))
    y = np.where(done1 | (f1 == 0), y1, np.where(narrow, 0.5 * (lo + hi), y2))
    ok = done1 | (f1 == 0) | narrow | done2
    if not ok.all():
        rest = np.flatnonzero(~ok)
        sub = tuple(a[rest] for a in (lo, hi, f_lo, f_hi, d_lo, d_hi))
        y_r, ok_r = solve_increasing(lambda yy, idx: fun(yy, rest[idx]), sub[0], bracket=sub,
                                     ytol=ytol, maxiter=maxiter)
        y[rest], ok[rest] = y_r, ok_r
    return y, ok


def solve_bracketed_point(
    fun: Callable[[float], tuple[float, float]],
    lo: float,
    hi: float,
    f_lo: float,
    f_hi: float,
    d_lo: float,
    d_hi: float,
    *,
    ytol: float = 1e-14,
    maxiter: int = 200,
) -> tuple[float, bool]:
    """One root of an increasing ``fun(y) -> (f, dfdy)`` in a known bracket, with plain floats.

    The scalar twin of stage 2 of :func:`solve_increasing` (the same steps, safeguards and
    convergence rules, without array overhead): requires ``lo < hi`` and ``f_lo < 0 < f_hi``.
    Returns ``(y, ok)``; ``ok`` is False if ``maxiter`` steps did not converge (never a guess).
    """
    def newton(y: float, f: float, d: float) -> float:
        return y - f / d if d != 0 and math.isfinite(d) else math.nan

    fbest_old = min(abs(f_lo), abs(f_hi))
    for it in range(maxiter):
        use_lo = abs(f_lo) <= abs(f_hi)
        base, f_b, d_b = (lo, f_lo, d_lo) if use_lo else (hi, f_hi, d_hi)
        ynew = newton(base, f_b, d_b)
        step = ynew - base
        tol = max(ytol, 4.0 * math.ulp(abs(base)))
        d_min = min(abs(d_lo), abs(d_hi))
        curv = abs(d_hi - d_lo) / ((hi - lo) * d_min) if d_min > 0 else math.inf
        if abs(step) <= tol or (abs(step) <= 1e-6 and 5.0 * curv * step * step <= tol):
            return ynew, True
        if not lo < ynew < hi:
            ynew = newton(hi, f_hi, d_hi) if use_lo else newton(lo, f_lo, d_lo)
            if not lo < ynew < hi:
                ynew = lo - f_lo * (hi - lo) / (f_hi - f_lo)
                if not lo < ynew < hi:
                    ynew = math.nan
        if it % 3 == 2:  # |f| must halve every three steps, else bisect (guaranteed progress)
            fbest = min(abs(f_lo), abs(f_hi))
            if fbest > 0.5 * fbest_old:
                ynew = math.nan
            fbest_old = fbest
        if math.isnan(ynew):
            ynew = 0.5 * (lo + hi)
        f, d = fun(ynew)
        if f < 0:
            lo, f_lo, d_lo = ynew, f, d
        elif f > 0:
            hi, f_hi, d_hi = ynew, f, d
        elif f == 0:
            return ynew, True
        if hi - lo <= max(ytol, 4.0 * math.ulp(abs(ynew))):
            return 0.5 * (lo + hi), True
    return math.nan, False
