"""Exact Gaussian feature moments E[σ(g)σ(h)] for jointly Gaussian pre-activations (NumPy or JAX).

Given two pre-activation vectors g ∈ R^{n}, h ∈ R^{n'} (e.g. g = W x/√n0 and h = W' x/√n0 for a
Gaussian x) with Var g_i = v1_i, Var h_j = v2_j and Cov(g_i, h_j) = C_ij, this module returns the
matrix M_ij = E[σ(g_i) σ(h_j)] and the mean slopes E σ'(g_i). Used by :mod:`rfshift.finite_size`
(docs/theory.md, "Finite-size deterministic equivalents", step 1).

Closed forms (the same formulas as the JAX kernels in ``rfshift/montecarlo/kernels.py``):

- ReLU, arc-cosine kernel of degree 1 (Cho & Saul 2009):
  M = (S + (π − θ) C)/(2π), S = √(v1 v2 − C²), θ = atan2(S, C).
- leaky ReLU σ = a·x + (1 − a)·relu(x): (a² + a(1 − a)) C + (1 − a)² · (ReLU kernel).
- erf, arcsine kernel (Williams 1998): M = (2/π) arcsin(2C/√((1 + 2v1)(1 + 2v2))).
- linear: M = C.  quadratic σ = x²: M = v1 v2 + 2C².

Every other activation uses Mehler's expansion with normalised Hermite coefficients
h_k(v) = E[σ(√v z) He_k(z)]/√k!, z ~ N(0, 1):

    E[σ(g_i)σ(h_j)] = Σ_k h_k(v1_i) h_k(v2_j) ρ_ij^k,   ρ_ij = C_ij/√(v1_i v2_j),

truncated at order K, with the Cauchy–Schwarz bound on the remainder

    |R_ij| ≤ √(T_K(v1_i) T_K(v2_j)) |ρ_ij|^{K+1},   T_K(v) = E σ(√v z)² − Σ_{k≤K} h_k(v)²,

which is computed and returned (K is raised until the bound is below ``tol`` or K = ``max_order``).
The coefficients are integrals of piecewise-smooth functions: composite Gauss–Legendre quadrature on
[−12, 12] split at the activation's breakpoints (kinks) b/√v, so kinks do not spoil the accuracy
(plain Gauss–Hermite would be off by ~1e-3 at a kink, THEORY.md §3).

Array namespace: every function takes ``xp`` (``numpy``, the default, or ``jax.numpy``) and computes the
n × n' work (kernels, the Mehler series, the Hermite recursion) in it, so that :mod:`rfshift.finite_size`
runs the same formulas on a GPU with ``backend="jax"``. The variances ``v1``, ``v2`` may live on either
side; the quadrature nodes and the activation values at them (``act.fn`` is a NumPy callable) are
computed with NumPy on the host, O(n · nodes), and moved to ``xp``. This module never imports JAX.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .activations import _LEAK, Activation

__all__ = ["FeatureMoments", "feature_moments", "mean_slope", "second_moment"]

_CLOSED = ("relu", "leaky_relu", "erf", "linear", "quadratic")
_Z_MAX = 12.0  # Gaussian weight e^{-72} ≈ 5e-32 beyond: negligible for polynomially bounded σ
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(48)
_PIECES = 6  # sub-intervals per smooth segment (He_k up to k = 100 oscillates ~50 times on [0, 12])


def _closed_name(act: Activation) -> str | None:
    """The closed-form kernel's name if ``act`` is the registered built-in, else None."""
    from .activations import get_activation

    if act.name in _CLOSED and get_activation(act.name) is act:
        return act.name
    return None


def _relu_kernel(C: Any, v1: Any, v2: Any, xp: Any = np) -> Any:
    S = xp.sqrt(xp.maximum(xp.outer(v1, v2) - C * C, 0.0))
    return (S + (math.pi - xp.arctan2(S, C)) * C) * (0.5 / math.pi)


def _with_diagonal(M: Any, d: Any, xp: Any) -> Any:
    """M with its diagonal replaced by d (in place for NumPy; a functional update for JAX)."""
    if xp is np:
        M[np.diag_indices_from(M)] = d
        return M
    i = xp.arange(M.shape[0])
    return M.at[i, i].set(d)


def _host(a: Any) -> np.ndarray:
    """A float64 NumPy copy-or-view of a NumPy or JAX array (moves JAX data to the host)."""
    return np.asarray(a, dtype=float)


def _nodes(act: Activation, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature nodes z (n, Q) and weights (n, Q) for E over z ~ N(0, 1), split at b/√v_i."""
    sd = np.sqrt(v)
    cuts = [np.clip(b / sd, -_Z_MAX, _Z_MAX) for b in act.breakpoints]
    edges = np.stack([np.full_like(v, -_Z_MAX), *cuts, np.full_like(v, _Z_MAX)], axis=1)
    edges = np.sort(edges, axis=1)  # (n, nseg + 1)
    t = np.linspace(0.0, 1.0, _PIECES + 1)
    lo, hi = edges[:, :-1], edges[:, 1:]
    # sub-interval edges: (n, nseg, PIECES + 1)
    sub = lo[:, :, None] + (hi - lo)[:, :, None] * t[None, None, :]
    a, b = sub[:, :, :-1], sub[:, :, 1:]
    half = 0.5 * (b - a)
    z = (0.5 * (a + b))[..., None] + half[..., None] * _GL_NODES
    w = half[..., None] * _GL_WEIGHTS * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return z.reshape(v.size, -1), w.reshape(v.size, -1)


def _hermite(act: Activation, v: Any, order: int, xp: Any = np) -> tuple[Any, Any]:
    """h_k(v_i), k = 0..order (shape (order + 1, n)), and E σ(√v z)² (shape (n,)), as ``xp`` arrays.
    Nodes and σ at the nodes on the host (NumPy), the Hermite recursion in ``xp``."""
    v = _host(v)
    z, w = _nodes(act, v)
    with np.errstate(all="ignore"):
        s = np.asarray(act.fn(np.sqrt(v)[:, None] * z), dtype=float)
    if s.shape != z.shape or not np.all(np.isfinite(s)):
        raise ValueError(f"activation {act.name!r} returns NaN/inf or the wrong shape on Gaussian inputs")
    sw = s * w
    second = np.sum(s * sw, axis=1)
    if xp is not np:
        z, sw, second = xp.asarray(z), xp.asarray(sw), xp.asarray(second)
    out = []
    e_prev = xp.zeros_like(z)
    e_cur = xp.ones_like(z)  # He_0/√0!
    for k in range(order + 1):
        out.append(xp.sum(sw * e_cur, axis=1))
        e_prev, e_cur = e_cur, (z * e_cur - math.sqrt(k) * e_prev) / math.sqrt(k + 1)
    return xp.stack(out), second


def mean_slope(act: Activation, v: Any, xp: Any = np) -> Any:
    """E σ'(g) = E[g σ(g)]/v for g ~ N(0, v_i) (Stein's lemma), shape of ``v``, an ``xp`` array."""
    v = xp.asarray(v, dtype=float)
    name = _closed_name(act)
    if name == "relu":
        return xp.full_like(v, 0.5)
    if name == "leaky_relu":
        return xp.full_like(v, 0.5 * (1.0 + _LEAK))
    if name == "erf":
        return 2.0 / xp.sqrt(math.pi * (1.0 + 2.0 * v))
    if name == "linear":
        return xp.ones_like(v)
    if name == "quadratic":
        return xp.zeros_like(v)
    h, _ = _hermite(act, v.ravel(), 1, xp)
    return (h[1] / xp.sqrt(v.ravel())).reshape(v.shape)


def second_moment(act: Activation, v: Any, xp: Any = np) -> Any:
    """E σ(g)² for g ~ N(0, v_i), an ``xp`` array."""
    v = xp.asarray(v, dtype=float)
    name = _closed_name(act)
    if name in _CLOSED:
        return xp.diagonal(feature_moments(act, xp.diag(v), v, v, xp=xp).M).copy()
    return _hermite(act, v.ravel(), 0, xp)[1].reshape(v.shape)


@dataclass(frozen=True)
class FeatureMoments:
    """M_ij = E[σ(g_i)σ(h_j)] (an ``xp`` array); ``order`` and ``bound`` describe the Mehler truncation
    (0 for a closed form): ``bound`` is the largest Cauchy–Schwarz bound on an entry's truncation error."""

    M: Any
    order: int
    bound: float


def feature_moments(
    act: Activation,
    C: Any,
    v1: Any,
    v2: Any,
    *,
    same: bool = False,
    tol: float = 1e-12,
    max_order: int = 100,
    act2: Activation | None = None,
    xp: Any = np,
) -> FeatureMoments:
    """E[σ(g_i)σ(h_j)] for jointly Gaussian (g, h) with Var g = v1 (n,), Var h = v2 (n',) and
    Cov(g_i, h_j) = C (n × n'). ``same=True`` declares g = h (C square with diagonal v1 = v2): the
    diagonal is then set to the exact E σ(g_i)² instead of the series. ``tol`` is relative to
    max E σ². ``act2``: a second activation applied to h (E[σ(g_i)σ₂(h_j)], e.g. a teacher's
    f* against the features; docs/theory.md §20.1); a linear one uses Stein's lemma
    (C·E σ'(g_i)), any other different one the two-activation Mehler series
    Σ_k h_k(v1_i) h₂_k(v2_j) ρ_ij^k with the same bound. ``xp`` is the array namespace of C, v1, v2
    and of the returned M (``numpy`` or ``jax.numpy``). Raises ValueError for non-positive variances
    or |correlation| > 1."""
    v1 = xp.asarray(v1, dtype=float)
    v2 = xp.asarray(v2, dtype=float)
    if not (bool(xp.all(v1 > 0)) and bool(xp.all(v2 > 0))):
        raise ValueError("pre-activation variances must be > 0 (a zero row of W or a null covariance)")
    if act2 is not None and act2 is not act:
        if same:
            raise ValueError("same=True needs one activation")
        if _closed_name(act2) == "linear":
            return FeatureMoments(xp.asarray(C, dtype=float) * mean_slope(act, v1, xp)[:, None], 0, 0.0)
        if _closed_name(act) == "linear":
            return FeatureMoments(xp.asarray(C, dtype=float) * mean_slope(act2, v2, xp)[None, :], 0, 0.0)
    else:
        act2 = None
    name = None if act2 is not None else _closed_name(act)
    if name == "relu":
        M = _relu_kernel(C, v1, v2, xp)
        if same:
            M = _with_diagonal(M, 0.5 * v1, xp)
        return FeatureMoments(M, 0, 0.0)
    if name == "leaky_relu":
        a = _LEAK
        M = (a * a + a * (1.0 - a)) * C + (1.0 - a) ** 2 * _relu_kernel(C, v1, v2, xp)
        if same:
            M = _with_diagonal(M, (a * a + a * (1.0 - a) + 0.5 * (1.0 - a) ** 2) * v1, xp)
        return FeatureMoments(M, 0, 0.0)
    if name == "erf":
        a1, a2 = 1.0 + 2.0 * v1, 1.0 + 2.0 * v2
        M = (2.0 / math.pi) * xp.arcsin(xp.clip(2.0 * C / xp.sqrt(xp.outer(a1, a2)), -1.0, 1.0))
        if same:
            M = _with_diagonal(M, (2.0 / math.pi) * xp.arcsin(2.0 * v1 / a1), xp)
        return FeatureMoments(M, 0, 0.0)
    if name == "linear":
        return FeatureMoments(xp.array(C, dtype=float, copy=True), 0, 0.0)
    if name == "quadratic":
        return FeatureMoments(xp.outer(v1, v2) + 2.0 * C * C, 0, 0.0)

    # Mehler series with an explicit truncation bound (coefficients: _hermite; bound on the host).
    rho = C / xp.sqrt(xp.outer(v1, v2))
    if same:
        rho = _with_diagonal(rho.copy() if xp is np else rho, 0.0, xp)
    rmax = float(xp.abs(rho).max()) if rho.size else 0.0
    if rmax > 1.0 + 1e-9:
        raise ValueError(f"|correlation| {rmax:.6g} > 1: C is not a covariance of (g, h)")
    rmax = min(rmax, 1.0)
    if act2 is not None:  # few teacher variances: choose the order with T_K(v1) <= E σ(g)², then
        h2, m2 = _hermite(act2, v2, max_order, xp)  # compute the many features' coefficients only to it
        m1n = _host(_hermite(act, v1, 0, xp)[1])
        h2n, m2n = _host(h2), _host(m2)
        t2 = np.maximum(m2n - np.cumsum(h2n**2, axis=0), 0.0)
        pre = np.sqrt(float(m1n.max()) * t2.max(axis=1)) * rmax ** np.arange(1, max_order + 2)
        ok = np.flatnonzero(pre <= tol * max(float(m1n.max()), float(m2n.max()), np.finfo(float).tiny))
        max_order = int(ok[0]) if ok.size else max_order
        h2 = h2[:max_order + 1]
    h1, m1 = _hermite(act, v1, max_order, xp)
    if same:
        h2, m2 = h1, m1
    elif act2 is None:
        h2, m2 = _hermite(act, v2, max_order, xp)
    h1n, m1n, h2n, m2n = _host(h1), _host(m1), _host(h2), _host(m2)
    t1 = np.maximum(m1n - np.cumsum(h1n**2, axis=0), 0.0)  # T_K(v1), K = 0..max_order
    t2 = np.maximum(m2n - np.cumsum(h2n**2, axis=0), 0.0)
    scale = max(float(m1n.max()), float(m2n.max()), np.finfo(float).tiny)
    bounds = np.sqrt(t1.max(axis=1) * t2.max(axis=1)) * rmax ** np.arange(1, max_order + 2)
    ok = np.flatnonzero(bounds <= tol * scale)
    order = int(ok[0]) if ok.size else max_order
    if xp is np:
        M = np.zeros_like(rho)
        for k in range(order, -1, -1):  # Horner in ρ
            M *= rho
            M += np.outer(h1[k], h2[k])
    else:
        M = xp.zeros_like(rho)
        for k in range(order, -1, -1):
            M = M * rho + xp.outer(h1[k], h2[k])
    if same:
        M = _with_diagonal(M, m1, xp)
    return FeatureMoments(M, order, float(bounds[order]))
