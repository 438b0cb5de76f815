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
from jax import nn

from ..activations import _LEAK, Activation, available_activations, get_activation

__all__ = ["ExactKernel", "exact_kernel", "jax_activation"]

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
