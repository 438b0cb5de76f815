"""Activations in JAX and exact Gaussian test expectations (the "kernels").

For a fixed network the test expectation over x ~ N(0, Σ*) only involves the jointly Gaussian
pre-activations g_i = w_iᵀx/√n0 with covariance C_ij = w_iᵀ Σ* w_j / n0 (d_i = C_ii). Closed forms:

- ReLU (arc-cosine kernel of degree 1): E[relu(g_i) relu(g_j)] = √(d_i d_j)/(2π) (sin θ + (π − θ) cos θ),
  cos θ = C_ij/√(d_i d_j).
- leaky ReLU σ = a·x + (1 − a)·relu(x): a² C + a(1 − a) C + (1 − a)² · (ReLU kernel), using
  E[g_i relu(g_j)] = C_ij/2.
- erf (arcsine kernel): E[erf(g_i) erf(g_j)] = (2/π) arcsin(2 C_ij / √((1 + 2 d_i)(1 + 2 d_j))).
- linear: C_ij.

Cross term with the target (Stein's lemma): E[βᵀx/√n0 · σ(g_j)] = (βᵀ Σ* w_j / n0) · E σ'(g_j), with
E σ'(g) = 1/2 (ReLU), (1 + a)/2 (leaky ReLU), 2/√(π(1 + 2 d)) (erf), 1 (linear).

Every other built-in activation uses test-point sampling (see ``simulator``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np
from jax import nn

from ..activations import _LEAK, Activation, available_activations, get_activation

__all__ = ["MEHLER_ORDER", "ExactKernel", "exact_kernel", "jax_activation", "student_hermite",
           "teacher_cross", "teacher_hermite"]


def _relu_kernel(C: jnp.ndarray, d1: jnp.ndarray, d2: jnp.ndarray) -> jnp.ndarray:
    # √(d1 d2)(sin θ + (π − θ) cos θ)/(2π) = (S + (π − θ) C)/(2π), S = √(d1 d2 − C²), θ = atan2(S, C)
    S = jnp.sqrt(jnp.maximum(d1 * d2 - C * C, 0.0))
    return (S + (math.pi - jnp.arctan2(S, C)) * C) * (0.5 / math.pi)


def _leaky_kernel(C: jnp.ndarray, d1: jnp.ndarray, d2: jnp.ndarray) -> jnp.ndarray:
    a = _LEAK
    return (a * a + a * (1.0 - a)) * C + (1.0 - a) ** 2 * _relu_kernel(C, d1, d2)


def _erf_kernel(C: jnp.ndarray, d1: jnp.ndarray, d2: jnp.ndarray) -> jnp.ndarray:
    rho = jnp.clip(2.0 * C / jnp.sqrt((1.0 + 2.0 * d1) * (1.0 + 2.0 * d2)), -1.0, 1.0)
    return (2.0 / math.pi) * jnp.arcsin(rho)


def _linear_kernel(C: jnp.ndarray, d1: jnp.ndarray, d2: jnp.ndarray) -> jnp.ndarray:
    return C


@dataclass(frozen=True)
class ExactKernel:
    """Closed-form E[σ(g_i)σ(g_j)] = ``kernel(C_ij, d_i, d_j)`` and E σ'(g) = ``mean_slope(d)``."""

    kernel: Callable[[jnp.ndarray, jnp.ndarray, jnp.ndarray], jnp.ndarray]
    mean_slope: Callable[[jnp.ndarray], jnp.ndarray]


_EXACT: dict[str, ExactKernel] = {
    "relu": ExactKernel(_relu_kernel, lambda d: jnp.full_like(d, 0.5)),
    "leaky_relu": ExactKernel(_leaky_kernel, lambda d: jnp.full_like(d, 0.5 * (1.0 + _LEAK))),
    "erf": ExactKernel(_erf_kernel, lambda d: 2.0 / jnp.sqrt(math.pi * (1.0 + 2.0 * d))),
    "linear": ExactKernel(_linear_kernel, lambda d: jnp.ones_like(d)),
}

_JAX_FN: dict[str, Callable[[jnp.ndarray], jnp.ndarray]] = {
    "relu": lambda x: jnp.maximum(x, 0.0),
    "leaky_relu": lambda x: jnp.where(x > 0, x, _LEAK * x),
    "erf": jsp.erf,
    "linear": lambda x: x,
    "quadratic": lambda x: x * x,
    "tanh": jnp.tanh,
    "sigmoid": nn.sigmoid,
    "softplus": lambda x: jnp.logaddexp(0.0, x),
    "gelu": lambda x: x * jsp.ndtr(x),
    "silu": lambda x: x * nn.sigmoid(x),
    "elu": lambda x: jnp.where(x > 0, x, jnp.expm1(jnp.minimum(x, 0.0))),
    "hardtanh": lambda x: jnp.clip(x, -1.0, 1.0),
    "abs": jnp.abs,
}


def resolve_builtin(activation: str | Activation) -> str:
    """Name of a built-in activation; custom :class:`Activation` objects are refused (no JAX version)."""
    act = get_activation(activation)
    try:
        builtin = get_activation(act.name)
    except ValueError:
        builtin = None
    if builtin is not act or act.name not in _JAX_FN:
        raise ValueError(
            f"the Monte Carlo simulator supports the built-in activations only "
            f"({', '.join(available_activations())}); got a custom activation {act.name!r}"
        )
    return act.name


def jax_activation(name: str) -> Callable[[jnp.ndarray], jnp.ndarray]:
    """JAX version of the built-in activation ``name`` (same function as rfshift.activations)."""
    return _JAX_FN[name]


def exact_kernel(name: str) -> ExactKernel | None:
    """Closed-form test expectations for ``name``, or None (then the simulator samples test points)."""
    return _EXACT.get(name)


# --- single-index teacher: exact cross moments E[f*(u) σ(g_j)] by Mehler's formula -------------------
#
# With u = βᵀx/√n0 ~ N(0, q), g_j ~ N(0, d_j) and correlation ρ_j = Cov(u, g_j)/√(q d_j),
#     E[f*(u) σ(g_j)] = Σ_k h*_k(q) h_k(d_j) ρ_j^k,   h_k(v) = E[σ(√v z) He_k(z)]/√k!, z ~ N(0, 1),
# (Mehler / Hermite expansion of the bivariate Gaussian). ρ_j = O(1/√n0), so the series converges fast;
# the driver checks the truncation bound max|ρ|^{K+1}/(1 − max|ρ|) after the run.

#: Terms of the Mehler series (k = 0..MEHLER_ORDER).
MEHLER_ORDER = 100
_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(160)
_GH_WEIGHTS = _GH_WEIGHTS / math.sqrt(2.0 * math.pi)
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(200)
#: Half-width (in standard deviations) of the teacher's Gauss–Legendre integration range.
_GL_RANGE = 13.0


def _normalised_hermite(g: jnp.ndarray, order: int) -> jnp.ndarray:
    """He_k(g)/√k!, k = 0..order, stacked on a new leading axis (three-term recursion)."""
    out = [jnp.ones_like(g)]
    prev = jnp.zeros_like(g)
    for k in range(order):
        out.append((g * out[-1] - math.sqrt(k) * prev) / math.sqrt(k + 1))
        prev = out[-2]
    return jnp.stack(out)


def _relu_unit_coefficients(order: int) -> np.ndarray:
    """c_k with relu(√v z) = √v Σ_k c_k He_k(z)/√k!: c_0 = 1/√(2π), c_1 = 1/2,
    c_k = φ(0) He_{k−2}(0)/√k! for k >= 2 (E[f He_k] = E[f^{(k)}], relu'' = δ)."""
    c = np.zeros(order + 1)
    c[0] = 1.0 / math.sqrt(2.0 * math.pi)
    c[1] = 0.5
    for k in range(2, order + 1):
        j = k - 2
        he0 = 0.0 if j % 2 else (-1) ** (j // 2) * float(np.prod(np.arange(j - 1, 0, -2, dtype=float)))
        c[k] = he0 / math.sqrt(2.0 * math.pi) / math.exp(0.5 * math.lgamma(k + 1.0))
    return c


def student_hermite(name: str, d: jnp.ndarray, order: int = MEHLER_ORDER) -> jnp.ndarray:
    """h_k(d) for the exact-kernel activations, shape (order + 1, *d.shape): closed forms for relu,
    leaky_relu and linear; erf (smooth) by 160-node Gauss–Hermite quadrature."""
    sd = jnp.sqrt(d)
    unit = np.zeros(order + 1)
    unit[1] = 1.0
    if name == "relu":
        return jnp.asarray(_relu_unit_coefficients(order)).reshape(-1, *([1] * d.ndim)) * sd
    if name == "leaky_relu":
        c = _LEAK * unit + (1.0 - _LEAK) * _relu_unit_coefficients(order)
        return jnp.asarray(c).reshape(-1, *([1] * d.ndim)) * sd
    if name == "linear":
        return jnp.asarray(unit).reshape(-1, *([1] * d.ndim)) * sd
    if name == "erf":
        he = _normalised_hermite(jnp.asarray(_GH_NODES), order) * jnp.asarray(_GH_WEIGHTS)  # (K+1, nodes)
        vals = jsp.erf(sd[..., None] * jnp.asarray(_GH_NODES))  # (*d, nodes)
        return jnp.moveaxis(vals @ he.T, -1, 0)
    raise ValueError(f"no Hermite coefficients for activation {name!r}")  # pragma: no cover


def teacher_hermite(name: str, q: jnp.ndarray, order: int = MEHLER_ORDER) -> tuple[jnp.ndarray, jnp.ndarray]:
    """(h*_k(q) for k = 0..order, E f*(√q z)²) for a scalar variance q, by Gauss–Legendre
    (200 nodes per piece) on [−13, 13] in z, split at the activation's breakpoints b/√q (accurate at
    kinks, where Gauss–Hermite is off by ~1e-3)."""
    act = get_activation(name)
    fn = _JAX_FN[name]
    sd = jnp.sqrt(q)
    cuts = [jnp.clip(b / sd, -_GL_RANGE, _GL_RANGE) for b in act.breakpoints]
    edges = jnp.sort(jnp.stack([jnp.asarray(-_GL_RANGE), *cuts, jnp.asarray(_GL_RANGE)]))
    lo, hi = edges[:-1, None], edges[1:, None]
    z = (0.5 * (hi - lo) * _GL_NODES + 0.5 * (hi + lo)).reshape(-1)
    w = (0.5 * (hi - lo) * _GL_WEIGHTS).reshape(-1) * jnp.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    f = fn(sd * z)
    return _normalised_hermite(z, order) @ (f * w), jnp.sum(f * f * w)


def teacher_cross(name: str, teacher: str, cov: jnp.ndarray, d: jnp.ndarray, q: jnp.ndarray,
                  order: int = MEHLER_ORDER) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
    """E[f*(u) σ(g_j)] for Cov(u, g_j) = cov_j, Var g_j = d_j, Var u = q (scalar); returns
    (cross (n,), E f*(u)², max_j |ρ_j|) — the last for the truncation check."""
    rho = cov / jnp.sqrt(d * q)
    ht, second = teacher_hermite(teacher, q, order)
    hs = student_hermite(name, d, order)  # (K+1, n)
    powers = rho[None, :] ** jnp.arange(order + 1)[:, None]
    return jnp.sum(ht[:, None] * hs * powers, axis=0), second, jnp.max(jnp.abs(rho))
